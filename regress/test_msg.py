"""A malformed payload between processes stops the daemon.

Each process decodes every message with lib/msg.c and stops, naming the
message type, when a payload does not decode: only a bug or a compromised
sibling sends one.  The test-only hook POSTERN_TEST_CORRUPT (honoured in
debug runs alone, see posternd(8)) makes one process send its next message
of one type one byte short (or long, when it is empty); each test here
aims it at a different receiver and checks that the whole set stops with
the type in the log.
"""
import os
import signal
import re
import smtplib
import time

import pytest

from conftest import alive, children_of, ctl_raw, imsg_frame, imsg_types

CONFIG = '''
hostname mx.example.test
table domains {{ "localhost" }}
action "local" maildir "{d}/mail/%{{user}}"
action "out" relay host "smtp://127.0.0.1:{p}"
match from any for domain <domains> action "local"
match from any for domain "remote.test" action "out"
'''

MSG = b"From: a@sender.test\r\nSubject: hi\r\n\r\nbody\r\n"


def start(daemon_factory, tmp_path, monkeypatch, corrupt):
    monkeypatch.setenv("POSTERN_TEST_CORRUPT", corrupt)
    dm = daemon_factory()
    with open(dm.conf, "a") as f:
        # the relay's port: nobody listens there, the mta never gets so far
        f.write(CONFIG.format(d=tmp_path, p=dm.port + 1))
    return dm.start()


def send(dm, rcpt):
    """Try to send one message; the daemon may stop while we do."""
    try:
        with smtplib.SMTP("127.0.0.1", dm.port, timeout=10) as c:
            c.ehlo("client.test")
            c.sendmail("a@sender.test", [rcpt], MSG)
    except (smtplib.SMTPException, OSError):
        pass


def assert_stopped(dm, sender, receiver, name, timeout=15):
    rc = dm.wait_exit(timeout)
    log = dm.logtext()
    assert rc is not None and rc != 0, log
    assert "test: corrupting %s to %s" % (name, receiver) in log, log
    if receiver == "parent":
        # the parent reports a violation and stops the set itself
        assert "protocol violation by %s: %s (type %d" % (
            sender, name, imsg_types()[name]) in log, log
    else:
        assert "%s[" % receiver in log
        assert "bad %s (type %d, " % (name, imsg_types()[name]) in log, log
        assert "from %s" % sender in log, log
    for p in dm.kids.values():
        assert not alive(p)


@pytest.mark.parametrize("sender,receiver,name,rcpt", [
    # smtp hears from the queue
    ("queue", "smtp", "IMSG_QUEUE_MESSAGE_BEGIN_OK", "root@localhost"),
    # the queue hears from smtp
    ("smtp", "queue", "IMSG_QUEUE_ENVELOPE_ADD", "root@localhost"),
    # authd hears from smtp
    ("smtp", "authd", "IMSG_AUTH_MESSAGE_BEGIN", "root@localhost"),
    # the mta hears from the queue
    ("queue", "mta", "IMSG_MTA_ENVELOPE_ADD", "bob@remote.test"),
    # the parent hears from the queue (local delivery)
    ("queue", "parent", "IMSG_DELIVER_ENVELOPE_START", "root@localhost"),
])
def test_malformed_payload_in_mail_flow_stops(daemon_factory, tmp_path,
                                              monkeypatch, sender, receiver,
                                              name, rcpt):
    dm = start(daemon_factory, tmp_path, monkeypatch,
               "%s:%s" % (sender, name))
    send(dm, rcpt)
    assert_stopped(dm, sender, receiver, name)


def test_malformed_reply_to_control_stops(daemon_factory, tmp_path,
                                          monkeypatch):
    # control hears a status entry from the parent
    dm = start(daemon_factory, tmp_path, monkeypatch,
               "parent:IMSG_CTL_STATUS_ENTRY")
    dm.ctl("show", "status")
    assert_stopped(dm, "parent", "control", "IMSG_CTL_STATUS_ENTRY")


def test_malformed_request_to_reportd_stops(daemon_factory, tmp_path,
                                            monkeypatch):
    # reportd hears a listing request from control
    dm = start(daemon_factory, tmp_path, monkeypatch,
               "control:IMSG_CTL_EVALUATIONS_GET")
    dm.ctl("show", "evaluations")
    assert_stopped(dm, "control", "reportd", "IMSG_CTL_EVALUATIONS_GET")


def test_hook_names_a_real_type(daemon_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTERN_TEST_CORRUPT", "smtp:IMSG_NO_SUCH_THING")
    dm = daemon_factory()
    dm.start(wait=False)
    assert dm.wait_exit(10) not in (None, 0)
    assert "POSTERN_TEST_CORRUPT names no message type" in dm.logtext()


def test_without_the_hook_mail_flows(daemon_factory, tmp_path, monkeypatch):
    # the same configuration, nothing corrupted: the mail is delivered
    monkeypatch.delenv("POSTERN_TEST_CORRUPT", raising=False)
    dm = daemon_factory()
    dm.maildir = str(tmp_path / "mail")     # the base, made by the admin
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=tmp_path, p=dm.port + 1))
    dm.start()
    send(dm, "root@localhost")
    deadline = time.time() + 10
    new = tmp_path / "mail" / "root" / "new"
    while time.time() < deadline and not (new.exists() and
                                          any(new.iterdir())):
        time.sleep(0.05)
    assert new.exists() and any(new.iterdir())
    assert dm.proc.poll() is None
    assert "test: corrupting" not in dm.logtext()


def test_control_takes_one_request_at_a_time(daemon):
    # Each reply is matched to the request it answers: a client that
    # sends a second request before the first is answered is refused,
    # and the daemon goes on.
    got = ctl_raw(daemon, imsg_frame("IMSG_CTL_STATUS_GET"),
                  imsg_frame("IMSG_CTL_QUEUE_LIST"))
    assert b"a request is already in progress" in got
    assert daemon.proc.poll() is None
    assert daemon.ctl("show", "status").returncode == 0


@pytest.mark.parametrize("rcpt,forged,fields", [
    # a local recipient proposed for the relay action
    ("root@localhost", "out", 'dest "out" (the queue\'s: "local")'),
    # a remote recipient proposed for local delivery
    ("bob@remote.test", "local", 'dest "local" (the queue\'s: "out")'),
])
def test_forged_routing_stops(daemon_factory, tmp_path, monkeypatch, rcpt,
                              forged, fields):
    # smtp proposes, the queue decides: an envelope whose destination is
    # not the one the rules give is a protocol violation, and the whole
    # set stops with the fields named, before anything is stored.
    monkeypatch.setenv("POSTERN_TEST_REROUTE", forged)
    dm = daemon_factory()
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=tmp_path, p=dm.port + 1))
    dm.start()
    send(dm, rcpt)
    rc = dm.wait_exit(15)
    log = dm.logtext()
    assert rc is not None and rc != 0, log
    assert 'test: proposing an envelope with dest "%s"' % forged in log, log
    assert "protocol violation by smtp: envelope for <%s> routed " \
        "differently: " % rcpt in log, log
    assert fields in log, log
    for p in dm.kids.values():
        assert not alive(p)
    assert not (tmp_path / "mail" / "root" / "new").exists() or \
        not any((tmp_path / "mail" / "root" / "new").iterdir())


def send_to(dm, rcpts):
    try:
        with smtplib.SMTP("127.0.0.1", dm.port, timeout=10) as c:
            c.ehlo("client.test")
            c.sendmail("a@sender.test", rcpts, MSG)
    except (smtplib.SMTPException, OSError):
        pass


@pytest.mark.parametrize("rcpts,offset", [
    # the mta answers for an envelope that does not exist
    (["bob@remote.test"], "id+1"),
    # the mta answers for the message's local envelope (the parent's)
    (["root@localhost", "bob@remote.test"], "id-1"),
])
def test_result_for_an_envelope_not_held_stops(daemon_factory, tmp_path,
                                               monkeypatch, rcpts, offset):
    # The queue takes a delivery result only from the process it handed
    # that envelope to, while it is out there: a compromised mta cannot
    # drop or bounce a local envelope, or one it was never given.
    dm = start(daemon_factory, tmp_path, monkeypatch,
               "mta:IMSG_MTA_ENVELOPE_RESULT:" + offset)
    send_to(dm, rcpts)
    rc = dm.wait_exit(20)
    log = dm.logtext()
    assert rc is not None and rc != 0, log
    assert "test: corrupting IMSG_MTA_ENVELOPE_RESULT to queue" in log, log
    assert re.search(r"queue: a result for [0-9a-f]{16} from mta, which "
                     r"does not hold it", log), log
    assert "bad IMSG_MTA_ENVELOPE_RESULT (type %d, " % \
        imsg_types()["IMSG_MTA_ENVELOPE_RESULT"] in log, log
    for p in dm.kids.values():
        assert not alive(p)


@pytest.mark.parametrize("args", [(), ("-d",)], ids=["detached", "foreground"])
def test_hooks_ignored_without_T(daemon_factory, tmp_path, monkeypatch, args):
    # The test hooks exist only for the test suite, which asks for them
    # with -T: a daemon started the way an admin starts it, detached or in
    # the foreground as systemd runs it (-d), removes every POSTERN_TEST_*
    # variable before any process starts and behaves as if none were set:
    # the message the hooks would reroute, corrupt or crash is delivered.
    monkeypatch.setenv("POSTERN_TEST_REROUTE", "out")
    monkeypatch.setenv("POSTERN_TEST_CORRUPT",
                       "queue:IMSG_QUEUE_MESSAGE_COMMIT_OK")
    monkeypatch.setenv("POSTERN_TEST_CRASH", "queue:commit")
    monkeypatch.setenv("POSTERN_TEST_SOMETHING_NEW", "1")
    dm = daemon_factory()
    dm.maildir = str(tmp_path / "mail")     # the base, made by the admin
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=tmp_path, p=dm.port + 1))
    dm.start(wait=False, args=args, test_hooks=False)
    if args:
        dm.wait_ready()
        parent = dm.proc.pid
    else:
        assert dm.proc.wait(timeout=15) == 0   # the foreground half exits
        parent = None
    try:
        deadline = time.time() + 15
        while time.time() < deadline and parent is None:
            r = dm.ctl("show", "status")
            for line in r.stdout.splitlines():
                f = line.split()
                if len(f) >= 2 and f[0] == "parent" and f[1].isdigit():
                    parent = int(f[1])
            time.sleep(0.1)
        assert parent is not None, "the daemon did not answer"
        assert len(children_of(parent)) == 6
        send(dm, "root@localhost")
        new = tmp_path / "mail" / "root" / "new"
        deadline = time.time() + 15
        while time.time() < deadline and not (new.exists() and
                                              any(new.iterdir())):
            time.sleep(0.1)
        assert new.exists() and len(list(new.iterdir())) == 1
        assert alive(parent)
        assert "test:" not in dm.logtext()
    finally:
        if parent is not None and not args:
            kids = children_of(parent)
            os.kill(parent, signal.SIGTERM)
            deadline = time.time() + 10
            while time.time() < deadline and alive(parent):
                time.sleep(0.05)
            for pid in [parent] + kids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)

"""~/.forward's "|command" and "/file" lines (forward-file yes files
commands): delivered by a delivery worker as the user whose .forward it
is, the command by /bin/sh -c with the mda action's environment, time
limit and exit statuses, the file appended in mbox format; refused
(logged, the rest of the file applied) when the action does not allow
them, for a relative path, and for a file that is a symbolic link or not
the user's.

Modules covered: posternd/forward.c (the members, their proofs, the
worker's second reading), lib/dotforward.c, smtpd/rcpt.c, queue/admit.c,
posternd/deliver.c, posternd/mda.c, posternd/mbox.c.  The queue's check
of a compromised smtp's claims is regress/unit/test_admit.c
(test_forward_targets_need_proof).
"""
import contextlib
import mailbox
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from peers import SmtpPeer
from test_aliases import rcpt, mails
from test_deliver import wait_log

USER = "pfwdcmd"
SINK = "127.0.0.38"
MDA_LIMIT = 3


@pytest.fixture
def sink(tmp_path):
    p = SmtpPeer(tmp_path / "sink", addr=SINK)
    p.start()
    yield p
    p.stop()


@contextlib.contextmanager
def forward_daemon(daemon_factory, monkeypatch):
    """A user with a home and an output directory of its own, and a daemon
    where a.test's action allows .forward files and commands and b.test's
    only addresses; commands get MDA_LIMIT seconds (a test hook)."""
    monkeypatch.setenv("POSTERN_TEST_MDA_TIMEOUT", str(MDA_LIMIT))
    base = tempfile.mkdtemp(prefix="postern-fwdcmd-")
    os.chmod(base, 0o755)
    home = os.path.join(base, "home")
    out = os.path.join(base, "out")
    subprocess.run(["userdel", "-f", USER], capture_output=True)
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", USER],
                   check=True)
    dm = None
    try:
        pw = pwd.getpwnam(USER)
        for d in (home, out):
            os.mkdir(d, 0o755)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        dm = daemon_factory(sub="fwdcmd")
        dm.maildir = os.path.join(base, "mail")
        os.mkdir(dm.maildir)
        os.chmod(dm.maildir, 0o1777)	# the user makes its maildir there
        dm.home = home
        dm.out = out
        dm.pw = pw
        with open(dm.conf, "a") as f:
            f.write('queue retry 1s max 1s\n'
                    'action "all" maildir "%s/%%{user}" forward-file yes '
                    'files commands\n'
                    'action "addr" maildir "%s/%%{user}" forward-file yes\n'
                    'action "out" relay host "smtp://%s"\n'
                    'match from any for domain "a.test" action "all"\n'
                    'match from any for domain "b.test" action "addr"\n'
                    'match from any for domain "far.test" action "out"\n'
                    % (dm.maildir, dm.maildir, SINK))
        dm.start()
        yield dm
    finally:
        if dm is not None:
            dm.stop()
        subprocess.run(["userdel", "-f", USER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fc(daemon_factory, sink, monkeypatch):
    with forward_daemon(daemon_factory, monkeypatch) as dm:
        yield dm


def write_forward(dm, text):
    path = os.path.join(dm.home, ".forward")
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, dm.pw.pw_uid, dm.pw.pw_gid)
    os.chmod(path, 0o644)


def wait_file(path, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def send(dm, domain="a.test", sender="sender@client.test", body="hello\r\n"):
    r = rcpt(dm, "%s@%s" % (USER, domain), sender=sender, body=body)
    assert r["%s@%s" % (USER, domain)][0] == 250


def test_command_runs_as_the_user(fc):
    """The command line goes to /bin/sh -c as the user (never root, never
    alias-user), the message on its standard input, the mda environment
    around it."""
    write_forward(fc, '"|id -u > %(o)s/uid.tmp; echo $RECIPIENT $HOME '
                  '> %(o)s/env; cat > %(o)s/msg; mv %(o)s/uid.tmp '
                  '%(o)s/uid"\n' % {"o": fc.out})
    send(fc, body="the body line\r\n")
    assert wait_file(os.path.join(fc.out, "uid"))
    with open(os.path.join(fc.out, "uid")) as f:
        assert int(f.read()) == fc.pw.pw_uid
    assert fc.pw.pw_uid != 0
    with open(os.path.join(fc.out, "msg")) as f:
        msg = f.read()
    assert msg.startswith("Return-Path: <sender@client.test>\n")
    assert "the body line\n" in msg and "\r" not in msg
    with open(os.path.join(fc.out, "env")) as f:
        env = f.read()
    # RECIPIENT is the line, as for an alias's command; HOME the user's
    assert env.startswith("|id -u > ")
    assert env.endswith(" %s\n" % fc.home)
    assert os.stat(os.path.join(fc.out, "msg")).st_uid == fc.pw.pw_uid
    # the command took the mail: no copy in the mailbox
    assert mails(fc, USER, want=1, timeout=1) == []


def test_file_appended_as_the_user(fc):
    """A "/file" line: the message appended in mbox format (mboxrd), the
    file made by and for the user."""
    box = os.path.join(fc.out, "box")
    write_forward(fc, "%s\n" % box)
    send(fc, body="first\r\nFrom the start of a line\r\n")
    send(fc, body="second\r\n")
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(box) and len(mailbox.mbox(box)) == 2:
            break
        time.sleep(0.1)
    st = os.stat(box)
    assert (st.st_uid, st.st_mode & 0o777) == (fc.pw.pw_uid, 0o600)
    msgs = list(mailbox.mbox(box))
    assert len(msgs) == 2
    assert msgs[0]["Subject"] == "alias"
    assert msgs[0].get_from().startswith("sender@client.test ")
    body = msgs[0].get_payload()
    assert body.startswith("first\n")
    assert ">From the start of a line\n" in body
    assert msgs[1].get_payload().startswith("second\n")


def test_refused_unless_the_action_allows(fc, sink):
    """b.test's action reads .forward for addresses only: the command and
    the file are logged and left out, the address still gets its copy."""
    box = os.path.join(fc.out, "box")
    write_forward(fc, '"|touch %s/ran", %s, friend@far.test\n'
                  % (fc.out, box))
    send(fc, domain="b.test")
    sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["rcpts"] == ["friend@far.test"]
    assert wait_log(fc, r"~%s/.forward: \|touch \S+ not delivered \(action "
                    r"addr delivers to no .forward commands\)" % USER)
    assert wait_log(fc, r"~%s/.forward: %s not delivered \(action addr "
                    r"delivers to no .forward files\)" % (USER, box))
    time.sleep(1)
    assert not os.path.exists(os.path.join(fc.out, "ran"))
    assert not os.path.exists(box)


def test_relative_path_refused(fc):
    write_forward(fc, "Mail/box, \\%s\n" % USER)
    send(fc)
    assert len(mails(fc, USER)) == 1
    assert wait_log(fc, r"~%s/.forward: Mail/box not delivered: a relative "
                    r"path" % USER)
    assert not os.path.exists(os.path.join(fc.home, "Mail"))


def test_exit_75_retried(fc):
    """EX_TEMPFAIL: the queue tries again; the second run delivers."""
    script = os.path.join(fc.out, "prog")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "if [ ! -e %(o)s/once ]; then touch %(o)s/once; exit 75; fi\n"
                "cat > %(o)s/msg\n" % {"o": fc.out})
    os.chmod(script, 0o755)
    write_forward(fc, "|%s\n" % script)
    send(fc)
    assert wait_file(os.path.join(fc.out, "msg"), timeout=30)
    assert wait_log(fc, r"temporary failure \(exit 75\)")


def test_exit_67_bounced(fc, sink):
    """EX_NOUSER: a bounce to the sender, with the command's status."""
    write_forward(fc, '"|echo no such box >&2; exit 67"\n')
    send(fc, sender="sender@far.test")
    msgs = sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["rcpts"] == ["sender@far.test"]
    assert b"Status: 5.1.1" in msgs[0]
    assert b"exit 67: no such box" in msgs[0]


def test_hanging_command_killed(fc):
    """A command past the time limit is killed, with what it started,
    and the delivery is tried again later."""
    write_forward(fc, '"|sleep 300 & sleep 301"\n')
    send(fc)
    assert wait_log(fc, r"ran longer than %d seconds: killed" % MDA_LIMIT,
                    timeout=30)
    # what it started died with it (the whole session was killed)
    deadline = time.time() + 5
    while time.time() < deadline:
        left = subprocess.run(["pgrep", "-u", str(fc.pw.pw_uid), "-f",
                               "^sleep 300$"], capture_output=True)
        if left.returncode == 1:
            break
        time.sleep(0.1)
    assert left.returncode == 1


def test_file_symlink_refused(fc):
    victim = os.path.join(fc.out, "victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    os.chown(victim, fc.pw.pw_uid, fc.pw.pw_gid)
    link = os.path.join(fc.out, "link")
    os.symlink(victim, link)
    write_forward(fc, "%s, \\%s\n" % (link, USER))
    send(fc)
    assert len(mails(fc, USER)) == 1
    assert wait_log(fc, r"mailbox %s is a symbolic link: left alone" % link)
    with open(victim) as f:
        assert f.read() == "untouched\n"


def test_file_not_the_users_refused(fc):
    other = os.path.join(fc.out, "rootfile")
    with open(other, "w") as f:
        f.write("untouched\n")
    os.chmod(other, 0o666)
    write_forward(fc, "%s, \\%s\n" % (other, USER))
    send(fc)
    assert len(mails(fc, USER)) == 1
    assert wait_log(fc, r"mailbox %s is not a regular file of uid %d"
                    % (other, fc.pw.pw_uid))
    with open(other) as f:
        assert f.read() == "untouched\n"


def test_member_removed_before_delivery_not_run(fc):
    """The worker reads the .forward again before it runs a command: one
    the user took out while the mail waited is not run (and bounced)."""
    script = os.path.join(fc.out, "prog")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ntouch %(o)s/ran.$$\nexit 75\n" % {"o": fc.out})
    os.chmod(script, 0o755)
    write_forward(fc, "|%s\n" % script)
    send(fc, sender="")
    assert wait_log(fc, r"temporary failure \(exit 75\)")
    write_forward(fc, "\\%s\n" % USER)
    assert wait_log(fc, r"~%s/.forward no longer names \|%s"
                    % (USER, script), timeout=30)
    ran = len([n for n in os.listdir(fc.out) if n.startswith("ran.")])
    time.sleep(2)
    assert len([n for n in os.listdir(fc.out)
                if n.startswith("ran.")]) == ran


@pytest.mark.parametrize("forged", [
    # a command the user's .forward does not have
    "|touch /tmp/postern-fwdcmd-pwned",
    # an address it does not have
    "mallory@far.test",
])
def test_compromised_smtp_claim_stops(daemon_factory, sink, monkeypatch,
                                      forged):
    """smtp claims a member the user's .forward does not name, with the
    parent's proof of the member it does name: the queue refuses the
    envelope as a protocol violation and the daemon stops, before anything
    is stored, run or sent."""
    monkeypatch.setenv("POSTERN_TEST_FORWARD_FORGE", forged)
    with forward_daemon(daemon_factory, monkeypatch) as dm:
        write_forward(dm, "friend@far.test\n")
        try:
            rcpt(dm, "%s@a.test" % USER)
        except (smtplib.SMTPException, OSError):
            pass
        rc = dm.wait_exit(20)
        log = dm.logtext()
        assert rc is not None and rc != 0, log
        assert 'test: claiming .forward member "%s"' % forged in log, log
        assert re.search(r"protocol violation by smtp: envelope for "
                         r"<[^>]+> routed differently: <[^>]+> is not the "
                         r"parent's member \"%s\" of ~%s/.forward \(no "
                         r"proof\)" % (re.escape(forged), USER), log), log
        assert not os.path.exists("/tmp/postern-fwdcmd-pwned")
        time.sleep(1)
        assert sink.accepted() == []

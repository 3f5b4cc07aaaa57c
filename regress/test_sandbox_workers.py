"""The kernel's help for the processes that are not long-lived children
(issue 18): authd's crypt helper and the delivery workers (maildir, mbox,
lmtp, mda, the ~/.forward reader) each run under a seccomp filter of
their own.  A forbidden call in the crypt helper stops the daemon (it is
part of authd); in a worker it kills that worker, the call named in the
log, and its job is deferred and delivered by the retry, while the daemon
goes on.

Modules covered: posternd/sandbox.c, authd/crypt_helper.c,
posternd/deliver.c, posternd/forward.c
"""
import glob
import grp
import mailbox
import os
import pwd
import re
import shutil
import signal
import smtplib
import tempfile
import threading
import time

import pytest

from conftest import alive, children_of, next_port
from test_aliases import FWD_USER, fwd, mails, sink, write_forward  # noqa
from test_lmtp import Handler, LMTPController
from test_sandbox import limits, status
from test_submission import PASSWORDS, start_sub

NOBODY = pwd.getpwnam("nobody")
MAIL_GID = grp.getgrnam("mail").gr_gid
KINDS = ["maildir", "mbox", "mda", "lmtp"]

# The mda: keeps what it is given, one file per message.
MDA_SCRIPT = '#!/bin/sh\ncat > "$1/msg.$$"\n'


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("waited in vain for " + what)


@pytest.fixture
def kinds(daemon_factory):
    """A daemon (not started) with one action of each delivery kind, each
    for user nobody: nobody@KIND.test."""
    base = tempfile.mkdtemp(prefix="postern-sbw-")
    os.chmod(base, 0o755)
    md = os.path.join(base, "md")
    spool = os.path.join(base, "spool")
    out = os.path.join(base, "out")
    os.mkdir(md)
    os.chmod(md, 0o1777)
    os.mkdir(spool)
    os.chown(spool, 0, MAIL_GID)
    os.chmod(spool, 0o2775)
    os.mkdir(out)
    os.chown(out, NOBODY.pw_uid, NOBODY.pw_gid)
    script = os.path.join(base, "filter")
    with open(script, "w") as f:
        f.write(MDA_SCRIPT)
    os.chmod(script, 0o755)
    handler = Handler()
    port = next_port()
    lmtp = LMTPController(handler, hostname="127.0.0.1", port=port)
    lmtp.start()
    dm = daemon_factory(sub="kinds")
    dm.maildir = md
    with open(os.path.join(dm.dir, "mv"), "w") as f:
        for k in KINDS:
            f.write("nobody@%s.test nobody\n" % k)
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'table mv file:"%s/mv"\n'
                'action "maildir" maildir "%s/%%{user}" virtual <mv>\n'
                'action "mbox" mbox "%s/%%{user}" virtual <mv>\n'
                "action \"mda\" mda \"%s '%s'\" virtual <mv>\n"
                'action "lmtp" lmtp "127.0.0.1:%d" user nobody\n'
                % (dm.dir, md, spool, script, out, port))
        for k in KINDS:
            f.write('match from any for domain "%s.test" action "%s"\n'
                    % (k, k))

    def delivered(kind):
        if kind == "maildir":
            return len(glob.glob(os.path.join(md, "nobody", "new", "*")))
        if kind == "mbox":
            path = os.path.join(spool, "nobody")
            if not os.path.exists(path):
                return 0
            box = mailbox.mbox(path, create=False)
            n = len(list(box))
            box.close()
            return n
        if kind == "mda":
            return len(glob.glob(os.path.join(out, "msg.*")))
        return len(handler.txs)
    dm.delivered = delivered
    yield dm
    dm.stop()
    lmtp.stop()
    shutil.rmtree(base, ignore_errors=True)


def send(dm, kind):
    rcpt = "nobody@%s.test" % kind
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
        c.ehlo("client.test")
        assert c.sendmail("alice@sender.test", [rcpt],
                          "From: alice@sender.test\r\nTo: %s\r\n"
                          "Subject: sandbox\r\n\r\nhello\r\n" % rcpt) == {}


def held_pid(dm, proc, kind):
    m = wait_for(lambda: re.search(r"%s\[(\d+)\]: %s: test: holding under "
                                   r"the filter" % (proc, kind),
                                   dm.logtext()), "the hold of " + kind)
    return int(m.group(1))


@pytest.mark.parametrize("kind", KINDS)
def test_worker_filtered_while_it_works(kinds, monkeypatch, kind):
    monkeypatch.setenv("POSTERN_TEST_SECCOMP_HOLD", kind)
    dm = kinds.start()
    send(dm, kind)
    pid = held_pid(dm, "deliver", kind)
    assert pid in children_of(dm.proc.pid)
    st = status(pid)
    # 2: SECCOMP_MODE_FILTER, set once the worker is the user
    assert st["Seccomp"] == "2", st
    assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4
    # The mda's filter is set as root without NO_NEW_PRIVS: its command
    # (procmail, dotlockfile) may be setgid mail (posternd(8)).
    assert st["NoNewPrivs"] == ("0" if kind == "mda" else "1")
    assert limits(pid)["Max core file size"] == ("0", "0")
    # It holds the job: nothing is written yet.
    assert dm.delivered(kind) == 0
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: dm.delivered(kind) == 1, kind + " delivery")
    wait_for(lambda: dm.ctl("show", "queue").stdout == "", "empty queue")
    assert dm.delivered(kind) == 1
    assert "forbidden system call" not in dm.logtext()


@pytest.mark.parametrize("kind,call,nr", [
    ("maildir", "socket", 41), ("mbox", "execve", 59),
    # lmtp connects: sockets are its job, not executing
    ("lmtp", "execve", 59),
    # the mda's list of refused calls (its command may execute)
    ("mda", "keyctl", 250)])
def test_worker_violation_defers_the_job(kinds, monkeypatch, kind, call,
                                         nr):
    """The worker dies of SIGSYS with the call named; the job is a
    temporary failure, retried and delivered once; the daemon and its
    children go on (a worker is not a long-lived child)."""
    monkeypatch.setenv("POSTERN_TEST_SECCOMP_VIOLATE",
                       "%s:%s" % (kind, call))
    dm = kinds.start()
    send(dm, kind)
    wait_for(lambda: re.search(r"deliver\[\d+\]: seccomp: forbidden system "
                               r"call %s \(%d\): stopping" % (call, nr),
                               dm.logtext()), "the violation's log line")
    wait_for(lambda: re.search(r"delivery worker \d+ for nobody: delivery "
                               r"process failed \(status \d+\)",
                               dm.logtext()), "the worker's loss")
    # the retry, a second attempt, makes no forbidden call
    wait_for(lambda: dm.delivered(kind) == 1, kind + " delivery")
    wait_for(lambda: dm.ctl("show", "queue").stdout == "", "empty queue")
    assert dm.delivered(kind) == 1
    log = dm.logtext()
    assert log.count("test: calling %s under the filter" % call) == 1, log
    assert "test: %s returned" % call not in log
    assert dm.proc.poll() is None
    assert dm.children() == dm.kids
    assert "lost child" not in log and "stopped after a failure" not in log


@pytest.fixture
def hold_forward(monkeypatch):
    monkeypatch.setenv("POSTERN_TEST_SECCOMP_HOLD", "forward")


@pytest.fixture
def violate_forward(monkeypatch):
    monkeypatch.setenv("POSTERN_TEST_SECCOMP_VIOLATE", "forward:socket")


def test_forward_reader_filtered(hold_forward, fwd, sink):
    write_forward(fwd, "\\%s\n" % FWD_USER)
    got = {}

    def client():
        with smtplib.SMTP("127.0.0.1", fwd.port, timeout=60) as c:
            c.ehlo("client.test")
            c.mail("sender@client.test")
            got["rcpt"] = c.rcpt(FWD_USER + "@a.test")[0]
            got["data"] = c.data("Subject: fwd\r\n\r\nhello\r\n")[0]
    t = threading.Thread(target=client)
    t.start()
    try:
        pid = held_pid(fwd, "forward", "forward")
        st = status(pid)
        assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
        assert st["Uid"].split() == [str(fwd.pw.pw_uid)] * 4
        assert "rcpt" not in got
        os.kill(pid, signal.SIGUSR1)
    finally:
        t.join(60)
    assert got == {"rcpt": 250, "data": 250}
    assert len(mails(fwd, FWD_USER)) == 1
    assert "forbidden system call" not in fwd.logtext()


def test_forward_reader_violation_defers_the_recipient(violate_forward,
                                                       fwd, sink):
    write_forward(fwd, "friend@far.test\n")
    with smtplib.SMTP("127.0.0.1", fwd.port, timeout=60) as c:
        c.ehlo("client.test")
        c.mail("sender@client.test")
        code, _ = c.rcpt(FWD_USER + "@a.test")
    assert code == 451
    log = fwd.logtext()
    assert re.search(r"forward\[\d+\]: seccomp: forbidden system call "
                     r"socket \(41\): stopping", log), log
    assert fwd.proc.poll() is None
    assert fwd.children() == fwd.kids
    assert sink.accepted() == []


def crypt_helper(dm):
    kids = children_of(dm.kids["authd"])
    assert len(kids) == 1, kids
    return kids[0]


def test_crypt_helper_filtered(daemon_factory, tmp_path):
    dm = start_sub(daemon_factory, tmp_path)
    pid = crypt_helper(dm)
    st = wait_for(lambda: status(pid)["Seccomp"] == "2" and status(pid),
                  "the crypt helper's filter")
    assert st["NoNewPrivs"] == "1"
    lim = limits(pid)
    assert lim["Max processes"] == ("0", "0")
    assert lim["Max core file size"] == ("0", "0")
    # stdin, stdout, stderr and its socket (the log is stderr with -d)
    assert lim["Max open files"] == ("4", "4")
    assert sorted(os.listdir("/proc/%d/fd" % pid)) == ["0", "1", "2", "3"]
    # and it does its work: a right password and a wrong one
    with smtplib.SMTP("127.0.0.1", dm.opt_port, timeout=60) as c:
        c.starttls()
        c.ehlo("client.test")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("alice", "wrong")
        assert c.login("alice", PASSWORDS["alice"])[0] == 235
    assert alive(pid) and crypt_helper(dm) == pid
    assert "forbidden system call" not in dm.logtext()


def test_crypt_helper_violation_stops_the_daemon(daemon_factory, tmp_path,
                                                 monkeypatch):
    """The helper is part of authd, a long-lived child: fail-stop."""
    monkeypatch.setenv("POSTERN_TEST_SECCOMP_VIOLATE", "crypt:socket")
    dm = daemon_factory(sub="crypt")
    dm.start(wait=False)
    assert dm.wait_exit(30) not in (None, 0)
    log = dm.logtext()
    assert re.search(r"crypt\[\d+\]: seccomp: forbidden system call "
                     r"socket \(41\): stopping", log), log
    assert "the crypt helper (pid" in log and "is gone" in log, log
    assert "stopped after a failure" in log, log


def test_lmtp_server_by_a_name_of_two_addresses(daemon_factory, tmp_path,
                                                monkeypatch):
    """An LMTP server named by a host name with an IPv6 and an IPv4
    address (Debian's /etc/hosts gives localhost both): glibc sorts the
    two over a netlink socket, which the lmtp worker's filter forbids.
    The worker looks the name up before its filter and connects to what
    it found (review finding: every worker died, all mail deferred).  The
    daemon runs in a mount namespace of its own whose /etc/hosts names
    lmtp.test twice; the server listens on the IPv4 address only, so the
    worker also goes on from a refused address to the next."""
    import conftest
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 lmtp.test\n"
                     "127.0.0.1 lmtp.test\n")
    wrapper = tmp_path / "posternd-hosts"
    wrapper.write_text(
        "#!/bin/sh\nexec unshare -m --propagation private sh -c "
        "'mount --bind %s /etc/hosts && exec %s \"$@\"' posternd \"$@\"\n"
        % (hosts, conftest.POSTERND))
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "POSTERND", str(wrapper))
    handler = Handler()
    port = next_port()
    lmtp = LMTPController(handler, hostname="127.0.0.1", port=port)
    lmtp.start()
    try:
        dm = daemon_factory()
        with open(dm.conf, "a") as f:
            f.write('action "lmtp" lmtp "lmtp.test:%d" user nobody\n'
                    'match from any for domain "lmtp.test" action "lmtp"\n'
                    % port)
        dm.start()
        send(dm, "lmtp")
        wait_for(lambda: len(handler.txs) == 1, "the LMTP delivery")
        assert "seccomp" not in dm.logtext()
        dm.stop()
    finally:
        lmtp.stop()


def test_mda_command_cannot_make_namespaces(daemon_factory, tmp_path):
    """The mda's filter passes to the user's command: unshare(2) is
    refused, and so is clone(2) with a CLONE_NEW* flag (review finding:
    a new user namespace opens most of the kernel to an unprivileged
    program).  The command makes a plain child first (allowed), then asks
    clone(2) for a new user namespace: killed by SIGSYS, the delivery is
    deferred, nothing else is disturbed."""
    import pathlib
    base = pathlib.Path(tempfile.mkdtemp(prefix="postern-sbns-"))
    os.chmod(base, 0o755)           # the user's command reaches it
    out = base / "out"
    out.mkdir()
    os.chown(out, NOBODY.pw_uid, NOBODY.pw_gid)
    script = base / "ns"
    # x86-64: clone is system call 56; SIGCHLD 17; CLONE_NEWUSER 0x10000000
    script.write_text(
        "#!/usr/bin/perl\n"
        "my $out = shift;\n"
        "system('true') == 0 or die 'no fork';\n"
        "open(my $f, '>', \"$out/forked\") or die; close($f);\n"
        "my $pid = syscall(56, 0x10000000 | 17, 0, 0, 0, 0);\n"
        "exit 0 if $pid == 0;\n"
        "open($f, '>', \"$out/cloned\") or die; close($f);\n"
        "exit 0;\n")
    script.chmod(0o755)
    dm = daemon_factory()
    with open(dm.conf, "a") as f:
        f.write("action \"ns\" mda \"%s '%s'\" user nobody\n"
                'match from any for domain "ns.test" action "ns"\n'
                % (script, out))
    dm.start()
    send(dm, "ns")
    deadline = time.time() + 30
    while not re.search(r"mda \S+ killed by signal 31", dm.logtext()):
        assert time.time() < deadline, dm.logtext()[-3000:]
        time.sleep(0.05)
    assert (out / "forked").exists()
    assert not (out / "cloned").exists()
    assert dm.proc.poll() is None
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)

"""mbox delivery (issue 17): the delivery worker appends to the recipient's
Unix mailbox in the mboxrd format, locked with fcntl and a dot lock as
Debian's mail tools expect, and a failed write leaves no half message.

Modules covered: posternd/mbox.c, posternd/deliver.c (mbox workers)."""
import fcntl
import grp
import mailbox
import os
import pwd
import shutil
import smtplib
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import check_action_line
from test_deliver import wait_log
from test_spool_full import mount_tmpfs, umount

NOBODY = pwd.getpwnam("nobody")
MAIL_GID = grp.getgrnam("mail").gr_gid


def vusers(dm):
    """nobody (a system account: no mail by its local part) by address."""
    with open(os.path.join(dm.dir, "mv"), "w") as f:
        f.write("nobody@m.test nobody\nnobody@deep.test nobody\n")
    with open(dm.conf, "a") as f:
        f.write('table mv file:"%s/mv"\n' % dm.dir)


@pytest.fixture
def mbx(daemon_factory):
    """A daemon whose mbox action writes under a spool directory made like
    Debian's /var/mail: root:mail, mode 2775."""
    spool = tempfile.mkdtemp(prefix="postern-mbox-")
    os.chown(spool, 0, MAIL_GID)
    os.chmod(spool, 0o2775)
    dm = daemon_factory(sub="mbox")
    dm.mailspool = spool
    vusers(dm)
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'action "box" mbox "%s/%%{user}" virtual <mv>\n'
                'action "deep" mbox "%s/missing/%%{user}" virtual <mv>\n'
                'match from any for domain "m.test" action "box"\n'
                'match from any for domain "deep.test" action "deep"\n'
                % (spool, spool))
    yield dm
    dm.stop()
    shutil.rmtree(spool, ignore_errors=True)


def send(dm, rcpt, body, sender="alice@sender.test", subject="mbox"):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" %
           (sender or "mailer-daemon@x.test", rcpt, subject, body))
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.sendmail(sender, [rcpt], msg) == {}


def wait_messages(path, want, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            box = mailbox.mbox(path, create=False)
            got = list(box)
            box.close()
            if len(got) >= want:
                return got
        time.sleep(0.1)
    raise AssertionError("%s: fewer than %d messages" % (path, want))


def test_mbox_debian_spool(mbx):
    """Messages land in the user's mailbox, readable by Python's mailbox
    module, with the envelope on the From_ line and in Return-Path and
    Delivered-To, "From " lines quoted the mboxrd way; the new mailbox is
    nobody:mail 0660 in the setgid spool, and no lock is left behind."""
    dm = mbx.start(args=("-d", "-v"))
    send(dm, "nobody@m.test", "From the start\r\n>From quoted\r\nend\r\n")
    send(dm, "nobody@m.test", "second\r\n", sender="", subject="bounce")
    path = os.path.join(dm.mailspool, "nobody")
    got = wait_messages(path, 2)
    assert got[0]["Subject"] == "mbox"
    assert got[0]["Return-Path"] == "<alice@sender.test>"
    assert got[0]["Delivered-To"] == "nobody@m.test"
    assert got[0].get_from().startswith("alice@sender.test ")
    assert got[0].get_payload() == ">From the start\n>>From quoted\nend\n"
    assert got[1].get_from().startswith("MAILER-DAEMON ")
    assert got[1]["Return-Path"] == "<>"
    raw = open(path, "rb").read()
    assert b"\r" not in raw and raw.endswith(b"second\n\n")
    st = os.stat(path)
    assert st.st_uid == NOBODY.pw_uid and st.st_gid == MAIL_GID
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert sorted(os.listdir(dm.mailspool)) == ["nobody"]
    # the worker that wrote it ran as nobody, with group mail added
    assert "delivery worker" in dm.logtext()


def test_mbox_waits_for_a_lock_another_program_holds(mbx):
    """A mail reader holds the fcntl lock: the delivery waits (nothing is
    written meanwhile) and completes, once, when the lock goes."""
    dm = mbx.start(args=("-d", "-v"))
    path = os.path.join(dm.mailspool, "nobody")
    send(dm, "nobody@m.test", "first\r\n")
    wait_messages(path, 1)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        send(dm, "nobody@m.test", "while locked\r\n")
        time.sleep(3)
        assert os.path.getsize(path) == size
        fcntl.lockf(f, fcntl.LOCK_UN)
    got = wait_messages(path, 2)
    assert len(got) == 2 and got[1].get_payload() == "while locked\n"
    assert not os.path.exists(path + ".lock")


def test_mbox_full_filesystem_leaves_no_half_message(daemon_factory):
    """The mailbox's filesystem fills mid-message: the mailbox is cut back
    to its old size, the delivery is deferred with 4.2.2, and the message
    stays queued."""
    base = tempfile.mkdtemp(prefix="postern-mboxfs-")
    os.chmod(base, 0o755)       # nobody goes through it
    spool = os.path.join(base, "fs")
    mount_tmpfs(spool, "1m")
    try:
        os.chown(spool, 0, MAIL_GID)
        os.chmod(spool, 0o2775)
        dm = daemon_factory(sub="mboxfull")
        vusers(dm)
        with open(dm.conf, "a") as f:
            f.write('queue retry 1s max 1s\n'
                    'action "box" mbox "%s/%%{user}" virtual <mv>\n'
                    'match from any for domain "m.test" action "box"\n'
                    % spool)
        dm.start(args=("-d", "-v"))
        path = os.path.join(spool, "nobody")
        send(dm, "nobody@m.test", "small\r\n")
        wait_messages(path, 1)
        size = os.path.getsize(path)
        send(dm, "nobody@m.test", ("x" * 998 + "\r\n") * 1500)
        m = wait_log(dm, r"temporary failure: (4\.2\.2 write \S+nobody: .*)")
        assert m, dm.logtext()
        assert os.path.getsize(path) == size
        box = mailbox.mbox(path, create=False)
        assert len(list(box)) == 1
        box.close()
        assert "permanent failure" not in dm.logtext()
        assert len([ln for ln in dm.ctl("show", "queue").stdout.splitlines()
                    if "nobody@m.test" in ln]) == 1
        dm.stop()
    finally:
        umount(spool)
        shutil.rmtree(base, ignore_errors=True)


def test_mbox_directory_never_made(mbx):
    """A mailbox whose directory is missing (an unmounted spool) is
    deferred with 4.3.0, and the directory is not made."""
    dm = mbx.start(args=("-d", "-v"))
    send(dm, "nobody@deep.test", "x\r\n")
    m = wait_log(dm, r"temporary failure: (4\.3\.0 open \S+/missing/nobody"
                 r": No such file or directory)")
    assert m, dm.logtext()
    assert not os.path.exists(os.path.join(dm.mailspool, "missing"))


@pytest.mark.parametrize("line,ok", [
    ('action "box" mbox', True),
    ('action "box" mbox "~/mbox"', True),
    ('action "box" mbox "/var/mail/%{user}" virtual <v>', True),
    ('action "box" mbox "mail/%{user}"', False),
    ('action "box" mbox "/var/mail/"', False),
    ('action "box" mbox "/var/mail/%{nope}"', False),
])
def test_mbox_config(tmp_path, line, ok):
    check_action_line(tmp_path, line, ok,
                      before='table v { "a@x.test" = "nobody" }\n')

"""A mailbox cannot take the message (issue 20): a maildir whose base
directory is not there, as when the file system that holds it is not
mounted, is a temporary failure; posternd does not make the base (the mail
would land on the file system below the mount point), other users' mail
goes on, and the mail arrives once the base is back."""
import glob
import os
import re
import smtplib
import time

import pytest


@pytest.fixture
def vmx(daemon_factory, tmp_path):
    dm = daemon_factory(sub="vmx")
    dm.maildir = str(tmp_path / "okmail")
    # /var/vmail as a mount point with nothing mounted: the directory is
    # there, the one the template names inside it is not.
    dm.mountpoint = str(tmp_path / "vmail")
    os.mkdir(dm.mountpoint)
    dm.base = os.path.join(dm.mountpoint, "mail")
    with open(dm.conf, "a") as f:
        f.write('''queue retry 1s max 1s
table vu {{ "a@base.test" = "root", "b@ok.test" = "root" }}
action "gone" maildir "{base}/%{{domain}}/%{{localpart}}" virtual <vu>
action "ok" maildir "{ok}/%{{rcpt}}" virtual <vu>
match from any for domain "base.test" action "gone"
match from any for domain "ok.test" action "ok"
'''.format(base=dm.base, ok=dm.maildir))
    yield dm
    dm.stop()


def send(dm, rcpt, tag):
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.sendmail("s@sender.test", [rcpt], "From: s@sender.test\r\nTo: "
                   "%s\r\nSubject: %s\r\n\r\n%s\r\n" % (rcpt, tag, tag))


def wait_glob(pattern, want=1, timeout=20):
    deadline = time.time() + timeout
    while len(glob.glob(pattern)) < want and time.time() < deadline:
        time.sleep(0.1)
    return glob.glob(pattern)


def wait_log(dm, pattern, count=1, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = re.findall(pattern, dm.logtext())
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return re.findall(pattern, dm.logtext())


def test_missing_maildir_base_is_retried_not_created(vmx):
    dm = vmx.start(args=("-d", "-v"))
    send(dm, "a@base.test", "unmounted")
    send(dm, "b@ok.test", "served")
    assert len(wait_glob(os.path.join(dm.maildir, "b@ok.test", "new",
                                      "*"))) == 1
    # Tried more than once, temporary each time, nothing created.
    found = wait_log(dm, r"temporary failure: 4\.3\.0 maildir base "
                     r"directory (\S+): No such file or directory", count=2)
    assert len(found) >= 2 and found[0] == dm.base, dm.logtext()
    assert "permanent failure" not in dm.logtext()
    assert os.listdir(dm.mountpoint) == []
    assert "4.3.0 maildir base directory" in dm.ctl("show", "queue").stdout
    # The file system is mounted again: the next retry delivers, once.
    os.mkdir(dm.base)
    got = wait_glob(os.path.join(dm.base, "base.test", "a", "new", "*"))
    assert len(got) == 1
    with open(got[0]) as f:
        assert "unmounted" in f.read()
    deadline = time.time() + 10
    while time.time() < deadline and dm.ctl("show", "queue").stdout:
        time.sleep(0.1)
    assert dm.ctl("show", "queue").stdout == ""
    assert dm.proc.poll() is None

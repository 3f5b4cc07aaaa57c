"""Aliases (issue 17): `action ... alias <T>` with a table in Debian's
aliases(5) format, expanded once at RCPT time by smtp into one envelope per
target (checked again by the queue), each with ORCPT naming the address the
sender used; files and commands only when the action allows them, run as
its alias-user, never as root; the file re-read when it changes.  And
~/.forward (forward-file yes), read and parsed by a worker as the user.

Modules covered: lib/aliases.c, posternd/alias_watch.c, posternd/forward.c,
smtpd/rcpt.c,
queue/admit.c (alias and .forward targets), posternd/deliver.c (alias
files and commands)."""
import re
import glob
import os
import pwd
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from peers import SmtpPeer
from test_deliver import wait_log

NOBODY = pwd.getpwnam("nobody")
SINK = "127.0.0.37"

SCRIPT = """#!/bin/sh
id -u > "$1/uid"
cat > "$1/msg"
"""


def write_aliases(dm, text):
    # a new file renamed in place, as editors and Debian's tools do
    tmp = dm.aliases + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, dm.aliases)


@pytest.fixture
def sink(tmp_path):
    p = SmtpPeer(tmp_path / "sink", addr=SINK,
                 replies=[{"cmd": "RCPT", "match": "refused@*",
                           "reply": "550 5.1.1 no such user"}])
    p.start()
    yield p
    p.stop()


@pytest.fixture
def adm(daemon_factory, sink):
    """A daemon with two alias actions on one aliases file: a.test may
    deliver to files and commands (as nobody), s.test may not."""
    base = tempfile.mkdtemp(prefix="postern-alias-")
    os.chmod(base, 0o1777)
    out = os.path.join(base, "out")
    os.mkdir(out)
    os.chown(out, NOBODY.pw_uid, NOBODY.pw_gid)
    script = os.path.join(base, "prog")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    dm = daemon_factory(sub="alias")
    dm.maildir = base
    dm.base = base
    dm.out = out
    dm.aliases = os.path.join(dm.dir, "aliases")
    include = os.path.join(dm.dir, "list.inc")
    with open(include, "w") as f:
        f.write("# a list kept apart\nnobody\n  daemon,\n")
    big = ", ".join("m%d@far.test" % i for i in range(10000))
    write_aliases(dm, """# Debian-style aliases(5)
postmaster: root
root:   nobody
staff:  daemon,
        "nobody"
nested: staff
loop1:  loop2
loop2:  loop1
self:   nobody, self
file:   %(base)s/file.mbox
"prog": "|%(script)s %(out)s"
inc:    :include:%(include)s
zero:   :include: /dev/zero
ext:    friend@far.test, nobody
gone:   refused@far.test
big:    %(big)s
big2:   big
big3:   big
""" % {"base": base, "script": script, "out": out, "include": include,
        "big": big})
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'table aliases file:"%s"\n'
                'table lu { "nobody", "daemon" }\n'
                'local-users allow <lu>\n'
                'action "loc" maildir "%s/%%{user}" alias <aliases> files '
                'commands alias-user "nobody"\n'
                'action "strict" maildir "%s/%%{user}" alias <aliases>\n'
                'action "asroot" maildir "%s/%%{user}" alias <aliases> files '
                'alias-user "root"\n'
                'action "out" relay host "smtp://%s"\n'
                'match from any for domain "a.test" action "loc"\n'
                'match from any for domain "s.test" action "strict"\n'
                'match from any for domain "r.test" action "asroot"\n'
                'match from any for domain "far.test" action "out"\n'
                % (dm.aliases, dm.maildir, dm.maildir, dm.maildir, SINK))
    dm.start()
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


def rcpt(dm, *addrs, sender="sender@client.test", body="hello\r\n",
         rcpt_options=()):
    """Send one message; return {addr: (code, text)} of each RCPT."""
    out = {}
    # 10,000 envelopes committed at the end of DATA take their time
    # under the sanitizers
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=300) as c:
        c.ehlo("client.test")
        c.mail(sender)
        for a in addrs:
            code, text = c.rcpt(a, rcpt_options)
            out[a] = (code, text.decode())
        if any(code == 250 for code, _ in out.values()):
            code, _ = c.data("From: %s\r\nTo: %s\r\nSubject: alias\r\n\r\n"
                             "%s" % (sender, addrs[0], body))
            assert code == 250
    return out


def mails(dm, user, want=1, timeout=20):
    deadline = time.time() + timeout
    while True:
        got = sorted(glob.glob(os.path.join(dm.maildir, user, "new", "*")))
        if len(got) >= want or time.time() > deadline:
            return got
        time.sleep(0.1)


def test_local_and_nested(adm):
    """staff -> daemon, nobody; nested -> staff: one copy each."""
    assert rcpt(adm, "nested@a.test")["nested@a.test"][0] == 250
    assert len(mails(adm, "daemon")) == 1
    assert len(mails(adm, "nobody")) == 1
    with open(mails(adm, "nobody")[0]) as f:
        assert "Delivered-To: nobody@a.test" in f.read()


def test_alias_shadows_user(adm):
    """root is a user, and an alias: the alias wins (root -> nobody)."""
    assert rcpt(adm, "root@a.test")["root@a.test"][0] == 250
    assert len(mails(adm, "nobody")) == 1
    time.sleep(0.5)
    assert mails(adm, "root", timeout=0) == []


def test_loop_refused_and_self_reference(adm):
    """loop1 -> loop2 -> loop1 reaches no mailbox: 550 5.4.6.  self
    names itself and nobody: nobody's copy, the self-reference no user,
    dropped."""
    r = rcpt(adm, "loop1@a.test", "self@a.test")
    assert r["loop1@a.test"][0] == 550
    assert "5.4.6" in r["loop1@a.test"][1]
    assert r["self@a.test"][0] == 250
    assert len(mails(adm, "nobody")) == 1


def test_include(adm):
    assert rcpt(adm, "inc@a.test")["inc@a.test"][0] == 250
    assert len(mails(adm, "nobody")) == 1
    assert len(mails(adm, "daemon")) == 1


def test_include_dev_zero_refused(adm):
    """An :include: of /dev/zero is never read: the alias defers."""
    r = rcpt(adm, "zero@a.test")["zero@a.test"]
    assert r[0] == 451
    assert ":include: refused" in adm.logtext()
    assert "not a regular file" in adm.logtext()


def test_file_allowed_as_alias_user(adm):
    assert rcpt(adm, "file@a.test")["file@a.test"][0] == 250
    path = os.path.join(adm.base, "file.mbox")
    deadline = time.time() + 20
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.1)
    st = os.stat(path)
    assert st.st_uid == NOBODY.pw_uid
    with open(path) as f:
        text = f.read()
    assert text.startswith("From sender@client.test ")
    assert "hello" in text


def test_file_never_as_root(adm):
    """alias-user root: the file is not written and the sender gets a
    bounce naming the alias."""
    r = rcpt(adm, "file@r.test", sender="nobody@a.test")
    assert r["file@r.test"][0] == 250
    got = mails(adm, "nobody", timeout=30)
    assert len(got) == 1
    with open(got[0], "rb") as f:
        text = f.read().decode(errors="replace")
    assert re.search(r"Original-Recipient: rfc822; ?file@r\.test", text)
    assert "never run as root" in adm.logtext()
    assert not os.path.exists(os.path.join(adm.base, "file.mbox"))


def test_file_and_command_refused(adm):
    r = rcpt(adm, "file@s.test", "prog@s.test")
    assert r["file@s.test"][0] == 550 and "5.7.1" in r["file@s.test"][1]
    assert r["prog@s.test"][0] == 550 and "5.7.1" in r["prog@s.test"][1]


def test_command_runs_as_alias_user(adm):
    assert rcpt(adm, "prog@a.test")["prog@a.test"][0] == 250
    uidfile = os.path.join(adm.out, "uid")
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(adm.out, "msg")) and \
            time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    with open(uidfile) as f:
        assert int(f.read()) == NOBODY.pw_uid
    assert os.stat(uidfile).st_uid == NOBODY.pw_uid
    with open(os.path.join(adm.out, "msg")) as f:
        assert "hello" in f.read()


def test_external_member_through_mta(adm, sink):
    assert rcpt(adm, "ext@a.test")["ext@a.test"][0] == 250
    sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["rcpts"] == ["friend@far.test"]
    assert len(mails(adm, "nobody")) == 1


def test_dsn_names_the_alias(adm, sink):
    """gone -> refused@far.test, which the sink refuses: the bounce's
    Original-Recipient is the alias the sender used (RFC 3461 4.2)."""
    r = rcpt(adm, "gone@a.test", sender="nobody@a.test")
    assert r["gone@a.test"][0] == 250
    got = mails(adm, "nobody", timeout=30)
    assert len(got) == 1
    with open(got[0], "rb") as f:
        text = f.read().decode(errors="replace")
    assert re.search(r"Original-Recipient: rfc822; ?gone@a\.test", text)
    assert re.search(r"Final-Recipient: rfc822; ?refused@far\.test", text)


def test_client_orcpt_kept(adm, sink):
    r = rcpt(adm, "gone@a.test", sender="nobody@a.test",
             rcpt_options=["NOTIFY=FAILURE",
                           "ORCPT=rfc822;first@elsewhere.test"])
    assert r["gone@a.test"][0] == 250
    got = mails(adm, "nobody", timeout=30)
    with open(got[0], "rb") as f:
        text = f.read().decode(errors="replace")
    assert re.search(r"Original-Recipient: rfc822; ?first@elsewhere\.test",
                     text)


def test_ten_thousand_members(adm, sink):
    assert rcpt(adm, "big@a.test")["big@a.test"][0] == 250
    deadline = time.time() + 120
    while time.time() < deadline:
        n = sum(len(m["rcpts"]) for m in sink.accepted())
        if n >= 10000:
            break
        time.sleep(0.5)
    rcpts = [r for m in sink.accepted() for r in m["rcpts"]]
    assert len(rcpts) == 10000
    assert len(set(rcpts)) == 10000


def test_envelopes_bounded_per_transaction(adm):
    """Three RCPTs of 10,000 recipients each: the third would pass
    20,000 envelopes in one transaction and is deferred (452 4.5.3)."""
    with smtplib.SMTP("127.0.0.1", adm.port, timeout=60) as c:
        c.ehlo("client.test")
        c.mail("sender@client.test")
        assert c.rcpt("big@a.test")[0] == 250
        assert c.rcpt("big2@a.test")[0] == 250
        code, text = c.rcpt("big3@a.test")
        assert code == 452 and b"4.5.3" in text
        c.rset()


def test_change_picked_up_without_restart(adm):
    assert rcpt(adm, "late@a.test")["late@a.test"][0] == 550
    with open(adm.aliases) as f:
        text = f.read()
    write_aliases(adm, text + "late: daemon\n")
    assert wait_log(adm, r"table aliases: .* changed", timeout=10)
    # smtp and the queue take the new file each in its turn, a moment
    # after the parent saw it change: until then the RCPT is refused as
    # before (550) or, between the two, the message deferred (451)
    deadline = time.time() + 20
    while True:
        try:
            code = rcpt(adm, "late@a.test")["late@a.test"][0]
        except AssertionError:
            code = 451          # DATA deferred: the queue had not yet
        if code not in (451, 550) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert code == 250
    assert len(mails(adm, "daemon")) == 1


def test_bad_aliases_file_stops_start(daemon_factory, tmp_path):
    dm = daemon_factory(sub="badalias")
    path = os.path.join(dm.dir, "aliases")
    with open(path, "w") as f:
        f.write("  continued: without a name\n")
    with open(dm.conf, "a") as f:
        f.write('table al file:"%s"\n'
                'action "loc" maildir alias <al>\n'
                'match from any for domain "a.test" action "loc"\n' % path)
    dm.start(wait=False)
    assert dm.wait_exit(10) == 1
    assert "continuation line without a name" in dm.logtext()


def test_default_configuration_maps_postmaster(daemon_factory, tmp_path):
    """The lines `make run` and `make install` use where /etc/aliases
    exists (scripts/setup-run's sed): postmaster goes through it."""
    from conftest import TOP
    with open(os.path.join(TOP, "etc", "postern.conf.default")) as f:
        lines = f.read().splitlines()
    assert 'action "local" maildir "~/Maildir"' in lines
    conf = []
    for ln in lines:
        if ln == 'action "local" maildir "~/Maildir"' or \
                ln.startswith(("pki ", "listen ")):
            continue
        conf.append(re.sub(r"^#aliases# ", "", ln))
    path = str(tmp_path / "etc-aliases")
    with open(path, "w") as f:
        f.write("# See man 5 aliases for format\npostmaster:    root\n")
    text = "\n".join(conf).replace('"/etc/aliases"', '"%s"' % path)
    assert "alias <aliases>" in text
    dm = daemon_factory(config_extra=text, sub="default").start()
    r = rcpt(dm, "postmaster@localhost", "nosuchalias@localhost")
    assert r["postmaster@localhost"][0] == 250
    assert r["nosuchalias@localhost"][0] == 550
    assert wait_log(dm, r"alias <postmaster@localhost> expanded to 1 "
                    r"recipient\b", timeout=5)


FWD_USER = "pfwdtest"


@pytest.fixture
def fwd(daemon_factory, sink):
    """A user with a home under /tmp and a daemon whose action reads
    ~/.forward (forward-file yes)."""
    base = tempfile.mkdtemp(prefix="postern-fwd-")
    os.chmod(base, 0o1777)
    home = os.path.join(base, "home")
    subprocess.run(["userdel", "-f", FWD_USER], capture_output=True)
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh",
                    FWD_USER], check=True)
    pw = pwd.getpwnam(FWD_USER)
    os.mkdir(home, 0o755)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    dm = daemon_factory(sub="fwd")
    dm.maildir = base
    dm.home = home
    dm.pw = pw
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'action "loc" maildir "%s/%%{user}" forward-file yes\n'
                'action "out" relay host "smtp://%s"\n'
                'match from any for domain "a.test" action "loc"\n'
                'match from any for domain "far.test" action "out"\n'
                % (base, SINK))
    dm.start()
    yield dm
    dm.stop()
    subprocess.run(["userdel", "-f", FWD_USER], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def write_forward(dm, text, mode=0o644):
    path = os.path.join(dm.home, ".forward")
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, dm.pw.pw_uid, dm.pw.pw_gid)
    os.chmod(path, mode)


def test_forward_local_and_external(fwd, sink):
    """~/.forward keeps a copy (the user's own name with a backslash) and
    sends one on to an external address, each its own envelope."""
    write_forward(fwd, "\\%s, friend@far.test\n" % FWD_USER)
    r = rcpt(fwd, FWD_USER + "@a.test")
    assert r[FWD_USER + "@a.test"][0] == 250
    sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["rcpts"] == ["friend@far.test"]
    assert len(mails(fwd, FWD_USER)) == 1
    assert wait_log(fwd, r"forwarded by ~%s/.forward to 1 address and "
                    r"kept" % FWD_USER, timeout=5)


def test_forward_group_writable_ignored(fwd, sink):
    write_forward(fwd, "friend@far.test\n", mode=0o664)
    r = rcpt(fwd, FWD_USER + "@a.test")
    assert r[FWD_USER + "@a.test"][0] == 250
    assert len(mails(fwd, FWD_USER)) == 1
    time.sleep(1)
    assert sink.accepted() == []
    assert "writable by others" in fwd.logtext()


def test_forward_symlink_not_followed(fwd, sink):
    target = os.path.join(fwd.maildir, "elsewhere")
    with open(target, "w") as f:
        f.write("friend@far.test\n")
    os.chown(target, fwd.pw.pw_uid, fwd.pw.pw_gid)
    os.symlink(target, os.path.join(fwd.home, ".forward"))
    r = rcpt(fwd, FWD_USER + "@a.test")
    assert r[FWD_USER + "@a.test"][0] == 250
    assert len(mails(fwd, FWD_USER)) == 1
    time.sleep(1)
    assert sink.accepted() == []

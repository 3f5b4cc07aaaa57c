"""SRS (issue 17): mail that an alias or a ~/.forward sends on to another
domain leaves with the envelope sender rewritten to SRS0=HHHH=TT=domain=
local@<srs domain> (SRS1 for an SRS0 sender), the message itself
untouched; a bounce to such an address is checked (keyed hash, any listed
key; timestamp) and delivered to the original sender through the mta;
forged, expired or malformed SRS addresses are refused with nothing
queued.  The hashes are recomputed here with Python's hmac.

Modules covered: lib/srs.c, smtpd/rcpt.c (SRS rewrite and reversal),
queue/admit.c (SRS reversals), queue/sched.c (its DSNs to SRS senders),
lib/conf.c (srs key files)."""
import base64
import hashlib
import hmac
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import POSTERND
from peers import SmtpPeer
from test_aliases import mails, write_aliases, write_forward, FWD_USER
from test_deliver import wait_log

SINK = "127.0.0.37"       # far.test: where aliases forward
ORIG = "127.0.0.38"       # orig.test, first.test: the original senders
KEY = b"the new SRS secret, 32 bytes..."
OLDKEY = b"the old SRS secret we rotate out"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
DAY = 86400


def stamp(t=None):
    d = int((time.time() if t is None else t) // DAY) & 1023
    return B32[d >> 5] + B32[d & 31]


def srs_hash(key, data):
    mac = hmac.new(key, data.lower().encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()[:4]


def srs0(local, domain, key=KEY, t=None, ours="fwd.test"):
    tt = stamp(t)
    h = srs_hash(key, "%s=%s=%s" % (tt, domain, local))
    return "SRS0=%s=%s=%s=%s@%s" % (h, tt, domain, local, ours)


def write_key(path, key, mode=0o600):
    with open(path, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, mode)


@pytest.fixture
def sink(tmp_path):
    p = SmtpPeer(tmp_path / "sink", addr=SINK,
                 replies=[{"cmd": "RCPT", "match": "refused@*",
                           "reply": "550 5.1.1 no such user"}])
    p.start()
    yield p
    p.stop()


@pytest.fixture
def orig(tmp_path):
    p = SmtpPeer(tmp_path / "orig", addr=ORIG)
    p.start()
    yield p
    p.stop()


def srs_daemon(daemon_factory, keys=(KEY,), sub="srs"):
    dm = daemon_factory(sub=sub)
    # the maildirs where the delivery user can reach them
    base = tempfile.mkdtemp(prefix="postern-srs-")
    os.chmod(base, 0o1777)
    dm.maildir = base
    dm.aliases = os.path.join(dm.dir, "aliases")
    write_aliases(dm, "ext: friend@far.test, nobody\n"
                  "gone: refused@far.test\n")
    lines = []
    for i, k in enumerate(keys):
        path = os.path.join(dm.dir, "srs%d.key" % i)
        write_key(path, k)
        lines.append('srs key "%s"' % path)
    with open(dm.conf, "a") as f:
        f.write("\n".join(lines) + "\n" +
                'srs domain "fwd.test"\n'
                'queue retry 1s max 1s\n'
                'table aliases file:"%s"\n'
                'table lu { "nobody" }\n'
                'local-users allow <lu>\n'
                'action "loc" maildir "%s/%%{user}" alias <aliases>\n'
                'action "out" relay host "smtp://%s"\n'
                'action "orig" relay host "smtp://%s"\n'
                'match from any for domain "a.test" action "loc"\n'
                'match from any for domain "far.test" action "out"\n'
                'match from local for domain "orig.test" action "orig"\n'
                'match from local for domain "first.test" action "orig"\n'
                % (dm.aliases, base, SINK, ORIG))
    return dm


@pytest.fixture
def srs(daemon_factory, sink, orig):
    dm = srs_daemon(daemon_factory)
    dm.start()
    yield dm
    dm.stop()
    shutil.rmtree(dm.maildir, ignore_errors=True)


def send(dm, sender, *rcpts, subject="srs"):
    """One message; {rcpt: code} and the DATA code (None: not sent)."""
    out, code = {}, None
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
        c.ehlo("client.test")
        c.mail(sender)
        for r in rcpts:
            out[r] = c.rcpt(r)[0]
        if any(v == 250 for v in out.values()):
            code = c.data("From: Alice <alice@orig.test>\r\nTo: %s\r\n"
                          "Subject: %s\r\n\r\nhello\r\n"
                          % (rcpts[0], subject))[0]
    return out, code


def test_alias_to_external_rewritten(srs, sink):
    """The external member's envelope gets SRS0 of our SRS domain, with a
    hash we can recompute; the local member keeps the original sender;
    the message's From is untouched."""
    r, code = send(srs, "Alice@orig.test", "ext@a.test")
    assert r["ext@a.test"] == 250 and code == 250
    sink.wait_messages(1, timeout=30)
    m = sink.accepted()[0]
    assert m["rcpts"] == ["friend@far.test"]
    assert m["mail_from"] == srs0("Alice", "orig.test")
    assert m["mail_from"].startswith("SRS0=")
    assert m["mail_from"].endswith("@fwd.test")
    assert b"From: Alice <alice@orig.test>" in sink.messages()[0]
    got = mails(srs, "nobody")
    assert len(got) == 1
    with open(got[0], "rb") as f:
        assert f.read().startswith(b"Return-Path: <Alice@orig.test>")


def test_own_dsn_goes_to_original_sender(srs, sink, orig):
    """The far end refuses the forwarded mail in the SMTP dialogue: the
    queue's own DSN for the SRS sender goes to the original sender."""
    r, code = send(srs, "frank@orig.test", "gone@a.test")
    assert code == 250
    orig.wait_messages(1, timeout=30)
    m = orig.accepted()[0]
    assert m["mail_from"] == "" and m["rcpts"] == ["frank@orig.test"]
    assert re.search(rb"Final-Recipient: rfc822; ?refused@far\.test",
                     orig.messages()[0])


def test_null_sender_not_rewritten(srs, sink):
    r, code = send(srs, "", "ext@a.test")
    assert code == 250
    sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["mail_from"] == ""


def test_srs1_for_srs0_sender(srs, sink, orig):
    """An SRS0 sender from another forwarder (first.test) becomes SRS1
    naming it, and a bounce to the SRS1 goes back to first.test's SRS0."""
    first = "SRS0=AbCd=%s=orig.test=bob@first.test" % stamp()
    r, code = send(srs, first, "ext@a.test")
    assert code == 250
    sink.wait_messages(1, timeout=30)
    rest = "=AbCd=%s=orig.test=bob" % stamp()
    want = "SRS1=%s=first.test=%s@fwd.test" % (
        srs_hash(KEY, "first.test=" + rest), rest)
    assert sink.accepted()[0]["mail_from"] == want
    r, code = send(srs, "", want)
    assert r[want] == 250 and code == 250
    orig.wait_messages(1, timeout=30)
    assert orig.accepted()[0]["rcpts"] == [first]


def test_bounce_reversed_to_original_sender(srs, sink, orig):
    """The address the sink saw, used as a bounce's recipient (also
    lower-cased, as an MTA on the way may fold it), reaches the original
    sender through the mta."""
    send(srs, "alice@orig.test", "ext@a.test")
    sink.wait_messages(1, timeout=30)
    addr = sink.accepted()[0]["mail_from"]
    r, code = send(srs, "", addr, addr.lower(), subject="bounce")
    assert r == {addr: 250, addr.lower(): 250} and code == 250
    orig.wait_messages(1, timeout=30)
    m = orig.accepted()[0]
    assert m["mail_from"] == ""
    assert sorted(m["rcpts"]) == ["alice@orig.test"] * len(m["rcpts"])
    assert wait_log(srs, "SRS recipient <%s> reversed to <alice@orig.test>"
                    % addr, timeout=5)
    # not only the null sender (as postsrsd): a reply is delivered too
    r, code = send(srs, "someone@far.test", addr, subject="reply")
    assert r[addr] == 250 and code == 250


def test_bad_srs_addresses_refused(srs, orig):
    """Forged hash, expired or future timestamp, bad base32, truncated:
    550 at RCPT, the transaction has no recipient, nothing reaches the
    original sender's domain."""
    good = srs0("alice", "orig.test")
    h = good[5:9]
    forged = good.replace(h, "AAAA" if h != "AAAA" else "BBBB", 1)
    old = srs0("alice", "orig.test", t=time.time() - 30 * DAY)
    ahead = srs0("alice", "orig.test", t=time.time() + 3 * DAY)
    bad32 = "SRS0=%s=1!=orig.test=alice@fwd.test" % h
    cut = "SRS0=%s=%s@fwd.test" % (h, stamp())
    shifted = good.replace("=orig.test=alice", "=orig.tes=talice")
    for a in (forged, old, ahead, bad32, cut, shifted,
              "SRS1=%s=first.test=@fwd.test" % h):
        r, code = send(srs, "", a)
        assert r[a] == 550, a
        assert code is None
    for why in ("bad hash", "expired timestamp", "bad syntax"):
        assert wait_log(srs, "refused: " + why, timeout=5)
    time.sleep(2)
    assert orig.accepted() == []
    assert "reversed to" not in srs.logtext()


def test_expired_by_the_daemons_clock(daemon_factory, sink, orig,
                                      monkeypatch):
    """An address made now is refused by a daemon whose clock is 22 days
    on (POSTERN_TEST_CLOCK_SHIFT), and taken at 20."""
    addr = srs0("alice", "orig.test")
    monkeypatch.setenv("POSTERN_TEST_CLOCK_SHIFT", str(22 * DAY))
    dm = srs_daemon(daemon_factory, sub="late")
    dm.start()
    r, code = send(dm, "", addr)
    assert r[addr] == 550
    assert wait_log(dm, "refused: expired timestamp", timeout=5)
    dm.stop()
    monkeypatch.setenv("POSTERN_TEST_CLOCK_SHIFT", str(20 * DAY))
    dm = srs_daemon(daemon_factory, sub="ontime")
    dm.start()
    r, code = send(dm, "", addr)
    assert r[addr] == 250 and code == 250
    orig.wait_messages(1, timeout=30)
    dm.stop()


def test_key_rotation(daemon_factory, sink, orig):
    """Two keys: the first signs, both verify; an address made with the
    old key alone still reverses, one made with a third key does not."""
    dm = srs_daemon(daemon_factory, keys=(KEY, OLDKEY), sub="rot")
    dm.start()
    old = srs0("carol", "orig.test", key=OLDKEY)
    other = srs0("carol", "orig.test", key=b"some key we never had....")
    r, code = send(dm, "", old, other)
    assert r == {old: 250, other: 550} and code == 250
    orig.wait_messages(1, timeout=30)
    assert orig.accepted()[0]["rcpts"] == ["carol@orig.test"]
    send(dm, "dave@orig.test", "ext@a.test")
    sink.wait_messages(1, timeout=30)
    assert sink.accepted()[0]["mail_from"] == srs0("dave", "orig.test")
    dm.stop()


def test_forward_file_external_rewritten(daemon_factory, sink):
    """~/.forward to an external address: SRS as for an alias."""
    import pwd
    base = tempfile.mkdtemp(prefix="postern-srs-")
    os.chmod(base, 0o1777)
    subprocess.run(["userdel", "-f", FWD_USER], capture_output=True)
    home = os.path.join(base, "home")
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh",
                    FWD_USER], check=True)
    try:
        pw = pwd.getpwnam(FWD_USER)
        os.mkdir(home, 0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        dm = daemon_factory(sub="fwd")
        dm.maildir = os.path.join(base, "mail")
        dm.home, dm.pw = home, pw
        key = os.path.join(dm.dir, "srs.key")
        write_key(key, KEY)
        with open(dm.conf, "a") as f:
            f.write('srs key "%s"\nsrs domain "fwd.test"\n'
                    'action "loc" maildir "%s/%%{user}" forward-file yes\n'
                    'action "out" relay host "smtp://%s"\n'
                    'match from any for domain "a.test" action "loc"\n'
                    'match from any for domain "far.test" action "out"\n'
                    % (key, dm.maildir, SINK))
        write_forward(dm, "friend@far.test\n")
        dm.start()
        r, code = send(dm, "erin@orig.test", FWD_USER + "@a.test")
        assert code == 250
        sink.wait_messages(1, timeout=30)
        assert sink.accepted()[0]["mail_from"] == srs0("erin", "orig.test")
        dm.stop()
    finally:
        subprocess.run(["userdel", "-f", FWD_USER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def check_conf(tmp_path, text):
    f = tmp_path / "check.conf"
    f.write_text(text)
    return subprocess.run([POSTERND, "-n", "-f", str(f)],
                          capture_output=True, text=True)


def test_config_checked(tmp_path):
    key = str(tmp_path / "k")
    write_key(key, KEY, mode=0o644)
    r = check_conf(tmp_path, 'srs key "%s"\n' % key)
    assert r.returncode != 0 and "chmod 600" in r.stderr
    assert KEY.decode() not in r.stderr + r.stdout
    os.chmod(key, 0o600)
    assert check_conf(tmp_path, 'srs key "%s"\n' % key).returncode == 0
    write_key(key, b"short")
    r = check_conf(tmp_path, 'srs key "%s"\n' % key)
    assert r.returncode != 0 and "16 to 256 bytes" in r.stderr
    r = check_conf(tmp_path, 'srs domain "fwd.test"\n')
    assert r.returncode != 0 and "without an srs key" in r.stderr
    r = check_conf(tmp_path, 'srs key "relative.key"\n')
    assert r.returncode != 0 and "absolute" in r.stderr

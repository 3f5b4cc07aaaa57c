"""Submission: SMTP AUTH (RFC 4954) on the real daemon, checked by authd,
and routes chosen by the authenticated account.

The credentials table holds crypt(3) hashes made by `posternctl encrypt`
(yescrypt) and by openssl (sha512-crypt); clients are swaks, smtplib and
raw TLS sockets for the hostile inputs.
"""
import base64
import email
import glob
import json
import os
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import POSTERNCTL, next_port, run
from peers import SmtpPeer

PASSWORDS = {"alice": "alice-Pa55word", "bob": "bob-s3cret-pw",
             "carol": "carol-sha512-pw"}

CONFIG = '''
hostname sub.example.test
pki test cert "{d}/cert.pem" key "{d}/key.pem"
table creds file:"{d}/creds"
listen on 127.0.0.1 port {req_port} tls pki test auth require <creds>
listen on 127.0.0.1 port {opt_port} tls pki test auth <creds>
listen on 127.0.0.1 port {smtps_port} smtps pki test auth require <creds>
mta-connect-timeout 2s
queue retry 1s max 2s
table locals {{ "localhost", "example.test" }}
action "local" maildir "{d}/mail/%{{user}}"
action "out" relay host "smtp://{relay}"
{extra}
match from any for domain <locals> action "local"
match auth from any for any action "out"
'''


def encrypt(password):
    r = run([POSTERNCTL, "encrypt"], input=password + "\n")
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$y$") and password not in h
    return h


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=sub.example.test",
                    "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_creds(d):
    """alice and bob: yescrypt; carol: sha512-crypt from openssl."""
    sha = subprocess.run(["openssl", "passwd", "-6", PASSWORDS["carol"]],
                         check=True, stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    assert sha.startswith("$6$")
    hashes = {"alice": encrypt(PASSWORDS["alice"]),
              "bob": encrypt(PASSWORDS["bob"]), "carol": sha}
    with open(d / "creds", "w") as f:
        f.write("# user  crypt(3) hash\n")
        for u, h in hashes.items():
            f.write("%s  %s\n" % (u, h))
    os.chmod(d / "creds", 0o600)
    return hashes


def start_sub(daemon_factory, tmp_path, extra="", relay="127.0.0.49:2",
              sub="sub"):
    d = tmp_path / ("%s-files" % sub)
    d.mkdir()
    make_cert(d)
    dm = daemon_factory(sub=sub)
    dm.hashes = write_creds(d)
    dm.req_port, dm.opt_port, dm.smtps_port = (next_port(), next_port(),
                                               next_port())
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=d, req_port=dm.req_port,
                              opt_port=dm.opt_port,
                              smtps_port=dm.smtps_port, relay=relay,
                              extra=extra))
    dm.maildir = str(d / "mail")
    dm.start()
    return dm


@pytest.fixture
def sub(daemon_factory, tmp_path):
    return start_sub(daemon_factory, tmp_path)


def delivered(dm, user="root", want=1, timeout=10):
    deadline = time.time() + timeout
    while True:
        files = sorted(glob.glob(os.path.join(dm.maildir, user, "new", "*")))
        if len(files) >= want or time.time() >= deadline:
            break
        time.sleep(0.05)
    out = []
    for f in files:
        with open(f, "rb") as fp:
            out.append(fp.read())
    return out


def queue_empty(dm):
    return dm.ctl("show", "queue").stdout == ""


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A client speaking raw lines, after STARTTLS (or smtps)."""

    def __init__(self, port, starttls=True, implicit=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if implicit:
            s = tls_ctx().wrap_socket(s)
        self.s = s
        self.buf = b""
        self.reply()                        # 220
        if starttls and not implicit:
            self.cmd(b"EHLO client.test")
            assert self.cmd(b"STARTTLS").startswith(b"220")
            self.s = tls_ctx().wrap_socket(self.s)
        self.ehlo = self.cmd(b"EHLO client.test")

    def reply(self):
        """One whole reply (all its lines), or b"" on EOF."""
        while True:
            lines = self.buf.split(b"\r\n")
            for i, ln in enumerate(lines[:-1]):
                if len(ln) >= 4 and ln[3:4] == b" ":
                    out = b"\r\n".join(lines[:i + 1]) + b"\r\n"
                    self.buf = b"\r\n".join(lines[i + 1:])
                    return out
            chunk = self.s.recv(65536)
            if not chunk:
                return b""
            self.buf += chunk

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self):
        self.s.close()


def plain(user, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                            .encode()).decode()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


MSG = ("From: alice@example.test\r\nTo: root@localhost\r\n"
       "Subject: submitted\r\n\r\nhello from a submission client\r\n")


# -- what works ---------------------------------------------------------------

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth_starttls_delivers(sub, mech):
    r = run(["swaks", "--server", "127.0.0.1:%d" % sub.req_port, "--tls",
             "--auth", mech, "--auth-user", "alice", "--auth-password",
             PASSWORDS["alice"], "--from", "alice@example.test",
             "--to", "root@localhost", "--body", "swaks %s body" % mech])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication succeeded" in r.stdout
    got = delivered(sub)
    assert len(got) == 1 and b"swaks %s body" % mech.encode() in got[0]
    rcvd = email.message_from_bytes(got[0]).get_all("Received")
    assert "with ESMTPSA" in rcvd[0], rcvd[0]
    # the user name stays out of the Received field (privacy)
    assert "alice" not in rcvd[0]
    assert "AUTH %s user alice: succeeded" % mech in sub.logtext()


def test_smtplib_login_starttls_and_smtps(sub):
    with smtplib.SMTP("127.0.0.1", sub.req_port) as c:
        c.ehlo("client.test")
        assert not c.has_extn("auth")       # not before TLS
        c.starttls(context=tls_ctx())
        c.ehlo("client.test")
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert c.login("bob", PASSWORDS["bob"])[0] == 235
        c.sendmail("bob@example.test", ["root@localhost"], MSG)
    with smtplib.SMTP_SSL("127.0.0.1", sub.smtps_port,
                          context=tls_ctx()) as c:
        assert c.login("carol", PASSWORDS["carol"])[0] == 235  # $6$ hash
        c.sendmail("carol@example.test", ["root@localhost"], MSG)
    got = delivered(sub, want=2)
    assert len(got) == 2
    assert all("with ESMTPSA" in email.message_from_bytes(m)["Received"]
               for m in got)


# -- refused credentials ------------------------------------------------------

def test_wrong_password_and_unknown_user(sub):
    # an unknown user is checked against the table's first hash (alice's)
    # so that it costs the same time: her password must not let him in
    for user, pw in (("alice", "not-her-password"),
                     ("mallory", "whatever-pw-123"),
                     ("mallory", PASSWORDS["alice"])):
        c = Raw(sub.req_port)
        t0 = time.time()
        r = c.cmd(b"AUTH PLAIN " + plain(user, pw).encode())
        assert r == b"535 5.7.8 Authentication credentials invalid\r\n", r
        # a failure is answered after a delay
        assert time.time() - t0 >= 0.9
        assert c.cmd(b"MAIL FROM:<a@example.test>").startswith(b"530 5.7.0")
        c.close()
    time.sleep(0.3)
    assert queue_empty(sub)
    assert delivered(sub, timeout=0.5) == []
    log = sub.logtext()
    assert "AUTH PLAIN user alice: failed" in log
    assert "AUTH PLAIN user mallory: failed" in log
    assert "from 127.0.0.1" in log
    for pw in ("not-her-password", "whatever-pw-123",
               PASSWORDS["alice"]):
        assert pw not in log


def test_auth_refused_outside_tls_and_before_auth(sub):
    # not advertised in clear, and 538 if tried anyway
    c = Raw(sub.opt_port, starttls=False)
    assert b"AUTH" not in c.ehlo and b"STARTTLS" in c.ehlo
    r = c.cmd(b"AUTH PLAIN " + plain("alice", PASSWORDS["alice"]).encode())
    assert r.startswith(b"538 5.7.11 Encryption required"), r
    c.close()
    # auth require: no MAIL before AUTH
    c = Raw(sub.req_port)
    assert b"AUTH PLAIN LOGIN" in c.ehlo
    assert c.cmd(b"MAIL FROM:<a@example.test>") == \
        b"530 5.7.0 Authentication required\r\n"
    c.close()
    # no require: local mail without AUTH, but no relaying (the rules)
    c = Raw(sub.opt_port)
    assert c.cmd(b"MAIL FROM:<a@example.test>").startswith(b"250")
    assert c.cmd(b"RCPT TO:<root@localhost>").startswith(b"250")
    assert c.cmd(b"RCPT TO:<x@far.test>").startswith(b"550 5.7.1")
    c.cmd(b"RSET")
    # after AUTH the same relaying is taken, and the account recorded
    c.cmd(b"AUTH PLAIN " + plain("alice", PASSWORDS["alice"]).encode())
    assert c.cmd(b"MAIL FROM:<alice@example.test> AUTH=<>").startswith(
        b"250")
    assert c.cmd(b"RCPT TO:<x@far.test>").startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    assert c.cmd(MSG.encode() + b".").startswith(b"250")
    c.close()
    # the relay at 127.0.0.49:2 does not answer: it waits in the queue
    out = sub.ctl("show", "queue", "-j")
    entries = [json.loads(ln) for ln in out.stdout.splitlines()]
    assert len(entries) == 1 and entries[0]["account"] == "alice"
    assert entries[0]["recipient"] == "x@far.test"


def test_hostile_inputs(sub):
    good = plain("alice", PASSWORDS["alice"]).encode()
    cases = [
        ([b"AUTH CRAM-MD5"], b"504 5.5.4"),
        ([b"AUTH LOGIN", b"*"], b"501 5.0.0"),
        ([b"AUTH PLAIN", b"*"], b"501 5.0.0"),
        ([b"AUTH PLAIN not*base64!"], b"501 5.5.2"),
        ([b"AUTH PLAIN " + b"QUFB" * 5000], b"500 5.5.6"),  # 20011 octets
        ([b"AUTH PLAIN", b"QUFB" * 5000], b"500 5.5.6"),
        ([b"AUTH PLAIN " + plain("alice", PASSWORDS["alice"],
                                 authzid="bob").encode()], b"535 5.7.8"),
        ([b"AUTH LOGIN", b64(b"ali\0ce").encode()], b"501 5.5.2"),
        ([b"AUTH PLAIN " + b64(b"\0ali\0ce\0" + b"pw").encode()],
         b"501 5.5.2"),
        ([b"AUTH"], b"501 5.5.4"),
    ]
    for lines, want in cases:
        c = Raw(sub.req_port)
        r = b""
        for ln in lines:
            r = c.cmd(ln)
        assert r.startswith(want), (lines[0][:40], r)
        # the session survives and is still unauthenticated
        assert c.cmd(b"MAIL FROM:<a@example.test>").startswith(b"530")
        c.close()
    # AUTH twice; AUTH inside a transaction
    c = Raw(sub.req_port)
    assert c.cmd(b"AUTH PLAIN " + good).startswith(b"235")
    assert c.cmd(b"AUTH PLAIN " + good).startswith(b"503 5.5.1")
    assert c.cmd(b"MAIL FROM:<alice@example.test>").startswith(b"250")
    assert c.cmd(b"AUTH PLAIN " + good).startswith(b"503 5.5.1")
    c.close()
    # nothing was stored by any of it
    time.sleep(0.3)
    assert queue_empty(sub)
    assert delivered(sub, timeout=0.3) == []
    assert sub.proc.poll() is None


def test_three_failures_close_other_sessions_unaffected(sub):
    bad = plain("alice", "wrong-one").encode()
    c = Raw(sub.req_port)
    assert c.cmd(b"AUTH PLAIN " + bad).startswith(b"535")
    assert c.cmd(b"AUTH PLAIN " + bad).startswith(b"535")
    # while the third failure waits out its delay, another session works
    result = {}

    def third():
        result["r"] = c.cmd(b"AUTH PLAIN " + bad)
    th = threading.Thread(target=third)
    th.start()
    time.sleep(0.2)
    other = Raw(sub.req_port)
    t0 = time.time()
    assert other.cmd(b"NOOP").startswith(b"250")
    assert other.cmd(b"AUTH PLAIN " +
                     plain("bob", PASSWORDS["bob"]).encode()).startswith(
                         b"235")
    assert time.time() - t0 < 0.9
    th.join(10)
    assert result["r"].startswith(b"421 4.7.0"), result
    assert c.closed()
    assert other.cmd(b"MAIL FROM:<bob@example.test>").startswith(b"250")
    assert other.cmd(b"RCPT TO:<root@localhost>").startswith(b"250")
    assert other.cmd(b"DATA").startswith(b"354")
    assert other.cmd(MSG.encode() + b".").startswith(b"250")
    other.close()
    assert len(delivered(sub)) == 1
    assert sub.logtext().count("AUTH PLAIN user alice: failed") == 3


def test_auth_checks_at_once_are_bounded(sub):
    """More simultaneous AUTH checks than smtp lets authd run (4) get 454
    4.7.0 at once; the counter comes back down, also for clients that
    leave while their check runs."""
    good = b"AUTH PLAIN " + plain("alice", PASSWORDS["alice"]).encode()
    conns = [Raw(sub.smtps_port, implicit=True) for _ in range(12)]
    for c in conns:
        c.s.sendall(good + b"\r\n")
    replies = [c.reply() for c in conns]
    assert all(r.startswith(b"235 2.7.0") or r.startswith(b"454 4.7.0")
               for r in replies), replies
    assert any(r.startswith(b"454 4.7.0") for r in replies), replies
    assert any(r.startswith(b"235 2.7.0") for r in replies), replies
    assert "AUTH deferred" in sub.logtext()
    # a deferred client tries again and gets in
    again = [c for c, r in zip(conns, replies) if r.startswith(b"454")][0]
    assert again.cmd(good).startswith(b"235")
    for c in conns:
        c.close()
    # clients that leave with their check at authd free their places
    gone = [Raw(sub.smtps_port, implicit=True) for _ in range(4)]
    for c in gone:
        c.s.sendall(good + b"\r\n")
        c.close()
    time.sleep(1.5)
    late = Raw(sub.smtps_port, implicit=True)
    assert late.cmd(good).startswith(b"235")
    late.close()


def process_memory_has(pid, needle):
    """Does the process's readable memory hold `needle`?  Read in chunks
    that overlap by the needle's length; regions over 1 GiB (a sanitizer's
    shadow memory) are skipped."""
    step = 16 << 20
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for ln in maps:
            addr, perms = ln.split()[:2]
            if not perms.startswith("r") or "[vvar]" in ln or \
                    "[vsyscall]" in ln:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo > 1 << 30:
                continue
            off = lo
            while off < hi:
                try:
                    mem.seek(off)
                    chunk = mem.read(min(step + len(needle), hi - off))
                except (OSError, ValueError, OverflowError):
                    break
                if needle in chunk:
                    return True
                off += step
    return False


def test_secrets_stay_with_authd(sub):
    # use the credentials once, so that everything that sees them did
    with smtplib.SMTP("127.0.0.1", sub.req_port) as c:
        c.starttls(context=tls_ctx())
        c.login("alice", PASSWORDS["alice"])
    h = sub.hashes["alice"].encode()
    kids = sub.children()
    # the hash is in authd, and in no process that talks to clients
    assert process_memory_has(kids["authd"], h)
    for name in ("smtp", "queue", "mta", "control", "reportd"):
        assert not process_memory_has(kids[name], h), name
    # smtp wiped the password it forwarded, and the base64 it came in;
    # authd wiped it once checked
    assert not process_memory_has(kids["smtp"],
                                  PASSWORDS["alice"].encode())
    assert not process_memory_has(
        kids["smtp"], plain("alice", PASSWORDS["alice"]).encode())
    assert not process_memory_has(kids["authd"],
                                  PASSWORDS["alice"].encode())
    outputs = [sub.ctl(*a).stdout for a in (("show", "status"),
                                            ("show", "stats"),
                                            ("show", "routes"),
                                            ("show", "queue", "-j"))]
    outputs.append(sub.logtext())
    for text in outputs:
        for u, hsh in sub.hashes.items():
            assert hsh not in text
            assert PASSWORDS[u] not in text
    assert "smtp.auth.succeeded" in outputs[1]


# -- routes per account -------------------------------------------------------

def test_route_by_account(daemon_factory, tmp_path):
    peers = []
    try:
        pa = SmtpPeer(tmp_path / "peer-a", addr="127.0.0.40", port=25)
        pb = SmtpPeer(tmp_path / "peer-b", addr="127.0.0.41", port=25)
        pc = SmtpPeer(tmp_path / "peer-c", addr="127.0.0.42", port=25)
        peers = [pa, pb, pc]
        for p in peers:
            p.start()
        dm = start_sub(daemon_factory, tmp_path, relay="127.0.0.41",
                       extra='transport viaA smarthost "smtp://127.0.0.40"\n'
                       'transport viaC smarthost "smtp://127.0.0.42"\n'
                       'table cusers { "carol", "dave" }\n'
                       'route account alice transport viaA\n'
                       'route account <cusers> transport viaC\n')
        routes = dm.ctl("show", "routes").stdout
        assert "account=alice" in routes and "transport=viaA" in routes
        assert "account=carol" in routes and "account=dave" in routes
        for user, rcpt in (("alice", "a1@far.test"), ("bob", "b1@far.test"),
                           ("alice", "a2@other.test"),
                           ("carol", "c1@far.test")):
            with smtplib.SMTP("127.0.0.1", dm.req_port) as c:
                c.starttls(context=tls_ctx())
                c.login(user, PASSWORDS[user])
                c.sendmail("%s@example.test" % user, [rcpt],
                           MSG.replace("root@localhost", rcpt))
        pa.wait_messages(2, timeout=20)
        pb.wait_messages(1, timeout=20)
        pc.wait_messages(1, timeout=20)
        deadline = time.time() + 10
        while not queue_empty(dm) and time.time() < deadline:
            time.sleep(0.2)
        got_a = sorted(r for m in pa.accepted() for r in m["rcpts"])
        got_b = sorted(r for m in pb.accepted() for r in m["rcpts"])
        assert got_a == ["a1@far.test", "a2@other.test"], got_a
        assert got_b == ["b1@far.test"], got_b
        got_c = sorted(r for m in pc.accepted() for r in m["rcpts"])
        assert got_c == ["c1@far.test"], got_c
    finally:
        for p in peers:
            p.stop()


# -- end to end: posternd A submits to posternd B ------------------------------

def test_end_to_end_submission_between_posternds(daemon_factory, tmp_path):
    b = start_sub(daemon_factory, tmp_path, sub="b",
                  extra='table bdom { "b.test", "login.test" }\n'
                  'match auth from any for domain <bdom> action "local"\n')
    a = daemon_factory(sub="a")
    a.maildir = str(tmp_path / "amail")
    secrets = tmp_path / "a-secrets"
    secrets.write_text("127.0.0.1 alice:%s\n" % PASSWORDS["alice"])
    os.chmod(secrets, 0o600)
    wrong = tmp_path / "a-wrong"
    wrong.write_text("127.0.0.1 bob:not-bobs-password\n")
    os.chmod(wrong, 0o600)
    with open(a.conf, "a") as f:
        f.write('''hostname a.postern.test
mta-connect-timeout 2s
queue retry 1s max 2s
queue expire 30s
table secrets file:"{s}"
table wrong file:"{w}"
action "out" relay
# B's certificate is self-signed: auth would refuse it without no-verify
transport sub submission "smtp+tls://127.0.0.1:{p}" auth <secrets> \\
    tls no-verify
transport subwrong submission "smtp+tls://127.0.0.1:{p}" auth <wrong> \\
    tls no-verify
transport sublogin submission "smtp+tls://127.0.0.1:{p}" auth <secrets> \\
    mechanisms LOGIN tls no-verify
route for domain "wrong.test" transport subwrong
route for domain "login.test" transport sublogin
route transport sub
match from any for any action "out"
'''.format(s=secrets, w=wrong, p=b.req_port))
    a.start()
    body = ("From: root@localhost\r\nTo: root@b.test\r\n"
            "Subject: a to b\r\n\r\nthrough submission\r\n")
    with smtplib.SMTP("127.0.0.1", a.port) as c:
        c.sendmail("root@localhost", ["root@b.test"], body)
    got = delivered(b, timeout=20)
    assert len(got) == 1 and b"through submission" in got[0]
    rcvd = email.message_from_bytes(got[0]).get_all("Received")
    assert "by sub.example.test" in rcvd[0] and "ESMTPSA" in rcvd[0]
    assert "AUTH PLAIN user alice: succeeded" in b.logtext()
    # mechanisms LOGIN: A uses LOGIN though B offers PLAIN too
    with smtplib.SMTP("127.0.0.1", a.port) as c:
        c.sendmail("root@localhost", ["root@login.test"],
                   body.replace("through submission", "by LOGIN"))
    got = delivered(b, want=2, timeout=20)
    assert len(got) == 2 and any(b"by LOGIN" in m for m in got)
    assert "AUTH LOGIN user alice: succeeded" in b.logtext()
    # a wrong password: B refuses with 535, A does not deliver
    with smtplib.SMTP("127.0.0.1", a.port) as c:
        c.sendmail("root@localhost", ["x@wrong.test"], body)
    deadline = time.time() + 20
    while "user bob: failed" not in b.logtext() and time.time() < deadline:
        time.sleep(0.2)
    assert "user bob: failed" in b.logtext()
    deadline = time.time() + 20
    while "535" not in a.logtext() and time.time() < deadline:
        time.sleep(0.2)
    assert "535" in a.logtext()
    assert len(delivered(b, timeout=0.5)) == 2
    assert "not-bobs-password" not in a.logtext() + b.logtext()


# -- an authenticated message is our own mail ----------------------------------

def test_authenticated_mail_is_signed_not_judged(daemon_factory, tmp_path):
    key = tmp_path / "dkim.key"
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "example.test", "-s", "sel", "-o", str(key)])
    assert r.returncode == 0, r.stderr
    dm = start_sub(daemon_factory, tmp_path,
                   extra='dkim-signature ed {\n key "%s"\n'
                   ' domain example.test\n selector sel\n'
                   ' algorithm ed25519-sha256\n}\n'
                   'sign with ed domain example.test\n' % key)
    with smtplib.SMTP("127.0.0.1", dm.req_port) as c:
        c.starttls(context=tls_ctx())
        c.login("bob", PASSWORDS["bob"])
        c.sendmail("bob@example.test", ["root@localhost"], MSG)
    got = delivered(dm)
    assert len(got) == 1
    m = email.message_from_bytes(got[0])
    assert "d=example.test" in m["DKIM-Signature"]
    assert "s=sel" in m["DKIM-Signature"]
    # no SPF, DKIM or DMARC verdict on our own user's mail
    ar = m["Authentication-Results"] or ""
    for method in ("spf=", "dkim=", "dmarc="):
        assert method not in ar, ar


# -- who may send as whom: listen ... senders <T> ------------------------------

OWNERS = '''table owners {{ "alice@example.test" = "alice",
    "@alice.test" = "alice", "bob@example.test" = "bob" }}
listen on 127.0.0.1 port {port} tls pki test auth require <creds> \\
    senders <owners>
listen on 127.0.0.1 port {opt} tls pki test auth <creds> senders <owners>
'''


@pytest.fixture
def owners(daemon_factory, tmp_path):
    port, opt = next_port(), next_port()
    dm = start_sub(daemon_factory, tmp_path,
                   extra=OWNERS.format(port=port, opt=opt))
    dm.own_port, dm.own_opt_port = port, opt
    return dm


def authed(port, user):
    c = Raw(port)
    assert c.cmd(b"AUTH PLAIN " +
                 plain(user, PASSWORDS[user]).encode()).startswith(b"235")
    return c


def send_raw(c, sender, rcpt, body):
    """MAIL, RCPT, DATA: the reply to the final dot (or the first refusal)."""
    r = c.cmd(b"MAIL FROM:<%s>" % sender.encode())
    if not r.startswith(b"250"):
        return r
    assert c.cmd(b"RCPT TO:<%s>" % rcpt.encode()).startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    return c.cmd(body.encode().replace(b"\r\n.", b"\r\n..") + b".")


def msg_from(frm, subject="owned"):
    return ("From: %s\r\nTo: root@localhost\r\nSubject: %s\r\n\r\n"
            "body of %s\r\n" % (frm, subject, subject))


def test_senders_own_address_accepted(owners):
    c = authed(owners.own_port, "alice")
    r = send_raw(c, "alice@example.test", "root@localhost",
                 msg_from("Alice <alice@example.test>", "mine"))
    assert r.startswith(b"250"), r
    # the domain's case does not matter
    r = send_raw(c, "alice@EXAMPLE.test", "root@localhost",
                 msg_from("alice@Example.Test", "mine2"))
    assert r.startswith(b"250"), r
    c.close()
    got = delivered(owners, want=2)
    assert len(got) == 2
    assert b"body of mine" in got[0] + got[1]
    assert b"body of mine2" in got[0] + got[1]


def test_senders_other_address_refused_at_mail(owners):
    c = authed(owners.own_port, "alice")
    r = c.cmd(b"MAIL FROM:<bob@example.test>")
    assert r.startswith(b"553 5.7.1"), r
    assert b"not owned by this account" in r
    # the account's name is not told to the client
    assert b"alice" not in r
    # an address nobody owns, and one outside every domain of the table
    assert c.cmd(b"MAIL FROM:<nobody@example.test>").startswith(b"553 5.7.1")
    assert c.cmd(b"MAIL FROM:<alice@example.org>").startswith(b"553 5.7.1")
    # a subdomain is not the domain
    assert c.cmd(b"MAIL FROM:<x@sub.alice.test>").startswith(b"553 5.7.1")
    # no transaction was started: RCPT needs a MAIL first
    assert c.cmd(b"RCPT TO:<root@localhost>").startswith(b"503")
    # and the session goes on: her own address still works
    r = send_raw(c, "alice@example.test", "root@localhost",
                 msg_from("alice@example.test", "after"))
    assert r.startswith(b"250"), r
    c.close()
    got = delivered(owners)
    assert len(got) == 1 and b"body of after" in got[0]
    time.sleep(0.3)
    assert queue_empty(owners)
    log = owners.logtext()
    assert ("from 127.0.0.1: MAIL FROM:<bob@example.test> refused: not "
            "owned by account alice") in log, log
    stats = owners.ctl("show", "stats").stdout
    assert "smtp.messages.rejected.sender_not_owned=4\n" in stats, stats
    assert "smtp.messages.rejected.policy=0\n" in stats, stats


def test_senders_whole_domain(owners):
    c = authed(owners.own_port, "alice")
    r = send_raw(c, "sales@alice.test", "root@localhost",
                 msg_from("Sales <sales@alice.test>", "domain"))
    assert r.startswith(b"250"), r
    c.close()
    # bob owns no address in alice.test
    c = authed(owners.own_port, "bob")
    assert c.cmd(b"MAIL FROM:<bob@alice.test>").startswith(b"553 5.7.1")
    r = send_raw(c, "bob@example.test", "root@localhost",
                 msg_from("bob@example.test", "bobs"))
    assert r.startswith(b"250"), r
    c.close()
    got = delivered(owners, want=2)
    assert len(got) == 2


def test_senders_null_path_allowed(owners):
    c = authed(owners.own_port, "alice")
    assert c.cmd(b"MAIL FROM:<>").startswith(b"250")
    c.close()


def test_senders_only_on_its_listener(owners):
    # the listener without "senders": alice may still use any sender
    c = authed(owners.req_port, "alice")
    r = send_raw(c, "bob@example.test", "root@localhost",
                 msg_from("bob@example.test", "elsewhere"))
    assert r.startswith(b"250"), r
    c.close()
    assert len(delivered(owners)) == 1


def test_senders_header_from_checked(owners):
    cases = [
        # someone else's address in the header, her own in the envelope
        "bob@example.test",
        "Bob <bob@example.test>",
        # two authors (RFC 5322 3.6.2 mailbox-list): one hers, one not
        "alice@example.test, bob@example.test",
        "Alice <alice@example.test>, \"B\" <ceo@example.test>",
        # a group hiding another address
        "team: alice@example.test, bob@example.test;",
        # no author at all, or one that cannot be read
        "undisclosed-recipients:;",
        "alice@",
        "<alice@example.test",
        "alice@[127.0.0.1]",
        # her local part, someone else's domain
        "alice@example.org",
    ]
    for frm in cases:
        c = authed(owners.own_port, "alice")
        r = send_raw(c, "alice@example.test", "root@localhost",
                     msg_from(frm, "forged"))
        assert r.startswith(b"550 5.7.1"), (frm, r)
        assert b"From header address not owned by this account" in r
        # the session goes on
        assert c.cmd(b"NOOP").startswith(b"250")
        c.close()
    # two From fields, the second not hers
    c = authed(owners.own_port, "alice")
    body = ("From: alice@example.test\r\nFrom: bob@example.test\r\n"
            "To: root@localhost\r\nSubject: forged\r\n\r\nbody\r\n")
    assert send_raw(c, "alice@example.test", "root@localhost",
                    body).startswith(b"550 5.7.1")
    # no From field at all
    body = "To: root@localhost\r\nSubject: forged\r\n\r\nbody\r\n"
    assert send_raw(c, "alice@example.test", "root@localhost",
                    body).startswith(b"550 5.7.1")
    # a From field too long for the header reader: refused, not skipped
    # (folded: 80 lines of 900 octets, past the reader's 64 KiB)
    body = ("From: alice@example.test\r\nFrom: " +
            "\r\n ".join(["x" * 900] * 80) +
            " <bob@example.test>\r\nSubject: forged\r\n\r\nbody\r\n")
    assert send_raw(c, "alice@example.test", "root@localhost",
                    body).startswith(b"550 5.7.1")
    c.close()
    # nothing was stored
    time.sleep(0.5)
    assert queue_empty(owners)
    assert delivered(owners, timeout=0.3) == []
    log = owners.logtext()
    assert "account alice: From <bob@example.test> not owned" in log, log
    assert "message refused by the authentication policy: 550" in log
    assert "account alice: From refused: header too large to check" in log
    # counted as refusals under senders, not as the inbound policy's
    stats = owners.ctl("show", "stats").stdout
    assert ("smtp.messages.rejected.sender_not_owned=%d\n" %
            (len(cases) + 3)) in stats, stats
    assert "smtp.messages.rejected.policy=0\n" in stats, stats
    assert owners.proc.poll() is None


def test_senders_header_from_owned_forms(owners):
    # several of her own, display names, comments, a domain she owns whole
    good = ["Alice <alice@example.test>",
            "alice@example.test (Alice), sales@alice.test",
            "\"Alice, the one\" <alice@Example.TEST>",
            "friends: alice@example.test, x@alice.test;"]
    c = authed(owners.own_port, "alice")
    for i, frm in enumerate(good):
        r = send_raw(c, "alice@example.test", "root@localhost",
                     msg_from(frm, "good%d" % i))
        assert r.startswith(b"250"), (frm, r)
    # the null path: the header still names her
    r = send_raw(c, "", "root@localhost", msg_from("alice@example.test",
                                                   "bounce"))
    assert r.startswith(b"250"), r
    r = send_raw(c, "", "root@localhost", msg_from("bob@example.test",
                                                   "bounce2"))
    assert r.startswith(b"550 5.7.1"), r
    c.close()
    assert len(delivered(owners, want=len(good) + 1)) == len(good) + 1


def test_senders_header_from_not_checked_elsewhere(owners):
    # the listener without "senders" signs whatever From it is given
    c = authed(owners.req_port, "alice")
    r = send_raw(c, "alice@example.test", "root@localhost",
                 msg_from("bob@example.test", "elsewhere"))
    assert r.startswith(b"250"), r
    c.close()
    assert len(delivered(owners)) == 1


def test_senders_unauthenticated_unaffected(owners):
    # AUTH optional: a client that did not authenticate has no account;
    # the match rules alone decide (here: local mail only)
    c = Raw(owners.own_opt_port)
    r = send_raw(c, "bob@example.test", "root@localhost",
                 msg_from("ceo@example.test", "unauthenticated"))
    assert r.startswith(b"250"), r
    assert c.cmd(b"MAIL FROM:<bob@example.test>").startswith(b"250")
    assert c.cmd(b"RCPT TO:<x@far.test>").startswith(b"550 5.7.1")
    c.close()
    # the same listener checks once the client authenticates
    c = authed(owners.own_opt_port, "alice")
    assert c.cmd(b"MAIL FROM:<bob@example.test>").startswith(b"553 5.7.1")
    c.close()
    got = delivered(owners)
    assert len(got) == 1 and b"body of unauthenticated" in got[0]

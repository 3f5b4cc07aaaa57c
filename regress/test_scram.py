"""SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC 7677) on AUTH listeners of
the real daemon: smtp runs the exchange, authd holds the keys that
`posternctl encrypt -s` wrote next to the crypt hash.  The client is GNU
SASL's gsasl (not our own mta/sasl.c), driven over a raw TLS socket so
that its messages can be replayed, tampered with and sent out of order.

Modules covered: lib/scram.c, smtpd/engine_auth.c, authd/authd.c,
posternctl/encrypt.c
"""
import base64
import glob
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import POSTERNCTL, next_port, run
from peers import make_cert as peer_cert
from test_mta import ADDR, bed, send, sender, wait_queue_empty  # noqa: F401
from test_smtp import delivered as delivered_to
from test_submission import Raw, make_cert, plain

pytestmark = pytest.mark.skipif(shutil.which("gsasl") is None,
                                reason="gsasl (Debian gsasl) not installed")

PASSWORDS = {"alice": "alice-Scr4m-pw", "bob": "b\u00f6b-p\u00e4ss"}

CONFIG = '''
hostname sub.example.test
pki test cert "{d}/cert.pem" key "{d}/key.pem"
table creds file:"{d}/creds"
table plaincreds file:"{d}/plaincreds"
listen on 127.0.0.1 port {port} tls pki test auth require <creds>
listen on 127.0.0.1 port {plain_port} tls pki test auth <plaincreds>
table locals {{ "localhost", "example.test" }}
action "local" maildir "{d}/mail/%{{user}}"
match from any for domain <locals> action "local"
{extra}
'''


def encrypt(password, *args):
    r = run([POSTERNCTL, "encrypt", *args], input=password + "\n")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def start(daemon_factory, tmp_path, extra=""):
    d = tmp_path / "scram-files"
    d.mkdir()
    make_cert(d)
    with open(d / "creds", "w") as f:
        for u, p in PASSWORDS.items():
            f.write("%s %s\n" % (u, encrypt(p, "-s")))
    with open(d / "plaincreds", "w") as f:
        f.write("alice %s\n" % encrypt(PASSWORDS["alice"]))
    for n in ("creds", "plaincreds"):
        os.chmod(d / n, 0o600)
    dm = daemon_factory(sub="scram")
    dm.port, dm.plain_port = next_port(), next_port()
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=d, port=dm.port, plain_port=dm.plain_port,
                              extra=extra))
    dm.maildir = str(d / "mail")
    dm.start()
    return dm


@pytest.fixture
def sc(daemon_factory, tmp_path):
    return start(daemon_factory, tmp_path)


class Gsasl:
    """GNU SASL's client, one exchange: base64 lines in and out."""

    def __init__(self, mech, user, password):
        self.p = subprocess.Popen(
            ["gsasl", "--client", "--no-cb", "--quiet", "--mechanism",
             mech, "-a", user, "-p", password],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == mech

    def first(self):
        return self.p.stdout.readline().strip()

    def step(self, challenge):
        self.p.stdin.write(challenge + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def finish(self, challenge):
        """Feed the server-final: True if gsasl found that the server
        proved that it knows the password.  (Without --connect gsasl exits
        1 either way; a bad signature is a "mechanism error" and no empty
        final response.)"""
        self.p.stdin.write(challenge + "\n")
        self.p.stdin.close()
        self.out = self.p.stdout.read()
        self.err = self.p.stderr.read()
        self.p.wait(timeout=10)
        return self.out == "\n" and "error" not in self.err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def unb64(reply):
    """The decoded text of a 334 reply."""
    assert reply.startswith(b"334 "), reply
    return base64.b64decode(reply[4:].strip()).decode()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def scram_login(c, mech, user, password, initial=False):
    """A whole exchange; returns (235 reply, client-final sent)."""
    g = Gsasl(mech, user, password)
    try:
        cf = g.first()
        if initial:
            r = c.cmd(b"AUTH %s %s" % (mech.encode(), cf.encode()))
        else:
            assert c.cmd(b"AUTH " + mech.encode()) == b"334 \r\n"
            r = c.cmd(cf.encode())
        sf = unb64(r)
        assert re.fullmatch(r"r=[!-+\--~]+,s=[A-Za-z0-9+/=]+,i=4096", sf), sf
        final = g.step(r[4:].strip().decode())
        r = c.cmd(final.encode())
        assert unb64(r).startswith("v="), r
        assert g.finish(r[4:].strip().decode()), (g.out, g.err)
        return c.cmd(b""), final
    finally:
        g.kill()


def delivered(dm, user, want=1, timeout=10):
    deadline = time.time() + timeout
    while True:
        files = glob.glob(os.path.join(dm.maildir, user, "new", "*"))
        if len(files) >= want or time.time() >= deadline:
            return files
        time.sleep(0.05)


# -- what works ---------------------------------------------------------------

@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
@pytest.mark.parametrize("initial", [False, True])
def test_gsasl_login_then_mail(sc, mech, initial):
    c = Raw(sc.port)
    assert b"AUTH SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN" in c.ehlo, c.ehlo
    r, _ = scram_login(c, mech, "alice", PASSWORDS["alice"], initial)
    assert r.startswith(b"235 2.7.0"), r
    assert c.cmd(b"MAIL FROM:<alice@example.test>").startswith(b"250")
    assert c.cmd(b"RCPT TO:<root@localhost>").startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    r = c.cmd(b"From: alice@example.test\r\nSubject: scram\r\n\r\n"
              b"sent after %s\r\n." % mech.encode())
    assert r.startswith(b"250"), r
    c.close()
    assert delivered(sc, "root")
    assert ("AUTH %s user alice: succeeded" % mech) in sc.logtext()


def test_utf8_user_and_plain_still_works(sc):
    """A non-ASCII password (SASLprep's output already) works with SCRAM,
    and PLAIN still checks the crypt hash of the same entry."""
    c = Raw(sc.port)
    r, _ = scram_login(c, "SCRAM-SHA-256", "bob", PASSWORDS["bob"])
    assert r.startswith(b"235"), r
    c.close()
    c = Raw(sc.port)
    r = c.cmd(b"AUTH PLAIN " + plain("alice", PASSWORDS["alice"]).encode())
    assert r.startswith(b"235"), r
    c.close()


def test_not_offered_without_keys(sc):
    c = Raw(sc.plain_port)
    assert b"250-AUTH PLAIN LOGIN\r\n" in c.ehlo or \
        b"250 AUTH PLAIN LOGIN\r\n" in c.ehlo, c.ehlo
    assert c.cmd(b"AUTH SCRAM-SHA-256").startswith(b"504 5.5.4")
    c.close()


def test_encrypt_forms():
    out = encrypt("pw", "-s", "-i", "5000").split()
    assert out[0].startswith("$y$")
    assert re.fullmatch(r"SCRAM-SHA-256\$5000:[A-Za-z0-9+/=]{24}\$"
                        r"[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}", out[1])
    assert re.fullmatch(r"SCRAM-SHA-1\$5000:[A-Za-z0-9+/=]{24}\$"
                        r"[A-Za-z0-9+/=]{28}:[A-Za-z0-9+/=]{28}", out[2])
    assert len(encrypt("pw").split()) == 1
    r = run([POSTERNCTL, "encrypt", "-s", "-i", "100"], input="pw\n")
    assert r.returncode != 0 and "too small" in r.stderr


# -- what is refused ----------------------------------------------------------

def attempt(c, mech, user, password, tamper=None):
    """An exchange up to the reply to the client-final (tamper may change
    it); returns (server-first, reply)."""
    g = Gsasl(mech, user, password)
    try:
        assert c.cmd(b"AUTH " + mech.encode()) == b"334 \r\n"
        r = c.cmd(g.first().encode())
        sf = unb64(r)
        final = g.step(r[4:].strip().decode())
        if tamper:
            final = tamper(final)
        return sf, c.cmd(final.encode())
    finally:
        g.kill()


def test_wrong_password_and_unknown_user_look_alike(sc):
    c = Raw(sc.port)
    sf1, r1 = attempt(c, "SCRAM-SHA-256", "alice", "wrong-password")
    c.close()
    c = Raw(sc.port)
    sf2, r2 = attempt(c, "SCRAM-SHA-256", "mallory", "any-password")
    c.close()
    c = Raw(sc.port)
    sf3, r3 = attempt(c, "SCRAM-SHA-256", "mallory", "other-password")
    c.close()
    assert r1.startswith(b"535 5.7.8"), r1
    assert r1 == r2 == r3
    salt = lambda sf: sf.split(",")[1]
    it = lambda sf: sf.split(",")[2]
    # the made-up salt is stable and of the same form, same iterations
    assert salt(sf2) == salt(sf3) and len(salt(sf2)) == len(salt(sf1))
    assert it(sf1) == it(sf2) == "i=4096"
    log = sc.logtext()
    assert "AUTH SCRAM-SHA-256 user alice: failed" in log
    assert "AUTH SCRAM-SHA-256 user mallory: failed" in log


def test_modified_nonce(sc):
    def tamper(final):
        msg = base64.b64decode(final).decode()
        msg = re.sub(r",r=([^,]*)", lambda m: ",r=" + m.group(1)[:-1] +
                     ("A" if m.group(1)[-1] != "A" else "B"), msg)
        return b64(msg)
    c = Raw(sc.port)
    _, r = attempt(c, "SCRAM-SHA-256", "alice", PASSWORDS["alice"], tamper)
    assert r.startswith(b"535 5.7.8"), r
    assert c.cmd(b"NOOP").startswith(b"250")
    c.close()


def test_replayed_client_final(sc):
    c = Raw(sc.port)
    r, final = scram_login(c, "SCRAM-SHA-1", "alice", PASSWORDS["alice"])
    assert r.startswith(b"235"), r
    c.close()
    # the same user again: a new server nonce, so the old proof is void
    c = Raw(sc.port)
    g = Gsasl("SCRAM-SHA-1", "alice", PASSWORDS["alice"])
    try:
        assert c.cmd(b"AUTH SCRAM-SHA-1") == b"334 \r\n"
        r = c.cmd(g.first().encode())
        assert r.startswith(b"334 ")
    finally:
        g.kill()
    r = c.cmd(final.encode())
    assert r.startswith(b"535 5.7.8"), r
    c.close()


def test_bad_input(sc):
    c = Raw(sc.port)
    # out of order: a client-final where the client-first is due
    assert c.cmd(b"AUTH SCRAM-SHA-256") == b"334 \r\n"
    r = c.cmd(b64("c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7A"
                  "ndVQ=").encode())
    assert r.startswith(b"501 5.5.2"), r
    # the client-first twice
    g = Gsasl("SCRAM-SHA-256", "alice", PASSWORDS["alice"])
    cf = g.first()
    g.kill()
    assert c.cmd(b"AUTH SCRAM-SHA-256 " + cf.encode()).startswith(b"334 ")
    assert c.cmd(cf.encode()).startswith(b"501 5.5.2")
    # bad base64
    assert c.cmd(b"AUTH SCRAM-SHA-256") == b"334 \r\n"
    assert c.cmd(b"n,,n=alice,r=abc").startswith(b"501 5.5.2")
    assert c.cmd(b"AUTH SCRAM-SHA-256 !!!!").startswith(b"501 5.5.2")
    # channel binding asked for: no -PLUS here
    r = c.cmd(b"AUTH SCRAM-SHA-256 " +
              b64("p=tls-exporter,,n=alice,r=abc").encode())
    assert r.startswith(b"501 5.5.4"), r
    c.close()
    # (a new session: ten 5xx replies close one)
    c = Raw(sc.port)
    # a mandatory extension, an authzid of someone else
    r = c.cmd(b"AUTH SCRAM-SHA-1 " + b64("n,,m=x,n=alice,r=abc").encode())
    assert r.startswith(b"501 5.5.4"), r
    r = c.cmd(b"AUTH SCRAM-SHA-1 " + b64("n,a=bob,n=alice,r=abc").encode())
    assert r.startswith(b"535 5.7.8"), r
    # decoded over the bound, then a 100 KB line
    r = c.cmd(b"AUTH SCRAM-SHA-1 " + b64("n,,n=alice,r=" + "a" * 2000)
              .encode())
    assert r.startswith(b"501 5.5.2"), r
    assert c.cmd(b"AUTH SCRAM-SHA-256") == b"334 \r\n"
    r = c.cmd(b"A" * 100000)
    assert r.startswith(b"500 5.5.6"), r
    # "*" cancels after the server-first
    assert c.cmd(b"AUTH SCRAM-SHA-256 " + cf.encode()).startswith(b"334 ")
    assert c.cmd(b"*").startswith(b"501 5.0.0")
    # still alive, not authenticated, and none of it counted as a guess
    assert c.cmd(b"NOOP").startswith(b"250")
    assert c.cmd(b"MAIL FROM:<alice@example.test>").startswith(b"530")
    c.close()
    assert "user alice: failed" not in sc.logtext()


def test_failures_count_toward_lockout(daemon_factory, tmp_path):
    dm = start(daemon_factory, tmp_path,
               extra="smtp-auth-max-failures 2\nsmtp-auth-lockout 30s")
    codes = []
    for _ in range(2):
        c = Raw(dm.port)
        _, r = attempt(c, "SCRAM-SHA-256", "alice", "wrong")
        codes.append(r[:9])
        c.close()
    assert codes == [b"535 5.7.8", b"421 4.7.0"], codes
    c = Raw(dm.port)
    g = Gsasl("SCRAM-SHA-256", "alice", PASSWORDS["alice"])
    try:
        assert c.cmd(b"AUTH SCRAM-SHA-256") == b"334 \r\n"
        r = c.cmd(g.first().encode())
    finally:
        g.kill()
    assert r.startswith(b"454 4.7.0") and b"failures" in r, r
    c.close()
    assert "AUTH SCRAM-SHA-256 user alice refused: locked out" in \
        dm.logtext()


# -- our own client against our own server -----------------------------------

@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_postern_relays_to_postern_with_scram(sender, daemon_factory, bed,
                                              tmp_path, mech):
    """The mta's SASL client (mta/sasl.c) and this server share lib/scram.c:
    posternd A relays through posternd B with the mechanism, B delivers."""
    tls = peer_cert(tmp_path / "cert-b", bed.ca, ["mx.b.test"])
    b = daemon_factory(sub="b", listen=False)
    b.maildir = str(tmp_path / "bmail")
    creds = tmp_path / "bcreds"
    creds.write_text("alice %s\n" % encrypt("relay-Scr4m", "-s"))
    os.chmod(creds, 0o600)
    (tmp_path / "busers").write_text("x@far.test root\n")
    with open(b.conf, "a") as f:
        f.write('''hostname mx.b.test
pki b cert "%s" key "%s"
table creds file:"%s"
listen on %s port 25 tls pki b auth require <creds>
table users file:"%s/busers"
action "local" maildir "%s/%%{rcpt}" virtual <users>
match auth from any for domain "far.test" action "local"
''' % (tls.cert, tls.key, creds, ADDR["mx.b.test"], tmp_path, b.maildir))
    b.start()
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:relay-Scr4m\n")
    os.chmod(secrets, 0o600)
    a = sender(extra='table secrets file:"%s"\n'
               'transport sh smarthost "smtp+tls://mx.b.test" '
               'auth <secrets> mechanisms %s\n'
               'route for domain "far.test" transport sh\n' % (secrets, mech))
    send(a, ["x@far.test"])
    assert len(delivered_to(b, "x@far.test", timeout=15)) == 1
    wait_queue_empty(a)
    assert ("AUTH %s user alice: succeeded" % mech) in b.logtext()


def test_unknown_user_looks_alike_across_restarts(sc):
    """The made-up salt of an unknown user is the same after a restart,
    as a real user's is (a key made at each start told them apart), and
    it comes with the iteration count most users have, not the first
    entry's (review finding)."""
    def salt_and_iterations(user):
        c = Raw(sc.port)
        sf, _ = attempt(c, "SCRAM-SHA-256", user, "any-password")
        c.close()
        parts = sf.split(",")
        return parts[1], parts[2]
    def restart():
        sc.stop()
        # the control socket's directory goes with stop()
        os.makedirs(sc.sockdir, exist_ok=True)
        os.chmod(sc.sockdir, 0o755)
        sc.start()
    before = salt_and_iterations("mallory")
    restart()
    assert salt_and_iterations("mallory") == before
    # most users at 10000 rounds, the first at the default
    creds = os.path.join(os.path.dirname(sc.maildir), "creds")
    users = ["alice", "bob", "carol"]
    with open(creds, "w") as f:
        for i, u in enumerate(users):
            args = ("-s",) if i == 0 else ("-s", "-i", "10000")
            f.write("%s %s\n" % (u, encrypt(u + "-pw", *args)))
    restart()
    assert salt_and_iterations(users[0])[1] == "i=4096"
    assert salt_and_iterations(users[1])[1] == "i=10000"
    assert salt_and_iterations("mallory")[1] == "i=10000"

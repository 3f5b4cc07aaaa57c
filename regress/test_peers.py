"""Self-tests of the test peers: smtppeer.py (through peers.SmtpPeer) and
socks5proxy.py do what they are scripted to do.

The clients are smtplib and a small raw-socket client written here, with
the SASL client side of CRAM-MD5 (RFC 2195) and SCRAM (RFC 5802, 7677)
done with hmac/hashlib, so that a peer that accepted anything, or checked
nothing, fails.  Every peer listens on its own 127.0.25.x address, port 25
(tests run as root), and is stopped by its pid in a `with` block.
"""
import base64
import hashlib
import hmac
import os
import smtplib
import socket
import ssl
import struct
import subprocess
import time

import pytest

import peers
from peers import (SmtpPeer, make_bad_cert, make_ca, make_cert,
                   tlsa_record)
from socks5proxy import Socks5Proxy

MX = "mx.example.test"
USERS = {"alice": "s3cret", "bob": "hunter2"}

smtp_peer = peers.smtp_peer             # the factory fixture


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = make_ca(d / "ca")
    return {"ca": ca, "mx": make_cert(d / "mx", ca, [MX]),
            "bad": make_bad_cert(d / "bad")}


def verifying(ca):
    ctx = ssl.create_default_context(cafile=ca.cert)
    return ctx


class Client:
    """A raw SMTP client: bytes in, (code, lines) out, bounded."""

    def __init__(self, addr, port=25, timeout=5, sock=None):
        self.sock = sock or socket.create_connection((addr, port), timeout)
        self.sock.settimeout(timeout)
        self.f = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else
                          data.encode())

    def reply(self):
        lines = []
        while len(lines) < 100:
            ln = self.f.readline(4096)
            assert ln.endswith(b"\r\n"), ln
            lines.append(ln[4:-2].decode())
            if ln[3:4] != b"-":
                return int(ln[:3]), lines
        raise AssertionError("reply too long")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self, ctx, hostname=MX):
        code, _ = self.cmd("STARTTLS")
        assert code == 220
        self.sock = ctx.wrap_socket(self.sock, server_hostname=hostname)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()


def closed_by_peer(sock, timeout=3):
    """True when the peer closes (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# -- plain delivery -----------------------------------------------------------

def test_delivery_records_exact_bytes(tmp_path):
    """Dot-stuffing undone (RFC 5321 4.5.2), everything else kept, 8-bit
    bytes and long lines included; parameters kept as the client sent
    them."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.1", dsn=True,
                  smtputf8=True, size=100000) as p:
        p.start()
        c = Client("127.0.25.1")
        assert c.reply()[0] == 220
        code, ext = c.cmd("EHLO client.example")
        assert code == 250
        for kw in ("PIPELINING", "8BITMIME", "SMTPUTF8", "DSN",
                   "SIZE 100000", "ENHANCEDSTATUSCODES"):
            assert kw in ext
        assert "STARTTLS" not in ext
        assert c.cmd("MAIL FROM:<s@example.org> SIZE=300 BODY=8BITMIME "
                     "RET=HDRS ENVID=Q+2Bx")[0] == 250
        assert c.cmd("RCPT TO:<r@example.test> NOTIFY=SUCCESS,DELAY "
                     "ORCPT=rfc822;R@Example.test")[0] == 250
        assert c.cmd("DATA")[0] == 354
        wire = (b"Subject: dots\r\n\r\n..leading dot\r\n...\r\n"
                b"mid . dot\r\n.\xc3\xa9t\xc3\xa9\r\n" + b"y" * 5000 +
                b"\r\nbare\nlf\r\nlast\r\n.\r\n")
        c.send(wire)
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221
        c.close()
        want = (b"Subject: dots\r\n\r\n.leading dot\r\n..\r\n"
                b"mid . dot\r\n\xc3\xa9t\xc3\xa9\r\n" + b"y" * 5000 +
                b"\r\nbare\nlf\r\nlast\r\n")
        assert p.wait_messages(1) == [want]
        s = p.wait_sessions(1)[0]
        assert s["helo"] == "client.example" and s["ehlo"]
        assert s["tls"] is None and s["auth"] is None
        assert s["end"] == "quit"
        t, = s["transactions"]
        assert t["mail_from"] == "s@example.org"
        assert t["mail_options"] == ["SIZE=300", "BODY=8BITMIME",
                                     "RET=HDRS", "ENVID=Q+2Bx"]
        assert t["rcpts"] == [{"addr": "r@example.test",
                               "options": ["NOTIFY=SUCCESS,DELAY",
                                           "ORCPT=rfc822;R@Example.test"],
                               "reply": "250 2.1.5 recipient ok"}]
        assert t["size"] == len(want) and t["eight_bit"]
        assert t["longest_line"] == 5000
        assert t["bare_lf"] == 1 and t["bare_cr"] == 0
        assert s["pipelined"] == 0
        with open(t["file"], "rb") as f:
            assert f.read() == want


def test_smtplib_pipelined_transaction(tmp_path):
    """Two recipients and a message from smtplib, then a pipelined
    transaction in one write: one reply per command, in order."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.2") as p:
        p.start()
        with smtplib.SMTP("127.0.25.2", 25, timeout=5) as s:
            s.sendmail("a@example.org", ["x@example.test", "y@example.test"],
                       b"Subject: one\r\n\r\nbody\r\n")
        c = Client("127.0.25.2")
        c.reply()
        c.cmd("EHLO pipe.example")
        c.send("MAIL FROM:<b@example.org>\r\nRCPT TO:<z@example.test>\r\n"
               "RCPT TO:<w@example.test>\r\nDATA\r\n")
        assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
        c.send("Subject: two\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        assert [c.reply()[0] for _ in range(2)] == [250, 221]
        c.close()
        msgs = p.wait_messages(2)
        assert msgs[0] == b"Subject: one\r\n\r\nbody\r\n"
        assert msgs[1] == b"Subject: two\r\n\r\nbody\r\n"
        acc = p.accepted()
        assert acc[0]["rcpts"] == ["x@example.test", "y@example.test"]
        assert acc[1]["rcpts"] == ["z@example.test", "w@example.test"]
        # smtplib waits for each reply; the second client did not.
        assert [x["pipelined"] for x in p.wait_sessions(2)][0] == 0
        assert p.sessions()[1]["pipelined"] >= 3


def test_strict_about_extensions_not_offered(tmp_path):
    """DSN, SMTPUTF8 and SIZE parameters are refused when not offered
    (RFC 5321 4.1.1.11: 555), a non-ASCII address without SMTPUTF8 gets
    553 5.6.7 (RFC 6531), and sequence errors get 503."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.3", size=1000) as p:
        p.start()
        c = Client("127.0.25.3")
        c.reply()
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 503
        c.cmd("EHLO c.example")
        assert c.cmd("RCPT TO:<x@example.test>")[0] == 503
        assert c.cmd("MAIL FROM:<a@example.org> RET=FULL")[0] == 555
        assert c.cmd("MAIL FROM:<a@example.org> SMTPUTF8")[0] == 555
        assert c.cmd("MAIL FROM:<a@example.org> SIZE=5000")[0] == 552
        assert c.cmd("MAIL FROM:<\u00e9@example.org>")[0] == 553
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 503
        assert c.cmd("RCPT TO:<x@example.test> NOTIFY=NEVER")[0] == 555
        assert c.cmd("DATA")[0] == 554          # no valid recipient
        assert c.cmd("RSET")[0] == 250
        # Too big without SIZE: read all, then 552, nothing kept.
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<x@example.test>")
        assert c.cmd("DATA")[0] == 354
        c.send(b"z" * 3000 + b"\r\n.\r\n")
        assert c.reply()[0] == 552
        assert c.cmd("NOOP")[0] == 250
        c.cmd("QUIT")
        c.close()
        s = p.wait_sessions(1)[0]
        assert p.messages() == []
        assert s["transactions"][-1]["data_reply"].startswith("552 5.3.4")


def test_bdat(tmp_path):
    """CHUNKING (RFC 3030): chunks are taken as they are, no unstuffing."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.4", chunking=True) as p:
        p.start()
        c = Client("127.0.25.4")
        c.reply()
        assert "CHUNKING" in c.cmd("EHLO c.example")[1]
        c.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME")
        c.cmd("RCPT TO:<x@example.test>")
        c.send(b"BDAT 9\r\n.\r\nab\0\r\n.")
        assert c.reply()[0] == 250
        c.send(b"BDAT 3 LAST\r\nend")
        assert c.reply()[0] == 250
        c.cmd("QUIT")
        c.close()
        assert p.wait_messages(1) == [b".\r\nab\0\r\n.end"]


# -- TLS ----------------------------------------------------------------------

def test_starttls_recorded(tmp_path, tls):
    """STARTTLS, then REQUIRETLS offered (RFC 8689 4.1: only over TLS)."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.5", hostname=MX,
                  starttls=True, tls_cert=tls["mx"].cert,
                  tls_key=tls["mx"].key, requiretls=True) as p:
        p.start()
        c = Client("127.0.25.5")
        c.reply()
        ext = c.cmd("EHLO c.example")[1]
        assert "STARTTLS" in ext and "REQUIRETLS" not in ext
        assert c.cmd("MAIL FROM:<a@example.org> REQUIRETLS")[0] == 555
        c.cmd("RSET")
        c.starttls(verifying(tls["ca"]))
        # RFC 3207 4.2: the client must EHLO again.
        assert c.cmd("MAIL FROM:<a@example.org>")[0] == 503
        code, ext = c.cmd("EHLO c.example")
        assert code == 250 and "STARTTLS" not in ext
        assert "REQUIRETLS" in ext
        assert c.cmd("MAIL FROM:<a@example.org> REQUIRETLS")[0] == 250
        c.cmd("RCPT TO:<x@example.test>")
        c.cmd("DATA")
        c.send("Subject: tls\r\n\r\nsecret\r\n.\r\n")
        assert c.reply()[0] == 250
        c.cmd("QUIT")
        c.close()
        assert p.wait_messages(1) == [b"Subject: tls\r\n\r\nsecret\r\n"]
        s = p.wait_sessions(1)[0]
        assert s["tls"]["version"] == "TLSv1.3"
        assert s["tls"]["cipher"].startswith("TLS_")
        assert s["tls"]["sni"] == MX and not s["tls"]["implicit"]
        assert "plaintext_after_starttls" not in s
        assert s["transactions"][-1]["mail_options"] == ["REQUIRETLS"]


def test_tlsa_record(tls):
    """Selector 0 is the SHA-256 of the certificate's DER, as Python's ssl
    computes it; selector 1 (the key) differs for a different key."""
    with open(tls["mx"].cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    assert tlsa_record(tls["mx"].cert, 3, 0, 1) == \
        "3 0 1 " + hashlib.sha256(der).hexdigest()
    spki = tlsa_record(tls["mx"].cert)
    assert spki.startswith("3 1 1 ") and len(spki) == 6 + 64
    assert spki != tlsa_record(tls["bad"].cert)
    with open(tls["ca"].cert) as f:
        ca_der = ssl.PEM_cert_to_DER_cert(f.read())
    assert tlsa_record(tls["ca"].cert, 2, 0, 0) == "2 0 0 " + ca_der.hex()


def test_tls_version_pinned_and_bad_cert(tmp_path, tls):
    """tls_versions pins TLS 1.2; a verifying client refuses the
    self-signed wrong-name certificate."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.6", starttls=True,
                  tls_cert=tls["mx"].cert, tls_key=tls["mx"].key,
                  tls_versions=["TLSv1.2", "TLSv1.2"]) as p:
        p.start()
        c = Client("127.0.25.6")
        c.reply()
        c.cmd("EHLO c.example")
        c.starttls(verifying(tls["ca"]))
        c.cmd("QUIT")
        c.close()
        s = p.wait_sessions(1)[0]
        assert s["tls"]["version"] == "TLSv1.2"
    with SmtpPeer(tmp_path / "q", addr="127.0.25.6", starttls=True,
                  tls_cert=tls["bad"].cert, tls_key=tls["bad"].key) as p:
        p.start()
        c = Client("127.0.25.6")
        c.reply()
        c.cmd("EHLO c.example")
        with pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(verifying(tls["ca"]))
        c.close()
        s = p.wait_sessions(1)[0]
        assert s["tls"] is None and s["end"].startswith("tls failed")


def test_implicit_tls(tmp_path, tls):
    with SmtpPeer(tmp_path / "p", addr="127.0.25.7", port=465,
                  implicit_tls=True, tls_cert=tls["mx"].cert,
                  tls_key=tls["mx"].key, auth=["PLAIN"], users=USERS) as p:
        p.start()
        ctx = verifying(tls["ca"])
        raw = socket.create_connection(("127.0.25.7", 465), 5)
        c = Client(None, sock=ctx.wrap_socket(raw, server_hostname=MX))
        assert c.reply()[0] == 220
        c.cmd("EHLO c.example")
        assert auth(c, "PLAIN", "alice", "s3cret")[0] == 235
        c.cmd("QUIT")
        c.close()
        # A client that does not speak TLS first: a failed session.
        c = Client("127.0.25.7", port=465)
        c.send("EHLO plain.example\r\n")
        assert closed_by_peer(c.sock)
        c.close()
        s = p.wait_sessions(2)
        assert s[0]["tls"]["implicit"] and s[0]["auth"]["user"] == "alice"
        assert s[1]["tls"] is None and s[1]["end"].startswith("tls failed")


# -- AUTH ---------------------------------------------------------------------

def b64(data):
    return base64.b64encode(data).decode()


def scram_client(c, mech, user, password):
    """RFC 5802 5 client side; also checks the server's signature."""
    h = hashlib.sha256 if mech == "SCRAM-SHA-256" else hashlib.sha1
    cnonce = b64(os.urandom(12))
    bare = "n=%s,r=%s" % (user, cnonce)
    code, lines = c.cmd("AUTH %s %s" % (mech, b64(("n,," + bare).encode())))
    assert code == 334
    server_first = base64.b64decode(lines[0]).decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    assert attrs["r"].startswith(cnonce) and len(attrs["r"]) > len(cnonce)
    salted = hashlib.pbkdf2_hmac(h().name, password.encode(),
                                 base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", h).digest()
    without_proof = "c=%s,r=%s" % (b64(b"n,,"), attrs["r"])
    auth_message = ",".join((bare, server_first, without_proof)).encode()
    sig = hmac.new(h(client_key).digest(), auth_message, h).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    code, lines = c.cmd(b64((without_proof + ",p=" + b64(proof)).encode()))
    if code != 334:
        return code, lines
    server_key = hmac.new(salted, b"Server Key", h).digest()
    want = hmac.new(server_key, auth_message, h).digest()
    assert base64.b64decode(lines[0]).decode() == "v=" + b64(want)
    return c.cmd("")


def auth(c, mech, user, password):
    if mech == "PLAIN":
        return c.cmd("AUTH PLAIN " +
                     b64(b"\0" + user.encode() + b"\0" + password.encode()))
    if mech == "LOGIN":
        code, lines = c.cmd("AUTH LOGIN")
        assert code == 334 and base64.b64decode(lines[0]) == b"Username:"
        code, lines = c.cmd(b64(user.encode()))
        assert code == 334
        return c.cmd(b64(password.encode()))
    if mech == "CRAM-MD5":
        code, lines = c.cmd("AUTH CRAM-MD5")
        assert code == 334
        chal = base64.b64decode(lines[0])
        assert chal.startswith(b"<") and chal.endswith(b">")
        digest = hmac.new(password.encode(), chal, hashlib.md5).hexdigest()
        return c.cmd(b64(("%s %s" % (user, digest)).encode()))
    return scram_client(c, mech, user, password)


MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]


@pytest.fixture(scope="module")
def auth_peer(tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    with SmtpPeer(d, addr="127.0.25.8", auth=MECHS, users=USERS) as p:
        p.start()
        yield p


@pytest.mark.parametrize("mech", MECHS)
def test_auth(auth_peer, mech):
    """Right password: 235 and the session records mechanism and user;
    wrong password or unknown user: 535 5.7.8 and no authentication."""
    seen = len(auth_peer.sessions())
    for user, password, ok in (("bob", "wrong", False),
                               ("carol", "s3cret", False),
                               ("alice", "s3cret", True)):
        c = Client("127.0.25.8")
        c.reply()
        assert ("AUTH " + " ".join(MECHS)) in c.cmd("EHLO c.example")[1]
        code, lines = auth(c, mech, user, password)
        if ok:
            assert code == 235
            assert c.cmd("AUTH PLAIN AGEAYg==")[0] == 503
        else:
            assert code == 535 and lines[0].startswith("5.7.8")
        c.cmd("QUIT")
        c.close()
    got = auth_peer.wait_sessions(seen + 3)[seen:]
    assert [s["auth"] for s in got] == [
        None, None, {"mechanism": mech, "user": "alice"}]
    assert [a["ok"] for s in got for a in s["auth_attempts"]] == \
        [False, False, True]


def test_auth_cancel_and_tls_only(tmp_path, tls):
    """'*' cancels (RFC 4954 4: 501); with auth_require_tls AUTH is
    offered only after STARTTLS."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.9", auth=["LOGIN"],
                  users=USERS, auth_require_tls=True, starttls=True,
                  tls_cert=tls["mx"].cert, tls_key=tls["mx"].key) as p:
        p.start()
        c = Client("127.0.25.9")
        c.reply()
        assert not [x for x in c.cmd("EHLO c.example")[1]
                    if x.startswith("AUTH")]
        assert c.cmd("AUTH LOGIN")[0] == 503
        c.starttls(verifying(tls["ca"]))
        assert "AUTH LOGIN" in c.cmd("EHLO c.example")[1]
        assert c.cmd("AUTH LOGIN")[0] == 334
        assert c.cmd("*")[0] == 501
        assert auth(c, "LOGIN", "bob", "hunter2")[0] == 235
        c.cmd("QUIT")
        c.close()
        assert p.wait_sessions(1)[0]["auth"]["user"] == "bob"


# RFC 5802 5 and RFC 7677 3: user "user", password "pencil".
RFC_SCRAM = {
    "SCRAM-SHA-1": ("QSXCR+Q6sek8bf92", "fyko+d2lbbFgONRv9qkxdawL",
                    "3rfcNHYJY1ZVvWVs7j", "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                    "rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    "SCRAM-SHA-256": ("W22ZaJ0SNY7soEsUEjb6gQ==", "rOprNGfwEbeRWgbNEkqO",
                      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
                      "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                      "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
}


@pytest.mark.parametrize("mech", sorted(RFC_SCRAM))
def test_scram_rfc_example(tmp_path, mech):
    """The RFCs' example exchanges, byte for byte: the server's first
    message and its signature are theirs, the client's proof is theirs."""
    salt, cnonce, snonce, proof, verifier = RFC_SCRAM[mech]
    with SmtpPeer(tmp_path / "p", addr="127.0.25.21", auth=[mech],
                  users={"user": "pencil"}, scram_salt=salt,
                  scram_nonce=snonce) as p:
        p.start()
        c = Client("127.0.25.21")
        c.reply()
        c.cmd("EHLO c.example")
        code, lines = c.cmd("AUTH %s %s" % (
            mech, b64(("n,,n=user,r=" + cnonce).encode())))
        assert code == 334
        nonce = cnonce + snonce
        assert base64.b64decode(lines[0]).decode() == \
            "r=%s,s=%s,i=4096" % (nonce, salt)
        code, lines = c.cmd(b64(("c=biws,r=%s,p=%s" %
                                 (nonce, proof)).encode()))
        assert code == 334
        assert base64.b64decode(lines[0]).decode() == "v=" + verifier
        assert c.cmd("")[0] == 235
        c.cmd("QUIT")
        c.close()
        assert p.wait_sessions(1)[0]["auth"] == {"mechanism": mech,
                                                 "user": "user"}


def test_swaks_cram_md5_pipelining(tmp_path):
    """swaks, an independent client, authenticates with CRAM-MD5 and
    pipelines; both are recorded."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.22", auth=["CRAM-MD5"],
                  users=USERS) as p:
        p.start()
        r = subprocess.run(["swaks", "-s", "127.0.25.22", "--pipeline",
                            "--from", "a@example.org",
                            "--to", "x@example.test", "--auth", "CRAM-MD5",
                            "--auth-user", "bob", "--auth-password",
                            "hunter2"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        assert r.returncode == 0, r.stdout
        assert len(p.wait_messages(1)) == 1
        s = p.wait_sessions(1)[0]
        assert s["auth"] == {"mechanism": "CRAM-MD5", "user": "bob"}
        assert s["pipelined"] >= 1


def test_auth_exchange_forms(auth_peer):
    """PLAIN without an initial response (an empty 334, RFC 4954 4),
    LOGIN with one, SCRAM with a forged proof, bad base64."""
    seen = len(auth_peer.sessions())
    c = Client("127.0.25.8")
    c.reply()
    c.cmd("EHLO c.example")
    assert c.cmd("AUTH PLAIN") == (334, [""])
    assert c.cmd("!!notbase64")[0] == 501
    assert c.cmd("AUTH NTLM")[0] == 504
    code, lines = c.cmd("AUTH LOGIN " + b64(b"bob"))
    assert code == 334 and base64.b64decode(lines[0]) == b"Password:"
    assert c.cmd(b64(b"hunter2"))[0] == 235
    c.cmd("QUIT")
    c.close()
    c = Client("127.0.25.8")
    c.reply()
    c.cmd("EHLO c.example")
    code, lines = c.cmd("AUTH SCRAM-SHA-256 " + b64(b"n,,n=alice,r=abc"))
    server_first = base64.b64decode(lines[0]).decode()
    nonce = server_first.split(",")[0][2:]
    forged = "c=biws,r=%s,p=%s" % (nonce, b64(bytes(32)))
    assert c.cmd(b64(forged.encode()))[0] == 535
    c.cmd("QUIT")
    c.close()
    got = auth_peer.wait_sessions(seen + 2)[seen:]
    assert got[0]["auth"] == {"mechanism": "LOGIN", "user": "bob"}
    assert got[1]["auth"] is None


def test_overlong_lines(tmp_path):
    """A 100 kB command line gets 500 and the session goes on; a 100 kB
    message line is kept whole."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.20") as p:
        p.start()
        c = Client("127.0.25.20")
        c.reply()
        assert c.cmd("EHLO " + "h" * 100000)[0] == 500
        assert c.cmd("EHLO c.example")[0] == 250
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<x@example.test>")
        c.cmd("DATA")
        c.send(b"." + b"w" * 100000 + b"\r\n.\r\n")
        assert c.reply()[0] == 250
        c.cmd("QUIT")
        c.close()
        assert p.wait_messages(1) == [b"w" * 100000 + b"\r\n"]


# -- scripted behaviour -------------------------------------------------------

def test_scripted_replies(tmp_path):
    rules = [{"cmd": "MAIL", "match": "later@*",
              "reply": "451 4.3.0 try later", "times": 1},
             {"cmd": "RCPT", "match": "bad@*",
              "reply": "550 5.1.1 no such user"},
             {"cmd": "EOM", "match": "big@*", "reply": "552 5.3.4 too big"},
             {"cmd": "EHLO", "match": "multi.*",
              "reply": "250-mx\n250-X-ONE\n250 X-TWO"}]
    with SmtpPeer(tmp_path / "p", addr="127.0.25.10", replies=rules,
                  max_recipients=2) as p:
        p.start()
        c = Client("127.0.25.10")
        c.reply()
        assert c.cmd("EHLO multi.example") == (250, ["mx", "X-ONE", "X-TWO"])
        assert c.cmd("MAIL FROM:<later@example.org>") == \
            (451, ["4.3.0 try later"])
        assert c.cmd("MAIL FROM:<later@example.org>")[0] == 250  # times=1
        assert c.cmd("RCPT TO:<BAD@example.test>") == \
            (550, ["5.1.1 no such user"])
        assert c.cmd("RCPT TO:<good@example.test>")[0] == 250
        assert c.cmd("RCPT TO:<also@example.test>")[0] == 250
        assert c.cmd("RCPT TO:<over@example.test>") == \
            (452, ["4.5.3 too many recipients"])
        c.cmd("DATA")
        c.send("x\r\n.\r\n")
        assert c.reply()[0] == 250
        c.cmd("MAIL FROM:<big@example.org>")
        c.cmd("RCPT TO:<good@example.test>")
        c.cmd("DATA")
        c.send("y\r\n.\r\n")
        assert c.reply() == (552, ["5.3.4 too big"])
        c.cmd("QUIT")
        c.close()
        assert p.wait_messages(1) == [b"x\r\n"]
        assert p.accepted()[0]["rcpts"] == ["good@example.test",
                                            "also@example.test"]
        t = p.wait_sessions(1)[0]["transactions"]
        assert [x["mail_reply"][:3] for x in t] == ["451", "250", "250"]
        assert t[1]["rcpts"][0]["reply"].startswith("550")
        assert t[2]["data_reply"].startswith("552") and t[2]["file"]


def test_idle_timeout(tmp_path):
    with SmtpPeer(tmp_path / "p", addr="127.0.25.23", timeout=0.3) as p:
        p.start()
        c = Client("127.0.25.23")
        c.reply()
        assert c.reply()[0] == 421
        assert closed_by_peer(c.sock)
        c.close()
        assert p.wait_sessions(1)[0]["end"] == "timeout"


def test_greeting_refused_and_connect_refused(tmp_path):
    """A 554 greeting: then only QUIT works (RFC 5321 3.1).  connect
    "refuse": closed at once, no greeting."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.11",
                  replies=[{"cmd": "CONNECT",
                            "reply": "554 5.7.1 go away"}]) as p:
        p.start()
        c = Client("127.0.25.11")
        assert c.reply() == (554, ["5.7.1 go away"])
        assert c.cmd("EHLO c.example")[0] == 503
        assert c.cmd("QUIT")[0] == 221
        c.close()
    with SmtpPeer(tmp_path / "q", addr="127.0.25.11", connect="refuse") as p:
        p.start()
        s = socket.create_connection(("127.0.25.11", 25), 5)
        assert closed_by_peer(s)
        s.close()
        assert p.wait_sessions(1)[0]["end"] == "refused"


def test_drop_delay_and_max_messages(tmp_path):
    with SmtpPeer(tmp_path / "p", addr="127.0.25.12",
                  drop={"cmd": "RCPT", "nth": 2},
                  delays={"CONNECT": 0.4}) as p:
        p.start()
        t0 = time.monotonic()
        c = Client("127.0.25.12")
        assert c.reply()[0] == 220
        assert time.monotonic() - t0 >= 0.4
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@example.org>")
        assert c.cmd("RCPT TO:<x@example.test>")[0] == 250
        c.send("RCPT TO:<y@example.test>\r\n")
        assert closed_by_peer(c.sock)
        c.close()
        assert p.wait_sessions(1)[0]["end"] == "dropped after RCPT"
    # Dropped after the final dot: kept on disk, yet not accepted.
    with SmtpPeer(tmp_path / "q", addr="127.0.25.12",
                  drop={"cmd": "EOM"}) as p:
        p.start()
        c = Client("127.0.25.12")
        c.reply()
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<x@example.test>")
        c.cmd("DATA")
        c.send("lost\r\n.\r\n")
        assert closed_by_peer(c.sock)
        c.close()
        t = p.wait_sessions(1)[0]["transactions"][0]
        assert t["data_reply"] is None and t["size"] == 6
        assert p.messages() == []
    with SmtpPeer(tmp_path / "r", addr="127.0.25.12", max_messages=1) as p:
        p.start()
        with smtplib.SMTP("127.0.25.12", 25, timeout=5) as s:
            s.sendmail("a@example.org", ["x@example.test"], b"one\r\n")
            with pytest.raises(smtplib.SMTPSenderRefused) as e:
                s.sendmail("a@example.org", ["x@example.test"], b"two\r\n")
            assert e.value.smtp_code == 421
        assert p.wait_messages(1) == [b"one\r\n"]


def test_stop_records_open_session_and_restart(tmp_path):
    """stop() kills by pid; a session still open is recorded first.  A
    restarted peer keeps the first run's records and messages."""
    p = SmtpPeer(tmp_path / "p", addr="127.0.25.13")
    with p:
        p.start()
        pid = p.pid
        with smtplib.SMTP("127.0.25.13", 25, timeout=5) as s:
            s.sendmail("a@example.org", ["x@example.test"], b"first\r\n")
        c = Client("127.0.25.13")
        c.reply()
        c.cmd("EHLO c.example")
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z"
    assert p.sessions()[1]["end"] == "killed"
    assert closed_by_peer(c.sock)
    c.close()
    with p:
        p.start(keep_records=True)
        assert p.pid != pid
        with smtplib.SMTP("127.0.25.13", 25, timeout=5) as s:
            s.sendmail("a@example.org", ["x@example.test"], b"second\r\n")
        assert p.wait_messages(2) == [b"first\r\n", b"second\r\n"]
        assert [(x["pid"], x["conn"]) for x in p.wait_sessions(3)] == \
            [(pid, 1), (pid, 2), (p.pid, 1)]
    # A plain start() begins afresh.
    with p:
        p.start()
        assert p.sessions() == [] and p.messages() == []


def test_bad_config_fails_start(tmp_path):
    with pytest.raises(RuntimeError, match="unknown configuration keys"):
        with SmtpPeer(tmp_path / "p", addr="127.0.25.14", pipelineing=1) as p:
            p.start()
    with pytest.raises(ValueError):
        SmtpPeer(tmp_path / "q", addr="192.0.2.1")


# -- hostile modes ------------------------------------------------------------

def read_bounded(sock, limit, timeout=10):
    """Up to limit bytes, or fewer if the peer closes or goes quiet."""
    sock.settimeout(timeout)
    got = bytearray()
    while len(got) < limit:
        try:
            data = sock.recv(min(65536, limit - len(got)))
        except socket.timeout:
            break
        if not data:
            break
        got += data
    return bytes(got)


def test_hostile_endless_ehlo(tmp_path):
    with SmtpPeer(tmp_path / "p", addr="127.0.25.15",
                  hostile={"mode": "endless", "at": "EHLO"}) as p:
        p.start()
        c = Client("127.0.25.15")
        assert c.reply()[0] == 220
        c.send("EHLO c.example\r\n")
        got = read_bounded(c.sock, 1 << 20)
        assert len(got) == 1 << 20
        lines = got.split(b"\r\n")[:-1]
        assert len(lines) > 10000
        assert all(ln.startswith(b"250-") for ln in lines)
        c.close()
        assert p.wait_sessions(1)[0]["end"] == "hostile endless at EHLO"


def test_hostile_endless_greeting(smtp_peer):
    p = smtp_peer("127.0.25.19", hostile={"mode": "endless"})
    s = socket.create_connection(("127.0.25.19", 25), 5)
    got = read_bounded(s, 256 << 10)
    assert len(got) == 256 << 10
    assert all(ln.startswith(b"220-") for ln in got.split(b"\r\n")[:-1])
    s.close()
    assert p.wait_sessions(1)[0]["end"] == "hostile endless at CONNECT"


def test_hostile_long_line_and_garbage(tmp_path):
    with SmtpPeer(tmp_path / "p", addr="127.0.25.16",
                  hostile={"mode": "long_line"}) as p:
        p.start()
        s = socket.create_connection(("127.0.25.16", 25), 5)
        got = read_bounded(s, (10 << 20) + 4, timeout=2)
        assert len(got) == (10 << 20) + 4
        assert got.startswith(b"220 ") and b"\n" not in got
        # ... and nothing after it: no CRLF ever comes.
        assert read_bounded(s, 1, timeout=0.3) == b""
        s.close()
    with SmtpPeer(tmp_path / "q", addr="127.0.25.16",
                  hostile={"mode": "garbage", "size": 4096}) as p:
        p.start()
        s = socket.create_connection(("127.0.25.16", 25), 5)
        got = read_bounded(s, 4096, timeout=2)
        assert len(got) == 4096 and not got.startswith(b"220")
        s.close()


def test_hostile_tls_stalls(tmp_path, tls):
    """After "220" to STARTTLS, or on an implicit-TLS port, the
    ClientHello is never answered: the client's handshake times out."""
    with SmtpPeer(tmp_path / "p", addr="127.0.25.17", starttls=True,
                  tls_cert=tls["mx"].cert, tls_key=tls["mx"].key,
                  hostile={"mode": "tls_stall", "at": "STARTTLS"}) as p:
        p.start()
        c = Client("127.0.25.17")
        c.reply()
        assert "STARTTLS" in c.cmd("EHLO c.example")[1]
        c.sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            c.starttls(verifying(tls["ca"]))
        c.close()
        assert p.wait_sessions(1)[0]["end"] == \
            "hostile tls_stall at STARTTLS"
    with SmtpPeer(tmp_path / "q", addr="127.0.25.17", port=465,
                  hostile={"mode": "tls_stall"}) as p:
        p.start()
        raw = socket.create_connection(("127.0.25.17", 465), 5)
        raw.settimeout(0.5)
        with pytest.raises(socket.timeout):
            verifying(tls["ca"]).wrap_socket(raw, server_hostname=MX)
        raw.close()


# -- SOCKS5 -------------------------------------------------------------------

def socks_connect(proxy, atyp, host, port, auth=None):
    """RFC 1928 client; returns (socket, REP code)."""
    s = socket.create_connection((proxy.addr, proxy.port), 5)
    s.sendall(b"\x05\x01" + (b"\x02" if auth else b"\x00"))
    method = s.recv(2)
    if method[1] == 0xff:
        return s, None
    if auth:
        u, pw = (x.encode() for x in auth)
        s.sendall(bytes([1, len(u)]) + u + bytes([len(pw)]) + pw)
        status = s.recv(2)
        if status[1] != 0:
            return s, ("auth", status[1])
    if atyp == 1:
        dst = socket.inet_aton(host)
    elif atyp == 3:
        dst = bytes([len(host)]) + host.encode()
    else:
        dst = socket.inet_pton(socket.AF_INET6, host)
    s.sendall(bytes([5, 1, 0, atyp]) + dst + struct.pack(">H", port))
    rep = s.recv(10)
    assert rep[0] == 5 and len(rep) == 10
    return s, rep[1]


def test_socks5_relays_to_a_peer(tmp_path):
    with SmtpPeer(tmp_path / "mx", addr="127.0.25.18") as mx, \
            Socks5Proxy(tmp_path / "socks", addr="127.0.25.80",
                        hosts={MX: "127.0.25.18"}) as px:
        mx.start()
        px.start()
        for atyp, host in ((1, "127.0.25.18"), (3, MX)):
            s, rep = socks_connect(px, atyp, host, 25)
            assert rep == 0
            c = Client(None, sock=s)
            assert c.reply()[0] == 220
            c.cmd("EHLO via.socks")
            c.cmd("MAIL FROM:<a@example.org>")
            c.cmd("RCPT TO:<x@example.test>")
            c.cmd("DATA")
            c.send("via %d\r\n.\r\n" % atyp)
            assert c.reply()[0] == 250
            c.cmd("QUIT")
            c.close()
        assert mx.wait_messages(2) == [b"via 1\r\n", b"via 3\r\n"]
        conns = px.wait_connections(2)
        assert [(x["host"], x["port"], x["reply"], x["upstream"])
                for x in conns] == [
            ("127.0.25.18", 25, 0, ["127.0.25.18", 25]),
            (MX, 25, 0, ["127.0.25.18", 25])]
        assert all(x["bytes_up"] > 50 and x["bytes_down"] > 50
                   for x in conns)


def test_socks5_refuses_outside_loopback_and_bad_auth(tmp_path):
    with Socks5Proxy(tmp_path / "socks", addr="127.0.25.81",
                     users={"u": "pw"}) as px:
        px.start()
        for atyp, host in ((1, "192.0.2.1"), (4, "::1"),
                           (4, "::ffff:192.0.2.1"), (3, "example.com")):
            s, rep = socks_connect(px, atyp, host, 25, auth=("u", "pw"))
            # 2: not allowed by ruleset; 4: a name we will not look up.
            assert rep == (4 if atyp == 3 else 2), host
            s.close()
        s, rep = socks_connect(px, 1, "127.0.25.18", 25, auth=("u", "no"))
        assert rep == ("auth", 1)
        assert closed_by_peer(s)
        s.close()
        s, rep = socks_connect(px, 1, "127.0.25.18", 25)    # no auth method
        assert rep is None
        s.close()
        conns = px.wait_connections(6)
        assert [x["reply"] for x in conns[:4]] == [2, 2, 2, 4]
        assert all(x["upstream"] is None for x in conns)
        assert conns[4]["user"] == "u" and conns[4]["auth_ok"] is False
        assert conns[5]["end"] == "no acceptable method"
    # A scripted failure (5: connection refused), whatever the target.
    with Socks5Proxy(tmp_path / "forced", addr="127.0.25.81",
                     force_reply=5) as px:
        px.start()
        s, rep = socks_connect(px, 1, "127.0.25.18", 25)
        assert rep == 5
        s.close()
        assert px.wait_connections(1)[0]["upstream"] is None

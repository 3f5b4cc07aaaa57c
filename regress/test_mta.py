"""The outbound MTA against a real DNS world and real receiving servers.

nsd (regress/dnsbed.py) serves a signed fake root, `test.` and the zones
below; posternd is pointed at it with `resolver` and the bed's trust
anchor.  The receiving MXs are scriptable SMTP servers (regress/peers.py)
on 127.0.0.x port 25, or a second posternd.  A client hands a message to
posternd over SMTP; the test checks what the peer received, what the queue
says and what came back as a bounce.
"""
import email
import email.policy
import json
import os
import re
import smtplib
import time

import pytest

from conftest import POSTERNCTL, next_port, run
from dnsbed import DnsBed
from loadgen import strip_trace
from peers import SmtpPeer, make_bad_cert, make_ca, make_cert
from test_dsn import dsn_parts
from test_smtp import delivered

ADDR = {
    "mx.example.test": "127.0.0.25",
    "mx1.backup.test": "127.0.0.26",        # nothing listens there
    "mx2.backup.test": "127.0.0.27",
    "implicit.test": "127.0.0.28",
    "mx.tls.test": "127.0.0.29",
    "mx.badcert.test": "127.0.0.30",
    "mx.notls.test": "127.0.0.31",
    "mx.hostile.test": "127.0.0.32",
    "mx.other.test": "127.0.0.33",
    "mx.b.test": "127.0.0.34",
    "mx.lo.test": "127.0.0.35",
    "mx.self.test": "127.0.0.1",            # the sender's listening address
}


def host_records(zone, names):
    out = []
    for name, addr in ADDR.items():
        if name == zone:
            out.append("@ A %s" % addr)
        elif name.endswith("." + zone):
            out.append("%s A %s" % (name[:-len(zone) - 1], addr))
    return out


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mtabed")
    b = DnsBed(tmp / "bed", addr="127.0.53.2")
    # an RSA key for ARC sealing (python3-dkim's ARC knows RSA only)
    b.seal_key = str(tmp / "seal.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "rsa-sha256", "-d",
             "seal.test", "-s", "seal1", "-o", b.seal_key])
    assert r.returncode == 0, r.stderr
    b.seal_record = r.stdout[r.stdout.index("IN TXT") + 3:]
    zones = {
        "example.test": ["@ MX 10 mx.example.test."],
        "backup.test": ["@ MX 10 mx1.backup.test.",
                        "@ MX 20 mx2.backup.test."],
        "implicit.test": [],
        "nullmx.test": ["@ MX 0 ."],
        "tls.test": ["@ MX 10 mx.tls.test."],
        "badcert.test": ["@ MX 10 mx.badcert.test."],
        "notls.test": ["@ MX 10 mx.notls.test."],
        "hostile.test": ["@ MX 10 mx.hostile.test."],
        "other.test": ["@ MX 10 mx.other.test."],
        "b.test": ["@ MX 10 mx.b.test."],
        "lo.test": ["@ MX 10 mx.lo.test."],
        "self.test": ["@ MX 10 mx.self.test."],
        "seal.test": ["seal1._domainkey " + b.seal_record],
    }
    try:
        for z, recs in zones.items():
            b.zone(z, recs + host_records(z, ADDR))
        # hostile DNS: 1000 MX names (none with an address but the
        # last), and CNAME chains that loop
        b.zone("many.test", ["@ MX %d m%d.many.test." % (i, i)
                             for i in range(1000)] +
               ["m999 A %s" % ADDR["mx.example.test"]])
        b.zone("loop.test", ["a CNAME b.loop.test.", "b CNAME a.loop.test.",
                             "mxloop MX 10 a.loop.test."])
        # a zone whose answers fail DNSSEC validation: SERVFAIL to us
        b.zone("bogus.test", ["@ MX 10 mx.example.test."], broken=True)
        b.start()
        b.ca = make_ca(tmp / "ca")
        yield b
    finally:
        b.stop()


@pytest.fixture
def peer(tmp_path):
    made = []

    def make(addr, **behaviour):
        p = SmtpPeer(tmp_path / ("peer-" + addr), addr=addr, **behaviour)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.stop()


def sender_conf(bed, maildir, extra="", mx_allow=True):
    """The sender's configuration.  Every receiving MX of the bed is on
    127.0.0.x: mta-mx-allow-network lets MX resolution lead there (the mta
    refuses loopback otherwise, RFC 5321 5.1); the tests of that refusal
    leave it out."""
    return '''hostname a.postern.test
resolver {r} trust-anchor "{ta}"
{allow}
mta-ca-file "{ca}"
mta-timeout 4s
mta-connect-timeout 2s
queue retry 1s max 2s
queue expire 20s
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}"
action "out" relay
action "verify" relay tls verify
action "require" relay tls require
{extra}
match from any for domain <locals> action "local"
match from any for domain "tls.test" action "verify"
match from any for domain "badcert.test" action "verify"
match from any for domain "notls.test" action "require"
match from any for any action "out"
'''.format(r=bed.resolver, ta=bed.trust_anchor, ca=bed.ca.cert, m=maildir,
           extra=extra,
           allow="mta-mx-allow-network 127.0.0.0/8" if mx_allow else "")


@pytest.fixture
def sender(daemon_factory, bed, tmp_path):
    def make(extra="", listen_extra="", mx_allow=True):
        dm = daemon_factory(sub="a")
        dm.maildir = str(tmp_path / "amail")
        with open(dm.conf, "a") as f:
            f.write(sender_conf(bed, dm.maildir, extra, mx_allow))
            f.write(listen_extra)
        return dm.start()
    return make


MSG = (b"From: root@localhost\r\nTo: {rcpt}\r\nSubject: outbound\r\n"
       b"Message-ID: <{mid}@a.postern.test>\r\n\r\n"
       b"first line\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n")


def send(dm, rcpts, sender="root@localhost", body=None, mail_opts=(),
         rcpt_opts=(), tag=None):
    body = body or MSG.replace(b"{rcpt}", rcpts[0].encode()).replace(
        b"{mid}", str(time.time()).encode())
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        c.ehlo("client.test")
        assert c.mail(sender, list(mail_opts))[0] == 250
        for r in rcpts:
            assert c.rcpt(r, list(rcpt_opts))[0] == 250
        code, _ = c.data(body)
        assert code == 250
    return body


def wait_queue_empty(dm, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if dm.ctl("show", "queue").stdout == "":
            return
        time.sleep(0.2)
    raise AssertionError("queue not empty:\n" + dm.ctl("show", "queue").stdout)


def wait_queue_line(dm, rcpt, text, timeout=15):
    """The queue lists rcpt with text in its line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = dm.ctl("show", "queue").stdout
        if any(rcpt in ln and text in ln for ln in out.splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError("%s / %r not in the queue:\n%s\n%s" % (
        rcpt, text, out, dm.logtext()))


def wait_tls_result(dm, domain, pattern, timeout=15):
    """posternctl show tls-results DOMAIN has a line matching pattern (a
    regular expression); the line."""
    import re
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = dm.ctl("show", "tls-results", domain).stdout
        for ln in out.splitlines():
            if re.search(pattern, ln):
                return ln
        time.sleep(0.1)
    raise AssertionError("%r not in the TLS results:\n%s" % (pattern, out))


def wait_log(dm, text, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in dm.logtext():
            return
        time.sleep(0.1)
    raise AssertionError("%r not in the log:\n%s" % (text, dm.logtext()))


def txns(mx, n=1):
    """Transactions of finished sessions (sessions end after an idle
    QUIT), once there are n of them."""
    deadline = time.time() + 15
    while time.time() < deadline:
        t = mx.transactions()
        if len(t) >= n:
            return t
        time.sleep(0.1)
    raise AssertionError("no transactions: %s" % mx.logtext())


def body_of(raw):
    """The message as the client sent it: without our trace fields."""
    assert raw.startswith(b"Authentication-Results: ") or \
        raw.startswith(b"Received: ")
    return strip_trace(raw)


def test_delivery_to_single_mx_with_dot_stuffing(sender, peer):
    mx = peer(ADDR["mx.example.test"], pipelining=True)
    dm = sender()
    sent = send(dm, ["bob@example.test"])
    got = mx.wait_messages(1)
    # the bytes round-trip through dot-stuffing and unstuffing
    assert body_of(got[0]) == sent
    assert b"by a.postern.test" in got[0].split(b"\r\n\r\n")[0]
    t = txns(mx)[0]
    assert t["mail_from"] == "root@localhost"
    assert [r["addr"] for r in t["rcpts"]] == ["bob@example.test"]
    wait_queue_empty(dm)
    wait_log(dm, "delivered")
    assert "via mx.example.test" in dm.logtext()
    # one line per attempt, in the shape of Postfix's
    assert re.search(r"queue\[\d+\]: [0-9a-f]{16}: to=<bob@example\.test>, "
                     r"from=<root@localhost>, relay=mx\.example\.test"
                     r"\S*, delay=\d+s, attempts=1, dsn=2\.0\.0, "
                     r"status=sent: delivered to mx\.example\.test\S* "
                     r"\(250 .*\((no TLS|TLSv1\.[23] .*)\)\)$",
                     dm.logtext(), re.M), dm.logtext()


def test_multi_recipient_one_transaction_and_reuse(sender, peer):
    mx = peer(ADDR["mx.example.test"], pipelining=True)
    dm = sender()
    send(dm, ["a@example.test", "b@example.test", "c@example.test"])
    mx.wait_messages(1)
    t = txns(mx)[0]
    assert sorted(r["addr"] for r in t["rcpts"]) == [
        "a@example.test", "b@example.test", "c@example.test"]
    # PIPELINING: MAIL and the RCPTs went in one batch
    assert mx.wait_sessions(1)[0]["pipelined"] >= 1
    # several messages at once share a connection
    for i in range(6):
        send(dm, ["r%d@example.test" % i])
    mx.wait_messages(7, timeout=20)
    wait_queue_empty(dm)
    time.sleep(3)       # idle sessions QUIT
    sess = mx.sessions()
    assert sum(len(s["transactions"]) for s in sess) == 7
    assert len(sess) < 7, [len(s["transactions"]) for s in sess]
    assert any(len(s["transactions"]) > 1 for s in sess)


def test_backup_mx_when_primary_refuses(sender, peer):
    mx2 = peer(ADDR["mx2.backup.test"])
    dm = sender()
    send(dm, ["x@backup.test"])
    mx2.wait_messages(1)
    wait_queue_empty(dm)
    assert "mx1.backup.test [127.0.0.26]: connect" in dm.logtext()


def test_mta_counters(sender, peer):
    """show stats and show metrics count the mta's work (mta/mta.c)."""
    mx2 = peer(ADDR["mx2.backup.test"])
    dm = sender()
    send(dm, ["x@backup.test"])
    mx2.wait_messages(1)
    wait_queue_empty(dm)
    stats = dict(line.split("=") for line in
                 dm.ctl("show", "stats").stdout.splitlines())
    assert stats["mta.delivery.ok"] == "1"
    assert stats["mta.delivery.tempfail"] == "0"
    # mx1 refused the connection first
    assert int(stats["mta.connect_failures"]) >= 1
    assert int(stats["mta.sessions"]) >= 1
    text = dm.ctl("show", "metrics").stdout
    assert 'postern_mta_deliveries_total{result="ok"} 1\n' in text
    assert "# TYPE postern_mta_sessions_open gauge\n" in text


def test_implicit_mx(sender, peer):
    mx = peer(ADDR["implicit.test"])
    dm = sender()
    send(dm, ["x@implicit.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)


def bounce_of(dm, timeout=15):
    got = delivered(dm, "root", timeout=timeout)
    assert len(got) == 1, got
    return dsn_parts(got[0])


def test_null_mx_bounces_at_once(sender):
    dm = sender()
    send(dm, ["x@nullmx.test"])
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.1.10"
    assert blocks[1]["action"] == "failed"
    assert re.search(r": to=<x@nullmx\.test>, from=<root@localhost>, "
                     r"relay=none, delay=\d+s, attempts=1, dsn=5\.1\.10, "
                     r"status=bounced: permanent failure: ", dm.logtext()), \
        dm.logtext()
    wait_queue_empty(dm)


# -- loops: never deliver to ourselves (RFC 5321 5.1) -------------------------

def unfolded(value):
    return " ".join(value.split())


def test_mx_on_loopback_bounces_without_mx_allow(sender, peer):
    """Without mta-mx-allow-network, an MX on a loopback address is this
    host: the mail bounces at once with the reason, and nothing connects
    to the server listening there."""
    mx = peer(ADDR["mx.lo.test"])
    dm = sender(mx_allow=False)
    send(dm, ["x@lo.test"])
    _, parts, blocks = bounce_of(dm)
    assert blocks[1]["action"] == "failed"
    assert blocks[1]["status"] == "5.4.6"
    diag = unfolded(blocks[1]["diagnostic-code"])
    assert "MX for lo.test points to a loopback address: mx.lo.test " \
        "[127.0.0.35] (RFC 5321 5.1)" in diag, diag
    wait_queue_empty(dm)
    assert mx.sessions() == []
    assert "permanent failure: MX for lo.test points to a loopback" in \
        dm.logtext()


def test_mx_on_own_listen_address_refused_even_when_allowed(sender):
    """mta-mx-allow-network 127.0.0.0/8 does not let the MX be the
    sender's own listening address (127.0.0.1, on any port)."""
    dm = sender()
    send(dm, ["x@self.test"])
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.4.6"
    diag = unfolded(blocks[1]["diagnostic-code"])
    assert "MX for self.test points to this host: mx.self.test " \
        "[127.0.0.1] is one of my listening addresses (RFC 5321 5.1)" \
        in diag, diag
    assert "[127.0.0.1]: connect" not in dm.logtext()
    wait_queue_empty(dm)


def test_wildcard_listener_makes_every_loopback_address_ours(sender, peer):
    """Listening on 0.0.0.0 takes every address of the host, loopback
    included: the allowed network does not make 127.0.0.35 someone
    else's."""
    mx = peer(ADDR["mx.lo.test"])
    dm = sender(listen_extra="listen on 0.0.0.0 port %d\n" % next_port())
    send(dm, ["x@lo.test"])
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.4.6"
    diag = unfolded(blocks[1]["diagnostic-code"])
    assert "MX for lo.test points to this host: mx.lo.test [127.0.0.35] " \
        "is one of my listening addresses" in diag, diag
    assert mx.sessions() == []


def test_transport_host_on_loopback_delivered(sender, peer):
    """A host the configuration names is the administrator's choice: a
    smarthost on loopback, numeric or by name, is used without
    mta-mx-allow-network."""
    by_name = peer(ADDR["mx.lo.test"])
    numeric = peer("127.0.0.36")
    dm = sender(mx_allow=False,
                extra='transport byname smarthost "smtp://mx.lo.test"\n'
                'transport numeric smarthost "smtp://127.0.0.36"\n'
                'route for domain "lo.test" transport byname\n'
                'route for domain "far.test" transport numeric\n')
    send(dm, ["x@lo.test"])
    send(dm, ["y@far.test"])
    by_name.wait_messages(1)
    numeric.wait_messages(1)
    wait_queue_empty(dm)
    assert delivered(dm, "root", timeout=0.5) == []


def test_dns_temporary_failure_is_retried(sender, peer):
    dm = sender()
    send(dm, ["x@bogus.test"])
    wait_log(dm, "temporary failure: DNS")
    wait_queue_line(dm, "x@bogus.test", "DNS")
    assert "permanent failure" not in dm.logtext()


def test_remote_replies_per_class(sender, peer):
    mx = peer(ADDR["mx.example.test"], dsn=True, replies=[
        {"cmd": "RCPT", "match": "perm@*", "reply": "550 5.1.1 no such user"},
        {"cmd": "RCPT", "match": "temp@*", "reply": "451 4.3.0 try later",
         "times": 1},
    ])
    dm = sender()
    send(dm, ["perm@example.test", "temp@example.test", "ok@example.test"],
         rcpt_opts=["NOTIFY=FAILURE"])
    # ok at once, temp on the retry; perm bounces with the remote reply
    mx.wait_messages(2, timeout=20)
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.1.1"
    assert blocks[1]["remote-mta"] == "dns; mx.example.test"
    assert blocks[1]["diagnostic-code"].startswith("smtp; 550 5.1.1")
    assert "perm@example.test" in blocks[1]["final-recipient"]
    wait_queue_empty(dm)
    rcpts = [r["addr"] for t in txns(mx, 2) for r in t["rcpts"]
             if r["reply"].startswith("250")]
    assert sorted(rcpts) == ["ok@example.test", "temp@example.test"]


def test_one_bounce_for_twenty_refused_recipients(sender, peer):
    # A destination that refuses every recipient of a message: one
    # bounce lists them all (RFC 3464 2), not one bounce each.
    peer(ADDR["mx.example.test"], replies=[
        {"cmd": "RCPT", "match": "*", "reply": "550 5.1.1 no such user"},
    ])
    dm = sender()
    rcpts = ["perm%02d@example.test" % i for i in range(20)]
    send(dm, rcpts, mail_opts=["RET=FULL"], rcpt_opts=["NOTIFY=FAILURE"])
    _, _, blocks = bounce_of(dm)
    assert len(blocks) == 1 + 20
    assert sorted(b["final-recipient"].lower() for b in blocks[1:]) == \
        ["rfc822; " + r for r in rcpts]
    for b in blocks[1:]:
        assert b["status"] == "5.1.1"
        assert b["diagnostic-code"].startswith("smtp; 550 5.1.1")
    wait_queue_empty(dm)
    time.sleep(1)
    assert len(delivered(dm, "root", want=2, timeout=0)) == 1


def test_mail_refused_and_data_refused(sender, peer):
    mx = peer(ADDR["mx.example.test"], replies=[
        {"cmd": "MAIL", "match": "bad@*", "reply": "553 5.7.1 not you"},
        {"cmd": "EOM", "match": "*", "reply": "554 5.6.0 content refused"},
    ])
    dm = sender()
    send(dm, ["x@example.test"], sender="bad@localhost")
    send(dm, ["y@example.test"])
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.6.0"
    assert "554 5.6.0" in blocks[1]["diagnostic-code"]
    wait_log(dm, "553 5.7.1 not you")
    wait_queue_empty(dm)


def test_dsn_parameters_passed_on(sender, peer):
    mx = peer(ADDR["mx.example.test"], dsn=True)
    dm = sender()
    send(dm, ["bob@example.test"], mail_opts=["RET=HDRS", "ENVID=ab+2Bc"],
         rcpt_opts=["NOTIFY=SUCCESS,DELAY",
                    "ORCPT=rfc822;bob+2Bx@example.test"])
    mx.wait_messages(1)
    t = txns(mx)[0]
    opts = " ".join(t["mail_options"]).upper()
    assert "RET=HDRS" in opts and "ENVID=AB+2BC" in opts
    ropts = " ".join(t["rcpts"][0]["options"]).upper()
    assert "NOTIFY=SUCCESS,DELAY" in ropts
    assert "ORCPT=RFC822;BOB+2BX@EXAMPLE.TEST" in ropts
    # the success DSN names the remote MTA
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["action"] == "delivered"
    assert blocks[1]["remote-mta"] == "dns; mx.example.test"


def test_smtputf8_to_server_without_it_bounces(sender, peer):
    mx = peer(ADDR["mx.example.test"], smtputf8=False)
    dm = sender()
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        c.ehlo("client.test")
        assert c.mail("root@localhost", ["SMTPUTF8"])[0] == 250
        assert c.rcpt("jörg@example.test")[0] == 250
        assert c.data(b"Subject: utf8\r\n\r\nhi\r\n")[0] == 250
    # RFC 6533: a UTF-8 message gets a global-delivery-status report
    got = delivered(dm, "root", timeout=15)
    assert len(got) == 1
    assert b"report-type=global-delivery-status" in got[0]
    assert b"Status: 5.6.7" in got[0]
    assert mx.accepted() == []


def test_8bitmime_to_server_without_it_bounces(sender, peer):
    mx = peer(ADDR["mx.example.test"], **{"8bitmime": False})
    dm = sender()
    send(dm, ["x@example.test"], mail_opts=["BODY=8BITMIME"],
         body=b"Subject: 8bit\r\n\r\ncaf\xc3\xa9\r\n")
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.6.3"
    assert mx.accepted() == []


def test_size_over_server_limit_bounces(sender, peer):
    mx = peer(ADDR["mx.example.test"], size=1000)
    dm = sender()
    send(dm, ["x@example.test"], body=b"Subject: big\r\n\r\n" +
         b"x" * 70 + b"\r\n" * 1 + (b"y" * 70 + b"\r\n") * 30)
    _, _, blocks = bounce_of(dm)
    assert blocks[1]["status"] == "5.3.4"
    assert mx.accepted() == []


def tls_peer(peer, bed, tmp_path, name, good=True, **kw):
    if good:
        tls = make_cert(tmp_path / ("cert-" + name), bed.ca, [name])
    else:
        tls = make_bad_cert(tmp_path / ("cert-" + name))
    return peer(ADDR[name], starttls=True, tls_cert=tls.cert,
                tls_key=tls.key, **kw)


def test_starttls_used_and_verified(sender, peer, bed, tmp_path):
    mx = tls_peer(peer, bed, tmp_path, "mx.tls.test")
    dm = sender()
    send(dm, ["x@tls.test"])
    mx.wait_messages(1)
    s = mx.wait_sessions(1)[0]
    assert s["tls"] is not None and s["tls"]["version"].startswith("TLSv1")
    assert s["tls"]["sni"] == "mx.tls.test"
    wait_queue_empty(dm)
    assert "certificate verified" in dm.logtext()


def test_opportunistic_tls_with_bad_certificate(sender, peer, bed, tmp_path):
    mx = tls_peer(peer, bed, tmp_path, "mx.example.test", good=False)
    dm = sender()
    send(dm, ["x@example.test"])
    mx.wait_messages(1)
    assert mx.wait_sessions(1)[0]["tls"] is not None
    wait_queue_empty(dm)
    assert "certificate not verified" in dm.logtext()


def test_tls_verify_refuses_bad_certificate(sender, peer, bed, tmp_path):
    mx = tls_peer(peer, bed, tmp_path, "mx.badcert.test", good=False)
    dm = sender()
    send(dm, ["x@badcert.test"])
    wait_log(dm, "certificate check failed")
    # the message stays queued, with the reason as its last error
    wait_queue_line(dm, "x@badcert.test", "certificate check failed")
    assert mx.accepted() == []


def test_tls_verify_refuses_client_only_certificate(sender, peer, bed,
                                                   tmp_path):
    """A certificate from a trusted CA, for the right name, but whose
    extended key usage is clientAuth only: not a server's (RFC 5280
    4.2.1.12), so it fails the check."""
    tls = make_cert(tmp_path / "cert-eku", bed.ca, ["mx.tls.test"],
                    eku="clientAuth")
    mx = peer(ADDR["mx.tls.test"], starttls=True, tls_cert=tls.cert,
              tls_key=tls.key)
    dm = sender()
    send(dm, ["x@tls.test"])
    wait_queue_line(dm, "x@tls.test", "certificate check failed")
    assert "unsuitable certificate purpose" in dm.logtext()
    assert mx.accepted() == []


def test_no_starttls_plaintext_or_refused(sender, peer):
    mx = peer(ADDR["mx.notls.test"], starttls=False)
    dm = sender()
    send(dm, ["x@notls.test"])           # action "require": tls require
    wait_log(dm, "does not offer STARTTLS")
    assert mx.accepted() == []
    mx2 = peer(ADDR["mx.example.test"], starttls=False)
    send(dm, ["y@example.test"])          # opportunistic: plaintext
    mx2.wait_messages(1)
    assert mx2.wait_sessions(1)[0]["tls"] is None


def test_failed_handshake_plaintext_fallback(sender, peer, bed, tmp_path):
    """Opportunistic TLS: when the handshake fails, the same address gets
    the message in plaintext; under mta-tls-fallback no it does not."""
    mx = tls_peer(peer, bed, tmp_path, "mx.example.test",
                  tls_versions=["TLSv1.1", "TLSv1.1"])
    dm = sender()
    send(dm, ["x@example.test"])
    mx.wait_messages(1)
    first, second = mx.wait_sessions(2)[:2]
    assert first["end"].startswith("tls failed"), first
    said = [t[1] for t in second["transcript"] if t[0] == "C"]
    assert second["tls"] is None and "STARTTLS" not in said, second
    wait_queue_empty(dm)
    assert "TLS handshake" in dm.logtext()
    assert "delivered: 250 2.0.0 queued as 2-1 (no TLS)" in dm.logtext()
    dm.stop()

    dm = sender(extra="mta-tls-fallback no\n")
    send(dm, ["y@example.test"])
    wait_log(dm, "mta-tls-fallback no: not retried without TLS")
    wait_queue_line(dm, "y@example.test", "TLS handshake")
    later = mx.wait_sessions(3)[2:]
    assert later and all(x["end"].startswith("tls failed")
                         for x in later), later
    assert len(mx.accepted()) == 1


def assert_config_errors(tmp_path, text, errors):
    """posternd -n refuses the configuration text, saying each (line,
    what) of errors at that line of bad.conf."""
    from conftest import POSTERND, run
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode != 0
    for line, what in errors:
        assert "bad.conf:%d: " % line in r.stderr and what in r.stderr, \
            r.stderr


def test_tls_fallback_config_error(tmp_path):
    assert_config_errors(tmp_path, "mta-tls-fallback maybe\n", [
        (1, 'mta-tls-fallback is yes or no, not "maybe"')])


def test_backoff_of_refusing_destination(sender):
    dm = sender()
    send(dm, ["x@other.test"])
    wait_log(dm, "backing off")
    send(dm, ["y@other.test"])
    wait_log(dm, "is backed off")
    out = dm.ctl("show", "hosts").stdout
    line = [ln for ln in out.splitlines() if "out/other.test" in ln][0]
    assert "backoff=" in line and "failures=1" in line
    # -j: the same, one object per destination
    rows = [json.loads(ln) for ln in
            dm.ctl("show", "hosts", "-j").stdout.splitlines()]
    (h,) = [r for r in rows if r["name"].endswith("out/other.test")]
    assert h["failures"] == 1 and h["backoff"] > 0, h
    assert h["last_error"] != "" and h["connections"] == 0, h


@pytest.mark.parametrize("mode,at", [
    ("endless", "EHLO"), ("long_line", "CONNECT"), ("garbage", "CONNECT"),
    ("tls_stall", "STARTTLS"), ("silent", "MAIL")])
def test_hostile_peer_bounded(sender, peer, bed, tmp_path, mode, at):
    kw = {}
    if mode == "tls_stall":
        tls = make_cert(tmp_path / "cert-h", bed.ca, ["mx.hostile.test"])
        kw = dict(starttls=True, tls_cert=tls.cert, tls_key=tls.key)
    peer(ADDR["mx.hostile.test"], hostile={"mode": mode, "at": at,
                                           "size": 10 * 1024 * 1024}, **kw)
    good = peer(ADDR["mx.example.test"])
    dm = sender()
    t0 = time.time()
    send(dm, ["x@hostile.test"])
    send(dm, ["y@example.test"])
    # the other destination is not held up
    good.wait_messages(1, timeout=10)
    wait_log(dm, "mx.hostile.test [127.0.0.32]", timeout=15)
    assert time.time() - t0 < 15
    wait_queue_line(dm, "x@hostile.test", "mx.hostile.test")
    # the mta is alive and bounded
    mta = dm.kids["mta"]
    with open("/proc/%d/status" % mta) as f:
        rss = [ln for ln in f if ln.startswith("VmRSS")][0]
    assert int(rss.split()[1]) < 64 * 1024, rss


def test_smarthost_with_auth(sender, peer, bed, tmp_path):
    tls = make_cert(tmp_path / "cert-sh", bed.ca, ["mx.b.test"])
    users = {"alice": "s3cret"}
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1",
                 "SCRAM-SHA-256"):
        secrets = tmp_path / "secrets"
        secrets.write_text("mx.b.test alice:s3cret\n")
        os.chmod(secrets, 0o600)
        sh = peer(ADDR["mx.b.test"], starttls=True, tls_cert=tls.cert,
                  tls_key=tls.key, auth=[mech], users=users,
                  auth_require_tls=True)
        dm = sender(extra='table secrets file:"%s"\n'
                    'action "smarthost" relay host "smtp+tls://mx.b.test" '
                    'tls verify auth <secrets>\n'
                    'match from any for domain "far.test" action '
                    '"smarthost"\n' % secrets)
        send(dm, ["x@far.test"])
        sh.wait_messages(1)
        s = sh.wait_sessions(1)[0]
        assert s["auth"]["mechanism"] == mech and s["auth"]["user"] == "alice"
        assert s["tls"] is not None
        wait_queue_empty(dm)
        dm.stop()
        sh.stop()


def test_smarthost_configured_mechanisms(sender, peer, bed, tmp_path):
    """mechanisms NAME ...: the strongest of those, not of all offered; a
    server offering none of them fails the attempt and keeps the mail."""
    tls = make_cert(tmp_path / "cert-sh", bed.ca, ["mx.b.test"])
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:s3cret\n")
    os.chmod(secrets, 0o600)
    conf = ('table secrets file:"%s"\n'
            'transport sh smarthost "smtp+tls://mx.b.test" tls verify '
            'auth <secrets> mechanisms %s\n'
            'route for domain "far.test" transport sh\n')
    sh = peer(ADDR["mx.b.test"], starttls=True, tls_cert=tls.cert,
              tls_key=tls.key, auth=["PLAIN", "LOGIN", "CRAM-MD5",
                                     "SCRAM-SHA-1", "SCRAM-SHA-256"],
              users={"alice": "s3cret"}, auth_require_tls=True)
    dm = sender(extra=conf % (secrets, "LOGIN PLAIN"))
    assert "(smarthost mx.b.test:25 auth <secrets> mechanisms PLAIN " \
        "LOGIN)" in dm.ctl("show", "routes").stdout
    r = json.loads(dm.ctl("show", "routes", "-j").stdout)
    assert (r["host"], r["port"], r["auth"], r["mechanisms"]) == \
        ("mx.b.test", 25, "secrets", ["PLAIN", "LOGIN"]), r
    send(dm, ["x@far.test"])
    sh.wait_messages(1)
    s = sh.wait_sessions(1)[0]
    assert s["auth"]["mechanism"] == "PLAIN" and s["tls"] is not None
    wait_queue_empty(dm)
    dm.stop()
    sh.stop()

    sh = peer(ADDR["mx.b.test"], starttls=True, tls_cert=tls.cert,
              tls_key=tls.key, auth=["PLAIN", "SCRAM-SHA-256"],
              users={"alice": "s3cret"}, auth_require_tls=True)
    dm = sender(extra=conf % (secrets, "CRAM-MD5"))
    send(dm, ["x@far.test"])
    wait_log(dm, "offers no AUTH mechanism of those configured")
    assert sh.accepted() == []
    # the mta hung up without trying AUTH at all
    assert [x.get("auth") for x in sh.wait_sessions(1)] == [None]
    assert "x@far.test" in dm.ctl("show", "queue").stdout


def test_mechanisms_config_errors(tmp_path):
    assert_config_errors(
        tmp_path,
        'table s { "h.test" = "u:p" }\n'
        'action a relay host "smtps://h.test" auth <s> mechanisms DIGEST-MD5\n'
        'action b relay host "smtps://h.test" mechanisms PLAIN\n'
        'transport t smarthost "smtps://h.test" mechanisms LOGIN\n'
        'action c relay host "smtps://h.test" auth <s> '
        'mechanisms PLAIN mechanisms LOGIN\n',
        [(2, 'unknown SASL mechanism "DIGEST-MD5"'),
         (3, "mechanisms needs auth <table>"),
         (4, "transport t: mechanisms needs auth <table>"),
         (5, "mechanisms given twice")])


def test_smarthost_wrong_password(sender, peer, bed, tmp_path):
    tls = make_cert(tmp_path / "cert-sh", bed.ca, ["mx.b.test"])
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:wrong\n")
    os.chmod(secrets, 0o600)
    sh = peer(ADDR["mx.b.test"], starttls=True, tls_cert=tls.cert,
              tls_key=tls.key, auth=["SCRAM-SHA-256"],
              users={"alice": "s3cret"})
    dm = sender(extra='table secrets file:"%s"\n'
                'action "smarthost" relay host "smtp+tls://mx.b.test" '
                'auth <secrets>\n'
                'match from any for domain "far.test" action "smarthost"\n'
                % secrets)
    send(dm, ["x@far.test"])
    wait_log(dm, "authentication failed: 535")
    assert sh.accepted() == []
    # the smtp and queue processes never got the password
    assert "wrong" not in dm.logtext()


AUTH_MITM_CONF = {
    "action": 'action "smarthost" relay host "smtp+tls://mx.b.test" '
              'auth <secrets>{tls}\n'
              'match from any for domain "far.test" action "smarthost"\n',
    "transport": 'transport sh smarthost "smtp+tls://mx.b.test" '
                 'auth <secrets>{tls}\n'
                 'route for domain "far.test" transport sh\n',
}


@pytest.mark.parametrize("kind", ["action", "transport"])
def test_relay_auth_unverified_certificate_gets_no_credentials(
        sender, peer, tmp_path, kind):
    """A man-in-the-middle for the smarthost: STARTTLS with a certificate
    that does not verify, then AUTH PLAIN only.  auth implies tls verify:
    it hears no AUTH, the message stays queued with the reason."""
    bad = make_bad_cert(tmp_path / "cert-mitm")
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:s3cret\n")
    os.chmod(secrets, 0o600)
    mitm = peer(ADDR["mx.b.test"], starttls=True, tls_cert=bad.cert,
                tls_key=bad.key, auth=["PLAIN"], users={"alice": "s3cret"},
                auth_require_tls=True)
    dm = sender(extra='table secrets file:"%s"\n' % secrets +
                AUTH_MITM_CONF[kind].format(tls=""))
    send(dm, ["x@far.test"])
    wait_log(dm, "credentials not sent")
    wait_queue_line(dm, "x@far.test", "certificate check failed")
    assert "tls no-verify" in dm.logtext()
    sessions = mitm.wait_sessions(1)
    assert mitm.accepted() == []
    for sess in sessions:
        assert sess["auth"] is None and sess["auth_attempts"] == []
        said = [ln for who, ln in sess["transcript"] if who == "C"]
        assert not any(ln.upper().startswith("AUTH") for ln in said), said
        assert not any("s3cret" in ln for ln in said)
    assert "s3cret" not in mitm.logtext()


def test_relay_auth_tls_no_verify_sends_credentials(sender, peer, tmp_path):
    """tls no-verify, written out, is the only way to authenticate to a
    server whose certificate does not verify."""
    bad = make_bad_cert(tmp_path / "cert-nv")
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:s3cret\n")
    os.chmod(secrets, 0o600)
    sh = peer(ADDR["mx.b.test"], starttls=True, tls_cert=bad.cert,
              tls_key=bad.key, auth=["PLAIN"], users={"alice": "s3cret"},
              auth_require_tls=True)
    dm = sender(extra='table secrets file:"%s"\n' % secrets +
                AUTH_MITM_CONF["action"].format(tls=" tls no-verify"))
    send(dm, ["x@far.test"])
    sh.wait_messages(1)
    s = sh.wait_sessions(1)[0]
    assert s["auth"] == {"mechanism": "PLAIN", "user": "alice"}
    assert s["tls"] is not None
    wait_queue_empty(dm)
    assert "certificate not verified" in dm.logtext()


def test_end_to_end_two_posternds(sender, daemon_factory, tmp_path, bed):
    """A client submits to posternd A, which relays to posternd B, the MX
    of b.test, which delivers into a maildir."""
    b = daemon_factory(sub="b", listen=False)
    b.maildir = str(tmp_path / "bmail")
    with open(b.conf, "a") as f:
        f.write('''hostname mx.b.test
listen on 127.0.0.34 port 25
table domains { "b.test" }
table users file:"%s/busers"
action "local" maildir "%s/%%{rcpt}" virtual <users>
match from any for domain <domains> action "local"
''' % (tmp_path, b.maildir))
    (tmp_path / "busers").write_text("carol@b.test root\n")
    b.start()
    dm = sender()
    sent = send(dm, ["carol@b.test"])
    got = delivered(b, "carol@b.test", timeout=15)
    assert len(got) == 1
    raw = got[0]
    # B's Received on top of A's, then the message exactly as sent
    rcvd = [f for f in email.message_from_bytes(raw).get_all("Received")]
    assert len(rcvd) == 2
    assert "by mx.b.test" in rcvd[0] and "a.postern.test" in rcvd[0]
    assert "by a.postern.test" in rcvd[1]
    assert raw.endswith(sent)
    wait_queue_empty(dm)


# -- routes and transports ---------------------------------------------------

def test_route_by_domain_to_smarthost(sender, peer):
    sh = peer(ADDR["mx.b.test"])
    dm = sender(extra='transport sh smarthost "smtp://mx.b.test"\n'
                'route for domain "far.test" transport sh\n')
    send(dm, ["x@far.test"])
    sh.wait_messages(1)
    wait_queue_empty(dm)
    out = dm.ctl("show", "routes").stdout
    assert "for=far.test" in out and "transport=sh (smarthost mx.b.test:25)" \
        in out, out
    # -j: the route alone, the fields of its line
    rows = [json.loads(ln) for ln in
            dm.ctl("show", "routes", "-j").stdout.splitlines()]
    assert len(rows) == 1 == len(out.splitlines()) - 1, rows
    r = rows[0]
    assert out.startswith("%d from=%s for=%s attempt>=%d transport=%s (%s "
                          "%s:%d)" % (r["n"], r["from"], r["for"],
                                      r["attempt"], r["transport"],
                                      r["kind"], r["host"], r["port"]))
    assert (r["for"], r["transport"], r["kind"], r["account"]) == \
        ("far.test", "sh", "smarthost", None)


def test_route_by_sender_domain(sender, peer):
    sh = peer(ADDR["mx.b.test"])
    mx = peer(ADDR["mx.example.test"])
    dm = sender(extra='transport sh smarthost "smtp://mx.b.test"\n'
                'route from domain "corp.test" transport sh\n')
    send(dm, ["x@example.test"], sender="boss@corp.test")
    send(dm, ["y@example.test"], sender="root@localhost")
    sh.wait_messages(1)
    mx.wait_messages(1)
    assert sh.accepted()[0]["mail_from"] == "boss@corp.test"
    assert mx.accepted()[0]["mail_from"] == "root@localhost"


def test_route_by_attempt_number(sender, peer):
    """Direct delivery first; from the 2nd attempt, the smarthost."""
    sh = peer(ADDR["mx.b.test"])
    dm = sender(extra='transport sh smarthost "smtp://mx.b.test"\n'
                'route for domain "backup.test" attempt 2 transport sh\n')
    send(dm, ["x@backup.test"])        # both MXs refuse: nothing listens
    sh.wait_messages(1, timeout=20)
    log = dm.logtext()
    assert "mx2.backup.test [127.0.0.27]: connect" in log
    wait_queue_empty(dm)


def test_submission_transport_port_587_with_auth(sender, peer, bed, tmp_path):
    tls = make_cert(tmp_path / "cert-sub", bed.ca, ["mx.b.test"])
    secrets = tmp_path / "secrets"
    secrets.write_text("mx.b.test alice:s3cret\n")
    os.chmod(secrets, 0o600)
    sub = peer(ADDR["mx.b.test"], port=587, starttls=True, tls_cert=tls.cert,
               tls_key=tls.key, auth=["PLAIN", "SCRAM-SHA-256", "CRAM-MD5"],
               users={"alice": "s3cret"}, auth_require_tls=True)
    dm = sender(extra='table secrets file:"%s"\n'
                'transport sub submission "smtp+tls://mx.b.test" '
                'auth <secrets> tls verify\n'
                'route transport sub\n' % secrets)
    send(dm, ["x@anywhere.test"])
    sub.wait_messages(1)
    s = sub.wait_sessions(1)[0]
    # the strongest mechanism offered
    assert s["auth"]["mechanism"] == "SCRAM-SHA-256"
    assert s["tls"] is not None


def test_socks5_transport(sender, peer, tmp_path):
    from socks5proxy import Socks5Proxy
    mx = peer(ADDR["mx.example.test"])
    proxy = Socks5Proxy(tmp_path / "socks", addr="127.0.1.80", port=1080)
    try:
        proxy.start()
        dm = sender(extra='transport px socks5 "127.0.1.80:1080"\n'
                    'route for domain "example.test" transport px\n')
        send(dm, ["x@example.test"])
        mx.wait_messages(1)
        mx.wait_sessions(1)
        conns = proxy.wait_connections(1)
        assert conns[0]["host"] == "127.0.0.25" and conns[0]["port"] == 25
        # the peer saw the proxy's connection, not ours
        wait_queue_empty(dm)
    finally:
        proxy.stop()


def test_transport_config_errors(tmp_path):
    assert_config_errors(
        tmp_path,
        'transport sub submission "smtp+tls://h.test"\n'
        'transport px socks5 "proxy.test:1080"\n'
        'transport sh smarthost "smtp://h.test" auth <nope>\n'
        'route attempt 0 transport sh\n'
        'route transport missing\n',
        [(1, "submission needs auth"),
         (2, "not a numeric address"),
         (3, 'unknown table "nope"'),
         (4, "invalid attempt 0"),
         (5, 'no transport "missing"')])


def test_hostile_dns_bounded(sender, peer):
    """An MX list of 1000 names and CNAME loops: a clear failure in
    bounded time, and other mail goes on."""
    good = peer(ADDR["mx.b.test"])
    dm = sender()
    t0 = time.time()
    send(dm, ["x@many.test"])
    send(dm, ["y@a.loop.test"])
    send(dm, ["z@mxloop.loop.test"])
    send(dm, ["ok@b.test"])
    good.wait_messages(1, timeout=10)
    for rcpt in ("x@many.test", "y@a.loop.test", "z@mxloop.loop.test"):
        wait_log(dm, "to <%s>: " % rcpt, timeout=20)
    assert time.time() - t0 < 25
    log = dm.logtext()
    # only the 16 best MX hosts are looked at; none has an address
    line = [ln for ln in log.splitlines() if "to <x@many.test>:" in ln][0]
    assert "failure" in line, line
    for rcpt in ("y@a.loop.test", "z@mxloop.loop.test"):
        line = [ln for ln in log.splitlines() if "to <%s>:" % rcpt in ln][0]
        assert "failure" in line, line
    mta = dm.kids["mta"]
    with open("/proc/%d/status" % mta) as f:
        rss = [ln for ln in f if ln.startswith("VmRSS")][0]
    assert int(rss.split()[1]) < 64 * 1024, rss


def test_chunking_used_when_offered(sender, peer):
    mx = peer(ADDR["mx.example.test"], chunking=True)
    dm = sender()
    sent = send(dm, ["x@example.test"])
    got = mx.wait_messages(1)
    assert body_of(got[0]) == sent
    sess = mx.wait_sessions(1)
    sent_cmds = [ln for who, ln in sess[0]["transcript"] if who == "C"]
    assert any(c.upper().startswith("BDAT ") and c.upper().endswith(" LAST")
               for c in sent_cmds), sent_cmds
    assert not any(c.upper() == "DATA" for c in sent_cmds)


def test_greeting_refused_tries_next_mx(sender, peer):
    peer(ADDR["mx1.backup.test"], replies=[
        {"cmd": "CONNECT", "match": "*", "reply": "554 5.7.1 go away"}])
    mx2 = peer(ADDR["mx2.backup.test"])
    dm = sender()
    send(dm, ["x@backup.test"])
    mx2.wait_messages(1)
    assert "greeting: 554 5.7.1 go away" in dm.logtext()


def test_connection_dropped_mid_transaction_is_retried(sender, peer):
    mx = peer(ADDR["mx.example.test"],
              drop={"cmd": "RCPT", "nth": 1, "after_reply": False})
    dm = sender()
    send(dm, ["x@example.test"])
    wait_queue_line(dm, "x@example.test", "closed by the server")
    assert mx.accepted() == []


def test_relayed_mail_is_arc_sealed(sender, peer, bed):
    """arc-seal with a dkim-signature block: relayed mail gets an ARC set
    that Debian's python3-dkim and posternctl both validate."""
    import dkim
    mx = peer(ADDR["mx.example.test"])
    fwd = next_port()
    dm = sender(extra='''dkim-signature sealer {
	key "%s"
	domain seal.test
	selector seal1
}
arc-seal with sealer tag fwd
''' % bed.seal_key, listen_extra="listen on 127.0.0.1 port %d tag fwd\n" % fwd)
    dm.port, plain = fwd, dm.port
    send(dm, ["x@example.test"])
    got = mx.wait_messages(1)[0]
    assert got.count(b"ARC-Seal: i=1;") == 1
    assert b"ARC-Authentication-Results: i=1; a.postern.test;" in got
    txt = "".join(re.findall(r'"([^"]*)"', bed.seal_record))

    def dnsfunc(name, timeout=5):
        assert name == b"seal1._domainkey.seal.test."
        return txt.encode()
    cv, results, why = dkim.arc_verify(got, dnsfunc=dnsfunc)
    assert cv == b"pass", (cv, why)
    r = run([POSTERNCTL, "check", "arc", "--resolver", bed.resolver,
             "--trust-anchor", bed.trust_anchor], input=got, text=False)
    assert r.returncode == 0, r.stderr
    assert b"arc=pass" in r.stdout
    # the listener without the tag does not seal
    dm.port = plain
    send(dm, ["y@example.test"])
    got = mx.wait_messages(2)[1]
    assert b"ARC-Seal:" not in got

"""DNS fails (issue 20, "Faults"): the resolver stops answering, answers
SERVFAIL, or cannot be reached.

Inbound, every check that could not get an answer is "temperror" in the
Authentication-Results field (RFC 8601 2.7); a relaxed listener delivers
the message with them, a strict one defers it with 451 and stores nothing.
authd gives the DNS lookups of one message auth-dns-timeout in all, so
the client gets its reply then, not when the SMTP timeouts end.

Outbound, an MX or address lookup that fails for now defers the envelope
(4.4.3, RFC 3463), never bounces it, and the next retry after DNS is back
delivers it, once.

The DNS is real: nsd serving signed zones (regress/dnsbed.py), stopped or
frozen while mail flows; a UDP socket that takes queries and never
answers; a UDP responder that answers every query SERVFAIL; an address
where nothing listens.
"""
import email
import email.policy
import glob
import os
import smtplib
import socket
import struct
import threading
import time

import pytest

from conftest import POSTERNCTL, next_port, run
from dnsbed import DnsBed
from peers import SmtpPeer
from test_check import parse_ar
from test_smtp import delivered

AUTHSERV = "mx.dnsfail.test"
MSG = (b"From: Alice <alice@good.test>\r\nTo: bob@localhost\r\n"
       b"Subject: dns fails\r\nMessage-ID: <{mid}@good.test>\r\n\r\n"
       b"hello\r\n")
MX_ADDR = "127.0.54.25"


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnsfailbed")
    key = str(tmp / "k.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "good.test", "-s", "sel", "-o", key])
    assert r.returncode == 0, r.stderr
    record = r.stdout[r.stdout.index("IN TXT") + 3:]
    b = DnsBed(tmp / "bed", addr="127.0.54.53")
    try:
        b.zone("good.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                             '_dmarc TXT "v=DMARC1; p=reject"',
                             "sel._domainkey " + record])
        b.zone("two.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                            '_dmarc TXT "v=DMARC1; p=reject"',
                            "sel._domainkey " + record])
        b.start()
        b.key = key
        yield b
    finally:
        b.stop()


class Silent:
    """A UDP "resolver" that takes every query and never answers: the
    socket is bound, so no ICMP tells the sender anything; what arrives
    is read and dropped, so the queue never fills."""

    def __init__(self, addr="127.0.54.99"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.sock.settimeout(0.2)
        self.resolver = "%s@%d" % self.sock.getsockname()
        self.queries = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def answer(self, data, peer):
        pass

    def loop(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            self.answer(data, peer)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


class Servfail(Silent):
    """Answers every query with its question and rcode SERVFAIL (RFC 1035
    4.1.1), as a resolver does when the authorities fail it."""

    def answer(self, data, peer):
        if len(data) < 12:
            return
        qid, flags = struct.unpack(">HH", data[:4])
        flags = 0x8000 | (flags & 0x0100) | 0x0080 | 2    # QR, RD, RA
        end = 12
        while end < len(data) and data[end] != 0:
            end += 1 + data[end]
        question = data[12:end + 5]
        self.sock.sendto(struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) +
                         question, peer)


class Closed:
    """A resolver address where nothing listens: every query gets an ICMP
    port unreachable back, which libunbound takes for a lost packet."""

    def __init__(self, addr="127.0.54.99"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        self.resolver = "%s@%d" % s.getsockname()
        s.close()

    def stop(self):
        pass


@pytest.fixture
def resolvers():
    made = []

    def make(cls):
        r = cls()
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def mx_conf(resolver, maildir, ta=None, budget="4s"):
    """A receiving server: a relaxed listener (the daemon's own port) and
    a strict one."""
    return '''hostname {a}
resolver {r}{ta}
auth-dns-timeout {b}
policy tight {{
	spf strict
	dkim strict
	dmarc strict
}}
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(a=AUTHSERV, r=resolver, m=maildir, b=budget,
           ta=' trust-anchor "%s"' % ta if ta else "")


@pytest.fixture
def receiver(daemon_factory, tmp_path):
    def make(resolver, ta=None, budget="4s"):
        dm = daemon_factory(sub="mx")
        dm.maildir = str(tmp_path / "mail")
        dm.strict_port = next_port()
        with open(dm.conf, "a") as f:
            f.write(mx_conf(resolver, dm.maildir, ta, budget))
            f.write("listen on 127.0.0.1 port %d policy tight\n" %
                    dm.strict_port)
        return dm.start()
    return make


def signed_message(bed, domain="good.test"):
    data = MSG.replace(b"{mid}", str(time.time()).encode()).replace(
        b"good.test", domain.encode())
    r = run([POSTERNCTL, "dkim", "sign", "-k", bed.key, "-d", domain,
             "-s", "sel"], input=data, text=False, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def send(port, data, sender="alice@good.test"):
    """One transaction; the reply to the end of the data.  The client
    waits up to 120 s for it: longer than any budget, shorter than the
    SMTP timeouts (RFC 5321 4.5.3.2.6: 10 minutes)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as c:
        c.ehlo("client.test")
        assert c.mail(sender)[0] == 250
        assert c.rcpt("bob@localhost")[0] == 250
        try:
            code, text = c.data(data)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
    return code, text.decode(errors="replace")


def results(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    ours = [f for f in msg.get_all("Authentication-Results") or []
            if f.strip().startswith(AUTHSERV)]
    assert len(ours) == 1, ours
    _, res = parse_ar("Authentication-Results: " +
                      ours[0].replace("\r\n", "\n") + "\n")
    first = {}
    for r in res:
        first.setdefault(r["method"], r)
    return first


def stored(dm):
    """What the server keeps: queue lines and delivered files."""
    files = glob.glob(os.path.join(dm.maildir, "*", "new", "*"))
    return dm.ctl("show", "queue").stdout.splitlines(), sorted(files)


def assert_all_temperror(raw):
    m = results(raw)
    for method in ("spf", "dkim", "dmarc", "iprev"):
        assert m[method]["result"] == "temperror", (method, m)


def wait_log(dm, text, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in dm.logtext():
            return
        time.sleep(0.1)
    raise AssertionError("%r not in the log:\n%s" % (text, dm.logtext()))


@pytest.mark.parametrize("kind", [Silent, Servfail, Closed])
def test_resolver_fails_relaxed_delivers_strict_defers(receiver, resolvers,
                                                       bed, kind):
    res = resolvers(kind)
    dm = receiver(res.resolver)
    code, text = send(dm.port, signed_message(bed))
    assert code == 250, text
    got = delivered(dm, "root")
    assert len(got) == 1
    assert_all_temperror(got[0])
    before = stored(dm)
    code, text = send(dm.strict_port, signed_message(bed))
    # RFC 7372 3.2: 4.7.24, SPF temperror, is the first check that fails
    assert (code, text.split()[0]) == (451, "4.7.24"), (code, text)
    assert stored(dm) == before and before[0] == []
    if kind is not Closed:
        assert res.queries > 0
    log = dm.logtext()
    assert "451 4.7.24" in log
    if kind is not Servfail:
        # the budget, not the per-query timeouts, ended both waits (for
        # libunbound, port unreachable is no answer: it tries again)
        assert log.count("DNS lookups stopped after 4s") == 2, log
    else:
        assert "DNS lookups stopped" not in log, log


def test_nsd_stops_answering_mid_traffic(receiver, bed):
    """nsd frozen between two messages: what the resolver has cached still
    answers (good.test), what it has not (two.test) is temperror; once
    nsd answers again, two.test passes: the failure was not kept."""
    dm = receiver(bed.resolver, bed.trust_anchor)
    code, text = send(dm.port, signed_message(bed))
    assert code == 250, text
    m = results(delivered(dm, "root")[0])
    assert m["spf"]["result"] == "pass" and m["dkim"]["result"] == "pass"
    bed.pause()
    try:
        code, text = send(dm.strict_port, signed_message(bed, "two.test"),
                          "alice@two.test")
        assert code == 451 and text.startswith("4.7."), (code, text)
        code, text = send(dm.port, signed_message(bed, "two.test"),
                          "alice@two.test")
        assert code == 250, text
        got = delivered(dm, "root", want=2)
        assert len(got) == 2
        m = results(got[1])
        for method in ("spf", "dkim", "dmarc"):
            assert m[method]["result"] == "temperror", (method, m)
    finally:
        bed.resume()
    # the client tries again, as clients do after a 451, until the
    # resolver's short memory of the failure (a few seconds) is gone
    deadline = time.time() + 90
    while True:
        code, text = send(dm.strict_port, signed_message(bed, "two.test"),
                          "alice@two.test")
        if code != 451 or time.time() > deadline:
            break
        time.sleep(1)
    assert code == 250, text
    got = delivered(dm, "root", want=3)
    m = results(got[2])
    assert m["spf"]["result"] == "pass" and m["dkim"]["result"] == "pass"
    assert m["dmarc"]["result"] == "pass"


# -- outbound ----------------------------------------------------------------

@pytest.fixture
def outbed(tmp_path):
    """A bed of its own: this test stops its nsd."""
    b = DnsBed(tmp_path / "outbed", addr="127.0.54.54")
    try:
        for z in ("near.test", "far.test"):
            b.zone(z, ["@ MX 10 mx.%s." % z, "mx A %s" % MX_ADDR])
        b.start()
        yield b
    finally:
        b.stop()


@pytest.fixture
def peer(tmp_path):
    p = SmtpPeer(tmp_path / "peer", addr=MX_ADDR)
    try:
        yield p.start()
    finally:
        p.stop()


# (the relay's own listener checks what it takes in too: a short budget
# spares the test the 20 s its checks would wait for the silent resolver)
RELAY_CONF = '''hostname out.dnsfail.test
resolver {r}{ta}
auth-dns-timeout 2s
mta-mx-allow-network 127.0.0.0/8
mta-timeout 4s
mta-connect-timeout 2s
queue retry 10m max 1h
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}"
action "out" relay
match from any for domain <locals> action "local"
match from any for any action "out"
'''


@pytest.fixture
def relays(daemon_factory, peer, tmp_path):
    def make(resolver, ta=None):
        dm = daemon_factory(sub="out")
        dm.maildir = str(tmp_path / "outmail")
        with open(dm.conf, "a") as f:
            f.write(RELAY_CONF.format(
                r=resolver, m=dm.maildir,
                ta=' trust-anchor "%s"' % ta if ta else ""))
        dm.peer = peer
        return dm.start()
    return make


OUT = (b"From: root@localhost\r\nTo: {rcpt}\r\nSubject: outbound\r\n"
       b"Message-ID: <{mid}@out.dnsfail.test>\r\n\r\nhello\r\n")


def relay_send(dm, rcpt):
    body = OUT.replace(b"{rcpt}", rcpt.encode()).replace(
        b"{mid}", str(time.time()).encode())
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
        c.ehlo("client.test")
        assert c.mail("root@localhost")[0] == 250
        assert c.rcpt(rcpt)[0] == 250
        assert c.data(body)[0] == 250


def queue_line(dm, rcpt, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = dm.ctl("show", "queue").stdout
        lines = [ln for ln in out.splitlines() if rcpt in ln]
        if lines and text in lines[0]:
            return lines[0]
        time.sleep(0.2)
    raise AssertionError("%s / %r not in the queue:\n%s\n%s" % (
        rcpt, text, out, dm.logtext()))


@pytest.mark.parametrize("kind", [Silent, Servfail])
def test_resolver_fails_outbound_deferred(relays, resolvers, kind):
    res = resolvers(kind)
    dm = relays(res.resolver)
    relay_send(dm, "b@far.test")
    why = "timed out" if kind is Silent else "SERVFAIL"
    line = queue_line(dm, "b@far.test", "DNS: MX lookup for far.test")
    assert why in line, line
    wait_log(dm, "temporary failure: DNS: MX lookup for far.test")
    assert "permanent failure" not in dm.logtext()
    assert dm.peer.accepted() == []
    assert delivered(dm, "root", want=1, timeout=1) == []    # no bounce


def test_nsd_stopped_outbound_deferred_then_delivered_once(relays, outbed):
    dm = relays(outbed.resolver, outbed.trust_anchor)
    relay_send(dm, "a@near.test")
    dm.peer.wait_messages(1, timeout=30)
    outbed.stop()
    try:
        relay_send(dm, "b@far.test")
        queue_line(dm, "b@far.test", "DNS: MX lookup for far.test")
        wait_log(dm, "temporary failure: DNS: MX lookup for far.test")
    finally:
        outbed.restart()
    # The next retry is 10 minutes away: the admin makes it due now, and
    # again while the resolver still remembers the failure (a few
    # seconds); each attempt is deferred again, never bounced.
    deadline = time.time() + 90
    while len(dm.peer.accepted()) < 2 and time.time() < deadline:
        assert dm.ctl("schedule", "all").returncode == 0
        wait = time.time() + 3
        while len(dm.peer.accepted()) < 2 and time.time() < wait:
            time.sleep(0.2)
    assert len(dm.peer.accepted()) == 2, (dm.ctl("show", "queue").stdout,
                                          dm.logtext())
    got = dm.peer.messages()
    assert b"To: b@far.test" in got[1]
    deadline = time.time() + 30
    while dm.ctl("show", "queue").stdout != "" and time.time() < deadline:
        time.sleep(0.2)
    assert dm.ctl("show", "queue").stdout == ""
    assert len(dm.peer.accepted()) == 2
    assert "permanent failure" not in dm.logtext()
    assert delivered(dm, "root", want=1, timeout=1) == []    # no bounce
    # a domain that does not exist is a permanent failure: it bounces
    relay_send(dm, "c@nosuch.test")
    wait_log(dm, "permanent failure: domain nosuch.test does not exist")
    assert len(delivered(dm, "root", want=1, timeout=30)) == 1

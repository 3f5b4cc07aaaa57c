"""authd in the mail path: every message is authenticated while it streams
in (SPF, DKIM, ARC, DMARC, iprev), gets one Authentication-Results field,
and the listener's policy refuses, defers or quarantines.  DNS is nsd
(regress/dnsbed.py) serving signed zones; signatures come from
`posternctl dkim sign`, keys from `posternctl dkim keygen`."""
import email
import glob
import os
import re
import email.policy
import smtplib
import time

import pytest

from conftest import POSTERNCTL, next_port, run
from dnsbed import DnsBed
from test_check import parse_ar
from test_smtp import delivered

MSG = (b"From: Alice <alice@{dom}>\r\nTo: bob@localhost\r\n"
       b"Subject: auth\r\nMessage-ID: <{mid}@{dom}>\r\n\r\nhello\r\n")


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("authbed")
    key = str(tmp / "k.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "good.test", "-s", "sel", "-o", key])
    assert r.returncode == 0, r.stderr
    record = r.stdout[r.stdout.index("IN TXT") + 3:]
    b = DnsBed(tmp / "bed", addr="127.0.53.3")
    try:
        b.zone("good.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                             '_dmarc TXT "v=DMARC1; p=reject"',
                             "sel._domainkey " + record])
        b.zone("reject.test", ['@ TXT "v=spf1 -all"',
                               '_dmarc TXT "v=DMARC1; p=reject"'])
        b.zone("quar.test", ['@ TXT "v=spf1 -all"',
                             '_dmarc TXT "v=DMARC1; p=quarantine"'])
        b.zone("none.test", ['@ TXT "v=spf1 -all"',
                             '_dmarc TXT "v=DMARC1; p=none"'])
        b.start()
        b.key = key
        b.record = record
        yield b
    finally:
        b.stop()


@pytest.fixture
def mx(daemon_factory, bed, tmp_path):
    dm = daemon_factory(sub="mx")
    dm.maildir = str(tmp_path / "mail")
    dm.strict_port = next_port()
    dm.reject_port = next_port()
    dm.junk_port = next_port()
    dm.partial_port = next_port()
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
resolver {r} trust-anchor "{ta}"
policy tight {{
	dmarc strict
	dkim strict
}}
policy spfreject {{ spf relaxed reject-fail }}
policy junk {{ dmarc strict quarantine folder "Junk" }}
policy partial {{ dkim relaxed fail-partial-body }}
listen on 127.0.0.1 port {sp} policy tight
listen on 127.0.0.1 port {rp} policy spfreject
listen on 127.0.0.1 port {jp} policy junk
listen on 127.0.0.1 port {pp} policy partial
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(r=bed.resolver, ta=bed.trust_anchor, m=dm.maildir,
           sp=dm.strict_port, rp=dm.reject_port, jp=dm.junk_port,
           pp=dm.partial_port))
    return dm.start()


def message(dom, extra=b""):
    return extra + MSG.replace(b"{dom}", dom.encode()).replace(
        b"{mid}", str(time.time()).encode())


def send(port, sender, data, expect=250):
    with smtplib.SMTP("127.0.0.1", port) as c:
        c.ehlo("client.test")
        assert c.mail(sender)[0] == 250
        assert c.rcpt("bob@localhost")[0] == 250
        try:
            code, text = c.data(data)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
    assert code == expect, (code, text)
    return text


def ar_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    fields = msg.get_all("Authentication-Results") or []
    return fields


def results(raw):
    fields = ar_of(raw)
    ours = [f for f in fields if f.strip().startswith("mx.example.test")]
    assert len(ours) == 1, fields
    authserv, res = parse_ar("Authentication-Results: " +
                             ours[0].replace("\r\n", "\n") + "\n")
    first = {}
    for r in res:       # the MAIL FROM spf first, then the HELO one
        first.setdefault(r["method"], r)
    return first


def sign(bed, data, *extra):
    r = run([POSTERNCTL, "dkim", "sign", "-k", bed.key, "-d", "good.test",
             "-s", "sel", *extra], input=data, text=False, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_every_message_gets_authentication_results(mx, bed):
    send(mx.port, "alice@good.test", sign(bed, message("good.test")))
    got = delivered(mx, "root")
    assert len(got) == 1
    m = results(got[0])
    assert m["spf"]["result"] == "pass"
    assert m["spf"]["props"]["smtp.mailfrom"] == "alice@good.test"
    assert m["dkim"]["result"] == "pass"
    assert m["dkim"]["props"]["header.d"] == "good.test"
    assert m["dmarc"]["result"] == "pass"
    assert m["dmarc"]["props"]["header.from"] == "good.test"
    assert m["arc"]["result"] == "none"
    assert m["iprev"]["result"] in ("fail", "permerror", "temperror")


def test_relaxed_records_a_dmarc_failure(mx):
    send(mx.port, "x@reject.test", message("reject.test"))
    got = delivered(mx, "root")
    m = results(got[0])
    assert m["spf"]["result"] == "fail"
    assert m["dmarc"]["result"] == "fail"
    assert m["dmarc"]["props"]["policy.dmarc"] == "reject"


def test_strict_refuses_dmarc_reject_and_stores_nothing(mx):
    text = send(mx.strict_port, "x@reject.test", message("reject.test"),
                expect=550)
    assert text.startswith(b"5.7.1")
    assert b"DMARC" in text
    time.sleep(0.5)
    assert delivered(mx, "root", timeout=0) == []
    assert mx.ctl("show", "queue").stdout == ""
    stats = mx.ctl("show", "stats").stdout
    assert "smtp.messages.rejected.policy=1" in stats
    # a message that passes goes through the same listener
    send(mx.strict_port, "alice@good.test", message("good.test"))
    assert len(delivered(mx, "root")) == 1


def test_strict_quarantine_delivers_marked(mx):
    send(mx.strict_port, "x@quar.test", message("quar.test"))
    got = delivered(mx, "root")
    m = results(got[0])
    assert m["dmarc"]["result"] == "fail"
    assert m["dmarc"]["props"]["policy.dmarc"] == "quarantine"
    assert "smtp.messages.quarantined=1" in mx.ctl("show", "stats").stdout


def test_quarantine_to_a_folder(mx):
    send(mx.junk_port, "x@quar.test", message("quar.test"))
    got = delivered(mx, "root/.Junk")
    assert len(got) == 1
    assert results(got[0])["dmarc"]["props"]["policy.dmarc"] == "quarantine"
    assert delivered(mx, "root", timeout=0) == []
    # a message that passes DMARC goes to the inbox
    send(mx.junk_port, "alice@good.test", message("good.test"))
    assert len(delivered(mx, "root")) == 1
    assert len(delivered(mx, "root/.Junk", timeout=0)) == 1


def test_spf_reject_fail_at_mail_time(mx):
    """RFC 7208 8.4: the MAIL command itself is refused."""
    with smtplib.SMTP("127.0.0.1", mx.reject_port) as c:
        c.ehlo("client.test")
        code, text = c.mail("x@none.test")
        assert code == 550 and text.startswith(b"5.7.23"), (code, text)
        # the session goes on: a sender that passes is taken
        assert c.mail("alice@good.test")[0] == 250
        assert c.rcpt("bob@localhost")[0] == 250
        assert c.data(message("good.test"))[0] == 250
    got = delivered(mx, "root")
    assert len(got) == 1
    assert results(got[0])["spf"]["result"] == "pass"


def test_forged_authentication_results_removed(mx):
    """smtpd/arstrip.c: A-R fields with our authserv-id are dropped on the
    way to the queue (RFC 8601 5), any case, with a trailing dot; others
    stay."""
    forged = (b"Authentication-Results: mx.example.test; dmarc=pass "
              b"header.from=reject.test\r\n"
              b"Authentication-Results: MX.Example.Test.;\r\n\tspf=pass\r\n"
              b"Authentication-Results: other.example; spf=pass\r\n")
    send(mx.port, "x@reject.test", message("reject.test", forged))
    got = delivered(mx, "root")
    fields = ar_of(got[0])
    # ours (the real one) and the other server's stay; forged ones go
    assert len(fields) == 2, fields
    assert any(f.strip().startswith("other.example") for f in fields)
    m = results(got[0])
    assert m["dmarc"]["result"] == "fail"
    stats = mx.ctl("show", "stats").stdout
    assert "smtp.forged_authentication_results_removed=2" in stats


def test_check_message_agrees_with_the_daemon(mx, bed):
    """posternctl check message prints what the daemon wrote."""
    data = sign(bed, message("good.test"))
    send(mx.port, "alice@good.test", data)
    got = delivered(mx, "root")
    daemon = results(got[0])
    r = run([POSTERNCTL, "check", "message", "--ip", "127.0.0.1", "--helo",
             "client.test", "--mail-from", "alice@good.test",
             "--authserv-id", "mx.example.test", "--resolver", bed.resolver,
             "--trust-anchor", bed.trust_anchor], input=data.decode(),
            timeout=30)
    assert r.returncode == 0, r.stderr
    _, res = parse_ar(r.stdout)
    offline = {}
    for x in res:
        offline.setdefault(x["method"], x)
    for method in ("spf", "dkim", "arc", "dmarc"):
        assert offline[method]["result"] == daemon[method]["result"], method
        assert offline[method]["props"] == daemon[method]["props"], method


@pytest.fixture
def signer(daemon_factory, bed, tmp_path):
    dm = daemon_factory(sub="signer")
    dm.maildir = str(tmp_path / "smail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
resolver {r} trust-anchor "{ta}"
dkim-signature ed {{
	key "{key}"
	domain good.test
	selector sel
	algorithm ed25519-sha256
}}
sign with ed domain good.test
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(r=bed.resolver, ta=bed.trust_anchor, key=bed.key,
           m=dm.maildir))
    return dm.start()


def test_outgoing_mail_is_signed_and_verifies_elsewhere(signer, bed):
    import dkim
    txt = "".join(re.findall(r'"([^"]*)"', bed.record))
    send(signer.port, "alice@good.test", message("good.test"))
    got = delivered(signer, "root")
    assert len(got) == 1
    raw = got[0]
    assert b"DKIM-Signature:" in raw
    # Debian's python3-dkim checks our signature (RFC 8463 Ed25519) ...
    start = raw.index(b"DKIM-Signature:")

    def dnsfunc(name, timeout=5):
        assert name == b"sel._domainkey.good.test."
        return txt.encode()
    assert dkim.verify(raw[start:], dnsfunc=dnsfunc)
    # ... and so does our own verifier, in the A-R of the same message
    # (authd verified the message before it signed it: dkim=none there)
    m = results(raw)
    assert m["dmarc"]["result"] == "pass"
    # other domains are not signed by this rule
    send(signer.port, "x@reject.test", message("reject.test"))
    got = delivered(signer, "root", want=2)
    assert sum(b"DKIM-Signature:" in g for g in got) == 1
    assert "signed for good.test with ed" in signer.logtext()


# --- issue 14: the shape of the header does not get past DMARC ---
# RFC 9989 5.3.1 and 11.5: no From field, From fields naming several
# Author Domains, or a header past authd's reading limits (1,000 fields)
# before the From field: refused under dmarc strict, marked under relaxed.

PADDED = b"".join(b"X-Pad-%d: padding\r\n" % i for i in range(1001))
SHAPES = {
    "padded": PADDED + message("reject.test"),
    "two-from": b"From: <alice@good.test>\r\n" + message("reject.test"),
    "no-from": (b"To: bob@localhost\r\nSubject: no author\r\n\r\n"
                b"hello\r\n"),
}


def assert_nothing_stored(mx):
    time.sleep(0.5)
    assert delivered(mx, "root", timeout=0) == []
    assert mx.ctl("show", "queue").stdout == ""


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_strict_refuses_a_header_dmarc_cannot_judge(mx, shape):
    # SPF passes for good.test, which is one Author Domain of two-from
    text = send(mx.strict_port, "alice@good.test", SHAPES[shape],
                expect=550)
    assert text.startswith(b"5.7.1"), text
    assert b"DMARC" in text, text
    if shape == "two-from":
        assert b"reject.test" in text       # the strictest failing policy
    assert_nothing_stored(mx)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_relaxed_marks_a_header_dmarc_cannot_judge(mx, shape):
    send(mx.port, "alice@good.test", SHAPES[shape])
    got = delivered(mx, "root")
    assert len(got) == 1
    # stored whole: every padding field, not only what authd read
    assert got[0].endswith(SHAPES[shape])
    m = results(got[0])
    if shape == "two-from":
        assert m["dmarc"]["result"] == "fail"
        assert m["dmarc"]["props"]["header.from"] == "reject.test"
        assert m["dmarc"]["props"]["policy.dmarc"] == "reject"
        assert any("2 Author Domains" in c for c in m["dmarc"]["comments"])
    else:
        assert m["dmarc"]["result"] == "permerror"
        why = "limits" if shape == "padded" else "no From field"
        assert any(why in c for c in m["dmarc"]["comments"]), m["dmarc"]


def test_dkim_body_length_limit(mx, bed):
    """RFC 6376 8.2: what follows l= is anybody's: a pass says so, and
    fail-partial-body makes it a failure."""
    signed = sign(bed, message("good.test"), "-l")
    data = signed + b"PS: added later\r\n"
    assert b"l=7" in data[:data.index(b"\r\n\r\n")]
    send(mx.port, "bob@reject.test", data)
    m = results(delivered(mx, "root")[0])
    assert m["dkim"]["result"] == "pass"
    assert any("body length limit: 7 of 24 octets signed" in c
               for c in m["dkim"]["comments"]), m["dkim"]
    assert m["dmarc"]["result"] == "pass"
    os.unlink(glob.glob(os.path.join(mx.maildir, "root", "new", "*"))[0])

    send(mx.partial_port, "bob@reject.test", data)
    m = results(delivered(mx, "root")[0])
    assert m["dkim"]["result"] == "fail"
    assert any("unsigned content" in c for c in m["dkim"]["comments"])
    # the envelope is reject.test's, whose SPF fails: nothing aligns now
    assert m["dmarc"]["result"] == "fail"
    os.unlink(glob.glob(os.path.join(mx.maildir, "root", "new", "*"))[0])

    # a signature over the whole body passes plainly on that listener
    send(mx.partial_port, "bob@reject.test", signed)
    m = results(delivered(mx, "root")[0])
    assert m["dkim"]["result"] == "pass"
    assert not any("body length" in c for c in m["dkim"]["comments"])

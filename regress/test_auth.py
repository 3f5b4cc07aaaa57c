"""authd in the mail path: every message is authenticated while it streams
in (SPF, DKIM, ARC, DMARC, iprev), gets one Authentication-Results field,
and the listener's policy refuses, defers or quarantines.  DNS is nsd
(regress/dnsbed.py) serving signed zones; signatures come from
`posternctl dkim sign`, keys from `posternctl dkim keygen`."""
import email
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
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
resolver {r} trust-anchor "{ta}"
policy tight {{
	dmarc strict
	dkim strict
}}
policy spfreject {{ spf relaxed reject-fail }}
policy junk {{ dmarc strict quarantine folder "Junk" }}
listen on 127.0.0.1 port {sp} policy tight
listen on 127.0.0.1 port {rp} policy spfreject
listen on 127.0.0.1 port {jp} policy junk
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(r=bed.resolver, ta=bed.trust_anchor, m=dm.maildir,
           sp=dm.strict_port, rp=dm.reject_port, jp=dm.junk_port))
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


def sign(bed, data):
    r = run([POSTERNCTL, "dkim", "sign", "-k", bed.key, "-d", "good.test",
             "-s", "sel"], input=data, text=False, timeout=30)
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

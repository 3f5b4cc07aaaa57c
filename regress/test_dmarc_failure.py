"""DMARC failure reports (RFC 9991) through the real daemon, DNS from nsd
(regress/dnsbed.py): a message that fails DMARC from a domain whose record
has ruf= and fo=1 makes authd hand its header section to reportd, which
mails an ARF report (RFC 5965, RFC 6591) to a sink; Python's email package
parses it as multipart/report; report-type=feedback-report with the
fields RFC 9991 4 asks for and the redacted header section.  fo=0 against
fo=1 for a message that passes one mechanism; `reports failure no` (the
default) sends nothing; `reports failure-max` holds, across a restart
too (the counters are in the evaluation store); an external ruf
without its _report._dmarc authorization gets nothing; hostile header
sections (8-bit, CRLF folded or encoded into From, huge fields) cannot
break the report.  DKIM failure reports (RFC 6651: r=y, _report._domainkey)
and SPF failure reports (RFC 6652: ra=, rr= modifiers) likewise.

Modules covered: reportd/arf.c, reportd/failure.c, reportd/outq.c,
reportd/report_dest.c, reportd/evalstore.c,
auth/ruf.c"""
import base64
import email
import email.policy
import os
import re
import socket
import time

import pytest

from conftest import POSTERNCTL, run
from dnsbed import DnsBed
from test_dmarc_send import (SINK, check_conf, make_mx, sink,  # noqa: F401
                             wait_log)

FAILING = b"""From: Alice <alice@{dom}>\r
To: bob@localhost\r
Subject: failing {n}\r
Message-ID: <m{n}.{t}@{dom}>\r
List-Unsubscribe: <https://{dom}/unsub>\r
\r
body that is never reported\r
"""

REPORTS = '''mta-mx-allow-network 127.0.0.0/8
queue retry 1s max 2s
reports from "dmarc-reports@mx.example.test" org "Example Receiver"
'''
FAILURE_ON = REPORTS + "reports failure yes\n"


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rufbed")
    b = DnsBed(tmp / "bed", addr="127.0.53.9")
    try:
        mx = ['@ MX 10 mx', 'mx A ' + SINK]
        # SPF passes for 127.0.0.1 only; no DKIM anywhere
        spf = '@ TXT "v=spf1 ip4:127.0.0.1 -all"'
        b.zone("fail.test", ['@ TXT "v=spf1 ip4:127.0.0.9 -all"',
                             '_dmarc TXT "v=DMARC1; p=none; fo=1; '
                             'ruf=mailto:ruf@fail.test"'] + mx)
        b.zone("fo0.test", [spf, '_dmarc TXT "v=DMARC1; p=none; fo=0; '
                            'ruf=mailto:ruf@fo0.test"'] + mx)
        b.zone("fo1.test", [spf, '_dmarc TXT "v=DMARC1; p=none; fo=1; '
                            'ruf=mailto:ruf@fo1.test"'] + mx)
        b.zone("ext.test", ['@ TXT "v=spf1 -all"',
                            '_dmarc TXT "v=DMARC1; p=none; '
                            'ruf=mailto:x@noauth.test,mailto:y@rcv.test"']
               + mx)
        b.zone("rcv.test", ['ext.test._report._dmarc TXT "v=DMARC1"'] + mx)
        b.zone("noauth.test", mx)
        # RFC 6651: a signer's key and its reporting record
        key = str(tmp / "dk.pem")
        r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
                 "dk.test", "-s", "sel", "-o", key])
        assert r.returncode == 0, r.stderr
        txt = "".join(re.findall(r'"([^"]*)"',
                                 r.stdout[r.stdout.index("IN TXT") + 3:]))
        b.zone("dk.test", [spf, 'sel._domainkey TXT "%s"' % txt,
                           '_report._domainkey TXT "ra=dkim=2Dfail; '
                           'rr=v:s"'] + mx)
        b.zone("dkv.test", [spf, 'sel._domainkey TXT "%s"' % txt,
                            '_report._domainkey TXT "ra=r; rr=x"'] + mx)
        # RFC 6652: SPF records that ask for reports, of fail or not
        b.zone("spfr.test", ['@ TXT "v=spf1 ip4:127.0.0.9 -all '
                             'ra=spf-fail rr=s:f"'] + mx)
        b.zone("spfn.test", ['@ TXT "v=spf1 ip4:127.0.0.9 -all ra=x '
                             'rr=s"'] + mx)
        # RFC 6652 3: rr= for softfail, neutral, errors; "all" when
        # absent; a result rr= does not name is not reported
        b.zone("soft.test", ['@ TXT "v=spf1 ip4:127.0.0.9 ~all ra=soft '
                             'rr=s"'] + mx)
        b.zone("softf.test", ['@ TXT "v=spf1 ip4:127.0.0.9 ~all ra=nope '
                              'rr=f:e:n"'] + mx)
        b.zone("neut.test", ['@ TXT "v=spf1 ip4:127.0.0.9 ?all ra=neut '
                             'rr=n"'] + mx)
        b.zone("perm.test", ['@ TXT "v=spf1 include:nowhere.perm.test -all '
                             'ra=perm rr=e"'] + mx)
        b.zone("dflt.test", ['@ TXT "v=spf1 ip4:127.0.0.9 ~all '
                             'ra=dflt"'] + mx)
        b.zone("psd.test", ['@ TXT "v=spf1 -all"',
                            '_dmarc TXT "v=DMARC1; p=none; psd=y; '
                            'ruf=mailto:ruf@psd.test"'] + mx)
        b.start()
        yield b
    finally:
        b.stop()


def smtp_raw(port, src, mfrom, data):
    """One transaction over a plain socket, so that the message's bytes
    reach the server as they are (smtplib rewrites bare CR and LF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(src, 0)) as s:
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                assert line, "connection closed"
                if line[3:4] != b"-":
                    return int(line[:3]), line

        def cmd(c):
            s.sendall(c + b"\r\n")
            return reply()
        assert reply()[0] == 220
        assert cmd(b"EHLO client.test")[0] == 250
        assert cmd(b"MAIL FROM:<" + mfrom.encode() + b">")[0] == 250
        assert cmd(b"RCPT TO:<bob@localhost>")[0] == 250
        assert cmd(b"DATA")[0] == 354
        body = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                            for ln in data.split(b"\r\n"))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        s.sendall(body + b".\r\n")
        code, text = reply()
        assert code == 250, text
        cmd(b"QUIT")


def send(port, dom, src="127.0.0.1", n=0, data=None):
    if data is None:
        data = FAILING.replace(b"{dom}", dom.encode()).replace(
            b"{n}", str(n).encode()).replace(
            b"{t}", str(time.time()).encode())
    smtp_raw(port, src, "alice@" + dom, data)


def stat(dm, name):
    for line in dm.ctl("show", "stats").stdout.splitlines():
        k, _, v = line.partition("=")
        if k.strip() == name:
            return int(v)
    return None


def wait_stat(dm, name, want, timeout=20):
    deadline = time.time() + timeout
    while (stat(dm, name) or 0) < want:
        assert time.time() < deadline, "%s < %d:\n%s" % (
            name, want, dm.logtext()[-3000:])
        time.sleep(0.1)


def parse_report(raw):
    """The report (email.message), its feedback fields and its header
    section; every structural rule of RFC 5965 2 checked on the way."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "feedback-report"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/feedback-report", "text/rfc822-headers"]
    fb = parts[1].get_payload()
    assert len(fb) == 1
    fields = fb[0]
    headers = parts[2].get_payload(decode=True)
    assert not msg.defects, msg.defects
    return msg, fields, headers


@pytest.fixture
def ruf(daemon_factory, bed, tmp_path, sink):
    return make_mx(daemon_factory, bed, tmp_path, FAILURE_ON).start()


def test_report_sent_and_parsed(ruf, sink):
    send(ruf.port, "fail.test")
    raw = sink.wait_messages(1, timeout=20)[0]
    acc = sink.accepted()
    assert acc[0]["rcpts"] == ["ruf@fail.test"]
    assert acc[0]["mail_from"] == "dmarc-reports@mx.example.test"
    msg, f, headers = parse_report(raw)
    assert msg["From"].addresses[0].addr_spec == \
        "dmarc-reports@mx.example.test"
    assert f["Feedback-Type"] == "auth-failure"
    assert f["Version"] == "1"
    assert f["User-Agent"] == "postern"
    assert f["Auth-Failure"] == "dmarc"
    assert f["Source-IP"] == "127.0.0.1"
    assert f["Reported-Domain"] == "fail.test"
    # RFC 9991 4: both failed to authenticate an aligned identity
    assert f["Identity-Alignment"] == "dkim, spf"
    assert f["SPF-DNS"] == "txt : fail.test"
    assert f["Arrival-Date"]
    assert f["Original-Mail-From"].endswith("@fail.test>")
    assert "dmarc=fail" in f["Authentication-Results"]
    # the header section, redacted (RFC 9991 8, RFC 6590); no body
    assert b"Subject: failing 0" in headers
    assert b"@fail.test" in headers
    assert b"alice" not in raw and b"bob@" not in raw
    assert b"hxxps://fail.test/unsub" in headers
    assert b"https:" not in headers
    assert b"never reported" not in raw
    # the report itself asks for no answer (RFC 3834)
    assert msg["Auto-Submitted"] == "auto-generated"
    wait_stat(ruf, "reportd.failure.queued", 1)


def test_fo0_against_fo1(ruf, sink):
    """From 127.0.0.1 SPF passes aligned, DKIM is absent: DMARC passes,
    fo=0 (all failed) asks nothing, fo=1 (any failed) asks a report."""
    send(ruf.port, "fo0.test", n=1)
    send(ruf.port, "fo1.test", n=2)
    send(ruf.port, "fo0.test", src="127.0.0.2", n=3)   # fails both
    msgs = sink.wait_messages(2, timeout=20)
    time.sleep(2)
    msgs = sink.messages()
    assert len(msgs) == 2
    got = {}
    for raw in msgs:
        _, f, headers = parse_report(raw)
        got[f["Reported-Domain"]] = (f["Source-IP"],
                                     f["Identity-Alignment"])
    assert got == {"fo1.test": ("127.0.0.1", "dkim"),
                   "fo0.test": ("127.0.0.2", "dkim, spf")}


def test_failure_off_sends_nothing(daemon_factory, bed, tmp_path, sink):
    dm = make_mx(daemon_factory, bed, tmp_path, REPORTS).start()
    send(dm.port, "fail.test")
    wait_stat(dm, "reportd.failure.off", 1)
    time.sleep(1)
    assert sink.accepted() == []


def test_rate_limit(daemon_factory, bed, tmp_path, sink):
    dm = make_mx(daemon_factory, bed, tmp_path,
                 FAILURE_ON + "reports failure-max 2\n").start()
    for n in range(5):
        send(dm.port, "fail.test", n=n)
    wait_stat(dm, "reportd.failure.limited", 3)
    wait_log(dm, "reports failure-max reached this hour")
    sink.wait_messages(2, timeout=20)
    time.sleep(1)
    assert len(sink.accepted()) == 2
    assert stat(dm, "reportd.failure.queued") == 2


def test_rate_limit_survives_restart(daemon_factory, bed, tmp_path, sink):
    """The hourly counters are in the evaluation store: a restart does not
    make room for more reports in the same hour."""
    hour = int(time.time()) // 3600
    dm = make_mx(daemon_factory, bed, tmp_path,
                 FAILURE_ON + "reports failure-max 1\n").start()
    send(dm.port, "fail.test", n=0)
    sink.wait_messages(1, timeout=20)
    wait_stat(dm, "reportd.failure.queued", 1)
    dm.stop()
    # the control socket's directory goes with stop(); start makes it anew
    os.makedirs(dm.sockdir, exist_ok=True)
    os.chmod(dm.sockdir, 0o755)
    dm.start()
    send(dm.port, "fail.test", n=1)
    wait_stat(dm, "reportd.failure.limited", 1)
    wait_log(dm, "reports failure-max reached this hour")
    time.sleep(1)
    if int(time.time()) // 3600 != hour:
        pytest.skip("an hour began during the test")
    assert len(sink.accepted()) == 1
    assert (stat(dm, "reportd.failure.queued") or 0) == 0


def test_external_ruf_needs_authorization(ruf, sink):
    send(ruf.port, "ext.test")
    raw = sink.wait_messages(1, timeout=20)[0]
    wait_log(ruf, "not sent to <x@noauth.test>: no authorization record")
    time.sleep(1)
    acc = sink.accepted()
    assert len(acc) == 1 and acc[0]["rcpts"] == ["y@rcv.test"]
    parse_report(raw)


def test_psd_record_not_considered(ruf, sink):
    send(ruf.port, "psd.test")
    send(ruf.port, "fail.test")     # a report after it: the order holds
    sink.wait_messages(1, timeout=20)
    time.sleep(1)
    acc = sink.accepted()
    assert [a["rcpts"] for a in acc] == [["ruf@fail.test"]]


def test_hostile_header_section(ruf, sink):
    # one huge field that fits the kept section (smtp takes no line over
    # 1000 octets: folded), one that goes past it (the section is cut at
    # the end of a line)
    huge = (b"X-Huge: " + b"\r\n ".join([b"w" * 60] * 500) + b"\r\n" +
            b"X-Huger: " + b"\r\n ".join([b"v" * 60] * 700) + b"\r\n")
    # smtp refuses a bare CR or LF (RFC 5321 2.3.8; the unit test feeds
    # them to the builder): CRLF comes encoded or folded into the From
    data = (b"From: \"Eve\r\n Bcc: victim2@evil.test\" <alice@fail.test>\r\n"
            b"Reply-To: =?utf-8?q?Eve=0D=0ABcc:_victim@evil.test?=\r\n"
            b" <eve@fail.test>\r\n"
            b"To: bob@localhost\r\n"
            b"Subject: caf\xc3\xa9 \x01\x1b[31m 8-bit\r\n"
            b"X-Boundary-Like: --" + b"=" * 40 + b"\r\n" +
            huge +
            b"X-Late: after the huge one\r\n"
            b"\r\nbody\r\n")
    send(ruf.port, "fail.test", data=data)
    raw = sink.wait_messages(1, timeout=20)[0]
    msg, f, headers = parse_report(raw)
    assert sink.accepted()[0]["rcpts"] == ["ruf@fail.test"]
    assert msg["Bcc"] is None and msg["Subject"].startswith("DMARC")
    assert all(b < 0x80 for b in raw)
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
        assert b"\r" not in line and b"\n" not in line
    assert f["Reported-Domain"] == "fail.test"
    assert b"victim" not in raw and b"\r\nBcc" not in headers
    assert b"@evil.test" in headers
    assert headers.count(b"w" * 60) == 500
    assert b"X-Huger: vvv" in headers and b"X-Late" not in headers
    assert headers.count(b"v" * 60) < 700
    # the section is cut at its bound on a line's end, never mid-line
    assert headers.endswith(b"\r\n")


def test_config(tmp_path):
    r = check_conf(tmp_path, 'reports from "d@example.org" org "Ex"\n'
                   "reports failure yes\nreports failure-max 5\n")
    assert r.returncode == 0, r.stderr
    for bad in ("reports failure-max 0", "reports failure-max 100001"):
        r = check_conf(tmp_path, bad + "\n")
        assert r.returncode != 0 and "failure-max is 1 to" in r.stderr


def dkim_failing(dom, r):
    """A message with a DKIM signature of dom whose body hash is wrong (a
    failure of verification, RFC 6651 rr=v), asking reports or not."""
    bh = base64.b64encode(os.urandom(32)).decode()
    sig = base64.b64encode(os.urandom(64)).decode()
    return ("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
            " d={d}; s=sel;{r} h=from:to:subject;\r\n"
            " bh={bh};\r\n b={sig}\r\n"
            "From: carol@{d}\r\nTo: bob@localhost\r\n"
            "Subject: signed {rr}\r\n\r\nbody\r\n").format(
        d=dom, r=" r=y;" if r else "", bh=bh, sig=sig,
        rr="r=y" if r else "no r").encode()


def test_dkim_failure_report(ruf, sink):
    """RFC 6651: a signature with r=y that fails verification is reported
    to ra= at its domain (_report._domainkey); without r=y, or when rr=
    asks for other failures, nothing."""
    send(ruf.port, "dk.test", data=dkim_failing("dk.test", False))
    send(ruf.port, "dkv.test", data=dkim_failing("dkv.test", True))
    send(ruf.port, "dk.test", data=dkim_failing("dk.test", True))
    raw = sink.wait_messages(1, timeout=20)[0]
    wait_log(ruf, "rr= asks for other failures")
    time.sleep(1)
    acc = sink.accepted()
    assert len(acc) == 1 and acc[0]["rcpts"] == ["dkim-fail@dk.test"]
    msg, f, headers = parse_report(raw)
    assert msg["Subject"].startswith("DKIM failure report for dk.test")
    assert f["Feedback-Type"] == "auth-failure"
    assert f["Auth-Failure"] == "bodyhash"
    assert f["DKIM-Domain"] == "dk.test"
    assert f["DKIM-Selector"] == "sel"
    assert f["DKIM-Identity"] == "@dk.test"
    assert f["Source-IP"] == "127.0.0.1"
    assert f["Identity-Alignment"] is None
    assert b"Subject: signed r=y" in headers


def test_spf_failure_report(ruf, sink):
    """RFC 6652: SPF fails and the record has ra= with an rr= that asks
    for fail results: a report to ra= at the domain; rr=s only: none."""
    send(ruf.port, "spfn.test")
    send(ruf.port, "spfr.test")
    raw = sink.wait_messages(1, timeout=20)[0]
    wait_log(ruf, "rr= asks for other failures")
    time.sleep(1)
    acc = sink.accepted()
    assert len(acc) == 1 and acc[0]["rcpts"] == ["spf-fail@spfr.test"]
    msg, f, headers = parse_report(raw)
    assert msg["Subject"].startswith("SPF failure report for spfr.test")
    assert f["Auth-Failure"] == "spf"
    assert f["SPF-DNS"] == "txt : spfr.test"
    assert f["Reported-Domain"] == "spfr.test"
    assert f["Original-Mail-From"].endswith("@spfr.test>")
    assert b"alice" not in raw


def test_spf_rr_results(ruf, sink):
    """RFC 6652 3: rr=s reports a softfail, rr=n a neutral, rr=e a
    permerror, no rr= (all) a softfail; rr=f:e:n does not report a
    softfail.  Each report names the result it is about."""
    for dom in ("softf.test", "soft.test", "neut.test", "perm.test",
                "dflt.test"):
        send(ruf.port, dom)
    msgs = sink.wait_messages(4, timeout=30)
    wait_log(ruf, "rr= asks for other failures")
    time.sleep(1)
    msgs = sink.messages()
    got = {}
    for raw in msgs:
        _, f, _ = parse_report(raw)
        assert f["Auth-Failure"] == "spf"
        got[f["Reported-Domain"]] = re.search(
            r"spf=(\w+)", f["Authentication-Results"]).group(1)
    assert got == {"soft.test": "softfail", "neut.test": "neutral",
                   "perm.test": "permerror", "dflt.test": "softfail"}
    rcpts = sorted(a["rcpts"][0] for a in sink.accepted())
    assert rcpts == ["dflt@dflt.test", "neut@neut.test", "perm@perm.test",
                     "soft@soft.test"]


def test_report_dkim_signed(daemon_factory, bed, tmp_path, sink):
    """reports sign with: a failure report verifies with another DKIM
    implementation (python3-dkim), d= the From domain of the reports."""
    import dkim
    key = str(tmp_path / "rk.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "mx.example.test", "-s", "rpt", "-o", key])
    assert r.returncode == 0, r.stderr
    txt = "".join(re.findall(r'"([^"]*)"',
                             r.stdout[r.stdout.index("IN TXT") + 3:]))
    dm = make_mx(daemon_factory, bed, tmp_path, FAILURE_ON + """
dkim-signature rpt {{
	key "{key}"
	domain mx.example.test
	selector rpt
	algorithm ed25519-sha256
}}
reports sign with rpt
""".format(key=key)).start()
    send(dm.port, "fail.test")
    raw = sink.wait_messages(1, timeout=20)[0]
    start = raw.index(b"DKIM-Signature:")

    def dnsfunc(name, timeout=5):
        assert name == b"rpt._domainkey.mx.example.test."
        return txt.encode()
    assert dkim.verify(raw[start:], dnsfunc=dnsfunc)
    assert b"d=mx.example.test" in raw[start:raw.index(b"\r\nFrom:")]
    assert not dkim.verify(raw[start:].replace(b"Source-IP: 127.0.0.1",
                                               b"Source-IP: 127.0.0.2"),
                           dnsfunc=dnsfunc)
    parse_report(raw)

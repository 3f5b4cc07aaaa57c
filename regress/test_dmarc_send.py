"""Sending DMARC aggregate reports (RFC 9990): messages from several
loopback sources with varied SPF results reach reportd as evaluations;
`posternctl report dmarc print DOMAIN` writes the open period's report,
which validates against the RFC's XSD (xmllint --schema) and whose rows
count exactly what was sent, by source and result; `report dmarc send`
mails it (gzip, the RFC's subject, filename and media type) through the
queue and the mta to a sink, to every authorized rua (RFC 9990 4) within
its size limit (in parts when over it), DKIM-signed with `reports sign
with`, through the routes;
exactly once across kill -9 at the dangerous points and restarts; no
reports about reports (a domain whose evaluations are all of report mail
gets none, report mail is counted alongside other mail); periods
that ended while the daemon was down are reported at start; a failing
destination gets a quiet DSN to the postmaster and is suppressed.  DNS is
nsd (regress/dnsbed.py) on its own bed address.

Modules covered: reportd/dmarc_agg.c, reportd/reportd.c, reportd/send.c,
reportd/agg_parts.c,
auth/reportmark.c, auth/dmarc_eval.c,
reportd/report_mail.c, reportd/sentlog.c, queue/report_in.c,
posternd/parse_reports.c"""
import email
import email.policy
import gzip
import json
import os
import re
import smtplib
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import POSTERNCTL, POSTERND, next_port, run
from dnsbed import DnsBed
from peers import SmtpPeer
from test_reports import MSG
from test_smtp import delivered

HERE = os.path.dirname(os.path.abspath(__file__))
XSD = os.path.join(HERE, "data", "dmarc", "dmarc-aggregate-report.xsd")
NS = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}
SINK = "127.0.0.25"     # every zone's MX


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sendbed")
    b = DnsBed(tmp / "bed", addr="127.0.53.6")
    try:
        mx = ['@ MX 10 mx', 'mx A ' + SINK]
        b.zone("good.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                             '_dmarc TXT "v=DMARC1; p=none; sp=quarantine; '
                             'aspf=s; rua=mailto:dmarc@good.test,'
                             'mailto:agg@rcv.test!10m,'
                             'mailto:x@noauth.test"'] + mx)
        # an external destination that allows good.test's reports
        b.zone("rcv.test", ['good.test._report._dmarc TXT "v=DMARC1"'] + mx)
        b.zone("noauth.test", mx)
        b.zone("small.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                              '_dmarc TXT "v=DMARC1; p=none; '
                              'rua=mailto:r@small.test!1k"'] + mx)
        b.zone("one.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                            '_dmarc TXT "v=DMARC1; p=none; '
                            'rua=mailto:r@one.test"'] + mx)
        b.zone("split.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                              '_dmarc TXT "v=DMARC1; p=none; '
                              'rua=mailto:r@split.test!2k"'] + mx)
        b.zone("rpt.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                            '_dmarc TXT "v=DMARC1; p=none; '
                            'rua=mailto:r@rpt.test"'] + mx)
        b.zone("quiet.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                              '_dmarc TXT "v=DMARC1; p=none"'] + mx)
        b.start()
        yield b
    finally:
        b.stop()


def make_mx(daemon_factory, bed, tmp_path, extra=""):
    dm = daemon_factory(sub="mx")
    dm.maildir = str(tmp_path / "mail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
resolver {r} trust-anchor "{ta}"
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(r=bed.resolver, ta=bed.trust_anchor, m=dm.maildir))
        f.write(extra)
    return dm


@pytest.fixture
def mx(daemon_factory, bed, tmp_path):
    return make_mx(daemon_factory, bed, tmp_path).start()


def send(port, dom, src="127.0.0.1", mfrom=None):
    data = MSG.replace(b"{dom}", dom.encode()).replace(
        b"{mid}", str(time.time()).encode())
    with smtplib.SMTP("127.0.0.1", port,
                      source_address=(src, 0)) as c:
        c.ehlo("client.test")
        assert c.mail(mfrom if mfrom is not None else "alice@" + dom)[0] \
            == 250
        assert c.rcpt("bob@localhost")[0] == 250
        code, text = c.data(data)
    assert code == 250, (code, text)


def wait_evaluations(dm, dom, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        r = dm.ctl("show", "evaluations", dom)
        n = len([x for x in r.stdout.splitlines() if x])
        if n >= want or time.time() > deadline:
            return n
        time.sleep(0.1)


def xsd_valid(xml_bytes, tmp_path):
    f = tmp_path / "report.xml"
    f.write_bytes(xml_bytes)
    r = subprocess.run(["xmllint", "--noout", "--schema", XSD, str(f)],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def rows(xml_bytes):
    """(source_ip, spf aligned, dkim aligned, disposition, spf result) ->
    count."""
    root = ET.fromstring(xml_bytes)
    out = {}
    for rec in root.findall("d:record", NS):
        row = rec.find("d:row", NS)
        pe = row.find("d:policy_evaluated", NS)
        spf = rec.find("d:auth_results/d:spf/d:result", NS)
        key = (row.findtext("d:source_ip", namespaces=NS),
               pe.findtext("d:spf", namespaces=NS),
               pe.findtext("d:dkim", namespaces=NS),
               pe.findtext("d:disposition", namespaces=NS),
               spf.text if spf is not None else None)
        assert key not in out, "one record per tuple"
        out[key] = int(row.findtext("d:count", namespaces=NS))
    return out


def test_print_counts_and_validates(mx, tmp_path):
    # 3 from .1 that pass SPF, 2 from .2 that fail it, one from .3 with
    # a MAIL FROM of another domain (SPF none, not aligned), and one for
    # another domain that must not appear.
    for _ in range(3):
        send(mx.port, "good.test")
    for _ in range(2):
        send(mx.port, "good.test", src="127.0.0.2")
    send(mx.port, "good.test", src="127.0.0.3", mfrom="x@elsewhere.test")
    send(mx.port, "quiet.test")
    assert len(delivered(mx, "root", want=7)) == 7
    assert wait_evaluations(mx, "good.test", 6) == 6

    r = mx.ctl("report", "dmarc", "print", "good.test")
    assert r.returncode == 0, r.stderr
    xml_bytes = r.stdout.encode()
    ok, err = xsd_valid(xml_bytes, tmp_path)
    assert ok, err + r.stdout

    got = rows(xml_bytes)
    assert got[("127.0.0.1", "pass", "fail", "none", "pass")] == 3
    assert got[("127.0.0.2", "fail", "fail", "none", "fail")] == 2
    k3 = [k for k in got if k[0] == "127.0.0.3"]
    assert len(k3) == 1 and got[k3[0]] == 1 and k3[0][1] == "fail"
    assert sum(got.values()) == 6

    root = ET.fromstring(xml_bytes)
    assert root.tag == "{urn:ietf:params:xml:ns:dmarc-2.0}feedback"
    md = root.find("d:report_metadata", NS)
    begin = int(md.findtext("d:date_range/d:begin", namespaces=NS))
    end = int(md.findtext("d:date_range/d:end", namespaces=NS))
    # the UTC day holding now
    assert begin % 86400 == 0 and end == begin + 86399
    assert begin <= time.time() < end + 1
    assert md.findtext("d:report_id", namespaces=NS) == \
        "%d.good.test@mx.example.test" % begin
    pp = root.find("d:policy_published", NS)
    assert pp.findtext("d:domain", namespaces=NS) == "good.test"
    assert pp.findtext("d:p", namespaces=NS) == "none"
    assert pp.findtext("d:sp", namespaces=NS) == "quarantine"
    assert pp.findtext("d:aspf", namespaces=NS) == "s"
    for rec in root.findall("d:record", NS):
        assert rec.findtext("d:identifiers/d:header_from",
                            namespaces=NS) == "good.test"

    # printing sends and closes nothing: the same report again
    r2 = mx.ctl("report", "dmarc", "print", "GOOD.test")
    assert r2.returncode == 0
    assert r2.stdout == r.stdout

    # the other domain has its own report, one record
    r = mx.ctl("report", "dmarc", "print", "quiet.test")
    assert r.returncode == 0, r.stderr
    assert sum(rows(r.stdout.encode()).values()) == 1


def test_print_without_evaluations(mx):
    r = mx.ctl("report", "dmarc", "print", "nothing.test")
    assert r.returncode == 1
    assert "nothing.test: no evaluations" in r.stderr
    assert r.stdout == ""
    r = mx.ctl("report", "dmarc", "print", "a" * 300)
    assert r.returncode != 0
    assert "too long" in r.stderr


def check_conf(tmp_path, text):
    f = tmp_path / "check.conf"
    f.write_text(text)
    return subprocess.run([POSTERND, "-n", "-f", str(f)],
                          capture_output=True, text=True)


def test_reports_config_checked(tmp_path):
    r = check_conf(tmp_path, 'reports from "dmarc@example.org" org "Ex" '
                   'contact "https://example.org/"\nreports period hourly\n'
                   'reports max-per-period 10\nreports failure no\n'
                   'reports suppress-for 2d\n')
    assert r.returncode == 0, r.stderr
    # failure reports (regress/test_dmarc_failure.py)
    r = check_conf(tmp_path, "reports failure yes\n")
    assert r.returncode == 0, r.stderr
    for bad, msg in (("reports period weekly", "hourly or daily"),
                     ('reports from "nobody" org "x"', "invalid address"),
                     ('reports from "a@b.example" org ""', "reports org"),
                     ('reports sign with "nokey"', "unknown dkim-signature"),
                     ("reports max-per-period 0", "max-per-period"),
                     ("reports failure maybe", "yes or no")):
        r = check_conf(tmp_path, bad + "\n")
        assert r.returncode != 0, bad
        assert msg in r.stderr, (bad, r.stderr)


def test_print_uses_reports_config(daemon_factory, bed, tmp_path):
    dm = make_mx(daemon_factory, bed, tmp_path,
                 'reports from "dmarc-reports@example.org" org "Ex & Co" '
                 'contact "https://example.org/dmarc"\n'
                 "reports period hourly\n").start()
    send(dm.port, "good.test")
    assert wait_evaluations(dm, "good.test", 1) == 1
    r = dm.ctl("report", "dmarc", "print", "good.test")
    assert r.returncode == 0, r.stderr
    ok, err = xsd_valid(r.stdout.encode(), tmp_path)
    assert ok, err
    root = ET.fromstring(r.stdout)
    md = root.find("d:report_metadata", NS)
    assert md.findtext("d:org_name", namespaces=NS) == "Ex & Co"
    assert md.findtext("d:email", namespaces=NS) == \
        "dmarc-reports@example.org"
    assert md.findtext("d:extra_contact_info", namespaces=NS) == \
        "https://example.org/dmarc"
    begin = int(md.findtext("d:date_range/d:begin", namespaces=NS))
    end = int(md.findtext("d:date_range/d:end", namespaces=NS))
    assert begin % 3600 == 0 and end == begin + 3599


REPORTS = '''mta-mx-allow-network 127.0.0.0/8
queue retry 1s max 2s
reports from "dmarc-reports@mx.example.test" org "Example Receiver"
'''


@pytest.fixture
def sink(tmp_path):
    p = SmtpPeer(tmp_path / "sink", addr=SINK, port=25)
    p.start()
    yield p
    p.stop()


@pytest.fixture
def sender(daemon_factory, bed, tmp_path, sink):
    return make_mx(daemon_factory, bed, tmp_path, REPORTS).start()


def attachment(raw):
    """The message, and its report part's (filename, media type, bytes)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.get_filename():
            return msg, (part.get_filename(), part.get_content_type(),
                         part.get_payload(decode=True))
    raise AssertionError("no attachment:\n%r" % raw[:2000])


def test_send_mails_the_report(sender, sink, tmp_path):
    for _ in range(2):
        send(sender.port, "good.test")
    send(sender.port, "good.test", src="127.0.0.2")
    send(sender.port, "quiet.test")
    assert wait_evaluations(sender, "good.test", 3) == 3
    printed = sender.ctl("report", "dmarc", "print", "good.test")
    assert printed.returncode == 0, printed.stderr

    r = sender.ctl("report", "dmarc", "send", "good.test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("1 report"), r.stdout
    # one message, delivered per destination domain (two transactions)
    raw = sink.wait_messages(2, timeout=20)[0]
    accepted = sink.accepted()
    # every authorized rua; not the one without its authorization record
    assert sorted(r for a in accepted for r in a["rcpts"]) == \
        ["agg@rcv.test", "dmarc@good.test"]
    assert {a["mail_from"] for a in accepted} == \
        {"dmarc-reports@mx.example.test"}
    assert sink.messages()[0] == sink.messages()[1]
    msg, (fn, ctype, data) = attachment(raw)
    xml_bytes = gzip.decompress(data)
    ok, err = xsd_valid(xml_bytes, tmp_path)
    assert ok, err
    # the same report print showed: same rows, same period start and id
    assert rows(xml_bytes) == rows(printed.stdout.encode())
    root = ET.fromstring(xml_bytes)
    md = root.find("d:report_metadata", NS)
    begin = int(md.findtext("d:date_range/d:begin", namespaces=NS))
    end = int(md.findtext("d:date_range/d:end", namespaces=NS))
    rid = md.findtext("d:report_id", namespaces=NS)
    assert begin % 86400 == 0 and begin <= end <= time.time() + 1
    assert rid == "%d.good.test@mx.example.test" % begin
    assert md.findtext("d:org_name", namespaces=NS) == "Example Receiver"
    assert md.findtext("d:email", namespaces=NS) == \
        "dmarc-reports@mx.example.test"
    # RFC 9990 3.5.2: media type, filename, subject, From, Message-ID
    assert ctype == "application/gzip"
    assert fn == "mx.example.test!good.test!%d!%d.xml.gz" % (begin, end)
    subject = " ".join(str(msg["Subject"]).split())
    assert re.fullmatch(r"Report Domain: good\.test Submitter: "
                        r"mx\.example\.test Report-ID: <[^<>]+>", subject), \
        subject
    assert subject.endswith("<%s>" % rid)
    assert msg["From"].addresses[0].addr_spec == \
        "dmarc-reports@mx.example.test"
    assert msg["Message-ID"] == "<%s>" % rid
    assert msg["Date"] is not None
    log = sender.logtext()
    assert "not sent to <x@noauth.test>" in log, log[-3000:]

    # closed: the open period has nothing left, a second send sends none
    r = sender.ctl("report", "dmarc", "print", "good.test")
    assert r.returncode == 1 and "no evaluations" in r.stderr
    r = sender.ctl("report", "dmarc", "send", "good.test")
    assert r.returncode == 0 and r.stdout.startswith("0 reports"), r.stdout
    # quiet.test asks for no reports: closed, nothing sent
    r = sender.ctl("report", "dmarc", "send", "all")
    assert r.returncode == 0 and r.stdout.startswith("1 report"), r.stdout
    # new mail opens a new window, reported on its own (the closed one
    # ended with the second of the send)
    time.sleep(1.1)
    send(sender.port, "good.test")
    assert wait_evaluations(sender, "good.test", 4) == 4
    r = sender.ctl("report", "dmarc", "print", "good.test")
    assert r.returncode == 0 and sum(rows(r.stdout.encode()).values()) == 1
    assert sender.ctl("report", "dmarc", "send", "all").returncode == 0
    msgs = sink.wait_messages(4, timeout=20)
    assert len(msgs) == 4
    _, (fn2, _, data2) = attachment(msgs[3])
    assert fn2 != fn
    assert sum(rows(gzip.decompress(data2)).values()) == 1
    assert "quiet.test" in sender.logtext()
    time.sleep(0.5)
    assert len(sink.accepted()) == 4


def test_size_limit(sender, sink):
    send(sender.port, "small.test")
    assert wait_evaluations(sender, "small.test", 1) == 1
    r = sender.ctl("report", "dmarc", "send", "small.test")
    assert r.returncode == 0 and r.stdout.startswith("1 report")
    deadline = time.time() + 10
    while "over the limit of <r@small.test>" not in sender.logtext():
        assert time.time() < deadline, sender.logtext()[-3000:]
        time.sleep(0.1)
    time.sleep(1)
    assert sink.accepted() == []


REPORT_MAILS = [
    # an ARF report (RFC 5965), folded Content-Type
    b"From: Alice <alice@{dom}>\r\nTo: bob@localhost\r\n"
    b"Subject: FW: abuse\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/report;\r\n report-type=feedback-report; "
    b"boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
    # a TLS report (RFC 8460 5.3)
    b"From: Alice <alice@{dom}>\r\nTo: bob@localhost\r\n"
    b"Subject: Report Domain: {dom} Submitter: {dom}\r\n"
    b"TLS-Report-Domain: {dom}\r\nTLS-Report-Submitter: {dom}\r\n"
    b"Content-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n"
    b"\r\n--b--\r\n",
    # an aggregate report as big senders mail it: a zip, the subject
    b"From: Alice <alice@{dom}>\r\nTo: bob@localhost\r\n"
    b"Subject: Report domain: {dom} Submitter: google.com Report-ID: 1\r\n"
    b"Content-Type: application/zip\r\n\r\nUEsDBA==\r\n",
]


def send_data(port, data, src="127.0.0.1"):
    with smtplib.SMTP("127.0.0.1", port, source_address=(src, 0)) as c:
        c.ehlo("client.test")
        dom = re.search(rb"From: Alice <alice@([^>]+)>", data).group(1)
        assert c.mail("alice@" + dom.decode())[0] == 250
        assert c.rcpt("bob@localhost")[0] == 250
        code, text = c.data(data)
    assert code == 250, (code, text)


def test_no_reports_about_reports(sender, sink, tmp_path):
    """Evaluations of report mail are reported only alongside other
    rows: rpt.test sent nothing but reports and gets no report; one.test
    sent a report and an ordinary message and gets both counted."""
    for data in REPORT_MAILS:
        send_data(sender.port, data.replace(b"{dom}", b"rpt.test"))
    send_data(sender.port, REPORT_MAILS[0].replace(b"{dom}", b"one.test"))
    send(sender.port, "one.test")
    assert wait_evaluations(sender, "rpt.test", 3) == 3
    assert wait_evaluations(sender, "one.test", 2) == 2
    lines = sender.ctl("show", "evaluations").stdout.splitlines()
    assert len([x for x in lines if x.endswith(" report=yes")]) == 4
    assert len([x for x in lines if "from=one.test " in x and
                not x.endswith(" report=yes")]) == 1
    r = sender.ctl("report", "dmarc", "send", "all")
    assert r.returncode == 0 and r.stdout.startswith("2 reports"), r.stdout
    raw = sink.wait_messages(1, timeout=20)[0]
    wait_log(sender, "DMARC report of rpt.test for")
    time.sleep(1)
    acc = sink.accepted()
    assert [a["rcpts"] for a in acc] == [["r@one.test"]]
    _, (fn, _, data) = attachment(raw)
    assert "!one.test!" in fn
    xml_bytes = gzip.decompress(data)
    ok, err = xsd_valid(xml_bytes, tmp_path)
    assert ok, err
    assert sum(rows(xml_bytes).values()) == 2
    assert "not sent: its evaluations are all of report mail" in \
        sender.logtext()


def test_forged_report_mail_is_reported(sender, sink, tmp_path):
    """Only report mail that passes DMARC is report mail: a forger who
    adds a report's header fields to mail in rpt.test's name (from an
    address its SPF record refuses, unsigned) does not keep rpt.test
    from hearing of it (review finding)."""
    send_data(sender.port, REPORT_MAILS[0].replace(b"{dom}", b"rpt.test"),
              src="127.0.0.2")
    assert wait_evaluations(sender, "rpt.test", 1) == 1
    line = sender.ctl("show", "evaluations", "rpt.test").stdout
    assert "result=fail" in line and not line.strip().endswith(
        "report=yes"), line
    r = sender.ctl("report", "dmarc", "send", "all")
    assert r.returncode == 0 and r.stdout.startswith("1 report"), r.stdout
    raw = sink.wait_messages(1, timeout=20)[0]
    _, (fn, _, data) = attachment(raw)
    assert "!rpt.test!" in fn
    assert sum(rows(gzip.decompress(data)).values()) == 1


def test_split_over_size_limit(sender, sink, tmp_path):
    """A report over its rua's !size is sent in parts that each fit, each
    a whole report valid against the XSD, the rows adding up to the whole
    report's; RFC 9990's identifiers: a Report-ID of its own per part,
    the same in the XML, the subject and the file name's unique-id."""
    limit = 2 * 1024
    # 80 rows that gzip does not shrink to nothing: MAIL FROM domains
    # of random labels (no SPF record: none)
    for n in range(1, 81):
        send(sender.port, "split.test", src="127.0.1.%d" % n,
             mfrom="a@%s.split.test" % os.urandom(6).hex())
    assert wait_evaluations(sender, "split.test", 80) == 80
    printed = sender.ctl("report", "dmarc", "print", "split.test")
    assert printed.returncode == 0, printed.stderr
    whole = rows(printed.stdout.encode())
    assert sum(whole.values()) == 80 and len(whole) == 80
    r = sender.ctl("report", "dmarc", "send", "split.test")
    assert r.returncode == 0 and r.stdout.startswith("1 report"), r.stdout
    wait_log(sender, "over the limit of 2048 bytes; sent in")
    n = int(re.search(r"sent in (\d+) parts", sender.logtext()).group(1))
    assert n >= 2
    msgs = sink.wait_messages(n, timeout=30)
    time.sleep(1)
    assert len(sink.messages()) == n
    assert all(a["rcpts"] == ["r@split.test"] for a in sink.accepted())
    got, ids = {}, set()
    for raw in msgs:
        assert len(raw) <= limit + 200     # + the Received field on the way
        msg, (fn, ctype, data) = attachment(raw)
        xml_bytes = gzip.decompress(data)
        ok, err = xsd_valid(xml_bytes, tmp_path)
        assert ok, err
        md = ET.fromstring(xml_bytes).find("d:report_metadata", NS)
        rid = md.findtext("d:report_id", namespaces=NS)
        begin = int(md.findtext("d:date_range/d:begin", namespaces=NS))
        end = int(md.findtext("d:date_range/d:end", namespaces=NS))
        m = re.fullmatch(r"(\d+)part(\d+)of(\d+)", rid)
        assert m and int(m.group(1)) == begin and int(m.group(3)) == n
        ids.add(int(m.group(2)))
        assert ctype == "application/gzip"
        assert fn == "mx.example.test!split.test!%d!%d!%s.xml.gz" % (
            begin, end, rid)
        subject = " ".join(str(msg["Subject"]).split())
        assert subject == ("Report Domain: split.test Submitter: "
                           "mx.example.test Report-ID: <%s>" % rid)
        part = rows(xml_bytes)
        assert part and not set(part) & set(got)
        got.update(part)
    assert ids == set(range(1, n + 1))
    assert got == whole


def test_send_refused_when_reports_are_off(mx):
    r = mx.ctl("report", "dmarc", "send", "all")
    assert r.returncode == 1
    assert "reports are off" in r.stderr


def restart(dm, monkeypatch, env=None):
    """Start again on the same spool (the supervisor's part); the log of
    the run before is returned, the new run's log starts empty."""
    before = dm.logtext()
    dm.log.close()
    os.makedirs(dm.sockdir, exist_ok=True)
    os.chmod(dm.sockdir, 0o755)
    for k in ("POSTERN_TEST_CRASH", "POSTERN_TEST_CLOCK_SHIFT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    dm.start()
    return before


def wait_log(dm, text, timeout=20):
    deadline = time.time() + timeout
    while text not in dm.logtext():
        assert time.time() < deadline, "no %r in:\n%s" % (
            text, dm.logtext()[-3000:])
        time.sleep(0.1)


@pytest.mark.parametrize("step", ["reportd:report-begun",
                                  "queue:report-queued",
                                  "reportd:report-result"])
def test_exactly_once_across_kill9(daemon_factory, bed, tmp_path, sink,
                                   monkeypatch, step):
    """kill -9 between closing a period and the log's bookkeeping: after
    the restart the report is queued once, sent once."""
    monkeypatch.setenv("POSTERN_TEST_CRASH", step)
    dm = make_mx(daemon_factory, bed, tmp_path, REPORTS).start()
    send(dm.port, "one.test")
    assert wait_evaluations(dm, "one.test", 1) == 1
    dm.ctl("report", "dmarc", "send", "one.test")
    assert dm.wait_exit(20) not in (None, 0), dm.logtext()[-3000:]
    assert "test: crashing at step " + step.split(":")[1] in dm.logtext()
    restart(dm, monkeypatch)
    msgs = sink.wait_messages(1, timeout=20)
    # the queue's retry and reportd's tick have had their chance
    time.sleep(3)
    assert len(sink.accepted()) == 1, sink.accepted()
    _, (fn, _, data) = attachment(msgs[0])
    assert sum(rows(gzip.decompress(data)).values()) == 1
    log = dm.logtext()
    if step == "reportd:report-begun":
        assert "report of one.test" in log and "queued" in log
    else:
        # offered again, refused by the queue as a duplicate
        assert "was queued before" in log, log[-3000:]
    # nothing left pending, nothing more to send
    r = dm.ctl("report", "dmarc", "send", "all")
    assert r.stdout.startswith("0 reports"), r.stdout
    time.sleep(1)
    assert len(sink.accepted()) == 1


def test_split_exactly_once_across_kill9(daemon_factory, bed, tmp_path,
                                         sink, monkeypatch):
    """kill -9 when the queue has the first part of a split report: after
    the restart the report is split the same way, the queue refuses the
    part it has, and every part is sent once."""
    monkeypatch.setenv("POSTERN_TEST_CRASH", "reportd:report-result")
    dm = make_mx(daemon_factory, bed, tmp_path, REPORTS).start()
    for n in range(1, 31):
        send(dm.port, "split.test", src="127.0.2.%d" % n,
             mfrom="a@%s.split.test" % os.urandom(6).hex())
    assert wait_evaluations(dm, "split.test", 30) == 30
    dm.ctl("report", "dmarc", "send", "split.test")
    assert dm.wait_exit(20) not in (None, 0), dm.logtext()[-3000:]
    first = re.search(r"sent in (\d+) parts", dm.logtext()).group(1)
    restart(dm, monkeypatch)
    wait_log(dm, "DMARC report of split.test for")
    n = int(re.search(r"sent in (\d+) parts", dm.logtext()).group(1))
    assert n == int(first) and n >= 2
    msgs = sink.wait_messages(n, timeout=30)
    time.sleep(3)
    assert len(sink.accepted()) == n, sink.accepted()
    ids = set()
    total = 0
    for raw in msgs:
        _, (fn, _, data) = attachment(raw)
        xml_bytes = gzip.decompress(data)
        ids.add(ET.fromstring(xml_bytes).findtext(
            "d:report_metadata/d:report_id", namespaces=NS))
        total += sum(rows(xml_bytes).values())
    assert len(ids) == n and total == 30
    r = dm.ctl("report", "dmarc", "send", "all")
    assert r.stdout.startswith("0 reports"), r.stdout
    time.sleep(1)
    assert len(sink.accepted()) == n


def test_period_closed_at_start(daemon_factory, bed, tmp_path, sink,
                                monkeypatch):
    """A period that ended while the daemon was down is reported at
    start, once; the restart after that sends nothing again."""
    dm = make_mx(daemon_factory, bed, tmp_path, REPORTS).start()
    send(dm.port, "one.test")
    send(dm.port, "one.test", src="127.0.0.2")
    assert wait_evaluations(dm, "one.test", 2) == 2
    day = int(time.time()) // 86400 * 86400
    dm.stop()
    assert sink.accepted() == []
    # a day later
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "86400"})
    msgs = sink.wait_messages(1, timeout=20)
    _, (fn, _, data) = attachment(msgs[0])
    assert fn == "mx.example.test!one.test!%d!%d.xml.gz" % (day,
                                                            day + 86399)
    assert sum(rows(gzip.decompress(data)).values()) == 2
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "86400"})
    time.sleep(3)
    assert len(sink.accepted()) == 1


def test_max_per_period(daemon_factory, bed, tmp_path, sink):
    dm = make_mx(daemon_factory, bed, tmp_path,
                 REPORTS + "reports max-per-period 1\n").start()
    send(dm.port, "one.test")
    send(dm.port, "small.test")
    assert wait_evaluations(dm, "one.test", 1) == 1
    assert wait_evaluations(dm, "small.test", 1) == 1
    r = dm.ctl("report", "dmarc", "send", "all")
    assert r.stdout.startswith("2 reports"), r.stdout
    wait_log(dm, "max-per-period reached")
    msgs = sink.wait_messages(1, timeout=20)
    assert len(msgs) == 1


def test_routes_apply_to_reports(daemon_factory, bed, tmp_path, sink):
    """A report is mail from this host: a route for its recipient's
    domain sends it through the route's transport, not to the MX."""
    smart = SmtpPeer(tmp_path / "smart", addr="127.0.0.1", port=next_port())
    smart.start()
    try:
        dm = make_mx(daemon_factory, bed, tmp_path, REPORTS + '''
transport "smart" smarthost "smtp://127.0.0.1:%d"
route for domain "one.test" transport "smart"
''' % smart.port).start()
        send(dm.port, "one.test")
        assert wait_evaluations(dm, "one.test", 1) == 1
        assert dm.ctl("report", "dmarc", "send", "one.test").returncode == 0
        msgs = smart.wait_messages(1, timeout=20)
        assert smart.accepted()[0]["rcpts"] == ["r@one.test"]
        attachment(msgs[0])
        assert sink.accepted() == []
    finally:
        smart.stop()


def test_reports_dkim_signed(daemon_factory, bed, tmp_path, sink):
    """reports sign with: the report verifies with another implementation
    (Debian's python3-dkim), with d= the From domain (aligned)."""
    import dkim
    key = str(tmp_path / "rk.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "mx.example.test", "-s", "rpt", "-o", key])
    assert r.returncode == 0, r.stderr
    txt = "".join(re.findall(r'"([^"]*)"',
                             r.stdout[r.stdout.index("IN TXT") + 3:]))
    dm = make_mx(daemon_factory, bed, tmp_path, REPORTS + '''
dkim-signature rpt {{
	key "{key}"
	domain mx.example.test
	selector rpt
	algorithm ed25519-sha256
}}
reports sign with rpt
'''.format(key=key)).start()
    send(dm.port, "one.test")
    assert wait_evaluations(dm, "one.test", 1) == 1
    assert dm.ctl("report", "dmarc", "send", "one.test").returncode == 0
    raw = sink.wait_messages(1, timeout=20)[0]
    start = raw.index(b"DKIM-Signature:")

    def dnsfunc(name, timeout=5):
        assert name == b"rpt._domainkey.mx.example.test."
        return txt.encode()
    assert dkim.verify(raw[start:], dnsfunc=dnsfunc)
    sig = raw[start:raw.index(b"\r\nFrom:")]
    assert b"d=mx.example.test" in sig
    # a changed report does not verify
    bad = raw[start:].replace(b"Report Domain: one.test",
                              b"Report Domain: two.test")
    assert not dkim.verify(bad, dnsfunc=dnsfunc)
    _, (fn, _, data) = attachment(raw)
    assert sum(rows(gzip.decompress(data)).values()) == 1


def test_failing_destination_suppressed(daemon_factory, bed, tmp_path,
                                        monkeypatch):
    """A destination that refuses the report: the DSN goes quietly to the
    postmaster (not to the world), the address is suppressed and listed,
    the next report does not go there; removed, it gets reports again."""
    refusing = SmtpPeer(tmp_path / "refusing", addr=SINK, port=25,
                        replies=[{"cmd": "RCPT", "match": "r@one.test",
                                  "reply": "550 5.1.1 no such user"}])
    refusing.start()
    try:
        dm = make_mx(daemon_factory, bed, tmp_path, REPORTS + '''
table pm { "postmaster@mx.example.test" }
match from any for rcpt-to <pm> action "local"
''').start()
        assert dm.ctl("show", "suppressions").stdout == ""
        send(dm.port, "one.test")
        assert wait_evaluations(dm, "one.test", 1) == 1
        assert dm.ctl("report", "dmarc", "send", "one.test").returncode == 0
        wait_log(dm, "suppressed until")
        # (the local action delivers as root, into root's maildir, where
        # the test's own message is too)
        dsn = [m for m in delivered(dm, "root", want=2)
               if b"multipart/report" in m]
        assert len(dsn) == 1
        assert b"r@one.test" in dsn[0]
        assert b"Delivered-To: postmaster@mx.example.test" in dsn[0]
        lines = dm.ctl("show", "suppressions").stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("r@one.test until=")
        # -j: the same, one object per address
        js = [json.loads(x) for x in
              dm.ctl("show", "suppressions", "-j").stdout.splitlines()]
        assert len(js) == 1 and lines[0] == "%s until=%s" % (
            js[0]["address"], js[0]["until"]), js
        assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
            js[0]["until_epoch"])) == js[0]["until"]
        # the next report is not offered to it
        time.sleep(1.1)
        send(dm.port, "one.test")
        assert wait_evaluations(dm, "one.test", 2) == 2
        assert dm.ctl("report", "dmarc", "send", "one.test").returncode == 0
        wait_log(dm, "not sent to <r@one.test>: suppressed")
        # removed: reports go there again
        r = dm.ctl("suppression", "remove", "R@one.test")
        assert r.returncode == 0, r.stderr
        assert dm.ctl("show", "suppressions").stdout == ""
        assert dm.ctl("show", "suppressions", "-j").stdout == ""
        r = dm.ctl("suppression", "remove", "r@one.test")
        assert r.returncode == 1 and "not suppressed" in r.stderr
        # one attempt only: the second report went nowhere
        assert dm.logtext().count("to <r@one.test> via") == 1
    finally:
        refusing.stop()


def test_period_closes_on_time(daemon_factory, bed, tmp_path, sink,
                               monkeypatch):
    """While the daemon runs, an (hourly) period that ends is reported at
    once: the daemon's clock is set a few seconds before the hour."""
    now = int(time.time())
    hour = (now // 3600 + 1) * 3600
    monkeypatch.setenv("POSTERN_TEST_CLOCK_SHIFT", str(hour - 12 - now))
    dm = make_mx(daemon_factory, bed, tmp_path,
                 REPORTS + "reports period hourly\n").start()
    send(dm.port, "one.test")
    assert wait_evaluations(dm, "one.test", 1) == 1
    assert sink.accepted() == []
    msgs = sink.wait_messages(1, timeout=20)
    _, (fn, _, data) = attachment(msgs[0])
    assert fn == "mx.example.test!one.test!%d!%d.xml.gz" % (hour - 3600,
                                                            hour - 1)
    assert sum(rows(gzip.decompress(data)).values()) == 1

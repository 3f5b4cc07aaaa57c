"""Sending TLS-RPT reports (RFC 8460) through the real daemon: mail is
relayed to DANE domains of the nsd bed (regress/dnsbed.py), one whose
primary MX fails DANE (a TLSA mismatch) and whose backup matches, and one
that matches; the mta's TLS results reach reportd; `posternctl report tls
print DOMAIN` writes the open day's JSON (4) with the right result types,
counts and policy strings; `report tls send` delivers it, gzipped, to the
domain's _smtp._tls rua: by mail (5.3: multipart/report with report-type
tlsrpt, application/tlsrpt+gzip, the TLS-Report-* fields, the subject,
"TLS-Required: No" honoured by the mta: the sink's own DANE fails and the
report still arrives) and by HTTPS POST (5.4) to a small HTTPS server of
this file with a certificate of the bed's CA.  A domain without a
_smtp._tls record gets nothing; a kill -9 between closing the day and
queueing its report: sent once.  The POST's host is held to the mta's
address rules (a host on loopback outside mta-mx-allow-network is
refused, logged, given up; inside, posted to); every destination has its
own state: the mail goes at once and once, a failing https: URI backs off
and is given up a day after the report's end, a URI that took the report
is not posted to again, a host that does not exist is dropped after its
third NXDOMAIN; a report still pending three days after its end is given
up; 60 days on, the queue's report keys and the sent-report log's entries
are pruned while a recent report is still refused when offered again.

Modules covered: reportd/tlsrpt_send.c, reportd/https_post.c,
reportd/tlsrpt.c (delivery helpers), reportd/evalstore.c
(evalstore_tls_walk), queue/report_in.c (MSG_REPORT_F_TLSREQ_NO),
lib/netaddr.c, lib/https_conn.c, reportd/sentlog.c (destination states,
pruning), queue/store.c (qstore_keys_prune)"""
import email
import email.policy
import gzip
import json
import os
import re
import time

import pytest

from conftest import POSTERNCTL, run
from dnsbed import DnsBed
from peers import SmtpPeer, make_ca, make_cert, tlsa_record
from stsserver import StsServer
from test_dmarc_send import attachment, restart, wait_log
from test_mta import send, sender_conf, wait_queue_empty, wait_tls_result

ADDR = {
    "mx1.mixed.test": "127.0.0.81",     # TLSA of another key: fails
    "mx2.mixed.test": "127.0.0.82",     # matches
    "mx.good.test": "127.0.0.83",
    "mx.none.test": "127.0.0.84",
    "mx.rpt.test": "127.0.0.85",        # the reports' sink; DANE fails
    "mx.sts.test": "127.0.0.87",        # MTA-STS enforce, no DANE
}
POST = "127.0.0.86"     # post.rpt.test and mta-sts.sts.test: HTTPS
POST2 = "127.0.0.90"    # post2.rpt.test: outside 127.0.0.80/29
NARROW = "mta-mx-allow-network 127.0.0.80/29\n"   # the MX, not post2
STS_POLICY = "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n"

REPORTS = ('reports from "tlsrpt-sender@a.postern.test" org "Example '
           'Sender" contact "mailto:admin@a.postern.test"\n')


def tlsa(host, rec):
    return "_25._tcp.%s TLSA %s" % (host, rec)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tlsrptbed")
    b = DnsBed(tmp / "bed", addr="127.0.53.8")
    b.ca = make_ca(tmp / "ca")
    b.certs = {n: make_cert(tmp / ("cert-" + n), b.ca, [n]) for n in ADDR}
    b.post = make_cert(tmp / "cert-post", b.ca, ["post.rpt.test",
                                                 "mta-sts.sts.test"])
    b.post2 = make_cert(tmp / "cert-post2", b.ca, ["post2.rpt.test"])
    b.other = make_cert(tmp / "cert-other", b.ca, ["other.test"],
                        basename="other")
    ee = {n: tlsa_record(c.cert) for n, c in b.certs.items()}
    bad = tlsa_record(b.other.cert)
    try:
        b.zone("mixed.test", [
            "@ MX 10 mx1.mixed.test.", "@ MX 20 mx2.mixed.test.",
            "mx1 A " + ADDR["mx1.mixed.test"],
            "mx2 A " + ADDR["mx2.mixed.test"],
            tlsa("mx1", bad), tlsa("mx2", ee["mx2.mixed.test"]),
            '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@rpt.test,'
            'https://post.rpt.test/tlsrpt/v1"'])
        b.zone("good.test", [
            "@ MX 10 mx.good.test.", "mx A " + ADDR["mx.good.test"],
            tlsa("mx", ee["mx.good.test"]),
            '_smtp._tls TXT "v=TLSRPTv1;rua=mailto:good@rpt.test"'])
        b.zone("none.test", [
            "@ MX 10 mx.none.test.", "mx A " + ADDR["mx.none.test"],
            tlsa("mx", ee["mx.none.test"])])
        b.zone("rpt.test", [
            "@ MX 10 mx.rpt.test.", "mx A " + ADDR["mx.rpt.test"],
            tlsa("mx", bad), "post A " + POST, "post2 A " + POST2])
        # the MX of good.test; an https: rua on loopback, and one whose
        # host does not exist
        b.zone("ssrf.test", [
            "@ MX 10 mx.ssrf.test.", "mx A " + ADDR["mx.good.test"],
            tlsa("mx", ee["mx.good.test"]),
            '_smtp._tls TXT "v=TLSRPTv1; rua=https://post2.rpt.test/ssrf"'])
        b.zone("two.test", [
            "@ MX 10 mx.two.test.", "mx A " + ADDR["mx.good.test"],
            tlsa("mx", ee["mx.good.test"]),
            '_smtp._tls TXT "v=TLSRPTv1; rua=https://post.rpt.test/two,'
            'https://post2.rpt.test/two"'])
        b.zone("nxrua.test", [
            "@ MX 10 mx.nxrua.test.", "mx A " + ADDR["mx.good.test"],
            tlsa("mx", ee["mx.good.test"]),
            '_smtp._tls TXT "v=TLSRPTv1; rua=https://nx.rpt.test/x"'])
        b.zone("sts.test", [
            "@ MX 10 mx.sts.test.", "mx A " + ADDR["mx.sts.test"],
            '_mta-sts TXT "v=STSv1; id=1;"', "mta-sts A " + POST,
            '_smtp._tls TXT "v=TLSRPTv1; rua=https://post.rpt.test/sts"'],
            signed=False)
        b.start()
        yield b
    finally:
        b.stop()


def wait_posts(srv, n, timeout=20):
    deadline = time.time() + timeout
    while len(srv.posts()) < n:
        assert time.time() < deadline, "no POST"
        time.sleep(0.1)
    return srv.posts()


@pytest.fixture
def peers(bed, tmp_path):
    made = {}
    for n in ADDR:
        c = bed.certs[n]
        made[n] = SmtpPeer(tmp_path / ("peer-" + n), addr=ADDR[n],
                           starttls=True, tls_cert=c.cert,
                           tls_key=c.key).start()
    made["post"] = StsServer(tmp_path / "post", POST, bed.post.cert,
                             bed.post.key, policy=STS_POLICY).start()
    yield made
    for p in made.values():
        p.stop()


def make_sender(daemon_factory, bed, tmp_path, extra=REPORTS):
    dm = daemon_factory(sub="a")
    dm.maildir = str(tmp_path / "amail")
    with open(dm.conf, "a") as f:
        f.write(sender_conf(bed, dm.maildir, extra))
    return dm


@pytest.fixture
def dm(daemon_factory, bed, tmp_path, peers):
    return make_sender(daemon_factory, bed, tmp_path).start()


def report_of(raw):
    """The mail's header and its report's JSON; checks the 5.3 shape."""
    msg, (fn, ctype, data) = attachment(raw)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    assert ctype == "application/tlsrpt+gzip"
    return msg, fn, json.loads(gzip.decompress(data))


def test_print_and_send(dm, peers, bed):
    send(dm, ["x@mixed.test"])
    send(dm, ["y@mixed.test"])
    send(dm, ["z@good.test"])
    peers["mx2.mixed.test"].wait_messages(2)
    peers["mx.good.test"].wait_messages(1)
    wait_queue_empty(dm)
    wait_tls_result(dm, "mixed.test", r"result=certificate-not-trusted "
                    r"mx=mx1\.mixed\.test ip=127\.0\.0\.81 count=2")
    wait_tls_result(dm, "mixed.test", r"result=success mx=mx2\.mixed\.test")

    r = dm.ctl("report", "tls", "print", "mixed.test")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["organization-name"] == "Example Sender"
    assert rep["contact-info"] == "mailto:admin@a.postern.test"
    assert rep["date-range"]["start-datetime"].endswith("T00:00:00Z")
    assert rep["date-range"]["end-datetime"].endswith("T23:59:59Z")
    assert len(rep["policies"]) == 1
    pol = rep["policies"][0]
    assert pol["policy"]["policy-type"] == "tlsa"
    assert pol["policy"]["policy-domain"] == "mixed.test"
    strings = pol["policy"]["policy-string"]
    assert any(s.startswith("_25._tcp.mx1.mixed.test. IN TLSA 3 1 1 ")
               for s in strings), strings
    assert any(s.startswith("_25._tcp.mx2.mixed.test. IN TLSA 3 1 1 ")
               for s in strings), strings
    assert sorted(pol["policy"]["mx-host"]) == ["mx1.mixed.test",
                                                "mx2.mixed.test"]
    assert pol["summary"] == {"total-successful-session-count": 2,
                              "total-failure-session-count": 2}
    assert pol["failure-details"] == [{
        "result-type": "certificate-not-trusted",
        "receiving-mx-hostname": "mx1.mixed.test",
        "receiving-ip": "127.0.0.81", "failed-session-count": 2}]

    good = json.loads(dm.ctl("report", "tls", "print", "good.test").stdout)
    assert good["policies"][0]["summary"] == {
        "total-successful-session-count": 1,
        "total-failure-session-count": 0}
    assert "failure-details" not in good["policies"][0]

    # sending: both domains' reports, each to its rua
    r = dm.ctl("report", "tls", "send", "mixed.test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("1 report"), r.stdout
    sink = peers["mx.rpt.test"]
    raw = sink.wait_messages(1, timeout=30)[0]
    msg, fn, sent = report_of(raw)
    assert sent == rep
    assert msg["TLS-Report-Domain"] == "mixed.test"
    assert msg["TLS-Report-Submitter"] == "a.postern.test"
    assert msg["TLS-Required"] == "No"
    assert re.fullmatch(r"Report Domain: mixed\.test Submitter: "
                        r"a\.postern\.test Report-ID: <%s>" %
                        re.escape(rep["report-id"]),
                        " ".join(str(msg["Subject"]).split())), \
        msg["Subject"]
    begin = int(time.time()) // 86400 * 86400
    assert fn == "a.postern.test!mixed.test!%d!%d!0.json.gz" % (
        begin, begin + 86399)
    assert sink.accepted()[0]["rcpts"] == ["tlsrpt@rpt.test"]
    # the sink's DANE would fail: its envelope carries TLS-Required: No
    assert "reports/rpt.test#tls-required-no: TLS-Required: No" in \
        dm.logtext()
    # 5.4: the POST
    post = wait_posts(peers["post"], 1)[0]
    assert post["path"] == "/tlsrpt/v1"
    assert post["host"] == "post.rpt.test"
    assert post["ctype"] == "application/tlsrpt+gzip"
    assert json.loads(gzip.decompress(post["body"])) == rep
    wait_log(dm, "TLS-RPT report of mixed.test for %d-%d queued" % (
        begin, begin + 86400))

    # sent once: the day is closed for mixed.test
    r = dm.ctl("report", "tls", "send", "all")
    assert r.stdout.startswith("1 report"), r.stdout     # good.test's
    raw = None
    deadline = time.time() + 30
    while len(sink.accepted()) < 2:
        assert time.time() < deadline, sink.accepted()
        time.sleep(0.2)
    time.sleep(2)
    assert len(sink.accepted()) == 2
    assert len(peers["post"].posts()) == 1
    r = dm.ctl("report", "tls", "send", "all")
    assert r.stdout.startswith("0 reports"), r.stdout


def test_no_reporting_policy_no_report(dm, peers):
    send(dm, ["x@none.test"])
    peers["mx.none.test"].wait_messages(1)
    wait_tls_result(dm, "none.test", r"result=success")
    r = dm.ctl("report", "tls", "print", "none.test")
    assert r.returncode == 0 and json.loads(r.stdout)["policies"]
    r = dm.ctl("report", "tls", "send", "none.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "TLS-RPT report of none.test")
    assert "no _smtp._tls reporting policy" in dm.logtext()
    time.sleep(2)
    assert peers["mx.rpt.test"].accepted() == []
    assert peers["post"].posts() == []


def test_print_without_results(dm):
    r = dm.ctl("report", "tls", "print", "nothing.test")
    assert r.returncode == 1
    assert "no TLS results" in r.stderr


@pytest.mark.parametrize("step", ["reportd:report-begun",
                                  "queue:report-queued",
                                  "reportd:report-result"])
def test_exactly_once_across_kill9(daemon_factory, bed, tmp_path, peers,
                                   monkeypatch, step):
    monkeypatch.setenv("POSTERN_TEST_CRASH", step)
    dm = make_sender(daemon_factory, bed, tmp_path).start()
    send(dm, ["x@good.test"])
    peers["mx.good.test"].wait_messages(1)
    wait_tls_result(dm, "good.test", r"result=success")
    dm.ctl("report", "tls", "send", "good.test")
    assert dm.wait_exit(20) not in (None, 0), dm.logtext()[-3000:]
    assert "test: crashing at step " + step.split(":")[1] in dm.logtext()
    restart(dm, monkeypatch)
    sink = peers["mx.rpt.test"]
    msgs = sink.wait_messages(1, timeout=30)
    time.sleep(3)
    assert len(sink.accepted()) == 1, sink.accepted()
    _, _, rep = report_of(msgs[0])
    assert rep["policies"][0]["policy"]["policy-domain"] == "good.test"
    r = dm.ctl("report", "tls", "send", "all")
    assert r.stdout.startswith("0 reports"), r.stdout
    time.sleep(1)
    assert len(sink.accepted()) == 1


def test_pending_given_up_after_three_days(daemon_factory, bed, tmp_path,
                                           peers, monkeypatch):
    """A report left pending (here by a kill -9 after its day was closed)
    that is still not sent three days after its end is given up, with one
    line, as periods that ended that long ago are not closed any more;
    nothing is retried for ever."""
    monkeypatch.setenv("POSTERN_TEST_CRASH", "reportd:report-begun")
    dm = make_sender(daemon_factory, bed, tmp_path).start()
    send(dm, ["x@good.test"])
    wait_tls_result(dm, "good.test", r"result=success")
    dm.ctl("report", "tls", "send", "good.test")
    assert dm.wait_exit(20) not in (None, 0), dm.logtext()[-3000:]
    end = int(time.time()) // 86400 * 86400 + 86400
    shift = str(end + 3 * 86400 + 60 - int(time.time()))
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": shift})
    wait_log(dm, "TLS-RPT report of good.test for %d-%d still not sent 3 "
             "days after its end; given up" % (end - 86400, end))
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": shift})
    time.sleep(3)
    assert "report of good.test" not in dm.logtext()
    assert peers["mx.rpt.test"].accepted() == []


def test_old_entries_pruned(daemon_factory, bed, tmp_path, peers,
                            monkeypatch):
    """60 days on (the clock hook), the queue forgets the report keys and
    reportd its sent-report log entries of then, at start; a report of
    now, queued when a kill -9 struck before reportd heard it, is still
    refused when offered again at the next start: sent once."""
    dm = make_sender(daemon_factory, bed, tmp_path).start()
    sink = peers["mx.rpt.test"]
    send(dm, ["x@good.test"])
    wait_tls_result(dm, "good.test", r"result=success")
    assert dm.ctl("report", "tls", "send", "good.test").returncode == 0
    sink.wait_messages(1, timeout=30)
    dm.stop()
    shift = str(61 * 86400)
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": shift,
                              "POSTERN_TEST_CRASH": "queue:report-queued"})
    wait_log(dm, "queue: pruned 1 report keys older than 60 days")
    wait_log(dm, "sent-report log entries older than 60 days")
    send(dm, ["y@good.test"])
    wait_tls_result(dm, "good.test", r"result=success")
    dm.ctl("report", "tls", "send", "good.test")
    assert dm.wait_exit(20) not in (None, 0), dm.logtext()[-3000:]
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": shift})
    wait_log(dm, "report of good.test for")
    wait_log(dm, "was queued before")
    assert "report keys" not in dm.logtext()
    assert "sent-report log entries" not in dm.logtext()
    sink.wait_messages(2, timeout=30)
    time.sleep(3)
    assert len(sink.accepted()) == 2


def test_day_closed_at_start(daemon_factory, bed, tmp_path, peers,
                             monkeypatch):
    """A day that ended while the daemon was down is reported at start,
    once; the restart after that sends nothing again."""
    dm = make_sender(daemon_factory, bed, tmp_path).start()
    send(dm, ["x@good.test"])
    peers["mx.good.test"].wait_messages(1)
    wait_tls_result(dm, "good.test", r"result=success")
    day = int(time.time()) // 86400 * 86400
    dm.stop()
    sink = peers["mx.rpt.test"]
    assert sink.accepted() == []
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "86400"})
    _, fn, rep = report_of(sink.wait_messages(1, timeout=30)[0])
    assert fn == "a.postern.test!good.test!%d!%d!0.json.gz" % (
        day, day + 86399)
    assert rep["policies"][0]["summary"][
        "total-successful-session-count"] == 1
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "86400"})
    time.sleep(3)
    assert len(sink.accepted()) == 1


@pytest.mark.parametrize("case", ["status", "certificate"])
def test_https_failure_logged_and_kept(dm, peers, bed, tmp_path, case):
    """5.4: a non-2xx answer, or a server whose certificate is not valid
    for the URI's host, is a failure: logged with its back-off, the report
    kept pending for the URI alone: its mail goes at once."""
    peers["post"].stop()
    cert = bed.post if case == "status" else bed.other
    peers["post"] = StsServer(tmp_path / "post2", POST, cert.cert,
                              cert.key, policy="", status=500).start()
    send(dm, ["x@mixed.test"])
    peers["mx2.mixed.test"].wait_messages(1)
    wait_tls_result(dm, "mixed.test", r"result=success")
    r = dm.ctl("report", "tls", "send", "mixed.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "; tried again in 1 min")
    log = dm.logtext()
    if case == "status":
        assert "to https://post.rpt.test/tlsrpt/v1: HTTP status 500" in log
        assert len(peers["post"].posts()) == 1
    else:
        assert "to https://post.rpt.test/tlsrpt/v1: TLS handshake" in log
        assert peers["post"].posts() == []
    # the mail did not wait for the https: URI
    msgs = peers["mx.rpt.test"].wait_messages(1, timeout=30)
    report_of(msgs[0])
    # pending, not closed again, not posted again before its time
    r = dm.ctl("report", "tls", "send", "mixed.test")
    assert r.stdout.startswith("0 reports"), r.stdout
    time.sleep(2)
    assert len(peers["post"].posts()) == (1 if case == "status" else 0)
    assert len(peers["mx.rpt.test"].accepted()) == 1


def failing_post(dm, peers, bed, tmp_path):
    """mixed.test's report sent while its https: URI answers 500."""
    peers["post"].stop()
    peers["post"] = StsServer(tmp_path / "post500", POST, bed.post.cert,
                              bed.post.key, policy="", status=500).start()
    send(dm, ["x@mixed.test"])
    peers["mx2.mixed.test"].wait_messages(1)
    wait_tls_result(dm, "mixed.test", r"result=success")
    r = dm.ctl("report", "tls", "send", "mixed.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "HTTP status 500; tried again in 1 min")
    peers["mx.rpt.test"].wait_messages(1, timeout=30)


def test_https_retry_posts_once_mail_once(dm, peers, bed, tmp_path,
                                          monkeypatch):
    """A failed URI is tried again when its back-off is over (at start
    too), and once it took the report it is never posted to again; the
    mail, queued the first time, is not queued again."""
    failing_post(dm, peers, bed, tmp_path)
    dm.stop()
    peers["post"].stop()
    peers["post"] = StsServer(tmp_path / "post200", POST, bed.post.cert,
                              bed.post.key, policy="").start()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "120"})
    post = wait_posts(peers["post"], 1, timeout=30)[0]
    assert post["path"] == "/tlsrpt/v1"
    wait_log(dm, "posted to https://post.rpt.test/tlsrpt/v1 (HTTP 200)")
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "3600"})
    time.sleep(4)
    assert len(peers["post"].posts()) == 1
    assert len(peers["mx.rpt.test"].accepted()) == 1
    assert "TLS-RPT report of mixed.test" not in dm.logtext()


def test_https_uri_that_took_it_not_again(dm, peers, monkeypatch):
    """Two https: URIs, the second failing (nothing listens on post2): the
    retry posts to the failing one only."""
    send(dm, ["x@two.test"])
    peers["mx.good.test"].wait_messages(1)
    wait_tls_result(dm, "two.test", r"result=success")
    r = dm.ctl("report", "tls", "send", "two.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "to https://post2.rpt.test/two: connect: ")
    wait_log(dm, "tried again in 1 min")
    assert [p["path"] for p in wait_posts(peers["post"], 1)] == ["/two"]
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "120"})
    wait_log(dm, "to https://post2.rpt.test/two: connect: ", timeout=30)
    wait_log(dm, "tried again in 5 min")
    time.sleep(1)
    assert len(peers["post"].posts()) == 1


def test_https_posts_share_a_time_budget(dm, peers, monkeypatch):
    """The POSTs of one report share a time budget, so that slow https:
    destinations cannot hold up every other report: what is left when it
    is spent (all of it, with a budget of 0 s) is tried again later, and
    the mail goes at once (review finding)."""
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_TLS_JOB_BUDGET": "0"})
    send(dm, ["x@two.test"])
    peers["mx.good.test"].wait_messages(1)
    wait_tls_result(dm, "two.test", r"result=success")
    r = dm.ctl("report", "tls", "send", "two.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "2 https: destinations left for later: the job's 0 s are "
             "spent")
    time.sleep(1)
    assert peers["post"].posts() == []
    # five minutes on, with the budget back: posted
    dm.stop()
    monkeypatch.delenv("POSTERN_TEST_TLS_JOB_BUDGET")
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": "310"})
    assert [p["path"] for p in wait_posts(peers["post"], 1,
                                          timeout=30)] == ["/two"]


def test_https_given_up_after_a_day(dm, peers, bed, tmp_path, monkeypatch):
    """A URI that keeps failing is tried a last time a day after the
    report's end, then given up with one line; nothing after that."""
    failing_post(dm, peers, bed, tmp_path)
    end = int(time.time()) // 86400 * 86400 + 86400
    shift = end + 86400 - int(time.time()) + 5
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": str(shift)})
    wait_log(dm, "1 https: destination still failing a day after the "
             "report's end; given up", timeout=30)
    assert len(peers["post"].posts()) == 2
    dm.stop()
    restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": str(shift + 600)})
    time.sleep(4)
    assert len(peers["post"].posts()) == 2
    assert "given up" not in dm.logtext()
    assert len(peers["mx.rpt.test"].accepted()) == 1


def test_https_nxdomain_dropped(dm, peers, monkeypatch):
    """An https: URI whose host does not exist: tried again after an
    hour, then two, and dropped at the third NXDOMAIN, logged."""
    send(dm, ["x@nxrua.test"])
    peers["mx.good.test"].wait_messages(1)
    wait_tls_result(dm, "nxrua.test", r"result=success")
    r = dm.ctl("report", "tls", "send", "nxrua.test")
    assert r.stdout.startswith("1 report"), r.stdout
    wait_log(dm, "to https://nx.rpt.test/x: the host does not exist; "
             "tried again in 60 min")
    for shift, text in ((3660, "tried again in 120 min"),
                        (3660 + 7260, "https://nx.rpt.test/x given up: the "
                         "host does not exist (3 times)")):
        dm.stop()
        restart(dm, monkeypatch, {"POSTERN_TEST_CLOCK_SHIFT": str(shift)})
        wait_log(dm, text, timeout=30)
    # the job ends after its destination was given up: one line more
    wait_log(dm, "not sent: no destination took it")
    assert re.search(r"TLS-RPT report of nxrua\.test for \d+-\d+ not sent: "
                     r"no destination took it", dm.logtext())


@pytest.mark.parametrize("allowed", [False, True])
def test_https_host_on_loopback(daemon_factory, bed, tmp_path, peers,
                                allowed):
    """The rua host leads to 127.0.0.90: without an mta-mx-allow-network
    that holds it the POST is refused (logged with the URI and the
    address, the URI given up); with one, it is made."""
    srv = StsServer(tmp_path / "post2srv", POST2, bed.post2.cert,
                    bed.post2.key, policy="").start()
    try:
        dm = daemon_factory(sub="a")
        dm.maildir = str(tmp_path / "amail")
        with open(dm.conf, "a") as f:
            f.write(sender_conf(bed, dm.maildir, REPORTS + (
                "" if allowed else NARROW), mx_allow=allowed))
        dm.start()
        send(dm, ["x@ssrf.test"])
        peers["mx.good.test"].wait_messages(1)
        wait_tls_result(dm, "ssrf.test", r"result=success")
        r = dm.ctl("report", "tls", "send", "ssrf.test")
        assert r.stdout.startswith("1 report"), r.stdout
        if allowed:
            post = wait_posts(srv, 1)[0]
            assert post["path"] == "/ssrf"
            wait_log(dm, "posted to https://post2.rpt.test/ssrf")
        else:
            wait_log(dm, "TLS-RPT destination https://post2.rpt.test/ssrf: "
                     "post2.rpt.test leads to 127.0.0.90, a loopback "
                     "address: refused")
            wait_log(dm, "https://post2.rpt.test/ssrf given up")
            wait_log(dm, "not sent: no destination took it")
            time.sleep(1)
            assert srv.posts() == []
    finally:
        srv.stop()


def test_report_dkim_signed(daemon_factory, bed, tmp_path, peers):
    """reports sign with: the TLS report mail verifies with python3-dkim,
    as the DMARC reports do."""
    import dkim
    key = str(tmp_path / "tk.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "a.postern.test", "-s", "trpt", "-o", key])
    assert r.returncode == 0, r.stderr
    txt = "".join(re.findall(r'"([^"]*)"',
                             r.stdout[r.stdout.index("IN TXT") + 3:]))
    dm = make_sender(daemon_factory, bed, tmp_path, REPORTS + (
        'dkim-signature trpt {\n\tkey "%s"\n\tdomain a.postern.test\n'
        '\tselector trpt\n\talgorithm ed25519-sha256\n}\n'
        'reports sign with trpt\n') % key).start()
    send(dm, ["x@good.test"])
    wait_tls_result(dm, "good.test", r"result=success")
    assert dm.ctl("report", "tls", "send", "good.test").returncode == 0
    raw = peers["mx.rpt.test"].wait_messages(1, timeout=30)[0]
    signed = raw[raw.index(b"DKIM-Signature:"):]
    assert b"d=a.postern.test" in signed[:signed.index(b"\r\nFrom:")]
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5:
                       txt.encode())


def test_sts_policy_reported_by_post(dm, peers):
    """An MTA-STS policy (type sts) is reported with its lines as the
    policy string and its mx patterns as mx-host; an https:-only rua gets
    the POST and no mail."""
    send(dm, ["x@sts.test"])
    peers["mx.sts.test"].wait_messages(1)
    wait_tls_result(dm, "sts.test", r"policy=sts result=success")
    r = dm.ctl("report", "tls", "print", "sts.test")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    pol = rep["policies"][0]
    assert pol["policy"] == {
        "policy-type": "sts", "policy-domain": "sts.test",
        "policy-string": STS_POLICY.splitlines(),
        "mx-host": ["mx.sts.test"]}
    assert pol["summary"]["total-successful-session-count"] == 1
    assert dm.ctl("report", "tls", "send", "sts.test").returncode == 0
    post = wait_posts(peers["post"], 1)[0]
    assert post["path"] == "/sts"
    assert json.loads(gzip.decompress(post["body"])) == rep
    wait_log(dm, "TLS-RPT report of sts.test for")
    time.sleep(1)
    assert peers["mx.rpt.test"].accepted() == []

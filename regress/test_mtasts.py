"""MTA-STS (RFC 8461) in the daemon: policies published in the DNS test
bed's zones and served over HTTPS by a real TLS server on 127.0.0.x:443
with a certificate from the test CA (mta-ca-file), messages relayed
through posternd to scriptable SMTP peers.

Each domain has its _mta-sts TXT record, a policy server at mta-sts.DOMAIN
and its MX hosts; a case passes when mail arrives where the policy allows
and waits where it forbids, and the policy cache in the mta's spool
directory keeps a policy through restarts, refreshes and failures.

Modules covered: mta/sts_fetch.c (the HTTPS fetch: certificate check,
redirects, size and time bounds, servers that close without
close_notify), mta/sts_policy.c (record, cache and fetch decided per
destination; show and flush), mta/sts_cache.c and mta/sts.c (also
unit-tested), and the MTA-STS checks of mta/session_secure.c; "TLS-Required:
No" (mta/mta.c, RFC 8689 4.2.2) waives an enforce policy.
"""
import json
import os
import re
import time

import pytest

from dnsbed import DnsBed
from peers import make_ca, make_cert, tlsa_record
from stsserver import StsServer
from conftest import next_port
from test_dane import send_requiretls
from test_dsn import dsn_parts
from test_mta import peer, send, sender, wait_log, wait_queue_empty, \
    wait_queue_line, wait_tls_result  # noqa: F401 (fixtures)
from test_smtp import delivered

MX = {
    "mx.enf.test": "127.0.0.51",
    "mxbad.enf.test": "127.0.0.52",
    "mx.wild.test": "127.0.0.53",
    "mx.name.test": "127.0.0.54",
    "mx.testing.test": "127.0.0.55",
    "mx.nofetch.test": "127.0.0.56",
    "mx.change.test": "127.0.0.57",
    "mx.both.test": "127.0.0.58",
}
STS = {
    "enf.test": "127.0.0.61",
    "wild.test": "127.0.0.62",
    "name.test": "127.0.0.63",
    "testing.test": "127.0.0.64",
    "nofetch.test": "127.0.0.65",       # nothing listens there
    "change.test": "127.0.0.66",
    "both.test": "127.0.0.67",
}


def policy(mode, *mx, max_age=86400):
    return "version: STSv1\nmode: %s\n%smax_age: %d\n" % (
        mode, "".join("mx: %s\n" % m for m in mx), max_age)


POLICY = {
    "enf.test": policy("enforce", "mx.enf.test"),
    "wild.test": policy("enforce", "*.wild.test"),
    "name.test": policy("enforce", "mx.name.test"),
    "testing.test": policy("testing", "mx.testing.test"),
    "both.test": policy("enforce", "mx.both.test"),
}


def zones(bed, change_id="1"):
    def a(host):
        return "%s A %s" % (host.split(".")[0], MX[host])
    for dom, addr in STS.items():
        recs = ['_mta-sts TXT "v=STSv1; id=%s;"' % (
            change_id if dom == "change.test" else "1"),
                "mta-sts A %s" % addr]
        hosts = [h for h in MX if h.endswith("." + dom)]
        recs += ["@ MX %d %s." % (20 if h.startswith("mx.") else 10, h)
                 for h in hosts]
        recs += [a(h) for h in hosts]
        if dom == "both.test":
            # DANE for the MX, with a record that does not match it
            recs.append("_25._tcp.mx TLSA %s" % tlsa_record(bed.other.cert))
        bed.zone(dom, recs)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stsbed")
    b = DnsBed(tmp / "bed", addr="127.0.53.6")
    b.tmp = tmp
    b.ca = make_ca(tmp / "ca")
    b.certs = {n: make_cert(tmp / ("cert-" + n), b.ca, [n]) for n in MX}
    b.sts_certs = {d: make_cert(tmp / ("sts-" + d), b.ca, ["mta-sts." + d])
                   for d in STS}
    b.other = make_cert(tmp / "cert-other", b.ca, ["someone.else.test"],
                        basename="other")
    try:
        zones(b)
        b.start()
        yield b
    finally:
        b.stop()


def sts_servers(bed, tmp_path):
    """Yields a maker of the bed's HTTPS policy servers: make(domain,
    text=None, **kw) starts one; all are stopped afterwards."""
    made = []

    def make(dom, text=None, **kw):
        c = bed.sts_certs[dom]
        s = StsServer(tmp_path / ("sts-" + dom), STS[dom], c.cert, c.key,
                      text if text is not None else POLICY[dom], **kw)
        made.append(s)
        return s.start()
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def sts(bed, tmp_path):
    yield from sts_servers(bed, tmp_path)


@pytest.fixture
def dm(sender):  # noqa: F811 (test_mta's sender, on this module's bed)
    return sender()


def mx_peer(peer, bed, host, cert=None, **kw):  # noqa: F811
    c = cert or bed.certs[host]
    return peer(MX[host], starttls=True, tls_cert=c.cert, tls_key=c.key, **kw)


def test_enforce_uses_only_listed_mx(dm, peer, bed, sts):  # noqa: F811
    srv = sts("enf.test")
    bad = mx_peer(peer, bed, "mxbad.enf.test")     # preferred, not listed
    good = mx_peer(peer, bed, "mx.enf.test")
    send(dm, ["x@enf.test"])
    good.wait_messages(1)
    wait_queue_empty(dm)
    wait_tls_result(dm, "enf.test", r"policy=sts result=success "
                    r"mx=mx\.enf\.test ip=127\.0\.0\.51 count=1$")
    # RFC 8460 4.4: the policy's lines are kept with it
    wait_tls_result(dm, "enf.test", r"policy-string=")
    pol = [ln.split(" policy-string=", 1)[1] for ln in dm.ctl(
        "show", "tls-results", "enf.test").stdout.splitlines()
        if re.match(r"\d{4}-\d\d-\d\d enf\.test policy=sts mx=- "
                    r"policy-string=", ln)]
    assert pol == ["version: STSv1", "mode: enforce", "mx: mx.enf.test",
                   "max_age: 86400"], pol
    # -j: an object per row, the fields of the lines
    text = dm.ctl("show", "tls-results", "enf.test").stdout.splitlines()
    rows = [json.loads(ln) for ln in dm.ctl(
        "show", "tls-results", "enf.test", "-j").stdout.splitlines()]
    res = [r for r in rows if "result" in r]
    assert len(res) == 1 and res[0]["count"] == 1, rows
    assert "%(day)s %(domain)s policy=%(policy)s result=%(result)s " \
        "mx=%(mx)s ip=%(ip)s count=%(count)d" % res[0] in text
    pols = [r for r in rows if "policy_string" in r]
    assert len(pols) == 1 and pols[0]["policy_string"] == pol, rows
    assert pols[0]["mx"] is None and pols[0]["domain"] == "enf.test"
    assert bad.sessions() == []
    log = dm.logtext()
    assert "MTA-STS policy fetched: id 1, mode enforce" in log
    assert "mxbad.enf.test is not an mx of the MTA-STS policy of " \
        "enf.test" in log
    assert srv.fetches() == [("mta-sts.enf.test",
                              "/.well-known/mta-sts.txt")]
    assert "MTA-STS enforce" in log
    # the policy is in the mta's own store under the spool, and shown
    assert os.path.exists(os.path.join(dm.spool, "mta", "data.mdb"))
    r = dm.ctl("show", "mta-sts")
    assert r.returncode == 0, r.stderr
    assert re.match(r"enf\.test id=1 mode=enforce max_age=86400 "
                    r"fetched=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                    r"expires-in=86\d{3}s mx=mx\.enf\.test\n$", r.stdout), \
        r.stdout
    assert dm.ctl("show", "mta-sts", "ENF.test").stdout == r.stdout
    assert dm.ctl("show", "mta-sts", "other.test").stdout == ""
    # -j: the same policy, its fields
    j = dm.ctl("show", "mta-sts", "-j")
    assert j.returncode == 0 and j.stdout.count("\n") == 1, j.stdout
    o = json.loads(j.stdout)
    assert r.stdout == "%s id=%s mode=%s max_age=%d fetched=%s " \
        "expires-in=%ds mx=%s\n" % (o["domain"], o["id"], o["mode"],
                                     o["max_age"], o["fetched"],
                                     o["expires_in"], o["mx"][0]) or \
        abs(o["expires_in"] - int(re.search(r"expires-in=(\d+)s",
                                            r.stdout).group(1))) <= 2
    assert (o["domain"], o["id"], o["mode"], o["max_age"], o["mx"],
            o["expired"]) == ("enf.test", "1", "enforce", 86400,
                              ["mx.enf.test"], False)
    assert json.loads(dm.ctl("show", "mta-sts", "enf.test", "-j").stdout) \
        ["domain"] == "enf.test"
    assert dm.ctl("show", "mta-sts", "other.test", "-j").stdout == ""
    r = dm.ctl("flush", "mta-sts", "other.test")
    assert r.stdout == "0 MTA-STS policies flushed\n", r.stdout + r.stderr
    r = dm.ctl("flush", "mta-sts", "enf.test")
    assert r.stdout == "1 MTA-STS policy flushed\n", r.stdout + r.stderr
    assert dm.ctl("show", "mta-sts").stdout == ""
    # flushed: the next delivery fetches the policy again
    send(dm, ["y@enf.test"])
    good.wait_messages(2)
    wait_queue_empty(dm)
    assert len(srv.fetches()) == 2
    assert dm.ctl("flush", "mta-sts", "all").stdout == \
        "1 MTA-STS policy flushed\n"


def test_enforce_wildcard(dm, peer, bed, sts):  # noqa: F811
    sts("wild.test")
    mx = mx_peer(peer, bed, "mx.wild.test")
    send(dm, ["x@wild.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)


def test_enforce_refuses_certificate_for_another_name(dm, peer, bed,
                                                      sts):  # noqa: F811
    sts("name.test")
    mx = mx_peer(peer, bed, "mx.name.test", cert=bed.other)
    send(dm, ["x@name.test"])
    wait_queue_line(dm, "x@name.test", "MTA-STS (enforce): the certificate "
                    "is not valid for mx.name.test")
    wait_tls_result(dm, "name.test", r"policy=sts "
                    r"result=certificate-host-mismatch mx=mx\.name\.test")
    time.sleep(1)
    assert mx.accepted() == []


def test_tls_required_no_waives_enforce(dm, peer, bed, sts):  # noqa: F811
    # RFC 8689 4.2.2: with "TLS-Required: No" the enforce policy is not
    # applied (not even fetched); the same message without it waits
    srv = sts("name.test")
    mx = mx_peer(peer, bed, "mx.name.test", cert=bed.other)
    send(dm, ["plain@name.test"])
    wait_queue_line(dm, "plain@name.test", "MTA-STS (enforce): the "
                    "certificate is not valid for mx.name.test")
    fetched = len(srv.fetches())
    send(dm, ["waived@name.test"], body=(
        b"From: root@localhost\r\nTo: waived@name.test\r\n"
        b"Tls-Required:\r\n  no\r\nSubject: x\r\n\r\nbody\r\n"))
    mx.wait_messages(1)
    assert [r for m in mx.accepted() for r in m["rcpts"]] == \
        ["waived@name.test"]
    assert mx.wait_sessions(1)[-1]["tls"] is not None
    assert len(srv.fetches()) == fetched
    time.sleep(1)
    assert "plain@name.test" in dm.ctl("show", "queue").stdout
    assert len(mx.accepted()) == 1
    res = dm.ctl("show", "tls-results", "name.test").stdout
    assert "result=certificate-host-mismatch" in res, res
    assert "result=success" not in res, res


def test_requiretls_unlisted_and_refusing_mx_bounces(sender, peer, bed,
                                                     sts):  # noqa: F811
    # mxbad.enf.test (preferred) is not in the enforce policy, and
    # mx.enf.test does not offer REQUIRETLS: no host can take the
    # message, so it is returned at once (RFC 8689 4.2.1, 5: 5.7.30)
    # rather than waiting until it expires.
    port = next_port()
    c = bed.certs["mx.enf.test"]
    dm = sender(extra='pki s cert "%s" key "%s"' % (c.cert, c.key),
                listen_extra="listen on 127.0.0.1 port %d tls pki s\n" %
                port)
    dm.tls_port = port
    sts("enf.test")
    bad = mx_peer(peer, bed, "mxbad.enf.test", requiretls=True)
    mx = mx_peer(peer, bed, "mx.enf.test", requiretls=False)
    send_requiretls(dm, "x@enf.test")
    got = delivered(dm, "root", timeout=15)
    assert len(got) == 1, got
    msg, parts, blocks = dsn_parts(got[0])
    assert blocks[1]["status"] == "5.7.30"
    assert "mxbad.enf.test is not an mx of the MTA-STS policy" in \
        dm.logtext()
    assert "REQUIRETLS: mx.enf.test does not offer REQUIRETLS" in \
        dm.logtext()
    assert bad.sessions() == [] and mx.transactions() == []
    wait_queue_empty(dm)


def test_testing_delivers_and_logs(dm, peer, bed, sts):  # noqa: F811
    sts("testing.test")
    mx = mx_peer(peer, bed, "mx.testing.test", cert=bed.other)
    send(dm, ["x@testing.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert "MTA-STS (testing): the certificate is not valid for " \
        "mx.testing.test" in dm.logtext()


def test_testing_refused_starttls_is_counted(dm, peer, bed, sts):  # noqa
    # RFC 8460 4.3.1: STARTTLS offered and then refused
    sts("testing.test")
    mx = mx_peer(peer, bed, "mx.testing.test", replies=[
        {"cmd": "STARTTLS", "reply": "454 4.7.0 TLS not available now"}])
    send(dm, ["x@testing.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    wait_tls_result(dm, "testing.test", r"policy=sts "
                    r"result=starttls-not-supported mx=mx.testing.test "
                    r"ip=127.0.0.55 count=1$")


def test_testing_failed_handshake_is_counted_once(dm, peer, bed,
                                                  sts):  # noqa: F811
    # The peer speaks only TLS 1.1, which the mta refuses (libtls's
    # "secure" protocols): the handshake fails, the mta tries the same
    # address again without TLS (testing delivers).
    # One failure, validation-failure (RFC 8460 4.3.1), and the retry in
    # clear is not a second one.
    sts("testing.test")
    mx = mx_peer(peer, bed, "mx.testing.test",
                 tls_versions=["TLSv1.1", "TLSv1.1"])
    send(dm, ["x@testing.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    wait_tls_result(dm, "testing.test", r"policy=sts "
                    r"result=validation-failure mx=mx.testing.test "
                    r"ip=127.0.0.55 count=1$")
    res = dm.ctl("show", "tls-results", "testing.test").stdout
    assert "starttls-not-supported" not in res, res
    assert "result=success" not in res, res


def test_fetch_failure_without_cache_is_no_policy(dm, peer, bed):  # noqa
    mx = mx_peer(peer, bed, "mx.nofetch.test", cert=bed.other)
    send(dm, ["x@nofetch.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert "MTA-STS policy fetch failed (sts-policy-fetch-error: " in \
        dm.logtext()
    assert "no policy applies" in dm.logtext()
    # RFC 8460 4.3.2.2.2: the failure is a result of the domain
    wait_tls_result(dm, "nofetch.test", r"policy=sts "
                    r"result=sts-policy-fetch-error mx=- ip=- count=1$")


def test_fetch_with_bad_certificate_is_webpki_invalid(dm, peer, bed,
                                                      tmp_path):  # noqa
    # the policy server's certificate is not for mta-sts.name.test
    srv = StsServer(tmp_path / "sts-bad", STS["name.test"], bed.other.cert,
                    bed.other.key, POLICY["name.test"]).start()
    try:
        mx = mx_peer(peer, bed, "mx.name.test")
        send(dm, ["x@name.test"])
        mx.wait_messages(1)
        wait_queue_empty(dm)
        wait_tls_result(dm, "name.test", r"policy=sts "
                        r"result=sts-webpki-invalid mx=- ip=- count=1$")
        assert "policy-string" not in dm.ctl("show", "tls-results",
                                             "name.test").stdout
    finally:
        srv.stop()


def test_policy_without_length_cut_by_unclean_close_is_refused(
        dm, peer, bed, sts):  # noqa: F811
    """An answer with no Content-Length ends where the connection does;
    a close without TLS's close_notify could then be anyone on the path
    cutting the policy short ("max_age: 604800" made "max_age: 6"), so it
    is a failed fetch, not a policy (review finding)."""
    sts("name.test", no_length=True)
    mx = mx_peer(peer, bed, "mx.name.test")
    send(dm, ["x@name.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert "without TLS close_notify before the whole answer" in \
        dm.logtext()
    wait_tls_result(dm, "name.test", r"policy=sts "
                    r"result=sts-policy-fetch-error mx=- ip=- count=1$")


def test_dane_takes_precedence(dm, peer, bed, sts):  # noqa: F811
    # The policy would allow mx.both.test with its valid certificate, but
    # the host's DANE TLSA record does not match it: DANE decides.
    sts("both.test")
    mx = mx_peer(peer, bed, "mx.both.test")
    send(dm, ["x@both.test"])
    wait_queue_line(dm, "x@both.test", "DANE: no TLSA record matches")
    assert mx.accepted() == []


@pytest.mark.parametrize("kw,why", [
    (dict(status=301, location="https://elsewhere.test/"),
     "HTTP status 301 (redirects are not followed"),
    (dict(ctype="text/html"), 'policy served as "text/html"'),
    (dict(text="version: STSv1\nmode: enforce\nmax_age: 1e9\n"),
     "sts-policy-invalid"),
    (dict(text="version: STSv1\nmode: enforce\n" + "mx: a.test\n" * 1000 +
          "max_age: 9\n"), "more than 100 mx patterns"),
    (dict(text="x" * 10000000), "is larger than 81920 bytes"),
    (dict(stall=True), "took too long"),
])
def test_bad_policy_answers_are_no_policy(dm, peer, bed, sts, kw,
                                          why):  # noqa: F811
    text = kw.pop("text", None)
    sts("enf.test", text, **kw)
    good = mx_peer(peer, bed, "mx.enf.test")
    bad = mx_peer(peer, bed, "mxbad.enf.test")
    send(dm, ["x@enf.test"])
    wait_queue_empty(dm)
    # no policy: the preferred host, not listed, gets the message
    assert len(bad.accepted()) == 1 and good.accepted() == []
    assert why in dm.logtext()
    # RFC 8460 4.3.2.2.2: a result of the domain, of one of its types
    ln = wait_tls_result(dm, "enf.test", r"policy=sts result=sts-")
    assert re.search(r"policy=sts result=(sts-policy-fetch-error|"
                     r"sts-policy-invalid|sts-webpki-invalid) mx=- ip=- "
                     r"count=1$", ln), ln
    if why == "sts-policy-invalid" or "mx patterns" in why:
        assert "result=sts-policy-invalid" in ln, ln


def restart(dm):
    dm.stop()
    os.makedirs(dm.sockdir, exist_ok=True)
    return dm.start()


def test_cache_survives_restart_id_change_and_failures(dm, peer, bed, sts,
                                                       tmp_path):  # noqa
    srv = sts("change.test", policy("enforce", "mx.change.test"))
    mx = mx_peer(peer, bed, "mx.change.test")
    send(dm, ["a@change.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    # the same record id after a restart: the cached policy, no fetch
    # (the server is there and would answer)
    restart(dm)
    send(dm, ["b@change.test"])
    mx.wait_messages(2)
    wait_queue_empty(dm)
    assert len(srv.fetches()) == 1
    # a new id: fetched again; the new policy no longer lists the host
    srv.stop()
    bed.stop()
    zones(bed, change_id="2")
    bed.start()
    srv = sts("change.test", policy("enforce", "*.elsewhere.test"))
    restart(dm)
    send(dm, ["c@change.test"])
    wait_queue_line(dm, "c@change.test", "mx.change.test is not an mx of "
                    "the MTA-STS policy of change.test (id 2")
    assert len(srv.fetches()) == 1
    # another id, and the fetch fails: the cached policy (id 2) holds
    srv.stop()
    bed.stop()
    zones(bed, change_id="3")
    bed.start()
    restart(dm)
    send(dm, ["d@change.test"])
    wait_log(dm, "the cached policy (id 2) holds until it expires")
    wait_queue_line(dm, "d@change.test", "is not an mx of the MTA-STS "
                    "policy of change.test (id 2")
    assert len(mx.accepted()) == 2

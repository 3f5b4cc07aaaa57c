"""DANE for SMTP (RFC 7672) in the daemon: messages relayed through
posternd to receiving servers whose TLSA records the DNS test bed serves.

The bed (nsd, signed with the ldns tools, validated by libunbound inside
posternd against the bed's trust anchor) holds one zone per case; each
receiving server is a scriptable SMTP peer on 127.0.0.x port 25 with a
certificate from a throwaway CA.  A case passes when the message arrives
where DANE allows it and waits in the queue, never sent in clear or to an
impostor, where DANE forbids it.

Modules covered: mta/tlsa.c (the lookups), mta/dane.c (the match, also
unit-tested), mta/session.c (which hosts, STARTTLS required, REQUIRETLS
with its walk over the MX hosts), mta/session_secure.c (the handshake's
DANE and certificate checks, SNI, the TLS results sent to reportd),
smtpd/arstrip.c and mta/mta.c for "TLS-Required: No" (RFC 8689 3, 4.2.2:
noticed in the header, a destination of its own, DANE waived) and
queue/sched.c for the REQUIRETLS of a REQUIRETLS message's bounce.
The DANE verdicts are compared with ldns-dane's (ldnsutils, in
scripts/deps) on the same certificates and TLSA records.
"""
import re
import shutil
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import next_port
from dnsbed import DnsBed
from peers import chain, make_ca, make_cert, tlsa_record
from test_dsn import dsn_parts
from test_mta import peer, send, sender, wait_log, wait_queue_empty, \
    wait_queue_line, wait_tls_result  # noqa: F401 (fixtures)
from test_smtp import delivered

ADDR = {
    "mx.ee.test": "127.0.0.41",
    "mx.ta.test": "127.0.0.42",
    "mx.mismatch.test": "127.0.0.43",
    "mx.nostarttls.test": "127.0.0.44",
    "mx.bogus.test": "127.0.0.45",
    "mx.insecure.test": "127.0.0.46",
    "mx.pkix.test": "127.0.0.47",
    "mx1.backup.test": "127.0.0.48",
    "mx2.backup.test": "127.0.0.49",
    "mx1.rtbackup.test": "127.0.0.38",
    "mx2.rtbackup.test": "127.0.0.39",
}


def tlsa(name, rec):
    """A TLSA record for port 25 of an MX host, relative to its zone."""
    return "_25._tcp.%s TLSA %s" % (name, rec)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("danebed")
    b = DnsBed(tmp / "bed", addr="127.0.53.5")
    b.ca = make_ca(tmp / "ca")
    b.certs = {n: make_cert(tmp / ("cert-" + n), b.ca, [n]) for n in ADDR}
    b.other = make_cert(tmp / "cert-other", b.ca, ["mx.mismatch.test"],
                        basename="other")
    ee = b.ee = {n: tlsa_record(c.cert) for n, c in b.certs.items()}
    ta = tlsa_record(b.ca.cert, usage=2, selector=0, matching=1)

    def zone(name, host, extra, **kw):
        b.zone(name, ["@ MX 10 %s." % host,
                      "%s A %s" % (host[:-len(name) - 1], ADDR[host])] +
               extra, **kw)
    try:
        zone("ee.test", "mx.ee.test", [tlsa("mx", ee["mx.ee.test"])])
        zone("ta.test", "mx.ta.test", [tlsa("mx", ta)])
        zone("mismatch.test", "mx.mismatch.test",
             [tlsa("mx", tlsa_record(b.other.cert))])
        zone("nostarttls.test", "mx.nostarttls.test",
             [tlsa("mx", ee["mx.nostarttls.test"])])
        # the TLSA name is a CNAME into a zone whose data no longer
        # matches its signatures: the TLSA answer is bogus, the MX and
        # address answers are not
        zone("bogus.test", "mx.bogus.test",
             ["_25._tcp.mx CNAME _25._tcp.mx.tlsabroken.test."])
        b.zone("tlsabroken.test", [tlsa("mx", ee["mx.bogus.test"])],
               broken=True)
        # an unsigned zone: its (wrong) TLSA record proves nothing
        zone("insecure.test", "mx.insecure.test",
             [tlsa("mx", tlsa_record(b.other.cert))], signed=False)
        # PKIX-EE only: not usable for SMTP (RFC 7672 3.1.3)
        zone("pkix.test", "mx.pkix.test",
             [tlsa("mx", tlsa_record(b.certs["mx.pkix.test"].cert,
                                     usage=1))])
        b.zone("backup.test", [
            "@ MX 10 mx1.backup.test.", "@ MX 20 mx2.backup.test.",
            "mx1 A %s" % ADDR["mx1.backup.test"],
            "mx2 A %s" % ADDR["mx2.backup.test"],
            tlsa("mx1", tlsa_record(b.other.cert)),
            tlsa("mx2", ee["mx2.backup.test"])])
        # signed, but only the backup has TLSA records: the primary is
        # reached over TLS that nothing authenticates
        b.zone("rtbackup.test", [
            "@ MX 10 mx1.rtbackup.test.", "@ MX 20 mx2.rtbackup.test.",
            "mx1 A %s" % ADDR["mx1.rtbackup.test"],
            "mx2 A %s" % ADDR["mx2.rtbackup.test"],
            tlsa("mx2", ee["mx2.rtbackup.test"])])
        b.start()
        yield b
    finally:
        b.stop()


@pytest.fixture
def dm(sender):  # noqa: F811 (test_mta's sender, on this module's bed)
    return sender()


def tls_peer(peer, bed, name, cert=None, **kw):   # noqa: F811
    c = cert or bed.certs[name]
    return peer(ADDR[name], starttls=True, tls_cert=c.cert, tls_key=c.key,
                **kw)


def test_dane_ee_match_delivers(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test")
    send(dm, ["x@ee.test"])
    mx.wait_messages(1)
    s = mx.wait_sessions(1)[0]
    assert s["tls"] is not None and s["tls"]["sni"] == "mx.ee.test"
    wait_queue_empty(dm)
    assert "DANE DANE-EE matched TLSA 3 1 1 " in dm.logtext()
    # RFC 8460: the outcome is kept for TLS reports
    ln = wait_tls_result(dm, "ee.test", r"policy=tlsa result=success")
    assert re.match(r"\d{4}-\d\d-\d\d ee\.test policy=tlsa "
                    r"result=success mx=mx\.ee\.test ip=127\.0\.0\.41 "
                    r"count=1$", ln), ln
    # RFC 8460 4.4: and the policy behind it, the host's TLSA records
    ln = wait_tls_result(dm, "ee.test", r"policy-string=")
    assert re.match(r"\d{4}-\d\d-\d\d ee\.test policy=tlsa mx=mx\.ee\.test "
                    r"policy-string=_25\._tcp\.mx\.ee\.test\. IN TLSA 3 1 1 "
                    r"[0-9A-F]{64}$", ln), ln
    assert ln.endswith(bed.ee["mx.ee.test"].split()[-1].upper())
    # not in the listing of every domain
    assert "policy-string" not in dm.ctl("show", "tls-results").stdout


def test_dane_ta_match_with_names_delivers(dm, peer, bed, tmp_path):  # noqa
    c = bed.certs["mx.ta.test"]
    mx = peer(ADDR["mx.ta.test"], starttls=True,
              tls_cert=chain(tmp_path, c, bed.ca), tls_key=c.key)
    send(dm, ["x@ta.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert "DANE DANE-TA matched TLSA 2 0 1 " in dm.logtext()


def test_dane_mismatch_waits_in_queue(dm, peer, bed):  # noqa: F811
    # The server's certificate is valid under the CA and names the host,
    # but the TLSA record is for another key: an impostor to DANE.
    mx = tls_peer(peer, bed, "mx.mismatch.test")
    send(dm, ["x@mismatch.test"])
    wait_queue_line(dm, "x@mismatch.test", "DANE: no TLSA record matches")
    assert "(certificate-not-trusted)" in dm.logtext()
    wait_tls_result(dm, "mismatch.test",
                    r"policy=tlsa result=certificate-not-trusted "
                    r"mx=mx\.mismatch\.test")
    assert "result=success" not in dm.ctl("show", "tls-results").stdout
    time.sleep(2)                       # retries: still never delivered
    assert mx.accepted() == []
    assert all(s["tls"] is not None for s in mx.sessions())


def test_dane_without_starttls_never_plaintext(dm, peer, bed):  # noqa
    mx = peer(ADDR["mx.nostarttls.test"], starttls=False)
    send(dm, ["x@nostarttls.test"])
    wait_queue_line(dm, "x@nostarttls.test", "does not offer STARTTLS")
    wait_tls_result(dm, "nostarttls.test",
                    r"policy=tlsa result=starttls-not-supported")
    time.sleep(2)
    assert mx.accepted() == []
    assert mx.transactions() == []


def test_bogus_tlsa_host_not_used(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.bogus.test")
    send(dm, ["x@bogus.test"])
    wait_queue_line(dm, "x@bogus.test", "dnssec-invalid")
    # RFC 8460 4.3.2.2.1: recorded, with the host and no address
    wait_tls_result(dm, "bogus.test", r"policy=tlsa result=dnssec-invalid "
                    r"mx=mx\.bogus\.test ip=- count=\d+$")
    time.sleep(2)
    # not even a connection: a bogus TLSA answer may be an attack
    assert mx.sessions() == []


def test_insecure_tlsa_ignored(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.insecure.test")
    send(dm, ["x@insecure.test"])
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert "DANE" not in dm.logtext()


def test_pkix_only_tlsa_requires_tls_only(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.pkix.test")
    send(dm, ["x@pkix.test"])
    mx.wait_messages(1)
    assert mx.wait_sessions(1)[0]["tls"] is not None
    wait_queue_empty(dm)
    assert "DANE: TLSA records but none usable" in dm.logtext()
    wait_tls_result(dm, "pkix.test", r"policy=tlsa result=tlsa-invalid "
                    r"mx=mx\.pkix\.test")
    # and without STARTTLS it would not go in clear
    mx.stop()
    mx = peer(ADDR["mx.pkix.test"], starttls=False)
    send(dm, ["y@pkix.test"])
    wait_queue_line(dm, "y@pkix.test", "does not offer STARTTLS")
    assert mx.accepted() == []


def test_failing_primary_good_backup(dm, peer, bed):  # noqa: F811
    mx1 = tls_peer(peer, bed, "mx1.backup.test", cert=bed.certs[
        "mx1.backup.test"])
    mx2 = tls_peer(peer, bed, "mx2.backup.test")
    send(dm, ["x@backup.test"])
    mx2.wait_messages(1)
    wait_queue_empty(dm)
    assert mx1.accepted() == []
    log = dm.logtext()
    assert "mx1.backup.test [127.0.0.48]: DANE: no TLSA record matches" \
        in log
    assert "DANE DANE-EE matched" in log


# -- REQUIRETLS (RFC 8689): only over DANE (or MTA-STS enforce) ---------------

RT_MSG = (b"From: root@localhost\r\nTo: x@ee.test\r\nSubject: secret\r\n"
          b"\r\nthe body that must not travel in clear\r\n")


@pytest.fixture
def rt_sender(sender, bed):  # noqa: F811
    """A sender with a STARTTLS listener, where REQUIRETLS is offered."""
    port = next_port()
    c = bed.certs["mx.ee.test"]
    dm = sender(extra='pki s cert "%s" key "%s"' % (c.cert, c.key),
                listen_extra="listen on 127.0.0.1 port %d tls pki s\n" % port)
    dm.tls_port = port
    return dm


def send_requiretls(dm, rcpt):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", dm.tls_port) as c:
        c.ehlo("client.test")
        assert not c.has_extn("requiretls")     # RFC 8689 4.1: TLS first
        c.starttls(context=ctx)
        c.ehlo("client.test")
        assert c.has_extn("requiretls")
        # RET=FULL asked for, but RFC 8689 5 returns the header only
        assert c.mail("root@localhost", ["REQUIRETLS", "RET=FULL"])[0] == 250
        assert c.rcpt(rcpt)[0] == 250
        assert c.data(RT_MSG)[0] == 250


def test_requiretls_over_dane_passed_on(rt_sender, peer, bed):  # noqa
    mx = tls_peer(peer, bed, "mx.ee.test", requiretls=True)
    send_requiretls(rt_sender, "x@ee.test")
    mx.wait_messages(1)
    wait_queue_empty(rt_sender)
    t = mx.wait_sessions(1)[0]["transactions"][-1]
    assert t["mail_options"] == ["REQUIRETLS"]


@pytest.mark.parametrize("host,why", [
    # DANE authenticates the server, but it does not offer REQUIRETLS
    ("mx.ee.test", "does not offer REQUIRETLS"),
    # a server with TLS and REQUIRETLS, but nothing authenticates it
    ("mx.insecure.test", "authenticated neither by DANE nor by an "
     "MTA-STS policy in enforce mode"),
])
def test_requiretls_unmet_bounces_headers_only(rt_sender, peer, bed, host,
                                               why):  # noqa: F811
    mx = tls_peer(peer, bed, host, requiretls=host != "mx.ee.test")
    rcpt = "x@" + host.split(".", 1)[1]
    send_requiretls(rt_sender, rcpt)
    got = delivered(rt_sender, "root", timeout=15)
    assert len(got) == 1, got
    msg, parts, blocks = dsn_parts(got[0])
    assert blocks[1]["status"] == "5.7.30"
    assert why in blocks[1]["diagnostic-code"] or why in rt_sender.logtext()
    # RFC 8689 5: returned as if RET=HDRS: the body stays behind
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"must not travel" not in got[0]
    assert mx.accepted() == []
    wait_queue_empty(rt_sender)


# -- TLS-Required: No (RFC 8689 3, 4.2.2): DANE waived by the sender ----------

def tlsreq_msg(rcpt, field):
    return (b"From: root@localhost\r\nTo: " + rcpt.encode() + b"\r\n" +
            field + b"Subject: not secret\r\n\r\nbody\r\n")


@pytest.mark.parametrize("field", [
    b"TLS-Required: No\r\n",
    b"tls-required:\r\n \t nO \r\n",          # folded, any case
    b"TLS-REQUIRED:\r\n\tNO\r\n",
])
def test_tls_required_no_waives_dane(dm, peer, bed, field):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.mismatch.test")
    # without the field: the impostor to DANE gets nothing
    send(dm, ["plain@mismatch.test"])
    wait_queue_line(dm, "plain@mismatch.test", "DANE: no TLSA record matches")
    # with it: delivered, over TLS all the same (opportunistic)
    send(dm, ["waived@mismatch.test"],
         body=tlsreq_msg("waived@mismatch.test", field))
    mx.wait_messages(1)
    assert [r for m in mx.accepted() for r in m["rcpts"]] == \
        ["waived@mismatch.test"]
    assert all(s["tls"] is not None for s in mx.sessions())
    log = dm.logtext()
    assert "TLS-Required: No: the recipient domains' DANE and MTA-STS will " \
        "not be enforced" in log
    assert "out/mismatch.test#tls-required-no: TLS-Required: No (RFC " \
        "8689 4.2.2): the DANE and MTA-STS policies of mismatch.test are " \
        "not applied" in log
    # two destinations: the waived messages never share a session
    hosts = [ln.split()[0] for ln in dm.ctl("show", "hosts").stdout
             .splitlines()]
    assert "out/mismatch.test" in hosts and \
        "out/mismatch.test#tls-required-no" in hosts, hosts
    # the message without the field still waits, never sent
    time.sleep(2)
    q = dm.ctl("show", "queue").stdout
    assert "plain@mismatch.test" in q and "waived@" not in q, q
    assert len(mx.accepted()) == 1
    # RFC 8460 3 and 4.3: the waived session is no result of the policy
    # (neither a failure nor a success); the refused ones are
    res = dm.ctl("show", "tls-results", "mismatch.test").stdout
    assert "result=certificate-not-trusted" in res, res
    assert "result=success" not in res and "no-policy-found" not in res, res


def test_tls_required_no_without_starttls_in_clear(dm, peer, bed):  # noqa
    # RFC 8689 4.2.2: TLS when offered; here it is not: sent in clear
    mx = peer(ADDR["mx.nostarttls.test"], starttls=False)
    send(dm, ["x@nostarttls.test"], body=tlsreq_msg(
        "x@nostarttls.test", b"TLS-Required: No\r\n"))
    mx.wait_messages(1)
    wait_queue_empty(dm)
    assert mx.wait_sessions(1)[0]["tls"] is None


def test_tls_required_no_other_values_change_nothing(dm, peer, bed):  # noqa
    mx = tls_peer(peer, bed, "mx.mismatch.test")
    send(dm, ["x@mismatch.test"], body=tlsreq_msg(
        "x@mismatch.test", b"TLS-Required: Nope\r\nX-TLS-Required: No\r\n"))
    wait_queue_line(dm, "x@mismatch.test", "DANE: no TLSA record matches")
    time.sleep(1)
    assert mx.accepted() == []


def test_requiretls_wins_over_tls_required_no(rt_sender, peer, bed):  # noqa
    # RFC 8689 3: with REQUIRETLS on MAIL the field MUST be ignored
    mx = tls_peer(peer, bed, "mx.insecure.test", requiretls=True)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", rt_sender.tls_port) as c:
        c.ehlo("client.test")
        c.starttls(context=ctx)
        c.ehlo("client.test")
        assert c.mail("root@localhost", ["REQUIRETLS"])[0] == 250
        assert c.rcpt("x@insecure.test")[0] == 250
        assert c.data(tlsreq_msg("x@insecure.test",
                                 b"TLS-Required: No\r\n"))[0] == 250
    got = delivered(rt_sender, "root", timeout=15)
    assert len(got) == 1, got
    msg, parts, blocks = dsn_parts(got[0])
    assert blocks[1]["status"] == "5.7.30"
    assert mx.accepted() == []
    assert "TLS-Required: No ignored: REQUIRETLS was given (RFC 8689 3)" in \
        rt_sender.logtext()


# -- REQUIRETLS: the backup MX (RFC 8689 4.2.1), the bounce (RFC 8689 5) -------

def test_requiretls_tries_backup_mx(rt_sender, peer, bed):  # noqa: F811
    mx1 = tls_peer(peer, bed, "mx1.rtbackup.test", requiretls=True)
    mx2 = tls_peer(peer, bed, "mx2.rtbackup.test", requiretls=True)
    send_requiretls(rt_sender, "x@rtbackup.test")
    mx2.wait_messages(1)
    wait_queue_empty(rt_sender)
    assert mx1.accepted() == [] and mx1.transactions() == []
    assert len(mx1.sessions()) >= 1      # tried first, and left
    t = mx2.wait_sessions(1)[0]["transactions"][-1]
    assert t["mail_options"] == ["REQUIRETLS"]
    log = rt_sender.logtext()
    assert "mx1.rtbackup.test [127.0.0.38]: REQUIRETLS: mx1.rtbackup.test " \
        "is authenticated neither by DANE" in log
    assert delivered(rt_sender, "root", timeout=1) == []


def test_requiretls_no_mx_qualifies_bounces(rt_sender, peer,
                                            bed):  # noqa: F811
    # both hosts tried, neither can take it: returned, 5.7.30
    mx1 = tls_peer(peer, bed, "mx1.rtbackup.test", requiretls=True)
    mx2 = tls_peer(peer, bed, "mx2.rtbackup.test", requiretls=False)
    send_requiretls(rt_sender, "x@rtbackup.test")
    got = delivered(rt_sender, "root", timeout=15)
    assert len(got) == 1, got
    msg, parts, blocks = dsn_parts(got[0])
    assert blocks[1]["status"] == "5.7.30"
    log = rt_sender.logtext()
    assert "mx1.rtbackup.test is authenticated neither by DANE" in log
    assert "REQUIRETLS: mx2.rtbackup.test does not offer REQUIRETLS" in log
    assert mx1.transactions() == [] and mx2.transactions() == []
    wait_queue_empty(rt_sender)


def test_requiretls_bounce_goes_with_requiretls(rt_sender, peer,
                                                bed):  # noqa: F811
    # A REQUIRETLS message from a sender at ee.test that cannot be
    # delivered: its bounce, which carries its header, goes to ee.test
    # with REQUIRETLS too (RFC 8689 5).
    bad = tls_peer(peer, bed, "mx.insecure.test", requiretls=True)
    home = tls_peer(peer, bed, "mx.ee.test", requiretls=True)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", rt_sender.tls_port) as c:
        c.ehlo("client.test")
        c.starttls(context=ctx)
        c.ehlo("client.test")
        assert c.mail("someone@ee.test", ["REQUIRETLS"])[0] == 250
        assert c.rcpt("x@insecure.test")[0] == 250
        assert c.data(RT_MSG)[0] == 250
    home.wait_messages(1)
    wait_queue_empty(rt_sender)
    t = home.wait_sessions(1)[0]["transactions"][-1]
    assert t["mail_from"] == "" and t["mail_options"] == ["REQUIRETLS"], t
    assert [r["addr"] for r in t["rcpts"]] == ["someone@ee.test"], t
    assert b"text/rfc822-headers" in home.messages()[0]
    assert bad.accepted() == []


# -- An independent verdict: ldns-dane (Debian's ldnsutils) ------------------
#
# ldns-dane checks a certificate (chain) file against TLSA records read
# from a file.  Two traps explain the "hostname mismatch" it gives where
# names plainly match: in its "-t FILE verify" form (no name given) the
# reference name is the TLSA owner in presentation form, with its trailing
# dot ("mx.ee.test."), which OpenSSL's host check never matches; and
# without -n it checks names for DANE-EE too, which RFC 7672 3.1.1 says
# not to do.  "-n -t FILE verify NAME 25" is RFC 7672: no name checks for
# DANE-EE, the name (NAME only) for DANE-TA (3.2.2; OpenSSL's DANE code
# keeps that check under -n).  The TLSA records come from the bed itself
# (drill, also ldnsutils), as postern sees them.

def ldns_dane_verdict(bed, host, certfile, tmp_path):
    """True if ldns-dane accepts certfile for host's TLSA records."""
    ans = subprocess.run(["drill", "-p", str(bed.port), "@" + bed.addr,
                          "TLSA", "_25._tcp." + host], capture_output=True,
                         text=True, timeout=30)
    recs = [ln for ln in ans.stdout.splitlines()
            if "\tTLSA\t" in ln and not ln.startswith(";")]
    assert recs, ans.stdout
    tf = tmp_path / ("%s.tlsa" % host)
    tf.write_text("\n".join(recs) + "\n")
    r = subprocess.run(["ldns-dane", "-n", "-c", certfile, "-t", str(tf),
                        "verify", host, "25"], capture_output=True,
                       text=True, timeout=30)
    out = r.stdout + r.stderr
    assert ("dane-validated successfully" in out) == (r.returncode == 0), out
    return r.returncode == 0, out


@pytest.mark.skipif(shutil.which("ldns-dane") is None or
                    shutil.which("drill") is None,
                    reason="ldnsutils (scripts/deps) is not installed")
@pytest.mark.parametrize("case,domain,host,match", [
    ("DANE-EE", "ee.test", "mx.ee.test", True),
    ("DANE-TA", "ta.test", "mx.ta.test", True),
    ("DANE-EE other key", "mismatch.test", "mx.mismatch.test", False),
    # the CA matches, but the certificate names another host
    ("DANE-TA other name", "ta.test", "mx.ta.test", False),
])
def test_dane_verdict_agrees_with_ldns_dane(dm, peer, bed, tmp_path, case,
                                            domain, host,
                                            match):  # noqa: F811
    if case.startswith("DANE-TA"):
        leaf = bed.certs[host] if match else bed.other
        certfile = chain(tmp_path, leaf, bed.ca)
        mx = peer(ADDR[host], starttls=True, tls_cert=certfile,
                  tls_key=leaf.key)
    else:
        leaf = bed.certs[host]
        certfile = leaf.cert
        mx = tls_peer(peer, bed, host)
    theirs, why = ldns_dane_verdict(bed, host, certfile, tmp_path)
    send(dm, ["x@" + domain])
    if match:
        mx.wait_messages(1)
        wait_queue_empty(dm)
        ours = True
    else:
        wait_queue_line(dm, "x@" + domain, "DANE: ")
        ours = mx.accepted() != []
    assert ours == theirs == match, (case, ours, theirs, why)

"""lib/dns.c against a real DNSSEC-signed authoritative server (dnsbed.py).

posternctl check spf / check dkim with `--resolver ADDR@PORT --trust-anchor
FILE`, through libunbound's validator: answers from a signed zone are
secure, from a zone without a DS in its signed parent insecure, from a zone
whose records no longer match their signatures bogus (a temporary error
for SPF and DKIM alike, as a validating resolver's SERVFAIL would be).
Names under the special-use `.test` go to the given resolver, not to
libunbound's built-in NXDOMAIN local zone.
"""
import pytest

from conftest import POSTERNCTL, run
from dnsbed import DnsBed
from test_check import MSG, parse_ar

SPF = '@ TXT "v=spf1 ip4:192.0.2.0/24 -all"'
HELO = ["mail A 192.0.2.25", 'mail TXT "v=spf1 a -all"']


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnsbed")
    key = str(tmp / "ed.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256", "-d",
             "example", "-s", "ed", "-o", key])
    assert r.returncode == 0, r.stderr
    record = r.stdout[r.stdout.index("IN TXT"):]
    b = DnsBed(tmp / "bed")
    try:
        for name, kw in (("secure.test", {}),
                         ("plain.test", {"signed": False}),
                         ("broken.test", {"broken": True})):
            b.zone(name, [SPF, *HELO, "ed._domainkey " + record], **kw)
        b.start()
        b.key = key
        yield b
    finally:
        b.stop()


def spf(bed, sender, helo="mail.secure.test", ip="192.0.2.25", ta=True):
    args = [POSTERNCTL, "check", "spf", "-v", "--ip", ip, "--helo", helo,
            "--mail-from", sender, "--resolver", bed.resolver]
    if ta:
        args += ["--trust-anchor", bed.trust_anchor]
    r = run(args, timeout=20)
    assert r.returncode == 0, r.stderr
    _, res = parse_ar(r.stdout)
    return res, r.stderr


def test_nsd_answers_authoritatively(bed):
    from dnsbed import query
    for name in (".", "test.", "secure.test.", "plain.test."):
        rcode, flags = query(bed.addr, bed.port, name)
        assert rcode == 0 and flags & 0x0400, name      # AA


def test_spf_secure(bed):
    res, err = spf(bed, "user@secure.test")
    assert [(r["result"], list(r["props"].values())[0]) for r in res] == [
        ("pass", "mail.secure.test"), ("pass", "user@secure.test")]
    assert "query secure.test TXT\nspf:     -> NOERROR (secure)" in err
    assert "(bogus)" not in err


def test_spf_secure_fail_and_nxdomain(bed):
    res, err = spf(bed, "user@secure.test", ip="198.51.100.1")
    assert [r["result"] for r in res] == ["fail", "fail"]
    # A name under .test that does not exist: a validated NXDOMAIN from
    # the bed, not libunbound's own answer for the special-use domain.
    res, err = spf(bed, "user@nowhere.secure.test")
    assert res[1]["result"] == "none"
    assert "-> NXDOMAIN (secure)" in err


def test_spf_insecure(bed):
    res, err = spf(bed, "user@plain.test", helo="mail.plain.test")
    assert [r["result"] for r in res] == ["pass", "pass"]
    assert "query plain.test TXT\nspf:     -> NOERROR, 1 record" in err
    assert "(secure)" not in err and "(bogus)" not in err


def test_spf_bogus_is_temperror(bed):
    res, err = spf(bed, "user@broken.test", helo="mail.broken.test")
    assert [r["result"] for r in res] == ["temperror", "temperror"]
    assert "bogus" in res[1]["comments"][0]
    assert "(bogus)" in err


def test_spf_without_trust_anchor_is_insecure(bed):
    # No trust anchor: no validation, so the broken zone's changed records
    # are taken as they come: mail.broken.test's A is now 192.0.2.254.
    res, err = spf(bed, "user@broken.test", helo="mail.broken.test",
                   ta=False)
    assert [r["result"] for r in res] == ["fail", "pass"]
    assert "(secure)" not in err and "(bogus)" not in err


@pytest.mark.parametrize("domain,result,dnssec,note", [
    ("secure.test", "pass", "secure", "key DNSSEC-secure"),
    ("plain.test", "pass", "insecure", None),
    ("broken.test", "temperror", "bogus", "bogus"),
])
def test_dkim_dnssec(bed, domain, result, dnssec, note):
    r = run([POSTERNCTL, "dkim", "sign", "-k", bed.key, "-d", domain, "-s",
             "ed"], input=MSG, text=False)
    assert r.returncode == 0, r.stderr
    v = run([POSTERNCTL, "check", "dkim", "-v", "--resolver", bed.resolver,
             "--trust-anchor", bed.trust_anchor], input=r.stdout,
            text=False, timeout=20)
    assert v.returncode == 0, v.stderr
    _, res = parse_ar(v.stdout.decode())
    assert len(res) == 1 and res[0]["result"] == result, res
    assert res[0]["props"]["header.d"] == domain
    comment = res[0]["comments"][0]
    if note:
        assert note in comment
    else:
        assert "DNSSEC" not in comment
    err = v.stderr.decode()
    assert "ed._domainkey.%s TXT (%s)" % (domain, dnssec) in err or (
        dnssec == "bogus" and "DNSSEC bogus" in err)


def test_trust_anchor_unreadable(bed, tmp_path):
    r = run([POSTERNCTL, "check", "spf", "--ip", "192.0.2.1", "--helo",
             "h.test", "--mail-from", "a@b.test", "--resolver", bed.resolver,
             "--trust-anchor", str(tmp_path / "missing.ds")])
    assert r.returncode == 2 and r.stdout == ""
    assert "missing.ds" in r.stderr
    empty = tmp_path / "empty.ds"
    empty.write_text("; nothing\n")
    r = run([POSTERNCTL, "check", "dkim", "--resolver", bed.resolver,
             "--trust-anchor", str(empty)], input="")
    assert r.returncode == 2 and "no trust anchor" in r.stderr

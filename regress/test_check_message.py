"""posternctl check message: the daemon's whole inbound authentication
(auth/inbound.c) offline, against a zone file."""
import pytest

from test_check import MSG, ctl, keys, parse_ar, sign  # noqa: F401

ZONE_EXTRA = """
$ORIGIN example.com.
@ TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:agg@example.com"
mail A 192.0.2.25
$ORIGIN other.example.
_dmarc TXT "v=DMARC1; p=none"
$ORIGIN 2.0.192.in-addr.arpa.
25 PTR mail.example.com.
"""


@pytest.fixture(scope="module")
def zone(keys):  # noqa: F811
    path = keys["tmp"] / "message.zone"
    with open(keys["zone"]) as f:
        path.write_text(f.read() + ZONE_EXTRA)
    return str(path)


def check(zone, data, ip="192.0.2.25", helo="mail.example.com",
          mail_from="alice@example.com", *extra):
    r = ctl("check", "message", "--dns-zone", zone, "--authserv-id",
            "mx.example.net", "--ip", ip, "--helo", helo, "--mail-from",
            mail_from, *extra, data=data)
    assert r.returncode == 0, r.stderr
    authserv, res = parse_ar(r.stdout.decode())
    assert authserv == "mx.example.net"
    first = {}
    for x in res:       # the MAIL FROM spf first, then the HELO one
        first.setdefault(x["method"], x)
    return first, res, r.stderr.decode()


def test_everything_passes(keys, zone):  # noqa: F811
    signed = sign(keys, "rsa")
    m, res, _ = check(zone, signed)
    assert [x["method"] for x in res] == ["spf", "spf", "dkim", "arc",
                                         "dmarc", "iprev"]
    # RFC 7208 2.3: the HELO identity is checked too
    assert res[1]["props"] == {"smtp.helo": "mail.example.com"}
    assert res[1]["result"] == "none"
    assert m["spf"]["result"] == "pass"
    assert m["spf"]["props"]["smtp.mailfrom"] == "alice@example.com"
    assert m["dkim"]["result"] == "pass"
    assert m["dkim"]["props"]["header.d"] == "example.com"
    assert m["dkim"]["props"]["header.s"] == "rsa"
    assert m["arc"]["result"] == "none"
    assert m["dmarc"]["result"] == "pass"
    assert m["dmarc"]["props"]["header.from"] == "example.com"
    assert m["dmarc"]["props"]["policy.dmarc"] == "reject"
    assert m["iprev"]["result"] == "pass"
    assert m["iprev"]["props"]["policy.iprev"] == "192.0.2.25"


def test_dkim_alone_aligns_from_elsewhere(keys, zone):  # noqa: F811
    """A signed message from an outside IP: SPF fails, DKIM carries
    DMARC."""
    m, _, err = check(zone, sign(keys, "ed"), "198.51.100.7", "x.test",
                      "bounce@example.com", "-v")
    assert m["spf"]["result"] == "fail"
    assert m["dkim"]["result"] == "pass"
    assert m["dmarc"]["result"] == "pass"
    assert m["iprev"]["result"] == "permerror"
    assert "would accept" in err


def test_forged_from_fails_dmarc_and_strict_refuses(zone):
    m, _, err = check(zone, MSG, "198.51.100.7", "x.test",
                      "bounce@example.com", "-v", "--strict")
    assert m["dkim"]["result"] == "none"
    assert m["dmarc"]["result"] == "fail"
    assert m["dmarc"]["props"]["policy.dmarc"] == "reject"
    assert "would refuse the message" in err
    assert "5.7.1" in err
    # the step-by-step account names the record and the policy
    assert "_dmarc.example.com" in err and "p=reject" in err


def test_tampered_signature(keys, zone):  # noqa: F811
    signed = sign(keys, "rsa").replace(b"Hello", b"Jello")
    m, _, _ = check(zone, signed, "198.51.100.7", "x.test",
                    "bounce@example.com")
    assert m["dkim"]["result"] == "fail"
    assert m["dmarc"]["result"] == "fail"


def test_without_message(zone):
    m, res, err = check(zone, b"", "192.0.2.25", "mail.example.com",
                        "alice@example.com", "-v")
    assert m["spf"]["result"] == "pass"
    assert m["dmarc"]["result"] == "pass"
    assert m["dmarc"]["props"]["header.from"] == "example.com"
    assert m["iprev"]["result"] == "pass"
    assert "no message" in err


# issue 14: the same verdicts as the daemon for the header shapes that
# used to get past DMARC (RFC 9989 5.3.1, 11.5)
SHAPES = {
    "padded": b"".join(b"X-Pad-%d: x\r\n" % i for i in range(1001)) + MSG,
    "two-from": b"From: <b@other.example>\r\n" + MSG,
    "no-from": b"Subject: no author\r\n\r\nhello\r\n",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_header_shapes(zone, shape):
    args = (zone, SHAPES[shape], "198.51.100.7", "x.test",
            "bounce@other.example", "-v")
    m, _, err = check(*args, "--strict")
    assert "would refuse the message" in err
    assert "5.7.1" in err
    m, _, err = check(*args)
    assert "would accept" in err
    if shape == "two-from":
        # the strictest failing policy: example.com's reject
        assert m["dmarc"]["result"] == "fail"
        assert m["dmarc"]["props"]["header.from"] == "example.com"
        assert m["dmarc"]["props"]["policy.dmarc"] == "reject"
    else:
        assert m["dmarc"]["result"] == "permerror"


def test_body_length_limit(keys, zone):  # noqa: F811
    data = sign(keys, "ed", "-l") + b"PS: not signed\r\n"
    m, _, _ = check(zone, data)
    assert m["dkim"]["result"] == "pass"
    assert any("body length limit" in c for c in m["dkim"]["comments"])
    m, _, _ = check(zone, data, "192.0.2.25", "mail.example.com",
                    "alice@example.com", "--dkim-fail-partial-body")
    assert m["dkim"]["result"] == "fail"
    assert any("unsigned content" in c for c in m["dkim"]["comments"])


@pytest.mark.parametrize("args", [
    [], ["--ip", "1.2.3.4"], ["--ip", "nope", "--helo", "h", "--mail-from",
                             "a@b"],
    ["--ip", "1.2.3.4", "--helo", "h", "--mail-from", "a@b", "--bogus"],
    ["--ip", "1.2.3.4", "--helo", "h", "--mail-from", "a@b",
     "--dns-zone", "/nonexistent/zone"],
])
def test_usage_errors(args):
    r = ctl("check", "message", *args, data=b"")
    assert r.returncode == 2
    assert r.stdout == b""

"""ARC (RFC 8617) with posternctl, cross-checked against Debian's
python3-dkim (dkimpy).

Chains sealed hop after hop by `posternctl arc seal` (keys from `posternctl
dkim keygen`, published in a zone file written here) validate with
`posternctl check arc` and with dkim.arc_verify; chains sealed by dkimpy
validate with `posternctl check arc`; changes to the message, a failed
chain sealed once and then refused, 50 sets and bad usage.

dkimpy 1.1.4 knows only rsa-sha256 for ARC (its ARC_HASH_ALGORITHMS), so
Ed25519 chains are checked against dkimpy only to the point of its refusal;
postern itself seals and validates them.
"""
import re

import authres  # noqa: F401  python3-authres: dkimpy's ARC signing needs it
import dkim
import pytest

from conftest import POSTERNCTL, run
from test_check import parse_ar

MSG = (b"Received: from a.example.com by mx.example.org; Mon, 23 Nov 2026\r\n"
       b"From: Alice <alice@example.com>\r\n"
       b"To: list@example.org\r\n"
       b"Subject: arc  test\r\n\tfolded\r\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <arc@example.com>\r\n"
       b"\r\n"
       b"Hello,  list \r\n\r\ncaf\xc3\xa9\r\n")


def ctl(*args, data=None, timeout=60):
    return run([POSTERNCTL, *args], input=data, text=False, timeout=timeout)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """rsa._domainkey and ed._domainkey under hop1.example, hop2.example."""
    tmp = tmp_path_factory.mktemp("arc")
    records, paths, txt = [], {}, {}
    for sel, alg in (("rsa", "rsa-sha256"), ("ed", "ed25519-sha256")):
        path = str(tmp / (sel + ".pem"))
        r = ctl("dkim", "keygen", "-a", alg, "-d", "hop1.example", "-s", sel,
                "-o", path)
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        rec = "".join(re.findall(r'"([^"]*)"', out))
        paths[sel] = path
        for dom in ("hop1.example", "hop2.example", "py.example"):
            name = "%s._domainkey.%s" % (sel, dom)
            records.append(out.replace("%s._domainkey.hop1.example." % sel,
                                       name + "."))
            txt[name] = rec.encode()
    zone = str(tmp / "keys.zone")
    with open(zone, "w") as f:
        f.write("$TTL 300\n" + "".join(records))
    return {"tmp": tmp, "zone": zone, "paths": paths, "txt": txt}


def seal(keys, data, sel="rsa", domain="hop1.example", ok=True, *args):
    r = ctl("arc", "seal", "-k", keys["paths"][sel], "-d", domain, "-s", sel,
            "--authserv-id", "mx." + domain, "--dns-zone", keys["zone"],
            *args, data=data)
    if ok:
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith(data)
    return r


def check_arc(keys, data):
    r = ctl("check", "arc", "--dns-zone", keys["zone"], "--authserv-id",
            "mx.example", data=data)
    assert r.returncode == 0, r.stderr
    authserv, res = parse_ar(r.stdout.decode())
    assert authserv == "mx.example"
    assert [x["method"] for x in res] == ["arc"]
    return res[0]


def dkimpy_dns(keys):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return keys["txt"].get(name.rstrip("."))
    return dnsfunc


def pyverify(keys, data):
    cv, results, reason = dkim.arc_verify(data, dnsfunc=dkimpy_dns(keys))
    return cv, results, reason


def fields(data, name):
    """The header fields called name, unfolded."""
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    out = []
    for f in re.split(r"\r\n(?![ \t])", head):
        if f.lower().startswith(name.lower() + ":"):
            out.append(re.sub(r"\r\n[ \t]", " ", f))
    return out


def test_none(keys):
    res = check_arc(keys, MSG)
    assert res["result"] == "none"


def test_seal_form(keys):
    m = seal(keys, MSG).stdout
    new = m[:len(m) - len(MSG)]
    names = [f.split(":")[0] for f in re.split(r"\r\n(?![ \t])",
                                                  new.decode().rstrip())]
    assert names == ["ARC-Seal", "ARC-Message-Signature",
                     "ARC-Authentication-Results"]
    assert fields(m, "ARC-Authentication-Results") == [
        "ARC-Authentication-Results: i=1; mx.hop1.example; arc=none"]
    seal_f = fields(m, "ARC-Seal")[0]
    assert "i=1;" in seal_f and "cv=none;" in seal_f
    assert "d=hop1.example;" in seal_f and "s=rsa;" in seal_f
    for line in new.split(b"\r\n"):
        assert len(line) <= 78


@pytest.mark.parametrize("hops", [1, 2, 3, 5])
def test_posternctl_chain_to_dkimpy(keys, hops):
    m = MSG
    for i in range(1, hops + 1):
        m = seal(keys, m, "rsa", "hop%d.example" % (2 - i % 2)).stdout
    res = check_arc(keys, m)
    assert res["result"] == "pass", res
    assert res["props"]["header.oldest-pass"] == "0"
    cv, results, reason = pyverify(keys, m)
    assert cv == b"pass", reason
    assert len(results) == hops
    assert all(r["ams-valid"] and r["as-valid"] for r in results)
    assert [r["cv"] for r in results][-1] == b"none"
    # The body changed after the last seal: both see the break.
    bad = m.replace(b"Hello,", b"Hullo,")
    assert check_arc(keys, bad)["result"] == "fail"
    cv, _, _ = pyverify(keys, bad)
    assert cv == b"fail"
    # A signed header changed.
    bad = m.replace(b"Subject: arc", b"Subject: ARC")
    assert check_arc(keys, bad)["result"] == "fail"
    assert pyverify(keys, bad)[0] == b"fail"


def test_posternctl_ed25519_chain(keys):
    m = seal(keys, MSG, "ed", "hop1.example").stdout
    m = seal(keys, m, "rsa", "hop2.example").stdout
    m = seal(keys, m, "ed", "hop2.example").stdout
    assert b"a=ed25519-sha256;" in m
    res = check_arc(keys, m)
    assert res["result"] == "pass", res
    assert check_arc(keys, m.replace(b"caf", b"cab"))["result"] == "fail"
    # dkimpy 1.1.4 has no Ed25519 for ARC: it refuses, it does not pass.
    cv, _, reason = pyverify(keys, m)
    assert cv == b"fail" and "ed25519" in reason


def py_seal(keys, data, domain, alg=b"rsa-sha256", sel="rsa", ar=None):
    """dkimpy seals: it reads cv= from our Authentication-Results."""
    if ar is None:
        ar = b"Authentication-Results: py.example; spf=pass " \
             b"smtp.mailfrom=example.com\r\n"
    data = ar + data
    a = dkim.ARC(data, signature_algorithm=alg)
    pem = open(keys["paths"][sel], "rb").read()
    new = a.sign(sel.encode(), domain.encode(), pem, b"py.example",
                 include_headers=[b"from", b"to", b"subject", b"date",
                                  b"message-id"],
                 timestamp=None)
    assert len(new) == 3
    return b"".join(new) + data


def test_dkimpy_chain_to_posternctl(keys):
    m = py_seal(keys, MSG, "py.example")
    assert pyverify(keys, m)[0] == b"pass"
    res = check_arc(keys, m)
    assert res["result"] == "pass", res
    # posternctl seals on top of dkimpy's set, dkimpy seals on top again.
    m = seal(keys, m, "rsa", "hop2.example").stdout
    assert check_arc(keys, m)["result"] == "pass"
    assert pyverify(keys, m)[0] == b"pass"
    m = py_seal(keys, m, "py.example",
                ar=b"Authentication-Results: py.example; arc=pass\r\n")
    assert pyverify(keys, m)[0] == b"pass"
    res = check_arc(keys, m)
    assert res["result"] == "pass", res
    assert "sealed by py.example, hop2.example, py.example" in \
        " ".join(res["comments"])
    bad = m.replace(b"Hello,", b"Hullo,")
    assert check_arc(keys, bad)["result"] == "fail"
    bad = m.replace(b"i=1; py.example; spf=pass", b"i=1; py.example; spf=fail")
    assert b"spf=fail" in bad
    assert check_arc(keys, bad)["result"] == "fail"


def test_failed_chain_sealed_once(keys):
    m = seal(keys, MSG, "rsa", "hop1.example").stdout
    bad = m.replace(b"Hello,", b"Hullo,")
    failed = seal(keys, bad, "rsa", "hop2.example").stdout
    assert "cv=fail;" in fields(failed, "ARC-Seal")[0]
    assert fields(failed, "ARC-Authentication-Results")[0].endswith(
        "arc=fail")
    res = check_arc(keys, failed)
    assert res["result"] == "fail"
    assert "i=2: ARC-Seal says cv=fail" in " ".join(res["comments"])
    # dkimpy also sees a chain that ended (cv None: terminated).
    assert pyverify(keys, failed)[0] in (None, b"fail")
    r = seal(keys, failed, "rsa", "hop1.example", ok=False)
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"not sealed" in r.stderr and b"cv=fail" in r.stderr


def test_fifty_sets(keys):
    m = MSG
    for i in range(50):
        m = seal(keys, m, "ed", "hop1.example").stdout
    res = check_arc(keys, m)
    assert res["result"] == "pass"
    r = seal(keys, m, "ed", "hop1.example", ok=False)
    assert r.returncode == 1
    assert b"50" in r.stderr


def test_duplicate_and_missing(keys):
    m = seal(keys, MSG).stdout
    m = seal(keys, m, "rsa", "hop2.example").stdout
    first = re.split(rb"\r\n(?![ \t])", m)[0] + b"\r\n"
    assert first.startswith(b"ARC-Seal: i=2;")
    res = check_arc(keys, first + m)
    assert res["result"] == "fail"
    assert "more than one ARC-Seal" in " ".join(res["comments"])
    res = check_arc(keys, m[len(first):])
    assert res["result"] == "fail"
    assert "i=2: ARC-Seal is missing" in " ".join(res["comments"])


def test_lf_only_message(keys):
    lf = MSG.replace(b"\r\n", b"\n")
    m = seal(keys, lf).stdout
    assert b"\r" not in m
    assert check_arc(keys, m)["result"] == "pass"


@pytest.mark.parametrize("args,err", [
    (["arc", "seal", "-d", "x.example", "-s", "s", "--authserv-id", "mx"],
     b"usage"),
    (["arc", "seal", "-k", "/nonexistent", "-d", "x.example", "-s", "s",
      "--authserv-id", "mx.example"], b"No such file"),
    (["arc", "seal", "-k", "KEY", "-d", "x.example", "-s", "s"], b"usage"),
    (["arc", "seal", "-k", "KEY", "-d", "x.example", "-s", "s",
      "--authserv-id", "bad id;"], b"not a domain"),
    (["arc", "seal", "-k", "KEY", "-d", "x.example", "-s", "s",
      "--authserv-id", "mx.example", "-a", "rsa-sha1"], b"algorithm"),
    (["arc", "seal", "-k", "KEY", "-d", "x.example", "-s", "s",
      "--authserv-id", "mx.example", "--dns-zone", "/nonexistent/zone"],
     b"No such file"),
    (["check", "arc", "--bogus"], b"usage"),
])
def test_usage(keys, args, err):
    args = [keys["paths"]["rsa"] if a == "KEY" else a for a in args]
    r = ctl(*args, data=MSG)
    assert r.returncode == 2
    assert r.stdout == b""
    assert err in r.stderr, r.stderr

"""posternctl's offline checks and DKIM tools, driven as an admin would.

check spf against a zone file for every result of RFC 7208 2.6; check dkim
on messages signed by `posternctl dkim sign` with keys from `dkim keygen`
published in a zone file written here; cross-implementation with Debian's
python3-dkim (dkimpy) in both directions for every algorithm and
canonicalization; exit status 2 on bad usage and unreadable input; hostile
messages (1000 signatures, a 100 MB header) handled within limits.

Every Authentication-Results field is parsed (RFC 8601 2.2) and its parts
asserted, not just searched for.
"""
import base64
import os
import re
import stat

import dkim
import pytest

from conftest import POSTERNCTL, TOP, run

SPF_ZONE = os.path.join(TOP, "regress", "data", "check", "spf.zone")
MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: check  test\r\n\tfolded\r\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <check@example.com>\r\n"
       b"\r\n"
       b"Hello,  world \r\n\r\ncaf\xc3\xa9\r\n\r\n")
CANONS = ["simple/simple", "simple/relaxed", "relaxed/simple",
          "relaxed/relaxed"]


def ctl(*args, data=None, timeout=60):
    """Run posternctl with bytes in and bytes out."""
    return run([POSTERNCTL, *args], input=data, text=False, timeout=timeout)


# --- RFC 8601 Authentication-Results parsing -------------------------------

def _skip_cfws(s, i):
    """Skip folding white space and nested comments; return (i, comments)."""
    comments = []
    while i < len(s):
        if s[i] in " \t\r\n":
            i += 1
        elif s[i] == "(":
            depth, j, text = 1, i + 1, ""
            while j < len(s) and depth:
                if s[j] == "\\":
                    text += s[j + 1]
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(s[j], 0)
                if depth:
                    text += s[j]
                j += 1
            assert depth == 0, "unterminated comment in %r" % s
            comments.append(text)
            i = j
        else:
            break
    return i, comments


def _value(s, i):
    """A token, [local-part] "@" domain, or a quoted-string (RFC 8601 2.2)."""
    if s[i] == '"':
        j, out = i + 1, ""
        while s[j] != '"':
            if s[j] == "\\":
                j += 1
            out += s[j]
            j += 1
        return out, j + 1
    m = re.compile(r'[^\s()<>,;:\\"/\[\]?=]*(@[A-Za-z0-9._-]+)?').match(s, i)
    assert m.end() > i, "no value at %r" % s[i:]
    return m.group(0), m.end()


def parse_ar(out):
    """Parse exactly one Authentication-Results field.

    Returns (authserv_id, [ {method, result, comments, props} ... ]).
    """
    assert out.endswith("\n"), "no final newline: %r" % out
    lines = out.split("\n")[:-1]
    assert lines and lines[0].startswith("Authentication-Results:"), out
    # Continuation lines begin with WSP (RFC 5322 2.2.3): one field only.
    for ln in lines[1:]:
        assert ln[:1] in (" ", "\t"), "more than one field: %r" % out
    s = "\r\n".join(lines)[len("Authentication-Results:"):]
    i, _ = _skip_cfws(s, 0)
    authserv, i = _value(s, i)
    assert authserv
    i, _ = _skip_cfws(s, i)
    if i < len(s) and s[i].isdigit():       # authres-version
        i += 1
        i, _ = _skip_cfws(s, i)
    results = []
    while i < len(s):
        assert s[i] == ";", "expected ';' at %r" % s[i:]
        i, _ = _skip_cfws(s, i + 1)
        m = re.compile(r"([A-Za-z0-9-]+)\s*=\s*([A-Za-z0-9-]+)").match(s, i)
        assert m, "bad resinfo at %r" % s[i:]
        res = {"method": m.group(1), "result": m.group(2), "comments": [],
               "props": {}}
        i, c = _skip_cfws(s, m.end())
        res["comments"] += c
        m = re.compile(r"reason\s*=\s*").match(s, i)     # reasonspec
        if m:
            res["reason"], i = _value(s, m.end())
            i, c = _skip_cfws(s, i)
            res["comments"] += c
        while i < len(s) and s[i] != ";":
            m = re.compile(r"([A-Za-z0-9-]+)\.([A-Za-z0-9-]+)\s*=\s*").match(
                s, i)
            assert m, "bad propspec at %r" % s[i:]
            v, i = _value(s, m.end())
            res["props"]["%s.%s" % (m.group(1), m.group(2))] = v
            i, c = _skip_cfws(s, i)
            res["comments"] += c
        results.append(res)
    return authserv, results


# --- check spf --------------------------------------------------------------

def spf(mail_from, ip="192.0.2.25", helo="mail.check.test", *extra):
    return run([POSTERNCTL, "check", "spf", "--ip", ip, "--helo", helo,
                "--mail-from", mail_from, "--dns-zone", SPF_ZONE, *extra])


@pytest.mark.parametrize("name,ip,result,reason", [
    ("pass", "192.0.2.25", "pass", "matched ip4:192.0.2.0/24"),
    ("pass", "2001:db8::25", "pass", "matched ip6:2001:db8::/32"),
    ("pass", "::ffff:192.0.2.25", "pass", "matched ip4:192.0.2.0/24"),
    ("fail", "192.0.2.25", "fail", "matched -all"),
    ("softfail", "192.0.2.25", "softfail", "matched ~all"),
    ("neutral", "192.0.2.25", "neutral", "matched ?all"),
    ("none", "192.0.2.25", "none", "no SPF record"),
    ("nonexistent", "192.0.2.25", "none", "no SPF record"),
    ("syntax", "192.0.2.25", "permerror", "syntax error"),
    ("twice", "192.0.2.25", "permerror", "2 SPF records"),
    ("loop", "192.0.2.25", "permerror", "10 DNS lookup limit"),
    ("servfail", "192.0.2.25", "temperror", "SERVFAIL"),
    ("timeout", "192.0.2.25", "temperror", "timeout"),
])
def test_spf_results(name, ip, result, reason):
    sender = "user@%s.check.test" % name
    r = spf(sender, ip, "mail.check.test", "--authserv-id", "mx.example")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""               # no trace without -v
    authserv, res = parse_ar(r.stdout)
    assert authserv == "mx.example"
    assert [x["method"] for x in res] == ["spf", "spf"]
    helo, mf = res
    assert helo["props"] == {"smtp.helo": "mail.check.test"}
    # The HELO name's record allows only its own A: 192.0.2.25.
    assert helo["result"] == ("pass" if ip == "192.0.2.25" or
                              ip.endswith(":192.0.2.25") else "fail")
    assert mf["props"] == {"smtp.mailfrom": sender}
    assert mf["result"] == result
    assert len(mf["comments"]) == 1 and reason in mf["comments"][0]


def test_spf_explanation():
    r = spf("user@failexp.check.test")
    assert r.returncode == 0, r.stderr
    _, (_, mf) = parse_ar(r.stdout)
    assert mf["result"] == "fail"
    # exp= with macros expanded (RFC 7208 6.2).
    assert ("192.0.2.25 is not allowed to send for failexp.check.test"
            in mf["comments"][0])


def test_spf_null_sender_uses_helo():
    # RFC 7208 2.4: MAIL FROM <> checks postmaster@<helo>.
    r = spf("")
    assert r.returncode == 0, r.stderr
    _, (helo, mf) = parse_ar(r.stdout)
    assert helo["result"] == "pass" and mf["result"] == "pass"
    assert mf["props"]["smtp.mailfrom"] == "postmaster@mail.check.test"


def test_spf_default_authserv_id_is_hostname():
    r = spf("user@pass.check.test")
    authserv, _ = parse_ar(r.stdout)
    assert authserv == os.uname().nodename


def test_spf_verbose_trace_on_stderr_only():
    quiet = spf("user@fail.check.test")
    r = spf("user@fail.check.test", "192.0.2.25", "mail.check.test", "-v")
    assert r.returncode == 0
    assert r.stdout == quiet.stdout     # the A-R field is unchanged
    assert "trace of the HELO check" in r.stderr
    assert "trace of the MAIL FROM check" in r.stderr
    assert "query fail.check.test TXT" in r.stderr
    assert "query" not in r.stdout and "trace" not in r.stdout


def test_spf_odd_sender_is_quoted():
    r = spf('"odd local"@pass.check.test')
    assert r.returncode == 0, r.stderr
    _, (_, mf) = parse_ar(r.stdout)
    assert mf["props"]["smtp.mailfrom"] == '"odd local"@pass.check.test'


@pytest.mark.parametrize("args,msg", [
    ([], "usage"),
    (["--ip", "192.0.2.1", "--helo", "h.test"], "usage"),
    (["--ip", "192.0.2.1", "--helo", "h.test", "--mail-from", "a@b.test",
      "--bogus"], "usage"),
    (["--ip", "192.0.2.1", "--helo", "h.test", "--mail-from", "a@b.test",
      "extra"], "usage"),
    (["--ip", "192.0.2.300", "--helo", "h.test", "--mail-from", "a@b.test",
      "--dns-zone", SPF_ZONE], "invalid IP address"),
    (["--ip", "not-an-ip", "--helo", "h.test", "--mail-from", "a@b.test",
      "--dns-zone", SPF_ZONE], "invalid IP address"),
    (["--ip", "192.0.2.1", "--helo", "h.test", "--mail-from", "a@b.test",
      "--dns-zone", "/nonexistent/zone"], "No such file"),
    (["--ip", "192.0.2.1", "--helo", "h.test", "--mail-from", "a@b.test",
      "--dns-zone", SPF_ZONE, "--resolver", "127.0.0.1"], "exclusive"),
    (["--ip", "192.0.2.1", "--helo", "h.test", "--mail-from", "a@b.test",
      "--dns-zone", SPF_ZONE, "--trust-anchor", SPF_ZONE], "needs"),
])
def test_spf_usage_errors(args, msg):
    r = run([POSTERNCTL, "check", "spf", *args])
    assert r.returncode == 2
    assert r.stdout == ""
    assert msg in r.stderr


@pytest.mark.parametrize("cmd", [
    ["check", "spf", "--ip", "192.0.2.1", "--helo", "h.test",
     "--mail-from", "a@b.test"],
    ["check", "dkim"],
    ["check", "arc"],
])
def test_offline_dns_options_are_one_code(cmd):
    """posternctl/common.c's offline_dns() serves every offline command:
    the same DNS options are refused with the same words, exit 2."""
    name = "posternctl %s %s: " % (cmd[0], cmd[1])
    for args, why in (
            (["--dns-zone", SPF_ZONE, "--resolver", "127.0.0.1"],
             "--dns-zone and --resolver are exclusive"),
            (["--trust-anchor", SPF_ZONE], "--trust-anchor needs --resolver")):
        r = run([POSTERNCTL, *cmd, *args], input="Subject: x\r\n\r\nx\r\n")
        assert r.returncode == 2, r.stderr
        assert r.stdout == ""
        assert r.stderr == name + why + "\n", r.stderr


def test_spf_bad_zone_file(tmp_path):
    z = tmp_path / "bad.zone"
    z.write_text("$ORIGIN x.test.\nfoo IN TXT \"unterminated\n")
    r = run([POSTERNCTL, "check", "spf", "--ip", "192.0.2.1", "--helo",
             "h.test", "--mail-from", "a@b.test", "--dns-zone", str(z)])
    assert r.returncode == 2
    assert r.stdout == "" and str(z) in r.stderr


# --- dkim keygen / sign / check dkim ----------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Keys from `dkim keygen`, published in a zone file as it printed them."""
    tmp = tmp_path_factory.mktemp("dkim")
    records = []
    paths = {}
    for sel, alg in (("rsa", "rsa-sha256"), ("ed", "ed25519-sha256")):
        path = str(tmp / (sel + ".pem"))
        r = ctl("dkim", "keygen", "-a", alg, "-d", "example.com", "-s", sel,
                "-o", path)
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        assert out.startswith("%s._domainkey.example.com. IN TXT" % sel)
        records.append(out)
        paths[sel] = path
    zone = str(tmp / "keys.zone")
    with open(zone, "w") as f:
        f.write("$TTL 300\n" + "".join(records))
    txt = {}
    for sel, rec in zip(("rsa", "ed"), records):
        txt[sel] = "".join(re.findall(r'"([^"]*)"', rec))
    return {"tmp": tmp, "zone": zone, "paths": paths, "txt": txt}


def sign(keys, sel, *args, data=MSG):
    r = ctl("dkim", "sign", "-k", keys["paths"][sel], "-d", "example.com",
            "-s", sel, *args, data=data)
    assert r.returncode == 0, r.stderr
    return r.stdout


def check_dkim(keys, data, *args):
    r = ctl("check", "dkim", "--dns-zone", keys["zone"], "--authserv-id",
            "mx.example", *args, data=data)
    assert r.returncode == 0, r.stderr
    authserv, res = parse_ar(r.stdout.decode())
    assert authserv == "mx.example"
    assert all(x["method"] == "dkim" for x in res)
    return res, r.stderr.decode()


def test_keygen_files(keys):
    for sel, path in keys["paths"].items():
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600
        pem = open(path).read()
        assert pem.startswith("-----BEGIN PRIVATE KEY-----")    # PKCS#8
    assert keys["txt"]["rsa"].startswith("v=DKIM1; k=rsa; p=")
    assert keys["txt"]["ed"].startswith("v=DKIM1; k=ed25519; p=")
    # The Ed25519 public key is 32 bytes (RFC 8463 4).
    p = keys["txt"]["ed"].split("p=")[1]
    assert len(base64.b64decode(p)) == 32


def test_keygen_rsa_bits(tmp_path):
    r = ctl("dkim", "keygen", "-a", "rsa-sha256", "-b", "1024", "-d",
            "example.com", "-s", "s", "-o", str(tmp_path / "k.pem"))
    assert r.returncode == 0, r.stderr
    rec = "".join(re.findall(r'"([^"]*)"', r.stdout.decode()))
    der = base64.b64decode(rec.split("p=")[1])
    assert 150 < len(der) < 170     # SubjectPublicKeyInfo of 1024 bits


def test_keygen_never_overwrites(keys):
    path = keys["paths"]["ed"]
    before = open(path).read()
    r = ctl("dkim", "keygen", "-a", "ed25519-sha256", "-d", "example.com",
            "-s", "ed", "-o", path)
    assert r.returncode != 0 and b"File exists" in r.stderr
    assert open(path).read() == before


@pytest.mark.parametrize("args,msg", [
    ([], b"usage"),
    (["-d", "example.com", "-s", "s", "-o", "OUT"], b"usage"),
    (["-a", "dsa", "-d", "example.com", "-s", "s", "-o", "OUT"],
     b"unknown algorithm"),
    (["-a", "rsa-sha256", "-b", "512", "-d", "example.com", "-s", "s",
      "-o", "OUT"], b"too small"),
    (["-a", "ed25519-sha256", "-b", "2048", "-d", "example.com", "-s", "s",
      "-o", "OUT"], b"RSA keys only"),
    (["-a", "rsa-sha256", "-d", "example.com", "-o", "OUT"], b"usage"),
])
def test_keygen_usage_errors(args, msg, tmp_path):
    out = str(tmp_path / "k.pem")
    r = ctl("dkim", "keygen", *[out if a == "OUT" else a for a in args])
    assert r.returncode == 2
    assert msg in r.stderr
    assert not os.path.exists(out)


@pytest.mark.parametrize("args,msg", [
    ([], b"usage"),
    (["-k", "/nonexistent.pem", "-d", "example.com", "-s", "s"],
     b"No such file"),
    (["-d", "example.com", "-s", "s"], b"usage"),
    (["-k", "K", "-s", "s"], b"usage"),
    (["-k", "K", "-d", "example.com"], b"usage"),
    (["-k", "K", "-d", "example.com", "-s", "s", "-a", "rsa-md5"],
     b"unknown algorithm"),
    (["-k", "K", "-d", "example.com", "-s", "s", "-c", "loose/simple"],
     b"bad canonicalization"),
    (["-k", "K", "-d", "example.com", "-s", "s", "-x", "soon"], b"-x"),
    (["-k", "K", "-d", "example.com", "-s", "s", "-q"], b"usage"),
])
def test_sign_usage_errors(keys, args, msg):
    args = [keys["paths"]["rsa"] if a == "K" else a for a in args]
    r = ctl("dkim", "sign", *args, data=MSG)
    assert r.returncode == 2
    assert r.stdout == b""
    assert msg in r.stderr


def test_sign_unreadable_key(keys, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    r = ctl("dkim", "sign", "-k", str(bad), "-d", "example.com", "-s", "s",
            data=MSG)
    assert r.returncode == 2 and r.stdout == b""


def test_sign_output_and_options(keys):
    out = sign(keys, "rsa", "-a", "rsa-sha256", "-c", "relaxed/relaxed",
               "-h", "From:To:Subject", "-l", "-x", "3600")
    # The new field is prepended and the message follows unchanged.
    assert out.startswith(b"DKIM-Signature:")
    assert out.endswith(MSG)
    sig = out[:len(out) - len(MSG)].decode()
    tags = dict((t.split("=", 1)[0].strip(), t.split("=", 1)[1])
                for t in re.sub(r"\s+", "", sig.split(":", 1)[1]).split(";")
                if t)
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.com" and tags["s"] == "rsa"
    assert "l" in tags
    assert int(tags["x"]) - int(tags["t"]) == 3600
    # -h names are signed, and over-signed (RFC 6376 8.15).
    names = [n.lower() for n in tags["h"].split(":")]
    assert names.count("from") == 2 and names.count("subject") == 2
    res, _ = check_dkim(keys, out)
    assert [r["result"] for r in res] == ["pass"]


@pytest.mark.parametrize("sel,alg", [("rsa", "rsa-sha256"),
                                     ("ed", "ed25519-sha256")])
@pytest.mark.parametrize("canon", CANONS)
def test_dkim_pass_fail(keys, sel, alg, canon):
    signed = sign(keys, sel, "-a", alg, "-c", canon)
    res, err = check_dkim(keys, signed)
    assert len(res) == 1
    r = res[0]
    assert r["result"] == "pass", r
    assert r["props"]["header.d"] == "example.com"
    assert r["props"]["header.s"] == sel
    assert r["props"]["header.i"] == "@example.com"
    assert r["props"]["header.a"] == alg
    assert len(r["props"]["header.b"]) >= 8
    assert signed.decode("utf-8").replace("\r\n\t", "").replace(
        " ", "").find("b=" + r["props"]["header.b"]) > 0
    assert len(r["comments"]) == 1 and "c=" + canon in r["comments"][0]
    assert err == ""
    # Tampered body: the body hash no longer matches (RFC 6376 6.1.3).
    res, _ = check_dkim(keys, signed.replace(b"world", b"World"))
    assert res[0]["result"] == "fail"
    assert "body hash" in res[0]["comments"][0]
    # Tampered signed header field.
    res, _ = check_dkim(keys, signed.replace(b"Subject: check",
                                             b"Subject: chuck"))
    assert res[0]["result"] == "fail"


def test_dkim_two_signatures(keys):
    """RSA and Ed25519 together: two resinfo, told apart by header.b."""
    signed = sign(keys, "ed", "-a", "ed25519-sha256")
    signed = sign(keys, "rsa", "-a", "rsa-sha256", data=signed)
    res, _ = check_dkim(keys, signed)
    assert [(r["result"], r["props"]["header.s"]) for r in res] == [
        ("pass", "rsa"), ("pass", "ed")]
    assert res[0]["props"]["header.b"] != res[1]["props"]["header.b"]


def test_dkim_none(keys):
    res, _ = check_dkim(keys, MSG)
    assert len(res) == 1 and res[0]["result"] == "none"
    assert res[0]["props"] == {}


def test_dkim_unknown_key(keys):
    signed = sign(keys, "rsa").replace(b"s=rsa", b"s=gone")
    res, _ = check_dkim(keys, signed)
    assert res[0]["result"] == "permerror"
    assert res[0]["props"]["header.s"] == "gone"


def test_dkim_sha1_needs_flag(keys):
    signed = sign(keys, "rsa", "-a", "rsa-sha1")
    res, _ = check_dkim(keys, signed)
    assert res[0]["result"] != "pass"       # RFC 8301 3.1
    res, _ = check_dkim(keys, signed, "--allow-sha1")
    assert res[0]["result"] == "pass"


def test_dkim_expired(keys):
    signed = sign(keys, "ed", "-x", "60", "-t", "1700000000")
    res, _ = check_dkim(keys, signed, "--time", "1700000030")
    assert res[0]["result"] == "pass"
    res, _ = check_dkim(keys, signed, "--time", "1700000100")
    assert res[0]["result"] != "pass"
    assert "expire" in res[0]["comments"][0]


def test_dkim_verbose(keys):
    signed = sign(keys, "ed")
    quiet = ctl("check", "dkim", "--dns-zone", keys["zone"], data=signed)
    r = ctl("check", "dkim", "-v", "--dns-zone", keys["zone"], data=signed)
    assert r.returncode == 0
    assert r.stdout == quiet.stdout and quiet.stderr == b""
    err = r.stderr.decode()
    assert "looking up ed._domainkey.example.com TXT" in err
    assert "signature 1:" in err and "pass" in err
    assert "looking up" not in r.stdout.decode()


def test_dkim_lf_line_ends(keys):
    """A file with bare LF line ends (as editors save it) works too."""
    lf = MSG.replace(b"\r\n", b"\n")
    signed = sign(keys, "rsa", data=lf)
    assert b"\r" not in signed
    res, _ = check_dkim(keys, signed)
    assert res[0]["result"] == "pass"


@pytest.mark.parametrize("args,msg", [
    (["--bogus"], b"usage"),
    (["extra"], b"usage"),
    (["--dns-zone", "/nonexistent/zone"], b"No such file"),
    (["--dns-zone", "Z", "--resolver", "127.0.0.1"], b"exclusive"),
    (["--trust-anchor", "Z"], b"needs"),
    (["--time", "yesterday"], b"--time"),
    (["--resolver", "not an address"], b"resolver"),
])
def test_dkim_usage_errors(keys, args, msg):
    args = [keys["zone"] if a == "Z" else a for a in args]
    r = ctl("check", "dkim", *args, data=MSG)
    assert r.returncode == 2
    assert r.stdout == b""
    assert msg in r.stderr


def test_dkim_unreadable_stdin(keys, tmp_path):
    # A directory as standard input: read(2) fails with EISDIR.
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        r = run([POSTERNCTL, "check", "dkim", "--dns-zone", keys["zone"]],
                stdin=fd, text=False)
    finally:
        os.close(fd)
    assert r.returncode == 2
    assert r.stdout == b"" and b"standard input" in r.stderr


# --- cross-implementation with python3-dkim ---------------------------------

def dkimpy_dns(keys):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        sel = name.split(".")[0]
        return keys["txt"][sel].encode() if sel in keys["txt"] else None
    return dnsfunc


def dkimpy_key(keys, sel):
    pem = open(keys["paths"][sel], "rb").read()
    if sel == "rsa":
        return pem
    # dkimpy takes the raw Ed25519 seed in base64: the PKCS#8 DER's tail.
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    return base64.b64encode(der[-32:])


INTEROP = [("rsa", "rsa-sha256"), ("ed", "ed25519-sha256"),
           ("rsa", "rsa-sha1")]


@pytest.mark.parametrize("sel,alg", INTEROP)
@pytest.mark.parametrize("canon", CANONS)
def test_interop_posternctl_to_dkimpy(keys, sel, alg, canon):
    signed = sign(keys, sel, "-a", alg, "-c", canon)
    dns = dkimpy_dns(keys)
    assert dkim.verify(signed, dnsfunc=dns, minkey=1024)
    assert not dkim.verify(signed.replace(b"world", b"World"), dnsfunc=dns,
                           minkey=1024)
    assert not dkim.verify(signed.replace(b"Bob <", b"Rob <"), dnsfunc=dns,
                           minkey=1024)


@pytest.mark.parametrize("sel,alg", INTEROP)
@pytest.mark.parametrize("canon", CANONS)
def test_interop_dkimpy_to_posternctl(keys, sel, alg, canon):
    hc, bc = canon.split("/")
    sig = dkim.sign(MSG, sel.encode(), b"example.com", dkimpy_key(keys, sel),
                    canonicalize=(hc.encode(), bc.encode()),
                    signature_algorithm=alg.encode(),
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    flags = ["--allow-sha1"] if alg == "rsa-sha1" else []
    res, _ = check_dkim(keys, sig + MSG, *flags)
    assert [r["result"] for r in res] == ["pass"], res
    assert res[0]["props"]["header.a"] == alg
    res, _ = check_dkim(keys, sig + MSG.replace(b"world", b"World"), *flags)
    assert [r["result"] for r in res] == ["fail"]
    res, _ = check_dkim(keys, sig + MSG.replace(b"Bob <", b"Rob <"), *flags)
    assert [r["result"] for r in res] == ["fail"]


# --- hostile input ------------------------------------------------------------

def test_dkim_1000_signatures(keys, tmp_path):
    """At most the configured number are verified; the rest are counted."""
    signed = sign(keys, "ed")
    sig, rest = signed.split(b"\r\nFrom:", 1)
    sig += b"\r\n"
    # One genuine signature among 999 broken copies of it.
    broken = sig.replace(b"s=ed", b"s=nokey")
    path = tmp_path / "many.eml"
    path.write_bytes(broken * 999 + sig + b"From:" + rest)
    with open(path, "rb") as f:
        r = run([POSTERNCTL, "check", "dkim", "--dns-zone", keys["zone"]],
                stdin=f, text=False, timeout=120)
    assert r.returncode == 0, r.stderr
    _, res = parse_ar(r.stdout.decode())
    assert 1 <= len(res) <= 64          # DKIM_MAX_RESULTS
    assert all(x["method"] == "dkim" for x in res)
    # 1000 signatures and the other fields pass the header's field limit
    # (DKIM_MAX_FIELDS): nothing is verified.
    assert all(x["result"] == "permerror" for x in res)


def test_dkim_max_signatures_verified(keys, tmp_path):
    """Just under the header's field limit: 10 verified, the rest policy."""
    signed = sign(keys, "ed")
    sig, rest = signed.split(b"\r\nFrom:", 1)
    sig += b"\r\n"
    broken = sig.replace(b"s=ed", b"s=nokey")
    path = tmp_path / "many.eml"
    path.write_bytes(sig * 3 + broken * 987 + b"From:" + rest)
    with open(path, "rb") as f:
        r = run([POSTERNCTL, "check", "dkim", "-v", "--dns-zone",
                 keys["zone"]], stdin=f, text=False, timeout=120)
    assert r.returncode == 0, r.stderr
    _, res = parse_ar(r.stdout.decode())
    assert len(res) == 64               # DKIM_MAX_RESULTS reported
    assert [x["result"] for x in res[:10]] == ["pass"] * 3 + \
        ["permerror"] * 7
    assert all(x["result"] == "policy" for x in res[10:])
    assert "more than 10 signatures" in res[10]["comments"][0]
    err = r.stderr.decode()
    # Two key names, each looked up once however many signatures use it.
    assert err.count("looking up") == 2
    assert "926 more signatures not reported" in err


def test_dkim_100mb_header(keys, tmp_path):
    signed = sign(keys, "rsa")
    path = tmp_path / "big.eml"
    with open(path, "wb") as f:
        sig, rest = signed.split(b"\r\nFrom:", 1)
        f.write(sig + b"\r\n")
        f.write(b"X-Big: ")
        chunk = (b"a" * 76 + b"\r\n ") * (1 << 14)
        for _ in range(100 * (1 << 20) // len(chunk) + 1):
            f.write(chunk)
        f.write(b"end\r\nFrom:" + rest)
    assert os.path.getsize(path) > 100 * (1 << 20)
    try:
        with open(path, "rb") as f:
            r = run([POSTERNCTL, "check", "dkim", "--dns-zone",
                     keys["zone"]], stdin=f, text=False, timeout=120)
    finally:
        os.unlink(path)     # pytest keeps recent temp dirs: not 100 MB
    assert r.returncode == 0, r.stderr
    _, res = parse_ar(r.stdout.decode())
    assert len(res) == 1 and res[0]["method"] == "dkim"
    assert res[0]["result"] == "permerror"
    assert "header section exceeds limits" in res[0]["comments"][0]

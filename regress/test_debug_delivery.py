"""posternctl debug delivery: the mta's own delivery code, run as a probe
in the daemon's mta process for one address, streamed step by step to
posternctl and stopped after RCPT.

The worlds are the DANE test bed of test_dane.py (the daemon's resolver,
with a null MX zone and a zone without a server added here) and the
MTA-STS test bed of test_mtasts.py, which the probe reaches with
--resolver, --trust-anchor and --ca-file.  Every case checks the result
line the issue gives, the exit status, and that the receiving server never
got DATA (no message ever arrives).

Modules covered: mta/debug.c (the probe, its lines and verdict; the JSON
and the verdict are also unit-tested in regress/unit/test_debug.c),
posternctl/debug_delivery.c, the IMSG_CTL_DEBUG_* relay of
posternd/control.c, dns_ctx_resolver_mem() of lib/dns.c, and the hooks
in mta/mta.c, mta/tlsa.c, mta/sts_policy.c, mta/session.c and
mta/session_secure.c.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import POSTERNCTL
from peers import chain
from test_dane import ADDR, tls_peer
from test_dane import bed as dane_bed  # noqa: F401 (fixture)
from test_mta import peer, send, sender  # noqa: F401 (fixtures)
from test_mta import wait_queue_empty, wait_tls_result
from test_mtasts import mx_peer, policy, sts_servers
from test_mtasts import bed as sts_bed  # noqa: F401 (fixture)

STEPS = {"mx", "address", "mta-sts", "tlsa", "connect", "ehlo", "starttls",
         "certificate", "dane", "mail", "rcpt"}
RESULT_KEYS = ["step", "result", "host", "tls", "dane", "mta_sts", "reason"]
NOSERVER = "127.0.0.71"         # nothing listens there


@pytest.fixture(scope="module")
def bed(dane_bed):  # noqa: F811
    """test_dane's bed, with a null MX and a host where nobody listens."""
    dane_bed.stop()
    dane_bed.zone("nullmx.test", ["@ MX 0 ."])
    dane_bed.zone("noserver.test", ["@ MX 10 mx.noserver.test.",
                                    "mx A %s" % NOSERVER])
    dane_bed.start()
    return dane_bed


@pytest.fixture
def dm(sender):  # noqa: F811 (test_mta's sender, on this module's bed)
    return sender()


@pytest.fixture
def sts(sts_bed, tmp_path):  # noqa: F811
    """HTTPS policy servers of the MTA-STS bed (test_mtasts's sts, on
    that bed rather than this module's)."""
    yield from sts_servers(sts_bed, tmp_path)


def debug(dm, *args, json_lines=True, world=None):
    """posternctl debug delivery; (returncode, lines, stderr), each line
    parsed as JSON with -j (every line must be one object with a step)."""
    opts = ["-j"] if json_lines else []
    if world is not None:
        # another DNS bed, its trust anchor and its CA
        opts += ["--resolver", world.resolver, "--trust-anchor",
                 world.trust_anchor, "--ca-file", world.ca.cert]
    r = dm.ctl("debug", "delivery", *opts, *args)
    lines = r.stdout.splitlines()
    if json_lines:
        parsed = []
        for ln in lines:
            obj = json.loads(ln)
            assert isinstance(obj, dict) and "step" in obj, ln
            assert obj["step"] in STEPS | {"result"}, ln
            parsed.append(obj)
        lines = parsed
        if r.returncode in (0, 1) and lines:
            # the last line is always the result, keys in the order
            assert list(lines[-1]) == RESULT_KEYS, lines[-1]
            assert [x["step"] for x in lines].count("result") == 1
    return r.returncode, lines, r.stderr


def result(lines):
    return lines[-1]


def steps(lines):
    return [x["step"] for x in lines]


def never_data(mx):
    """The peer saw no DATA nor BDAT and took no message."""
    assert mx.accepted() == []
    for s in mx.sessions():
        for who, text in s["transcript"]:
            if who != "S":
                assert not text.upper().startswith(("DATA", "BDAT")), s


def test_dane_ee_match(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test")
    rc, lines, err = debug(dm, "x@ee.test")
    assert rc == 0, (lines, err)
    assert result(lines) == {
        "step": "result", "result": "deliverable", "host": "mx.ee.test",
        "tls": "TLSv1.3", "dane": "pass", "mta_sts": "none",
        "reason": "the recipient was accepted (no message sent)"}
    st = steps(lines)
    for s in STEPS:
        assert s in st, (s, st)
    # in the order they happen: DNS, then the session
    assert st.index("mx") < st.index("tlsa") < st.index("connect") < \
        st.index("ehlo") < st.index("starttls") < st.index("certificate") \
        < st.index("dane") < st.index("mail") < st.index("rcpt")
    tlsa = [x for x in lines if x["step"] == "tlsa"][0]
    assert tlsa["dnssec"] == "secure" and tlsa["result"] == "usable"
    assert tlsa["records"].startswith("3 1 1 ")
    dane = [x for x in lines if x["step"] == "dane"][0]
    assert dane["result"] == "pass" and dane["record"].startswith("3 1 1 ")
    rcpt = [x for x in lines if x["step"] == "rcpt"][0]
    assert rcpt["to"] == "x@ee.test" and rcpt["reply"].startswith("250")
    mail = [x for x in lines if x["step"] == "mail"][0]
    assert mail["from"] == ""           # the null sender by default
    s = mx.wait_sessions(1)[0]
    assert s["tls"]["sni"] == "mx.ee.test"
    never_data(mx)
    # nothing queued, nothing recorded for TLS reports
    assert dm.ctl("show", "queue").stdout == ""
    assert dm.ctl("show", "tls-results").stdout == ""


def test_dane_ta_match(dm, peer, bed, tmp_path):  # noqa: F811
    c = bed.certs["mx.ta.test"]
    mx = peer(ADDR["mx.ta.test"], starttls=True,
              tls_cert=chain(tmp_path, c, bed.ca), tls_key=c.key)
    rc, lines, err = debug(dm, "--from", "root@a.postern.test", "x@ta.test")
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["host"], r["dane"]) == \
        ("deliverable", "mx.ta.test", "pass")
    assert [x for x in lines if x["step"] == "dane"][0]["reason"] == \
        "DANE-TA matched"
    assert [x for x in lines if x["step"] == "mail"][0]["from"] == \
        "root@a.postern.test"
    mx.wait_sessions(1)
    assert mx.transactions()[0]["mail_from"] == "root@a.postern.test"
    never_data(mx)


def test_dane_mismatch_undeliverable(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.mismatch.test")
    rc, lines, err = debug(dm, "x@mismatch.test")
    assert rc == 1, (lines, err)
    r = result(lines)
    assert (r["result"], r["host"], r["dane"], r["tls"]) == \
        ("undeliverable", "mx.mismatch.test", "fail", "TLSv1.3")
    assert "DANE: no TLSA record matches" in r["reason"]
    assert [x for x in lines if x["step"] == "dane"][0]["result"] == "fail"
    assert "mail" not in steps(lines)
    never_data(mx)


def test_tlsa_without_starttls_undeliverable(dm, peer, bed):  # noqa: F811
    mx = peer(ADDR["mx.nostarttls.test"], starttls=False)
    rc, lines, err = debug(dm, "x@nostarttls.test")
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["dane"], r["tls"]) == \
        ("undeliverable", "fail", None)
    assert "does not offer STARTTLS" in r["reason"]
    st = [x for x in lines if x["step"] == "starttls"][0]
    assert (st["result"], st["required"]) == ("not offered", "yes")
    assert mx.transactions() == []
    never_data(mx)


def test_bogus_tlsa_temporary(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.bogus.test")
    rc, lines, err = debug(dm, "x@bogus.test")
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["host"], r["dane"]) == \
        ("temporary", "mx.bogus.test", "bogus")
    assert "dnssec-invalid" in r["reason"]
    tlsa = [x for x in lines if x["step"] == "tlsa"][0]
    assert (tlsa["dnssec"], tlsa["result"]) == ("bogus", "bogus")
    time.sleep(0.5)
    assert mx.sessions() == []          # not even a connection


def test_insecure_zone_tlsa_ignored(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.insecure.test")
    rc, lines, err = debug(dm, "x@insecure.test")
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["dane"]) == ("deliverable", "none")
    tlsa = [x for x in lines if x["step"] == "tlsa"][0]
    assert (tlsa["dnssec"], tlsa["result"]) == ("insecure", "none")
    mxl = [x for x in lines if x["step"] == "mx"][0]
    assert mxl["dnssec"] == "insecure"
    never_data(mx)


def test_pkix_only_tlsa(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.pkix.test")
    rc, lines, err = debug(dm, "x@pkix.test")
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["dane"], r["tls"]) == \
        ("deliverable", "none", "TLSv1.3")
    tlsa = [x for x in lines if x["step"] == "tlsa"][0]
    assert (tlsa["dnssec"], tlsa["result"]) == ("secure", "unusable")
    never_data(mx)


def test_failing_primary_good_backup(dm, peer, bed):  # noqa: F811
    mx1 = tls_peer(peer, bed, "mx1.backup.test")
    mx2 = tls_peer(peer, bed, "mx2.backup.test")
    rc, lines, err = debug(dm, "x@backup.test")
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["host"], r["dane"]) == \
        ("deliverable", "mx2.backup.test", "pass")
    fails = [x for x in lines if x.get("result") == "failed"]
    assert fails and fails[0]["host"] == "mx1.backup.test"
    assert [x["hosts"] for x in lines if x["step"] == "mx"] == \
        ["mx1.backup.test mx2.backup.test"]
    never_data(mx1)
    never_data(mx2)


def test_recipient_refused_undeliverable(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test", replies=[
        {"cmd": "RCPT", "reply": "550 5.1.1 no such \"user\" here"}])
    rc, lines, err = debug(dm, "nobody@ee.test")
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["host"], r["dane"]) == \
        ("undeliverable", "mx.ee.test", "pass")
    assert r["reason"] == "550 5.1.1 no such \"user\" here"
    never_data(mx)


def test_temporary_refusal(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test", replies=[
        {"cmd": "RCPT", "reply": "451 4.3.0 try later"}])
    rc, lines, err = debug(dm, "x@ee.test")
    assert rc == 1
    assert result(lines)["result"] == "temporary"
    never_data(mx)


def test_null_mx(dm, bed):  # noqa: F811
    rc, lines, err = debug(dm, "x@nullmx.test")
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["host"], r["tls"], r["dane"]) == \
        ("undeliverable", None, None, "none")
    assert "null MX" in r["reason"]
    assert [x["result"] for x in lines if x["step"] == "mx"] == ["nullmx"]


def test_no_server_temporary(dm, bed):  # noqa: F811
    rc, lines, err = debug(dm, "x@noserver.test")
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["host"]) == ("temporary", "mx.noserver.test")
    c = [x for x in lines if x["step"] == "connect"]
    assert c and c[-1]["result"] == "failed"


# -- MTA-STS, on test_mtasts's bed through --resolver and --trust-anchor ----

def test_sts_enforce_wildcard(dm, peer, sts_bed, sts):  # noqa: F811
    srv = sts("wild.test")
    mx = mx_peer(peer, sts_bed, "mx.wild.test")
    rc, lines, err = debug(dm, "x@wild.test", world=sts_bed)
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["host"], r["mta_sts"], r["dane"]) == \
        ("deliverable", "mx.wild.test", "enforce", "none")
    pol = [x for x in lines if x["step"] == "mta-sts"][0]
    assert (pol["mode"], pol["id"], pol["mx"]) == \
        ("enforce", "1", "*.wild.test")
    cert = [x for x in lines if x["step"] == "certificate"][0]
    assert cert["result"] == "verified"      # under --ca-file's CA
    # validated under --trust-anchor: the bed's signed zones are secure
    assert [x["dnssec"] for x in lines if x["step"] == "mx"] == ["secure"]
    # fetched afresh; the mta's policy cache is left alone
    assert len(srv.fetches()) == 1
    assert dm.ctl("show", "mta-sts").stdout == ""
    never_data(mx)


def test_sts_enforce_skips_unlisted_mx(dm, peer, sts_bed,
                                       sts):  # noqa: F811
    sts("enf.test")
    bad = mx_peer(peer, sts_bed, "mxbad.enf.test")
    good = mx_peer(peer, sts_bed, "mx.enf.test")
    rc, lines, err = debug(dm, "x@enf.test", world=sts_bed)
    assert rc == 0, (lines, err)
    assert result(lines)["host"] == "mx.enf.test"
    skipped = [x for x in lines if x.get("result") == "not used"]
    assert skipped[0]["host"] == "mxbad.enf.test"
    assert bad.sessions() == []
    never_data(good)


def test_sts_enforce_mx_not_in_policy(dm, peer, sts_bed, sts):  # noqa
    sts("enf.test", policy("enforce", "*.elsewhere.test"))
    bad = mx_peer(peer, sts_bed, "mxbad.enf.test")
    good = mx_peer(peer, sts_bed, "mx.enf.test")
    rc, lines, err = debug(dm, "x@enf.test", world=sts_bed)
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["mta_sts"]) == ("undeliverable", "enforce")
    assert "is not an mx of the MTA-STS policy of enf.test" in r["reason"]
    time.sleep(0.5)
    assert bad.sessions() == [] and good.sessions() == []


def test_resolver_without_trust_anchor_is_insecure(dm, peer, sts_bed,
                                                   sts):  # noqa: F811
    sts("wild.test")
    mx = mx_peer(peer, sts_bed, "mx.wild.test")
    rc, lines, err = debug(dm, "--resolver", sts_bed.resolver, "--ca-file",
                           sts_bed.ca.cert, "x@wild.test")
    assert rc == 0, (lines, err)
    assert [x["dnssec"] for x in lines if x["step"] == "mx"] == ["insecure"]
    assert [x["result"] for x in lines if x["step"] == "tlsa"] == ["none"]
    never_data(mx)


def test_dane_and_sts_together(dm, peer, sts_bed, sts):  # noqa: F811
    # the policy would allow the host and its certificate, but its DANE
    # TLSA record does not match it: DANE decides (RFC 8461 2)
    sts("both.test")
    mx = mx_peer(peer, sts_bed, "mx.both.test")
    rc, lines, err = debug(dm, "x@both.test", world=sts_bed)
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["host"], r["dane"], r["mta_sts"]) == \
        ("undeliverable", "mx.both.test", "fail", "enforce")
    never_data(mx)


def test_sts_testing_delivers(dm, peer, sts_bed, sts):  # noqa: F811
    sts("testing.test")
    mx = mx_peer(peer, sts_bed, "mx.testing.test", cert=sts_bed.other)
    rc, lines, err = debug(dm, "x@testing.test", world=sts_bed)
    assert rc == 0, (lines, err)
    r = result(lines)
    assert (r["result"], r["mta_sts"]) == ("deliverable", "testing")
    cert = [x for x in lines if x["step"] == "certificate"][0]
    assert cert["result"] == "not verified"
    never_data(mx)


def test_sts_enforce_wrong_certificate(dm, peer, sts_bed, sts):  # noqa
    sts("name.test")
    mx = mx_peer(peer, sts_bed, "mx.name.test", cert=sts_bed.other)
    rc, lines, err = debug(dm, "x@name.test", world=sts_bed)
    assert rc == 1
    r = result(lines)
    assert (r["result"], r["mta_sts"]) == ("undeliverable", "enforce")
    assert "MTA-STS (enforce): the certificate is not valid" in r["reason"]
    never_data(mx)


def test_sts_fetch_failure_no_policy(dm, peer, sts_bed):  # noqa: F811
    mx = mx_peer(peer, sts_bed, "mx.nofetch.test")
    rc, lines, err = debug(dm, "x@nofetch.test", world=sts_bed)
    assert rc == 0, (lines, err)
    assert result(lines)["mta_sts"] == "none"
    pol = [x for x in lines if x["step"] == "mta-sts"][0]
    assert pol["mode"] == "none" and \
        "policy fetch failed (sts-policy-fetch-error" in pol["reason"]
    never_data(mx)


# -- the command itself -------------------------------------------------------

def test_human_output(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test", replies=[
        {"cmd": "RCPT", "reply": "250 2.1.5 ok \x1b[31m"}])
    rc, lines, err = debug(dm, "x@ee.test", json_lines=False)
    assert rc == 0, (lines, err)
    assert lines[0].split()[0] in ("mx", "mta-sts")
    assert lines[-1].startswith("result ") and \
        "result=deliverable host=mx.ee.test tls=TLSv1.3 dane=pass " \
        "mta_sts=none" in lines[-1]
    # a server's control bytes never reach the terminal
    assert "\x1b" not in "\n".join(lines)
    assert any(ln.startswith("rcpt ") and "reply=\"250 2.1.5 ok " in ln
               for ln in lines)
    never_data(mx)


def test_bad_usage_exit_2(dm, tmp_path):
    for args in ([], ["-j"], ["--resolver", "nonsense", "x@ee.test"],
                 ["--resolver", "127.0.0.1@99999", "x@ee.test"],
                 ["--trust-anchor", "/etc/hostname", "x@ee.test"],
                 ["--resolver", "127.0.0.1", "--trust-anchor",
                  str(tmp_path / "missing"), "x@ee.test"],
                 ["no-domain"], ["x@ee.test", "y@ee.test"],
                 ["a\r\nDATA@ee.test"], ["--from", "a b@c", "x@ee.test"],
                 ["--bogus", "x@ee.test"]):
        r = dm.ctl("debug", "delivery", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stdout == ""
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * 100000)
    r = dm.ctl("debug", "delivery", "--ca-file", str(big), "x@ee.test")
    assert r.returncode == 2 and "larger than" in r.stderr


def test_bad_ca_file_is_an_error(dm, tmp_path):
    f = tmp_path / "notpem"
    f.write_text("not a certificate\n")
    r = dm.ctl("debug", "delivery", "--ca-file", str(f), "x@ee.test")
    assert r.returncode == 1 and "no certificate" in r.stderr


def test_daemon_not_running(tmp_path):
    r = subprocess.run([POSTERNCTL, "-s", str(tmp_path / "nosock"),
                        "debug", "delivery", "x@ee.test"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "is posternd running?" in r.stderr


def test_concurrent_and_cancelled_probes(dm, peer, bed):  # noqa: F811
    # a server that is slow to greet: the probes wait on it
    slow = tls_peer(peer, bed, "mx.insecure.test", delays={"CONNECT": 3})
    cmd = [POSTERNCTL, "-s", dm.sock, "debug", "delivery", "-j",
           "x@insecure.test"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    # a third one goes away at once: the mta drops its probe
    gone = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    gone.send_signal(signal.SIGKILL)
    gone.wait()
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, (out, err)
        assert json.loads(out.splitlines()[-1])["result"] == "deliverable"
    deadline = time.time() + 10
    while "debug delivery cancelled" not in dm.logtext():
        assert time.time() < deadline, dm.logtext()
        time.sleep(0.2)
    # more at once than the mta runs are refused, clearly
    many = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(6)]
    outs = [p.communicate(timeout=60) + (p.returncode,) for p in many]
    refused = [o for o in outs if "debug deliveries are running" in o[1]]
    assert refused and all(o[2] == 1 for o in refused)
    assert len(refused) < 6
    never_data(slow)
    # the daemon is fine afterwards
    assert dm.ctl("show", "status").returncode == 0


def test_real_delivery_undisturbed(dm, peer, bed):  # noqa: F811
    # a probe and a real message to the same host at the same time: the
    # message arrives once, the probe sends none, and the mta's own
    # destinations know nothing of the probe
    mx = tls_peer(peer, bed, "mx.ee.test", delays={"CONNECT": 1})
    probe = subprocess.Popen([POSTERNCTL, "-s", dm.sock, "debug",
                              "delivery", "-j", "x@ee.test"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    send(dm, ["real@ee.test"])
    out, err = probe.communicate(timeout=30)
    assert probe.returncode == 0, (out, err)
    mx.wait_messages(1)
    wait_queue_empty(dm)
    time.sleep(0.5)
    assert len(mx.accepted()) == 1
    assert mx.accepted()[0]["rcpts"] == ["real@ee.test"]
    hosts = dm.ctl("show", "hosts").stdout
    assert "ee.test" in hosts and "debug" not in hosts, hosts
    # the real delivery's TLS outcome is counted, the probe's is not
    wait_tls_result(dm, "ee.test", r"result=success .*count=1$")
    time.sleep(0.5)
    assert dm.ctl("show", "tls-results", "ee.test").stdout.count(
        "count=") == 1
    assert "count=1" in dm.ctl("show", "tls-results", "ee.test").stdout


def test_no_message_ever_arrives(dm, peer, bed):  # noqa: F811
    mx = tls_peer(peer, bed, "mx.ee.test")
    for _ in range(3):
        assert debug(dm, "x@ee.test")[0] == 0
    mx.wait_sessions(3)
    never_data(mx)
    for s in mx.sessions():
        cmds = [t.split()[0].upper() for w, t in s["transcript"] if w != "S"
                and t.strip()]
        assert "RSET" in cmds and cmds[-1] == "QUIT", cmds
    assert os.path.exists(dm.sock)

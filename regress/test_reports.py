"""reportd's evaluation store: authd sends each DMARC evaluation to reportd,
which keeps it (LMDB under <spool>/reports); `posternctl show evaluations
[DOMAIN]` (posternctl/report_cmds.c) lists what is stored, and the store
survives a restart.  DNS is
nsd (regress/dnsbed.py) on its own bed address, apart from test_auth.py's."""
import json
import os
import smtplib
import socket
import struct
import time

import pytest

from conftest import imsg_frame, imsg_types, next_port, proto_version
from dnsbed import DnsBed
from test_smtp import delivered

MSG = (b"From: Alice <alice@{dom}>\r\nTo: bob@localhost\r\n"
       b"Subject: report\r\nMessage-ID: <{mid}@{dom}>\r\n\r\nhello\r\n")


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reportbed")
    b = DnsBed(tmp / "bed", addr="127.0.53.4")
    try:
        b.zone("good.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                             '_dmarc TXT "v=DMARC1; p=reject; '
                             'rua=mailto:agg@good.test"'])
        b.zone("bad.test", ['@ TXT "v=spf1 -all"',
                            '_dmarc TXT "v=DMARC1; p=quarantine; '
                            'aspf=s; sp=none"'])
        b.zone("other.test", ['@ TXT "v=spf1 ip4:127.0.0.1 -all"',
                              '_dmarc TXT "v=DMARC1; p=none"'])
        b.start()
        yield b
    finally:
        b.stop()


@pytest.fixture
def mx(daemon_factory, bed, tmp_path):
    dm = daemon_factory(sub="mx")
    dm.maildir = str(tmp_path / "mail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
resolver {r} trust-anchor "{ta}"
table locals {{ "localhost" }}
action "local" maildir "{m}/%{{user}}" user root
match from any for domain <locals> action "local"
'''.format(r=bed.resolver, ta=bed.trust_anchor, m=dm.maildir))
    return dm.start()


def send(port, dom):
    data = MSG.replace(b"{dom}", dom.encode()).replace(
        b"{mid}", str(time.time()).encode())
    with smtplib.SMTP("127.0.0.1", port) as c:
        c.ehlo("client.test")
        assert c.mail("alice@" + dom)[0] == 250
        assert c.rcpt("bob@localhost")[0] == 250
        code, text = c.data(data)
    assert code == 250, (code, text)


def fields(line):
    """The key=value words of one listing line, and its time."""
    words = line.split()
    out = {"time": words[0]}
    for w in words[1:]:
        k, _, v = w.partition("=")
        out[k] = v
    return out


def evaluations(dm, *domain, want=None, timeout=10):
    """The listing; waits until it has `want` lines (reportd gets them
    after the message is accepted)."""
    deadline = time.time() + timeout
    while True:
        r = dm.ctl("show", "evaluations", *domain)
        assert r.returncode == 0, r.stderr
        lines = [x for x in r.stdout.splitlines() if x]
        if want is None or len(lines) >= want or time.time() > deadline:
            return [fields(x) for x in lines]
        time.sleep(0.1)


def test_evaluations_stored_and_listed(mx):
    assert evaluations(mx) == []
    for dom in ("good.test", "bad.test", "other.test"):
        send(mx.port, dom)
    # Stored, and the mail delivered as before.
    assert len(delivered(mx, "root", want=3)) == 3
    ev = evaluations(mx, want=3)
    assert len(ev) == 3, ev
    by = {e["from"]: e for e in ev}
    assert set(by) == {"good.test", "bad.test", "other.test"}

    good = by["good.test"]
    assert good["result"] == "pass"
    assert good["disposition"] in ("none", "pass")
    assert good["ip"] == "127.0.0.1"
    assert good["mfrom"] == "good.test"
    assert good["spf"] == "good.test:pass"
    assert good["spf_aligned"] == "yes"
    assert good["dkim"] == "-"
    assert good["policy"] == "good.test"
    assert good["p"] == "reject"
    assert good["adkim"] == "r" and good["aspf"] == "r"
    assert good["t"] == "n"
    assert good["time"].endswith("Z")
    t = time.mktime(time.strptime(good["time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(t - time.mktime(time.gmtime())) < 300

    bad = by["bad.test"]
    assert bad["result"] == "fail"
    assert bad["disposition"] == "quarantine"
    assert bad["spf"] == "bad.test:fail"
    assert bad["spf_aligned"] == "no"
    assert bad["p"] == "quarantine"
    assert bad["sp"] == "none"
    assert bad["aspf"] == "s"

    other = by["other.test"]
    assert other["result"] == "pass"
    assert other["p"] == "none"

    # -j: one object per record, the fields of the lines
    r = mx.ctl("show", "evaluations", "-j")
    assert r.returncode == 0, r.stderr
    js = {o["from"]: o for o in map(json.loads, r.stdout.splitlines())}
    assert set(js) == set(by)
    for dom, o in js.items():
        e = by[dom]
        assert (o["when"], o["ip"], o["mfrom"], o["result"],
                o["disposition"]) == (e["time"], e["ip"], e["mfrom"],
                                      e["result"], e["disposition"])
        assert "%s:%s" % (o["spf"]["domain"], o["spf"]["result"]) == \
            e["spf"]
        assert o["spf_aligned"] == (e["spf_aligned"] == "yes")
        assert o["dkim_aligned"] == (e["dkim_aligned"] == "yes")
        assert o["dkim"] == [] and e["dkim"] == "-"
        p = o["policy"]
        assert (p["domain"], p["p"], p["sp"] or "-", p["np"] or "-",
                p["adkim"], p["aspf"], "y" if p["testing"] else "n") == \
            (e["policy"], e["p"], e["sp"], e["np"], e["adkim"], e["aspf"],
             e["t"])
        assert o["report"] is False
    only = mx.ctl("show", "evaluations", "good.test", "-j").stdout
    assert [json.loads(x)["from"] for x in only.splitlines()] == \
        ["good.test"]

    # One domain's records only.
    only = evaluations(mx, "good.test")
    assert [e["from"] for e in only] == ["good.test"]
    assert evaluations(mx, "GOOD.TEST") == only
    assert evaluations(mx, "nothing.test") == []
    # A name longer than any domain is refused by posternctl.
    r = mx.ctl("show", "evaluations", "a" * 300)
    assert r.returncode != 0
    assert "too long" in r.stderr


def test_store_survives_restart(mx):
    send(mx.port, "good.test")
    send(mx.port, "bad.test")
    before = evaluations(mx, want=2)
    assert len(before) == 2
    mx.stop()
    # the control socket's directory goes with stop(); start makes it anew
    os.makedirs(mx.sockdir, exist_ok=True)
    os.chmod(mx.sockdir, 0o755)
    mx.start()
    after = evaluations(mx)
    assert after == before
    assert os.path.exists(os.path.join(mx.spool, "reports", "data.mdb"))
    # and new ones join them
    send(mx.port, "other.test")
    assert len(evaluations(mx, want=3)) == 3
    assert len(evaluations(mx, "good.test")) == 1


# lib/msg.h numbers, for a hand-made control client.
_T = imsg_types()
IMSG_CTL_SESSION_HELLO, IMSG_CTL_REPLY_OK = _T["IMSG_CTL_SESSION_HELLO"], _T["IMSG_CTL_REPLY_OK"]
IMSG_CTL_REPLY_ERROR, IMSG_CTL_REPLY_END = _T["IMSG_CTL_REPLY_ERROR"], _T["IMSG_CTL_REPLY_END"]
IMSG_CTL_REPLY_DATA = _T["IMSG_CTL_REPLY_DATA"]
IMSG_CTL_EVALUATIONS_GET = _T["IMSG_CTL_EVALUATIONS_GET"]


POSTERN_PROTO_VERSION = proto_version()


imsg = imsg_frame


def read_imsg(s):
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            assert chunk, "control closed the connection"
            b += chunk
        return b
    type_, n, _, _, _, _ = struct.unpack("=IIHHII", exact(20))
    return type_, exact(n - 20)


def raw_ctl(dm, frame):
    """Greet control, send one frame, return the replies to the end."""
    out = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(dm.sock)
        s.sendall(imsg(IMSG_CTL_SESSION_HELLO,
                       struct.pack("=I", POSTERN_PROTO_VERSION)))
        assert read_imsg(s)[0] == IMSG_CTL_REPLY_OK
        s.sendall(frame)
        while True:
            t, data = read_imsg(s)
            out.append((t, data))
            if t in (IMSG_CTL_REPLY_END, IMSG_CTL_REPLY_ERROR):
                return out


@pytest.mark.parametrize("payload", [b"", b"good.test\0", b"x" * 257])
def test_control_refuses_a_malformed_request(mx, payload):
    got = raw_ctl(mx, imsg(IMSG_CTL_EVALUATIONS_GET, payload))
    assert got[-1][0] == IMSG_CTL_REPLY_ERROR
    assert b"malformed request" in got[-1][1]
    # The daemon goes on.
    assert mx.proc.poll() is None
    assert evaluations(mx) == []


def test_domain_without_nul_is_refused(mx):
    send(mx.port, "good.test")
    assert len(evaluations(mx, want=1)) == 1
    # 256 bytes of domain, no NUL (then the flags word): control's
    # decoder refuses it (lib/msg.c), and reportd never sees it.
    got = raw_ctl(mx, imsg(IMSG_CTL_EVALUATIONS_GET, b"g" * 256 + b"\0" * 4))
    assert got[-1][0] == IMSG_CTL_REPLY_ERROR
    assert b"malformed request" in got[-1][1]
    # flags that are not known: refused too
    got = raw_ctl(mx, imsg(IMSG_CTL_EVALUATIONS_GET,
                           b"good.test".ljust(256, b"\0") +
                           struct.pack("=I", 0x80)))
    assert got[-1][0] == IMSG_CTL_REPLY_ERROR
    # the exact size with a real domain answers with its records
    got = raw_ctl(mx, imsg(IMSG_CTL_EVALUATIONS_GET,
                           b"good.test".ljust(256, b"\0") + b"\0" * 4))
    assert got[-1] == (IMSG_CTL_REPLY_END, b"")
    text = b"".join(d for t, d in got if t == IMSG_CTL_REPLY_DATA).decode()
    assert text.count("\n") == 1 and " from=good.test " in text
    assert mx.proc.poll() is None

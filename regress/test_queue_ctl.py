"""posternctl's queue commands (posternctl/queue_cmds.c) against a running
daemon, and show message -j as the queue writes it.

Modules covered: lib/jsonw.c (with regress/unit/test_jsonw.c; the other
-j listings are checked in test_mta.py, test_mtasts.py, test_reports.py
and test_dmarc_send.py).
"""
import base64
import json
import smtplib
import socket
import subprocess
import time

from conftest import POSTERNCTL
from test_smtp import MSG, delivered, mx  # noqa: F401 (fixture)


def send(dm, n, marker):
    ids = []
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        for i in range(n):
            code, text = c.sendmail("s%d@sender.test" % i,
                                    ["root@localhost"],
                                    MSG + b"%s %d\r\n" % (marker, i)), None
            ids.append(i)
    return ids


def queue_lines(dm):
    r = dm.ctl("show", "queue")
    assert r.returncode == 0, r.stderr
    return [l.split() for l in r.stdout.splitlines()]


def test_queue_commands(mx):
    r = mx.ctl("pause", "queue")
    assert r.returncode == 0, r.stderr
    send(mx, 3, b"held-back")
    rows = queue_lines(mx)
    assert len(rows) == 3
    senders = sorted(r[5] for r in rows)
    assert senders == ["<s0@sender.test>", "<s1@sender.test>",
                       "<s2@sender.test>"]
    assert all(r[6] == "<root@localhost>" and r[2] == "queued"
               for r in rows)

    # -j: one JSON object per line
    j = [json.loads(ln) for ln in
         mx.ctl("show", "queue", "-j").stdout.splitlines()]
    assert sorted(e["sender"] for e in j) == ["s0@sender.test",
                                              "s1@sender.test",
                                              "s2@sender.test"]
    assert {e["id"] for e in j} == {r[0] for r in rows}
    assert all(e["size"] > len(MSG) for e in j)     # with Received

    first, second, third = sorted(rows, key=lambda r: r[5])
    msgid = first[0][:12]
    r = mx.ctl("show", "message", msgid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Authentication-Results: ")
    assert "\nReceived: from " in r.stdout
    assert "held-back 0" in r.stdout
    # -j: one object, the same text (UTF-8 here), its size
    j = mx.ctl("show", "message", msgid, "-j")
    assert j.returncode == 0, j.stderr
    assert j.stdout.count("\n") == 1
    o = json.loads(j.stdout)
    raw = subprocess.run([POSTERNCTL, "-s", mx.sock, "show", "message",
                          msgid], stdout=subprocess.PIPE, check=True).stdout
    assert o["id"] == msgid and o["message"].encode() == raw
    assert o["size"] == len(raw)
    assert json.loads(mx.ctl("show", "message", "-j", msgid).stdout) == o

    assert mx.ctl("hold", second[0]).returncode == 0
    assert mx.ctl("remove", third[0]).returncode == 0
    states = {r[0]: r[2] for r in queue_lines(mx)}
    assert states == {first[0]: "queued", second[0]: "held"}

    assert mx.ctl("resume", "queue").returncode == 0
    got = delivered(mx, want=1)
    assert len(got) == 1 and b"held-back 0" in got[0]
    time.sleep(0.5)
    assert [r[0] for r in queue_lines(mx)] == [second[0]]

    assert mx.ctl("release", "all").returncode == 0
    got = delivered(mx, want=2)
    assert len(got) == 2
    time.sleep(0.3)
    assert queue_lines(mx) == []
    assert not any(b"held-back 2" in g for g in got)

    stats = dict(l.split("=") for l in
                 mx.ctl("show", "stats").stdout.splitlines())
    assert stats["smtp.messages.accepted"] == "3"
    assert stats["queue.delivered"] == "2"
    assert stats["queue.removed"] == "1"


def test_show_message_json_8bit(mx):
    """A message that is not UTF-8 comes whole, as message_base64."""
    assert mx.ctl("pause", "queue").returncode == 0
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.sendmail("a@sender.test", ["root@localhost"],
                   MSG + b"caf\xe9 \xff\xfe \"quoted\"\r\n")
    msgid = json.loads(mx.ctl("show", "queue", "-j").stdout)["id"][:12]
    raw = subprocess.run([POSTERNCTL, "-s", mx.sock, "show", "message",
                          msgid], stdout=subprocess.PIPE, check=True).stdout
    assert b"caf\xe9" in raw
    r = mx.ctl("show", "message", msgid, "-j")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert "message" not in o and o["size"] == len(raw)
    assert base64.b64decode(o["message_base64"]) == raw
    assert mx.ctl("show", "message", msgid, "-x").returncode != 0


def test_queue_command_errors(mx):
    r = mx.ctl("show", "message", "nothex")
    assert r.returncode != 0 and "not a message id" in r.stderr
    r = mx.ctl("show", "message", "0123456789ab")
    assert r.returncode != 0 and "no such message" in r.stderr
    r = mx.ctl("show", "message", "-j", "0123456789ab")
    assert r.returncode != 0 and "no such message" in r.stderr
    assert r.stdout == ""
    r = mx.ctl("remove", "0123456789abcdef")
    assert r.returncode != 0 and "0 envelope(s)" in r.stdout
    r = mx.ctl("pause", "mta")
    assert r.returncode != 0 and "unknown command" in r.stderr
    assert mx.ctl("show", "status", "-x").returncode != 0
    assert mx.ctl("show", "hosts", "-j", "x").returncode != 0
    assert mx.proc.poll() is None


def test_show_status_json(mx):
    rows = [json.loads(ln) for ln in
            mx.ctl("show", "status", "-j").stdout.splitlines()]
    procs = {r["process"]: r for r in rows if r["type"] == "process"}
    assert set(procs) == {"parent", "smtp", "queue", "mta", "authd",
                          "reportd", "control"}, procs
    assert all(r["pid"] > 1 and r["uptime"] >= 0 for r in procs.values())
    assert procs["parent"]["user"] == "root"
    (spool,) = [r for r in rows if r["type"] == "spool"]
    assert spool["accepting"] is True and spool["free"] > 0, spool
    assert rows[-1] is spool


def test_pause_smtp(mx):
    assert mx.ctl("pause", "smtp").returncode == 0
    s = socket.create_connection(("127.0.0.1", mx.port), timeout=5)
    s.settimeout(0.5)
    try:
        banner = s.recv(100)
    except socket.timeout:
        banner = b""
    assert banner == b""
    assert mx.ctl("resume", "smtp").returncode == 0
    s.settimeout(5)
    assert s.recv(100).startswith(b"220")
    s.close()

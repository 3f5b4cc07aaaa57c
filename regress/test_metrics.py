"""posternctl show stats [-j] and show metrics against a running daemon:
the counters of every process (smtp, queue, mta, authd, reportd), and the
same counters in Prometheus's text exposition format, read by Prometheus's
own parser (python3-prometheus-client), moving with the traffic sent.
The metrics listener (metrics listen on ADDRESS port N): scraped over
HTTP with urllib, the same exposition; bad requests, huge heads and
clients that send nothing are answered or cut off while posternctl keeps
working.

Modules covered: lib/metrics.c, authd/stats.c, the counters of mta/mta.c,
posternctl show stats and show metrics (posternctl/queue_cmds.c),
posternd/metrics_http.c, posternd/http_req.c.
"""
import json
import smtplib
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import POSTERND, next_port, run
from test_smtp import MSG, delivered, mx  # noqa: F401 (fixture)


def metrics(dm):
    r = dm.ctl("show", "metrics")
    assert r.returncode == 0, r.stderr
    fams = list(text_string_to_metric_families(r.stdout))
    samples = {}
    for f in fams:
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, key      # no sample twice
            samples[key] = s.value
    return r.stdout, fams, samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def total(samples, name, **match):
    return sum(v for (n, labels), v in samples.items() if n == name and
               all(dict(labels).get(k) == w for k, w in match.items()))


def test_metrics_move_with_traffic(mx):
    text, fams, before = metrics(mx)
    # every counter is described: a type and a help, none untyped
    assert "untyped" not in text, text
    for f in fams:
        assert f.type in ("counter", "gauge"), f.name
        assert f.documentation, f.name
        assert f.name.startswith("postern_"), f.name
    # every process answers
    for name in ("postern_smtp_sessions_total", "postern_queue_messages",
                 "postern_mta_sessions_total", "postern_authd_verdicts_total",
                 "postern_reportd_evaluations_stored_total"):
        assert any(n == name for n, _ in before), name

    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        for i in range(2):
            c.sendmail("a@sender.test", ["root@localhost"], MSG)
        # refused: no such local user
        assert c.mail("a@sender.test")[0] == 250
        code, _ = c.rcpt("nobody-here@localhost")
        c.rset()
    assert len(delivered(mx, want=2)) == 2

    _, _, after = metrics(mx)
    assert value(after, "postern_smtp_messages_accepted_total") - \
        value(before, "postern_smtp_messages_accepted_total") == 2
    assert value(after, "postern_smtp_sessions_total") - \
        value(before, "postern_smtp_sessions_total") == 1
    # authd judged both, and says by which methods
    assert total(after, "postern_authd_verdicts_total") - \
        total(before, "postern_authd_verdicts_total") == 2
    assert value(after, "postern_authd_verdicts_total",
                 verdict="accept") - value(before,
                                           "postern_authd_verdicts_total",
                                           verdict="accept") == 2
    # SPF twice each, for MAIL FROM and for HELO (RFC 7208 2.3)
    assert total(after, "postern_authd_results_total", method="spf") - \
        total(before, "postern_authd_results_total", method="spf") == 4
    assert total(after, "postern_authd_results_total", method="iprev") - \
        total(before, "postern_authd_results_total", method="iprev") == 2
    assert value(after, "postern_queue_envelopes_done_total",
                 result="delivered") - \
        value(before, "postern_queue_envelopes_done_total",
              result="delivered") == 2
    assert code == 550, code
    assert total(after, "postern_smtp_recipients_refused_total") - \
            total(before, "postern_smtp_recipients_refused_total") == 1


def test_show_stats_json_names_every_counter(mx):
    r = mx.ctl("show", "stats", "-j")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names))
    assert all(isinstance(row["value"], int) for row in rows)
    for prefix in ("smtp.", "queue.", "mta.", "authd.", "reportd."):
        assert any(n.startswith(prefix) for n in names), prefix
    # the plain form lists the same counters
    plain = mx.ctl("show", "stats").stdout.splitlines()
    assert [line.split("=")[0] for line in plain] == names
    assert mx.ctl("show", "stats", "-x").returncode != 0


def parse_exposition(text):
    samples = {}
    fams = list(text_string_to_metric_families(text))
    for f in fams:
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, key
            samples[key] = s.value
    return fams, samples


@pytest.fixture
def mxm(daemon_factory, tmp_path):
    """A daemon that delivers to maildirs and serves metrics on loopback."""
    d = tmp_path / "mxm"
    d.mkdir()
    dm = daemon_factory()
    dm.metrics_port = next_port()
    dm.maildir = str(d / "mail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
table domains {{ "localhost", "example.test" }}
action "local" maildir "{d}/mail/%{{user}}"
match from any for domain <domains> action "local"
metrics listen on 127.0.0.1 port {p}
'''.format(d=d, p=dm.metrics_port))
    dm.start()
    return dm


def scrape(dm, method="GET", path="/metrics"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" %
                                 (dm.metrics_port, path), method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def raw(dm, data, timeout=15):
    """Send data on a fresh connection; what comes back before close."""
    with socket.create_connection(("127.0.0.1", dm.metrics_port),
                                  timeout=timeout) as s:
        if data:
            s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got
            if not chunk:
                return got
            got += chunk


def test_metrics_listener_serves_and_moves(mxm):
    status, headers, body = scrape(mxm)
    assert status == 200
    assert headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Connection"] == "close"
    text = body.decode()
    fams, before = parse_exposition(text)
    # the same families, with HELP and TYPE, as posternctl show metrics
    ctl_fams, _ = parse_exposition(mxm.ctl("show", "metrics").stdout)
    assert [f.name for f in fams] == [f.name for f in ctl_fams]
    for f in fams:
        assert f.type in ("counter", "gauge"), f.name
        assert f.documentation, f.name
    for name in ("postern_smtp_sessions_total", "postern_queue_messages",
                 "postern_mta_sessions_total",
                 "postern_authd_verdicts_total",
                 "postern_reportd_evaluations_stored_total"):
        assert any(n == name for n, _ in before), name

    with smtplib.SMTP("127.0.0.1", mxm.port) as c:
        for i in range(3):
            c.sendmail("a@sender.test", ["root@localhost"], MSG)
    assert len(delivered(mxm, want=3)) == 3

    _, _, body = scrape(mxm)
    _, after = parse_exposition(body.decode())
    assert value(after, "postern_smtp_messages_accepted_total") - \
        value(before, "postern_smtp_messages_accepted_total") == 3
    assert value(after, "postern_smtp_sessions_total") - \
        value(before, "postern_smtp_sessions_total") == 1
    assert value(after, "postern_queue_envelopes_done_total",
                 result="delivered") - \
        value(before, "postern_queue_envelopes_done_total",
              result="delivered") == 3

    # HEAD: the fields, no content (RFC 9110 9.3.2)
    status, headers, body = scrape(mxm, method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) > 1000
    # a query is ignored, as Prometheus's params would be
    assert scrape(mxm, path="/metrics?x=1")[0] == 200


def test_metrics_listener_refuses(mxm):
    for method, path, code in (("GET", "/", 404), ("GET", "/metricsx", 404),
                               ("POST", "/metrics", 405),
                               ("DELETE", "/metrics", 405)):
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(mxm, method=method, path=path)
        assert e.value.code == code, (method, path)
        if code == 405:
            assert e.value.headers["Allow"] == "GET, HEAD"
    # garbage, at once
    got = raw(mxm, b"\x16\x03\x01\x00\xa5\x01\x00\x00")
    assert got.startswith(b"HTTP/1.1 400 "), got
    # HTTP/1.1 without Host (RFC 9112 3.2)
    got = raw(mxm, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 "), got
    got = raw(mxm, b"GET /metrics HTTP/3.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 505 "), got
    # a head that never ends: cut at 8 KB
    got = raw(mxm, b"GET /metrics HTTP/1.0\r\n" +
              b"X-Long: " + b"a" * 9000 + b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 431 "), got
    # a raw well-formed 1.0 request works, and the body follows the head
    got = raw(mxm, b"GET /metrics HTTP/1.0\r\n\r\n")
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    assert b"postern_smtp_sessions_total" in body
    assert "fatal" not in mxm.logtext()
    assert mxm.proc.poll() is None


def test_metrics_listener_slow_clients(mxm):
    """Clients that send nothing hold at most their few slots, for 10 s;
    one more is told 503; posternctl is not slowed; then all is well."""
    idle = []
    for i in range(4):
        s = socket.create_connection(("127.0.0.1", mxm.metrics_port))
        idle.append(s)
    # one that sends half a request
    idle[0].sendall(b"GET /metr")
    time.sleep(0.5)
    got = raw(mxm, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 503 "), got
    t = time.time()
    r = mxm.ctl("show", "status")
    assert r.returncode == 0, r.stderr
    r = mxm.ctl("show", "metrics")
    assert r.returncode == 0 and "postern_smtp_sessions_total" in r.stdout
    assert time.time() - t < 3
    # each slow client is told 408 within the time limit, then closed
    for s in idle:
        s.settimeout(15)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.1 408 "), got
        s.close()
    assert time.time() - t < 13
    assert scrape(mxm)[0] == 200
    assert mxm.proc.poll() is None


def test_metrics_listen_config(tmp_path):
    conf = tmp_path / "postern.conf"
    for line, ok in (("metrics listen on 127.0.0.1 port 9100", True),
                     ("metrics listen on ::1 port 9100", True),
                     ("metrics listen on localhost port 9100", True),
                     ("metrics listen on 192.0.2.1 port 9100", False),
                     ("metrics listen on 0.0.0.0 port 9100", False),
                     ("metrics listen on 0.0.0.0 port 9100 allow-remote",
                      True),
                     ("metrics listen on 127.0.0.1 port 0", False),
                     ("metrics listen on 127.0.0.1 port 2525", False),
                     ("metrics listen on nowhere port 9100", False),
                     ("metrics listen on 127.0.0.1 port 9100\n"
                      "metrics listen on 127.0.0.1 port 9101", False)):
        conf.write_text("listen on 127.0.0.1 port 2525\n%s\n" % line)
        r = run([POSTERND, "-n", "-f", str(conf)])
        assert (r.returncode == 0) == ok, (line, r.stderr)
        if "192.0.2.1" in line:
            assert "allow-remote" in r.stderr, r.stderr
    # the other way round: a mail listener where metrics are
    conf.write_text("metrics listen on 127.0.0.1 port 2525\n"
                    "listen on 127.0.0.1 port 2525\n")
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode != 0 and "where metrics are served" in r.stderr, \
        r.stderr

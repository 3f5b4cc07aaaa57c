"""posternctl show stats [-j] and show metrics against a running daemon:
the counters of every process (smtp, queue, mta, authd, reportd), and the
same counters in Prometheus's text exposition format, read by Prometheus's
own parser (python3-prometheus-client), moving with the traffic sent.

Modules covered: lib/metrics.c, authd/stats.c, the counters of mta/mta.c,
posternctl show stats and show metrics (posternctl/queue_cmds.c).
"""
import json
import smtplib

from prometheus_client.parser import text_string_to_metric_families

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

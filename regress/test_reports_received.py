"""Received reports through the real daemon: `action NAME reportd` hands the
mail a match rule gives it to reportd, which parses it and keeps what it
reads; `posternctl show reports [dmarc|tls|arf] [-j]` lists it.

The corpus is regress/data/reports/ (mkcorpus.py): every good message,
sent over SMTP to a report address, shows up with exactly the figures of
expected.txt; every hostile one is delivered (accepted), refused by
reportd, counted, and leaves reportd up with nothing stored.

Modules covered: rpt.c, rpt_mime.c, rpt_unpack.c, rpt_dmarc.c, rpt_tls.c,
rpt_arf.c, rpt_store.c, received.c, received_cmds.c"""
import glob
import json
import os
import re
import smtplib
import time

import pytest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "reports")
ADDRS = ("dmarc-reports@example.org", "tlsrpt@example.org",
         "abuse@example.org")


def expected():
    out = {}
    with open(os.path.join(DATA, "expected.txt"), encoding="utf-8") as f:
        for line in f:
            name, _, fig = line.rstrip("\n").partition("\t")
            out[name] = json.loads(fig)
    return out


@pytest.fixture
def rd(daemon_factory, tmp_path):
    dm = daemon_factory(sub="rd")
    dm.maildir = str(tmp_path / "mail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
table reportaddrs {{ {addrs} }}
table locals {{ "localhost" }}
action "reports" reportd
action "local" maildir "{m}/%{{user}}" user root
match from any for rcpt-to <reportaddrs> action "reports"
match from any for domain <locals> action "local"
'''.format(addrs=", ".join('"%s"' % a for a in ADDRS), m=dm.maildir))
    return dm.start()


def send(dm, path, rcpt="dmarc-reports@example.org"):
    with open(path, "rb") as f:
        data = f.read()
    # SMTP wants CRLF (RFC 5321 2.3.8); the files have either.
    data = re.sub(rb"\r?\n", b"\r\n", data)
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        c.ehlo("reporter.test")
        assert c.mail("reporter@reporter.test")[0] == 250
        assert c.rcpt(rcpt)[0] == 250
        code, text = c.data(data)
    assert code == 250, (code, text)


def stats(dm):
    r = dm.ctl("show", "stats")
    assert r.returncode == 0, r.stderr
    return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)


def reports(dm, *args, want=None, timeout=20):
    """`show reports ARGS -j` as objects; waits for `want` of them."""
    deadline = time.time() + timeout
    while True:
        r = dm.ctl("show", "reports", *args, "-j")
        assert r.returncode == 0, r.stderr
        out = [json.loads(x) for x in r.stdout.splitlines() if x]
        if want is None or len(out) >= want or time.time() > deadline:
            return out
        time.sleep(0.1)


def canon(objs):
    return sorted(json.dumps(o, sort_keys=True) for o in objs)


def test_corpus_received_and_listed(rd):
    exp = expected()
    assert reports(rd) == []
    for i, name in enumerate(sorted(exp)):
        send(rd, os.path.join(DATA, "good", name + ".eml"),
             ADDRS[i % len(ADDRS)])
    got = reports(rd, want=len(exp))
    assert canon(got) == canon(exp.values())
    # by kind
    for kind in ("dmarc", "tls", "arf"):
        sub = reports(rd, kind)
        assert canon(sub) == canon(o for o in exp.values()
                                   if o["type"] == kind), kind
    # the readable form: a heading per report, a line per row
    r = rd.ctl("show", "reports")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\ndmarc ") + r.stdout.startswith("dmarc ") == \
        sum(1 for o in exp.values() if o["type"] == "dmarc")
    assert "dmarc example.org from \"google.com\" id 11223344556677889900" \
        in r.stdout
    assert re.search(r"209\.85\.220\.41 +12 +none +dkim=pass spf=pass",
                     r.stdout)
    assert "tls from \"Company-X\"" in r.stdout
    assert "sts             company-y.example success=5326 failure=303" \
        in r.stdout
    assert "arf abuse source 192.0.2.1 domain example.net" in r.stdout
    r = rd.ctl("show", "reports", "arf")
    assert r.stdout.count("\n") == 2 and "dmarc" not in r.stdout
    st = stats(rd)
    assert st["reportd.received.stored"] == str(len(exp))
    assert st["reportd.received.refused"] == "0"
    # the same report to two report addresses: kept once
    with open(os.path.join(DATA, "good", "google-gzip.eml"), "rb") as f:
        data = re.sub(rb"\r?\n", b"\r\n", f.read())
    with smtplib.SMTP("127.0.0.1", rd.port) as c:
        c.sendmail("reporter@reporter.test", list(ADDRS[:2]), data)
    deadline = time.time() + 10
    while stats(rd)["reportd.received.duplicates"] != "2" and \
            time.time() < deadline:
        time.sleep(0.1)
    assert stats(rd)["reportd.received.duplicates"] == "2"
    assert len(reports(rd)) == len(exp)
    # nothing bounced: the queue is empty, no DSN went anywhere
    assert "kept" in rd.logtext()
    # kept across a restart
    rd.stop()
    os.makedirs(rd.sockdir, exist_ok=True)
    os.chmod(rd.sockdir, 0o755)
    rd.start()
    assert canon(reports(rd, want=len(exp))) == canon(exp.values())


def test_hostile_refused_reportd_stays_up(rd):
    files = sorted(glob.glob(os.path.join(DATA, "hostile", "*.eml")))
    assert len(files) >= 15
    pid = rd.kids["reportd"]
    t0 = time.time()
    for path in files:
        send(rd, path)
    deadline = time.time() + 60
    while time.time() < deadline:
        st = stats(rd)
        if int(st["reportd.received.refused"]) >= len(files):
            break
        time.sleep(0.2)
    assert st["reportd.received.refused"] == str(len(files)), st
    assert st["reportd.received.stored"] == "0"
    # within fixed limits: all of them in a few seconds, reportd the same
    # process, nothing stored, every refusal logged with its reason
    assert time.time() - t0 < 30
    assert rd.children().get("reportd") == pid
    assert rd.proc.poll() is None
    assert reports(rd) == []
    log = rd.logtext()
    assert log.count("(delivered, not kept)") == len(files)
    for why in ("zip claims", "ratio above 200:1", "gzip claims 1073741824",
                "DOCTYPE", "nested deeper", "is not a count",
                "real number overflow"):
        assert why in log, why
    # delivered (accepted), so nothing is left in the queue to retry
    deadline = time.time() + 10
    while stats(rd).get("queue.envelopes") not in ("0", None) and \
            time.time() < deadline:
        time.sleep(0.1)
    assert stats(rd).get("queue.envelopes") in ("0", None)


def test_other_mail_unaffected_and_config(rd, daemon_factory, tmp_path):
    """Mail for other addresses still goes to its own action; the action
    is a config error only when misspelled."""
    send(rd, os.path.join(DATA, "good", "minimal-plain.eml"),
         "root@localhost")
    deadline = time.time() + 10
    while time.time() < deadline and not glob.glob(
            os.path.join(rd.maildir, "root", "new", "*")):
        time.sleep(0.1)
    assert glob.glob(os.path.join(rd.maildir, "root", "new", "*"))
    assert reports(rd) == []
    dm = daemon_factory(sub="bad", config_extra='action "r" reportdd\n')
    r = dm.start(wait=False)
    assert r.proc.wait(timeout=10) != 0

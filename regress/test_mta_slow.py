"""Slow and silent destinations do not hold back the others (issue 19).

A server that accepts the connection and never sends its greeting keeps
an outbound session for five minutes (RFC 5321 4.5.3.2.1).  Such sessions
used to count against mta-max-sessions like any other, so a few silent
destinations took every session and the mail to every other destination
waited behind them.  A session that has waited on its server for
MTA_SLOW_SECONDS is now slow until it ends and stops counting against
mta-max-sessions, up to mta-max-slow-sessions of them (mta/mta.c
mta_sessions_full()).

The test: mta-max-sessions 2; two messages for a silent server (127.0.0.41)
are handed to the mta first and take both sessions; then mail for a
healthy server (127.0.0.42) must arrive while the silent server still
holds both connections, never more than mta-max-per-domain of them.
No DNS: both are smarthost transports.

The bench that measures it at scale is bench/relay_scale.py.
Modules covered: mta/mta.c, mta/session.c, queue/sched.c
"""
import smtplib
import time

import pytest

from peers import SmtpPeer

SILENT = "127.0.0.41"
HEALTHY = "127.0.0.42"


@pytest.fixture
def peers(tmp_path):
    made = []

    def make(addr, **behaviour):
        p = SmtpPeer(tmp_path / ("peer-" + addr), addr=addr, **behaviour)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.stop()


def established(addr, port=25):
    """Connections accepted on addr:port and open now (/proc/net/tcp)."""
    a = addr.split(".")
    want = "%02X%02X%02X%02X:%04X" % (int(a[3]), int(a[2]), int(a[1]),
                                      int(a[0]), port)
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "01":
                n += 1
    return n


def send(dm, rcpt):
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        c.sendmail("root@localhost", [rcpt],
                   b"Subject: slow\r\n\r\nbody\r\n")


def wait(what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return False


def sender(daemon_factory, extra="", args=("-d",)):
    dm = daemon_factory()
    with open(dm.conf, "a") as f:
        f.write('hostname a.postern.test\n'
                'mta-max-sessions 2\n'
                'mta-max-per-domain 2\n'
                'transport silent smarthost "smtp://%s"\n'
                'transport healthy smarthost "smtp://%s"\n'
                'route for domain "silent.test" transport silent\n'
                'route for domain "healthy.test" transport healthy\n'
                'action "out" relay\n'
                'match from any for any action "out"\n%s'
                % (SILENT, HEALTHY, extra))
    return dm.start(args=args)


def test_silent_server_does_not_starve_the_others(daemon_factory, peers):
    silent = peers(SILENT, delays={"CONNECT": 600})
    healthy = peers(HEALTHY)
    dm = sender(daemon_factory)
    # Queued while held, so that the mta gets them in one batch, the
    # silent destination's first (its messages are older).
    assert dm.ctl("pause", "queue").returncode == 0
    for i in range(3):
        send(dm, "x%d@silent.test" % i)
    for i in range(3):
        send(dm, "y%d@healthy.test" % i)
    assert dm.ctl("resume", "queue").returncode == 0
    # The silent server takes both sessions of mta-max-sessions ...
    assert wait(lambda: established(SILENT) == 2), dm.logtext()
    # ... and the healthy one gets all its mail all the same,
    healthy.wait_messages(3, timeout=60)
    # while the silent server still holds both connections, never
    # having had more than mta-max-per-domain, and has seen no command.
    assert established(SILENT) == 2
    assert silent.sessions() == []
    stats = dm.ctl("show", "stats").stdout.splitlines()
    assert "mta.sessions.slow=2" in stats, stats
    out = dm.ctl("show", "queue").stdout
    assert "healthy.test" not in out
    for i in range(3):
        assert "x%d@silent.test" % i in out, out


def test_slow_sessions_zero_counts_them_as_before(daemon_factory, peers):
    """mta-max-slow-sessions 0: a slow session keeps its slot, so the
    healthy mail waits while the silent server holds both sessions.  The
    test stops waiting once the mta has logged both sessions slow and
    given the healthy destination's tasks nothing: the healthy server has
    no connection then."""
    silent = peers(SILENT, delays={"CONNECT": 600})
    healthy = peers(HEALTHY)
    dm = sender(daemon_factory, "mta-max-slow-sessions 0\n",
                args=("-d", "-v"))
    assert dm.ctl("pause", "queue").returncode == 0
    for i in range(2):
        send(dm, "x%d@silent.test" % i)
    send(dm, "y@healthy.test")
    assert dm.ctl("resume", "queue").returncode == 0
    assert wait(lambda: established(SILENT) == 2), dm.logtext()
    assert wait(lambda: dm.logtext().count("slow in greeting") >= 2), \
        dm.logtext()
    # both sessions are slow and still hold their slots: nothing for the
    # healthy destination
    assert healthy.accepted() == []
    assert established(HEALTHY) == 0
    assert silent.sessions() == []


def test_max_slow_sessions_config(tmp_path):
    from conftest import POSTERND, run
    conf = tmp_path / "c.conf"
    for value, ok in (("0", True), ("100000", True), ("100001", False),
                      ("-1", False)):
        conf.write_text('spool "%s"\nmta-max-slow-sessions %s\n' %
                        (tmp_path, value))
        r = run([POSTERND, "-n", "-f", str(conf)])
        assert (r.returncode == 0) == ok, (value, r.stdout, r.stderr)
        if not ok:
            assert "mta-max-slow-sessions" in r.stdout + r.stderr

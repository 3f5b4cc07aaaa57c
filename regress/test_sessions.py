"""Many sessions at once (issue 19), on the real daemon.

2,000 clients, each from its own address of 127.0.0.0/8 (so that
smtp-max-per-ip is not what is tested), connect together: every one gets
the banner and an answer to EHLO, and every one is still served (NOOP)
once all are connected.  And the descriptor limit: posternd started with
a hard RLIMIT_NOFILE below what smtp-max-sessions needs either raises it
(root with CAP_SYS_RESOURCE) and serves every session, or lowers
smtp-max-sessions to what fits, says so, and answers the clients past it
with 421 instead of leaving them without a banner.

The bench (bench/sessions.py) measures the same at 10,000 sessions; this
checks the behaviour, with no timing.

Modules covered: smtpd/index.c, smtpd/smtp.c (accept), posternd/parent.c
(parent_nofile, listen queue), posternd/sandbox.c (RLIMIT_NOFILE)
"""
import asyncio
import re
import resource
import stat

import pytest

import conftest

DOMAINS = '''
table domains { "localhost" }
action "local" maildir "%s/mail/%%{user}"
match from any for domain <domains> action "local"
'''
SPARE = 256		# SANDBOX_SMTP_SPARE in posternd/sandbox.h


def source(i):
    return "127.20.%d.%d" % (i // 250, i % 250 + 1)


async def reply(r):
    """The whole last line of one reply ("" at the end of the stream)."""
    while True:
        line = await r.readline()
        if not line:
            return ""
        if line[3:4] != b"-":
            return line.decode(errors="replace").strip()


async def hold(port, n, concurrent=200):
    """n sessions at once, each: banner, EHLO, then held until all are
    connected; then NOOP on each.  Returns (banners, ehlo, noop) lists of
    the replies, one per session, in the order of the sources."""
    gate = asyncio.Semaphore(concurrent)
    streams = [None] * n
    banner, ehlo, noop = [""] * n, [""] * n, [""] * n

    async def one(i):
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source(i), 0)), 120)
                streams[i] = (r, w)
                banner[i] = await asyncio.wait_for(reply(r), 120)
                if banner[i].startswith("220"):
                    w.write(b"EHLO many.test\r\n")
                    ehlo[i] = await asyncio.wait_for(reply(r), 120)
            except (OSError, asyncio.TimeoutError) as e:
                banner[i] = banner[i] or type(e).__name__

    async def check(i):
        if streams[i] is None or not ehlo[i].startswith("250"):
            return
        r, w = streams[i]
        try:
            w.write(b"NOOP\r\n")
            noop[i] = await asyncio.wait_for(reply(r), 120)
        except (OSError, asyncio.TimeoutError) as e:
            noop[i] = type(e).__name__

    await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.gather(*(check(i) for i in range(n)))
    for s in streams:
        if s is not None:
            s[1].close()
    return banner, ehlo, noop


def run_hold(port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        return asyncio.run(hold(port, n))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def many(daemon_factory, tmp_path, sessions):
    dm = daemon_factory()
    with open(dm.conf, "a") as f:
        f.write(DOMAINS % tmp_path +
                "smtp-max-sessions %d\nsmtp-timeout 600\n" % sessions)
    dm.maildir = str(tmp_path / "mail")
    return dm


def test_2000_sessions_all_served(daemon_factory, tmp_path):
    n = 2000
    dm = many(daemon_factory, tmp_path, n + 100).start()
    banner, ehlo, noop = run_hold(dm.port, n)
    bad = [(source(i), banner[i], ehlo[i], noop[i]) for i in range(n)
           if not (banner[i].startswith("220") and ehlo[i].startswith("250")
                   and noop[i].startswith("250"))]
    assert bad == [], "%d of %d sessions not served, e.g. %r" % (
        len(bad), n, bad[:5])
    # smtp held them all at once: one descriptor each
    assert "refused connection" not in dm.logtext()


def test_nofile_hard_limit_raised_or_sessions_lowered(daemon_factory,
                                                      tmp_path, monkeypatch):
    """posternd under a hard RLIMIT_NOFILE of 1024 with smtp-max-sessions
    2000 (which needs 2256): where root may raise a hard limit it does,
    and all 800 clients are served; where it may not (no
    CAP_SYS_RESOURCE: a container), smtp-max-sessions becomes 768 and
    the 32 clients past it get 421 4.7.0, none is left hanging."""
    wrapper = tmp_path / "posternd-1024"
    wrapper.write_text("#!/bin/sh\nexec prlimit --nofile=1024:1024 -- "
                       "%s \"$@\"\n" % conftest.POSTERND)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(conftest, "POSTERND", str(wrapper))
    dm = many(daemon_factory, tmp_path, 2000).start()
    log = dm.logtext()
    raised = re.search(r"RLIMIT_NOFILE hard limit raised from 1024 to "
                       r"(\d+) for smtp-max-sessions 2000", log)
    lowered = re.search(r"RLIMIT_NOFILE hard limit 1024 cannot be raised "
                        r"to (\d+): smtp-max-sessions lowered from 2000 to "
                        r"(\d+)", log)
    assert (raised is None) != (lowered is None), log
    n = 800
    banner, ehlo, noop = run_hold(dm.port, n)
    served = sum(1 for i in range(n) if banner[i].startswith("220") and
                 ehlo[i].startswith("250") and noop[i].startswith("250"))
    busy = sum(1 for b in banner if b.startswith("421 4.7.0"))
    if raised:
        # what smtp needs, or more for the mta's sessions and deliveries
        assert int(raised.group(1)) >= 2000 + SPARE
        assert (served, busy) == (n, 0), set(banner)
    else:
        assert int(lowered.group(1)) == 2000 + SPARE
        assert int(lowered.group(2)) == 1024 - SPARE
        assert (served, busy) == (1024 - SPARE, n - (1024 - SPARE)), \
            sorted(set(banner))
    # smtp's own limit as posternd(8) says: the sessions plus the spare
    with open("/proc/%d/limits" % dm.kids["smtp"]) as f:
        line = [ln for ln in f if ln.startswith("Max open files")][0]
    sessions = 2000 if raised else 1024 - SPARE
    assert int(line.split()[3]) == sessions + SPARE

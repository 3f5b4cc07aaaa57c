"""The kernel's help (issue 18): every child runs under its own seccomp
filter and resource limits; a forbidden system call stops the daemon with
the call named in the log, or with `posternd -d -S log` is logged and
refused while the daemon goes on.

Modules covered: posternd/sandbox.c
"""
import os
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import CHILDREN, POSTERND, Daemon, run

SESSIONS = 100


class PipedDaemon(Daemon):
    """A daemon whose log is a pipe, not a file: RLIMIT_FSIZE 0 is set
    only when stderr is not a regular file (a process that writes no file
    still writes its log lines there)."""

    def start(self, wait=True, args=("-d",), env_extra=None):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        env.update(env_extra or {})
        if any(k.startswith("POSTERN_TEST_") for k in env):
            args = (*args, "-T")
        self.proc = subprocess.Popen([POSTERND, *args, "-f", self.conf],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        out = open(self.logfile, "wb", buffering=0)

        def copy():
            for line in self.proc.stdout:
                out.write(line)
            out.close()
        self.copier = threading.Thread(target=copy, daemon=True)
        self.copier.start()
        self.log = self.proc.stdout
        if wait:
            self.wait_ready()
        return self

    def wait_exit(self, timeout):
        rc = super().wait_exit(timeout)
        if rc is not None:
            self.copier.join(5)
        return rc


@pytest.fixture
def piped(tmp_path):
    made = []

    def make(config_extra=""):
        d = tmp_path / ("d%d" % len(made))
        d.mkdir()
        dm = PipedDaemon(d, config_extra)
        made.append(dm)
        return dm
    yield make
    for dm in made:
        dm.stop()


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def limits(pid):
    """'Max open files' -> (soft, hard) as strings."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            name = line[:26].strip()
            soft, hard = line[26:].split()[:2]
            out[name] = (soft, hard)
    return out


def test_every_child_is_filtered_and_limited(piped):
    dm = piped("smtp-max-sessions %d" % SESSIONS).start()
    assert sorted(dm.kids) == sorted(CHILDREN)
    for name, pid in dm.kids.items():
        # A child is ready (chrooted) a moment before its filter is in.
        deadline = time.time() + 10
        while status(pid)["Seccomp"] != "2" and time.time() < deadline:
            time.sleep(0.05)
        st = status(pid)
        # 2: SECCOMP_MODE_FILTER
        assert st["Seccomp"] == "2", (name, st["Seccomp"])
        assert st["NoNewPrivs"] == "1", name
    # The parent keeps every call: it forks and executes delivery.
    assert status(dm.proc.pid)["Seccomp"] == "0"

    lim = {name: limits(pid) for name, pid in dm.kids.items()}
    # Processes that never fork.
    for name in ("smtp", "queue", "control"):
        assert lim[name]["Max processes"] == ("0", "0"), name
    # Processes that write no file.
    for name in ("smtp", "authd", "control"):
        assert lim[name]["Max file size"] == ("0", "0"), name
    # The stores' writers do write files; libunbound forks.
    for name in ("queue", "mta", "reportd"):
        assert lim[name]["Max file size"][0] == "unlimited", name
    for name in ("mta", "authd", "reportd"):
        assert lim[name]["Max processes"][0] != "0", name
    # smtp: one descriptor per session and 256 more (posternd(8)).
    want = str(SESSIONS + 256)
    assert lim["smtp"]["Max open files"] == (want, want)
    for name, pid in dm.kids.items():
        assert lim[name]["Max core file size"] == ("0", "0"), name

    # And the filtered processes do their work: a session is answered.
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=10) as c:
        assert c.ehlo()[0] == 250
    assert "forbidden system call" not in dm.logtext()


@pytest.mark.parametrize("proc,call,nr", [
    ("smtp", "socket", 41), ("control", "socket", 41),
    ("queue", "socket", 41), ("authd", "execve", 59),
    ("mta", "execve", 59), ("reportd", "execve", 59),
    # allowed, but not for executable memory (nothing is loaded later)
    ("smtp", "mmap", 9)])
def test_a_forbidden_call_stops_the_daemon(piped, proc, call, nr):
    dm = piped()
    dm.start(wait=False, env_extra={
        "POSTERN_TEST_SECCOMP_VIOLATE": "%s:%s" % (proc, call)})
    rc = dm.wait_exit(20)
    log = dm.logtext()
    assert rc not in (None, 0), log
    assert ("%s[" % proc) in log
    assert ("seccomp: forbidden system call %s (%d): stopping" %
            (call, nr)) in log, log
    # The parent saw how it died, and stopped the rest (fail-stop).
    assert ("lost child: %s process" % proc) in log, log
    assert "killed by signal 31" in log, log
    assert "stopped after a failure" in log, log
    # The call never ran: nothing said it returned.
    assert "test: %s returned" % call not in log


def test_log_switch_logs_and_carries_on(piped):
    dm = piped()
    dm.start(args=("-d", "-S", "log"), env_extra={
        "POSTERN_TEST_SECCOMP_VIOLATE": "smtp:socket"})
    deadline = time.time() + 10
    while "test: socket returned" not in dm.logtext() and \
            time.time() < deadline:
        time.sleep(0.05)
    log = dm.logtext()
    assert ("seccomp: forbidden system call socket (41): refused with "
            "ENOSYS (-S log)") in log, log
    assert "test: socket returned: Function not implemented" in log, log
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=10) as c:
        assert c.ehlo()[0] == 250
    assert dm.proc.poll() is None
    assert status(dm.kids["smtp"])["Seccomp"] == "2"


def test_log_switch_only_in_the_foreground(tmp_path):
    conf = tmp_path / "postern.conf"
    conf.write_text('spool "%s"\n' % (tmp_path / "spool"))
    r = run([POSTERND, "-S", "log", "-f", str(conf)])
    assert r.returncode == 1 and "usage" in r.stderr
    r = run([POSTERND, "-d", "-S", "kill", "-f", str(conf)])
    assert r.returncode == 1 and "usage" in r.stderr

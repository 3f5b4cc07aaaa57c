"""The configuration `make run` starts with, as a new user meets it:
swaks to root@localhost on 127.0.0.1:2525 lands in /root/Maildir/new."""
import glob
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import POSTERND, POSTERNCTL, TOP, alive, children_of, run

CONF = os.path.join(TOP, "etc", "postern.conf.default")


@pytest.fixture
def default_daemon(tmp_path):
    subprocess.run([os.path.join(TOP, "scripts", "make-cert"),
                    "/etc/postern/tls/localhost.crt",
                    "/etc/postern/tls/localhost.key"], check=True,
                   stdout=subprocess.DEVNULL)
    log = open(tmp_path / "posternd.log", "w")
    p = subprocess.Popen([POSTERND, "-d", "-f", CONF], stdout=log,
                         stderr=log, env=dict(os.environ,
                                              ASAN_OPTIONS="detect_leaks=0"))
    deadline = time.time() + 10
    while time.time() < deadline:
        r = run([POSTERNCTL, "show", "status"])
        if r.returncode == 0 and \
                len(r.stdout.split("\n\n")[0].splitlines()) == 8:
            break
        assert p.poll() is None, (tmp_path / "posternd.log").read_text()
        time.sleep(0.1)
    kids = children_of(p.pid)
    yield p
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for k in kids:
        if alive(k):
            os.kill(k, signal.SIGKILL)
    log.close()


def test_swaks_to_root_lands_in_root_maildir(default_daemon):
    marker = "postern-test-" + uuid.uuid4().hex
    r = run(["swaks", "--server", "127.0.0.1:2525", "--to",
             "root@localhost", "--header", "Subject: " + marker])
    assert r.returncode == 0, r.stdout + r.stderr
    found = []
    deadline = time.time() + 10
    while not found and time.time() < deadline:
        for f in glob.glob("/root/Maildir/new/*"):
            with open(f, "rb") as fp:
                if marker.encode() in fp.read():
                    found.append(f)
        time.sleep(0.1)
    try:
        assert len(found) == 1
    finally:
        for f in found:
            os.unlink(f)


def test_default_relays_nothing(default_daemon):
    r = run(["swaks", "--server", "127.0.0.1:2525", "--to",
             "someone@example.org", "--quit-after", "RCPT"])
    assert r.returncode != 0
    assert "550 5.7.1" in r.stdout

"""Time and slowness (issue 20): the wall clock jumps, peers that answer a
byte at a time, a delivery worker that stalls.

Durations (timeouts, back-off, worker deadlines) run on the monotonic
clock; the wall clock matters only for the queue's stored schedule.  The
clock tests restart the daemon with its wall clock moved by the test-only
hook POSTERN_TEST_CLOCK_SHIFT (debug runs alone, posternd(8)) over a
queue that the true clock scheduled: that is what a clock set back or
forward while the daemon runs leaves behind, too, because nothing else
reads the wall clock.
"""
import json
import os
import re
import smtplib
import socket
import threading
import time

import pytest

from conftest import alive, next_port
from peers import smtp_peer  # noqa: F401 (a fixture)
from test_deliver import dmx, files, send as send_local, wait_files  # noqa
from test_deliver import NOBODY, workers
from test_load import ptrace_freeze, ptrace_thaw

CONFIG = '''
hostname a.postern.test
queue retry {retry} max {retry}
queue expire {expire}
mta-timeout {mta_timeout}
mta-connect-timeout 2s
table locals {{ "localhost" }}
action "local" maildir "{d}/mail/%{{user}}"
action "out" relay host "smtp://127.0.0.1:{p}"
action "fast" relay host "smtp://127.0.0.1:{fast}"
match from any for domain <locals> action "local"
match from any for domain "remote.test" action "out"
match from any for domain "fast.test" action "fast"
'''

MSG = ("From: root@localhost\r\nTo: {rcpt}\r\nSubject: {tag}\r\n"
       "Message-ID: <{tag}@a.postern.test>\r\n\r\nbody {tag}\r\n")


def make_daemon(daemon_factory, tmp_path, retry="10m", expire="5d",
                mta_timeout="30s"):
    dm = daemon_factory(sub="t")
    dm.relay_port = next_port()
    dm.fast_port = next_port()
    dm.maildir = str(tmp_path / "t" / "mail")
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=tmp_path / "t", p=dm.relay_port,
                              fast=dm.fast_port, retry=retry,
                              expire=expire, mta_timeout=mta_timeout))
    return dm


def send(dm, rcpt, tag):
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.sendmail("root@localhost", [rcpt],
                          MSG.format(rcpt=rcpt, tag=tag)) == {}


def wait_log(dm, text, timeout=30):
    deadline = time.time() + timeout
    while text not in dm.logtext():
        assert time.time() < deadline, "%r not in the log:\n%s" % (
            text, dm.logtext())
        time.sleep(0.1)


def queue_lines(dm):
    return [ln for ln in dm.ctl("show", "queue").stdout.splitlines() if ln]


def wait_queue_empty(dm, timeout=30):
    deadline = time.time() + timeout
    while queue_lines(dm):
        assert time.time() < deadline, "queue not empty:\n%s\n%s" % (
            "\n".join(queue_lines(dm)), dm.logtext())
        time.sleep(0.2)


def deferred_then_restarted(dm, monkeypatch, shift, meanwhile=None):
    """One message to remote.test deferred by the true clock (nobody
    listens on the relay port), then the daemon restarted with its wall
    clock moved by `shift` seconds; meanwhile() runs while it is down."""
    dm.start()
    send(dm, "bob@remote.test", "deferred")
    wait_log(dm, "temporary failure")
    (ln,) = queue_lines(dm)
    assert "bob@remote.test" in ln and " 1 " in ln, ln    # one attempt
    dm.stop()
    os.makedirs(dm.sockdir, 0o755)      # stop() removed it
    if meanwhile is not None:
        meanwhile()
    monkeypatch.setenv("POSTERN_TEST_CLOCK_SHIFT", str(shift))
    dm.start(args=("-d", "-v"))
    wait_log(dm, "queue: test: wall clock shifted by %d seconds" % shift)


def test_clock_set_back_an_hour_retries_now(daemon_factory, tmp_path,
                                            monkeypatch, smtp_peer):
    """Deferred for 10 minutes, then the clock goes back an hour: the
    stored retry lies 70 minutes ahead, further than any retry interval
    could put it, so the queue tries it at once (and says why) instead of
    holding the mail an extra hour.  Delivered once."""
    dm = make_daemon(daemon_factory, tmp_path)
    peers = []
    deferred_then_restarted(dm, monkeypatch, -3600, lambda: peers.append(
        smtp_peer(addr="127.0.0.1", port=dm.relay_port)))
    (peer,) = peers
    got = peer.wait_messages(1, timeout=60)
    assert len(got) == 1
    wait_log(dm, "queue: 1 envelope(s) were scheduled more than the "
             "longest retry interval ahead (the clock was set back, or "
             "queue retry lowered): trying them now")
    wait_queue_empty(dm)
    time.sleep(1)
    assert len(peer.accepted()) == 1
    assert dm.proc.poll() is None


def test_show_queue_age_never_negative(daemon_factory, tmp_path,
                                       monkeypatch):
    """Mail queued by a clock an hour ahead (the clock then set back, as
    posternctl's own clock stands for): show queue gives its age as 0, in
    the listing and in -j, never a negative number."""
    dm = make_daemon(daemon_factory, tmp_path)
    monkeypatch.setenv("POSTERN_TEST_CLOCK_SHIFT", "3600")
    dm.start(args=("-d", "-v"))
    send(dm, "bob@remote.test", "ahead")
    wait_log(dm, "temporary failure")
    (ln,) = queue_lines(dm)
    assert ln.split()[1] == "0s", ln
    (e,) = [json.loads(ln) for ln in
            dm.ctl("show", "queue", "-j").stdout.splitlines()]
    assert e["recipient"] == "bob@remote.test" and e["age"] == 0, e


@pytest.mark.parametrize("days,outcome", [(1, "delivered"), (3, "expired")])
def test_clock_set_forward(daemon_factory, tmp_path, monkeypatch, smtp_peer,
                           days, outcome):
    """Forward: the retry is due at once.  Expiry counts from the stored
    creation time, so a jump ages the mail by the jump: with a 2-day
    lifetime, a day forward still delivers; three days forward, the next
    temporary failure expires it and the sender gets the bounce."""
    dm = make_daemon(daemon_factory, tmp_path, expire="2d")
    peers = []

    def meanwhile():
        if outcome == "delivered":
            peers.append(smtp_peer(addr="127.0.0.1", port=dm.relay_port))
    deferred_then_restarted(dm, monkeypatch, days * 86400, meanwhile)
    if outcome == "delivered":
        (peer,) = peers
        assert len(peer.wait_messages(1, timeout=60)) == 1
        wait_queue_empty(dm)
        assert "expired" not in dm.logtext()
    else:
        wait_log(dm, ": expired: ")
        wait_queue_empty(dm)
        bounces = wait_maildir(dm, "root", 1)
        assert len(bounces) == 1
        body = open(bounces[0], "rb").read()
        assert b"Status: 4.4.7" in body and b"bob@remote.test" in body
    assert "set back" not in dm.logtext()
    assert dm.proc.poll() is None


def wait_maildir(dm, user, want, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = sorted(os.listdir(os.path.join(dm.maildir, user, "new"))) \
            if os.path.isdir(os.path.join(dm.maildir, user, "new")) else []
        if len(got) >= want or time.time() >= deadline:
            return [os.path.join(dm.maildir, user, "new", g) for g in got]
        time.sleep(0.1)


class Dribbler:
    """A server on loopback that accepts connections and sends `text` one
    byte every `pace` seconds, never more; it notes when the client
    closes.  A thread of the test, stopped by stop()."""

    def __init__(self, port, text=b"220 slow.test ESMTP" + b"." * 200,
                 pace=1.0):
        self.text, self.pace = text, pace
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.stopping = threading.Event()
        self.accepted = 0
        self.closed_by_client = 0
        self.sent = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            t = threading.Thread(target=self._dribble, args=(c,),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _dribble(self, c):
        c.settimeout(self.pace)
        try:
            for i in range(len(self.text)):
                if self.stopping.is_set():
                    return
                c.sendall(self.text[i:i + 1])
                self.sent += 1
                try:        # wait one pace, noticing a close
                    if c.recv(4096) == b"":
                        self.closed_by_client += 1
                        return
                except socket.timeout:
                    pass
        except OSError:
            self.closed_by_client += 1
        finally:
            c.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for t in self.threads:
            t.join(10)


def test_slow_destination_bounded_others_unaffected(daemon_factory,
                                                   tmp_path, smtp_peer):
    """A destination that accepts and sends its greeting a byte a second
    holds our connection only until the mta's per-reply deadline
    (mta-timeout, here 12s): bytes that keep coming do not extend it.  The
    mail is deferred (4.4.2 in the queue), and mail to another
    destination is delivered meanwhile, without waiting for it."""
    dm = make_daemon(daemon_factory, tmp_path, mta_timeout="12s")
    fast = smtp_peer(addr="127.0.0.1", port=dm.fast_port)
    slow = Dribbler(dm.relay_port)
    try:
        dm.start()
        send(dm, "bob@remote.test", "slow")
        deadline = time.time() + 30
        while slow.sent < 2:
            assert time.time() < deadline, "never connected to the slow peer"
            time.sleep(0.1)
        send(dm, "carol@fast.test", "fast")
        assert len(fast.wait_messages(1, timeout=30)) == 1
        # the slow destination's first connection was still going on
        assert "timeout waiting for the greeting reply" not in dm.logtext()
        wait_log(dm, "timeout waiting for the greeting reply", timeout=60)
        wait_log(dm, "temporary failure")
        deadline = time.time() + 30
        while slow.closed_by_client < 1:
            assert time.time() < deadline, "the mta kept the connection"
            time.sleep(0.1)
        # dribbled for about 12 s, not the 200 s the greeting would take
        assert slow.sent < len(slow.text)
        (ln,) = queue_lines(dm)
        assert "bob@remote.test" in ln and "timeout waiting for the " \
            "greeting reply" in ln, ln
    finally:
        slow.stop()
    assert len(fast.accepted()) == 1
    assert dm.proc.poll() is None


class SlowReader:
    """A receiving SMTP server on loopback (a thread of the test) that
    takes the message content slowly: `block` bytes every `pace` seconds,
    through a small receive buffer, like a server on a slow link.  No
    ESMTP extensions, so the message goes by DATA.  stop() ends it."""

    def __init__(self, port, block=16384, pace=0.1):
        self.block, self.pace = block, pace
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.messages = []
        self.started = self.ended = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._session(c)
            except OSError:
                pass
            finally:
                c.close()

    def _session(self, c):
        c.settimeout(30)
        c.sendall(b"220 slowreader.test\r\n")
        buf = b""
        while not self.stopping.is_set():
            while b"\r\n" not in buf:
                chunk = c.recv(1024)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO", b"MAIL", b"RCPT", b"RSET",
                        b"NOOP"):
                c.sendall(b"250 ok\r\n")
            elif verb == b"DATA":
                c.sendall(b"354 go on\r\n")
                self.started = time.monotonic()
                body = buf
                while not body.endswith(b"\r\n.\r\n"):
                    time.sleep(self.pace)
                    chunk = c.recv(self.block)
                    if not chunk:
                        return
                    body += chunk
                self.ended = time.monotonic()
                buf = b""
                self.messages.append(body)
                c.sendall(b"250 2.0.0 taken\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"502 no\r\n")

    def stop(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(60)


def test_large_message_to_a_slow_server_is_not_cut_off(daemon_factory,
                                                       tmp_path):
    """The message's time is per block (RFC 5321 4.5.3.2.5), not for the
    whole message, and the reply's starts when the last block has gone,
    not when it went into the kernel's send queue (megabytes on a slow
    link): a server that takes a 3 MB message at a steady pace for longer
    than mta-timeout (2s here) gets all of it, once."""
    dm = make_daemon(daemon_factory, tmp_path, mta_timeout="2s")
    with open(dm.conf, "a") as f:
        f.write("max-message-size 10M\n")
    srv = SlowReader(dm.relay_port, block=65536, pace=0.1)
    try:
        dm.start()
        line = b"x" * 98 + b"\r\n"
        body = (MSG.format(rcpt="bob@remote.test", tag="large")
                .encode() + line * (3 * 1024 * 1024 // len(line)))
        with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
            c.ehlo("client.test")
            assert c.sendmail("root@localhost", ["bob@remote.test"],
                              body) == {}
        deadline = time.time() + 120
        while not srv.messages:
            assert time.time() < deadline, dm.logtext()
            assert "timeout waiting" not in dm.logtext(), dm.logtext()
            time.sleep(0.2)
        wait_queue_empty(dm)
    finally:
        srv.stop()
    assert len(srv.messages) == 1
    assert srv.messages[0].endswith(b"x" * 98 + b"\r\n.\r\n")
    assert len(srv.messages[0]) > len(body)
    # it did take longer than one mta-timeout to send
    assert srv.ended - srv.started > 2
    assert "timeout waiting" not in dm.logtext()
    assert dm.proc.poll() is None


def reply(f):
    """One whole SMTP reply (all its lines) from file f."""
    out = b""
    while True:
        line = f.readline()
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out


@pytest.mark.parametrize("phase", ["command", "message"])
def test_smtp_client_sending_a_byte_at_a_time_is_closed(daemon_factory,
                                                        tmp_path, phase):
    """A client that sends its command (or its message) a byte a second
    never completes a line (or 64 KB of message) within smtp-timeout (4s
    here): it gets 421 4.4.2 and the session ends, although a byte
    arrives more often than the timeout.  Complete commands, each within
    the timeout, keep a session going; nothing half-sent is queued."""
    dm = make_daemon(daemon_factory, tmp_path)
    with open(dm.conf, "a") as f:
        f.write("smtp-timeout 4s\n")
    dm.start()
    s = socket.create_connection(("127.0.0.1", dm.port), timeout=30)
    try:
        f = s.makefile("rb")
        assert reply(f).startswith(b"220 ")
        # complete commands a second apart: none is late
        for i in range(3):
            s.sendall(b"NOOP\r\n")
            assert reply(f).startswith(b"250 ")
            time.sleep(1)
        if phase == "command":
            dribble = b"EHLO " + b"x" * 500
        else:
            for cmd, code in ((b"EHLO client.test", b"250"),
                              (b"MAIL FROM:<a@client.test>", b"250"),
                              (b"RCPT TO:<root@localhost>", b"250"),
                              (b"DATA", b"354")):
                s.sendall(cmd + b"\r\n")
                assert reply(f).startswith(code)
            dribble = b"Subject: slow\r\n\r\n" + b"x" * 500
        got = b""
        deadline = time.time() + 60
        for i in range(len(dribble)):
            assert time.time() < deadline, "the session lasts: %r" % got
            try:
                s.sendall(dribble[i:i + 1])
            except OSError:
                break
            s.settimeout(1)
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            got += chunk
            if chunk == b"" or b"421" in got:
                break
        s.settimeout(10)
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        assert got.startswith(b"421 4.4.2 "), got
    finally:
        s.close()
    assert re.search(r"smtp: session \d+ from 127\.0\.0\.1: timeout",
                     dm.logtext())
    assert queue_lines(dm) == []
    assert dm.proc.poll() is None


def nobody_workers(dm):
    out = []
    for pid in workers(dm):
        try:
            with open("/proc/%d/status" % pid) as f:
                uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M)
                          .group(1))
        except (OSError, AttributeError):
            continue
        if uid == NOBODY:
            out.append(pid)
    return out


def subjects(dm, rcpt):
    return sorted(re.search(rb"Subject: (.*)\r\n", open(f, "rb").read())
                  .group(1) for f in files(dm, rcpt))


def test_stalled_mailbox_workers_are_bounded(dmx, monkeypatch):
    """A delivery worker stuck in its mailbox's file system holds its
    delivery only until the per-job deadline (2s here): the parent kills
    it and the envelope comes back as a temporary failure, delivered by a
    new worker, while another user's mail goes on.  A worker that SIGKILL
    does not remove (a disk that stopped answering leaves fsync
    unkillable; here, a ptrace-held process whose death only we, its
    tracer, may collect) is logged as stuck; once its user has four, the
    user's mail fails fast ("stalled") instead of making more stuck
    processes, and other users still get theirs.  When the stuck ones are
    gone, the user's mail flows again, every message exactly once."""
    monkeypatch.setenv("POSTERN_TEST_DELIVER_TIMEOUT", "2")
    dm = dmx.start(args=("-d", "-v"))
    held = {}
    try:
        send_local(dm, "n@v.test", 1, "r0")
        assert len(wait_files(dm, "n@v.test", 1)) == 1
        for i in range(1, 5):
            # the worker that delivered the last one, idle for 5 s
            (w,) = nobody_workers(dm)
            held[w] = ptrace_freeze(w)
            send_local(dm, "n@v.test", 1, "r%d" % i)    # to the held one
            if i == 1:
                send_local(dm, "r@v.test", 1, "others")
                assert len(wait_files(dm, "r@v.test", 1)) == 1
                assert len(files(dm, "n@v.test")) == 1
            wait_log(dm, "delivery worker %d for nobody: delivery timed "
                     "out: no result in 2 seconds; killing it" % w)
            # retried by a new worker
            assert len(wait_files(dm, "n@v.test", i + 1, timeout=30)) \
                == i + 1
        for w in held:
            wait_log(dm, "delivery worker %d for nobody is still there 5 "
                     "seconds after it was killed: stuck in the kernel" % w)
        # the last new worker is let go after its idle time
        live = nobody_workers(dm)
        deadline = time.time() + 30
        while any(alive(p) for p in live):
            assert time.time() < deadline, live
            time.sleep(0.2)
        before = dm.logtext().count("for nobody started")
        send_local(dm, "n@v.test", 1, "blocked")
        wait_log(dm, "temporary failure: delivery to nobody is stalled")
        send_local(dm, "r@v.test", 1, "still")
        assert len(wait_files(dm, "r@v.test", 2)) == 2
        assert dm.logtext().count("for nobody started") == before
        assert len(files(dm, "n@v.test")) == 5
    finally:
        for w, libc in held.items():
            if alive(w):
                ptrace_thaw(libc, w)
            else:       # dead: its tracer collects it, then the parent
                try:
                    os.waitpid(w, 0x40000000)
                except ChildProcessError:
                    pass
    # gone: the retry of "blocked" finds room again
    assert len(wait_files(dm, "n@v.test", 6, timeout=30)) == 6
    time.sleep(1.5)
    assert subjects(dm, "n@v.test") == [b"blocked 0", b"r0 0", b"r1 0",
                                         b"r2 0", b"r3 0", b"r4 0"]
    assert subjects(dm, "r@v.test") == [b"others 0", b"still 0"]
    assert dm.ctl("show", "queue").stdout == ""
    assert dm.proc.poll() is None

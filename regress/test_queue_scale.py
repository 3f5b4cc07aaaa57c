"""A large queue on the real daemon (issue 19, "A million envelopes"), at
the size a test affords: 20,000 envelopes (1,000 messages of 20
recipients over 5 domains), held.

show queue streams: the queue walks the store a batch at a time and goes
on only when control says its client took the last batch, so a client
that reads the first entry and then stops holds up the walk, not the
memory of control and the queue (their anonymous RSS stays small while
20,000 entries of 3 KB each, 66 MB, wait to be listed).  A client that
leaves in mid-listing ends the walk; the next listing and show stats work.
hold and release of all 20,000 run in bounded transactions.

Figures (first-entry latency, RSS) are printed, not asserted: timing
thresholds are for the bench (bench/million.py, BENCH_ONLY=million
scripts/bench), not make check.

Modules covered: queue/store_admin.c, queue/queue.c, posternd/control.c
"""
import socket
import struct
import subprocess
import threading
import time


from conftest import POSTERNCTL, imsg_frame, imsg_types, proto_version

NMSG = 1000
NRCPT = 20
DOMAINS = 5
ENTRY = "IMSG_CTL_QUEUE_ENTRY"

CONF = '''
table far { %s }
action "out" relay host "smtp://127.0.0.1:9"
match from any for domain <far> action "out"
''' % ", ".join('"d%d.test"' % i for i in range(DOMAINS))


def fill(port, nmsg, nrcpt, conns=8):
    """nmsg messages of nrcpt recipients each, pipelined over `conns`
    sessions; the count of messages accepted."""
    done = []

    def one(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rb")

        def reply():
            while True:
                ln = f.readline()
                if not ln:
                    raise AssertionError("connection closed")
                if ln[3:4] == b" ":
                    return ln

        reply()
        s.sendall(b"EHLO scale.test\r\n")
        assert reply().startswith(b"250")
        ok = 0
        for m in range(n):
            cmds = [b"MAIL FROM:<sender@scale.test>"]
            cmds += [b"RCPT TO:<u%d.%d@d%d.test>" % (m, r, r % DOMAINS)
                     for r in range(nrcpt)]
            cmds.append(b"DATA")
            s.sendall(b"\r\n".join(cmds) + b"\r\n")
            replies = [reply() for _ in cmds]
            assert all(r.startswith(b"250") for r in replies[:-1]), replies
            assert replies[-1].startswith(b"354"), replies[-1]
            s.sendall(b"Subject: scale %d\r\n\r\nbody\r\n.\r\n" % m)
            if reply().startswith(b"250"):
                ok += 1
        s.sendall(b"QUIT\r\n")
        s.close()
        done.append(ok)

    threads = [threading.Thread(target=one, args=(
        nmsg // conns + (1 if i < nmsg % conns else 0),))
        for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def rss_anon_kb(pid):
    """Private memory: LMDB's map pages are the file's, and shared."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("RssAnon:"):
                return int(ln.split()[1])
    return 0


class Lister:
    """A hand-made show queue client that reads as slowly as it likes."""

    def __init__(self, dm):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(dm.sock)
        self.buf = b""
        self.types = {v: k for k, v in imsg_types().items()}
        self.s.sendall(imsg_frame("IMSG_CTL_SESSION_HELLO",
                                  struct.pack("=I", proto_version())))
        assert self.frame() == "IMSG_CTL_REPLY_OK"
        self.s.sendall(imsg_frame("IMSG_CTL_QUEUE_LIST"))

    def frame(self):
        while True:
            if len(self.buf) >= 20:
                t, ln = struct.unpack("=II", self.buf[:8])
                if len(self.buf) >= ln:
                    self.buf = self.buf[ln:]
                    return self.types.get(t, t)
            chunk = self.s.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk

    def close(self):
        self.s.close()


def queue_daemon(daemon_factory):
    dm = daemon_factory(CONF).start()
    assert dm.ctl("pause", "queue").returncode == 0
    t0 = time.time()
    assert fill(dm.port, NMSG, NRCPT) == NMSG
    print("filled %d envelopes in %.1f s" % (NMSG * NRCPT, time.time() - t0))
    r = dm.ctl("hold", "all")
    assert r.stdout.strip() == "%d envelope(s) held" % (NMSG * NRCPT), \
        r.stdout + r.stderr
    return dm


def stat(dm, name):
    r = dm.ctl("show", "stats")
    for ln in r.stdout.splitlines():
        if ln.startswith(name + "="):
            return int(ln.split("=", 1)[1])
    raise AssertionError("no %s in show stats:\n%s" % (name, r.stdout))


def test_show_queue_streams(daemon_factory):
    dm = queue_daemon(daemon_factory)
    ctl, queue = dm.kids["control"], dm.kids["queue"]
    base = {p: rss_anon_kb(p) for p in (ctl, queue)}

    # A reader that takes the first entry, then stops.
    t0 = time.time()
    ls = Lister(dm)
    assert ls.frame() == ENTRY
    first = time.time() - t0
    time.sleep(1.5)
    held = {p: rss_anon_kb(p) - base[p] for p in (ctl, queue)}
    print("first entry after %.3f s; anonymous RSS grown, control %d KB, "
          "queue %d KB, while the reader waits" % (first, held[ctl],
                                                    held[queue]))
    # Unbuffered, the 66 MB of the listing would sit in control (or the
    # queue): a batch is 128 entries, 425 KB.
    assert held[ctl] < 8 * 1024, held
    assert held[queue] < 8 * 1024, held
    # The queue serves other requests meanwhile: show stats is instant.
    t1 = time.time()
    assert stat(dm, "queue.envelopes") == NMSG * NRCPT
    print("show stats during the listing: %.3f s" % (time.time() - t1))

    # The reader goes on: every entry, once, then the end.
    n = 1
    while True:
        t = ls.frame()
        if t != ENTRY:
            break
        n += 1
    assert t == "IMSG_CTL_REPLY_END"
    assert n == NMSG * NRCPT
    ls.close()

    # posternctl itself lists them all, one line each, all held.
    r = subprocess.run([POSTERNCTL, "-s", dm.sock, "show", "queue"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == NMSG * NRCPT
    assert all(" held " in ln for ln in lines[:100])


def test_show_queue_client_leaves(daemon_factory):
    dm = queue_daemon(daemon_factory)
    # Leaves after a few entries, more times than the queue keeps
    # listings at once (QUEUE_LIST_MAX, 64): each walk ends with its
    # client, or the next listings would be refused.
    for _ in range(70):
        ls = Lister(dm)
        for _ in range(3):
            assert ls.frame() == ENTRY
        ls.close()
    time.sleep(0.5)
    assert stat(dm, "queue.envelopes") == NMSG * NRCPT
    r = dm.ctl("show", "queue", "-j")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == NMSG * NRCPT
    # Nobody stopped: the daemon and all its children are there.
    assert dm.proc.poll() is None
    assert set(dm.children()) == set(dm.kids)
    # and release of them all reaches every one (bounded transactions)
    r = dm.ctl("release", "all")
    assert r.stdout.strip() == "%d envelope(s) released" % (NMSG * NRCPT)
    assert stat(dm, "queue.scheduled") == NMSG * NRCPT

"""A small SMTP load generator for the integration tests.

Each session is one thread with a raw socket: it says EHLO once, then sends
its messages one transaction after another, pipelining MAIL, RCPT and DATA
(RFC 2920) and waiting for 354 before the content.  Every message is
distinct (a unique Message-ID and body marker), so the maildir can be
matched against what the client sent.  The client records each message
whose 250 reply it saw, with the queue id from that reply.
"""
import glob
import os
import socket
import threading
import time

RCPT = "root@localhost"
SENDER = "load@sender.test"


def make_message(tag, size=2048):
    """A distinct message of about `size` octets, with a dot line."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: load %s\r\n"
            "Message-ID: <%s@load.test>\r\n\r\n" % (SENDER, RCPT, tag, tag))
    body = ["marker %s" % tag, ".leading dot %s" % tag, "..two dots"]
    line = "abcdefghijklmnopqrstuvwxyz0123456789 " * 2
    n = len(head)
    while n < size:
        body.append("%s %s" % (tag, line))
        n += len(body[-1]) + 2
    return (head + "\r\n".join(body) + "\r\n").encode()


def dot_stuff(msg):
    """RFC 5321 4.5.2: double a leading dot; end with CRLF.CRLF."""
    lines = msg.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    out = [b"." + l if l.startswith(b".") else l for l in lines]
    return b"\r\n".join(out) + b"\r\n.\r\n"


class Reader:
    """Replies from a socket, one complete (possibly multiline) at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def reply(self):
        lines = []
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed after %r" % lines)
                self.buf += chunk
                continue
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), lines


class Session(threading.Thread):
    """One SMTP session sending messages until count or stop."""

    def __init__(self, port, sid, count=None, stop=None, size=2048,
                 acked=None, lock=None, timeout=60):
        super().__init__(daemon=True)
        self.port = port
        self.sid = sid
        self.count = count
        self.stop_ev = stop
        self.size = size
        self.acked = acked if acked is not None else {}
        self.lock = lock or threading.Lock()
        self.sent = {}          # tag -> message bytes (every one tried)
        self.errors = []
        self.timeout = timeout

    def run(self):
        try:
            self.session()
        except Exception as e:          # recorded, asserted by the test
            self.errors.append(repr(e))

    def session(self):
        s = socket.create_connection(("127.0.0.1", self.port),
                                     timeout=self.timeout)
        try:
            r = Reader(s)
            code, lines = r.reply()
            if code != 220:
                raise AssertionError("greeting %r" % lines)
            s.sendall(b"EHLO load.test\r\n")
            code, lines = r.reply()
            if code != 250:
                raise AssertionError("EHLO %r" % lines)
            i = 0
            while True:
                if self.count is not None and i >= self.count:
                    break
                if self.stop_ev is not None and self.stop_ev.is_set():
                    break
                tag = "s%02dm%05d" % (self.sid, i)
                msg = make_message(tag, self.size)
                self.sent[tag] = msg
                s.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
                          (SENDER.encode(), RCPT.encode()))
                for want in (250, 250, 354):
                    code, lines = r.reply()
                    if code != want:
                        raise AssertionError("%s: %r" % (tag, lines))
                s.sendall(dot_stuff(msg))
                code, lines = r.reply()
                if code != 250:
                    raise AssertionError("%s: %r" % (tag, lines))
                qid = lines[-1].split()[2].decode()
                with self.lock:
                    self.acked[tag] = qid
                i += 1
            s.sendall(b"QUIT\r\n")
            r.reply()
        finally:
            s.close()


def run_sessions(port, nsessions, count=None, stop=None, size=2048):
    """Start the sessions; return them and the shared acked dict."""
    acked = {}
    lock = threading.Lock()
    sessions = [Session(port, i, count=count, stop=stop, size=size,
                        acked=acked, lock=lock) for i in range(nsessions)]
    for t in sessions:
        t.start()
    return sessions, acked


def maildir_files(maildir, user="root"):
    return glob.glob(os.path.join(maildir, user, "new", "*"))


def wait_count(maildir, want, timeout, user="root"):
    """Wait until `want` files are in new/ (or the time is up)."""
    deadline = time.time() + timeout
    n = len(maildir_files(maildir, user))
    while n < want and time.time() < deadline:
        time.sleep(0.1)
        n = len(maildir_files(maildir, user))
    return n


def strip_trace(raw):
    """The message as the client sent it, without our trace fields."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    keep = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if skipping:
                continue
        else:
            skipping = line.split(b":")[0].lower() in (
                b"return-path", b"delivered-to", b"received",
                b"authentication-results")
            if skipping:
                continue
        keep.append(line)
    return b"\r\n".join(keep) + b"\r\n\r\n" + rest


def read_delivered(maildir, user="root"):
    """tag -> list of (raw message, file name) found in new/."""
    out = {}
    for f in maildir_files(maildir, user):
        with open(f, "rb") as fp:
            raw = fp.read()
        i = raw.find(b"Message-ID: <")
        tag = None
        if i >= 0:
            tag = raw[i + 13:raw.index(b"@", i)].decode()
        out.setdefault(tag, []).append((raw, f))
    return out

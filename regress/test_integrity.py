"""A 250 is a promise (issue 14): every message the daemon accepts is
stored byte for byte as the client sent it, apart from the trace and
Authentication-Results fields we put in front; a message it cannot store
whole is refused before the 250, with nothing stored.  Never truncated.

The shapes that broke or could break it: header fields longer than one
imsg payload (64 KB), longer than the stripper's hold buffer, a message at
the size limit made of one folded field, thousands of fields, and 998-octet
lines (the longest RFC 5321 4.5.3.1.6 allows) straddling the boundaries
where the message is cut on its way: the engine's 16 KB chunks, the 32 KB
pieces smtpd sends to queue and authd, the queue store's 64 KB chunks.
Each goes by DATA and by BDAT with chunks that cut inside a CRLF.
"""
import glob
import os
import socket
import time

import pytest

SMTP_CHUNK = 16 * 1024          # smtpd/engine.h SMTP_CHUNK_MAX
IMSG_PIECE = 32 * 1024          # smtpd/smtp.h SMTP_IMSG_CHUNK
STORE_CHUNK = 64 * 1024         # queue/store.c body chunks
MAX_SIZE = 30 * 1024 * 1024     # the limit the daemon is given here

CONFIG = '''
hostname mx.example.test
max-message-size {max_size}
table domains {{ "localhost" }}
action "local" maildir "{maildir}/%{{user}}"
match from any for domain <domains> action "local"
'''

OURS = (b"return-path", b"delivered-to", b"received",
        b"authentication-results")


@pytest.fixture
def mx(daemon_factory, tmp_path):
    dm = daemon_factory(sub="integrity")
    dm.maildir = str(tmp_path / "mail")
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(max_size=MAX_SIZE, maildir=dm.maildir))
    return dm.start()


def strip_ours(raw):
    """The stored message without the fields we put in front of it (and
    only those: the same names further down are the client's)."""
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        assert end != -1, "no end of header"
        name = raw[pos:end].split(b":", 1)[0].lower()
        if name not in OURS:
            return raw[pos:]
        pos = end + 2
        while raw[pos:pos + 1] in (b" ", b"\t"):
            pos = raw.index(b"\r\n", pos) + 2


def stored(dm, want, timeout=30):
    deadline = time.time() + timeout
    while True:
        files = sorted(glob.glob(os.path.join(dm.maildir, "root", "new",
                                              "*")))
        if len(files) >= want or time.time() >= deadline:
            break
        time.sleep(0.05)
    out = []
    for f in files:
        with open(f, "rb") as fp:
            out.append(fp.read())
    return out


class Client:
    """A plain SMTP client that leaves the bytes alone."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        assert self.reply()[0] == 220
        code, text = self.cmd(b"EHLO client.test")
        assert code == 250 and b"CHUNKING" in text

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                data = self.s.recv(65536)
                if not data:
                    raise ConnectionError("closed: %r" % lines)
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(l[4:] for l in lines)

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def envelope(self):
        assert self.cmd(b"MAIL FROM:<a@sender.test>")[0] == 250
        assert self.cmd(b"RCPT TO:<root@localhost>")[0] == 250

    def data(self, msg):
        self.envelope()
        assert self.cmd(b"DATA")[0] == 354
        # RFC 5321 4.5.2: a line that begins with a dot gets another
        stuffed = msg.replace(b"\r\n.", b"\r\n..")
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        self.s.sendall(stuffed + b".\r\n")
        return self.reply()

    def bdat(self, msg, cuts, empty_last=False):
        """msg in BDAT chunks ending at the offsets in cuts (and then an
        empty last chunk, RFC 3030 2)."""
        self.envelope()
        bounds = [0] + sorted(c for c in set(cuts) if 0 < c < len(msg))
        bounds.append(len(msg))
        if empty_last:
            bounds.append(len(msg))
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            last = b" LAST" if i == len(bounds) - 2 else b""
            self.s.sendall(b"BDAT %d%s\r\n" % (b - a, last) + msg[a:b])
            code, text = self.reply()
            if code != 250 or last:
                return code, text
        raise AssertionError("not reached")

    def close(self):
        try:
            self.cmd(b"QUIT")
        except OSError:
            pass
        self.s.close()


def inside_crlf(msg, every=1):
    """Cut offsets between the CR and the LF of every `every`-th line."""
    cuts = []
    i = msg.find(b"\r\n")
    n = 0
    while i != -1:
        if n % every == 0:
            cuts.append(i + 1)
        n += 1
        i = msg.find(b"\r\n", i + 2)
    return cuts


def folded_field(size, name=b"X-Long"):
    """One header field of exactly size octets (its CRLF included),
    folded into lines of at most 78 octets."""
    out = [name + b": start"]
    have = len(out[0]) + 2
    n = 0
    while have < size:
        room = size - have
        piece = b"\tpart-%07d " % n
        line = piece + b"y" * max(0, 76 - len(piece))
        if room < len(line) + 2 + len(b"\tz") + 2:
            # the last fold takes what is left
            line = b"\t" + b"z" * (room - 3)
        out.append(line)
        have += len(line) + 2
        n += 1
    field = b"\r\n".join(out) + b"\r\n"
    assert len(field) == size, (len(field), size)
    return field


def message(header=b"", body=b"body\r\n"):
    return (b"From: a@sender.test\r\nTo: root@localhost\r\n" + header +
            b"Subject: integrity\r\n\r\n" + body)


def send_both_ways(mx, msg, every=1, want=None, empty_last=False):
    """msg by DATA, then by BDAT cut inside CRLFs: both stored exact."""
    if want is None:
        want = msg
    c = Client(mx.port)
    try:
        code, text = c.data(msg)
        assert code == 250, text
        code, text = c.bdat(msg, inside_crlf(msg, every), empty_last)
        assert code == 250, text
    finally:
        c.close()
    got = stored(mx, 2)
    assert len(got) == 2
    for raw in got:
        body = strip_ours(raw)
        assert len(body) == len(want)
        assert body == want


@pytest.mark.parametrize("kb", [63, 64, 65, 70, 1024])
def test_long_folded_field_stored_byte_exact(mx, kb):
    # around the imsg payload limit and the stripper's hold buffer, both
    # 64 KB; and far over both
    for size in (kb * 1024 - 1, kb * 1024, kb * 1024 + 1):
        msg = message(header=folded_field(size))
        send_both_ways(mx, msg, every=97)
        for f in glob.glob(os.path.join(mx.maildir, "root", "new", "*")):
            os.unlink(f)
    assert mx.proc.poll() is None


def test_long_authentication_results_field_of_others(mx):
    # A-R fields of another authserv-id are kept up to the stripper's
    # 64 KB; a longer one is dropped whole (smtpd/arstrip.c: RFC 8601 5
    # lets a border MTA remove any A-R field, and a forger must not get
    # ours through by padding it), and nothing else with it.
    def ar(size):
        field = folded_field(size, name=b"Authentication-Results")
        return field.replace(b"start", b"other.example; spf=pass", 1)
    msg = message(header=ar(60 * 1024))
    send_both_ways(mx, msg, every=53)
    for f in glob.glob(os.path.join(mx.maildir, "root", "new", "*")):
        os.unlink(f)
    msg = message(header=ar(70 * 1024))
    send_both_ways(mx, msg, every=53, want=message())


def test_5000_header_fields_stored_byte_exact(mx):
    header = b"".join(b"X-Field-%04d: value %d\r\n" % (i, i)
                      for i in range(5000))
    msg = message(header=header)
    send_both_ways(mx, msg, every=7, empty_last=True)


def line998(tag):
    body = tag + b"-" * (998 - len(tag))
    assert len(body) == 998
    return body + b"\r\n"


def straddle_body(start, targets):
    """A body (which begins at offset `start` of the message) in which,
    for each (offset, delta) of targets, a 998-octet line has its CR at
    offset + delta: the line ends just before, on, or across the cut."""
    out = b""
    pos = start
    for n, (offset, delta) in enumerate(targets):
        cr = offset + delta
        begin = cr - 998
        gap = begin - pos
        assert gap >= 2 or gap == 0, (offset, delta, gap)
        while gap > 2000:
            out += line998(b"fill")
            gap -= 1000
        if gap > 1000:              # two shorter lines instead of one
            out += b"a" * (gap // 2 - 2) + b"\r\n"
            gap -= gap // 2
        if gap > 0:
            out += b"f" * (gap - 2) + b"\r\n"
        # a leading dot: 999 octets on the wire in DATA, which the limit
        # does not count (RFC 5321 4.5.3.1.6)
        out += line998(b".L%d@%d%+d" % (n, offset, delta))
        pos = begin + 1000
    return out + b"end\r\n"


def boundary_message(boundaries, delta):
    head = message(body=b"")
    targets = [(b, delta) for b in boundaries]
    body = straddle_body(len(head), targets)
    return head + body, len(targets)


# Where the 998-octet line's CR falls against a cut: the line ends well
# before it (-999) or just before it (-2), the cut is between CR and LF
# (-1), right after the LF (0), the line begins just before the cut (1)
# or exactly on it (998).
@pytest.mark.parametrize("delta", [-999, -2, -1, 0, 1, 998])
def test_998_octet_lines_across_chunk_boundaries(mx, delta):
    # Every boundary of the engine (16 KB), of the pieces to queue and
    # authd (32 KB) and of the store (64 KB, though those fall after our
    # trace fields, whose length varies: the runs of 998-octet lines
    # between the targets straddle them wherever they fall).
    bounds = [k * SMTP_CHUNK for k in range(1, 21)]
    msg, n = boundary_message(bounds, delta)
    assert len(msg) > 4 * STORE_CHUNK
    lines = msg.split(b"\r\n")
    assert max(len(l) for l in lines) == 998
    for b in bounds:
        line = msg[b + delta - 998:b + delta + 2]
        assert line.startswith(b".L") and line.endswith(b"-\r\n")
    send_both_ways(mx, msg, every=3)


def test_998_octet_header_lines_across_piece_boundaries(mx):
    # A header field held whole by the stripper goes to the queue in
    # 32 KB pieces: folded lines of 998 octets across those cuts.
    head = b"From: a@sender.test\r\nTo: root@localhost\r\nX-Wide: w\r\n"
    lines = []
    pos = len(head)
    n = 0
    while pos < 200 * 1024:
        fold = b"\t%06d" % n
        fold += b"w" * (998 - len(fold))
        lines.append(fold + b"\r\n")
        pos += 1000
        n += 1
        # shift the next line by one octet so the cuts move around
        if n % 7 == 0:
            lines.append(b"\tq\r\n")
            pos += 4
    msg = head + b"".join(lines) + b"Subject: wide\r\n\r\nbody\r\n"
    send_both_ways(mx, msg, every=5)


def test_line_of_999_octets_refused_nothing_stored(mx):
    # the counterpart: one octet more is refused, and nothing is kept
    msg = message(body=b"x" * 999 + b"\r\n")
    c = Client(mx.port)
    try:
        code, text = c.data(msg)
        assert code == 554 and text.startswith(b"5.6.0"), text
        code, text = c.bdat(msg, inside_crlf(msg))
        assert code == 554 and text.startswith(b"5.6.0"), text
    finally:
        c.close()
    assert stored(mx, 1, timeout=2) == []


def test_message_at_the_size_limit_one_folded_field(mx):
    # A message of exactly max-message-size octets, nearly all of it one
    # folded header field, by DATA and by BDAT cut inside CRLFs.  One
    # octet more is refused with nothing stored.
    head = message(header=b"", body=b"end\r\n")
    msg = message(header=folded_field(MAX_SIZE - len(head)),
                  body=b"end\r\n")
    assert len(msg) == MAX_SIZE
    c = Client(mx.port)
    try:
        code, text = c.data(msg)
        assert code == 250, text
        code, text = c.bdat(msg, inside_crlf(msg, every=4099))
        assert code == 250, text
        over = msg[:-2] + b"x\r\n"
        code, text = c.bdat(over, inside_crlf(over, every=4099))
        assert code == 552 and text.startswith(b"5.3.4"), text
    finally:
        c.close()
    got = stored(mx, 2, timeout=60)
    time.sleep(0.5)
    got = stored(mx, 2, timeout=0)
    assert len(got) == 2
    for raw in got:
        assert strip_ours(raw) == msg
    assert mx.proc.poll() is None

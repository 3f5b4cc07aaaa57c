"""lmtp delivery (issue 17): `action NAME lmtp DEST` hands mail to a real
LMTP server (aiosmtpd's LMTP, RFC 2033) on a unix socket or on
127.0.0.1:port.  The delivery worker runs as the action's user and keeps
its connection; the recipients of one message go in one transaction, each
with its own outcome: delivered, deferred (4xx, retried) or bounced (5xx,
with the server's reply as an smtp Diagnostic-Code).  A server that stalls
after DATA makes a temporary failure within the worker's deadline.

Modules covered: lib/lmtp.c, posternd/lmtp_deliver.c,
posternd/deliver.c (lmtp workers)."""
import asyncio
import email
import email.policy
import os
import pwd
import re
import shutil
import smtplib
import tempfile
import threading
import time

import pytest

from conftest import check_action_line, next_port
from test_deliver import wait_log

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller, UnixSocketController  # noqa
from aiosmtpd.lmtp import LMTP  # noqa

NOBODY = pwd.getpwnam("nobody")


class Handler:
    """What the server did, and how it answers: local parts starting
    with "refuse" are refused at RCPT, "full" after the message (5xx),
    "later" after the message once (4xx), then taken."""

    def __init__(self, pipelining=True):
        self.pipelining = pipelining
        self.lhlo = 0
        self.rset = 0
        self.txs = []
        self.deferred = set()
        self.stall = False

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        self.lhlo += 1
        session.host_name = hostname    # the hook's job, with a hook
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RSET(self, server, session, envelope):
        self.rset += 1
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.txs.append((envelope.mail_from, list(envelope.rcpt_tos),
                         envelope.original_content))
        while self.stall:
            await asyncio.sleep(0.1)
        # RFC 2033 4.2: one reply per recipient, in RCPT order
        out = []
        for r in envelope.rcpt_tos:
            if r.startswith("full"):
                out.append("552 5.2.2 <%s>: mailbox full" % r)
            elif r.startswith("later") and r not in self.deferred:
                self.deferred.add(r)
                out.append("452 4.2.1 <%s>: try again later" % r)
            else:
                out.append("250 2.0.0 <%s> delivered" % r)
        return "\r\n".join(out)

    def delivered(self):
        return [(f, r, c) for f, r, c in self.txs]


class LMTPController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


class LMTPUnixController(UnixSocketController):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


def lmtp_daemon(daemon_factory, tmp_path, dest, extra=""):
    dm = daemon_factory(sub="lmtp")
    dm.maildir = str(tmp_path / "mail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
queue retry 1s max 1s
table domains {{ "localhost" }}
action "local" maildir "{m}/%{{user}}"
action "lm" lmtp "{dest}" {extra}
match from any for domain "l.test" action "lm"
match from any for domain <domains> action "local"
'''.format(m=dm.maildir, dest=dest, extra=extra))
    return dm


@pytest.fixture
def unix_lmtp(daemon_factory, tmp_path):
    """aiosmtpd's LMTP on a unix socket that any user may reach, and a
    postern whose action passes the whole address as user nobody."""
    base = tempfile.mkdtemp(prefix="postern-lmtp-")
    os.chmod(base, 0o755)
    sock = os.path.join(base, "lmtp")
    h = Handler()
    c = LMTPUnixController(h, unix_socket=sock)
    c.start()
    os.chmod(sock, 0o666)
    dm = lmtp_daemon(daemon_factory, tmp_path, sock, "rcpt-to user nobody")
    dm.lmtp = h
    yield dm
    dm.stop()
    c.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def tcp_lmtp(daemon_factory, tmp_path):
    """aiosmtpd's LMTP on 127.0.0.1:port without PIPELINING; the action
    passes the user name, not the address."""
    h = Handler(pipelining=False)
    port = next_port()
    c = LMTPController(h, hostname="127.0.0.1", port=port)
    c.start()
    dm = lmtp_daemon(daemon_factory, tmp_path, "127.0.0.1:%d" % port,
                     "user nobody")
    dm.lmtp = h
    dm.lmtp_controller = c
    yield dm
    dm.stop()
    c.stop()


def send(dm, rcpts, body="hello\r\n", sender="root@localhost"):
    msg = ("From: %s\r\nTo: %s\r\nSubject: lmtp\r\n\r\n%s"
           % (sender, ", ".join(rcpts), body))
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.sendmail(sender, rcpts, msg) == {}


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def bounces(dm, want=1, timeout=20):
    new = os.path.join(dm.maildir, "root", "new")

    def got():
        return os.path.isdir(new) and len(os.listdir(new)) >= want
    wait_for(got, timeout)
    if not os.path.isdir(new):
        return []
    return [open(os.path.join(new, n), "rb").read()
            for n in sorted(os.listdir(new))]


def dsn_blocks(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    assert parts[1].get_content_type() == "message/delivery-status"
    return [dict((k.lower(), v) for k, v in b.items())
            for b in parts[1].get_payload()]


def test_lmtp_delivers_one_transaction_per_message(unix_lmtp):
    """Three recipients of one message: one transaction, pipelined; the
    one refused at RCPT bounces alone, with the server's reply."""
    dm = unix_lmtp.start(args=("-d", "-v"))
    send(dm, ["ok1@l.test", "ok2@l.test", "refuse@l.test"])
    assert wait_log(dm, r"to=<ok2@l\.test>.*status=sent"), dm.logtext()
    assert wait_log(dm, r"to=<ok1@l\.test>.*status=sent"), dm.logtext()
    h = dm.lmtp
    assert h.lhlo == 1
    assert len(h.txs) == 1, h.txs
    sender, rcpts, content = h.txs[0]
    assert sender == "root@localhost"
    assert sorted(rcpts) == ["ok1@l.test", "ok2@l.test"]
    assert content.endswith(b"\r\n\r\nhello\r\n")
    # the bounce: refuse@ only, the server's words as an smtp diagnostic
    got = bounces(dm)
    assert len(got) == 1, got
    blocks = dsn_blocks(got[0])
    rcpt_blocks = [b for b in blocks if "final-recipient" in b]
    assert len(rcpt_blocks) == 1, blocks
    b = rcpt_blocks[0]
    assert b["final-recipient"].lower() == "rfc822; refuse@l.test"
    assert b["action"] == "failed"
    assert b["status"] == "5.1.1"
    assert b["diagnostic-code"].startswith(
        "smtp; 550 5.1.1 <refuse@l.test>: no such mailbox here"), b
    # one lmtp worker, as nobody (the bounce had a maildir worker)
    assert len(re.findall(r"delivery worker \d+ for nobody started",
                          dm.logtext())) == 1, dm.logtext()


def test_lmtp_per_recipient_replies_after_data(unix_lmtp):
    """RFC 2033 4.2: after the message, one reply per recipient: one
    delivered, one bounced (552), one deferred (452) and then taken."""
    dm = unix_lmtp.start(args=("-d", "-v"))
    send(dm, ["ok@l.test", "full@l.test", "later@l.test"])
    assert wait_log(dm, r"to=<later@l\.test>.*attempts=1.*dsn=4\.2\.1, "
                    r"status=deferred"), dm.logtext()
    assert wait_log(dm, r"to=<later@l\.test>.*attempts=2.*status=sent"), \
        dm.logtext()
    log = dm.logtext()
    assert "to=<ok@l.test>" in log
    got = bounces(dm)
    assert len(got) == 1
    rcpt_blocks = [b for b in dsn_blocks(got[0]) if "final-recipient" in b]
    assert [b["final-recipient"].lower() for b in rcpt_blocks] == \
        ["rfc822; full@l.test"]
    assert rcpt_blocks[0]["status"] == "5.2.2"
    assert "smtp; 552 5.2.2 <full@l.test>: mailbox full" in \
        rcpt_blocks[0]["diagnostic-code"]
    # the first transaction had all three; the retry only later@
    h = dm.lmtp
    assert sorted(h.txs[0][1]) == ["full@l.test", "later@l.test",
                                   "ok@l.test"]
    assert [t[1] for t in h.txs[1:]] == [["later@l.test"]]


def test_lmtp_reuses_the_connection(unix_lmtp):
    """Several messages in a row: one connection (one LHLO), RSET between
    transactions, every message delivered once."""
    dm = unix_lmtp.start(args=("-d", "-v"))
    for i in range(4):
        send(dm, ["m%d@l.test" % i])
        assert wait_for(lambda: len(dm.lmtp.txs) == i + 1), dm.logtext()
    assert wait_for(lambda: len(
        [1 for line in dm.logtext().splitlines()
         if "status=sent" in line and "@l.test" in line]) == 4)
    h = dm.lmtp
    assert h.lhlo == 1, h.lhlo
    assert h.rset == 3, h.rset
    assert [t[1] for t in h.txs] == [["m%d@l.test" % i] for i in range(4)]


def test_lmtp_server_closed_idle_connection(tcp_lmtp):
    """The server ends an idle session (421, then close, as aiosmtpd
    does at its timeout): the next message goes on a new connection,
    without a failure."""
    dm = tcp_lmtp
    dm.lmtp_controller.SMTP_kwargs["timeout"] = 1
    dm.start(args=("-d", "-v"))
    send(dm, ["first@l.test"])
    assert wait_for(lambda: len(dm.lmtp.txs) == 1), dm.logtext()
    time.sleep(2.5)     # the server's timeout, not the worker's idle one
    send(dm, ["second@l.test"])
    assert wait_log(dm, r"to=<first@l\.test>.*status=sent"), dm.logtext()
    assert wait_log(dm, r"to=<second@l\.test>.*status=sent"), dm.logtext()
    assert dm.lmtp.lhlo == 2
    assert "deferred" not in dm.logtext()
    assert len(re.findall(r"delivery worker \d+ for nobody started",
                          dm.logtext())) == 1, dm.logtext()


def test_lmtp_dot_stuffing_round_trip(tcp_lmtp):
    """Lines that start with dots reach the server as they were sent; over
    TCP, without PIPELINING, RCPT names the user."""
    dm = tcp_lmtp.start(args=("-d", "-v"))
    body = ".\r\n..\r\n.leading dot\r\n...three\r\nend .\r\n.\r\nlast\r\n"
    send(dm, ["dots@l.test"], body=body)
    assert wait_for(lambda: len(dm.lmtp.txs) == 1), dm.logtext()
    sender, rcpts, content = dm.lmtp.txs[0]
    assert rcpts == ["nobody"]
    assert content.endswith(b"\r\n\r\n" + body.encode()), content
    assert wait_log(dm, r"to=<dots@l\.test>.*status=sent"), dm.logtext()


def test_lmtp_stall_after_data_is_a_temporary_failure(unix_lmtp,
                                                       monkeypatch):
    """A server that takes the message and says nothing: the worker gives
    up in time (a temporary failure, not a killed worker); the retry,
    once the server answers again, delivers."""
    monkeypatch.setenv("POSTERN_TEST_DELIVER_TIMEOUT", "6")
    dm = unix_lmtp
    dm.lmtp.stall = True
    dm.start(args=("-d", "-v"))
    t0 = time.time()
    send(dm, ["slow@l.test"])
    m = wait_log(dm, r"to=<slow@l\.test>.*attempts=1.*status=deferred: "
                 r"temporary failure: (.*)", timeout=30)
    assert m, dm.logtext()
    assert "LMTP server stalled" in m.group(1), m.group(1)
    assert time.time() - t0 < 15
    assert "killing it" not in dm.logtext()
    dm.lmtp.stall = False
    assert wait_log(dm, r"to=<slow@l\.test>.*status=sent", timeout=30), \
        dm.logtext()


def test_lmtp_server_gone_is_a_temporary_failure(daemon_factory, tmp_path):
    dm = lmtp_daemon(daemon_factory, tmp_path, str(tmp_path / "nosock"),
                     "user nobody")
    dm.start(args=("-d", "-v"))
    send(dm, ["x@l.test"])
    m = wait_log(dm, r"to=<x@l\.test>.*status=deferred: temporary "
                 r"failure: (.*)")
    assert m, dm.logtext()
    assert "4.4.1 LMTP server" in m.group(1)
    assert re.search(r"to=<x@l\.test>.*dsn=4\.4\.1,", dm.logtext())


@pytest.mark.parametrize("line,ok", [
    ('action "box" lmtp "/run/dovecot/lmtp"', True),
    ('action "box" lmtp "/run/dovecot/lmtp" rcpt-to user nobody', True),
    ('action "box" lmtp "127.0.0.1:24"', True),
    ('action "box" lmtp "localhost"', False),
])
def test_lmtp_config(tmp_path, line, ok):
    check_action_line(tmp_path, line, ok)


class RawServer:
    """A unix-socket server that says what it is told, for servers that
    are not LMTP servers at all."""

    def __init__(self, path, script):
        import socket
        self.script = script
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(8)
        self.conns = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self.one, args=(c,),
                             daemon=True).start()

    def one(self, c):
        try:
            self.script(c)
        except OSError:
            pass
        c.close()

    def close(self):
        self.sock.close()


def garbage_after_lhlo(c):
    c.sendall(b"220 hi\r\n")
    c.recv(1000)
    c.sendall(b"hello there, this is not a reply\r\n")


def endless_lhlo(c):
    c.sendall(b"220 hi\r\n")
    c.recv(1000)
    line = b"250-" + b"x" * 200 + b"\r\n"
    for _ in range(2000):
        c.sendall(line)


@pytest.mark.parametrize("script,why", [
    (garbage_after_lhlo, "malformed reply"),
    (endless_lhlo, "reply has too many lines"),
])
def test_lmtp_garbage_is_a_temporary_failure(daemon_factory, tmp_path,
                                             script, why):
    """A server that answers garbage or without end: a bounded read, a
    temporary failure that says why, and no delivery claimed."""
    base = tempfile.mkdtemp(prefix="postern-lmtp-")
    os.chmod(base, 0o755)
    srv = RawServer(os.path.join(base, "lmtp"), script)
    try:
        dm = lmtp_daemon(daemon_factory, tmp_path,
                         os.path.join(base, "lmtp"), "user nobody")
        dm.start(args=("-d", "-v"))
        send(dm, ["g@l.test"])
        m = wait_log(dm, r"to=<g@l\.test>.*status=deferred: temporary "
                     r"failure: (.*)")
        assert m, dm.logtext()
        assert why in m.group(1), m.group(1)
        assert "status=sent" not in dm.logtext()
    finally:
        srv.close()
        shutil.rmtree(base, ignore_errors=True)


def goodbye_when_idle(c):
    """A minimal LMTP server for one message, which then says 421 on its
    idle timeout and keeps the connection open a while (Dovecot's way)."""
    f = c.makefile("rb")
    c.sendall(b"220 raw LMTP\r\n")
    nrcpt = 0
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line[:4].upper()
        if cmd == b"LHLO":
            c.sendall(b"250-raw\r\n250 PIPELINING\r\n")
        elif cmd == b"RCPT":
            nrcpt += 1
            c.sendall(b"250 2.1.5 ok\r\n")
        elif cmd == b"DATA":
            c.sendall(b"354 go\r\n")
            while f.readline() not in (b".\r\n", b""):
                pass
            c.sendall(b"250 2.0.0 ok\r\n" * nrcpt)
            break
        else:
            c.sendall(b"250 ok\r\n")
    time.sleep(1)
    c.sendall(b"421 4.4.2 raw Disconnected for inactivity\r\n")
    time.sleep(10)


def test_lmtp_goodbye_on_an_idle_connection(daemon_factory, tmp_path):
    """421 on an idle connection (RFC 5321 3.8) is not a reply to the next
    transaction: that one goes on a new connection."""
    base = tempfile.mkdtemp(prefix="postern-lmtp-")
    os.chmod(base, 0o755)
    srv = RawServer(os.path.join(base, "lmtp"), goodbye_when_idle)
    try:
        dm = lmtp_daemon(daemon_factory, tmp_path,
                         os.path.join(base, "lmtp"), "user nobody")
        dm.start(args=("-d", "-v"))
        send(dm, ["one@l.test"])
        assert wait_log(dm, r"to=<one@l\.test>.*status=sent"), dm.logtext()
        time.sleep(2)
        send(dm, ["two@l.test"])
        assert wait_log(dm, r"to=<two@l\.test>.*status=sent"), dm.logtext()
        assert srv.conns == 2
        assert "deferred" not in dm.logtext()
    finally:
        srv.close()
        shutil.rmtree(base, ignore_errors=True)

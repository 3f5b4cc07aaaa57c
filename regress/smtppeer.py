"""A scriptable receiving SMTP server for the MTA's integration tests.

    /usr/bin/python3 smtppeer.py CONFIG.json

Runs as its own process, so that a test can stop it by its pid whatever
state it is in and so that it never blocks the test's own loop.  peers.py
(class SmtpPeer) writes the configuration, starts it, waits for it and reads
what it recorded; the keys of the configuration are described there.

Files, all in the configuration's "dir":
  ready            {"pid", "addr", "port"} once listening (written atomically)
  sessions.jsonl   one JSON line per finished session, written and flushed
                   as soon as the session ends
  messages.jsonl   one JSON line per accepted message, at its 2xx reply
  msg/P-C-N.eml    the bytes of message N of connection C of process P,
                   exactly as received once dot-stuffing is undone
                   (RFC 5321 4.5.2)
  smtppeer.log     the program's own errors

This is a server of its own rather than aiosmtpd: aiosmtpd 1.4.3 refuses
every MAIL and RCPT parameter but SIZE, BODY and SMTPUTF8 (so DSN's RET,
ENVID, NOTIFY and ORCPT could not be recorded), upper-cases the ones it
keeps, and has no way to delay or withhold a reply, to drop a connection
after a given command, or to misbehave.  One small asyncio state machine
does all of it on one code path.

It checks what a strict receiver checks (sequence, parameters of
extensions it did not offer, non-ASCII without SMTPUTF8, sizes) so that an
MTA that gets these wrong fails its tests, but it is not a mail server: no
relaying, no queue, no header changes.  Every size read from the client is
bounded.
"""
import asyncio
import base64
import fnmatch
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import ssl
import sys
import time

MAX_LINE = 4096             # a command line (RFC 5321 4.5.3.1.4 says 512)
MAX_DATA = 64 << 20         # a message, when no SIZE says otherwise
MAX_TRANSCRIPT = 2000       # transcript entries kept per session
MAX_ENTRY = 1000            # characters kept of one transcript entry
MAX_COMMANDS = 100000       # commands in one session before 421

DEFAULTS = {
    "dir": None,
    "addr": "127.0.0.25",
    "port": 25,
    "hostname": "mx.peer.test",
    # Extensions offered in the EHLO reply.
    "starttls": False,          # needs tls_cert and tls_key
    "tls_cert": None,
    "tls_key": None,
    "tls_versions": None,       # ["TLSv1.2", "TLSv1.3"]: min and max
    "implicit_tls": False,      # TLS from the first byte (port 465 style)
    "pipelining": True,
    "8bitmime": True,
    "smtputf8": False,
    "dsn": False,
    "size": None,               # SIZE value; 0 offers SIZE without a limit
    "chunking": False,
    "enhancedstatuscodes": True,
    "requiretls": False,        # RFC 8689, offered only once TLS is on
    "auth": [],                 # mechanisms: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1
                                # SCRAM-SHA-256
    "auth_require_tls": False,  # offer AUTH only once TLS is on
    "users": {},                # user -> password
    "scram_iterations": 4096,
    "scram_salt": None,         # base64; fixed, with scram_nonce, to
    "scram_nonce": None,        # replay RFC 5802 5 / RFC 7677 3 exchanges
    "accept_any_params": False,  # do not check MAIL/RCPT parameters
    # Behaviour.
    "connect": "accept",        # or "refuse": close at once
    "replies": [],              # [{"cmd", "match", "reply", "times"}]
    "delays": {},               # {"CONNECT"|command|"EOM"|"*": seconds}
    "drop": None,               # {"cmd", "nth", "after_reply"}
    "max_messages": None,       # per connection
    "max_messages_reply": "421 4.7.0 too many messages in this connection",
    "max_recipients": None,     # per transaction
    "max_data": MAX_DATA,
    "timeout": 300,             # idle seconds before 421
    "hostile": None,            # {"mode", "at", "size"}
    "stall_timeout": 600,       # how long a hostile mode lasts at most
}

HOSTILE_MODES = ("endless", "long_line", "garbage", "silent", "tls_stall")
AUTH_MECHS = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")


class Drop(Exception):
    """Close the connection now, without a reply."""


class Closed(Exception):
    """The client went away."""


def load_config(path):
    with open(path) as f:
        given = json.load(f)
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise SystemExit("smtppeer: unknown configuration keys: %s" %
                         ", ".join(sorted(unknown)))
    cfg = dict(DEFAULTS)
    cfg.update(given)
    if not cfg["dir"]:
        raise SystemExit("smtppeer: no dir")
    if not cfg["addr"].startswith("127."):
        raise SystemExit("smtppeer: loopback addresses (127/8) only")
    for m in cfg["auth"]:
        if m.upper() not in AUTH_MECHS:
            raise SystemExit("smtppeer: unknown AUTH mechanism %s" % m)
    h = cfg["hostile"]
    if h is not None and h.get("mode") not in HOSTILE_MODES:
        raise SystemExit("smtppeer: hostile mode must be one of %s" %
                         ", ".join(HOSTILE_MODES))
    if (cfg["starttls"] or cfg["implicit_tls"]) and \
            not (cfg["tls_cert"] and cfg["tls_key"]):
        raise SystemExit("smtppeer: TLS needs tls_cert and tls_key")
    for r in cfg["replies"]:
        if "cmd" not in r or "reply" not in r:
            raise SystemExit("smtppeer: a reply rule needs cmd and reply")
    return cfg


def clip(s):
    return s if len(s) <= MAX_ENTRY else s[:MAX_ENTRY] + "...(%d)" % len(s)


def b64d(line):
    """A SASL response line, base64 (RFC 4954 4); "=" is an empty one."""
    if line == "=":
        return b""
    return base64.b64decode(line.encode("ascii"), validate=True)


def b64e(data):
    return base64.b64encode(data).decode("ascii")


def split_path(arg, keyword):
    """"FROM:<a@b> P=V ..." -> (address, [params]) or None.

    A quoted local part may hold spaces and ">" (RFC 5321 4.1.2).
    """
    if arg[:len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].lstrip(" ")
    if not rest.startswith("<"):
        return None
    quoted = False
    i = 1
    while i < len(rest):
        c = rest[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ">" and not quoted:
            break
        i += 1
    else:
        return None
    addr = rest[1:i]
    # A source route is allowed and ignored (RFC 5321 4.1.2, C.).
    if addr.startswith("@") and ":" in addr:
        addr = addr.split(":", 1)[1]
    params = rest[i + 1:].split()
    return addr, params


def param_name(p):
    return p.split("=", 1)[0].upper()


class Peer:
    """The listener: configuration, counters shared by all sessions."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg["dir"]
        self.msgdir = os.path.join(self.dir, "msg")
        os.makedirs(self.msgdir, exist_ok=True)
        self.conns = 0
        self.rule_uses = [0] * len(cfg["replies"])
        self.sessions = set()
        self.tls = None
        if cfg["tls_cert"]:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(cfg["tls_cert"], cfg["tls_key"])
            if cfg["tls_versions"]:
                lo, hi = cfg["tls_versions"]
                self.tls.minimum_version = ssl.TLSVersion[
                    lo.replace(".", "_")]
                self.tls.maximum_version = ssl.TLSVersion[
                    hi.replace(".", "_")]
            self.sni = {}
            self.tls.sni_callback = self._sni
        # SCRAM: one salt per user for the life of the process.
        fixed = cfg["scram_salt"] and base64.b64decode(cfg["scram_salt"])
        self.salts = {u: fixed or os.urandom(16) for u in cfg["users"]}

    def _sni(self, sslobj, name, ctx):
        self.sni[id(sslobj)] = name

    def record(self, name, obj):
        # One write(2) of the whole line with O_APPEND, so that a reader
        # never sees a line in pieces.
        data = (json.dumps(obj) + "\n").encode()
        fd = os.open(os.path.join(self.dir, name),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    def reply_for(self, cmd, target):
        """The first scripted reply rule that applies, or None."""
        for i, r in enumerate(self.cfg["replies"]):
            if r["cmd"].upper() != cmd:
                continue
            pattern = r.get("match", "*")
            if not fnmatch.fnmatchcase((target or "").lower(),
                                       pattern.lower()):
                continue
            times = r.get("times")
            if times is not None and self.rule_uses[i] >= times:
                continue
            self.rule_uses[i] += 1
            return r["reply"]
        return None

    async def implicit_tls(self, sock, peername):
        """One connection to an implicit-TLS listener: the handshake
        first, a session once it is done, a record either way."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE)
        proto = asyncio.StreamReaderProtocol(reader, self.client)
        try:
            await asyncio.wait_for(loop.connect_accepted_socket(
                lambda: proto, sock, ssl=self.tls), self.cfg["timeout"])
        except (ssl.SSLError, ConnectionError, OSError,
                asyncio.TimeoutError) as e:
            self.conns += 1
            rec = new_record(self.conns, peername)
            rec["end"] = "tls failed: %s" % (e or type(e).__name__)
            rec["duration"] = round(time.time() - rec["start"], 3)
            self.record("sessions.jsonl", rec)
            sock.close()

    async def accept_implicit(self, lsock):
        loop = asyncio.get_running_loop()
        while True:
            sock, peername = await loop.sock_accept(lsock)
            task = loop.create_task(self.implicit_tls(sock, peername))
            self.sessions.add(task)
            task.add_done_callback(self.sessions.discard)

    async def client(self, reader, writer):
        self.conns += 1
        s = Session(self, self.conns, reader, writer)
        task = asyncio.current_task()
        self.sessions.add(task)
        try:
            await s.run()
        finally:
            self.sessions.discard(task)


def new_record(conn, peername):
    return {
        "pid": os.getpid(),
        "conn": conn,
        "peer": list(peername[:2]),
        "start": time.time(),
        "tls": None,
        "helo": None,
        "ehlo": False,
        "auth": None,
        "auth_attempts": [],
        "transactions": [],
        "transcript": [],
        "pipelined": 0,
        "end": None,
    }


class Session:
    def __init__(self, peer, conn, reader, writer):
        self.peer = peer
        self.cfg = peer.cfg
        self.reader = reader
        self.writer = writer
        self.rec = new_record(conn, writer.get_extra_info("peername"))
        self.greeted = False
        self.greeting_refused = False
        self.txn = None
        self.bdat = None            # [parts, size, too_big] during BDAT
        self.accepted = 0           # messages accepted on this connection
        self.counts = {}            # command -> times seen
        self.commands = 0

    # -- I/O --------------------------------------------------------------

    def log(self, who, text):
        t = self.rec["transcript"]
        if len(t) < MAX_TRANSCRIPT:
            t.append([who, clip(text)])

    async def readline(self):
        """One CRLF line, without it; bounded by MAX_LINE."""
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"),
                                          self.cfg["timeout"])
        except asyncio.IncompleteReadError:
            raise Closed()
        except asyncio.LimitOverrunError:
            await self.discard_line()
            return None
        except asyncio.TimeoutError:
            self.rec["end"] = "timeout"
            await self.send("421 4.4.2 %s idle too long" %
                            self.cfg["hostname"])
        if len(line) > MAX_LINE:
            return None
        text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        self.log("C", text)
        return text

    async def discard_line(self):
        """Read to the end of a line too long to keep (bounded memory)."""
        while True:
            try:
                await self.reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as e:
                await self.reader.readexactly(e.consumed)
            except asyncio.IncompleteReadError:
                raise Closed()

    async def send(self, reply, cmd=None):
        """A reply, after the delay scripted for cmd; multi-line replies
        are given with "\n" between their lines and sent as they are."""
        delays = self.cfg["delays"]
        delay = delays.get(cmd, delays.get("*", 0)) if cmd else 0
        if delay:
            await asyncio.sleep(delay)
        for ln in reply.split("\n"):
            self.log("S", ln)
        if self.reader._buffer:
            # The client sent more before seeing this reply: it pipelines
            # (RFC 2920), or it does not wait when it should.
            self.rec["pipelined"] += 1
        data = "".join(ln + "\r\n" for ln in reply.split("\n"))
        self.writer.write(data.encode("utf-8", "surrogateescape"))
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            raise Closed()
        if reply[:3] == "421":
            # RFC 5321 3.8: the server closes after a 421.
            if self.rec["end"] is None:
                self.rec["end"] = "421"
            raise Drop()

    def ext(self):
        """The EHLO keywords offered now."""
        c = self.cfg
        tls_on = self.rec["tls"] is not None
        kw = []
        if c["pipelining"]:
            kw.append("PIPELINING")
        if c["size"] is not None:
            kw.append("SIZE %d" % c["size"] if c["size"] else "SIZE")
        if c["8bitmime"]:
            kw.append("8BITMIME")
        if c["smtputf8"]:
            kw.append("SMTPUTF8")
        if c["dsn"]:
            kw.append("DSN")
        if c["chunking"]:
            kw.append("CHUNKING")
        if c["enhancedstatuscodes"]:
            kw.append("ENHANCEDSTATUSCODES")
        if c["starttls"] and not tls_on:
            kw.append("STARTTLS")
        if c["requiretls"] and tls_on:
            kw.append("REQUIRETLS")
        if c["auth"] and (tls_on or not c["auth_require_tls"]):
            kw.append("AUTH " + " ".join(m.upper() for m in c["auth"]))
        return kw

    # -- the session --------------------------------------------------------

    async def run(self):
        try:
            await self.serve()
        except (Drop, Closed, ConnectionError, OSError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            self.rec["end"] = self.rec["end"] or "killed"
        except Exception as e:
            self.rec["end"] = "error: %r" % (e,)
            print("smtppeer: conn %d: %r" % (self.rec["conn"], e),
                  file=sys.stderr, flush=True)
        finally:
            if self.rec["end"] is None:
                self.rec["end"] = "closed"
            self.rec["duration"] = round(time.time() - self.rec["start"], 3)
            try:
                self.writer.close()
            except Exception:
                pass
            self.peer.record("sessions.jsonl", self.rec)

    async def serve(self):
        c = self.cfg
        if c["connect"] == "refuse":
            self.rec["end"] = "refused"
            return
        h = c["hostile"] or {}
        stall = h.get("mode") == "tls_stall" and \
            h.get("at", "CONNECT").upper() == "CONNECT"
        if c["implicit_tls"] and not stall:
            self.note_tls(implicit=True)
        if await self.hostile_at("CONNECT"):
            return
        if self.drop_now("CONNECT", False):
            return
        greeting = self.peer.reply_for("CONNECT", "") or \
            "220 %s ESMTP smtppeer" % c["hostname"]
        if greeting[:1] != "2":
            # RFC 5321 3.1: after a 554 greeting the server waits for QUIT.
            self.greeting_refused = True
        await self.send(greeting, "CONNECT")
        if self.drop_now("CONNECT", True):
            return
        while True:
            line = await self.readline()
            if line is None:
                await self.send("500 5.5.2 line too long")
                continue
            self.commands += 1
            if self.commands > MAX_COMMANDS:
                await self.send("421 4.7.0 too many commands")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            self.counts[verb] = self.counts.get(verb, 0) + 1
            if self.drop_now(verb, False):
                raise Drop()
            if await self.hostile_at(verb):
                return
            if self.greeting_refused and verb != "QUIT":
                await self.send("503 5.5.1 no service, only QUIT", verb)
                continue
            handler = COMMANDS.get(verb)
            if handler is None:
                await self.send("500 5.5.1 command unrecognized", verb)
                continue
            done = await handler(self, arg.strip(" "))
            if self.drop_now(verb, True):
                raise Drop()
            if done:
                return

    def drop_now(self, verb, after_reply):
        d = self.cfg["drop"]
        if not d or d["cmd"].upper() != verb:
            return False
        if bool(d.get("after_reply", False)) != after_reply:
            return False
        if self.counts.get(verb, 1 if verb == "CONNECT" else 0) != \
                d.get("nth", 1):
            return False
        self.rec["end"] = "dropped after %s" % verb
        return True

    async def scripted(self, cmd, target, default):
        """Send the scripted reply for cmd, or the default; returns it."""
        reply = self.peer.reply_for(cmd, target) or default
        await self.send(reply, cmd)
        return reply

    # -- hostile modes ------------------------------------------------------

    async def hostile_at(self, point):
        h = self.cfg["hostile"]
        if not h or h.get("at", "CONNECT").upper() != point:
            return False
        mode = h["mode"]
        self.rec["end"] = "hostile %s at %s" % (mode, point)
        code = "220" if point == "CONNECT" else "250"
        try:
            await asyncio.wait_for(self._hostile(mode, code, h),
                                   self.cfg["stall_timeout"])
        except asyncio.TimeoutError:
            pass
        return True

    async def _hostile(self, mode, code, h):
        w = self.writer
        if mode == "endless":
            # A multi-line reply that never ends; drain() lets the client's
            # reading set the pace, the sleep keeps our CPU low.
            batch = ("%s-%s\r\n" % (code, "x" * 70)).encode() * 200
            while True:
                w.write(batch)
                await w.drain()
                await asyncio.sleep(0.002)
        elif mode == "long_line":
            size = h.get("size", 10 << 20)
            chunk = b"x" * 65536
            w.write(code.encode() + b" ")
            sent = 0
            while sent < size:
                n = min(len(chunk), size - sent)
                w.write(chunk[:n])
                sent += n
                await w.drain()
        elif mode == "garbage":
            size = h.get("size", 65536)
            w.write(random.Random(size).randbytes(size))
            await w.drain()
        elif mode == "tls_stall" and code != "220":
            # The client said STARTTLS: agree, then never answer its
            # ClientHello.
            self.log("S", "220 2.0.0 ready to start TLS")
            w.write(b"220 2.0.0 ready to start TLS\r\n")
            await w.drain()
        # silent, and tls_stall at CONNECT (a client that speaks TLS first
        # gets no ServerHello): read and throw away until the client goes.
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise Closed()

    # -- TLS ------------------------------------------------------------------

    async def start_tls(self):
        try:
            await asyncio.wait_for(self.writer.start_tls(self.peer.tls),
                                   self.cfg["timeout"])
        except (ssl.SSLError, ConnectionError, OSError,
                asyncio.TimeoutError) as e:
            self.rec["end"] = "tls failed: %s" % (e or type(e).__name__)
            raise Drop()
        self.note_tls()

    def note_tls(self, implicit=False):
        obj = self.writer.get_extra_info("ssl_object")
        cipher = obj.cipher()
        self.rec["tls"] = {
            "version": obj.version(),
            "cipher": cipher[0] if cipher else None,
            "sni": self.peer.sni.pop(id(obj), None),
            "implicit": implicit,
        }

    # -- commands -----------------------------------------------------------

    async def cmd_ehlo(self, arg, ehlo=True):
        verb = "EHLO" if ehlo else "HELO"
        if not arg:
            await self.send("501 5.5.4 %s needs a domain" % verb, verb)
            return
        scripted = self.peer.reply_for(verb, arg)
        if scripted is not None:
            await self.send(scripted, verb)
            if scripted[:1] != "2":
                return
        self.rec["helo"] = arg
        self.rec["ehlo"] = ehlo
        self.greeted = True
        self.txn = None
        if scripted is not None:
            return
        if not ehlo:
            await self.send("250 %s" % self.cfg["hostname"], verb)
            return
        lines = [self.cfg["hostname"]] + self.ext()
        reply = "\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ",
                                       ln) for i, ln in enumerate(lines))
        await self.send(reply, verb)

    async def cmd_helo(self, arg):
        await self.cmd_ehlo(arg, ehlo=False)

    async def cmd_starttls(self, arg):
        if not self.cfg["starttls"] or self.rec["tls"] is not None:
            await self.send("503 5.5.1 TLS not available", "STARTTLS")
            return
        if arg:
            await self.send("501 5.5.4 no parameters allowed", "STARTTLS")
            return
        reply = await self.scripted("STARTTLS", "",
                                    "220 2.0.0 ready to start TLS")
        if reply[:3] != "220":
            return
        # RFC 3207 5: bytes the client sent after STARTTLS and before the
        # handshake are not TLS; a client must not pipeline past STARTTLS.
        early = len(self.reader._buffer)
        if early:
            self.rec["plaintext_after_starttls"] = early
            self.reader._buffer.clear()
        await self.start_tls()
        # RFC 3207 4.2: forget everything learnt before TLS.
        self.greeted = False
        self.rec["helo"] = None
        self.txn = None

    async def cmd_noop(self, arg):
        await self.scripted("NOOP", arg, "250 2.0.0 ok")

    async def cmd_rset(self, arg):
        self.txn = None
        await self.scripted("RSET", arg, "250 2.0.0 ok")

    async def cmd_vrfy(self, arg):
        await self.scripted("VRFY", arg, "252 2.1.5 cannot verify")

    async def cmd_quit(self, arg):
        await self.scripted("QUIT", arg, "221 2.0.0 bye")
        self.rec["end"] = "quit"
        return True

    def sequence_error(self):
        if not self.greeted:
            return "503 5.5.1 say EHLO first"
        return None

    def non_ascii(self, text):
        return any(ord(ch) > 127 for ch in text)

    def check_mail_params(self, params):
        """A reply refusing the parameters, or None (RFC 5321 4.1.1.11)."""
        c = self.cfg
        tls_on = self.rec["tls"] is not None
        allowed = {}
        if c["size"] is not None:
            allowed["SIZE"] = True
        allowed["BODY"] = c["8bitmime"] or c["chunking"]
        if c["smtputf8"]:
            allowed["SMTPUTF8"] = True
        if c["dsn"]:
            allowed["RET"] = allowed["ENVID"] = True
        if c["auth"]:
            allowed["AUTH"] = True
        if c["requiretls"] and tls_on:
            allowed["REQUIRETLS"] = True
        seen = set()
        for p in params:
            name = param_name(p)
            if name in seen:
                return "501 5.5.4 %s given twice" % name
            seen.add(name)
            if c["accept_any_params"]:
                continue
            if not allowed.get(name):
                return "555 5.5.4 %s not recognized" % name
            if name == "SIZE":
                v = p.partition("=")[2]
                if not v.isdigit() or len(v) > 20:
                    return "501 5.5.4 bad SIZE"
                limit = c["size"] or c["max_data"]
                if int(v) > limit:
                    return "552 5.3.4 message size exceeds fixed limit"
            if name == "BODY" and p.partition("=")[2].upper() not in \
                    ("7BIT", "8BITMIME", "BINARYMIME"):
                return "501 5.5.4 bad BODY"
        return None

    async def cmd_mail(self, arg):
        err = self.sequence_error()
        if err:
            await self.send(err, "MAIL")
            return
        if self.txn is not None:
            await self.send("503 5.5.1 nested MAIL", "MAIL")
            return
        parsed = split_path(arg, "FROM:")
        if parsed is None:
            await self.send("501 5.5.4 syntax: MAIL FROM:<address>", "MAIL")
            return
        addr, params = parsed
        t = {"mail_from": addr, "mail_options": params, "mail_reply": None,
             "rcpts": [], "data_reply": None, "size": None, "file": None}
        self.rec["transactions"].append(t)
        if self.cfg["max_messages"] is not None and \
                self.accepted >= self.cfg["max_messages"]:
            t["mail_reply"] = self.cfg["max_messages_reply"]
            await self.send(t["mail_reply"], "MAIL")
            return
        err = self.check_mail_params(params)
        utf8 = any(param_name(p) == "SMTPUTF8" for p in params)
        if err is None and self.non_ascii(addr) and not utf8:
            # RFC 6531 3.7.4.1: a non-ASCII address needs SMTPUTF8.
            err = "553 5.6.7 non-ASCII address without SMTPUTF8"
        reply = self.peer.reply_for("MAIL", addr)
        reply = reply or err or "250 2.1.0 sender ok"
        t["mail_reply"] = reply
        await self.send(reply, "MAIL")
        if reply[:1] == "2":
            self.txn = t

    def check_rcpt_params(self, params):
        c = self.cfg
        seen = set()
        for p in params:
            name = param_name(p)
            if name in seen:
                return "501 5.5.4 %s given twice" % name
            seen.add(name)
            if c["accept_any_params"]:
                continue
            if not (c["dsn"] and name in ("NOTIFY", "ORCPT")):
                return "555 5.5.4 %s not recognized" % name
            if name == "NOTIFY":
                v = p.partition("=")[2].upper().split(",")
                # RFC 3461 4.1: NEVER stands alone.
                if not all(x in ("NEVER", "SUCCESS", "FAILURE", "DELAY")
                           for x in v) or ("NEVER" in v and len(v) > 1):
                    return "501 5.5.4 bad NOTIFY"
        return None

    async def cmd_rcpt(self, arg):
        err = self.sequence_error()
        if err is None and self.txn is None:
            err = "503 5.5.1 need MAIL first"
        if err:
            await self.send(err, "RCPT")
            return
        parsed = split_path(arg, "TO:")
        if parsed is None:
            await self.send("501 5.5.4 syntax: RCPT TO:<address>", "RCPT")
            return
        addr, params = parsed
        r = {"addr": addr, "options": params, "reply": None}
        self.txn["rcpts"].append(r)
        err = self.check_rcpt_params(params)
        utf8 = any(param_name(p) == "SMTPUTF8"
                   for p in self.txn["mail_options"])
        if err is None and self.non_ascii(addr) and not utf8:
            err = "553 5.6.7 non-ASCII address without SMTPUTF8"
        if err is None and not addr:
            err = "501 5.1.3 empty recipient"
        ok = [x for x in self.txn["rcpts"] if (x["reply"] or "")[:1] == "2"]
        limit = self.cfg["max_recipients"]
        if err is None and limit is not None and len(ok) >= limit:
            # RFC 5321 4.5.3.1.10
            err = "452 4.5.3 too many recipients"
        reply = self.peer.reply_for("RCPT", addr)
        r["reply"] = reply or err or "250 2.1.5 recipient ok"
        await self.send(r["reply"], "RCPT")

    def accepted_rcpts(self):
        return [x for x in self.txn["rcpts"] if (x["reply"] or "")[:1] == "2"]

    async def cmd_data(self, arg):
        err = self.sequence_error()
        if err is None and self.txn is None:
            err = "503 5.5.1 need MAIL first"
        elif err is None and not self.accepted_rcpts():
            # RFC 2920 3.1: DATA after no accepted RCPT gets 503 or 554.
            err = "554 5.5.1 no valid recipients"
        if err:
            await self.send(err, "DATA")
            return
        reply = await self.scripted("DATA", self.txn["mail_from"],
                                    "354 end data with <CRLF>.<CRLF>")
        if reply[:1] != "3":
            self.txn["data_reply"] = reply
            self.txn = None
            return
        body, too_big = await self.read_data()
        await self.end_of_message(body, too_big)

    async def read_data(self):
        """The message, dot-stuffing undone (RFC 5321 4.5.2); lines of any
        length are kept, the whole is bounded by max_data."""
        limit = self.cfg["size"] or self.cfg["max_data"]
        parts = []
        size = 0
        too_big = False
        at_line_start = True
        while True:
            try:
                piece = await asyncio.wait_for(
                    self.reader.readuntil(b"\r\n"), self.cfg["timeout"])
            except asyncio.LimitOverrunError as e:
                piece = await self.reader.readexactly(e.consumed)
            except asyncio.IncompleteReadError:
                raise Closed()
            except asyncio.TimeoutError:
                self.rec["end"] = "timeout"
                await self.send("421 4.4.2 timeout in DATA")
            if at_line_start and piece == b".\r\n":
                break
            if at_line_start and piece.startswith(b"."):
                piece = piece[1:]
            at_line_start = piece.endswith(b"\r\n")
            size += len(piece)
            if size > limit:
                too_big = True
                parts = []
            if not too_big:
                parts.append(piece)
        self.log("C", "<%d bytes of data>" % size)
        return b"".join(parts), too_big

    def save(self, t, body):
        n = len([x for x in self.rec["transactions"] if x["file"]]) + 1
        path = os.path.join(self.peer.msgdir, "%d-%d-%d.eml" % (
            os.getpid(), self.rec["conn"], n))
        with open(path, "wb") as f:
            f.write(body)
        t["file"] = path
        t["size"] = len(body)
        t["eight_bit"] = any(b > 127 for b in body)
        # What RFC 5321 2.3.8 and 4.5.3.1.6 forbid a client to send.
        crlf = body.count(b"\r\n")
        t["bare_lf"] = body.count(b"\n") - crlf
        t["bare_cr"] = body.count(b"\r") - crlf
        t["longest_line"] = max((len(x) for x in body.split(b"\r\n")),
                                default=0)

    async def end_of_message(self, body, too_big):
        """The message is in: save it, then reply (or drop, if scripted:
        the client then cannot know whether it was taken)."""
        t = self.txn
        self.txn = None
        self.counts["EOM"] = self.counts.get("EOM", 0) + 1
        if not too_big:
            self.save(t, body)
        if self.drop_now("EOM", False):
            raise Drop()
        if too_big:
            # RFC 5321 4.5.3.1.10 (and 4.2.5: only now, after the dot).
            t["data_reply"] = "552 5.3.4 message too big"
        else:
            t["data_reply"] = self.peer.reply_for("EOM", t["mail_from"]) \
                or "250 2.0.0 queued as %d-%d" % (
                    self.rec["conn"], len(self.rec["transactions"]))
        if t["data_reply"][:1] == "2":
            self.accepted += 1
            self.peer.record("messages.jsonl", {
                "conn": self.rec["conn"], "file": t["file"],
                "mail_from": t["mail_from"],
                "rcpts": [x["addr"] for x in t["rcpts"]
                          if (x["reply"] or "")[:1] == "2"],
                "size": t["size"]})
        await self.send(t["data_reply"], "EOM")
        if self.drop_now("EOM", True):
            raise Drop()

    async def cmd_bdat(self, arg):
        """RFC 3030 2: BDAT size [LAST].  The chunk is read whatever the
        reply to it will be, since the client sends it without waiting."""
        if not self.cfg["chunking"]:
            await self.send("500 5.5.1 command unrecognized", "BDAT")
            return
        words = arg.split()
        if not words or not words[0].isdigit() or len(words[0]) > 12 or \
                len(words) > 2 or (len(words) == 2 and
                                   words[1].upper() != "LAST"):
            # The chunk's size is unknown: the stream cannot be followed.
            await self.send("501 5.5.4 syntax: BDAT size [LAST]", "BDAT")
            raise Drop()
        n = int(words[0])
        last = len(words) == 2
        limit = self.cfg["size"] or self.cfg["max_data"]
        if self.bdat is None:
            self.bdat = [[], 0, False]
        state = self.bdat
        left = n
        while left:
            try:
                got = await asyncio.wait_for(
                    self.reader.read(min(left, 65536)), self.cfg["timeout"])
            except asyncio.TimeoutError:
                self.rec["end"] = "timeout"
                await self.send("421 4.4.2 timeout in BDAT")
            if not got:
                raise Closed()
            left -= len(got)
            state[1] += len(got)
            if state[1] > limit:
                state[0], state[2] = [], True
            if not state[2]:
                state[0].append(got)
        self.log("C", "<%d octets of BDAT>" % n)
        err = self.sequence_error()
        if err is None and self.txn is None:
            err = "503 5.5.1 need MAIL first"
        elif err is None and not self.accepted_rcpts():
            err = "554 5.5.1 no valid recipients"
        if err:
            self.bdat = None
            await self.send(err, "BDAT")
            return
        if not last:
            await self.send("250 2.0.0 %d octets received" % n, "BDAT")
            return
        self.bdat = None
        await self.end_of_message(b"".join(state[0]), state[2])

    async def cmd_auth(self, arg):
        c = self.cfg
        tls_on = self.rec["tls"] is not None
        words = arg.split()
        if not c["auth"] or (c["auth_require_tls"] and not tls_on):
            await self.send("503 5.5.1 AUTH not available", "AUTH")
            return
        if not self.greeted or not self.rec["ehlo"]:
            await self.send("503 5.5.1 say EHLO first", "AUTH")
            return
        if self.rec["auth"] is not None:
            # RFC 4954 4: only one successful AUTH per session.
            await self.send("503 5.5.1 already authenticated", "AUTH")
            return
        if self.txn is not None:
            await self.send("503 5.5.1 AUTH not allowed in a transaction",
                            "AUTH")
            return
        if not words or len(words) > 2:
            await self.send("501 5.5.4 syntax: AUTH mechanism [initial]",
                            "AUTH")
            return
        mech = words[0].upper()
        if mech not in [m.upper() for m in c["auth"]]:
            await self.send("504 5.5.4 mechanism not supported", "AUTH")
            return
        initial = words[1] if len(words) == 2 else None
        attempt = {"mechanism": mech, "user": None, "ok": False}
        self.rec["auth_attempts"].append(attempt)
        scripted = self.peer.reply_for("AUTH", mech)
        if scripted is not None:
            # e.g. "454 4.7.0 temporary failure": no exchange at all.
            attempt["reply"] = scripted
            await self.send(scripted, "AUTH")
            return
        sasl = Sasl(self, mech, attempt)
        try:
            ok = await sasl.run(initial)
        except SaslAbort as e:
            await self.send(str(e), "AUTH")
            return
        if ok:
            attempt["ok"] = True
            self.rec["auth"] = {"mechanism": mech, "user": attempt["user"]}
            await self.send("235 2.7.0 authentication successful", "AUTH")
        else:
            await self.send("535 5.7.8 authentication credentials invalid",
                            "AUTH")


class SaslAbort(Exception):
    """End the exchange with this reply."""


class Sasl:
    """The server side of one AUTH exchange (RFC 4954 4)."""

    def __init__(self, session, mech, attempt):
        self.s = session
        self.mech = mech
        self.attempt = attempt
        self.users = session.cfg["users"]

    async def challenge(self, data):
        await self.s.send("334 " + b64e(data), "AUTH")
        line = await self.s.readline()
        if line is None:
            raise SaslAbort("500 5.5.6 authentication exchange line too long")
        if line == "*":
            # RFC 4954 4: the client cancels.
            raise SaslAbort("501 5.7.0 authentication cancelled")
        try:
            return b64d(line)
        except (ValueError, UnicodeEncodeError):
            raise SaslAbort("501 5.5.2 cannot decode base64")

    def initial(self, initial):
        try:
            return b64d(initial)
        except (ValueError, UnicodeEncodeError):
            raise SaslAbort("501 5.5.2 cannot decode base64")

    def password_is(self, user, password):
        want = self.users.get(user)
        return want is not None and hmac.compare_digest(
            want.encode(), password)

    async def run(self, initial):
        if self.mech == "PLAIN":
            return await self.plain(initial)
        if self.mech == "LOGIN":
            return await self.login(initial)
        if self.mech == "CRAM-MD5":
            return await self.cram_md5(initial)
        return await self.scram(initial, self.mech == "SCRAM-SHA-256")

    async def plain(self, initial):
        # RFC 4616 2: [authzid] NUL authcid NUL passwd
        if initial is not None:
            msg = self.initial(initial)
        else:
            msg = await self.challenge(b"")
        parts = msg.split(b"\0")
        if len(parts) != 3:
            raise SaslAbort("501 5.5.2 malformed PLAIN message")
        user = parts[1].decode("utf-8", "replace")
        self.attempt["user"] = user
        if parts[0] and parts[0] != parts[1]:
            self.attempt["authzid"] = parts[0].decode("utf-8", "replace")
            return False
        return self.password_is(user, parts[2])

    async def login(self, initial):
        if initial is not None:
            user = self.initial(initial)
        else:
            user = await self.challenge(b"Username:")
        user = user.decode("utf-8", "replace")
        self.attempt["user"] = user
        password = await self.challenge(b"Password:")
        return self.password_is(user, password)

    async def cram_md5(self, initial):
        # RFC 2195 2: the challenge is a msg-id; the client answers with
        # "user hex(HMAC-MD5(password, challenge))".
        if initial is not None:
            raise SaslAbort("501 5.5.2 CRAM-MD5 takes no initial response")
        chal = ("<%d.%d@%s>" % (random.getrandbits(48), int(time.time()),
                                self.s.cfg["hostname"])).encode()
        resp = (await self.challenge(chal)).decode("utf-8", "replace")
        user, _, digest = resp.rpartition(" ")
        self.attempt["user"] = user
        want = self.users.get(user)
        if want is None:
            return False
        good = hmac.new(want.encode(), chal, hashlib.md5).hexdigest()
        return hmac.compare_digest(good, digest.lower())

    async def scram(self, initial, sha256):
        """RFC 5802 5, RFC 7677: no channel binding, no SASLprep (tests
        use ASCII names and passwords)."""
        h = hashlib.sha256 if sha256 else hashlib.sha1
        if initial is not None:
            first = self.initial(initial)
        else:
            first = await self.challenge(b"")
        first = first.decode("utf-8", "replace")
        m = re.match(r"^([nyp])(=[^,]*)?,(a=[^,]*)?,(.*)$", first)
        if not m:
            raise SaslAbort("501 5.5.2 malformed SCRAM client-first")
        if m.group(1) == "p":
            # RFC 5802 6: we offered no -PLUS mechanism.
            raise SaslAbort("535 5.7.8 channel binding not supported")
        gs2_header = first[:len(first) - len(m.group(4))]
        bare = m.group(4)
        attrs = self.scram_attrs(bare)
        if "n" not in attrs or "r" not in attrs or "m" in attrs:
            raise SaslAbort("501 5.5.2 malformed SCRAM client-first")
        user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        self.attempt["user"] = user
        cnonce = attrs["r"]
        salt = self.s.peer.salts.get(user, hashlib.sha256(
            user.encode()).digest()[:16])
        iters = self.s.cfg["scram_iterations"]
        nonce = cnonce + (self.s.cfg["scram_nonce"] or b64e(os.urandom(18)))
        server_first = "r=%s,s=%s,i=%d" % (nonce, b64e(salt), iters)
        final = (await self.challenge(server_first.encode())).decode(
            "utf-8", "replace")
        without_proof, sep, proof = final.rpartition(",p=")
        fattrs = self.scram_attrs(without_proof) if sep else {}
        if not sep or fattrs.get("r") != nonce or "c" not in fattrs:
            raise SaslAbort("501 5.5.2 malformed SCRAM client-final")
        if fattrs["c"] != b64e(gs2_header.encode()):
            return False
        try:
            proof = base64.b64decode(proof, validate=True)
        except ValueError:
            raise SaslAbort("501 5.5.2 cannot decode SCRAM proof")
        password = self.users.get(user)
        if password is None:
            return False
        salted = hashlib.pbkdf2_hmac(h().name, password.encode(), salt,
                                     iters)
        client_key = hmac.new(salted, b"Client Key", h).digest()
        stored_key = h(client_key).digest()
        auth_message = ",".join((bare, server_first, without_proof)).encode()
        client_sig = hmac.new(stored_key, auth_message, h).digest()
        if len(proof) != len(client_sig):
            return False
        recovered = bytes(a ^ b for a, b in zip(proof, client_sig))
        if not hmac.compare_digest(h(recovered).digest(), stored_key):
            return False
        server_key = hmac.new(salted, b"Server Key", h).digest()
        server_sig = hmac.new(server_key, auth_message, h).digest()
        # RFC 4954 4: data sent with success goes in a 334 challenge; the
        # client answers with an empty line before the 235.
        answer = await self.challenge(("v=" + b64e(server_sig)).encode())
        if answer:
            raise SaslAbort("501 5.5.2 expected an empty response")
        return True

    @staticmethod
    def scram_attrs(text):
        out = {}
        for part in text.split(","):
            k, eq, v = part.partition("=")
            if len(k) == 1 and eq:
                out.setdefault(k, v)
        return out


COMMANDS = {
    "EHLO": Session.cmd_ehlo,
    "HELO": Session.cmd_helo,
    "STARTTLS": Session.cmd_starttls,
    "AUTH": Session.cmd_auth,
    "MAIL": Session.cmd_mail,
    "RCPT": Session.cmd_rcpt,
    "DATA": Session.cmd_data,
    "BDAT": Session.cmd_bdat,
    "RSET": Session.cmd_rset,
    "NOOP": Session.cmd_noop,
    "VRFY": Session.cmd_vrfy,
    "QUIT": Session.cmd_quit,
}


def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(128)
    s.setblocking(False)
    return s


async def main(cfg):
    peer = Peer(cfg)
    loop = asyncio.get_running_loop()
    lsock = listen(cfg["addr"], cfg["port"])
    h = cfg["hostile"] or {}
    if cfg["implicit_tls"] and not (
            h.get("mode") == "tls_stall" and
            h.get("at", "CONNECT").upper() == "CONNECT"):
        # Our own accept loop: asyncio's TLS listener would not tell us
        # about handshakes that fail.
        server = loop.create_task(peer.accept_implicit(lsock))
        close = server.cancel
    else:
        server = await asyncio.start_server(
            peer.client, sock=lsock, limit=MAX_LINE)
        close = server.close
    port = lsock.getsockname()[1]
    ready = os.path.join(cfg["dir"], "ready")
    with open(ready + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "addr": cfg["addr"], "port": port}, f)
    os.rename(ready + ".tmp", ready)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Every open session records itself (end "killed") before we go.
    close()
    for task in list(peer.sessions):
        task.cancel()
    if peer.sessions:
        await asyncio.wait(list(peer.sessions), timeout=2)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: smtppeer.py CONFIG.json")
    asyncio.run(main(load_config(sys.argv[1])))

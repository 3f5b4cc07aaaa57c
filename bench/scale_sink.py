#!/usr/bin/python3
"""Receiving SMTP sinks for bench/relay_scale.py: one process, several
listeners, each with a behaviour, counting per recipient domain.

    /usr/bin/python3 -S scale_sink.py CONFIG.json

CONFIG: {"stats": FILE, "listen": [[ADDR, PORT, BEHAVIOUR], ...]} with
BEHAVIOUR one of
  ok         answers at once, discards every message (as smtp-sink)
  slow       answers each command after 2-5 s (random per reply)
  banner421  answers the greeting with 421 and closes
  stall      accepts the connection and never answers

Every 0.5 s (and at SIGTERM) it writes FILE (atomically), JSON:
  msgs       {domain: recipients accepted (in a message taken)}
  peak       {domain: most sessions open at once for that domain}
  conns      connections accepted, per listener address
  peak_addr  most connections open at once, per listener address
A session counts for a domain from its first RCPT to that domain until it
ends (one outbound session of postern carries one destination's mail).

Our own rather than Postfix's smtp-sink: smtp-sink cannot attribute a
session to a recipient domain (so cannot count sessions per destination),
and cannot hold a session without answering.  Each healthy sink is one
process of an asyncio Protocol, no per-line coroutine; its CPU is
printed by the bench, to show it is not the limit.
"""
import asyncio
import json
import os
import random
import signal
import sys


class Stats:
    def __init__(self, path):
        self.path = path
        self.msgs = {}
        self.open = {}
        self.peak = {}
        self.conns = {}
        self.open_addr = {}
        self.peak_addr = {}

    def write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"msgs": self.msgs, "peak": self.peak,
                       "conns": self.conns, "peak_addr": self.peak_addr}, f)
        os.replace(tmp, self.path)


class Session(asyncio.Protocol):
    def __init__(self, stats, addr, behaviour):
        self.st, self.addr, self.behaviour = stats, addr, behaviour
        self.buf = b""
        self.data = False
        self.domain = None
        self.rcpts = []
        self.tr = None
        self.pending = []       # slow: replies waiting for their time
        self.closed = False

    def connection_made(self, tr):
        self.tr = tr
        st, a = self.st, self.addr
        st.conns[a] = st.conns.get(a, 0) + 1
        st.open_addr[a] = st.open_addr.get(a, 0) + 1
        st.peak_addr[a] = max(st.peak_addr.get(a, 0), st.open_addr[a])
        if self.behaviour == "stall":
            return
        if self.behaviour == "banner421":
            tr.write(b"421 4.3.2 sink busy, try later\r\n")
            tr.close()
            return
        self.reply(b"220 sink ESMTP\r\n")

    def connection_lost(self, exc):
        self.closed = True
        st = self.st
        st.open_addr[self.addr] -= 1
        if self.domain is not None:
            st.open[self.domain] -= 1

    def reply(self, line):
        if self.behaviour != "slow":
            self.tr.write(line)
            return
        # In order: each reply 2-5 s after the one before it.
        self.pending.append(line)
        if len(self.pending) == 1:
            asyncio.get_event_loop().call_later(random.uniform(2, 5),
                                                self.slow_send)

    def slow_send(self):
        if self.closed or not self.pending:
            return
        line = self.pending.pop(0)
        self.tr.write(line)
        if line.startswith(b"221"):
            self.tr.close()
        if self.pending:
            asyncio.get_event_loop().call_later(random.uniform(2, 5),
                                                self.slow_send)

    def data_received(self, data):
        if self.behaviour == "stall":
            return
        self.buf += data
        while True:
            if self.data:
                i = self.buf.find(b"\r\n.\r\n")
                if i < 0:
                    # keep the tail that may hold a split terminator
                    self.buf = self.buf[-4:]
                    return
                self.buf = self.buf[i + 5:]
                self.data = False
                for d in self.rcpts:
                    self.st.msgs[d] = self.st.msgs.get(d, 0) + 1
                self.rcpts = []
                self.reply(b"250 2.0.0 ok\r\n")
                continue
            i = self.buf.find(b"\r\n")
            if i < 0:
                if len(self.buf) > 4096:
                    self.tr.close()
                return
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            self.command(line)

    def command(self, line):
        verb = line[:4].upper()
        if verb == b"EHLO":
            self.reply(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                       b"250 ENHANCEDSTATUSCODES\r\n")
        elif verb == b"HELO":
            self.reply(b"250 sink\r\n")
        elif verb == b"MAIL":
            self.rcpts = []
            self.reply(b"250 2.1.0 ok\r\n")
        elif verb == b"RCPT":
            at = line.rfind(b"@")
            end = line.find(b">", at)
            dom = line[at + 1:end].decode("ascii", "replace").lower()
            self.rcpts.append(dom)
            if self.domain is None:
                self.domain = dom
                st = self.st
                st.open[dom] = st.open.get(dom, 0) + 1
                st.peak[dom] = max(st.peak.get(dom, 0), st.open[dom])
            self.reply(b"250 2.1.5 ok\r\n")
        elif verb == b"DATA":
            self.data = True
            self.reply(b"354 go ahead\r\n")
        elif verb == b"RSET" or verb == b"NOOP":
            self.rcpts = []
            self.reply(b"250 2.0.0 ok\r\n")
        elif verb == b"QUIT":
            self.reply(b"221 2.0.0 bye\r\n")
            if self.behaviour != "slow":
                self.tr.close()
        else:
            self.reply(b"502 5.5.2 no\r\n")


async def main(conf):
    st = Stats(conf["stats"])
    loop = asyncio.get_event_loop()
    for addr, port, behaviour in conf["listen"]:
        await loop.create_server(
            lambda a=addr, b=behaviour: Session(st, a, b), addr, port,
            backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with open(conf["stats"] + ".ready", "w") as f:
        f.write(str(os.getpid()))
    while not stop.is_set():
        st.write()
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    st.write()


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))

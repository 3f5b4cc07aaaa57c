#!/usr/bin/python3
"""10,000 concurrent sessions (issue 19): one smtp process holding many.

usage: sessions.py [--build BUILD] [--sessions N] [--active A]
                   [--size OCTETS] [--seconds S] [--probes P]
                   [--procs C] [--port PORT] [--dir DIR]

Starts posternd (as root) on 127.0.0.1:PORT with a throwaway spool under
DIR (/var/tmp/postern-bench/sessions), smtp-max-sessions N + 100, its
queue paused (posternctl pause queue: every message accepted is held, so
no delivery competes with the measurement), and a resolver of the
bench's own on 127.0.0.1:PORT+53 that answers NXDOMAIN at once (authd's
SPF and iprev lookups cost no time and need no network).  C client
processes (2) share the N sessions; each session binds its own source
address, 127.(10+c).x.y, so that smtp-max-per-ip (per address, /32) is
never what is measured.  In order:

  rest          VmRSS of every posternd process after start
  idle          the N sessions connect (at most 256 connecting at once),
                read the banner and say EHLO, then say nothing; VmRSS and
                RssAnon of every process with all of them held, and the
                growth of smtp, authd and queue together per idle session
                ((RSS with N idle - RSS at rest) / N)
  banner, idle  P new sessions one after another (from 127.250.x.y):
                connect() to the 220 line, p50 / p99 / max
  active        A of the N sessions send messages of OCTETS octets
                (4096), pipelining MAIL/RCPT/DATA, for S seconds (10)
                while the others stay held: messages/s accepted (250
                after the final dot, fsynced), other replies, and P
                banner probes meanwhile
  dropped       every one of the N sessions says NOOP at the end: any
                that does not get its 250 was dropped; connections that
                were refused (421, reset) below the configured limit
  daemon CPU    CPU seconds of each process while the A send, and the
                queue's group commits meanwhile (messages per commit, and
                the time per commit: with the daemon's CPU idle, the
                commits' fsync is what bounds messages/s)
  peak          VmHWM of every process
  client CPU    CPU seconds of the client processes per phase, next to
                the phase's seconds: the client is the bottleneck when
                they come close

No thresholds: figures, with the goals of issue 19 next to them (per
idle session <= 64 KB in smtp, authd and queue together; banner p99 <
100 ms; no refused or dropped session).  The spool and the log stay in
DIR until the next run.
"""
import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "regress"))
sys.path.insert(0, HERE)
import loadgen  # noqa: E402
import peers  # noqa: E402

BASE = os.path.join(peers.BASE, "sessions")
PROCS = ("parent", "smtp", "authd", "queue", "mta", "control", "reportd")
SUM = ("smtp", "authd", "queue")
GOAL_PER_SESSION_KB = 64
GOAL_P99_MS = 100
CONNECTING = 256		# connects in flight per client process
IP_BIND_ADDRESS_NO_PORT = 24
OPEN_TIMEOUT = 60		# seconds for a session's banner and EHLO reply


def log(msg):
    print("bench: " + msg, flush=True)


def raise_nofile(n):
    """Soft and hard RLIMIT_NOFILE to at least n (root may raise both)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def source(proc, i):
    """The source address of client process proc's session i."""
    return "127.%d.%d.%d" % (10 + proc, i // 250, i % 250 + 1)


# ---- the client processes ----

class Session:
    def __init__(self, src):
        self.src = src
        self.r = self.w = None
        self.error = None


async def reply(r):
    """The code of one complete reply ("" at the end of the stream)."""
    while True:
        line = await r.readline()
        if not line:
            return ""
        if line[3:4] != b"-":
            return line[:3].decode(errors="replace")


async def connect(host, port, src):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.setblocking(False)
    try:
        sock.bind((src, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=65536)


async def open_one(s, port, gate):
    async def talk():
        s.r, s.w = await connect("127.0.0.1", port, s.src)
        code = await reply(s.r)
        if code != "220":
            s.error = "banner " + (code or "EOF")
            return
        s.w.write(b"EHLO idle.bench\r\n")
        code = await reply(s.r)
        if code != "250":
            s.error = "EHLO " + (code or "EOF")

    async with gate:
        try:
            # A connection the server's listen queue dropped looks
            # established to the client, which waits for a banner that
            # never comes.
            await asyncio.wait_for(talk(), OPEN_TIMEOUT)
        except asyncio.TimeoutError:
            s.error = "no banner or EHLO reply in %d s" % OPEN_TIMEOUT
        except OSError as e:
            s.error = type(e).__name__


async def send_for(s, port, body, until, res):
    """Messages one after another on s until the deadline."""
    cmds = b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
        loadgen.SENDER.encode(), res["rcpt"].encode())
    try:
        while time.monotonic() < until:
            s.w.write(cmds)
            codes = [await asyncio.wait_for(reply(s.r), OPEN_TIMEOUT)
                     for _ in range(3)]
            if codes[2] != "354":
                key = "refused " + "/".join(c or "EOF" for c in codes)
                res[key] = res.get(key, 0) + 1
                if "" in codes:
                    s.error = "closed in a transaction"
                    return
                s.w.write(b"RSET\r\n")
                await reply(s.r)
                await asyncio.sleep(0.1)
                continue
            s.w.write(body)
            code = await asyncio.wait_for(reply(s.r), OPEN_TIMEOUT)
            if code == "250":
                res["accepted"] += 1
            else:
                key = "end " + (code or "EOF")
                res[key] = res.get(key, 0) + 1
                if not code:
                    s.error = "closed after the data"
                    return
    except OSError as e:
        s.error = type(e).__name__


async def check_one(s):
    """1 if s is still open: NOOP is answered 250."""
    if s.error is not None or s.w is None:
        return 0
    try:
        s.w.write(b"NOOP\r\n")
        code = await asyncio.wait_for(reply(s.r), 60)
        if code == "250":
            return 1
        s.error = "NOOP " + (code or "EOF")
    except (OSError, asyncio.TimeoutError) as e:
        s.error = "NOOP " + type(e).__name__
    return 0


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def client(idx, n, nactive, port, body, rcpt, conn):
    """One client process: n sessions, of which nactive send on demand.
    Commands over conn: "open", ("active", seconds), "check"."""
    raise_nofile(n + 1024)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def main():
        loop = asyncio.get_running_loop()
        sessions = [Session(source(idx, i)) for i in range(n)]
        gate = asyncio.Semaphore(CONNECTING)
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            c0, t0 = cpu(), time.monotonic()
            if cmd == "open":
                await asyncio.gather(*(open_one(s, port, gate)
                                       for s in sessions))
                errs = {}
                for s in sessions:
                    if s.error:
                        errs[s.error] = errs.get(s.error, 0) + 1
                conn.send({"open": n - sum(errs.values()), "errors": errs,
                           "cpu": cpu() - c0,
                           "secs": time.monotonic() - t0})
            elif cmd[0] == "active":
                res = {"accepted": 0, "rcpt": rcpt}
                until = time.monotonic() + cmd[1]
                await asyncio.gather(*(send_for(s, port, body, until, res)
                                       for s in sessions[:nactive]
                                       if s.error is None))
                del res["rcpt"]
                conn.send({"res": res, "cpu": cpu() - c0,
                           "secs": time.monotonic() - t0})
            elif cmd == "check":
                alive = sum(await asyncio.gather(*(check_one(s)
                                                   for s in sessions)))
                errs = {}
                for s in sessions:
                    if s.error:
                        errs[s.error] = errs.get(s.error, 0) + 1
                conn.send({"alive": alive, "errors": errs,
                           "cpu": cpu() - c0,
                           "secs": time.monotonic() - t0})
            else:
                for s in sessions:
                    if s.w is not None:
                        s.w.close()
                conn.send({})
                return
    asyncio.run(main())


class Clients:
    def __init__(self, procs, sessions, active, port, body, rcpt):
        ctx = multiprocessing.get_context("fork")
        self.conns, self.procs = [], []
        for i in range(procs):
            n = sessions // procs + (1 if i < sessions % procs else 0)
            a = active // procs + (1 if i < active % procs else 0)
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=client, args=(i, n, a, port, body, rcpt,
                                                 theirs), daemon=True)
            p.start()
            self.conns.append(mine)
            self.procs.append(p)

    def send(self, cmd):
        for c in self.conns:
            c.send(cmd)

    def gather(self):
        return [c.recv() for c in self.conns]

    def stop(self):
        for c in self.conns:
            try:
                c.send("close")
            except OSError:
                pass
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join()


# ---- the daemon and its processes ----

def proc_mem(pid):
    """{VmRSS, VmHWM, RssAnon} in KB."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                k = ln.split(":")[0]
                if k in ("VmRSS", "VmHWM", "RssAnon"):
                    out[k] = int(ln.split()[1])
    except OSError:
        pass
    return out


def daemon_procs(root):
    """name -> pid of posternd's long-lived processes."""
    out = {"parent": root}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) != root:
                continue
            # setproctitle(3): "posternd: smtp"
            with open("/proc/%s/cmdline" % d, "rb") as f:
                words = f.read().replace(b"\0", b" ").decode().split()
            if words and words[-1] in PROCS:
                out[words[-1]] = int(d)
        except (OSError, ValueError, IndexError):
            pass
    return out


def cpu_secs(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        f = st[st.rindex(")") + 2:].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def snapshot(procs):
    return {n: proc_mem(p) for n, p in procs.items()}


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def nofile(pid):
    try:
        with open("/proc/%d/limits" % pid) as f:
            for ln in f:
                if ln.startswith("Max open files"):
                    return ln.split()[3], ln.split()[4]
    except OSError:
        pass
    return "?", "?"


class NxdomainServer(threading.Thread):
    """A DNS server on 127.0.0.1 that answers every question NXDOMAIN at
    once: authd's lookups (SPF of sender.test, the PTR of each client
    address) take no time, so that the figures are postern's, not those
    of the machine's resolver."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.answered = 0

    def run(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(q) < 12:
                continue
            # the question echoed: ID, QR, the opcode and RD kept, RA,
            # RCODE 3; one question, no records (RFC 1035 4.1.1)
            flags = 0x8000 | (q[2] << 8 & 0x7900) | 0x0080 | 3
            qd = q[12:]
            end = 0
            while end < len(qd) and qd[end] != 0:
                end += qd[end] + 1
            qd = qd[:end + 5]
            self.sock.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0,
                                                  0) + qd, peer)
            self.answered += 1


def stats(build, sock):
    """posternctl show stats as a dict of ints."""
    r = subprocess.run([os.path.join(build, "posternctl"), "-s", sock,
                        "show", "stats"], capture_output=True, text=True)
    out = {}
    for ln in r.stdout.splitlines():
        k, _, v = ln.partition("=")
        if v.strip().isdigit():
            out[k.strip()] = int(v)
    return out


def probes(port, n, first):
    """Seconds from connect() to the 220 line of n new sessions, one after
    another, and the failures."""
    lat, fails = [], {}
    for i in range(n):
        src = "127.250.%d.%d" % ((first + i) // 250, (first + i) % 250 + 1)
        s = socket.socket()
        s.settimeout(30)
        try:
            s.bind((src, 0))
            t0 = time.monotonic()
            s.connect(("127.0.0.1", port))
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(512)
                if not chunk:
                    break
                buf += chunk
            t1 = time.monotonic()
            if buf.startswith(b"220"):
                lat.append(t1 - t0)
                s.sendall(b"QUIT\r\n")
            else:
                k = "banner " + (buf[:3].decode(errors="replace") or "EOF")
                fails[k] = fails.get(k, 0) + 1
        except OSError as e:
            fails[type(e).__name__] = fails.get(type(e).__name__, 0) + 1
        finally:
            s.close()
        time.sleep(0.01)
    return lat, fails


def pct(lat, p):
    if not lat:
        return float("nan")
    s = sorted(lat)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def show_lat(label, lat, fails):
    print("  banner, %-7s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  "
          "(%d probes%s; goal p99 < %d ms)" % (
              label, pct(lat, 50) * 1000, pct(lat, 99) * 1000,
              max(lat) * 1000 if lat else float("nan"), len(lat),
              "".join(", %s %d" % kv for kv in sorted(fails.items())),
              GOAL_P99_MS))


def merge(dicts):
    out = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--active", type=int, default=1000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--port", type=int, default=24300)
    ap.add_argument("--dir", default=BASE)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("sessions: not measured: needs root")
        return 1
    build = os.path.abspath(a.build)
    limit = a.sessions + 100	# the probes come one at a time
    raise_nofile(a.probes + 1024)
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(os.path.join(a.dir, "spool"))
    os.makedirs(os.path.join(a.dir, "mail"))
    os.makedirs(os.path.join(a.dir, "ctl"))
    os.chmod(os.path.join(a.dir, "ctl"), 0o755)
    sock = os.path.join(a.dir, "ctl", "postern.sock")
    conf = os.path.join(a.dir, "postern.conf")
    with open(conf, "w") as f:
        # smtp-timeout: the idle sessions are held for the whole run.
        f.write('spool "%s/spool"\ncontrol socket "%s"\n'
                'listen on 127.0.0.1 port %d\nhostname mx.sessions.bench\n'
                'smtp-max-sessions %d\nsmtp-timeout 1800\n'
                'resolver 127.0.0.1@%d\n'
                'table domains { "localhost" }\n'
                'action "local" maildir "%s/mail/%%{user}"\n'
                'match from any for domain <domains> action "local"\n'
                % (a.dir, sock, a.port, limit, a.port + 53, a.dir))
    dns = NxdomainServer(a.port + 53)
    dns.start()
    body = loadgen.dot_stuff(loadgen.make_message("sessions", a.size))
    logf = open(os.path.join(a.dir, "daemon.log"), "w")
    d = subprocess.Popen([os.path.join(build, "posternd"), "-d", "-f", conf],
                         stdout=logf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    cl = None
    fig = {}
    try:
        if not peers.wait_banner(a.port, d, timeout=30):
            print("sessions: posternd did not start; see %s/daemon.log"
                  % a.dir)
            return 1
        r = subprocess.run([os.path.join(build, "posternctl"), "-s", sock,
                            "pause", "queue"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print("sessions: posternctl pause queue: " + r.stderr.strip())
            return 1
        time.sleep(1)
        procs = daemon_procs(d.pid)
        fig["rest"] = snapshot(procs)
        cl = Clients(a.procs, a.sessions, a.active, a.port, body,
                     loadgen.RCPT)
        log("opening %d sessions from %d client processes" %
            (a.sessions, a.procs))
        cl.send("open")
        fig["open"] = cl.gather()
        time.sleep(1)
        fig["idle"] = snapshot(procs)
        fig["fds"] = {n: (fd_count(p), nofile(p)) for n, p in procs.items()}
        log("%d probes with the sessions held" % a.probes)
        fig["probe_idle"] = probes(a.port, a.probes, 0)
        log("%d sessions sending for %.0f s" % (a.active, a.seconds))
        cpu0 = {n: cpu_secs(p) for n, p in procs.items()}
        st0 = stats(build, sock)
        cl.send(("active", a.seconds))
        t0 = time.monotonic()
        fig["probe_active"] = probes(a.port, a.probes, a.probes)
        fig["active"] = cl.gather()
        fig["active_secs"] = time.monotonic() - t0
        fig["active_cpu"] = {n: cpu_secs(p) - cpu0[n]
                             for n, p in procs.items()}
        st1 = stats(build, sock)
        fig["dns"] = dns.answered
        fig["commits"] = tuple(st1.get(k, 0) - st0.get(k, 0) for k in (
            "queue.commits", "queue.messages_committed"))
        log("checking every session")
        cl.send("check")
        fig["check"] = cl.gather()
        fig["peak"] = snapshot(procs)
    finally:
        if cl is not None:
            cl.stop()
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(30)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
    report(fig, a, limit)
    return 0


def report(fig, a, limit):
    print()
    print("10,000 concurrent sessions: %d sessions (%d sending %d-octet "
          "messages for %.0f s), smtp-max-sessions %d, %d client processes"
          % (a.sessions, a.active, a.size, a.seconds, limit, a.procs))
    if "idle" not in fig:
        return
    rest, idle = fig["rest"], fig["idle"]
    print("  %-8s %10s %14s %10s %10s %8s %16s" % (
        "process", "rest-RSS", "idle-RSS/anon", "peak(HWM)", "KB/idle",
        "fds", "RLIMIT_NOFILE"))
    for n in PROCS:
        if n not in idle:
            continue
        r0 = rest.get(n, {}).get("VmRSS", 0)
        r1 = idle[n].get("VmRSS", 0)
        pk = fig.get("peak", {}).get(n, {}).get("VmHWM", 0)
        fds, (soft, hard) = fig["fds"].get(n, (-1, ("?", "?")))
        print("  %-8s %7.1f MB %7.1f/%5.1f MB %7.1f MB %10.2f %8d %16s" % (
            n, r0 / 1024, r1 / 1024, idle[n].get("RssAnon", 0) / 1024,
            pk / 1024, (r1 - r0) / a.sessions, fds,
            soft if soft == hard else "%s/%s" % (soft, hard)))
    opened = sum(o["open"] for o in fig["open"])
    grow = sum(idle.get(n, {}).get("VmRSS", 0) -
               fig["rest"].get(n, {}).get("VmRSS", 0) for n in SUM)
    print("  per idle session, smtp+authd+queue: %.1f KB  (goal <= %d KB;"
          " (RSS with %d idle - RSS at rest) / %d)" % (
              grow / max(1, opened), GOAL_PER_SESSION_KB, opened, opened))
    errs = merge(o["errors"] for o in fig["open"])
    secs = max(o["secs"] for o in fig["open"])
    print("  opened   %d of %d in %.1f s%s" % (
        opened, a.sessions, secs,
        "".join("; %s %d" % kv for kv in sorted(errs.items()))))
    show_lat("idle", *fig["probe_idle"])
    if "active" in fig:
        res = merge(x["res"] for x in fig["active"])
        secs = max(x["secs"] for x in fig["active"])
        print("  active   %d messages accepted in %.1f s: %.0f msgs/s "
              "from %d sessions%s" % (
                  res.get("accepted", 0), secs,
                  res.get("accepted", 0) / secs, a.active,
                  "".join("; %s %d" % kv for kv in sorted(res.items())
                          if kv[0] != "accepted")))
        print("  daemon CPU while they send (s in %.1f s): %s" % (
            fig["active_secs"], ", ".join(
                "%s %.1f" % (n, fig["active_cpu"][n]) for n in PROCS
                if n in fig["active_cpu"])))
        c, m = fig["commits"]
        print("  group commit while they send: %d commits of %d messages,"
              " %.1f messages per commit, %.0f ms per commit; %d DNS"
              " questions answered NXDOMAIN in all" % (
                  c, m, m / c if c else 0,
                  1000 * fig["active_secs"] / c if c else 0, fig["dns"]))
        show_lat("active", *fig["probe_active"])
    if "check" in fig:
        alive = sum(x["alive"] for x in fig["check"])
        errs = merge(x["errors"] for x in fig["check"])
        refused = (a.sessions - opened) + sum(
            v for k, v in fig["probe_idle"][1].items()) + sum(
            v for k, v in fig["probe_active"][1].items())
        print("  refused  %d, dropped %d (of %d sessions and %d probes, "
              "below the limit of %d; goal 0)%s" % (
                  refused, opened - alive, a.sessions, 2 * a.probes, limit,
                  "".join("; %s %d" % kv for kv in sorted(errs.items()))))
    print("  client CPU (s / wall s, per client process): open %s, "
          "active %s, check %s" % tuple(
              " ".join("%.1f/%.1f" % (x["cpu"], x["secs"])
                       for x in fig.get(k, [])) or "-"
              for k in ("open", "active", "check")))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A million envelopes (issue 19): postern with a very large queue.

One posternd relays the 20 domains d0.bench .. d19.bench through 20
routes to one counting smtp-sink (as bench/relay.py); its queue is paused
while it is filled over SMTP with N envelopes (--envelopes, 1,000,000):
messages of --size octets with --rcpts recipients each (10), all of one
message in one domain, the messages spread over the 20 domains; then
every envelope is held (posternctl hold all) and the queue resumed.
Figures:

  fill          envelopes and messages per second accepted (final 250,
                every message fsynced first), over --procs pipelining
                client processes
  hold all      seconds for posternctl hold all
  disk          the store's data.mdb, allocated bytes, per envelope and
                per message
  show stats    seconds for posternctl show stats (the worst of 5)
  show queue    seconds to its first line and to the last, lines seen,
                the largest RSS (and anonymous RSS) of control, the queue
                and posternctl meanwhile
  restart       SIGTERM to the end of posternd; then from exec until an
                SMTP transaction gets its 250 (accepting mail again)
  release       posternctl release all: seconds for the command, then
                envelopes/s and messages/s delivered to the sink until the
                queue is empty, CPU seconds of the daemon per 1000
                envelopes, peak RSS
  relay figure  bench/relay.py's postern figure on this machine now
                (--relay-messages, 2000; 0 skips it), the reference the
                release rate is compared to

No thresholds: figures only.  The spool and the logs stay in
/var/tmp/postern-bench/million/ until the next run.
"""
import argparse
import multiprocessing
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time


def _load(name, file):
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(here, file))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


relay = _load("bench_relay", "relay.py")
peers = relay.peers
BASE, log, run = peers.BASE, peers.log, peers.run
MBASE = os.path.join(BASE, "million")
DOMAINS = relay.DOMAINS
STALL = 60


class MillionPostern(relay.RelayPostern):
    def __init__(self, port, build, sink, base):
        relay.RelayPostern.__init__(self, port, build, sink)
        self.dir = os.path.join(base, self.name)
        self.logfile = os.path.join(self.dir, "daemon.log")
        self.sock = os.path.join(self.dir, "ctl", "postern.sock")

    def restart(self):
        """Start again on the same spool (start() makes a fresh one)."""
        conf = os.path.join(self.dir, "postern.conf")
        self.log = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "posternd"), "-d", "-f", conf],
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        return self.proc.pid

    def kids(self):
        """name -> pid of the daemon's children."""
        out = {}
        t = peers.proc_table()
        for pid in peers.tree(t, self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            for name in ("control", "queue", "smtp", "mta"):
                if title.endswith(" " + name):
                    out[name] = pid
        return out

    def stat(self, name):
        r = self.ctl("show", "stats")
        m = re.search(r"^%s=(\d+)$" % re.escape(name), r.stdout, re.M)
        return int(m.group(1)) if m else None


# ---- filling, in client processes of their own ----

def _fill_one(job):
    port, first, count, rcpts, size = job
    body = (b"Subject: million\r\n\r\n" +
            b"x" * 76 + b"\r\n") * max(1, size // 78)
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = s.makefile("rb")

    def reply():
        while True:
            ln = f.readline()
            if not ln:
                raise OSError("connection closed")
            if ln[3:4] == b" ":
                return ln

    reply()
    s.sendall(b"EHLO fill.bench\r\n")
    reply()
    ok = 0
    for m in range(first, first + count):
        d = relay.domain(m % DOMAINS).encode()
        cmds = [b"MAIL FROM:<fill@sender.bench>"]
        cmds += [b"RCPT TO:<m%d.r%d@%s>" % (m, r, d) for r in range(rcpts)]
        cmds.append(b"DATA")
        s.sendall(b"\r\n".join(cmds) + b"\r\n")
        replies = [reply() for _ in cmds]
        if not replies[-1].startswith(b"354"):
            continue
        s.sendall(body + b".\r\n")
        if reply().startswith(b"250"):
            ok += 1
    s.sendall(b"QUIT\r\n")
    s.close()
    return ok


def fill(port, nmsg, rcpts, size, procs):
    share = [nmsg // procs + (1 if i < nmsg % procs else 0)
             for i in range(procs)]
    jobs, first = [], 0
    for n in share:
        jobs.append((port, first, n, rcpts, size))
        first += n
    with multiprocessing.Pool(procs) as pool:
        return sum(pool.map(_fill_one, jobs))


# ---- measuring ----

def mem_kb(pid):
    """(VmRSS, RssAnon) in KB."""
    rss = anon = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    rss = int(ln.split()[1])
                elif ln.startswith("RssAnon:"):
                    anon = int(ln.split()[1])
    except OSError:
        pass
    return rss, anon


class PeakSampler(threading.Thread):
    """The largest VmRSS and RssAnon of each pid, every 50 ms."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.peak = {n: (0, 0) for n in self.pids}
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            for n, pid in list(self.pids.items()):
                r, a = mem_kb(pid)
                self.peak[n] = (max(self.peak[n][0], r),
                                max(self.peak[n][1], a))
            self.halt.wait(0.05)

    def stop(self):
        self.halt.set()
        self.join()
        return self.peak


def timed(f, *a):
    t0 = time.time()
    r = f(*a)
    return time.time() - t0, r


def show_queue(srv, expect):
    """posternctl show queue, read to the end: first line, last line."""
    k = srv.kids()
    t0 = time.time()
    p = subprocess.Popen([os.path.join(srv.build, "posternctl"), "-s",
                          srv.sock, "show", "queue"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = PeakSampler({"control": k["control"], "queue": k["queue"],
                           "posternctl": p.pid})
    sampler.start()
    first = None
    n = 0
    held = 0
    for ln in p.stdout:
        if first is None:
            first = time.time() - t0
        n += 1
        if b" held " in ln:
            held += 1
    p.wait()
    total = time.time() - t0
    peak = sampler.stop()
    return {"first": first if first is not None else total, "total": total,
            "lines": n, "held": held, "peak": peak, "expect": expect,
            "rc": p.returncode}


def accept_one(port, timeout=30):
    """Seconds until one SMTP transaction gets its 250."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as c:
                c.sendmail("probe@sender.bench", ["probe@d0.bench"],
                           b"Subject: probe\r\n\r\nprobe\r\n")
                return time.time() - t0
        except (OSError, smtplib.SMTPException):
            time.sleep(0.02)
    return None


def relay_reference(args):
    if args.relay_messages <= 0 or not args.loadgen:
        return None
    r = run([sys.executable, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "relay.py"), "--build", args.build,
        "--loadgen", args.loadgen, "--messages", str(args.relay_messages),
        "--size", str(args.size), "--only", "postern", "--port",
        str(args.port + 10)])
    m = re.search(r"^postern\s+1\s+\d+\s+[\d.]+\s+[\d.]+\s+(\d+)", r.stdout,
                  re.M)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--loadgen", default=None,
                    help="bench/smtp_load, for the relay reference figure")
    ap.add_argument("--envelopes", type=int, default=1000000)
    ap.add_argument("--rcpts", type=int, default=10)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--port", type=int, default=24200,
                    help="the sink's; posternd takes the next one")
    ap.add_argument("--relay-messages", type=int, default=2000)
    ap.add_argument("--no-release", action="store_true")
    ap.add_argument("--dir", default=MBASE,
                    help="for the spool and logs (%(default)s)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.loadgen:
        args.loadgen = os.path.abspath(args.loadgen)
    nmsg = args.envelopes // args.rcpts
    nenv = nmsg * args.rcpts
    why = peers.ensure_postfix()
    if why:
        print("million: not measured: no smtp-sink: " + why)
        return 1
    os.makedirs(args.dir, exist_ok=True)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    fig = {}
    fig["relay_ref"] = relay_reference(args)
    sport = args.port
    sink = relay.CountingSink(sport, args.dir)
    srv = MillionPostern(sport + 1, args.build, sport, args.dir)
    try:
        for p in (sport, sport + 1):
            if not peers.port_free(p):
                print("million: port %d is in use" % p)
                return 1
        sink.start()
        if not peers.wait_banner(sport, sink.proc):
            print("million: smtp-sink did not start: " + sink.tail())
            return 1
        srv.start()
        if not peers.wait_banner(srv.port, srv.proc):
            print("million: posternd did not start: " + srv.tail())
            return 1
        time.sleep(0.5)
        srv.hold()
        log("filling: %d messages x %d recipients x %d octets" %
            (nmsg, args.rcpts, args.size))
        sampler = peers.MemSampler(srv.proc.pid)
        sampler.start()
        secs, got = timed(fill, srv.port, nmsg, args.rcpts, args.size,
                          args.procs)
        fig["fill_rss"], _ = sampler.stop()
        fig["fill"] = (secs, got)
        if got != nmsg:
            print("million: only %d of %d messages accepted (%s)" %
                  (got, nmsg, srv.tail()))
            return 1
        log("filled in %.1f s; holding" % secs)
        fig["hold"], r = timed(srv.ctl, "hold", "all")
        log("hold: " + r.stdout.strip())
        srv.release()		# the queue resumes: nothing is due
        data = os.path.join(srv.dir, "spool", "queue", "data.mdb")
        st = os.stat(data)
        fig["disk"] = (st.st_blocks * 512, st.st_size)
        fig["stats"] = max(timed(srv.ctl, "show", "stats")[0]
                           for _ in range(5))
        log("show queue")
        fig["list"] = show_queue(srv, nenv)
        log("restart")
        t0 = time.time()
        srv.stop()
        fig["stop"] = time.time() - t0
        t0 = time.time()
        srv.restart()
        acc = accept_one(srv.port)
        fig["restart"] = None if acc is None else time.time() - t0
        fig["envelopes_after"] = srv.stat("queue.envelopes")
        if args.no_release:
            return 0
        log("release")
        before = srv.stat("queue.envelopes")
        msampler = peers.MemSampler(srv.proc.pid)
        msampler.start()
        cpu0, t0 = peers.tree_cpu(srv.proc.pid), time.time()
        # show stats while release all runs: the queue serves it
        # between the action's transactions
        rp = subprocess.Popen([os.path.join(srv.build, "posternctl"), "-s",
                               srv.sock, "release", "all"],
                              stdout=subprocess.PIPE, text=True)
        during = []
        while rp.poll() is None:
            during.append(timed(srv.ctl, "show", "stats")[0])
        out = rp.communicate()[0]
        fig["release_cmd"] = time.time() - t0
        fig["stats_during"] = (max(during) if during else None, len(during))
        log("release: " + out.strip())
        last, moved, left = -1, time.time(), nenv
        while True:
            left = srv.stat("queue.envelopes")
            if left == 0:
                break
            if left != last:
                last, moved = left, time.time()
            elif time.time() - moved > STALL:
                break
            time.sleep(0.2)
        secs = time.time() - t0
        cpu = peers.tree_cpu(srv.proc.pid) - cpu0
        rss, _ = msampler.stop()
        fig["release"] = {"seconds": secs, "delivered": before - left,
                          "sink": sink.count(), "cpu": cpu, "rss": rss,
                          "left": left}
    finally:
        srv.stop()
        sink.stop()
        report(fig, args, nmsg, nenv)
    return 0


def report(fig, args, nmsg, nenv):
    print()
    print("A million envelopes: %d envelopes = %d messages x %d recipients"
          " x %d octets, %d domains" % (nenv, nmsg, args.rcpts, args.size,
                                        DOMAINS))
    if "fill" in fig:
        s, got = fig["fill"]
        print("  fill        %8.1f s  %9.0f envelopes/s  %7.0f msgs/s"
              "  (%d client processes; peak RSS of the daemon %.0f MB)" %
              (s, got * args.rcpts / s, got / s, args.procs,
               fig["fill_rss"] / 1048576))
    if "hold" in fig:
        print("  hold all    %8.2f s" % fig["hold"])
    if "disk" in fig:
        blocks, size = fig["disk"]
        print("  disk        %8.0f MB  %6.0f bytes/envelope  %6.0f bytes/"
              "message  (data.mdb allocated; file size %.0f MB)" %
              (blocks / 1048576, blocks / nenv, blocks / nmsg,
               size / 1048576))
    if "stats" in fig:
        print("  show stats  %8.3f s  (worst of 5)" % fig["stats"])
    if "list" in fig:
        L = fig["list"]
        pk = L["peak"]
        print("  show queue  %8.3f s to the first line, %.1f s to the last"
              " (%d lines, %d held, exit %d)" % (L["first"], L["total"],
                                                 L["lines"], L["held"],
                                                 L["rc"]))
        print("              peak RSS / anonymous RSS: control %.1f / %.1f"
              " MB, queue %.1f / %.1f MB, posternctl %.1f / %.1f MB" % (
                  pk["control"][0] / 1024, pk["control"][1] / 1024,
                  pk["queue"][0] / 1024, pk["queue"][1] / 1024,
                  pk["posternctl"][0] / 1024, pk["posternctl"][1] / 1024))
    if "stop" in fig:
        print("  restart     %8.2f s to stop; %s to accepting mail again"
              " (exec to the 250 of a new message); %s envelopes after" %
              (fig["stop"], "%.2f s" % fig["restart"] if fig.get("restart")
               is not None else "NOT", fig.get("envelopes_after")))
    if "release" in fig:
        r = fig["release"]
        print("  release     %8.2f s for release all; then %.1f s until"
              " the queue was empty: %.0f envelopes/s, %.0f msgs/s at the"
              " sink, %.2f cpu-s/1000 envelopes, peak RSS %.0f MB%s" % (
                  fig["release_cmd"], r["seconds"],
                  r["delivered"] / r["seconds"],
                  r["sink"] / r["seconds"], r["cpu"] * 1000 /
                  max(1, r["delivered"]), r["rss"] / 1048576,
                  "" if r["left"] == 0 else
                  "  STALLED with %d left" % r["left"]))
    if fig.get("stats_during") and fig["stats_during"][0] is not None:
        print("  show stats  %8.3f s  at worst, %d times during release all"
              % fig["stats_during"])
    if fig.get("relay_ref"):
        print("  relay figure (bench/relay.py, postern, %d messages, now):"
              " %.0f msgs/s" % (args.relay_messages, fig["relay_ref"]))
        if "release" in fig:
            r = fig["release"]
            print("  release / relay figure, msgs/s: %.2fx" % (
                r["sink"] / r["seconds"] / fig["relay_ref"]))
    print("Spool and logs: %s/postern/" % args.dir)


if __name__ == "__main__":
    sys.exit(main())

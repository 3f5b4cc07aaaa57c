#!/usr/bin/python3
"""Outbound at scale (issue 19): 1,000 destination domains over 20 sinks,
a fraction of them slow or refusing, routed by DNS.

    bench/relay_scale.py [--build B] [--per-domain N] [--size S] [--only P]

Runs itself inside a private network namespace (unshare -n), so that the
sinks can listen on port 25 of 127.0.0.x and nothing else on the machine
is in the way.  Set-up (all in /var/tmp/postern-bench/scale/):

  DNS     nsd (regress/dnsbed.py) serving the unsigned zone scale.test
          under a signed fake root on 127.0.53.1: dN.scale.test MX 10
          sK.scale.test, sK A 127.0.0.x.  posternd's `resolver` points at
          it, so every destination goes through mxres (MX, then A).
  sinks   bench/scale_sink.py: 18 healthy sinks on 127.0.0.10 .. .27
          (50 domains each), one slow sink on 127.0.0.28 (50 domains: every
          reply 2-5 s late), one refusing sink with two listeners:
          127.0.0.29 answers 421 at the greeting (25 domains), 127.0.0.30
          accepts the connection and never answers (25 domains).
  postern mta-max-sessions and mta-max-per-domain at their defaults (100,
          10), mta-mx-allow-network 127.0.0.0/8, one relay action.

Two runs, each with the queue paused while it is filled over SMTP and
then resumed, N messages (--per-domain, default 10) to each domain, one
recipient each, injected round-robin over the domains:
  clean   the 900 healthy domains only
  mixed   all 1,000 domains: the slow and refusing ones are in the queue
          with the healthy ones

Printed per run: healthy messages at the sinks and the seconds until the
last of them (from the release), healthy msgs/s, peak RSS of the mta and
the queue (VmHWM-like: largest VmRSS sampled every 100 ms), the most
sessions any one domain had open at once (counted at the sinks: never
above mta-max-per-domain), connections to the refusing and stalled
listeners, the queue's deferred count (queue.tempfailed of show stats)
and the mta's delivery results at the end.  The mixed run is stopped
once every healthy message is in (or after --limit seconds): the slow
and stalled mail is then still under way, which is the point.
"""
import argparse
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "regress"))
from dnsbed import DnsBed  # noqa: E402


def _bench_peers():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "bench_peers", os.path.join(HERE, "peers.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = mod
    spec.loader.exec_module(mod)
    return mod


peers = _bench_peers()
log, run = peers.log, peers.run
SBASE = os.path.join(peers.BASE, "scale")
ZONE = "scale.test"
NDOM = 1000
NHEALTHY_SINKS = 18
PORT = 24110


def kind(i):
    """What domain i's MX does."""
    if i % 20 == 18:
        return "slow"
    if i % 40 == 19:
        return "banner421"
    if i % 40 == 39:
        return "stall"
    return "ok"


def sink_addr(i):
    k = kind(i)
    if k == "ok":
        return "127.0.0.%d" % (10 + i % NHEALTHY_SINKS)
    return {"slow": "127.0.0.28", "banner421": "127.0.0.29",
            "stall": "127.0.0.30"}[k]


def domain(i):
    return "d%d.%s" % (i, ZONE)


class Sinks:
    """20 sink processes, stopped by pid."""

    def __init__(self, d):
        self.dir = d
        self.procs = []

    def start(self):
        specs = [[["127.0.0.%d" % (10 + k), 25, "ok"]]
                 for k in range(NHEALTHY_SINKS)]
        specs.append([["127.0.0.28", 25, "slow"]])
        specs.append([["127.0.0.29", 25, "banner421"],
                      ["127.0.0.30", 25, "stall"]])
        self.stats = []
        for n, listen in enumerate(specs):
            path = os.path.join(self.dir, "sink%d.json" % n)
            for p in (path, path + ".ready"):
                if os.path.exists(p):
                    os.unlink(p)
            conf = path + ".conf"
            with open(conf, "w") as f:
                json.dump({"stats": path, "listen": listen}, f)
            logf = open(os.path.join(self.dir, "sink%d.log" % n), "w")
            self.procs.append(subprocess.Popen(
                ["/usr/bin/python3", "-S", os.path.join(HERE,
                                                        "scale_sink.py"),
                 conf], stdout=logf, stderr=logf,
                stdin=subprocess.DEVNULL))
            self.stats.append(path)
        deadline = time.time() + 20
        for p, path in zip(self.procs, self.stats):
            while not os.path.exists(path + ".ready"):
                if p.poll() is not None or time.time() > deadline:
                    raise RuntimeError("a sink did not start: see %s" %
                                       self.dir)
                time.sleep(0.05)

    def read(self):
        tot = {"msgs": {}, "peak": {}, "conns": {}, "peak_addr": {}}
        for path in self.stats:
            try:
                with open(path) as f:
                    s = json.load(f)
            except (OSError, ValueError):
                continue
            for key in tot:
                tot[key].update(s[key])
        return tot

    def cpu(self):
        return sum(peers.tree_cpu(p.pid) for p in self.procs)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


class ScalePostern(peers.Postern):
    def __init__(self, build, bed):
        super().__init__(PORT, build, SBASE)
        self.bed = bed

    def routing(self):
        return ('hostname relay.bench.postern.test\n'
                'resolver %s trust-anchor "%s"\n'
                'mta-mx-allow-network 127.0.0.0/8\n'
                'action "out" relay\n'
                'match from any for any action "out"\n' % (
                    self.bed.resolver.replace("@", "@"),
                    self.bed.trust_anchor))

    def ctl(self, *args):
        return run([os.path.join(self.build, "posternctl"), "-s",
                    self.sock] + list(args))

    def stats(self):
        out = {}
        for line in self.ctl("show", "stats").stdout.splitlines():
            name, eq, value = line.partition("=")
            if eq:
                out[name.strip()] = value.strip()
        return out


class ProcRss(threading.Thread):
    """Peak VmRSS per posternd process, by its title (posternd: mta ...)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.peak = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t = peers.proc_table()
            for pid in peers.tree(t, self.root):
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        title = f.read().replace(b"\0", b" ").decode(
                            "ascii", "replace")
                except OSError:
                    continue
                m = re.search(r"-P (\w+)|posternd: (\w+)", title)
                name = (m.group(1) or m.group(2)) if m else "parent"
                self.peak[name] = max(self.peak.get(name, 0), t[pid][2])
            self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def inject(port, doms, per, size, threads=8):
    """per messages to each domain, round-robin; the count accepted."""
    body = ("Subject: scale\r\n\r\n" + ("x" * 76 + "\r\n") *
            max(1, size // 78)).encode()
    jobs = [domain(i) for _ in range(per) for i in doms]
    lock = threading.Lock()
    accepted = [0]
    pos = [0]

    def worker():
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("inject.bench")
        n = 0
        while True:
            with lock:
                if pos[0] >= len(jobs):
                    break
                d = jobs[pos[0]]
                pos[0] += 1
            try:
                s.sendmail("bench@inject.bench", ["user@" + d], body)
                n += 1
            except smtplib.SMTPException:
                pass
        s.quit()
        with lock:
            accepted[0] += n

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return accepted[0]


def measure(name, args, bed, doms):
    d = os.path.join(SBASE, "sinks-" + name)
    os.makedirs(d, exist_ok=True)
    sinks = Sinks(d)
    srv = ScalePostern(args.build, bed)
    healthy = [i for i in doms if kind(i) == "ok"]
    want = len(healthy) * args.per_domain
    try:
        sinks.start()
        root = srv.start(*args.flags)
        if root is None or not peers.wait_banner(PORT, srv.proc):
            return {"error": "posternd did not start: " + srv.tail()}
        r = srv.ctl("pause", "queue")
        if r.returncode != 0:
            return {"error": "pause queue: " + r.stdout}
        t0 = time.time()
        n = inject(PORT, doms, args.per_domain, args.size)
        log("%s: %d messages queued in %.1f s" % (name, n, time.time() - t0))
        if n != len(doms) * args.per_domain:
            return {"error": "only %d of %d accepted" %
                    (n, len(doms) * args.per_domain)}
        rss = ProcRss(root)
        rss.start()
        scpu0, cpu0 = sinks.cpu(), peers.tree_cpu(root)
        t0 = time.time()
        srv.ctl("resume", "queue")
        got, first, last_change, prev = 0, None, time.time(), -1
        while True:
            st = sinks.read()
            got = sum(st["msgs"].get(domain(i), 0) for i in healthy)
            now = time.time()
            if got and first is None:
                first = now - t0
            if got >= want or now - t0 > args.limit:
                break
            if got != prev:
                prev, last_change = got, now
            time.sleep(0.1)
        secs = time.time() - t0
        cpu = peers.tree_cpu(root) - cpu0
        scpu = sinks.cpu() - scpu0
        stats = srv.stats()
        peak = rss.stop()
        st = sinks.read()
        return {
            "healthy": got, "want": want, "seconds": secs,
            "first": first or secs, "rate": got / secs,
            "cpu1000": cpu * 1000 / max(got, 1),
            "sinkcpu": scpu / secs,
            "rss": peak,
            "peak_dom": max(st["peak"].values()) if st["peak"] else 0,
            "peak_dom_bad": max([v for k, v in st["peak"].items()
                                 if kind(int(k[1:].split(".")[0])) != "ok"]
                                or [0]),
            "slow_msgs": sum(st["msgs"].get(domain(i), 0) for i in doms
                             if kind(i) == "slow"),
            "conn421": st["conns"].get("127.0.0.29", 0),
            "connstall": st["conns"].get("127.0.0.30", 0),
            "stall_open": st["peak_addr"].get("127.0.0.30", 0),
            "slow_open": st["peak_addr"].get("127.0.0.28", 0),
            "tempfailed": stats.get("queue.tempfailed", "?"),
            "mta": {k: v for k, v in stats.items()
                    if k.startswith("mta.delivery") or k == "mta.sessions"},
        }
    finally:
        srv.stop()
        sinks.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--per-domain", type=int, default=10)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--limit", type=float, default=300,
                    help="seconds a run may take at most")
    ap.add_argument("--only", default="clean,mixed")
    ap.add_argument("-v", action="store_true", help="posternd -v")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.flags = ["-v"] if args.v else []

    if os.environ.get("POSTERN_SCALE_NETNS") != "1":
        env = dict(os.environ, POSTERN_SCALE_NETNS="1")
        return subprocess.call(
            ["unshare", "-n", "sh", "-c",
             'ip link set lo up && exec "$@"', "sh", sys.executable,
             os.path.abspath(__file__)] + sys.argv[1:], env=env)

    os.makedirs(SBASE, exist_ok=True)
    results = {}
    recs = ["s%d A 127.0.0.%d" % (k, 10 + k) for k in range(NHEALTHY_SINKS)]
    recs += ["slow A 127.0.0.28", "refuse A 127.0.0.29",
             "stall A 127.0.0.30"]
    for i in range(NDOM):
        k = kind(i)
        mx = "s%d" % (i % NHEALTHY_SINKS) if k == "ok" else \
            {"slow": "slow", "banner421": "refuse", "stall": "stall"}[k]
        recs.append("d%d MX 10 %s" % (i, mx))
    bed = DnsBed(os.path.join(SBASE, "dns"))
    bed.zone(ZONE, recs, signed=False)
    try:
        bed.start()
        for name in args.only.split(","):
            doms = [i for i in range(NDOM)
                    if name == "mixed" or kind(i) == "ok"]
            log("%s: %d domains x %d messages" % (name, len(doms),
                                                  args.per_domain))
            results[name] = measure(name, args, bed, doms)
    finally:
        bed.stop()

    print()
    print("Outbound at scale: 1,000 domains by MX over 20 sinks (900"
          " healthy over 18 sinks; 50 slow: every reply 2-5 s late; 25"
          " answer 421 at the greeting; 25 never answer), %d x %d-octet"
          " messages per domain" % (args.per_domain, args.size))
    print("%-6s %9s %8s %7s %8s %8s %8s %8s %9s %9s" % (
        "run", "healthy", "seconds", "first", "msgs/s", "cpu/1000",
        "mta-MB", "queue-MB", "max/dom", "sink-cpu"))
    for name, r in results.items():
        if "error" in r:
            print("%-6s not measured: %s" % (name, r["error"]))
            continue
        print("%-6s %4d/%-4d %8.1f %7.2f %8.0f %8.2f %8.1f %8.1f %9d %9.2f"
              % (name, r["healthy"], r["want"], r["seconds"], r["first"],
                 r["rate"], r["cpu1000"], r["rss"].get("mta", 0) / 1048576,
                 r["rss"].get("queue", 0) / 1048576, r["peak_dom"],
                 r["sinkcpu"]))
    m = results.get("mixed")
    if m and "error" not in m:
        print("mixed: while the healthy mail went out: slow messages"
              " delivered %d, most slow sessions at once %d; 421"
              " connections %d; stalled connections %d (most at once %d);"
              " most sessions of one bad domain %d; queue.tempfailed %s;"
              " %s" % (m["slow_msgs"], m["slow_open"], m["conn421"],
                      m["connstall"], m["stall_open"], m["peak_dom_bad"],
                      m["tempfailed"],
                      " ".join("%s=%s" % kv for kv in sorted(
                          m["mta"].items()))))
    c = results.get("clean")
    if m and c and "error" not in m and "error" not in c:
        print("healthy msgs/s mixed/clean: %.2f" % (m["rate"] / c["rate"]))
    print("sink-cpu: the sinks' CPU seconds per second of run (2 cores in"
          " all).  Logs in %s/postern/." % SBASE)
    bad = any("error" in r or r["healthy"] < r["want"]
              for r in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

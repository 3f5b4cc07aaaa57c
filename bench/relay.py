#!/usr/bin/python3
"""Outbound relay side by side: posternd, OpenSMTPD and Postfix, one run.

Each server is configured to relay mail for 20 domains, d0.bench ..
d19.bench, each through its own route (a postern transport, a Postfix
master.cf transport, an OpenSMTPD action) to one counting sink: Postfix's
smtp-sink -c on 127.0.0.1, which discards every message and prints a
running count of the messages it received.

Measured "from the queue": with outbound delivery held (posternctl pause
queue; Postfix defer_transports; smtpctl pause mta), N messages of S
octets are injected over SMTP, recipients spread evenly over the 20
domains; then delivery is released and the clock runs until the sink has
received all N.  Figures per server:

  msgs/s       N / seconds from the release until the sink counted N
  first-s      seconds from the release until the sink counted the first
               message (the latency that a small N cannot amortize)
  cpu-s/1000   the daemon's CPU seconds (its whole process tree) over the
               same interval, per 1000 messages
  sink-cpu     the sink's own CPU seconds per 1000 messages: if it nears
               1 s per second of run the sink, not the server, is the
               limit
  peak RSS     largest sum of VmRSS over the daemon's processes

Each server keeps its defaults for concurrency: postern
mta-max-per-domain 10 per transport (100 sessions in all); Postfix 20 per
destination (starting at 5, growing while deliveries succeed) and 100 smtp
processes per transport; OpenSMTPD its own limits (see bench/README).
Every daemon started is stopped by pid (or postfix stop) whatever happens.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

# bench/peers.py, by its path: the test suite has a regress/peers.py too.
def _bench_peers():
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "bench_peers", os.path.join(here, "peers.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = mod
    spec.loader.exec_module(mod)
    return mod


peers = _bench_peers()
BASE, log, run = peers.BASE, peers.log, peers.run

DOMAINS = 20
STALL = 30
RBASE = os.path.join(BASE, "relay")


def domain(i):
    return "d%d.bench" % i


class CountingSink(peers.Server):
    """smtp-sink -c: "sess=S quit=Q mesg=M" after every message, CR
    separated, on its standard output."""
    name = "smtp-sink"

    def start(self):
        self.fresh_dir()
        # -m: more simultaneous sessions than any server opens (Postfix
        # may open 20 per destination); 1024: listen backlog.
        return self.popen(["/usr/sbin/smtp-sink", "-c", "-m", "1024",
                           "-u", "nobody", "127.0.0.1:%d" % self.port,
                           "1024"])

    def count(self):
        try:
            with open(self.logfile, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 200))
                tail = f.read().decode("ascii", "replace")
        except OSError:
            return 0
        m = re.findall(r"mesg=(\d+)", tail)
        return int(m[-1]) if m else 0


class RelayPostern(peers.Postern):
    def __init__(self, port, build, sink):
        super().__init__(port, build, RBASE)
        self.sink = sink
        self.flags = []

    def start(self):
        return super().start(*self.flags)

    def routing(self):
        # mta-max-per-domain left at its default, 10.
        conf = ['hostname bench.postern.test',
                'action "out" relay']
        for i in range(DOMAINS):
            conf.append('transport t%d smarthost "smtp://127.0.0.1:%d"' %
                        (i, self.sink))
        for i in range(DOMAINS):
            conf.append('route for domain "%s" transport t%d' %
                        (domain(i), i))
        conf.append('match from any for any action "out"')
        return "\n".join(conf) + "\n"

    def ctl(self, *args):
        return run([os.path.join(self.build, "posternctl"), "-s",
                    self.sock] + list(args))

    def hold(self):
        return self.ctl("pause", "queue")

    def release(self):
        return self.ctl("resume", "queue")


class RelayOpenSMTPD(peers.OpenSMTPD):
    def __init__(self, port, sink):
        super().__init__(port, RBASE)
        self.sink = sink

    def routing(self):
        conf = []
        for i in range(DOMAINS):
            conf.append('action "d%d" relay host smtp://127.0.0.1:%d'
                        ' helo d%d.relay.bench' % (i, self.sink, i))
        for i in range(DOMAINS):
            conf.append('match from any for domain "%s" action "d%d"' %
                        (domain(i), i))
        return "\n".join(conf) + "\n"

    def hold(self):
        return self.ctl("pause", "mta")

    def release(self):
        return self.ctl("resume", "mta")


class RelayPostfix(peers.Postfix):
    """Twenty master.cf transports t0..t19, all smtp(8), one per domain:
    Postfix keys its queues by transport and next hop, so twenty entries
    naming the same smtp:[127.0.0.1]:port would make one destination."""

    def __init__(self, port, sink):
        super().__init__(port, RBASE)
        self.sink = sink

    def transports(self):
        return " ".join("t%d" % i for i in range(DOMAINS))

    def main_extra(self):
        path = os.path.join(self.dir, "conf", "transport")
        with open(path, "w") as f:
            for i in range(DOMAINS):
                f.write("%s t%d:[127.0.0.1]:%d\n" % (domain(i), i,
                                                     self.sink))
        return ("relay_domains = %s\n"
                "transport_maps = texthash:%s\n"
                "smtp_tls_security_level = none\n"
                "defer_transports = %s\n" % (
                    " ".join(domain(i) for i in range(DOMAINS)), path,
                    self.transports()))

    def master_extra(self):
        # maxproc 5 each: the 100 smtp(8) processes of Debian's one smtp
        # service (default_process_limit), spread over the 20 domains.
        return "".join("t%d unix - - n - %d smtp\n" % (i, 100 // DOMAINS)
                       for i in range(DOMAINS))

    def hold(self):
        # defer_transports is in main.cf from the start.
        return None

    def release(self):
        """Drop defer_transports, reload, and flush the deferred queue.
        Returns only when the reloaded queue manager is running."""
        r = run(["postconf", "-c", self.conf, "-e", "defer_transports ="])
        if r.returncode != 0:
            return r
        qmgr = self.qmgr_pid()
        r = run(["postfix", "-c", self.conf, "reload"])
        if r.returncode != 0:
            return r
        for _ in range(100):
            now = self.qmgr_pid()
            if now is not None and now != qmgr:
                break
            time.sleep(0.05)
        return run(["postqueue", "-c", self.conf, "-f"])

    def qmgr_pid(self):
        t = peers.proc_table()
        root = self.master_pid()
        for pid in peers.tree(t, root) if root else []:
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == "qmgr":
                        return pid
            except OSError:
                pass
        return None

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "spool/pid/master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None


def failed(r):
    return r is not None and r.returncode != 0


def inject(srv, args):
    """N messages, an even share to each domain; the number accepted."""
    share = [args.messages // DOMAINS + (1 if i < args.messages % DOMAINS
                                         else 0) for i in range(DOMAINS)]
    total = 0
    for i, n in enumerate(share):
        if n == 0:
            continue
        r = run([args.loadgen, "-c", str(min(4, n)), "-s", str(args.size),
                 "-m", str(n), "-r", "rcpt%d@%s" % (i, domain(i)),
                 "127.0.0.1", str(srv.port)], stderr=subprocess.PIPE)
        toks = r.stdout.split()
        got = dict(zip(toks[::2], toks[1::2]))
        total += int(got.get("accepted", 0))
    return total


def measure(srv, sink, args):
    if not peers.port_free(srv.port):
        return {"error": "port %d is in use" % srv.port}
    root = srv.start()
    if root is None or not peers.wait_banner(srv.port, srv.proc):
        return {"error": "did not start: " + srv.tail()}
    time.sleep(0.5)
    r = srv.hold()
    if failed(r):
        return {"error": "cannot hold delivery: " + r.stdout.strip()}
    accepted = inject(srv, args)
    if accepted != args.messages:
        return {"error": "only %d of %d messages accepted" %
                (accepted, args.messages)}
    # Postfix defers every message at once through its held transports;
    # the others hold them queued.  Nothing may have reached the sink.
    time.sleep(1)
    if sink.count() != 0:
        return {"error": "%d messages reached the sink while held" %
                sink.count()}
    sampler = peers.MemSampler(root)
    sampler.start()
    cpu0, scpu0, t0 = peers.tree_cpu(root), \
        peers.tree_cpu(sink.proc.pid), time.time()
    r = srv.release()
    if failed(r):
        sampler.stop()
        return {"error": "cannot release delivery: " + r.stdout.strip()}
    n, last, moved, first = 0, -1, time.time(), None
    while True:
        n = sink.count()
        if n and first is None:
            first = time.time() - t0
        if n >= accepted:
            break
        if n != last:
            last, moved = n, time.time()
        elif time.time() - moved > STALL:
            break
        time.sleep(0.02)
    secs = time.time() - t0
    cpu = peers.tree_cpu(root) - cpu0
    scpu = peers.tree_cpu(sink.proc.pid) - scpu0
    rss, _ = sampler.stop()
    return {"messages": accepted, "relayed": n, "seconds": secs,
            "first": first if first is not None else secs,
            "rate": n / secs, "cpu1000": cpu * 1000 / max(n, 1),
            "sink1000": scpu * 1000 / max(n, 1), "rss": rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--port", type=int, default=24100,
                    help="the sink's port; the servers take the next three")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", default="postern,opensmtpd,postfix")
    ap.add_argument("-v", action="store_true",
                    help="posternd -v (its log in %s/postern/)" % RBASE)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.loadgen = os.path.abspath(args.loadgen)

    os.makedirs(RBASE, exist_ok=True)
    missing = {}
    why = peers.ensure_postfix()
    if why:
        print("SMTP outbound: not measured: no smtp-sink: " + why)
        return 1
    why = peers.ensure_opensmtpd(peers.OpenSMTPD.root)
    if why:
        missing["opensmtpd"] = why

    sport = args.port
    servers = [RelayPostern(sport + 1, args.build, sport),
               RelayOpenSMTPD(sport + 2, sport),
               RelayPostfix(sport + 3, sport)]
    servers = [s for s in servers if s.name in args.only.split(",")]
    for s in servers:
        if s.name == "postern" and args.v:
            s.flags = ["-v"]
    results = {s.name: [] for s in servers}
    current = []

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for run_no in range(args.runs):
            for srv in servers:
                if srv.name in missing:
                    results[srv.name].append({"error": missing[srv.name]})
                    continue
                log("%s on 127.0.0.1:%d: %d messages x %d octets to %d"
                    " domains, relayed to smtp-sink on 127.0.0.1:%d" %
                    (srv.name, srv.port, args.messages, args.size, DOMAINS,
                     sport))
                sink = CountingSink(sport, RBASE)
                if not peers.port_free(sport):
                    results[srv.name].append(
                        {"error": "port %d is in use" % sport})
                    continue
                current[:] = [sink, srv]
                try:
                    sink.start()
                    if not peers.wait_banner(sport, sink.proc):
                        r = {"error": "smtp-sink did not start: " +
                             sink.tail()}
                    else:
                        r = measure(srv, sink, args)
                finally:
                    srv.stop()
                    sink.stop()
                    current[:] = []
                results[srv.name].append(r)
    finally:
        for s in current:
            s.stop()

    print()
    print("SMTP outbound relay, %d x %d-octet messages queued while held,"
          " to %d domains, each its own route to one smtp-sink on"
          " 127.0.0.1" % (args.messages, args.size, DOMAINS))
    print("%-10s %4s %8s %8s %7s %8s %10s %10s %7s" % (
        "server", "run", "relayed", "seconds", "first-s", "msgs/s",
        "cpu-s/1000",
        "sink-cpu", "RSS-MB"))
    bad = 0
    for srv in servers:
        for i, r in enumerate(results[srv.name]):
            if "error" in r:
                print("%-10s %4d not measured: %s" % (srv.name, i + 1,
                                                      r["error"]))
                continue
            print("%-10s %4d %8d %8.2f %7.2f %8.0f %10.2f %10.2f %7.1f" % (
                srv.name, i + 1, r["relayed"], r["seconds"], r["first"],
                r["rate"],
                r["cpu1000"], r["sink1000"], r["rss"] / 1048576))
            if r["relayed"] != r["messages"]:
                bad = 1
                print("%-10s      MISSING: %d queued, %d at the sink after"
                      " %d s without progress (see %s/%s/)" % (
                          "", r["messages"], r["relayed"], STALL, RBASE,
                          srv.name))

    def best(name):
        ok = [r for r in results.get(name, []) if "error" not in r]
        return max(ok, key=lambda r: r["rate"]) if ok else None
    p = best("postern")
    if p:
        print("ratios postern/peer, best run of each: msgs/s (higher is"
              " better), cpu-s/1000 (lower is better)")
        for peer in ("postfix", "opensmtpd"):
            q = best(peer)
            if q:
                print("  vs %-10s msgs/s %.2fx  cpu/1000 %.2fx" % (
                    peer, p["rate"] / q["rate"],
                    p["cpu1000"] / q["cpu1000"]))
    print("Defaults kept: postern mta-max-per-domain 10 per transport;"
          " Postfix destination concurrency 20 (slow start from 5);"
          " OpenSMTPD's own mta limits.")
    print("Logs and spools stay in %s/SERVER/ until the next run." % RBASE)
    return bad


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Inbound SMTP side by side: posternd, OpenSMTPD and Postfix, one run.

Each server listens on its own 127.0.0.1 port with a throwaway
configuration under /var/tmp/postern-bench and delivers to the Maildir of
one local user (postern-bench).  bench/smtp_load drives N sessions of
S-octet messages at each for T seconds; then the bench waits until every
accepted message is in the Maildir.  Figures per server:

  msgs/s       messages accepted (final 250) per second of load
  cpu-s/1000   the daemon's CPU seconds (user+system, every process of
               its tree, and through the parents' cutime/cstime the
               short-lived ones: delivery children, Postfix's
               re-spawned daemons) per 1000 messages, from the start of
               the load until the last message is in the Maildir
  peak RSS     the largest sum of VmRSS over the daemon's processes,
               sampled every 100 ms (shared pages counted once per
               process, as ps(1) would); peak PSS beside it splits
               shared pages among their sharers, fairer to designs of
               many processes
  refused      transactions that did not end in 250 (the client then
               starts a new session, as an MTA would)

Postfix's smtp-sink (accepts and discards) is the reference line: the
protocol's limit on loopback with this client.

Postfix is installed with apt-get when missing; OpenSMTPD conflicts with
it in apt, so its package is unpacked with dpkg -x into a private
directory and run inside a private mount namespace in which its compiled-in
paths (/var/spool/smtpd, /usr/libexec/opensmtpd, /var/lib/opensmtpd/empty,
/run/smtpd.sock) are bind mounts of private directories.  Nothing of the
system's /etc/postfix is changed.  Every daemon started is stopped at the
end, by pid or by its stop command, whatever happened.
"""
import argparse
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

BASE = "/var/tmp/postern-bench"
USER = "postern-bench"
HOME = os.path.join(BASE, "home")
MAILDIR = os.path.join(HOME, "Maildir")
RCPT = USER + "@localhost"
STALL = 30
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")

# Which servers make the message durable (fsync) before the final 250.
FSYNC = {
    "smtp-sink": "no storage",
    "postern": "yes",
    "opensmtpd": "no",
    "postfix": "yes",
}
FSYNC_NOTES = [
    "postern: yes: the LMDB transaction holding the message is committed"
    " with fsync before 250 (group commit).",
    "postfix: yes: cleanup(8) fsyncs the queue file before smtpd(8) says"
    " 250.",
    "opensmtpd: no: its fs queue (queue_fs.c) commits a message by"
    " rename(2) and writes the new envelope without fsync; only later"
    " envelope updates are fsynced.",
    "The client pipelines MAIL/RCPT/DATA where PIPELINING is offered"
    " (postern, Postfix, smtp-sink; OpenSMTPD 6.8 does not offer it) and"
    " starts a new session after a refusal (OpenSMTPD refuses the 101st"
    " message of a session by default).",
]


def log(msg):
    print("bench: " + msg, flush=True)


def run(cmd, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


# ---- process-tree accounting from /proc ----

def proc_table():
    """pid -> (ppid, ticks of utime+stime+cutime+cstime, rss bytes)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2:].split()
        # fields from state (3): ppid is 4, utime..cstime 14..17,
        # rss (pages) 24
        out[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]),
                       int(f[21]) * PAGE)
    return out


def tree(table, root):
    """The pids of root's tree; root may be a list of roots."""
    pids, todo = [], list(root) if isinstance(root, list) else [root]
    kids = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    while todo:
        p = todo.pop()
        if p in table:
            pids.append(p)
            todo.extend(kids.get(p, []))
    return pids


def tree_cpu(root):
    """CPU seconds of root's tree, reaped descendants included.

    A process that exits between two readings moves its whole time into
    its parent's cutime; its share before the first reading is in the
    first reading, so the difference of two readings is exact as long as
    processes are reaped inside the tree (they are, for all three).
    """
    t = proc_table()
    return sum(t[p][1] for p in tree(t, root)) / TICK


def pss(pid):
    """Proportional set size in bytes (shared pages split among sharers)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class MemSampler(threading.Thread):
    """Peak sums of RSS and of PSS over the daemon's processes."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.rss, self.pss = root, 0, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t = proc_table()
            pids = tree(t, self.root)
            self.rss = max(self.rss, sum(t[p][2] for p in pids))
            self.pss = max(self.pss, sum(pss(p) for p in pids))
            self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.join()
        return self.rss, self.pss


# ---- set-up shared by all servers ----

def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        run(["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", HOME, "--shell", "/usr/sbin/nologin", USER],
            check=True)
        log("created user %s (home %s)" % (USER, HOME))
    pw = pwd.getpwnam(USER)
    os.makedirs(HOME, exist_ok=True)
    os.chown(HOME, pw.pw_uid, pw.pw_gid)
    os.chmod(HOME, 0o755)


def clear_maildir():
    shutil.rmtree(MAILDIR, ignore_errors=True)
    pw = pwd.getpwnam(USER)
    os.makedirs(MAILDIR)
    for sub in ("", "new", "cur", "tmp"):
        p = os.path.join(MAILDIR, sub)
        os.makedirs(p, exist_ok=True)
        os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(p, 0o700)


def delivered():
    n = 0
    for sub in ("new", "cur"):
        try:
            n += len(os.listdir(os.path.join(MAILDIR, sub)))
        except OSError:
            pass
    return n


def ensure_system_user(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             name], check=True)
        log("created user %s for the unpacked OpenSMTPD" % name)


POLICY_RC_D = "/usr/sbin/policy-rc.d"


def apt_install(packages):
    """apt-get install the bench's peers without starting them: Debian's
    maintainer scripts would start unbound, opendkim, opendmarc (and a
    configured Postfix) as services of the host, left running beside the
    bench.  policy-rc.d answering 101 (action forbidden) stops that, for
    the install only, unless the host has a policy-rc.d of its own.
    Postfix is installed with 'No configuration'."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["debconf-set-selections"], input="postfix postfix/main_mailer_type"
        " select No configuration\n")
    ours = not os.path.exists(POLICY_RC_D)
    if ours:
        with open(POLICY_RC_D, "w") as f:
            f.write("#!/bin/sh\n# postern bench: no service starts while "
                    "its peers are installed\nexit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
    try:
        return run(["apt-get", "install", "-y"] + packages, env=env)
    finally:
        if ours:
            os.unlink(POLICY_RC_D)


def ensure_postfix():
    """None when Postfix is there (installing it if not), else why not."""
    if os.path.exists("/usr/sbin/postfix") and \
            os.path.exists("/usr/sbin/smtp-sink"):
        return None
    log("installing Debian's postfix for the bench (not a dependency of"
        " postern; apt-get install postfix, 'No configuration')")
    r = apt_install(["postfix"])
    if r.returncode != 0 or not os.path.exists("/usr/sbin/postfix"):
        return "apt-get install postfix failed: " + \
            r.stdout.strip().splitlines()[-1:][0]
    return None


def ensure_opensmtpd(root):
    """None when the unpacked OpenSMTPD is there, else why not."""
    smtpd = os.path.join(root, "usr/sbin/smtpd")
    if not os.path.exists(smtpd):
        log("unpacking Debian's opensmtpd into %s (apt-get download;"
            " dpkg -x: it conflicts with postfix in apt)" % root)
        dl = os.path.dirname(root)
        os.makedirs(dl, exist_ok=True)
        for f in os.listdir(dl):
            if f.endswith(".deb"):
                os.unlink(os.path.join(dl, f))
        r = run(["apt-get", "download", "opensmtpd"], cwd=dl)
        debs = [f for f in os.listdir(dl) if f.startswith("opensmtpd_")]
        if r.returncode != 0 or not debs:
            return "apt-get download opensmtpd failed: " + \
                (r.stdout.strip().splitlines() or ["?"])[-1]
        r = run(["dpkg", "-x", os.path.join(dl, debs[0]), root])
        if r.returncode != 0:
            return "dpkg -x failed: " + r.stdout.strip()
    r = run(["ldd", smtpd])
    if "not found" in r.stdout:
        return "its libraries are missing: " + " ".join(
            l.split()[0] for l in r.stdout.splitlines() if "not found" in l)
    # The package's postinst did not run: its users are ours to make.
    for u in ("opensmtpd", "opensmtpq"):
        ensure_system_user(u)
    return None


def wait_banner(port, proc=None, timeout=20):
    """True once the port answers with a 220 greeting."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def port_free(port):
    with socket.socket() as s:
        # As the daemons bind: connections in TIME_WAIT from the
        # previous run do not make the port busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# ---- the servers ----

class Server:
    """start() returns the root pid of the daemon's process tree."""
    name = "?"
    proc = None
    load_args = ()      # more bench/smtp_load arguments for this server
    wrap = ()           # command prefix for the daemon's own commands

    def roots(self, root):
        """The roots whose trees are the daemon: its CPU and memory."""
        return [root]

    def side_roots(self):
        """Processes the daemon relies on, counted apart (a DNS server)."""
        return []

    def __init__(self, port, base=BASE):
        self.port = port
        self.dir = os.path.join(base, self.name)
        self.logfile = os.path.join(self.dir, "daemon.log")

    def fresh_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def popen(self, cmd):
        self.log = open(self.logfile, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self.proc.pid

    def tail(self):
        try:
            with open(self.logfile, errors="replace") as f:
                lines = [l.strip() for l in f if l.strip()]
            return lines[-1] if lines else "(empty log)"
        except OSError:
            return "(no log)"

    def logged(self):
        """Deliveries the daemon's own log reports, or None."""
        if not getattr(self, "okmark", None):
            return None
        path = getattr(self, "maillog", self.logfile)
        try:
            with open(path, errors="replace") as f:
                return sum(1 for line in f if self.okmark in line)
        except OSError:
            return None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Sink(Server):
    name = "smtp-sink"

    def start(self):
        self.fresh_dir()
        # -u: the user to run as when started by root; 1024: backlog
        return self.popen(["/usr/sbin/smtp-sink", "-u", "nobody",
                           "127.0.0.1:%d" % self.port, "1024"])


class Postern(Server):
    name = "postern"

    def __init__(self, port, build, base=BASE):
        super().__init__(port, base)
        self.build = build
        self.sock = os.path.join(self.dir, "ctl", "postern.sock")

    def routing(self):
        """The configuration after spool, control socket and listener."""
        # The bench user is a system account (nologin shell, low uid):
        # postern refuses mail for those unless the admin allows them.
        return ('table domains { "localhost" }\n'
                'table benchusers { "%s" }\n'
                'local-users allow <benchusers>\n'
                'action "local" maildir "%s"\n'
                'match from any for domain <domains> action "local"\n'
                % (USER, MAILDIR))

    def start(self, *flags):
        self.fresh_dir()
        ctl = os.path.join(self.dir, "ctl")
        os.makedirs(ctl)
        os.chmod(ctl, 0o755)
        conf = os.path.join(self.dir, "postern.conf")
        with open(conf, "w") as f:
            f.write('spool "%s/spool"\n'
                    'control socket "%s"\n'
                    'listen on 127.0.0.1 port %d\n'
                    % (self.dir, self.sock, self.port) + self.routing())
        return self.popen([os.path.join(self.build, "posternd"), "-d"] +
                          list(flags) + ["-f", conf])


class OpenSMTPD(Server):
    name = "opensmtpd"
    okmark = "result=Ok"
    root = os.path.join(BASE, "pkg", "opensmtpd")

    def routing(self):
        """smtpd.conf after the listener."""
        return ('action "local" maildir "%s"\n'
                'match from any for domain "localhost" action "local"\n'
                % MAILDIR)

    def ctl(self, *args):
        """smtpctl inside the daemon's mount namespace (its socket is the
        private /run/smtpd.sock).  dpkg -x unpacked it before its group
        existed: it must be setgid opensmtpq, as the package makes it."""
        smtpctl = os.path.join(self.root, "usr/sbin/smtpctl")
        gid = grp.getgrnam("opensmtpq").gr_gid
        st = os.stat(smtpctl)
        if st.st_gid != gid or not st.st_mode & 0o2000:
            os.chown(smtpctl, 0, gid)
            os.chmod(smtpctl, 0o2555)
        return run(["nsenter", "-t", str(self.proc.pid), "-m",
                    os.path.join(self.root, "usr/sbin/smtpctl")] +
                   list(args))

    def start(self):
        self.fresh_dir()
        for d in ("spool", "varlib/opensmtpd/empty", "run"):
            os.makedirs(os.path.join(self.dir, d))
        os.chmod(os.path.join(self.dir, "spool"), 0o755)
        os.chmod(os.path.join(self.dir, "run"), 0o755)
        conf = os.path.join(self.dir, "smtpd.conf")
        with open(conf, "w") as f:
            f.write('listen on 127.0.0.1 port %d\n' % self.port +
                    self.routing())
        os.chmod(conf, 0o644)
        # Compiled-in paths, each a bind mount of a private directory,
        # seen only inside this daemon's mount namespace.
        ns = [("spool", "/var/spool"), ("varlib", "/var/lib"),
              ("run", "/run")]
        script = "set -e\n"
        for src, dst in ns:
            script += "mount --bind %s %s\n" % (os.path.join(self.dir, src),
                                               dst)
        script += "mount --bind %s /usr/libexec\n" % os.path.join(
            self.root, "usr/libexec")
        script += "exec %s -d -f %s\n" % (
            os.path.join(self.root, "usr/sbin/smtpd"), conf)
        return self.popen(["unshare", "--mount", "--propagation", "private",
                           "sh", "-c", script])


class Postfix(Server):
    name = "postfix"
    okmark = "status=sent"

    def __init__(self, port, base=BASE):
        super().__init__(port, base)
        self.maillog = os.path.join(self.dir, "maillog")

    def main_extra(self):
        """Lines added to main.cf."""
        return ""

    def master_extra(self):
        """Lines added to master.cf."""
        return ""

    def start(self):
        self.fresh_dir()
        conf = os.path.join(self.dir, "conf")
        os.makedirs(conf)
        for d in ("spool", "data"):
            os.makedirs(os.path.join(self.dir, d))
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
maillog_file = {d}/maillog
myhostname = bench.localhost
mydomain = localhost
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
home_mailbox = Maildir/
alias_maps =
alias_database =
biff = no
""".format(d=self.dir) + self.main_extra())
        # Debian's master.cf, with the smtp listener on our port and no
        # chroot (the private queue directory has no chroot set-up).
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if line[:1] in ("#", " ", "\t", "\n") or len(fields) < 8:
                    out.append(line)
                    continue
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = "127.0.0.1:%d" % self.port
                elif fields[1] == "inet":
                    out.append("#" + line)
                    continue
                fields[4] = "n"
                out.append(" ".join(fields) + "\n")
        out.append(self.master_extra())
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.writelines(out)
        self.conf = conf
        self.log = open(self.logfile, "w")
        r = run(list(self.wrap) + ["postfix", "-c", conf, "start"],
                stdout=self.log)
        if r.returncode != 0:
            return None
        pidfile = os.path.join(self.dir, "spool/pid/master.pid")
        for _ in range(100):
            try:
                with open(pidfile) as f:
                    return int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.1)
        return None

    def tail(self):
        for path in (os.path.join(self.dir, "maillog"), self.logfile):
            try:
                with open(path, errors="replace") as f:
                    lines = [l.strip() for l in f if l.strip()]
                if lines:
                    return lines[-1]
            except OSError:
                pass
        return "(no log)"

    def stop(self):
        if not hasattr(self, "conf"):
            return
        run(list(self.wrap) + ["postfix", "-c", self.conf, "stop"])
        pidfile = os.path.join(self.dir, "spool/pid/master.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


# ---- one measurement ----

def measure(srv, args):
    """A dict of figures, or {'error': why}."""
    if not port_free(srv.port):
        return {"error": "port %d is in use" % srv.port}
    clear_maildir()
    # The previous run's Maildir (thousands of files) was just removed:
    # its journal and writeback work must not land in this run's figures
    # (measured: the second of two runs paid ~0.4 ms more CPU per
    # delivery, whichever server it was).
    os.sync()
    root = srv.start()
    if root is None or not wait_banner(srv.port, srv.proc):
        return {"error": "did not start: " + srv.tail()}
    time.sleep(0.5)     # let every process of the daemon settle
    root = srv.roots(root)
    side = srv.side_roots()
    sampler = MemSampler(root)
    sampler.start()
    cpu0, t0 = tree_cpu(root), time.time()
    side0 = tree_cpu(side) if side else 0
    r = run([args.loadgen, "-c", str(args.sessions), "-s", str(args.size),
             "-t", str(args.seconds), "-r", RCPT] + list(srv.load_args) +
            ["127.0.0.1", str(srv.port)], stderr=subprocess.PIPE)
    load = {}
    toks = r.stdout.split()
    for k, v in zip(toks[::2], toks[1::2]):
        load[k] = v
    if "accepted" not in load:
        sampler.stop()
        return {"error": "load generator: " + (r.stderr.strip() or
                                               r.stdout.strip())}
    accepted = int(load["accepted"])
    res = {"accepted": accepted, "failed": int(load["failed"]),
           "rate": float(load["msgs_per_sec"]),
           "clienterr": r.stderr.strip()}
    # Wait for delivery (none for the sink): give up once nothing has
    # moved for STALL seconds (OpenSMTPD's scheduler may pause a while).
    n, last, moved = 0, -1, time.time()
    if srv.name != "smtp-sink":
        while True:
            n = delivered()
            if n >= accepted:
                break
            if n != last:
                last, moved = n, time.time()
            elif time.time() - moved > STALL:
                break
            time.sleep(0.05)
        res["delivered"] = n
        if n != accepted:
            res["logged"] = srv.logged()
    res["drain"] = time.time() - t0 - float(load["seconds"])
    cpu = tree_cpu(root) - cpu0
    res["rss"], res["pss"] = sampler.stop()
    res["cpu1000"] = cpu * 1000 / accepted if accepted else None
    if side:
        res["side1000"] = ((tree_cpu(side) - side0) * 1000 / accepted
                           if accepted else None)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--port", type=int, default=24025,
                    help="first of four consecutive loopback ports")
    ap.add_argument("--only", default="smtp-sink,postern,opensmtpd,postfix")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.loadgen = os.path.abspath(args.loadgen)

    os.makedirs(BASE, exist_ok=True)
    ensure_user()
    missing = {}
    why = ensure_postfix()
    if why:
        missing["postfix"] = missing["smtp-sink"] = why
    why = ensure_opensmtpd(OpenSMTPD.root)
    if why:
        missing["opensmtpd"] = why

    servers = [Sink(args.port), Postern(args.port + 1, args.build),
               OpenSMTPD(args.port + 2), Postfix(args.port + 3)]
    servers = [s for s in servers if s.name in args.only.split(",")]
    results = {}
    current = []

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for srv in servers:
            if srv.name in missing:
                results[srv.name] = {"error": missing[srv.name]}
                continue
            log("%s on 127.0.0.1:%d: %d sessions x %d octets for %d s" %
                (srv.name, srv.port, args.sessions, args.size,
                 args.seconds))
            current.append(srv)
            try:
                results[srv.name] = measure(srv, args)
            finally:
                srv.stop()
                current.remove(srv)
    finally:
        for srv in current:
            srv.stop()

    print()
    print("SMTP inbound, %d sessions x %d-octet messages, %d s of load per"
          " server, 127.0.0.1" % (args.sessions, args.size, args.seconds))
    print("%-10s %-10s %8s %7s %7s %10s %7s %7s %9s %7s" % (
        "server", "fsync<250", "accepted", "refused", "msgs/s",
        "cpu-s/1000", "RSS-MB", "PSS-MB", "delivered", "drain-s"))
    for srv in servers:
        r = results.get(srv.name, {"error": "not run"})
        if "error" in r:
            print("%-10s %-10s not measured: %s" % (
                srv.name, FSYNC[srv.name], r["error"]))
            continue
        print("%-10s %-10s %8d %7d %7.0f %10s %7.1f %7.1f %9s %7.1f" % (
            srv.name, FSYNC[srv.name], r["accepted"], r["failed"],
            r["rate"], "%.2f" % r["cpu1000"] if r["cpu1000"] else "-",
            r["rss"] / 1048576, r["pss"] / 1048576,
            r.get("delivered", "n/a"), r["drain"]))
        if r.get("clienterr"):
            print("%-10s first client error: %s" % ("", r["clienterr"]))
        if "delivered" in r and r["delivered"] != r["accepted"]:
            print("%-10s MISSING: %d accepted, %d in the Maildir after %d s"
                  " without progress (see %s/%s/)" % (
                      "", r["accepted"], r["delivered"], STALL, BASE,
                      srv.name))
            if r.get("logged") is not None:
                print("%-10s its log reports %d deliveries" % (
                    "", r["logged"]))
    p = results.get("postern", {})
    if "error" not in p and p:
        print("ratios postern/peer: msgs/s (higher is better),"
              " cpu-s/1000, RSS and PSS (lower is better)")
        for peer in ("smtp-sink", "opensmtpd", "postfix"):
            q = results.get(peer, {})
            if not q or "error" in q:
                continue
            cpu = ("%.2fx" % (p["cpu1000"] / q["cpu1000"])
                   if p["cpu1000"] and q["cpu1000"] else "-")
            print("  vs %-10s msgs/s %.2fx  cpu/1000 %s  RSS %.2fx"
                  "  PSS %.2fx" % (peer, p["rate"] / q["rate"], cpu,
                                   p["rss"] / q["rss"], p["pss"] / q["pss"]))
    for note in FSYNC_NOTES:
        print(note)
    print("Each server's logs and spool stay in %s/SERVER/ until the next"
          " run." % BASE)
    bad = [n for n, r in results.items()
           if "error" not in r and r.get("delivered", r["accepted"])
           != r["accepted"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

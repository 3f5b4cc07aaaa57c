"""Fixtures for postern's integration tests.

Every test runs the real posternd as root, with real chroot and privilege
drop, on loopback addresses only, with its own configuration, spool and
control socket in a temporary directory.  Daemons a test starts are always
stopped by pid, whatever happened.
"""
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("POSTERN_BUILD",
                       os.path.join(os.path.dirname(__file__), "..", "build"))
POSTERND = os.path.abspath(os.path.join(BUILD, "posternd"))
POSTERNCTL = os.path.abspath(os.path.join(BUILD, "posternctl"))
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CHILDREN = ["smtp", "queue", "mta", "authd", "reportd", "control"]

_ports = itertools.count((os.getpid() % 400) * 100)


def next_port():
    """A loopback port that nothing listens on now: test runs of several
    worktrees at once share the machine, so a port from this process's
    range may still be taken by another run; skip those."""
    import socket
    while True:
        port = 20000 + next(_ports) % 40000
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port


def run(cmd, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 30)
    return subprocess.run(cmd, **kw)


def imsg_types():
    """The message type numbers, read from lib/msg.h's enum (the tests
    that speak imsg themselves follow the header, not fixed numbers)."""
    import re
    with open(os.path.join(TOP, "lib", "msg.h")) as f:
        text = f.read()
    body = text[text.index("enum imsg_type {"):]
    body = body[:body.index("};")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"\b(IMSG_[A-Z0-9_]+)\s*,", body)
    return {n: i for i, n in enumerate(names)}


def proto_version():
    """POSTERN_PROTO_VERSION, as lib/msg.h defines it."""
    import re
    with open(os.path.join(TOP, "lib", "msg.h")) as f:
        return int(re.search(r"#define POSTERN_PROTO_VERSION\s+(\d+)",
                             f.read()).group(1))


def imsg_frame(name, payload=b""):
    """One imsg as control reads it: the type by its lib/msg.h name (or
    number)."""
    t = imsg_types()[name] if isinstance(name, str) else name
    return struct.pack("=IIHHII", t, 20 + len(payload), 0, 0, 0, 0) + payload


def ctl_raw(dm, *frames):
    """A hand-made control client: greet with the protocol version, send
    the frames at once and return every byte control answers until it
    closes the connection."""
    got = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(dm.sock)
        s.sendall(imsg_frame("IMSG_CTL_SESSION_HELLO",
                             struct.pack("=I", proto_version())) +
                  b"".join(frames))
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


def check_action_line(tmp_path, line, ok, before=""):
    """posternd -n on a configuration where `line` defines the action
    "box" that a rule uses: accepted, or refused at that line."""
    conf = tmp_path / "postern.conf"
    head = "listen on 127.0.0.1 port 2525\n" + before
    conf.write_text('%s%s\nmatch from any for local action "box"\n' %
                    (head, line))
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert (r.returncode == 0) == ok, r.stderr
    if not ok:
        assert "%s:%d: " % (conf, head.count("\n") + 1) in r.stderr, \
            r.stderr


def children_of(pid):
    """Pids whose parent is `pid` (from /proc)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(d))
    return kids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class Daemon:
    def __init__(self, tmp, config_extra="", listen=True):
        self.dir = str(tmp)
        # The socket's directory must be traversable by any user, so that
        # the tests of unprivileged callers reach the socket's own checks.
        self.sockdir = tempfile.mkdtemp(prefix="postern-ctl-")
        os.chmod(self.sockdir, 0o755)
        self.sock = os.path.join(self.sockdir, "postern.sock")
        self.spool = os.path.join(self.dir, "spool")
        self.conf = os.path.join(self.dir, "postern.conf")
        self.logfile = os.path.join(self.dir, "posternd.log")
        self.port = next_port()
        lines = [
            'spool "%s"' % self.spool,
            'control socket "%s"' % self.sock,
        ]
        if listen:
            lines.append("listen on 127.0.0.1 port %d" % self.port)
        lines.append(config_extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.kids = {}

    def start(self, wait=True, args=("-d",), test_hooks=True):
        # A test's maildir base, as an administrator makes it: posternd
        # never creates a maildir template's fixed base (an unmounted
        # file system), only what the expansions name below it.
        if getattr(self, "maildir", None):
            os.makedirs(self.maildir, exist_ok=True)
        self.log = open(self.logfile, "w")
        env = dict(os.environ)
        # The fault-injection hooks work only when asked for (-T, with
        # -d): a test that sets one gets it, unless it says otherwise.
        if test_hooks and "-d" in args and any(
                k.startswith("POSTERN_TEST_") for k in env):
            args = (*args, "-T")
        # LeakSanitizer cannot run inside a chroot; ASan's other checks do.
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        self.proc = subprocess.Popen([POSTERND, *args, "-f", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("posternd exited %d:\n%s" %
                                     (self.proc.returncode, self.logtext()))
            if "started" in self.logtext() and os.path.exists(self.sock):
                kids = self.children()
                if len(kids) == len(CHILDREN) and all(
                        self.ready_title(p) for p in kids.values()):
                    self.kids = kids
                    return
            time.sleep(0.05)
        raise AssertionError("posternd did not start:\n" + self.logtext())

    def ready_title(self, pid):
        # A child's root is its chroot once it has dropped privileges.
        try:
            return os.readlink("/proc/%d/root" % pid) != "/"
        except OSError:
            return False

    def children(self):
        """Map process name -> pid for the daemon's children."""
        out = {}
        for pid in children_of(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            for name in CHILDREN:
                if title.endswith(": " + name) or title.endswith(" " + name):
                    out[name] = pid
        return out

    def logtext(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def ctl(self, *args, as_nobody=False):
        cmd = [POSTERNCTL, "-s", self.sock, *args]
        if as_nobody:
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                   "--clear-groups"] + cmd
        return run(cmd)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Stop by pid, always: the daemon, then any child left over."""
        if self.proc is None:
            return
        pids = set(self.kids.values()) | set(children_of(self.proc.pid))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(10) is None:
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()
        shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def users():
    if os.geteuid() != 0:
        pytest.exit("the integration tests run posternd as root", 2)
    subprocess.run([os.path.join(TOP, "scripts", "setup-users")], check=True)


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(config_extra="", sub="d", **kw):
        d = tmp_path / sub
        d.mkdir(exist_ok=True)
        dm = Daemon(d, config_extra, **kw)
        made.append(dm)
        return dm

    yield make
    for dm in made:
        dm.stop()


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory().start()

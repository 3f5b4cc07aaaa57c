"""The process set: privilege separation (chroot, users, no core files,
not dumpable), posternctl, fail-stop, shutdown."""
import ctypes
import os
import stat
import signal
import struct
import time

import pytest

from conftest import CHILDREN, POSTERND, alive, children_of, imsg_types, run

SYS_pidfd_getfd = 438
# Each child its own user (posternd(8)).
USERS = {"smtp": "_postern-smtp", "queue": "_postern-q",
         "mta": "_postern-mta", "authd": "_postern-auth",
         "reportd": "_postern-report", "control": "_postern-ctl"}


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def ids(name):
    import pwd
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def test_children_are_chrooted_unprivileged_and_titled(daemon):
    kids = daemon.kids
    assert sorted(kids) == sorted(CHILDREN)
    assert len(set(kids.values())) == len(CHILDREN)
    assert daemon.proc.pid not in kids.values()
    for name, pid in kids.items():
        uid, gid = ids(USERS[name])
        st = proc_status(pid)
        assert st["Uid"] == [str(uid)] * 4, (name, st["Uid"])
        assert st["Gid"] == [str(gid)] * 4, (name, st["Gid"])
        assert st["Groups"] == [], (name, st["Groups"])
        assert st["CapEff"] == ["0000000000000000"], name
        root = os.readlink("/proc/%d/root" % pid)
        if name == "queue":
            assert root == os.path.join(daemon.spool, "queue")
        elif name == "reportd":
            assert root == os.path.join(daemon.spool, "reports")
        elif name == "mta":
            assert root == os.path.join(daemon.spool, "mta")
        else:
            assert root == "/var/empty"
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            title = f.read().replace(b"\0", b" ").decode()
        assert name in title, title
        # No core files, and not dumpable: the kernel gives the /proc
        # entries of an undumpable process to root, so that another
        # process of the same user can neither read nor trace it.
        with open("/proc/%d/limits" % pid) as f:
            core = [ln.split()[4:6] for ln in f
                    if ln.startswith("Max core file size")]
        assert core == [["0", "0"]], (name, core)
        assert os.stat("/proc/%d/mem" % pid).st_uid == 0, name
    # The parent stays root and unchrooted.
    st = proc_status(daemon.proc.pid)
    assert st["Uid"][0] == "0"
    assert os.readlink("/proc/%d/root" % daemon.proc.pid) == "/"


def test_show_status_lists_every_process(daemon):
    r = daemon.ctl("show", "status")
    assert r.returncode == 0, r.stderr
    rows = {}
    # The process table, then a blank line and the spool's state.
    table, spool = r.stdout.split("\n\n")
    for line in table.splitlines()[1:]:
        f = line.split()
        rows[f[0]] = f
    assert sorted(rows) == sorted(CHILDREN + ["parent"])
    assert spool.startswith("spool: ") and spool.rstrip().endswith(
        ": accepting mail"), spool
    assert int(rows["parent"][1]) == daemon.proc.pid
    for name, pid in daemon.kids.items():
        assert int(rows[name][1]) == pid
        assert rows[name][2] == USERS[name]


@pytest.mark.parametrize("victim", CHILDREN)
def test_child_death_stops_everything(daemon, victim):
    pid = daemon.kids[victim]
    others = [p for n, p in daemon.kids.items() if n != victim]
    os.kill(pid, signal.SIGKILL)
    rc = daemon.wait_exit(5)
    assert rc is not None, "posternd still running 5 s after a child died"
    assert rc != 0
    log = daemon.logtext()
    assert "%s process (pid %d)" % (victim, pid) in log, log
    assert "signal 9" in log
    for p in others:
        assert not alive(p), "child %d left behind" % p


@pytest.mark.parametrize("victim", CHILDREN)
def test_stopped_child_stops_everything(daemon, victim):
    """issue 14: a child stopped by a signal does its job no more than a
    dead one: the parent reaps with WUNTRACED, and the set stops."""
    pid = daemon.kids[victim]
    os.kill(pid, signal.SIGSTOP)
    rc = daemon.wait_exit(10)
    assert rc is not None, "posternd still running 10 s after a child stopped"
    assert rc != 0
    log = daemon.logtext()
    assert "%s process (pid %d) stopped by signal %d" % (
        victim, pid, signal.SIGSTOP) in log, log
    for p in daemon.kids.values():
        assert not alive(p), "child %d left behind" % p


def test_sigterm_stops_cleanly(daemon):
    kids = list(daemon.kids.values())
    os.kill(daemon.proc.pid, signal.SIGTERM)
    assert daemon.wait_exit(10) == 0
    for p in kids:
        assert not alive(p)
    assert not os.path.exists(daemon.sock)


def test_posternctl_stop(daemon):
    kids = list(daemon.kids.values())
    r = daemon.ctl("stop")
    assert r.returncode == 0, r.stderr
    assert daemon.wait_exit(10) == 0
    assert "stop requested by posternctl" in daemon.logtext()
    for p in kids:
        assert not alive(p)


def test_log_verbose_and_brief(daemon):
    r = daemon.ctl("show", "status")
    assert "control: uid 0: show status" not in daemon.logtext()
    r = daemon.ctl("log", "verbose")
    assert r.returncode == 0, r.stderr
    r = daemon.ctl("show", "status")
    time.sleep(0.2)
    log = daemon.logtext()
    assert "log verbosity set to verbose" in log
    assert log.count("control: uid 0: show status") == 1
    r = daemon.ctl("log", "brief")
    assert r.returncode == 0
    daemon.ctl("show", "status")
    time.sleep(0.2)
    assert daemon.logtext().count("control: uid 0: show status") == 1


@pytest.mark.parametrize("args", [["show", "nothing"], ["frobnicate"],
                                  ["log", "loud"], ["stop", "now"]])
def test_unknown_commands(daemon, args):
    r = daemon.ctl(*args)
    assert r.returncode != 0
    assert "unknown command" in r.stderr
    assert daemon.proc.poll() is None


def test_unprivileged_caller_refused_by_socket_mode(daemon):
    assert oct(os.stat(daemon.sock).st_mode & 0o777) == "0o660"
    r = daemon.ctl("show", "status", as_nobody=True)
    assert r.returncode != 0
    assert "Permission denied" in r.stderr
    r = daemon.ctl("stop", as_nobody=True)
    assert r.returncode != 0
    assert daemon.proc.poll() is None


def test_unprivileged_caller_refused_by_peer_credentials(daemon):
    # Even when the socket's mode is opened up by mistake, the control
    # process checks the caller's uid itself.
    os.chmod(daemon.sock, 0o666)
    r = daemon.ctl("stop", as_nobody=True)
    assert r.returncode != 0
    assert "permission denied" in r.stderr
    assert daemon.proc.poll() is None
    assert "refused uid 65534" in daemon.logtext()


def test_control_group_member_allowed(daemon_factory):
    d = daemon_factory('control group "nogroup"').start()
    st = os.stat(d.sock)
    # made so by bind(2) itself (umask, effective group), not changed after
    assert st.st_gid == 65534 and st.st_uid == 0
    assert stat.S_IMODE(st.st_mode) == 0o660
    r = d.ctl("show", "status", as_nobody=True)
    assert r.returncode == 0, r.stderr
    assert "parent" in r.stdout


def steal_parent_channel(pid):
    """A copy of child `pid`'s channel to the parent (fd 3), as a
    compromised child would hold it."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(SYS_pidfd_getfd, pidfd, 3, 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return fd
    finally:
        os.close(pidfd)


def imsg(type_, payload=b"", length=None, flags=0):
    n = 20 + len(payload) if length is None else length
    return struct.pack("=IIHHII", type_, n, flags, 0, 0, 0) + payload


@pytest.mark.parametrize("frame,expect", [
    (b"\xff" * 64, "malformed message"),
    (imsg(1, length=1 << 30), "malformed message"),
    (imsg(1, length=3), "malformed message"),
    (imsg(9999), "unknown message type"),
    (imsg(imsg_types()["IMSG_CONF_CHILD_READY"], b"x"),
     "protocol violation by smtp"),                      # READY with payload
    (imsg(imsg_types()["IMSG_CTL_DAEMON_STOP"]),
     "protocol violation by smtp"),                      # STOP, not smtp's
    (imsg(1, flags=1), "malformed message"),             # fd promised, none
])
def test_garbage_from_child_fail_stops(daemon, frame, expect):
    fd = steal_parent_channel(daemon.kids["smtp"])
    try:
        os.write(fd, frame)
    finally:
        os.close(fd)
    rc = daemon.wait_exit(5)
    assert rc is not None and rc != 0
    log = daemon.logtext()
    assert expect in log, log
    assert "smtp" in log
    for p in daemon.kids.values():
        assert not alive(p)


def test_configuration_check(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text('listen on 127.0.0.1 port 2525\n')
    r = run([POSTERND, "-n", "-f", str(good)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"
    bad = tmp_path / "bad.conf"
    bad.write_text('listen on 127.0.0.1 port 2525\nbogus keyword\n'
                   'listen on 127.0.0.1 port 99999\n')
    r = run([POSTERND, "-n", "-f", str(bad)])
    assert r.returncode == 1
    assert "%s:2:" % bad in r.stderr
    assert "%s:3:" % bad in r.stderr
    assert "configuration OK" not in r.stdout


@pytest.mark.parametrize("line,error", [
    ("user smtp _postern-q", "the smtp and queue processes have one user, "
     "_postern-q: each needs its own"),
    ("user _postern", '"user _postern": each process has a user of its own'),
    ("user nosuch _postern-x", 'unknown process "nosuch"'),
    ("user mta ../x", 'invalid user name "../x"'),
])
def test_each_process_its_own_user_config(tmp_path, line, error):
    conf = tmp_path / "u.conf"
    conf.write_text('listen on 127.0.0.1 port 2525\n%s\n' % line)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode == 1
    assert "%s:2: %s" % (conf, error) in r.stderr, r.stderr


def test_users_apart_and_spool_handed_over(daemon):
    """No two children share a uid, and a spool written by another user
    (an older postern whose processes shared _postern) is handed to each
    process's user at start: the daemon comes up on it and works."""
    uids = {name: ids(USERS[name])[0] for name in USERS}
    assert len(set(uids.values())) == len(USERS), uids
    old = ids("nobody")
    daemon.stop()
    os.makedirs(daemon.sockdir, 0o755)      # stop() removed it
    for sub in ("mta", "reports"):
        d = os.path.join(daemon.spool, sub)
        for f in os.listdir(d):
            os.chown(os.path.join(d, f), *old)
    daemon.start()
    for sub, name in (("mta", "mta"), ("reports", "reportd")):
        d = os.path.join(daemon.spool, sub)
        files = os.listdir(d)
        assert "data.mdb" in files, files
        for f in files:
            assert os.stat(os.path.join(d, f)).st_uid == uids[name], f
    assert daemon.ctl("show", "mta-sts").returncode == 0
    assert daemon.ctl("show", "evaluations").returncode == 0
    assert "now owned by uid %d" % uids["mta"] in daemon.logtext()


def test_bad_configuration_never_starts(tmp_path):
    sock = tmp_path / "s.sock"
    bad = tmp_path / "bad.conf"
    bad.write_text('control socket "%s"\nlisten on 127.0.0.1 port 0x\n'
                   % sock)
    r = run([POSTERND, "-d", "-f", str(bad)], timeout=10)
    assert r.returncode == 1
    assert "%s:2:" % bad in r.stderr
    assert not sock.exists()


def test_missing_configuration_file(tmp_path):
    r = run([POSTERND, "-n", "-f", str(tmp_path / "nope.conf")])
    assert r.returncode == 1
    assert "nope.conf" in r.stderr


def test_second_daemon_refuses_same_socket(daemon, daemon_factory):
    other = daemon_factory(sub="other")
    # Same control socket as the running one.
    with open(other.conf, "a") as f:
        f.write('control socket "%s"\n' % daemon.sock)
    other.start(wait=False)
    assert other.wait_exit(10) == 1
    assert "already running" in other.logtext()
    assert daemon.proc.poll() is None
    assert daemon.ctl("show", "status").returncode == 0


def test_control_socket_in_setgid_directory_refused(daemon_factory):
    """In a setgid directory the socket would take the directory's group,
    not the control group: posternd refuses to start rather than let
    that group in (review finding)."""
    d = daemon_factory()
    os.chown(d.sockdir, 0, 65534)
    os.chmod(d.sockdir, 0o2755)
    d.start(wait=False)
    assert d.wait_exit(10) == 1
    assert "was made with owner 0:65534 and mode 0660, not 0:0 and 0660 " \
        "(a setgid directory?)" in d.logtext()

"""Local delivery workers (posternd/deliver.c): a worker per user that
lives for a while instead of a fork per message, each writing as its user,
and what happens when one dies."""

import array
import glob
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import (children_of, alive, imsg_types, next_port, run,
                      CHILDREN, POSTERNCTL)
from test_proc import steal_parent_channel

NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def dmx(daemon_factory):
    # The mail of user nobody must be writable by nobody: a world-writable
    # (sticky) base outside pytest's private tmp.
    base = tempfile.mkdtemp(prefix="postern-deliver-")
    os.chmod(base, 0o1777)
    dm = daemon_factory(sub="deliver")
    dm.maildir = base
    with open(os.path.join(dm.dir, "vusers"), "w") as f:
        f.write("r@v.test root\nn@v.test nobody\n")
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'table vusers file:"%s/vusers"\n'
                'action "v" maildir "%s/%%{rcpt}" virtual <vusers>\n'
                'action "l" maildir "%s/%%{user}"\n'
                'action "out" relay\n'
                'match from any for domain "v.test" action "v"\n'
                'match from any for domain "l.test" action "l"\n'
                'match from any for domain "far.test" action "out"\n'
                % (dm.dir, base, base))
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


def files(dm, rcpt):
    return sorted(glob.glob(os.path.join(dm.maildir, rcpt, "new", "*")))


def wait_files(dm, rcpt, want, timeout=20):
    deadline = time.time() + timeout
    while len(files(dm, rcpt)) < want and time.time() < deadline:
        time.sleep(0.05)
    return files(dm, rcpt)


def send(dm, rcpt, n, tag):
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        for i in range(n):
            msg = ("From: a@sender.test\r\nTo: %s\r\nSubject: %s %d\r\n\r\n"
                   "body %d\r\n" % (rcpt, tag, i, i))
            assert c.sendmail("a@sender.test", [rcpt], msg) == {}


def workers(dm):
    """The parent's children that are not one of the process set."""
    known = set(dm.kids.values())
    return [p for p in children_of(dm.proc.pid) if p not in known and
            alive(p)]


def started(dm):
    return re.findall(r"delivery worker (\d+) for (\S+) started",
                      dm.logtext())


def test_workers_serve_many_messages_as_their_user(dmx):
    dm = dmx.start(args=("-d", "-v"))
    n = 40
    send(dm, "r@v.test", n, "root-mail")
    send(dm, "n@v.test", n, "nobody-mail")
    got_r = wait_files(dm, "r@v.test", n)
    got_n = wait_files(dm, "n@v.test", n)
    assert len(got_r) == n and len(got_n) == n
    # every message once, as its own user
    subjects = set()
    for f in got_r:
        assert os.stat(f).st_uid == 0
        subjects.add(re.search(rb"Subject: (.*)\r\n",
                               open(f, "rb").read()).group(1))
    for f in got_n:
        assert os.stat(f).st_uid == NOBODY
        subjects.add(re.search(rb"Subject: (.*)\r\n",
                               open(f, "rb").read()).group(1))
    assert len(subjects) == 2 * n
    # workers, not a process per message: at most 4 per user
    w = started(dm)
    per_user = {}
    for _, user in w:
        per_user[user] = per_user.get(user, 0) + 1
    assert set(per_user) == {"root", "nobody"}, w
    assert all(1 <= k <= 4 for k in per_user.values()), per_user
    # a worker runs as its user, and show status lists it so
    status = dm.ctl("show", "status").stdout
    listed = re.findall(r"^deliver\s+(\d+)\s+(\S+)", status, re.M)
    assert listed, status
    assert {int(p) for p, _ in listed} == set(workers(dm)), status
    assert {u for _, u in listed} <= {"root", "nobody"}, status
    for pid in workers(dm):
        with open("/proc/%d/status" % pid) as f:
            uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1)
        assert set(uids.split()) in ({"0"}, {str(NOBODY)}), uids
    # idle workers are let go after a few seconds
    deadline = time.time() + 15
    while workers(dm) and time.time() < deadline:
        time.sleep(0.2)
    assert workers(dm) == []
    assert sorted(dm.children()) == sorted(CHILDREN)


def test_worker_killed_with_work_is_retried_once(dmx):
    dm = dmx.start(args=("-d", "-v"))
    send(dm, "n@v.test", 1, "first")
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    w = workers(dm)
    assert len(w) == 1
    # Stop the worker so the next job waits at it, then kill it.
    os.kill(w[0], signal.SIGSTOP)
    send(dm, "n@v.test", 1, "second")
    time.sleep(0.5)     # the job is at the stopped worker
    assert len(files(dm, "n@v.test")) == 1
    os.kill(w[0], signal.SIGKILL)
    got = wait_files(dm, "n@v.test", 2)
    assert len(got) == 2
    time.sleep(1.5)
    assert len(files(dm, "n@v.test")) == 2      # delivered once
    assert "delivery process" in dm.logtext()    # the failure was logged
    assert dm.proc.poll() is None                # the daemon goes on
    assert dm.ctl("show", "queue").stdout == ""
    assert len(started(dm)) >= 2


def test_idle_worker_killed_is_replaced(dmx):
    dm = dmx.start(args=("-d", "-v"))
    send(dm, "r@v.test", 1, "one")
    assert len(wait_files(dm, "r@v.test", 1)) == 1
    w = workers(dm)
    assert len(w) == 1
    os.kill(w[0], signal.SIGKILL)
    time.sleep(0.3)
    send(dm, "r@v.test", 1, "two")
    assert len(wait_files(dm, "r@v.test", 2)) == 2
    assert dm.proc.poll() is None
    assert len(started(dm)) == 2


def test_new_maildir_is_durable_before_delivery_is_done(dmx):
    """issue 14: a folder the worker creates is synced into its parent (the
    worker fsyncs the parent directory after each mkdir) before the
    delivery is reported done.  Watched with strace on the real worker."""
    import subprocess
    dmx.start()
    trace = os.path.join(dmx.dir, "strace.out")
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "-e",
                           "trace=mkdir,mkdirat,open,openat,fsync,rename",
                           "-p", str(dmx.proc.pid)],
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)               # strace attached
        send(dmx, "r@v.test", 1, "durable")
        assert len(wait_files(dmx, "r@v.test", 1)) == 1
        time.sleep(0.5)
    finally:
        st.terminate()
        st.wait(timeout=10)
    with open(trace) as f:
        lines = f.read().splitlines()
    # pid -> fd -> path of directories opened, and what was synced when
    opened, synced, made = {}, [], []
    for l in lines:
        m = re.match(r'(\d+)\s+(?:mkdir|mkdirat)\((?:AT_FDCWD, )?"([^"]+)".*'
                     r'= 0', l)
        if m:
            made.append((len(synced), m.group(2)))
            continue
        m = re.match(r'(\d+)\s+open(?:at)?\((?:AT_FDCWD, )?"([^"]+)",.*'
                     r'O_DIRECTORY.*= (\d+)$', l)
        if m:
            opened[(m.group(1), m.group(3))] = m.group(2)
            continue
        m = re.match(r'(\d+)\s+fsync\((\d+)\)\s+= 0', l)
        if m and (m.group(1), m.group(2)) in opened:
            synced.append(opened[(m.group(1), m.group(2))])
    box = os.path.join(dmx.maildir, "r@v.test")
    made_here = [d for _, d in made if d.startswith(box)]
    assert box in made_here and box + "/new" in made_here, lines
    for when, d in made:
        if d.startswith(box):
            assert os.path.dirname(d) in synced[when:], (d, synced)


# struct msg_deliver (lib/msg.h): evpid, sender, rcpt, action,
# check_existing, folder
MSG_DELIVER = struct.Struct("=Q1025s1025s64s2xi64s")


def forge_delivery(dm, action, rcpt, evpid=0x1234):
    """IMSG_DELIVER_ENVELOPE_START on the queue's own channel to the
    parent, as a compromised queue would send it."""
    payload = MSG_DELIVER.pack(evpid, b"a@sender.test", rcpt.encode(),
                               action.encode(), 0, b"")
    hdr = struct.pack("=IIHHII", imsg_types()["IMSG_DELIVER_ENVELOPE_START"],
                      20 + len(payload), 1, 0, 0, 0)
    mfd = os.memfd_create("forged")
    os.write(mfd, b"Subject: forged\r\n\r\nforged\r\n")
    os.lseek(mfd, 0, os.SEEK_SET)
    fd = steal_parent_channel(dm.kids["queue"])
    s = socket.socket(fileno=fd)
    try:
        s.sendmsg([hdr + payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [mfd]))])
    finally:
        s.close()
        os.close(mfd)


@pytest.mark.parametrize("action,rcpt,why", [
    ("out", "x@far.test", "a local delivery by relay action out"),
    ("v", "nobody-here@v.test", "<nobody-here@v.test> is not in table "
     "vusers of action v"),
    ("l", "a/b@l.test", "<a/b@l.test> names no user for action l"),
    ("nope", "r@v.test", "no action named nope"),
])
def test_queue_cannot_ask_what_the_action_does_not_do(dmx, action, rcpt,
                                                      why):
    """issue 14: a local delivery whose action does not deliver locally, or
    whose recipient the action gives no user, is a queue that lies: the
    parent logs the violation and stops everything."""
    dm = dmx.start()
    forge_delivery(dm, action, rcpt)
    rc = dm.wait_exit(10)
    assert rc is not None and rc != 0, "posternd took the request"
    log = dm.logtext()
    assert "protocol violation by queue: IMSG_DELIVER_ENVELOPE_START" in log
    assert why in log, log
    for p in dm.kids.values():
        assert not alive(p)


def test_stopped_worker_does_not_stall_others(dmx, monkeypatch):
    """issue 14: a user who stops their own worker holds up only the
    messages that worker had, and only until the job's deadline: once late
    it gets no more work (another worker takes the user's next message),
    then it is killed and its job comes back to the queue as a temporary
    failure, to be retried."""
    monkeypatch.setenv("POSTERN_TEST_DELIVER_TIMEOUT", "8")
    dm = dmx.start(args=("-d", "-v"))
    assert "test: delivery deadline 8 seconds" in dm.logtext()
    send(dm, "n@v.test", 1, "first")
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    w = workers(dm)
    assert len(w) == 1
    os.kill(w[0], signal.SIGSTOP)       # what user nobody may do
    send(dm, "n@v.test", 1, "second")   # taken by the stopped worker
    send(dm, "r@v.test", 1, "others")
    assert len(wait_files(dm, "r@v.test", 1, timeout=10)) == 1
    # root's mail did not wait for the stopped worker
    assert "no result in" not in dm.logtext()
    assert len(files(dm, "n@v.test")) == 1
    # late after half the deadline: nobody's next message goes elsewhere
    late = ("delivery worker %d for nobody: no result in 4 seconds; "
            "giving it no more work" % w[0])
    deadline = time.time() + 10
    while late not in dm.logtext() and time.time() < deadline:
        time.sleep(0.1)
    assert late in dm.logtext()
    send(dm, "n@v.test", 1, "third")
    assert len(wait_files(dm, "n@v.test", 2, timeout=10)) == 2
    assert alive(w[0])      # still stopped, still holding "second"
    # the deadline: killed, the job retried by a new worker
    got = wait_files(dm, "n@v.test", 3, timeout=20)
    assert len(got) == 3
    assert not alive(w[0])
    log = dm.logtext()
    assert ("delivery worker %d for nobody stopped by signal %d"
            % (w[0], signal.SIGSTOP)) in log, log
    assert ("delivery worker %d for nobody: delivery timed out: no result "
            "in 8 seconds; killing it" % w[0]) in log, log
    time.sleep(1.5)
    assert len(files(dm, "n@v.test")) == 3      # delivered once each
    subjects = {re.search(rb"Subject: (.*)\r\n", open(f, "rb").read())
                .group(1) for f in files(dm, "n@v.test")}
    assert subjects == {b"first 0", b"second 0", b"third 0"}, subjects
    assert dm.ctl("show", "queue").stdout == ""
    assert dm.proc.poll() is None


def test_stopped_idle_worker_is_killed(dmx):
    """issue 14: a worker let go exits when its socket closes, but one its
    user stopped never would, and would hold a worker slot for ever: it is
    killed a few seconds after it was let go."""
    dm = dmx.start(args=("-d", "-v"))
    send(dm, "n@v.test", 1, "one")
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    w = workers(dm)
    assert len(w) == 1
    os.kill(w[0], signal.SIGSTOP)
    # idle for 5 s, let go, killed 5 s later
    deadline = time.time() + 20
    while alive(w[0]) and time.time() < deadline:
        time.sleep(0.2)
    assert not alive(w[0])
    assert ("delivery worker %d for nobody did not exit when let go; "
            "killing it" % w[0]) in dm.logtext()
    assert dm.proc.poll() is None
    send(dm, "n@v.test", 1, "two")
    assert len(wait_files(dm, "n@v.test", 2)) == 2


def memory_has(pid, needle):
    """Whether any readable mapping of process `pid` holds `needle`.
    Mappings over 4 GB are passed over: only AddressSanitizer's shadow is
    that large (terabytes, reserved), and it holds no process data; the
    rest is read a megabyte at a time, overlapping by len(needle)."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    step = 1 << 20
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if perms[0] != "r":
                continue
            start, end = (int(x, 16) for x in addr.split("-"))
            if end - start > 4 << 30:
                continue
            for off in range(start, end, step):
                try:
                    mem.seek(off)
                    data = mem.read(min(step + len(needle), end - off))
                except (OSError, OverflowError):
                    break       # [vvar] and the like
                if data and needle in data:
                    return True
    return False


def test_worker_holds_none_of_the_parents_secrets(dmx, tmp_path):
    """issue 14: delivery workers are executed afresh, not forked with the
    parent's heap: a worker's memory holds neither the relay password nor
    the password hash that the parent's tables hold."""
    d = dmx.dir
    password = "relay-Pa55-%d-xyzzy" % os.getpid()
    with open(os.path.join(d, "secrets"), "w") as f:
        f.write("127.0.0.1 alice:%s\n" % password)
    r = run([POSTERNCTL, "encrypt"], input="alice-login-pw\n")
    assert r.returncode == 0, r.stderr
    hashed = r.stdout.strip()
    with open(os.path.join(d, "creds"), "w") as f:
        f.write("alice %s\n" % hashed)
    for n in ("secrets", "creds"):
        os.chmod(os.path.join(d, n), 0o600)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=v.test",
                    "-keyout", os.path.join(d, "key.pem"), "-out",
                    os.path.join(d, "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(dmx.conf, "a") as f:
        f.write('pki test cert "{d}/cert.pem" key "{d}/key.pem"\n'
                'table creds file:"{d}/creds"\n'
                'listen on 127.0.0.1 port {p} tls pki test auth <creds>\n'
                'table secrets file:"{d}/secrets"\n'
                'transport sub submission "smtp+tls://127.0.0.1:9" '
                'auth <secrets>\n'
                'route transport sub\n'
                'match auth from any for any action "out"\n'
                .format(d=d, p=next_port()))
    dm = dmx.start()
    send(dm, "r@v.test", 1, "root")
    send(dm, "n@v.test", 1, "nobody")
    assert len(wait_files(dm, "r@v.test", 1)) == 1
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    w = workers(dm)
    assert len(w) == 2, w
    # the parent holds both (else this test would prove nothing)
    assert memory_has(dm.proc.pid, password.encode())
    assert memory_has(dm.proc.pid, hashed.encode())
    for pid in w:
        assert not memory_has(pid, password.encode()), pid
        assert not memory_has(pid, hashed.encode()), pid


def test_envelope_stale_after_config_change_bounces(dmx):
    """A message queued for r@v.test, then the virtual table loses that
    address and the daemon restarts: the queue bounces the envelope
    (5.3.5, naming the change) instead of asking the parent for a delivery
    the parent would take for a lie and stop the daemon over."""
    dmx.start()
    assert dmx.ctl("pause", "queue").returncode == 0
    send(dmx, "r@v.test", 1, "stale")
    dmx.stop()
    with open(os.path.join(dmx.dir, "vusers"), "w") as f:
        f.write("n@v.test nobody\n")
    os.makedirs(dmx.sockdir, 0o755)     # stop() removed it
    dmx.start()
    deadline = time.time() + 20
    while time.time() < deadline and \
            "not deliverable under the current configuration" not in \
            dmx.logtext():
        time.sleep(0.1)
    log = dmx.logtext()
    assert "not deliverable under the current configuration: " \
        "<r@v.test> is not in table vusers" in log, log
    assert "protocol violation" not in log, log
    assert dmx.proc.poll() is None
    assert files(dmx, "r@v.test") == []
    deadline = time.time() + 10
    while time.time() < deadline and dmx.ctl("show", "queue").stdout:
        time.sleep(0.1)
    assert dmx.ctl("show", "queue").stdout == ""
    # The daemon still delivers what the configuration allows.
    send(dmx, "n@v.test", 1, "fresh")
    assert len(wait_files(dmx, "n@v.test", 1)) == 1


def send_big(dm, rcpts, size, tag):
    """One message of about `size` octets to each of rcpts."""
    line = "x" * 76 + "\r\n"
    body = line * (size // len(line) + 1)
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        for rcpt in rcpts:
            msg = ("From: a@sender.test\r\nTo: %s\r\nSubject: %s\r\n\r\n%s"
                   % (rcpt, tag, body))
            assert c.sendmail("a@sender.test", [rcpt], msg) == {}


def mailbox_files(box, sub):
    return os.listdir(os.path.join(box, sub)) \
        if os.path.isdir(os.path.join(box, sub)) else []


def wait_log(dm, pattern, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, dm.logtext())
        if m:
            return m
        time.sleep(0.1)
    return None


@pytest.fixture
def tinybox(dmx):
    """r@v.test's maildir on a tmpfs of 64k; unmounted whatever happens."""
    box = os.path.join(dmx.maildir, "r@v.test")
    os.makedirs(box)
    run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", box],
        check=True)
    try:
        yield box
    finally:
        dmx.stop()
        if run(["umount", box]).returncode != 0:
            run(["umount", "-l", box])


def test_full_mailbox_is_retried_then_delivered(dmx, tinybox):
    """A message larger than r@v.test's filesystem: a temporary failure
    (RFC 3463 4.2.2, mailbox full) in the log and in show queue, nothing
    left in tmp/ or new/, n@v.test on another filesystem served meanwhile;
    once there is room the retry delivers it."""
    dm = dmx.start(args=("-d", "-v"))
    send_big(dm, ["r@v.test", "n@v.test"], 200 * 1024, "big")
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    m = wait_log(dm, r"temporary failure: (4\.2\.2 \S+ \S+tmp/\S+: .*)")
    assert m, dm.logtext()
    assert "No space left on device" in m.group(1)
    assert "permanent failure" not in dm.logtext()
    q = dm.ctl("show", "queue").stdout
    assert "4.2.2" in q, q
    assert mailbox_files(tinybox, "tmp") == []
    assert mailbox_files(tinybox, "new") == []
    # make room: the queue's next retry (1s) delivers it, once
    run(["mount", "-o", "remount,size=1m", tinybox], check=True)
    assert len(wait_files(dm, "r@v.test", 1)) == 1
    assert mailbox_files(tinybox, "tmp") == []
    deadline = time.time() + 10
    while time.time() < deadline and dm.ctl("show", "queue").stdout:
        time.sleep(0.1)
    assert dm.ctl("show", "queue").stdout == ""
    assert dm.proc.poll() is None


def test_read_only_mailbox_is_retried(dmx, tinybox):
    """A maildir whose filesystem went read-only: 4.3.0, retried, and
    delivered once it is writable again."""
    run(["mount", "-o", "remount,ro", tinybox], check=True)
    dm = dmx.start(args=("-d", "-v"))
    send(dm, "r@v.test", 1, "ro")
    m = wait_log(dm, r"temporary failure: (4\.3\.0 .*)")
    assert m, dm.logtext()
    assert "Read-only file system" in m.group(1)
    assert "permanent failure" not in dm.logtext()
    assert "4.3.0" in dm.ctl("show", "queue").stdout
    run(["mount", "-o", "remount,rw", tinybox], check=True)
    assert len(wait_files(dm, "r@v.test", 1)) == 1
    assert mailbox_files(tinybox, "tmp") == []
    assert dm.proc.poll() is None


def test_vanished_home_is_retried(dmx):
    """n@v.test (user nobody) has no maildir yet and may not create one:
    its place vanished, or an unmounted /home left a root-owned mount
    point.  A temporary failure (4.3.0, permission denied), not a bounce;
    r@v.test is served meanwhile, and n@v.test once the place is back."""
    os.chmod(dmx.maildir, 0o755)
    try:
        dm = dmx.start(args=("-d", "-v"))
        send(dm, "n@v.test", 1, "gone")
        send(dm, "r@v.test", 1, "here")
        assert len(wait_files(dm, "r@v.test", 1)) == 1
        m = wait_log(dm, r"temporary failure: (4\.3\.0 maildir \S+n@v\.test"
                     r": Permission denied)")
        assert m, dm.logtext()
        assert "permanent failure" not in dm.logtext()
        assert "4.3.0" in dm.ctl("show", "queue").stdout
    finally:
        os.chmod(dmx.maildir, 0o1777)
    assert len(wait_files(dm, "n@v.test", 1)) == 1
    deadline = time.time() + 10
    while time.time() < deadline and dm.ctl("show", "queue").stdout:
        time.sleep(0.1)
    assert dm.ctl("show", "queue").stdout == ""


def test_missing_home_is_not_created(dmx):
    """A maildir under ~/ of a user whose home is not there (nobody's is
    /nonexistent: as an unmounted /home would be): a temporary failure
    (4.3.0) that names the home, which is not created; r@v.test is
    served meanwhile."""
    assert pwd.getpwnam("nobody").pw_dir == "/nonexistent"
    assert not os.path.exists("/nonexistent")
    with open(dmx.conf, "a") as f:
        f.write('table hus { "n@h.test" = "nobody" }\n'
                'action "h" maildir "~/Maildir" virtual <hus>\n'
                'match from any for domain "h.test" action "h"\n')
    dm = dmx.start(args=("-d", "-v"))
    send(dm, "n@h.test", 1, "homeless")
    send(dm, "r@v.test", 1, "here")
    assert len(wait_files(dm, "r@v.test", 1)) == 1
    m = wait_log(dm, r"temporary failure: (4\.3\.0 home directory "
                 r"/nonexistent: No such file or directory)")
    assert m, dm.logtext()
    assert "permanent failure" not in dm.logtext()
    assert "4.3.0 home directory" in dm.ctl("show", "queue").stdout
    assert not os.path.exists("/nonexistent")

"""Local submission: posternctl sendmail (also installed as sendmail) and
mailq, against the real daemon.  The callers run as user nobody (setpriv),
as cron and PHP do, or as root; mail is delivered to local maildirs.

Modules covered: posternctl/sendmail.c, posternctl/mailq.c,
lib/sendmail_msg.c (and the local session in smtpd/session.c, the
submission socket in posternd/control.c)."""

import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import POSTERNCTL

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
HOST = "mail.test"


@pytest.fixture
def sm(daemon_factory):
    base = tempfile.mkdtemp(prefix="postern-sendmail-")
    os.chmod(base, 0o1777)
    dm = daemon_factory(sub="sendmail")
    dm.maildir = base
    with open(os.path.join(dm.dir, "lu"), "w") as f:
        f.write("nobody\nroot\n")
    with open(dm.conf, "a") as f:
        f.write('hostname "%s"\n'
                'max-message-size 64K\n'
                'queue retry 30s max 1h\n'
                'table lu file:"%s/lu"\n'
                'local-users allow <lu>\n'
                'action "l" maildir "%s/%%{user}"\n'
                'action "out" relay host "smtp://127.0.0.1:9"\n'
                'match from local for local action "l"\n'
                'match from local for domain "far.test" action "out"\n'
                % (HOST, dm.dir, base))
    dm.start()
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


def sendmail(dm, args, data, user=True, sock=None):
    cmd = [POSTERNCTL, "-s", sock or dm.sock, "sendmail", *args]
    if user:
        cmd = NOBODY + cmd
    if isinstance(data, str):
        data = data.encode()
    return subprocess.run(cmd, input=data, capture_output=True, timeout=60)


def mails(dm, user):
    return sorted(glob.glob(os.path.join(dm.maildir, user, "new", "*")))


def wait_mails(dm, user, want, timeout=20):
    deadline = time.time() + timeout
    while len(mails(dm, user)) < want and time.time() < deadline:
        time.sleep(0.05)
    got = mails(dm, user)
    assert len(got) == want, (got, dm.logtext())
    return got


def read(path):
    with open(path, "rb") as f:
        return f.read()


def header(msg):
    return msg.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in msg else \
        msg.split(b"\n\n", 1)[0]


def queue_empty(dm):
    r = dm.ctl("show", "queue")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == ""


def test_socket_mode(sm):
    path = sm.sock.replace(".sock", "-sendmail.sock")
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666
    # the control socket stays closed to other users
    assert stat.S_IMODE(os.lstat(sm.sock).st_mode) == 0o660
    assert sm.ctl("show", "queue", as_nobody=True).returncode != 0


def test_cron_style(sm):
    # what Debian's cron runs: no To, a Subject, the job's output piped
    r = sendmail(sm, ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "nobody"],
                 "Subject: Cron <nobody@h> true\n\nline one\nline two\n")
    assert r.returncode == 0, r.stderr
    m = read(wait_mails(sm, "nobody", 1)[0])
    assert b"Return-Path: <nobody@mail.test>" in m
    assert re.search(rb"Received: from nobody \(uid %d\)\r?\n\tby mail.test"
                     % pwd.getpwnam("nobody").pw_uid, m), m
    h = header(m)
    assert b'From: "CronDaemon" <nobody@mail.test>' in h
    assert re.search(rb"\nDate: \w{3}, ", h)
    assert b"\nMessage-ID: <" in h
    assert b"Subject: Cron <nobody@h> true" in h
    assert m.endswith(b"line one\r\nline two\r\n") or \
        m.endswith(b"line one\nline two\n")
    assert "local submission by uid" in sm.logtext()


def test_t_bcc_removed(sm):
    msg = ("From: Nobody <nobody@mail.test>\n"
           "To: Someone <nobody>\n"
           "Bcc: (hidden)\n"
           "  root\n"
           "Subject: blind\n\nbody\n")
    r = sendmail(sm, ["-t", "-i"], msg)
    assert r.returncode == 0, r.stderr
    n = read(wait_mails(sm, "nobody", 1)[0])
    roots = wait_mails(sm, "root", 1)
    for m in [n] + [read(p) for p in roots]:
        h = header(m)
        assert b"Bcc" not in h and b"hidden" not in h, m
        assert b"To: Someone <nobody>" in h
    # without -t and without arguments there is nobody to send to
    r = sendmail(sm, ["-i"], msg)
    assert r.returncode == 64, r.stderr


def test_f_rules(sm):
    body = "Subject: f\n\nx\n"
    # nobody may name only its own address
    r = sendmail(sm, ["-f", "<nobody@mail.test>", "nobody"], body)
    assert r.returncode == 0, r.stderr
    wait_mails(sm, "nobody", 1)
    for bad in ("root@mail.test", "boss@elsewhere.test", "<>"):
        r = sendmail(sm, ["-f", bad, "nobody"], body)
        assert r.returncode == 77, (bad, r.returncode, r.stderr)
        assert b"553" in r.stderr and b"not sent" not in r.stdout
    # root may name any sender, the null path included
    r = sendmail(sm, ["-f", "boss@elsewhere.test", "nobody"], body,
                 user=False)
    assert r.returncode == 0, r.stderr
    r = sendmail(sm, ["-f<>", "nobody"], body, user=False)
    assert r.returncode == 0, r.stderr
    got = [read(p) for p in wait_mails(sm, "nobody", 3)]
    paths = sorted(re.search(rb"Return-Path: <([^>]*)>", m).group(1)
                   for m in got)
    assert paths == [b"", b"boss@elsewhere.test", b"nobody@mail.test"]
    time.sleep(0.5)
    assert len(mails(sm, "nobody")) == 3
    assert "may send only as nobody@mail.test" in sm.logtext()


def test_bs(sm):
    dialogue = ("EHLO me\n"
                "MAIL FROM:<nobody@mail.test>\n"
                "RCPT TO:<nobody@mail.test>\n"
                "DATA\n"
                "Subject: bs\n\nvia -bs\n.\n"
                "QUIT\n")
    r = sendmail(sm, ["-bs"], dialogue)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("220 mail.test ESMTP"), out
    for code in ("250-mail.test", "250 2.1.0", "250 2.1.5", "354 ",
                 "Message accepted", "221 "):
        assert code in out, out
    m = read(wait_mails(sm, "nobody", 1)[0])
    assert b"via -bs" in m and b"Received: from nobody (uid" in m


def test_dot_lines(sm):
    # -i: a lone "." is data (dot-stuffed on the wire, stored as ".")
    r = sendmail(sm, ["-i", "nobody"], "Subject: dots\n\na\n.\n..\nb\n")
    assert r.returncode == 0, r.stderr
    m = read(wait_mails(sm, "nobody", 1)[0])
    assert m.replace(b"\r\n", b"\n").endswith(b"\na\n.\n..\nb\n"), m
    # without -i (and -oi) the "." line ends the message
    r = sendmail(sm, ["nobody"], "Subject: dots\n\nc\n.\nlost\n")
    assert r.returncode == 0, r.stderr
    got = [read(p) for p in wait_mails(sm, "nobody", 2)]
    m = [g for g in got if b"\nc\r\n" in g or b"\nc\n" in g][0]
    assert b"lost" not in m
    r = sendmail(sm, ["-oi", "nobody"], "Subject: dots\n\nd\n.\nkept\n")
    assert r.returncode == 0, r.stderr
    got = [read(p) for p in wait_mails(sm, "nobody", 3)]
    assert any(b"kept" in g for g in got)


def test_8bit_utf8(sm):
    body = "Subject: caf\u00e9 \u2615\n\nGr\u00fc\u00dfe, \u65e5\u672c\n"
    r = sendmail(sm, ["-v", "-i", "nobody"], body)
    assert r.returncode == 0, r.stderr
    assert b"BODY=8BITMIME" in r.stderr and b"SMTPUTF8" in r.stderr
    m = read(wait_mails(sm, "nobody", 1)[0])
    assert "Gr\u00fc\u00dfe, \u65e5\u672c".encode() in m
    assert "Subject: caf\u00e9 \u2615".encode() in m


def test_too_big(sm):
    big = "Subject: big\n\n" + ("x" * 998 + "\n") * 100   # ~100 KB > 64K
    r = sendmail(sm, ["-i", "nobody"], big)
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert b"552" in r.stderr
    time.sleep(0.5)
    assert mails(sm, "nobody") == []
    assert queue_empty(sm)


def test_refused_recipient(sm):
    # all or nothing: one unknown recipient and no one gets it
    r = sendmail(sm, ["-i", "nobody", "nosuchuser"], "Subject: r\n\nx\n")
    assert r.returncode == 67, (r.returncode, r.stderr)
    assert b"nosuchuser@mail.test" in r.stderr
    assert b"not sent" in r.stderr
    time.sleep(0.5)
    assert mails(sm, "nobody") == []


def test_flags(sm):
    # unknown flags: EX_USAGE; unknown -o options: ignored
    r = sendmail(sm, ["-z", "nobody"], "x\n")
    assert r.returncode == 64 and b"unknown option -z" in r.stderr
    r = sendmail(sm, ["-bi"], "")
    assert r.returncode == 64
    r = sendmail(sm, ["-odi", "-oem", "-oXfoo", "-G", "-v", "-i", "-U",
                      "--", "nobody"], "Subject: o\n\nx\n")
    assert r.returncode == 0, r.stderr
    wait_mails(sm, "nobody", 1)


def test_daemon_down(sm):
    # the caller hears EX_TEMPFAIL and keeps the message: nothing silent
    sm.stop()
    r = sendmail(sm, ["-i", "nobody"], "Subject: down\n\nx\n")
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert b"posternd" in r.stderr and b"not sent" in r.stderr


def test_mailq(sm):
    r = sendmail(sm, ["-i", "someone@far.test"], "Subject: q\n\nwaiting\n",
                 user=False)
    assert r.returncode == 0, r.stderr
    # the relay (port 9) refuses: the message waits with its error
    deadline = time.time() + 20
    while time.time() < deadline:
        r = subprocess.run([POSTERNCTL, "-s", sm.sock, "sendmail", "-bp"],
                           capture_output=True, text=True, timeout=30)
        if "(" in r.stdout:
            break
        time.sleep(0.2)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["-Queue", "ID-", "--Size--",
                                "----Arrival", "Time----",
                                "-Sender/Recipient-------"]
    m = re.match(r"^([0-9a-f]{12})[ *!] +(\d+) +(\w{3} \w{3} [ \d]\d "
                 r"\d\d:\d\d:\d\d)  root@mail.test$", lines[1])
    assert m, "\n".join(lines)
    assert int(m.group(2)) > 100
    assert re.match(r"^ {43}\(.+\)$", lines[2]), lines
    assert lines[3] == " " * 43 + "someone@far.test"
    assert lines[-1] == "-- 1 Kbytes in 1 Request."
    # mailq is for root and the control group, as show queue
    r = subprocess.run(NOBODY + [POSTERNCTL, "-s", sm.sock, "sendmail",
                                 "-bp"], capture_output=True, text=True)
    assert r.returncode != 0 and "control group" in r.stderr


def test_invoked_as_sendmail_and_mailq(sm, tmp_path):
    # the names make install links to posternctl
    tmp_path = tmp_path / "bin"
    tmp_path.mkdir()
    for name in ("sendmail", "mailq"):
        os.symlink(POSTERNCTL, str(tmp_path / name))
    r = subprocess.run([str(tmp_path / "sendmail"), "-q"],
                       capture_output=True, timeout=30)
    assert r.returncode == 64 and b"unknown option -q" in r.stderr
    r = subprocess.run([str(tmp_path / "mailq"), "-x"],
                       capture_output=True, timeout=30)
    assert r.returncode == 64
    if os.path.exists("/run/postern-sendmail.sock"):
        pytest.skip("a posternd runs at the default socket")
    r = subprocess.run([str(tmp_path / "sendmail"), "nobody"],
                       input=b"x\n", capture_output=True, timeout=30)
    assert r.returncode == 75 and \
        b"/run/postern-sendmail.sock" in r.stderr


def start_signed(daemon_factory, tmp_path, extra):
    """A daemon that DKIM-signs mail.test; extra goes in its
    configuration.  Returns it with its maildir base."""
    base = tempfile.mkdtemp(prefix="postern-sendmail-")
    os.chmod(base, 0o1777)
    key = str(tmp_path / "dkim.key")
    r = subprocess.run([POSTERNCTL, "dkim", "keygen", "-a", "ed25519-sha256",
                        "-d", HOST, "-s", "sel", "-o", key],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dm = daemon_factory(sub="signed")
    dm.maildir = base
    dm.record = "".join(re.findall(r'"([^"]*)"', r.stdout))
    with open(os.path.join(dm.dir, "lu"), "w") as f:
        f.write("nobody\n")
    with open(dm.conf, "a") as f:
        f.write('hostname "%s"\n'
                '%s'
                'dkim-signature ed {\n'
                '\tkey "%s"\n\tdomain %s\n\tselector sel\n'
                '\talgorithm ed25519-sha256\n}\n'
                'sign with ed domain %s\n'
                'table lu file:"%s/lu"\n'
                'local-users allow <lu>\n'
                'action "l" maildir "%s/%%{user}"\n'
                'match from local for local action "l"\n'
                % (HOST, extra, key, HOST, HOST, dm.dir, base))
    dm.start()
    return dm, base


@pytest.fixture
def sm_signed(daemon_factory, tmp_path):
    """Signing, and the control group is nogroup: its members may set any
    sender, like root."""
    dm, base = start_signed(daemon_factory, tmp_path,
                            'control group "nogroup"\n')
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sm_signed_user(daemon_factory, tmp_path):
    """Signing, and nobody is an ordinary local user."""
    dm, base = start_signed(daemon_factory, tmp_path, "")
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_user_is_signed_only_as_itself(sm_signed_user):
    """Our DKIM signature vouches for the From field: an ordinary user's
    message whose From names another address of our domain goes out
    unsigned (it would pass DMARC as that address otherwise)."""
    dm = sm_signed_user
    r = sendmail(dm, ["-i", "nobody"], "From: The CEO <ceo@mail.test>\n"
                 "Subject: forged\n\nbody\n")
    assert r.returncode == 0, r.stderr
    forged = read(wait_mails(dm, "nobody", 1)[0])
    assert b"From: The CEO <ceo@mail.test>" in forged
    assert b"DKIM-Signature:" not in forged
    assert "From is not nobody@mail.test, the local user's own address: " \
        "not signed" in dm.logtext()
    # its own address: signed
    r = sendmail(dm, ["-i", "nobody"], "From: nobody@mail.test\n"
                 "Subject: mine\n\nbody\n")
    assert r.returncode == 0, r.stderr
    got = [read(p) for p in wait_mails(dm, "nobody", 2)]
    assert sum(b"DKIM-Signature:" in g for g in got) == 1


def test_signed_and_control_group(sm_signed):
    import dkim
    dm = sm_signed
    # nobody is in group nogroup, the control group: any sender
    r = sendmail(dm, ["-f", "list-owner@elsewhere.test", "-i", "nobody"],
                 "Subject: signed\n\nbody\n")
    assert r.returncode == 0, r.stderr
    raw = read(wait_mails(dm, "nobody", 1)[0])
    assert b"Return-Path: <list-owner@elsewhere.test>" in raw
    # a From field added names the envelope sender: not our domain, and
    # the sign rule is for mail.test only
    assert re.search(rb"\nFrom: [^\r\n]*<list-owner@elsewhere.test>", raw)
    assert b"DKIM-Signature:" not in raw
    r = sendmail(dm, ["-i", "nobody"], "Subject: signed\n\nbody\n")
    assert r.returncode == 0, r.stderr
    got = [read(p) for p in wait_mails(dm, "nobody", 2)]
    mine = [g for g in got if re.search(rb"\nFrom: [^\r\n]*<nobody@mail.test>",
                                        g)]
    assert len(mine) == 1, got
    raw = mine[0]
    assert b"DKIM-Signature:" in raw
    start = raw.index(b"DKIM-Signature:")

    def dnsfunc(name, timeout=5):
        assert name == b"sel._domainkey.mail.test."
        return dm.record.encode()
    assert dkim.verify(raw[start:], dnsfunc=dnsfunc)


def test_paused(sm):
    # posternctl pause smtp stops local submission too: EX_TEMPFAIL
    assert sm.ctl("pause", "smtp").returncode == 0
    r = sendmail(sm, ["-i", "nobody"], "Subject: p\n\nx\n")
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert b"421 4.3.2" in r.stderr
    assert sm.ctl("resume", "smtp").returncode == 0
    r = sendmail(sm, ["-t", "-i", "nobody", "nobody@MAIL.test"],
                 "To: nobody\nSubject: p\n\nx\n")
    assert r.returncode == 0, r.stderr
    # named three times, delivered once
    time.sleep(0.5)
    wait_mails(sm, "nobody", 1)


def test_server_enforces_sender(sm):
    # whatever the client says (here raw SMTP with -bs), smtp decides
    dialogue = ("EHLO me\r\n"
                "MAIL FROM:<root@mail.test>\r\n"
                "MAIL FROM:<>\r\n"
                "QUIT\r\n")
    r = sendmail(sm, ["-bs"], dialogue)
    out = r.stdout.decode()
    assert out.count("553 5.7.1") == 2, out


RAW = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
banner = s.recv(4096)
assert banner.startswith(b"220 "), banner
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
"""


def test_bad_input_on_socket(sm):
    path = sm.sock.replace(".sock", "-sendmail.sock")
    # a line far over the limit, then a client that leaves mid-DATA, then
    # one that leaves at once: each ends its own session only
    for data in ("x" * 70000 + "\\r\\n",
                 "EHLO a\\r\\nMAIL FROM:<nobody@mail.test>\\r\\n"
                 "RCPT TO:<nobody@mail.test>\\r\\nDATA\\r\\nSubject: half\\r\\n",
                 ""):
        subprocess.run(NOBODY + ["/usr/bin/python3", "-c", RAW, path, data],
                       capture_output=True, timeout=60)
    r = sendmail(sm, ["-i", "nobody"], "Subject: after\n\nstill here\n")
    assert r.returncode == 0, (r.stderr, sm.logtext())
    got = wait_mails(sm, "nobody", 1)
    assert b"still here" in read(got[0])
    assert sm.proc.poll() is None


def test_local_sessions_bounded_per_user_and_in_all(daemon_factory):
    """A local user is one client for smtp-max-per-ip, and local users
    together hold at most half of smtp-max-sessions, so that they cannot
    shut out the mail from outside (review finding)."""
    import smtplib
    dm = daemon_factory(sub="sendmail-limits")
    with open(dm.conf, "a") as f:
        f.write('hostname "%s"\nsmtp-max-per-ip 2\nsmtp-max-sessions 6\n'
                % HOST)
    dm.start()
    held = []

    def open_bs(user):
        cmd = [POSTERNCTL, "-s", dm.sock, "sendmail", "-bs"]
        p = subprocess.Popen(NOBODY + cmd if user else cmd,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        held.append(p)
        return p.stdout.readline()
    try:
        assert open_bs(True).startswith(b"220")
        assert open_bs(True).startswith(b"220")
        # nobody's third: smtp-max-per-ip
        assert open_bs(True).startswith(b"421")
        assert "too many connections: 2 sessions from uid 65534 " \
            "(smtp-max-per-ip)" in dm.logtext()
        # root's first makes three local sessions of six: the next is
        # refused, though root has only one
        assert open_bs(False).startswith(b"220")
        assert open_bs(False).startswith(b"421")
        assert "3 local sessions (half of smtp-max-sessions)" in \
            dm.logtext()
        # and the mail from outside still comes in
        with smtplib.SMTP("127.0.0.1", dm.port) as c:
            assert c.noop()[0] == 250
    finally:
        for p in held:
            p.stdin.close()
            p.kill()
            p.wait()
    dm.stop()


def test_no_command_injection_through_arguments(sm):
    """-f, -N and recipients reach the SMTP dialogue: a CR or LF in them
    would let a caller (a web application passing a user's -f) slip
    commands in; they are refused before anything is sent (review
    finding)."""
    evil = "nobody@mail.test>\r\nRCPT TO:<root@mail.test>\r\nDATA\r\n" \
           "Subject: smuggled\r\n\r\nx\r\n.\r\nMAIL FROM:<nobody@mail.test"
    for args in (["-f", evil, "-i", "nobody"],
                 ["-N", "SUCCESS\r\nRCPT TO:<root@mail.test>", "-i",
                  "nobody"],
                 ["-N", "SOMETIMES", "-i", "nobody"]):
        r = sendmail(sm, args, "Subject: mine\n\nbody\n")
        assert r.returncode == 64, (args, r.returncode, r.stderr)
    time.sleep(0.5)
    assert mails(sm, "root") == [] and mails(sm, "nobody") == []
    # what is valid still goes
    n = len(mails(sm, "nobody"))
    r = sendmail(sm, ["-N", "failure,delay", "-i", "nobody"],
                 "Subject: mine\n\nbody\n")
    assert r.returncode == 0, r.stderr
    wait_mails(sm, "nobody", n + 1)

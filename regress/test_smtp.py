"""Inbound SMTP end to end: a real client, the real daemon, maildirs."""
import glob
import os
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import POSTERND, next_port, run
from loadgen import strip_trace

CONFIG = '''
hostname mx.example.test
pki test cert "{d}/cert.pem" key "{d}/key.pem"
listen on 127.0.0.1 port {tls_port} tls pki test
listen on 127.0.0.1 port {smtps_port} smtps pki test
listen on 127.0.0.1 port {req_port} tls require pki test
table domains {{ "localhost", "example.test" }}
action "local" maildir "{d}/mail/%{{user}}"
match from any for domain <domains> action "local"
'''


@pytest.fixture
def mx(daemon_factory, tmp_path):
    d = tmp_path / "mx"
    d.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=mx.example.test",
                    "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dm = daemon_factory()
    # each checked free: dm.port + N may still be in TIME_WAIT from the
    # listeners of the test before
    dm.tls_port, dm.smtps_port, dm.req_port = (next_port(), next_port(),
                                               next_port())
    with open(dm.conf, "a") as f:
        f.write(CONFIG.format(d=d, tls_port=dm.tls_port,
                              smtps_port=dm.smtps_port,
                              req_port=dm.req_port))
    dm.maildir = str(d / "mail")
    dm.start()
    return dm


def delivered(dm, user="root", want=1, timeout=10):
    """The files in user's new/ once `want` are there."""
    deadline = time.time() + timeout
    while True:
        files = sorted(glob.glob(os.path.join(dm.maildir, user, "new", "*")))
        if len(files) >= want or time.time() >= deadline:
            break
        time.sleep(0.05)
    out = []
    for f in files:
        with open(f, "rb") as fp:
            out.append(fp.read())
    return out


# The message as the client sent it: without our trace header fields.
body_after_received = strip_trace


MSG = (b"From: a@sender.test\r\nTo: root@localhost\r\nSubject: hello\r\n"
       b"\r\nline one\r\n..dot line\r\nlast\r\n")


def test_smtplib_delivers_to_maildir(mx):
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        code, _ = c.ehlo("client.test")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8",
                    "enhancedstatuscodes", "chunking", "dsn"):
            assert c.has_extn(ext), ext
        c.mail("a@sender.test")
        c.rcpt("root@localhost")
        code, text = c.data(MSG)
        assert code == 250
        assert b"Message accepted" in text
        qid = text.split()[1].decode()
    got = delivered(mx)
    assert len(got) == 1
    raw = got[0]
    assert raw.startswith(b"Return-Path: <a@sender.test>\r\n"
                          b"Delivered-To: root@localhost\r\n"
                          b"Authentication-Results: mx.example.test;")
    assert b"\r\nReceived: from " in raw.split(b"\r\n\r\n")[0]
    assert qid.encode() in raw.split(b"\r\n\r\n")[0]
    assert body_after_received(raw) == MSG.replace(b"..dot", b"..dot")


def test_swaks_and_queue_id_in_log(mx):
    r = run(["swaks", "--server", "127.0.0.1:%d" % mx.port,
             "--to", "root@localhost", "--from", "s@sender.test",
             "--body", "swaks body"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0" in r.stdout
    got = delivered(mx)
    assert b"swaks body" in got[0]
    # the queue logs the delivery once the parent's result is in
    deadline = time.time() + 5
    while "delivered" not in mx.logtext() and time.time() < deadline:
        time.sleep(0.05)
    assert "delivered" in mx.logtext()


def test_open_relay_probe_refused(mx):
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        code, text = c.rcpt("victim@elsewhere.test")
        assert code == 550
        assert text.startswith(b"5.7.1")
        code, _ = c.docmd("DATA")
        assert code in (503, 554)
    assert delivered(mx, timeout=0.5) == []


def test_unknown_user_refused_at_rcpt(mx):
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        code, text = c.rcpt("no-such-user-here@localhost")
        assert code == 550
        assert text.startswith(b"5.1.1")


def test_system_accounts_refused_at_rcpt(mx):
    """issue 14: a system account that cannot receive mail (Debian's
    daemon: uid 1, nologin; nobody: home /nonexistent, nologin) is refused
    at RCPT, not accepted and bounced later to a forged sender; root's
    mail is taken."""
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        for user in ("daemon", "nobody", "Daemon"):
            code, text = c.rcpt(user + "@localhost")
            assert code == 550 and text.startswith(b"5.1.1"), (user, text)
        assert c.rcpt("root@localhost")[0] == 250
        assert c.data(MSG)[0] == 250
    assert len(delivered(mx)) == 1
    assert "daemon is an account that cannot receive mail" in mx.logtext()


def test_local_users_exception(daemon_factory, tmp_path):
    """local-users allow <T> takes a system account anyway."""
    dm = daemon_factory(sub="exception")
    with open(dm.conf, "a") as f:
        f.write('table mailable { "daemon" }\n'
                'local-users allow <mailable>\n'
                'table domains { "localhost" }\n'
                'action "local" maildir "%s/%%{user}"\n'
                'match from any for domain <domains> action "local"\n'
                % (tmp_path / "mail"))
    dm.start()
    with smtplib.SMTP("127.0.0.1", dm.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        assert c.rcpt("daemon@localhost")[0] == 250
        code, text = c.rcpt("nobody@localhost")
        assert code == 550 and text.startswith(b"5.1.1")
        assert c.rcpt("root@localhost")[0] == 250
        c.rset()


def raw_session(port, lines, tls=False):
    """Send raw bytes, return everything the server said."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    out = b""
    s.settimeout(3)
    out += s.recv(4096)
    s.sendall(lines)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"221 " in out:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def test_bare_lf_in_data_rejected_nothing_stored(mx):
    out = raw_session(mx.port,
                      b"EHLO c\r\nMAIL FROM:<a@s.test>\r\n"
                      b"RCPT TO:<root@localhost>\r\nDATA\r\n"
                      b"Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<b@s.test>"
                      b"\r\n.\r\nQUIT\r\n")
    replies = [l for l in out.split(b"\r\n") if l]
    assert any(l.startswith(b"354") for l in replies)
    assert not any(l.startswith(b"250 2.0.0") and b"accepted" in l
                   for l in replies), out
    assert any(l[:1] == b"5" for l in replies[3:]), out
    assert delivered(mx, timeout=1) == []


def test_pipelined_transaction(mx):
    out = raw_session(mx.port,
                      b"EHLO c\r\nMAIL FROM:<a@s.test>\r\n"
                      b"RCPT TO:<root@localhost>\r\n"
                      b"RCPT TO:<nobody@elsewhere.test>\r\nDATA\r\n"
                      b"Subject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n")
    codes = [l[:3] for l in out.split(b"\r\n") if l[:3].isdigit()
             and l[3:4] == b" "]
    assert codes == [b"220", b"250", b"250", b"250", b"550", b"354",
                     b"250", b"221"], out
    assert b"pipelined" in delivered(mx)[0]


def test_bdat_last(mx):
    body = b"Subject: chunks\r\n\r\nfirst part "
    body2 = b"second part\r\n"
    out = raw_session(mx.port,
                      b"EHLO c\r\nMAIL FROM:<a@s.test>\r\n"
                      b"RCPT TO:<root@localhost>\r\n" +
                      b"BDAT %d\r\n" % len(body) + body +
                      b"BDAT %d LAST\r\n" % len(body2) + body2 +
                      b"QUIT\r\n")
    assert b"Message accepted" in out, out
    got = delivered(mx)
    assert got[0].endswith(body.split(b"\r\n\r\n")[1] + body2)


def test_8bit_and_smtputf8_byte_exact(mx):
    msg8 = ("From: a@s.test\r\nSubject: caf\u00e9\r\n\r\n"
            "gr\u00fc\u00dfe \u2603\r\n").encode()
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("c")
        c.mail("a@s.test", ["BODY=8BITMIME"])
        c.rcpt("root@localhost")
        assert c.data(msg8)[0] == 250
        c.mail("j\u00f6rg@s.test".encode().decode(), ["SMTPUTF8",
                                                       "BODY=8BITMIME"])
        assert c.rcpt("root@localhost")[0] == 250
        assert c.data(msg8)[0] == 250
    got = delivered(mx, want=2)
    assert len(got) == 2
    for raw in got:
        assert body_after_received(raw) == msg8
    assert any("Return-Path: <j\u00f6rg@s.test>".encode() in g for g in got)


def test_starttls_and_smtps(mx):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", mx.tls_port) as c:
        c.ehlo("c")
        assert c.has_extn("starttls")
        assert not c.has_extn("requiretls")
        c.starttls(context=ctx)
        c.ehlo("c")
        assert not c.has_extn("starttls")
        # RFC 8689 4.1: offered inside TLS only, and taken there
        assert c.has_extn("requiretls")
        code, text = c.mail("a@s.test", ["REQUIRETLS"])
        assert code == 250, text
        c.rset()
        c.sendmail("a@s.test", ["root@localhost"], MSG)
    with smtplib.SMTP_SSL("127.0.0.1", mx.smtps_port, context=ctx) as c:
        c.ehlo("c")
        c.sendmail("a@s.test", ["root@localhost"], MSG)
    got = delivered(mx, want=2)
    assert len(got) == 2
    for raw in got:
        assert b"TLSv1.3" in raw or b"TLSv1.2" in raw
        assert body_after_received(raw) == MSG


def test_tls_required_listener(mx):
    with smtplib.SMTP("127.0.0.1", mx.req_port) as c:
        c.ehlo("c")
        code, text = c.docmd("MAIL FROM:<a@s.test>")
        assert code == 530 and text.startswith(b"5.7.0")


def test_starttls_injection_discarded(mx):
    s = socket.create_connection(("127.0.0.1", mx.tls_port), timeout=10)
    s.recv(4096)
    s.sendall(b"EHLO c\r\n")
    time.sleep(0.3)
    s.recv(4096)
    # The classic attack: commands pipelined behind STARTTLS in the clear.
    s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@s.test>\r\n")
    time.sleep(0.3)
    assert s.recv(4096).startswith(b"220")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s)
    t.sendall(b"RCPT TO:<root@localhost>\r\n")
    reply = t.recv(4096)
    # Had the injected MAIL survived, RCPT would be accepted.
    assert reply.startswith(b"503"), reply
    t.close()


def test_default_size_is_35_mb(mx):
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("c")
        assert int(c.esmtp_features["size"]) == 35 * 1024 * 1024


@pytest.fixture
def small_mx(daemon_factory, tmp_path):
    dm = daemon_factory(sub="small")
    dm.maildir = str(tmp_path / "smallmail")
    with open(dm.conf, "a") as f:
        f.write('max-message-size 1M\n'
                'table domains { "localhost" }\n'
                'action "local" maildir "%s/%%{user}"\n'
                'match from any for domain <domains> action "local"\n'
                % dm.maildir)
    return dm.start()


def test_oversize_message_refused(small_mx):
    line = b"x" * 998 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * 1100      # > 1 MB
    small = b"Subject: small\r\n\r\n" + line * 100
    with smtplib.SMTP("127.0.0.1", small_mx.port) as c:
        c.ehlo("c")
        assert int(c.esmtp_features["size"]) == 1024 * 1024
        # declared too big: refused at MAIL
        code, text = c.docmd("MAIL FROM:<a@s.test> SIZE=%d" % len(big))
        assert code == 552 and text.startswith(b"5.3.4")
        # not declared: counted, refused at the end, nothing stored
        c.mail("a@s.test")
        c.rcpt("root@localhost")
        code, text = c.data(big)
        assert code == 552 and text.startswith(b"5.3.4")
        # the session goes on
        c.sendmail("a@s.test", ["root@localhost"], small)
    got = delivered(small_mx)
    assert len(got) == 1
    assert body_after_received(got[0]) == small
    time.sleep(0.5)
    assert len(delivered(small_mx, timeout=0)) == 1


def test_shutdown_says_421(mx):
    s = socket.create_connection(("127.0.0.1", mx.port), timeout=10)
    assert s.recv(4096).startswith(b"220")
    s.sendall(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<root@localhost>"
              b"\r\nDATA\r\nSubject: half\r\n\r\nhalf a message\r\n")
    time.sleep(0.3)
    s.recv(4096)
    os.kill(mx.proc.pid, 15)
    assert mx.wait_exit(10) == 0
    rest = s.recv(4096)
    assert rest.startswith(b"421 4.3.2"), rest
    s.close()
    # nothing half-received was stored or delivered
    mx2 = mx.start()
    time.sleep(0.5)
    assert mx2.ctl("show", "queue").stdout == ""
    assert delivered(mx2, timeout=0) == []


@pytest.fixture
def vmx(daemon_factory, tmp_path):
    dm = daemon_factory(sub="virtual")
    dm.maildir = str(tmp_path / "vmail")
    (tmp_path / "vusers").write_text(
        "# virtual users: address, then the system user who owns the mail\n"
        "bob@virtual.test  root\n"
        "@catch.test       root\n"
        "ghost@virtual.test no-such-system-user\n")
    with open(dm.conf, "a") as f:
        f.write('table vusers file:"%s/vusers"\n'
                'action "vmail" maildir "%s/%%{rcpt}" virtual <vusers>\n'
                'match from any for domain "virtual.test" action "vmail"\n'
                'match from any for domain "catch.test" action "vmail"\n'
                % (tmp_path, dm.maildir))
    return dm.start()


def test_virtual_domain_table(vmx):
    with smtplib.SMTP("127.0.0.1", vmx.port) as c:
        c.ehlo("c")
        c.mail("a@s.test")
        assert c.rcpt("bob@virtual.test")[0] == 250
        assert c.rcpt("BOB@Virtual.Test")[0] == 250
        code, text = c.rcpt("carol@virtual.test")
        assert code == 550 and text.startswith(b"5.1.1")
        code, text = c.rcpt("ghost@virtual.test")
        assert code == 550 and text.startswith(b"5.1.1")
        assert c.rcpt("anyone@catch.test")[0] == 250
        assert c.data(MSG)[0] == 250
    assert len(delivered(vmx, user="bob@virtual.test")) == 1
    assert len(delivered(vmx, user="BOB@Virtual.Test")) == 1
    assert len(delivered(vmx, user="anyone@catch.test")) == 1
    assert "not a user here" in vmx.logtext()


def test_bad_file_table_never_starts(tmp_path):
    (tmp_path / "t").write_text("x" * 3000 + "\n")
    conf = tmp_path / "c.conf"
    conf.write_text('table t file:"%s/t"\n' % tmp_path)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode == 1
    assert "%s/t:1: line too long" % tmp_path in r.stderr


def test_table_file_permissions(tmp_path):
    """Credentials anyone can read, or a table anyone can write, stop the
    start with the reason."""
    creds = tmp_path / "creds"
    creds.write_text("smtp.example.test user:password\n")
    users = tmp_path / "users"
    users.write_text("bob@v.test root\n")
    conf = tmp_path / "c.conf"
    conf.write_text('table creds file:"%s"\n'
                    'table users file:"%s"\n'
                    'action "sh" relay host "smtp+tls://smtp.example.test" '
                    'auth <creds>\n'
                    'action "v" maildir "/tmp/x" virtual <users>\n'
                    % (creds, users))
    os.chmod(creds, 0o644)
    os.chmod(users, 0o644)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode == 1
    assert ("table creds: %s holds credentials and is readable by anyone"
            % creds) in r.stderr
    os.chmod(creds, 0o640)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode == 0, r.stderr
    # an ordinary table may be read by all, not written
    os.chmod(users, 0o666)
    r = run([POSTERND, "-n", "-f", str(conf)])
    assert r.returncode == 1
    assert "table users: %s is writable by anyone" % users in r.stderr


def test_idle_timeout_and_session_limit(daemon_factory):
    dm = daemon_factory("smtp-timeout 2s\nsmtp-max-sessions 3\n",
                        sub="limits").start()
    conns = []
    for i in range(3):
        s = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
        assert s.recv(4096).startswith(b"220")
        conns.append(s)
    extra = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
    assert extra.recv(4096).startswith(b"421 4.7.0")
    extra.close()
    # RFC 5321 4.5.3.2: an idle client is dropped with 421
    conns[0].sendall(b"EHLO c\r\n")
    conns[0].recv(4096)
    start = time.time()
    reply = conns[0].recv(4096)
    assert reply.startswith(b"421 4.4.2"), reply
    assert 1.5 < time.time() - start < 6
    for s in conns:
        s.close()


def test_duplicate_recipient_delivered_once(mx):
    """issue 14: the same recipient twice in one transaction is one
    envelope, so one delivery (and at most one DSN)."""
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        assert c.rcpt("root@localhost")[0] == 250
        code, text = c.rcpt("root@LOCALHOST")
        assert code == 250 and b"duplicate" in text
        assert c.data(MSG)[0] == 250
    got = delivered(mx, want=2, timeout=3)
    assert len(got) == 1
    assert body_after_received(got[0]) == MSG


def test_received_loop_refused_nothing_stored(mx):
    """RFC 5321 6.3: past 100 Received fields the message is a loop:
    554 5.4.6 at end of data and nothing stored; 100 are accepted."""
    def with_received(n):
        trace = b"".join(b"Received: from h%d.example by h%d.example; "
                         b"Mon, 7 Dec 2026 08:00:00 +0000\r\n" % (i, i + 1)
                         for i in range(n))
        return trace + MSG
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        c.rcpt("root@localhost")
        code, text = c.data(with_received(101))
        assert code == 554 and text.startswith(b"5.4.6"), text
    assert delivered(mx, want=1, timeout=2) == []
    assert "message dropped (mail loop: too many Received fields)" in \
        mx.logtext()
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("client.test")
        c.mail("a@sender.test")
        c.rcpt("root@localhost")
        assert c.data(with_received(100))[0] == 250
    got = delivered(mx)
    assert len(got) == 1
    assert got[0].endswith(with_received(100))


def test_70k_folded_header_field_stored_byte_exact(mx):
    # One header field of ~70 KB, folded: more than one imsg payload
    # (64 KB), so smtp must split what it passes to the queue (and to
    # authd) instead of composing one oversized message.
    folds = b"".join(b"\r\n\tx-part-%05d " % i + b"y" * 60
                     for i in range(1000))
    hdr = b"X-Long: start" + folds + b"\r\n"
    assert len(hdr) > 70000
    msg = (b"From: a@sender.test\r\nTo: root@localhost\r\n" + hdr +
           b"Subject: long\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", mx.port) as c:
        c.ehlo("c")
        assert c.sendmail("a@sender.test", ["root@localhost"], msg) == {}
    got = delivered(mx)
    assert len(got) == 1
    assert body_after_received(got[0]) == msg
    assert mx.proc.poll() is None

"""Receiving SMTP servers for the MTA's integration tests, and the TLS
material they present.

    from peers import SmtpPeer, make_ca, make_cert

    ca = make_ca(tmp / "ca")
    tls = make_cert(tmp / "mx", ca, ["mx.example.test"])
    with SmtpPeer(tmp / "mx", addr="127.0.0.25", starttls=True,
                  tls_cert=tls.cert, tls_key=tls.key, dsn=True,
                  replies=[{"cmd": "RCPT", "match": "bad@*",
                            "reply": "550 5.1.1 no such user"}]) as mx:
        mx.start()
        ... make posternd deliver to 127.0.0.25 ...
        msgs = mx.wait_messages(1)
        assert mx.sessions()[0]["tls"]["version"] == "TLSv1.3"

Each SmtpPeer runs smtppeer.py in a process of its own, with its files in
the given directory (a test's tmp dir): config.json, ready, sessions.jsonl,
messages.jsonl, msg/PID-CONN-N.eml and smtppeer.log (start() clears
the records of an earlier run unless keep_records=True).  It listens on
addr:port (127.0.0.0/8 only; port 25 by default, which tests can bind as
root; port 0 picks a free one, see .port).  stop() kills it by its pid,
always, also from __exit__ whatever the test did.

Behaviour keywords (any combination; see DEFAULTS in smtppeer.py):

  hostname="mx.peer.test"     in the greeting and the EHLO reply
  starttls, tls_cert, tls_key  offer STARTTLS with this certificate
  tls_versions=["TLSv1.2", "TLSv1.2"]   min and max protocol version
  implicit_tls=True           TLS from the first byte (port 465 style)
  pipelining, 8bitmime (True by default), smtputf8, dsn, chunking,
  enhancedstatuscodes (True), requiretls (offered once TLS is on)
  size=N                      offer SIZE N and refuse bigger messages
  auth=["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"],
  users={"user": "password"}, auth_require_tls, scram_iterations
  accept_any_params=True      no 555 for MAIL/RCPT parameters of
                              extensions not offered
  connect="refuse"            accept and close at once
  replies=[{"cmd": C, "match": GLOB, "reply": TEXT, "times": N}]
      C is CONNECT (the greeting), EHLO, HELO, STARTTLS, AUTH (instead of
      the exchange), MAIL, RCPT, DATA (the 354), EOM (the reply after the
      message), RSET, NOOP, VRFY, QUIT.  GLOB is matched, without regard
      to case, against the address (MAIL, RCPT; DATA and EOM: the sender),
      the EHLO name or the AUTH mechanism.  The first rule that matches
      and has not been used `times` times (over the process's life, so
      retries see it too) gives the reply; lines of a multi-line reply are
      separated by "\\n" and sent as given.  A 421 closes the connection.
  delays={"CONNECT": 2, "MAIL": 0.5, "EOM": 1, "*": 0}
      seconds before the greeting or the reply to a command
  drop={"cmd": "RCPT", "nth": 1, "after_reply": False}
      close the connection on the nth such command of a session, before
      (or after) replying; "EOM" is the end of the message, "CONNECT" the
      greeting
  max_messages=N              on MAIL after N messages: 421 and close
  max_recipients=N            452 4.5.3 past N recipients in a transaction
  timeout=300                 idle seconds before 421
  hostile={"mode": M, "at": POINT, "size": N}
      at CONNECT or at a command (e.g. "EHLO", "STARTTLS"), instead of
      the reply:
        endless    "220-"/"250-" lines forever, paced by the client's
                   reading
        long_line  one line of N bytes (10 MB) without CRLF
        garbage    N (64 KiB) random bytes
        silent     nothing at all
        tls_stall  at STARTTLS: "220" then never answer the ClientHello;
                   at CONNECT: for a client speaking TLS first, the same
      each then reads and throws away until the client goes (or
      stall_timeout, 600 s)

SCRAM's salt and server nonce are random unless scram_salt (base64) and
scram_nonce are given, which replays the RFCs' example exchanges.

Reading what happened: sessions() / wait_sessions(n), accepted() (one
record per accepted message) / messages() (their bytes) / wait_messages(n),
transactions().  smtp_peer is a pytest factory fixture that stops every
peer it made.  TLS: make_ca(), make_cert(), make_bad_cert(), chain(),
tlsa_record() (for DANE tests).

A session record (sessions()) holds: pid, conn (from 1 in each run),
peer, start, duration, tls ({version, cipher, sni, implicit} or None),
helo, ehlo, auth ({mechanism, user} or None), auth_attempts,
transactions (mail_from, mail_options, mail_reply, rcpts [{addr, options,
reply}], data_reply, size, file, eight_bit, bare_lf, bare_cr,
longest_line), transcript ([["C"|"S", line], ...]), pipelined (how
many replies found the client's next bytes already waiting: 0 for a
client that waits for each reply), end ("quit",
"closed", "refused", "dropped after X", "hostile ...", "421", "timeout",
"tls failed: ...", "killed") and, if the client sent bytes after STARTTLS
before the handshake, plaintext_after_starttls (their count; they are
thrown away, RFC 3207 5).
"""
import atexit
import collections
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's python, the one the tests run with.
PYTHON = "/usr/bin/python3"
OPENSSL = "/usr/bin/openssl"

TlsFiles = collections.namedtuple("TlsFiles", "cert key")

# Started and not yet stopped: stopped at exit if a test forgot.
_running = set()


@atexit.register
def _stop_all():
    for p in list(_running):
        p.stop()


class PeerProcess:
    """A helper server program run as its own process: config.json in,
    ready and *.jsonl out, stopped by its pid."""

    program = None          # file name in regress/
    logname = None

    def __init__(self, directory, addr, port, config):
        if not addr.startswith("127."):
            raise ValueError("loopback addresses (127.0.0.0/8) only")
        self.dir = os.path.abspath(str(directory))
        os.makedirs(self.dir, exist_ok=True)
        self.addr = addr
        self.port = port
        self.config = dict(config, dir=self.dir, addr=addr, port=port)
        self.proc = None
        self.pid = None
        self.logfile = os.path.join(self.dir, self.logname)
        self.log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=10, keep_records=False):
        """Start and wait until it listens.  The records of an earlier
        run in the same directory are cleared, unless keep_records: a
        test that restarts a peer to make a client retry may want both
        runs' sessions."""
        ready = os.path.join(self.dir, "ready")
        names = ["ready"]
        if not keep_records:
            names += ["sessions.jsonl", "messages.jsonl", "connections.jsonl"]
        for name in names:
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
        conf = os.path.join(self.dir, "config.json")
        with open(conf, "w") as f:
            json.dump(self.config, f, indent=1)
        self.log = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            # -S: the programs need the standard library only, and start
            # faster without site's path scanning.
            [PYTHON, "-S", os.path.join(HERE, self.program), conf],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        self.pid = self.proc.pid
        _running.add(self)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise RuntimeError("%s exited %d:\n%s" %
                                   (self.program, rc, self.logtext()))
            try:
                with open(ready) as f:
                    info = json.load(f)
                self.port = info["port"]
                return self
            except (FileNotFoundError, ValueError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("%s did not start:\n%s" %
                           (self.program, self.logtext()))

    def stop(self):
        """Stop by pid: SIGTERM lets it record the sessions still open,
        SIGKILL if it does not go within 5 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        _running.discard(self)
        if self.log is not None:
            self.log.close()
            self.log = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logtext(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _jsonl(self, name):
        out = []
        try:
            with open(os.path.join(self.dir, name)) as f:
                for ln in f:
                    # A line being written may not be whole yet (the
                    # writer's bytes can land in pieces): the next read
                    # sees it whole.
                    if not ln.endswith("\n"):
                        continue
                    try:
                        out.append(json.loads(ln))
                    except ValueError:
                        continue
        except FileNotFoundError:
            pass
        return out

    def _wait(self, what, n, timeout):
        deadline = time.time() + timeout
        while True:
            got = what()
            if len(got) >= n or time.time() >= deadline:
                break
            time.sleep(0.02)
        if len(got) < n:
            raise AssertionError("%s: %d of %d after %ss\n%s" %
                                 (self.program, len(got), n, timeout,
                                  self.logtext()))
        return got


class SmtpPeer(PeerProcess):
    """A receiving SMTP server; see the module's docstring."""

    program = "smtppeer.py"
    logname = "smtppeer.log"

    def __init__(self, directory, addr="127.0.0.25", port=25, **behaviour):
        super().__init__(directory, addr, port, behaviour)

    def sessions(self):
        """Finished sessions, in the order they ended."""
        return self._jsonl("sessions.jsonl")

    def wait_sessions(self, n, timeout=10):
        return self._wait(self.sessions, n, timeout)

    def accepted(self):
        """One record per accepted message: conn, file, mail_from, rcpts
        (accepted ones), size."""
        return self._jsonl("messages.jsonl")

    def messages(self):
        """The accepted messages' bytes, in the order they were taken."""
        out = []
        for m in self.accepted():
            with open(m["file"], "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, n, timeout=10):
        """At least n accepted messages (bytes), or AssertionError."""
        self._wait(self.accepted, n, timeout)
        return self.messages()

    def transactions(self):
        """Every transaction of every finished session."""
        return [t for s in self.sessions() for t in s["transactions"]]


@pytest.fixture
def smtp_peer(tmp_path):
    """A factory fixture: smtp_peer(addr, **behaviour) gives a started
    SmtpPeer in tmp_path/<addr>-<port>; all are stopped at teardown,
    whatever the test did.  Import it into a test module to use it."""
    made = []

    def make(addr="127.0.0.25", port=25, **behaviour):
        p = SmtpPeer(os.path.join(str(tmp_path), "peer-%s-%d" % (addr, port)),
                     addr=addr, port=port, **behaviour)
        made.append(p)
        return p.start()

    try:
        yield make
    finally:
        for p in made:
            p.stop()


# -- TLS material -------------------------------------------------------------

def _openssl(args, cwd):
    r = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], r.stderr))


def _key(path, cwd):
    _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-out", path], cwd)


def _ext(names, ca, eku="serverAuth"):
    lines = ["basicConstraints=critical,CA:%s" % ("TRUE" if ca else "FALSE"),
             "subjectKeyIdentifier=hash"]
    if ca:
        lines.append("keyUsage=critical,keyCertSign,cRLSign")
    else:
        lines += ["keyUsage=critical,digitalSignature",
                  "extendedKeyUsage=" + eku,
                  "authorityKeyIdentifier=keyid",
                  "subjectAltName=" + ",".join("DNS:" + n for n in names)]
    return "\n".join(lines) + "\n"


def make_ca(directory, name="postern test CA", days=30):
    """A throwaway CA: TlsFiles(cert, key).  Its cert is the trust anchor
    to give the client (the CA file)."""
    d = os.path.abspath(str(directory))
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    _key(key, d)
    args = ["req", "-new", "-x509", "-key", key, "-out", cert,
            "-days", str(days), "-subj", "/CN=" + name,
            "-config", "/dev/null"]
    for ln in _ext([], True).split():
        args += ["-addext", ln]
    _openssl(args, d)
    return TlsFiles(cert, key)


def make_cert(directory, ca, names, days=30, basename=None,
              eku="serverAuth"):
    """A server certificate for DNS names `names` (the first is the CN),
    signed by `ca` (from make_ca): TlsFiles(cert, key).  The cert file
    holds the leaf only; chain() below appends the CA if a test wants it.
    `eku` is its extendedKeyUsage ("clientAuth": one no server may use).
    """
    d = os.path.abspath(str(directory))
    os.makedirs(d, exist_ok=True)
    base = basename or names[0]
    cert = os.path.join(d, base + ".pem")
    key = os.path.join(d, base + ".key")
    csr = os.path.join(d, base + ".csr")
    ext = os.path.join(d, base + ".ext")
    _key(key, d)
    with open(ext, "w") as f:
        f.write(_ext(names, False, eku))
    _openssl(["req", "-new", "-key", key, "-out", csr, "-subj",
              "/CN=" + names[0], "-config", "/dev/null"], d)
    _openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
              "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
              "-days", str(days), "-extfile", ext, "-out", cert], d)
    return TlsFiles(cert, key)


def make_bad_cert(directory, names=("wrong.invalid",), days=30):
    """A self-signed server certificate for a name nobody asks for: no
    client that checks names or chains may accept it."""
    d = os.path.abspath(str(directory))
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "bad.pem"), os.path.join(d, "bad.key")
    _key(key, d)
    _openssl(["req", "-new", "-x509", "-key", key, "-out", cert,
              "-days", str(days), "-subj", "/CN=" + names[0],
              "-config", "/dev/null",
              "-addext", "subjectAltName=" +
              ",".join("DNS:" + n for n in names)], d)
    return TlsFiles(cert, key)


def tlsa_record(cert, usage=3, selector=1, matching=1):
    """"usage selector matching hex" for a TLSA record (RFC 6698 2.1) of
    a PEM certificate: selector 0 the whole certificate, 1 its
    SubjectPublicKeyInfo; matching 0 the bytes, 1 SHA-256, 2 SHA-512."""
    if selector == 0:
        r = subprocess.run([OPENSSL, "x509", "-in", cert, "-outform",
                            "DER"], stdout=subprocess.PIPE, check=True,
                           timeout=30)
    else:
        pub = subprocess.run([OPENSSL, "x509", "-in", cert, "-noout",
                              "-pubkey"], stdout=subprocess.PIPE,
                             check=True, timeout=30)
        r = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"],
                           input=pub.stdout, stdout=subprocess.PIPE,
                           check=True, timeout=30)
    data = r.stdout
    if matching == 1:
        data = hashlib.sha256(data).digest()
    elif matching == 2:
        data = hashlib.sha512(data).digest()
    return "%d %d %d %s" % (usage, selector, matching, data.hex())


def chain(directory, leaf, ca):
    """A file with the leaf then the CA certificate."""
    path = os.path.join(os.path.abspath(str(directory)),
                        os.path.basename(leaf.cert) + ".chain")
    with open(path, "w") as out:
        for p in (leaf.cert, ca.cert):
            with open(p) as f:
                out.write(f.read())
    return path


if __name__ == "__main__":
    sys.exit("peers.py is a module; smtppeer.py is the program")

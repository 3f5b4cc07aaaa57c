"""A DNSSEC test bed: nsd serving a fake root, the TLD `test.` and child
zones, signed with the ldns tools, on a loopback address.

    from dnsbed import DnsBed

    with DnsBed(tmpdir) as bed:
        bed.zone("secure.test", ['@ TXT "v=spf1 -all"'])           # signed
        bed.zone("plain.test", [...], signed=False)                # insecure
        bed.zone("broken.test", [...], broken=True)                # bogus
        bed.start()
        run([POSTERNCTL, ..., "--resolver", bed.resolver,
             "--trust-anchor", bed.trust_anchor])

Every zone is served by the one nsd, so a forwarding validator (libunbound
with ub_ctx_set_fwd, which is what `--resolver` sets up) gets each answer,
DS and DNSKEY from the same server: nsd answers DS queries from the parent
side of a cut when it serves both zones (RFC 4035 3.1.4.1).

Zones are signed bottom-up (ECDSA P-256, RFC 6605; a KSK and a ZSK each),
every signed child's DS goes into its parent, and the trust anchor file
holds the root KSK's DS.  A zone made with signed=False has no DS in its
(signed) parent, whose NSEC proves that: answers from it are insecure.  A
zone made with broken=True is signed, then its records are changed after
signing: its answers are bogus.

nsd runs in the foreground (-d) with its own configuration, pid, database
and log files in the bed's directory, never chroots nor changes user, and
is stopped by its pid in stop(), whatever happened.
"""
import os
import signal
import socket
import struct
import subprocess
import time

NSD = "/usr/sbin/nsd"
KEYGEN = "/usr/bin/ldns-keygen"
SIGNZONE = "/usr/bin/ldns-signzone"
ALGORITHM = "ECDSAP256SHA256"
SOA = "ns.test. hostmaster.test. 1 3600 600 86400 60"


def free_port(addr):
    """A port free for both UDP and TCP on addr (nsd binds both)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((addr, 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind((addr, port))
            except OSError:
                continue
            finally:
                t.close()
            return port
        finally:
            u.close()
    raise RuntimeError("no free port on %s" % addr)


def query(addr, port, name, qtype=6, timeout=0.5):
    """One UDP query (default SOA); returns (rcode, flags) or None."""
    qid = os.getpid() & 0xffff
    wire = b"".join(bytes([len(label)]) + label.encode()
                    for label in name.strip(".").split(".") if label)
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire + b"\0" + \
        struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, (addr, port))
        data, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    flags = struct.unpack(">H", data[2:4])[0]
    return flags & 0xf, flags


class Zone:
    def __init__(self, name, records, signed, broken):
        self.name = name.strip(".").lower()         # "" is the root
        self.records = list(records)
        self.signed = signed or broken
        self.broken = broken
        self.ds = []                                # our KSK's DS lines

    @property
    def origin(self):
        return self.name + "." if self.name else "."

    @property
    def parent(self):
        if not self.name:
            return None
        return self.name.split(".", 1)[1] if "." in self.name else ""


class DnsBed:
    def __init__(self, directory, addr="127.0.53.1", port=None):
        self.dir = os.path.abspath(str(directory))
        os.makedirs(self.dir, exist_ok=True)
        self.addr = addr
        self.port = port
        self.zones = {}
        self.proc = None
        self.trust_anchor = os.path.join(self.dir, "root.ds")
        self.logfile = os.path.join(self.dir, "nsd.log")
        # The root and the TLD: always there, always signed.
        self.zone("", [], signed=True)
        self.zone("test", ["ns A %s" % addr], signed=True)

    @property
    def resolver(self):
        """The --resolver argument: ADDR@PORT."""
        return "%s@%d" % (self.addr, self.port)

    def zone(self, name, records, signed=True, broken=False):
        """Add a zone; records are master-file lines relative to it."""
        z = Zone(name, records, signed, broken)
        self.zones[z.name] = z
        return z

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- zone files and signing ---------------------------------------------

    def _children(self, z):
        return [c for c in self.zones.values()
                if c.name and c.parent == z.name]

    def _zonefile(self, z):
        lines = ["$ORIGIN %s" % z.origin, "$TTL 60",
                 "@ IN SOA %s" % SOA, "@ IN NS ns.test."]
        if z.name == "":
            # Glue for the TLD's server (RFC 1034 4.2.1).
            lines += ["test. IN NS ns.test.", "ns.test. IN A %s" % self.addr]
        for c in self._children(z):
            lines.append("%s IN NS ns.test." % c.origin)
            lines += c.ds
        lines += z.records
        return "\n".join(lines) + "\n"

    def _keygen(self, z, ksk):
        args = [KEYGEN, "-a", ALGORITHM, "-r", "/dev/urandom"]
        if ksk:
            args.append("-k")
        r = subprocess.run(args + [z.origin], cwd=self.dir, check=True,
                           stdout=subprocess.PIPE, text=True, timeout=30)
        return r.stdout.strip()

    def _write_zone(self, z):
        base = "root" if z.name == "" else z.name
        path = os.path.join(self.dir, base + ".zone")
        with open(path, "w") as f:
            f.write(self._zonefile(z))
        if not z.signed:
            return path
        ksk = self._keygen(z, True)
        zsk = self._keygen(z, False)
        with open(os.path.join(self.dir, ksk + ".ds")) as f:
            z.ds = [ln.strip() for ln in f if ln.strip()]
        signed = path + ".signed"
        # Inception an hour back: clocks in containers drift.
        subprocess.run([SIGNZONE, "-i", str(int(time.time()) - 3600),
                        "-e", str(int(time.time()) + 14 * 86400),
                        "-f", signed, "-o", z.origin, path, ksk, zsk],
                       cwd=self.dir, check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
        if z.broken:
            self._break(signed)
        return signed

    @staticmethod
    def _break(path):
        """Change TXT, A, MX and TLSA data after signing: their RRSIGs
        stop matching.

        A TXT record gets one more string, a space, so that its text still
        says the same (an SPF or DKIM key record stays valid) but its data
        no longer matches its signature.
        """
        out = []
        with open(path) as f:
            for ln in f:
                fields = ln.split()
                if len(fields) >= 5 and fields[3] == "TXT":
                    ln = ln.rstrip("\n") + ' " "\n'
                elif len(fields) >= 5 and fields[3] == "A":
                    ln = ln.rsplit(None, 1)[0] + "\t192.0.2.254\n"
                elif len(fields) >= 6 and fields[3] == "MX":
                    fields[4] = str(int(fields[4]) + 1)
                    ln = "\t".join(fields) + "\n"
                elif len(fields) >= 8 and fields[3] == "TLSA":
                    last = fields[-1]
                    fields[-1] = last[:-1] + ("0" if last[-1] != "0"
                                              else "1")
                    ln = "\t".join(fields) + "\n"
                out.append(ln)
        with open(path, "w") as f:
            f.writelines(out)

    def _write_all(self):
        """Children before parents: a parent needs its children's DS."""
        files = {}
        for z in sorted(self.zones.values(),
                        key=lambda z: -len(z.name.split(".")) if z.name
                        else 1):
            files[z.name] = self._write_zone(z)
        root = self.zones[""]
        with open(self.trust_anchor, "w") as f:
            f.write("\n".join(root.ds) + "\n")
        return files

    # -- nsd ------------------------------------------------------------------

    def start(self, timeout=10):
        files = self._write_all()
        if self.port is None:
            self.port = free_port(self.addr)
        self._configure(files)
        return self._spawn(timeout)

    def restart(self, timeout=10):
        """Start nsd again after stop(), on the same address and port with
        the same signed zones: the resolver's trust anchor stays valid."""
        return self._spawn(timeout)

    def _configure(self, files):
        d = self.dir
        conf = ["server:",
                '  ip-address: %s' % self.addr,
                '  port: %d' % self.port,
                '  username: ""',
                '  chroot: ""',
                '  zonesdir: "%s"' % d,
                '  pidfile: "%s/nsd.pid"' % d,
                '  xfrdfile: "%s/xfrd.state"' % d,
                '  zonelistfile: "%s/zone.list"' % d,
                '  database: ""',
                '  logfile: "%s"' % self.logfile,
                '  server-count: 1',
                '  tcp-count: 16',
                '  verbosity: 1',
                '  hide-version: yes',
                '  xfrd-reload-timeout: 0',
                "remote-control:",
                "  control-enable: no"]
        for name, path in files.items():
            conf += ["zone:", '  name: "%s"' % (name or "."),
                     '  zonefile: "%s"' % path]
        self.conf = os.path.join(d, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def _spawn(self, timeout):
        self.log = open(self.logfile + ".stderr", "a")
        self.proc = subprocess.Popen([NSD, "-d", "-c", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nsd exited %d:\n%s" %
                                   (self.proc.returncode, self.logtext()))
            # Serving once the last zone (the root) answers with AA.
            got = query(self.addr, self.port, ".", 6, 0.2)
            if got is not None and got[0] == 0 and got[1] & 0x0400:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("nsd did not start:\n" + self.logtext())

    def pause(self):
        """Freeze nsd (SIGSTOP to its group): queries reach its socket and
        are never answered, as with a server that hangs."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def logtext(self):
        text = ""
        for p in (self.logfile, self.logfile + ".stderr"):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self):
        """Stop nsd by its pid (its process group: the server children)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Children left over (nsd forks its server and xfrd processes).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None
        self.log.close()

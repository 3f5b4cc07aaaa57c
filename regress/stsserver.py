"""An HTTPS server for MTA-STS policies on a loopback address, port 443,
in its own process so that tests stop it by its pid.

    from stsserver import StsServer
    srv = StsServer(tmp / "sts", "127.0.0.61", cert, key,
                    policy="version: STSv1\\nmode: enforce\\n...").start()
    ...
    srv.fetches()       # requests served so far, as (host, path) pairs
    srv.posts()         # POSTs (TLS-RPT, RFC 8460 5.4): host, path,
                        # content type and body
    srv.stop()

Behaviour keywords: status=200, ctype="text/plain", location (sent with a
3xx status), stall=True (accept, then never answer), no_length=True (no
Content-Length: the answer ends where the connection does, which Python
closes without TLS's close_notify).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

SERVER = r'''
import http.server, json, ssl, sys, time
cfg = json.load(open(sys.argv[1]))

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(cfg["log"], "a") as f:
            f.write(json.dumps([self.headers.get("Host"), self.path]) + "\n")
        if cfg.get("stall"):
            time.sleep(600)
            return
        body = cfg["policy"].encode()
        self.send_response(cfg.get("status", 200))
        if cfg.get("location"):
            self.send_header("Location", cfg["location"])
        self.send_header("Content-Type", cfg.get("ctype", "text/plain"))
        if not cfg.get("no_length"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = min(int(self.headers.get("Content-Length", "0")), 1 << 22)
        body = self.rfile.read(n)
        with open(cfg["log"], "a") as f:
            f.write(json.dumps([self.headers.get("Host"), self.path,
                                self.headers.get("Content-Type"),
                                body.hex()]) + "\n")
        self.send_response(cfg.get("status", 200))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

srv = http.server.HTTPServer((cfg["addr"], 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cfg["cert"], cfg["key"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
'''


class StsServer:
    def __init__(self, directory, addr, cert, key, policy, **behaviour):
        self.dir = os.path.abspath(str(directory))
        os.makedirs(self.dir, exist_ok=True)
        self.addr = addr
        self.logfile = os.path.join(self.dir, "requests.jsonl")
        cfg = dict(addr=addr, cert=cert, key=key, policy=policy,
                   log=self.logfile, **behaviour)
        self.cfgfile = os.path.join(self.dir, "cfg.json")
        with open(self.cfgfile, "w") as f:
            json.dump(cfg, f)
        self.proc = None

    def start(self, timeout=10):
        open(self.logfile, "w").close()
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER,
                                      self.cfgfile], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError("policy server did not start: " + line)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection((self.addr, 443), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("policy server not listening")

    def _requests(self):
        with open(self.logfile) as f:
            return [tuple(json.loads(ln)) for ln in f if ln.strip()]

    def fetches(self):
        return [r for r in self._requests() if len(r) == 2]

    def posts(self):
        return [dict(host=r[0], path=r[1], ctype=r[2],
                     body=bytes.fromhex(r[3]))
                for r in self._requests() if len(r) == 4]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

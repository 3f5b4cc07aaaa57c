"""A SOCKS5 proxy (RFC 1928, CONNECT only) for the MTA's socks5 transport
tests, with optional username/password authentication (RFC 1929).

    /usr/bin/python3 socks5proxy.py CONFIG.json        (the program)

    from socks5proxy import Socks5Proxy                  (the test side)

    with Socks5Proxy(tmp / "socks", addr="127.0.1.80", port=1080,
                     users={"u": "pw"},
                     hosts={"mx.example.test": "127.0.0.25"}) as px:
        px.start()
        ...
        assert px.connections()[0]["reply"] == 0

It relays only to 127.0.0.0/8: any other destination gets reply 2
("connection not allowed by ruleset"), so that no test ever reaches past
the loopback.  A domain name (ATYP 3) is looked up only in the "hosts" map
of the configuration (and "localhost"), never in the DNS; an IPv6 address
(ATYP 4) is allowed only as an IPv4-mapped 127/8 one.

Like smtppeer.py it runs as its own process, writes <dir>/ready once
listening and appends one JSON line per finished connection to
<dir>/connections.jsonl: conn, peer, methods (offered by the client),
method (chosen), user, auth_ok, cmd, atyp, host, port, reply (the REP
code, None if the request never came), upstream (the address relayed to),
bytes_up, bytes_down, end.

Configuration keys: dir, addr, port, users ({user: password}; when given,
method 2 is required), hosts ({name: 127.x.y.z}), force_reply (send this
REP code to every request instead of connecting), delay (seconds before
each reply), timeout (seconds of silence before closing, 300).
"""
import asyncio
import ipaddress
import json
import os
import signal
import sys

DEFAULTS = {
    "dir": None,
    "addr": "127.0.1.80",
    "port": 1080,
    "users": None,
    "hosts": {},
    "force_reply": None,
    "delay": 0,
    "timeout": 300,
}

# RFC 1928 6: REP codes.
SUCCEEDED = 0
FAILURE = 1
NOT_ALLOWED = 2
NET_UNREACHABLE = 3
HOST_UNREACHABLE = 4
REFUSED = 5
CMD_UNSUPPORTED = 7
ATYP_UNSUPPORTED = 8

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class Closed(Exception):
    pass


def load_config(path):
    with open(path) as f:
        given = json.load(f)
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise SystemExit("socks5proxy: unknown configuration keys: %s" %
                         ", ".join(sorted(unknown)))
    cfg = dict(DEFAULTS)
    cfg.update(given)
    if not cfg["dir"]:
        raise SystemExit("socks5proxy: no dir")
    if ipaddress.ip_address(cfg["addr"]) not in LOOPBACK:
        raise SystemExit("socks5proxy: loopback addresses (127/8) only")
    return cfg


def loopback_target(atyp, raw, hosts):
    """The IPv4 address to connect to, or (None, REP code)."""
    if atyp == 1:
        addr = ipaddress.IPv4Address(raw)
    elif atyp == 4:
        addr = ipaddress.IPv6Address(raw).ipv4_mapped
        if addr is None:
            return None, NOT_ALLOWED
    else:
        name = raw.decode("ascii", "replace").lower().rstrip(".")
        if name == "localhost":
            return "127.0.0.1", None
        if name not in hosts:
            try:
                addr = ipaddress.IPv4Address(name)
            except ValueError:
                return None, HOST_UNREACHABLE
        else:
            addr = ipaddress.IPv4Address(hosts[name])
    if addr not in LOOPBACK:
        return None, NOT_ALLOWED
    return str(addr), None


class Proxy:
    def __init__(self, cfg):
        self.cfg = cfg
        self.conns = 0
        self.tasks = set()
        self.hosts = {k.lower().rstrip("."): v
                      for k, v in cfg["hosts"].items()}

    def record(self, obj):
        with open(os.path.join(self.cfg["dir"], "connections.jsonl"),
                  "a") as f:
            f.write(json.dumps(obj) + "\n")
            f.flush()

    async def client(self, reader, writer):
        self.conns += 1
        task = asyncio.current_task()
        self.tasks.add(task)
        rec = {"conn": self.conns,
               "peer": list(writer.get_extra_info("peername")[:2]),
               "methods": None, "method": None, "user": None,
               "auth_ok": None, "cmd": None, "atyp": None, "host": None,
               "port": None, "reply": None, "upstream": None,
               "bytes_up": 0, "bytes_down": 0, "end": None}
        try:
            await self.serve(reader, writer, rec)
        except (Closed, asyncio.IncompleteReadError):
            rec["end"] = rec["end"] or "client closed"
        except (ConnectionError, OSError) as e:
            rec["end"] = rec["end"] or "error: %s" % e
        except asyncio.TimeoutError:
            rec["end"] = "timeout"
        except asyncio.CancelledError:
            rec["end"] = rec["end"] or "killed"
        finally:
            rec["end"] = rec["end"] or "closed"
            writer.close()
            self.record(rec)
            self.tasks.discard(task)

    async def read(self, reader, n):
        return await asyncio.wait_for(reader.readexactly(n),
                                      self.cfg["timeout"])

    async def reply(self, writer, rec, code, bind=("0.0.0.0", 0)):
        if self.cfg["delay"]:
            await asyncio.sleep(self.cfg["delay"])
        rec["reply"] = code
        # RFC 1928 6: VER REP RSV ATYP BND.ADDR BND.PORT
        writer.write(bytes([5, code, 0, 1]) +
                     ipaddress.IPv4Address(bind[0]).packed +
                     bind[1].to_bytes(2, "big"))
        await writer.drain()

    async def serve(self, reader, writer, rec):
        users = self.cfg["users"]
        # RFC 1928 3: VER NMETHODS METHODS
        ver, n = await self.read(reader, 2)
        if ver != 5:
            rec["end"] = "not SOCKS5 (version %d)" % ver
            return
        methods = list(await self.read(reader, n))
        rec["methods"] = methods
        want = 2 if users else 0
        if want not in methods:
            writer.write(b"\x05\xff")       # no acceptable methods
            await writer.drain()
            rec["end"] = "no acceptable method"
            return
        rec["method"] = want
        writer.write(bytes([5, want]))
        await writer.drain()
        if users:
            # RFC 1929 2: VER ULEN UNAME PLEN PASSWD; status 0 is success,
            # and on failure the server MUST close the connection.
            ver, ulen = await self.read(reader, 2)
            user = (await self.read(reader, ulen)).decode("utf-8",
                                                          "replace")
            plen = (await self.read(reader, 1))[0]
            password = (await self.read(reader, plen)).decode("utf-8",
                                                              "replace")
            rec["user"] = user
            rec["auth_ok"] = ver == 1 and users.get(user) == password
            writer.write(bytes([1, 0 if rec["auth_ok"] else 1]))
            await writer.drain()
            if not rec["auth_ok"]:
                rec["end"] = "authentication failed"
                return
        # RFC 1928 4: VER CMD RSV ATYP DST.ADDR DST.PORT
        ver, cmd, _, atyp = await self.read(reader, 4)
        rec["cmd"], rec["atyp"] = cmd, atyp
        if atyp == 1:
            raw = await self.read(reader, 4)
            rec["host"] = str(ipaddress.IPv4Address(raw))
        elif atyp == 3:
            raw = await self.read(reader, (await self.read(reader, 1))[0])
            rec["host"] = raw.decode("ascii", "replace")
        elif atyp == 4:
            raw = await self.read(reader, 16)
            rec["host"] = str(ipaddress.IPv6Address(raw))
        else:
            await self.reply(writer, rec, ATYP_UNSUPPORTED)
            return
        port = int.from_bytes(await self.read(reader, 2), "big")
        rec["port"] = port
        if ver != 5 or cmd != 1:
            await self.reply(writer, rec, CMD_UNSUPPORTED)
            return
        if self.cfg["force_reply"] is not None:
            await self.reply(writer, rec, self.cfg["force_reply"])
            return
        target, err = loopback_target(atyp, raw, self.hosts)
        if err is not None:
            await self.reply(writer, rec, err)
            return
        try:
            up_r, up_w = await asyncio.wait_for(
                asyncio.open_connection(target, port), 10)
        except ConnectionRefusedError:
            await self.reply(writer, rec, REFUSED)
            return
        except (OSError, asyncio.TimeoutError):
            await self.reply(writer, rec, HOST_UNREACHABLE)
            return
        rec["upstream"] = [target, port]
        try:
            await self.reply(writer, rec, SUCCEEDED,
                             up_w.get_extra_info("sockname")[:2])
            await asyncio.gather(self.pipe(reader, up_w, rec, "bytes_up"),
                                 self.pipe(up_r, writer, rec, "bytes_down"))
            rec["end"] = "relayed"
        finally:
            up_w.close()

    async def pipe(self, src, dst, rec, counter):
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                rec[counter] += len(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Half-close: pass the end on, let the other direction finish.
            try:
                if dst.can_write_eof():
                    dst.write_eof()
            except (ConnectionError, OSError, RuntimeError):
                pass


async def main(cfg):
    proxy = Proxy(cfg)
    server = await asyncio.start_server(proxy.client, cfg["addr"],
                                        cfg["port"], reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    ready = os.path.join(cfg["dir"], "ready")
    with open(ready + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "addr": cfg["addr"], "port": port}, f)
    os.rename(ready + ".tmp", ready)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for task in list(proxy.tasks):
        task.cancel()
    if proxy.tasks:
        await asyncio.wait(list(proxy.tasks), timeout=2)


def _helper_class():
    """Socks5Proxy, defined on import by a test (not by the program)."""
    from peers import PeerProcess

    class Socks5Proxy(PeerProcess):
        """The proxy as a process: start(), stop() by pid, connections()."""

        program = "socks5proxy.py"
        logname = "socks5proxy.log"

        def __init__(self, directory, addr="127.0.1.80", port=1080,
                     **config):
            super().__init__(directory, addr, port, config)

        def connections(self):
            """Finished connections, in the order they ended."""
            return self._jsonl("connections.jsonl")

        def wait_connections(self, n, timeout=10):
            return self._wait(self.connections, n, timeout)

    return Socks5Proxy


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: socks5proxy.py CONFIG.json")
    asyncio.run(main(load_config(sys.argv[1])))
else:
    Socks5Proxy = _helper_class()

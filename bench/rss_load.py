"""Peak RSS of every posternd process under many slow large messages.

usage: rss_load.py BUILD [-n SESSIONS] [-s OCTETS] [-r OCTETS_PER_S]
                   [--no-size] [--extra CONFIG_LINE]
Starts posternd (BUILD/posternd, as root) on 127.0.0.1 with a throwaway
spool under /var/tmp, opens SESSIONS sessions at once, each sending one
message of OCTETS octets at about OCTETS_PER_S (declaring SIZE unless
--no-size), then prints each process's peak RSS (VmHWM) and the replies.
A measurement, not a test: no thresholds (issue 14, bench/README).
"""
import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "regress"))
import loadgen  # noqa: E402


def hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def children(pid):
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) != pid:
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                name = f.read().replace(b"\0", b" ").decode().split()[-1]
            out[name] = int(d)
        except (OSError, ValueError, IndexError):
            pass
    return out


async def session(port, body, size, rate, declare, res):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)

        async def reply():
            while True:
                line = await r.readline()
                if line[3:4] != b"-":
                    return line[:3].decode()
        await reply()
        w.write(b"EHLO load.test\r\n")
        await reply()
        w.write(b"MAIL FROM:<%s>%s\r\n" % (
            loadgen.SENDER.encode(),
            b" SIZE=%d" % size if declare else b""))
        if await reply() != "250":
            res["mail"] = res.get("mail", 0) + 1
            return
        w.write(b"RCPT TO:<%s>\r\nDATA\r\n" % loadgen.RCPT.encode())
        await reply()
        code = await reply()
        if code != "354":
            res["data " + code] = res.get("data " + code, 0) + 1
            return
        step = 65536
        for off in range(0, len(body), step):
            w.write(body[off:off + step])
            await w.drain()
            await asyncio.sleep(step / rate)
        code = await reply()
        res["end " + code] = res.get("end " + code, 0) + 1
        w.close()
    except (OSError, ConnectionError) as e:
        res[type(e).__name__] = res.get(type(e).__name__, 0) + 1


async def load(port, n, body, size, rate, declare):
    res = {}
    await asyncio.gather(*(session(port, body, size, rate, declare, res)
                           for _ in range(n)))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("-n", type=int, default=512)
    ap.add_argument("-s", type=int, default=30 * 1024 * 1024)
    ap.add_argument("-r", type=int, default=2 * 1024 * 1024)
    ap.add_argument("--no-size", action="store_true")
    ap.add_argument("--extra", default="")
    ap.add_argument("--port", type=int, default=24125)
    a = ap.parse_args()
    top = "/var/tmp/postern-rss"
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(top + "/spool")
    os.makedirs(top + "/mail")     # the maildir base: never made by posternd
    conf = top + "/postern.conf"
    with open(conf, "w") as f:
        f.write('spool "%s/spool"\ncontrol socket "%s/ctl.sock"\n'
                'listen on 127.0.0.1 port %d\nhostname mx.example.test\n'
                'max-message-size 35M\nsmtp-max-sessions 1000\n'
                'smtp-max-per-ip 1000\n%s\n'
                'table domains { "localhost" }\n'
                'action "local" maildir "%s/mail/%%{user}"\n'
                'match from any for domain <domains> action "local"\n'
                % (top, top, a.port, a.extra, top))
    log = open(top + "/posternd.log", "w")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    d = subprocess.Popen([os.path.join(a.build, "posternd"), "-d", "-f",
                          conf], stdout=log, stderr=log, env=env)
    try:
        time.sleep(2)
        kids = children(d.pid)
        body = loadgen.dot_stuff(loadgen.make_message("rss", a.s))
        t0 = time.time()
        res = asyncio.run(load(a.port, a.n, body, len(body), a.r,
                               not a.no_size))
        t1 = time.time()
        print("%d sessions x %d octets at %d octets/s each, %s: %.0f s"
              % (a.n, len(body), a.r,
                 "SIZE declared" if not a.no_size else "no SIZE",
                 t1 - t0))
        print("replies: %s" % ", ".join("%s %d" % kv
                                        for kv in sorted(res.items())))
        print("peak RSS (VmHWM), MB: parent %.1f, %s" % (
            hwm(d.pid) / 1024, ", ".join(
                "%s %.1f" % (k, hwm(v) / 1024)
                for k, v in sorted(kids.items()))))
    finally:
        d.terminate()
        d.wait(60)


if __name__ == "__main__":
    main()

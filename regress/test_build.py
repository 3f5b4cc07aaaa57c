"""Set-up: what a user meets before the daemon runs."""
import os
import shutil
import sys
import tempfile
import time

from conftest import TOP, run


def bench_module(name):
    """bench/NAME.py, imported with bench's own peers.py: regress has a
    peers.py too, which the tests before this one may have imported."""
    import importlib
    saved = sys.modules.pop("peers", None)
    sys.path.insert(0, os.path.join(TOP, "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)
        if saved is not None:
            sys.modules["peers"] = saved
        else:
            sys.modules.pop("peers", None)


def test_missing_package_as_non_root_names_make_deps():
    env = dict(os.environ, POSTERN_EXTRA_PKGS="postern-no-such-package")
    # A copy anyone can read: the checkout may sit under a private dir.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        script = os.path.join(tmp, "deps")
        shutil.copy(os.path.join(TOP, "scripts", "deps"), script)
        os.chmod(script, 0o755)
        r = run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                 "--clear-groups", script], env=env, cwd="/")
    assert r.returncode == 1
    assert "postern-no-such-package" in r.stderr
    assert "make deps" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 2


def test_nothing_missing_is_silent():
    r = run([os.path.join(TOP, "scripts", "deps")])
    assert r.returncode == 0
    assert r.stdout == "" and r.stderr == ""


def test_default_configuration_is_loopback_only():
    # Every listener of the configuration `make run` starts must be on a
    # loopback address.
    with open(os.path.join(TOP, "etc", "postern.conf.default")) as f:
        listens = [l.split() for l in f if l.startswith("listen on")]
    assert listens
    for words in listens:
        assert words[2].startswith("127.") or words[2] == "::1", words


def test_bench_tools_build_and_run(daemon_factory, tmp_path):
    """make bench's own tools: the load generator (bench/smtp_load.c)
    against a real posternd, and the queue store bench (bench/store_bench.c),
    each for a moment; their figures are not asserted, their counts are."""
    from conftest import BUILD
    pkgs = ("libevent libtls libunbound lmdb expat jansson zlib "
            "libbsd-overlay libcrypto").split()
    flags = run(["pkg-config", "--cflags", "--libs"] + pkgs).stdout.split()
    if os.path.basename(os.path.normpath(BUILD)) == "build-san":
        flags.append("-fsanitize=address,undefined")
    store = str(tmp_path / "store_bench")
    r = run(["cc", "-O1", "-std=gnu11", "-D_GNU_SOURCE", "-I" + TOP,
             "-I" + os.path.join(TOP, "lib"), "-o", store,
             os.path.join(TOP, "bench", "store_bench.c"),
             os.path.join(BUILD, "libpostern.a")] + flags + ["-lcrypt"],
            timeout=120)
    assert r.returncode == 0, r.stderr
    r = run([store, "-s", "1", str(tmp_path)], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "commit" in r.stdout

    load = str(tmp_path / "smtp_load")
    bsd = run(["pkg-config", "--cflags", "--libs",
               "libbsd-overlay"]).stdout.split()
    r = run(["cc", "-O1", "-std=gnu11", "-D_GNU_SOURCE", "-o", load,
             os.path.join(TOP, "bench", "smtp_load.c")] + bsd +
            ["-lpthread"], timeout=120)
    assert r.returncode == 0, r.stderr
    dm = daemon_factory('table d { "localhost" }\n'
                        'action "local" maildir "%s/m/%%{user}"\n'
                        'match from any for domain <d> action "local"\n'
                        % tmp_path, sub="bench")
    dm.maildir = str(tmp_path / "m")        # the base, made by the admin
    dm.start()
    r = run([load, "-c", "2", "-m", "20", "-r", "root@localhost",
             "127.0.0.1", str(dm.port)], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.time() + 10
    while time.time() < deadline:
        if len(os.listdir(tmp_path / "m" / "root" / "new")
               if (tmp_path / "m" / "root" / "new").exists() else []) == 20:
            break
        time.sleep(0.1)
    assert len(os.listdir(tmp_path / "m" / "root" / "new")) == 20

    # The authenticated bench's options: source addresses (-b) and a
    # message sent as it is from a file (-F): bare LF become CRLF, a
    # leading dot is doubled on the wire and undone by the server.
    eml = tmp_path / "signed.eml"
    eml.write_bytes(b"From: <bench@auth.test>\nSubject: as is\n\n"
                    b"first line\n.dot line\nlast line\n")
    r = run([load, "-c", "2", "-m", "4", "-r", "root@localhost",
             "-b", "127.0.0.11,127.0.0.12", "-e", "mail.auth.test",
             "-F", str(eml), "127.0.0.1", str(dm.port)], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("accepted 4 failed 0"), r.stdout
    new = tmp_path / "m" / "root" / "new"
    deadline = time.time() + 10
    while time.time() < deadline and len(os.listdir(new)) < 24:
        time.sleep(0.1)
    got = []
    for name in os.listdir(new):
        data = (new / name).read_bytes()
        if b"Subject: as is" in data:
            got.append(data)
    assert len(got) == 4
    for data in got:
        assert data.endswith(b"\r\n\r\nfirst line\r\n.dot line\r\n"
                             b"last line\r\n") or data.endswith(
            b"\n\nfirst line\n.dot line\nlast line\n"), data[-80:]
    sources = b"".join(got)
    assert b"127.0.0.11" in sources and b"127.0.0.12" in sources
    assert b"mail.auth.test" in sources

    # The outbound relay bench's posternd configuration (20 transports and
    # routes to one sink) must stay one that posternd accepts: the bench
    # runs only under make bench, so a grammar change would surface there
    # late.
    relay = bench_module("relay")
    conf = tmp_path / "relay.conf"
    conf.write_text('spool "%s/spool"\nlisten on 127.0.0.1 port 24101\n'
                    % tmp_path + relay.RelayPostern(24101, BUILD,
                                                    24100).routing())
    r = run([os.path.join(BUILD, "posternd"), "-n", "-f", str(conf)],
            timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert conf.read_text().count("route for domain") == relay.DOMAINS

    # So must the authenticated bench's: resolver with a trust anchor and
    # a policy checking everything strictly.
    auth = bench_module("auth")
    ta = tmp_path / "root.ds"
    ta.write_text(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880"
                  "409BBC683457104237C7F8EC8D\n")

    class World:
        trust_anchor = str(ta)
    conf = tmp_path / "auth.conf"
    conf.write_text('spool "%s/spool"\n' % tmp_path +
                    auth.PosternAuth(24042, BUILD, World()).config())
    r = run([os.path.join(BUILD, "posternd"), "-n", "-f", str(conf)],
            timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "policy all" in conf.read_text()


def test_include_rules_hold():
    # DESIGN.md's layout: lib/ stands alone, auth/ needs no process, and a
    # process directory never reaches into another's.
    r = run([os.path.join(TOP, "scripts", "check-includes")])
    assert r.returncode == 0, r.stdout
    assert "clean" in r.stdout


def test_include_rules_name_the_offending_line(tmp_path):
    for d in ("lib", "auth", "smtpd", "mta", "posternd"):
        os.makedirs(tmp_path / d)
    (tmp_path / "lib" / "util.h").write_text("")
    (tmp_path / "mta" / "sasl.h").write_text("")
    (tmp_path / "posternd" / "proc.h").write_text("")
    (tmp_path / "auth" / "dkim.h").write_text("")
    (tmp_path / "smtpd" / "smtp.h").write_text("")
    (tmp_path / "lib" / "bad.c").write_text(
        '#include "util.h"\n#include "auth/dkim.h"\n')
    (tmp_path / "auth" / "bad.c").write_text(
        '#include "util.h"\n#include "posternd/proc.h"\n')
    (tmp_path / "smtpd" / "bad.c").write_text(
        '#include "posternd/proc.h"\n#include "auth/dkim.h"\n'
        '#include "mta/sasl.h"\n#include "smtp.h"\n')
    (tmp_path / "smtpd" / "good.c").write_text(
        '#include "smtpd/smtp.h"\n#include "util.h"\n')
    r = run([os.path.join(TOP, "scripts", "check-includes"), str(tmp_path)])
    assert r.returncode == 1
    bad = sorted(l.split(": ")[0] for l in r.stdout.splitlines()
                 if l.startswith(("lib/", "auth/", "smtpd/")))
    assert bad == ["auth/bad.c:2", "lib/bad.c:2", "smtpd/bad.c:3",
                   "smtpd/bad.c:4"], r.stdout


def test_binaries_are_hardened():
    # PIE, full RELRO (BIND_NOW), stack protector and FORTIFY_SOURCE, from
    # the Makefile's flags, on each binary an admin installs.
    from conftest import BUILD
    for name in ("posternd", "posternctl"):
        path = os.path.join(BUILD, name)
        hdr = run(["readelf", "-h", path]).stdout
        assert "DYN (Position-Independent Executable" in hdr, name
        dyn = run(["readelf", "-d", path]).stdout
        assert "BIND_NOW" in dyn or "FLAGS_1" in dyn and " NOW" in dyn, name
        assert "PIE" in dyn, name
        seg = run(["readelf", "-l", path]).stdout
        assert "GNU_RELRO" in seg, name
        syms = run(["readelf", "--dyn-syms", "-W", path]).stdout
        assert "__stack_chk_fail" in syms, name
        assert "_chk@" in syms.replace("__stack_chk_fail@", ""), name


def test_scale_bench_config_and_sink(tmp_path):
    """bench/relay_scale.py (BENCH_ONLY=scale, not in make check): its
    posternd configuration must stay one posternd accepts, and its sink
    (bench/scale_sink.py) must count a message and a session per
    recipient domain and refuse at the greeting where told to."""
    import json
    import smtplib
    import socket
    import subprocess
    from conftest import BUILD, next_port
    relay_scale = bench_module("relay_scale")

    class Bed:
        resolver = "127.0.53.1@53"
        trust_anchor = str(tmp_path / "root.ds")
    conf = tmp_path / "scale.conf"
    conf.write_text('spool "%s/spool"\nlisten on 127.0.0.1 port 24110\n'
                    % tmp_path + relay_scale.ScalePostern(
                        BUILD, Bed()).routing())
    (tmp_path / "root.ds").write_text(
        ". IN DS 1 13 2 " + "00" * 32 + "\n")
    r = run([os.path.join(BUILD, "posternd"), "-n", "-f", str(conf)],
            timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr

    port = next_port()
    stats = str(tmp_path / "sink.json")
    cfg = tmp_path / "sink.conf"
    cfg.write_text(json.dumps({"stats": stats, "listen": [
        ["127.0.0.61", port, "ok"], ["127.0.0.62", port, "banner421"]]}))
    sink = subprocess.Popen(["/usr/bin/python3", "-S",
                             os.path.join(TOP, "bench", "scale_sink.py"),
                             str(cfg)])
    try:
        deadline = time.time() + 20
        while not os.path.exists(stats + ".ready"):
            assert sink.poll() is None and time.time() < deadline
            time.sleep(0.05)
        with smtplib.SMTP("127.0.0.61", port, timeout=10) as c:
            c.sendmail("a@b.test", ["u@d7.scale.test", "v@d7.scale.test"],
                       b"Subject: x\r\n\r\n.leading dot\r\n")
        with socket.create_connection(("127.0.0.62", port), 10) as s:
            assert s.recv(100).startswith(b"421 ")
        deadline = time.time() + 10
        while True:
            with open(stats) as f:
                got = json.load(f)
            if got["conns"].get("127.0.0.62") == 1 or \
                    time.time() > deadline:
                break
            time.sleep(0.1)
        assert got["msgs"] == {"d7.scale.test": 2}
        assert got["peak"] == {"d7.scale.test": 1}
        assert got["conns"] == {"127.0.0.61": 1, "127.0.0.62": 1}
    finally:
        sink.terminate()
        sink.wait(10)

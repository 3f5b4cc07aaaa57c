"""make install and make uninstall (issue 18): binaries, man pages, the
systemd unit with its paths made for PREFIX and SYSCONFDIR, a configuration
that is never overwritten, DESTDIR staging; the installed unit passes
systemd-analyze verify, and the installed daemon checks its configuration.

Modules covered: scripts/install (the Makefile's install, uninstall)."""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, TOP, run

MANS = sorted(m for m in os.listdir(os.path.join(TOP, "man"))
              if m[-1].isdigit())


def make(target, **vars):
    args = ["make", "-s", "-C", TOP, target, "BUILD=%s" % BUILD]
    args += ["%s=%s" % kv for kv in sorted(vars.items())]
    return run(args, timeout=120)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "pi"
    yield str(r)
    shutil.rmtree(str(r), ignore_errors=True)


def test_install_in_place_then_uninstall(root):
    """A real install under a private prefix: the users and the throwaway
    certificate are made, the configuration checks out with the installed
    posternd, and systemd accepts the unit."""
    v = dict(PREFIX=root + "/usr", SYSCONFDIR=root + "/etc",
             UNITDIR=root + "/unit")
    r = make("install", **v)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout
    sbin = os.path.join(root, "usr", "sbin")
    for b in ("posternd", "posternctl"):
        assert mode(os.path.join(sbin, b)) == 0o755
    for m in MANS:
        assert mode(os.path.join(root, "usr", "share", "man",
                                 "man" + m[-1], m)) == 0o644
    unit = os.path.join(root, "unit", "postern.service")
    text = open(unit).read()
    assert "ExecStart=%s/posternd -d -f %s/etc/postern/postern.conf" % (
        sbin, root) in text, text
    assert "/usr/sbin/" not in text.replace(root + "/usr/sbin/", "")
    r = run(["systemd-analyze", "verify", "--man=no", unit])
    assert r.returncode == 0, r.stdout + r.stderr
    for u in ("_postern-smtp", "_postern-q", "_postern-mta", "_postern-auth",
              "_postern-report", "_postern-ctl"):
        assert run(["getent", "passwd", u]).returncode == 0
    conf = os.path.join(root, "etc", "postern", "postern.conf")
    assert os.path.exists(os.path.join(root, "etc", "postern", "tls",
                                       "localhost.key"))

    # An administrator's configuration survives a second install.
    with open(conf, "a") as f:
        f.write("# edited by the admin\n")
    r = make("install", **v)
    assert r.returncode == 0 and "kept" in r.stdout, r.stdout + r.stderr
    assert open(conf).read().endswith("# edited by the admin\n")

    r = make("uninstall", **v)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists(os.path.join(sbin, "posternd"))
    assert not os.path.lexists(os.path.join(sbin, "sendmail"))
    assert not os.path.lexists(os.path.join(sbin, "mailq"))
    assert not os.path.exists(unit)
    assert not any(os.path.exists(os.path.join(
        root, "usr", "share", "man", "man" + m[-1], m)) for m in MANS)
    assert os.path.exists(conf)


def test_install_staged_with_destdir(root):
    """DESTDIR stages for a package: paths inside the files are the
    target's, and nothing is done to this system (no users, no cert)."""
    r = make("install", DESTDIR=root, PREFIX="/usr")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "staged in" in r.stdout
    unit = os.path.join(root, "lib", "systemd", "system", "postern.service")
    assert "ExecStart=/usr/sbin/posternd -d -f /etc/postern/postern.conf" \
        in open(unit).read()
    assert mode(os.path.join(root, "usr", "sbin", "posternd")) == 0o755
    assert mode(os.path.join(root, "etc", "postern", "postern.conf")) == \
        0o644
    assert not os.path.exists(os.path.join(root, "etc", "postern", "tls"))
    # the staged binaries are the ones built
    r = run([os.path.join(root, "usr", "sbin", "posternd"), "-n", "-f",
             os.path.join(TOP, "regress", "data", "nonexistent.conf")])
    assert r.returncode != 0
    assert subprocess.run(["cmp", os.path.join(BUILD, "posternctl"),
                           os.path.join(root, "usr", "sbin",
                                        "posternctl")]).returncode == 0
    # sendmail and mailq are links to posternctl (posternctl(8) SENDMAIL)
    for name in ("sendmail", "mailq"):
        assert os.readlink(os.path.join(root, "usr", "sbin", name)) == \
            "posternctl"
    # another MTA's program of that name is left alone
    other = os.path.join(root, "usr", "sbin", "mailq")
    os.unlink(other)
    with open(other, "w") as f:
        f.write("#!/bin/sh\n")
    r = make("install", DESTDIR=root, PREFIX="/usr")
    assert r.returncode == 0 and "belongs to another program" in r.stdout
    assert open(other).read() == "#!/bin/sh\n"
    r = make("uninstall", DESTDIR=root, PREFIX="/usr")
    assert r.returncode == 0, r.stdout + r.stderr
    assert open(other).read() == "#!/bin/sh\n"
    assert not os.path.lexists(os.path.join(root, "usr", "sbin",
                                            "sendmail"))

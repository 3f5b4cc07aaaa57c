"""Set-up: what a user meets before the daemon runs."""
import os
import shutil
import tempfile

from conftest import TOP, run


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

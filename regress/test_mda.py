"""mda delivery (issue 17): the delivery worker runs the action's command
as the recipient, without a shell, with the message on its standard input;
EX_TEMPFAIL retries, other exit statuses bounce with the command's first
line of standard error, and no command ever runs as root.

Modules covered: posternd/mda.c, posternd/deliver.c (mda workers)."""
import os
import pwd
import re
import shutil
import smtplib
import tempfile
import time

import pytest

from conftest import check_action_line
from test_deliver import wait_log

NOBODY = pwd.getpwnam("nobody")

# The mda: a script that keeps what it was given, and fails on request
# (the recipient's local part says how).
SCRIPT = r'''#!/bin/sh
out="$1"
case "$RECIPIENT" in
tempfail*)
	if [ ! -e "$out/tried" ]; then
		: > "$out/tried"
		echo "mailbox busy, try later" >&2
		exit 75
	fi ;;
nouser*)
	echo "no such mailbox here" >&2
	echo "second line" >&2
	exit 67 ;;
esac
n=$(ls "$out" | grep -c '^msg')
cat > "$out/msg$n"
{ id -u; echo "$SENDER"; echo "$RECIPIENT"; echo "$USER"; echo "$HOME"; } \
    > "$out/env$n"
'''


@pytest.fixture
def mdx(daemon_factory):
    base = tempfile.mkdtemp(prefix="postern-mda-")
    os.chmod(base, 0o755)
    out = os.path.join(base, "out")
    os.mkdir(out)
    os.chown(out, NOBODY.pw_uid, NOBODY.pw_gid)
    script = os.path.join(base, "filter")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    dm = daemon_factory(sub="mda")
    dm.out = out
    with open(os.path.join(dm.dir, "mv"), "w") as f:
        for local in ("plain", "tempfail", "nouser"):
            f.write("%s@d.test nobody\n" % local)
        f.write("boss@d.test root\n")
    with open(dm.conf, "a") as f:
        f.write('queue retry 1s max 1s\n'
                'table mv file:"%s/mv"\n'
                "action \"filter\" mda \"%s '%s'\" virtual <mv>\n"
                'match from any for domain "d.test" action "filter"\n'
                % (dm.dir, script, out))
    yield dm
    dm.stop()
    shutil.rmtree(base, ignore_errors=True)


def send(dm, rcpt, body="hello\r\nFrom here\r\n"):
    msg = ("From: alice@sender.test\r\nTo: %s\r\nSubject: mda\r\n\r\n%s"
           % (rcpt, body))
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.sendmail("alice@sender.test", [rcpt], msg) == {}


def outputs(dm, prefix):
    return sorted(n for n in os.listdir(dm.out) if n.startswith(prefix))


def wait_outputs(dm, prefix, want, timeout=20):
    deadline = time.time() + timeout
    while len(outputs(dm, prefix)) < want and time.time() < deadline:
        time.sleep(0.1)
    return outputs(dm, prefix)


def test_mda_gets_the_message_as_the_user(mdx):
    dm = mdx.start(args=("-d", "-v"))
    send(dm, "plain@d.test")
    assert wait_outputs(dm, "env", 1) == ["env0"]
    body = open(os.path.join(dm.out, "msg0"), "rb").read()
    assert body.startswith(b"Return-Path: <alice@sender.test>\n"
                           b"Delivered-To: plain@d.test\n")
    assert body.endswith(b"\n\nhello\nFrom here\n") and b"\r" not in body
    uid, sender, rcpt, user, home = open(
        os.path.join(dm.out, "env0")).read().split("\n")[:5]
    assert int(uid) == NOBODY.pw_uid
    assert (sender, rcpt, user, home) == (
        "alice@sender.test", "plain@d.test", "nobody", NOBODY.pw_dir)
    assert os.stat(os.path.join(dm.out, "msg0")).st_uid == NOBODY.pw_uid


def test_mda_tempfail_is_retried(mdx):
    dm = mdx.start(args=("-d", "-v"))
    send(dm, "tempfail@d.test")
    m = wait_log(dm, r"temporary failure: (4\.3\.0 mda \S+filter: "
                 r"temporary failure \(exit 75\): mailbox busy, try later)")
    assert m, dm.logtext()
    # the retry goes through, once
    assert wait_outputs(dm, "msg", 1) == ["msg0"]
    time.sleep(2)
    assert outputs(dm, "msg") == ["msg0"]
    assert "permanent failure" not in dm.logtext()
    # a line per attempt, in the shape of Postfix's, with its number
    log = dm.logtext()
    assert re.search(r": to=<tempfail@d\.test>, from=<alice@sender\.test>, "
                     r"relay=local, delay=\d+s, attempts=1, dsn=4\.3\.0, "
                     r"status=deferred: temporary failure: 4\.3\.0 mda ",
                     log), log
    assert re.search(r": to=<tempfail@d\.test>, from=<alice@sender\.test>, "
                     r"relay=local, delay=\d+s, attempts=2, dsn=2\.0\.0, "
                     r"status=sent: delivered", log), log


def test_mda_failure_bounces_with_its_reason(mdx):
    dm = mdx.start(args=("-d", "-v"))
    send(dm, "nouser@d.test")
    m = wait_log(dm, r"(?m)permanent failure: (5\.1\.1 mda \S+filter: "
                 r"exit 67: no such mailbox here)$")
    assert m, dm.logtext()
    assert "second line" not in dm.logtext()
    assert outputs(dm, "msg") == []


def test_mda_never_runs_as_root(mdx):
    dm = mdx.start(args=("-d", "-v"))
    send(dm, "boss@d.test")
    m = wait_log(dm, r"permanent failure: 5\.3\.0 action filter: an mda "
                 r"command never runs as root")
    assert m, dm.logtext()
    assert outputs(dm, "msg") == []
    assert "delivery worker" not in dm.logtext() or \
        " for root started" not in dm.logtext()


@pytest.mark.parametrize("cmd,ok", [
    ('"/usr/bin/procmail -d %{user}"', True),
    ("\"/bin/sh -c 'exec cat > /dev/null'\"", True),
    ('""', False),
    ("\"/bin/sh -c 'unterminated\"", False),
    ('"/usr/bin/procmail -a %{nope}"', False),
])
def test_mda_config(tmp_path, cmd, ok):
    check_action_line(tmp_path, 'action "box" mda %s' % cmd, ok)

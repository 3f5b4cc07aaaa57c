"""Mailing lists (issue 17, the `list` statement): a list with a local
and an external member (an smtppeer sink on loopback); the copy's header
fields (List-Id, List-Post, List-Unsubscribe and its RFC 8058 one-click
field), its envelope sender (the list's bounce address), one envelope
per member; a non-poster refused at RCPT with 550 5.7.1 and nothing
sent; the ARC set over the copy verified by Debian's python3-dkim, and
with "sign with" the copy's DKIM-Signature too (under the ARC set); From
rewritten for a p=reject author (Reply-To keeps the author) and kept for
a p=none one (DNS: nsd, regress/dnsbed.py); the subject tag once, not
doubled on a reply; a copy that comes back (our List-Id on it) dropped
with a log line; a list that names itself as a member; bounces to the
bounce address counted, in the log and in show metrics with the copies
per list; a crash (kill -9) between the post and its copy neither loses
the post nor doubles a copy; and the configuration checks.

Modules covered: posternd/parse_list.c, smtpd/rcpt.c (list RCPT),
queue/admit.c (admit_list), queue/list.c, authd/list.c, lib/listhdr.c."""
import email
import email.policy
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import POSTERNCTL, POSTERND, run
from dnsbed import DnsBed
from peers import SmtpPeer
from test_aliases import mails
from test_deliver import wait_log
from test_metrics import metrics, value

SINK = "127.0.0.57"          # far.test: the external member's server
BED = "127.0.53.17"


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("listbed")
    key = str(tmp / "arc.pem")
    r = run([POSTERNCTL, "dkim", "keygen", "-a", "rsa-sha256", "-d",
             "lists.test", "-s", "arc", "-o", key])
    assert r.returncode == 0, r.stderr
    record = r.stdout[r.stdout.index("IN TXT") + 3:]
    txt = "".join(re.findall(r'"([^"]*)"', record))
    b = DnsBed(tmp / "bed", addr=BED)
    try:
        b.zone("reject.test", ['_dmarc TXT "v=DMARC1; p=reject"'])
        b.zone("quar.test", ['_dmarc TXT "v=DMARC1; p=quarantine"'])
        b.zone("none.test", ['_dmarc TXT "v=DMARC1; p=none"'])
        b.zone("lists.test", ["arc._domainkey " + record])
        b.start()
        b.key = key
        b.txt = txt
        yield b
    finally:
        b.stop()


@pytest.fixture
def sink(tmp_path):
    p = SmtpPeer(tmp_path / "sink", addr=SINK)
    p.start()
    yield p
    p.stop()


def list_daemon(daemon_factory, bed, extra="", members=None,
                listopts=""):
    dm = daemon_factory(sub="lists")
    base = tempfile.mkdtemp(prefix="postern-lists-")
    os.chmod(base, 0o1777)
    dm.maildir = base
    if members is None:
        members = ["nobody@lists.test", "ext@far.test"]
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.lists.test
resolver {r} trust-anchor "{ta}"
queue retry 1s max 1s
table lu {{ "nobody" }}
local-users allow <lu>
table members {{ {members} }}
table posters {{ "alice@reject.test", "bob@none.test", "ext@far.test",
	"carol@quar.test" }}
dkim-signature lseal {{
	key "{key}"
	domain lists.test
	selector "arc"
}}
action "loc" maildir "{base}/%{{user}}"
action "out" relay host "smtp://{sink}"
match from any for domain "lists.test" action "loc"
match from any for domain "far.test" action "out"
list dev address "dev@lists.test" members <members> posters <posters> \\
	subject-tag "dev" unsubscribe "https://lists.test/u/dev" \\
	arc-seal with lseal {listopts}
{extra}
'''.format(r=bed.resolver, ta=bed.trust_anchor, key=bed.key, base=base,
           sink=SINK, extra=extra, listopts=listopts,
           members=", ".join('"%s"' % m for m in members)))
    return dm


@pytest.fixture
def ldm(daemon_factory, bed, sink):
    dm = list_daemon(daemon_factory, bed)
    dm.start()
    yield dm
    dm.stop()
    shutil.rmtree(dm.maildir, ignore_errors=True)


def post(dm, sender, author=None, subject="hello", rcpt="dev@lists.test",
         extra=""):
    """(RCPT code, DATA code or None)."""
    author = author or sender
    with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
        c.ehlo("client.test")
        c.mail(sender)
        code = c.rcpt(rcpt)[0]
        if code != 250:
            return code, None
        msg = ("From: Author <%s>\r\nTo: %s\r\nSubject: %s\r\n"
               "Message-ID: <%f@test>\r\n%s\r\nhello list\r\n"
               % (author, rcpt, subject, time.time(), extra))
        return code, c.data(msg)[0]


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def local_copy(dm, n=1):
    got = mails(dm, "nobody", want=n)
    assert len(got) >= n, dm.logtext()
    with open(got[n - 1], "rb") as f:
        return f.read()


def test_copy_headers_and_envelopes(ldm, sink, bed):
    """Both members get the copy: the list's fields, the subject tag, the
    bounce address as envelope sender, one envelope each; From kept for a
    p=none author."""
    assert post(ldm, "bob@none.test") == (250, 250)
    raw = sink.wait_messages(1, timeout=30)[0]
    m = parse(raw)
    assert m["List-Id"] == "dev <dev.lists.test>"
    assert m["List-Post"] == "<mailto:dev@lists.test>"
    assert m["List-Unsubscribe"] == "<https://lists.test/u/dev>"
    # no DKIM signature covers it: no one-click (RFC 8058 4)
    assert m["List-Unsubscribe-Post"] is None
    assert m["Subject"] == "[dev] hello"
    assert m["From"] == "Author <bob@none.test>"
    assert m["Reply-To"] is None
    assert m.get_payload() == "hello list\r\n"
    acc = sink.accepted()
    assert len(acc) == 1
    assert acc[0]["mail_from"] == "dev-bounces@lists.test"
    assert acc[0]["rcpts"] == ["ext@far.test"]
    loc = parse(local_copy(ldm))
    assert loc["List-Id"] == "dev <dev.lists.test>"
    assert loc["Return-Path"] == "<dev-bounces@lists.test>"
    assert wait_log(ldm, r"list dev: copy \w+ queued for 2 members")


def test_arc_sealed_and_verified(ldm, sink, bed):
    """The copy carries one ARC set of lists.test that python3-dkim
    validates, with what postern verified on receipt as its A-R."""
    import dkim
    assert post(ldm, "bob@none.test") == (250, 250)
    raw = sink.wait_messages(1, timeout=30)[0]
    assert raw.count(b"ARC-Seal: i=1;") == 1
    assert b"ARC-Authentication-Results: i=1; mx.lists.test;" in raw
    assert b"DKIM-Signature:" not in raw      # no "sign with"

    def dnsfunc(name, timeout=5):
        assert name == b"arc._domainkey.lists.test."
        return bed.txt.encode()
    cv, results, why = dkim.arc_verify(raw, dnsfunc=dnsfunc)
    assert cv == b"pass", (cv, why)
    # tampering with a signed field breaks it: the check can fail
    bad = raw.replace(b"[dev] hello", b"[dev] hellO")
    cv, results, why = dkim.arc_verify(bad, dnsfunc=dnsfunc)
    assert cv == b"fail"


def test_dkim_signed_and_arc_verified(daemon_factory, bed, sink):
    """With "sign with": a p=reject author's post goes out From the list,
    DKIM-signed by lists.test (so aligned for DMARC at the members'
    servers), the ARC set above the DKIM-Signature; python3-dkim verifies
    both, and both fail once a signed field is changed."""
    import dkim
    dm = list_daemon(daemon_factory, bed, listopts="sign with lseal")
    dm.start()
    try:
        assert post(dm, "alice@reject.test") == (250, 250)
        raw = sink.wait_messages(1, timeout=30)[0]
        assert wait_log(dm, r"list dev: DKIM-signed \(d=lists\.test\)")
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)
    m = parse(raw)
    assert m["From"] == '"Author via dev" <dev@lists.test>'
    sigs = m.get_all("DKIM-Signature")
    assert len(sigs) == 1
    tags = dict(t.strip().split("=", 1) for t in
                re.sub(r"\s+", "", sigs[0]).split(";") if t)
    assert tags["d"] == "lists.test" and tags["s"] == "arc"
    assert "from" in tags["h"].lower().split(":")
    # RFC 8058 4: one-click only where the signature covers both fields
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= \
        set(tags["h"].lower().split(":"))
    # newest on top: the ARC set, then the signature, then the list's
    assert raw.index(b"ARC-Seal:") < raw.index(b"DKIM-Signature:") < \
        raw.index(b"List-Id:")

    def dnsfunc(name, timeout=5):
        assert name == b"arc._domainkey.lists.test."
        return bed.txt.encode()
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    cv, results, why = dkim.arc_verify(raw, dnsfunc=dnsfunc)
    assert cv == b"pass", (cv, why)
    bad = raw.replace(b"[dev] hello", b"[dev] hellO")
    assert not dkim.verify(bad, dnsfunc=dnsfunc)
    cv, results, why = dkim.arc_verify(bad, dnsfunc=dnsfunc)
    assert cv == b"fail"
    body = raw.replace(b"hello list", b"hello lisT")
    assert not dkim.verify(body, dnsfunc=dnsfunc)


def test_signed_copy_of_a_header_at_the_bound(daemon_factory, bed, sink):
    """A post whose header section is near authd's 256 KiB bound: the
    copy, with its DKIM-Signature and ARC set on top, still fits what
    the queue takes, arrives, and verifies."""
    import dkim
    pad = "".join("X-Pad-%03d: %s\r\n" % (i, "p" * 960) for i in range(268))
    dm = list_daemon(daemon_factory, bed, listopts="sign with lseal")
    dm.start()
    try:
        assert post(dm, "bob@none.test", extra=pad) == (250, 250)
        raw = sink.wait_messages(1, timeout=30)[0]
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)
    head = raw[:raw.index(b"\r\n\r\n")]
    assert len(head) > 256 * 1024, len(head)   # beyond what was read
    assert raw.count(b"X-Pad-") == 268

    def dnsfunc(name, timeout=5):
        return bed.txt.encode()
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    assert dkim.arc_verify(raw, dnsfunc=dnsfunc)[0] == b"pass"


@pytest.mark.parametrize("author,rewritten", [
    ("alice@reject.test", True), ("carol@quar.test", True),
    ("bob@none.test", False)])
def test_from_rewrite_dmarc(ldm, sink, author, rewritten):
    """p=reject and p=quarantine authors: From is the list's, the author
    in Reply-To; p=none: From untouched."""
    assert post(ldm, author) == (250, 250)
    m = parse(sink.wait_messages(1, timeout=30)[0])
    if rewritten:
        assert m["From"] == '"Author via dev" <dev@lists.test>'
        assert m["Reply-To"] == "Author <%s>" % author
    else:
        assert m["From"] == "Author <%s>" % author
        assert m["Reply-To"] is None


@pytest.mark.parametrize("mode,author,rewritten", [
    ("never", "alice@reject.test", False),
    ("always", "bob@none.test", True)])
def test_from_rewrite_modes(daemon_factory, bed, sink, mode, author,
                            rewritten):
    dm = list_daemon(daemon_factory, bed, listopts="from-rewrite " + mode)
    dm.start()
    try:
        assert post(dm, author) == (250, 250)
        m = parse(sink.wait_messages(1, timeout=30)[0])
        assert (m["From"] == '"Author via dev" <dev@lists.test>') == \
            rewritten
        assert (m["Reply-To"] == "Author <%s>" % author) == rewritten
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def test_post_without_from_when_rewriting(daemon_factory, bed, sink):
    """A post with no From to rewrite cannot become a copy: it fails
    (logged, bounced to its sender), the members get nothing, and the
    daemon carries on."""
    dm = list_daemon(daemon_factory, bed, listopts="from-rewrite always")
    dm.start()
    try:
        with smtplib.SMTP("127.0.0.1", dm.port, timeout=60) as c:
            c.ehlo("client.test")
            c.mail("bob@none.test")
            assert c.rcpt("dev@lists.test")[0] == 250
            assert c.data("Subject: no author\r\n\r\nhi\r\n")[0] == 250
        assert wait_log(dm, r"permanent failure: .*no From field to "
                        r"rewrite")
        time.sleep(1)
        assert sink.accepted() == []
        assert post(dm, "bob@none.test") == (250, 250)
        sink.wait_messages(1, timeout=30)
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def test_subject_tag_not_doubled(ldm, sink):
    assert post(ldm, "bob@none.test", subject="Re: [dev] hello") == \
        (250, 250)
    m = parse(sink.wait_messages(1, timeout=30)[0])
    assert m["Subject"] == "Re: [dev] hello"


def test_non_poster_refused(ldm, sink):
    """550 5.7.1 at RCPT; nothing is queued or sent to anyone."""
    with smtplib.SMTP("127.0.0.1", ldm.port, timeout=60) as c:
        c.ehlo("client.test")
        c.mail("eve@none.test")
        code, text = c.rcpt("dev@lists.test")
        assert code == 550 and text.startswith(b"5.7.1"), text
        c.mail("")      # the null sender never posts
    assert post(ldm, "") == (550, None)
    time.sleep(1)
    assert sink.accepted() == []
    assert mails(ldm, "nobody", want=1, timeout=1) == []
    assert "may not post to list dev: refused" in ldm.logtext()


def test_loop_dropped(ldm, sink):
    """A copy that comes back with our List-Id is dropped, logged."""
    assert post(ldm, "ext@far.test",
                extra="List-Id: dev <dev.lists.test>\r\n") == (250, 250)
    assert wait_log(ldm, r"list dev: post from <ext@far.test> dropped: "
                    r".*a loop")
    time.sleep(1)
    assert sink.accepted() == []
    assert mails(ldm, "nobody", want=1, timeout=1) == []
    # the daemon carries on
    assert post(ldm, "ext@far.test") == (250, 250)
    sink.wait_messages(1, timeout=30)


def test_list_member_of_itself(daemon_factory, bed, sink):
    """A list that names itself: that member is skipped (logged), the
    others get one copy each."""
    dm = list_daemon(daemon_factory, bed, members=[
        "dev@lists.test", "ext@far.test"])
    dm.start()
    try:
        assert post(dm, "ext@far.test") == (250, 250)
        sink.wait_messages(1, timeout=30)
        assert wait_log(dm, r"member <dev@lists.test> is a list address: "
                        r"skipped")
        time.sleep(1)
        assert len(sink.accepted()) == 1
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def test_bounces_counted(ldm, sink):
    """Mail to the bounce address is taken from anyone and counted."""
    assert post(ldm, "", rcpt="dev-bounces@lists.test") == (250, 250)
    assert wait_log(ldm, r"list dev: bounce from <> counted \(1 since "
                    r"start\)")
    time.sleep(1)
    assert sink.accepted() == []


def test_own_dsn_for_a_copy_counted(daemon_factory, bed, tmp_path):
    """A copy the far end refuses: the DSN the queue makes goes to the
    copy's sender, the bounce address, and is counted there like a
    bounce that comes by SMTP, not routed by the match rules (review
    finding: it went to the local user dev-bounces, who does not exist,
    or nowhere)."""
    sink = SmtpPeer(tmp_path / "sink", addr=SINK,
                    replies=[{"cmd": "RCPT", "match": "gone@*",
                              "reply": "550 5.1.1 no such user"}])
    sink.start()
    dm = list_daemon(daemon_factory, bed,
                     members=["nobody@lists.test", "gone@far.test"])
    try:
        dm.start()
        assert post(dm, "bob@none.test") == (250, 250)
        assert wait_log(dm, r"list dev: delivery status notification to "
                        r"<dev-bounces@lists\.test> counted as a bounce "
                        r"\(1 since start\)")
        assert local_copy(dm)
        assert "no route for a delivery status notification" not in \
            dm.logtext()
        assert sink.accepted() == []
    finally:
        dm.stop()
        sink.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def test_list_metrics(ldm, sink):
    """show metrics: a list's copies, their member envelopes and its
    bounces, from 0, each moving when it happens."""
    def counts():
        s = metrics(ldm)[2]
        return tuple(value(s, n, list="dev") for n in (
            "postern_list_copies_total",
            "postern_list_copy_recipients_total",
            "postern_list_bounces_total"))
    text = metrics(ldm)[0]
    assert 'postern_list_copies_total{list="dev"} 0' in text
    assert "# TYPE postern_list_bounces_total counter" in text
    assert counts() == (0, 0, 0)
    assert post(ldm, "bob@none.test") == (250, 250)
    assert wait_log(ldm, r"list dev: copy \w+ queued for 2 members")
    assert counts() == (1, 2, 0)
    assert post(ldm, "", rcpt="dev-bounces@lists.test") == (250, 250)
    assert post(ldm, "", rcpt="dev-bounces@lists.test") == (250, 250)
    assert wait_log(ldm, r"list dev: bounce from <> counted \(2 since "
                    r"start\)")
    assert counts() == (1, 2, 2)


def test_crash_between_post_and_copy(daemon_factory, bed, sink):
    """kill -9 of the queue (the daemon stops with it, fail-stop) while
    the post waits for its copy: after the restart each member gets
    exactly one copy."""
    dm = list_daemon(daemon_factory, bed)
    dm.start()
    try:
        assert dm.ctl("hold", "all").returncode == 0
        assert post(dm, "bob@none.test") == (250, 250)
        # the post is stored; now its store's owner dies without a word
        os.kill(dm.kids["queue"], signal.SIGKILL)
        assert dm.wait_exit(30) is not None, dm.logtext()
        assert "lost child: queue process" in dm.logtext()
        dm.log.close()
        dm.start()
        assert dm.ctl("release", "all").returncode == 0
        sink.wait_messages(1, timeout=30)
        local_copy(dm)
        time.sleep(2)
        assert len(sink.accepted()) == 1
        assert len(mails(dm, "nobody", want=2, timeout=1)) == 1
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def test_crash_after_copy_stored(daemon_factory, bed, sink, monkeypatch):
    """The queue dies (SIGKILL, the test hook) right after the copy's
    commit, before the post's list envelope is dropped: after the restart
    the post is not redistributed again; each member gets one copy."""
    dm = list_daemon(daemon_factory, bed)
    monkeypatch.setenv("POSTERN_TEST_CRASH", "queue:list-committed")
    dm.start()
    try:
        assert post(dm, "bob@none.test") == (250, 250)
        assert dm.wait_exit(30) is not None, dm.logtext()
        assert "list dev: copy" in dm.logtext()
        monkeypatch.delenv("POSTERN_TEST_CRASH")
        dm.log.close()
        dm.start()
        sink.wait_messages(1, timeout=30)
        local_copy(dm)
        assert wait_log(dm, r"list dev: copy already queued before a "
                        r"restart")
        time.sleep(2)
        assert len(sink.accepted()) == 1
        assert len(mails(dm, "nobody", want=2, timeout=1)) == 1
    finally:
        dm.stop()
        shutil.rmtree(dm.maildir, ignore_errors=True)


def check_conf(tmp_path, text):
    conf = tmp_path / "postern.conf"
    conf.write_text('table m { "a@b.test" }\n' + text + "\n")
    return run([POSTERND, "-n", "-f", str(conf)])


@pytest.mark.parametrize("line,why", [
    ('list dev address "dev@lists.test"', "needs an address and members"),
    ('list dev members <m>', "needs an address and members"),
    ('list dev address "d@l.test" members m', "must be a table"),
    ('list dev address "d@l.test" members <m> bounce <m>',
     'list option "bounce" takes no table'),
    ('list dev address "nope" members <m>', "invalid list address"),
    ('list dev address "d@l.test" members <zz>', 'unknown table "zz"'),
    ('list dev address "d@l.test" members <m> posters some',
     "members, anyone or <TABLE>"),
    ('list dev address "d@l.test" members <m> verp yes',
     "verp is not supported"),
    ('list dev address "d@l.test" members <m> unsubscribe "http://x"',
     "https:// URL or a mailto:"),
    ('list dev address "d@l.test" members <m> from-rewrite maybe',
     "dmarc, always or never"),
    ('list dev address "d@l.test" members <m> arc-seal with nokey',
     'unknown dkim-signature "nokey"'),
    ('list dev address "d@l.test" members <m> sign with nokey',
     'unknown dkim-signature "nokey"'),
    ('list dev address "d@l.test" members <m> sign with a sign with b',
     'list option "sign" given twice'),
    ('list "d v" address "d@l.test" members <m>', "invalid list name"),
    ('list dev address "d@l.test" members <m> subject-tag "a\tb"',
     "invalid subject-tag"),
    ('list dev address "d@l.test" members <m>\n'
     'list dev2 address "d@l.test" members <m>', "an address of list dev"),
    ('list dev address "d@l.test" members <m> bounce "d@l.test"',
     "its bounce address is its address"),
])
def test_config_checked(tmp_path, line, why):
    r = check_conf(tmp_path, line)
    assert r.returncode != 0
    assert why in r.stderr, r.stderr


def test_config_accepted(tmp_path):
    r = check_conf(tmp_path, 'table p { "x@y.test" }\n'
                   'list dev address "d@l.test" members <m> posters <p> '
                   'bounce "owner@l.test" subject-tag "dev" '
                   'unsubscribe "mailto:leave@l.test" from-rewrite always\n'
                   'list two address "t@l.test" members <m> posters anyone '
                   'from-rewrite dmarc')
    assert r.returncode == 0, r.stderr

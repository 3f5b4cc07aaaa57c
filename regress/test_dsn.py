"""Bounces: RFC 3464 delivery status notifications from the real queue."""
import email
import email.policy
import os
import smtplib
import subprocess
import time

import pytest

from test_smtp import delivered


@pytest.fixture
def bouncer(daemon_factory, tmp_path):
    dm = daemon_factory(sub="bounce")
    dm.maildir = str(tmp_path / "bmail")
    with open(dm.conf, "a") as f:
        f.write('''hostname mx.example.test
queue retry 1s max 1s
queue expire 3s
table domains {{ "localhost" }}
table many {{ "@many.test" = "root" }}
action "local" maildir "{m}/%{{user}}"
action "many" maildir "{m}/%{{rcpt}}" virtual <many>
action "broken" maildir "/dev/null/cannot/%{{user}}"
action "out" relay host "smtp://127.0.0.1:9"
match from any for domain "broken.test" action "broken"
match from any for domain "far.test" action "out"
match from any for domain "many.test" action "many"
match from any for domain <domains> action "local"
'''.format(m=dm.maildir))
    return dm.start()


ORIG = (b"From: root@localhost\r\nTo: root@broken.test\r\n"
        b"Subject: will bounce\r\nMessage-ID: <orig@localhost>\r\n\r\n"
        b"the original body\r\n")


def dsn_parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    # message/delivery-status: blocks of fields
    blocks = [dict((k.lower(), v) for k, v in b.items())
              for b in parts[1].get_payload()]
    return msg, parts, blocks


def test_permanent_failure_bounces_with_ret_full(bouncer):
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost", ["RET=FULL", "ENVID=QQ+2B314159"])
        assert c.rcpt("root@broken.test", ["NOTIFY=FAILURE",
                                           "ORCPT=rfc822;root@broken.test"]
                      )[0] == 250
        assert c.data(ORIG)[0] == 250
    got = delivered(bouncer)
    assert len(got) == 1
    raw = got[0]
    assert b"Return-Path: <>" in raw
    msg, parts, blocks = dsn_parts(raw)
    assert msg["Auto-Submitted"].startswith("auto-replied")
    assert "root@localhost" in msg["To"]
    assert blocks[0]["reporting-mta"] == "dns; mx.example.test"
    assert blocks[0]["original-envelope-id"] == "QQ+314159"
    assert blocks[1]["final-recipient"].lower() == "rfc822; root@broken.test"
    assert blocks[1]["original-recipient"].lower() == "rfc822; root@broken.test"
    assert blocks[1]["action"] == "failed"
    # RFC 3463 5.3.0: the maildir path cannot exist (/dev/null/...)
    assert blocks[1]["status"] == "5.3.0"
    assert "5.3.0 maildir base directory /dev/null/cannot" in \
        blocks[1]["diagnostic-code"]
    assert parts[2].get_content_type() == "message/rfc822"
    assert b"the original body" in parts[2].as_bytes()
    # nothing is left in the queue
    time.sleep(0.3)
    assert bouncer.ctl("show", "queue").stdout == ""


def test_ret_hdrs_and_default_return_headers_only(bouncer):
    for params in (["RET=HDRS"], []):
        with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
            c.ehlo("c")
            c.mail("root@localhost", params)
            c.rcpt("root@broken.test")
            assert c.data(ORIG)[0] == 250
    got = delivered(bouncer, want=2)
    assert len(got) == 2
    for raw in got:
        _, parts, _ = dsn_parts(raw)
        assert parts[2].get_content_type() == "text/rfc822-headers"
        assert b"Subject: will bounce" in raw
        assert b"the original body" not in raw


def test_no_bounce_for_notify_never_or_null_sender(bouncer):
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost")
        c.rcpt("root@broken.test", ["NOTIFY=NEVER"])
        assert c.data(ORIG)[0] == 250
        c.mail("")
        c.rcpt("root@broken.test")
        assert c.data(ORIG)[0] == 250
    time.sleep(1.5)
    assert delivered(bouncer, timeout=0) == []
    assert bouncer.ctl("show", "queue").stdout == ""
    assert bouncer.logtext().count("permanent failure") == 2


def test_expiry_bounces_with_4_4_7(bouncer):
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost")
        c.rcpt("someone@far.test")
        assert c.data(ORIG.replace(b"root@broken.test",
                                   b"someone@far.test"))[0] == 250
    got = delivered(bouncer, timeout=15)
    assert len(got) == 1
    _, _, blocks = dsn_parts(got[0])
    assert blocks[1]["status"] == "4.4.7"
    assert blocks[1]["action"] == "failed"
    assert "someone@far.test" in blocks[1]["final-recipient"]


def test_full_mailbox_bounces_only_at_expiry(bouncer):
    """A local mailbox on a 64k tmpfs that cannot take the message: retried
    (4.2.2, mailbox full) until the expiry, then one bounce with 5.2.2
    (mailbox full, not the generic 4.4.7) whose diagnostic says why; the
    partial file is gone."""
    box = os.path.join(bouncer.maildir, "full@many.test")
    os.makedirs(box)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700",
                    "tmpfs", box], check=True)
    try:
        big = ORIG.replace(b"root@broken.test", b"full@many.test") + \
            (b"y" * 76 + b"\r\n") * 3000
        with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
            c.ehlo("c")
            c.mail("root@localhost")
            c.rcpt("full@many.test")
            assert c.data(big)[0] == 250
        time.sleep(1.5)
        assert delivered(bouncer, timeout=0) == []     # not yet bounced
        assert "4.2.2 writing" in bouncer.logtext()
        got = delivered(bouncer, timeout=15)
        assert len(got) == 1
        _, _, blocks = dsn_parts(got[0])
        assert blocks[1]["action"] == "failed"
        # RFC 3463 3.3: mailbox full, permanent now that it expired
        assert blocks[1]["status"] == "5.2.2"
        assert "full@many.test" in blocks[1]["final-recipient"]
        assert "4.2.2 writing" in blocks[1]["diagnostic-code"]
        assert "No space left on device" in blocks[1]["diagnostic-code"]
        assert "permanent failure" not in bouncer.logtext()
        assert os.listdir(os.path.join(box, "tmp")) == []
        assert os.listdir(os.path.join(box, "new")) == []
    finally:
        bouncer.stop()
        if subprocess.run(["umount", box]).returncode != 0:
            subprocess.run(["umount", "-l", box])


def test_success_dsn_only_when_asked(bouncer):
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost", ["ENVID=ok1"])
        c.rcpt("root@localhost", ["NOTIFY=SUCCESS,FAILURE"])
        assert c.data(ORIG.replace(b"root@broken.test",
                                   b"root@localhost"))[0] == 250
    # the message itself, then the success notice about it
    got = delivered(bouncer, want=2)
    assert len(got) == 2
    notices = [g for g in got if b"multipart/report" in g]
    assert len(notices) == 1
    _, parts, blocks = dsn_parts(notices[0])
    assert blocks[0]["original-envelope-id"] == "ok1"
    assert blocks[1]["action"] == "delivered"
    assert blocks[1]["status"] == "2.0.0"
    # without NOTIFY=SUCCESS: the message only
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.sendmail("root@localhost", ["root@localhost"], ORIG)
    time.sleep(1)
    assert len(delivered(bouncer, want=3, timeout=1)) == 3


def reports(got):
    return [g for g in got if b"multipart/report" in g]


def test_one_bounce_for_twenty_unreachable_recipients(bouncer):
    # Reflection: a message with many recipients that all fail makes one
    # report to its sender listing them all (RFC 3464 2), not one each.
    rcpts = ["u%02d@far.test" % i for i in range(20)]
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost", ["RET=FULL"])
        for r in rcpts:
            assert c.rcpt(r, ["NOTIFY=FAILURE"])[0] == 250
        assert c.data(ORIG)[0] == 250
    got = delivered(bouncer, timeout=20)
    assert len(got) == 1
    _, _, blocks = dsn_parts(got[0])
    assert len(blocks) == 1 + 20
    finals = sorted(b["final-recipient"].lower() for b in blocks[1:])
    assert finals == ["rfc822; " + r for r in rcpts]
    for b in blocks[1:]:
        assert b["action"] == "failed"
        assert b["status"] == "4.4.7"
    # and no second one: every envelope went with the first
    time.sleep(3)
    assert len(delivered(bouncer, want=2, timeout=0)) == 1
    assert bouncer.ctl("show", "queue").stdout == ""
    assert bouncer.logtext().count("failure notification for 20 "
                                   "recipient(s)") == 1


def test_one_success_notice_for_twenty_recipients(bouncer):
    rcpts = ["u%02d@many.test" % i for i in range(20)]
    with smtplib.SMTP("127.0.0.1", bouncer.port) as c:
        c.ehlo("c")
        c.mail("root@localhost", ["RET=FULL", "ENVID=many1"])
        for r in rcpts:
            assert c.rcpt(r, ["NOTIFY=SUCCESS"])[0] == 250
        assert c.data(ORIG.replace(b"root@broken.test",
                                   b"u00@many.test"))[0] == 250
    for r in rcpts:
        assert len(delivered(bouncer, user=r)) == 1
    got = delivered(bouncer)
    time.sleep(2)
    got = delivered(bouncer, want=2, timeout=0)
    assert len(reports(got)) == 1 and len(got) == 1
    _, parts, blocks = dsn_parts(got[0])
    assert blocks[0]["original-envelope-id"] == "many1"
    assert len(blocks) == 1 + 20
    finals = sorted(b["final-recipient"].lower() for b in blocks[1:])
    assert finals == ["rfc822; " + r for r in rcpts]
    for b in blocks[1:]:
        assert b["action"] == "delivered"
        assert b["status"] == "2.0.0"
    # RET=FULL from an unauthenticated client is honoured, capped
    assert parts[2].get_content_type() == "message/rfc822"
    assert b"the original body" in parts[2].as_bytes()

/*
 * lib/lmtp.c: the LMTP client engine (RFC 2033): LHLO, pipelined and
 * step-by-step transactions, one reply per accepted recipient after the
 * message (4.2), RSET between transactions, and its failures on replies
 * out of turn or out of bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"

static struct lmtp_session	 s;

static enum lmtp_event
in(const char *text)
{
	return lmtp_input(&s, text, strlen(text));
}

/* What the engine wrote since the last call, compared and consumed. */
static void
out_is(const char *want)
{
	char	*got;

	got = strndup((const char *)s.out.data, s.out.len);
	assert_string_equal(got, want);
	free(got);
	buf_reset(&s.out);
}

static void
ready(const char *lhlo_reply)
{
	lmtp_init(&s, "mx.example");
	assert_int_equal(in("220 lmtp.example LMTP ready\r\n"), LMTP_EV_WANT);
	out_is("LHLO mx.example\r\n");
	assert_int_equal(in(lhlo_reply), LMTP_EV_READY);
}

static void
rcpts_init(struct lmtp_rcpt *r, size_t n, const char **addrs)
{
	size_t	 i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++)
		r[i].addr = addrs[i];
}

static void
test_pipelined(void **state)
{
	const char		*a[] = { "a@x.test", "b@x.test", "c@x.test" };
	struct lmtp_rcpt	 r[3];

	ready("250-lmtp.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	rcpts_init(r, 3, a);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 3), LMTP_EV_WANT);
	/* RFC 2920 3.1: one group, DATA last */
	out_is("MAIL FROM:<s@y.test> BODY=8BITMIME\r\nRCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n");
	assert_int_equal(in("250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
	    "550 5.1.1 <b@x.test> unknown\r\n250 2.1.5 ok\r\n"),
	    LMTP_EV_WANT);
	assert_int_equal(in("354 go\r\n"), LMTP_EV_BODY);
	assert_int_equal(r[1].status, LMTP_RCPT_PERMFAIL);
	assert_string_equal(r[1].reply, "550 5.1.1 <b@x.test> unknown");
	assert_string_equal(r[1].enhanced, "5.1.1");
	assert_int_equal(r[1].server, 1);
	lmtp_body_end(&s);
	/* RFC 2033 4.2: one reply per accepted recipient, in order */
	assert_int_equal(in("250 2.0.0 a saved\r\n"), LMTP_EV_WANT);
	assert_int_equal(r[0].status, LMTP_RCPT_OK);
	assert_int_equal(r[2].status, LMTP_RCPT_PENDING);
	assert_int_equal(in("452 4.2.2 c over quota\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[2].status, LMTP_RCPT_TEMPFAIL);
	assert_string_equal(r[2].enhanced, "4.2.2");
	assert_string_equal(r[2].reply, "452 4.2.2 c over quota");

	/* the next message on the same connection: RSET first */
	rcpts_init(r, 1, a);
	assert_int_equal(lmtp_begin(&s, "", r, 1), LMTP_EV_WANT);
	out_is("RSET\r\nMAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<a@x.test>\r\n"
	    "DATA\r\n");
	assert_int_equal(in("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
	    LMTP_EV_BODY);
	lmtp_body_end(&s);
	assert_int_equal(in("554 5.6.0 rejected\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_PERMFAIL);
	lmtp_quit(&s);
	out_is("QUIT\r\n");
	assert_int_equal(in("221 bye\r\n"), LMTP_EV_CLOSED);
	lmtp_free(&s);
}

static void
test_step_by_step(void **state)
{
	const char		*a[] = { "alice", "bob" };
	struct lmtp_rcpt	 r[2];

	ready("250 lmtp.example\r\n");
	rcpts_init(r, 2, a);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 2), LMTP_EV_WANT);
	out_is("MAIL FROM:<s@y.test>\r\n");
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_WANT);
	out_is("RCPT TO:<alice>\r\n");
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_WANT);
	out_is("RCPT TO:<bob>\r\n");
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_WANT);
	out_is("DATA\r\n");
	assert_int_equal(in("354 go\r\n"), LMTP_EV_BODY);
	lmtp_body_end(&s);
	assert_int_equal(in("250 ok\r\n250 ok\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_OK);
	assert_int_equal(r[1].status, LMTP_RCPT_OK);

	/* every RCPT refused: no DATA at all */
	rcpts_init(r, 2, a);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 2), LMTP_EV_WANT);
	out_is("RSET\r\n");
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_WANT);
	out_is("MAIL FROM:<s@y.test>\r\n");
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_WANT);
	out_is("RCPT TO:<alice>\r\n");
	assert_int_equal(in("450 4.2.1 later\r\n"), LMTP_EV_WANT);
	out_is("RCPT TO:<bob>\r\n");
	assert_int_equal(in("550 no\r\n"), LMTP_EV_DONE);
	out_is("");
	assert_int_equal(r[0].status, LMTP_RCPT_TEMPFAIL);
	assert_int_equal(r[1].status, LMTP_RCPT_PERMFAIL);
	/* no enhanced code: the class's */
	assert_string_equal(r[1].enhanced, "5.0.0");

	/* MAIL refused: every recipient shares its reply */
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	out_is("RSET\r\n");
	in("250 ok\r\n");
	out_is("MAIL FROM:<s@y.test>\r\n");
	assert_int_equal(in("451 4.3.0 try later\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_TEMPFAIL);
	assert_int_equal(r[1].status, LMTP_RCPT_TEMPFAIL);
	assert_string_equal(r[1].reply, "451 4.3.0 try later");
	lmtp_free(&s);
}

static void
test_pipelined_refusals(void **state)
{
	const char		*a[] = { "a@x.test", "b@x.test" };
	struct lmtp_rcpt	 r[2];

	ready("250-lmtp.example\r\n250 PIPELINING\r\n");
	/* MAIL refused: RCPT and DATA replies are read and ignored */
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	buf_reset(&s.out);
	assert_int_equal(in("550 5.7.1 go away\r\n503 no MAIL\r\n"
	    "503 no MAIL\r\n"), LMTP_EV_WANT);
	assert_int_equal(in("503 no valid recipients\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_PERMFAIL);
	assert_string_equal(r[0].reply, "550 5.7.1 go away");
	/* DATA refused after an accepted RCPT: that recipient has it */
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	buf_reset(&s.out);
	assert_int_equal(in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n"
	    "451 4.3.2 shutting down\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_TEMPFAIL);
	assert_int_equal(r[1].status, LMTP_RCPT_TEMPFAIL);
	assert_string_equal(r[1].enhanced, "4.3.2");
	/* 354 though every RCPT failed: the session ends */
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	assert_int_equal(in("250 ok\r\n250 ok\r\n550 no\r\n550 no\r\n"
	    "354 go\r\n"), LMTP_EV_FAIL);
	assert_int_equal(r[0].status, LMTP_RCPT_PERMFAIL);
	lmtp_free(&s);
}

static void
test_failures(void **state)
{
	const char		*a[] = { "a@x.test", "b@x.test" };
	struct lmtp_rcpt	 r[2];
	char			*big;

	/* no service */
	lmtp_init(&s, "mx.example");
	assert_int_equal(in("554 no\r\n"), LMTP_EV_FAIL);
	assert_non_null(strstr(s.error, "greeting: 554 no"));
	lmtp_free(&s);
	/* LHLO refused (a plain SMTP server) */
	lmtp_init(&s, "mx.example");
	in("220 hi\r\n");
	assert_int_equal(in("500 5.5.1 what\r\n"), LMTP_EV_FAIL);
	lmtp_free(&s);
	/* a reply nobody asked for */
	ready("250 ok\r\n");
	assert_int_equal(in("250 surprise\r\n"), LMTP_EV_FAIL);
	lmtp_free(&s);
	lmtp_init(&s, "mx.example");
	in("220 hi\r\n");
	assert_int_equal(in("250 ok\r\n250 more\r\n"), LMTP_EV_FAIL);
	lmtp_free(&s);
	/* an endless line */
	ready("250 ok\r\n");
	big = malloc(SMTP_REPLY_LINE_MAX + 100);
	memset(big, '5', SMTP_REPLY_LINE_MAX + 100);
	assert_int_equal(lmtp_input(&s, big, SMTP_REPLY_LINE_MAX + 100),
	    LMTP_EV_FAIL);
	free(big);
	lmtp_free(&s);
	/* garbage after DATA, then a lost connection: pending ones 4.4.2 */
	ready("250 ok\r\n");
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	in("250 ok\r\n");
	in("250 ok\r\n");
	in("550 no\r\n");
	assert_int_equal(in("354 go\r\n"), LMTP_EV_BODY);
	lmtp_body_end(&s);
	assert_int_equal(in("hello\r\n"), LMTP_EV_FAIL);
	assert_int_equal(r[0].status, LMTP_RCPT_TEMPFAIL);
	assert_string_equal(r[0].enhanced, "4.4.2");
	assert_int_equal(r[0].server, 0);
	assert_int_equal(r[1].status, LMTP_RCPT_PERMFAIL);
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_FAIL);
	lmtp_free(&s);
	/* a stall: the driver fails what is pending */
	ready("250 ok\r\n");
	rcpts_init(r, 2, a);
	lmtp_begin(&s, "s@y.test", r, 2);
	lmtp_fail(&s, "4.4.2 LMTP server stalled");
	assert_int_equal(r[0].status, LMTP_RCPT_TEMPFAIL);
	assert_string_equal(r[1].reply, "4.4.2 LMTP server stalled");
	rcpts_init(r, 1, a);
	s.state = LMTP_S_READY;
	lmtp_begin(&s, "s@y.test", r, 1);
	lmtp_fail(&s, "4.4.1 LMTP server /nope: connect: No such file");
	assert_string_equal(r[0].enhanced, "4.4.1");
	/* not ready: nothing sent, the caller decides */
	rcpts_init(r, 2, a);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 2), LMTP_EV_FAIL);
	assert_int_equal(r[0].status, LMTP_RCPT_PENDING);
	lmtp_free(&s);
}

static void
test_addresses(void **state)
{
	const char		*a[] = { "a@x.test", "evil\r\nDATA@x",
				    "ü@x.test" };
	struct lmtp_rcpt	 r[3];

	ready("250-lmtp.example\r\n250 PIPELINING\r\n");
	rcpts_init(r, 3, a);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 3), LMTP_EV_WANT);
	/* never a CR or LF on a command line; no SMTPUTF8, no UTF-8 */
	out_is("MAIL FROM:<s@y.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n");
	assert_int_equal(r[1].status, LMTP_RCPT_PERMFAIL);
	assert_string_equal(r[1].enhanced, "5.1.3");
	assert_int_equal(r[2].status, LMTP_RCPT_PERMFAIL);
	assert_string_equal(r[2].enhanced, "5.6.7");
	assert_int_equal(in("250 ok\r\n250 ok\r\n354 go\r\n"), LMTP_EV_BODY);
	lmtp_body_end(&s);
	assert_int_equal(in("250 ok\r\n"), LMTP_EV_DONE);
	assert_int_equal(r[0].status, LMTP_RCPT_OK);
	/* nothing to send: nothing sent, not even RSET */
	rcpts_init(r, 1, a + 1);
	assert_int_equal(lmtp_begin(&s, "s@y.test", r, 1), LMTP_EV_DONE);
	out_is("");
	lmtp_free(&s);
	/* with SMTPUTF8 offered it goes, and MAIL says so */
	ready("250-lmtp.example\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
	rcpts_init(r, 1, a + 2);
	lmtp_begin(&s, "s@y.test", r, 1);
	out_is("MAIL FROM:<s@y.test> SMTPUTF8\r\nRCPT TO:<ü@x.test>\r\n"
	    "DATA\r\n");
	lmtp_free(&s);
}

/* Replies split at any byte are the same replies. */
static void
test_split_input(void **state)
{
	const char		*a[] = { "a@x.test" };
	const char		*all = "250 ok\r\n250 ok\r\n354 go\r\n";
	struct lmtp_rcpt	 r[1];
	size_t			 i;
	enum lmtp_event		 ev = LMTP_EV_WANT;

	ready("250-lmtp.example\r\n250 PIPELINING\r\n");
	rcpts_init(r, 1, a);
	lmtp_begin(&s, "s@y.test", r, 1);
	for (i = 0; all[i] != '\0'; i++)
		ev = lmtp_input(&s, all + i, 1);
	assert_int_equal(ev, LMTP_EV_BODY);
	lmtp_body_end(&s);
	assert_int_equal(in("250 2.0.0 ok\n"), LMTP_EV_DONE);
	lmtp_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_step_by_step),
		cmocka_unit_test(test_pipelined_refusals),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_split_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

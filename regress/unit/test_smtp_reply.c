/*
 * lib/smtp_reply.c: reply parsing (RFC 5321 4.2, multi-line 4.2.1,
 * enhanced codes RFC 2034/3463), its bounds against hostile servers, EHLO
 * keywords, dot-stuffing (4.5.2) and xtext (RFC 3461 4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

static struct smtp_reply	 r;

/* Feed CRLF-separated lines; returns the status of the last. */
static enum smtp_reply_status
feed(const char *text, char *err, size_t errlen)
{
	const char		*p = text, *e;
	enum smtp_reply_status	 st = SMTP_REPLY_MORE;

	smtp_reply_init(&r);
	while (*p != '\0') {
		e = strstr(p, "\r\n");
		if (e == NULL)
			e = p + strlen(p);
		st = smtp_reply_line(&r, p, e - p, err, errlen);
		if (st != SMTP_REPLY_MORE)
			break;
		p = *e != '\0' ? e + 2 : e;
	}
	return st;
}

static void
test_single(void **state)
{
	char	 err[128], one[256];

	assert_int_equal(feed("250 2.1.0 Sender ok", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enhanced, "2.1.0");
	assert_string_equal(smtp_reply_status(&r), "2.1.0");
	smtp_reply_oneline(&r, one, sizeof(one));
	assert_string_equal(one, "250 2.1.0 Sender ok");

	/* a bare code is a complete reply */
	assert_int_equal(feed("354", err, sizeof(err)), SMTP_REPLY_DONE);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enhanced, "");

	/* no enhanced code: the class default */
	assert_int_equal(feed("550 no such user", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	assert_string_equal(smtp_reply_status(&r), "5.0.0");
	assert_int_equal(feed("451 try later", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	assert_string_equal(smtp_reply_status(&r), "4.0.0");

	/* an enhanced code of the wrong class is not one */
	assert_int_equal(feed("550 2.1.1 odd", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	assert_string_equal(r.enhanced, "");
	assert_int_equal(feed("550 5.1.1234 odd", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	assert_string_equal(r.enhanced, "");
}

static void
test_multiline(void **state)
{
	char	 err[128], one[256];

	assert_int_equal(feed("550-5.1.1 The user\r\n550-5.1.1 does not\r\n"
	    "550 5.1.1 exist", err, sizeof(err)), SMTP_REPLY_DONE);
	assert_int_equal(r.nlines, 3);
	assert_string_equal(smtp_reply_text(&r, 1), "5.1.1 does not");
	smtp_reply_oneline(&r, one, sizeof(one));
	assert_string_equal(one, "550 5.1.1 The user does not exist");

	/* RFC 5321 4.2.1: codes must agree */
	assert_int_equal(feed("250-a\r\n251 b", err, sizeof(err)),
	    SMTP_REPLY_ERROR);
	assert_non_null(strstr(err, "differ"));
}

static void
test_malformed(void **state)
{
	char	 err[128];
	char	*big;
	size_t	 i;

	assert_int_equal(feed("hello", err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_int_equal(feed("25", err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_int_equal(feed("650 x", err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_int_equal(feed("190 x", err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_int_equal(feed("270 x", err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_int_equal(feed("250x", err, sizeof(err)), SMTP_REPLY_ERROR);

	/* one line over the limit */
	big = malloc(SMTP_REPLY_LINE_MAX + 10);
	memset(big, 'a', SMTP_REPLY_LINE_MAX + 9);
	memcpy(big, "250 ", 4);
	big[SMTP_REPLY_LINE_MAX + 9] = '\0';
	assert_int_equal(feed(big, err, sizeof(err)), SMTP_REPLY_ERROR);
	assert_string_equal(err, "reply line too long");
	free(big);

	/* an endless multi-line reply stops at the line limit */
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		assert_int_equal(smtp_reply_line(&r, "250-x", 5, err,
		    sizeof(err)), SMTP_REPLY_MORE);
	assert_int_equal(smtp_reply_line(&r, "250-x", 5, err, sizeof(err)),
	    SMTP_REPLY_ERROR);

	/* and long lines stop at the text limit first */
	big = malloc(1004);
	memset(big, 'b', 1003);
	memcpy(big, "250-", 4);
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		if (smtp_reply_line(&r, big, 1003, err, sizeof(err)) !=
		    SMTP_REPLY_MORE)
			break;
	assert_true(i < SMTP_REPLY_LINES_MAX);
	assert_string_equal(err, "reply too long");
	free(big);
}

static void
test_caps(void **state)
{
	struct smtp_caps	 c;
	char			 err[128];

	assert_int_equal(feed("250-mx.example.test greets you\r\n"
	    "250-PIPELINING\r\n250-SIZE 1000000\r\n250-8bitmime\r\n"
	    "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=CRAM-MD5\r\n"
	    "250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 PIPELININGX", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	smtp_caps_parse(&r, &c);
	assert_int_equal(c.flags, SMTP_CAP_PIPELINING | SMTP_CAP_SIZE |
	    SMTP_CAP_8BITMIME | SMTP_CAP_STARTTLS | SMTP_CAP_AUTH |
	    SMTP_CAP_DSN | SMTP_CAP_SMTPUTF8 | SMTP_CAP_CHUNKING |
	    SMTP_CAP_ENHANCED);
	assert_int_equal(c.size_max, 1000000);
	assert_string_equal(c.auth, "PLAIN LOGIN CRAM-MD5");

	/* the greeting line is not a keyword; SIZE without a number */
	assert_int_equal(feed("250-STARTTLS\r\n250 SIZE", err, sizeof(err)),
	    SMTP_REPLY_DONE);
	smtp_caps_parse(&r, &c);
	assert_int_equal(c.flags, SMTP_CAP_SIZE);
	assert_int_equal(c.size_max, 0);
}

static char *
stuff(const char *in, size_t split)
{
	struct smtp_dotstuff	 d;
	struct buf		 b;
	size_t			 len = strlen(in), i;
	char			*s;

	buf_init(&b, 1 << 20);
	smtp_dotstuff_init(&d);
	for (i = 0; i < len; i += split)
		assert_int_equal(smtp_dotstuff(&d, (const uint8_t *)in + i,
		    len - i < split ? len - i : split, &b), 0);
	assert_int_equal(smtp_dotstuff_end(&d, &b), 0);
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void
test_dotstuff(void **state)
{
	const char	*in = ".starts\r\nmid.dle\r\n.\r\n..two\r\nend";
	const char	*want = "..starts\r\nmid.dle\r\n..\r\n...two\r\nend"
	    "\r\n.\r\n";
	char		*s;
	size_t		 split;

	/* the same output whatever the chunking */
	for (split = 1; split <= strlen(in); split++) {
		s = stuff(in, split);
		assert_string_equal(s, want);
		free(s);
	}
	s = stuff("a\r\n", 100);
	assert_string_equal(s, "a\r\n.\r\n");
	free(s);
	s = stuff("", 100);
	assert_string_equal(s, ".\r\n");
	free(s);
}

static void
test_xtext(void **state)
{
	struct buf	 b;

	buf_init(&b, 1024);
	assert_int_equal(smtp_xtext_encode("a+b=c d\x01\xc3\xa9", &b), 0);
	assert_string_equal(buf_cstr(&b), "a+2Bb+3Dc+20d+01+C3+A9");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_dotstuff),
		cmocka_unit_test(test_xtext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * lib/sendmail_msg.c: what posternctl sendmail does to a program's
 * message before SMTP: recipients of -t from To, Cc and Bcc (RFC 5322
 * 3.4 address lists, obsolete forms included), Bcc removed, the fields
 * RFC 5322 3.6 requires noted when missing, the lone-"." end of input,
 * CRLF line ends, and the bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sendmail_msg.h"

struct list {
	char	 got[16][SENDMAIL_ADDR_MAX + 1];
	int	 n;
	int	 max;
};

static int
collect(void *arg, const char *addr)
{
	struct list	*l = arg;

	if (l->n >= l->max)
		return -1;
	strlcpy(l->got[l->n++], addr, sizeof(l->got[0]));
	return 0;
}

static int
parse_list(const char *v, struct list *l, char *why, size_t whylen)
{
	memset(l, 0, sizeof(*l));
	l->max = 16;
	return sendmail_address_list(v, strlen(v), collect, l, why, whylen);
}

static void
test_address_list(void **state)
{
	struct list	 l;
	char		 why[128];

	assert_int_equal(parse_list("a@b.test", &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.got[0], "a@b.test");

	assert_int_equal(parse_list(" \"Doe, John\" <john@x.test>, "
	    "jane@y.test (Jane, Doe),\r\n\t<@r1,@r2:old@route.test>, root",
	    &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.got[0], "john@x.test");
	assert_string_equal(l.got[1], "jane@y.test");
	assert_string_equal(l.got[2], "old@route.test");
	assert_string_equal(l.got[3], "root");

	/* groups: the name dropped, the empty group nothing */
	assert_int_equal(parse_list("undisclosed-recipients:;", &l, why,
	    sizeof(why)), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(parse_list("Team: a@t.test, B <b@t.test>; c@t.test",
	    &l, why, sizeof(why)), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.got[1], "b@t.test");
	assert_string_equal(l.got[2], "c@t.test");

	/* a quoted local part stays quoted */
	assert_int_equal(parse_list("\"a b\"@q.test", &l, why, sizeof(why)),
	    0);
	assert_string_equal(l.got[0], "\"a b\"@q.test");

	/* a name without an address is not an address */
	assert_int_equal(parse_list("John Doe", &l, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not an address"));
	/* control characters */
	assert_int_equal(parse_list("<a\001@b.test>", &l, why, sizeof(why)),
	    -1);
	/* the callback's refusal */
	memset(&l, 0, sizeof(l));
	l.max = 1;
	assert_int_equal(sendmail_address_list("a@x, b@x", 8, collect, &l,
	    why, sizeof(why)), -1);
}

static void
test_address_too_long(void **state)
{
	struct list	 l;
	char		 why[128], *v;

	v = malloc(SENDMAIL_ADDR_MAX + 20);
	memset(v, 'a', SENDMAIL_ADDR_MAX + 10);
	v[SENDMAIL_ADDR_MAX + 10] = '\0';
	assert_int_equal(parse_list(v, &l, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "too long"));
	v[0] = '<';
	assert_int_equal(parse_list(v, &l, why, sizeof(why)), -1);
	v[0] = '"';
	assert_int_equal(parse_list(v, &l, why, sizeof(why)), -1);
	free(v);
}

static void
test_parse_t(void **state)
{
	struct sendmail_msg	 m;
	const char		*in =
	    "From mbox-line Mon Dec  7 00:00:00 2026\n"
	    "To: One <one@x.test>,\n"
	    "  two@x.test\n"
	    "Cc: three@x.test\n"
	    "BCC: (secret)\n"
	    "\thidden@x.test\n"
	    "Subject: hi\n"
	    "\n"
	    "Bcc: not a field, the body\n";
	char			 why[128];

	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 1, why,
	    sizeof(why)), 0);
	assert_int_equal(m.nrcpts, 4);
	assert_string_equal(m.rcpts[0], "one@x.test");
	assert_string_equal(m.rcpts[1], "two@x.test");
	assert_string_equal(m.rcpts[2], "three@x.test");
	assert_string_equal(m.rcpts[3], "hidden@x.test");
	assert_int_equal(m.header.len, strlen("To: One <one@x.test>,\r\n"
	    "  two@x.test\r\nCc: three@x.test\r\nSubject: hi\r\n"));
	assert_memory_equal(m.header.data, "To: One <one@x.test>,\r\n"
	    "  two@x.test\r\nCc: three@x.test\r\nSubject: hi\r\n",
	    m.header.len);
	assert_string_equal(in + m.body_off, "Bcc: not a field, the body\n");
	assert_false(m.has_from);
	assert_false(m.has_date);
	assert_false(m.has_msgid);
	assert_false(m.eight_bit);
	sendmail_msg_free(&m);

	/* without -t nothing is collected, but Bcc still goes */
	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 0, why,
	    sizeof(why)), 0);
	assert_int_equal(m.nrcpts, 0);
	assert_null(strstr((char *)m.header.data, "hidden"));
	sendmail_msg_free(&m);
}

static void
test_parse_shapes(void **state)
{
	struct sendmail_msg	 m;
	const char		*in;
	char			 why[128];

	/* no header at all: the body is everything */
	in = "just a body line\n";
	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 1, why,
	    sizeof(why)), 0);
	assert_int_equal(m.body_off, 0);
	assert_int_equal(m.header.len, 0);
	sendmail_msg_free(&m);

	/* CRLF input, the fields present, 8-bit, no empty line */
	in = "From: a@x\r\nDate: x\r\nMessage-Id: <1@x>\r\nSubject: caf\xc3\xa9";
	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 0, why,
	    sizeof(why)), 0);
	assert_true(m.has_from && m.has_date && m.has_msgid && m.eight_bit);
	assert_int_equal(m.body_off, strlen(in));
	sendmail_msg_free(&m);

	/* a continuation with no field before it starts the body */
	in = " indented\nSubject: x\n";
	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 0, why,
	    sizeof(why)), 0);
	assert_int_equal(m.body_off, 0);
	sendmail_msg_free(&m);

	/* a bad recipient field fails the whole message */
	in = "To: John Doe\n\nx\n";
	assert_int_equal(sendmail_msg_parse(&m, in, strlen(in), 1, why,
	    sizeof(why)), -1);
}

static void
test_parse_bounds(void **state)
{
	struct sendmail_msg	 m;
	char			 why[128], *in;
	size_t			 len, i, off;

	/* more recipients than SENDMAIL_RCPTS_MAX */
	len = 4 + (SENDMAIL_RCPTS_MAX + 1) * 6 + 3;
	in = malloc(len);
	off = (size_t)snprintf(in, len, "To: ");
	for (i = 0; i <= SENDMAIL_RCPTS_MAX; i++)
		off += (size_t)snprintf(in + off, len - off, "a@b, ");
	assert_int_equal(sendmail_msg_parse(&m, in, off, 1, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "too many"));
	free(in);

	/* a header section over SENDMAIL_HEADER_MAX */
	len = SENDMAIL_HEADER_MAX + 100;
	in = malloc(len);
	memcpy(in, "X-Long: ", 8);
	memset(in + 8, 'x', len - 8);
	assert_int_equal(sendmail_msg_parse(&m, in, len, 0, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "too large"));
	free(in);
}

static void
test_dot_end(void **state)
{
	const char	*a = "x\n.\ny\n", *b = "x\r\n.\r\ny", *c = "x\n..\n.x\n",
			*d = ".\n", *e = "x\n.";

	assert_int_equal(sendmail_dot_end(a, strlen(a)), 2);
	assert_int_equal(sendmail_dot_end(b, strlen(b)), 3);
	assert_int_equal(sendmail_dot_end(c, strlen(c)), strlen(c));
	assert_int_equal(sendmail_dot_end(d, strlen(d)), 0);
	assert_int_equal(sendmail_dot_end(e, strlen(e)), 2);
}

static void
test_crlf(void **state)
{
	struct buf	 b;

	buf_init(&b, 1024);
	assert_int_equal(sendmail_crlf(&b, "a\nb\r\nc\n\nd", 9), 0);
	assert_int_equal(b.len, 12);
	assert_memory_equal(b.data, "a\r\nb\r\nc\r\n\r\nd", 12);
	buf_free(&b);
	buf_init(&b, 3);
	assert_int_equal(sendmail_crlf(&b, "\n\n", 2), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_list),
		cmocka_unit_test(test_address_too_long),
		cmocka_unit_test(test_parse_t),
		cmocka_unit_test(test_parse_shapes),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_dot_end),
		cmocka_unit_test(test_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

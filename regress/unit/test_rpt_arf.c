/*
 * reportd/rpt_arf.c: the fields of a message/feedback-report part
 * (RFC 5965 3.1, 3.2; RFC 6591), folded, in any case, and refused shapes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reportd/rpt.h"

static int
parse(const char *s, struct rpt_arf *r, char *err)
{
	return rpt_arf_parse((const uint8_t *)s, strlen(s), r, err, 256);
}

static void
test_fields(void **state)
{
	struct rpt_arf	 r;
	char		 err[256];

	assert_int_equal(parse("Feedback-Type: abuse\nUser-Agent: x/1\n"
	    "Version: 1\nSource-IP: 192.0.2.1\nReported-Domain: "
	    "Example.NET\n", &r, err), 0);
	assert_string_equal(r.feedback_type, "abuse");
	assert_string_equal(r.source_ip, "192.0.2.1");
	assert_string_equal(r.reported_domain, "example.net");
	/* CRLF, case, folding, brackets, the first of repeated fields */
	assert_int_equal(parse("feedback-type:\r\n  Auth-Failure\r\n"
	    "SOURCE-IP :[2001:DB8::1]\r\nReported-Domain: a.example\r\n"
	    "Reported-Domain: b.example\r\nAuth-Failure: dmarc\r\n\r\n"
	    "Ignored: after the empty line\r\n", &r, err), 0);
	assert_string_equal(r.feedback_type, "auth-failure");
	assert_string_equal(r.source_ip, "2001:db8::1");
	assert_string_equal(r.reported_domain, "a.example");
	/* optional fields missing; no final newline */
	assert_int_equal(parse("Feedback-Type: fraud", &r, err), 0);
	assert_string_equal(r.source_ip, "");
	assert_string_equal(r.reported_domain, "");
}

static void
test_refused(void **state)
{
	static const char *bad[] = {
		"",
		"User-Agent: x\nVersion: 1\n",
		"Feedback-Type: abuse\nFeedback-Type: fraud\n",
		"Feedback-Type: ab use\n",
		"Feedback-Type: abuse\nSource-IP: 192.0.2.300\n",
		"Feedback-Type: abuse\nReported-Domain: a b\n",
		"Feedback-Type: abuse\nno colon here\n",
		"Feedback-Type: abuse\nX: a\x01\nY: b\n",
		"Feedback-Type: abuse\x1b[2J\n",
	};
	struct rpt_arf	 r;
	struct buf	 b;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &r, err) != -1)
			fail_msg("accepted #%zu: %s", i, bad[i]);
	/* a field past its limit, too many fields, too large a part */
	buf_init(&b, 1 << 20);
	buf_addstr(&b, "Feedback-Type: abuse\nX: ");
	for (i = 0; i < 2000; i++)
		buf_addstr(&b, "a");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	buf_reset(&b);
	buf_addstr(&b, "Feedback-Type: abuse\n");
	for (i = 0; i < 300; i++)
		buf_addstr(&b, "X: y\n");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	buf_reset(&b);
	for (i = 0; i < 20000; i++)
		buf_addstr(&b, "X: y\n");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "larger"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * mta/debug.c, the parts that need no daemon: the JSON string of any
 * bytes (RFC 8259 7: always valid JSON, valid UTF-8 kept), the line
 * formats (the result line's separators, null, the human form without
 * control bytes) and the verdict of a probe.  The probe itself runs in
 * regress/test_debug_delivery.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <jansson.h>

#include "msg.h"
#include "mta/debug.h"
#include "util.h"

static const char *
json_of(struct buf *b, const char *s)
{
	buf_reset(b);
	mta_debug_json_string(b, s);
	return buf_cstr(b);
}

static void
test_json_string(void **state)
{
	struct buf	 b;
	json_t		*j;
	json_error_t	 err;

	buf_init(&b, 4096);
	assert_string_equal(json_of(&b, ""), "\"\"");
	assert_string_equal(json_of(&b, "mx.ee.test"), "\"mx.ee.test\"");
	assert_string_equal(json_of(&b, "550 no \"user\" \\ here"),
	    "\"550 no \\\"user\\\" \\\\ here\"");
	assert_string_equal(json_of(&b, "a\r\nb\tc\x01\x1b\x7f"),
	    "\"a\\r\\nb\\tc\\u0001\\u001b\\u007f\"");
	/* valid UTF-8 stays as it is */
	assert_string_equal(json_of(&b, "b\xc3\xa4r \xe2\x82\xac \xf0\x9f\x98"
	    "\x80"), "\"b\xc3\xa4r \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* any other byte becomes the code point of the same number */
	assert_string_equal(json_of(&b, "\xff\xc3(\xe2\x82"),
	    "\"\\u00ff\\u00c3(\\u00e2\\u0082\"");
	/* overlong forms and surrogates are not valid UTF-8 (RFC 3629 3) */
	assert_string_equal(json_of(&b, "\xc0\xaf\xed\xa0\x80"),
	    "\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
	/* and the result parses back (jansson checks UTF-8) */
	j = json_loads(json_of(&b, "x\xff\"\x01\xc3\xa4"), JSON_DECODE_ANY,
	    &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "x\xc3\xbf\"\x01\xc3\xa4");
	json_decref(j);
	buf_free(&b);
}

static void
test_format(void **state)
{
	const char	*kv[] = { "result", "deliverable", "host", "mx.ee.test",
	    "tls", mta_debug_null, "reason", "250 ok \"x\"" };
	struct buf	 b;

	buf_init(&b, 4096);
	mta_debug_format(&b, 1, "result", kv, 8);
	assert_string_equal(buf_cstr(&b), "{\"step\": \"result\", "
	    "\"result\": \"deliverable\", \"host\": \"mx.ee.test\", "
	    "\"tls\": null, \"reason\": \"250 ok \\\"x\\\"\"}\n");
	buf_reset(&b);
	mta_debug_format(&b, 0, "result", kv, 8);
	assert_string_equal(buf_cstr(&b), "result       result=deliverable "
	    "host=mx.ee.test tls=- reason=\"250 ok \\\"x\\\"\"\n");
	/* a value from a server cannot reach a terminal as it is */
	kv[1] = "ok\x1b[2J\r";
	kv[3] = "";
	buf_reset(&b);
	mta_debug_format(&b, 0, "rcpt", kv, 4);
	assert_string_equal(buf_cstr(&b), "rcpt         result=ok\\x1b[2J\\x0d "
	    "host=\"\"\n");
	buf_reset(&b);
	mta_debug_format(&b, 1, "rcpt", kv, 0);
	assert_string_equal(buf_cstr(&b), "{\"step\": \"rcpt\"}\n");
	buf_free(&b);
}

static void
test_verdict(void **state)
{
	assert_int_equal(mta_debug_verdict(DELIVER_OK, 3, 2),
	    CTL_DEBUG_DELIVERABLE);
	assert_int_equal(mta_debug_verdict(DELIVER_PERMFAIL, 0, 0),
	    CTL_DEBUG_UNDELIVERABLE);
	/* policy forbade every host tried: undeliverable for this attempt */
	assert_int_equal(mta_debug_verdict(DELIVER_TEMPFAIL, 2, 0),
	    CTL_DEBUG_UNDELIVERABLE);
	/* one host failed for another reason: try again later */
	assert_int_equal(mta_debug_verdict(DELIVER_TEMPFAIL, 2, 1),
	    CTL_DEBUG_TEMPORARY);
	assert_int_equal(mta_debug_verdict(DELIVER_TEMPFAIL, 0, 0),
	    CTL_DEBUG_TEMPORARY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * lib/jsonw.c: UTF-8 checking (RFC 3629 4) in pieces, the string escaper
 * (RFC 8259 7), strings that are not UTF-8, and whole lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static int
valid(const char *s, size_t len, size_t cut)
{
	struct utf8_check	 u;

	utf8_check_init(&u);
	utf8_check_update(&u, s, cut);
	utf8_check_update(&u, s + cut, len - cut);
	return utf8_check_done(&u);
}

static void
test_utf8(void **state)
{
	static const struct {
		const char	*s;
		int		 ok;
	} t[] = {
		{ "plain ascii", 1 },
		{ "caf\xc3\xa9", 1 },			/* U+00E9 */
		{ "\xe2\x82\xac", 1 },			/* U+20AC */
		{ "\xf0\x9f\x98\x80", 1 },		/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 1 },		/* U+10FFFF */
		{ "\xc3", 0 },				/* cut short */
		{ "\xc0\xaf", 0 },			/* overlong '/' */
		{ "\xe0\x80\xaf", 0 },			/* overlong */
		{ "\xed\xa0\x80", 0 },			/* a surrogate */
		{ "\xf4\x90\x80\x80", 0 },		/* > U+10FFFF */
		{ "\xff", 0 },
		{ "\x80", 0 },				/* lone continuation */
		{ "a\xe9z", 0 },			/* Latin-1 */
	};
	size_t	 i, cut, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		len = strlen(t[i].s);
		/* cut anywhere: the same answer */
		for (cut = 0; cut <= len; cut++)
			assert_int_equal(valid(t[i].s, len, cut), t[i].ok);
	}
}

static void
test_escape(void **state)
{
	struct buf	 b;
	const char	 in[] = "a\"b\\c\nd\re\tf\x01g\x1f\xc3\xa9/";

	buf_init(&b, 1024);
	/* in two pieces: the same as one */
	assert_int_equal(jsonw_escape(&b, in, 5), 0);
	assert_int_equal(jsonw_escape(&b, in + 5, sizeof(in) - 1 - 5), 0);
	assert_string_equal(buf_cstr(&b),
	    "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f\xc3\xa9/");
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(jsonw_escape(&b, "\n\n\n", 3), -1);
	buf_free(&b);
}

static void
test_text_and_line(void **state)
{
	struct buf	 b;
	json_t		*j;

	j = jsonw_text("caf\xc3\xa9");
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "caf\xc3\xa9");
	json_decref(j);
	/* not UTF-8: each bad byte is U+FFFD, the rest kept */
	j = jsonw_text("a\xe9z\xc3");
	assert_non_null(j);
	assert_string_equal(json_string_value(j),
	    "a\xef\xbf\xbdz\xef\xbf\xbd");
	json_decref(j);

	buf_init(&b, 1024);
	assert_int_equal(jsonw_line(&b, json_pack("{s:o, s:i}", "a",
	    jsonw_text("x\xff"), "n", 1)), 0);
	assert_string_equal(buf_cstr(&b), "{\"a\":\"x\xef\xbf\xbd\",\"n\":1}\n");
	/* a failed pack is an error, not a crash */
	assert_int_equal(jsonw_line(&b, NULL), -1);
	buf_free(&b);
	buf_init(&b, 8);
	assert_int_equal(jsonw_line(&b, json_pack("{s:s}", "long",
	    "0123456789")), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_text_and_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

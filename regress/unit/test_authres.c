/*
 * authd/authres.c: RFC 8601 comment text and property values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "authd/authres.h"

static char *
render(void (*fn)(FILE *, const char *), const char *in)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&out, &len);

	assert_non_null(fp);
	fn(fp, in);
	fclose(fp);
	return out;
}

static void
check(void (*fn)(FILE *, const char *), const char *in, const char *want)
{
	char	*got = render(fn, in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_comment(void **state)
{
	check(authres_print_comment, "matched ip4:192.0.2.0/24",
	    "matched ip4:192.0.2.0/24");
	/* nothing may close the comment early or smuggle a new line */
	check(authres_print_comment, "a (b) c", "a [b] c");
	check(authres_print_comment, "x\r\nInjected: y\\", "x  Injected: y ");
}

static void
test_pvalue(void **state)
{
	check(authres_print_pvalue, "example.com", "example.com");
	check(authres_print_pvalue, "@example.com", "@example.com");
	check(authres_print_pvalue, "user@example.com", "user@example.com");
	check(authres_print_pvalue, "abc/def=", "\"abc/def=\"");
	check(authres_print_pvalue, "a\"b\\c", "\"a\\\"b\\\\c\"");
	check(authres_print_pvalue, "sp ace", "\"sp ace\"");
	check(authres_print_pvalue, "", "\"\"");
}

static void
test_authserv_id(void **state)
{
	assert_true(authres_valid_authserv_id("mx.example.test"));
	assert_false(authres_valid_authserv_id(""));
	assert_false(authres_valid_authserv_id("mx..example"));
	assert_false(authres_valid_authserv_id("mx example"));
	assert_false(authres_valid_authserv_id("mx;example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_pvalue),
		cmocka_unit_test(test_authserv_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

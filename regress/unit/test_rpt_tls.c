/*
 * reportd/rpt_tls.c: TLS-RPT JSON (RFC 8460 4), its date-times, and the
 * shapes refused: wrong types, huge or negative numbers, missing members.
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

#define HEAD	"{\"organization-name\":\"Org\",\"report-id\":\"id-1\"," \
		"\"date-range\":{\"start-datetime\":\"2026-12-06T00:00:00Z\"," \
		"\"end-datetime\":\"2026-12-06T23:59:59Z\"},"
#define POL(t, d, s, f) "{\"policy\":{\"policy-type\":\"" t "\"," \
		"\"policy-domain\":\"" d "\"},\"summary\":{" \
		"\"total-successful-session-count\":" s "," \
		"\"total-failure-session-count\":" f "}}"

static int
parse(const char *json, struct rpt_tls *r, char *err)
{
	return rpt_tls_parse((const uint8_t *)json, strlen(json), r, err, 256);
}

static void
test_basic(void **state)
{
	struct rpt_tls	 r;
	char		 err[256];

	assert_int_equal(parse(HEAD "\"policies\":[" POL("sts", "a.example",
	    "10", "2") "," POL("TLSA", "b.example", "0", "0") "]}", &r, err),
	    0);
	assert_string_equal(r.org, "Org");
	assert_string_equal(r.report_id, "id-1");
	assert_int_equal(r.begin, 1796515200);
	assert_int_equal(r.end, 1796601599);
	assert_int_equal(r.npolicies, 2);
	assert_string_equal(r.policies[0].policy_type, "sts");
	assert_string_equal(r.policies[0].policy_domain, "a.example");
	assert_int_equal(r.policies[0].success, 10);
	assert_int_equal(r.policies[0].failure, 2);
	assert_string_equal(r.policies[1].policy_type, "tlsa");
	rpt_tls_free(&r);
	/* extra members, failure-details, no policies */
	assert_int_equal(parse("{\"x\":[1,2,{}],\"organization-name\":\"O\","
	    "\"report-id\":\"r\",\"contact-info\":\"c\",\"date-range\":{"
	    "\"start-datetime\":\"2026-12-06T00:00:00.123+02:00\","
	    "\"end-datetime\":\"2026-12-06t23:59:59z\"},\"policies\":[]}", &r,
	    err), 0);
	assert_int_equal(r.begin, 1796515200 - 7200);
	assert_int_equal(r.npolicies, 0);
	rpt_tls_free(&r);
}

static void
test_refused(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{}",
		"nonsense",
		HEAD "\"policies\":{}}",
		HEAD "\"policies\":[1]}",
		HEAD "\"policies\":[{\"policy\":{}}]}",
		/* numbers */
		HEAD "\"policies\":[" POL("sts", "a", "-1", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a", "1.0", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a", "\"5\"", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a", "1e400", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a",
		    "99999999999999999999999999", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a", "9007199254740993",
		    "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a", "null", "0") "]}",
		/* strings */
		HEAD "\"policies\":[" POL("st s", "a", "1", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "", "1", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a\\u0000b", "1", "0") "]}",
		HEAD "\"policies\":[" POL("sts", "a\\u001bb", "1", "0") "]}",
		"{\"organization-name\":1,\"report-id\":\"r\"}",
		"{\"organization-name\":\"o\",\"report-id\":\"\"}",
		"{\"organization-name\":\"o\",\"organization-name\":\"p\"}",
		/* dates */
		"{\"organization-name\":\"o\",\"report-id\":\"r\",\"date-range\":"
		    "{\"start-datetime\":\"2026-12-06\",\"end-datetime\":"
		    "\"2026-12-06T23:59:59Z\"},\"policies\":[]}",
		"{\"organization-name\":\"o\",\"report-id\":\"r\",\"date-range\":"
		    "{\"start-datetime\":\"2026-13-06T00:00:00Z\",\"end-datetime\":"
		    "\"2026-12-06T23:59:59Z\"},\"policies\":[]}",
		"{\"organization-name\":\"o\",\"report-id\":\"r\",\"date-range\":"
		    "{\"start-datetime\":\"2026-12-07T00:00:00Z\",\"end-datetime\":"
		    "\"2026-12-06T23:59:59Z\"},\"policies\":[]}",
		/* invalid UTF-8 */
		"{\"organization-name\":\"\xff\",\"report-id\":\"r\"}",
	};
	struct rpt_tls	 r;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i], &r, err) != -1)
			fail_msg("accepted #%zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
		assert_null(r.policies);
	}
}

static void
test_limits(void **state)
{
	struct rpt_tls	 r;
	struct buf	 b;
	char		 err[256];
	int		 i;

	buf_init(&b, 1 << 20);
	buf_addstr(&b, HEAD "\"policies\":[");
	for (i = 0; i <= RPT_POLICIES_MAX; i++)
		buf_addstr(&b, i ? "," POL("sts", "a", "1", "1") :
		    POL("sts", "a", "1", "1"));
	buf_addstr(&b, "]}");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "policies"));
	/* deep nesting */
	buf_reset(&b);
	buf_addstr(&b, HEAD "\"x\":");
	for (i = 0; i < 10000; i++)
		buf_addstr(&b, "[");
	for (i = 0; i < 10000; i++)
		buf_addstr(&b, "]");
	buf_addstr(&b, ",\"policies\":[]}");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "nested deeper"));
	/* many small values: refused before jansson builds them */
	buf_reset(&b);
	buf_addstr(&b, HEAD "\"x\":[");
	for (i = 0; i < RPT_JSON_VALUES_MAX; i++)
		buf_addstr(&b, "{},");
	buf_addstr(&b, "{}],\"policies\":[]}");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "values"));
	/* brackets and commas inside strings are text */
	buf_reset(&b);
	buf_addstr(&b, HEAD "\"x\":\"");
	for (i = 0; i < 100; i++)
		buf_addstr(&b, "[[,\\\"");
	buf_addstr(&b, "\",\"policies\":[" POL("sts", "a", "1", "1") "]}");
	assert_int_equal(parse(buf_cstr(&b), &r, err), 0);
	rpt_tls_free(&r);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

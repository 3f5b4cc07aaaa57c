/*
 * reportd/tlsrpt.c: the _smtp._tls reporting policy record (RFC 8460 3)
 * with the shapes domains publish and hostile ones, and the JSON report
 * (4) read back with jansson as a receiver would read it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reportd/tlsrpt.h"

static enum tlsrpt_txt
txt1(const char *rec, struct tlsrpt_record *r)
{
	char	 why[256];
	size_t	 len = strlen(rec);

	return tlsrpt_txt_select(&rec, &len, 1, r, why, sizeof(why));
}

static void
test_record(void **state)
{
	struct tlsrpt_record	 r;
	char			 why[256];
	const char		*two[] = { "v=TLSRPTv1; rua=mailto:a@x.test",
				    "v=TLSRPTv1; rua=mailto:b@x.test" };
	const char		*mixed[] = { "v=spf1 -all",
				    "v=TLSRPTv1;rua=mailto:tls@x.test",
				    "v=TLSRPTv10; rua=mailto:c@x.test" };
	size_t			 twolen[2], mixedlen[3], i;

	for (i = 0; i < 2; i++)
		twolen[i] = strlen(two[i]);
	for (i = 0; i < 3; i++)
		mixedlen[i] = strlen(mixed[i]);

	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:reports@example.com",
	    &r), TLSRPT_TXT_FOUND);
	assert_int_equal(r.nrua, 1);
	assert_int_equal(r.rua[0].scheme, TLSRPT_MAILTO);
	assert_string_equal(r.rua[0].uri, "reports@example.com");
	/* several URIs, both schemes, blanks, a final ";", an extension */
	assert_int_equal(txt1("v=TLSRPTv1 ; rua=mailto:a@x.test , "
	    "https://rpt.x.test/v1/tlsrpt ;ext.1=yes;", &r),
	    TLSRPT_TXT_FOUND);
	assert_int_equal(r.nrua, 2);
	assert_int_equal(r.rua[1].scheme, TLSRPT_HTTPS);
	assert_string_equal(r.rua[1].uri, "https://rpt.x.test/v1/tlsrpt");
	/* a comma inside an address is percent-encoded (3) */
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:%22a%2Cb%22@x.test",
	    &r), TLSRPT_TXT_FOUND);
	assert_string_equal(r.rua[0].uri, "\"a,b\"@x.test");
	/* rua= given twice adds up; an unknown scheme is skipped */
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a@x.test; "
	    "rua=ftp://x.test/r,mailto:b@x.test", &r), TLSRPT_TXT_FOUND);
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[1].uri, "b@x.test");

	/* selection: only records with the version count, and one only */
	assert_int_equal(tlsrpt_txt_select(mixed, mixedlen, 3, &r, why,
	    sizeof(why)), TLSRPT_TXT_FOUND);
	assert_string_equal(r.rua[0].uri, "tls@x.test");
	assert_int_equal(tlsrpt_txt_select(two, twolen, 2, &r, why,
	    sizeof(why)), TLSRPT_TXT_INVALID);
	assert_non_null(strstr(why, "2 TLSRPTv1 records"));
	assert_int_equal(tlsrpt_txt_select(mixed, mixedlen, 1, &r, why,
	    sizeof(why)), TLSRPT_TXT_NONE);
	assert_int_equal(txt1("v=tlsrptv1; rua=mailto:a@x.test", &r),
	    TLSRPT_TXT_NONE);

	/* malformed: the domain takes no reports, and the reason says why */
	assert_int_equal(txt1("v=TLSRPTv1", &r), TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=", &r), TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=ftp://x.test/", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:nobody", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a@x.test?subject=x",
	    &r), TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a%0d@x.test", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a@x.test%2", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=https://bad_host!/x", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a@x.test junk", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; =x; rua=mailto:a@x.test", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; ext=; rua=mailto:a@x.test", &r),
	    TLSRPT_TXT_INVALID);
}

static void
test_record_hostile(void **state)
{
	struct tlsrpt_record	 r;
	char			 rec[8192];
	size_t			 i;

	/* more URIs than kept */
	strlcpy(rec, "v=TLSRPTv1; rua=mailto:a@x.test", sizeof(rec));
	for (i = 0; i < TLSRPT_RUA_MAX; i++)
		strlcat(rec, ",mailto:a@x.test", sizeof(rec));
	assert_int_equal(txt1(rec, &r), TLSRPT_TXT_INVALID);
	/* a record longer than any real one */
	strlcpy(rec, "v=TLSRPTv1; rua=mailto:a@x.test; x=", sizeof(rec));
	memset(rec + strlen(rec), 'y', 3000);
	rec[35 + 3000] = '\0';
	assert_int_equal(txt1(rec, &r), TLSRPT_TXT_INVALID);
	/* a URI longer than kept */
	strlcpy(rec, "v=TLSRPTv1; rua=https://x.test/", sizeof(rec));
	memset(rec + strlen(rec), 'p', 600);
	rec[31 + 600] = '\0';
	assert_int_equal(txt1(rec, &r), TLSRPT_TXT_INVALID);
	/* two records with the version, one too long for us: still two,
	 * never the usable one alone (3) */
	{
		const char	*recs[2] = { "v=TLSRPTv1; rua=mailto:a@x.test",
				    rec };
		size_t		 lens[2] = { strlen(recs[0]), 0 };
		char		 why[256];

		strlcpy(rec, "v=TLSRPTv1; rua=mailto:b@x.test; x=",
		    sizeof(rec));
		memset(rec + strlen(rec), 'y', 3000);
		rec[35 + 3000] = '\0';
		lens[1] = strlen(rec);
		assert_int_equal(tlsrpt_txt_select(recs, lens, 2, &r, why,
		    sizeof(why)), TLSRPT_TXT_INVALID);
		assert_non_null(strstr(why, "2 TLSRPTv1 records"));
		/* a NUL inside the only record: not cut short at it */
		memcpy(rec, "v=TLSRPTv1; rua=mailto:b@x.test\0junk", 36);
		lens[1] = 36;
		assert_int_equal(tlsrpt_txt_select(recs + 1, lens + 1, 1, &r,
		    why, sizeof(why)), TLSRPT_TXT_INVALID);
		assert_non_null(strstr(why, "holds a NUL"));
		/* with the NUL right after the version, too */
		memcpy(rec, "v=TLSRPTv1\0; rua=mailto:b@x.test", 32);
		lens[1] = 32;
		assert_int_equal(tlsrpt_txt_select(recs, lens, 2, &r, why,
		    sizeof(why)), TLSRPT_TXT_INVALID);
	}
	/* 8-bit and control bytes */
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:\xc3\xa9@x.test", &r),
	    TLSRPT_TXT_INVALID);
	assert_int_equal(txt1("v=TLSRPTv1; rua=mailto:a@x.test;\x01", &r),
	    TLSRPT_TXT_INVALID);
}

static json_t *
report(const struct tlsrpt_report *r)
{
	struct tlsrpt_meta	 m = { "postern.test", "mailto:tlsrpt@postern.test",
				    "2026-12-07.x.test@postern.test",
				    1796601600, 1796688000 };
	struct buf		 b;
	json_t			*j;
	json_error_t		 err;

	buf_init(&b, TLSRPT_JSON_MAX + 2);
	assert_int_equal(tlsrpt_json(r, &m, &b), 0);
	j = json_loadb((const char *)b.data, b.len, 0, &err);
	assert_non_null(j);
	buf_free(&b);
	return j;
}

static json_t *
policy(json_t *root, const char *type)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(json_object_get(root, "policies"), i, p)
		if (strcmp(json_string_value(json_object_get(
		    json_object_get(p, "policy"), "policy-type")), type) == 0)
			return p;
	fail_msg("no %s policy", type);
	return NULL;
}

static long long
num(json_t *o, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(o, a), b));
}

static void
test_report(void **state)
{
	struct tlsrpt_report	*r;
	json_t			*j, *p, *d;

	assert_non_null(r = tlsrpt_new());
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_TLSA, "x.test", "success",
	    "mx1.x.test", "127.0.0.5", "", 7), 0);
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_TLSA, "x.test",
	    "tlsa-invalid", "mx2.x.test", "127.0.0.6", "", 2), 0);
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_TLSA, "X.test",
	    "tlsa-invalid", "MX2.x.test", "127.0.0.6", "", 1), 0);
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "y.test",
	    "certificate-host-mismatch", "mx.y.test", "127.0.0.7", "", 3), 0);
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_NONE, "z.test",
	    "starttls-not-supported", "mx.z.test", "127.0.0.8", "", 1), 0);
	assert_int_equal(tlsrpt_policy_strings(r, TLSRPT_POLICY_TLSA, "x.test",
	    "_25._tcp.mx1.x.test. IN TLSA 3 1 1 aabb\n"), 0);
	assert_int_equal(tlsrpt_policy_strings(r, TLSRPT_POLICY_STS, "y.test",
	    "version: STSv1\r\nmode: enforce\r\nmx: *.y.test\r\n"
	    "max_age: 86400\r\n"), 0);
	/* a policy without outcomes is not invented */
	assert_int_equal(tlsrpt_policy_strings(r, TLSRPT_POLICY_STS, "w.test",
	    "version: STSv1\n"), 0);
	assert_int_equal(tlsrpt_count(r), 3);

	j = report(r);
	assert_string_equal(json_string_value(json_object_get(j,
	    "organization-name")), "postern.test");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "date-range"), "start-datetime")),
	    "2026-12-07T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "date-range"), "end-datetime")),
	    "2026-12-07T23:59:59Z");

	p = policy(j, "tlsa");
	assert_int_equal(num(p, "summary", "total-successful-session-count"),
	    7);
	assert_int_equal(num(p, "summary", "total-failure-session-count"), 3);
	d = json_array_get(json_object_get(p, "failure-details"), 0);
	assert_int_equal(json_array_size(json_object_get(p, "failure-details")),
	    1);
	assert_string_equal(json_string_value(json_object_get(d,
	    "result-type")), "tlsa-invalid");
	assert_int_equal(json_integer_value(json_object_get(d,
	    "failed-session-count")), 3);
	assert_string_equal(json_string_value(json_object_get(d,
	    "receiving-ip")), "127.0.0.6");
	assert_null(json_object_get(d, "sending-mta-ip"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(p,
	    "policy"), "mx-host")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(p, "policy"), "policy-string"), 0)),
	    "_25._tcp.mx1.x.test. IN TLSA 3 1 1 aabb");

	p = policy(j, "sts");
	assert_int_equal(json_array_size(json_object_get(json_object_get(p,
	    "policy"), "policy-string")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(p, "policy"), "mx-host"), 0)), "*.y.test");
	assert_int_equal(num(p, "summary", "total-successful-session-count"),
	    0);

	p = policy(j, "no-policy-found");
	assert_null(json_object_get(json_object_get(p, "policy"),
	    "policy-string"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(p,
	    "policy"), "policy-domain")), "z.test");
	json_decref(j);
	tlsrpt_free(r);
}

static void
test_report_bounds(void **state)
{
	struct tlsrpt_report	*r;
	char			 dom[32], ip[48], lines[80 * 70];
	size_t			 i;

	assert_non_null(r = tlsrpt_new());
	for (i = 0; i < TLSRPT_POLICIES_MAX; i++) {
		snprintf(dom, sizeof(dom), "d%zu.test", i);
		assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, dom,
		    "success", "", "", "", 1), 0);
	}
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "one-more.test",
	    "success", "", "", "", 1), -1);
	/* an existing policy still counts */
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "d0.test",
	    "success", "", "", "", UINT64_MAX), 0);
	for (i = 0; i < TLSRPT_DETAILS_MAX; i++) {
		snprintf(ip, sizeof(ip), "127.0.%zu.%zu", i / 250, i % 250);
		assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "d1.test",
		    "validation-failure", "mx.d1.test", ip, "", 1), 0);
	}
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "d1.test",
	    "validation-failure", "mx.d1.test", "127.9.9.9", "", 1), -1);
	/* a result type too long for its field */
	assert_int_equal(tlsrpt_add(r, TLSRPT_POLICY_STS, "d2.test",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "", "", "",
	    1), -1);
	/* too many policy-string lines */
	lines[0] = '\0';
	for (i = 0; i < TLSRPT_STRINGS_MAX + 1; i++)
		strlcat(lines, "mx: a.d2.test\n", sizeof(lines));
	assert_int_equal(tlsrpt_policy_strings(r, TLSRPT_POLICY_STS, "d2.test",
	    lines), -1);
	assert_int_equal(tlsrpt_add(r, 7, "d2.test", "success", "", "", "", 1),
	    -1);
	json_decref(report(r));
	tlsrpt_free(r);
}

/* 5.1 filename, 5.4 the POST's URI and the answer's status line. */
static void
test_delivery(void **state)
{
	char		 host[256], target[600], fn[700];
	unsigned int	 port;

	assert_int_equal(tlsrpt_filename("mail.sender.test", "rcpt.test",
	    86400, 2 * 86400, "0", fn, sizeof(fn)), 0);
	assert_string_equal(fn, "mail.sender.test!rcpt.test!86400!172799!0"
	    ".json.gz");
	assert_int_equal(tlsrpt_filename("a/b", "rcpt.test", 0, 1, NULL, fn,
	    sizeof(fn)), -1);
	assert_int_equal(tlsrpt_filename("s.test", "r.test", 0, 1, NULL, fn,
	    10), -1);

	assert_int_equal(tlsrpt_https_split("https://rpt.example/v1/tlsrpt"
	    "?a=b#frag", host, sizeof(host), &port, target, sizeof(target)),
	    0);
	assert_string_equal(host, "rpt.example");
	assert_int_equal(port, 443);
	assert_string_equal(target, "/v1/tlsrpt?a=b");
	assert_int_equal(tlsrpt_https_split("HTTPS://rpt.example:8443", host,
	    sizeof(host), &port, target, sizeof(target)), 0);
	assert_int_equal(port, 8443);
	assert_string_equal(target, "/");
	assert_int_equal(tlsrpt_https_split("https://rpt.example?x", host,
	    sizeof(host), &port, target, sizeof(target)), 0);
	assert_string_equal(target, "/?x");
	assert_int_equal(tlsrpt_https_split("https://rpt.example:0/", host,
	    sizeof(host), &port, target, sizeof(target)), -1);
	assert_int_equal(tlsrpt_https_split("https://rpt.example:99999/",
	    host, sizeof(host), &port, target, sizeof(target)), -1);
	assert_int_equal(tlsrpt_https_split("https://u@rpt.example/", host,
	    sizeof(host), &port, target, sizeof(target)), -1);
	assert_int_equal(tlsrpt_https_split("https://[::1]/", host,
	    sizeof(host), &port, target, sizeof(target)), -1);
	assert_int_equal(tlsrpt_https_split("http://rpt.example/", host,
	    sizeof(host), &port, target, sizeof(target)), -1);
	assert_int_equal(tlsrpt_https_split("https://rpt.example/long",
	    host, sizeof(host), &port, target, 5), -1);

	assert_int_equal(tlsrpt_http_status("HTTP/1.1 201 Created\r\n", 22),
	    201);
	assert_int_equal(tlsrpt_http_status("HTTP/1.0 500 x\r\n", 16), 500);
	assert_int_equal(tlsrpt_http_status("HTTP/1.1 200 OK", 15), -1);
	assert_int_equal(tlsrpt_http_status("HTTP/2 200 OK\r\n", 15), -1);
	assert_int_equal(tlsrpt_http_status("HTTP/1.1 2x0 OK\r\n", 17), -1);
	assert_int_equal(tlsrpt_http_status("", 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_record_hostile),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_report_bounds),
		cmocka_unit_test(test_delivery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

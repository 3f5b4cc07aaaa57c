/*
 * mta/sts.c: the MTA-STS TXT record (RFC 8461 3.1), the policy file (3.2)
 * and MX patterns (4.1), with the hostile shapes a policy server can send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/sts.h"

static enum sts_txt
txt1(const char *rec, char *id)
{
	char	 why[256];

	return sts_txt_select(&rec, 1, id, why, sizeof(why));
}

static void
test_txt(void **state)
{
	char		 id[STS_ID_MAX + 1], why[256];
	const char	*two[] = { "v=STSv1; id=a1", "v=STSv1; id=b2" };
	const char	*mixed[] = { "v=spf1 -all", "v=STSv1; id=20260101T0",
			    "v=STSv2; id=x" };

	assert_int_equal(txt1("v=STSv1; id=20160831085700Z;", id),
	    STS_TXT_FOUND);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt1("v=STSv1;id=abc", id), STS_TXT_FOUND);
	assert_string_equal(id, "abc");
	/* extension fields are ignored, blanks around ";" allowed */
	assert_int_equal(txt1("v=STSv1; ext_1=x.y ; id=Z9 ;", id),
	    STS_TXT_FOUND);
	assert_string_equal(id, "Z9");
	/* not a record of ours: discarded */
	assert_int_equal(txt1("v=STSv10; id=1", id), STS_TXT_NONE);
	assert_int_equal(txt1("V=STSv1; id=1", id), STS_TXT_NONE);
	assert_int_equal(txt1("id=1; v=STSv1;", id), STS_TXT_NONE);
	/* ours but malformed: no policy either way, but said */
	assert_int_equal(txt1("v=STSv1;", id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; id=", id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; id=a-b", id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; id=1; id=2", id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; id=123456789012345678901234567890123",
	    id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; id=12345678901234567890123456789012",
	    id), STS_TXT_FOUND);
	assert_int_equal(txt1("v=STSv1; id=1 2", id), STS_TXT_INVALID);
	assert_int_equal(txt1("v=STSv1; =1; id=2", id), STS_TXT_INVALID);
	/* exactly one record must remain */
	assert_int_equal(sts_txt_select(two, 2, id, why, sizeof(why)),
	    STS_TXT_INVALID);
	assert_non_null(strstr(why, "2 STSv1 records"));
	assert_int_equal(sts_txt_select(mixed, 3, id, why, sizeof(why)),
	    STS_TXT_FOUND);
	assert_string_equal(id, "20260101T0");
	assert_int_equal(sts_txt_select(NULL, 0, id, why, sizeof(why)),
	    STS_TXT_NONE);
}

static int
parse(const char *s, struct sts_policy *p, char *why)
{
	return sts_policy_parse(s, strlen(s), p, why, 256);
}

static void
test_policy(void **state)
{
	struct sts_policy	*p = malloc(sizeof(*p));
	char			 why[256];

	assert_int_equal(parse("version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmx: *.Example.NET\r\n"
	    "max_age: 604800\r\n", p, why), 0);
	assert_int_equal(p->mode, STS_MODE_ENFORCE);
	assert_int_equal(p->max_age, 604800);
	assert_int_equal(p->nmx, 2);
	assert_string_equal(p->mx[1], "*.example.net");
	/* LF lines, no final newline, any order, unknown keys, blanks */
	assert_int_equal(parse("mode:testing\nmax_age: 86400  \nfoo: bar\n"
	    "mx: mx1.example.org\nversion: STSv1", p, why), 0);
	assert_int_equal(p->mode, STS_MODE_TESTING);
	assert_int_equal(p->max_age, 86400);
	/* mode none needs no mx */
	assert_int_equal(parse("version: STSv1\nmode: none\nmax_age: 0\n",
	    p, why), 0);
	assert_int_equal(p->mode, STS_MODE_NONE);

	/* missing, repeated and bad fields */
	assert_int_equal(parse("mode: enforce\nmx: a.example\nmax_age: 1\n",
	    p, why), -1);
	assert_non_null(strstr(why, "lacks version"));
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 1\n",
	    p, why), -1);
	assert_non_null(strstr(why, "names no mx"));
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmode: none\n"
	    "mx: a.example\nmax_age: 1\n", p, why), -1);
	assert_int_equal(parse("version: STSv2\nmode: none\nmax_age: 1\n",
	    p, why), -1);
	assert_int_equal(parse("Version: STSv1\nmode: none\nmax_age: 1\n",
	    p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: Enforce\nmax_age: 1\n"
	    "mx: a.example\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: none\n"
	    "max_age: 31557601\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: none\n"
	    "max_age: 31557600\n", p, why), 0);
	assert_int_equal(parse("version: STSv1\nmode: none\n"
	    "max_age: -1\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: none\n"
	    "max_age: 1e6\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: none\n"
	    "max_age: 00000000001\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"
	    "mx: *.*.example\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"
	    "mx: mail_1.example\n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"
	    "mx: \n", p, why), -1);
	assert_int_equal(parse("version: STSv1\nmode: none\nmax_age: 1\n"
	    "garbage\n", p, why), -1);
	assert_non_null(strstr(why, "without a colon"));
	assert_int_equal(sts_policy_parse("version: STSv1\nmode: none\0\n",
	    26, p, why, sizeof(why)), -1);
	free(p);
}

static void
test_policy_hostile(void **state)
{
	struct sts_policy	*p = malloc(sizeof(*p));
	char			 why[256], *big;
	size_t			 i, off;

	/* 1000 mx lines: refused at the bound, not kept */
	big = malloc(STS_POLICY_MAX + 2);
	off = snprintf(big, 64, "version: STSv1\nmode: enforce\nmax_age: 9\n");
	for (i = 0; i < 1000 && off < 40000; i++)
		off += snprintf(big + off, 64, "mx: mx%zu.example.org\n", i);
	assert_int_equal(sts_policy_parse(big, off, p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than 100 mx"));
	/* over 64 KB */
	memset(big, '\n', STS_POLICY_MAX + 1);
	assert_int_equal(sts_policy_parse(big, STS_POLICY_MAX + 1, p, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "at most 65536"));
	/* binary */
	for (i = 0; i < 4096; i++)
		big[i] = (char)(i * 131 + 7);
	assert_int_equal(sts_policy_parse(big, 4096, p, why, sizeof(why)), -1);
	/* a 300-byte pattern */
	off = snprintf(big, 64, "version: STSv1\nmode: enforce\nmax_age: 9\n"
	    "mx: ");
	memset(big + off, 'a', 300);
	off += 300;
	assert_int_equal(sts_policy_parse(big, off, p, why, sizeof(why)), -1);
	free(big);
	free(p);
}

static void
test_match(void **state)
{
	struct sts_policy	*p = malloc(sizeof(*p));
	char			 why[256];

	assert_true(sts_pattern_match("mail.example.com", "mail.example.com"));
	assert_true(sts_pattern_match("mail.example.com", "MAIL.Example.com."));
	assert_false(sts_pattern_match("mail.example.com", "mail.example.co"));
	assert_false(sts_pattern_match("mail.example.com", "xmail.example.com"));
	/* RFC 8461 4.1: one leftmost label only */
	assert_true(sts_pattern_match("*.example.com", "mx.example.com"));
	assert_true(sts_pattern_match("*.example.com", "mx.example.com."));
	assert_false(sts_pattern_match("*.example.com", "example.com"));
	assert_false(sts_pattern_match("*.example.com", "a.b.example.com"));
	assert_false(sts_pattern_match("*.example.com", ".example.com"));
	assert_false(sts_pattern_match("*.example.com", "mx.example.comx"));
	assert_false(sts_pattern_match("*.example.com", "mxexample.com"));

	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 9\n"
	    "mx: mx1.example.org\nmx: *.backup.example.org\n", p, why), 0);
	assert_true(sts_policy_match(p, "mx1.example.org"));
	assert_true(sts_policy_match(p, "b1.backup.example.org"));
	assert_false(sts_policy_match(p, "mx2.example.org"));
	assert_false(sts_policy_match(p, "evil.example.net"));
	free(p);
}

static int
http(const char *resp, const char **body, size_t *blen, char *why)
{
	return sts_http_response(resp, strlen(resp), body, blen, why, 256);
}

static void
test_http(void **state)
{
	const char	*body;
	size_t		 blen;
	char		 why[256], req[512];

	assert_int_equal(sts_http_request("example.org", req, sizeof(req)), 0);
	assert_non_null(strstr(req, "GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
	    "Host: mta-sts.example.org\r\n"));
	assert_int_equal(sts_http_request("example.org", req, 40), -1);

	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: 5\r\n\r\nhello", &body, &blen,
	    why), 0);
	assert_int_equal(blen, 5);
	assert_memory_equal(body, "hello", 5);
	/* LF-only header, no length: the body is what came before close */
	assert_int_equal(http("HTTP/1.0 200 OK\ncontent-type:TEXT/PLAIN\n\nab",
	    &body, &blen, why), 0);
	assert_int_equal(blen, 2);

	/* RFC 8461 3.3: a redirect is not followed, only 200 counts */
	assert_int_equal(http("HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n"
	    "\r\n", &body, &blen, why), -1);
	assert_non_null(strstr(why, "redirects are not followed"));
	assert_int_equal(http("HTTP/1.1 404 Not Found\r\n\r\n", &body, &blen,
	    why), -1);
	assert_non_null(strstr(why, "HTTP status 404"));
	/* the media type */
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	    "\r\nx", &body, &blen, why), -1);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n"
	    "\r\nx", &body, &blen, why), -1);
	assert_int_equal(http("HTTP/1.1 200 OK\r\n\r\nx", &body, &blen, why),
	    -1);
	/* cut short, chunked, lying lengths, not HTTP */
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 10\r\n\r\nshort", &body, &blen, why), -1);
	assert_non_null(strstr(why, "5 bytes of a body of 10"));
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	    &body, &blen, why), -1);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 99999999999\r\n\r\n", &body, &blen, why), -1);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: -1\r\n\r\n", &body, &blen, why), -1);
	assert_int_equal(http("SSH-2.0-OpenSSH\r\n\r\n", &body, &blen, why),
	    -1);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: text/plain",
	    &body, &blen, why), -1);
	assert_int_equal(http("", &body, &blen, why), -1);
	assert_int_equal(http("HTTP/2 200\r\n\r\n", &body, &blen, why), -1);
}

/* An answer whole by its Content-Length (mta/sts_fetch.c stops there). */
static void
test_http_complete(void **state)
{
	const char	*h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
	char		 r[512];

	snprintf(r, sizeof(r), "%sContent-Length: 5\r\n\r\nabcde", h);
	assert_int_equal(sts_http_complete(r, strlen(r)), 1);
	assert_int_equal(sts_http_complete(r, strlen(r) - 1), 0);
	/* no length: only the close can end it */
	snprintf(r, sizeof(r), "%s\r\nabcde", h);
	assert_int_equal(sts_http_complete(r, strlen(r)), 0);
	/* the header not yet over */
	snprintf(r, sizeof(r), "%sContent-Length: 0\r\n", h);
	assert_int_equal(sts_http_complete(r, strlen(r)), 0);
	/* a length that is not a number, or too large: never whole */
	snprintf(r, sizeof(r), "%sContent-Length: 5x\r\n\r\nabcde", h);
	assert_int_equal(sts_http_complete(r, strlen(r)), 0);
	snprintf(r, sizeof(r), "%sContent-Length: 99999999\r\n\r\nabc", h);
	assert_int_equal(sts_http_complete(r, strlen(r)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_hostile),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

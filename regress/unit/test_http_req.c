/*
 * posternd/http_req.c: the metrics listener's request reader (RFC 9112
 * request line, fields, Host, bounds) and its responses (RFC 9110 HEAD,
 * 405 Allow, Date).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posternd/http_req.h"

/* The decision on s, or 0 if more is wanted. */
static int
status_of(const char *s)
{
	struct http_req	 r;

	if (http_req_parse(s, strlen(s), &r) == 0)
		return 0;
	return r.status;
}

static void
test_get_and_head(void **state)
{
	struct http_req	 r;
	const char	*get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	const char	*head = "HEAD /metrics?name=a HTTP/1.0\r\n\r\n";

	assert_int_equal(http_req_parse(get, strlen(get), &r), 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.method, HTTP_METHOD_GET);
	assert_int_equal(r.minor, 1);
	assert_int_equal(http_req_parse(head, strlen(head), &r), 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.method, HTTP_METHOD_HEAD);
	/* bare LF lines (RFC 9112 2.2), a leading empty line */
	assert_int_equal(status_of("\r\nGET /metrics HTTP/1.0\n\n"), 200);
	/* absolute-form (RFC 9112 3.2.2) */
	assert_int_equal(status_of("GET http://h:9/metrics HTTP/1.1\r\n"
	    "Host: h:9\r\n\r\n"), 200);
	/* a body after the head is not looked at */
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\n\r\n\x01\x02"),
	    200);
}

static void
test_incomplete(void **state)
{
	assert_int_equal(status_of(""), 0);
	assert_int_equal(status_of("GE"), 0);
	assert_int_equal(status_of("GET /metrics HTTP/1.1\r\n"), 0);
	assert_int_equal(status_of("GET /metrics HTTP/1.1\r\nHost: x\r\n"), 0);
}

static void
test_refused(void **state)
{
	char	*big;
	size_t	 n;

	/* garbage is refused before the line ends */
	assert_int_equal(status_of("\x16\x03\x01\x02"), 400);
	assert_int_equal(status_of("GET"), 0);
	assert_int_equal(status_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 400);
	assert_int_equal(status_of(" GET"), 400);
	assert_int_equal(status_of("GET /metrics\r\n\r\n"), 400);
	assert_int_equal(status_of("GET  /metrics HTTP/1.0\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /metrics HTTP/1.10\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /metrics HTTP/2.0\r\n\r\n"), 505);
	assert_int_equal(status_of("GET /x HTTP/1.0\r\n\r\n"), 404);
	assert_int_equal(status_of("GET /metricsx HTTP/1.0\r\n\r\n"), 404);
	assert_int_equal(status_of("GET metrics HTTP/1.0\r\n\r\n"), 400);
	assert_int_equal(status_of("POST /metrics HTTP/1.0\r\n\r\n"), 405);
	/* RFC 9110 9.1: methods are case-sensitive */
	assert_int_equal(status_of("get /metrics HTTP/1.0\r\n\r\n"), 405);
	/* RFC 9112 3.2: exactly one Host in 1.1 */
	assert_int_equal(status_of("GET /metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /metrics HTTP/1.1\r\nHost: a\r\n"
	    "host: b\r\n\r\n"), 400);
	/* RFC 9112 5.1: no whitespace before the colon */
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\nHost : a\r\n"
	    "\r\n"), 400);
	/* obs-fold, bare CR, NUL, control characters in a value */
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\nA: b\r\n c\r\n"
	    "\r\n"), 400);
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\nA: b\rc\r\n\r\n"),
	    400);
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\nA: \x01\r\n\r\n"),
	    400);
	{
		struct http_req	 r;
		const char	 nul[] = "GET /metrics HTTP/1.0\r\nA: \0\r\n\r\n";

		assert_int_equal(http_req_parse(nul, sizeof(nul) - 1, &r), 1);
		assert_int_equal(r.status, 400);
	}
	/* too long: the line (414), or the fields (431) */
	big = malloc(2 * HTTP_REQ_MAX_HEAD);
	assert_non_null(big);
	memset(big, 'a', 2 * HTTP_REQ_MAX_HEAD);
	memcpy(big, "GET /", 5);
	big[2 * HTTP_REQ_MAX_HEAD - 1] = '\0';
	assert_int_equal(status_of(big), 414);
	n = snprintf(big, 64, "GET /metrics HTTP/1.0\r\n");
	memset(big + n, 'a', 2 * HTTP_REQ_MAX_HEAD - n);
	memcpy(big + n, "X-A: ", 5);
	big[2 * HTTP_REQ_MAX_HEAD - 1] = '\0';
	assert_int_equal(status_of(big), 431);
	/* just under the bound is still waited for */
	big[HTTP_REQ_MAX_HEAD - 1] = '\0';
	assert_int_equal(status_of(big), 0);
	free(big);
}

static void
test_response(void **state)
{
	struct http_req	 r = { 200, HTTP_METHOD_GET, 1 };
	struct buf	 b;
	const char	*s;

	buf_init(&b, 4096);
	assert_int_equal(http_req_response(&r, "text/plain", "abc", 3, 0,
	    &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(s, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
	assert_non_null(strstr(s, "Content-Type: text/plain\r\n"));
	assert_non_null(strstr(s, "Content-Length: 3\r\n"));
	assert_non_null(strstr(s, "Connection: close\r\n"));
	assert_int_equal(strcmp(s + strlen(s) - 7, "\r\n\r\nabc"), 0);

	/* HEAD: the same length, no content */
	buf_reset(&b);
	r.method = HTTP_METHOD_HEAD;
	assert_int_equal(http_req_response(&r, "text/plain", "abc", 3, 0,
	    &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, "Content-Length: 3\r\n"));
	assert_int_equal(strcmp(s + strlen(s) - 4, "\r\n\r\n"), 0);

	/* 405 says what is allowed, and brings its own text */
	buf_reset(&b);
	r.method = HTTP_METHOD_NONE;
	r.status = 405;
	assert_int_equal(http_req_response(&r, "text/plain", "abc", 3, 0,
	    &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(s, "Allow: GET, HEAD\r\n"));
	assert_null(strstr(s, "abc"));
	buf_free(&b);

	/* a buffer too small fails */
	buf_init(&b, 16);
	r.status = 200;
	assert_int_equal(http_req_response(&r, "text/plain", "abc", 3, 0,
	    &b), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_head),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

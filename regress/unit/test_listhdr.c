/*
 * lib/listhdr.c: a list's header section: the fields it adds (List-Id,
 * List-Post, List-Unsubscribe and its one-click form), the fields of
 * another list it removes, the subject tag once only, From rewritten
 * with the author in Reply-To, loops, bounds, and the helpers authd uses
 * (body offset, From values, our Authentication-Results).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listhdr.h"

static struct listhdr_params
params(void)
{
	struct listhdr_params	 p;

	memset(&p, 0, sizeof(p));
	p.name = "dev";
	p.address = "dev@lists.test";
	p.unsubscribe = "https://lists.test/u?l=dev";
	p.subject_tag = "dev";
	p.dkim_signed = 1;
	return p;
}

/* Build, and return the result as a string (static). */
static const char *
build(const char *hdr, const struct listhdr_params *p, int expect)
{
	static char	 text[65536];
	struct buf	 out;
	char		 why[256];

	buf_init(&out, LISTHDR_OUT_MAX);
	assert_int_equal(listhdr_build(hdr, strlen(hdr), p, &out, why,
	    sizeof(why)), expect);
	assert_true(out.len < sizeof(text));
	if (out.len > 0)
		memcpy(text, out.data, out.len);
	text[out.len] = '\0';
	buf_free(&out);
	return text;
}

static void
test_fields_added(void **state)
{
	struct listhdr_params	 p = params();
	const char		*r;

	(void)state;
	r = build("From: Alice <alice@author.test>\r\nSubject: hello\r\n"
	    "List-Id: other <other.example>\r\nList-Post: <mailto:o@x>\r\n"
	    "To: dev@lists.test\r\n", &p, LISTHDR_OK);
	assert_string_equal(r,
	    "List-Id: dev <dev.lists.test>\r\n"
	    "List-Post: <mailto:dev@lists.test>\r\n"
	    "List-Unsubscribe: <https://lists.test/u?l=dev>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	    "From: Alice <alice@author.test>\r\n"
	    "Subject: [dev] hello\r\n"
	    "To: dev@lists.test\r\n"
	    "\r\n");
	/* a copy no DKIM signature covers: no one-click (RFC 8058 4) */
	p.dkim_signed = 0;
	r = build("Subject: hello\n", &p, LISTHDR_OK);
	assert_null(strstr(r, "List-Unsubscribe-Post"));
	assert_non_null(strstr(r, "List-Unsubscribe: "));
	p.dkim_signed = 1;
	/* mailto: no one-click (RFC 8058 3.1: https only); no tag */
	p.unsubscribe = "mailto:dev-leave@lists.test";
	p.subject_tag = "";
	r = build("Subject: hello\n", &p, LISTHDR_OK);
	assert_string_equal(r,
	    "List-Id: dev <dev.lists.test>\r\n"
	    "List-Post: <mailto:dev@lists.test>\r\n"
	    "List-Unsubscribe: <mailto:dev-leave@lists.test>\r\n"
	    "Subject: hello\r\n\r\n");
	p.unsubscribe = "";
	r = build("", &p, LISTHDR_OK);
	assert_string_equal(r, "List-Id: dev <dev.lists.test>\r\n"
	    "List-Post: <mailto:dev@lists.test>\r\n\r\n");
}

static void
test_subject_tag_once(void **state)
{
	struct listhdr_params	 p = params();

	(void)state;
	p.unsubscribe = "";
	assert_non_null(strstr(build("Subject: Re: [dev] hello\r\n", &p,
	    LISTHDR_OK), "\r\nSubject: Re: [dev] hello\r\n"));
	assert_non_null(strstr(build("Subject: Re: [DEV] hello\r\n", &p,
	    LISTHDR_OK), "\r\nSubject: Re: [DEV] hello\r\n"));
	assert_non_null(strstr(build("Subject:hello\r\n", &p,
	    LISTHDR_OK), "\r\nSubject: [dev] hello\r\n"));
	/* folded: the fold is kept */
	assert_non_null(strstr(build("Subject: a\r\n b\r\n", &p,
	    LISTHDR_OK), "\r\nSubject: [dev] a\r\n b\r\n"));
	/* encoded words stay whole after the tag */
	assert_non_null(strstr(build("Subject: =?utf-8?q?caf=C3=A9?=\r\n",
	    &p, LISTHDR_OK), "Subject: [dev] =?utf-8?q?caf=C3=A9?=\r\n"));
}

static void
test_from_rewrite(void **state)
{
	struct listhdr_params	 p = params();
	const char		*r;

	(void)state;
	p.unsubscribe = "";
	p.subject_tag = "";
	p.rewrite_from = 1;
	r = build("From: \"Alice A.\" <alice@author.test>\r\nTo: x\r\n", &p,
	    LISTHDR_OK);
	assert_string_equal(r,
	    "List-Id: dev <dev.lists.test>\r\n"
	    "List-Post: <mailto:dev@lists.test>\r\n"
	    "From: \"Alice A. via dev\" <dev@lists.test>\r\n"
	    "Reply-To: \"Alice A.\" <alice@author.test>\r\n"
	    "To: x\r\n\r\n");
	/* a Reply-To of the author's is kept, not doubled */
	r = build("From: alice@author.test\r\nReply-To: <r@author.test>\r\n",
	    &p, LISTHDR_OK);
	assert_non_null(strstr(r, "From: \"alice via dev\" <dev@lists.test>"
	    "\r\nReply-To: <r@author.test>\r\n\r\n"));
	assert_null(strstr(r, "alice@author.test"));
	/* hostile display names: quotes, controls, encoded words */
	r = build("From: \"a\\\"b\\\\\" <x@y>\r\n", &p, LISTHDR_OK);
	assert_non_null(strstr(r, "From: \"ab via dev\" <dev@lists.test>"));
	r = build("From: =?utf-8?b?w6k=?= <zed@y>\r\n", &p, LISTHDR_OK);
	assert_non_null(strstr(r, "From: \"zed via dev\" <dev@lists.test>"));
	r = build("From: <@y>\r\n", &p, LISTHDR_OK);
	assert_non_null(strstr(r, "From: \"someone via dev\""));
	/* two From fields: both go, one remains */
	r = build("From: a@y\r\nFrom: b@y\r\n", &p, LISTHDR_OK);
	assert_null(strstr(r, "From: b@y"));
	/* nothing to rewrite */
	build("To: x\r\n", &p, LISTHDR_BAD);
}

static void
test_loop(void **state)
{
	struct listhdr_params	 p = params();

	(void)state;
	build("List-Id: dev <dev.lists.test>\r\n", &p, LISTHDR_LOOP);
	build("list-id:\r\n Dev <DEV.LISTS.TEST>\r\n", &p, LISTHDR_LOOP);
	/* another list's id is not a loop; a look-alike neither */
	build("List-Id: <dev.lists.test.example>\r\n", &p, LISTHDR_OK);
	build("X-List-Id: <dev.lists.test>\r\n", &p, LISTHDR_OK);
}

static void
test_bounds(void **state)
{
	struct listhdr_params	 p = params();
	struct buf		 out;
	char			 why[256], *big;
	size_t			 i;

	(void)state;
	big = malloc(LISTHDR_HEADER_MAX + 2);
	memset(big, 'a', LISTHDR_HEADER_MAX + 1);
	big[LISTHDR_HEADER_MAX + 1] = '\0';
	buf_init(&out, LISTHDR_OUT_MAX);
	assert_int_equal(listhdr_build(big, LISTHDR_HEADER_MAX + 1, &p, &out,
	    why, sizeof(why)), LISTHDR_BAD);
	/* more fields than allowed */
	for (i = 0; i + 3 <= (LISTHDR_MAX_FIELDS + 1) * 3; i += 3)
		memcpy(big + i, "a:\n", 3);
	assert_int_equal(listhdr_build(big, i, &p, &out, why, sizeof(why)),
	    LISTHDR_BAD);
	assert_non_null(strstr(why, "fields"));
	buf_free(&out);
	free(big);
}

static void
test_helpers(void **state)
{
	char		*from[4], ar[512], arc[16];
	const char	*h;
	size_t		 n;

	(void)state;
	assert_int_equal(listhdr_body_offset((const uint8_t *)"A: b\r\n\r\nx",
	    9), 8);
	assert_int_equal(listhdr_body_offset((const uint8_t *)"A: b\n\nx", 7),
	    6);
	assert_int_equal(listhdr_body_offset((const uint8_t *)"\r\nx", 3), 2);
	assert_int_equal(listhdr_body_offset((const uint8_t *)"A: b\r\n", 6),
	    -1);
	h = "From: a@x\r\nTo: b\r\nfrom:\r\n c@y\r\n";
	n = listhdr_from_fields(h, strlen(h), from, 4);
	assert_int_equal(n, 2);
	assert_string_equal(from[0], " a@x");
	assert_string_equal(from[1], "\r\n c@y");
	free(from[0]);
	free(from[1]);
	h = "Authentication-Results: evil.test; arc=pass\r\n"
	    "Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=a;"
	    " arc=fail\r\n"
	    "Authentication-Results: mx.test; arc=pass\r\n";
	assert_int_equal(listhdr_our_authres(h, strlen(h), "mx.test", ar,
	    sizeof(ar), arc, sizeof(arc)), 0);
	assert_string_equal(ar, "mx.test; spf=pass smtp.mailfrom=a; arc=fail");
	assert_string_equal(arc, "fail");
	assert_int_equal(listhdr_our_authres(h, strlen(h), "mx.tes", ar,
	    sizeof(ar), arc, sizeof(arc)), -1);
	h = "Authentication-Results: mx.test; spf=none\r\n";
	assert_int_equal(listhdr_our_authres(h, strlen(h), "mx.test", ar,
	    sizeof(ar), arc, sizeof(arc)), 0);
	assert_string_equal(arc, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_added),
		cmocka_unit_test(test_subject_tag_once),
		cmocka_unit_test(test_from_rewrite),
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

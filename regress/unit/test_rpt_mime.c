/*
 * reportd/rpt_mime.c: finding the report part (single part, multipart,
 * multipart/report, nested), transfer decodings, and the bounds.
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
find(const char *m, struct rpt_part *p, char *err)
{
	return rpt_mime_find((const uint8_t *)m, strlen(m), p, err, 256);
}

static void
test_find(void **state)
{
	struct rpt_part	 p;
	char		 err[256];

	/* a single part */
	assert_int_equal(find("Subject: x\nContent-Type: text/xml\n\n<f/>\n",
	    &p, err), 0);
	assert_int_equal(p.kind, RPT_DMARC);
	assert_string_equal(buf_cstr(&p.data), "<f/>\n");
	rpt_part_free(&p);
	/* multipart: the text part is skipped, base64 decoded, folded
	   header fields, quoted boundary, preamble and epilogue */
	assert_int_equal(find("Content-Type: multipart/mixed;\r\n"
	    "\tboundary=\"b 1\"\r\n\r\npreamble\r\n--b 1\r\nContent-Type: "
	    "text/plain\r\n\r\nhello\r\n--b 1\r\nContent-Type: APPLICATION/"
	    "GZIP; name=x.gz\r\nContent-Transfer-Encoding: Base64\r\n\r\n"
	    "PGY+\r\nPC9mPg==\r\n--b 1--\r\nepilogue\r\n", &p, err), 0);
	assert_int_equal(p.kind, RPT_DMARC);
	assert_string_equal(buf_cstr(&p.data), "<f></f>");
	rpt_part_free(&p);
	/* TLS-RPT types and names */
	assert_int_equal(find("Content-Type: application/tlsrpt+json\n\n{}",
	    &p, err), 0);
	assert_int_equal(p.kind, RPT_TLS);
	rpt_part_free(&p);
	assert_int_equal(find("Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\nContent-Type: application/octet-stream\nContent-Disposition:"
	    " attachment; filename=\"a!b!1!2.json.gz\"\n\nxx\n--z--\n", &p,
	    err), 0);
	assert_int_equal(p.kind, RPT_TLS);
	rpt_part_free(&p);
	/* an octet-stream without a telling name is not a report */
	assert_int_equal(find("Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\nContent-Type: application/octet-stream\n\nxx\n--z--\n", &p,
	    err), -1);
	/* ARF: the feedback-report part, not the attached original's */
	assert_int_equal(find("Content-Type: multipart/report; report-type="
	    "feedback-report; boundary=r\n\n--r\nContent-Type: text/plain\n\n"
	    "a report\n--r\nContent-Type: message/rfc822\n\nContent-Type: "
	    "text/xml\n\n<not-this/>\n--r\nContent-Type: message/feedback-"
	    "report\n\nFeedback-Type: abuse\n--r--\n", &p, err), 0);
	assert_int_equal(p.kind, RPT_ARF);
	assert_string_equal(buf_cstr(&p.data), "Feedback-Type: abuse");
	rpt_part_free(&p);
	/* quoted-printable; a missing closing delimiter */
	assert_int_equal(find("Content-Type: multipart/mixed; boundary=q\n\n"
	    "--q\nContent-Type: text/xml\nContent-Transfer-Encoding: quoted-"
	    "printable\n\n<f a=3D\"1\">caf=C3=A9 =\nsoft</f>\n", &p, err), 0);
	assert_string_equal(buf_cstr(&p.data), "<f a=\"1\">caf\xc3\xa9 soft"
	    "</f>\n");
	rpt_part_free(&p);
	/* no Content-Type: text/plain, nothing found */
	assert_int_equal(find("Subject: x\n\n<f/>\n", &p, err), -1);
	assert_int_equal(find("", &p, err), -1);
	assert_int_equal(find("Content-Type: multipart/mixed\n\n--\n", &p,
	    err), -1);
}

static void
test_bounds(void **state)
{
	struct rpt_part	 p;
	struct buf	 b;
	char		 err[256];
	int		 i;

	buf_init(&b, 1 << 20);
	/* parts past the limit */
	buf_addstr(&b, "Content-Type: multipart/mixed; boundary=z\n\n");
	for (i = 0; i < RPT_MIME_PARTS_MAX + 1; i++)
		buf_addstr(&b, "--z\nContent-Type: text/plain\n\nx\n");
	buf_addstr(&b, "--z\nContent-Type: text/xml\n\n<f/>\n--z--\n");
	assert_int_equal(find(buf_cstr(&b), &p, err), -1);
	assert_non_null(strstr(err, "parts"));
	/* a header section past its limit */
	buf_reset(&b);
	buf_addstr(&b, "X-Long: ");
	for (i = 0; i < 70000; i++)
		buf_addstr(&b, "a");
	buf_addstr(&b, "\nContent-Type: text/xml\n\n<f/>");
	assert_int_equal(find(buf_cstr(&b), &p, err), -1);
	buf_free(&b);
}

static void
test_decoders(void **state)
{
	struct buf	 b;

	buf_init(&b, 16);
	assert_int_equal(rpt_b64_decode((const uint8_t *)"aGV sbG8*\n=junk",
	    15, &b), 0);
	assert_string_equal(buf_cstr(&b), "hello");
	buf_reset(&b);
	assert_int_equal(rpt_b64_decode((const uint8_t *)"aGVsbG8gd29ybGQgaGVs"
	    "bG8gd29ybGQ=", 32, &b), -1);	/* over the buffer's bound */
	buf_reset(&b);
	assert_int_equal(rpt_qp_decode((const uint8_t *)"a=3Db=\r\nc=ZZ=4", 14,
	    &b), 0);
	assert_string_equal(buf_cstr(&b), "a=bc=ZZ=4");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_decoders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

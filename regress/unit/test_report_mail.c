/*
 * reportd/report_mail.c: reports as mail.  gzip output that zlib inflates
 * back (with a gzip header), the MIME message (header fields, the folded
 * subject, CRLF line ends, base64 lines of at most 76 characters that
 * decode to the attachment, the same message when built twice), header
 * injection refused, and mailto: URIs (percent-decoding, queries dropped,
 * size limits with and without a unit, bad URIs refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "reportd/report_mail.h"
#include "util.h"

static void
test_gzip(void **state)
{
	struct buf	 b;
	z_stream	 z;
	char		 in[5000], back[6000];
	size_t		 i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = "<record>abc</record>\n"[i % 21];
	buf_init(&b, 1 << 20);
	assert_int_equal(report_gzip(in, sizeof(in), &b), 0);
	assert_true(b.len < sizeof(in) / 4);
	/* RFC 1952 2.3.1: ID1 ID2 CM=8 */
	assert_int_equal(b.data[0], 0x1f);
	assert_int_equal(b.data[1], 0x8b);
	assert_int_equal(b.data[2], 8);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = b.data;
	z.avail_in = b.len;
	z.next_out = (Bytef *)back;
	z.avail_out = sizeof(back);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof(in));
	assert_memory_equal(back, in, sizeof(in));
	inflateEnd(&z);
	buf_free(&b);

	/* too small an output is an error, not a truncated file */
	buf_init(&b, 10);
	assert_int_equal(report_gzip(in, sizeof(in), &b), -1);
	buf_free(&b);
}

static const char *const to[] = { "a@example.com", "b@example.net" };

static void
mail(struct report_mail *m, const uint8_t *att, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->from = "reports@mx.example.org";
	m->to = to;
	m->nto = 2;
	m->subject = "Report Domain: example.com\r\n Submitter: mx.example.org"
	    "\r\n Report-ID: <1.example.com@mx.example.org>";
	m->message_id = "1.example.com@mx.example.org";
	m->date = 1700006400;
	m->text = "A report.\nSecond line.";
	m->filename = "mx.example.org!example.com!1!2.xml.gz";
	m->media_type = "application/gzip";
	m->attachment = att;
	m->attachment_len = len;
}

static int
b64val(int c)
{
	const char	*tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789+/";
	const char	*p = strchr(tab, c);

	return p != NULL && c != '\0' ? (int)(p - tab) : -1;
}

static void
test_build(void **state)
{
	struct report_mail	 m;
	struct buf		 b, b2;
	uint8_t			 att[1000], dec[1000];
	char			*s, *body, *line, *end;
	size_t			 i, n = 0;
	int			 bits = 0, v;
	uint32_t		 acc = 0;

	for (i = 0; i < sizeof(att); i++)
		att[i] = (i * 7) & 0xff;
	mail(&m, att, sizeof(att));
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), 0);
	s = buf_cstr(&b);
	assert_true(strncmp(s, "From: <reports@mx.example.org>\r\n"
	    "To: <a@example.com>,\r\n    <b@example.net>\r\n"
	    "Subject: Report Domain: example.com\r\n Submitter: mx.example.org"
	    "\r\n Report-ID: <1.example.com@mx.example.org>\r\n"
	    "Date: Wed, 15 Nov 2023 00:00:00 +0000\r\n"
	    "Message-ID: <1.example.com@mx.example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed;\r\n", 300) == 0);
	assert_non_null(strstr(s, "\r\nA report.\r\nSecond line.\r\n"));
	assert_non_null(strstr(s, "Content-Type: application/gzip;\r\n"
	    "    name=\"mx.example.org!example.com!1!2.xml.gz\"\r\n"
	    "Content-Disposition: attachment;\r\n"
	    "    filename=\"mx.example.org!example.com!1!2.xml.gz\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"));
	/* every line ends in CRLF */
	for (i = 0; i < b.len; i++)
		if (s[i] == '\n')
			assert_int_equal(s[i - 1], '\r');
	/* the attachment decodes back, lines of 76 at most */
	body = strstr(s, "base64\r\n\r\n") + 10;
	for (line = body; *line != '\r'; line = end + 2) {
		end = strstr(line, "\r\n");
		assert_true(end - line <= 76);
		for (; line < end; line++) {
			if (*line == '=')
				continue;
			assert_true((v = b64val(*line)) >= 0);
			acc = acc << 6 | v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				dec[n++] = (acc >> bits) & 0xff;
			}
		}
	}
	assert_int_equal(n, sizeof(att));
	assert_memory_equal(dec, att, sizeof(att));
	assert_non_null(strstr(line, "--=_postern_report_"));
	assert_non_null(strstr(s, "--\r\n"));

	/* built again: the same bytes */
	buf_init(&b2, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b2), 0);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	buf_free(&b2);
	buf_free(&b);

	/* a CR or LF that is not a fold is refused */
	m.subject = "x\r\nBcc: victim@example.com";
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), -1);
	buf_free(&b);
	mail(&m, att, sizeof(att));
	m.filename = "a\".xml";
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), -1);
	buf_free(&b);
	mail(&m, att, sizeof(att));
	m.nto = 0;
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), -1);
	buf_free(&b);
	/* a bound too small */
	mail(&m, att, sizeof(att));
	buf_init(&b, 500);
	assert_int_equal(report_mail_build(&m, &b), -1);
	buf_free(&b);
	/* RFC 8460 5.3: multipart/report of report-type tlsrpt */
	mail(&m, att, sizeof(att));
	m.report_type = "tlsrpt";
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), 0);
	assert_non_null(strstr(buf_cstr(&b), "\r\nContent-Type: "
	    "multipart/report; report-type=\"tlsrpt\";\r\n    boundary="));
	assert_null(strstr(buf_cstr(&b), "multipart/mixed"));
	buf_free(&b);
	m.report_type = "a\"b";
	buf_init(&b, REPORT_MAIL_MAX);
	assert_int_equal(report_mail_build(&m, &b), -1);
	buf_free(&b);
}

static void
test_mailto(void **state)
{
	char		 a[REPORT_ADDR_MAX];
	uint64_t	 lim;

	assert_int_equal(report_mailto("mailto:agg@example.com", a,
	    sizeof(a), &lim), 0);
	assert_string_equal(a, "agg@example.com");
	assert_int_equal(lim, 0);
	assert_int_equal(report_mailto("MAILTO:agg@example.com!10m", a,
	    sizeof(a), &lim), 0);
	assert_string_equal(a, "agg@example.com");
	assert_int_equal(lim, 10 * 1024 * 1024);
	assert_int_equal(report_mailto("mailto:agg@example.com!50000", a,
	    sizeof(a), &lim), 0);
	assert_int_equal(lim, 50000);
	assert_int_equal(report_mailto("mailto:agg@example.com!2K", a,
	    sizeof(a), &lim), 0);
	assert_int_equal(lim, 2048);
	assert_int_equal(report_mailto("mailto:d%6Darc+x@example.com?subject=x",
	    a, sizeof(a), &lim), 0);
	assert_string_equal(a, "dmarc+x@example.com");

	assert_int_equal(report_mailto("https://example.com/", a, sizeof(a),
	    &lim), -1);
	assert_int_equal(report_mailto("mailto:", a, sizeof(a), &lim), -1);
	assert_int_equal(report_mailto("mailto:noat", a, sizeof(a), &lim), -1);
	assert_int_equal(report_mailto("mailto:a@b.example!", a, sizeof(a),
	    &lim), -1);
	assert_int_equal(report_mailto("mailto:a@b.example!10x", a, sizeof(a),
	    &lim), -1);
	assert_int_equal(report_mailto("mailto:a%00b@b.example", a, sizeof(a),
	    &lim), -1);
	assert_int_equal(report_mailto("mailto:a%0d%0aX@b.example", a,
	    sizeof(a), &lim), -1);
	assert_int_equal(report_mailto("mailto:a@b.example,c@d.example", a,
	    sizeof(a), &lim), -1);
	assert_int_equal(report_mailto("mailto:a%4@b.example", a, sizeof(a),
	    &lim), -1);
	assert_int_equal(report_mailto("mailto:a@b.example", a, 5, &lim), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_mailto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * auth/reportmark.c: which header fields mark report mail.  Content-Type
 * multipart/report of every report-type, the TLS-RPT media types, a
 * TLS-Report-Domain field, RFC 9990's aggregate subject (folded, any case);
 * and what does not: other media types, a type that only starts alike,
 * ordinary subjects, parameters that merely mention "report", fields
 * without a name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/reportmark.h"
#include "mailhdr.h"

static int
mark(const char *field)
{
	size_t	 len = strlen(field);

	return reportmark_field(field, len, mailhdr_name_len(field, len));
}

static void
test_marks(void **state)
{
	assert_int_equal(mark("Content-Type: multipart/report; "
	    "report-type=feedback-report;\r\n boundary=\"b\""), 1);
	assert_int_equal(mark("content-type:Multipart/Report;"
	    "report-type=delivery-status"), 1);
	assert_int_equal(mark("Content-Type:\r\n\tmultipart/report ; "
	    "report-type=\"disposition-notification\""), 1);
	assert_int_equal(mark("Content-Type: multipart/report; "
	    "report-type=tlsrpt"), 1);
	assert_int_equal(mark("Content-Type: multipart/report"), 1);
	assert_int_equal(mark("Content-Type: application/tlsrpt+gzip"), 1);
	assert_int_equal(mark("Content-Type: application/tlsrpt+json; "
	    "charset=utf-8"), 1);
	assert_int_equal(mark("TLS-Report-Domain: example.com"), 1);
	assert_int_equal(mark("Subject: Report Domain: example.com\r\n"
	    "    Submitter: mail.receiver.example\r\n"
	    "    Report-ID: <sample-ridtxt@example.com>"), 1);
	assert_int_equal(mark("Subject: Report domain: example.com "
	    "Submitter: google.com Report-ID: 123"), 1);
	assert_int_equal(mark("SUBJECT:report\tdomain: a.test submitter: "
	    "b.test"), 1);
}

static void
test_not_marks(void **state)
{
	assert_int_equal(mark("Content-Type: multipart/mixed; "
	    "boundary=\"report\""), 0);
	assert_int_equal(mark("Content-Type: multipart/reports"), 0);
	assert_int_equal(mark("Content-Type: text/plain; "
	    "name=multipart/report"), 0);
	assert_int_equal(mark("Content-Type: application/gzip"), 0);
	assert_int_equal(mark("Content-Type: application/tlsrpt+gzipx"), 0);
	assert_int_equal(mark("Content-Type:"), 0);
	assert_int_equal(mark("X-Content-Type: multipart/report"), 0);
	assert_int_equal(mark("Subject: Report Domain: a.test"), 0);
	assert_int_equal(mark("Subject: Reported Domain: a.test "
	    "Submitter: b"), 0);
	assert_int_equal(mark("Subject: Re: Report Domain: a.test "
	    "Submitter: b"), 0);
	assert_int_equal(mark("Subject: Report"), 0);
	assert_int_equal(mark("Subject: quarterly report"), 0);
	assert_int_equal(mark("TLS-Report-Submitter: example.net"), 0);
	assert_int_equal(mark("no colon multipart/report"), 0);
	assert_int_equal(mark(": multipart/report"), 0);
	assert_int_equal(reportmark_field("Content-Type: multipart/report",
	    13, 12), 0);	/* the value cut off */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_not_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

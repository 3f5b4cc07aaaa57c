/*
 * reportd/arf.c and auth/ruf.c: failure reports.  The fo= test (fo=0, 1,
 * d, s, psd=y, no policy), Identity-Alignment, the ARF message (its
 * fields, parsed back by our own ARF reader rpt_parse_message()), the
 * redaction (local parts hashed, the same for the same local part, http
 * written hxxp, Message-ID kept), hostile header sections (CR, LF, NUL,
 * 8-bit bytes, lines that are no field, huge lines folded, the boundary
 * inside the content refused) and the output bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ruf.h"
#include "reportd/arf.h"
#include "reportd/rpt.h"
#include "util.h"

static const uint8_t	 key[ARF_REDACT_KEY_LEN] = { 1, 2, 3 };
static const char *const to[] = { "ruf@example.org", "x@reports.example" };
#define BOUNDARY	"b0undaryb0undaryb0undaryb0undar"

static void
eval_init(struct dmarc_eval_record *r)
{
	memset(r, 0, sizeof(*r));
	r->when = 1700000000;
	r->result = DMARC_RESULT_FAIL;
	strlcpy(r->source_ip, "192.0.2.7", sizeof(r->source_ip));
	strlcpy(r->header_from, "example.org", sizeof(r->header_from));
	strlcpy(r->policy_domain, "example.org", sizeof(r->policy_domain));
	r->have_policy = 1;
	r->psd = 'u';
	r->fo = DMARC_FO_1;
	r->ndkim = 1;
	strlcpy(r->dkim[0].domain, "mail.example.org",
	    sizeof(r->dkim[0].domain));
	strlcpy(r->dkim[0].selector, "sel", sizeof(r->dkim[0].selector));
	r->dkim[0].result = DKIM_FAIL;
	r->have_spf = 1;
	strlcpy(r->spf_domain, "bounce.example.org", sizeof(r->spf_domain));
	r->spf_result = SPF_FAIL;
	r->disposition = DMARC_DISP_REJECT;
}

static void
arf_init(struct arf_report *a, const struct dmarc_eval_record *r,
    const char *hdr)
{
	memset(a, 0, sizeof(*a));
	a->from = "reports@postern.example";
	a->to = to;
	a->nto = 2;
	a->message_id = "ruf.1.abc@postern.example";
	a->date = 1700000100;
	a->reporting_mta = "mx.postern.example";
	a->auth_failure = "dmarc";
	a->eval = r;
	a->mail_from = "alice.smith@bounce.example.org";
	a->header = hdr;
	a->header_len = strlen(hdr);
	a->redact_key = key;
	a->boundary = BOUNDARY;
}

static char *
build(const struct arf_report *a)
{
	struct buf	 b;
	char		*s;

	buf_init(&b, 1 << 20);
	if (arf_build(a, &b) == -1) {
		buf_free(&b);
		return NULL;
	}
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void
test_wanted(void **state)
{
	struct dmarc_eval_record	 r;

	eval_init(&r);
	r.fo = DMARC_FO_0;
	assert_int_equal(dmarc_ruf_wanted(&r), 1);	/* both failed */
	r.spf_aligned_pass = 1;
	assert_int_equal(dmarc_ruf_wanted(&r), 0);	/* one passed */
	r.fo = DMARC_FO_1;
	assert_int_equal(dmarc_ruf_wanted(&r), 1);
	r.dkim_aligned_pass = 1;
	assert_int_equal(dmarc_ruf_wanted(&r), 0);
	/* fo=d: a failed signature, aligned pass or not */
	r.fo = DMARC_FO_D;
	assert_int_equal(dmarc_ruf_wanted(&r), 1);
	r.dkim[0].result = DKIM_PASS;
	assert_int_equal(dmarc_ruf_wanted(&r), 0);
	/* fo=s: SPF failed */
	r.fo = DMARC_FO_S;
	assert_int_equal(dmarc_ruf_wanted(&r), 1);
	r.spf_result = SPF_PASS;
	assert_int_equal(dmarc_ruf_wanted(&r), 0);
	/* psd=y, no policy: never */
	eval_init(&r);
	r.psd = 'y';
	assert_int_equal(dmarc_ruf_wanted(&r), 0);
	eval_init(&r);
	r.have_policy = 0;
	assert_int_equal(dmarc_ruf_wanted(&r), 0);

	eval_init(&r);
	assert_string_equal(dmarc_ruf_alignment(&r), "dkim, spf");
	r.spf_aligned_pass = 1;
	assert_string_equal(dmarc_ruf_alignment(&r), "dkim");
	r.spf_aligned_pass = 0;
	r.dkim_aligned_pass = 1;
	assert_string_equal(dmarc_ruf_alignment(&r), "spf");
	r.spf_aligned_pass = 1;
	assert_string_equal(dmarc_ruf_alignment(&r), "none");
}

static const char hdr_ok[] =
    "Received: from a.example (a.example [192.0.2.7])\r\n"
    "\tby mx for <bob.jones@example.net>; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob.jones@example.net\r\n"
    "Message-ID: <unique.1@a.example>\r\n"
    "List-Unsubscribe: <https://a.example/u?x=1>, <http://b.example/>\r\n"
    "Subject: hello\r\n";

static void
test_build(void **state)
{
	struct dmarc_eval_record	 r;
	struct arf_report		 a;
	struct rpt			 p;
	char				*s, err[256], h[20];

	eval_init(&r);
	arf_init(&a, &r, hdr_ok);
	assert_non_null(s = build(&a));
	assert_non_null(strstr(s, "Content-Type: multipart/report; "
	    "report-type=feedback-report;\r\n\tboundary=\"" BOUNDARY "\""));
	assert_non_null(strstr(s, "\r\nFeedback-Type: auth-failure\r\n"));
	assert_non_null(strstr(s, "\r\nVersion: 1\r\n"));
	assert_non_null(strstr(s, "\r\nAuth-Failure: dmarc\r\n"));
	assert_non_null(strstr(s, "\r\nSource-IP: 192.0.2.7\r\n"));
	assert_non_null(strstr(s, "\r\nReported-Domain: example.org\r\n"));
	assert_non_null(strstr(s, "\r\nIdentity-Alignment: dkim, spf\r\n"));
	assert_non_null(strstr(s, "\r\nDKIM-Domain: mail.example.org\r\n"
	    "DKIM-Identity: @mail.example.org\r\nDKIM-Selector: sel\r\n"));
	assert_non_null(strstr(s, "\r\nSPF-DNS: txt : bounce.example.org\r\n"));
	assert_non_null(strstr(s, "\r\nDelivery-Result: reject\r\n"));
	assert_non_null(strstr(s, "\r\nArrival-Date: Tue, 14 Nov 2023 "
	    "22:13:20 +0000\r\n"));
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers"));
	assert_non_null(strstr(s, "\r\n--" BOUNDARY "--\r\n"));
	/* RFC 6590: local parts hashed, the same one the same way */
	assert_null(strstr(s, "alice"));
	assert_null(strstr(s, "bob.jones"));
	arf_redact_local(key, "bob.jones", 9, h, sizeof(h));
	assert_int_equal(strlen(h), 16);
	assert_non_null(strstr(s, "for <"));
	{
		char	 want[64];

		snprintf(want, sizeof(want), "for <%s@example.net>", h);
		assert_non_null(strstr(s, want));
		snprintf(want, sizeof(want), "To: %s@example.net\r\n", h);
		assert_non_null(strstr(s, want));
	}
	arf_redact_local(key, "alice.smith", 11, h, sizeof(h));
	{
		char	 want[80];

		snprintf(want, sizeof(want), "Original-Mail-From: "
		    "<%s@bounce.example.org>", h);
		assert_non_null(strstr(s, want));
	}
	/* an identifier is no mailbox */
	assert_non_null(strstr(s, "Message-ID: <unique.1@a.example>\r\n"));
	/* RFC 9991 8.3 */
	assert_null(strstr(s, "http"));
	assert_non_null(strstr(s, "<hxxps://a.example/u?x=1>, "
	    "<hxxp://b.example/>"));
	/* our reader finds what we wrote */
	memset(&p, 0, sizeof(p));
	assert_int_equal(rpt_parse_message((const uint8_t *)s, strlen(s), &p,
	    err, sizeof(err)), 0);
	assert_int_equal(p.kind, RPT_ARF);
	assert_string_equal(p.arf.feedback_type, "auth-failure");
	assert_string_equal(p.arf.source_ip, "192.0.2.7");
	assert_string_equal(p.arf.reported_domain, "example.org");
	rpt_free(&p);
	free(s);

	/* aligned DKIM passed, SPF only: no DKIM fields */
	r.dkim_aligned_pass = 1;
	r.dkim[0].result = DKIM_PASS;
	r.disposition = DMARC_DISP_NONE;
	assert_non_null(s = build(&a));
	assert_null(strstr(s, "DKIM-Domain"));
	assert_non_null(strstr(s, "\r\nIdentity-Alignment: spf\r\n"));
	assert_non_null(strstr(s, "\r\nDelivery-Result: delivered\r\n"));
	free(s);
}

/* RFC 6651 / RFC 6591: a DKIM failure report names its signature. */
static void
test_dkim(void **state)
{
	struct dmarc_eval_record	 r;
	struct arf_report		 a;
	struct rpt			 p;
	char				*s, err[256];

	eval_init(&r);
	arf_init(&a, &r, hdr_ok);
	a.auth_failure = "bodyhash";
	a.dkim_domain = "signer.example";
	a.dkim_selector = "s1";
	a.dkim_identity = "";
	assert_non_null(s = build(&a));
	assert_non_null(strstr(s, "Subject: DKIM failure report for "
	    "signer.example from 192.0.2.7\r\n"));
	assert_non_null(strstr(s, "\r\nAuth-Failure: bodyhash\r\n"));
	assert_non_null(strstr(s, "\r\nDKIM-Domain: signer.example\r\n"
	    "DKIM-Identity: @signer.example\r\nDKIM-Selector: s1\r\n"));
	assert_non_null(strstr(s, "\r\nReported-Domain: signer.example\r\n"));
	assert_null(strstr(s, "Identity-Alignment"));
	assert_null(strstr(s, "dmarc="));
	memset(&p, 0, sizeof(p));
	assert_int_equal(rpt_parse_message((const uint8_t *)s, strlen(s), &p,
	    err, sizeof(err)), 0);
	assert_string_equal(p.arf.reported_domain, "signer.example");
	rpt_free(&p);
	free(s);
}

/* RFC 6652 / RFC 6591: an SPF failure report. */
static void
test_spf(void **state)
{
	struct dmarc_eval_record	 r;
	struct arf_report		 a;
	char				*s;

	eval_init(&r);
	arf_init(&a, &r, hdr_ok);
	a.auth_failure = "spf";
	a.spf_domain = "bounce.example.org";
	assert_non_null(s = build(&a));
	assert_non_null(strstr(s, "Subject: SPF failure report for "
	    "bounce.example.org from 192.0.2.7\r\n"));
	assert_non_null(strstr(s, "\r\nAuth-Failure: spf\r\n"));
	assert_non_null(strstr(s, "\r\nSPF-DNS: txt : bounce.example.org\r\n"));
	assert_non_null(strstr(s, "\r\nReported-Domain: bounce.example.org"
	    "\r\n"));
	assert_null(strstr(s, "Identity-Alignment"));
	assert_null(strstr(s, "DKIM-Domain"));
	free(s);
}

static void
test_hostile(void **state)
{
	struct dmarc_eval_record	 r;
	struct arf_report		 a;
	struct buf			 big;
	char				*s, *p;
	size_t				 i, run;
	static const char		 evil[] =
	    "From: x@example.org\rBcc: injected@evil.example\r\n"
	    "Subject: a\nX-Bare-LF: yes\r\n"
	    "not a field line\r\n"
	    "\r\n"
	    "Subject: \x01\x7f\xc3\xa9 8bit\r\n"
	    " continued\r\n";

	eval_init(&r);
	/* values of our own fields cannot add a field */
	strlcpy(r.header_from, "example.org\r\nBcc: x@evil.example",
	    sizeof(r.header_from));
	strlcpy(r.source_ip, "1.2.3.4\r\nX: y", sizeof(r.source_ip));
	arf_init(&a, &r, evil);
	a.header_len = sizeof(evil) - 1;
	assert_non_null(s = build(&a));
	assert_null(strstr(s, "\r\nBcc: x@evil"));
	assert_null(strstr(s, "\r\nX: y"));
	/* every line ends in CRLF: no bare CR or LF, 7 bit */
	for (p = s; *p != '\0'; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\r')
			assert_int_equal(p[1], '\n');
		if (*p == '\n')
			assert_true(p > s && p[-1] == '\r');
	}
	assert_non_null(strstr(s, "\r\nX-Bare-LF: yes\r\n"));
	assert_non_null(strstr(s, "\r\nSubject: ???? 8bit\r\n continued\r\n"));
	assert_null(strstr(s, "not a field line"));
	free(s);

	/* the boundary inside the content: refused, nothing appended */
	{
		char	 hb[200];

		snprintf(hb, sizeof(hb), "X: --%s\r\n", BOUNDARY);
		arf_init(&a, &r, hb);
		assert_null(build(&a));
	}

	/* a 40,000-character line: folded under 1000 */
	buf_init(&big, 1 << 20);
	buf_addstr(&big, "X-Long: ");
	for (i = 0; i < 40000; i++)
		buf_add(&big, i % 50 == 49 ? " " : "a", 1);
	buf_addstr(&big, "\r\n");
	arf_init(&a, &r, "");
	a.header = big.data;
	a.header_len = big.len;
	assert_non_null(s = build(&a));
	for (p = s, run = 0; *p != '\0'; p++) {
		run = *p == '\n' ? 0 : run + 1;
		assert_true(run <= 998);
	}
	free(s);
	buf_free(&big);

	/* the bound of the output holds */
	{
		struct buf	 b;

		arf_init(&a, &r, hdr_ok);
		buf_init(&b, 500);
		assert_int_equal(arf_build(&a, &b), -1);
		assert_int_equal(b.len, 0);
		buf_free(&b);
	}
	/* redaction that grows the section 8 times still fits */
	buf_init(&big, 1 << 20);
	buf_addstr(&big, "To: ");
	for (i = 0; i < 20000; i++)
		buf_addstr(&big, "a@");
	buf_addstr(&big, "b\r\n");
	arf_init(&a, &r, "");
	a.header = big.data;
	a.header_len = big.len;
	assert_non_null(s = build(&a));
	assert_true(strlen(s) > 16 * 20000);
	free(s);
	buf_free(&big);
	/* a quoted local part is redacted too */
	arf_init(&a, &r, "To: \"bob smith\"@example.net\r\n");
	assert_non_null(s = build(&a));
	assert_null(strstr(s, "bob"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_dkim),
		cmocka_unit_test(test_spf),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * reportd/dmarc_agg.c: the DMARC aggregate report builder.  Grouping of
 * evaluations into records by their tuple (same tuple: one record, its
 * count summed; a different IP, result, identifier or DKIM result: another
 * record), records of another domain or outside the period ignored, the
 * policy published of the newest evaluation with defaults filled in, the
 * report metadata, escaping, the deterministic report id and filename,
 * the bound on rows, and the UTC alignment of periods.  The XML is checked
 * against the XSD by regress/test_dmarc_send.py (xmllint); here, its
 * content.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "reportd/dmarc_agg.h"
#include "util.h"

#define BEGIN	1700006400	/* 2023-11-15T00:00:00Z */
#define END	(BEGIN + 86400)

static const struct dmarc_agg_meta meta = {
	.org_name = "Example & Co <ops>",
	.email = "reports@mx.example.org",
	.contact = "https://example.org/dmarc",
	.receiver = "mx.example.org",
	.generator = "postern",
};

static void
rec(struct dmarc_eval_record *r, const char *ip, int spf_pass)
{
	memset(r, 0, sizeof(*r));
	r->when = BEGIN + 100;
	r->result = spf_pass ? DMARC_RESULT_PASS : DMARC_RESULT_FAIL;
	strlcpy(r->source_ip, ip, sizeof(r->source_ip));
	r->count = 1;
	r->disposition = spf_pass ? DMARC_DISP_PASS : DMARC_DISP_REJECT;
	r->spf_aligned_pass = spf_pass;
	strlcpy(r->header_from, "example.com", sizeof(r->header_from));
	strlcpy(r->envelope_from, "example.com", sizeof(r->envelope_from));
	strlcpy(r->envelope_to, "example.org", sizeof(r->envelope_to));
	r->have_spf = 1;
	strlcpy(r->spf_domain, "example.com", sizeof(r->spf_domain));
	r->spf_result = spf_pass ? SPF_PASS : SPF_FAIL;
	r->have_policy = 1;
	strlcpy(r->policy_domain, "example.com", sizeof(r->policy_domain));
	r->p = DMARC_POLICY_REJECT;
	r->psd = 'u';
	r->adkim = r->aspf = 'r';
	r->fo = DMARC_FO_0;
	r->discovery_treewalk = 1;
}

static char *
xml(struct dmarc_agg *a)
{
	struct buf	 b;

	buf_init(&b, DMARC_AGG_XML_MAX);
	assert_int_equal(dmarc_agg_xml(a, &meta, &b), 0);
	return buf_cstr(&b);
}

static size_t
occurrences(const char *hay, const char *needle)
{
	size_t	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
test_grouping(void **state)
{
	struct dmarc_eval_record	 r;
	struct dmarc_agg		*a;
	char				*x;
	int				 i;

	a = dmarc_agg_new("example.com", BEGIN, END);
	rec(&r, "192.0.2.1", 1);
	for (i = 0; i < 3; i++) {
		r.when = BEGIN + i * 1000;
		assert_int_equal(dmarc_agg_add(a, &r), 0);
	}
	/* another source */
	rec(&r, "192.0.2.2", 1);
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/* same source, failing */
	rec(&r, "192.0.2.1", 0);
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/* same source, a DKIM signature more */
	rec(&r, "192.0.2.1", 1);
	r.ndkim = 1;
	strlcpy(r.dkim[0].domain, "example.com", sizeof(r.dkim[0].domain));
	strlcpy(r.dkim[0].selector, "sel", sizeof(r.dkim[0].selector));
	r.dkim[0].result = DKIM_PASS;
	r.dkim_aligned_pass = 1;
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/* a record of 2 messages counts 2 */
	rec(&r, "2001:db8::1", 1);
	r.count = 2;
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/* not ours: another domain, before and at the end of the period */
	rec(&r, "192.0.2.1", 1);
	strlcpy(r.header_from, "other.com", sizeof(r.header_from));
	strlcpy(r.policy_domain, "other.com", sizeof(r.policy_domain));
	assert_int_equal(dmarc_agg_add(a, &r), 1);
	/* no policy found: grouped by its own Author Domain */
	rec(&r, "192.0.2.1", 1);
	strlcpy(r.header_from, "other.com", sizeof(r.header_from));
	r.have_policy = 0;
	assert_int_equal(dmarc_agg_add(a, &r), 1);
	rec(&r, "192.0.2.1", 1);
	r.when = BEGIN - 1;
	assert_int_equal(dmarc_agg_add(a, &r), 1);
	r.when = END;
	assert_int_equal(dmarc_agg_add(a, &r), 1);
	/* the domain compares without case */
	rec(&r, "192.0.2.1", 1);
	strlcpy(r.header_from, "EXAMPLE.com", sizeof(r.header_from));
	strlcpy(r.policy_domain, "EXAMPLE.com", sizeof(r.policy_domain));
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/*
	 * A subdomain judged by example.com's record: in example.com's
	 * report (one per DMARC Policy Domain, RFC 9990 2), a row of its own
	 */
	rec(&r, "192.0.2.1", 1);
	strlcpy(r.header_from, "mail.example.com", sizeof(r.header_from));
	assert_int_equal(dmarc_agg_add(a, &r), 0);

	assert_int_equal(dmarc_agg_rows(a), 6);
	assert_int_equal(dmarc_agg_messages(a), 11);
	x = xml(a);
	assert_int_equal(occurrences(x, "<record>"), 6);
	assert_non_null(strstr(x, "<header_from>mail.example.com</header_from>"));
	/* 3 + the one of EXAMPLE.com */
	assert_non_null(strstr(x, "<count>4</count>"));
	assert_int_equal(occurrences(x, "<count>2</count>"), 2);
	assert_int_equal(occurrences(x, "<count>1</count>"), 3);
	assert_non_null(strstr(x, "<source_ip>2001:db8::1</source_ip>"));
	assert_non_null(strstr(x, "<selector>sel</selector>"));
	assert_non_null(strstr(x, "<disposition>reject</disposition>"));
	/* same evaluations, same document */
	{
		struct dmarc_agg	*b;
		char			*y;

		b = dmarc_agg_new("example.com", BEGIN, END);
		rec(&r, "2001:db8::1", 1);
		r.count = 2;
		dmarc_agg_add(b, &r);
		assert_int_equal(dmarc_agg_rows(b), 1);
		y = xml(b);
		assert_non_null(strstr(y, "<count>2</count>"));
		free(y);
		dmarc_agg_free(b);
	}
	free(x);
	dmarc_agg_free(a);
}

static void
test_metadata_and_policy(void **state)
{
	struct dmarc_eval_record	 r;
	struct dmarc_agg		*a;
	char				*x, id[DMARC_AGG_ID_MAX];
	char				 fn[DMARC_AGG_FILENAME_MAX];

	a = dmarc_agg_new("example.com", BEGIN, END);
	rec(&r, "192.0.2.1", 1);
	r.p = DMARC_POLICY_NONE;
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	/* the newest policy is the one reported; unset tags defaulted */
	rec(&r, "192.0.2.1", 0);
	r.when = BEGIN + 5000;
	r.p = DMARC_POLICY_QUARANTINE;
	r.aspf = 's';
	r.testing = 1;
	r.fo = DMARC_FO_1 | DMARC_FO_D;
	dmarc_eval_add_reason(&r, DMARC_OVERRIDE_LOCAL_POLICY,
	    "forwarded <via> \"list\" \x01");
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	x = xml(a);
	assert_true(strncmp(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">", 79) == 0);
	assert_non_null(strstr(x, "<org_name>Example &amp; Co &lt;ops&gt;"
	    "</org_name>"));
	assert_non_null(strstr(x, "<email>reports@mx.example.org</email>"));
	assert_non_null(strstr(x, "<extra_contact_info>https://example.org/"
	    "dmarc</extra_contact_info>"));
	assert_non_null(strstr(x, "<report_id>1700006400.example.com@"
	    "mx.example.org</report_id>"));
	assert_non_null(strstr(x, "<begin>1700006400</begin>"));
	assert_non_null(strstr(x, "<end>1700092799</end>"));
	assert_non_null(strstr(x, "<generator>postern</generator>"));
	assert_non_null(strstr(x, "<p>quarantine</p>"));
	assert_non_null(strstr(x, "<sp>quarantine</sp>"));
	assert_non_null(strstr(x, "<np>quarantine</np>"));
	assert_non_null(strstr(x, "<aspf>s</aspf>"));
	assert_non_null(strstr(x, "<adkim>r</adkim>"));
	assert_non_null(strstr(x, "<testing>y</testing>"));
	assert_non_null(strstr(x, "<discovery_method>treewalk"
	    "</discovery_method>"));
	assert_non_null(strstr(x, "<fo>1:d</fo>"));
	assert_non_null(strstr(x, "<type>local_policy</type>"));
	assert_non_null(strstr(x, "<comment>forwarded &lt;via&gt; &quot;list"
	    "&quot; ?</comment>"));
	assert_non_null(strstr(x, "<scope>mfrom</scope>"));
	assert_non_null(strstr(x, "<envelope_to>example.org</envelope_to>"));
	free(x);

	assert_int_equal(dmarc_agg_report_id(a, &meta, id, sizeof(id)), 0);
	assert_string_equal(id, "1700006400.example.com@mx.example.org");
	assert_int_equal(dmarc_agg_filename(a, &meta, 1, fn, sizeof(fn)), 0);
	assert_string_equal(fn,
	    "mx.example.org!example.com!1700006400!1700092799.xml.gz");
	assert_int_equal(dmarc_agg_filename(a, &meta, 0, fn, sizeof(fn)), 0);
	assert_string_equal(fn,
	    "mx.example.org!example.com!1700006400!1700092799.xml");
	assert_int_equal(dmarc_agg_filename(a, &meta, 0, fn, 10), -1);
	dmarc_agg_free(a);
}

static void
test_no_policy_no_contact(void **state)
{
	struct dmarc_eval_record	 r;
	struct dmarc_agg		*a;
	struct dmarc_agg_meta		 m = meta;
	struct buf			 b;
	char				*x;

	/* No record: the schema still wants at least one <record>. */
	a = dmarc_agg_new("example.com", BEGIN, END);
	buf_init(&b, 4096);
	assert_int_equal(dmarc_agg_xml(a, &m, &b), -1);
	buf_free(&b);

	rec(&r, "192.0.2.1", 1);
	r.have_policy = 0;
	r.envelope_from[0] = '\0';
	r.envelope_to[0] = '\0';
	dmarc_agg_add(a, &r);
	m.contact = NULL;
	m.generator = NULL;
	buf_init(&b, DMARC_AGG_XML_MAX);
	assert_int_equal(dmarc_agg_xml(a, &m, &b), 0);
	x = buf_cstr(&b);
	assert_null(strstr(x, "extra_contact_info"));
	assert_null(strstr(x, "generator"));
	assert_null(strstr(x, "envelope_to"));
	assert_non_null(strstr(x, "<envelope_from></envelope_from>"));
	assert_non_null(strstr(x, "<domain>example.com</domain>\n"
	    "    <p>none</p>"));
	free(x);

	/* an output buffer too small fails, it does not truncate quietly */
	buf_init(&b, 200);
	assert_int_equal(dmarc_agg_xml(a, &m, &b), -1);
	buf_free(&b);
	dmarc_agg_free(a);
}

static void
test_row_bound(void **state)
{
	struct dmarc_eval_record	 r;
	struct dmarc_agg		*a;
	int				 i;

	a = dmarc_agg_new("example.com", BEGIN, END);
	rec(&r, "192.0.2.1", 1);
	for (i = 0; i < DMARC_AGG_ROWS_MAX; i++) {
		snprintf(r.source_ip, sizeof(r.source_ip), "10.%d.%d.%d",
		    i >> 16, (i >> 8) & 255, i & 255);
		assert_int_equal(dmarc_agg_add(a, &r), 0);
	}
	strlcpy(r.source_ip, "192.0.2.99", sizeof(r.source_ip));
	assert_int_equal(dmarc_agg_add(a, &r), -1);
	/* an existing row still counts */
	strlcpy(r.source_ip, "10.0.0.7", sizeof(r.source_ip));
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	assert_int_equal(dmarc_agg_rows(a), DMARC_AGG_ROWS_MAX);
	assert_int_equal(dmarc_agg_messages(a), DMARC_AGG_ROWS_MAX + 1);
	dmarc_agg_free(a);
}

static void
test_period(void **state)
{
	assert_int_equal(dmarc_agg_period_begin(BEGIN + 86399,
	    DMARC_AGG_PERIOD_DAILY), BEGIN);
	assert_int_equal(dmarc_agg_period_begin(BEGIN + 86400,
	    DMARC_AGG_PERIOD_DAILY), BEGIN + 86400);
	assert_int_equal(dmarc_agg_period_begin(BEGIN + 7199,
	    DMARC_AGG_PERIOD_HOURLY), BEGIN + 3600);
	assert_int_equal(dmarc_agg_period_begin(BEGIN + 5, 0), BEGIN);
}

/*
 * No reports about reports: a report of report mail only is told apart;
 * with other mail, report mail shares its rows (the flag is not part of a
 * row's tuple) and is counted in them.
 */
static void
test_report_mail(void **state)
{
	struct dmarc_agg		*a;
	struct dmarc_eval_record	 r;
	char				*x;

	a = dmarc_agg_new("example.com", BEGIN, BEGIN + 86400);
	assert_int_equal(dmarc_agg_only_report_mail(a), 0);	/* empty */
	rec(&r, "192.0.2.1", 1);
	r.report_mail = 1;
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	assert_int_equal(dmarc_agg_only_report_mail(a), 1);
	r.report_mail = 0;
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	assert_int_equal(dmarc_agg_only_report_mail(a), 0);
	assert_int_equal(dmarc_agg_rows(a), 1);
	assert_int_equal(dmarc_agg_messages(a), 3);
	x = xml(a);
	assert_non_null(strstr(x, "<count>3</count>"));
	free(x);
	dmarc_agg_free(a);
}

/*
 * Parts of a report (reportd/agg_parts.c): rows by range in the order of
 * the whole report, each part a complete report with its own id; part ids
 * and file names per RFC 9990 3.5.2 (unique-id of letters and digits).
 */
static void
test_parts(void **state)
{
	struct dmarc_agg		*a;
	struct dmarc_eval_record	 r;
	struct buf			 b;
	char				 id[DMARC_AGG_ID_MAX], fn[700], ip[32];
	char				*whole, *p1, *p2;
	const char			*c;
	size_t				 i;

	a = dmarc_agg_new("example.com", BEGIN, BEGIN + 86400);
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%zu", i + 1);
		rec(&r, ip, i % 2);
		assert_int_equal(dmarc_agg_add(a, &r), 0);
	}
	whole = xml(a);
	assert_int_equal(dmarc_agg_part_id(a, 0, 2, id, sizeof(id)), 0);
	assert_string_equal(id, "1700006400part1of2");
	for (c = id; *c != '\0'; c++)
		assert_true(isalnum((unsigned char)*c));
	buf_init(&b, DMARC_AGG_XML_MAX);
	assert_int_equal(dmarc_agg_xml_rows(a, &meta, id, 0, 2, &b), 0);
	p1 = buf_cstr(&b);
	assert_int_equal(dmarc_agg_part_id(a, 1, 2, id, sizeof(id)), 0);
	assert_string_equal(id, "1700006400part2of2");
	buf_init(&b, DMARC_AGG_XML_MAX);
	assert_int_equal(dmarc_agg_xml_rows(a, &meta, id, 2, 5, &b), 0);
	p2 = buf_cstr(&b);
	assert_int_equal(occurrences(p1, "<record>"), 2);
	assert_int_equal(occurrences(p2, "<record>"), 3);
	assert_non_null(strstr(p1, "<report_id>1700006400part1of2</report_id>"));
	assert_non_null(strstr(p2, "<report_id>1700006400part2of2</report_id>"));
	/* part 1 is the start of the whole report's rows, as they are */
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "<source_ip>192.0.2.%zu<", i + 1);
		assert_int_equal(occurrences(p1, ip) + occurrences(p2, ip), 1);
	}
	assert_int_equal(memcmp(strstr(whole, "<record>"),
	    strstr(p1, "<record>"), strstr(p1, "</feedback>") -
	    strstr(p1, "<record>")), 0);
	/* bad ranges, bad parts */
	buf_init(&b, DMARC_AGG_XML_MAX);
	assert_int_equal(dmarc_agg_xml_rows(a, &meta, id, 2, 2, &b), -1);
	assert_int_equal(dmarc_agg_xml_rows(a, &meta, id, 0, 6, &b), -1);
	buf_free(&b);
	assert_int_equal(dmarc_agg_part_id(a, 2, 2, id, sizeof(id)), -1);
	assert_int_equal(dmarc_agg_part_id(a, 0, 2, id, 5), -1);
	/* RFC 9990 3.5.2: receiver!domain!begin!end!unique-id.xml.gz */
	assert_int_equal(dmarc_agg_filename_id(a, &meta, "1700006400part1of2",
	    1, fn, sizeof(fn)), 0);
	assert_string_equal(fn, "mx.example.org!example.com!1700006400!"
	    "1700092799!1700006400part1of2.xml.gz");
	assert_int_equal(dmarc_agg_filename_id(a, &meta, NULL, 0, fn,
	    sizeof(fn)), 0);
	assert_string_equal(fn, "mx.example.org!example.com!1700006400!"
	    "1700092799.xml");
	/* a row added after the XML was written is in the next one */
	rec(&r, "192.0.2.0", 1);
	assert_int_equal(dmarc_agg_add(a, &r), 0);
	free(whole);
	whole = xml(a);
	assert_int_equal(occurrences(whole, "<record>"), 6);
	assert_non_null(strstr(whole, "<source_ip>192.0.2.0<"));
	free(whole);
	free(p1);
	free(p2);
	dmarc_agg_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_metadata_and_policy),
		cmocka_unit_test(test_no_policy_no_contact),
		cmocka_unit_test(test_row_bound),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_report_mail),
		cmocka_unit_test(test_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

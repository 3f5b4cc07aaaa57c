/*
 * reportd/rpt_dmarc.c: aggregate report XML in both schemas, what is
 * tolerated (namespaces, unknown elements, whitespace, missing optional
 * elements) and what is refused (DTDs, depth, sizes, bad values).
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

#define META	"<report_metadata><org_name>O</org_name><report_id>R" \
		"</report_id><date_range><begin>100</begin><end>200</end>" \
		"</date_range></report_metadata><policy_published><domain>" \
		"d.example</domain></policy_published>"
#define ROW(ip, n, d, k, s) "<record><row><source_ip>" ip "</source_ip>" \
		"<count>" n "</count><policy_evaluated><disposition>" d \
		"</disposition><dkim>" k "</dkim><spf>" s "</spf>" \
		"</policy_evaluated></row></record>"

static int
parse(const char *xml, struct rpt_dmarc *r, char *err)
{
	return rpt_dmarc_parse((const uint8_t *)xml, strlen(xml), r, err,
	    256);
}

static void
test_basic(void **state)
{
	struct rpt_dmarc	 r;
	char			 err[256];

	assert_int_equal(parse("<feedback>" META ROW("192.0.2.1", "3", "none",
	    "pass", "fail") ROW("2001:DB8:0:0::1", "4", "reject", "fail",
	    "pass") "</feedback>", &r, err), 0);
	assert_string_equal(r.org, "O");
	assert_string_equal(r.report_id, "R");
	assert_string_equal(r.domain, "d.example");
	assert_int_equal(r.begin, 100);
	assert_int_equal(r.end, 200);
	assert_int_equal(r.nrows, 2);
	assert_string_equal(r.rows[0].source_ip, "192.0.2.1");
	assert_int_equal(r.rows[0].count, 3);
	assert_string_equal(r.rows[0].disposition, "none");
	assert_string_equal(r.rows[0].dkim, "pass");
	assert_string_equal(r.rows[0].spf, "fail");
	assert_string_equal(r.rows[1].source_ip, "2001:db8::1");
	assert_string_equal(r.rows[1].disposition, "reject");
	rpt_dmarc_free(&r);
	/* the 2.0 namespace, a prefix, another namespace: all the same */
	assert_int_equal(parse("<feedback xmlns=\"urn:ietf:params:xml:ns:"
	    "dmarc-2.0\">" META ROW("192.0.2.1", "1", "pass", "pass", "pass")
	    "</feedback>", &r, err), 0);
	assert_int_equal(r.nrows, 1);
	rpt_dmarc_free(&r);
	assert_int_equal(parse("<x:feedback xmlns:x=\"http://dmarc.org/"
	    "dmarc-xml/0.1\"><x:report_metadata><x:report_id>Q</x:report_id>"
	    "<x:date_range><x:begin>1</x:begin><x:end>2</x:end>"
	    "</x:date_range></x:report_metadata><x:policy_published><x:domain>"
	    "e.example</x:domain></x:policy_published></x:feedback>", &r,
	    err), 0);
	assert_string_equal(r.report_id, "Q");
	assert_string_equal(r.domain, "e.example");
	assert_int_equal(r.nrows, 0);
	rpt_dmarc_free(&r);
}

static void
test_tolerant(void **state)
{
	struct rpt_dmarc	 r;
	char			 err[256];

	/* unknown elements anywhere, whitespace, odd case, results */
	assert_int_equal(parse("<?xml version=\"1.0\"?>\n<feedback>\n"
	    "<version>1.0</version><extension><a><b>c</b></a></extension>"
	    META "<record><row>\n <source_ip>\n 192.0.2.9 \n</source_ip>"
	    "<count> 12\t</count><policy_evaluated><disposition>Quarantine"
	    "</disposition><dkim>temperror</dkim><spf>PASS</spf><reason>"
	    "<type>other</type></reason></policy_evaluated><new_thing/>"
	    "</row><identifiers><header_from>d.example</header_from>"
	    "</identifiers></record></feedback>", &r, err), 0);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(r.rows[0].source_ip, "192.0.2.9");
	assert_int_equal(r.rows[0].count, 12);
	assert_string_equal(r.rows[0].disposition, "quarantine");
	assert_string_equal(r.rows[0].dkim, "fail");
	assert_string_equal(r.rows[0].spf, "pass");
	rpt_dmarc_free(&r);
	/* no policy_evaluated at all: empty disposition, results fail */
	assert_int_equal(parse("<feedback>" META "<record><row><source_ip>"
	    "192.0.2.9</source_ip><count>1</count></row></record>"
	    "</feedback>", &r, err), 0);
	assert_string_equal(r.rows[0].disposition, "");
	assert_string_equal(r.rows[0].dkim, "fail");
	rpt_dmarc_free(&r);
	/* Latin-1 declared: expat converts to UTF-8 */
	assert_int_equal(parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\""
	    "?><feedback><report_metadata><org_name>Caf\xe9</org_name>"
	    "<report_id>R</report_id><date_range><begin>1</begin><end>2</end>"
	    "</date_range></report_metadata><policy_published><domain>d"
	    "</domain></policy_published></feedback>", &r, err), 0);
	assert_string_equal(r.org, "Caf\xc3\xa9");
	rpt_dmarc_free(&r);
}

static void
test_refused(void **state)
{
	static const char *bad[] = {
		/* not a report */
		"<html>" META "</html>",
		"",
		"<feedback>",
		"not xml",
		/* missing what identifies a report */
		"<feedback><policy_published><domain>d</domain>"
		    "</policy_published></feedback>",
		"<feedback><report_metadata><report_id>R</report_id>"
		    "</report_metadata></feedback>",
		"<feedback><report_metadata><report_id>R</report_id>"
		    "<date_range><begin>1</begin></date_range>"
		    "</report_metadata><policy_published><domain>d</domain>"
		    "</policy_published></feedback>",
		"<feedback><report_metadata><report_id>R</report_id>"
		    "<date_range><begin>5</begin><end>1</end></date_range>"
		    "</report_metadata><policy_published><domain>d</domain>"
		    "</policy_published></feedback>",
		/* bad values */
		"<feedback>" META ROW("300.0.0.1", "1", "none", "pass",
		    "pass") "</feedback>",
		"<feedback>" META ROW("192.0.2.1", "-1", "none", "pass",
		    "pass") "</feedback>",
		"<feedback>" META ROW("192.0.2.1", "1.5", "none", "pass",
		    "pass") "</feedback>",
		"<feedback>" META ROW("192.0.2.1", "9007199254740993", "none",
		    "pass", "pass") "</feedback>",
		"<feedback>" META ROW("192.0.2.1", "1", "n o", "pass",
		    "pass") "</feedback>",
		"<feedback>" META "<record><row><count>1</count></row>"
		    "</record></feedback>",
		"<feedback>" META "<record><row><source_ip>192.0.2.1"
		    "</source_ip></row></record></feedback>",
		"<feedback>" META "<record><identifiers/></record></feedback>",
		"<feedback><report_metadata><report_id>R<b/></report_id>"
		    "</report_metadata></feedback>",
		"<feedback><report_metadata><report_id>R\x01</report_id>"
		    "</report_metadata></feedback>",
		/* DTDs, entities */
		"<!DOCTYPE feedback><feedback>" META "</feedback>",
		"<!DOCTYPE f [<!ENTITY a \"b\">]><feedback>" META "</feedback>",
		"<!DOCTYPE f SYSTEM \"http://evil.example/x.dtd\"><feedback>"
		    META "</feedback>",
		/* invalid UTF-8 */
		"<feedback><report_metadata><org_name>\xff</org_name>"
		    "</report_metadata></feedback>",
		"<feedback><report_metadata><org_name>\xc0\xaf</org_name>"
		    "</report_metadata></feedback>",
	};
	struct rpt_dmarc	 r;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i], &r, err) != -1)
			fail_msg("accepted #%zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
		assert_null(r.rows);
	}
}

static void
test_limits(void **state)
{
	struct rpt_dmarc	 r;
	struct buf		 b;
	char			 err[256];
	int			 i;

	buf_init(&b, 4 << 20);
	/* nesting: just under the limit passes, past it fails */
	buf_addstr(&b, "<feedback>" META);
	for (i = 0; i < RPT_XML_DEPTH_MAX - 2; i++)
		buf_addstr(&b, "<x>");
	for (i = 0; i < RPT_XML_DEPTH_MAX - 2; i++)
		buf_addstr(&b, "</x>");
	buf_addstr(&b, "</feedback>");
	assert_int_equal(parse(buf_cstr(&b), &r, err), 0);
	rpt_dmarc_free(&r);
	buf_reset(&b);
	buf_addstr(&b, "<feedback>" META);
	for (i = 0; i < RPT_XML_DEPTH_MAX; i++)
		buf_addstr(&b, "<x>");
	for (i = 0; i < RPT_XML_DEPTH_MAX; i++)
		buf_addstr(&b, "</x>");
	buf_addstr(&b, "</feedback>");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "deeper"));
	/* rows: the limit passes, one more fails */
	buf_reset(&b);
	buf_addstr(&b, "<feedback>" META);
	for (i = 0; i < RPT_ROWS_MAX; i++)
		buf_addstr(&b, ROW("192.0.2.1", "1", "none", "pass", "pass"));
	assert_int_equal(rpt_dmarc_parse(b.data, b.len + 0, &r, err,
	    sizeof(err)), -1);		/* not closed yet */
	buf_addstr(&b, "</feedback>");
	assert_int_equal(parse(buf_cstr(&b), &r, err), 0);
	assert_int_equal(r.nrows, RPT_ROWS_MAX);
	rpt_dmarc_free(&r);
	b.len -= strlen("</feedback>");
	buf_addstr(&b, ROW("192.0.2.1", "1", "none", "pass", "pass")
	    "</feedback>");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	assert_non_null(strstr(err, "rows"));
	/* a value past its limit */
	buf_reset(&b);
	buf_addstr(&b, "<feedback><report_metadata><org_name>");
	for (i = 0; i < 2000; i++)
		buf_addstr(&b, "a");
	buf_addstr(&b, "</org_name></report_metadata></feedback>");
	assert_int_equal(parse(buf_cstr(&b), &r, err), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_tolerant),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * reportd/report_dest.c: the DMARC record of a TXT answer (one, not
 * several, not a broken one), the authorization record of RFC 9990 4
 * ("v=DMARC1" then ';' or space or the end; failed, bogus or NXDOMAIN
 * answers authorize nothing), and which destinations are inside the
 * Policy Domain (itself, its parents and children; not its siblings).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "reportd/report_dest.h"

#define MAXRR	4

static struct dns_rr		 rrs[MAXRR];
static struct dns_txt_str	 strs[MAXRR];
static struct dns_answer	 ans;

/* An answer of n TXT records, each one string. */
static const struct dns_answer *
answer(size_t n, const char *const *txt)
{
	size_t	 i;

	memset(&ans, 0, sizeof(ans));
	memset(rrs, 0, sizeof(rrs));
	ans.rcode = DNS_R_NOERROR;
	ans.sec = DNS_SEC_INSECURE;
	for (i = 0; i < n && i < MAXRR; i++) {
		strs[i].data = (const uint8_t *)txt[i];
		strs[i].len = strlen(txt[i]);
		rrs[i].type = DNS_T_TXT;
		rrs[i].u.txt.nstr = 1;
		rrs[i].u.txt.str = &strs[i];
	}
	ans.nrr = i;
	ans.rr = rrs;
	return &ans;
}

static void
test_record(void **state)
{
	static const char *const one[] = { "v=DMARC1; p=none; "
		"ruf=mailto:a@example.org; fo=1" };
	static const char *const two[] = { "v=DMARC1; p=none",
		"v=DMARC1; p=reject" };
	static const char *const other[] = { "v=spf1 -all",
		"v=DMARC1; p=quarantine" };
	static const char *const bad[] = { "v=DMARC2; p=none" };
	struct dmarc_record	*r;

	assert_non_null(r = report_dmarc_record(answer(1, one)));
	assert_int_equal(r->nruf, 1);
	assert_int_equal(r->fo, DMARC_FO_1);
	free(r);
	/* RFC 9989 4.10: two records are none */
	assert_null(report_dmarc_record(answer(2, two)));
	/* what is not a DMARC record is not counted */
	assert_non_null(r = report_dmarc_record(answer(2, other)));
	free(r);
	assert_null(report_dmarc_record(answer(1, bad)));
	assert_null(report_dmarc_record(answer(0, NULL)));
}

static void
test_authorized(void **state)
{
	static const char *const yes[] = { "v=DMARC1" };
	static const char *const yes2[] = { "other", "v=DMARC1; x=y" };
	static const char *const no[] = { "v=DMARC10" };
	static const char *const no2[] = { "v=dmarc1" };

	assert_int_equal(report_authorized(answer(1, yes)), 1);
	assert_int_equal(report_authorized(answer(2, yes2)), 1);
	assert_int_equal(report_authorized(answer(1, no)), 0);
	assert_int_equal(report_authorized(answer(1, no2)), 0);
	assert_int_equal(report_authorized(answer(0, NULL)), 0);
	answer(1, yes);
	ans.sec = DNS_SEC_BOGUS;
	assert_int_equal(report_authorized(&ans), 0);
	answer(1, yes);
	ans.failed = 1;
	assert_int_equal(report_authorized(&ans), 0);
	answer(1, yes);
	ans.rcode = DNS_R_NXDOMAIN;
	assert_int_equal(report_authorized(&ans), 0);
}

static void
test_inside(void **state)
{
	assert_int_equal(report_dest_inside("a@example.org", "example.org"),
	    1);
	assert_int_equal(report_dest_inside("a@Mail.EXAMPLE.org",
	    "example.org"), 1);
	assert_int_equal(report_dest_inside("a@example.org",
	    "sub.example.org"), 1);
	assert_int_equal(report_dest_inside("a@other.example.org",
	    "sub.example.org"), 0);
	assert_int_equal(report_dest_inside("a@badexample.org",
	    "example.org"), 0);
	assert_int_equal(report_dest_inside("a@example.net", "example.org"),
	    0);
}

static void
test_auth_name(void **state)
{
	char	 name[256], dom[300];

	assert_int_equal(report_auth_name("a.test", "rua@rcv.test", name,
	    sizeof(name)), 0);
	assert_string_equal(name, "a.test._report._dmarc.rcv.test");
	/* longer than a domain name may be: no query */
	memset(dom, 'x', 240);
	strlcpy(dom + 240, ".test", sizeof(dom) - 240);
	assert_int_equal(report_auth_name(dom, "rua@rcv.test", name,
	    sizeof(name)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_authorized),
		cmocka_unit_test(test_inside),
		cmocka_unit_test(test_auth_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

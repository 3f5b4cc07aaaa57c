/*
 * auth/iprev.c (RFC 8601 3, 2.7.3): forward-confirmed reverse DNS against
 * an offline zone: IPv4, IPv6 and IPv4-mapped clients, several PTR names,
 * names that do not resolve back, NXDOMAIN and empty PTR answers, SERVFAIL
 * and timeouts on either query, the bound on PTR names, the HELO match, the
 * asynchronous API and the Authentication-Results method it fills.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "util.h"
#include "auth/authres.h"
#include "auth/iprev.h"

#define V6PTR(last)	last ".0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0." \
			    "8.b.d.0.1.0.0.2.ip6.arpa."

static const char zone_text[] =
    "$TTL 300\n"
    "$ORIGIN example.test.\n"
    /* 192.0.2.1: one name that confirms */
    "1.2.0.192.in-addr.arpa. PTR mail.example.test.\n"
    "mail A 192.0.2.1\n"
    "mail A 192.0.2.100\n"
    /* 192.0.2.2: the name points elsewhere */
    "2.2.0.192.in-addr.arpa. PTR liar.example.test.\n"
    "liar A 192.0.2.99\n"
    /* 192.0.2.3: no PTR at all (NXDOMAIN) */
    /* 192.0.2.4: the reverse name exists without PTR data */
    "4.2.0.192.in-addr.arpa. TXT \"no ptr here\"\n"
    /* 192.0.2.5: several names, the second confirms */
    "5.2.0.192.in-addr.arpa. PTR a.multi.example.test.\n"
    "5.2.0.192.in-addr.arpa. PTR b.multi.example.test.\n"
    "5.2.0.192.in-addr.arpa. PTR c.multi.example.test.\n"
    "a.multi A 192.0.2.77\n"
    "b.multi A 192.0.2.5\n"
    /* 192.0.2.6: PTR query SERVFAIL; 192.0.2.7: PTR query times out */
    "$SERVFAIL 6.2.0.192.in-addr.arpa.\n"
    "$TIMEOUT 7.2.0.192.in-addr.arpa.\n"
    /* 192.0.2.8: the only forward query fails */
    "8.2.0.192.in-addr.arpa. PTR broken.example.test.\n"
    "$SERVFAIL broken.example.test.\n"
    /* 192.0.2.9: one forward query fails, another confirms */
    "9.2.0.192.in-addr.arpa. PTR broken.example.test.\n"
    "9.2.0.192.in-addr.arpa. PTR good9.example.test.\n"
    "good9 A 192.0.2.9\n"
    /* 192.0.2.10: one times out, another does not confirm */
    "10.2.0.192.in-addr.arpa. PTR slow.example.test.\n"
    "10.2.0.192.in-addr.arpa. PTR liar.example.test.\n"
    "$TIMEOUT slow.example.test.\n"
    /* 192.0.2.11: the name does not exist */
    "11.2.0.192.in-addr.arpa. PTR gone.example.test.\n"
    /* 192.0.2.12: two names confirm */
    "12.2.0.192.in-addr.arpa. PTR first.example.test.\n"
    "12.2.0.192.in-addr.arpa. PTR second.example.test.\n"
    "first A 192.0.2.12\n"
    "second A 192.0.2.12\n"
    /* 192.0.2.13: confirmed through a CNAME */
    "13.2.0.192.in-addr.arpa. PTR alias.example.test.\n"
    "alias CNAME real\n"
    "real A 192.0.2.13\n"
    /* 192.0.2.14: 11 names, only the 11th confirms */
    "14.2.0.192.in-addr.arpa. PTR n0.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n1.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n2.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n3.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n4.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n5.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n6.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n7.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n8.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n9.example.test.\n"
    "14.2.0.192.in-addr.arpa. PTR n10.example.test.\n"
    "n10 A 192.0.2.14\n"
    /* 192.0.2.15: 10 names, the 10th confirms */
    "15.2.0.192.in-addr.arpa. PTR m0.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m1.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m2.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m3.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m4.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m5.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m6.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m7.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m8.example.test.\n"
    "15.2.0.192.in-addr.arpa. PTR m9.example.test.\n"
    "m9 A 192.0.2.15\n"
    /* 192.0.2.20: RFC 2317 classless delegation, the PTR behind a CNAME */
    "20.2.0.192.in-addr.arpa. CNAME 20.16-31.2.0.192.in-addr.arpa.\n"
    "20.16-31.2.0.192.in-addr.arpa. PTR classless.example.test.\n"
    "classless A 192.0.2.20\n"
    /* IPv6: 2001:db8::25 confirms by AAAA, 2001:db8::26 has only an A */
    V6PTR("5.2") " PTR v6.example.test.\n"
    "v6 AAAA 2001:db8::25\n"
    V6PTR("6.2") " PTR v4only.example.test.\n"
    "v4only A 192.0.2.26\n"
    /* 2001:db8::27: PTR SERVFAIL */
    "$SERVFAIL " V6PTR("7.2") "\n";

static struct dns_ctx	*dns;

static int
group_setup(void **state)
{
	char	 err[512];

	dns = dns_ctx_zone_mem(NULL, zone_text, sizeof(zone_text) - 1, err,
	    sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	dns_ctx_free(dns);
	return 0;
}

/*
 * One check; want_name is the confirmed name ("" for none), want_reason a
 * substring of the reason when given.
 */
static void
expect(const char *ip, const char *helo, enum iprev_result want,
    const char *want_name, const char *want_reason)
{
	struct iprev_params	 p;
	struct iprev_outcome	 o;

	memset(&p, 0, sizeof(p));
	p.ip = ip;
	p.helo = helo;
	p.trace = 1;
	iprev_check_sync(dns, &p, &o);
	if (o.result != want || strcmp(o.name, want_name) != 0 ||
	    (want_reason != NULL && strstr(o.reason, want_reason) == NULL)) {
		fprintf(stderr, "ip %s: got %s [%s] (%s), want %s [%s] (%s)\n"
		    "%s", ip ? ip : "(null)", iprev_result_name(o.result),
		    o.name, o.reason, iprev_result_name(want), want_name,
		    want_reason ? want_reason : "", o.trace ? o.trace : "");
		fail();
	}
	iprev_outcome_clear(&o);
}

static void
test_pass_fail(void **state)
{
	expect("192.0.2.1", NULL, IPREV_PASS, "mail.example.test",
	    "mail.example.test resolves back to 192.0.2.1");
	expect("192.0.2.2", NULL, IPREV_FAIL, "", "no PTR name");
	/* a name that does not exist cannot confirm */
	expect("192.0.2.11", NULL, IPREV_FAIL, "", NULL);
	/* CNAMEs are followed on the forward query */
	expect("192.0.2.13", NULL, IPREV_PASS, "alias.example.test", NULL);
	/* and on the reverse one (RFC 2317) */
	expect("192.0.2.20", NULL, IPREV_PASS, "classless.example.test",
	    NULL);
}

static void
test_no_ptr(void **state)
{
	/* RFC 8601 2.7.3: no PTR data published is a permerror */
	expect("192.0.2.3", NULL, IPREV_PERMERROR, "", "NXDOMAIN");
	expect("192.0.2.4", NULL, IPREV_PERMERROR, "", "no data");
}

static void
test_several_names(void **state)
{
	struct iprev_params	 p;
	struct iprev_outcome	 o;

	expect("192.0.2.5", NULL, IPREV_PASS, "b.multi.example.test", NULL);
	/* the first confirmed name in PTR order, unless HELO names another */
	expect("192.0.2.12", "mx.elsewhere.test", IPREV_PASS,
	    "first.example.test", NULL);
	expect("192.0.2.12", "Second.Example.Test.", IPREV_PASS,
	    "second.example.test", NULL);

	memset(&p, 0, sizeof(p));
	p.ip = "192.0.2.12";
	p.helo = "SECOND.example.test.";
	iprev_check_sync(dns, &p, &o);
	assert_true(o.helo_match);
	assert_int_equal(o.nnames, 2);
	assert_null(o.trace);
	iprev_outcome_clear(&o);
	p.helo = "first.example.test";
	iprev_check_sync(dns, &p, &o);
	assert_true(o.helo_match);
	assert_string_equal(o.name, "first.example.test");
	p.helo = "second.example";
	iprev_check_sync(dns, &p, &o);
	assert_false(o.helo_match);
	p.helo = "[192.0.2.12]";
	iprev_check_sync(dns, &p, &o);
	assert_false(o.helo_match);
	assert_int_equal(o.result, IPREV_PASS);
	/* no HELO: never a match */
	p.helo = NULL;
	iprev_check_sync(dns, &p, &o);
	assert_false(o.helo_match);
}

static void
test_name_bound(void **state)
{
	struct iprev_params	 p;
	struct iprev_outcome	 o;

	/* only the first IPREV_MAX_NAMES names are tried */
	expect("192.0.2.14", NULL, IPREV_FAIL, "", NULL);
	expect("192.0.2.15", NULL, IPREV_PASS, "m9.example.test", NULL);

	memset(&p, 0, sizeof(p));
	p.ip = "192.0.2.14";
	p.trace = 1;
	iprev_check_sync(dns, &p, &o);
	assert_int_equal(o.nnames, 11);
	assert_non_null(strstr(o.trace, "only the first 10 of 11"));
	assert_null(strstr(o.trace, "n10.example.test"));
	iprev_outcome_clear(&o);
}

static void
test_temperror(void **state)
{
	expect("192.0.2.6", NULL, IPREV_TEMPERROR, "", "SERVFAIL");
	expect("192.0.2.7", NULL, IPREV_TEMPERROR, "", "timeout");
	expect("192.0.2.8", NULL, IPREV_TEMPERROR, "",
	    "SERVFAIL for broken.example.test A");
	/* a confirmed name wins over a failed query */
	expect("192.0.2.9", NULL, IPREV_PASS, "good9.example.test", NULL);
	/* a failed query with no confirmation is not a fail */
	expect("192.0.2.10", NULL, IPREV_TEMPERROR, "", "timeout");
	expect("2001:db8::27", NULL, IPREV_TEMPERROR, "", "SERVFAIL");
}

static void
test_ipv6(void **state)
{
	struct iprev_params	 p;
	struct iprev_outcome	 o;

	expect("2001:db8::25", "v6.example.test", IPREV_PASS,
	    "v6.example.test", NULL);
	expect("2001:0DB8:0:0::25", NULL, IPREV_PASS, "v6.example.test",
	    NULL);
	/* an A record does not confirm an IPv6 client */
	expect("2001:db8::26", NULL, IPREV_FAIL, "", NULL);
	expect("2001:db8::28", NULL, IPREV_PERMERROR, "", "NXDOMAIN");
	/* IPv4-mapped is checked as IPv4 */
	expect("::ffff:192.0.2.1", NULL, IPREV_PASS, "mail.example.test",
	    NULL);

	memset(&p, 0, sizeof(p));
	p.ip = "::FFFF:192.0.2.1";
	p.trace = 1;
	iprev_check_sync(dns, &p, &o);
	assert_string_equal(o.ip, "192.0.2.1");
	assert_non_null(strstr(o.trace, "1.2.0.192.in-addr.arpa PTR"));
	iprev_outcome_clear(&o);
	p.ip = "2001:DB8::25";
	iprev_check_sync(dns, &p, &o);
	assert_string_equal(o.ip, "2001:db8::25");
	assert_non_null(strstr(o.trace, "query 5.2.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR"));
	iprev_outcome_clear(&o);
}

static void
test_bad_ip(void **state)
{
	expect("not-an-ip", NULL, IPREV_PERMERROR, "", "invalid IP");
	expect("", NULL, IPREV_PERMERROR, "", "invalid IP");
	expect(NULL, NULL, IPREV_PERMERROR, "", "invalid IP");
	expect("192.0.2.1 ", NULL, IPREV_PERMERROR, "", "invalid IP");
	expect("192.0.2.1/24", NULL, IPREV_PERMERROR, "", "invalid IP");
	expect("2001:db8::1%eth0", NULL, IPREV_PERMERROR, "", "invalid IP");
	expect("0000000000000000000000000000000000000000000000000000000001",
	    NULL, IPREV_PERMERROR, "", "invalid IP");
}

struct async_state {
	int			 calls;
	enum iprev_result	 result;
	char			 name[DNS_NAME_BUF];
};

static void
async_done(void *arg, const struct iprev_outcome *o)
{
	struct async_state	*s = arg;

	s->calls++;
	s->result = o->result;
	strlcpy(s->name, o->name, sizeof(s->name));
}

static void
test_async(void **state)
{
	struct iprev_params	 p;
	struct async_state	 s, c;
	struct iprev_eval	*e;

	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	p.ip = "192.0.2.5";
	iprev_eval_start(dns, &p, async_done, &s);
	/* a cancelled evaluation never reports */
	e = iprev_eval_start(dns, &p, async_done, &c);
	/* the callback never runs from inside the start */
	assert_int_equal(s.calls, 0);
	iprev_eval_cancel(e);
	while (s.calls == 0)
		assert_int_not_equal(dns_run_once(dns), -1);
	assert_int_equal(s.result, IPREV_PASS);
	assert_string_equal(s.name, "b.multi.example.test");
	/* cancel in the middle: after the PTR answer, forward queries out */
	e = iprev_eval_start(dns, &p, async_done, &c);
	assert_int_not_equal(dns_run_once(dns), -1);
	iprev_eval_cancel(e);
	while (dns_pending(dns) > 0)
		assert_int_not_equal(dns_run_once(dns), -1);
	assert_int_equal(c.calls, 0);
	assert_int_equal(s.calls, 1);
}

static void
test_authres_method(void **state)
{
	struct iprev_params	 p;
	struct iprev_outcome	 o;
	struct authres_method	 m;
	struct authres_prop	 prop;
	struct authres		 ar;
	struct buf		 b;

	memset(&p, 0, sizeof(p));
	p.ip = "::ffff:192.0.2.1";
	iprev_check_sync(dns, &p, &o);
	iprev_authres_method(&o, &m, &prop);
	memset(&ar, 0, sizeof(ar));
	ar.authserv_id = "mx.example.net";
	ar.nmethods = 1;
	ar.methods = &m;
	buf_init(&b, 4096);
	assert_int_equal(authres_write(&ar, &b), 0);
	assert_string_equal(buf_cstr(&b),
	    "Authentication-Results: mx.example.net;\r\n"
	    "\tiprev=pass (mail.example.test) policy.iprev=192.0.2.1\r\n");
	iprev_outcome_clear(&o);

	p.ip = "192.0.2.2";
	iprev_check_sync(dns, &p, &o);
	iprev_authres_method(&o, &m, &prop);
	buf_reset(&b);
	assert_int_equal(authres_write(&ar, &b), 0);
	/* the reason does not fit the line: folded before it */
	assert_string_equal(buf_cstr(&b),
	    "Authentication-Results: mx.example.net;\r\n"
	    "\tiprev=fail\r\n"
	    "\treason=\"no PTR name of 192.0.2.2 resolves back to it "
	    "(liar.example.test)\"\r\n"
	    "\tpolicy.iprev=192.0.2.2\r\n");
	iprev_outcome_clear(&o);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_fail),
		cmocka_unit_test(test_no_ptr),
		cmocka_unit_test(test_several_names),
		cmocka_unit_test(test_name_bound),
		cmocka_unit_test(test_temperror),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_authres_method),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

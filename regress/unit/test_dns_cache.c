/*
 * lib/dns_cache.c: answers come back until their TTL runs out (capped at
 * DNS_CACHE_TTL_MAX), keyed by name and type; failures, SERVFAIL and
 * bogus answers are never kept; the number of entries stays bounded.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "dns_cache.h"

static struct dns_answer *
answer(const char *name, uint16_t type, int rcode)
{
	static const uint8_t	 a[4] = { 192, 0, 2, 1 };
	struct dns_answer	*ans;
	struct dns_rr		 rr;

	ans = calloc(1, sizeof(*ans));
	assert_non_null(ans);
	strlcpy(ans->qname, name, sizeof(ans->qname));
	strlcpy(ans->canonname, name, sizeof(ans->canonname));
	ans->qtype = type;
	ans->rcode = rcode;
	ans->sec = DNS_SEC_SECURE;
	if (rcode == DNS_R_NOERROR && type == DNS_T_A) {
		memset(&rr, 0, sizeof(rr));
		assert_int_equal(dns_rdata_decode(DNS_T_A, a, sizeof(a), &rr),
		    0);
		rr.ttl = 60;
		ans->rr = &rr;
		ans->nrr = 1;
		/* the cache keeps its own copy: ours goes away */
		{
			struct dns_answer *d = dns_answer_dup(ans);

			free(ans);
			ans = d;
		}
	}
	return ans;
}

static void
test_ttl(void **state)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_answer	*in, *out;

	in = answer("host.example.test", DNS_T_A, DNS_R_NOERROR);
	dns_cache_put(c, in, 5, 100);
	dns_answer_free(in);
	out = dns_cache_get(c, "host.example.test", DNS_T_A, 104);
	assert_non_null(out);
	assert_int_equal(out->nrr, 1);
	assert_int_equal(out->rr[0].u.a.s_addr, htonl(0xc0000201));
	assert_int_equal(out->sec, DNS_SEC_SECURE);
	dns_answer_free(out);
	/* another type, another name: not there */
	assert_null(dns_cache_get(c, "host.example.test", DNS_T_AAAA, 104));
	assert_null(dns_cache_get(c, "other.example.test", DNS_T_A, 104));
	/* the TTL ran out */
	assert_null(dns_cache_get(c, "host.example.test", DNS_T_A, 105));
	assert_int_equal(dns_cache_hits(c), 1);

	/* a day's TTL is kept DNS_CACHE_TTL_MAX seconds */
	in = answer("long.example.test", DNS_T_TXT, DNS_R_NXDOMAIN);
	dns_cache_put(c, in, 86400, 0);
	dns_answer_free(in);
	out = dns_cache_get(c, "long.example.test", DNS_T_TXT,
	    DNS_CACHE_TTL_MAX - 1);
	assert_non_null(out);
	assert_int_equal(out->rcode, DNS_R_NXDOMAIN);
	dns_answer_free(out);
	assert_null(dns_cache_get(c, "long.example.test", DNS_T_TXT,
	    DNS_CACHE_TTL_MAX));
	dns_cache_free(c);
}

static void
test_not_kept(void **state)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_answer	*in;

	in = answer("a.example.test", DNS_T_A, DNS_R_SERVFAIL);
	dns_cache_put(c, in, 60, 0);
	in->rcode = DNS_R_REFUSED;
	dns_cache_put(c, in, 60, 0);
	in->rcode = DNS_R_NOERROR;
	in->failed = 1;
	dns_cache_put(c, in, 60, 0);
	in->failed = 0;
	in->timeout = 1;
	dns_cache_put(c, in, 60, 0);
	in->timeout = 0;
	in->sec = DNS_SEC_BOGUS;
	dns_cache_put(c, in, 60, 0);
	in->sec = DNS_SEC_INSECURE;
	dns_cache_put(c, in, 0, 0);		/* TTL 0: not to be kept */
	assert_null(dns_cache_get(c, "a.example.test", DNS_T_A, 0));
	/* a definite answer is */
	dns_cache_put(c, in, 60, 0);
	dns_answer_free(in);
	in = dns_cache_get(c, "a.example.test", DNS_T_A, 0);
	assert_non_null(in);
	assert_int_equal(in->sec, DNS_SEC_INSECURE);
	dns_answer_free(in);
	dns_cache_free(c);
}

/* A newer answer replaces the older; entries never pass the bound. */
static void
test_bounded(void **state)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_answer	*in, *out;
	char			 name[64];
	size_t			 i, held = 0;

	in = answer("r.example.test", DNS_T_A, DNS_R_NXDOMAIN);
	dns_cache_put(c, in, 10, 0);
	in->rcode = DNS_R_NOERROR;
	dns_cache_put(c, in, 10, 0);
	dns_answer_free(in);
	out = dns_cache_get(c, "r.example.test", DNS_T_A, 1);
	assert_int_equal(out->rcode, DNS_R_NOERROR);
	dns_answer_free(out);

	for (i = 0; i < DNS_CACHE_MAX + 10; i++) {
		snprintf(name, sizeof(name), "n%zu.example.test", i);
		in = answer(name, DNS_T_A, DNS_R_NXDOMAIN);
		dns_cache_put(c, in, 60, 0);
		dns_answer_free(in);
	}
	for (i = 0; i < DNS_CACHE_MAX + 10; i++) {
		snprintf(name, sizeof(name), "n%zu.example.test", i);
		if ((out = dns_cache_get(c, name, DNS_T_A, 1)) != NULL) {
			held++;
			dns_answer_free(out);
		}
	}
	assert_true(held > 0 && held <= DNS_CACHE_MAX);
	/* the last one put is there */
	snprintf(name, sizeof(name), "n%d.example.test", DNS_CACHE_MAX + 9);
	out = dns_cache_get(c, name, DNS_T_A, 1);
	assert_non_null(out);
	dns_answer_free(out);
	dns_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_not_kept),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * mta/mxres.c, offline against an in-memory zone: MX sorting and the
 * random order among equal preferences (through the hook, and for real),
 * the implicit MX, NXDOMAIN, null MX (alone and among other MX records),
 * MX hosts without address or failing, MX to a CNAME, CNAME at the domain,
 * CNAME loops, IPv6-only hosts, the family filter, the address order and
 * cap, our own name among the MX hosts, a list of 1000 MX names, address
 * literals, smarthosts, the synchronous wrapper, callbacks only from the
 * loop, cancel (run the SANITIZE=1 build to see that nothing leaks), and
 * the loop checks: loopback, unspecified and our own listening addresses
 * (RFC 5321 5.1).
 *
 * The zone source cannot answer "secure" or "bogus": DNSSEC status and
 * bogus MX/address answers need the nsd test bed (regress/dnsbed.py).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <event.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "mta/mxres.h"

static const char zone_text[] =
    "$ORIGIN test.\n"
    "$TTL 300\n"
    "single		MX 10 mx.single\n"
    "mx.single	A 192.0.2.10\n"
    "mx.single	AAAA 2001:db8::10\n"
    /* several preferences, listed out of order */
    "prefs		MX 30 c.prefs\n"
    "prefs		MX 10 a.prefs\n"
    "prefs		MX 20 b.prefs\n"
    "a.prefs		A 192.0.2.1\n"
    "b.prefs		A 192.0.2.2\n"
    "c.prefs		A 192.0.2.3\n"
    /* equal preferences */
    "equal		MX 10 e3.equal\n"
    "equal		MX 20 e4.equal\n"
    "equal		MX 10 e1.equal\n"
    "equal		MX 10 e2.equal\n"
    "e1.equal	A 192.0.2.11\n"
    "e2.equal	A 192.0.2.12\n"
    "e3.equal	A 192.0.2.13\n"
    "e4.equal	A 192.0.2.14\n"
    /* no MX: implicit */
    "implicit	A 192.0.2.50\n"
    "implicit	AAAA 2001:db8::50\n"
    "noaddr		TXT \"no mail here\"\n"
    /* null MX; the A record must not be used */
    "nullmx		MX 0 .\n"
    "nullmx		A 192.0.2.99\n"
    "mixednull	MX 0 .\n"
    "mixednull	MX 10 mx.mixednull\n"
    "mx.mixednull	A 192.0.2.77\n"
    /* MX hosts without address */
    "missing		MX 10 gone.missing\n"
    "missing		MX 20 noa.missing\n"
    "noa.missing	TXT \"no address\"\n"
    "partial		MX 10 gone.partial\n"
    "partial		MX 20 ok.partial\n"
    "ok.partial	A 192.0.2.20\n"
    "tempmx		MX 10 broken.tempmx\n"
    "tempmx		MX 20 gone.tempmx\n"
    "tempok		MX 10 broken.tempok\n"
    "tempok		MX 20 ok.tempok\n"
    "ok.tempok	A 192.0.2.21\n"
    "$SERVFAIL broken.tempmx.test.\n"
    "$SERVFAIL broken.tempok.test.\n"
    "$SERVFAIL failmx.test.\n"
    "$TIMEOUT slowmx.test.\n"
    /* MX to a CNAME */
    "aliasmx		MX 10 alias.aliasmx\n"
    "alias.aliasmx	CNAME real.aliasmx\n"
    "real.aliasmx	A 192.0.2.30\n"
    /* CNAME at the domain */
    "cnamedom	CNAME target.cnamedom\n"
    "target.cnamedom	MX 10 mx.target.cnamedom\n"
    "mx.target.cnamedom A 192.0.2.40\n"
    "cnameimp	CNAME hostimp\n"
    "hostimp		A 192.0.2.41\n"
    "dangling	CNAME nowhere.example.\n"
    "loop1		CNAME loop2\n"
    "loop2		CNAME loop1\n"
    "mxloop		MX 10 l1.mxloop\n"
    "l1.mxloop	CNAME l2.mxloop\n"
    "l2.mxloop	CNAME l1.mxloop\n"
    /* families */
    "v6only		MX 10 mx.v6only\n"
    "mx.v6only	AAAA 2001:db8::60\n"
    "many		MX 10 mx.many\n"
    "mx.many		A 192.0.2.101\n"
    "mx.many		A 192.0.2.102\n"
    "mx.many		A 192.0.2.103\n"
    "mx.many		A 192.0.2.104\n"
    "mx.many		A 192.0.2.105\n"
    "mx.many		A 192.0.2.106\n"
    "mx.many		A 192.0.2.107\n"
    "mx.many		A 192.0.2.108\n"
    "mx.many		A 192.0.2.109\n"
    "mx.many		A 192.0.2.110\n"
    "mx.many		AAAA 2001:db8::101\n"
    "mx.many		AAAA 2001:db8::102\n"
    "mx.many		AAAA 2001:db8::103\n"
    "mx.many		AAAA 2001:db8::104\n"
    "mx.many		AAAA 2001:db8::105\n"
    "mx.many		AAAA 2001:db8::106\n"
    "mx.many		AAAA 2001:db8::107\n"
    "mx.many		AAAA 2001:db8::108\n"
    "mx.many		AAAA 2001:db8::109\n"
    "mx.many		AAAA 2001:db8::110\n"
    /* our own name */
    "self		MX 10 mx1.self\n"
    "self		MX 20 mx2.self\n"
    "self		MX 20 peer.self\n"
    "self		MX 30 mx3.self\n"
    "mx1.self	A 192.0.2.81\n"
    "mx2.self	A 192.0.2.82\n"
    "peer.self	A 192.0.2.84\n"
    "mx3.self	A 192.0.2.83\n"
    /* the same exchange twice */
    "dup		MX 30 d.dup\n"
    "dup		MX 10 d.dup\n"
    "dup		MX 20 other.dup\n"
    "d.dup		A 192.0.2.91\n"
    "other.dup	A 192.0.2.92\n"
    /* smarthosts */
    "smart		A 192.0.2.200\n"
    "smart		AAAA 2001:db8::200\n"
    "mxonly		MX 10 mx.single\n"
    "$SERVFAIL smartfail.test.\n"
    /* loops: MX hosts on loopback, unspecified and our own addresses */
    "loopmx		MX 10 mx.loopmx\n"
    "mx.loopmx	A 127.0.0.25\n"
    "mx.loopmx	AAAA ::1\n"
    "mapped		MX 10 mx.mapped\n"
    "mx.mapped	AAAA ::ffff:127.0.0.1\n"
    "zero		MX 10 mx.zero\n"
    "mx.zero		A 0.0.0.0\n"
    "mx.zero		AAAA ::\n"
    "partlo		MX 10 mx.partlo\n"
    "mx.partlo	A 127.0.0.9\n"
    "mx.partlo	A 192.0.2.140\n"
    "lofirst		MX 10 lo.lofirst\n"
    "lofirst		MX 20 ok.lofirst\n"
    "lo.lofirst	A 127.0.0.1\n"
    "ok.lofirst	A 192.0.2.141\n"
    "lotemp		MX 10 lo.lotemp\n"
    "lotemp		MX 20 broken.lotemp\n"
    "lo.lotemp	A 127.0.0.1\n"
    "$SERVFAIL broken.lotemp.test.\n"
    "implo		A 127.0.0.2\n"
    "selfmx		MX 10 a.selfmx\n"
    "selfmx		MX 20 b.selfmx\n"
    "selfmx		MX 20 b2.selfmx\n"
    "selfmx		MX 30 c.selfmx\n"
    "a.selfmx	A 192.0.2.130\n"
    "b.selfmx	A 192.0.2.131\n"
    "b2.selfmx	A 192.0.2.133\n"
    "c.selfmx	A 192.0.2.132\n"
    "smartlo		A 127.0.0.1\n";

static struct dns_ctx	*dns;

static int
setup(void **state)
{
	char	 err[256];

	dns = dns_ctx_zone_mem(NULL, zone_text, sizeof(zone_text) - 1, err,
	    sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "zone: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	dns_ctx_free(dns);
	return 0;
}

/* "192.0.2.1:25" or "[2001:db8::1]:25" */
static const char *
addr_str(const struct mxres_addr *a)
{
	static char	 out[128];
	char		 buf[INET6_ADDRSTRLEN];
	const struct sockaddr_in	*sin = (const void *)&a->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ss;

	if (a->ss.ss_family == AF_INET) {
		assert_int_equal(a->sslen, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		snprintf(out, sizeof(out), "%s:%u", buf, ntohs(sin->sin_port));
	} else {
		assert_int_equal(a->ss.ss_family, AF_INET6);
		assert_int_equal(a->sslen, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		snprintf(out, sizeof(out), "[%s]:%u", buf,
		    ntohs(sin6->sin6_port));
	}
	return out;
}

static enum mxres_status
lookup(const char *domain, const struct mxres_opts *o,
    struct mxres_result *r)
{
	enum mxres_status	 st;

	st = mxres_lookup_sync(dns, domain, o, r);
	assert_int_equal(st, r->status);
	return st;
}

static void
expect_reason(const struct mxres_result *r, const char *want)
{
	if (strstr(r->reason, want) == NULL) {
		fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", r->reason,
		    want);
		fail();
	}
}

static void
test_single(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(lookup("Single.TEST.", NULL, &r), MXRES_OK);
	assert_string_equal(r.domain, "single.test");
	assert_string_equal(r.mx_canon, "single.test");
	assert_int_equal(r.mx_sec, DNS_SEC_INSECURE);
	assert_false(r.implicit);
	assert_false(r.truncated);
	assert_false(r.literal);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "mx.single.test");
	assert_string_equal(r.hosts[0].canon, "mx.single.test");
	assert_int_equal(r.hosts[0].pref, 10);
	assert_int_equal(r.hosts[0].addr_sec, DNS_SEC_INSECURE);
	assert_false(r.hosts[0].addr_tempfail);
	/* IPv6 first */
	assert_int_equal(r.hosts[0].naddr, 2);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::10]:25");
	assert_string_equal(addr_str(&r.hosts[0].addr[1]), "192.0.2.10:25");
	assert_int_equal(r.hosts[0].addr[0].sec, DNS_SEC_INSECURE);
	/* MX, AAAA, A */
	assert_int_equal(r.nqueries, 3);
	mxres_result_clear(&r);
	assert_null(r.hosts);
}

static void
test_prefs(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(lookup("prefs.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 3);
	assert_string_equal(r.hosts[0].name, "a.prefs.test");
	assert_string_equal(r.hosts[1].name, "b.prefs.test");
	assert_string_equal(r.hosts[2].name, "c.prefs.test");
	assert_int_equal(r.hosts[0].pref, 10);
	assert_int_equal(r.hosts[1].pref, 20);
	assert_int_equal(r.hosts[2].pref, 30);
	/* hosts without AAAA are kept on their A records */
	assert_int_equal(r.hosts[2].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[2].addr[0]), "192.0.2.3:25");
	mxres_result_clear(&r);

	/* the same exchange twice: once, at its best preference */
	assert_int_equal(lookup("dup.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 2);
	assert_string_equal(r.hosts[0].name, "d.dup.test");
	assert_int_equal(r.hosts[0].pref, 10);
	assert_string_equal(r.hosts[1].name, "other.dup.test");
	mxres_result_clear(&r);
}

struct hook {
	uint32_t	 fixed;		/* UINT32_MAX: upper - 1 */
	unsigned int	 calls;
	uint32_t	 uppers[8];
};

static uint32_t
hook_random(void *arg, uint32_t upper)
{
	struct hook	*h = arg;

	if (h->calls < 8)
		h->uppers[h->calls] = upper;
	h->calls++;
	return h->fixed == UINT32_MAX ? upper - 1 : h->fixed;
}

static void
test_equal_prefs(void **state)
{
	struct mxres_result	 r;
	struct mxres_opts	 o;
	struct hook		 h;
	int			 first[3] = { 0, 0, 0 }, i;

	/* A hook that never swaps: equal hosts stay in name order. */
	memset(&o, 0, sizeof(o));
	memset(&h, 0, sizeof(h));
	h.fixed = UINT32_MAX;
	o.random = hook_random;
	o.random_arg = &h;
	assert_int_equal(lookup("equal.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 4);
	assert_string_equal(r.hosts[0].name, "e1.equal.test");
	assert_string_equal(r.hosts[1].name, "e2.equal.test");
	assert_string_equal(r.hosts[2].name, "e3.equal.test");
	assert_string_equal(r.hosts[3].name, "e4.equal.test");
	/* Fisher-Yates over the three at 10, nothing for the one at 20 */
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.uppers[0], 3);
	assert_int_equal(h.uppers[1], 2);
	mxres_result_clear(&r);

	/* Always 0: [e1 e2 e3] -> [e3 e2 e1] -> [e2 e3 e1]. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(lookup("equal.test", &o, &r), MXRES_OK);
	assert_string_equal(r.hosts[0].name, "e2.equal.test");
	assert_string_equal(r.hosts[1].name, "e3.equal.test");
	assert_string_equal(r.hosts[2].name, "e1.equal.test");
	assert_string_equal(r.hosts[3].name, "e4.equal.test");
	mxres_result_clear(&r);

	/* A hook out of range is clamped, never read past the list. */
	h.fixed = 1000;
	assert_int_equal(lookup("equal.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 4);
	assert_string_equal(r.hosts[3].name, "e4.equal.test");
	mxres_result_clear(&r);

	/*
	 * The real random source: each of the three comes first some time
	 * (all-but-one missing in 90 tries has odds below 1e-15), and the
	 * preference-20 host is always last.
	 */
	for (i = 0; i < 90; i++) {
		assert_int_equal(lookup("equal.test", NULL, &r), MXRES_OK);
		assert_int_equal(r.hosts[0].pref, 10);
		first[r.hosts[0].name[1] - '1']++;
		assert_string_equal(r.hosts[3].name, "e4.equal.test");
		mxres_result_clear(&r);
	}
	assert_true(first[0] > 0 && first[1] > 0 && first[2] > 0);
}

static void
test_implicit(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(lookup("implicit.test", NULL, &r), MXRES_OK);
	assert_true(r.implicit);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "implicit.test");
	assert_int_equal(r.hosts[0].pref, 0);
	assert_int_equal(r.hosts[0].naddr, 2);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::50]:25");
	assert_string_equal(addr_str(&r.hosts[0].addr[1]), "192.0.2.50:25");
	mxres_result_clear(&r);

	/* no MX and no address: permanent */
	assert_int_equal(lookup("noaddr.test", NULL, &r), MXRES_PERMFAIL);
	assert_true(r.implicit);
	assert_int_equal(r.nhosts, 0);
	expect_reason(&r, "no MX records and no address");
	mxres_result_clear(&r);
}

static void
test_nxdomain(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(lookup("nosuch.test", NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "does not exist");
	assert_int_equal(r.nhosts, 0);
	assert_int_equal(r.nqueries, 1);
	mxres_result_clear(&r);

	/* a CNAME to nowhere is as good as nothing */
	assert_int_equal(lookup("dangling.test", NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "nowhere.example");
	assert_string_equal(r.mx_canon, "nowhere.example");
	mxres_result_clear(&r);
}

static void
test_nullmx(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(lookup("nullmx.test", NULL, &r), MXRES_NULLMX);
	assert_int_equal(r.nhosts, 0);
	expect_reason(&r, "null MX");
	/* no address query for the domain's own A record */
	assert_int_equal(r.nqueries, 1);
	mxres_result_clear(&r);

	/* "." among real MX hosts is left out, the others used */
	assert_int_equal(lookup("mixednull.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "mx.mixednull.test");
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.77:25");
	mxres_result_clear(&r);
}

static void
test_missing_hosts(void **state)
{
	struct mxres_result	 r;

	/* no host has an address, nothing temporary: permanent */
	assert_int_equal(lookup("missing.test", NULL, &r), MXRES_PERMFAIL);
	assert_int_equal(r.nhosts, 0);
	assert_int_equal(r.nskipped, 2);
	expect_reason(&r, "gone.missing.test: host does not exist");
	expect_reason(&r, "noa.missing.test: no address records");
	mxres_result_clear(&r);

	/* the host that fails is skipped, the next one used */
	assert_int_equal(lookup("partial.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_int_equal(r.nskipped, 1);
	assert_string_equal(r.hosts[0].name, "ok.partial.test");
	assert_int_equal(r.hosts[0].pref, 20);
	expect_reason(&r, "gone.partial.test");
	mxres_result_clear(&r);

	/* one host SERVFAILs, the other does not exist: try later */
	assert_int_equal(lookup("tempmx.test", NULL, &r), MXRES_TEMPFAIL);
	assert_int_equal(r.nhosts, 0);
	expect_reason(&r, "broken.tempmx.test: AAAA lookup SERVFAIL");
	mxres_result_clear(&r);

	/* a SERVFAILing best host does not stop the backup */
	assert_int_equal(lookup("tempok.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "ok.tempok.test");
	assert_int_equal(r.nskipped, 1);
	mxres_result_clear(&r);
}

static void
test_mx_failures(void **state)
{
	struct mxres_result	 r;
	char			 name[301];
	size_t			 i;

	assert_int_equal(lookup("failmx.test", NULL, &r), MXRES_TEMPFAIL);
	expect_reason(&r, "SERVFAIL");
	assert_int_equal(r.nhosts, 0);
	mxres_result_clear(&r);

	assert_int_equal(lookup("slowmx.test", NULL, &r), MXRES_TEMPFAIL);
	expect_reason(&r, "timed out");
	mxres_result_clear(&r);

	/* a CNAME loop at the domain: the resolver gives up (SERVFAIL) */
	assert_int_equal(lookup("loop1.test", NULL, &r), MXRES_TEMPFAIL);
	expect_reason(&r, "CNAME chain that loops");
	mxres_result_clear(&r);

	/* a CNAME loop at the MX host: that host has no address */
	assert_int_equal(lookup("mxloop.test", NULL, &r), MXRES_TEMPFAIL);
	expect_reason(&r, "l1.mxloop.test: AAAA lookup SERVFAIL");
	mxres_result_clear(&r);

	/* names that are not domain names */
	assert_int_equal(lookup("a..b", NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "invalid domain");
	assert_int_equal(r.nqueries, 0);
	mxres_result_clear(&r);
	assert_int_equal(lookup("", NULL, &r), MXRES_PERMFAIL);
	mxres_result_clear(&r);
	assert_int_equal(lookup(".", NULL, &r), MXRES_PERMFAIL);
	mxres_result_clear(&r);
	/* a 64-byte label (RFC 1035 2.3.4) and a 300-byte name */
	memset(name, 'a', sizeof(name));
	memcpy(name + 64, ".test", 6);
	assert_int_equal(lookup(name, NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "invalid domain");
	mxres_result_clear(&r);
	for (i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "a.", 2);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(lookup(name, NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "invalid domain");
	mxres_result_clear(&r);
}

static void
test_cnames(void **state)
{
	struct mxres_result	 r;

	/* MX to an alias: tolerated, recorded */
	assert_int_equal(lookup("aliasmx.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "alias.aliasmx.test");
	assert_string_equal(r.hosts[0].canon, "real.aliasmx.test");
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.30:25");
	mxres_result_clear(&r);

	/* CNAME at the domain: followed, recorded */
	assert_int_equal(lookup("cnamedom.test", NULL, &r), MXRES_OK);
	assert_string_equal(r.domain, "cnamedom.test");
	assert_string_equal(r.mx_canon, "target.cnamedom.test");
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "mx.target.cnamedom.test");
	mxres_result_clear(&r);

	/* CNAME at a domain without MX: the target's address */
	assert_int_equal(lookup("cnameimp.test", NULL, &r), MXRES_OK);
	assert_true(r.implicit);
	assert_string_equal(r.mx_canon, "hostimp.test");
	assert_string_equal(r.hosts[0].name, "cnameimp.test");
	assert_string_equal(r.hosts[0].canon, "hostimp.test");
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.41:25");
	mxres_result_clear(&r);
}

static void
test_families(void **state)
{
	struct mxres_result	 r;
	struct mxres_opts	 o;
	size_t			 i;

	memset(&o, 0, sizeof(o));
	/* IPv6-only host */
	assert_int_equal(lookup("v6only.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::60]:25");
	mxres_result_clear(&r);

	o.family = AF_INET;
	assert_int_equal(lookup("v6only.test", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "no A record");
	mxres_result_clear(&r);

	assert_int_equal(lookup("single.test", &o, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.10:25");
	assert_int_equal(r.nqueries, 2);
	mxres_result_clear(&r);

	o.family = AF_INET6;
	o.port = 2525;
	assert_int_equal(lookup("single.test", &o, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::10]:2525");
	mxres_result_clear(&r);
	assert_int_equal(lookup("prefs.test", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "no AAAA record");
	mxres_result_clear(&r);

	/* 10 + 10 addresses: 8 kept, the families alternate */
	assert_int_equal(lookup("many.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, MXRES_MAX_ADDRS);
	for (i = 0; i < r.hosts[0].naddr; i++)
		assert_int_equal(r.hosts[0].addr[i].ss.ss_family,
		    i % 2 == 0 ? AF_INET6 : AF_INET);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::101]:25");
	assert_string_equal(addr_str(&r.hosts[0].addr[7]), "192.0.2.104:25");
	mxres_result_clear(&r);
	o.family = AF_INET;
	o.port = 0;
	assert_int_equal(lookup("many.test", &o, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, MXRES_MAX_ADDRS);
	assert_string_equal(addr_str(&r.hosts[0].addr[7]), "192.0.2.108:25");
	mxres_result_clear(&r);
}

static void
test_myname(void **state)
{
	struct mxres_result	 r;
	struct mxres_opts	 o;

	memset(&o, 0, sizeof(o));
	/* we are mx2 at 20: peer at 20 and mx3 at 30 go too */
	o.myname = "MX2.self.test.";
	assert_int_equal(lookup("self.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "mx1.self.test");
	mxres_result_clear(&r);

	o.myname = "mx3.self.test";
	assert_int_equal(lookup("self.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 3);
	assert_string_equal(r.hosts[0].name, "mx1.self.test");
	mxres_result_clear(&r);

	/* we are the best MX: nothing is left */
	o.myname = "mx1.self.test";
	assert_int_equal(lookup("self.test", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "loops back to myself");
	assert_true(r.loop);
	assert_int_equal(r.nqueries, 1);
	mxres_result_clear(&r);

	/* not among the hosts: no effect */
	o.myname = "elsewhere.test";
	assert_int_equal(lookup("self.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 4);
	mxres_result_clear(&r);

	/* implicit MX that is our own name */
	o.myname = "implicit.test";
	assert_int_equal(lookup("implicit.test", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "loops back to myself");
	assert_true(r.loop);
	mxres_result_clear(&r);
}

struct async_state {
	int			 calls;
	struct mxres		*self;
	struct mxres_result	 res;
};

static void
async_cb(void *arg, const struct mxres_result *r)
{
	struct async_state	*s = arg;

	s->calls++;
	mxres_result_copy(&s->res, r);
	/* cancel from inside the callback is a no-op, not a double free */
	mxres_cancel(s->self);
}

static void
test_many_names(void **state)
{
	struct dns_ctx		*big;
	struct async_state	 s;
	struct mxres_result	 r;
	char			 err[256], line[128];
	char			*text;
	size_t			 len = 0, cap = 1000 * 100, i, pending,
				 maxpending = 0;
	int			 n;

	text = malloc(cap);
	assert_non_null(text);
	for (i = 0; i < 1000; i++) {
		/* preferences scrambled, all different */
		n = snprintf(line, sizeof(line), "big.test. MX %zu "
		    "h%zu.big.test.\nh%zu.big.test. A 198.51.100.%zu\n",
		    (i * 7919) % 1000, i, i, i % 250);
		assert_true(n > 0 && len + (size_t)n < cap);
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
	}
	big = dns_ctx_zone_mem(NULL, text, len, err, sizeof(err));
	free(text);
	assert_non_null(big);

	memset(&s, 0, sizeof(s));
	s.self = mxres_lookup(big, "big.test", NULL, async_cb, &s);
	assert_non_null(s.self);
	while (s.calls == 0) {
		pending = dns_pending(big);
		if (pending > maxpending)
			maxpending = pending;
		assert_true(pending <= MXRES_MAX_INFLIGHT);
		assert_true(dns_run_once(big) != -1);
	}
	assert_int_equal(s.calls, 1);
	assert_true(maxpending > 1);
	assert_int_equal(s.res.status, MXRES_OK);
	assert_true(s.res.truncated);
	assert_int_equal(s.res.nhosts, MXRES_MAX_HOSTS);
	/* the best ones, in order */
	for (i = 0; i < MXRES_MAX_HOSTS; i++)
		assert_int_equal(s.res.hosts[i].pref, i);
	assert_true(s.res.nqueries <= 1 + 2 * MXRES_MAX_HOSTS);
	assert_int_equal(dns_pending(big), 0);
	mxres_result_clear(&s.res);

	/* and when we are one of them, only those before us */
	{
		struct mxres_opts	 o;

		memset(&o, 0, sizeof(o));
		/* h1 has preference 7919 % 1000 = 919; h3: 757 */
		o.myname = "h3.big.test";
		assert_int_equal(mxres_lookup_sync(big, "big.test", &o, &r),
		    MXRES_OK);
		assert_true(r.truncated);
		assert_int_equal(r.nhosts, MXRES_MAX_HOSTS);
		mxres_result_clear(&r);
		/* h0 has preference 0 */
		o.myname = "h0.big.test";
		assert_int_equal(mxres_lookup_sync(big, "big.test", &o, &r),
		    MXRES_PERMFAIL);
		mxres_result_clear(&r);
	}

	/* cancel in the middle: some hosts resolved, some queued */
	memset(&s, 0, sizeof(s));
	s.self = mxres_lookup(big, "big.test", NULL, async_cb, &s);
	assert_int_equal(dns_run_once(big), 0);
	assert_int_equal(dns_run_once(big), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(dns_pending(big), MXRES_MAX_INFLIGHT);
	mxres_cancel(s.self);
	assert_int_equal(dns_pending(big), 0);
	for (i = 0; i < 10; i++)
		event_base_loop(dns_ctx_base(big), EVLOOP_NONBLOCK);
	assert_int_equal(s.calls, 0);
	dns_ctx_free(big);
}

static void
test_literals(void **state)
{
	struct mxres_result	 r;
	struct mxres_opts	 o;
	static const char *const bad[] = {
		"[192.0.2.256]", "[2001:db8::1]", "[foo:bar]", "[]",
		"[192.0.2.1", "[IPv6:192.0.2.1]", "[IPv6:]", "[ 192.0.2.1]",
		"[IPv6:2001:db8::1%eth0]",
	};
	char			 longlit[100];
	size_t			 i;

	assert_int_equal(lookup("[192.0.2.1]", NULL, &r), MXRES_OK);
	assert_true(r.literal);
	assert_int_equal(r.nqueries, 0);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "[192.0.2.1]");
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.1:25");
	mxres_result_clear(&r);

	memset(&o, 0, sizeof(o));
	o.port = 587;
	assert_int_equal(lookup("[IPv6:2001:DB8::1]", &o, &r), MXRES_OK);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::1]:587");
	mxres_result_clear(&r);
	assert_int_equal(lookup("[ipv6:::1]", NULL, &r), MXRES_OK);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "[::1]:25");
	mxres_result_clear(&r);
	/* RFC 5321 4.1.3 allows the IPv4-in-IPv6 forms */
	assert_int_equal(lookup("[IPv6:::ffff:192.0.2.7]", NULL, &r),
	    MXRES_OK);
	mxres_result_clear(&r);

	/* family filter */
	o.family = AF_INET;
	assert_int_equal(lookup("[IPv6:2001:db8::1]", &o, &r),
	    MXRES_PERMFAIL);
	expect_reason(&r, "IPv6");
	assert_int_equal(r.nhosts, 0);
	mxres_result_clear(&r);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lookup(bad[i], NULL, &r) != MXRES_PERMFAIL) {
			fprintf(stderr, "%s: %s\n", bad[i],
			    mxres_status_name(r.status));
			fail();
		}
		assert_int_equal(r.nhosts, 0);
		assert_int_equal(r.nqueries, 0);
		mxres_result_clear(&r);
	}
	/* longer than any address */
	memset(longlit, '1', sizeof(longlit));
	longlit[0] = '[';
	longlit[sizeof(longlit) - 2] = ']';
	longlit[sizeof(longlit) - 1] = '\0';
	assert_int_equal(lookup(longlit, NULL, &r), MXRES_PERMFAIL);
	expect_reason(&r, "bad address literal");
	mxres_result_clear(&r);

	/* a bare address is a domain name here, not a literal */
	assert_int_equal(lookup("192.0.2.1", NULL, &r), MXRES_PERMFAIL);
	assert_int_equal(r.nqueries, 1);
	mxres_result_clear(&r);
}

static void
test_smarthost(void **state)
{
	struct mxres_result	 r;

	assert_int_equal(mxres_lookup_host_sync(dns, "smart.test", NULL, &r),
	    MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_false(r.implicit);
	assert_string_equal(r.hosts[0].name, "smart.test");
	assert_int_equal(r.hosts[0].naddr, 2);
	assert_string_equal(addr_str(&r.hosts[0].addr[1]), "192.0.2.200:25");
	/* AAAA and A, no MX */
	assert_int_equal(r.nqueries, 2);
	mxres_result_clear(&r);

	/* its MX records are not looked at */
	assert_int_equal(mxres_lookup_host_sync(dns, "mxonly.test", NULL,
	    &r), MXRES_PERMFAIL);
	expect_reason(&r, "no address");
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "nosuch.test", NULL,
	    &r), MXRES_PERMFAIL);
	expect_reason(&r, "does not exist");
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "smartfail.test", NULL,
	    &r), MXRES_TEMPFAIL);
	assert_true(r.nhosts == 0);
	mxres_result_clear(&r);

	/* addresses, bare or bracketed */
	assert_int_equal(mxres_lookup_host_sync(dns, "192.0.2.9", NULL, &r),
	    MXRES_OK);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.9:25");
	assert_int_equal(r.nqueries, 0);
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "2001:db8::9", NULL, &r),
	    MXRES_OK);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]),
	    "[2001:db8::9]:25");
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "[192.0.2.9]", NULL,
	    &r), MXRES_OK);
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "[192.0.2.999]", NULL,
	    &r), MXRES_PERMFAIL);
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "bad..name", NULL, &r),
	    MXRES_PERMFAIL);
	mxres_result_clear(&r);
}

static void
test_sync_copy(void **state)
{
	struct mxres_result	 a, b;

	/* the synchronous result owns its hosts; a copy is independent */
	assert_int_equal(lookup("prefs.test", NULL, &a), MXRES_OK);
	mxres_result_copy(&b, &a);
	assert_ptr_not_equal(a.hosts, b.hosts);
	mxres_result_clear(&a);
	assert_int_equal(b.nhosts, 3);
	assert_string_equal(b.hosts[2].name, "c.prefs.test");
	mxres_result_clear(&b);
	assert_string_equal(mxres_status_name(MXRES_NULLMX), "nullmx");
}

static void
count_cb(void *arg, const struct mxres_result *r)
{
	(*(int *)arg)++;
}

/* Run the loop until DNS is idle and no timer is left. */
static void
drain(void)
{
	int	 i;

	for (i = 0; i < 100; i++)
		if (event_base_loop(dns_ctx_base(dns), EVLOOP_NONBLOCK) == 1)
			break;
}

static void
test_async_and_cancel(void **state)
{
	struct mxres	*m;
	int		 calls = 0;

	/* never from inside the call, even when no DNS is needed */
	m = mxres_lookup(dns, "[192.0.2.1]", NULL, count_cb, &calls);
	assert_int_equal(calls, 0);
	drain();
	assert_int_equal(calls, 1);
	calls = 0;
	m = mxres_lookup(dns, "a..b", NULL, count_cb, &calls);
	assert_int_equal(calls, 0);
	drain();
	assert_int_equal(calls, 1);
	calls = 0;
	m = mxres_lookup_host(dns, "smart.test", NULL, count_cb, &calls);
	assert_int_equal(calls, 0);
	drain();
	assert_int_equal(calls, 1);

	/* cancel before anything ran */
	calls = 0;
	m = mxres_lookup(dns, "single.test", NULL, count_cb, &calls);
	assert_int_equal(dns_pending(dns), 1);
	mxres_cancel(m);
	assert_int_equal(dns_pending(dns), 0);
	drain();
	assert_int_equal(calls, 0);

	/* cancel a literal whose answer waits on a timer */
	m = mxres_lookup(dns, "[192.0.2.1]", NULL, count_cb, &calls);
	mxres_cancel(m);
	drain();
	assert_int_equal(calls, 0);

	/* cancel with address queries in flight */
	m = mxres_lookup(dns, "prefs.test", NULL, count_cb, &calls);
	assert_int_equal(dns_run_once(dns), 0);
	assert_int_equal(calls, 0);
	assert_true(dns_pending(dns) > 0);
	mxres_cancel(m);
	assert_int_equal(dns_pending(dns), 0);
	drain();
	assert_int_equal(calls, 0);


	mxres_cancel(NULL);
}

/* A sockaddr for "addr" and port. */
static struct sockaddr_storage *
sa(const char *addr, uint16_t port)
{
	static struct sockaddr_storage	 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return &ss;
}

static struct netaddr_net
net(const char *addr, int prefixlen, uint16_t port)
{
	struct netaddr_net	 n;

	memset(&n, 0, sizeof(n));
	n.ss = *sa(addr, port);
	n.prefixlen = prefixlen;
	return n;
}

static enum netaddr_class
classify(const char *addr, uint16_t port, int named,
    const struct mxres_opts *o)
{
	return mxres_addr_classify((struct sockaddr *)sa(addr, port), named,
	    o);
}

static void
test_addr_classify(void **state)
{
	struct mxres_opts	 o;
	struct netaddr_net	 allow[3], listen[3];
	struct sockaddr_storage	 un;
	static const char *const loopback[] = {
		"127.0.0.1", "127.0.0.25", "127.255.255.254", "::1",
		"::ffff:127.0.0.1", "::ffff:127.1.2.3",
	};
	static const char *const unspec[] = {
		"0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0",
	};
	static const char *const usable[] = {
		"192.0.2.1", "128.0.0.1", "126.255.255.255", "1.0.0.0",
		"2001:db8::1", "::ffff:192.0.2.1", "fe80::1",
	};
	size_t			 i;

	/* no options, or the check off: nothing is refused */
	assert_int_equal(classify("127.0.0.1", 25, 0, NULL),
	    NETADDR_USABLE);
	memset(&o, 0, sizeof(o));
	assert_int_equal(classify("127.0.0.1", 25, 0, &o), NETADDR_USABLE);
	assert_int_equal(classify("::", 25, 0, &o), NETADDR_USABLE);

	o.loop_check = 1;
	for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		assert_int_equal(classify(loopback[i], 25, 0, &o),
		    NETADDR_LOOPBACK);
		/* a host the configuration names is the admin's choice */
		assert_int_equal(classify(loopback[i], 25, 1, &o),
		    NETADDR_USABLE);
	}
	for (i = 0; i < sizeof(unspec) / sizeof(unspec[0]); i++)
		assert_int_equal(classify(unspec[i], 25, 0, &o),
		    NETADDR_UNSPEC);
	for (i = 0; i < sizeof(usable) / sizeof(usable[0]); i++)
		assert_int_equal(classify(usable[i], 25, 0, &o),
		    NETADDR_USABLE);

	/* allowed networks: the mapped form is covered by the IPv4 one */
	allow[0] = net("127.0.0.0", 24, 0);
	allow[1] = net("::1", 128, 0);
	o.allow = allow;
	o.nallow = 2;
	assert_int_equal(classify("127.0.0.200", 25, 0, &o),
	    NETADDR_USABLE);
	assert_int_equal(classify("::ffff:127.0.0.5", 25, 0, &o),
	    NETADDR_USABLE);
	assert_int_equal(classify("::1", 25, 0, &o), NETADDR_USABLE);
	assert_int_equal(classify("127.0.1.1", 25, 0, &o),
	    NETADDR_LOOPBACK);
	assert_int_equal(classify("0.0.0.0", 25, 0, &o), NETADDR_UNSPEC);
	assert_int_equal(classify("::", 25, 0, &o), NETADDR_UNSPEC);
	/* odd prefix lengths */
	allow[0] = net("127.0.0.0", 9, 0);
	allow[1] = net("0.0.0.0", 0, 0);
	o.nallow = 1;
	assert_int_equal(classify("127.127.255.255", 25, 0, &o),
	    NETADDR_USABLE);
	assert_int_equal(classify("127.128.0.0", 25, 0, &o),
	    NETADDR_LOOPBACK);
	o.nallow = 2;
	assert_int_equal(classify("127.128.0.0", 25, 0, &o),
	    NETADDR_USABLE);
	assert_int_equal(classify("0.0.0.0", 25, 0, &o), NETADDR_USABLE);
	assert_int_equal(classify("::1", 25, 0, &o), NETADDR_LOOPBACK);

	/* our listening addresses: refused whatever is allowed */
	allow[0] = net("127.0.0.0", 8, 0);
	o.nallow = 1;
	listen[0] = net("127.0.0.1", 0, 2525);
	listen[1] = net("192.0.2.7", 0, 25);
	listen[2] = net("2001:db8::7", 0, 25);
	o.listen = listen;
	o.nlisten = 3;
	/* through DNS, on any port: the MX is this host */
	assert_int_equal(classify("127.0.0.1", 25, 0, &o), NETADDR_SELF);
	assert_int_equal(classify("::ffff:127.0.0.1", 25, 0, &o),
	    NETADDR_SELF);
	assert_int_equal(classify("192.0.2.7", 587, 0, &o), NETADDR_SELF);
	assert_int_equal(classify("2001:db8::7", 25, 0, &o),
	    NETADDR_SELF);
	assert_int_equal(classify("127.0.0.2", 25, 0, &o), NETADDR_USABLE);
	assert_int_equal(classify("192.0.2.8", 25, 0, &o), NETADDR_USABLE);
	/* named in the configuration: only the same address and port */
	assert_int_equal(classify("127.0.0.1", 25, 1, &o), NETADDR_USABLE);
	assert_int_equal(classify("127.0.0.1", 2525, 1, &o), NETADDR_SELF);
	assert_int_equal(classify("::ffff:127.0.0.1", 2525, 1, &o),
	    NETADDR_SELF);
	assert_int_equal(classify("127.0.0.2", 2525, 1, &o),
	    NETADDR_USABLE);
	assert_int_equal(classify("192.0.2.7", 25, 1, &o), NETADDR_SELF);

	/* a wildcard listener takes every loopback address */
	listen[0] = net("0.0.0.0", 0, 25);
	listen[1] = net("::", 0, 2626);
	o.nlisten = 2;
	assert_int_equal(classify("127.0.0.9", 25, 0, &o), NETADDR_SELF);
	assert_int_equal(classify("::1", 25, 0, &o), NETADDR_SELF);
	assert_int_equal(classify("192.0.2.1", 25, 0, &o), NETADDR_USABLE);
	assert_int_equal(classify("127.0.0.9", 25, 1, &o), NETADDR_SELF);
	assert_int_equal(classify("::1", 2626, 1, &o), NETADDR_SELF);
	assert_int_equal(classify("127.0.0.9", 26, 1, &o), NETADDR_USABLE);
	assert_int_equal(classify("192.0.2.1", 25, 1, &o), NETADDR_USABLE);

	/* not an Internet address */
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_int_equal(mxres_addr_classify((struct sockaddr *)&un, 0, &o),
	    NETADDR_USABLE);
}

static void
test_loops(void **state)
{
	struct mxres_result	 r;
	struct mxres_opts	 o;
	struct netaddr_net	 allow[1], listen[2];

	/* without the check, loopback is used as before */
	assert_int_equal(lookup("loopmx.test", NULL, &r), MXRES_OK);
	assert_int_equal(r.hosts[0].naddr, 2);
	mxres_result_clear(&r);

	memset(&o, 0, sizeof(o));
	o.loop_check = 1;
	assert_int_equal(lookup("loopmx.test", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	assert_int_equal(r.nrefused, 2);
	assert_int_equal(r.nhosts, 0);
	expect_reason(&r, "MX for loopmx.test points to a loopback address: "
	    "mx.loopmx.test [");
	expect_reason(&r, "(RFC 5321 5.1)");
	mxres_result_clear(&r);

	assert_int_equal(lookup("mapped.test", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "[::ffff:127.0.0.1]");
	mxres_result_clear(&r);
	assert_int_equal(lookup("zero.test", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "points to an unspecified address");
	mxres_result_clear(&r);
	/* the implicit MX and an address literal alike */
	assert_int_equal(lookup("implo.test", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "MX for implo.test points to a loopback address");
	mxres_result_clear(&r);
	assert_int_equal(lookup("[127.0.0.1]", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "address literal [127.0.0.1] is a loopback address");
	mxres_result_clear(&r);
	assert_int_equal(lookup("[IPv6:::]", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "unspecified");
	mxres_result_clear(&r);

	/* a loopback address alone is left out; the others are used */
	assert_int_equal(lookup("partlo.test", &o, &r), MXRES_OK);
	assert_false(r.loop);
	assert_int_equal(r.nrefused, 1);
	assert_int_equal(r.nhosts, 1);
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "192.0.2.140:25");
	mxres_result_clear(&r);
	assert_int_equal(lookup("lofirst.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "ok.lofirst.test");
	mxres_result_clear(&r);
	/* another host failed for now: try again later, not a bounce */
	assert_int_equal(lookup("lotemp.test", &o, &r), MXRES_TEMPFAIL);
	assert_false(r.loop);
	mxres_result_clear(&r);

	/* allowed networks: a test bed on loopback */
	allow[0] = net("127.0.0.0", 8, 0);
	o.allow = allow;
	o.nallow = 1;
	assert_int_equal(lookup("loopmx.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_int_equal(r.hosts[0].naddr, 1);
	assert_string_equal(addr_str(&r.hosts[0].addr[0]), "127.0.0.25:25");
	mxres_result_clear(&r);
	assert_int_equal(lookup("[127.0.0.1]", &o, &r), MXRES_OK);
	mxres_result_clear(&r);

	/*
	 * Our own listening address, even inside an allowed network: that
	 * MX is this host, so it and every MX not better go (RFC 5321 5.1).
	 */
	listen[0] = net("127.0.0.25", 0, 2525);
	o.listen = listen;
	o.nlisten = 1;
	assert_int_equal(lookup("loopmx.test", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "MX for loopmx.test points to this host: "
	    "mx.loopmx.test [127.0.0.25] is one of my listening addresses "
	    "(RFC 5321 5.1)");
	mxres_result_clear(&r);
	listen[0] = net("192.0.2.131", 0, 25);
	assert_int_equal(lookup("selfmx.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].name, "a.selfmx.test");
	mxres_result_clear(&r);
	listen[0] = net("192.0.2.132", 0, 25);
	assert_int_equal(lookup("selfmx.test", &o, &r), MXRES_OK);
	assert_int_equal(r.nhosts, 3);
	mxres_result_clear(&r);
	listen[0] = net("192.0.2.130", 0, 25);
	assert_int_equal(lookup("selfmx.test", &o, &r), MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "points to this host: a.selfmx.test [192.0.2.130]");
	mxres_result_clear(&r);
	assert_int_equal(lookup("[192.0.2.130]", &o, &r), MXRES_PERMFAIL);
	expect_reason(&r, "one of my listening addresses");
	mxres_result_clear(&r);

	/* smarthosts: only our own address and port */
	listen[0] = net("127.0.0.1", 0, 2525);
	o.nallow = 0;
	assert_int_equal(mxres_lookup_host_sync(dns, "smartlo.test", &o, &r),
	    MXRES_OK);
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "127.0.0.1", &o, &r),
	    MXRES_OK);
	mxres_result_clear(&r);
	o.port = 2525;
	assert_int_equal(mxres_lookup_host_sync(dns, "smartlo.test", &o, &r),
	    MXRES_PERMFAIL);
	assert_true(r.loop);
	expect_reason(&r, "host smartlo.test [127.0.0.1] is my own listening "
	    "address and port (RFC 5321 5.1)");
	mxres_result_clear(&r);
	assert_int_equal(mxres_lookup_host_sync(dns, "[127.0.0.1]", &o, &r),
	    MXRES_PERMFAIL);
	expect_reason(&r, "my own listening address and port");
	mxres_result_clear(&r);
	listen[1] = net("::", 0, 2525);
	o.nlisten = 2;
	assert_int_equal(mxres_lookup_host_sync(dns, "127.0.0.3", &o, &r),
	    MXRES_PERMFAIL);
	mxres_result_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_prefs),
		cmocka_unit_test(test_equal_prefs),
		cmocka_unit_test(test_implicit),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_nullmx),
		cmocka_unit_test(test_missing_hosts),
		cmocka_unit_test(test_mx_failures),
		cmocka_unit_test(test_cnames),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_myname),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_smarthost),
		cmocka_unit_test(test_sync_copy),
		cmocka_unit_test(test_async_and_cancel),
		cmocka_unit_test(test_addr_classify),
		cmocka_unit_test(test_loops),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * auth/spf.c and spf_macro.c (RFC 7208): every mechanism and modifier,
 * CIDR lengths, record selection, include/redirect/exp semantics, the
 * processing limits, temperror, the HELO and empty MAIL FROM identities,
 * IPv6 and IPv4-mapped clients, and the macro examples of RFC 7208 7.4.
 * All offline, against regress/data/spf/spf.zone.
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
#include "auth/spf.h"

#define ZONE	"regress/data/spf/spf.zone"
#define HELO	"mail.helo.test"

static struct dns_ctx	*dns;

static int
group_setup(void **state)
{
	char	 err[512];

	dns = dns_ctx_zone(NULL, ZONE, err, sizeof(err));
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

static enum spf_result
check(const char *ip, const char *helo, const char *mail_from,
    enum spf_identity id, struct spf_outcome *o)
{
	struct spf_params	 p;

	memset(&p, 0, sizeof(p));
	p.ip = ip;
	p.helo = helo;
	p.mail_from = mail_from;
	p.identity = id;
	p.now = 1234567890;
	p.trace = 1;
	return spf_check_sync(dns, &p, o);
}

/* One MAIL FROM check; reason must contain want_reason when given. */
static void
expect(const char *ip, const char *mail_from, enum spf_result want,
    const char *want_reason)
{
	struct spf_outcome	 o;

	check(ip, HELO, mail_from, SPF_ID_MAILFROM, &o);
	if (o.result != want || (want_reason != NULL &&
	    strstr(o.reason, want_reason) == NULL)) {
		fprintf(stderr, "ip %s from %s: got %s (%s), want %s (%s)\n"
		    "%s", ip, mail_from, spf_result_name(o.result), o.reason,
		    spf_result_name(want), want_reason ? want_reason : "",
		    o.trace ? o.trace : "");
		fail();
	}
	spf_outcome_clear(&o);
}

static void
test_ip4_ip6(void **state)
{
	expect("192.0.2.5", "user@ip4.test", SPF_PASS,
	    "matched ip4:192.0.2.0/25 in ip4.test");
	expect("192.0.2.200", "user@ip4.test", SPF_FAIL, "-all");
	expect("198.51.100.7", "user@ip4.test", SPF_PASS, "198.51.100.7");
	expect("198.51.100.8", "user@ip4.test", SPF_FAIL, NULL);
	expect("2001:db8::1", "user@ip6.test", SPF_PASS, "ip6:");
	expect("2001:db8:0:ffff::1", "user@ip6.test", SPF_PASS, NULL);
	expect("2001:db8:1::1", "user@ip6.test", SPF_FAIL, NULL);
	/* address families never match each other (5.6) */
	expect("192.0.2.5", "user@ip6.test", SPF_FAIL, NULL);
	expect("2001:db8::5", "user@ip4.test", SPF_FAIL, NULL);
	/* IPv4-mapped IPv6 is IPv4 */
	expect("::ffff:192.0.2.5", "user@ip4.test", SPF_PASS, NULL);
	expect("::ffff:192.0.2.200", "user@ip4.test", SPF_FAIL, NULL);
}

static void
test_all_and_selection(void **state)
{
	expect("192.0.2.1", "u@plusall.test", SPF_PASS, NULL);
	expect("192.0.2.1", "u@softall.test", SPF_SOFTFAIL, NULL);
	expect("192.0.2.1", "u@neutralall.test", SPF_NEUTRAL, NULL);
	/* 4.7: no match and no redirect is neutral */
	expect("192.0.2.1", "u@empty.test", SPF_NEUTRAL, "no mechanism");
	/* 4.5: version and mechanisms case-insensitive */
	expect("192.0.2.1", "u@case.test", SPF_FAIL, NULL);
	/* "v=spf10" is not an SPF record */
	expect("192.0.2.1", "u@notspf.test", SPF_NONE, NULL);
	expect("192.0.2.1", "u@multi.test", SPF_PERMERROR, "2 SPF records");
	expect("192.0.2.1", "u@others.test", SPF_FAIL, NULL);
	/* 3.3: strings concatenated without spaces */
	expect("192.0.2.9", "u@split.test", SPF_PASS, NULL);
	/* CNAME followed */
	expect("192.0.2.5", "u@cname.test", SPF_PASS, NULL);
	expect("192.0.2.1", "u@none.test", SPF_NONE, "no SPF record");
	expect("192.0.2.1", "u@nowhere.test", SPF_NONE, NULL);
	/* 4.3: malformed domains are none */
	expect("192.0.2.1", "u@exa..mple.test", SPF_NONE, "not a valid");
	expect("192.0.2.1", "u@localhost", SPF_NONE, NULL);
	expect("192.0.2.1", "u@[192.0.2.1]", SPF_NONE, NULL);
}

static void
test_a_mx(void **state)
{
	expect("192.0.2.10", "u@a.test", SPF_PASS, "matched a in a.test");
	expect("2001:db8::10", "u@a.test", SPF_PASS, NULL);
	expect("192.0.2.11", "u@a.test", SPF_FAIL, NULL);
	/* dual CIDR a:host/24//64 */
	expect("198.51.100.9", "u@acidr.test", SPF_PASS, NULL);
	expect("198.51.101.9", "u@acidr.test", SPF_FAIL, NULL);
	expect("2001:db8:1:2:ffff::1", "u@acidr.test", SPF_PASS, NULL);
	expect("2001:db8:1:3::1", "u@acidr.test", SPF_FAIL, NULL);
	expect("192.0.2.20", "u@mx.test", SPF_PASS, "matched mx");
	expect("2001:db8::20", "u@mx.test", SPF_PASS, NULL);
	expect("192.0.2.21", "u@mx.test", SPF_FAIL, NULL);
	expect("192.0.2.23", "u@mxcidr.test", SPF_PASS, NULL);
	expect("192.0.2.24", "u@mxcidr.test", SPF_FAIL, NULL);
	/* 4.6.4: more than 10 MX names is a permerror, 10 is fine */
	expect("192.0.2.100", "u@mx11.test", SPF_PERMERROR, "MX records");
	expect("192.0.2.109", "u@mx10.test", SPF_PASS, NULL);
	expect("192.0.2.1", "u@nullmx.test", SPF_FAIL, NULL);
}

static void
test_ptr_exists(void **state)
{
	expect("192.0.2.30", "u@ptr.test", SPF_PASS, "matched ptr");
	/* PTR name whose A record does not point back: not validated */
	expect("192.0.2.31", "u@ptr.test", SPF_FAIL, NULL);
	expect("192.0.2.32", "u@ptr.test", SPF_FAIL, NULL);
	expect("192.0.2.30", "u@ptrother.test", SPF_FAIL, NULL);
	/* 4.6.4: only the first 10 PTR names are tried */
	expect("192.0.2.61", "u@ptr11.test", SPF_FAIL, NULL);
	expect("192.0.2.3", "u@exists.test", SPF_PASS, "exists:");
	expect("192.0.2.4", "u@exists.test", SPF_FAIL, NULL);
	expect("192.0.2.1", "alice@lp.test", SPF_PASS, NULL);
	expect("192.0.2.1", "bob@lp.test", SPF_FAIL, NULL);
	/* %{p}: validated name of the client */
	expect("192.0.2.30", "u@pmacro.test", SPF_PASS, NULL);
	expect("192.0.2.4", "u@pmacro.test", SPF_FAIL, NULL);
}

static void
test_include(void **state)
{
	expect("192.0.2.40", "u@include.test", SPF_PASS,
	    "matched include:inc-pass.test in include.test (matched "
	    "ip4:192.0.2.40 in inc-pass.test)");
	expect("192.0.2.41", "u@include.test", SPF_FAIL, NULL);
	/* 5.2 table: none -> permerror, temperror, permerror kept */
	expect("192.0.2.1", "u@include-none.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@include-nx.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@include-temp.test", SPF_TEMPERROR, NULL);
	expect("192.0.2.1", "u@include-perm.test", SPF_PERMERROR, NULL);
	/* neutral inside: no match */
	expect("192.0.2.1", "u@include-neutral.test", SPF_FAIL, NULL);
	/* the qualifier of include applies on a match */
	expect("192.0.2.1", "u@include-soft.test", SPF_SOFTFAIL, NULL);
}

static void
test_redirect(void **state)
{
	expect("192.0.2.5", "u@redirect.test", SPF_PASS, "in ip4.test");
	expect("192.0.2.200", "u@redirect.test", SPF_FAIL, NULL);
	/* 6.1: no record at the target is a permerror */
	expect("192.0.2.1", "u@redirect-none.test", SPF_PERMERROR, NULL);
	/* 6.1: ignored when "all" is present */
	expect("192.0.2.5", "u@redirect-all.test", SPF_NEUTRAL, NULL);
}

static void
expect_exp(const char *ip, const char *from, enum spf_result want,
    const char *want_exp)
{
	struct spf_outcome	 o;

	check(ip, HELO, from, SPF_ID_MAILFROM, &o);
	assert_int_equal(o.result, want);
	if (want_exp == NULL)
		assert_null(o.explanation);
	else {
		assert_non_null(o.explanation);
		assert_string_equal(o.explanation, want_exp);
	}
	spf_outcome_clear(&o);
}

static void
test_exp(void **state)
{
	expect_exp("192.0.2.99", "u@exp.test", SPF_FAIL,
	    "192.0.2.99 is not one of exp.test's designated mail servers.");
	expect_exp("192.0.2.1", "u@exp.test", SPF_PASS, NULL);
	/* 6.1: the target's exp=, with <domain> the target */
	expect_exp("192.0.2.99", "u@redirect-exp.test", SPF_FAIL,
	    "192.0.2.99 is not one of exp.test's designated mail servers.");
	/* exp only on fail */
	expect_exp("192.0.2.99", "u@expsoft.test", SPF_SOFTFAIL, NULL);
	/* 6.2: errors mean no explanation, the result stands */
	expect_exp("192.0.2.99", "u@expbad.test", SPF_FAIL, NULL);
	expect_exp("192.0.2.99", "u@expnone.test", SPF_FAIL, NULL);
	expect_exp("192.0.2.99", "u@expmulti.test", SPF_FAIL, NULL);
	/* c, r, t only in exp; escapes */
	expect_exp("192.0.2.99", "user@expctr.test", SPF_FAIL,
	    "192.0.2.99 unknown 1234567890 mail.helo.test "
	    "user@expctr.test in-addr user % %20");
}

static void
test_syntax(void **state)
{
	expect("192.0.2.1", "u@syntax.test", SPF_PERMERROR, "unknown "
	    "mechanism");
	expect("192.0.2.1", "u@syntax-ip4.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-cidr.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-end.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-macro.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-c.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-pct.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-redir2.test", SPF_PERMERROR, NULL);
	expect("192.0.2.1", "u@syntax-tab.test", SPF_PERMERROR, NULL);
	/* 4.5: "v=spf1" followed by a tab is not an SPF record */
	expect("192.0.2.1", "u@tab-version.test", SPF_NONE, NULL);
	/* unknown modifiers are ignored */
	expect("192.0.2.1", "u@unknown-mod.test", SPF_PASS, NULL);
}

static void
test_limits(void **state)
{
	struct spf_outcome	 o;

	expect("192.0.2.77", "u@limit10.test", SPF_PASS, NULL);
	expect("192.0.2.77", "u@limit11.test", SPF_PERMERROR,
	    "10 DNS lookup limit exceeded");
	expect("192.0.2.1", "u@loop.test", SPF_PERMERROR,
	    "10 DNS lookup limit exceeded");
	expect("192.0.2.1", "u@void2.test", SPF_FAIL, NULL);
	expect("192.0.2.1", "u@void3.test", SPF_PERMERROR,
	    "void lookup limit exceeded");
	check("192.0.2.77", HELO, "u@limit10.test", SPF_ID_MAILFROM, &o);
	assert_int_equal(o.lookups, 10);
	spf_outcome_clear(&o);
	check("192.0.2.1", HELO, "u@void2.test", SPF_ID_MAILFROM, &o);
	assert_int_equal(o.voids, 2);
	spf_outcome_clear(&o);
}

static void
test_temperror(void **state)
{
	expect("192.0.2.1", "u@servfail.test", SPF_TEMPERROR, "SERVFAIL");
	expect("192.0.2.1", "u@timeout.test", SPF_TEMPERROR, "timeout");
	expect("192.0.2.1", "u@a-temp.test", SPF_TEMPERROR, NULL);
	expect("192.0.2.1", "u@mx-temp.test", SPF_TEMPERROR, NULL);
}

static void
test_identities(void **state)
{
	struct spf_outcome	 o;

	assert_int_equal(check("192.0.2.50", HELO, "x@ip4.test",
	    SPF_ID_HELO, &o), SPF_PASS);
	assert_string_equal(o.sender, "postmaster@mail.helo.test");
	assert_string_equal(o.domain, "mail.helo.test");
	spf_outcome_clear(&o);
	assert_int_equal(check("192.0.2.51", HELO, "", SPF_ID_HELO, &o),
	    SPF_FAIL);
	spf_outcome_clear(&o);
	/* an address literal or a single label HELO: none (4.3) */
	assert_int_equal(check("192.0.2.50", "[192.0.2.50]", "",
	    SPF_ID_HELO, &o), SPF_NONE);
	spf_outcome_clear(&o);
	assert_int_equal(check("192.0.2.50", "localhost", "", SPF_ID_HELO,
	    &o), SPF_NONE);
	spf_outcome_clear(&o);
	/* empty MAIL FROM: postmaster@HELO (2.4) */
	assert_int_equal(check("192.0.2.50", HELO, "", SPF_ID_MAILFROM, &o),
	    SPF_PASS);
	assert_string_equal(o.sender, "postmaster@mail.helo.test");
	spf_outcome_clear(&o);
	assert_int_equal(check("192.0.2.50", HELO, "<>", SPF_ID_MAILFROM,
	    &o), SPF_PASS);
	spf_outcome_clear(&o);
	/* no local-part: postmaster (4.3) */
	assert_int_equal(check("192.0.2.5", HELO, "@ip4.test",
	    SPF_ID_MAILFROM, &o), SPF_PASS);
	assert_string_equal(o.sender, "postmaster@ip4.test");
	spf_outcome_clear(&o);
	assert_int_equal(check("192.0.2.5", HELO, "<a@ip4.test>",
	    SPF_ID_MAILFROM, &o), SPF_PASS);
	assert_string_equal(o.sender, "a@ip4.test");
	spf_outcome_clear(&o);
	/* a bad client address */
	assert_int_equal(check("192.0.2.500", HELO, "a@ip4.test",
	    SPF_ID_MAILFROM, &o), SPF_PERMERROR);
	spf_outcome_clear(&o);
}

/* The evaluation completes from the loop, never inside the start call. */
struct async_state {
	int			 calls;
	enum spf_result		 result;
};

static void
async_done(void *arg, const struct spf_outcome *o)
{
	struct async_state	*s = arg;

	s->calls++;
	s->result = o->result;
}

static void
test_async(void **state)
{
	struct async_state	 s;
	struct spf_params	 p;
	struct spf_eval		*e;

	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	p.ip = "192.0.2.40";
	p.helo = HELO;
	p.mail_from = "u@include.test";
	spf_eval_start(dns, &p, async_done, &s);
	assert_int_equal(s.calls, 0);
	while (s.calls == 0)
		dns_run_once(dns);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.result, SPF_PASS);

	/* even a result known at once (invalid domain) comes later */
	p.mail_from = "u@bad..domain";
	memset(&s, 0, sizeof(s));
	spf_eval_start(dns, &p, async_done, &s);
	assert_int_equal(s.calls, 0);
	while (s.calls == 0)
		dns_run_once(dns);
	assert_int_equal(s.result, SPF_NONE);

	/* cancelled: the callback never runs, nothing leaks */
	memset(&s, 0, sizeof(s));
	p.mail_from = "u@include.test";
	e = spf_eval_start(dns, &p, async_done, &s);
	spf_eval_cancel(e);
	assert_int_equal(dns_pending(dns), 0);
	assert_int_equal(s.calls, 0);
}

/* RFC 7208 7.4, verbatim. */
static void
macro_is(const struct spf_macro_env *env, const char *in, int flags,
    const char *want)
{
	char	 out[SPF_MAX_EXPANSION], err[128];

	if (spf_macro_expand(in, strlen(in), env, flags, out, sizeof(out),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", in, err);
		fail();
	}
	if (strcmp(out, want) != 0) {
		fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", in, out,
		    want);
		fail();
	}
}

static void
env_init(struct spf_macro_env *env, const char *ip)
{
	memset(env, 0, sizeof(*env));
	env->sender = "strong-bad@email.example.com";
	env->local = "strong-bad";
	env->sender_domain = "email.example.com";
	env->domain = "email.example.com";
	env->helo = "mx.example.org";
	env->now = 1234567890;
	if (inet_pton(AF_INET, ip, &env->ip.v4) == 1)
		env->af = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, &env->ip.v6), 1);
		env->af = AF_INET6;
	}
}

static void
test_macro_rfc_examples(void **state)
{
	struct spf_macro_env	 env;

	env_init(&env, "192.0.2.3");
	macro_is(&env, "%{s}", 0, "strong-bad@email.example.com");
	macro_is(&env, "%{o}", 0, "email.example.com");
	macro_is(&env, "%{d}", 0, "email.example.com");
	macro_is(&env, "%{d4}", 0, "email.example.com");
	macro_is(&env, "%{d3}", 0, "email.example.com");
	macro_is(&env, "%{d2}", 0, "example.com");
	macro_is(&env, "%{d1}", 0, "com");
	macro_is(&env, "%{dr}", 0, "com.example.email");
	macro_is(&env, "%{d2r}", 0, "example.email");
	macro_is(&env, "%{l}", 0, "strong-bad");
	macro_is(&env, "%{l-}", 0, "strong.bad");
	macro_is(&env, "%{lr}", 0, "strong-bad");
	macro_is(&env, "%{lr-}", 0, "bad.strong");
	macro_is(&env, "%{l1r-}", 0, "strong");
	macro_is(&env, "%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN,
	    "3.2.0.192.in-addr._spf.example.com");
	macro_is(&env, "%{lr-}.lp._spf.%{d2}", SPF_MACRO_DOMAIN,
	    "bad.strong.lp._spf.example.com");
	macro_is(&env, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN,
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	macro_is(&env, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", SPF_MACRO_DOMAIN,
	    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	macro_is(&env, "%{d2}.trusted-domains.example.net", SPF_MACRO_DOMAIN,
	    "example.com.trusted-domains.example.net");
	env_init(&env, "2001:db8::cb01");
	macro_is(&env, "%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN,
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	    "ip6._spf.example.com");
}

static void
test_macro_more(void **state)
{
	struct spf_macro_env	 env;
	char			 out[SPF_MAX_EXPANSION], err[128];
	static const char	*bad[] = {
		"%{z}", "%", "%x", "%{d0}", "%{d", "%{d2x}", "%{}", "a b",
		"%{c}", "%{r}", "%{t}", "\x01", "%(ir)",
	};
	static const char	*bad_domain[] = {
		"foo", "example.1", "%{d}.", "example.-com", "",
		"example.com-", "%{d}x",
	};
	static const char	*good_domain[] = {
		"example.com", "example.com.", "%{d}", "%{d}.example.com",
		"x.%{ir}", "%%", "_spf.a-1.org", "1-2.3-4",
	};
	size_t			 i;

	env_init(&env, "192.0.2.3");
	/* Uppercase: URL-escaped after expansion (7.3) */
	macro_is(&env, "%{S}", 0, "strong-bad%40email.example.com");
	macro_is(&env, "%{L}", 0, "strong-bad");
	macro_is(&env, "%{DR}", 0, "com.example.email");
	macro_is(&env, "%%%_%-", SPF_MACRO_EXP, "% %20");
	macro_is(&env, "%{c} %{r} %{t}", SPF_MACRO_EXP,
	    "192.0.2.3 unknown 1234567890");
	macro_is(&env, "%{h}", 0, "mx.example.org");
	macro_is(&env, "%{p}", 0, "unknown");
	macro_is(&env, "%{d100}", 0, "email.example.com");
	macro_is(&env, "%{s-.}", 0, "strong.bad@email.example.com");
	macro_is(&env, "%{l1-}", 0, "bad");
	env.validated = "mx.example.org";
	macro_is(&env, "%{p2}", 0, "example.org");
	env_init(&env, "2001:db8::cb01");
	macro_is(&env, "%{c}", SPF_MACRO_EXP, "2001:db8::cb01");
	macro_is(&env, "%{v}", 0, "ip6");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (spf_macro_expand(bad[i], strlen(bad[i]), &env, 0, out,
		    sizeof(out), err, sizeof(err)) != -1) {
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
	for (i = 0; i < sizeof(bad_domain) / sizeof(bad_domain[0]); i++) {
		if (spf_macro_check(bad_domain[i], strlen(bad_domain[i]),
		    SPF_MACRO_DOMAIN, err, sizeof(err)) != -1) {
			fprintf(stderr, "accepted domain \"%s\"\n",
			    bad_domain[i]);
			fail();
		}
	}
	for (i = 0; i < sizeof(good_domain) / sizeof(good_domain[0]); i++) {
		if (spf_macro_check(good_domain[i], strlen(good_domain[i]),
		    SPF_MACRO_DOMAIN, err, sizeof(err)) == -1) {
			fprintf(stderr, "rejected domain \"%s\": %s\n",
			    good_domain[i], err);
			fail();
		}
	}
	/* output bound */
	assert_int_equal(spf_macro_expand("%{s}%{s}", 8, &env, 0, out, 10,
	    err, sizeof(err)), -1);
}

static void
test_truncate_valid(void **state)
{
	char	 d[600];
	size_t	 i;

	d[0] = '\0';
	for (i = 0; i < 30; i++)
		strlcat(d, "abcdefghi.", sizeof(d));
	strlcat(d, "example.com", sizeof(d));
	spf_domain_truncate(d);
	assert_true(strlen(d) <= 253);
	assert_true(strlen(d) > 240);
	assert_string_equal(d + strlen(d) - 11, "example.com");
	assert_true(d[0] == 'a');

	assert_true(spf_domain_valid("example.com"));
	assert_true(spf_domain_valid("example.com."));
	assert_true(spf_domain_valid("_spf.example.com"));
	assert_false(spf_domain_valid("com"));
	assert_false(spf_domain_valid("a..b"));
	assert_false(spf_domain_valid(".a.b"));
	assert_false(spf_domain_valid("192.0.2.1"));
	assert_false(spf_domain_valid("[192.0.2.1]"));
	assert_false(spf_domain_valid(""));
	assert_false(spf_domain_valid("a.bcdefghijabcdefghijabcdefghijabcdefghij"
	    "abcdefghijabcdefghijabcdefghij1234"));
}

static void
test_record_check(void **state)
{
	static const char	*good[] = {
		"v=spf1", "v=spf1 ", "V=SPF1 -ALL", "v=spf1  a  mx  -all ",
		"v=spf1 a/24 a//64 a/24//64 a:x.example/0 mx:x.example//128",
		"v=spf1 ip4:0.0.0.0/0 ip6:::/0 ip6:2001:db8::1/128",
		"v=spf1 ?include:_spf.example.com ~exists:%{ir}.x.example",
		"v=spf1 ptr ptr:example.com -all",
		"v=spf1 redirect=_spf.example.com",
		"v=spf1 exp=explain.%{d} -all",
		"v=spf1 foo-bar=%{d} x.y=z",
		"v=spf1 a:%{d}", "v=spf1 include:example.com.",
	};
	static const char	*bad[] = {
		"v=spf1 a:", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/",
		"v=spf1 ip4:1.2.3", "v=spf1 ip6:2001:db8::1/129",
		"v=spf1 ip4:1.2.3.4/024", "v=spf1 a/33", "v=spf1 a//129",
		"v=spf1 -redirect=x.example", "v=spf1 all:x",
		"v=spf1 include", "v=spf1 include:", "v=spf1 exists:foo",
		"v=spf1 redirect=a.example redirect=b.example",
		"v=spf1 exp=a.example exp=b.example", "v=spf1 =x",
		"v=spf1 -", "v=spf1 a:b.example/24/64", "v=spf1 ptr/24",
		"v=spf2 -all", "v=spf1-all", "v=spf1 mx:%{z}.example",
		"v=spf1 1a", "v=spf1 foo=%", "v=spf1 ip4:192.0.2.1//24",
	};
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (spf_record_check(good[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "rejected \"%s\": %s\n", good[i], err);
			fail();
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (spf_record_check(bad[i], err, sizeof(err)) != -1) {
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
}

static void
test_trace(void **state)
{
	struct spf_outcome	 o;

	check("192.0.2.40", HELO, "u@include.test", SPF_ID_MAILFROM, &o);
	assert_non_null(o.trace);
	assert_non_null(strstr(o.trace, "SPF record of include.test: "
	    "\"v=spf1 include:inc-pass.test -all\""));
	assert_non_null(strstr(o.trace, "DNS-querying term 1 of 10"));
	assert_non_null(strstr(o.trace, "include returned pass"));
	spf_outcome_clear(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip4_ip6),
		cmocka_unit_test(test_all_and_selection),
		cmocka_unit_test(test_a_mx),
		cmocka_unit_test(test_ptr_exists),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_temperror),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_more),
		cmocka_unit_test(test_truncate_valid),
		cmocka_unit_test(test_record_check),
		cmocka_unit_test(test_trace),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

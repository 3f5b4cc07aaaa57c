/*
 * posternctl check dkim: verify every DKIM signature of a message read from
 * standard input (RFC 6376, RFC 8301, RFC 8463), looking keys up in a zone
 * file, through a given resolver or through the system resolver, and print
 * one RFC 8601 Authentication-Results field with one line per signature:
 * result, reason and what an administrator needs (key size and type,
 * testing flag, body hash, signed fields) in the comment, then header.d,
 * header.i, header.s, header.a and header.b.  -v explains each step on
 * standard error.  Runs the same auth/dkim.c and lib/dns.c as the daemon.
 *
 * Exit status: 0 when the check ran (whatever its result), 2 on bad usage,
 * an unreadable message or a DNS source that cannot be set up.
 */
#include <sys/types.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim.h"
#include "dns.h"
#include "auth/authres.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define CHECK_DKIM_PROG		"posternctl check dkim"
#define CHECK_DKIM_USAGE_ERR	2	/* bad usage or unreadable input */

struct check_dkim_cmd {
	struct dkim_verify_opts	 opts;
	const char		*zone;
	const char		*resolver;
	const char		*ta;
	const char		*authserv;
};

static int	 verbose;

static void
check_dkim_usage(void)
{
	fprintf(stderr, "usage: posternctl check dkim [-v] [--allow-sha1] "
	    "[--time SECONDS] [--authserv-id NAME]\n"
	    "           [--dns-zone FILE | --resolver ADDR[@PORT] "
	    "[--trust-anchor FILE]] < message\n");
}

static void
vlog_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
vlog_step(const char *fmt, ...)
{
	va_list	 ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "dkim: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/*
 * Key lookup, kept apart from the rest: one TXT query, its strings
 * concatenated per record (RFC 6376 3.6.2.2), rcode and DNSSEC status mapped.
 */
static void
lookup_key(struct dns_ctx *dns, struct dkim_verify *v, size_t k)
{
	const char		*name = dkim_verify_keyname(v, k);
	struct dns_answer	*ans;
	struct dkim_keyans	 ka;
	size_t			 i;

	ans = dns_resolve_sync(dns, name, DNS_T_TXT);
	dkim_keyans_from(&ka, ans);
	if (ans == NULL)
		vlog_step("key %s: not a valid DNS name", name);
	else if (ka.st == DKIM_DNS_TEMPFAIL)
		vlog_step("key %s TXT: %s", name, ans->failed ? (ans->timeout ?
		    "timeout" : "lookup failed") : dns_rcode_name(ans->rcode));
	else if (ka.st == DKIM_DNS_NXDOMAIN)
		vlog_step("key %s TXT: NXDOMAIN (%s)", name,
		    dns_sec_name(ans->sec));
	else {
		for (i = 0; i < ka.n; i++)
			vlog_step("key %s TXT (%s): \"%.*s\"", name,
			    dns_sec_name(ans->sec), (int)(ka.lens[i] > 400 ?
			    400 : ka.lens[i]), ka.recs[i]);
		if (ka.n == 0)
			vlog_step("key %s TXT: no records (%s)", name,
			    dns_sec_name(ans->sec));
		if (ans->sec == DNS_SEC_BOGUS)
			vlog_step("key %s: DNSSEC bogus: %s", name,
			    ans->why_bogus);
	}
	dkim_verify_set_key(v, k, ka.st, ka.sec, (const char **)ka.recs,
	    ka.lens, ka.n);
	dkim_keyans_clear(&ka);
	if (ans != NULL)
		dns_answer_free(ans);
}

/* header.b: at least 8 characters, more if needed to tell them apart. */
static size_t
b_prefix_len(const struct dkim_sigresult *r, size_t n, size_t i)
{
	size_t	 len = 8, j, bl;

	if (r[i].b == NULL)
		return 0;
	bl = strlen(r[i].b);
	for (j = 0; j < n && len < bl; j++) {
		if (j == i || r[j].b == NULL)
			continue;
		while (len < bl && strncmp(r[i].b, r[j].b, len) == 0)
			len++;
	}
	return len > bl ? bl : len;
}

static void
print_result(const struct dkim_sigresult *r, size_t n, size_t i)
{
	size_t	 bl;

	printf(";\n\tdkim=%s (", dkim_result_name(r[i].result));
	authres_print_comment(stdout, r[i].reason);
	if (r[i].keytype != NULL) {
		if (r[i].keybits > 0)
			printf("; %d-bit %s key", r[i].keybits,
			    r[i].keytype);
		else
			printf("; %s key", r[i].keytype);
	}
	if (r[i].testing)
		printf("; key in testing mode t=y");
	if (r[i].dnssec == DKIM_DNSSEC_SECURE)
		printf("; key DNSSEC-secure");
	else if (r[i].dnssec == DKIM_DNSSEC_BOGUS)
		printf("; key DNSSEC-bogus");
	if (r[i].body_ok == 1)
		printf("; body hash ok");
	else if (r[i].body_ok == 0)
		printf("; body hash mismatch");
	if (r[i].canon[0] != '\0')
		printf("; c=%s", r[i].canon);
	if (r[i].l >= 0)
		printf("; l=%lld", r[i].l);
	if (r[i].h != NULL) {
		printf("; h=");
		authres_print_comment(stdout, r[i].h);
	}
	printf(")");
	if (r[i].d != NULL) {
		printf(" header.d=");
		authres_print_pvalue(stdout, r[i].d);
	}
	if (r[i].i != NULL) {
		printf(" header.i=");
		authres_print_pvalue(stdout, r[i].i);
	}
	if (r[i].s != NULL) {
		printf(" header.s=");
		authres_print_pvalue(stdout, r[i].s);
	}
	if (r[i].a != NULL) {
		printf(" header.a=");
		authres_print_pvalue(stdout, r[i].a);
	}
	if ((bl = b_prefix_len(r, n, i)) > 0) {
		char *b = xstrndup(r[i].b, bl);

		printf(" header.b=");
		authres_print_pvalue(stdout, b);
		free(b);
	}
}

/* The options of check dkim; -1 after a message. */
static int
check_dkim_options(int argc, char *argv[], struct check_dkim_cmd *c)
{
	static const struct option longopts[] = {
		{ "dns-zone",		required_argument, NULL, 'z' },
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 't' },
		{ "allow-sha1",		no_argument,	   NULL, '1' },
		{ "time",		required_argument, NULL, 'T' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "authserv-id",	required_argument, NULL, 'A' },
		{ NULL,			0,		   NULL, 0 }
	};
	int	 ch;

	verbose = 0;
	optind = 0;	/* glibc: restart after posternctl's own options */
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'z': c->zone = optarg; break;
		case 'r': c->resolver = optarg; break;
		case 't': c->ta = optarg; break;
		case '1': c->opts.allow_sha1 = 1; break;
		case 'v': verbose = 1; break;
		case 'A': c->authserv = optarg; break;
		case 'T':
			if (offline_parse_time(CHECK_DKIM_PROG, "--time",
			    optarg, &c->opts.now) == -1)
				return -1;
			break;
		default:
			check_dkim_usage();
			return -1;
		}
	}
	if (optind != argc || (c->authserv != NULL &&
	    !authres_valid_authserv_id(c->authserv))) {
		check_dkim_usage();
		return -1;
	}
	return 0;
}

static void
feed_verifier(void *v, const void *p, size_t len)
{
	dkim_verify_feed(v, p, len);
}

/* Every signature's outcome, on stderr with -v. */
static void
log_results(const struct dkim_sigresult *r, size_t n, size_t total)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		vlog_step("signature %zu: d=%s s=%s a=%s c=%s h=%s: %s (%s)",
		    i + 1, r[i].d ? r[i].d : "?", r[i].s ? r[i].s : "?",
		    r[i].a ? r[i].a : "?", r[i].canon[0] ? r[i].canon : "?",
		    r[i].h ? r[i].h : "?", dkim_result_name(r[i].result),
		    r[i].reason);
	if (total > n)
		vlog_step("%zu more signatures not reported", total - n);
}

/* One Authentication-Results field, one dkim= per signature. */
static void
print_authres(const char *authserv, const struct dkim_sigresult *r,
    size_t n)
{
	char	 host[256];
	size_t	 i;

	offline_authserv_id(authserv, host, sizeof(host));
	printf("Authentication-Results: %s", host);
	if (n == 0)
		printf(";\n\tdkim=none (no DKIM-Signature field)");
	for (i = 0; i < n; i++)
		print_result(r, n, i);
	printf("\n");
}

int
check_dkim_main(int argc, char *argv[])
{
	struct check_dkim_cmd		 c;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	struct dns_ctx			*dns;
	size_t				 i, n, total, insize;

	memset(&c, 0, sizeof(c));
	if (check_dkim_options(argc, argv, &c) == -1)
		return CHECK_DKIM_USAGE_ERR;
	if ((dns = offline_dns(CHECK_DKIM_PROG, c.zone, c.resolver,
	    c.ta)) == NULL)
		return CHECK_DKIM_USAGE_ERR;
	vlog_step("dns: %s", dns_ctx_describe(dns));
	v = dkim_verify_new(&c.opts);
	if (offline_read_message(CHECK_DKIM_PROG, NULL, feed_verifier, v,
	    &insize) == -1) {
		dkim_verify_free(v);
		dns_ctx_free(dns);
		return CHECK_DKIM_USAGE_ERR;
	}
	dkim_verify_end(v);
	vlog_step("message: %zu bytes read", insize);
	for (i = 0; i < dkim_verify_nkeys(v); i++) {
		vlog_step("looking up %s TXT", dkim_verify_keyname(v, i));
		lookup_key(dns, v, i);
	}
	r = dkim_verify_results(v, &n, &total);
	log_results(r, n, total);
	print_authres(c.authserv, r, n);
	dkim_verify_free(v);
	dns_ctx_free(dns);
	return 0;
}

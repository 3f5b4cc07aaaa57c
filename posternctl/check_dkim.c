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

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dkim.h"
#include "dns.h"
#include "auth/authres.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define CHECK_DKIM_MAX_INPUT	(256 * 1024 * 1024)
#define CHECK_DKIM_USAGE_ERR	2	/* bad usage or unreadable input */

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

int
check_dkim_main(int argc, char *argv[])
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
	struct dkim_verify_opts		 opts;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	struct dns_ctx			*dns;
	const char			*zone = NULL, *resolver = NULL;
	const char			*ta = NULL, *errstr;
	const char			*authserv = NULL;
	char				 err[512], host[256], chunk[65536];
	size_t				 i, n, total, insize = 0;
	ssize_t				 got;
	int				 ch;

	memset(&opts, 0, sizeof(opts));
	verbose = 0;
	optind = 0;	/* glibc: restart after posternctl's own options */
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'z': zone = optarg; break;
		case 'r': resolver = optarg; break;
		case 't': ta = optarg; break;
		case '1': opts.allow_sha1 = 1; break;
		case 'v': verbose = 1; break;
		case 'A': authserv = optarg; break;
		case 'T':
			opts.now = (time_t)strtonum(optarg, 1, 1LL << 40,
			    &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "posternctl check dkim: "
				    "--time %s: %s\n", optarg, errstr);
				return CHECK_DKIM_USAGE_ERR;
			}
			break;
		default:
			check_dkim_usage();
			return CHECK_DKIM_USAGE_ERR;
		}
	}
	if (optind != argc || (authserv != NULL &&
	    !authres_valid_authserv_id(authserv))) {
		check_dkim_usage();
		return CHECK_DKIM_USAGE_ERR;
	}
	if (zone != NULL && resolver != NULL) {
		fprintf(stderr, "posternctl check dkim: --dns-zone and "
		    "--resolver are exclusive\n");
		return CHECK_DKIM_USAGE_ERR;
	}
	if (ta != NULL && resolver == NULL) {
		fprintf(stderr, "posternctl check dkim: --trust-anchor needs "
		    "--resolver\n");
		return CHECK_DKIM_USAGE_ERR;
	}
	if (zone != NULL)
		dns = dns_ctx_zone(NULL, zone, err, sizeof(err));
	else if (resolver != NULL)
		dns = dns_ctx_resolver(NULL, resolver, ta, err, sizeof(err));
	else
		dns = dns_ctx_system(NULL, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "posternctl check dkim: %s\n", err);
		return CHECK_DKIM_USAGE_ERR;
	}
	if (resolver != NULL)
		dns_ctx_set_timeout(dns, 5000);
	vlog_step("dns: %s", dns_ctx_describe(dns));

	v = dkim_verify_new(&opts);
	for (;;) {
		got = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			fprintf(stderr, "posternctl check dkim: standard "
			    "input: %s\n", strerror(errno));
			dkim_verify_free(v);
			dns_ctx_free(dns);
			return CHECK_DKIM_USAGE_ERR;
		}
		if (got == 0)
			break;
		insize += (size_t)got;
		if (insize > CHECK_DKIM_MAX_INPUT) {
			fprintf(stderr, "posternctl check dkim: message larger "
			    "than %d bytes\n", CHECK_DKIM_MAX_INPUT);
			dkim_verify_free(v);
			dns_ctx_free(dns);
			return CHECK_DKIM_USAGE_ERR;
		}
		dkim_verify_feed(v, chunk, (size_t)got);
	}
	dkim_verify_end(v);
	vlog_step("message: %zu bytes read", insize);
	for (i = 0; i < dkim_verify_nkeys(v); i++) {
		vlog_step("looking up %s TXT", dkim_verify_keyname(v, i));
		lookup_key(dns, v, i);
	}
	r = dkim_verify_results(v, &n, &total);
	for (i = 0; i < n; i++)
		vlog_step("signature %zu: d=%s s=%s a=%s c=%s h=%s: %s (%s)",
		    i + 1, r[i].d ? r[i].d : "?", r[i].s ? r[i].s : "?",
		    r[i].a ? r[i].a : "?", r[i].canon[0] ? r[i].canon : "?",
		    r[i].h ? r[i].h : "?", dkim_result_name(r[i].result),
		    r[i].reason);
	if (total > n)
		vlog_step("%zu more signatures not reported", total - n);

	if (authserv != NULL)
		strlcpy(host, authserv, sizeof(host));
	else if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	printf("Authentication-Results: %s", host);
	if (n == 0)
		printf(";\n\tdkim=none (no DKIM-Signature field)");
	for (i = 0; i < n; i++)
		print_result(r, n, i);
	printf("\n");
	dkim_verify_free(v);
	dns_ctx_free(dns);
	return 0;
}

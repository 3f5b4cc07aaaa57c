/*
 * posternctl arc seal and posternctl check arc: validate the ARC chain of
 * a message read from standard input (RFC 8617 5.2), looking keys up in a
 * zone file, through a given resolver or through the system resolver, and
 * either print the arc= Authentication-Results (check) or add a new ARC
 * set sealed with that status (RFC 8617 5.1) and write the message to
 * standard output, new set first (seal).  Runs auth/arc.c and lib/dns.c
 * as the daemon does.
 *
 * The ARC-Authentication-Results this writes is only what this command
 * itself checked: "authserv-id; arc=RESULT".  A daemon seals its full
 * A-R (SPF, DKIM, DMARC, ARC) through the library instead.
 *
 * Exit status: 0 when the check ran or the message was sealed; 2 on bad
 * usage, an unreadable key, message or DNS source; 1 when the message is
 * not sealed (chain at 50 sets, already failed, status unknown because of
 * a DNS failure) or output fails.
 */
#include <sys/types.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "dns.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define ARC_USAGE_ERR	2	/* bad usage or unreadable input */

struct arc_cmd {
	const char		*prog;
	int			 verbose;
	const char		*zone;
	const char		*resolver;
	const char		*ta;
	const char		*authserv;
};

static void
vlog_step(const struct arc_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vlog_step(const struct arc_cmd *c, const char *fmt, ...)
{
	va_list	 ap;

	if (!c->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "arc: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static struct dns_ctx *
arc_dns(const struct arc_cmd *c)
{
	struct dns_ctx	*dns;

	if ((dns = offline_dns(c->prog, c->zone, c->resolver, c->ta)) != NULL)
		vlog_step(c, "dns: %s", dns_ctx_describe(dns));
	return dns;
}

/* One key: TXT strings concatenated per record (RFC 6376 3.6.2.2). */
static void
lookup_key(const struct arc_cmd *c, struct dns_ctx *dns,
    struct arc_verify *v, size_t k)
{
	const char		*name = arc_verify_keyname(v, k);
	struct dns_answer	*ans;
	struct dkim_keyans	 ka;

	vlog_step(c, "looking up %s TXT", name);
	ans = dns_resolve_sync(dns, name, DNS_T_TXT);
	dkim_keyans_from(&ka, ans);
	if (ka.st == DKIM_DNS_TEMPFAIL)
		vlog_step(c, "key %s: %s", name, ans->failed ? "lookup "
		    "failed" : dns_rcode_name(ans->rcode));
	else if (ka.st == DKIM_DNS_NXDOMAIN)
		vlog_step(c, "key %s: NXDOMAIN", name);
	else
		vlog_step(c, "key %s: %zu TXT record%s (%s)", name, ka.n,
		    ka.n == 1 ? "" : "s", dns_sec_name(ans->sec));
	arc_verify_set_key(v, k, ka.st, ka.sec, (const char **)ka.recs,
	    ka.lens, ka.n);
	dkim_keyans_clear(&ka);
	if (ans != NULL)
		dns_answer_free(ans);
}

static void
feed_verifier(void *v, const void *p, size_t len)
{
	arc_verify_feed(v, p, len);
}

/* Standard input into the verifier, and into keep if not NULL. */
static int
read_message(const struct arc_cmd *c, struct arc_verify *v, struct buf *keep)
{
	size_t	 total;

	if (offline_read_message(c->prog, keep, feed_verifier, v,
	    &total) == -1)
		return -1;
	vlog_step(c, "message: %zu bytes read", total);
	return 0;
}

static const struct arc_chainresult *
validate(const struct arc_cmd *c, struct dns_ctx *dns, struct arc_verify *v)
{
	const struct arc_chainresult	*r;
	size_t				 k;
	unsigned int			 i;

	arc_verify_end(v);
	for (k = 0; k < arc_verify_nkeys(v); k++)
		lookup_key(c, dns, v, k);
	r = arc_verify_result(v);
	for (i = 0; i < r->nsets; i++)
		vlog_step(c, "set i=%u: AMS d=%s s=%s (%s), AS d=%s s=%s (%s) "
		    "cv=%s", i + 1,
		    r->sets[i].ams_d ? r->sets[i].ams_d : "?",
		    r->sets[i].ams_s ? r->sets[i].ams_s : "?",
		    r->sets[i].ams_ok == 1 ? "good" : r->sets[i].ams_ok == 0 ?
		    "bad" : "unchecked",
		    r->sets[i].as_d ? r->sets[i].as_d : "?",
		    r->sets[i].as_s ? r->sets[i].as_s : "?",
		    r->sets[i].as_ok == 1 ? "good" : r->sets[i].as_ok == 0 ?
		    "bad" : "unchecked", arc_cv_name(r->sets[i].cv));
	vlog_step(c, "chain: %s (%s)", arc_result_name(r->result), r->reason);
	return r;
}

static void
arc_seal_usage(void)
{
	fprintf(stderr, "usage: posternctl arc seal [-v] -k keyfile -d domain "
	    "-s selector\n"
	    "           --authserv-id name [-a rsa-sha256 | ed25519-sha256] "
	    "[-h Field:Field:...]\n"
	    "           [-t time] [--dns-zone file | --resolver addr[@port] "
	    "[--trust-anchor file]]\n"
	    "           < message\n");
}

/* The options of arc seal; -1 after a message. */
static int
arc_seal_options(int argc, char *argv[], struct arc_cmd *c,
    struct arc_sealer *cfg, const char **keyfile)
{
	static const struct option longopts[] = {
		{ "key",		required_argument, NULL, 'k' },
		{ "domain",		required_argument, NULL, 'd' },
		{ "selector",		required_argument, NULL, 's' },
		{ "algorithm",		required_argument, NULL, 'a' },
		{ "headers",		required_argument, NULL, 'h' },
		{ "time",		required_argument, NULL, 't' },
		{ "authserv-id",	required_argument, NULL, 'A' },
		{ "dns-zone",		required_argument, NULL, 'z' },
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 'T' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ NULL,			0,		   NULL, 0 }
	};
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "a:d:h:k:s:t:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'k': *keyfile = optarg; break;
		case 'd': cfg->domain = optarg; break;
		case 's': cfg->selector = optarg; break;
		case 'h': cfg->headers = optarg; break;
		case 'A': c->authserv = optarg; break;
		case 'z': c->zone = optarg; break;
		case 'r': c->resolver = optarg; break;
		case 'T': c->ta = optarg; break;
		case 'v': c->verbose = 1; break;
		case 'a':
			cfg->alg = dkim_alg_from_name(optarg, strlen(optarg));
			if (cfg->alg != DKIM_ALG_RSA_SHA256 &&
			    cfg->alg != DKIM_ALG_ED25519_SHA256) {
				fprintf(stderr, "%s: unknown algorithm %s\n",
				    c->prog, optarg);
				return -1;
			}
			break;
		case 't':
			if (offline_parse_time(c->prog, "-t", optarg,
			    &cfg->t) == -1)
				return -1;
			break;
		default:
			arc_seal_usage();
			return -1;
		}
	}
	if (optind != argc || *keyfile == NULL || cfg->domain == NULL ||
	    cfg->selector == NULL || c->authserv == NULL) {
		arc_seal_usage();
		return -1;
	}
	if (!authres_valid_authserv_id(c->authserv)) {
		fprintf(stderr, "%s: --authserv-id %s is not a domain name\n",
		    c->prog, c->authserv);
		return -1;
	}
	return 0;
}

/*
 * Refuse a key, algorithm, domain, selector or header list the sealer
 * cannot use before the message is read.  The A-R text is only known at
 * the end: the authserv-id stands in for it.
 */
static int
sealer_usable(const struct arc_cmd *c, const struct arc_sealer *cfg)
{
	struct arc_sealer	 trial = *cfg;
	struct arc_seal		*s;
	char			 err[512];

	trial.authres = c->authserv;
	if ((s = arc_seal_new(&trial, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return -1;
	}
	arc_seal_free(s);
	return 0;
}

/*
 * The new ARC set for a message whose chain validated as r, into out;
 * -1 after a message when it is not sealed.
 */
static int
seal(const struct arc_cmd *c, const struct arc_sealer *cfg,
    const struct arc_chainresult *r, const struct buf *in, struct buf *out)
{
	struct arc_sealer	 sc = *cfg;
	struct arc_seal		*s;
	char			 err[512], *authres;
	int			 sr, rv = -1;

	/* RFC 8617 4.1.1: the AAR carries our A-R; here, just arc=. */
	xasprintf(&authres, "%s; arc=%s", c->authserv,
	    arc_result_name(r->result));
	sc.authres = authres;
	if ((s = arc_seal_new(&sc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		goto done;
	}
	arc_seal_feed(s, in->data, in->len);
	if ((sr = arc_seal_end(s, r->result, out, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s: %s%s\n", c->prog,
		    sr == 1 ? "not sealed: " : "", err);
		if (r->result != ARC_NONE && r->result != ARC_PASS)
			fprintf(stderr, "%s: chain %s: %s\n", c->prog,
			    arc_result_name(r->result), r->reason);
		goto done;
	}
	vlog_step(c, "sealed as i=%u cv=%s", r->nsets + 1,
	    r->result == ARC_PASS ? "pass" : r->result == ARC_FAIL ? "fail" :
	    "none");
	rv = 0;
 done:
	arc_seal_free(s);
	free(authres);
	return rv;
}

int
arc_seal_main(int argc, char *argv[])
{
	struct arc_cmd			 c;
	struct arc_sealer		 cfg;
	struct arc_verify		*v = NULL;
	const struct arc_chainresult	*r;
	struct dns_ctx			*dns = NULL;
	struct buf			 in, out;
	const char			*keyfile = NULL;
	int				 rv = ARC_USAGE_ERR;

	memset(&c, 0, sizeof(c));
	memset(&cfg, 0, sizeof(cfg));
	c.prog = "posternctl arc seal";
	/* Kept whole: the message is written after its new ARC set. */
	buf_init(&in, OFFLINE_MAX_MESSAGE);
	buf_init(&out, 1024 * 1024);
	if (arc_seal_options(argc, argv, &c, &cfg, &keyfile) == -1 ||
	    (cfg.key = offline_private_key(c.prog, keyfile)) == NULL ||
	    sealer_usable(&c, &cfg) == -1 || (dns = arc_dns(&c)) == NULL)
		goto done;
	v = arc_verify_new(NULL);
	if (read_message(&c, v, &in) == -1)
		goto done;
	r = validate(&c, dns, v);
	rv = 1;
	if (seal(&c, &cfg, r, &in, &out) == -1 ||
	    offline_write_prepended(c.prog, &out, &in) == -1)
		goto done;
	rv = 0;
 done:
	arc_verify_free(v);
	buf_free(&in);
	buf_free(&out);
	dns_ctx_free(dns);
	EVP_PKEY_free(cfg.key);
	return rv;
}

static void
check_arc_usage(void)
{
	fprintf(stderr, "usage: posternctl check arc [-v] [--authserv-id name] "
	    "[--dns-zone file |\n"
	    "           --resolver addr[@port] [--trust-anchor file]] "
	    "< message\n");
}

/* The arc= result, with the sealers, as an Authentication-Results field. */
static void
print_authres(const char *authserv, const struct arc_chainresult *r)
{
	char		 host[256];
	unsigned int	 i;

	offline_authserv_id(authserv, host, sizeof(host));
	printf("Authentication-Results: %s;\n\tarc=%s (", host,
	    arc_result_name(r->result));
	authres_print_comment(stdout, r->reason);
	for (i = 0; i < r->nsets; i++)
		if (r->sets[i].as_d != NULL) {
			printf("%s", i == 0 ? "; sealed by " : ", ");
			authres_print_comment(stdout, r->sets[i].as_d);
		}
	printf(")");
	/* RFC 8617 5.2 step 6, as the A-R property header.oldest-pass. */
	if (r->result == ARC_PASS)
		printf(" header.oldest-pass=%u", r->oldest_pass);
	printf("\n");
}

int
check_arc_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "authserv-id",	required_argument, NULL, 'A' },
		{ "dns-zone",		required_argument, NULL, 'z' },
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 'T' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct arc_cmd		 c;
	struct arc_verify	*v;
	struct dns_ctx		*dns;
	int			 ch;

	memset(&c, 0, sizeof(c));
	c.prog = "posternctl check arc";
	optind = 0;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A': c.authserv = optarg; break;
		case 'z': c.zone = optarg; break;
		case 'r': c.resolver = optarg; break;
		case 'T': c.ta = optarg; break;
		case 'v': c.verbose = 1; break;
		default:
			check_arc_usage();
			return ARC_USAGE_ERR;
		}
	}
	if (optind != argc || (c.authserv != NULL &&
	    !authres_valid_authserv_id(c.authserv))) {
		check_arc_usage();
		return ARC_USAGE_ERR;
	}
	if ((dns = arc_dns(&c)) == NULL)
		return ARC_USAGE_ERR;
	v = arc_verify_new(NULL);
	if (read_message(&c, v, NULL) == -1) {
		arc_verify_free(v);
		dns_ctx_free(dns);
		return ARC_USAGE_ERR;
	}
	print_authres(c.authserv, validate(&c, dns, v));
	arc_verify_free(v);
	dns_ctx_free(dns);
	return 0;
}

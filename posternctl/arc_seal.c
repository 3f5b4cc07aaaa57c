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

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "crypto.h"
#include "dns.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define ARC_MAX_INPUT	(256 * 1024 * 1024)
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
	char		 err[512];

	if (c->zone != NULL && c->resolver != NULL) {
		fprintf(stderr, "%s: --dns-zone and --resolver are "
		    "exclusive\n", c->prog);
		return NULL;
	}
	if (c->ta != NULL && c->resolver == NULL) {
		fprintf(stderr, "%s: --trust-anchor needs --resolver\n",
		    c->prog);
		return NULL;
	}
	if (c->zone != NULL)
		dns = dns_ctx_zone(NULL, c->zone, err, sizeof(err));
	else if (c->resolver != NULL)
		dns = dns_ctx_resolver(NULL, c->resolver, c->ta, err,
		    sizeof(err));
	else
		dns = dns_ctx_system(NULL, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return NULL;
	}
	if (c->resolver != NULL)
		dns_ctx_set_timeout(dns, 5000);
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

/*
 * Read standard input, feeding the verifier (and the sealer, if any) and
 * keeping the bytes in keep (if any).  -1 after a message on stderr.
 */
static int
read_message(const struct arc_cmd *c, struct arc_verify *v,
    struct arc_seal *s, struct buf *keep)
{
	char	 chunk[65536];
	size_t	 total = 0;
	ssize_t	 got;

	for (;;) {
		got = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			fprintf(stderr, "%s: standard input: %s\n", c->prog,
			    strerror(errno));
			return -1;
		}
		if (got == 0)
			break;
		total += (size_t)got;
		if (total > ARC_MAX_INPUT || (keep != NULL &&
		    buf_add(keep, chunk, (size_t)got) == -1)) {
			fprintf(stderr, "%s: message larger than %d bytes\n",
			    c->prog, ARC_MAX_INPUT);
			return -1;
		}
		arc_verify_feed(v, chunk, (size_t)got);
		if (s != NULL)
			arc_seal_feed(s, chunk, (size_t)got);
	}
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

int
arc_seal_main(int argc, char *argv[])
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
	struct arc_cmd			 c;
	struct arc_sealer		 cfg;
	struct arc_verify		*v = NULL;
	struct arc_seal			*s = NULL;
	const struct arc_chainresult	*r;
	struct dns_ctx			*dns = NULL;
	struct buf			 in, out;
	EVP_PKEY			*pk = NULL;
	const char			*keyfile = NULL, *errstr;
	char				 err[512], *authres = NULL;
	size_t				 i, j, k;
	int				 ch, fd, lf_only = 0, rv = 1, sr;

	memset(&c, 0, sizeof(c));
	memset(&cfg, 0, sizeof(cfg));
	c.prog = "posternctl arc seal";
	optind = 0;
	while ((ch = getopt_long(argc, argv, "a:d:h:k:s:t:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'k': keyfile = optarg; break;
		case 'd': cfg.domain = optarg; break;
		case 's': cfg.selector = optarg; break;
		case 'h': cfg.headers = optarg; break;
		case 'A': c.authserv = optarg; break;
		case 'z': c.zone = optarg; break;
		case 'r': c.resolver = optarg; break;
		case 'T': c.ta = optarg; break;
		case 'v': c.verbose = 1; break;
		case 'a':
			cfg.alg = dkim_alg_from_name(optarg, strlen(optarg));
			if (cfg.alg != DKIM_ALG_RSA_SHA256 &&
			    cfg.alg != DKIM_ALG_ED25519_SHA256) {
				fprintf(stderr, "%s: unknown algorithm %s\n",
				    c.prog, optarg);
				return ARC_USAGE_ERR;
			}
			break;
		case 't':
			cfg.t = (time_t)strtonum(optarg, 1, 1LL << 40,
			    &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: -t %s: %s\n", c.prog,
				    optarg, errstr);
				return ARC_USAGE_ERR;
			}
			break;
		default:
			arc_seal_usage();
			return ARC_USAGE_ERR;
		}
	}
	if (optind != argc || keyfile == NULL || cfg.domain == NULL ||
	    cfg.selector == NULL || c.authserv == NULL) {
		arc_seal_usage();
		return ARC_USAGE_ERR;
	}
	if (!authres_valid_authserv_id(c.authserv)) {
		fprintf(stderr, "%s: --authserv-id %s is not a domain name\n",
		    c.prog, c.authserv);
		return ARC_USAGE_ERR;
	}
	if ((fd = open(keyfile, O_RDONLY)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", c.prog, keyfile,
		    strerror(errno));
		return ARC_USAGE_ERR;
	}
	pk = crypto_privkey_fd(fd, err, sizeof(err));
	close(fd);
	if (pk == NULL) {
		fprintf(stderr, "%s: %s: %s\n", c.prog, keyfile, err);
		return ARC_USAGE_ERR;
	}
	cfg.key = pk;
	/* The A-R text is only known at the end: a placeholder checks cfg. */
	cfg.authres = c.authserv;
	if ((s = arc_seal_new(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", c.prog, err);
		EVP_PKEY_free(pk);
		return ARC_USAGE_ERR;
	}
	arc_seal_free(s);
	s = NULL;
	if ((dns = arc_dns(&c)) == NULL) {
		EVP_PKEY_free(pk);
		return ARC_USAGE_ERR;
	}
	buf_init(&in, ARC_MAX_INPUT);
	buf_init(&out, 1024 * 1024);
	v = arc_verify_new(NULL);
	if (read_message(&c, v, NULL, &in) == -1) {
		rv = ARC_USAGE_ERR;
		goto done;
	}
	r = validate(&c, dns, v);
	/* RFC 8617 4.1.1: the AAR carries our A-R; here, just arc=. */
	xasprintf(&authres, "%s; arc=%s", c.authserv,
	    arc_result_name(r->result));
	cfg.authres = authres;
	if ((s = arc_seal_new(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", c.prog, err);
		goto done;
	}
	arc_seal_feed(s, in.data, in.len);
	if ((sr = arc_seal_end(s, r->result, &out, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s: %s%s\n", c.prog, sr == 1 ? "not sealed: " :
		    "", err);
		if (r->result != ARC_NONE && r->result != ARC_PASS)
			fprintf(stderr, "%s: chain %s: %s\n", c.prog,
			    arc_result_name(r->result), r->reason);
		goto done;
	}
	vlog_step(&c, "sealed as i=%u cv=%s", r->nsets + 1,
	    r->result == ARC_PASS ? "pass" : r->result == ARC_FAIL ? "fail" :
	    "none");
	/* A file with bare LF line ends gets the new fields the same way. */
	for (i = 0; i < in.len && in.data[i] != '\n'; i++)
		;
	if (i < in.len && (i == 0 || in.data[i - 1] != '\r'))
		lf_only = 1;
	if (lf_only) {
		for (j = k = 0; j < out.len; j++)
			if (!(out.data[j] == '\r' && j + 1 < out.len &&
			    out.data[j + 1] == '\n'))
				out.data[k++] = out.data[j];
		out.len = k;
	}
	if (write_all(STDOUT_FILENO, out.data, out.len) == -1 ||
	    (in.len > 0 && write_all(STDOUT_FILENO, in.data, in.len) == -1)) {
		fprintf(stderr, "%s: standard output: %s\n", c.prog,
		    strerror(errno));
		goto done;
	}
	rv = 0;
 done:
	free(authres);
	arc_seal_free(s);
	arc_verify_free(v);
	buf_free(&in);
	buf_free(&out);
	dns_ctx_free(dns);
	EVP_PKEY_free(pk);
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
	struct arc_cmd			 c;
	struct arc_verify		*v;
	const struct arc_chainresult	*r;
	struct dns_ctx			*dns;
	char				 host[256];
	unsigned int			 i;
	int				 ch;

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
	if (read_message(&c, v, NULL, NULL) == -1) {
		arc_verify_free(v);
		dns_ctx_free(dns);
		return ARC_USAGE_ERR;
	}
	r = validate(&c, dns, v);
	if (c.authserv != NULL)
		strlcpy(host, c.authserv, sizeof(host));
	else if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
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
	arc_verify_free(v);
	dns_ctx_free(dns);
	return 0;
}

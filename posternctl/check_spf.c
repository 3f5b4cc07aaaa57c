/*
 * posternctl check spf: evaluate SPF (RFC 7208) for the HELO and the MAIL
 * FROM identities of a client, offline from a zone file, through a given
 * resolver, or through the system resolver, and print one RFC 8601
 * Authentication-Results field with both results (RFC 8601 2.7.2:
 * smtp.helo and smtp.mailfrom), each with its reason in a comment.  -v
 * writes the step-by-step trace of both checks to standard error.  Runs the
 * same auth/spf.c and lib/dns.c code as the daemon.
 *
 * Exit status: 0 when the check ran (whatever its result), 2 on bad usage
 * or a DNS source that cannot be set up (unreadable zone file, bad
 * resolver address or trust anchor).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "auth/authres.h"
#include "posternctl/posternctl.h"
#include "auth/spf.h"

#define CHECK_SPF_USAGE_ERR	2

static void
check_spf_usage(void)
{
	fprintf(stderr, "usage: posternctl check spf [-v] --ip IP --helo NAME "
	    "--mail-from ADDR\n"
	    "           [--authserv-id NAME] [--dns-zone FILE |\n"
	    "           --resolver ADDR[@PORT] [--trust-anchor FILE]]\n");
}

/* One resinfo: ";\n\tspf=RESULT (reason) smtp.PROP=VALUE". */
static void
print_resinfo(const char *prop, const char *value,
    const struct spf_outcome *o)
{
	printf(";\n\tspf=%s (", spf_result_name(o->result));
	authres_print_comment(stdout, o->reason);
	if (o->explanation != NULL) {
		printf("; explanation: ");
		authres_print_comment(stdout, o->explanation);
	}
	printf(") smtp.%s=", prop);
	authres_print_pvalue(stdout, value);
}

static void
print_trace(const char *label, const struct spf_outcome *o)
{
	const char	*p, *nl;

	if (o->trace == NULL)
		return;
	fprintf(stderr, "spf: trace of the %s check:\n", label);
	for (p = o->trace; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			fprintf(stderr, "spf:   %s\n", p);
			break;
		}
		fprintf(stderr, "spf:   %.*s\n", (int)(nl - p), p);
	}
}

int
check_spf_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "ip",			required_argument, NULL, 'i' },
		{ "helo",		required_argument, NULL, 'H' },
		{ "mail-from",		required_argument, NULL, 'm' },
		{ "dns-zone",		required_argument, NULL, 'z' },
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 't' },
		{ "authserv-id",	required_argument, NULL, 'A' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct spf_params	 p;
	struct spf_outcome	 helo_out, mf_out;
	struct dns_ctx		*dns;
	struct in6_addr		 addr;
	const char		*ip = NULL, *helo = NULL, *mail_from = NULL;
	const char		*zone = NULL, *resolver = NULL, *ta = NULL;
	const char		*authserv = NULL;
	char			 host[256];
	int			 ch, verbose = 0;

	optind = 0;	/* glibc: restart after posternctl's own options */
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': ip = optarg; break;
		case 'H': helo = optarg; break;
		case 'm': mail_from = optarg; break;
		case 'z': zone = optarg; break;
		case 'r': resolver = optarg; break;
		case 't': ta = optarg; break;
		case 'A': authserv = optarg; break;
		case 'v': verbose = 1; break;
		default:
			check_spf_usage();
			return CHECK_SPF_USAGE_ERR;
		}
	}
	if (optind != argc || ip == NULL || helo == NULL ||
	    mail_from == NULL) {
		check_spf_usage();
		return CHECK_SPF_USAGE_ERR;
	}
	/* Check the IP before any DNS set-up: a typo is a usage error. */
	if (inet_pton(AF_INET, ip, &addr) != 1 &&
	    inet_pton(AF_INET6, ip, &addr) != 1) {
		fprintf(stderr, "posternctl check spf: invalid IP address "
		    "\"%s\"\n", ip);
		return CHECK_SPF_USAGE_ERR;
	}
	if (helo[0] == '\0') {
		fprintf(stderr, "posternctl check spf: empty --helo\n");
		return CHECK_SPF_USAGE_ERR;
	}
	if (authserv != NULL && !authres_valid_authserv_id(authserv)) {
		fprintf(stderr, "posternctl check spf: --authserv-id must be "
		    "a host name\n");
		return CHECK_SPF_USAGE_ERR;
	}

	if ((dns = offline_dns("posternctl check spf", zone, resolver,
	    ta)) == NULL)
		return CHECK_SPF_USAGE_ERR;
	if (verbose)
		fprintf(stderr, "spf: dns: %s\n", dns_ctx_describe(dns));

	memset(&p, 0, sizeof(p));
	p.ip = ip;
	p.helo = helo;
	p.mail_from = mail_from;
	p.trace = verbose;
	/* RFC 7208 2.3: the HELO identity first, then MAIL FROM (2.4). */
	p.identity = SPF_ID_HELO;
	spf_check_sync(dns, &p, &helo_out);
	p.identity = SPF_ID_MAILFROM;
	spf_check_sync(dns, &p, &mf_out);
	if (verbose) {
		print_trace("HELO", &helo_out);
		print_trace("MAIL FROM", &mf_out);
	}

	if (authserv != NULL)
		strlcpy(host, authserv, sizeof(host));
	else if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	printf("Authentication-Results: %s", host);
	print_resinfo("helo", helo, &helo_out);
	/* RFC 7208 2.4: with MAIL FROM <>, postmaster@helo was checked. */
	print_resinfo("mailfrom", mf_out.sender[0] != '\0' ? mf_out.sender :
	    mail_from, &mf_out);
	printf("\n");
	fflush(stdout);

	spf_outcome_clear(&helo_out);
	spf_outcome_clear(&mf_out);
	dns_ctx_free(dns);
	return 0;
}

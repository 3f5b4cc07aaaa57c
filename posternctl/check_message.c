/*
 * posternctl check message: the whole inbound authentication of a message
 * exactly as the daemon runs it (auth/inbound.c): SPF of the MAIL FROM
 * (or HELO) identity, every DKIM signature, the ARC chain, DMARC, and
 * iprev with whether the PTR name matches the HELO name.  It prints the
 * Authentication-Results field the daemon would add and, with -v, the
 * step-by-step account on standard error, ending with the verdict the
 * default (relaxed) policy, or --strict, would give;
 * --dkim-fail-partial-body is the policy option of that name.
 *
 * Without a message (standard input a terminal, or empty) it checks what
 * it can: SPF, iprev, and DMARC with the MAIL FROM domain taken as the
 * From domain.
 *
 * Exit status: 0 when the check ran, 2 on bad usage or a DNS source that
 * cannot be set up.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/authres.h"
#include "auth/inbound.h"
#include "dns.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define CHECK_MESSAGE_USAGE_ERR	2
#define CHECK_MESSAGE_MAX	(64 * 1024 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: posternctl check message [-v] [--strict] "
	    "[--dkim-fail-partial-body]\n"
	    "           --ip IP --helo NAME --mail-from ADDR\n"
	    "           [--authserv-id NAME] [--dns-zone FILE |\n"
	    "           --resolver ADDR[@PORT] [--trust-anchor FILE]] "
	    "[< message]\n");
}

/* Standard input, with bare LF line ends made CRLF as SMTP would. */
static int
read_message(struct buf *msg)
{
	char	 chunk[65536];
	ssize_t	 got, i;
	uint8_t	 prev = 0;

	for (;;) {
		got = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			fprintf(stderr, "posternctl check message: standard "
			    "input: %s\n", strerror(errno));
			return -1;
		}
		if (got == 0)
			return 0;
		for (i = 0; i < got; i++) {
			if (chunk[i] == '\n' && prev != '\r' &&
			    buf_add(msg, "\r", 1) == -1)
				goto big;
			if (buf_add(msg, &chunk[i], 1) == -1)
				goto big;
			prev = chunk[i];
		}
	}
big:
	fprintf(stderr, "posternctl check message: message larger than %d "
	    "bytes\n", CHECK_MESSAGE_MAX);
	return -1;
}

static void
print_result(void *arg, const struct inbound_result *r)
{
	const char	*p, *nl;
	size_t		 i;

	/* The field as the daemon writes it, with the terminal's line ends. */
	for (i = 0; i < r->header.len; i++)
		if (r->header.data[i] != '\r')
			putchar(r->header.data[i]);
	fflush(stdout);
	if (r->trace == NULL)
		return;
	for (p = r->trace; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			fprintf(stderr, "check: %s\n", p);
			break;
		}
		fprintf(stderr, "check: %.*s\n", (int)(nl - p), p);
	}
	fprintf(stderr, "check: the daemon would %s the message%s%s\n",
	    r->verdict == INBOUND_ACCEPT ? "accept" :
	    r->verdict == INBOUND_QUARANTINE ? "quarantine" :
	    r->verdict == INBOUND_REJECT ? "refuse" : "defer",
	    r->code != 0 ? ": " : "", r->code != 0 ? r->text : "");
}

int
check_message_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "ip",			required_argument, NULL, 'i' },
		{ "helo",		required_argument, NULL, 'H' },
		{ "mail-from",		required_argument, NULL, 'm' },
		{ "dns-zone",		required_argument, NULL, 'z' },
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 't' },
		{ "authserv-id",	required_argument, NULL, 'A' },
		{ "strict",		no_argument,	   NULL, 'S' },
		{ "dkim-fail-partial-body", no_argument,   NULL, 'L' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct inbound_params	 p;
	struct inbound_policy	 pol;
	struct dns_ctx		*dns;
	struct in6_addr		 addr;
	struct buf		 msg;
	const char		*ip = NULL, *helo = NULL, *mail_from = NULL;
	const char		*zone = NULL, *resolver = NULL, *ta = NULL;
	const char		*authserv = NULL, *at;
	char			 host[256], *synth = NULL;
	int			 ch, verbose = 0, strict = 0, rv;
	int			 partial_fail = 0;

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
		case 'S': strict = 1; break;
		case 'L': partial_fail = 1; break;
		case 'v': verbose = 1; break;
		default:
			usage();
			return CHECK_MESSAGE_USAGE_ERR;
		}
	}
	if (optind != argc || ip == NULL || helo == NULL ||
	    mail_from == NULL || (zone != NULL && resolver != NULL) ||
	    (ta != NULL && resolver == NULL)) {
		usage();
		return CHECK_MESSAGE_USAGE_ERR;
	}
	if (inet_pton(AF_INET, ip, &addr) != 1 &&
	    inet_pton(AF_INET6, ip, &addr) != 1) {
		fprintf(stderr, "posternctl check message: invalid IP address "
		    "\"%s\"\n", ip);
		return CHECK_MESSAGE_USAGE_ERR;
	}
	if (authserv != NULL && !authres_valid_authserv_id(authserv)) {
		fprintf(stderr, "posternctl check message: --authserv-id must "
		    "be a host name\n");
		return CHECK_MESSAGE_USAGE_ERR;
	}
	if (authserv == NULL) {
		if (gethostname(host, sizeof(host)) == -1 ||
		    !authres_valid_authserv_id(host))
			strlcpy(host, "localhost", sizeof(host));
		authserv = host;
	}
	buf_init(&msg, CHECK_MESSAGE_MAX);
	if (!isatty(STDIN_FILENO) && read_message(&msg) == -1) {
		buf_free(&msg);
		return 1;
	}
	if (msg.len == 0) {
		/* DMARC of the sender's domain: a From of the MAIL FROM */
		at = strrchr(mail_from, '@');
		xasprintf(&synth, "From: <%s%s>\r\n\r\n", at == NULL ?
		    "postmaster@" : "", at == NULL ? helo : mail_from);
		buf_addstr(&msg, synth);
		free(synth);
		if (verbose)
			fprintf(stderr, "check: no message: DMARC for the "
			    "MAIL FROM domain\n");
	}
	if ((dns = offline_dns("posternctl check message", zone, resolver,
	    ta)) == NULL) {
		buf_free(&msg);
		return CHECK_MESSAGE_USAGE_ERR;
	}
	if (verbose)
		fprintf(stderr, "check: dns: %s\n", dns_ctx_describe(dns));
	memset(&pol, 0, sizeof(pol));
	if (strict)
		pol.spf = pol.dkim = pol.arc = pol.dmarc = INBOUND_STRICT;
	pol.dkim_fail_partial_body = partial_fail;
	memset(&p, 0, sizeof(p));
	p.authserv_id = authserv;
	p.ip = ip;
	p.helo = helo;
	p.mail_from = mail_from;
	p.policy = &pol;
	p.trace = verbose;
	rv = inbound_check_sync(dns, &p, msg.data, msg.len, print_result,
	    NULL);
	buf_free(&msg);
	dns_ctx_free(dns);
	if (rv == -1) {
		fprintf(stderr, "posternctl check message: the check did not "
		    "complete\n");
		return 1;
	}
	return 0;
}

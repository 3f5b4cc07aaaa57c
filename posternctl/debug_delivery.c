/*
 * posternctl debug delivery [-j] [--resolver ADDR[@PORT]]
 *     [--trust-anchor FILE] [--ca-file FILE] [--from ADDR] ADDRESS
 *
 * Troubleshoot a delivery to ADDRESS with the running daemon's own code:
 * the request goes over the control socket to the mta, which runs the
 * probe in its own (unprivileged, chrooted) process, where every DNS
 * answer, policy, SMTP reply and certificate is parsed (mta/debug.c), and
 * streams one line per step back; we print them as they come.  We only
 * read the files the options name (as the invoking administrator, within
 * the bounds of lib/msg.h) and send their content; nothing from the
 * network is parsed here.
 *
 * Exit status: 0 deliverable, 1 otherwise (undeliverable, temporary, or
 * the daemon cannot be asked), 2 on bad usage.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "msg.h"
#include "posternctl/posternctl.h"
#include "smtp_addr.h"
#include "util.h"

#define DEBUG_USAGE_ERR	2
#define PROG		"posternctl debug delivery"

static void
debug_usage(void)
{
	fprintf(stderr, "usage: posternctl debug delivery [-j] "
	    "[--resolver ADDR[@PORT]] [--trust-anchor FILE]\n"
	    "           [--ca-file FILE] [--from ADDR] ADDRESS\n");
}

/* ADDR[@PORT]: a numeric IPv4 or IPv6 address, a port 1..65535. */
static int
resolver_valid(const char *r)
{
	char		 addr[CTL_DEBUG_RESOLVER_MAX];
	const char	*at, *errstr;
	unsigned char	 sa[16];

	if (strlcpy(addr, r, sizeof(addr)) >= sizeof(addr))
		return 0;
	if ((at = strrchr(r, '@')) != NULL) {
		addr[at - r] = '\0';
		(void)strtonum(at + 1, 1, 65535, &errstr);
		if (errstr != NULL)
			return 0;
	}
	return inet_pton(AF_INET, addr, sa) == 1 ||
	    inet_pton(AF_INET6, addr, sa) == 1;
}

/* A file the administrator named, whole, at most max bytes. */
static int
read_small_file(const char *opt, const char *path, size_t max,
    struct buf *out)
{
	char	 chunk[4096];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "%s: %s %s: %s\n", PROG, opt, path,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "%s: %s %s: %s\n", PROG, opt, path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max ||
		    buf_add(out, chunk, (size_t)n) == -1) {
			fprintf(stderr, "%s: %s %s: larger than %zu bytes\n",
			    PROG, opt, path, max);
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (out->len == 0) {
		fprintf(stderr, "%s: %s %s: empty\n", PROG, opt, path);
		return -1;
	}
	return 0;
}

/* Print the lines as they come; the verdict at the end. */
static int
debug_stream(struct imsgbuf *ibuf)
{
	struct msg_ctl_debug_result	 res;
	struct imsg			 imsg;
	const void			*data;
	size_t				 len;

	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_DEBUG_RESULT) {
			if (msg_get_ctl_debug_result(&imsg, &res) == -1)
				break;
			imsg_free(&imsg);
			if (fflush(stdout) != 0)
				return 1;
			return res.verdict == CTL_DEBUG_DELIVERABLE ? 0 : 1;
		}
		if (imsg.hdr.type != IMSG_CTL_REPLY_DATA ||
		    msg_get_bytes(&imsg, &data, &len) == -1)
			break;
		if (fwrite(data, 1, len, stdout) != len ||
		    fflush(stdout) != 0) {
			imsg_free(&imsg);
			return 1;
		}
		imsg_free(&imsg);
	}
	fprintf(stderr, "%s: malformed reply\n", PROG);
	imsg_free(&imsg);
	return 1;
}

static int
debug_delivery_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "resolver",		required_argument, NULL, 'r' },
		{ "trust-anchor",	required_argument, NULL, 't' },
		{ "ca-file",		required_argument, NULL, 'c' },
		{ "from",		required_argument, NULL, 'f' },
		{ "json",		no_argument,	   NULL, 'j' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct msg_ctl_debug	 req;
	struct imsgbuf		*ibuf;
	struct buf		 ta, ca, msg;
	const char		*resolver = NULL, *ta_file = NULL;
	const char		*ca_file = NULL, *from = "";
	int			 ch;

	memset(&req, 0, sizeof(req));
	optind = 0;	/* glibc: restart after posternctl's own options */
	while ((ch = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': resolver = optarg; break;
		case 't': ta_file = optarg; break;
		case 'c': ca_file = optarg; break;
		case 'f': from = optarg; break;
		case 'j': req.flags |= CTL_DEBUG_F_JSON; break;
		default:
			debug_usage();
			return DEBUG_USAGE_ERR;
		}
	}
	if (optind != argc - 1) {
		debug_usage();
		return DEBUG_USAGE_ERR;
	}
	if (!smtp_addr_valid(argv[optind], SMTP_ADDR_UTF8_OK)) {
		fprintf(stderr, "%s: %s: not a mail address with a domain\n",
		    PROG, argv[optind]);
		return DEBUG_USAGE_ERR;
	}
	/* --from "" or "<>": the null sender, which is the default */
	if (strcmp(from, "<>") == 0)
		from = "";
	if (from[0] != '\0' && !smtp_addr_valid(from,
	    SMTP_PATH_NULL_OK | SMTP_ADDR_UTF8_OK)) {
		fprintf(stderr, "%s: --from %s: not a mail address\n", PROG,
		    from);
		return DEBUG_USAGE_ERR;
	}
	if (resolver != NULL && !resolver_valid(resolver)) {
		fprintf(stderr, "%s: --resolver %s: not ADDR[@PORT] with a "
		    "numeric address\n", PROG, resolver);
		return DEBUG_USAGE_ERR;
	}
	if (ta_file != NULL && resolver == NULL) {
		fprintf(stderr, "%s: --trust-anchor needs --resolver\n", PROG);
		return DEBUG_USAGE_ERR;
	}
	strlcpy(req.rcpt, argv[optind], sizeof(req.rcpt));
	strlcpy(req.sender, from, sizeof(req.sender));
	if (resolver != NULL)
		strlcpy(req.resolver, resolver, sizeof(req.resolver));

	buf_init(&ta, CTL_DEBUG_TA_MAX);
	buf_init(&ca, CTL_DEBUG_CA_MAX);
	if ((ta_file != NULL && read_small_file("--trust-anchor", ta_file,
	    CTL_DEBUG_TA_MAX, &ta) == -1) || (ca_file != NULL &&
	    read_small_file("--ca-file", ca_file, CTL_DEBUG_CA_MAX,
	    &ca) == -1)) {
		buf_free(&ta);
		buf_free(&ca);
		return DEBUG_USAGE_ERR;
	}
	req.ta_len = ta.len;
	req.ca_len = ca.len;
	buf_init(&msg, sizeof(req) + CTL_DEBUG_TA_MAX + CTL_DEBUG_CA_MAX);
	buf_add(&msg, &req, sizeof(req));
	buf_add(&msg, ta.data, ta.len);
	buf_add(&msg, ca.data, ca.len);
	buf_free(&ta);
	buf_free(&ca);

	/* the daemon runs the probe: it must be running (ctl_open says) */
	ibuf = ctl_open();
	imsg_compose(ibuf, IMSG_CTL_DEBUG_DELIVERY, 0, 0, -1, msg.data,
	    msg.len);
	buf_free(&msg);
	return debug_stream(ibuf);
}

int
posternctl_debug_cmd(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[0], "debug") == 0 &&
	    strcmp(argv[1], "delivery") == 0)
		return debug_delivery_main(argc - 1, argv + 1);
	return -1;
}

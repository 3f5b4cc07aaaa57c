/*
 * posternctl's report commands: `show evaluations [DOMAIN]` lists the DMARC
 * evaluations reportd holds, one line each, as reportd formats them
 * (evalstore_format(), reportd/evalstore.h); `report dmarc print DOMAIN`
 * the DMARC aggregate report of DOMAIN's open period as reportd builds it
 * (reportd/dmarc_agg.h); `show mta-sts [DOMAIN]` the
 * mta's MTA-STS policy cache and `flush mta-sts DOMAIN|all` empties it.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "imsg.h"
#include "msg.h"
#include "posternctl/posternctl.h"

/*
 * Copy IMSG_CTL_REPLY_DATA replies to stdout until IMSG_CTL_REPLY_END:
 * the answering process formats its listing, posternctl (which may run as
 * root) parses none of it.  0, or 1 on a malformed reply or a failed
 * write.
 */
int
ctl_copy_data(struct imsgbuf *ibuf)
{
	struct imsg	 imsg;
	const void	*data;
	size_t		 len;

	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_REPLY_DATA ||
		    msg_get_bytes(&imsg, &data, &len) == -1) {
			fprintf(stderr, "posternctl: malformed reply\n");
			imsg_free(&imsg);
			return 1;
		}
		if (fwrite(data, 1, len, stdout) != len) {
			imsg_free(&imsg);
			return 1;
		}
		imsg_free(&imsg);
	}
	imsg_free(&imsg);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* struct msg_ctl_domain from an argument: "all" is "" when allowed. */
static int
ctl_domain_arg(struct msg_ctl_domain *d, const char *arg, int all)
{
	memset(d, 0, sizeof(*d));
	if ((!all || strcmp(arg, "all") != 0) &&
	    strlcpy(d->domain, arg, sizeof(d->domain)) >= sizeof(d->domain)) {
		fprintf(stderr, "posternctl: %s: too long\n", arg);
		return -1;
	}
	return 0;
}

/*
 * A request about one domain ("" for all) answered by lines of text, as
 * the answering process formats them.
 */
int
ctl_show_domain(struct imsgbuf *ibuf, uint32_t type, const char *domain,
    uint32_t flags)
{
	struct msg_ctl_domain	 d;

	if (ctl_domain_arg(&d, domain, 0) == -1)
		return 1;
	d.flags = flags;
	imsg_compose(ibuf, type, 0, 0, -1, &d, sizeof(d));
	return ctl_copy_data(ibuf);
}

/*
 * A request about one domain or address ("all" for every one when all is
 * set) answered by a count: 0 with *count set, or 1.
 */
int
ctl_domain_count(struct imsgbuf *ibuf, uint32_t type, const char *arg,
    int all, long long *count)
{
	struct msg_ctl_domain	 d;
	struct msg_ctl_count	 c;
	struct imsg		 imsg;

	if (ctl_domain_arg(&d, arg, all) == -1)
		return 1;
	imsg_compose(ibuf, type, 0, 0, -1, &d, sizeof(d));
	ctl_next(ibuf, &imsg);
	if (imsg.hdr.type != IMSG_CTL_REPLY_COUNT ||
	    msg_get_ctl_count(&imsg, &c) == -1) {
		fprintf(stderr, "posternctl: malformed reply\n");
		imsg_free(&imsg);
		return 1;
	}
	imsg_free(&imsg);
	*count = c.count;
	return 0;
}

static int
cmd_flush_sts(struct imsgbuf *ibuf, const char *domain)
{
	long long	 n;

	if (ctl_domain_count(ibuf, IMSG_CTL_MTA_STS_FLUSH, domain, 1, &n))
		return 1;
	if (n < 0) {
		fprintf(stderr, "posternctl: the MTA-STS cache could not be "
		    "changed (see the log)\n");
		return 1;
	}
	printf("%lld MTA-STS polic%s flushed\n", n, n == 1 ? "y" : "ies");
	return 0;
}

/*
 * -j after a show command's words: taken out of argv, and the flag to
 * send; "" (all) is what a listing without its optional domain asks.
 */
uint32_t
ctl_json_arg(int *argc, char *argv[], int from)
{
	int	 i;

	for (i = from; i < *argc; i++)
		if (strcmp(argv[i], "-j") == 0) {
			for (; i + 1 < *argc; i++)
				argv[i] = argv[i + 1];
			(*argc)--;
			return CTL_FLAG_JSON;
		}
	return 0;
}

/* suppression remove ADDRESS: reports go there again. */
static int
cmd_suppression_remove(struct imsgbuf *ibuf, const char *addr)
{
	long long	 n;

	if (ctl_domain_count(ibuf, IMSG_CTL_SUPPRESSION_REMOVE, addr, 0, &n))
		return 1;
	if (n == 0) {
		fprintf(stderr, "posternctl: %s is not suppressed\n", addr);
		return 1;
	}
	printf("%s no longer suppressed\n", addr);
	return 0;
}

/* report dmarc send [DOMAIN|all]: the number of reports begun. */
static int
cmd_report_send(struct imsgbuf *ibuf, uint32_t type, const char *domain)
{
	long long	 n;

	if (ctl_domain_count(ibuf, type, domain, 1, &n))
		return 1;
	printf("%lld report%s closed and being queued\n", n,
	    n == 1 ? "" : "s");
	return 0;
}

int
posternctl_report_cmd(int argc, char *argv[])
{
	uint32_t	 j = 0;

	/* the listings take -j: reportd or the mta writes the JSON */
	if (argc >= 2 && strcmp(argv[0], "show") == 0 &&
	    (strcmp(argv[1], "tls-results") == 0 ||
	    strcmp(argv[1], "mta-sts") == 0 ||
	    strcmp(argv[1], "evaluations") == 0 ||
	    strcmp(argv[1], "suppressions") == 0))
		j = ctl_json_arg(&argc, argv, 2);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "tls-results") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_TLS_RESULTS_GET,
		    argc == 3 ? argv[2] : "", j);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "mta-sts") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_MTA_STS_GET,
		    argc == 3 ? argv[2] : "", j);
	if (argc == 3 && strcmp(argv[0], "flush") == 0 &&
	    strcmp(argv[1], "mta-sts") == 0)
		return cmd_flush_sts(ctl_open(), argv[2]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "evaluations") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_EVALUATIONS_GET,
		    argc == 3 ? argv[2] : "", j);
	if ((argc == 3 || argc == 4) && strcmp(argv[0], "report") == 0 &&
	    strcmp(argv[1], "dmarc") == 0 && strcmp(argv[2], "send") == 0)
		return cmd_report_send(ctl_open(), IMSG_CTL_REPORT_DMARC_SEND,
		    argc == 4 ? argv[3] : "all");
	/* show suppressions: reportd's lines, as they come */
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "suppressions") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_SUPPRESSIONS_GET,
		    "", j);
	if (argc == 3 && strcmp(argv[0], "suppression") == 0 &&
	    strcmp(argv[1], "remove") == 0)
		return cmd_suppression_remove(ctl_open(), argv[2]);
	/* reportd answers an error (exit 1) when DOMAIN has nothing. */
	if (argc == 4 && strcmp(argv[0], "report") == 0 &&
	    strcmp(argv[1], "dmarc") == 0 && strcmp(argv[2], "print") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_REPORT_DMARC_PRINT,
		    argv[3], 0);
	if ((argc == 3 || argc == 4) && strcmp(argv[0], "report") == 0 &&
	    strcmp(argv[1], "tls") == 0 && strcmp(argv[2], "send") == 0)
		return cmd_report_send(ctl_open(), IMSG_CTL_REPORT_TLS_SEND,
		    argc == 4 ? argv[3] : "all");
	if (argc == 4 && strcmp(argv[0], "report") == 0 &&
	    strcmp(argv[1], "tls") == 0 && strcmp(argv[2], "print") == 0)
		return ctl_show_domain(ctl_open(), IMSG_CTL_REPORT_TLS_PRINT,
		    argv[3], 0);
	return -1;
}

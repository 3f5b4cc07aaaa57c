/*
 * posternctl: the control utility.  Commands that ask the running daemon
 * go over the control socket (imsg, protocol version checked first);
 * offline commands (check ..., dkim ...) run the same library code as the
 * daemon, in this process, without privileges.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "posternctl/posternctl.h"

static const char	*socket_path = CONF_DEFAULT_SOCKET;
static void		 ctl_expect_ok(struct imsgbuf *);
static struct imsgbuf	*ctl_ibuf;	/* the open connection, if any */

static void
ctl_close(void)
{
	if (ctl_ibuf != NULL) {
		close(ctl_ibuf->fd);
		imsgbuf_clear(ctl_ibuf);
		ctl_ibuf = NULL;
	}
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: posternctl [-s socket] command [argument ...]\n"
	    "commands:\n"
	    "  show status [-j]\n"
	    "  log verbose | log brief\n"
	    "  stop\n"
	    "  show queue [-j] | show message ID [-j] | show stats [-j]\n"
	    "  show metrics | show hosts [-j] | show routes [-j]\n"
	    "  show mta-sts [domain] [-j] | flush mta-sts domain|all\n"
	    "  show evaluations [domain] [-j]\n"
	    "  show tls-results [domain] [-j]\n"
	    "  show reports [dmarc|tls|arf] [-j]\n"
	    "  report dmarc print domain | report dmarc send [domain|all]\n"
	    "  report tls print domain | report tls send [domain|all]\n"
	    "  show suppressions [-j] | suppression remove address\n"
	    "  schedule ID|all | remove ID|all | hold ID|all | release ID|all\n"
	    "  pause smtp|queue | resume smtp|queue\n"
	    "  debug delivery [-j] [--resolver ADDR[@PORT]] "
	    "[--trust-anchor FILE]\n"
	    "            [--ca-file FILE] [--from ADDR] ADDRESS\n"
	    "  sendmail [flag ...] [recipient ...]   (see SENDMAIL)\n");
	posternctl_offline_usage(stderr);
	exit(1);
}

static int
ctl_connect(struct imsgbuf *ibuf)
{
	struct sockaddr_un	 sun;
	struct msg_ctl_hello	 h;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, socket_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "posternctl: socket path too long: %s\n",
		    socket_path);
		exit(1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		perror("posternctl: socket");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EACCES || errno == EPERM)
			fprintf(stderr, "posternctl: %s: %s (only root and "
			    "the control group may control posternd)\n",
			    socket_path, strerror(errno));
		else if (errno == ENOENT || errno == ECONNREFUSED)
			fprintf(stderr, "posternctl: %s: %s (is posternd "
			    "running?)\n", socket_path, strerror(errno));
		else
			fprintf(stderr, "posternctl: %s: %s\n", socket_path,
			    strerror(errno));
		exit(1);
	}
	imsgbuf_init(ibuf, fd);
	ctl_ibuf = ibuf;
	atexit(ctl_close);
	h.version = POSTERN_PROTO_VERSION;
	imsg_compose(ibuf, IMSG_CTL_SESSION_HELLO, 0, 0, -1, &h, sizeof(h));
	return fd;
}

/* Connect and greet: the connection every daemon command uses. */
struct imsgbuf *
ctl_open(void)
{
	static struct imsgbuf	 ibuf;

	ctl_connect(&ibuf);
	ctl_expect_ok(&ibuf);
	return &ibuf;
}

int
ctl_json_line(void *p)
{
	json_t	*o = p;

	if (o == NULL)
		return -1;
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return 0;
}

/* Block until the next message; exit with a message on EOF or garbage. */
void
ctl_next(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct msg_ctl_error	 e;
	ssize_t			 n;
	int			 r;

	if (imsgbuf_flush(ibuf) == -1) {
		perror("posternctl: write");
		exit(1);
	}
	for (;;) {
		r = imsg_get(ibuf, imsg);
		if (r == -1) {
			fprintf(stderr, "posternctl: malformed reply\n");
			exit(1);
		}
		if (r == 1)
			break;
		n = imsgbuf_read(ibuf);
		if (n == 0) {
			fprintf(stderr, "posternctl: posternd closed the "
			    "connection\n");
			exit(1);
		}
		if (n == -1) {
			perror("posternctl: read");
			exit(1);
		}
	}
	if (imsg->hdr.type == IMSG_CTL_REPLY_ERROR) {
		if (msg_get_ctl_error(imsg, &e) == -1)
			strlcpy(e.message, "malformed error", sizeof(e.message));
		fprintf(stderr, "posternctl: %s\n", e.message);
		imsg_free(imsg);
		exit(1);
	}
}

static void
ctl_expect_ok(struct imsgbuf *ibuf)
{
	struct imsg	 imsg;

	ctl_next(ibuf, &imsg);
	if (imsg.hdr.type != IMSG_CTL_REPLY_OK || msg_get_empty(&imsg) == -1) {
		fprintf(stderr, "posternctl: unexpected reply %u\n",
		    imsg.hdr.type);
		exit(1);
	}
	imsg_free(&imsg);
}

static void
fmt_uptime(int64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh%02lldm", (long long)s / 86400,
		    (long long)(s % 86400) / 3600, (long long)(s % 3600) / 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%02lldm%02llds", (long long)s / 3600,
		    (long long)(s % 3600) / 60, (long long)s % 60);
	else
		snprintf(buf, len, "%lldm%02llds", (long long)s / 60,
		    (long long)s % 60);
}

/*
 * The spool's line of show status, from the queue's counters: whether new
 * mail is taken, and why not.
 */
struct spool_stats {
	uint64_t	 low, avail, need, res, have;
};

static void
spool_stat(const struct msg_ctl_stat *st, void *arg)
{
	struct spool_stats	*sp = arg;

	if (strcmp(st->name, "queue.spool.low") == 0)
		sp->low = st->value;
	else if (strcmp(st->name, "queue.spool.free") == 0)
		sp->avail = st->value;
	else if (strcmp(st->name, "queue.spool.minfree") == 0)
		sp->need = st->value;
	else if (strcmp(st->name, "queue.spool.reserve") == 0)
		sp->res = st->value;
	else if (strcmp(st->name, "queue.spool.reserve_free") == 0)
		sp->have = st->value;
}

static int
show_spool(struct imsgbuf *ibuf, int json)
{
	struct spool_stats	 sp = { 0, 0, 0, 0, 0 };

	if (ctl_stats_each(ibuf, CTL_TARGET_QUEUE, spool_stat, &sp) != 0)
		return 1;
	if (json)
		return ctl_json_line(json_pack("{s:s, s:I, s:I, s:I, s:I, "
		    "s:b}", "type", "spool", "free", (json_int_t)sp.avail,
		    "minfree", (json_int_t)sp.need, "reserve",
		    (json_int_t)sp.res, "reserve_free", (json_int_t)sp.have,
		    "accepting", !sp.low)) == -1;
	printf("\nspool: %llu KB free, minfree %llu KB, store reserve %llu of "
	    "%llu KB: %s\n", (unsigned long long)sp.avail / 1024,
	    (unsigned long long)sp.need / 1024,
	    (unsigned long long)sp.have / 1024,
	    (unsigned long long)sp.res / 1024, sp.low ?
	    "refusing new mail (the spool is below minfree)" :
	    sp.have < sp.res ?
	    "accepting mail while it fits outside the reserve" :
	    "accepting mail");
	return 0;
}

static int
cmd_show_status(struct imsgbuf *ibuf, int json)
{
	struct imsg		 imsg;
	struct msg_ctl_status	 st;
	char			 up[32];

	imsg_compose(ibuf, IMSG_CTL_STATUS_GET, 0, 0, -1, NULL, 0);
	if (!json)
		printf("%-8s %7s  %-12s %-10s %s\n", "PROCESS", "PID", "USER",
		    "UPTIME", "ROOT");
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_STATUS_ENTRY ||
		    msg_get_ctl_status(&imsg, &st) == -1) {
			fprintf(stderr, "posternctl: malformed status\n");
			return 1;
		}
		imsg_free(&imsg);
		if (json) {
			if (ctl_json_line(json_pack("{s:s, s:s, s:I, s:s, s:I, "
			    "s:s}", "type", "process", "process", st.name,
			    "pid", (json_int_t)st.pid, "user", st.user,
			    "uptime", (json_int_t)st.uptime, "root",
			    st.chroot)) == -1) {
				fprintf(stderr, "posternctl: malformed "
				    "status\n");
				return 1;
			}
			continue;
		}
		fmt_uptime(st.uptime, up, sizeof(up));
		printf("%-8s %7d  %-12s %-10s %s\n", st.name, st.pid, st.user,
		    up, st.chroot);
	}
	imsg_free(&imsg);
	return show_spool(ibuf, json);
}

int
main(int argc, char *argv[])
{
	static struct imsgbuf	 ibuf;
	struct msg_ctl_verbose	 v;
	const char		*prog;
	int			 ch, rv;

	log_init(1, 0, 0);
	log_procinit("posternctl");
	/* installed as sendmail and mailq too (posternctl(8) SENDMAIL) */
	if ((prog = strrchr(argv[0], '/')) != NULL)
		prog++;
	else
		prog = argv[0];
	if (strcmp(prog, "sendmail") == 0)
		return sendmail_main(argc, argv, socket_path);
	if (strcmp(prog, "mailq") == 0) {
		if (argc > 1) {
			fprintf(stderr, "usage: mailq\n");
			return 64;	/* EX_USAGE */
		}
		return mailq_main();
	}
	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			socket_path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	if (strcmp(argv[0], "sendmail") == 0)
		return sendmail_main(argc, argv, socket_path);

	/* Offline commands: no daemon needed. */
	if ((rv = posternctl_offline(argc, argv)) != -1)
		return rv;

	if ((rv = posternctl_queue_cmd(argc, argv)) != -1)
		return rv;
	if ((rv = posternctl_report_cmd(argc, argv)) != -1)
		return rv;
	if ((rv = posternctl_debug_cmd(argc, argv)) != -1)
		return rv;
	if ((rv = posternctl_received_cmd(argc, argv)) != -1)
		return rv;
	if ((argc == 2 || (argc == 3 && strcmp(argv[2], "-j") == 0)) &&
	    strcmp(argv[0], "show") == 0 && strcmp(argv[1], "status") == 0) {
		ctl_connect(&ibuf);
		ctl_expect_ok(&ibuf);
		return cmd_show_status(&ibuf, argc == 3);
	}
	if (argc == 2 && strcmp(argv[0], "log") == 0 &&
	    (strcmp(argv[1], "verbose") == 0 ||
	    strcmp(argv[1], "brief") == 0)) {
		v.verbose = strcmp(argv[1], "verbose") == 0 ? 1 : 0;
		ctl_connect(&ibuf);
		ctl_expect_ok(&ibuf);
		imsg_compose(&ibuf, IMSG_CTL_VERBOSE_SET, 0, 0, -1, &v,
		    sizeof(v));
		ctl_expect_ok(&ibuf);
		printf("log level set to %s\n", argv[1]);
		return 0;
	}
	if (argc == 1 && strcmp(argv[0], "stop") == 0) {
		ctl_connect(&ibuf);
		ctl_expect_ok(&ibuf);
		imsg_compose(&ibuf, IMSG_CTL_DAEMON_STOP, 0, 0, -1, NULL, 0);
		ctl_expect_ok(&ibuf);
		printf("posternd stopping\n");
		return 0;
	}
	fprintf(stderr, "posternctl: unknown command:");
	for (ch = 0; ch < argc; ch++)
		fprintf(stderr, " %s", argv[ch]);
	fprintf(stderr, "\n");
	usage();
}

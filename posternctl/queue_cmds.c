/*
 * posternctl's queue and smtp commands: show queue [-j], show message,
 * schedule / remove / hold / release ID|all, pause / resume smtp|queue,
 * show stats.  Each is one request to the control socket and a listing or
 * a count back.
 */
#include <sys/types.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "imsg.h"
#include "metrics.h"
#include "msg.h"
#include "posternctl/posternctl.h"

/*
 * An age or a wait in seconds, compactly.  A negative age (the clock was
 * set back since the mail came) shows as 0, in the listing as in -j.
 */
static void
fmt_age(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, len, "%lldd%lldh", (long long)secs / 86400,
		    (long long)(secs % 86400) / 3600);
	else if (secs >= 3600)
		snprintf(buf, len, "%lldh%lldm", (long long)secs / 3600,
		    (long long)(secs % 3600) / 60);
	else if (secs >= 60)
		snprintf(buf, len, "%lldm%llds", (long long)secs / 60,
		    (long long)secs % 60);
	else
		snprintf(buf, len, "%llds", (long long)secs);
}

static const char *
state_name(int state)
{
	switch (state) {
	case ENV_QUEUED:
		return "queued";
	case ENV_INFLIGHT:
		return "inflight";
	case ENV_HELD:
		return "held";
	}
	return "unknown";
}

static int
cmd_show_queue(struct imsgbuf *ibuf, int json)
{
	struct imsg		 imsg;
	struct msg_ctl_envelope	 e;
	json_t			*o;
	char			 id[QID_ENV_LEN + 1], age[32], next[32];
	time_t			 now = time(NULL);

	imsg_compose(ibuf, IMSG_CTL_QUEUE_LIST, 0, 0, -1, NULL, 0);
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_QUEUE_ENTRY ||
		    msg_get_ctl_envelope(&imsg, &e) == -1) {
			fprintf(stderr, "posternctl: malformed queue entry\n");
			return 1;
		}
		imsg_free(&imsg);
		qid_env_str(e.evpid, id, sizeof(id));
		if (json) {
			/* account: the AUTH user who sent it, or null */
			o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, "
			    "s:s, s:s?, s:I}", "id", id, "age",
			    (json_int_t)(now > e.ctime ? now - e.ctime : 0),
			    "state", state_name(e.state), "sender", e.sender,
			    "recipient", e.rcpt, "attempts",
			    (json_int_t)e.attempts, "next_try",
			    (json_int_t)e.next_try, "last_error", e.error,
			    "account", e.account[0] != '\0' ? e.account :
			    NULL, "size", (json_int_t)e.size);
			if (ctl_json_line(o) == -1) {
				fprintf(stderr, "posternctl: an entry is not "
				    "valid UTF-8\n");
				return 1;
			}
			continue;
		}
		fmt_age(now - e.ctime, age, sizeof(age));
		if (e.state == ENV_HELD)
			strlcpy(next, "held", sizeof(next));
		else
			fmt_age(e.next_try - now, next, sizeof(next));
		printf("%s %6s %-8s %3u %6s <%s> <%s>%s%s\n", id, age,
		    state_name(e.state), e.attempts, next, e.sender, e.rcpt,
		    e.error[0] ? " " : "", e.error);
	}
	imsg_free(&imsg);
	return 0;
}

static int
cmd_show_message(struct imsgbuf *ibuf, uint64_t msgid, int json)
{
	struct msg_ctl_qid	 q = { QID_MSG, json ? CTL_FLAG_JSON : 0, msgid };

	imsg_compose(ibuf, IMSG_CTL_QUEUE_SHOW, 0, 0, -1, &q, sizeof(q));
	return ctl_copy_data(ibuf);
}

static int
cmd_queue_action(struct imsgbuf *ibuf, uint32_t type, const char *verb,
    enum qid_kind kind, uint64_t id)
{
	struct imsg		 imsg;
	struct msg_ctl_qid	 q = { kind, 0, id };
	struct msg_ctl_count	 c;

	imsg_compose(ibuf, type, 0, 0, -1, &q, sizeof(q));
	ctl_next(ibuf, &imsg);
	if (imsg.hdr.type != IMSG_CTL_REPLY_COUNT ||
	    msg_get_ctl_count(&imsg, &c) == -1) {
		fprintf(stderr, "posternctl: malformed reply\n");
		return 1;
	}
	imsg_free(&imsg);
	printf("%lld envelope(s) %s\n", (long long)c.count, verb);
	return c.count > 0 || kind == QID_ALL ? 0 : 1;
}

/*
 * The counters of one process (CTL_TARGET_*), each handed to cb: 0, or 1
 * after a malformed reply (said on stderr).
 */
int
ctl_stats_each(struct imsgbuf *ibuf, int target,
    void (*cb)(const struct msg_ctl_stat *, void *), void *arg)
{
	struct imsg		 imsg;
	struct msg_ctl_target	 t = { target };
	struct msg_ctl_stat	 st;

	imsg_compose(ibuf, IMSG_CTL_STATS_GET, 0, 0, -1, &t, sizeof(t));
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_STATS_ENTRY ||
		    msg_get_ctl_stat(&imsg, &st) == -1) {
			fprintf(stderr, "posternctl: malformed reply\n");
			return 1;
		}
		imsg_free(&imsg);
		cb(&st, arg);
	}
	imsg_free(&imsg);
	return 0;
}

/* The processes with counters, in the order show stats lists them. */
static const int stat_targets[] = {
	CTL_TARGET_SMTP, CTL_TARGET_QUEUE, CTL_TARGET_MTA, CTL_TARGET_AUTHD,
	CTL_TARGET_REPORTD
};

static void
stat_print(const struct msg_ctl_stat *st, void *arg)
{
	const int	*json = arg;

	/* names are dotted words: nothing to escape in JSON */
	if (*json)
		printf("{\"name\":\"%s\",\"value\":%llu}\n", st->name,
		    (unsigned long long)st->value);
	else
		printf("%s=%llu\n", st->name, (unsigned long long)st->value);
}

/* posternctl show stats [-j]: every process's counters. */
static int
cmd_stats(struct imsgbuf *ibuf, int json)
{
	size_t	 i;
	int	 rv;

	for (i = 0; i < sizeof(stat_targets) / sizeof(stat_targets[0]); i++)
		if ((rv = ctl_stats_each(ibuf, stat_targets[i], stat_print,
		    &json)) != 0)
			return rv;
	return 0;
}

struct stat_list {
	struct msg_ctl_stat	*st;
	size_t			 n, cap;
};

static void
stat_collect(const struct msg_ctl_stat *st, void *arg)
{
	struct stat_list	*l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->st = xreallocarray(l->st, l->cap, sizeof(*l->st));
	}
	l->st[l->n++] = *st;
}

/* posternctl show metrics: the same counters for Prometheus. */
static int
cmd_metrics(struct imsgbuf *ibuf)
{
	struct stat_list	 l = { NULL, 0, 0 };
	struct buf		 b;
	size_t			 i;
	int			 rv = 0;

	for (i = 0; i < sizeof(stat_targets) / sizeof(stat_targets[0]) &&
	    rv == 0; i++)
		rv = ctl_stats_each(ibuf, stat_targets[i], stat_collect, &l);
	if (rv == 0) {
		buf_init(&b, METRICS_MAX);
		if (metrics_format(l.st, l.n, &b) == -1) {
			fprintf(stderr, "posternctl: the metrics do not fit "
			    "in %d bytes\n", METRICS_MAX);
			rv = 1;
		} else
			fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
	}
	free(l.st);
	return rv;
}

/* posternctl show hosts: the mta's destinations and their state. */
static int
cmd_show_hosts(struct imsgbuf *ibuf, int json)
{
	struct imsg		 imsg;
	struct msg_ctl_mta_host	 h;

	imsg_compose(ibuf, IMSG_CTL_MTA_HOSTS_GET, 0, 0, -1, NULL, 0);
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_MTA_HOST_ENTRY ||
		    msg_get_ctl_mta_host(&imsg, &h) == -1) {
			fprintf(stderr, "posternctl: malformed reply\n");
			return 1;
		}
		imsg_free(&imsg);
		if (json) {
			if (ctl_json_line(json_pack("{s:s, s:I, s:I, s:I, s:I, "
			    "s:I, s:I, s:s}", "name", h.name, "connections",
			    (json_int_t)h.connections, "pending",
			    (json_int_t)h.pending, "delivered",
			    (json_int_t)h.delivered, "sessions",
			    (json_int_t)h.sessions, "failures",
			    (json_int_t)h.failures, "backoff",
			    (json_int_t)h.backoff, "last_error",
			    h.last_error)) == -1) {
				fprintf(stderr, "posternctl: a host entry is "
				    "not valid UTF-8\n");
				return 1;
			}
			continue;
		}
		printf("%s connections=%u pending=%u delivered=%llu "
		    "sessions=%llu failures=%llu", h.name, h.connections,
		    h.pending, (unsigned long long)h.delivered,
		    (unsigned long long)h.sessions,
		    (unsigned long long)h.failures);
		if (h.backoff > 0)
			printf(" backoff=%llds", (long long)h.backoff);
		if (h.last_error[0] != '\0')
			printf(" last-error=\"%s\"", h.last_error);
		putchar('\n');
	}
	imsg_free(&imsg);
	return 0;
}

static int
parse_target(const char *s)
{
	if (strcmp(s, "smtp") == 0)
		return CTL_TARGET_SMTP;
	if (strcmp(s, "queue") == 0)
		return CTL_TARGET_QUEUE;
	return 0;
}

/* -1: not one of these commands; else the exit status. */
int
posternctl_queue_cmd(int argc, char *argv[])
{
	struct imsgbuf		*ibuf;
	struct imsg		 imsg;
	struct msg_ctl_target	 t;
	enum qid_kind		 kind;
	uint64_t		 id = 0;
	size_t			 i;
	int			 json = 0;
	static const struct {
		const char	*word;
		uint32_t	 type;
		const char	*verb;
	} actions[] = {
		{ "schedule", IMSG_CTL_QUEUE_SCHEDULE, "scheduled" },
		{ "remove", IMSG_CTL_QUEUE_REMOVE, "removed" },
		{ "hold", IMSG_CTL_QUEUE_HOLD, "held" },
		{ "release", IMSG_CTL_QUEUE_RELEASE, "released" },
	};

	if (strcmp(argv[0], "show") == 0 && argc >= 2 &&
	    strcmp(argv[1], "queue") == 0) {
		if (argc == 2 || (argc == 3 && strcmp(argv[2], "-j") == 0)) {
			ibuf = ctl_open();
			return cmd_show_queue(ibuf, argc == 3);
		}
		return -1;
	}
	if (argc >= 2 && strcmp(argv[0], "show") == 0 &&
	    (strcmp(argv[1], "message") == 0 ||
	    strcmp(argv[1], "routes") == 0))
		json = ctl_json_arg(&argc, argv, 2) != 0;
	if (argc == 3 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "message") == 0) {
		if (qid_parse(argv[2], &id) != QID_MSG) {
			fprintf(stderr, "posternctl: %s: not a message id (12 "
			    "hex digits)\n", argv[2]);
			return 1;
		}
		ibuf = ctl_open();
		return cmd_show_message(ibuf, id, json);
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "routes") == 0) {
		ibuf = ctl_open();
		return ctl_show_domain(ibuf, IMSG_CTL_MTA_ROUTES_GET, "",
		    json ? CTL_FLAG_JSON : 0);
	}
	if (argc >= 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "hosts") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "-j") != 0))
			return -1;
		ibuf = ctl_open();
		return cmd_show_hosts(ibuf, argc == 3);
	}
	if (argc >= 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "stats") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "-j") != 0))
			return -1;
		ibuf = ctl_open();
		return cmd_stats(ibuf, argc == 3);
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "metrics") == 0) {
		ibuf = ctl_open();
		return cmd_metrics(ibuf);
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(argv[0], actions[i].word) != 0)
			continue;
		if (argc != 2)
			return -1;
		if ((kind = qid_parse(argv[1], &id)) == QID_BAD) {
			fprintf(stderr, "posternctl: %s: not a queue id or "
			    "\"all\"\n", argv[1]);
			return 1;
		}
		ibuf = ctl_open();
		return cmd_queue_action(ibuf, actions[i].type,
		    actions[i].verb, kind, id);
	}
	if (argc == 2 && (strcmp(argv[0], "pause") == 0 ||
	    strcmp(argv[0], "resume") == 0) &&
	    (t.target = parse_target(argv[1])) != 0) {
		ibuf = ctl_open();
		imsg_compose(ibuf, strcmp(argv[0], "pause") == 0 ?
		    IMSG_CTL_PROC_PAUSE : IMSG_CTL_PROC_RESUME, 0, 0, -1, &t,
		    sizeof(t));
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type != IMSG_CTL_REPLY_OK) {
			fprintf(stderr, "posternctl: malformed reply\n");
			return 1;
		}
		imsg_free(&imsg);
		printf("%s %sd\n", argv[1], argv[0]);
		return 0;
	}
	return -1;
}

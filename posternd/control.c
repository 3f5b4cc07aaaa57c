/*
 * The control process: serves posternctl on a unix socket.  It takes the
 * caller's credentials with SO_PEERCRED at accept time, lets root and the
 * configured control group run commands, and relays each request to the
 * process that answers it (one table: ctl_msgs), matching replies to
 * clients by peer id.  A client's bad input ends that client's connection,
 * never the daemon.
 *
 * It also accepts on the local submission socket (posternctl sendmail),
 * which any local user may use: there it reads nothing, takes the
 * caller's uid with SO_PEERCRED and hands the connection to smtp, which
 * runs an SMTP session on it as that user's (posternctl(8) SENDMAIL).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "posternd/metrics_http.h"
#include "posternd/proc.h"
#include "util.h"

#define CONTROL_MAX_CLIENTS	32

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;
	struct imsgbuf		 ibuf;
	struct event		 ev;
	short			 events;
	uid_t			 uid;
	pid_t			 pid;
	int			 authorized;
	int			 hello;		/* version agreed */
	int			 closing;	/* close once flushed */
	int			 probe;		/* the mta runs a debug delivery
						   for it: cancel it if we go */
	unsigned int		 waiting;	/* who owes the client a reply,
						   or PROC_MAX: nobody */
	int			 listing;	/* show queue in progress */
	int			 list_paused;	/* the queue waits for NEXT */
	struct control		*ctl;
};

struct control {
	struct proc			*proc;
	struct msg_conf_control		 conf;
	int				 fd;
	struct event			 ev_accept;
	int				 sendmail_fd;
	struct event			 ev_sendmail;
	struct event			 ev_pause;	/* out of fds */
	int				 paused;
	TAILQ_HEAD(, ctl_conn)		 conns;
	int				 nconns;
	uint32_t			 next_id;
	int				 metrics_fd;	/* or -1 */
	struct metrics_http		*metrics;
};

static void	control_conn_update(struct ctl_conn *);
static void	control_accept_pause(struct control *);
static void	control_accept_resume(int, short, void *);
static void	control_list_next(struct ctl_conn *);

static struct control *
control_state(struct proc *p)
{
	struct control	*c;

	if (p->state == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->proc = p;
		c->fd = -1;
		c->sendmail_fd = -1;
		c->metrics_fd = -1;
		TAILQ_INIT(&c->conns);
		c->next_id = 1;
		p->state = c;
	}
	return p->state;
}

void
control_conf(struct proc *p, struct imsg *imsg)
{
	struct control	*c = control_state(p);

	if (imsg->hdr.type == IMSG_CONF_SENDMAIL_SET) {
		if (msg_get_conf_sendmail(imsg) == -1 || c->sendmail_fd != -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		c->sendmail_fd = imsg->fd;
		return;
	}
	if (imsg->hdr.type == IMSG_CONF_METRICS_SET) {
		if (msg_get_conf_metrics(imsg) == -1 || c->metrics_fd != -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		c->metrics_fd = imsg->fd;
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_CONTROL_SET)
		proc_unexpected(p, PROC_PARENT, imsg);
	if (msg_get_conf_control(imsg, &c->conf) == -1 || c->fd != -1)
		proc_bad_message(p, PROC_PARENT, imsg);
	c->fd = imsg->fd;
}

/*
 * Out of descriptors (EMFILE, ENFILE): the listening sockets stay
 * readable, so accepting again at once would spin on the same error and
 * flood the log.  Both rest a second; once per episode in the log.
 */
static void
control_accept_pause(struct control *c)
{
	struct timeval	 tv = { 1, 0 };

	if (!c->paused)
		log_warnx("control: out of file descriptors: not accepting "
		    "for a while");
	c->paused = 1;
	event_del(&c->ev_accept);
	event_del(&c->ev_sendmail);
	evtimer_add(&c->ev_pause, &tv);
}

static void
control_accept_resume(int fd, short what, void *arg)
{
	struct control	*c = arg;

	event_add(&c->ev_accept, NULL);
	event_add(&c->ev_sendmail, NULL);
	/* c->paused stays set until an accept succeeds: one log line */
}

static struct ctl_conn *
control_conn_by_id(struct control *c, uint32_t id)
{
	struct ctl_conn	*cc;

	TAILQ_FOREACH(cc, &c->conns, entry)
		if (cc->id == id)
			return cc;
	return NULL;
}

static void
control_conn_close(struct ctl_conn *cc)
{
	struct control	*c = cc->ctl;

	/* posternctl went away during a debug delivery: stop the probe */
	if (cc->probe && cc->waiting == PROC_MTA)
		proc_compose(c->proc, PROC_MTA, IMSG_CTL_DEBUG_CANCEL, cc->id,
		    -1, NULL, 0);
	/* ... or in a show queue: the queue stops its walk */
	if (cc->listing && cc->waiting == PROC_QUEUE)
		proc_compose(c->proc, PROC_QUEUE, IMSG_CTL_QUEUE_LIST_CANCEL,
		    cc->id, -1, NULL, 0);
	if (cc->events)
		event_del(&cc->ev);
	close(cc->ibuf.fd);
	imsgbuf_clear(&cc->ibuf);
	TAILQ_REMOVE(&c->conns, cc, entry);
	c->nconns--;
	free(cc);
	/* A slot is free again. */
	event_add(&c->ev_accept, NULL);
}

static void
control_reply_error(struct ctl_conn *cc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
control_reply_error(struct ctl_conn *cc, const char *fmt, ...)
{
	struct msg_ctl_error	 e;
	va_list			 ap;

	memset(&e, 0, sizeof(e));
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	imsg_compose(&cc->ibuf, IMSG_CTL_REPLY_ERROR, 0, 0, -1, &e, sizeof(e));
}

/*
 * Every message control relays, in one table: a request from posternctl
 * (checked, then sent to the process that answers it) or a reply from a
 * process (checked, then passed to the client whose id it carries).  A
 * request's payload is decoded into a union and forwarded as `fwd` bytes
 * of it: the target never sees what posternctl wrote, only what control
 * read.  A client's bad request ends its connection; a bad reply is a
 * sibling's bug, and stops us.
 */
union ctl_payload {
	struct msg_ctl_verbose	 verbose;
	struct msg_ctl_qid	 qid;
	struct msg_ctl_target	 target;
	struct msg_ctl_domain	 domain;
	struct msg_ctl_status	 status;
	struct msg_ctl_envelope	 envelope;
	struct msg_ctl_count	 count;
	struct msg_ctl_stat	 stat;
	struct msg_ctl_mta_host	 host;
	struct msg_ctl_error	 error;
	struct msg_ctl_reports	 reports;
};

#define CTL_BY_TARGET	PROC_MAX	/* the msg_ctl_target names it */
#define CTL_REPLY	(PROC_MAX + 1)	/* a reply, back to a client */
/*
 * fwd: the whole payload, which its check decoded in full (a request
 * longer than the union: struct and the bytes it announces)
 */
#define CTL_FWD_ALL	SIZE_MAX

#define CHECK(name, member)						\
static int								\
ctl_check_##name(const struct imsg *imsg, union ctl_payload *u)	\
{									\
	return msg_get_##name(imsg, &u->member);			\
}
CHECK(ctl_verbose, verbose)
CHECK(ctl_qid, qid)
CHECK(ctl_target, target)
CHECK(ctl_domain, domain)
CHECK(ctl_status, status)
CHECK(ctl_envelope, envelope)
CHECK(ctl_count, count)
CHECK(ctl_stat, stat)
CHECK(ctl_mta_host, host)
CHECK(ctl_error, error)
CHECK(ctl_reports, reports)
#undef CHECK

/* debug delivery: checked whole, forwarded as it came (CTL_FWD_ALL) */
static int
ctl_check_debug(const struct imsg *imsg, union ctl_payload *u)
{
	struct msg_ctl_debug	 d;
	const uint8_t		*ta, *ca;

	return msg_get_ctl_debug(imsg, &d, &ta, &ca);
}

static int
ctl_check_debug_result(const struct imsg *imsg, union ctl_payload *u)
{
	struct msg_ctl_debug_result	 r;

	return msg_get_ctl_debug_result(imsg, &r);
}

/* pause and resume: smtp or the queue, not reportd (stats only) */
static int
ctl_check_pause(const struct imsg *imsg, union ctl_payload *u)
{
	/* only smtp (accepting) and the queue (deliveries) pause */
	if (msg_get_ctl_target(imsg, &u->target) == -1 ||
	    (u->target.target != CTL_TARGET_SMTP &&
	    u->target.target != CTL_TARGET_QUEUE))
		return -1;
	return 0;
}

static int
ctl_check_empty(const struct imsg *imsg, union ctl_payload *u)
{
	return msg_get_empty(imsg);
}

static int
ctl_check_data(const struct imsg *imsg, union ctl_payload *u)
{
	const void	*data;
	size_t		 len;

	return msg_get_bytes(imsg, &data, &len);
}

/* show: one message, not a selection */
static int
ctl_check_show(const struct imsg *imsg, union ctl_payload *u)
{
	if (msg_get_ctl_qid(imsg, &u->qid) == -1 || u->qid.kind != QID_MSG)
		return -1;
	return 0;
}

static const struct ctl_msg {
	uint32_t	 type;
	unsigned int	 target;	/* proc_id, CTL_BY_TARGET, CTL_REPLY */
	size_t		 fwd;		/* request bytes forwarded */
	int		(*check)(const struct imsg *, union ctl_payload *);
	const char	*what;		/* a request, as the log names it */
	int		 notice;	/* it changes something: log at info */
} ctl_msgs[] = {
	/* requests: type, who answers, bytes forwarded, check, log */
	{ IMSG_CTL_STATUS_GET, PROC_PARENT, 0, ctl_check_empty,
	    "show status", 0 },
	{ IMSG_CTL_DAEMON_STOP, PROC_PARENT, 0, ctl_check_empty, "stop", 0 },
	{ IMSG_CTL_VERBOSE_SET, PROC_PARENT, sizeof(struct msg_ctl_verbose),
	    ctl_check_ctl_verbose, "log verbosity", 0 },
	{ IMSG_CTL_QUEUE_LIST, PROC_QUEUE, 0, ctl_check_empty,
	    "show queue", 0 },
	{ IMSG_CTL_QUEUE_SHOW, PROC_QUEUE, sizeof(struct msg_ctl_qid),
	    ctl_check_show, "show message", 0 },
	{ IMSG_CTL_QUEUE_SCHEDULE, PROC_QUEUE, sizeof(struct msg_ctl_qid),
	    ctl_check_ctl_qid, "schedule", 1 },
	{ IMSG_CTL_QUEUE_REMOVE, PROC_QUEUE, sizeof(struct msg_ctl_qid),
	    ctl_check_ctl_qid, "remove", 1 },
	{ IMSG_CTL_QUEUE_HOLD, PROC_QUEUE, sizeof(struct msg_ctl_qid),
	    ctl_check_ctl_qid, "hold", 1 },
	{ IMSG_CTL_QUEUE_RELEASE, PROC_QUEUE, sizeof(struct msg_ctl_qid),
	    ctl_check_ctl_qid, "release", 1 },
	{ IMSG_CTL_MTA_HOSTS_GET, PROC_MTA, 0, ctl_check_empty,
	    "show hosts", 0 },
	{ IMSG_CTL_MTA_ROUTES_GET, PROC_MTA, sizeof(struct msg_ctl_domain),
	    ctl_check_ctl_domain, "show routes", 0 },
	{ IMSG_CTL_MTA_STS_GET, PROC_MTA, sizeof(struct msg_ctl_domain),
	    ctl_check_ctl_domain, "show mta-sts", 0 },
	{ IMSG_CTL_MTA_STS_FLUSH, PROC_MTA, sizeof(struct msg_ctl_domain),
	    ctl_check_ctl_domain, "flush mta-sts", 1 },
	{ IMSG_CTL_EVALUATIONS_GET, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "show evaluations", 0 },
	{ IMSG_CTL_TLS_RESULTS_GET, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "show tls-results", 0 },
	{ IMSG_CTL_REPORTS_GET, PROC_REPORTD,
	    sizeof(struct msg_ctl_reports), ctl_check_ctl_reports,
	    "show reports", 0 },
	{ IMSG_CTL_REPORT_DMARC_PRINT, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "report dmarc print", 0 },
	{ IMSG_CTL_REPORT_DMARC_SEND, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "report dmarc send", 1 },
	{ IMSG_CTL_REPORT_TLS_PRINT, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "report tls print", 0 },
	{ IMSG_CTL_REPORT_TLS_SEND, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "report tls send", 1 },
	{ IMSG_CTL_SUPPRESSIONS_GET, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "show suppressions", 0 },
	{ IMSG_CTL_SUPPRESSION_REMOVE, PROC_REPORTD,
	    sizeof(struct msg_ctl_domain), ctl_check_ctl_domain,
	    "suppression remove", 1 },
	{ IMSG_CTL_PROC_PAUSE, CTL_BY_TARGET, 0, ctl_check_pause,
	    "pause", 1 },
	{ IMSG_CTL_PROC_RESUME, CTL_BY_TARGET, 0, ctl_check_pause,
	    "resume", 1 },
	{ IMSG_CTL_STATS_GET, CTL_BY_TARGET, 0, ctl_check_ctl_target,
	    "show stats", 0 },
	{ IMSG_CTL_DEBUG_DELIVERY, PROC_MTA, CTL_FWD_ALL, ctl_check_debug,
	    "debug delivery", 1 },

	/* replies: passed on as they came, once checked */
	{ IMSG_CTL_STATUS_ENTRY, CTL_REPLY, 0, ctl_check_ctl_status,
	    NULL, 0 },
	{ IMSG_CTL_QUEUE_ENTRY, CTL_REPLY, 0, ctl_check_ctl_envelope,
	    NULL, 0 },
	{ IMSG_CTL_REPLY_COUNT, CTL_REPLY, 0, ctl_check_ctl_count,
	    NULL, 0 },
	{ IMSG_CTL_STATS_ENTRY, CTL_REPLY, 0, ctl_check_ctl_stat,
	    NULL, 0 },
	{ IMSG_CTL_MTA_HOST_ENTRY, CTL_REPLY, 0, ctl_check_ctl_mta_host,
	    NULL, 0 },
	{ IMSG_CTL_REPLY_DATA, CTL_REPLY, 0, ctl_check_data,
	    NULL, 0 },
	{ IMSG_CTL_REPLY_ERROR, CTL_REPLY, 0, ctl_check_ctl_error,
	    NULL, 0 },
	{ IMSG_CTL_REPLY_OK, CTL_REPLY, 0, ctl_check_empty,
	    NULL, 0 },
	{ IMSG_CTL_REPLY_END, CTL_REPLY, 0, ctl_check_empty,
	    NULL, 0 },
	{ IMSG_CTL_DEBUG_RESULT, CTL_REPLY, 0, ctl_check_debug_result,
	    NULL, 0 },
};

/* The row of a request (reply 0) or a reply (reply 1), or NULL. */
static const struct ctl_msg *
ctl_msg_find(uint32_t type, int reply)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_msgs) / sizeof(ctl_msgs[0]); i++)
		if (ctl_msgs[i].type == type &&
		    (ctl_msgs[i].target == CTL_REPLY) == reply)
			return &ctl_msgs[i];
	return NULL;
}

/* The greeting: the version must agree, and the caller may use us. */
static void
control_hello(struct ctl_conn *cc, struct imsg *imsg)
{
	struct msg_ctl_hello	 h;

	if (imsg->hdr.type != IMSG_CTL_SESSION_HELLO ||
	    msg_get_ctl_hello(imsg, &h) == -1) {
		control_reply_error(cc, "protocol error: expected a greeting");
		cc->closing = 1;
		return;
	}
	if (h.version != POSTERN_PROTO_VERSION) {
		control_reply_error(cc, "protocol version mismatch: "
		    "posternctl speaks %u, posternd %u", h.version,
		    POSTERN_PROTO_VERSION);
		cc->closing = 1;
		return;
	}
	if (!cc->authorized) {
		log_warnx("control: refused uid %u (pid %d): not root or in "
		    "the control group", (unsigned)cc->uid, (int)cc->pid);
		control_reply_error(cc, "permission denied: only root and the "
		    "control group may use posternd's control socket");
		cc->closing = 1;
		return;
	}
	cc->hello = 1;
	imsg_compose(&cc->ibuf, IMSG_CTL_REPLY_OK, 0, 0, -1, NULL, 0);
}

/* One request from posternctl. */
static void
control_request(struct ctl_conn *cc, struct imsg *imsg)
{
	struct control		*c = cc->ctl;
	const struct ctl_msg	*m;
	union ctl_payload	 u;
	enum proc_id		 to;

	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		control_reply_error(cc, "file descriptors are not accepted");
		cc->closing = 1;
		return;
	}
	if (!cc->hello) {
		control_hello(cc, imsg);
		return;
	}
	memset(&u, 0, sizeof(u));
	if (cc->waiting != PROC_MAX) {
		/* one at a time: each reply is matched to its request */
		control_reply_error(cc, "a request is already in progress");
		cc->closing = 1;
		return;
	}
	if ((m = ctl_msg_find(imsg->hdr.type, 0)) == NULL ||
	    m->check(imsg, &u) == -1) {
		control_reply_error(cc, "unknown or malformed request (type "
		    "%u, %zu bytes)", imsg->hdr.type, imsg->len);
		cc->closing = 1;
		return;
	}
	if (m->target == CTL_BY_TARGET)
		to = u.target.target == CTL_TARGET_SMTP ? PROC_SMTP :
		    u.target.target == CTL_TARGET_QUEUE ? PROC_QUEUE :
		    u.target.target == CTL_TARGET_MTA ? PROC_MTA :
		    u.target.target == CTL_TARGET_AUTHD ? PROC_AUTHD :
		    PROC_REPORTD;
	else
		to = m->target;
	if (m->notice)
		log_info("control: uid %u: %s", (unsigned)cc->uid, m->what);
	else
		log_debug("control: uid %u: %s", (unsigned)cc->uid, m->what);
	if (m->type == IMSG_CTL_DAEMON_STOP) {
		/*
		 * The stop takes this process down with the rest, so the
		 * caller hears back now, before the parent is asked.
		 */
		log_info("control: uid %u (pid %d) asked to stop",
		    (unsigned)cc->uid, (int)cc->pid);
		imsg_compose(&cc->ibuf, IMSG_CTL_REPLY_OK, 0, 0, -1, NULL, 0);
		imsgbuf_flush(&cc->ibuf);
	} else
		cc->waiting = to;
	cc->probe = m->type == IMSG_CTL_DEBUG_DELIVERY;
	cc->listing = m->type == IMSG_CTL_QUEUE_LIST;
	cc->list_paused = 0;
	if (m->fwd == CTL_FWD_ALL)
		proc_compose(c->proc, to, m->type, cc->id, -1, imsg->data,
		    imsg->len);
	else
		proc_compose(c->proc, to, m->type, cc->id, -1,
		    m->fwd ? &u : NULL, m->fwd);
}

static void
control_conn_event(int fd, short event, void *arg)
{
	struct ctl_conn	*cc = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	cc->events = 0;		/* not persistent: it fired, so it is idle */
	if (event & EV_WRITE) {
		if (imsgbuf_write(&cc->ibuf) == -1) {
			control_conn_close(cc);
			return;
		}
		if (cc->closing && imsgbuf_queuelen(&cc->ibuf) == 0) {
			control_conn_close(cc);
			return;
		}
		control_list_next(cc);
	}
	if ((event & EV_READ) && !cc->closing) {
		n = imsgbuf_read(&cc->ibuf);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			control_conn_close(cc);
			return;
		}
		while (!cc->closing && (r = imsg_get(&cc->ibuf, &imsg)) != 0) {
			if (r == -1) {
				control_reply_error(cc, "malformed message");
				cc->closing = 1;
				break;
			}
			control_request(cc, &imsg);
			imsg_free(&imsg);
		}
	}
	control_conn_update(cc);
}

static void
control_conn_update(struct ctl_conn *cc)
{
	short	 events = cc->closing ? 0 : EV_READ;

	if (imsgbuf_queuelen(&cc->ibuf) > 0)
		events |= EV_WRITE;
	if (cc->closing && events == 0) {
		control_conn_close(cc);
		return;
	}
	if (events == cc->events)
		return;
	if (cc->events)
		event_del(&cc->ev);
	cc->events = events;
	event_set(&cc->ev, cc->ibuf.fd, events, control_conn_event, cc);
	event_add(&cc->ev, NULL);
}

static int
control_authorized(struct control *c, const struct ucred *cred)
{
	uint32_t	 i;

	if (cred->uid == 0)
		return 1;
	if (c->conf.gid != (uint32_t)-1 && cred->gid == c->conf.gid)
		return 1;
	for (i = 0; i < c->conf.nuids; i++)
		if (c->conf.uids[i] == cred->uid)
			return 1;
	return 0;
}

/*
 * A connection on one of the sockets, and its caller's credentials: the
 * socket, or -1 (out of descriptors: both sockets pause).
 */
static int
control_accept_peer(struct control *c, int fd, struct ucred *cred,
    const char *what)
{
	socklen_t	 len = sizeof(*cred);
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE)
			control_accept_pause(c);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept (%s)", what);
		return -1;
	}
	c->paused = 0;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, cred, &len) == -1) {
		log_warn("control: SO_PEERCRED (%s)", what);
		close(s);
		return -1;
	}
	return s;
}

static void
control_accept(int fd, short event, void *arg)
{
	struct control	*c = arg;
	struct ctl_conn	*cc;
	struct ucred	 cred;
	int		 s;

	if ((s = control_accept_peer(c, fd, &cred, "control")) == -1)
		return;
	cc = xcalloc(1, sizeof(*cc));
	cc->id = c->next_id++;
	/* the ids above are the metrics listener's scrapes */
	if (c->next_id == 0 || c->next_id >= METRICS_HTTP_ID_BASE)
		c->next_id = 1;
	cc->ctl = c;
	cc->waiting = PROC_MAX;
	cc->uid = cred.uid;
	cc->pid = cred.pid;
	cc->authorized = control_authorized(c, &cred);
	imsgbuf_init(&cc->ibuf, s);
	TAILQ_INSERT_TAIL(&c->conns, cc, entry);
	if (++c->nconns >= CONTROL_MAX_CLIENTS)
		event_del(&c->ev_accept);	/* until one leaves */
	control_conn_update(cc);
}

/*
 * A local submission: the caller's credentials and the connection go to
 * smtp at once.  Whether the caller may set the envelope sender is
 * decided here, where the control group is known (root and the control
 * group may; smtp enforces it).  smtp's session limit bounds how many
 * are open.
 */
static void
control_sendmail_accept(int fd, short event, void *arg)
{
	struct control			*c = arg;
	struct msg_ctl_local_session	 m;
	struct ucred			 cred;
	int				 s;

	if ((s = control_accept_peer(c, fd, &cred, "local submission")) ==
	    -1)
		return;
	memset(&m, 0, sizeof(m));
	m.uid = cred.uid;
	m.gid = cred.gid;
	m.pid = cred.pid;
	m.privileged = control_authorized(c, &cred);
	log_debug("control: local submission by uid %u (pid %d)",
	    (unsigned)cred.uid, (int)cred.pid);
	/* the descriptor is closed here once sent */
	proc_compose(c->proc, PROC_SMTP, IMSG_CTL_LOCAL_SESSION, 0, s, &m,
	    sizeof(m));
}

void
control_run(struct proc *p)
{
	struct control	*c = control_state(p);

	if (c->fd == -1)
		fatalx("no control socket from the parent");
	if (c->sendmail_fd == -1)
		fatalx("no local submission socket from the parent");
	event_set(&c->ev_accept, c->fd, EV_READ | EV_PERSIST, control_accept,
	    c);
	event_add(&c->ev_accept, NULL);
	event_set(&c->ev_sendmail, c->sendmail_fd, EV_READ | EV_PERSIST,
	    control_sendmail_accept, c);
	event_add(&c->ev_sendmail, NULL);
	evtimer_set(&c->ev_pause, control_accept_resume, c);
	if (c->metrics_fd != -1)
		c->metrics = metrics_http_start(p, c->metrics_fd);
}

/*
 * show queue's flow control (lib/msg.h): the queue paused after a batch;
 * once the client has taken every byte relayed, it may send the next.
 * So a listing of a million envelopes holds one batch here at most, and
 * a client that stops reading stops the queue's walk, not our memory.
 */
static void
control_list_next(struct ctl_conn *cc)
{
	if (!cc->listing || !cc->list_paused || cc->closing ||
	    imsgbuf_queuelen(&cc->ibuf) > 0)
		return;
	cc->list_paused = 0;
	proc_compose(cc->ctl->proc, PROC_QUEUE, IMSG_CTL_QUEUE_LIST_NEXT,
	    cc->id, -1, NULL, 0);
}

static void
control_list_paused(struct control *c, struct imsg *imsg)
{
	struct ctl_conn	*cc;

	if (msg_get_empty(imsg) == -1 || imsg->fd != -1)
		proc_bad_message(c->proc, PROC_QUEUE, imsg);
	if ((cc = control_conn_by_id(c, imsg->hdr.peerid)) == NULL)
		return;		/* the client left: LIST_CANCEL went */
	if (!cc->listing || cc->waiting != PROC_QUEUE || cc->list_paused)
		proc_bad_message(c->proc, PROC_QUEUE, imsg);
	cc->list_paused = 1;
	control_list_next(cc);
}

/* Replies, checked and relayed to the client they belong to. */
void
control_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct control		*c = control_state(p);
	const struct ctl_msg	*m;
	union ctl_payload	 u;
	struct ctl_conn		*cc;

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from != PROC_PARENT && from != PROC_QUEUE && from != PROC_SMTP &&
	    from != PROC_MTA && from != PROC_REPORTD && from != PROC_AUTHD)
		proc_unexpected(p, from, imsg);
	/* authd answers show stats, and nothing else */
	if (from == PROC_AUTHD && imsg->hdr.type != IMSG_CTL_STATS_ENTRY &&
	    imsg->hdr.type != IMSG_CTL_REPLY_END)
		proc_unexpected(p, from, imsg);
	if (from == PROC_QUEUE &&
	    imsg->hdr.type == IMSG_CTL_QUEUE_LIST_PAUSE) {
		control_list_paused(c, imsg);
		return;
	}
	if ((m = ctl_msg_find(imsg->hdr.type, 1)) == NULL)
		proc_unexpected(p, from, imsg);
	if (m->check(imsg, &u) == -1 || imsg->fd != -1)
		proc_bad_message(p, from, imsg);
	if (metrics_http_imsg(c->metrics, from, imsg))
		return;		/* a scrape's */
	if ((cc = control_conn_by_id(c, imsg->hdr.peerid)) == NULL)
		return;		/* the client left */
	/* only the process asked, and only until its last reply */
	if (cc->waiting != from)
		proc_bad_message(p, from, imsg);
	if (imsg->hdr.type == IMSG_CTL_REPLY_END ||
	    imsg->hdr.type == IMSG_CTL_REPLY_ERROR ||
	    imsg->hdr.type == IMSG_CTL_REPLY_OK ||
	    imsg->hdr.type == IMSG_CTL_REPLY_COUNT ||
	    imsg->hdr.type == IMSG_CTL_DEBUG_RESULT) {
		cc->waiting = PROC_MAX;
		cc->listing = 0;
	}
	imsg_compose(&cc->ibuf, imsg->hdr.type, 0, 0, -1, imsg->data,
	    imsg->len);
	control_conn_update(cc);
}

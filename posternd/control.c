/*
 * The control process: serves posternctl on a unix socket.  It takes the
 * caller's credentials with SO_PEERCRED at accept time, lets root and the
 * configured control group run commands, and relays each request to the
 * process that answers it (today the parent), matching replies to clients
 * by peer id.  A client's bad input ends that client's connection, never
 * the daemon.
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
	struct control		*ctl;
};

struct control {
	struct proc			*proc;
	struct msg_conf_control		 conf;
	int				 fd;
	struct event			 ev_accept;
	TAILQ_HEAD(, ctl_conn)		 conns;
	int				 nconns;
	uint32_t			 next_id;
};

static void	control_conn_update(struct ctl_conn *);

static struct control *
control_state(struct proc *p)
{
	struct control	*c;

	if (p->state == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->proc = p;
		c->fd = -1;
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

	if (imsg->hdr.type != IMSG_PROC_CONF_CONTROL ||
	    imsg_get_data(imsg, &c->conf, sizeof(c->conf)) == -1 ||
	    imsg->fd == -1 || c->fd != -1 ||
	    c->conf.nuids > CTL_MAX_ALLOWED_UIDS)
		fatalx("bad control set-up message");
	c->fd = imsg->fd;
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
	imsg_compose(&cc->ibuf, IMSG_CTL_ERROR, 0, 0, -1, &e, sizeof(e));
}

/* One request from posternctl. */
static void
control_request(struct ctl_conn *cc, struct imsg *imsg)
{
	struct control		*c = cc->ctl;
	struct msg_ctl_hello	 h;
	struct msg_ctl_verbose	 v;
	struct msg_ctl_qid	 qid;
	struct msg_ctl_target	 t;
	struct msg_ctl_domain	 d;

	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		control_reply_error(cc, "file descriptors are not accepted");
		cc->closing = 1;
		return;
	}
	if (!cc->hello) {
		if (imsg->hdr.type != IMSG_CTL_HELLO ||
		    imsg_get_data(imsg, &h, sizeof(h)) == -1) {
			control_reply_error(cc, "protocol error: expected a "
			    "greeting");
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
			log_warnx("control: refused uid %u (pid %d): not root "
			    "or in the control group", (unsigned)cc->uid,
			    (int)cc->pid);
			control_reply_error(cc, "permission denied: only root "
			    "and the control group may use posternd's control "
			    "socket");
			cc->closing = 1;
			return;
		}
		cc->hello = 1;
		imsg_compose(&cc->ibuf, IMSG_CTL_OK, 0, 0, -1, NULL, 0);
		return;
	}

	switch (imsg->hdr.type) {
	case IMSG_CTL_STATUS_GET:
		if (imsg->len != 0)
			break;
		log_debug("control: uid %u: show status", (unsigned)cc->uid);
		proc_compose(c->proc, PROC_PARENT, imsg->hdr.type, cc->id,
		    -1, NULL, 0);
		return;
	case IMSG_CTL_STOP:
		if (imsg->len != 0)
			break;
		/*
		 * The stop takes this process down with the rest, so the
		 * caller hears back now, before the parent is asked.
		 */
		log_info("control: uid %u (pid %d) asked to stop",
		    (unsigned)cc->uid, (int)cc->pid);
		imsg_compose(&cc->ibuf, IMSG_CTL_OK, 0, 0, -1, NULL, 0);
		imsgbuf_flush(&cc->ibuf);
		proc_compose(c->proc, PROC_PARENT, imsg->hdr.type, cc->id,
		    -1, NULL, 0);
		return;
	case IMSG_CTL_LOG_VERBOSE:
		if (imsg_get_data(imsg, &v, sizeof(v)) == -1 ||
		    v.verbose < 0 || v.verbose > 3)
			break;
		proc_compose(c->proc, PROC_PARENT, imsg->hdr.type, cc->id,
		    -1, &v, sizeof(v));
		return;
	case IMSG_CTL_QUEUE_LIST:
		if (imsg->len != 0)
			break;
		proc_compose(c->proc, PROC_QUEUE, imsg->hdr.type, cc->id, -1,
		    NULL, 0);
		return;
	case IMSG_CTL_QUEUE_SHOW:
	case IMSG_CTL_QUEUE_SCHEDULE:
	case IMSG_CTL_QUEUE_REMOVE:
	case IMSG_CTL_QUEUE_HOLD:
	case IMSG_CTL_QUEUE_RELEASE:
		if (imsg_get_data(imsg, &qid, sizeof(qid)) == -1 ||
		    (qid.kind != QID_ALL && qid.kind != QID_MSG &&
		    qid.kind != QID_ENV) ||
		    (imsg->hdr.type == IMSG_CTL_QUEUE_SHOW &&
		    qid.kind != QID_MSG))
			break;
		log_info("control: uid %u: queue request %u", (unsigned)cc->uid,
		    imsg->hdr.type);
		proc_compose(c->proc, PROC_QUEUE, imsg->hdr.type, cc->id, -1,
		    &qid, sizeof(qid));
		return;
	case IMSG_CTL_MTA_HOSTS:
	case IMSG_CTL_MTA_ROUTES:
		if (imsg->len != 0)
			break;
		proc_compose(c->proc, PROC_MTA, imsg->hdr.type, cc->id, -1,
		    NULL, 0);
		return;
	case IMSG_CTL_EVALUATIONS:
		if (imsg_get_data(imsg, &d, sizeof(d)) == -1)
			break;
		/* reportd terminates it too: it trusts no peer's string. */
		d.domain[sizeof(d.domain) - 1] = '\0';
		log_debug("control: uid %u: show evaluations",
		    (unsigned)cc->uid);
		proc_compose(c->proc, PROC_REPORTD, imsg->hdr.type, cc->id, -1,
		    &d, sizeof(d));
		return;
	case IMSG_CTL_PAUSE:
	case IMSG_CTL_RESUME:
	case IMSG_CTL_STATS:
		if (imsg_get_data(imsg, &t, sizeof(t)) == -1 ||
		    (t.target != CTL_TARGET_SMTP &&
		    t.target != CTL_TARGET_QUEUE))
			break;
		proc_compose(c->proc, t.target == CTL_TARGET_SMTP ? PROC_SMTP :
		    PROC_QUEUE, imsg->hdr.type, cc->id, -1, NULL, 0);
		return;
	}
	control_reply_error(cc, "unknown or malformed request (type %u, "
	    "%zu bytes)", imsg->hdr.type, imsg->len);
	cc->closing = 1;
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

static void
control_accept(int fd, short event, void *arg)
{
	struct control	*c = arg;
	struct ctl_conn	*cc;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(s);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	cc->ctl = c;
	cc->uid = cred.uid;
	cc->pid = cred.pid;
	cc->authorized = control_authorized(c, &cred);
	imsgbuf_init(&cc->ibuf, s);
	TAILQ_INSERT_TAIL(&c->conns, cc, entry);
	if (++c->nconns >= CONTROL_MAX_CLIENTS)
		event_del(&c->ev_accept);	/* until one leaves */
	control_conn_update(cc);
}

void
control_run(struct proc *p)
{
	struct control	*c = control_state(p);

	if (c->fd == -1)
		fatalx("no control socket from the parent");
	event_set(&c->ev_accept, c->fd, EV_READ | EV_PERSIST, control_accept,
	    c);
	event_add(&c->ev_accept, NULL);
}

/* Replies, relayed to the client they belong to. */
void
control_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct control	*c = control_state(p);
	struct ctl_conn	*cc;

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from != PROC_PARENT && from != PROC_QUEUE && from != PROC_SMTP &&
	    from != PROC_MTA && from != PROC_REPORTD)
		proc_unexpected(p, from, imsg);
	/* Replies are checked for shape; posternctl checks them again. */
	switch (imsg->hdr.type) {
	case IMSG_CTL_STATUS_ENTRY:
		if (imsg->len != sizeof(struct msg_ctl_status))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_QUEUE_ENTRY:
		if (imsg->len != sizeof(struct msg_ctl_envelope))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_COUNT:
		if (imsg->len != sizeof(struct msg_ctl_count))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_STAT:
		if (imsg->len != sizeof(struct msg_ctl_stat))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_MTA_HOST:
		if (imsg->len != sizeof(struct msg_ctl_mta_host))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_DATA:
		break;
	case IMSG_CTL_ERROR:
		if (imsg->len != sizeof(struct msg_ctl_error))
			proc_unexpected(p, from, imsg);
		break;
	case IMSG_CTL_OK:
	case IMSG_CTL_END:
		if (imsg->len != 0)
			proc_unexpected(p, from, imsg);
		break;
	default:
		proc_unexpected(p, from, imsg);
	}
	if ((cc = control_conn_by_id(c, imsg->hdr.peerid)) == NULL)
		return;		/* the client left */
	imsg_compose(&cc->ibuf, imsg->hdr.type, 0, 0, -1, imsg->data,
	    imsg->len);
	control_conn_update(cc);
}

/*
 * The queue process: owns the queue store (lib/qstore.c) in its chroot,
 * takes incoming messages from smtp, makes them durable with group commit
 * before smtp may answer 250, and schedules deliveries: local envelopes go
 * to the parent with the message as a memory file descriptor, results come
 * back and join the next commit.
 *
 * Not yet here: remote envelopes wait (rescheduled) until the mta issue
 * lands; DSNs (RFC 3464) for permanent failures and expiry are logged but
 * not yet generated.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "proc.h"
#include "qstore.h"
#include "util.h"

#define QUEUE_MAPSIZE		(64UL * 1024 * 1024)
#define QUEUE_COMMIT_DELAY_US	2000	/* group commit window */
#define QUEUE_MAX_INFLIGHT	32	/* local deliveries at once */
#define QUEUE_MAX_INCOMING	4096	/* messages being received */

struct incoming {
	TAILQ_ENTRY(incoming)	 entry;
	uint32_t		 session;	/* smtp's peer id */
	struct qs_msg		*msg;
	uint64_t		 msgid;
	int			 too_big;
	int			 committing;
	struct queue		*q;
};

struct queue {
	struct proc			*proc;
	struct qstore			*qs;
	struct event			 ev_flush;
	struct event			 ev_sched;
	TAILQ_HEAD(, incoming)		 incoming;
	size_t				 nincoming;
	size_t				 inflight;
	int				 paused;	/* no new deliveries */
};

static void	queue_schedule_soon(struct queue *, time_t);

static struct incoming *
incoming_find(struct queue *q, uint32_t session)
{
	struct incoming	*in;

	TAILQ_FOREACH(in, &q->incoming, entry)
		if (in->session == session && !in->committing)
			return in;
	return NULL;
}

static void
incoming_free(struct queue *q, struct incoming *in)
{
	TAILQ_REMOVE(&q->incoming, in, entry);
	q->nincoming--;
	free(in);
}

static void
queue_reply(struct queue *q, uint32_t type, uint32_t session, uint64_t id)
{
	struct msg_queue_msgid	 m = { id };

	proc_compose(q->proc, PROC_SMTP, type, session, -1, &m, sizeof(m));
}

/* A batch of commits is done: tell each session. */
static void
queue_commit_done(uint64_t id, int ok, void *arg)
{
	struct incoming	*in = arg;
	struct queue	*q = in->q;
	char		 qid[QID_MSG_LEN + 1];

	qid_msg_str(in->msgid, qid, sizeof(qid));
	if (ok)
		log_debug("%s: queued", qid);
	else
		log_warnx("%s: commit failed; the client is told to retry",
		    qid);
	queue_reply(q, ok ? IMSG_QUEUE_MESSAGE_COMMIT_OK :
	    IMSG_QUEUE_MESSAGE_FAIL, in->session, in->msgid);
	incoming_free(q, in);
	if (ok)
		queue_schedule_soon(q, 0);
}

static void
queue_flush_cb(int fd, short event, void *arg)
{
	struct queue	*q = arg;

	if (qstore_flush_pending(q->qs) == -1)
		log_warnx("queue: group commit failed");
	/* A panicked LMDB environment is unusable: fail-stop, restart. */
	if (qstore_broken(q->qs))
		fatalx("queue store is broken; stopping");
}

/* Commit soon, together with whatever else arrives meanwhile. */
static void
queue_flush_soon(struct queue *q)
{
	struct timeval	 tv = { 0, QUEUE_COMMIT_DELAY_US };

	if (!evtimer_pending(&q->ev_flush, NULL))
		evtimer_add(&q->ev_flush, &tv);
}

/* Copy a stored message into an anonymous memory file for delivery. */
static int
queue_message_fd(struct queue *q, uint64_t msgid)
{
	static uint8_t	 chunk[QSTORE_CHUNK_SIZE];
	size_t		 len;
	uint32_t	 i;
	int		 fd, r;

	if ((fd = memfd_create("postern-msg", MFD_CLOEXEC)) == -1)
		return -1;
	for (i = 0;; i++) {
		r = qstore_message_read(q->qs, msgid, i, chunk, sizeof(chunk),
		    &len);
		if (r == 1)
			break;
		if (r == -1 || write(fd, chunk, len) != (ssize_t)len) {
			close(fd);
			return -1;
		}
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
queue_deliver_local(struct queue *q, const struct envelope *e)
{
	struct msg_deliver	 d;
	char			 qid[QID_ENV_LEN + 1];
	int			 fd;

	qid_env_str(e->id, qid, sizeof(qid));
	if ((fd = queue_message_fd(q, e->msgid)) == -1) {
		log_warn("%s: reading the message", qid);
		qstore_tempfail(q->qs, e->id, time(NULL),
		    "could not read the queued message");
		queue_flush_soon(q);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.evpid = e->id;
	strlcpy(d.sender, e->sender, sizeof(d.sender));
	strlcpy(d.rcpt, e->rcpt, sizeof(d.rcpt));
	strlcpy(d.action, e->dest, sizeof(d.action));
	/* A first attempt cannot have completed before: skip the scan. */
	d.check_existing = e->attempts > 0 || e->last_try != 0;
	q->inflight++;
	proc_compose(q->proc, PROC_PARENT, IMSG_PARENT_DELIVER, 0, fd, &d,
	    sizeof(d));
	log_debug("%s: to the parent for local delivery to <%s>", qid,
	    e->rcpt);
}

static void
queue_sched_cb(int fd, short event, void *arg)
{
	struct queue	*q = arg;
	struct envelope	*e;
	time_t		 now = time(NULL), wait;
	int		 n, i;
	char		 qid[QID_ENV_LEN + 1];

	if (q->paused)
		return;
	if (q->inflight < QUEUE_MAX_INFLIGHT) {
		e = xcalloc(QUEUE_MAX_INFLIGHT, sizeof(*e));
		n = qstore_take_due(q->qs, now, e,
		    QUEUE_MAX_INFLIGHT - q->inflight);
		if (n == -1)
			log_warnx("queue: reading the schedule failed");
		for (i = 0; i < n; i++) {
			if (e[i].kind == ENV_LOCAL) {
				queue_deliver_local(q, &e[i]);
				continue;
			}
			/* Remote delivery comes with the mta process. */
			qid_env_str(e[i].id, qid, sizeof(qid));
			log_info("%s: remote delivery to <%s> is not "
			    "available yet; deferred", qid, e[i].rcpt);
			qstore_tempfail(q->qs, e[i].id, now,
			    "remote delivery not available");
			queue_flush_soon(q);
		}
		free(e);
	}
	if ((wait = qstore_next_due(q->qs, now)) >= 0 &&
	    q->inflight < QUEUE_MAX_INFLIGHT)
		queue_schedule_soon(q, wait == 0 ? 1 : wait);
}

static void
queue_schedule_soon(struct queue *q, time_t seconds)
{
	struct timeval	 tv = { seconds, 0 };

	evtimer_del(&q->ev_sched);
	evtimer_add(&q->ev_sched, &tv);
}

static void
queue_delivery_result(struct queue *q, struct imsg *imsg)
{
	struct msg_deliver_result	 r;
	char				 qid[QID_ENV_LEN + 1];

	if (imsg_get_data(imsg, &r, sizeof(r)) == -1 ||
	    r.status < DELIVER_OK || r.status > DELIVER_PERMFAIL)
		proc_unexpected(q->proc, PROC_PARENT, imsg);
	r.error[sizeof(r.error) - 1] = '\0';
	if (q->inflight > 0)
		q->inflight--;
	qid_env_str(r.evpid, qid, sizeof(qid));
	switch (r.status) {
	case DELIVER_OK:
		log_info("%s: delivered", qid);
		qstore_delivered(q->qs, r.evpid);
		break;
	case DELIVER_TEMPFAIL:
		log_info("%s: temporary failure: %s", qid, r.error);
		if (qstore_tempfail(q->qs, r.evpid, time(NULL), r.error) ==
		    QSTORE_EXPIRED) {
			log_warnx("%s: expired: %s", qid, r.error);
			qstore_permfail(q->qs, r.evpid);
		}
		break;
	case DELIVER_PERMFAIL:
		log_warnx("%s: permanent failure: %s", qid, r.error);
		qstore_permfail(q->qs, r.evpid);
		break;
	}
	queue_flush_soon(q);
	queue_schedule_soon(q, 0);
}

static void
queue_smtp_imsg(struct queue *q, struct imsg *imsg)
{
	struct incoming	*in;
	struct envelope	 e;
	uint32_t	 session = imsg->hdr.peerid;

	if (imsg->fd != -1)
		proc_unexpected(q->proc, PROC_SMTP, imsg);
	in = incoming_find(q, session);

	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MESSAGE_BEGIN:
		if (imsg->len != 0 || in != NULL)
			proc_unexpected(q->proc, PROC_SMTP, imsg);
		if (q->nincoming >= QUEUE_MAX_INCOMING) {
			queue_reply(q, IMSG_QUEUE_MESSAGE_FAIL, session, 0);
			return;
		}
		in = xcalloc(1, sizeof(*in));
		in->q = q;
		in->session = session;
		in->msg = qstore_message_begin(q->qs,
		    q->proc->global.max_message_size);
		in->msgid = qstore_message_id(in->msg);
		TAILQ_INSERT_TAIL(&q->incoming, in, entry);
		q->nincoming++;
		queue_reply(q, IMSG_QUEUE_MESSAGE_BEGIN_OK, session, in->msgid);
		return;
	}
	if (in == NULL)
		proc_unexpected(q->proc, PROC_SMTP, imsg);

	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MESSAGE_DATA:
		if (!in->too_big && qstore_message_append(in->msg, imsg->data,
		    imsg->len) == -1)
			in->too_big = 1;
		break;
	case IMSG_QUEUE_ENVELOPE_ADD:
		if (imsg_get_data(imsg, &e, sizeof(e)) == -1)
			proc_unexpected(q->proc, PROC_SMTP, imsg);
		e.sender[sizeof(e.sender) - 1] = '\0';
		e.rcpt[sizeof(e.rcpt) - 1] = '\0';
		e.dest[sizeof(e.dest) - 1] = '\0';
		e.envid[sizeof(e.envid) - 1] = '\0';
		e.orcpt[sizeof(e.orcpt) - 1] = '\0';
		e.errmsg[0] = '\0';
		if (qstore_message_add_envelope(in->msg, &e) == 0)
			in->too_big = 1;	/* refused: fail the commit */
		break;
	case IMSG_QUEUE_MESSAGE_COMMIT:
		if (imsg->len != 0)
			proc_unexpected(q->proc, PROC_SMTP, imsg);
		if (in->too_big) {
			qstore_message_abort(in->msg);
			queue_reply(q, IMSG_QUEUE_MESSAGE_FAIL, session,
			    in->msgid);
			incoming_free(q, in);
			break;
		}
		in->committing = 1;
		if (qstore_commit_request(in->msg, queue_commit_done, in) ==
		    -1) {
			queue_reply(q, IMSG_QUEUE_MESSAGE_FAIL, session,
			    in->msgid);
			incoming_free(q, in);
			break;
		}
		queue_flush_soon(q);
		break;
	case IMSG_QUEUE_MESSAGE_ABORT:
		qstore_message_abort(in->msg);
		incoming_free(q, in);
		break;
	default:
		proc_unexpected(q->proc, PROC_SMTP, imsg);
	}
}

/* --- posternctl, through control --- */

struct ctl_walk {
	struct queue	*q;
	uint32_t	 peerid;
};

static int
queue_ctl_list_one(const struct envelope *e, void *arg)
{
	struct ctl_walk		*w = arg;
	struct msg_ctl_envelope	 m;

	memset(&m, 0, sizeof(m));
	m.evpid = e->id;
	m.ctime = e->ctime;
	m.next_try = e->next_try;
	m.attempts = e->attempts;
	m.state = e->state;
	m.kind = e->kind;
	strlcpy(m.sender, e->sender, sizeof(m.sender));
	strlcpy(m.rcpt, e->rcpt, sizeof(m.rcpt));
	strlcpy(m.error, e->errmsg, sizeof(m.error));
	proc_compose(w->q->proc, PROC_CONTROL, IMSG_CTL_QUEUE_ENTRY,
	    w->peerid, -1, &m, sizeof(m));
	return 0;
}

static void
queue_ctl_error(struct queue *q, uint32_t peerid, const char *text)
{
	struct msg_ctl_error	 e;

	memset(&e, 0, sizeof(e));
	strlcpy(e.message, text, sizeof(e.message));
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_ERROR, peerid, -1, &e,
	    sizeof(e));
}

static void
queue_ctl_show(struct queue *q, uint32_t peerid, uint64_t msgid)
{
	static uint8_t	 chunk[QSTORE_CHUNK_SIZE];
	size_t		 len, off, n;
	uint32_t	 i;
	int		 r;

	for (i = 0;; i++) {
		r = qstore_message_read(q->qs, msgid, i, chunk, sizeof(chunk),
		    &len);
		if (r == 1 && i == 0) {
			queue_ctl_error(q, peerid, "no such message");
			return;
		}
		if (r == 1)
			break;
		if (r == -1) {
			queue_ctl_error(q, peerid, "the message cannot be read");
			return;
		}
		for (off = 0; off < len; off += n) {
			n = len - off > 32768 ? 32768 : len - off;
			proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_DATA,
			    peerid, -1, chunk + off, n);
		}
	}
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_END, peerid, -1, NULL,
	    0);
}

static void
queue_ctl_stats(struct queue *q, uint32_t peerid)
{
	struct qstore_stats	 st;
	struct msg_ctl_stat	 m;
	size_t			 i;

	qstore_stats(q->qs, &st);
	{
		const struct { const char *name; uint64_t value; } rows[] = {
			{ "queue.messages", st.messages },
			{ "queue.envelopes", st.envelopes },
			{ "queue.scheduled", st.scheduled },
			{ "queue.inflight", q->inflight },
			{ "queue.commits", st.commits },
			{ "queue.messages_committed", st.messages_committed },
			{ "queue.delivered", st.delivered },
			{ "queue.tempfailed", st.tempfailed },
			{ "queue.permfailed", st.permfailed },
			{ "queue.expired", st.expired },
			{ "queue.removed", st.removed },
			{ "queue.recovered", st.recovered },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, rows[i].name, sizeof(m.name));
			m.value = rows[i].value;
			proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_STAT,
			    peerid, -1, &m, sizeof(m));
		}
	}
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_END, peerid, -1, NULL,
	    0);
}

static void
queue_ctl_imsg(struct queue *q, struct imsg *imsg)
{
	struct msg_ctl_qid	 id;
	struct msg_ctl_count	 c;
	struct ctl_walk		 w = { q, imsg->hdr.peerid };
	time_t			 now = time(NULL);
	int			 n = -1;

	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
		if (imsg->len != 0)
			break;
		if (qstore_envelope_walk(q->qs, queue_ctl_list_one, &w) == -1)
			queue_ctl_error(q, w.peerid, "the queue cannot be "
			    "read");
		else
			proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_END,
			    w.peerid, -1, NULL, 0);
		return;
	case IMSG_CTL_STATS:
		if (imsg->len != 0)
			break;
		queue_ctl_stats(q, w.peerid);
		return;
	case IMSG_CTL_PAUSE:
	case IMSG_CTL_RESUME:
		if (imsg->len != 0)
			break;
		q->paused = imsg->hdr.type == IMSG_CTL_PAUSE;
		log_info("queue: deliveries %s", q->paused ? "paused" :
		    "resumed");
		if (!q->paused)
			queue_schedule_soon(q, 0);
		proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_OK, w.peerid, -1,
		    NULL, 0);
		return;
	}
	if (imsg_get_data(imsg, &id, sizeof(id)) == -1 ||
	    (id.kind != QID_ALL && id.kind != QID_MSG && id.kind != QID_ENV))
		proc_unexpected(q->proc, PROC_CONTROL, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_SHOW:
		if (id.kind != QID_MSG)
			proc_unexpected(q->proc, PROC_CONTROL, imsg);
		queue_ctl_show(q, w.peerid, id.id);
		return;
	case IMSG_CTL_QUEUE_SCHEDULE:
		n = qstore_schedule(q->qs, id.kind, id.id, now);
		queue_schedule_soon(q, 0);
		break;
	case IMSG_CTL_QUEUE_REMOVE:
		n = qstore_remove(q->qs, id.kind, id.id);
		break;
	case IMSG_CTL_QUEUE_HOLD:
		n = qstore_hold(q->qs, id.kind, id.id);
		break;
	case IMSG_CTL_QUEUE_RELEASE:
		n = qstore_release(q->qs, id.kind, id.id, now);
		queue_schedule_soon(q, 0);
		break;
	default:
		proc_unexpected(q->proc, PROC_CONTROL, imsg);
	}
	if (n == -1) {
		queue_ctl_error(q, w.peerid, "the queue store failed");
		return;
	}
	c.count = n;
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_COUNT, w.peerid, -1, &c,
	    sizeof(c));
}

void
queue_run(struct proc *p)
{
	struct queue	*q;
	char		 err[256];

	q = xcalloc(1, sizeof(*q));
	q->proc = p;
	TAILQ_INIT(&q->incoming);
	p->state = q;
	/* We are chrooted into the queue directory. */
	if ((q->qs = qstore_open("/", QUEUE_MAPSIZE, err, sizeof(err))) ==
	    NULL)
		fatalx("queue store: %s", err);
	qstore_set_retry(q->qs, p->global.retry_first, p->global.retry_max,
	    p->global.expire);
	evtimer_set(&q->ev_flush, queue_flush_cb, q);
	evtimer_set(&q->ev_sched, queue_sched_cb, q);
	queue_schedule_soon(q, 0);
	log_debug("queue process started");
}

void
queue_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct queue	*q = p->state;

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_SMTP) {
		queue_smtp_imsg(q, imsg);
		return;
	}
	if (from == PROC_CONTROL) {
		queue_ctl_imsg(q, imsg);
		return;
	}
	if (from == PROC_PARENT &&
	    imsg->hdr.type == IMSG_PARENT_DELIVER_RESULT) {
		queue_delivery_result(q, imsg);
		return;
	}
	proc_unexpected(p, from, imsg);
}

/*
 * The queue process: owns the queue store (queue/store.c) in its chroot,
 * takes incoming messages from smtp, routing each envelope again
 * (queue/admit.c), and makes them durable with group commit before smtp
 * may answer 250, and answers control's queue requests.  Sending mail
 * out (due envelopes to the parent and the mta, their results, retries,
 * expiry and DSNs) is queue/sched.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "clock.h"
#include "crypto.h"
#include "jsonw.h"
#include "log.h"
#include "posternd/proc.h"
#include "queue/admit.h"
#include "queue/queue.h"
#include "queue/store.h"
#include "routing.h"
#include "util.h"

static struct queue *
queue_state(struct proc *p)
{
	struct queue	*q;

	if (p->state == NULL) {
		q = xcalloc(1, sizeof(*q));
		q->proc = p;
		TAILQ_INIT(&q->incoming);
		TAILQ_INIT(&q->lists);
		TAILQ_INIT(&q->actions);
		TAILQ_INIT(&q->list_jobs);
		TAILQ_INIT(&q->list_stats);
		routing_init(&q->routing, NULL);
		p->state = q;
	}
	return p->state;
}

void
queue_conf(struct proc *p, struct imsg *imsg)
{
	struct queue	*q = queue_state(p);

	if (!routing_conf_imsg(&q->routing, imsg))
		proc_unexpected(p, PROC_PARENT, imsg);
}

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
	if (ok) {
		log_debug("%s: queued", qid);
		/* TEST ONLY: durable, and the client not told (posternd(8)) */
		proc_test_crash("commit-ok");
	}
	else
		log_warnx("%s: commit failed; the client is told to retry",
		    qid);
	queue_reply(q, ok ? IMSG_QUEUE_MESSAGE_COMMIT_OK :
	    IMSG_QUEUE_MESSAGE_FAIL, in->session, in->msgid);
	incoming_free(q, in);
	if (ok)
		queue_kick(q);
}

static void	queue_space_check(struct queue *);

static void
queue_flush_cb(int fd, short event, void *arg)
{
	struct queue	*q = arg;
	struct incoming	*in;
	time_t		 wait;

	/* TEST ONLY: messages complete, their commit not begun */
	TAILQ_FOREACH(in, &q->incoming, entry)
		if (in->committing)
			proc_test_crash("commit");
	/* What this commit writes is what may cross the threshold. */
	queue_space_check(q);
	if (qstore_flush_pending(q->qs) == -1)
		queue_flush_retry(q);	/* the store logged why */
	/* Results just committed may have moved the next due time. */
	else if (!q->paused && queue_room(q) &&
	    (wait = qstore_next_due(q->qs, walltime())) >= 0)
		queue_schedule_soon(q, wait);
	/*
	 * A panicked LMDB environment is unusable: fail-stop, restart.  The
	 * sessions of the failed commit hear 451 first, if smtp can take it.
	 */
	if (qstore_broken(q->qs)) {
		proc_flush_peer(q->proc, PROC_SMTP);
		fatalx("queue store: %s: stopping, the daemon with it; the "
		    "store is reopened when it is started again",
		    qstore_error(q->qs));
	}
}

/*
 * A commit failed (a full spool): the delivery results it held are kept
 * and must not wait for new traffic to be committed, or envelopes already
 * delivered would stay in flight until the next message arrives.
 */
void
queue_flush_retry(struct queue *q)
{
	struct timeval	 tv = { QUEUE_COMMIT_RETRY, 0 };

	if (qstore_pending(q->qs) > 0 && !evtimer_pending(&q->ev_flush, NULL))
		evtimer_add(&q->ev_flush, &tv);
}

/*
 * Is the spool below `queue minfree`?  New mail is refused there (452
 * 4.3.1, RFC 3463 "mail system full": smtp is told and refuses MAIL, and
 * a message begun meanwhile is refused here) so that the store keeps room
 * for its own bookkeeping: taking envelopes out, and removing the
 * delivered ones, needs copy-on-write pages too, and that is what frees
 * space.  It comes back with a margin of a twentieth, so that a spool
 * hovering at the threshold does not flip at every message.
 */
/* smtp refuses MAIL while the spool is low, rather than DATA. */
static void
queue_space_tell(struct queue *q)
{
	struct msg_queue_space	 m;

	memset(&m, 0, sizeof(m));
	m.low = q->space_low;
	proc_compose(q->proc, PROC_SMTP, IMSG_QUEUE_SPACE_STATE, 0, -1, &m,
	    sizeof(m));
}

static void
queue_space_check(struct queue *q)
{
	uint64_t	 avail, fs_size, need;

	qstore_reserve_keep(q->qs);
	if (qstore_space(q->qs, &avail, &fs_size) == -1) {
		log_warn("queue: statvfs of the spool");
		return;
	}
	q->space_checks++;
	need = q->proc->global.queue_minfree;
	if (need == 0) {
		need = fs_size / 100 * QUEUE_MINFREE_PERCENT;
		if (need > QUEUE_MINFREE_MAX)
			need = QUEUE_MINFREE_MAX;
	}
	q->space_avail = avail;
	q->space_need = need;
	if (!q->space_low && avail < need) {
		q->space_low = 1;
		log_warnx("queue: the spool has %llu KB free, less than "
		    "minfree %llu KB: refusing new mail", (unsigned long long)
		    avail / 1024, (unsigned long long)need / 1024);
		queue_space_tell(q);
	} else if (q->space_low && avail >= need + need / 20) {
		q->space_low = 0;
		log_info("queue: the spool has %llu KB free again: accepting "
		    "mail", (unsigned long long)avail / 1024);
		queue_space_tell(q);
	}
}

static void
queue_space_cb(int fd, short event, void *arg)
{
	struct queue	*q = arg;
	struct timeval	 tv = { QUEUE_SPACE_CHECK, 0 };

	queue_space_check(q);
	evtimer_add(&q->ev_space, &tv);
}

/* Commit soon, together with whatever else arrives meanwhile. */
void
queue_flush_soon(struct queue *q)
{
	struct timeval	 tv = { 0, QUEUE_COMMIT_DELAY_US };

	if (!evtimer_pending(&q->ev_flush, NULL))
		evtimer_add(&q->ev_flush, &tv);
}

/*
 * The message went over the memory budget: its memory goes back now, the
 * rest of its data is dropped as it comes, and its commit is answered
 * with NOSPACE (452 4.3.1).
 */
static void
incoming_nospace(struct queue *q, struct incoming *in)
{
	char	 qid[QID_MSG_LEN + 1];

	qid_msg_str(in->msgid, qid, sizeof(qid));
	log_info("%s: refused: the queue's memory for messages being "
	    "received (queue memory-limit) is spent", qid);
	qstore_message_abort(in->msg);
	in->msg = NULL;
	in->nospace = 1;
}

/*
 * A session starts a message: refused (FAIL) past QUEUE_MAX_INCOMING,
 * NOSPACE (452 4.3.1) below minfree or when the memory budget cannot hold
 * what the client declared; else BEGIN_OK with the message's id.
 */
static void
queue_message_begin(struct queue *q, struct imsg *imsg, uint32_t session)
{
	struct msg_queue_begin	 b;
	struct incoming		*in;
	struct qs_msg		*msg;
	int			 r;

	if (msg_get_queue_begin(imsg, &b) == -1)
		proc_bad_message(q->proc, PROC_SMTP, imsg);
	if (q->nincoming >= QUEUE_MAX_INCOMING) {
		queue_reply(q, IMSG_QUEUE_MESSAGE_FAIL, session, 0);
		return;
	}
	/* Below minfree: 452 4.3.1 (queue_space_check()). */
	if (q->space_low) {
		q->space_refused++;
		queue_reply(q, IMSG_QUEUE_MESSAGE_NOSPACE, session, 0);
		return;
	}
	/* A message at the limit is stored with our fields too. */
	r = qstore_message_receive(q->qs,
	    q->proc->global.max_message_size > 0 ?
	    q->proc->global.max_message_size + QUEUE_TRACE_ROOM : 0,
	    b.size > q->proc->global.max_message_size ?
	    q->proc->global.max_message_size : b.size, &msg);
	if (r != 0) {
		if (r == QSTORE_NOMEM)
			log_info("queue: a message from session %u refused: "
			    "the queue's memory for messages being received "
			    "is spent", session);
		queue_reply(q, r == QSTORE_NOMEM ? IMSG_QUEUE_MESSAGE_NOSPACE :
		    IMSG_QUEUE_MESSAGE_FAIL, session, 0);
		return;
	}
	in = xcalloc(1, sizeof(*in));
	in->q = q;
	in->session = session;
	in->msg = msg;
	in->msgid = qstore_message_id(in->msg);
	TAILQ_INSERT_TAIL(&q->incoming, in, entry);
	q->nincoming++;
	queue_reply(q, IMSG_QUEUE_MESSAGE_BEGIN_OK, session, in->msgid);
}

static void
queue_smtp_imsg(struct queue *q, struct imsg *imsg)
{
	struct msg_queue_envelope	 me;
	struct incoming			*in;
	struct envelope			 e;
	const void			*data;
	size_t				 len;
	uint32_t			 session = imsg->hdr.peerid;
	char				 why[512];
	int				 r;

	if (imsg->fd != -1)
		proc_unexpected(q->proc, PROC_SMTP, imsg);
	in = incoming_find(q, session);

	if (imsg->hdr.type == IMSG_QUEUE_MESSAGE_BEGIN) {
		if (in != NULL)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
		queue_message_begin(q, imsg, session);
		return;
	}
	if (in == NULL)
		proc_unexpected(q->proc, PROC_SMTP, imsg);

	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MESSAGE_DATA:
		if (msg_get_bytes(imsg, &data, &len) == -1)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
		if (in->too_big || in->nospace)
			break;
		if ((r = qstore_message_append(in->msg, data, len)) ==
		    QSTORE_NOMEM)
			incoming_nospace(q, in);
		else if (r == -1)
			in->too_big = 1;
		break;
	case IMSG_QUEUE_MESSAGE_PREPEND:
		/* authd's Authentication-Results field, once data is done */
		if (msg_get_bytes(imsg, &data, &len) == -1)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
		if (in->too_big || in->nospace)
			break;
		if ((r = qstore_message_prepend(in->msg, data, len)) ==
		    QSTORE_NOMEM)
			incoming_nospace(q, in);
		else if (r == -1)
			in->too_big = 1;
		break;
	case IMSG_QUEUE_ENVELOPE_ADD:
		if (msg_get_queue_envelope(imsg, &me) == -1)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
		/* smtp proposes, the queue decides (queue/admit.c) */
		if ((r = queue_admit_envelope(&q->routing, &me, &e, why,
		    sizeof(why))) == -1)
			fatalx("protocol violation by smtp: envelope for <%s> "
			    "routed differently: %s", me.env.rcpt, why);
		if (r == 1) {
			log_warnx("queue: %s: the message fails for now (an "
			    "aliases file reloaded, or a .forward read too "
			    "long ago)", why);
			in->too_big = 1;
			break;
		}
		/* the store alone says how tries went */
		e.errmsg[0] = '\0';
		if (in->nospace)
			break;
		if (qstore_message_add_envelope(in->msg, &e) == 0)
			in->too_big = 1;	/* refused: fail the commit */
		break;
	case IMSG_QUEUE_MESSAGE_COMMIT:
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
		if (in->too_big || in->nospace) {
			qstore_message_abort(in->msg);
			queue_reply(q, in->nospace ?
			    IMSG_QUEUE_MESSAGE_NOSPACE :
			    IMSG_QUEUE_MESSAGE_FAIL, session, in->msgid);
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
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(q->proc, PROC_SMTP, imsg);
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
queue_ctl_list_one(const struct envelope *e, uint64_t size, void *arg)
{
	struct ctl_walk		*w = arg;
	struct msg_ctl_envelope	 m;

	memset(&m, 0, sizeof(m));
	m.evpid = e->id;
	m.size = size;
	m.ctime = e->ctime;
	m.next_try = e->next_try;
	m.attempts = e->attempts;
	m.state = e->state;
	m.kind = e->kind;
	strlcpy(m.sender, e->sender, sizeof(m.sender));
	strlcpy(m.rcpt, e->rcpt, sizeof(m.rcpt));
	strlcpy(m.error, e->errmsg, sizeof(m.error));
	strlcpy(m.account, e->account, sizeof(m.account));
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
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_ERROR, peerid, -1,
	    &e, sizeof(e));
}

static struct ctl_list *
queue_list_find(struct queue *q, uint32_t peerid)
{
	struct ctl_list	*l;

	TAILQ_FOREACH(l, &q->lists, entry)
		if (l->peerid == peerid)
			return l;
	return NULL;
}

static void
queue_list_free(struct queue *q, struct ctl_list *l)
{
	TAILQ_REMOVE(&q->lists, l, entry);
	q->nlists--;
	free(l);
}

/*
 * The next batch of a show queue, then a pause until control says its
 * client took it (IMSG_CTL_QUEUE_LIST_NEXT): neither we nor control ever
 * hold more than a batch of a listing, however large the queue and
 * however slow the reader.
 */
static void
queue_list_batch(struct queue *q, struct ctl_list *l)
{
	struct ctl_walk	 w = { q, l->peerid };
	int		 r;

	r = qstore_envelope_walk_batch(q->qs, &l->from, QUEUE_LIST_BATCH,
	    queue_ctl_list_one, &w);
	if (r == 1) {
		l->paused = 1;
		proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_QUEUE_LIST_PAUSE,
		    l->peerid, -1, NULL, 0);
		return;
	}
	if (r == -1)
		queue_ctl_error(q, l->peerid, "the queue cannot be read");
	else
		proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
		    l->peerid, -1, NULL, 0);
	queue_list_free(q, l);
}

/* show queue, and control's word on its flow (lib/msg.h). */
static void
queue_ctl_list(struct queue *q, struct imsg *imsg)
{
	struct ctl_list	*l;
	uint32_t	 peerid = imsg->hdr.peerid;

	if (msg_get_empty(imsg) == -1)
		proc_bad_message(q->proc, PROC_CONTROL, imsg);
	l = queue_list_find(q, peerid);
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
		/* control sends a client's requests one at a time */
		if (l != NULL)
			proc_bad_message(q->proc, PROC_CONTROL, imsg);
		if (q->nlists >= QUEUE_LIST_MAX) {
			queue_ctl_error(q, peerid, "too many queue listings "
			    "at once");
			return;
		}
		l = xcalloc(1, sizeof(*l));
		l->peerid = peerid;
		TAILQ_INSERT_TAIL(&q->lists, l, entry);
		q->nlists++;
		queue_list_batch(q, l);
		return;
	case IMSG_CTL_QUEUE_LIST_NEXT:
		if (l == NULL || !l->paused)
			proc_bad_message(q->proc, PROC_CONTROL, imsg);
		l->paused = 0;
		queue_list_batch(q, l);
		return;
	case IMSG_CTL_QUEUE_LIST_CANCEL:
		/* it may have ended as the client left: nothing to do then */
		if (l != NULL)
			queue_list_free(q, l);
		return;
	}
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
			proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
			    peerid, -1, chunk + off, n);
		}
	}
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

/* Send what b holds as one DATA reply, and empty it. */
static void
queue_ctl_send(struct queue *q, uint32_t peerid, struct buf *b)
{
	if (b->len > 0)
		proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
		    peerid, -1, b->data, b->len);
	buf_reset(b);
}

/*
 * show message ID -j: one JSON object, {"id", "size", "message"}, written
 * piecewise as the chunks are read.  JSON text is UTF-8 (RFC 8259 8.1),
 * and a message need not be: one that is not comes as "message_base64"
 * (RFC 4648 4) instead, so that no byte is lost.  The store is read twice,
 * first to know which.
 */
#define SHOW_SLICE	3072		/* bytes escaped or encoded at once */

static void
queue_ctl_show_json(struct queue *q, uint32_t peerid, uint64_t msgid)
{
	static uint8_t		 chunk[QSTORE_CHUNK_SIZE];
	struct utf8_check	 u;
	struct buf		 b;
	uint8_t			 carry[SHOW_SLICE + 2];
	size_t			 len, off, n, size = 0, ncarry = 0;
	uint32_t		 i;
	char			 id[QID_MSG_LEN + 1], *enc;
	int			 r, text;

	utf8_check_init(&u);
	for (i = 0; (r = qstore_message_read(q->qs, msgid, i, chunk,
	    sizeof(chunk), &len)) == 0; i++) {
		utf8_check_update(&u, chunk, len);
		size += len;
	}
	if (r == 1 && i == 0) {
		queue_ctl_error(q, peerid, "no such message");
		return;
	}
	if (r == -1) {
		queue_ctl_error(q, peerid, "the message cannot be read");
		return;
	}
	text = utf8_check_done(&u);
	qid_msg_str(msgid, id, sizeof(id));
	/* a slice escapes to at most 6 bytes each (\u00XX) */
	buf_init(&b, 8 * SHOW_SLICE + 256);
	buf_printf(&b, "{\"id\":\"%s\",\"size\":%zu,\"%s\":\"", id, size,
	    text ? "message" : "message_base64");
	for (i = 0; (r = qstore_message_read(q->qs, msgid, i, chunk,
	    sizeof(chunk), &len)) == 0; i++) {
		for (off = 0; off < len; off += n) {
			if (text) {
				n = len - off > SHOW_SLICE ? SHOW_SLICE :
				    len - off;
				if (jsonw_escape(&b, chunk + off, n) == -1)
					fatalx("queue: show -j: no room");
			} else {
				/* whole groups of 3 bytes; the rest waits */
				n = SHOW_SLICE - ncarry;
				if (n > len - off)
					n = len - off;
				memcpy(carry + ncarry, chunk + off, n);
				ncarry += n;
				if (ncarry == SHOW_SLICE) {
					enc = b64_encode(carry, ncarry);
					buf_addstr(&b, enc);
					free(enc);
					ncarry = 0;
				}
			}
			if (b.len >= 2 * SHOW_SLICE)
				queue_ctl_send(q, peerid, &b);
		}
	}
	if (r == -1) {
		/* it went while we read: the object stays unfinished */
		buf_free(&b);
		queue_ctl_error(q, peerid, "the message cannot be read");
		return;
	}
	if (ncarry > 0) {
		enc = b64_encode(carry, ncarry);
		buf_addstr(&b, enc);
		free(enc);
	}
	buf_addstr(&b, "\"}\n");
	queue_ctl_send(q, peerid, &b);
	buf_free(&b);
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
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
			{ "queue.spool.low", q->space_low },
			{ "queue.spool.free", q->space_avail },
			{ "queue.spool.minfree", q->space_need },
			{ "queue.spool.refused", q->space_refused },
			{ "queue.spool.checks", q->space_checks },
			{ "queue.spool.reserve", st.reserve },
			{ "queue.spool.reserve_free", st.reserve_have },
			{ "queue.spool.reserve_refused", st.reserve_refused },
			{ "queue.commits", st.commits },
			{ "queue.messages_committed", st.messages_committed },
			{ "queue.delivered", st.delivered },
			{ "queue.tempfailed", st.tempfailed },
			{ "queue.permfailed", st.permfailed },
			{ "queue.expired", st.expired },
			{ "queue.removed", st.removed },
			{ "queue.recovered", st.recovered },
			{ "queue.memory_held", st.mem_held },
			{ "queue.memory_peak", st.mem_peak },
			{ "queue.memory_limit", st.mem_limit },
			{ "queue.memory_refused", st.mem_refused },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, rows[i].name, sizeof(m.name));
			m.value = rows[i].value;
			proc_compose(q->proc, PROC_CONTROL,
			    IMSG_CTL_STATS_ENTRY, peerid, -1, &m, sizeof(m));
		}
	}
	queue_list_stats(q, peerid);
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

/*
 * One step of an operator action (qstore_action_step(): one committed
 * transaction of up to 4096 envelopes): 1 while more is to do, else the
 * client has its answer.  Released and rescheduled envelopes are due at
 * once, while the rest of the action goes on.
 */
static int
queue_action_step(struct queue *q, struct ctl_action *ca)
{
	struct msg_ctl_count	 c;
	int			 r;

	r = qstore_action_step(q->qs, &ca->a);
	if (ca->a.verb == QSTORE_RELEASE || ca->a.verb == QSTORE_SCHEDULE)
		queue_schedule_soon(q, 0);
	if (r == 1)
		return 1;
	if (r == -1) {
		queue_ctl_error(q, ca->peerid, "the queue store failed");
		return 0;
	}
	c.count = ca->a.count;
	proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_COUNT, ca->peerid,
	    -1, &c, sizeof(c));
	return 0;
}

/* The actions under way take a step each, then the loop serves others. */
static void
queue_actions_cb(int fd, short event, void *arg)
{
	struct queue		*q = arg;
	struct ctl_action	*ca, *tca;
	struct timeval		 now = { 0, 0 };

	TAILQ_FOREACH_SAFE(ca, &q->actions, entry, tca) {
		if (queue_action_step(q, ca) == 1)
			continue;
		TAILQ_REMOVE(&q->actions, ca, entry);
		q->nactions--;
		free(ca);
	}
	if (!TAILQ_EMPTY(&q->actions))
		evtimer_add(&q->ev_actions, &now);
}

/*
 * hold, release, schedule, remove: one envelope, or a message's or all
 * envelopes a batch at a time, so that a million of them do not stop
 * the queue (its commits of new mail, its deliveries, show stats) for
 * the seconds they take.
 */
static void
queue_action_start(struct queue *q, uint32_t peerid, enum qstore_verb verb,
    const struct msg_ctl_qid *id, time_t now)
{
	struct ctl_action	*ca;
	struct timeval		 tv = { 0, 0 };

	if (q->nactions >= QUEUE_LIST_MAX) {
		queue_ctl_error(q, peerid, "too many queue actions at once");
		return;
	}
	ca = xcalloc(1, sizeof(*ca));
	ca->peerid = peerid;
	qstore_action_init(&ca->a, verb, id->kind, id->id, now);
	if (queue_action_step(q, ca) == 0) {
		free(ca);
		return;
	}
	TAILQ_INSERT_TAIL(&q->actions, ca, entry);
	q->nactions++;
	if (!evtimer_pending(&q->ev_actions, NULL))
		evtimer_add(&q->ev_actions, &tv);
}

static void
queue_ctl_imsg(struct queue *q, struct imsg *imsg)
{
	struct msg_ctl_qid	 id;
	struct ctl_walk		 w = { q, imsg->hdr.peerid };
	time_t			 now = walltime();

	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
	case IMSG_CTL_QUEUE_LIST_NEXT:
	case IMSG_CTL_QUEUE_LIST_CANCEL:
		queue_ctl_list(q, imsg);
		return;
	case IMSG_CTL_STATS_GET:
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(q->proc, PROC_CONTROL, imsg);
		queue_ctl_stats(q, w.peerid);
		return;
	case IMSG_CTL_PROC_PAUSE:
	case IMSG_CTL_PROC_RESUME:
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(q->proc, PROC_CONTROL, imsg);
		q->paused = imsg->hdr.type == IMSG_CTL_PROC_PAUSE;
		log_info("queue: deliveries %s", q->paused ? "paused" :
		    "resumed");
		if (!q->paused)
			queue_schedule_soon(q, 0);
		proc_compose(q->proc, PROC_CONTROL, IMSG_CTL_REPLY_OK, w.peerid,
		    -1, NULL, 0);
		return;
	}
	if (msg_get_ctl_qid(imsg, &id) == -1)
		proc_bad_message(q->proc, PROC_CONTROL, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_SHOW:
		if (id.kind != QID_MSG)
			proc_bad_message(q->proc, PROC_CONTROL, imsg);
		if (id.flags & CTL_FLAG_JSON)
			queue_ctl_show_json(q, w.peerid, id.id);
		else
			queue_ctl_show(q, w.peerid, id.id);
		return;
	case IMSG_CTL_QUEUE_SCHEDULE:
		queue_action_start(q, w.peerid, QSTORE_SCHEDULE, &id, now);
		return;
	case IMSG_CTL_QUEUE_REMOVE:
		queue_action_start(q, w.peerid, QSTORE_REMOVE, &id, now);
		return;
	case IMSG_CTL_QUEUE_HOLD:
		queue_action_start(q, w.peerid, QSTORE_HOLD, &id, now);
		return;
	case IMSG_CTL_QUEUE_RELEASE:
		queue_action_start(q, w.peerid, QSTORE_RELEASE, &id, now);
		return;
	default:
		proc_unexpected(q->proc, PROC_CONTROL, imsg);
	}
}

/*
 * TEST ONLY: POSTERN_TEST_STORE_PANIC=N makes the store's N-th group
 * commit of new mail fail as MDB_PANIC, so that regress/test_spool_full.py
 * can prove the queue's fail-stop and the restart on the same spool.  The
 * variable is removed in every process unless posternd was started with -T
 * (proc_test_corrupt_init()).
 */
static void
queue_test_panic(struct queue *q)
{
	const char	*v, *errstr;
	unsigned int	 n;

	if ((v = getenv("POSTERN_TEST_STORE_PANIC")) == NULL)
		return;
	n = strtonum(v, 1, 1000, &errstr);
	if (errstr != NULL)
		fatalx("POSTERN_TEST_STORE_PANIC %s: %s", v, errstr);
	log_warnx("queue: test: group commit %u of new mail will fail as "
	    "MDB_PANIC", n);
	qstore_test_panic(q->qs, n);
}

void
queue_run(struct proc *p)
{
	struct queue	*q = queue_state(p);
	char		 err[256];

	strlcpy(q->routing.conf->hostname, p->global.hostname,
	    sizeof(q->routing.conf->hostname));
	routing_ready(&q->routing);
	/* We are chrooted into the queue directory. */
	if ((q->qs = qstore_open("/", QUEUE_MAPSIZE, err, sizeof(err))) ==
	    NULL)
		fatalx("queue store: %s", err);
	qstore_set_retry(q->qs, p->global.retry_first, p->global.retry_max,
	    p->global.expire);
	qstore_set_memory_limit(q->qs, p->global.queue_memory_limit);
	queue_test_panic(q);
	queue_report_keys_prune(q);
	evtimer_set(&q->ev_flush, queue_flush_cb, q);
	evtimer_set(&q->ev_actions, queue_actions_cb, q);
	evtimer_set(&q->ev_space, queue_space_cb, q);
	queue_space_cb(-1, 0, q);
	queue_sched_start(q);
	log_debug("queue process started");
}

/*
 * SIGTERM (the daemon stops, or the parent stops the rest after a child
 * died).  What waits for the next group commit is committed now, so that
 * the sessions waiting for their commit hear 250 from smtp, which waits
 * for these answers before it goes; then the results the mta still hands
 * over before it exits are taken and committed too: a lost delivery
 * result is a relayed message sent again after the restart.  Messages
 * still being received are dropped: their clients heard 421.
 */
void
queue_shutdown(struct proc *p)
{
	struct queue	*q = p->state;

	if (q == NULL || q->qs == NULL)
		return;
	if (qstore_flush_pending(q->qs) == -1)
		log_warnx("queue: the last group commit failed");
	proc_flush(p, PROC_SMTP, QUEUE_SHUTDOWN_MS);
	if (p->peers[PROC_MTA] != NULL)
		proc_drain(p, PROC_MTA, NULL, QUEUE_SHUTDOWN_MS);
	if (qstore_flush_pending(q->qs) == -1)
		log_warnx("queue: the last group commit failed");
	log_info("queue: stopped");
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
	    imsg->hdr.type == IMSG_DELIVER_ENVELOPE_RESULT) {
		queue_delivery_result(q, imsg);
		return;
	}
	if (from == PROC_PARENT) {
		/* an aliases file changed (posternd/alias_watch.c) */
		switch (routing_reload_imsg(&q->routing, imsg)) {
		case 1:
			return;
		case -1:
			proc_bad_message(p, from, imsg);
		}
	}
	if (from == PROC_MTA && imsg->hdr.type == IMSG_MTA_ENVELOPE_RESULT) {
		queue_mta_result(q, imsg);
		return;
	}
	if (from == PROC_REPORTD &&
	    imsg->hdr.type == IMSG_REPORT_MESSAGE_RESULT) {
		queue_report_result(q, imsg);
		return;
	}
	/* list copies' header sections (queue/list.c) */
	if (from == PROC_AUTHD) {
		queue_list_imsg(q, imsg);
		return;
	}
	/* the reports reportd makes (queue/report_in.c) */
	if (from == PROC_REPORTD) {
		queue_report_imsg(q, imsg);
		return;
	}
	proc_unexpected(p, from, imsg);
}

/*
 * The queue's scheduler: it takes due envelopes from the store and hands
 * them out, local ones to the parent one by one and remote ones to the mta
 * grouped by message and relay action, each with the message as a memory
 * file descriptor; at most QUEUE_MAX_INFLIGHT are out at once.  Results
 * come back here: delivered envelopes are removed, temporary failures are
 * retried with back-off until they expire, and permanent failures and
 * expiries send a DSN (RFC 3464, queue/dsn.c) when RFC 3461 says to, one
 * per message and kind for each round of deliveries (queue_dsn_round()).
 * A result is taken only from the process the envelope went to, while it
 * is out there (struct flight).  All of it joins the next group commit
 * (queue_flush_soon()).
 *
 * Deliberately not here: taking mail in, and control requests
 * (queue/queue.c).
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
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "clock.h"
#include "log.h"
#include "posternd/proc.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "queue/store.h"
#include "routing.h"
#include "srs.h"
#include "util.h"

/*
 * What is out, and where: a delivery agent answers only for envelopes
 * handed to it and not yet answered, so a compromised mta cannot drop or
 * bounce a local envelope, one still queued, or one twice.
 */
static void
flight_add(struct queue *q, uint64_t evpid, enum proc_id to, uint64_t bytes)
{
	if (q->inflight >= QUEUE_MAX_INFLIGHT)
		fatalx("queue: more than %d envelopes out", QUEUE_MAX_INFLIGHT);
	q->flights[q->inflight].evpid = evpid;
	q->flights[q->inflight].to = to;
	q->flights[q->inflight].bytes = bytes;
	q->inflight++;
	q->inflight_bytes += bytes;
}

/*
 * The byte bound is checked before a run takes envelopes, so one run's
 * messages may pass it: by at most a window of them.
 */
int
queue_room(const struct queue *q)
{
	return q->inflight < QUEUE_MAX_INFLIGHT &&
	    q->inflight_bytes < QUEUE_INFLIGHT_BYTES;
}

/* The answer from `from` lands: 0, or -1 when it holds no such envelope. */
static int
flight_end(struct queue *q, uint64_t evpid, enum proc_id from)
{
	size_t	 i;

	for (i = 0; i < q->inflight; i++) {
		if (q->flights[i].evpid != evpid)
			continue;
		if (q->flights[i].to != from)
			return -1;
		q->inflight_bytes -= q->flights[i].bytes;
		q->flights[i] = q->flights[--q->inflight];
		return 0;
	}
	return -1;
}

/* The size of a message's memory file, for the window's byte count. */
static uint64_t
fd_size(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* For the list builds at authd (queue/list.c): the message goes as fd. */
void
queue_flight_add(struct queue *q, uint64_t evpid, enum proc_id to, int fd)
{
	flight_add(q, evpid, to, fd_size(fd));
}

int
queue_flight_end(struct queue *q, uint64_t evpid, enum proc_id from)
{
	return flight_end(q, evpid, from);
}

static int
flight_message_out(const struct queue *q, uint64_t msgid)
{
	size_t	 i;

	for (i = 0; i < q->inflight; i++)
		if (EVPID_MSGID(q->flights[i].evpid) == msgid)
			return 1;
	return 0;
}

/* Copy a stored message into an anonymous memory file for delivery. */
int
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


/*
 * The message of a local delivery as a descriptor, or -1 with the
 * envelope deferred: it could not be read.
 */
static int
deliver_fd(struct queue *q, const struct envelope *e, const char *qid)
{
	int	 fd;

	if ((fd = queue_message_fd(q, e->msgid)) == -1) {
		log_warn("%s: reading the message", qid);
		qstore_tempfail(q->qs, e->id, walltime(),
		    "could not read the queued message");
		queue_flush_soon(q);
	}
	return fd;
}

/*
 * A received report (`action NAME reportd`): to reportd, which reads it
 * and answers like a local delivery.
 */
static void
queue_deliver_reportd(struct queue *q, const struct envelope *e,
    const char *qid)
{
	struct msg_report_receive	 m;
	int				 fd;

	if ((fd = deliver_fd(q, e, qid)) == -1)
		return;
	memset(&m, 0, sizeof(m));
	m.evpid = e->id;
	strlcpy(m.sender, e->sender, sizeof(m.sender));
	strlcpy(m.rcpt, e->rcpt, sizeof(m.rcpt));
	flight_add(q, e->id, PROC_REPORTD, fd_size(fd));
	proc_compose(q->proc, PROC_REPORTD, IMSG_REPORT_MESSAGE_RECEIVE, 0, fd,
	    &m, sizeof(m));
	log_debug("%s: to reportd, a report for <%s>", qid, e->rcpt);
}

static void
queue_deliver_local(struct queue *q, const struct envelope *e)
{
	struct msg_deliver	 d;
	const struct action	*a;
	char			 qid[QID_ENV_LEN + 1];
	char			 user[256], why[512];
	int			 fd;

	qid_env_str(e->id, qid, sizeof(qid));
	a = config_find_action(q->routing.conf, e->dest);
	if (a != NULL && a->type == ACTION_REPORTD) {
		queue_deliver_reportd(q, e, qid);
		return;
	}
	/*
	 * The parent takes a request the configuration does not allow for
	 * a lie and stops the daemon; an envelope queued under an older
	 * configuration (its action removed, made a relay, or its address
	 * taken out of a virtual table) is ours to bounce instead.
	 */
	if (routing_local_user(q->routing.conf, e->dest, e->rcpt, user,
	    sizeof(user), why, sizeof(why)) == -1) {
		queue_unroutable(q, e, why);
		return;
	}
	if ((fd = deliver_fd(q, e, qid)) == -1)
		return;
	memset(&d, 0, sizeof(d));
	d.evpid = e->id;
	strlcpy(d.sender, e->sender, sizeof(d.sender));
	strlcpy(d.rcpt, e->rcpt, sizeof(d.rcpt));
	strlcpy(d.action, e->dest, sizeof(d.action));
	strlcpy(d.folder, e->folder, sizeof(d.folder));
	/*
	 * A first attempt cannot have completed before: skip the check.  An
	 * attempt interrupted by a crash counts as one (qstore recovery).
	 */
	d.check_existing = e->attempts > 0;
	flight_add(q, e->id, PROC_PARENT, fd_size(fd));
	proc_compose(q->proc, PROC_PARENT, IMSG_DELIVER_ENVELOPE_START, 0, fd,
	    &d, sizeof(d));
	log_debug("%s: to the parent for local delivery to <%s>", qid,
	    e->rcpt);
}

/* Order for grouping: kind, message, action. */
static int
envelope_cmp_task(const void *a, const void *b)
{
	const struct envelope	*x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->msgid != y->msgid)
		return x->msgid < y->msgid ? -1 : 1;
	return strcmp(x->dest, y->dest);
}

/*
 * Hand the envelopes of one message for one relay action to the mta: the
 * message as a memory fd, then each envelope.  The mta groups recipients
 * by destination and answers once per envelope.
 */
static void
queue_deliver_remote(struct queue *q, const struct envelope *e, size_t n)
{
	struct msg_mta_task	 t;
	struct stat		 st;
	char			 qid[QID_MSG_LEN + 1];
	size_t			 i;
	int			 fd;

	qid_msg_str(e->msgid, qid, sizeof(qid));
	if ((fd = queue_message_fd(q, e->msgid)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("%s: reading the message", qid);
		if (fd != -1)
			close(fd);
		for (i = 0; i < n; i++)
			qstore_tempfail(q->qs, e[i].id, walltime(),
			    "could not read the queued message");
		queue_flush_soon(q);
		return;
	}
	memset(&t, 0, sizeof(t));
	t.msgid = e->msgid;
	t.size = st.st_size;
	t.nenv = n;
	proc_compose(q->proc, PROC_MTA, IMSG_MTA_TASK_START, 0, fd, &t,
	    sizeof(t));
	for (i = 0; i < n; i++) {
		proc_compose(q->proc, PROC_MTA, IMSG_MTA_ENVELOPE_ADD, 0, -1,
		    &e[i], sizeof(e[i]));
		flight_add(q, e[i].id, PROC_MTA, ((uint64_t)st.st_size + n - 1) /
		    n);
	}
	log_debug("%s: %zu recipient(s) to the mta (%s)", qid, n, e->dest);
}

static void
queue_sched_cb(int fd, short event, void *arg)
{
	struct queue	*q = arg;
	struct envelope	*e;
	time_t		 now = walltime(), wait;
	size_t		 room;
	int		 n, i, j;

	if (q->paused)
		return;
	/*
	 * Results first: an envelope that waits to be dropped with its DSN
	 * (queue_dsn_round()) must be gone before the schedule is read.
	 */
	if (qstore_flush_pending(q->qs) == -1) {
		log_warnx("queue: group commit failed");
		queue_flush_retry(q);
	}
	if (queue_room(q)) {
		/*
		 * A run takes at most QUEUE_TAKE_MAX (4 KB an envelope): the
		 * next run follows a result by QUEUE_KICK_MS, or comes in a
		 * second.
		 */
		room = QUEUE_MAX_INFLIGHT - q->inflight;
		if (room > QUEUE_TAKE_MAX)
			room = QUEUE_TAKE_MAX;
		e = xcalloc(room, sizeof(*e));
		n = qstore_take_due(q->qs, now, e, room);
		/*
		 * Nothing was taken (the transaction rolled back): retry on
		 * the next run.  n must not reach qsort() as -1, which made
		 * a full spool crash the queue.
		 */
		if (n == -1) {
			log_warnx("queue: reading the schedule failed");
			n = 0;
		}
		if (n > 0)	/* TEST ONLY: in flight, handed to nobody */
			proc_test_crash("inflight");
		/* Envelopes of one message and action travel together. */
		qsort(e, n, sizeof(*e), envelope_cmp_task);
		for (i = 0; i < n; i = j) {
			if (e[i].flags & ENV_F_LIST) {
				queue_list_start(q, &e[i]);
				j = i + 1;
				continue;
			}
			if (e[i].kind == ENV_LOCAL) {
				queue_deliver_local(q, &e[i]);
				j = i + 1;
				continue;
			}
			for (j = i + 1; j < n && envelope_cmp_task(&e[i],
			    &e[j]) == 0; j++)
				;
			queue_deliver_remote(q, &e[i], j - i);
		}
		free(e);
	}
	/* A panicked LMDB environment is unusable: fail-stop, restart. */
	if (qstore_broken(q->qs))
		fatalx("queue store: %s: stopping, the daemon with it; the "
		    "store is reopened when it is started again",
		    qstore_error(q->qs));
	if ((wait = qstore_next_due(q->qs, now)) >= 0 && queue_room(q))
		queue_schedule_soon(q, wait == 0 ? 1 : wait);
}

static void
queue_timer_set(struct queue *q, const struct timeval *tv)
{
	q->sched_at_ms = monotime_ms() + (int64_t)tv->tv_sec * 1000 +
	    tv->tv_usec / 1000;
	evtimer_del(&q->ev_sched);
	evtimer_add(&q->ev_sched, tv);
}

/*
 * New work for the scheduler.  Each scheduler run marks what it takes in
 * flight in its own synced transaction, so under load it runs at most
 * every QUEUE_KICK_MS and takes a batch, rather than once per message.
 */
void
queue_kick(struct queue *q)
{
	struct timeval	 soon = { 0, QUEUE_KICK_MS * 1000 };

	/*
	 * Compared on the monotonic clock, as libevent runs its timers: the
	 * wall time evtimer_pending() reports lags a clock set forward by
	 * seconds, and a kick then took a run an hour away for "sooner".
	 */
	if (evtimer_pending(&q->ev_sched, NULL) &&
	    q->sched_at_ms <= monotime_ms() + QUEUE_KICK_MS)
		return;		/* already due sooner */
	queue_timer_set(q, &soon);
}

/*
 * The schedule is in wall-clock time but the timer runs on the monotonic
 * clock: a wall clock set forward makes envelopes due that the timer
 * would reach only after the interval it was set for (up to retry-max).
 * Looking again every QUEUE_SCHED_RECHECK seconds bounds that; an idle
 * look is one read-only transaction.
 */
#define QUEUE_SCHED_RECHECK	60

void
queue_schedule_soon(struct queue *q, time_t seconds)
{
	struct timeval	 tv = { seconds < QUEUE_SCHED_RECHECK ? seconds :
			    QUEUE_SCHED_RECHECK, 0 };

	queue_timer_set(q, &tv);
}

/* --- delivery status notifications (RFC 3464) --- */

struct dsn_reader {
	struct queue	*q;
	uint64_t	 msgid;
	uint32_t	 chunk;
	uint8_t		*buf;
	size_t		 len;
	size_t		 off;
};

/* The original message, chunk by chunk, for dsn_build(). */
static int
queue_dsn_read(void *arg, uint8_t *out, size_t max, size_t *got)
{
	struct dsn_reader	*r = arg;
	size_t			 n;
	int			 rv;

	if (r->off == r->len) {
		rv = qstore_message_read(r->q->qs, r->msgid, r->chunk, r->buf,
		    QSTORE_CHUNK_SIZE, &r->len);
		if (rv == -1)
			return -1;
		if (rv == 1) {
			*got = 0;
			return 0;
		}
		r->chunk++;
		r->off = 0;
	}
	n = r->len - r->off < max ? r->len - r->off : max;
	memcpy(out, r->buf + r->off, n);
	r->off += n;
	*got = n;
	return 0;
}

static void
queue_dsn_committed(uint64_t id, int ok, void *arg)
{
	struct queue	*q = arg;
	char		 qid[QID_MSG_LEN + 1];

	qid_msg_str(id, qid, sizeof(qid));
	if (ok) {
		log_info("%s: delivery status notification queued", qid);
		queue_schedule_soon(q, 0);
	} else
		log_warnx("%s: delivery status notification lost: commit "
		    "failed", qid);
}

/*
 * Queue a DSN to the original sender: from the null reverse path, so that
 * it can never bounce in turn (RFC 5321 4.5.5), routed by the same rules
 * as mail submitted locally.
 */
static void
queue_inject_dsn(struct queue *q, const struct envelope *orig,
    const struct buf *msg, int flags)
{
	struct sockaddr_in	 local;
	struct qs_msg		*m;
	struct envelope		 e;
	const char		*action = NULL, *at, *to = orig->sender;
	char			 postmaster[ENV_ADDR_MAX + 1];
	char			 unsrs[ENV_ADDR_MAX + 1];
	char			 qid[QID_ENV_LEN + 1];
	int			 remote = 0;

	/* A report's failure is ours to hear of, not the world's. */
	if (orig->flags & ENV_F_REPORT) {
		snprintf(postmaster, sizeof(postmaster), "postmaster@%s",
		    q->proc->global.hostname);
		to = postmaster;
	}
	/* mail we forwarded with SRS: to its original sender (lib/srs.h) */
	if (q->routing.srs.nkeys > 0 && srs_reverse(&q->routing.srs, to,
	    walltime(), unsrs, sizeof(unsrs)) == SRS_OK)
		to = unsrs;
	qid_env_str(orig->id, qid, sizeof(qid));
	if (queue_list_own_bounce(q, to, qid))
		return;
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at = strrchr(to, '@');
	if (routing_decide(&q->routing, (struct sockaddr *)&local,
	    to, at != NULL ? (size_t)(at - to) : 0, "",
	    &remote, &action) != RCPT_ACCEPT) {
		log_warnx("no route for a delivery status notification to "
		    "<%s>; not sent", to);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.kind = remote ? ENV_REMOTE : ENV_LOCAL;
	strlcpy(e.dest, action, sizeof(e.dest));
	strlcpy(e.rcpt, to, sizeof(e.rcpt));
	if (flags & DSN_OUT_SMTPUTF8)
		e.flags |= ENV_F_SMTPUTF8;
	if (flags & DSN_OUT_8BITMIME)
		e.flags |= ENV_F_8BITMIME;
	/*
	 * RFC 8689 5: the report on a REQUIRETLS message carries its
	 * header (dsn.c returns no more), which must not travel where the
	 * original could not: the report goes with REQUIRETLS too, or not
	 * at all (a report that cannot is dropped: null reverse path).
	 */
	if (orig->flags & ENV_F_REQUIRETLS)
		e.flags |= ENV_F_REQUIRETLS;
	e.notify = ENV_NOTIFY_NEVER;
	m = qstore_message_begin(q->qs, msg->len + 1);
	if (qstore_message_append(m, msg->data, msg->len) == -1 ||
	    qstore_message_add_envelope(m, &e) == 0) {
		qstore_message_abort(m);
		log_warnx("could not queue a delivery status notification to "
		    "<%s>", to);
		return;
	}
	qstore_commit_request(m, queue_dsn_committed, q);
	queue_flush_soon(q);
}

/*
 * What a delivery agent said about one envelope: the RFC 3463 status, the
 * remote MTA and its reply (RFC 3464 2.3.5, 2.3.6) when there was one,
 * and our own account for the log and the queue's last error.
 */
struct outcome {
	const char	*status;
	const char	*remote_mta;
	const char	*diag_type;	/* "smtp", or "X-Postern" for ours */
	const char	*diagnostic;
	const char	*error;
};

/*
 * One DSN per message and kind for each round of deliveries.
 *
 * A DSN is not sent as each recipient's outcome arrives: a message with
 * 100 recipients that all fail would send 100 reports to its sender, each
 * with up to DSN_ORIGINAL_MAX of content: a reflection amplifier for
 * whoever forges that sender.  The outcomes of a message wait here until
 * none of its envelopes is out at a delivery agent any more (the end of
 * its round), and then one DSN per kind lists every recipient (RFC 3464
 * 2: one per-recipient block each).  Envelopes that expire do so at the
 * same time for the whole message (their expiry is set at commit), so a
 * failure DSN also takes in the message's queued envelopes that have
 * expired meanwhile (queue_dsn_sweep()): at expiry a message sends one
 * bounce, whatever retry schedule its recipients drifted onto.
 *
 * Recipients that become final in a later round (a destination that
 * refuses after days of temporary failures) get a DSN of their own then:
 * a mark that suppressed every later DSN of the kind would silently drop
 * failures the sender asked to hear of (RFC 3461 4.1 NOTIFY=FAILURE), and
 * holding the first bounce until the last recipient is done would delay
 * it by up to the expiry.  Rounds, not recipients, bound the count.
 *
 * Durability: a failed envelope that waits for its DSN stays in the store
 * (in flight) and is dropped in the same group commit that queues the
 * DSN, so a crash in between retries it and bounces again rather than
 * losing the bounce.  A delivered envelope is dropped at once (a retry
 * would deliver twice); a crash before its round ends loses only the
 * success notice.
 */
static void
queue_dsn_wait(struct queue *q, const struct envelope *e, enum dsn_kind kind,
    const struct outcome *o, int drop)
{
	struct dsn_wait			*w;
	struct msg_queue_report_bounce	 b;

	/* reportd suppresses a destination that fails (queue/report_in.c) */
	if ((e->flags & ENV_F_REPORT) && kind == DSN_KIND_FAILURE) {
		memset(&b, 0, sizeof(b));
		strlcpy(b.rcpt, e->rcpt, sizeof(b.rcpt));
		strlcpy(b.status, o->status, sizeof(b.status));
		if (o->diagnostic != NULL)
			strlcpy(b.diagnostic, o->diagnostic,
			    sizeof(b.diagnostic));
		proc_compose(q->proc, PROC_REPORTD, IMSG_QUEUE_REPORT_BOUNCE,
		    0, -1, &b, sizeof(b));
	}
	w = xcalloc(1, sizeof(*w));
	w->kind = kind;
	w->drop = drop;
	w->e = *e;
	strlcpy(w->status, o->status, sizeof(w->status));
	if (o->remote_mta != NULL)
		strlcpy(w->remote_mta, o->remote_mta, sizeof(w->remote_mta));
	if (o->diagnostic != NULL && o->diagnostic[0] != '\0') {
		strlcpy(w->diagnostic, o->diagnostic, sizeof(w->diagnostic));
		strlcpy(w->diag_type, o->diag_type, sizeof(w->diag_type));
	}
	TAILQ_INSERT_TAIL(&q->dsn_waiting, w, entry);
}

/* At most this many recipients in one DSN (dsn_build() takes 10,000). */
#define QUEUE_DSN_RCPTS_MAX	1000
/* Room for one recipient's blocks, human and machine parts both. */
#define QUEUE_DSN_RCPT_SPACE	8192

/* One DSN of one kind about the waiting recipients in w[0..n). */
static void
queue_dsn_send(struct queue *q, struct dsn_wait **w, size_t n)
{
	struct dsn_info		 info;
	struct dsn_rcpt		*rcpts;
	struct dsn_reader	 rd;
	struct buf		 out;
	char			 qid[QID_MSG_LEN + 1];
	size_t			 i;
	int			 flags;

	qid_msg_str(w[0]->e.msgid, qid, sizeof(qid));
	/* One message: one sender, ENVID, RET and SMTPUTF8 for all. */
	dsn_info_from_envelope(&info, &w[0]->e, w[0]->kind,
	    q->proc->global.hostname);
	info.queue_id = qid;
	info.now = walltime();
	rcpts = xcalloc(n, sizeof(*rcpts));
	for (i = 0; i < n; i++) {
		dsn_rcpt_from_envelope(&rcpts[i], &w[i]->e,
		    w[i]->kind == DSN_KIND_SUCCESS ? DSN_ACTION_DELIVERED :
		    DSN_ACTION_FAILED, w[i]->status);
		if (w[i]->remote_mta[0] != '\0')
			rcpts[i].remote_mta = w[i]->remote_mta;
		if (w[i]->diagnostic[0] != '\0') {
			rcpts[i].diagnostic = w[i]->diagnostic;
			rcpts[i].diag_type = w[i]->diag_type;
		}
	}
	memset(&rd, 0, sizeof(rd));
	rd.q = q;
	rd.msgid = w[0]->e.msgid;
	rd.buf = xmalloc(QSTORE_CHUNK_SIZE);
	buf_init(&out, DSN_ORIGINAL_MAX + 2 * DSN_HEADERS_MAX +
	    n * QUEUE_DSN_RCPT_SPACE);
	flags = dsn_build(&out, &info, rcpts, n, queue_dsn_read, &rd);
	if (flags >= 0) {
		log_info("%s: %s notification for %zu recipient(s) to <%s>%s",
		    qid, w[0]->kind == DSN_KIND_SUCCESS ? "success" :
		    "failure", n, (w[0]->e.flags & ENV_F_REPORT) ?
		    "postmaster" : w[0]->e.sender,
		    (w[0]->e.flags & ENV_F_REPORT) ? " (a report's)" : "");
		queue_inject_dsn(q, &w[0]->e, &out, flags);
	} else
		log_warnx("%s: no delivery status notification: error %d",
		    qid, flags);
	buf_free(&out);
	free(rd.buf);
	free(rcpts);
}

struct dsn_sweep {
	time_t		 now;
	struct envelope	*e;
	size_t		 n;
	size_t		 cap;
};

static int
queue_dsn_sweep_one(const struct envelope *e, void *arg)
{
	struct dsn_sweep	*sw = arg;

	if (e->state == ENV_QUEUED && sw->now >= e->expire) {
		if (sw->n == sw->cap) {
			sw->cap = sw->cap ? sw->cap * 2 : 16;
			sw->e = xreallocarray(sw->e, sw->cap, sizeof(*sw->e));
		}
		sw->e[sw->n++] = *e;
	}
	return 0;
}

/*
 * The status of an expiry: RFC 3463 3.5 X.4.7 (delivery time expired),
 * unless the last attempt said more.  A mailbox that stayed full until
 * the end bounces as 5.2.2 (RFC 3463 3.3, mailbox full): the permanent
 * form of what it was retried with, which tells the sender the recipient
 * exists and what to do.  `last` is that attempt's status, or the
 * envelope's last error, which starts with it for local delivery.
 */
static const char *
expiry_status(const char *last)
{
	if (last != NULL && strncmp(last, "4.2.2", 5) == 0 &&
	    (last[5] == '\0' || last[5] == ' '))
		return "5.2.2";
	return "4.4.7";
}

/* A failure DSN goes: the message's queued, expired envelopes join it. */
static void
queue_dsn_sweep(struct queue *q, uint64_t msgid)
{
	struct dsn_sweep	 sw;
	struct outcome		 o;
	char			 qid[QID_ENV_LEN + 1];
	size_t			 i;

	memset(&sw, 0, sizeof(sw));
	sw.now = walltime();
	if (qstore_message_envelopes(q->qs, msgid, queue_dsn_sweep_one,
	    &sw) == -1)
		log_warnx("queue: reading a message's envelopes failed");
	for (i = 0; i < sw.n; i++) {
		qid_env_str(sw.e[i].id, qid, sizeof(qid));
		log_warnx("%s: expired with its message: %s", qid,
		    sw.e[i].errmsg);
		o.status = expiry_status(sw.e[i].errmsg);
		o.remote_mta = NULL;
		o.diag_type = "X-Postern";
		o.diagnostic = sw.e[i].errmsg;
		o.error = sw.e[i].errmsg;
		if (dsn_wanted(&sw.e[i], DSN_KIND_FAILURE))
			queue_dsn_wait(q, &sw.e[i], DSN_KIND_FAILURE, &o, 1);
		else
			qstore_permfail(q->qs, sw.e[i].id);
	}
	free(sw.e);
}

/* The message's round is over: its DSNs go, one per kind. */
static void
queue_dsn_round(struct queue *q, uint64_t msgid)
{
	const enum dsn_kind	 kinds[] = {
		DSN_KIND_FAILURE, DSN_KIND_SUCCESS
	};
	struct dsn_wait		*w, *tw, **batch;
	size_t			 i, n, nbatch;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = 0;
		TAILQ_FOREACH(w, &q->dsn_waiting, entry)
			if (w->e.msgid == msgid && w->kind == (int)kinds[i])
				n++;
		if (n == 0)
			continue;
		if (kinds[i] == DSN_KIND_FAILURE) {
			queue_dsn_sweep(q, msgid);
			n = 0;
			TAILQ_FOREACH(w, &q->dsn_waiting, entry)
				if (w->e.msgid == msgid &&
				    w->kind == (int)kinds[i])
					n++;
		}
		batch = xcalloc(n, sizeof(*batch));
		nbatch = 0;
		TAILQ_FOREACH(w, &q->dsn_waiting, entry)
			if (w->e.msgid == msgid && w->kind == (int)kinds[i])
				batch[nbatch++] = w;
		for (n = 0; n < nbatch; n += QUEUE_DSN_RCPTS_MAX)
			queue_dsn_send(q, batch + n, nbatch - n >
			    QUEUE_DSN_RCPTS_MAX ? QUEUE_DSN_RCPTS_MAX :
			    nbatch - n);
		free(batch);
	}
	/* Queued above; the failed envelopes go in the same commit. */
	TAILQ_FOREACH_SAFE(w, &q->dsn_waiting, entry, tw) {
		if (w->e.msgid != msgid)
			continue;
		if (w->drop)
			qstore_permfail(q->qs, w->e.id);
		TAILQ_REMOVE(&q->dsn_waiting, w, entry);
		free(w);
	}
}

/* A permanent failure or an expiry: drop, with a DSN when one is due. */
static void
queue_bounce(struct queue *q, uint64_t evpid, const struct outcome *o)
{
	struct envelope		 e;

	if (qstore_envelope_get(q->qs, evpid, &e) == 0 &&
	    dsn_wanted(&e, DSN_KIND_FAILURE))
		queue_dsn_wait(q, &e, DSN_KIND_FAILURE, o, 1);
	else
		qstore_permfail(q->qs, evpid);
}

/* An expiry (expiry_status()); last is the last attempt's status. */
void
queue_expire(struct queue *q, uint64_t evpid, const char *error,
    const char *last)
{
	struct outcome	 o = { expiry_status(last), NULL, "X-Postern", error,
	    error };

	queue_bounce(q, evpid, &o);
}

/*
 * An envelope that the configuration no longer routes the way it was
 * queued: a permanent failure (RFC 3463 5.3.5, system incorrectly
 * configured), bounced like any other, naming what changed.
 */
void
queue_unroutable(struct queue *q, const struct envelope *e, const char *why)
{
	char		 qid[QID_ENV_LEN + 1], error[600];
	struct outcome	 o = { "5.3.5", NULL, "X-Postern", error, error };

	qid_env_str(e->id, qid, sizeof(qid));
	snprintf(error, sizeof(error), "not deliverable under the current "
	    "configuration: %s", why);
	log_warnx("%s: permanent failure: %s", qid, error);
	queue_bounce(q, e->id, &o);
	if (!flight_message_out(q, e->msgid))
		queue_dsn_round(q, e->msgid);
	queue_flush_soon(q);
}

/*
 * The outcome of one envelope from the parent (local) or the mta
 * (remote).  It must answer a delivery handed to that very process and
 * not yet answered (flight_end()); anything else is a protocol violation.
 * The envelope itself may be gone (posternctl remove while it was out).
 */
/*
 * The fields of a delivery attempt's log line, in the shape admins grep
 * Postfix's logs for: to, from, relay, delay (since the message came),
 * the attempt's number and its enhanced status.  e is NULL when the
 * envelope is gone (removed while out for delivery).
 */
static void
result_fields(const struct envelope *e, enum proc_id from,
    const struct outcome *o, char *buf, size_t len)
{
	const char	*relay;
	int64_t		 delay;

	relay = o->remote_mta != NULL && o->remote_mta[0] != '\0' ?
	    o->remote_mta : from == PROC_PARENT ? "local" : "none";
	if (e == NULL) {
		snprintf(buf, len, "relay=%s, dsn=%s", relay, o->status);
		return;
	}
	delay = walltime() - e->ctime;
	snprintf(buf, len, "to=<%s>, from=<%s>, relay=%s, delay=%llds, "
	    "attempts=%u, dsn=%s", e->rcpt, e->sender, relay,
	    (long long)(delay > 0 ? delay : 0), e->attempts + 1, o->status);
}

static void
queue_result(struct queue *q, struct imsg *imsg, enum proc_id from,
    uint64_t evpid, int status, const struct outcome *o)
{
	struct envelope		 e;
	char			 qid[QID_ENV_LEN + 1], fields[2600];
	const char		*reply;
	int			 have;

	qid_env_str(evpid, qid, sizeof(qid));
	if (flight_end(q, evpid, from) == -1) {
		log_warnx("queue: a result for %s from %s, which does not "
		    "hold it", qid, proc_name(from));
		proc_bad_message(q->proc, from, imsg);
	}
	have = qstore_envelope_get(q->qs, evpid, &e) == 0;
	result_fields(have ? &e : NULL, from, o, fields, sizeof(fields));
	switch (status) {
	case DELIVER_OK:
		/* the mta's account: the reply and the TLS that carried it */
		reply = o->error != NULL && o->error[0] != '\0' ? o->error :
		    o->diagnostic != NULL ? o->diagnostic : "";
		log_info("%s: %s, status=sent: delivered%s%s%s%s%s", qid,
		    fields, o->remote_mta != NULL && o->remote_mta[0] != '\0' ?
		    " to " : "", o->remote_mta != NULL ? o->remote_mta : "",
		    reply[0] != '\0' ? " (" : "", reply,
		    reply[0] != '\0' ? ")" : "");
		if (have && dsn_wanted(&e, DSN_KIND_SUCCESS))
			queue_dsn_wait(q, &e, DSN_KIND_SUCCESS, o, 0);
		qstore_delivered(q->qs, evpid);
		break;
	case DELIVER_TEMPFAIL:
		log_info("%s: %s, status=deferred: temporary failure: %s", qid,
		    fields, o->error);
		if (qstore_tempfail(q->qs, evpid, walltime(), o->error) ==
		    QSTORE_EXPIRED) {
			log_warnx("%s: expired: %s", qid, o->error);
			queue_expire(q, evpid, o->error, o->status);
		}
		break;
	case DELIVER_PERMFAIL:
		log_warnx("%s: %s, status=bounced: permanent failure: %s", qid,
		    fields, o->error);
		queue_bounce(q, evpid, o);
		break;
	}
	/* TEST ONLY: delivered, and the store does not know yet */
	proc_test_crash("result");
	if (!flight_message_out(q, EVPID_MSGID(evpid)))
		queue_dsn_round(q, EVPID_MSGID(evpid));
	queue_flush_soon(q);
	queue_kick(q);
}

/* RFC 3463 2: class.subject.detail, the class matching the outcome. */
static int
valid_status(const char *s, int status)
{
	const char	*want = status == DELIVER_OK ? "2" :
	    status == DELIVER_TEMPFAIL ? "4" : "5";
	size_t		 i, dots = 0;

	if (s[0] != want[0] || s[1] != '.')
		return 0;
	for (i = 2; s[i] != '\0'; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return dots == 1 && s[i - 1] != '.';
}

/* A local delivery's result, from the parent or (a report) reportd. */
static void
local_result(struct queue *q, struct imsg *imsg, enum proc_id from)
{
	struct msg_deliver_result	 r;
	struct outcome			 o;

	if (msg_get_deliver_result(imsg, &r) == -1)
		proc_bad_message(q->proc, from, imsg);
	/* the maildir's own status (4.2.2, mailbox full) when it gave one */
	if (!valid_status(r.dsn_status, r.status))
		strlcpy(r.dsn_status, r.status == DELIVER_OK ? "2.0.0" :
		    r.status == DELIVER_TEMPFAIL ? "4.0.0" : "5.0.0",
		    sizeof(r.dsn_status));
	o.status = r.dsn_status;
	o.remote_mta = NULL;
	/* RFC 3464 2.3.6: an LMTP server's reply is an "smtp" diagnostic */
	o.diag_type = r.smtp_diag ? "smtp" : "X-Postern";
	o.diagnostic = r.status == DELIVER_OK ? NULL : r.error;
	o.error = r.error;
	queue_result(q, imsg, from, r.evpid, r.status, &o);
}

void
queue_delivery_result(struct queue *q, struct imsg *imsg)
{
	local_result(q, imsg, PROC_PARENT);
}

void
queue_report_result(struct queue *q, struct imsg *imsg)
{
	local_result(q, imsg, PROC_REPORTD);
}

void
queue_mta_result(struct queue *q, struct imsg *imsg)
{
	struct msg_mta_result	 r;
	struct outcome		 o;

	if (msg_get_mta_result(imsg, &r) == -1)
		proc_bad_message(q->proc, PROC_MTA, imsg);
	if (!valid_status(r.dsn_status, r.status))
		strlcpy(r.dsn_status, r.status == DELIVER_OK ? "2.0.0" :
		    r.status == DELIVER_TEMPFAIL ? "4.0.0" : "5.0.0",
		    sizeof(r.dsn_status));
	o.status = r.dsn_status;
	o.remote_mta = r.remote_mta;
	/* RFC 3464 2.3.6: the remote reply is an "smtp" diagnostic */
	o.diag_type = r.diagnostic[0] != '\0' ? "smtp" : "X-Postern";
	o.diagnostic = r.diagnostic[0] != '\0' ? r.diagnostic : r.error;
	o.error = r.error;
	queue_result(q, imsg, PROC_MTA, r.evpid, r.status, &o);
}

/* At start: the first run looks at everything the store holds. */
void
queue_sched_start(struct queue *q)
{
	TAILQ_INIT(&q->dsn_waiting);
	evtimer_set(&q->ev_sched, queue_sched_cb, q);
	queue_schedule_soon(q, 0);
}

/*
 * Reports from reportd into the queue: mail this host makes, handed over
 * one message at a time (IMSG_QUEUE_REPORT_*, lib/msg.h).
 *
 * smtp proposes and the queue decides (queue/admit.c); reportd's mail
 * takes no decision from the match rules at all (the rule: reports
 * leave "through the routes and transports like any mail, never through
 * the match rules").  Every recipient becomes a remote envelope marked
 * ENV_F_REPORT: the mta applies the routes to it, and without a route
 * sends it to the recipient's MX (mta_report_relay()).  The recipients
 * must be syntactically valid addresses; that reportd may mail any
 * address is its job (RFC 9990 3.5), bounded by what reportd checks
 * (the rua URIs and their authorization, RFC 9990 4).
 *
 * Once only: a report carries a key, stored with the message in the same
 * transaction (qstore_message_set_key()).  A report whose key the store
 * already holds is answered DUPLICATE and dropped, so that reportd can
 * offer again, after a crash, a report it does not know was queued.
 *
 * The keys are kept REPORT_KEY_KEEP (60 days: longer than any report
 * period, reportd's catch-up after a stop and its retry window put
 * together) and then forgotten, at start and then once a day
 * (qstore_keys_prune()): reportd never offers a report that old again.
 *
 * A report that fails for good never bounces to the world: its DSN goes
 * to the postmaster of this host (queue_inject_dsn()), and reportd hears
 * of it (IMSG_QUEUE_REPORT_BOUNCE) to suppress the destination.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "posternd/proc.h"
#include "queue/queue.h"
#include "queue/store.h"
#include "smtp_addr.h"
#include "util.h"

#define REPORT_KEY_KEEP		(60 * 86400)
#define REPORT_KEY_PRUNE_EVERY	86400

/* At start, and then at most once a day when reports come. */
void
queue_report_keys_prune(struct queue *q)
{
	long	 n;

	q->report_keys_pruned = monotime();
	if ((n = qstore_keys_prune(q->qs, walltime(), REPORT_KEY_KEEP)) == -1)
		log_warnx("queue: the report keys cannot be pruned");
	else if (n > 0)
		log_info("queue: pruned %ld report keys older than %d days", n,
		    REPORT_KEY_KEEP / 86400);
}

static void
report_reply(struct queue *q, uint32_t peer, int status, uint64_t msgid)
{
	struct msg_queue_report_result	 r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.msgid = msgid;
	proc_compose(q->proc, PROC_REPORTD, IMSG_QUEUE_REPORT_RESULT, peer, -1,
	    &r, sizeof(r));
}

static void
report_committed(uint64_t id, int ok, void *arg)
{
	struct queue	*q = arg;
	char		 qid[QID_MSG_LEN + 1];

	qid_msg_str(id, qid, sizeof(qid));
	if (ok) {
		log_info("%s: report %s queued", qid, q->report_key);
		/* TEST ONLY: durable, and reportd not told (posternd(8)) */
		proc_test_crash("report-queued");
	} else
		log_warnx("%s: report %s not queued: commit failed", qid,
		    q->report_key);
	report_reply(q, q->report_peer, ok ? MSG_REPORT_QUEUED :
	    MSG_REPORT_FAILED, ok ? id : 0);
	q->report_committing = 0;
	if (ok)
		queue_kick(q);
}

void
queue_report_imsg(struct queue *q, struct imsg *imsg)
{
	struct msg_queue_report		 b;
	struct msg_queue_report_rcpt	 rc;
	struct envelope			 e;
	const void			*data;
	size_t				 len;
	int				 dup;

	if (imsg->fd != -1)
		proc_unexpected(q->proc, PROC_REPORTD, imsg);
	if (imsg->hdr.type == IMSG_QUEUE_REPORT_BEGIN) {
		/* one at a time: reportd waits for each RESULT */
		if (q->report_open || q->report_committing ||
		    msg_get_queue_report(imsg, &b) == -1 ||
		    !smtp_addr_valid(b.sender, SMTP_ADDR_UTF8_OK))
			proc_bad_message(q->proc, PROC_REPORTD, imsg);
		if (monotime() - q->report_keys_pruned >=
		    REPORT_KEY_PRUNE_EVERY)
			queue_report_keys_prune(q);
		q->report = qstore_message_begin(q->qs, b.size);
		q->report_open = 1;
		q->report_peer = imsg->hdr.peerid;
		q->report_bad = q->space_low;
		q->report_nrcpt = 0;
		strlcpy(q->report_key, b.key, sizeof(q->report_key));
		if (q->report == NULL ||
		    qstore_message_set_key(q->report, b.key) == -1)
			q->report_bad = 1;
		strlcpy(q->report_sender, b.sender, sizeof(q->report_sender));
		q->report_flags = b.flags;
		return;
	}
	if (!q->report_open || imsg->hdr.peerid != q->report_peer)
		proc_unexpected(q->proc, PROC_REPORTD, imsg);

	switch (imsg->hdr.type) {
	case IMSG_QUEUE_REPORT_RCPT:
		if (msg_get_queue_report_rcpt(imsg, &rc) == -1 ||
		    !smtp_addr_valid(rc.rcpt, SMTP_ADDR_UTF8_OK) ||
		    ++q->report_nrcpt > MSG_REPORT_MAX_RCPTS)
			proc_bad_message(q->proc, PROC_REPORTD, imsg);
		memset(&e, 0, sizeof(e));
		e.kind = ENV_REMOTE;
		e.flags = ENV_F_REPORT;
		/* RFC 8689 5: as the header field it carries says */
		if (q->report_flags & MSG_REPORT_F_TLSREQ_NO)
			e.flags |= ENV_F_TLSREQ_NO;
		strlcpy(e.dest, "reports", sizeof(e.dest));
		strlcpy(e.sender, q->report_sender, sizeof(e.sender));
		strlcpy(e.rcpt, rc.rcpt, sizeof(e.rcpt));
		/* a failure is told to the postmaster, quietly (sched.c) */
		e.notify = ENV_NOTIFY_FAILURE;
		if (!q->report_bad &&
		    qstore_message_add_envelope(q->report, &e) == 0)
			q->report_bad = 1;
		break;
	case IMSG_QUEUE_REPORT_DATA:
		if (msg_get_bytes(imsg, &data, &len) == -1)
			proc_bad_message(q->proc, PROC_REPORTD, imsg);
		if (!q->report_bad &&
		    qstore_message_append(q->report, data, len) != 0)
			q->report_bad = 1;
		break;
	case IMSG_QUEUE_REPORT_COMMIT:
		if (msg_get_empty(imsg) == -1 || q->report_nrcpt == 0)
			proc_bad_message(q->proc, PROC_REPORTD, imsg);
		dup = q->report_bad ? 0 : qstore_key_exists(q->qs,
		    q->report_key);
		if (q->report_bad || dup != 0) {
			if (dup == 1)
				log_info("report %s: queued before; not again",
				    q->report_key);
			else
				log_warnx("report %s: not queued",
				    q->report_key);
			if (q->report != NULL)
				qstore_message_abort(q->report);
			q->report = NULL;
			q->report_open = 0;
			report_reply(q, q->report_peer, dup == 1 ?
			    MSG_REPORT_DUPLICATE : MSG_REPORT_FAILED, 0);
			break;
		}
		q->report_open = 0;
		q->report_committing = 1;
		if (qstore_commit_request(q->report, report_committed, q) ==
		    -1) {
			q->report_committing = 0;
			report_reply(q, q->report_peer, MSG_REPORT_FAILED, 0);
		}
		q->report = NULL;
		queue_flush_soon(q);
		break;
	default:
		proc_unexpected(q->proc, PROC_REPORTD, imsg);
	}
}

/*
 * The queue takes reportd's reports one at a time (queue/report_in.c:
 * BEGIN .. COMMIT, then RESULT).  Aggregate reports (reportd/send.c) come
 * one job at a time, but failure reports (reportd/failure.c) are made
 * while others are being queued: a report handed over while one waits
 * for its RESULT is held here, in order, and handed over when the RESULT
 * comes (reportd_queue_result()).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reportd/report_mail.h"
#include "reportd/reportd.h"
#include "util.h"

struct held_report {
	TAILQ_ENTRY(held_report) entry;
	uint32_t		 peer;
	uint32_t		 flags;		/* MSG_REPORT_F_* */
	char			 sender[REPORT_ADDR_MAX];
	char			 key[MSG_REPORT_KEY_MAX + 1];
	char			 rcpts[REPORT_MAX_RCPTS][REPORT_ADDR_MAX];
	size_t			 nrcpt;
	struct buf		 msg;
};

struct report_outq {
	TAILQ_HEAD(, held_report) held;
};

void
reportd_outq_hold(struct reportd *rd, uint32_t peer, uint32_t flags,
    const char *sender, const char *key, const char *const *rcpts,
    size_t nrcpt, const struct buf *msg)
{
	struct held_report	*h;
	size_t			 i;

	if (rd->outq == NULL) {
		rd->outq = xcalloc(1, sizeof(*rd->outq));
		TAILQ_INIT(&rd->outq->held);
	}
	h = xcalloc(1, sizeof(*h));
	h->peer = peer;
	h->flags = flags;
	strlcpy(h->sender, sender, sizeof(h->sender));
	strlcpy(h->key, key, sizeof(h->key));
	for (i = 0; i < nrcpt && i < REPORT_MAX_RCPTS; i++)
		strlcpy(h->rcpts[i], rcpts[i], sizeof(h->rcpts[i]));
	h->nrcpt = i;
	buf_init(&h->msg, msg->len);
	if (buf_add(&h->msg, msg->data, msg->len) == -1)
		fatalx("reportd: a held report does not fit its copy");
	TAILQ_INSERT_TAIL(&rd->outq->held, h, entry);
}

/* The RESULT of the report handed over came: the next one held, if any. */
void
reportd_outq_next(struct reportd *rd)
{
	struct held_report	*h;
	const char		*to[REPORT_MAX_RCPTS];
	size_t			 i;

	rd->queue_busy = 0;
	if (rd->outq == NULL || (h = TAILQ_FIRST(&rd->outq->held)) == NULL)
		return;
	TAILQ_REMOVE(&rd->outq->held, h, entry);
	for (i = 0; i < h->nrcpt; i++)
		to[i] = h->rcpts[i];
	reportd_queue_report_flags(rd, h->peer, h->flags, h->sender, h->key,
	    to, h->nrcpt, &h->msg);
	buf_free(&h->msg);
	free(h);
}

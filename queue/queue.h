/*
 * What the queue process's two halves share: queue/queue.c takes mail in
 * (smtp's messages, group commit, control requests); queue/sched.c sends
 * it out (due envelopes to the parent or the mta, their results, retries,
 * expiry and DSNs).
 */
#ifndef POSTERN_QUEUE_QUEUE_H
#define POSTERN_QUEUE_QUEUE_H

#include <sys/queue.h>

#include <event.h>
#include <stdint.h>
#include <time.h>

#include "imsg.h"
#include "posternd/proc.h"
#include "queue/store.h"
#include "routing.h"

#define QUEUE_MAPSIZE		(64UL * 1024 * 1024)
#define QUEUE_COMMIT_DELAY_US	2000	/* group commit window */
#define QUEUE_MAX_INFLIGHT	256	/* envelopes out at once */
#define QUEUE_MAX_INCOMING	4096	/* messages being received */
#define QUEUE_KICK_MS		50	/* scheduler batching window */

struct incoming {
	TAILQ_ENTRY(incoming)	 entry;
	uint32_t		 session;	/* smtp's peer id */
	struct qs_msg		*msg;
	uint64_t		 msgid;
	int			 too_big;
	int			 nospace;	/* over the memory budget */
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
	struct routing			 routing;	/* where DSNs go */
};

/* queue/queue.c */
void	queue_flush_soon(struct queue *);

/* queue/sched.c */
void	queue_sched_start(struct queue *);
void	queue_kick(struct queue *);
void	queue_schedule_soon(struct queue *, time_t);
void	queue_expire(struct queue *, uint64_t, const char *);
void	queue_delivery_result(struct queue *, struct imsg *);
void	queue_mta_result(struct queue *, struct imsg *);

#endif

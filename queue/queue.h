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

#include "envelope.h"
#include "imsg.h"
#include "posternd/proc.h"
#include "queue/store.h"
#include "routing.h"
#include "util.h"

#define QUEUE_MAPSIZE		(64UL * 1024 * 1024)
#define QUEUE_COMMIT_DELAY_US	2000	/* group commit window */
#define QUEUE_COMMIT_RETRY	1	/* seconds, after a failed commit */
#define QUEUE_SPACE_CHECK	5	/* seconds between free-space checks */
#define QUEUE_MINFREE_MAX	(100ULL * 1024 * 1024)	/* default: this, */
#define QUEUE_MINFREE_PERCENT	5	/* or this much of the spool if less */
/*
 * Envelopes out at once, and the bytes of their messages (each out as a
 * memory file).  The window is wide so that envelopes waiting on slow or
 * silent destinations, which hold theirs for minutes, leave most of it to
 * the others (issue 19, bench/relay_scale.py); the bytes bound what it
 * holds in memory files when the messages are large.
 */
#define QUEUE_MAX_INFLIGHT	MSG_MTA_INFLIGHT_MAX
#define QUEUE_INFLIGHT_BYTES	(256ULL * 1024 * 1024)
#define QUEUE_TAKE_MAX		512	/* envelopes taken per scheduler run */
#define QUEUE_MAX_INCOMING	4096	/* messages being received */
/*
 * Room in a stored message beyond max-message-size, which smtp counts on
 * the client's octets alone: our own trace fields, smtp's Received (one
 * DATA message) and authd's Authentication-Results (one PREPEND), each
 * within one imsg payload.
 */
#define QUEUE_TRACE_ROOM	(2 * IMSG_MAX_PAYLOAD)
#define QUEUE_KICK_MS		50	/* scheduler batching window */
#define QUEUE_SHUTDOWN_MS	1500	/* at SIGTERM, for smtp and the mta */

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

/* An envelope out at a delivery agent, and which one (queue/sched.c). */
struct flight {
	uint64_t		 evpid;
	enum proc_id		 to;	/* PROC_PARENT or PROC_MTA */
	uint64_t		 bytes;	/* its share of the message's file */
};

/*
 * A show queue being streamed (queue/queue.c): a batch at a time, the
 * next when control says its client took the last one.
 */
#define QUEUE_LIST_BATCH	128	/* envelopes per batch */
#define QUEUE_LIST_MAX		64	/* at once (control: 32 clients) */
struct ctl_list {
	TAILQ_ENTRY(ctl_list)	 entry;
	uint32_t		 peerid;	/* control's client */
	uint64_t		 from;		/* the next envelope id */
	int			 paused;	/* waiting for LIST_NEXT */
};

/* An operator action on many envelopes, under way (queue/queue.c). */
struct ctl_action {
	TAILQ_ENTRY(ctl_action)	 entry;
	uint32_t		 peerid;	/* control's client */
	struct qstore_action	 a;
};

/* A list's counters since start, for show metrics (queue/list.c). */
struct list_stat {
	TAILQ_ENTRY(list_stat)	 entry;
	char			 name[CONF_NAME_MAX];
	uint64_t		 copies;	/* copies committed */
	uint64_t		 recipients;	/* their member envelopes */
	uint64_t		 bounces;	/* to the bounce address */
};

/* A list copy whose header section authd is writing (queue/list.c). */
struct list_job {
	TAILQ_ENTRY(list_job)	 entry;
	struct envelope		 e;		/* the list envelope */
	struct buf		 hdr;		/* authd's new section */
};

/* A final outcome waiting for its message's DSN (queue/sched.c). */
struct dsn_wait {
	TAILQ_ENTRY(dsn_wait)	 entry;
	int			 kind;		/* enum dsn_kind */
	int			 drop;	/* permfail once it is queued */
	struct envelope		 e;
	char			 status[16];
	char			 remote_mta[256];
	char			 diag_type[16];
	char			 diagnostic[512];
};

struct queue {
	struct proc			*proc;
	struct qstore			*qs;
	struct event			 ev_flush;
	struct event			 ev_sched;
	int64_t				 sched_at_ms; /* monotonic */
	TAILQ_HEAD(, incoming)		 incoming;
	size_t				 nincoming;
	size_t				 inflight;	/* flights */
	uint64_t			 inflight_bytes;
	struct flight			 flights[QUEUE_MAX_INFLIGHT];
	TAILQ_HEAD(, dsn_wait)		 dsn_waiting;
	TAILQ_HEAD(, ctl_list)		 lists;		/* show queue */
	size_t				 nlists;
	TAILQ_HEAD(, ctl_action)	 actions;	/* hold all ... */
	size_t				 nactions;
	struct event			 ev_actions;
	int				 paused;	/* no new deliveries */
	struct event			 ev_space;
	int				 space_low;	/* refusing new mail */
	uint64_t			 space_avail;	/* bytes, last check */
	uint64_t			 space_need;	/* minfree in bytes */
	uint64_t			 space_refused;	/* messages */
	uint64_t			 space_checks;	/* statvfs done */
	struct routing			 routing;	/* admit, DSNs */
	/* the report reportd is handing over (queue/report_in.c) */
	struct qs_msg			*report;	/* NULL: not storable */
	int				 report_open;	/* BEGIN..COMMIT */
	uint32_t			 report_peer;
	int				 report_bad;	/* FAILED at COMMIT */
	int				 report_committing;
	size_t				 report_nrcpt;
	char				 report_key[QSTORE_KEY_MAX + 1];
	char				 report_sender[ENV_ADDR_MAX + 1];
	uint32_t			 report_flags;	/* MSG_REPORT_F_* */
	time_t				 report_keys_pruned; /* monotime */
	/* list copies being built at authd (queue/list.c) */
	TAILQ_HEAD(, list_job)		 list_jobs;
	TAILQ_HEAD(, list_stat)		 list_stats;	/* one per list */
};

/* queue/queue.c */
void	queue_flush_soon(struct queue *);
/* queue/sched.c: room to hand out more envelopes */
int	queue_room(const struct queue *);
void	queue_flush_retry(struct queue *);

/* queue/report_in.c */
void	queue_report_imsg(struct queue *, struct imsg *);
void	queue_report_keys_prune(struct queue *);

/* queue/sched.c */
void	queue_sched_start(struct queue *);
void	queue_kick(struct queue *);
void	queue_schedule_soon(struct queue *, time_t);
void	queue_expire(struct queue *, uint64_t, const char *, const char *);
void	queue_delivery_result(struct queue *, struct imsg *);
void	queue_report_result(struct queue *, struct imsg *);
void	queue_mta_result(struct queue *, struct imsg *);
int	queue_message_fd(struct queue *, uint64_t msgid);
void	queue_unroutable(struct queue *, const struct envelope *,
	    const char *why);
void	queue_flight_add(struct queue *, uint64_t evpid, enum proc_id,
	    int fd);
int	queue_flight_end(struct queue *, uint64_t evpid, enum proc_id);
/* queue/list.c */
void	queue_list_start(struct queue *, const struct envelope *);
int	queue_list_own_bounce(struct queue *, const char *to,
	    const char *qid);
void	queue_list_imsg(struct queue *, struct imsg *);
/* Each configured list's IMSG_CTL_STATS_ENTRYs, to the control peer. */
void	queue_list_stats(struct queue *, uint32_t peerid);

#endif

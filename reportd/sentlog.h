/*
 * The sent-report log: for each report destination's domain, how far its
 * reports go (the end of the last period closed), and the reports begun
 * but not known to be queued.  Its own small LMDB file in reportd's
 * chroot (sent.mdb), written by reportd alone.
 *
 * Exactly once (RFC 9990 3.5.4 asks that duplicates be avoidable): a
 * report is marked pending, with the period closed, in one synced commit
 * before it is offered to the queue, and marked done once the queue
 * answers.  The queue stores each report's key with the message in one
 * transaction and refuses a key it holds (queue/report_in.c).  So a kill
 * -9 at any point either left nothing (the period is closed again at
 * start), or left a pending report that is offered again at start: the
 * queue queues it if it had not, or answers DUPLICATE if it had.  Nothing
 * is lost and nothing is sent twice.  (The other design, a log written
 * after the queue's commit, cannot tell after a crash whether the queue
 * has the report; a log in the queue's store would make the queue own
 * reportd's bookkeeping.)
 */
#ifndef POSTERN_SENTLOG_H
#define POSTERN_SENTLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SENTLOG_KIND_MAX	16	/* "dmarc", "tls" */
#define SENTLOG_DOMAIN_MAX	255

struct sentlog;

struct sentlog_pending {
	char		 kind[SENTLOG_KIND_MAX];
	char		 domain[SENTLOG_DOMAIN_MAX + 1];
	time_t		 begin, end;
};

/* Open (creating) the log file path: NULL with err set on failure. */
struct sentlog	*sentlog_open(const char *path, char *err, size_t errlen);
void		 sentlog_close(struct sentlog *);

/* Where kind's reports of domain end: 0 when none was ever sent. */
int		 sentlog_until(struct sentlog *, const char *kind,
		    const char *domain, time_t *until);
/*
 * Before offering a report of [begin, end) to the queue: pending, and
 * the domain's reports closed up to end, in one synced commit.  0 or -1.
 */
int		 sentlog_begin(struct sentlog *, const char *kind,
		    const char *domain, time_t begin, time_t end);
/* The queue has it (or refused it as a duplicate): 0 or -1. */
int		 sentlog_done(struct sentlog *, const char *kind,
		    const char *domain, time_t begin);
/* Every pending report, oldest first; cb non-zero stops.  Count or -1. */
long		 sentlog_foreach_pending(struct sentlog *,
		    int (*cb)(void *, const struct sentlog_pending *), void *);

/*
 * Suppressed destinations: an address whose reports failed for good gets
 * none until a time (lower-cased; SENTLOG_ADDR_MAX at most).
 * sentlog_suppressed(): 1 with *until when suppressed at now, 0 if not,
 * -1.  sentlog_unsuppress(): 1 removed, 0 none there, -1.
 */
#define SENTLOG_ADDR_MAX	255
int		 sentlog_suppress(struct sentlog *, const char *addr,
		    time_t until);
int		 sentlog_suppressed(struct sentlog *, const char *addr,
		    time_t now, time_t *until);
int		 sentlog_unsuppress(struct sentlog *, const char *addr);
long		 sentlog_foreach_suppressed(struct sentlog *,
		    int (*cb)(void *, const char *addr, time_t until), void *);

/*
 * The state of one destination of one report: a TLS-RPT https: URI, or
 * the report's mail (SENTLOG_DEST_MAIL) and the report as a whole
 * (SENTLOG_DEST_REPORT: when its next failing destination is due).  A
 * destination that took the report is never sent it again; one that
 * failed waits for next_try (reportd/tlsrpt_send.c's back-off).
 */
#define SENTLOG_URI_MAX		512
#define SENTLOG_DEST_MAIL	"mailto:"
#define SENTLOG_DEST_REPORT	""

enum sentlog_dest_state {
	SENTLOG_DEST_FAILING = 0,	/* to be tried again at next_try */
	SENTLOG_DEST_DONE,		/* took the report */
	SENTLOG_DEST_DROPPED		/* given up */
};

struct sentlog_dest {
	int		 state;		/* enum sentlog_dest_state */
	uint32_t	 attempts;	/* failures so far */
	uint32_t	 nohost;	/* "no such host" answers in a row */
	time_t		 next_try;
};

/* 1 with *d filled, 0 when none is recorded (*d zeroed), -1. */
int		 sentlog_dest_get(struct sentlog *, const char *kind,
		    const char *domain, time_t begin, const char *uri,
		    struct sentlog_dest *d);
int		 sentlog_dest_put(struct sentlog *, const char *kind,
		    const char *domain, time_t begin, const char *uri,
		    const struct sentlog_dest *d);

/*
 * Forget what is older than before: domains whose reports end before it,
 * reports still pending that ended before it, suppressions that ended
 * before it and destination states of reports that began before it.  The
 * number of entries removed, or -1.
 */
long		 sentlog_prune(struct sentlog *, time_t before);

#endif

/*
 * The evaluation store: every DMARC evaluation (auth/dmarc.h, struct
 * dmarc_eval_record) that reportd receives, kept in LMDB until the
 * aggregate reports (RFC 9990) are built from it.
 *
 * Records are written in batches (evalstore_put() buffers, a full batch or
 * evalstore_flush() commits), read back by policy domain (the RFC5322.From
 * domain) and time range, and pruned by age.
 */
#ifndef POSTERN_EVALSTORE_H
#define POSTERN_EVALSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>

#include "auth/dmarc.h"
#include "msg.h"
#include "util.h"

#define EVALSTORE_MAPSIZE_MIN	(1024 * 1024)
#define EVALSTORE_MAPSIZE_MAX	((size_t)4 * 1024 * 1024 * 1024)
#define EVALSTORE_BATCH_MAX	100	/* records per commit, at most */
#define EVALSTORE_BACKLOG_MAX	1000	/* held while the spool is full */
#define EVALSTORE_FLUSH_MS	200	/* longest a record waits */
#define EVALSTORE_VALUE_MAX	(32 * 1024)	/* one encoded record */
#define EVALSTORE_DOMAIN_MAX	255	/* key domain, without NUL */
#define EVALSTORE_TLS_KEY_MAX	700	/* a TLS result's key */

struct evalstore;

struct evalstore_stats {
	uint64_t	 stored;	/* records committed since open */
	uint64_t	 commits;
	uint64_t	 dropped;	/* records lost: a failed commit, or
					   past the backlog of a full spool */
	uint64_t	 held;		/* records kept through a full spool */
	uint64_t	 corrupt;	/* values skipped while reading */
	uint64_t	 pruned;
	uint64_t	 tls_stored;	/* TLS results counted */
	uint64_t	 tls_lost;	/* and those that could not be */
};

/*
 * Open (creating) the store in directory dir; mapsize 0 takes the default.
 * NULL with err set on failure.
 */
struct evalstore *evalstore_open(const char *dir, size_t mapsize,
		    char *err, size_t errlen);
/* Commits what is pending, then closes. */
void		 evalstore_close(struct evalstore *);

/*
 * Queue one record for the next commit.  When the batch reaches
 * EVALSTORE_BATCH_MAX it is committed at once.  0, or -1 when the record
 * cannot be encoded within EVALSTORE_VALUE_MAX, the commit failed other
 * than for room, or the backlog of a full spool is full (the record is
 * lost then; see evalstore_flush()).
 */
int		 evalstore_put(struct evalstore *,
		    const struct dmarc_eval_record *);
/* Records waiting for a commit. */
size_t		 evalstore_pending(const struct evalstore *);
/*
 * Commit what is pending: 0, or -1.  When the spool has no room (ENOSPC,
 * EDQUOT, EIO, the map at its limit) the records stay pending, up to
 * EVALSTORE_BACKLOG_MAX in all, for the owner to retry later: further
 * records are lost (counted in `dropped`) until a commit succeeds.  Any
 * other error drops the batch.  Both are logged once.
 */
int		 evalstore_flush(struct evalstore *);
/* The last commit found no room: the pending records wait for it. */
int		 evalstore_full(const struct evalstore *);

/*
 * Call cb for each committed record whose header_from is domain (NULL or
 * "": every domain) and whose time is in [from, until) (until 0: no upper
 * bound), in key order: domain, then time, then arrival.  A corrupt value
 * is skipped with a warning.  cb returning non-zero stops the walk.
 * Returns the number of records passed to cb, or -1 on a store error.
 */
typedef int	(*evalstore_cb)(void *arg, const struct dmarc_eval_record *);
long		 evalstore_foreach(struct evalstore *, const char *domain,
		    time_t from, time_t until, evalstore_cb cb, void *arg);

/* Delete committed records older than before: how many, or -1. */
long		 evalstore_prune(struct evalstore *, time_t before);
/* Committed records for domain (NULL or "": all), or -1. */
long		 evalstore_count(struct evalstore *, const char *domain);

void		 evalstore_get_stats(const struct evalstore *,
		    struct evalstore_stats *);

/*
 * One line (with its newline) describing a record, for posternctl show
 * evaluations: time in UTC, source IP, identifiers, result, disposition,
 * SPF, DKIM, the policy published and override reasons.  0 or -1 (b full).
 */
int		 evalstore_format(const struct dmarc_eval_record *,
		    struct buf *b);
/* The same as one JSON object on a line (-j): 0, or -1 */
int		 evalstore_format_json(const struct dmarc_eval_record *,
		    struct buf *b);

/* TLS results (RFC 8460): counted per domain, day and outcome. */
int		 evalstore_tls_add(struct evalstore *,
		    const struct msg_tls_result *);
/*
 * The policy strings behind them (RFC 8460 4.4): the latest text per
 * domain, day, policy type and MX host; read back one line per
 * policy-string line.  text is p->len bytes that msg_get_tls_policy()
 * accepted.
 */
int		 evalstore_tls_policy_put(struct evalstore *,
		    const struct msg_tls_policy *p, const char *text);

/*
 * Reading both back: each stored entry of domain ("": every one), in key
 * order, as fields.  cb non-zero stops.  0, or -1 on a store error.
 */
#define EVALSTORE_TLS_RESULTS	0
#define EVALSTORE_TLS_POLICIES	1
struct evalstore_tls_row {
	const char	*domain;	/* the policy domain, lower case */
	const char	*day;		/* UTC, "YYYY-MM-DD" */
	const char	*policy;	/* msg_tls_policy_name() */
	const char	*mx;		/* "" when none */
	const char	*result;	/* results: "success" or the type */
	const char	*ip;		/* results: receiving IP, "" unknown */
	uint64_t	 count;		/* results */
	const char	*text;		/* policies: '\n'-ended lines */
	size_t		 textlen;
};
typedef int	(*evalstore_tls_cb)(void *, const struct evalstore_tls_row *);
int		 evalstore_tls_walk(struct evalstore *, int what,
		    const char *domain, evalstore_tls_cb, void *);
/* Delete the entries of UTC days before before's: how many, or -1. */
long		 evalstore_tls_prune(struct evalstore *, time_t before);
/* The posternctl show tls-results line(s) of a row, appended: 0 or -1. */
int		 evalstore_tls_format(const struct evalstore_tls_row *,
		    struct buf *);
/* The same as one JSON object on a line (-j): 0, or -1 */
int		 evalstore_tls_format_json(const struct evalstore_tls_row *,
		    struct buf *);

/*
 * Failure-report rate counters (reportd/failure.c; RFC 9991 2 and 7.1),
 * kept here so that a restart does not reset them.  One counter per name
 * (e.g. "dmarc:example.org", "a:ruf@example.org") and period (its begin,
 * e.g. the hour's); counters of earlier periods are deleted by the first
 * count of a later one.
 *
 * evalstore_rate_take(): count one for name when it is below limit and,
 * for a name not counted yet this period, fewer than max_names names are
 * (a flood of names must not grow the store without bound).  1 counted, 0
 * refused (at the limit, the table full, or a name over
 * EVALSTORE_RATE_NAME_MAX), -1 store error (logged; nothing counted).
 * evalstore_rate_get(): the count of name in period, or -1.
 */
#define EVALSTORE_RATE_NAME_MAX	300
int		 evalstore_rate_take(struct evalstore *, const char *name,
		    time_t period, uint64_t limit, size_t max_names);
long long	 evalstore_rate_get(struct evalstore *, const char *name,
		    time_t period);

/*
 * The environment, for the other databases that live in it (received
 * reports, reportd/rpt_store.c): a write transaction that adopts a map
 * another process grew, and doubling the map when a commit finds it full
 * (0, or an LMDB error; MDB_MAP_FULL at EVALSTORE_MAPSIZE_MAX).
 */
MDB_env		*evalstore_env(struct evalstore *);
int		 evalstore_txn_begin(struct evalstore *, unsigned int flags,
		    MDB_txn **);
int		 evalstore_map_grow(struct evalstore *);

#endif

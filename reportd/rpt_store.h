/*
 * Received reports, kept in reportd's evaluation store (database
 * "received", reportd/rpt_store.c) in the two forms posternctl show
 * reports prints.
 */
#ifndef POSTERN_RPT_STORE_H
#define POSTERN_RPT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "reportd/evalstore.h"
#include "reportd/rpt.h"

#define RPT_STORE_MAX		10000	/* reports kept, the newest */
#define RPT_STORE_VALUE_MAX	(4 * 1024 * 1024)	/* one report */
/*
 * All received reports together: they share the evaluation store's map
 * with the evaluations, which must never be crowded out by what other
 * hosts chose to send.
 */
#define RPT_STORE_BYTES_MAX	((size_t)64 * 1024 * 1024)

struct rpt_store;

struct rpt_store_stats {
	uint64_t	 stored;	/* reports kept since start */
	uint64_t	 refused;	/* messages that held no report we
					   could read (delivered all the same) */
	uint64_t	 lost;		/* parsed but not kept (store error) */
	uint64_t	 duplicates;	/* the same report again, not kept */
	uint64_t	 dropped;	/* the oldest, past RPT_STORE_MAX or
					   RPT_STORE_BYTES_MAX */
	uint64_t	 pruned;	/* past the keep time */
};

/* In the store's environment; NULL with err. */
struct rpt_store *rpt_store_open(struct evalstore *, char *err,
		    size_t errlen);
void		 rpt_store_close(struct rpt_store *);
/* Tests: other limits than RPT_STORE_MAX and RPT_STORE_BYTES_MAX. */
void		 rpt_store_set_limits(struct rpt_store *, size_t max,
		    size_t bytes);
/*
 * Keep a parsed report received at when, committed: 0; 1 if the same
 * report (kind, organisation, report id) is kept already; -1 on a store
 * error (logged).
 */
int		 rpt_store_put(struct rpt_store *, time_t when,
		    const struct rpt *);
/*
 * cb(arg, text, len) for each report of kind (RPT_NONE: all), oldest
 * first: its JSON line (json) or table lines, each ending in a newline.
 * cb returning non-zero stops.  The number passed, or -1.
 */
long		 rpt_store_foreach(struct rpt_store *, enum rpt_kind, int json,
		    int (*cb)(void *, const char *, size_t), void *);
/* Delete reports received before `before`: how many, or -1. */
long		 rpt_store_prune(struct rpt_store *, time_t before);
void		 rpt_store_stats(const struct rpt_store *,
		    struct rpt_store_stats *);
void		 rpt_store_refused(struct rpt_store *);

#endif

/*
 * The message(s) of one DMARC aggregate report: the whole report in one
 * message, or, over a destination's size limit, in parts that each fit
 * (reportd/agg_parts.c explains the rules).
 */
#ifndef POSTERN_AGG_PARTS_H
#define POSTERN_AGG_PARTS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define AGG_PARTS_MAX		1000	/* parts of one report, at most */

struct dmarc_agg;
struct reportd;

struct agg_msgs {
	size_t		 n;		/* 1: the whole report; else parts */
	struct buf	*msg;		/* n messages, signed */
	size_t		 whole;		/* the whole report's message size */
};

/*
 * The report of domain's agg for the period [begin, end) as mail from `reports from` to[nto], DKIM-
 * signed when `reports sign with` is set, each message at most limit
 * bytes (0: no limit).  0 with out filled; -1 (out empty) when it cannot
 * be made, or cannot fit limit even one row a part (*too_large set).
 */
int	 agg_msgs_build(struct reportd *, const struct dmarc_agg *,
	    const char *domain, time_t begin, time_t end,
	    const char *const *to, size_t nto, uint64_t limit,
	    struct agg_msgs *out, int *too_large);
void	 agg_msgs_free(struct agg_msgs *);

#endif

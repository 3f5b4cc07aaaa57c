/*
 * DMARC failure reports (RFC 9991): what authd sends for them is checked,
 * rate-limited and turned into ARF reports (reportd/arf.h) queued like
 * every report.  reportd/failure.c explains the steps.
 */
#ifndef POSTERN_FAILURE_H
#define POSTERN_FAILURE_H

#include <stdint.h>

#include "imsg.h"

struct reportd;

/* IMSG_REPORT_FAILURE_ADD from authd. */
void	 reportd_failure_add(struct reportd *, struct imsg *);
/*
 * IMSG_QUEUE_REPORT_RESULT: 1 when it answers a failure report (and is
 * handled), 0 when it is not one of ours.
 */
int	 reportd_failure_result(struct reportd *, struct imsg *);
/* The counters for `posternctl show stats`. */
void	 reportd_failure_stats(struct reportd *, uint64_t *queued,
	    uint64_t *limited, uint64_t *skipped, uint64_t *off);

#endif

/*
 * The metrics listener, in the control process: `metrics listen on ADDRESS
 * port N` (postern.conf(5)).  Each scrape asks smtp, queue, mta, authd
 * and reportd for their counters (IMSG_CTL_STATS_GET, under a peer id of
 * its own, at or above METRICS_HTTP_ID_BASE) and answers with the same
 * exposition as posternctl show metrics (lib/metrics.h).
 */
#ifndef POSTERN_METRICS_HTTP_H
#define POSTERN_METRICS_HTTP_H

#include <stdint.h>

#include "posternd/proc.h"

/* peer ids of scrapes: control's own clients stay below */
#define METRICS_HTTP_ID_BASE	0x80000000U
#define METRICS_HTTP_MAX_CLIENTS	4
#define METRICS_HTTP_TIMEOUT	10	/* seconds to send the request */
#define METRICS_HTTP_LIFETIME	30	/* seconds for the whole exchange */
#define METRICS_HTTP_LINGER	2	/* seconds to wait for the close */

struct metrics_http;

/* Start serving on the listening socket fd (the parent bound it). */
struct metrics_http	*metrics_http_start(struct proc *, int fd);
/*
 * A reply from a process: 1 if it belongs to a scrape (or to one that
 * has gone), taken; 0 if it is not ours.  A sibling that answers out of
 * turn is a bug: fatal.
 */
int			 metrics_http_imsg(struct metrics_http *,
			    enum proc_id from, struct imsg *);

#endif

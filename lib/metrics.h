/*
 * The processes' counters (IMSG_CTL_STATS_ENTRY: a dotted name and a
 * number) in the Prometheus text exposition format, version 0.0.4:
 * families with HELP and TYPE, counters ending in _total, and the last
 * parts of a name as label values ("smtp.messages.rejected.too_big"
 * becomes postern_smtp_messages_rejected_total{reason="too_big"}).
 * One table (lib/metrics.c) says what each counter is, for posternctl
 * show metrics and the control process's metrics listener alike.
 */
#ifndef POSTERN_METRICS_H
#define POSTERN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "util.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX		(256 * 1024)	/* the whole exposition */

/*
 * Append the exposition of the counters s[0..n) to b: 0, or -1 when b is full.
 * A counter no table row knows is still shown, untyped, under its name
 * with the dots made underscores.
 */
int	 metrics_format(const struct msg_ctl_stat *, size_t n, struct buf *);
/* 1 if some row of the table describes the counter name. */
int	 metrics_known(const char *name);

#endif

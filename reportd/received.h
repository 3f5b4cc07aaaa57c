/*
 * reportd's handling of received reports (reportd/received.c): mail from
 * the queue for an `action NAME reportd`, and posternctl show reports.
 */
#ifndef POSTERN_RECEIVED_H
#define POSTERN_RECEIVED_H

#include "imsg.h"

struct proc;
struct rpt_store;

/* IMSG_REPORT_MESSAGE_RECEIVE from the queue: parse, keep, answer. */
void	received_message(struct proc *, struct rpt_store *, struct imsg *);
/* IMSG_CTL_REPORTS_GET from control: the listing, then the end. */
void	received_ctl_reports(struct proc *, struct rpt_store *,
	    struct imsg *);

#endif

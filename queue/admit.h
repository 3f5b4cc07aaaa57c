/*
 * smtp proposes, the queue decides: the check of each envelope smtp
 * proposes against the queue's own routing decision (queue/admit.c).
 */
#ifndef POSTERN_QUEUE_ADMIT_H
#define POSTERN_QUEUE_ADMIT_H

#include <stddef.h>

#include "envelope.h"
#include "msg.h"
#include "routing.h"

/*
 * 0 and *out the envelope to store, or -1 and why, naming each field
 * that differs from what the queue decides: smtp is buggy or compromised.
 * 1 and why: an alias's target that the queue does not find, while smtp
 * expanded it under another reload of the aliases file than the queue's
 * (both get each reload, not at the same instant): the message fails
 * temporarily.
 */
int	queue_admit_envelope(struct routing *,
	    const struct msg_queue_envelope *, struct envelope *out,
	    char *why, size_t whylen);

/* A maildir folder name, never a path (parse_quarantine_folder()). */
int	queue_folder_ok(const char *);

#endif

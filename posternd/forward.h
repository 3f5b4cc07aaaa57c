/*
 * ~/.forward at RCPT time (an action's "forward-file yes"): smtp asks the
 * parent, which has a short-lived worker read and parse the file as the
 * user and relays the members back to smtp.
 */
#ifndef POSTERN_FORWARD_H
#define POSTERN_FORWARD_H

#include <sys/types.h>

#include "config.h"
#include "imsg.h"
#include "posternd/proc.h"

#define FORWARD_FILE_MAX	(64 * 1024)	/* bytes of one ~/.forward */
#define FORWARD_WORKERS_MAX	32		/* at once; more: 451 */
#define FORWARD_TIMEOUT_SECS	10

/* smtp's IMSG_FORWARD_LOOKUP; -1 and why if it is malformed. */
int	forward_start(struct proc *, struct imsg *, char *why, size_t whylen);
/* A child exited: 1 if it was a forward worker. */
int	forward_reap(pid_t, int status);
/* The worker: posternd -P forward, its socket on fd 3. */
void	forward_worker_main(int debug, int verbose) __attribute__((noreturn));

#endif

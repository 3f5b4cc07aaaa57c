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
/* To the queue at start: the key of the members' proofs. */
void	forward_send_key(struct imsgbuf *);
/*
 * The parent's action (mbox or mda) for an action's .forward members
 * "/path" or "|command".
 */
const struct action *forward_member_action(const struct action *,
	    const char *member);
/*
 * In a delivery worker of type (ACTION_MBOX or ACTION_MDA), as the user:
 * deliver the message (msgfd) to the member rcpt names ("~USER:member")
 * if it is the user's and ~/.forward still names it.  MAILDIR_*, err with
 * the RFC 3463 status first; a command gets `timeout` seconds.
 */
int	forward_deliver(const char *user, uid_t uid, const char *home,
	    int type, const char *rcpt, int msgfd, const char *sender,
	    int timeout, char *err, size_t errlen);
/* The worker: posternd -P forward, its socket on fd 3. */
void	forward_worker_main(int debug, int verbose) __attribute__((noreturn));

#endif

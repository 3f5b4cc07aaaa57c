/*
 * Local delivery by the parent, through delivery workers that run as the
 * recipient's user (one user and action each, kept while there is work).
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include <sys/types.h>

#include <time.h>

#include "config.h"
#include "imsg.h"
#include "msg.h"

/*
 * Once, in the parent before any delivery: `exe` is posternd itself (an fd
 * that workers are executed from), `hostname` names the maildir files.
 */
void	deliver_init(int exe, const char *hostname, int debug);
/*
 * Start a delivery the queue asked for; -1 if the request is malformed or
 * asks for what its action cannot do (`why` says which): a violation.
 */
int	deliver_start(struct postern_conf *, struct imsg *,
	    void (*done)(const struct msg_deliver_result *), char *why,
	    size_t whylen);
/*
 * A child exited or stopped: 1 if it was a delivery worker (the jobs of
 * one that exited are reported).
 */
int	deliver_reap(pid_t, int status);
/* Each delivery worker at work: pid, user, seconds since it started. */
void	deliver_foreach(void (*)(pid_t, const char *, time_t, void *), void *);
/* Stop every delivery worker (shutdown). */
void	deliver_kill_all(void);
/* Execute posternd -P mode (a worker) with sock on its fd 3. */
pid_t	deliver_exec(const char *mode, int sock);
/* The worker itself: posternd -P deliver, its socket on fd 3. */
void	deliver_worker_main(int debug, int verbose) __attribute__((noreturn));

#endif

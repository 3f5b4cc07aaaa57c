/*
 * The kernel's help in boxing in a child (issue 18): resource limits set
 * while still root, and a seccomp-BPF filter of the system calls that
 * process needs, installed once its start-up is over.
 */
#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

#include <sys/resource.h>

#include <stddef.h>

struct proc;

/*
 * smtp's descriptors beyond one per session: the listeners, the
 * channels, the log, the libraries, and what only passes through (the
 * accept of a client refused at the limit, a local submission's
 * descriptor on its way from control).
 */
#define SANDBOX_SMTP_SPARE	256

/* RLIMIT_NOFILE that smtp needs for this many sessions */
rlim_t	 sandbox_smtp_nofile(size_t sessions);
rlim_t	 sandbox_mta_nofile(size_t sessions);

/*
 * posternd -d -S log: a forbidden system call is logged and fails with
 * ENOSYS instead of killing the process (for developing a filter).
 */
extern int	 sandbox_log_only;

/* as root, before chroot: limits, and what the SIGSYS report needs */
void	 sandbox_prepare(struct proc *, int debug);
/* after start-up (desc->run): the filter, for good */
void	 sandbox_enter(struct proc *);

/* The delivery workers' filters, one per kind (posternd/deliver.c). */
enum sandbox_worker {
	SANDBOX_MAILDIR,
	SANDBOX_MBOX,
	SANDBOX_LMTP,
	SANDBOX_MDA,
	SANDBOX_FORWARD,
};

/* as root, at the worker's start: what the SIGSYS report needs */
void		 sandbox_worker_prepare(const char *name, int debug);
/* the mda worker's as root, the others' once the worker is its user */
void		 sandbox_worker_enter(enum sandbox_worker);
const char	*sandbox_worker_kind(enum sandbox_worker);

/*
 * TEST ONLY (POSTERN_TEST_SECCOMP_VIOLATE, _HOLD): the process NAME makes
 * a forbidden call, or waits for SIGUSR1, under its filter.
 */
void	 sandbox_test_violate(const char *name);
void	 sandbox_test_hold(const char *name);

#endif

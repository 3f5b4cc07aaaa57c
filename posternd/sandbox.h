/*
 * The kernel's help in boxing in a child (issue 18): resource limits set
 * while still root, and a seccomp-BPF filter of the system calls that
 * process needs, installed once its start-up is over.
 */
#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

struct proc;

/*
 * posternd -d -S log: a forbidden system call is logged and fails with
 * ENOSYS instead of killing the process (for developing a filter).
 */
extern int	 sandbox_log_only;

/* as root, before chroot: limits, and what the SIGSYS report needs */
void	 sandbox_prepare(struct proc *, int debug);
/* after start-up (desc->run): the filter, for good */
void	 sandbox_enter(struct proc *);

#endif

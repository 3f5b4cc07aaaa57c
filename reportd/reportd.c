/*
 * The reportd process: the evaluation store and the reports.
 *
 * Today it is the process shell every later feature slots into: it runs
 * chrooted and unprivileged on its own event loop, takes the run-time
 * messages every child takes from the parent, and treats anything else from
 * a peer as a protocol violation (fail-stop).
 */
#include <sys/types.h>

#include "log.h"
#include "proc.h"

void
reportd_run(struct proc *p)
{
	log_debug("reportd process started");
}

void
reportd_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	if (proc_common_imsg(p, from, imsg))
		return;
	proc_unexpected(p, from, imsg);
}

/*
 * The process table and the machinery written once for every process:
 * fork and re-exec, socketpair wiring, chroot and privilege drop, and imsg
 * channels on the libevent loop.
 */
#ifndef POSTERN_PROC_H
#define POSTERN_PROC_H

#include <sys/types.h>
#include <event.h>

#include "config.h"
#include "imsg.h"
#include "msg.h"

#define PROC_PARENT_SOCK_FILENO	3	/* a child's channel to the parent */

struct proc;

/* One imsg channel to one peer process, on the event loop. */
struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	 ev;
	short		 events;
	struct proc	*proc;		/* the process this end belongs to */
	enum proc_id	 peer;		/* the process at the other end */
};

struct proc_desc {
	enum proc_id	 id;
	const char	*name;
	enum conf_user	 user;		/* its user: conf->users[user] */
	const char	*spool_sub;	/* chroot: this under the spool, or
					   NULL for the empty dir */
	/* before chroot: a setup message from the parent */
	void		(*conf)(struct proc *, struct imsg *);
	/* still root, before chroot: read the files the config names */
	void		(*preinit)(struct proc *);
	/* after the privilege drop, with the peers wired: start work */
	void		(*run)(struct proc *);
	/* a message from a peer (parent included) */
	void		(*dispatch)(struct proc *, enum proc_id,
			    struct imsg *);
	/* on SIGTERM, before exit(0): say goodbye to clients (or NULL) */
	void		(*shutdown)(struct proc *);
};

struct proc {
	const struct proc_desc	*desc;
	struct msg_conf_global	 global;	/* from the parent at start */
	struct imsgev		*peers[PROC_MAX];
	void			*state;		/* the process's own */
	struct event_base	*base;		/* the child's event loop */
	char			 chroot[256];
	char			 user[32];
};

/* Which processes may talk to which: one row per process. */
extern const int		 proc_peers[PROC_MAX][PROC_MAX];
extern const struct proc_desc	 proc_table[PROC_MAX];

const struct proc_desc	*proc_by_name(const char *);

/* child side */
void	proc_child_main(const struct proc_desc *, int debug, int verbose)
	    __attribute__((noreturn));

/* both sides */
struct imsgev	*imsgev_new(struct proc *, enum proc_id peer, int fd);
void		 imsgev_free(struct imsgev *);
void		 imsgev_update(struct imsgev *);
/* fatal when the message cannot be queued: a sender's bug */
void		 proc_compose(struct proc *, enum proc_id to, uint32_t type,
		    uint32_t peerid, int fd, const void *data, size_t len);
/*
 * Before a fail-stop: one non-blocking write of what is queued to a peer,
 * so that replies already decided (451 for a failed commit) get out.
 */
void		 proc_flush_peer(struct proc *, enum proc_id to);
/* The answer to show stats: each counter, then the end (lib/metrics.h). */
void		 proc_ctl_stats(struct proc *, uint32_t peerid,
		    const struct msg_ctl_stat *, size_t);
/* called when a channel's peer closes or sends garbage */
extern void	(*proc_lost_peer)(struct proc *, enum proc_id, const char *);
/* Called after bytes queued to a peer were written (NULL: nobody cares). */
extern void	(*proc_peer_written)(struct proc *, enum proc_id);

/*
 * For shutdown hooks, outside the event loop, bounded in milliseconds:
 * write out what is queued to a peer; take a peer's messages until done()
 * or its channel closes.
 */
int		 proc_flush(struct proc *, enum proc_id peer, int ms);
/* in a shutdown hook: do not exit on return, the process will itself */
void		 proc_linger(void);
int		 proc_drain(struct proc *, enum proc_id peer,
		    int (*done)(struct proc *), int ms);

struct dns_ctx	*proc_dns_ctx(struct proc *);
/*
 * authd's crypt helper, once forked (posternd/sandbox.c, declared here
 * because a process directory includes no posternd/ header but this):
 * every descriptor but stdio, `sock` and the seccomp report closed, its
 * limits, and its seccomp filter.
 */
void		 sandbox_crypt_helper(int sock);
/*
 * TEST ONLY: POSTERN_TEST_CORRUPT and POSTERN_TEST_REROUTE, honoured in
 * test runs (-T) alone; the second gives smtp's next envelope a forged
 * destination, once (NULL: none).
 */
void		 proc_test_corrupt_init(const char *name, int debug);
const char	*proc_test_reroute(void);
/*
 * TEST ONLY: POSTERN_TEST_FORWARD_FORGE="MEMBER", likewise: smtp claims
 * MEMBER for its next .forward envelope, keeping the parent's proof of
 * the real one, once (NULL: none).
 */
const char	*proc_test_forward_forge(void);
/*
 * TEST ONLY: POSTERN_TEST_CRASH="PROCESS:STEP", test runs (-T) alone: the
 * process named dies by SIGKILL when it reaches that step.
 */
void		 proc_test_crash(const char *step);

/* process entry points (one per process directory) */
void	smtp_conf(struct proc *, struct imsg *);
void	smtp_run(struct proc *);
void	smtp_dispatch(struct proc *, enum proc_id, struct imsg *);
void	queue_conf(struct proc *, struct imsg *);
void	queue_run(struct proc *);
void	queue_dispatch(struct proc *, enum proc_id, struct imsg *);
void	queue_shutdown(struct proc *);
void	mta_conf(struct proc *, struct imsg *);
void	mta_preinit(struct proc *);
void	mta_run(struct proc *);
void	mta_dispatch(struct proc *, enum proc_id, struct imsg *);
void	mta_shutdown(struct proc *);
void	authd_conf(struct proc *, struct imsg *);
void	authd_preinit(struct proc *);
void	authd_run(struct proc *);
void	authd_dispatch(struct proc *, enum proc_id, struct imsg *);
void	reportd_conf(struct proc *, struct imsg *);
void	reportd_preinit(struct proc *);
void	reportd_run(struct proc *);
void	reportd_shutdown(struct proc *);
void	reportd_dispatch(struct proc *, enum proc_id, struct imsg *);
void	control_conf(struct proc *, struct imsg *);
void	control_run(struct proc *);
void	control_dispatch(struct proc *, enum proc_id, struct imsg *);
void	smtp_shutdown(struct proc *);

/* shared by the children: messages every child takes from the parent */
int	proc_common_imsg(struct proc *, enum proc_id, struct imsg *);
void	proc_unexpected(struct proc *, enum proc_id, struct imsg *)
	    __attribute__((noreturn));
void	proc_bad_message(struct proc *, enum proc_id, struct imsg *)
	    __attribute__((noreturn));

#endif

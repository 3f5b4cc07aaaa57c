/*
 * Local delivery, the one job of the parent that touches mail.  The queue
 * sends the message as a memory file descriptor with the envelope; the
 * parent checks the request against its own configuration (the action is
 * looked up by name here: the queue cannot name a path or a user) and hands
 * it to a delivery worker: a process that became the recipient's user and
 * writes the maildir.
 *
 * The queue names an action and a recipient, and nothing it sends may make
 * the parent deliver where that action would not: the action must be one
 * that delivers locally, and the recipient must give it a user (its local
 * part, the action's fixed user, or its entry in the action's virtual
 * table).  smtp refused every other recipient at RCPT and the queue
 * decided the routing again, so a request that fails this is a queue that
 * lies: a protocol violation, which stops the daemon.
 *
 * Workers live for a while.  A fork per delivery (what this file did
 * first) cost more CPU than receiving the message: copying the parent's
 * page tables and the copy-on-write faults that follow, several times per
 * message.  A worker serves one user and action until it has been idle for
 * DELIVER_IDLE_SECS; up to DELIVER_WORKERS_USER run for one user, so one
 * busy mailbox gets parallel writes, and DELIVER_WORKERS_MAX in all.  A
 * worker takes every job waiting on its socket at once and syncs new/ once
 * for all of them before it reports any.
 *
 * A worker is a fresh execution of posternd (-P deliver), like every other
 * child, not a fork that keeps the parent's heap.  The parent's memory
 * holds the relay credentials, the password hashes of credentials tables
 * and what parsing the configuration and reading keys left in freed
 * memory; wiping "every secret" after a fork would have to find all of
 * it, in libc's and libcrypto's buffers too, and any secret added later
 * would leak until someone remembered it.  After exec there is nothing to
 * find.  The worker starts as root, takes its user and action in one
 * datagram, drops to the user (which also makes it non-dumpable) and then
 * only copies bytes from a descriptor into files; it parses nothing.
 *
 * Each job has a deadline: a worker that holds work and reports nothing
 * for DELIVER_JOB_SECS (a hung file system, or a user who stopped their
 * own worker with SIGSTOP) is killed and its jobs go back to the queue as
 * temporary failures, so it cannot hold the queue's in-flight slots.  A
 * worker let go that does not exit is killed after DELIVER_EXIT_SECS.
 * One still there DELIVER_EXIT_SECS after SIGKILL is stuck in the kernel
 * (a disk that stopped answering leaves fsync unkillable): it no longer
 * holds one of the DELIVER_WORKERS_MAX places, or a hung disk would stop
 * every user's delivery once its retries had made that many, but it
 * still counts as a late worker of its user, so that user gets no more
 * than DELIVER_WORKERS_USER stuck processes and fails fast meanwhile.
 * Before that, a worker silent for DELIVER_LATE_SECS gets no more jobs:
 * they go to another worker of the user, or, when every worker the user
 * may have is late, straight back to the queue as temporary failures, so
 * that mail for a stalled user does not pile up here while others wait.
 *
 * An lmtp worker (posternd/lmtp_deliver.c) is the same process: it runs as
 * the user the action gives the recipient, connects to the LMTP server as
 * that user and keeps the connection while it lives.  It takes the jobs
 * waiting on its socket together (waiting LMTP_GATHER_MS for the rest of
 * a message's recipients) and sends the recipients of one message in one
 * transaction, so that the parent keeps the envelopes of one message for
 * one lmtp worker together (worker_for()).  It parses the server's
 * replies, untrusted bytes, so it never runs as root.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "posternd/deliver.h"
#include "dotforward.h"
#include "envelope.h"
#include "lmtp.h"
#include "aliases.h"
#include "clock.h"
#include "log.h"
#include "posternd/forward.h"
#include "posternd/maildir.h"
#include "posternd/mbox.h"
#include "posternd/mda.h"
#include "posternd/lmtp_deliver.h"
#include "posternd/proc.h"
#include "posternd/sandbox.h"
#include "routing.h"
#include "table.h"
#include "util.h"

#define DELIVER_WORKERS_MAX	16	/* worker processes at once */
#define DELIVER_WORKERS_USER	4	/* of them for one user and action */
#define DELIVER_SPAWN_AT	4	/* jobs at the least busy one: add one */
#define DELIVER_INFLIGHT_MAX	32	/* jobs handed to one worker */
#define DELIVER_BATCH_MAX	DELIVER_INFLIGHT_MAX
#define DELIVER_IDLE_SECS	5	/* an idle worker is let go */
#define DELIVER_JOB_SECS	300	/* a busy worker's time per report */
#define DELIVER_LATE_SECS	30	/* silent that long: no more work */
#define DELIVER_EXIT_SECS	5	/* a worker let go must be gone by then */
#define DELIVER_SOCK_FILENO	3	/* a worker's socket to the parent */
#define DELIVER_EXE_FILENO	4	/* posternd, in the child until exec */
#define LMTP_GATHER_MS		20	/* for more jobs of one message */

/* TEST ONLY: a shorter deadline, honoured in test runs (-T) alone */
#define DELIVER_TEST_TIMEOUT	"POSTERN_TEST_DELIVER_TIMEOUT"
/* TEST ONLY: a shorter time limit for commands, likewise */
#define DELIVER_TEST_MDA_TIMEOUT "POSTERN_TEST_MDA_TIMEOUT"

/*
 * TEST ONLY: POSTERN_TEST_CRASH="deliver:STEP" (posternd/proc.c) kills
 * the worker at STEP of a first attempt, never of a retry, so that the
 * job that comes back goes through: a worker is a new process each time.
 */
static int	 worker_first_attempt;

static void
worker_test_step(const char *step)
{
	if (worker_first_attempt)
		proc_test_crash(step);
}

/* What a new worker is told once, before it drops to its user. */
struct worker_setup {
	uint32_t	 uid;
	uint32_t	 gid;
	int32_t		 type;		/* ACTION_MAILDIR, _MBOX, _MDA or
					   _LMTP */
	int32_t		 lmtp_rcpt_to;	/* lmtp: RCPT TO the address, not
					   the user */
	int32_t		 mail_group;	/* mbox: also in group mail */
	int32_t		 forward;	/* ~/.forward members, each job's
					   recipient one (posternd/forward.c) */
	int32_t		 mda_timeout;	/* seconds a command may run */
	uint32_t	 mail_gid;
	char		 user[64];
	char		 home[4096];
	char		 action[64];
	char		 path[PATH_MAX];	/* maildir or mbox template */
	char		 hostname[256];
};

/* One message for one recipient, waiting for or at a worker. */
struct job {
	TAILQ_ENTRY(job)	 entry;
	struct msg_deliver	 d;
	const struct action	*a;
	uid_t			 uid;
	gid_t			 gid;
	char			 user[64];
	char			 home[4096];
	int			 msgfd;
};
TAILQ_HEAD(joblist, job);

/* A delivery worker: the jobs of one user and action. */
struct worker {
	TAILQ_ENTRY(worker)	 entry;
	pid_t			 pid;
	int			 fd;		/* -1 once let go or lost */
	struct event		 ev;		/* results */
	struct event		 idle;
	struct event		 deadline;	/* late, busy too long, or not gone */
	int			 late;		/* silent: no more jobs */
	int			 dead;		/* its socket closed: to reap */
	int			 killed;	/* SIGKILL sent */
	int			 stuck;		/* and still there after
						   DELIVER_EXIT_SECS */
	const struct action	*a;
	uid_t			 uid;
	gid_t			 gid;
	char			 user[64];
	char			 home[4096];
	struct joblist		 jobs;		/* sent, not yet reported */
	size_t			 njobs;
	time_t			 started;
};

static TAILQ_HEAD(, worker)	 workers = TAILQ_HEAD_INITIALIZER(workers);
static struct joblist		 pending = TAILQ_HEAD_INITIALIZER(pending);
static struct event		 ev_batch;
static size_t			 nworkers;
static size_t			 nstuck;	/* of nworkers */
static const char		*deliver_hostname;
static void			(*deliver_done)(const struct msg_deliver_result *);
static int			 deliver_exe = -1;	/* posternd itself */
static int			 deliver_debug;
static time_t			 deliver_job_secs = DELIVER_JOB_SECS;
static int			 deliver_mda_secs = MDA_TIMEOUT;

static void
result(uint64_t evpid, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
result(uint64_t evpid, int status, const char *fmt, ...)
{
	struct msg_deliver_result	 r;
	va_list				 ap;

	memset(&r, 0, sizeof(r));
	r.evpid = evpid;
	r.status = status;
	va_start(ap, fmt);
	vsnprintf(r.error, sizeof(r.error), fmt, ap);
	va_end(ap);
	deliver_done(&r);
}

/* The DELIVER_* outcome of a MAILDIR_* one (maildir, mbox and mda). */
static int
deliver_status(int code)
{
	return code == MAILDIR_OK ? DELIVER_OK : code == MAILDIR_TEMPFAIL ?
	    DELIVER_TEMPFAIL : DELIVER_PERMFAIL;
}

/* In the worker: the maildir of one message. */
static int
job_maildir(const struct msg_deliver *d, const struct worker_setup *s,
    char *path, size_t len, struct msg_deliver_result *r)
{
	if (maildir_expand_path(s->path, s->user, d->rcpt, s->home, path,
	    len) == -1) {
		r->status = DELIVER_PERMFAIL;
		snprintf(r->error, sizeof(r->error), "cannot expand the "
		    "maildir path of action %s for this recipient", s->action);
		return -1;
	}
	switch (maildir_check_base(s->path, s->home, r->error,
	    sizeof(r->error))) {
	case MAILDIR_OK:
		break;
	case MAILDIR_TEMPFAIL:
		r->status = DELIVER_TEMPFAIL;
		return -1;
	default:
		r->status = DELIVER_PERMFAIL;
		return -1;
	}
	/* Maildir++: a folder is a maildir named ".NAME" inside */
	if (d->folder[0] != '\0' && (strlcat(path, "/.", len) >= len ||
	    strlcat(path, d->folder, len) >= len)) {
		r->status = DELIVER_PERMFAIL;
		snprintf(r->error, sizeof(r->error), "maildir path too long");
		return -1;
	}
	return 0;
}

/* In the worker: write one message into new/, not yet synced. */
static void
deliver_one(const struct msg_deliver *d, int msgfd, const char *path,
    const char *hostname, struct msg_deliver_result *r)
{
	char	 qid[QID_ENV_LEN + 1];
	char	*prefix;

	qid_env_str(d->evpid, qid, sizeof(qid));
	xasprintf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    d->sender, d->rcpt);
	r->status = deliver_status(maildir_deliver_unsynced(path, msgfd, prefix,
	    qid, hostname, d->check_existing, r->error, sizeof(r->error)));
	free(prefix);
}

/*
 * In the worker: append one message to the mailbox the action's template
 * names (posternd/mbox.c), synced before it returns.  The mailbox's
 * directory is never made: one that is not there fails temporarily, like
 * a maildir's base.  A Maildir++ folder has no meaning for an mbox.
 */
static void
job_mbox(const struct msg_deliver *d, int msgfd, const struct worker_setup *s,
    struct msg_deliver_result *r)
{
	char	 path[PATH_MAX];

	if (maildir_expand_path(s->path, s->user, d->rcpt, s->home, path,
	    sizeof(path)) == -1) {
		r->status = DELIVER_PERMFAIL;
		snprintf(r->error, sizeof(r->error), "5.3.0 cannot expand the "
		    "mbox path of action %s for this recipient", s->action);
		return;
	}
	r->status = deliver_status(mbox_deliver(path, msgfd, d->sender,
	    d->rcpt, walltime(), MBOX_LOCK_WAIT, r->error, sizeof(r->error)));
}

/* In the worker: run the action's command for one message. */
static void
job_mda(const struct msg_deliver *d, int msgfd, const struct worker_setup *s,
    struct msg_deliver_result *r)
{
	struct mda_job	 job = { s->path, s->user, s->home, d->sender, d->rcpt,
	    s->mda_timeout, 0 };

	r->status = deliver_status(mda_run(&job, msgfd, r->error,
	    sizeof(r->error)));
}

/*
 * A failed maildir delivery's account starts with its RFC 3463 status
 * (maildir_errno_class()); the queue reports that, and checks its class.
 */
static void
result_status(struct msg_deliver_result *r)
{
	size_t	 len;

	if (r->status == DELIVER_OK)
		return;
	len = strcspn(r->error, " ");
	if (len < sizeof(r->dsn_status) && r->error[len] == ' ') {
		memcpy(r->dsn_status, r->error, len);
		r->dsn_status[len] = '\0';
	}
}

/* A job and its message descriptor, as one datagram. */
static ssize_t
job_recv(int sock, struct msg_deliver *d, int *fd, int flags)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = d;
	iov.iov_len = sizeof(*d);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	while ((n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0)
		return n;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	/* the parent decoded it (msg_get_deliver()); its strings end */
	if (n != sizeof(*d) || *fd == -1 || (msg.msg_flags & MSG_CTRUNC) ||
	    memchr(d->sender, '\0', sizeof(d->sender)) == NULL ||
	    memchr(d->rcpt, '\0', sizeof(d->rcpt)) == NULL ||
	    memchr(d->folder, '\0', sizeof(d->folder)) == NULL) {
		if (*fd != -1)
			close(*fd);
		errno = EBADMSG;
		return -1;
	}
	return n;
}

/*
 * In the worker, still root: who to become, then become it for good, and
 * the seccomp filter of its kind.
 */
static enum sandbox_worker
worker_setup_recv(int sock, struct worker_setup *s)
{
	enum sandbox_worker	 kind;
	uid_t			 ruid, euid, suid;
	gid_t			 gids[2];
	ssize_t			 n;

	while ((n = recv(sock, s, sizeof(*s), 0)) == -1 && errno == EINTR)
		;
	if (n != sizeof(*s) || memchr(s->user, '\0', sizeof(s->user)) == NULL ||
	    memchr(s->home, '\0', sizeof(s->home)) == NULL ||
	    memchr(s->action, '\0', sizeof(s->action)) == NULL ||
	    (s->type != ACTION_MAILDIR && s->type != ACTION_MBOX &&
	    s->type != ACTION_MDA && s->type != ACTION_LMTP) ||
	    memchr(s->path, '\0', sizeof(s->path)) == NULL ||
	    memchr(s->hostname, '\0', sizeof(s->hostname)) == NULL ||
	    (s->forward && ((s->type != ACTION_MBOX && s->type != ACTION_MDA) ||
	    s->uid == 0 || s->mail_group)) || s->mda_timeout < 1 ||
	    s->mda_timeout > MDA_TIMEOUT)
		fatalx("bad set-up from the parent");
	/*
	 * An mbox worker keeps group mail, as Debian's setgid-mail delivery
	 * agents do: /var/mail (root:mail 2775) takes new mailboxes and the
	 * dot locks only from that group.
	 */
	kind = s->type == ACTION_MBOX ? SANDBOX_MBOX :
	    s->type == ACTION_MDA ? SANDBOX_MDA :
	    s->type == ACTION_LMTP ? SANDBOX_LMTP : SANDBOX_MAILDIR;
	/* the mda worker's filter, inherited by its command: as root */
	if (kind == SANDBOX_MDA)
		sandbox_worker_enter(kind);
	gids[0] = s->gid;
	gids[1] = s->mail_gid;
	if (setgroups(s->mail_group ? 2 : 1, gids) == -1 ||
	    setresgid(s->gid, s->gid, s->gid) == -1 ||
	    setresuid(s->uid, s->uid, s->uid) == -1)
		fatal("becoming %s", s->user);
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != s->uid ||
	    euid != s->uid || suid != s->uid ||
	    (s->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)))
		fatalx("could not become %s for good", s->user);
	/* the kernel did this at the uid change; root's own worker too */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("prctl");
	if (kind == SANDBOX_LMTP)
		lmtp_deliver_prepare(s->path);
	/* the others': once the user, before any message is read */
	if (kind != SANDBOX_MDA)
		sandbox_worker_enter(kind);
	return kind;
}

/*
 * TEST ONLY: POSTERN_TEST_SECCOMP_HOLD and _VIOLATE (posternd/sandbox.c)
 * at a worker's first job, under its filter; the forbidden call only on
 * a first attempt, so that the retry of the job it made fail goes
 * through.
 */
static void
worker_test_sandbox(enum sandbox_worker kind, const struct msg_deliver *d)
{
	static int	 done;

	if (done)
		return;
	done = 1;
	sandbox_test_hold(sandbox_worker_kind(kind));
	if (!d->check_existing)
		sandbox_test_violate(sandbox_worker_kind(kind));
}

/*
 * TEST ONLY: the deadline the parent gives a busy worker, shortened by
 * POSTERN_TEST_DELIVER_TIMEOUT in test runs; 0 if not set.
 */
static time_t
deliver_test_timeout(void)
{
	const char	*v, *errstr;
	long long	 secs;

	if ((v = getenv(DELIVER_TEST_TIMEOUT)) == NULL)
		return 0;
	secs = strtonum(v, 1, DELIVER_JOB_SECS, &errstr);
	if (errstr != NULL)
		fatalx("%s %s: %s", DELIVER_TEST_TIMEOUT, v, errstr);
	return secs;
}

/*
 * An lmtp worker's life: the jobs waiting, grouped by message (and
 * sender), each group one transaction on the connection it keeps; the
 * results of a group as soon as it is done.  A transaction has less time
 * than the parent's deadline for a report, so that a stalled server makes
 * temporary failures, not a killed worker.
 */
static void __attribute__((noreturn))
lmtp_worker(int sock, const struct worker_setup *s, int debug)
{
	struct ljob {
		struct msg_deliver		 d;
		struct msg_deliver_result	 r;
		int				 fd;
		int				 taken;
	}		*b;
	struct lmtp_job	 lj[LMTP_RCPTS_MAX];
	struct pollfd	 pfd;
	time_t		 secs = DELIVER_JOB_SECS;
	size_t		 n, i, k, m;

	if (debug && deliver_test_timeout() > 0)
		secs = deliver_test_timeout();
	secs = secs >= 60 ? secs - 30 : secs * 2 / 3;
	if (secs < 1)
		secs = 1;
	b = xcalloc(DELIVER_BATCH_MAX, sizeof(*b));
	for (;;) {
		for (n = 0; n < DELIVER_BATCH_MAX; n++) {
			pfd.fd = sock;
			pfd.events = POLLIN;
			if (n > 0 && poll(&pfd, 1, LMTP_GATHER_MS) <= 0)
				break;
			if (job_recv(sock, &b[n].d, &b[n].fd, n == 0 ? 0 :
			    MSG_DONTWAIT) <= 0) {
				if (n > 0)
					break;
				lmtp_deliver_close();
				_exit(0);	/* let go, or lost */
			}
			worker_test_sandbox(SANDBOX_LMTP, &b[n].d);
			memset(&b[n].r, 0, sizeof(b[n].r));
			b[n].r.evpid = b[n].d.evpid;
			b[n].taken = 0;
		}
		for (i = 0; i < n; i++) {
			if (b[i].taken)
				continue;
			for (k = i, m = 0; k < n && m < LMTP_RCPTS_MAX; k++) {
				if (b[k].taken || EVPID_MSGID(b[k].d.evpid) !=
				    EVPID_MSGID(b[i].d.evpid) ||
				    strcmp(b[k].d.sender, b[i].d.sender) != 0)
					continue;
				lj[m].sender = b[k].d.sender;
				lj[m].rcpt_to = s->lmtp_rcpt_to ? b[k].d.rcpt :
				    s->user;
				lj[m].r = &b[k].r;
				b[k].taken = 1;
				m++;
			}
			lmtp_deliver(s->path, s->hostname, b[i].fd, lj, m,
			    secs);
			for (k = i; k < n; k++) {
				if (b[k].taken != 1)
					continue;
				b[k].taken = 2;
				close(b[k].fd);
				if (write(sock, &b[k].r, sizeof(b[k].r)) !=
				    sizeof(b[k].r))
					_exit(2);
			}
		}
	}
}

/*
 * The worker's life (posternd -P deliver, its socket on fd 3): become the
 * user once; then take every job waiting, write each message, sync each
 * maildir's new/ once, report, and wait for more.  The parent closing the
 * socket ends it.
 */
void
deliver_worker_main(int debug, int verbose)
{
	struct batch {
		struct msg_deliver		 d;
		struct msg_deliver_result	 r;
		char				 path[4096];
	}			*b;
	struct worker_setup	 s;
	enum sandbox_worker	 kind;
	sigset_t		 none;
	char			 err[256];
	size_t			 n, i, k;
	int			 fd, sock = DELIVER_SOCK_FILENO;

	log_init(debug, verbose, LOG_MAIL);
	log_procinit("deliver");
	setproctitle("deliver");
	proc_test_corrupt_init("deliver", debug);
	if (debug)
		maildir_test_step = worker_test_step;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	sandbox_worker_prepare("deliver", debug);
	kind = worker_setup_recv(sock, &s);
	if (s.type == ACTION_LMTP)
		lmtp_worker(sock, &s, debug);
	b = xcalloc(DELIVER_BATCH_MAX, sizeof(*b));
	for (;;) {
		/*
		 * maildir jobs share one sync of new/; an mbox or a command
		 * is done one message at a time, reported as it ends.
		 */
		for (n = 0; n < (s.type == ACTION_MAILDIR ? DELIVER_BATCH_MAX :
		    1); n++) {
			if (job_recv(sock, &b[n].d, &fd, n == 0 ? 0 :
			    MSG_DONTWAIT) <= 0) {
				if (n == 0)
					_exit(0);	/* let go, or lost */
				break;
			}
			worker_test_sandbox(kind, &b[n].d);
			memset(&b[n].r, 0, sizeof(b[n].r));
			b[n].r.evpid = b[n].d.evpid;
			worker_first_attempt = !b[n].d.check_existing;
			b[n].path[0] = '\0';
			if (s.forward)
				b[n].r.status = deliver_status(forward_deliver(
				    s.user, s.uid, s.home, s.type, b[n].d.rcpt,
				    fd, b[n].d.sender, s.mda_timeout,
				    b[n].r.error, sizeof(b[n].r.error)));
			else if (s.type == ACTION_MBOX)
				job_mbox(&b[n].d, fd, &s, &b[n].r);
			else if (s.type == ACTION_MDA)
				job_mda(&b[n].d, fd, &s, &b[n].r);
			else if (job_maildir(&b[n].d, &s, b[n].path,
			    sizeof(b[n].path), &b[n].r) == 0)
				deliver_one(&b[n].d, fd, b[n].path, s.hostname,
				    &b[n].r);
			else
				b[n].path[0] = '\0';
			close(fd);
		}
		/* TEST ONLY: in new/, the rename not yet durable */
		for (i = 0, worker_first_attempt = 0; i < n; i++)
			if (b[i].r.status == DELIVER_OK &&
			    !b[i].d.check_existing)
				worker_first_attempt = 1;
		worker_test_step("new");
		/* One sync of new/ per maildir makes the batch's renames durable. */
		for (i = 0; i < n; i++) {
			if (b[i].r.status != DELIVER_OK || b[i].path[0] == '\0')
				continue;	/* mbox: synced already */
			for (k = 0; k < i; k++)
				if (b[k].r.status == DELIVER_OK &&
				    strcmp(b[k].path, b[i].path) == 0)
					break;
			if (k < i)
				continue;	/* synced with an earlier one */
			if (maildir_sync_new(b[i].path, err, sizeof(err)) ==
			    MAILDIR_OK)
				continue;
			for (k = i; k < n; k++)
				if (b[k].r.status == DELIVER_OK &&
				    strcmp(b[k].path, b[i].path) == 0) {
					b[k].r.status = DELIVER_TEMPFAIL;
					strlcpy(b[k].r.error, err,
					    sizeof(b[k].r.error));
				}
		}
		/* TEST ONLY: durable in new/, not reported */
		worker_test_step("report");
		for (i = 0; i < n; i++) {
			result_status(&b[i].r);
			if (write(sock, &b[i].r, sizeof(b[i].r)) !=
			    sizeof(b[i].r))
				_exit(2);
		}
	}
}

static void
job_free(struct job *j)
{
	if (j->msgfd != -1)
		close(j->msgfd);
	free(j);
}

static void	worker_read(int, short, void *);
static void	deliver_flush(int, short, void *);
static void	worker_idle(int, short, void *);
static void	worker_deadline(int, short, void *);

/*
 * Fail what a worker still had and forget its socket.  Closing the socket
 * ends a worker that is waiting for work; one that does not end (stopped,
 * or stuck in the kernel) is killed DELIVER_EXIT_SECS later.
 */
static void
worker_lost(struct worker *w, const char *why)
{
	struct timeval	 tv = { DELIVER_EXIT_SECS, 0 };
	struct job	*j;

	while ((j = TAILQ_FIRST(&w->jobs)) != NULL) {
		TAILQ_REMOVE(&w->jobs, j, entry);
		result(j->d.evpid, DELIVER_TEMPFAIL, "%s", why);
		job_free(j);
	}
	w->njobs = 0;
	if (w->fd != -1) {
		event_del(&w->ev);
		close(w->fd);
		w->fd = -1;
		evtimer_add(&w->deadline, &tv);
	}
	evtimer_del(&w->idle);
}

/*
 * The worker's end of the socket closed: it died (killed, or crashed; it
 * leaves by itself only when let go).  The reap says how in the log and
 * fails its jobs with that (deliver_reap()); until then it gets no more
 * work and is not read from.
 */
static void
worker_gone(struct worker *w)
{
	event_del(&w->ev);
	w->dead = 1;
}

/* Fork and exec posternd -P deliver, with `sock` on fd 3. */
static pid_t
worker_exec(int sock)
{
	return deliver_exec("deliver", sock);
}

/* posternd -P mode, a fresh execution, its socket on fd 3. */
pid_t
deliver_exec(const char *mode, int sock)
{
	char	*argv[8];
	int	 argc = 0, exe;
	pid_t	 pid;

	argv[argc++] = "posternd";
	argv[argc++] = "-P";
	argv[argc++] = (char *)mode;
	if (deliver_debug)
		argv[argc++] = "-d";
	/* -S log (only with -d): the workers' filters log too */
	if (sandbox_log_only) {
		argv[argc++] = "-S";
		argv[argc++] = "log";
	}
	/* as verbose as the parent is now (posternctl log verbose) */
	if (log_getverbose() > 0)
		argv[argc++] = log_getverbose() > 1 ? "-vv" : "-v";
	argv[argc] = NULL;

	if ((pid = fork()) != 0)
		return pid;
	/* The exe first out of the way: it may sit on fd 3 or 4. */
	if ((exe = fcntl(deliver_exe, F_DUPFD, DELIVER_EXE_FILENO + 1)) ==
	    -1 || dup2(sock, DELIVER_SOCK_FILENO) == -1 ||
	    fcntl(DELIVER_SOCK_FILENO, F_SETFD, 0) == -1 ||
	    dup2(exe, DELIVER_EXE_FILENO) == -1 ||
	    fcntl(DELIVER_EXE_FILENO, F_SETFD, FD_CLOEXEC) == -1)
		_exit(1);
	closefrom(DELIVER_EXE_FILENO + 1);
	fexecve(DELIVER_EXE_FILENO, argv, environ);
	_exit(1);
}

static struct worker *
worker_start(const struct job *j)
{
	struct worker_setup	 s;
	struct worker		*w;
	struct group		*gr;
	int			 sp[2];
	pid_t			 pid;

	memset(&s, 0, sizeof(s));
	s.uid = j->uid;
	s.gid = j->gid;
	strlcpy(s.user, j->user, sizeof(s.user));
	strlcpy(s.home, j->home, sizeof(s.home));
	strlcpy(s.action, j->a->name, sizeof(s.action));
	strlcpy(s.hostname, deliver_hostname, sizeof(s.hostname));
	s.type = j->a->type;
	s.lmtp_rcpt_to = j->a->lmtp_rcpt_to;
	s.forward = j->a->forward_member;
	s.mda_timeout = deliver_mda_secs;
	/* a .forward's file is the user's own: no group mail for it */
	if (s.type == ACTION_MBOX && !s.forward &&
	    (gr = getgrnam("mail")) != NULL) {
		s.mail_group = 1;
		s.mail_gid = gr->gr_gid;
	}
	if (strlcpy(s.path, j->a->path != NULL ? j->a->path :
	    s.type == ACTION_MBOX ? ACTION_DEFAULT_MBOX :
	    ACTION_DEFAULT_MAILDIR, sizeof(s.path)) >= sizeof(s.path)) {
		log_warnx("local delivery: the path of action %s is too long",
		    j->a->name);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("local delivery: socketpair");
		return NULL;
	}
	if ((pid = worker_exec(sp[1])) == -1) {
		log_warn("local delivery: fork");
		close(sp[0]);
		close(sp[1]);
		return NULL;
	}
	close(sp[1]);
	/* the socket's buffer takes it; the worker reads it first */
	if (send(sp[0], &s, sizeof(s), MSG_NOSIGNAL) != sizeof(s)) {
		log_warn("local delivery: starting a worker");
		close(sp[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->a = j->a;
	w->uid = j->uid;
	w->gid = j->gid;
	strlcpy(w->user, j->user, sizeof(w->user));
	strlcpy(w->home, j->home, sizeof(w->home));
	TAILQ_INIT(&w->jobs);
	w->pid = pid;
	w->fd = sp[0];
	w->started = monotime();
	if (fcntl(w->fd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("local delivery: O_NONBLOCK");
	event_set(&w->ev, w->fd, EV_READ | EV_PERSIST, worker_read, w);
	event_add(&w->ev, NULL);
	evtimer_set(&w->idle, worker_idle, w);
	evtimer_set(&w->deadline, worker_deadline, w);
	TAILQ_INSERT_TAIL(&workers, w, entry);
	nworkers++;
	log_debug("delivery worker %d for %s started", (int)pid, w->user);
	return w;
}

/* The part of a busy worker's time after which it is late. */
static time_t
deliver_late_secs(void)
{
	return deliver_job_secs < 2 * DELIVER_LATE_SECS ?
	    deliver_job_secs / 2 : DELIVER_LATE_SECS;
}

/*
 * A busy worker has deliver_job_secs from now for its next report; the
 * timer fires first when it becomes late, then at the deadline.
 */
static void
worker_deadline_set(struct worker *w)
{
	struct timeval	 tv = { deliver_late_secs(), 0 };

	w->late = 0;
	evtimer_add(&w->deadline, &tv);
}

/* Results: each must name a job this worker has. */
static void
worker_read(int fd, short event, void *arg)
{
	struct timeval			 tv = { DELIVER_IDLE_SECS, 0 };
	struct worker			*w = arg;
	struct msg_deliver_result	 r;
	struct job			*j;
	ssize_t				 n;
	int				 progress = 0;

	for (;;) {
		if ((n = recv(w->fd, &r, sizeof(r), 0)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
		}
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			worker_gone(w);
			break;
		}
		if (n != sizeof(r) || r.status < DELIVER_OK ||
		    r.status > DELIVER_PERMFAIL ||
		    memchr(r.dsn_status, '\0', sizeof(r.dsn_status)) == NULL ||
		    memchr(r.error, '\0', sizeof(r.error)) == NULL ||
		    (r.smtp_diag != 0 && r.smtp_diag != 1)) {
			worker_lost(w, "delivery process failed");
			break;
		}
		TAILQ_FOREACH(j, &w->jobs, entry)
			if (j->d.evpid == r.evpid)
				break;
		if (j == NULL) {
			log_warnx("delivery worker %d reported an envelope "
			    "it did not have", (int)w->pid);
			worker_lost(w, "delivery process failed");
			break;
		}
		TAILQ_REMOVE(&w->jobs, j, entry);
		w->njobs--;
		job_free(j);
		deliver_done(&r);
		progress = 1;
	}
	if (w->fd != -1 && w->njobs == 0) {
		evtimer_del(&w->deadline);
		w->late = 0;
		evtimer_add(&w->idle, &tv);
	} else if (w->fd != -1 && progress)
		worker_deadline_set(w);
	if (!TAILQ_EMPTY(&pending))
		deliver_flush(-1, 0, NULL);
}

/* Idle long enough: closing its socket ends the worker. */
static void
worker_idle(int fd, short event, void *arg)
{
	struct worker	*w = arg;

	if (w->fd != -1 && w->njobs == 0)
		worker_lost(w, "");
}

/* Killed and still there: see the top of the file. */
static void
worker_stuck(struct worker *w)
{
	if (w->stuck)
		return;
	w->stuck = 1;
	nstuck++;
	log_warnx("delivery worker %d for %s is still there %d seconds "
	    "after it was killed: stuck in the kernel (a hung file "
	    "system?); its user's mail waits until it is gone", (int)w->pid,
	    w->user, DELIVER_EXIT_SECS);
}

/*
 * A worker with work that reported nothing in time, or one let go that did
 * not exit: kill it.  Its jobs go back to the queue as temporary failures,
 * to be tried again after the retry delay.
 */
static void
worker_deadline(int fd, short event, void *arg)
{
	struct timeval	 tv = { deliver_job_secs - deliver_late_secs(), 0 };
	struct timeval	 exit_tv = { DELIVER_EXIT_SECS, 0 };
	struct worker	*w = arg;
	char		 why[128];

	if (w->fd == -1) {
		if (w->killed) {
			worker_stuck(w);
			return;
		}
		log_warnx("delivery worker %d for %s did not exit when let "
		    "go; killing it", (int)w->pid, w->user);
		kill(w->pid, SIGKILL);
		w->killed = 1;
		evtimer_add(&w->deadline, &exit_tv);
		return;
	}
	if (!w->late) {
		log_warnx("delivery worker %d for %s: no result in %lld "
		    "seconds; giving it no more work", (int)w->pid, w->user,
		    (long long)deliver_late_secs());
		w->late = 1;
		evtimer_add(&w->deadline, &tv);
		if (!TAILQ_EMPTY(&pending))
			deliver_flush(-1, 0, NULL);
		return;
	}
	snprintf(why, sizeof(why), "delivery timed out: no result in %lld "
	    "seconds", (long long)deliver_job_secs);
	log_warnx("delivery worker %d for %s: %s; killing it (deliveries "
	    "to retry: %zu)", (int)w->pid, w->user, why, w->njobs);
	kill(w->pid, SIGKILL);
	w->killed = 1;
	worker_lost(w, why);
}

/* Send a job to a worker; 0 if the worker cannot take it now. */
static int
worker_send(struct worker *w, struct job *j)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &j->d;
	iov.iov_len = sizeof(j->d);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &j->msgfd, sizeof(int));
	if (sendmsg(w->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			worker_gone(w);		/* the job goes elsewhere */
		else if (errno != EAGAIN && errno != EINTR)
			worker_lost(w, "delivery process failed");
		return 0;
	}
	close(j->msgfd);
	j->msgfd = -1;
	return 1;
}
/* The lmtp worker of the job's user that has the job's message, if any. */
static struct worker *
worker_with_message(const struct job *j)
{
	struct worker	*w;
	struct job	*k;

	TAILQ_FOREACH(w, &workers, entry) {
		if (w->fd == -1 || w->dead || w->late || w->uid != j->uid ||
		    w->a != j->a || w->njobs >= DELIVER_INFLIGHT_MAX)
			continue;
		TAILQ_FOREACH(k, &w->jobs, entry)
			if (EVPID_MSGID(k->d.evpid) == EVPID_MSGID(j->d.evpid))
				return w;
	}
	return NULL;
}

/*
 * The worker for a job: the least busy of its user's that is not late; a
 * new one when they are all busy and the limits allow (an idle worker of
 * another user is let go to make room); NULL when the job must wait, and
 * `stalled` set too when every worker the user may have is late.
 */
static struct worker *
worker_for(const struct job *j, int *stalled)
{
	struct worker	*w, *best = NULL, *idle = NULL;
	size_t		 mine = 0, late = 0;

	*stalled = 0;
	TAILQ_FOREACH(w, &workers, entry) {
		if (w->fd == -1 || w->dead) {
			if (w->stuck && w->uid == j->uid && w->a == j->a) {
				mine++;
				late++;
			}
			continue;
		}
		if (w->uid != j->uid || w->a != j->a) {
			if (w->njobs == 0)
				idle = w;
			continue;
		}
		mine++;
		if (w->late) {
			late++;
			continue;
		}
		if (best == NULL || w->njobs < best->njobs)
			best = w;
	}
	if (mine >= DELIVER_WORKERS_USER && late == mine) {
		*stalled = 1;
		return NULL;
	}
	/* an lmtp worker sends a message's recipients in one transaction */
	if (j->a->type == ACTION_LMTP && (w = worker_with_message(j)) != NULL)
		return w;
	if (best != NULL && (best->njobs < DELIVER_SPAWN_AT ||
	    mine >= DELIVER_WORKERS_USER))
		return best->njobs < DELIVER_INFLIGHT_MAX ? best : NULL;
	if (nworkers - nstuck >= DELIVER_WORKERS_MAX && idle != NULL)
		worker_lost(idle, "");
	if (nworkers - nstuck >= DELIVER_WORKERS_MAX)
		return best != NULL && best->njobs < DELIVER_INFLIGHT_MAX ?
		    best : NULL;
	if ((w = worker_start(j)) == NULL)
		return best != NULL && best->njobs < DELIVER_INFLIGHT_MAX ?
		    best : NULL;
	return w;
}

/* Hand what is pending to workers; what cannot go now waits for a result. */
static void
deliver_flush(int fd, short event, void *arg)
{
	struct job	*j, *next;
	struct worker	*w;
	int		 stalled;

	for (j = TAILQ_FIRST(&pending); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if ((w = worker_for(j, &stalled)) == NULL && stalled) {
			TAILQ_REMOVE(&pending, j, entry);
			result(j->d.evpid, DELIVER_TEMPFAIL, "delivery to %s "
			    "is stalled", j->user);
			job_free(j);
			continue;
		}
		if (w == NULL || !worker_send(w, j))
			continue;
		TAILQ_REMOVE(&pending, j, entry);
		TAILQ_INSERT_TAIL(&w->jobs, j, entry);
		if (w->njobs++ == 0)
			worker_deadline_set(w);
		evtimer_del(&w->idle);
	}
}

void
deliver_init(int exe, const char *hostname, int debug)
{
	time_t		 secs;
	const char	*v, *errstr;

	deliver_exe = exe;
	deliver_hostname = hostname;
	deliver_debug = debug;
	/* TEST ONLY: regress/test_deliver.py waits seconds, not minutes */
	if (!debug) {
		unsetenv(DELIVER_TEST_TIMEOUT);
		unsetenv(DELIVER_TEST_MDA_TIMEOUT);
		return;
	}
	if ((v = getenv(DELIVER_TEST_MDA_TIMEOUT)) != NULL) {
		deliver_mda_secs = strtonum(v, 1, MDA_TIMEOUT, &errstr);
		if (errstr != NULL)
			fatalx("%s %s: %s", DELIVER_TEST_MDA_TIMEOUT, v,
			    errstr);
		log_warnx("test: commands' time limit %d seconds",
		    deliver_mda_secs);
	}
	if ((secs = deliver_test_timeout()) == 0)
		return;
	deliver_job_secs = secs;
	log_warnx("test: delivery deadline %lld seconds", (long long)secs);
}

/*
 * An alias's "/file" or "|command" (lib/aliases.c) is delivered by a
 * worker like an mbox or mda action's, as the action's alias-user: an
 * action of that type made here for the target, kept for the workers
 * that serve it (bounded: only members of an aliases table get one).
 */
static TAILQ_HEAD(, action)	 alias_actions =
    TAILQ_HEAD_INITIALIZER(alias_actions);

static const struct action *
alias_action(const struct action *a, const char *target)
{
	struct action	*x;
	enum action_type type;
	const char	*path = target;

	if (aliases_is_command(target)) {
		type = ACTION_MDA;
		for (path++; *path == ' ' || *path == '\t'; path++)
			;
	} else
		type = ACTION_MBOX;
	TAILQ_FOREACH(x, &alias_actions, entry)
		if (x->type == type && strcmp(x->name, a->name) == 0 &&
		    strcmp(x->path, path) == 0)
			return x;
	x = xcalloc(1, sizeof(*x));
	strlcpy(x->name, a->name, sizeof(x->name));
	x->type = type;
	x->path = xstrdup(path);
	TAILQ_INSERT_TAIL(&alias_actions, x, entry);
	return x;
}

int
deliver_start(struct postern_conf *conf, struct imsg *imsg,
    void (*done)(const struct msg_deliver_result *), char *why,
    size_t whylen)
{
	struct msg_deliver	 d;
	const struct action	*a;
	struct table		*t;
	struct passwd		*pw;
	struct job		*j;
	int			 alias_target = 0;
	const char		*member;
	char			 fuser[64];
	struct timeval		 now = { 0, 0 };
	char			 user[256];

	deliver_done = done;
	if (msg_get_deliver(imsg, &d) == -1) {
		snprintf(why, whylen, "bad size or field");
		return -1;
	}
	/*
	 * What the queue may ask: a local delivery by an action that
	 * delivers locally, to a user that action delivers to.  The queue
	 * checked the same (routing_local_user()) before it asked.
	 */
	if (routing_local_user(conf, d.action, d.rcpt, user, sizeof(user),
	    why, whylen) == -1)
		return -1;
	a = config_find_action(conf, d.action);
	/*
	 * An alias's file or command: only one that the aliases file names
	 * now (the queue may hold one that a newer file dropped).
	 */
	if (a->alias_table[0] != '\0' && (aliases_is_file(d.rcpt) ||
	    aliases_is_command(d.rcpt))) {
		if ((t = config_find_table(conf, a->alias_table)) == NULL ||
		    !aliases_has_member(t, d.rcpt)) {
			result(d.evpid, DELIVER_PERMFAIL, "5.1.1 %s is no "
			    "longer a member in aliases table %s", d.rcpt,
			    a->alias_table);
			goto fail;
		}
		a = alias_action(a, d.rcpt);
		alias_target = 1;
	} else if (a->forward_file && forward_target_split(d.rcpt, fuser,
	    sizeof(fuser), &member) == 0) {
		/*
		 * A ~/.forward's file or command, as its owner (never root:
		 * root's .forward is never read); the worker writes or runs
		 * it only if the user's file names it still.
		 */
		a = forward_member_action(a, member);
		alias_target = 1;
	}

	/* A folder name, never a path (the queue is not trusted with one) */
	if (d.folder[0] == '.' || strchr(d.folder, '/') != NULL) {
		result(d.evpid, DELIVER_PERMFAIL, "bad maildir folder name");
		goto fail;
	}
	/* /etc/passwd may have changed since smtp took the recipient */
	if ((pw = getpwnam(user)) == NULL) {
		result(d.evpid, DELIVER_PERMFAIL, "no such user %s", user);
		goto fail;
	}
	/* an lmtp worker parses what the server says: never as root */
	if (a->type == ACTION_LMTP && pw->pw_uid == 0) {
		result(d.evpid, DELIVER_PERMFAIL, "5.3.0 action %s: lmtp "
		    "delivery never runs as root (map %s to another user)",
		    a->name, user);
		goto fail;
	}
	/* an alias's file or command: never as root */
	if (alias_target && pw->pw_uid == 0) {
		result(d.evpid, DELIVER_PERMFAIL, "5.3.0 action %s: alias "
		    "and .forward files and commands never run as root",
		    a->name);
		goto fail;
	}
	/* a command never runs as root, whoever the mail is for */
	if (a->type == ACTION_MDA && pw->pw_uid == 0) {
		result(d.evpid, DELIVER_PERMFAIL, "5.3.0 action %s: an mda "
		    "command never runs as root (map %s to another user)",
		    a->name, user);
		goto fail;
	}
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->a = a;
	j->uid = pw->pw_uid;
	j->gid = pw->pw_gid;
	if (strlcpy(j->user, pw->pw_name, sizeof(j->user)) >= sizeof(j->user) ||
	    strlcpy(j->home, pw->pw_dir, sizeof(j->home)) >= sizeof(j->home)) {
		free(j);
		result(d.evpid, DELIVER_PERMFAIL, "user name or home of %s "
		    "too long", user);
		goto fail;
	}
	j->msgfd = imsg->fd;
	imsg->fd = -1;
	TAILQ_INSERT_TAIL(&pending, j, entry);
	/* Start processes once this round of messages has been read. */
	if (!event_initialized(&ev_batch))
		evtimer_set(&ev_batch, deliver_flush, NULL);
	if (!evtimer_pending(&ev_batch, NULL))
		evtimer_add(&ev_batch, &now);
	return 0;
 fail:
	close(imsg->fd);
	imsg->fd = -1;
	return 0;
}

int
deliver_reap(pid_t pid, int status)
{
	struct worker	*w;
	char		 why[128];

	TAILQ_FOREACH(w, &workers, entry)
		if (w->pid == pid)
			break;
	if (w == NULL)
		return 0;
	if (WIFCONTINUED(status))
		return 1;
	if (WIFSTOPPED(status)) {
		/* its deadline (or, let go, its exit time) still runs */
		log_warnx("delivery worker %d for %s stopped by signal %d "
		    "(%s)", (int)pid, w->user, WSTOPSIG(status),
		    strsignal(WSTOPSIG(status)));
		return 1;
	}
	/* Results it wrote before it went still count. */
	if (w->fd != -1)
		worker_read(w->fd, EV_READ, w);
	if (w->njobs > 0 || (status != 0 && w->fd != -1)) {
		snprintf(why, sizeof(why), "delivery process failed "
		    "(status %d)", status);
		log_warnx("delivery worker %d for %s: %s", (int)pid, w->user,
		    why);
		worker_lost(w, why);
	} else
		worker_lost(w, "");
	evtimer_del(&w->deadline);
	TAILQ_REMOVE(&workers, w, entry);
	nworkers--;
	if (w->stuck)
		nstuck--;
	free(w);
	if (!TAILQ_EMPTY(&pending))
		deliver_flush(-1, 0, NULL);
	return 1;
}

void
deliver_kill_all(void)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &workers, entry) {
		kill(w->pid, SIGTERM);
		kill(w->pid, SIGCONT);	/* a stopped one must see it */
	}
}

void
deliver_foreach(void (*cb)(pid_t, const char *, time_t, void *), void *arg)
{
	struct worker	*w;
	time_t		 now = monotime();

	TAILQ_FOREACH(w, &workers, entry)
		if (w->fd != -1)
			cb(w->pid, w->user, now > w->started ?
			    now - w->started : 0, arg);
}

/*
 * Local delivery, the one job of the parent that touches mail.  The queue
 * sends the message as a memory file descriptor with the envelope; the
 * parent checks the request against its own configuration (the action is
 * looked up by name here: the queue cannot name a path or a user), forks a
 * child that becomes the recipient's user and writes the maildir, and
 * reports the outcome the child wrote on a pipe.  Requests that arrive
 * together for one user share a child (up to DELIVER_BATCH_MAX).
 *
 * Only maildir actions deliver today; mbox, lmtp and mda actions fail
 * permanently with a clear reason until they are written.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "envelope.h"
#include "log.h"
#include "maildir.h"
#include "table.h"
#include "util.h"

#define DELIVER_MAX_RUNNING	16	/* delivery processes at once */
#define DELIVER_BATCH_MAX	32	/* messages one process writes */

/* One message for one recipient, waiting for or in a process. */
struct job {
	TAILQ_ENTRY(job)	 entry;
	struct msg_deliver	 d;
	const struct action	*a;
	uid_t			 uid;
	gid_t			 gid;
	char			 user[64];
	char			 home[4096];
	int			 msgfd;
	int			 reported;
};
TAILQ_HEAD(joblist, job);

/* A delivery process: the jobs of one user and action. */
struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	pid_t			 pid;
	int			 result_fd;
	struct joblist		 jobs;
};

static TAILQ_HEAD(, delivery)	 deliveries =
    TAILQ_HEAD_INITIALIZER(deliveries);
static struct joblist		 pending = TAILQ_HEAD_INITIALIZER(pending);
static struct event		 ev_batch;
static int			 nrunning;
static const char		*deliver_hostname;
static void			(*deliver_done)(const struct msg_deliver_result *);

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

/* The recipient's local part, lower-cased: the system user's name. */
static int
local_user(const char *rcpt, char *user, size_t len)
{
	const char	*at = strrchr(rcpt, '@');
	size_t		 n = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);
	size_t		 i;

	if (n == 0 || n >= len)
		return -1;
	for (i = 0; i < n; i++) {
		if (rcpt[i] == '/' || (unsigned char)rcpt[i] < 0x21)
			return -1;
		user[i] = tolower((unsigned char)rcpt[i]);
	}
	user[n] = '\0';
	return 0;
}

/* In the child: write one message, return its result. */
static void
deliver_one(const struct job *j, const char *hostname,
    struct msg_deliver_result *r)
{
	char	 path[4096], qid[QID_ENV_LEN + 1];
	char	*prefix;

	memset(r, 0, sizeof(*r));
	r->evpid = j->d.evpid;
	if (maildir_expand_path(j->a->path != NULL ? j->a->path :
	    "~/Maildir", j->user, j->d.rcpt, j->home, path,
	    sizeof(path)) == -1) {
		r->status = DELIVER_PERMFAIL;
		snprintf(r->error, sizeof(r->error), "cannot expand the "
		    "maildir path of action %s for this recipient", j->a->name);
		return;
	}
	/* Maildir++: a folder is a maildir named ".NAME" inside */
	if (j->d.folder[0] != '\0' && (strlcat(path, "/.", sizeof(path)) >=
	    sizeof(path) || strlcat(path, j->d.folder, sizeof(path)) >=
	    sizeof(path))) {
		r->status = DELIVER_PERMFAIL;
		snprintf(r->error, sizeof(r->error), "maildir path too long");
		return;
	}
	qid_env_str(j->d.evpid, qid, sizeof(qid));
	xasprintf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    j->d.sender, j->d.rcpt);
	switch (maildir_deliver(path, j->msgfd, prefix, qid, hostname,
	    j->d.check_existing, r->error, sizeof(r->error))) {
	case MAILDIR_OK:
		r->status = DELIVER_OK;
		break;
	case MAILDIR_TEMPFAIL:
		r->status = DELIVER_TEMPFAIL;
		break;
	default:
		r->status = DELIVER_PERMFAIL;
		break;
	}
	free(prefix);
}

/*
 * In the child: become the user once, write each message of the batch,
 * report each result on the pipe (a batch's results fit in the pipe's
 * buffer, so the writes never block), exit.
 */
static void __attribute__((noreturn))
deliver_child(struct delivery *dl, int resfd, const char *hostname)
{
	struct msg_deliver_result	 r;
	struct job			*j;
	int				 next = 3;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	/*
	 * Keep only what this child needs (the result pipe and the batch's
	 * messages), renumbered from 3, so that nothing of the parent's
	 * (channels to the other processes) survives the drop to the user.
	 * Lift them above every other fd first, so no dup2 lands on one
	 * still to be moved.
	 */
	if ((resfd = fcntl(resfd, F_DUPFD_CLOEXEC, 1024)) == -1)
		_exit(2);
	TAILQ_FOREACH(j, &dl->jobs, entry)
		if ((j->msgfd = fcntl(j->msgfd, F_DUPFD_CLOEXEC, 1024)) == -1)
			_exit(2);
	if (dup2(resfd, next) == -1)
		_exit(2);
	resfd = next++;
	TAILQ_FOREACH(j, &dl->jobs, entry) {
		if (dup2(j->msgfd, next) == -1)
			_exit(2);
		j->msgfd = next++;
	}
	closefrom(next);

	j = TAILQ_FIRST(&dl->jobs);
	if (setgroups(1, &j->gid) == -1 ||
	    setresgid(j->gid, j->gid, j->gid) == -1 ||
	    setresuid(j->uid, j->uid, j->uid) == -1) {
		TAILQ_FOREACH(j, &dl->jobs, entry) {
			memset(&r, 0, sizeof(r));
			r.evpid = j->d.evpid;
			r.status = DELIVER_TEMPFAIL;
			snprintf(r.error, sizeof(r.error), "cannot become %s",
			    j->user);
			if (write(resfd, &r, sizeof(r)) != sizeof(r))
				_exit(2);
		}
		_exit(0);
	}
	TAILQ_FOREACH(j, &dl->jobs, entry) {
		deliver_one(j, hostname, &r);
		if (write(resfd, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
	_exit(0);
}

static void
job_free(struct job *j)
{
	if (j->msgfd != -1)
		close(j->msgfd);
	free(j);
}

/*
 * Start processes for what is pending: one per user and action, with up
 * to DELIVER_BATCH_MAX messages each, so that a burst for one mailbox
 * costs one fork instead of one per message.
 */
static void
deliver_flush(int fd, short event, void *arg)
{
	struct timeval		 later = { 0, 10 * 1000 };
	struct delivery		*dl;
	struct job		*j, *next, *first;
	int			 p[2];
	size_t			 n;
	pid_t			 pid;

	while ((first = TAILQ_FIRST(&pending)) != NULL) {
		if (nrunning >= DELIVER_MAX_RUNNING) {
			evtimer_add(&ev_batch, &later);
			return;
		}
		dl = xcalloc(1, sizeof(*dl));
		TAILQ_INIT(&dl->jobs);
		n = 0;
		for (j = first; j != NULL && n < DELIVER_BATCH_MAX; j = next) {
			next = TAILQ_NEXT(j, entry);
			if (j->uid != first->uid || j->a != first->a)
				continue;
			TAILQ_REMOVE(&pending, j, entry);
			TAILQ_INSERT_TAIL(&dl->jobs, j, entry);
			n++;
		}
		if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
			log_warn("local delivery");
			while ((j = TAILQ_FIRST(&dl->jobs)) != NULL) {
				TAILQ_REMOVE(&dl->jobs, j, entry);
				result(j->d.evpid, DELIVER_TEMPFAIL,
				    "cannot start a delivery process");
				job_free(j);
			}
			free(dl);
			continue;
		}
		if (pid == 0) {
			close(p[0]);
			deliver_child(dl, p[1], deliver_hostname);
		}
		close(p[1]);
		TAILQ_FOREACH(j, &dl->jobs, entry) {
			close(j->msgfd);
			j->msgfd = -1;
		}
		dl->pid = pid;
		dl->result_fd = p[0];
		TAILQ_INSERT_TAIL(&deliveries, dl, entry);
		nrunning++;
	}
}

int
deliver_start(struct postern_conf *conf, struct imsg *imsg,
    void (*done)(const struct msg_deliver_result *))
{
	struct msg_deliver	 d;
	struct action		*a;
	struct passwd		*pw;
	struct job		*j;
	struct timeval		 now = { 0, 0 };
	char			 user[256];
	const char		*name;

	deliver_done = done;
	deliver_hostname = conf->hostname;
	if (imsg_get_data(imsg, &d, sizeof(d)) == -1 || imsg->fd == -1)
		return -1;
	d.sender[sizeof(d.sender) - 1] = '\0';
	d.rcpt[sizeof(d.rcpt) - 1] = '\0';
	d.action[sizeof(d.action) - 1] = '\0';
	d.folder[sizeof(d.folder) - 1] = '\0';
	/* A folder name, never a path (the queue is not trusted with one) */
	if (d.folder[0] == '.' || strchr(d.folder, '/') != NULL) {
		result(d.evpid, DELIVER_PERMFAIL, "bad maildir folder name");
		goto fail;
	}

	if ((a = config_find_action(conf, d.action)) == NULL) {
		result(d.evpid, DELIVER_PERMFAIL, "no action named %s",
		    d.action);
		goto fail;
	}
	if (a->type != ACTION_MAILDIR) {
		result(d.evpid, DELIVER_PERMFAIL, "action %s: only maildir "
		    "delivery is implemented", a->name);
		goto fail;
	}
	if (a->virtual_table[0] != '\0') {
		struct table	*t = config_find_table(conf, a->virtual_table);

		if (t == NULL ||
		    (name = table_lookup_rcpt(t, d.rcpt)) == NULL) {
			result(d.evpid, DELIVER_PERMFAIL, "no user for %s in "
			    "table %s", d.rcpt, a->virtual_table);
			goto fail;
		}
	} else if (a->user != NULL)
		name = a->user;
	else if (local_user(d.rcpt, user, sizeof(user)) == 0)
		name = user;
	else {
		result(d.evpid, DELIVER_PERMFAIL, "bad recipient %s", d.rcpt);
		goto fail;
	}
	if ((pw = getpwnam(name)) == NULL) {
		result(d.evpid, DELIVER_PERMFAIL, "no such user %s", name);
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
		    "too long", name);
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
	struct delivery			*dl;
	struct msg_deliver_result	 r;
	struct job			*j;

	TAILQ_FOREACH(dl, &deliveries, entry)
		if (dl->pid == pid)
			break;
	if (dl == NULL)
		return 0;
	TAILQ_REMOVE(&deliveries, dl, entry);
	nrunning--;
	/* Each result names its envelope; take only those of this batch. */
	while (read(dl->result_fd, &r, sizeof(r)) == sizeof(r)) {
		if (r.status < DELIVER_OK || r.status > DELIVER_PERMFAIL)
			break;
		TAILQ_FOREACH(j, &dl->jobs, entry)
			if (j->d.evpid == r.evpid && !j->reported)
				break;
		if (j == NULL)
			break;
		j->reported = 1;
		r.error[sizeof(r.error) - 1] = '\0';
		deliver_done(&r);
	}
	while ((j = TAILQ_FIRST(&dl->jobs)) != NULL) {
		TAILQ_REMOVE(&dl->jobs, j, entry);
		if (!j->reported)
			result(j->d.evpid, DELIVER_TEMPFAIL,
			    "delivery process failed (status %d)", status);
		job_free(j);
	}
	close(dl->result_fd);
	free(dl);
	if (!TAILQ_EMPTY(&pending))
		deliver_flush(-1, 0, NULL);
	return 1;
}

void
deliver_kill_all(void)
{
	struct delivery	*dl;

	TAILQ_FOREACH(dl, &deliveries, entry)
		kill(dl->pid, SIGTERM);
}

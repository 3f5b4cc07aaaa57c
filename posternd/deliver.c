/*
 * Local delivery, the one job of the parent that touches mail.  The queue
 * sends the message as a memory file descriptor with the envelope; the
 * parent checks the request against its own configuration (the action is
 * looked up by name here: the queue cannot name a path or a user), forks a
 * child that becomes the recipient's user and writes the maildir, and
 * reports the outcome the child wrote on a pipe.
 *
 * Only maildir actions deliver today; mbox, lmtp and mda actions fail
 * permanently with a clear reason until they are written.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
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

#define DELIVER_MAX_RUNNING	64

struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	pid_t			 pid;
	uint64_t		 evpid;
	int			 result_fd;
};

static TAILQ_HEAD(, delivery)	 deliveries =
    TAILQ_HEAD_INITIALIZER(deliveries);
static int			 nrunning;
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

/* In the child: become the user, write the maildir, report, exit. */
static void __attribute__((noreturn))
deliver_child(const struct msg_deliver *d, const struct action *a,
    const struct passwd *pw, int msgfd, int resfd, const char *hostname)
{
	struct msg_deliver_result	 r;
	char				 path[4096], qid[QID_ENV_LEN + 1];
	char				*prefix;

	memset(&r, 0, sizeof(r));
	r.evpid = d->evpid;
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		r.status = DELIVER_TEMPFAIL;
		snprintf(r.error, sizeof(r.error), "cannot become %s: %s",
		    pw->pw_name, strerror(errno));
		goto out;
	}
	if (maildir_expand_path(a->path != NULL ? a->path : "~/Maildir",
	    pw->pw_name, d->rcpt, pw->pw_dir, path, sizeof(path)) == -1) {
		r.status = DELIVER_PERMFAIL;
		snprintf(r.error, sizeof(r.error), "cannot expand maildir "
		    "path of action %s for %s", a->name, d->rcpt);
		goto out;
	}
	qid_env_str(d->evpid, qid, sizeof(qid));
	xasprintf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    d->sender, d->rcpt);
	switch (maildir_deliver(path, msgfd, prefix, qid, hostname,
	    d->check_existing, r.error, sizeof(r.error))) {
	case MAILDIR_OK:
		r.status = DELIVER_OK;
		break;
	case MAILDIR_TEMPFAIL:
		r.status = DELIVER_TEMPFAIL;
		break;
	default:
		r.status = DELIVER_PERMFAIL;
		break;
	}
 out:
	if (write(resfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

int
deliver_start(struct postern_conf *conf, struct imsg *imsg,
    void (*done)(const struct msg_deliver_result *))
{
	struct msg_deliver	 d;
	struct delivery		*dl;
	struct action		*a;
	struct passwd		*pw;
	char			 user[256];
	const char		*name;
	int			 p[2];
	pid_t			 pid;

	deliver_done = done;
	if (imsg_get_data(imsg, &d, sizeof(d)) == -1 || imsg->fd == -1)
		return -1;
	d.sender[sizeof(d.sender) - 1] = '\0';
	d.rcpt[sizeof(d.rcpt) - 1] = '\0';
	d.action[sizeof(d.action) - 1] = '\0';

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
	if (nrunning >= DELIVER_MAX_RUNNING) {
		result(d.evpid, DELIVER_TEMPFAIL, "too many deliveries running");
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		result(d.evpid, DELIVER_TEMPFAIL, "pipe: %s", strerror(errno));
		goto fail;
	}
	switch (pid = fork()) {
	case -1:
		close(p[0]);
		close(p[1]);
		result(d.evpid, DELIVER_TEMPFAIL, "fork: %s", strerror(errno));
		goto fail;
	case 0:
		close(p[0]);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		deliver_child(&d, a, pw, imsg->fd, p[1], conf->hostname);
	}
	close(p[1]);
	close(imsg->fd);
	imsg->fd = -1;
	dl = xcalloc(1, sizeof(*dl));
	dl->pid = pid;
	dl->evpid = d.evpid;
	dl->result_fd = p[0];
	TAILQ_INSERT_TAIL(&deliveries, dl, entry);
	nrunning++;
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

	TAILQ_FOREACH(dl, &deliveries, entry)
		if (dl->pid == pid)
			break;
	if (dl == NULL)
		return 0;
	TAILQ_REMOVE(&deliveries, dl, entry);
	nrunning--;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    read(dl->result_fd, &r, sizeof(r)) == sizeof(r) &&
	    r.evpid == dl->evpid && r.status >= DELIVER_OK &&
	    r.status <= DELIVER_PERMFAIL) {
		r.error[sizeof(r.error) - 1] = '\0';
		deliver_done(&r);
	} else
		result(dl->evpid, DELIVER_TEMPFAIL, "delivery process failed");
	close(dl->result_fd);
	free(dl);
	return 1;
}

void
deliver_kill_all(void)
{
	struct delivery	*dl;

	TAILQ_FOREACH(dl, &deliveries, entry)
		kill(dl->pid, SIGTERM);
}

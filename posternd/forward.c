/*
 * ~/.forward (an action's "forward-file yes"), read at RCPT time.
 *
 * smtp asks the parent for a local recipient's user (IMSG_FORWARD_LOOKUP).
 * The parent never opens the file: it starts a worker, a fresh execution
 * of posternd (-P forward) like the delivery workers, which becomes the
 * user, opens the file as the user, checks it and parses it (untrusted
 * bytes, so never as root and never in the parent) with the :include:
 * list parser of lib/aliases.c, and sends the members back one datagram
 * each.  The parent checks each (size, NUL, count) and relays it to smtp,
 * which makes the envelopes (smtpd/session.c).
 *
 * The file is used only when it is a regular file owned by the user,
 * writable by no one else, at most FORWARD_FILE_MAX bytes, in a home
 * directory owned by the user or root and writable by no one else; it is
 * opened with O_NOFOLLOW, so a symbolic link is never followed (out of
 * the home or anywhere).  Any other .forward is ignored (logged): the
 * mail goes to the mailbox.  root's is never read (its mail is for
 * aliases).  A worker that does not answer in FORWARD_TIMEOUT_SECS is
 * killed and the recipient deferred (451).
 *
 * The parent adds to each member a proof for the queue (lib/dotforward.h),
 * so that a compromised smtp cannot claim members the user's file does not
 * have.  A "/file" or "|command" member (when the action allows it:
 * "forward-file yes files commands") is delivered by a delivery worker as
 * the user (posternd/deliver.c), which reads the .forward again first and
 * writes or runs the member only if the file still names it: the queue
 * cannot name one either.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "aliases.h"
#include "clock.h"
#include "dotforward.h"
#include "log.h"
#include "msg.h"
#include "posternd/deliver.h"
#include "posternd/forward.h"
#include "posternd/maildir.h"
#include "posternd/mbox.h"
#include "posternd/mda.h"
#include "posternd/sandbox.h"
#include "util.h"

#define FORWARD_SOCK_FILENO	3

struct forward_setup {
	uint32_t	 uid;
	uint32_t	 gid;
	char		 user[64];
	char		 home[PATH_MAX];
};

struct forward_req {
	TAILQ_ENTRY(forward_req) entry;
	pid_t			 pid;		/* 0 once reaped */
	int			 fd;		/* -1 once done */
	uint32_t		 session;
	size_t			 nmembers;
	struct event		 ev;
	struct event		 timeout;
	struct proc		*proc;
	char			 user[64];
};

static TAILQ_HEAD(, forward_req)	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static size_t				 nreqs;
static uint8_t				 proof_key[FORWARD_KEY_LEN];
static int				 proof_keyed;

/* The key of the members' proofs: drawn once, for the parent's life. */
static const uint8_t *
forward_proof_key(void)
{
	if (!proof_keyed) {
		arc4random_buf(proof_key, sizeof(proof_key));
		proof_keyed = 1;
	}
	return proof_key;
}

void
forward_send_key(struct imsgbuf *ibuf)
{
	struct msg_conf_forward_key	 m;

	memcpy(m.key, forward_proof_key(), sizeof(m.key));
	if (imsg_compose(ibuf, IMSG_CONF_FORWARD_KEY, 0, 0, -1, &m,
	    sizeof(m)) == -1)
		fatal("forward key");
	explicit_bzero(&m, sizeof(m));
}

static void
end_to_smtp(struct proc *p, uint32_t session, int status)
{
	struct msg_forward_end	 e;

	memset(&e, 0, sizeof(e));
	e.status = status;
	proc_compose(p, PROC_SMTP, IMSG_FORWARD_END, session, -1, &e,
	    sizeof(e));
}

static void
req_done(struct forward_req *r, int status)
{
	if (r->fd == -1)
		return;
	end_to_smtp(r->proc, r->session, status);
	event_del(&r->ev);
	evtimer_del(&r->timeout);
	close(r->fd);
	r->fd = -1;
	if (r->pid != 0)
		kill(r->pid, SIGKILL);
}

/* Gone once answered and reaped, whichever came last. */
static void
req_free_if_done(struct forward_req *r)
{
	if (r->fd != -1 || r->pid != 0)
		return;
	TAILQ_REMOVE(&reqs, r, entry);
	nreqs--;
	free(r);
}

/* One datagram of the worker's: 1 if one was taken, 0 if none waits. */
static int
req_read_one(struct forward_req *r)
{
	union {
		struct msg_forward_member	 m;
		struct msg_forward_end		 e;
	}				 u;
	ssize_t				 n;

	if ((n = recv(r->fd, &u, sizeof(u), MSG_DONTWAIT)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == sizeof(u.e) && u.e.status >= FORWARD_NONE &&
	    u.e.status <= FORWARD_TEMPFAIL) {
		req_done(r, u.e.status);
		return 1;
	}
	if (n != sizeof(u.m) || memchr(u.m.member, '\0',
	    sizeof(u.m.member)) == NULL || u.m.member[0] == '\0' ||
	    ++r->nmembers > FORWARD_MAX_MEMBERS) {
		/* a worker that died without its END: EOF */
		log_warnx("~%s/.forward: the worker sent a bad answer or "
		    "none", r->user);
		req_done(r, FORWARD_TEMPFAIL);
		return 1;
	}
	/* the queue takes the member only with this (lib/dotforward.h) */
	u.m.when = walltime();
	forward_proof(forward_proof_key(), r->user, u.m.member, u.m.when,
	    u.m.proof);
	proc_compose(r->proc, PROC_SMTP, IMSG_FORWARD_MEMBER, r->session, -1,
	    &u.m, sizeof(u.m));
	return 1;
}

static void
req_read(int fd, short event, void *arg)
{
	struct forward_req	*r = arg;

	while (r->fd != -1 && req_read_one(r) == 1)
		;
	req_free_if_done(r);
}

static void
req_timeout(int fd, short event, void *arg)
{
	struct forward_req	*r = arg;

	log_warnx("~%s/.forward: no answer in %d seconds", r->user,
	    FORWARD_TIMEOUT_SECS);
	req_done(r, FORWARD_TEMPFAIL);
}

int
forward_start(struct proc *p, struct imsg *imsg, char *why, size_t whylen)
{
	struct msg_forward_lookup	 m;
	struct forward_setup		 s;
	struct forward_req		*r;
	struct passwd			*pw;
	struct timeval			 tv = { FORWARD_TIMEOUT_SECS, 0 };
	int				 sp[2];
	pid_t				 pid;

	if (msg_get_forward_lookup(imsg, &m) == -1) {
		snprintf(why, whylen, "bad size or field");
		return -1;
	}
	if ((pw = getpwnam(m.user)) == NULL || pw->pw_uid == 0) {
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_NONE);
		return 0;
	}
	if (nreqs >= FORWARD_WORKERS_MAX) {
		log_warnx("~%s/.forward: %d lookups running already", m.user,
		    FORWARD_WORKERS_MAX);
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_TEMPFAIL);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.uid = pw->pw_uid;
	s.gid = pw->pw_gid;
	if (strlcpy(s.user, pw->pw_name, sizeof(s.user)) >= sizeof(s.user) ||
	    strlcpy(s.home, pw->pw_dir, sizeof(s.home)) >= sizeof(s.home) ||
	    s.home[0] != '/') {
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_NONE);
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("~%s/.forward: socketpair", m.user);
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_TEMPFAIL);
		return 0;
	}
	if ((pid = deliver_exec("forward", sp[1])) == -1) {
		log_warn("~%s/.forward: fork", m.user);
		close(sp[0]);
		close(sp[1]);
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_TEMPFAIL);
		return 0;
	}
	close(sp[1]);
	if (send(sp[0], &s, sizeof(s), MSG_NOSIGNAL) != sizeof(s)) {
		log_warn("~%s/.forward: starting the worker", m.user);
		close(sp[0]);
		kill(pid, SIGKILL);
		end_to_smtp(p, imsg->hdr.peerid, FORWARD_TEMPFAIL);
		return 0;
	}
	r = xcalloc(1, sizeof(*r));
	r->pid = pid;
	r->fd = sp[0];
	r->session = imsg->hdr.peerid;
	r->proc = p;
	strlcpy(r->user, s.user, sizeof(r->user));
	event_set(&r->ev, r->fd, EV_READ | EV_PERSIST, req_read, r);
	event_add(&r->ev, NULL);
	evtimer_set(&r->timeout, req_timeout, r);
	evtimer_add(&r->timeout, &tv);
	TAILQ_INSERT_TAIL(&reqs, r, entry);
	nreqs++;
	return 0;
}

int
forward_reap(pid_t pid, int status)
{
	struct forward_req	*r;

	TAILQ_FOREACH(r, &reqs, entry)
		if (r->pid == pid)
			break;
	if (r == NULL)
		return 0;
	if (WIFSTOPPED(status) || WIFCONTINUED(status))
		return 1;
	r->pid = 0;
	if (r->fd != -1) {
		/* what it sent is read first: an END may be waiting */
		while (r->fd != -1 && req_read_one(r) == 1)
			;
		if (r->fd != -1)
			req_done(r, FORWARD_TEMPFAIL);
	}
	req_free_if_done(r);
	return 1;
}

/* --- the worker, as the user --- */

struct wctx {
	int	 sock;
	size_t	 n;
};

static int
send_member(void *arg, const char *name, const char *member)
{
	struct wctx			*c = arg;
	struct msg_forward_member	 m;

	if (++c->n > FORWARD_MAX_MEMBERS)
		return -1;
	memset(&m, 0, sizeof(m));
	strlcpy(m.member, member, sizeof(m.member));
	if (send(c->sock, &m, sizeof(m), 0) != sizeof(m))
		_exit(1);
	return 0;
}

static void __attribute__((noreturn))
worker_end(int sock, int status)
{
	struct msg_forward_end	 e;

	memset(&e, 0, sizeof(e));
	e.status = status;
	if (send(sock, &e, sizeof(e), 0) != sizeof(e))
		_exit(1);
	_exit(0);
}

/*
 * In a worker that is the user already: read ~/.forward whole into buf
 * (FORWARD_FILE_MAX + 1 bytes), with the checks at the top of the file.
 * FORWARD_FOUND with *len set, FORWARD_NONE (none usable: logged), or
 * FORWARD_TEMPFAIL.
 */
static int
forward_read(const char *user, uid_t uid, const char *home, char *buf,
    size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	int		 dfd, fd, save_errno;

	*len = 0;
	/* the home: the user's or root's, writable by no one else */
	if ((dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return FORWARD_NONE;
		log_warn("~%s/.forward: %s", user, home);
		return FORWARD_TEMPFAIL;
	}
	if (fstat(dfd, &st) == -1 || (st.st_uid != uid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("~%s/.forward ignored: the home %s is not the user's "
		    "or is writable by others", user, home);
		close(dfd);
		return FORWARD_NONE;
	}
	fd = openat(dfd, ".forward", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	save_errno = errno;
	close(dfd);
	if (fd == -1) {
		if (save_errno == ENOENT)
			return FORWARD_NONE;
		errno = save_errno;
		log_warn("~%s/.forward ignored", user);
		return save_errno == ELOOP || save_errno == EACCES ?
		    FORWARD_NONE : FORWARD_TEMPFAIL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != uid || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
	    st.st_size > FORWARD_FILE_MAX) {
		log_warnx("~%s/.forward ignored: not a regular file of the "
		    "user's, writable by others, or larger than %d bytes",
		    user, FORWARD_FILE_MAX);
		close(fd);
		return FORWARD_NONE;
	}
	while ((n = read(fd, buf + *len, FORWARD_FILE_MAX + 1 - *len)) > 0)
		if ((*len += n) == FORWARD_FILE_MAX + 1)
			break;
	close(fd);
	if (n == -1 || *len > FORWARD_FILE_MAX) {
		log_warnx("~%s/.forward ignored: cannot be read whole", user);
		return FORWARD_NONE;
	}
	return FORWARD_FOUND;
}

void
forward_worker_main(int debug, int verbose)
{
	struct forward_setup	 s;
	struct wctx		 c;
	char			 buf[FORWARD_FILE_MAX + 1], err[256];
	ssize_t			 n;
	size_t			 len;
	int			 sock = FORWARD_SOCK_FILENO, status;
	uid_t			 ruid, euid, suid;

	log_init(debug, verbose, LOG_MAIL);
	log_procinit("forward");
	setproctitle("forward");
	signal(SIGPIPE, SIG_IGN);
	sandbox_worker_prepare("forward", debug);
	while ((n = recv(sock, &s, sizeof(s), 0)) == -1 && errno == EINTR)
		;
	if (n != sizeof(s) || memchr(s.user, '\0', sizeof(s.user)) == NULL ||
	    memchr(s.home, '\0', sizeof(s.home)) == NULL || s.uid == 0)
		fatalx("bad set-up from the parent");
	if (setgroups(1, &s.gid) == -1 ||
	    setresgid(s.gid, s.gid, s.gid) == -1 ||
	    setresuid(s.uid, s.uid, s.uid) == -1)
		fatal("becoming %s", s.user);
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != s.uid ||
	    euid != s.uid || suid != s.uid || setuid(0) != -1 ||
	    seteuid(0) != -1)
		fatalx("could not become %s for good", s.user);
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("prctl");
	/* for good: opening for reading, the parser, the answer */
	sandbox_worker_enter(SANDBOX_FORWARD);
	sandbox_test_hold("forward");
	sandbox_test_violate("forward");
	if ((status = forward_read(s.user, s.uid, s.home, buf, &len)) !=
	    FORWARD_FOUND)
		worker_end(sock, status);
	c.sock = sock;
	c.n = 0;
	if (aliases_parse_list(buf, len, s.user, send_member, &c, err,
	    sizeof(err)) == -1) {
		/* the members sent so far are dropped with the END */
		log_warnx("~%s/.forward ignored: %s", s.user, c.n >
		    FORWARD_MAX_MEMBERS ? "too many members" : err);
		worker_end(sock, FORWARD_NONE);
	}
	worker_end(sock, c.n > 0 ? FORWARD_FOUND : FORWARD_NONE);
}

/* --- a file or command member, delivered by a worker as the user --- */

/*
 * The parent's action for the files (an mbox) or the commands (an mda) of
 * the .forward files an action reads, kept for the workers that serve it:
 * two per action at most, whatever the queue asks.  Each job's recipient
 * names the user and the member ("~USER:/path", lib/dotforward.h), and
 * only a member the worker finds in that user's file is ever written or
 * run (forward_deliver()).
 */
static TAILQ_HEAD(, action)	 member_actions =
    TAILQ_HEAD_INITIALIZER(member_actions);

const struct action *
forward_member_action(const struct action *a, const char *member)
{
	struct action	*x;
	enum action_type type = member[0] == '|' ? ACTION_MDA : ACTION_MBOX;

	TAILQ_FOREACH(x, &member_actions, entry)
		if (strcmp(x->name, a->name) == 0 && x->type == type)
			return x;
	x = xcalloc(1, sizeof(*x));
	strlcpy(x->name, a->name, sizeof(x->name));
	x->type = type;
	x->path = xstrdup("");
	x->forward_member = 1;
	TAILQ_INSERT_TAIL(&member_actions, x, entry);
	return x;
}

struct member_find {
	const char	*member;
	int		 found;
};

static int
member_is(void *arg, const char *name, const char *member)
{
	struct member_find	*f = arg;

	if (member[0] == '\\')
		member++;
	if (strcmp(member, f->member) == 0)
		f->found = 1;
	return 0;
}

int
forward_deliver(const char *user, uid_t uid, const char *home, int type,
    const char *rcpt, int msgfd, const char *sender, int timeout, char *err,
    size_t errlen)
{
	struct member_find	 f = { NULL, 0 };
	struct mda_job		 job;
	char			 buf[FORWARD_FILE_MAX + 1], why[256];
	char			 owner[64];
	const char		*cmd, *member;
	size_t			 len;

	/* this worker's user's, and of this worker's kind */
	if (forward_target_split(rcpt, owner, sizeof(owner), &member) == -1 ||
	    strcmp(owner, user) != 0 || (member[0] == '|') !=
	    (type == ACTION_MDA)) {
		snprintf(err, errlen, "5.3.0 %s is no .forward %s of %s", rcpt,
		    type == ACTION_MDA ? "command" : "file", user);
		return MAILDIR_PERMFAIL;
	}
	f.member = member;

	/* what the queue holds is no proof: the user's file is */
	switch (forward_read(user, uid, home, buf, &len)) {
	case FORWARD_TEMPFAIL:
		snprintf(err, errlen, "4.3.0 cannot read ~%s/.forward now",
		    user);
		return MAILDIR_TEMPFAIL;
	case FORWARD_FOUND:
		if (aliases_parse_list(buf, len, user, member_is, &f, why,
		    sizeof(why)) == -1)
			f.found = 0;
		break;
	}
	if (!f.found) {
		snprintf(err, errlen, "5.1.1 ~%s/.forward no longer names %s",
		    user, member);
		return MAILDIR_PERMFAIL;
	}
	if (member[0] == '/')
		return mbox_deliver(member, msgfd, sender, member, walltime(),
		    MBOX_LOCK_WAIT, err, errlen);
	for (cmd = member + 1; *cmd == ' ' || *cmd == '\t'; cmd++)
		;
	memset(&job, 0, sizeof(job));
	job.command = cmd;
	job.user = user;
	job.home = home;
	job.sender = sender;
	job.rcpt = member;
	job.timeout = timeout;
	job.shell = 1;
	return mda_run(&job, msgfd, err, errlen);
}

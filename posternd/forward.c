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
#include "log.h"
#include "msg.h"
#include "posternd/deliver.h"
#include "posternd/forward.h"
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

void
forward_worker_main(int debug, int verbose)
{
	struct forward_setup	 s;
	struct wctx		 c;
	struct stat		 st;
	char			 buf[FORWARD_FILE_MAX + 1], err[256];
	ssize_t			 n;
	size_t			 len = 0;
	int			 sock = FORWARD_SOCK_FILENO, dfd, fd;
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
	/* the home: the user's or root's, writable by no one else */
	if ((dfd = open(s.home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			worker_end(sock, FORWARD_NONE);
		log_warn("~%s/.forward: %s", s.user, s.home);
		worker_end(sock, FORWARD_TEMPFAIL);
	}
	if (fstat(dfd, &st) == -1 || (st.st_uid != s.uid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("~%s/.forward ignored: the home %s is not the user's "
		    "or is writable by others", s.user, s.home);
		worker_end(sock, FORWARD_NONE);
	}
	if ((fd = openat(dfd, ".forward", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			worker_end(sock, FORWARD_NONE);
		log_warn("~%s/.forward ignored", s.user);
		worker_end(sock, errno == ELOOP || errno == EACCES ?
		    FORWARD_NONE : FORWARD_TEMPFAIL);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != s.uid || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
	    st.st_size > FORWARD_FILE_MAX) {
		log_warnx("~%s/.forward ignored: not a regular file of the "
		    "user's, writable by others, or larger than %d bytes",
		    s.user, FORWARD_FILE_MAX);
		worker_end(sock, FORWARD_NONE);
	}
	while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		if ((len += n) == sizeof(buf))
			break;
	if (n == -1 || len > FORWARD_FILE_MAX) {
		log_warnx("~%s/.forward ignored: cannot be read whole",
		    s.user);
		worker_end(sock, FORWARD_NONE);
	}
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

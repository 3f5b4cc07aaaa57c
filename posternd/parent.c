/*
 * posternd: the privileged parent.  It parses the configuration, opens what
 * needs root (listening sockets, the control socket), starts one re-executed
 * child per row of the process table, hands each its sockets and its part of
 * the configuration, and then only answers a handful of validated messages.
 * Fail-stop: if any child dies or misbehaves, everything stops and the
 * parent exits non-zero, so that the supervisor restarts the whole set.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "config.h"
#include "posternd/alias_watch.h"
#include "posternd/deliver.h"
#include "posternd/forward.h"
#include "clock.h"
#include "log.h"
#include "posternd/proc.h"
#include "posternd/sandbox.h"
#include "routing.h"
#include "table.h"
#include "util.h"

struct child {
	pid_t		 pid;
	time_t		 started;
	int		 ready;
	int		 parent_fd;	/* parent's end, until wired */
};

struct parent {
	struct postern_conf	*conf;
	struct proc		 proc;		/* the parent's own channels */
	struct child		 children[PROC_MAX];
	time_t			 started;
	int			 shutting_down;
	int			 control_fd;	/* until handed to control */
	int			 control_bound;	/* we made the socket file */
	int			 sendmail_fd;	/* until handed to control */
	int			 metrics_fd;	/* until handed to control,
						   or -1: none configured */
	char			 sendmail_path[sizeof(((struct sockaddr_un *)
				    0)->sun_path)];	/* "" until bound */
};

static struct parent	*parent;	/* signal handlers and lost_peer */
static struct proc_desc	 parent_desc;

static void	 parent_shutdown(int) __attribute__((noreturn));

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: posternd [-dnTv] [-f file] [-S log]\n");
	exit(1);
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSTOPPED(status))
		snprintf(buf, len, "stopped by signal %d (%s)",
		    WSTOPSIG(status), strsignal(WSTOPSIG(status)));
	else
		snprintf(buf, len, "stopped");
}

static enum proc_id
child_by_pid(pid_t pid)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (parent->children[i].pid == pid)
			return i;
	return PROC_PARENT;
}

/*
 * Stop every child and exit.  Children get SIGTERM and a few seconds; any
 * that remain are killed.  SIGCONT follows SIGTERM, so that a stopped
 * child acts on it too.
 */
static void
parent_shutdown(int code)
{
	struct timespec	 pause = { 0, 10 * 1000 * 1000 };
	time_t		 deadline;
	pid_t		 pid;
	int		 i, alive, status;

	parent->shutting_down = 1;
	deliver_kill_all();
	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (parent->children[i].pid > 0) {
			kill(parent->children[i].pid, SIGTERM);
			kill(parent->children[i].pid, SIGCONT);
		}
	deadline = monotime() + 5;
	for (;;) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			i = child_by_pid(pid);
			if (i != PROC_PARENT)
				parent->children[i].pid = 0;
		}
		alive = 0;
		for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
			if (parent->children[i].pid > 0)
				alive++;
		if (alive == 0)
			break;
		if (monotime() >= deadline) {
			for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
				if (parent->children[i].pid > 0) {
					log_warnx("%s (pid %d) did not stop; "
					    "killing it", proc_name(i),
					    parent->children[i].pid);
					kill(parent->children[i].pid, SIGKILL);
					waitpid(parent->children[i].pid,
					    &status, 0);
					parent->children[i].pid = 0;
				}
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (parent->control_bound)
		unlink(parent->conf->control_socket);
	if (parent->sendmail_path[0] != '\0')
		unlink(parent->sendmail_path);
	log_info("%s", code == 0 ? "stopped" : "stopped after a failure");
	exit(code);
}

/*
 * A child of the process set that is stopped (SIGSTOP, or a terminal's
 * SIGTSTP) does its job no more than a dead one: either stops the set.
 * Delivery workers are deliver.c's, which holds them to a deadline.
 */
static void
parent_sigchld(int sig, short event, void *arg)
{
	char		 why[128];
	pid_t		 pid;
	int		 status;
	enum proc_id	 id;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED |
	    WCONTINUED)) > 0) {
		if (deliver_reap(pid, status) || forward_reap(pid, status))
			continue;
		id = child_by_pid(pid);
		if (id == PROC_PARENT || WIFCONTINUED(status))
			continue;	/* not one of the process set */
		if (!WIFSTOPPED(status))
			parent->children[id].pid = 0;
		if (parent->shutting_down)
			continue;
		describe_status(status, why, sizeof(why));
		log_warnx("lost child: %s process (pid %d) %s", proc_name(id),
		    (int)pid, why);
		parent_shutdown(1);
	}
}

static void
parent_sigterm(int sig, short event, void *arg)
{
	log_info("received %s, stopping", strsignal(sig));
	parent_shutdown(0);
}

static void
parent_sighup(int sig, short event, void *arg)
{
	log_warnx("SIGHUP: configuration reload is not supported; "
	    "restart posternd to apply changes");
}

/*
 * A child's channel failed: it closed (the child most likely died), or the
 * child sent something malformed.  Either way, stop everything.
 */
static void
parent_lost_peer(struct proc *p, enum proc_id id, const char *why)
{
	struct timespec	 pause = { 0, 10 * 1000 * 1000 };
	char		 how[128];
	pid_t		 pid = parent->children[id].pid;
	int		 status, i;

	if (parent->shutting_down)
		return;
	/* Give the kernel a moment so the log can say how it died. */
	for (i = 0; pid > 0 && i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			parent->children[id].pid = 0;
			describe_status(status, how, sizeof(how));
			log_warnx("lost child: %s process (pid %d) %s",
			    proc_name(id), (int)pid, how);
			parent_shutdown(1);
		}
		if (strcmp(why, "channel closed") != 0)
			break;
		nanosleep(&pause, NULL);
	}
	log_warnx("lost child: %s process (pid %d): %s", proc_name(id),
	    (int)pid, why);
	parent_shutdown(1);
}

static void
parent_violation(enum proc_id from, struct imsg *imsg, const char *why)
{
	log_warnx("protocol violation by %s: %s (type %u, %zu bytes): %s",
	    proc_name(from), msg_type_name(imsg->hdr.type), imsg->hdr.type,
	    imsg->len, why);
	if (imsg->fd != -1)
		close(imsg->fd);
	parent_shutdown(1);
}

static void
parent_delivered(const struct msg_deliver_result *r)
{
	proc_compose(&parent->proc, PROC_QUEUE, IMSG_DELIVER_ENVELOPE_RESULT, 0,
	    -1, r, sizeof(*r));
}

/* A delivery worker runs as its user, not chrooted. */
static void
parent_send_worker(pid_t pid, const char *user, time_t uptime, void *arg)
{
	struct msg_ctl_status	 st;

	memset(&st, 0, sizeof(st));
	strlcpy(st.name, "deliver", sizeof(st.name));
	strlcpy(st.user, user, sizeof(st.user));
	strlcpy(st.chroot, "/", sizeof(st.chroot));
	st.pid = pid;
	st.uptime = uptime;
	proc_compose(&parent->proc, PROC_CONTROL, IMSG_CTL_STATUS_ENTRY,
	    *(uint32_t *)arg, -1, &st, sizeof(st));
}

static void
parent_send_status(struct imsg *imsg)
{
	struct msg_ctl_status	 st;
	int			 i;
	time_t			 now = monotime();

	for (i = 0; i < PROC_MAX; i++) {
		memset(&st, 0, sizeof(st));
		strlcpy(st.name, proc_name(i), sizeof(st.name));
		if (i == PROC_PARENT) {
			st.pid = getpid();
			strlcpy(st.user, "root", sizeof(st.user));
			strlcpy(st.chroot, "/", sizeof(st.chroot));
			st.uptime = now - parent->started;
		} else {
			const struct proc_desc	*d = &proc_table[i];

			st.pid = parent->children[i].pid;
			strlcpy(st.user, parent->conf->users[d->user],
			    sizeof(st.user));
			if (d->spool_sub != NULL)
				snprintf(st.chroot, sizeof(st.chroot), "%s/%s",
				    parent->conf->spool_dir, d->spool_sub);
			else
				strlcpy(st.chroot, CONF_DEFAULT_EMPTY,
				    sizeof(st.chroot));
			st.uptime = now - parent->children[i].started;
		}
		proc_compose(&parent->proc, PROC_CONTROL,
		    IMSG_CTL_STATUS_ENTRY, imsg->hdr.peerid, -1, &st,
		    sizeof(st));
	}
	deliver_foreach(parent_send_worker, &imsg->hdr.peerid);
	proc_compose(&parent->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
	    imsg->hdr.peerid, -1, NULL, 0);
}

/*
 * Everything a child may ask of the parent.  Each message is checked for
 * sender, type and size; anything else is a violation and stops the set.
 */
static void
parent_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct msg_ctl_verbose	 v;
	char			 why[1280];
	int			 i;

	if (from == PROC_QUEUE &&
	    imsg->hdr.type == IMSG_DELIVER_ENVELOPE_START) {
		if (deliver_start(parent->conf, imsg, parent_delivered, why,
		    sizeof(why)) == -1)
			parent_violation(from, imsg, why);
		return;
	}
	if (imsg->fd != -1)
		parent_violation(from, imsg, "unexpected file descriptor");
	if (from == PROC_SMTP && imsg->hdr.type == IMSG_FORWARD_LOOKUP) {
		if (forward_start(p, imsg, why, sizeof(why)) == -1)
			parent_violation(from, imsg, why);
		return;
	}

	if (imsg->hdr.type == IMSG_CONF_CHILD_READY) {
		if (msg_get_empty(imsg) == -1 || parent->children[from].ready)
			parent_violation(from, imsg, "bad ready message");
		parent->children[from].ready = 1;
		log_debug("%s process ready", proc_name(from));
		return;
	}
	if (from != PROC_CONTROL)
		parent_violation(from, imsg, "not allowed from this process");

	switch (imsg->hdr.type) {
	case IMSG_CTL_STATUS_GET:
		if (msg_get_empty(imsg) == -1)
			parent_violation(from, imsg, "bad size");
		parent_send_status(imsg);
		break;
	case IMSG_CTL_VERBOSE_SET:
		if (msg_get_ctl_verbose(imsg, &v) == -1)
			parent_violation(from, imsg, "bad size or value");
		log_setverbose(v.verbose);
		for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
			proc_compose(p, i, IMSG_CTL_VERBOSE_SET, 0, -1, &v,
			    sizeof(v));
		log_info("log verbosity set to %s",
		    v.verbose ? "verbose" : "brief");
		proc_compose(p, PROC_CONTROL, IMSG_CTL_REPLY_OK,
		    imsg->hdr.peerid, -1, NULL, 0);
		break;
	case IMSG_CTL_DAEMON_STOP:
		if (msg_get_empty(imsg) == -1)
			parent_violation(from, imsg, "bad size");
		/* control has acknowledged it to posternctl already */
		log_info("stop requested by posternctl");
		parent_shutdown(0);
	default:
		parent_violation(from, imsg, "not allowed from this process");
	}
}

static void
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat	 st;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (lstat(path, &st) == -1)
		fatal("stat %s", path);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", path);
	if (chown(path, uid, gid) == -1 || chmod(path, mode) == -1)
		fatal("setting owner and mode of %s", path);
}

static void
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if ((pw = getpwnam(name)) == NULL)
		fatalx("user %s does not exist (create it, or set it in "
		    "postern.conf)", name);
	if (pw->pw_uid == 0)
		fatalx("user %s must not be root", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

/*
 * The files a process keeps in its spool directory (its LMDB store) are
 * its user's: a spool written under another user (an older postern whose
 * processes shared one, or a "user" statement changed) is handed over.
 * Only regular files directly inside with one link, never through a
 * link.
 */
static void
own_files(const char *dir, uid_t uid, gid_t gid)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 dfd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || (d = fdopendir(dfd)) == NULL)
		fatal("open %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			fatal("stat %s/%s", dir, de->d_name);
		/*
		 * A hard link planted by a compromised child could name any
		 * file of the filesystem: root hands over only files with
		 * one link, which are the stores' own.
		 */
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
		    (st.st_uid == uid && st.st_gid == gid))
			continue;
		if (fchownat(dfd, de->d_name, uid, gid,
		    AT_SYMLINK_NOFOLLOW) == -1)
			fatal("chown %s/%s", dir, de->d_name);
		log_info("%s/%s: now owned by uid %ld", dir, de->d_name,
		    (long)uid);
	}
	closedir(d);
}

/*
 * Each process's user must exist, must not be root, and must be its own:
 * two processes under one uid could signal and trace each other.
 */
static void
check_users(const struct postern_conf *conf, uid_t uids[CONF_USER_MAX],
    gid_t gids[CONF_USER_MAX])
{
	int	 i, k;

	for (i = 0; i < CONF_USER_MAX; i++) {
		lookup_user(conf->users[i], &uids[i], &gids[i]);
		for (k = 0; k < i; k++)
			if (uids[k] == uids[i])
				fatalx("the %s and %s processes would run "
				    "under one uid (%s, %s): each needs a "
				    "user of its own", conf_user_process[k],
				    conf_user_process[i], conf->users[k],
				    conf->users[i]);
	}
}

/* Directories the children are chrooted to: owned as each needs. */
static void
prepare_dirs(struct postern_conf *conf)
{
	char	 path[PATH_MAX];
	uid_t	 uids[CONF_USER_MAX];
	gid_t	 gids[CONF_USER_MAX];
	int	 i;

	check_users(conf, uids, gids);
	make_dir(CONF_DEFAULT_EMPTY, 0755, 0, 0);
	make_dir(conf->spool_dir, 0755, 0, 0);
	for (i = PROC_PARENT + 1; i < PROC_MAX; i++) {
		const struct proc_desc	*d = &proc_table[i];

		if (d->spool_sub == NULL)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    conf->spool_dir, d->spool_sub) >= sizeof(path))
			fatalx("spool path too long");
		make_dir(path, 0700, uids[d->user], gids[d->user]);
		own_files(path, uids[d->user], gids[d->user]);
	}
}

/*
 * RLIMIT_NOFILE.  smtp needs a descriptor per session, the mta two per
 * session and one per delivery the queue has out (MSG_MTA_INFLIGHT_MAX,
 * each a memory file), and the parent holds the local ones of those
 * deliveries until a worker takes them.  Children inherit the parent's
 * hard limit, and only a process with CAP_SYS_RESOURCE may raise one, so
 * the parent, root, raises its own before it starts them.  Where it may
 * not (a container without CAP_SYS_RESOURCE, or past fs.nr_open),
 * smtp-max-sessions is lowered to what fits, loudly, so that clients past
 * it get a 421 rather than smtp failing to accept; the mta keeps what the
 * hard limit allows.  The parent's own soft limit (1024 from a login
 * shell) is raised as far as the hard limit allows.
 */
static void
parent_nofile(struct postern_conf *conf)
{
	struct rlimit	 rl;
	rlim_t		 need, mta, old, want = MSG_MTA_INFLIGHT_MAX + 1024;

	need = sandbox_smtp_nofile(conf->smtp.max_sessions);
	mta = sandbox_mta_nofile(conf->mta.max_sessions +
	    conf->mta.max_slow_sessions);
	if (mta > need)
		need = mta;
	if (want > need)
		need = want;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		old = rl.rlim_max;
		rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("RLIMIT_NOFILE hard limit raised from %llu to "
			    "%llu for smtp-max-sessions %zu and mta-max-sessions "
			    "%zu", (unsigned long long)old,
			    (unsigned long long)need, conf->smtp.max_sessions,
			    conf->mta.max_sessions);
		else {
			rl.rlim_max = old;
			if (old < SANDBOX_SMTP_SPARE + 1)
				fatal("RLIMIT_NOFILE hard limit %llu cannot be "
				    "raised to %llu", (unsigned long long)old,
				    (unsigned long long)need);
			if (sandbox_smtp_nofile(conf->smtp.max_sessions) >
			    old) {
				log_warn("RLIMIT_NOFILE hard limit %llu cannot "
				    "be raised to %llu: smtp-max-sessions "
				    "lowered from %zu to %llu",
				    (unsigned long long)old,
				    (unsigned long long)sandbox_smtp_nofile(
				    conf->smtp.max_sessions),
				    conf->smtp.max_sessions,
				    (unsigned long long)(old -
				    SANDBOX_SMTP_SPARE));
				conf->smtp.max_sessions = old -
				    SANDBOX_SMTP_SPARE;
			}
			if (mta > old)
				log_warn("RLIMIT_NOFILE hard limit %llu cannot "
				    "be raised to %llu: the mta keeps %llu "
				    "descriptors", (unsigned long long)old,
				    (unsigned long long)mta,
				    (unsigned long long)old);
		}
	}
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE %llu",
			    (unsigned long long)rl.rlim_cur);
	}
}

static void
open_listeners(struct postern_conf *conf)
{
	struct listener	*l;
	char		 host[128];
	int		 fd, on = 1;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			fatal("socket");
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("setsockopt SO_REUSEADDR");
		if (l->ss.ss_family == AF_INET6 && setsockopt(fd,
		    IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
			fatal("setsockopt IPV6_V6ONLY");
		if (bind(fd, (struct sockaddr *)&l->ss, l->sslen) == -1) {
			getnameinfo((struct sockaddr *)&l->ss, l->sslen, host,
			    sizeof(host), NULL, 0, NI_NUMERICHOST);
			fatal("listen on %s", host);
		}
		/*
		 * The longest listen queue the kernel allows (it caps the
		 * figure at net.core.somaxconn): clients arriving in a burst
		 * wait in it while smtp accepts, instead of the kernel
		 * dropping their handshakes once 128 wait.
		 */
		if (listen(fd, SOMAXCONN > 4096 ? SOMAXCONN : 4096) == -1)
			fatal("listen");
		l->fd = fd;
	}
}

/*
 * The metrics listener (metrics listen on ...), bound here as root so that
 * any port will do, served by the control process.
 */
static int
open_metrics_socket(const struct metrics_conf *m)
{
	char	 host[128];
	int	 fd, on = 1;

	fd = socket(m->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEADDR");
	if (m->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		fatal("setsockopt IPV6_V6ONLY");
	if (bind(fd, (const struct sockaddr *)&m->ss, m->sslen) == -1) {
		getnameinfo((const struct sockaddr *)&m->ss, m->sslen, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST);
		fatal("metrics listen on %s", host);
	}
	if (listen(fd, 16) == -1)
		fatal("listen");
	return fd;
}

/*
 * The control socket: mode 0660, owned by root and the control group.  A
 * socket that still answers belongs to a running posternd: refuse to start.
 */
static int
open_control_socket(struct postern_conf *conf, gid_t gid)
{
	struct sockaddr_un	 sun;
	int			 fd;
	mode_t			 old;
	gid_t			 egid;
	struct stat		 st;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->control_socket,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		fatalx("control socket path too long: %s",
		    conf->control_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("%s is in use: is posternd already running?",
		    conf->control_socket);
	if (unlink(conf->control_socket) == -1 && errno != ENOENT)
		fatal("unlink %s", conf->control_socket);
	/*
	 * Mode and group from the start: the umask gives 0660 and the
	 * effective group, which names the file's group, is the control
	 * group while bind(2) makes it.  Never a chown or chmod by path
	 * afterwards, which could by then name another file.
	 */
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	egid = getegid();
	if (setegid(gid) == -1)
		fatal("setegid %u", (unsigned)gid);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", conf->control_socket);
	if (setegid(egid) == -1)
		fatal("setegid %u", (unsigned)egid);
	umask(old);
	/*
	 * A setgid directory or a file system mounted grpid gives the
	 * socket the directory's group instead: refuse to start rather than
	 * let another group in.
	 */
	if (lstat(conf->control_socket, &st) == -1)
		fatal("lstat %s", conf->control_socket);
	if (st.st_uid != 0 || st.st_gid != gid ||
	    (st.st_mode & 07777) != 0660)
		fatalx("%s was made with owner %u:%u and mode %04o, not 0:%u "
		    "and 0660 (a setgid directory?)", conf->control_socket,
		    (unsigned)st.st_uid, (unsigned)st.st_gid,
		    (unsigned)(st.st_mode & 07777), (unsigned)gid);
	if (listen(fd, 16) == -1)
		fatal("listen %s", conf->control_socket);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	return fd;
}

/*
 * The local submission socket (posternctl sendmail): any local user may
 * connect, so it is made mode 0666 by the umask at bind(2), never by a
 * chmod of a path that could by then name something else.  Only the
 * control process accepts on it, and it takes nothing from it but the
 * peer's credentials: the connection goes to smtp as it is.  Called once
 * the control socket proved that no other posternd runs.
 */
static int
open_sendmail_socket(struct postern_conf *conf, char *path, size_t pathlen)
{
	struct sockaddr_un	 sun;
	int			 fd;
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (conf_sendmail_socket(conf->control_socket, sun.sun_path,
	    sizeof(sun.sun_path)) == -1)
		fatalx("local submission socket path too long for %s",
		    conf->control_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (unlink(sun.sun_path) == -1 && errno != ENOENT)
		fatal("unlink %s", sun.sun_path);
	old = umask(S_IXUSR | S_IXGRP | S_IXOTH);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", sun.sun_path);
	umask(old);
	strlcpy(path, sun.sun_path, pathlen);
	if (listen(fd, 16) == -1)
		fatal("listen %s", sun.sun_path);
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	return fd;
}

static pid_t
start_child(const char *self, enum proc_id id, int fd, int debug,
    int verbose)
{
	char	*argv[8];
	int	 argc = 0;
	pid_t	 pid;

	argv[argc++] = "posternd";
	argv[argc++] = "-P";
	argv[argc++] = (char *)proc_name(id);
	if (debug)
		argv[argc++] = "-d";
	if (verbose > 0)
		argv[argc++] = verbose > 1 ? "-vv" : "-v";
	if (sandbox_log_only) {
		argv[argc++] = "-S";
		argv[argc++] = "log";
	}
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		if (fd == PROC_PARENT_SOCK_FILENO) {
			if (fcntl(fd, F_SETFD, 0) == -1)
				_exit(1);
		} else if (dup2(fd, PROC_PARENT_SOCK_FILENO) == -1)
			_exit(1);
		closefrom(PROC_PARENT_SOCK_FILENO + 1);
		execv(self, argv);
		_exit(1);
	}
	return pid;
}

/* Read a whole small file (a certificate or key) into memory. */
static char *
read_file(const char *path, size_t max, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal("open %s", path);
	if (fstat(fd, &st) == -1)
		fatal("stat %s", path);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > max)
		fatalx("%s: not a regular file of at most %zu bytes", path,
		    max);
	buf = xmalloc((size_t)st.st_size);
	if ((n = read(fd, buf, (size_t)st.st_size)) != st.st_size)
		fatal("read %s", path);
	close(fd);
	*len = (size_t)n;
	return buf;
}

/*
 * What the smtp process needs besides routing (lib/routing.c): each pki's
 * certificate and key, which the parent reads as root.
 */
static void
setup_smtp_pkis(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_pki		 mp;
	struct pki			*pki;
	struct iovec			 iov[3];
	char				*cert, *key;
	size_t				 certlen, keylen;

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		memset(&mp, 0, sizeof(mp));
		strlcpy(mp.name, pki->name, sizeof(mp.name));
		cert = read_file(pki->cert_file, IMSG_MAX_PAYLOAD / 2, &certlen);
		key = read_file(pki->key_file, IMSG_MAX_PAYLOAD / 4, &keylen);
		mp.certlen = certlen;
		mp.keylen = keylen;
		iov[0].iov_base = &mp;
		iov[0].iov_len = sizeof(mp);
		iov[1].iov_base = cert;
		iov[1].iov_len = certlen;
		iov[2].iov_base = key;
		iov[2].iov_len = keylen;
		if (imsg_composev(ibuf, IMSG_CONF_PKI_ADD, 0, 0, -1, iov, 3) ==
		    -1)
			fatal("pki %s", pki->name);
		explicit_bzero(key, keylen);
		free(key);
		free(cert);
	}
}

/*
 * The password hashes of "listen on ... auth <T>" go to authd alone (it
 * checks SASL AUTH for smtp, which never sees them).  An entry that is
 * not "user hash" is skipped with a warning: it could never match.
 */
static void
setup_authd_credentials(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_credential	 mc;
	struct table			*t;
	struct table_entry		*te;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (!table_is_credentials(conf, t->name))
			continue;
		TAILQ_FOREACH(te, &t->entries, entry) {
			memset(&mc, 0, sizeof(mc));
			strlcpy(mc.table, t->name, sizeof(mc.table));
			if (te->value == NULL || te->value[0] != '$' ||
			    strlcpy(mc.user, te->key, sizeof(mc.user)) >=
			    sizeof(mc.user) || strlcpy(mc.hash, te->value,
			    sizeof(mc.hash)) >= sizeof(mc.hash)) {
				log_warnx("table %s: the entry for %s is not "
				    "\"user crypt-hash\"; skipped", t->name,
				    te->key);
				continue;
			}
			imsg_compose(ibuf, IMSG_CONF_CREDENTIAL_ADD, 0, 0, -1,
			    &mc, sizeof(mc));
			explicit_bzero(&mc, sizeof(mc));
			if (imsgbuf_flush(ibuf) == -1)
				fatal("sending credentials");
		}
	}
}

/*
 * LISTEN_AUTH_SCRAM_* for smtp: the mechanisms that some entry of the
 * credentials table has keys for (authd checks the forms themselves).
 */
static int
listener_scram_flags(struct postern_conf *conf, const char *table)
{
	struct table		*t;
	struct table_entry	*te;
	int			 flags = 0;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (strcmp(t->name, table) != 0)
			continue;
		TAILQ_FOREACH(te, &t->entries, entry) {
			if (te->value == NULL)
				continue;
			if (strstr(te->value, " SCRAM-SHA-256$") != NULL ||
			    strstr(te->value, "\tSCRAM-SHA-256$") != NULL)
				flags |= LISTEN_AUTH_SCRAM_SHA256;
			if (strstr(te->value, " SCRAM-SHA-1$") != NULL ||
			    strstr(te->value, "\tSCRAM-SHA-1$") != NULL)
				flags |= LISTEN_AUTH_SCRAM_SHA1;
		}
	}
	return flags;
}

/*
 * The "srs key" secrets, read here as root, for smtp (which rewrites the
 * sender of forwarded mail and reverses bounces) and the queue (which
 * checks a reversal smtp proposes).  Never logged; wiped once sent.
 */
static void
setup_srs(const struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_srs_key	 ms;
	size_t			 i, len;
	char			 err[512];

	for (i = 0; i < conf->srs.nkeys; i++) {
		memset(&ms, 0, sizeof(ms));
		strlcpy(ms.domain, conf->srs.domain[0] != '\0' ?
		    conf->srs.domain : conf->hostname, sizeof(ms.domain));
		if (conf_srs_key_read(conf->srs.key_files[i], ms.key, &len,
		    err, sizeof(err)) == -1)
			fatalx("srs key %s", err);
		ms.keylen = (uint32_t)len;
		if (imsg_compose(ibuf, IMSG_CONF_SRS_KEY_ADD, 0, 0, -1, &ms,
		    sizeof(ms)) == -1)
			fatal("srs key");
		explicit_bzero(&ms, sizeof(ms));
	}
}

/* A dkim-signature with its key, read here as root (authd, reportd). */
static void
setup_dkimsig(const struct dkim_signature *d, struct imsgbuf *ibuf)
{
	struct msg_conf_dkimsig	 md;
	struct iovec		 iov[2];
	char			*key;
	size_t			 keylen;

	memset(&md, 0, sizeof(md));
	strlcpy(md.name, d->name, sizeof(md.name));
	strlcpy(md.domain, d->domain, sizeof(md.domain));
	strlcpy(md.selector, d->selector, sizeof(md.selector));
	md.algorithm = d->algorithm;
	md.canon_header = d->canon_header;
	md.canon_body = d->canon_body;
	if (d->headers != NULL)
		strlcpy(md.headers, d->headers, sizeof(md.headers));
	md.expire = d->expire;
	md.oversign = d->oversign;
	key = read_file(d->key_file, IMSG_MAX_PAYLOAD / 2, &keylen);
	md.keylen = keylen;
	iov[0].iov_base = &md;
	iov[0].iov_len = sizeof(md);
	iov[1].iov_base = key;
	iov[1].iov_len = keylen;
	if (imsg_composev(ibuf, IMSG_CONF_DKIMSIG_ADD, 0, 0, -1, iov,
	    2) == -1 || imsgbuf_flush(ibuf) == -1)
		fatal("dkim-signature %s", d->name);
	explicit_bzero(key, keylen);
	free(key);
}

static void	setup_mta_addrs(struct postern_conf *, struct imsgbuf *);

/*
 * reportd's part: what it sends and as whom (the reports statements), the
 * addresses its TLS-RPT POSTs must not lead to unless allowed (the mta's
 * loop-check list), and the key of `reports sign with`, which reportd
 * signs its reports with.
 */
static void
setup_reportd(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_reports	 mr;
	struct reports_conf	*r = &conf->reports;
	struct dkim_signature	*d;

	memset(&mr, 0, sizeof(mr));
	mr.enabled = r->enabled;
	strlcpy(mr.from, r->from, sizeof(mr.from));
	strlcpy(mr.org, r->org, sizeof(mr.org));
	strlcpy(mr.contact, r->contact, sizeof(mr.contact));
	mr.period = r->period;
	strlcpy(mr.sign, r->sign, sizeof(mr.sign));
	mr.max_per_period = r->max_per_period;
	mr.failure = r->failure;
	mr.suppress = r->suppress;
	/* TLS-RPT's https: destinations are checked like MTA-STS hosts */
	if (conf->mta.ca_file != NULL)
		strlcpy(mr.ca_file, conf->mta.ca_file, sizeof(mr.ca_file));
	mr.failure_max = r->failure_max;
	imsg_compose(ibuf, IMSG_CONF_REPORTS_SET, 0, 0, -1, &mr, sizeof(mr));
	if (r->enabled)
		setup_mta_addrs(conf, ibuf);
	if (r->enabled && r->sign[0] != '\0') {
		if ((d = config_find_dkim_signature(conf, r->sign)) == NULL)
			fatalx("reports sign with: no dkim-signature %s",
			    r->sign);
		setup_dkimsig(d, ibuf);
	}
}

/*
 * authd's part: the policies listeners name, the DKIM signatures with
 * their keys (read here, as root; authd never opens a key file), the sign
 * rules, and the tables those name.
 */
static void
setup_authd(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_policy	 mp;
	struct msg_conf_sign	 ms;
	struct policy		*pol;
	struct dkim_signature	*d;
	struct sign_rule	*sr;
	size_t			 i;

	routing_send(conf, ibuf);	/* the tables of "sign ... from <T>" */
	setup_authd_credentials(conf, ibuf);
	TAILQ_FOREACH(d, &conf->dkim_signatures, entry)
		setup_dkimsig(d, ibuf);
	TAILQ_FOREACH(sr, &conf->sign_rules, entry) {
		memset(&ms, 0, sizeof(ms));
		for (i = 0; i < sr->nsignatures && i < 8; i++)
			strlcpy(ms.signatures[i], sr->signatures[i],
			    sizeof(ms.signatures[i]));
		ms.nsignatures = i;
		strlcpy(ms.from_table, sr->from_table, sizeof(ms.from_table));
		strlcpy(ms.domain, sr->domain, sizeof(ms.domain));
		strlcpy(ms.tag, sr->tag, sizeof(ms.tag));
		imsg_compose(ibuf, IMSG_CONF_SIGN_ADD, 0, 0, -1, &ms,
		    sizeof(ms));
	}
	TAILQ_FOREACH(sr, &conf->arc_seal_rules, entry) {
		memset(&ms, 0, sizeof(ms));
		if (sr->nsignatures == 0)
			continue;
		strlcpy(ms.signatures[0], sr->signatures[0],
		    sizeof(ms.signatures[0]));
		ms.nsignatures = 1;
		strlcpy(ms.tag, sr->tag, sizeof(ms.tag));
		imsg_compose(ibuf, IMSG_CONF_ARCSEAL_ADD, 0, 0, -1, &ms,
		    sizeof(ms));
	}

	TAILQ_FOREACH(pol, &conf->policies, entry) {
		memset(&mp, 0, sizeof(mp));
		strlcpy(mp.name, pol->name, sizeof(mp.name));
		mp.spf = pol->spf;
		mp.dkim = pol->dkim;
		mp.arc = pol->arc;
		mp.dmarc = pol->dmarc;
		mp.spf_reject_fail = pol->spf_reject_fail;
		mp.dkim_allow_sha1 = pol->dkim_allow_sha1;
		mp.dkim_fail_partial_body = pol->dkim_fail_partial_body;
		mp.dkim_max_signatures = pol->dkim_max_signatures;
		mp.quarantine = pol->quarantine;
		strlcpy(mp.quarantine_folder, pol->quarantine_folder,
		    sizeof(mp.quarantine_folder));
		imsg_compose(ibuf, IMSG_CONF_POLICY_ADD, 0, 0, -1, &mp,
		    sizeof(mp));
	}
}

/* A relay action or a transport, as the mta sees both. */
static void
setup_mta_relay(const struct action *a, struct imsgbuf *ibuf)
{
	struct msg_conf_relay	 mr;

	memset(&mr, 0, sizeof(mr));
	strlcpy(mr.name, a->name, sizeof(mr.name));
	mr.has_host = a->relay_url != NULL;
	mr.scheme = a->relay_scheme;
	strlcpy(mr.host, a->relay_host, sizeof(mr.host));
	mr.port = a->relay_port;
	mr.tls = a->relay_tls;
	strlcpy(mr.auth, a->relay_auth, sizeof(mr.auth));
	mr.mechs = a->relay_mechs;
	strlcpy(mr.helo, a->relay_helo, sizeof(mr.helo));
	mr.transport = a->transport;
	strlcpy(mr.socks5_host, a->socks5_host, sizeof(mr.socks5_host));
	mr.socks5_port = a->socks5_port;
	imsg_compose(ibuf, IMSG_CONF_RELAY_ADD, 0, 0, -1, &mr, sizeof(mr));
}

/*
 * route account <T>: the mta has no tables, so it gets one route per
 * account of the table, in its place in the order.
 */
static void
setup_mta_route_accounts(struct postern_conf *conf, struct route *rt,
    struct imsgbuf *ibuf)
{
	struct msg_conf_route	 mrt;
	struct table		*t;
	struct table_entry	*te;

	if ((t = config_find_table(conf, rt->account_table)) == NULL)
		fatalx("route: no table %s", rt->account_table);
	TAILQ_FOREACH(te, &t->entries, entry) {
		memset(&mrt, 0, sizeof(mrt));
		strlcpy(mrt.from_domain, rt->from_domain,
		    sizeof(mrt.from_domain));
		strlcpy(mrt.for_domain, rt->for_domain, sizeof(mrt.for_domain));
		if (strlcpy(mrt.account, te->key, sizeof(mrt.account)) >=
		    sizeof(mrt.account)) {
			log_warnx("table %s: account %s too long; skipped",
			    t->name, te->key);
			continue;
		}
		mrt.min_attempt = rt->min_attempt;
		strlcpy(mrt.transport, rt->transport, sizeof(mrt.transport));
		imsg_compose(ibuf, IMSG_CONF_ROUTE_ADD, 0, 0, -1, &mrt,
		    sizeof(mrt));
		if (imsgbuf_flush(ibuf) == -1)
			fatal("sending routes");
	}
}

static void
mta_addr_send(struct imsgbuf *ibuf, enum msg_mta_addr_kind kind,
    const struct sockaddr *sa, int prefixlen, size_t *nsent)
{
	struct msg_conf_mta_addr	 ma;
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (*nsent >= MSG_MTA_ADDR_MAX) {
		if (*nsent == MSG_MTA_ADDR_MAX)
			log_warnx("more than %d local addresses: the mta's "
			    "loop checks know the first %d", MSG_MTA_ADDR_MAX,
			    MSG_MTA_ADDR_MAX);
		(*nsent)++;
		return;
	}
	memset(&ma, 0, sizeof(ma));
	ma.kind = kind;
	ma.family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		memcpy(ma.addr, &sin->sin_addr, sizeof(sin->sin_addr));
		ma.port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(ma.addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
		ma.port = ntohs(sin6->sin6_port);
	} else
		return;
	ma.prefixlen = prefixlen;
	if (kind == MTA_ADDR_MX_ALLOW)
		ma.port = 0;
	imsg_compose(ibuf, IMSG_CONF_MTA_ADDR_ADD, 0, 0, -1, &ma, sizeof(ma));
	if (imsgbuf_flush(ibuf) == -1)
		fatal("sending mta addresses");
	(*nsent)++;
}

/*
 * What the mta needs for its loop checks (RFC 5321 5.1): the networks of
 * mta-mx-allow-network, then our listening addresses, and for a wildcard
 * listener the address of every interface (with that listener's port),
 * which the chrooted mta cannot list.
 */
static void
setup_mta_addrs(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct ifaddrs		*ifa, *i;
	struct sockaddr_storage	 ss;
	struct listener		*l;
	size_t			 n, nsent = 0;
	int			 wild;

	for (n = 0; n < conf->mta.nmx_allow; n++)
		mta_addr_send(ibuf, MTA_ADDR_MX_ALLOW,
		    (struct sockaddr *)&conf->mta.mx_allow[n],
		    conf->mta.mx_allow_prefixlen[n], &nsent);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		mta_addr_send(ibuf, MTA_ADDR_LISTEN,
		    (struct sockaddr *)&l->ss, 0, &nsent);
		if (l->ss.ss_family == AF_INET)
			wild = ((struct sockaddr_in *)&l->ss)->sin_addr.s_addr ==
			    htonl(INADDR_ANY);
		else
			wild = IN6_IS_ADDR_UNSPECIFIED(
			    &((struct sockaddr_in6 *)&l->ss)->sin6_addr);
		if (!wild)
			continue;
		if (getifaddrs(&ifa) == -1) {
			log_warn("getifaddrs: the mta knows only the "
			    "listening addresses as its own");
			continue;
		}
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL ||
			    (i->ifa_addr->sa_family != AF_INET &&
			    i->ifa_addr->sa_family != AF_INET6))
				continue;
			memset(&ss, 0, sizeof(ss));
			memcpy(&ss, i->ifa_addr, i->ifa_addr->sa_family ==
			    AF_INET ? sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6));
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port =
				    ((struct sockaddr_in *)&l->ss)->sin_port;
			else
				((struct sockaddr_in6 *)&ss)->sin6_port =
				    ((struct sockaddr_in6 *)&l->ss)->sin6_port;
			mta_addr_send(ibuf, MTA_ADDR_LISTEN,
			    (struct sockaddr *)&ss, 0, &nsent);
		}
		freeifaddrs(ifa);
	}
}

/*
 * The mta's part: its settings, the relay actions, and the credentials of
 * the tables those actions authenticate with (which no other process gets).
 */
static void
setup_mta(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_mta	 mm;
	struct msg_conf_route	 mrt;
	struct msg_conf_secret	 ms;
	struct route		*rt;
	struct action		*a;
	struct table		*t;
	struct table_entry	*te;
	const char		*colon;

	memset(&mm, 0, sizeof(mm));
	mm.timeout = conf->mta.timeout;
	mm.connect_timeout = conf->mta.connect_timeout;
	mm.max_sessions = conf->mta.max_sessions;
	mm.max_per_domain = conf->mta.max_per_domain;
	mm.max_slow_sessions = conf->mta.max_slow_sessions;
	mm.tls_fallback = conf->mta.tls_fallback;
	if (conf->mta.ca_file != NULL)
		strlcpy(mm.ca_file, conf->mta.ca_file, sizeof(mm.ca_file));
	imsg_compose(ibuf, IMSG_CONF_MTA_SET, 0, 0, -1, &mm, sizeof(mm));
	setup_mta_addrs(conf, ibuf);

	TAILQ_FOREACH(a, &conf->actions, entry)
		if (a->type == ACTION_RELAY)
			setup_mta_relay(a, ibuf);
	TAILQ_FOREACH(a, &conf->transports, entry)
		setup_mta_relay(a, ibuf);
	TAILQ_FOREACH(rt, &conf->routes, entry) {
		if (rt->account_table[0] != '\0') {
			setup_mta_route_accounts(conf, rt, ibuf);
			continue;
		}
		memset(&mrt, 0, sizeof(mrt));
		strlcpy(mrt.from_domain, rt->from_domain,
		    sizeof(mrt.from_domain));
		strlcpy(mrt.for_domain, rt->for_domain, sizeof(mrt.for_domain));
		strlcpy(mrt.account, rt->account, sizeof(mrt.account));
		mrt.min_attempt = rt->min_attempt;
		strlcpy(mrt.transport, rt->transport, sizeof(mrt.transport));
		imsg_compose(ibuf, IMSG_CONF_ROUTE_ADD, 0, 0, -1, &mrt,
		    sizeof(mrt));
	}
	TAILQ_FOREACH(t, &conf->tables, entry) {
		/* password hashes are authd's */
		if (!table_is_secret(conf, t->name) ||
		    table_is_credentials(conf, t->name))
			continue;
		TAILQ_FOREACH(te, &t->entries, entry) {
			memset(&ms, 0, sizeof(ms));
			strlcpy(ms.table, t->name, sizeof(ms.table));
			strlcpy(ms.host, te->key, sizeof(ms.host));
			if (te->value == NULL ||
			    (colon = strchr(te->value, ':')) == NULL ||
			    (size_t)(colon - te->value) >= sizeof(ms.user) ||
			    strlcpy(ms.password, colon + 1,
			    sizeof(ms.password)) >= sizeof(ms.password)) {
				log_warnx("table %s: the entry for %s is not "
				    "\"user:password\"; skipped", t->name,
				    te->key);
				continue;
			}
			memcpy(ms.user, te->value, colon - te->value);
			imsg_compose(ibuf, IMSG_CONF_SECRET_ADD, 0, 0, -1, &ms,
			    sizeof(ms));
			explicit_bzero(&ms, sizeof(ms));
			if (imsgbuf_flush(ibuf) == -1)
				fatal("sending credentials");
		}
	}
}

/* Hand a child its channels and its part of the configuration. */
static void
setup_child(struct postern_conf *conf, enum proc_id id,
    int pairs[PROC_MAX][PROC_MAX], int verbose)
{
	struct imsgbuf			*ibuf = &parent->proc.peers[id]->ibuf;
	const struct proc_desc		*d = &proc_table[id];
	struct msg_peer			 mp;
	struct msg_conf_global		 g;
	struct msg_conf_listener	 ml;
	struct listener			*l;
	int				 peer;

	for (peer = PROC_PARENT + 1; peer < PROC_MAX; peer++) {
		if (!proc_peers[id][peer])
			continue;
		mp.proc = peer;
		if (imsg_compose(ibuf, IMSG_CONF_PEER_ADD, 0, 0,
		    pairs[id][peer], &mp, sizeof(mp)) == -1)
			fatal("compose");
		pairs[id][peer] = -1;	/* imsg closes it once sent */
	}

	memset(&g, 0, sizeof(g));
	strlcpy(g.hostname, conf->hostname, sizeof(g.hostname));
	strlcpy(g.user, conf->users[d->user], sizeof(g.user));
	if (d->spool_sub != NULL)
		snprintf(g.chroot, sizeof(g.chroot), "%s/%s", conf->spool_dir,
		    d->spool_sub);
	else
		strlcpy(g.chroot, CONF_DEFAULT_EMPTY, sizeof(g.chroot));
	g.verbose = verbose;
	g.retry_first = conf->queue.retry_first;
	g.retry_max = conf->queue.retry_max;
	g.expire = conf->queue.expire;
	g.max_message_size = conf->queue.max_message_size;
	g.queue_memory_limit = conf->queue.memory_limit;
	g.queue_minfree = conf->queue.minfree;
	g.smtp_timeout = conf->smtp.timeout;
	g.smtp_max_sessions = conf->smtp.max_sessions;
	g.mta_max_sessions = conf->mta.max_sessions +
	    conf->mta.max_slow_sessions;
	g.smtp_max_per_ip = conf->smtp.max_per_ip;
	g.smtp_max_received = conf->smtp.max_received;
	g.smtp_ipv4_prefix = conf->smtp.ipv4_prefix;
	g.smtp_ipv6_prefix = conf->smtp.ipv6_prefix;
	g.smtp_data_timeout = conf->smtp.data_timeout;
	g.smtp_max_lifetime = conf->smtp.max_lifetime;
	g.smtp_min_data_rate = conf->smtp.min_data_rate;
	g.smtp_data_rate_window = conf->smtp.data_rate_window;
	g.smtp_max_idle_commands = conf->smtp.max_idle_commands;
	g.smtp_auth_max_failures = conf->smtp.auth_max_failures;
	g.smtp_auth_lockout = conf->smtp.auth_lockout;
	g.resolver = conf->resolver.configured;
	strlcpy(g.resolver_addr, conf->resolver.addr, sizeof(g.resolver_addr));
	g.resolver_port = conf->resolver.port;
	g.auth_dns_timeout = conf->auth_dns_timeout;
	if (conf->resolver.trust_anchor != NULL)
		strlcpy(g.trust_anchor, conf->resolver.trust_anchor,
		    sizeof(g.trust_anchor));
	imsg_compose(ibuf, IMSG_CONF_GLOBAL_SET, 0, 0, -1, &g, sizeof(g));

	if (id == PROC_SMTP) {
		routing_send(conf, ibuf);
		setup_srs(conf, ibuf);
		setup_smtp_pkis(conf, ibuf);
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			memset(&ml, 0, sizeof(ml));
			ml.ss = l->ss;
			ml.sslen = l->sslen;
			ml.flags = l->flags;
			if (l->flags & LISTEN_AUTH)
				ml.flags |= listener_scram_flags(conf,
				    l->auth_table);
			strlcpy(ml.pki, l->pki, sizeof(ml.pki));
			strlcpy(ml.tag, l->tag, sizeof(ml.tag));
			strlcpy(ml.hostname, l->hostname, sizeof(ml.hostname));
			strlcpy(ml.policy, l->policy, sizeof(ml.policy));
			strlcpy(ml.auth_table, l->auth_table,
			    sizeof(ml.auth_table));
			strlcpy(ml.senders_table, l->senders_table,
			    sizeof(ml.senders_table));
			imsg_compose(ibuf, IMSG_CONF_LISTENER_ADD, 0, 0,
			    dup(l->fd), &ml, sizeof(ml));
		}
	}
	if (id == PROC_QUEUE) {
		routing_send(conf, ibuf);	/* where DSNs go */
		setup_srs(conf, ibuf);		/* SRS reversals smtp asks */
		forward_send_key(ibuf);		/* .forward members' proofs */
	}
	if (id == PROC_MTA)
		setup_mta(conf, ibuf);
	if (id == PROC_AUTHD)
		setup_authd(conf, ibuf);
	if (id == PROC_REPORTD)
		setup_reportd(conf, ibuf);
	if (id == PROC_CONTROL) {
		struct msg_conf_control	 mc;
		struct group		*gr;
		struct passwd		*pw;
		char			**m;

		memset(&mc, 0, sizeof(mc));
		mc.gid = (uint32_t)-1;
		if (conf->control_group != NULL &&
		    (gr = getgrnam(conf->control_group)) != NULL) {
			mc.gid = gr->gr_gid;
			for (m = gr->gr_mem; *m != NULL &&
			    mc.nuids < CTL_MAX_ALLOWED_UIDS; m++)
				if ((pw = getpwnam(*m)) != NULL)
					mc.uids[mc.nuids++] = pw->pw_uid;
		}
		imsg_compose(ibuf, IMSG_CONF_CONTROL_SET, 0, 0,
		    dup(parent->control_fd), &mc, sizeof(mc));
		imsg_compose(ibuf, IMSG_CONF_SENDMAIL_SET, 0, 0,
		    dup(parent->sendmail_fd), NULL, 0);
		if (parent->metrics_fd != -1)
			imsg_compose(ibuf, IMSG_CONF_METRICS_SET, 0, 0,
			    dup(parent->metrics_fd), NULL, 0);
	}
	imsg_compose(ibuf, IMSG_CONF_SETUP_DONE, 0, 0, -1, NULL, 0);
	if (imsgbuf_flush(ibuf) == -1)
		fatal("sending set-up to %s", proc_name(id));
}

static void
start_children(struct postern_conf *conf, const char *self, int debug,
    int verbose)
{
	int	 pairs[PROC_MAX][PROC_MAX];
	int	 sv[2], a, b;

	for (a = 0; a < PROC_MAX; a++)
		for (b = 0; b < PROC_MAX; b++)
			pairs[a][b] = -1;
	for (a = 0; a < PROC_MAX; a++)
		for (b = a + 1; b < PROC_MAX; b++) {
			if (!proc_peers[a][b])
				continue;
			if (!proc_peers[b][a])
				fatalx("process table is not symmetric");
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    sv) == -1)
				fatal("socketpair");
			pairs[a][b] = sv[0];
			pairs[b][a] = sv[1];
		}
	for (a = PROC_PARENT + 1; a < PROC_MAX; a++) {
		parent->children[a].pid = start_child(self, a,
		    pairs[a][PROC_PARENT], debug, verbose);
		parent->children[a].started = monotime();
		close(pairs[a][PROC_PARENT]);
		imsgev_new(&parent->proc, a, pairs[PROC_PARENT][a]);
	}
	for (a = PROC_PARENT + 1; a < PROC_MAX; a++)
		setup_child(conf, a, pairs, verbose);
}

/*
 * file: tables are read once, here, as root; children get the entries.
 * A table anyone may write decides who gets mail and where it goes, and
 * one anyone may read may give away passwords (relay credentials) or
 * hashes to guess at: either stops the start, as ssh does for its keys.
 */
static int
load_file_tables(struct postern_conf *conf)
{
	struct table	*t;
	struct stat	 st;
	char		 err[512];
	int		 rv = 0;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (t->type != TABLE_FILE)
			continue;
		if (stat(t->path, &st) == 0 && (st.st_mode & S_IWOTH)) {
			fprintf(stderr, "table %s: %s is writable by anyone\n",
			    t->name, t->path);
			rv = -1;
			continue;
		}
		if (stat(t->path, &st) == 0 && (st.st_mode & S_IROTH) &&
		    table_is_secret(conf, t->name)) {
			fprintf(stderr, "table %s: %s holds credentials and is "
			    "readable by anyone (chmod o-r)\n", t->name,
			    t->path);
			rv = -1;
			continue;
		}
		if ((t->aliases ? aliases_load(t, err, sizeof(err)) :
		    table_load_file(t, err, sizeof(err))) == -1) {
			fprintf(stderr, "%s\n", err);
			rv = -1;
		}
	}
	return rv;
}

int
main(int argc, char *argv[])
{
	extern char		**environ;
	struct postern_conf	*conf;
	const struct proc_desc	*desc = NULL;
	struct event		 ev_chld, ev_term, ev_int, ev_hup;
	struct listener		*l;
	struct group		*gr;
	const char		*file = CONF_DEFAULT_FILE;
	char			 self[PATH_MAX];
	gid_t			 ctl_gid = 0;
	ssize_t			 n;
	int			 ch, debug = 0, noaction = 0, verbose = 0;
	int			 worker = 0, exe, test_hooks = 0;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "df:nP:S:Tv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'T':
			test_hooks = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'P':
			if (strcmp(optarg, "deliver") == 0) {
				worker = 1;
				break;
			}
			if (strcmp(optarg, "forward") == 0) {
				worker = 2;
				break;
			}
			if ((desc = proc_by_name(optarg)) == NULL)
				fatalx("unknown process %s", optarg);
			break;
		case 'S':
			if (strcmp(optarg, "log") != 0)
				usage();
			sandbox_log_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (argc != optind || ((test_hooks || sandbox_log_only) && !debug))
		usage();
	if (desc != NULL)
		proc_child_main(desc, debug, verbose);
	if (worker == 2)
		forward_worker_main(debug, verbose);
	if (worker)
		deliver_worker_main(debug, verbose);

	log_init(1, verbose, LOG_MAIL);
	log_procinit("parent");
	/*
	 * TEST ONLY: the POSTERN_TEST_* hooks reach the children only when
	 * the test suite asks with -T; -d alone is how systemd runs us.
	 */
	proc_test_corrupt_init("parent", debug && test_hooks);
	if ((conf = parse_config(file, verbose)) == NULL ||
	    load_file_tables(conf) == -1) {
		if (noaction)
			exit(1);
		fatalx("%s: configuration has errors; not starting", file);
	}
	if (noaction) {
		printf("configuration OK\n");
		free_config(conf);
		exit(0);
	}
	if (geteuid() != 0)
		fatalx("posternd must be started as root");
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	self[n] = '\0';
	/* workers are executed from this, even once a new binary replaced it */
	if ((exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1)
		fatal("open /proc/self/exe");

	parent = xcalloc(1, sizeof(*parent));
	parent->conf = conf;
	parent->control_fd = -1;
	parent->sendmail_fd = -1;
	parent->metrics_fd = -1;
	parent_desc = proc_table[PROC_PARENT];
	parent_desc.dispatch = parent_dispatch;
	parent->proc.desc = &parent_desc;
	parent->started = monotime();

	if (conf->control_group != NULL) {
		if ((gr = getgrnam(conf->control_group)) == NULL)
			fatalx("control group %s does not exist",
			    conf->control_group);
		ctl_gid = gr->gr_gid;
	}
	parent_nofile(conf);
	prepare_dirs(conf);
	open_listeners(conf);
	parent->control_fd = open_control_socket(conf, ctl_gid);
	parent->control_bound = 1;
	parent->sendmail_fd = open_sendmail_socket(conf,
	    parent->sendmail_path, sizeof(parent->sendmail_path));
	if (conf->metrics.enabled)
		parent->metrics_fd = open_metrics_socket(&conf->metrics);

	log_init(debug, verbose, LOG_MAIL);
	if (!debug && daemon(0, 0) == -1)
		fatal("daemon");
	setproctitle("parent");

	event_init();
	proc_lost_peer = parent_lost_peer;
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_chld, SIGCHLD, parent_sigchld, NULL);
	signal_set(&ev_term, SIGTERM, parent_sigterm, NULL);
	signal_set(&ev_int, SIGINT, parent_sigterm, NULL);
	signal_set(&ev_hup, SIGHUP, parent_sighup, NULL);
	signal_add(&ev_chld, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_hup, NULL);

	start_children(conf, self, debug, verbose);
	deliver_init(exe, conf->hostname, debug);
	alias_watch_start(conf, &parent->proc);

	/* The children have their own copies now. */
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		close(l->fd);
		l->fd = -1;
	}
	close(parent->control_fd);
	parent->control_fd = -1;
	close(parent->sendmail_fd);
	parent->sendmail_fd = -1;
	if (parent->metrics_fd != -1) {
		close(parent->metrics_fd);
		parent->metrics_fd = -1;
	}
	log_info("started, control socket %s", conf->control_socket);
	event_dispatch();
	fatalx("event loop ended");
}

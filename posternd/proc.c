/*
 * One table describes every process; forking, re-executing, wiring the
 * socketpairs, chrooting and dropping privileges are written once over it
 * (the relayd/httpd proc.c model).  Adding a process is adding a row.
 *
 * A child is started as `posternd -P NAME` with its channel to the parent
 * on fd 3.  Before it drops privileges it takes, in a blocking loop, the
 * sockets to its peers and its part of the configuration; then it chroots,
 * drops to its user with no supplementary groups, checks that it cannot
 * get root back, and runs one libevent loop.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dns.h"
#include "clock.h"
#include "log.h"
#include "posternd/proc.h"
#include "posternd/sandbox.h"
#include "util.h"

const struct proc_desc proc_table[PROC_MAX] = {
	[PROC_PARENT] = { .id = PROC_PARENT, .name = "parent" },
	[PROC_SMTP] = { .id = PROC_SMTP, .name = "smtp",
	    .user = CONF_USER_SMTP,
	    .conf = smtp_conf, .run = smtp_run, .dispatch = smtp_dispatch,
	    .shutdown = smtp_shutdown },
	[PROC_QUEUE] = { .id = PROC_QUEUE, .name = "queue",
	    .user = CONF_USER_QUEUE,
	    .spool_sub = "queue", .conf = queue_conf, .run = queue_run,
	    .dispatch = queue_dispatch, .shutdown = queue_shutdown },
	[PROC_MTA] = { .id = PROC_MTA, .name = "mta",
	    .user = CONF_USER_MTA, .spool_sub = "mta",
	    .conf = mta_conf, .preinit = mta_preinit, .run = mta_run,
	    .dispatch = mta_dispatch, .shutdown = mta_shutdown },
	[PROC_AUTHD] = { .id = PROC_AUTHD, .name = "authd",
	    .user = CONF_USER_AUTHD,
	    .conf = authd_conf, .preinit = authd_preinit, .run = authd_run,
	    .dispatch = authd_dispatch },
	[PROC_REPORTD] = { .id = PROC_REPORTD, .name = "reportd",
	    .user = CONF_USER_REPORTD,
	    .spool_sub = "reports", .conf = reportd_conf,
	    .preinit = reportd_preinit, .run = reportd_run,
	    .dispatch = reportd_dispatch,
	    .shutdown = reportd_shutdown },
	[PROC_CONTROL] = { .id = PROC_CONTROL, .name = "control",
	    .user = CONF_USER_CONTROL,
	    .conf = control_conf, .run = control_run,
	    .dispatch = control_dispatch },
};

/*
 * The channels.  The parent talks to everyone; among the children only the
 * pairs whose work needs it: smtp hands messages to queue and authd, queue
 * hands envelopes to mta, authd and mta report to reportd, reportd sends
 * its reports through the queue, the queue has authd write a mailing
 * list copy's header (authd/list.c), and control asks the processes that
 * answer posternctl's questions (authd only for its counters: it takes
 * no other request from control).
 */
const int proc_peers[PROC_MAX][PROC_MAX] = {
	/*		  par smtp que mta auth rep ctl */
	[PROC_PARENT] =	{ 0,  1,   1,  1,  1,   1,  1 },
	[PROC_SMTP] =	{ 1,  0,   1,  0,  1,   0,  1 },
	[PROC_QUEUE] =	{ 1,  1,   0,  1,  1,   1,  1 },
	[PROC_MTA] =	{ 1,  0,   1,  0,  0,   1,  1 },
	[PROC_AUTHD] =	{ 1,  1,   1,  0,  0,   1,  1 },
	[PROC_REPORTD] = { 1, 0,   1,  1,  1,   0,  1 },
	[PROC_CONTROL] = { 1, 1,   1,  1,  1,   1,  0 },
};

void	(*proc_lost_peer)(struct proc *, enum proc_id, const char *);
void	(*proc_peer_written)(struct proc *, enum proc_id);

/* SIGTERM in a child with a shutdown hook: noticed on the event loop. */
static volatile sig_atomic_t	 got_sigterm;
static int			 proc_stopping;	/* the hook ran */
static int			 proc_lingering;	/* and finishes later */
static int			 sigterm_pipe[2] = { -1, -1 };
static struct proc		*this_proc;

const char *
proc_name(enum proc_id id)
{
	if (id >= PROC_MAX)
		return "unknown";
	return proc_table[id].name;
}

const struct proc_desc *
proc_by_name(const char *name)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (strcmp(proc_table[i].name, name) == 0)
			return &proc_table[i];
	return NULL;
}

static void
imsgev_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct proc	*p = iev->proc;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	iev->events = 0;	/* not persistent: it fired, so it is idle */
	if (event & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == 0) {
			proc_lost_peer(p, iev->peer, "channel closed");
			return;
		}
		if (n == -1 && errno != EAGAIN) {
			proc_lost_peer(p, iev->peer, strerror(errno));
			return;
		}
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(&iev->ibuf) == -1) {
			proc_lost_peer(p, iev->peer, strerror(errno));
			return;
		}
	}
	for (;;) {
		r = imsg_get(&iev->ibuf, &imsg);
		if (r == -1) {
			proc_lost_peer(p, iev->peer, "malformed message");
			return;
		}
		if (r == 0)
			break;
		if (imsg.hdr.type == IMSG_NONE ||
		    imsg.hdr.type >= IMSG_TYPE_MAX) {
			if (imsg.fd != -1)
				close(imsg.fd);
			imsg_free(&imsg);
			proc_lost_peer(p, iev->peer, "unknown message type");
			return;
		}
		p->desc->dispatch(p, iev->peer, &imsg);
		imsg_free(&imsg);
		if (p->peers[iev->peer] != iev)
			return;		/* the handler dropped this channel */
	}
	/* The write queue shrank: a process may resume what it held back. */
	if ((event & EV_WRITE) && proc_peer_written != NULL)
		proc_peer_written(p, iev->peer);
	imsgev_update(iev);
}

void
imsgev_update(struct imsgev *iev)
{
	short	 events = EV_READ;

	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		events |= EV_WRITE;
	if (events == iev->events)
		return;
	if (iev->events)
		event_del(&iev->ev);
	iev->events = events;
	event_set(&iev->ev, iev->ibuf.fd, events, imsgev_dispatch, iev);
	event_add(&iev->ev, NULL);
}

struct imsgev *
imsgev_new(struct proc *p, enum proc_id peer, int fd)
{
	struct imsgev	*iev;

	iev = xcalloc(1, sizeof(*iev));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgbuf_init(&iev->ibuf, fd);
	iev->proc = p;
	iev->peer = peer;
	p->peers[peer] = iev;
	imsgev_update(iev);
	return iev;
}

void
imsgev_free(struct imsgev *iev)
{
	if (iev->events)
		event_del(&iev->ev);
	if (iev->proc->peers[iev->peer] == iev)
		iev->proc->peers[iev->peer] = NULL;
	close(iev->ibuf.fd);
	imsgbuf_clear(&iev->ibuf);
	free(iev);
}

/*
 * TEST ONLY: fault injection for regress/test_msg.py, which proves that a
 * malformed payload from a peer stops the daemon.  In a test run (-d -T)
 * the parent leaves POSTERN_TEST_CORRUPT="PROCESS:IMSG_NAME" in its
 * children's environment (outside test runs it removes it before any
 * child starts, and no process reads it); PROCESS then sends its next
 * message of that type one byte short, or one byte long when it is
 * empty, so that the receiver's decoder refuses it.  With a third part,
 * "id+N" or "id-N", the message keeps its size and the 64-bit id it
 * starts with (an envelope's, in a delivery result) is off by N instead:
 * it answers for an envelope the sender does not hold.
 */
#define PROC_TEST_CORRUPT	"POSTERN_TEST_CORRUPT"
static uint32_t	 proc_corrupt_type;
static int64_t	 proc_corrupt_id;

/*
 * TEST ONLY, likewise: POSTERN_TEST_REROUTE="ACTION" makes smtp propose
 * its next envelope with that destination, so that regress/test_msg.py
 * can prove the queue refuses routing it did not decide.
 */
#define PROC_TEST_REROUTE	"POSTERN_TEST_REROUTE"
static char	 proc_reroute_dest[64];

/*
 * TEST ONLY, likewise: POSTERN_TEST_FORWARD_FORGE="MEMBER" makes smtp
 * claim that the user's ~/.forward named MEMBER, for its next envelope
 * made from one, so that regress/test_forward.py can prove the queue
 * takes a .forward's members only with the parent's proof.
 */
#define PROC_TEST_FORWARD_FORGE	"POSTERN_TEST_FORWARD_FORGE"
static char	 proc_forge_member[256];

/*
 * TEST ONLY, likewise: POSTERN_TEST_CRASH="PROCESS:STEP" makes PROCESS
 * kill itself with SIGKILL when it reaches STEP of the commit or delivery
 * path (proc_test_crash()), so that regress/test_crash.py can cut the
 * power in a window too narrow for a kill from outside to hit.  SIGKILL,
 * not exit: nothing is flushed or said to anyone, as in a real crash.
 */
#define PROC_TEST_CRASH		"POSTERN_TEST_CRASH"
static char	 proc_crash_step[64];

const char *
proc_test_forward_forge(void)
{
	static char	 member[sizeof(proc_forge_member)];

	if (proc_forge_member[0] == '\0')
		return NULL;
	strlcpy(member, proc_forge_member, sizeof(member));
	proc_forge_member[0] = '\0';
	log_warnx("smtp: test: claiming .forward member \"%s\"", member);
	return member;
}

const char *
proc_test_reroute(void)
{
	static char	 dest[sizeof(proc_reroute_dest)];

	if (proc_reroute_dest[0] == '\0')
		return NULL;
	strlcpy(dest, proc_reroute_dest, sizeof(dest));
	proc_reroute_dest[0] = '\0';
	log_warnx("smtp: test: proposing an envelope with dest \"%s\"",
	    dest);
	return dest;
}

/*
 * Outside test runs (-T) no test hook may reach any process: every variable
 * named POSTERN_TEST_* goes, including hooks added after this was
 * written.  unsetenv() moves environ's entries, so start over after each.
 */
static void
proc_test_env_clear(void)
{
	extern char	**environ;
	char		  name[128];
	char		**e;
	size_t		  n;

 again:
	for (e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "POSTERN_TEST_", 13) != 0)
			continue;
		if ((n = strcspn(*e, "=")) >= sizeof(name))
			fatalx("environment: a POSTERN_TEST_ name too long");
		memcpy(name, *e, n);
		name[n] = '\0';
		if (unsetenv(name) == -1)
			fatal("unsetenv %s", name);
		goto again;
	}
}

/* The step this process is to crash at, if the test named one of its. */
static void
proc_test_crash_init(const char *name)
{
	const char	*v;
	size_t		 n = strlen(name);

	if ((v = getenv(PROC_TEST_CRASH)) == NULL ||
	    strncmp(v, name, n) != 0 || v[n] != ':' || v[n + 1] == '\0')
		return;
	if (strlcpy(proc_crash_step, v + n + 1, sizeof(proc_crash_step)) >=
	    sizeof(proc_crash_step))
		fatalx("%s: %s: step name too long", name, PROC_TEST_CRASH);
	log_warnx("%s: test: will crash at step %s", name, proc_crash_step);
}

void
proc_test_crash(const char *step)
{
	if (proc_crash_step[0] == '\0' || strcmp(step, proc_crash_step) != 0)
		return;
	log_warnx("test: crashing at step %s", step);
	kill(getpid(), SIGKILL);
	_exit(1);
}

/*
 * TEST ONLY, likewise: POSTERN_TEST_CLOCK_SHIFT=SECONDS (signed) moves
 * every process's wall clock (walltime(), lib/clock.h) by that much, so
 * that regress/test_time.py can restart the daemon with its clock set
 * back or forward over a queue scheduled by the true one.
 */
static void
proc_test_clock_init(const char *name)
{
	const char	*v, *errstr;
	long long	 secs;

	if ((v = getenv(CLOCK_TEST_SHIFT_ENV)) == NULL)
		return;
	secs = strtonum(v, -CLOCK_TEST_SHIFT_MAX, CLOCK_TEST_SHIFT_MAX,
	    &errstr);
	if (errstr != NULL)
		fatalx("%s: %s %s: %s", name, CLOCK_TEST_SHIFT_ENV, v, errstr);
	clock_test_shift(secs);
	log_warnx("%s: test: wall clock shifted by %lld seconds", name, secs);
}

void
proc_test_corrupt_init(const char *name, int debug)
{
	const char	*v, *p, *errstr;
	size_t		 n = strlen(name);
	uint32_t	 t;

	if (!debug) {
		proc_test_env_clear();
		return;
	}
	proc_test_crash_init(name);
	proc_test_clock_init(name);
	if (strcmp(name, "smtp") == 0 &&
	    (v = getenv(PROC_TEST_REROUTE)) != NULL)
		strlcpy(proc_reroute_dest, v, sizeof(proc_reroute_dest));
	if (strcmp(name, "smtp") == 0 &&
	    (v = getenv(PROC_TEST_FORWARD_FORGE)) != NULL)
		strlcpy(proc_forge_member, v, sizeof(proc_forge_member));
	if ((v = getenv(PROC_TEST_CORRUPT)) == NULL ||
	    strncmp(v, name, n) != 0 || v[n] != ':')
		return;
	v += n + 1;
	if ((p = strchr(v, ':')) != NULL) {
		if (strncmp(p + 1, "id", 2) != 0 ||
		    (p[3] != '+' && p[3] != '-'))
			fatalx("%s: %s: no such mode %s", name,
			    PROC_TEST_CORRUPT, p + 1);
		proc_corrupt_id = strtonum(p + 4, 1, 65535, &errstr);
		if (errstr != NULL)
			fatalx("%s: %s: id offset %s", name, PROC_TEST_CORRUPT,
			    errstr);
		if (p[3] == '-')
			proc_corrupt_id = -proc_corrupt_id;
		n = p - v;
	} else
		n = strlen(v);
	for (t = IMSG_NONE + 1; t < IMSG_TYPE_MAX; t++)
		if (strlen(msg_type_name(t)) == n &&
		    strncmp(v, msg_type_name(t), n) == 0)
			proc_corrupt_type = t;
	if (proc_corrupt_type == 0)
		fatalx("%s: %s names no message type", name, PROC_TEST_CORRUPT);
	log_warnx("%s: test: the next %s will be corrupted", name,
	    msg_type_name(proc_corrupt_type));
}

void
proc_ctl_stats(struct proc *p, uint32_t peerid, const struct msg_ctl_stat *st,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		proc_compose(p, PROC_CONTROL, IMSG_CTL_STATS_ENTRY, peerid, -1,
		    &st[i], sizeof(st[i]));
	proc_compose(p, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1, NULL, 0);
}

void
proc_flush_peer(struct proc *p, enum proc_id to)
{
	struct imsgev	*iev = p->peers[to];

	if (iev != NULL)
		(void)imsgbuf_write(&iev->ibuf);
}

/*
 * Queue one message to a peer.  Only a channel the process table does not
 * have, or a payload over IMSG_MAX_PAYLOAD, fails here, and every sender
 * splits what could be larger: failing is a bug, so it is fatal, and no
 * caller checks.
 */
void
proc_compose(struct proc *p, enum proc_id to, uint32_t type,
    uint32_t peerid, int fd, const void *data, size_t len)
{
	struct imsgev	*iev = p->peers[to];
	uint8_t		*copy = NULL;
	uint64_t	 id;

	if (iev == NULL && proc_lingering)
		return;		/* stopping: that sibling has gone already */
	if (iev == NULL)
		fatalx("%s: no channel to %s for %s", p->desc->name,
		    proc_name(to), msg_type_name(type));
	if (proc_corrupt_type != 0 && type == proc_corrupt_type) {
		/* TEST ONLY (proc_test_corrupt_init()) */
		proc_corrupt_type = 0;
		log_warnx("%s: test: corrupting %s to %s", p->desc->name,
		    msg_type_name(type), proc_name(to));
		if (proc_corrupt_id != 0 && len >= sizeof(id)) {
			copy = xmalloc(len);
			memcpy(copy, data, len);
			memcpy(&id, copy, sizeof(id));
			id += (uint64_t)proc_corrupt_id;
			memcpy(copy, &id, sizeof(id));
			data = copy;
		} else if (len > 0)
			len--;
		else {
			data = "";
			len = 1;
		}
	}
	if (imsg_compose(&iev->ibuf, type, peerid, 0, fd, data, len) == -1)
		fatal("%s: composing %s (%zu bytes) to %s", p->desc->name,
		    msg_type_name(type), len, proc_name(to));
	free(copy);
	imsgev_update(iev);
}

/*
 * For a shutdown hook, which runs outside the event loop: milliseconds
 * left before `deadline` (CLOCK_MONOTONIC), 0 once it has passed.
 */
static int
proc_ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void
proc_deadline(struct timespec *deadline, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += ms / 1000;
	deadline->tv_nsec += (long)(ms % 1000) * 1000000;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
}

/*
 * In a shutdown hook: write what is queued to `peer`, waiting at most ms
 * milliseconds for it to read.  0, or -1 when it did not all go.
 */
int
proc_flush(struct proc *p, enum proc_id peer, int ms)
{
	struct imsgev	*iev = p->peers[peer];
	struct timespec	 deadline;
	struct pollfd	 pfd;

	if (iev == NULL)
		return -1;
	proc_deadline(&deadline, ms);
	while (imsgbuf_queuelen(&iev->ibuf) > 0) {
		if (imsgbuf_write(&iev->ibuf) == -1)
			return -1;
		if (imsgbuf_queuelen(&iev->ibuf) == 0)
			break;
		pfd.fd = iev->ibuf.fd;
		pfd.events = POLLOUT;
		if ((ms = proc_ms_left(&deadline)) == 0 ||
		    (poll(&pfd, 1, ms) == -1 && errno != EINTR))
			return -1;
	}
	return 0;
}

/*
 * In a shutdown hook: take and dispatch the messages `peer` sends, until
 * done(p) says enough (1), the peer closes the channel (it has said all
 * it had to say before it exited) or ms milliseconds have passed.
 * Returns 0 when done, 1 at the channel's end, -1 at the deadline or on
 * an error.  The channel is not given up: the process is about to exit.
 */
int
proc_drain(struct proc *p, enum proc_id peer, int (*done)(struct proc *),
    int ms)
{
	struct imsgev	*iev = p->peers[peer];
	struct timespec	 deadline;
	struct pollfd	 pfd;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	proc_deadline(&deadline, ms);
	for (;;) {
		if (done != NULL && done(p))
			return 0;
		if (iev == NULL || p->peers[peer] != iev)
			return -1;
		while ((r = imsg_get(&iev->ibuf, &imsg)) == 1) {
			if (imsg.hdr.type == IMSG_NONE ||
			    imsg.hdr.type >= IMSG_TYPE_MAX) {
				imsg_free(&imsg);
				return -1;
			}
			p->desc->dispatch(p, peer, &imsg);
			imsg_free(&imsg);
			if (p->peers[peer] != iev)
				return -1;	/* the handler dropped it */
			if (done != NULL && done(p))
				return 0;
		}
		if (r == -1)
			return -1;
		pfd.fd = iev->ibuf.fd;
		pfd.events = POLLIN;
		if ((ms = proc_ms_left(&deadline)) == 0)
			return -1;
		if (poll(&pfd, 1, ms) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((n = imsgbuf_read(&iev->ibuf)) == 0)
			return 1;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}

/* Messages every child takes from the parent at run time. */
int
proc_common_imsg(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct msg_ctl_verbose	 v;

	if (from != PROC_PARENT)
		return 0;
	switch (imsg->hdr.type) {
	case IMSG_CTL_VERBOSE_SET:
		if (msg_get_ctl_verbose(imsg, &v) == -1)
			proc_bad_message(p, from, imsg);
		log_setverbose(v.verbose);
		log_debug("verbosity now %d", v.verbose);
		return 1;
	}
	return 0;
}

void
proc_unexpected(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	fatalx("unexpected %s (type %u, %zu bytes) from %s",
	    msg_type_name(imsg->hdr.type), imsg->hdr.type, imsg->len,
	    proc_name(from));
}

/*
 * A payload that does not decode: only a bug or a compromised sibling
 * sends one, so stop rather than guess (the parent then stops us all).
 */
void
proc_bad_message(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	fatalx("bad %s (type %u, %zu bytes) from %s",
	    msg_type_name(imsg->hdr.type), imsg->hdr.type, imsg->len,
	    proc_name(from));
}

/*
 * Run the shutdown hook, once, and exit, unless the hook has work to
 * finish on the event loop first (proc_linger()).
 */
static void
proc_stop(struct proc *p)
{
	if (!proc_stopping) {
		proc_stopping = 1;
		p->desc->shutdown(p);
	}
	if (!proc_lingering)
		exit(0);
}

/*
 * For a shutdown hook that must finish something on the event loop (the
 * mta waits for the replies to messages it sent): the process goes on
 * after the hook returns and exits by itself.  Meanwhile siblings that
 * go are forgotten, and what would be sent to them is dropped.
 */
void
proc_linger(void)
{
	proc_lingering = 1;
}

static void
child_lost_peer(struct proc *p, enum proc_id peer, const char *why)
{
	struct timespec	 pause = { 0, 200 * 1000 * 1000 };

	if (peer == PROC_PARENT)
		fatalx("lost the parent: %s", why);
	/*
	 * In an orderly stop the parent signals every child at once, so a
	 * sibling's channel may close just before our own SIGTERM arrives:
	 * give it a moment, so that only a real failure is logged as one.
	 */
	if (!proc_lingering)
		nanosleep(&pause, NULL);
	if (!got_sigterm)
		fatalx("lost %s: %s", proc_name(peer), why);
	proc_stop(p);
	imsgev_free(p->peers[peer]);
}

/*
 * The parent stops us with SIGTERM during an orderly shutdown.  Without
 * a shutdown hook there is nothing to say to anyone: exit at once.  With
 * one, wake the event loop through a pipe (only async-signal-safe calls
 * here) and let the hook run there.
 */
static void
child_sigterm(int sig)
{
	int	 saved_errno = errno;

	if (this_proc == NULL || this_proc->desc->shutdown == NULL)
		_exit(0);
	got_sigterm = 1;
	if (write(sigterm_pipe[1], "x", 1) == -1) {
		/* the loop will still see got_sigterm on its next wake-up */
	}
	errno = saved_errno;
}

static void
child_sigterm_event(int fd, short event, void *arg)
{
	proc_stop(arg);
}

/*
 * Drop to `user` in `root`: chroot, then groups, gid and uid, and prove the
 * drop cannot be undone.
 */
static void
proc_drop_privileges(const char *user, const char *root)
{
	struct passwd	*pw;
	const struct rlimit nocore = { 0, 0 };
	uid_t		 ruid, euid, suid;
	gid_t		 rgid, egid, sgid;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s", user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root", user);
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups(0, NULL) == -1)
		fatal("setgroups");
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		fatal("setresgid");
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("setresuid");

	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		fatalx("could regain root after dropping to %s", user);
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("getresuid");
	if (ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid)
		fatalx("privilege drop to %s incomplete", user);

	/*
	 * No core file and no ptrace from another process of the same user:
	 * a child's memory (session keys, DKIM signing requests, password
	 * hashes in authd) stays in it.  The kernel makes a process that
	 * changed its uid undumpable only while fs.suid_dumpable is 0.
	 */
	if (setrlimit(RLIMIT_CORE, &nocore) == -1)
		fatal("setrlimit RLIMIT_CORE");
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
}

void
proc_child_main(const struct proc_desc *desc, int debug, int verbose)
{
	struct proc		*p;
	struct imsgbuf		 setup;
	struct imsg		 imsg;
	struct msg_peer		 mp;
	struct msg_conf_global	 g;
	struct sigaction	 sa;
	struct event		 ev_sigterm;
	int			 peer_fds[PROC_MAX];
	int			 done = 0, r, i;
	ssize_t			 n;

	log_init(debug, verbose, LOG_MAIL);
	log_procinit(desc->name);
	setproctitle("%s", desc->name);
	proc_test_corrupt_init(desc->name, debug);

	p = xcalloc(1, sizeof(*p));
	p->desc = desc;
	for (i = 0; i < PROC_MAX; i++)
		peer_fds[i] = -1;
	peer_fds[PROC_PARENT] = PROC_PARENT_SOCK_FILENO;

	/* The set-up conversation with the parent: blocking, bounded. */
	imsgbuf_init(&setup, PROC_PARENT_SOCK_FILENO);
	memset(&g, 0, sizeof(g));
	while (!done) {
		n = imsgbuf_read(&setup);
		if (n == 0)
			fatalx("parent closed the channel during set-up");
		if (n == -1)
			fatal("set-up read");
		while (!done && (r = imsg_get(&setup, &imsg)) != 0) {
			if (r == -1)
				fatalx("malformed set-up message");
			switch (imsg.hdr.type) {
			case IMSG_CONF_PEER_ADD:
				if (msg_get_peer(&imsg, &mp) == -1 ||
				    mp.proc == PROC_PARENT ||
				    !proc_peers[desc->id][mp.proc] ||
				    peer_fds[mp.proc] != -1 || imsg.fd == -1)
					fatalx("bad peer message");
				peer_fds[mp.proc] = imsg.fd;
				break;
			case IMSG_CONF_GLOBAL_SET:
				if (msg_get_conf_global(&imsg, &g) == -1)
					proc_bad_message(p, PROC_PARENT, &imsg);
				break;
			case IMSG_CONF_SETUP_DONE:
				done = 1;
				break;
			default:
				if (desc->conf == NULL)
					proc_unexpected(p, PROC_PARENT, &imsg);
				desc->conf(p, &imsg);
				break;
			}
			imsg_free(&imsg);
		}
	}
	if (setup.rlen != 0 || setup.nrfds != 0)
		fatalx("parent sent more than the set-up");
	free(setup.rbuf);	/* keep fd 3: it becomes the parent channel */

	/* The parent chose our user and root; the global message has them. */
	if (g.user[0] == '\0' || g.chroot[0] != '/')
		fatalx("no user or chroot from the parent");
	p->global = g;
	strlcpy(p->user, g.user, sizeof(p->user));
	strlcpy(p->chroot, g.chroot, sizeof(p->chroot));
	p->base = event_init();
	if (desc->preinit != NULL)
		desc->preinit(p);
	sandbox_prepare(p, debug);
	proc_drop_privileges(p->user, p->chroot);

	proc_lost_peer = child_lost_peer;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (desc->shutdown != NULL) {
		if (pipe2(sigterm_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
			fatal("pipe");
		event_set(&ev_sigterm, sigterm_pipe[0], EV_READ,
		    child_sigterm_event, p);
		event_add(&ev_sigterm, NULL);
	}
	this_proc = p;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = child_sigterm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		fatal("sigaction");
	/* A terminal's ^C reaches the whole group: only the parent acts. */
	signal(SIGINT, SIG_IGN);
	for (i = 0; i < PROC_MAX; i++) {
		if (proc_peers[desc->id][i] && peer_fds[i] == -1)
			fatalx("no channel to %s", proc_name(i));
		if (peer_fds[i] != -1)
			imsgev_new(p, i, peer_fds[i]);
	}
	desc->run(p);
	sandbox_enter(p);
	proc_compose(p, PROC_PARENT, IMSG_CONF_CHILD_READY, 0, -1, NULL, 0);
	log_debug("running as %s in %s", p->user, p->chroot);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * The DNS context of a child that resolves (mta, authd), from the
 * resolver statement: made before chroot, since it reads resolv.conf and
 * the trust anchor.
 */
struct dns_ctx *
proc_dns_ctx(struct proc *p)
{
	struct dns_ctx	*dns;
	char		 err[512], addr[96];

	if (p->global.resolver) {
		snprintf(addr, sizeof(addr), "%s@%u", p->global.resolver_addr,
		    p->global.resolver_port);
		dns = dns_ctx_resolver(p->base, addr,
		    p->global.trust_anchor[0] != '\0' ?
		    p->global.trust_anchor : NULL, err, sizeof(err));
	} else
		dns = dns_ctx_system(p->base, err, sizeof(err));
	if (dns == NULL)
		fatalx("%s: DNS: %s", p->desc->name, err);
	return dns;
}

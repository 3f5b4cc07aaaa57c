/*
 * lmtp delivery, in a delivery worker (posternd/deliver.c): the worker
 * already runs as the recipient's user (or the action's `user`), so it is
 * that user who connects to the LMTP server, as a local user's own mail
 * client would: a unix socket such as Dovecot's /run/dovecot/lmtp is
 * reachable by users, and a server on host:port sees no privilege it
 * would not see from them.  The protocol is lib/lmtp.c's; this file does
 * the connecting, the reading and writing, and the clock.
 *
 * The connection stays open for the worker's life: the next message is
 * another transaction on it (RSET first).  A server that closed an idle
 * connection, or said 421 before closing it, is noticed before the next
 * transaction; one that closes it as the transaction begins fails it
 * before any reply: that one is tried again once on a new connection.
 *
 * Time: every wait for the server (connect, a reply, room to write) has
 * at most LMTP_WAIT_SECS, and a whole transaction the time the caller
 * gives, which is under the parent's deadline for the worker: a server
 * that stalls, after DATA too, makes the recipients not yet answered
 * temporary failures reported in time, not a worker the parent kills.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "lmtp.h"
#include "log.h"
#include "posternd/lmtp_deliver.h"
#include "smtp_reply.h"
#include "util.h"

#define LMTP_WAIT_SECS	120		/* for one step of the server */
#define LMTP_CHUNK	65536		/* of the message, per write */

struct lmtp_conn {
	int			 fd;
	struct lmtp_session	 s;
	int			 used;		/* a transaction ran on it */
};

static struct lmtp_conn	 conn = { .fd = -1 };

static void
conn_close(void)
{
	if (conn.fd != -1) {
		close(conn.fd);
		lmtp_free(&conn.s);
	}
	conn.fd = -1;
	conn.used = 0;
}

/* Milliseconds left before `deadline` (monotime_ms()), capped per step. */
static int
wait_ms(int64_t deadline)
{
	int64_t	 left = deadline - monotime_ms();

	if (left < 0)
		return 0;
	if (left > LMTP_WAIT_SECS * 1000)
		left = LMTP_WAIT_SECS * 1000;
	return (int)left;
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	 pfd = { fd, events, 0 };
	int		 n;

	while ((n = poll(&pfd, 1, wait_ms(deadline))) == -1 && errno == EINTR)
		;
	return n;
}

/* A non-blocking connect within the deadline; -1 and `err` if not. */
static int
connect_to(const struct sockaddr *sa, socklen_t salen, int64_t deadline,
    char *err, size_t errlen)
{
	socklen_t	 len = sizeof(int);
	int		 fd, soerr = 0;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (wait_fd(fd, POLLOUT, deadline) <= 0) {
		snprintf(err, errlen, "connect: timed out");
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 ||
	    soerr != 0) {
		snprintf(err, errlen, "connect: %s", strerror(soerr != 0 ?
		    soerr : errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* host:port with a [bracketed] IPv6 address: the host; NULL if bad. */
static const char *
dest_host(const char *dest, char *host, size_t hostlen)
{
	const char	*colon, *h = dest;
	size_t		 hlen;

	if ((colon = strrchr(dest, ':')) == NULL)
		return NULL;
	hlen = colon - dest;
	if (hlen >= 2 && dest[0] == '[' && dest[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= hostlen)
		return NULL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return colon + 1;
}

/*
 * The server's addresses, looked up once before the worker's seccomp
 * filter (lmtp_deliver_prepare()): under it, glibc's resolver could not
 * work (it sends its queries with sendmmsg(2), and sorts several
 * addresses after asking the kernel over a netlink socket), and nothing
 * executable may be mapped for the name service modules.  A worker
 * serves one action, so one destination, for a few seconds.
 */
static struct {
	char		 dest[PATH_MAX];
	int		 done;
	int		 rv;		/* getaddrinfo()'s */
	struct addrinfo	*res;
} prep;

static int
dest_lookup(const char *host, const char *port, struct addrinfo **res)
{
	struct addrinfo	 hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	return getaddrinfo(host, port, &hints, res);
}

/* A unix socket path, or host:port. */
static int
dest_connect(const char *dest, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct addrinfo		*res = NULL, *ai;
	char			 host[256];
	const char		*port;
	int			 fd = -1, rv;

	if (dest[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, dest, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path)) {
			snprintf(err, errlen, "socket path too long");
			return -1;
		}
		return connect_to((struct sockaddr *)&sun, sizeof(sun),
		    deadline, err, errlen);
	}
	if ((port = dest_host(dest, host, sizeof(host))) == NULL) {
		snprintf(err, errlen, "bad destination");
		return -1;
	}
	if (prep.done && strcmp(prep.dest, dest) == 0) {
		/* what the lookup before the filter found */
		if ((rv = prep.rv) == 0)
			res = prep.res;
	} else if ((rv = dest_lookup(host, port, &res)) != 0)
		res = NULL;
	if (rv != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = connect_to(ai->ai_addr, ai->ai_addrlen, deadline, err,
		    errlen);
	if (res != prep.res)
		freeaddrinfo(res);
	return fd;
}

/*
 * Before the worker's seccomp filter: the lookup of the server's name
 * (the name service modules nsswitch.conf names are loaded, code mapped,
 * now), kept for the worker's connections.  A failed lookup is kept too:
 * the worker's jobs fail for now and the next worker asks again.
 */
void
lmtp_deliver_prepare(const char *dest)
{
	char		 host[256];
	const char	*port;

	if (dest[0] == '/' ||
	    (port = dest_host(dest, host, sizeof(host))) == NULL)
		return;
	if (strlcpy(prep.dest, dest, sizeof(prep.dest)) >= sizeof(prep.dest))
		return;
	if ((prep.rv = dest_lookup(host, port, &prep.res)) != 0)
		prep.res = NULL;
	prep.done = 1;
}

/* Write what the engine put out; -1 and the session failed if not. */
static int
flush_out(int64_t deadline)
{
	struct buf	*b = &conn.s.out;
	ssize_t		 n;

	while (b->len > 0) {
		n = send(conn.fd, b->data, b->len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(b, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (wait_fd(conn.fd, POLLOUT, deadline) <= 0) {
				lmtp_fail(&conn.s, "4.4.2 LMTP server "
				    "stalled (writing)");
				return -1;
			}
			continue;
		}
		lmtp_fail(&conn.s, "4.4.2 connection to the LMTP server "
		    "lost");
		return -1;
	}
	return 0;
}

/* Write all of `b` with the same rules. */
static int
write_buf(struct buf *b, int64_t deadline)
{
	ssize_t	 n;
	size_t	 off = 0;

	while (off < b->len) {
		n = send(conn.fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN &&
		    wait_fd(conn.fd, POLLOUT, deadline) > 0)
			continue;
		lmtp_fail(&conn.s, n == -1 && errno == EAGAIN ?
		    "4.4.2 LMTP server stalled (taking the message)" :
		    "4.4.2 connection to the LMTP server lost");
		return -1;
	}
	buf_reset(b);
	return 0;
}

/* Send, then read until the engine has something else to say. */
static enum lmtp_event
step(int64_t deadline)
{
	enum lmtp_event	 ev;
	char		 in[4096];
	ssize_t		 n;

	for (;;) {
		if (flush_out(deadline) == -1)
			return LMTP_EV_FAIL;
		if (wait_fd(conn.fd, POLLIN, deadline) <= 0) {
			lmtp_fail(&conn.s, "4.4.2 LMTP server stalled (no "
			    "reply in time)");
			return LMTP_EV_FAIL;
		}
		if ((n = read(conn.fd, in, sizeof(in))) == -1 &&
		    (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			lmtp_fail(&conn.s, "4.4.2 connection to the LMTP "
			    "server lost");
			return LMTP_EV_FAIL;
		}
		if ((ev = lmtp_input(&conn.s, in, n)) != LMTP_EV_WANT)
			return ev;
	}
}

/* The message, dot-stuffed (RFC 5321 4.5.2), then "." (RFC 2033 4.2). */
static int
send_body(int msgfd, int64_t deadline)
{
	struct smtp_dotstuff	 d;
	struct buf		 b;
	uint8_t			 chunk[LMTP_CHUNK];
	off_t			 off = 0;
	ssize_t			 n;
	int			 rv = -1;

	buf_init(&b, 2 * LMTP_CHUNK + 16);
	smtp_dotstuff_init(&d);
	for (;;) {
		if ((n = pread(msgfd, chunk, sizeof(chunk), off)) == -1) {
			if (errno == EINTR)
				continue;
			lmtp_fail(&conn.s, "4.3.0 cannot read the message");
			goto done;
		}
		if (n == 0)
			break;
		off += n;
		if (smtp_dotstuff(&d, chunk, n, &b) == -1 ||
		    write_buf(&b, deadline) == -1)
			goto done;
	}
	if (smtp_dotstuff_end(&d, &b) == -1 || write_buf(&b, deadline) == -1)
		goto done;
	rv = 0;
 done:
	buf_free(&b);
	return rv;
}

/* A reason without the status it starts with, if it has one. */
static const char *
unprefixed(const char *why)
{
	if (why[0] == '4' && why[1] == '.' && strchr(why, ' ') != NULL)
		return strchr(why, ' ') + 1;
	return why;
}

/* One try on the connection there is or a new one. */
static void
transaction(const char *dest, const char *lhlo, int msgfd, const char *sender,
    struct lmtp_rcpt *rcpts, size_t n, int64_t deadline)
{
	enum lmtp_event	 ev;
	char		 err[512], why[1024];

	/*
	 * An idle session has nothing to read: anything there is the
	 * server's goodbye (421 on its idle timeout, RFC 5321 3.8) or the
	 * end of the connection.  A new one, then.
	 */
	if (conn.fd != -1 && wait_fd(conn.fd, POLLIN, monotime_ms()) != 0)
		conn_close();
	if (conn.fd == -1) {
		if ((conn.fd = dest_connect(dest, deadline, err,
		    sizeof(err))) == -1) {
			lmtp_init(&conn.s, lhlo);
			snprintf(why, sizeof(why), "4.4.1 LMTP server %s: %s",
			    dest, err);
			lmtp_begin(&conn.s, sender, rcpts, n);
			lmtp_fail(&conn.s, why);
			lmtp_free(&conn.s);
			return;
		}
		lmtp_init(&conn.s, lhlo);
		if ((ev = step(deadline)) != LMTP_EV_READY) {
			snprintf(why, sizeof(why), "4.4.2 LMTP server %s: %s",
			    dest, unprefixed(conn.s.error));
			lmtp_begin(&conn.s, sender, rcpts, n);
			lmtp_fail(&conn.s, why);
			conn_close();
			return;
		}
	}
	conn.used = 1;
	if ((ev = lmtp_begin(&conn.s, sender, rcpts, n)) == LMTP_EV_WANT)
		ev = step(deadline);
	if (ev == LMTP_EV_BODY) {
		if (send_body(msgfd, deadline) == 0) {
			lmtp_body_end(&conn.s);
			ev = step(deadline);
		} else
			ev = LMTP_EV_FAIL;
	}
	if (ev != LMTP_EV_DONE) {
		if (ev != LMTP_EV_FAIL)
			lmtp_fail(&conn.s, "4.4.2 LMTP session out of step");
		log_warnx("lmtp %s: %s", dest, conn.s.error);
		conn_close();
	}
}

void
lmtp_deliver(const char *dest, const char *lhlo, int msgfd,
    struct lmtp_job *jobs, size_t n, time_t secs)
{
	struct lmtp_rcpt	 rcpts[LMTP_RCPTS_MAX];
	int64_t			 deadline = monotime_ms() + secs * 1000;
	size_t			 i;
	int			 reused;

	if (n > LMTP_RCPTS_MAX)
		n = LMTP_RCPTS_MAX;	/* the caller's bound: never */
	memset(rcpts, 0, sizeof(rcpts));
	for (i = 0; i < n; i++)
		rcpts[i].addr = jobs[i].rcpt_to;
	reused = conn.fd != -1 && conn.used;
	transaction(dest, lhlo, msgfd, jobs[0].sender, rcpts, n, deadline);
	/*
	 * A reused connection the server had closed fails before any reply
	 * of this transaction: nothing was delivered, so once more anew.
	 */
	if (reused && conn.fd == -1 && conn.s.tx_replies == 0)
		transaction(dest, lhlo, msgfd, jobs[0].sender, rcpts, n,
		    deadline);
	for (i = 0; i < n; i++) {
		struct msg_deliver_result	*r = jobs[i].r;

		r->status = rcpts[i].status == LMTP_RCPT_OK ? DELIVER_OK :
		    rcpts[i].status == LMTP_RCPT_PERMFAIL ? DELIVER_PERMFAIL :
		    DELIVER_TEMPFAIL;
		strlcpy(r->dsn_status, rcpts[i].enhanced,
		    sizeof(r->dsn_status));
		if (rcpts[i].status == LMTP_RCPT_PENDING)
			strlcpy(r->error, "4.4.2 no outcome from the LMTP "
			    "server", sizeof(r->error));
		else if (rcpts[i].server) {
			/* RFC 3464 2.3.6: the server's reply, type smtp */
			strlcpy(r->error, rcpts[i].reply, sizeof(r->error));
			r->smtp_diag = r->status != DELIVER_OK;
		} else
			strlcpy(r->error, rcpts[i].reply, sizeof(r->error));
	}
}

void
lmtp_deliver_close(void)
{
	if (conn.fd == -1)
		return;
	lmtp_quit(&conn.s);
	if (conn.s.state == LMTP_S_QUIT)
		(void)step(monotime_ms() + 2000);
	conn_close();
}

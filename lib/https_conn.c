/*
 * One HTTPS exchange on one address (lib/https_conn.h): the libtls client
 * that the mta's MTA-STS fetch (RFC 8461 3.3) and reportd's TLS-RPT POST
 * (RFC 8460 5.4) share.  Each caller keeps its own limits (max, its
 * deadline) and policy (which addresses, how the certificate is checked,
 * how much of the answer it needs).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "https_conn.h"
#include "util.h"

struct https_conn {
	struct https_conn_hooks	 hooks;
	void			*arg;
	struct tls_config	*cfg;
	char			*servername;
	int			 fd;
	struct tls		*tls;
	int			 handshaking;
	struct event		 ev;
	int			 ev_set;
	struct buf		 req, in;
	size_t			 sent;
};

static void	conn_io(int, short, void *);

void
https_conn_cancel(struct https_conn *c)
{
	if (c == NULL)
		return;
	if (c->ev_set)
		event_del(&c->ev);
	if (c->tls != NULL) {
		tls_close(c->tls);
		tls_free(c->tls);
	}
	if (c->fd != -1)
		close(c->fd);
	buf_free(&c->req);
	buf_free(&c->in);
	free(c->servername);
	free(c);
}

static void
conn_end(struct https_conn *c, enum https_conn_status st, const char *why)
{
	c->hooks.done(c->arg, st, st == HTTPS_CONN_OK ?
	    (const char *)c->in.data : NULL, st == HTTPS_CONN_OK ?
	    c->in.len : 0, why);
	https_conn_cancel(c);
}

/* A failure in libtls's words (or the system's, when libtls has none). */
static void
conn_fail(struct https_conn *c, enum https_conn_status st, int err)
{
	const char	*why = NULL;

	if (c->tls != NULL)
		why = tls_error(c->tls);
	if (why == NULL)
		why = err != 0 ? strerror(err) : "failed";
	conn_end(c, st, why);
}

static void
conn_arm(struct https_conn *c, short what)
{
	if (c->ev_set)
		event_del(&c->ev);
	event_set(&c->ev, c->fd, what, conn_io, c);
	event_add(&c->ev, NULL);
	c->ev_set = 1;
}

/* Read what there is: 1 at the end of the answer, 0 for more, -1 gone. */
static int
conn_read(struct https_conn *c, short *want)
{
	char	 chunk[8192];
	ssize_t	 n;

	for (;;) {
		n = tls_read(c->tls, chunk, sizeof(chunk));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			*want = n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
			return 0;
		}
		/*
		 * Many HTTPS servers close without TLS's close_notify, which
		 * OpenSSL reports as an unexpected EOF: taken as the end, as
		 * browsers do, unless the caller can tell a whole answer
		 * (its enough hook) and this is not one: then anyone on the
		 * path could have cut it short (an MTA-STS policy's
		 * "max_age: 604800" made "max_age: 6").
		 */
		if (n == -1 && tls_error(c->tls) != NULL &&
		    strstr(tls_error(c->tls), "unexpected eof") != NULL) {
			if (c->hooks.enough == NULL)
				return 1;
			conn_end(c, HTTPS_CONN_READ, "the connection ended "
			    "without TLS close_notify before the whole "
			    "answer");
			return -1;
		}
		if (n == -1) {
			conn_fail(c, HTTPS_CONN_READ, errno);
			return -1;
		}
		if (n == 0)
			return 1;
		if (buf_add(&c->in, chunk, (size_t)n) == -1) {
			conn_end(c, HTTPS_CONN_TOOBIG, "the answer is too "
			    "large");
			return -1;
		}
		if (c->hooks.enough != NULL && c->hooks.enough(c->arg,
		    (const char *)c->in.data, c->in.len))
			return 1;
	}
}

static void
conn_io(int fd, short what, void *arg)
{
	struct https_conn	*c = arg;
	char			 why[300];
	ssize_t			 n;
	short			 want = EV_READ;
	int			 r, err = 0;
	socklen_t		 len = sizeof(err);

	c->ev_set = 0;
	if (c->tls == NULL) {		/* connected, or not */
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			conn_fail(c, HTTPS_CONN_CONNECT, err);
			return;
		}
		if ((c->tls = tls_client()) == NULL) {
			conn_end(c, HTTPS_CONN_SETUP, "tls_client");
			return;
		}
		if (tls_configure(c->tls, c->cfg) == -1 ||
		    tls_connect_socket(c->tls, c->fd, c->servername) == -1) {
			conn_fail(c, HTTPS_CONN_SETUP, 0);
			return;
		}
		c->handshaking = 1;
	}
	if (c->handshaking) {
		if ((r = tls_handshake(c->tls)) == -1) {
			conn_fail(c, HTTPS_CONN_HANDSHAKE, 0);
			return;
		}
		if (r != 0) {
			conn_arm(c, r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		c->handshaking = 0;
		if (c->hooks.verify != NULL) {
			strlcpy(why, "refused", sizeof(why));
			if (c->hooks.verify(c->arg, c->tls, why,
			    sizeof(why)) == -1) {
				conn_end(c, HTTPS_CONN_VERIFY, why);
				return;
			}
		}
	}
	while (c->sent < c->req.len) {
		n = tls_write(c->tls, c->req.data + c->sent,
		    c->req.len - c->sent);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			conn_arm(c, n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		if (n == -1) {
			conn_fail(c, HTTPS_CONN_WRITE, errno);
			return;
		}
		c->sent += (size_t)n;
	}
	if ((r = conn_read(c, &want)) == -1)
		return;
	if (r == 1) {
		conn_end(c, HTTPS_CONN_OK, NULL);
		return;
	}
	conn_arm(c, want);
}

struct https_conn *
https_conn_start(const struct sockaddr *sa, socklen_t salen,
    struct tls_config *cfg, const char *servername, const void *req,
    size_t reqlen, size_t max, const struct https_conn_hooks *hooks,
    void *arg)
{
	struct https_conn	*c;
	int			 save;

	c = xcalloc(1, sizeof(*c));
	c->hooks = *hooks;
	c->arg = arg;
	c->cfg = cfg;
	c->servername = xstrdup(servername);
	buf_init(&c->req, reqlen);
	buf_init(&c->in, max);
	if (buf_add(&c->req, req, reqlen) == -1) {
		c->fd = -1;
		https_conn_cancel(c);
		errno = ENOMEM;
		return NULL;
	}
	if ((c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || (connect(c->fd, sa, salen) == -1 &&
	    errno != EINPROGRESS)) {
		save = errno;
		https_conn_cancel(c);
		errno = save;
		return NULL;
	}
	conn_arm(c, EV_WRITE);
	return c;
}

/*
 * One HTTPS POST of a TLS-RPT report (RFC 8460 5.4): the host of the
 * https: URI looked up (A, then AAAA), a connection to its first address,
 * TLS with libtls and the certificate verified for the host name against
 * the CA bundle loaded before chroot (reportd_tls_preinit()), the report
 * sent with Content-Type application/tlsrpt+gzip, and the answer's status
 * line read.  Bounded: one deadline for the whole exchange, at most
 * TLSRPT_HTTP_ANSWER_MAX bytes of the answer read.  No redirects are
 * followed (5.4 says a 2xx answer is success; anything else is a
 * failure).  Parsing of the answer is tlsrpt_http_status(), I/O-free.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "reportd/https_post.h"
#include "reportd/tlsrpt.h"
#include "util.h"

#define HTTPS_POST_SECS	60	/* the whole exchange */

struct https_post {
	struct dns_ctx		*dns;
	struct tls_config	*cfg;
	https_post_cb		 cb;
	void			*arg;
	char			 host[256];
	unsigned int		 port;
	struct dns_query	*q;
	int			 family;	/* being looked up */
	int			 fd;
	struct tls		*tls;
	int			 handshaking;
	struct event		 ev, timer;
	int			 ev_set;
	struct buf		 req, in;
	size_t			 sent;
};

static void	post_io(int, short, void *);

void
https_post_cancel(struct https_post *h)
{
	if (h == NULL)
		return;
	if (h->q != NULL)
		dns_query_cancel(h->q);
	if (h->ev_set)
		event_del(&h->ev);
	evtimer_del(&h->timer);
	if (h->tls != NULL) {
		tls_close(h->tls);
		tls_free(h->tls);
	}
	if (h->fd != -1)
		close(h->fd);
	buf_free(&h->req);
	buf_free(&h->in);
	free(h);
}

/* The end: status (0 when none came) and why it is not a success. */
static void
post_end(struct https_post *h, int status, const char *why)
{
	https_post_cb	 cb = h->cb;
	void		*arg = h->arg;

	https_post_cancel(h);
	cb(arg, status, why);
}

static void
post_arm(struct https_post *h, short what)
{
	if (h->ev_set)
		event_del(&h->ev);
	event_set(&h->ev, h->fd, what, post_io, h);
	event_add(&h->ev, NULL);
	h->ev_set = 1;
}

static void
post_fail(struct https_post *h, const char *what)
{
	char	 why[300];

	snprintf(why, sizeof(why), "%s: %s", what, h->tls != NULL &&
	    tls_error(h->tls) != NULL ? tls_error(h->tls) : strerror(errno));
	post_end(h, 0, why);
}

static void
post_io(int fd, short what, void *arg)
{
	struct https_post	*h = arg;
	char			 chunk[4096];
	ssize_t			 n;
	int			 r, status, err = 0;
	socklen_t		 len = sizeof(err);

	h->ev_set = 0;
	if (h->tls == NULL) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			errno = err;
			post_fail(h, "connect");
			return;
		}
		/* libtls checks the chain and the name (RFC 8460 5.4) */
		if ((h->tls = tls_client()) == NULL ||
		    tls_configure(h->tls, h->cfg) == -1 ||
		    tls_connect_socket(h->tls, h->fd, h->host) == -1) {
			post_fail(h, "TLS set-up");
			return;
		}
		h->handshaking = 1;
	}
	if (h->handshaking) {
		if ((r = tls_handshake(h->tls)) == -1) {
			post_fail(h, "TLS handshake");
			return;
		}
		if (r != 0) {
			post_arm(h, r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		h->handshaking = 0;
	}
	while (h->sent < h->req.len) {
		n = tls_write(h->tls, h->req.data + h->sent,
		    h->req.len - h->sent);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			post_arm(h, n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		if (n == -1) {
			post_fail(h, "sending the report");
			return;
		}
		h->sent += (size_t)n;
	}
	for (;;) {
		n = tls_read(h->tls, chunk, sizeof(chunk));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			post_arm(h, n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE);
			return;
		}
		if (n > 0 && buf_add(&h->in, chunk, (size_t)n) == 0 &&
		    tlsrpt_http_status((const char *)h->in.data,
		    h->in.len) == -1)
			continue;	/* the status line is not complete */
		break;
	}
	status = tlsrpt_http_status((const char *)h->in.data, h->in.len);
	if (status == -1) {
		post_end(h, 0, "no HTTP answer");
		return;
	}
	snprintf(chunk, sizeof(chunk), "HTTP status %d", status);
	post_end(h, status, status >= 200 && status <= 299 ? NULL : chunk);
}

static void
post_timeout(int fd, short what, void *arg)
{
	post_end(arg, 0, "no answer in time");
}

static void	post_resolved(void *, const struct dns_answer *);

static void
post_connect(struct https_post *h, const struct dns_rr *rr)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen;

	memset(&ss, 0, sizeof(ss));
	if (rr->type == DNS_T_A) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(h->port);
		sin->sin_addr = rr->u.a;
		sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(h->port);
		sin6->sin6_addr = rr->u.aaaa;
		sslen = sizeof(*sin6);
	}
	if ((h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || (connect(h->fd,
	    (struct sockaddr *)&ss, sslen) == -1 && errno != EINPROGRESS)) {
		post_fail(h, "connect");
		return;
	}
	post_arm(h, EV_WRITE);
}

static void
post_resolved(void *arg, const struct dns_answer *ans)
{
	struct https_post	*h = arg;
	size_t			 i;

	h->q = NULL;
	for (i = 0; !ans->failed && ans->sec != DNS_SEC_BOGUS &&
	    i < ans->nrr; i++)
		if (ans->rr[i].type == ans->qtype) {
			post_connect(h, &ans->rr[i]);
			return;
		}
	if (ans->qtype == DNS_T_A) {
		if ((h->q = dns_query(h->dns, h->host, DNS_T_AAAA,
		    post_resolved, h)) != NULL)
			return;
	}
	post_end(h, 0, "the host has no address");
}

struct https_post *
https_post_start(struct dns_ctx *dns, struct tls_config *cfg,
    const char *uri, const char *ctype, const void *body, size_t len,
    https_post_cb cb, void *arg)
{
	struct https_post	*h;
	struct timeval		 tv = { HTTPS_POST_SECS, 0 };
	char			 target[TLSRPT_URI_MAX + 2];

	h = xcalloc(1, sizeof(*h));
	h->dns = dns;
	h->cfg = cfg;
	h->cb = cb;
	h->arg = arg;
	h->fd = -1;
	evtimer_set(&h->timer, post_timeout, h);
	buf_init(&h->req, len + 4096);
	buf_init(&h->in, TLSRPT_HTTP_ANSWER_MAX);
	if (cfg == NULL || tlsrpt_https_split(uri, h->host, sizeof(h->host),
	    &h->port, target, sizeof(target)) == -1 ||
	    buf_printf(&h->req, "POST %s HTTP/1.1\r\nHost: %s", target,
	    h->host) == -1 ||
	    /* RFC 9112 3.2: the URI's authority, its port too */
	    (h->port != 443 && buf_printf(&h->req, ":%u", h->port) == -1) ||
	    buf_printf(&h->req, "\r\nContent-Type: %s\r\nContent-Length: "
	    "%zu\r\nUser-Agent: postern\r\nConnection: close\r\n\r\n",
	    ctype, len) == -1 || buf_add(&h->req, body, len) == -1) {
		https_post_cancel(h);
		return NULL;
	}
	if ((h->q = dns_query(dns, h->host, DNS_T_A, post_resolved,
	    h)) == NULL) {
		https_post_cancel(h);
		return NULL;
	}
	evtimer_add(&h->timer, &tv);
	return h;
}

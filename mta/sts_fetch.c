/*
 * Fetching an MTA-STS policy (RFC 8461 3.3): GET
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt with libtls, the
 * certificate checked for that name against the mta's CA store (3.3: a
 * failure is sts-webpki-invalid), no redirects, at most STS_HTTP_MAX
 * bytes, within one deadline for the whole fetch.  The host's addresses
 * come from mxres with the mta's loop checks, so a policy host cannot
 * lead the mta to this host or to loopback unless mta-mx-allow-network
 * allows it.  The bytes are handed to sts.c; nothing is parsed here.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mta/mta.h"
#include "mta/sts.h"

#define STS_FETCH_SECS	60	/* the whole fetch, unless mta-timeout */

struct sts_fetch {
	struct mta		*mta;
	char			 domain[256];
	char			 host[300];	/* mta-sts.DOMAIN */
	sts_fetch_cb		 cb;
	void			*arg;
	struct mxres		*lookup;
	struct mxres_opts	 opts;		/* the loop checks */
	struct mxres_result	 res;
	size_t			 ai;		/* next address of res */
	int			 fd;
	struct tls		*tls;
	int			 handshaking;
	short			 want;
	struct event		 ev;
	int			 ev_set;
	struct event		 timer;
	char			 req[600];
	size_t			 reqlen, sent;
	struct buf		 in;
	char			 why[800];	/* last error */
	const char		*rpt;		/* RFC 8460 type of it */
};

static void	sts_fetch_connect(struct sts_fetch *);
static void	sts_fetch_io(int, short, void *);

static void
sts_fetch_close(struct sts_fetch *f)
{
	if (f->ev_set) {
		event_del(&f->ev);
		f->ev_set = 0;
	}
	if (f->tls != NULL) {
		tls_close(f->tls);
		tls_free(f->tls);
		f->tls = NULL;
	}
	if (f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
	f->handshaking = 0;
}

void
sts_fetch_cancel(struct sts_fetch *f)
{
	if (f == NULL)
		return;
	if (f->lookup != NULL)
		mxres_cancel(f->lookup);
	sts_fetch_close(f);
	evtimer_del(&f->timer);
	mxres_result_clear(&f->res);
	buf_free(&f->in);
	free(f);
}

/* The end: the callback gets the answer's bytes, or why there are none. */
static void
sts_fetch_finish(struct sts_fetch *f, int ok)
{
	sts_fetch_cb	 cb = f->cb;
	void		*arg = f->arg;

	if (ok)
		cb(arg, (const char *)f->in.data, f->in.len, NULL, NULL);
	else
		cb(arg, NULL, 0, f->why, f->rpt != NULL ? f->rpt :
		    "sts-policy-fetch-error");
	sts_fetch_cancel(f);
}

/* This address failed: say why and try the next. */
static void
sts_fetch_next(struct sts_fetch *f, const char *rpt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sts_fetch_next(struct sts_fetch *f, const char *rpt, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	f->rpt = rpt;
	log_debug("mta: MTA-STS fetch for %s: %s", f->domain, f->why);
	sts_fetch_close(f);
	f->ai++;
	sts_fetch_connect(f);
}

static void
sts_fetch_arm(struct sts_fetch *f, short what)
{
	if (f->ev_set)
		event_del(&f->ev);
	event_set(&f->ev, f->fd, what, sts_fetch_io, f);
	event_add(&f->ev, NULL);
	f->ev_set = 1;
}

/* The handshake is done: the name check, then the request. */
static int
sts_fetch_verify(struct sts_fetch *f)
{
	const uint8_t	*pem;
	size_t		 len;
	char		 why[160];

	pem = tls_peer_cert_chain_pem(f->tls, &len);
	if (pem == NULL || mta_cert_verify(f->mta->ca, pem, len, f->host, why,
	    sizeof(why)) == -1) {
		sts_fetch_next(f, "sts-webpki-invalid", "certificate of %s: %s",
		    f->host, pem == NULL ? "none" : why);
		return -1;
	}
	return 0;
}

/* Read what there is; 1 at the end of the answer, 0 for more, -1 gone. */
static int
sts_fetch_read(struct sts_fetch *f)
{
	char	 chunk[8192];
	ssize_t	 n;

	for (;;) {
		n = tls_read(f->tls, chunk, sizeof(chunk));
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			f->want = n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
			return 0;
		}
		/*
		 * Many HTTPS servers close without TLS's close_notify, which
		 * OpenSSL reports as an unexpected EOF: taken as the end, as
		 * browsers do.  A body cut short that way fails the
		 * Content-Length check, or lacks fields and is invalid (as
		 * if the fetch had been blocked: a cached policy holds), or
		 * lists fewer hosts.
		 */
		if (n == -1 && tls_error(f->tls) != NULL &&
		    strstr(tls_error(f->tls), "unexpected eof") != NULL)
			return 1;
		if (n == -1) {
			sts_fetch_next(f, NULL, "reading from %s: %s",
			    f->host, tls_error(f->tls));
			return -1;
		}
		if (n == 0)
			return 1;
		if (buf_add(&f->in, chunk, n) == -1) {
			sts_fetch_next(f, "sts-policy-invalid", "the answer "
			    "of %s is larger than %d bytes", f->host,
			    STS_HTTP_MAX);
			return -1;
		}
	}
}

static void
sts_fetch_io(int fd, short what, void *arg)
{
	struct sts_fetch	*f = arg;
	ssize_t			 n;
	int			 r;

	f->ev_set = 0;
	if (f->tls == NULL) {		/* connected, or not */
		int		 err = 0;
		socklen_t	 len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			sts_fetch_next(f, NULL, "connect to %s: %s", f->host,
			    strerror(err));
			return;
		}
		if ((f->tls = tls_client()) == NULL ||
		    tls_configure(f->tls, f->mta->tls_config) == -1 ||
		    tls_connect_socket(f->tls, f->fd, f->host) == -1) {
			sts_fetch_next(f, NULL, "TLS set-up: %s", f->tls ?
			    tls_error(f->tls) : "tls_client");
			return;
		}
		f->handshaking = 1;
		f->want = EV_WRITE;
	}
	if (f->handshaking) {
		if ((r = tls_handshake(f->tls)) == -1) {
			sts_fetch_next(f, "sts-webpki-invalid", "TLS handshake "
			    "with %s: %s", f->host, tls_error(f->tls));
			return;
		}
		if (r == 0) {
			f->handshaking = 0;
			if (sts_fetch_verify(f) == -1)
				return;
			f->want = EV_WRITE;
		} else
			f->want = r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
		if (f->handshaking) {
			sts_fetch_arm(f, f->want);
			return;
		}
	}
	while (f->sent < f->reqlen) {
		n = tls_write(f->tls, f->req + f->sent, f->reqlen - f->sent);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			sts_fetch_arm(f, n == TLS_WANT_POLLIN ? EV_READ :
			    EV_WRITE);
			return;
		}
		if (n == -1) {
			sts_fetch_next(f, NULL, "writing to %s: %s", f->host,
			    tls_error(f->tls));
			return;
		}
		f->sent += n;
	}
	f->want = EV_READ;
	if ((r = sts_fetch_read(f)) == -1)
		return;
	if (r == 1) {
		sts_fetch_finish(f, 1);
		return;
	}
	sts_fetch_arm(f, f->want);
}

/* The next address of mta-sts.DOMAIN, or the end with the last error. */
static void
sts_fetch_connect(struct sts_fetch *f)
{
	const struct mxres_addr	*a;
	enum netaddr_class	 c;

	buf_reset(&f->in);
	f->sent = 0;
	for (; f->res.nhosts > 0 && f->ai < f->res.hosts[0].naddr; f->ai++) {
		a = &f->res.hosts[0].addr[f->ai];
		/*
		 * The name comes from the recipient's DNS, not from our
		 * configuration: the same rules as for an MX (RFC 5321 5.1),
		 * so that it cannot lead us to this host or to loopback.
		 */
		if ((c = mxres_addr_classify((const struct sockaddr *)&a->ss,
		    0, &f->opts)) != NETADDR_USABLE) {
			snprintf(f->why, sizeof(f->why), "%s leads to %s: not "
			    "used", f->host, netaddr_class_name(c));
			continue;
		}
		if ((f->fd = socket(a->ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
			continue;
		if (connect(f->fd, (const struct sockaddr *)&a->ss,
		    a->sslen) == -1 && errno != EINPROGRESS) {
			snprintf(f->why, sizeof(f->why), "connect to %s: %s",
			    f->host, strerror(errno));
			close(f->fd);
			f->fd = -1;
			continue;
		}
		sts_fetch_arm(f, EV_WRITE);
		return;
	}
	sts_fetch_finish(f, 0);
}

static void
sts_fetch_resolved(void *arg, const struct mxres_result *res)
{
	struct sts_fetch	*f = arg;

	f->lookup = NULL;
	if (res->status != MXRES_OK || res->nhosts == 0) {
		snprintf(f->why, sizeof(f->why), "%s: %s", f->host,
		    res->reason[0] != '\0' ? res->reason : "no address");
		sts_fetch_finish(f, 0);
		return;
	}
	mxres_result_copy(&f->res, res);
	f->ai = 0;
	sts_fetch_connect(f);
}

static void
sts_fetch_timeout(int fd, short what, void *arg)
{
	struct sts_fetch	*f = arg;
	char			 before[sizeof(f->why)];

	strlcpy(before, f->why, sizeof(before));
	snprintf(f->why, sizeof(f->why), "fetching the policy from %s took "
	    "too long%s%.400s", f->host, before[0] != '\0' ? "; before: " :
	    "", before);
	f->rpt = NULL;
	sts_fetch_finish(f, 0);
}

struct sts_fetch *
sts_fetch_start(struct mta *m, const char *domain, sts_fetch_cb cb, void *arg)
{
	struct sts_fetch	*f = xcalloc(1, sizeof(*f));
	struct mxres_opts	*o;
	struct timeval		 tv = { STS_FETCH_SECS, 0 };

	f->mta = m;
	f->fd = -1;
	f->cb = cb;
	f->arg = arg;
	strlcpy(f->domain, domain, sizeof(f->domain));
	snprintf(f->host, sizeof(f->host), "mta-sts.%s", domain);
	buf_init(&f->in, STS_HTTP_MAX);
	if (sts_http_request(domain, f->req, sizeof(f->req)) == -1)
		fatalx("mta: MTA-STS request for %s does not fit", domain);
	f->reqlen = strlen(f->req);
	if (m->conf.timeout > 0)
		tv.tv_sec = m->conf.timeout;
	evtimer_set(&f->timer, sts_fetch_timeout, f);
	evtimer_add(&f->timer, &tv);
	o = &f->opts;
	o->family = AF_UNSPEC;
	o->port = 443;
	o->loop_check = 1;
	o->listen = m->listen;
	o->nlisten = m->nlisten;
	o->allow = m->mx_allow;
	o->nallow = m->nmx_allow;
	f->lookup = mxres_lookup_host(m->dns, f->host, o, sts_fetch_resolved,
	    f);
	return f;
}

/*
 * Fetching an MTA-STS policy (RFC 8461 3.3): GET
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt with libtls, the
 * certificate checked for that name against the mta's CA store (3.3: a
 * failure is sts-webpki-invalid), no redirects, at most STS_HTTP_MAX
 * bytes, within one deadline for the whole fetch.  The host's addresses
 * come from mxres with the mta's loop checks, so a policy host cannot
 * lead the mta to this host or to loopback unless mta-mx-allow-network
 * allows it.  The exchange itself is lib/https_conn.c's (shared with
 * reportd's TLS-RPT POST); the certificate check, the limits and the
 * choice of addresses are made here.  The bytes are handed to sts.c;
 * nothing is parsed here.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "https_conn.h"
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
	struct https_conn	*conn;		/* on address ai */
	struct event		 timer;
	char			 req[600];
	size_t			 reqlen;
	char			 why[800];	/* last error */
	const char		*rpt;		/* RFC 8460 type of it */
};

static void	sts_fetch_connect(struct sts_fetch *);

void
sts_fetch_cancel(struct sts_fetch *f)
{
	if (f == NULL)
		return;
	if (f->lookup != NULL)
		mxres_cancel(f->lookup);
	https_conn_cancel(f->conn);
	evtimer_del(&f->timer);
	mxres_result_clear(&f->res);
	free(f);
}

/* The end: the callback gets the answer's bytes, or why there are none. */
static void
sts_fetch_finish(struct sts_fetch *f, const char *data, size_t len)
{
	sts_fetch_cb	 cb = f->cb;
	void		*arg = f->arg;

	if (data != NULL)
		cb(arg, data, len, NULL, NULL);
	else
		cb(arg, NULL, 0, f->why, f->rpt != NULL ? f->rpt :
		    "sts-policy-fetch-error");
	sts_fetch_cancel(f);
}

/* The handshake is done: the name check (RFC 8461 3.3), then the request. */
static int
sts_fetch_verify(void *arg, struct tls *tls, char *why, size_t whylen)
{
	struct sts_fetch	*f = arg;
	const uint8_t		*pem;
	size_t			 len;
	char			 err[160];

	pem = tls_peer_cert_chain_pem(tls, &len);
	if (pem == NULL || mta_cert_verify(f->mta->ca, pem, len, f->host, err,
	    sizeof(err)) == -1) {
		snprintf(why, whylen, "certificate of %s: %s", f->host,
		    pem == NULL ? "none" : err);
		return -1;
	}
	return 0;
}

/* The exchange with address ai ended: the answer, or the next address. */
static void
sts_fetch_done(void *arg, enum https_conn_status st, const char *data,
    size_t len, const char *why)
{
	struct sts_fetch	*f = arg;

	f->conn = NULL;
	f->rpt = NULL;
	switch (st) {
	case HTTPS_CONN_OK:
		sts_fetch_finish(f, data != NULL ? data : "", len);
		return;
	case HTTPS_CONN_CONNECT:
		snprintf(f->why, sizeof(f->why), "connect to %s: %s", f->host,
		    why);
		break;
	case HTTPS_CONN_SETUP:
		snprintf(f->why, sizeof(f->why), "TLS set-up: %s", why);
		break;
	case HTTPS_CONN_HANDSHAKE:
		f->rpt = "sts-webpki-invalid";
		snprintf(f->why, sizeof(f->why), "TLS handshake with %s: %s",
		    f->host, why);
		break;
	case HTTPS_CONN_VERIFY:
		f->rpt = "sts-webpki-invalid";
		strlcpy(f->why, why, sizeof(f->why));
		break;
	case HTTPS_CONN_WRITE:
		snprintf(f->why, sizeof(f->why), "writing to %s: %s", f->host,
		    why);
		break;
	case HTTPS_CONN_READ:
		snprintf(f->why, sizeof(f->why), "reading from %s: %s",
		    f->host, why);
		break;
	case HTTPS_CONN_TOOBIG:
		f->rpt = "sts-policy-invalid";
		snprintf(f->why, sizeof(f->why), "the answer of %s is larger "
		    "than %d bytes", f->host, STS_HTTP_MAX);
		break;
	}
	log_debug("mta: MTA-STS fetch for %s: %s", f->domain, f->why);
	f->ai++;
	sts_fetch_connect(f);
}

/* An answer whole by its Content-Length need not wait for the close. */
static int
sts_fetch_enough(void *arg, const char *data, size_t len)
{
	return sts_http_complete(data, len);
}

static const struct https_conn_hooks sts_fetch_hooks = {
	sts_fetch_verify, sts_fetch_enough, sts_fetch_done
};

/* The next address of mta-sts.DOMAIN, or the end with the last error. */
static void
sts_fetch_connect(struct sts_fetch *f)
{
	const struct mxres_addr	*a;
	enum netaddr_class	 c;

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
		f->conn = https_conn_start((const struct sockaddr *)&a->ss,
		    a->sslen, f->mta->tls_config, f->host, f->req, f->reqlen,
		    STS_HTTP_MAX, &sts_fetch_hooks, f);
		if (f->conn == NULL) {
			snprintf(f->why, sizeof(f->why), "connect to %s: %s",
			    f->host, strerror(errno));
			continue;
		}
		return;
	}
	sts_fetch_finish(f, NULL, 0);
}

static void
sts_fetch_resolved(void *arg, const struct mxres_result *res)
{
	struct sts_fetch	*f = arg;

	f->lookup = NULL;
	if (res->status != MXRES_OK || res->nhosts == 0) {
		snprintf(f->why, sizeof(f->why), "%s: %s", f->host,
		    res->reason[0] != '\0' ? res->reason : "no address");
		sts_fetch_finish(f, NULL, 0);
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
	sts_fetch_finish(f, NULL, 0);
}

struct sts_fetch *
sts_fetch_start(struct mta *m, const char *domain, sts_fetch_cb cb, void *arg)
{
	struct sts_fetch	*f = xcalloc(1, sizeof(*f));
	struct mxres_opts	*o;
	struct timeval		 tv = { STS_FETCH_SECS, 0 };

	f->mta = m;
	f->cb = cb;
	f->arg = arg;
	strlcpy(f->domain, domain, sizeof(f->domain));
	snprintf(f->host, sizeof(f->host), "mta-sts.%s", domain);
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

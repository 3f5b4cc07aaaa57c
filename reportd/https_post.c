/*
 * One HTTPS POST of a TLS-RPT report (RFC 8460 5.4): the host of the
 * https: URI looked up (A and AAAA), its addresses held to the rules of
 * lib/netaddr.h in their strict form (the URI comes from someone else's
 * DNS: it must not lead reportd to this host, loopback, the unspecified
 * address, link-local or multicast addresses, unless inside a network of
 * `mta-mx-allow-network`), a connection to the first allowed address that
 * answers, TLS with libtls and the certificate verified for the host name
 * against the CA bundle loaded before chroot (reportd_tls_preinit()), the
 * report sent with Content-Type application/tlsrpt+gzip, and the answer's
 * status line read (lib/https_conn.c does the exchange).  Bounded: one
 * deadline for the whole POST, at most HTTPS_POST_ADDR_MAX addresses, at
 * most TLSRPT_HTTP_ANSWER_MAX bytes of the answer read.  No redirects are
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

#include "dns.h"
#include "https_conn.h"
#include "log.h"
#include "netaddr.h"
#include "reportd/https_post.h"
#include "reportd/tlsrpt.h"
#include "util.h"

#define HTTPS_POST_SECS	60	/* the whole exchange */

struct https_post {
	struct dns_ctx		*dns;
	struct tls_config	*cfg;
	const struct netaddr_rules *rules;
	https_post_cb		 cb;
	void			*arg;
	char			 uri[TLSRPT_URI_MAX + 1];
	char			 host[256];
	unsigned int		 port;
	struct dns_query	*q;
	int			 nohost;	/* NXDOMAIN/NODATA answers */
	int			 dnsfail;	/* no usable answer */
	struct sockaddr_storage	 addr[HTTPS_POST_ADDR_MAX];
	size_t			 naddr, ai;
	size_t			 nrefused;
	struct https_conn	*conn;
	struct event		 timer;
	struct buf		 req;
	char			 why[400];	/* the last failure */
};

void
https_post_cancel(struct https_post *h)
{
	if (h == NULL)
		return;
	if (h->q != NULL)
		dns_query_cancel(h->q);
	https_conn_cancel(h->conn);
	evtimer_del(&h->timer);
	buf_free(&h->req);
	free(h);
}

/* The end: status (0 when none came) and why it is not a success. */
static void
post_end(struct https_post *h, enum https_post_result res, int status,
    const char *why)
{
	https_post_cb	 cb = h->cb;
	void		*arg = h->arg;
	char		 text[sizeof(h->why)];

	strlcpy(text, why != NULL ? why : "", sizeof(text));
	https_post_cancel(h);
	cb(arg, res, status, res == HTTPS_POST_OK ? NULL : text);
}

static int
post_enough(void *arg, const char *data, size_t len)
{
	return tlsrpt_http_status(data, len) != -1;
}

static void	post_next(struct https_post *);

static void
post_done(void *arg, enum https_conn_status st, const char *data,
    size_t len, const char *why)
{
	struct https_post	*h = arg;
	int			 status;

	h->conn = NULL;
	if (st != HTTPS_CONN_OK && st != HTTPS_CONN_TOOBIG) {
		snprintf(h->why, sizeof(h->why), "%s: %s", st ==
		    HTTPS_CONN_CONNECT ? "connect" : st == HTTPS_CONN_SETUP ?
		    "TLS set-up" : st == HTTPS_CONN_HANDSHAKE ?
		    "TLS handshake" : st == HTTPS_CONN_WRITE ?
		    "sending the report" : "reading the answer", why);
		h->ai++;
		post_next(h);
		return;
	}
	status = st == HTTPS_CONN_OK ? tlsrpt_http_status(data, len) : -1;
	if (status == -1) {
		post_end(h, HTTPS_POST_FAILED, 0, "no HTTP answer");
		return;
	}
	snprintf(h->why, sizeof(h->why), "HTTP status %d", status);
	post_end(h, status >= 200 && status <= 299 ? HTTPS_POST_OK :
	    HTTPS_POST_FAILED, status, h->why);
}

static const struct https_conn_hooks post_hooks = {
	NULL, post_enough, post_done
};

/* The next allowed address, or the end with why none took the report. */
static void
post_next(struct https_post *h)
{
	struct sockaddr		*sa;
	enum netaddr_class	 c;
	char			 text[64];

	for (; h->ai < h->naddr; h->ai++) {
		sa = (struct sockaddr *)&h->addr[h->ai];
		if ((c = netaddr_classify(sa, 0, h->rules)) !=
		    NETADDR_USABLE) {
			/* the refusal with the URI and the address */
			log_warnx("reportd: TLS-RPT destination %s: %s leads "
			    "to %s, %s: refused", h->uri, h->host,
			    netaddr_text(sa, text, sizeof(text)),
			    netaddr_class_name(c));
			snprintf(h->why, sizeof(h->why), "%s leads to %s, "
			    "%s: refused", h->host, text,
			    netaddr_class_name(c));
			h->nrefused++;
			continue;
		}
		/* libtls checks the chain and the name (RFC 8460 5.4) */
		h->conn = https_conn_start(sa, sa->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
		    h->cfg, h->host, h->req.data, h->req.len,
		    TLSRPT_HTTP_ANSWER_MAX, &post_hooks, h);
		if (h->conn != NULL)
			return;
		snprintf(h->why, sizeof(h->why), "connect: %s",
		    strerror(errno));
	}
	if (h->naddr > 0 && h->nrefused == h->naddr)
		post_end(h, HTTPS_POST_REFUSED, 0, h->why);
	else if (h->naddr > 0 || h->dnsfail)
		post_end(h, HTTPS_POST_FAILED, 0, h->naddr > 0 ? h->why :
		    "the host's addresses could not be looked up");
	else
		post_end(h, HTTPS_POST_NOHOST, 0, h->nohost == 2 ?
		    "the host has no address" : "the host does not exist");
}

static void
post_resolved(void *arg, const struct dns_answer *ans)
{
	struct https_post	*h = arg;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	size_t			 i, nfound = 0;

	h->q = NULL;
	if (ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN))
		h->dnsfail = 1;
	else {
		for (i = 0; i < ans->nrr; i++) {
			if (ans->rr[i].type != ans->qtype)
				continue;
			nfound++;
			if (h->naddr >= HTTPS_POST_ADDR_MAX)
				continue;
			memset(&h->addr[h->naddr], 0, sizeof(h->addr[0]));
			if (ans->qtype == DNS_T_A) {
				sin = (struct sockaddr_in *)&h->addr[h->naddr];
				sin->sin_family = AF_INET;
				sin->sin_port = htons(h->port);
				sin->sin_addr = ans->rr[i].u.a;
			} else {
				sin6 = (struct sockaddr_in6 *)
				    &h->addr[h->naddr];
				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = htons(h->port);
				sin6->sin6_addr = ans->rr[i].u.aaaa;
			}
			h->naddr++;
		}
		/* 1: NXDOMAIN seen; 2: NODATA only */
		if (nfound == 0 && ans->rcode == DNS_R_NXDOMAIN)
			h->nohost = 1;
		else if (nfound == 0 && h->nohost == 0)
			h->nohost = 2;
	}
	if (ans->qtype == DNS_T_A && ans->rcode != DNS_R_NXDOMAIN) {
		if ((h->q = dns_query(h->dns, h->host, DNS_T_AAAA,
		    post_resolved, h)) != NULL)
			return;
	}
	h->ai = 0;
	post_next(h);
}

static void
post_timeout(int fd, short what, void *arg)
{
	struct https_post	*h = arg;
	char			 why[sizeof(h->why)];

	snprintf(why, sizeof(why), "no answer in time%s%.300s",
	    h->why[0] != '\0' ? "; before: " : "", h->why);
	post_end(h, HTTPS_POST_FAILED, 0, why);
}

struct https_post *
https_post_start(struct dns_ctx *dns, struct tls_config *cfg,
    const struct netaddr_rules *rules, const char *uri, const char *ctype,
    const void *body, size_t len, https_post_cb cb, void *arg)
{
	struct https_post	*h;
	struct timeval		 tv = { HTTPS_POST_SECS, 0 };
	char			 target[TLSRPT_URI_MAX + 2];

	h = xcalloc(1, sizeof(*h));
	h->dns = dns;
	h->cfg = cfg;
	h->rules = rules;
	h->cb = cb;
	h->arg = arg;
	strlcpy(h->uri, uri, sizeof(h->uri));
	evtimer_set(&h->timer, post_timeout, h);
	buf_init(&h->req, len + 4096);
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

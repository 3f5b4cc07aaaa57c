/*
 * Next-hop resolution for the outbound MTA (RFC 5321 5.1): the MX records
 * of the recipient domain sorted by preference, equal preferences in random
 * order, our own name and everything behind it dropped; no MX records means
 * the implicit MX (the domain itself, preference 0); a null MX (RFC 7505)
 * means the domain takes no mail.  Then the A/AAAA records of each host, at
 * most MXRES_MAX_INFLIGHT queries at a time, hosts without an address left
 * out.  Address literals (RFC 5321 4.1.3) need no DNS.  A smarthost is one
 * named host: A/AAAA only.
 *
 * Every size taken from DNS is bounded: at most MXRES_MAX_HOSTS hosts are
 * resolved (so an MX list of a thousand names costs at most 1 + 2 *
 * MXRES_MAX_HOSTS queries), at most MXRES_MAX_ADDRS addresses are kept per
 * host.  The DNSSEC status of every answer travels with the result, for the
 * DANE step (RFC 7672), which is not done here; neither are MTA-STS (RFC
 * 8461) MX filtering, connection attempts or address caching.
 *
 * Loops (RFC 5321 5.1, with opts->loop_check): an MX host with one of our
 * listening addresses is this host, so it and every host not better than
 * it are dropped, as for our own name; a loopback or unspecified address
 * reached through DNS or an address literal is left out unless an allowed
 * network covers it.  A smarthost named in the configuration is refused
 * only when it is our own listening address and port.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "mta/mxres.h"
#include "rule.h"
#include "util.h"

#define LITERAL_MAX	64	/* "IPv6:" and the longest IPv6 text form */
#define WHY_MAX		128

struct mxres_job {
	struct mxres		*m;
	size_t			 host;
	uint16_t		 type;
	struct dns_query	*q;
};

/* Answers for one host, per family, until they are merged. */
struct host_state {
	struct mxres_addr	 a6[MXRES_MAX_ADDRS];
	struct mxres_addr	 a4[MXRES_MAX_ADDRS];
	size_t			 n6, n4;
	enum dns_sec		 sec6, sec4;
	int			 bogus;
	int			 tempfail;
	int			 nxdomain;
	int			 cut;		/* not better than this host */
	char			 why[WHY_MAX];	/* why no address, so far */
};

struct mx_entry {
	uint16_t	 pref;
	char		 name[DNS_NAME_BUF];
};

struct mxres {
	struct dns_ctx		*dns;
	mxres_cb		 cb;
	void			*arg;
	int			 family;
	uint16_t		 port;
	struct mxres_opts	 loop;		/* loop_check, listen, allow */
	char			 myname[DNS_NAME_BUF];
	int			 have_myname;
	uint32_t		(*random)(void *, uint32_t);
	void			*random_arg;
	int			 host_only;	/* mxres_lookup_host() */
	struct dns_query	*mxq;
	struct event		*done_ev;
	int			 delivering;
	int			 starting;	/* inside mxres_lookup*() */
	struct mxres_result	 res;
	struct host_state	 hs[MXRES_MAX_HOSTS];
	struct mxres_job	 jobs[MXRES_MAX_HOSTS * 2];
	size_t			 njobs, nextjob, ninflight;
	/* the first address refused as a loop, for the reason */
	enum netaddr_class	 loop_class;
	char			 loop_host[DNS_NAME_BUF];
	char			 loop_addr[INET6_ADDRSTRLEN];
};

static void	mx_answer(void *, const struct dns_answer *);
static void	addr_answer(void *, const struct dns_answer *);
static void	start_jobs(struct mxres *);
static void	finish(struct mxres *);

const char *
mxres_status_name(enum mxres_status s)
{
	switch (s) {
	case MXRES_OK:		return "ok";
	case MXRES_NULLMX:	return "nullmx";
	case MXRES_TEMPFAIL:	return "tempfail";
	case MXRES_PERMFAIL:	return "permfail";
	default:		return "?";
	}
}

static uint32_t
default_random(void *arg, uint32_t upper)
{
	return arc4random_uniform(upper);
}

/* snprintf for texts where cutting a long name short is fine. */
static void
fmt_cut(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt_cut(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

#define set_reason(m, ...) \
	fmt_cut((m)->res.reason, sizeof((m)->res.reason), __VA_ARGS__)

/* Free everything but the handle's result hosts' owner: the whole object. */
static void
mxres_free(struct mxres *m)
{
	size_t	 i;

	if (m->mxq != NULL)
		dns_query_cancel(m->mxq);
	for (i = 0; i < m->njobs; i++)
		if (m->jobs[i].q != NULL)
			dns_query_cancel(m->jobs[i].q);
	if (m->done_ev != NULL)
		event_free(m->done_ev);
	free(m->res.hosts);
	free(m);
}

static void
deliver(struct mxres *m)
{
	m->delivering = 1;
	m->cb(m->arg, &m->res);
	mxres_free(m);
}

static void
deliver_ev(int fd, short ev, void *arg)
{
	deliver(arg);
}

/* Finish from the event loop: the caller has not even got the handle yet. */
static void
deliver_later(struct mxres *m)
{
	struct timeval	 tv;

	timerclear(&tv);
	m->done_ev = evtimer_new(dns_ctx_base(m->dns), deliver_ev, m);
	if (m->done_ev == NULL)
		fatalx("mxres: evtimer_new");
	evtimer_add(m->done_ev, &tv);
}

static void
fail_later(struct mxres *m, enum mxres_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail_later(struct mxres *m, enum mxres_status st, const char *fmt, ...)
{
	va_list	 ap;

	m->res.status = st;
	m->res.nhosts = 0;
	va_start(ap, fmt);
	vsnprintf(m->res.reason, sizeof(m->res.reason), fmt, ap);
	va_end(ap);
	deliver_later(m);
}

static struct mxres *
mxres_new(struct dns_ctx *dns, const struct mxres_opts *opts, mxres_cb cb,
    void *arg)
{
	struct mxres	*m;

	m = xcalloc(1, sizeof(*m));
	m->dns = dns;
	m->cb = cb;
	m->arg = arg;
	m->family = AF_UNSPEC;
	m->port = MXRES_PORT_DEFAULT;
	m->random = default_random;
	if (opts != NULL) {
		if (opts->family == AF_INET || opts->family == AF_INET6)
			m->family = opts->family;
		if (opts->port != 0)
			m->port = opts->port;
		if (opts->myname != NULL && *opts->myname != '\0' &&
		    dns_name_canon(opts->myname, m->myname,
		    sizeof(m->myname)) == 0)
			m->have_myname = 1;
		if (opts->random != NULL) {
			m->random = opts->random;
			m->random_arg = opts->random_arg;
		}
		m->loop.loop_check = opts->loop_check;
		m->loop.listen = opts->listen;
		m->loop.nlisten = opts->nlisten;
		m->loop.allow = opts->allow;
		m->loop.nallow = opts->nallow;
	}
	m->res.hosts = xcalloc(MXRES_MAX_HOSTS, sizeof(*m->res.hosts));
	m->res.mx_sec = DNS_SEC_INSECURE;
	return m;
}

static void
set_sockaddr(struct mxres_addr *a, int af, const void *addr, uint16_t port,
    enum dns_sec sec)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	memset(a, 0, sizeof(*a));
	a->sec = sec;
	if (af == AF_INET) {
		sin = (struct sockaddr_in *)&a->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		a->sslen = sizeof(*sin);
	} else {
		sin6 = (struct sockaddr_in6 *)&a->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		a->sslen = sizeof(*sin6);
	}
}

/* Loops: where an address leads (lib/netaddr.c decides). */

enum netaddr_class
mxres_addr_classify(const struct sockaddr *sa, int named,
    const struct mxres_opts *o)
{
	struct netaddr_rules	 r;

	if (o == NULL || !o->loop_check)
		return NETADDR_USABLE;
	memset(&r, 0, sizeof(r));
	r.listen = o->listen;
	r.nlisten = o->nlisten;
	r.allow = o->allow;
	r.nallow = o->nallow;
	return netaddr_classify(sa, named, &r);
}

/*
 * An address: "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3), and
 * with bare set also "192.0.2.1" and "2001:db8::1".  Returns the family, 0
 * for text that is not an address at all, -1 for a bracketed literal that
 * is malformed or of a kind we cannot use.
 */
static int
parse_address(const char *s, int bare, uint8_t *addr)
{
	char	 buf[LITERAL_MAX + 1];
	size_t	 len = strlen(s);

	if (len > 0 && s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 > LITERAL_MAX)
			return -1;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		/* The tag is case-insensitive like every ABNF literal. */
		if (strncasecmp(buf, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, buf + 5, addr) == 1 ?
			    AF_INET6 : -1;
		/* General-address-literal with another tag: none defined. */
		if (strchr(buf, ':') != NULL)
			return -1;
		return inet_pton(AF_INET, buf, addr) == 1 ? AF_INET : -1;
	}
	if (!bare || len > LITERAL_MAX)
		return 0;
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

/* One host with the given address, no DNS. */
static void
literal_result(struct mxres *m, const char *text, int af,
    const uint8_t *addr)
{
	struct mxres_host	*h = &m->res.hosts[0];
	enum netaddr_class	 c;

	m->res.literal = 1;
	strlcpy(m->res.domain, text, sizeof(m->res.domain));
	strlcpy(m->res.mx_canon, text, sizeof(m->res.mx_canon));
	if (m->family != AF_UNSPEC && m->family != af) {
		fail_later(m, MXRES_PERMFAIL, "address literal %s is %s, which "
		    "is not used for delivery", text,
		    af == AF_INET ? "IPv4" : "IPv6");
		return;
	}
	strlcpy(h->name, text, sizeof(h->name));
	strlcpy(h->canon, text, sizeof(h->canon));
	h->pref = 0;
	h->addr_sec = DNS_SEC_INSECURE;
	set_sockaddr(&h->addr[0], af, addr, m->port, DNS_SEC_INSECURE);
	/* RFC 5321 5.1: a literal of this host is a loop like an MX. */
	if ((c = mxres_addr_classify((struct sockaddr *)&h->addr[0].ss,
	    m->host_only, &m->loop)) != NETADDR_USABLE) {
		m->res.nrefused = 1;
		m->res.loop = 1;
		fail_later(m, MXRES_PERMFAIL, "%s %s is %s (RFC 5321 5.1)",
		    m->host_only ? "host" : "address literal", text,
		    m->host_only ? "my own listening address and port" :
		    netaddr_class_name(c));
		return;
	}
	h->naddr = 1;
	m->res.nhosts = 1;
	m->res.status = MXRES_OK;
	set_reason(m, "address literal");
	deliver_later(m);
}

struct mxres *
mxres_lookup(struct dns_ctx *dns, const char *domain,
    const struct mxres_opts *opts, mxres_cb cb, void *arg)
{
	struct mxres	*m;
	uint8_t		 addr[16];
	int		 af;

	m = mxres_new(dns, opts, cb, arg);
	if ((af = parse_address(domain, 0, addr)) > 0) {
		literal_result(m, domain, af, addr);
		return m;
	}
	if (af == -1) {
		strlcpy(m->res.domain, domain, sizeof(m->res.domain));
		fail_later(m, MXRES_PERMFAIL, "bad address literal %.64s",
		    domain);
		return m;
	}
	if (dns_name_canon(domain, m->res.domain, sizeof(m->res.domain)) ==
	    -1 || strcmp(m->res.domain, ".") == 0) {
		strlcpy(m->res.domain, domain, sizeof(m->res.domain));
		fail_later(m, MXRES_PERMFAIL, "invalid domain name %.64s",
		    domain);
		return m;
	}
	strlcpy(m->res.mx_canon, m->res.domain, sizeof(m->res.mx_canon));
	m->mxq = dns_query(dns, m->res.domain, DNS_T_MX, mx_answer, m);
	if (m->mxq == NULL) {
		fail_later(m, MXRES_PERMFAIL, "invalid domain name %.64s",
		    domain);
		return m;
	}
	m->res.nqueries++;
	return m;
}

/* Queue the A/AAAA queries of every host in res.hosts and start some. */
static void
resolve_hosts(struct mxres *m)
{
	size_t	 i;

	m->njobs = 0;
	for (i = 0; i < m->res.nhosts; i++) {
		strlcpy(m->res.hosts[i].canon, m->res.hosts[i].name,
		    sizeof(m->res.hosts[i].canon));
		if (m->family != AF_INET) {
			m->jobs[m->njobs].m = m;
			m->jobs[m->njobs].host = i;
			m->jobs[m->njobs++].type = DNS_T_AAAA;
		}
		if (m->family != AF_INET6) {
			m->jobs[m->njobs].m = m;
			m->jobs[m->njobs].host = i;
			m->jobs[m->njobs++].type = DNS_T_A;
		}
	}
	start_jobs(m);
}

struct mxres *
mxres_lookup_host(struct dns_ctx *dns, const char *host,
    const struct mxres_opts *opts, mxres_cb cb, void *arg)
{
	struct mxres	*m;
	uint8_t		 addr[16];
	int		 af;

	m = mxres_new(dns, opts, cb, arg);
	m->host_only = 1;
	if ((af = parse_address(host, 1, addr)) > 0) {
		literal_result(m, host, af, addr);
		return m;
	}
	if (af == -1 || dns_name_canon(host, m->res.domain,
	    sizeof(m->res.domain)) == -1 || strcmp(m->res.domain, ".") == 0) {
		strlcpy(m->res.domain, host, sizeof(m->res.domain));
		fail_later(m, MXRES_PERMFAIL, "invalid host name %.64s", host);
		return m;
	}
	strlcpy(m->res.mx_canon, m->res.domain, sizeof(m->res.mx_canon));
	strlcpy(m->res.hosts[0].name, m->res.domain,
	    sizeof(m->res.hosts[0].name));
	m->res.nhosts = 1;
	m->starting = 1;
	resolve_hosts(m);
	m->starting = 0;
	return m;
}

void
mxres_cancel(struct mxres *m)
{
	if (m == NULL || m->delivering)
		return;
	mxres_free(m);
}

/* MX records. */

static int
mx_entry_cmp(const void *a, const void *b)
{
	const struct mx_entry	*x = a, *y = b;

	/* Names break ties so that only the shuffle decides among equals. */
	if (x->pref != y->pref)
		return (int)x->pref - (int)y->pref;
	return strcmp(x->name, y->name);
}

/*
 * RFC 5321 5.1: among MX hosts of equal preference the client MUST pick in
 * random order, so that the load spreads over them.
 */
static void
shuffle_equal(struct mxres *m, struct mx_entry *e, size_t n)
{
	struct mx_entry	 tmp;
	size_t		 start, end, i, j;

	for (start = 0; start < n; start = end) {
		for (end = start + 1; end < n && e[end].pref == e[start].pref;
		    end++)
			;
		for (i = end - start; i > 1; i--) {
			j = m->random(m->random_arg, (uint32_t)i);
			if (j >= i)	/* a hook out of range */
				j = i - 1;
			if (j == i - 1)
				continue;
			tmp = e[start + i - 1];
			e[start + i - 1] = e[start + j];
			e[start + j] = tmp;
		}
	}
}

/* The first host is our own name: delivering would loop. */
static int
is_myself(const struct mxres *m, const char *name)
{
	return m->have_myname && strcmp(m->myname, name) == 0;
}

/*
 * Take the MX answer apart into res.hosts.  Returns 0 to go on with the
 * address lookups, -1 when the result is already final.
 */
static int
mx_hosts(struct mxres *m, const struct dns_answer *ans)
{
	struct mx_entry	*e;
	size_t		 n = 0, i, k, nnull = 0;
	int		 have_self = 0, dup;
	uint16_t	 self_pref = 0;

	e = xcalloc(ans->nrr, sizeof(*e));
	for (i = 0; i < ans->nrr; i++) {
		if (ans->rr[i].type != DNS_T_MX)
			continue;
		if (dns_name_canon(ans->rr[i].u.mx.name, e[n].name,
		    sizeof(e[n].name)) == -1)
			continue;
		/*
		 * RFC 7505 3: the null MX is a single MX with "." as exchange.
		 * "." names no host, so among other MX records (which the
		 * domain MUST NOT publish along with it) it is left out and
		 * the others are used; only when no MX names a host does the
		 * domain take no mail.
		 */
		if (strcmp(e[n].name, ".") == 0) {
			nnull++;
			continue;
		}
		e[n].pref = ans->rr[i].u.mx.pref;
		if (is_myself(m, e[n].name) && (!have_self ||
		    e[n].pref < self_pref)) {
			have_self = 1;
			self_pref = e[n].pref;
		}
		n++;
	}
	if (n == 0 && nnull > 0) {
		free(e);
		m->res.status = MXRES_NULLMX;
		set_reason(m, "domain %s does not accept mail (null MX, RFC "
		    "7505)", m->res.domain);
		return -1;
	}
	if (nnull > 0)
		log_info("mxres: %s: null MX published along with %zu other "
		    "MX records, ignored", m->res.domain, n);
	if (n == 0) {
		/* Only undecodable records: as good as none usable. */
		free(e);
		m->res.status = MXRES_PERMFAIL;
		set_reason(m, "no usable MX record for %s", m->res.domain);
		return -1;
	}

	/*
	 * RFC 5321 5.1: if we are one of the MX hosts, we MUST drop every
	 * host whose preference is not better than ours (else mail loops).
	 */
	if (have_self) {
		for (i = 0, k = 0; i < n; i++)
			if (e[i].pref < self_pref)
				e[k++] = e[i];
		n = k;
		if (n == 0) {
			free(e);
			m->res.status = MXRES_PERMFAIL;
			m->res.loop = 1;
			set_reason(m, "mail for %s loops back to myself (%s "
			    "is its best MX)", m->res.domain, m->myname);
			return -1;
		}
	}

	qsort(e, n, sizeof(*e), mx_entry_cmp);
	shuffle_equal(m, e, n);

	/* Keep the first MXRES_MAX_HOSTS distinct names in that order. */
	for (i = 0; i < n; i++) {
		for (k = 0, dup = 0; k < m->res.nhosts && !dup; k++)
			dup = strcmp(m->res.hosts[k].name, e[i].name) == 0;
		if (dup)
			continue;
		if (m->res.nhosts == MXRES_MAX_HOSTS) {
			m->res.truncated = 1;
			break;
		}
		strlcpy(m->res.hosts[m->res.nhosts].name, e[i].name,
		    sizeof(m->res.hosts[0].name));
		m->res.hosts[m->res.nhosts++].pref = e[i].pref;
	}
	if (m->res.truncated)
		log_info("mxres: %s: %zu MX records, only the %d best "
		    "resolved", m->res.domain, n, MXRES_MAX_HOSTS);
	free(e);
	return 0;
}

static void
mx_answer(void *arg, const struct dns_answer *ans)
{
	struct mxres	*m = arg;
	const char	*dom = m->res.domain;

	m->mxq = NULL;
	strlcpy(m->res.mx_canon, ans->canonname, sizeof(m->res.mx_canon));
	m->res.mx_sec = ans->sec;

	if (ans->failed) {
		m->res.status = MXRES_TEMPFAIL;
		set_reason(m, "MX lookup for %s %s", dom, ans->timeout ?
		    "timed out" : "failed (no answer from the resolver)");
		deliver(m);
		return;
	}
	/*
	 * A bogus answer may be an attack or a signing mistake that the
	 * owner will repair; either way it must not be used (RFC 7672
	 * 2.1.1), and bouncing on it would let an attacker on the path make
	 * us bounce mail.  So: later.
	 */
	if (ans->sec == DNS_SEC_BOGUS) {
		m->res.status = MXRES_TEMPFAIL;
		set_reason(m, "MX lookup for %s: DNSSEC validation failed%s%s",
		    dom, ans->why_bogus[0] ? ": " : "", ans->why_bogus);
		deliver(m);
		return;
	}
	if (ans->rcode == DNS_R_NXDOMAIN) {
		m->res.status = MXRES_PERMFAIL;
		if (strcmp(ans->canonname, dom) != 0)
			set_reason(m, "domain %s does not exist (its CNAME "
			    "%s does not exist)", dom, ans->canonname);
		else
			set_reason(m, "domain %s does not exist", dom);
		deliver(m);
		return;
	}
	if (ans->rcode != DNS_R_NOERROR) {
		/*
		 * A CNAME chain that loops or is too long gives SERVFAIL too
		 * (the resolver gives up on it), and so do name servers that
		 * do not answer (libunbound says SERVFAIL when its forwarder
		 * is down): nothing tells them apart, so the reason names
		 * them all.
		 */
		m->res.status = MXRES_TEMPFAIL;
		if (ans->rcode == DNS_R_SERVFAIL)
			set_reason(m, "MX lookup for %s failed: SERVFAIL "
			    "(name servers unreachable or broken, or a CNAME "
			    "chain that loops or is too long%s%s)", dom,
			    strcmp(ans->canonname, dom) != 0 ? ", last name " :
			    "", strcmp(ans->canonname, dom) != 0 ?
			    ans->canonname : "");
		else
			set_reason(m, "MX lookup for %s failed: %s", dom,
			    dns_rcode_name(ans->rcode));
		deliver(m);
		return;
	}
	if (ans->nrr == 0) {
		/*
		 * RFC 5321 5.1: without MX records the domain itself is the
		 * one mail exchanger (the implicit MX), preference 0.
		 */
		m->res.implicit = 1;
		if (is_myself(m, m->res.mx_canon) || is_myself(m, dom)) {
			m->res.status = MXRES_PERMFAIL;
			m->res.loop = 1;
			set_reason(m, "mail for %s loops back to myself (no MX, "
			    "and the domain is my name)", dom);
			deliver(m);
			return;
		}
		strlcpy(m->res.hosts[0].name, dom,
		    sizeof(m->res.hosts[0].name));
		m->res.hosts[0].pref = 0;
		m->res.nhosts = 1;
		resolve_hosts(m);
		return;
	}
	if (mx_hosts(m, ans) == -1) {
		deliver(m);
		return;
	}
	resolve_hosts(m);
}

/* Addresses. */

static void
start_jobs(struct mxres *m)
{
	struct mxres_job	*j;
	struct host_state	*hs;

	while (m->ninflight < MXRES_MAX_INFLIGHT && m->nextjob < m->njobs) {
		j = &m->jobs[m->nextjob++];
		j->q = dns_query(m->dns, m->res.hosts[j->host].name, j->type,
		    addr_answer, j);
		if (j->q == NULL) {
			/* Cannot happen for a name decoded from DNS. */
			hs = &m->hs[j->host];
			if (!hs->tempfail)
				snprintf(hs->why, sizeof(hs->why),
				    "invalid host name");
			continue;
		}
		m->ninflight++;
		m->res.nqueries++;
	}
	if (m->ninflight == 0 && m->nextjob == m->njobs)
		finish(m);
}

static void
addr_answer(void *arg, const struct dns_answer *ans)
{
	struct mxres_job	*j = arg;
	struct mxres		*m = j->m;
	struct host_state	*hs = &m->hs[j->host];
	struct mxres_host	*h = &m->res.hosts[j->host];
	const char		*tname = dns_type_name(j->type);
	struct mxres_addr	*a;
	size_t			*n, i;
	int			 af;

	j->q = NULL;
	m->ninflight--;
	if (ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN)) {
		/* RFC 7672 2.1.1: a bogus address is not used, try later. */
		if (!hs->tempfail)
			snprintf(hs->why, sizeof(hs->why), "%s lookup %s",
			    tname, ans->failed ? (ans->timeout ? "timed out" :
			    "failed") : ans->sec == DNS_SEC_BOGUS ?
			    "DNSSEC-bogus" : dns_rcode_name(ans->rcode));
		hs->tempfail = 1;
		h->addr_tempfail = 1;
		if (ans->sec == DNS_SEC_BOGUS)
			hs->bogus = 1;
	} else if (ans->rcode == DNS_R_NXDOMAIN) {
		hs->nxdomain = 1;
		if (!hs->tempfail)
			snprintf(hs->why, sizeof(hs->why), "%s",
			    strcmp(ans->canonname, h->name) != 0 ?
			    "CNAME target does not exist" :
			    "host does not exist");
	} else if (ans->nrr == 0) {
		if (!hs->tempfail && !hs->nxdomain)
			snprintf(hs->why, sizeof(hs->why), "no %s record%s",
			    m->family == AF_UNSPEC ? "address" : tname,
			    m->family == AF_UNSPEC ? "s" : "");
	} else {
		if (j->type == DNS_T_AAAA) {
			a = hs->a6;
			n = &hs->n6;
			af = AF_INET6;
			hs->sec6 = ans->sec;
		} else {
			a = hs->a4;
			n = &hs->n4;
			af = AF_INET;
			hs->sec4 = ans->sec;
		}
		for (i = 0; i < ans->nrr && *n < MXRES_MAX_ADDRS; i++) {
			if (ans->rr[i].type != j->type)
				continue;
			set_sockaddr(&a[(*n)++], af, j->type == DNS_T_AAAA ?
			    (const void *)&ans->rr[i].u.aaaa :
			    (const void *)&ans->rr[i].u.a, m->port, ans->sec);
		}
		/*
		 * RFC 5321 5.1 says an MX must not point to an alias; many
		 * do, so it is tolerated, and recorded (DANE, RFC 7672
		 * 2.2.2, looks at both names).
		 */
		if (strcmp(ans->canonname, h->name) != 0) {
			strlcpy(h->canon, ans->canonname, sizeof(h->canon));
			if (!m->res.implicit && !m->host_only)
				log_debug("mxres: %s: MX host %s is an alias "
				    "for %s", m->res.domain, h->name,
				    h->canon);
		}
	}
	start_jobs(m);
}

/* Append "; what" to reason while it fits. */
static void
reason_add(struct mxres *m, const char *sep, const char *name,
    const char *why)
{
	size_t	 len = strlen(m->res.reason);

	if (len + 4 >= sizeof(m->res.reason))
		return;
	fmt_cut(m->res.reason + len, sizeof(m->res.reason) - len, "%s%s: %s",
	    sep, name, why);
}

/*
 * Leave out the addresses that lead back to this host.  RFC 5321 5.1: an
 * MX host with one of the addresses we are known by is us, so it and
 * every host at its preference or after it MUST be discarded, as for our
 * own name (or the mail would loop among the backups); with nothing left
 * the message MUST be returned as undeliverable (finish()).  A loopback
 * or unspecified address that is not one we listen on is left out alone:
 * the host's other addresses may still be good.
 */
static void
refuse_loops(struct mxres *m)
{
	struct mxres_host	*h;
	enum netaddr_class	 c = NETADDR_USABLE;
	size_t			 i, j, k;
	uint16_t		 cut_pref = 0;
	int			 cut = 0;
	char			 text[INET6_ADDRSTRLEN];

	for (i = 0; i < m->res.nhosts; i++) {
		h = &m->res.hosts[i];
		for (j = 0, k = 0; j < h->naddr; j++) {
			c = mxres_addr_classify(
			    (struct sockaddr *)&h->addr[j].ss, m->host_only,
			    &m->loop);
			if (c == NETADDR_USABLE) {
				h->addr[k++] = h->addr[j];
				continue;
			}
			if (m->res.nrefused++ == 0 ||
			    (c == NETADDR_SELF &&
			    m->loop_class != NETADDR_SELF)) {
				m->loop_class = c;
				strlcpy(m->loop_host, h->name,
				    sizeof(m->loop_host));
				netaddr_text((struct sockaddr *)
				    &h->addr[j].ss, m->loop_addr,
				    sizeof(m->loop_addr));
			}
			if (c == NETADDR_SELF && !m->host_only &&
			    (!cut || h->pref < cut_pref)) {
				cut = 1;
				cut_pref = h->pref;
			}
			log_info("mxres: %s: %s: address %s refused: %s",
			    m->res.domain, h->name, netaddr_text(
			    (struct sockaddr *)&h->addr[j].ss, text,
			    sizeof(text)), netaddr_class_name(c));
		}
		if (k == 0 && h->naddr > 0)
			fmt_cut(m->hs[i].why, sizeof(m->hs[i].why), "%s "
			    "refused (RFC 5321 5.1)", netaddr_class_name(c));
		h->naddr = k;
	}
	for (i = 0; cut && i < m->res.nhosts; i++)
		if (m->res.hosts[i].pref >= cut_pref) {
			m->res.hosts[i].naddr = 0;
			m->hs[i].cut = 1;
		}
}

/* The reason when no host is left because of refuse_loops(). */
static void
loop_reason(struct mxres *m)
{
	if (m->res.literal || m->host_only)
		set_reason(m, "host %s [%s] is %s (RFC 5321 5.1)",
		    m->res.domain, m->loop_addr, m->host_only ?
		    "my own listening address and port" :
		    netaddr_class_name(m->loop_class));
	else if (m->loop_class == NETADDR_SELF)
		set_reason(m, "MX for %s points to this host: %s [%s] is one "
		    "of my listening addresses (RFC 5321 5.1)", m->res.domain,
		    m->loop_host, m->loop_addr);
	else
		set_reason(m, "MX for %s points to %s: %s [%s] (RFC 5321 "
		    "5.1)", m->res.domain,
		    netaddr_class_name(m->loop_class), m->loop_host,
		    m->loop_addr);
}

/* Every address query is done: merge, drop hosts without address. */
static void
finish(struct mxres *m)
{
	struct host_state	*hs;
	struct mxres_host	*h;
	size_t			 i, k = 0, i6, i4;
	int			 tempfail = 0, used6, used4;
	char			 skipped[sizeof(m->res.reason)];

	skipped[0] = '\0';
	for (i = 0; i < m->res.nhosts; i++) {
		hs = &m->hs[i];
		h = &m->res.hosts[i];
		/* IPv6 first, then alternate, so either family is near. */
		h->naddr = 0;
		i6 = i4 = 0;
		while (h->naddr < MXRES_MAX_ADDRS &&
		    (i6 < hs->n6 || i4 < hs->n4)) {
			if (i6 < hs->n6)
				h->addr[h->naddr++] = hs->a6[i6++];
			if (h->naddr < MXRES_MAX_ADDRS && i4 < hs->n4)
				h->addr[h->naddr++] = hs->a4[i4++];
		}
		used6 = hs->n6 > 0;
		used4 = hs->n4 > 0;
		if ((used6 || used4) && (!used6 || hs->sec6 == DNS_SEC_SECURE)
		    && (!used4 || hs->sec4 == DNS_SEC_SECURE))
			h->addr_sec = DNS_SEC_SECURE;
		else if (h->naddr == 0 && hs->bogus)
			h->addr_sec = DNS_SEC_BOGUS;
		else
			h->addr_sec = DNS_SEC_INSECURE;
	}
	if (m->loop.loop_check)
		refuse_loops(m);
	for (i = 0; i < m->res.nhosts; i++) {
		hs = &m->hs[i];
		h = &m->res.hosts[i];
		if (hs->cut)
			continue;
		if (h->naddr == 0) {
			if (hs->why[0] == '\0')
				strlcpy(hs->why, "no address records",
				    sizeof(hs->why));
			if (!m->res.implicit && !m->host_only)
				log_info("mxres: %s: MX host %s skipped: %s",
				    m->res.domain, h->name, hs->why);
			tempfail |= hs->tempfail;
			m->res.nskipped++;
			if (skipped[0] == '\0')
				fmt_cut(skipped, sizeof(skipped), "%s: %s",
				    h->name, hs->why);
			reason_add(m, m->res.nskipped > 1 ? "; " : "",
			    h->name, hs->why);
			continue;
		}
		if (k != i)
			m->res.hosts[k] = *h;
		k++;
	}
	m->res.nhosts = k;
	if (k > 0) {
		m->res.status = MXRES_OK;
		if (m->res.nskipped > 0)
			set_reason(m, "%zu host%s, %zu skipped (%s)", k,
			    k > 1 ? "s" : "", m->res.nskipped, skipped);
		else
			set_reason(m, "%zu host%s%s", k, k > 1 ? "s" : "",
			    m->res.truncated ? " (MX list truncated)" : "");
		goto out;
	}
	/* RFC 5321 5.1: no usable host MUST be reported as an error. */
	m->res.status = tempfail ? MXRES_TEMPFAIL : MXRES_PERMFAIL;
	if (m->res.nrefused > 0 && !tempfail) {
		m->res.loop = 1;
		loop_reason(m);
	} else if (m->host_only)
		set_reason(m, "host %s: %s", m->res.domain, m->hs[0].why);
	else if (m->res.implicit)
		set_reason(m, "%s has no MX records and no address (%s)",
		    m->res.domain, m->hs[0].why);
	else {
		char	 list[sizeof(m->res.reason)];

		strlcpy(list, m->res.reason, sizeof(list));
		set_reason(m, "no MX host of %s has an address (%s)",
		    m->res.domain, list);
	}
out:
	/* Never call back from inside mxres_lookup_host(). */
	if (m->starting)
		deliver_later(m);
	else
		deliver(m);
}

/* Results. */

void
mxres_result_copy(struct mxres_result *dst, const struct mxres_result *src)
{
	*dst = *src;
	dst->hosts = xcalloc(MXRES_MAX_HOSTS, sizeof(*dst->hosts));
	if (src->nhosts > 0)
		memcpy(dst->hosts, src->hosts, src->nhosts *
		    sizeof(*src->hosts));
}

void
mxres_result_clear(struct mxres_result *r)
{
	free(r->hosts);
	memset(r, 0, sizeof(*r));
}

struct sync_state {
	int			 done;
	struct mxres_result	*out;
};

static void
sync_cb(void *arg, const struct mxres_result *r)
{
	struct sync_state	*s = arg;

	mxres_result_copy(s->out, r);
	s->done = 1;
}

static enum mxres_status
run_sync(struct dns_ctx *dns, struct sync_state *s)
{
	while (!s->done)
		if (dns_run_once(dns) == -1)
			fatalx("mxres: event loop failed");
	return s->out->status;
}

enum mxres_status
mxres_lookup_sync(struct dns_ctx *dns, const char *domain,
    const struct mxres_opts *opts, struct mxres_result *out)
{
	struct sync_state	 s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	mxres_lookup(dns, domain, opts, sync_cb, &s);
	return run_sync(dns, &s);
}

enum mxres_status
mxres_lookup_host_sync(struct dns_ctx *dns, const char *host,
    const struct mxres_opts *opts, struct mxres_result *out)
{
	struct sync_state	 s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	mxres_lookup_host(dns, host, opts, sync_cb, &s);
	return run_sync(dns, &s);
}

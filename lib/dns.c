/*
 * DNS for postern: libunbound's asynchronous API (ub_resolve_async, ub_fd,
 * ub_process) driven by an event on ub_fd in a libevent loop, a per-query
 * timeout (an evtimer and ub_cancel, as libunbound has none), views that
 * give many queries one deadline (a message's time budget), an offline
 * source answering from a zone file (zone.c) through the same callbacks,
 * and the lookup budget of RFC 7208 4.6.4.  Names and the RDATA decoder
 * are in dns_rdata.c; definite answers are kept for their TTL in
 * dns_cache.c, so that the same questions of the next messages are
 * answered from the loop instead of through libunbound's worker.
 *
 * DNSSEC status comes from libunbound's validator; offline answers are
 * "insecure" (nothing was validated).  Does not: parse whole DNS messages
 * (libunbound hands over uncompressed rdata), follow wildcards offline.
 */
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "dns.h"
#include "log.h"
#include "util.h"
#include "dns_zone.h"
#include "dns_cache.h"

#define ROOT_TRUST_ANCHOR	"/usr/share/dns/root.key"
#define RESOLV_CONF		"/etc/resolv.conf"
#define TA_FILE_MAX		(1024 * 1024)
#define CNAME_CHAIN_MAX		16

enum dns_source {
	DNS_SRC_SYSTEM,
	DNS_SRC_RESOLVER,
	DNS_SRC_ZONE
};

struct dns_query {
	TAILQ_ENTRY(dns_query)	 entry;
	struct dns_ctx		*ctx;
	char			 name[DNS_NAME_BUF];
	uint16_t		 type;
	dns_cb			 cb;
	void			*arg;
	int			 ub_id;
	int			 ub_active;
	struct event		*timer;
	struct dns_answer	*cached;	/* answered from the cache */
};

struct dns_ctx {
	enum dns_source		 src;
	struct event_base	*base;
	int			 own_base;
	struct ub_ctx		*ub;
	struct event		*ub_ev;
	struct zone		*zone;
	int			 timeout_ms;
	size_t			 npending;
	char			 desc[256];
	TAILQ_HEAD(, dns_query)	 queries;
	struct dns_cache	*cache;		/* a view's is its parent's */
	/*
	 * A view (dns_ctx_view()) shares its parent's resolver and keeps
	 * its own queries and deadline.
	 */
	int			 view;
	struct event		*deadline_ev;
	int			 expired;
	size_t			 ncut;		/* queries the deadline failed */
};

/*
 * Zones that libunbound answers itself by default (unbound.conf(5) "default
 * local zones" and the AS112 zones of RFC 6303, RFC 6761, RFC 6762, RFC 7686,
 * RFC 8375): with a given resolver they must be asked of that resolver,
 * because test beds use them.
 */
static const char *special_zones[] = {
	"localhost.", "127.in-addr.arpa.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"onion.", "test.", "invalid.", "home.arpa.", "resolver.arpa.",
	"service.arpa.", "local.",
	"10.in-addr.arpa.", "16.172.in-addr.arpa.", "17.172.in-addr.arpa.",
	"18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.",
	"27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.",
	"30.172.in-addr.arpa.", "31.172.in-addr.arpa.", "168.192.in-addr.arpa.",
	"0.in-addr.arpa.", "254.169.in-addr.arpa.", "2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
	"255.255.255.255.in-addr.arpa.", "d.f.ip6.arpa.", "8.e.f.ip6.arpa.",
	"9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
	"8.b.d.0.1.0.0.2.ip6.arpa.", "64.100.in-addr.arpa.",
	"65.100.in-addr.arpa.", "66.100.in-addr.arpa.", "67.100.in-addr.arpa.",
	"68.100.in-addr.arpa.", "69.100.in-addr.arpa.", "70.100.in-addr.arpa.",
	"71.100.in-addr.arpa.", "72.100.in-addr.arpa.", "73.100.in-addr.arpa.",
	"74.100.in-addr.arpa.", "75.100.in-addr.arpa.", "76.100.in-addr.arpa.",
	"77.100.in-addr.arpa.", "78.100.in-addr.arpa.", "79.100.in-addr.arpa.",
	"80.100.in-addr.arpa.", "81.100.in-addr.arpa.", "82.100.in-addr.arpa.",
	"83.100.in-addr.arpa.", "84.100.in-addr.arpa.", "85.100.in-addr.arpa.",
	"86.100.in-addr.arpa.", "87.100.in-addr.arpa.", "88.100.in-addr.arpa.",
	"89.100.in-addr.arpa.", "90.100.in-addr.arpa.", "91.100.in-addr.arpa.",
	"92.100.in-addr.arpa.", "93.100.in-addr.arpa.", "94.100.in-addr.arpa.",
	"95.100.in-addr.arpa.", "96.100.in-addr.arpa.", "97.100.in-addr.arpa.",
	"98.100.in-addr.arpa.", "99.100.in-addr.arpa.", "100.100.in-addr.arpa.",
	"101.100.in-addr.arpa.", "102.100.in-addr.arpa.",
	"103.100.in-addr.arpa.", "104.100.in-addr.arpa.",
	"105.100.in-addr.arpa.", "106.100.in-addr.arpa.",
	"107.100.in-addr.arpa.", "108.100.in-addr.arpa.",
	"109.100.in-addr.arpa.", "110.100.in-addr.arpa.",
	"111.100.in-addr.arpa.", "112.100.in-addr.arpa.",
	"113.100.in-addr.arpa.", "114.100.in-addr.arpa.",
	"115.100.in-addr.arpa.", "116.100.in-addr.arpa.",
	"117.100.in-addr.arpa.", "118.100.in-addr.arpa.",
	"119.100.in-addr.arpa.", "120.100.in-addr.arpa.",
	"121.100.in-addr.arpa.", "122.100.in-addr.arpa.",
	"123.100.in-addr.arpa.", "124.100.in-addr.arpa.",
	"125.100.in-addr.arpa.", "126.100.in-addr.arpa.",
	"127.100.in-addr.arpa.",
};

static void	dns_ub_readable(int, short, void *);
static void	dns_ub_callback(void *, int, struct ub_result *);
static void	dns_timeout(int, short, void *);
static void	dns_zone_answer(int, short, void *);
static void	dns_deadline(int, short, void *);
static void	dns_cache_answer(int, short, void *);

/* Answers. */

/*
 * Copy every rdata into one buffer owned by the answer and decode it there;
 * records that do not decode are dropped (logged), as if never sent.
 */
static void
answer_set_records(struct dns_answer *ans, uint16_t type, size_t n,
    const uint8_t *const *rdata, const size_t *rdlen, const uint32_t *ttl)
{
	uint8_t	*buf;
	size_t	 i, total = 0, off = 0;

	ans->nrr = 0;
	ans->rr = NULL;
	ans->priv = NULL;
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		total += rdlen[i];
	buf = xmalloc(total + 1);
	ans->priv = buf;
	ans->rr = xcalloc(n, sizeof(*ans->rr));
	for (i = 0; i < n; i++) {
		if (rdlen[i] > 0)
			memcpy(buf + off, rdata[i], rdlen[i]);
		if (dns_rdata_decode(type, buf + off, rdlen[i],
		    &ans->rr[ans->nrr]) == -1) {
			log_debug("dns: %s %s: malformed rdata dropped",
			    ans->qname, dns_type_name(type));
			off += rdlen[i];
			continue;
		}
		ans->rr[ans->nrr].ttl = ttl[i];
		ans->nrr++;
		off += rdlen[i];
	}
}

static void
answer_clear(struct dns_answer *ans)
{
	size_t	 i;

	for (i = 0; i < ans->nrr; i++)
		dns_rr_clear(&ans->rr[i]);
	free(ans->rr);
	free(ans->priv);
	ans->rr = NULL;
	ans->priv = NULL;
	ans->nrr = 0;
}

struct dns_answer *
dns_answer_dup(const struct dns_answer *ans)
{
	struct dns_answer	*d;
	const uint8_t		**rd = NULL;
	size_t			*len = NULL, i;
	uint32_t		*ttl = NULL;

	d = xcalloc(1, sizeof(*d));
	*d = *ans;
	d->rr = NULL;
	d->priv = NULL;
	d->nrr = 0;
	if (ans->nrr > 0) {
		rd = xcalloc(ans->nrr, sizeof(*rd));
		len = xcalloc(ans->nrr, sizeof(*len));
		ttl = xcalloc(ans->nrr, sizeof(*ttl));
		for (i = 0; i < ans->nrr; i++) {
			rd[i] = ans->rr[i].rdata;
			len[i] = ans->rr[i].rdlen;
			ttl[i] = ans->rr[i].ttl;
		}
		answer_set_records(d, ans->qtype, ans->nrr, rd, len, ttl);
		free(rd);
		free(len);
		free(ttl);
	}
	return d;
}

void
dns_answer_free(struct dns_answer *ans)
{
	if (ans == NULL)
		return;
	answer_clear(ans);
	free(ans);
}

int
dns_answer_is_void(const struct dns_answer *ans)
{
	return !ans->failed && (ans->rcode == DNS_R_NXDOMAIN ||
	    (ans->rcode == DNS_R_NOERROR && ans->nrr == 0));
}

/* Budget. */

void
dns_budget_init(struct dns_budget *b, unsigned int lookups_max,
    unsigned int voids_max)
{
	memset(b, 0, sizeof(*b));
	b->lookups_max = lookups_max;
	b->voids_max = voids_max;
}

int
dns_budget_lookup(struct dns_budget *b)
{
	b->lookups++;
	return b->lookups_max != 0 && b->lookups > b->lookups_max ? -1 : 0;
}

int
dns_budget_void(struct dns_budget *b)
{
	b->voids++;
	return b->voids_max != 0 && b->voids > b->voids_max ? -1 : 0;
}

/* Contexts. */

static struct dns_ctx *
ctx_new(struct event_base *base, enum dns_source src)
{
	struct dns_ctx	*ctx;

	ctx = xcalloc(1, sizeof(*ctx));
	ctx->src = src;
	ctx->timeout_ms = DNS_TIMEOUT_DEFAULT;
	TAILQ_INIT(&ctx->queries);
	if (src != DNS_SRC_ZONE)
		ctx->cache = dns_cache_new();
	if (base == NULL) {
		if ((base = event_base_new()) == NULL)
			fatalx("dns: event_base_new");
		ctx->own_base = 1;
	}
	ctx->base = base;
	return ctx;
}

/*
 * The records of a trust anchor in unbound's trust-anchor-file format
 * (master-file lines, ';' comments, records continued in parentheses),
 * handed to libunbound one by one; name says where they came from.
 */
static int
ctx_add_ta_text(struct dns_ctx *ctx, const char *name, const char *text,
    size_t n, char *err, size_t errlen)
{
	char	*entry;
	size_t	 i, e = 0;
	int	 paren = 0, count = 0, r;

	entry = xmalloc(n + 1);
	for (i = 0; i <= n; i++) {
		char	 c = i < n ? text[i] : '\n';

		if (c == ';') {
			while (i < n && text[i] != '\n')
				i++;
			c = '\n';
		}
		if (c == '(' || c == ')') {
			paren += c == '(' ? 1 : -1;
			c = ' ';
		}
		if (c == '\n' && paren <= 0) {
			entry[e] = '\0';
			while (e > 0 && isspace((unsigned char)entry[e - 1]))
				entry[--e] = '\0';
			if (strspn(entry, " \t\r") != e) {
				if ((r = ub_ctx_add_ta(ctx->ub, entry)) != 0) {
					snprintf(err, errlen, "%s: %s", name,
					    ub_strerror(r));
					free(entry);
					return -1;
				}
				count++;
			}
			e = 0;
			paren = 0;
			continue;
		}
		entry[e++] = c == '\n' || c == '\t' || c == '\r' || c == '\0' ?
		    ' ' : c;
	}
	free(entry);
	if (count == 0) {
		snprintf(err, errlen, "%s: no trust anchor", name);
		return -1;
	}
	return 0;
}

/*
 * Read a trust-anchor file now (before chroot) and hand each record to
 * libunbound as a string: ub_ctx_add_ta_file() would only read it at the
 * first query, inside the chroot.
 */
static int
ctx_add_ta_file(struct dns_ctx *ctx, const char *path, char *err,
    size_t errlen)
{
	FILE	*fp;
	char	*text;
	size_t	 n;
	int	 rv;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = xmalloc(TA_FILE_MAX + 1);
	n = fread(text, 1, TA_FILE_MAX, fp);
	if (ferror(fp) || !feof(fp)) {
		snprintf(err, errlen, "%s: read error or too large", path);
		fclose(fp);
		free(text);
		return -1;
	}
	fclose(fp);
	rv = ctx_add_ta_text(ctx, path, text, n, err, errlen);
	free(text);
	return rv;
}

/*
 * A server that timed out is "down" to libunbound, which then answers
 * SERVFAIL at once without asking it, for up to infra-host-ttl (15
 * minutes by default): mail would stay deferred that long after DNS is
 * back.  Keep probing it (one query at a time while it is down), and
 * forget what we know of servers after a minute.
 */
static const char *const ub_recovery[][2] = {
	{ "infra-keep-probing:", "yes" },
	{ "infra-host-ttl:", "60" },
};

static int
ctx_ub_init(struct dns_ctx *ctx, char *err, size_t errlen)
{
	size_t	 i;
	int	 r;

	if ((ctx->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "ub_ctx_create failed");
		return -1;
	}
	/* Resolvers on loopback (test beds, a local cache) must be usable. */
	if ((r = ub_ctx_set_option(ctx->ub, "do-not-query-localhost:",
	    "no")) != 0) {
		snprintf(err, errlen, "unbound option: %s", ub_strerror(r));
		return -1;
	}
	for (i = 0; i < sizeof(ub_recovery) / sizeof(ub_recovery[0]); i++)
		if ((r = ub_ctx_set_option(ctx->ub, ub_recovery[i][0],
		    ub_recovery[i][1])) != 0) {
			snprintf(err, errlen, "unbound option %s %s: %s",
			    ub_recovery[i][0], ub_recovery[i][1],
			    ub_strerror(r));
			return -1;
		}
	return 0;
}

static int
ctx_ub_start(struct dns_ctx *ctx, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = ub_fd(ctx->ub)) == -1) {
		snprintf(err, errlen, "ub_fd failed");
		return -1;
	}
	ctx->ub_ev = event_new(ctx->base, fd, EV_READ | EV_PERSIST,
	    dns_ub_readable, ctx);
	if (ctx->ub_ev == NULL || event_add(ctx->ub_ev, NULL) == -1) {
		snprintf(err, errlen, "event_add on ub_fd failed");
		return -1;
	}
	return 0;
}

struct dns_ctx *
dns_ctx_system(struct event_base *base, char *err, size_t errlen)
{
	struct dns_ctx	*ctx;
	int		 r;

	ctx = ctx_new(base, DNS_SRC_SYSTEM);
	snprintf(ctx->desc, sizeof(ctx->desc), "system resolver (%s)",
	    RESOLV_CONF);
	if (ctx_ub_init(ctx, err, errlen) == -1)
		goto fail;
	if ((r = ub_ctx_resolvconf(ctx->ub, RESOLV_CONF)) != 0) {
		snprintf(err, errlen, "%s: %s", RESOLV_CONF, ub_strerror(r));
		goto fail;
	}
	if (ctx_add_ta_file(ctx, ROOT_TRUST_ANCHOR, err, errlen) == -1)
		goto fail;
	if (ctx_ub_start(ctx, err, errlen) == -1)
		goto fail;
	return ctx;
fail:
	dns_ctx_free(ctx);
	return NULL;
}

/*
 * A given resolver: every name goes to it (libunbound takes "ADDR@PORT"),
 * validated against the trust anchor in a file or in memory, if any.
 */
static struct dns_ctx *
ctx_resolver(struct event_base *base, const char *addr, const char *ta_file,
    const char *ta_text, size_t ta_len, char *err, size_t errlen)
{
	struct dns_ctx	*ctx;
	char		 opt[128];
	size_t		 i;
	int		 r;

	ctx = ctx_new(base, DNS_SRC_RESOLVER);
	snprintf(ctx->desc, sizeof(ctx->desc), "resolver %s%s%s", addr,
	    ta_file ? ", trust anchor " : ta_text ? ", trust anchor given" :
	    "", ta_file ? ta_file : "");
	if (ctx_ub_init(ctx, err, errlen) == -1)
		goto fail;
	if ((r = ub_ctx_set_fwd(ctx->ub, addr)) != 0) {
		snprintf(err, errlen, "resolver %s: %s", addr, ub_strerror(r));
		goto fail;
	}
	for (i = 0; i < sizeof(special_zones) / sizeof(special_zones[0]);
	    i++) {
		snprintf(opt, sizeof(opt), "%s transparent", special_zones[i]);
		if ((r = ub_ctx_set_option(ctx->ub, "local-zone:", opt)) !=
		    0) {
			snprintf(err, errlen, "local-zone %s: %s", opt,
			    ub_strerror(r));
			goto fail;
		}
	}
	if (ta_file != NULL && ctx_add_ta_file(ctx, ta_file, err, errlen) ==
	    -1)
		goto fail;
	if (ta_text != NULL && ctx_add_ta_text(ctx, "trust anchor", ta_text,
	    ta_len, err, errlen) == -1)
		goto fail;
	if (ctx_ub_start(ctx, err, errlen) == -1)
		goto fail;
	return ctx;
fail:
	dns_ctx_free(ctx);
	return NULL;
}

struct dns_ctx *
dns_ctx_resolver(struct event_base *base, const char *addr,
    const char *ta_file, char *err, size_t errlen)
{
	return ctx_resolver(base, addr, ta_file, NULL, 0, err, errlen);
}

struct dns_ctx *
dns_ctx_resolver_mem(struct event_base *base, const char *addr,
    const char *ta_text, size_t ta_len, char *err, size_t errlen)
{
	return ctx_resolver(base, addr, NULL, ta_text, ta_len, err, errlen);
}

struct dns_ctx *
dns_ctx_zone(struct event_base *base, const char *file, char *err,
    size_t errlen)
{
	struct dns_ctx	*ctx;
	struct zone	*z;

	if ((z = zone_load(file, err, errlen)) == NULL)
		return NULL;
	ctx = ctx_new(base, DNS_SRC_ZONE);
	ctx->zone = z;
	snprintf(ctx->desc, sizeof(ctx->desc), "zone file %s (%zu records)",
	    file, z->nrr);
	return ctx;
}

struct dns_ctx *
dns_ctx_zone_mem(struct event_base *base, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct dns_ctx	*ctx;
	struct zone	*z;

	if ((z = zone_parse(text, len, err, errlen)) == NULL)
		return NULL;
	ctx = ctx_new(base, DNS_SRC_ZONE);
	ctx->zone = z;
	snprintf(ctx->desc, sizeof(ctx->desc), "zone text (%zu records)",
	    z->nrr);
	return ctx;
}

static void
query_free(struct dns_query *q)
{
	TAILQ_REMOVE(&q->ctx->queries, q, entry);
	q->ctx->npending--;
	if (q->timer != NULL)
		event_free(q->timer);
	dns_answer_free(q->cached);
	free(q);
}

void
dns_ctx_free(struct dns_ctx *ctx)
{
	struct dns_query	*q;

	if (ctx == NULL)
		return;
	while ((q = TAILQ_FIRST(&ctx->queries)) != NULL)
		dns_query_cancel(q);
	if (ctx->view) {
		if (ctx->deadline_ev != NULL)
			event_free(ctx->deadline_ev);
		free(ctx);
		return;
	}
	if (ctx->ub_ev != NULL)
		event_free(ctx->ub_ev);
	if (ctx->ub != NULL)
		ub_ctx_delete(ctx->ub);
	zone_free(ctx->zone);
	dns_cache_free(ctx->cache);
	if (ctx->own_base)
		event_base_free(ctx->base);
	free(ctx);
}

struct dns_ctx *
dns_ctx_view(struct dns_ctx *parent)
{
	struct dns_ctx	*v;

	v = xcalloc(1, sizeof(*v));
	v->src = parent->src;
	v->base = parent->base;
	v->ub = parent->ub;
	v->zone = parent->zone;
	v->cache = parent->cache;
	v->timeout_ms = parent->timeout_ms;
	strlcpy(v->desc, parent->desc, sizeof(v->desc));
	TAILQ_INIT(&v->queries);
	v->view = 1;
	if ((v->deadline_ev = evtimer_new(v->base, dns_deadline, v)) == NULL)
		fatalx("dns: evtimer_new");
	return v;
}

void
dns_ctx_set_deadline(struct dns_ctx *ctx, int msec)
{
	struct timeval	 tv;

	if (!ctx->view)
		fatalx("dns: a deadline needs a view");
	ctx->expired = 0;
	tv.tv_sec = msec / 1000;
	tv.tv_usec = (msec % 1000) * 1000;
	evtimer_add(ctx->deadline_ev, &tv);
}

size_t
dns_ctx_cut(struct dns_ctx *ctx)
{
	return ctx->ncut;
}

/*
 * The deadline passed: every query of the view still waiting fails as a
 * timeout, from the loop (a callback may start or cancel others), and so
 * does every query started until a new deadline is set.
 */
static void
dns_deadline(int fd, short ev, void *arg)
{
	struct dns_ctx		*ctx = arg;
	struct dns_query	*q;
	struct timeval		 now = { 0, 0 };

	ctx->expired = 1;
	TAILQ_FOREACH(q, &ctx->queries, entry)
		if (q->ub_active) {
			evtimer_add(q->timer, &now);
			ctx->ncut++;
		}
}

void
dns_ctx_set_timeout(struct dns_ctx *ctx, int msec)
{
	ctx->timeout_ms = msec > 0 ? msec : DNS_TIMEOUT_DEFAULT;
}

struct event_base *
dns_ctx_base(struct dns_ctx *ctx)
{
	return ctx->base;
}

const char *
dns_ctx_describe(struct dns_ctx *ctx)
{
	return ctx->desc;
}

size_t
dns_pending(struct dns_ctx *ctx)
{
	return ctx->npending;
}

size_t
dns_ctx_cache_hits(struct dns_ctx *ctx)
{
	return ctx->cache != NULL ? dns_cache_hits(ctx->cache) : 0;
}

static time_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Queries. */

struct dns_query *
dns_query(struct dns_ctx *ctx, const char *name, uint16_t type, dns_cb cb,
    void *arg)
{
	struct dns_query	*q;
	struct timeval		 tv;
	int			 r;

	q = xcalloc(1, sizeof(*q));
	if (dns_name_canon(name, q->name, sizeof(q->name)) == -1) {
		free(q);
		return NULL;
	}
	q->ctx = ctx;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&ctx->queries, q, entry);
	ctx->npending++;

	if (ctx->expired) {
		/* past the view's deadline: a timeout, from the loop */
		q->timer = evtimer_new(ctx->base, dns_timeout, q);
		timerclear(&tv);
		ctx->ncut++;
	} else if (ctx->src == DNS_SRC_ZONE) {
		/* Answer from the loop, never re-entrantly. */
		q->timer = evtimer_new(ctx->base, dns_zone_answer, q);
		timerclear(&tv);
	} else if ((q->cached = dns_cache_get(ctx->cache, q->name, type,
	    mono_now())) != NULL) {
		/* The same: from the loop. */
		q->timer = evtimer_new(ctx->base, dns_cache_answer, q);
		timerclear(&tv);
	} else {
		q->timer = evtimer_new(ctx->base, dns_timeout, q);
		tv.tv_sec = ctx->timeout_ms / 1000;
		tv.tv_usec = (ctx->timeout_ms % 1000) * 1000;
	}
	if (q->timer == NULL)
		fatalx("dns: evtimer_new");
	evtimer_add(q->timer, &tv);
	if (ctx->src != DNS_SRC_ZONE && !ctx->expired && q->cached == NULL) {
		r = ub_resolve_async(ctx->ub, q->name, type, DNS_C_IN, q,
		    dns_ub_callback, &q->ub_id);
		if (r != 0) {
			/* Report it as a failure from the loop. */
			log_warnx("dns: ub_resolve_async %s: %s", q->name,
			    ub_strerror(r));
			timerclear(&tv);
			evtimer_add(q->timer, &tv);
		} else
			q->ub_active = 1;
	}
	return q;
}

void
dns_query_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	if (q->ub_active)
		ub_cancel(q->ctx->ub, q->ub_id);
	query_free(q);
}

static void
answer_init(struct dns_answer *ans, const struct dns_query *q)
{
	memset(ans, 0, sizeof(*ans));
	strlcpy(ans->qname, q->name, sizeof(ans->qname));
	strlcpy(ans->canonname, q->name, sizeof(ans->canonname));
	ans->qtype = q->type;
	ans->sec = DNS_SEC_INSECURE;
}

static void
deliver(struct dns_query *q, struct dns_answer *ans)
{
	dns_cb	 cb = q->cb;
	void	*arg = q->arg;

	/* Free the query first: the callback may start or cancel others. */
	query_free(q);
	cb(arg, ans);
	answer_clear(ans);
}

static void
dns_timeout(int fd, short ev, void *arg)
{
	struct dns_query	*q = arg;
	struct dns_answer	 ans;

	answer_init(&ans, q);
	ans.failed = 1;
	ans.rcode = DNS_R_SERVFAIL;
	if (q->ub_active) {
		ub_cancel(q->ctx->ub, q->ub_id);
		q->ub_active = 0;
		ans.timeout = 1;
	}
	if (q->ctx->expired)
		ans.timeout = 1;
	deliver(q, &ans);
}

static void
dns_cache_answer(int fd, short ev, void *arg)
{
	struct dns_query	*q = arg;
	struct dns_answer	*ans = q->cached;

	q->cached = NULL;
	deliver(q, ans);
	free(ans);
}

static void
dns_ub_readable(int fd, short ev, void *arg)
{
	struct dns_ctx	*ctx = arg;
	int		 r;

	if ((r = ub_process(ctx->ub)) != 0)
		log_warnx("dns: ub_process: %s", ub_strerror(r));
}

static void
dns_ub_callback(void *arg, int err, struct ub_result *res)
{
	struct dns_query	*q = arg;
	struct dns_answer	 ans;
	const uint8_t		**rd = NULL;
	size_t			*len = NULL, n = 0, i;
	uint32_t		*ttl = NULL;

	q->ub_active = 0;
	answer_init(&ans, q);
	if (err != 0 || res == NULL) {
		log_debug("dns: %s %s: %s", q->name, dns_type_name(q->type),
		    ub_strerror(err));
		ans.failed = 1;
		ans.rcode = DNS_R_SERVFAIL;
		if (res != NULL)
			ub_resolve_free(res);
		deliver(q, &ans);
		return;
	}
	ans.rcode = res->rcode;
	if (res->secure)
		ans.sec = DNS_SEC_SECURE;
	else if (res->bogus) {
		ans.sec = DNS_SEC_BOGUS;
		if (res->why_bogus != NULL)
			strlcpy(ans.why_bogus, res->why_bogus,
			    sizeof(ans.why_bogus));
	}
	if (res->canonname != NULL)
		dns_name_canon(res->canonname, ans.canonname,
		    sizeof(ans.canonname));
	if (res->havedata && res->data != NULL && res->len != NULL) {
		while (n < 1024 && res->data[n] != NULL)
			n++;
	}
	if (n > 0) {
		rd = xcalloc(n, sizeof(*rd));
		len = xcalloc(n, sizeof(*len));
		ttl = xcalloc(n, sizeof(*ttl));
		for (i = 0; i < n; i++) {
			rd[i] = (const uint8_t *)res->data[i];
			len[i] = res->len[i] < 0 ? 0 : (size_t)res->len[i];
			ttl[i] = res->ttl < 0 ? 0 : (uint32_t)res->ttl;
		}
		answer_set_records(&ans, q->type, n, rd, len, ttl);
		free(rd);
		free(len);
		free(ttl);
	}
	dns_cache_put(q->ctx->cache, &ans, res->ttl < 0 ? 0 :
	    (uint32_t)res->ttl, mono_now());
	ub_resolve_free(res);
	deliver(q, &ans);
}

/*
 * Offline: records of the zone answer every question, CNAMEs are followed,
 * names absent are NXDOMAIN, names present with other types NODATA.
 */
static void
dns_zone_answer(int fd, short ev, void *arg)
{
	struct dns_query	*q = arg;
	struct zone		*z = q->ctx->zone;
	struct dns_answer	 ans;
	const uint8_t		**rd;
	size_t			*len, n, i, hop;
	uint32_t		*ttl;
	char			 cur[DNS_NAME_BUF];
	int			 cname;

	answer_init(&ans, q);
	strlcpy(cur, q->name, sizeof(cur));
	rd = xcalloc(z->nrr + 1, sizeof(*rd));
	len = xcalloc(z->nrr + 1, sizeof(*len));
	ttl = xcalloc(z->nrr + 1, sizeof(*ttl));
	for (hop = 0; ; hop++) {
		if (zone_name_marked(z->timeout, z->ntimeout, cur)) {
			ans.failed = ans.timeout = 1;
			ans.rcode = DNS_R_SERVFAIL;
			break;
		}
		if (zone_name_marked(z->servfail, z->nservfail, cur)) {
			ans.rcode = DNS_R_SERVFAIL;
			break;
		}
		n = 0;
		cname = -1;
		for (i = 0; i < z->nrr; i++) {
			if (strcmp(z->rr[i].owner, cur) != 0)
				continue;
			if (z->rr[i].type == q->type) {
				rd[n] = z->rr[i].rdata;
				len[n] = z->rr[i].rdlen;
				ttl[n] = z->rr[i].ttl;
				n++;
			} else if (z->rr[i].type == DNS_T_CNAME)
				cname = (int)i;
		}
		if (n > 0) {
			answer_set_records(&ans, q->type, n, rd, len, ttl);
			break;
		}
		if (cname >= 0 && q->type != DNS_T_CNAME) {
			struct dns_rr	 rr;

			if (hop >= CNAME_CHAIN_MAX) {
				ans.rcode = DNS_R_SERVFAIL;
				break;
			}
			if (dns_rdata_decode(DNS_T_CNAME, z->rr[cname].rdata,
			    z->rr[cname].rdlen, &rr) == -1 ||
			    dns_name_canon(rr.u.name, cur, sizeof(cur)) == -1) {
				ans.rcode = DNS_R_SERVFAIL;
				break;
			}
			strlcpy(ans.canonname, cur, sizeof(ans.canonname));
			continue;
		}
		ans.rcode = zone_name_exists(z, cur) ? DNS_R_NOERROR :
		    DNS_R_NXDOMAIN;
		break;
	}
	free(rd);
	free(len);
	free(ttl);
	deliver(q, &ans);
}

/* Synchronous use, over the same path. */

struct sync_state {
	int			 done;
	struct dns_answer	*ans;
};

static void
sync_cb(void *arg, const struct dns_answer *ans)
{
	struct sync_state	*s = arg;

	s->ans = dns_answer_dup(ans);
	s->done = 1;
}

int
dns_run_once(struct dns_ctx *ctx)
{
	return event_base_loop(ctx->base, EVLOOP_ONCE);
}

struct dns_answer *
dns_resolve_sync(struct dns_ctx *ctx, const char *name, uint16_t type)
{
	struct sync_state	 s;
	struct dns_query	*q;

	memset(&s, 0, sizeof(s));
	if ((q = dns_query(ctx, name, type, sync_cb, &s)) == NULL)
		return NULL;
	while (!s.done)
		if (dns_run_once(ctx) == -1)
			fatalx("dns: event loop failed");
	return s.ans;
}

/*
 * A bounded in-process cache of DNS answers (see dns_cache.h): a hash
 * table of chains keyed by canonical name and type.  When it holds
 * DNS_CACHE_MAX entries, the expired ones go; if none had, everything
 * goes (simple, and at worst the next answers come from libunbound's own
 * cache again).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_cache.h"
#include "util.h"

#define DNS_CACHE_BUCKETS	1024

struct cache_entry {
	LIST_ENTRY(cache_entry)	 entry;
	uint16_t		 type;
	time_t			 expires;
	struct dns_answer	*ans;		/* ans->qname is the key */
};

LIST_HEAD(cache_chain, cache_entry);

struct dns_cache {
	struct cache_chain	 bucket[DNS_CACHE_BUCKETS];
	size_t			 n;
	size_t			 hits;
};

/* FNV-1a over the canonical name and the type. */
static size_t
cache_hash(const char *name, uint16_t type)
{
	uint32_t	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	h = (h ^ (type & 0xff)) * 16777619u;
	h = (h ^ (type >> 8)) * 16777619u;
	return h % DNS_CACHE_BUCKETS;
}

struct dns_cache *
dns_cache_new(void)
{
	struct dns_cache	*c;
	size_t			 i;

	c = xcalloc(1, sizeof(*c));
	for (i = 0; i < DNS_CACHE_BUCKETS; i++)
		LIST_INIT(&c->bucket[i]);
	return c;
}

static void
entry_free(struct dns_cache *c, struct cache_entry *e)
{
	LIST_REMOVE(e, entry);
	dns_answer_free(e->ans);
	free(e);
	c->n--;
}

/* Drop the expired entries, or all of them if `all`. */
static void
cache_purge(struct dns_cache *c, time_t now, int all)
{
	struct cache_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < DNS_CACHE_BUCKETS; i++)
		for (e = LIST_FIRST(&c->bucket[i]); e != NULL; e = next) {
			next = LIST_NEXT(e, entry);
			if (all || e->expires <= now)
				entry_free(c, e);
		}
}

void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	cache_purge(c, 0, 1);
	free(c);
}

static struct cache_entry *
cache_find(struct dns_cache *c, const char *name, uint16_t type)
{
	struct cache_entry	*e;

	LIST_FOREACH(e, &c->bucket[cache_hash(name, type)], entry)
		if (e->type == type && strcmp(e->ans->qname, name) == 0)
			return e;
	return NULL;
}

struct dns_answer *
dns_cache_get(struct dns_cache *c, const char *name, uint16_t type,
    time_t now)
{
	struct cache_entry	*e;

	if ((e = cache_find(c, name, type)) == NULL)
		return NULL;
	if (e->expires <= now) {
		entry_free(c, e);
		return NULL;
	}
	c->hits++;
	return dns_answer_dup(e->ans);
}

void
dns_cache_put(struct dns_cache *c, const struct dns_answer *ans,
    uint32_t ttl, time_t now)
{
	struct cache_entry	*e;

	if (ans->failed || ans->timeout || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN) ||
	    ttl == 0)
		return;
	if (ttl > DNS_CACHE_TTL_MAX)
		ttl = DNS_CACHE_TTL_MAX;
	if ((e = cache_find(c, ans->qname, ans->qtype)) != NULL)
		entry_free(c, e);
	if (c->n >= DNS_CACHE_MAX) {
		cache_purge(c, now, 0);
		if (c->n >= DNS_CACHE_MAX)
			cache_purge(c, now, 1);
	}
	e = xcalloc(1, sizeof(*e));
	e->type = ans->qtype;
	e->expires = now + ttl;
	e->ans = dns_answer_dup(ans);
	LIST_INSERT_HEAD(&c->bucket[cache_hash(ans->qname, ans->qtype)], e,
	    entry);
	c->n++;
}

size_t
dns_cache_hits(const struct dns_cache *c)
{
	return c->hits;
}

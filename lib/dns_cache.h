/*
 * The answers of one resolver context, kept for their TTL inside the
 * process (lib/dns.c).  libunbound caches too, but each of its answers,
 * cached or not, is a round trip through its background worker; the mail
 * of one sender asks the same few questions again and again (SPF, the
 * DKIM key, DMARC, iprev), and this cache answers them from the loop.
 */
#ifndef POSTERN_DNS_CACHE_H
#define POSTERN_DNS_CACHE_H

#include <stdint.h>
#include <time.h>

#include "dns.h"

/* Bounds: entries held, and the longest an answer is kept (seconds). */
#define DNS_CACHE_MAX		4096
#define DNS_CACHE_TTL_MAX	300

struct dns_cache;

struct dns_cache	*dns_cache_new(void);
void			 dns_cache_free(struct dns_cache *);
/*
 * A copy of the answer for (canonical name, type) that has not expired at
 * `now` (CLOCK_MONOTONIC seconds), or NULL; free with dns_answer_free().
 */
struct dns_answer	*dns_cache_get(struct dns_cache *, const char *name,
			    uint16_t type, time_t now);
/*
 * Keep a copy of ans for ttl seconds (at most DNS_CACHE_TTL_MAX) from now.
 * Only definite answers are kept: NOERROR (with or without records) or
 * NXDOMAIN, secure or insecure; failures, SERVFAIL and bogus answers are
 * asked again each time, so that a server that comes back is seen.
 */
void			 dns_cache_put(struct dns_cache *,
			    const struct dns_answer *ans, uint32_t ttl,
			    time_t now);
size_t			 dns_cache_hits(const struct dns_cache *);

#endif

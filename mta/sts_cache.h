/*
 * The MTA-STS policy cache (RFC 8461 5.1): the last valid policy of each
 * recipient domain with the record id it was fetched under, kept in the
 * mta's own LMDB store so that a policy outlives restarts, as the RFC
 * requires to resist an attacker who blocks the refresh.  The mta is its
 * only writer.  A cached policy is stored as the text the server sent and
 * parsed again when read: what is used is always what sts.c accepts.
 */
#ifndef POSTERN_MTA_STS_CACHE_H
#define POSTERN_MTA_STS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mta/sts.h"

#define STS_CACHE_MAPSIZE	((size_t)64 * 1024 * 1024)
#define STS_DOMAIN_MAX		255

struct sts_cache;

struct sts_cached {
	char			 domain[STS_DOMAIN_MAX + 1];
	char			 id[STS_ID_MAX + 1];
	int64_t			 fetched;	/* when the policy came */
	int64_t			 expires;	/* fetched + max_age */
	struct sts_policy	 policy;
};

struct sts_cache *sts_cache_open(const char *dir, char *err, size_t errlen);
void	 sts_cache_close(struct sts_cache *);
int	 sts_cache_get(struct sts_cache *, const char *domain,
	    struct sts_cached *);
int	 sts_cache_put(struct sts_cache *, const char *domain, const char *id,
	    time_t fetched, const char *text, size_t len, char *err,
	    size_t errlen);
int	 sts_cache_delete(struct sts_cache *, const char *domain);
int	 sts_cache_walk(struct sts_cache *,
	    int (*)(const struct sts_cached *, void *), void *);

#endif

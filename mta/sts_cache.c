/*
 * The MTA-STS policy cache in LMDB (see sts_cache.h).
 *
 * One database, "policy": key the domain (lower case), value
 *   1 byte format (1), 8 bytes fetched (big-endian seconds), 33 bytes
 *   id (NUL-padded), then the policy text as fetched.
 * A value that does not decode, or whose text no longer parses, is not
 * a policy: it reads as absent (and is logged), never as a looser one.
 */

#include <ctype.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "mta/sts_cache.h"

#define STS_CACHE_FORMAT	1
#define STS_CACHE_HEAD		(1 + 8 + STS_ID_MAX + 1)

struct sts_cache {
	MDB_env		*env;
	MDB_dbi		 db;
};

static int
sts_cache_key(const char *domain, char *k)
{
	size_t	 i;

	for (i = 0; domain[i] != '\0'; i++) {
		if (i == STS_DOMAIN_MAX)
			return -1;
		k[i] = tolower((unsigned char)domain[i]);
	}
	k[i] = '\0';
	return i == 0 ? -1 : (int)i;
}

struct sts_cache *
sts_cache_open(const char *dir, char *err, size_t errlen)
{
	struct sts_cache	*c = xcalloc(1, sizeof(*c));
	MDB_txn			*txn;
	int			 rc;

	if ((rc = mdb_env_create(&c->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_mapsize(c->env, STS_CACHE_MAPSIZE)) != 0 ||
	    (rc = mdb_env_set_maxdbs(c->env, 1)) != 0 ||
	    (rc = mdb_env_open(c->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail_env;
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail_env;
	if ((rc = mdb_dbi_open(txn, "policy", MDB_CREATE, &c->db)) != 0) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_env;
	return c;
 fail_env:
	mdb_env_close(c->env);
 fail:
	snprintf(err, errlen, "MTA-STS cache %s: %s", dir, mdb_strerror(rc));
	free(c);
	return NULL;
}

void
sts_cache_close(struct sts_cache *c)
{
	if (c == NULL)
		return;
	mdb_env_close(c->env);
	free(c);
}

/* A stored value into *out (domain already set): 0, or -1 if unusable. */
static int
sts_cache_decode(const MDB_val *v, struct sts_cached *out)
{
	const uint8_t	*p = v->mv_data;
	char		 why[256];
	uint64_t	 t = 0;
	size_t		 i;

	if (v->mv_size < STS_CACHE_HEAD || p[0] != STS_CACHE_FORMAT)
		return -1;
	for (i = 0; i < 8; i++)
		t = t << 8 | p[1 + i];
	out->fetched = (int64_t)t;
	memcpy(out->id, p + 9, STS_ID_MAX + 1);
	if (out->id[STS_ID_MAX] != '\0' || out->id[0] == '\0')
		return -1;
	if (sts_policy_parse((const char *)p + STS_CACHE_HEAD,
	    v->mv_size - STS_CACHE_HEAD, &out->policy, why, sizeof(why)) == -1) {
		log_warnx("MTA-STS cache: the policy of %s no longer parses: "
		    "%s", out->domain, why);
		return -1;
	}
	out->expires = out->fetched + out->policy.max_age;
	return 0;
}

/* 1 and *out, 0 if there is no usable entry, -1 on a store error. */
int
sts_cache_get(struct sts_cache *c, const char *domain, struct sts_cached *out)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	char	 key[STS_DOMAIN_MAX + 1];
	int	 rc, n;

	if ((n = sts_cache_key(domain, key)) == -1)
		return 0;
	if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	k.mv_data = key;
	k.mv_size = n;
	rc = mdb_get(txn, c->db, &k, &v);
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		strlcpy(out->domain, key, sizeof(out->domain));
		rc = sts_cache_decode(&v, out) == 0 ? 1 : 0;
	} else
		rc = rc == MDB_NOTFOUND ? 0 : -1;
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Keep a policy that was just fetched under record id.  The text must
 * parse (the caller has parsed it already; this keeps a bad one out).
 */
int
sts_cache_put(struct sts_cache *c, const char *domain, const char *id,
    time_t fetched, const char *text, size_t len, char *err, size_t errlen)
{
	struct sts_policy	*pol;
	MDB_txn			*txn;
	MDB_val			 k, v;
	char			 key[STS_DOMAIN_MAX + 1];
	uint8_t			*p;
	uint64_t		 t = (uint64_t)fetched;
	int			 i, n, rc;

	pol = xmalloc(sizeof(*pol));
	rc = sts_policy_parse(text, len, pol, err, errlen);
	free(pol);
	if (rc == -1)
		return -1;
	if ((n = sts_cache_key(domain, key)) == -1 || strlen(id) == 0 ||
	    strlen(id) > STS_ID_MAX) {
		snprintf(err, errlen, "bad domain or id");
		return -1;
	}
	p = xcalloc(1, STS_CACHE_HEAD + len);
	p[0] = STS_CACHE_FORMAT;
	for (i = 7; i >= 0; i--, t >>= 8)
		p[1 + i] = t & 0xff;
	memcpy(p + 9, id, strlen(id));
	memcpy(p + STS_CACHE_HEAD, text, len);
	k.mv_data = key;
	k.mv_size = n;
	v.mv_data = p;
	v.mv_size = STS_CACHE_HEAD + len;
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) == 0) {
		if ((rc = mdb_put(txn, c->db, &k, &v, 0)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	free(p);
	if (rc != 0) {
		snprintf(err, errlen, "MTA-STS cache: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* Purge one domain, or every one (domain NULL): how many, or -1. */
int
sts_cache_delete(struct sts_cache *c, const char *domain)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 key[STS_DOMAIN_MAX + 1];
	int		 rc, n = 0;

	if (mdb_txn_begin(c->env, NULL, 0, &txn) != 0)
		return -1;
	if (domain != NULL) {
		if ((rc = sts_cache_key(domain, key)) == -1) {
			mdb_txn_abort(txn);
			return 0;
		}
		k.mv_data = key;
		k.mv_size = rc;
		rc = mdb_del(txn, c->db, &k, NULL);
		n = rc == 0;
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else if ((rc = mdb_cursor_open(txn, c->db, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0 &&
		    (rc = mdb_cursor_del(cur, 0)) == 0)
			n++;
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			log_warnx("MTA-STS cache: delete: %s",
			    mdb_strerror(rc));
		return -1;
	}
	return n;
}

/* Every usable entry, in domain order, until cb returns non-zero. */
int
sts_cache_walk(struct sts_cache *c, int (*cb)(const struct sts_cached *,
    void *), void *arg)
{
	struct sts_cached	*e = xmalloc(sizeof(*e));
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 rc;

	if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) != 0) {
		free(e);
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, c->db, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
			memset(e, 0, sizeof(*e));
			if (k.mv_size > STS_DOMAIN_MAX)
				continue;
			memcpy(e->domain, k.mv_data, k.mv_size);
			if (sts_cache_decode(&v, e) == 0 && cb(e, arg) != 0)
				break;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	free(e);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/*
 * The sent-report log over LMDB (reportd/sentlog.h says why it exists).
 *
 * One database, keys and values:
 *	'U' kind NUL domain		-> until (u64, big-endian)
 *	'P' begin(8) kind NUL domain	-> end (u64)
 *	'S' address			-> suppressed until (u64)
 *	'D' begin(8) kind NUL domain NUL uri
 *					-> state, attempts, nohost,
 *					   next try (u64 each)
 * Domains are lower-cased.  Pending keys start with the period's begin so
 * that a walk finds them oldest first.  Commits are synchronous: this is
 * written once per report, not per message.
 */
#include <sys/types.h>

#include <ctype.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "reportd/sentlog.h"
#include "util.h"

#define SENTLOG_MAPSIZE		((size_t)16 * 1024 * 1024)
#define SENTLOG_KEY_MAX		(1 + 8 + SENTLOG_KIND_MAX + 1 + \
				    SENTLOG_DOMAIN_MAX)
/* LMDB's default limit on a key is 511 bytes: a longer URI is hashed */
#define SENTLOG_DEST_KEY_MAX	511
#define SENTLOG_DEST_VAL	32

struct sentlog {
	MDB_env		*env;
	MDB_dbi		 db;
};

/* kind NUL domain (lower-cased) at k: the length, or 0 if too long. */
static size_t
name_part(uint8_t *k, const char *kind, const char *domain)
{
	size_t	 kl = strlen(kind), dl = strlen(domain), i;

	if (kl == 0 || kl >= SENTLOG_KIND_MAX || dl > SENTLOG_DOMAIN_MAX)
		return 0;
	memcpy(k, kind, kl);
	k[kl] = '\0';
	for (i = 0; i < dl; i++)
		k[kl + 1 + i] = tolower((unsigned char)domain[i]);
	return kl + 1 + dl;
}

struct sentlog *
sentlog_open(const char *path, char *err, size_t errlen)
{
	struct sentlog	*sl;
	MDB_txn		*txn;
	int		 rc;

	sl = xcalloc(1, sizeof(*sl));
	if ((rc = mdb_env_create(&sl->env)) != 0) {
		snprintf(err, errlen, "mdb_env_create: %s", mdb_strerror(rc));
		free(sl);
		return NULL;
	}
	if ((rc = mdb_env_set_mapsize(sl->env, SENTLOG_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(sl->env, path, MDB_NOSUBDIR, 0600)) != 0 ||
	    (rc = mdb_txn_begin(sl->env, NULL, 0, &txn)) != 0) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		mdb_env_close(sl->env);
		free(sl);
		return NULL;
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &sl->db)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		mdb_env_close(sl->env);
		free(sl);
		return NULL;
	}
	return sl;
}

void
sentlog_close(struct sentlog *sl)
{
	if (sl == NULL)
		return;
	mdb_env_close(sl->env);
	free(sl);
}

int
sentlog_until(struct sentlog *sl, const char *kind, const char *domain,
    time_t *until)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[SENTLOG_KEY_MAX];
	size_t		 n;
	int		 rc;

	*until = 0;
	kb[0] = 'U';
	if ((n = name_part(kb + 1, kind, domain)) == 0)
		return -1;
	if (mdb_txn_begin(sl->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	k.mv_data = kb;
	k.mv_size = 1 + n;
	rc = mdb_get(txn, sl->db, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		*until = (time_t)get_be64(v.mv_data);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int
sentlog_begin(struct sentlog *sl, const char *kind, const char *domain,
    time_t begin, time_t end)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[SENTLOG_KEY_MAX], vb[8];
	size_t		 n;

	kb[0] = 'U';
	if ((n = name_part(kb + 1, kind, domain)) == 0)
		return -1;
	if (mdb_txn_begin(sl->env, NULL, 0, &txn) != 0)
		return -1;
	put_be64(vb, (uint64_t)end);
	k.mv_data = kb;
	k.mv_size = 1 + n;
	v.mv_data = vb;
	v.mv_size = 8;
	if (mdb_put(txn, sl->db, &k, &v, 0) != 0)
		goto fail;
	kb[0] = 'P';
	put_be64(kb + 1, (uint64_t)begin);
	name_part(kb + 9, kind, domain);
	k.mv_size = 9 + n;
	if (mdb_put(txn, sl->db, &k, &v, 0) != 0)
		goto fail;
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
 fail:
	mdb_txn_abort(txn);
	return -1;
}

int
sentlog_done(struct sentlog *sl, const char *kind, const char *domain,
    time_t begin)
{
	MDB_txn		*txn;
	MDB_val		 k;
	uint8_t		 kb[SENTLOG_KEY_MAX];
	size_t		 n;
	int		 rc;

	kb[0] = 'P';
	put_be64(kb + 1, (uint64_t)begin);
	if ((n = name_part(kb + 9, kind, domain)) == 0)
		return -1;
	if (mdb_txn_begin(sl->env, NULL, 0, &txn) != 0)
		return -1;
	k.mv_data = kb;
	k.mv_size = 9 + n;
	rc = mdb_del(txn, sl->db, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

long
sentlog_foreach_pending(struct sentlog *sl,
    int (*cb)(void *, const struct sentlog_pending *), void *arg)
{
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	struct sentlog_pending	*list = NULL;
	const uint8_t		*p, *nul;
	size_t			 n = 0, i, dl;
	uint8_t			 start = 'P';
	int			 rc;

	if (mdb_txn_begin(sl->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, sl->db, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k.mv_data = &start;
	k.mv_size = 1;
	/* Collected first: the callbacks may write. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		p = k.mv_data;
		if (k.mv_size < 11 || p[0] != 'P')
			break;
		if (v.mv_size != 8 ||
		    (nul = memchr(p + 9, '\0', k.mv_size - 9)) == NULL ||
		    (size_t)(nul - (p + 9)) >= SENTLOG_KIND_MAX ||
		    (dl = k.mv_size - (nul + 1 - p)) > SENTLOG_DOMAIN_MAX)
			continue;
		list = xreallocarray(list, n + 1, sizeof(*list));
		memset(&list[n], 0, sizeof(list[n]));
		memcpy(list[n].kind, p + 9, nul - (p + 9));
		memcpy(list[n].domain, nul + 1, dl);
		list[n].begin = (time_t)get_be64(p + 1);
		list[n].end = (time_t)get_be64(v.mv_data);
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	for (i = 0; i < n; i++)
		if (cb(arg, &list[i]) != 0)
			break;
	free(list);
	return (long)n;
}

/* 'S' and the address, lower-cased: the key's length, or 0. */
static size_t
addr_key(uint8_t *k, const char *addr)
{
	size_t	 n = strlen(addr), i;

	if (n == 0 || n > SENTLOG_ADDR_MAX)
		return 0;
	k[0] = 'S';
	for (i = 0; i < n; i++)
		k[1 + i] = tolower((unsigned char)addr[i]);
	return 1 + n;
}

/* One record written, in a synced commit of its own: 0 or -1. */
static int
put_one(struct sentlog *sl, MDB_val *k, MDB_val *v)
{
	MDB_txn		*txn;

	if (mdb_txn_begin(sl->env, NULL, 0, &txn) != 0)
		return -1;
	if (mdb_put(txn, sl->db, k, v, 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

int
sentlog_suppress(struct sentlog *sl, const char *addr, time_t until)
{
	MDB_val		 k, v;
	uint8_t		 kb[1 + SENTLOG_ADDR_MAX], vb[8];

	if ((k.mv_size = addr_key(kb, addr)) == 0)
		return -1;
	k.mv_data = kb;
	put_be64(vb, (uint64_t)until);
	v.mv_data = vb;
	v.mv_size = 8;
	return put_one(sl, &k, &v);
}

int
sentlog_suppressed(struct sentlog *sl, const char *addr, time_t now,
    time_t *until)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[1 + SENTLOG_ADDR_MAX];
	int		 rc, ret = 0;

	*until = 0;
	if ((k.mv_size = addr_key(kb, addr)) == 0)
		return 0;
	k.mv_data = kb;
	if (mdb_txn_begin(sl->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = mdb_get(txn, sl->db, &k, &v);
	if (rc == 0 && v.mv_size == 8) {
		*until = (time_t)get_be64(v.mv_data);
		ret = now < *until;
	} else if (rc != MDB_NOTFOUND)
		ret = -1;
	mdb_txn_abort(txn);
	return ret;
}

int
sentlog_unsuppress(struct sentlog *sl, const char *addr)
{
	MDB_txn		*txn;
	MDB_val		 k;
	uint8_t		 kb[1 + SENTLOG_ADDR_MAX];
	int		 rc;

	if ((k.mv_size = addr_key(kb, addr)) == 0)
		return 0;
	k.mv_data = kb;
	if (mdb_txn_begin(sl->env, NULL, 0, &txn) != 0)
		return -1;
	rc = mdb_del(txn, sl->db, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (mdb_txn_commit(txn) != 0)
		return -1;
	return rc == 0;
}

long
sentlog_foreach_suppressed(struct sentlog *sl,
    int (*cb)(void *, const char *, time_t), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 addr[SENTLOG_ADDR_MAX + 1];
	uint8_t		 start = 'S';
	long		 n = 0;
	int		 rc;

	if (mdb_txn_begin(sl->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, sl->db, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k.mv_data = &start;
	k.mv_size = 1;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 2 || ((uint8_t *)k.mv_data)[0] != 'S')
			break;
		if (v.mv_size != 8 || k.mv_size - 1 > SENTLOG_ADDR_MAX ||
		    memchr((uint8_t *)k.mv_data + 1, '\0', k.mv_size - 1))
			continue;
		memcpy(addr, (uint8_t *)k.mv_data + 1, k.mv_size - 1);
		addr[k.mv_size - 1] = '\0';
		n++;
		if (cb(arg, addr, (time_t)get_be64(v.mv_data)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/*
 * 'D' begin kind NUL domain NUL uri at kb: the length, or 0.  A URI that
 * would not fit LMDB's key limit is kept as its SHA-256 in hex, which
 * tells URIs apart just as well.
 */
static size_t
dest_key(uint8_t *kb, const char *kind, const char *domain, time_t begin,
    const char *uri)
{
	size_t		 n, ul = strlen(uri);
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	char		 hex[2 * SHA256_DIGEST_LENGTH + 1];
	size_t		 i;

	kb[0] = 'D';
	put_be64(kb + 1, (uint64_t)begin);
	if ((n = name_part(kb + 9, kind, domain)) == 0 || ul > SENTLOG_URI_MAX)
		return 0;
	n += 9;
	kb[n++] = '\0';
	if (n + ul > SENTLOG_DEST_KEY_MAX) {
		SHA256((const unsigned char *)uri, ul, md);
		for (i = 0; i < sizeof(md); i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		uri = hex;
		ul = strlen(hex);
	}
	memcpy(kb + n, uri, ul);
	return n + ul;
}

int
sentlog_dest_get(struct sentlog *sl, const char *kind, const char *domain,
    time_t begin, const char *uri, struct sentlog_dest *d)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[SENTLOG_DEST_KEY_MAX + 1];
	const uint8_t	*p;
	int		 rc, ret = 0;

	memset(d, 0, sizeof(*d));
	if ((k.mv_size = dest_key(kb, kind, domain, begin, uri)) == 0)
		return -1;
	k.mv_data = kb;
	if (mdb_txn_begin(sl->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = mdb_get(txn, sl->db, &k, &v);
	if (rc == 0 && v.mv_size == SENTLOG_DEST_VAL) {
		p = v.mv_data;
		d->state = (int)get_be64(p);
		d->attempts = (uint32_t)get_be64(p + 8);
		d->nohost = (uint32_t)get_be64(p + 16);
		d->next_try = (time_t)get_be64(p + 24);
		if (get_be64(p) > SENTLOG_DEST_DROPPED)
			d->state = SENTLOG_DEST_FAILING;
		ret = 1;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		ret = -1;
	mdb_txn_abort(txn);
	return ret;
}

int
sentlog_dest_put(struct sentlog *sl, const char *kind, const char *domain,
    time_t begin, const char *uri, const struct sentlog_dest *d)
{
	MDB_val		 k, v;
	uint8_t		 kb[SENTLOG_DEST_KEY_MAX + 1], vb[SENTLOG_DEST_VAL];

	if ((k.mv_size = dest_key(kb, kind, domain, begin, uri)) == 0)
		return -1;
	k.mv_data = kb;
	put_be64(vb, (uint64_t)d->state);
	put_be64(vb + 8, d->attempts);
	put_be64(vb + 16, d->nohost);
	put_be64(vb + 24, (uint64_t)d->next_try);
	v.mv_data = vb;
	v.mv_size = sizeof(vb);
	return put_one(sl, &k, &v);
}

/* Whether the entry at k, v is older than before (sentlog_prune()). */
static int
prune_old(const MDB_val *k, const MDB_val *v, time_t before)
{
	const uint8_t	*p = k->mv_data;

	if (k->mv_size < 1)
		return 0;
	switch (p[0]) {
	case 'U':	/* the domain's reports end */
	case 'S':	/* suppressed until */
		return v->mv_size == 8 &&
		    (time_t)get_be64(v->mv_data) < before;
	case 'P':	/* a pending report's end */
		return k->mv_size >= 9 && v->mv_size == 8 &&
		    (time_t)get_be64(v->mv_data) < before;
	case 'D':	/* a report's destination, by the report's begin */
		return k->mv_size >= 9 && (time_t)get_be64(p + 1) < before;
	default:
		return 0;
	}
}

long
sentlog_prune(struct sentlog *sl, time_t before)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	long		 n = 0;
	int		 rc;

	/* a few kilobytes of keys per report: one transaction will do */
	if (mdb_txn_begin(sl->env, NULL, 0, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, sl->db, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!prune_old(&k, &v, before))
			continue;
		if (mdb_cursor_del(cur, 0) != 0) {
			rc = -1;
			break;
		}
		n++;
	}
	mdb_cursor_close(cur);
	if ((rc != 0 && rc != MDB_NOTFOUND) || mdb_txn_commit(txn) != 0) {
		if (rc != 0 && rc != MDB_NOTFOUND)
			mdb_txn_abort(txn);
		return -1;
	}
	return n;
}

/*
 * The evaluation store over LMDB.
 *
 * Databases:
 *	eval	domain NUL when(8) seq(8)	-> dmarc_eval_encode() bytes
 *	meta	"version", "seq"
 *	frate	period(8) name			-> count(8): failure-report
 *		rate counters (evalstore_rate_take())
 * The domain is the record's DMARC Policy Domain, or its header_from when
 * no policy was found (dmarc_eval_report_domain()), lower-cased: an
 * aggregate report is per policy domain (RFC 9990 2), so a subdomain's
 * mail judged by its organisational domain's record goes in that
 * domain's report, with its own header_from in its rows.
 * Numbers are big-endian so that LMDB's memcmp order is numeric, and the
 * NUL after the domain keeps "a.test" records together and apart from
 * "a.test.example" ones: a domain's records are one contiguous,
 * time-ordered range.  seq is a counter kept in meta, so two evaluations
 * in the same second never share a key, across restarts too.  Values are
 * versioned by their encoding (dmarc_eval_decode rejects other versions),
 * so a value that does not decode is skipped with a warning.
 *
 * Batching.  Evaluations arrive one per message.  Committing each would be
 * one fsync per message on top of the queue's own; instead evalstore_put()
 * buffers records in memory and one transaction commits a batch, either
 * when EVALSTORE_BATCH_MAX are waiting or when the owner's timer (reportd:
 * EVALSTORE_FLUSH_MS) calls evalstore_flush().  A crash loses at most that
 * last batch.  That is acceptable here as it is not for the queue: the
 * message itself is safe in the queue, and an aggregate report is a
 * statistical summary that RFC 9990 receivers already treat as best
 * effort (a report may be lost in transit too), so a report that counts a
 * few messages short misleads nobody.
 *
 * A full spool.  A commit that finds no room keeps its records in memory
 * (at most EVALSTORE_BACKLOG_MAX, a few megabytes) and the owner retries
 * on a timer, so a spool that fills for a while costs no evaluation; past
 * the backlog, records are counted as lost.  One line is logged when the
 * spool is found full, one when the backlog overflows, and one when the
 * records are stored at last.  Mail never waits for any of this.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "reportd/evalstore.h"
#include "jsonw.h"
#include "log.h"
#include "util.h"

#define EVALSTORE_FORMAT	1
#define EVALSTORE_DEFAULT_MAPSIZE	((size_t)256 * 1024 * 1024)
#define EVALSTORE_KEY_MAX	(EVALSTORE_DOMAIN_MAX + 1 + 16)
#define EVALSTORE_PRUNE_CHUNK	10000	/* deletes per transaction */

struct pending {
	uint8_t		 key[EVALSTORE_KEY_MAX];
	size_t		 keylen;
	struct buf	 val;
};

struct evalstore {
	MDB_env			*env;
	MDB_dbi			 db_eval, db_meta, db_tls, db_tlspol, db_rate;
	size_t			 mapsize;
	uint64_t		 seq;
	struct pending		 pend[EVALSTORE_BACKLOG_MAX];
	size_t			 npend;
	int			 full;		/* no room at the last commit */
	uint64_t		 lost_full;	/* dropped while full */
	struct evalstore_stats	 st;
};

/* The key prefix of a domain: lower-cased name and NUL.  Its length. */
static size_t
domain_prefix(uint8_t *k, const char *domain)
{
	size_t	 i, n = strnlen(domain, EVALSTORE_DOMAIN_MAX);

	for (i = 0; i < n; i++)
		k[i] = tolower((unsigned char)domain[i]);
	k[n] = '\0';
	return n + 1;
}

/* Split a stored key; -1 if it is not one this store writes. */
static int
key_parse(const MDB_val *k, size_t *domlen, time_t *when)
{
	const uint8_t	*p = k->mv_data, *nul;

	if (k->mv_size < 17 || k->mv_size > EVALSTORE_KEY_MAX)
		return -1;
	if ((nul = memchr(p, '\0', k->mv_size - 16)) == NULL ||
	    (size_t)(nul - p) != k->mv_size - 17)
		return -1;
	*domlen = k->mv_size - 17;
	*when = (time_t)get_be64(p + *domlen + 1);
	return 0;
}

static int
meta_get64(struct evalstore *es, MDB_txn *txn, const char *name,
    uint64_t *v)
{
	MDB_val	 k, d;
	int	 rc;

	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	if ((rc = mdb_get(txn, es->db_meta, &k, &d)) != 0)
		return rc;
	if (d.mv_size != 8)
		return MDB_CORRUPTED;
	*v = get_be64(d.mv_data);
	return 0;
}

static int
meta_put64(struct evalstore *es, MDB_txn *txn, const char *name, uint64_t v)
{
	MDB_val	 k, d;
	uint8_t	 b[8];

	put_be64(b, v);
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	d.mv_data = b;
	d.mv_size = sizeof(b);
	return mdb_put(txn, es->db_meta, &k, &d, 0);
}

/*
 * Begin a write transaction, adopting a map another process grew.
 */
static int
txn_begin(struct evalstore *es, unsigned int flags, MDB_txn **txn)
{
	int	 rc;

	rc = mdb_txn_begin(es->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		if ((rc = mdb_env_set_mapsize(es->env, 0)) != 0)
			return rc;
		rc = mdb_txn_begin(es->env, NULL, flags, txn);
	}
	return rc;
}

/* Double the map, up to EVALSTORE_MAPSIZE_MAX: 0 or an LMDB error. */
static int	map_grow(struct evalstore *);

/* For the other databases in this environment (reportd/rpt_store.c). */
MDB_env *
evalstore_env(struct evalstore *es)
{
	return es->env;
}

int
evalstore_txn_begin(struct evalstore *es, unsigned int flags, MDB_txn **txn)
{
	return txn_begin(es, flags, txn);
}

int
evalstore_map_grow(struct evalstore *es)
{
	return map_grow(es);
}

static int
map_grow(struct evalstore *es)
{
	MDB_envinfo	 info;
	size_t		 want;
	int		 rc;

	if (es->mapsize >= EVALSTORE_MAPSIZE_MAX)
		return MDB_MAP_FULL;
	want = es->mapsize * 2;
	if (want > EVALSTORE_MAPSIZE_MAX)
		want = EVALSTORE_MAPSIZE_MAX;
	if ((rc = mdb_env_set_mapsize(es->env, want)) != 0)
		return rc;
	es->mapsize = mdb_env_info(es->env, &info) == 0 ?
	    info.me_mapsize : want;
	log_info("evaluation store: map grown to %zu bytes", es->mapsize);
	return 0;
}

static int
open_dbs(struct evalstore *es)
{
	MDB_txn		*txn;
	uint64_t	 format;
	int		 rc;

	if ((rc = txn_begin(es, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "eval", MDB_CREATE, &es->db_eval)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &es->db_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "tls", MDB_CREATE, &es->db_tls)) != 0 ||
	    (rc = mdb_dbi_open(txn, "tlspol", MDB_CREATE,
	    &es->db_tlspol)) != 0 ||
	    (rc = mdb_dbi_open(txn, "frate", MDB_CREATE, &es->db_rate)) != 0)
		goto fail;
	rc = meta_get64(es, txn, "version", &format);
	if (rc == MDB_NOTFOUND)
		rc = meta_put64(es, txn, "version", EVALSTORE_FORMAT);
	else if (rc == 0 && format != EVALSTORE_FORMAT)
		rc = MDB_VERSION_MISMATCH;
	if (rc != 0)
		goto fail;
	rc = meta_get64(es, txn, "seq", &es->seq);
	if (rc == MDB_NOTFOUND) {
		es->seq = 0;
		rc = 0;
	}
	if (rc != 0)
		goto fail;
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

struct evalstore *
evalstore_open(const char *dir, size_t mapsize, char *err, size_t errlen)
{
	struct evalstore	*es;
	MDB_envinfo		 info;
	size_t			 i;
	int			 rc;

	if (mapsize == 0)
		mapsize = EVALSTORE_DEFAULT_MAPSIZE;
	if (mapsize < EVALSTORE_MAPSIZE_MIN)
		mapsize = EVALSTORE_MAPSIZE_MIN;
	if (mapsize > EVALSTORE_MAPSIZE_MAX)
		mapsize = EVALSTORE_MAPSIZE_MAX;
	es = xcalloc(1, sizeof(*es));
	if ((rc = mdb_env_create(&es->env)) != 0) {
		snprintf(err, errlen, "mdb_env_create: %s", mdb_strerror(rc));
		free(es);
		return NULL;
	}
	/* Synchronous commits: the batching above is what limits fsyncs. */
	if ((rc = mdb_env_set_maxdbs(es->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(es->env, mapsize)) != 0 ||
	    (rc = mdb_env_open(es->env, dir, 0, 0600)) != 0) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	es->mapsize = mdb_env_info(es->env, &info) == 0 ?
	    info.me_mapsize : mapsize;
	if ((rc = open_dbs(es)) != 0) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	for (i = 0; i < EVALSTORE_BACKLOG_MAX; i++)
		buf_init(&es->pend[i].val, EVALSTORE_VALUE_MAX);
	return es;
fail:
	mdb_env_close(es->env);
	free(es);
	return NULL;
}

void
evalstore_close(struct evalstore *es)
{
	size_t	 i;

	if (es == NULL)
		return;
	evalstore_flush(es);
	for (i = 0; i < EVALSTORE_BACKLOG_MAX; i++)
		buf_free(&es->pend[i].val);
	mdb_env_close(es->env);
	free(es);
}

size_t
evalstore_pending(const struct evalstore *es)
{
	return es->npend;
}

/* Write the pending batch in one transaction: 0 or an LMDB error. */
static int
commit_batch(struct evalstore *es)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint64_t	 seq;
	size_t		 i;
	int		 rc;

	if ((rc = txn_begin(es, 0, &txn)) != 0)
		return rc;
	seq = es->seq;
	for (i = 0; i < es->npend; i++) {
		struct pending	*p = &es->pend[i];

		/* seq is filled in here, so a retried batch stays unique. */
		put_be64(p->key + p->keylen - 8, ++seq);
		k.mv_data = p->key;
		k.mv_size = p->keylen;
		v.mv_data = p->val.data;
		v.mv_size = p->val.len;
		if ((rc = mdb_put(txn, es->db_eval, &k, &v, 0)) != 0)
			goto fail;
	}
	if ((rc = meta_put64(es, txn, "seq", seq)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	es->seq = seq;
	return 0;
fail:
	mdb_txn_abort(txn);
	return rc;
}

/* Errors that mean the spool, or the map at its limit, has no room. */
static int
nospace(int rc)
{
	return rc == ENOSPC || rc == EDQUOT || rc == EIO || rc == MDB_MAP_FULL;
}

static void
pending_clear(struct evalstore *es)
{
	size_t	 i;

	for (i = 0; i < es->npend; i++)
		buf_reset(&es->pend[i].val);
	es->npend = 0;
}

int
evalstore_flush(struct evalstore *es)
{
	size_t	 n = es->npend;
	int	 rc;

	if (n == 0)
		return 0;
	rc = commit_batch(es);
	if (rc == MDB_MAP_FULL && map_grow(es) == 0)
		rc = commit_batch(es);
	if (rc != 0 && nospace(rc)) {
		if (!es->full)
			log_warnx("evaluation store: the spool is full (%s): "
			    "evaluations are kept in memory, up to %d, until "
			    "there is room", mdb_strerror(rc),
			    EVALSTORE_BACKLOG_MAX);
		es->full = 1;
		return -1;
	}
	pending_clear(es);
	if (rc != 0) {
		es->st.dropped += n;
		log_warnx("evaluation store: %zu evaluations lost: %s", n,
		    mdb_strerror(rc));
		return -1;
	}
	if (es->full) {
		log_info("evaluation store: there is room again: %zu "
		    "evaluations kept meanwhile are stored, %llu were lost",
		    n, (unsigned long long)es->lost_full);
		es->st.held += n;
		es->full = 0;
		es->lost_full = 0;
	}
	es->st.commits++;
	es->st.stored += n;
	return 0;
}

int
evalstore_full(const struct evalstore *es)
{
	return es->full;
}

int
evalstore_put(struct evalstore *es, const struct dmarc_eval_record *r)
{
	struct pending	*p;
	uint64_t	 when;

	if (es->npend >= EVALSTORE_BACKLOG_MAX) {
		/* Only a full spool lets the backlog grow this far. */
		es->st.dropped++;
		if (es->lost_full++ == 0)
			log_warnx("evaluation store: the spool is still full "
			    "and %d evaluations wait: new ones are lost until "
			    "there is room", EVALSTORE_BACKLOG_MAX);
		return -1;
	}
	p = &es->pend[es->npend];
	buf_reset(&p->val);
	if (dmarc_eval_encode(r, &p->val) == -1) {
		log_warnx("evaluation store: a record for \"%.64s\" cannot "
		    "be encoded (out of range, or over %d bytes); dropped",
		    r->header_from, EVALSTORE_VALUE_MAX);
		buf_reset(&p->val);
		es->st.dropped++;
		return -1;
	}
	p->keylen = domain_prefix(p->key, dmarc_eval_report_domain(r));
	when = r->when < 0 ? 0 : (uint64_t)r->when;
	put_be64(p->key + p->keylen, when);
	p->keylen += 16;	/* seq: at commit */
	es->npend++;
	/* While the spool is full the owner's timer retries, not each put. */
	if (es->npend >= EVALSTORE_BATCH_MAX && !es->full &&
	    evalstore_flush(es) == -1 && !es->full)
		return -1;
	return 0;
}

/*
 * Decode one value; a corrupt one is counted and logged, never fatal.
 */
static int
value_decode(struct evalstore *es, const MDB_val *k, const MDB_val *v,
    struct dmarc_eval_record *r)
{
	size_t	 domlen;
	time_t	 when;

	if (v->mv_size > EVALSTORE_VALUE_MAX ||
	    dmarc_eval_decode(v->mv_data, v->mv_size, r) == -1) {
		es->st.corrupt++;
		if (key_parse(k, &domlen, &when) == 0)
			log_warnx("evaluation store: corrupt record for "
			    "\"%.*s\" at %lld skipped", (int)domlen,
			    (const char *)k->mv_data, (long long)when);
		else
			log_warnx("evaluation store: corrupt record "
			    "skipped");
		return -1;
	}
	return 0;
}

long
evalstore_foreach(struct evalstore *es, const char *domain, time_t from,
    time_t until, evalstore_cb cb, void *arg)
{
	MDB_txn				*txn;
	MDB_cursor			*cur;
	MDB_val				 k, v;
	struct dmarc_eval_record	*r;
	uint8_t				 start[EVALSTORE_KEY_MAX];
	size_t				 plen = 0, domlen;
	time_t				 when;
	long				 n = 0;
	int				 rc, op;

	if ((rc = txn_begin(es, MDB_RDONLY, &txn)) != 0) {
		log_warnx("evaluation store: %s", mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, es->db_eval, &cur)) != 0) {
		mdb_txn_abort(txn);
		log_warnx("evaluation store: %s", mdb_strerror(rc));
		return -1;
	}
	r = xmalloc(sizeof(*r));
	if (domain != NULL && domain[0] != '\0') {
		plen = domain_prefix(start, domain);
		put_be64(start + plen, from < 0 ? 0 : (uint64_t)from);
		memset(start + plen + 8, 0, 8);
		k.mv_data = start;
		k.mv_size = plen + 16;
		op = MDB_SET_RANGE;
	} else
		op = MDB_FIRST;
	for (;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		if (plen > 0 && (k.mv_size < plen ||
		    memcmp(k.mv_data, start, plen) != 0))
			break;		/* past the domain's range */
		if (key_parse(&k, &domlen, &when) == -1) {
			es->st.corrupt++;
			log_warnx("evaluation store: malformed key skipped");
			continue;
		}
		if (when < from)
			continue;
		if (until != 0 && when >= until) {
			if (plen > 0)
				break;	/* time-ordered within a domain */
			continue;
		}
		if (value_decode(es, &k, &v, r) == -1)
			continue;
		n++;
		if (cb(arg, r) != 0)
			break;
	}
	free(r);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_warnx("evaluation store: %s", mdb_strerror(rc));
		return -1;
	}
	return n;
}

/* One transaction's worth of pruning: deleted count, or -1. */
static long
prune_chunk(struct evalstore *es, time_t before, int *more)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 domlen;
	time_t		 when;
	long		 n = 0;
	int		 rc, op = MDB_FIRST;

	*more = 0;
	if ((rc = txn_begin(es, 0, &txn)) != 0)
		goto err;
	if ((rc = mdb_cursor_open(txn, es->db_eval, &cur)) != 0) {
		mdb_txn_abort(txn);
		goto err;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		/* A key this store cannot read is garbage: it goes too. */
		if (key_parse(&k, &domlen, &when) == 0 && when >= before)
			continue;
		/* After a delete, MDB_NEXT yields the following record. */
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		if (++n >= EVALSTORE_PRUNE_CHUNK) {
			*more = 1;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		mdb_txn_abort(txn);
		goto err;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto err;
	return n;
err:
	log_warnx("evaluation store: prune: %s", mdb_strerror(rc));
	return -1;
}

long
evalstore_prune(struct evalstore *es, time_t before)
{
	long	 n, total = 0;
	int	 more;

	do {
		if ((n = prune_chunk(es, before, &more)) == -1)
			return -1;
		total += n;
	} while (more);
	es->st.pruned += total;
	return total;
}

/*
 * Failure-report rate counters.  A key is the period's begin (8 bytes,
 * big-endian) and the name; only the current period's keys are kept, so
 * the first count of a new period deletes the older ones in the same
 * transaction and the database's entry count is the number of names
 * counted this period.
 */
static size_t
rate_key(uint8_t *k, const char *name, time_t period)
{
	size_t	 n = strlen(name);

	if (n == 0 || n > EVALSTORE_RATE_NAME_MAX)
		return 0;
	put_be64(k, (uint64_t)period);
	memcpy(k + 8, name, n);
	return 8 + n;
}

/* Delete the counters of periods before period: 0 or an LMDB error. */
static int
rate_prune(struct evalstore *es, MDB_txn *txn, time_t period)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, es->db_rate, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size >= 8 &&
		    (time_t)get_be64(k.mv_data) >= period)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
rate_take_txn(struct evalstore *es, const uint8_t *key, size_t keylen,
    time_t period, uint64_t limit, size_t max_names, int *taken)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	MDB_val		 k, v;
	uint8_t		 cnt[8];
	uint64_t	 n = 0;
	int		 rc;

	*taken = 0;
	if ((rc = txn_begin(es, 0, &txn)) != 0)
		return rc;
	if ((rc = rate_prune(es, txn, period)) != 0)
		goto fail;
	k.mv_data = (void *)key;
	k.mv_size = keylen;
	rc = mdb_get(txn, es->db_rate, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = get_be64(v.mv_data);
	else if (rc == MDB_NOTFOUND || rc == 0) {
		/* a new name (or a value not ours): is there room? */
		if ((rc = mdb_stat(txn, es->db_rate, &st)) != 0)
			goto fail;
		if (st.ms_entries >= max_names) {
			rc = mdb_txn_commit(txn);	/* the pruning */
			return rc;
		}
	} else
		goto fail;
	if (n >= limit)
		return mdb_txn_commit(txn);
	put_be64(cnt, n + 1);
	v.mv_data = cnt;
	v.mv_size = sizeof(cnt);
	if ((rc = mdb_put(txn, es->db_rate, &k, &v, 0)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) == 0)
		*taken = 1;
	return rc;
 fail:
	mdb_txn_abort(txn);
	return rc;
}

int
evalstore_rate_take(struct evalstore *es, const char *name, time_t period,
    uint64_t limit, size_t max_names)
{
	uint8_t	 key[8 + EVALSTORE_RATE_NAME_MAX];
	size_t	 keylen;
	int	 rc, taken;

	if ((keylen = rate_key(key, name, period)) == 0)
		return 0;
	rc = rate_take_txn(es, key, keylen, period, limit, max_names, &taken);
	if (rc == MDB_MAP_FULL && map_grow(es) == 0)
		rc = rate_take_txn(es, key, keylen, period, limit, max_names,
		    &taken);
	if (rc != 0) {
		log_warnx("evaluation store: rate counter %s: %s", name,
		    mdb_strerror(rc));
		return -1;
	}
	return taken;
}

long long
evalstore_rate_get(struct evalstore *es, const char *name, time_t period)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 key[8 + EVALSTORE_RATE_NAME_MAX];
	long long	 n = 0;
	int		 rc;

	if ((k.mv_size = rate_key(key, name, period)) == 0)
		return 0;
	k.mv_data = key;
	if (mdb_txn_begin(es->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = mdb_get(txn, es->db_rate, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = (long long)get_be64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		n = -1;
	mdb_txn_abort(txn);
	return n;
}

static int
count_cb(void *arg, const struct dmarc_eval_record *r)
{
	return 0;
}

long
evalstore_count(struct evalstore *es, const char *domain)
{
	return evalstore_foreach(es, domain, 0, 0, count_cb, NULL);
}

void
evalstore_get_stats(const struct evalstore *es, struct evalstore_stats *st)
{
	*st = es->st;
}

/* Printable, space-free text for one field ("-" when empty). */
static int
add_word(struct buf *b, const char *s)
{
	char	 c;
	int	 rc = 0;

	if (*s == '\0')
		return buf_addstr(b, "-");
	for (; *s != '\0' && rc == 0; s++) {
		c = *s;
		if (c <= ' ' || c >= 0x7f)
			c = '_';
		rc = buf_add(b, &c, 1);
	}
	return rc;
}

static const char *
policy_word(enum dmarc_policy p)
{
	const char	*s = dmarc_policy_name(p);

	return *s == '\0' ? "-" : s;
}

static char
flag_char(char c)
{
	return c > ' ' && c < 0x7f ? c : '-';
}

int
evalstore_format(const struct dmarc_eval_record *r, struct buf *b)
{
	struct tm	 tm;
	char		 when[32];
	time_t		 t = r->when;
	size_t		 i;
	int		 rc = 0;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "-", sizeof(when));
	rc |= buf_printf(b, "%s ip=", when);
	rc |= add_word(b, r->source_ip);
	rc |= buf_addstr(b, " from=");
	rc |= add_word(b, r->header_from);
	rc |= buf_addstr(b, " mfrom=");
	rc |= add_word(b, r->envelope_from);
	rc |= buf_printf(b, " result=%s disposition=%s",
	    dmarc_result_name(r->result),
	    dmarc_disposition_name(r->disposition));
	rc |= buf_addstr(b, " spf=");
	if (r->have_spf) {
		rc |= add_word(b, r->spf_domain);
		rc |= buf_printf(b, ":%s", spf_result_name(r->spf_result));
	} else
		rc |= buf_addstr(b, "-");
	rc |= buf_printf(b, " spf_aligned=%s", r->spf_aligned_pass ? "yes" :
	    "no");
	rc |= buf_addstr(b, " dkim=");
	if (r->ndkim == 0)
		rc |= buf_addstr(b, "-");
	for (i = 0; i < r->ndkim && i < DMARC_MAX_DKIM; i++) {
		if (i > 0)
			rc |= buf_addstr(b, ",");
		rc |= add_word(b, r->dkim[i].domain);
		rc |= buf_addstr(b, "/");
		rc |= add_word(b, r->dkim[i].selector);
		rc |= buf_printf(b, ":%s", dkim_result_name(r->dkim[i].result));
	}
	rc |= buf_printf(b, " dkim_aligned=%s", r->dkim_aligned_pass ? "yes" :
	    "no");
	rc |= buf_addstr(b, " policy=");
	if (r->have_policy) {
		rc |= add_word(b, r->policy_domain);
		rc |= buf_printf(b, " p=%s sp=%s np=%s adkim=%c aspf=%c t=%s "
		    "psd=%c", policy_word(r->p), policy_word(r->sp),
		    policy_word(r->np), flag_char(r->adkim),
		    flag_char(r->aspf), r->testing ? "y" : "n",
		    flag_char(r->psd));
	} else
		rc |= buf_addstr(b, "none");
	rc |= buf_addstr(b, " reasons=");
	if (r->nreasons == 0)
		rc |= buf_addstr(b, "-");
	for (i = 0; i < r->nreasons && i < DMARC_MAX_REASONS; i++) {
		if (i > 0)
			rc |= buf_addstr(b, ",");
		rc |= buf_addstr(b, dmarc_override_name(r->reasons[i].type));
		if (r->reasons[i].comment[0] != '\0') {
			rc |= buf_addstr(b, "(");
			rc |= add_word(b, r->reasons[i].comment);
			rc |= buf_addstr(b, ")");
		}
	}
	/* the message only carried a report (auth/reportmark.h) */
	if (r->report_mail)
		rc |= buf_addstr(b, " report=yes");
	rc |= buf_addstr(b, "\n");
	return rc == 0 ? 0 : -1;
}

/*
 * TLS results (RFC 8460 4.3), counted per policy domain, UTC day, policy,
 * result type, MX host and receiving address: the key is those six as
 * NUL-separated text, the value the count (8 bytes, big-endian).  Each
 * result is committed at once; a result that cannot be is logged and
 * counted lost, never a reason to hold mail.
 */
static size_t
tls_key(const struct msg_tls_result *r, char *k, size_t ksz)
{
	struct tm	 tm;
	time_t		 t = (time_t)r->when;
	char		 day[16] = "00000000";
	int		 n;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	n = snprintf(k, ksz, "%s%c%s%c%s%c%s%c%s%c%s", r->domain, 0, day, 0,
	    msg_tls_policy_name(r->policy), 0, r->result, 0, r->mx, 0, r->ip);
	return n < 0 || (size_t)n >= ksz ? 0 : (size_t)n;
}

int
evalstore_tls_add(struct evalstore *es, const struct msg_tls_result *r)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	char		 key[EVALSTORE_TLS_KEY_MAX];
	uint8_t		 cnt[8];
	uint64_t	 n = 0;
	int		 rc;

	if ((k.mv_size = tls_key(r, key, sizeof(key))) == 0)
		return -1;
	k.mv_data = key;
	if ((rc = txn_begin(es, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_get(txn, es->db_tls, &k, &v)) == 0 && v.mv_size == 8)
		n = get_be64(v.mv_data);
	put_be64(cnt, n + 1);
	v.mv_data = cnt;
	v.mv_size = sizeof(cnt);
	if ((rc = mdb_put(txn, es->db_tls, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	es->st.tls_stored++;
	return 0;
 fail:
	es->st.tls_lost++;
	log_warnx("evaluation store: a TLS result for %s: %s", r->domain,
	    mdb_strerror(rc));
	return -1;
}

/*
 * The one reader of both TLS databases: each entry of domain ("": every
 * one), in key order, handed to cb as fields (its key's text fields, and
 * the count or the policy text).  A value that is not what the writers
 * above write is skipped and counted corrupt.
 */
int
evalstore_tls_walk(struct evalstore *es, int what, const char *domain,
    evalstore_tls_cb cb, void *arg)
{
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	struct evalstore_tls_row row;
	const char		*f[6];
	char			 key[EVALSTORE_TLS_KEY_MAX + 1];
	char			 dom[EVALSTORE_DOMAIN_MAX + 1];
	size_t			 dlen, i, off, nf;
	int			 rc;

	nf = what == EVALSTORE_TLS_POLICIES ? 4 : 6;
	for (dlen = 0; domain[dlen] != '\0' && dlen < sizeof(dom) - 1; dlen++)
		dom[dlen] = tolower((unsigned char)domain[dlen]);
	dom[dlen] = '\0';

	if (mdb_txn_begin(es->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, what == EVALSTORE_TLS_POLICIES ?
	    es->db_tlspol : es->db_tls, &cur)) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k.mv_data = dom;
	k.mv_size = dlen + (dlen > 0);		/* the domain and its NUL */
	rc = dlen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) :
	    mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size > EVALSTORE_TLS_KEY_MAX ||
		    (what == EVALSTORE_TLS_POLICIES ?
		    !msg_tls_policy_text_ok(v.mv_data, v.mv_size) :
		    v.mv_size != 8)) {
			es->st.corrupt++;
			continue;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (dlen > 0 && strcasecmp(key, dom) != 0)
			break;
		for (i = 0, off = 0; i < nf && off <= k.mv_size; i++) {
			f[i] = key + off;
			off += strlen(key + off) + 1;
		}
		if (i < nf)
			continue;
		memset(&row, 0, sizeof(row));
		row.domain = f[0];
		row.day = f[1];
		row.policy = f[2];
		if (what == EVALSTORE_TLS_POLICIES) {
			row.mx = f[3];
			row.text = v.mv_data;
			row.textlen = v.mv_size;
		} else {
			row.result = f[3];
			row.mx = f[4];
			row.ip = f[5];
			row.count = get_be64(v.mv_data);
		}
		if (cb(arg, &row) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/*
 * Delete the TLS results and policies of UTC days before the day of
 * before: how many entries, or -1.  The day is the key's second field;
 * "YYYY-MM-DD" sorts as it compares.
 */
long
evalstore_tls_prune(struct evalstore *es, time_t before)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_dbi		 dbi[2] = { es->db_tls, es->db_tlspol };
	struct tm	 tm;
	const char	*day;
	char		 limit[16];
	size_t		 dlen, i;
	long		 n = 0;
	int		 rc;

	if (gmtime_r(&before, &tm) == NULL ||
	    strftime(limit, sizeof(limit), "%Y-%m-%d", &tm) == 0 ||
	    txn_begin(es, 0, &txn) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (mdb_cursor_open(txn, dbi[i], &cur) != 0) {
			mdb_txn_abort(txn);
			return -1;
		}
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			day = memchr(k.mv_data, '\0', k.mv_size);
			if (day == NULL)
				continue;
			day++;
			dlen = k.mv_size - (size_t)(day -
			    (const char *)k.mv_data);
			if (dlen < 10 || memcmp(day, limit, 10) >= 0)
				continue;
			if (mdb_cursor_del(cur, 0) != 0)
				break;
			n++;
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	if (mdb_txn_commit(txn) != 0)
		return -1;
	return n;
}

/*
 * posternctl show tls-results: a result as one line, a policy as one
 * line per policy-string line.
 */
int
evalstore_tls_format(const struct evalstore_tls_row *r, struct buf *b)
{
	const char	*text, *nl, *end;
	int		 rc = 0;

	if (r->result != NULL)
		return buf_printf(b, "%s %s policy=%s result=%s mx=%s ip=%s "
		    "count=%llu\n", r->day, r->domain, r->policy, r->result,
		    r->mx[0] != '\0' ? r->mx : "-",
		    r->ip[0] != '\0' ? r->ip : "-",
		    (unsigned long long)r->count) == -1 ? -1 : 0;
	end = r->text + r->textlen;
	for (text = r->text; rc == 0 && text < end; text = nl + 1) {
		if ((nl = memchr(text, '\n', end - text)) == NULL)
			nl = end;
		rc = buf_printf(b, "%s %s policy=%s mx=%s policy-string=%.*s\n",
		    r->day, r->domain, r->policy,
		    r->mx[0] != '\0' ? r->mx : "-", (int)(nl - text), text);
	}
	return rc == -1 ? -1 : 0;
}

/* A policy word or flag for -j: null when there is none. */
static json_t *
json_word(const char *s)
{
	return *s == '\0' ? json_null() : json_string(s);
}

static json_t *
json_flag(char c)
{
	char	 s[2] = { c, '\0' };

	return c > ' ' && c < 0x7f ? json_string(s) : json_null();
}

/*
 * One evaluation as a JSON object (show evaluations -j): the fields of
 * evalstore_format()'s line, the names the same, the values as they were
 * recorded (not made into words), null where the line has "-".
 */
int
evalstore_format_json(const struct dmarc_eval_record *r, struct buf *b)
{
	struct tm	 tm;
	char		 when[32];
	time_t		 t = r->when;
	json_t		*o, *a;
	size_t		 i;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "-", sizeof(when));
	o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:b, s:b, s:b}",
	    "when", when, "ip", jsonw_text(r->source_ip), "from",
	    jsonw_text(r->header_from), "mfrom", jsonw_text(r->envelope_from),
	    "result", dmarc_result_name(r->result), "disposition",
	    dmarc_disposition_name(r->disposition), "spf_aligned",
	    r->spf_aligned_pass != 0, "dkim_aligned",
	    r->dkim_aligned_pass != 0, "report", r->report_mail != 0);
	if (o == NULL)
		return -1;
	json_object_set_new(o, "spf", r->have_spf ? json_pack("{s:o, s:s}",
	    "domain", jsonw_text(r->spf_domain), "result",
	    spf_result_name(r->spf_result)) : json_null());
	a = json_array();
	for (i = 0; i < r->ndkim && i < DMARC_MAX_DKIM; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:s}", "domain",
		    jsonw_text(r->dkim[i].domain), "selector",
		    jsonw_text(r->dkim[i].selector), "result",
		    dkim_result_name(r->dkim[i].result)));
	json_object_set_new(o, "dkim", a);
	json_object_set_new(o, "policy", r->have_policy ? json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "domain",
	    jsonw_text(r->policy_domain), "p", json_word(dmarc_policy_name(
	    r->p)), "sp", json_word(dmarc_policy_name(r->sp)), "np",
	    json_word(dmarc_policy_name(r->np)), "adkim", json_flag(r->adkim),
	    "aspf", json_flag(r->aspf), "testing", r->testing != 0, "psd",
	    json_flag(r->psd)) : json_null());
	a = json_array();
	for (i = 0; i < r->nreasons && i < DMARC_MAX_REASONS; i++)
		json_array_append_new(a, json_pack("{s:s, s:o}", "type",
		    dmarc_override_name(r->reasons[i].type), "comment",
		    r->reasons[i].comment[0] != '\0' ?
		    jsonw_text(r->reasons[i].comment) : json_null()));
	json_object_set_new(o, "reasons", a);
	return jsonw_line(b, o);
}

/*
 * A TLS row as a JSON object (show tls-results -j): a result with its
 * count, or a policy with its policy-string lines in an array.
 */
int
evalstore_tls_format_json(const struct evalstore_tls_row *r, struct buf *b)
{
	const char	*text, *nl, *end;
	json_t		*lines;

	if (r->result != NULL)
		return jsonw_line(b, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, "
		    "s:I}", "day", r->day, "domain", r->domain, "policy",
		    r->policy, "result", r->result, "mx", json_word(r->mx),
		    "ip", json_word(r->ip), "count", (json_int_t)r->count));
	lines = json_array();
	end = r->text + r->textlen;
	for (text = r->text; text < end; text = nl + 1) {
		if ((nl = memchr(text, '\n', end - text)) == NULL)
			nl = end;
		json_array_append_new(lines, json_stringn(text, nl - text));
	}
	return jsonw_line(b, json_pack("{s:s, s:s, s:s, s:o, s:o}", "day",
	    r->day, "domain", r->domain, "policy", r->policy, "mx",
	    json_word(r->mx), "policy_string", lines));
}

/*
 * The policies behind the TLS results (RFC 8460 4.4 "policy-string" and
 * "mx-host"): the latest text per policy domain, UTC day, policy type
 * and MX host ("" for sts, whose mx patterns are in its lines), keyed
 * like the results.  The text was checked by msg_get_tls_policy()
 * (bounded lines of printable ASCII); an unchanged one is not rewritten,
 * so that every session may send its policy at the cost of a read.
 */
static size_t
tls_policy_key(const struct msg_tls_policy *p, char *k, size_t ksz)
{
	struct tm	 tm;
	time_t		 t = (time_t)p->when;
	char		 day[16] = "00000000";
	int		 n;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	n = snprintf(k, ksz, "%s%c%s%c%s%c%s", p->domain, 0, day, 0,
	    msg_tls_policy_name(p->policy), 0, p->mx);
	return n < 0 || (size_t)n >= ksz ? 0 : (size_t)n;
}

int
evalstore_tls_policy_put(struct evalstore *es,
    const struct msg_tls_policy *p, const char *text)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	char		 key[EVALSTORE_TLS_KEY_MAX];
	int		 rc;

	if (p->len > MSG_TLS_POLICY_TEXT_MAX ||
	    (k.mv_size = tls_policy_key(p, key, sizeof(key))) == 0)
		return -1;
	k.mv_data = key;
	if ((rc = mdb_txn_begin(es->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	rc = mdb_get(txn, es->db_tlspol, &k, &v);
	if (rc == 0 && v.mv_size == p->len &&
	    memcmp(v.mv_data, text, p->len) == 0) {
		mdb_txn_abort(txn);
		return 0;		/* known already */
	}
	mdb_txn_abort(txn);
	if ((rc = txn_begin(es, 0, &txn)) != 0)
		goto fail;
	v.mv_data = (void *)text;
	v.mv_size = p->len;
	if ((rc = mdb_put(txn, es->db_tlspol, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
 fail:
	log_warnx("evaluation store: a TLS policy for %s: %s", p->domain,
	    mdb_strerror(rc));
	return -1;
}

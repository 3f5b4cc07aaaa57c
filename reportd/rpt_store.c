/*
 * Received reports in the evaluation store (DESIGN.md: "received
 * reports"): database "received" of reportd's LMDB environment
 * (reportd/evalstore.h).
 *
 *	received	when(8) seq(8)	-> kind(1) idlen(2) id JSON NUL
 *					   table NUL
 *	received_ids	id		-> when(8) seq(8)
 *
 * Numbers big-endian, so that "received" is in arrival order.  The value
 * keeps both printed forms of the report (rpt_json(), rpt_table()), made
 * once when it is stored: a listing only copies them out, and nothing
 * parses report bytes again.
 *
 * The id of an aggregate or TLS report is its kind, organisation and
 * report id (RFC 9990 2.1.1 and RFC 8460 4.4 make the report id unique
 * for its sender): a report that comes again, to a second address of its
 * rua or after a crash made the queue hand it over twice, is kept once.
 * ARF reports have no id (idlen 0) and are all kept.
 *
 * Bounded: at most RPT_STORE_MAX reports and RPT_STORE_BYTES_MAX octets
 * in all (the oldest go first), RPT_STORE_VALUE_MAX octets per report; reports older than the owner's
 * keep time are pruned with the evaluations.  One commit per report:
 * reports arrive a few a day, and the queue holds the mail until reportd
 * answers, so a report is answered only once it is stored.
 */
#include <sys/types.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reportd/evalstore.h"
#include "reportd/rpt.h"
#include "reportd/rpt_store.h"
#include "log.h"
#include "util.h"

#define RPT_STORE_ID_MAX	511	/* mdb_env_get_maxkeysize() */

struct rpt_store {
	struct evalstore	*es;
	MDB_dbi			 dbi, dbi_ids;
	uint64_t		 seq;
	size_t			 max, bytes;
	size_t			 total;		/* octets kept */
	struct rpt_store_stats	 st;
};

struct rpt_store *
rpt_store_open(struct evalstore *es, char *err, size_t errlen)
{
	struct rpt_store	*rs;
	MDB_txn			*txn;
	MDB_cursor		*c;
	MDB_val			 k, v;
	int			 rc, op;

	rs = xcalloc(1, sizeof(*rs));
	rs->es = es;
	rs->max = RPT_STORE_MAX;
	rs->bytes = RPT_STORE_BYTES_MAX;
	if ((rc = evalstore_txn_begin(es, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "received", MDB_CREATE, &rs->dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "received_ids", MDB_CREATE,
	    &rs->dbi_ids)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	/* seq continues after the last key, across restarts */
	if ((rc = mdb_cursor_open(txn, rs->dbi, &c)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 16)
		rs->seq = get_be64((const uint8_t *)k.mv_data + 8) + 1;
	/* LMDB gives a value's size without reading the value */
	for (op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0;
	    op = MDB_NEXT)
		rs->total += v.mv_size;
	mdb_cursor_close(c);
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return rs;
fail:
	snprintf(err, errlen, "received reports: %s", mdb_strerror(rc));
	free(rs);
	return NULL;
}

void
rpt_store_close(struct rpt_store *rs)
{
	free(rs);
}

void
rpt_store_set_limits(struct rpt_store *rs, size_t max, size_t bytes)
{
	rs->max = max;
	rs->bytes = bytes;
}

/* The id of a report: its length (0: none). */
static size_t
report_id(const struct rpt *r, uint8_t *id, size_t len)
{
	const char	*org, *rid;
	size_t		 no, nr;

	if (r->kind == RPT_DMARC) {
		org = r->dmarc.org;
		rid = r->dmarc.report_id;
	} else if (r->kind == RPT_TLS) {
		org = r->tls.org;
		rid = r->tls.report_id;
	} else
		return 0;
	no = strlen(org);
	nr = strlen(rid);
	/* LMDB's default key size limit: longer ids are not looked for */
	if (2 + no + nr > len || 2 + no + nr > RPT_STORE_ID_MAX)
		return 0;
	id[0] = r->kind;
	memcpy(id + 1, org, no);
	id[1 + no] = '\0';
	memcpy(id + 2 + no, rid, nr);
	return 2 + no + nr;
}

/* Split a stored value: 0, or -1 if it is not one this file writes. */
static int
value_split(const MDB_val *v, uint8_t *kind, const uint8_t **id,
    size_t *idlen, const char **json, size_t *jlen, const char **table,
    size_t *tlen)
{
	const uint8_t	*p = v->mv_data;
	const char	*j, *nul;
	size_t		 left;

	if (v->mv_size < 5)
		return -1;
	*kind = p[0];
	*idlen = (size_t)p[1] << 8 | p[2];
	if (*idlen > v->mv_size - 3)
		return -1;
	*id = p + 3;
	j = (const char *)p + 3 + *idlen;
	left = v->mv_size - 3 - *idlen;
	if (left < 2 || j[left - 1] != '\0' ||
	    (nul = memchr(j, '\0', left)) == NULL || nul == j + left - 1)
		return -1;
	*json = j;
	*jlen = nul - j;
	*table = nul + 1;
	*tlen = left - (*jlen + 1) - 1;
	return 0;
}

/* Delete the entry at the cursor and its id: 0 or an LMDB error. */
static int
delete_at(struct rpt_store *rs, MDB_txn *txn, MDB_cursor *c,
    const MDB_val *v)
{
	MDB_val		 ik;
	const uint8_t	*id;
	const char	*j, *t;
	size_t		 idlen, jl, tl;
	uint8_t		 kind;
	int		 rc;

	if (value_split(v, &kind, &id, &idlen, &j, &jl, &t, &tl) == 0 &&
	    idlen > 0) {
		ik.mv_data = (void *)id;
		ik.mv_size = idlen;
		rc = mdb_del(txn, rs->dbi_ids, &ik, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	return mdb_cursor_del(c, 0);
}

/*
 * Drop the oldest until at most rs->max reports of at most rs->bytes
 * octets in all remain; *total is the octets kept, updated.  0 or an
 * LMDB error.
 */
static int
trim(struct rpt_store *rs, MDB_txn *txn, size_t *total)
{
	MDB_stat	 ms;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 n;
	int		 rc = 0;

	if ((rc = mdb_stat(txn, rs->dbi, &ms)) != 0)
		return rc;
	if (ms.ms_entries <= rs->max && *total <= rs->bytes)
		return 0;
	if ((rc = mdb_cursor_open(txn, rs->dbi, &c)) != 0)
		return rc;
	for (n = ms.ms_entries; n > rs->max || *total > rs->bytes; n--) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0)
			break;
		*total -= v.mv_size < *total ? v.mv_size : *total;
		if ((rc = delete_at(rs, txn, c, &v)) != 0)
			break;
		rs->st.dropped++;
	}
	mdb_cursor_close(c);
	return rc;
}

int
rpt_store_put(struct rpt_store *rs, time_t when, const struct rpt *r)
{
	struct buf	 val;
	MDB_txn		*txn;
	MDB_val		 k, v, ik, iv;
	uint8_t		 key[16], id[2 * RPT_STR_MAX + 2], head[3];
	size_t		 idlen, total = 0;
	int		 rc, tries, dup = 0;

	idlen = report_id(r, id, sizeof(id));
	head[0] = r->kind;
	head[1] = idlen >> 8;
	head[2] = idlen & 0xff;
	buf_init(&val, RPT_STORE_VALUE_MAX);
	if (buf_add(&val, head, 3) == -1 || buf_add(&val, id, idlen) == -1 ||
	    rpt_json(r, &val) == -1 ||
	    buf_add(&val, "", 1) == -1 || rpt_table(r, &val) == -1 ||
	    buf_add(&val, "", 1) == -1) {
		log_warnx("received reports: a report too large to keep");
		buf_free(&val);
		rs->st.lost++;
		return -1;
	}
	put_be64(key, (uint64_t)when);
	put_be64(key + 8, rs->seq);
	for (tries = 0;; tries++) {
		if ((rc = evalstore_txn_begin(rs->es, 0, &txn)) != 0)
			break;
		k.mv_data = key;
		k.mv_size = sizeof(key);
		v.mv_data = val.data;
		v.mv_size = val.len;
		ik.mv_data = id;
		ik.mv_size = idlen;
		iv = k;
		if (idlen > 0 && (rc = mdb_put(txn, rs->dbi_ids, &ik, &iv,
		    MDB_NOOVERWRITE)) == MDB_KEYEXIST) {
			dup = 1;
			rc = 0;
			mdb_txn_abort(txn);
			break;
		}
		total = rs->total + val.len;
		if (rc != 0 || (rc = mdb_put(txn, rs->dbi, &k, &v, 0)) != 0 ||
		    (rc = trim(rs, txn, &total)) != 0) {
			mdb_txn_abort(txn);
		} else
			rc = mdb_txn_commit(txn);
		if (rc != MDB_MAP_FULL || tries > 0 ||
		    evalstore_map_grow(rs->es) != 0)
			break;
	}
	buf_free(&val);
	if (rc != 0) {
		log_warnx("received reports: storing a report: %s",
		    mdb_strerror(rc));
		rs->st.lost++;
		return -1;
	}
	if (dup) {
		rs->st.duplicates++;
		return 1;
	}
	rs->total = total;
	rs->seq++;
	rs->st.stored++;
	return 0;
}

long
rpt_store_foreach(struct rpt_store *rs, enum rpt_kind kind, int json,
    int (*cb)(void *, const char *, size_t), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	const uint8_t	*id;
	const char	*js, *table;
	size_t		 idlen, jlen, tlen;
	uint8_t		 vkind;
	long		 n = 0;
	int		 rc, op;

	if ((rc = mdb_txn_begin(evalstore_env(rs->es), NULL, MDB_RDONLY,
	    &txn)) != 0) {
		log_warnx("received reports: %s", mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, rs->dbi, &c)) != 0) {
		mdb_txn_abort(txn);
		log_warnx("received reports: %s", mdb_strerror(rc));
		return -1;
	}
	for (op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (value_split(&v, &vkind, &id, &idlen, &js, &jlen, &table,
		    &tlen) == -1) {
			log_warnx("received reports: a corrupt value skipped");
			continue;
		}
		if (kind != RPT_NONE && vkind != kind)
			continue;
		n++;
		if ((json ? cb(arg, js, jlen) : cb(arg, table, tlen)) != 0)
			break;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return n;
}

long
rpt_store_prune(struct rpt_store *rs, time_t before)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 freed = 0;
	long		 n = 0;
	int		 rc;

	if ((rc = evalstore_txn_begin(rs->es, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, rs->dbi, &c)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size != 16 ||
		    get_be64(k.mv_data) >= (uint64_t)(before < 0 ? 0 : before))
			break;
		freed += v.mv_size;
		if ((rc = delete_at(rs, txn, c, &v)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	rs->st.pruned += n;
	rs->total -= freed < rs->total ? freed : rs->total;
	return n;
fail:
	log_warnx("received reports: pruning: %s", mdb_strerror(rc));
	return -1;
}

void
rpt_store_stats(const struct rpt_store *rs, struct rpt_store_stats *st)
{
	*st = rs->st;
}

void
rpt_store_refused(struct rpt_store *rs)
{
	rs->st.refused++;
}

/*
 * The queue store's operator actions (posternctl hold, release, schedule,
 * remove) and its read side (show queue, show message, stats).  Reads use
 * short read-only transactions, so they never hold up a map resize.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "log.h"
#include "queue/store.h"
#include "queue/store_int.h"
#include "util.h"


/*
 * The furthest ahead a retry can be scheduled (qstore_tempfail()): an
 * envelope due later was scheduled by a wall clock that was ahead of
 * this one, and is due now (take_due()).
 */
uint64_t
qs_sched_horizon(const struct qstore *qs, time_t now)
{
	return now < 0 ? (uint64_t)qs->retry_max :
	    (uint64_t)now + (uint64_t)qs->retry_max;
}

time_t
qstore_next_due(struct qstore *qs, time_t now)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 t;
	time_t		 rv = -1;

	/* Recovery left to do (qs_recover()) is work due now. */
	if (qs->recover_pending)
		return 0;
	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, qs->db_sched, &cur) == 0) {
		if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 &&
		    k.mv_size == 16) {
			t = get_be64(k.mv_data);
			rv = t <= (uint64_t)now ? 0 : (time_t)(t - now);
			if (rv > 0 &&
			    mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 &&
			    (k.mv_size != 16 ||
			    get_be64(k.mv_data) > qs_sched_horizon(qs, now)))
				rv = 0;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return rv;
}

/* Operator actions. */

/*
 * An action on many envelopes (a message's, or all) runs in transactions
 * of at most this many, each committed before the next: a million held
 * envelopes released at once would otherwise be one transaction with
 * every page of the store dirty (past LMDB's limit on them), and a list
 * of a million ids in memory.  Each transaction is whole; a crash in
 * between leaves the action done for the first batches only, which the
 * operator repeats.
 */
#define OP_BATCH	4096

struct op_arg {
	enum qstore_verb op;
	enum qid_kind	 kind;
	uint64_t	 id;
	time_t		 now;
	int		 count;		/* in this transaction */
	uint64_t	 start;		/* this batch's first id */
	uint64_t	 next;		/* the next batch's, when more */
	int		 more;		/* a next batch is to run */
};

static int
op_one(struct qstore *qs, MDB_txn *txn, struct op_arg *oa, uint64_t evpid)
{
	struct envelope	 e;
	int		 rc;

	if (oa->op == QSTORE_REMOVE) {
		if ((rc = qs_envelope_drop(qs, txn, evpid)) == 0)
			oa->count++;
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if ((rc = qs_get_envelope(qs, txn, evpid, &e)) != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	switch (oa->op) {
	case QSTORE_HOLD:
		if (e.state != ENV_QUEUED)
			return 0;
		if ((rc = qs_sched_del(qs, txn, &e)) != 0)
			return rc;
		e.state = ENV_HELD;
		break;
	case QSTORE_RELEASE:
		if (e.state != ENV_HELD)
			return 0;
		e.state = ENV_QUEUED;
		e.next_try = oa->now;
		if ((rc = qs_sched_put(qs, txn, &e)) != 0)
			return rc;
		break;
	case QSTORE_SCHEDULE:
		if (e.state != ENV_QUEUED)
			return 0;
		if ((rc = qs_sched_del(qs, txn, &e)) != 0)
			return rc;
		e.next_try = oa->now;
		if ((rc = qs_sched_put(qs, txn, &e)) != 0)
			return rc;
		break;
	default:
		return EINVAL;
	}
	if ((rc = qs_put_envelope(qs, txn, &e)) == 0)
		oa->count++;
	return rc;
}

static int
op_run(struct qstore *qs, MDB_txn *txn, void *arg)
{
	struct op_arg	*oa = arg;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	*ids, first, last, evpid;
	size_t		 n = 0, i;
	uint8_t		 kb[8];
	int		 rc, op;

	oa->count = 0;
	oa->more = 0;
	switch (oa->kind) {
	case QID_ENV:
		return op_one(qs, txn, oa, oa->id);
	case QID_MSG:
		first = EVPID(oa->id, 0);
		last = EVPID(oa->id, 0xffff);
		break;
	case QID_ALL:
		first = 0;
		last = UINT64_MAX;
		break;
	default:
		return EINVAL;
	}
	/* a retry of the transaction (qs_txn_run()) starts the same */
	if (oa->start > first)
		first = oa->start;
	/* Collect first: the actions change the database being walked. */
	if ((rc = mdb_cursor_open(txn, qs->db_env, &cur)) != 0)
		return rc;
	ids = xreallocarray(NULL, OP_BATCH, sizeof(*ids));
	put_be64(kb, first);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		if (k.mv_size != 8)
			continue;
		if ((evpid = get_be64(k.mv_data)) > last)
			break;
		if (n == OP_BATCH) {
			oa->next = evpid;
			oa->more = 1;
			break;
		}
		ids[n++] = evpid;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(ids);
		return rc;
	}
	rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = op_one(qs, txn, oa, ids[i]);
	free(ids);
	return rc;
}

void
qstore_action_init(struct qstore_action *a, enum qstore_verb verb,
    enum qid_kind kind, uint64_t id, time_t now)
{
	memset(a, 0, sizeof(*a));
	a->verb = verb;
	a->kind = kind;
	a->id = id;
	a->now = now;
}

int
qstore_action_step(struct qstore *qs, struct qstore_action *a)
{
	struct op_arg	 oa;
	int		 rc;

	if (a->kind != QID_ALL && a->kind != QID_MSG && a->kind != QID_ENV)
		return -1;
	if (a->verb != QSTORE_HOLD && a->verb != QSTORE_RELEASE &&
	    a->verb != QSTORE_SCHEDULE && a->verb != QSTORE_REMOVE)
		return -1;
	oa.op = a->verb;
	oa.kind = a->kind;
	oa.id = a->id;
	oa.now = a->now;
	oa.start = a->start;
	oa.next = 0;
	oa.count = 0;
	qs->grow_hint = QSTORE_MAPSIZE_MIN;
	if ((rc = qs_txn_run(qs, op_run, &oa)) != 0) {
		log_warnx("queue store: operator action: %s",
		    mdb_strerror(rc));
		return -1;
	}
	a->count += oa.count;
	if (a->verb == QSTORE_REMOVE)
		qs->st.removed += oa.count;
	if (!oa.more)
		return 0;
	a->start = oa.next;
	return 1;
}

static int
op_do(struct qstore *qs, enum qstore_verb op, enum qid_kind kind,
    uint64_t id, time_t now)
{
	struct qstore_action	 a;
	int			 r;

	qstore_action_init(&a, op, kind, id, now);
	while ((r = qstore_action_step(qs, &a)) == 1)
		;
	return r == -1 ? -1 : a.count;
}

int
qstore_hold(struct qstore *qs, enum qid_kind kind, uint64_t id)
{
	return op_do(qs, QSTORE_HOLD, kind, id, 0);
}

int
qstore_release(struct qstore *qs, enum qid_kind kind, uint64_t id,
    time_t now)
{
	return op_do(qs, QSTORE_RELEASE, kind, id, now);
}

int
qstore_schedule(struct qstore *qs, enum qid_kind kind, uint64_t id,
    time_t now)
{
	return op_do(qs, QSTORE_SCHEDULE, kind, id, now);
}

int
qstore_remove(struct qstore *qs, enum qid_kind kind, uint64_t id)
{
	return op_do(qs, QSTORE_REMOVE, kind, id, 0);
}

/* Reading. */

int
qstore_envelope_get(struct qstore *qs, uint64_t evpid, struct envelope *e)
{
	MDB_txn		*txn;
	int		 rc;

	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = qs_get_envelope(qs, txn, evpid, e);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

int
qstore_message_info(struct qstore *qs, uint64_t msgid, struct msgrec *m)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[8];
	int		 rc;

	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	put_be64(kb, msgid);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	rc = mdb_get(txn, qs->db_msg, &k, &v);
	if (rc == 0 && msgrec_decode(m, v.mv_data, v.mv_size) == -1) {
		qs->st.corrupt++;
		rc = MDB_CORRUPTED;
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

int
qstore_message_read(struct qstore *qs, uint64_t msgid, uint32_t chunk,
    void *buf, size_t bufsize, size_t *len)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[12];
	int		 rc;

	*len = 0;
	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	qs_chunk_key(kb, msgid, chunk);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	rc = mdb_get(txn, qs->db_chunk, &k, &v);
	if (rc == 0) {
		if (v.mv_size > bufsize || v.mv_size > QSTORE_CHUNK_SIZE) {
			qs->st.corrupt++;
			rc = MDB_CORRUPTED;
		} else {
			memcpy(buf, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

int
qstore_envelope_walk(struct qstore *qs,
    int (*cb)(const struct envelope *, void *), void *arg)
{
	return qstore_envelope_walk_sized(qs, NULL, cb, arg);
}

/* The size of an envelope's message, read in the walk's transaction. */
static uint64_t
walk_msg_size(struct qstore *qs, MDB_txn *txn, uint64_t msgid)
{
	struct msgrec	 m;
	MDB_val		 k, v;
	uint8_t		 kb[8];

	put_be64(kb, msgid);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	if (mdb_get(txn, qs->db_msg, &k, &v) != 0 ||
	    msgrec_decode(&m, v.mv_data, v.mv_size) == -1)
		return 0;
	return m.size;
}

int
qstore_envelope_walk_sized(struct qstore *qs,
    int (*sized)(const struct envelope *, uint64_t, void *),
    int (*cb)(const struct envelope *, void *), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct envelope	*e;
	int		 rc, op;

	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, qs->db_env, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	e = xmalloc(sizeof(*e));
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		qs->st.envelopes_read++;
		if (envelope_decode(e, v.mv_data, v.mv_size) == -1 ||
		    k.mv_size != 8 || e->id != get_be64(k.mv_data)) {
			qs->st.corrupt++;
			continue;
		}
		if (sized != NULL ? sized(e, walk_msg_size(qs, txn, e->msgid),
		    arg) != 0 : cb(e, arg) != 0) {
			rc = 0;
			break;
		}
	}
	free(e);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/*
 * A batch: its own read transaction, so that a listing of a million
 * envelopes holds no snapshot (which would pin the pages every commit
 * frees meanwhile, and grow the map) and the queue serves other work
 * between batches.  The cursor is placed with MDB_SET_RANGE on the first
 * id not yet listed: ids are never reused, so resuming there neither
 * repeats nor skips an envelope that stayed.  The batch counts records,
 * corrupt ones too, so that it is bounded whatever the store holds.
 */
int
qstore_envelope_walk_batch(struct qstore *qs, uint64_t *from, size_t max,
    int (*sized)(const struct envelope *, uint64_t, void *), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct envelope	*e;
	uint8_t		 kb[8];
	uint64_t	 id;
	size_t		 n;
	int		 rc, op, more = 0;

	if (max == 0)
		max = 1;
	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, qs->db_env, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	e = xmalloc(sizeof(*e));
	put_be64(kb, *from);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	for (n = 0, op = MDB_SET_RANGE;; n++, op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		if (k.mv_size != 8) {
			qs->st.corrupt++;
			continue;
		}
		id = get_be64(k.mv_data);
		if (n == max) {
			*from = id;
			more = 1;
			break;
		}
		qs->st.envelopes_read++;
		if (envelope_decode(e, v.mv_data, v.mv_size) == -1 ||
		    e->id != id) {
			qs->st.corrupt++;
			continue;
		}
		if (sized(e, walk_msg_size(qs, txn, e->msgid), arg) != 0)
			break;
	}
	free(e);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return -1;
	return more;
}

int
qstore_message_envelopes(struct qstore *qs, uint64_t msgid,
    int (*cb)(const struct envelope *, void *), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct envelope	*e;
	uint8_t		 kb[8];
	int		 rc, op;

	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, qs->db_env, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	e = xmalloc(sizeof(*e));
	put_be64(kb, EVPID(msgid, 0));
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		if (k.mv_size != 8 || EVPID_MSGID(get_be64(k.mv_data)) != msgid)
			break;
		qs->st.envelopes_read++;
		if (envelope_decode(e, v.mv_data, v.mv_size) == -1 ||
		    e->id != get_be64(k.mv_data)) {
			qs->st.corrupt++;
			continue;
		}
		if (cb(e, arg) != 0)
			break;
	}
	free(e);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

void
qstore_stats(struct qstore *qs, struct qstore_stats *st)
{
	MDB_txn		*txn;
	MDB_stat	 ms;

	*st = qs->st;
	st->pending = qs->npending;
	st->mem_held = qs->mem_held;
	st->mem_limit = qs->mem_limit;
	st->mapsize = qs->mapsize;
	st->reserve = qs->reserve;
	st->reserve_have = qs->reserve_have;
	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (mdb_stat(txn, qs->db_msg, &ms) == 0)
		st->messages = ms.ms_entries;
	if (mdb_stat(txn, qs->db_env, &ms) == 0)
		st->envelopes = ms.ms_entries;
	if (mdb_stat(txn, qs->db_sched, &ms) == 0)
		st->scheduled = ms.ms_entries;
	mdb_txn_abort(txn);
}

void
qstore_envelope_id_str(uint64_t evpid, char *buf, size_t len)
{
	qid_env_str(evpid, buf, len);
}

/*
 * The queue store: messages (body in 64 KB chunks), envelopes and the
 * schedule index in one LMDB environment, with group commit.
 *
 * Databases (all keys big-endian so that LMDB's memcmp order is numeric):
 *	msg	msgid(8)			-> msgrec (envelope.h)
 *	chunk	msgid(8) chunk#(4)		-> body bytes
 *	env	evpid(8)			-> envelope record (envelope.h)
 *	sched	next_try(8) evpid(8)		-> empty; queued envelopes only
 *	meta	"version", "last_msgid"
 *	keys	a report's key		-> msgid(8) committed at(8)
 * Envelope ids are msgid << 16 | index, so a message's envelopes are
 * adjacent in env and the message goes when the range is empty.
 *
 * Durability ("Queued means durable", DESIGN.md): the environment is opened
 * without MDB_NOSYNC, so mdb_txn_commit() fsyncs before it returns, and a
 * message callback reports success only after that.  Incoming messages stay
 * in memory until their commit is requested, so an aborted or failed message
 * never touches the disk, and each batch is written in one transaction
 * (group commit: one fsync for many sessions' messages).
 *
 * Memory.  An in-progress message is held whole, in chunks that are never
 * doubled past its size, and the queue bounds the sum with a budget
 * (qstore_set_memory_limit(), `queue memory-limit`): a message that does
 * not fit is refused with a temporary error (452 4.3.1, RFC 3463 "mail
 * system full") and the client retries later, as RFC 5321 4.5.4.1 asks
 * of it.  Why not write each chunk into LMDB as it arrives: LMDB has one
 * write transaction at a time, and the queue's is the group commit.
 * Chunks could only go in through transactions of their own, one or more
 * per chunk per session, between and in competition with the commits
 * (hundreds of sessions each adding 64 KB several times a second: a write
 * transaction, its page copies and a meta page write each; without sync
 * they are cheap in fsyncs but not in copy-on-write page churn), and every
 * aborted or dropped message would leave chunks to delete in yet another
 * transaction, and a crash would leave orphans to find at the next open.
 * Keeping uncommitted data in memory keeps the store's invariant simple
 * (what is on disk is committed and whole, nothing else) and the group
 * commit the only writer; the budget is what makes it safe.  A host that
 * wants more concurrent large messages than its memory holds is better
 * served by deferring them than by swapping.
 *
 * Delivery exactly once.  What can be guaranteed: an acknowledged message is
 * never lost, and an envelope is delivered at least once.  What cannot: the
 * store and a maildir (or a remote MTA) are not one transaction, so a crash
 * after a delivery completed and before its result was committed finds the
 * envelope in flight at the next open, and it is delivered again.  For local
 * delivery that window is closed by the idempotency key: the maildir writer
 * names the file after the envelope id (qstore_envelope_id_str(), ids are
 * never reused), so a repeated delivery finds the file already in new/ and
 * reports success without writing twice.  For remote delivery the window
 * remains (RFC 5321 6.1 accepts duplicates over loss).  Delivery results
 * therefore ride in the next group commit rather than paying an fsync each:
 * losing one costs a repeat, which the rule above makes harmless.
 *
 * A full spool.  A commit that does not fit (ENOSPC, EDQUOT, EIO for a
 * short write, MDB_MAP_FULL at the configured limit) is rolled back whole:
 * its messages are answered as failed (451 4.3.0), its delivery results
 * wait for the next commit, and what was committed before stays as it
 * was.  Only when LMDB itself says the environment is unusable (MDB_PANIC,
 * after a failed meta page write) does the queue stop (qstore_broken()).
 * Opening needs no new space; restart recovery does, and waits for it.
 * The bookkeeping (taking out, rescheduling, removing envelopes) has a
 * reserve that new mail never takes (queue/store_space.c), so a spool at
 * 0 bytes free still drains.
 *
 * Incoming messages in memory are queue/store_msg.c, operator actions and
 * the read side queue/store_admin.c, space and the reserve
 * queue/store_space.c.  Not done
 * here: the timer that calls qstore_flush_pending(), and deciding what to
 * bounce (the queue process does both).
 */
#include <sys/queue.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "clock.h"
#include "log.h"
#include "queue/store.h"
#include "queue/store_int.h"
#include "util.h"

#define QSTORE_FORMAT		1

/* Keys. */

void
qs_chunk_key(uint8_t k[12], uint64_t msgid, uint32_t chunk)
{
	put_be64(k, msgid);
	k[8] = chunk >> 24;
	k[9] = chunk >> 16;
	k[10] = chunk >> 8;
	k[11] = chunk;
}

void
qs_sched_key(uint8_t k[16], int64_t next_try, uint64_t evpid)
{
	put_be64(k, next_try < 0 ? 0 : (uint64_t)next_try);
	put_be64(k + 8, evpid);
}

/* Transactions. */

/*
 * After a failed transaction: is the environment still usable?  A write
 * that fails for want of space (ENOSPC, or EIO for LMDB's short write)
 * rolls the transaction back and leaves the last committed state whole,
 * so the store goes on.  A failure to write the meta page or a failed
 * fsync after it makes LMDB refuse every later transaction (MDB_PANIC):
 * nothing but a reopen helps, and the queue fail-stops (qstore_broken()).
 */
static void
qs_check_usable(struct qstore *qs, int rc)
{
	MDB_txn	*txn;

	if (rc != MDB_PANIC) {
		if ((rc = mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn)) == 0)
			mdb_txn_abort(txn);
		if (rc != MDB_PANIC)
			return;
	}
	if (!qs->broken)
		log_warnx("queue store: the environment is unusable after "
		    "\"%s\"; it must be reopened", mdb_strerror(rc));
	qs->broken = rc;
}

/*
 * TEST ONLY (qstore_test_panic()): is this the commit that fails as
 * MDB_PANIC?  Only batches that hold a new message count, so that a
 * test knows which client's message it is.
 */
static int
qs_test_panic(struct qstore *qs)
{
	if (qs->test_panic == 0 || !qs->batch_has_mail)
		return 0;
	if (--qs->test_panic > 0)
		return 0;
	log_warnx("queue store: test: this commit fails as MDB_PANIC");
	return 1;
}

void
qstore_test_panic(struct qstore *qs, unsigned int n)
{
	qs->test_panic = n;
}

static int	apply_batch(struct qstore *, MDB_txn *, void *);

/*
 * Errors that mean the spool's filesystem (or the map at its configured
 * limit) has no room: LMDB reports a short write as EIO.
 */
int
qs_nospace(int rc)
{
	return rc == ENOSPC || rc == EDQUOT || rc == EIO || rc == MDB_MAP_FULL;
}

/*
 * Run fn in a write transaction and commit it (with fsync).  On
 * MDB_MAP_FULL the map is grown and fn runs once more from scratch, so fn
 * must not keep state from a failed run.  Returns 0 or an LMDB error.
 */
int
qs_txn_run(struct qstore *qs, int (*fn)(struct qstore *, MDB_txn *, void *),
    void *arg)
{
	MDB_txn		*txn;
	MDB_envinfo	 info;
	size_t		 want;
	int		 rc, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		rc = mdb_txn_begin(qs->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			/* Another process grew it: adopt its size. */
			if ((rc = mdb_env_set_mapsize(qs->env, 0)) != 0)
				return rc;
			rc = mdb_txn_begin(qs->env, NULL, 0, &txn);
		}
		if (rc != 0) {
			qs_check_usable(qs, rc);
			return rc;
		}
		if ((rc = fn(qs, txn, arg)) != 0) {
			mdb_txn_abort(txn);
		} else if (fn == apply_batch && qs_test_panic(qs)) {
			mdb_txn_abort(txn);
			rc = MDB_PANIC;
		} else if ((rc = mdb_txn_commit(txn)) == 0) {
			qs->st.commits++;
			return 0;
		}
		if (rc != 0 && rc != MDB_MAP_FULL)
			qs_check_usable(qs, rc);
		if (rc != MDB_MAP_FULL || attempt > 0)
			return rc;
		/*
		 * Grow: at least double, and enough for what the batch
		 * writes with room for copy-on-write pages.
		 */
		want = qs->mapsize * 2;
		if (qs->grow_hint > SIZE_MAX / 4 - qs->mapsize)
			return rc;
		if (qs->mapsize + 3 * qs->grow_hint > want)
			want = qs->mapsize + 3 * qs->grow_hint;
		if (qs->max_mapsize > 0 && want > qs->max_mapsize)
			want = qs->max_mapsize;
		if (want <= qs->mapsize)
			return rc;	/* at the configured limit */
		if ((rc = mdb_env_set_mapsize(qs->env, want)) != 0)
			return rc;
		if (mdb_env_info(qs->env, &info) == 0)
			qs->mapsize = info.me_mapsize;
		else
			qs->mapsize = want;
		qs->st.map_grows++;
		log_info("queue store: map grown to %zu bytes", qs->mapsize);
	}
	return MDB_MAP_FULL;
}

int
qs_get_envelope(struct qstore *qs, MDB_txn *txn, uint64_t evpid,
    struct envelope *e)
{
	MDB_val		 k, v;
	uint8_t		 kb[8];
	int		 rc;

	put_be64(kb, evpid);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	if ((rc = mdb_get(txn, qs->db_env, &k, &v)) != 0)
		return rc;
	qs->st.envelopes_read++;
	if (envelope_decode(e, v.mv_data, v.mv_size) == -1 || e->id != evpid) {
		qs->st.corrupt++;
		log_warnx("queue store: corrupt envelope %016llx",
		    (unsigned long long)evpid);
		return MDB_CORRUPTED;
	}
	return 0;
}

int
qs_put_envelope(struct qstore *qs, MDB_txn *txn, const struct envelope *e)
{
	MDB_val		 k, v;
	uint8_t		 kb[8], rec[ENV_RECORD_MAX];
	size_t		 len;

	if ((len = envelope_encode(e, rec, sizeof(rec))) == 0)
		return EINVAL;
	put_be64(kb, e->id);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	v.mv_data = rec;
	v.mv_size = len;
	return mdb_put(txn, qs->db_env, &k, &v, 0);
}

int
qs_sched_put(struct qstore *qs, MDB_txn *txn, const struct envelope *e)
{
	MDB_val		 k, v;
	uint8_t		 kb[16];

	qs_sched_key(kb, e->next_try, e->id);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	v.mv_data = NULL;
	v.mv_size = 0;
	return mdb_put(txn, qs->db_sched, &k, &v, 0);
}

int
qs_sched_del(struct qstore *qs, MDB_txn *txn, const struct envelope *e)
{
	MDB_val		 k;
	uint8_t		 kb[16];
	int		 rc;

	qs_sched_key(kb, e->next_try, e->id);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	rc = mdb_del(txn, qs->db_sched, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete the message record and every chunk of msgid. */
static int
message_delete(struct qstore *qs, MDB_txn *txn, uint64_t msgid)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 kb[12];
	int		 rc;

	put_be64(kb, msgid);
	k.mv_data = kb;
	k.mv_size = 8;
	if ((rc = mdb_del(txn, qs->db_msg, &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, qs->db_chunk, &cur)) != 0)
		return rc;
	for (;;) {
		qs_chunk_key(kb, msgid, 0);
		k.mv_data = kb;
		k.mv_size = sizeof(kb);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0)
			goto out;
		if (k.mv_size != 12 || get_be64(k.mv_data) != msgid)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			goto out;
	}
	rc = 0;
 out:
	mdb_cursor_close(cur);
	return rc;
}

/*
 * The envelope is gone: update the message's live count, and remove the
 * message when no envelope of it is left.  The env range decides, so a
 * corrupt message record cannot keep a body alive or free it early.
 */
static int
message_unref(struct qstore *qs, MDB_txn *txn, uint64_t msgid)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct msgrec	 m;
	uint8_t		 kb[8], rec[MSG_RECORD_LEN];
	int		 rc, live;

	if ((rc = mdb_cursor_open(txn, qs->db_env, &cur)) != 0)
		return rc;
	put_be64(kb, EVPID(msgid, 0));
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	live = rc == 0 && k.mv_size == 8 && EVPID_MSGID(get_be64(k.mv_data)) ==
	    msgid;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (!live)
		return message_delete(qs, txn, msgid);

	put_be64(kb, msgid);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	if ((rc = mdb_get(txn, qs->db_msg, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (msgrec_decode(&m, v.mv_data, v.mv_size) == -1) {
		qs->st.corrupt++;
		return 0;
	}
	if (m.nenv > 0)
		m.nenv--;
	msgrec_encode(&m, rec);
	v.mv_data = rec;
	v.mv_size = sizeof(rec);
	return mdb_put(txn, qs->db_msg, &k, &v, 0);
}

/*
 * Remove an envelope, and its message with the last one.  MDB_NOTFOUND when
 * it is not there (an operator removed it meanwhile).
 */
int
qs_envelope_drop(struct qstore *qs, MDB_txn *txn, uint64_t evpid)
{
	struct envelope	 e;
	MDB_val		 k;
	uint8_t		 kb[8];
	int		 rc;

	rc = qs_get_envelope(qs, txn, evpid, &e);
	if (rc == MDB_NOTFOUND)
		return rc;
	if (rc == 0 && e.state == ENV_QUEUED &&
	    (rc = qs_sched_del(qs, txn, &e)) != 0)
		return rc;
	if (rc != 0 && rc != MDB_CORRUPTED)
		return rc;
	put_be64(kb, evpid);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	if ((rc = mdb_del(txn, qs->db_env, &k, NULL)) != 0)
		return rc;
	return message_unref(qs, txn, EVPID_MSGID(evpid));
}

/* Open. */

static int
meta_get64(struct qstore *qs, MDB_txn *txn, const char *name, uint64_t *val)
{
	MDB_val		 k, v;
	int		 rc;

	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	if ((rc = mdb_get(txn, qs->db_meta, &k, &v)) != 0)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*val = get_be64(v.mv_data);
	return 0;
}

static int
meta_put64(struct qstore *qs, MDB_txn *txn, const char *name, uint64_t val)
{
	MDB_val		 k, v;
	uint8_t		 b[8];

	put_be64(b, val);
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	v.mv_data = b;
	v.mv_size = sizeof(b);
	return mdb_put(txn, qs->db_meta, &k, &v, 0);
}

static int
open_dbs(struct qstore *qs, MDB_txn *txn, void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 format, last;
	int		 rc;

	if ((rc = mdb_dbi_open(txn, "msg", MDB_CREATE, &qs->db_msg)) != 0 ||
	    (rc = mdb_dbi_open(txn, "chunk", MDB_CREATE, &qs->db_chunk)) != 0 ||
	    (rc = mdb_dbi_open(txn, "env", MDB_CREATE, &qs->db_env)) != 0 ||
	    (rc = mdb_dbi_open(txn, "sched", MDB_CREATE, &qs->db_sched)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &qs->db_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &qs->db_keys)) != 0)
		return rc;
	rc = meta_get64(qs, txn, "version", &format);
	if (rc == MDB_NOTFOUND)
		rc = meta_put64(qs, txn, "version", QSTORE_FORMAT);
	else if (rc == 0 && format != QSTORE_FORMAT)
		rc = MDB_VERSION_MISMATCH;
	if (rc != 0)
		return rc;
	rc = meta_get64(qs, txn, "last_msgid", &last);
	if (rc == 0)
		qs->last_msgid = last;
	else if (rc != MDB_NOTFOUND)
		return rc;
	/* Never reuse an id, even if the meta record were stale. */
	if ((rc = mdb_cursor_open(txn, qs->db_msg, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && get_be64(k.mv_data) > qs->last_msgid)
		qs->last_msgid = get_be64(k.mv_data);
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Restart recovery: an envelope in flight was being delivered when the
 * previous run died.  Queue it again, due now (see the delivery rule at the
 * top).
 */
static int
recover(struct qstore *qs, MDB_txn *txn, void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct envelope	 e;
	uint8_t		 rec[ENV_RECORD_MAX];
	time_t		 now = *(time_t *)arg;
	size_t		 len;
	int		 rc, op;

	qs->st.recovered = 0;
	if ((rc = mdb_cursor_open(txn, qs->db_env, &cur)) != 0)
		return rc;
	for (op = MDB_FIRST;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
			break;
		qs->st.envelopes_read++;
		if (envelope_decode(&e, v.mv_data, v.mv_size) == -1 ||
		    k.mv_size != 8 || e.id != get_be64(k.mv_data)) {
			log_warnx("queue store: corrupt envelope record "
			    "skipped");
			continue;
		}
		if (e.state != ENV_INFLIGHT)
			continue;
		/* The interrupted attempt counts: it may have completed, and
		 * the delivery agent must check before it delivers again. */
		e.state = ENV_QUEUED;
		e.attempts++;
		e.next_try = now;
		if ((len = envelope_encode(&e, rec, sizeof(rec))) == 0) {
			rc = EINVAL;
			break;
		}
		v.mv_data = rec;
		v.mv_size = len;
		if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)) != 0 ||
		    (rc = qs_sched_put(qs, txn, &e)) != 0)
			break;
		qs->st.recovered++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Run restart recovery if it is still to do: 0, or -1 (recover_error). */
int
qs_recover(struct qstore *qs)
{
	time_t	 now = walltime();
	int	 rc;

	if (!qs->recover_pending)
		return 0;
	if ((rc = qs_txn_run(qs, recover, &now)) != 0) {
		if (!qs->recover_error)
			log_warnx("queue store: envelopes in flight at the "
			    "last stop cannot be queued again yet: %s%s",
			    mdb_strerror(rc), qs_nospace(rc) ?
			    " (the spool is full); retrying" : "");
		qs->recover_error = rc;
		return -1;
	}
	qs->recover_pending = 0;
	qs->recover_error = 0;
	if (qs->st.recovered > 0)
		log_info("queue store: %llu envelopes were in flight, "
		    "queued again", (unsigned long long)qs->st.recovered);
	return 0;
}

struct qstore *
qstore_open(const char *dir, size_t mapsize, char *err, size_t errlen)
{
	struct qstore	*qs;
	MDB_envinfo	 info;
	int		 rc, fd;

	qs = xcalloc(1, sizeof(*qs));
	TAILQ_INIT(&qs->pending);
	qs->retry_first = 300;
	qs->retry_max = 3600;
	qs->expire = 5 * 24 * 3600;
	if (mapsize < QSTORE_MAPSIZE_MIN)
		mapsize = QSTORE_MAPSIZE_MIN;
	if ((rc = mdb_env_create(&qs->env)) != 0) {
		snprintf(err, errlen, "mdb_env_create: %s", mdb_strerror(rc));
		free(qs);
		return NULL;
	}
	if ((rc = mdb_env_set_maxdbs(qs->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(qs->env, mapsize)) != 0 ||
	    (rc = mdb_env_open(qs->env, dir, 0, 0600)) != 0) {
		/* MDB_NOSYNC is deliberately absent: commit means fsync. */
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* LMDB raises the size to what an existing file already uses. */
	if (mdb_env_info(qs->env, &info) == 0)
		qs->mapsize = info.me_mapsize;
	else
		qs->mapsize = mapsize;
	if ((rc = qs_txn_run(qs, open_dbs, NULL)) != 0) {
		/* Only a new store writes here. */
		snprintf(err, errlen, "%s: %s%s", dir, mdb_strerror(rc),
		    qs_nospace(rc) ? " (the spool is full)" : "");
		goto fail;
	}
	/*
	 * LMDB fsyncs its files, not the directory: make the entries of a
	 * newly created data.mdb durable before anything is acknowledged.
	 */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		if (fsync(fd) == -1)
			log_warn("queue store: fsync %s", dir);
		close(fd);
	}
	/*
	 * Recovery rewrites envelopes, and copy-on-write needs pages for
	 * that: on a full spool it waits, and the scheduler hands nothing
	 * out until it is done (qstore_take_due()), so that no envelope is
	 * both out and queued again.  The store opens all the same, so that
	 * mail already queued can leave and free the space.
	 */
	qs->recover_pending = 1;
	if (qs_recover(qs) == -1 && !qs_nospace(qs->recover_error)) {
		snprintf(err, errlen, "%s: recovery: %s", dir,
		    mdb_strerror(qs->recover_error));
		goto fail;
	}
	qs_reserve_keep(qs);
	return qs;
 fail:
	mdb_env_close(qs->env);
	free(qs);
	return NULL;
}

static void
pending_free(struct pending *p)
{
	if (p->msg != NULL)
		qs_msg_free(p->msg);
	free(p->env);
	free(p);
}

void
qstore_close(struct qstore *qs)
{
	struct pending	*p;

	if (qs == NULL)
		return;
	if (qs->npending > 0 && qstore_flush(qs) == -1)
		log_warnx("queue store: pending results lost at close");
	while ((p = TAILQ_FIRST(&qs->pending)) != NULL) {
		TAILQ_REMOVE(&qs->pending, p, entry);
		pending_free(p);
	}
	mdb_env_close(qs->env);
	free(qs);
}

void
qstore_set_max_mapsize(struct qstore *qs, size_t max)
{
	qs->max_mapsize = max;
}

int
qstore_broken(const struct qstore *qs)
{
	return qs->broken != 0;
}

const char *
qstore_error(const struct qstore *qs)
{
	return qs->broken != 0 ? mdb_strerror(qs->broken) : "no error";
}

void
qstore_set_retry(struct qstore *qs, time_t retry_first, time_t retry_max,
    time_t expire)
{
	qs->retry_first = retry_first > 0 ? retry_first : 1;
	qs->retry_max = retry_max >= qs->retry_first ? retry_max :
	    qs->retry_first;
	qs->expire = expire > 0 ? expire : 0;
}

static void
pending_add(struct qstore *qs, struct pending *p)
{
	TAILQ_INSERT_TAIL(&qs->pending, p, entry);
	qs->npending++;
}

int
qstore_commit_request(struct qs_msg *m, qstore_cb cb, void *arg)
{
	struct pending	*p;

	if (m->nenv == 0) {
		qs_msg_free(m);
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->type = PEND_MESSAGE;
	p->msg = m;
	p->cb = cb;
	p->arg = arg;
	pending_add(m->qs, p);
	return 0;
}

int
qstore_message_set_key(struct qs_msg *m, const char *key)
{
	if (key[0] == '\0' || strlcpy(m->key, key, sizeof(m->key)) >=
	    sizeof(m->key)) {
		m->key[0] = '\0';
		return -1;
	}
	return 0;
}

int
qstore_key_exists(struct qstore *qs, const char *key)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	struct pending	*p;
	int		 rc;

	/* A message of that key waiting for its commit counts too. */
	TAILQ_FOREACH(p, &qs->pending, entry)
		if (p->type == PEND_MESSAGE && strcmp(p->msg->key, key) == 0)
			return 1;
	if ((rc = mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn)) != 0)
		return -1;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = strlen(key);
	rc = mdb_get(txn, qs->db_keys, &k, &v);
	mdb_txn_abort(txn);
	if (rc == 0)
		return 1;
	return rc == MDB_NOTFOUND ? 0 : -1;
}

long
qstore_keys_prune(struct qstore *qs, time_t now, time_t keep)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v, nv;
	uint8_t		 vb[16];
	long		 n = 0;
	int		 rc;

	if ((rc = mdb_txn_begin(qs->env, NULL, 0, &txn)) != 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, qs->db_keys, &cur)) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size == 8) {
			/* stored without its time: it starts counting now */
			memcpy(vb, v.mv_data, 8);
			put_be64(vb + 8, (uint64_t)now);
			nv.mv_data = vb;
			nv.mv_size = sizeof(vb);
			if ((rc = mdb_cursor_put(cur, &k, &nv,
			    MDB_CURRENT)) != 0)
				break;
			continue;
		}
		if (v.mv_size != 16 || (time_t)get_be64((uint8_t *)v.mv_data +
		    8) >= now - keep)
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (mdb_txn_commit(txn) != 0)
		return -1;
	return n;
}

size_t
qstore_pending(const struct qstore *qs)
{
	return qs->npending;
}

static int
write_message(struct qstore *qs, MDB_txn *txn, struct qs_msg *m, time_t now)
{
	MDB_val		 k, v;
	struct msgrec	 rec;
	uint8_t		 kb[12], kv[16], mb[MSG_RECORD_LEN];
	size_t		 off, n, i, size = qstore_message_size(m);
	uint32_t	 chunk;
	int		 rc;

	rec.size = size;
	rec.ctime = m->ctime;
	rec.nenv = m->nenv;
	rec.nchunks = (size + QSTORE_CHUNK_SIZE - 1) / QSTORE_CHUNK_SIZE;
	msgrec_encode(&rec, mb);
	put_be64(kb, m->msgid);
	k.mv_data = kb;
	k.mv_size = 8;
	v.mv_data = mb;
	v.mv_size = sizeof(mb);
	if ((rc = mdb_put(txn, qs->db_msg, &k, &v, MDB_NOOVERWRITE)) != 0)
		return rc;
	/* Records of QSTORE_CHUNK_SIZE whatever the pieces held in memory. */
	for (off = 0, chunk = 0; off < size; off += n, chunk++) {
		n = size - off;
		if (n > QSTORE_CHUNK_SIZE)
			n = QSTORE_CHUNK_SIZE;
		qs_chunk_key(kb, m->msgid, chunk);
		k.mv_data = kb;
		k.mv_size = 12;
		v.mv_data = NULL;
		v.mv_size = n;
		if ((rc = mdb_put(txn, qs->db_chunk, &k, &v, MDB_RESERVE)) != 0)
			return rc;
		qs_msg_copy(m, off, v.mv_data, n);
	}
	/*
	 * The key, if any, with the message: both or neither are stored;
	 * with the time, for qstore_keys_prune().
	 */
	if (m->key[0] != '\0') {
		k.mv_data = m->key;
		k.mv_size = strlen(m->key);
		put_be64(kv, m->msgid);
		put_be64(kv + 8, (uint64_t)now);
		v.mv_data = kv;
		v.mv_size = sizeof(kv);
		if ((rc = mdb_put(txn, qs->db_keys, &k, &v, 0)) != 0)
			return rc;
	}
	for (i = 0; i < m->nenv; i++) {
		/* Due as soon as it is durable. */
		m->envs[i].next_try = now;
		if ((rc = qs_put_envelope(qs, txn, &m->envs[i])) != 0 ||
		    (rc = qs_sched_put(qs, txn, &m->envs[i])) != 0)
			return rc;
	}
	return 0;
}

static int
write_tempfail(struct qstore *qs, MDB_txn *txn, const struct envelope *e)
{
	struct envelope	 cur;
	int		 rc;

	rc = qs_get_envelope(qs, txn, e->id, &cur);
	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED)
		return 0;	/* removed meanwhile: do not resurrect */
	if (rc != 0)
		return rc;
	if (cur.state == ENV_QUEUED && (rc = qs_sched_del(qs, txn, &cur)) != 0)
		return rc;
	if ((rc = qs_put_envelope(qs, txn, e)) != 0)
		return rc;
	return qs_sched_put(qs, txn, e);
}

/* arg: non-zero when the batch's messages stay out (qs_mail_fits()). */
static int
apply_batch(struct qstore *qs, MDB_txn *txn, void *arg)
{
	struct pending	*p;
	time_t		 now = walltime();
	int		 rc = 0, no_mail = *(int *)arg;

	TAILQ_FOREACH(p, &qs->pending, entry) {
		switch (p->type) {
		case PEND_MESSAGE:
			if (!no_mail)
				rc = write_message(qs, txn, p->msg, now);
			break;
		case PEND_DELIVERED:
		case PEND_PERMFAIL:
			rc = qs_envelope_drop(qs, txn, p->evpid);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			break;
		case PEND_TEMPFAIL:
			rc = write_tempfail(qs, txn, p->env);
			break;
		}
		if (rc != 0)
			return rc;
	}
	return meta_put64(qs, txn, "last_msgid", qs->last_msgid);
}

/*
 * A failed commit is logged when it starts failing and when its error
 * changes, not at each retry while the spool stays full; the end of the
 * run of failures is logged once.
 */
static void
flush_log(struct qstore *qs, int rc, size_t n)
{
	if (rc == 0) {
		if (qs->commit_error != 0)
			log_info("queue store: commits succeed again, after "
			    "%zu failed", qs->commit_errors);
		qs->commit_error = 0;
		qs->commit_errors = 0;
		return;
	}
	qs->st.commit_failures++;
	qs->commit_errors++;
	if (rc != qs->commit_error)
		log_warnx("queue store: commit of %zu items failed: %s%s", n,
		    mdb_strerror(rc), qs_nospace(rc) ? " (the spool is full; "
		    "retrying)" : "");
	qs->commit_error = rc;
}

/*
 * What a message takes in the store: its chunks, and per envelope its
 * record and schedule entry with LMDB's node headers.
 */
static size_t
msg_store_bytes(const struct qs_msg *m)
{
	uint8_t	 rec[ENV_RECORD_MAX];
	size_t	 i, n;

	n = qstore_message_size(m) + MSG_RECORD_LEN + 64;
	for (i = 0; i < m->nenv; i++)
		n += envelope_encode(&m->envs[i], rec, sizeof(rec)) + 16 + 64;
	return n;
}

/*
 * Messages that would take the bookkeeping's reserve fail (their
 * callbacks say so), and the batch's results are committed without them.
 */
static int
flush_mail_fits(struct qstore *qs, size_t bytes, size_t nmsg)
{
	if (nmsg == 0)
		return 1;
	if (qs_mail_fits(qs, bytes)) {
		qs->mail_kept_out = 0;
		return 1;
	}
	qs->st.reserve_refused += nmsg;
	if (!qs->mail_kept_out++)
		log_warnx("queue store: %zu new messages not stored: the spool "
		    "has no room outside the reserve for the store's own "
		    "bookkeeping", nmsg);
	return 0;
}

int
qstore_flush(struct qstore *qs)
{
	struct pendlist	 done;
	struct pending	*p, *tp;
	size_t		 hint = 0, mail = 0, nmsg = 0;
	int		 rc = 0, ok, no_mail;

	if (qs->npending == 0)
		return 0;
	TAILQ_FOREACH(p, &qs->pending, entry) {
		if (p->msg != NULL) {
			mail += msg_store_bytes(p->msg);
			nmsg++;
		} else
			hint += ENV_RECORD_MAX + 64;
	}
	no_mail = !flush_mail_fits(qs, mail, nmsg);
	qs->batch_has_mail = nmsg > 0 && !no_mail;
	/* Generous: room for the copy-on-write pages too. */
	qs->grow_hint = hint + (no_mail ? 0 : 2 * mail);
	/* Nothing to write when the batch was all mail, kept out. */
	if (!no_mail || nmsg < qs->npending) {
		rc = qs_txn_run(qs, apply_batch, &no_mail);
		flush_log(qs, rc, qs->npending);
		if (rc == 0)
			qs_reserve_keep(qs);
	}
	ok = rc == 0;

	/* Callbacks may start new batches: detach this one first. */
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &qs->pending, entry);
	qs->npending = 0;
	TAILQ_FOREACH_SAFE(p, &done, entry, tp) {
		TAILQ_REMOVE(&done, p, entry);
		if (!ok && p->type != PEND_MESSAGE) {
			/* Results are retried by the next flush. */
			pending_add(qs, p);
			continue;
		}
		switch (p->type) {
		case PEND_MESSAGE:
			if (ok && !no_mail) {
				qs->st.messages_committed++;
				qs->st.envelopes_committed += p->msg->nenv;
			} else
				qs->st.messages_failed++;
			if (p->cb != NULL)
				p->cb(p->msg->msgid, ok && !no_mail, p->arg);
			break;
		case PEND_DELIVERED:
			qs->st.delivered++;
			break;
		case PEND_PERMFAIL:
			qs->st.permfailed++;
			break;
		case PEND_TEMPFAIL:
			qs->st.tempfailed++;
			break;
		}
		pending_free(p);
	}
	return ok && !no_mail ? 0 : -1;
}

int
qstore_flush_pending(struct qstore *qs)
{
	if (qs->npending == 0)
		return 0;
	return qstore_flush(qs);
}

/* Scheduler. */

struct take_arg {
	time_t		 now;
	struct envelope	*out;
	size_t		 max;
	size_t		 n;
	size_t		 jumped;	/* taken from beyond the horizon */
};

/*
 * Take the queued envelopes whose index keys lie in [from, until], up to
 * the caller's maximum.  The cursor looks up `from` again after each
 * removal, which leaves it on the next entry.
 */
static int
take_range(struct qstore *qs, MDB_txn *txn, MDB_cursor *cur,
    struct take_arg *ta, uint64_t from, uint64_t until)
{
	struct envelope	*e;
	uint8_t		 kb[16];
	MDB_val		 k, v;
	int		 rc = 0;

	qs_sched_key(kb, (int64_t)from, 0);
	while (ta->n < ta->max) {
		k.mv_data = kb;
		k.mv_size = sizeof(kb);
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size != 16) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (get_be64(k.mv_data) > until)
			break;
		e = &ta->out[ta->n];
		rc = qs_get_envelope(qs, txn,
		    get_be64((uint8_t *)k.mv_data + 8), e);
		if (rc != 0 && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED)
			break;
		/* The index entry goes in every case: used, or stale. */
		if (rc != 0 || e->state != ENV_QUEUED) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			continue;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		e->state = ENV_INFLIGHT;
		e->last_try = ta->now;
		if ((rc = qs_put_envelope(qs, txn, e)) != 0)
			break;
		ta->n++;
		if (from > (uint64_t)ta->now)
			ta->jumped++;
	}
	return rc;
}

/*
 * Due are the envelopes scheduled up to now, and those scheduled beyond
 * the horizon (qs_sched_horizon()), where no retry could have put them:
 * the wall clock was set back since.  Left alone they would wait the
 * jump on top of their retry interval; taken now, a jump back delays
 * nothing by more than the longest retry interval.
 */
static int
take_due(struct qstore *qs, MDB_txn *txn, void *arg)
{
	struct take_arg	*ta = arg;
	MDB_cursor	*cur;
	int		 rc;

	ta->n = 0;
	ta->jumped = 0;
	if ((rc = mdb_cursor_open(txn, qs->db_sched, &cur)) != 0)
		return rc;
	rc = take_range(qs, txn, cur, ta, 0, (uint64_t)ta->now);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = take_range(qs, txn, cur, ta,
		    qs_sched_horizon(qs, ta->now) + 1, UINT64_MAX);
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int
qstore_take_due(struct qstore *qs, time_t now, struct envelope *out,
    size_t max)
{
	struct take_arg	 ta;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc, due;

	if (max == 0)
		return 0;
	if (qs_recover(qs) == -1)
		return -1;
	/* Skip the write transaction, and its fsync, when nothing is due. */
	if (mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, qs->db_sched, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	due = rc == 0 && (k.mv_size != 16 || get_be64(k.mv_data) <= (uint64_t)now);
	if (rc == 0 && !due &&
	    mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
		due = k.mv_size != 16 ||
		    get_be64(k.mv_data) > qs_sched_horizon(qs, now);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (!due)
		return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;

	ta.now = now;
	ta.out = out;
	ta.n = 0;
	/*
	 * On a full spool a smaller batch may still fit in the store's free
	 * pages, and delivering it is what frees more.
	 */
	for (;;) {
		ta.max = max;
		qs->grow_hint = max * (ENV_RECORD_MAX + 64);
		if ((rc = qs_txn_run(qs, take_due, &ta)) == 0) {
			if (ta.jumped > 0)
				log_warnx("queue: %zu envelope(s) were "
				    "scheduled more than the longest retry "
				    "interval ahead (the clock was set back, "
				    "or queue retry lowered): trying them now",
				    ta.jumped);
			return (int)ta.n;
		}
		if (!qs_nospace(rc) || max == 1 || qs->broken)
			break;
		max /= 2;
	}
	log_warnx("queue store: take due: %s", mdb_strerror(rc));
	return -1;
}

static int
result_add(struct qstore *qs, enum pend_type type, uint64_t evpid,
    struct envelope *e)
{
	struct pending	*p;

	p = xcalloc(1, sizeof(*p));
	p->type = type;
	p->evpid = evpid;
	p->env = e;
	pending_add(qs, p);
	return 0;
}

int
qstore_delivered(struct qstore *qs, uint64_t evpid)
{
	return result_add(qs, PEND_DELIVERED, evpid, NULL);
}

int
qstore_permfail(struct qstore *qs, uint64_t evpid)
{
	return result_add(qs, PEND_PERMFAIL, evpid, NULL);
}

int
qstore_tempfail(struct qstore *qs, uint64_t evpid, time_t now,
    const char *error)
{
	struct envelope	*e;
	time_t		 delay;
	uint32_t	 i;

	e = xmalloc(sizeof(*e));
	if (qstore_envelope_get(qs, evpid, e) != 0) {
		free(e);
		return -1;
	}
	if (now >= e->expire) {
		qs->st.expired++;
		free(e);
		return QSTORE_EXPIRED;
	}
	e->attempts++;
	/* retry_first, doubling per attempt, capped at retry_max. */
	delay = qs->retry_first;
	for (i = 1; i < e->attempts && delay < qs->retry_max; i++)
		delay *= 2;
	if (delay > qs->retry_max)
		delay = qs->retry_max;
	e->next_try = now + delay;
	/* The last try happens at expiry, not a backoff step after it. */
	if (e->next_try > e->expire)
		e->next_try = e->expire;
	e->last_try = now;
	e->state = ENV_QUEUED;
	strlcpy(e->errmsg, error != NULL ? error : "", sizeof(e->errmsg));
	return result_add(qs, PEND_TEMPFAIL, evpid, e) == 0 ?
	    QSTORE_RESCHEDULED : -1;
}

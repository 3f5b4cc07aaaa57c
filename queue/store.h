/*
 * The queue store: messages and envelopes in one LMDB environment owned by
 * the queue process alone (DESIGN.md, Stores).
 *
 * "Queued" means durable: a message is acknowledged only after an fsync'd
 * LMDB transaction holds it.  Incoming messages are buffered in memory until
 * their commit is requested; qstore_flush() then writes every pending message
 * and delivery result in ONE write transaction (group commit) and calls each
 * callback with the outcome.  The memory that incoming messages hold is
 * bounded by a budget (qstore_set_memory_limit()).
 */
#ifndef POSTERN_QSTORE_H
#define POSTERN_QSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "envelope.h"

#define QSTORE_CHUNK_SIZE	65536		/* body bytes per record */
#define QSTORE_MAPSIZE_MIN	(1024 * 1024)
#define QSTORE_MAX_RCPTS	65536		/* envelope index is 16 bits */
/* Kept allocated for the store's own bookkeeping (queue/store_space.c). */
#define QSTORE_KEY_MAX		320		/* a message key (LMDB: < 512) */
#define QSTORE_RESERVE		(4 * 1024 * 1024)

struct qstore;
struct qs_msg;

struct qstore_stats {
	uint64_t	 commits;		/* write transactions committed */
	uint64_t	 commit_failures;	/* flushes that failed */
	uint64_t	 map_grows;
	uint64_t	 messages_committed;
	uint64_t	 messages_aborted;
	uint64_t	 messages_failed;	/* batch failure, not acked */
	uint64_t	 envelopes_committed;
	uint64_t	 delivered;
	uint64_t	 tempfailed;
	uint64_t	 permfailed;
	uint64_t	 expired;
	uint64_t	 removed;		/* by an operator */
	uint64_t	 recovered;		/* in flight at open */
	uint64_t	 corrupt;		/* records that failed to decode */
	uint64_t	 envelopes_read;	/* records decoded, since open:
						   what the schedule costs */
	uint64_t	 mem_refused;		/* messages over the budget */
	uint64_t	 reserve_refused;	/* messages kept out of it */
	size_t		 reserve;		/* for bookkeeping, bytes */
	size_t		 reserve_have;		/* ... allocated now */
	size_t		 mem_held;		/* by incoming messages, now */
	size_t		 mem_peak;		/* ... at most, since open */
	size_t		 mem_limit;		/* the budget, 0: none */
	size_t		 pending;		/* items waiting for a flush */
	size_t		 messages;		/* stored now */
	size_t		 envelopes;		/* stored now */
	size_t		 scheduled;		/* queued, in the schedule */
	size_t		 mapsize;
};

/*
 * Open (creating it if needed) the store in directory `dir`, which must
 * exist.  `mapsize` is the initial LMDB map size (it grows on demand).
 * Envelopes left in flight by a previous run are queued again, due now.
 * Returns NULL and a message in err on failure.
 */
struct qstore	*qstore_open(const char *dir, size_t mapsize, char *err,
		    size_t errlen);
/* Pending items are flushed first; their callbacks run. */
void		 qstore_close(struct qstore *);

/*
 * Cap the map (hence the spool's disk use): a batch that does not fit below
 * it fails.  0, the default, means no cap.
 */
void		 qstore_set_max_mapsize(struct qstore *, size_t);
/*
 * LMDB reported MDB_PANIC (a failed write of its meta page): the environment
 * is unusable until reopened, so the queue process should exit (fail-stop).
 */
int		 qstore_broken(const struct qstore *);
/* What made it so, in LMDB's words. */
const char	*qstore_error(const struct qstore *);
/*
 * TEST ONLY: the n-th group commit from now that holds a new message
 * fails as LMDB's MDB_PANIC would (the queue's POSTERN_TEST_STORE_PANIC).
 */
void		 qstore_test_panic(struct qstore *, unsigned int n);

/* The retry schedule: first retry, cap of the doubling, lifetime. */
void		 qstore_set_retry(struct qstore *, time_t retry_first,
		    time_t retry_max, time_t expire);

/*
 * The budget of memory for messages being received (up to their commit):
 * what qstore_message_receive() may hold in all, in bytes; 0, the default,
 * means no limit.  Messages begun with qstore_message_begin() (the queue's
 * own, DSNs) are counted but never refused.
 */
void		 qstore_set_memory_limit(struct qstore *, size_t);

/*
 * An incoming message.  begin assigns the message id; append streams the
 * body (fails with -1 past max_size: the caller rejects with 552 and aborts);
 * add_envelope copies the envelope (id, msgid, state, times and attempts are
 * filled in by the store) and returns the envelope id, or 0 on error.
 * abort discards everything, nothing was stored.
 *
 * receive is begin under the memory budget: `expected` octets (a declared
 * SIZE, 0 when unknown) are reserved at once, and it fails with
 * QSTORE_NOMEM when they do not fit (and -1 when no id is left).  append
 * and prepend of a message begun so fail with QSTORE_NOMEM when the budget
 * is spent: the caller aborts the message (which frees its memory) and
 * answers 452 4.3.1.
 */
#define QSTORE_NOMEM	(-2)
struct qs_msg	*qstore_message_begin(struct qstore *, size_t max_size);
int		 qstore_message_receive(struct qstore *, size_t max_size,
		    size_t expected, struct qs_msg **);
uint64_t	 qstore_message_id(const struct qs_msg *);
size_t		 qstore_message_size(const struct qs_msg *);
int		 qstore_message_append(struct qs_msg *, const void *, size_t);
int		 qstore_message_prepend(struct qs_msg *, const void *, size_t);
uint64_t	 qstore_message_add_envelope(struct qs_msg *,
		    const struct envelope *);
void		 qstore_message_abort(struct qs_msg *);
/*
 * A message that must be queued once only (a report: reportd may offer it
 * again after a crash, RFC 9990 3.5.4): its key is stored in the same
 * transaction as the message, and qstore_key_exists() tells whether a
 * message of that key was ever committed.  0, or -1 for a key too long.
 * qstore_key_exists(): 1, 0, or -1 on a store error.
 */
int		 qstore_message_set_key(struct qs_msg *, const char *);
int		 qstore_key_exists(struct qstore *, const char *);
/*
 * Forget the keys of messages committed more than keep seconds before
 * now (a key stored without its time starts counting now).  The number
 * forgotten, or -1.
 */
long		 qstore_keys_prune(struct qstore *, time_t now, time_t keep);

/*
 * Queue the message for the next group commit; the store owns it from now
 * on.  cb runs from qstore_flush() with ok = 1 once the message is durable,
 * ok = 0 if the batch failed (nothing of it was stored).  A message without
 * envelopes is refused (-1, cb not called, message freed).
 */
typedef void	 (*qstore_cb)(uint64_t id, int ok, void *arg);
int		 qstore_commit_request(struct qs_msg *, qstore_cb, void *);

/* Items waiting for the next flush. */
size_t		 qstore_pending(const struct qstore *);
/*
 * Write every pending item in one transaction, commit with fsync, then run
 * the callbacks.  On MDB_MAP_FULL the map is grown and the batch retried
 * once.  Returns 0, or -1 when the batch failed (every message callback got
 * ok = 0; delivery results stay pending for the next flush).
 */
int		 qstore_flush(struct qstore *);
/* qstore_flush() when something is pending: what the queue's timer calls. */
int		 qstore_flush_pending(struct qstore *);

/*
 * Scheduler.  take_due returns up to max envelopes with next_try <= now in
 * next_try order and marks them in flight (one synced transaction, so a
 * restart finds them).  Returns the count, or -1.
 */
int		 qstore_take_due(struct qstore *, time_t now, struct envelope *,
		    size_t max);
/* Seconds from now to the next due envelope: 0 if due, -1 if none. */
time_t		 qstore_next_due(struct qstore *, time_t now);
/*
 * The spool's room for new mail: free on its filesystem plus free inside
 * the store, without the reserve (queue/store_space.c); and the
 * filesystem's size.  0, or -1 when the filesystem cannot be asked.
 */
int		 qstore_space(struct qstore *, uint64_t *avail,
		    uint64_t *fs_size);
/*
 * Top up the reserve that keeps removing and rescheduling envelopes
 * possible on a full filesystem; the store does it after each commit, the
 * queue on its timer so that it grows back when space returns.
 */
void		 qstore_reserve_keep(struct qstore *);

/*
 * Results of an in-flight envelope.  They join the next group commit (a
 * lost result only means a retry; see the delivery rule in queue/store.c).
 * delivered and permfail remove the envelope, and the message with its last
 * envelope.  tempfail counts the attempt and reschedules with doubling
 * backoff; it returns QSTORE_EXPIRED (and changes nothing) when the envelope
 * has outlived its expiry: the caller bounces and calls permfail.
 */
#define QSTORE_RESCHEDULED	0
#define QSTORE_EXPIRED		1
int		 qstore_delivered(struct qstore *, uint64_t evpid);
int		 qstore_permfail(struct qstore *, uint64_t evpid);
int		 qstore_tempfail(struct qstore *, uint64_t evpid, time_t now,
		    const char *error);

/*
 * Operator actions (posternctl), immediate and synced.  kind/id select one
 * envelope, every envelope of a message, or all (qid_parse()).  Return the
 * number of envelopes changed, or -1.  hold takes queued envelopes out of
 * the schedule; release puts held ones back, due now; schedule makes queued
 * ones due now; remove deletes (in-flight ones too: their result is then
 * ignored).
 */
int		 qstore_hold(struct qstore *, enum qid_kind, uint64_t id);
int		 qstore_release(struct qstore *, enum qid_kind, uint64_t id,
		    time_t now);
int		 qstore_schedule(struct qstore *, enum qid_kind, uint64_t id,
		    time_t now);
int		 qstore_remove(struct qstore *, enum qid_kind, uint64_t id);
/*
 * The same a batch at a time, for a caller that serves others in between
 * (the queue process: releasing a million envelopes takes seconds).
 * Each step is one committed transaction of at most 4096 envelopes; it
 * adds what it changed to a->count and returns 1 while more is to do, 0
 * when the action is done, -1 on error (the steps before stay done).
 * Envelopes that come meanwhile are in the action or not.
 */
enum qstore_verb {
	QSTORE_HOLD,
	QSTORE_RELEASE,
	QSTORE_SCHEDULE,
	QSTORE_REMOVE
};
struct qstore_action {
	enum qstore_verb verb;
	enum qid_kind	 kind;
	uint64_t	 id;
	time_t		 now;		/* release, schedule: due then */
	uint64_t	 start;		/* where the next step begins */
	int		 count;		/* envelopes changed so far */
};
void		 qstore_action_init(struct qstore_action *, enum qstore_verb,
		    enum qid_kind, uint64_t id, time_t now);
int		 qstore_action_step(struct qstore *, struct qstore_action *);

/* Reading. 0 on success, 1 when not found, -1 on error (corrupt record). */
int		 qstore_envelope_get(struct qstore *, uint64_t evpid,
		    struct envelope *);
int		 qstore_message_info(struct qstore *, uint64_t msgid,
		    struct msgrec *);
/*
 * Copy chunk number `chunk` of a message body into buf (QSTORE_CHUNK_SIZE
 * bytes always suffice); *len gets its length.  1 past the last chunk.
 */
int		 qstore_message_read(struct qstore *, uint64_t msgid,
		    uint32_t chunk, void *buf, size_t bufsize, size_t *len);
/*
 * Call cb for each envelope in id order (age order); a non-zero return
 * stops the walk.  Corrupt records are counted and skipped.  cb must not
 * call the store.  Returns 0 or -1.
 */
int		 qstore_envelope_walk(struct qstore *,
		    int (*cb)(const struct envelope *, void *), void *arg);
/* The same, with the size of each envelope's message (0: unknown). */
int		 qstore_envelope_walk_sized(struct qstore *,
		    int (*sized)(const struct envelope *, uint64_t, void *),
		    int (*cb)(const struct envelope *, void *), void *arg);

/*
 * One batch of the same walk, for a listing that must not hold the whole
 * queue (show queue): at most `max` envelope records from *from on (an
 * envelope id; 0 at the start) in one short read transaction.  Returns 1
 * with *from set where the next batch starts, 0 when the walk is over (or
 * cb stopped it), -1 on error.  Envelopes added or removed between
 * batches are seen or not, as in any listing; none is seen twice.
 */
int		 qstore_envelope_walk_batch(struct qstore *, uint64_t *from,
		    size_t max,
		    int (*sized)(const struct envelope *, uint64_t, void *),
		    void *arg);

/* The same for the envelopes of one message. */
int		 qstore_message_envelopes(struct qstore *, uint64_t msgid,
		    int (*cb)(const struct envelope *, void *), void *arg);

void		 qstore_stats(struct qstore *, struct qstore_stats *);

/*
 * The printable envelope id: the idempotency key for delivery agents.  The
 * maildir writer puts it in the file name, so a delivery repeated after a
 * crash finds the file already in new/ and reports success.
 */
void		 qstore_envelope_id_str(uint64_t evpid, char *buf, size_t len);

#endif

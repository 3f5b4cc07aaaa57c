/*
 * Internals shared by the queue store's files (queue/store.c: open, group
 * commit, scheduler; queue/store_msg.c: incoming messages in memory;
 * queue/store_admin.c: operator actions and reading; queue/store_space.c:
 * free space and the bookkeeping's reserve).
 * Nothing outside the store includes this.
 */
#ifndef POSTERN_QSTORE_INT_H
#define POSTERN_QSTORE_INT_H

#include <sys/queue.h>

#include <lmdb.h>

#include "envelope.h"
#include "queue/store.h"
#include "util.h"

/*
 * An incoming message's bytes: the prepended header fields in `head`, the
 * rest in chunks[], each QSTORE_CHUNK_SIZE bytes but the first, which
 * starts at what the message is expected to need and grows (to
 * QSTORE_CHUNK_SIZE at most) only while the message is that small.  No
 * buffer is ever doubled past the message: a 35 MB message holds 35 MB
 * plus less than one chunk, and nothing is copied as it grows.
 */
struct qs_msg {
	struct qstore		*qs;
	uint64_t		 msgid;
	int64_t			 ctime;
	size_t			 max_size;
	struct buf		 head;
	uint8_t			**chunks;
	size_t			 nchunks;
	size_t			 slots;		/* room in chunks[] */
	size_t			 cap0;		/* chunks[0]'s size */
	size_t			 len;		/* bytes in chunks */
	size_t			 reserved;	/* held for a declared size */
	size_t			 charged;	/* counted in qs->mem_held */
	int			 budgeted;	/* mem_limit applies */
	struct envelope		*envs;
	size_t			 nenv;
	size_t			 envcap;	/* room in envs[] */
	char			 key[QSTORE_KEY_MAX + 1]; /* "" = none */
};

enum pend_type {
	PEND_MESSAGE,
	PEND_DELIVERED,
	PEND_PERMFAIL,
	PEND_TEMPFAIL
};

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	enum pend_type		 type;
	struct qs_msg		*msg;		/* PEND_MESSAGE */
	uint64_t		 evpid;
	struct envelope		*env;		/* PEND_TEMPFAIL: new state */
	qstore_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(pendlist, pending);

struct qstore {
	MDB_env			*env;
	MDB_dbi			 db_msg;
	MDB_dbi			 db_chunk;
	MDB_dbi			 db_env;
	MDB_dbi			 db_sched;
	MDB_dbi			 db_meta;
	MDB_dbi			 db_keys;	/* message keys: once only */
	size_t			 mapsize;
	size_t			 max_mapsize;	/* 0: no limit */
	size_t			 grow_hint;	/* bytes the next txn may need */
	time_t			 retry_first;
	time_t			 retry_max;
	time_t			 expire;
	uint64_t		 last_msgid;
	size_t			 mem_limit;	/* 0: no limit */
	size_t			 mem_held;	/* by incoming messages */
	int			 broken;	/* MDB_PANIC, when LMDB said it */
	unsigned int		 test_panic;	/* TEST ONLY: commits to go */
	int			 batch_has_mail; /* the flush being run */
	int			 recover_pending; /* restart recovery to do */
	int			 recover_error;	/* why it failed last */
	size_t			 reserve;	/* for bookkeeping, bytes */
	size_t			 reserve_have;	/* of it, there now */
	size_t			 reserve_tail;	/* allocated past the pages */
	int			 reserve_short;	/* logged as short */
	int			 mail_kept_out;	/* of it: logged */
	int			 commit_error;	/* of the last flush, 0: ok */
	size_t			 commit_errors;	/* flushes failed since */
	struct pendlist		 pending;
	size_t			 npending;
	struct qstore_stats	 st;
};

void	qs_chunk_key(uint8_t k[12], uint64_t msgid, uint32_t chunk);
void	qs_sched_key(uint8_t k[16], int64_t next_try, uint64_t evpid);
uint64_t qs_sched_horizon(const struct qstore *, time_t);
int	qs_nospace(int);
int	qs_recover(struct qstore *);
int	qs_txn_run(struct qstore *,
	    int (*)(struct qstore *, MDB_txn *, void *), void *);
int	qs_get_envelope(struct qstore *, MDB_txn *, uint64_t,
	    struct envelope *);
int	qs_put_envelope(struct qstore *, MDB_txn *, const struct envelope *);
int	qs_sched_put(struct qstore *, MDB_txn *, const struct envelope *);
int	qs_sched_del(struct qstore *, MDB_txn *, const struct envelope *);
int	qs_envelope_drop(struct qstore *, MDB_txn *, uint64_t);
void	qs_reserve_keep(struct qstore *);
void	qs_msg_free(struct qs_msg *);
void	qs_msg_copy(const struct qs_msg *, size_t, uint8_t *, size_t);
int	qs_mail_fits(struct qstore *, size_t);

#endif

/*
 * queue/store_admin.c and queue/store.c at scale: what a queue of a
 * million envelopes needs of the store.
 *  - show queue's batched walk (qstore_envelope_walk_batch()): every
 *    envelope once, in id order, each batch bounded, resuming where the
 *    last stopped although envelopes come and go between batches;
 *  - the schedule costs O(due envelopes), not O(queue): next_due, take_due
 *    and the results of a delivery read only the envelopes that are due
 *    (counted by the store: qstore_stats() envelopes_read);
 *  - operator actions on all envelopes run in bounded transactions and
 *    still reach every one of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "queue/store.h"
#include "util.h"
#include "regress/unit/lmdbdir.h"

/* More than one batch of operator actions (OP_BATCH, 4096). */
#define NMSG		1100
#define NRCPT		4
#define RETRY_FIRST	300

struct fixture {
	char		 dir[64];
	struct qstore	*qs;
};

static void
ack_cb(uint64_t id, int ok, void *arg)
{
	int	*failed = arg;

	if (!ok)
		(*failed)++;
}

static uint64_t
add_message(struct qstore *qs, int nrcpt)
{
	struct qs_msg	*m;
	struct envelope	 e;
	char		 rcpt[64];
	uint64_t	 id;
	int		 i;
	static int	 failed;

	m = qstore_message_begin(qs, 0);
	assert_non_null(m);
	id = qstore_message_id(m);
	assert_int_equal(qstore_message_append(m, "Subject: x\r\n\r\nbody\r\n",
	    21), 0);
	for (i = 0; i < nrcpt; i++) {
		memset(&e, 0, sizeof(e));
		strlcpy(e.sender, "sender@example.com", sizeof(e.sender));
		snprintf(rcpt, sizeof(rcpt), "user%d@d%d.example", i, i % 3);
		strlcpy(e.rcpt, rcpt, sizeof(e.rcpt));
		strlcpy(e.dest, "out", sizeof(e.dest));
		e.kind = ENV_REMOTE;
		assert_int_equal(qstore_message_add_envelope(m, &e),
		    EVPID(id, i));
	}
	assert_int_equal(qstore_commit_request(m, ack_cb, &failed), 0);
	return id;
}

static int
setup(void **state)
{
	struct fixture	*f;
	char		 err[256];
	int		 i;

	f = xcalloc(1, sizeof(*f));
	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_store_scale") == -1)
		return -1;
	f->qs = qstore_open(f->dir, 16 * 1024 * 1024, err, sizeof(err));
	if (f->qs == NULL) {
		fprintf(stderr, "qstore_open: %s\n", err);
		return -1;
	}
	qstore_set_retry(f->qs, RETRY_FIRST, 3600, 5 * 24 * 3600);
	for (i = 0; i < NMSG; i++)
		add_message(f->qs, NRCPT);
	if (qstore_flush(f->qs) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	qstore_close(f->qs);
	lmdbdir_remove(f->dir);
	free(f);
	return 0;
}

static uint64_t
reads(struct qstore *qs)
{
	struct qstore_stats	 st;

	qstore_stats(qs, &st);
	return st.envelopes_read;
}

struct seen {
	uint64_t	*ids;
	size_t		 n;
	size_t		 cap;
	size_t		 in_batch;
	int		 stop_at;	/* stop the walk at this one, or -1 */
};

static int
seen_cb(const struct envelope *e, uint64_t size, void *arg)
{
	struct seen	*s = arg;

	/* the size of its message, read in the same transaction */
	assert_int_equal(size, 21);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->ids = xreallocarray(s->ids, s->cap, sizeof(*s->ids));
	}
	s->ids[s->n++] = e->id;
	s->in_batch++;
	return s->stop_at >= 0 && (int)s->n == s->stop_at;
}

static void
test_walk_batch(void **state)
{
	struct fixture	*f = *state;
	struct seen	 s = { NULL, 0, 0, 0, -1 };
	uint64_t	 from = 0, removed = 0, added = 0;
	size_t		 i, batches = 0, found_added = 0;
	int		 r;

	while ((r = qstore_envelope_walk_batch(f->qs, &from, 37, seen_cb,
	    &s)) == 1) {
		/* bounded: no batch lists more than asked */
		assert_true(s.in_batch <= 37);
		s.in_batch = 0;
		batches++;
		if (batches == 3) {
			/*
			 * Between batches: a message not listed yet goes, a
			 * new one comes (an id above every other).
			 */
			removed = EVPID_MSGID(s.ids[s.n - 1]) + 5;
			assert_int_equal(qstore_remove(f->qs, QID_MSG,
			    removed), NRCPT);
			added = add_message(f->qs, NRCPT);
			assert_int_equal(qstore_flush(f->qs), 0);
		}
	}
	assert_int_equal(r, 0);
	assert_true(batches > 100);
	/* every envelope once, in order: none repeated, none skipped */
	assert_int_equal(s.n, NMSG * NRCPT);
	for (i = 1; i < s.n; i++)
		assert_true(s.ids[i] > s.ids[i - 1]);
	for (i = 0; i < s.n; i++) {
		assert_true(EVPID_MSGID(s.ids[i]) != removed);
		if (EVPID_MSGID(s.ids[i]) == added)
			found_added++;
	}
	assert_int_equal(found_added, NRCPT);

	/* the callback stops it: over, not "more" */
	free(s.ids);
	memset(&s, 0, sizeof(s));
	s.stop_at = 5;
	from = 0;
	assert_int_equal(qstore_envelope_walk_batch(f->qs, &from, 37, seen_cb,
	    &s), 0);
	assert_int_equal(s.n, 5);

	/* an empty tail: from past the last id */
	free(s.ids);
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	from = UINT64_MAX;
	assert_int_equal(qstore_envelope_walk_batch(f->qs, &from, 37, seen_cb,
	    &s), 0);
	assert_int_equal(s.n, 0);
	free(s.ids);
}

/*
 * With the whole queue scheduled in the future, a tick finds nothing to
 * do without reading an envelope; when k are due it reads about k.
 */
static void
test_schedule_o_due(void **state)
{
	struct fixture		*f = *state;
	struct envelope		*due;
	struct qstore_stats	 st;
	time_t			 now = time(NULL);
	uint64_t		 r0;
	int			 n, total = 0, i;

	due = xcalloc(NMSG * NRCPT, sizeof(*due));
	/*
	 * every envelope out once, and tempfailed four a second (within
	 * the longest retry interval: beyond, they would count as a clock
	 * set back, due now)
	 */
	while ((n = qstore_take_due(f->qs, now, due + total,
	    NMSG * NRCPT - total)) > 0)
		total += n;
	assert_int_equal(total, NMSG * NRCPT);
	for (i = 0; i < total; i++)
		assert_int_equal(qstore_tempfail(f->qs, due[i].id, now + i / 4,
		    "4.0.0 try later"), QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.scheduled, NMSG * NRCPT);

	/* nothing due: no envelope read at all */
	r0 = reads(f->qs);
	assert_int_equal(qstore_next_due(f->qs, now), RETRY_FIRST);
	assert_int_equal(qstore_take_due(f->qs, now, due, 256), 0);
	assert_int_equal(reads(f->qs) - r0, 0);

	/* twelve due: twelve read (and a few more at most), of 4400 */
	r0 = reads(f->qs);
	n = qstore_take_due(f->qs, now + RETRY_FIRST + 2, due, 256);
	assert_int_equal(n, 12);
	assert_true(reads(f->qs) - r0 <= 12 + 2);
	/* their results: one read each */
	r0 = reads(f->qs);
	for (i = 0; i < 5; i++)
		qstore_delivered(f->qs, due[i].id);
	for (; i < 12; i++)
		assert_int_equal(qstore_tempfail(f->qs, due[i].id,
		    now + RETRY_FIRST + 2, "4.0.0 again"), QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_true(reads(f->qs) - r0 <= 12 * 2 + 2);
	r0 = reads(f->qs);
	assert_int_equal(qstore_next_due(f->qs, now + RETRY_FIRST + 2), 1);
	assert_int_equal(reads(f->qs) - r0, 0);

	/*
	 * Expiry is a due time too: an envelope past its lifetime is taken
	 * when due and its tempfail says QSTORE_EXPIRED; the others are not
	 * looked at.
	 */
	r0 = reads(f->qs);
	n = qstore_take_due(f->qs, now + RETRY_FIRST + 3, due, 256);
	assert_int_equal(n, 4);
	assert_int_equal(qstore_tempfail(f->qs, due[0].id,
	    now + 6 * 24 * 3600, "4.0.0 late"), QSTORE_EXPIRED);
	assert_true(reads(f->qs) - r0 <= 5 + 2);
	free(due);
}

/* The last envelope's id: the newest message's last recipient. */
static uint64_t
last_cb_id;

static int
last_cb(const struct envelope *e, void *arg)
{
	last_cb_id = e->id;
	return 0;
}

static uint64_t
qstore_stats_last(struct qstore *qs)
{
	assert_int_equal(qstore_envelope_walk(qs, last_cb, NULL), 0);
	return last_cb_id;
}

/* hold all and release all run in batches, and reach every envelope. */
static void
test_action_batches(void **state)
{
	struct fixture		*f = *state;
	struct qstore_stats	 st;
	struct qstore_action	 a;
	struct envelope		 e;
	time_t			 now = time(NULL);

	assert_int_equal(qstore_hold(f->qs, QID_ALL, 0), NMSG * NRCPT);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.scheduled, 0);
	assert_int_equal(qstore_take_due(f->qs, now + 10, &e, 1), 0);
	/* a step at a time, as the queue process runs it */
	qstore_action_init(&a, QSTORE_RELEASE, QID_ALL, 0, now);
	assert_int_equal(qstore_action_step(f->qs, &a), 1);
	assert_int_equal(a.count, 4096);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.scheduled, 4096);
	/* what comes between the steps is released too (an id above) */
	add_message(f->qs, NRCPT);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_hold(f->qs, QID_MSG, EVPID_MSGID(
	    qstore_stats_last(f->qs))), NRCPT);
	assert_int_equal(qstore_action_step(f->qs, &a), 0);
	assert_int_equal(a.count, NMSG * NRCPT + NRCPT);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.scheduled, NMSG * NRCPT + NRCPT);
	assert_int_equal(qstore_remove(f->qs, QID_MSG,
	    EVPID_MSGID(qstore_stats_last(f->qs))), NRCPT);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.scheduled, NMSG * NRCPT);
	assert_int_equal(qstore_remove(f->qs, QID_ALL, 0), NMSG * NRCPT);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.envelopes, 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.scheduled, 0);
	assert_int_equal(st.removed, NMSG * NRCPT + NRCPT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schedule_o_due, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_action_batches, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

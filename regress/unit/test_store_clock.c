/*
 * queue/store.c and queue/store_admin.c under a wall clock that jumps:
 * the schedule's horizon (take_due(), qstore_next_due()).  Set back, an
 * envelope scheduled further ahead than any retry could put it is due at
 * once, while one inside the longest retry interval keeps its time; set
 * forward, retries are due and expiry still counts from creation.
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
#include <unistd.h>

#include "envelope.h"
#include "queue/store.h"
#include "util.h"
#include "regress/unit/lmdbdir.h"

#define RETRY_FIRST	600
#define RETRY_MAX	3600
#define LIFETIME	(5 * 86400)

struct fixture {
	char		 dir[64];
	struct qstore	*qs;
};

static void
ack_cb(uint64_t id, int ok, void *arg)
{
	*(int *)arg += ok;
}

static int
setup(void **state)
{
	struct fixture	*f;
	char		 err[256];

	f = xcalloc(1, sizeof(*f));
	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_store_clock") == -1)
		return -1;
	if ((f->qs = qstore_open(f->dir, 16 * 1024 * 1024, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "qstore_open: %s\n", err);
		return -1;
	}
	qstore_set_retry(f->qs, RETRY_FIRST, RETRY_MAX, LIFETIME);
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

/*
 * One committed message with one envelope, taken at `take` and
 * tempfailed at t (the wall clock may have jumped in between).
 */
static struct envelope
deferred(struct fixture *f, time_t take, time_t t)
{
	struct qs_msg	*m;
	struct envelope	 e, due[4];
	int		 ok = 0;
	uint64_t	 evpid;

	m = qstore_message_begin(f->qs, 0);
	assert_non_null(m);
	assert_int_equal(qstore_message_append(m, "x\r\n", 3), 0);
	memset(&e, 0, sizeof(e));
	strlcpy(e.sender, "s@example.com", sizeof(e.sender));
	strlcpy(e.rcpt, "r@example.org", sizeof(e.rcpt));
	strlcpy(e.dest, "local", sizeof(e.dest));
	e.kind = ENV_LOCAL;
	evpid = qstore_message_add_envelope(m, &e);
	assert_int_equal(qstore_commit_request(m, ack_cb, &ok), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(qstore_take_due(f->qs, take, due, 4), 1);
	assert_int_equal(due[0].id, evpid);
	assert_int_equal(qstore_tempfail(f->qs, evpid, t, "451 later"),
	    QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, evpid, &e), 0);
	assert_int_equal(e.next_try, t + RETRY_FIRST);
	return e;
}

/* Back an hour: scheduled 600 s ahead by the old clock, 4200 s now. */
static void
test_clock_back_an_hour(void **state)
{
	struct fixture	*f = *state;
	struct envelope	 e, due[4];
	time_t		 t = time(NULL), back = t - 3600;

	e = deferred(f, t, t);
	assert_int_equal(qstore_next_due(f->qs, back), 0);
	assert_int_equal(qstore_take_due(f->qs, back, due, 4), 1);
	assert_int_equal(due[0].id, e.id);
	assert_int_equal(due[0].state, ENV_INFLIGHT);
	/* Its next retry counts from the clock it is tried by. */
	assert_int_equal(qstore_tempfail(f->qs, e.id, back, "451 again"),
	    QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, e.id, &e), 0);
	assert_int_equal(e.next_try, back + 2 * RETRY_FIRST);
	/* Created "in the future": no negative age expires it. */
	assert_true(e.ctime > back);
	assert_int_equal(e.expire, e.ctime + LIFETIME);
	assert_int_equal(qstore_next_due(f->qs, back), 2 * RETRY_FIRST);
}

/* Back a little: within the longest retry interval, the time is kept. */
static void
test_clock_back_within_retry(void **state)
{
	struct fixture	*f = *state;
	struct envelope	 e, due[4];
	time_t		 t = time(NULL), back = t - 60;

	e = deferred(f, t, t);
	assert_int_equal(qstore_next_due(f->qs, back), RETRY_FIRST + 60);
	assert_int_equal(qstore_take_due(f->qs, back, due, 4), 0);
	assert_int_equal(qstore_take_due(f->qs, e.next_try - 1, due, 4), 0);
	assert_int_equal(qstore_take_due(f->qs, e.next_try, due, 4), 1);
}

/*
 * Only the envelopes beyond the horizon jump the line: one legitimately
 * scheduled inside it, ahead in the index, keeps its time.
 */
static void
test_clock_back_mixed(void **state)
{
	struct fixture	*f = *state;
	struct envelope	 old, recent, due[4];
	time_t		 t = time(NULL), back = t - 7200;

	old = deferred(f, t, t);		/* due at t + 600 */
	recent = deferred(f, t, back);		/* due at back + 600 */
	assert_int_equal(qstore_take_due(f->qs, back, due, 4), 1);
	assert_int_equal(due[0].id, old.id);
	assert_int_equal(qstore_next_due(f->qs, back), RETRY_FIRST);
	assert_int_equal(qstore_take_due(f->qs, recent.next_try, due, 4), 1);
	assert_int_equal(due[0].id, recent.id);
}

/* Forward a day: the retry is due, and a 5-day lifetime is not over. */
static void
test_clock_forward_a_day(void **state)
{
	struct fixture	*f = *state;
	struct envelope	 e, due[4];
	time_t		 t = time(NULL), fwd = t + 86400;

	e = deferred(f, t, t);
	assert_int_equal(qstore_next_due(f->qs, fwd), 0);
	assert_int_equal(qstore_take_due(f->qs, fwd, due, 4), 1);
	assert_int_equal(qstore_tempfail(f->qs, e.id, fwd, "451 again"),
	    QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	/* A jump of more than the lifetime ages it past expiry. */
	assert_int_equal(qstore_take_due(f->qs, t + LIFETIME, due, 4), 1);
	assert_int_equal(qstore_tempfail(f->qs, e.id, t + LIFETIME, "451"),
	    QSTORE_EXPIRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clock_back_an_hour,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_back_within_retry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_back_mixed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_forward_a_day,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

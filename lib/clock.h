/*
 * The two clocks, and which to use for what.
 *
 * monotime(): CLOCK_MONOTONIC, seconds.  Every duration (timeouts,
 * back-off intervals, how long a worker has run, cache ages) is measured
 * on it, so that setting the wall clock back or forward neither stretches
 * nor cuts one short.  libevent's timers run on the same clock.
 *
 * walltime(): the wall clock.  Only for what must mean the same after a
 * restart or to someone else: the queue's stored schedule (an envelope's
 * creation, next try and expiry), message ids, header dates, report
 * periods.  A jump of the wall clock moves those with it; the queue store
 * guards against what a jump back would do to its schedule
 * (queue/store.c, take_due()).
 */
#ifndef POSTERN_CLOCK_H
#define POSTERN_CLOCK_H

#include <stdint.h>
#include <time.h>

time_t	monotime(void);
int64_t	monotime_ms(void);
time_t	walltime(void);

/*
 * TEST ONLY: POSTERN_TEST_CLOCK_SHIFT, honoured in debug runs alone
 * (posternd/proc.c): seconds added to walltime(), to show what a clock
 * set back or forward does to the queue.
 */
#define CLOCK_TEST_SHIFT_ENV	"POSTERN_TEST_CLOCK_SHIFT"
#define CLOCK_TEST_SHIFT_MAX	(90 * 86400)
void	clock_test_shift(time_t);

#endif

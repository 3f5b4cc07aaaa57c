/*
 * The monotonic clock for durations, the wall clock for schedules: see
 * lib/clock.h for which is which.
 */
#include <time.h>

#include "clock.h"
#include "log.h"

static time_t	clock_shift;	/* TEST ONLY, 0 outside debug runs */

time_t
monotime(void)
{
	struct timespec	 ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ts.tv_sec;
}

int64_t
monotime_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t
walltime(void)
{
	return time(NULL) + clock_shift;
}

void
clock_test_shift(time_t secs)
{
	clock_shift = secs;
}

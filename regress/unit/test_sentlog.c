/*
 * reportd/sentlog.c: the sent-report log.  A domain's reports end where
 * the last one began ended (case-folded, per kind), pending reports are
 * listed oldest first until they are done, and all of it survives a
 * reopen (what a restart after kill -9 finds); suppressed destinations
 * (case-folded, until a time, listed, removed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reportd/sentlog.h"
#include "util.h"

struct got {
	struct sentlog_pending	 p[8];
	size_t			 n;
};

static int
collect(void *arg, const struct sentlog_pending *p)
{
	struct got	*g = arg;

	if (g->n < 8)
		g->p[g->n++] = *p;
	return 0;
}

static int
count_supp(void *arg, const char *addr, time_t until)
{
	assert_true(strchr(addr, '@') != NULL);
	assert_true(until > 0);
	return 0;
}

static void
test_log(void **state)
{
	char		 dir[64], path[128], err[256], lock[140];
	struct sentlog	*sl;
	struct got	 g;
	time_t		 until;

	snprintf(dir, sizeof(dir), "/tmp/test_sentlog.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sent.mdb", dir);
	snprintf(lock, sizeof(lock), "%s-lock", path);
	sl = sentlog_open(path, err, sizeof(err));
	assert_non_null(sl);

	assert_int_equal(sentlog_until(sl, "dmarc", "a.test", &until), 0);
	assert_int_equal(until, 0);
	assert_int_equal(sentlog_begin(sl, "dmarc", "A.Test", 100, 200), 0);
	assert_int_equal(sentlog_begin(sl, "dmarc", "b.test", 50, 150), 0);
	assert_int_equal(sentlog_begin(sl, "tls", "a.test", 0, 999), 0);
	assert_int_equal(sentlog_until(sl, "dmarc", "a.test", &until), 0);
	assert_int_equal(until, 200);
	assert_int_equal(sentlog_until(sl, "tls", "a.test", &until), 0);
	assert_int_equal(until, 999);

	memset(&g, 0, sizeof(g));
	assert_int_equal(sentlog_foreach_pending(sl, collect, &g), 3);
	assert_string_equal(g.p[0].kind, "tls");
	assert_int_equal(g.p[1].begin, 50);
	assert_string_equal(g.p[1].domain, "b.test");
	assert_int_equal(g.p[1].end, 150);
	assert_string_equal(g.p[2].domain, "a.test");

	assert_int_equal(sentlog_done(sl, "dmarc", "b.test", 50), 0);
	/* done twice is fine */
	assert_int_equal(sentlog_done(sl, "dmarc", "b.test", 50), 0);
	sentlog_close(sl);

	/* a restart finds what was committed */
	sl = sentlog_open(path, err, sizeof(err));
	assert_non_null(sl);
	memset(&g, 0, sizeof(g));
	assert_int_equal(sentlog_foreach_pending(sl, collect, &g), 2);
	assert_string_equal(g.p[1].domain, "a.test");
	assert_int_equal(g.p[1].begin, 100);
	assert_int_equal(sentlog_until(sl, "dmarc", "b.test", &until), 0);
	assert_int_equal(until, 150);
	/* bounds */
	assert_int_equal(sentlog_begin(sl, "", "a.test", 0, 1), -1);
	{
		char	 longd[300];

		memset(longd, 'a', sizeof(longd) - 1);
		longd[sizeof(longd) - 1] = '\0';
		assert_int_equal(sentlog_begin(sl, "dmarc", longd, 0, 1), -1);
	}

	/* suppressions: by address, without case, until a time */
	{
		time_t	 u;

		assert_int_equal(sentlog_suppressed(sl, "r@x.test", 100, &u),
		    0);
		assert_int_equal(sentlog_suppress(sl, "R@X.test", 500), 0);
		assert_int_equal(sentlog_suppressed(sl, "r@x.test", 100, &u),
		    1);
		assert_int_equal(u, 500);
		assert_int_equal(sentlog_suppressed(sl, "r@x.test", 500, &u),
		    0);
		assert_int_equal(sentlog_suppress(sl, "a@y.test", 900), 0);
		assert_int_equal(sentlog_foreach_suppressed(sl, count_supp,
		    &u), 2);
		/* pending reports are not disturbed by them */
		memset(&g, 0, sizeof(g));
		assert_int_equal(sentlog_foreach_pending(sl, collect, &g), 2);
		assert_int_equal(sentlog_unsuppress(sl, "r@x.TEST"), 1);
		assert_int_equal(sentlog_unsuppress(sl, "r@x.test"), 0);
		assert_int_equal(sentlog_foreach_suppressed(sl, count_supp,
		    &u), 1);
	}
	sentlog_close(sl);
	unlink(path);
	unlink(lock);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

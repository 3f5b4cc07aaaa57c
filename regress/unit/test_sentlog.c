/*
 * reportd/sentlog.c: the sent-report log.  A domain's reports end where
 * the last one began ended (case-folded, per kind), pending reports are
 * listed oldest first until they are done, and all of it survives a
 * reopen (what a restart after kill -9 finds); suppressed destinations
 * (case-folded, until a time, listed, removed); the state of each
 * destination of a report (TLS-RPT https: URIs, long ones too); pruning
 * takes what is older than a time and leaves the rest.
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

static struct sentlog *
open_tmp(char *dir, size_t dirlen)
{
	char		 path[128], err[256];
	struct sentlog	*sl;

	snprintf(dir, dirlen, "/tmp/test_sentlog.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sent.mdb", dir);
	sl = sentlog_open(path, err, sizeof(err));
	assert_non_null(sl);
	return sl;
}

static void
close_tmp(struct sentlog *sl, const char *dir)
{
	char	 path[160];

	sentlog_close(sl);
	snprintf(path, sizeof(path), "%s/sent.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sent.mdb-lock", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_dest(void **state)
{
	char			 dir[64], longuri[SENTLOG_URI_MAX + 2];
	struct sentlog		*sl = open_tmp(dir, sizeof(dir));
	struct sentlog_dest	 d;

	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100,
	    "https://r.test/x", &d), 0);
	assert_int_equal(d.state, SENTLOG_DEST_FAILING);
	assert_int_equal(d.attempts, 0);
	d.attempts = 2;
	d.nohost = 1;
	d.next_try = 4242;
	assert_int_equal(sentlog_dest_put(sl, "tls", "A.test", 100,
	    "https://r.test/x", &d), 0);
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100,
	    "https://r.test/x", &d), 1);
	assert_int_equal(d.state, SENTLOG_DEST_FAILING);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(d.nohost, 1);
	assert_int_equal(d.next_try, 4242);
	/* another report, another URI: their own */
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 200,
	    "https://r.test/x", &d), 0);
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100,
	    "https://r.test/y", &d), 0);
	d.state = SENTLOG_DEST_DONE;
	assert_int_equal(sentlog_dest_put(sl, "tls", "a.test", 100,
	    SENTLOG_DEST_MAIL, &d), 0);
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100,
	    SENTLOG_DEST_MAIL, &d), 1);
	assert_int_equal(d.state, SENTLOG_DEST_DONE);
	/* a URI as long as allowed fits (hashed); longer does not */
	memset(longuri, 'u', SENTLOG_URI_MAX);
	longuri[SENTLOG_URI_MAX] = '\0';
	d.state = SENTLOG_DEST_DROPPED;
	assert_int_equal(sentlog_dest_put(sl, "tls", "a.test", 100, longuri,
	    &d), 0);
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100, longuri,
	    &d), 1);
	assert_int_equal(d.state, SENTLOG_DEST_DROPPED);
	longuri[SENTLOG_URI_MAX - 1] = 'v';
	assert_int_equal(sentlog_dest_get(sl, "tls", "a.test", 100, longuri,
	    &d), 0);
	longuri[SENTLOG_URI_MAX] = 'u';
	longuri[SENTLOG_URI_MAX + 1] = '\0';
	assert_int_equal(sentlog_dest_put(sl, "tls", "a.test", 100, longuri,
	    &d), -1);
	close_tmp(sl, dir);
}

static void
test_prune(void **state)
{
	char			 dir[64];
	struct sentlog		*sl = open_tmp(dir, sizeof(dir));
	struct sentlog_dest	 d;
	struct got		 g;
	time_t			 until;

	/* old: ended at 1000; recent: ended at 9000; prune before 5000 */
	assert_int_equal(sentlog_begin(sl, "dmarc", "old.test", 0, 1000), 0);
	assert_int_equal(sentlog_begin(sl, "dmarc", "new.test", 8000, 9000),
	    0);
	assert_int_equal(sentlog_begin(sl, "tls", "old.test", 500, 1000), 0);
	assert_int_equal(sentlog_done(sl, "tls", "old.test", 500), 0);
	assert_int_equal(sentlog_suppress(sl, "a@old.test", 1000), 0);
	assert_int_equal(sentlog_suppress(sl, "a@new.test", 9000), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(sentlog_dest_put(sl, "tls", "old.test", 500,
	    "https://o.test/", &d), 0);
	assert_int_equal(sentlog_dest_put(sl, "tls", "new.test", 8000,
	    "https://n.test/", &d), 0);

	/* U old dmarc + U old tls + P old + S old + D old */
	assert_int_equal(sentlog_prune(sl, 5000), 5);
	assert_int_equal(sentlog_until(sl, "dmarc", "old.test", &until), 0);
	assert_int_equal(until, 0);
	assert_int_equal(sentlog_until(sl, "tls", "old.test", &until), 0);
	assert_int_equal(until, 0);
	assert_int_equal(sentlog_until(sl, "dmarc", "new.test", &until), 0);
	assert_int_equal(until, 9000);
	memset(&g, 0, sizeof(g));
	assert_int_equal(sentlog_foreach_pending(sl, collect, &g), 1);
	assert_string_equal(g.p[0].domain, "new.test");
	assert_int_equal(sentlog_suppressed(sl, "a@old.test", 0, &until), 0);
	assert_int_equal(sentlog_suppressed(sl, "a@new.test", 0, &until), 1);
	assert_int_equal(sentlog_dest_get(sl, "tls", "old.test", 500,
	    "https://o.test/", &d), 0);
	assert_int_equal(sentlog_dest_get(sl, "tls", "new.test", 8000,
	    "https://n.test/", &d), 1);
	/* again: nothing more */
	assert_int_equal(sentlog_prune(sl, 5000), 0);
	close_tmp(sl, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_dest),
		cmocka_unit_test(test_prune),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

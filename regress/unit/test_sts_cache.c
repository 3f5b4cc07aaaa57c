/*
 * mta/sts_cache.c: MTA-STS policies kept across restarts (RFC 8461 5.1),
 * by domain without regard to case, refreshed under a new id, purged one
 * by one or all, and never a policy that does not parse.
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

#include "util.h"
#include "mta/sts_cache.h"
#include "regress/unit/lmdbdir.h"

#define ENFORCE	"version: STSv1\nmode: enforce\nmx: mx.example.org\n" \
		"max_age: 86400\n"
#define TESTING	"version: STSv1\nmode: testing\nmx: *.example.net\n" \
		"max_age: 604800\n"

struct fixture {
	char			 dir[64];
	struct sts_cache	*c;
};

static void
reopen(struct fixture *f)
{
	char	 err[256];

	sts_cache_close(f->c);
	if ((f->c = sts_cache_open(f->dir, err, sizeof(err))) == NULL)
		fail_msg("sts_cache_open: %s", err);
}

static int
setup(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof(*f));

	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_sts_cache") == -1)
		return -1;
	reopen(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	sts_cache_close(f->c);
	lmdbdir_remove(f->dir);
	free(f);
	return 0;
}

static int
put(struct fixture *f, const char *dom, const char *id, time_t t,
    const char *text)
{
	char	 err[256];

	return sts_cache_put(f->c, dom, id, t, text, strlen(text), err,
	    sizeof(err));
}

static void
test_put_get_survives_restart(void **state)
{
	struct fixture		*f = *state;
	struct sts_cached	*e = malloc(sizeof(*e));

	assert_int_equal(sts_cache_get(f->c, "example.org", e), 0);
	assert_int_equal(put(f, "Example.ORG", "id1", 1000, ENFORCE), 0);
	reopen(f);
	assert_int_equal(sts_cache_get(f->c, "example.org", e), 1);
	assert_string_equal(e->domain, "example.org");
	assert_string_equal(e->id, "id1");
	assert_int_equal(e->fetched, 1000);
	assert_int_equal(e->expires, 1000 + 86400);
	assert_int_equal(e->policy.mode, STS_MODE_ENFORCE);
	assert_true(sts_policy_match(&e->policy, "MX.example.org"));
	/* a refresh under a new id replaces it */
	assert_int_equal(put(f, "example.org", "id2", 5000, TESTING), 0);
	assert_int_equal(sts_cache_get(f->c, "EXAMPLE.org", e), 1);
	assert_string_equal(e->id, "id2");
	assert_int_equal(e->policy.mode, STS_MODE_TESTING);
	assert_int_equal(e->expires, 5000 + 604800);
	free(e);
}

static void
test_refuses_bad_input(void **state)
{
	struct fixture		*f = *state;
	struct sts_cached	*e = malloc(sizeof(*e));
	char			 dom[300];

	assert_int_equal(put(f, "bad.example", "id", 1, "version: STSv1\n"),
	    -1);
	assert_int_equal(sts_cache_get(f->c, "bad.example", e), 0);
	assert_int_equal(put(f, "bad.example", "", 1, ENFORCE), -1);
	assert_int_equal(put(f, "bad.example",
	    "123456789012345678901234567890123", 1, ENFORCE), -1);
	memset(dom, 'a', sizeof(dom) - 1);
	dom[sizeof(dom) - 1] = '\0';
	assert_int_equal(put(f, dom, "id", 1, ENFORCE), -1);
	assert_int_equal(sts_cache_get(f->c, dom, e), 0);
	assert_int_equal(put(f, "", "id", 1, ENFORCE), -1);
	free(e);
}

static int
collect(const struct sts_cached *e, void *arg)
{
	char	*out = arg;

	strlcat(out, e->domain, 256);
	strlcat(out, " ", 256);
	return 0;
}

static void
test_delete_and_walk(void **state)
{
	struct fixture	*f = *state;
	char		 seen[256] = "";

	assert_int_equal(put(f, "b.example", "1", 1, ENFORCE), 0);
	assert_int_equal(put(f, "a.example", "1", 1, TESTING), 0);
	assert_int_equal(put(f, "c.example", "1", 1, ENFORCE), 0);
	assert_int_equal(sts_cache_walk(f->c, collect, seen), 0);
	assert_string_equal(seen, "a.example b.example c.example ");
	assert_int_equal(sts_cache_delete(f->c, "B.example"), 1);
	assert_int_equal(sts_cache_delete(f->c, "b.example"), 0);
	seen[0] = '\0';
	sts_cache_walk(f->c, collect, seen);
	assert_string_equal(seen, "a.example c.example ");
	assert_int_equal(sts_cache_delete(f->c, NULL), 2);
	seen[0] = '\0';
	sts_cache_walk(f->c, collect, seen);
	assert_string_equal(seen, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_survives_restart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_input, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_walk, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

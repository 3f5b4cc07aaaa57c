/*
 * authd/crypt_helper.c: checks answered by the helper process, in order,
 * through authd's event loop; a match, a mismatch, a hash crypt(3)
 * cannot read, and the bound on checks under way.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <event.h>
#include <cmocka.h>

#include "authd/crypt_helper.h"

static uint32_t			 got_id[128];
static enum crypt_helper_result	 got_res[128];
static int			 ngot;

static void
done(void *arg, uint32_t id, enum crypt_helper_result res)
{
	assert_ptr_equal(arg, &ngot);
	assert_true(ngot < 128);
	got_id[ngot] = id;
	got_res[ngot] = res;
	ngot++;
}

static void
wait_for(int n)
{
	while (ngot < n)
		event_loop(EVLOOP_ONCE);
}

static void
test_checks(void **state)
{
	struct crypt_helper	*h;
	struct crypt_data	 cd;
	char			 hash[CRYPT_OUTPUT_SIZE];
	int			 i;

	event_init();
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_rn("right", "$6$saltsalt$", &cd, sizeof(cd)));
	strlcpy(hash, cd.output, sizeof(hash));
	h = crypt_helper_start(done, &ngot);
	assert_non_null(h);
	assert_int_equal(crypt_helper_check(h, 7, "right", hash), 0);
	assert_int_equal(crypt_helper_check(h, 8, "wrong", hash), 0);
	assert_int_equal(crypt_helper_check(h, 9, "right", "not a hash"), 0);
	wait_for(3);
	assert_int_equal(got_id[0], 7);
	assert_int_equal(got_res[0], CRYPT_MATCH);
	assert_int_equal(got_id[1], 8);
	assert_int_equal(got_res[1], CRYPT_NOMATCH);
	assert_int_equal(got_id[2], 9);
	assert_int_equal(got_res[2], CRYPT_BAD_HASH);

	/* at most CRYPT_HELPER_INFLIGHT under way */
	ngot = 0;
	for (i = 0; i < CRYPT_HELPER_INFLIGHT; i++)
		assert_int_equal(crypt_helper_check(h, i, "x", "*"), 0);
	assert_int_equal(crypt_helper_check(h, 99, "x", "*"), -1);
	wait_for(CRYPT_HELPER_INFLIGHT);
	for (i = 0; i < CRYPT_HELPER_INFLIGHT; i++) {
		assert_int_equal(got_id[i], i);
		assert_int_equal(got_res[i], CRYPT_BAD_HASH);
	}
	/* room again */
	assert_int_equal(crypt_helper_check(h, 100, "right", hash), 0);
	wait_for(CRYPT_HELPER_INFLIGHT + 1);
	assert_int_equal(got_res[CRYPT_HELPER_INFLIGHT], CRYPT_MATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

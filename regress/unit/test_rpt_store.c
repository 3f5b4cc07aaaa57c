/*
 * reportd/rpt_store.c: received reports kept in the evaluation store's
 * environment: both printed forms, the kind filter, arrival order across a
 * reopen, pruning by age and the bound on their number.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reportd/evalstore.h"
#include "reportd/rpt.h"
#include "reportd/rpt_store.h"
#include "regress/unit/lmdbdir.h"

struct fixture {
	char			 dir[64];
	struct evalstore	*es;
	struct rpt_store	*rs;
};

static void
open_all(struct fixture *f)
{
	char	 err[256];

	if ((f->es = evalstore_open(f->dir, 0, err, sizeof(err))) == NULL)
		fail_msg("evalstore_open: %s", err);
	if ((f->rs = rpt_store_open(f->es, err, sizeof(err))) == NULL)
		fail_msg("rpt_store_open: %s", err);
}

static void
close_all(struct fixture *f)
{
	rpt_store_close(f->rs);
	evalstore_close(f->es);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_rpt_store") == -1)
		return -1;
	open_all(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	close_all(f);
	lmdbdir_remove(f->dir);
	free(f);
	return 0;
}

static int
collect(void *arg, const char *text, size_t len)
{
	return buf_add(arg, text, len);
}

static struct rpt
arf(const char *type, const char *domain)
{
	struct rpt	 r;

	memset(&r, 0, sizeof(r));
	r.kind = RPT_ARF;
	strlcpy(r.arf.feedback_type, type, sizeof(r.arf.feedback_type));
	strlcpy(r.arf.source_ip, "192.0.2.1", sizeof(r.arf.source_ip));
	strlcpy(r.arf.reported_domain, domain,
	    sizeof(r.arf.reported_domain));
	return r;
}

static void
test_put_list(void **state)
{
	struct fixture		*f = *state;
	struct rpt_dmarc_row	 row = { "192.0.2.7", 3, "none", "pass",
				    "fail" };
	struct rpt		 d, a = arf("abuse", "a.example");
	struct rpt_store_stats	 st;
	struct buf		 b;

	memset(&d, 0, sizeof(d));
	d.kind = RPT_DMARC;
	strlcpy(d.dmarc.org, "Org", sizeof(d.dmarc.org));
	strlcpy(d.dmarc.report_id, "id1", sizeof(d.dmarc.report_id));
	strlcpy(d.dmarc.domain, "example.org", sizeof(d.dmarc.domain));
	d.dmarc.begin = 1;
	d.dmarc.end = 2;
	d.dmarc.nrows = 1;
	d.dmarc.rows = &row;
	assert_int_equal(rpt_store_put(f->rs, 1000, &d), 0);
	/* the same report again (organisation and id): kept once */
	assert_int_equal(rpt_store_put(f->rs, 1000, &d), 1);
	assert_int_equal(rpt_store_put(f->rs, 1005, &d), 1);
	assert_int_equal(rpt_store_put(f->rs, 1001, &a), 0);
	/* ARF reports have no id: each is kept */
	buf_init(&b, 1 << 20);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_NONE, 1, collect, &b),
	    2);
	assert_string_equal(buf_cstr(&b), "{\"type\":\"dmarc\",\"org\":\"Org\","
	    "\"report_id\":\"id1\",\"domain\":\"example.org\",\"begin\":1,"
	    "\"end\":2,\"rows\":[{\"source_ip\":\"192.0.2.7\",\"count\":3,"
	    "\"disposition\":\"none\",\"dkim\":\"pass\",\"spf\":\"fail\"}]}\n"
	    "{\"type\":\"arf\",\"feedback_type\":\"abuse\",\"source_ip\":"
	    "\"192.0.2.1\",\"reported_domain\":\"a.example\"}\n");
	buf_reset(&b);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_ARF, 0, collect, &b),
	    1);
	assert_string_equal(buf_cstr(&b),
	    "arf abuse source 192.0.2.1 domain a.example\n");
	buf_reset(&b);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_TLS, 0, collect, &b),
	    0);
	/* reopened: still there, and new ones come after them */
	close_all(f);
	open_all(f);
	a = arf("fraud", "b.example");
	assert_int_equal(rpt_store_put(f->rs, 999, &a), 0);
	buf_reset(&b);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_ARF, 0, collect, &b),
	    2);
	/* keyed by time: the one received "earlier" sorts first */
	assert_non_null(strstr(buf_cstr(&b), "fraud"));
	assert_true(strstr(buf_cstr(&b), "fraud") <
	    strstr(buf_cstr(&b), "abuse"));
	/* the id outlives a reopen */
	assert_int_equal(rpt_store_put(f->rs, 1006, &d), 1);
	/* pruning by age, the ids with the reports */
	assert_int_equal(rpt_store_prune(f->rs, 1001), 2);
	buf_reset(&b);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_NONE, 0, collect, &b),
	    1);
	assert_non_null(strstr(buf_cstr(&b), "abuse"));
	assert_int_equal(rpt_store_prune(f->rs, 0), 0);
	rpt_store_stats(f->rs, &st);
	assert_int_equal(st.stored, 1);
	assert_int_equal(st.pruned, 2);
	assert_int_equal(st.duplicates, 1);
	/* pruned, the same report is new again */
	assert_int_equal(rpt_store_put(f->rs, 3000, &d), 0);
	buf_free(&b);
}

static void
test_bound(void **state)
{
	struct fixture		*f = *state;
	struct rpt		 a;
	struct rpt_store_stats	 st;
	struct buf		 b;
	char			 dom[64];
	int			 i;

	for (i = 0; i < RPT_STORE_MAX + 5; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		a = arf("abuse", dom);
		assert_int_equal(rpt_store_put(f->rs, 2000 + i, &a), 0);
	}
	buf_init(&b, 16 << 20);
	assert_int_equal(rpt_store_foreach(f->rs, RPT_NONE, 0, collect, &b),
	    RPT_STORE_MAX);
	/* the oldest went */
	assert_null(strstr(buf_cstr(&b), "domain d4.example\n"));
	assert_non_null(strstr(buf_cstr(&b), "domain d5.example\n"));
	rpt_store_stats(f->rs, &st);
	assert_int_equal(st.dropped, 5);
	buf_free(&b);
}

/*
 * The octets of all reports are bounded too, so that what others send
 * cannot fill the map the evaluations live in; the total survives a
 * reopening.
 */
static void
test_bytes(void **state)
{
	struct fixture		*f = *state;
	struct rpt		 a;
	struct rpt_store_stats	 st;
	struct buf		 b;
	char			 dom[64];
	int			 i;

	/* each ARF value is a few hundred octets: room for about ten */
	rpt_store_set_limits(f->rs, RPT_STORE_MAX, 4096);
	for (i = 0; i < 40; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		a = arf("abuse", dom);
		assert_int_equal(rpt_store_put(f->rs, 2000 + i, &a), 0);
	}
	buf_init(&b, 1 << 20);
	i = rpt_store_foreach(f->rs, RPT_NONE, 1, collect, &b);
	assert_true(i > 2 && i < 40);
	assert_true(b.len <= 4096);
	/* the newest stayed, the oldest went */
	assert_non_null(strstr(buf_cstr(&b), "\"d39.example\""));
	assert_null(strstr(buf_cstr(&b), "\"d0.example\""));
	rpt_store_stats(f->rs, &st);
	assert_int_equal(st.dropped, 40 - i);
	/* reopened: the total is counted again, the limit still holds */
	close_all(f);
	open_all(f);
	rpt_store_set_limits(f->rs, RPT_STORE_MAX, 4096);
	a = arf("abuse", "d40.example");
	assert_int_equal(rpt_store_put(f->rs, 3000, &a), 0);
	buf_reset(&b);
	assert_true(rpt_store_foreach(f->rs, RPT_NONE, 1, collect, &b) <= i);
	assert_true(b.len <= 4096);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

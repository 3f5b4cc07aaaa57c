/*
 * reportd/evalstore.c: the DMARC evaluation store.  Round trip of a full
 * record, batching (nothing committed until a full batch or a flush, one
 * commit per batch), iteration by domain and time range (contiguous,
 * time-ordered, "a.test" apart from "a.test.example"), case folding,
 * persistence across a reopen, pruning by age, corrupt values and keys
 * skipped, the listing line, a full spool (a bounded backlog, stored
 * when there is room), and the failure-report rate counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "reportd/evalstore.h"
#include "util.h"
#include "regress/unit/lmdbdir.h"

struct fixture {
	char			 dir[64];
	struct evalstore	*es;
};

static void
reopen(struct fixture *f)
{
	char	 err[256];

	if (f->es != NULL)
		evalstore_close(f->es);
	f->es = evalstore_open(f->dir, 0, err, sizeof(err));
	if (f->es == NULL)
		fail_msg("evalstore_open: %s", err);
}

static int
setup(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof(*f));

	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_evalstore") == -1)
		return -1;
	reopen(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	evalstore_close(f->es);
	lmdbdir_remove(f->dir);
	free(f);
	return 0;
}

static void
mkrec(struct dmarc_eval_record *r, const char *domain, time_t when,
    const char *ip)
{
	memset(r, 0, sizeof(*r));
	r->when = when;
	r->result = DMARC_RESULT_PASS;
	strlcpy(r->source_ip, ip, sizeof(r->source_ip));
	r->count = 1;
	r->disposition = DMARC_DISP_NONE;
	strlcpy(r->header_from, domain, sizeof(r->header_from));
	strlcpy(r->envelope_from, domain, sizeof(r->envelope_from));
	r->have_spf = 1;
	strlcpy(r->spf_domain, domain, sizeof(r->spf_domain));
	r->spf_result = SPF_PASS;
	r->spf_aligned_pass = 1;
	r->have_policy = 1;
	strlcpy(r->policy_domain, domain, sizeof(r->policy_domain));
	r->p = DMARC_POLICY_REJECT;
	r->psd = 'u';
	r->adkim = 'r';
	r->aspf = 'r';
	r->fo = DMARC_FO_0;
	r->discovery_treewalk = 1;
}

struct seen {
	int		 n;
	time_t		 when[512];
	char		 dom[512][64];
	char		 ip[512][64];
	int		 stop_after;
};

static int
seen_cb(void *arg, const struct dmarc_eval_record *r)
{
	struct seen	*s = arg;

	if (s->n < 512) {
		s->when[s->n] = r->when;
		strlcpy(s->dom[s->n], r->header_from, sizeof(s->dom[0]));
		strlcpy(s->ip[s->n], r->source_ip, sizeof(s->ip[0]));
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void
test_roundtrip(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r, *back;
	struct seen			 s;

	mkrec(&r, "good.test", 1700000000, "192.0.2.1");
	r.result = DMARC_RESULT_FAIL;
	r.disposition = DMARC_DISP_REJECT;
	r.ndkim = 2;
	strlcpy(r.dkim[0].domain, "good.test", sizeof(r.dkim[0].domain));
	strlcpy(r.dkim[0].selector, "s1", sizeof(r.dkim[0].selector));
	r.dkim[0].result = DKIM_FAIL;
	strlcpy(r.dkim[1].domain, "other.test", sizeof(r.dkim[1].domain));
	strlcpy(r.dkim[1].selector, "s2", sizeof(r.dkim[1].selector));
	r.dkim[1].result = DKIM_PASS;
	assert_int_equal(dmarc_eval_add_reason(&r,
	    DMARC_OVERRIDE_LOCAL_POLICY, "allow list"), 0);
	assert_int_equal(evalstore_put(f->es, &r), 0);
	assert_int_equal(evalstore_flush(f->es), 0);

	/* The whole record comes back, through a reopen. */
	reopen(f);
	back = xcalloc(1, sizeof(*back));
	memset(&s, 0, sizeof(s));
	assert_int_equal(evalstore_foreach(f->es, "good.test", 0, 0, seen_cb,
	    &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.when[0], 1700000000);
	assert_string_equal(s.ip[0], "192.0.2.1");
	free(back);
}

static int
copy_cb(void *arg, const struct dmarc_eval_record *r)
{
	memcpy(arg, r, sizeof(*r));
	return 1;
}

static void
test_full_record(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	*r, *back;

	r = xcalloc(1, sizeof(*r));
	back = xcalloc(1, sizeof(*back));
	mkrec(r, "full.test", 1700000100, "2001:db8::1");
	r->ndkim = DMARC_MAX_DKIM;
	for (size_t i = 0; i < DMARC_MAX_DKIM; i++) {
		memset(r->dkim[i].domain, 'd', DMARC_DOMAIN_MAX - 1);
		memset(r->dkim[i].selector, 's', 63);
		r->dkim[i].result = DKIM_PASS;
	}
	r->np = DMARC_POLICY_QUARANTINE;
	r->testing = 1;
	assert_int_equal(evalstore_put(f->es, r), 0);
	assert_int_equal(evalstore_flush(f->es), 0);
	assert_int_equal(evalstore_foreach(f->es, "full.test", 0, 0, copy_cb,
	    back), 1);
	assert_memory_equal(back, r, sizeof(*r));
	free(r);
	free(back);
}

static void
test_batching(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r;
	struct evalstore_stats		 st;
	int				 i;

	for (i = 0; i < 5; i++) {
		mkrec(&r, "batch.test", 1700000000 + i, "192.0.2.2");
		assert_int_equal(evalstore_put(f->es, &r), 0);
	}
	/* Buffered: nothing is committed yet. */
	assert_int_equal(evalstore_pending(f->es), 5);
	assert_int_equal(evalstore_count(f->es, NULL), 0);
	evalstore_get_stats(f->es, &st);
	assert_int_equal(st.commits, 0);
	/* One commit for the whole batch. */
	assert_int_equal(evalstore_flush(f->es), 0);
	assert_int_equal(evalstore_pending(f->es), 0);
	assert_int_equal(evalstore_count(f->es, NULL), 5);
	evalstore_get_stats(f->es, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.stored, 5);

	/* A full batch commits by itself: 250 records, 2 more commits. */
	for (i = 0; i < 250; i++) {
		mkrec(&r, "batch.test", 1700001000 + i, "192.0.2.3");
		assert_int_equal(evalstore_put(f->es, &r), 0);
	}
	evalstore_get_stats(f->es, &st);
	assert_int_equal(st.commits, 3);
	assert_int_equal(evalstore_pending(f->es), 50);
	assert_int_equal(evalstore_count(f->es, "batch.test"), 205);
	/* close commits what is left */
	reopen(f);
	assert_int_equal(evalstore_count(f->es, "batch.test"), 255);
}

static void
test_iterate(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r;
	struct seen			 s;
	int				 i;

	/* Interleaved arrival, out of time order. */
	for (i = 9; i >= 0; i--) {
		mkrec(&r, "a.test", 1000 + i * 10, "192.0.2.10");
		assert_int_equal(evalstore_put(f->es, &r), 0);
		mkrec(&r, "a.test.example", 1000 + i * 10, "192.0.2.11");
		assert_int_equal(evalstore_put(f->es, &r), 0);
		mkrec(&r, "B.TEST", 1000 + i, "192.0.2.12");
		assert_int_equal(evalstore_put(f->es, &r), 0);
	}
	/* Same second twice: both are kept. */
	mkrec(&r, "a.test", 1000, "192.0.2.13");
	assert_int_equal(evalstore_put(f->es, &r), 0);
	assert_int_equal(evalstore_flush(f->es), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(evalstore_foreach(f->es, "a.test", 0, 0, seen_cb,
	    &s), 11);
	for (i = 0; i < s.n; i++) {
		assert_string_equal(s.dom[i], "a.test");
		if (i > 0)
			assert_true(s.when[i] >= s.when[i - 1]);
	}
	assert_int_equal(s.when[0], 1000);
	assert_int_equal(s.when[1], 1000);

	/* Time range [1020, 1050): 1020, 1030, 1040. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(evalstore_foreach(f->es, "a.test", 1020, 1050,
	    seen_cb, &s), 3);
	assert_int_equal(s.when[0], 1020);
	assert_int_equal(s.when[2], 1040);

	/* The domain is matched without regard to case. */
	assert_int_equal(evalstore_count(f->es, "b.test"), 10);
	assert_int_equal(evalstore_count(f->es, "B.Test"), 10);
	assert_int_equal(evalstore_count(f->es, "a.test.example"), 10);
	assert_int_equal(evalstore_count(f->es, "test"), 0);
	assert_int_equal(evalstore_count(f->es, "nothing.test"), 0);
	assert_int_equal(evalstore_count(f->es, NULL), 31);
	assert_int_equal(evalstore_count(f->es, ""), 31);

	/* All domains, with a time range. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(evalstore_foreach(f->es, NULL, 1000, 1005, seen_cb,
	    &s), 2 + 1 + 5);

	/* The callback stops the walk. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 4;
	assert_int_equal(evalstore_foreach(f->es, NULL, 0, 0, seen_cb, &s),
	    4);
}

static void
test_prune(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r;
	struct seen			 s;
	int				 i;

	for (i = 0; i < 40; i++) {
		mkrec(&r, i % 2 ? "odd.test" : "even.test", 5000 + i,
		    "192.0.2.20");
		assert_int_equal(evalstore_put(f->es, &r), 0);
	}
	assert_int_equal(evalstore_flush(f->es), 0);
	/* Nothing older than 1000. */
	assert_int_equal(evalstore_prune(f->es, 1000), 0);
	/* Adjacent records go together: 5000..5019 */
	assert_int_equal(evalstore_prune(f->es, 5020), 20);
	assert_int_equal(evalstore_count(f->es, NULL), 20);
	memset(&s, 0, sizeof(s));
	evalstore_foreach(f->es, NULL, 0, 0, seen_cb, &s);
	for (i = 0; i < s.n; i++)
		assert_true(s.when[i] >= 5020);
	/* Everything. */
	assert_int_equal(evalstore_prune(f->es, 100000), 20);
	assert_int_equal(evalstore_count(f->es, NULL), 0);
	assert_int_equal(evalstore_prune(f->es, 100000), 0);
}

/* Write raw key/value pairs behind the store's back. */
static void
raw_put(const char *dir, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "eval", 0, &dbi), 0);
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
test_corrupt(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r;
	struct evalstore_stats		 st;
	struct buf			 b;
	struct seen			 s;
	uint8_t				 key[64];
	size_t				 n;

	mkrec(&r, "c.test", 2000, "192.0.2.30");
	assert_int_equal(evalstore_put(f->es, &r), 0);
	mkrec(&r, "c.test", 2002, "192.0.2.31");
	assert_int_equal(evalstore_put(f->es, &r), 0);
	evalstore_close(f->es);
	f->es = NULL;

	/* A value that is not an encoding, between the two good ones. */
	n = strlcpy((char *)key, "c.test", sizeof(key)) + 1;
	memset(key + n, 0, 16);
	key[n + 7] = 2001 & 0xff;
	key[n + 6] = 2001 >> 8;
	raw_put(f->dir, key, n + 16, "garbage", 7);
	/* A truncated encoding of a real record. */
	buf_init(&b, 65536);
	assert_int_equal(dmarc_eval_encode(&r, &b), 0);
	key[n + 15] = 1;
	raw_put(f->dir, key, n + 16, b.data, b.len / 2);
	/* A key of the wrong shape. */
	raw_put(f->dir, "c.test", 6, b.data, b.len);
	buf_free(&b);

	reopen(f);
	memset(&s, 0, sizeof(s));
	assert_int_equal(evalstore_foreach(f->es, "c.test", 0, 0, seen_cb,
	    &s), 2);
	assert_string_equal(s.ip[0], "192.0.2.30");
	assert_string_equal(s.ip[1], "192.0.2.31");
	assert_int_equal(evalstore_count(f->es, NULL), 2);
	evalstore_get_stats(f->es, &st);
	assert_true(st.corrupt >= 3);
	/* Garbage keys go with a prune; the good records stay. */
	assert_int_equal(evalstore_prune(f->es, 1000), 1);
	assert_int_equal(evalstore_count(f->es, "c.test"), 2);
}

static void
test_bad_record(void **state)
{
	struct fixture			*f = *state;
	struct dmarc_eval_record	 r;

	/* A record the encoder rejects is dropped, not stored. */
	mkrec(&r, "bad.test", 3000, "192.0.2.40");
	r.ndkim = DMARC_MAX_DKIM + 1;
	assert_int_equal(evalstore_put(f->es, &r), -1);
	assert_int_equal(evalstore_pending(f->es), 0);
	assert_int_equal(evalstore_flush(f->es), 0);
	assert_int_equal(evalstore_count(f->es, NULL), 0);
}

/* Write 4 KB pages to path until `pages` are written or it fails: -1. */
static int
fill_file(const char *path, int pages)
{
	char	 b[4096];
	int	 fd, i;

	memset(b, 'x', sizeof(b));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) == -1)
		return -1;
	for (i = 0; i < pages; i++)
		if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			break;
	close(fd);
	return i < pages ? -1 : 0;
}

static void
full_spool_cleanup(struct evalstore *es, const char *mnt, const char *dir,
    const char *filler)
{
	char	 path[128];

	evalstore_close(es);
	unlink(filler);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	if (umount(mnt) == -1)
		fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
	rmdir(mnt);
}

/*
 * The spool fills up: evaluations that cannot be committed are kept in
 * memory (a bounded backlog) and stored when there is room; past the
 * backlog they are counted as lost.  A real tmpfs, filled by another
 * file.
 */
static void
test_full_spool(void **state)
{
	struct evalstore		*es;
	struct dmarc_eval_record	 r;
	struct evalstore_stats		 st;
	char				 mnt[64], dir[80], filler[80], err[256];
	int				 i;

	strlcpy(mnt, "/tmp/test_evalstore_full.XXXXXX", sizeof(mnt));
	assert_non_null(mkdtemp(mnt));
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700") == -1) {
		rmdir(mnt);
		if (errno == EPERM)
			skip();
		fail_msg("mount tmpfs: %s", strerror(errno));
	}
	snprintf(dir, sizeof(dir), "%s/reports", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	assert_int_equal(mkdir(dir, 0700), 0);
	es = evalstore_open(dir, 0, err, sizeof(err));
	if (es == NULL) {
		full_spool_cleanup(NULL, mnt, dir, filler);
		fail_msg("evalstore_open: %s", err);
	}
	/* Another writer takes the whole filesystem. */
	assert_int_equal(fill_file(filler, 100000), -1);

	for (i = 0; i < EVALSTORE_BACKLOG_MAX; i++) {
		mkrec(&r, "full.test", 1700000000 + i, "192.0.2.9");
		assert_int_equal(evalstore_put(es, &r), 0);
	}
	assert_true(evalstore_full(es));
	assert_int_equal(evalstore_flush(es), -1);
	assert_int_equal(evalstore_pending(es), EVALSTORE_BACKLOG_MAX);
	/* Past the backlog: lost, and counted. */
	for (i = 0; i < 7; i++) {
		mkrec(&r, "full.test", 1700100000 + i, "192.0.2.9");
		assert_int_equal(evalstore_put(es, &r), -1);
	}
	evalstore_get_stats(es, &st);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(st.stored, 0);
	assert_int_equal(evalstore_count(es, NULL), 0);

	/* Room again: everything kept is stored, once. */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(evalstore_flush(es), 0);
	assert_false(evalstore_full(es));
	assert_int_equal(evalstore_pending(es), 0);
	assert_int_equal(evalstore_count(es, "full.test"),
	    EVALSTORE_BACKLOG_MAX);
	evalstore_get_stats(es, &st);
	assert_int_equal(st.held, EVALSTORE_BACKLOG_MAX);
	assert_int_equal(st.dropped, 7);
	/* And new ones go in as before. */
	mkrec(&r, "full.test", 1700200000, "192.0.2.9");
	assert_int_equal(evalstore_put(es, &r), 0);
	assert_int_equal(evalstore_flush(es), 0);
	assert_int_equal(evalstore_count(es, "full.test"),
	    EVALSTORE_BACKLOG_MAX + 1);
	full_spool_cleanup(es, mnt, dir, filler);
}

static void
test_format(void **state)
{
	struct dmarc_eval_record	 r;
	struct buf			 b;
	char				*s;

	mkrec(&r, "good.test", 0, "192.0.2.50");
	r.result = DMARC_RESULT_FAIL;
	r.disposition = DMARC_DISP_QUARANTINE;
	r.spf_aligned_pass = 0;
	r.ndkim = 1;
	strlcpy(r.dkim[0].domain, "good.test", sizeof(r.dkim[0].domain));
	strlcpy(r.dkim[0].selector, "sel", sizeof(r.dkim[0].selector));
	r.dkim[0].result = DKIM_FAIL;
	r.sp = DMARC_POLICY_NONE;
	dmarc_eval_add_reason(&r, DMARC_OVERRIDE_LOCAL_POLICY,
	    "a b\nc");
	buf_init(&b, 4096);
	assert_int_equal(evalstore_format(&r, &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, "1970-01-01T00:00:00Z ip=192.0.2.50 "
	    "from=good.test mfrom=good.test result=fail "
	    "disposition=quarantine spf=good.test:pass spf_aligned=no "
	    "dkim=good.test/sel:fail dkim_aligned=no policy=good.test "
	    "p=reject sp=none np=- adkim=r aspf=r t=n psd=u reasons="));
	/* One line, whatever the comment holds. */
	assert_non_null(strstr(s, "(a_b_c)\n"));
	assert_ptr_equal(strchr(s, '\n'), s + b.len - 1);

	buf_reset(&b);
	r.have_policy = 0;
	r.have_spf = 0;
	r.ndkim = 0;
	r.nreasons = 0;
	r.header_from[0] = '\0';
	assert_int_equal(evalstore_format(&r, &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, " from=- "));
	assert_non_null(strstr(s, " spf=- "));
	assert_non_null(strstr(s, " dkim=- "));
	assert_non_null(strstr(s, " policy=none reasons=-\n"));
	/* report mail says so at the end */
	buf_reset(&b);
	r.report_mail = 1;
	assert_int_equal(evalstore_format(&r, &b), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, " reasons=- report=yes\n"));
	buf_free(&b);
}

static int
tls_line(void *arg, const struct evalstore_tls_row *r)
{
	struct buf	 b;

	buf_init(&b, 4096);
	assert_int_equal(evalstore_tls_format(r, &b), 0);
	strlcat(arg, buf_cstr(&b), 4096);
	buf_free(&b);
	return 0;
}

static struct msg_tls_result
tls_res(const char *dom, int policy, const char *result, const char *mx,
    time_t when)
{
	struct msg_tls_result	 r;

	memset(&r, 0, sizeof(r));
	r.when = when;
	r.policy = policy;
	strlcpy(r.domain, dom, sizeof(r.domain));
	strlcpy(r.mx, mx, sizeof(r.mx));
	strlcpy(r.ip, "192.0.2.1", sizeof(r.ip));
	strlcpy(r.result, result, sizeof(r.result));
	return r;
}

/* RFC 8460 results: counted per domain, UTC day and outcome; kept. */
static void
test_tls_results(void **state)
{
	struct fixture		*f = *state;
	struct msg_tls_result	 r;
	char			 out[4096] = "";
	const time_t		 day = 1796601600;	/* 2026-12-07 */

	r = tls_res("b.test", MSG_TLS_POLICY_TLSA, "success", "mx.b.test",
	    day + 10);
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	r.when = day + 3600;			/* the same day: counted */
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	r = tls_res("b.test", MSG_TLS_POLICY_TLSA, "certificate-not-trusted",
	    "mx.b.test", day + 20);
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	r = tls_res("b.test", MSG_TLS_POLICY_TLSA, "success", "mx.b.test",
	    day + 86400);			/* the next day */
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	r = tls_res("a.test", MSG_TLS_POLICY_STS, "success", "mx.a.test", day);
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	r = tls_res("b.testing", MSG_TLS_POLICY_NONE, "success", "", day);
	assert_int_equal(evalstore_tls_add(f->es, &r), 0);
	reopen(f);
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_RESULTS, "B.TEST", tls_line, out),
	    0);
	assert_string_equal(out,
	    "2026-12-07 b.test policy=tlsa result=certificate-not-trusted "
	    "mx=mx.b.test ip=192.0.2.1 count=1\n"
	    "2026-12-07 b.test policy=tlsa result=success mx=mx.b.test "
	    "ip=192.0.2.1 count=2\n"
	    "2026-12-08 b.test policy=tlsa result=success mx=mx.b.test "
	    "ip=192.0.2.1 count=1\n");
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_RESULTS, "", tls_line, out), 0);
	assert_non_null(strstr(out, "2026-12-07 a.test policy=sts "));
	assert_non_null(strstr(out, "2026-12-07 b.testing "
	    "policy=no-policy-found result=success mx=- "));
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_RESULTS, "c.test", tls_line, out),
	    0);
	assert_string_equal(out, "");
	/* pruned by day: what is before the day of the limit goes */
	assert_int_equal(evalstore_tls_prune(f->es, day + 86400 + 5), 4);
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_RESULTS, "",
	    tls_line, out), 0);
	assert_string_equal(out, "2026-12-08 b.test policy=tlsa result=success "
	    "mx=mx.b.test ip=192.0.2.1 count=1\n");
	assert_int_equal(evalstore_tls_prune(f->es, day + 86400), 0);
}

static struct msg_tls_policy
tls_pol(const char *dom, int policy, const char *mx, time_t when,
    const char *text)
{
	struct msg_tls_policy	 p;

	memset(&p, 0, sizeof(p));
	p.when = when;
	p.policy = policy;
	strlcpy(p.domain, dom, sizeof(p.domain));
	strlcpy(p.mx, mx, sizeof(p.mx));
	p.len = strlen(text);
	return p;
}

/*
 * RFC 8460 4.4: the policy strings, the latest per domain, day, policy
 * type and MX host, kept through a reopen and read back line by line.
 */
static void
test_tls_policies(void **state)
{
	struct fixture		*f = *state;
	struct msg_tls_policy	 p;
	char			 out[4096] = "";
	const time_t		 day = 1796601600;	/* 2026-12-07 */
	const char		*sts1 = "version: STSv1\nmode: testing\n"
	    "mx: mx.a.test\nmax_age: 86400\n";
	const char		*sts2 = "version: STSv1\nmode: enforce\n"
	    "mx: *.a.test\nmax_age: 604800\n";
	const char		*tlsa = "_25._tcp.mx.b.test. IN TLSA 3 1 1 "
	    "abcdef\n_25._tcp.mx.b.test. IN TLSA 2 0 1 0123\n";
	struct evalstore_stats	 st;

	p = tls_pol("a.test", MSG_TLS_POLICY_STS, "", day + 5, sts1);
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, sts1), 0);
	/* the same day again, changed: the latest is kept */
	p = tls_pol("a.test", MSG_TLS_POLICY_STS, "", day + 50, sts2);
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, sts2), 0);
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, sts2), 0);
	p = tls_pol("a.test", MSG_TLS_POLICY_STS, "", day + 86400, sts1);
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, sts1), 0);
	p = tls_pol("b.test", MSG_TLS_POLICY_TLSA, "mx.b.test", day, tlsa);
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, tlsa), 0);
	/* a text longer than the bound is refused */
	p.len = MSG_TLS_POLICY_TEXT_MAX + 1;
	assert_int_equal(evalstore_tls_policy_put(f->es, &p, tlsa), -1);
	reopen(f);
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_POLICIES, "A.test",
	    tls_line, out), 0);
	assert_string_equal(out,
	    "2026-12-07 a.test policy=sts mx=- policy-string=version: STSv1\n"
	    "2026-12-07 a.test policy=sts mx=- policy-string=mode: enforce\n"
	    "2026-12-07 a.test policy=sts mx=- policy-string=mx: *.a.test\n"
	    "2026-12-07 a.test policy=sts mx=- policy-string=max_age: 604800\n"
	    "2026-12-08 a.test policy=sts mx=- policy-string=version: STSv1\n"
	    "2026-12-08 a.test policy=sts mx=- policy-string=mode: testing\n"
	    "2026-12-08 a.test policy=sts mx=- policy-string=mx: mx.a.test\n"
	    "2026-12-08 a.test policy=sts mx=- policy-string=max_age: 86400\n");
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_POLICIES, "b.test",
	    tls_line, out), 0);
	assert_string_equal(out,
	    "2026-12-07 b.test policy=tlsa mx=mx.b.test policy-string="
	    "_25._tcp.mx.b.test. IN TLSA 3 1 1 abcdef\n"
	    "2026-12-07 b.test policy=tlsa mx=mx.b.test policy-string="
	    "_25._tcp.mx.b.test. IN TLSA 2 0 1 0123\n");
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_POLICIES, "", tls_line,
	    out), 0);
	assert_int_equal(strlen(out), 0 + strlen("2026-12-07 a.test policy=sts "
	    "mx=- policy-string=") * 8 + strlen(sts1) + strlen(sts2) +
	    strlen("2026-12-07 b.test policy=tlsa mx=mx.b.test "
	    "policy-string=") * 2 + strlen(tlsa));
	out[0] = '\0';
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_POLICIES, "c.test",
	    tls_line, out), 0);
	assert_string_equal(out, "");
	/* and the results of the same domains are apart from them */
	assert_int_equal(evalstore_tls_walk(f->es, EVALSTORE_TLS_RESULTS, "a.test", tls_line,
	    out), 0);
	assert_string_equal(out, "");
	evalstore_get_stats(f->es, &st);
	assert_int_equal(st.corrupt, 0);
}

/*
 * Failure-report rate counters: counted up to the limit, kept across a
 * reopen (a restart), per name and period, earlier periods forgotten
 * (deleted) by the first count of a later one, a bounded number of names.
 */
static void
test_rate_counters(void **state)
{
	struct fixture	*f = *state;
	const time_t	 h = 1700000000 - 1700000000 % 3600;
	char		 name[EVALSTORE_RATE_NAME_MAX + 8];

	assert_int_equal(evalstore_rate_get(f->es, "dmarc:a.test", h), 0);
	assert_int_equal(evalstore_rate_take(f->es, "dmarc:a.test", h, 2, 10),
	    1);
	assert_int_equal(evalstore_rate_take(f->es, "dmarc:a.test", h, 2, 10),
	    1);
	assert_int_equal(evalstore_rate_take(f->es, "dmarc:a.test", h, 2, 10),
	    0);
	assert_int_equal(evalstore_rate_get(f->es, "dmarc:a.test", h), 2);
	/* another name has its own count */
	assert_int_equal(evalstore_rate_take(f->es, "a:r@a.test", h, 2, 10),
	    1);

	/* a restart keeps them */
	reopen(f);
	assert_int_equal(evalstore_rate_get(f->es, "dmarc:a.test", h), 2);
	assert_int_equal(evalstore_rate_take(f->es, "dmarc:a.test", h, 2, 10),
	    0);
	assert_int_equal(evalstore_rate_take(f->es, "a:r@a.test", h, 2, 10),
	    1);
	assert_int_equal(evalstore_rate_take(f->es, "a:r@a.test", h, 2, 10),
	    0);

	/* the next hour starts again, and the last one's are deleted */
	assert_int_equal(evalstore_rate_take(f->es, "dmarc:a.test", h + 3600,
	    2, 10), 1);
	assert_int_equal(evalstore_rate_get(f->es, "dmarc:a.test", h + 3600),
	    1);
	assert_int_equal(evalstore_rate_get(f->es, "dmarc:a.test", h), 0);
	assert_int_equal(evalstore_rate_get(f->es, "a:r@a.test", h), 0);

	/* at most max_names names a period: a known one still counts */
	assert_int_equal(evalstore_rate_take(f->es, "spf:b.test", h + 3600,
	    5, 2), 1);
	assert_int_equal(evalstore_rate_take(f->es, "spf:c.test", h + 3600,
	    5, 2), 0);
	assert_int_equal(evalstore_rate_take(f->es, "spf:b.test", h + 3600,
	    5, 2), 1);
	assert_int_equal(evalstore_rate_get(f->es, "spf:c.test", h + 3600), 0);

	/* a name too long, or empty, is refused, never truncated */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(evalstore_rate_take(f->es, name, h + 3600, 5, 100),
	    0);
	assert_int_equal(evalstore_rate_take(f->es, "", h + 3600, 5, 100), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batching, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_iterate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_results, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_policies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rate_counters, setup,
		    teardown),
		cmocka_unit_test(test_full_spool),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

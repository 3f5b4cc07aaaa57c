/*
 * queue/store.c, queue/store_msg.c, queue/store_admin.c,
 * queue/store_space.c and lib/envelope.c: the queue store.
 * Round trip of a multi-chunk message, group commit (one transaction for
 * 100 messages), abort, schedule order, backoff and expiry,
 * hold/release/schedule/remove,
 * removal of the message with its last envelope, restart recovery of
 * in-flight envelopes, map growth, a full filesystem (a tmpfs, as root),
 * corrupt records, stats, queue ids and the record codec.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "envelope.h"
#include "queue/store.h"
#include "util.h"
#include "regress/unit/lmdbdir.h"

struct fixture {
	char		 dir[64];
	struct qstore	*qs;
	char		 mnt[64];	/* a tmpfs to unmount, or "" */
};

struct acks {
	int		 ok;
	int		 failed;
	uint64_t	 last;
};

static void
ack_cb(uint64_t id, int ok, void *arg)
{
	struct acks	*a = arg;

	if (ok)
		a->ok++;
	else
		a->failed++;
	a->last = id;
}

static struct qstore *
reopen(struct fixture *f, size_t mapsize)
{
	char	 err[256];

	if (f->qs != NULL)
		qstore_close(f->qs);
	f->qs = qstore_open(f->dir, mapsize, err, sizeof(err));
	if (f->qs == NULL) {
		fprintf(stderr, "qstore_open: %s\n", err);
		fail();
	}
	return f->qs;
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = xcalloc(1, sizeof(*f));
	if (lmdbdir_make(f->dir, sizeof(f->dir), "test_store") == -1)
		return -1;
	reopen(f, 16 * 1024 * 1024);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 path[128];

	qstore_close(f->qs);
	/* Also when a test failed halfway. */
	if (f->mnt[0] != '\0') {
		snprintf(path, sizeof(path), "%s/q/data.mdb", f->mnt);
		unlink(path);
		snprintf(path, sizeof(path), "%s/q/lock.mdb", f->mnt);
		unlink(path);
		snprintf(path, sizeof(path), "%s/q", f->mnt);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/filler", f->mnt);
		unlink(path);
		if (umount(f->mnt) == -1)
			fprintf(stderr, "umount %s: %s\n", f->mnt,
			    strerror(errno));
		rmdir(f->mnt);
	}
	lmdbdir_remove(f->dir);
	free(f);
	return 0;
}

static void
mkenv(struct envelope *e, const char *sender, const char *rcpt)
{
	memset(e, 0, sizeof(*e));
	strlcpy(e->sender, sender, sizeof(e->sender));
	strlcpy(e->rcpt, rcpt, sizeof(e->rcpt));
	strlcpy(e->dest, "local", sizeof(e->dest));
	e->kind = ENV_LOCAL;
}

/* A committed message of `size` patterned bytes with `nrcpt` envelopes. */
static uint64_t
add_message(struct qstore *qs, size_t size, int nrcpt, struct acks *a)
{
	struct qs_msg	*m;
	struct envelope	 e;
	uint8_t		 b[1000];
	size_t		 i, n;
	char		 rcpt[64];
	uint64_t	 id;

	m = qstore_message_begin(qs, 0);
	assert_non_null(m);
	id = qstore_message_id(m);
	for (i = 0; i < size; i += n) {
		n = size - i < sizeof(b) ? size - i : sizeof(b);
		memset(b, 'a' + (int)(i / sizeof(b)) % 26, n);
		assert_int_equal(qstore_message_append(m, b, n), 0);
	}
	for (i = 0; i < (size_t)nrcpt; i++) {
		snprintf(rcpt, sizeof(rcpt), "user%zu@example.org", i);
		mkenv(&e, "sender@example.com", rcpt);
		assert_int_equal(qstore_message_add_envelope(m, &e),
		    EVPID(id, i));
	}
	assert_int_equal(qstore_commit_request(m, ack_cb, a), 0);
	return id;
}

static void
test_roundtrip(void **state)
{
	struct fixture	*f = *state;
	struct acks	 a = { 0 };
	struct envelope	 in, out;
	struct msgrec	 mr;
	struct qs_msg	*m;
	uint8_t		*body, chunk[QSTORE_CHUNK_SIZE];
	size_t		 size = 3 * QSTORE_CHUNK_SIZE + 123, i, len, off;
	uint64_t	 id, evp[3];
	uint32_t	 c;

	body = xmalloc(size);
	for (i = 0; i < size; i++)
		body[i] = (uint8_t)(i * 7 + i / 977);
	m = qstore_message_begin(f->qs, 0);
	id = qstore_message_id(m);
	/* Streamed in odd-sized pieces. */
	for (off = 0; off < size; off += len) {
		len = size - off < 7001 ? size - off : 7001;
		assert_int_equal(qstore_message_append(m, body + off, len), 0);
	}
	assert_int_equal(qstore_message_size(m), size);
	for (i = 0; i < 3; i++) {
		mkenv(&in, i == 0 ? "" : "s@example.com", "r@example.org");
		in.ret = ENV_RET_HDRS;
		in.notify = ENV_NOTIFY_FAILURE | ENV_NOTIFY_DELAY;
		in.flags = ENV_F_REQUIRETLS | ENV_F_SMTPUTF8;
		strlcpy(in.envid, "QQ314159", sizeof(in.envid));
		strlcpy(in.orcpt, "rfc822;r@example.org", sizeof(in.orcpt));
		in.kind = i == 2 ? ENV_REMOTE : ENV_LOCAL;
		evp[i] = qstore_message_add_envelope(m, &in);
		assert_int_equal(evp[i], EVPID(id, i));
	}
	assert_int_equal(qstore_pending(f->qs), 0);
	assert_int_equal(qstore_commit_request(m, ack_cb, &a), 0);
	assert_int_equal(qstore_pending(f->qs), 1);
	/* Not acknowledged before the flush. */
	assert_int_equal(a.ok, 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(a.ok, 1);
	assert_int_equal(a.last, id);
	assert_int_equal(qstore_pending(f->qs), 0);

	/* Survives a close and reopen. */
	reopen(f, 16 * 1024 * 1024);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 0);
	assert_int_equal(mr.size, size);
	assert_int_equal(mr.nenv, 3);
	assert_int_equal(mr.nchunks, 4);
	for (c = 0, off = 0;; c++) {
		i = qstore_message_read(f->qs, id, c, chunk, sizeof(chunk),
		    &len);
		if (i == 1)
			break;
		assert_int_equal(i, 0);
		assert_true(off + len <= size);
		assert_memory_equal(chunk, body + off, len);
		off += len;
	}
	assert_int_equal(off, size);
	assert_int_equal(c, 4);
	for (i = 0; i < 3; i++) {
		assert_int_equal(qstore_envelope_get(f->qs, evp[i], &out), 0);
		assert_int_equal(out.id, evp[i]);
		assert_int_equal(out.msgid, id);
		assert_string_equal(out.sender, i == 0 ? "" : "s@example.com");
		assert_string_equal(out.rcpt, "r@example.org");
		assert_string_equal(out.envid, "QQ314159");
		assert_string_equal(out.orcpt, "rfc822;r@example.org");
		assert_int_equal(out.ret, ENV_RET_HDRS);
		assert_int_equal(out.notify,
		    ENV_NOTIFY_FAILURE | ENV_NOTIFY_DELAY);
		assert_int_equal(out.flags, ENV_F_REQUIRETLS | ENV_F_SMTPUTF8);
		assert_int_equal(out.kind, i == 2 ? ENV_REMOTE : ENV_LOCAL);
		assert_int_equal(out.state, ENV_QUEUED);
		assert_int_equal(out.attempts, 0);
		assert_true(out.expire == out.ctime + 5 * 24 * 3600);
	}
	free(body);
}

static void
test_group_commit(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct qstore_stats	 before, after;
	int			 i;

	qstore_stats(f->qs, &before);
	for (i = 0; i < 100; i++)
		add_message(f->qs, 4096, 1 + i % 3, &a);
	assert_int_equal(qstore_pending(f->qs), 100);
	assert_int_equal(a.ok, 0);
	assert_int_equal(qstore_flush_pending(f->qs), 0);
	qstore_stats(f->qs, &after);
	/* One write transaction, hence one fsync, for all 100. */
	assert_int_equal(after.commits - before.commits, 1);
	assert_int_equal(a.ok, 100);
	assert_int_equal(a.failed, 0);
	assert_int_equal(after.messages, 100);
	assert_int_equal(after.envelopes, 34 * 1 + 33 * 2 + 33 * 3);
	assert_int_equal(after.messages_committed, 100);
	/* Nothing pending: no transaction at all. */
	assert_int_equal(qstore_flush_pending(f->qs), 0);
	qstore_stats(f->qs, &before);
	assert_int_equal(before.commits, after.commits);
}

static void
test_abort(void **state)
{
	struct fixture		*f = *state;
	struct qstore_stats	 st;
	struct envelope		 e, out;
	struct msgrec		 mr;
	struct qs_msg		*m;
	uint64_t		 id, evpid;

	m = qstore_message_begin(f->qs, 100);
	id = qstore_message_id(m);
	assert_int_equal(qstore_message_append(m, "hello\r\n", 7), 0);
	/* Past the maximum size: refused, the caller aborts. */
	assert_int_equal(qstore_message_append(m, "x", 94), -1);
	mkenv(&e, "a@b", "c@d");
	evpid = qstore_message_add_envelope(m, &e);
	assert_int_not_equal(evpid, 0);
	qstore_message_abort(m);
	assert_int_equal(qstore_pending(f->qs), 0);

	/* No envelopes: refused. */
	m = qstore_message_begin(f->qs, 0);
	assert_int_equal(qstore_commit_request(m, ack_cb, NULL), -1);

	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.envelopes, 0);
	assert_int_equal(st.messages_aborted, 1);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 1);
	assert_int_equal(qstore_envelope_get(f->qs, evpid, &out), 1);

	/* An envelope field out of bounds is refused at add time. */
	m = qstore_message_begin(f->qs, 0);
	mkenv(&e, "a@b", "c@d");
	e.notify = ENV_NOTIFY_NEVER | ENV_NOTIFY_SUCCESS;
	assert_int_equal(qstore_message_add_envelope(m, &e), 0);
	qstore_message_abort(m);
}

/*
 * The memory budget: a declared size is reserved at once, a message that
 * does not fit is refused (QSTORE_NOMEM), memory never grows by doubling
 * past the message (a chunk at most over its size), and everything held
 * comes back at the commit or the abort.  The message is stored byte-exact,
 * its prepended fields first, in records of QSTORE_CHUNK_SIZE.
 */
static void
test_memory_budget(void **state)
{
	struct fixture		*f = *state;
	struct qstore_stats	 st;
	struct acks		 a = { 0 };
	struct envelope		 e;
	struct qs_msg		*m1, *m2, *m3;
	uint8_t			*body, chunk[QSTORE_CHUNK_SIZE];
	const char		 hdr[] = "X-Prepended: yes\r\n";
	size_t			 size = 2 * QSTORE_CHUNK_SIZE + 500, i, off, len;
	uint64_t		 id;
	uint32_t		 c;
	int			 r;

	qstore_set_memory_limit(f->qs, 4 * QSTORE_CHUNK_SIZE);
	body = xmalloc(size);
	for (i = 0; i < size; i++)
		body[i] = (uint8_t)(i * 13 + i / 1009);

	/* Declared 3 chunks: reserved whole, so a second such one waits. */
	assert_int_equal(qstore_message_receive(f->qs, 0,
	    3 * QSTORE_CHUNK_SIZE, &m1), 0);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.mem_held, 3 * QSTORE_CHUNK_SIZE);
	assert_int_equal(qstore_message_receive(f->qs, 0,
	    3 * QSTORE_CHUNK_SIZE, &m2), QSTORE_NOMEM);
	assert_null(m2);
	/* Undeclared: one small piece up front, then refused mid-stream. */
	assert_int_equal(qstore_message_receive(f->qs, 0, 0, &m3), 0);
	for (r = 0, off = 0; r == 0 && off < 4 * QSTORE_CHUNK_SIZE;
	    off += 1000)
		r = qstore_message_append(m3, body, 1000);
	assert_int_equal(r, QSTORE_NOMEM);
	qstore_stats(f->qs, &st);
	assert_true(st.mem_held <= 4 * QSTORE_CHUNK_SIZE);
	qstore_message_abort(m3);

	/* The first streams within its reservation, then commits. */
	id = qstore_message_id(m1);
	for (off = 0; off < size; off += len) {
		len = size - off < 3001 ? size - off : 3001;
		assert_int_equal(qstore_message_append(m1, body + off, len),
		    0);
	}
	assert_int_equal(qstore_message_prepend(m1, hdr, sizeof(hdr) - 1),
	    0);
	qstore_stats(f->qs, &st);
	/* no doubling: the chunks, and the small prepended piece */
	assert_true(st.mem_held <= 3 * QSTORE_CHUNK_SIZE + 256);
	assert_int_equal(qstore_message_size(m1), size + sizeof(hdr) - 1);
	mkenv(&e, "a@b", "c@d");
	assert_int_not_equal(qstore_message_add_envelope(m1, &e), 0);
	assert_int_equal(qstore_commit_request(m1, ack_cb, &a), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(a.ok, 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.mem_held, 0);
	assert_true(st.mem_peak <= 4 * QSTORE_CHUNK_SIZE);
	assert_int_equal(st.mem_refused, 2);

	for (c = 0, off = 0;; c++) {
		i = qstore_message_read(f->qs, id, c, chunk, sizeof(chunk),
		    &len);
		if (i == 1)
			break;
		assert_int_equal(i, 0);
		if (off + len < size + sizeof(hdr) - 1)
			assert_int_equal(len, QSTORE_CHUNK_SIZE);
		if (c == 0) {
			assert_memory_equal(chunk, hdr, sizeof(hdr) - 1);
			assert_memory_equal(chunk + sizeof(hdr) - 1, body,
			    len - (sizeof(hdr) - 1));
		} else
			assert_memory_equal(chunk, body + off -
			    (sizeof(hdr) - 1), len);
		off += len;
	}
	assert_int_equal(off, size + sizeof(hdr) - 1);

	/* The queue's own messages (DSNs) are counted, never refused. */
	m2 = qstore_message_begin(f->qs, 0);
	for (off = 0; off < 5 * QSTORE_CHUNK_SIZE; off += len) {
		len = size;
		assert_int_equal(qstore_message_append(m2, body, len), 0);
	}
	qstore_message_abort(m2);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.mem_held, 0);
	free(body);
}

static void
test_schedule_order(void **state)
{
	struct fixture	*f = *state;
	struct acks	 a = { 0 };
	struct envelope	 due[8];
	uint64_t	 id[3];
	time_t		 now = time(NULL);
	int		 i;

	for (i = 0; i < 3; i++)
		id[i] = add_message(f->qs, 100, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_next_due(f->qs, now + 10), 0);
	assert_int_equal(qstore_take_due(f->qs, now + 10, due, 8), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(due[i].state, ENV_INFLIGHT);
	/* In flight: not due again. */
	assert_int_equal(qstore_take_due(f->qs, now + 10, due, 8), 0);
	assert_int_equal(qstore_next_due(f->qs, now), -1);

	/* Retry times 1300, 800, 1200 after now. */
	assert_int_equal(qstore_tempfail(f->qs, EVPID(id[0], 0), now + 1000,
	    "451 try later"), QSTORE_RESCHEDULED);
	assert_int_equal(qstore_tempfail(f->qs, EVPID(id[1], 0), now + 500,
	    "x"), QSTORE_RESCHEDULED);
	assert_int_equal(qstore_tempfail(f->qs, EVPID(id[2], 0), now + 900,
	    "y"), QSTORE_RESCHEDULED);
	/* Results wait for the group commit. */
	assert_int_equal(qstore_pending(f->qs), 3);
	assert_int_equal(qstore_take_due(f->qs, now + 5000, due, 8), 0);
	assert_int_equal(qstore_flush(f->qs), 0);

	assert_int_equal(qstore_next_due(f->qs, now), 800);
	assert_int_equal(qstore_take_due(f->qs, now + 799, due, 8), 0);
	assert_int_equal(qstore_take_due(f->qs, now + 1000, due, 1), 1);
	assert_int_equal(due[0].id, EVPID(id[1], 0));
	assert_int_equal(due[0].attempts, 1);
	assert_string_equal(due[0].errmsg, "x");
	assert_int_equal(qstore_take_due(f->qs, now + 5000, due, 8), 2);
	assert_int_equal(due[0].id, EVPID(id[2], 0));
	assert_int_equal(due[1].id, EVPID(id[0], 0));
	assert_string_equal(due[1].errmsg, "451 try later");
}

static void
test_backoff(void **state)
{
	struct fixture	*f = *state;
	struct acks	 a = { 0 };
	struct envelope	 due[1], e;
	static const int want[] = { 300, 600, 1200, 2400, 3600, 3600, 3600 };
	time_t		 now = time(NULL), t;
	uint64_t	 evpid;
	size_t		 i;

	qstore_set_retry(f->qs, 300, 3600, 5 * 24 * 3600);
	evpid = EVPID(add_message(f->qs, 10, 1, &a), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	t = now;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(qstore_take_due(f->qs, t, due, 1), 1);
		assert_int_equal(due[0].id, evpid);
		assert_int_equal(qstore_tempfail(f->qs, evpid, t, "busy"),
		    QSTORE_RESCHEDULED);
		assert_int_equal(qstore_flush(f->qs), 0);
		assert_int_equal(qstore_envelope_get(f->qs, evpid, &e), 0);
		assert_int_equal(e.attempts, i + 1);
		assert_int_equal(e.next_try - t, want[i]);
		assert_int_equal(e.last_try, t);
		assert_int_equal(e.state, ENV_QUEUED);
		t = e.next_try;
	}
}

static void
test_expiry(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct envelope		 due[1], e;
	struct qstore_stats	 st;
	struct msgrec		 mr;
	uint64_t		 id, evpid;

	qstore_set_retry(f->qs, 300, 3600, 1000);
	id = add_message(f->qs, 10, 1, &a);
	evpid = EVPID(id, 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, evpid, &e), 0);
	assert_int_equal(e.expire, e.ctime + 1000);

	/* The last retry comes at expiry, not a backoff step later. */
	assert_int_equal(qstore_take_due(f->qs, e.ctime, due, 1), 1);
	assert_int_equal(qstore_tempfail(f->qs, evpid, e.ctime + 900, "t"),
	    QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_next_due(f->qs, e.ctime + 900), 100);

	assert_int_equal(qstore_take_due(f->qs, e.ctime + 1000, due, 1), 1);
	assert_int_equal(qstore_tempfail(f->qs, evpid, e.ctime + 1000, "t"),
	    QSTORE_EXPIRED);
	assert_int_equal(qstore_pending(f->qs), 0);
	/* The caller bounces, then: */
	assert_int_equal(qstore_permfail(f->qs, evpid), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, evpid, &e), 1);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.permfailed, 1);
	assert_int_equal(st.messages, 0);
	/* Unknown envelope. */
	assert_int_equal(qstore_tempfail(f->qs, evpid, e.ctime, "t"), -1);
}

static void
test_hold_release(void **state)
{
	struct fixture	*f = *state;
	struct acks	 a = { 0 };
	struct envelope	 due[4], e;
	time_t		 now = time(NULL);
	uint64_t	 id, other;

	id = add_message(f->qs, 10, 2, &a);
	other = add_message(f->qs, 10, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_hold(f->qs, QID_MSG, id), 2);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 1), &e), 0);
	assert_int_equal(e.state, ENV_HELD);
	/* Held envelopes are never due. */
	assert_int_equal(qstore_take_due(f->qs, now + 100000, due, 4), 1);
	assert_int_equal(due[0].id, EVPID(other, 0));
	/* Holding again changes nothing; in flight cannot be held. */
	assert_int_equal(qstore_hold(f->qs, QID_ALL, 0), 0);
	assert_int_equal(qstore_release(f->qs, QID_ENV, EVPID(id, 1), now),
	    1);
	assert_int_equal(qstore_take_due(f->qs, now, due, 4), 1);
	assert_int_equal(due[0].id, EVPID(id, 1));
	assert_int_equal(qstore_release(f->qs, QID_ALL, 0, now + 50), 1);
	assert_int_equal(qstore_next_due(f->qs, now), 50);
	/* schedule makes a queued envelope due now. */
	assert_int_equal(qstore_schedule(f->qs, QID_ALL, 0, now), 1);
	assert_int_equal(qstore_next_due(f->qs, now), 0);
	assert_int_equal(qstore_take_due(f->qs, now, due, 4), 1);
	assert_int_equal(due[0].id, EVPID(id, 0));
	assert_int_equal(qstore_hold(f->qs, QID_BAD, 0), -1);
}

static void
test_remove(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct qstore_stats	 st;
	struct envelope		 e, due[4];
	struct msgrec		 mr;
	uint64_t		 id, id2;

	id = add_message(f->qs, 70000, 3, &a);
	id2 = add_message(f->qs, 10, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_remove(f->qs, QID_ENV, EVPID(id, 1)), 1);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 1), &e), 1);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 0);
	assert_int_equal(mr.nenv, 2);
	assert_int_equal(qstore_remove(f->qs, QID_ENV, EVPID(id, 1)), 0);
	/* An in-flight envelope removed: its late result is harmless. */
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 4), 3);
	assert_int_equal(qstore_remove(f->qs, QID_MSG, id), 2);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 1);
	assert_int_equal(qstore_delivered(f->qs, EVPID(id, 0)), 0);
	assert_int_equal(qstore_tempfail(f->qs, EVPID(id, 2), time(NULL),
	    "x"), -1);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 0), &e), 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.envelopes, 1);
	assert_int_equal(qstore_remove(f->qs, QID_ALL, 0), 1);
	assert_int_equal(qstore_message_info(f->qs, id2, &mr), 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.envelopes, 0);
	assert_int_equal(st.scheduled, 0);
	assert_int_equal(st.removed, 4);
}

static void
test_last_envelope(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct envelope		 due[4];
	struct msgrec		 mr;
	struct qstore_stats	 st;
	uint8_t			 chunk[QSTORE_CHUNK_SIZE];
	size_t			 len;
	uint64_t		 id;

	id = add_message(f->qs, 2 * QSTORE_CHUNK_SIZE + 1, 2, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 4), 2);
	assert_int_equal(qstore_delivered(f->qs, due[0].id), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 0);
	assert_int_equal(mr.nenv, 1);
	assert_int_equal(qstore_message_read(f->qs, id, 2, chunk,
	    sizeof(chunk), &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(qstore_delivered(f->qs, due[1].id), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_message_info(f->qs, id, &mr), 1);
	assert_int_equal(qstore_message_read(f->qs, id, 0, chunk,
	    sizeof(chunk), &len), 1);
	assert_int_equal(qstore_message_read(f->qs, id, 2, chunk,
	    sizeof(chunk), &len), 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.envelopes, 0);
	assert_int_equal(st.delivered, 2);
}

static void
test_recovery(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct envelope		 due[8], e;
	struct qstore_stats	 st;
	time_t			 now;
	uint64_t		 id, id2;
	int			 i;

	id = add_message(f->qs, 100, 3, &a);
	id2 = add_message(f->qs, 100, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	now = time(NULL);	/* after the messages: a second may have passed */
	assert_int_equal(qstore_hold(f->qs, QID_MSG, id2), 1);
	assert_int_equal(qstore_take_due(f->qs, now, due, 8), 3);
	/* One delivery recorded, then the daemon "dies". */
	assert_int_equal(qstore_delivered(f->qs, EVPID(id, 0)), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	reopen(f, 16 * 1024 * 1024);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.recovered, 2);
	for (i = 1; i < 3; i++) {
		assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, i), &e),
		    0);
		assert_int_equal(e.state, ENV_QUEUED);
	}
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id2, 0), &e), 0);
	assert_int_equal(e.state, ENV_HELD);
	assert_int_equal(qstore_next_due(f->qs, time(NULL)), 0);
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 8), 2);
	assert_int_equal(due[0].id, EVPID(id, 1));
	assert_int_equal(due[1].id, EVPID(id, 2));
	/* A message id is never reused after a restart. */
	assert_true(add_message(f->qs, 1, 1, &a) > id2);
	assert_int_equal(qstore_flush(f->qs), 0);
}

static void
test_map_growth(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct qstore_stats	 st;
	uint8_t			 chunk[QSTORE_CHUNK_SIZE];
	size_t			 len;
	uint64_t		 id = 0;
	int			 i;

	/* The smallest map; then write several times more than fits. */
	reopen(f, 0);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.mapsize, QSTORE_MAPSIZE_MIN);
	for (i = 0; i < 6; i++)
		id = add_message(f->qs, 512 * 1024, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(a.ok, 6);
	for (i = 0; i < 40; i++) {
		add_message(f->qs, 100 * 1024, 2, &a);
		assert_int_equal(qstore_flush(f->qs), 0);
	}
	assert_int_equal(a.ok, 46);
	assert_int_equal(a.failed, 0);
	qstore_stats(f->qs, &st);
	assert_true(st.map_grows >= 1);
	assert_true(st.mapsize > QSTORE_MAPSIZE_MIN);
	assert_int_equal(st.messages, 46);
	assert_int_equal(qstore_message_read(f->qs, id, 7, chunk,
	    sizeof(chunk), &len), 0);
	assert_int_equal(len, QSTORE_CHUNK_SIZE);
	/* The grown map is kept at reopen. */
	reopen(f, 0);
	qstore_stats(f->qs, &st);
	assert_true(st.mapsize > QSTORE_MAPSIZE_MIN);
}

static void
test_batch_failure(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 }, b = { 0 };
	struct qstore_stats	 st;
	struct envelope		 due[2], e;
	uint64_t		 evpid, big;

	reopen(f, 0);
	evpid = EVPID(add_message(f->qs, 10, 1, &a), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 2), 1);
	/* A batch that cannot fit below the cap: everything fails. */
	qstore_set_max_mapsize(f->qs, 2 * QSTORE_MAPSIZE_MIN);
	assert_int_equal(qstore_delivered(f->qs, evpid), 0);
	add_message(f->qs, 10, 1, &b);
	big = add_message(f->qs, 3 * QSTORE_MAPSIZE_MIN, 2, &b);
	add_message(f->qs, 10, 1, &b);
	assert_int_equal(qstore_pending(f->qs), 4);
	assert_int_equal(qstore_flush(f->qs), -1);
	assert_int_equal(b.ok, 0);
	assert_int_equal(b.failed, 3);
	assert_false(qstore_broken(f->qs));
	/* Nothing of it was stored; the delivery result is kept. */
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.envelopes, 1);
	assert_int_equal(st.commit_failures, 1);
	assert_int_equal(st.messages_failed, 3);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(big, 0), &e), 1);
	assert_int_equal(qstore_pending(f->qs), 1);
	/* The next batch fits and carries the kept result. */
	add_message(f->qs, 10, 1, &b);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(b.ok, 1);
	assert_int_equal(qstore_envelope_get(f->qs, evpid, &e), 1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.delivered, 1);
}

/*
 * Write up to `pages` pages into path: 0, or -1 when the filesystem
 * refused first.
 */
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

#define NOUT	300

/*
 * The spool's filesystem fills up: a commit that does not fit fails whole
 * and is answered as failed, the store stays usable, and it opens again
 * on the full filesystem with an envelope in flight, which is queued again
 * once there is room.
 */
static void
test_full_filesystem(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 }, b = { 0 };
	struct qstore_stats	 st;
	struct envelope		*due;
	char			 mnt[64], dir[80], filler[80], err[256];
	size_t			 size;
	uint64_t		 first;
	int			 i, n, fails, seen, recovery_waited = 0;

	strlcpy(mnt, "/tmp/test_store_full.XXXXXX", sizeof(mnt));
	assert_non_null(mkdtemp(mnt));
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700") == -1) {
		rmdir(mnt);
		if (errno == EPERM)
			skip();
		fail_msg("mount tmpfs: %s", strerror(errno));
	}
	strlcpy(f->mnt, mnt, sizeof(f->mnt));
	snprintf(dir, sizeof(dir), "%s/q", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* Room that comes back later. */
	assert_int_equal(fill_file(filler, 64), 0);
	qstore_close(f->qs);
	f->qs = qstore_open(dir, 16 * 1024 * 1024, err, sizeof(err));
	assert_non_null(f->qs);

	due = xcalloc(1024, sizeof(*due));
	/*
	 * Many envelopes out for delivery, one queued: more than the free
	 * pages inside the store can rewrite.
	 */
	first = add_message(f->qs, 1000, NOUT + 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, NOUT), NOUT);

	/* Fill with ever smaller messages until not even a small one fits. */
	fails = 0;
	for (size = 128 * 1024, i = 0; i < 400 && size > 0; i++) {
		add_message(f->qs, size, 1, &b);
		if (qstore_flush(f->qs) == -1) {
			fails++;
			size /= 4;
		}
		assert_false(qstore_broken(f->qs));
	}
	assert_true(fails > 0);
	assert_int_equal(b.failed, fails);
	assert_int_equal(fill_file(filler, 100000), -1);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 1 + b.ok);
	assert_int_equal(st.messages_failed, fails);

	/* It opens on the full filesystem. */
	qstore_close(f->qs);
	f->qs = qstore_open(dir, 16 * 1024 * 1024, err, sizeof(err));
	if (f->qs == NULL)
		fail_msg("qstore_open on a full filesystem: %s", err);
	assert_false(qstore_broken(f->qs));
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 1 + b.ok);
	n = qstore_take_due(f->qs, time(NULL), due, 1024);
	if (n == -1) {
		/* Recovery waits for room; nothing is handed out. */
		recovery_waited = 1;
		assert_int_equal(qstore_next_due(f->qs, time(NULL)), 0);
		assert_int_equal(unlink(filler), 0);
		n = qstore_take_due(f->qs, time(NULL), due, 1024);
	}
	/* On the full filesystem the reserve takes them out in batches. */
	while (n > 0 && n < 1024 &&
	    (i = qstore_take_due(f->qs, time(NULL), due + n, 1024 - n)) > 0)
		n += i;
	/* Every envelope, those that were out among them, once each. */
	assert_int_equal(n, NOUT + 1 + b.ok);
	for (i = 0, seen = 0; i < n; i++) {
		if (EVPID_MSGID(due[i].id) != first)
			continue;
		assert_int_equal(due[i].attempts,
		    due[i].id == EVPID(first, NOUT) ? 0 : 1);
		seen++;
	}
	assert_int_equal(seen, NOUT + 1);
	free(due);
	print_message("full filesystem: %d stored, %d failed, recovery %s\n",
	    b.ok, fails, recovery_waited ? "waited for room" : "had room");

	qstore_close(f->qs);
	f->qs = NULL;
}

static void
pipe_ack(uint64_t id, int ok, void *arg)
{
	int	 fd = *(int *)arg;

	if (ok && write(fd, &id, sizeof(id)) != sizeof(id))
		_exit(2);
}

/*
 * kill -9 while batches commit: every message whose callback said durable
 * is there after a reopen, with its envelope.
 */
static void
test_crash(void **state)
{
	struct fixture	*f = *state;
	struct qstore	*qs;
	struct qs_msg	*m;
	struct envelope	 e;
	struct msgrec	 mr;
	uint64_t	*acked, id;
	size_t		 n = 0, i;
	pid_t		 pid;
	char		 err[256], body[4096];
	int		 fds[2], j, status;

	qstore_close(f->qs);
	f->qs = NULL;
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		if ((qs = qstore_open(f->dir, 0, err, sizeof(err))) == NULL)
			_exit(1);
		memset(body, 'x', sizeof(body));
		mkenv(&e, "a@example.com", "b@example.org");
		for (i = 0; i < 100000; i++) {
			for (j = 0; j < 7; j++) {
				m = qstore_message_begin(qs, 0);
				qstore_message_append(m, body, sizeof(body));
				qstore_message_add_envelope(m, &e);
				qstore_commit_request(m, pipe_ack, &fds[1]);
			}
			qstore_flush(qs);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	acked = xcalloc(100000, sizeof(*acked));
	while (n < 300 && read(fds[0], &acked[n], sizeof(id)) == sizeof(id))
		n++;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Acks already written before the kill count too. */
	while (n < 100000 && read(fds[0], &acked[n], sizeof(id)) ==
	    sizeof(id))
		n++;
	close(fds[0]);
	assert_true(n >= 300);
	reopen(f, 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(qstore_message_info(f->qs, acked[i], &mr), 0);
		assert_int_equal(mr.size, sizeof(body));
		assert_int_equal(qstore_envelope_get(f->qs,
		    EVPID(acked[i], 0), &e), 0);
	}
	free(acked);
}

/* Overwrite an envelope record behind the store's back. */
static void
poke(const char *dir, uint64_t evpid, const void *val, size_t len)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 kb[8];
	int		 i;

	for (i = 0; i < 8; i++)
		kb[i] = (uint8_t)(evpid >> (56 - 8 * i));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "env", 0, &dbi), 0);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	v.mv_data = (void *)val;
	v.mv_size = len;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static int
count_cb(const struct envelope *e, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_corrupt(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct envelope		 e, due[4];
	struct qstore_stats	 st;
	uint8_t			 rec[ENV_RECORD_MAX];
	size_t			 len;
	uint64_t		 id;
	int			 n = 0;

	id = add_message(f->qs, 10, 2, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 0), &e), 0);
	len = envelope_encode(&e, rec, sizeof(rec));
	assert_true(len > 0);
	/* A length field that runs past the end of the record. */
	rec[len - 2 - strlen(e.errmsg) - 2 - strlen(e.orcpt) - 2] = 0xff;
	qstore_close(f->qs);
	f->qs = NULL;
	poke(f->dir, EVPID(id, 0), rec, len);
	poke(f->dir, EVPID(id, 1), "garbage", 7);
	reopen(f, 16 * 1024 * 1024);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 0), &e), -1);
	assert_int_equal(qstore_envelope_get(f->qs, EVPID(id, 1), &e), -1);
	assert_int_equal(qstore_envelope_walk(f->qs, count_cb, &n), 0);
	assert_int_equal(n, 0);
	/* The schedule skips them, and drops the index entries. */
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 4), 0);
	qstore_stats(f->qs, &st);
	assert_true(st.corrupt >= 4);
	assert_int_equal(st.scheduled, 0);
	/* An operator can still remove them, and the message goes too. */
	assert_int_equal(qstore_remove(f->qs, QID_MSG, id), 2);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.messages, 0);
}

static int
collect_cb(const struct envelope *e, void *arg)
{
	uint64_t	*ids = arg;

	ids[ids[0]++ + 1] = e->id;
	return 0;
}

/* The envelopes of one message, neither its neighbours' nor removed ones. */
static void
test_message_envelopes(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	uint64_t		 id1, id2, id3, ids[8];

	id1 = add_message(f->qs, 10, 2, &a);
	id2 = add_message(f->qs, 10, 3, &a);
	id3 = add_message(f->qs, 10, 1, &a);
	assert_int_equal(qstore_flush(f->qs), 0);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(qstore_message_envelopes(f->qs, id2, collect_cb,
	    ids), 0);
	assert_int_equal(ids[0], 3);
	assert_true(ids[1] == EVPID(id2, 0) && ids[2] == EVPID(id2, 1) &&
	    ids[3] == EVPID(id2, 2));
	assert_int_equal(qstore_remove(f->qs, QID_ENV, EVPID(id2, 1)), 1);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(qstore_message_envelopes(f->qs, id2, collect_cb,
	    ids), 0);
	assert_int_equal(ids[0], 2);
	assert_true(ids[1] == EVPID(id2, 0) && ids[2] == EVPID(id2, 2));
	memset(ids, 0, sizeof(ids));
	assert_int_equal(qstore_message_envelopes(f->qs, id3 + 1, collect_cb,
	    ids), 0);
	assert_int_equal(ids[0], 0);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(qstore_message_envelopes(f->qs, id1, collect_cb,
	    ids), 0);
	assert_int_equal(ids[0], 2);
}

static void
test_stats(void **state)
{
	struct fixture		*f = *state;
	struct acks		 a = { 0 };
	struct qstore_stats	 st;
	struct envelope		 due[8];
	int			 n = 0;

	add_message(f->qs, 10, 2, &a);
	add_message(f->qs, 10, 3, &a);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.pending, 2);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(qstore_take_due(f->qs, time(NULL), due, 1), 1);
	assert_int_equal(qstore_tempfail(f->qs, due[0].id, time(NULL), "e"),
	    QSTORE_RESCHEDULED);
	assert_int_equal(qstore_flush(f->qs), 0);
	qstore_stats(f->qs, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.envelopes, 5);
	assert_int_equal(st.scheduled, 5);
	assert_int_equal(st.messages_committed, 2);
	assert_int_equal(st.envelopes_committed, 5);
	assert_int_equal(st.tempfailed, 1);
	assert_int_equal(st.commit_failures, 0);
	assert_int_equal(qstore_envelope_walk(f->qs, count_cb, &n), 0);
	assert_int_equal(n, 5);
}

static void
test_ids(void **state)
{
	char		 buf[32];
	uint64_t	 id;

	qid_msg_str(0x0123456789abULL, buf, sizeof(buf));
	assert_string_equal(buf, "0123456789ab");
	qstore_envelope_id_str(EVPID(0x0123456789abULL, 2), buf, sizeof(buf));
	assert_string_equal(buf, "0123456789ab0002");
	assert_int_equal(qid_parse(buf, &id), QID_ENV);
	assert_int_equal(id, EVPID(0x0123456789abULL, 2));
	assert_int_equal(qid_parse("0123456789AB", &id), QID_MSG);
	assert_int_equal(id, 0x0123456789abULL);
	assert_int_equal(qid_parse("all", &id), QID_ALL);
	assert_int_equal(qid_parse("0123456789a", &id), QID_BAD);
	assert_int_equal(qid_parse("0123456789ag", &id), QID_BAD);
	assert_int_equal(qid_parse("", &id), QID_BAD);
	assert_int_equal(qid_parse("0123456789ab00021", &id), QID_BAD);
}

static void
test_codec(void **state)
{
	struct envelope	 e, d;
	struct msgrec	 m, md;
	uint8_t		 rec[ENV_RECORD_MAX + 1], mb[MSG_RECORD_LEN];
	size_t		 len, i;

	memset(&e, 0, sizeof(e));
	e.msgid = 12345;
	e.id = EVPID(12345, 7);
	e.state = ENV_HELD;
	e.kind = ENV_REMOTE;
	e.notify = ENV_NOTIFY_NEVER;
	e.ctime = 1;
	e.expire = 2;
	memset(e.sender, 'x', ENV_ADDR_MAX);
	memset(e.rcpt, 'y', ENV_ADDR_MAX);
	memset(e.dest, 'z', ENV_DEST_MAX);
	memset(e.envid, 'e', ENV_ENVID_MAX);
	memset(e.orcpt, 'o', ENV_ORCPT_MAX);
	memset(e.errmsg, 'r', ENV_ERR_MAX);
	memset(e.folder, 'f', ENV_FOLDER_MAX);
	memset(e.account, 'a', ENV_ACCOUNT_MAX);
	/* The largest record fits ENV_RECORD_MAX. */
	len = envelope_encode(&e, rec, ENV_RECORD_MAX);
	assert_true(len > 0 && len <= ENV_RECORD_MAX);
	assert_int_equal(envelope_decode(&d, rec, len), 0);
	assert_memory_equal(&d, &e, sizeof(e));
	/* Every truncation and an extra byte fail. */
	for (i = 0; i < len; i++)
		assert_int_equal(envelope_decode(&d, rec, i), -1);
	rec[len] = 0;
	assert_int_equal(envelope_decode(&d, rec, len + 1), -1);
	/* Bad enums, versions, NUL inside a string. */
	rec[0] = 4;
	assert_int_equal(envelope_decode(&d, rec, len), -1);
	/* Version 2, without the account, still reads (the account empty). */
	rec[0] = 2;
	assert_int_equal(envelope_decode(&d, rec, len - 2 - ENV_ACCOUNT_MAX),
	    0);
	assert_string_equal(d.account, "");
	assert_string_equal(d.folder, e.folder);
	assert_int_equal(envelope_decode(&d, rec, len), -1);
	/* Version 1, without the folder, still reads (the folder empty). */
	rec[0] = 1;
	assert_int_equal(envelope_decode(&d, rec, len - 4 - ENV_FOLDER_MAX -
	    ENV_ACCOUNT_MAX), 0);
	assert_string_equal(d.folder, "");
	assert_string_equal(d.account, "");
	assert_string_equal(d.errmsg, e.errmsg);
	assert_int_equal(envelope_decode(&d, rec, len), -1);
	assert_int_equal(envelope_decode(&d, rec, len - 2 - ENV_ACCOUNT_MAX),
	    -1);
	rec[0] = ENV_RECORD_VERSION;
	rec[1] = 9;
	assert_int_equal(envelope_decode(&d, rec, len), -1);
	rec[1] = ENV_HELD;
	rec[62] = '\0';
	assert_int_equal(envelope_decode(&d, rec, len), -1);
	/* Unterminated or overlong fields are not encoded. */
	e.envid[ENV_ENVID_MAX] = 'e';
	assert_int_equal(envelope_encode(&e, rec, sizeof(rec)), 0);

	m.size = 100000;
	m.ctime = 77;
	m.nenv = 3;
	m.nchunks = 2;
	msgrec_encode(&m, mb);
	assert_int_equal(msgrec_decode(&md, mb, sizeof(mb)), 0);
	assert_int_equal(md.size, 100000);
	assert_int_equal(md.nenv, 3);
	assert_int_equal(msgrec_decode(&md, mb, sizeof(mb) - 1), -1);
	mb[1] = 1;
	assert_int_equal(msgrec_decode(&md, mb, sizeof(mb)), -1);
}

/* A report's message under key, committed at the clock's time now. */
static void
keyed_message(struct fixture *f, const char *key)
{
	struct envelope	 e;
	struct qs_msg	*m;
	struct acks	 a;

	memset(&a, 0, sizeof(a));
	m = qstore_message_begin(f->qs, 0);
	assert_int_equal(qstore_message_set_key(m, key), 0);
	assert_int_equal(qstore_message_append(m, "x\r\n", 3), 0);
	mkenv(&e, "r@example.com", "p@example.org");
	assert_true(qstore_message_add_envelope(m, &e) != 0);
	assert_int_equal(qstore_commit_request(m, ack_cb, &a), 0);
	assert_int_equal(qstore_flush(f->qs), 0);
	assert_int_equal(a.ok, 1);
}

/*
 * The keys of reports (queued once only) are forgotten after keep
 * seconds: an old one goes, a recent one stays and still refuses its
 * report again; nothing else is touched.
 */
static void
test_keys_prune(void **state)
{
	struct fixture	*f = *state;
	time_t		 keep = 60 * 86400;

	clock_test_shift(-(keep + 86400));
	keyed_message(f, "tls/1/2/old.test");
	clock_test_shift(-(keep - 86400));
	keyed_message(f, "tls/3/4/recent.test");
	clock_test_shift(0);
	keyed_message(f, "tls/5/6/now.test");
	assert_int_equal(qstore_key_exists(f->qs, "tls/1/2/old.test"), 1);
	assert_int_equal(qstore_keys_prune(f->qs, walltime(), keep), 1);
	assert_int_equal(qstore_key_exists(f->qs, "tls/1/2/old.test"), 0);
	assert_int_equal(qstore_key_exists(f->qs, "tls/3/4/recent.test"), 1);
	assert_int_equal(qstore_key_exists(f->qs, "tls/5/6/now.test"), 1);
	/* again, and after a reopen: the rest stays */
	assert_int_equal(qstore_keys_prune(f->qs, walltime(), keep), 0);
	reopen(f, 16 * 1024 * 1024);
	assert_int_equal(qstore_key_exists(f->qs, "tls/3/4/recent.test"), 1);
	/* two days on, the recent one is old too */
	assert_int_equal(qstore_keys_prune(f->qs, walltime() + 2 * 86400,
	    keep), 1);
	assert_int_equal(qstore_key_exists(f->qs, "tls/3/4/recent.test"), 0);
	assert_int_equal(qstore_key_exists(f->qs, "tls/5/6/now.test"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keys_prune, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_envelopes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memory_budget, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schedule_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_release, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_envelope, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_growth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batch_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_filesystem, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

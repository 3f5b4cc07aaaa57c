/*
 * lib/imsg.c: framing, fd passing, partial reads and writes, the size
 * limit, and hostile frames.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "imsg.h"

struct pair {
	int		 sv[2];
	struct imsgbuf	 a, b;
};

static int
setup(void **state)
{
	struct pair	*p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    p->sv), 0);
	imsgbuf_init(&p->a, p->sv[0]);
	imsgbuf_init(&p->b, p->sv[1]);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair	*p = *state;

	imsgbuf_clear(&p->a);
	imsgbuf_clear(&p->b);
	close(p->sv[0]);
	close(p->sv[1]);
	free(p);
	return 0;
}

/* Read until one message is complete (the socket is non-blocking). */
static int
read_one(struct imsgbuf *ib, struct imsg *m)
{
	int	 r;

	for (;;) {
		if ((r = imsg_get(ib, m)) != 0)
			return r;
		if (imsgbuf_read(ib) <= 0)
			return imsg_get(ib, m);
	}
}

static void
test_round_trip(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	uint32_t	 v = 0xdeadbeef, got;

	assert_int_equal(imsg_compose(&p->a, 7, 42, 0, -1, &v, sizeof(v)), 0);
	assert_int_equal(imsg_compose(&p->a, 8, 43, 1234, -1, NULL, 0), 0);
	assert_int_equal(imsgbuf_queuelen(&p->a), 2);
	assert_int_equal(imsgbuf_queuebytes(&p->a), 2 * IMSG_HEADER_SIZE +
	    sizeof(v));
	assert_int_equal(imsgbuf_flush(&p->a), 0);
	assert_int_equal(imsgbuf_queuelen(&p->a), 0);
	assert_int_equal(imsgbuf_queuebytes(&p->a), 0);

	assert_int_equal(read_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, 7);
	assert_int_equal(m.hdr.peerid, 42);
	assert_int_equal(m.hdr.pid, getpid());
	assert_int_equal(m.fd, -1);
	assert_int_equal(imsg_get_data(&m, &got, sizeof(got)), 0);
	assert_int_equal(got, v);
	/* a wrong expected size is refused */
	assert_int_equal(imsg_get_data(&m, &got, 2), -1);
	imsg_free(&m);

	assert_int_equal(read_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, 8);
	assert_int_equal(m.hdr.pid, 1234);
	assert_int_equal(m.len, 0);
	assert_null(m.data);
	imsg_free(&m);
	assert_int_equal(imsg_get(&p->b, &m), 0);
}

static void
test_fd_passing(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	struct stat	 st1, st2;
	char		 path[] = "/tmp/test_imsg.XXXXXX";
	int		 fd, i;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_int_equal(fstat(fd, &st1), 0);

	/* interleave messages with and without fds */
	assert_int_equal(imsg_compose(&p->a, 1, 0, 0, -1, "x", 1), 0);
	assert_int_equal(imsg_compose(&p->a, 2, 0, 0, dup(fd), "y", 1), 0);
	assert_int_equal(imsg_compose(&p->a, 3, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsg_compose(&p->a, 4, 0, 0, dup(fd), NULL, 0), 0);
	assert_int_equal(imsgbuf_flush(&p->a), 0);
	close(fd);

	for (i = 1; i <= 4; i++) {
		assert_int_equal(read_one(&p->b, &m), 1);
		assert_int_equal(m.hdr.type, i);
		if (i % 2 == 0) {
			assert_true(m.fd >= 0);
			assert_int_equal(fstat(m.fd, &st2), 0);
			assert_int_equal(st1.st_ino, st2.st_ino);
			assert_int_equal(st1.st_dev, st2.st_dev);
			close(m.fd);
		} else
			assert_int_equal(m.fd, -1);
		imsg_free(&m);
	}
}

static void
test_partial_reads(void **state)
{
	struct pair	*p = *state;
	struct imsgbuf	 raw;
	struct imsg	 m;
	char		 payload[300];
	size_t		 i, total;

	/* Build the frame with a scratch imsgbuf, then trickle its bytes. */
	memset(payload, 'p', sizeof(payload));
	imsgbuf_init(&raw, -1);
	assert_int_equal(imsg_compose(&raw, 5, 9, 0, -1, payload,
	    sizeof(payload)), 0);
	total = TAILQ_FIRST(&raw.wq)->len;
	for (i = 0; i < total; i++) {
		assert_int_equal(write(p->sv[0], TAILQ_FIRST(&raw.wq)->data + i,
		    1), 1);
		assert_int_equal(imsgbuf_read(&p->b), 1);
		if (i + 1 < total)
			assert_int_equal(imsg_get(&p->b, &m), 0);
	}
	assert_int_equal(imsg_get(&p->b, &m), 1);
	assert_int_equal(m.len, sizeof(payload));
	assert_memory_equal(m.data, payload, sizeof(payload));
	imsg_free(&m);
	imsgbuf_clear(&raw);
}

static void
test_maximum_size(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	uint8_t		*big;
	int		 got = 0;

	big = malloc(IMSG_MAX_PAYLOAD + 1);
	assert_non_null(big);
	memset(big, 0xab, IMSG_MAX_PAYLOAD + 1);
	/* over the maximum: refused at compose, nothing queued */
	errno = 0;
	assert_int_equal(imsg_compose(&p->a, 1, 0, 0, -1, big,
	    IMSG_MAX_PAYLOAD + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(imsgbuf_queuelen(&p->a), 0);
	/* at the maximum: delivered intact, across partial writes/reads */
	assert_int_equal(imsg_compose(&p->a, 1, 0, 0, -1, big,
	    IMSG_MAX_PAYLOAD), 0);
	assert_int_equal(imsg_compose(&p->a, 2, 0, 0, -1, big,
	    IMSG_MAX_PAYLOAD), 0);
	while (got < 2) {
		assert_int_equal(imsgbuf_write(&p->a), 0);
		while (imsgbuf_read(&p->b) > 0)
			;
		while (imsg_get(&p->b, &m) == 1) {
			got++;
			assert_int_equal(m.hdr.type, got);
			assert_int_equal(m.len, IMSG_MAX_PAYLOAD);
			assert_memory_equal(m.data, big, IMSG_MAX_PAYLOAD);
			imsg_free(&m);
		}
	}
	free(big);
}

static void
test_nonblocking_partial_writes(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	char		 chunk[8192];
	int		 i, n = 200, got = 0;

	/* 1.6 MB queued: the socket buffer fills and writes go partial. */
	for (i = 0; i < n; i++) {
		memset(chunk, i & 0xff, sizeof(chunk));
		assert_int_equal(imsg_compose(&p->a, 100, (uint32_t)i, 0, -1,
		    chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(imsgbuf_write(&p->a), 0);
	assert_true(imsgbuf_queuelen(&p->a) > 0);
	/* what is left to write, partial frames included */
	assert_true(imsgbuf_queuebytes(&p->a) > 0);
	assert_true(imsgbuf_queuebytes(&p->a) < n * (IMSG_HEADER_SIZE +
	    sizeof(chunk)));
	while (got < n) {
		assert_int_equal(imsgbuf_write(&p->a), 0);
		while (imsgbuf_read(&p->b) > 0)
			;
		while (imsg_get(&p->b, &m) == 1) {
			assert_int_equal(m.hdr.peerid, (uint32_t)got);
			assert_int_equal(((uint8_t *)m.data)[0], got & 0xff);
			assert_int_equal(((uint8_t *)m.data)[8191], got & 0xff);
			imsg_free(&m);
			got++;
		}
	}
	assert_int_equal(imsgbuf_queuelen(&p->a), 0);
	assert_int_equal(imsgbuf_queuebytes(&p->a), 0);
}

static void
write_raw(int fd, uint32_t type, uint32_t len, uint16_t flags)
{
	struct imsg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	h.flags = flags;
	assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
}

static void
test_garbage_length_too_small(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;

	write_raw(p->sv[0], 1, 3, 0);
	assert_true(imsgbuf_read(&p->b) > 0);
	errno = 0;
	assert_int_equal(imsg_get(&p->b, &m), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_garbage_length_too_large(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;

	write_raw(p->sv[0], 1, IMSG_MAX_SIZE + 1, 0);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), -1);
}

static void
test_garbage_flags_and_missing_fd(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;

	write_raw(p->sv[0], 1, IMSG_HEADER_SIZE, IMSGF_HASFD);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), -1);	/* no fd came */
	imsgbuf_clear(&p->b);
	imsgbuf_init(&p->b, p->sv[1]);
	write_raw(p->sv[0], 1, IMSG_HEADER_SIZE, 0x80);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), -1);	/* unknown flag */
}

/* A frame written with sendmsg(), an fd riding on its first byte. */
static void
write_raw_fd(int sock, uint32_t type, uint16_t flags, int fd)
{
	struct imsg_hdr	 h;
	struct msghdr	 msg;
	struct cmsghdr	*c;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = IMSG_HEADER_SIZE;
	h.flags = flags;
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_len = CMSG_LEN(sizeof(int));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sock, &msg, 0), sizeof(h));
}

/*
 * An fd sent along a message without the fd flag belongs to no message:
 * a protocol error at once, not a descriptor kept for the next message
 * that claims one.
 */
static void
test_stray_fd_is_refused(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	int		 fd;

	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	write_raw_fd(p->sv[0], 1, 0, fd);
	/* the next message claims an fd, and no fd comes with it */
	write_raw(p->sv[0], 2, IMSG_HEADER_SIZE, IMSGF_HASFD);
	assert_true(imsgbuf_read(&p->b) > 0);
	errno = 0;
	assert_int_equal(imsg_get(&p->b, &m), -1);
	assert_int_equal(errno, EBADMSG);

	/* the same with the stray fd's message read alone */
	imsgbuf_clear(&p->b);
	while (read(p->sv[1], &m, sizeof(m)) > 0)
		;
	imsgbuf_init(&p->b, p->sv[1]);
	write_raw_fd(p->sv[0], 1, 0, fd);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), -1);

	/* and a flagged message that comes after a frame with a stray fd */
	imsgbuf_clear(&p->b);
	imsgbuf_init(&p->b, p->sv[1]);
	write_raw_fd(p->sv[0], 1, 0, fd);
	assert_true(imsgbuf_read(&p->b) > 0);
	write_raw_fd(p->sv[0], 2, IMSGF_HASFD, fd);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), -1);
	close(fd);
}

/* A flagged message takes the fd that came with it, after others. */
static void
test_fd_with_its_message(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	int		 fd;

	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(imsg_compose(&p->a, 1, 0, 0, -1, "abc", 3), 0);
	assert_int_equal(imsg_compose(&p->a, 2, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsgbuf_flush(&p->a), 0);
	write_raw_fd(p->sv[0], 3, IMSGF_HASFD, fd);
	close(fd);
	assert_int_equal(read_one(&p->b, &m), 1);
	assert_int_equal(m.fd, -1);
	imsg_free(&m);
	assert_int_equal(read_one(&p->b, &m), 1);
	assert_int_equal(m.fd, -1);
	imsg_free(&m);
	assert_int_equal(read_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, 3);
	assert_true(m.fd >= 0);
	close(m.fd);
	imsg_free(&m);
}

static void
test_random_garbage(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;
	uint8_t		 junk[4096];
	size_t		 i;
	int		 r, round;

	/* Random bytes: every outcome is "incomplete" or "bad", never a crash
	 * or a frame bigger than the limit. */
	srandom(1);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = random() & 0xff;
		imsgbuf_clear(&p->b);
		close(p->sv[0]);
		close(p->sv[1]);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK, 0, p->sv), 0);
		imsgbuf_init(&p->b, p->sv[1]);
		assert_int_equal(write(p->sv[0], junk, sizeof(junk)),
		    sizeof(junk));
		imsgbuf_read(&p->b);
		while ((r = imsg_get(&p->b, &m)) == 1) {
			assert_true(m.len <= IMSG_MAX_PAYLOAD);
			if (m.fd != -1)
				close(m.fd);
			imsg_free(&m);
		}
		assert_true(r == 0 || r == -1);
	}
}

static void
test_truncated_frame_then_eof(void **state)
{
	struct pair	*p = *state;
	struct imsg	 m;

	write_raw(p->sv[0], 1, IMSG_HEADER_SIZE + 100, 0);
	assert_int_equal(write(p->sv[0], "abc", 3), 3);
	shutdown(p->sv[0], SHUT_WR);
	assert_true(imsgbuf_read(&p->b) > 0);
	assert_int_equal(imsg_get(&p->b, &m), 0);	/* incomplete */
	assert_int_equal(imsgbuf_read(&p->b), 0);	/* then EOF */
	assert_int_equal(imsg_get(&p->b, &m), 0);
}

static void
test_write_to_closed_peer(void **state)
{
	struct pair	*p = *state;

	close(p->sv[1]);
	p->sv[1] = -1;
	assert_int_equal(imsg_compose(&p->a, 1, 0, 0, -1, "x", 1), 0);
	assert_int_equal(imsgbuf_write(&p->a), -1);
	assert_int_equal(errno, EPIPE);
	p->sv[1] = open("/dev/null", O_RDONLY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_partial_reads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_maximum_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nonblocking_partial_writes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_length_too_small,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_length_too_large,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_garbage_flags_and_missing_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_fd_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_with_its_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_garbage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_frame_then_eof,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_to_closed_peer,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

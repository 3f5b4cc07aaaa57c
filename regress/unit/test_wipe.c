/*
 * Secrets are wiped before their memory goes back to the heap (issue
 * 18): a received imsg's payload at imsg_free() (SASL passwords, SRS and
 * DKIM keys ride in them), and a struct buf's old block when it grows
 * and the bytes it gives up at buf_consume() (an AUTH line passes
 * through the session's input buffer), and a table's values when the
 * parent frees a table (a relay's password, a password hash).
 *
 * Observed by looking at the freed block: under ASan it sits poisoned in
 * the quarantine and is unpoisoned for the look; with glibc's malloc a
 * block this small goes to its per-thread cache, which writes only the
 * block's first 16 bytes.  The first 32 bytes are not looked at.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "imsg.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define WIPE_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPE_ASAN	1
#endif
#endif
#ifdef WIPE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define SECRET_LEN	512
#define SKIP		32

/* How many bytes of the freed block at addr still hold `mark`. */
static size_t
stale(uintptr_t addr, size_t len, unsigned char mark)
{
	volatile const unsigned char	*p = (volatile const unsigned char *)addr;
	size_t				 i, n = 0;

#ifdef WIPE_ASAN
	__asan_unpoison_memory_region((void *)addr, len);
#endif
	for (i = SKIP; i < len; i++)
		if (p[i] == mark)
			n++;
#ifdef WIPE_ASAN
	__asan_poison_memory_region((void *)addr, len);
#endif
	return n;
}

static void
test_imsg_payload_wiped_at_free(void **state)
{
	struct imsgbuf	 a, b;
	struct imsg	 m;
	unsigned char	 secret[SECRET_LEN];
	uintptr_t	 addr;
	ssize_t		 n;
	int		 sv[2], r;

	memset(secret, 'S', sizeof(secret));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	assert_int_equal(imsg_compose(&a, 1, 0, 0, -1, secret,
	    sizeof(secret)), 0);
	assert_int_equal(imsgbuf_flush(&a), 0);
	while ((r = imsg_get(&b, &m)) == 0) {
		n = imsgbuf_read(&b);
		assert_true(n > 0);
	}
	assert_int_equal(r, 1);
	assert_int_equal(m.len, SECRET_LEN);
	addr = (uintptr_t)m.data;
	/* the receiver has it... */
	assert_int_equal(stale(addr, SECRET_LEN, 'S'), SECRET_LEN - SKIP);
	imsg_free(&m);
	/* ...and once done with it, the heap does not */
	assert_int_equal(stale(addr, SECRET_LEN, 'S'), 0);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_buf_growth_wipes_the_old_block(void **state)
{
	struct buf	 b;
	char		 secret[200];
	uintptr_t	 old;

	memset(secret, 'K', sizeof(secret));
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_add(&b, secret, sizeof(secret)), 0);
	old = (uintptr_t)b.data;
	/* past its first 256 bytes: a new block */
	assert_int_equal(buf_add(&b, secret, sizeof(secret)), 0);
	assert_true((uintptr_t)b.data != old);
	assert_int_equal(b.len, 2 * sizeof(secret));
	assert_true(b.data[0] == 'K' && b.data[b.len - 1] == 'K' &&
	    b.data[b.len] == '\0');
	assert_int_equal(stale(old, sizeof(secret), 'K'), 0);
	explicit_bzero(b.data, b.len);
	buf_free(&b);
}

static void
test_buf_consume_wipes_what_it_gives_up(void **state)
{
	struct buf	 b;
	size_t		 had, i;

	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_addstr(&b, "AUTH PLAIN c2VjcmV0\r\nQUIT\r\n"),
	    0);
	had = b.len;
	buf_consume(&b, strlen("AUTH PLAIN c2VjcmV0\r\n"));
	assert_string_equal((char *)b.data, "QUIT\r\n");
	/* where the moved bytes were, up to the old end: nothing */
	for (i = b.len; i < had; i++)
		assert_int_equal(b.data[i], 0);
	buf_consume(&b, b.len);
	assert_int_equal(b.len, 0);
	for (i = 0; i < had; i++)
		assert_int_equal(b.data[i], 0);
	buf_free(&b);
}

static void
test_table_values_wiped_at_free(void **state)
{
	struct table		*t;
	struct table_entry	*te;
	char			 secret[120];
	uintptr_t		 addr;

	memset(secret, 'P', sizeof(secret) - 1);
	secret[sizeof(secret) - 1] = '\0';
	t = xcalloc(1, sizeof(*t));
	TAILQ_INIT(&t->entries);
	te = xcalloc(1, sizeof(*te));
	te->key = xstrdup("relay.example");
	te->value = xstrdup(secret);
	TAILQ_INSERT_TAIL(&t->entries, te, entry);
	t->nentries = 1;
	addr = (uintptr_t)te->value;
	config_table_free(t);
	assert_int_equal(stale(addr, sizeof(secret) - 1, 'P'), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imsg_payload_wiped_at_free),
		cmocka_unit_test(test_buf_growth_wipes_the_old_block),
		cmocka_unit_test(test_buf_consume_wipes_what_it_gives_up),
		cmocka_unit_test(test_table_values_wiped_at_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * smtpd/index.c: sessions found by id and counted per client network,
 * through the tables' growth past their first buckets, and with ids that
 * share a bucket.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtpd/smtp.h"

#define N	5000		/* past the 256 buckets a table starts with */

static void
net_v4(struct client_net *n, uint32_t a, int prefix)
{
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(a);
	client_net_from(n, (struct sockaddr *)&sin, prefix, 64);
}

static void
test_find_by_id(void **state)
{
	struct session_index	 x;
	struct session		*s;
	size_t			 i;

	s = calloc(N, sizeof(*s));
	assert_non_null(s);
	session_index_init(&x);
	for (i = 0; i < N; i++) {
		s[i].id = (uint32_t)i + 1;
		session_index_add(&x, &s[i]);
	}
	for (i = 0; i < N; i++)
		assert_ptr_equal(session_index_find(&x, (uint32_t)i + 1), &s[i]);
	assert_null(session_index_find(&x, 0));
	assert_null(session_index_find(&x, N + 1));
	/* every other one closes; the rest are still found */
	for (i = 0; i < N; i += 2)
		session_index_del(&x, &s[i]);
	for (i = 0; i < N; i++)
		if (i % 2 == 0)
			assert_null(session_index_find(&x, (uint32_t)i + 1));
		else
			assert_ptr_equal(session_index_find(&x,
			    (uint32_t)i + 1), &s[i]);
	session_index_free(&x);
	free(s);
}

/* ids that differ only above the bucket bits: one chain */
static void
test_same_bucket(void **state)
{
	struct session_index	 x;
	struct session		 s[3];

	memset(s, 0, sizeof(s));
	session_index_init(&x);
	s[0].id = 7;
	s[1].id = 7 + (1u << 20);
	s[2].id = 7 + (2u << 20);
	session_index_add(&x, &s[0]);
	session_index_add(&x, &s[1]);
	session_index_add(&x, &s[2]);
	session_index_del(&x, &s[1]);
	assert_ptr_equal(session_index_find(&x, s[0].id), &s[0]);
	assert_null(session_index_find(&x, s[1].id));
	assert_ptr_equal(session_index_find(&x, s[2].id), &s[2]);
	session_index_free(&x);
}

static void
test_net_count(void **state)
{
	struct session_index	 x;
	struct session		*s;
	struct client_net	 net, other, none;
	size_t			 i;

	s = calloc(N, sizeof(*s));
	assert_non_null(s);
	session_index_init(&x);
	/* N sessions from N / 10 addresses under /32 */
	for (i = 0; i < N; i++) {
		s[i].id = (uint32_t)i + 1;
		net_v4(&s[i].net, 0x7f0a0000 + (uint32_t)(i / 10), 32);
		session_index_add(&x, &s[i]);
	}
	net_v4(&net, 0x7f0a0000 + 3, 32);
	assert_int_equal(session_index_net_count(&x, &net), 10);
	/* the same address under another prefix is another network */
	net_v4(&other, 0x7f0a0000 + 3, 24);
	assert_int_equal(session_index_net_count(&x, &other), 0);
	net_v4(&other, 0x0a000001, 32);
	assert_int_equal(session_index_net_count(&x, &other), 0);
	for (i = 30; i < 40; i++)
		session_index_del(&x, &s[i]);
	assert_int_equal(session_index_net_count(&x, &net), 0);
	assert_int_equal(x.nnets, N / 10 - 1);
	session_index_del(&x, &s[40]);
	net_v4(&net, 0x7f0a0000 + 4, 32);
	assert_int_equal(session_index_net_count(&x, &net), 9);
	/* family 0 (no network) is never counted */
	memset(&none, 0, sizeof(none));
	assert_int_equal(session_index_net_count(&x, &none), 0);
	session_index_free(&x);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_by_id),
		cmocka_unit_test(test_same_bucket),
		cmocka_unit_test(test_net_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

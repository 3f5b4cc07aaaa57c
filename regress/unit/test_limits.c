/*
 * smtpd/limits.c: a client's network by prefix (IPv4 and IPv6), the data
 * rate window, and AUTH failures counted across sessions.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "smtpd/limits.h"

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

static void
net_of(struct client_net *n, const char *s, int v4, int v6)
{
	struct sockaddr_storage	 ss = addr(s);

	client_net_from(n, (struct sockaddr *)&ss, v4, v6);
}

static int
same(const char *a, const char *b, int v4, int v6)
{
	struct client_net	 na, nb;

	net_of(&na, a, v4, v6);
	net_of(&nb, b, v4, v6);
	return client_net_equal(&na, &nb);
}

static void
test_ipv6_prefix(void **state)
{
	struct client_net	 n;
	struct sockaddr_storage	 ss;
	char			 str[CLIENT_NET_STRMAX];
	int			 i;

	/* 16 addresses of one /64 are one client */
	for (i = 0; i < 16; i++) {
		char	 a[64];

		snprintf(a, sizeof(a), "2001:db8:1:2:%x::%x", i * 0x1111,
		    i + 1);
		assert_true(same("2001:db8:1:2::1", a, 32, 64));
		/* but not with /128 */
		if (i > 0)
			assert_false(same("2001:db8:1:2::1", a, 32, 128));
	}
	assert_false(same("2001:db8:1:2::1", "2001:db8:1:3::1", 32, 64));
	/* prefix lengths that are not a multiple of 8 */
	assert_true(same("2001:db8:1:ff::", "2001:db8:1:f0::", 32, 60));
	assert_false(same("2001:db8:1:ff::", "2001:db8:1:e0::", 32, 60));
	assert_true(same("2001:db8:1:ff::", "2001:db8:1:e0::", 32, 58));
	net_of(&n, "2001:db8:1:2:3:4:5:6", 32, 64);
	client_net_str(&n, str, sizeof(str));
	assert_string_equal(str, "2001:db8:1:2::/64");
	ss = addr("2001:db8:1:2:ffff::");
	assert_true(client_net_contains(&n, (struct sockaddr *)&ss));
	ss = addr("2001:db8:1:1:ffff::");
	assert_false(client_net_contains(&n, (struct sockaddr *)&ss));
	ss = addr("192.0.2.1");
	assert_false(client_net_contains(&n, (struct sockaddr *)&ss));
	/* out of range: the whole address */
	net_of(&n, "2001:db8::1", 32, 200);
	assert_int_equal(n.prefixlen, 128);
}

static void
test_ipv4_prefix(void **state)
{
	struct client_net	 n;
	char			 str[CLIENT_NET_STRMAX];

	assert_false(same("127.0.0.1", "127.0.0.2", 32, 64));
	assert_true(same("127.0.0.1", "127.0.0.2", 24, 64));
	assert_true(same("127.0.0.1", "127.0.0.254", 24, 64));
	assert_false(same("127.0.0.1", "127.0.1.1", 24, 64));
	assert_true(same("10.0.0.1", "10.0.0.6", 29, 64));
	assert_false(same("10.0.0.1", "10.0.0.9", 29, 64));
	assert_false(same("10.0.0.1", "::ffff:10.0.0.1", 32, 128));
	net_of(&n, "192.0.2.77", 24, 64);
	client_net_str(&n, str, sizeof(str));
	assert_string_equal(str, "192.0.2.0/24");
	net_of(&n, "192.0.2.77", 32, 64);
	client_net_str(&n, str, sizeof(str));
	assert_string_equal(str, "192.0.2.77/32");
	net_of(&n, "192.0.2.77", 0, 64);
	client_net_str(&n, str, sizeof(str));
	assert_string_equal(str, "0.0.0.0/0");
}

static void
test_rate(void **state)
{
	struct rate_window	 w;
	uint64_t		 avg;

	rate_start(&w, 1000);
	rate_add(&w, 600);
	/* 600 bytes in 10 s: 60 bytes/s */
	assert_true(rate_check(&w, 1010, 100, &avg));
	assert_int_equal(avg, 60);
	/* the window restarted */
	assert_int_equal(w.start, 1010);
	assert_int_equal(w.bytes, 0);
	rate_add(&w, 2000);
	assert_false(rate_check(&w, 1020, 100, &avg));
	assert_int_equal(avg, 200);
	/* nothing at all is below any minimum; 0 is no minimum */
	assert_true(rate_check(&w, 1030, 1, &avg));
	assert_false(rate_check(&w, 1040, 0, &avg));
}

static void
test_authfail_net(void **state)
{
	struct authfail		 af;
	struct client_net	 n, other;
	int			 i;

	authfail_init(&af, 16, 3, 60);
	net_of(&n, "192.0.2.1", 24, 64);
	net_of(&other, "198.51.100.1", 24, 64);
	/* different accounts from one network: the network is locked */
	assert_int_equal(authfail_record(&af, &n, "a", 100), 0);
	assert_int_equal(authfail_record(&af, &n, "b", 101), 0);
	assert_int_equal(authfail_locked(&af, &n, "c", 102), 0);
	assert_int_equal(authfail_record(&af, &n, "c", 102), 1);
	assert_int_equal(authfail_locked(&af, &n, "d", 103), 59);
	assert_int_equal(authfail_locked(&af, &other, "d", 103), 0);
	/* a neighbour in the same /24 too */
	net_of(&other, "192.0.2.200", 24, 64);
	assert_true(authfail_locked(&af, &other, "d", 103) > 0);
	/* over after the lockout time */
	assert_int_equal(authfail_locked(&af, &n, "d", 162), 0);
	/* failures older than the lockout time no longer count */
	for (i = 0; i < 2; i++)
		assert_int_equal(authfail_record(&af, &n, "x", 200), 0);
	assert_int_equal(authfail_record(&af, &n, "y", 300), 0);
	assert_int_equal(authfail_locked(&af, &n, "z", 300), 0);
	authfail_free(&af);
}

static void
test_authfail_account(void **state)
{
	struct authfail		 af;
	struct client_net	 n;
	char			 a[64];
	int			 i;

	authfail_init(&af, 64, 3, 60);
	/* one account guessed from many networks */
	for (i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "10.%d.0.1", i);
		net_of(&n, a, 24, 64);
		assert_int_equal(authfail_record(&af, &n, "Alice", 100 + i),
		    i == 2);
	}
	net_of(&n, "10.9.0.1", 24, 64);
	assert_true(authfail_locked(&af, &n, "alice", 110) > 0);
	assert_int_equal(authfail_locked(&af, &n, "bob", 110), 0);
	assert_int_equal(authfail_locked(&af, &n, NULL, 110), 0);
	authfail_free(&af);

	/* 0: nothing counted */
	authfail_init(&af, 64, 0, 60);
	for (i = 0; i < 10; i++)
		assert_int_equal(authfail_record(&af, &n, "alice", 100), 0);
	assert_int_equal(authfail_locked(&af, &n, "alice", 100), 0);
	authfail_free(&af);
}

static void
test_authfail_bounded(void **state)
{
	struct authfail		 af;
	struct client_net	 n, locked;
	char			 a[64];
	int			 i;

	authfail_init(&af, 8, 2, 60);
	net_of(&locked, "192.0.2.1", 32, 64);
	authfail_record(&af, &locked, NULL, 100);
	assert_int_equal(authfail_record(&af, &locked, NULL, 100), 1);
	/* a flood of other networks does not push the locked one out */
	for (i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 200, i % 200 + 1);
		net_of(&n, a, 32, 64);
		authfail_record(&af, &n, NULL, 101);
	}
	assert_true(authfail_locked(&af, &locked, NULL, 102) > 0);
	authfail_free(&af);

	/*
	 * A table of network lockouts: a new network's failure takes the
	 * slot of the one that failed least recently, so that a flood of
	 * networks cannot stop failures being counted.
	 */
	authfail_init(&af, 4, 1, 60);
	for (i = 0; i < 4; i++) {
		snprintf(a, sizeof(a), "10.1.0.%d", i + 1);
		net_of(&n, a, 32, 64);
		assert_int_equal(authfail_record(&af, &n, NULL, 100 + i), 1);
	}
	net_of(&n, "10.2.0.1", 32, 64);
	assert_int_equal(authfail_locked(&af, &n, NULL, 110), 0);
	assert_int_equal(authfail_record(&af, &n, NULL, 110), 1);
	assert_int_equal(authfail_locked(&af, &n, NULL, 111), 59);
	net_of(&locked, "10.1.0.1", 32, 64);
	assert_int_equal(authfail_locked(&af, &locked, NULL, 111), 0);
	net_of(&locked, "10.1.0.4", 32, 64);
	assert_int_equal(authfail_locked(&af, &locked, NULL, 111), 52);
	authfail_free(&af);

	/*
	 * An account's lockout is never pushed out; only a table of them
	 * alone (as many locked accounts as slots) stops counting, and then
	 * nobody new is let in until one ends: closed, not open.
	 */
	authfail_init(&af, 4, 1, 60);
	for (i = 0; i < 4; i++) {
		snprintf(a, sizeof(a), "10.3.0.%d", i + 1);
		net_of(&n, a, 32, 64);
		snprintf(a, sizeof(a), "user%d", i);
		authfail_record(&af, &n, a, 100 + i);
	}
	for (i = 0; i < 4; i++) {
		snprintf(a, sizeof(a), "user%d", i);
		net_of(&n, "192.0.2.99", 32, 64);
		assert_true(authfail_locked(&af, &n, a, 110) > 0);
	}
	net_of(&n, "10.4.0.1", 32, 64);
	assert_int_equal(authfail_locked(&af, &n, "someone", 110), 50);
	assert_int_equal(authfail_locked(&af, &n, "someone", 160), 0);
	authfail_free(&af);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_ipv4_prefix),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_authfail_net),
		cmocka_unit_test(test_authfail_account),
		cmocka_unit_test(test_authfail_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

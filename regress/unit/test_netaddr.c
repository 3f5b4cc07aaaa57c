/*
 * lib/netaddr.c: where an address leads (RFC 5321 5.1 loop checks for the
 * mta, and the strict rules of reportd's TLS-RPT POSTs): loopback,
 * unspecified, our listening addresses, link-local and multicast only
 * when strict, IPv4-mapped forms, the allowed networks, named hosts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/* text ("1.2.3.4" or "::1") and port as a sockaddr */
static struct sockaddr *
sa(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return (struct sockaddr *)ss;
}

static void
net(struct netaddr_net *n, const char *text, uint16_t port, int prefixlen)
{
	uint8_t	 a[16];
	int	 af = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(af, text, a), 1);
	assert_int_equal(netaddr_net_set(n, af, a, port, prefixlen), 0);
}

static enum netaddr_class
cls(const char *text, int named, const struct netaddr_rules *r)
{
	struct sockaddr_storage	 ss;

	return netaddr_classify(sa(text, 443, &ss), named, r);
}

static void
test_default(void **state)
{
	struct netaddr_rules	 r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(cls("127.0.0.1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("127.3.4.5", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("::1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("::ffff:127.0.0.9", 0, &r), NETADDR_LOOPBACK);
	/* IPv6 forms that embed IPv4 loopback: compatible, NAT64, 6to4 */
	assert_int_equal(cls("::127.0.0.1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("64:ff9b::127.0.0.1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("2002:7f00:1::1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("64:ff9b::0.0.0.0", 0, &r), NETADDR_UNSPEC);
	assert_int_equal(cls("2002:c000:201::1", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("64:ff9b:1::127.0.0.1", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("0.0.0.0", 0, &r), NETADDR_UNSPEC);
	assert_int_equal(cls("0.1.2.3", 0, &r), NETADDR_UNSPEC);
	assert_int_equal(cls("::", 0, &r), NETADDR_UNSPEC);
	assert_int_equal(cls("192.0.2.1", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("10.0.0.1", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("2001:db8::1", 0, &r), NETADDR_USABLE);
	/* the mta's rules: link-local and multicast are not its concern */
	assert_int_equal(cls("169.254.169.254", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("fe80::1", 0, &r), NETADDR_USABLE);
	/* no rules: nothing refused */
	assert_int_equal(cls("127.0.0.1", 0, NULL), NETADDR_USABLE);
	/* a named host (smarthost): loopback is the administrator's */
	assert_int_equal(cls("127.0.0.1", 1, &r), NETADDR_USABLE);
}

static void
test_strict(void **state)
{
	struct netaddr_rules	 r;

	memset(&r, 0, sizeof(r));
	r.strict = 1;
	assert_int_equal(cls("169.254.169.254", 0, &r), NETADDR_LINKLOCAL);
	assert_int_equal(cls("::ffff:169.254.1.1", 0, &r),
	    NETADDR_LINKLOCAL);
	assert_int_equal(cls("fe80::1", 0, &r), NETADDR_LINKLOCAL);
	assert_int_equal(cls("febf::1", 0, &r), NETADDR_LINKLOCAL);
	assert_int_equal(cls("fec0::1", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("224.0.0.1", 0, &r), NETADDR_MULTICAST);
	assert_int_equal(cls("239.255.255.255", 0, &r), NETADDR_MULTICAST);
	assert_int_equal(cls("255.255.255.255", 0, &r), NETADDR_MULTICAST);
	assert_int_equal(cls("ff02::1", 0, &r), NETADDR_MULTICAST);
	assert_int_equal(cls("169.253.255.255", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("223.255.255.255", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("127.0.0.1", 0, &r), NETADDR_LOOPBACK);
	assert_string_equal(netaddr_class_name(NETADDR_LINKLOCAL),
	    "a link-local address");
}

static void
test_allow(void **state)
{
	struct netaddr_rules	 r;
	struct netaddr_net	 allow[2];

	net(&allow[0], "127.0.0.0", 0, 24);
	net(&allow[1], "169.254.0.0", 0, 16);
	memset(&r, 0, sizeof(r));
	r.strict = 1;
	r.allow = allow;
	r.nallow = 2;
	assert_int_equal(cls("127.0.0.5", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("::ffff:127.0.0.5", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("127.0.1.5", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("169.254.3.3", 0, &r), NETADDR_USABLE);
	assert_int_equal(cls("::1", 0, &r), NETADDR_LOOPBACK);
	assert_int_equal(cls("224.0.0.1", 0, &r), NETADDR_MULTICAST);
}

static void
test_self(void **state)
{
	struct netaddr_rules	 r;
	struct netaddr_net	 listen[2], allow[1];
	struct sockaddr_storage	 ss;

	net(&listen[0], "192.0.2.7", 25, 0);
	net(&listen[1], "::", 587, 0);
	net(&allow[0], "127.0.0.0", 0, 8);
	memset(&r, 0, sizeof(r));
	r.listen = listen;
	r.nlisten = 2;
	r.allow = allow;
	r.nallow = 1;
	/* any port of a listening address, whatever is allowed */
	assert_int_equal(cls("192.0.2.7", 0, &r), NETADDR_SELF);
	assert_int_equal(cls("127.0.0.1", 0, &r), NETADDR_SELF);
	assert_int_equal(cls("192.0.2.8", 0, &r), NETADDR_USABLE);
	/* named: the same port only */
	assert_int_equal(netaddr_classify(sa("192.0.2.7", 25, &ss), 1, &r),
	    NETADDR_SELF);
	assert_int_equal(netaddr_classify(sa("192.0.2.7", 26, &ss), 1, &r),
	    NETADDR_USABLE);
	assert_int_equal(netaddr_classify(sa("::1", 587, &ss), 1, &r),
	    NETADDR_SELF);
}

static void
test_text(void **state)
{
	struct sockaddr_storage	 ss;
	char			 buf[64];

	assert_string_equal(netaddr_text(sa("::ffff:127.0.0.2", 1, &ss),
	    buf, sizeof(buf)), "::ffff:127.0.0.2");
	assert_string_equal(netaddr_text(sa("2001:db8::1", 1, &ss), buf,
	    sizeof(buf)), "2001:db8::1");
	assert_string_equal(netaddr_text(sa("192.0.2.1", 1, &ss), buf, 4),
	    "?");
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(netaddr_classify((struct sockaddr *)&ss, 0, NULL),
	    NETADDR_USABLE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

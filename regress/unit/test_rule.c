/*
 * lib/rule.c: first-match evaluation of `match` rules.
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

#include "config.h"
#include "rule.h"

static struct postern_conf *
conf_from(const char *text)
{
	struct postern_conf	*c;

	c = parse_config_buffer("test.conf", text, strlen(text), PARSE_NOFILES);
	assert_non_null(c);
	return c;
}

static struct sockaddr_storage
ip(const char *s)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':') != NULL) {
		ss.ss_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s,
		    &((struct sockaddr_in *)&ss)->sin_addr), 1);
	}
	return ss;
}

static const char *
decide(struct postern_conf *c, const char *client, const char *rcpt,
    const char *tag)
{
	struct sockaddr_storage	 ss = ip(client);
	const struct rule	*r;

	r = rule_match(c, (struct sockaddr *)&ss, NULL, rcpt, tag);
	if (r == NULL)
		return "none";
	return r->reject ? "reject" : r->action;
}

static void
test_default_is_no_relay(void **state)
{
	struct postern_conf	*c = conf_from(
	    "hostname mx.example.test\n"
	    "table domains { \"example.test\" }\n"
	    "action \"local\" maildir\n"
	    "match from any for domain <domains> action \"local\"\n");

	assert_string_equal(decide(c, "192.0.2.7", "bob@example.test", ""),
	    "local");
	assert_string_equal(decide(c, "192.0.2.7", "bob@EXAMPLE.test", ""),
	    "local");
	/* an open-relay probe: nothing matches */
	assert_string_equal(decide(c, "192.0.2.7", "x@elsewhere.test", ""),
	    "none");
	assert_string_equal(decide(c, "127.0.0.1", "x@elsewhere.test", ""),
	    "none");
	free_config(c);
}

static void
test_local_from_and_for(void **state)
{
	struct postern_conf	*c = conf_from(
	    "hostname mx.example.test\n"
	    "action \"local\" maildir\n"
	    "action \"out\" relay\n"
	    "match from local for local action \"local\"\n"
	    "match from local for any action \"out\"\n");

	assert_string_equal(decide(c, "127.0.0.1", "root@localhost", ""),
	    "local");
	assert_string_equal(decide(c, "127.0.0.1", "root@MX.example.test",
	    ""), "local");
	assert_string_equal(decide(c, "::1", "a@far.test", ""), "out");
	assert_string_equal(decide(c, "::ffff:127.0.0.2", "a@far.test", ""),
	    "out");
	assert_string_equal(decide(c, "198.51.100.1", "root@localhost", ""),
	    "none");
	assert_string_equal(decide(c, "::ffff:198.51.100.1", "a@far.test",
	    ""), "none");
	free_config(c);
}

static void
test_nets_tags_negation_reject(void **state)
{
	struct postern_conf	*c = conf_from(
	    "action \"local\" maildir\n"
	    "table trusted { \"192.0.2.0/24\", \"2001:db8::1\" }\n"
	    "table blocked { \"spam@example.test\" }\n"
	    "match from any for rcpt-to <blocked> reject\n"
	    "match from src <trusted> for any action \"local\"\n"
	    "match from src 203.0.113.0/25 for domain \"example.test\" "
	    "tag \"in\" action \"local\"\n"
	    "match ! from src 198.51.100.0/24 for domain \"other.test\" "
	    "action \"local\"\n");

	assert_string_equal(decide(c, "192.0.2.200", "spam@example.test", ""),
	    "reject");
	assert_string_equal(decide(c, "192.0.2.200", "a@far.test", ""),
	    "local");
	assert_string_equal(decide(c, "2001:db8::1", "a@far.test", ""),
	    "local");
	assert_string_equal(decide(c, "2001:db8::2", "a@far.test", ""),
	    "none");
	assert_string_equal(decide(c, "203.0.113.5", "a@example.test", "in"),
	    "local");
	assert_string_equal(decide(c, "203.0.113.5", "a@example.test", ""),
	    "none");
	assert_string_equal(decide(c, "203.0.113.200", "a@example.test",
	    "in"), "none");
	assert_string_equal(decide(c, "203.0.113.5", "a@other.test", ""),
	    "local");
	assert_string_equal(decide(c, "198.51.100.5", "a@other.test", ""),
	    "none");
	free_config(c);
}

/* match [!]auth: the session authenticated (SMTP AUTH) or not. */
static void
test_auth_criterion(void **state)
{
	struct postern_conf	*c = conf_from(
	    "action \"local\" maildir\n"
	    "action \"out\" relay\n"
	    "action \"guest\" maildir\n"
	    "table domains { \"example.test\" }\n"
	    "table staff { \"carol\" }\n"
	    "match from auth <staff> for domain \"staff.test\" "
	    "action \"local\"\n"
	    "match auth from any for any action \"out\"\n"
	    "match !auth from any for domain <domains> action \"guest\"\n"
	    "match from any for domain <domains> action \"local\"\n");
	struct sockaddr_storage	 ss = ip("192.0.2.9");
	const struct rule	*r;

	/* not authenticated: no relaying, and the !auth rule for ours */
	assert_string_equal(decide(c, "192.0.2.9", "a@far.test", ""), "none");
	assert_string_equal(decide(c, "192.0.2.9", "a@example.test", ""),
	    "guest");
	/* authenticated: relaying, whatever the client's address */
	r = rule_match(c, (struct sockaddr *)&ss, "alice", "a@far.test", "");
	assert_non_null(r);
	assert_string_equal(r->action, "out");
	r = rule_match(c, (struct sockaddr *)&ss, "alice", "a@example.test",
	    "");
	assert_string_equal(r->action, "out");
	/* from auth <T>: only the users listed */
	r = rule_match(c, (struct sockaddr *)&ss, "carol", "x@staff.test", "");
	assert_string_equal(r->action, "local");
	r = rule_match(c, (struct sockaddr *)&ss, "alice", "x@staff.test", "");
	assert_string_equal(r->action, "out");
	free_config(c);
}

static void
test_addr_in_net(void **state)
{
	struct sockaddr_storage	 a = ip("10.1.2.3"), n = ip("10.1.0.0");

	assert_true(rule_addr_in_net((struct sockaddr *)&a, &n, 16));
	assert_false(rule_addr_in_net((struct sockaddr *)&a, &n, 24));
	assert_true(rule_addr_in_net((struct sockaddr *)&a, &n, 0));
	n = ip("::");
	assert_false(rule_addr_in_net((struct sockaddr *)&a, &n, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_no_relay),
		cmocka_unit_test(test_local_from_and_for),
		cmocka_unit_test(test_nets_tags_negation_reject),
		cmocka_unit_test(test_auth_criterion),
		cmocka_unit_test(test_addr_in_net),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

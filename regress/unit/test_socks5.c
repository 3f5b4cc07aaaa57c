/*
 * mta/socks5.c: whole RFC 1928 exchanges with and without RFC 1929
 * authentication, each address type both ways, every reply code, bad
 * versions, refused or unoffered methods, input fed byte by byte or all
 * at once with the tunnelled greeting behind it, garbage, and the limits
 * on what socks5_new() takes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mta/socks5.h"
#include "util.h"

/* What the client has to send now must be exactly `want`. */
static void
expect_out(struct socks5 *s, const void *want, size_t len)
{
	struct buf	 out;

	buf_init(&out, 4096);
	socks5_output(s, &out);
	assert_int_equal(out.len, len);
	if (len > 0)
		assert_memory_equal(out.data, want, len);
	buf_free(&out);
}

static enum socks5_status
feed(struct socks5 *s, const void *data, size_t len, size_t *used)
{
	return socks5_input(s, data, len, used);
}

static void
feed_err(struct socks5 *s, const void *data, size_t len, const char *want)
{
	size_t	 used;

	assert_int_equal(feed(s, data, len, &used), SOCKS5_ERROR);
	if (strstr(socks5_error(s), want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", socks5_error(s),
		    want);
		fail();
	}
	/* Once failed, it stays failed and takes nothing more. */
	assert_int_equal(feed(s, "\x05\x00", 2, &used), SOCKS5_ERROR);
	assert_int_equal(used, 0);
	expect_out(s, NULL, 0);
}

static const uint8_t greet_none[] = { 5, 1, 0 };
static const uint8_t greet_auth[] = { 5, 2, 0, 2 };
static const uint8_t pick_none[] = { 5, 0 };
static const uint8_t pick_auth[] = { 5, 2 };
/* CONNECT mx.example.com:25 */
static const uint8_t req_domain[] = {
	5, 1, 0, 3, 14, 'm', 'x', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	'.', 'c', 'o', 'm', 0, 25,
};
/* Succeeded, bound to 127.0.0.1:1024, then the tunnelled greeting. */
static const uint8_t reply_v4[] = {
	5, 0, 0, 1, 127, 0, 0, 1, 4, 0, '2', '2', '0', ' ', 'h', 'i', '\r',
	'\n',
};

static struct socks5 *
at_reply(void)
{
	struct socks5	*s;
	size_t		 used;

	s = socks5_new("mx.example.com", 25, NULL, NULL);
	assert_non_null(s);
	expect_out(s, greet_none, sizeof(greet_none));
	assert_int_equal(feed(s, pick_none, 2, &used), SOCKS5_NEED_MORE);
	assert_int_equal(used, 2);
	expect_out(s, req_domain, sizeof(req_domain));
	return s;
}

static void
test_no_auth_domain(void **state)
{
	struct socks5	*s;
	size_t		 used;

	s = at_reply();
	assert_string_equal(socks5_error(s), "");
	assert_int_equal(feed(s, reply_v4, sizeof(reply_v4), &used),
	    SOCKS5_DONE);
	/* The SMTP greeting behind the reply is the caller's. */
	assert_int_equal(used, 10);
	assert_string_equal(socks5_bound_addr(s), "127.0.0.1");
	assert_int_equal(socks5_bound_port(s), 1024);
	expect_out(s, NULL, 0);
	/* Done is done: nothing more is taken. */
	assert_int_equal(feed(s, reply_v4 + 10, 8, &used), SOCKS5_DONE);
	assert_int_equal(used, 0);
	socks5_free(s);
}

static void
test_userpass_ipv4(void **state)
{
	static const uint8_t auth_req[] = {
		1, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e', 't',
	};
	static const uint8_t req[] = { 5, 1, 0, 1, 192, 0, 2, 1, 2, 75 };
	/* Bound to 2001:db8::5, port 40000. */
	static const uint8_t reply[] = {
		5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 5, 0x9c, 0x40,
	};
	struct socks5	*s;
	size_t		 used;

	s = socks5_new("192.0.2.1", 587, "alice", "s3cret");
	assert_non_null(s);
	expect_out(s, greet_auth, sizeof(greet_auth));
	assert_int_equal(feed(s, pick_auth, 2, &used), SOCKS5_NEED_MORE);
	expect_out(s, auth_req, sizeof(auth_req));
	assert_int_equal(feed(s, "\x01\x00", 2, &used), SOCKS5_NEED_MORE);
	assert_int_equal(used, 2);
	expect_out(s, req, sizeof(req));
	assert_int_equal(feed(s, reply, sizeof(reply), &used), SOCKS5_DONE);
	assert_int_equal(used, sizeof(reply));
	assert_string_equal(socks5_bound_addr(s), "2001:db8::5");
	assert_int_equal(socks5_bound_port(s), 40000);
	socks5_free(s);

	/* Credentials offered, but the proxy wants none: straight on. */
	s = socks5_new("192.0.2.1", 587, "alice", NULL);
	expect_out(s, greet_auth, sizeof(greet_auth));
	assert_int_equal(feed(s, pick_none, 2, &used), SOCKS5_NEED_MORE);
	expect_out(s, req, sizeof(req));
	socks5_free(s);

	/* An empty password is sent as PLEN 0. */
	s = socks5_new("192.0.2.1", 587, "bob", "");
	expect_out(s, greet_auth, sizeof(greet_auth));
	assert_int_equal(feed(s, pick_auth, 2, &used), SOCKS5_NEED_MORE);
	expect_out(s, "\x01\x03" "bob" "\x00", 6);
	socks5_free(s);
}

static void
test_ipv6_target_and_domain_reply(void **state)
{
	static const uint8_t req[] = {
		5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 1, 0, 25,
	};
	static const uint8_t reply[] = {
		5, 0, 0, 3, 9, 'p', 'r', 'o', 'x', 'y', '.', 'l', 'a', 'n',
		0x01, 0xbb,
	};
	const char	*hosts[] = { "2001:db8::1", "[2001:db8::1]" };
	struct socks5	*s;
	size_t		 used, i;

	for (i = 0; i < 2; i++) {
		s = socks5_new(hosts[i], 25, NULL, NULL);
		assert_non_null(s);
		expect_out(s, greet_none, sizeof(greet_none));
		assert_int_equal(feed(s, pick_none, 2, &used),
		    SOCKS5_NEED_MORE);
		expect_out(s, req, sizeof(req));
		assert_int_equal(feed(s, reply, sizeof(reply), &used),
		    SOCKS5_DONE);
		assert_int_equal(used, sizeof(reply));
		assert_string_equal(socks5_bound_addr(s), "proxy.lan");
		assert_int_equal(socks5_bound_port(s), 443);
		socks5_free(s);
	}
}

/* RFC 1928 6: every reply code, the unassigned ones too. */
static void
test_reply_codes(void **state)
{
	static const char *const want[] = {
		NULL,
		"proxy refused: general SOCKS server failure (reply 1)",
		"proxy refused: connection not allowed by ruleset (reply 2)",
		"proxy refused: network unreachable (reply 3)",
		"proxy refused: host unreachable (reply 4)",
		"proxy refused: connection refused (reply 5)",
		"proxy refused: TTL expired (reply 6)",
		"proxy refused: command not supported (reply 7)",
		"proxy refused: address type not supported (reply 8)",
		"proxy refused: unassigned reply 9",
	};
	struct socks5	*s;
	uint8_t		 reply[10];
	size_t		 code, used;

	for (code = 1; code < sizeof(want) / sizeof(want[0]); code++) {
		s = at_reply();
		memcpy(reply, reply_v4, sizeof(reply));
		reply[1] = (uint8_t)code;
		assert_int_equal(feed(s, reply, sizeof(reply), &used),
		    SOCKS5_ERROR);
		assert_string_equal(socks5_error(s), want[code]);
		socks5_free(s);
	}
	s = at_reply();
	memcpy(reply, reply_v4, sizeof(reply));
	reply[1] = 0xff;
	feed_err(s, reply, sizeof(reply), "unassigned reply 255");
	socks5_free(s);
}

static void
test_bad_versions_and_methods(void **state)
{
	static const struct {
		int		 creds;
		const char	*bytes;
		size_t		 len;
		const char	*want;
	} bad[] = {
		/* An HTTP proxy or something else entirely. */
		{ 0, "HTTP/1.1 400 Bad Request\r\n", 26, "bad version 72" },
		{ 0, "\x04\x00", 2, "not a SOCKS5 proxy" },
		{ 0, "\x05\xff", 2, "no acceptable auth method" },
		{ 1, "\x05\xff", 2, "no acceptable auth method" },
		/* Not offered: user/pass without credentials, GSSAPI. */
		{ 0, "\x05\x02", 2, "none is configured" },
		{ 1, "\x05\x01", 2, "did not offer" },
		/* RFC 1929: wrong subnegotiation version, refused. */
		{ 1, "\x05\x02\x05\x00", 4, "authentication reply" },
		{ 1, "\x05\x02\x01\x01", 4, "rejected the username" },
		/* Replies: wrong version, bad address type, empty name. */
		{ 0, "\x05\x00\x04\x00\x00\x01\x7f\x00\x00\x01\x00\x19", 12,
		    "bad version 4 in the reply" },
		{ 0, "\x05\x00\x05\x00\x00\x02\x7f\x00\x00\x01\x00\x19", 12,
		    "bad address type 2" },
		{ 0, "\x05\x00\x05\x00\x00\x03\x00\x00\x19", 9,
		    "empty domain" },
	};
	struct socks5	*s;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = socks5_new("mx.example.com", 25, bad[i].creds ? "u" : NULL,
		    bad[i].creds ? "p" : NULL);
		feed_err(s, bad[i].bytes, bad[i].len, bad[i].want);
		socks5_free(s);
	}
}

/*
 * The proxy's bytes one at a time: every prefix is NEED_MORE and fully
 * consumed; DONE comes with the last byte of the reply, not before.
 */
static void
test_byte_by_byte(void **state)
{
	static const uint8_t reply_v6[] = {
		5, 0, 0, 4, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 1,
	};
	static const uint8_t reply_dom[] = {
		5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 2,
	};
	struct {
		const uint8_t	*reply;
		size_t		 len;
		const char	*addr;
		uint16_t	 port;
	} cases[] = {
		{ reply_v4, 10, "127.0.0.1", 1024 },
		{ reply_v6, sizeof(reply_v6), "fe80::1", 1 },
		{ reply_dom, sizeof(reply_dom), "abc", 2 },
	};
	uint8_t		 stream[64];
	struct socks5	*s;
	struct buf	 out;
	size_t		 i, c, n, used;
	enum socks5_status st;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		/* Method, auth status, reply and a tunnelled byte. */
		n = 0;
		memcpy(stream, "\x05\x02\x01\x00", 4);
		n = 4;
		memcpy(stream + n, cases[c].reply, cases[c].len);
		n += cases[c].len;
		stream[n++] = '2';
		s = socks5_new("mx.example.com", 25, "u", "p");
		buf_init(&out, 4096);
		socks5_output(s, &out);
		for (i = 0; i < n - 2; i++) {
			st = feed(s, stream + i, 1, &used);
			assert_int_equal(st, SOCKS5_NEED_MORE);
			assert_int_equal(used, 1);
			socks5_output(s, &out);
		}
		assert_int_equal(feed(s, stream + i, 2, &used), SOCKS5_DONE);
		assert_int_equal(used, 1);
		assert_string_equal(socks5_bound_addr(s), cases[c].addr);
		assert_int_equal(socks5_bound_port(s), cases[c].port);
		/* Greeting, RFC 1929 request, CONNECT: all sent, in order. */
		assert_int_equal(out.len, 4 + 5 + sizeof(req_domain));
		assert_memory_equal(out.data, greet_auth, 4);
		assert_memory_equal(out.data + 4, "\x01\x01u\x01p", 5);
		assert_memory_equal(out.data + 9, req_domain,
		    sizeof(req_domain));
		buf_free(&out);
		socks5_free(s);
	}

	/* A truncated reply stays NEED_MORE: nothing is guessed. */
	s = at_reply();
	assert_int_equal(feed(s, reply_v4, 9, &used), SOCKS5_NEED_MORE);
	assert_int_equal(used, 9);
	assert_int_equal(feed(s, "", 0, &used), SOCKS5_NEED_MORE);
	assert_int_equal(used, 0);
	socks5_free(s);
}

/* The proxy answers everything in one go (it should not, but may). */
static void
test_all_at_once(void **state)
{
	uint8_t		 stream[64];
	struct socks5	*s;
	struct buf	 out;
	size_t		 used;

	memcpy(stream, pick_none, 2);
	memcpy(stream + 2, reply_v4, sizeof(reply_v4));
	s = socks5_new("mx.example.com", 25, NULL, NULL);
	buf_init(&out, 4096);
	socks5_output(s, &out);
	assert_int_equal(feed(s, stream, 2 + sizeof(reply_v4), &used),
	    SOCKS5_DONE);
	assert_int_equal(used, 12);
	socks5_output(s, &out);
	assert_int_equal(out.len, 3 + sizeof(req_domain));
	assert_memory_equal(out.data + 3, req_domain, sizeof(req_domain));
	buf_free(&out);
	socks5_free(s);
}

/* Random garbage never crashes, never reads too far, never says DONE. */
static void
test_garbage(void **state)
{
	uint8_t		 junk[300];
	struct socks5	*s;
	size_t		 i, round, used, off, start, chunk, n, dones = 0;
	enum socks5_status st;
	unsigned int	 seed = 12345;
	int		 auth;

	for (round = 0; round < 4000; round++) {
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand_r(&seed);
		/* Garbage behind a valid start, to get past the method. */
		auth = round % 2;
		junk[0] = 5;
		junk[1] = auth ? 2 : 0;
		start = auth ? 4 : 2;
		if (auth) {
			junk[2] = 1;
			junk[3] = 0;
		}
		/* Half the time a plausible reply head, any address type. */
		if (round % 4 >= 2) {
			junk[start] = 5;
			junk[start + 1] = 0;
			junk[start + 3] = round % 5;
		}
		s = socks5_new("mx.example.com", 25, auth ? "u" : NULL,
		    auth ? "p" : NULL);
		chunk = 1 + round % 7;
		off = 0;
		do {
			n = chunk < sizeof(junk) - off ? chunk :
			    sizeof(junk) - off;
			st = feed(s, junk + off, n, &used);
			assert_true(used <= n);
			off += used;
		} while (st == SOCKS5_NEED_MORE && off < sizeof(junk));
		if (st == SOCKS5_ERROR) {
			assert_true(strlen(socks5_error(s)) > 0);
			socks5_free(s);
			continue;
		}
		assert_int_equal(st, SOCKS5_DONE);
		/* Exactly the reply was consumed, its length per its ATYP. */
		assert_int_equal(junk[start], 5);
		assert_int_equal(junk[start + 1], 0);
		switch (junk[start + 3]) {
		case 1:
			assert_int_equal(off, start + 10);
			break;
		case 4:
			assert_int_equal(off, start + 22);
			break;
		case 3:
			assert_true(junk[start + 4] > 0);
			assert_int_equal(off, start + 7 + junk[start + 4]);
			assert_int_equal(strlen(socks5_bound_addr(s)),
			    junk[start + 4]);
			break;
		default:
			fail();
		}
		dones++;
		socks5_free(s);
	}
	/* The plausible heads did get through, so both paths ran. */
	assert_true(dones > 500);

	/* Pure garbage from the first byte. */
	s = socks5_new("mx.example.com", 25, NULL, NULL);
	feed_err(s, "\xff\xfe\xfd", 3, "bad version 255");
	socks5_free(s);
}

static void
test_new_limits(void **state)
{
	char		 name[300], cred[300];
	struct socks5	*s;
	struct buf	 tiny;
	size_t		 used;

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	s = socks5_new(name, 25, NULL, NULL);	/* 255 octets: the limit */
	assert_non_null(s);
	socks5_free(s);
	name[255] = 'a';
	name[256] = '\0';
	assert_null(socks5_new(name, 25, NULL, NULL));
	assert_null(socks5_new("", 25, NULL, NULL));
	assert_null(socks5_new("mx example", 25, NULL, NULL));
	assert_null(socks5_new("mx\n", 25, NULL, NULL));
	assert_null(socks5_new("[192.0.2.1]", 25, NULL, NULL));
	assert_null(socks5_new("[2001:db8::1", 25, NULL, NULL));
	assert_null(socks5_new(NULL, 25, NULL, NULL));

	memset(cred, 'c', sizeof(cred));
	cred[255] = '\0';
	s = socks5_new("mx.example.com", 25, cred, cred);
	assert_non_null(s);
	socks5_free(s);
	cred[255] = 'c';
	cred[256] = '\0';
	assert_null(socks5_new("mx.example.com", 25, cred, "p"));
	assert_null(socks5_new("mx.example.com", 25, "u", cred));
	assert_null(socks5_new("mx.example.com", 25, "", "p"));
	assert_null(socks5_new("mx.example.com", 25, NULL, "p"));

	/* An output buffer too small fails the handshake, not the heap. */
	s = socks5_new("mx.example.com", 25, NULL, NULL);
	buf_init(&tiny, 2);
	socks5_output(s, &tiny);
	assert_int_equal(tiny.len, 0);
	assert_int_equal(feed(s, pick_none, 2, &used), SOCKS5_ERROR);
	assert_non_null(strstr(socks5_error(s), "too small"));
	buf_free(&tiny);
	socks5_free(s);
	socks5_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_auth_domain),
		cmocka_unit_test(test_userpass_ipv4),
		cmocka_unit_test(test_ipv6_target_and_domain_reply),
		cmocka_unit_test(test_reply_codes),
		cmocka_unit_test(test_bad_versions_and_methods),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_all_at_once),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_new_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

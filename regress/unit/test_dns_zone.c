/*
 * lib/dns_zone.c: RFC 1035 master files: $ORIGIN, $TTL, @, relative and
 * absolute names, omitted owners, TTL/class order, multi-string TXT with
 * quotes and escapes, parentheses, comments, every supported type, the
 * RFC 3597 generic form, errors with line numbers, and the size bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns.h"
#include "util.h"
#include "dns_zone.h"

static struct zone *
parse_ok(const char *text)
{
	struct zone	*z;
	char		 err[512];

	z = zone_parse(text, strlen(text), err, sizeof(err));
	if (z == NULL) {
		fprintf(stderr, "zone error: %s\n", err);
		fail();
	}
	return z;
}

static void
parse_err(const char *text, const char *want)
{
	struct zone	*z;
	char		 err[512];

	z = zone_parse(text, strlen(text), err, sizeof(err));
	if (z != NULL) {
		fprintf(stderr, "accepted: %s\n", text);
		zone_free(z);
		fail();
	}
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		fail();
	}
}

static const struct zone_rr *
find(const struct zone *z, const char *owner, uint16_t type, size_t nth)
{
	size_t	 i;

	for (i = 0; i < z->nrr; i++)
		if (strcmp(z->rr[i].owner, owner) == 0 &&
		    z->rr[i].type == type && nth-- == 0)
			return &z->rr[i];
	return NULL;
}

static void
decode(const struct zone_rr *zr, struct dns_rr *rr)
{
	assert_non_null(zr);
	assert_int_equal(dns_rdata_decode(zr->type, zr->rdata, zr->rdlen, rr),
	    0);
}

static void
test_names_and_directives(void **state)
{
	struct zone		*z;
	const struct zone_rr	*r;
	struct dns_rr		 rr;

	z = parse_ok(
	    "$ORIGIN Example.TEST.\n"
	    "$TTL 1h\n"
	    "@\tIN A 192.0.2.1\n"
	    "www 300 IN A 192.0.2.2\n"
	    "\tIN 60 AAAA 2001:db8::2   ; owner omitted, class then TTL\n"
	    "abs.other.test. A 192.0.2.3\n"
	    "alias CNAME www\n"
	    "ext CNAME target.other.test.\n"
	    "$ORIGIN sub.example.test.\n"
	    "x A 192.0.2.4\n");
	assert_int_equal(z->nrr, 7);
	r = find(z, "example.test", DNS_T_A, 0);
	assert_non_null(r);
	assert_int_equal(r->ttl, 3600);
	r = find(z, "www.example.test", DNS_T_A, 0);
	assert_non_null(r);
	assert_int_equal(r->ttl, 300);
	r = find(z, "www.example.test", DNS_T_AAAA, 0);
	assert_non_null(r);
	assert_int_equal(r->ttl, 60);
	assert_non_null(find(z, "abs.other.test", DNS_T_A, 0));
	decode(find(z, "alias.example.test", DNS_T_CNAME, 0), &rr);
	assert_string_equal(rr.u.name, "www.example.test");
	decode(find(z, "ext.example.test", DNS_T_CNAME, 0), &rr);
	assert_string_equal(rr.u.name, "target.other.test");
	assert_non_null(find(z, "x.sub.example.test", DNS_T_A, 0));
	assert_true(zone_name_exists(z, "sub.example.test"));	/* ENT */
	assert_false(zone_name_exists(z, "nope.example.test"));
	zone_free(z);
}

static void
test_txt(void **state)
{
	struct zone	*z;
	struct dns_rr	 rr;
	char		*s;
	size_t		 len;

	z = parse_ok(
	    "t.test. TXT \"v=spf1 \" \"ip4:192.0.2.0/24\" \" -all\"\n"
	    "q.test. TXT \"with \\\"quotes\\\" and \\\\ and \\059 ;\"\n"
	    "u.test. TXT unquoted-word\n"
	    "p.test. TXT ( \"first\" ; comment inside\n"
	    "\t\"second\" )\n"
	    "e.test. TXT \"\"\n"
	    "n.test. TXT \"a\\000b\"\n");
	decode(find(z, "t.test", DNS_T_TXT, 0), &rr);
	assert_int_equal(rr.u.txt.nstr, 3);
	s = dns_txt_concat(&rr, &len);
	assert_string_equal(s, "v=spf1 ip4:192.0.2.0/24 -all");
	free(s);
	dns_rr_clear(&rr);
	decode(find(z, "q.test", DNS_T_TXT, 0), &rr);
	s = dns_txt_concat(&rr, NULL);
	assert_string_equal(s, "with \"quotes\" and \\ and ; ;");
	free(s);
	dns_rr_clear(&rr);
	decode(find(z, "u.test", DNS_T_TXT, 0), &rr);
	s = dns_txt_concat(&rr, NULL);
	assert_string_equal(s, "unquoted-word");
	free(s);
	dns_rr_clear(&rr);
	decode(find(z, "p.test", DNS_T_TXT, 0), &rr);
	assert_int_equal(rr.u.txt.nstr, 2);
	s = dns_txt_concat(&rr, NULL);
	assert_string_equal(s, "firstsecond");
	free(s);
	dns_rr_clear(&rr);
	decode(find(z, "e.test", DNS_T_TXT, 0), &rr);
	assert_int_equal(rr.u.txt.nstr, 1);
	assert_int_equal(rr.u.txt.str[0].len, 0);
	dns_rr_clear(&rr);
	decode(find(z, "n.test", DNS_T_TXT, 0), &rr);
	s = dns_txt_concat(&rr, &len);
	assert_int_equal(len, 3);
	assert_int_equal(s[1], '\0');
	free(s);
	dns_rr_clear(&rr);
	zone_free(z);
}

static void
test_types(void **state)
{
	struct zone	*z;
	struct dns_rr	 rr;

	z = parse_ok(
	    "$ORIGIN example.test.\n"
	    "@ 3600 IN SOA ns hostmaster ( 2024010101 ; serial\n"
	    "    1h 15m 1w 300 )\n"
	    "@ NS ns\n"
	    "@ MX 10 mail\n"
	    "@ MX 0 .\n"
	    "1.2.0.192.in-addr.arpa. PTR host.example.test.\n"
	    "_25._tcp.mail TLSA 3 1 1 ( 0123456789abcdef\n"
	    "   0123456789ABCDEF )\n"
	    "raw TYPE65280 \\# 3 01 0203\n"
	    "rawa A \\# 4 c0000201\n"
	    "spf SPF \"v=spf1 -all\"\n");
	decode(find(z, "example.test", DNS_T_MX, 0), &rr);
	assert_int_equal(rr.u.mx.pref, 10);
	assert_string_equal(rr.u.mx.name, "mail.example.test");
	decode(find(z, "example.test", DNS_T_MX, 1), &rr);
	assert_int_equal(rr.u.mx.pref, 0);
	assert_string_equal(rr.u.mx.name, ".");
	decode(find(z, "example.test", DNS_T_NS, 0), &rr);
	assert_string_equal(rr.u.name, "ns.example.test");
	assert_non_null(find(z, "example.test", DNS_T_SOA, 0));
	assert_int_equal(find(z, "example.test", DNS_T_SOA, 0)->ttl, 3600);
	decode(find(z, "1.2.0.192.in-addr.arpa", DNS_T_PTR, 0), &rr);
	assert_string_equal(rr.u.name, "host.example.test");
	decode(find(z, "_25._tcp.mail.example.test", DNS_T_TLSA, 0), &rr);
	assert_int_equal(rr.u.tlsa.usage, 3);
	assert_int_equal(rr.u.tlsa.selector, 1);
	assert_int_equal(rr.u.tlsa.mtype, 1);
	assert_int_equal(rr.u.tlsa.len, 16);
	assert_int_equal(rr.u.tlsa.data[0], 0x01);
	assert_int_equal(rr.u.tlsa.data[15], 0xef);
	decode(find(z, "raw.example.test", 65280, 0), &rr);
	assert_int_equal(rr.rdlen, 3);
	assert_int_equal(rr.rdata[2], 3);
	decode(find(z, "rawa.example.test", DNS_T_A, 0), &rr);
	assert_int_equal(((uint8_t *)&rr.u.a)[3], 1);
	decode(find(z, "spf.example.test", DNS_T_SPF, 0), &rr);
	dns_rr_clear(&rr);
	zone_free(z);
}

static void
test_markers(void **state)
{
	struct zone	*z;

	z = parse_ok("$SERVFAIL broken.test.\n$TIMEOUT slow.test.\n");
	assert_true(zone_name_marked(z->servfail, z->nservfail,
	    "broken.test"));
	assert_true(zone_name_marked(z->timeout, z->ntimeout, "slow.test"));
	assert_false(zone_name_marked(z->timeout, z->ntimeout, "x.test"));
	zone_free(z);
}

static void
test_errors(void **state)
{
	parse_err("a.test. A 192.0.2.1\nb.test. A 300.0.0.1\n",
	    "line 2: bad rdata");
	parse_err("a.test. BOGUS foo\n", "line 1: unknown type");
	parse_err("\n\na.test. A\n", "line 3: bad rdata");
	parse_err("a.test. TXT \"unterminated\n", "unterminated");
	parse_err("a.test. TXT ( \"x\"\n", "unbalanced");
	parse_err("a.test. TXT \"x\" )\n", "unbalanced");
	parse_err("a.test. TXT ( ( \"x\" ) )\n", "nested");
	parse_err(" A 192.0.2.1\n", "no owner");
	parse_err("$INCLUDE other.zone\n", "unsupported directive");
	parse_err("$TTL forever\n", "bad $TTL");
	parse_err("a..test. A 192.0.2.1\n", "bad owner");
	parse_err("a.test. CH TXT \"x\"\n", "class IN");
	parse_err("a.test. MX 70000 b.test.\n", "bad rdata");
	parse_err("a.test. MX 10\n", "bad rdata");
	parse_err("a.test. AAAA 2001:db8::g\n", "bad rdata");
	parse_err("a.test. TLSA 3 1 1 abc\n", "bad rdata");
	parse_err("a.test. TYPE1 \\# 5 c0000201\n", "bad rdata");
	parse_err("a.test. CNAME a..b.\n", "bad rdata");
	parse_err("a.test. A 192.0.2.1\na.test. A 1\n", "line 2");
	/* 255-byte strings at most (RFC 1035 3.3) */
	{
		char	 text[400];

		snprintf(text, sizeof(text), "a.test. TXT \"%0256d\"\n", 0);
		parse_err(text, "bad rdata");
	}
	/* a label of 64 bytes */
	parse_err("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".test. A 192.0.2.1\n", "bad owner");
	/* a NUL byte in the file */
	{
		static const char nul[] = "a.test. A 192.0.2.1\nb\0.test. A 1\n";
		char	 err[256];

		assert_null(zone_parse(nul, sizeof(nul) - 1, err,
		    sizeof(err)));
		assert_non_null(strstr(err, "line 2: NUL"));
	}
}

static void
test_limits(void **state)
{
	struct zone	*z;
	char		*text, err[256];
	size_t		 len, i;

	/* an entry longer than the bound */
	len = ZONE_MAX_ENTRY + 100;
	text = xmalloc(len + 64);
	strlcpy(text, "a.test. TXT ", len + 64);
	for (i = strlen(text); i < len; i++)
		text[i] = 'x';
	text[i] = '\0';
	z = zone_parse(text, strlen(text), err, sizeof(err));
	assert_null(z);
	free(text);

	/* too many fields in one entry */
	len = ZONE_MAX_TOKENS * 4 + 64;
	text = xmalloc(len);
	strlcpy(text, "a.test. TXT", len);
	for (i = 0; i < ZONE_MAX_TOKENS + 1; i++)
		strlcat(text, " \"x\"", len);
	z = zone_parse(text, strlen(text), err, sizeof(err));
	assert_null(z);
	assert_non_null(strstr(err, "too many fields"));
	free(text);

	/* a file over the size bound is refused before parsing */
	z = zone_parse("", (size_t)ZONE_MAX_FILE + 1, err, sizeof(err));
	assert_null(z);

	/* empty and comment-only files are fine */
	z = parse_ok("");
	assert_int_equal(z->nrr, 0);
	zone_free(z);
	z = parse_ok("; nothing\n   \n\t; here\n");
	assert_int_equal(z->nrr, 0);
	zone_free(z);
	/* no final newline */
	z = parse_ok("a.test. A 192.0.2.1");
	assert_int_equal(z->nrr, 1);
	zone_free(z);
	/* CRLF line ends */
	z = parse_ok("a.test. A 192.0.2.1\r\nb.test. A 192.0.2.2\r\n");
	assert_int_equal(z->nrr, 2);
	zone_free(z);
}

static void
test_load(void **state)
{
	struct zone	*z;
	char		 err[512];

	z = zone_load("regress/data/spf/spf.zone", err, sizeof(err));
	assert_non_null(z);
	assert_true(z->nrr > 100);
	zone_free(z);
	z = zone_load("/nonexistent/zone", err, sizeof(err));
	assert_null(z);
	assert_non_null(strstr(err, "/nonexistent/zone"));
	z = zone_load("/", err, sizeof(err));
	assert_null(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_directives),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

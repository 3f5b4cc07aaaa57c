/*
 * auth/authres.c (RFC 8601): comment text and property values for
 * posternctl; the field writer (quoting, escaping, folding, "none", the
 * AAR value); the parser (the examples of RFC 8601 Appendix B, CFWS,
 * versions, quoted strings, malformed fields, every bound, a 1 MB field);
 * write -> parse round trips; and the authserv-id test of section 5.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"
#include "auth/authres.h"

static char *
render(void (*fn)(FILE *, const char *), const char *in)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&out, &len);

	assert_non_null(fp);
	fn(fp, in);
	fclose(fp);
	return out;
}

static void
check(void (*fn)(FILE *, const char *), const char *in, const char *want)
{
	char	*got = render(fn, in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_comment(void **state)
{
	check(authres_print_comment, "matched ip4:192.0.2.0/24",
	    "matched ip4:192.0.2.0/24");
	/* nothing may close the comment early or smuggle a new line */
	check(authres_print_comment, "a (b) c", "a [b] c");
	check(authres_print_comment, "x\r\nInjected: y\\", "x  Injected: y ");
}

static void
test_pvalue(void **state)
{
	check(authres_print_pvalue, "example.com", "example.com");
	check(authres_print_pvalue, "@example.com", "@example.com");
	check(authres_print_pvalue, "user@example.com", "user@example.com");
	check(authres_print_pvalue, "abc/def=", "\"abc/def=\"");
	check(authres_print_pvalue, "a\"b\\c", "\"a\\\"b\\\\c\"");
	check(authres_print_pvalue, "sp ace", "\"sp ace\"");
	check(authres_print_pvalue, "", "\"\"");
}

static void
test_authserv_id(void **state)
{
	assert_true(authres_valid_authserv_id("mx.example.test"));
	assert_false(authres_valid_authserv_id(""));
	assert_false(authres_valid_authserv_id("mx..example"));
	assert_false(authres_valid_authserv_id("mx example"));
	assert_false(authres_valid_authserv_id("mx;example"));
}

/* The writer. */

static struct buf	 wb;

static const char *
write_field(const struct authres *ar)
{
	buf_free(&wb);
	buf_init(&wb, 64 * 1024);
	if (authres_write(ar, &wb) == -1)
		return NULL;
	return buf_cstr(&wb);
}

/* Every line break is a fold (CRLF TAB) except the last; lines <= max. */
static void
assert_lines(const char *s, size_t max)
{
	const char	*p, *nl;
	size_t		 n = 0;

	for (p = s; (nl = strstr(p, "\r\n")) != NULL; p = nl + 2) {
		assert_true((size_t)(nl - p) <= max);
		assert_true(nl[2] == '\t' || nl[2] == '\0');
		n++;
	}
	assert_string_equal(p, "");
	assert_true(n >= 1);
	/* no bare CR or LF anywhere */
	for (p = s; *p != '\0'; p++)
		if (*p == '\r')
			assert_true(p[1] == '\n');
		else if (*p == '\n')
			assert_true(p > s && p[-1] == '\r');
}

static void
test_write(void **state)
{
	struct authres_prop	 spf_p[] = {
		{ "smtp", "mailfrom", "user@example.org" },
		{ "smtp", "helo", "mail.example.org" },
	};
	struct authres_prop	 dkim_p[] = {
		{ "header", "d", "example.org" },
		{ "header", "s", "sel" },
		{ "header", "b", "AbC/dE+f" },
	};
	struct authres_prop	 dmarc_p[] = {
		{ "header", "from", "example.org" },
		{ "policy", "dmarc", "reject" },
	};
	struct authres_method	 m[] = {
		{ "spf", 0, "pass", NULL, NULL, 2, spf_p },
		{ "dkim", 1, "pass", NULL, "2048-bit key", 3, dkim_p },
		{ "dmarc", 0, "fail", "no aligned identifier", NULL, 2,
		    dmarc_p },
	};
	struct authres		 ar = { "mx.example.net", 0, 3, m, NULL };
	const char		*got;

	got = write_field(&ar);
	assert_non_null(got);
	assert_string_equal(got,
	    "Authentication-Results: mx.example.net;\r\n"
	    "\tspf=pass smtp.mailfrom=user@example.org "
	    "smtp.helo=mail.example.org;\r\n"
	    "\tdkim/1=pass (2048-bit key) header.d=example.org header.s=sel\r\n"
	    "\theader.b=\"AbC/dE+f\";\r\n"
	    "\tdmarc=fail reason=\"no aligned identifier\" "
	    "header.from=example.org\r\n"
	    "\tpolicy.dmarc=reject\r\n");
	assert_lines(got, 78);

	/* RFC 8601 2.2: no-result, with a version */
	ar.nmethods = 0;
	ar.version = 1;
	assert_string_equal(write_field(&ar),
	    "Authentication-Results: mx.example.net 1; none\r\n");
	ar.version = 0;
	assert_string_equal(write_field(&ar),
	    "Authentication-Results: mx.example.net; none\r\n");
	buf_free(&wb);
}

static void
test_write_value(void **state)
{
	struct authres_prop	 p = { "smtp", "mailfrom", "a@example.org" };
	struct authres_method	 m = { "spf", 0, "pass", NULL, NULL, 1, &p };
	struct authres		 ar = { "mx.example.net", 0, 1, &m, NULL };
	struct buf		 b;

	/* ARC-Authentication-Results: i=1; + the value (RFC 8617 4.1.1) */
	buf_init(&b, 4096);
	assert_int_equal(buf_addstr(&b, "ARC-Authentication-Results: i=1; "),
	    0);
	assert_int_equal(authres_write_value(&ar, b.len, &b), 0);
	assert_string_equal(buf_cstr(&b),
	    "ARC-Authentication-Results: i=1; mx.example.net;\r\n"
	    "\tspf=pass smtp.mailfrom=a@example.org");
	buf_free(&b);
}

static void
test_write_quoting(void **state)
{
	struct authres_prop	 p[] = {
		{ "smtp", "mailfrom", "@example.org" },
		{ "smtp", "mailfrom", "a.b/c=d@example.org" },
		{ "smtp", "mailfrom", "john doe@example.org" },
		{ "header", "b", "a\"b\\c" },
		{ "header", "x", "" },
		{ "header", "y", "caf\xc3\xa9" },
	};
	struct authres_method	 m = { "x-test", 0, "pass", "say \"hi\"",
	    "a (b) \\ c", 6, p };
	struct authres		 ar = { "mx.example.net", 0, 1, &m, NULL };
	const char		*got;

	got = write_field(&ar);
	assert_non_null(got);
	assert_string_equal(got,
	    "Authentication-Results: mx.example.net;\r\n"
	    "\tx-test=pass (a \\(b\\) \\\\ c) reason=\"say \\\"hi\\\"\" "
	    "smtp.mailfrom=@example.org\r\n"
	    "\tsmtp.mailfrom=a.b/c=d@example.org "
	    "smtp.mailfrom=\"john doe@example.org\"\r\n"
	    "\theader.b=\"a\\\"b\\\\c\" header.x=\"\" header.y=\"caf\xc3\xa9\"\r\n");
	buf_free(&wb);
}

static void
test_write_injection(void **state)
{
	struct authres_prop	 p = { "smtp", "mailfrom",
	    "x\r\nBcc: victim@example.org" };
	struct authres_method	 m = { "spf", 0, "pass",
	    "r\r\nX-Evil: 1", "c)\r\nX-Evil: 2 (", 1, &p };
	struct authres		 ar = { "mx.example.net", 0, 1, &m, NULL };
	const char		*got;

	got = write_field(&ar);
	assert_non_null(got);
	assert_lines(got, 998);
	assert_null(strstr(got, "\nX-Evil"));
	assert_null(strstr(got, "\nBcc"));
	/* the comment cannot be closed from inside */
	assert_non_null(strstr(got, "(c\\)  X-Evil: 2 \\()"));
	buf_free(&wb);
}

static void
test_write_refuses(void **state)
{
	struct authres_prop	 p = { "smtp", "mailfrom", "a@example.org" };
	struct authres_method	 m = { "spf", 0, "pass", NULL, NULL, 1, &p };
	struct authres		 ar = { "mx.example.net", 0, 1, &m, NULL };
	struct buf		 b;
	char			 big[1200];

	buf_init(&b, 4096);
	buf_addstr(&b, "kept");
	m.name = "sp f";
	assert_int_equal(authres_write(&ar, &b), -1);
	m.name = "spf-";
	assert_int_equal(authres_write(&ar, &b), -1);
	m.name = "spf";
	m.result = "";
	assert_int_equal(authres_write(&ar, &b), -1);
	m.result = NULL;
	assert_int_equal(authres_write(&ar, &b), -1);
	m.result = "pass";
	p.ptype = "smtp;";
	assert_int_equal(authres_write(&ar, &b), -1);
	p.ptype = "smtp";
	p.value = NULL;
	assert_int_equal(authres_write(&ar, &b), -1);
	p.value = "a@example.org";
	ar.authserv_id = "";
	assert_int_equal(authres_write(&ar, &b), -1);
	ar.authserv_id = NULL;
	assert_int_equal(authres_write(&ar, &b), -1);
	ar.authserv_id = "mx.example.net";
	/* RFC 5322 2.1.1: no line over 998 characters */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p.value = big;
	assert_int_equal(authres_write(&ar, &b), -1);
	/* out's own bound */
	p.value = "a@example.org";
	b.max = b.len + 20;
	assert_int_equal(authres_write(&ar, &b), -1);
	/* out is left as it was */
	assert_string_equal(buf_cstr(&b), "kept");
	b.max = 4096;
	assert_int_equal(authres_write(&ar, &b), 0);
	buf_free(&b);
}

static void
test_write_fold(void **state)
{
	struct authres_prop	 p[16];
	struct authres_method	 m = { "dkim", 0, "pass", NULL, NULL, 16, p };
	struct authres		 ar = { "mx.example.net", 0, 1, &m, NULL };
	char			 v[16][32];
	const char		*got;
	size_t			 i;
	char			 big[701];

	for (i = 0; i < 16; i++) {
		snprintf(v[i], sizeof(v[i]), "value%zu.example.org", i);
		p[i].ptype = "header";
		p[i].property = "d";
		p[i].value = v[i];
	}
	got = write_field(&ar);
	assert_non_null(got);
	assert_lines(got, 78);
	/* an atom longer than a line cannot be folded but is written */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p[3].value = big;
	got = write_field(&ar);
	assert_non_null(got);
	assert_lines(got, 998);
	assert_non_null(strstr(got, "\r\n\theader.d=bbbb"));
	buf_free(&wb);
}

/* The parser. */

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
authres_equal(const struct authres *a, const struct authres *b)
{
	size_t	 i, j;

	if (!str_eq(a->authserv_id, b->authserv_id) ||
	    a->version != b->version || a->nmethods != b->nmethods)
		return 0;
	for (i = 0; i < a->nmethods; i++) {
		const struct authres_method *x = &a->methods[i];
		const struct authres_method *y = &b->methods[i];

		if (!str_eq(x->name, y->name) || x->version != y->version ||
		    !str_eq(x->result, y->result) ||
		    !str_eq(x->reason, y->reason) ||
		    !str_eq(x->comment, y->comment) ||
		    x->nprops != y->nprops)
			return 0;
		for (j = 0; j < x->nprops; j++)
			if (!str_eq(x->props[j].ptype, y->props[j].ptype) ||
			    !str_eq(x->props[j].property,
			    y->props[j].property) ||
			    !str_eq(x->props[j].value, y->props[j].value))
				return 0;
	}
	return 1;
}

static void
parse_ok(const char *s, struct authres *ar)
{
	char	 err[256];

	if (authres_parse(s, strlen(s), ar, err, sizeof(err)) == -1) {
		fprintf(stderr, "parse \"%s\": %s\n", s, err);
		fail();
	}
}

/* write(ar) parses back to ar */
static void
round_trip(const struct authres *ar)
{
	struct authres	 back;
	struct buf	 b;
	char		 err[256];

	buf_init(&b, 64 * 1024);
	assert_int_equal(authres_write_value(ar, 24, &b), 0);
	if (authres_parse((char *)b.data, b.len, &back, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "reparse \"%s\": %s\n", buf_cstr(&b), err);
		fail();
	}
	if (!authres_equal(ar, &back)) {
		fprintf(stderr, "round trip differs: \"%s\"\n", buf_cstr(&b));
		fail();
	}
	authres_free(&back);
	buf_free(&b);
}

/* Header values of RFC 8601 Appendix B. */
static void
test_parse_rfc_examples(void **state)
{
	struct authres	 ar;

	/* B.2 */
	parse_ok(" example.org 1; none", &ar);
	assert_string_equal(ar.authserv_id, "example.org");
	assert_int_equal(ar.version, 1);
	assert_int_equal(ar.nmethods, 0);
	round_trip(&ar);
	authres_free(&ar);

	/* B.3 */
	parse_ok(" example.com;\r\n          spf=pass smtp.mailfrom=example.net",
	    &ar);
	assert_int_equal(ar.version, 0);
	assert_int_equal(ar.nmethods, 1);
	assert_string_equal(ar.methods[0].name, "spf");
	assert_string_equal(ar.methods[0].result, "pass");
	assert_int_equal(ar.methods[0].nprops, 1);
	assert_string_equal(ar.methods[0].props[0].ptype, "smtp");
	assert_string_equal(ar.methods[0].props[0].property, "mailfrom");
	assert_string_equal(ar.methods[0].props[0].value, "example.net");
	round_trip(&ar);
	authres_free(&ar);

	/* B.4 */
	parse_ok(" example.com;\r\n"
	    "          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n"
	    "          spf=pass smtp.mailfrom=example.net", &ar);
	assert_int_equal(ar.nmethods, 2);
	assert_string_equal(ar.methods[0].name, "auth");
	assert_string_equal(ar.methods[0].comment, "cram-md5");
	assert_string_equal(ar.methods[0].props[0].property, "auth");
	assert_string_equal(ar.methods[0].props[0].value,
	    "sender@example.net");
	assert_null(ar.methods[1].comment);
	round_trip(&ar);
	authres_free(&ar);
	parse_ok(" example.com; iprev=pass\r\n"
	    "          policy.iprev=192.0.2.200", &ar);
	assert_string_equal(ar.methods[0].props[0].ptype, "policy");
	assert_string_equal(ar.methods[0].props[0].value, "192.0.2.200");
	round_trip(&ar);
	authres_free(&ar);

	/* B.5 */
	parse_ok(" example.com;\r\n"
	    "          dkim=pass (good signature) header.d=example.com", &ar);
	assert_string_equal(ar.methods[0].comment, "good signature");
	authres_free(&ar);

	/* B.6 */
	parse_ok(" mail-router.example.net;\r\n"
	    "          dkim=pass (good signature) header.d=newyork.example.com\r\n"
	    "                header.b=oINEO8hg;\r\n"
	    "          dkim=fail (bad signature) header.d=newyork.example.com\r\n"
	    "                header.b=EToRSuvU", &ar);
	assert_int_equal(ar.nmethods, 2);
	assert_string_equal(ar.methods[1].result, "fail");
	assert_string_equal(ar.methods[1].comment, "bad signature");
	assert_string_equal(ar.methods[1].props[1].property, "b");
	assert_string_equal(ar.methods[1].props[1].value, "EToRSuvU");
	round_trip(&ar);
	authres_free(&ar);

	/* B.7 */
	parse_ok(" example.com;\r\n"
	    "     dkim=pass reason=\"good signature\"\r\n"
	    "       header.i=@mail-router.example.net;\r\n"
	    "     dkim=fail reason=\"bad signature\"\r\n"
	    "       header.i=@newyork.example.com", &ar);
	assert_string_equal(ar.methods[0].reason, "good signature");
	assert_string_equal(ar.methods[0].props[0].value,
	    "@mail-router.example.net");
	assert_string_equal(ar.methods[1].reason, "bad signature");
	round_trip(&ar);
	authres_free(&ar);
}

static void
test_parse_syntax(void **state)
{
	struct authres	 ar;

	/* comments anywhere CFWS is, nested; only the first is kept */
	parse_ok("(c0) mx.example.net (c1) 1 (c2) ; (c3) spf (c4) / (c5) 1 "
	    "(c6) = (c7) pass (first (nested) \\) ok) (second) smtp (c8) . "
	    "(c9) mailfrom (c10) = (c11) a@example.org (c12) ; dkim=none",
	    &ar);
	assert_int_equal(ar.version, 1);
	assert_int_equal(ar.nmethods, 2);
	assert_int_equal(ar.methods[0].version, 1);
	assert_string_equal(ar.methods[0].result, "pass");
	assert_string_equal(ar.methods[0].comment, "c4");
	assert_string_equal(ar.methods[0].props[0].value, "a@example.org");
	assert_null(ar.methods[1].comment);
	authres_free(&ar);
	parse_ok("mx; spf=pass (first (nested) \\) ok) (second)", &ar);
	assert_string_equal(ar.methods[0].comment, "first (nested) ) ok");
	round_trip(&ar);
	authres_free(&ar);

	/* quoted strings, quoted-pairs, folding inside them, UTF-8 */
	parse_ok("\"mx.example.net\"; spf=pass reason=\"a \\\"q\\\"\r\n b\" "
	    "smtp.mailfrom=\"john doe\"@example.org header.b=\"x;y\" "
	    "header.z=\"caf\xc3\xa9\"", &ar);
	assert_string_equal(ar.authserv_id, "mx.example.net");
	assert_string_equal(ar.methods[0].reason, "a \"q\" b");
	assert_string_equal(ar.methods[0].props[0].value,
	    "\"john doe\"@example.org");
	assert_string_equal(ar.methods[0].props[1].value, "x;y");
	assert_string_equal(ar.methods[0].props[2].value, "caf\xc3\xa9");
	round_trip(&ar);
	authres_free(&ar);

	/* case is kept; a "none" method is not no-result */
	parse_ok("MX; SPF=PASS Smtp.MailFrom=A@Example.Org", &ar);
	assert_string_equal(ar.methods[0].name, "SPF");
	assert_string_equal(ar.methods[0].props[0].property, "MailFrom");
	authres_free(&ar);
	parse_ok("mx; none=pass", &ar);
	assert_int_equal(ar.nmethods, 1);
	authres_free(&ar);
	parse_ok("mx;NONE", &ar);
	assert_int_equal(ar.nmethods, 0);
	authres_free(&ar);

	/* tolerated: a trailing ";", base64 in a bare header.b, CRLF end */
	parse_ok("mx; dkim=pass header.b=Ab/c+d==;\r\n", &ar);
	assert_int_equal(ar.nmethods, 1);
	assert_string_equal(ar.methods[0].props[0].value, "Ab/c+d==");
	round_trip(&ar);
	authres_free(&ar);

	/* LF-only folding (a header read from a Unix file) */
	parse_ok("mx;\n\tspf=pass\n\tsmtp.mailfrom=a@b.example", &ar);
	assert_int_equal(ar.methods[0].nprops, 1);
	authres_free(&ar);

	/* the AAR form */
	{
		unsigned int	 inst = 0;
		const char	*v = "i=3; mx.example.net; arc=pass";
		char		 err[128];

		assert_int_equal(authres_parse_aar(v, strlen(v), &inst, &ar,
		    err, sizeof(err)), 0);
		assert_int_equal(inst, 3);
		assert_string_equal(ar.authserv_id, "mx.example.net");
		authres_free(&ar);
		v = "i=51; mx.example.net; arc=pass";
		assert_int_equal(authres_parse_aar(v, strlen(v), &inst, &ar,
		    err, sizeof(err)), -1);
		v = "mx.example.net; arc=pass";
		assert_int_equal(authres_parse_aar(v, strlen(v), &inst, &ar,
		    err, sizeof(err)), -1);
	}
}

static void
parse_bad(const char *s, size_t len, const char *want)
{
	struct authres	 ar;
	char		 err[256];

	if (authres_parse(s, len, &ar, err, sizeof(err)) == 0) {
		fprintf(stderr, "parsed \"%.*s\"\n", (int)(len > 200 ? 200 :
		    len), s);
		fail();
	}
	assert_int_equal(ar.nmethods, 0);
	assert_null(ar.methods);
	assert_null(ar.priv);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "\"%.*s\": error \"%s\", want \"%s\"\n",
		    (int)(len > 200 ? 200 : len), s, err, want);
		fail();
	}
}

#define BAD(s, want)	parse_bad(s, sizeof(s) - 1, want)

static void
test_parse_malformed(void **state)
{
	BAD("", "authserv-id expected");
	BAD("   ", "authserv-id expected");
	BAD("; spf=pass", "authserv-id expected");
	BAD("\"\"; spf=pass", "empty authserv-id");
	BAD("mx.example.net", "\";\" after the authserv-id");
	BAD("mx.example.net spf=pass", "\";\" after the authserv-id");
	BAD("mx.example.net;", "method or \"none\" expected");
	BAD("mx; none; spf=pass", "\"=\" after the method name");
	BAD("mx; none extra", "\"=\" after the method name");
	BAD("mx; spf", "\"=\" after the method name");
	BAD("mx; spf=", "result expected");
	BAD("mx; =pass", "method or \"none\" expected");
	BAD("mx; spf=pass smtp", "\".\" after a ptype");
	BAD("mx; spf=pass smtp.", "property expected");
	BAD("mx; spf=pass smtp.mailfrom", "\"=\" after a property");
	BAD("mx; spf=pass smtp.mailfrom=", "property value expected");
	BAD("mx; spf=pass smtp.mailfrom=a@b@c", "malformed address");
	BAD("mx; spf=pass smtp.mailfrom=a..b@c", "malformed address");
	BAD("mx; spf=pass smtp.mailfrom=\"x\"@", "bad domain");
	BAD("mx; spf=pass reason=", "reason expected");
	BAD("mx; spf=pass reason=a/b", "property expected");
	BAD("mx; spf=pass reason=\"open", "unterminated quoted string");
	BAD("mx; spf=pass (open", "unterminated comment");
	BAD("mx; spf=pass ((a)", "unterminated comment");
	BAD("mx; spf=pass smtp.mailfrom=a;; dkim=pass", "method expected");
	BAD("mx; spf=pass\r\nX-Injected: 1", "property expected");
	BAD("mx; spf=pass\rsmtp.mailfrom=a", "property expected");
	BAD("mx; spf=pass reason=\"a\r\nb\"", "control character");
	BAD("mx; spf=pass reason=\"a\x01\"", "control character");
	BAD("mx; spf=pass (a\x7f)", "control character");
	BAD("mx; spf=pass (a\0b)", "control character");
	BAD("mx; spf=pass reason=\"a\\\r\"", "bad quoted-pair");
	BAD("mx; spf/=pass", "method version expected");
	BAD("mx; spf/1234567890=pass", "method version too large");
	BAD("mx 1234567890; none", "version too large");
	BAD("mx; spf-=pass", "ends with \"-\"");
	BAD("mx; sp_f=pass", "\"=\" after the method name");
	BAD("mx; spf=pass-", "ends with \"-\"");
	BAD("mx; spf=pass smtp_x.mailfrom=a", "\".\" after a ptype");
	BAD("mx; spf=pass smtp.mailfrom=a\"b\"", "property expected");
	BAD("mx@example; none", "\";\" after the authserv-id");
}

static void
test_parse_bounds(void **state)
{
	struct authres	 ar;
	struct buf	 b;
	size_t		 i;
	char		*big;
	const size_t	 mb = 1024 * 1024;

	buf_init(&b, 2 * mb);

	/* 64 methods parse, 65 do not */
	buf_addstr(&b, "mx");
	for (i = 0; i < AUTHRES_MAX_METHODS; i++)
		buf_addstr(&b, "; spf=pass");
	parse_ok(buf_cstr(&b), &ar);
	assert_int_equal(ar.nmethods, AUTHRES_MAX_METHODS);
	round_trip(&ar);
	authres_free(&ar);
	buf_addstr(&b, "; spf=pass");
	parse_bad((char *)b.data, b.len, "more than 64 methods");

	/* 16 properties, not 17 */
	buf_reset(&b);
	buf_addstr(&b, "mx; dkim=pass");
	for (i = 0; i < AUTHRES_MAX_PROPS; i++)
		buf_printf(&b, " header.d=d%zu.example", i);
	parse_ok(buf_cstr(&b), &ar);
	assert_int_equal(ar.methods[0].nprops, AUTHRES_MAX_PROPS);
	round_trip(&ar);
	authres_free(&ar);
	buf_addstr(&b, " header.d=more.example");
	parse_bad((char *)b.data, b.len, "more than 16 properties");

	/* comments nested 16 deep, not 17 */
	buf_reset(&b);
	buf_addstr(&b, "mx; spf=pass ");
	for (i = 0; i < AUTHRES_MAX_NESTING; i++)
		buf_addstr(&b, "(");
	for (i = 0; i < AUTHRES_MAX_NESTING; i++)
		buf_addstr(&b, ")");
	parse_ok(buf_cstr(&b), &ar);
	authres_free(&ar);
	buf_reset(&b);
	buf_addstr(&b, "mx; spf=pass ");
	for (i = 0; i <= AUTHRES_MAX_NESTING; i++)
		buf_addstr(&b, "(");
	for (i = 0; i <= AUTHRES_MAX_NESTING; i++)
		buf_addstr(&b, ")");
	parse_bad((char *)b.data, b.len, "nested deeper");

	/* a value of 400 bytes, not 401, bare or quoted */
	big = xmalloc(mb + 1);
	memset(big, 'v', mb);
	big[mb] = '\0';
	buf_reset(&b);
	buf_printf(&b, "mx; dkim=pass header.b=%.*s", AUTHRES_MAX_STRING, big);
	parse_ok(buf_cstr(&b), &ar);
	round_trip(&ar);
	authres_free(&ar);
	buf_reset(&b);
	buf_printf(&b, "mx; dkim=pass header.b=%.*s", AUTHRES_MAX_STRING + 1,
	    big);
	parse_bad((char *)b.data, b.len, "longer than 400");
	buf_reset(&b);
	buf_printf(&b, "mx; dkim=pass header.b=\"%.*s\"",
	    AUTHRES_MAX_STRING + 1, big);
	parse_bad((char *)b.data, b.len, "longer than 400");
	/* the worst case for the writer: every character escaped */
	buf_reset(&b);
	buf_addstr(&b, "mx; dkim=pass ");
	for (i = 0; i < AUTHRES_MAX_KEYWORD; i++)
		buf_addstr(&b, "p");
	buf_addstr(&b, ".");
	for (i = 0; i < AUTHRES_MAX_KEYWORD; i++)
		buf_addstr(&b, "q");
	buf_addstr(&b, "=\"");
	for (i = 0; i < AUTHRES_MAX_STRING; i++)
		buf_addstr(&b, "\\\"");
	buf_addstr(&b, "\"");
	parse_ok(buf_cstr(&b), &ar);
	round_trip(&ar);
	authres_free(&ar);

	/* a long comment is cut, not refused */
	buf_reset(&b);
	buf_printf(&b, "mx; spf=pass (%.*s)", 5000, big);
	parse_ok(buf_cstr(&b), &ar);
	assert_int_equal(strlen(ar.methods[0].comment), AUTHRES_MAX_COMMENT);
	round_trip(&ar);
	authres_free(&ar);

	/* a 1 MB field: a clean error, whatever it holds */
	parse_bad(big, mb, "longer than 65536");
	buf_reset(&b);
	buf_addstr(&b, "mx; spf=pass (");
	buf_add(&b, big, mb);
	buf_addstr(&b, ")");
	parse_bad((char *)b.data, b.len, "longer than 65536");
	/* just under the bound: whitespace and comments are fine */
	buf_reset(&b);
	buf_addstr(&b, "mx; spf=pass ");
	while (b.len < AUTHRES_MAX_INPUT - 10)
		buf_addstr(&b, "(x) ");
	parse_ok(buf_cstr(&b), &ar);
	assert_string_equal(ar.methods[0].comment, "x");
	authres_free(&ar);

	free(big);
	buf_free(&b);
}

static void
test_round_trip(void **state)
{
	struct authres_prop	 p[] = {
		{ "smtp", "mailfrom", "\"odd \\\\ local\"@example.org" },
		{ "header", "b", "tab\there" },
		{ "header", "c", "(not a comment)" },
		{ "policy", "x", "semi;colon" },
		{ "body", "hash", "=" },
	};
	struct authres_method	 m[] = {
		{ "dkim", 1, "pass", "", "", 5, p },
		{ "spf", 0, "none", "r\\s", "c(o)m\\ment", 0, NULL },
	};
	struct authres		 ar = { "\"odd id\"", 7, 2, m, NULL };
	struct authres		 parsed;

	round_trip(&ar);
	ar.authserv_id = "id";
	ar.nmethods = 0;
	round_trip(&ar);
	/* a structure the caller filled is not the parser's to free */
	authres_free(&ar);
	assert_string_equal(ar.authserv_id, "id");
	authres_free(NULL);
	/* no error buffer is fine */
	assert_int_equal(authres_parse("x", 1, &parsed, NULL, 0), -1);
	assert_int_equal(authres_parse("x;none", 6, &parsed, NULL, 0), 0);
	authres_free(&parsed);
	assert_null(parsed.priv);
}

static void
test_is_ours(void **state)
{
	const char	*id = "mx.example.net";
	char		*big;
	size_t		 mb = 1024 * 1024, i;

#define OURS(s, aar)	authres_field_is_ours(s, sizeof(s) - 1, id, aar)
	assert_true(OURS("mx.example.net; spf=pass", 0));
	assert_true(OURS(" MX.Example.NET; none", 0));
	assert_true(OURS("mx.example.net.; none", 0));
	assert_true(OURS("(forged) \"mx.example.net\" 1; spf=pass", 0));
	assert_true(OURS("\r\n\tmx.example.net;", 0));
	/* malformed further on: still ours, so still removed */
	assert_true(OURS("mx.example.net; spf=pass ((((( garbage", 0));
	assert_true(OURS("mx.example.net", 0));
	assert_false(OURS("mx.example.net.evil; spf=pass", 0));
	assert_false(OURS("mx.example.ne; spf=pass", 0));
	assert_false(OURS("other.example; spf=pass smtp.mailfrom="
	    "mx.example.net", 0));
	assert_false(OURS("", 0));
	assert_false(OURS(";", 0));
	assert_false(OURS("(mx.example.net) other; none", 0));
	/* ARC-Authentication-Results values (RFC 8617 4.1.1) */
	assert_true(OURS("i=1; mx.example.net; spf=pass", 1));
	assert_true(OURS(" i = 2 ; (c) MX.EXAMPLE.NET; spf=pass", 1));
	assert_false(OURS("mx.example.net; spf=pass", 1));
	assert_false(OURS("i=1; other.example; spf=pass", 1));
	assert_false(OURS("i=1; mx.example.net; spf=pass", 0));
	assert_false(authres_field_is_ours("mx.example.net", 14, NULL, 0));
	/* our authserv-id behind deep comments is found */
	big = xmalloc(mb + 64);
	for (i = 0; i < 1000; i++)
		big[i] = '(';
	for (; i < 2000; i++)
		big[i] = ')';
	memcpy(big + i, " mx.example.net;", 16);
	assert_true(authres_field_is_ours(big, i + 16, id, 0));
	/* 1 MB: only the start is read */
	memcpy(big, "mx.example.net; spf=pass (", 26);
	memset(big + 26, 'x', mb - 26);
	assert_true(authres_field_is_ours(big, mb, id, 0));
	memset(big, ' ', mb);
	assert_false(authres_field_is_ours(big, mb, id, 0));
	free(big);
#undef OURS
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_pvalue),
		cmocka_unit_test(test_authserv_id),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_value),
		cmocka_unit_test(test_write_quoting),
		cmocka_unit_test(test_write_injection),
		cmocka_unit_test(test_write_refuses),
		cmocka_unit_test(test_write_fold),
		cmocka_unit_test(test_parse_rfc_examples),
		cmocka_unit_test(test_parse_syntax),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_is_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

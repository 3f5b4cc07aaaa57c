/*
 * lib/smtp_addr.c: RFC 5321 4.1.2 paths (quoted local parts, address
 * literals, source routes, limits of 4.5.3.1, <Postmaster>, SMTPUTF8
 * flagging), RFC 3461 xtext, and the MAIL/RCPT parameters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp_addr.h"

static int
path(const char *in, int flags, char *addr, size_t addrsz, size_t *used)
{
	struct smtp_addr	 a;
	size_t			 u;
	int			 r;

	r = smtp_path_parse(in, flags, &a, &u);
	if (addr != NULL)
		snprintf(addr, addrsz, "%s", a.addr);
	if (used != NULL)
		*used = u;
	return r;
}

static void
test_paths(void **state)
{
	char	 a[SMTP_PATH_MAX + 1];
	size_t	 used;

	assert_int_equal(path("<user@example.org>", 0, a, sizeof(a), &used),
	    SMTP_ADDR_OK);
	assert_string_equal(a, "user@example.org");
	assert_int_equal(used, 18);
	assert_int_equal(path("<a.b-c+d@sub.example.org> SIZE=1", 0, a,
	    sizeof(a), &used), SMTP_ADDR_OK);
	assert_string_equal(a, "a.b-c+d@sub.example.org");
	assert_int_equal(used, 25);
	/* Null path only where allowed. */
	assert_int_equal(path("<>", SMTP_PATH_NULL_OK, a, sizeof(a), &used),
	    SMTP_ADDR_OK);
	assert_string_equal(a, "");
	assert_int_equal(path("<>", 0, a, sizeof(a), NULL), SMTP_ADDR_ESYNTAX);
	/* Quoted local parts. */
	assert_int_equal(path("<\"john doe\"@example.org>", 0, a, sizeof(a),
	    NULL), SMTP_ADDR_OK);
	assert_string_equal(a, "\"john doe\"@example.org");
	assert_int_equal(path("<\"a\\\"b\"@example.org>", 0, a, sizeof(a),
	    NULL), SMTP_ADDR_OK);
	assert_int_equal(path("<\"a\rb\"@example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	/* Address literals. */
	assert_int_equal(path("<u@[192.0.2.1]>", 0, a, sizeof(a), NULL),
	    SMTP_ADDR_OK);
	assert_string_equal(a, "u@[192.0.2.1]");
	assert_int_equal(path("<u@[IPv6:2001:db8::1]>", 0, a, sizeof(a),
	    NULL), SMTP_ADDR_OK);
	assert_int_equal(path("<u@[192.0.2.300]>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<u@[2001:db8::1]>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<u@[x-tag:foo]>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	/* Source routes are accepted and dropped (RFC 5321 4.1.1.3). */
	assert_int_equal(path("<@a.example,@b.example:u@c.example>", 0, a,
	    sizeof(a), &used), SMTP_ADDR_OK);
	assert_string_equal(a, "u@c.example");
	assert_int_equal(used, 35);
	assert_int_equal(path("<@a.example:>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	/* Postmaster without domain, for RCPT only. */
	assert_int_equal(path("<PostMaster>", SMTP_PATH_POSTMASTER, a,
	    sizeof(a), NULL), SMTP_ADDR_OK);
	assert_string_equal(a, "PostMaster");
	assert_int_equal(path("<postmaster>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<user>", SMTP_PATH_POSTMASTER, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	/* Bad syntax. */
	assert_int_equal(path("user@example.org", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<user@example.org", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a..b@example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<.a@example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a@-example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a@example.org.>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a@exa_mple.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a b@example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<@example.org>", 0, NULL, 0, NULL),
	    SMTP_ADDR_ESYNTAX);
	assert_int_equal(path("<a@>", 0, NULL, 0, NULL), SMTP_ADDR_ESYNTAX);
}

static void
test_limits(void **state)
{
	char	 in[600], a[SMTP_PATH_MAX + 1];
	int	 n;

	/* Local part: 64 octets fine, 65 too long (4.5.3.1.1). */
	n = snprintf(in, sizeof(in), "<%.*s@example.org>", 64,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_true(n > 0);
	assert_int_equal(path(in, 0, a, sizeof(a), NULL), SMTP_ADDR_OK);
	snprintf(in, sizeof(in), "<%.*s@example.org>", 65,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(path(in, 0, NULL, 0, NULL), SMTP_ADDR_ELONG);
	/* Label over 63 octets. */
	snprintf(in, sizeof(in), "<a@%.*s.org>", 64,
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_int_equal(path(in, 0, NULL, 0, NULL), SMTP_ADDR_ESYNTAX);
	/* Whole path over 256 octets (4.5.3.1.3). */
	snprintf(in, sizeof(in), "<a@%s.%s.%s.%s.example>",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	assert_int_equal(path(in, 0, NULL, 0, NULL), SMTP_ADDR_ELONG);
}

static void
test_utf8(void **state)
{
	struct smtp_addr	 a;
	size_t			 used;

	assert_int_equal(smtp_path_parse("<j\xc3\xb6rg@b\xc3\xbc" "cher.de>",
	    0, &a, &used), SMTP_ADDR_OK);
	assert_true(a.utf8);
	assert_int_equal(smtp_path_parse("<jorg@example.de>", 0, &a, &used),
	    SMTP_ADDR_OK);
	assert_false(a.utf8);
	/* Ill-formed UTF-8: overlong, lone continuation, surrogate. */
	assert_int_equal(smtp_path_parse("<a\xc0\xaf" "b@example.de>", 0, &a,
	    &used), SMTP_ADDR_ESYNTAX);
	assert_int_equal(smtp_path_parse("<a\x80@example.de>", 0, &a,
	    &used), SMTP_ADDR_ESYNTAX);
	assert_int_equal(smtp_path_parse("<a\xed\xa0\x80@example.de>", 0, &a,
	    &used), SMTP_ADDR_ESYNTAX);
	assert_int_equal(smtp_utf8_seqlen((const unsigned char *)
	    "\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(smtp_utf8_seqlen((const unsigned char *)
	    "\xf4\x90\x80\x80", 4), 0);
}

static void
test_xtext(void **state)
{
	char	 out[16];

	/* RFC 3461 4: "+" and two upper-case hex digits. */
	assert_int_equal(smtp_xtext_decode("QQ+2B", 5, out, sizeof(out)), 3);
	assert_string_equal(out, "QQ+");
	assert_int_equal(smtp_xtext_decode("a+3Db", 5, out, sizeof(out)), 3);
	assert_string_equal(out, "a=b");
	assert_int_equal(smtp_xtext_decode("a+2b", 4, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a+2", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a=b", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a b", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("0123456789abcdef", 16, out,
	    sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("", 0, out, sizeof(out)), 0);
}

static void
test_mail_params(void **state)
{
	struct smtp_mail_params	 mp;
	struct smtp_perr	 e;

	assert_int_equal(smtp_mail_params_parse("", 0, 1000, &mp, &e), 0);
	assert_false(mp.has_size);
	assert_int_equal(smtp_mail_params_parse(" SIZE=1000 BODY=8BITMIME "
	    "SMTPUTF8 RET=HDRS ENVID=QQ+2B", 0, 1000, &mp, &e), 0);
	assert_int_equal(mp.size, 1000);
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_true(mp.smtputf8);
	assert_int_equal(mp.ret, SMTP_RET_HDRS);
	assert_string_equal(mp.envid, "QQ+");
	assert_int_equal(smtp_mail_params_parse(" size=10 body=7bit ret=full",
	    0, 1000, &mp, &e), 0);
	assert_int_equal(mp.body, SMTP_BODY_7BIT);
	assert_int_equal(mp.ret, SMTP_RET_FULL);
	/* RFC 1870 6.2: over the maximum at MAIL time. */
	assert_int_equal(smtp_mail_params_parse(" SIZE=1001", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(e.code, 552);
	assert_string_equal(e.enhanced, "5.3.4");
	assert_int_equal(smtp_mail_params_parse(" SIZE=99999999999999999999",
	    0, 1000, &mp, &e), -1);
	assert_int_equal(e.code, 552);
	assert_int_equal(smtp_mail_params_parse(" SIZE=123456789012345678901",
	    0, 1000, &mp, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(smtp_mail_params_parse(" SIZE=12a", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(e.code, 501);
	/* Unknown, duplicate, unsupported. */
	assert_int_equal(smtp_mail_params_parse(" FOO=1", 0, 1000, &mp, &e),
	    -1);
	assert_int_equal(e.code, 555);
	assert_string_equal(e.enhanced, "5.5.4");
	assert_int_equal(smtp_mail_params_parse(" RET=FULL RET=HDRS", 0, 1000,
	    &mp, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(smtp_mail_params_parse(" BODY=BINARYMIME", 0, 1000,
	    &mp, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(smtp_mail_params_parse(" BODY=9BIT", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(smtp_mail_params_parse(" SMTPUTF8=yes", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(smtp_mail_params_parse(" RET=", 0, 1000, &mp, &e),
	    -1);
	assert_int_equal(smtp_mail_params_parse("SIZE=1", 0, 1000, &mp, &e),
	    -1);
	/* ENVID: bad xtext, non-printable, too long. */
	assert_int_equal(smtp_mail_params_parse(" ENVID=a+0A", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(smtp_mail_params_parse(" ENVID=a+zz", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(smtp_mail_params_parse(" ENVID=0123456789012345678901"
	    "234567890123456789012345678901234567890123456789012345678901234567"
	    "8901234567890", 0, 1000, &mp, &e), -1);
	/*
	 * REQUIRETLS only inside TLS (RFC 8689 4.1) and only when the
	 * server offers it, which means it enforces it (4.2.1).
	 */
	assert_int_equal(smtp_mail_params_parse(" REQUIRETLS", 0, 1000, &mp,
	    &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(smtp_mail_params_parse(" REQUIRETLS", SMTP_PARAM_TLS,
	    1000, &mp, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(smtp_mail_params_parse(" REQUIRETLS",
	    SMTP_PARAM_REQUIRETLS, 1000, &mp, &e), -1);
	assert_int_equal(smtp_mail_params_parse(" REQUIRETLS",
	    SMTP_PARAM_TLS | SMTP_PARAM_REQUIRETLS, 1000, &mp, &e), 0);
	assert_true(mp.requiretls);
}

static void
test_rcpt_params(void **state)
{
	struct smtp_rcpt_params	 rp;
	struct smtp_perr	 e;

	assert_int_equal(smtp_rcpt_params_parse("", 0, &rp, &e), 0);
	assert_int_equal(rp.notify, 0);
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=SUCCESS,FAILURE,DELAY"
	    " ORCPT=rfc822;user+40example.org", 0, &rp, &e), 0);
	assert_int_equal(rp.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY);
	assert_true(rp.has_orcpt);
	assert_string_equal(rp.orcpt, "rfc822;user@example.org");
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=never", 0, &rp, &e),
	    0);
	assert_int_equal(rp.notify, SMTP_NOTIFY_NEVER);
	/* NEVER alone (RFC 3461 4.1). */
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=NEVER,SUCCESS", 0,
	    &rp, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=SUCCESS,SUCCESS", 0,
	    &rp, &e), -1);
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=SUCCESS,", 0, &rp,
	    &e), -1);
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=MAYBE", 0, &rp, &e),
	    -1);
	assert_int_equal(smtp_rcpt_params_parse(" NOTIFY=NEVER NOTIFY=NEVER",
	    0, &rp, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(smtp_rcpt_params_parse(" ORCPT=rfc822", 0, &rp, &e),
	    -1);
	assert_int_equal(smtp_rcpt_params_parse(" ORCPT=;a", 0, &rp, &e), -1);
	assert_int_equal(smtp_rcpt_params_parse(" ORCPT=rfc822;a+0Db", 0, &rp,
	    &e), -1);
	assert_int_equal(smtp_rcpt_params_parse(" FOO", 0, &rp, &e), -1);
	assert_int_equal(e.code, 555);
}

/* Addresses without angle brackets, as command lines and reports give. */
static void
test_addr_valid(void **state)
{
	char	 big[400];

	assert_true(smtp_addr_valid("a@example.org", 0));
	assert_true(smtp_addr_valid("\"a b\"@example.org", 0));
	assert_false(smtp_addr_valid("", 0));
	assert_true(smtp_addr_valid("", SMTP_PATH_NULL_OK));
	assert_false(smtp_addr_valid("postmaster", 0));	/* no domain */
	assert_false(smtp_addr_valid("a@", 0));
	assert_false(smtp_addr_valid("a@example.org>", 0));
	assert_false(smtp_addr_valid("<a@example.org", 0));
	assert_false(smtp_addr_valid("a@example.org x", 0));
	/* RFC 6531: only when the caller can carry it */
	assert_false(smtp_addr_valid("j\xc3\xb6rg@example.org", 0));
	assert_true(smtp_addr_valid("j\xc3\xb6rg@example.org",
	    SMTP_ADDR_UTF8_OK));
	assert_false(smtp_addr_valid("j\xc3@example.org", SMTP_ADDR_UTF8_OK));
	/* longer than a path may be: refused, not cut */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + sizeof(big) - 13, "@example.org", 12);
	assert_false(smtp_addr_valid(big, SMTP_ADDR_UTF8_OK));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_addr_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

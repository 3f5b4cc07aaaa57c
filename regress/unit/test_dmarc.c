/*
 * auth/dmarc.c and dmarc_record.c (RFC 9989): the policy record parser,
 * Author Domain extraction from From fields, the DNS Tree Walk for policy
 * discovery and Organizational Domains (including the examples of RFC 9989
 * B.4), np/sp selection, t=y, identifier alignment, DNS errors, the
 * evaluation record's binary form and the Authentication-Results pieces.
 * All offline, against an in-memory zone.
 */
#include <sys/types.h>

#include <event.h>
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
#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"

static const char zone_text[] =
    /* an Organizational Domain with sp and np */
    "_dmarc.example.com. TXT \"v=DMARC1; p=reject; sp=quarantine; "
	"np=reject; rua=mailto:agg@example.com\"\n"
    "example.com. A 192.0.2.1\n"
    "mail.example.com. A 192.0.2.2\n"
    "deep.sub.example.com. A 192.0.2.3\n"
    /* B.4.1: a DMARC record on a subdomain, psd unset */
    "_dmarc.signing.example.com. TXT \"v=DMARC1; p=none\"\n"
    "example.net. A 192.0.2.9\n"
    /* strict alignment */
    "_dmarc.strict.test. TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
    "strict.test. A 192.0.2.4\n"
    "mail.strict.test. A 192.0.2.5\n"
    /* B.4.2: the deep tree walk */
    "_dmarc.deep.test. TXT \"v=DMARC1; p=quarantine\"\n"
    "a.b.c.d.e.f.g.h.i.j.k.deep.test. A 192.0.2.6\n"
    /* records at an intermediate name and above it */
    "_dmarc.mid.org.test. TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.org.test. TXT \"v=DMARC1; p=none; sp=quarantine\"\n"
    "x.mid.org.test. A 192.0.2.7\n"
    /* psd=n below a plain record */
    "_dmarc.dept.psdn.test. TXT \"v=DMARC1; p=reject; psd=n\"\n"
    "_dmarc.psdn.test. TXT \"v=DMARC1; p=none\"\n"
    "a.dept.psdn.test. A 192.0.2.8\n"
    /* B.4.3: a Public Suffix Domain */
    "_dmarc.bank.example. TXT \"v=DMARC1; p=reject; sp=quarantine; "
	"np=reject; psd=y\"\n"
    "_dmarc.giant.bank.example. TXT \"v=DMARC1; p=quarantine\"\n"
    "giant.bank.example. A 192.0.2.10\n"
    "mail.giant.bank.example. A 192.0.2.11\n"
    "mail.mega.bank.example. A 192.0.2.12\n"
    "nopolicy.bank.example. A 192.0.2.13\n"
    /* testing mode */
    "_dmarc.testing.test. TXT \"v=DMARC1; p=reject; t=y\"\n"
    "_dmarc.testq.test. TXT \"v=DMARC1; p=quarantine; t=y\"\n"
    /* several records, one with other TXT beside it, split strings */
    "_dmarc.multi.test. TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.multi.test. TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.multi2.test. TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.multi2.test. TXT \"hello world\"\n"
    "_dmarc.split.test. TXT \"v=DMARC1; \" \"p=rej\" \"ect\"\n"
    /* broken records */
    "_dmarc.badp.test. TXT \"v=DMARC1; p=bogus\"\n"
    "_dmarc.badprua.test. TXT \"v=DMARC1; p=bogus; "
	"rua=mailto:a@badprua.test\"\n"
    "_dmarc.dup.test. TXT \"v=DMARC1; p=none; p=reject\"\n"
    "_dmarc.notfirst.test. TXT \"p=reject; v=DMARC1\"\n"
    /* DNS errors */
    "$SERVFAIL _dmarc.tempfail.test.\n"
    "$SERVFAIL _dmarc.tempparent.test.\n"
    "$SERVFAIL _dmarc.tmp.example.com.\n"
    "$SERVFAIL broken.example.com.\n"
    "$SERVFAIL broken.bank.example.\n";

static struct dns_ctx	*dns;

static int
group_setup(void **state)
{
	struct buf	 z;
	char		 err[512];
	size_t		 i;

	/* plus a record with 1000 rua URIs, in 255-byte strings */
	buf_init(&z, 1 << 20);
	buf_addstr(&z, zone_text);
	buf_addstr(&z, "_dmarc.manyrua.test. TXT \"v=DMARC1; p=reject; rua=\"");
	for (i = 0; i < 1000; i++)
		buf_printf(&z, " \"%smailto:r%04zu@manyrua.test\"",
		    i ? "," : "", i);
	buf_addstr(&z, "\n");
	/* Organizational Domains of their own below example.com */
	for (i = 0; i < 12; i++)
		buf_printf(&z, "_dmarc.o%zu.example.com. TXT "
		    "\"v=DMARC1; p=none; psd=n\"\n", i);
	dns = dns_ctx_zone_mem(NULL, (char *)z.data, z.len, err, sizeof(err));
	buf_free(&z);
	if (dns == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	dns_ctx_free(dns);
	return 0;
}

/* --- the record parser --- */

static int
parse(const char *txt, struct dmarc_record *r, char *err)
{
	return dmarc_record_parse(txt, strlen(txt), r, err, 160);
}

static void
test_record_defaults_and_tags(void **state)
{
	struct dmarc_record	*r = malloc(sizeof(*r));
	char			 err[160], fo[16];

	assert_int_equal(parse("v=DMARC1", r, err), 0);
	/* 4.7: no p is p=none; other defaults */
	assert_int_equal(r->p, DMARC_POLICY_NONE);
	assert_int_equal(r->sp, DMARC_POLICY_ABSENT);
	assert_int_equal(r->np, DMARC_POLICY_ABSENT);
	assert_int_equal(r->psd, 'u');
	assert_int_equal(r->adkim, 'r');
	assert_int_equal(r->aspf, 'r');
	assert_int_equal(r->testing, 0);
	assert_int_equal(r->fo, DMARC_FO_0);
	assert_int_equal(r->nrua, 0);
	assert_int_equal(r->pct, -1);

	assert_int_equal(parse("v=DMARC1; p=quarantine; sp=reject; np=none; "
	    "psd=n; t=y; adkim=s; aspf=s; fo=1:d:s; rua=mailto:a@x.test, "
	    "https://x.test/r,mailto:b@x.test!10m; ruf=mailto:f@x.test; "
	    "pct=0; rf=afrf; ri=3600; foo=bar", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r->sp, DMARC_POLICY_REJECT);
	assert_int_equal(r->np, DMARC_POLICY_NONE);
	assert_int_equal(r->psd, 'n');
	assert_int_equal(r->testing, 1);
	assert_int_equal(r->adkim, 's');
	assert_int_equal(r->aspf, 's');
	assert_int_equal(r->fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	dmarc_fo_text(r->fo, fo, sizeof(fo));
	assert_string_equal(fo, "1:d:s");
	/* only mailto: is usable; the obsolete !size is cut off */
	assert_int_equal(r->nrua, 2);
	assert_string_equal(r->rua[0], "mailto:a@x.test");
	assert_string_equal(r->rua[1], "mailto:b@x.test");
	/* ... and kept as a limit for the report sender */
	assert_int_equal(r->rua_limit[0], 0);
	assert_int_equal(r->rua_limit[1], 10 * 1024 * 1024);
	assert_int_equal(r->ruf_limit[0], 0);
	assert_int_equal(r->rua_valid, 3);
	assert_int_equal(r->rua_ignored, 1);
	assert_int_equal(r->nruf, 1);
	assert_string_equal(r->ruf[0], "mailto:f@x.test");
	/* historic pct kept for display */
	assert_int_equal(r->pct, 0);

	/* values are case-insensitive, v's value is not (4.7) */
	assert_int_equal(parse("v=DMARC1; P=REJECT; ADKIM=S", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_REJECT);
	assert_int_equal(r->adkim, 's');
	/* whitespace around = and ; (4.8) */
	assert_int_equal(parse("v = DMARC1 ;p = reject ; ", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_REJECT);
	free(r);
}

static void
test_record_bad(void **state)
{
	struct dmarc_record	*r = malloc(sizeof(*r));
	char			 err[160];

	/* 4.7: v missing, wrong or not first: the record is ignored */
	assert_int_equal(parse("p=reject", r, err), -1);
	assert_non_null(strstr(err, "v=DMARC1"));
	assert_int_equal(parse("p=reject; v=DMARC1", r, err), -1);
	assert_int_equal(parse("v=dmarc1; p=reject", r, err), -1);
	assert_int_equal(parse("v=DMARC2; p=reject", r, err), -1);
	assert_int_equal(parse("v=DMARC10; p=reject", r, err), -1);
	assert_int_equal(parse("", r, err), -1);
	assert_int_equal(parse("v=spf1 -all", r, err), -1);

	/* 4.10.1: bad p and no valid rua: unusable */
	assert_int_equal(parse("v=DMARC1; p=bogus", r, err), -2);
	assert_non_null(strstr(err, "invalid p"));
	assert_int_equal(parse("v=DMARC1; p=reject; sp=maybe", r, err), -2);
	assert_int_equal(parse("v=DMARC1; p=reject; np=", r, err), -2);
	assert_int_equal(parse("v=DMARC1; p=bogus; rua=ftp", r, err), -2);
	/* ... with a valid rua: p=none */
	assert_int_equal(parse("v=DMARC1; p=bogus; rua=mailto:a@b.test",
	    r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_NONE);
	assert_int_equal(r->p_none_forced, 1);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=x; np=reject; "
	    "rua=https://r.test/x", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_NONE);
	assert_int_equal(r->sp, DMARC_POLICY_ABSENT);
	assert_int_equal(r->np, DMARC_POLICY_ABSENT);
	assert_int_equal(r->nrua, 0);	/* valid, but not mailto: */

	/* a repeated tag makes the tag list invalid (RFC 6376 3.2) */
	assert_int_equal(parse("v=DMARC1; p=none; p=reject", r, err), -2);
	assert_non_null(strstr(err, "\"p\""));
	assert_int_equal(parse("v=DMARC1; p=none; v=DMARC1", r, err), -2);

	/* 4.7, 4.8: unknown tags and bad values ignored, defaults kept */
	assert_int_equal(parse("v=DMARC1; p=reject; garbage; x y=z; adkim=q; "
	    "aspf=; psd=maybe; t=yes; fo=0:1; zz=1; zz=2; 9=1", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_REJECT);
	assert_int_equal(r->adkim, 'r');
	assert_int_equal(r->aspf, 'r');
	assert_int_equal(r->psd, 'u');
	assert_int_equal(r->testing, 0);
	assert_int_equal(r->fo, DMARC_FO_0);
	assert_true(strlen(r->notes) > 0);
	/* fo: each value at most once */
	assert_int_equal(parse("v=DMARC1; fo=d:d; ruf=mailto:f@x.test", r,
	    err), 0);
	assert_int_equal(r->fo, DMARC_FO_0);
	assert_int_equal(parse("v=DMARC1; fo=s; ruf=mailto:f@x.test", r, err),
	    0);
	assert_int_equal(r->fo, DMARC_FO_0 | DMARC_FO_S);
	/* 4.7: without ruf, fo is ignored */
	assert_int_equal(parse("v=DMARC1; fo=1:d", r, err), 0);
	assert_int_equal(r->fo, DMARC_FO_0);
	assert_non_null(strstr(r->notes, "fo ignored"));

	/* NUL bytes inside a value */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=re\0ject", 19, r,
	    err, sizeof(err)), -2);
	/* bad reporting URIs are counted, not kept */
	assert_int_equal(parse("v=DMARC1; rua=mailto:,mailto:@x,x,:a,"
	    "mailto:a@b!x,mailto:ok@x.test", r, err), 0);
	assert_int_equal(r->nrua, 1);
	assert_int_equal(r->rua_ignored, 5);
	free(r);
}

/* Historic pct (9.3, A.6): kept when 0-100 in at most 3 digits. */
static void
test_record_pct(void **state)
{
	struct dmarc_record	*r = malloc(sizeof(*r));
	char			 err[160];

	assert_int_equal(parse("v=DMARC1; pct=100", r, err), 0);
	assert_int_equal(r->pct, 100);
	assert_int_equal(parse("v=DMARC1; pct=7", r, err), 0);
	assert_int_equal(r->pct, 7);
	assert_int_equal(parse("v=DMARC1; pct=101", r, err), 0);
	assert_int_equal(r->pct, -1);
	assert_int_equal(parse("v=DMARC1; pct=0100", r, err), 0);
	assert_int_equal(r->pct, -1);
	assert_int_equal(parse("v=DMARC1; pct=5x", r, err), 0);
	assert_int_equal(r->pct, -1);
	/* an ignored pct is no reason to refuse the record */
	assert_int_equal(r->p, DMARC_POLICY_NONE);
	free(r);
}

/* 4.7: v=DMARC1 must be the very first segment, even an empty one counts. */
static void
test_record_version_first(void **state)
{
	struct dmarc_record	*r = malloc(sizeof(*r));
	char			 err[160];

	assert_int_equal(parse("; v=DMARC1; p=reject", r, err), -1);
	assert_int_equal(parse(" v=DMARC1;;; p=reject;", r, err), 0);
	assert_int_equal(r->p, DMARC_POLICY_REJECT);
	assert_int_equal(parse("v=DMARC1 ; v =DMARC1", r, err), -2);
	assert_non_null(strstr(err, "\"v\""));
	free(r);
}

static void
test_record_many_uris(void **state)
{
	struct dmarc_record	*r = malloc(sizeof(*r));
	struct buf		 b;
	char			 err[160];
	size_t			 i;

	buf_init(&b, 1 << 20);
	buf_addstr(&b, "v=DMARC1; p=reject; rua=");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%smailto:r%04zu@x.test", i ? "," : "", i);
	buf_addstr(&b, "; ruf=");
	for (i = 0; i < 100; i++)
		buf_printf(&b, "%smailto:f%zu@x.test", i ? ", " : "", i);
	assert_int_equal(dmarc_record_parse((char *)b.data, b.len, r, err,
	    sizeof(err)), 0);
	assert_int_equal(r->p, DMARC_POLICY_REJECT);
	assert_int_equal(r->nrua, DMARC_MAX_URIS);
	assert_int_equal(r->rua_dropped, 1000 - DMARC_MAX_URIS);
	assert_string_equal(r->rua[0], "mailto:r0000@x.test");
	assert_string_equal(r->rua[DMARC_MAX_URIS - 1], "mailto:r0031@x.test");
	assert_int_equal(r->nruf, DMARC_MAX_URIS);
	assert_int_equal(r->ruf_dropped, 100 - DMARC_MAX_URIS);
	/* a record longer than any TXT rdata is refused */
	buf_reset(&b);
	buf_addstr(&b, "v=DMARC1; p=reject; x=");
	for (i = 0; i < DMARC_RECORD_MAX; i++)
		buf_add(&b, "a", 1);
	assert_int_equal(dmarc_record_parse((char *)b.data, b.len, r, err,
	    sizeof(err)), -1);
	buf_free(&b);
	free(r);
}

/* --- From fields --- */

static void
author_ok(const char *field, const char *want)
{
	const char	*f[1] = { field };
	char		 d[DMARC_DOMAIN_MAX], err[256];

	if (dmarc_author_domain(f, 1, d, sizeof(d), err, sizeof(err)) != 0) {
		fprintf(stderr, "From: %s: %s\n", field, err);
		fail();
	}
	assert_string_equal(d, want);
}

static void
author_bad(const char *field, const char *want_err)
{
	const char	*f[1] = { field };
	char		 d[DMARC_DOMAIN_MAX], err[256];

	if (dmarc_author_domain(f, 1, d, sizeof(d), err, sizeof(err)) != -1) {
		fprintf(stderr, "From: %s: accepted as %s\n", field, d);
		fail();
	}
	if (strstr(err, want_err) == NULL) {
		fprintf(stderr, "From: %s: \"%s\", want \"%s\"\n", field, err,
		    want_err);
		fail();
	}
}

static void
test_from_fields(void **state)
{
	const char	*two_same[2] = { "a@example.com", "B <b@EXAMPLE.com>" };
	const char	*two_diff[2] = { "a@example.com", "b@example.org" };
	char		 d[DMARC_DOMAIN_MAX], err[256], *deep;
	size_t		 i;

	author_ok("alice@example.com", "example.com");
	author_ok("Alice Example <alice@Example.COM>", "example.com");
	author_ok(" alice@example.com (Alice)", "example.com");
	author_ok("\"Smith, John <j@evil.test>\" <j@example.com>",
	    "example.com");
	author_ok("(comment (nested) \\) ) j@example.com", "example.com");
	author_ok("\"quoted local\"@example.com", "example.com");
	author_ok("Team: a@example.com, B <b@example.com>;", "example.com");
	author_ok("<@route.test,@r2.test:a@example.com>", "example.com");
	author_ok("a@example.com.", "example.com");
	author_ok("a@example. com", "example.com");
	author_ok("a@example.com,, b@example.com,", "example.com");
	author_ok("=?utf-8?q?J=C3=B6rg?= <j@example.com>", "example.com");
	author_ok("a@example.com\r\n\t(folded)", "example.com");

	author_bad("a@example.com, b@example.org", "different domains");
	author_bad("G: a@example.com;, b@example.net", "different domains");
	author_bad("undisclosed-recipients:;", "no mailbox");
	author_bad("alice", "without a domain");
	author_bad("Alice <alice>", "without a domain");
	author_bad("<>", "empty address");
	author_bad("a@[192.0.2.1]", "domain literal");
	/* RFC 9989 5.3.1: U-labels become A-labels */
	author_ok("a@ex\xc3\xa4mple.com", "xn--exmple-cua.com");
	author_ok("a@B\xc3\x9c" "CHER.example", "xn--bcher-kva.example");
	author_bad("a@\xff\xfe.example", "internationalized");
	author_bad("\"unterminated@example.com", "unterminated quoted");
	author_bad("(unterminated a@example.com", "comment");
	author_bad("a@example..com", "bad domain");
	author_bad("a@-example.com", "bad domain");
	author_bad("A: B: a@example.com;;", "nested group");
	author_bad("a@example.com b@example.com", "expected");
	author_bad("a@", "no domain");
	author_bad("", "no mailbox");

	/* 5.3.1: zero, or several From fields */
	assert_int_equal(dmarc_author_domain(NULL, 0, d, sizeof(d), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no From field"));
	assert_int_equal(dmarc_author_domain(two_same, 2, d, sizeof(d), err,
	    sizeof(err)), 0);
	assert_string_equal(d, "example.com");
	assert_int_equal(dmarc_author_domain(two_diff, 2, d, sizeof(d), err,
	    sizeof(err)), -1);

	/* bounded: deep comments, huge fields, many mailboxes */
	deep = malloc(DMARC_MAX_FROM_LEN + 2);
	for (i = 0; i < 40; i++)
		deep[i] = '(';
	strlcpy(deep + 40, "x a@example.com", 20);
	author_bad(deep, "too deep");
	memset(deep, 'a', DMARC_MAX_FROM_LEN + 1);
	deep[DMARC_MAX_FROM_LEN + 1] = '\0';
	author_bad(deep, "too long");
	deep[0] = '\0';
	for (i = 0; i < DMARC_MAX_FROM_ADDRS + 1; i++)
		strlcat(deep, "x@example.com,", DMARC_MAX_FROM_LEN);
	author_bad(deep, "too many");
	free(deep);
}

/* "senders <T>": every mailbox of the From fields, whole. */
static void
test_from_mailboxes(void **state)
{
	const char	*one[1], *two[2] = { "a@example.com",
			    "B <b@EXAMPLE.com>" };
	char		 mb[4][DMARC_MAILBOX_MAX], err[256], *big;

	one[0] = "Alice <alice@Example.COM>";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), 1);
	assert_string_equal(mb[0], "alice@example.com");
	/* 3.6.2 mailbox-list: display names and comments are not authors */
	one[0] = "\"Smith, J <j@evil.test>\" <j@example.com>, k@x.test "
	    "(k@evil.test)";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), 2);
	assert_string_equal(mb[0], "j@example.com");
	assert_string_equal(mb[1], "k@x.test");
	/* group members count; the local part stays as written */
	one[0] = "team: Alice.Smith@a.test, \"q u\"@b.test;";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), 2);
	assert_string_equal(mb[0], "Alice.Smith@a.test");
	assert_string_equal(mb[1], "\"q u\"@b.test");
	/* several fields, several domains: all of them */
	assert_int_equal(dmarc_from_mailboxes(two, 2, mb, 4, err,
	    sizeof(err)), 2);
	assert_string_equal(mb[1], "b@example.com");
	one[0] = "a@example.com, b@example.org";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), 2);
	assert_string_equal(mb[1], "b@example.org");

	/* none, or not readable */
	assert_int_equal(dmarc_from_mailboxes(NULL, 0, mb, 4, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no From field"));
	one[0] = "undisclosed:;";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), -1);
	one[0] = "alice@example.com, <bob@example";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), -1);
	one[0] = "alice@[192.0.2.1]";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), -1);

	/* bounded: more than max, a local part past its buffer */
	one[0] = "a@x.test, b@x.test, c@x.test, d@x.test, e@x.test";
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 4"));
	big = malloc(DMARC_LOCAL_MAX + 32);
	memset(big, 'a', DMARC_LOCAL_MAX);
	strlcpy(big + DMARC_LOCAL_MAX, "@example.com", 32);
	one[0] = big;
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "local part too long"));
	/* the DMARC author parse does not mind a long local part */
	assert_int_equal(dmarc_author_domain(one, 1, mb[0], DMARC_DOMAIN_MAX,
	    err, sizeof(err)), 0);
	/* one octet less fits: 255 octets and the NUL */
	memset(big, 'a', DMARC_LOCAL_MAX - 1);
	strlcpy(big + DMARC_LOCAL_MAX - 1, "@example.com", 32);
	assert_int_equal(dmarc_from_mailboxes(one, 1, mb, 4, err,
	    sizeof(err)), 1);
	assert_int_equal(strlen(mb[0]), DMARC_LOCAL_MAX - 1 + 12);
	free(big);
}

/* --- whole evaluations --- */

struct msg {
	const char	*from;
	const char	*mail_from;
	const char	*helo;
	enum spf_result	 spf;
	enum spf_identity scope;
	const char	*dkim_d[4];
	enum dkim_result dkim_r[4];
};

static enum dmarc_result
eval(const struct msg *m, struct dmarc_outcome *o)
{
	struct dmarc_params	 p;
	struct dkim_sigresult	 sig[4];
	const char		*from[1] = { m->from };
	size_t			 i;

	memset(&p, 0, sizeof(p));
	memset(sig, 0, sizeof(sig));
	p.from_fields = from;
	p.nfrom = m->from ? 1 : 0;
	p.mail_from = m->mail_from;
	p.helo = m->helo ? m->helo : "mx.sender.test";
	p.spf = m->spf;
	p.spf_scope = m->scope;
	for (i = 0; i < 4 && m->dkim_d[i] != NULL; i++) {
		sig[i].d = (char *)m->dkim_d[i];
		sig[i].s = "sel";
		sig[i].result = m->dkim_r[i];
	}
	p.dkim = sig;
	p.ndkim = i;
	p.source_ip = "192.0.2.99";
	p.envelope_to = "rcpt.test";
	p.now = 1700000000;
	p.trace = 1;
	return dmarc_check_sync(dns, &p, o);
}

/* Evaluate; check the result and, when given, a reason substring. */
static void
expect(const struct msg *m, enum dmarc_result want, int spf_al, int dkim_al,
    const char *want_reason)
{
	struct dmarc_outcome	 o;

	eval(m, &o);
	if (o.result != want || (spf_al >= 0 && o.spf_aligned != spf_al) ||
	    (dkim_al >= 0 && o.dkim_aligned != dkim_al) ||
	    (want_reason && strstr(o.reason, want_reason) == NULL)) {
		fprintf(stderr, "From %s: got %s (%s) spf %d dkim %d, want %s "
		    "spf %d dkim %d (%s)\n%s", m->from,
		    dmarc_result_name(o.result), o.reason, o.spf_aligned,
		    o.dkim_aligned, dmarc_result_name(want), spf_al, dkim_al,
		    want_reason ? want_reason : "", o.trace ? o.trace : "");
		fail();
	}
	dmarc_outcome_clear(&o);
}

#define PASS	DMARC_RESULT_PASS
#define FAIL	DMARC_RESULT_FAIL

static void
test_alignment_matrix(void **state)
{
	/* relaxed SPF: same Organizational Domain */
	expect(&(struct msg){ "a@example.com", "bounce.example.com", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0, "SPF");
	expect(&(struct msg){ "a@mail.example.com", "example.com", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0, NULL);
	expect(&(struct msg){ "a@deep.sub.example.com", "mail.example.com",
	    NULL, SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0,
	    NULL);
	/* a full address as MAIL FROM is accepted too */
	expect(&(struct msg){ "a@example.com", "b@Example.COM", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0, NULL);
	/* other organisation, or SPF not pass */
	expect(&(struct msg){ "a@example.com", "example.net", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, FAIL, 0, 0, NULL);
	expect(&(struct msg){ "a@example.com", "example.com", NULL, SPF_FAIL,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, FAIL, 0, 0, NULL);
	expect(&(struct msg){ "a@example.com", "example.com", NULL,
	    SPF_SOFTFAIL, SPF_ID_MAILFROM, { NULL }, { 0 } }, FAIL, 0, 0,
	    NULL);
	/* "notexample.com" is not below example.com */
	expect(&(struct msg){ "a@example.com", "notexample.com", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, FAIL, 0, 0, NULL);

	/* relaxed DKIM, B.4.1: signing.example.com has its own record */
	expect(&(struct msg){ "a@example.com", "x.net", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { "signing.example.com" }, { DKIM_PASS } }, PASS,
	    0, 1, "DKIM d=signing.example.com");
	expect(&(struct msg){ "a@mail.example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "example.com" }, { DKIM_PASS } }, PASS, 0, 1,
	    NULL);
	/* failing signatures do not count; a later passing one does */
	expect(&(struct msg){ "a@example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "example.com" }, { DKIM_FAIL } }, FAIL, 0, 0,
	    NULL);
	expect(&(struct msg){ "a@example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "example.net", "example.com", "example.org" },
	    { DKIM_PASS, DKIM_TEMPERROR, DKIM_PASS } }, FAIL, 0, 0, NULL);
	expect(&(struct msg){ "a@example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "example.net", "mail.example.com" },
	    { DKIM_PASS, DKIM_PASS } }, PASS, 0, 1, NULL);
	/* both aligned */
	expect(&(struct msg){ "a@example.com", "example.com", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { "EXAMPLE.com." }, { DKIM_PASS } }, PASS, 1, 1,
	    "SPF and DKIM");

	/* strict: only identical names */
	expect(&(struct msg){ "a@strict.test", "mail.strict.test", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { "mail.strict.test" }, { DKIM_PASS } },
	    FAIL, 0, 0, NULL);
	expect(&(struct msg){ "a@strict.test", "strict.test", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0, NULL);
	expect(&(struct msg){ "a@strict.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "STRICT.test" }, { DKIM_PASS } }, PASS, 0, 1,
	    NULL);
	/* the subdomain gets the strict record through the tree walk */
	expect(&(struct msg){ "a@mail.strict.test", "strict.test", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { "strict.test" }, { DKIM_PASS } },
	    FAIL, 0, 0, NULL);

	/* psd=n: dept.psdn.test is its own Organizational Domain */
	expect(&(struct msg){ "a@a.dept.psdn.test", "psdn.test", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { "x.dept.psdn.test" }, { DKIM_PASS } },
	    PASS, 0, 1, NULL);

	/* B.4.3: SPF aligned, DKIM mail.mega.bank.example not */
	expect(&(struct msg){ "a@giant.bank.example",
	    "mail.giant.bank.example", NULL, SPF_PASS, SPF_ID_MAILFROM,
	    { "mail.mega.bank.example" }, { DKIM_PASS } }, PASS, 1, 0, NULL);
	expect(&(struct msg){ "a@giant.bank.example", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "mail.mega.bank.example" }, { DKIM_PASS } },
	    FAIL, 0, 0, NULL);
	expect(&(struct msg){ "a@giant.bank.example", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "bank.example" }, { DKIM_PASS } }, FAIL, 0, 0,
	    NULL);

	/*
	 * 3.2.4: null MAIL FROM: the HELO identity stands in; with a
	 * MAIL FROM, a HELO result does not count.
	 */
	expect(&(struct msg){ "a@example.com", NULL, "mail.example.com",
	    SPF_PASS, SPF_ID_HELO, { NULL }, { 0 } }, PASS, 1, 0, NULL);
	expect(&(struct msg){ "a@example.com", "", "mail.example.com",
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, PASS, 1, 0, NULL);
	expect(&(struct msg){ "a@example.com", "other.net", "mail.example.com",
	    SPF_PASS, SPF_ID_HELO, { NULL }, { 0 } }, FAIL, 0, 0, NULL);
}

static void
test_tree_walk(void **state)
{
	struct dmarc_outcome	 o;
	static const char *const deep_q[] = {
		"_dmarc.a.b.c.d.e.f.g.h.i.j.k.deep.test",
		"_dmarc.g.h.i.j.k.deep.test",
		"_dmarc.h.i.j.k.deep.test",
		"_dmarc.i.j.k.deep.test",
		"_dmarc.j.k.deep.test",
		"_dmarc.k.deep.test",
		"_dmarc.deep.test",
		"_dmarc.test",
	};
	size_t			 i;

	/* a record at the Author Domain: one query is enough */
	eval(&(struct msg){ "a@example.com", "example.com", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, PASS);
	assert_string_equal(o.policy_domain, "example.com");
	assert_int_equal(o.applied, DMARC_APPLIED_P);
	assert_int_equal(o.nqueried, 1);
	assert_string_equal(o.discovery, "treewalk");
	assert_int_equal(o.disposition, DMARC_DISP_PASS);
	dmarc_outcome_clear(&o);

	/* B.4.2: eight queries for a 13-label name, then pass via DKIM */
	eval(&(struct msg){ "a@a.b.c.d.e.f.g.h.i.j.k.deep.test",
	    "deep.test", NULL, SPF_FAIL, SPF_ID_MAILFROM, { "deep.test" },
	    { DKIM_PASS } }, &o);
	assert_int_equal(o.result, PASS);
	assert_int_equal(o.nqueried, 8);
	for (i = 0; i < 8; i++)
		assert_string_equal(o.queried[i], deep_q[i]);
	assert_string_equal(o.policy_domain, "deep.test");
	assert_string_equal(o.org_domain, "deep.test");
	assert_int_equal(o.record.p, DMARC_POLICY_QUARANTINE);
	/* no sp: p applies to the subdomain */
	assert_int_equal(o.applied, DMARC_APPLIED_P);
	dmarc_outcome_clear(&o);

	/* records at an intermediate name and above: the shortest wins */
	eval(&(struct msg){ "a@x.mid.org.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_string_equal(o.org_domain, "org.test");
	assert_string_equal(o.policy_domain, "org.test");
	assert_int_equal(o.applied, DMARC_APPLIED_SP);
	assert_int_equal(o.disposition, DMARC_DISP_QUARANTINE);
	dmarc_outcome_clear(&o);
	/* ... while the intermediate name uses its own */
	eval(&(struct msg){ "a@mid.org.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_string_equal(o.policy_domain, "mid.org.test");
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);

	/* psd=n stops the walk */
	eval(&(struct msg){ "a@a.dept.psdn.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_string_equal(o.org_domain, "dept.psdn.test");
	assert_string_equal(o.policy_domain, "dept.psdn.test");
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	assert_int_equal(o.nqueried, 2);
	dmarc_outcome_clear(&o);

	/* B.4.3: the Organizational Domain is one below the PSD */
	eval(&(struct msg){ "a@giant.bank.example", "mail.giant.bank.example",
	    NULL, SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_string_equal(o.org_domain, "giant.bank.example");
	assert_string_equal(o.policy_domain, "giant.bank.example");
	dmarc_outcome_clear(&o);
	/* no record below the PSD: the PSD's policy, sp for existing */
	eval(&(struct msg){ "a@nopolicy.bank.example", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_string_equal(o.org_domain, "nopolicy.bank.example");
	assert_string_equal(o.policy_domain, "bank.example");
	assert_int_equal(o.applied, DMARC_APPLIED_SP);
	assert_int_equal(o.disposition, DMARC_DISP_QUARANTINE);
	dmarc_outcome_clear(&o);

	/* the PSD as Author Domain: its own Organizational Domain */
	eval(&(struct msg){ "a@bank.example", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_string_equal(o.policy_domain, "bank.example");
	assert_int_equal(o.applied, DMARC_APPLIED_P);
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);

	/* an identifier outside the Organizational Domain needs no walk */
	eval(&(struct msg){ "a@example.com", "example.net", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { "mail.example.org" }, { DKIM_PASS } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.nqueried, 2);	/* example.com, com */
	dmarc_outcome_clear(&o);
	/* one inside it does: bounce.example.com, then the cache */
	eval(&(struct msg){ "a@example.com", "bounce.example.com", NULL,
	    SPF_PASS, SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.nqueried, 3);
	assert_string_equal(o.queried[2], "_dmarc.bounce.example.com");
	dmarc_outcome_clear(&o);

	/* no record anywhere: none, and DMARC does not apply */
	eval(&(struct msg){ "a@nothing.example.org", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, DMARC_RESULT_NONE);
	assert_int_equal(o.disposition, DMARC_DISP_NONE);
	assert_int_equal(o.have_record, 0);
	assert_int_equal(o.nqueried, 3);
	dmarc_outcome_clear(&o);
}

static void
test_np_sp(void **state)
{
	struct dmarc_outcome	 o;

	/* existing subdomain: sp */
	eval(&(struct msg){ "a@mail.example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.applied, DMARC_APPLIED_SP);
	assert_int_equal(o.author_exists, 1);
	assert_int_equal(o.disposition, DMARC_DISP_QUARANTINE);
	/* the existence check was the last query */
	assert_string_equal(o.queried[o.nqueried - 1], "mail.example.com");
	dmarc_outcome_clear(&o);
	/* empty non-terminal exists (RFC 8020) */
	eval(&(struct msg){ "a@sub.example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.applied, DMARC_APPLIED_SP);
	dmarc_outcome_clear(&o);
	/* non-existent subdomain: np (3.2.13) */
	eval(&(struct msg){ "a@nosuch.example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.applied, DMARC_APPLIED_NP);
	assert_int_equal(o.author_exists, 0);
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);
	/* and the same under a PSD */
	eval(&(struct msg){ "a@ghost.bank.example", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.applied, DMARC_APPLIED_NP);
	assert_string_equal(o.policy_domain, "bank.example");
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);
	/* the domain itself: p */
	eval(&(struct msg){ "a@example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.applied, DMARC_APPLIED_P);
	assert_int_equal(o.author_exists, -1);
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);
}

static void
test_testing_mode(void **state)
{
	struct dmarc_outcome	 o;

	eval(&(struct msg){ "a@testing.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	/* 4.7: reject becomes quarantine, with the reason for reports */
	assert_int_equal(o.disposition, DMARC_DISP_QUARANTINE);
	assert_int_equal(o.eval.nreasons, 1);
	assert_int_equal(o.eval.reasons[0].type,
	    DMARC_OVERRIDE_POLICY_TEST_MODE);
	assert_int_equal(o.eval.testing, 1);
	dmarc_outcome_clear(&o);
	eval(&(struct msg){ "a@testq.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(o.disposition, DMARC_DISP_NONE);
	dmarc_outcome_clear(&o);
	/* a pass is untouched */
	eval(&(struct msg){ "a@testing.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "testing.test" }, { DKIM_PASS } }, &o);
	assert_int_equal(o.result, PASS);
	assert_int_equal(o.eval.nreasons, 0);
	dmarc_outcome_clear(&o);
}

static void
test_records_in_dns(void **state)
{
	struct dmarc_outcome	 o;
	const struct msg	 m0 = { "a@multi.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } };
	struct msg		 m = m0;

	/* 4.10 step 2: two DMARC records at one name are none */
	expect(&m, DMARC_RESULT_NONE, 0, 0, "no DMARC policy");
	eval(&m, &o);
	assert_non_null(strstr(o.trace, "2 DMARC records"));
	dmarc_outcome_clear(&o);
	/* other TXT beside it does not count */
	m.from = "a@multi2.test";
	expect(&m, FAIL, 0, 0, NULL);
	/* strings concatenated (4.5) */
	m.from = "a@split.test";
	eval(&m, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o);
	/* unusable records */
	m.from = "a@badp.test";
	expect(&m, DMARC_RESULT_PERMERROR, 0, 0, "invalid p");
	m.from = "a@dup.test";
	expect(&m, DMARC_RESULT_PERMERROR, 0, 0, "more than once");
	m.from = "a@notfirst.test";
	expect(&m, DMARC_RESULT_NONE, 0, 0, NULL);
	/* 4.10.1: bad p with a valid rua is p=none */
	m.from = "a@badprua.test";
	eval(&m, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.policy, DMARC_POLICY_NONE);
	assert_int_equal(o.disposition, DMARC_DISP_NONE);
	dmarc_outcome_clear(&o);
	/* 1000 rua URIs: a clean result, in bounded memory */
	m.from = "a@manyrua.test";
	eval(&m, &o);
	assert_int_equal(o.result, FAIL);
	assert_int_equal(o.disposition, DMARC_DISP_REJECT);
	assert_int_equal(o.record.nrua, DMARC_MAX_URIS);
	assert_int_equal(o.record.rua_dropped, 1000 - DMARC_MAX_URIS);
	dmarc_outcome_clear(&o);
}

static void
test_temperror(void **state)
{
	struct msg	 m = { "a@tempfail.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { "tempfail.test" }, { DKIM_PASS } };

	expect(&m, DMARC_RESULT_TEMPERROR, 0, 0, "DNS error");
	/* an error higher up the walk */
	m.from = "a@x.tempparent.test";
	m.dkim_d[0] = NULL;
	expect(&m, DMARC_RESULT_TEMPERROR, 0, 0, "tree walk");
	/* an alignment walk that fails: unknown, unless another aligns */
	m.from = "a@example.com";
	m.dkim_d[0] = "x.tmp.example.com";
	expect(&m, DMARC_RESULT_TEMPERROR, 0, 0, "alignment");
	m.dkim_d[1] = "example.com";
	m.dkim_r[1] = DKIM_PASS;
	expect(&m, PASS, 0, 1, NULL);
	/* np needs the Author Domain's existence, which is unknown */
	m.from = "a@broken.example.com";
	m.dkim_d[0] = NULL;
	expect(&m, DMARC_RESULT_TEMPERROR, 0, 0, "existence");
	m.from = "a@broken.bank.example";
	expect(&m, DMARC_RESULT_TEMPERROR, 0, 0, "existence");
	/* ... but a pass does not depend on it */
	m.dkim_d[0] = "broken.example.com";
	m.dkim_r[0] = DKIM_PASS;
	m.from = "a@broken.example.com";
	expect(&m, PASS, 0, 1, NULL);
}

static void
test_from_in_eval(void **state)
{
	struct dmarc_outcome	 o;
	struct dmarc_params	 p;
	const char		*two[2] = { "a@example.com", "b@example.net" };

	memset(&p, 0, sizeof(p));
	p.nfrom = 0;
	assert_int_equal(dmarc_check_sync(dns, &p, &o),
	    DMARC_RESULT_PERMERROR);
	assert_non_null(strstr(o.reason, "no From field"));
	assert_int_equal(o.nqueried, 0);
	assert_int_equal(o.disposition, DMARC_DISP_NONE);
	dmarc_outcome_clear(&o);
	p.from_fields = two;
	p.nfrom = 2;
	assert_int_equal(dmarc_check_sync(dns, &p, &o),
	    DMARC_RESULT_PERMERROR);
	assert_non_null(strstr(o.reason, "different domains"));
	dmarc_outcome_clear(&o);
	expect(&(struct msg){ "Undisclosed:;", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, DMARC_RESULT_PERMERROR, 0, 0,
	    "no mailbox");
}

/* 11.5: every Author Domain, once each, in order */
static void
test_author_domains(void **state)
{
	char		 d[3][DMARC_DOMAIN_MAX], err[160];
	const char	*f[3] = { "a@Example.COM, b@example.net",
			    "\"C\" <c@example.com>", "g: x@example.org;" };

	assert_int_equal(dmarc_author_domains(f, 1, d, 3, err, sizeof(err)),
	    2);
	assert_string_equal(d[0], "example.com");
	assert_string_equal(d[1], "example.net");
	assert_int_equal(dmarc_author_domains(f, 2, d, 3, err, sizeof(err)),
	    2);
	/* more than max: the count, the first max kept */
	assert_int_equal(dmarc_author_domains(f, 3, d, 2, err, sizeof(err)),
	    3);
	assert_string_equal(d[1], "example.net");
	assert_int_equal(dmarc_author_domains(f, 0, d, 3, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "no From field");
	f[0] = "a@example.com, <b@example.net";
	assert_int_equal(dmarc_author_domains(f, 1, d, 3, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "From:"));
}

/* An Author Domain given by the caller, and the strictest of several. */
static void
test_strictest(void **state)
{
	struct dmarc_outcome	 o[4];
	const struct dmarc_outcome *op[4] = { &o[0], &o[1], &o[2], &o[3] };
	struct dmarc_params	 p;
	const char		*two[1] = { "a@example.com, b@example.net" };

	memset(&p, 0, sizeof(p));
	p.from_fields = two;
	p.nfrom = 1;
	assert_int_equal(dmarc_check_sync(dns, &p, &o[0]),
	    DMARC_RESULT_PERMERROR);
	dmarc_outcome_clear(&o[0]);
	p.author_domain = "Example.COM";
	assert_int_equal(dmarc_check_sync(dns, &p, &o[0]), FAIL);
	assert_string_equal(o[0].header_from, "example.com");
	assert_string_equal(o[0].eval.header_from, "example.com");
	assert_int_equal(o[0].disposition, DMARC_DISP_REJECT);
	dmarc_outcome_clear(&o[0]);
	p.author_domain = "bad..domain";
	assert_int_equal(dmarc_check_sync(dns, &p, &o[0]),
	    DMARC_RESULT_PERMERROR);
	dmarc_outcome_clear(&o[0]);

	memset(o, 0, sizeof(o));
	o[0].result = DMARC_RESULT_PASS;
	o[1].result = DMARC_RESULT_NONE;
	assert_int_equal(dmarc_strictest(op, 2), 0);
	o[1].result = DMARC_RESULT_PERMERROR;
	assert_int_equal(dmarc_strictest(op, 2), 1);
	o[2].result = FAIL;
	o[2].disposition = DMARC_DISP_NONE;
	assert_int_equal(dmarc_strictest(op, 3), 2);
	o[3].result = FAIL;
	o[3].disposition = DMARC_DISP_QUARANTINE;
	assert_int_equal(dmarc_strictest(op, 4), 3);
	/* a DNS error might hide a reject: it outranks quarantine ... */
	o[0].result = DMARC_RESULT_TEMPERROR;
	assert_int_equal(dmarc_strictest(op, 4), 0);
	/* ... but not a reject, and the first of equals wins */
	o[1].result = FAIL;
	o[1].disposition = DMARC_DISP_REJECT;
	o[2].disposition = DMARC_DISP_REJECT;
	assert_int_equal(dmarc_strictest(op, 4), 1);
	assert_int_equal(dmarc_strictest(op, 1), 0);
}

static void
test_bounds(void **state)
{
	struct dmarc_outcome	 o;
	struct dmarc_params	 p;
	struct dkim_sigresult	 sig[12];
	char			 from[300], d[12][32];
	const char		*f[1] = { from };
	size_t			 i;

	/* 120 labels: eight walk queries and the existence check */
	memset(&p, 0, sizeof(p));
	p.from_fields = f;
	p.nfrom = 1;
	strlcpy(from, "x@", sizeof(from));
	for (i = 0; i < 120; i++)
		strlcat(from, "a.", sizeof(from));
	strlcat(from, "example.com", sizeof(from));
	assert_int_equal(dmarc_check_sync(dns, &p, &o), FAIL);
	assert_int_equal(o.nqueried, 9);
	assert_string_equal(o.queried[1], "_dmarc.a.a.a.a.a.example.com");
	assert_string_equal(o.queried[7], "_dmarc.com");
	assert_string_equal(o.policy_domain, "example.com");
	assert_int_equal(o.applied, DMARC_APPLIED_NP);
	dmarc_outcome_clear(&o);

	/* twelve passing signatures that each need a walk: bounded */
	for (i = 0; i < 12; i++) {
		memset(&sig[i], 0, sizeof(sig[i]));
		snprintf(d[i], sizeof(d[i]), "x.o%zu.example.com", i);
		sig[i].d = d[i];
		sig[i].s = "s";
		sig[i].result = DKIM_PASS;
	}
	p.dkim = sig;
	p.ndkim = 12;
	p.trace = 1;
	strlcpy(from, "a@example.com", sizeof(from));
	assert_int_equal(dmarc_check_sync(dns, &p, &o), FAIL);
	assert_true(o.nqueried <= 2 + 2 * DMARC_MAX_ALIGN_WALKS);
	assert_non_null(strstr(o.trace, "too many identifiers"));
	assert_non_null(strstr(o.trace, "Organizational Domain of "
	    "x.o0.example.com: o0.example.com"));
	assert_int_equal(o.eval.ndkim, 12);
	dmarc_outcome_clear(&o);
}

/* --- evaluation records --- */

static void
fill_record(struct dmarc_eval_record *er)
{
	memset(er, 0, sizeof(*er));
	er->when = 1700000000;
	er->result = DMARC_RESULT_FAIL;
	strlcpy(er->source_ip, "2001:db8::1", sizeof(er->source_ip));
	er->count = 1;
	er->disposition = DMARC_DISP_QUARANTINE;
	er->spf_aligned_pass = 1;
	assert_int_equal(dmarc_eval_add_reason(er,
	    DMARC_OVERRIDE_MAILING_LIST, "list.test"), 0);
	strlcpy(er->header_from, "example.com", sizeof(er->header_from));
	strlcpy(er->envelope_from, "bounce.example.com",
	    sizeof(er->envelope_from));
	strlcpy(er->envelope_to, "rcpt.test", sizeof(er->envelope_to));
	er->ndkim = 2;
	strlcpy(er->dkim[0].domain, "example.com", DMARC_DOMAIN_MAX);
	strlcpy(er->dkim[0].selector, "s1", DMARC_DOMAIN_MAX);
	er->dkim[0].result = DKIM_FAIL;
	strlcpy(er->dkim[1].domain, "other.test", DMARC_DOMAIN_MAX);
	er->dkim[1].result = DKIM_PASS;
	er->have_spf = 1;
	strlcpy(er->spf_domain, "bounce.example.com", DMARC_DOMAIN_MAX);
	er->spf_result = SPF_PASS;
	er->have_policy = 1;
	strlcpy(er->policy_domain, "example.com", DMARC_DOMAIN_MAX);
	er->p = DMARC_POLICY_REJECT;
	er->np = DMARC_POLICY_QUARANTINE;
	er->psd = 'n';
	er->testing = 1;
	er->adkim = 's';
	er->aspf = 'r';
	er->fo = DMARC_FO_1 | DMARC_FO_D;
	er->discovery_treewalk = 1;
}

static void
test_encode_decode(void **state)
{
	struct dmarc_eval_record er, back;
	struct dmarc_outcome	 o;
	struct buf		 b;
	uint8_t			*copy;
	size_t			 i, n;

	fill_record(&er);
	buf_init(&b, 1 << 16);
	assert_int_equal(dmarc_eval_encode(&er, &b), 0);
	assert_int_equal(dmarc_eval_decode(b.data, b.len, &back), 0);
	assert_memory_equal(&er, &back, sizeof(er));

	/*
	 * every truncation is rejected, and trailing bytes; but for the
	 * trailing flags byte, which records stored before it lack
	 */
	for (i = 0; i < b.len - 1; i++)
		assert_int_equal(dmarc_eval_decode(b.data, i, &back), -1);
	assert_int_equal(dmarc_eval_decode(b.data, b.len - 1, &back), 0);
	assert_memory_equal(&er, &back, sizeof(er));
	/* report mail: the flag round-trips; unknown flags are refused */
	er.report_mail = 1;
	buf_reset(&b);
	assert_int_equal(dmarc_eval_encode(&er, &b), 0);
	assert_int_equal(dmarc_eval_decode(b.data, b.len, &back), 0);
	assert_int_equal(back.report_mail, 1);
	assert_int_equal(dmarc_eval_decode(b.data, b.len - 1, &back), 0);
	assert_int_equal(back.report_mail, 0);
	b.data[b.len - 1] = 0x02;
	assert_int_equal(dmarc_eval_decode(b.data, b.len, &back), -1);
	er.report_mail = 0;
	buf_reset(&b);
	assert_int_equal(dmarc_eval_encode(&er, &b), 0);
	copy = malloc(b.len + 1);
	memcpy(copy, b.data, b.len);
	copy[b.len] = 0;
	assert_int_equal(dmarc_eval_decode(copy, b.len + 1, &back), -1);
	/* wrong version */
	copy[2] = 2;
	assert_int_equal(dmarc_eval_decode(copy, b.len, &back), -1);
	copy[2] = 1;
	/* result out of range (byte 11: after magic, version, when) */
	copy[11] = 9;
	assert_int_equal(dmarc_eval_decode(copy, b.len, &back), -1);
	copy[11] = DMARC_RESULT_FAIL;
	assert_int_equal(dmarc_eval_decode(copy, b.len, &back), 0);
	/* a NUL inside a string (source_ip starts at byte 14) */
	copy[14] = '\0';
	assert_int_equal(dmarc_eval_decode(copy, b.len, &back), -1);
	/* random garbage never decodes */
	srandom(1);
	for (n = 0; n < 2000; n++) {
		for (i = 0; i < b.len; i++)
			copy[i] = random();
		assert_int_equal(dmarc_eval_decode(copy, random() % b.len,
		    &back), -1);
	}
	/* flipping each byte of a valid record either decodes or is -1 */
	for (i = 0; i < b.len; i++) {
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0xff;
		if (dmarc_eval_decode(copy, b.len, &back) == 0)
			assert_true(back.nreasons <= DMARC_MAX_REASONS &&
			    back.ndkim <= DMARC_MAX_DKIM);
	}
	free(copy);
	/* too many reasons cannot be added */
	for (i = 1; i < DMARC_MAX_REASONS; i++)
		assert_int_equal(dmarc_eval_add_reason(&er,
		    DMARC_OVERRIDE_OTHER, "x"), 0);
	assert_int_equal(dmarc_eval_add_reason(&er, DMARC_OVERRIDE_OTHER,
	    "x"), -1);

	/* an evaluation's own record survives the trip */
	eval(&(struct msg){ "a@example.com", "example.com", NULL, SPF_PASS,
	    SPF_ID_MAILFROM, { "example.com" }, { DKIM_FAIL } }, &o);
	assert_string_equal(o.eval.header_from, "example.com");
	assert_string_equal(o.eval.envelope_from, "example.com");
	assert_string_equal(o.eval.envelope_to, "rcpt.test");
	assert_string_equal(o.eval.source_ip, "192.0.2.99");
	assert_int_equal(o.eval.ndkim, 1);
	assert_string_equal(o.eval.dkim[0].selector, "sel");
	assert_int_equal(o.eval.dkim[0].result, DKIM_FAIL);
	assert_int_equal(o.eval.spf_result, SPF_PASS);
	assert_int_equal(o.eval.spf_aligned_pass, 1);
	assert_int_equal(o.eval.dkim_aligned_pass, 0);
	assert_int_equal(o.eval.p, DMARC_POLICY_REJECT);
	assert_int_equal(o.eval.sp, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.eval.disposition, DMARC_DISP_PASS);
	assert_int_equal(o.eval.when, 1700000000);
	buf_reset(&b);
	assert_int_equal(dmarc_eval_encode(&o.eval, &b), 0);
	assert_int_equal(dmarc_eval_decode(b.data, b.len, &back), 0);
	assert_memory_equal(&o.eval, &back, sizeof(back));
	dmarc_outcome_clear(&o);
	/* and so does one with no policy */
	eval(&(struct msg){ "a@nothing.example.org", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	buf_reset(&b);
	assert_int_equal(dmarc_eval_encode(&o.eval, &b), 0);
	assert_int_equal(dmarc_eval_decode(b.data, b.len, &back), 0);
	assert_int_equal(back.have_policy, 0);
	dmarc_outcome_clear(&o);
	buf_free(&b);
}

static void
test_ar_props(void **state)
{
	struct dmarc_outcome	 o;
	struct dmarc_ar_prop	 pr[DMARC_AR_PROPS_MAX];
	size_t			 n;

	eval(&(struct msg){ "a@testing.test", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	n = dmarc_ar_props(&o, pr);
	assert_int_equal(n, 3);
	assert_string_equal(pr[0].name, "header.from");
	assert_string_equal(pr[0].value, "testing.test");
	assert_string_equal(pr[1].name, "policy.dmarc");
	assert_string_equal(pr[1].value, "quarantine");
	assert_string_equal(pr[2].name, "policy.published-domain-policy");
	assert_string_equal(pr[2].value, "reject");
	dmarc_outcome_clear(&o);
	eval(&(struct msg){ "a@mail.example.com", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(dmarc_ar_props(&o, pr), 4);
	assert_string_equal(pr[1].value, "quarantine");
	assert_string_equal(pr[3].name, "policy.published-subdomain-policy");
	dmarc_outcome_clear(&o);
	eval(&(struct msg){ "a@nothing.example.org", NULL, NULL, SPF_NONE,
	    SPF_ID_MAILFROM, { NULL }, { 0 } }, &o);
	assert_int_equal(dmarc_ar_props(&o, pr), 1);
	dmarc_outcome_clear(&o);
	assert_string_equal(dmarc_result_name(DMARC_RESULT_TEMPERROR),
	    "temperror");
	assert_string_equal(dmarc_disposition_name(DMARC_DISP_REJECT),
	    "reject");
	assert_string_equal(dmarc_override_name(
	    DMARC_OVERRIDE_TRUSTED_FORWARDER), "trusted_forwarder");
}

/* --- asynchronous use --- */

struct async_state {
	int			 calls;
	enum dmarc_result	 result;
};

static void
async_done(void *arg, const struct dmarc_outcome *o)
{
	struct async_state	*s = arg;

	s->calls++;
	s->result = o->result;
}

static void
test_async(void **state)
{
	struct event_base	*base = event_base_new();
	struct dns_ctx		*ctx;
	struct dmarc_params	 p;
	struct dmarc_eval	*e;
	struct async_state	 s;
	const char		*from[1] = { "a@x.mid.org.test" };
	char			 err[256];
	int			 i, k;

	ctx = dns_ctx_zone_mem(base, zone_text, sizeof(zone_text) - 1, err,
	    sizeof(err));
	assert_non_null(ctx);
	memset(&p, 0, sizeof(p));
	p.from_fields = from;
	p.nfrom = 1;
	memset(&s, 0, sizeof(s));
	/* the callback never runs from inside the start call */
	e = dmarc_eval_start(ctx, &p, async_done, &s);
	assert_non_null(e);
	assert_int_equal(s.calls, 0);
	event_base_dispatch(base);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.result, FAIL);
	/* two at once on one loop, each with its own answer */
	{
		struct async_state	 s2;
		struct dmarc_params	 p2 = p;
		const char		*from2[1] = { "a@example.com" };
		struct dkim_sigresult	 sig;

		memset(&sig, 0, sizeof(sig));
		sig.d = "signing.example.com";
		sig.result = DKIM_PASS;
		p2.from_fields = from2;
		p2.dkim = &sig;
		p2.ndkim = 1;
		memset(&s, 0, sizeof(s));
		memset(&s2, 0, sizeof(s2));
		dmarc_eval_start(ctx, &p, async_done, &s);
		dmarc_eval_start(ctx, &p2, async_done, &s2);
		event_base_dispatch(base);
		assert_int_equal(s.calls, 1);
		assert_int_equal(s.result, FAIL);
		assert_int_equal(s2.calls, 1);
		assert_int_equal(s2.result, PASS);
	}
	/* cancelled mid-walk: never called, nothing left pending */
	memset(&s, 0, sizeof(s));
	e = dmarc_eval_start(ctx, &p, async_done, &s);
	event_base_loop(base, EVLOOP_ONCE);
	dmarc_eval_cancel(e);
	assert_int_equal(dns_pending(ctx), 0);
	event_base_dispatch(base);
	assert_int_equal(s.calls, 0);
	/*
	 * Cancelled at every step, the existence check included (four
	 * queries, one answer per loop turn); once done has run, the
	 * evaluation is gone and must not be cancelled.
	 */
	from[0] = "a@nosuch.example.com";
	for (k = 0; k < 4; k++) {
		memset(&s, 0, sizeof(s));
		e = dmarc_eval_start(ctx, &p, async_done, &s);
		for (i = 0; i < k; i++)
			event_base_loop(base, EVLOOP_ONCE);
		assert_int_equal(s.calls, 0);
		dmarc_eval_cancel(e);
		assert_int_equal(dns_pending(ctx), 0);
		event_base_dispatch(base);
		assert_int_equal(s.calls, 0);
	}
	dns_ctx_free(ctx);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_defaults_and_tags),
		cmocka_unit_test(test_record_bad),
		cmocka_unit_test(test_record_pct),
		cmocka_unit_test(test_record_version_first),
		cmocka_unit_test(test_record_many_uris),
		cmocka_unit_test(test_from_fields),
		cmocka_unit_test(test_from_mailboxes),
		cmocka_unit_test(test_alignment_matrix),
		cmocka_unit_test(test_tree_walk),
		cmocka_unit_test(test_np_sp),
		cmocka_unit_test(test_testing_mode),
		cmocka_unit_test(test_records_in_dns),
		cmocka_unit_test(test_temperror),
		cmocka_unit_test(test_from_in_eval),
		cmocka_unit_test(test_author_domains),
		cmocka_unit_test(test_strictest),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_ar_props),
		cmocka_unit_test(test_async),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

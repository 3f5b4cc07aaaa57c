/*
 * auth/inbound.c: the verdict and the Authentication-Results field of a
 * whole message under a listener policy, for the shapes of header that
 * used to slip past DMARC (RFC 9989 5.3.1, 11.5): no From field, From
 * fields naming several Author Domains, too many of them, and headers
 * beyond the reading limits before or after the From field.  Offline,
 * against an in-memory zone.
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
#include "auth/dkim.h"
#include "auth/inbound.h"

static const char zone_text[] =
    "reject.test. TXT \"v=spf1 -all\"\n"
    "_dmarc.reject.test. TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.quar.test. TXT \"v=DMARC1; p=quarantine\"\n"
    "_dmarc.none.test. TXT \"v=DMARC1; p=none\"\n"
    "good.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
    "_dmarc.good.test. TXT \"v=DMARC1; p=reject\"\n";

/* DMARC_MAX_AUTHORS, spelt out so that the test builds on older code */
#define AUTHORS_EVALUATED	8

static struct dns_ctx	*dns;

struct got {
	enum inbound_verdict	 verdict;
	int			 code;
	char			 status[16];
	char			 text[256];
	char			*header;
	int			 have_dmarc;
	struct dmarc_eval_record eval;
};

static int
group_setup(void **state)
{
	char	 err[512];

	dns = dns_ctx_zone_mem(NULL, zone_text, strlen(zone_text), err,
	    sizeof(err));
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

static void
keep(void *arg, const struct inbound_result *r)
{
	struct got	*g = arg;

	g->verdict = r->verdict;
	g->code = r->code;
	strlcpy(g->status, r->status, sizeof(g->status));
	strlcpy(g->text, r->text, sizeof(g->text));
	g->header = xstrndup((const char *)r->header.data, r->header.len);
	g->have_dmarc = r->have_dmarc;
	g->eval = r->dmarc_eval;
}

/* The message from good.test's address, whose SPF passes. */
static void
check(const char *msg, size_t len, enum inbound_mode dmarc, struct got *g)
{
	struct inbound_params	 p;
	struct inbound_policy	 pol;

	memset(&pol, 0, sizeof(pol));
	pol.dmarc = dmarc;
	memset(&p, 0, sizeof(p));
	p.authserv_id = "mx.test";
	p.ip = "192.0.2.1";
	p.helo = "client.good.test";
	p.mail_from = "a@good.test";
	p.policy = &pol;
	p.now = 1700000000;
	memset(g, 0, sizeof(*g));
	assert_int_equal(inbound_check_sync(dns, &p, msg, len, keep, g), 0);
	assert_non_null(g->header);
}

static void
check_str(const char *msg, enum inbound_mode dmarc, struct got *g)
{
	check(msg, strlen(msg), dmarc, g);
}

static void
want_refused(const struct got *g, const char *why)
{
	if (g->verdict != INBOUND_REJECT || g->code != 550 ||
	    strcmp(g->status, "5.7.1") != 0 ||
	    (why != NULL && strstr(g->text, why) == NULL))
		fail_msg("want 550 5.7.1 (%s), got %s %d %s %s\n%s",
		    why ? why : "", inbound_verdict_name(g->verdict),
		    g->code, g->status, g->text, g->header);
}

static void
want_header(const struct got *g, const char *part)
{
	if (strstr(g->header, part) == NULL)
		fail_msg("\"%s\" not in\n%s", part, g->header);
}

static void
done(struct got *g)
{
	free(g->header);
	g->header = NULL;
}

/* A header of padding fields then the rest: the n fields of size each. */
static char *
padded(size_t n, size_t size, const char *before, const char *after,
    size_t *len)
{
	struct buf	 b;
	size_t		 i, j;
	char		*out;

	buf_init(&b, 16 * 1024 * 1024);
	buf_addstr(&b, before);
	for (i = 0; i < n; i++) {
		buf_printf(&b, "X-Pad-%zu: ", i);
		/* folded lines of 70 octets */
		for (j = 0; j < size; j += 72)
			buf_addstr(&b, j ? "\r\n\tpadpadpadpadpadpadpadpadpadpad"
			    "padpadpadpadpadpadpadpadpadpadpadpadpadpad" :
			    "padpadpadpadpadpadpadpadpadpadpadpadpadpadpadpad"
			    "padpadpadpadpadpadpad");
		buf_addstr(&b, "\r\n");
	}
	buf_addstr(&b, after);
	*len = b.len;
	out = xmalloc(b.len + 1);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

static const char fail_from[] = "From: <x@reject.test>\r\nSubject: s\r\n"
    "\r\nbody\r\n";

static void
test_one_from(void **state)
{
	struct got	 g;

	/* the plain cases, for contrast: a p=reject failure, a pass */
	check_str(fail_from, INBOUND_STRICT, &g);
	want_refused(&g, "DMARC policy of reject.test");
	done(&g);
	check_str("From: a@good.test\r\nFrom: \"A\" <b@GOOD.test>\r\n\r\nx\r\n",
	    INBOUND_STRICT, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "dmarc=pass");
	assert_null(strstr(g.header, "Author Domains"));
	done(&g);
}

static void
test_no_from(void **state)
{
	struct got	 g;

	check_str("Subject: s\r\n\r\nbody\r\n", INBOUND_STRICT, &g);
	want_refused(&g, "no From field");
	done(&g);
	check_str("Subject: s\r\n\r\nbody\r\n", INBOUND_RELAXED, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "dmarc=permerror");
	want_header(&g, "no From field");
	assert_int_equal(g.have_dmarc, 0);
	done(&g);
	/* a From without a usable author is no better */
	check_str("From: Undisclosed:;\r\n\r\nbody\r\n", INBOUND_STRICT, &g);
	want_refused(&g, "no mailbox");
	done(&g);
	check_str("From: <x@reject.test\r\n\r\nbody\r\n", INBOUND_STRICT, &g);
	want_refused(&g, "cannot check");
	done(&g);
}

static void
test_several_authors(void **state)
{
	struct got	 g;
	const char	*two = "From: a@good.test\r\nFrom: x@reject.test\r\n"
			    "\r\nbody\r\n";
	const char	*one_field = "From: a@good.test, x@quar.test\r\n"
			    "\r\nbody\r\n";

	/* 11.5: each Author Domain, the strictest failing policy */
	check_str(two, INBOUND_STRICT, &g);
	want_refused(&g, "DMARC policy of reject.test");
	want_header(&g, "dmarc=fail");
	want_header(&g, "header.from=reject.test");
	want_header(&g, "2 Author Domains");
	/* the evaluation for reports is the applied domain's */
	assert_int_equal(g.have_dmarc, 1);
	assert_string_equal(g.eval.header_from, "reject.test");
	assert_string_equal(g.eval.policy_domain, "reject.test");
	assert_int_equal(g.eval.disposition, DMARC_DISP_REJECT);
	done(&g);
	check_str(two, INBOUND_RELAXED, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "dmarc=fail");
	want_header(&g, "header.from=reject.test");
	done(&g);
	/* the order of the fields does not matter */
	check_str("From: x@reject.test\r\nFrom: a@good.test\r\n\r\nbody\r\n",
	    INBOUND_STRICT, &g);
	want_refused(&g, "DMARC policy of reject.test");
	done(&g);
	/* several mailboxes in one field: quarantine wins over a pass */
	check_str(one_field, INBOUND_STRICT, &g);
	assert_int_equal(g.verdict, INBOUND_QUARANTINE);
	want_header(&g, "header.from=quar.test");
	done(&g);
}

static void
test_too_many_authors(void **state)
{
	struct got	 g;
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 16 * 1024 * 1024);
	buf_addstr(&b, "From: a@good.test");
	for (i = 1; i < AUTHORS_EVALUATED; i++)
		buf_printf(&b, ", a@d%zu.good.test", i);
	buf_addstr(&b, "\r\n\r\nbody\r\n");
	/* AUTHORS_EVALUATED: all evaluated; good.test's pass, others none */
	check((const char *)b.data, b.len, INBOUND_STRICT, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "8 Author Domains");
	done(&g);
	/* one more is refused unevaluated */
	b.len -= strlen("\r\n\r\nbody\r\n");
	buf_addstr(&b, ", x@reject.test\r\n\r\nbody\r\n");
	check((const char *)b.data, b.len, INBOUND_STRICT, &g);
	want_refused(&g, "9 Author Domains");
	done(&g);
	check((const char *)b.data, b.len, INBOUND_RELAXED, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "dmarc=permerror");
	done(&g);
	buf_free(&b);
}

static void
test_too_many_from_fields(void **state)
{
	struct got	 g;
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 16 * 1024 * 1024);
	for (i = 0; i < 8; i++)
		buf_addstr(&b, "From: a@good.test\r\n");
	buf_addstr(&b, "From: x@reject.test\r\n\r\nbody\r\n");
	check((const char *)b.data, b.len, INBOUND_STRICT, &g);
	want_refused(&g, "9 From fields");
	done(&g);
	buf_free(&b);
}

static void
test_header_limits(void **state)
{
	struct got	 g;
	char		*m;
	size_t		 len;

	/* 1,001 fields before From: the From field is never read */
	m = padded(DKIM_MAX_FIELDS + 1, 10, "", fail_from, &len);
	check(m, len, INBOUND_STRICT, &g);
	want_refused(&g, "limits");
	done(&g);
	check(m, len, INBOUND_RELAXED, &g);
	assert_int_equal(g.verdict, INBOUND_ACCEPT);
	want_header(&g, "dmarc=permerror");
	want_header(&g, "limits");
	done(&g);
	free(m);
	/* 999 padding fields and the From: every field read */
	m = padded(DKIM_MAX_FIELDS - 2, 10, "", fail_from, &len);
	check(m, len, INBOUND_STRICT, &g);
	want_refused(&g, "DMARC policy of reject.test");
	done(&g);
	free(m);
	/* one field over 64 KB */
	m = padded(1, DKIM_MAX_FIELD + 100, "", fail_from, &len);
	check(m, len, INBOUND_STRICT, &g);
	want_refused(&g, "limits");
	done(&g);
	free(m);
	/* over 1 MB in fields of 60 KB */
	m = padded(20, 60 * 1024, "", fail_from, &len);
	check(m, len, INBOUND_STRICT, &g);
	want_refused(&g, "limits");
	done(&g);
	free(m);
	/*
	 * After a From that passes, the limits could hide a second one:
	 * the header cannot be judged either.
	 */
	m = padded(DKIM_MAX_FIELDS + 1, 10, "From: a@good.test\r\n",
	    fail_from, &len);
	check(m, len, INBOUND_STRICT, &g);
	want_refused(&g, "limits");
	done(&g);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_from),
		cmocka_unit_test(test_no_from),
		cmocka_unit_test(test_several_authors),
		cmocka_unit_test(test_too_many_authors),
		cmocka_unit_test(test_too_many_from_fields),
		cmocka_unit_test(test_header_limits),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * smtpd/arstrip.c: forged Authentication-Results fields with our
 * authserv-id are removed, whatever their length or folding; every other
 * byte passes as received, however it is cut into chunks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtpd/arstrip.h"
#include "util.h"

#define OURS	"mx.example.org"

/* The filter's output for msg fed in chunks of `chunk` octets. */
static char *
strip(const char *msg, size_t len, size_t chunk, size_t *dropped)
{
	struct arstrip	 f;
	struct buf	 out;
	size_t		 off, n;
	char		*s;

	arstrip_init(&f);
	buf_init(&out, SIZE_MAX);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		arstrip_feed(&f, (const uint8_t *)msg + off, n, OURS, &out);
	}
	arstrip_end(&f, OURS, &out);
	*dropped = f.dropped;
	arstrip_free(&f);
	s = calloc(1, out.len + 1);
	assert_non_null(s);
	if (out.len > 0)
		memcpy(s, out.data, out.len);
	buf_free(&out);
	return s;
}

/* The same for every chunk size in `sizes`: the result must not change. */
static void
expect(const char *msg, const char *want, size_t want_dropped)
{
	static const size_t	 sizes[] = { 1, 2, 3, 7, 64, 4096, 1 << 20 };
	size_t			 i, dropped;
	char			*got;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		got = strip(msg, strlen(msg), sizes[i], &dropped);
		assert_string_equal(got, want);
		assert_int_equal(dropped, want_dropped);
		free(got);
	}
}

static void
test_ours_dropped_foreign_kept(void **state)
{
	expect("Received: from x\r\n"
	    "Authentication-Results: mx.example.org; spf=pass\r\n"
	    "Authentication-Results: other.example; dkim=pass\r\n"
	    "authentication-results:   MX.EXAMPLE.ORG;\r\n dmarc=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; in the body\r\n",
	    "Received: from x\r\n"
	    "Authentication-Results: other.example; dkim=pass\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; in the body\r\n", 2);
}

static void
test_last_field_without_body(void **state)
{
	expect("Subject: a\r\nAuthentication-Results: mx.example.org; x=y\r\n",
	    "Subject: a\r\n", 1);
}

/* A message with one field of `len` octets of folded padding. */
static char *
long_field(const char *name, const char *id, size_t len)
{
	struct buf	 b;
	size_t		 line;
	char		*s;

	buf_init(&b, SIZE_MAX);
	buf_printf(&b, "From: a@example.com\r\n%s: %s;", name, id);
	for (line = 0; b.len < len; line++)
		buf_printf(&b, "\r\n\tpad%zu=%s", line,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	buf_addstr(&b, "\r\nSubject: after\r\n\r\nbody\r\n");
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void
test_padded_forgery_is_dropped(void **state)
{
	size_t	 sizes[] = { ARSTRIP_FIELD_MAX - 100, ARSTRIP_FIELD_MAX,
		    ARSTRIP_FIELD_MAX + 1, 70 * 1024, 1 << 20 };
	size_t	 i;
	char	*msg;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = long_field("Authentication-Results", OURS, sizes[i]);
		expect(msg, "From: a@example.com\r\nSubject: after\r\n\r\n"
		    "body\r\n", 1);
		free(msg);
	}
}

static void
test_long_foreign_field_passes_byte_exact(void **state)
{
	size_t	 sizes[] = { ARSTRIP_FIELD_MAX - 100, ARSTRIP_FIELD_MAX + 1,
		    70 * 1024, 1 << 20 };
	size_t	 i;
	char	*msg;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = long_field("X-Long", OURS, sizes[i]);
		expect(msg, msg, 0);
		free(msg);
	}
}

static void
test_long_foreign_ar_field(void **state)
{
	char	*msg;

	/* Short enough to judge: someone else's, so kept. */
	msg = long_field("Authentication-Results", "other.example", 60000);
	expect(msg, msg, 0);
	free(msg);
	/* Too long to hold: dropped, whoever claims it. */
	msg = long_field("Authentication-Results", "other.example", 70000);
	expect(msg, "From: a@example.com\r\nSubject: after\r\n\r\nbody\r\n",
	    1);
	free(msg);
}

/* RFC 8689 3: "TLS-Required: No" is noticed, in any case and folding. */
static int
tlsreq_no(const char *msg, size_t chunk)
{
	struct arstrip	 f;
	struct buf	 out;
	size_t		 off, n, len = strlen(msg);
	int		 r;

	arstrip_init(&f);
	buf_init(&out, SIZE_MAX);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		arstrip_feed(&f, (const uint8_t *)msg + off, n, OURS, &out);
	}
	arstrip_end(&f, OURS, &out);
	/* the field itself passes on untouched */
	assert_int_equal(out.len, len);
	r = f.tls_required_no;
	arstrip_free(&f);
	buf_free(&out);
	return r;
}

static void
test_tls_required_no(void **state)
{
	static const struct {
		const char	*msg;
		int		 want;
	} cases[] = {
		{ "TLS-Required: No\r\n\r\nbody\r\n", 1 },
		{ "Subject: x\r\ntls-required:no\r\n\r\n", 1 },
		{ "TLS-REQUIRED:  nO  \r\nTo: y\r\n\r\n", 1 },
		/* folded over continuation lines */
		{ "TLS-Required:\r\n No\r\n\r\n", 1 },
		{ "TLS-Required:\r\n\t\r\n  no \r\nX: y\r\n\r\n", 1 },
		/* the last field, without an empty line after it */
		{ "From: a\r\nTLS-Required: No", 1 },
		{ "TLS-Required: Yes\r\n\r\n", 0 },
		{ "TLS-Required: No thanks\r\n\r\n", 0 },
		{ "TLS-Required: N\r\n o\r\n\r\n", 0 },
		{ "TLS-Required:\r\n\r\n", 0 },
		{ "TLS-Requiredx: No\r\n\r\n", 0 },
		{ "X-TLS-Required: No\r\n\r\n", 0 },
		{ "Subject: TLS-Required: No\r\n\r\n", 0 },
		/* in the body it is no field */
		{ "Subject: x\r\n\r\nTLS-Required: No\r\n", 0 },
	};
	static const size_t	 sizes[] = { 1, 3, 4096 };
	size_t			 i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			if (tlsreq_no(cases[i].msg, sizes[k]) !=
			    cases[i].want)
				fail_msg("case %zu (chunk %zu): %s", i,
				    sizes[k], cases[i].msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_required_no),
		cmocka_unit_test(test_ours_dropped_foreign_kept),
		cmocka_unit_test(test_last_field_without_body),
		cmocka_unit_test(test_padded_forgery_is_dropped),
		cmocka_unit_test(test_long_foreign_field_passes_byte_exact),
		cmocka_unit_test(test_long_foreign_ar_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

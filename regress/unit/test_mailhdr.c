/*
 * lib/mailhdr.c: the streaming header splitter (chunk boundaries anywhere,
 * folding, bare LF, missing body, limits), field names, RFC 6376 3.4.2
 * relaxed canonicalization and the RFC 6376 3.2 tag-list grammar; and the
 * strict base64 of lib/crypto.c that the tag values use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "mailhdr.h"
#include "util.h"

struct collect {
	struct buf	 fields;	/* "name|raw\n" per field */
	struct buf	 body;
};

static void
on_field(void *arg, const char *raw, size_t len, size_t namelen)
{
	struct collect	*c = arg;

	buf_printf(&c->fields, "%.*s|", (int)namelen, raw);
	buf_add(&c->fields, raw, len);
	buf_addstr(&c->fields, "\n");
}

static void
on_body(void *arg, const uint8_t *p, size_t len)
{
	struct collect	*c = arg;

	buf_add(&c->body, p, len);
}

/* Split msg fed in pieces of `chunk` bytes (0: all at once). */
static void
split(const char *msg, size_t len, size_t chunk, struct collect *c,
    int *overflow)
{
	struct mailhdr_reader	 r;
	size_t			 off, n;

	buf_init(&c->fields, 1 << 20);
	buf_init(&c->body, 1 << 20);
	mailhdr_reader_init(&r, 1000, 100, on_field, on_body, c);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		mailhdr_reader_feed(&r, msg + off, n);
	}
	mailhdr_reader_end(&r);
	if (overflow != NULL)
		*overflow = r.overflow;
	mailhdr_reader_free(&r);
}

static void
test_split(void **state)
{
	static const char msg[] = "From: a@example.com\r\n"
	    "Subject: one\r\n two\r\n\tthree\r\n"
	    "X-No-Colon\r\n"
	    "B : obsolete\r\n"
	    "\r\n"
	    "body\r\n\r\nmore\r\n";
	static const char want[] = "From|From: a@example.com\n"
	    "Subject|Subject: one\r\n two\r\n\tthree\n"
	    "|X-No-Colon\n"
	    "B|B : obsolete\n";
	struct collect	 c;
	size_t		 chunk;

	for (chunk = 0; chunk <= sizeof(msg); chunk++) {
		split(msg, strlen(msg), chunk, &c, NULL);
		assert_string_equal(buf_cstr(&c.fields), want);
		assert_string_equal(buf_cstr(&c.body),
		    "body\r\n\r\nmore\r\n");
		buf_free(&c.fields);
		buf_free(&c.body);
	}
}

static void
test_split_edges(void **state)
{
	struct collect	 c;
	int		 of;
	char		*big;

	/* Bare LF line ends; folds stored as CRLF. */
	split("A: 1\n x\nB: 2\n\nbody\n", strlen("A: 1\n x\nB: 2\n\nbody\n"), 3,
	    &c, NULL);
	assert_string_equal(buf_cstr(&c.fields), "A|A: 1\r\n x\nB|B: 2\n");
	assert_string_equal(buf_cstr(&c.body), "body\n");
	buf_free(&c.fields);
	buf_free(&c.body);
	/* No body, no final CRLF. */
	split("A: 1\r\nB: 2", strlen("A: 1\r\nB: 2"), 1, &c, NULL);
	assert_string_equal(buf_cstr(&c.fields), "A|A: 1\nB|B: 2\n");
	assert_int_equal(c.body.len, 0);
	buf_free(&c.fields);
	buf_free(&c.body);
	/* A lone CR inside a value is kept. */
	split("A: 1\r2\r\n\r\n", strlen("A: 1\r2\r\n\r\n"), 1, &c, NULL);
	assert_string_equal(buf_cstr(&c.fields), "A|A: 1\r2\n");
	buf_free(&c.fields);
	buf_free(&c.body);
	/* Empty header: the body starts at once. */
	split("\r\nbody", strlen("\r\nbody"), 1, &c, NULL);
	assert_int_equal(c.fields.len, 0);
	assert_string_equal(buf_cstr(&c.body), "body");
	buf_free(&c.fields);
	buf_free(&c.body);
	/* Limits: a 2000-byte field, then 200 fields. */
	big = xmalloc(4000);
	memset(big, 'x', 4000);
	memcpy(big, "A: ", 3);
	memcpy(big + 2000, "\r\n\r\n", 4);
	split(big, 2004, 7, &c, &of);
	assert_int_equal(of, 1);
	assert_int_equal(c.fields.len, 0);
	buf_free(&c.fields);
	buf_free(&c.body);
	free(big);
	{
		struct buf	 m;
		int		 i;

		buf_init(&m, 1 << 20);
		for (i = 0; i < 200; i++)
			buf_printf(&m, "F%d: v\r\n", i);
		buf_addstr(&m, "\r\n");
		split((char *)m.data, m.len, 0, &c, &of);
		assert_int_equal(of, 1);
		buf_free(&c.fields);
		buf_free(&c.body);
		buf_free(&m);
	}
}

static void
test_names(void **state)
{
	size_t	 vlen;

	assert_int_equal(mailhdr_name_len("From: x", 7), 4);
	assert_int_equal(mailhdr_name_len("From \t: x", 9), 4);
	assert_int_equal(mailhdr_name_len("no colon", 8), 0);
	assert_int_equal(mailhdr_name_len(": x", 3), 0);
	assert_int_equal(mailhdr_name_len("Fr om: x", 8), 0);
	assert_true(mailhdr_name_is("FROM: x", 7, 4, "from", 4));
	assert_false(mailhdr_name_is("From: x", 7, 4, "fro", 3));
	assert_string_equal(mailhdr_value("A: b", 4, &vlen), " b");
	assert_int_equal(vlen, 2);
}

static void
canon(const char *raw, int crlf, const char *want)
{
	struct buf	 b;

	buf_init(&b, 1024);
	assert_int_equal(mailhdr_canon_relaxed(raw, strlen(raw), crlf, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_relaxed(void **state)
{
	canon("A: X", 1, "a:X\r\n");
	canon("B : Y\t\r\n\tZ  ", 1, "b:Y Z\r\n");
	canon("Subject:   a \t b\r\n c  ", 0, "subject:a b c");
	canon("X-Empty:", 1, "x-empty:\r\n");
	canon("X-Empty:  \r\n ", 1, "x-empty:\r\n");
	canon("DKIM-Signature: v=1; b=", 0, "dkim-signature:v=1; b=");
	canon("X: caf\xc3\xa9", 1, "x:caf\xc3\xa9\r\n");
}

static int
tl(const char *s, struct mailhdr_tag *t, char *err)
{
	return mailhdr_taglist(s, strlen(s), t, MAILHDR_MAX_TAGS, err, 128);
}

static void
test_taglist(void **state)
{
	struct mailhdr_tag	 t[MAILHDR_MAX_TAGS];
	const struct mailhdr_tag *f;
	char			 err[128];
	char			*v;
	static const char	 sig[] = " v=1; b= ab\r\n\tcd ; d = x.com ;";

	assert_int_equal(tl(sig, t, err), 3);
	f = mailhdr_tag_find(t, 3, "b");
	assert_non_null(f);
	assert_int_equal(f->valuelen, 7);
	assert_memory_equal(f->value, "ab\r\n\tcd", 7);
	/* The span RFC 6376 3.7 blanks: from after "=" to the ";". */
	assert_int_equal(sig[f->rawstart - 1], '=');
	assert_int_equal(sig[f->rawend], ';');
	v = mailhdr_strip_fws(f->value, f->valuelen);
	assert_string_equal(v, "abcd");
	free(v);
	f = mailhdr_tag_find(t, 3, "d");
	assert_memory_equal(f->value, "x.com", f->valuelen);
	assert_null(mailhdr_tag_find(t, 3, "D"));
	assert_int_equal(tl("a=", t, err), 1);
	assert_int_equal(t[0].valuelen, 0);
	assert_int_equal(tl("a=1;", t, err), 1);
	assert_int_equal(tl("a=1; \r\n ", t, err), 1);
	assert_int_equal(tl("a_b2=1", t, err), 1);

	assert_int_equal(tl("", t, err), -1);
	assert_int_equal(tl("a=1;;b=2", t, err), -1);
	assert_int_equal(tl("a=1; a=2", t, err), -1);
	assert_non_null(strstr(err, "duplicate"));
	assert_int_equal(tl("1a=1", t, err), -1);
	assert_int_equal(tl("_a=1", t, err), -1);
	assert_int_equal(tl("a", t, err), -1);
	assert_int_equal(tl("a b=1", t, err), -1);
	assert_int_equal(tl("a=\x01", t, err), -1);
	assert_int_equal(tl("a=caf\xc3\xa9", t, err), -1);
	{
		struct buf	 b;
		int		 i;

		buf_init(&b, 4096);
		for (i = 0; i < MAILHDR_MAX_TAGS + 1; i++)
			buf_printf(&b, "t%d=1;", i);
		assert_int_equal(tl(buf_cstr(&b), t, err), -1);
		buf_free(&b);
	}
}

static void
b64(const char *in, int ok, const char *want, size_t wlen)
{
	uint8_t	*out;
	size_t	 olen;

	assert_int_equal(b64_decode(in, strlen(in), &out, &olen), ok ? 0 : -1);
	if (ok) {
		assert_int_equal(olen, wlen);
		if (wlen > 0)
			assert_memory_equal(out, want, wlen);
	}
	free(out);
}

static void
test_base64(void **state)
{
	char	*e;

	b64("", 1, "", 0);
	b64("Zg==", 1, "f", 1);
	b64("Zm8=", 1, "fo", 2);
	b64("Zm9v", 1, "foo", 3);
	b64("Zm9v\r\n YmFy", 1, "foobar", 6);
	b64("Zm9", 0, NULL, 0);
	b64("Zg=", 0, NULL, 0);
	b64("Zg===", 0, NULL, 0);
	b64("Z===", 0, NULL, 0);
	b64("Zg==Zg==", 0, NULL, 0);
	b64("Zh==", 0, NULL, 0);	/* non-zero padding bits */
	b64("Zm!v", 0, NULL, 0);
	b64("=", 0, NULL, 0);
	e = b64_encode((const uint8_t *)"foobar", 6);
	assert_string_equal(e, "Zm9vYmFy");
	free(e);
	e = b64_encode((const uint8_t *)"fooba", 5);
	assert_string_equal(e, "Zm9vYmE=");
	free(e);
	e = b64_encode((const uint8_t *)"f", 1);
	assert_string_equal(e, "Zg==");
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_edges),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_relaxed),
		cmocka_unit_test(test_taglist),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

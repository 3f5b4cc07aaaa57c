/*
 * mta/sasl.c: the EHLO AUTH list and the choice of mechanism, the
 * published examples of PLAIN (RFC 4616), CRAM-MD5 (RFC 2195), SCRAM-SHA-1
 * (RFC 5802 5) and SCRAM-SHA-256 (RFC 7677 3) reproduced byte for byte,
 * LOGIN, the server signature arriving in a 334 or in the 235, and every
 * hostile server message we can think of: wrong nonce, mandatory
 * extension, bad base64, iteration counts out of bounds, forged or
 * missing signatures, oversized challenges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "mta/sasl.h"
#include "util.h"

/* Base64 of a text, as a server would send it (static, one at a time). */
static const char *
b64(const char *text)
{
	static char	*s;

	free(s);
	s = b64_encode((const uint8_t *)text, strlen(text));
	return s;
}

/* The decoded text of a response line (static, one at a time). */
static const char *
unb64(struct buf *line)
{
	static char	*s;
	uint8_t		*raw;
	size_t		 len;

	free(s);
	assert_int_equal(b64_decode(buf_cstr(line), line->len, &raw, &len),
	    0);
	s = xmalloc(len + 1);
	if (len > 0)
		memcpy(s, raw, len);
	s[len] = '\0';
	free(raw);
	return s;
}

static struct sasl_client *
started(enum sasl_mech mech, const char *user, const char *pass,
    const char *nonce, struct buf *line, const char *want)
{
	struct sasl_client	*c;
	char			 err[256];

	c = sasl_client_new(mech, user, pass);
	assert_non_null(c);
	if (nonce != NULL)
		assert_int_equal(sasl_client_set_nonce(c, nonce), 0);
	if (sasl_client_start(c, line, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		fail();
	}
	if (want != NULL)
		assert_string_equal(buf_cstr(line), want);
	return c;
}

static void
step_ok(struct sasl_client *c, const char *chal, struct buf *line)
{
	char	 err[256];

	if (sasl_client_step(c, chal, line, err, sizeof(err)) != 0) {
		fprintf(stderr, "step: %s\n", err);
		fail();
	}
}

/* A step that must fail, cancel with "*" and say `want`. */
static void
step_err(struct sasl_client *c, const char *chal, struct buf *line,
    const char *want)
{
	char	 err[256] = "";

	assert_int_equal(sasl_client_step(c, chal, line, err, sizeof(err)),
	    -1);
	assert_string_equal(buf_cstr(line), "*");
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		fail();
	}
}

static void
test_mechs_parse(void **state)
{
	assert_int_equal(sasl_mechs_parse("PLAIN LOGIN SCRAM-SHA-256"),
	    1U << SASL_MECH_PLAIN | 1U << SASL_MECH_LOGIN |
	    1U << SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(sasl_mechs_parse(
	    " gssapi  cram-md5\tScram-Sha-1 XOAUTH2 SCRAM-SHA-256-PLUS "),
	    1U << SASL_MECH_CRAM_MD5 | 1U << SASL_MECH_SCRAM_SHA_1);
	assert_int_equal(sasl_mechs_parse(""), 0);
	assert_int_equal(sasl_mechs_parse(NULL), 0);
	assert_int_equal(sasl_mechs_parse("PLAINLOGIN PLAI"), 0);
}

static void
test_choose(void **state)
{
	unsigned	 all = sasl_mechs_parse(
	    "LOGIN PLAIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256");

	assert_int_equal(sasl_choose(all, ~0U), SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(sasl_choose(all, ~(1U << SASL_MECH_SCRAM_SHA_256)),
	    SASL_MECH_SCRAM_SHA_1);
	assert_int_equal(sasl_choose(sasl_mechs_parse("LOGIN CRAM-MD5 PLAIN"),
	    ~0U), SASL_MECH_CRAM_MD5);
	assert_int_equal(sasl_choose(sasl_mechs_parse("LOGIN PLAIN"), ~0U),
	    SASL_MECH_PLAIN);
	assert_int_equal(sasl_choose(sasl_mechs_parse("LOGIN"), ~0U),
	    SASL_MECH_LOGIN);
	/* The server's list does not override what the config allows. */
	assert_int_equal(sasl_choose(all, 1U << SASL_MECH_LOGIN),
	    SASL_MECH_LOGIN);
	assert_int_equal(sasl_choose(sasl_mechs_parse("PLAIN"),
	    1U << SASL_MECH_SCRAM_SHA_256), SASL_MECH_NONE);
	assert_int_equal(sasl_choose(0, ~0U), SASL_MECH_NONE);
}

static void
test_names(void **state)
{
	enum sasl_mech	 m;

	for (m = SASL_MECH_PLAIN; m <= SASL_MECH_SCRAM_SHA_256; m++)
		assert_int_equal(sasl_mech_from_name(sasl_mech_name(m)), m);
	assert_string_equal(sasl_mech_name(SASL_MECH_CRAM_MD5), "CRAM-MD5");
	assert_int_equal(sasl_mech_from_name("scram-sha-256"),
	    SASL_MECH_SCRAM_SHA_256);
	assert_int_equal(sasl_mech_from_name("NTLM"), SASL_MECH_NONE);
	assert_null(sasl_mech_name(SASL_MECH_NONE));
	assert_null(sasl_client_new(SASL_MECH_NONE, "u", "p"));
	assert_null(sasl_client_new(SASL_MECH_PLAIN, NULL, "p"));
	sasl_client_free(NULL);
}

/* RFC 4616 4: authcid "tim", password "tanstaaftanstaaf". */
static void
test_plain(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];

	buf_init(&line, 1024);
	c = started(SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf", NULL, &line,
	    "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	assert_int_equal(sasl_client_done(c, "2.7.0 Authentication "
	    "successful", err, sizeof(err)), 0);
	sasl_client_free(c);

	/* The initial response went out; a challenge now is an error. */
	c = started(SASL_MECH_PLAIN, "tim", "tanstaaftanstaaf", NULL, &line,
	    NULL);
	step_err(c, "", &line, "unexpected challenge");
	sasl_client_free(c);

	/* RFC 4616 2: authcid and passwd are 1*SAFE. */
	c = sasl_client_new(SASL_MECH_PLAIN, "tim", "");
	assert_int_equal(sasl_client_start(c, &line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "password"));
	sasl_client_free(c);
	buf_free(&line);
}

/*
 * RFC 4954 4: an initial response that would push AUTH past 512 octets is
 * sent after an empty 334 instead.
 */
static void
test_plain_long_deferred(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 user[301], pass[301], want[700];
	char			 err[256];

	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	memset(pass, 'p', sizeof(pass) - 1);
	pass[sizeof(pass) - 1] = '\0';
	buf_init(&line, 4096);
	c = started(SASL_MECH_PLAIN, user, pass, NULL, &line, "AUTH PLAIN");
	step_ok(c, "", &line);
	snprintf(want, sizeof(want), "%c%s%c%s", 0, user, 0, pass);
	assert_int_equal(line.len, 4 * ((602 + 2) / 3));
	assert_memory_equal(unb64(&line), want, 602);
	assert_int_equal(sasl_client_done(c, "", err, sizeof(err)), 0);
	sasl_client_free(c);

	/* Data where the empty "send your response" challenge is due. */
	c = started(SASL_MECH_PLAIN, user, pass, NULL, &line, "AUTH PLAIN");
	step_err(c, b64("hello"), &line, "empty challenge");
	sasl_client_free(c);

	/* 235 before the deferred response went out. */
	c = started(SASL_MECH_PLAIN, user, pass, NULL, &line, "AUTH PLAIN");
	assert_int_equal(sasl_client_done(c, "", err, sizeof(err)), -1);
	sasl_client_free(c);
	buf_free(&line);
}

static void
test_login(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];

	buf_init(&line, 1024);
	c = started(SASL_MECH_LOGIN, "tim", "tanstaaf", NULL, &line,
	    "AUTH LOGIN");
	step_ok(c, "VXNlcm5hbWU6", &line);	/* "Username:" */
	assert_string_equal(buf_cstr(&line), "dGlt");
	step_ok(c, "UGFzc3dvcmQ6", &line);	/* "Password:" */
	assert_string_equal(buf_cstr(&line), "dGFuc3RhYWY=");
	step_err(c, "UGFzc3dvcmQ6", &line, "unexpected");
	sasl_client_free(c);

	c = started(SASL_MECH_LOGIN, "tim", "tanstaaf", NULL, &line, NULL);
	step_err(c, "VXNlcm5hbWU6!", &line, "base64");
	sasl_client_free(c);

	c = started(SASL_MECH_LOGIN, "tim", "tanstaaf", NULL, &line, NULL);
	step_ok(c, "VXNlcm5hbWU6", &line);
	step_ok(c, "UGFzc3dvcmQ6", &line);
	assert_int_equal(sasl_client_done(c, "2.7.0 Accepted", err,
	    sizeof(err)), 0);
	sasl_client_free(c);
	buf_free(&line);
}

/* RFC 2195 2: the tim / tanstaaftanstaaf example. */
static void
test_cram_md5(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];

	buf_init(&line, 1024);
	c = started(SASL_MECH_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL,
	    &line, "AUTH CRAM-MD5");
	step_ok(c, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	    &line);
	assert_string_equal(unb64(&line),
	    "tim b913a602c7eda7a495b4e6e7334d3890");
	assert_string_equal(buf_cstr(&line),
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	assert_int_equal(sasl_client_done(c, "2.7.0 ok", err, sizeof(err)),
	    0);
	sasl_client_free(c);

	c = started(SASL_MECH_CRAM_MD5, "tim", "x", NULL, &line, NULL);
	step_err(c, "", &line, "empty");
	sasl_client_free(c);

	c = started(SASL_MECH_CRAM_MD5, "tim", "x", NULL, &line, NULL);
	step_err(c, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2=", &line, "base64");
	sasl_client_free(c);
	buf_free(&line);
}

struct scram_vector {
	enum sasl_mech	 mech;
	const char	*nonce;
	const char	*client_first;
	const char	*server_first;
	const char	*client_final;
	const char	*server_final;
};

/* RFC 5802 5 (SCRAM-SHA-1) and RFC 7677 3 (SCRAM-SHA-256). */
static const struct scram_vector rfc5802 = {
	SASL_MECH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL",
	"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	    "i=4096",
	"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};
static const struct scram_vector rfc7677 = {
	SASL_MECH_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO",
	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

/* Start a vector's exchange and check the AUTH line. */
static struct sasl_client *
scram_start(const struct scram_vector *v, struct buf *line)
{
	struct sasl_client	*c;
	char			 want[256];

	snprintf(want, sizeof(want), "AUTH %s %s", sasl_mech_name(v->mech),
	    b64(v->client_first));
	c = started(v->mech, "user", "pencil", v->nonce, line, want);
	return c;
}

static void
scram_vector_run(const struct scram_vector *v)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];

	buf_init(&line, 1024);
	c = scram_start(v, &line);
	step_ok(c, b64(v->server_first), &line);
	assert_string_equal(unb64(&line), v->client_final);
	step_ok(c, b64(v->server_final), &line);
	assert_string_equal(buf_cstr(&line), "");
	assert_int_equal(sasl_client_done(c, "2.7.0 Authentication "
	    "successful", err, sizeof(err)), 0);
	/* No more challenges after the server has proved itself. */
	step_err(c, "", &line, "unexpected");
	sasl_client_free(c);
	buf_free(&line);
}

static void
test_scram_sha1_rfc5802(void **state)
{
	scram_vector_run(&rfc5802);
}

static void
test_scram_sha256_rfc7677(void **state)
{
	scram_vector_run(&rfc7677);
}

/* RFC 4954 "additional data with success": v= in the 235 text. */
static void
test_scram_signature_in_235(void **state)
{
	const struct scram_vector *vs[] = { &rfc5802, &rfc7677 };
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256], text[256];
	size_t			 i;

	buf_init(&line, 1024);
	for (i = 0; i < 2; i++) {
		c = scram_start(vs[i], &line);
		step_ok(c, b64(vs[i]->server_first), &line);
		snprintf(text, sizeof(text), "2.7.0 %s",
		    b64(vs[i]->server_final));
		assert_int_equal(sasl_client_done(c, text, err, sizeof(err)),
		    0);
		sasl_client_free(c);

		/* Bare base64 as the whole text works as well. */
		c = scram_start(vs[i], &line);
		step_ok(c, b64(vs[i]->server_first), &line);
		assert_int_equal(sasl_client_done(c, b64(vs[i]->server_final),
		    err, sizeof(err)), 0);
		sasl_client_free(c);

		/* A 235 that never proves anything is refused. */
		c = scram_start(vs[i], &line);
		step_ok(c, b64(vs[i]->server_first), &line);
		assert_int_equal(sasl_client_done(c, "2.7.0 Authentication "
		    "successful", err, sizeof(err)), -1);
		assert_non_null(strstr(err, "did not prove"));
		sasl_client_free(c);

		/* Nor one with the other vector's signature. */
		c = scram_start(vs[i], &line);
		step_ok(c, b64(vs[i]->server_first), &line);
		snprintf(text, sizeof(text), "2.7.0 %s",
		    b64(vs[1 - i]->server_final));
		assert_int_equal(sasl_client_done(c, text, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "mismatch"));
		sasl_client_free(c);
	}
	/* 235 straight after AUTH: nothing was exchanged, nothing proved. */
	c = scram_start(&rfc7677, &line);
	assert_int_equal(sasl_client_done(c, b64(rfc7677.server_final), err,
	    sizeof(err)), -1);
	sasl_client_free(c);
	buf_free(&line);
}

static void
test_scram_bad_signature(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];

	buf_init(&line, 1024);
	/* The SHA-1 vector's signature, one bit changed. */
	c = scram_start(&rfc5802, &line);
	step_ok(c, b64(rfc5802.server_first), &line);
	step_err(c, b64("v=rmF9pqV8S7suAoZWja4dJRkFsKA="), &line, "mismatch");
	assert_int_equal(sasl_client_done(c, "ok", err, sizeof(err)), -1);
	sasl_client_free(c);

	/* Right signature, wrong length (truncated). */
	c = scram_start(&rfc5802, &line);
	step_ok(c, b64(rfc5802.server_first), &line);
	step_err(c, b64("v=rmF9pqV8S7suAoZWja4dJRkF"), &line, "mismatch");
	sasl_client_free(c);

	/* A server error. */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64(rfc7677.server_first), &line);
	step_err(c, b64("e=invalid-proof"), &line, "invalid-proof");
	sasl_client_free(c);

	/* A server error with terminal escapes: they do not reach the log. */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64(rfc7677.server_first), &line);
	assert_int_equal(sasl_client_step(c, b64("e=\x1b[2Jgone"), &line, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SCRAM server error: ?[2Jgone");
	sasl_client_free(c);

	/* Neither v= nor e=. */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64(rfc7677.server_first), &line);
	step_err(c, b64("x=1,v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
	    &line, "malformed");
	sasl_client_free(c);

	/* v= not base64. */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64(rfc7677.server_first), &line);
	step_err(c, b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4"),
	    &line, "base64");
	sasl_client_free(c);

	/* Extensions after v= are allowed (RFC 5802 7). */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64(rfc7677.server_first), &line);
	step_ok(c, b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=y"),
	    &line);
	assert_int_equal(sasl_client_done(c, "", err, sizeof(err)), 0);
	sasl_client_free(c);
	buf_free(&line);
}

/* Hostile or broken server-first messages for the SHA-256 vector. */
static void
test_scram_bad_server_first(void **state)
{
	static const struct {
		const char	*sf;
		const char	*want;
	} bad[] = {
		/* RFC 5802 5.1: our nonce must be a prefix, and extended. */
		{ "r=rOprNGfwEbeRWgbNEkqP%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", "nonce" },
		{ "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		    "nonce" },
		{ "r=rOprNGfw,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce" },
		{ "r=rOprNGfwEbeRWgbNEkqO\x01x,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", "nonce" },
		{ "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=4096", "extension" },
		{ "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
		    "malformed" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,i=4096", "malformed" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
		    "malformed" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
		    "salt" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", "salt" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
		    "too small" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
		    "too small" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=1000001", "too large" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		    "i=99999999999999999999", "iteration" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
		    "iteration" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i= 4096",
		    "iteration" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
		    "iteration" },
		{ "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k",
		    "iteration" },
		{ "", "malformed" },
		{ "garbage", "malformed" },
	};
	struct sasl_client	*c;
	struct buf		 line;
	char			 big[SASL_MAX_CHALLENGE + 2];
	size_t			 i;

	buf_init(&line, 1024);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = scram_start(&rfc7677, &line);
		step_err(c, b64(bad[i].sf), &line, bad[i].want);
		sasl_client_free(c);
	}

	/* Not base64 at all. */
	c = scram_start(&rfc7677, &line);
	step_err(c, "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
	    &line, "base64");
	sasl_client_free(c);

	/* A NUL hidden in the base64. */
	c = scram_start(&rfc7677, &line);
	step_err(c, "cj0Acg==", &line, "base64");
	sasl_client_free(c);

	/* Longer than the cap, even though it is valid base64. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c = scram_start(&rfc7677, &line);
	step_err(c, big, &line, "longer");
	sasl_client_free(c);

	/* The largest count accepted is accepted (and costs ~0.5 s). */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
	    "i=1000000"), &line);
	assert_non_null(strstr(unb64(&line), "c=biws,r=rOprNGfwEbeRWgbNEkqOx,"
	    "p="));
	sasl_client_free(c);

	/* A later extension after i= is fine; the proof changes with it. */
	c = scram_start(&rfc7677, &line);
	step_ok(c, b64("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=ext"), &line);
	assert_non_null(strstr(unb64(&line), "c=biws,r=rOprNGfwEbeRWgbNEkqO"
	    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
	assert_null(strstr(unb64(&line), rfc7677.client_final));
	sasl_client_free(c);
	buf_free(&line);
}

/* RFC 5802 5.1: "=" and "," in a user name become "=3D" and "=2C". */
static void
test_scram_saslname(void **state)
{
	struct sasl_client	*c;
	struct buf		 line;
	char			 want[256];

	buf_init(&line, 1024);
	snprintf(want, sizeof(want), "AUTH SCRAM-SHA-1 %s",
	    b64("n,,n=a=3Db=2Cc=2C,r=abc"));
	c = started(SASL_MECH_SCRAM_SHA_1, "a=b,c,", "pw", "abc", &line, want);
	sasl_client_free(c);

	/* Non-ASCII UTF-8 passes unchanged. */
	snprintf(want, sizeof(want), "AUTH SCRAM-SHA-256 %s",
	    b64("n,,n=j\xc3\xb6rg,r=abc"));
	c = started(SASL_MECH_SCRAM_SHA_256, "j\xc3\xb6rg", "p\xc3\xa4ss",
	    "abc", &line, want);
	sasl_client_free(c);
	buf_free(&line);
}

static void
test_scram_bad_credentials(void **state)
{
	static const struct {
		const char	*user;
		const char	*pass;
		const char	*want;
	} bad[] = {
		{ "", "pencil", "user name" },
		{ "us\ter", "pencil", "user name" },
		{ "user", "pen\x7f" "cil", "password" },
		{ "user", "pen\ncil", "password" },
		{ "user", "pen\xc3(cil", "password" },	/* broken UTF-8 */
		{ "user", "\xc0\xafx", "password" },	/* overlong */
		{ "user", "\xed\xa0\x80", "password" },	/* surrogate */
		{ "\xf8\x88\x80\x80\x80", "pencil", "user name" },
	};
	struct sasl_client	*c;
	struct buf		 line;
	char			 err[256];
	size_t			 i;

	buf_init(&line, 1024);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = sasl_client_new(SASL_MECH_SCRAM_SHA_256, bad[i].user,
		    bad[i].pass);
		assert_int_equal(sasl_client_start(c, &line, err,
		    sizeof(err)), -1);
		if (strstr(err, bad[i].want) == NULL) {
			fprintf(stderr, "%zu: \"%s\"\n", i, err);
			fail();
		}
		sasl_client_free(c);
	}
	buf_free(&line);
}

static void
test_scram_random_nonce(void **state)
{
	struct sasl_client	*c1, *c2;
	struct buf		 l1, l2;
	char			 n1[64], n2[64];
	const char		*r;

	buf_init(&l1, 1024);
	buf_init(&l2, 1024);
	c1 = started(SASL_MECH_SCRAM_SHA_256, "user", "pencil", NULL, &l1,
	    NULL);
	c2 = started(SASL_MECH_SCRAM_SHA_256, "user", "pencil", NULL, &l2,
	    NULL);
	buf_consume(&l1, strlen("AUTH SCRAM-SHA-256 "));
	buf_consume(&l2, strlen("AUTH SCRAM-SHA-256 "));
	r = unb64(&l1);
	assert_int_equal(strncmp(r, "n,,n=user,r=", 12), 0);
	strlcpy(n1, r + 12, sizeof(n1));
	r = unb64(&l2);
	strlcpy(n2, r + 12, sizeof(n2));
	assert_int_equal(strlen(n1), 24);
	assert_null(strchr(n1, ','));
	assert_string_not_equal(n1, n2);
	sasl_client_free(c1);
	sasl_client_free(c2);
	buf_free(&l1);
	buf_free(&l2);
}

static void
test_misuse(void **state)
{
	struct sasl_client	*c;
	struct buf		 line, tiny;
	char			 err[256];

	buf_init(&line, 1024);
	/* The nonce hook is for SCRAM, before start, printable, no comma. */
	c = sasl_client_new(SASL_MECH_PLAIN, "u", "p");
	assert_int_equal(sasl_client_set_nonce(c, "abc"), -1);
	assert_int_equal(sasl_client_done(c, "", err, sizeof(err)), -1);
	sasl_client_free(c);
	c = sasl_client_new(SASL_MECH_SCRAM_SHA_1, "u", "p");
	assert_int_equal(sasl_client_set_nonce(c, "a,b"), -1);
	assert_int_equal(sasl_client_set_nonce(c, ""), -1);
	assert_int_equal(sasl_client_set_nonce(c, "a b"), -1);
	assert_int_equal(sasl_client_start(c, &line, err, sizeof(err)), 0);
	assert_int_equal(sasl_client_set_nonce(c, "abc"), -1);
	/* Started twice: refused, and the first exchange goes on. */
	sasl_client_free(c);
	c = started(SASL_MECH_SCRAM_SHA_1, "user", "pencil", rfc5802.nonce,
	    &line, NULL);
	assert_int_equal(sasl_client_start(c, &line, err, sizeof(err)), -1);
	step_ok(c, b64(rfc5802.server_first), &line);
	assert_string_equal(unb64(&line), rfc5802.client_final);
	sasl_client_free(c);

	/* The caller's line bound is honoured. */
	buf_init(&tiny, 12);
	c = sasl_client_new(SASL_MECH_SCRAM_SHA_256, "user", "pencil");
	assert_int_equal(sasl_client_start(c, &tiny, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	sasl_client_free(c);
	buf_free(&tiny);

	/* Over-long credentials. */
	{
		char	 longpw[SASL_MAX_CRED + 2];

		memset(longpw, 'x', sizeof(longpw) - 1);
		longpw[sizeof(longpw) - 1] = '\0';
		c = sasl_client_new(SASL_MECH_LOGIN, "u", longpw);
		assert_int_equal(sasl_client_start(c, &line, err,
		    sizeof(err)), -1);
		sasl_client_free(c);
	}
	buf_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechs_parse),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_long_deferred),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_cram_md5),
		cmocka_unit_test(test_scram_sha1_rfc5802),
		cmocka_unit_test(test_scram_sha256_rfc7677),
		cmocka_unit_test(test_scram_signature_in_235),
		cmocka_unit_test(test_scram_bad_signature),
		cmocka_unit_test(test_scram_bad_server_first),
		cmocka_unit_test(test_scram_saslname),
		cmocka_unit_test(test_scram_bad_credentials),
		cmocka_unit_test(test_scram_random_nonce),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

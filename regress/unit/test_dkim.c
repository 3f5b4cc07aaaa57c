/*
 * DKIM verify and sign (auth/dkim.c, auth/dkim_sign.c): the RFC 8463
 * appendix A example, RFC 6376 3.4.5 canonicalization, sign/verify round
 * trips for every algorithm and canonicalization, and every failure path.
 * Keys in regress/data/dkim/ were made with `openssl genpkey`/`genrsa`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "auth/dkim.h"
#include "mailhdr.h"
#include "util.h"

#define DATA	"regress/data/dkim/"
#define NOW	((time_t)1800000000)

static EVP_PKEY	*k_rsa2048, *k_rsa1024, *k_rsa512, *k_ed, *k_rfc_ed;

struct keyent {
	const char	*name;
	const char	*rec;		/* NULL: only dns matters */
	enum dkim_dns	 dns;
};

static const char MSG[] =
    "From: Alice <alice@example.com>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Hello  there\r\n"
    "\tfolded subject \r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hello Bob,  \r\n"
    "\r\n"
    "line with trailing ws \t\r\n"
    "8-bit: caf\xc3\xa9\r\n"
    "\r\n"
    "\r\n";

static EVP_PKEY *
load_key(const char *path)
{
	char		 err[256];
	EVP_PKEY	*pk;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		fail_msg("open %s", path);
	pk = crypto_privkey_fd(fd, err, sizeof(err));
	close(fd);
	if (pk == NULL)
		fail_msg("%s: %s", path, err);
	return pk;
}

static int
setup(void **state)
{
	k_rsa2048 = load_key(DATA "rsa2048.pem");
	k_rsa1024 = load_key(DATA "rsa1024-pkcs1.pem");
	k_rsa512 = load_key(DATA "rsa512.pem");
	k_ed = load_key(DATA "ed25519.pem");
	k_rfc_ed = load_key(DATA "rfc8463-ed25519.pem");
	return 0;
}

static int
teardown(void **state)
{
	EVP_PKEY_free(k_rsa2048);
	EVP_PKEY_free(k_rsa1024);
	EVP_PKEY_free(k_rsa512);
	EVP_PKEY_free(k_ed);
	EVP_PKEY_free(k_rfc_ed);
	return 0;
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*s;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = xmalloc((size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		fail_msg("read %s", path);
	s[n] = '\0';
	fclose(f);
	*lenp = (size_t)n;
	return s;
}

/* Sign msg with the given signers; returns signature fields + msg. */
static char *
sign_msg(const char *msg, struct dkim_signer *cfg, size_t n)
{
	struct dkim_sign	*s;
	struct buf		 out;
	char			 err[256];
	size_t			 i;

	s = dkim_sign_new();
	for (i = 0; i < n; i++) {
		if (cfg[i].t == 0)
			cfg[i].t = NOW - 10;
		if (dkim_sign_add(s, &cfg[i], err, sizeof(err)) == -1)
			fail_msg("dkim_sign_add: %s", err);
	}
	dkim_sign_feed(s, msg, strlen(msg));
	buf_init(&out, 1 << 20);
	if (dkim_sign_end(s, &out, err, sizeof(err)) == -1)
		fail_msg("dkim_sign_end: %s", err);
	dkim_sign_free(s);
	buf_addstr(&out, msg);
	return buf_cstr(&out);
}

static struct dkim_verify *
verify_full(const char *msg, size_t len, size_t chunk,
    const struct keyent *keys, size_t nkeys, struct dkim_verify_opts *o)
{
	struct dkim_verify_opts	 opts;
	struct dkim_verify	*v;
	size_t			 i, j, off, n;

	memset(&opts, 0, sizeof(opts));
	if (o != NULL)
		opts = *o;
	if (opts.now == 0)
		opts.now = NOW;
	v = dkim_verify_new(&opts);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		dkim_verify_feed(v, msg + off, n);
	}
	dkim_verify_end(v);
	for (i = 0; i < dkim_verify_nkeys(v); i++) {
		const char *name = dkim_verify_keyname(v, i);

		for (j = 0; j < nkeys; j++)
			if (strcasecmp(keys[j].name, name) == 0)
				break;
		if (j == nkeys)
			dkim_verify_set_key(v, i, DKIM_DNS_NXDOMAIN,
			    DKIM_DNSSEC_INSECURE, NULL, NULL, 0);
		else if (keys[j].dns != DKIM_DNS_OK || keys[j].rec == NULL)
			dkim_verify_set_key(v, i, keys[j].dns,
			    DKIM_DNSSEC_INSECURE, NULL, NULL, 0);
		else {
			const char *rec = keys[j].rec;
			size_t rl = strlen(rec);

			dkim_verify_set_key(v, i, DKIM_DNS_OK,
			    DKIM_DNSSEC_INSECURE, &rec, &rl, 1);
		}
	}
	return v;
}

/* Verify and return the single signature's result (one expected). */
static enum dkim_result
verify1(const char *msg, const struct keyent *keys, size_t nkeys,
    struct dkim_verify_opts *o, char *reason, size_t rlen)
{
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	size_t				 n;
	enum dkim_result		 res;

	v = verify_full(msg, strlen(msg), 0, keys, nkeys, o);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(n, 1);
	res = r[0].result;
	if (reason != NULL)
		strlcpy(reason, r[0].reason, rlen);
	dkim_verify_free(v);
	return res;
}

static char *
keyrec(EVP_PKEY *pk, const char *extra)
{
	char	*r = dkim_key_record(pk), *out;

	assert_non_null(r);
	if (extra == NULL)
		return r;
	/* Insert extra tags after v=DKIM1; */
	xasprintf(&out, "v=DKIM1; %s;%s", extra, r + strlen("v=DKIM1;"));
	free(r);
	return out;
}

/* Replace the first occurrence of a by b (allocated result). */
static char *
replace(const char *s, const char *a, const char *b)
{
	const char	*p = strstr(s, a);
	char		*o;

	if (p == NULL)
		fail_msg("\"%s\" not found", a);
	xasprintf(&o, "%.*s%s%s", (int)(p - s), s, b, p + strlen(a));
	return o;
}

static void
test_rfc8463(void **state)
{
	static const char ed[] = "v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	static const char rsa[] = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUA"
	    "A4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY"
	    "/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKr"
	    "M3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
	struct keyent	 keys[] = {
		{ "brisbane._domainkey.football.example.com", ed, DKIM_DNS_OK },
		{ "test._domainkey.football.example.com", rsa, DKIM_DNS_OK },
	};
	struct dkim_verify_opts		 o = { .now = 1528637909 + 60 };
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	char				*msg, *rec;
	size_t				 len, n, chunk;

	msg = read_file(DATA "rfc8463.eml", &len);
	for (chunk = 0; chunk <= 7; chunk++) {
		v = verify_full(msg, len, chunk, keys, 2, &o);
		r = dkim_verify_results(v, &n, NULL);
		assert_int_equal(n, 2);
		assert_string_equal(r[0].reason, "good signature");
		assert_int_equal(r[0].result, DKIM_PASS);
		assert_string_equal(r[0].a, "ed25519-sha256");
		assert_string_equal(r[0].keytype, "ed25519");
		assert_int_equal(r[1].result, DKIM_PASS);
		assert_int_equal(r[1].keybits, 1024);
		assert_string_equal(r[1].d, "football.example.com");
		assert_string_equal(r[1].s, "test");
		assert_string_equal(r[1].i, "@football.example.com");
		assert_int_equal(r[1].body_ok, 1);
		dkim_verify_free(v);
	}
	/* The RFC's Ed25519 private key gives the RFC's public key record. */
	rec = dkim_key_record(k_rfc_ed);
	assert_string_equal(rec, ed);
	free(rec);
	free(msg);
}

/* RFC 6376 3.4.5, verbatim. */
static void
bodyhash_of(const char *msg, enum dkim_canon c, uint8_t *d, unsigned *dl,
    size_t chunk)
{
	struct dkim_msg		 m;
	struct dkim_bodyhash	*bh;
	size_t			 off, n, len = strlen(msg);

	dkim_msg_init(&m, NULL, NULL);
	bh = dkim_msg_bodyhash(&m, c, EVP_sha256(), -1);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		dkim_msg_feed(&m, msg + off, n);
	}
	dkim_msg_end(&m);
	memcpy(d, bh->digest, bh->dlen);
	*dl = bh->dlen;
	dkim_msg_free(&m);
}

static void
expect_body(const char *msg, enum dkim_canon c, const char *canon)
{
	uint8_t		 d[64], want[64];
	unsigned	 dl, wl;
	size_t		 chunk;

	EVP_Digest(canon, strlen(canon), want, &wl, EVP_sha256(), NULL);
	for (chunk = 1; chunk <= strlen(msg) + 1; chunk++) {
		bodyhash_of(msg, c, d, &dl, chunk);
		assert_int_equal(dl, wl);
		assert_memory_equal(d, want, wl);
	}
}

static void
test_rfc6376_canon(void **state)
{
	static const char ex[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n"
	    " C \r\nD \t E\r\n\r\n\r\n";
	struct buf	 b;

	buf_init(&b, 4096);
	assert_int_equal(mailhdr_canon_relaxed("A: X", 4, 1, &b), 0);
	assert_int_equal(mailhdr_canon_relaxed("B : Y\t\r\n\tZ  ",
	    strlen("B : Y\t\r\n\tZ  "), 1, &b), 0);
	assert_string_equal(buf_cstr(&b), "a:X\r\nb:Y Z\r\n");
	buf_free(&b);
	expect_body(ex, DKIM_CANON_RELAXED, " C\r\nD E\r\n");
	expect_body(ex, DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n");
	/* One body hash per (canonicalization, hash, l=). */
	{
		struct dkim_msg		 m;
		struct dkim_bodyhash	*a, *b2;

		dkim_msg_init(&m, NULL, NULL);
		a = dkim_msg_bodyhash(&m, DKIM_CANON_RELAXED,
		    dkim_alg_md(DKIM_ALG_RSA_SHA256), -1);
		b2 = dkim_msg_bodyhash(&m, DKIM_CANON_RELAXED,
		    dkim_alg_md(DKIM_ALG_ED25519_SHA256), -1);
		assert_ptr_equal(a, b2);
		b2 = dkim_msg_bodyhash(&m, DKIM_CANON_RELAXED,
		    dkim_alg_md(DKIM_ALG_RSA_SHA256), 10);
		assert_ptr_not_equal(a, b2);
		b2 = dkim_msg_bodyhash(&m, DKIM_CANON_SIMPLE,
		    dkim_alg_md(DKIM_ALG_RSA_SHA256), -1);
		assert_ptr_not_equal(a, b2);
		assert_int_equal(m.nbh, 3);
		dkim_msg_free(&m);
	}
	/* Empty body; missing final CRLF; only empty lines. */
	expect_body("A: X\r\n\r\n", DKIM_CANON_SIMPLE, "\r\n");
	expect_body("A: X\r\n\r\n", DKIM_CANON_RELAXED, "");
	expect_body("A: X\r\n", DKIM_CANON_SIMPLE, "\r\n");
	expect_body("A: X\r\n\r\nabc", DKIM_CANON_SIMPLE, "abc\r\n");
	expect_body("A: X\r\n\r\nabc  ", DKIM_CANON_RELAXED, "abc\r\n");
	expect_body("A: X\r\n\r\n\r\n\r\n", DKIM_CANON_SIMPLE, "\r\n");
	expect_body("A: X\r\n\r\n \r\n\t\r\n", DKIM_CANON_RELAXED, "");
	expect_body("A: X\r\n\r\n\r\n\r\nx\r\n\r\n", DKIM_CANON_RELAXED,
	    "\r\n\r\nx\r\n");
	expect_body("A: X\r\n\r\na\rb\r\n", DKIM_CANON_SIMPLE, "a\rb\r\n");
	expect_body("A: X\r\n\r\na\r\n\r\n \r", DKIM_CANON_RELAXED,
	    "a\r\n\r\n \r\r\n");
	expect_body("A: X\r\n\r\na\nb\n", DKIM_CANON_SIMPLE, "a\r\nb\r\n");
}

static void
roundtrip(EVP_PKEY *pk, enum dkim_alg alg, enum dkim_canon hc,
    enum dkim_canon bc, int sha1)
{
	struct dkim_signer	 cfg;
	struct dkim_verify_opts	 o = { .allow_sha1 = sha1 };
	struct keyent		 keys[1];
	char			*signed_msg, *rec, reason[200];

	memset(&cfg, 0, sizeof(cfg));
	cfg.key = pk;
	cfg.alg = alg;
	cfg.domain = "example.com";
	cfg.selector = "sel";
	cfg.hcanon = hc;
	cfg.bcanon = bc;
	cfg.allow_sha1 = sha1;
	signed_msg = sign_msg(MSG, &cfg, 1);
	rec = keyrec(pk, NULL);
	keys[0].name = "sel._domainkey.example.com";
	keys[0].rec = rec;
	keys[0].dns = DKIM_DNS_OK;
	if (verify1(signed_msg, keys, 1, &o, reason, sizeof(reason)) !=
	    DKIM_PASS)
		fail_msg("%s %d/%d: %s\n%s", dkim_alg_name(alg), hc, bc,
		    reason, signed_msg);
	free(rec);
	free(signed_msg);
}

static void
test_roundtrip(void **state)
{
	int	 hc, bc;

	for (hc = 0; hc < 2; hc++)
		for (bc = 0; bc < 2; bc++) {
			roundtrip(k_rsa2048, DKIM_ALG_RSA_SHA256, hc, bc, 0);
			roundtrip(k_rsa1024, DKIM_ALG_RSA_SHA256, hc, bc, 0);
			roundtrip(k_ed, DKIM_ALG_ED25519_SHA256, hc, bc, 0);
			roundtrip(k_rsa2048, DKIM_ALG_RSA_SHA1, hc, bc, 1);
		}
}

/* A standard signed message and its key table. */
static char *
std_signed(EVP_PKEY *pk, struct dkim_signer *override, const char *msg)
{
	struct dkim_signer	 cfg;

	if (override != NULL)
		cfg = *override;
	else
		memset(&cfg, 0, sizeof(cfg));
	cfg.key = pk;
	if (cfg.domain == NULL)
		cfg.domain = "example.com";
	if (cfg.selector == NULL)
		cfg.selector = "sel";
	cfg.hcanon = cfg.bcanon = DKIM_CANON_RELAXED;
	return sign_msg(msg ? msg : MSG, &cfg, 1);
}

static enum dkim_result
check_with(const char *msg, EVP_PKEY *pk, const char *extra,
    struct dkim_verify_opts *o, char *reason)
{
	struct keyent	 k;
	char		*rec = keyrec(pk, extra);
	enum dkim_result r;

	k.name = "sel._domainkey.example.com";
	k.rec = rec;
	k.dns = DKIM_DNS_OK;
	r = verify1(msg, &k, 1, o, reason, 200);
	free(rec);
	return r;
}

static void
test_multi_and_oversign(void **state)
{
	struct dkim_signer		 cfg[2];
	struct keyent			 keys[2];
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	char				*m, *m2, *r1, *r2;
	size_t				 n;

	memset(cfg, 0, sizeof(cfg));
	cfg[0].key = k_rsa2048;
	cfg[0].domain = "example.com";
	cfg[0].selector = "rsa";
	cfg[0].hcanon = cfg[0].bcanon = DKIM_CANON_RELAXED;
	cfg[1] = cfg[0];
	cfg[1].key = k_ed;
	cfg[1].selector = "ed";
	m = sign_msg(MSG, cfg, 2);
	r1 = dkim_key_record(k_rsa2048);
	r2 = dkim_key_record(k_ed);
	keys[0] = (struct keyent){ "rsa._domainkey.example.com", r1,
	    DKIM_DNS_OK };
	keys[1] = (struct keyent){ "ed._domainkey.example.com", r2,
	    DKIM_DNS_OK };
	v = verify_full(m, strlen(m), 0, keys, 2, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_int_equal(r[1].result, DKIM_PASS);
	/* from, subject, to... listed once more than present. */
	assert_non_null(strstr(r[0].h, "from:from"));
	assert_non_null(strstr(r[0].h, "subject:subject"));
	assert_non_null(strstr(r[0].h, "cc"));
	dkim_verify_free(v);

	/* A second Subject added on top breaks both signatures. */
	xasprintf(&m2, "Subject: spam\r\n%s", m);
	v = verify_full(m2, strlen(m2), 0, keys, 2, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_int_equal(r[1].result, DKIM_FAIL);
	assert_string_equal(r[0].reason, "signature did not verify");
	dkim_verify_free(v);
	free(m2);
	/* An added Cc (absent when signed) too. */
	m2 = replace(m, "From: Alice", "Cc: eve@example.org\r\nFrom: Alice");
	v = verify_full(m2, strlen(m2), 0, keys, 2, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(r[0].result, DKIM_FAIL);
	dkim_verify_free(v);
	free(m2);
	/* An unsigned field added: still passes. */
	xasprintf(&m2, "X-Added: yes\r\n%s", m);
	v = verify_full(m2, strlen(m2), 0, keys, 2, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(r[0].result, DKIM_PASS);
	dkim_verify_free(v);
	free(m2);
	free(m);
	free(r1);
	free(r2);
}

static void
test_tamper(void **state)
{
	char	*m = std_signed(k_rsa2048, NULL, NULL), *t, reason[200];

	assert_int_equal(check_with(m, k_rsa2048, NULL, NULL, reason),
	    DKIM_PASS);
	t = replace(m, "Hello Bob", "Hello Eve");
	assert_int_equal(check_with(t, k_rsa2048, NULL, NULL, reason),
	    DKIM_FAIL);
	assert_string_equal(reason, "body hash did not verify");
	free(t);
	t = replace(m, "Subject: Hello", "Subject: Jello");
	assert_int_equal(check_with(t, k_rsa2048, NULL, NULL, reason),
	    DKIM_FAIL);
	assert_string_equal(reason, "signature did not verify");
	free(t);
	/* Relaxed tolerates whitespace changes and added trailing lines. */
	t = replace(m, "Subject: Hello  there", "Subject:   Hello there");
	assert_int_equal(check_with(t, k_rsa2048, NULL, NULL, reason),
	    DKIM_PASS);
	free(t);
	xasprintf(&t, "%s\r\n\r\n", m);
	assert_int_equal(check_with(t, k_rsa2048, NULL, NULL, reason),
	    DKIM_PASS);
	free(t);
	free(m);
}

static void
expect_sig(const char *m, const char *from, const char *to,
    enum dkim_result want, const char *reason_part)
{
	char	*t = replace(m, from, to), reason[200];
	enum dkim_result got;

	got = check_with(t, k_rsa2048, NULL, NULL, reason);
	if (got != want || strstr(reason, reason_part) == NULL)
		fail_msg("%s -> %s: got %s (%s)", from, to,
		    dkim_result_name(got), reason);
	free(t);
}

static void
test_syntax(void **state)
{
	char	*m = std_signed(k_rsa2048, NULL, NULL);

	expect_sig(m, "v=1;", "", DKIM_PERMERROR, "missing required tag v=");
	expect_sig(m, "bh=", "xbh=", DKIM_PERMERROR, "missing required tag");
	expect_sig(m, "d=example.com;", "d=example.com; d=example.com;",
	    DKIM_PERMERROR, "duplicate tag \"d\"");
	expect_sig(m, "v=1;", "v=2;", DKIM_PERMERROR, "unsupported version");
	expect_sig(m, "a=rsa-sha256", "a=rsa-sha512", DKIM_PERMERROR,
	    "unknown algorithm");
	expect_sig(m, "c=relaxed/relaxed", "c=relaxed/fancy", DKIM_PERMERROR,
	    "unknown canonicalization");
	expect_sig(m, "h=from:from:", "h=", DKIM_PERMERROR, "From field not "
	    "signed");
	expect_sig(m, "b=", "b=!!", DKIM_PERMERROR, "b= is empty or not "
	    "valid base64");
	expect_sig(m, "bh=", "bh=A", DKIM_PERMERROR, "bh= is not valid");
	expect_sig(m, "v=1;", "v=1; i=joe@example.org;", DKIM_PERMERROR,
	    "is not within d=");
	expect_sig(m, "v=1;", "v=1; i=joe@notexample.com;", DKIM_PERMERROR,
	    "is not within d=");
	/* Accepted syntax, but the signature covers its own field. */
	expect_sig(m, "v=1;", "v=1; i=joe@sub.example.com;", DKIM_FAIL,
	    "signature did not verify");
	expect_sig(m, "v=1;", "v=1; q=dns/txt:other/x;", DKIM_FAIL,
	    "signature did not verify");
	expect_sig(m, "v=1;", "v=1; q=http;", DKIM_PERMERROR, "query method");
	expect_sig(m, "v=1;", "v=1 ;;", DKIM_PERMERROR, "bad tag name");
	expect_sig(m, "t=1799999990;", "t=1799990000; x=1799990100;",
	    DKIM_PERMERROR,
	    "signature expired");
	expect_sig(m, "v=1;", "v=1; x=1;", DKIM_PERMERROR, "x= is before t=");
	expect_sig(m, "t=", "t=2", DKIM_PERMERROR, "in the future");
	expect_sig(m, "v=1;", "v=1; l=99999;", DKIM_PERMERROR,
	    "is longer than the canonicalized body");
	expect_sig(m, "v=1;", "v=1; l=x;", DKIM_PERMERROR, "malformed");
	free(m);
}

static void
test_expiry_and_l(void **state)
{
	struct dkim_signer	 cfg;
	struct dkim_verify_opts	 o = { 0 };
	char			*m, *t, reason[200];

	memset(&cfg, 0, sizeof(cfg));
	cfg.expire = 3600;
	m = std_signed(k_ed, &cfg, NULL);
	assert_int_equal(check_with(m, k_ed, NULL, NULL, reason), DKIM_PASS);
	o.now = NOW + 7200;
	assert_int_equal(check_with(m, k_ed, NULL, &o, reason),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "expired"));
	free(m);

	/* l=: appended text is not covered; removed text is. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.body_length = 1;
	m = std_signed(k_ed, &cfg, NULL);
	assert_non_null(strstr(m, "l="));
	xasprintf(&t, "%sappended\r\n", m);
	assert_int_equal(check_with(t, k_ed, NULL, NULL, reason), DKIM_PASS);
	/* RFC 6376 8.2: the pass says how little it covers ... */
	assert_non_null(strstr(reason, "body length limit: "));
	assert_non_null(strstr(reason, " octets signed"));
	/* ... and a policy can refuse the unsigned remainder */
	o.now = 0;
	o.fail_partial_body = 1;
	assert_int_equal(check_with(t, k_ed, NULL, &o, reason), DKIM_FAIL);
	assert_non_null(strstr(reason, "unsigned content"));
	free(t);
	/* the whole body signed with l=: a plain pass either way */
	assert_int_equal(check_with(m, k_ed, NULL, &o, reason), DKIM_PASS);
	assert_null(strstr(reason, "body length limit"));
	o.fail_partial_body = 0;
	t = replace(m, "8-bit: caf\xc3\xa9\r\n", "");
	assert_int_equal(check_with(t, k_ed, NULL, NULL, reason),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "l="));
	free(t);
	free(m);
}

static void
test_keys(void **state)
{
	struct dkim_signer	 cfg;
	struct dkim_verify_opts	 o = { 0 };
	char			*m, *m1, *rec, reason[200];
	struct keyent		 k;

	m = std_signed(k_rsa2048, NULL, NULL);
	assert_int_equal(check_with(m, k_rsa2048, "t=y", NULL, reason),
	    DKIM_PASS);
	assert_non_null(strstr(reason, "testing"));
	assert_int_equal(check_with(m, k_rsa2048, "h=sha1", NULL, reason),
	    DKIM_PERMERROR);
	assert_string_equal(reason, "key h= does not allow sha256");
	assert_int_equal(check_with(m, k_rsa2048, "h=sha1:sha256", NULL,
	    reason), DKIM_PASS);
	assert_int_equal(check_with(m, k_rsa2048, "s=tlsrpt", NULL, reason),
	    DKIM_PERMERROR);
	assert_int_equal(check_with(m, k_rsa2048, "s=email:tlsrpt", NULL,
	    reason), DKIM_PASS);
	assert_int_equal(check_with(m, k_rsa2048, "foo=bar", NULL, reason),
	    DKIM_PASS);
	assert_int_equal(check_with(m, k_rsa2048, "h=sha256; h=sha256", NULL,
	    reason), DKIM_PERMERROR);
	/* k= mismatch: an Ed25519 key record for an RSA signature. */
	assert_int_equal(check_with(m, k_ed, NULL, NULL, reason),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "does not match"));
	/* The wrong RSA key. */
	assert_int_equal(check_with(m, k_rsa1024, NULL, NULL, reason),
	    DKIM_FAIL);

	k.name = "sel._domainkey.example.com";
	k.dns = DKIM_DNS_OK;
	k.rec = "v=DKIM1; k=rsa; p=";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_string_equal(reason, "key revoked (empty p=)");
	k.rec = "v=DKIM1; k=rsa; p=!!!!";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "base64"));
	k.rec = "v=DKIM1; k=rsa; p=AAAA";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "not a valid rsa"));
	k.rec = "k=rsa; v=DKIM1; p=AAAA";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "first"));
	k.rec = "v=DKIM2; p=AAAA";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	k.rec = "v=DKIM1; k=dsa; p=AAAA";
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "unknown key type"));
	k.rec = NULL;
	k.dns = DKIM_DNS_TEMPFAIL;
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_TEMPERROR);
	k.dns = DKIM_DNS_NXDOMAIN;
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "no key"));
	/* NOERROR without records. */
	k.dns = DKIM_DNS_OK;
	assert_int_equal(verify1(m, &k, 1, NULL, reason, 200),
	    DKIM_PERMERROR);

	/* Several TXT records: garbage first, then the key: first valid. */
	{
		struct dkim_verify *v;
		const struct dkim_sigresult *r;
		const char *recs[2];
		size_t lens[2], n;

		rec = dkim_key_record(k_rsa2048);
		recs[0] = "v=spf1 -all";
		recs[1] = rec;
		lens[0] = strlen(recs[0]);
		lens[1] = strlen(recs[1]);
		v = dkim_verify_new(&(struct dkim_verify_opts){ .now = NOW });
		dkim_verify_feed(v, m, strlen(m));
		assert_true(dkim_verify_header_done(v));
		assert_int_equal(dkim_verify_nkeys(v), 1);
		dkim_verify_set_key(v, 0, DKIM_DNS_OK, DKIM_DNSSEC_SECURE,
		    recs, lens, 2);
		dkim_verify_end(v);
		r = dkim_verify_results(v, &n, NULL);
		assert_int_equal(r[0].result, DKIM_PASS);
		assert_int_equal(r[0].dnssec, DKIM_DNSSEC_SECURE);
		dkim_verify_free(v);
		free(rec);
	}
	free(m);

	/* t=s: i= in a subdomain is refused, i= at d= passes. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.identity = "bounce@mail.example.com";
	m1 = std_signed(k_ed, &cfg, NULL);
	assert_int_equal(check_with(m1, k_ed, NULL, NULL, reason), DKIM_PASS);
	assert_int_equal(check_with(m1, k_ed, "t=s", NULL, reason),
	    DKIM_PERMERROR);
	assert_non_null(strstr(reason, "t=s"));
	free(m1);
	cfg.identity = "bounce@example.com";
	m1 = std_signed(k_ed, &cfg, NULL);
	assert_int_equal(check_with(m1, k_ed, "t=y:s", NULL, reason),
	    DKIM_PASS);
	free(m1);

	/* RFC 8301 3.2: 512-bit RSA is refused. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.allow_small_key = 1;
	m1 = std_signed(k_rsa512, &cfg, NULL);
	assert_int_equal(check_with(m1, k_rsa512, NULL, NULL, reason),
	    DKIM_POLICY);
	assert_non_null(strstr(reason, "512 bits"));
	o.min_rsa_bits = 512;
	assert_int_equal(check_with(m1, k_rsa512, NULL, &o, reason),
	    DKIM_PASS);
	free(m1);

	/* RFC 8301 3.1: rsa-sha1 only with the flag. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.alg = DKIM_ALG_RSA_SHA1;
	cfg.allow_sha1 = 1;
	m1 = std_signed(k_rsa2048, &cfg, NULL);
	assert_int_equal(check_with(m1, k_rsa2048, NULL, NULL, reason),
	    DKIM_POLICY);
	assert_non_null(strstr(reason, "rsa-sha1"));
	memset(&o, 0, sizeof(o));
	o.allow_sha1 = 1;
	assert_int_equal(check_with(m1, k_rsa2048, NULL, &o, reason),
	    DKIM_PASS);
	free(m1);
}

static void
test_sign_refusals(void **state)
{
	struct dkim_sign	*s = dkim_sign_new();
	struct dkim_signer	 cfg;
	char			 err[200];

	memset(&cfg, 0, sizeof(cfg));
	cfg.key = k_rsa2048;
	cfg.domain = "example.com";
	cfg.selector = "sel";
	cfg.alg = DKIM_ALG_RSA_SHA1;
	assert_int_equal(dkim_sign_add(s, &cfg, err, sizeof(err)), -1);
	cfg.alg = DKIM_ALG_ED25519_SHA256;
	assert_int_equal(dkim_sign_add(s, &cfg, err, sizeof(err)), -1);
	cfg.alg = DKIM_ALG_NONE;
	cfg.key = k_rsa512;
	assert_int_equal(dkim_sign_add(s, &cfg, err, sizeof(err)), -1);
	cfg.key = k_rsa2048;
	cfg.identity = "a@example.org";
	assert_int_equal(dkim_sign_add(s, &cfg, err, sizeof(err)), -1);
	cfg.identity = NULL;
	cfg.domain = "exa mple.com";
	assert_int_equal(dkim_sign_add(s, &cfg, err, sizeof(err)), -1);
	dkim_sign_free(s);
}

static void
test_too_many(void **state)
{
	struct dkim_signer		 cfg[12];
	struct keyent			 k;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	char				*m, *rec;
	size_t				 i, n, total;

	memset(cfg, 0, sizeof(cfg));
	for (i = 0; i < 12; i++) {
		cfg[i].key = k_ed;
		cfg[i].domain = "example.com";
		cfg[i].selector = "sel";
	}
	m = sign_msg(MSG, cfg, 12);
	rec = dkim_key_record(k_ed);
	k = (struct keyent){ "sel._domainkey.example.com", rec, DKIM_DNS_OK };
	v = verify_full(m, strlen(m), 0, &k, 1, NULL);
	r = dkim_verify_results(v, &n, &total);
	assert_int_equal(n, 12);
	assert_int_equal(total, 12);
	for (i = 0; i < 10; i++)
		assert_int_equal(r[i].result, DKIM_PASS);
	assert_int_equal(r[10].result, DKIM_POLICY);
	assert_non_null(strstr(r[11].reason, "more than 10"));
	dkim_verify_free(v);
	free(m);
	free(rec);
}

/* Every split point of the message gives the same results. */
static void
test_chunks(void **state)
{
	struct dkim_signer		 cfg[2];
	struct keyent			 k[2];
	char				*m, *r1, *r2;
	size_t				 len, cut, n;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;

	memset(cfg, 0, sizeof(cfg));
	cfg[0].key = k_ed;
	cfg[0].domain = "example.com";
	cfg[0].selector = "a";
	cfg[0].hcanon = cfg[0].bcanon = DKIM_CANON_SIMPLE;
	cfg[1] = cfg[0];
	cfg[1].selector = "b";
	cfg[1].key = k_rsa1024;
	cfg[1].hcanon = cfg[1].bcanon = DKIM_CANON_RELAXED;
	m = sign_msg(MSG, cfg, 2);
	r1 = dkim_key_record(k_ed);
	r2 = dkim_key_record(k_rsa1024);
	k[0] = (struct keyent){ "a._domainkey.example.com", r1, DKIM_DNS_OK };
	k[1] = (struct keyent){ "b._domainkey.example.com", r2, DKIM_DNS_OK };
	len = strlen(m);
	for (cut = 0; cut <= len; cut++) {
		struct dkim_verify_opts o = { .now = NOW };

		v = dkim_verify_new(&o);
		dkim_verify_feed(v, m, cut);
		dkim_verify_feed(v, m + cut, len - cut);
		dkim_verify_end(v);
		dkim_verify_set_key(v, 0, DKIM_DNS_OK, 0,
		    (const char *[]){ r1 }, (size_t[]){ strlen(r1) }, 1);
		dkim_verify_set_key(v, 1, DKIM_DNS_OK, 0,
		    (const char *[]){ r2 }, (size_t[]){ strlen(r2) }, 1);
		r = dkim_verify_results(v, &n, NULL);
		assert_int_equal(n, 2);
		if (r[0].result != DKIM_PASS || r[1].result != DKIM_PASS)
			fail_msg("cut at %zu: %s / %s", cut, r[0].reason,
			    r[1].reason);
		dkim_verify_free(v);
	}
	/* Byte by byte. */
	v = verify_full(m, len, 1, k, 2, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_int_equal(r[1].result, DKIM_PASS);
	dkim_verify_free(v);
	free(m);
	free(r1);
	free(r2);
}

static void
test_none_and_limits(void **state)
{
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	struct buf			 big;
	size_t				 n, i;
	char				*m;

	v = verify_full(MSG, strlen(MSG), 0, NULL, 0, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(n, 0);
	dkim_verify_free(v);

	/* A signature followed by a huge header: permerror, bounded. */
	m = std_signed(k_ed, NULL, NULL);
	buf_init(&big, 8 << 20);
	buf_add(&big, m, strstr(m, "From:") - m);
	for (i = 0; i < 3000; i++)
		buf_printf(&big, "X-Filler-%zu: %0500d\r\n", i, 0);
	buf_addstr(&big, strstr(m, "From:"));
	v = verify_full((char *)big.data, big.len, 4096, NULL, 0, NULL);
	r = dkim_verify_results(v, &n, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_non_null(strstr(r[0].reason, "exceeds"));
	dkim_verify_free(v);
	buf_free(&big);

	/* 1000 signatures: at most DKIM_MAX_RESULTS kept, all counted. */
	buf_init(&big, 8 << 20);
	for (i = 0; i < 900; i++)
		buf_addstr(&big, "DKIM-Signature: v=1; a=rsa-sha256; "
		    "d=example.com; s=x; h=from; bh=AAAA; b=AAAA\r\n");
	buf_addstr(&big, MSG);
	v = verify_full((char *)big.data, big.len, 0, NULL, 0, NULL);
	r = dkim_verify_results(v, &n, &i);
	assert_int_equal(n, DKIM_MAX_RESULTS);
	assert_int_equal(i, 900);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_int_equal(r[20].result, DKIM_POLICY);
	dkim_verify_free(v);
	buf_free(&big);
	free(m);
}

static void
test_keyfile_forms(void **state)
{
	char		*pem, err[200], *rec;
	size_t		 len;
	EVP_PKEY	*pk;

	pem = read_file(DATA "rsa1024-pkcs1.pem", &len);
	assert_non_null(strstr(pem, "BEGIN RSA PRIVATE KEY"));
	pk = crypto_privkey_mem(pem, len, err, sizeof(err));
	assert_non_null(pk);
	assert_string_equal(crypto_key_type(pk), "rsa");
	assert_int_equal(crypto_key_bits(pk), 1024);
	rec = dkim_key_record(pk);
	assert_true(strncmp(rec, "v=DKIM1; k=rsa; p=MIGf", 22) == 0);
	free(rec);
	EVP_PKEY_free(pk);
	free(pem);
	assert_null(crypto_privkey_mem("garbage", 7, err, sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463),
		cmocka_unit_test(test_rfc6376_canon),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_multi_and_oversign),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_expiry_and_l),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_none_and_limits),
		cmocka_unit_test(test_keyfile_forms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

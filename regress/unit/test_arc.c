/*
 * ARC (auth/arc.c): chains of 1 to 50 sets sealed by our code and
 * validated, with RSA and Ed25519 keys; each way a chain breaks (body or
 * signed header changed, sets renumbered, members missing or doubled,
 * gaps, a failed chain sealed and refused afterwards, 60 sets, bad cv=
 * sequence, unknown or temporarily unavailable keys); oldest-pass; the
 * sealer's refusals.  Keys are those of regress/data/dkim/.
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
#include "auth/arc.h"
#include "auth/dkim.h"
#include "util.h"

#define DATA	"regress/data/dkim/"
#define NOW	((time_t)1800000000)

static EVP_PKEY	*k_rsa, *k_ed, *k_rsa512;
static char	*rec_rsa, *rec_ed;

static const char MSG[] =
    "Received: from a.example.com by b.example.org; Mon, 23 Nov 2026\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: list@example.org\r\n"
    "Subject: Hello  there\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.com>\r\n"
    "\r\n"
    "Hello list,  \r\n"
    "\r\n"
    "body text\r\n";

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
	k_rsa = load_key(DATA "rsa2048.pem");
	k_ed = load_key(DATA "ed25519.pem");
	k_rsa512 = load_key(DATA "rsa512.pem");
	rec_rsa = dkim_key_record(k_rsa);
	rec_ed = dkim_key_record(k_ed);
	return 0;
}

static int
teardown(void **state)
{
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_ed);
	EVP_PKEY_free(k_rsa512);
	free(rec_rsa);
	free(rec_ed);
	return 0;
}

/*
 * The DNS: rsa._domainkey.*, ed._domainkey.*, temp._domainkey.* (SERVFAIL);
 * anything else does not exist.
 */
static void
answer_keys(struct arc_verify *v)
{
	const char	*name, *rec;
	size_t		 k, len;

	for (k = 0; k < arc_verify_nkeys(v); k++) {
		name = arc_verify_keyname(v, k);
		rec = NULL;
		if (strncmp(name, "rsa._domainkey.", 15) == 0)
			rec = rec_rsa;
		else if (strncmp(name, "ed._domainkey.", 14) == 0)
			rec = rec_ed;
		else if (strncmp(name, "temp._domainkey.", 16) == 0) {
			arc_verify_set_key(v, k, DKIM_DNS_TEMPFAIL,
			    DKIM_DNSSEC_UNKNOWN, NULL, NULL, 0);
			continue;
		}
		if (rec == NULL) {
			arc_verify_set_key(v, k, DKIM_DNS_NXDOMAIN,
			    DKIM_DNSSEC_INSECURE, NULL, NULL, 0);
			continue;
		}
		len = strlen(rec);
		arc_verify_set_key(v, k, DKIM_DNS_OK, DKIM_DNSSEC_INSECURE,
		    &rec, &len, 1);
	}
}

struct vres {
	enum arc_result	 result;
	unsigned int	 fail_instance;
	unsigned int	 nsets;
	unsigned int	 oldest_pass;
	size_t		 nkeys;
	char		 reason[200];
	char		 ams_d[8][64];	/* the first sets' domains */
	char		 as_s[8][64];
	int		 ams_ok[8];
};

static void
verify_chunked(const char *msg, size_t chunk, struct vres *out)
{
	struct arc_verify		*v;
	const struct arc_chainresult	*r;
	size_t				 len = strlen(msg), off, n;
	unsigned int			 k;

	memset(out, 0, sizeof(*out));
	v = arc_verify_new(NULL);
	if (chunk == 0)
		chunk = len;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		arc_verify_feed(v, msg + off, n);
	}
	arc_verify_end(v);
	assert_true(arc_verify_header_done(v));
	out->nkeys = arc_verify_nkeys(v);
	answer_keys(v);
	r = arc_verify_result(v);
	out->result = r->result;
	out->fail_instance = r->fail_instance;
	out->nsets = r->nsets;
	out->oldest_pass = r->oldest_pass;
	strlcpy(out->reason, r->reason, sizeof(out->reason));
	assert_true(r->result == ARC_PASS || r->result == ARC_NONE ||
	    r->reason[0] != '\0');
	for (k = 0; k < r->nsets && k < 8; k++) {
		if (r->sets[k].ams_d != NULL)
			strlcpy(out->ams_d[k], r->sets[k].ams_d,
			    sizeof(out->ams_d[k]));
		if (r->sets[k].as_s != NULL)
			strlcpy(out->as_s[k], r->sets[k].as_s,
			    sizeof(out->as_s[k]));
		out->ams_ok[k] = r->sets[k].ams_ok;
	}
	arc_verify_free(v);
}

static void
verify(const char *msg, struct vres *out)
{
	verify_chunked(msg, 0, out);
}

/*
 * Seal msg as domain/selector with cv (or, with autocv, with what our
 * verifier says).  Returns the new message, or NULL when the sealer
 * declined (*rv 1) or failed (*rv -1).
 */
static char *
seal_cv(const char *msg, EVP_PKEY *key, const char *domain,
    const char *selector, int autocv, enum arc_result cv, int *rvp,
    char *err, size_t errlen)
{
	struct arc_sealer	 cfg;
	struct arc_seal		*s;
	struct buf		 out;
	struct vres		 vr;
	char			 ar[256];
	int			 rv;

	if (autocv) {
		verify(msg, &vr);
		cv = vr.result;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.key = key;
	cfg.domain = domain;
	cfg.selector = selector;
	snprintf(ar, sizeof(ar), "mx.%s; spf=pass smtp.mailfrom=example.com; "
	    "arc=%s", domain, arc_result_name(cv));
	cfg.authres = ar;
	cfg.t = NOW;
	if ((s = arc_seal_new(&cfg, err, errlen)) == NULL)
		fail_msg("arc_seal_new: %s", err);
	arc_seal_feed(s, msg, strlen(msg));
	buf_init(&out, 1 << 22);
	rv = arc_seal_end(s, cv, &out, err, errlen);
	arc_seal_free(s);
	if (rvp != NULL)
		*rvp = rv;
	if (rv != 0) {
		buf_free(&out);
		return NULL;
	}
	buf_addstr(&out, msg);
	return buf_cstr(&out);
}

static char *
seal(const char *msg, EVP_PKEY *key, const char *domain, const char *sel)
{
	char	 err[256], *m;
	int	 rv;

	m = seal_cv(msg, key, domain, sel, 1, ARC_NONE, &rv, err,
	    sizeof(err));
	if (m == NULL)
		fail_msg("seal: %d %s", rv, err);
	return m;
}

/* A chain of n sets, alternating keys and domains. */
static char *
chain(int n, int mixed)
{
	char	*m = xstrdup(MSG), *next, dom[64];
	int	 i;

	for (i = 1; i <= n; i++) {
		snprintf(dom, sizeof(dom), "hop%d.example", i);
		if (mixed && i % 2 == 0)
			next = seal(m, k_ed, dom, "ed");
		else if (mixed)
			next = seal(m, k_rsa, dom, "rsa");
		else
			next = seal(m, k_ed, dom, "ed");
		free(m);
		m = next;
	}
	return m;
}

/* Replace the first occurrence of from by to (same message otherwise). */
static char *
replace(const char *msg, const char *from, const char *to)
{
	const char	*p = strstr(msg, from);
	char		*out;

	if (p == NULL)
		fail_msg("'%s' not in message", from);
	xasprintf(&out, "%.*s%s%s", (int)(p - msg), msg, to, p + strlen(from));
	return out;
}

/* The whole header field that starts with prefix (name: i=N...). */
static char *
field_of(const char *msg, const char *prefix)
{
	const char	*p = strstr(msg, prefix), *e;

	if (p == NULL)
		fail_msg("no field %s", prefix);
	for (e = p; !(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' &&
	    e[2] != '\t'); e++)
		;
	return xstrndup(p, (size_t)(e - p) + 2);
}

static char *
remove_field(const char *msg, const char *prefix)
{
	char	*f = field_of(msg, prefix), *out;

	out = replace(msg, f, "");
	free(f);
	return out;
}

static void
test_none(void **state)
{
	struct vres	 r;

	verify(MSG, &r);
	assert_int_equal(r.result, ARC_NONE);
	assert_int_equal(r.nsets, 0);
	assert_int_equal(r.nkeys, 0);
}

static void
test_chains_pass(void **state)
{
	struct vres	 r;
	char		*m;
	int		 n, mixed;

	for (mixed = 0; mixed <= 1; mixed++)
		for (n = 1; n <= 6; n++) {
			m = chain(n, mixed);
			verify(m, &r);
			if (r.result != ARC_PASS)
				fail_msg("%d sets (mixed %d): %s", n, mixed,
				    r.reason);
			assert_int_equal(r.nsets, n);
			assert_int_equal(r.oldest_pass, 0);
			assert_string_equal(r.ams_d[0], "hop1.example");
			assert_string_equal(r.as_s[0], mixed ? "rsa" : "ed");
			if (n >= 2)
				assert_string_equal(r.as_s[1], "ed");
			/* The same answer whatever the chunking. */
			verify_chunked(m, 1, &r);
			assert_int_equal(r.result, ARC_PASS);
			verify_chunked(m, 7, &r);
			assert_int_equal(r.result, ARC_PASS);
			free(m);
		}
}

static void
test_seal_output_form(void **state)
{
	char	*m = chain(1, 1), *p;

	/* AS, AMS, AAR first, in that order, with i=1 and cv=none. */
	assert_true(strncmp(m, "ARC-Seal: i=1; a=rsa-sha256; t=1800000000; "
	    "cv=none; d=hop1.example; s=rsa;", 60) == 0);
	p = strstr(m, "\r\nARC-Message-Signature: i=1; a=rsa-sha256; "
	    "c=relaxed/relaxed;");
	assert_non_null(p);
	p = strstr(m, "\r\nARC-Authentication-Results: i=1; mx.hop1.example;");
	assert_non_null(p);
	assert_true(p < strstr(m, "\r\nReceived:"));
	/* Every line folded to at most 78 columns. */
	for (p = m; (p = strstr(p, "\r\n")) != NULL && p[2] != '\r'; p += 2) {
		char *q = strstr(p + 2, "\r\n");

		assert_true(q - (p + 2) <= 78);
	}
	free(m);
}

static void
test_modified_body(void **state)
{
	struct vres	 r;
	char		*m = chain(3, 1), *bad;

	bad = replace(m, "body text", "body texT");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 3);
	assert_non_null(strstr(r.reason, "body hash"));
	free(bad);
	/* Relaxed body canonicalization: trailing white space may change. */
	bad = replace(m, "body text\r\n", "body text   \r\n");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_PASS);
	free(bad);
	free(m);
}

static void
test_modified_header(void **state)
{
	struct vres	 r;
	char		*m = chain(2, 1), *bad;

	bad = replace(m, "Subject: Hello", "Subject: Jello");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 2);
	assert_non_null(strstr(r.reason, "ARC-Message-Signature: signature "
	    "did not verify"));
	free(bad);
	/* A changed AAR of an earlier set breaks the seals. */
	bad = replace(m, "i=1; mx.hop1.example; spf=pass",
	    "i=1; mx.hop1.example; spf=fail");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "ARC-Seal: signature did not verify"));
	free(bad);
	/* An unsigned field may be added. */
	xasprintf(&bad, "X-Added: yes\r\n%s", m);
	verify(bad, &r);
	assert_int_equal(r.result, ARC_PASS);
	free(bad);
	free(m);
}

static void
test_oldest_pass(void **state)
{
	struct vres	 r;
	char		 err[256];
	char		*m1, *mod, *m2, *m3;
	int		 rv;

	/* Hop 2 validates the chain, then changes the body, then seals. */
	m1 = chain(1, 1);
	verify(m1, &r);
	assert_int_equal(r.result, ARC_PASS);
	mod = replace(m1, "body text", "body text [list footer]");
	m2 = seal_cv(mod, k_ed, "hop2.example", "ed", 0, ARC_PASS, &rv, err,
	    sizeof(err));
	assert_non_null(m2);
	verify(m2, &r);
	assert_int_equal(r.result, ARC_PASS);
	assert_int_equal(r.oldest_pass, 2);
	assert_int_equal(r.ams_ok[0], 0);
	assert_int_equal(r.ams_ok[1], 1);
	m3 = seal(m2, k_rsa, "hop3.example", "rsa");
	verify(m3, &r);
	assert_int_equal(r.result, ARC_PASS);
	assert_int_equal(r.oldest_pass, 2);
	free(m1);
	free(mod);
	free(m2);
	free(m3);
}

static void
test_reordered(void **state)
{
	struct vres	 r;
	char		*m = chain(2, 0), *set1, *rest, *moved, *a, *b;
	char		*aar1, *ams1, *as1;

	/* Sets are found by instance, not by position. */
	aar1 = field_of(m, "ARC-Authentication-Results: i=1;");
	ams1 = field_of(m, "ARC-Message-Signature: i=1;");
	as1 = field_of(m, "ARC-Seal: i=1;");
	xasprintf(&set1, "%s%s%s", as1, ams1, aar1);
	a = replace(m, aar1, "");
	b = replace(a, ams1, "");
	rest = replace(b, as1, "");
	xasprintf(&moved, "%s%s", set1, rest);
	verify(moved, &r);
	assert_int_equal(r.result, ARC_PASS);
	free(a);
	free(b);
	free(moved);
	free(rest);
	free(set1);

	/* Renumbering the sets breaks the seals and the cv= sequence. */
	a = replace(m, "ARC-Seal: i=1;", "ARC-Seal: i=X;");
	b = replace(a, "ARC-Seal: i=2;", "ARC-Seal: i=1;");
	free(a);
	a = replace(b, "ARC-Seal: i=X;", "ARC-Seal: i=2;");
	verify(a, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 1);
	free(a);
	free(b);
	a = replace(m, "ARC-Message-Signature: i=1;",
	    "ARC-Message-Signature: i=X;");
	b = replace(a, "ARC-Message-Signature: i=2;",
	    "ARC-Message-Signature: i=1;");
	free(a);
	a = replace(b, "ARC-Message-Signature: i=X;",
	    "ARC-Message-Signature: i=2;");
	verify(a, &r);
	assert_int_equal(r.result, ARC_FAIL);
	free(a);
	free(b);
	free(aar1);
	free(ams1);
	free(as1);
	free(m);
}

static void
test_missing_and_duplicate(void **state)
{
	struct vres	 r;
	char		*m = chain(3, 1), *bad, *f, *dup;

	bad = remove_field(m, "ARC-Message-Signature: i=3;");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 3);
	assert_string_equal(r.reason, "i=3: ARC-Message-Signature is missing");
	assert_int_equal(r.nkeys, 0);
	free(bad);

	bad = remove_field(m, "ARC-Authentication-Results: i=1;");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 1);
	free(bad);

	/* A gap: set 2 gone entirely. */
	bad = remove_field(m, "ARC-Seal: i=2;");
	dup = remove_field(bad, "ARC-Message-Signature: i=2;");
	free(bad);
	bad = remove_field(dup, "ARC-Authentication-Results: i=2;");
	free(dup);
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 2);
	assert_non_null(strstr(r.reason, "i=2:"));
	free(bad);

	/* The same instance twice. */
	f = field_of(m, "ARC-Seal: i=1;");
	xasprintf(&dup, "%s%s", f, m);
	verify(dup, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 1);
	assert_string_equal(r.reason, "i=1: more than one ARC-Seal");
	assert_int_equal(r.nkeys, 0);
	free(dup);
	free(f);
	f = field_of(m, "ARC-Authentication-Results: i=2;");
	xasprintf(&dup, "%s%s", f, m);
	verify(dup, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 2);
	free(dup);
	free(f);
	free(m);
}

static void
test_fail_sealed_once(void **state)
{
	struct vres	 r;
	char		 err[256];
	char		*m = chain(2, 1), *bad, *sealed, *again;
	int		 rv;

	bad = replace(m, "body text", "changed text");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	/* RFC 8617 5.1.2: the failure is sealed, as i=3 cv=fail. */
	sealed = seal_cv(bad, k_ed, "hop3.example", "ed", 1, ARC_NONE, &rv,
	    err, sizeof(err));
	assert_non_null(sealed);
	assert_non_null(strstr(sealed, "ARC-Seal: i=3; a=ed25519-sha256; "
	    "t=1800000000; cv=fail;"));
	verify(sealed, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 3);
	assert_string_equal(r.reason, "i=3: ARC-Seal says cv=fail");
	assert_int_equal(r.nkeys, 0);
	/* Its seal covers its own set only: AAR, AMS, then itself. */
	{
		struct dkim_rawfield	 f[2];
		char			*aar, *ams, *as, *b;
		uint8_t			*sig, digest[EVP_MAX_MD_SIZE];
		size_t			 siglen;
		unsigned int		 dlen;

		aar = field_of(sealed, "ARC-Authentication-Results: i=3;");
		ams = field_of(sealed, "ARC-Message-Signature: i=3;");
		as = field_of(sealed, "ARC-Seal: i=3;");
		f[0].raw = aar;
		f[0].len = strlen(aar) - 2;
		f[1].raw = ams;
		f[1].len = strlen(ams) - 2;
		b = strstr(strstr(as, "s=ed;"), "b=") + 2;
		assert_int_equal(b64_decode(b, strlen(b), &sig, &siglen), 0);
		*b = '\0';
		assert_int_equal(dkim_fields_hash(f, 2, as, strlen(as),
		    DKIM_CANON_RELAXED, dkim_alg_md(DKIM_ALG_ED25519_SHA256),
		    digest, &dlen), 0);
		assert_true(crypto_verify_digest(k_ed, NULL, sig, siglen,
		    digest, dlen));
		/* Not the whole chain, as a passing seal would. */
		digest[0] ^= 1;
		assert_false(crypto_verify_digest(k_ed, NULL, sig, siglen,
		    digest, dlen));
		free(sig);
		free(aar);
		free(ams);
		free(as);
	}
	/* And never again. */
	again = seal_cv(sealed, k_ed, "hop4.example", "ed", 1, ARC_NONE, &rv,
	    err, sizeof(err));
	assert_null(again);
	assert_int_equal(rv, 1);
	assert_non_null(strstr(err, "cv=fail"));
	again = seal_cv(sealed, k_ed, "hop4.example", "ed", 0, ARC_PASS, &rv,
	    err, sizeof(err));
	assert_null(again);
	assert_int_equal(rv, 1);
	free(bad);
	free(sealed);
	free(m);
}

static void
test_cv_sequence(void **state)
{
	struct vres	 r;
	char		*m = chain(2, 0), *bad;

	bad = replace(m, "cv=none", "cv=pass");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 1);
	assert_string_equal(r.reason, "i=1: ARC-Seal has cv=pass, not none");
	free(bad);
	bad = replace(m, "cv=pass", "cv=none");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 2);
	free(bad);
	bad = replace(m, "cv=pass", "cv=maybe");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "cv="));
	free(bad);
	free(m);
}

static void
test_fifty_sets(void **state)
{
	struct vres	 r;
	char		 err[256];
	char		*m = chain(50, 0), *more;
	int		 rv;

	verify(m, &r);
	assert_int_equal(r.result, ARC_PASS);
	assert_int_equal(r.nsets, 50);
	more = seal_cv(m, k_ed, "hop51.example", "ed", 1, ARC_NONE, &rv, err,
	    sizeof(err));
	assert_null(more);
	assert_int_equal(rv, 1);
	assert_non_null(strstr(err, "50"));
	free(m);
}

static void
test_sixty_sets(void **state)
{
	struct vres	 r;
	struct buf	 b;
	int		 i;

	/* A forged chain of 60 sets, each fake: fail, no key looked up. */
	buf_init(&b, 1 << 20);
	for (i = 60; i >= 1; i--) {
		buf_printf(&b, "ARC-Seal: i=%d; a=rsa-sha256; cv=%s; "
		    "d=x.example; s=rsa; b=AAAA\r\n", i, i == 1 ? "none" :
		    "pass");
		buf_printf(&b, "ARC-Message-Signature: i=%d; a=rsa-sha256; "
		    "d=x.example; s=rsa; h=from; bh=AAAA; b=AAAA\r\n", i);
		buf_printf(&b, "ARC-Authentication-Results: i=%d; x.example; "
		    "arc=pass\r\n", i);
	}
	buf_addstr(&b, MSG);
	verify(buf_cstr(&b), &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_int_equal(r.fail_instance, 60);
	assert_non_null(strstr(r.reason, "limit of 50"));
	assert_int_equal(r.nkeys, 0);
	buf_free(&b);

	/* The same instance 60 times. */
	buf_init(&b, 1 << 20);
	for (i = 0; i < 60; i++)
		buf_printf(&b, "ARC-Seal: i=1; a=rsa-sha256; cv=none; "
		    "d=x.example; s=rsa; b=AAAA\r\n");
	buf_addstr(&b, MSG);
	verify(buf_cstr(&b), &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_string_equal(r.reason, "i=1: more than one ARC-Seal");
	buf_free(&b);

	/* No usable instance at all. */
	verify("ARC-Seal: i=0; cv=none\r\nARC-Authentication-Results: "
	    "x.example; arc=none\r\n\r\nbody\r\n", &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "instance"));
}

static void
test_keys(void **state)
{
	struct vres	 r;
	char		 err[256];
	char		*m, *s2;
	int		 rv;

	/* A selector nobody publishes. */
	m = seal(MSG, k_rsa, "hop1.example", "nokey");
	verify(m, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "no key"));
	free(m);

	/* SERVFAIL: neither pass nor fail, and no seal on it. */
	m = seal(MSG, k_rsa, "hop1.example", "temp");
	verify(m, &r);
	assert_int_equal(r.result, ARC_TEMPERROR);
	s2 = seal_cv(m, k_ed, "hop2.example", "ed", 1, ARC_NONE, &rv, err,
	    sizeof(err));
	assert_null(s2);
	assert_int_equal(rv, 1);
	free(m);

	/* The right name with the wrong key type. */
	m = seal(MSG, k_rsa, "hop1.example", "rsa");
	s2 = replace(m, "s=rsa;", "s=ed;");
	verify(s2, &r);
	assert_int_equal(r.result, ARC_FAIL);
	free(s2);
	free(m);
}

static void
test_forged_fields(void **state)
{
	struct vres	 r;
	char		*m = chain(1, 0), *bad;

	/* RFC 8617 4.1.2: an AMS must not sign ARC-Seal. */
	bad = replace(m, "h=from:", "h=arc-seal:from:");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "ARC-Seal"));
	free(bad);
	/* RFC 8617 4.1.3: no h= in an ARC-Seal. */
	bad = replace(m, "cv=none;", "cv=none; h=from;");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "h="));
	free(bad);
	bad = replace(m, "a=ed25519-sha256", "a=rsa-sha1");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	free(bad);
	bad = replace(m, "ARC-Seal: i=1;", "ARC-Seal: i=1; i=1;");
	verify(bad, &r);
	assert_int_equal(r.result, ARC_FAIL);
	assert_non_null(strstr(r.reason, "syntax"));
	free(bad);
	free(m);
}

static void
test_seal_refusals(void **state)
{
	struct arc_sealer	 cfg;
	struct arc_seal		*s;
	struct buf		 out;
	char			 err[256];
	char			*m;
	int			 rv;

	memset(&cfg, 0, sizeof(cfg));
	cfg.key = k_rsa;
	cfg.domain = "example.org";
	cfg.selector = "rsa";
	cfg.authres = "mx.example.org; arc=none\r\nX-Injected: yes";
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	cfg.authres = "";
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	cfg.authres = "mx.example.org; arc=none";
	cfg.headers = "From:ARC-Seal";
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	cfg.headers = NULL;
	cfg.domain = "bad domain";
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	cfg.domain = "example.org";
	cfg.key = k_rsa512;
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "1024"));
	cfg.key = k_ed;
	cfg.alg = DKIM_ALG_RSA_SHA256;
	assert_null(arc_seal_new(&cfg, err, sizeof(err)));
	cfg.alg = DKIM_ALG_NONE;

	/* cv must agree with the message. */
	s = arc_seal_new(&cfg, err, sizeof(err));
	assert_non_null(s);
	arc_seal_feed(s, MSG, strlen(MSG));
	buf_init(&out, 1 << 20);
	assert_int_equal(arc_seal_end(s, ARC_PASS, &out, err, sizeof(err)),
	    -1);
	arc_seal_free(s);
	m = chain(1, 0);
	s = arc_seal_new(&cfg, err, sizeof(err));
	arc_seal_feed(s, m, strlen(m));
	rv = arc_seal_end(s, ARC_NONE, &out, err, sizeof(err));
	assert_int_equal(rv, -1);
	assert_int_equal(out.len, 0);
	arc_seal_free(s);
	buf_free(&out);
	free(m);
}

static void
test_long_authres(void **state)
{
	struct arc_sealer	 cfg;
	struct arc_seal		*s;
	struct buf		 out, ar;
	struct vres		 r;
	char			 err[256];
	int			 i;

	buf_init(&ar, 8192);
	buf_addstr(&ar, "mx.example.org;");
	for (i = 0; i < 40; i++)
		buf_printf(&ar, " dkim=pass header.d=d%d.example "
		    "header.s=sel%d;", i, i);
	memset(&cfg, 0, sizeof(cfg));
	cfg.key = k_ed;
	cfg.domain = "example.org";
	cfg.selector = "ed";
	cfg.authres = buf_cstr(&ar);
	s = arc_seal_new(&cfg, err, sizeof(err));
	assert_non_null(s);
	arc_seal_feed(s, MSG, strlen(MSG));
	buf_init(&out, 1 << 20);
	assert_int_equal(arc_seal_end(s, ARC_NONE, &out, err, sizeof(err)),
	    0);
	buf_addstr(&out, MSG);
	verify(buf_cstr(&out), &r);
	assert_int_equal(r.result, ARC_PASS);
	arc_seal_free(s);
	buf_free(&out);
	buf_free(&ar);
}

/* Sealing in 1-byte chunks gives exactly the same fields. */
static void
test_seal_chunked(void **state)
{
	struct arc_sealer	 cfg;
	struct arc_seal		*s;
	struct buf		 whole, bytes;
	char			 err[256];
	char			*m = chain(2, 1);
	size_t			 i, len = strlen(m);

	memset(&cfg, 0, sizeof(cfg));
	cfg.key = k_rsa;
	cfg.domain = "hop3.example";
	cfg.selector = "rsa";
	cfg.authres = "mx.hop3.example; arc=pass";
	cfg.t = NOW;
	buf_init(&whole, 1 << 20);
	buf_init(&bytes, 1 << 20);
	s = arc_seal_new(&cfg, err, sizeof(err));
	arc_seal_feed(s, m, len);
	assert_int_equal(arc_seal_end(s, ARC_PASS, &whole, err, sizeof(err)),
	    0);
	arc_seal_free(s);
	s = arc_seal_new(&cfg, err, sizeof(err));
	for (i = 0; i < len; i++)
		arc_seal_feed(s, m + i, 1);
	assert_int_equal(arc_seal_end(s, ARC_PASS, &bytes, err, sizeof(err)),
	    0);
	arc_seal_free(s);
	assert_int_equal(whole.len, bytes.len);
	assert_memory_equal(whole.data, bytes.data, whole.len);
	buf_free(&whole);
	buf_free(&bytes);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_chains_pass),
		cmocka_unit_test(test_seal_output_form),
		cmocka_unit_test(test_modified_body),
		cmocka_unit_test(test_modified_header),
		cmocka_unit_test(test_oldest_pass),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_missing_and_duplicate),
		cmocka_unit_test(test_fail_sealed_once),
		cmocka_unit_test(test_cv_sequence),
		cmocka_unit_test(test_fifty_sets),
		cmocka_unit_test(test_sixty_sets),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_forged_fields),
		cmocka_unit_test(test_seal_refusals),
		cmocka_unit_test(test_long_authres),
		cmocka_unit_test(test_seal_chunked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

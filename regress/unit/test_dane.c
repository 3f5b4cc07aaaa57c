/*
 * mta/dane.c: TLSA usability and matching (RFC 7672 3.1, RFC 7671 5)
 * against certificate chains made here with libcrypto: DANE-EE with no
 * name or date checks, DANE-TA in the chain, as a bare key, through an
 * intermediate, with names, wildcards and dates checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mta/dane.h"

#define DAY	(24 * 60 * 60)

static time_t	 now;

static EVP_PKEY *
mkkey(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by ikey (self-signed when issuer NULL). */
static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const char *san, int ca, long from, long until)
{
	static long	 serial = 1;
	X509		*x = X509_new();
	X509_NAME	*name = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, from, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, until, &now);
	X509_set_pubkey(x, key);
	add_ext(x, issuer ? issuer : x, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(x, issuer ? issuer : x, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	if (san != NULL)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

/* PEM text of the certificates given, in order; *len set. */
static uint8_t *
pem(size_t *len, X509 *a, X509 *b, X509 *c)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	X509	*v[3] = { a, b, c };
	char	*p;
	uint8_t	*out;
	long	 n;
	int	 i;

	for (i = 0; i < 3; i++)
		if (v[i] != NULL)
			assert_true(PEM_write_bio_X509(bio, v[i]));
	n = BIO_get_mem_data(bio, &p);
	out = malloc(n);
	memcpy(out, p, n);
	*len = n;
	BIO_free(bio);
	return out;
}

static struct dane_tlsa
tlsa(int usage, int selector, int mtype, X509 *x)
{
	struct dane_tlsa	 t;
	unsigned char		*der = NULL;
	unsigned int		 mdlen;
	int			 len;

	memset(&t, 0, sizeof(t));
	t.usage = usage;
	t.selector = selector;
	t.mtype = mtype;
	len = selector == 0 ? i2d_X509(x, &der) :
	    i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	assert_true(len > 0);
	if (mtype == 0) {
		memcpy(t.data, der, len);
		t.len = len;
	} else {
		EVP_Digest(der, len, t.data, &mdlen,
		    mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL);
		t.len = mdlen;
	}
	OPENSSL_free(der);
	return t;
}

struct world {
	EVP_PKEY	*rootk, *interk, *leafk, *otherk;
	X509		*root, *inter, *leaf, *leaf_via, *expired, *wild,
			*other;
};

static int
setup(void **state)
{
	struct world	*w = calloc(1, sizeof(*w));

	now = time(NULL);
	w->rootk = mkkey();
	w->interk = mkkey();
	w->leafk = mkkey();
	w->otherk = mkkey();
	w->root = mkcert("Test Root", w->rootk, NULL, NULL, NULL, 1,
	    -DAY, 365 * DAY);
	w->inter = mkcert("Test Intermediate", w->interk, w->root, w->rootk,
	    NULL, 1, -DAY, 365 * DAY);
	w->leaf = mkcert("mx.example.org", w->leafk, w->root, w->rootk,
	    "DNS:mx.example.org", 0, -DAY, 90 * DAY);
	w->leaf_via = mkcert("mx.example.org", w->leafk, w->inter, w->interk,
	    "DNS:mx.example.org", 0, -DAY, 90 * DAY);
	w->expired = mkcert("mx.example.org", w->leafk, w->root, w->rootk,
	    "DNS:mx.example.org", 0, -30 * DAY, -DAY);
	w->wild = mkcert("wild", w->leafk, w->root, w->rootk,
	    "DNS:*.example.org", 0, -DAY, 90 * DAY);
	w->other = mkcert("other", w->otherk, NULL, NULL, "DNS:mx.example.org",
	    1, -DAY, 90 * DAY);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world	*w = *state;

	X509_free(w->root);
	X509_free(w->inter);
	X509_free(w->leaf);
	X509_free(w->leaf_via);
	X509_free(w->expired);
	X509_free(w->wild);
	X509_free(w->other);
	EVP_PKEY_free(w->rootk);
	EVP_PKEY_free(w->interk);
	EVP_PKEY_free(w->leafk);
	EVP_PKEY_free(w->otherk);
	free(w);
	return 0;
}

static const char *mxnames[] = { "mx.example.org", "example.org" };

/* One record against a chain; the verdict, with rpt/why in *res. */
static int
check1(struct dane_tlsa t, X509 *a, X509 *b, X509 *c, const char *name,
    struct dane_result *res)
{
	const char	*names[1] = { name };
	uint8_t		*p;
	size_t		 len;
	int		 r;

	p = pem(&len, a, b, c);
	r = dane_verify(p, len, &t, 1, name ? names : mxnames,
	    name ? 1 : 2, now, res);
	free(p);
	assert_int_equal(r == 0, res->verdict == DANE_PASS);
	return res->verdict;
}

static void
test_usable(void **state)
{
	struct world		*w = *state;
	struct dane_tlsa	 t[6];
	uint8_t			 rdata[4] = { 3, 1, 1, 0xab };
	char			 line[128];

	t[0] = tlsa(0, 0, 1, w->root);		/* PKIX-TA: not for SMTP */
	t[1] = tlsa(3, 1, 1, w->leaf);
	t[2] = tlsa(1, 1, 1, w->leaf);		/* PKIX-EE: not for SMTP */
	t[3] = tlsa(2, 0, 2, w->root);
	t[4] = tlsa(3, 2, 1, w->leaf);		/* no such selector */
	t[5] = tlsa(3, 1, 1, w->leaf);
	t[5].len = 31;				/* not a SHA-256 digest */
	assert_int_equal(dane_tlsa_filter(t, 6), 2);
	assert_int_equal(t[0].usage, 3);
	assert_int_equal(t[1].usage, 2);
	assert_int_equal(t[1].mtype, 2);

	assert_int_equal(dane_tlsa_parse(rdata, 4, &t[0]), 0);
	assert_int_equal(t[0].len, 1);
	assert_false(dane_tlsa_usable(&t[0]));
	assert_int_equal(dane_tlsa_parse(rdata, 3, &t[0]), -1);
	t[0] = tlsa(3, 1, 1, w->leaf);
	dane_tlsa_format(&t[0], line, sizeof(line));
	assert_int_equal(strncmp(line, "3 1 1 ", 6), 0);
	assert_int_equal(strlen(line), 6 + 64);
}

static void
test_dane_ee(void **state)
{
	struct world		*w = *state;
	struct dane_result	 res;

	assert_int_equal(check1(tlsa(3, 1, 1, w->leaf), w->leaf, w->root,
	    NULL, NULL, &res), DANE_PASS);
	assert_int_equal(res.depth, 0);
	assert_int_equal(check1(tlsa(3, 0, 1, w->leaf), w->leaf, NULL, NULL,
	    NULL, &res), DANE_PASS);
	assert_int_equal(check1(tlsa(3, 0, 0, w->leaf), w->leaf, NULL, NULL,
	    NULL, &res), DANE_PASS);
	assert_int_equal(check1(tlsa(3, 1, 2, w->leaf), w->leaf, NULL, NULL,
	    NULL, &res), DANE_PASS);
	/* RFC 7672 3.1.1: no name and no date checks for DANE-EE */
	assert_int_equal(check1(tlsa(3, 1, 1, w->leaf), w->expired, NULL,
	    NULL, "somewhere.else", &res), DANE_PASS);
	/* another key; or the record of the issuer, not the server */
	assert_int_equal(check1(tlsa(3, 1, 1, w->other), w->leaf, w->root,
	    NULL, NULL, &res), DANE_FAIL);
	assert_string_equal(res.rpt, "certificate-not-trusted");
	assert_non_null(strstr(res.why, "no TLSA record matches"));
	assert_int_equal(check1(tlsa(3, 1, 1, w->root), w->leaf, w->root,
	    NULL, NULL, &res), DANE_FAIL);
	/* a certificate record does not match on the key alone */
	assert_int_equal(check1(tlsa(3, 0, 1, w->leaf), w->expired, NULL, NULL,
	    NULL, &res), DANE_FAIL);
}

static void
test_dane_ta(void **state)
{
	struct world		*w = *state;
	struct dane_result	 res;

	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->leaf, w->root,
	    NULL, NULL, &res), DANE_PASS);
	assert_int_equal(res.depth, 1);
	assert_int_equal(check1(tlsa(2, 1, 1, w->root), w->leaf, w->root,
	    NULL, "mx.example.org", &res), DANE_PASS);
	/* through an intermediate: the root, or the intermediate itself */
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->leaf_via, w->inter,
	    w->root, NULL, &res), DANE_PASS);
	assert_int_equal(res.depth, 2);
	assert_int_equal(check1(tlsa(2, 1, 2, w->inter), w->leaf_via,
	    w->inter, w->root, NULL, &res), DANE_PASS);
	assert_int_equal(res.depth, 1);
	/* the TA was not sent: not found */
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->leaf, NULL, NULL,
	    NULL, &res), DANE_FAIL);
	assert_string_equal(res.rpt, "certificate-not-trusted");
	/* the server's own certificate is no trust anchor */
	assert_int_equal(check1(tlsa(2, 0, 1, w->leaf), w->leaf, w->root,
	    NULL, NULL, &res), DANE_FAIL);
	/* RFC 7672 3.2.2: names are checked */
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->leaf, w->root,
	    NULL, "mx2.example.org", &res), DANE_FAIL);
	assert_string_equal(res.rpt, "certificate-host-mismatch");
	/* and dates */
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->expired, w->root,
	    NULL, NULL, &res), DANE_FAIL);
	assert_string_equal(res.rpt, "certificate-expired");
	/* a chain that does not lead to the anchor: leaf not signed by it */
	assert_int_equal(check1(tlsa(2, 0, 1, w->other), w->leaf, w->other,
	    NULL, NULL, &res), DANE_FAIL);
	assert_string_equal(res.rpt, "certificate-not-trusted");
}

static void
test_dane_ta_key_and_wildcard(void **state)
{
	struct world		*w = *state;
	struct dane_result	 res;

	/* RFC 7671 5.2.2: 2 1 0 is the key; the anchor need not be sent */
	assert_int_equal(check1(tlsa(2, 1, 0, w->root), w->leaf, NULL, NULL,
	    NULL, &res), DANE_PASS);
	assert_int_equal(check1(tlsa(2, 1, 0, w->root), w->leaf_via, w->inter,
	    NULL, NULL, &res), DANE_PASS);
	assert_int_equal(check1(tlsa(2, 1, 0, w->other), w->leaf, NULL, NULL,
	    NULL, &res), DANE_FAIL);
	/* 3.2.3: a wildcard is one whole leftmost label */
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->wild, w->root,
	    NULL, "mx.example.org", &res), DANE_PASS);
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->wild, w->root,
	    NULL, "a.b.example.org", &res), DANE_FAIL);
	assert_int_equal(check1(tlsa(2, 0, 1, w->root), w->wild, w->root,
	    NULL, "example.org", &res), DANE_FAIL);
}

static void
test_bad_chains(void **state)
{
	struct world		*w = *state;
	struct dane_tlsa	 t = tlsa(3, 1, 1, w->leaf);
	struct dane_result	 res;
	const char		*junk = "-----BEGIN CERTIFICATE-----\nAAAA\n"
				    "-----END CERTIFICATE-----\n";

	assert_int_equal(dane_verify((const uint8_t *)junk, strlen(junk), &t,
	    1, mxnames, 2, now, &res), -1);
	assert_string_equal(res.rpt, "validation-failure");
	assert_int_equal(dane_verify((const uint8_t *)"", 0, &t, 1, mxnames,
	    2, now, &res), -1);
	/* an unusable record never matches, even if its data would */
	t.usage = 1;
	assert_int_equal(check1(t, w->leaf, NULL, NULL, NULL, &res),
	    DANE_FAIL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_dane_ee),
		cmocka_unit_test(test_dane_ta),
		cmocka_unit_test(test_dane_ta_key_and_wildcard),
		cmocka_unit_test(test_bad_chains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

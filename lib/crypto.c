/*
 * Base64 and key handling for DKIM (RFC 6376 3.6.1, RFC 8463 4.2) over
 * OpenSSL libcrypto.  See crypto.h.  Base64 is written here rather than
 * taken from EVP_DecodeBlock because that one accepts garbage (it neither
 * rejects misplaced padding nor reports the true length).  Signature
 * checks over a computed digest (RFC 6376 3.3.1, RFC 8463 3) reuse the
 * decoded public keys and their RSA verification contexts.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Values of base64 characters, and what the others are: whitespace (FWS is
 * allowed anywhere in DKIM base64, RFC 6376 3.5), padding or invalid.  A
 * table, as this runs for every signature and key record.
 */
#define B64_BAD	(-1)
#define B64_WS	(-2)
#define B64_PAD	(-3)

static const int8_t b64_values[256] = {
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_WS, B64_WS, B64_BAD, B64_BAD, B64_WS, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_WS, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, 62, B64_BAD, B64_BAD, B64_BAD, 63,
	52, 53, 54, 55, 56, 57, 58, 59,
	60, 61, B64_BAD, B64_BAD, B64_BAD, B64_PAD, B64_BAD, B64_BAD,
	B64_BAD, 0, 1, 2, 3, 4, 5, 6,
	7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22,
	23, 24, 25, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, 26, 27, 28, 29, 30, 31, 32,
	33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48,
	49, 50, 51, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
};

int
b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	const unsigned char	*s = (const unsigned char *)in;
	uint8_t			*o;
	size_t			 i = 0, n = 0, nchars = 0, pad = 0;
	uint32_t		 acc = 0;
	int			 v, a, b, c, d;

	*out = NULL;
	*outlen = 0;
	o = NULL;
	while (i < inlen) {
		/* Whole quanta of four plain characters at once. */
		if (o != NULL && nchars % 4 == 0 && pad == 0) {
			while (inlen - i >= 4 &&
			    (a = b64_values[s[i]]) >= 0 &&
			    (b = b64_values[s[i + 1]]) >= 0 &&
			    (c = b64_values[s[i + 2]]) >= 0 &&
			    (d = b64_values[s[i + 3]]) >= 0) {
				acc = (uint32_t)a << 18 | (uint32_t)b << 12 |
				    (uint32_t)c << 6 | (uint32_t)d;
				o[n++] = (acc >> 16) & 0xff;
				o[n++] = (acc >> 8) & 0xff;
				o[n++] = acc & 0xff;
				i += 4;
				nchars += 4;
			}
			acc = 0;
			if (i == inlen)
				break;
		}
		v = b64_values[s[i++]];
		if (v == B64_WS)
			continue;
		if (v == B64_PAD) {
			pad++;
			continue;
		}
		if (pad > 0 || v == B64_BAD)
			goto bad;
		if (o == NULL)
			o = xmalloc(inlen / 4 * 3 + 3);
		acc = (acc << 6) | (uint32_t)v;
		if (++nchars % 4 == 0) {
			o[n++] = (acc >> 16) & 0xff;
			o[n++] = (acc >> 8) & 0xff;
			o[n++] = acc & 0xff;
			acc = 0;
		}
	}
	/* RFC 4648 4: the quantum is completed by exactly this much padding. */
	switch (nchars % 4) {
	case 0:
		if (pad != 0)
			goto bad;
		break;
	case 2:
		if (pad != 2 || (acc & 0xf) != 0)
			goto bad;
		o[n++] = (acc >> 4) & 0xff;
		break;
	case 3:
		if (pad != 1 || (acc & 0x3) != 0)
			goto bad;
		o[n++] = (acc >> 10) & 0xff;
		o[n++] = (acc >> 2) & 0xff;
		break;
	default:
		goto bad;
	}
	*out = o;
	*outlen = n;
	return 0;
 bad:
	free(o);
	return -1;
}

char *
b64_encode(const uint8_t *in, size_t inlen)
{
	char	*o, *p;
	size_t	 i;

	o = p = xmalloc((inlen + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < inlen; i += 3) {
		*p++ = b64_alphabet[in[i] >> 2];
		*p++ = b64_alphabet[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*p++ = b64_alphabet[((in[i + 1] & 0xf) << 2) |
		    (in[i + 2] >> 6)];
		*p++ = b64_alphabet[in[i + 2] & 0x3f];
	}
	if (i < inlen) {
		*p++ = b64_alphabet[in[i] >> 2];
		if (i + 1 < inlen) {
			*p++ = b64_alphabet[((in[i] & 3) << 4) |
			    (in[i + 1] >> 4)];
			*p++ = b64_alphabet[(in[i + 1] & 0xf) << 2];
		} else {
			*p++ = b64_alphabet[(in[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	*p = '\0';
	return o;
}

static void
crypto_err(char *err, size_t errlen, const char *what)
{
	unsigned long	 e;
	char		 ebuf[160];

	e = ERR_get_error();
	ERR_clear_error();
	if (e != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(err, errlen, "%s: %s", what, ebuf);
	} else
		snprintf(err, errlen, "%s", what);
}

EVP_PKEY *
crypto_privkey_mem(const void *pem, size_t len, char *err, size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*pk;

	if (len > CRYPTO_MAX_KEYFILE || len > INT32_MAX) {
		snprintf(err, errlen, "key file larger than %d bytes",
		    CRYPTO_MAX_KEYFILE);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		crypto_err(err, errlen, "BIO_new_mem_buf");
		return NULL;
	}
	/* A NULL callback with "" as the passphrase: never prompt. */
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pk == NULL) {
		crypto_err(err, errlen, "not a PEM private key");
		return NULL;
	}
	if (crypto_key_type(pk) == NULL) {
		snprintf(err, errlen, "key type is neither RSA nor Ed25519");
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

EVP_PKEY *
crypto_privkey_fd(int fd, char *err, size_t errlen)
{
	struct buf	 b;
	EVP_PKEY	*pk;
	char		 chunk[4096];
	ssize_t		 n;

	buf_init(&b, CRYPTO_MAX_KEYFILE);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			buf_free(&b);
			return NULL;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) == -1) {
			snprintf(err, errlen, "key file larger than %d bytes",
			    CRYPTO_MAX_KEYFILE);
			explicit_bzero(chunk, sizeof(chunk));
			explicit_bzero(b.data, b.cap);
			buf_free(&b);
			return NULL;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	pk = crypto_privkey_mem(buf_cstr(&b), b.len, err, errlen);
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	return pk;
}

const char *
crypto_key_type(const EVP_PKEY *pk)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		return "rsa";
	case EVP_PKEY_ED25519:
		return "ed25519";
	default:
		return NULL;
	}
}

int
crypto_key_bits(const EVP_PKEY *pk)
{
	return EVP_PKEY_get_bits(pk);
}

char *
crypto_dkim_pubkey_b64(const EVP_PKEY *pk)
{
	uint8_t		 raw[32], *der = NULL;
	size_t		 rawlen = sizeof(raw);
	char		*s;
	int		 n;

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		if ((n = i2d_PUBKEY((EVP_PKEY *)pk, &der)) <= 0)
			return NULL;
		s = b64_encode(der, (size_t)n);
		OPENSSL_free(der);
		return s;
	case EVP_PKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1 ||
		    rawlen != sizeof(raw))
			return NULL;
		return b64_encode(raw, rawlen);
	default:
		return NULL;
	}
}

/*
 * Decoding a public key costs far more than verifying with it under
 * OpenSSL 3 (the decoder framework), and mail comes from few keys, so the
 * last few keys decoded are kept.  Bounded: CACHE_KEYS entries of at most
 * CACHE_KEYLEN bytes.  Not thread-safe; the daemon has no threads.
 */
#define CACHE_KEYS	32
#define CACHE_KEYLEN	2048
#define CACHE_MDS	2	/* rsa-sha256 and rsa-sha1 */

static struct keycache {
	int		 ed25519;
	size_t		 len;
	uint8_t		 der[CACHE_KEYLEN];
	EVP_PKEY	*pk;
	unsigned int	 used;
	/*
	 * RSA verification contexts, set up once per hash: under OpenSSL 3
	 * creating one (provider and algorithm lookups under locks, padding
	 * and digest parameters) costs a fifth of the verification itself.
	 */
	const EVP_MD	*vmd[CACHE_MDS];
	EVP_PKEY_CTX	*vctx[CACHE_MDS];
} keycache[CACHE_KEYS];
static unsigned int keycache_clock;

static EVP_PKEY	*crypto_dkim_pubkey_decode(const char *, const uint8_t *,
		    size_t);

EVP_PKEY *
crypto_dkim_pubkey(const char *ktype, const uint8_t *der, size_t len)
{
	struct keycache	*e, *victim = &keycache[0];
	EVP_PKEY	*pk;
	int		 ed = strcmp(ktype, "ed25519") == 0;
	size_t		 i;

	if (len <= CACHE_KEYLEN) {
		for (i = 0; i < CACHE_KEYS; i++) {
			e = &keycache[i];
			if (e->pk != NULL && e->ed25519 == ed &&
			    e->len == len && memcmp(e->der, der, len) == 0) {
				e->used = ++keycache_clock;
				EVP_PKEY_up_ref(e->pk);
				return e->pk;
			}
			if (e->used < victim->used)
				victim = e;
		}
	}
	if ((pk = crypto_dkim_pubkey_decode(ktype, der, len)) == NULL ||
	    len > CACHE_KEYLEN)
		return pk;
	EVP_PKEY_free(victim->pk);
	for (i = 0; i < CACHE_MDS; i++) {
		EVP_PKEY_CTX_free(victim->vctx[i]);
		victim->vctx[i] = NULL;
		victim->vmd[i] = NULL;
	}
	victim->ed25519 = ed;
	victim->len = len;
	memcpy(victim->der, der, len);
	victim->pk = pk;
	victim->used = ++keycache_clock;
	EVP_PKEY_up_ref(pk);
	return pk;
}

static EVP_PKEY *
crypto_dkim_pubkey_decode(const char *ktype, const uint8_t *der, size_t len)
{
	const unsigned char	*p;
	EVP_PKEY		*pk;

	if (len > INT32_MAX)
		return NULL;
	if (strcmp(ktype, "ed25519") == 0) {
		/* RFC 8463 4.2: the bare 32-byte key, no ASN.1 wrapping. */
		if (len != 32)
			return NULL;
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der,
		    len);
		ERR_clear_error();
		return pk;
	}
	if (strcmp(ktype, "rsa") != 0)
		return NULL;
	p = der;
	pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk != NULL && (p != der + len ||
	    EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	if (pk == NULL) {
		p = der;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (pk != NULL && p != der + len) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	ERR_clear_error();
	return pk;
}

static EVP_PKEY_CTX *
rsa_verify_ctx(EVP_PKEY *pk, const EVP_MD *md)
{
	EVP_PKEY_CTX	*ctx;

	/* RFC 6376 3.3.1: RSASSA-PKCS1-v1_5 (RFC 8017 8.2). */
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
crypto_verify_digest(EVP_PKEY *pk, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const uint8_t *digest, size_t dlen)
{
	struct keycache	*e = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_MD_CTX	*mctx;
	size_t		 i;
	int		 ok = 0;

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_ED25519:
		/*
		 * RFC 8463 3: pure Ed25519 over the hash.  Setting up is
		 * cheap next to the verification here: nothing is cached.
		 */
		if ((mctx = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestVerify(mctx, sig, siglen, digest, dlen) == 1)
			ok = 1;
		EVP_MD_CTX_free(mctx);
		break;
	case EVP_PKEY_RSA:
		for (i = 0; i < CACHE_KEYS && e == NULL; i++)
			if (keycache[i].pk == pk)
				e = &keycache[i];
		if (e == NULL) {
			if ((ctx = rsa_verify_ctx(pk, md)) != NULL &&
			    EVP_PKEY_verify(ctx, sig, siglen, digest,
			    dlen) == 1)
				ok = 1;
			EVP_PKEY_CTX_free(ctx);
			break;
		}
		/* A context only does verify(): it keeps no state between. */
		for (i = 0; i < CACHE_MDS && ctx == NULL; i++) {
			if (e->vctx[i] == NULL) {
				if ((e->vctx[i] = rsa_verify_ctx(pk,
				    md)) == NULL)
					break;
				e->vmd[i] = md;
			}
			if (e->vmd[i] == md)
				ctx = e->vctx[i];
		}
		if (ctx == NULL) {
			/* Some other digest: not kept. */
			if ((ctx = rsa_verify_ctx(pk, md)) != NULL &&
			    EVP_PKEY_verify(ctx, sig, siglen, digest,
			    dlen) == 1)
				ok = 1;
			EVP_PKEY_CTX_free(ctx);
			break;
		}
		ok = EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) == 1;
		break;
	}
	ERR_clear_error();
	return ok;
}

/*
 * Base64 and key handling for DKIM (RFC 6376 3.6.1, RFC 8463 4.2) over
 * OpenSSL libcrypto.  See crypto.h.  Base64 is written here rather than
 * taken from EVP_DecodeBlock because that one accepts garbage (it neither
 * rejects misplaced padding nor reports the true length).
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

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	uint8_t		*o;
	size_t		 i, n = 0, nchars = 0, pad = 0;
	uint32_t	 acc = 0;
	int		 v;

	*out = NULL;
	*outlen = 0;
	o = NULL;
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64_value(c)) == -1)
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

static struct keycache {
	int		 ed25519;
	size_t		 len;
	uint8_t		 der[CACHE_KEYLEN];
	EVP_PKEY	*pk;
	unsigned int	 used;
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

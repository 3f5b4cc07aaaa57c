/*
 * Thin helpers around OpenSSL libcrypto for the authentication code: strict
 * base64 (RFC 4648 section 4, as DKIM, ARC and key records use it), private
 * key loading from memory or a file descriptor (PEM PKCS#1 or PKCS#8, as
 * `openssl genpkey` writes them) and public keys in DKIM's p= forms
 * (RFC 6376 3.6.1 SubjectPublicKeyInfo for RSA, RFC 8463 4.2 raw Ed25519).
 * No cryptographic arithmetic is done here: libcrypto does all of it.
 */
#ifndef POSTERN_CRYPTO_H
#define POSTERN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Largest private key file we read (a 16384-bit RSA PEM is ~13 KB). */
#define CRYPTO_MAX_KEYFILE	(64 * 1024)

/*
 * Decode base64, skipping whitespace (SP, HTAB, CR, LF: DKIM allows FWS
 * anywhere in base64 values, RFC 6376 3.5).  Strict otherwise: only the
 * RFC 4648 alphabet, padding only at the end and only to a multiple of 4.
 * Returns 0 and an allocated buffer (free it) or -1.  An empty input decodes
 * to zero bytes with *out set to NULL.
 */
int	 b64_decode(const char *in, size_t inlen, uint8_t **out,
	    size_t *outlen);
/* Encode with padding, no line breaks; allocated, NUL-terminated. */
char	*b64_encode(const uint8_t *in, size_t inlen);

/*
 * A private key from PEM text in memory (PKCS#1 "RSA PRIVATE KEY" or
 * PKCS#8 "PRIVATE KEY", RSA or Ed25519) or read from an open descriptor
 * (the parent opens the file; the caller keeps the descriptor).
 * NULL with a reason in err on failure.
 */
EVP_PKEY *crypto_privkey_mem(const void *pem, size_t len, char *err,
	    size_t errlen);
EVP_PKEY *crypto_privkey_fd(int fd, char *err, size_t errlen);

/* Key type as DKIM names it ("rsa", "ed25519") or NULL; bits for RSA. */
const char *crypto_key_type(const EVP_PKEY *);
int	 crypto_key_bits(const EVP_PKEY *);

/*
 * The public half of a key as DKIM publishes it in p=: base64 of the DER
 * SubjectPublicKeyInfo for RSA, of the raw 32 bytes for Ed25519 (RFC 8463
 * 4.2).  Allocated; NULL for other key types.
 */
char	*crypto_dkim_pubkey_b64(const EVP_PKEY *);

/*
 * The inverse: a public key from the decoded p= bytes for key type "rsa"
 * (SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey that some publish)
 * or "ed25519" (exactly 32 raw bytes).  NULL if the bytes are not such a key.
 */
EVP_PKEY *crypto_dkim_pubkey(const char *ktype, const uint8_t *der,
	    size_t len);

/*
 * Check sig over an already computed digest: RSASSA-PKCS1-v1_5 with md for
 * RSA keys (RFC 8017 8.2.2), pure Ed25519 over the digest bytes for Ed25519
 * keys (RFC 8463 3; md unused).  1 if it verifies, 0 otherwise.  Keys from
 * crypto_dkim_pubkey() keep their RSA contexts set up between calls.
 */
int	 crypto_verify_digest(EVP_PKEY *pk, const EVP_MD *md,
	    const uint8_t *sig, size_t siglen, const uint8_t *digest,
	    size_t dlen);

#endif

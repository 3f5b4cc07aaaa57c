/*
 * SRS (lib/srs.h): the addresses, their keyed hash and their timestamp.
 *
 * What follows libsrs2 (Shevek's, which postsrsd and most MTAs use):
 * - the forms SRS0=HHHH=TT=domain=local and SRS1=HHHH=host==HHHH=TT=...,
 *   '=' written after the tag, '=', '+' or '-' read there;
 * - HHHH: HMAC-SHA1 with the secret, base64 (RFC 4648 4), its first
 *   SRS_HASH_LEN characters; over the lower-cased text, so that an
 *   address case-folded on the way still verifies, and compared without
 *   regard to case (a 4-character hash so compared is about 2^-19 to
 *   guess, as in libsrs2);
 * - TT: the day number (Unix time / 86400) modulo 1024, two characters
 *   of base32 (RFC 4648 6 alphabet), read in any case.
 *
 * Where it deliberately differs: libsrs2 hashes its fields run together
 * ("TT" "domain" "local"), so that "a.b"+"cd" and "a.bc"+"d" share a hash
 * and one valid address yields others.  We hash "TT=domain=local" and
 * "host=rest": a domain holds no '=', so the fields cannot be shifted.
 * Our hashes therefore differ from postsrsd's with the same secret; only
 * we reverse our addresses, so nothing needs them to agree.
 *
 * Not done: SRS0 for our own domain's senders (they need none), the
 * "database" variant of SRS, and SRS for the local part past 64 octets
 * (RFC 5321 4.5.3.1.1): like libsrs2 we let the address grow, bounded
 * only by ENV_ADDR_MAX through the caller's outlen.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "srs.h"
#include "util.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define SRS_DATA_MAX	2048	/* what is hashed; addresses are shorter */

void
srs_init(struct srs *srs, const char *domain)
{
	memset(srs, 0, sizeof(*srs));
	strlcpy(srs->domain, domain, sizeof(srs->domain));
}

int
srs_add_key(struct srs *srs, const void *key, size_t len)
{
	if (len < SRS_KEY_MIN || len > SRS_KEY_MAX ||
	    srs->nkeys >= SRS_KEYS_MAX)
		return -1;
	memcpy(srs->key[srs->nkeys], key, len);
	srs->keylen[srs->nkeys++] = len;
	return 0;
}

void
srs_clear(struct srs *srs)
{
	OPENSSL_cleanse(srs->key, sizeof(srs->key));
	srs->nkeys = 0;
}

int
srs_key_parse(const char *buf, size_t len, uint8_t *key, size_t *keylen)
{
	size_t	 n;

	for (n = 0; n < len && buf[n] != '\n'; n++)
		if (buf[n] == '\0')
			return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < SRS_KEY_MIN || n > SRS_KEY_MAX)
		return -1;
	memcpy(key, buf, n);
	*keylen = n;
	return 0;
}

void
srs_timestamp(time_t now, char out[3])
{
	unsigned int	 days = (unsigned int)((now / 86400) & 1023);

	out[0] = b32[(days >> 5) & 31];
	out[1] = b32[days & 31];
	out[2] = '\0';
}

int
srs_hash(const uint8_t *key, size_t keylen, const char *data, size_t len,
    char out[SRS_HASH_LEN + 1])
{
	unsigned char	 lc[SRS_DATA_MAX], md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	size_t		 i;

	if (len > sizeof(lc))
		return -1;
	for (i = 0; i < len; i++)
		lc[i] = tolower((unsigned char)data[i]);
	if (HMAC(EVP_sha1(), key, (int)keylen, lc, len, md, &mdlen) == NULL ||
	    mdlen < 3)
		return -1;
	/* base64 of the first three bytes: the first four characters */
	out[0] = b64[md[0] >> 2];
	out[1] = b64[((md[0] & 3) << 4) | (md[1] >> 4)];
	out[2] = b64[((md[1] & 15) << 2) | (md[2] >> 6)];
	out[3] = b64[md[2] & 63];
	out[4] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* Does any key give this hash?  Case-insensitive, constant-time. */
static int
hash_ok(const struct srs *srs, const char *hash, const char *data,
    size_t len)
{
	char		 want[SRS_HASH_LEN + 1], got[SRS_HASH_LEN];
	size_t		 k, i;
	int		 ok = 0;

	for (i = 0; i < SRS_HASH_LEN; i++)
		got[i] = tolower((unsigned char)hash[i]);
	for (k = 0; k < srs->nkeys; k++) {
		if (srs_hash(srs->key[k], srs->keylen[k], data, len,
		    want) == -1)
			return 0;
		for (i = 0; i < SRS_HASH_LEN; i++)
			want[i] = tolower((unsigned char)want[i]);
		ok |= CRYPTO_memcmp(want, got, SRS_HASH_LEN) == 0;
	}
	return ok;
}

static int
is_sep(char c)
{
	return c == '=' || c == '+' || c == '-';
}

int
srs_is_srs(const char *local, size_t len)
{
	return len > 4 && strncasecmp(local, "SRS", 3) == 0 &&
	    (local[3] == '0' || local[3] == '1') && is_sep(local[4]);
}

/* The day number of a TT, or -1. */
static int
stamp_decode(const char *tt)
{
	const char	*p;
	int		 v = 0, i;

	for (i = 0; i < 2; i++) {
		if (tt[i] == '\0' ||
		    (p = strchr(b32, toupper((unsigned char)tt[i]))) == NULL)
			return -1;
		v = v * 32 + (int)(p - b32);
	}
	return v;
}

/*
 * Within SRS_MAX_AGE_DAYS, or at most one day ahead (a clock a little
 * fast, here or at the day's turn), modulo the 1024-day cycle.
 */
static int
stamp_ok(int then, time_t now)
{
	int	 today = (int)((now / 86400) & 1023), age;

	age = (today - then + 1024) % 1024;
	return age <= SRS_MAX_AGE_DAYS || age == 1023;
}

/* A domain as SRS carries it: letters, digits, '-', '.', '_', no '='. */
static int
domain_ok(const char *d, size_t len)
{
	size_t	 i;

	if (len == 0 || len > SRS_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)d[i]) && d[i] != '-' &&
		    d[i] != '.' && d[i] != '_' && d[i] != '[' &&
		    d[i] != ']' && d[i] != ':')
			return 0;
	return 1;
}

enum srs_result
srs_forward(const struct srs *srs, const char *sender, time_t now,
    char *out, size_t outlen)
{
	const char	*at, *rest, *p;
	char		 data[SRS_DATA_MAX], hash[SRS_HASH_LEN + 1], tt[3];
	char		 host[SRS_DOMAIN_MAX + 1], local[SRS_DATA_MAX];
	size_t		 llen;
	int		 n;

	if (outlen == 0)
		return SRS_TOO_LONG;
	if (sender[0] == '\0' || srs->nkeys == 0 ||
	    (at = strrchr(sender, '@')) == NULL || at == sender ||
	    strcasecmp(at + 1, srs->domain) == 0 ||
	    !domain_ok(at + 1, strlen(at + 1)) ||
	    (llen = (size_t)(at - sender)) >= sizeof(local))
		goto unchanged;
	memcpy(local, sender, llen);
	local[llen] = '\0';
	if (srs_is_srs(local, llen) && local[3] == '0') {
		/* SRS0 of another forwarder: SRS1 naming it */
		strlcpy(host, at + 1, sizeof(host));
		rest = local + 4;
	} else if (srs_is_srs(local, llen) && local[3] == '1' &&
	    (p = strchr(local + 5, '=')) != NULL &&
	    (size_t)(p - (local + 5)) == SRS_HASH_LEN &&
	    (rest = strchr(p + 1, '=')) != NULL && rest > p + 1 &&
	    (size_t)(rest - (p + 1)) <= SRS_DOMAIN_MAX && rest[1] != '\0') {
		/* SRS1: the same first forwarder, our hash */
		memcpy(host, p + 1, rest - (p + 1));
		host[rest - (p + 1)] = '\0';
		rest++;
		if (!domain_ok(host, strlen(host)))
			goto plain;
	} else
		goto plain;
	n = snprintf(data, sizeof(data), "%s=%s", host, rest);
	if (n < 0 || (size_t)n >= sizeof(data) ||
	    srs_hash(srs->key[0], srs->keylen[0], data, n, hash) == -1)
		goto toolong;
	n = snprintf(out, outlen, "SRS1=%s=%s=%s@%s", hash, host, rest,
	    srs->domain);
	if (n < 0 || (size_t)n >= outlen)
		goto toolong;
	return SRS_OK;
 plain:
	srs_timestamp(now, tt);
	n = snprintf(data, sizeof(data), "%s=%s=%s", tt, at + 1, local);
	if (n < 0 || (size_t)n >= sizeof(data) ||
	    srs_hash(srs->key[0], srs->keylen[0], data, n, hash) == -1)
		goto toolong;
	n = snprintf(out, outlen, "SRS0=%s=%s=%s=%s@%s", hash, tt, at + 1,
	    local, srs->domain);
	if (n < 0 || (size_t)n >= outlen)
		goto toolong;
	return SRS_OK;
 unchanged:
	if (strlcpy(out, sender, outlen) >= outlen) {
		out[0] = '\0';
		return SRS_TOO_LONG;
	}
	return SRS_OK;
 toolong:
	if (strlcpy(out, sender, outlen) >= outlen)
		out[0] = '\0';
	return SRS_TOO_LONG;
}

enum srs_result
srs_reverse(const struct srs *srs, const char *addr, time_t now,
    char *out, size_t outlen)
{
	const char	*at, *h, *f1, *f2, *f3;
	char		 local[SRS_DATA_MAX], data[SRS_DATA_MAX];
	char		 host[SRS_DOMAIN_MAX + 1];
	size_t		 llen;
	int		 n, then;

	if (outlen > 0)
		out[0] = '\0';
	if ((at = strrchr(addr, '@')) == NULL ||
	    strcasecmp(at + 1, srs->domain) != 0)
		return SRS_NOT_SRS;
	llen = (size_t)(at - addr);
	if (!srs_is_srs(addr, llen))
		return SRS_NOT_SRS;
	if (llen >= sizeof(local))
		return SRS_SYNTAX;
	memcpy(local, addr, llen);
	local[llen] = '\0';
	h = local + 5;
	/* the hash: SRS_HASH_LEN base64 characters, then '=' */
	if ((f1 = strchr(h, '=')) == NULL || f1 - h != SRS_HASH_LEN ||
	    strspn(h, b64) < SRS_HASH_LEN)
		return SRS_SYNTAX;
	f1++;
	if (local[3] == '0') {
		/* TT=domain=local */
		if ((f2 = strchr(f1, '=')) == NULL || f2 - f1 != 2 ||
		    (then = stamp_decode(f1)) == -1)
			return SRS_SYNTAX;
		f2++;
		if ((f3 = strchr(f2, '=')) == NULL ||
		    !domain_ok(f2, (size_t)(f3 - f2)) || f3[1] == '\0')
			return SRS_SYNTAX;
		if (!hash_ok(srs, h, f1, strlen(f1)))
			return SRS_BAD_HASH;
		if (!stamp_ok(then, now))
			return SRS_EXPIRED;
		n = snprintf(out, outlen, "%s@%.*s", f3 + 1, (int)(f3 - f2),
		    f2);
	} else {
		/* host=rest: back to the first forwarder as SRS0 */
		if ((f2 = strchr(f1, '=')) == NULL ||
		    !domain_ok(f1, (size_t)(f2 - f1)) || f2[1] == '\0')
			return SRS_SYNTAX;
		memcpy(host, f1, f2 - f1);
		host[f2 - f1] = '\0';
		n = snprintf(data, sizeof(data), "%s=%s", host, f2 + 1);
		if (n < 0 || (size_t)n >= sizeof(data))
			return SRS_SYNTAX;
		if (!hash_ok(srs, h, data, (size_t)n))
			return SRS_BAD_HASH;
		n = snprintf(out, outlen, "SRS0%s@%s", f2 + 1, host);
	}
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return SRS_TOO_LONG;
	}
	return SRS_OK;
}

const char *
srs_result_name(enum srs_result r)
{
	switch (r) {
	case SRS_OK:
		return "ok";
	case SRS_NOT_SRS:
		return "not SRS";
	case SRS_SYNTAX:
		return "bad syntax";
	case SRS_BAD_HASH:
		return "bad hash";
	case SRS_EXPIRED:
		return "expired timestamp";
	case SRS_TOO_LONG:
		return "too long";
	}
	return "?";
}

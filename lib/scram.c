/*
 * SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677): key derivation,
 * the server's proof check, the grammar of RFC 5802 7 for the messages a
 * server reads, and the stored form of a user's keys.  Used by the SASL
 * client (mta/sasl.c), the SMTP server's AUTH (smtpd/engine_auth.c, with
 * the keys in authd) and posternctl encrypt.  See lib/scram.h.
 *
 * Strings are SASLprep'ed (RFC 4013) only as far as ASCII goes: control
 * characters are refused and printable ASCII is its own output; other
 * UTF-8 is used unchanged, invalid UTF-8 refused.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "scram.h"
#include "util.h"

int
scram_is_mech(enum sasl_mech mech)
{
	return mech == SASL_MECH_SCRAM_SHA_1 ||
	    mech == SASL_MECH_SCRAM_SHA_256;
}

static const EVP_MD *
scram_md(enum sasl_mech mech)
{
	if (mech == SASL_MECH_SCRAM_SHA_1)
		return EVP_sha1();
	if (mech == SASL_MECH_SCRAM_SHA_256)
		return EVP_sha256();
	return NULL;
}

size_t
scram_hash_len(enum sasl_mech mech)
{
	if (mech == SASL_MECH_SCRAM_SHA_1)
		return 20;
	if (mech == SASL_MECH_SCRAM_SHA_256)
		return 32;
	return 0;
}

int
scram_printable(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return 0;
	return 1;
}

int
scram_prep_check(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, i;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3;
		else
			return -1;
		for (i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return -1;
		/* Overlong forms, surrogates and code points past U+10FFFF. */
		if ((p[0] == 0xe0 && p[1] < 0xa0) ||
		    (p[0] == 0xed && p[1] > 0x9f) ||
		    (p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] > 0x8f))
			return -1;
		p += n + 1;
	}
	return 0;
}

int
scram_saslname_encode(struct buf *b, const char *user)
{
	const char	*p;
	int		 rv = 0;

	for (p = user; *p != '\0'; p++) {
		if (*p == '=')
			rv |= buf_addstr(b, "=3D");
		else if (*p == ',')
			rv |= buf_addstr(b, "=2C");
		else
			rv |= buf_add(b, p, 1);
	}
	return rv;
}

int
scram_saslname_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	char	 c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '\0' || c == ',')
			return -1;
		if (c == '=') {
			/* RFC 5802 5.1: "=" only as =2C or =3D */
			if (len - i < 3)
				return -1;
			if (in[i + 1] == '2' && in[i + 2] == 'C')
				c = ',';
			else if (in[i + 1] == '3' && in[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

const char *
scram_attr(const char **pp, char name, size_t *len)
{
	const char	*p = *pp, *v, *comma;

	if (p == NULL || p[0] != name || p[1] != '=')
		return NULL;
	v = p + 2;
	if ((comma = strchr(v, ',')) == NULL) {
		*len = strlen(v);
		*pp = NULL;
	} else {
		*len = comma - v;
		*pp = comma + 1;
	}
	return v;
}

int
scram_hmac(enum sasl_mech mech, const uint8_t *key, size_t keylen,
    const void *data, size_t len, uint8_t *out)
{
	const EVP_MD	*md = scram_md(mech);
	unsigned int	 outlen;

	if (md == NULL || HMAC(md, key, (int)keylen, data, len, out,
	    &outlen) == NULL)
		return -1;
	return 0;
}

int
scram_derive_keys(enum sasl_mech mech, const char *password,
    const uint8_t *salt, size_t saltlen, unsigned int iter,
    uint8_t *client_key, uint8_t *stored_key, uint8_t *server_key)
{
	const EVP_MD	*md = scram_md(mech);
	uint8_t		 salted[SCRAM_HASH_MAX], ckey[SCRAM_HASH_MAX];
	size_t		 hlen = scram_hash_len(mech);
	unsigned int	 mdlen;
	int		 rv = -1;

	if (md == NULL || iter < 1 || iter > SCRAM_MAX_ITER)
		return -1;
	/* RFC 5802 3: SaltedPassword := Hi(Normalize(password), salt, i) */
	if (PKCS5_PBKDF2_HMAC(password, strlen(password), salt, saltlen,
	    (int)iter, md, hlen, salted) != 1)
		goto out;
	/* ClientKey := HMAC(SaltedPassword, "Client Key") */
	if (scram_hmac(mech, salted, hlen, "Client Key", 10, ckey) == -1)
		goto out;
	if (client_key != NULL)
		memcpy(client_key, ckey, hlen);
	/* StoredKey := H(ClientKey) */
	if (stored_key != NULL &&
	    EVP_Digest(ckey, hlen, stored_key, &mdlen, md, NULL) != 1)
		goto out;
	/* ServerKey := HMAC(SaltedPassword, "Server Key") */
	if (server_key != NULL && scram_hmac(mech, salted, hlen,
	    "Server Key", 10, server_key) == -1)
		goto out;
	rv = 0;
 out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	return rv;
}

int
scram_verify_proof(enum sasl_mech mech, const uint8_t *stored_key,
    const uint8_t *server_key, const void *authmsg, size_t authmsglen,
    const uint8_t *proof, size_t prooflen, uint8_t *server_sig)
{
	const EVP_MD	*md = scram_md(mech);
	uint8_t		 csig[SCRAM_HASH_MAX], ckey[SCRAM_HASH_MAX];
	uint8_t		 h[SCRAM_HASH_MAX];
	size_t		 hlen = scram_hash_len(mech), i;
	unsigned int	 mdlen;
	int		 ok;

	if (md == NULL)
		return -1;
	/* The work is the same whether or not the proof has the length. */
	memset(ckey, 0, sizeof(ckey));
	if (prooflen == hlen)
		memcpy(ckey, proof, hlen);
	/* RFC 5802 3: ClientSignature := HMAC(StoredKey, AuthMessage) */
	if (scram_hmac(mech, stored_key, hlen, authmsg, authmsglen,
	    csig) == -1 ||
	    scram_hmac(mech, server_key, hlen, authmsg, authmsglen,
	    server_sig) == -1)
		return -1;
	/* ClientKey := ClientProof XOR ClientSignature */
	for (i = 0; i < hlen; i++)
		ckey[i] ^= csig[i];
	if (EVP_Digest(ckey, hlen, h, &mdlen, md, NULL) != 1)
		ok = 0;
	else
		ok = CRYPTO_memcmp(h, stored_key, hlen) == 0 &&
		    prooflen == hlen;
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(csig, sizeof(csig));
	explicit_bzero(h, sizeof(h));
	return ok ? 0 : -1;
}

/* Strict base64 of a span into out: 1 to max bytes. */
static int
scram_b64_span(const char *s, size_t len, uint8_t *out, size_t max,
    size_t *outlen)
{
	uint8_t	*dec = NULL;
	size_t	 declen = 0, i;

	if (len == 0)
		return -1;
	/* Whitespace is not base64 here, whatever b64_decode() forgives. */
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '/' && s[i] != '=')
			return -1;
	if (b64_decode(s, len, &dec, &declen) == -1)
		return -1;
	if (declen == 0 || declen > max) {
		explicit_bzero(dec, declen);
		free(dec);
		return -1;
	}
	memcpy(out, dec, declen);
	*outlen = declen;
	explicit_bzero(dec, declen);
	free(dec);
	return 0;
}

int
scram_stored_parse(const char *s, size_t len, struct scram_stored *st)
{
	const char	*end = s + len, *p, *dollar, *colon;
	char		 num[8];
	const char	*errstr;
	size_t		 hlen, n, klen;

	memset(st, 0, sizeof(*st));
	if ((dollar = memchr(s, '$', len)) == NULL)
		return -1;
	st->mech = sasl_mech_from_span(s, dollar - s);
	if (!scram_is_mech(st->mech))
		return -1;
	hlen = scram_hash_len(st->mech);
	/* <iter>:<salt> */
	p = dollar + 1;
	if ((colon = memchr(p, ':', end - p)) == NULL ||
	    (n = colon - p) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (strspn(num, "0123456789") != n)
		return -1;
	st->iter = strtonum(num, SCRAM_MIN_ITER, SCRAM_MAX_ITER, &errstr);
	if (errstr != NULL)
		return -1;
	p = colon + 1;
	if ((dollar = memchr(p, '$', end - p)) == NULL ||
	    scram_b64_span(p, dollar - p, st->salt, sizeof(st->salt),
	    &st->saltlen) == -1)
		return -1;
	/* <StoredKey>:<ServerKey> */
	p = dollar + 1;
	if ((colon = memchr(p, ':', end - p)) == NULL ||
	    scram_b64_span(p, colon - p, st->stored_key,
	    sizeof(st->stored_key), &klen) == -1 || klen != hlen)
		goto bad;
	p = colon + 1;
	if (scram_b64_span(p, end - p, st->server_key,
	    sizeof(st->server_key), &klen) == -1 || klen != hlen)
		goto bad;
	return 0;
 bad:
	explicit_bzero(st, sizeof(*st));
	return -1;
}

char *
scram_stored_format(const struct scram_stored *st)
{
	size_t	 hlen = scram_hash_len(st->mech);
	char	*salt, *stored, *server, *out;

	salt = b64_encode(st->salt, st->saltlen);
	stored = b64_encode(st->stored_key, hlen);
	server = b64_encode(st->server_key, hlen);
	xasprintf(&out, "%s$%u:%s$%s:%s", sasl_mech_name(st->mech), st->iter,
	    salt, stored, server);
	free(salt);
	explicit_bzero(stored, strlen(stored));
	explicit_bzero(server, strlen(server));
	free(stored);
	free(server);
	return out;
}

/*
 * RFC 5802 7: value = 1*value-char, value-char any UTF8-char but NUL and
 * ",".  The UTF-8 of extension values is not checked: they are ignored.
 */
static int
scram_value_ok(const char *v, size_t len)
{
	return len > 0 && memchr(v, '\0', len) == NULL &&
	    memchr(v, ',', len) == NULL;
}

/*
 * The attribute at p (within end): ALPHA "=" value up to the next comma.
 * Returns the value and its length, and sets *next past the comma (or to
 * end); NULL if the attribute is malformed.
 */
static const char *
scram_next_attr(const char *p, const char *end, char *name, size_t *vlen,
    const char **next)
{
	const char	*comma, *v;

	if (end - p < 3 || !isalpha((unsigned char)p[0]) || p[1] != '=')
		return NULL;
	*name = p[0];
	v = p + 2;
	if ((comma = memchr(v, ',', end - v)) == NULL) {
		*vlen = end - v;
		*next = end;
	} else {
		*vlen = comma - v;
		*next = comma + 1;
		if (*next == end)
			return NULL;	/* a trailing comma */
	}
	if (!scram_value_ok(v, *vlen))
		return NULL;
	return v;
}

enum scram_parse_err
scram_parse_client_first(const char *msg, size_t len,
    struct scram_client_first *cf)
{
	const char	*p = msg, *end = msg + len, *v, *comma;
	char		 authzid[SCRAM_USER_MAX + 1], name;
	size_t		 vlen;
	int		 have_authzid = 0;

	memset(cf, 0, sizeof(*cf));
	if (len == 0 || len > SCRAM_CLIENT_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL)
		return SCRAM_ERR_SYNTAX;
	/* gs2-cbind-flag = ("p=" cb-name) / "n" / "y" (RFC 5802 7) */
	if (p[0] == 'p')
		return SCRAM_ERR_CBIND;
	if ((p[0] != 'n' && p[0] != 'y') || len < 3 || p[1] != ',')
		return SCRAM_ERR_SYNTAX;
	cf->cbind_flag = p[0];
	p += 2;
	/* [ authzid ] "," */
	if ((comma = memchr(p, ',', end - p)) == NULL)
		return SCRAM_ERR_SYNTAX;
	if (comma > p) {
		if (comma - p < 3 || p[0] != 'a' || p[1] != '=' ||
		    scram_saslname_decode(p + 2, comma - p - 2, authzid,
		    sizeof(authzid)) == -1)
			return SCRAM_ERR_SYNTAX;
		have_authzid = 1;
	}
	p = comma + 1;
	cf->gs2_len = p - msg;
	cf->bare_off = cf->gs2_len;
	/* RFC 5802 5.1: "m" is a mandatory extension we do not know. */
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
		return SCRAM_ERR_EXTENSION;
	if ((v = scram_next_attr(p, end, &name, &vlen, &p)) == NULL ||
	    name != 'n')
		return SCRAM_ERR_SYNTAX;
	if (scram_saslname_decode(v, vlen, cf->user, sizeof(cf->user)) == -1 ||
	    cf->user[0] == '\0' || scram_prep_check(cf->user) == -1)
		return SCRAM_ERR_USER;
	if (p == end ||
	    (v = scram_next_attr(p, end, &name, &vlen, &p)) == NULL ||
	    name != 'r' || vlen > SCRAM_NONCE_MAX ||
	    !scram_printable(v, vlen))
		return SCRAM_ERR_SYNTAX;
	memcpy(cf->nonce, v, vlen);
	cf->nonce[vlen] = '\0';
	/* extensions: taken and ignored (RFC 5802 5.1) */
	while (p < end)
		if (scram_next_attr(p, end, &name, &vlen, &p) == NULL)
			return SCRAM_ERR_SYNTAX;
	if (have_authzid && strcmp(authzid, cf->user) != 0)
		return SCRAM_ERR_AUTHZID;
	return SCRAM_OK;
}

enum scram_parse_err
scram_parse_client_final(const char *msg, size_t len,
    struct scram_client_final *cf)
{
	const char	*p = msg, *end, *v, *lastc;
	char		 name;
	size_t		 vlen;

	memset(cf, 0, sizeof(*cf));
	if (len == 0 || len > SCRAM_CLIENT_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL)
		return SCRAM_ERR_SYNTAX;
	/* proof = "p=" base64, last (RFC 5802 7) */
	for (lastc = msg + len; lastc > msg && lastc[-1] != ','; lastc--)
		;
	if (lastc == msg || msg + len - lastc < 3 || lastc[0] != 'p' ||
	    lastc[1] != '=')
		return SCRAM_ERR_SYNTAX;
	if (scram_b64_span(lastc + 2, msg + len - lastc - 2, cf->proof,
	    sizeof(cf->proof), &cf->proof_len) == -1)
		return SCRAM_ERR_SYNTAX;
	end = lastc - 1;	/* the comma */
	cf->without_proof_len = end - msg;
	/* channel-binding "," nonce ["," extensions] */
	if ((v = scram_next_attr(p, end, &name, &vlen, &p)) == NULL ||
	    name != 'c')
		return SCRAM_ERR_SYNTAX;
	cf->cbind = v;
	cf->cbind_len = vlen;
	if (p == end ||
	    (v = scram_next_attr(p, end, &name, &vlen, &p)) == NULL ||
	    name != 'r' || !scram_printable(v, vlen))
		return SCRAM_ERR_SYNTAX;
	cf->nonce = v;
	cf->nonce_len = vlen;
	while (p < end)
		if (scram_next_attr(p, end, &name, &vlen, &p) == NULL)
			return SCRAM_ERR_SYNTAX;
	return SCRAM_OK;
}

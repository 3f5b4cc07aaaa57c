/*
 * SASL client side of SMTP AUTH (RFC 4954): the mechanism list of the
 * EHLO keyword, the choice of the strongest one we may use, and the
 * exchanges of PLAIN (RFC 4616), LOGIN (the de facto "Username:" /
 * "Password:" exchange), CRAM-MD5 (RFC 2195), SCRAM-SHA-1 (RFC 5802) and
 * SCRAM-SHA-256 (RFC 7677) without channel binding (gs2 header "n,,").
 * No I/O happens here: see mta/sasl.h.
 *
 * SCRAM strings are SASLprep'ed (RFC 4013) only as far as ASCII goes:
 * control characters are refused (RFC 4013 2.3, table C.2.1) and printable
 * ASCII is its own SASLprep output.  Non-ASCII UTF-8 is passed through
 * unchanged, which is right whenever the string is already in SASLprep's
 * output form (NFKC, nothing that maps to space or to nothing); invalid
 * UTF-8 is refused.  There is no authorization identity (authzid) and no
 * security layer: SMTP AUTH over TLS needs neither.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "mta/sasl.h"
#include "scram.h"
#include "util.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define SMTP_CMDLINE_MAX	512
/* Random bytes in our nonce; 18 give 24 base64 characters, no padding. */
#define SCRAM_NONCE_RAND	18

enum sasl_state {
	SASL_ST_NEW,		/* nothing sent */
	SASL_ST_IR_DEFERRED,	/* AUTH sent without its initial response */
	SASL_ST_WAIT,		/* AUTH (with any initial response) sent */
	SASL_ST_LOGIN_PASS,	/* LOGIN: user name sent */
	SASL_ST_SCRAM_FINAL,	/* SCRAM: client-final sent */
	SASL_ST_END,		/* every response sent */
	SASL_ST_FAILED,
};

struct sasl_client {
	enum sasl_mech	 mech;
	enum sasl_state	 state;
	char		*user;
	char		*pass;
	char		*ir;		/* deferred initial response, base64 */
	char		 nonce[SCRAM_NONCE_MAX + 1];
	char		*client_first_bare;
	uint8_t		 server_sig[SCRAM_HASH_MAX];
	size_t		 hlen;
	int		 verified;	/* SCRAM server signature matched */
};

/* Strongest first; PLAIN before LOGIN as both send the password. */
static const enum sasl_mech sasl_preference[] = {
	SASL_MECH_SCRAM_SHA_256, SASL_MECH_SCRAM_SHA_1, SASL_MECH_CRAM_MD5,
	SASL_MECH_PLAIN, SASL_MECH_LOGIN,
};

/*
 * Empty the caller's line; buf_reset() leaves the old bytes readable
 * through buf_cstr(), and a stale password must not look like a response.
 */
static void
line_clear(struct buf *line)
{
	if (line->data != NULL)
		explicit_bzero(line->data, line->len);
	buf_reset(line);
	buf_add(line, "", 0);
}

static int	 sasl_fail(struct sasl_client *, struct buf *, char *, size_t,
		    const char *, ...) __attribute__((format(printf, 5, 6)));

unsigned
sasl_mechs_parse(const char *params)
{
	const char	*p = params, *start;
	unsigned	 mask = 0;
	enum sasl_mech	 m;

	if (p == NULL)
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if ((m = sasl_mech_from_span(start, p - start)) !=
		    SASL_MECH_NONE)
			mask |= 1U << m;
	}
	return mask;
}

enum sasl_mech
sasl_choose(unsigned offered, unsigned allowed)
{
	size_t	 i;
	unsigned both = offered & allowed;

	for (i = 0; i < sizeof(sasl_preference) / sizeof(sasl_preference[0]);
	    i++)
		if (both & (1U << sasl_preference[i]))
			return sasl_preference[i];
	return SASL_MECH_NONE;
}

struct sasl_client *
sasl_client_new(enum sasl_mech mech, const char *user, const char *pass)
{
	struct sasl_client	*c;

	if (sasl_mech_name(mech) == NULL || user == NULL || pass == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->mech = mech;
	c->state = SASL_ST_NEW;
	c->user = xstrdup(user);
	c->pass = xstrdup(pass);
	return c;
}

static void
wipe_str(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
sasl_client_free(struct sasl_client *c)
{
	if (c == NULL)
		return;
	wipe_str(c->user);
	wipe_str(c->pass);
	wipe_str(c->ir);
	free(c->client_first_bare);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

int
sasl_client_set_nonce(struct sasl_client *c, const char *nonce)
{
	size_t	 len = strlen(nonce);

	if (!scram_is_mech(c->mech) || c->state != SASL_ST_NEW || len == 0 ||
	    len > SCRAM_NONCE_MAX || !scram_printable(nonce, len))
		return -1;
	memcpy(c->nonce, nonce, len + 1);
	return 0;
}

/*
 * Put the error in err (unless fmt is NULL: it is there already) and "*"
 * (cancel, RFC 4954 4) in line.
 */
static int
sasl_fail(struct sasl_client *c, struct buf *line, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	 ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	c->state = SASL_ST_FAILED;
	if (line != NULL) {
		line_clear(line);
		buf_addstr(line, "*");
	}
	return -1;
}

/*
 * The initial response of the mechanisms that have one, as raw bytes
 * (allocated, *len set), or NULL with *len 0 for those that do not.
 */
static int
sasl_initial_response(struct sasl_client *c, uint8_t **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct buf	 b;
	uint8_t		 rnd[SCRAM_NONCE_RAND];
	char		*s;
	size_t		 ulen = strlen(c->user), plen = strlen(c->pass);

	*out = NULL;
	*outlen = 0;
	switch (c->mech) {
	case SASL_MECH_PLAIN:
		/* RFC 4616 2: [authzid] NUL authcid NUL passwd, both 1*SAFE. */
		if (ulen == 0 || plen == 0) {
			snprintf(err, errlen, "PLAIN needs a user name and a "
			    "password");
			return -1;
		}
		*outlen = ulen + plen + 2;
		*out = xmalloc(*outlen);
		(*out)[0] = '\0';
		memcpy(*out + 1, c->user, ulen);
		(*out)[1 + ulen] = '\0';
		memcpy(*out + 2 + ulen, c->pass, plen);
		return 0;
	case SASL_MECH_SCRAM_SHA_1:
	case SASL_MECH_SCRAM_SHA_256:
		if (ulen == 0 || scram_prep_check(c->user) == -1) {
			snprintf(err, errlen, "SCRAM user name is empty, has "
			    "control characters or is not UTF-8");
			return -1;
		}
		if (scram_prep_check(c->pass) == -1) {
			snprintf(err, errlen, "SCRAM password has control "
			    "characters or is not UTF-8");
			return -1;
		}
		if (c->nonce[0] == '\0') {
			if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
				snprintf(err, errlen, "no random bytes for "
				    "the SCRAM nonce");
				return -1;
			}
			s = b64_encode(rnd, sizeof(rnd));
			strlcpy(c->nonce, s, sizeof(c->nonce));
			free(s);
		}
		/* RFC 5802 7: client-first-message-bare. */
		buf_init(&b, SASL_MAX_CRED * 3 + SCRAM_NONCE_MAX + 16);
		if (buf_addstr(&b, "n=") == -1 ||
		    scram_saslname_encode(&b, c->user) != 0 ||
		    buf_printf(&b, ",r=%s", c->nonce) == -1) {
			buf_free(&b);
			snprintf(err, errlen, "SCRAM user name too long");
			return -1;
		}
		free(c->client_first_bare);
		c->client_first_bare = xstrdup(buf_cstr(&b));
		buf_free(&b);
		/* gs2-header "n,,": no channel binding, no authzid. */
		*outlen = xasprintf(&s, "n,,%s", c->client_first_bare);
		*out = (uint8_t *)s;
		return 0;
	default:
		return 0;
	}
}

int
sasl_client_start(struct sasl_client *c, struct buf *line, char *err,
    size_t errlen)
{
	uint8_t		*ir;
	char		*b64 = NULL;
	const char	*name = sasl_mech_name(c->mech);
	size_t		 irlen;

	line_clear(line);
	if (c->state != SASL_ST_NEW) {
		/* A caller's slip: the exchange under way is left alone. */
		snprintf(err, errlen, "authentication already started");
		return -1;
	}
	if (strlen(c->user) > SASL_MAX_CRED || strlen(c->pass) > SASL_MAX_CRED)
		return sasl_fail(c, NULL, err, errlen,
		    "user name or password longer than %d bytes",
		    SASL_MAX_CRED);
	if (sasl_initial_response(c, &ir, &irlen, err, errlen) == -1) {
		c->state = SASL_ST_FAILED;
		return -1;
	}
	if (ir != NULL) {
		b64 = b64_encode(ir, irlen);
		explicit_bzero(ir, irlen);
		free(ir);
	}
	c->state = SASL_ST_WAIT;
	if (buf_printf(line, "AUTH %s", name) == -1)
		goto toolong;
	if (b64 != NULL) {
		/*
		 * RFC 4954 4: no initial response if it would make the
		 * command exceed the line length; send it after the 334.
		 */
		if (strlen("AUTH ") + strlen(name) + 1 + strlen(b64) + 2 >
		    SMTP_CMDLINE_MAX) {
			c->ir = b64;
			c->state = SASL_ST_IR_DEFERRED;
			return 0;
		}
		/* RFC 4954 4: "=" stands for an empty initial response. */
		if (buf_printf(line, " %s", b64[0] == '\0' ? "=" : b64) == -1)
			goto toolong;
		wipe_str(b64);
	}
	return 0;
 toolong:
	wipe_str(b64);
	line_clear(line);
	return sasl_fail(c, NULL, err, errlen, "AUTH line too long");
}

/* Base64 of raw bytes into line (replacing it); -1 past line's bound. */
static int
line_b64(struct buf *line, const void *data, size_t len)
{
	char	*s;
	int	 rv;

	s = b64_encode(data, len);
	line_clear(line);
	rv = buf_addstr(line, s);
	wipe_str(s);
	return rv;
}

/* Copy a server's text into err with anything unprintable replaced. */
static void
safe_copy(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t	 i;

	if (dstlen == 0)
		return;
	for (i = 0; i < len && i + 1 < dstlen; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * RFC 5802 3, 5.1, 7: check the server-first-message, derive the keys,
 * keep the expected server signature and put the client-final-message in
 * line.
 */
static int
scram_server_first(struct sasl_client *c, const char *sf, struct buf *line,
    char *err, size_t errlen)
{
	const char	*p = sf, *nonce, *salt64, *iter;
	uint8_t		*salt = NULL;
	uint8_t		 ckey[SCRAM_HASH_MAX], skey[SCRAM_HASH_MAX];
	uint8_t		 stored[SCRAM_HASH_MAX], csig[SCRAM_HASH_MAX];
	char		 ibuf[16], *final = NULL, *authmsg = NULL, *proof64;
	const char	*errstr;
	size_t		 noncelen, salt64len, iterlen, saltlen, i, hlen;
	long long	 iterations;
	int		 rv = -1, alen;

	hlen = scram_hash_len(c->mech);
	/* RFC 5802 5.1: an unknown mandatory extension makes us fail. */
	if (strncmp(sf, "m=", 2) == 0) {
		snprintf(err, errlen, "SCRAM server requires an extension we "
		    "do not know");
		return -1;
	}
	if ((nonce = scram_attr(&p, 'r', &noncelen)) == NULL ||
	    (salt64 = scram_attr(&p, 's', &salt64len)) == NULL ||
	    (iter = scram_attr(&p, 'i', &iterlen)) == NULL) {
		snprintf(err, errlen, "SCRAM server-first message malformed");
		return -1;
	}
	/* RFC 5802 5.1: the nonce starts with ours and adds to it. */
	if (noncelen <= strlen(c->nonce) ||
	    strncmp(nonce, c->nonce, strlen(c->nonce)) != 0 ||
	    !scram_printable(nonce, noncelen)) {
		snprintf(err, errlen, "SCRAM server nonce does not extend "
		    "ours");
		return -1;
	}
	if (b64_decode(salt64, salt64len, &salt, &saltlen) == -1 ||
	    saltlen == 0) {
		snprintf(err, errlen, "SCRAM salt is not base64");
		goto out;
	}
	if (iterlen == 0 || iterlen >= sizeof(ibuf)) {
		snprintf(err, errlen, "SCRAM iteration count malformed");
		goto out;
	}
	for (i = 0; i < iterlen; i++)
		if (!isdigit((unsigned char)iter[i])) {
			snprintf(err, errlen, "SCRAM iteration count "
			    "malformed");
			goto out;
		}
	memcpy(ibuf, iter, iterlen);
	ibuf[iterlen] = '\0';
	iterations = strtonum(ibuf, SCRAM_MIN_ITER, SCRAM_MAX_ITER,
	    &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "SCRAM iteration count %s is %s "
		    "(allowed %d to %d)", ibuf, errstr, SCRAM_MIN_ITER,
		    SCRAM_MAX_ITER);
		goto out;
	}

	/* RFC 5802 3: Hi(), ClientKey, StoredKey and ServerKey. */
	if (scram_derive_keys(c->mech, c->pass, salt, saltlen,
	    (unsigned int)iterations, ckey, stored, skey) == -1)
		goto crypto;

	/* "biws" is base64 of the gs2 header "n,,", RFC 5802 7. */
	xasprintf(&final, "c=biws,r=%.*s", (int)noncelen, nonce);
	alen = xasprintf(&authmsg, "%s,%s,%s", c->client_first_bare, sf,
	    final);
	if (scram_hmac(c->mech, stored, hlen, authmsg, alen, csig) == -1 ||
	    scram_hmac(c->mech, skey, hlen, authmsg, alen,
	    c->server_sig) == -1)
		goto crypto;
	c->hlen = hlen;
	/* ClientProof := ClientKey XOR ClientSignature */
	for (i = 0; i < hlen; i++)
		ckey[i] ^= csig[i];
	proof64 = b64_encode(ckey, hlen);
	line_clear(line);
	if (buf_printf(line, "%s,p=%s", final, proof64) == -1)
		snprintf(err, errlen, "SCRAM response too long");
	else if (line_b64(line, line->data, line->len) == -1) {
		line_clear(line);
		snprintf(err, errlen, "SCRAM response too long");
	} else
		rv = 0;
	free(proof64);
	goto out;
 crypto:
	snprintf(err, errlen, "SCRAM key derivation failed in libcrypto");
 out:
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(skey, sizeof(skey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(csig, sizeof(csig));
	free(salt);
	free(final);
	free(authmsg);
	return rv;
}

/*
 * RFC 5802 5.1, 7: server-final-message, "e=" error or "v=" signature,
 * maybe followed by extensions.  The signature MUST be verified.
 */
static int
scram_server_final(struct sasl_client *c, const char *sf, char *err,
    size_t errlen)
{
	const char	*p = sf, *v;
	uint8_t		*sig;
	size_t		 vlen, siglen;
	char		 why[128];
	int		 ok;

	if ((v = scram_attr(&p, 'e', &vlen)) != NULL) {
		safe_copy(why, sizeof(why), v, vlen);
		snprintf(err, errlen, "SCRAM server error: %s", why);
		return -1;
	}
	if ((v = scram_attr(&p, 'v', &vlen)) == NULL) {
		snprintf(err, errlen, "SCRAM server-final message malformed");
		return -1;
	}
	if (b64_decode(v, vlen, &sig, &siglen) == -1) {
		snprintf(err, errlen, "SCRAM server signature is not base64");
		return -1;
	}
	ok = c->hlen != 0 && siglen == c->hlen &&
	    CRYPTO_memcmp(sig, c->server_sig, siglen) == 0;
	free(sig);
	if (!ok) {
		snprintf(err, errlen, "SCRAM server signature mismatch: the "
		    "server does not know the password");
		return -1;
	}
	c->verified = 1;
	return 0;
}

/*
 * Decode a server's base64 text (bounded, SASL_MAX_CHALLENGE) into a
 * NUL-terminated string; -1 if it is not base64 or holds a NUL where a
 * string is expected (nul_ok 0).
 */
static int
decode_challenge(const char *text, char **out, size_t *outlen, int nul_ok)
{
	uint8_t	*raw;
	size_t	 len;

	*out = NULL;
	if (strlen(text) > SASL_MAX_CHALLENGE)
		return -1;
	if (b64_decode(text, strlen(text), &raw, &len) == -1)
		return -1;
	if (!nul_ok && len > 0 && memchr(raw, '\0', len) != NULL) {
		free(raw);
		return -1;
	}
	*out = xmalloc(len + 1);
	if (len > 0)
		memcpy(*out, raw, len);
	(*out)[len] = '\0';
	*outlen = len;
	free(raw);
	return 0;
}

static int
cram_md5_response(struct sasl_client *c, const char *chal, size_t challen,
    struct buf *line)
{
	uint8_t		 mac[SCRAM_HASH_MAX];
	unsigned int	 maclen, i;
	struct buf	 b;
	int		 rv;

	/* RFC 2195 2: user SP hex(HMAC-MD5(secret, challenge)) */
	if (HMAC(EVP_md5(), c->pass, strlen(c->pass), (const uint8_t *)chal,
	    challen, mac, &maclen) == NULL)
		return -1;
	buf_init(&b, SASL_MAX_CRED + 64);
	rv = buf_printf(&b, "%s ", c->user);
	for (i = 0; i < maclen && rv == 0; i++)
		rv = buf_printf(&b, "%02x", mac[i]);
	if (rv == 0)
		rv = line_b64(line, b.data, b.len);
	explicit_bzero(mac, sizeof(mac));
	buf_free(&b);
	return rv;
}

int
sasl_client_step(struct sasl_client *c, const char *challenge,
    struct buf *line, char *err, size_t errlen)
{
	const char	*toolong = "response too long for the line buffer";
	const char	*why = NULL;	/* err still to be set */
	char		*chal = NULL;
	size_t		 len = 0;
	int		 rv = -1;

	line_clear(line);
	if (challenge == NULL)
		challenge = "";
	if (strlen(challenge) > SASL_MAX_CHALLENGE)
		return sasl_fail(c, line, err, errlen,
		    "challenge longer than %d characters", SASL_MAX_CHALLENGE);
	if (decode_challenge(challenge, &chal, &len, c->mech ==
	    SASL_MECH_CRAM_MD5 || c->mech == SASL_MECH_LOGIN) == -1)
		return sasl_fail(c, line, err, errlen,
		    "challenge is not valid base64 (or hides a NUL)");

	switch (c->state) {
	case SASL_ST_IR_DEFERRED:
		/* RFC 4422 5: an empty challenge asks for the response. */
		if (len != 0)
			why = "server sent data where an empty challenge was "
			    "due";
		else if (buf_addstr(line, c->ir) == -1)
			why = toolong;
		else {
			wipe_str(c->ir);
			c->ir = NULL;
			c->state = SASL_ST_WAIT;
			rv = 0;
		}
		break;
	case SASL_ST_WAIT:
		switch (c->mech) {
		case SASL_MECH_LOGIN:
			if (line_b64(line, c->user, strlen(c->user)) == -1)
				why = toolong;
			else {
				c->state = SASL_ST_LOGIN_PASS;
				rv = 0;
			}
			break;
		case SASL_MECH_CRAM_MD5:
			if (len == 0)
				why = "CRAM-MD5 challenge is empty";
			else if (cram_md5_response(c, chal, len, line) == -1)
				why = toolong;
			else {
				c->state = SASL_ST_END;
				rv = 0;
			}
			break;
		case SASL_MECH_SCRAM_SHA_1:
		case SASL_MECH_SCRAM_SHA_256:
			if (scram_server_first(c, chal, line, err, errlen) ==
			    0) {
				c->state = SASL_ST_SCRAM_FINAL;
				rv = 0;
			}
			break;
		default:
			/* PLAIN sent everything in its initial response. */
			why = "unexpected challenge after PLAIN";
			break;
		}
		break;
	case SASL_ST_LOGIN_PASS:
		if (line_b64(line, c->pass, strlen(c->pass)) == -1)
			why = toolong;
		else {
			c->state = SASL_ST_END;
			rv = 0;
		}
		break;
	case SASL_ST_SCRAM_FINAL:
		/*
		 * RFC 4954 4: the server-final message as a last 334, to
		 * which the response is empty.
		 */
		if (scram_server_final(c, chal, err, errlen) == 0) {
			c->state = SASL_ST_END;
			rv = 0;
		}
		break;
	default:
		why = "unexpected challenge";
		break;
	}
	free(chal);
	if (rv == 0)
		return 0;
	if (why != NULL)
		return sasl_fail(c, line, err, errlen, "%s", why);
	return sasl_fail(c, line, NULL, 0, NULL);
}

int
sasl_client_done(struct sasl_client *c, const char *text, char *err,
    size_t errlen)
{
	const char	*p, *w;
	char		*word, *sf;
	size_t		 wlen, sflen;
	int		 rv;

	if (c->state == SASL_ST_NEW || c->state == SASL_ST_FAILED ||
	    c->state == SASL_ST_IR_DEFERRED)
		return sasl_fail(c, NULL, err, errlen,
		    "success reply before the exchange was complete");
	if (!scram_is_mech(c->mech) || c->verified)
		return 0;
	if (c->state != SASL_ST_SCRAM_FINAL)
		return sasl_fail(c, NULL, err, errlen,
		    "SCRAM success before the client proof was sent");
	/*
	 * The server signature as "additional data with success" in the 235
	 * text: any word of it that is base64 of a server-final-message.
	 */
	if (text == NULL)
		text = "";
	if (strlen(text) > SASL_MAX_CHALLENGE)
		return sasl_fail(c, NULL, err, errlen,
		    "success text longer than %d characters",
		    SASL_MAX_CHALLENGE);
	for (p = text; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			p++;
		w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if ((wlen = p - w) < 4)
			continue;
		word = xstrndup(w, wlen);
		rv = decode_challenge(word, &sf, &sflen, 0);
		free(word);
		if (rv == -1)
			continue;
		if (strncmp(sf, "v=", 2) == 0 || strncmp(sf, "e=", 2) == 0) {
			rv = scram_server_final(c, sf, err, errlen);
			free(sf);
			if (rv == -1)
				c->state = SASL_ST_FAILED;
			else
				c->state = SASL_ST_END;
			return rv;
		}
		free(sf);
	}
	return sasl_fail(c, NULL, err, errlen,
	    "server did not prove that it knows the password (no SCRAM "
	    "server signature)");
}

/*
 * DKIM signing (RFC 6376 5, RFC 8301, RFC 8463): rsa-sha256, ed25519-sha256
 * and, only when asked, rsa-sha1; simple or relaxed canonicalization; a
 * header list with over-signing (each sensitive name listed once more than
 * it occurs, so that adding such a field later breaks the signature,
 * RFC 6376 8.15); several signatures per message in one pass, sharing body
 * hashes.  The output is the DKIM-Signature field text, folded to 78
 * columns, for the caller to prepend.  Keys are loaded by crypto.c.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto.h"
#include "auth/dkim.h"
#include "log.h"
#include "mailhdr.h"
#include "util.h"

#define FOLD_COLUMNS	78

const char *const dkim_default_headers =
    "From:Reply-To:Subject:Date:To:Cc:In-Reply-To:References:Message-ID:"
    "MIME-Version:Content-Type:Content-Transfer-Encoding:Content-ID:"
    "Content-Description:Resent-Date:Resent-From:Resent-Sender:Resent-To:"
    "Resent-Cc:Resent-Message-ID:Sender:List-Id:List-Help:"
    "List-Unsubscribe:List-Unsubscribe-Post:List-Subscribe:List-Post:"
    "List-Owner:List-Archive";

/*
 * Signed one more time than present: fields a forwarder must never add.
 * List-* and Sender are left out on purpose, mailing lists add them.
 */
static const char *const oversigned[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "in-reply-to",
	"references", "message-id", "mime-version", "content-type",
	"content-transfer-encoding"
};

struct ssig {
	EVP_PKEY		*key;
	enum dkim_alg		 alg;
	char			*domain;
	char			*selector;
	char			*identity;
	char			*headers;
	enum dkim_canon		 hcanon;
	enum dkim_canon		 bcanon;
	int			 no_oversign;
	int			 body_length;
	time_t			 t;
	long long		 expire;
	struct dkim_bodyhash	*body;
};

struct dkim_sign {
	struct dkim_msg	 msg;
	struct ssig	*sigs;
	size_t		 nsigs;
	int		 fed;
};

struct dkim_sign *
dkim_sign_new(void)
{
	struct dkim_sign	*s;

	s = xcalloc(1, sizeof(*s));
	dkim_msg_init(&s->msg, NULL, NULL);
	return s;
}

static int
valid_name(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return n > 0 && n <= 253;
}

int
dkim_sign_add(struct dkim_sign *s, const struct dkim_signer *cfg, char *err,
    size_t errlen)
{
	struct ssig	*sg;
	const char	*ktype, *at;
	enum dkim_alg	 alg = cfg->alg;

	if (s->fed) {
		snprintf(err, errlen, "signers must be added before the "
		    "message");
		return -1;
	}
	if (cfg->key == NULL || (ktype = crypto_key_type(cfg->key)) == NULL) {
		snprintf(err, errlen, "no usable key (RSA or Ed25519)");
		return -1;
	}
	if (alg == DKIM_ALG_NONE)
		alg = strcmp(ktype, "rsa") == 0 ? DKIM_ALG_RSA_SHA256 :
		    DKIM_ALG_ED25519_SHA256;
	if ((alg == DKIM_ALG_ED25519_SHA256) != (strcmp(ktype,
	    "ed25519") == 0)) {
		snprintf(err, errlen, "an %s key cannot make %s signatures",
		    ktype, dkim_alg_name(alg));
		return -1;
	}
	if (alg == DKIM_ALG_RSA_SHA1 && !cfg->allow_sha1) {
		/* RFC 8301 3.1: signers MUST NOT use rsa-sha1. */
		snprintf(err, errlen, "rsa-sha1 must be asked for explicitly "
		    "(RFC 8301 3.1)");
		return -1;
	}
	if (strcmp(ktype, "rsa") == 0 && crypto_key_bits(cfg->key) < 1024 &&
	    !cfg->allow_small_key) {
		/* RFC 8301 3.2: at least 1024 bits, 2048 recommended. */
		snprintf(err, errlen, "RSA key of %d bits is below 1024 "
		    "(RFC 8301 3.2)", crypto_key_bits(cfg->key));
		return -1;
	}
	if (cfg->domain == NULL || !valid_name(cfg->domain) ||
	    cfg->selector == NULL || !valid_name(cfg->selector)) {
		snprintf(err, errlen, "invalid domain or selector");
		return -1;
	}
	if (cfg->identity != NULL) {
		size_t ls, ld = strlen(cfg->domain);

		if ((at = strrchr(cfg->identity, '@')) == NULL ||
		    strpbrk(cfg->identity, " \t\r\n;") != NULL) {
			snprintf(err, errlen, "identity must be "
			    "[local]@domain");
			return -1;
		}
		at++;
		ls = strlen(at);
		/* RFC 6376 3.5: i= within d=. */
		if (!(ls == ld && strcasecmp(at, cfg->domain) == 0) &&
		    !(ls > ld && at[ls - ld - 1] == '.' &&
		    strcasecmp(at + ls - ld, cfg->domain) == 0)) {
			snprintf(err, errlen, "identity domain is not "
			    "within %s", cfg->domain);
			return -1;
		}
	}
	if (cfg->headers != NULL && strpbrk(cfg->headers,
	    " \t\r\n;") != NULL) {
		snprintf(err, errlen, "header list has white space or ';'");
		return -1;
	}
	s->sigs = xreallocarray(s->sigs, s->nsigs + 1, sizeof(*s->sigs));
	sg = &s->sigs[s->nsigs++];
	memset(sg, 0, sizeof(*sg));
	sg->key = cfg->key;
	sg->alg = alg;
	sg->domain = xstrdup(cfg->domain);
	sg->selector = xstrdup(cfg->selector);
	sg->identity = cfg->identity ? xstrdup(cfg->identity) : NULL;
	sg->headers = xstrdup(cfg->headers ? cfg->headers :
	    dkim_default_headers);
	sg->hcanon = cfg->hcanon;
	sg->bcanon = cfg->bcanon;
	sg->no_oversign = cfg->no_oversign;
	sg->body_length = cfg->body_length;
	sg->t = cfg->t == 0 ? time(NULL) : cfg->t;
	sg->expire = cfg->expire;
	sg->body = dkim_msg_bodyhash(&s->msg, sg->bcanon, dkim_alg_md(alg),
	    -1);
	return 0;
}

void
dkim_sign_feed(struct dkim_sign *s, const void *p, size_t len)
{
	s->fed = 1;
	dkim_msg_feed(&s->msg, p, len);
}

static int
is_oversigned(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(oversigned) / sizeof(oversigned[0]); i++)
		if (strcasecmp(name, oversigned[i]) == 0)
			return 1;
	return 0;
}

/* The h= names: each configured name once per instance, plus over-signing. */
void
dkim_sign_names(const struct dkim_msg *m, const char *headers,
    int no_oversign, char ***outp, size_t *np)
{
	char	*list, *p, *name, **out = NULL, *lname;
	size_t	 n = 0, i, j, count, len, k;
	int	 dup, hasfrom = 0;

	list = xstrdup(headers);
	p = list;
	while ((name = strsep(&p, ":")) != NULL) {
		if (*name == '\0')
			continue;
		lname = xstrdup(name);
		for (i = 0; lname[i] != '\0'; i++)
			lname[i] = (char)tolower((unsigned char)lname[i]);
		for (dup = 0, i = 0; i < n; i++)
			if (strcmp(out[i], lname) == 0)
				dup = 1;
		if (dup || n >= DKIM_MAX_HNAMES - 2) {
			free(lname);
			continue;
		}
		if (strcmp(lname, "from") == 0)
			hasfrom = 1;
		for (count = 0, j = 0; j < m->nfields; j++) {
			const char *raw = dkim_msg_field(m, j, &len);

			if (mailhdr_name_is(raw, len, m->fields[j].namelen,
			    lname, strlen(lname)))
				count++;
		}
		if (!no_oversign && is_oversigned(lname))
			count++;
		if (count + n > DKIM_MAX_HNAMES - 2)
			count = DKIM_MAX_HNAMES - 2 - n;
		for (k = 0; k < count; k++) {
			out = xreallocarray(out, n + 1, sizeof(*out));
			out[n++] = xstrdup(lname);
		}
		free(lname);
	}
	free(list);
	if (!hasfrom) {
		/* RFC 6376 5.4: From MUST be signed, whatever was asked. */
		out = xreallocarray(out, n + 1, sizeof(*out));
		memmove(out + 1, out, n * sizeof(*out));
		out[0] = xstrdup("from");
		n++;
	}
	*outp = out;
	*np = n;
}

/* One unbreakable word, after a space or at the start of a new line. */
void
dkim_fold_word(struct dkim_fold *f, const char *w)
{
	size_t	 n = strlen(w);

	if (f->col + 1 + n > FOLD_COLUMNS) {
		buf_addstr(f->b, "\r\n\t");
		f->col = 8;
	} else {
		buf_addstr(f->b, " ");
		f->col++;
	}
	buf_addstr(f->b, w);
	f->col += n;
}

/* Base64 text, broken anywhere (FWS in it is ignored, RFC 6376 3.5). */
void
dkim_fold_b64(struct dkim_fold *f, const char *v, const char *tail)
{
	size_t	 n = strlen(v), room, k, tl = strlen(tail);

	while (n > 0) {
		room = FOLD_COLUMNS > f->col ? FOLD_COLUMNS - f->col : 0;
		if (room <= tl + 1 || (room < n + tl && room < 8)) {
			buf_addstr(f->b, "\r\n\t");
			f->col = 8;
			continue;
		}
		k = n + tl <= room ? n : room;
		buf_add(f->b, v, k);
		f->col += k;
		v += k;
		n -= k;
	}
	buf_addstr(f->b, tail);
	f->col += tl;
}

/* The h= list, broken between names. */
void
dkim_fold_hlist(struct dkim_fold *fd, char *const *names, size_t n)
{
	char	 word[512];
	size_t	 i;

	for (i = 0; i < n; i++) {
		snprintf(word, sizeof(word), "%s%s%s", i == 0 ? "h=" : "",
		    names[i], i + 1 == n ? ";" : ":");
		if (i == 0)
			dkim_fold_word(fd, word);
		else if (fd->col + strlen(word) > FOLD_COLUMNS) {
			buf_addstr(fd->b, "\r\n\t");
			fd->col = 8;
			buf_addstr(fd->b, word);
			fd->col += strlen(word);
		} else {
			buf_addstr(fd->b, word);
			fd->col += strlen(word);
		}
	}
}

void
dkim_names_free(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

int
dkim_sign_finish(struct dkim_fold *fd, const struct dkim_rawfield *fields,
    size_t nfields, enum dkim_canon hcanon, EVP_PKEY *key, enum dkim_alg alg,
    struct buf *out, char *err, size_t errlen)
{
	struct buf	*f = fd->b;
	char		*b = NULL;
	size_t		 siglen = 0;
	uint8_t		 digest[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int	 dlen;
	EVP_PKEY_CTX	*pctx = NULL;
	EVP_MD_CTX	*mctx = NULL;
	int		 rv = -1;

	if (f->len >= DKIM_MAX_FIELD - 1024) {
		snprintf(err, errlen, "signature field too long");
		goto done;
	}
	/* RFC 6376 3.7: the field as it will be, with b= still empty. */
	if (dkim_fields_hash(fields, nfields, (const char *)f->data, f->len,
	    hcanon, dkim_alg_md(alg), digest, &dlen) == -1) {
		snprintf(err, errlen, "header hash failed");
		goto done;
	}
	if (alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: pure Ed25519 over the SHA-256 hash. */
		if ((mctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) != 1 ||
		    EVP_DigestSign(mctx, NULL, &siglen, digest, dlen) != 1)
			goto cryptofail;
		sig = xmalloc(siglen);
		if (EVP_DigestSign(mctx, sig, &siglen, digest, dlen) != 1)
			goto cryptofail;
	} else {
		if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
		    EVP_PKEY_sign_init(pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx,
		    dkim_alg_md(alg)) != 1 ||
		    EVP_PKEY_sign(pctx, NULL, &siglen, digest, dlen) != 1)
			goto cryptofail;
		sig = xmalloc(siglen);
		if (EVP_PKEY_sign(pctx, sig, &siglen, digest, dlen) != 1)
			goto cryptofail;
	}
	b = b64_encode(sig, siglen);
	dkim_fold_b64(fd, b, "");
	if (buf_add(out, f->data, f->len) == -1 ||
	    buf_add(out, "\r\n", 2) == -1) {
		snprintf(err, errlen, "output too long");
		goto done;
	}
	rv = 0;
	goto done;
 cryptofail:
	snprintf(err, errlen, "signing with the %s key failed",
	    crypto_key_type(key));
	ERR_clear_error();
 done:
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_CTX_free(mctx);
	free(sig);
	free(b);
	return rv;
}

static int
sign_one(struct dkim_sign *s, struct ssig *sg, struct buf *out, char *err,
    size_t errlen)
{
	struct buf		 f;
	struct dkim_fold	 fd;
	struct dkim_rawfield	*fields = NULL;
	char			**names = NULL, *bh = NULL, word[512];
	size_t			 nnames = 0, nfields;
	int			 rv;

	buf_init(&f, DKIM_MAX_FIELD);
	fd.b = &f;
	buf_addstr(&f, "DKIM-Signature:");
	fd.col = f.len;
	dkim_fold_word(&fd, "v=1;");
	snprintf(word, sizeof(word), "a=%s;", dkim_alg_name(sg->alg));
	dkim_fold_word(&fd, word);
	snprintf(word, sizeof(word), "c=%s/%s;",
	    sg->hcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple",
	    sg->bcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple");
	dkim_fold_word(&fd, word);
	snprintf(word, sizeof(word), "d=%s;", sg->domain);
	dkim_fold_word(&fd, word);
	snprintf(word, sizeof(word), "s=%s;", sg->selector);
	dkim_fold_word(&fd, word);
	if (sg->identity != NULL) {
		snprintf(word, sizeof(word), "i=%s;", sg->identity);
		dkim_fold_word(&fd, word);
	}
	if (sg->t != -1) {
		snprintf(word, sizeof(word), "t=%lld;", (long long)sg->t);
		dkim_fold_word(&fd, word);
	}
	if (sg->expire > 0) {
		snprintf(word, sizeof(word), "x=%lld;", (long long)
		    ((sg->t != -1 ? sg->t : time(NULL)) + sg->expire));
		dkim_fold_word(&fd, word);
	}
	if (sg->body_length) {
		snprintf(word, sizeof(word), "l=%llu;",
		    (unsigned long long)sg->body->total);
		dkim_fold_word(&fd, word);
	}
	dkim_sign_names(&s->msg, sg->headers, sg->no_oversign, &names,
	    &nnames);
	dkim_fold_hlist(&fd, names, nnames);
	bh = b64_encode(sg->body->digest, sg->body->dlen);
	dkim_fold_word(&fd, "bh=");
	dkim_fold_b64(&fd, bh, ";");
	dkim_fold_word(&fd, "b=");
	fields = xcalloc(nnames + 1, sizeof(*fields));
	nfields = dkim_select_fields(&s->msg, names, nnames, DKIM_NO_FIELD,
	    fields);
	rv = dkim_sign_finish(&fd, fields, nfields, sg->hcanon, sg->key,
	    sg->alg, out, err, errlen);
	free(fields);
	free(bh);
	dkim_names_free(names, nnames);
	buf_free(&f);
	return rv;
}

int
dkim_sign_end(struct dkim_sign *s, struct buf *out, char *err, size_t errlen)
{
	size_t	 i;

	dkim_msg_end(&s->msg);
	if (s->msg.overflow) {
		snprintf(err, errlen, "header section exceeds limits");
		return -1;
	}
	for (i = 0; i < s->nsigs; i++)
		if (sign_one(s, &s->sigs[i], out, err, errlen) == -1)
			return -1;
	return 0;
}

void
dkim_sign_free(struct dkim_sign *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsigs; i++) {
		free(s->sigs[i].domain);
		free(s->sigs[i].selector);
		free(s->sigs[i].identity);
		free(s->sigs[i].headers);
	}
	free(s->sigs);
	dkim_msg_free(&s->msg);
	free(s);
}

char *
dkim_key_record(EVP_PKEY *pk)
{
	const char	*kt = crypto_key_type(pk);
	char		*p, *rec;

	if (kt == NULL || (p = crypto_dkim_pubkey_b64(pk)) == NULL)
		return NULL;
	xasprintf(&rec, "v=DKIM1; k=%s; p=%s", kt, p);
	free(p);
	return rec;
}

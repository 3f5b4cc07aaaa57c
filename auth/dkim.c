/*
 * DKIM verification (RFC 6376 sections 3, 6; RFC 8301; RFC 8463): the
 * DKIM-Signature and key record checks and the signature verification.
 * Canonicalization and hashing shared with signing are in dkim_canon.c.
 *
 * Deliberately not here: DNS (the caller looks keys up and hands the TXT
 * records in), policy on top of results (DMARC, ADSP), and the optional
 * z= copied-header diagnostics (parsed for syntax, otherwise ignored).
 *
 * Result mapping (RFC 8601 2.7.1 names for RFC 6376 PERMFAIL/TEMPFAIL):
 *  - a signature that is malformed or unusable before any cryptography
 *    (6.1.1: tag syntax, missing or duplicate tags, v, a, c, h without
 *    From, i= outside d=, q=, expired x=, future t=) and key records that
 *    are absent or unusable (6.1.2: NXDOMAIN, syntax, revoked empty p=,
 *    k=/h=/s=/t=s mismatches): permerror;
 *  - l= larger than the canonicalized body: permerror, because the
 *    signature claims bytes that do not exist (3.5), not a hash mismatch;
 *  - body hash or signature mismatch (6.1.3): fail;
 *  - a good signature whose l= is shorter than the body: pass, with a
 *    comment saying how much of the body it covers, because the rest is
 *    anybody's text (8.2); with opts.fail_partial_body, fail: 3.5 lets
 *    a verifier treat the unsigned content as making the signature
 *    invalid ("PERMFAIL (unsigned content)"), and the signer's claim
 *    did not survive as a statement about the message as received;
 *  - rsa-sha1 when not enabled (RFC 8301 3.1), RSA keys under 1024 bits
 *    (RFC 8301 3.2), signatures beyond the per-message limit: policy, since
 *    those are local refusals of otherwise well-formed signatures;
 *  - DNS SERVFAIL, timeout or DNSSEC-bogus key answers: temperror.
 */
#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "auth/dkim.h"
#include "log.h"
#include "mailhdr.h"
#include "util.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

/*
 * Verification.
 */

struct vsig {
	size_t			 field;
	int			 decided;	/* result final before keys */
	enum dkim_alg		 alg;
	enum dkim_canon		 hcanon;
	enum dkim_canon		 bcanon;
	char			**hnames;
	size_t			 nhnames;
	uint8_t			*bh;
	size_t			 bhlen;
	uint8_t			*sig;
	size_t			 siglen;
	char			*idomain;	/* domain part of i= */
	size_t			 brawstart;	/* b= value span in the field */
	size_t			 brawend;
	struct dkim_bodyhash	*body;
	size_t			 key;
};

struct dkim_verify {
	struct dkim_verify_opts	 opts;
	struct dkim_msg		 msg;
	struct vsig		*sigs;
	struct dkim_sigresult	*res;
	size_t			 nsigs;
	size_t			 total;
	struct dkim_keyset	 keys;
	int			 ended;
	int			 finished;
};

static void
set_result(struct dkim_sigresult *r, enum dkim_result result,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_result(struct dkim_sigresult *r, enum dkim_result result,
    const char *fmt, ...)
{
	va_list	 ap;

	r->result = result;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static char *
tag_dup(const struct mailhdr_tag *t)
{
	return xstrndup(t->value, t->valuelen);
}

/* A DNS name of LDH-and-underscore labels (RFC 6376 3.5 d= and s=). */
int
dkim_valid_domain(const char *s, int allow_underscore)
{
	size_t	 label = 0, n = 0;

	for (; *s != '\0'; s++, n++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' &&
		    !(allow_underscore && *s == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return n > 0 && n <= 253 && label > 0;
}

/* RFC 6376 3.5: is the i= domain d= or a subdomain of it? */
static int
domain_within(const char *sub, const char *d)
{
	size_t	 ls = strlen(sub), ld = strlen(d);

	if (ls == ld)
		return strcasecmp(sub, d) == 0;
	return ls > ld && sub[ls - ld - 1] == '.' &&
	    strcasecmp(sub + ls - ld, d) == 0;
}

/* Parse decimal digits (at most maxdigits) into a non-negative value. */
int
dkim_parse_num(const struct mailhdr_tag *t, size_t maxdigits, long long *out)
{
	long long	 v = 0;
	size_t		 i;

	if (t->valuelen == 0 || t->valuelen > maxdigits)
		return -1;
	for (i = 0; i < t->valuelen; i++) {
		if (!isdigit((unsigned char)t->value[i]))
			return -1;
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (t->value[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Split a colon list (FWS allowed around the colons) into names.  The
 * pointers and the names share one allocation: free(*outp) frees all.
 */
int
dkim_split_colon_list(const char *v, size_t vlen, size_t max, char ***outp,
    size_t *np)
{
	char	*s, *p, *tok, **out;
	size_t	 n = 1, i, len;

	s = mailhdr_strip_fws(v, vlen);
	len = strlen(s);
	for (i = 0; i < len; i++)
		if (s[i] == ':')
			n++;
	if (n > max) {
		free(s);
		return -1;
	}
	out = xmalloc(n * sizeof(*out) + len + 1);
	p = (char *)(out + n);
	memcpy(p, s, len + 1);
	free(s);
	n = 0;
	while ((tok = strsep(&p, ":")) != NULL) {
		if (*tok == '\0') {
			free(out);
			return -1;
		}
		out[n++] = tok;
	}
	*outp = out;
	*np = n;
	return 0;
}

static void
free_list(char **l, size_t n)
{
	while (n > 0)
		free(l[--n]);
	free(l);
}

static int
list_has(const char *v, size_t vlen, const char *want)
{
	char	**l;
	size_t	 n, i;
	int	 found = 0;

	if (dkim_split_colon_list(v, vlen, 64, &l, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (strcasecmp(l[i], want) == 0)
			found = 1;
	free(l);
	return found;
}

size_t
dkim_keyset_index(struct dkim_keyset *ks, const char *d, const char *s)
{
	char	*name;
	size_t	 i;

	xasprintf(&name, "%s._domainkey.%s", s, d);
	for (i = 0; i < ks->n; i++)
		if (strcasecmp(ks->slot[i].name, name) == 0) {
			free(name);
			return i;
		}
	ks->slot = xreallocarray(ks->slot, ks->n + 1, sizeof(*ks->slot));
	memset(&ks->slot[ks->n], 0, sizeof(*ks->slot));
	ks->slot[ks->n].name = name;
	return ks->n++;
}

void
dkim_keyset_set(struct dkim_keyset *ks, size_t k, enum dkim_dns dns,
    enum dkim_dnssec sec, const char *const *records, const size_t *lens,
    size_t nrecords)
{
	struct dkim_keyslot	*key;
	size_t			 i;

	if (k >= ks->n)
		return;
	key = &ks->slot[k];
	free_list(key->rec, key->nrec);
	free(key->reclen);
	key->rec = NULL;
	key->reclen = NULL;
	key->nrec = 0;
	key->set = 1;
	key->dns = dns;
	key->dnssec = sec;
	if (dns != DKIM_DNS_OK)
		return;
	if (nrecords > DKIM_MAX_KEYRECORDS)
		nrecords = DKIM_MAX_KEYRECORDS;
	key->rec = xcalloc(nrecords + 1, sizeof(*key->rec));
	key->reclen = xcalloc(nrecords + 1, sizeof(*key->reclen));
	for (i = 0; i < nrecords; i++) {
		/* An oversized record is kept empty: it will not parse. */
		if (lens[i] > DKIM_MAX_KEYRECORD) {
			key->rec[i] = xstrdup("");
			key->reclen[i] = 0;
		} else {
			key->rec[i] = xmalloc(lens[i] + 1);
			memcpy(key->rec[i], records[i], lens[i]);
			key->rec[i][lens[i]] = '\0';
			key->reclen[i] = lens[i];
		}
	}
	key->nrec = nrecords;
}

void
dkim_keyset_free(struct dkim_keyset *ks)
{
	size_t	 i;

	for (i = 0; i < ks->n; i++) {
		free(ks->slot[i].name);
		free_list(ks->slot[i].rec, ks->slot[i].nrec);
		free(ks->slot[i].reclen);
	}
	free(ks->slot);
	ks->slot = NULL;
	ks->n = 0;
}

/*
 * The tags a result reports (d=, s=, a=, b=, h=), copied before anything
 * is checked so that even a rejected signature says whose it was.
 */
static void
verify_sig_report_tags(const struct mailhdr_tag *tags, size_t ntags,
    struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;

	if ((t = mailhdr_tag_find(tags, ntags, "d")) != NULL)
		r->d = tag_dup(t);
	if ((t = mailhdr_tag_find(tags, ntags, "s")) != NULL)
		r->s = tag_dup(t);
	if ((t = mailhdr_tag_find(tags, ntags, "a")) != NULL)
		r->a = tag_dup(t);
	if ((t = mailhdr_tag_find(tags, ntags, "b")) != NULL)
		r->b = mailhdr_strip_fws(t->value, t->valuelen);
	if ((t = mailhdr_tag_find(tags, ntags, "h")) != NULL)
		r->h = mailhdr_strip_fws(t->value, t->valuelen);
}

/* RFC 6376 3.5: the required tags are present and v=1. */
static int
verify_sig_required(const struct mailhdr_tag *tags, size_t ntags,
    struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;
	size_t			 i;
	static const char *const required[] =
	    { "v", "a", "b", "bh", "d", "h", "s" };

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (mailhdr_tag_find(tags, ntags, required[i]) == NULL) {
			set_result(r, DKIM_PERMERROR, "missing required tag "
			    "%s=", required[i]);
			return -1;
		}
	t = mailhdr_tag_find(tags, ntags, "v");
	if (t->valuelen != 1 || t->value[0] != '1') {
		set_result(r, DKIM_PERMERROR, "unsupported version v=%.*s",
		    (int)(t->valuelen > 16 ? 16 : t->valuelen), t->value);
		return -1;
	}
	return 0;
}

/* a=, and RFC 6376 3.5 c=: "simple" when c= or its body half is absent. */
static int
verify_sig_algorithms(const struct mailhdr_tag *tags, size_t ntags,
    struct vsig *sg, struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;
	char			*c, *slash;
	int			 ok = 1;

	t = mailhdr_tag_find(tags, ntags, "a");
	if ((sg->alg = dkim_alg_from_name(t->value, t->valuelen)) ==
	    DKIM_ALG_NONE) {
		set_result(r, DKIM_PERMERROR, "unknown algorithm a=%.*s",
		    (int)(t->valuelen > 32 ? 32 : t->valuelen), t->value);
		return -1;
	}
	sg->hcanon = sg->bcanon = DKIM_CANON_SIMPLE;
	if ((t = mailhdr_tag_find(tags, ntags, "c")) != NULL) {
		c = tag_dup(t);
		if ((slash = strchr(c, '/')) != NULL)
			*slash++ = '\0';
		if (strcmp(c, "relaxed") == 0)
			sg->hcanon = DKIM_CANON_RELAXED;
		else if (strcmp(c, "simple") != 0)
			ok = 0;
		if (slash != NULL) {
			if (strcmp(slash, "relaxed") == 0)
				sg->bcanon = DKIM_CANON_RELAXED;
			else if (strcmp(slash, "simple") != 0)
				ok = 0;
		}
		free(c);
		if (!ok) {
			set_result(r, DKIM_PERMERROR, "unknown "
			    "canonicalization c=%.*s",
			    (int)(t->valuelen > 32 ? 32 : t->valuelen),
			    t->value);
			return -1;
		}
	}
	snprintf(r->canon, sizeof(r->canon), "%s/%s",
	    sg->hcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple",
	    sg->bcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple");
	return 0;
}

/* h=: the signed field names, which must include From. */
static int
verify_sig_signed_fields(const struct mailhdr_tag *tags, size_t ntags,
    struct vsig *sg, struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;
	const unsigned char	*c;
	size_t			 i;
	int			 hasfrom = 0;

	t = mailhdr_tag_find(tags, ntags, "h");
	if (dkim_split_colon_list(t->value, t->valuelen, DKIM_MAX_HNAMES,
	    &sg->hnames, &sg->nhnames) == -1) {
		set_result(r, DKIM_PERMERROR, "h= is empty, malformed or "
		    "lists more than %d names", DKIM_MAX_HNAMES);
		return -1;
	}
	for (i = 0; i < sg->nhnames; i++) {
		for (c = (unsigned char *)sg->hnames[i]; *c != '\0'; c++)
			if (*c < 33 || *c > 126) {
				set_result(r, DKIM_PERMERROR, "h= has an "
				    "invalid field name");
				return -1;
			}
		if (strcasecmp(sg->hnames[i], "from") == 0)
			hasfrom = 1;
	}
	if (!hasfrom) {
		/* RFC 6376 6.1.1, 5.4: From MUST be signed. */
		set_result(r, DKIM_PERMERROR, "From field not signed (h=)");
		return -1;
	}
	return 0;
}

/* RFC 6376 3.5 i=: the AUID, "@" d= by default. */
static int
verify_sig_auid(const struct mailhdr_tag *tags, size_t ntags,
    struct vsig *sg, struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;
	const char		*at;

	if ((t = mailhdr_tag_find(tags, ntags, "i")) == NULL) {
		xasprintf(&r->i, "@%s", r->d);
		sg->idomain = xstrdup(r->d);
		return 0;
	}
	r->i = tag_dup(t);
	if ((at = strrchr(r->i, '@')) == NULL || !dkim_valid_domain(at + 1,
	    1)) {
		set_result(r, DKIM_PERMERROR, "malformed i= identity");
		return -1;
	}
	/* RFC 6376 6.1.1: i= must be d= or a subdomain of it. */
	if (!domain_within(at + 1, r->d)) {
		set_result(r, DKIM_PERMERROR, "i= domain %s is not "
		    "within d=%s", at + 1, r->d);
		return -1;
	}
	sg->idomain = xstrdup(at + 1);
	return 0;
}

/* l=, t= and x= (-1 when absent), and whether the signature is current. */
static int
verify_sig_length_times(const struct mailhdr_tag *tags, size_t ntags,
    time_t now, struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;
	long long		 num;

	/* RFC 6651 3.1: r=y, the signer asks for failure reports */
	r->report = (t = mailhdr_tag_find(tags, ntags, "r")) != NULL &&
	    t->valuelen == 1 && t->value[0] == 'y';
	r->l = -1;
	if ((t = mailhdr_tag_find(tags, ntags, "l")) != NULL) {
		/* RFC 6376 3.5: up to 76 digits; anything above 2^63 is
		 * more than any message we accept anyway. */
		if (dkim_parse_num(t, 18, &num) == -1) {
			set_result(r, DKIM_PERMERROR, "malformed or huge l=");
			return -1;
		}
		r->l = num;
	}
	r->t = r->x = -1;
	if ((t = mailhdr_tag_find(tags, ntags, "t")) != NULL) {
		if (dkim_parse_num(t, 12, &num) == -1) {
			set_result(r, DKIM_PERMERROR, "malformed t=");
			return -1;
		}
		r->t = (time_t)num;
	}
	if ((t = mailhdr_tag_find(tags, ntags, "x")) != NULL) {
		if (dkim_parse_num(t, 12, &num) == -1) {
			set_result(r, DKIM_PERMERROR, "malformed x=");
			return -1;
		}
		r->x = (time_t)num;
		/* RFC 6376 3.5: x= MUST be greater than t=. */
		if (r->t != -1 && r->x < r->t) {
			set_result(r, DKIM_PERMERROR, "x= is before t=");
			return -1;
		}
		/* RFC 6376 6.1.1: PERMFAIL (signature expired). */
		if (now > r->x) {
			set_result(r, DKIM_PERMERROR, "signature expired "
			    "(x=%lld, %lld seconds ago)", (long long)r->x,
			    (long long)(now - r->x));
			return -1;
		}
	}
	if (r->t != -1 && r->t > now + DKIM_CLOCK_SKEW) {
		set_result(r, DKIM_PERMERROR, "signature timestamp t= is %lld "
		    "seconds in the future", (long long)(r->t - now));
		return -1;
	}
	return 0;
}

/*
 * bh= and b= decoded; b='s place in the field (valoff: where the value
 * starts in the raw field) is kept so the signed copy can empty it.
 */
static int
verify_sig_hashes(const struct mailhdr_tag *tags, size_t ntags,
    size_t valoff, struct vsig *sg, struct dkim_sigresult *r)
{
	const struct mailhdr_tag *t;

	t = mailhdr_tag_find(tags, ntags, "bh");
	if (b64_decode(t->value, t->valuelen, &sg->bh, &sg->bhlen) == -1) {
		set_result(r, DKIM_PERMERROR, "bh= is not valid base64");
		return -1;
	}
	if (sg->bhlen != (size_t)EVP_MD_get_size(dkim_alg_md(sg->alg))) {
		set_result(r, DKIM_PERMERROR, "bh= has %zu bytes, not a %s "
		    "digest", sg->bhlen, dkim_alg_name(sg->alg));
		return -1;
	}
	t = mailhdr_tag_find(tags, ntags, "b");
	if (b64_decode(t->value, t->valuelen, &sg->sig, &sg->siglen) == -1 ||
	    sg->siglen == 0) {
		set_result(r, DKIM_PERMERROR, "b= is empty or not valid "
		    "base64");
		return -1;
	}
	sg->brawstart = valoff + t->rawstart;
	sg->brawend = valoff + t->rawend;
	return 0;
}

/*
 * RFC 6376 6.1.1: validate one DKIM-Signature field.  The checks run in
 * the RFC's order and the first that fails decides the result; a usable
 * signature leaves sg undecided, with its body hash and key lookup wanted.
 */
static void
verify_parse_sig(struct dkim_verify *v, struct vsig *sg,
    struct dkim_sigresult *r)
{
	struct mailhdr_tag	 tags[MAILHDR_MAX_TAGS];
	const struct mailhdr_tag *t;
	const char		*raw, *val;
	char			 err[128];
	size_t			 len, vlen, ntags;
	int			 n;

	raw = dkim_msg_field(&v->msg, sg->field, &len);
	val = mailhdr_value(raw, len, &vlen);
	sg->decided = 1;
	if ((n = mailhdr_taglist(val, vlen, tags, MAILHDR_MAX_TAGS, err,
	    sizeof(err))) == -1) {
		set_result(r, DKIM_PERMERROR, "signature syntax: %s", err);
		return;
	}
	ntags = n;
	verify_sig_report_tags(tags, ntags, r);
	if (verify_sig_required(tags, ntags, r) == -1 ||
	    verify_sig_algorithms(tags, ntags, sg, r) == -1)
		return;
	if (!dkim_valid_domain(r->d, 1)) {
		set_result(r, DKIM_PERMERROR, "invalid d= domain");
		return;
	}
	if (!dkim_valid_domain(r->s, 1)) {
		set_result(r, DKIM_PERMERROR, "invalid s= selector");
		return;
	}
	if (verify_sig_signed_fields(tags, ntags, sg, r) == -1 ||
	    verify_sig_auid(tags, ntags, sg, r) == -1)
		return;
	if ((t = mailhdr_tag_find(tags, ntags, "q")) != NULL &&
	    !list_has(t->value, t->valuelen, "dns/txt")) {
		set_result(r, DKIM_PERMERROR, "no supported query method "
		    "in q=");
		return;
	}
	if (verify_sig_length_times(tags, ntags, v->opts.now, r) == -1 ||
	    verify_sig_hashes(tags, ntags, (size_t)(val - raw), sg, r) == -1)
		return;
	if (sg->alg == DKIM_ALG_RSA_SHA1 && !v->opts.allow_sha1) {
		set_result(r, DKIM_POLICY, "rsa-sha1 is not accepted "
		    "(RFC 8301 3.1)");
		return;
	}
	/* Usable: body hash now, key lookup wanted. */
	sg->decided = 0;
	sg->body = dkim_msg_bodyhash(&v->msg, sg->bcanon,
	    dkim_alg_md(sg->alg), r->l);
	sg->key = dkim_keyset_index(&v->keys, r->d, r->s);
}

static void
verify_on_header(void *arg)
{
	struct dkim_verify	*v = arg;
	const char		*raw;
	size_t			 i, len;

	for (i = 0; i < v->msg.nfields; i++) {
		raw = dkim_msg_field(&v->msg, i, &len);
		if (!mailhdr_name_is(raw, len, v->msg.fields[i].namelen,
		    "DKIM-Signature", 14))
			continue;
		if (v->total++ >= DKIM_MAX_RESULTS)
			continue;
		v->sigs = xreallocarray(v->sigs, v->nsigs + 1,
		    sizeof(*v->sigs));
		v->res = xreallocarray(v->res, v->nsigs + 1, sizeof(*v->res));
		memset(&v->sigs[v->nsigs], 0, sizeof(*v->sigs));
		memset(&v->res[v->nsigs], 0, sizeof(*v->res));
		v->sigs[v->nsigs].field = i;
		v->res[v->nsigs].l = -1;
		v->res[v->nsigs].body_len = -1;
		v->res[v->nsigs].t = v->res[v->nsigs].x = -1;
		v->res[v->nsigs].body_ok = -1;
		if (v->msg.overflow) {
			v->sigs[v->nsigs].decided = 1;
			set_result(&v->res[v->nsigs], DKIM_PERMERROR,
			    "header section exceeds limits (%d fields, %d "
			    "bytes, %d per field)", DKIM_MAX_FIELDS,
			    DKIM_MAX_HEADER, DKIM_MAX_FIELD);
		} else if (v->nsigs >= v->opts.max_sigs) {
			v->sigs[v->nsigs].decided = 1;
			set_result(&v->res[v->nsigs], DKIM_POLICY,
			    "not evaluated: more than %u signatures",
			    v->opts.max_sigs);
		} else
			verify_parse_sig(v, &v->sigs[v->nsigs],
			    &v->res[v->nsigs]);
		v->nsigs++;
	}
}

struct dkim_verify *
dkim_verify_new(const struct dkim_verify_opts *opts)
{
	struct dkim_verify	*v;

	v = xcalloc(1, sizeof(*v));
	if (opts != NULL)
		v->opts = *opts;
	if (v->opts.max_sigs == 0)
		v->opts.max_sigs = DKIM_MAX_SIGS_DEFAULT;
	if (v->opts.now == 0)
		v->opts.now = time(NULL);
	if (v->opts.min_rsa_bits == 0)
		v->opts.min_rsa_bits = 1024;
	dkim_msg_init(&v->msg, verify_on_header, v);
	return v;
}

void
dkim_verify_feed(struct dkim_verify *v, const void *p, size_t len)
{
	dkim_msg_feed(&v->msg, p, len);
}

int
dkim_verify_header_done(const struct dkim_verify *v)
{
	return v->msg.header_done;
}

size_t
dkim_verify_nkeys(const struct dkim_verify *v)
{
	return v->keys.n;
}

const char *
dkim_verify_keyname(const struct dkim_verify *v, size_t k)
{
	return k < v->keys.n ? v->keys.slot[k].name : NULL;
}

void
dkim_verify_set_key(struct dkim_verify *v, size_t k, enum dkim_dns dns,
    enum dkim_dnssec sec, const char *const *records, const size_t *lens,
    size_t nrecords)
{
	dkim_keyset_set(&v->keys, k, dns, sec, records, lens, nrecords);
}

void
dkim_verify_end(struct dkim_verify *v)
{
	if (v->ended)
		return;
	v->ended = 1;
	dkim_msg_end(&v->msg);
}

/* A parsed key record (RFC 6376 3.6.1). */
struct dkim_keyrec {
	char		 ktype[16];
	int		 h_sha1;
	int		 h_sha256;
	int		 testing;
	int		 strict;
	int		 revoked;
	uint8_t		*p;
	size_t		 plen;
};

static int
keyrec_parse(const char *s, size_t len, struct dkim_keyrec *kr, char *err,
    size_t errlen)
{
	struct mailhdr_tag	 tags[MAILHDR_MAX_TAGS];
	const struct mailhdr_tag *t;
	char			 perr[128];
	int			 ntags;

	memset(kr, 0, sizeof(*kr));
	strlcpy(kr->ktype, "rsa", sizeof(kr->ktype));
	kr->h_sha1 = kr->h_sha256 = 1;
	if (memchr(s, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in key record");
		return -1;
	}
	if ((ntags = mailhdr_taglist(s, len, tags, MAILHDR_MAX_TAGS, perr,
	    sizeof(perr))) == -1) {
		snprintf(err, errlen, "key record syntax: %s", perr);
		return -1;
	}
	/* RFC 6376 3.6.1: v= is optional, but if present it comes first. */
	if ((t = mailhdr_tag_find(tags, ntags, "v")) != NULL) {
		if (t != &tags[0]) {
			snprintf(err, errlen, "key record v= is not the "
			    "first tag");
			return -1;
		}
		if (t->valuelen != 5 || memcmp(t->value, "DKIM1", 5) != 0) {
			snprintf(err, errlen, "key record version is not "
			    "DKIM1");
			return -1;
		}
	}
	if ((t = mailhdr_tag_find(tags, ntags, "k")) != NULL) {
		if (t->valuelen >= sizeof(kr->ktype)) {
			snprintf(err, errlen, "unknown key type k=");
			return -1;
		}
		memcpy(kr->ktype, t->value, t->valuelen);
		kr->ktype[t->valuelen] = '\0';
		if (strcmp(kr->ktype, "rsa") != 0 &&
		    strcmp(kr->ktype, "ed25519") != 0) {
			snprintf(err, errlen, "unknown key type k=%s",
			    kr->ktype);
			return -1;
		}
	}
	if ((t = mailhdr_tag_find(tags, ntags, "h")) != NULL) {
		kr->h_sha1 = list_has(t->value, t->valuelen, "sha1");
		kr->h_sha256 = list_has(t->value, t->valuelen, "sha256");
	}
	if ((t = mailhdr_tag_find(tags, ntags, "s")) != NULL &&
	    !list_has(t->value, t->valuelen, "*") &&
	    !list_has(t->value, t->valuelen, "email")) {
		snprintf(err, errlen, "key service type s= excludes email");
		return -1;
	}
	if ((t = mailhdr_tag_find(tags, ntags, "t")) != NULL) {
		kr->testing = list_has(t->value, t->valuelen, "y");
		kr->strict = list_has(t->value, t->valuelen, "s");
	}
	if ((t = mailhdr_tag_find(tags, ntags, "p")) == NULL) {
		snprintf(err, errlen, "key record has no p=");
		return -1;
	}
	if (t->valuelen == 0) {
		kr->revoked = 1;
		return 0;
	}
	if (b64_decode(t->value, t->valuelen, &kr->p, &kr->plen) == -1) {
		snprintf(err, errlen, "key p= is not valid base64");
		return -1;
	}
	return 0;
}

static int
sig_check(const struct vsig *sg, EVP_PKEY *pk, const uint8_t *digest,
    unsigned int dlen)
{
	/*
	 * RFC 6376 3.3.1 RSASSA-PKCS1-v1_5 with the given hash, RFC 8463 3
	 * Ed25519 over the SHA-256 hash.
	 */
	return crypto_verify_digest(pk, dkim_alg_md(sg->alg), sg->sig,
	    sg->siglen, digest, dlen);
}

enum dkim_result
dkim_key_load(const struct dkim_keyslot *key, enum dkim_alg alg,
    const char *d, const char *idomain, int min_rsa_bits, EVP_PKEY **pkp,
    struct dkim_keyinfo *ki, char *reason, size_t reasonlen)
{
	struct dkim_keyrec	 kr;
	EVP_PKEY		*pk = NULL;
	const char		*want;
	char			 err[160] = "", err1[160];
	enum dkim_result	 res = DKIM_PERMERROR;
	size_t			 i;
	int			 found = 0;

	*pkp = NULL;
	memset(ki, 0, sizeof(*ki));
	if (!key->set) {
		snprintf(reason, reasonlen, "no answer for key %s", key->name);
		return DKIM_TEMPERROR;
	}
	if (key->dns == DKIM_DNS_TEMPFAIL) {
		snprintf(reason, reasonlen, "key lookup %s failed "
		    "temporarily", key->name);
		return DKIM_TEMPERROR;
	}
	if (key->dnssec == DKIM_DNSSEC_BOGUS) {
		snprintf(reason, reasonlen, "key %s: DNSSEC validation "
		    "failed (bogus)", key->name);
		return DKIM_TEMPERROR;
	}
	if (key->dns == DKIM_DNS_NXDOMAIN || key->nrec == 0) {
		snprintf(reason, reasonlen, "no key: %s %s", key->name,
		    key->dns == DKIM_DNS_NXDOMAIN ? "does not exist" :
		    "has no TXT record");
		return DKIM_PERMERROR;
	}
	for (i = 0; i < key->nrec && !found; i++) {
		if (keyrec_parse(key->rec[i], key->reclen[i], &kr, err1,
		    sizeof(err1)) == 0)
			found = 1;
		else if (err[0] == '\0')
			strlcpy(err, err1, sizeof(err));
	}
	if (!found) {
		snprintf(reason, reasonlen, "%s", err);
		return DKIM_PERMERROR;
	}
	ki->testing = kr.testing;
	ki->keytype = strcmp(kr.ktype, "rsa") == 0 ? "rsa" : "ed25519";
	if (kr.revoked) {
		/* RFC 6376 3.6.1, 6.1.2: empty p= means revoked. */
		snprintf(reason, reasonlen, "key revoked (empty p=)");
		goto out;
	}
	want = alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa";
	if (strcmp(kr.ktype, want) != 0) {
		snprintf(reason, reasonlen, "key type k=%s does not match "
		    "a=%s", kr.ktype, dkim_alg_name(alg));
		goto out;
	}
	if ((alg == DKIM_ALG_RSA_SHA1 && !kr.h_sha1) ||
	    (alg != DKIM_ALG_RSA_SHA1 && !kr.h_sha256)) {
		snprintf(reason, reasonlen, "key h= does not allow %s",
		    alg == DKIM_ALG_RSA_SHA1 ? "sha1" : "sha256");
		goto out;
	}
	/* RFC 6376 3.6.1 t=s: the i= domain must be d= itself. */
	if (kr.strict && idomain != NULL && strcasecmp(idomain, d) != 0) {
		snprintf(reason, reasonlen, "key t=s forbids i= subdomain "
		    "%s of d=%s", idomain, d);
		goto out;
	}
	if ((pk = crypto_dkim_pubkey(kr.ktype, kr.p, kr.plen)) == NULL) {
		snprintf(reason, reasonlen, "key p= is not a valid %s "
		    "public key", kr.ktype);
		goto out;
	}
	ki->keybits = crypto_key_bits(pk);
	if (alg != DKIM_ALG_ED25519_SHA256 && ki->keybits < min_rsa_bits) {
		snprintf(reason, reasonlen, "RSA key of %d bits is below %d "
		    "(RFC 8301 3.2)", ki->keybits, min_rsa_bits);
		res = DKIM_POLICY;
		goto out;
	}
	*pkp = pk;
	pk = NULL;
	res = DKIM_PASS;
 out:
	EVP_PKEY_free(pk);
	free(kr.p);
	return res;
}

static void
verify_one(struct dkim_verify *v, struct vsig *sg, struct dkim_sigresult *r)
{
	struct dkim_keyslot	*key = &v->keys.slot[sg->key];
	struct dkim_keyinfo	 ki;
	EVP_PKEY		*pk = NULL;
	enum dkim_result	 kres;
	const char		*raw;
	char			 reason[sizeof(r->reason)];
	char			*blank;
	uint8_t			 digest[EVP_MAX_MD_SIZE];
	unsigned int		 dlen;
	size_t			 len;

	r->dnssec = key->dnssec;
	kres = dkim_key_load(key, sg->alg, r->d, sg->idomain,
	    v->opts.min_rsa_bits, &pk, &ki, reason, sizeof(reason));
	r->testing = ki.testing;
	r->keytype = ki.keytype;
	r->keybits = ki.keybits;
	r->body_len = sg->body->total > LLONG_MAX ? LLONG_MAX :
	    (long long)sg->body->total;
	if (kres != DKIM_PASS) {
		set_result(r, kres, "%s", reason);
		return;
	}
	if (r->l >= 0 && (uint64_t)r->l > sg->body->total) {
		set_result(r, DKIM_PERMERROR, "l=%lld is longer than the "
		    "canonicalized body (%llu bytes)", r->l,
		    (unsigned long long)sg->body->total);
		goto out;
	}
	r->body_ok = sg->body->dlen == sg->bhlen &&
	    memcmp(sg->body->digest, sg->bh, sg->bhlen) == 0;
	if (!r->body_ok) {
		set_result(r, DKIM_FAIL, "body hash did not verify");
		goto out;
	}
	raw = dkim_msg_field(&v->msg, sg->field, &len);
	blank = xmalloc(len + 1);
	memcpy(blank, raw, sg->brawstart);
	memcpy(blank + sg->brawstart, raw + sg->brawend, len - sg->brawend);
	len = sg->brawstart + (len - sg->brawend);
	if (dkim_header_hash(&v->msg, sg->hnames, sg->nhnames, sg->field,
	    blank, len, sg->hcanon, dkim_alg_md(sg->alg), digest,
	    &dlen) == -1) {
		free(blank);
		set_result(r, DKIM_PERMERROR, "header hash failed");
		goto out;
	}
	free(blank);
	if (!sig_check(sg, pk, digest, dlen)) {
		set_result(r, DKIM_FAIL, "signature did not verify");
		goto out;
	}
	if (r->l >= 0 && (uint64_t)r->l < sg->body->total) {
		/* RFC 6376 8.2: what follows l= is not the signer's. */
		if (v->opts.fail_partial_body)
			set_result(r, DKIM_FAIL, "body length limit: %lld of "
			    "%lld octets signed, unsigned content refused "
			    "(RFC 6376 8.2)", r->l, r->body_len);
		else
			set_result(r, DKIM_PASS, "good signature%s; body "
			    "length limit: %lld of %lld octets signed",
			    ki.testing ? ", key in testing mode (t=y)" : "",
			    r->l, r->body_len);
		goto out;
	}
	set_result(r, DKIM_PASS, "%s", ki.testing ? "good signature, key in "
	    "testing mode (t=y)" : "good signature");
 out:
	EVP_PKEY_free(pk);
}

const struct dkim_sigresult *
dkim_verify_results(struct dkim_verify *v, size_t *n, size_t *total)
{
	size_t	 i;

	dkim_verify_end(v);
	if (!v->finished) {
		v->finished = 1;
		for (i = 0; i < v->nsigs; i++) {
			if (v->sigs[i].decided)
				continue;
			verify_one(v, &v->sigs[i], &v->res[i]);
		}
	}
	*n = v->nsigs;
	if (total != NULL)
		*total = v->total;
	return v->res;
}

void
dkim_verify_free(struct dkim_verify *v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++) {
		struct vsig		*sg = &v->sigs[i];
		struct dkim_sigresult	*r = &v->res[i];

		free(sg->hnames);
		free(sg->bh);
		free(sg->sig);
		free(sg->idomain);
		free(r->d);
		free(r->s);
		free(r->a);
		free(r->i);
		free(r->b);
		free(r->h);
	}
	free(v->sigs);
	free(v->res);
	dkim_keyset_free(&v->keys);
	dkim_msg_free(&v->msg);
	free(v);
}

/*
 * ARC, the Authenticated Received Chain (RFC 8617): validating the chain
 * of ARC Sets on a message (5.2) and sealing it with a new set (5.1).
 *
 * Built on the DKIM internals (dkim.h): the header store and body hashes,
 * the header hash over chosen fields, the key store and key checks, and
 * the signing and folding of signature fields.  An ARC-Message-Signature
 * is verified exactly like a DKIM-Signature (with i= the instance instead
 * of an AUID); an ARC-Seal hashes the ARC Sets 1..i in instance order,
 * AAR, AMS, AS within a set, with relaxed canonicalization (5.1.1).
 *
 * Failure reasons name the instance.  All limits are fixed: at most 50
 * sets (4.2.1), one slot per header field of each; anything beyond or
 * doubled fails the chain before any cryptography or key lookup.
 *
 * Deliberately not here: DNS (the caller looks keys up), deciding what to
 * trust (a pass says the chain is intact, not that its sealers are
 * honest; that is local policy, RFC 8617 7.2), and the l= and x= DKIM
 * tags in an AMS (ignored: ARC does not define them).
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/arc.h"
#include "crypto.h"
#include "auth/dkim.h"
#include "log.h"
#include "mailhdr.h"
#include "util.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

enum arc_member {
	ARC_AAR = 0,
	ARC_AMS,
	ARC_AS,
	ARC_NMEMBERS
};

static const char *const member_name[ARC_NMEMBERS] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"
};

/* Where the header fields of the sets are (DKIM_NO_FIELD: absent). */
struct arc_chain {
	size_t		 field[ARC_MAX_SETS][ARC_NMEMBERS];
	unsigned int	 n;		/* highest instance seen, <= 50 */
	int		 broken;	/* structure invalid (5.2 step 2) */
	unsigned int	 broken_at;
	char		 reason[160];
};

/* A parsed AMS or AS. */
struct arc_sig {
	int			 ok;		/* parsed and usable */
	enum dkim_alg		 alg;
	enum dkim_canon		 hcanon;
	enum dkim_canon		 bcanon;
	enum arc_cv		 cv;
	char			**hnames;
	size_t			 nhnames;
	uint8_t			*bh;
	size_t			 bhlen;
	uint8_t			*sig;
	size_t			 siglen;
	size_t			 brawstart;	/* b= value span in the field */
	size_t			 brawend;
	struct dkim_bodyhash	*body;
	size_t			 key;
};

struct arc_verify {
	struct arc_verify_opts	 opts;
	struct dkim_msg		 msg;
	struct dkim_keyset	 keys;
	struct arc_chain	 chain;
	struct arc_sig		 ams[ARC_MAX_SETS];
	struct arc_sig		 as[ARC_MAX_SETS];
	struct arc_setinfo	 info[ARC_MAX_SETS];
	struct arc_chainresult	 res;
	int			 decided;	/* result final before keys */
	int			 ended;
	int			 finished;
};

struct arc_seal {
	struct dkim_msg		 msg;
	EVP_PKEY		*key;
	enum dkim_alg		 alg;
	char			*domain;
	char			*selector;
	char			*authres;
	char			*headers;
	time_t			 t;
	struct dkim_bodyhash	*body;
};

static void
chain_fail(struct arc_chain *c, unsigned int instance, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
chain_fail(struct arc_chain *c, unsigned int instance, const char *fmt, ...)
{
	va_list	 ap;

	if (c->broken)
		return;		/* the first problem is the one reported */
	c->broken = 1;
	c->broken_at = instance;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

static void
set_result(struct arc_chainresult *r, enum arc_result result,
    unsigned int instance, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_result(struct arc_chainresult *r, enum arc_result result,
    unsigned int instance, const char *fmt, ...)
{
	va_list	 ap;

	r->result = result;
	r->fail_instance = instance;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

const char *
arc_result_name(enum arc_result r)
{
	switch (r) {
	case ARC_NONE:
		return "none";
	case ARC_PASS:
		return "pass";
	case ARC_FAIL:
		return "fail";
	case ARC_TEMPERROR:
		return "temperror";
	}
	return "fail";
}

const char *
arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_NONE:
		return "none";
	case ARC_CV_PASS:
		return "pass";
	case ARC_CV_FAIL:
		return "fail";
	}
	return "fail";
}

static int
member_of(const char *raw, size_t len, size_t namelen)
{
	int	 m;

	for (m = 0; m < ARC_NMEMBERS; m++)
		if (mailhdr_name_is(raw, len, namelen, member_name[m],
		    strlen(member_name[m])))
			return m;
	return -1;
}

/*
 * The instance of an ARC-Authentication-Results field: its value starts
 * with "i=N;" (RFC 8617 4.1.1; FWS allowed around the tokens).
 * 0 if it does not.
 */
static unsigned int
aar_instance(const char *v, size_t vlen, size_t *rest)
{
	size_t		 i = 0;
	unsigned int	 n = 0, digits = 0;

#define SKIP_FWS() while (i < vlen && (IS_WSP(v[i]) || v[i] == '\r' ||	\
	    v[i] == '\n')) i++
	SKIP_FWS();
	if (i >= vlen || v[i++] != 'i')
		return 0;
	SKIP_FWS();
	if (i >= vlen || v[i++] != '=')
		return 0;
	SKIP_FWS();
	while (i < vlen && isdigit((unsigned char)v[i])) {
		if (++digits > 6)
			return 0;
		n = n * 10 + (unsigned int)(v[i++] - '0');
	}
	SKIP_FWS();
	if (digits == 0 || i >= vlen || v[i++] != ';')
		return 0;
	SKIP_FWS();
#undef SKIP_FWS
	*rest = i;
	return n;
}

/* The i= of an AMS or AS tag list; 0 if absent or malformed. */
static unsigned int
tag_instance(const struct mailhdr_tag *tags, int ntags)
{
	const struct mailhdr_tag	*t;
	long long			 n;

	if ((t = mailhdr_tag_find(tags, (size_t)ntags, "i")) == NULL ||
	    dkim_parse_num(t, 6, &n) == -1)
		return 0;
	return (unsigned int)n;
}

/*
 * RFC 8617 5.2 steps 1 and 2: find the ARC Sets and check their form.
 * Every ARC header field must carry an instance in 1..50, no instance may
 * have a member twice, and instances 1..N must be complete.
 */
static void
chain_collect(const struct dkim_msg *m, struct arc_chain *c)
{
	struct mailhdr_tag	 tags[MAILHDR_MAX_TAGS];
	const char		*raw, *val;
	char			 err[128];
	size_t			 i, len, vlen, rest;
	unsigned int		 inst, k;
	int			 mem, ntags;

	memset(c, 0, sizeof(*c));
	for (k = 0; k < ARC_MAX_SETS; k++)
		for (mem = 0; mem < ARC_NMEMBERS; mem++)
			c->field[k][mem] = DKIM_NO_FIELD;
	if (m->overflow) {
		chain_fail(c, 0, "header section exceeds limits");
		return;
	}
	for (i = 0; i < m->nfields; i++) {
		raw = dkim_msg_field(m, i, &len);
		if ((mem = member_of(raw, len, m->fields[i].namelen)) == -1)
			continue;
		val = mailhdr_value(raw, len, &vlen);
		if (mem == ARC_AAR)
			inst = aar_instance(val, vlen, &rest);
		else if ((ntags = mailhdr_taglist(val, vlen, tags,
		    MAILHDR_MAX_TAGS, err, sizeof(err))) == -1) {
			chain_fail(c, 0, "%s syntax: %s", member_name[mem],
			    err);
			continue;
		} else
			inst = tag_instance(tags, ntags);
		if (inst == 0) {
			chain_fail(c, 0, "%s without a valid instance i=",
			    member_name[mem]);
			continue;
		}
		if (inst > ARC_MAX_SETS) {
			/* RFC 8617 4.2.1: more than 50 sets is a failure. */
			chain_fail(c, inst, "instance i=%u beyond the limit "
			    "of %d ARC sets", inst, ARC_MAX_SETS);
			continue;
		}
		if (c->field[inst - 1][mem] != DKIM_NO_FIELD) {
			/* RFC 8617 5.2 step 2: exactly one of each. */
			chain_fail(c, inst, "i=%u: more than one %s", inst,
			    member_name[mem]);
			continue;
		}
		c->field[inst - 1][mem] = i;
		if (inst > c->n)
			c->n = inst;
	}
	for (k = 0; k < c->n; k++)
		for (mem = 0; mem < ARC_NMEMBERS; mem++)
			if (c->field[k][mem] == DKIM_NO_FIELD) {
				chain_fail(c, k + 1, "i=%u: %s is missing",
				    k + 1, member_name[mem]);
				break;
			}
}

static void
sig_free(struct arc_sig *sg)
{
	free(sg->hnames);
	free(sg->bh);
	free(sg->sig);
	memset(sg, 0, sizeof(*sg));
}

/* Every tag an AMS (RFC 8617 4.1.2) or an AS (4.1.3) must have. */
static int
sig_has_required(const struct mailhdr_tag *tags, size_t ntags, int mem,
    char *why, size_t whylen)
{
	static const char *const req_ams[] =
	    { "i", "a", "b", "bh", "d", "h", "s" };
	static const char *const req_as[] = { "i", "a", "b", "cv", "d", "s" };
	const char *const	*req = mem == ARC_AMS ? req_ams : req_as;
	size_t			 i, nreq;

	nreq = mem == ARC_AMS ? sizeof(req_ams) / sizeof(req_ams[0]) :
	    sizeof(req_as) / sizeof(req_as[0]);
	for (i = 0; i < nreq; i++)
		if (mailhdr_tag_find(tags, ntags, req[i]) == NULL) {
			snprintf(why, whylen, "missing required tag %s=",
			    req[i]);
			return -1;
		}
	return 0;
}

/* The tags only an AS has: cv=, and no h= (RFC 8617 4.1.3). */
static int
sig_parse_as(const struct mailhdr_tag *tags, size_t ntags,
    struct arc_sig *sg, struct arc_setinfo *si, char *why, size_t whylen)
{
	const struct mailhdr_tag	*t;

	t = mailhdr_tag_find(tags, ntags, "cv");
	if (t->valuelen == 4 && memcmp(t->value, "none", 4) == 0)
		sg->cv = si->cv = ARC_CV_NONE;
	else if (t->valuelen == 4 && memcmp(t->value, "pass", 4) == 0)
		sg->cv = si->cv = ARC_CV_PASS;
	else if (t->valuelen == 4 && memcmp(t->value, "fail", 4) == 0)
		sg->cv = si->cv = ARC_CV_FAIL;
	else {
		snprintf(why, whylen, "unknown cv= value");
		return -1;
	}
	/* RFC 8617 4.1.3: the seal covers fixed fields, no h=. */
	if (mailhdr_tag_find(tags, ntags, "h") != NULL) {
		snprintf(why, whylen, "h= is not allowed in ARC-Seal");
		return -1;
	}
	return 0;
}

/* c=header/body of an AMS, each "simple" or "relaxed"; -1 if unknown. */
static int
sig_parse_canon(const struct mailhdr_tag *t, struct arc_sig *sg)
{
	char	*c = xstrndup(t->value, t->valuelen), *slash;
	int	 ok = 1;

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
	return ok ? 0 : -1;
}

/* The tags only an AMS has, as in a DKIM-Signature: c=, h=, bh=. */
static int
sig_parse_ams(const struct mailhdr_tag *tags, size_t ntags,
    struct arc_sig *sg, char *why, size_t whylen)
{
	const struct mailhdr_tag	*t;
	size_t				 i;

	sg->hcanon = sg->bcanon = DKIM_CANON_SIMPLE;
	if ((t = mailhdr_tag_find(tags, ntags, "c")) != NULL &&
	    sig_parse_canon(t, sg) == -1) {
		snprintf(why, whylen, "unknown canonicalization c=");
		return -1;
	}
	t = mailhdr_tag_find(tags, ntags, "h");
	if (dkim_split_colon_list(t->value, t->valuelen, DKIM_MAX_HNAMES,
	    &sg->hnames, &sg->nhnames) == -1) {
		snprintf(why, whylen, "h= is empty, malformed or too long");
		return -1;
	}
	for (i = 0; i < sg->nhnames; i++)
		/* RFC 8617 4.1.2: the AMS MUST NOT sign ARC-Seal fields. */
		if (strcasecmp(sg->hnames[i], "arc-seal") == 0) {
			snprintf(why, whylen, "h= lists ARC-Seal");
			return -1;
		}
	t = mailhdr_tag_find(tags, ntags, "bh");
	if (b64_decode(t->value, t->valuelen, &sg->bh, &sg->bhlen) == -1 ||
	    sg->bhlen != (size_t)EVP_MD_get_size(dkim_alg_md(sg->alg))) {
		snprintf(why, whylen, "bh= is not a base64 %s digest",
		    dkim_alg_name(sg->alg));
		return -1;
	}
	return 0;
}

/*
 * Parse an AMS (RFC 8617 4.1.2: the DKIM-Signature tags, i= an instance)
 * or an AS (4.1.3: i, a, b, cv, d, s; no h=).  Returns -1 with a reason.
 */
static int
sig_parse(struct arc_verify *v, size_t field, int mem, struct arc_sig *sg,
    struct arc_setinfo *si, char *why, size_t whylen)
{
	struct mailhdr_tag	 tags[MAILHDR_MAX_TAGS];
	const struct mailhdr_tag *t, *tb;
	const char		*raw, *val;
	char			 err[128];
	char			**d, **s;
	size_t			 len, vlen, ntags;
	int			 n;

	raw = dkim_msg_field(&v->msg, field, &len);
	val = mailhdr_value(raw, len, &vlen);
	/* Checked by chain_collect() already, but it keeps no tags. */
	if ((n = mailhdr_taglist(val, vlen, tags, MAILHDR_MAX_TAGS, err,
	    sizeof(err))) == -1) {
		snprintf(why, whylen, "syntax: %s", err);
		return -1;
	}
	ntags = (size_t)n;
	/* The names are reported even when the rest does not parse. */
	d = mem == ARC_AMS ? &si->ams_d : &si->as_d;
	s = mem == ARC_AMS ? &si->ams_s : &si->as_s;
	if ((t = mailhdr_tag_find(tags, ntags, "d")) != NULL)
		*d = xstrndup(t->value, t->valuelen);
	if ((t = mailhdr_tag_find(tags, ntags, "s")) != NULL)
		*s = xstrndup(t->value, t->valuelen);
	if (sig_has_required(tags, ntags, mem, why, whylen) == -1)
		return -1;
	t = mailhdr_tag_find(tags, ntags, "a");
	sg->alg = dkim_alg_from_name(t->value, t->valuelen);
	/* RFC 8301 3.1 applies to ARC as to DKIM: no rsa-sha1. */
	if (sg->alg == DKIM_ALG_NONE || sg->alg == DKIM_ALG_RSA_SHA1) {
		snprintf(why, whylen, "unsupported algorithm a=%.*s",
		    (int)(t->valuelen > 32 ? 32 : t->valuelen), t->value);
		return -1;
	}
	if (!dkim_valid_domain(*d, 1) || !dkim_valid_domain(*s, 1)) {
		snprintf(why, whylen, "invalid d= or s=");
		return -1;
	}
	tb = mailhdr_tag_find(tags, ntags, "b");
	if (b64_decode(tb->value, tb->valuelen, &sg->sig, &sg->siglen) == -1 ||
	    sg->siglen == 0) {
		snprintf(why, whylen, "b= is empty or not valid base64");
		return -1;
	}
	sg->brawstart = (size_t)(val - raw) + tb->rawstart;
	sg->brawend = (size_t)(val - raw) + tb->rawend;
	sg->hcanon = sg->bcanon = DKIM_CANON_RELAXED;
	if (mem == ARC_AS) {
		if (sig_parse_as(tags, ntags, sg, si, why, whylen) == -1)
			return -1;
	} else if (sig_parse_ams(tags, ntags, sg, why, whylen) == -1)
		return -1;
	sg->ok = 1;
	return 0;
}

/* RFC 8617 5.2 steps 1 to 4, once the header is in. */
static void
verify_on_header(void *arg)
{
	struct arc_verify	*v = arg;
	struct arc_chain	*c = &v->chain;
	struct arc_chainresult	*r = &v->res;
	struct arc_setinfo	*si;
	const char		*raw, *val;
	char			 why[160];
	size_t			 len, vlen, rest;
	unsigned int		 k, n;

	chain_collect(&v->msg, c);
	n = c->n;
	r->nsets = n;
	r->sets = v->info;
	v->decided = 1;
	for (k = 0; k < n; k++) {
		si = &v->info[k];
		si->ams_ok = si->as_ok = -1;
		if (c->field[k][ARC_AAR] != DKIM_NO_FIELD &&
		    c->field[k][ARC_AMS] != DKIM_NO_FIELD &&
		    c->field[k][ARC_AS] != DKIM_NO_FIELD)
			si->instance = k + 1;
		if (c->field[k][ARC_AAR] != DKIM_NO_FIELD) {
			raw = dkim_msg_field(&v->msg, c->field[k][ARC_AAR],
			    &len);
			val = mailhdr_value(raw, len, &vlen);
			if (aar_instance(val, vlen, &rest) != 0)
				si->aar = mailhdr_strip_fws(val + rest,
				    vlen - rest);
		}
	}
	if (n == 0 && !c->broken) {
		set_result(r, ARC_NONE, 0, "no ARC sets");
		return;
	}
	if (c->broken) {
		set_result(r, ARC_FAIL, c->broken_at, "%s", c->reason);
		return;
	}
	for (k = 0; k < n; k++) {
		if (sig_parse(v, c->field[k][ARC_AS], ARC_AS, &v->as[k],
		    &v->info[k], why, sizeof(why)) == -1) {
			set_result(r, ARC_FAIL, k + 1, "i=%u: ARC-Seal: %s",
			    k + 1, why);
			return;
		}
		if (sig_parse(v, c->field[k][ARC_AMS], ARC_AMS, &v->ams[k],
		    &v->info[k], why, sizeof(why)) == -1) {
			set_result(r, ARC_FAIL, k + 1, "i=%u: "
			    "ARC-Message-Signature: %s", k + 1, why);
			return;
		}
	}
	/* RFC 8617 5.2 step 3: the chain ended with a failure before. */
	if (v->as[n - 1].cv == ARC_CV_FAIL) {
		set_result(r, ARC_FAIL, n, "i=%u: ARC-Seal says cv=fail", n);
		return;
	}
	/* Step 4: i=1 is cv=none, every later set cv=pass. */
	for (k = 0; k < n; k++)
		if (v->as[k].cv != (k == 0 ? ARC_CV_NONE : ARC_CV_PASS)) {
			set_result(r, ARC_FAIL, k + 1, "i=%u: ARC-Seal has "
			    "cv=%s, not %s", k + 1, arc_cv_name(v->as[k].cv),
			    k == 0 ? "none" : "pass");
			return;
		}
	/* Worth checking: body hashes and keys. */
	v->decided = 0;
	for (k = 0; k < n; k++) {
		v->ams[k].body = dkim_msg_bodyhash(&v->msg, v->ams[k].bcanon,
		    dkim_alg_md(v->ams[k].alg), -1);
		v->ams[k].key = dkim_keyset_index(&v->keys, v->info[k].ams_d,
		    v->info[k].ams_s);
		v->as[k].key = dkim_keyset_index(&v->keys, v->info[k].as_d,
		    v->info[k].as_s);
	}
}

struct arc_verify *
arc_verify_new(const struct arc_verify_opts *opts)
{
	struct arc_verify	*v;

	v = xcalloc(1, sizeof(*v));
	if (opts != NULL)
		v->opts = *opts;
	if (v->opts.min_rsa_bits == 0)
		v->opts.min_rsa_bits = 1024;
	dkim_msg_init(&v->msg, verify_on_header, v);
	return v;
}

void
arc_verify_feed(struct arc_verify *v, const void *p, size_t len)
{
	dkim_msg_feed(&v->msg, p, len);
}

int
arc_verify_header_done(const struct arc_verify *v)
{
	return v->msg.header_done;
}

size_t
arc_verify_nkeys(const struct arc_verify *v)
{
	return v->keys.n;
}

const char *
arc_verify_keyname(const struct arc_verify *v, size_t k)
{
	return k < v->keys.n ? v->keys.slot[k].name : NULL;
}

void
arc_verify_set_key(struct arc_verify *v, size_t k, enum dkim_dns dns,
    enum dkim_dnssec sec, const char *const *records, const size_t *lens,
    size_t nrecords)
{
	dkim_keyset_set(&v->keys, k, dns, sec, records, lens, nrecords);
}

void
arc_verify_end(struct arc_verify *v)
{
	if (v->ended)
		return;
	v->ended = 1;
	dkim_msg_end(&v->msg);
}

/* A copy of a field with the b= value removed (RFC 6376 3.7). */
static char *
blank_b(const char *raw, size_t len, const struct arc_sig *sg, size_t *outlen)
{
	char	*blank;

	blank = xmalloc(len + 1);
	memcpy(blank, raw, sg->brawstart);
	memcpy(blank + sg->brawstart, raw + sg->brawend, len - sg->brawend);
	*outlen = sg->brawstart + (len - sg->brawend);
	return blank;
}

/*
 * Check one signature against its key: DKIM_PASS, or a result and reason.
 * fields is what it covers (NULL for an AMS: its h= selection).
 */
static enum dkim_result
sig_check(struct arc_verify *v, const struct arc_sig *sg, size_t field,
    const struct dkim_rawfield *fields, size_t nfields, char *why,
    size_t whylen)
{
	struct dkim_keyinfo	 ki;
	EVP_PKEY		*pk;
	enum dkim_result	 kres;
	const char		*raw;
	char			*blank;
	uint8_t			 digest[EVP_MAX_MD_SIZE];
	unsigned int		 dlen;
	size_t			 len;
	int			 rv;

	kres = dkim_key_load(&v->keys.slot[sg->key], sg->alg, "", NULL,
	    v->opts.min_rsa_bits, &pk, &ki, why, whylen);
	if (kres != DKIM_PASS)
		return kres;
	if (fields == NULL && (sg->body->dlen != sg->bhlen ||
	    memcmp(sg->body->digest, sg->bh, sg->bhlen) != 0)) {
		EVP_PKEY_free(pk);
		snprintf(why, whylen, "body hash did not verify");
		return DKIM_FAIL;
	}
	raw = dkim_msg_field(&v->msg, field, &len);
	blank = blank_b(raw, len, sg, &len);
	if (fields == NULL)
		rv = dkim_header_hash(&v->msg, sg->hnames, sg->nhnames, field,
		    blank, len, sg->hcanon, dkim_alg_md(sg->alg), digest,
		    &dlen);
	else
		rv = dkim_fields_hash(fields, nfields, blank, len,
		    DKIM_CANON_RELAXED, dkim_alg_md(sg->alg), digest, &dlen);
	free(blank);
	if (rv == -1) {
		EVP_PKEY_free(pk);
		snprintf(why, whylen, "header hash failed");
		return DKIM_PERMERROR;
	}
	rv = crypto_verify_digest(pk, dkim_alg_md(sg->alg), sg->sig,
	    sg->siglen, digest, dlen);
	EVP_PKEY_free(pk);
	if (!rv) {
		snprintf(why, whylen, "signature did not verify");
		return DKIM_FAIL;
	}
	return DKIM_PASS;
}

/* RFC 8617 5.1.1: the ARC-Seal of instance k covers sets 1..k. */
static enum dkim_result
seal_check(struct arc_verify *v, unsigned int k, char *why, size_t whylen)
{
	struct dkim_rawfield	 f[ARC_MAX_SETS * ARC_NMEMBERS];
	size_t			 nf = 0;
	unsigned int		 j;
	int			 mem;

	for (j = 0; j <= k; j++)
		for (mem = 0; mem < ARC_NMEMBERS; mem++) {
			if (j == k && mem == ARC_AS)
				break;
			f[nf].raw = dkim_msg_field(&v->msg,
			    v->chain.field[j][mem], &f[nf].len);
			nf++;
		}
	return sig_check(v, &v->as[k], v->chain.field[k][ARC_AS], f, nf, why,
	    whylen);
}

/* RFC 8617 5.2 steps 5 to 7, once the keys are in. */
static void
verify_finish(struct arc_verify *v)
{
	struct arc_chainresult	*r = &v->res;
	enum dkim_result	 d;
	char			 why[160];
	unsigned int		 n = v->chain.n, k;

	/* Step 5: the most recent AMS must validate. */
	d = sig_check(v, &v->ams[n - 1], v->chain.field[n - 1][ARC_AMS], NULL,
	    0, why, sizeof(why));
	v->info[n - 1].ams_ok = d == DKIM_PASS;
	if (d != DKIM_PASS) {
		set_result(r, d == DKIM_TEMPERROR ? ARC_TEMPERROR : ARC_FAIL,
		    n, "i=%u: ARC-Message-Signature: %s", n, why);
		return;
	}
	/* Step 6: how far back the message is unchanged. */
	r->oldest_pass = 0;
	for (k = n - 1; k-- > 0; ) {
		d = sig_check(v, &v->ams[k], v->chain.field[k][ARC_AMS], NULL,
		    0, why, sizeof(why));
		v->info[k].ams_ok = d == DKIM_PASS;
		if (d != DKIM_PASS) {
			r->oldest_pass = k + 2;
			break;
		}
	}
	/* Step 7: every seal, newest first. */
	for (k = n; k-- > 0; ) {
		d = seal_check(v, k, why, sizeof(why));
		v->info[k].as_ok = d == DKIM_PASS;
		if (d != DKIM_PASS) {
			set_result(r, d == DKIM_TEMPERROR ? ARC_TEMPERROR :
			    ARC_FAIL, k + 1, "i=%u: ARC-Seal: %s", k + 1, why);
			return;
		}
	}
	set_result(r, ARC_PASS, 0, "%u ARC set%s validated", n,
	    n == 1 ? "" : "s");
}

const struct arc_chainresult *
arc_verify_result(struct arc_verify *v)
{
	arc_verify_end(v);
	if (!v->finished) {
		v->finished = 1;
		if (!v->decided)
			verify_finish(v);
	}
	return &v->res;
}

void
arc_verify_free(struct arc_verify *v)
{
	unsigned int	 k;

	if (v == NULL)
		return;
	for (k = 0; k < ARC_MAX_SETS; k++) {
		sig_free(&v->ams[k]);
		sig_free(&v->as[k]);
		free(v->info[k].ams_d);
		free(v->info[k].ams_s);
		free(v->info[k].as_d);
		free(v->info[k].as_s);
		free(v->info[k].aar);
	}
	dkim_keyset_free(&v->keys);
	dkim_msg_free(&v->msg);
	free(v);
}

/*
 * Sealing.
 */

static int
valid_authres(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		/* One line of text: no controls but HTAB (UTF-8 allowed). */
		if ((unsigned char)*s < 0x20 ? *s != '\t' : *s == 0x7f)
			return 0;
	return n > 0 && n <= ARC_MAX_AUTHRES;
}

int
arc_seal_set_authres(struct arc_seal *s, const char *authres)
{
	if (!valid_authres(authres))
		return -1;
	free(s->authres);
	s->authres = xstrdup(authres);
	return 0;
}

struct arc_seal *
arc_seal_new(const struct arc_sealer *cfg, char *err, size_t errlen)
{
	struct arc_seal	*s;
	const char	*ktype;
	enum dkim_alg	 alg = cfg->alg;
	char		**names;
	size_t		 n, i;

	if (cfg->key == NULL || (ktype = crypto_key_type(cfg->key)) == NULL) {
		snprintf(err, errlen, "no usable key (RSA or Ed25519)");
		return NULL;
	}
	if (alg == DKIM_ALG_NONE)
		alg = strcmp(ktype, "rsa") == 0 ? DKIM_ALG_RSA_SHA256 :
		    DKIM_ALG_ED25519_SHA256;
	if (alg == DKIM_ALG_RSA_SHA1 || (alg == DKIM_ALG_ED25519_SHA256) !=
	    (strcmp(ktype, "ed25519") == 0)) {
		snprintf(err, errlen, "an %s key cannot make %s seals", ktype,
		    dkim_alg_name(alg));
		return NULL;
	}
	if (strcmp(ktype, "rsa") == 0 && crypto_key_bits(cfg->key) < 1024) {
		/* RFC 8301 3.2, which ARC keys follow (RFC 8617 4.1.2). */
		snprintf(err, errlen, "RSA key of %d bits is below 1024 "
		    "(RFC 8301 3.2)", crypto_key_bits(cfg->key));
		return NULL;
	}
	if (cfg->domain == NULL || !dkim_valid_domain(cfg->domain, 1) ||
	    cfg->selector == NULL || !dkim_valid_domain(cfg->selector, 1)) {
		snprintf(err, errlen, "invalid domain or selector");
		return NULL;
	}
	if (cfg->authres == NULL || !valid_authres(cfg->authres)) {
		snprintf(err, errlen, "the Authentication-Results text must "
		    "be one line of at most %d bytes", ARC_MAX_AUTHRES);
		return NULL;
	}
	if (cfg->headers != NULL) {
		if (strpbrk(cfg->headers, " \t\r\n;") != NULL ||
		    dkim_split_colon_list(cfg->headers, strlen(cfg->headers),
		    DKIM_MAX_HNAMES, &names, &n) == -1) {
			snprintf(err, errlen, "bad header list");
			return NULL;
		}
		for (i = 0; i < n; i++)
			if (strcasecmp(names[i], "arc-seal") == 0)
				break;
		free(names);
		if (i < n) {
			/* RFC 8617 4.1.2. */
			snprintf(err, errlen, "the ARC-Message-Signature must "
			    "not sign ARC-Seal");
			return NULL;
		}
	}
	s = xcalloc(1, sizeof(*s));
	dkim_msg_init(&s->msg, NULL, NULL);
	s->key = cfg->key;
	s->alg = alg;
	s->domain = xstrdup(cfg->domain);
	s->selector = xstrdup(cfg->selector);
	s->authres = xstrdup(cfg->authres);
	s->headers = xstrdup(cfg->headers ? cfg->headers :
	    dkim_default_headers);
	s->t = cfg->t == 0 ? time(NULL) : cfg->t;
	/* RFC 8617 4.1.2: relaxed/relaxed like the example sealers use. */
	s->body = dkim_msg_bodyhash(&s->msg, DKIM_CANON_RELAXED,
	    dkim_alg_md(alg), -1);
	return s;
}

void
arc_seal_feed(struct arc_seal *s, const void *p, size_t len)
{
	dkim_msg_feed(&s->msg, p, len);
}

/*
 * ARC-Authentication-Results: i=N; then the A-R text, folded at its white
 * space (runs of it become one space or a line break, which the relaxed
 * canonicalization of the seal does not tell apart).
 */
static void
seal_aar(struct arc_seal *s, unsigned int inst, struct buf *f)
{
	struct dkim_fold	 fd;
	char			 word[32], *text, *p, *w;

	fd.b = f;
	buf_addstr(f, "ARC-Authentication-Results:");
	fd.col = f->len;
	snprintf(word, sizeof(word), "i=%u;", inst);
	dkim_fold_word(&fd, word);
	text = p = xstrdup(s->authres);
	while ((w = strsep(&p, " \t")) != NULL)
		if (*w != '\0')
			dkim_fold_word(&fd, w);
	free(text);
}

static void
seal_tag(struct dkim_fold *fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
seal_tag(struct dkim_fold *fd, const char *fmt, ...)
{
	char	 word[300];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(word, sizeof(word), fmt, ap);
	va_end(ap);
	dkim_fold_word(fd, word);
}

/* The most recent ARC-Seal says cv=fail? */
static int
last_seal_failed(const struct dkim_msg *m, const struct arc_chain *c)
{
	struct mailhdr_tag		 tags[MAILHDR_MAX_TAGS];
	const struct mailhdr_tag	*t;
	const char			*raw, *val;
	char				 err[128];
	size_t				 len, vlen;
	int				 ntags;

	if (c->n == 0 || c->field[c->n - 1][ARC_AS] == DKIM_NO_FIELD)
		return 0;
	raw = dkim_msg_field(m, c->field[c->n - 1][ARC_AS], &len);
	val = mailhdr_value(raw, len, &vlen);
	if ((ntags = mailhdr_taglist(val, vlen, tags, MAILHDR_MAX_TAGS, err,
	    sizeof(err))) == -1 ||
	    (t = mailhdr_tag_find(tags, (size_t)ntags, "cv")) == NULL)
		return 0;
	return t->valuelen == 4 && memcmp(t->value, "fail", 4) == 0;
}

/*
 * May the chain get a new set with status cv?  0 if so; 1 with the
 * reason if the message must not be sealed; -1 if cv cannot be right.
 */
static int
seal_allowed(const struct dkim_msg *m, const struct arc_chain *c,
    enum arc_result cv, char *err, size_t errlen)
{
	if (cv == ARC_TEMPERROR) {
		snprintf(err, errlen, "chain status unknown (temporary "
		    "error): not sealed");
		return 1;
	}
	/* RFC 8617 5.1.2: a chain that failed before stays as it is. */
	if (last_seal_failed(m, c)) {
		snprintf(err, errlen, "the chain already ended with cv=fail "
		    "at i=%u: not sealed again", c->n);
		return 1;
	}
	/* RFC 8617 4.2.1, 5.1: no instance beyond 50. */
	if (c->n >= ARC_MAX_SETS || (c->broken &&
	    c->broken_at > ARC_MAX_SETS)) {
		snprintf(err, errlen, "the chain already has %d ARC sets: "
		    "not sealed", ARC_MAX_SETS);
		return 1;
	}
	if (cv == ARC_PASS && (c->n == 0 || c->broken)) {
		snprintf(err, errlen, "cv=pass given for a message without "
		    "a valid chain");
		return -1;
	}
	if (cv == ARC_NONE && (c->n > 0 || c->broken)) {
		snprintf(err, errlen, "cv=none given for a message with ARC "
		    "fields");
		return -1;
	}
	return 0;
}

/*
 * RFC 8617 4.1.2: the AMS is a DKIM signature with i= instance.  Into
 * ams, signed, without its CRLF: the seal hashes it as it hashes the
 * fields of the message.
 */
static int
seal_ams(struct arc_seal *s, unsigned int inst, struct buf *ams, char *err,
    size_t errlen)
{
	struct dkim_fold	 fd;
	struct dkim_rawfield	*hf;
	struct buf		 tmp;
	char			**names = NULL, *bh;
	size_t			 nnames = 0, nhf;
	int			 rv = -1;

	fd.b = ams;
	buf_addstr(ams, "ARC-Message-Signature:");
	fd.col = ams->len;
	seal_tag(&fd, "i=%u;", inst);
	seal_tag(&fd, "a=%s;", dkim_alg_name(s->alg));
	seal_tag(&fd, "c=relaxed/relaxed;");
	seal_tag(&fd, "d=%s;", s->domain);
	seal_tag(&fd, "s=%s;", s->selector);
	if (s->t != -1)
		seal_tag(&fd, "t=%lld;", (long long)s->t);
	dkim_sign_names(&s->msg, s->headers, 0, &names, &nnames);
	dkim_fold_hlist(&fd, names, nnames);
	bh = b64_encode(s->body->digest, s->body->dlen);
	dkim_fold_word(&fd, "bh=");
	dkim_fold_b64(&fd, bh, ";");
	dkim_fold_word(&fd, "b=");
	hf = xcalloc(nnames + 1, sizeof(*hf));
	nhf = dkim_select_fields(&s->msg, names, nnames, DKIM_NO_FIELD, hf);
	/* dkim_sign_finish() appends the field with its CRLF. */
	buf_init(&tmp, DKIM_MAX_FIELD + 2);
	if (dkim_sign_finish(&fd, hf, nhf, DKIM_CANON_RELAXED, s->key,
	    s->alg, &tmp, err, errlen) == 0) {
		buf_reset(ams);
		buf_add(ams, tmp.data, tmp.len - 2);
		rv = 0;
	}
	buf_free(&tmp);
	free(hf);
	free(bh);
	dkim_names_free(names, nnames);
	return rv;
}

/*
 * RFC 8617 4.1.3, 5.1.1: the seal over sets 1..N and the new one (its
 * aar and ams), signed and appended to out.
 */
static int
seal_as(struct arc_seal *s, const struct arc_chain *c, enum arc_result cv,
    const struct buf *aar, const struct buf *ams, struct buf *out,
    char *err, size_t errlen)
{
	struct dkim_rawfield	 f[ARC_MAX_SETS * ARC_NMEMBERS + 2];
	struct dkim_fold	 fd;
	struct buf		 as;
	size_t			 nf = 0;
	unsigned int		 j;
	int			 mem, rv;

	buf_init(&as, DKIM_MAX_FIELD);
	fd.b = &as;
	buf_addstr(&as, "ARC-Seal:");
	fd.col = as.len;
	seal_tag(&fd, "i=%u;", c->n + 1);
	seal_tag(&fd, "a=%s;", dkim_alg_name(s->alg));
	if (s->t != -1)
		seal_tag(&fd, "t=%lld;", (long long)s->t);
	seal_tag(&fd, "cv=%s;", cv == ARC_PASS ? "pass" : cv == ARC_FAIL ?
	    "fail" : "none");
	seal_tag(&fd, "d=%s;", s->domain);
	seal_tag(&fd, "s=%s;", s->selector);
	dkim_fold_word(&fd, "b=");
	/*
	 * RFC 8617 5.1.2: sealing a failed chain covers only the new set,
	 * as if it were the only one.
	 */
	if (cv != ARC_FAIL)
		for (j = 0; j < c->n; j++)
			for (mem = 0; mem < ARC_NMEMBERS; mem++) {
				f[nf].raw = dkim_msg_field(&s->msg,
				    c->field[j][mem], &f[nf].len);
				nf++;
			}
	f[nf].raw = (const char *)aar->data;
	f[nf++].len = aar->len;
	f[nf].raw = (const char *)ams->data;
	f[nf++].len = ams->len;
	rv = dkim_sign_finish(&fd, f, nf, DKIM_CANON_RELAXED, s->key, s->alg,
	    out, err, errlen);
	buf_free(&as);
	return rv;
}

int
arc_seal_end(struct arc_seal *s, enum arc_result cv, struct buf *out,
    char *err, size_t errlen)
{
	struct arc_chain	 c;
	struct buf		 aar, ams;
	int			 rv;

	dkim_msg_end(&s->msg);
	if (s->msg.overflow) {
		snprintf(err, errlen, "header section exceeds limits");
		return -1;
	}
	chain_collect(&s->msg, &c);
	if ((rv = seal_allowed(&s->msg, &c, cv, err, errlen)) != 0)
		return rv;
	buf_init(&aar, DKIM_MAX_FIELD);
	buf_init(&ams, DKIM_MAX_FIELD);
	seal_aar(s, c.n + 1, &aar);
	rv = -1;
	if (seal_ams(s, c.n + 1, &ams, err, errlen) == -1 ||
	    seal_as(s, &c, cv, &aar, &ams, out, err, errlen) == -1)
		goto done;
	if (buf_add(out, ams.data, ams.len) == -1 ||
	    buf_add(out, "\r\n", 2) == -1 ||
	    buf_add(out, aar.data, aar.len) == -1 ||
	    buf_add(out, "\r\n", 2) == -1) {
		snprintf(err, errlen, "output too long");
		goto done;
	}
	rv = 0;
 done:
	buf_free(&aar);
	buf_free(&ams);
	return rv;
}

void
arc_seal_free(struct arc_seal *s)
{
	if (s == NULL)
		return;
	free(s->domain);
	free(s->selector);
	free(s->authres);
	free(s->headers);
	dkim_msg_free(&s->msg);
	free(s);
}

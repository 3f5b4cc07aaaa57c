/*
 * DMARC pieces that need no DNS: the policy record parser (RFC 9989 4.7,
 * 4.8) and Author Domain extraction from the From field(s) (5.3.1, with a
 * small RFC 5322 3.4 address-list parser).  The evaluation record's binary
 * form is in dmarc_eval.c.
 *
 * Everything here works on bounded, fixed memory: a record with thousands
 * of reporting URIs keeps DMARC_MAX_URIS of them and counts the rest.
 * A From domain with U-labels is converted to A-labels (IDNA2008, libidn2)
 * before any lookup or comparison (RFC 9989 5.3.1).
 */
#include <sys/types.h>

#include <ctype.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "util.h"

static const char *const policy_names[] = { "", "none", "quarantine",
    "reject" };
static const char *const disp_names[] = { "none", "pass", "quarantine",
    "reject" };
static const char *const result_names[] = { "none", "pass", "fail",
    "temperror", "permerror" };
static const char *const applied_names[] = { "", "p", "sp", "np" };
static const char *const override_names[] = { "local_policy",
    "mailing_list", "other", "policy_test_mode", "trusted_forwarder" };

const char *
dmarc_result_name(enum dmarc_result r)
{
	if ((unsigned int)r > DMARC_RESULT_PERMERROR)
		return "unknown";
	return result_names[r];
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	if ((unsigned int)p > DMARC_POLICY_REJECT)
		return "";
	return policy_names[p];
}

const char *
dmarc_disposition_name(enum dmarc_disposition d)
{
	if ((unsigned int)d > DMARC_DISP_REJECT)
		return "none";
	return disp_names[d];
}

const char *
dmarc_applied_name(enum dmarc_applied a)
{
	if ((unsigned int)a > DMARC_APPLIED_NP)
		return "";
	return applied_names[a];
}

const char *
dmarc_override_name(enum dmarc_override o)
{
	if ((unsigned int)o > DMARC_OVERRIDE_TRUSTED_FORWARDER)
		return "other";
	return override_names[o];
}

/* --- the policy record --- */

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

struct span {
	const char	*s;
	size_t		 len;
};

static void
trim(struct span *sp)
{
	while (sp->len > 0 && IS_WSP(sp->s[0])) {
		sp->s++;
		sp->len--;
	}
	while (sp->len > 0 && IS_WSP(sp->s[sp->len - 1]))
		sp->len--;
}

static int
span_eq(const struct span *sp, const char *word)
{
	return strlen(word) == sp->len && strncasecmp(sp->s, word,
	    sp->len) == 0;
}

/* A span's first 32 octets, for "%.*s". */
#define SPAN_NOTE(sp)	(int)((sp)->len > 32 ? 32 : (sp)->len), (sp)->s

static void note(struct dmarc_record *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
note(struct dmarc_record *r, const char *fmt, ...)
{
	char	 tmp[96];
	size_t	 len = strlen(r->notes);
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (len + strlen(tmp) + 3 >= sizeof(r->notes))
		return;
	if (len > 0)
		strlcat(r->notes, "; ", sizeof(r->notes));
	strlcat(r->notes, tmp, sizeof(r->notes));
}

/* dmarc-value: printing characters but semicolon (4.8). */
static int
value_ok(const struct span *v)
{
	size_t	 i;

	if (v->len == 0)
		return 0;
	for (i = 0; i < v->len; i++) {
		unsigned char	 c = v->s[i];

		if (c < 0x20 || c > 0x7e || c == ';')
			return 0;
	}
	return 1;
}

static int
parse_request(const struct span *v, enum dmarc_policy *p)
{
	if (span_eq(v, "none"))
		*p = DMARC_POLICY_NONE;
	else if (span_eq(v, "quarantine"))
		*p = DMARC_POLICY_QUARANTINE;
	else if (span_eq(v, "reject"))
		*p = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

/* One letter out of set (case-insensitive as ABNF strings are), or -1. */
static int
parse_letter(const struct span *v, const char *set)
{
	if (v->len != 1 || strchr(set, tolower((unsigned char)v->s[0])) ==
	    NULL)
		return -1;
	return tolower((unsigned char)v->s[0]);
}

/* dmarc-fo: 0 and 1 exclusive, each value at most once (4.7, 4.8). */
static int
parse_fo(const struct span *v, unsigned int *fo)
{
	struct span	 item;
	const char	*p = v->s, *end = v->s + v->len, *colon;
	unsigned int	 bit, out = 0;

	for (;;) {
		colon = memchr(p, ':', end - p);
		item.s = p;
		item.len = (colon ? colon : end) - p;
		trim(&item);
		if (item.len != 1)
			return -1;
		switch (tolower((unsigned char)item.s[0])) {
		case '0':	bit = DMARC_FO_0; break;
		case '1':	bit = DMARC_FO_1; break;
		case 'd':	bit = DMARC_FO_D; break;
		case 's':	bit = DMARC_FO_S; break;
		default:	return -1;
		}
		if (out & bit)
			return -1;
		out |= bit;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if ((out & DMARC_FO_0) && (out & DMARC_FO_1))
		return -1;
	if ((out & (DMARC_FO_0 | DMARC_FO_1)) == 0)
		out |= DMARC_FO_0;	/* the default still holds */
	*fo = out;
	return 0;
}

void
dmarc_fo_text(unsigned int fo, char *out, size_t outlen)
{
	static const struct {
		unsigned int	 bit;
		const char	*s;
	} v[] = { { DMARC_FO_0, "0" }, { DMARC_FO_1, "1" },
	    { DMARC_FO_D, "d" }, { DMARC_FO_S, "s" } };
	size_t	 i;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if ((fo & v[i].bit) == 0)
			continue;
		if (out[0] != '\0')
			strlcat(out, ":", outlen);
		strlcat(out, v[i].s, outlen);
	}
}

/*
 * A URI (RFC 3986 3.1 scheme ":" ...): visible characters only, commas
 * and "!" encoded (4.8).  The obsolete "!size" suffix is cut off first;
 * its value in bytes goes to *limit (0: none), for the report sender.
 */
static int
uri_check(struct span *u, int *is_mailto, uint64_t *limit)
{
	size_t	 i, bang;
	uint64_t v = 0, mult = 1;

	for (bang = u->len; bang > 0; bang--)
		if (u->s[bang - 1] == '!')
			break;
	if (bang > 0) {
		/* obs-dmarc-report-size = "!" 1*DIGIT [ "k"/"m"/"g"/"t" ] */
		i = bang;
		while (i < u->len && isdigit((unsigned char)u->s[i])) {
			if (i - bang < 15)	/* past that, no limit */
				v = v * 10 + (u->s[i] - '0');
			i++;
		}
		if (i == bang)
			return -1;
		if (i < u->len && strchr("kmgtKMGT", u->s[i]) != NULL) {
			switch (tolower((unsigned char)u->s[i])) {
			case 'k': mult = 1024ULL; break;
			case 'm': mult = 1024ULL * 1024; break;
			case 'g': mult = 1024ULL * 1024 * 1024; break;
			default: mult = 1024ULL * 1024 * 1024 * 1024; break;
			}
			i++;
		}
		if (i != u->len)
			return -1;
		u->len = bang - 1;
		*limit = i - bang > 15 || v > UINT64_MAX / mult ? 0 : v * mult;
	}
	if (u->len == 0 || !isalpha((unsigned char)u->s[0]))
		return -1;
	for (i = 1; i < u->len && u->s[i] != ':'; i++)
		if (!isalnum((unsigned char)u->s[i]) &&
		    strchr("+-.", u->s[i]) == NULL)
			return -1;
	if (i >= u->len - 1)
		return -1;	/* no ":" or nothing after it */
	for (i = 0; i < u->len; i++)
		if (u->s[i] <= 0x20 || u->s[i] >= 0x7f || u->s[i] == '!' ||
		    u->s[i] == ',')
			return -1;
	*is_mailto = 0;
	if (u->len > 7 && strncasecmp(u->s, "mailto:", 7) == 0) {
		const char	*at = memchr(u->s + 7, '@', u->len - 7);

		/* RFC 6068: a local part and a domain. */
		if (at == NULL || at == u->s + 7 || at == u->s + u->len - 1)
			return -1;
		*is_mailto = 1;
	}
	return 0;
}

static void
parse_urilist(struct dmarc_record *r, const struct span *v, int ruf)
{
	struct span	 u;
	const char	*p = v->s, *end = v->s + v->len, *comma;
	char		 (*list)[DMARC_URI_MAX] = ruf ? r->ruf : r->rua;
	size_t		*n = ruf ? &r->nruf : &r->nrua;
	size_t		*ignored = ruf ? &r->ruf_ignored : &r->rua_ignored;
	size_t		*dropped = ruf ? &r->ruf_dropped : &r->rua_dropped;
	uint64_t	*limits = ruf ? r->ruf_limit : r->rua_limit;
	uint64_t	 limit;
	int		 mailto;

	for (;;) {
		comma = memchr(p, ',', end - p);
		u.s = p;
		u.len = (comma ? comma : end) - p;
		trim(&u);
		limit = 0;
		if (uri_check(&u, &mailto, &limit) == -1)
			(*ignored)++;
		else {
			if (!ruf)
				r->rua_valid++;
			/* 4.7: schemes we do not support MUST be ignored. */
			if (!mailto || u.len >= DMARC_URI_MAX)
				(*ignored)++;
			else if (*n >= DMARC_MAX_URIS)
				(*dropped)++;
			else {
				memcpy(list[*n], u.s, u.len);
				list[*n][u.len] = '\0';
				limits[*n] = limit;
				(*n)++;
			}
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

enum rtag {
	TAG_P, TAG_SP, TAG_NP, TAG_PSD, TAG_T, TAG_ADKIM, TAG_ASPF, TAG_RUA,
	TAG_RUF, TAG_FO, TAG_PCT, TAG_RF, TAG_RI, TAG_V, TAG_COUNT
};

static const char *const tag_names[TAG_COUNT] = {
	"p", "sp", "np", "psd", "t", "adkim", "aspf", "rua", "ruf", "fo",
	"pct", "rf", "ri", "v"
};

/* What the tag loop remembers between tags. */
struct record_parse {
	unsigned int	 seen;		/* 1 << tag for each tag met */
	int		 dup;		/* the first repeated tag, or -1 */
	int		 bad_policy;	/* p, sp or np had a bad value */
};

/* The defaults of 4.7, which bad or absent tags leave in place (4.8). */
static void
record_defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->psd = 'u';
	r->adkim = r->aspf = 'r';
	r->fo = DMARC_FO_0;
	r->pct = -1;
}

/*
 * Split a trimmed "name=value" segment into its trimmed halves: 1, or 0
 * (both halves empty) when there is no "=".
 */
static int
tag_split(const struct span *seg, struct span *name, struct span *value)
{
	const char	*eq;

	memset(name, 0, sizeof(*name));
	memset(value, 0, sizeof(*value));
	if ((eq = memchr(seg->s, '=', seg->len)) == NULL)
		return 0;
	name->s = seg->s;
	name->len = eq - seg->s;
	value->s = eq + 1;
	value->len = seg->s + seg->len - value->s;
	trim(name);
	trim(value);
	return 1;
}

/* 4.7: v MUST be the first tag and exactly "DMARC1". */
static int
starts_dmarc1(const struct span *seg)
{
	struct span	 name, value;

	return tag_split(seg, &name, &value) && span_eq(&name, "v") &&
	    value.len == 6 && memcmp(value.s, "DMARC1", 6) == 0;
}

/* Historic pct (9.3, A.6): kept for display only; t= replaces it. */
static void
parse_pct(const struct span *v, int *pct)
{
	size_t	 i;

	for (i = 0; i < v->len && i < 3; i++)
		if (!isdigit((unsigned char)v->s[i]))
			break;
	if (i != v->len)
		return;
	*pct = 0;
	for (i = 0; i < v->len; i++)
		*pct = *pct * 10 + v->s[i] - '0';
	if (*pct > 100)
		*pct = -1;
}

/* 4.8: a bad value gives way to the default, with a note saying so. */
static void
tag_value(struct dmarc_record *r, struct record_parse *st, enum rtag tag,
    const struct span *value)
{
	enum dmarc_policy pol;
	int		 c;

	switch (tag) {
	case TAG_P:
	case TAG_SP:
	case TAG_NP:
		if (parse_request(value, &pol) == -1) {
			st->bad_policy = 1;
			note(r, "invalid policy \"%.*s\"", SPAN_NOTE(value));
			break;
		}
		if (tag == TAG_P)
			r->p = pol;
		else if (tag == TAG_SP)
			r->sp = pol;
		else
			r->np = pol;
		break;
	case TAG_PSD:
		if ((c = parse_letter(value, "ynu")) == -1)
			note(r, "invalid psd \"%.*s\"", SPAN_NOTE(value));
		else
			r->psd = c;
		break;
	case TAG_T:
		if ((c = parse_letter(value, "yn")) == -1)
			note(r, "invalid t \"%.*s\"", SPAN_NOTE(value));
		else
			r->testing = c == 'y';
		break;
	case TAG_ADKIM:
	case TAG_ASPF:
		if ((c = parse_letter(value, "rs")) == -1)
			note(r, "invalid alignment \"%.*s\"", SPAN_NOTE(value));
		else if (tag == TAG_ADKIM)
			r->adkim = c;
		else
			r->aspf = c;
		break;
	case TAG_RUA:
	case TAG_RUF:
		parse_urilist(r, value, tag == TAG_RUF);
		break;
	case TAG_FO:
		if (parse_fo(value, &r->fo) == -1)
			note(r, "invalid fo \"%.*s\"", SPAN_NOTE(value));
		break;
	case TAG_PCT:
		parse_pct(value, &r->pct);
		break;
	case TAG_RF:
	case TAG_RI:
		/* Historic (9.3): no longer processed. */
		break;
	default:
		break;
	}
}

/* One segment after v=DMARC1: a tag kept, noted as ignored, or skipped. */
static void
record_tag(struct dmarc_record *r, struct record_parse *st,
    const struct span *seg)
{
	struct span	 name, value;
	enum rtag	 tag;
	size_t		 i;

	if (seg->len == 0)
		return;		/* trailing or doubled separator */
	if (!tag_split(seg, &name, &value) || name.len == 0) {
		note(r, "ignored \"%.*s\": not tag=value", SPAN_NOTE(seg));
		return;
	}
	for (i = 0; i < name.len; i++)
		if (!isalpha((unsigned char)name.s[i]))
			break;
	if (i < name.len) {
		note(r, "ignored bad tag name \"%.*s\"", SPAN_NOTE(&name));
		return;
	}
	for (tag = 0; tag < TAG_COUNT; tag++)
		if (span_eq(&name, tag_names[tag]))
			break;
	if (tag == TAG_COUNT)
		return;		/* 4.7: unknown tags MUST be ignored */
	/*
	 * The tag-value syntax is DKIM's (RFC 6376 3.2), where a repeated
	 * tag makes the whole list invalid.
	 */
	if (st->seen & (1U << tag)) {
		if (st->dup == -1)
			st->dup = tag;
		return;
	}
	st->seen |= 1U << tag;
	if (!value_ok(&value)) {
		if (tag <= TAG_NP)
			st->bad_policy = 1;
		note(r, "ignored tag \"%.*s\": bad value", SPAN_NOTE(&name));
		return;
	}
	tag_value(r, st, tag, &value);
}

/* The rules that apply to the record as a whole, once every tag is read. */
static int
record_finish(struct dmarc_record *r, const struct record_parse *st,
    char *err, size_t errlen)
{
	if (st->dup != -1) {
		snprintf(err, errlen, "tag \"%s\" appears more than once",
		    tag_names[st->dup]);
		return -2;
	}
	if (st->bad_policy) {
		/* 4.10.1: with a valid rua, act as if p=none. */
		if (r->rua_valid == 0) {
			snprintf(err, errlen, "invalid p, sp or np and no "
			    "valid rua URI");
			return -2;
		}
		r->p = DMARC_POLICY_NONE;
		r->sp = r->np = DMARC_POLICY_ABSENT;
		r->p_none_forced = 1;
	}
	/* 4.7: fo MUST be ignored without ruf. */
	if ((st->seen & (1U << TAG_RUF)) == 0 && r->fo != DMARC_FO_0) {
		r->fo = DMARC_FO_0;
		strlcat(r->notes, r->notes[0] ? "; fo ignored without ruf" :
		    "fo ignored without ruf", sizeof(r->notes));
	}
	/* 4.7: a record without p is treated as p=none. */
	if (r->p == DMARC_POLICY_ABSENT)
		r->p = DMARC_POLICY_NONE;
	return 0;
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
    char *err, size_t errlen)
{
	struct record_parse	 st;
	struct span		 seg;
	const char		*p, *end, *semi;

	record_defaults(r);
	memset(&st, 0, sizeof(st));
	st.dup = -1;
	if (errlen > 0)
		err[0] = '\0';
	if (len > DMARC_RECORD_MAX) {
		snprintf(err, errlen, "record longer than %d bytes",
		    DMARC_RECORD_MAX);
		return -1;
	}
	for (p = txt, end = txt + len; ; p = semi + 1) {
		semi = memchr(p, ';', end - p);
		seg.s = p;
		seg.len = (semi ? semi : end) - p;
		trim(&seg);
		if (p != txt)
			record_tag(r, &st, &seg);
		else if (starts_dmarc1(&seg))
			st.seen |= 1U << TAG_V;
		else {
			snprintf(err, errlen, "not a DMARC record: "
			    "does not start with v=DMARC1");
			return -1;
		}
		if (semi == NULL)
			break;
	}
	return record_finish(r, &st, err, errlen);
}

/* --- From field(s): RFC 5322 3.4 address-list --- */

enum tok {
	T_END, T_ERR, T_ATOM, T_QSTR, T_DLIT, T_LT, T_GT, T_COLON, T_SEMI,
	T_AT, T_COMMA
};

struct lexer {
	const char	*p, *end;
	enum tok	 t;		/* current token */
	const char	*ts;		/* its text (atoms and literals) */
	size_t		 tlen;
	const char	*why;
};

#define COMMENT_DEPTH_MAX	16

static int
atext(unsigned char c)
{
	/* RFC 5322 3.2.3 atext, "." for dot-atoms, UTF-8 (RFC 6532 3.2) */
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL ||
	    c >= 0x80;
}

static void
lex(struct lexer *lx)
{
	int	 depth;

	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
		    *lx->p == '\r' || *lx->p == '\n'))
			lx->p++;
		if (lx->p >= lx->end || *lx->p != '(')
			break;
		/* 3.2.2: comments nest; quoted-pairs inside. */
		depth = 0;
		while (lx->p < lx->end) {
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
			else if (*lx->p == '(' && ++depth > COMMENT_DEPTH_MAX)
				goto bad_comment;
			else if (*lx->p == ')' && --depth == 0)
				break;
			lx->p++;
		}
		if (lx->p >= lx->end) {
bad_comment:
			lx->t = T_ERR;
			lx->why = "unterminated or too deep comment";
			return;
		}
		lx->p++;
	}
	lx->ts = lx->p;
	if (lx->p >= lx->end) {
		lx->t = T_END;
		return;
	}
	switch (*lx->p) {
	case '<': lx->t = T_LT; lx->p++; return;
	case '>': lx->t = T_GT; lx->p++; return;
	case ':': lx->t = T_COLON; lx->p++; return;
	case ';': lx->t = T_SEMI; lx->p++; return;
	case '@': lx->t = T_AT; lx->p++; return;
	case ',': lx->t = T_COMMA; lx->p++; return;
	case '"':
		for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++)
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
		if (lx->p >= lx->end) {
			lx->t = T_ERR;
			lx->why = "unterminated quoted string";
			return;
		}
		lx->p++;
		lx->t = T_QSTR;
		lx->tlen = lx->p - lx->ts;
		return;
	case '[':
		for (lx->p++; lx->p < lx->end && *lx->p != ']'; lx->p++)
			if (*lx->p == '\\' || *lx->p == '[')
				break;
		if (lx->p >= lx->end || *lx->p != ']') {
			lx->t = T_ERR;
			lx->why = "bad domain literal";
			return;
		}
		lx->p++;
		lx->t = T_DLIT;
		lx->tlen = lx->p - lx->ts;
		return;
	}
	if (!atext((unsigned char)*lx->p)) {
		lx->t = T_ERR;
		lx->why = "unexpected character";
		return;
	}
	while (lx->p < lx->end && atext((unsigned char)*lx->p))
		lx->p++;
	lx->t = T_ATOM;
	lx->tlen = lx->p - lx->ts;
}

struct from_state {
	char	 domains[DMARC_MAX_FROM_ADDRS][DMARC_DOMAIN_MAX];
	char	 locals[DMARC_MAX_FROM_ADDRS][DMARC_LOCAL_MAX];
	size_t	 n;
	char	*err;
	size_t	 errlen;
	/* the words of the address being read: its local part, at the "@" */
	char	 local[DMARC_LOCAL_MAX];
	size_t	 locallen;
	int	 local_long;
	int	 want_locals;	/* whole mailboxes, not only domains */
};

static int
from_fail(struct from_state *st, const char *why)
{
	if (st->err[0] == '\0')
		snprintf(st->err, st->errlen, "From: %s", why);
	return -1;
}

/*
 * The domain after "@": dot-atom or obs-domain (atoms and dots with CFWS
 * between them).  It must be a host name: a domain literal has no DMARC
 * policy; U-labels (RFC 6532 UTF-8) become A-labels first (RFC 9989
 * 5.3.1: the lookups and comparisons use the A-label form).
 */
static int
take_domain(struct lexer *lx, struct from_state *st)
{
	char	 d[DMARC_DOMAIN_MAX + 2], *alabel;
	size_t	 len = 0, i, label = 0;

	if (lx->t == T_DLIT)
		return from_fail(st, "domain literal has no DMARC policy");
	if (lx->t != T_ATOM)
		return from_fail(st, "no domain after \"@\"");
	do {
		if (len > 0 && d[len - 1] != '.' && lx->ts[0] != '.')
			break;
		if (len + lx->tlen > DMARC_DOMAIN_MAX)
			return from_fail(st, "domain too long");
		memcpy(d + len, lx->ts, lx->tlen);
		len += lx->tlen;
		lex(lx);
	} while (lx->t == T_ATOM);
	if (len > 0 && d[len - 1] == '.')
		len--;		/* an absolute name */
	d[len] = '\0';
	if (len == 0 || len > 253)
		return from_fail(st, "bad domain length");
	for (i = 0; i < len; i++)
		if ((unsigned char)d[i] >= 0x80)
			break;
	if (i < len) {
		if (idn2_to_ascii_8z(d, &alabel, IDN2_NONTRANSITIONAL |
		    IDN2_NFC_INPUT) != IDN2_OK)
			return from_fail(st, "invalid internationalized "
			    "domain name");
		len = strlcpy(d, alabel, sizeof(d));
		idn2_free(alabel);
		if (len == 0 || len > 253)
			return from_fail(st, "bad domain length");
	}
	for (i = 0; i < len; i++) {
		unsigned char	 c = d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return from_fail(st, "bad domain name");
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return from_fail(st, "bad domain name");
		if ((label == 0 && c == '-') || ++label > 63)
			return from_fail(st, "bad domain name");
		d[i] = tolower(c);
	}
	if (d[len - 1] == '-')
		return from_fail(st, "bad domain name");
	if (st->n >= DMARC_MAX_FROM_ADDRS)
		return from_fail(st, "too many mailboxes");
	strlcpy(st->locals[st->n], st->local, sizeof(st->locals[0]));
	strlcpy(st->domains[st->n++], d, sizeof(st->domains[0]));
	return 0;
}

/*
 * The local part as its words were written, CFWS between them dropped
 * (obs-local-part); a quoted string keeps its quotes.  A display name
 * goes through here too and is forgotten at "<".
 */
static void
local_reset(struct from_state *st)
{
	st->local[0] = '\0';
	st->locallen = 0;
	st->local_long = 0;
}

static void
local_word(struct lexer *lx, struct from_state *st)
{
	if (st->locallen + lx->tlen >= sizeof(st->local)) {
		st->local_long = 1;
		return;
	}
	memcpy(st->local + st->locallen, lx->ts, lx->tlen);
	st->locallen += lx->tlen;
	st->local[st->locallen] = '\0';
}

/* addr-spec after the local part's words: "@" domain. */
static int
addr_spec_rest(struct lexer *lx, struct from_state *st, size_t words)
{
	if (words == 0)
		return from_fail(st, "empty local part");
	/* RFC 5321 4.5.3.1.1 allows 64 octets; we keep up to 255. */
	if (st->want_locals && st->local_long)
		return from_fail(st, "local part too long");
	if (lx->t != T_AT)
		return from_fail(st, "mailbox without a domain");
	lex(lx);
	return take_domain(lx, st);
}

/* angle-addr: "<" [obs-route] addr-spec ">" (3.4, 4.4). */
static int
angle_addr(struct lexer *lx, struct from_state *st)
{
	size_t	 words = 0;

	lex(lx);
	if (lx->t == T_AT) {
		/* obs-route: "@a,@b:"; skipped. */
		while (lx->t == T_AT || lx->t == T_COMMA || lx->t == T_ATOM)
			lex(lx);
		if (lx->t != T_COLON)
			return from_fail(st, "bad route");
		lex(lx);
	}
	local_reset(st);
	while (lx->t == T_ATOM || lx->t == T_QSTR) {
		local_word(lx, st);
		words++;
		lex(lx);
	}
	if (lx->t == T_GT && words == 0)
		return from_fail(st, "empty address <>");
	if (addr_spec_rest(lx, st, words) == -1)
		return -1;
	if (lx->t != T_GT)
		return from_fail(st, "expected \">\"");
	lex(lx);
	return 0;
}

/* mailbox, or (when allowed) a group: phrase ":" [mailbox-list] ";". */
static int
address(struct lexer *lx, struct from_state *st, int group_ok)
{
	size_t	 words = 0;

	local_reset(st);
	while (lx->t == T_ATOM || lx->t == T_QSTR) {
		local_word(lx, st);
		words++;
		lex(lx);
	}
	switch (lx->t) {
	case T_LT:
		return angle_addr(lx, st);
	case T_AT:
		return addr_spec_rest(lx, st, words);
	case T_COLON:
		if (!group_ok)
			return from_fail(st, "nested group");
		lex(lx);
		for (;;) {
			if (lx->t == T_SEMI) {
				lex(lx);
				return 0;
			}
			if (lx->t == T_COMMA) {
				lex(lx);
				continue;
			}
			if (lx->t == T_END)
				return from_fail(st, "unterminated group");
			if (address(lx, st, 0) == -1)
				return -1;
			if (lx->t != T_COMMA && lx->t != T_SEMI)
				return from_fail(st, "expected \",\" or "
				    "\";\" in group");
		}
	case T_ERR:
		return from_fail(st, lx->why);
	default:
		return from_fail(st, words ? "mailbox without a domain" :
		    "syntax error");
	}
}

static int
address_list(const char *v, size_t len, struct from_state *st)
{
	struct lexer	 lx;

	memset(&lx, 0, sizeof(lx));
	lx.p = v;
	lx.end = v + len;
	lex(&lx);
	for (;;) {
		if (lx.t == T_END)
			return 0;
		if (lx.t == T_COMMA) {	/* obs-addr-list: empty members */
			lex(&lx);
			continue;
		}
		if (address(&lx, st, 1) == -1)
			return -1;
		if (lx.t == T_ERR)
			return from_fail(st, lx.why);
		if (lx.t != T_COMMA && lx.t != T_END)
			return from_fail(st, "expected \",\" between "
			    "addresses");
	}
}

/* Every From field's mailboxes into st; -1 with the reason in st->err. */
static int
from_fields_parse(const char *const *fields, size_t nfields,
    struct from_state *st)
{
	size_t	 i, len;

	/* 4.2, 5.3.1: exactly one From field is needed. */
	if (nfields == 0)
		return from_fail(st, "no From field");
	for (i = 0; i < nfields; i++) {
		if (fields[i] == NULL)
			return from_fail(st, "missing value");
		len = strlen(fields[i]);
		if (len > DMARC_MAX_FROM_LEN)
			return from_fail(st, "field too long");
		if (address_list(fields[i], len, st) == -1)
			return -1;
	}
	if (st->n == 0)
		return from_fail(st, "no mailbox with a domain");
	return 0;
}

int
dmarc_author_domain(const char *const *fields, size_t nfields,
    char *domain, size_t domainlen, char *err, size_t errlen)
{
	struct from_state	*st;
	size_t			 i;
	int			 rv = -1;

	if (errlen > 0)
		err[0] = '\0';
	if (domainlen > 0)
		domain[0] = '\0';
	st = xcalloc(1, sizeof(*st));
	st->err = err;
	st->errlen = errlen;
	if (from_fields_parse(fields, nfields, st) == -1) {
		/* "no From field" reads better without the prefix */
		if (nfields == 0)
			snprintf(err, errlen, "no From field");
		goto out;
	}
	/*
	 * 5.3.1, 11.5: more than one Author Domain makes DMARC validation
	 * impossible here; a caller that evaluates each of them takes them
	 * from dmarc_author_domains().  Several mailboxes in one domain are
	 * one Author Domain.
	 */
	for (i = 1; i < st->n; i++)
		if (strcmp(st->domains[i], st->domains[0]) != 0) {
			snprintf(err, errlen, "From: %zu mailboxes in "
			    "different domains (%s, %s)", st->n,
			    st->domains[0], st->domains[i]);
			goto out;
		}
	if (strlcpy(domain, st->domains[0], domainlen) >= domainlen) {
		snprintf(err, errlen, "domain too long");
		goto out;
	}
	rv = 0;
out:
	free(st);
	return rv;
}

int
dmarc_author_domains(const char *const *fields, size_t nfields,
    char (*domains)[DMARC_DOMAIN_MAX], size_t max, char *err, size_t errlen)
{
	struct from_state	*st;
	size_t			 i, j, n = 0;
	int			 rv = -1;

	if (errlen > 0)
		err[0] = '\0';
	st = xcalloc(1, sizeof(*st));
	st->err = err;
	st->errlen = errlen;
	if (from_fields_parse(fields, nfields, st) == -1) {
		if (nfields == 0)
			snprintf(err, errlen, "no From field");
		goto out;
	}
	/* 11.5: each distinct domain once, in the order they appear */
	for (i = 0; i < st->n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(st->domains[j], st->domains[i]) == 0)
				break;
		if (j < i)
			continue;
		if (n < max)
			strlcpy(domains[n], st->domains[i], DMARC_DOMAIN_MAX);
		n++;
	}
	rv = n;
out:
	free(st);
	return rv;
}

int
dmarc_from_mailboxes(const char *const *fields, size_t nfields,
    char (*mailboxes)[DMARC_MAILBOX_MAX], size_t max, char *err,
    size_t errlen)
{
	struct from_state	*st;
	size_t			 i;
	int			 rv = -1;

	if (errlen > 0)
		err[0] = '\0';
	st = xcalloc(1, sizeof(*st));
	st->err = err;
	st->errlen = errlen;
	st->want_locals = 1;
	if (from_fields_parse(fields, nfields, st) == -1) {
		if (nfields == 0)
			snprintf(err, errlen, "no From field");
		goto out;
	}
	if (st->n > max) {
		snprintf(err, errlen, "From: more than %zu mailboxes", max);
		goto out;
	}
	for (i = 0; i < st->n; i++)
		snprintf(mailboxes[i], DMARC_MAILBOX_MAX, "%s@%s",
		    st->locals[i], st->domains[i]);
	rv = st->n;
out:
	free(st);
	return rv;
}

/*
 * SPF record parser (RFC 7208 4.5, 4.6.1, 5, 6, 12): terms separated by
 * spaces, qualifiers, the eight mechanisms with their arguments and dual
 * CIDR lengths, modifiers (redirect and exp at most once, unknown ones
 * checked and kept), domain-specs checked by spf_macro.c.  Any syntax error
 * rejects the whole record, as 4.6 requires.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "auth/spf_record.h"
#include "util.h"

void
spf_record_free(struct spf_record *rec)
{
	size_t	 i;

	for (i = 0; i < rec->nterms; i++) {
		free(rec->terms[i].text);
		free(rec->terms[i].spec);
	}
	free(rec->terms);
	memset(rec, 0, sizeof(*rec));
}

static int
perr(char *err, size_t errlen, const char *term, size_t tlen, const char *msg)
{
	if (tlen > 80)
		tlen = 80;
	snprintf(err, errlen, "%s in \"%.*s\"", msg, (int)tlen, term);
	return -1;
}

/* ip4-cidr-length / ip6-cidr-length: no leading zeros, within max. */
static int
parse_cidr(const char *s, size_t len, int max)
{
	size_t	 i;
	int	 v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > max ? -1 : v;
}

/*
 * Split a trailing dual-cidr-length off [s, s+*len): "/N", "//M", "/N//M".
 */
static int
split_cidr(const char *s, size_t *len, int *c4, int *c6, int dual)
{
	size_t	 n = *len, i;

	*c4 = *c6 = -1;
	for (i = n; i > 0 && isdigit((unsigned char)s[i - 1]); i--)
		;
	if (i == n || i == 0 || s[i - 1] != '/')
		return 0;
	if (dual && i >= 2 && s[i - 2] == '/') {
		if ((*c6 = parse_cidr(s + i, n - i, 128)) == -1)
			return -1;
		n = i - 2;
		for (i = n; i > 0 && isdigit((unsigned char)s[i - 1]); i--)
			;
		if (i == n || i == 0 || s[i - 1] != '/') {
			*len = n;
			return 0;
		}
	}
	if (i >= 2 && s[i - 2] == '/')
		return -1;
	if ((*c4 = parse_cidr(s + i, n - i, dual ? 32 : 128)) == -1)
		return -1;
	*len = i - 1;
	return 0;
}

static int
parse_term(const char *t, size_t tl, struct spf_term *term, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;
		enum spf_kind	 kind;
	} mechs[] = {
		{ "all", K_ALL }, { "include", K_INCLUDE }, { "a", K_A },
		{ "mx", K_MX }, { "ptr", K_PTR }, { "ip4", K_IP4 },
		{ "ip6", K_IP6 }, { "exists", K_EXISTS },
	};
	const char	*p = t;
	size_t		 nl, rl, i;
	char		 addr[64];
	int		 found = 0;

	memset(term, 0, sizeof(*term));
	term->text = xstrndup(t, tl);
	term->qual = '+';
	term->cidr4 = term->cidr6 = -1;
	if (strchr("+-~?", *p) != NULL) {
		term->qual = *p++;
		tl--;
	}
	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	if (tl == 0 || !isalpha((unsigned char)p[0]))
		return perr(err, errlen, t, tl, "bad term");
	for (nl = 1; nl < tl && (isalnum((unsigned char)p[nl]) ||
	    strchr("-_.", p[nl]) != NULL); nl++)
		;
	rl = tl - nl;

	if (rl > 0 && p[nl] == '=') {
		const char *v = p + nl + 1;
		size_t vl = rl - 1;

		if (term->qual != '+' || p != t)
			return perr(err, errlen, t, tl,
			    "qualifier on modifier");
		if (nl == 8 && strncasecmp(p, "redirect", 8) == 0)
			term->kind = K_REDIRECT;
		else if (nl == 3 && strncasecmp(p, "exp", 3) == 0)
			term->kind = K_EXP;
		else
			term->kind = K_UNKNOWN;
		if (spf_macro_check(v, vl, term->kind == K_UNKNOWN ? 0 :
		    SPF_MACRO_DOMAIN, err, errlen) == -1)
			return perr(err, errlen, t, tl, "bad modifier value");
		term->spec = xstrndup(v, vl);
		term->speclen = vl;
		return 0;
	}
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (strlen(mechs[i].name) == nl &&
		    strncasecmp(p, mechs[i].name, nl) == 0) {
			term->kind = mechs[i].kind;
			found = 1;
			break;
		}
	}
	if (!found)
		return perr(err, errlen, t, tl, "unknown mechanism");
	p += nl;
	switch (term->kind) {
	case K_ALL:
		if (rl != 0)
			return perr(err, errlen, t, tl, "bad all");
		return 0;
	case K_INCLUDE:
	case K_EXISTS:
		if (rl < 2 || p[0] != ':')
			return perr(err, errlen, t, tl, "missing domain-spec");
		if (spf_macro_check(p + 1, rl - 1, SPF_MACRO_DOMAIN, err,
		    errlen) == -1)
			return perr(err, errlen, t, tl, "bad domain-spec");
		term->spec = xstrndup(p + 1, rl - 1);
		term->speclen = rl - 1;
		return 0;
	case K_A:
	case K_MX:
	case K_PTR:
		if (term->kind != K_PTR &&
		    split_cidr(p, &rl, &term->cidr4, &term->cidr6, 1) == -1)
			return perr(err, errlen, t, tl, "bad CIDR length");
		if (rl == 0)
			return 0;
		if (p[0] != ':' || rl < 2)
			return perr(err, errlen, t, tl, "bad mechanism");
		if (spf_macro_check(p + 1, rl - 1, SPF_MACRO_DOMAIN, err,
		    errlen) == -1)
			return perr(err, errlen, t, tl, "bad domain-spec");
		term->spec = xstrndup(p + 1, rl - 1);
		term->speclen = rl - 1;
		return 0;
	case K_IP4:
	case K_IP6:
		if (rl < 2 || p[0] != ':')
			return perr(err, errlen, t, tl, "missing address");
		p++;
		rl--;
		if (split_cidr(p, &rl, &term->cidr4, &term->cidr6, 0) == -1)
			return perr(err, errlen, t, tl, "bad CIDR length");
		if (term->kind == K_IP4 && term->cidr4 > 32)
			return perr(err, errlen, t, tl, "bad CIDR length");
		if (rl == 0 || rl >= sizeof(addr))
			return perr(err, errlen, t, tl, "bad address");
		memcpy(addr, p, rl);
		addr[rl] = '\0';
		if (inet_pton(term->kind == K_IP4 ? AF_INET : AF_INET6, addr,
		    term->net) != 1)
			return perr(err, errlen, t, tl, "bad address");
		return 0;
	default:
		return perr(err, errlen, t, tl, "bad term");
	}
}

int
spf_record_parse(const char *s, struct spf_record *rec, char *err,
    size_t errlen)
{
	const char	*p;
	size_t		 tl;

	memset(rec, 0, sizeof(*rec));
	rec->redirect = rec->exp = -1;
	/* RFC 7208 4.5: "v=spf1" then SP or the end. */
	if (strncasecmp(s, "v=spf1", 6) != 0 || (s[6] != '\0' && s[6] != ' '))
		return perr(err, errlen, s, strlen(s), "not an SPF record");
	p = s + 6;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (tl = 0; p[tl] != '\0' && p[tl] != ' '; tl++)
			;
		if (rec->nterms >= SPF_MAX_TERMS) {
			snprintf(err, errlen, "more than %d terms",
			    SPF_MAX_TERMS);
			goto fail;
		}
		rec->terms = xreallocarray(rec->terms, rec->nterms + 1,
		    sizeof(*rec->terms));
		if (parse_term(p, tl, &rec->terms[rec->nterms], err, errlen)
		    == -1) {
			rec->nterms++;
			goto fail;
		}
		switch (rec->terms[rec->nterms].kind) {
		case K_REDIRECT:
			/* RFC 7208 6: at most once each. */
			if (rec->redirect != -1) {
				snprintf(err, errlen, "redirect= twice");
				rec->nterms++;
				goto fail;
			}
			rec->redirect = (int)rec->nterms;
			break;
		case K_EXP:
			if (rec->exp != -1) {
				snprintf(err, errlen, "exp= twice");
				rec->nterms++;
				goto fail;
			}
			rec->exp = (int)rec->nterms;
			break;
		case K_ALL:
			rec->has_all = 1;
			break;
		default:
			break;
		}
		rec->nterms++;
		p += tl;
	}
	return 0;
fail:
	spf_record_free(rec);
	return -1;
}

int
spf_record_check(const char *record, char *err, size_t errlen)
{
	struct spf_record	 rec;

	if (spf_record_parse(record, &rec, err, errlen) == -1)
		return -1;
	spf_record_free(&rec);
	return 0;
}

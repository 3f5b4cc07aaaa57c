/*
 * SPF macros (RFC 7208 7): syntax (7.1), the letters (7.2), transformers,
 * delimiters, URL escaping of upper-case letters and truncation (7.3), and
 * the domain-spec/domain-end rule of 4.8 and 7.1.  Also the domain
 * validation of 4.3.  No DNS here: the caller supplies %{p}.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "util.h"

#define MACRO_MAX_DIGITS	1000	/* any larger value keeps every part */

static int
merr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		strlcpy(err, msg, errlen);
	return -1;
}

static int
is_delim(int c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static int
is_letter(int c, int flags)
{
	c = tolower(c);
	if (strchr("slodiphv", c) != NULL)
		return 1;
	/* RFC 7208 7.2: c, r and t only in "exp" text. */
	if ((flags & SPF_MACRO_EXP) && strchr("crt", c) != NULL)
		return 1;
	return 0;
}

/* toplabel of RFC 7208 7.1 (the LDH rule, not all-numeric). */
static int
toplabel_valid(const char *s, size_t len)
{
	size_t	 i;
	int	 alpha = 0, hyphen = 0;

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (isalpha(c))
			alpha = 1;
		else if (c == '-')
			hyphen = 1;
		else if (!isdigit(c))
			return 0;
	}
	if (s[0] == '-' || s[len - 1] == '-')
		return 0;
	return alpha || hyphen;
}

/*
 * Walk a macro-string: each literal run and each macro-expand is handed to
 * the callback (NULL for syntax only).  Returns the offset just past the
 * last macro-expand (for the domain-end rule), or -1.
 */
struct mstate {
	const struct spf_macro_env	*env;
	char				*out;
	size_t				 outlen;
	size_t				 o;
	int				 overflow;
};

static void
emit(struct mstate *m, const char *s, size_t len)
{
	if (m == NULL || m->out == NULL)
		return;
	if (len >= m->outlen - m->o) {
		m->overflow = 1;
		return;
	}
	memcpy(m->out + m->o, s, len);
	m->o += len;
	m->out[m->o] = '\0';
}

static void
emit_url(struct mstate *m, const char *s, size_t len)
{
	char	 hex[4];
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		/* RFC 3986 unreserved characters stay as they are. */
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			emit(m, s + i, 1);
		else {
			snprintf(hex, sizeof(hex), "%%%02X", c);
			emit(m, hex, 3);
		}
	}
}

static const char *
letter_value(const struct spf_macro_env *env, int c, char *buf, size_t buflen)
{
	const uint8_t	*b;
	size_t		 o = 0;
	int		 i, n;

	switch (tolower(c)) {
	case 's': return env->sender ? env->sender : "";
	case 'l': return env->local ? env->local : "postmaster";
	case 'o': return env->sender_domain ? env->sender_domain : "";
	case 'd': return env->domain ? env->domain : "";
	case 'h': return env->helo ? env->helo : "";
	case 'p': return env->validated ? env->validated : "unknown";
	case 'r': return env->receiver ? env->receiver : "unknown";
	case 'v': return env->af == AF_INET6 ? "ip6" : "in-addr";
	case 't':
		snprintf(buf, buflen, "%lld", (long long)env->now);
		return buf;
	case 'c':
		if (inet_ntop(env->af, &env->ip, buf, buflen) == NULL)
			return "";
		return buf;
	case 'i':
		if (env->af == AF_INET) {
			if (inet_ntop(AF_INET, &env->ip.v4, buf, buflen) ==
			    NULL)
				return "";
			return buf;
		}
		/* RFC 7208 7.3: IPv6 as dot-separated nibbles. */
		b = env->ip.v6.s6_addr;
		for (i = 0; i < 16; i++) {
			n = snprintf(buf + o, buflen - o, "%s%x.%x",
			    i ? "." : "", b[i] >> 4, b[i] & 0xf);
			if (n < 0 || (size_t)n >= buflen - o)
				return "";
			o += (size_t)n;
		}
		return buf;
	}
	return "";
}

/* Apply transformers and delimiters (RFC 7208 7.3) to one value. */
static void
transform(struct mstate *m, const char *val, size_t digits, int reverse,
    const char *delims, int url)
{
	size_t	 len = strlen(val), np = 0, i, start, first, k;
	size_t	*ps, *pl;

	ps = xcalloc(len + 1, sizeof(*ps));
	pl = xcalloc(len + 1, sizeof(*pl));
	start = 0;
	for (i = 0; i <= len; i++) {
		if (i == len || strchr(delims, val[i]) != NULL) {
			ps[np] = start;
			pl[np] = i - start;
			np++;
			start = i + 1;
		}
	}
	if (reverse) {
		for (i = 0; i < np / 2; i++) {
			size_t ts = ps[i], tl = pl[i];

			ps[i] = ps[np - 1 - i];
			pl[i] = pl[np - 1 - i];
			ps[np - 1 - i] = ts;
			pl[np - 1 - i] = tl;
		}
	}
	first = digits > 0 && digits < np ? np - digits : 0;
	for (k = first; k < np; k++) {
		if (k > first)
			emit(m, ".", 1);
		if (url)
			emit_url(m, val + ps[k], pl[k]);
		else
			emit(m, val + ps[k], pl[k]);
	}
	free(ps);
	free(pl);
}

static int
macro_walk(const char *s, size_t len, int flags, struct mstate *m,
    char *err, size_t errlen, size_t *last_macro_end)
{
	char	 valbuf[128];
	size_t	 i = 0;

	*last_macro_end = 0;
	while (i < len) {
		unsigned char c = s[i];

		if (c != '%') {
			/* macro-literal: %x21-24 / %x26-7E (and SP in exp) */
			if (!(c >= 0x21 && c <= 0x7e) &&
			    !(c == ' ' && (flags & SPF_MACRO_EXP)))
				return merr(err, errlen,
				    "invalid character in macro-string");
			emit(m, s + i, 1);
			i++;
			continue;
		}
		if (i + 1 >= len)
			return merr(err, errlen, "'%' at end of macro-string");
		switch (s[i + 1]) {
		case '%':
			emit(m, "%", 1);
			i += 2;
			*last_macro_end = i;
			continue;
		case '_':
			emit(m, " ", 1);
			i += 2;
			*last_macro_end = i;
			continue;
		case '-':
			emit(m, "%20", 3);
			i += 2;
			*last_macro_end = i;
			continue;
		case '{':
			break;
		default:
			/* RFC 7208 7.1: any other '%' is a syntax error. */
			return merr(err, errlen, "'%' not followed by {, %, _ "
			    "or -");
		}
		{
			size_t	 j = i + 2, digits = 0, nd = 0;
			int	 letter, reverse = 0;
			char	 delims[8];
			size_t	 ndel = 0;

			if (j >= len || !is_letter((unsigned char)s[j], flags))
				return merr(err, errlen,
				    "invalid macro letter");
			letter = (unsigned char)s[j++];
			while (j < len && isdigit((unsigned char)s[j])) {
				digits = digits * 10 + (s[j] - '0');
				if (digits > MACRO_MAX_DIGITS)
					digits = MACRO_MAX_DIGITS;
				nd++;
				j++;
			}
			/* RFC 7208 7.3: a DIGIT transformer is nonzero. */
			if (nd > 0 && digits == 0)
				return merr(err, errlen,
				    "zero digit transformer");
			if (j < len && (s[j] == 'r' || s[j] == 'R')) {
				reverse = 1;
				j++;
			}
			delims[0] = '\0';
			while (j < len && is_delim((unsigned char)s[j])) {
				if (strchr(delims, s[j]) == NULL &&
				    ndel < sizeof(delims) - 1) {
					delims[ndel++] = s[j];
					delims[ndel] = '\0';
				}
				j++;
			}
			if (j >= len || s[j] != '}')
				return merr(err, errlen, "unterminated macro");
			if (m != NULL && m->out != NULL) {
				const char *val = letter_value(m->env, letter,
				    valbuf, sizeof(valbuf));

				transform(m, val, digits, reverse,
				    ndel ? delims : ".", isupper(letter));
			}
			i = j + 1;
			*last_macro_end = i;
		}
	}
	return 0;
}

static int
domain_end_check(const char *s, size_t len, size_t last_macro_end,
    char *err, size_t errlen)
{
	size_t	 end = len, dot;

	if (len == 0)
		return merr(err, errlen, "empty domain-spec");
	if (last_macro_end == len)
		return 0;		/* domain-end = macro-expand */
	/* domain-end = "." toplabel [ "." ] */
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > last_macro_end; dot--)
		if (s[dot - 1] == '.')
			break;
	if (dot <= last_macro_end)
		return merr(err, errlen, "domain-spec does not end in "
		    "\".\" toplabel or a macro");
	if (!toplabel_valid(s + dot, end - dot))
		return merr(err, errlen, "invalid top label in domain-spec");
	return 0;
}

int
spf_macro_check(const char *s, size_t len, int flags, char *err,
    size_t errlen)
{
	size_t	 last;

	if (macro_walk(s, len, flags, NULL, err, errlen, &last) == -1)
		return -1;
	if (flags & SPF_MACRO_DOMAIN)
		return domain_end_check(s, len, last, err, errlen);
	return 0;
}

int
spf_macro_expand(const char *s, size_t len, const struct spf_macro_env *env,
    int flags, char *out, size_t outlen, char *err, size_t errlen)
{
	struct mstate	 m;
	size_t		 last;

	if (outlen == 0)
		return merr(err, errlen, "no room");
	memset(&m, 0, sizeof(m));
	m.env = env;
	m.out = out;
	m.outlen = outlen;
	out[0] = '\0';
	if (macro_walk(s, len, flags, &m, err, errlen, &last) == -1)
		return -1;
	if ((flags & SPF_MACRO_DOMAIN) &&
	    domain_end_check(s, len, last, err, errlen) == -1)
		return -1;
	if (m.overflow)
		return merr(err, errlen, "macro expansion too long");
	return (int)m.o;
}

int
spf_macro_uses_p(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i + 2 < len; i++) {
		if (s[i] == '%' && s[i + 1] == '%') {
			i++;
			continue;
		}
		if (s[i] == '%' && s[i + 1] == '{' &&
		    tolower((unsigned char)s[i + 2]) == 'p')
			return 1;
	}
	return 0;
}

void
spf_domain_truncate(char *d)
{
	size_t	 len = strlen(d);
	char	*p = d;

	/* RFC 7208 4.8: drop left labels until it fits in 253. */
	while (len > 253) {
		char *dot = strchr(p, '.');

		if (dot == NULL) {
			d[0] = '\0';
			return;
		}
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (p != d)
		memmove(d, p, len + 1);
}

int
spf_domain_valid(const char *d)
{
	size_t	 len = strlen(d), i, lab = 0, nlabels = 0, last = 0;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (lab == 0 || lab > 63)
				return 0;	/* zero-length or long label */
			nlabels++;
			last = i - lab;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)d[i]) && d[i] != '-' &&
		    d[i] != '_')
			return 0;
		lab++;
	}
	/* RFC 7208 4.3: a multi-label name, not an address literal. */
	if (nlabels < 2)
		return 0;
	for (i = last; i < len; i++)
		if (!isdigit((unsigned char)d[i]))
			return 1;
	return 0;
}

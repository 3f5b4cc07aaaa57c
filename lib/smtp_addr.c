/*
 * SMTP paths and MAIL/RCPT parameters, as a server reads them.
 *
 * Paths follow RFC 5321 4.1.2: Mailbox = Local-part "@" ( Domain /
 * address-literal ), quoted local parts, IPv4 and IPv6 address literals;
 * source routes (4.1.1.3 and appendix C) are accepted and dropped; the
 * special "<Postmaster>" of 4.1.1.3 is accepted for RCPT.  Lengths follow
 * 4.5.3.1.  UTF-8 in local parts and domains (RFC 6531 3.3) is parsed and
 * flagged: whether it is allowed depends on SMTPUTF8, which the caller
 * knows.  General address literals (4.1.3, Standardized-tag) are refused:
 * no tag besides IPv6 is registered.
 *
 * Parameters: SIZE (RFC 1870), BODY=7BIT|8BITMIME (RFC 6152; BINARYMIME of
 * RFC 3030 is refused with 555 since bare CR and LF are never accepted),
 * SMTPUTF8 (RFC 6531), RET and ENVID (RFC 3461 4.3, 4.4), NOTIFY and ORCPT
 * (RFC 3461 4.1, 4.2), REQUIRETLS (RFC 8689 4.1, inside TLS only, and
 * 4.2.1, only when the caller says it offers it).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

/* RFC 5322 3.2.3 atext */
static int
is_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

/*
 * The length of the well-formed UTF-8 sequence at p (2 to 4 octets), or 0:
 * no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629 4).
 */
size_t
smtp_utf8_seqlen(const unsigned char *p, size_t n)
{
	size_t		 len, i;
	uint32_t	 cp;

	if (n == 0)
		return 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * RFC 5321 4.1.2 Domain: sub-domains of letters, digits and inner hyphens;
 * with utf8, U-labels (RFC 6531 3.3) may hold well-formed UTF-8 too.
 */
int
smtp_domain_valid(const char *d, size_t len, int utf8)
{
	const unsigned char	*p = (const unsigned char *)d;
	size_t			 i = 0, start, k;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return 0;
	for (;;) {
		start = i;
		while (i < len && p[i] != '.') {
			if (is_alnum(p[i]) || p[i] == '-')
				i++;
			else if (utf8 && p[i] >= 0x80 &&
			    (k = smtp_utf8_seqlen(p + i, len - i)) != 0)
				i += k;
			else
				return 0;
		}
		if (i == start || i - start > SMTP_LABEL_MAX ||
		    p[start] == '-' || p[i - 1] == '-')
			return 0;
		if (i == len)
			return 1;
		i++;		/* the dot; a trailing one is refused */
		if (i == len)
			return 0;
	}
}

/* RFC 5321 4.1.3: "[1.2.3.4]" or "[IPv6:...]", brackets included. */
int
smtp_addrlit_valid(const char *s, size_t len)
{
	char		 lit[64];
	unsigned char	 addr[sizeof(struct in6_addr)];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' ||
	    len - 2 >= sizeof(lit))
		return 0;
	memcpy(lit, s + 1, len - 2);
	lit[len - 2] = '\0';
	if (strncasecmp(lit, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, lit + 5, addr) == 1;
	return inet_pton(AF_INET, lit, addr) == 1;
}

/* Domain characters to scan before validating with smtp_domain_valid(). */
static size_t
domain_span(const unsigned char *p)
{
	size_t	 i = 0;

	while (is_alnum(p[i]) || p[i] == '-' || p[i] == '.' || p[i] >= 0x80)
		i++;
	return i;
}

/*
 * RFC 5321 4.1.1.3: a source route ("@a.example,@b.example:") is accepted
 * and ignored.  Past it, if any, at *ip.
 */
static int
path_skip_route(const char *s, size_t *ip)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = *ip, k;

	if (p[i] != '@')
		return SMTP_ADDR_OK;
	for (;;) {
		i++;	/* '@' */
		k = domain_span(p + i);
		if (!smtp_domain_valid(s + i, k, 1))
			return SMTP_ADDR_ESYNTAX;
		i += k;
		if (p[i] == ':') {
			*ip = i + 1;
			return SMTP_ADDR_OK;
		}
		if (p[i] != ',' || p[i + 1] != '@')
			return SMTP_ADDR_ESYNTAX;
		i++;
	}
}

/* Quoted-string, from its opening quote at *ip to past its closing one. */
static int
path_quoted_string(const char *s, size_t *ip, int *utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 start = *ip, i = *ip + 1, k;

	for (;;) {
		if (p[i] == '"') {
			*ip = i + 1;
			return SMTP_ADDR_OK;
		}
		if (p[i] == '\\') {	/* quoted-pairSMTP */
			if (p[i + 1] < 32 || p[i + 1] > 126)
				return SMTP_ADDR_ESYNTAX;
			i += 2;
		} else if (p[i] >= 32 && p[i] <= 126)
			i++;
		else if (p[i] >= 0x80 && (k = smtp_utf8_seqlen(p + i,
		    strlen(s + i))) != 0) {
			*utf8 = 1;
			i += k;
		} else
			return SMTP_ADDR_ESYNTAX;
		if (i - start > SMTP_LOCAL_MAX + 2)
			return SMTP_ADDR_ELONG;
	}
}

/* Dot-string: atoms of atext, or UTF-8 (RFC 6531 3.3), between dots. */
static int
path_dot_string(const char *s, size_t *ip, int *utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = *ip, j, k;

	for (;;) {
		j = i;
		for (;;) {
			if (is_atext(p[i]))
				i++;
			else if (p[i] >= 0x80 && (k = smtp_utf8_seqlen(p + i,
			    strlen(s + i))) != 0) {
				*utf8 = 1;
				i += k;
			} else
				break;
		}
		if (i == j)
			return SMTP_ADDR_ESYNTAX;
		if (p[i] != '.')
			break;
		i++;
	}
	*ip = i;
	return SMTP_ADDR_OK;
}

/* Local-part = Dot-string / Quoted-string, at *ip; past it on success. */
static int
path_local_part(const char *s, size_t *ip, int *utf8)
{
	size_t	 start = *ip;
	int	 rv;

	if (s[start] == '"')
		rv = path_quoted_string(s, ip, utf8);
	else
		rv = path_dot_string(s, ip, utf8);
	if (rv != SMTP_ADDR_OK)
		return rv;
	if (*ip - start > SMTP_LOCAL_MAX)
		return SMTP_ADDR_ELONG;
	return SMTP_ADDR_OK;
}

/* ( Domain / address-literal ) after the "@", at *ip; past it on success. */
static int
path_domain(const char *s, size_t *ip, int *utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 start = *ip, i = *ip, j;

	if (p[i] == '[') {
		while (p[i] != '\0' && p[i] != ']' && i - start < 64)
			i++;
		if (p[i] != ']')
			return SMTP_ADDR_ESYNTAX;
		i++;
		if (!smtp_addrlit_valid(s + start, i - start))
			return SMTP_ADDR_ESYNTAX;
	} else {
		i += domain_span(p + i);
		if (i - start > SMTP_DOMAIN_MAX)
			return SMTP_ADDR_ELONG;
		if (!smtp_domain_valid(s + start, i - start, 1))
			return SMTP_ADDR_ESYNTAX;
		for (j = start; j < i; j++)
			if (p[j] >= 0x80)
				*utf8 = 1;
	}
	*ip = i;
	return SMTP_ADDR_OK;
}

/*
 * Parse a Path or Reverse-path at the start of s (NUL-terminated) into
 * out; *consumed is set to the octets read, up to and including '>'.
 */
int
smtp_path_parse(const char *s, int flags, struct smtp_addr *out,
    size_t *consumed)
{
	size_t	 i, lstart, llen, dstart, dlen;
	int	 utf8 = 0, rv;

	memset(out, 0, sizeof(*out));
	*consumed = 0;
	if (s[0] != '<')
		return SMTP_ADDR_ESYNTAX;
	i = 1;
	if (s[i] == '>') {
		if ((flags & SMTP_PATH_NULL_OK) == 0)
			return SMTP_ADDR_ESYNTAX;
		*consumed = 2;
		return SMTP_ADDR_OK;
	}
	if ((rv = path_skip_route(s, &i)) != SMTP_ADDR_OK)
		return rv;
	lstart = i;
	if ((rv = path_local_part(s, &i, &utf8)) != SMTP_ADDR_OK)
		return rv;
	llen = i - lstart;
	if (s[i] == '>') {
		/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain. */
		if ((flags & SMTP_PATH_POSTMASTER) == 0 || llen != 10 ||
		    strncasecmp(s + lstart, "postmaster", 10) != 0)
			return SMTP_ADDR_ESYNTAX;
		memcpy(out->addr, s + lstart, llen);
		out->addr[llen] = '\0';
		out->at = llen;
		*consumed = i + 1;
		return SMTP_ADDR_OK;
	}
	if (s[i] != '@')
		return SMTP_ADDR_ESYNTAX;
	dstart = ++i;
	if ((rv = path_domain(s, &i, &utf8)) != SMTP_ADDR_OK)
		return rv;
	dlen = i - dstart;
	if (s[i] != '>')
		return SMTP_ADDR_ESYNTAX;
	i++;
	/* RFC 5321 4.5.3.1.3: the whole path, punctuation included. */
	if (i > SMTP_PATH_MAX)
		return SMTP_ADDR_ELONG;
	memcpy(out->addr, s + lstart, llen);
	out->addr[llen] = '@';
	memcpy(out->addr + llen + 1, s + dstart, dlen);
	out->addr[llen + 1 + dlen] = '\0';
	out->at = llen;
	out->utf8 = utf8;
	*consumed = i;
	return SMTP_ADDR_OK;
}

int
smtp_addr_valid(const char *a, int flags)
{
	struct smtp_addr	 sa;
	char			 path[SMTP_PATH_MAX + 8];
	size_t			 used;
	int			 n;

	n = snprintf(path, sizeof(path), "<%s>", a);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	if (smtp_path_parse(path, flags & ~SMTP_ADDR_UTF8_OK, &sa, &used) !=
	    SMTP_ADDR_OK || used != (size_t)n)
		return 0;
	if (sa.utf8 && (flags & SMTP_ADDR_UTF8_OK) == 0)
		return 0;
	/* a domain to deliver to, unless the null path */
	return sa.addr[0] == '\0' || sa.at < strlen(sa.addr);
}

static int
hexval(int c)
{
	/* RFC 3461 4: hexchar is upper case only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * RFC 3461 4: xtext = *( xchar / hexchar ), xchar is "!" to "~" except "+"
 * and "=", hexchar is "+" and two upper-case hex digits.  Returns the
 * decoded length (NUL-terminated in out), -1 on bad syntax or no room.
 */
int
smtp_xtext_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	if (outsz == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = in[i];

		if (o + 1 >= outsz)
			return -1;
		if (c == '+') {
			if (i + 2 >= len)
				return -1;
			if ((hi = hexval(in[i + 1])) == -1 ||
			    (lo = hexval(in[i + 2])) == -1)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c >= 33 && c <= 126 && c != '=')
			out[o++] = c;
		else
			return -1;
	}
	out[o] = '\0';
	return (int)o;
}

/* One esmtp-param (RFC 5321 4.1.2) split out of the argument string. */
struct param {
	const char	*kw;
	size_t		 kwlen;
	const char	*val;
	size_t		 vlen;
	int		 hasval;
};

/* 1: a parameter in *pr, 0: none left, -1: syntax error. */
static int
param_next(const char **pp, struct param *pr)
{
	const unsigned char	*p = (const unsigned char *)*pp;
	size_t			 k;

	if (*p == '\0')
		return 0;
	if (*p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	memset(pr, 0, sizeof(*pr));
	pr->kw = (const char *)p;
	if (!is_alnum(*p))
		return -1;
	while (is_alnum(*p) || *p == '-')
		p++;
	pr->kwlen = (const char *)p - pr->kw;
	if (*p == '=') {
		p++;
		pr->val = (const char *)p;
		while (*p != '\0' && *p != ' ') {
			/* esmtp-value, UTF-8 allowed by RFC 6531 3.3 */
			if (*p >= 33 && *p <= 126 && *p != '=')
				p++;
			else if (*p >= 0x80 && (k = smtp_utf8_seqlen(p,
			    strlen((const char *)p))) != 0)
				p += k;
			else
				return -1;
		}
		pr->vlen = (const char *)p - pr->val;
		if (pr->vlen == 0)
			return -1;
		pr->hasval = 1;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	*pp = (const char *)p;
	return 1;
}

static int
kw_is(const struct param *pr, const char *name)
{
	return pr->kwlen == strlen(name) &&
	    strncasecmp(pr->kw, name, pr->kwlen) == 0;
}

static int
val_is(const char *v, size_t vlen, const char *name)
{
	return vlen == strlen(name) && strncasecmp(v, name, vlen) == 0;
}

static int
perr(struct smtp_perr *err, int code, const char *enhanced, const char *text)
{
	err->code = code;
	err->enhanced = enhanced;
	err->text = text;
	return -1;
}

/* RFC 4954 5: AUTH=<>, or an xtext addr-spec (500 octets: ORCPT's bound) */
#define SMTP_AUTH_PARAM_MAX	500

#define E_SYNTAX(e)	perr(e, 501, "5.5.4", "Syntax error in parameters")
#define E_UNKNOWN(e)	perr(e, 555, "5.5.4", "Unsupported parameter")
#define E_DUP(e)	perr(e, 555, "5.5.4", "Duplicate parameter")

/* Returns 0, or -1 with the reply in err. */
int
smtp_mail_params_parse(const char *args, int ctx, uint64_t max_size,
    struct smtp_mail_params *mp, struct smtp_perr *err)
{
	struct param	 pr;
	char		 num[32], authval[SMTP_AUTH_PARAM_MAX + 1];
	const char	*errstr;
	unsigned int	 seen = 0, bit;
	long long	 n;
	size_t		 i;
	int		 r;

	memset(mp, 0, sizeof(*mp));
	while ((r = param_next(&args, &pr)) == 1) {
		if (kw_is(&pr, "SIZE"))
			bit = 0x01;
		else if (kw_is(&pr, "BODY"))
			bit = 0x02;
		else if (kw_is(&pr, "SMTPUTF8"))
			bit = 0x04;
		else if (kw_is(&pr, "RET"))
			bit = 0x08;
		else if (kw_is(&pr, "ENVID"))
			bit = 0x10;
		/* RFC 8689 4.1: inside TLS; 4.2.1: only if enforced */
		else if (kw_is(&pr, "REQUIRETLS") && (ctx & SMTP_PARAM_TLS) &&
		    (ctx & SMTP_PARAM_REQUIRETLS))
			bit = 0x20;
		else if (kw_is(&pr, "AUTH"))
			bit = 0x40;
		else
			return E_UNKNOWN(err);
		if (seen & bit)
			return E_DUP(err);
		seen |= bit;
		switch (bit) {
		case 0x01:
			/* RFC 1870 6: size-value ::= 1*20DIGIT */
			if (!pr.hasval || pr.vlen > 20)
				return E_SYNTAX(err);
			for (i = 0; i < pr.vlen; i++)
				if (!is_digit(pr.val[i]))
					return E_SYNTAX(err);
			memcpy(num, pr.val, pr.vlen);
			num[pr.vlen] = '\0';
			n = strtonum(num, 0, LLONG_MAX, &errstr);
			/* RFC 1870 6.2: refuse at once what cannot fit. */
			if (errstr != NULL ||
			    (max_size > 0 && (uint64_t)n > max_size))
				return perr(err, 552, "5.3.4", "Message size "
				    "exceeds fixed maximum message size");
			mp->size = (uint64_t)n;
			mp->has_size = 1;
			break;
		case 0x02:
			if (!pr.hasval)
				return E_SYNTAX(err);
			if (val_is(pr.val, pr.vlen, "7BIT"))
				mp->body = SMTP_BODY_7BIT;
			else if (val_is(pr.val, pr.vlen, "8BITMIME"))
				mp->body = SMTP_BODY_8BITMIME;
			else if (val_is(pr.val, pr.vlen, "BINARYMIME"))
				return perr(err, 555, "5.5.4",
				    "BINARYMIME not supported");
			else
				return E_SYNTAX(err);
			break;
		case 0x04:
			if (pr.hasval)
				return E_SYNTAX(err);
			mp->smtputf8 = 1;
			break;
		case 0x08:
			if (!pr.hasval)
				return E_SYNTAX(err);
			if (val_is(pr.val, pr.vlen, "FULL"))
				mp->ret = SMTP_RET_FULL;
			else if (val_is(pr.val, pr.vlen, "HDRS"))
				mp->ret = SMTP_RET_HDRS;
			else
				return E_SYNTAX(err);
			break;
		case 0x10:
			/* RFC 3461 4.4: at most 100 characters, printable. */
			if (!pr.hasval || pr.vlen > SMTP_ENVID_MAX ||
			    smtp_xtext_decode(pr.val, pr.vlen, mp->envid,
			    sizeof(mp->envid)) == -1)
				return E_SYNTAX(err);
			for (i = 0; mp->envid[i] != '\0'; i++)
				if ((unsigned char)mp->envid[i] < 32 ||
				    (unsigned char)mp->envid[i] > 126)
					return E_SYNTAX(err);
			mp->has_envid = 1;
			break;
		case 0x20:
			if (pr.hasval)
				return E_SYNTAX(err);
			mp->requiretls = 1;
			break;
		case 0x40:
			/*
			 * RFC 4954 5: AUTH=xtext, an identity another server
			 * vouched for.  Taken when well-formed, then ignored:
			 * we trust only our own AUTH.
			 */
			if (!pr.hasval || pr.vlen > SMTP_AUTH_PARAM_MAX ||
			    smtp_xtext_decode(pr.val, pr.vlen, authval,
			    sizeof(authval)) == -1)
				return E_SYNTAX(err);
			explicit_bzero(authval, sizeof(authval));
			break;
		}
	}
	if (r == -1)
		return E_SYNTAX(err);
	return 0;
}

int
smtp_rcpt_params_parse(const char *args, int ctx,
    struct smtp_rcpt_params *rp, struct smtp_perr *err)
{
	struct param	 pr;
	const char	*v, *end, *comma;
	char		 dec[SMTP_ORCPT_MAX + 1];
	unsigned int	 seen = 0;
	size_t		 i, tlen;
	int		 r, bit, dlen;

	memset(rp, 0, sizeof(*rp));
	while ((r = param_next(&args, &pr)) == 1) {
		if (kw_is(&pr, "NOTIFY")) {
			if (seen & 0x01)
				return E_DUP(err);
			seen |= 0x01;
			if (!pr.hasval)
				return E_SYNTAX(err);
			/* RFC 3461 4.1: NEVER, or a list of the others. */
			v = pr.val;
			end = pr.val + pr.vlen;
			while (v < end) {
				comma = memchr(v, ',', end - v);
				if (comma == NULL)
					comma = end;
				if (val_is(v, comma - v, "NEVER"))
					bit = SMTP_NOTIFY_NEVER;
				else if (val_is(v, comma - v, "SUCCESS"))
					bit = SMTP_NOTIFY_SUCCESS;
				else if (val_is(v, comma - v, "FAILURE"))
					bit = SMTP_NOTIFY_FAILURE;
				else if (val_is(v, comma - v, "DELAY"))
					bit = SMTP_NOTIFY_DELAY;
				else
					return E_SYNTAX(err);
				if (rp->notify & bit)
					return E_SYNTAX(err);
				rp->notify |= bit;
				v = comma;
				if (v < end && ++v == end)
					return E_SYNTAX(err);
			}
			if ((rp->notify & SMTP_NOTIFY_NEVER) &&
			    rp->notify != SMTP_NOTIFY_NEVER)
				return E_SYNTAX(err);
		} else if (kw_is(&pr, "ORCPT")) {
			if (seen & 0x02)
				return E_DUP(err);
			seen |= 0x02;
			/* RFC 3461 4.2: addr-type ";" xtext, 500 at most */
			if (!pr.hasval || pr.vlen > SMTP_ORCPT_MAX)
				return E_SYNTAX(err);
			v = memchr(pr.val, ';', pr.vlen);
			if (v == NULL)
				return E_SYNTAX(err);
			tlen = v - pr.val;
			if (tlen == 0 || tlen > SMTP_ADDRTYPE_MAX)
				return E_SYNTAX(err);
			for (i = 0; i < tlen; i++)
				if (!is_atext((unsigned char)pr.val[i]))
					return E_SYNTAX(err);
			v++;
			dlen = smtp_xtext_decode(v, pr.vlen - tlen - 1, dec,
			    sizeof(dec));
			if (dlen <= 0)
				return E_SYNTAX(err);
			for (i = 0; i < (size_t)dlen; i++)
				if ((unsigned char)dec[i] < 32 ||
				    (unsigned char)dec[i] == 127)
					return E_SYNTAX(err);
			memcpy(rp->orcpt, pr.val, tlen);
			rp->orcpt[tlen] = ';';
			memcpy(rp->orcpt + tlen + 1, dec, (size_t)dlen + 1);
			rp->has_orcpt = 1;
		} else
			return E_UNKNOWN(err);
	}
	if (r == -1)
		return E_SYNTAX(err);
	return 0;
}

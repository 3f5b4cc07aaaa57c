/*
 * MTA-STS (RFC 8461) record and policy parsing, and MX pattern matching.
 *
 * Implemented: the TXT record of 3.1 (records not beginning with
 * "v=STSv1;" are discarded; anything but exactly one valid record means
 * no policy), the HTTP answer that carries the policy (3.3: status 200
 * only, no redirects, text/plain, at most 64 KB), the policy file of 3.2 (LF or CRLF lines of "key: value",
 * case-sensitive names, unknown keys ignored, version/mode/max_age once
 * each, mx one or more unless the mode is none) and the wildcard rule of
 * 4.1 (a "*." pattern stands for exactly one leftmost label).
 *
 * Not here: fetching (the mta does HTTPS and DNS), caching, and what a
 * mode means for a delivery (5).  A duplicated single-valued key makes the
 * policy invalid rather than picking one: a sender and a receiver that
 * read it differently would disagree on whether mail may flow.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"
#include "mta/sts.h"

#define WSP(c)	((c) == ' ' || (c) == '\t')

const char *
sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_ENFORCE:
		return "enforce";
	case STS_MODE_TESTING:
		return "testing";
	default:
		return "none";
	}
}

/*
 * One STSv1 record (3.1): "v=STSv1;" then fields "name=value" separated by
 * ";" with optional blanks, one of them id=1*32(ALPHA/DIGIT).  Extension
 * fields are checked for shape and ignored.  1 if valid, 0 if not.
 */
static int
sts_txt_parse(const char *s, char id[STS_ID_MAX + 1], char *why,
    size_t whylen)
{
	const char	*p = s + 8, *name, *val;
	size_t		 nlen, vlen, i;
	int		 have_id = 0;

	for (;;) {
		while (WSP(*p))
			p++;
		if (*p == '\0')
			break;
		name = p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		    *p == '.')
			p++;
		nlen = p - name;
		if (nlen == 0 || nlen > 32 || *p != '=') {
			snprintf(why, whylen, "malformed field in \"%.80s\"",
			    s);
			return 0;
		}
		val = ++p;
		/* sts-ext-value: %x21-3A / %x3C / %x3E-7E */
		while (*p > 0x20 && *p < 0x7f && *p != ';' && *p != '=')
			p++;
		vlen = p - val;
		if (vlen == 0) {
			snprintf(why, whylen, "empty field in \"%.80s\"", s);
			return 0;
		}
		if (nlen == 2 && strncmp(name, "id", 2) == 0) {
			for (i = 0; i < vlen; i++)
				if (!isalnum((unsigned char)val[i]))
					break;
			if (i != vlen || vlen > STS_ID_MAX || have_id) {
				snprintf(why, whylen, "bad or repeated id in "
				    "\"%.80s\"", s);
				return 0;
			}
			memcpy(id, val, vlen);
			id[vlen] = '\0';
			have_id = 1;
		}
		while (WSP(*p))
			p++;
		if (*p == ';')
			p++;
		else if (*p != '\0') {
			snprintf(why, whylen, "malformed field in \"%.80s\"",
			    s);
			return 0;
		}
	}
	if (!have_id) {
		snprintf(why, whylen, "no id in \"%.80s\"", s);
		return 0;
	}
	return 1;
}

/*
 * RFC 8461 3.1: of the TXT records of _mta-sts.DOMAIN (each with its
 * strings already joined), those that do not begin with "v=STSv1;" are
 * discarded; "if the number of resulting records is not one, or if the
 * resulting record is syntactically invalid", there is no policy.
 */
enum sts_txt
sts_txt_select(const char *const *txt, size_t n, char id[STS_ID_MAX + 1],
    char *why, size_t whylen)
{
	size_t	 i, found = 0, which = 0;

	snprintf(why, whylen, "no STSv1 record");
	for (i = 0; i < n; i++)
		if (strncmp(txt[i], "v=STSv1;", 8) == 0) {
			found++;
			which = i;
		}
	if (found == 0)
		return STS_TXT_NONE;
	if (found > 1) {
		snprintf(why, whylen, "%zu STSv1 records (one is allowed)",
		    found);
		return STS_TXT_INVALID;
	}
	if (!sts_txt_parse(txt[which], id, why, whylen))
		return STS_TXT_INVALID;
	return STS_TXT_FOUND;
}

/* An mx value (3.2): ["*."] Domain.  Kept lower-cased. */
static int
sts_policy_add_mx(struct sts_policy *p, const char *v, size_t len, char *why,
    size_t whylen)
{
	size_t	 off = 0, i;
	char	*dst;

	if (p->nmx == STS_MX_MAX) {
		snprintf(why, whylen, "more than %d mx patterns", STS_MX_MAX);
		return -1;
	}
	if (len >= 2 && v[0] == '*' && v[1] == '.')
		off = 2;
	if (len > STS_PATTERN_MAX || !smtp_domain_valid(v + off, len - off, 0)) {
		snprintf(why, whylen, "bad mx pattern \"%.*s\"",
		    (int)(len > 80 ? 80 : len), v);
		return -1;
	}
	dst = p->mx[p->nmx++];
	for (i = 0; i < len; i++)
		dst[i] = tolower((unsigned char)v[i]);
	dst[len] = '\0';
	return 0;
}

/* One "key: value" line; seen[] catches keys given twice. */
static int
sts_policy_field(struct sts_policy *p, const char *line, size_t len,
    int seen[3], char *why, size_t whylen)
{
	const char	*colon, *v, *errstr;
	size_t		 klen, vlen;
	char		 num[16];
	long long	 age;

	if ((colon = memchr(line, ':', len)) == NULL) {
		snprintf(why, whylen, "line without a colon: \"%.*s\"",
		    (int)(len > 80 ? 80 : len), line);
		return -1;
	}
	klen = colon - line;
	v = colon + 1;
	vlen = len - klen - 1;
	while (vlen > 0 && WSP(*v)) {
		v++;
		vlen--;
	}
	while (vlen > 0 && WSP(v[vlen - 1]))
		vlen--;
	if (klen == 2 && memcmp(line, "mx", 2) == 0)
		return sts_policy_add_mx(p, v, vlen, why, whylen);
#define KEY(k)	(klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY("version")) {
		if (seen[0]++ || vlen != 5 || memcmp(v, "STSv1", 5) != 0)
			goto bad;
	} else if (KEY("mode")) {
		if (seen[1]++)
			goto bad;
		if (vlen == 7 && memcmp(v, "enforce", 7) == 0)
			p->mode = STS_MODE_ENFORCE;
		else if (vlen == 7 && memcmp(v, "testing", 7) == 0)
			p->mode = STS_MODE_TESTING;
		else if (vlen == 4 && memcmp(v, "none", 4) == 0)
			p->mode = STS_MODE_NONE;
		else
			goto bad;
	} else if (KEY("max_age")) {
		/* 1*10DIGIT, at most 31557600 */
		if (seen[2]++ || vlen == 0 || vlen > 10)
			goto bad;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		if (strspn(num, "0123456789") != vlen)
			goto bad;
		age = strtonum(num, 0, STS_MAX_AGE_MAX, &errstr);
		if (errstr != NULL)
			goto bad;
		p->max_age = age;
	}
#undef KEY
	/* other keys are extensions: ignored (3.2) */
	return 0;
 bad:
	snprintf(why, whylen, "bad or repeated field \"%.*s\"",
	    (int)(len > 80 ? 80 : len), line);
	return -1;
}

/*
 * The policy file (3.2).  0 and *p filled, or -1 with the reason: the
 * caller treats an invalid policy as none (5.1) unless it has a cached
 * one that has not expired.
 */
int
sts_policy_parse(const char *buf, size_t len, struct sts_policy *p,
    char *why, size_t whylen)
{
	const char	*line, *end, *nl;
	size_t		 llen;
	int		 seen[3] = { 0, 0, 0 };

	memset(p, 0, sizeof(*p));
	if (len > STS_POLICY_MAX) {
		snprintf(why, whylen, "policy of %zu bytes (at most %d)", len,
		    STS_POLICY_MAX);
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(why, whylen, "policy holds a NUL byte");
		return -1;
	}
	for (line = buf, end = buf + len; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			nl = end;
		llen = nl - line;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		/* blank lines, as at the end of a file, carry nothing */
		if (llen == 0)
			continue;
		if (sts_policy_field(p, line, llen, seen, why, whylen) == -1)
			return -1;
	}
	if (!seen[0] || !seen[1] || !seen[2]) {
		snprintf(why, whylen, "policy lacks %s",
		    !seen[0] ? "version" : !seen[1] ? "mode" : "max_age");
		return -1;
	}
	if (p->mode != STS_MODE_NONE && p->nmx == 0) {
		snprintf(why, whylen, "policy in mode %s names no mx",
		    sts_mode_name(p->mode));
		return -1;
	}
	return 0;
}

/*
 * RFC 8461 4.1: an MX host matches a pattern equal to it, or "*.REST"
 * when the host is one label followed by REST ("*.example.com" matches
 * "mx.example.com", not "example.com" nor "a.b.example.com").  Case does
 * not matter; a trailing dot on the host is ignored.
 */
int
sts_pattern_match(const char *pattern, const char *host)
{
	size_t		 hlen = strlen(host);
	const char	*dot;

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		if ((dot = memchr(host, '.', hlen)) == NULL || dot == host)
			return 0;
		hlen -= dot + 1 - host;
		host = dot + 1;
		pattern += 2;
	}
	return strlen(pattern) == hlen && strncasecmp(pattern, host, hlen) == 0;
}

int
sts_policy_match(const struct sts_policy *p, const char *host)
{
	size_t	 i;

	for (i = 0; i < p->nmx; i++)
		if (sts_pattern_match(p->mx[i], host))
			return 1;
	return 0;
}

/*
 * The policy request (RFC 8461 3.3): HTTP/1.0, so that the answer is
 * never chunked, with the Host the certificate must name.  -1 if the
 * domain does not fit.
 */
int
sts_http_request(const char *domain, char *out, size_t outsz)
{
	int	 n;

	n = snprintf(out, outsz, "GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
	    "Host: mta-sts.%s\r\nUser-Agent: postern\r\n"
	    "Accept: text/plain\r\nConnection: close\r\n\r\n", domain);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* A header's value if line (without CRLF) is that header, else NULL. */
static const char *
sts_http_header(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t	 n = strlen(name), i;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	for (i = n + 1; i < len && WSP(line[i]); i++)
		;
	*vlen = len - i;
	while (*vlen > 0 && WSP(line[i + *vlen - 1]))
		(*vlen)--;
	return line + i;
}

/* The status line: "HTTP/1.x 200 ...".  The code, or -1. */
static int
sts_http_status(const char *line, size_t len)
{
	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (len > 12 && line[12] != ' '))
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0';
}

/* One header line; -1 with the reason if it makes the answer unusable. */
static int
sts_http_header_line(const char *line, size_t len, int *typed, long long *clen,
    char *why, size_t whylen)
{
	const char	*v, *errstr;
	size_t		 vlen;
	char		 num[24];

	if ((v = sts_http_header(line, len, "Content-Type", &vlen)) != NULL) {
		/* 3.3: the policy is text/plain (parameters allowed) */
		if (vlen < 10 || strncasecmp(v, "text/plain", 10) != 0 ||
		    (vlen > 10 && v[10] != ';' && !WSP(v[10]))) {
			snprintf(why, whylen, "policy served as \"%.*s\", not "
			    "text/plain", (int)(vlen > 60 ? 60 : vlen), v);
			return -1;
		}
		*typed = 1;
	} else if ((v = sts_http_header(line, len, "Transfer-Encoding",
	    &vlen)) != NULL) {
		snprintf(why, whylen, "a transfer encoding in an HTTP/1.0 "
		    "answer");
		return -1;
	} else if ((v = sts_http_header(line, len, "Content-Length",
	    &vlen)) != NULL) {
		if (vlen == 0 || vlen >= sizeof(num))
			goto badlen;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		if (strspn(num, "0123456789") != vlen)
			goto badlen;
		*clen = strtonum(num, 0, STS_POLICY_MAX, &errstr);
		if (errstr != NULL)
			goto badlen;
	}
	return 0;
 badlen:
	snprintf(why, whylen, "bad or too large Content-Length");
	return -1;
}

/*
 * A whole answer, read until the server closed: 0 with the body, or -1
 * and why.  RFC 8461 3.3: only a 200 counts, and redirects are not
 * followed.
 */
int
sts_http_response(const char *resp, size_t len, const char **body,
    size_t *bodylen, char *why, size_t whylen)
{
	const char	*line, *nl, *end = resp + len;
	size_t		 llen;
	long long	 clen = -1;
	int		 status = -1, typed = 0;

	for (line = resp; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			break;
		llen = nl - line;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (status == -1) {
			if ((status = sts_http_status(line, llen)) == -1) {
				snprintf(why, whylen, "not an HTTP answer");
				return -1;
			}
			if (status != 200) {
				snprintf(why, whylen, "HTTP status %d%s",
				    status, status / 100 == 3 ? " (redirects "
				    "are not followed, RFC 8461 3.3)" : "");
				return -1;
			}
			continue;
		}
		if (llen == 0) {
			*body = nl + 1;
			*bodylen = end - *body;
			if (!typed) {
				snprintf(why, whylen, "no Content-Type: "
				    "text/plain");
				return -1;
			}
			if (clen != -1 && (size_t)clen != *bodylen) {
				snprintf(why, whylen, "%zu bytes of a body of "
				    "%lld", *bodylen, clen);
				return -1;
			}
			if (*bodylen > STS_POLICY_MAX) {
				snprintf(why, whylen, "policy larger than %d "
				    "bytes", STS_POLICY_MAX);
				return -1;
			}
			return 0;
		}
		if (sts_http_header_line(line, llen, &typed, &clen, why,
		    whylen) == -1)
			return -1;
	}
	snprintf(why, whylen, status == -1 ? "empty answer" :
	    "the answer ends inside its header");
	return -1;
}

int
sts_http_complete(const char *resp, size_t len)
{
	const char	*line, *nl, *end = resp + len, *v;
	char		 num[24];
	size_t		 llen, vlen;
	long long	 clen = -1;
	const char	*errstr;

	for (line = resp; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			return 0;
		llen = nl - line;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			return clen >= 0 && (size_t)(end - (nl + 1)) >=
			    (size_t)clen;
		if ((v = sts_http_header(line, llen, "Content-Length",
		    &vlen)) != NULL && vlen > 0 && vlen < sizeof(num)) {
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			errstr = "not a number";
			if (strspn(num, "0123456789") == vlen)
				clen = strtonum(num, 0, STS_POLICY_MAX,
				    &errstr);
			if (errstr != NULL)
				clen = -1;
		}
	}
	return 0;
}

/*
 * Reader for RFC 1035 section 5 master files (zone files), for the offline
 * DNS source: $ORIGIN, $TTL, "@", relative and absolute names, omitted owner
 * (previous one), TTL and class in either order, parentheses continuing an
 * entry over lines, ";" comments, quoted strings with \X and \DDD escapes,
 * and the types A, AAAA, NS, CNAME, SOA, PTR, MX, TXT, SPF and TLSA, plus the
 * RFC 3597 generic form "TYPEnnn \# len hex".
 *
 * Not supported (on purpose, offline use only): $INCLUDE, $GENERATE,
 * wildcards, classes other than IN.  Every bound on the input is explicit
 * (zone.h) and errors name the line.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "util.h"
#include "dns_zone.h"

struct ztok {
	const char	*s;
	size_t		 len;
	int		 quoted;
};

/* Where the tokenizer is in the text. */
struct zlex {
	const char	*text;
	size_t		 len;
	size_t		 i;
	size_t		 line;
};

struct zparse {
	struct zone	*z;
	char		 origin[DNS_NAME_BUF];	/* canonical */
	char		 owner[DNS_NAME_BUF];
	int		 have_owner;
	uint32_t	 ttl;
	int		 have_ttl;
	size_t		 line;			/* line of the entry start */
	char		*err;
	size_t		 errlen;
};

static int	zone_entry(struct zparse *, struct ztok *, size_t, int);

static int
zerr(struct zparse *p, const char *msg, const char *what, size_t wlen)
{
	if (what != NULL) {
		if (wlen > 64)
			wlen = 64;
		snprintf(p->err, p->errlen, "line %zu: %s: \"%.*s\"", p->line,
		    msg, (int)wlen, what);
	} else
		snprintf(p->err, p->errlen, "line %zu: %s", p->line, msg);
	return -1;
}

static int
tokeq(const struct ztok *t, const char *s)
{
	return !t->quoted && strlen(s) == t->len &&
	    strncasecmp(t->s, s, t->len) == 0;
}

/* A token as a C string in a bounded buffer (names, numbers). */
static int
tokstr(const struct ztok *t, char *buf, size_t buflen)
{
	if (t->len >= buflen)
		return -1;
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	return 0;
}

static int
parse_u32(const struct ztok *t, uint32_t max, uint32_t *out)
{
	char		 buf[16];
	const char	*errstr;
	long long	 v;

	if (t->quoted || tokstr(t, buf, sizeof(buf)) == -1)
		return -1;
	v = strtonum(buf, 0, max, &errstr);
	if (errstr != NULL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* TTL: seconds, or BIND units (1h30m, 2d, 1w). */
static int
parse_ttl(const struct ztok *t, uint32_t *out)
{
	uint64_t	 total = 0, cur = 0;
	size_t		 i;
	int		 digits = 0, units = 0;

	if (t->quoted || t->len == 0 || t->len > 32)
		return -1;
	for (i = 0; i < t->len; i++) {
		unsigned char c = t->s[i];

		if (isdigit(c)) {
			cur = cur * 10 + (c - '0');
			if (cur > UINT32_MAX)
				return -1;
			digits = 1;
			continue;
		}
		if (!digits)
			return -1;
		switch (tolower(c)) {
		case 's': break;
		case 'm': cur *= 60; break;
		case 'h': cur *= 3600; break;
		case 'd': cur *= 86400; break;
		case 'w': cur *= 604800; break;
		default: return -1;
		}
		total += cur;
		cur = 0;
		digits = 0;
		units = 1;
		if (total > UINT32_MAX)
			return -1;
	}
	if (digits)
		total += cur;
	else if (!units)
		return -1;
	if (total > 0x7fffffff)		/* RFC 2181 8 */
		return -1;
	*out = (uint32_t)total;
	return 0;
}

static int
is_ttl(const struct ztok *t)
{
	uint32_t	 v;

	return t->len > 0 && isdigit((unsigned char)t->s[0]) &&
	    parse_ttl(t, &v) == 0;
}

/*
 * Make a name token absolute and canonical: "@" is the origin, names without
 * a final unescaped dot are relative to it (RFC 1035 5.1).
 */
static int
zone_name(struct zparse *p, const struct ztok *t, char *out, size_t outlen)
{
	char	 buf[DNS_NAME_BUF * 2];
	size_t	 i;
	int	 absolute = 0;

	if (t->quoted || t->len == 0 || t->len >= DNS_NAME_BUF)
		return -1;
	if (t->len == 1 && t->s[0] == '@')
		return strlcpy(out, p->origin, outlen) < outlen ? 0 : -1;
	/* A final dot is absolute unless it is escaped. */
	if (t->s[t->len - 1] == '.') {
		size_t	 bs = 0;

		for (i = t->len - 1; i > 0 && t->s[i - 1] == '\\'; i--)
			bs++;
		absolute = (bs % 2) == 0;
	}
	if (absolute || strcmp(p->origin, ".") == 0)
		snprintf(buf, sizeof(buf), "%.*s", (int)t->len, t->s);
	else
		snprintf(buf, sizeof(buf), "%.*s.%s", (int)t->len, t->s,
		    p->origin);
	return dns_name_canon(buf, out, outlen);
}

static int
rd_add(uint8_t *rd, size_t *len, const void *data, size_t n)
{
	if (n > 65535 - *len)
		return -1;
	memcpy(rd + *len, data, n);
	*len += n;
	return 0;
}

static int
rd_u16(uint8_t *rd, size_t *len, uint32_t v)
{
	uint8_t	 b[2] = { v >> 8, v & 0xff };

	return rd_add(rd, len, b, 2);
}

static int
rd_u32(uint8_t *rd, size_t *len, uint32_t v)
{
	uint8_t	 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
	    v & 0xff };

	return rd_add(rd, len, b, 4);
}

static int
rd_name(struct zparse *p, uint8_t *rd, size_t *len, const struct ztok *t)
{
	char	 canon[DNS_NAME_BUF];
	uint8_t	 wire[256];
	size_t	 wl;

	/* Names in rdata are stored lower-cased, like owners (case is not
	 * significant, RFC 4343). */
	if (t->quoted || t->len == 0 || t->len >= DNS_NAME_BUF)
		return -1;
	if (zone_name(p, t, canon, sizeof(canon)) == -1)
		return -1;
	if (dns_name_to_wire(canon, wire, sizeof(wire), &wl) == -1)
		return -1;
	return rd_add(rd, len, wire, wl);
}

/* A character-string (RFC 1035 3.3) with \X and \DDD escapes decoded. */
static int
rd_string(uint8_t *rd, size_t *len, const struct ztok *t)
{
	uint8_t	 s[256];
	size_t	 i, n = 0;

	for (i = 0; i < t->len; i++) {
		unsigned char c = t->s[i];

		if (c == '\\') {
			if (i + 1 >= t->len)
				return -1;
			if (isdigit((unsigned char)t->s[i + 1])) {
				int	 v;

				if (i + 3 >= t->len + 0 ||
				    !isdigit((unsigned char)t->s[i + 2]) ||
				    !isdigit((unsigned char)t->s[i + 3]))
					return -1;
				v = (t->s[i + 1] - '0') * 100 +
				    (t->s[i + 2] - '0') * 10 +
				    (t->s[i + 3] - '0');
				if (v > 255)
					return -1;
				c = (unsigned char)v;
				i += 3;
			} else
				c = t->s[++i];
		}
		if (n >= 255)
			return -1;
		s[n++] = c;
	}
	if (rd_add(rd, len, (uint8_t[]){ (uint8_t)n }, 1) == -1)
		return -1;
	return rd_add(rd, len, s, n);
}

/* Hex digits spread over any number of tokens. */
static int
rd_hex(uint8_t *rd, size_t *len, struct ztok *t, size_t nt)
{
	size_t	 i, j;
	int	 hi = -1, v;

	for (i = 0; i < nt; i++) {
		if (t[i].quoted)
			return -1;
		for (j = 0; j < t[i].len; j++) {
			if ((v = hex_digit((unsigned char)t[i].s[j])) == -1)
				return -1;
			if (hi == -1)
				hi = v;
			else {
				if (rd_add(rd, len,
				    (uint8_t[]){ (uint8_t)(hi << 4 | v) }, 1)
				    == -1)
					return -1;
				hi = -1;
			}
		}
	}
	return hi == -1 ? 0 : -1;
}

static int
zone_add(struct zparse *p, const char *owner, uint16_t type, uint32_t ttl,
    const uint8_t *rd, size_t rdlen)
{
	struct zone	*z = p->z;
	struct zone_rr	*rr;

	if (z->nrr >= ZONE_MAX_RRS)
		return zerr(p, "too many records", NULL, 0);
	if (z->nrr == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 64;
		z->rr = xreallocarray(z->rr, z->cap, sizeof(*z->rr));
	}
	rr = &z->rr[z->nrr++];
	rr->owner = xstrdup(owner);
	rr->type = type;
	rr->ttl = ttl;
	rr->rdlen = rdlen;
	rr->rdata = xmalloc(rdlen ? rdlen : 1);
	if (rdlen)
		memcpy(rr->rdata, rd, rdlen);
	return 0;
}

static int
zone_mark(struct zparse *p, char ***list, size_t *n, struct ztok *t,
    size_t nt)
{
	char	 name[DNS_NAME_BUF];

	if (nt != 2 || zone_name(p, &t[1], name, sizeof(name)) == -1)
		return zerr(p, "bad directive", t[0].s, t[0].len);
	if (*n >= 1024)
		return zerr(p, "too many markers", NULL, 0);
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(name);
	return 0;
}

static int
zone_rdata(struct zparse *p, uint16_t type, struct ztok *t, size_t nt,
    uint8_t *rd, size_t *rdlen)
{
	char		 buf[64];
	uint32_t	 v;
	size_t		 i;
	struct in_addr	 a4;
	struct in6_addr	 a6;

	*rdlen = 0;
	/* RFC 3597 5: the generic form works for every type. */
	if (nt >= 1 && t[0].len == 2 && !t[0].quoted &&
	    memcmp(t[0].s, "\\#", 2) == 0) {
		if (nt < 2 || parse_u32(&t[1], 65535, &v) == -1)
			return -1;
		if (rd_hex(rd, rdlen, t + 2, nt - 2) == -1 || *rdlen != v)
			return -1;
		return 0;
	}
	switch (type) {
	case DNS_T_A:
		if (nt != 1 || tokstr(&t[0], buf, sizeof(buf)) == -1 ||
		    inet_pton(AF_INET, buf, &a4) != 1)
			return -1;
		return rd_add(rd, rdlen, &a4, 4);
	case DNS_T_AAAA:
		if (nt != 1 || tokstr(&t[0], buf, sizeof(buf)) == -1 ||
		    inet_pton(AF_INET6, buf, &a6) != 1)
			return -1;
		return rd_add(rd, rdlen, &a6, 16);
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		if (nt != 1)
			return -1;
		return rd_name(p, rd, rdlen, &t[0]);
	case DNS_T_MX:
		if (nt != 2 || parse_u32(&t[0], 65535, &v) == -1)
			return -1;
		if (rd_u16(rd, rdlen, v) == -1)
			return -1;
		return rd_name(p, rd, rdlen, &t[1]);
	case DNS_T_TXT:
	case DNS_T_SPF:
		if (nt < 1)
			return -1;
		for (i = 0; i < nt; i++)
			if (rd_string(rd, rdlen, &t[i]) == -1)
				return -1;
		return 0;
	case DNS_T_SOA:
		if (nt != 7 || rd_name(p, rd, rdlen, &t[0]) == -1 ||
		    rd_name(p, rd, rdlen, &t[1]) == -1)
			return -1;
		for (i = 2; i < 7; i++) {
			if (i == 2 ? parse_u32(&t[i], UINT32_MAX, &v) == -1 :
			    parse_ttl(&t[i], &v) == -1)
				return -1;
			if (rd_u32(rd, rdlen, v) == -1)
				return -1;
		}
		return 0;
	case DNS_T_TLSA:
		if (nt < 4)
			return -1;
		for (i = 0; i < 3; i++) {
			if (parse_u32(&t[i], 255, &v) == -1 ||
			    rd_add(rd, rdlen, (uint8_t[]){ (uint8_t)v }, 1)
			    == -1)
				return -1;
		}
		return rd_hex(rd, rdlen, t + 3, nt - 3);
	default:
		return -1;
	}
}

/* One logical entry (a directive or a resource record). */
static int
zone_entry(struct zparse *p, struct ztok *t, size_t nt, int leading_space)
{
	char		 owner[DNS_NAME_BUF];
	char		 tbuf[32];
	uint8_t		*rd;
	size_t		 i = 0, rdlen;
	uint32_t	 ttl = 0;
	int		 have_ttl = 0, have_class = 0, type, r;

	if (nt == 0)
		return 0;
	if (!leading_space && !t[0].quoted && t[0].len > 0 &&
	    t[0].s[0] == '$') {
		if (tokeq(&t[0], "$ORIGIN")) {
			if (nt != 2)
				return zerr(p, "$ORIGIN needs one name", NULL,
				    0);
			if (zone_name(p, &t[1], owner, sizeof(owner)) == -1)
				return zerr(p, "bad $ORIGIN", t[1].s,
				    t[1].len);
			strlcpy(p->origin, owner, sizeof(p->origin));
			return 0;
		}
		if (tokeq(&t[0], "$TTL")) {
			if (nt != 2 || parse_ttl(&t[1], &p->ttl) == -1)
				return zerr(p, "bad $TTL", NULL, 0);
			p->have_ttl = 1;
			return 0;
		}
		if (tokeq(&t[0], "$SERVFAIL"))
			return zone_mark(p, &p->z->servfail, &p->z->nservfail,
			    t, nt);
		if (tokeq(&t[0], "$TIMEOUT"))
			return zone_mark(p, &p->z->timeout, &p->z->ntimeout,
			    t, nt);
		return zerr(p, "unsupported directive", t[0].s, t[0].len);
	}

	if (leading_space) {
		if (!p->have_owner)
			return zerr(p, "no owner name", NULL, 0);
		strlcpy(owner, p->owner, sizeof(owner));
	} else {
		if (zone_name(p, &t[0], owner, sizeof(owner)) == -1)
			return zerr(p, "bad owner name", t[0].s, t[0].len);
		strlcpy(p->owner, owner, sizeof(p->owner));
		p->have_owner = 1;
		i = 1;
	}
	/* [TTL] [class] or [class] [TTL] (RFC 1035 5.1). */
	for (; i < nt; i++) {
		if (!have_ttl && is_ttl(&t[i])) {
			parse_ttl(&t[i], &ttl);
			have_ttl = 1;
		} else if (!have_class && tokeq(&t[i], "IN"))
			have_class = 1;
		else if (!have_class && (tokeq(&t[i], "CH") ||
		    tokeq(&t[i], "HS") || tokeq(&t[i], "CS")))
			return zerr(p, "only class IN is supported", NULL, 0);
		else
			break;
	}
	if (i >= nt)
		return zerr(p, "missing type", NULL, 0);
	if (t[i].quoted || tokstr(&t[i], tbuf, sizeof(tbuf)) == -1 ||
	    (type = dns_type_from_name(tbuf)) == -1)
		return zerr(p, "unknown type", t[i].s, t[i].len);
	if (!have_ttl)
		ttl = p->have_ttl ? p->ttl : 3600;
	i++;
	rd = xmalloc(65536);
	r = zone_rdata(p, (uint16_t)type, t + i, nt - i, rd, &rdlen);
	if (r == -1) {
		free(rd);
		return zerr(p, "bad rdata for type", tbuf, strlen(tbuf));
	}
	/* The rdata must decode: check it with the same decoder as answers. */
	{
		struct dns_rr	 rr;

		if (dns_rdata_decode((uint16_t)type, rd, rdlen, &rr) == -1) {
			free(rd);
			return zerr(p, "bad rdata for type", tbuf,
			    strlen(tbuf));
		}
		dns_rr_clear(&rr);
	}
	r = zone_add(p, owner, (uint16_t)type, ttl, rd, rdlen);
	free(rd);
	return r;
}

/*
 * One token at lx->i: a quoted string, its quotes dropped and its escapes
 * kept for the rdata readers, or a run up to white space or a special
 * character.
 */
static int
zone_token(struct zparse *p, struct zlex *lx, struct ztok *t)
{
	const char	*text = lx->text;
	size_t		 len = lx->len, i = lx->i, start;

	if (text[i] == '"') {
		start = ++i;
		while (i < len && text[i] != '"') {
			if (text[i] == '\\' && i + 1 < len)
				i++;
			if (text[i] == '\n')
				lx->line++;
			i++;
		}
		if (i >= len)
			return zerr(p, "unterminated quoted string", NULL, 0);
		t->s = text + start;
		t->len = i - start;
		t->quoted = 1;
		lx->i = i + 1;
		return 0;
	}
	start = i;
	while (i < len && !strchr(" \t\r\n;()\"", text[i])) {
		if (text[i] == '\\' && i + 1 < len && text[i + 1] != '\n')
			i++;
		i++;
	}
	t->s = text + start;
	t->len = i - start;
	t->quoted = 0;
	lx->i = i;
	return 0;
}

/*
 * The tokens of the logical entry at lx->i, into tok[*nt], and lx->i past
 * the line end that closes it.  RFC 1035 5.1: parentheses continue an
 * entry over line ends, ";" starts a comment, and an entry that starts
 * with white space has the previous owner (*leading).
 */
static int
zone_gather(struct zparse *p, struct zlex *lx, struct ztok *tok, size_t *nt,
    int *leading)
{
	size_t	 entry_bytes = 0;
	int	 paren = 0;
	char	 c;

	*nt = 0;
	p->line = lx->line;
	*leading = lx->i < lx->len && (lx->text[lx->i] == ' ' ||
	    lx->text[lx->i] == '\t');
	for (;;) {
		c = lx->i < lx->len ? lx->text[lx->i] : '\n';
		if (c == '\0')
			return zerr(p, "NUL byte in zone file", NULL, 0);
		if (c == '\n') {
			lx->line++;
			lx->i++;
			if (paren == 0)
				return 0;
			if (lx->i > lx->len)
				return zerr(p, "unbalanced parenthesis", NULL,
				    0);
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->i++;
			continue;
		}
		if (c == ';') {
			while (lx->i < lx->len && lx->text[lx->i] != '\n')
				lx->i++;
			continue;
		}
		if (c == '(') {
			if (++paren > 1)
				return zerr(p, "nested parenthesis", NULL, 0);
			lx->i++;
			continue;
		}
		if (c == ')') {
			if (--paren < 0)
				return zerr(p, "unbalanced parenthesis", NULL,
				    0);
			lx->i++;
			continue;
		}
		if (*nt >= ZONE_MAX_TOKENS)
			return zerr(p, "too many fields in one entry", NULL, 0);
		if (zone_token(p, lx, &tok[*nt]) == -1)
			return -1;
		entry_bytes += tok[*nt].len;
		if (entry_bytes > ZONE_MAX_ENTRY)
			return zerr(p, "entry too long", NULL, 0);
		(*nt)++;
	}
}

struct zone *
zone_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct zparse	 p;
	struct zlex	 lx;
	struct ztok	*tok;
	size_t		 nt;
	int		 leading;

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	p.line = 1;
	strlcpy(p.origin, ".", sizeof(p.origin));
	if (errlen > 0)
		err[0] = '\0';
	if (len > ZONE_MAX_FILE) {
		snprintf(err, errlen, "zone file larger than %d bytes",
		    ZONE_MAX_FILE);
		return NULL;
	}
	memset(&lx, 0, sizeof(lx));
	lx.text = text;
	lx.len = len;
	lx.line = 1;
	p.z = xcalloc(1, sizeof(*p.z));
	tok = xcalloc(ZONE_MAX_TOKENS, sizeof(*tok));
	/* The end of the text ends the last entry as a line end would. */
	while (lx.i <= len) {
		if (zone_gather(&p, &lx, tok, &nt, &leading) == -1 ||
		    zone_entry(&p, tok, nt, leading) == -1) {
			free(tok);
			zone_free(p.z);
			return NULL;
		}
	}
	free(tok);
	return p.z;
}

struct zone *
zone_load(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	struct zone	*z;
	char		*text;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > ZONE_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    ZONE_MAX_FILE);
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, text + off, (size_t)st.st_size - off);
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(text);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	z = zone_parse(text, off, err, errlen);
	free(text);
	if (z == NULL) {
		char	 tmp[512];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		strlcpy(err, tmp, errlen);
	}
	return z;
}

void
zone_free(struct zone *z)
{
	size_t	 i;

	if (z == NULL)
		return;
	for (i = 0; i < z->nrr; i++) {
		free(z->rr[i].owner);
		free(z->rr[i].rdata);
	}
	free(z->rr);
	for (i = 0; i < z->nservfail; i++)
		free(z->servfail[i]);
	free(z->servfail);
	for (i = 0; i < z->ntimeout; i++)
		free(z->timeout[i]);
	free(z->timeout);
	free(z);
}

int
zone_name_exists(const struct zone *z, const char *canon)
{
	size_t	 i, cl = strlen(canon), ol;

	for (i = 0; i < z->nrr; i++) {
		const char *o = z->rr[i].owner;

		if (strcmp(o, canon) == 0)
			return 1;
		/* An empty non-terminal exists too (RFC 8020). */
		ol = strlen(o);
		if (strcmp(canon, ".") == 0)
			return 1;
		if (ol > cl && o[ol - cl - 1] == '.' &&
		    strcmp(o + ol - cl, canon) == 0)
			return 1;
	}
	return 0;
}

int
zone_name_marked(char *const *list, size_t n, const char *canon)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], canon) == 0)
			return 1;
	return 0;
}

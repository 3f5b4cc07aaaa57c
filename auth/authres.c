/*
 * RFC 8601 Authentication-Results: the writer and parser of the whole
 * field (2.2), the authserv-id test of section 5, and the FILE-based helpers
 * posternctl prints with.
 *
 * A value is written bare when it is an RFC 2045 token or, for property
 * values, [local-part] "@" domain-name (2.2), and as a quoted-string
 * otherwise (e.g. a header.b holding "/" or "=").  Comments are escaped
 * with quoted-pairs, so that nothing in them can end them early.
 *
 * The parser follows the ABNF of 2.2 with CFWS (RFC 5322 3.2.2) wherever
 * it may appear.  It is bounded on every axis (authres.h) and keeps one
 * allocation for all strings, no larger than the input.  It is lenient in
 * two places only, both seen from widely deployed verifiers: a trailing
 * ";", and bare property values holding "/", "=" or "?" (fragments of
 * base64 header.b values).  Not done: RFC 2047 encoded-words are left as
 * they are, and obsolete syntax (obs-qp with controls) is refused.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"
#include "util.h"

void
authres_print_comment(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '(')
			fputc('[', fp);
		else if (*s == ')')
			fputc(']', fp);
		else if (*s == '\\' || (unsigned char)*s < 0x20 ||
		    (unsigned char)*s == 0x7f)
			fputc(' ', fp);
		else
			fputc(*s, fp);
	}
}

/* RFC 2045 token characters. */
static int
is_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", s[i]) != NULL)
			return 0;
	return 1;
}

/* RFC 5322 dot-atom (local-part) or an LDH domain name. */
static int
is_dot_atom(const char *s, size_t len, int domain)
{
	size_t	 i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return 0;
			continue;
		}
		if (c >= 0x80 || c <= 0x20)
			return 0;
		if (domain && !(c == '-' || c == '_' ||
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z')))
			return 0;
		if (!domain && strchr("()<>[]:;@\\,\"", c) != NULL)
			return 0;
	}
	return 1;
}

void
authres_print_pvalue(FILE *fp, const char *s)
{
	const char	*at = strrchr(s, '@');
	const char	*p;

	if (is_token(s, strlen(s)) || (at != NULL &&
	    (at == s || is_dot_atom(s, (size_t)(at - s), 0)) &&
	    is_dot_atom(at + 1, strlen(at + 1), 1))) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', fp);
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, fp);
	}
	fputc('"', fp);
}

int
authres_valid_authserv_id(const char *s)
{
	return is_dot_atom(s, strlen(s), 1);
}

/* The writer. */

/* RFC 5321 Ldh-str, which RFC 8601 2.2 calls Keyword. */
static int
is_keyword(const char *s)
{
	size_t	 i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len > AUTHRES_MAX_KEYWORD ||
	    s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!isascii((unsigned char)s[i]) ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

/* Bare when it may be (addr: property values may be addresses). */
static int
value_is_bare(const char *s, int addr)
{
	const char	*at;

	if (is_token(s, strlen(s)))
		return 1;
	if (!addr || (at = strrchr(s, '@')) == NULL)
		return 0;
	return (at == s || is_dot_atom(s, (size_t)(at - s), 0)) &&
	    is_dot_atom(at + 1, strlen(at + 1), 1);
}

static int
add_value(struct buf *b, const char *s, int addr, int quote)
{
	const char	*p;
	char		 c;

	if (!quote && value_is_bare(s, addr))
		return buf_addstr(b, s);
	if (buf_add(b, "\"", 1) == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		c = *p;
		if (c == '"' || c == '\\') {
			if (buf_add(b, "\\", 1) == -1)
				return -1;
		} else if (((unsigned char)c < 0x20 && c != '\t') ||
		    c == 0x7f)
			c = ' ';	/* never a line break in a header */
		if (buf_add(b, &c, 1) == -1)
			return -1;
	}
	return buf_add(b, "\"", 1);
}

static int
add_comment(struct buf *b, const char *s)
{
	const char	*p;
	char		 c;

	if (buf_add(b, "(", 1) == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		c = *p;
		/* RFC 5322 3.2.2: quoted-pairs keep the comment closed. */
		if (c == '(' || c == ')' || c == '\\') {
			if (buf_add(b, "\\", 1) == -1)
				return -1;
		} else if (((unsigned char)c < 0x20 && c != '\t') ||
		    c == 0x7f)
			c = ' ';
		if (buf_add(b, &c, 1) == -1)
			return -1;
	}
	return buf_add(b, ")", 1);
}

struct writer {
	struct buf	*out;
	struct buf	 atom;	/* the piece being built */
	size_t		 col;	/* characters on the current line */
	int		 fresh;	/* nothing written on this line yet */
};

/*
 * Place the atom: on a new line when asked or when it would pass the line
 * width, else after a space.  The folding whitespace is CRLF TAB (RFC 5322
 * 2.2.3), never inside an atom.
 */
static int
place(struct writer *w, int newline, int semicolon)
{
	size_t	 len;

	if (semicolon && buf_add(&w->atom, ";", 1) == -1)
		return -1;
	len = w->atom.len;
	if (!w->fresh && (newline || w->col + 1 + len > AUTHRES_LINE_WIDTH)) {
		if (buf_add(w->out, "\r\n\t", 3) == -1)
			return -1;
		w->col = 1;
	} else if (!w->fresh) {
		if (buf_add(w->out, " ", 1) == -1)
			return -1;
		w->col++;
	}
	if (buf_add(w->out, w->atom.data, len) == -1)
		return -1;
	w->col += len;
	w->fresh = 0;
	buf_reset(&w->atom);
	/* RFC 5322 2.1.1: a line MUST be at most 998 characters. */
	return w->col > 998 ? -1 : 0;
}

static int
write_method(struct writer *w, const struct authres_method *m, int last)
{
	const struct authres_prop	*pr;
	size_t				 i, natoms, n = 0;

	if (!is_keyword(m->name) || !is_keyword(m->result) ||
	    (m->nprops > 0 && m->props == NULL))
		return -1;
	natoms = 1 + (m->comment != NULL) + (m->reason != NULL) + m->nprops;
	if (buf_addstr(&w->atom, m->name) == -1 ||
	    (m->version > 0 && buf_printf(&w->atom, "/%u", m->version) == -1) ||
	    buf_printf(&w->atom, "=%s", m->result) == -1 ||
	    place(w, 1, !last && ++n == natoms) == -1)
		return -1;
	if (m->comment != NULL && (add_comment(&w->atom, m->comment) == -1 ||
	    place(w, 0, !last && ++n == natoms) == -1))
		return -1;
	if (m->reason != NULL && (buf_addstr(&w->atom, "reason=") == -1 ||
	    add_value(&w->atom, m->reason, 0, 1) == -1 ||
	    place(w, 0, !last && ++n == natoms) == -1))
		return -1;
	for (i = 0; i < m->nprops; i++) {
		pr = &m->props[i];
		if (!is_keyword(pr->ptype) || !is_keyword(pr->property) ||
		    pr->value == NULL)
			return -1;
		if (buf_printf(&w->atom, "%s.%s=", pr->ptype,
		    pr->property) == -1 ||
		    add_value(&w->atom, pr->value, 1, 0) == -1 ||
		    place(w, 0, !last && ++n == natoms) == -1)
			return -1;
	}
	return 0;
}

int
authres_write_value(const struct authres *ar, size_t col, struct buf *out)
{
	struct writer	 w;
	size_t		 start = out->len, i;
	int		 rv = -1;

	memset(&w, 0, sizeof(w));
	w.out = out;
	w.col = col;
	w.fresh = 1;
	buf_init(&w.atom, 4096);
	if (ar->authserv_id == NULL || ar->authserv_id[0] == '\0' ||
	    (ar->nmethods > 0 && ar->methods == NULL))
		goto done;
	if (add_value(&w.atom, ar->authserv_id, 0, 0) == -1 ||
	    (ar->version > 0 &&
	    buf_printf(&w.atom, " %u", ar->version) == -1) ||
	    place(&w, 0, 1) == -1)
		goto done;
	/* RFC 8601 2.2: no-result */
	if (ar->nmethods == 0) {
		if (buf_addstr(&w.atom, "none") == -1 || place(&w, 0, 0) == -1)
			goto done;
	}
	for (i = 0; i < ar->nmethods; i++)
		if (write_method(&w, &ar->methods[i], i + 1 == ar->nmethods) ==
		    -1)
			goto done;
	rv = 0;
 done:
	buf_free(&w.atom);
	if (rv == -1 && out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rv;
}

int
authres_write(const struct authres *ar, struct buf *out)
{
	static const char	 name[] = "Authentication-Results: ";
	size_t			 start = out->len;

	if (buf_addstr(out, name) == -1 ||
	    authres_write_value(ar, sizeof(name) - 1, out) == -1 ||
	    buf_add(out, "\r\n", 2) == -1) {
		if (out->data != NULL) {
			out->len = start;
			out->data[start] = '\0';
		}
		return -1;
	}
	return 0;
}

/* The parser. */

struct parser {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	size_t		 max_nesting;
	char		*err;
	size_t		 errlen;
	int		 failed;

	/* storage for every string of the result */
	char		*arena;
	size_t		 arena_len;
	size_t		 arena_cap;

	/* the first comment of the current method goes here */
	int		 capture;
	char		 comment[AUTHRES_MAX_COMMENT + 1];
	size_t		 comment_len;
	int		 have_comment;
};

static int	perr(struct parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *p, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "offset %zu: %s", p->pos, msg);
	return -1;
}

static int
at_end(const struct parser *p)
{
	return p->pos >= p->len;
}

static int
peek(const struct parser *p)
{
	return at_end(p) ? -1 : (unsigned char)p->s[p->pos];
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * A line break inside the value: only as folding (RFC 5322 2.2.3), CRLF
 * or a bare LF (files with Unix line ends) before WSP, or at the very end.
 * Returns the number of bytes to skip, 0 if none is here.
 */
static size_t
fold_len(const struct parser *p)
{
	size_t	 n = 0;

	if (p->pos < p->len && p->s[p->pos] == '\r')
		n = 1;
	if (p->pos + n >= p->len || p->s[p->pos + n] != '\n')
		return 0;
	n++;
	if (p->pos + n == p->len || is_wsp((unsigned char)p->s[p->pos + n]))
		return n;
	return 0;
}

/* Text allowed in comments and quoted strings, RFC 6532 UTF-8 included. */
static int
is_text(int c)
{
	return c >= 0x80 || (c > 0x20 && c < 0x7f) || is_wsp(c);
}

static void
comment_add(struct parser *p, int c)
{
	/* Comments are informative: a long one is cut, not refused. */
	if (p->capture && !p->have_comment &&
	    p->comment_len < AUTHRES_MAX_COMMENT)
		p->comment[p->comment_len++] = (char)c;
}

/* A comment (RFC 5322 3.2.2), nested, starting at "(". */
static int
parse_comment(struct parser *p)
{
	size_t	 depth = 0, n;
	int	 c;

	if (p->capture && !p->have_comment)
		p->comment_len = 0;
	for (;;) {
		if ((n = fold_len(p)) > 0) {
			p->pos += n;
			continue;
		}
		if ((c = peek(p)) == -1)
			return perr(p, "unterminated comment");
		if (c == '(') {
			if (++depth > p->max_nesting)
				return perr(p, "comments nested deeper than "
				    "%zu", p->max_nesting);
			if (depth > 1)
				comment_add(p, c);
		} else if (c == ')') {
			if (--depth == 0) {
				p->pos++;
				break;
			}
			comment_add(p, c);
		} else if (c == '\\') {
			p->pos++;
			if ((c = peek(p)) == -1 || !is_text(c))
				return perr(p, "bad quoted-pair in a comment");
			comment_add(p, c);
		} else if (is_text(c))
			comment_add(p, c);
		else
			return perr(p, "control character 0x%02x in a comment",
			    c);
		p->pos++;
	}
	if (p->capture && !p->have_comment)
		p->have_comment = 1;
	return 0;
}

/* [CFWS] */
static int
skip_cfws(struct parser *p)
{
	size_t	 n;
	int	 c;

	for (;;) {
		if ((n = fold_len(p)) > 0)
			p->pos += n;
		else if ((c = peek(p)) != -1 && is_wsp(c))
			p->pos++;
		else if (c == '(') {
			if (parse_comment(p) == -1)
				return -1;
		} else
			return 0;
	}
}

/* Copy a string into the result's storage. */
static const char *
store(struct parser *p, const char *s, size_t len)
{
	char	*r;

	/* The arena is sized from the input; this only guards it. */
	if (len + 1 > p->arena_cap - p->arena_len) {
		perr(p, "out of string storage");
		return NULL;
	}
	r = p->arena + p->arena_len;
	memcpy(r, s, len);
	r[len] = '\0';
	p->arena_len += len + 1;
	return r;
}

/* Keyword (RFC 8601 2.2), copied to out (AUTHRES_MAX_KEYWORD + 1). */
static int
parse_keyword(struct parser *p, const char *what, char *out)
{
	size_t	 start = p->pos, len;
	int	 c;

	while ((c = peek(p)) != -1 && isascii(c) && (isalnum(c) || c == '-'))
		p->pos++;
	len = p->pos - start;
	if (len == 0)
		return perr(p, "%s expected", what);
	if (len > AUTHRES_MAX_KEYWORD)
		return perr(p, "%s longer than %d characters", what,
		    AUTHRES_MAX_KEYWORD);
	if (p->s[p->pos - 1] == '-')
		return perr(p, "%s ends with \"-\"", what);
	memcpy(out, p->s + start, len);
	out[len] = '\0';
	return 0;
}

/* 1*DIGIT, at most 9 of them. */
static int
parse_number(struct parser *p, const char *what, unsigned int *out)
{
	size_t		 n = 0;
	unsigned int	 v = 0;
	int		 c;

	while ((c = peek(p)) != -1 && isdigit(c)) {
		if (++n > 9)
			return perr(p, "%s too large", what);
		v = v * 10 + (unsigned int)(c - '0');
		p->pos++;
	}
	if (n == 0)
		return perr(p, "%s expected", what);
	*out = v;
	return 0;
}

/* quoted-string (RFC 5322 3.2.4) decoded into out (AUTHRES_MAX_STRING). */
static int
parse_quoted(struct parser *p, char *out, size_t *outlen)
{
	size_t	 o = 0, n;
	int	 c;

	p->pos++;	/* the opening quote */
	for (;;) {
		if ((n = fold_len(p)) > 0) {
			p->pos += n;
			continue;
		}
		if ((c = peek(p)) == -1)
			return perr(p, "unterminated quoted string");
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c == '\\') {
			p->pos++;
			if ((c = peek(p)) == -1 || !is_text(c))
				return perr(p, "bad quoted-pair in a quoted "
				    "string");
		} else if (!is_text(c))
			return perr(p, "control character 0x%02x in a quoted "
			    "string", c);
		if (o >= AUTHRES_MAX_STRING)
			return perr(p, "quoted string longer than %d bytes",
			    AUTHRES_MAX_STRING);
		out[o++] = (char)c;
		p->pos++;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* Characters of a bare value: RFC 2045 token, and "/=?@" for pvalues. */
static int
is_bare_char(int c, int pvalue)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	if (pvalue && strchr("/=?@.", c) != NULL)
		return 1;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/*
 * value (token / quoted-string); with pvalue, also [local-part] "@"
 * domain-name (RFC 8601 2.2 pvalue) and the lenient bare form.
 */
static const char *
parse_value(struct parser *p, const char *what, int pvalue)
{
	char	 buf[AUTHRES_MAX_STRING * 2 + 4], q[AUTHRES_MAX_STRING + 1];
	size_t	 start, len, qlen, i, o;
	const char *at;
	int	 c;

	if (peek(p) == '"') {
		if (parse_quoted(p, q, &qlen) == -1)
			return NULL;
		if (!pvalue || peek(p) != '@')
			return store(p, q, qlen);
		/* A quoted local-part: keep it quoted, "a b"@example.com. */
		o = 0;
		buf[o++] = '"';
		for (i = 0; i < qlen; i++) {
			if (q[i] == '"' || q[i] == '\\')
				buf[o++] = '\\';
			buf[o++] = q[i];
		}
		buf[o++] = '"';
		start = p->pos++;	/* the "@" */
		while ((c = peek(p)) != -1 && is_bare_char(c, 0))
			p->pos++;
		if (!is_dot_atom(p->s + start + 1, p->pos - start - 1, 1)) {
			perr(p, "%s: bad domain after a quoted local-part",
			    what);
			return NULL;
		}
		len = p->pos - start;
		if (o + len > AUTHRES_MAX_STRING) {
			perr(p, "%s longer than %d bytes", what,
			    AUTHRES_MAX_STRING);
			return NULL;
		}
		memcpy(buf + o, p->s + start, len);
		return store(p, buf, o + len);
	}
	start = p->pos;
	while ((c = peek(p)) != -1 && is_bare_char(c, pvalue))
		p->pos++;
	len = p->pos - start;
	if (len == 0) {
		perr(p, "%s expected", what);
		return NULL;
	}
	if (len > AUTHRES_MAX_STRING) {
		perr(p, "%s longer than %d bytes", what, AUTHRES_MAX_STRING);
		return NULL;
	}
	/* With "@", it must be an address: [local-part] "@" domain-name. */
	if (pvalue && (at = memrchr(p->s + start, '@', len)) != NULL &&
	    !((at == p->s + start ||
	    is_dot_atom(p->s + start, (size_t)(at - p->s - start), 0)) &&
	    is_dot_atom(at + 1, len - (size_t)(at + 1 - p->s - start), 1))) {
		perr(p, "%s: malformed address", what);
		return NULL;
	}
	return store(p, p->s + start, len);
}

static int
expect_char(struct parser *p, int want, const char *what)
{
	if (peek(p) != want)
		return perr(p, "%s expected", what);
	p->pos++;
	return 0;
}

/* Grow a method's property array up to the bound. */
static struct authres_prop *
new_prop(struct parser *p, struct authres_method *m)
{
	struct authres_prop	*pr;

	if (m->nprops >= AUTHRES_MAX_PROPS) {
		perr(p, "more than %d properties in one method",
		    AUTHRES_MAX_PROPS);
		return NULL;
	}
	m->props = xreallocarray(m->props, m->nprops + 1, sizeof(*m->props));
	pr = &m->props[m->nprops++];
	memset(pr, 0, sizeof(*pr));
	return pr;
}

/*
 * One resinfo after its ";" (RFC 8601 2.2): methodspec [reasonspec]
 * [1*propspec].  kw is the method name already read.  Leaves p at the next
 * ";" or the end.
 */
static int
parse_method(struct parser *p, struct authres_method *m, const char *kw)
{
	char			 k[AUTHRES_MAX_KEYWORD + 1];
	struct authres_prop	*pr;

	if ((m->name = store(p, kw, strlen(kw))) == NULL)
		return -1;
	if (skip_cfws(p) == -1)
		return -1;
	if (peek(p) == '/') {
		p->pos++;
		if (skip_cfws(p) == -1 ||
		    parse_number(p, "method version", &m->version) == -1 ||
		    skip_cfws(p) == -1)
			return -1;
	}
	if (expect_char(p, '=', "\"=\" after the method name") == -1 ||
	    skip_cfws(p) == -1 ||
	    parse_keyword(p, "result", k) == -1 ||
	    (m->result = store(p, k, strlen(k))) == NULL)
		return -1;
	for (;;) {
		if (skip_cfws(p) == -1)
			return -1;
		if (at_end(p) || peek(p) == ';')
			return 0;
		if (parse_keyword(p, "property", k) == -1 ||
		    skip_cfws(p) == -1)
			return -1;
		if (peek(p) == '=' && strcasecmp(k, "reason") == 0 &&
		    m->reason == NULL && m->nprops == 0) {
			p->pos++;
			if (skip_cfws(p) == -1 ||
			    (m->reason = parse_value(p, "reason", 0)) == NULL)
				return -1;
			continue;
		}
		if (expect_char(p, '.', "\".\" after a ptype") == -1 ||
		    (pr = new_prop(p, m)) == NULL ||
		    (pr->ptype = store(p, k, strlen(k))) == NULL ||
		    skip_cfws(p) == -1 ||
		    parse_keyword(p, "property", k) == -1 ||
		    (pr->property = store(p, k, strlen(k))) == NULL ||
		    skip_cfws(p) == -1 ||
		    expect_char(p, '=', "\"=\" after a property") == -1 ||
		    skip_cfws(p) == -1 ||
		    (pr->value = parse_value(p, "property value", 1)) == NULL)
			return -1;
	}
}

/* "i" [CFWS] "=" [CFWS] 1*DIGIT [CFWS] ";" of an ARC AAR (RFC 8617 4.1.1). */
static int
parse_instance(struct parser *p, unsigned int *inst)
{
	if (skip_cfws(p) == -1)
		return -1;
	if (peek(p) != 'i' && peek(p) != 'I')
		return perr(p, "\"i=\" expected");
	p->pos++;
	if (skip_cfws(p) == -1 || expect_char(p, '=', "\"=\" after i") == -1 ||
	    skip_cfws(p) == -1 ||
	    parse_number(p, "instance", inst) == -1)
		return -1;
	/* RFC 8617 4.2.1: instances are 1 to 50. */
	if (*inst < 1 || *inst > 50)
		return perr(p, "instance %u out of range", *inst);
	if (skip_cfws(p) == -1 || expect_char(p, ';', "\";\" after i=") == -1)
		return -1;
	return 0;
}

static int
parse_field(struct parser *p, struct authres *ar, int aar,
    unsigned int *inst)
{
	char			 kw[AUTHRES_MAX_KEYWORD + 1];
	struct authres_method	*m;
	size_t			 save;

	if (aar && parse_instance(p, inst) == -1)
		return -1;
	if (skip_cfws(p) == -1)
		return -1;
	if ((ar->authserv_id = parse_value(p, "authserv-id", 0)) == NULL)
		return -1;
	if (ar->authserv_id[0] == '\0')
		return perr(p, "empty authserv-id");
	if (skip_cfws(p) == -1)
		return -1;
	if (peek(p) != -1 && isdigit(peek(p)) &&
	    (parse_number(p, "version", &ar->version) == -1 ||
	    skip_cfws(p) == -1))
		return -1;
	if (expect_char(p, ';', "\";\" after the authserv-id") == -1 ||
	    skip_cfws(p) == -1)
		return -1;
	if (parse_keyword(p, "method or \"none\"", kw) == -1)
		return -1;
	/* RFC 8601 2.2: no-result */
	save = p->pos;
	if (strcasecmp(kw, "none") == 0) {
		if (skip_cfws(p) == -1)
			return -1;
		if (at_end(p))
			return 0;
		p->pos = save;
	}
	ar->methods = xcalloc(AUTHRES_MAX_METHODS, sizeof(*ar->methods));
	for (;;) {
		if (ar->nmethods >= AUTHRES_MAX_METHODS)
			return perr(p, "more than %d methods",
			    AUTHRES_MAX_METHODS);
		m = &ar->methods[ar->nmethods++];
		p->capture = 1;
		p->have_comment = 0;
		if (parse_method(p, m, kw) == -1)
			return -1;
		p->capture = 0;
		if (p->have_comment &&
		    (m->comment = store(p, p->comment, p->comment_len)) == NULL)
			return -1;
		if (at_end(p))
			return 0;
		p->pos++;	/* ";" */
		if (skip_cfws(p) == -1)
			return -1;
		if (at_end(p))		/* a trailing ";", tolerated */
			return 0;
		if (parse_keyword(p, "method", kw) == -1)
			return -1;
	}
}

static int
parse_common(const char *value, size_t len, int aar, unsigned int *inst,
    struct authres *out, char *err, size_t errlen)
{
	struct parser	 p;
	size_t		 cap;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.s = value;
	p.len = len;
	p.max_nesting = AUTHRES_MAX_NESTING;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > AUTHRES_MAX_INPUT)
		return perr(&p, "field longer than %d bytes",
		    AUTHRES_MAX_INPUT);
	/*
	 * No string is longer than its source text, and each needs one NUL:
	 * the authserv-id, and per method name, result, reason, comment and
	 * three strings a property.
	 */
	cap = len + 1 + 1 + AUTHRES_MAX_METHODS * (4 + 3 * AUTHRES_MAX_PROPS);
	p.arena = xmalloc(cap);
	p.arena_cap = cap;
	out->priv = p.arena;
	if (parse_field(&p, out, aar, inst) == -1) {
		authres_free(out);
		return -1;
	}
	return 0;
}

int
authres_parse(const char *value, size_t len, struct authres *out,
    char *err, size_t errlen)
{
	return parse_common(value, len, 0, NULL, out, err, errlen);
}

int
authres_parse_aar(const char *value, size_t len, unsigned int *inst,
    struct authres *out, char *err, size_t errlen)
{
	unsigned int	 i = 0;

	if (parse_common(value, len, 1, &i, out, err, errlen) == -1)
		return -1;
	if (inst != NULL)
		*inst = i;
	return 0;
}

void
authres_free(struct authres *ar)
{
	size_t	 i;

	if (ar == NULL || ar->priv == NULL)
		return;
	if (ar->methods != NULL)
		for (i = 0; i < ar->nmethods; i++)
			free(ar->methods[i].props);
	free(ar->methods);
	free(ar->priv);
	memset(ar, 0, sizeof(*ar));
}

/* Equal but for case and one trailing dot on either side. */
static int
id_equal(const char *a, size_t alen, const char *b)
{
	size_t	 blen = strlen(b);

	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (blen > 0 && b[blen - 1] == '.')
		blen--;
	return alen > 0 && alen == blen && strncasecmp(a, b, alen) == 0;
}

int
authres_field_is_ours(const char *value, size_t len, const char *authserv_id,
    int aar)
{
	struct parser	 p;
	char		 q[AUTHRES_MAX_STRING + 1];
	unsigned int	 inst;
	size_t		 start, qlen;
	int		 c;

	if (authserv_id == NULL)
		return 0;
	memset(&p, 0, sizeof(p));
	p.s = value;
	p.len = len;
	/*
	 * Nesting costs nothing here, and a forger must not hide our
	 * authserv-id behind comments deeper than we would parse.
	 */
	p.max_nesting = SIZE_MAX;
	if (aar && parse_instance(&p, &inst) == -1)
		return 0;
	if (skip_cfws(&p) == -1)
		return 0;
	if (peek(&p) == '"') {
		if (parse_quoted(&p, q, &qlen) == -1)
			return 0;
		return id_equal(q, qlen, authserv_id);
	}
	start = p.pos;
	while ((c = peek(&p)) != -1 && is_bare_char(c, 0))
		p.pos++;
	return id_equal(value + start, p.pos - start, authserv_id);
}

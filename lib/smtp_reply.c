/*
 * SMTP replies, EHLO keywords, dot-stuffing and xtext for the client side
 * (RFC 5321 4.2, 4.5.2; RFC 2034; RFC 3461 4).  Everything here parses
 * bytes from a remote server, so every size is bounded and a malformed
 * reply is an error for the caller to turn into a failed attempt, never a
 * crash or an unbounded buffer.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"

void
smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	r->textlen = 0;
	r->text[0] = '\0';
}

static int
reply_err(char *err, size_t errlen, const char *why)
{
	if (errlen > 0)
		strlcpy(err, why, errlen);
	return SMTP_REPLY_ERROR;
}

/*
 * RFC 3463 2: class "." subject "." detail, class 2, 4 or 5 (matching the
 * reply's first digit, RFC 2034 4), subject and detail 1 to 3 digits.
 * Returns the length of the code in s, 0 if there is none.
 */
static size_t
enhanced_parse(const char *s, size_t len, int code, char *out, size_t outlen)
{
	size_t	 i = 0, part, n;

	if (len < 5 || s[0] - '0' != code / 100 || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 4 && isdigit((unsigned char)s[i]);
		    n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	if (i >= outlen)
		return 0;
	memcpy(out, s, i);
	out[i] = '\0';
	return i;
}

enum smtp_reply_status
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, char *err,
    size_t errlen)
{
	int	 code, last;
	size_t	 tlen;

	/* RFC 5321 4.2: Reply-code [ SP / "-" textstring ] CRLF */
	if (len > SMTP_REPLY_LINE_MAX)
		return reply_err(err, errlen, "reply line too long");
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return reply_err(err, errlen, "malformed reply (no code)");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	/* RFC 5321 4.2.1: first digit 2..5, second 0..5 */
	if (line[0] < '2' || line[0] > '5' || line[1] > '5')
		return reply_err(err, errlen, "malformed reply (bad code)");
	if (len == 3)
		last = 1;
	else if (line[3] == ' ')
		last = 1;
	else if (line[3] == '-')
		last = 0;
	else
		return reply_err(err, errlen,
		    "malformed reply (no separator after the code)");
	if (r->nlines == 0)
		r->code = code;
	else if (code != r->code)
		/* RFC 5321 4.2.1: every line of a reply has the same code */
		return reply_err(err, errlen,
		    "malformed reply (codes differ between lines)");
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return reply_err(err, errlen, "reply has too many lines");
	tlen = len > 4 ? len - 4 : 0;
	if (r->textlen + tlen + 1 > sizeof(r->text))
		return reply_err(err, errlen, "reply too long");
	r->line_off[r->nlines++] = r->textlen;
	if (tlen > 0)
		memcpy(r->text + r->textlen, line + 4, tlen);
	r->text[r->textlen + tlen] = '\0';
	r->textlen += tlen + 1;
	if (r->nlines == 1)
		enhanced_parse(r->text, tlen, code, r->enhanced,
		    sizeof(r->enhanced));
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

const char *
smtp_reply_text(const struct smtp_reply *r, size_t i)
{
	if (i >= r->nlines)
		return "";
	return r->text + r->line_off[i];
}

void
smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen)
{
	size_t	 i, o = 0;
	const char *t;
	int	 n;

	if (outlen == 0)
		return;
	n = snprintf(out, outlen, "%03d", r->code);
	o = n < 0 ? 0 : (size_t)n;
	for (i = 0; i < r->nlines && o + 1 < outlen; i++) {
		t = smtp_reply_text(r, i);
		/* The enhanced code repeats on every line: keep the first. */
		if (i > 0 && r->enhanced[0] != '\0' &&
		    strncmp(t, r->enhanced, strlen(r->enhanced)) == 0) {
			t += strlen(r->enhanced);
			while (*t == ' ')
				t++;
		}
		if (*t == '\0')
			continue;
		out[o++] = ' ';
		for (; *t != '\0' && o + 1 < outlen; t++)
			out[o++] = (*t >= 0x20 && *t < 0x7f) ? *t : '?';
	}
	out[o < outlen ? o : outlen - 1] = '\0';
}

const char *
smtp_reply_status(const struct smtp_reply *r)
{
	if (r->enhanced[0] != '\0')
		return r->enhanced;
	/* RFC 3463 3.1: X.0.0, other undefined status */
	switch (r->code / 100) {
	case 2:
		return "2.0.0";
	case 4:
		return "4.0.0";
	default:
		return "5.0.0";
	}
}

/* Does the keyword line start with kw followed by its end or a space? */
static int
keyword(const char *line, const char *kw, const char **args)
{
	size_t	 n = strlen(kw);

	if (strncasecmp(line, kw, n) != 0 ||
	    (line[n] != '\0' && line[n] != ' ' && line[n] != '='))
		return 0;
	*args = line + n;
	while (**args == ' ' || **args == '=')
		(*args)++;
	return 1;
}

void
smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *c)
{
	static const struct {
		const char	*kw;
		unsigned int	 flag;
	} kws[] = {
		{ "PIPELINING", SMTP_CAP_PIPELINING },
		{ "STARTTLS", SMTP_CAP_STARTTLS },
		{ "8BITMIME", SMTP_CAP_8BITMIME },
		{ "SMTPUTF8", SMTP_CAP_SMTPUTF8 },
		{ "DSN", SMTP_CAP_DSN },
		{ "CHUNKING", SMTP_CAP_CHUNKING },
		{ "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCED },
		{ "REQUIRETLS", SMTP_CAP_REQUIRETLS },
	};
	const char	*line, *args;
	char		*end;
	unsigned long long v;
	size_t		 i, k;

	memset(c, 0, sizeof(*c));
	/* Line 0 is the server's name and greeting (RFC 5321 4.1.1.1). */
	for (i = 1; i < r->nlines; i++) {
		line = smtp_reply_text(r, i);
		for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
			if (keyword(line, kws[k].kw, &args))
				c->flags |= kws[k].flag;
		if (keyword(line, "SIZE", &args)) {
			c->flags |= SMTP_CAP_SIZE;
			/* RFC 1870 4: no number or 0 means no fixed limit */
			if (isdigit((unsigned char)*args)) {
				v = strtoull(args, &end, 10);
				c->size_max = v;
			}
		}
		if (keyword(line, "AUTH", &args)) {
			c->flags |= SMTP_CAP_AUTH;
			if (c->auth[0] != '\0')
				strlcat(c->auth, " ", sizeof(c->auth));
			strlcat(c->auth, args, sizeof(c->auth));
		}
	}
}

void
smtp_dotstuff_init(struct smtp_dotstuff *d)
{
	d->bol = 1;
	d->last[0] = d->last[1] = 0;
	d->total = 0;
}

int
smtp_dotstuff(struct smtp_dotstuff *d, const uint8_t *p, size_t len,
    struct buf *out)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (d->bol && p[i] == '.') {
			/* RFC 5321 4.5.2: double a leading period */
			if (buf_add(out, p + start, i - start) == -1 ||
			    buf_add(out, ".", 1) == -1)
				return -1;
			start = i;
		}
		d->bol = p[i] == '\n';
		d->last[0] = d->last[1];
		d->last[1] = p[i];
	}
	d->total += len;
	return buf_add(out, p + start, len - start);
}

int
smtp_dotstuff_end(struct smtp_dotstuff *d, struct buf *out)
{
	if (d->total > 0 && !(d->last[0] == '\r' && d->last[1] == '\n') &&
	    buf_add(out, "\r\n", 2) == -1)
		return -1;
	return buf_add(out, ".\r\n", 3);
}

int
smtp_xtext_encode(const char *s, struct buf *out)
{
	const unsigned char	*p;
	char			 hex[4];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		/* RFC 3461 4: xchar is "!" to "~" except "+" and "=" */
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
			if (buf_add(out, p, 1) == -1)
				return -1;
			continue;
		}
		snprintf(hex, sizeof(hex), "+%02X", *p);
		if (buf_add(out, hex, 3) == -1)
			return -1;
	}
	return 0;
}

/*
 * RFC 5322 header-section helpers shared by DKIM, ARC and DMARC: a streaming
 * header/body splitter (RFC 5322 2.1, 2.2, 2.2.3 folding), field names,
 * RFC 6376 3.4.2 relaxed header canonicalization and the RFC 6376 3.2
 * tag-list grammar.  It does not interpret field bodies (addresses, dates):
 * that belongs to the callers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailhdr.h"
#include "util.h"

enum {
	HS_BOL,		/* at the start of a header line */
	HS_BOL_CR,	/* CR at the start of a line: maybe the empty line */
	HS_LINE,	/* inside a header line */
	HS_CR,		/* CR inside a header line */
	HS_BODY
};

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

void
mailhdr_reader_init(struct mailhdr_reader *r, size_t maxfield,
    size_t maxfields, void (*field)(void *, const char *, size_t, size_t),
    void (*body)(void *, const uint8_t *, size_t), void *arg)
{
	memset(r, 0, sizeof(*r));
	r->state = HS_BOL;
	r->maxfields = maxfields;
	buf_init(&r->cur, maxfield);
	r->field = field;
	r->body = body;
	r->arg = arg;
}

void
mailhdr_reader_free(struct mailhdr_reader *r)
{
	buf_free(&r->cur);
}

/* Deliver the collected field, if any. */
static void
reader_flush(struct mailhdr_reader *r)
{
	const char	*raw;
	int		 had = r->cur.len > 0;

	if (!had)
		return;
	raw = buf_cstr(&r->cur);
	if (!r->overflow) {
		if (r->nfields >= r->maxfields)
			r->overflow = 1;
		else {
			r->nfields++;
			r->field(r->arg, raw, r->cur.len,
			    mailhdr_name_len(raw, r->cur.len));
		}
	}
	buf_reset(&r->cur);
}

static void
reader_add(struct mailhdr_reader *r, const void *p, size_t n)
{
	if (r->overflow)
		return;
	if (buf_add(&r->cur, p, n) == -1) {
		/* Too long a field: stop judging the header at all. */
		r->overflow = 1;
		buf_reset(&r->cur);
	}
}

void
mailhdr_reader_feed(struct mailhdr_reader *r, const void *data, size_t len)
{
	const uint8_t	*p = data, *end = p + len, *q;
	uint8_t		 c;

	while (p < end) {
		if (r->state == HS_BODY) {
			r->body(r->arg, p, (size_t)(end - p));
			return;
		}
		c = *p;
		switch (r->state) {
		case HS_LINE:
			/* Copy the ordinary run at once. */
			for (q = p; q < end && *q != '\r' && *q != '\n'; q++)
				;
			if (q > p) {
				reader_add(r, p, (size_t)(q - p));
				p = q;
				continue;
			}
			if (c == '\r')
				r->state = HS_CR;
			else
				r->state = HS_BOL;	/* bare LF */
			p++;
			break;
		case HS_CR:
			if (c == '\n') {
				r->state = HS_BOL;
				p++;
			} else {
				reader_add(r, "\r", 1);
				r->state = HS_LINE;
			}
			break;
		case HS_BOL:
			if (IS_WSP(c)) {
				/* RFC 5322 2.2.3: a folded continuation. */
				if (r->cur.len > 0)
					reader_add(r, "\r\n", 2);
				reader_add(r, p, 1);
				r->state = HS_LINE;
			} else if (c == '\r') {
				r->state = HS_BOL_CR;
			} else if (c == '\n') {
				reader_flush(r);
				r->state = HS_BODY;
				r->in_body = 1;
			} else {
				reader_flush(r);
				reader_add(r, p, 1);
				r->state = HS_LINE;
			}
			p++;
			break;
		case HS_BOL_CR:
			reader_flush(r);
			if (c == '\n') {
				r->state = HS_BODY;
				r->in_body = 1;
				p++;
			} else {
				/* A stray CR starting a line is text. */
				reader_add(r, "\r", 1);
				r->state = HS_LINE;
			}
			break;
		}
	}
}

void
mailhdr_reader_end(struct mailhdr_reader *r)
{
	switch (r->state) {
	case HS_CR:
	case HS_BOL_CR:
		if (r->state == HS_BOL_CR)
			reader_flush(r);
		reader_add(r, "\r", 1);
		/* FALLTHROUGH */
	case HS_LINE:
	case HS_BOL:
		reader_flush(r);
		break;
	default:
		break;
	}
	r->state = HS_BODY;
}

size_t
mailhdr_name_len(const char *raw, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len && raw[i] != ':'; i++)
		;
	if (i == len)
		return 0;
	n = i;
	while (n > 0 && IS_WSP(raw[n - 1]))
		n--;
	if (n == 0)
		return 0;
	/* RFC 5322 3.6.8: ftext is %d33-57 / %d59-126. */
	for (i = 0; i < n; i++)
		if ((unsigned char)raw[i] < 33 || (unsigned char)raw[i] > 126)
			return 0;
	return n;
}

int
mailhdr_name_is(const char *raw, size_t len, size_t namelen,
    const char *name, size_t nlen)
{
	return namelen == nlen && namelen > 0 && len >= namelen &&
	    strncasecmp(raw, name, nlen) == 0;
}

const char *
mailhdr_value(const char *raw, size_t len, size_t *vlen)
{
	const char	*c;

	if ((c = memchr(raw, ':', len)) == NULL) {
		*vlen = 0;
		return raw + len;
	}
	*vlen = len - (size_t)(c + 1 - raw);
	return c + 1;
}

/* A small batch in front of buf_add() so per-byte work stays cheap. */
struct batch {
	struct buf	*out;
	size_t		 n;
	int		 err;
	char		 b[512];
};

static void
batch_put(struct batch *bt, char c)
{
	bt->b[bt->n++] = c;
	if (bt->n == sizeof(bt->b)) {
		if (buf_add(bt->out, bt->b, bt->n) == -1)
			bt->err = 1;
		bt->n = 0;
	}
}

/* Like batch_put() for n bytes: bt->n stays below sizeof(bt->b). */
static void
batch_add(struct batch *bt, const char *p, size_t n)
{
	if (bt->n + n >= sizeof(bt->b)) {
		if (bt->n > 0 && buf_add(bt->out, bt->b, bt->n) == -1)
			bt->err = 1;
		bt->n = 0;
		if (n >= sizeof(bt->b)) {
			if (buf_add(bt->out, p, n) == -1)
				bt->err = 1;
			return;
		}
	}
	memcpy(bt->b + bt->n, p, n);
	bt->n += n;
}

static int
batch_done(struct batch *bt)
{
	if (bt->n > 0 && buf_add(bt->out, bt->b, bt->n) == -1)
		bt->err = 1;
	bt->n = 0;
	return bt->err ? -1 : 0;
}

int
mailhdr_canon_relaxed(const char *raw, size_t len, int crlf, struct buf *out)
{
	struct batch	 bt;
	size_t		 namelen, i, j, vlen;
	const char	*v;
	int		 space = 0, any = 0;

	bt.out = out;
	bt.n = 0;
	bt.err = 0;
	if ((namelen = mailhdr_name_len(raw, len)) == 0) {
		/* Not a field at all; no h= can name it, keep it lower-case. */
		for (i = 0; i < len; i++)
			batch_put(&bt, (char)tolower((unsigned char)raw[i]));
	} else {
		for (i = 0; i < namelen; i++)
			batch_put(&bt, (char)tolower((unsigned char)raw[i]));
		batch_put(&bt, ':');
		v = mailhdr_value(raw, len, &vlen);
		for (i = 0; i < vlen; ) {
			char c = v[i];

			if (c == '\r' || c == '\n') {
				i++;			/* unfold */
				continue;
			}
			if (IS_WSP(c)) {
				space = 1;
				i++;
				continue;
			}
			/* Runs of WSP become one SP, none at either end. */
			if (space && any)
				batch_put(&bt, ' ');
			space = 0;
			any = 1;
			/* The rest of the word goes as it is. */
			for (j = i + 1; j < vlen && !IS_WSP(v[j]) &&
			    v[j] != '\r' && v[j] != '\n'; j++)
				;
			batch_add(&bt, v + i, j - i);
			i = j;
		}
	}
	if (crlf) {
		batch_put(&bt, '\r');
		batch_put(&bt, '\n');
	}
	return batch_done(&bt);
}

static int
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
mailhdr_taglist(const char *s, size_t len, struct mailhdr_tag *tags,
    size_t maxtags, char *err, size_t errlen)
{
	size_t	 i = 0, n = 0, j, vstart, vend;

	for (;;) {
		struct mailhdr_tag	*t;

		while (i < len && is_fws(s[i]))
			i++;
		if (i == len) {
			/* Only whitespace after a final ";" (or nothing). */
			if (n == 0) {
				snprintf(err, errlen, "empty tag list");
				return -1;
			}
			return (int)n;
		}
		if (!isalpha((unsigned char)s[i])) {
			snprintf(err, errlen, "bad tag name at offset %zu", i);
			return -1;
		}
		if (n == maxtags) {
			snprintf(err, errlen, "more than %zu tags", maxtags);
			return -1;
		}
		t = &tags[n];
		t->name = s + i;
		while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		t->namelen = (size_t)(s + i - t->name);
		while (i < len && is_fws(s[i]))
			i++;
		if (i == len || s[i] != '=') {
			snprintf(err, errlen, "tag \"%.*s\" without \"=\"",
			    (int)(t->namelen > 32 ? 32 : t->namelen), t->name);
			return -1;
		}
		i++;
		t->rawstart = i;
		while (i < len && is_fws(s[i]))
			i++;
		vstart = vend = i;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];

			/* RFC 6376 3.2 VALCHAR = %x21-3A / %x3C-7E */
			if (c >= 0x21 && c <= 0x7e) {
				if (c == ';')
					break;
				vend = ++i;
				continue;
			}
			if (is_fws((char)c)) {
				i++;
				continue;
			}
			snprintf(err, errlen, "tag \"%.*s\": invalid byte "
			    "0x%02x in value",
			    (int)(t->namelen > 32 ? 32 : t->namelen), t->name,
			    c);
			return -1;
		}
		t->value = s + vstart;
		t->valuelen = vend - vstart;
		t->rawend = i;
		for (j = 0; j < n; j++) {
			if (tags[j].namelen == t->namelen &&
			    memcmp(tags[j].name, t->name, t->namelen) == 0) {
				/* RFC 6376 3.2: duplicate tags are an error. */
				snprintf(err, errlen, "duplicate tag \"%.*s\"",
				    (int)(t->namelen > 32 ? 32 : t->namelen),
				    t->name);
				return -1;
			}
		}
		n++;
		if (i == len)
			return (int)n;
		i++;	/* ';' */
	}
}

const struct mailhdr_tag *
mailhdr_tag_find(const struct mailhdr_tag *tags, size_t ntags,
    const char *name)
{
	size_t	 i, nlen = strlen(name);

	for (i = 0; i < ntags; i++)
		if (tags[i].namelen == nlen &&
		    memcmp(tags[i].name, name, nlen) == 0)
			return &tags[i];
	return NULL;
}

char *
mailhdr_strip_fws(const char *s, size_t len)
{
	char	*o;
	size_t	 i, j, n = 0;

	o = xmalloc(len + 1);
	for (i = 0; i < len; ) {
		/* Copy each run without FWS at once. */
		for (j = i; j < len && ((unsigned char)s[j] > ' ' ||
		    !is_fws(s[j])); j++)
			;
		memcpy(o + n, s + i, j - i);
		n += j - i;
		for (i = j; i < len && is_fws(s[i]); i++)
			;
	}
	o[n] = '\0';
	return o;
}

void
mail_date(time_t t, char *out, size_t len)
{
	static const char *const days[] = {
	    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = {
	    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

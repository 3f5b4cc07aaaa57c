/*
 * Finding the report in a received message: a small MIME reader (RFC
 * 2045, RFC 2046 5.1 multipart bodies and boundaries) over the message in
 * memory.
 *
 * The report is the first part, in document order, whose media type is
 * one reports travel as: application/gzip, application/zip, text/xml and
 * application/xml for DMARC aggregate reports (RFC 9990 5, and the
 * variants senders use), application/tlsrpt+gzip and
 * application/tlsrpt+json for TLS-RPT (RFC 8460 5.3),
 * message/feedback-report inside a multipart/report (RFC 6522, RFC 5965
 * 2); or else an application/octet-stream attachment whose file name ends
 * in .xml, .gz, .zip or .json.  The message itself may be that single
 * part.  message/rfc822 and text/rfc822-headers parts (the original mail
 * in a feedback report) are not looked into.
 *
 * Bounded: nesting of multiparts (RPT_MIME_DEPTH_MAX), parts looked at
 * (RPT_MIME_PARTS_MAX), header sections (MIME_HEADER_MAX).  The decoded
 * part is at most the message's size.  Not done: RFC 2231 parameter
 * continuations and encoded-words in file names (a report is found by its
 * media type first), and looking past the first report in a message.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reportd/rpt.h"
#include "util.h"

#define MIME_HEADER_MAX		(64 * 1024)
#define MIME_TYPE_MAX		128
#define MIME_PARAM_MAX		256	/* boundary (RFC 2046: 70), name */

struct mime_entity {
	char		 type[MIME_TYPE_MAX];	/* "type/subtype", lower */
	char		 boundary[MIME_PARAM_MAX];
	char		 filename[MIME_PARAM_MAX];
	char		 encoding[32];		/* lower */
	const uint8_t	*body;
	size_t		 bodylen;
};

struct mime_walk {
	struct rpt_part	*part;
	int		 found;
	size_t		 nparts;
	char		*err;
	size_t		 errlen;
};

/*
 * The value of parameter `name` in a Content-Type or Content-Disposition
 * value (RFC 2045 5.1: token or quoted-string), into dst.
 */
static void
get_param(const char *v, const char *name, char *dst, size_t len)
{
	const char	*p = v, *e;
	size_t		 nlen = strlen(name), n;

	dst[0] = '\0';
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nlen) != 0)
			continue;
		e = p + nlen;
		while (*e == ' ' || *e == '\t')
			e++;
		if (*e != '=')
			continue;
		e++;
		while (*e == ' ' || *e == '\t')
			e++;
		n = 0;
		if (*e == '"') {
			for (e++; *e != '\0' && *e != '"'; e++) {
				if (*e == '\\' && e[1] != '\0')
					e++;
				if (n + 1 < len)
					dst[n++] = *e;
			}
		} else {
			for (; *e != '\0' && *e != ';' && *e != ' ' &&
			    *e != '\t'; e++)
				if (n + 1 < len)
					dst[n++] = *e;
		}
		dst[n] = '\0';
		return;
	}
}

/* "type/subtype" of a Content-Type value, lower-cased. */
static void
get_type(const char *v, char *dst, size_t len)
{
	size_t	 n = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v != '\0' && *v != ';' && *v != ' ' && *v != '\t'; v++)
		if (n + 1 < len)
			dst[n++] = tolower((unsigned char)*v);
	dst[n] = '\0';
}

static void
take_header(struct mime_entity *e, const char *name, size_t nlen,
    const char *v)
{
	if (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0) {
		get_type(v, e->type, sizeof(e->type));
		get_param(v, "boundary", e->boundary, sizeof(e->boundary));
		if (e->filename[0] == '\0')
			get_param(v, "name", e->filename,
			    sizeof(e->filename));
	} else if (nlen == 25 &&
	    strncasecmp(name, "Content-Transfer-Encoding", 25) == 0) {
		get_type(v, e->encoding, sizeof(e->encoding));
	} else if (nlen == 19 &&
	    strncasecmp(name, "Content-Disposition", 19) == 0) {
		char	 fn[MIME_PARAM_MAX];

		get_param(v, "filename", fn, sizeof(fn));
		if (fn[0] != '\0')
			strlcpy(e->filename, fn, sizeof(e->filename));
	}
}

/*
 * Split an entity into its header fields and body.  Lines end in CRLF or
 * LF; a header section without an empty line is all header.
 */
static int
entity_parse(const uint8_t *p, size_t len, struct mime_entity *e)
{
	char		*field;
	size_t		 i = 0, n = 0, ll, nlen;
	const uint8_t	*eol;
	const char	*colon;

	memset(e, 0, sizeof(*e));
	field = xmalloc(MIME_HEADER_MAX + 1);
	for (;;) {
		size_t	 start = i, k;
		int	 cont, end = i >= len;

		if (!end) {
			eol = memchr(p + i, '\n', len - i);
			ll = (eol != NULL ? (size_t)(eol - p) : len) - i;
			k = ll;
			if (k > 0 && p[start + k - 1] == '\r')
				k--;
			cont = k > 0 && (p[i] == ' ' || p[i] == '\t');
		} else {
			ll = k = 0;
			cont = 0;
		}
		if (!cont && n > 0) {
			field[n] = '\0';
			if ((colon = memchr(field, ':', n)) != NULL) {
				nlen = colon - field;
				while (nlen > 0 && (field[nlen - 1] == ' ' ||
				    field[nlen - 1] == '\t'))
					nlen--;
				take_header(e, field, nlen, colon + 1);
			}
			n = 0;
		}
		if (end) {
			e->body = p + len;
			break;
		}
		i = start + ll + (start + ll < len ? 1 : 0);
		if (k == 0) {
			/* the empty line: the body follows it */
			e->body = p + i;
			e->bodylen = len - i;
			break;
		}
		if (n + k > MIME_HEADER_MAX) {
			free(field);
			return -1;
		}
		memcpy(field + n, p + start, k);
		n += k;
	}
	free(field);
	/* RFC 2045 5.2: no Content-Type is text/plain */
	if (e->type[0] == '\0')
		strlcpy(e->type, "text/plain", sizeof(e->type));
	return 0;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* What a part would hold as a report, by its type and name. */
static enum rpt_kind
part_kind(const struct mime_entity *e, enum rpt_pack *pack)
{
	const char	*t = e->type;

	*pack = RPT_PACK_AUTO;
	if (strcmp(t, "message/feedback-report") == 0) {
		*pack = RPT_PACK_PLAIN;
		return RPT_ARF;
	}
	if (strcmp(t, "application/tlsrpt+gzip") == 0 ||
	    strcmp(t, "application/tlsrpt+json") == 0)
		return RPT_TLS;
	if (strcmp(t, "application/gzip") == 0 ||
	    strcmp(t, "application/x-gzip") == 0 ||
	    strcmp(t, "application/zip") == 0 ||
	    strcmp(t, "application/x-zip") == 0 ||
	    strcmp(t, "application/x-zip-compressed") == 0 ||
	    strcmp(t, "text/xml") == 0 ||
	    strcmp(t, "application/xml") == 0)
		return has_suffix(e->filename, ".json") ||
		    has_suffix(e->filename, ".json.gz") ? RPT_TLS : RPT_DMARC;
	if (strcmp(t, "application/json") == 0)
		return RPT_TLS;
	if (strcmp(t, "application/octet-stream") == 0 ||
	    strcmp(t, "text/plain") == 0) {
		if (e->filename[0] == '\0')
			return RPT_NONE;
		if (has_suffix(e->filename, ".json") ||
		    has_suffix(e->filename, ".json.gz"))
			return RPT_TLS;
		if (has_suffix(e->filename, ".xml") ||
		    has_suffix(e->filename, ".gz") ||
		    has_suffix(e->filename, ".zip"))
			return RPT_DMARC;
	}
	return RPT_NONE;
}

static int
take_part(struct mime_walk *w, const struct mime_entity *e,
    enum rpt_kind kind, enum rpt_pack pack)
{
	struct buf	*out = &w->part->data;
	int		 rc;

	buf_reset(out);
	if (strcmp(e->encoding, "base64") == 0)
		rc = rpt_b64_decode(e->body, e->bodylen, out);
	else if (strcmp(e->encoding, "quoted-printable") == 0)
		rc = rpt_qp_decode(e->body, e->bodylen, out);
	else
		rc = buf_add(out, e->body, e->bodylen);
	if (rc == -1) {
		snprintf(w->err, w->errlen, "report part too large");
		return -1;
	}
	w->part->kind = kind;
	w->part->pack = pack;
	w->found = 1;
	return 0;
}

/* The line at p[i..) is the delimiter "--" boundary ["--"] WSP*. */
static int
is_delimiter(const uint8_t *p, size_t len, size_t i, const char *b,
    size_t blen, int *close)
{
	size_t	 j;

	if (len - i < blen + 2 || p[i] != '-' || p[i + 1] != '-' ||
	    memcmp(p + i + 2, b, blen) != 0)
		return 0;
	j = i + 2 + blen;
	*close = 0;
	if (len - j >= 2 && p[j] == '-' && p[j + 1] == '-') {
		*close = 1;
		j += 2;
	}
	while (j < len && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'))
		j++;
	return j == len || p[j] == '\n';
}

static int walk(struct mime_walk *, const uint8_t *, size_t, int);

static int
walk_multipart(struct mime_walk *w, const struct mime_entity *e, int depth)
{
	const uint8_t	*p = e->body, *nl;
	size_t		 len = e->bodylen, blen = strlen(e->boundary);
	size_t		 i = 0, start = 0, end;
	int		 in_part = 0, close;

	if (blen == 0 || blen > 200) {
		snprintf(w->err, w->errlen, "multipart without a usable "
		    "boundary");
		return -1;
	}
	while (i < len) {
		if (is_delimiter(p, len, i, e->boundary, blen, &close)) {
			if (in_part) {
				/* the CRLF before the delimiter is its own */
				end = i;
				if (end > start && p[end - 1] == '\n')
					end--;
				if (end > start && p[end - 1] == '\r')
					end--;
				if (walk(w, p + start, end - start,
				    depth + 1) == -1)
					return -1;
				if (w->found)
					return 0;
			}
			if (close)
				return 0;
			in_part = 1;
			nl = memchr(p + i, '\n', len - i);
			start = nl != NULL ? (size_t)(nl - p) + 1 : len;
			i = start;
			continue;
		}
		nl = memchr(p + i, '\n', len - i);
		if (nl == NULL)
			break;
		i = (nl - p) + 1;
	}
	/* no closing delimiter: the last part runs to the end */
	if (in_part)
		return walk(w, p + start, len - start, depth + 1);
	return 0;
}

static int
walk(struct mime_walk *w, const uint8_t *p, size_t len, int depth)
{
	struct mime_entity	 e;
	enum rpt_kind		 kind;
	enum rpt_pack		 pack;

	if (depth > RPT_MIME_DEPTH_MAX) {
		snprintf(w->err, w->errlen, "multiparts nested deeper than "
		    "%d", RPT_MIME_DEPTH_MAX);
		return -1;
	}
	if (++w->nparts > RPT_MIME_PARTS_MAX) {
		snprintf(w->err, w->errlen, "more than %d MIME parts",
		    RPT_MIME_PARTS_MAX);
		return -1;
	}
	if (entity_parse(p, len, &e) == -1) {
		snprintf(w->err, w->errlen, "a header section larger than %d "
		    "octets", MIME_HEADER_MAX);
		return -1;
	}
	if (strncmp(e.type, "multipart/", 10) == 0)
		return walk_multipart(w, &e, depth);
	if (strcmp(e.type, "message/rfc822") == 0 ||
	    strcmp(e.type, "text/rfc822-headers") == 0)
		return 0;
	if ((kind = part_kind(&e, &pack)) == RPT_NONE)
		return 0;
	return take_part(w, &e, kind, pack);
}

int
rpt_mime_find(const uint8_t *msg, size_t len, struct rpt_part *part,
    char *err, size_t errlen)
{
	struct mime_walk	 w;

	memset(part, 0, sizeof(*part));
	buf_init(&part->data, len + 1);
	memset(&w, 0, sizeof(w));
	w.part = part;
	w.err = err;
	w.errlen = errlen;
	if (len > RPT_MESSAGE_MAX) {
		snprintf(err, errlen, "message larger than %d octets",
		    RPT_MESSAGE_MAX);
		goto fail;
	}
	if (walk(&w, msg, len, 0) == -1)
		goto fail;
	if (!w.found) {
		snprintf(err, errlen, "no report found in the message");
		goto fail;
	}
	return 0;
fail:
	rpt_part_free(part);
	return -1;
}

void
rpt_part_free(struct rpt_part *part)
{
	buf_free(&part->data);
	part->kind = RPT_NONE;
}

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 2045 6.8: characters outside the alphabet are ignored. */
int
rpt_b64_decode(const uint8_t *in, size_t len, struct buf *out)
{
	uint32_t	 acc = 0;
	uint8_t		 b[3];
	size_t		 i;
	int		 v, n = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '=')
			break;
		if ((v = b64_value(in[i])) == -1)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			b[0] = acc >> 16;
			b[1] = acc >> 8;
			b[2] = acc;
			if (buf_add(out, b, 3) == -1)
				return -1;
			acc = 0;
			n = 0;
		}
	}
	if (n == 2) {
		b[0] = acc >> 4;
		return buf_add(out, b, 1);
	}
	if (n == 3) {
		b[0] = acc >> 10;
		b[1] = acc >> 2;
		return buf_add(out, b, 2);
	}
	return 0;
}

/* RFC 2045 6.7, leniently: a "=" not starting an escape stays. */
int
rpt_qp_decode(const uint8_t *in, size_t len, struct buf *out)
{
	size_t	 i = 0, j;
	uint8_t	 c;
	int	 hi, lo;

	while (i < len) {
		if (in[i] != '=') {
			if (buf_add(out, in + i, 1) == -1)
				return -1;
			i++;
			continue;
		}
		/* soft line break: "=" WSP* CRLF */
		j = i + 1;
		while (j < len && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j < len && in[j] == '\r')
			j++;
		if (j < len && in[j] == '\n') {
			i = j + 1;
			continue;
		}
		if (i + 2 < len && (hi = hex_digit(in[i + 1])) != -1 &&
		    (lo = hex_digit(in[i + 2])) != -1) {
			c = hi << 4 | lo;
			if (buf_add(out, &c, 1) == -1)
				return -1;
			i += 3;
			continue;
		}
		if (buf_add(out, in + i, 1) == -1)
			return -1;
		i++;
	}
	return 0;
}

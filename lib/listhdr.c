/*
 * A mailing list's header section (lib/listhdr.h).  RFC 2919 (List-Id),
 * RFC 2369 (List-Post, List-Unsubscribe), RFC 8058 (List-Unsubscribe-Post
 * for one-click unsubscription, https only: 3.1), RFC 5322 3.6.2 (From,
 * Reply-To) and RFC 8601 (reading our own Authentication-Results).
 *
 * The fields of the original are kept byte for byte except: List-* fields
 * of another list (a list's copy carries its own; RFC 2369 3 and RFC 2919
 * leave none to a previous hop), the Subject when a tag is added, and From
 * when it is rewritten.  Nothing here decodes RFC 2047 words: a subject
 * tag goes in front of them, separated by a space, which keeps them valid.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "listhdr.h"
#include "mailhdr.h"

struct field {
	const char	*raw;		/* name to the end of the last line */
	size_t		 len;		/* without the final line end */
	size_t		 namelen;
};

long
listhdr_body_offset(const uint8_t *p, size_t len)
{
	size_t	 i;

	/* no header at all: the message starts with the empty line */
	if (len >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	if (len >= 1 && p[0] == '\n')
		return 1;
	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return (long)(i + 2);
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return (long)(i + 3);
	}
	return -1;
}

/*
 * Split hdr into fields: a line that starts with a blank continues the
 * field before it.  -1 when there are more than max.
 */
static long
split_fields(const char *hdr, size_t len, struct field *f, size_t max)
{
	size_t	 i = 0, start, end, n = 0;

	while (i < len) {
		start = i;
		for (;;) {
			while (i < len && hdr[i] != '\n')
				i++;
			end = i;	/* the LF, or len */
			if (i < len)
				i++;
			if (i >= len || (hdr[i] != ' ' && hdr[i] != '\t'))
				break;
		}
		if (end > start && hdr[end - 1] == '\r' && end < len)
			end--;
		else if (end > start && end == len && hdr[end - 1] == '\r')
			end--;
		if (end == start)
			continue;
		if (n == max)
			return -1;
		f[n].raw = hdr + start;
		f[n].len = end - start;
		f[n].namelen = mailhdr_name_len(f[n].raw, f[n].len);
		n++;
	}
	return (long)n;
}

static int
is(const struct field *f, const char *name)
{
	return f->namelen > 0 && mailhdr_name_is(f->raw, f->len, f->namelen,
	    name, strlen(name));
}

/* A field that a previous list put there, and ours replaces. */
static int
is_list_field(const struct field *f)
{
	static const char *const names[] = { "List-Id", "List-Post",
	    "List-Unsubscribe", "List-Unsubscribe-Post", "List-Help",
	    "List-Subscribe", "List-Owner", "List-Archive" };
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (is(f, names[i]))
			return 1;
	return 0;
}

/* Case-insensitive search of needle in s[0..len). */
static const char *
find_ci(const char *s, size_t len, const char *needle)
{
	size_t	 n = strlen(needle), i;

	if (n == 0 || n > len)
		return NULL;
	for (i = 0; i + n <= len; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return s + i;
	return NULL;
}

void
listhdr_list_id(const struct listhdr_params *p, char *out, size_t len)
{
	const char	*at = strrchr(p->address, '@');

	snprintf(out, len, "%s.%s", p->name, at != NULL ? at + 1 : "");
}

/* Printable ASCII that needs no escape inside a quoted-string. */
static void
sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 o = 0, i;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"' || s[i] == '\\')
			continue;
		if (s[i] == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		out[o++] = s[i];
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

void
listhdr_display(const char *v, size_t len, char *out, size_t outlen)
{
	const char	*lt, *gt, *at, *s = v, *e;
	size_t		 cap = outlen < LISTHDR_DISPLAY_MAX + 1 ? outlen :
			    LISTHDR_DISPLAY_MAX + 1;

	out[0] = '\0';
	if (cap == 0)
		return;
	lt = memchr(v, '<', len);
	if (lt != NULL) {
		/* the phrase before the angle-addr, unless RFC 2047 encoded */
		e = lt;
		while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' ||
		    *s == '\n'))
			s++;
		if (find_ci(s, (size_t)(e - s), "=?") == NULL)
			sanitize(s, (size_t)(e - s), out, cap);
		if (out[0] != '\0')
			return;
		s = lt + 1;
		gt = memchr(s, '>', len - (size_t)(s - v));
		e = gt != NULL ? gt : v + len;
	} else
		e = v + len;
	/* no usable name: the address's local part */
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n'))
		s++;
	if ((at = memchr(s, '@', (size_t)(e - s))) != NULL)
		e = at;
	sanitize(s, (size_t)(e - s), out, cap);
	if (out[0] == '\0')
		strlcpy(out, "someone", cap);
}

/* "Subject: x" with "[tag] " in front of x, unless x has "[tag]". */
static int
put_subject(struct buf *out, const struct field *f, const char *tag)
{
	char		 t[80];
	const char	*v, *p, *end = f->raw + f->len;
	size_t		 vlen;

	snprintf(t, sizeof(t), "[%s]", tag);
	v = mailhdr_value(f->raw, f->len, &vlen);
	if (v == NULL || find_ci(v, vlen, t) != NULL)
		return buf_add(out, f->raw, f->len) == 0 &&
		    buf_add(out, "\r\n", 2) == 0 ? 0 : -1;
	p = v;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (buf_add(out, f->raw, (size_t)(v - f->raw)) == -1 ||
	    buf_printf(out, " %s ", t) == -1 ||
	    buf_add(out, p, (size_t)(end - p)) == -1 ||
	    buf_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

static int
put_field(struct buf *out, const struct field *f)
{
	if (buf_add(out, f->raw, f->len) == -1 ||
	    buf_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

enum listhdr_result
listhdr_build(const char *hdr, size_t len, const struct listhdr_params *p,
    struct buf *out, char *why, size_t whylen)
{
	struct field	*f;
	const char	*v;
	char		 id[512], idb[520], name[LISTHDR_DISPLAY_MAX + 1];
	size_t		 vlen, i, nfrom = 0, first_from = 0;
	long		 n;
	int		 has_reply_to = 0, rv = LISTHDR_BAD;

	why[0] = '\0';
	if (len > LISTHDR_HEADER_MAX) {
		snprintf(why, whylen, "header section larger than %d bytes",
		    LISTHDR_HEADER_MAX);
		return LISTHDR_BAD;
	}
	f = xcalloc(LISTHDR_MAX_FIELDS, sizeof(*f));
	if ((n = split_fields(hdr, len, f, LISTHDR_MAX_FIELDS)) == -1) {
		snprintf(why, whylen, "more than %d header fields",
		    LISTHDR_MAX_FIELDS);
		goto done;
	}
	listhdr_list_id(p, id, sizeof(id));
	snprintf(idb, sizeof(idb), "<%s>", id);
	for (i = 0; i < (size_t)n; i++) {
		/* RFC 2919 2: the id in angle brackets identifies the list */
		if (is(&f[i], "List-Id") && (v = mailhdr_value(f[i].raw,
		    f[i].len, &vlen)) != NULL && find_ci(v, vlen, idb) !=
		    NULL) {
			snprintf(why, whylen, "the message already carries "
			    "this list's List-Id %s: a loop", idb);
			rv = LISTHDR_LOOP;
			goto done;
		}
		if (is(&f[i], "From") && nfrom++ == 0)
			first_from = i;
		if (is(&f[i], "Reply-To"))
			has_reply_to = 1;
	}
	if (p->rewrite_from && nfrom == 0) {
		snprintf(why, whylen, "no From field to rewrite");
		goto done;
	}
	/* ours first: RFC 2369 3 does not order them, readers find them */
	if (buf_printf(out, "List-Id: %s <%s>\r\n", p->name, id) == -1 ||
	    buf_printf(out, "List-Post: <mailto:%s>\r\n", p->address) == -1)
		goto toolong;
	if (p->unsubscribe[0] != '\0') {
		if (buf_printf(out, "List-Unsubscribe: <%s>\r\n",
		    p->unsubscribe) == -1)
			goto toolong;
		/*
		 * RFC 8058 3.1: only with an HTTPS URI, which it POSTs to;
		 * 4: only on a copy whose DKIM signature covers both fields
		 * (the default signed headers of dkim_sign.c do)
		 */
		if (p->dkim_signed &&
		    strncasecmp(p->unsubscribe, "https:", 6) == 0 &&
		    buf_printf(out, "List-Unsubscribe-Post: "
		    "List-Unsubscribe=One-Click\r\n") == -1)
			goto toolong;
	}
	if (p->rewrite_from) {
		v = mailhdr_value(f[first_from].raw, f[first_from].len, &vlen);
		listhdr_display(v != NULL ? v : "", v != NULL ? vlen : 0, name,
		    sizeof(name));
		if (buf_printf(out, "From: \"%s via %s\" <%s>\r\n", name,
		    p->name, p->address) == -1)
			goto toolong;
		/* the author stays reachable: replies go to them */
		if (!has_reply_to && v != NULL && (buf_addstr(out,
		    "Reply-To:") == -1 || buf_add(out, v, vlen) == -1 ||
		    buf_add(out, "\r\n", 2) == -1))
			goto toolong;
	}
	for (i = 0; i < (size_t)n; i++) {
		/*
		 * Not a field (no name, or a continuation with nothing to
		 * continue): kept, it would fold into one of ours.
		 */
		if (f[i].namelen == 0 || is_list_field(&f[i]))
			continue;
		if (p->rewrite_from && is(&f[i], "From"))
			continue;
		if (p->subject_tag[0] != '\0' && is(&f[i], "Subject")) {
			if (put_subject(out, &f[i], p->subject_tag) == -1)
				goto toolong;
			continue;
		}
		if (put_field(out, &f[i]) == -1)
			goto toolong;
	}
	if (buf_add(out, "\r\n", 2) == -1)
		goto toolong;
	rv = LISTHDR_OK;
	goto done;
 toolong:
	snprintf(why, whylen, "the new header section is too large");
	rv = LISTHDR_BAD;
 done:
	free(f);
	return rv;
}

size_t
listhdr_from_fields(const char *hdr, size_t len, char **out, size_t max)
{
	struct field	*f;
	const char	*v;
	size_t		 vlen, i, k = 0;
	long		 n;

	f = xcalloc(LISTHDR_MAX_FIELDS, sizeof(*f));
	n = split_fields(hdr, len > LISTHDR_HEADER_MAX ? LISTHDR_HEADER_MAX :
	    len, f, LISTHDR_MAX_FIELDS);
	for (i = 0; n > 0 && i < (size_t)n && k < max; i++)
		if (is(&f[i], "From") && (v = mailhdr_value(f[i].raw,
		    f[i].len, &vlen)) != NULL)
			out[k++] = xstrndup(v, vlen);
	free(f);
	return k;
}

/* The value on one line: folding removed, runs of blanks made one. */
static void
unfold(const char *v, size_t len, char *out, size_t outlen)
{
	size_t	 o = 0, i;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if ((v[i] == ' ' || v[i] == '\t') && (o == 0 ||
		    out[o - 1] == ' '))
			continue;
		out[o++] = v[i] == '\t' ? ' ' : v[i];
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

int
listhdr_our_authres(const char *hdr, size_t len, const char *authserv,
    char *ar, size_t arlen, char *arc, size_t arclen)
{
	struct field	*f;
	const char	*v, *p;
	size_t		 vlen, i, k, alen = strlen(authserv);
	long		 n;
	int		 rv = -1;

	if (arlen == 0 || arclen == 0)
		return -1;
	ar[0] = arc[0] = '\0';
	f = xcalloc(LISTHDR_MAX_FIELDS, sizeof(*f));
	n = split_fields(hdr, len > LISTHDR_HEADER_MAX ? LISTHDR_HEADER_MAX :
	    len, f, LISTHDR_MAX_FIELDS);
	for (i = 0; n > 0 && i < (size_t)n; i++) {
		if (!is(&f[i], "Authentication-Results"))
			continue;
		if ((v = mailhdr_value(f[i].raw, f[i].len, &vlen)) == NULL)
			continue;
		unfold(v, vlen, ar, arlen);
		/* RFC 8601 2.2: authserv-id, then ";" or a version */
		if (strncasecmp(ar, authserv, alen) != 0 ||
		    (ar[alen] != ';' && ar[alen] != ' '))
			continue;
		for (p = ar; (p = strstr(p, "arc=")) != NULL; p += 4) {
			if (p != ar && p[-1] != ' ' && p[-1] != ';')
				continue;
			for (k = 0; k + 1 < arclen && isalpha((unsigned char)
			    p[4 + k]); k++)
				arc[k] = p[4 + k];
			arc[k] = '\0';
			break;
		}
		rv = 0;
		break;
	}
	if (rv == -1)
		ar[0] = '\0';
	free(f);
	return rv;
}

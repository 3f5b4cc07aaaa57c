/*
 * posternctl sendmail's message preparation (lib/sendmail_msg.h): the
 * header section split into fields (RFC 5322 2.2, folded lines kept
 * together), the recipients of -t from To, Cc and Bcc (RFC 5322 3.6.3,
 * address lists per 3.4 with the obsolete forms of 4.4 tolerated), Bcc
 * removed (RFC 5322 3.6.3 allows it as the way to keep them blind), and
 * what RFC 5322 3.6 requires that is missing (Date and From; Message-ID,
 * a SHOULD) noted for the caller to add.
 *
 * Deliberately not here: Resent-* fields (sendmail(8) uses them for -t
 * when present; nothing that runs on a small site relies on it), and
 * decoding RFC 2047 words, which only display names use.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailhdr.h"
#include "sendmail_msg.h"
#include "util.h"

struct addr_scan {
	char	 cur[SENDMAIL_ADDR_MAX + 1];	/* outside <> */
	size_t	 clen;
	char	 ang[SENDMAIL_ADDR_MAX + 1];	/* inside <> */
	size_t	 alen;
	int	 has_angle;
	int	 phrase;	/* words with space between: not an address */
	int	 gap;		/* white space after a word */
};

static int
why_set(char *why, size_t whylen, const char *text)
{
	if (why != NULL && whylen > 0)
		strlcpy(why, text, whylen);
	return -1;
}

static int
scan_add(char *to, size_t *len, char c)
{
	if (*len >= SENDMAIL_ADDR_MAX)
		return -1;
	to[(*len)++] = c;
	to[*len] = '\0';
	return 0;
}

static void
scan_reset(struct addr_scan *a)
{
	a->clen = a->alen = 0;
	a->cur[0] = a->ang[0] = '\0';
	a->has_angle = a->phrase = a->gap = 0;
}

/* The address scanned so far, if any, to cb. */
static int
scan_emit(struct addr_scan *a, int (*cb)(void *, const char *), void *arg,
    char *why, size_t whylen)
{
	const char	*addr, *colon;
	size_t		 i;

	if (a->has_angle) {
		addr = a->ang;
		/* RFC 5322 4.4 obs-route: "<@a,@b:user@c>" is user@c */
		if (addr[0] == '@' && (colon = strchr(addr, ':')) != NULL)
			addr = colon + 1;
	} else {
		if (a->phrase)
			return why_set(why, whylen, "a recipient field "
			    "names something that is not an address");
		addr = a->cur;
	}
	for (i = 0; addr[i] != '\0'; i++)
		if ((unsigned char)addr[i] < 0x20 || addr[i] == 0x7f)
			return why_set(why, whylen, "an address has a "
			    "control character");
	if (addr[0] != '\0' && cb(arg, addr) == -1)
		return why_set(why, whylen, "too many recipients");
	scan_reset(a);
	return 0;
}

/* A quoted-string (RFC 5322 3.2.4) from v[*i] == '"', copied whole. */
static int
scan_quoted(const char *v, size_t len, size_t *i, char *to, size_t *tolen)
{
	if (scan_add(to, tolen, '"') == -1)
		return -1;
	for ((*i)++; *i < len && v[*i] != '"'; (*i)++) {
		if (v[*i] == '\\' && *i + 1 < len) {
			if (scan_add(to, tolen, '\\') == -1)
				return -1;
			(*i)++;
		}
		if (v[*i] == '\r' || v[*i] == '\n')
			continue;	/* folding inside the quotes */
		if (scan_add(to, tolen, v[*i]) == -1)
			return -1;
	}
	return scan_add(to, tolen, '"');
}

/* A comment (RFC 5322 3.2.2), nested, from v[*i] == '(': skipped. */
static void
scan_comment(const char *v, size_t len, size_t *i)
{
	int	 depth = 0;

	for (; *i < len; (*i)++) {
		if (v[*i] == '\\')
			(*i)++;
		else if (v[*i] == '(')
			depth++;
		else if (v[*i] == ')' && --depth == 0)
			return;
	}
}

int
sendmail_address_list(const char *v, size_t len,
    int (*cb)(void *, const char *), void *arg, char *why, size_t whylen)
{
	struct addr_scan	*a;
	size_t			 i;
	int			 r = -1;
	char			 c;

	a = xcalloc(1, sizeof(*a));
	for (i = 0; i < len; i++) {
		c = v[i];
		if (c == '(') {
			scan_comment(v, len, &i);
			continue;
		}
		if (c == '"') {
			/* a quoted local part, or words of a name */
			if (scan_quoted(v, len, &i, a->cur, &a->clen) == -1)
				goto toolong;
			if (a->gap)
				a->phrase = 1;
			a->gap = 0;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (a->clen > 0)
				a->gap = 1;
			continue;
		}
		switch (c) {
		case '<':
			/* an angle-addr: what came before is a name */
			a->has_angle = 1;
			a->alen = 0;
			a->ang[0] = '\0';
			for (i++; i < len && v[i] != '>'; i++) {
				if (v[i] == '(') {
					scan_comment(v, len, &i);
					continue;
				}
				if (v[i] == '"') {
					if (scan_quoted(v, len, &i, a->ang,
					    &a->alen) == -1)
						goto toolong;
					continue;
				}
				if (v[i] == ' ' || v[i] == '\t' ||
				    v[i] == '\r' || v[i] == '\n')
					continue;
				if (scan_add(a->ang, &a->alen, v[i]) == -1)
					goto toolong;
			}
			break;
		case ',':
		case ';':
			if (scan_emit(a, cb, arg, why, whylen) == -1)
				goto out;
			break;
		case ':':
			/* a group's display name (RFC 5322 3.4): dropped */
			if (!a->has_angle)
				scan_reset(a);
			break;
		default:
			if (a->gap)
				a->phrase = 1;
			a->gap = 0;
			if (scan_add(a->cur, &a->clen, c) == -1)
				goto toolong;
			break;
		}
	}
	r = scan_emit(a, cb, arg, why, whylen);
	goto out;
toolong:
	why_set(why, whylen, "an address is too long");
out:
	free(a);
	return r;
}

size_t
sendmail_dot_end(const char *in, size_t len)
{
	size_t	 pos = 0, eol;

	while (pos < len) {
		for (eol = pos; eol < len && in[eol] != '\n'; eol++)
			;
		if (in[pos] == '.' && (eol - pos == 1 || (eol - pos == 2 &&
		    in[pos + 1] == '\r')))
			return pos;
		pos = eol < len ? eol + 1 : len;
	}
	return len;
}

int
sendmail_crlf(struct buf *out, const char *in, size_t len)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (in[i] != '\n' || (i > 0 && in[i - 1] == '\r'))
			continue;
		if (buf_add(out, in + start, i - start) == -1 ||
		    buf_add(out, "\r\n", 2) == -1)
			return -1;
		start = i + 1;
	}
	return buf_add(out, in + start, len - start);
}

static int
rcpt_add(void *arg, const char *addr)
{
	struct sendmail_msg	*m = arg;

	if (m->nrcpts >= SENDMAIL_RCPTS_MAX)
		return -1;
	m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1, sizeof(char *));
	m->rcpts[m->nrcpts++] = xstrdup(addr);
	return 0;
}

#define NAME_IS(f, n, s) \
	mailhdr_name_is((const char *)(f)->data, (f)->len, (n), (s), sizeof(s) - 1)

/* One complete field (its lines joined by CRLF): keep it or not. */
static int
field_done(struct sendmail_msg *m, struct buf *f, int extract, char *why,
    size_t whylen)
{
	size_t		 n, vlen;
	const char	*v;
	int		 bcc;

	if (f->len == 0)
		return 0;
	n = mailhdr_name_len((const char *)f->data, f->len);
	bcc = NAME_IS(f, n, "Bcc");
	if (NAME_IS(f, n, "From"))
		m->has_from = 1;
	else if (NAME_IS(f, n, "Date"))
		m->has_date = 1;
	else if (NAME_IS(f, n, "Message-ID"))
		m->has_msgid = 1;
	if (extract && (bcc || NAME_IS(f, n, "To") || NAME_IS(f, n, "Cc"))) {
		v = mailhdr_value((const char *)f->data, f->len, &vlen);
		if (sendmail_address_list(v, vlen, rcpt_add, m, why,
		    whylen) == -1)
			return -1;
	}
	/* RFC 5322 3.6.3: Bcc recipients are not shown to the others */
	if (!bcc && (buf_add(&m->header, f->data, f->len) == -1 ||
	    buf_add(&m->header, "\r\n", 2) == -1))
		return why_set(why, whylen, "the header section is too "
		    "large");
	buf_reset(f);
	return 0;
}

int
sendmail_msg_parse(struct sendmail_msg *m, const char *in, size_t len,
    int extract, char *why, size_t whylen)
{
	struct buf	 f;
	size_t		 pos = 0, eol, end, i;
	int		 r = -1;

	memset(m, 0, sizeof(*m));
	buf_init(&m->header, SENDMAIL_HEADER_MAX);
	buf_init(&f, SENDMAIL_HEADER_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] > 127) {
			m->eight_bit = 1;
			break;
		}
	/* a mailbox's "From " separator some programs leave in front */
	if (len >= 5 && memcmp(in, "From ", 5) == 0) {
		while (pos < len && in[pos] != '\n')
			pos++;
		if (pos < len)
			pos++;
	}
	for (;;) {
		if (pos >= len) {
			m->body_off = len;
			break;
		}
		for (eol = pos; eol < len && in[eol] != '\n'; eol++)
			;
		end = eol > pos && in[eol - 1] == '\r' && eol < len ? eol - 1 :
		    eol;
		if (end == pos) {
			/* the empty line: the body follows */
			m->body_off = eol < len ? eol + 1 : len;
			break;
		}
		if (in[pos] == ' ' || in[pos] == '\t') {
			if (f.len == 0) {
				m->body_off = pos;	/* no field to fold */
				break;
			}
			if (buf_add(&f, "\r\n", 2) == -1)
				goto toolarge;
		} else {
			if (field_done(m, &f, extract, why, whylen) == -1)
				goto out;
			if (mailhdr_name_len(in + pos, end - pos) == 0) {
				/* not a field: the body starts here */
				m->body_off = pos;
				break;
			}
		}
		if (buf_add(&f, in + pos, end - pos) == -1)
			goto toolarge;
		pos = eol < len ? eol + 1 : len;
	}
	if (field_done(m, &f, extract, why, whylen) == -1)
		goto out;
	r = 0;
	goto out;
toolarge:
	why_set(why, whylen, "the header section is too large");
out:
	buf_free(&f);
	if (r == -1)
		sendmail_msg_free(m);
	return r;
}

void
sendmail_msg_free(struct sendmail_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpts = 0;
	buf_free(&m->header);
}

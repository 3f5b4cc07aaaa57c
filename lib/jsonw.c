/*
 * JSON output of the -j listings (lib/jsonw.h).  UTF-8 is checked as
 * RFC 3629 4 defines it: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "smtp_addr.h"

void
utf8_check_init(struct utf8_check *u)
{
	memset(u, 0, sizeof(*u));
}

void
utf8_check_update(struct utf8_check *u, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 i;
	uint8_t		 c;

	for (i = 0; i < len && !u->bad; i++) {
		c = p[i];
		if (u->need > 0) {
			if (c < u->lo || c > u->hi) {
				u->bad = 1;
				break;
			}
			u->lo = 0x80;
			u->hi = 0xbf;
			u->need--;
			continue;
		}
		u->lo = 0x80;
		u->hi = 0xbf;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			u->need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			u->need = 2;
			if (c == 0xe0)
				u->lo = 0xa0;		/* overlong */
			else if (c == 0xed)
				u->hi = 0x9f;		/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			u->need = 3;
			if (c == 0xf0)
				u->lo = 0x90;		/* overlong */
			else if (c == 0xf4)
				u->hi = 0x8f;		/* > U+10FFFF */
		} else
			u->bad = 1;
	}
}

int
utf8_check_done(const struct utf8_check *u)
{
	return !u->bad && u->need == 0;
}

json_t *
jsonw_text(const char *s)
{
	struct utf8_check	 u;
	struct buf		 b;
	json_t			*j;
	const uint8_t		*p = (const uint8_t *)s;
	size_t			 n = strlen(s), i, k;

	utf8_check_init(&u);
	utf8_check_update(&u, s, n);
	if (utf8_check_done(&u))
		return json_string(s);
	buf_init(&b, 3 * n + 1);
	for (i = 0; i < n; i += k) {
		k = p[i] < 0x80 ? 1 : smtp_utf8_seqlen(p + i, n - i);
		if (k == 0) {
			buf_add(&b, "\xef\xbf\xbd", 3);	/* U+FFFD */
			k = 1;
		} else
			buf_add(&b, p + i, k);
	}
	j = json_stringn(b.len ? (const char *)b.data : "", b.len);
	buf_free(&b);
	return j;
}

int
jsonw_line(struct buf *b, json_t *o)
{
	char	*s;
	int	 rc;

	if (o == NULL)
		return -1;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return -1;
	rc = buf_addstr(b, s) == -1 || buf_addstr(b, "\n") == -1 ? -1 : 0;
	free(s);
	return rc;
}

int
jsonw_escape(struct buf *b, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 i, run = 0;
	char		 esc[8];

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
			continue;
		if (buf_add(b, p + run, i - run) == -1)
			return -1;
		switch (p[i]) {
		case '"':
			strlcpy(esc, "\\\"", sizeof(esc));
			break;
		case '\\':
			strlcpy(esc, "\\\\", sizeof(esc));
			break;
		case '\n':
			strlcpy(esc, "\\n", sizeof(esc));
			break;
		case '\r':
			strlcpy(esc, "\\r", sizeof(esc));
			break;
		case '\t':
			strlcpy(esc, "\\t", sizeof(esc));
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
		}
		if (buf_addstr(b, esc) == -1)
			return -1;
		run = i + 1;
	}
	return buf_add(b, p + run, len - run);
}

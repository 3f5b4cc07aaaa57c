/*
 * Reports as mail (RFC 9990 3.5.2 for DMARC aggregate reports; the same
 * shape serves TLS-RPT, RFC 8460 5.3, and failure reports later): the
 * report is gzip-compressed (RFC 1952, zlib) and attached, base64-encoded
 * (RFC 2045 6.8), to a multipart/mixed message (RFC 2046 5.1) whose first
 * part says in plain text what the report is.
 *
 * Everything here is I/O-free and bounded by the output buffer's limit.
 * The text put into header fields comes from our configuration and from
 * domain names authd checked; it is still refused if it holds a CR or LF,
 * so nothing can add a field.  Not here: the destinations' authorization
 * (RFC 9990 4), DKIM signing and queueing (reportd/reportd.c).
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "mailhdr.h"
#include "reportd/report_mail.h"
#include "smtp_addr.h"
#include "util.h"

#define B64_LINE	76	/* RFC 2045 6.8: at most 76 characters */

int
report_gzip(const void *in, size_t len, struct buf *out)
{
	z_stream	 z;
	uint8_t		 chunk[16384];
	int		 rc, ret = 0;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer (RFC 1952), not zlib's. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR) {
			ret = -1;
			break;
		}
		if (buf_add(out, chunk, sizeof(chunk) - z.avail_out) == -1) {
			ret = -1;
			break;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return ret;
}

static int
b64_lines(struct buf *out, const uint8_t *p, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			 line[B64_LINE + 2];
	size_t			 i, n = 0;
	uint32_t		 v;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		line[n++] = tab[(v >> 18) & 63];
		line[n++] = tab[(v >> 12) & 63];
		line[n++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		line[n++] = i + 2 < len ? tab[v & 63] : '=';
		if (n == B64_LINE || i + 3 >= len) {
			line[n++] = '\r';
			line[n++] = '\n';
			if (buf_add(out, line, n) == -1)
				return -1;
			n = 0;
		}
	}
	return 0;
}

/* No CR or LF but in a fold ("\r\n" then a space or a tab). */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r' && s[1] == '\n' && (s[2] == ' ' ||
		    s[2] == '\t')) {
			s += 2;
			continue;
		}
		if (*s == '\r' || *s == '\n')
			return 0;
	}
	return 1;
}

int
report_mail_build(const struct report_mail *m, struct buf *out)
{
	char		 boundary[80], date[64];
	const char	*p;
	size_t		 i;
	uint32_t	 h = 2166136261u;

	if (m->nto == 0 || !header_safe(m->from) ||
	    !header_safe(m->subject) || !header_safe(m->message_id) ||
	    !header_safe(m->filename) || !header_safe(m->media_type) ||
	    (m->report_type != NULL && (!header_safe(m->report_type) ||
	    strchr(m->report_type, '"') != NULL)) ||
	    strchr(m->filename, '"') != NULL)
		return -1;
	mail_date(m->date, date, sizeof(date));
	for (i = 0; i < m->nto; i++)
		if (!header_safe(m->to[i]))
			return -1;
	/*
	 * The boundary cannot occur in base64 or in our text ("=_" is not
	 * base64, RFC 2045 6.8); derived from the id, so that a message
	 * built twice is the same message.
	 */
	for (p = m->message_id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(boundary, sizeof(boundary), "=_postern_report_%08x", h);

	if (buf_printf(out, "From: <%s>\r\n", m->from) == -1 ||
	    buf_addstr(out, "To: ") == -1)
		return -1;
	for (i = 0; i < m->nto; i++)
		if (buf_printf(out, "%s<%s>", i > 0 ? ",\r\n    " : "",
		    m->to[i]) == -1)
			return -1;
	if (buf_addstr(out, "\r\n") == -1 ||
	    buf_printf(out, "Subject: %s\r\n", m->subject) == -1 ||
	    buf_printf(out, "Date: %s\r\n", date) == -1 ||
	    buf_printf(out, "Message-ID: <%s>\r\n", m->message_id) == -1 ||
	    (m->extra_header != NULL &&
	    buf_addstr(out, m->extra_header) == -1) ||
	    buf_addstr(out, "MIME-Version: 1.0\r\n") == -1 ||
	    (m->report_type == NULL ? buf_printf(out, "Content-Type: "
	    "multipart/mixed;\r\n    boundary=\"%s\"\r\n\r\n", boundary) :
	    buf_printf(out, "Content-Type: multipart/report; report-type="
	    "\"%s\";\r\n    boundary=\"%s\"\r\n\r\n", m->report_type,
	    boundary)) == -1 ||
	    buf_addstr(out, "This is a MIME-formatted message.\r\n\r\n") ==
	    -1 ||
	    buf_printf(out, "--%s\r\nContent-Type: text/plain; "
	    "charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
	    boundary) == -1)
		return -1;
	/* The text, its line ends as CRLF. */
	for (p = m->text; *p != '\0'; p++) {
		if (*p == '\n') {
			if (buf_add(out, "\r\n", 2) == -1)
				return -1;
		} else if (*p != '\r' && buf_add(out, p, 1) == -1)
			return -1;
	}
	if (p > m->text && p[-1] != '\n' && buf_add(out, "\r\n", 2) == -1)
		return -1;
	if (buf_printf(out, "\r\n--%s\r\nContent-Type: %s;\r\n"
	    "    name=\"%s\"\r\n"
	    "Content-Disposition: attachment;\r\n    filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", boundary,
	    m->media_type, m->filename, m->filename) == -1 ||
	    b64_lines(out, m->attachment, m->attachment_len) == -1 ||
	    buf_printf(out, "\r\n--%s--\r\n", boundary) == -1)
		return -1;
	return 0;
}

int
report_mailto(const char *uri, char *addr, size_t addrlen, uint64_t *limit)
{
	struct smtp_addr	 sa;
	const char		*p, *end, *bang;
	char			 path[REPORT_ADDR_MAX + 2];
	size_t			 n = 0, consumed;
	uint64_t		 v = 0, mult = 1;
	int			 hi, lo;

	*limit = 0;
	if (strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	end = uri + strlen(uri);
	/* "!" 1*DIGIT [k/m/g/t]: RFC 7489 6.2's size limit */
	if ((bang = strrchr(uri, '!')) != NULL) {
		p = bang + 1;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (p - bang > 15)	/* a petabyte is no limit */
				return -1;
			v = v * 10 + (*p - '0');
		}
		switch (tolower((unsigned char)*p)) {
		case 'k': mult = 1024ULL; p++; break;
		case 'm': mult = 1024ULL * 1024; p++; break;
		case 'g': mult = 1024ULL * 1024 * 1024; p++; break;
		case 't': mult = 1024ULL * 1024 * 1024 * 1024; p++; break;
		}
		if (*p != '\0')
			return -1;
		*limit = v > UINT64_MAX / mult ? UINT64_MAX : v * mult;
		end = bang;
	}
	/* RFC 6068 2: hfields after "?" are not ours to honour */
	if ((p = memchr(uri + 7, '?', end - (uri + 7))) != NULL)
		end = p;
	path[n++] = '<';
	for (p = uri + 7; p < end; p++) {
		if (n >= sizeof(path) - 2)
			return -1;
		if (*p == '%') {
			if (p + 2 >= end || (hi = hex_digit(p[1])) == -1 ||
			    (lo = hex_digit(p[2])) == -1)
				return -1;
			path[n++] = hi << 4 | lo;
			p += 2;
		} else
			path[n++] = *p;
	}
	path[n++] = '>';
	path[n] = '\0';
	if (memchr(path, '\0', n) != NULL || strchr(path, ',') != NULL)
		return -1;
	if (smtp_path_parse(path, 0, &sa, &consumed) != SMTP_ADDR_OK ||
	    consumed != n || sa.utf8 || sa.at >= strlen(sa.addr))
		return -1;
	if (strlcpy(addr, sa.addr, addrlen) >= addrlen)
		return -1;
	return 0;
}

/*
 * Report mail told by its header fields (auth/reportmark.h has the marks).
 * Only the header section is looked at: authd sees it whole, while an
 * aggregate report's attachment inside multipart/mixed would need the
 * body's MIME structure.  Such a report still carries the subject RFC
 * 9990 requires ("MUST conform"), which is what finds it here.  Values are
 * untrusted: bounded scans over the given bytes, folding (CRLF and WSP)
 * taken as white space, RFC 5322 comments not interpreted (a comment
 * before the media type makes a field not match: a report is then
 * counted as ordinary mail, which is the safe side).
 */
#include <sys/types.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "auth/reportmark.h"
#include "mailhdr.h"

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value from v of vlen, white space at its start skipped. */
static const char *
skip_space(const char *v, size_t *vlen)
{
	while (*vlen > 0 && is_space((unsigned char)*v)) {
		v++;
		(*vlen)--;
	}
	return v;
}

/* Does v (of vlen) start with word, case-insensitive?  Its length or 0. */
static size_t
starts_with(const char *v, size_t vlen, const char *word)
{
	size_t	 n = strlen(word);

	return vlen >= n && strncasecmp(v, word, n) == 0 ? n : 0;
}

/* RFC 2045 5.1: the media type, up to ';', white space or the end. */
static int
media_type_is(const char *v, size_t vlen, const char *type)
{
	size_t	 n = starts_with(v, vlen, type);

	return n > 0 && (n == vlen || v[n] == ';' || is_space((unsigned
	    char)v[n]));
}

/* Is needle (case-insensitive) somewhere in v? */
static int
contains(const char *v, size_t vlen, const char *needle)
{
	size_t	 n = strlen(needle), i;

	for (i = 0; i + n <= vlen; i++)
		if (strncasecmp(v + i, needle, n) == 0)
			return 1;
	return 0;
}

/* RFC 9990 3.5.2: "Report" 1*FWS "Domain:" ... "Submitter:" ... */
static int
aggregate_subject(const char *v, size_t vlen)
{
	size_t	 n;

	if ((n = starts_with(v, vlen, "report")) == 0 || n == vlen ||
	    !is_space((unsigned char)v[n]))
		return 0;
	v += n;
	vlen -= n;
	v = skip_space(v, &vlen);
	if ((n = starts_with(v, vlen, "domain:")) == 0)
		return 0;
	return contains(v + n, vlen - n, "submitter:");
}

int
reportmark_field(const char *raw, size_t len, size_t namelen)
{
	const char	*v;
	size_t		 vlen;

	if (namelen == 0 || (v = mailhdr_value(raw, len, &vlen)) == NULL)
		return 0;
	v = skip_space(v, &vlen);
	if (mailhdr_name_is(raw, len, namelen, "Content-Type", 12))
		return media_type_is(v, vlen, "multipart/report") ||
		    media_type_is(v, vlen, "application/tlsrpt+gzip") ||
		    media_type_is(v, vlen, "application/tlsrpt+json");
	if (mailhdr_name_is(raw, len, namelen, "TLS-Report-Domain", 17))
		return 1;
	if (mailhdr_name_is(raw, len, namelen, "Subject", 7))
		return aggregate_subject(v, vlen);
	return 0;
}

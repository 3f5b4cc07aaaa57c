/*
 * ARF feedback reports as others send them (RFC 5965; authentication
 * failure reports RFC 6591 and DMARC failure reports RFC 9991 use the same
 * format): the fields of the machine-readable message/feedback-report
 * part (RFC 5965 3.1, 3.2), which rpt_mime.c finds inside the
 * multipart/report (RFC 6522).
 *
 * What is taken: Feedback-Type (required, RFC 5965 3.1), the first
 * Source-IP and the first Reported-Domain (optional, 3.2).  The fields
 * are header-like (RFC 5322 2.2 syntax, folding allowed); field names
 * compare case-insensitively.  Unknown fields are skipped.  The part is
 * bounded in size and field count; a value that does not fit or holds
 * control characters is refused.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reportd/rpt.h"
#include "util.h"

#define ARF_PART_MAX	(64 * 1024)
#define ARF_FIELDS_MAX	200
#define ARF_VALUE_MAX	1024

/* Trim WSP (and, for IPs in brackets, nothing else): in place. */
static char *
trim(char *s)
{
	size_t	 n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int
take_field(struct rpt_arf *r, const char *name, size_t nlen, char *value,
    int *have_type, char *err, size_t errlen)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		*v = trim(value), *sp;
	size_t		 i;

	if (nlen == 13 && strncasecmp(name, "Feedback-Type", 13) == 0) {
		if (*have_type) {
			snprintf(err, errlen, "two Feedback-Type fields");
			return -1;
		}
		/* RFC 5965 7.3: a registered token (abuse, auth-failure) */
		if (*v == '\0' || strlen(v) >= sizeof(r->feedback_type)) {
			snprintf(err, errlen, "bad Feedback-Type");
			return -1;
		}
		for (i = 0; v[i] != '\0'; i++) {
			if (!isalnum((unsigned char)v[i]) && v[i] != '-') {
				snprintf(err, errlen, "bad Feedback-Type");
				return -1;
			}
			r->feedback_type[i] = tolower((unsigned char)v[i]);
		}
		r->feedback_type[i] = '\0';
		*have_type = 1;
	} else if (nlen == 9 && strncasecmp(name, "Source-IP", 9) == 0) {
		if (r->source_ip[0] != '\0')
			return 0;
		/* some senders write [192.0.2.1] */
		if (*v == '[' && (sp = strchr(v, ']')) != NULL) {
			*sp = '\0';
			v++;
		}
		if (inet_pton(AF_INET, v, &a4) == 1)
			inet_ntop(AF_INET, &a4, r->source_ip,
			    sizeof(r->source_ip));
		else if (inet_pton(AF_INET6, v, &a6) == 1)
			inet_ntop(AF_INET6, &a6, r->source_ip,
			    sizeof(r->source_ip));
		else {
			snprintf(err, errlen, "bad Source-IP");
			return -1;
		}
	} else if (nlen == 15 && strncasecmp(name, "Reported-Domain", 15) ==
	    0) {
		if (r->reported_domain[0] != '\0')
			return 0;
		if (*v == '\0' || strlen(v) >= sizeof(r->reported_domain) ||
		    strpbrk(v, " \t") != NULL) {
			snprintf(err, errlen, "bad Reported-Domain");
			return -1;
		}
		for (i = 0; v[i] != '\0'; i++)
			r->reported_domain[i] = tolower((unsigned char)v[i]);
		r->reported_domain[i] = '\0';
	}
	return 0;
}

int
rpt_arf_parse(const uint8_t *p, size_t len, struct rpt_arf *r, char *err,
    size_t errlen)
{
	char		 line[ARF_VALUE_MAX + 1];
	size_t		 i, n = 0, nfields = 0, nlen, ll;
	int		 have_type = 0;
	const char	*colon;

	memset(r, 0, sizeof(*r));
	if (len > ARF_PART_MAX) {
		snprintf(err, errlen, "feedback-report part larger than %d "
		    "octets", ARF_PART_MAX);
		return -1;
	}
	/*
	 * Collect one unfolded field in line[0..n), take it when the next
	 * line does not continue it (RFC 5322 2.2.3) or at the end.
	 */
	for (i = 0; i <= len;) {
		const uint8_t	*eol;
		size_t		 start = i;
		int		 cont;

		if (i == len)
			ll = 0;
		else {
			eol = memchr(p + i, '\n', len - i);
			ll = (eol != NULL ? (size_t)(eol - p) : len) - i;
		}
		cont = ll > 0 && (p[i] == ' ' || p[i] == '\t');
		if (!cont && n > 0) {
			line[n] = '\0';
			if ((colon = memchr(line, ':', n)) == NULL) {
				snprintf(err, errlen, "a line without a colon");
				return -1;
			}
			nlen = colon - line;
			while (nlen > 0 && (line[nlen - 1] == ' ' ||
			    line[nlen - 1] == '\t'))
				nlen--;
			if (++nfields > ARF_FIELDS_MAX) {
				snprintf(err, errlen, "too many fields");
				return -1;
			}
			if (take_field(r, line, nlen, line + (colon - line) + 1,
			    &have_type, err, errlen) == -1)
				return -1;
			n = 0;
		}
		if (i == len)
			break;
		/* the line without its CR LF */
		{
			size_t	 k = ll;

			if (k > 0 && p[start + k - 1] == '\r')
				k--;
			if (k == 0 && !cont)
				break;	/* an empty line ends the fields */
			if (n + k > ARF_VALUE_MAX) {
				snprintf(err, errlen, "a field longer than "
				    "the limit");
				return -1;
			}
			for (size_t j = 0; j < k; j++) {
				uint8_t	 c = p[start + j];

				if ((c < 0x20 && c != '\t') || c == 0x7f) {
					snprintf(err, errlen, "control "
					    "characters in a field");
					return -1;
				}
				line[n++] = c;
			}
		}
		i = start + ll + (start + ll < len ? 1 : 0);
		if (start + ll >= len)
			i = len;
	}
	if (!have_type) {
		snprintf(err, errlen, "no Feedback-Type (RFC 5965 3.1)");
		return -1;
	}
	return 0;
}

/*
 * RFC 8601 Authentication-Results syntax helpers: comments and property
 * values.  A value is printed bare when it is an RFC 2045 token or
 * [local-part] "@" domain-name (2.2), and as a quoted-string otherwise
 * (e.g. a header.b holding "/" or "=").
 */
#include <string.h>

#include "authres.h"

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

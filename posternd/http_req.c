/*
 * One HTTP/1.x request head, read for the metrics listener (RFC 9112 2-5,
 * RFC 9110 9.3.1-9.3.2 GET and HEAD), and its response.  Only what a
 * Prometheus scraper sends is served: GET or HEAD of /metrics (origin-form,
 * or absolute-form, RFC 9112 3.2.2), with or without a query.  Every
 * response closes the connection (RFC 9112 9.6 "close"), so no body is
 * ever read and there is no pipelining, chunking or keep-alive to get
 * wrong.  Deliberately not done: obs-fold (rejected, RFC 9112 5.2 allows
 * it), Expect: 100-continue (a GET has no body), transfer codings.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "posternd/http_req.h"

#define HTTP_METHOD_MAX	16	/* longer than any method we know */

/* RFC 9110 5.6.2: tchar */
static int
is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
decide(struct http_req *r, int status)
{
	r->status = status;
	return 1;
}

/*
 * The request target: origin-form or absolute-form ("http://host/path"),
 * RFC 9112 3.2.  Its path, without the query, must be /metrics.
 */
static int
target_status(const char *t, size_t len)
{
	size_t	 i, plen;

	if (len == 0)
		return 400;
	for (i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return 400;
	if (len > 7 && strncasecmp(t, "http://", 7) == 0) {
		/* RFC 9112 3.2.2: a server MUST accept the absolute-form */
		for (i = 7; i < len && t[i] != '/' && t[i] != '?'; i++)
			;
		if (i == 7)
			return 400;	/* no authority */
		t += i;
		len -= i;
		if (len == 0)
			return 404;
	}
	if (t[0] != '/')
		return 400;
	for (plen = 0; plen < len && t[plen] != '?'; plen++)
		;
	if (plen != strlen(HTTP_METRICS_PATH) ||
	    memcmp(t, HTTP_METRICS_PATH, plen) != 0)
		return 404;
	return 200;
}

/* The request line (RFC 9112 3), without its line ending. */
static int
request_line(const char *s, size_t len, struct http_req *r, int *target)
{
	const char	*sp1, *sp2, *v;
	size_t		 mlen, vlen;

	if ((sp1 = memchr(s, ' ', len)) == NULL)
		return 400;
	mlen = sp1 - s;
	if ((sp2 = memchr(sp1 + 1, ' ', len - mlen - 1)) == NULL)
		return 400;
	v = sp2 + 1;
	vlen = s + len - v;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3) */
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
	    v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return 400;
	*target = target_status(sp1 + 1, sp2 - sp1 - 1);
	if (*target == 400)
		return 400;
	if (v[5] != '1')
		return 505;
	r->minor = v[7] - '0';
	/* RFC 9110 9.1: the method token is case-sensitive */
	if (mlen == 3 && memcmp(s, "GET", 3) == 0)
		r->method = HTTP_METHOD_GET;
	else if (mlen == 4 && memcmp(s, "HEAD", 4) == 0)
		r->method = HTTP_METHOD_HEAD;
	return 0;
}

/*
 * One field line (RFC 9112 5): a token, a colon with no whitespace
 * before it (5.1: MUST reject with 400), and a value of visible
 * characters, spaces and tabs.  A line that begins with whitespace is
 * obs-fold (5.2), rejected.  *host counts the Host fields.
 */
static int
field_line(const char *s, size_t len, int *host)
{
	size_t	 i, n;

	for (n = 0; n < len && is_tchar(s[n]); n++)
		;
	if (n == 0 || n == len || s[n] != ':')
		return 400;
	for (i = n + 1; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return 400;
	if (n == 4 && strncasecmp(s, "Host", 4) == 0)
		(*host)++;
	return 0;
}

/* The method as far as it has come: garbage is refused at once. */
static int
method_so_far(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && i <= HTTP_METHOD_MAX; i++) {
		if (s[i] == ' ')
			return i == 0 ? 400 : 0;
		if (!is_tchar(s[i]))
			return 400;
	}
	return i > HTTP_METHOD_MAX ? 400 : 0;
}

int
http_req_parse(const char *buf, size_t len, struct http_req *r)
{
	const char	*p, *end, *nl;
	size_t		 n, linelen;
	int		 line = 0, host = 0, target = 0, st;

	memset(r, 0, sizeof(*r));
	if (len > HTTP_REQ_MAX_HEAD)
		len = HTTP_REQ_MAX_HEAD;
	end = buf + len;
	p = buf;
	/* RFC 9112 2.2: SHOULD ignore at least one empty line before it */
	for (n = 0; n < 2 && p < end; n++) {
		if (*p == '\n')
			p++;
		else if (*p == '\r' && p + 1 == end)
			return 0;	/* its LF may follow */
		else if (*p == '\r' && p + 1 < end && p[1] == '\n')
			p += 2;
		else
			break;
	}
	if ((nl = memchr(p, '\n', end - p)) == NULL &&
	    (st = method_so_far(p, end - p)) != 0)
		return decide(r, st);
	for (; (nl = memchr(p, '\n', end - p)) != NULL; p = nl + 1, line++) {
		linelen = nl - p;
		/* RFC 9112 2.2: CRLF, or a bare LF; a bare CR is invalid */
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (memchr(p, '\r', linelen) != NULL ||
		    memchr(p, '\0', linelen) != NULL)
			return decide(r, 400);
		if (line == 0) {
			if ((st = method_so_far(p, linelen)) != 0 ||
			    (st = request_line(p, linelen, r, &target)) != 0)
				return decide(r, st);
			continue;
		}
		if (linelen == 0) {
			/*
			 * RFC 9112 3.2: a 1.1 request without exactly one
			 * Host field MUST be answered 400.
			 */
			if (host > 1 || (r->minor >= 1 && host != 1))
				return decide(r, 400);
			if (r->method == HTTP_METHOD_NONE)
				return decide(r, 405);
			return decide(r, target);
		}
		if (*p == ' ' || *p == '\t' ||
		    field_line(p, linelen, &host) != 0)
			return decide(r, 400);
	}
	if (len < HTTP_REQ_MAX_HEAD)
		return 0;
	/* RFC 9112 3: a too long request line is 414; fields, 431 */
	return decide(r, line == 0 ? 414 : 431);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Internal Server Error";
}

/* RFC 9110 5.6.7: IMF-fixdate, in English whatever the locale. */
static void
http_date(time_t now, char *s, size_t len)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
				    "Fri", "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr", "May",
				    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
				    "Dec" };
	struct tm		 tm;

	if (gmtime_r(&now, &tm) == NULL) {
		strlcpy(s, "Thu, 01 Jan 1970 00:00:00 GMT", len);
		return;
	}
	snprintf(s, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
http_req_response(const struct http_req *r, const char *content_type,
    const void *body, size_t bodylen, time_t now, struct buf *out)
{
	char	 date[64], text[96];
	int	 status = r->status;

	if (status != 200) {
		snprintf(text, sizeof(text), "%d %s\n", status,
		    reason(status));
		body = text;
		bodylen = strlen(text);
		content_type = "text/plain; charset=utf-8";
	}
	http_date(now, date, sizeof(date));
	if (buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n", status,
	    reason(status), date, content_type, bodylen) == -1)
		return -1;
	/* RFC 9110 15.5.6: a 405 MUST list the methods allowed */
	if (status == 405 && buf_addstr(out, "Allow: GET, HEAD\r\n") == -1)
		return -1;
	if (buf_addstr(out, "\r\n") == -1)
		return -1;
	/* RFC 9110 9.3.2: HEAD is GET without the content */
	if (r->method == HTTP_METHOD_HEAD)
		return 0;
	return buf_add(out, body, bodylen);
}

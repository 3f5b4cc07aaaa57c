/*
 * The metrics listener's HTTP: an I/O-free reader of one HTTP/1.0 or 1.1
 * request head (RFC 9112) and the writer of its one response.  The
 * control process feeds it the bytes it has read (posternd/metrics_http.c);
 * it answers "more" or a decision: the status to send and, for 200,
 * whether the body goes too (GET) or not (HEAD).
 */
#ifndef POSTERN_HTTP_REQ_H
#define POSTERN_HTTP_REQ_H

#include <stddef.h>
#include <time.h>

#include "util.h"

#define HTTP_REQ_MAX_HEAD	8192	/* request line and fields */
#define HTTP_METRICS_PATH	"/metrics"

enum http_method {
	HTTP_METHOD_NONE,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD
};

struct http_req {
	int			 status;	/* 200 (serve it), or an error */
	enum http_method	 method;
	int			 minor;		/* HTTP/1.<minor> */
};

/*
 * Look at the first len bytes of a connection: 0 while the head is not
 * complete (and within HTTP_REQ_MAX_HEAD), 1 once *r holds the decision.
 * Bytes after the head (a body) are not looked at.
 */
int	http_req_parse(const char *, size_t, struct http_req *);

/*
 * Append the response to r to out: the status line, Date (now), the
 * fields, and body (of bodylen bytes) unless the request was HEAD.  An
 * error status brings its own short text body, and body is ignored.
 * 0, or -1 if out is full.
 */
int	http_req_response(const struct http_req *, const char *content_type,
	    const void *body, size_t bodylen, time_t now, struct buf *out);

#endif

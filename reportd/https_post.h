/*
 * An HTTPS POST for TLS-RPT (RFC 8460 5.4): reportd/https_post.c.
 */
#ifndef POSTERN_REPORTD_HTTPS_POST_H
#define POSTERN_REPORTD_HTTPS_POST_H

#include <stddef.h>

struct dns_ctx;
struct tls_config;
struct https_post;

/*
 * The end of a POST: status is the HTTP status (0 when none came); why
 * is NULL for a 2xx answer, else what failed.
 */
typedef void	(*https_post_cb)(void *arg, int status, const char *why);

/*
 * POST len bytes of body with Content-Type ctype to an https: URI; cb
 * is called once, later, unless the POST is cancelled.  NULL when the
 * URI cannot be used (nothing started).
 */
struct https_post *https_post_start(struct dns_ctx *, struct tls_config *,
		    const char *uri, const char *ctype, const void *body,
		    size_t len, https_post_cb cb, void *arg);
void		 https_post_cancel(struct https_post *);

#endif

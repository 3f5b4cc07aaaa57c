/*
 * An HTTPS POST for TLS-RPT (RFC 8460 5.4): reportd/https_post.c.
 */
#ifndef POSTERN_REPORTD_HTTPS_POST_H
#define POSTERN_REPORTD_HTTPS_POST_H

#include <stddef.h>

struct dns_ctx;
struct tls_config;
struct netaddr_rules;
struct https_post;

#define HTTPS_POST_ADDR_MAX	8	/* addresses of the host tried */

enum https_post_result {
	HTTPS_POST_OK = 0,	/* a 2xx answer */
	HTTPS_POST_FAILED,	/* may pass: DNS, connection, TLS, status */
	HTTPS_POST_REFUSED,	/* every address of the host is one reportd
				   must not reach (lib/netaddr.h): final */
	HTTPS_POST_NOHOST	/* the host does not exist or has no address
				   (NXDOMAIN, or NODATA for A and AAAA) */
};

/*
 * The end of a POST: status is the HTTP status (0 when none came); why
 * is NULL for a 2xx answer, else what failed.
 */
typedef void	(*https_post_cb)(void *arg, enum https_post_result,
		    int status, const char *why);

/*
 * POST len bytes of body with Content-Type ctype to an https: URI, to an
 * address of its host that rules allow (strict rules; rules must outlive
 * the POST); cb is called once, later, unless the POST is cancelled.
 * NULL when the URI cannot be used (nothing started).
 */
struct https_post *https_post_start(struct dns_ctx *, struct tls_config *,
		    const struct netaddr_rules *, const char *uri,
		    const char *ctype, const void *body, size_t len,
		    https_post_cb cb, void *arg);
void		 https_post_cancel(struct https_post *);

#endif

/*
 * One HTTPS exchange on one address: connect (non-blocking), TLS with
 * libtls (the name checked by libtls when the caller's tls_config
 * verifies, or by the caller's verify hook after the handshake), the
 * request written whole, the answer read into a bounded buffer until the
 * server closes or the caller's enough hook is satisfied.  The caller
 * chooses the addresses (and which are allowed, lib/netaddr.h), builds
 * the request, keeps the deadline and parses the answer: the MTA-STS
 * policy fetch (mta/sts_fetch.c) and the TLS-RPT POST
 * (reportd/https_post.c) share this.  No redirects, no keep-alive.
 */
#ifndef POSTERN_HTTPS_CONN_H
#define POSTERN_HTTPS_CONN_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

struct tls;
struct tls_config;
struct https_conn;

/* How an exchange ended. */
enum https_conn_status {
	HTTPS_CONN_OK = 0,	/* the answer (closed, or enough of it) */
	HTTPS_CONN_CONNECT,	/* the TCP connection failed */
	HTTPS_CONN_SETUP,	/* libtls could not be set up */
	HTTPS_CONN_HANDSHAKE,	/* the handshake failed (libtls's checks) */
	HTTPS_CONN_VERIFY,	/* the verify hook refused the peer */
	HTTPS_CONN_WRITE,	/* writing the request failed */
	HTTPS_CONN_READ,	/* reading the answer failed */
	HTTPS_CONN_TOOBIG	/* the answer is larger than max */
};

struct https_conn_hooks {
	/*
	 * After the handshake, or NULL: 0 to go on, -1 to refuse with a
	 * reason in why.
	 */
	int	(*verify)(void *arg, struct tls *, char *why, size_t whylen);
	/* After each read, or NULL: 1 when the answer is enough. */
	int	(*enough)(void *arg, const char *data, size_t len);
	/*
	 * The end, called once unless cancelled: the answer's bytes for
	 * HTTPS_CONN_OK, else what failed (libtls's or the system's words,
	 * or the verify hook's).  The handle is freed after it returns.
	 */
	void	(*done)(void *arg, enum https_conn_status, const char *data,
		    size_t len, const char *why);
};

/*
 * Start the exchange with sa for the host name servername (SNI and the
 * name libtls checks); the request is copied.  NULL with errno set when
 * the connection cannot even be begun (nothing is called back).
 */
struct https_conn *https_conn_start(const struct sockaddr *, socklen_t,
		    struct tls_config *, const char *servername,
		    const void *req, size_t reqlen, size_t max,
		    const struct https_conn_hooks *, void *arg);
void		 https_conn_cancel(struct https_conn *);

#endif

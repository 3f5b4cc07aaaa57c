/*
 * SOCKS5 client handshake (RFC 1928 CONNECT, RFC 1929 username/password)
 * for the MTA's socks5 transport.  Sans-IO: the caller connects to the
 * proxy, sends what socks5_output() gives and feeds what it receives to
 * socks5_input() until DONE; the connection then carries the tunnelled
 * SMTP session.
 */
#ifndef POSTERN_SOCKS5_H
#define POSTERN_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum socks5_status {
	SOCKS5_NEED_MORE,
	SOCKS5_DONE,
	SOCKS5_ERROR,
};

struct socks5;

/*
 * host: a domain name (sent as ATYP 3, the proxy resolves it; 1 to 255
 * bytes) or an IPv4 or IPv6 literal (ATYP 1 or 4; an IPv6 literal may be
 * in brackets).  user/pass: both NULL for no authentication, else
 * RFC 1929 credentials (user 1 to 255 bytes, pass 0 to 255 bytes; a NULL
 * pass is an empty one).  NULL if any of this does not hold.
 */
struct socks5	*socks5_new(const char *host, uint16_t port, const char *user,
		    const char *pass);
/*
 * Bytes to send now, appended to out (nothing if there are none).  Call
 * after socks5_new() and after each socks5_input() that did not return
 * SOCKS5_ERROR.  If out's bound would be passed nothing is appended and
 * the handshake fails (the next socks5_input() returns SOCKS5_ERROR).
 */
void		 socks5_output(struct socks5 *, struct buf *out);
/*
 * Feed bytes received from the proxy; *used says how many were consumed.
 * Before DONE every byte is consumed; bytes after the proxy's reply
 * belong to the tunnelled connection (e.g. an SMTP greeting) and are left
 * unconsumed.  After DONE or ERROR nothing more is consumed.  On ERROR,
 * socks5_error() says why ("proxy refused: connection refused (reply 5)",
 * "no acceptable auth method", ...).
 */
enum socks5_status socks5_input(struct socks5 *, const uint8_t *, size_t,
		    size_t *used);
/* Why the handshake failed; "" if it has not. */
const char	*socks5_error(const struct socks5 *);
/*
 * After DONE: the proxy's bound address and port (BND.ADDR as text: a
 * dotted quad, an IPv6 address or the domain name the proxy gave).
 */
const char	*socks5_bound_addr(const struct socks5 *);
uint16_t	 socks5_bound_port(const struct socks5 *);
/* Wipes the password. */
void		 socks5_free(struct socks5 *);

#endif

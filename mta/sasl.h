/*
 * SASL client mechanisms for SMTP AUTH (RFC 4954) as the outbound MTA
 * uses them on the submission transport: PLAIN (RFC 4616), LOGIN,
 * CRAM-MD5 (RFC 2195), SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256
 * (RFC 7677).  Sans-IO: the caller sends the lines produced here (adding
 * CRLF) and feeds back the text of each 334 and of the final 235.
 * PLAIN and LOGIN lines carry the password (base64 is no protection):
 * send them only over TLS, and wipe the line buffer after sending; the
 * functions here wipe a line's old contents before they replace them.
 */
#ifndef POSTERN_SASL_CLIENT_H
#define POSTERN_SASL_CLIENT_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* Longest 334/235 text accepted from a server (base64 characters). */
#define SASL_MAX_CHALLENGE	4096
/* Longest user name or password taken (bytes). */
#define SASL_MAX_CRED		1024


struct sasl_client;

/*
 * Parse the mechanism names of an EHLO "AUTH ..." keyword line's
 * parameters ("PLAIN LOGIN SCRAM-SHA-256", any case) into a bit mask of
 * (1 << mech).  Unknown names are ignored.
 */
unsigned	 sasl_mechs_parse(const char *params);
/*
 * The strongest in offered & allowed: SCRAM-SHA-256 > SCRAM-SHA-1 >
 * CRAM-MD5 > PLAIN > LOGIN; SASL_MECH_NONE if there is none.
 */
enum sasl_mech	 sasl_choose(unsigned offered, unsigned allowed);

/*
 * A client for one authentication exchange; the strings are copied.
 * NULL if mech is not one of ours or user/pass is NULL.
 */
struct sasl_client *sasl_client_new(enum sasl_mech, const char *user,
	    const char *pass);
/*
 * Test hook: use this client nonce instead of a random one (SCRAM only;
 * printable ASCII without ',', 1 to 128 characters).  Call before
 * sasl_client_start().  -1 if unusable.
 */
int		 sasl_client_set_nonce(struct sasl_client *, const char *);

/*
 * The AUTH command line, without CRLF, replacing the contents of line:
 * "AUTH PLAIN <b64>", "AUTH LOGIN", "AUTH CRAM-MD5",
 * "AUTH SCRAM-SHA-256 <b64 client-first>".  An initial response that
 * would make the command longer than SMTP's 512-octet command line is
 * left out and sent in answer to the first 334 instead (RFC 4954 4).
 * -1 with a reason in err (bad credentials for the mechanism, called
 * twice, line's bound too small).
 */
int		 sasl_client_start(struct sasl_client *, struct buf *line,
	    char *err, size_t errlen);
/*
 * The text of a 334 reply (the base64 challenge after "334 ", maybe
 * empty); replaces line with the response to send (base64, possibly
 * empty).  0 ok; -1 with a reason in err on a bad challenge or, for
 * SCRAM, a server signature that does not match (RFC 5802 5.1): line
 * then holds "*", which the caller sends to cancel (RFC 4954 4).
 */
int		 sasl_client_step(struct sasl_client *, const char *challenge,
	    struct buf *line, char *err, size_t errlen);
/*
 * On the final 235, its text (after "235 ", may carry an enhanced status
 * code).  For SCRAM the server must have proved itself: its signature
 * came in a last 334, or as base64 "additional data with success" in the
 * 235 text (any space-separated word of it); -1 if it never did or if it
 * does not match.  0 otherwise.
 */
int		 sasl_client_done(struct sasl_client *, const char *text_235,
	    char *err, size_t errlen);
/* Wipes the password and the keys derived from it. */
void		 sasl_client_free(struct sasl_client *);

#endif

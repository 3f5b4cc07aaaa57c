/*
 * Delivery status notifications: the RFC 3464 message the queue sends back
 * to a sender (failure, delay, success), as an RFC 6522 multipart/report,
 * with the RFC 6533 "global" variant for SMTPUTF8 envelopes; and the RFC
 * 3461 4.1 / RFC 5321 6.1 rules that say whether one is sent at all.
 */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "util.h"

enum dsn_kind {
	DSN_KIND_FAILURE = 1,	/* permanent failure or expiry */
	DSN_KIND_DELAY,		/* still trying (RFC 3461 4.1 DELAY) */
	DSN_KIND_SUCCESS,	/* delivered, or relayed to a non-DSN MTA */
	DSN_KIND_EXPANDED	/* to a list or alias, RFC 3464 2.3.3 */
};

/* RFC 3464 2.3.3 action-value */
enum dsn_action {
	DSN_ACTION_FAILED = 1,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,
	DSN_ACTION_EXPANDED
};

/* Included original: a cap on RET=FULL, and on any header section. */
#define DSN_ORIGINAL_MAX	(1024 * 1024)
#define DSN_HEADERS_MAX		(64 * 1024)

/*
 * What the DSN is about.  Strings are NUL-terminated; the optional ones may
 * be NULL.  ret is ENV_RET_*: unset means headers only (RFC 3461 4.3 lets
 * the MTA choose; headers keep the content private and the DSN small).
 * arrival and now are seconds since the epoch; now 0 means time(NULL).
 * max_original caps a RET=FULL original (0: DSN_ORIGINAL_MAX; never less
 * than DSN_HEADERS_MAX); over it, only the header section goes back.
 */
struct dsn_info {
	const char	*reporting_mta;	/* our host name */
	const char	*sender;	/* reverse path; "" = null */
	const char	*envid;		/* xtext-decoded ENVID */
	int		 ret;
	int		 smtputf8;	/* envelope had SMTPUTF8 */
	enum dsn_kind	 kind;
	int64_t		 arrival;
	int64_t		 now;
	const char	*queue_id;	/* printable message id */
	size_t		 max_original;
};

/*
 * One recipient.  orcpt is "addr-type;addr" with the address decoded (as
 * struct envelope keeps it).  status NULL means X.0.0 from the action.
 * diag_type NULL means "smtp"; diagnostic is the reply text, e.g.
 * "550 5.1.1 no such user" (CR, LF and controls become spaces).
 * last_attempt 0: never tried; retry_until is shown for delayed only.
 */
struct dsn_rcpt {
	const char	*final_rcpt;	/* the envelope recipient */
	const char	*orcpt;
	enum dsn_action	 action;
	const char	*status;	/* "5.1.1" */
	const char	*remote_mta;	/* host name */
	const char	*diag_type;
	const char	*diagnostic;
	int64_t		 last_attempt;
	int64_t		 retry_until;
};

/*
 * Reads the next bytes of the original message (the wire form as queued):
 * returns 0 with *got bytes (0 at the end), -1 on error.
 */
typedef int	(*dsn_read_fn)(void *, uint8_t *, size_t, size_t *);

/* Successful dsn_build() returns these flags, ORed (possibly 0). */
#define DSN_OUT_8BITMIME	0x01	/* send with BODY=8BITMIME */
#define DSN_OUT_SMTPUTF8	0x02	/* send with SMTPUTF8 */
#define DSN_OUT_TRUNCATED	0x04	/* only (some) headers included */

/* Errors (negative). */
#define DSN_ERR_NULLSENDER	-1	/* never bounce a bounce */
#define DSN_ERR_INVALID		-2	/* bad or missing argument */
#define DSN_ERR_READ		-3	/* read_original failed */
#define DSN_ERR_SPACE		-4	/* out's bound reached */

/*
 * Append a complete RFC 5322 message (CRLF line ends, lines of at most 998
 * octets) to out.  read_original may be NULL: no third part.  On error out
 * is left as it was.
 */
int	dsn_build(struct buf *out, const struct dsn_info *,
	    const struct dsn_rcpt *, size_t nrcpts, dsn_read_fn read_original,
	    void *arg);

/* Does this envelope ask for (or allow) a DSN of this kind? 1 or 0. */
int	dsn_wanted(const struct envelope *, enum dsn_kind);

/* Fill from an envelope; the pointers point into it. */
void	dsn_info_from_envelope(struct dsn_info *, const struct envelope *,
	    enum dsn_kind, const char *reporting_mta);
void	dsn_rcpt_from_envelope(struct dsn_rcpt *, const struct envelope *,
	    enum dsn_action, const char *status);

#endif

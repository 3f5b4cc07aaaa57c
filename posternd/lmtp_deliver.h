/*
 * lmtp delivery: a delivery worker's connection to an LMTP server, kept
 * for the worker's life (posternd/lmtp_deliver.c).
 */
#ifndef POSTERN_LMTP_DELIVER_H
#define POSTERN_LMTP_DELIVER_H

#include <time.h>

#include "msg.h"

/* Of one message, for one server: one transaction. */
struct lmtp_job {
	const char			*sender;
	const char			*rcpt_to;	/* what RCPT TO names */
	struct msg_deliver_result	*r;		/* its outcome */
};

/*
 * Deliver the message in `msgfd` (wire form, CRLF) to every job's
 * recipient in one LMTP transaction to `dest` (a unix socket path or
 * host:port), within `secs`.  n is at most LMTP_RCPTS_MAX.
 */
void	lmtp_deliver(const char *dest, const char *lhlo, int msgfd,
	    struct lmtp_job *, size_t n, time_t secs);
/* Before the worker's filter: the name service's modules loaded. */
void	lmtp_deliver_prepare(const char *dest);
/* The end of the worker: QUIT if a session is open. */
void	lmtp_deliver_close(void);

#endif

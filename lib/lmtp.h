/*
 * The client side of LMTP (RFC 2033), without I/O: the delivery workers
 * of `action NAME lmtp DEST` feed it the server's bytes and write what it
 * puts in its output buffer.  Replies are read with lib/smtp_reply.c, so
 * their bounds are the mta's.
 */
#ifndef POSTERN_LMTP_H
#define POSTERN_LMTP_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_reply.h"
#include "util.h"

#define LMTP_RCPTS_MAX	64		/* recipients in one transaction */
#define LMTP_OUT_MAX	(LMTP_RCPTS_MAX * 1100 + 4096)	/* commands */

enum lmtp_rcpt_status {
	LMTP_RCPT_PENDING,
	LMTP_RCPT_OK,			/* 2xx after the message */
	LMTP_RCPT_TEMPFAIL,		/* 4xx, or the session failed */
	LMTP_RCPT_PERMFAIL		/* 5xx */
};

/* One recipient of a transaction and, at its end, its own outcome. */
struct lmtp_rcpt {
	const char		*addr;		/* the RCPT TO address */
	enum lmtp_rcpt_status	 status;
	int			 sent;		/* RCPT sent (not refused by us) */
	int			 accepted;	/* RCPT took it: one reply
						   after DATA (RFC 2033 4.2) */
	int			 server;	/* reply is the server's own */
	char			 enhanced[16];	/* RFC 3463 status */
	char			 reply[256];	/* "550 5.1.1 text", or ours */
};

/* What the driver does next, after lmtp_input() or lmtp_begin(). */
enum lmtp_event {
	LMTP_EV_WANT,			/* send `out`, read more */
	LMTP_EV_READY,			/* LHLO done: a transaction may begin */
	LMTP_EV_BODY,			/* 354: send the message, then
					   lmtp_body_end() */
	LMTP_EV_DONE,			/* every recipient has its outcome;
					   ready for the next transaction */
	LMTP_EV_CLOSED,			/* QUIT answered */
	LMTP_EV_FAIL			/* the session is unusable (`error`):
					   close it; recipients not decided
					   are temporary failures */
};

enum lmtp_state {
	LMTP_S_GREETING,
	LMTP_S_LHLO,
	LMTP_S_READY,
	LMTP_S_RSET,
	LMTP_S_MAIL,
	LMTP_S_RCPT,
	LMTP_S_DATA,
	LMTP_S_BODY,			/* the driver sends the message */
	LMTP_S_DOT,			/* replies, one per accepted rcpt */
	LMTP_S_QUIT,
	LMTP_S_DEAD
};

struct lmtp_session {
	enum lmtp_state		 state;
	struct buf		 out;		/* to write to the server */
	struct smtp_reply	 reply;
	struct smtp_caps	 caps;
	char			 lhlo[256];
	/* the line being read; longer than a reply line is an error */
	char			 line[SMTP_REPLY_LINE_MAX + 2];
	size_t			 linelen;
	/* the transaction */
	const char		*sender;
	struct lmtp_rcpt	*rcpts;
	size_t			 nrcpts;
	size_t			 idx;		/* the rcpt the next reply is for */
	size_t			 ntx;		/* transactions begun */
	int			 mail_failed;
	int			 tx_replies;	/* of this transaction, seen */
	char			 error[256];
};

void	lmtp_init(struct lmtp_session *, const char *lhlo_name);
void	lmtp_free(struct lmtp_session *);
/* The server's bytes, as they come; see enum lmtp_event. */
enum lmtp_event lmtp_input(struct lmtp_session *, const void *, size_t);
/*
 * A transaction from LMTP_EV_READY or LMTP_EV_DONE: RSET if one came
 * before, MAIL, RCPT for each and DATA, pipelined when the server offered
 * PIPELINING (RFC 2920).  The strings and `rcpts` must outlive it.
 * LMTP_EV_WANT, or LMTP_EV_DONE when no recipient could be sent at all;
 * LMTP_EV_FAIL, every recipient pending, if the session is not ready.
 */
enum lmtp_event lmtp_begin(struct lmtp_session *, const char *sender,
	    struct lmtp_rcpt *, size_t n);
/* The message (dot-stuffed and ended by the driver) has been sent. */
void	lmtp_body_end(struct lmtp_session *);
/* QUIT at the end of a session that is ready. */
void	lmtp_quit(struct lmtp_session *);
/* Fail what is not decided (connection lost, time out) with `why`. */
void	lmtp_fail(struct lmtp_session *, const char *why);

#endif

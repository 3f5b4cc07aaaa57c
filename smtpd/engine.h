/*
 * The SMTP server protocol engine (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, DSN, STARTTLS,
 * REQUIRETLS when enabled, and AUTH), free of I/O: the caller feeds it
 * the client's bytes, drains the replies it writes, and answers the
 * decisions it asks for through callbacks, at once or later.  See
 * engine.c, engine_tx.c and engine_auth.c for the RFC sections.
 *
 * Rules for the caller:
 * - smtp_session_input() takes what it can and returns how much; while a
 *   decision is pending (or the output is not drained), it buffers a bounded
 *   amount and then takes nothing: keep the rest and offer it again later.
 * - Every smtp_session_reply_*() and smtp_session_tls_started() may be
 *   called from inside the callback that asked for it, or later.  They and
 *   smtp_session_output_consume() resume processing of buffered input, and
 *   may therefore run further callbacks.
 * - Callbacks must not call smtp_session_input() or smtp_session_free().
 * - After on_data_start is accepted, exactly one of on_data_end and
 *   on_data_abort follows.
 * - When smtp_session_closing() is true, send the remaining output and close.
 * - For STARTTLS, send the pending output (the 220) before the handshake.
 * - on_auth gets the password in a buffer that the engine wipes when the
 *   callback returns: copy what must outlive it (and wipe the copy).
 * - The Received header goes in front of the content: build it when
 *   accepting on_data_start, while smtp_session_protocol() and
 *   smtp_session_rcpt_count() still describe the transaction.
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smtp_addr.h"
#include "util.h"

/*
 * RFC 5321 4.5.3.1.4: 512 octets for a command line including CRLF; the
 * DSN extension adds room for ORCPT (RFC 3461 4: "increased by 500").
 */
#define SMTP_CMD_LINE_BASE	512
#define SMTP_CMD_LINE_EXT	500
#define SMTP_CMD_LINE_MAX	(SMTP_CMD_LINE_BASE + SMTP_CMD_LINE_EXT)
#define SMTP_TEXT_LINE_MAX	1000	/* RFC 5321 4.5.3.1.6, with CRLF */
#define SMTP_HELO_MAX		255
#define SMTP_INBUF_MAX		(64 * 1024)	/* pipelined input held */
#define SMTP_OUT_HIGHWATER	(16 * 1024)	/* stop reading above this */
#define SMTP_OUTBUF_MAX		(64 * 1024)
#define SMTP_CHUNK_MAX		(16 * 1024)	/* on_data_chunk() pieces */
#define SMTP_REPLY_TEXT_MAX	400

/*
 * RFC 4954 4: AUTH command and response lines of at least 12288 octets
 * MUST be accepted; that is our bound (without the CRLF).  The decoded
 * user name and password are bounded too.
 */
#define SMTP_AUTH_LINE_MAX	12288
#define SMTP_AUTH_USER_MAX	255
#define SMTP_AUTH_PASS_MAX	1024

#define SMTP_DEFAULT_MAX_SIZE	(35 * 1024 * 1024)
#define SMTP_DEFAULT_MAX_RCPTS	100
/* RFC 5321 6.3: a loop is assumed past this many Received fields. */
#define SMTP_DEFAULT_MAX_RECEIVED 100
#define SMTP_DEFAULT_MAX_ERRORS	10
#define SMTP_DEFAULT_MAX_IDLE_COMMANDS 100

/* Listener flags. */
#define SMTP_CONF_STARTTLS	0x01	/* STARTTLS may be offered */
#define SMTP_CONF_TLS_ACTIVE	0x02	/* implicit TLS (smtps) */
#define SMTP_CONF_TLS_REQUIRED	0x04	/* MAIL needs TLS: 530 5.7.0 */
#define SMTP_CONF_AUTH		0x08	/* AUTH PLAIN LOGIN, inside TLS */
#define SMTP_CONF_AUTH_REQUIRED	0x10	/* MAIL needs AUTH: 530 5.7.0 */
/*
 * REQUIRETLS (RFC 8689) offered inside TLS and taken on MAIL.  A message
 * taken with it must be relayed as RFC 8689 4.2.1 requires, which the mta
 * does (mta/session.c, session_requiretls()).
 */
#define SMTP_CONF_REQUIRETLS	0x20
/*
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, 7677) offered with AUTH: the
 * credentials table has keys for it (on_scram_start, on_scram_proof).
 */
#define SMTP_CONF_SCRAM_SHA1	0x40
#define SMTP_CONF_SCRAM_SHA256	0x80

struct smtp_session_conf {
	const char	*hostname;	/* ours, in the banner and replies */
	uint64_t	 max_size;	/* 0: SMTP_DEFAULT_MAX_SIZE */
	size_t		 max_rcpts;	/* 0: SMTP_DEFAULT_MAX_RCPTS */
	unsigned int	 max_errors;	/* 0: SMTP_DEFAULT_MAX_ERRORS */
	unsigned int	 max_received;	/* 0: SMTP_DEFAULT_MAX_RECEIVED */
	/* NOOP RSET HELP VRFY EXPN between messages accepted; 0: default */
	unsigned int	 max_idle_commands;
	int		 flags;		/* SMTP_CONF_* */
};

struct smtp_session;

struct smtp_mail {
	struct smtp_addr	 sender;	/* "" for <> */
	struct smtp_mail_params	 params;
};

struct smtp_rcpt {
	struct smtp_addr	 rcpt;
	struct smtp_rcpt_params	 params;
};

/* The answer to on_auth. */
enum smtp_auth_result {
	SMTP_AUTH_OK,		/* 235 2.7.0 */
	SMTP_AUTH_FAIL,		/* 535 5.7.8 */
	SMTP_AUTH_TEMPFAIL	/* 454 4.7.0 */
};

/* Why a message in progress was dropped. */
enum smtp_abort {
	SMTP_ABORT_BARE_CRLF = 1,	/* RFC 5321 2.3.8, SMTP smuggling */
	SMTP_ABORT_LINE_TOO_LONG,
	SMTP_ABORT_TOO_BIG,
	SMTP_ABORT_CLIENT,		/* connection lost, timeout, shutdown */
	SMTP_ABORT_RESET,		/* RSET, EHLO or QUIT between chunks */
	SMTP_ABORT_LOOP			/* RFC 5321 6.3: too many Received */
};

struct smtp_session_cb {
	/* Notifications: nothing to answer. */
	void	(*on_helo)(void *, const char *, int esmtp);
	void	(*on_rset)(void *);	/* an open transaction was dropped */
	void	(*on_quit)(void *);
	/* Decisions: answer with the smtp_session_reply_*() named. */
	void	(*on_mail)(void *, const struct smtp_mail *);	/* _mail */
	void	(*on_rcpt)(void *, const struct smtp_rcpt *);	/* _rcpt */
	void	(*on_data_start)(void *);		/* _data_start */
	void	(*on_data_end)(void *);			/* _data */
	void	(*on_starttls)(void *);			/* _tls_started */
	/* mech "PLAIN" or "LOGIN"; see the rule on the password above */
	void	(*on_auth)(void *, const char *mech, const char *user,
		    const char *pass);			/* _auth */
	/*
	 * SCRAM (mech "SCRAM-SHA-256" or "SCRAM-SHA-1"): the user's salt
	 * and iteration count, answered with _reply_scram_salt() or, to
	 * refuse, _reply_auth(); then the proof, answered with
	 * _reply_scram_ok() or _reply_auth().  authmsg is NULL when the
	 * client-final-message cannot be right (its nonce or channel
	 * binding differs): a failure to count like a wrong password.
	 */
	void	(*on_scram_start)(void *, const char *mech, const char *user);
	void	(*on_scram_proof)(void *, const char *mech, const char *user,
		    const char *authmsg, size_t authmsglen,
		    const uint8_t *proof, size_t prooflen);
	/* The message content: dot-unstuffed, CRLF lines, no terminator. */
	void	(*on_data_chunk)(void *, const uint8_t *, size_t);
	void	(*on_data_abort)(void *, enum smtp_abort);
	/* The session is being closed with a 421: a limit, named. */
	void	(*on_limit)(void *, const char *);
};

struct smtp_session *smtp_session_new(const struct smtp_session_conf *,
	    const struct smtp_session_cb *, void *);
void	 smtp_session_free(struct smtp_session *);
void	 smtp_session_start(struct smtp_session *);
size_t	 smtp_session_input(struct smtp_session *, const void *, size_t);
const uint8_t *smtp_session_output(struct smtp_session *, size_t *);
void	 smtp_session_output_consume(struct smtp_session *, size_t);
int	 smtp_session_closing(const struct smtp_session *);

/* ok != 0 accepts; code 0 and NULL strings pick the defaults. */
void	 smtp_session_reply_mail(struct smtp_session *, int, int,
	    const char *, const char *);
void	 smtp_session_reply_rcpt(struct smtp_session *, int, int,
	    const char *, const char *);
void	 smtp_session_reply_data_start(struct smtp_session *, int, int,
	    const char *, const char *);
void	 smtp_session_reply_data(struct smtp_session *, int, int,
	    const char *, const char *);
void	 smtp_session_tls_started(struct smtp_session *, const char *,
	    const char *);
/*
 * code 0 and NULL strings pick the defaults above; a code of 421 closes
 * the session after the reply (too many failures).
 */
void	 smtp_session_reply_auth(struct smtp_session *,
	    enum smtp_auth_result, int, const char *, const char *);

/* SCRAM: the user's salt (1 to SCRAM_SALT_MAX bytes), iterations. */
void	 smtp_session_reply_scram_salt(struct smtp_session *,
	    const uint8_t *, size_t, unsigned int);
/* SCRAM: the proof holds; the ServerSignature goes to the client. */
void	 smtp_session_reply_scram_ok(struct smtp_session *, const uint8_t *,
	    size_t);

void	 smtp_session_timeout(struct smtp_session *);
void	 smtp_session_limit(struct smtp_session *, const char *);
void	 smtp_session_shutdown(struct smtp_session *);
void	 smtp_session_client_gone(struct smtp_session *);

/* What the session knows, for logs and the Received header. */
const char *smtp_session_helo(const struct smtp_session *);
const char *smtp_session_protocol(const struct smtp_session *);
int	 smtp_session_tls_active(const struct smtp_session *);
/* The authenticated user (RFC 4954), or NULL. */
const char *smtp_session_auth_user(const struct smtp_session *);
size_t	 smtp_session_rcpt_count(const struct smtp_session *);
uint64_t smtp_session_data_size(const struct smtp_session *);

/* received.c: the RFC 5321 4.4 time stamp line. */
struct smtp_received {
	const char	*helo;		/* may be NULL */
	const char	*client_ip;	/* "192.0.2.1" or "2001:db8::1" */
	const char	*client_rdns;	/* verified reverse name, or NULL */
	const char	*hostname;	/* ours */
	const char	*protocol;	/* RFC 3848 / RFC 6531 keyword */
	const char	*tls_version;	/* NULL without TLS */
	const char	*tls_cipher;
	const char	*queue_id;
	const char	*rcpt;		/* only when exactly one recipient */
	time_t		 date;
	int		 local;		/* posternctl sendmail: from the user */
	uint32_t	 local_uid;
	const char	*local_user;	/* "" or NULL: not known */
};

int	 smtp_received_header(struct buf *, const struct smtp_received *);

#endif

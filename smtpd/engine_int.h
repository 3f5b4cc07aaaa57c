/*
 * What the three parts of the SMTP server engine share: the session, its
 * states, and the helpers that every command uses.  Private to
 * smtpd/engine*.c: callers see only smtpd/engine.h.
 *
 *   engine.c		the session's life, input framing, replies, state
 *			changes, and the commands outside a transaction
 *   engine_tx.c	the mail transaction: MAIL, RCPT, DATA, BDAT and the
 *			message content
 *   engine_auth.c	STARTTLS and AUTH
 *
 * Implements no RFC itself (the .c files name theirs).  Deliberately not
 * a public API: nothing outside smtpd/engine*.c includes it, so the
 * session's fields can change without touching a caller.
 */
#ifndef POSTERN_SMTPD_ENGINE_INT_H
#define POSTERN_SMTPD_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "scram.h"
#include "smtpd/engine.h"
#include "util.h"

enum smtp_state {
	S_INIT,		/* waiting for EHLO or HELO */
	S_HELO,		/* greeted, no transaction */
	S_MAIL,		/* sender accepted, no recipient yet */
	S_RCPT,		/* at least one recipient accepted */
	S_DATA,		/* reading DATA content */
	S_BDAT,		/* reading the octets of a BDAT chunk */
	S_QUIT		/* closing */
};

/* The decision the engine waits for; input is held meanwhile. */
enum smtp_pending {
	P_NONE,
	P_MAIL,
	P_RCPT,
	P_DATA_START,
	P_DATA_END,
	P_STARTTLS,
	P_AUTH
};

/* Where an AUTH exchange is (RFC 4954 4). */
enum auth_step {
	A_NONE,
	A_PLAIN,	/* 334 sent, waiting for the PLAIN response */
	A_LOGIN_USER,	/* 334 "Username:" sent */
	A_LOGIN_PASS,	/* 334 "Password:" sent */
	/* SCRAM (RFC 5802 5): */
	A_SCRAM_FIRST,	/* waiting for client-first-message */
	A_SCRAM_LOOKUP,	/* the caller looks up the salt (P_AUTH) */
	A_SCRAM_FINAL,	/* server-first sent, waiting for client-final */
	A_SCRAM_VERIFY,	/* the caller checks the proof (P_AUTH) */
	A_SCRAM_DONE	/* server-final sent, waiting for an empty line */
};

/* Where the DATA scanner is in a line (dot-stuffing and terminator). */
enum data_pos {
	D_BOL,		/* after CRLF, or at the start */
	D_TEXT,
	D_DOT,		/* "." at the start of a line */
	D_DOTCR		/* ".\r" at the start of a line */
};

struct smtp_session {
	struct smtp_session_conf conf;
	char			 hostname[SMTP_DOMAIN_MAX + 1];
	struct smtp_session_cb	 cb;
	void			*arg;

	enum smtp_state		 state;
	enum smtp_pending	 pending;
	struct buf		 in;
	struct buf		 out;
	/* not yet handed over; SMTP_CHUNK_MAX octets, allocated while a
	   message is read only: an idle session holds no content buffer */
	uint8_t			*chunk;
	size_t			 chunklen;
	int			 started;
	int			 closing;
	int			 in_process;
	int			 out_blocked;
	int			 drop_input;	/* after STARTTLS */
	int			 skip_line;	/* rest of an over-long line */
	unsigned int		 errors;
	unsigned int		 idle_commands;	/* since a message */

	int			 esmtp;
	int			 tls;
	char			 tls_version[32];
	char			 tls_cipher[128];
	char			 helo[SMTP_HELO_MAX + 1];

	/* AUTH: the exchange, then who authenticated. */
	enum auth_step		 auth_step;
	char			 auth_login[SMTP_AUTH_USER_MAX + 1];
	char			 auth_pending_user[SMTP_AUTH_USER_MAX + 1];
	/*
	 * The password being checked: in the session, not on the stack, so
	 * that on_auth's pointer stays valid and the wipe after it can be
	 * verified; always zero between exchanges.
	 */
	char			 auth_pass[SMTP_AUTH_PASS_MAX + 1];
	int			 wipe_in;	/* input held a response */
	/*
	 * SCRAM: the mechanism and what the AuthMessage is made of
	 * (RFC 5802 3); the gs2-header to check "c=" against, the nonce
	 * with our part.
	 */
	enum sasl_mech		 scram_mech;
	char			 scram_gs2[SCRAM_CLIENT_MSG_MAX + 1];
	char			 scram_first_bare[SCRAM_CLIENT_MSG_MAX + 1];
	char			 scram_server_first[SCRAM_SERVER_FIRST_MAX + 1];
	char			 scram_nonce[SCRAM_NONCE_MAX +
				    2 * SCRAM_SNONCE_RAND + 1];
	int			 authenticated;
	char			 auth_user[SMTP_AUTH_USER_MAX + 1];

	/* The transaction. */
	struct smtp_mail	 mail;
	struct smtp_rcpt	 rcpt;		/* the one being decided */
	size_t			 nrcpt;
	size_t			 nrcpt_dup;	/* count against max_rcpts */
	struct buf		 rcpts;		/* accepted, NUL-separated */
	int			 bdat_seen;	/* RFC 3030: no DATA after BDAT */

	/* The message content. */
	int			 data_open;	/* started, not ended/aborted */
	enum smtp_abort		 data_err;
	enum data_pos		 dpos;
	uint64_t		 data_size;
	size_t			 line_len;
	int			 prev_cr;
	int			 in_body;	/* the header's empty line seen */
	int			 received_match; /* this line may be Received: */
	unsigned int		 nreceived;

	/* The BDAT chunk being read. */
	uint64_t		 bdat_size;
	uint64_t		 bdat_left;
	int			 bdat_last;
	enum smtp_state		 bdat_prev;	/* state around the chunk */
	int			 bdat_discard;	/* read and drop, then reply: */
	int			 bdat_err_code;
	char			 bdat_err_enh[16];
	char			 bdat_err_text[SMTP_REPLY_TEXT_MAX + 1];
};

/* engine.c */
void	 engine_enter_state(struct smtp_session *, enum smtp_state);
void	 engine_close(struct smtp_session *);
void	 engine_process(struct smtp_session *);
void	 engine_reply(struct smtp_session *, int, const char *, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
void	 engine_reply_raw(struct smtp_session *, const char *, size_t);
void	 engine_reply_caller(struct smtp_session *, int, int, const char *,
	    const char *, int, const char *, const char *);
void	 engine_sanitize(char *, size_t, const char *);
int	 engine_enhanced_valid(const char *, int);
void	 engine_tx_reset(struct smtp_session *, int);
int	 engine_answer_expected(struct smtp_session *, enum smtp_pending,
	    const char *);
int	 engine_check_noargs(struct smtp_session *, const char *);

/* engine_tx.c */
size_t	 engine_data_input(struct smtp_session *, const uint8_t *, size_t);
size_t	 engine_bdat_input(struct smtp_session *, const uint8_t *, size_t);
void	 engine_chunk_flush(struct smtp_session *);
void	 engine_chunk_release(struct smtp_session *);
int	 engine_check_mail(struct smtp_session *, const char *);
void	 engine_proceed_mail(struct smtp_session *, const char *);
int	 engine_check_rcpt(struct smtp_session *, const char *);
void	 engine_proceed_rcpt(struct smtp_session *, const char *);
int	 engine_check_data(struct smtp_session *, const char *);
void	 engine_proceed_data(struct smtp_session *, const char *);
int	 engine_check_bdat(struct smtp_session *, const char *);
void	 engine_proceed_bdat(struct smtp_session *, const char *);

/* engine_auth.c */
int	 engine_auth_line(const struct smtp_session *, const uint8_t *,
	    size_t);
void	 engine_auth_too_long(struct smtp_session *);
void	 engine_auth_response(struct smtp_session *, const char *);
int	 engine_check_starttls(struct smtp_session *, const char *);
void	 engine_proceed_starttls(struct smtp_session *, const char *);
int	 engine_check_auth(struct smtp_session *, const char *);
void	 engine_proceed_auth(struct smtp_session *, const char *);

#endif

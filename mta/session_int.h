/*
 * What mta/session.c (connection, I/O, the SMTP dialogue) and
 * mta/session_secure.c (STARTTLS and AUTH) share about one outbound
 * session.  Nothing outside mta/session*.c includes it.
 */
#ifndef POSTERN_MTA_SESSION_INT_H
#define POSTERN_MTA_SESSION_INT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event.h>
#include <tls.h>

#include "mta/mta.h"
#include "smtp_reply.h"
#include "util.h"

struct sasl_client;
struct socks5;

enum mta_state {
	S_CONNECT,
	S_SOCKS,		/* the SOCKS5 handshake with the proxy */
	S_TLS_IMPLICIT,		/* smtps: handshake before the greeting */
	S_GREETING,
	S_EHLO,
	S_HELO,
	S_STARTTLS,
	S_TLS_STARTTLS,		/* handshake after 220 to STARTTLS */
	S_EHLO2,
	S_AUTH,
	S_IDLE,
	S_MAIL,
	S_RCPT,
	S_DATA,
	S_BODY,
	S_DATA_END,
	S_RSET,
	S_QUIT
};

struct mta_session {
	TAILQ_ENTRY(mta_session) entry;
	struct mta		*mta;
	struct mta_dest		*dest;
	uint32_t		 id;
	int			 fd;
	struct tls		*tls;
	int			 handshaking;
	short			 hs_want;	/* EV_READ or EV_WRITE */
	unsigned int		 conn;		/* connections made: a failed
						   one moves to the next */
	int			 ev_set;
	struct event		 ev;
	struct event		 ev_timer;
	struct event		 ev_slow;	/* MTA_SLOW_SECONDS in a state */
	int			 slow;		/* counted in mta->nslow */
	struct buf		 in;
	struct buf		 out;
	enum mta_state		 state;
	size_t			 hi, ai;	/* next host, address */
	int			 plaintext;	/* TLS failed here: retry */
	char			 host[256];
	char			 addr[INET6_ADDRSTRLEN + 2];
	struct smtp_reply	 reply;
	struct smtp_caps	 caps;
	char			 tls_info[400];
	int			 verified;
	const struct mta_tlsa_host *dane;	/* this host's TLSA records,
						   when they require TLS */
	enum sts_mode		 sts;		/* MTA-STS for this host, when
						   DANE does not apply */
	struct sasl_client	*sasl;
	struct socks5		*socks;
	int			 talked;	/* a server took us: not a
						   connection failure */
	size_t			 rtls_refused;	/* hosts that could not take
						   REQUIRETLS mail */
	char			 error[1024];
	/* the transaction */
	struct mta_task		*task;
	struct mta_rcpt		*rcpt_send;	/* next RCPT to send */
	struct mta_rcpt		*rcpt_reply;	/* next RCPT reply */
	int			 mail_failed;
	struct smtp_reply	*mail_reply;
	size_t			 naccepted;
	int			 bdat;
	uint64_t		 body_off;
	uint64_t		 body_left;	/* at the timer's start */
	struct smtp_dotstuff	 ds;
};

/* mta/session.c */
void	mta_session_enter(struct mta_session *, enum mta_state);
void	mta_session_send(struct mta_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	mta_session_host_fail(struct mta_session *, int retry_plain,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
void	mta_session_next_task(struct mta_session *);
int	mta_session_tls_required(const struct mta_session *);

/* mta/session_secure.c */
void	mta_session_tls_result(struct mta_session *, const char *);
void	mta_session_tls_start(struct mta_session *, enum mta_state);
void	mta_session_tls_done(struct mta_session *);
void	mta_session_auth(struct mta_session *);
void	mta_session_auth_reply(struct mta_session *, const char *);

#endif

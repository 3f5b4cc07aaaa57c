/*
 * The smtp process: listeners, sessions, and what they share.
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <tls.h>

#include "config.h"
#include "envelope.h"
#include "msg.h"
#include "posternd/proc.h"
#include "routing.h"
#include "smtpd/arstrip.h"
#include "smtpd/engine.h"
#include "smtpd/index.h"
#include "smtpd/limits.h"

/* Session limits and the idle timeout come from postern.conf ("smtp"). */
/*
 * Backpressure: while more than SMTP_PEER_HIWAT bytes wait to be written
 * to the queue (or to authd), sessions in DATA whose bytes go there are
 * not read; they are read again once it is below SMTP_PEER_LOWAT.  What
 * smtp holds for a peer is then at most SMTP_PEER_HIWAT plus, for each
 * session, one read (SESSION_READ_SIZE) and the Received field: with 512
 * sessions, 4 MB + 512 * 20 KB, about 14 MB.
 */
#define SMTP_PEER_HIWAT		(4 * 1024 * 1024)
#define SMTP_PEER_LOWAT		(1024 * 1024)
#define SMTP_IMSG_CHUNK		(32 * 1024)	/* message bytes per imsg */
#define SMTP_SASL_MAX_FAILURES	3	/* then 421 and close */
#define SMTP_SASL_FAIL_DELAY	1	/* seconds before a 535 */
/*
 * crypt(3) runs in authd's helper, one check after another, some 50 ms
 * each with yescrypt: more checks at once than this get 454 4.7.0 at
 * once, so that a crowd of guessers cannot make everyone's AUTH wait.
 */
#define SMTP_SASL_INFLIGHT_MAX	4
/* at SIGTERM, for the answers to commits under way (queue_shutdown()) */
#define SMTP_SHUTDOWN_MS	3000

struct smtp_pki {
	TAILQ_ENTRY(smtp_pki)	 entry;
	char			 name[64];
	struct tls		*tls;		/* server context */
};

struct smtp_listener {
	TAILQ_ENTRY(smtp_listener)	 entry;
	struct msg_conf_listener	 conf;
	int				 fd;
	struct event			 ev;
	struct smtp_pki			*pki;
	struct smtp			*smtp;
};

struct smtp_rcpt_entry {
	TAILQ_ENTRY(smtp_rcpt_entry)	 entry;
	struct envelope			 env;
	char				*alias_of;	/* the RCPT an alias
							   expanded, or NULL */
	int				 forwarded;	/* by its ~/.forward */
	struct msg_forward_member	*fwd;	/* forwarded: the member, with
						   the parent's proof */
	int				 srs;	/* alias_of: an SRS address
						   reversed (lib/srs.h) */
	unsigned long			 alias_gen;	/* tables as then */
};

enum smtp_queue_state {
	QSTATE_NONE,
	QSTATE_BEGIN,		/* waiting for the message id */
	QSTATE_DATA,		/* streaming */
	QSTATE_AUTH,		/* data done, waiting for authd */
	QSTATE_COMMIT		/* waiting for durability */
};

struct session {
	TAILQ_ENTRY(session)		 entry;
	uint32_t			 id;
	struct session			*id_next;	/* smtpd/index.c */
	struct smtp			*smtp;
	struct smtp_listener		*listener;
	int				 fd;
	struct sockaddr_storage		 ss;
	char				 ip[64];
	struct tls			*tls;
	int				 tls_handshake;	/* in progress */
	int				 starttls;	/* after the 220 */
	char				 tls_version[32];
	char				 tls_cipher[64];
	struct event			 ev_read;
	struct event			 ev_write;
	struct event			 ev_timeout;
	size_t				 in_timed;	/* read since the
							   timeout restarted */
	struct smtp_session		*engine;
	struct buf			 in;	/* read, not yet taken */
	int				 eof;
	int				 held;	/* not read: backpressure */
	TAILQ_ENTRY(session)		 held_entry;	/* while held */
	struct smtp_mail		 mail;
	TAILQ_HEAD(, smtp_rcpt_entry)	 rcpts;
	enum smtp_queue_state		 qstate;
	uint64_t			 msgid;
	struct arstrip			 arstrip;
	int				 auth;	/* authd has the message */
	int				 mail_pending;	/* MAIL awaits authd */
	/* SASL AUTH (RFC 4954) */
	int				 sasl_pending;	/* authd checks */
	/* a local recipient's ~/.forward, asked of the parent at RCPT */
	int				 fwd_pending;
	struct smtp_rcpt		 fwd_rcpt;
	char				 fwd_action[64];
	char				 fwd_user[65];
	struct msg_forward_member	*fwd_members;
	size_t				 fwd_n;
	unsigned int			 sasl_failures;
	int				 sasl_locked;	/* 421 after the 535 */
	char				 sasl_mech[16];
	int				 sasl_scram;	/* 1 salt, 2 proof
							   asked of authd */
	char				 sasl_user[SMTP_AUTH_USER_MAX + 1];
	struct event			 ev_sasl_delay;	/* a failure's 535 */
	/* limits that hold under attack (smtpd/limits.c) */
	struct client_net		 net;	/* the client, by prefix */
	struct event			 ev_lifetime;	/* smtp-max-lifetime */
	struct event			 ev_rate;	/* data rate check */
	struct rate_window		 rate;
	/* a local submission (posternctl sendmail), as control saw it */
	int				 local;
	uint32_t			 local_uid;
	int				 local_privileged;	/* any sender */
	char				 local_user[64];	/* "" unknown */
};

enum smtp_stat {
	STAT_SESSIONS,		/* accepted connections */
	STAT_REFUSED_BUSY,	/* 421 at connect: limits */
	STAT_ACCEPTED,		/* messages queued */
	STAT_RCPT_RELAY_DENIED,
	STAT_RCPT_UNKNOWN_USER,
	STAT_DROPPED_BARE_CRLF,
	STAT_DROPPED_TOO_LONG,
	STAT_DROPPED_TOO_BIG,
	STAT_DROPPED_OTHER,
	STAT_QUEUE_FAILURES,	/* 451: the queue could not store */
	STAT_TLS_FAILURES,
	STAT_AUTH_REJECTED,	/* refused by the authentication policy */
	STAT_AUTH_DEFERRED,	/* 451 by the policy: DNS errors */
	STAT_AUTH_QUARANTINED,
	STAT_FORGED_AR,		/* our A-R fields removed */
	STAT_SASL_OK,		/* AUTH succeeded */
	STAT_SASL_FAILED,	/* AUTH refused: bad credentials */
	STAT_SENDER_NOT_OWNED,	/* refused under "senders <T>" */
	STAT_QUEUE_NOSPACE,	/* 452: the queue's memory budget */
	STAT_READ_PAUSED,	/* a session not read: backpressure */
	STAT_SPOOL_LOW,		/* 452 at MAIL: below queue minfree */
	STAT_LIMIT_CLOSED,	/* 421: lifetime, data rate, idle commands */
	STAT_SASL_LOCKED,	/* 454/421: AUTH failures locked out */
	STAT_ACCEPT_PAUSED,	/* out of descriptors: accept paused */
	STAT_MAX
};

struct smtp {
	struct proc			*proc;
	uint64_t			 stats[STAT_MAX];
	int				 paused;
	struct routing			 routing;
	struct postern_conf		*conf;	/* routing.conf */
	TAILQ_HEAD(, smtp_listener)	 listeners;
	struct smtp_listener		 local_listener;	/* sendmail */
	TAILQ_HEAD(, smtp_pki)		 pkis;
	TAILQ_HEAD(, session)		 sessions;
	size_t				 nsessions;
	struct session_index		 index;	/* by id, per client */
	size_t				 nlocal;	/* of them local
							   submissions */
	size_t				 sasl_inflight;	/* at authd */
	int				 peer_full[PROC_MAX];
	TAILQ_HEAD(, session)		 held;	/* sessions not read */
	size_t				 nheld;
	uint32_t			 next_id;
	int				 shutting_down;
	int				 spool_low;	/* the queue says */
	struct authfail			 authfail;	/* across sessions */
	int				 accept_paused;	/* out of fds */
	int				 accept_warned;	/* until one works */
	time_t				 accept_warn_at; /* monotime() */
	unsigned long			 accept_warn_quiet; /* pauses unlogged */
	struct event			 ev_accept_retry;
};

/* session.c */
void	session_accept(struct smtp *, struct smtp_listener *, int,
	    const struct sockaddr_storage *);
void	session_accept_local(struct smtp *, int,
	    const struct msg_ctl_local_session *);
void	session_auth_result(struct smtp *, struct imsg *);
void	session_auth_mail(struct smtp *, struct imsg *);
void	session_sasl_result(struct smtp *, struct imsg *);
void	session_scram_salt(struct smtp *, struct imsg *);
void	session_scram_result(struct smtp *, struct imsg *);
void	session_queue_reply(struct smtp *, struct imsg *);
void	session_peer_written(struct proc *, enum proc_id);
void	smtpd_session_close(struct session *);
void	session_shutdown(struct session *);

/* smtp.c */
extern const char *const smtp_stat_names[STAT_MAX];
void	smtp_accept_pause(struct smtp *);
void	smtp_accept_resume(struct smtp *);

/* The parent's IMSG_FORWARD_MEMBER and IMSG_FORWARD_END. */
void	session_forward_imsg(struct smtp *, struct imsg *);

/* smtpd/rcpt.c: one envelope, or those of an alias or a ~/.forward */
struct action;
struct smtp_rcpt_entry *session_rcpt_add(struct session *,
	    const struct smtp_rcpt *, int remote, const char *action,
	    const char *rcpt);
/* 0: not an alias of a's table; 1: answered (or refused) */
int	session_rcpt_alias(struct session *, const struct smtp_rcpt *,
	    const struct action *);
/* 0: no ~/.forward to ask for; 1: asked, the RCPT waits */
int	session_rcpt_forward(struct session *, const struct smtp_rcpt *,
	    const struct action *);
void	session_forward_done(struct session *, int status);
/* 0: not an SRS address of ours; 1: answered (or refused) */
int	session_rcpt_srs(struct session *, const struct smtp_rcpt *);
int	session_rcpt_list(struct session *, const struct smtp_rcpt *);

#endif

/*
 * The mta process's shared state: relay actions from the configuration,
 * messages handed over by the queue, destinations (one per relay action
 * and recipient domain, or per smarthost) with their pending tasks, and
 * the SMTP client sessions (mta/session.c) that deliver them.
 */
#ifndef POSTERN_MTA_H
#define POSTERN_MTA_H

#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <openssl/x509.h>
#include <tls.h>

#include "config.h"
#include "dns.h"
#include "envelope.h"
#include "msg.h"
#include "mta/dane.h"
#include "mta/debug.h"
#include "mta/mxres.h"
#include "mta/sts.h"
#include "posternd/proc.h"
#include "smtp_reply.h"
#include "util.h"

/* RFC 5321 4.5.3.1.8: a server takes at least 100 recipients. */
#define MTA_MAX_RCPTS_PER_TASK	100
#define MTA_MAX_ENVELOPES	4096	/* per message from the queue */
#define MTA_MX_TTL		60	/* seconds a next-hop lookup is reused */
#define MTA_BACKOFF_FIRST	60	/* seconds; doubles per failure */
#define MTA_BACKOFF_MAX		3600
#define MTA_SHUTDOWN_MS		1000	/* at SIGTERM, for replies and results */
#define MTA_STOP_TICK_MS	20
#define MTA_IDLE_SECONDS	2	/* an idle session waits for work */
#define MTA_SLOW_SECONDS	2	/* waiting on the server this long, a
					   session is slow (mta_sessions_full()) */
#define MTA_DEST_KEEP		600	/* seconds an idle destination is
					   kept for posternctl show hosts */

struct mta_relay {
	TAILQ_ENTRY(mta_relay)	 entry;
	struct msg_conf_relay	 c;
};
TAILQ_HEAD(mta_relays, mta_relay);

struct mta_route {
	TAILQ_ENTRY(mta_route)	 entry;
	struct msg_conf_route	 c;
	struct mta_relay	*transport;
};
TAILQ_HEAD(mta_routes, mta_route);

struct mta_secret {
	TAILQ_ENTRY(mta_secret)	 entry;
	struct msg_conf_secret	 c;
};
TAILQ_HEAD(mta_secrets, mta_secret);

/* A message from the queue; each task holds a reference to it. */
struct mta_msg {
	uint64_t		 msgid;
	uint64_t		 size;
	int			 fd;
	int			 refs;
};

struct mta_rcpt {
	TAILQ_ENTRY(mta_rcpt)	 entry;
	struct envelope		 env;
	int			 accepted;	/* RCPT got 2xx */
	int			 done;		/* result sent */
};
TAILQ_HEAD(mta_rcpts, mta_rcpt);

/* One message to one destination: one SMTP transaction. */
struct mta_task {
	TAILQ_ENTRY(mta_task)	 entry;
	struct mta_msg		*msg;
	struct mta_dest		*dest;
	struct mta_rcpts	 rcpts;
	size_t			 nrcpts;
};
TAILQ_HEAD(mta_tasks, mta_task);

/* What DANE (RFC 7672 2.2) says about one MX host (mta/tlsa.c). */
enum mta_dane {
	MTA_DANE_NONE = 0,	/* no secure TLSA: opportunistic TLS */
	MTA_DANE_PENDING,	/* looking */
	MTA_DANE_REQUIRED,	/* usable records: STARTTLS and a match */
	MTA_DANE_UNUSABLE,	/* secure records, none usable: STARTTLS,
				   not authenticated */
	MTA_DANE_TEMPFAIL	/* bogus or failed lookup: host not used */
};

struct mta_tlsa_host {
	struct mta_dest		*dest;
	size_t			 idx;		/* in dest->mx.hosts */
	enum mta_dane		 state;
	int			 bogus;		/* TEMPFAIL: DNSSEC said so */
	struct dns_query	*q;
	char			 base[DNS_NAME_BUF];	/* TLSA base domain */
	char			 reason[700];
	size_t			 n;
	struct dane_tlsa	*rr;		/* usable records */
};

/*
 * What the messages of a destination ask of TLS (RFC 8689): those with
 * REQUIRETLS, those with "TLS-Required: No" and the others never share a
 * destination, so never a session that applies the other's rules.
 */
enum mta_dest_tls {
	MTA_DEST_TLS_POLICY = 0,	/* the domain's DANE and MTA-STS */
	MTA_DEST_TLS_REQUIRED,		/* REQUIRETLS (RFC 8689 4.2.1) */
	MTA_DEST_TLS_OPTIONAL		/* TLS-Required: No (RFC 8689 4.2.2) */
};

struct mta_dest {
	TAILQ_ENTRY(mta_dest)	 entry;
	struct mta		*mta;
	char			 name[340];	/* "action/domain" for logs */
	struct mta_relay	*relay;
	char			 domain[256];	/* recipient domain, or the
						   smarthost */
	enum mta_dest_tls	 tls;
	struct mta_tasks	 tasks;		/* waiting for a session */
	size_t			 ntasks;
	size_t			 nsessions;	/* open now */
	struct mxres		*lookup;	/* in flight */
	struct mxres_result	 mx;
	int			 mx_valid;
	struct mta_tlsa_host	*tlsa;		/* one per mx host */
	size_t			 ntlsa;
	size_t			 tlsa_pending;	/* lookups in flight */
	/* MTA-STS (mta/sts_policy.c): the policy in force, NULL if none */
	struct sts_policy	*sts;
	char			 sts_id[STS_ID_MAX + 1];
	int64_t			 sts_expires;
	int			 sts_pending;	/* decided when 0 */
	struct dns_query	*sts_q;
	struct sts_fetch	*sts_fetch;
	char			 sts_new_id[STS_ID_MAX + 1];
	time_t			 mx_time;
	time_t			 last_active;
	time_t			 backoff_until;
	time_t			 backoff_step;
	char			 last_error[256];
	uint64_t		 delivered;
	uint64_t		 failures;
	uint64_t		 connections;
};
TAILQ_HEAD(mta_dests, mta_dest);

struct mta_session;
TAILQ_HEAD(mta_sessions, mta_session);

/* What posternctl show stats and show metrics count (lib/metrics.c). */
#define MTA_STATS_TLS_MAX	24	/* RFC 8460 4.3 names 15 results */
struct mta_stats {
	uint64_t	 sessions;
	uint64_t	 connect_failures;
	uint64_t	 delivery[3];		/* by DELIVER_OK, _TEMPFAIL,
						   _PERMFAIL */
	struct {
		char	 result[40];
		uint64_t n;
	}		 tls[MTA_STATS_TLS_MAX];
	size_t		 ntls;
};

struct mta {
	struct proc		*proc;
	struct msg_conf_mta	 conf;
	struct mta_relays	 relays;
	struct mta_secrets	 secrets;
	struct mta_routes	 routes;
	struct mta_dests	 dests;
	struct mta_sessions	 sessions;
	/* the loop checks (RFC 5321 5.1): ours, and loopback allowed */
	struct netaddr_net	*listen;
	size_t			 nlisten;
	struct netaddr_net	*mx_allow;
	size_t			 nmx_allow;
	size_t			 nsessions;
	size_t			 nslow;		/* of them, waiting on a slow
						   server (mta/session.c) */
	uint32_t		 next_session_id;
	struct dns_ctx		*dns;
	X509_STORE		*ca;		/* for certificate checks */
	struct sts_cache	*sts_cache;	/* in the mta's spool dir */
	struct tls_config	*tls_config;
	/* a message being handed over: its task and envelopes */
	struct mta_msg		*incoming;
	uint32_t		 incoming_left;
	struct envelope		*incoming_env;
	size_t			 incoming_nenv;
	struct event		 ev_dests;	/* run destinations soon */
	/* SIGTERM: no new work; waiting for replies (mta_shutdown()) */
	int			 stopping;
	int			 stop_ticks;
	struct event		 ev_stop;
	/* set in a debug delivery probe's own state (mta/debug.c) */
	struct mta_probe	*probe;
	struct mta_stats	 stats;
};

/* mta.c */
void	mta_report(struct mta *, struct mta_rcpt *, int status,
	    const char *dsn_status, const char *remote_mta,
	    const char *diagnostic, const char *error);
void	mta_task_done(struct mta *, struct mta_task *);
void	mta_dest_fail_all(struct mta *, struct mta_dest *, int status,
	    const char *dsn_status, const char *error);
enum mta_dest_tls mta_env_tls(const struct envelope *);
struct mta_task *mta_dest_take(struct mta_dest *);
void	mta_dest_session_done(struct mta *, struct mta_dest *, int ok,
	    const char *error);
void	mta_dest_kick(struct mta *);
int	mta_sessions_full(const struct mta *);
void	mta_dests_cb(int, short, void *);
const struct mta_secret *mta_secret_find(struct mta *, const char *table,
	    const char *host);

/* session.c */
void	mta_session_start(struct mta *, struct mta_dest *);
/* Give an idle session of this destination a task: 1 if one took it. */
size_t	mta_sessions_sending(const struct mta *);
int	mta_session_offer(struct mta *, struct mta_dest *);
/* Close another destination's idle session to make room for d. */
int	mta_session_reclaim(struct mta *, struct mta_dest *);
void	mta_session_shutdown(struct mta *);
/* Close every session of m now, with no word to anyone (mta/debug.c). */
void	mta_session_drop_all(struct mta *);

/* sts_fetch.c: an MTA-STS policy over HTTPS (RFC 8461 3.3). */
struct sts_fetch;
/* body and len, or NULL with why and the RFC 8460 result type */
typedef void (*sts_fetch_cb)(void *arg, const char *body, size_t len,
	    const char *why, const char *rpt);
struct sts_fetch *sts_fetch_start(struct mta *, const char *domain,
	    sts_fetch_cb, void *);
void	sts_fetch_cancel(struct sts_fetch *);

/* sts_policy.c: the MTA-STS policy of a destination (RFC 8461 5). */
int	mta_sts_start(struct mta_dest *);
void	mta_sts_clear(struct mta_dest *);
void	mta_ctl_sts_show(struct mta *, const char *, uint32_t, int json);
void	mta_ctl_sts_flush(struct mta *, const char *, uint32_t);

/* tlsa.c: DANE TLSA lookups for a destination's MX hosts. */
void	mta_tlsa_start(struct mta_dest *);
void	mta_tlsa_clear(struct mta_dest *);
const struct mta_tlsa_host *mta_tlsa_host(const struct mta_dest *, size_t);

/* session_secure.c: a TLS result for reportd (RFC 8460 4.3) */
void	mta_tls_result_send(struct mta *, const struct mta_dest *,
	    int32_t policy, const char *mx, const char *ip,
	    const char *result);

/* tls.c: our own check of a peer's chain (RFC 6125 name matching). */
int	mta_cert_verify(X509_STORE *, const uint8_t *pem, size_t len,
	    const char *host, char *why, size_t whylen);

/* mta/params.c: MAIL and RCPT parameters for what the server offers */
void	mta_mail_params(const struct smtp_caps *, const struct envelope *,
	    uint64_t size, struct buf *);
void	mta_rcpt_params(const struct smtp_caps *, const struct envelope *,
	    struct buf *);

#endif

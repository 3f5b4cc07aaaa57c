/*
 * One outbound SMTP session (RFC 5321 client side): connect to the next
 * hops of a destination in order, greeting, EHLO (HELO fallback, 4.1.4),
 * STARTTLS (RFC 3207) with our own certificate check, AUTH (RFC 4954,
 * mta/sasl.c) when the relay has credentials (those two in
 * mta/session_secure.c), then one transaction
 * per task with PIPELINING (RFC 2920) of MAIL and RCPT when offered, DATA
 * with dot-stuffing (4.5.2) or BDAT (RFC 3030), the DSN parameters (RFC
 * 3461) when the server takes them, and a result per recipient.  After a
 * transaction the session takes the next task of its destination
 * (connection reuse); idle, it waits a moment for more, then QUITs.
 *
 * Every reply byte is untrusted: lines and replies are bounded
 * (lib/smtp_reply.c) and every wait has a timeout (RFC 5321 4.5.3.2) that
 * trickling bytes do not extend, so a hostile or crawling server costs one
 * failed attempt and never blocks the others.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/sockios.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mta/mta.h"
#include "mta/sasl.h"
#include "mta/session_int.h"
#include "mta/socks5.h"

#define SESSION_READ_SIZE	8192
#define SESSION_IN_MAX		(SMTP_REPLY_LINE_MAX + SESSION_READ_SIZE + 2)
#define SESSION_OUT_MAX		(1024 * 1024)
#define SESSION_BODY_CHUNK	(64 * 1024)
#define SESSION_ONELINE_MAX	600	/* a reply on one line: logs, reports */


static const struct {
	const char	*name;
	int		 timeout;	/* RFC 5321 4.5.3.2, seconds */
} states[] = {
	[S_CONNECT] = { "connect", 0 },
	[S_SOCKS] = { "SOCKS5 proxy", 60 },
	[S_TLS_IMPLICIT] = { "TLS handshake", 120 },
	[S_GREETING] = { "greeting", 300 },		/* 4.5.3.2.1 */
	[S_EHLO] = { "EHLO", 300 },
	[S_HELO] = { "HELO", 300 },
	[S_STARTTLS] = { "STARTTLS", 120 },
	[S_TLS_STARTTLS] = { "TLS handshake", 120 },
	[S_EHLO2] = { "EHLO", 300 },
	[S_AUTH] = { "AUTH", 300 },
	[S_IDLE] = { "idle", MTA_IDLE_SECONDS },
	[S_MAIL] = { "MAIL", 300 },			/* 4.5.3.2.2 */
	[S_RCPT] = { "RCPT", 300 },			/* 4.5.3.2.3 */
	[S_DATA] = { "DATA", 120 },			/* 4.5.3.2.4 */
	[S_BODY] = { "message", 180 },			/* 4.5.3.2.5 */
	[S_DATA_END] = { "end of data", 600 },		/* 4.5.3.2.6 */
	[S_RSET] = { "RSET", 300 },
	[S_QUIT] = { "QUIT", 60 },
};

/* The debug delivery step (mta/debug.c) a state belongs to. */
static const char *
session_step(enum mta_state st)
{
	switch (st) {
	case S_CONNECT:
	case S_SOCKS:
		return "connect";
	case S_TLS_IMPLICIT:
	case S_STARTTLS:
	case S_TLS_STARTTLS:
		return "starttls";
	case S_MAIL:
	case S_IDLE:
		return "mail";
	case S_RCPT:
	case S_RSET:
	case S_QUIT:
	case S_DATA:
	case S_BODY:
	case S_DATA_END:
		return "rcpt";
	default:
		return "ehlo";
	}
}

static void	session_io(int, short, void *);
static void	session_arm(struct mta_session *);
static void	session_connect_next(struct mta_session *);
static void	session_reply(struct mta_session *);
static int	session_still(struct mta *, uint32_t, unsigned int);

/*
 * The state's whole time starts now.  Bytes that arrive do not restart
 * it: a server that sends its reply a byte a minute is given up on when
 * the reply is due (RFC 5321 4.5.3.2), not never.
 */
/*
 * The message bytes that have not reached the server yet: in the file,
 * in our buffer and in the kernel's send queue, which on a slow link
 * holds megabytes.
 */
static uint64_t
session_body_left(struct mta_session *s)
{
	int	 queued;

	if (s->fd == -1 || ioctl(s->fd, SIOCOUTQ, &queued) == -1 ||
	    queued < 0)
		queued = 0;
	return s->task->msg->size - s->body_off + s->out.len +
	    (uint64_t)queued;
}

/*
 * A session that has waited MTA_SLOW_SECONDS on its server in one state
 * (a greeting that does not come, replies seconds apart, a body the
 * server reads slowly) is slow: it stops taking one of the
 * mta-max-sessions slots, up to mta-max-slow-sessions of them
 * (mta_sessions_full()), so that slow and silent servers cannot take
 * every session from the destinations that answer.  It stays slow until
 * it ends: a server that answers every command 3 s late would otherwise
 * hold a slot for the first 2 s of each wait, most of the time
 * (bench/relay_scale.py measured the healthy rate at 0.4x then).
 */
static void
session_slow_clear(struct mta_session *s)
{
	evtimer_del(&s->ev_slow);
	if (s->slow) {
		s->slow = 0;
		s->mta->nslow--;
	}
}

static void
session_slow(int fd, short event, void *arg)
{
	struct mta_session	*s = arg;

	s->slow = 1;
	s->mta->nslow++;
	log_debug("mta: session %u: slow in %s (%zu slow sessions)", s->id,
	    states[s->state].name, s->mta->nslow);
	/* Its slot may go to a destination that waits for one. */
	mta_dest_kick(s->mta);
}

static void
session_timer_start(struct mta_session *s)
{
	struct timeval	 tv = { states[s->state].timeout, 0 };
	struct timeval	 slow = { MTA_SLOW_SECONDS, 0 };

	evtimer_del(&s->ev_slow);
	if (!s->slow && s->state != S_IDLE && s->state != S_QUIT)
		evtimer_add(&s->ev_slow, &slow);

	if (s->state == S_BODY || s->state == S_DATA_END)
		s->body_left = session_body_left(s);

	if (s->state == S_CONNECT)
		tv.tv_sec = s->mta->conf.connect_timeout;
	else if (s->mta->conf.timeout > 0 && s->state != S_IDLE)
		tv.tv_sec = s->mta->conf.timeout;
	evtimer_del(&s->ev_timer);
	evtimer_add(&s->ev_timer, &tv);
}

void
mta_session_enter(struct mta_session *s, enum mta_state st)
{
	log_debug("mta: session %u: %s -> %s", s->id, states[s->state].name,
	    states[st].name);
	s->state = st;
	session_timer_start(s);
}

void
mta_session_send(struct mta_session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[2048];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		fatalx("mta: command too long");
	log_debug("mta: session %u: >>> %s", s->id, line);
	memcpy(line + n, "\r\n", 2);
	if (buf_add(&s->out, line, n + 2) == -1)
		fatalx("mta: output buffer full");
}

/*
 * Close the connection and drop what belonged to it (TLS, SASL, SOCKS5,
 * buffers) but keep the session: mta_session_host_fail() may go on to the
 * next address, and session_free() ends the session itself.
 */
static void
mta_session_close_conn(struct mta_session *s)
{
	if (s->ev_set)
		event_del(&s->ev);
	s->ev_set = 0;
	if (s->tls != NULL) {
		tls_close(s->tls);
		tls_free(s->tls);
		s->tls = NULL;
	}
	s->verified = 0;	/* the next connection proves itself again */
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->handshaking = 0;
	buf_reset(&s->in);
	buf_reset(&s->out);
	smtp_reply_init(&s->reply);
	if (s->sasl != NULL) {
		sasl_client_free(s->sasl);
		s->sasl = NULL;
	}
	if (s->socks != NULL) {
		socks5_free(s->socks);
		s->socks = NULL;
	}
}

static void
session_free(struct mta_session *s, int ok)
{
	struct mta	*m = s->mta;

	mta_session_close_conn(s);
	evtimer_del(&s->ev_timer);
	session_slow_clear(s);
	TAILQ_REMOVE(&m->sessions, s, entry);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s->mail_reply);
	mta_dest_session_done(m, s->dest, ok, s->error);
	free(s);
}

/* Report every recipient of the task that has no answer yet. */
static void
session_task_report(struct mta_session *s, int accepted_only, int status,
    const char *dsn_status, const char *diagnostic, const char *error)
{
	struct mta_rcpt	*r;

	if (s->task == NULL)
		return;
	TAILQ_FOREACH(r, &s->task->rcpts, entry) {
		if (r->done || (accepted_only && !r->accepted))
			continue;
		mta_report(s->mta, r, status, dsn_status, s->host, diagnostic,
		    error);
		if (status == DELIVER_OK)
			s->dest->delivered++;
	}
}

static void
session_task_end(struct mta_session *s)
{
	if (s->task == NULL)
		return;
	mta_task_done(s->mta, s->task);
	s->task = NULL;
	free(s->mail_reply);
	s->mail_reply = NULL;
}

/*
 * This host failed us: the transaction under way (if any) gets a
 * temporary failure; a session that had delivered ends; otherwise try the
 * next address (or the same one without TLS after a failed opportunistic
 * handshake).
 */
void
mta_session_host_fail(struct mta_session *s, int retry_plain, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 why[600];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(s->error, sizeof(s->error), "%s [%s]: %s", s->host, s->addr,
	    why);
	log_info("mta: session %u: %s", s->id, s->error);
	mta_debug_host_fail(s->mta, session_step(s->state), s->host, s->addr,
	    why);
	if (s->task != NULL) {
		session_task_report(s, 0, DELIVER_TEMPFAIL, "4.4.2", NULL,
		    s->error);
		session_task_end(s);
	}
	mta_session_close_conn(s);
	if (s->talked && s->state >= S_IDLE) {
		session_free(s, 1);
		return;
	}
	if (retry_plain)
		s->plaintext = 1;	/* same address, next time round */
	else {
		s->plaintext = 0;
		s->ai++;
	}
	session_connect_next(s);
}

/*
 * TLS or nothing: the relay action says so, or DANE (RFC 7672 2.2), or an
 * MTA-STS policy in enforce mode (RFC 8461 5).
 */
int
mta_session_tls_required(const struct mta_session *s)
{
	return s->dest->relay->c.tls != RELAY_TLS_OPPORTUNISTIC ||
	    s->dest->relay->c.scheme != RELAY_SMTP || s->dane != NULL ||
	    s->sts == STS_MODE_ENFORCE;
}

/* The socks5 transport's proxy, a numeric address from the config. */
static int
session_proxy_addr(struct mta_session *s, struct mxres_addr *out)
{
	struct addrinfo	 hints, *res;
	char		 port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", s->dest->relay->c.socks5_port);
	if (getaddrinfo(s->dest->relay->c.socks5_host, port, &hints, &res) !=
	    0 || res->ai_addrlen > sizeof(out->ss)) {
		snprintf(s->error, sizeof(s->error), "bad SOCKS5 proxy "
		    "address %s", s->dest->relay->c.socks5_host);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Connected to the proxy: ask it for the target address. */
static void
session_socks_start(struct mta_session *s)
{
	const struct mxres_addr	*a = &s->dest->mx.hosts[s->hi].addr[s->ai];
	uint16_t		 port = a->ss.ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)&a->ss)->sin6_port :
	    ((const struct sockaddr_in *)&a->ss)->sin_port;

	s->socks = socks5_new(s->addr, ntohs(port), NULL, NULL);
	socks5_output(s->socks, &s->out);
	mta_session_enter(s, S_SOCKS);
}

/* Proxy bytes in s->in: -1 if the session moved on, 0 to go on. */
static int
session_socks_input(struct mta_session *s)
{
	enum socks5_status	 st;
	size_t			 used = 0;

	st = socks5_input(s->socks, s->in.data, s->in.len, &used);
	buf_consume(&s->in, used);
	switch (st) {
	case SOCKS5_NEED_MORE:
		socks5_output(s->socks, &s->out);
		return 0;
	case SOCKS5_ERROR:
		mta_session_host_fail(s, 0, "SOCKS5 proxy %s:%u: %s",
		    s->dest->relay->c.socks5_host,
		    s->dest->relay->c.socks5_port, socks5_error(s->socks));
		return -1;
	case SOCKS5_DONE:
		break;
	}
	log_debug("mta: session %u: proxy connected to %s [%s]", s->id,
	    s->host, s->addr);
	socks5_free(s->socks);
	s->socks = NULL;
	mta_session_enter(s, S_GREETING);
	return 0;
}

/*
 * What DANE and MTA-STS say about the host about to be tried: -1 if it
 * must not be used now (its TLSA lookup was bogus or failed: RFC 7672
 * 2.2, never a downgrade; or an MTA-STS policy in enforce mode does not
 * list it: RFC 8461 4.1); else s->dane is set when its TLSA records
 * require TLS, or s->sts to the policy's mode.  DANE, where it applies,
 * takes precedence (RFC 8461 2).
 */
static int
session_host_policy(struct mta_session *s, const struct mxres_host *h)
{
	const struct mta_tlsa_host	*t = mta_tlsa_host(s->dest, s->hi);
	const struct sts_policy		*p = s->dest->sts;

	s->dane = NULL;
	s->sts = STS_MODE_NONE;
	if (t != NULL && t->state == MTA_DANE_TEMPFAIL) {
		snprintf(s->error, sizeof(s->error), "%.255s: %s", h->name,
		    t->reason);
		log_info("mta: session %u: %s: not used: %s", s->id, h->name,
		    t->reason);
		mta_debug_skip(s->mta, h->name, 0, t->bogus ? "bogus" : "none",
		    t->reason);
		/* RFC 8460 4.3.2.2.1 dnssec-invalid; no address was tried */
		if (t->bogus)
			mta_tls_result_send(s->mta, s->dest,
			    MSG_TLS_POLICY_TLSA, h->name, "",
			    "dnssec-invalid");
		return -1;
	}
	if (t != NULL && (t->state == MTA_DANE_REQUIRED ||
	    t->state == MTA_DANE_UNUSABLE)) {
		s->dane = t;
		return 0;
	}
	if (p == NULL)
		return 0;
	if (!sts_policy_match(p, h->name)) {
		snprintf(s->error, sizeof(s->error), "%.255s is not an mx of "
		    "the MTA-STS policy of %s (id %s, mode %s)", h->name,
		    s->dest->domain, s->dest->sts_id, sts_mode_name(p->mode));
		if (p->mode == STS_MODE_ENFORCE) {
			log_info("mta: session %u: not used: %s", s->id,
			    s->error);
			mta_debug_skip(s->mta, h->name, 1, NULL, s->error);
			/*
			 * RFC 8689 4.2.1: a host the policy forbids cannot
			 * take REQUIRETLS mail either, for as long as the
			 * policy holds (unlike a failed TLSA lookup, which
			 * may succeed on the next try).
			 */
			s->rtls_refused++;
			return -1;
		}
		log_info("mta: session %u: %s: used all the same", s->id,
		    s->error);
		mta_debug_step(s->mta, "mta-sts", "host", h->name, "result",
		    "not listed (testing): used all the same", "reason",
		    s->error, NULL);
		s->error[0] = '\0';
		return 0;
	}
	s->sts = p->mode;
	return 0;
}

static void
session_connect_next(struct mta_session *s)
{
	const struct mxres_result	*mx = &s->dest->mx;
	const struct mxres_host		*h;
	const struct mxres_addr		*a, *target;
	struct mxres_addr		 proxy;
	const void			*ip;
	int				 fd;

	for (;; s->ai++) {
		while (s->hi < mx->nhosts && s->ai >= mx->hosts[s->hi].naddr) {
			s->hi++;
			s->ai = 0;
		}
		if (s->hi >= mx->nhosts) {
			if (s->error[0] == '\0')
				snprintf(s->error, sizeof(s->error),
				    "no address to connect to for %s",
				    s->dest->domain);
			/*
			 * RFC 8689 4.2.1: no MX host can take REQUIRETLS
			 * mail: it MUST NOT go to the domain, and is
			 * returned (5.7.30, RFC 8689 5).  A host that
			 * failed some other way may qualify on a later
			 * try: then the mail waits.
			 */
			if (s->dest->tls == MTA_DEST_TLS_REQUIRED &&
			    s->rtls_refused > 0 && s->rtls_refused == mx->nhosts)
				mta_dest_fail_all(s->mta, s->dest,
				    DELIVER_PERMFAIL, "5.7.30", s->error);
			session_free(s, 0);
			return;
		}
		h = &mx->hosts[s->hi];
		if (session_host_policy(s, h) == -1) {
			s->ai = h->naddr;	/* not this host, for now */
			continue;
		}
		a = &h->addr[s->ai];
		strlcpy(s->host, h->name, sizeof(s->host));
		ip = a->ss.ss_family == AF_INET6 ?
		    (const void *)&((const struct sockaddr_in6 *)&a->ss)->
		    sin6_addr : (const void *)&((const struct sockaddr_in *)
		    &a->ss)->sin_addr;
		inet_ntop(a->ss.ss_family, ip, s->addr, sizeof(s->addr));
		if (s->dest->relay->c.transport == TRANSPORT_SOCKS5) {
			/* RFC 1928: the proxy connects; we name the target */
			target = &proxy;
			if (session_proxy_addr(s, &proxy) == -1) {
				session_free(s, 0);
				return;
			}
		} else
			target = a;
		if ((fd = socket(target->ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
			snprintf(s->error, sizeof(s->error), "%s [%s]: "
			    "socket: %s", s->host, s->addr, strerror(errno));
			continue;
		}
		sock_nodelay(fd);
		if (connect(fd, (const struct sockaddr *)&target->ss,
		    target->sslen) == -1 && errno != EINPROGRESS) {
			snprintf(s->error, sizeof(s->error), "%s [%s]: "
			    "connect: %s", s->host, s->addr, strerror(errno));
			s->mta->stats.connect_failures++;
			log_info("mta: session %u: %s", s->id, s->error);
			mta_debug_connect(s->mta, s->host, s->addr);
			mta_debug_host_fail(s->mta, "connect", s->host,
			    s->addr, strerror(errno));
			close(fd);
			continue;
		}
		s->fd = fd;
		s->conn++;
		mta_debug_connect(s->mta, s->host, s->addr);
		log_debug("mta: session %u: connecting to %s [%s]%s", s->id,
		    s->host, s->addr, s->plaintext ? " (without TLS)" : "");
		mta_session_enter(s, S_CONNECT);
		session_arm(s);
		return;
	}
}

/* The EHLO (or HELO) answer is in: TLS, AUTH, or work. */
static void
session_capable(struct mta_session *s)
{
	if (s->tls == NULL && s->dest->relay->c.scheme != RELAY_SMTPS) {
		if ((s->caps.flags & SMTP_CAP_STARTTLS) && !s->plaintext) {
			mta_session_send(s, "STARTTLS");
			mta_session_enter(s, S_STARTTLS);
			return;
		}
		mta_debug_step(s->mta, "starttls", "host", s->host, "result",
		    s->plaintext ? "not tried (again without TLS)" :
		    "not offered", "required", mta_session_tls_required(s) ?
		    "yes" : "no", NULL);
		/*
		 * Again without TLS after a failed handshake: that failure
		 * was counted already.
		 */
		if ((s->dane != NULL || s->sts != STS_MODE_NONE) &&
		    !s->plaintext)
			mta_session_tls_result(s, "starttls-not-supported");
		if (mta_session_tls_required(s)) {
			mta_session_host_fail(s, 0, "TLS is required and the "
			    "server does not offer STARTTLS");
			return;
		}
		if (s->sts == STS_MODE_TESTING)
			log_info("mta: session %u: %s [%s]: MTA-STS (testing): "
			    "no STARTTLS; delivering all the same", s->id,
			    s->host, s->addr);
	}
	s->talked = 1;
	mta_session_auth(s);
}

static void
session_send_rcpt(struct mta_session *s)
{
	struct buf	 b;

	buf_init(&b, 4096);
	mta_rcpt_params(&s->caps, &s->rcpt_send->env, &b);
	mta_session_send(s, "RCPT TO:<%s>%s", s->rcpt_send->env.rcpt,
	    buf_cstr(&b));
	buf_free(&b);
	s->rcpt_send = TAILQ_NEXT(s->rcpt_send, entry);
}

/*
 * A transaction for the task, after the checks a server's EHLO lets us
 * make before we start: a message over its SIZE (RFC 1870 6), one that
 * needs SMTPUTF8 (RFC 6531 3.4) or 8BITMIME (RFC 6152) it does not offer
 * fails at once with the status codes of RFC 3463 / RFC 6533.
 */
/*
 * RFC 8689 4.2.1: a message sent with REQUIRETLS goes on only over TLS to
 * a server authenticated by DANE or by an MTA-STS policy in enforce mode
 * (a smarthost: by "tls verify" of its name), and only if that server
 * offers REQUIRETLS too.  0 if this session may take it, else -1 and why.
 */
static int
session_requiretls(struct mta_session *s, char *why, size_t len)
{
	const struct msg_conf_relay	*r = &s->dest->relay->c;

	if (s->tls == NULL || !s->verified)
		snprintf(why, len, "REQUIRETLS: %s is not reached over TLS "
		    "with a verified certificate", s->host);
	else if (!(s->dane != NULL && s->dane->state == MTA_DANE_REQUIRED) &&
	    s->sts != STS_MODE_ENFORCE &&
	    !(r->has_host && r->tls == RELAY_TLS_VERIFY))
		snprintf(why, len, "REQUIRETLS: %s is authenticated neither by "
		    "DANE nor by an MTA-STS policy in enforce mode", s->host);
	else if (!(s->caps.flags & SMTP_CAP_REQUIRETLS))
		snprintf(why, len, "REQUIRETLS: %s does not offer REQUIRETLS",
		    s->host);
	else
		return 0;
	return -1;
}

/*
 * Why this server cannot take the task's message at all, with the RFC
 * 3463 status to return it with; NULL if it can.
 */
static const char *
session_task_refusal(struct mta_session *s, char *why, size_t len)
{
	const struct envelope	*e = &TAILQ_FIRST(&s->task->rcpts)->env;

	if ((e->flags & ENV_F_REQUIRETLS) &&
	    session_requiretls(s, why, len) == -1)
		return "5.7.30";	/* RFC 8689 5: REQUIRETLS required */
	if ((s->caps.flags & SMTP_CAP_SIZE) && s->caps.size_max > 0 &&
	    s->task->msg->size > s->caps.size_max) {
		snprintf(why, len, "message of %llu octets is over "
		    "%s's limit of %llu", (unsigned long long)
		    s->task->msg->size, s->host,
		    (unsigned long long)s->caps.size_max);
		return "5.3.4";
	}
	if ((e->flags & ENV_F_SMTPUTF8) &&
	    !(s->caps.flags & SMTP_CAP_SMTPUTF8)) {
		snprintf(why, len, "the message needs SMTPUTF8 and "
		    "%s does not support it", s->host);
		/* RFC 6533 3.3 / RFC 6531: non-ASCII addresses not permitted */
		return "5.6.7";
	}
	if ((e->flags & ENV_F_8BITMIME) &&
	    !(s->caps.flags & SMTP_CAP_8BITMIME)) {
		snprintf(why, len, "the message has 8-bit content and "
		    "%s does not support 8BITMIME", s->host);
		/* RFC 3463 5.6.3: conversion required but not supported */
		return "5.6.3";
	}
	return NULL;
}

static void
session_begin_task(struct mta_session *s)
{
	const struct envelope	*e = &TAILQ_FIRST(&s->task->rcpts)->env;
	const char		*status;
	struct buf		 b;
	char			 why[600];

	if ((status = session_task_refusal(s, why, sizeof(why))) != NULL) {
		log_info("mta: session %u: %s", s->id, why);
		session_task_report(s, 0, DELIVER_PERMFAIL, status, NULL, why);
		session_task_end(s);
		mta_session_next_task(s);
		return;
	}
	buf_init(&b, 4096);
	mta_mail_params(&s->caps, e, s->task->msg->size, &b);
	mta_session_send(s, "MAIL FROM:<%s>%s", e->sender, buf_cstr(&b));
	buf_free(&b);
	s->mail_failed = 0;
	s->naccepted = 0;
	s->rcpt_send = TAILQ_FIRST(&s->task->rcpts);
	s->rcpt_reply = s->rcpt_send;
	/* RFC 2920 3.1: MAIL and RCPT may go in one batch */
	if (s->caps.flags & SMTP_CAP_PIPELINING)
		while (s->rcpt_send != NULL)
			session_send_rcpt(s);
	mta_session_enter(s, S_MAIL);
}

/*
 * RFC 8689 4.2.1: a server that cannot take REQUIRETLS mail gets a QUIT
 * (best effort: we do not wait for its reply) and the next MX host is
 * tried; the session_connect_next() that runs out of hosts decides.
 */
static void
session_requiretls_skip(struct mta_session *s, const char *why)
{
	const struct mxres_result	*mx = &s->dest->mx;
	ssize_t				 n;

	s->rtls_refused++;
	if (s->tls != NULL)
		n = tls_write(s->tls, "QUIT\r\n", 6);
	else
		n = write(s->fd, "QUIT\r\n", 6);
	(void)n;
	if (s->hi < mx->nhosts && mx->hosts[s->hi].naddr > 0)
		s->ai = mx->hosts[s->hi].naddr - 1;	/* the next host */
	mta_session_host_fail(s, 0, "%s", why);
}

void
mta_session_next_task(struct mta_session *s)
{
	char	 why[600];

	/* This session carries REQUIRETLS mail only (mta_env_tls()). */
	if (s->dest->tls == MTA_DEST_TLS_REQUIRED && s->task == NULL &&
	    session_requiretls(s, why, sizeof(why)) == -1) {
		session_requiretls_skip(s, why);
		return;
	}
	s->talked = 1;
	if ((s->task = mta_dest_take(s->dest)) == NULL) {
		if (s->mta->probe != NULL) {
			/* a probe's one task is done: no idle wait */
			mta_session_send(s, "QUIT");
			mta_session_enter(s, S_QUIT);
			return;
		}
		mta_session_enter(s, S_IDLE);
		return;
	}
	session_begin_task(s);
}

/*
 * Sessions that sent a message, or are sending one, and have not had the
 * reply to its end: a result the remote may already have made its own.
 */
size_t
mta_sessions_sending(const struct mta *m)
{
	const struct mta_session	*s;
	size_t				 n = 0;

	TAILQ_FOREACH(s, &m->sessions, entry)
		if (s->fd != -1 && (s->state == S_BODY ||
		    s->state == S_DATA_END))
			n++;
	return n;
}

/* An idle session of d takes a task: 1 if one did. */
int
mta_session_offer(struct mta *m, struct mta_dest *d)
{
	struct mta_session	*s;

	TAILQ_FOREACH(s, &m->sessions, entry)
		if (s->dest == d && s->state == S_IDLE && s->fd != -1) {
			mta_session_next_task(s);
			session_arm(s);
			return s->task != NULL;
		}
	return 0;
}

/*
 * The global session limit is reached and a destination with work has no
 * session: an idle session of another destination QUITs now rather than
 * after its idle wait, and its slot goes to the waiting destination.
 */
int
mta_session_reclaim(struct mta *m, struct mta_dest *d)
{
	struct mta_session	*s;

	TAILQ_FOREACH(s, &m->sessions, entry)
		if (s->dest != d && s->state == S_IDLE && s->fd != -1) {
			log_debug("mta: session %u: idle, closed for %s",
			    s->id, d->name);
			mta_session_send(s, "QUIT");
			mta_session_enter(s, S_QUIT);
			session_arm(s);
			return 1;
		}
	return 0;
}

static void
session_rset(struct mta_session *s)
{
	session_task_end(s);
	mta_session_send(s, "RSET");
	mta_session_enter(s, S_RSET);
}

/* All RCPT replies are in. */
static void
session_rcpts_done(struct mta_session *s)
{
	char	 one[600];

	if (s->mail_failed) {
		smtp_reply_oneline(s->mail_reply, one, sizeof(one));
		session_task_report(s, 0, s->mail_reply->code >= 500 ?
		    DELIVER_PERMFAIL : DELIVER_TEMPFAIL,
		    smtp_reply_status(s->mail_reply), one, one);
		session_rset(s);
		return;
	}
	if (s->naccepted == 0) {
		session_rset(s);
		return;
	}
	/* posternctl debug delivery (mta/debug.c): never DATA */
	if (s->mta->probe != NULL) {
		session_task_report(s, 1, DELIVER_OK, "2.0.0", NULL,
		    "the recipient was accepted (no message sent)");
		session_rset(s);
		return;
	}
	s->body_off = 0;
	smtp_dotstuff_init(&s->ds);
	/* RFC 3030 2: BDAT carries the message as it is */
	s->bdat = (s->caps.flags & SMTP_CAP_CHUNKING) != 0;
	if (s->bdat) {
		mta_session_send(s, "BDAT %llu LAST",
		    (unsigned long long)s->task->msg->size);
		mta_session_enter(s, S_BODY);
	} else {
		mta_session_send(s, "DATA");
		mta_session_enter(s, S_DATA);
	}
}

/* Keep the output topped up with the message while in S_BODY. */
static void
session_fill_body(struct mta_session *s)
{
	static uint8_t	 chunk[SESSION_BODY_CHUNK];
	ssize_t		 n;
	size_t		 want;

	while (s->state == S_BODY && s->out.len < SESSION_BODY_CHUNK) {
		want = sizeof(chunk);
		if (s->task->msg->size - s->body_off < want)
			want = s->task->msg->size - s->body_off;
		if (want == 0) {
			if (!s->bdat)
				smtp_dotstuff_end(&s->ds, &s->out);
			mta_session_enter(s, S_DATA_END);
			return;
		}
		n = pread(s->task->msg->fd, chunk, want, s->body_off);
		if (n <= 0) {
			mta_session_host_fail(s, 0, "reading the queued "
			    "message: %s", n == 0 ? "short" : strerror(errno));
			return;
		}
		s->body_off += n;
		if (s->bdat ? buf_add(&s->out, chunk, n) :
		    smtp_dotstuff(&s->ds, chunk, n, &s->out)) {
			mta_session_host_fail(s, 0, "output buffer full");
			return;
		}
	}
}

/*
 * The replies, one function per state they answer (session_reply()
 * dispatches).  one is the reply on one line, for logs and reports.
 */

/* The name we give in EHLO and HELO: the relay's helo, else our host's. */
static const char *
session_helo_name(struct mta_session *s)
{
	return s->dest->relay->c.helo[0] != '\0' ? s->dest->relay->c.helo :
	    s->mta->proc->global.hostname;
}

/* A failed delivery's status: permanent for 5yz, temporary otherwise. */
static int
reply_failure(int code)
{
	return code >= 500 ? DELIVER_PERMFAIL : DELIVER_TEMPFAIL;
}

static void
reply_greeting(struct mta_session *s, const char *one)
{
	if (s->reply.code / 100 != 2) {
		mta_session_host_fail(s, 0, "greeting: %s", one);
		return;
	}
	mta_session_send(s, "EHLO %s", session_helo_name(s));
	mta_session_enter(s, S_EHLO);
}

/* EHLO, first or again after STARTTLS (RFC 3207 4.2). */
static void
reply_ehlo(struct mta_session *s, const char *one)
{
	int	 code = s->reply.code;

	if (code / 100 == 2) {
		smtp_caps_parse(&s->reply, &s->caps);
		mta_debug_step(s->mta, "ehlo", "host", s->host, "reply", one,
		    "starttls", s->caps.flags & SMTP_CAP_STARTTLS ?
		    "offered" : "not offered", NULL);
		if (s->state == S_EHLO2) {
			s->talked = 1;
			mta_session_auth(s);
		} else
			session_capable(s);
		return;
	}
	if (code / 100 == 5 && s->state == S_EHLO) {
		/* RFC 5321 4.1.4: fall back to HELO */
		mta_session_send(s, "HELO %s", session_helo_name(s));
		mta_session_enter(s, S_HELO);
		return;
	}
	mta_session_host_fail(s, 0, "EHLO: %s", one);
}

static void
reply_helo(struct mta_session *s, const char *one)
{
	if (s->reply.code / 100 != 2) {
		mta_session_host_fail(s, 0, "HELO: %s", one);
		return;
	}
	memset(&s->caps, 0, sizeof(s->caps));
	mta_debug_step(s->mta, "ehlo", "host", s->host, "reply", one,
	    "starttls", "not offered (HELO)", NULL);
	session_capable(s);
}

static void
reply_starttls(struct mta_session *s, const char *one)
{
	mta_debug_step(s->mta, "starttls", "host", s->host, "reply", one,
	    "result", s->reply.code == 220 ? "ready" : "refused", NULL);
	if (s->reply.code == 220) {
		mta_session_tls_start(s, S_TLS_STARTTLS);
		return;
	}
	/* RFC 8460 4.3.1: offered and then refused is not supported */
	if (s->dane != NULL || s->sts != STS_MODE_NONE)
		mta_session_tls_result(s, "starttls-not-supported");
	if (mta_session_tls_required(s)) {
		mta_session_host_fail(s, 0, "STARTTLS: %s", one);
		return;
	}
	log_info("mta: session %u: %s [%s]: STARTTLS refused (%s); "
	    "going on without TLS", s->id, s->host, s->addr, one);
	s->talked = 1;
	mta_session_auth(s);
}

static void
reply_auth(struct mta_session *s, const char *one)
{
	mta_session_auth_reply(s, smtp_reply_text(&s->reply, 0));
}

/*
 * MAIL: a refusal is kept to answer every recipient with, once the
 * pipelined RCPT replies (RFC 2920 3.1) are read.
 */
static void
reply_mail(struct mta_session *s, const char *one)
{
	int	 pipelining = s->caps.flags & SMTP_CAP_PIPELINING;

	mta_debug_reply(s->mta, s->reply.code);
	mta_debug_step(s->mta, "mail", "host", s->host, "from",
	    TAILQ_FIRST(&s->task->rcpts)->env.sender, "reply", one, NULL);
	if (s->reply.code / 100 != 2) {
		s->mail_failed = 1;
		s->mail_reply = xmalloc(sizeof(*s->mail_reply));
		memcpy(s->mail_reply, &s->reply, sizeof(s->reply));
	}
	if (!s->mail_failed && !pipelining)
		session_send_rcpt(s);
	if (s->mail_failed && !pipelining) {
		session_rcpts_done(s);
		return;
	}
	mta_session_enter(s, S_RCPT);
}

/* One RCPT reply, in the order the RCPTs went out. */
static void
reply_rcpt(struct mta_session *s, const char *one)
{
	struct mta_rcpt	*r;
	int		 code = s->reply.code;

	r = s->rcpt_reply;
	s->rcpt_reply = TAILQ_NEXT(r, entry);
	mta_debug_reply(s->mta, code);
	mta_debug_step(s->mta, "rcpt", "host", s->host, "to", r->env.rcpt,
	    "reply", one, NULL);
	if (!s->mail_failed) {
		if (code / 100 == 2) {
			r->accepted = 1;
			s->naccepted++;
		} else
			mta_report(s->mta, r, reply_failure(code),
			    smtp_reply_status(&s->reply), s->host, one, one);
	}
	if (s->rcpt_reply == NULL) {
		session_rcpts_done(s);
		return;
	}
	if (!(s->caps.flags & SMTP_CAP_PIPELINING))
		session_send_rcpt(s);
	mta_session_enter(s, S_RCPT);
}

static void
reply_data(struct mta_session *s, const char *one)
{
	int	 code = s->reply.code;

	if (code != 354) {
		session_task_report(s, 1, reply_failure(code),
		    smtp_reply_status(&s->reply), one, one);
		session_rset(s);
		return;
	}
	mta_session_enter(s, S_BODY);
	session_fill_body(s);
}

/*
 * The end of the message: the accepted recipients' results.  In S_BODY
 * only BDAT's early rejection lands here (RFC 3030 3).
 */
static void
reply_data_end(struct mta_session *s, const char *one)
{
	char	 ok[SESSION_ONELINE_MAX + sizeof(s->tls_info) + 16];
	int	 code = s->reply.code;

	if (code / 100 == 2) {
		snprintf(ok, sizeof(ok), "%s (%s)", one,
		    s->tls != NULL ? s->tls_info : "no TLS");
		session_task_report(s, 1, DELIVER_OK,
		    smtp_reply_status(&s->reply), one, ok);
	} else
		session_task_report(s, 1, reply_failure(code),
		    smtp_reply_status(&s->reply), one, one);
	session_task_end(s);
	if (s->state == S_BODY) {
		/* The rest of the chunk would be garbage to it. */
		mta_session_host_fail(s, 0, "BDAT refused early: %s", one);
		return;
	}
	mta_session_next_task(s);
}

static void
reply_rset(struct mta_session *s, const char *one)
{
	if (s->reply.code / 100 != 2) {
		mta_session_host_fail(s, 0, "RSET: %s", one);
		return;
	}
	mta_session_next_task(s);
}

static void
reply_quit(struct mta_session *s, const char *one)
{
	session_free(s, 1);
}

/* A state that waits for no reply has none here. */
static void (*const reply_handlers[])(struct mta_session *, const char *) = {
	[S_GREETING] = reply_greeting,
	[S_EHLO] = reply_ehlo,
	[S_HELO] = reply_helo,
	[S_STARTTLS] = reply_starttls,
	[S_EHLO2] = reply_ehlo,
	[S_AUTH] = reply_auth,
	[S_MAIL] = reply_mail,
	[S_RCPT] = reply_rcpt,
	[S_DATA] = reply_data,
	[S_BODY] = reply_data_end,
	[S_DATA_END] = reply_data_end,
	[S_RSET] = reply_rset,
	[S_QUIT] = reply_quit,
};

static void
session_reply(struct mta_session *s)
{
	char	 one[SESSION_ONELINE_MAX];

	smtp_reply_oneline(&s->reply, one, sizeof(one));
	log_debug("mta: session %u: <<< %s", s->id, one);
	if ((size_t)s->state >= sizeof(reply_handlers) /
	    sizeof(reply_handlers[0]) || reply_handlers[s->state] == NULL) {
		mta_session_host_fail(s, 0, "unexpected reply in state %s: %s",
		    states[s->state].name, one);
		return;
	}
	reply_handlers[s->state](s, one);
}

/* Complete lines from s->in into replies; -1 once the session is gone. */
static int
session_parse(struct mta_session *s)
{
	uint8_t		*nl;
	size_t		 len;
	char		 err[128];
	uint32_t	 id = s->id;
	unsigned int	 conn = s->conn;
	struct mta	*m = s->mta;
	enum smtp_reply_status r;

	if (s->state == S_SOCKS && session_socks_input(s) == -1)
		return -1;
	if (s->state == S_SOCKS)
		return 0;
	while (s->in.len > 0 && !s->handshaking &&
	    (nl = memchr(s->in.data, '\n', s->in.len)) != NULL) {
		len = nl - s->in.data;
		if (len > 0 && s->in.data[len - 1] == '\r')
			len--;
		r = smtp_reply_line(&s->reply, (char *)s->in.data, len, err,
		    sizeof(err));
		buf_consume(&s->in, nl - s->in.data + 1);
		if (r == SMTP_REPLY_ERROR) {
			mta_session_host_fail(s, 0, "%s", err);
			return -1;
		}
		if (r == SMTP_REPLY_MORE)
			continue;
		session_reply(s);
		/* The session may be gone, or connected elsewhere. */
		if (!session_still(m, id, conn))
			return -1;
		smtp_reply_init(&s->reply);
	}
	if (s->in.len > SMTP_REPLY_LINE_MAX) {
		mta_session_host_fail(s, 0, "reply line too long");
		return -1;
	}
	return 0;
}

static void
session_arm(struct mta_session *s)
{
	short	 ev = EV_READ;

	if (s->fd == -1)
		return;
	if (s->handshaking)
		ev = s->hs_want;
	else if (s->state == S_CONNECT || s->out.len > 0)
		ev |= EV_WRITE;
	if (s->ev_set)
		event_del(&s->ev);
	event_set(&s->ev, s->fd, ev, session_io, s);
	event_add(&s->ev, NULL);
	s->ev_set = 1;
}

/* -1: the connection failed (the session has moved on). */
static int
session_flush(struct mta_session *s)
{
	struct mta	*m = s->mta;
	uint32_t	 id = s->id;
	unsigned int	 conn = s->conn;
	ssize_t		 n;

	while (s->out.len > 0) {
		if (s->tls != NULL) {
			n = tls_write(s->tls, s->out.data, s->out.len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				return 0;
			if (n == -1) {
				mta_session_host_fail(s, 0, "TLS write: %s",
				    tls_error(s->tls));
				return -1;
			}
		} else {
			n = write(s->fd, s->out.data, s->out.len);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n == -1) {
				mta_session_host_fail(s, 0, "write: %s",
				    strerror(errno));
				return -1;
			}
		}
		buf_consume(&s->out, n);
		if (s->state == S_BODY) {
			session_fill_body(s);
			if (!session_still(m, id, conn))
				return -1;
		}
	}
	return 0;
}

/*
 * Is this still the connection we were called for?  A failure frees the
 * session or moves it to the next address (with its own event armed): in
 * both cases the caller must not touch it any more.
 */
static int
session_still(struct mta *m, uint32_t id, unsigned int conn)
{
	struct mta_session	*s;

	TAILQ_FOREACH(s, &m->sessions, entry)
		if (s->id == id)
			return s->conn == conn && s->fd != -1;
	return 0;
}

static void
session_io(int fd, short event, void *arg)
{
	struct mta_session	*s = arg;
	struct mta		*m = s->mta;
	uint32_t		 id = s->id;
	unsigned int		 conn = s->conn;
	uint8_t			 data[SESSION_READ_SIZE];
	ssize_t			 n;
	int			 err;
	socklen_t		 len = sizeof(err);

	if (s->state == S_CONNECT) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			m->stats.connect_failures++;
			mta_session_host_fail(s, 0, "connect: %s",
			    strerror(err));
			return;
		}
		mta_debug_step(s->mta, "connect", "host", s->host, "address",
		    s->addr, "result", "connected", NULL);
		if (s->dest->relay->c.transport == TRANSPORT_SOCKS5)
			session_socks_start(s);
		else if (s->dest->relay->c.scheme == RELAY_SMTPS)
			mta_session_tls_start(s, S_TLS_IMPLICIT);
		else
			mta_session_enter(s, S_GREETING);
		if (!session_still(m, id, conn))
			return;
	}
	if (s->handshaking) {
		n = tls_handshake(s->tls);
		if (n == -1) {
			/*
			 * RFC 8460 4.3.1: a handshake that fails is none of
			 * the named negotiation failures.
			 */
			if (s->dane != NULL || s->sts != STS_MODE_NONE)
				mta_session_tls_result(s, "validation-failure");
			/*
			 * Opportunistic: the same address again in plaintext,
			 * as when STARTTLS is not offered; or, under
			 * "mta-tls-fallback no", the next address.
			 */
			if (mta_session_tls_required(s) ||
			    s->mta->conf.tls_fallback)
				mta_session_host_fail(s,
				    !mta_session_tls_required(s),
				    "TLS handshake: %s", tls_error(s->tls));
			else
				mta_session_host_fail(s, 0, "TLS handshake: %s "
				    "(mta-tls-fallback no: not retried without "
				    "TLS)", tls_error(s->tls));
			return;
		}
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			s->hs_want = n == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
		if (n == 0) {
			mta_session_tls_done(s);
			if (!session_still(m, id, conn))
				return;
			event |= EV_READ;	/* data may be buffered */
		}
	}
	if (!s->handshaking && (event & EV_READ)) {
		for (;;) {
			if (s->tls != NULL) {
				n = tls_read(s->tls, data, sizeof(data));
				if (n == TLS_WANT_POLLIN ||
				    n == TLS_WANT_POLLOUT)
					break;
				if (n == -1) {
					mta_session_host_fail(s, 0,
					    "TLS read: %s", tls_error(s->tls));
					return;
				}
			} else {
				n = read(fd, data, sizeof(data));
				if (n == -1 && (errno == EAGAIN ||
				    errno == EINTR))
					break;
				if (n == -1) {
					mta_session_host_fail(s, 0, "read: %s",
					    strerror(errno));
					return;
				}
			}
			if (n == 0) {
				if (s->state == S_QUIT) {
					session_free(s, 1);
					return;
				}
				mta_session_host_fail(s, 0, "connection closed "
				    "by the server (in %s)",
				    states[s->state].name);
				return;
			}
			if (buf_add(&s->in, data, n) == -1) {
				mta_session_host_fail(s, 0,
				    "reply line too long");
				return;
			}
			if (session_parse(s) == -1)
				return;
			if (s->handshaking)
				break;
		}
	}
	if (!s->handshaking && session_flush(s) == -1)
		return;
	session_arm(s);
}

static void
session_timeout(int fd, short event, void *arg)
{
	struct mta_session	*s = arg;

	if (s->state == S_IDLE) {
		mta_session_send(s, "QUIT");
		mta_session_enter(s, S_QUIT);
		session_arm(s);
		return;
	}
	if (s->state == S_QUIT) {
		session_free(s, 1);
		return;
	}
	/*
	 * RFC 5321 4.5.3.2.5, 4.5.3.2.6: the message's time is per block
	 * sent, and the reply's starts when the last block has gone.  A
	 * server that took another block meanwhile has its time again.
	 */
	if ((s->state == S_BODY || s->state == S_DATA_END) &&
	    s->body_left >= session_body_left(s) + SESSION_BODY_CHUNK) {
		session_timer_start(s);
		return;
	}
	mta_session_host_fail(s, 0, "timeout waiting for the %s%s",
	    states[s->state].name, s->state == S_CONNECT ? "" : " reply");
}

/*
 * A debug delivery probe ends (mta/debug.c): its sessions go at once, the
 * task's recipient (already answered) with them.
 */
void
mta_session_drop_all(struct mta *m)
{
	struct mta_session	*s;

	while ((s = TAILQ_FIRST(&m->sessions)) != NULL) {
		session_task_end(s);
		mta_session_close_conn(s);
		evtimer_del(&s->ev_timer);
		session_slow_clear(s);
		TAILQ_REMOVE(&m->sessions, s, entry);
		buf_free(&s->in);
		buf_free(&s->out);
		s->dest->nsessions--;
		m->nsessions--;
		free(s);
	}
}

void
mta_session_start(struct mta *m, struct mta_dest *d)
{
	struct mta_session	*s;

	s = xcalloc(1, sizeof(*s));
	s->mta = m;
	s->dest = d;
	s->id = ++m->next_session_id;
	m->stats.sessions++;
	s->fd = -1;
	buf_init(&s->in, SESSION_IN_MAX);
	buf_init(&s->out, SESSION_OUT_MAX);
	smtp_reply_init(&s->reply);
	evtimer_set(&s->ev_timer, session_timeout, s);
	evtimer_set(&s->ev_slow, session_slow, s);
	TAILQ_INSERT_TAIL(&m->sessions, s, entry);
	session_connect_next(s);
}

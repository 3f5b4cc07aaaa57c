/*
 * One SMTP connection: socket and TLS I/O (libtls, non-blocking), the
 * protocol engine's callbacks, recipient decisions, and the conversation
 * with the queue that makes a message durable before the 250.
 *
 * The engine (smtpd/engine.c) parses; this file moves bytes.  Input
 * the engine does not take (while it waits for a decision) stays in
 * s->in, bounded, and reading stops until it is taken.
 *
 * A local submission (posternctl sendmail) is a session like any other
 * on a connection control handed over with the caller's uid: its client
 * is "local" to the match rules, its mail is signed and not judged like
 * an authenticated user's, and its envelope sender is the user's own
 * address unless the caller is root or in the control group.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dotforward.h"
#include "envelope.h"
#include "clock.h"
#include "log.h"
#include "rule.h"
#include "smtpd/smtp.h"
#include "table.h"
#include "util.h"

#define SESSION_READ_SIZE	16384
#define SMTP_TIMEOUT_BLOCK	(64 * 1024)	/* read per timeout in DATA */

static void	session_pump(struct session *);
static void	session_io(int, short, void *);
static void	session_auth_abort(struct session *);
static void	sasl_log_user(const char *, char *, size_t);
static void	session_sasl_outcome(struct session *, int, const uint8_t *,
		    size_t);
static void	session_rate_start(struct session *);

static struct session *
session_by_id(struct smtp *smtp, uint32_t id)
{
	return session_index_find(&smtp->index, id);
}

static void
session_clear_rcpts(struct session *s)
{
	struct smtp_rcpt_entry	*r;

	while ((r = TAILQ_FIRST(&s->rcpts)) != NULL) {
		TAILQ_REMOVE(&s->rcpts, r, entry);
		free(r->alias_of);
		free(r->fwd);
		free(r);
	}
}

void
smtpd_session_close(struct session *s)
{
	struct smtp	*smtp = s->smtp;

	if (s->qstate == QSTATE_DATA || s->qstate == QSTATE_AUTH)
		proc_compose(smtp->proc, PROC_QUEUE, IMSG_QUEUE_MESSAGE_ABORT,
		    s->id, -1, NULL, 0);
	session_auth_abort(s);
	arstrip_free(&s->arstrip);
	/* BEGIN in flight: the reply finds no session and aborts then. */
	evtimer_del(&s->ev_sasl_delay);
	if (s->sasl_pending)
		smtp->sasl_inflight--;	/* its answer finds no session */
	event_del(&s->ev_read);
	event_del(&s->ev_write);
	evtimer_del(&s->ev_timeout);
	evtimer_del(&s->ev_lifetime);
	evtimer_del(&s->ev_rate);
	if (s->tls != NULL) {
		tls_close(s->tls);
		tls_free(s->tls);
	}
	close(s->fd);
	smtp_session_free(s->engine);
	buf_free(&s->in);
	session_clear_rcpts(s);
	free(s->fwd_members);	/* an answer pending finds no session */
	TAILQ_REMOVE(&smtp->sessions, s, entry);
	session_index_del(&smtp->index, s);
	smtp->nsessions--;
	if (s->local)
		smtp->nlocal--;
	if (s->held) {
		TAILQ_REMOVE(&smtp->held, s, held_entry);
		smtp->nheld--;
	}
	log_debug("smtp: session %u from %s closed", s->id, s->ip);
	free(s);
	smtp_accept_resume(smtp);	/* a descriptor is free */
}

/* --- authd --- */

static void
session_auth_abort(struct session *s)
{
	if (!s->auth)
		return;
	proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_MESSAGE_ABORT, s->id,
	    -1, NULL, 0);
	s->auth = 0;
}

/* The message starts: authd gets the envelope's part and the policy. */
static void
session_auth_begin(struct session *s)
{
	struct msg_auth_begin	 b;

	memset(&b, 0, sizeof(b));
	b.local = rule_client_is_local((struct sockaddr *)&s->ss);
	b.authenticated = smtp_session_auth_user(s->engine) != NULL;
	strlcpy(b.tag, s->listener->conf.tag, sizeof(b.tag));
	strlcpy(b.ip, s->ip, sizeof(b.ip));
	if (s->local) {
		/* a local user's mail: ours, not judged; it has no address */
		b.authenticated = 1;
		b.ip[0] = '\0';
		/*
		 * Our DKIM signature vouches for the From field: a user
		 * who may send only as user@hostname gets it only there.
		 */
		if (!s->local_privileged)
			snprintf(b.sign_from, sizeof(b.sign_from), "%s@%s",
			    s->local_user, s->smtp->conf->hostname);
	}
	strlcpy(b.helo, smtp_session_helo(s->engine), sizeof(b.helo));
	strlcpy(b.mail_from, s->mail.sender.addr, sizeof(b.mail_from));
	strlcpy(b.policy, s->listener->conf.policy, sizeof(b.policy));
	if (b.authenticated && !s->local) {
		strlcpy(b.account, smtp_session_auth_user(s->engine),
		    sizeof(b.account));
		strlcpy(b.senders, s->listener->conf.senders_table,
		    sizeof(b.senders));
	}
	proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_MESSAGE_BEGIN, s->id,
	    -1, &b, sizeof(b));
	s->auth = 1;
}

/* authd's answer to MAIL: SPF may refuse it (policy spf reject-fail). */
void
session_auth_mail(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_auth_mail	 r;
	struct session		*s;

	if (msg_get_auth_mail(imsg, &r) == -1 ||
	    (r.refuse && (r.code < 500 || r.code > 599)))
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	if ((s = session_by_id(smtp, imsg->hdr.peerid)) == NULL)
		return;		/* the client left */
	/* the engine reads nothing more until MAIL is answered */
	if (!s->mail_pending)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	s->mail_pending = 0;
	if (r.refuse) {
		s->auth = 0;
		log_info("smtp: session %u from %s: MAIL FROM:<%s> refused: "
		    "%s", s->id, s->ip, s->mail.sender.addr, r.text);
		smtp->stats[STAT_AUTH_REJECTED]++;
		smtp_session_reply_mail(s->engine, 0, r.code, r.status, r.text);
	} else
		smtp_session_reply_mail(s->engine, 1, 0, NULL, NULL);
	session_pump(s);
}

/*
 * TEST ONLY: what a compromised smtp would send, a member the user's
 * .forward does not have and the target it makes, with the parent's
 * proof of the real member.
 */
static void
session_forge_member(struct session *s, struct msg_queue_envelope *m,
    const char *member)
{
	enum forward_kind	 kind;
	const char		*at, *why;
	char			 addr[ENV_ADDR_MAX + 1];

	at = strrchr(m->alias_of, '@');
	if (forward_member_target(member, s->fwd_user, at != NULL ? at + 1 :
	    s->smtp->conf->hostname, addr, sizeof(addr), &kind, &why) == -1)
		return;
	strlcpy(m->fwd_member, member, sizeof(m->fwd_member));
	strlcpy(m->env.rcpt, addr, sizeof(m->env.rcpt));
}

/* Data done and authenticated: envelopes, then the durable commit. */
static void
session_commit(struct session *s)
{
	struct msg_queue_envelope	 m;
	struct smtp_rcpt_entry		*re;
	const char			*forged;

	/* What the queue routes each recipient again from (queue/admit.c) */
	memset(&m, 0, sizeof(m));
	m.client = s->ss;
	strlcpy(m.tag, s->listener->conf.tag, sizeof(m.tag));
	TAILQ_FOREACH(re, &s->rcpts, entry) {
		m.env = re->env;
		strlcpy(m.alias_of, re->alias_of != NULL ? re->alias_of : "",
		    sizeof(m.alias_of));
		m.alias_gen = (uint32_t)re->alias_gen;
		m.forwarded = re->forwarded;
		memset(m.fwd_member, 0, sizeof(m.fwd_member));
		m.fwd_when = 0;
		memset(m.fwd_proof, 0, sizeof(m.fwd_proof));
		if (re->fwd != NULL) {
			memcpy(m.fwd_member, re->fwd->member,
			    sizeof(m.fwd_member));
			m.fwd_when = re->fwd->when;
			memcpy(m.fwd_proof, re->fwd->proof,
			    sizeof(m.fwd_proof));
			/* TEST ONLY: POSTERN_TEST_FORWARD_FORGE, posternd(8) */
			if ((forged = proc_test_forward_forge()) != NULL)
				session_forge_member(s, &m, forged);
		}
		m.srs = re->srs;
		/*
		 * RFC 8689 3: "TLS-Required: No" asks the mta to deliver
		 * without the recipient domain's DANE or MTA-STS demands;
		 * with REQUIRETLS on MAIL the field MUST be ignored.
		 */
		if (s->arstrip.tls_required_no &&
		    !(m.env.flags & ENV_F_REQUIRETLS))
			m.env.flags |= ENV_F_TLSREQ_NO;
		/* TEST ONLY: POSTERN_TEST_REROUTE, posternd(8) */
		if ((forged = proc_test_reroute()) != NULL)
			strlcpy(m.env.dest, forged, sizeof(m.env.dest));
		proc_compose(s->smtp->proc, PROC_QUEUE,
		    IMSG_QUEUE_ENVELOPE_ADD, s->id, -1, &m, sizeof(m));
	}
	proc_compose(s->smtp->proc, PROC_QUEUE, IMSG_QUEUE_MESSAGE_COMMIT,
	    s->id, -1, NULL, 0);
	s->qstate = QSTATE_COMMIT;
	if (s->arstrip.tls_required_no)
		log_info("smtp: session %u from %s: TLS-Required: No%s",
		    s->id, s->ip, s->mail.params.requiretls ? " ignored: "
		    "REQUIRETLS was given (RFC 8689 3)" : ": the recipient "
		    "domains' DANE and MTA-STS will not be enforced");
}

/*
 * authd's answer: refuse or defer as the policy says (and drop the
 * queued copy), or put the Authentication-Results field in front of the
 * message and commit it.
 */
void
session_auth_result(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_auth_result	 r;
	struct session		*s;
	struct smtp_rcpt_entry	*re;
	const uint8_t		*hdr;

	if (msg_get_auth_result(imsg, &r, &hdr) == -1 ||
	    ((r.verdict == AUTH_VERDICT_REJECT ||
	    r.verdict == AUTH_VERDICT_TEMPFAIL) &&
	    (r.code < 400 || r.code > 599)))
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	if ((s = session_by_id(smtp, imsg->hdr.peerid)) == NULL)
		return;		/* the client left */
	/* a verdict only on the message whose end we sent */
	if (!s->auth || s->qstate != QSTATE_AUTH)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	s->auth = 0;
	if (r.verdict == AUTH_VERDICT_REJECT ||
	    r.verdict == AUTH_VERDICT_TEMPFAIL) {
		log_info("smtp: session %u from %s: message refused by the "
		    "authentication policy: %d %s %s", s->id, s->ip, r.code,
		    r.status, r.text);
		if (r.sender_not_owned)
			smtp->stats[STAT_SENDER_NOT_OWNED]++;
		else
			smtp->stats[r.verdict == AUTH_VERDICT_REJECT ?
			    STAT_AUTH_REJECTED : STAT_AUTH_DEFERRED]++;
		proc_compose(smtp->proc, PROC_QUEUE, IMSG_QUEUE_MESSAGE_ABORT,
		    s->id, -1, NULL, 0);
		s->qstate = QSTATE_NONE;
		session_clear_rcpts(s);
		smtp_session_reply_data(s->engine, 0, r.code, r.status,
		    r.text);
		session_pump(s);
		return;
	}
	if (r.verdict == AUTH_VERDICT_QUARANTINE) {
		log_info("smtp: session %u from %s: %s%s%s", s->id, s->ip,
		    r.text, r.folder[0] != '\0' ? "; to the folder " : "",
		    r.folder);
		smtp->stats[STAT_AUTH_QUARANTINED]++;
		TAILQ_FOREACH(re, &s->rcpts, entry)
			strlcpy(re->env.folder, r.folder,
			    sizeof(re->env.folder));
	}
	if (r.header_len > 0)
		proc_compose(smtp->proc, PROC_QUEUE,
		    IMSG_QUEUE_MESSAGE_PREPEND, s->id, -1, hdr, r.header_len);
	session_commit(s);
	session_pump(s);
}

/* --- SASL AUTH: authd checks the credentials --- */

/*
 * May this user's credentials go to authd now?  Not when locked out, not
 * when authd has too many checks already: then the engine is answered
 * here and -1 returned.
 */
static int
session_sasl_admit(struct session *s, const char *mech, const char *user)
{
	char			 net[CLIENT_NET_STRMAX];
	char			 who[4 * SMTP_AUTH_USER_MAX + 1];
	time_t			 left;

	/* Locked out by failures in this or other sessions: not checked. */
	if ((left = authfail_locked(&s->smtp->authfail, &s->net, user,
	    monotime())) > 0) {
		client_net_str(&s->net, net, sizeof(net));
		sasl_log_user(user, who, sizeof(who));
		log_info("smtp: session %u from %s: AUTH %s user %s refused: "
		    "locked out after too many failures (%s or the account, "
		    "%llds left)", s->id, s->ip, mech, who, net,
		    (long long)left);
		s->smtp->stats[STAT_SASL_LOCKED]++;
		smtp_session_reply_auth(s->engine, SMTP_AUTH_TEMPFAIL, 454,
		    "4.7.0", "Too many authentication failures, try again "
		    "later");
		return -1;
	}
	if (s->smtp->sasl_inflight >= SMTP_SASL_INFLIGHT_MAX) {
		log_info("smtp: session %u from %s: AUTH deferred: %zu checks "
		    "already at authd", s->id, s->ip, s->smtp->sasl_inflight);
		smtp_session_reply_auth(s->engine, SMTP_AUTH_TEMPFAIL, 454,
		    "4.7.0", "Too many authentications at once, try again "
		    "later");
		return -1;
	}
	s->smtp->sasl_inflight++;
	s->sasl_pending = 1;
	strlcpy(s->sasl_mech, mech, sizeof(s->sasl_mech));
	strlcpy(s->sasl_user, user, sizeof(s->sasl_user));
	return 0;
}

static void
cb_auth(void *arg, const char *mech, const char *user, const char *pass)
{
	struct session		*s = arg;
	struct msg_auth_sasl	 m;

	if (session_sasl_admit(s, mech, user) == -1)
		return;
	s->sasl_scram = 0;
	memset(&m, 0, sizeof(m));
	strlcpy(m.table, s->listener->conf.auth_table, sizeof(m.table));
	strlcpy(m.user, user, sizeof(m.user));
	strlcpy(m.password, pass, sizeof(m.password));
	proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_SASL_CHECK, s->id,
	    -1, &m, sizeof(m));
	explicit_bzero(&m, sizeof(m));
}

/* SCRAM, step 1: authd has the user's salt and iterations. */
static void
cb_scram_start(void *arg, const char *mech, const char *user)
{
	struct session			*s = arg;
	struct msg_auth_scram_lookup	 m;

	if (session_sasl_admit(s, mech, user) == -1)
		return;
	s->sasl_scram = 1;
	memset(&m, 0, sizeof(m));
	strlcpy(m.table, s->listener->conf.auth_table, sizeof(m.table));
	strlcpy(m.user, user, sizeof(m.user));
	m.mech = sasl_mech_from_name(mech);
	proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_SCRAM_LOOKUP, s->id,
	    -1, &m, sizeof(m));
}

/*
 * SCRAM, step 2: authd checks the proof.  A final message that cannot be
 * right (another nonce: a replay) fails here, as a wrong proof would.
 */
static void
cb_scram_proof(void *arg, const char *mech, const char *user,
    const char *authmsg, size_t authmsglen, const uint8_t *proof,
    size_t prooflen)
{
	struct session			*s = arg;
	struct msg_auth_scram_verify	*m;

	if (authmsg == NULL || authmsglen > sizeof(m->authmsg) ||
	    prooflen > sizeof(m->proof)) {
		strlcpy(s->sasl_mech, mech, sizeof(s->sasl_mech));
		strlcpy(s->sasl_user, user, sizeof(s->sasl_user));
		session_sasl_outcome(s, AUTH_SASL_FAIL, NULL, 0);
		return;
	}
	if (session_sasl_admit(s, mech, user) == -1)
		return;
	s->sasl_scram = 2;
	m = xcalloc(1, sizeof(*m));
	strlcpy(m->table, s->listener->conf.auth_table, sizeof(m->table));
	strlcpy(m->user, user, sizeof(m->user));
	m->mech = sasl_mech_from_name(mech);
	m->proof_len = prooflen;
	memcpy(m->proof, proof, prooflen);
	m->authmsg_len = authmsglen;
	memcpy(m->authmsg, authmsg, authmsglen);
	proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_SCRAM_VERIFY, s->id,
	    -1, m, sizeof(*m));
	free(m);
}

/* The user name as the log shows it: printable ASCII, the rest escaped. */
static void
sasl_log_user(const char *user, char *out, size_t outsz)
{
	size_t	 i, o = 0;

	for (i = 0; user[i] != '\0' && o + 5 < outsz; i++) {
		unsigned char c = user[i];

		if (c > 32 && c < 127 && c != '\\')
			out[o++] = c;
		else
			o += snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/* The delayed answer to a failure: 535, or 421 after too many. */
static void
session_sasl_fail(int fd, short event, void *arg)
{
	struct session	*s = arg;

	if (s->sasl_failures >= SMTP_SASL_MAX_FAILURES || s->sasl_locked)
		smtp_session_reply_auth(s->engine, SMTP_AUTH_FAIL, 421,
		    "4.7.0", "Too many authentication failures");
	else
		smtp_session_reply_auth(s->engine, SMTP_AUTH_FAIL, 0, NULL,
		    NULL);
	session_pump(s);
}

/*
 * An authd answer that names a session: the session, or NULL if the
 * client left; one that session did not ask for is a bad message.
 */
static struct session *
session_sasl_answer(struct smtp *smtp, struct imsg *imsg, int scram)
{
	struct session	*s;

	if ((s = session_by_id(smtp, imsg->hdr.peerid)) == NULL)
		return NULL;	/* the client left */
	if (!s->sasl_pending || s->sasl_scram != scram)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	s->sasl_pending = 0;
	smtp->sasl_inflight--;
	return s;
}

void
session_sasl_result(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_auth_sasl_result	 r;
	struct session			*s;

	if (msg_get_auth_sasl_result(imsg, &r) == -1)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	if ((s = session_sasl_answer(smtp, imsg, 0)) == NULL)
		return;
	session_sasl_outcome(s, r.result, NULL, 0);
}

void
session_scram_salt(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_auth_scram_salt	 r;
	struct session			*s;

	if (msg_get_auth_scram_salt(imsg, &r) == -1)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	if ((s = session_sasl_answer(smtp, imsg, 1)) == NULL)
		return;
	if (r.result != AUTH_SASL_OK) {
		session_sasl_outcome(s, r.result, NULL, 0);
		return;
	}
	smtp_session_reply_scram_salt(s->engine, r.salt, r.salt_len,
	    r.iterations);
	session_pump(s);
}

void
session_scram_result(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_auth_scram_result	 r;
	struct session			*s;

	if (msg_get_auth_scram_result(imsg, &r) == -1)
		proc_bad_message(smtp->proc, PROC_AUTHD, imsg);
	if ((s = session_sasl_answer(smtp, imsg, 2)) == NULL)
		return;
	session_sasl_outcome(s, r.result, r.sig, r.sig_len);
	explicit_bzero(&r, sizeof(r));
}

/*
 * An attempt's outcome, whatever the mechanism: logged, failures counted
 * toward the lockout (smtp-auth-max-failures) and answered after the
 * delay; sig is SCRAM's ServerSignature on success.
 */
static void
session_sasl_outcome(struct session *s, int result, const uint8_t *sig,
    size_t siglen)
{
	struct smtp			*smtp = s->smtp;
	struct timeval			 tv = { SMTP_SASL_FAIL_DELAY, 0 };
	char				 user[4 * SMTP_AUTH_USER_MAX + 1];
	const char			*what;
	char				 net[CLIENT_NET_STRMAX];

	s->sasl_scram = 0;
	sasl_log_user(s->sasl_user, user, sizeof(user));
	switch (result) {
	case AUTH_SASL_OK:
		what = "succeeded";
		break;
	case AUTH_SASL_FAIL:
		what = "failed";
		break;
	default:
		what = "temporary failure";
		break;
	}
	/* One line per attempt: who, from where, how; never the password. */
	log_info("smtp: session %u from %s: AUTH %s user %s: %s", s->id, s->ip,
	    s->sasl_mech, user, what);
	/* Counted across sessions too: a lockout closes this one. */
	if (result == AUTH_SASL_FAIL && authfail_record(&smtp->authfail,
	    &s->net, s->sasl_user, monotime())) {
		client_net_str(&s->net, net, sizeof(net));
		log_info("smtp: session %u from %s: AUTH user %s: %u failures: "
		    "%s or the account locked out for %llds", s->id, s->ip,
		    user, smtp->authfail.max_failures, net,
		    (long long)smtp->authfail.lockout);
		smtp->stats[STAT_SASL_LOCKED]++;
		s->sasl_locked = 1;
	}
	explicit_bzero(s->sasl_user, sizeof(s->sasl_user));
	switch (result) {
	case AUTH_SASL_OK:
		smtp->stats[STAT_SASL_OK]++;
		if (sig != NULL)
			smtp_session_reply_scram_ok(s->engine, sig, siglen);
		else
			smtp_session_reply_auth(s->engine, SMTP_AUTH_OK, 0,
			    NULL, NULL);
		break;
	case AUTH_SASL_FAIL:
		/*
		 * Guessing gets slow: a second before the 535, this session
		 * only; a few failures and it is over.
		 */
		smtp->stats[STAT_SASL_FAILED]++;
		s->sasl_failures++;
		evtimer_add(&s->ev_sasl_delay, &tv);
		return;
	default:
		smtp_session_reply_auth(s->engine, SMTP_AUTH_TEMPFAIL, 0, NULL,
		    NULL);
		break;
	}
	session_pump(s);
}

/* --- the engine's callbacks --- */

static void
cb_helo(void *arg, const char *name, int esmtp)
{
	struct session	*s = arg;

	log_debug("smtp: session %u: %s %s", s->id, esmtp ? "EHLO" : "HELO",
	    name);
}

static void
cb_rset(void *arg)
{
	session_clear_rcpts(arg);
	session_auth_abort(arg);
}

static void
cb_quit(void *arg)
{
}

/*
 * "senders <T>": an authenticated client sends only as the addresses its
 * account owns.  The null path stays open: bounces have no sender.
 */
static int
session_sender_owned(struct session *s, const struct smtp_mail *m)
{
	const struct table	*t;
	const char		*account;

	if (s->listener->conf.senders_table[0] == '\0' ||
	    (account = smtp_session_auth_user(s->engine)) == NULL ||
	    m->sender.addr[0] == '\0')
		return 1;
	t = config_find_table(s->smtp->conf, s->listener->conf.senders_table);
	if (t != NULL && table_sender_owned(t, m->sender.addr, account))
		return 1;
	log_info("smtp: session %u from %s: MAIL FROM:<%s> refused: not "
	    "owned by account %s", s->id, s->ip, m->sender.addr, account);
	return 0;
}

/*
 * A local submission's envelope sender: the user's own address,
 * user@hostname, unless control said the caller is root or in the
 * control group, who may name any sender (the null path included), as
 * trusted users may with sendmail -f.
 */
static int
session_local_sender_ok(struct session *s, const struct smtp_mail *m)
{
	const char	*addr = m->sender.addr, *at;
	size_t		 ulen = strlen(s->local_user);

	if (!s->local || s->local_privileged)
		return 1;
	if (ulen > 0 && (at = strrchr(addr, '@')) != NULL &&
	    (size_t)(at - addr) == ulen &&
	    strncmp(addr, s->local_user, ulen) == 0 &&
	    strcasecmp(at + 1, s->smtp->conf->hostname) == 0)
		return 1;
	log_info("smtp: session %u from %s: MAIL FROM:<%s> refused: uid %u "
	    "may send only as %s@%s", s->id, s->ip, addr, s->local_uid,
	    ulen > 0 ? s->local_user : "(no user)", s->smtp->conf->hostname);
	return 0;
}

static void
cb_mail(void *arg, const struct smtp_mail *m)
{
	struct session	*s = arg;

	if (!session_local_sender_ok(s, m)) {
		s->smtp->stats[STAT_SENDER_NOT_OWNED]++;
		smtp_session_reply_mail(s->engine, 0, 553, "5.7.1",
		    "Sender address not allowed for this local user");
		return;
	}
	if (!session_sender_owned(s, m)) {
		s->smtp->stats[STAT_SENDER_NOT_OWNED]++;
		smtp_session_reply_mail(s->engine, 0, 553, "5.7.1",
		    "Sender address not owned by this account");
		return;
	}
	/*
	 * The spool is below `queue minfree`: RFC 5321 4.2.2 452, RFC 3463
	 * 4.3.1, before the client sends a message we would refuse anyway.
	 */
	if (s->smtp->spool_low) {
		s->smtp->stats[STAT_SPOOL_LOW]++;
		smtp_session_reply_mail(s->engine, 0, 452, "4.3.1",
		    "Insufficient system storage, try again later");
		return;
	}
	s->mail = *m;
	session_clear_rcpts(s);
	/* SPF starts now; authd answers the MAIL (RFC 7208 8.4) */
	session_auth_abort(s);
	session_auth_begin(s);
	s->mail_pending = 1;
}

void
session_forward_imsg(struct smtp *smtp, struct imsg *imsg)
{
	struct msg_forward_member	 m;
	struct msg_forward_end		 e;
	struct session			*s;

	s = session_by_id(smtp, imsg->hdr.peerid);
	if (imsg->hdr.type == IMSG_FORWARD_MEMBER) {
		if (msg_get_forward_member(imsg, &m) == -1 ||
		    (s != NULL && (!s->fwd_pending ||
		    s->fwd_n >= FORWARD_MAX_MEMBERS)))
			proc_bad_message(smtp->proc, PROC_PARENT, imsg);
		if (s == NULL)
			return;		/* the client left */
		s->fwd_members = xreallocarray(s->fwd_members, s->fwd_n + 1,
		    sizeof(*s->fwd_members));
		s->fwd_members[s->fwd_n++] = m;
		return;
	}
	if (msg_get_forward_end(imsg, &e) == -1 ||
	    (s != NULL && !s->fwd_pending))
		proc_bad_message(smtp->proc, PROC_PARENT, imsg);
	if (s == NULL)
		return;
	session_forward_done(s, e.status);
	session_pump(s);
}

static void
cb_rcpt(void *arg, const struct smtp_rcpt *r)
{
	struct session		*s = arg;
	const struct action	*a;
	const char		*action = NULL;
	enum rcpt_verdict	 v;
	int			 remote = 0;

	if (session_rcpt_list(s, r) || session_rcpt_srs(s, r))
		return;
	v = routing_decide_auth(&s->smtp->routing,
	    (struct sockaddr *)&s->ss, smtp_session_auth_user(s->engine),
	    r->rcpt.addr, r->rcpt.at, s->listener->conf.tag, &remote,
	    &action);
	/* an alias is taken before the user of that name (aliases(5)) */
	if ((v == RCPT_ACCEPT || v == RCPT_UNKNOWN_USER) && action != NULL &&
	    !remote && (a = config_find_action(s->smtp->routing.conf,
	    action)) != NULL && a->alias_table[0] != '\0' &&
	    session_rcpt_alias(s, r, a))
		return;
	if (v == RCPT_ACCEPT && !remote && (a = config_find_action(
	    s->smtp->routing.conf, action)) != NULL &&
	    session_rcpt_forward(s, r, a))
		return;
	switch (v) {
	case RCPT_ACCEPT:
		break;
	case RCPT_RELAY_DENIED:
		log_info("smtp: session %u from %s: recipient <%s> refused: "
		    "relaying denied", s->id, s->ip, r->rcpt.addr);
		s->smtp->stats[STAT_RCPT_RELAY_DENIED]++;
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.7.1",
		    "Relaying denied");
		return;
	case RCPT_REJECTED:
		log_info("smtp: session %u from %s: recipient <%s> refused by "
		    "a reject rule", s->id, s->ip, r->rcpt.addr);
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.7.1",
		    "Recipient refused");
		return;
	case RCPT_UNKNOWN_USER:
		log_info("smtp: session %u from %s: no such user <%s>", s->id,
		    s->ip, r->rcpt.addr);
		s->smtp->stats[STAT_RCPT_UNKNOWN_USER]++;
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.1.1",
		    "No such user here");
		return;
	case RCPT_CONFIG_ERROR:
		smtp_session_reply_rcpt(s->engine, 0, 451, "4.3.0",
		    "Configuration error");
		return;
	}
	session_rcpt_add(s, r, remote, action, r->rcpt.addr);
	smtp_session_reply_rcpt(s->engine, 1, 0, NULL, NULL);
}

static void
cb_data_start(void *arg)
{
	struct session		*s = arg;
	struct msg_queue_begin	 b;

	s->qstate = QSTATE_BEGIN;
	/* the queue reserves memory for what was declared (RFC 1870) */
	memset(&b, 0, sizeof(b));
	if (s->mail.params.has_size)
		b.size = s->mail.params.size;
	proc_compose(s->smtp->proc, PROC_QUEUE, IMSG_QUEUE_MESSAGE_BEGIN,
	    s->id, -1, &b, sizeof(b));
	arstrip_free(&s->arstrip);
	arstrip_init(&s->arstrip);
	session_rate_start(s);
}

/*
 * Message bytes to a peer in pieces under the imsg payload limit: a chunk
 * can be larger than one imsg (a long header field is held whole until it
 * ends, to strip forged Authentication-Results).
 */
static void
session_send_data(struct session *s, enum proc_id to, uint32_t type,
    const uint8_t *data, size_t len)
{
	size_t	 n;

	for (; len > 0; data += n, len -= n) {
		n = len > SMTP_IMSG_CHUNK ? SMTP_IMSG_CHUNK : len;
		proc_compose(s->smtp->proc, to, type, s->id, -1, data, n);
	}
}

static void
session_queue_data(struct session *s, struct buf *b)
{
	session_send_data(s, PROC_QUEUE, IMSG_QUEUE_MESSAGE_DATA, b->data,
	    b->len);
	buf_reset(b);
}

static void
cb_data_chunk(void *arg, const uint8_t *data, size_t len)
{
	struct session	*s = arg;

	struct buf	 b;

	if (s->qstate != QSTATE_DATA || len == 0)
		return;
	if (s->auth)
		session_send_data(s, PROC_AUTHD, IMSG_AUTH_MESSAGE_DATA, data,
		    len);
	buf_init(&b, len + ARSTRIP_FIELD_MAX + 16);
	arstrip_feed(&s->arstrip, data, len, s->smtp->conf->hostname, &b);
	session_queue_data(s, &b);
	buf_free(&b);
}

static void
cb_data_end(void *arg)
{
	struct session		*s = arg;
	struct msg_auth_end	 e;
	struct smtp_rcpt_entry	*re;
	struct buf		 b;
	const char		*at;

	buf_init(&b, ARSTRIP_FIELD_MAX + 16);
	arstrip_end(&s->arstrip, s->smtp->conf->hostname, &b);
	session_queue_data(s, &b);
	buf_free(&b);
	if (s->arstrip.dropped > 0) {
		log_info("smtp: session %u from %s: %zu forged "
		    "Authentication-Results field(s) with our name removed",
		    s->id, s->ip, s->arstrip.dropped);
		s->smtp->stats[STAT_FORGED_AR] += s->arstrip.dropped;
	}
	if (s->auth) {
		/* the commit waits for authd's verdict */
		memset(&e, 0, sizeof(e));
		TAILQ_FOREACH(re, &s->rcpts, entry)
			if (re->env.kind == ENV_REMOTE)
				e.relayed = 1;
		if (!TAILQ_EMPTY(&s->rcpts) && (at = strrchr(
		    TAILQ_FIRST(&s->rcpts)->env.rcpt, '@')) != NULL)
			strlcpy(e.rcpt_domain, at + 1, sizeof(e.rcpt_domain));
		proc_compose(s->smtp->proc, PROC_AUTHD, IMSG_AUTH_MESSAGE_END,
		    s->id, -1, &e, sizeof(e));
		s->qstate = QSTATE_AUTH;
		return;
	}
	session_commit(s);
}

static const char *
abort_reason(enum smtp_abort why)
{
	switch (why) {
	case SMTP_ABORT_BARE_CRLF:
		return "bare CR or LF";
	case SMTP_ABORT_LINE_TOO_LONG:
		return "line too long";
	case SMTP_ABORT_TOO_BIG:
		return "message too big";
	case SMTP_ABORT_CLIENT:
		return "client gone";
	case SMTP_ABORT_LOOP:
		return "mail loop: too many Received fields";
	default:
		return "transaction reset";
	}
}

static void
cb_data_abort(void *arg, enum smtp_abort why)
{
	struct session	*s = arg;

	if (s->qstate == QSTATE_DATA)
		proc_compose(s->smtp->proc, PROC_QUEUE,
		    IMSG_QUEUE_MESSAGE_ABORT, s->id, -1, NULL, 0);
	if (s->qstate != QSTATE_BEGIN)
		s->qstate = QSTATE_NONE;
	session_auth_abort(s);
	log_info("smtp: session %u from %s: message dropped (%s)", s->id,
	    s->ip, abort_reason(why));
	switch (why) {
	case SMTP_ABORT_BARE_CRLF:
		s->smtp->stats[STAT_DROPPED_BARE_CRLF]++;
		break;
	case SMTP_ABORT_LINE_TOO_LONG:
		s->smtp->stats[STAT_DROPPED_TOO_LONG]++;
		break;
	case SMTP_ABORT_TOO_BIG:
		s->smtp->stats[STAT_DROPPED_TOO_BIG]++;
		break;
	default:
		s->smtp->stats[STAT_DROPPED_OTHER]++;
		break;
	}
	session_clear_rcpts(s);
}

static void
cb_starttls(void *arg)
{
	struct session	*s = arg;

	/* The 220 goes out in the clear first; session_pump() then starts
	 * the handshake. */
	s->starttls = 1;
}

/* The engine closes the session for a limit: say which. */
static void
cb_limit(void *arg, const char *what)
{
	struct session	*s = arg;

	log_info("smtp: session %u from %s: limit reached, closing: %s",
	    s->id, s->ip, what);
	s->smtp->stats[STAT_LIMIT_CLOSED]++;
}

static const struct smtp_session_cb session_callbacks = {
	.on_helo = cb_helo,
	.on_rset = cb_rset,
	.on_quit = cb_quit,
	.on_mail = cb_mail,
	.on_rcpt = cb_rcpt,
	.on_data_start = cb_data_start,
	.on_data_end = cb_data_end,
	.on_starttls = cb_starttls,
	.on_auth = cb_auth,
	.on_scram_start = cb_scram_start,
	.on_scram_proof = cb_scram_proof,
	.on_data_chunk = cb_data_chunk,
	.on_data_abort = cb_data_abort,
	.on_limit = cb_limit,
};

/* --- the queue's answers --- */

static void
session_send_received(struct session *s)
{
	struct smtp_received	 r;
	struct buf		 b;
	char			 qid[QID_MSG_LEN + 1];

	qid_msg_str(s->msgid, qid, sizeof(qid));
	memset(&r, 0, sizeof(r));
	r.helo = smtp_session_helo(s->engine);
	r.client_ip = s->ip;
	r.hostname = s->smtp->conf->hostname;
	r.protocol = smtp_session_protocol(s->engine);
	if (s->tls != NULL) {
		r.tls_version = s->tls_version;
		r.tls_cipher = s->tls_cipher;
	}
	r.queue_id = qid;
	if (s->local) {
		r.local = 1;
		r.local_uid = s->local_uid;
		r.local_user = s->local_user;
	}
	if (smtp_session_rcpt_count(s->engine) == 1 &&
	    !TAILQ_EMPTY(&s->rcpts))
		r.rcpt = TAILQ_FIRST(&s->rcpts)->env.rcpt;
	r.date = walltime();
	buf_init(&b, 4096);
	if (smtp_received_header(&b, &r) == 0 && b.len > 0)
		proc_compose(s->smtp->proc, PROC_QUEUE,
		    IMSG_QUEUE_MESSAGE_DATA, s->id, -1, b.data, b.len);
	buf_free(&b);
}

void
session_queue_reply(struct smtp *smtp, struct imsg *imsg)
{
	struct session		*s;
	struct msg_queue_msgid	 m;
	char			 qid[QID_MSG_LEN + 1], text[64];

	if (msg_get_queue_msgid(imsg, &m) == -1)
		proc_bad_message(smtp->proc, PROC_QUEUE, imsg);
	s = session_by_id(smtp, imsg->hdr.peerid);

	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MESSAGE_BEGIN_OK:
		if (s == NULL || s->qstate != QSTATE_BEGIN) {
			/* the client left or the data was refused meanwhile */
			proc_compose(smtp->proc, PROC_QUEUE,
			    IMSG_QUEUE_MESSAGE_ABORT, imsg->hdr.peerid, -1,
			    NULL, 0);
			if (s != NULL)
				s->qstate = QSTATE_NONE;
			return;
		}
		s->msgid = m.msgid;
		s->qstate = QSTATE_DATA;
		session_send_received(s);
		smtp_session_reply_data_start(s->engine, 1, 0, NULL, NULL);
		break;
	case IMSG_QUEUE_MESSAGE_COMMIT_OK:
		if (s == NULL)
			return;		/* the client left; mail is queued */
		/* only the commit we asked for, of the message we began */
		if (s->qstate != QSTATE_COMMIT || m.msgid != s->msgid)
			proc_bad_message(smtp->proc, PROC_QUEUE, imsg);
		s->qstate = QSTATE_NONE;
		qid_msg_str(m.msgid, qid, sizeof(qid));
		log_info("smtp: session %u from %s: message %s accepted, "
		    "%zu recipient(s)", s->id, s->ip, qid,
		    smtp_session_rcpt_count(s->engine));
		snprintf(text, sizeof(text), "%s Message accepted", qid);
		smtp->stats[STAT_ACCEPTED]++;
		session_clear_rcpts(s);
		smtp_session_reply_data(s->engine, 1, 250, "2.0.0", text);
		break;
	case IMSG_QUEUE_MESSAGE_FAIL:
	case IMSG_QUEUE_MESSAGE_NOSPACE:
		if (s == NULL)
			return;
		/* a failed begin (no id yet) or a failed commit of ours */
		if ((s->qstate != QSTATE_BEGIN && s->qstate != QSTATE_COMMIT) ||
		    (s->qstate == QSTATE_COMMIT && m.msgid != s->msgid))
			proc_bad_message(smtp->proc, PROC_QUEUE, imsg);
		if (imsg->hdr.type == IMSG_QUEUE_MESSAGE_NOSPACE) {
			/*
			 * The queue's memory for messages being received is
			 * spent: RFC 5321 4.2.2 452 "insufficient system
			 * storage", RFC 3463 4.3.1; the client retries later.
			 */
			smtp->stats[STAT_QUEUE_NOSPACE]++;
			if (s->qstate == QSTATE_BEGIN)
				smtp_session_reply_data_start(s->engine, 0,
				    452, "4.3.1", "Insufficient system "
				    "storage, try again later");
			else
				smtp_session_reply_data(s->engine, 0, 452,
				    "4.3.1", "Insufficient system storage, "
				    "try again later");
			s->qstate = QSTATE_NONE;
			session_clear_rcpts(s);
			break;
		}
		smtp->stats[STAT_QUEUE_FAILURES]++;
		if (s->qstate == QSTATE_BEGIN)
			smtp_session_reply_data_start(s->engine, 0, 451,
			    "4.3.0", "Queue unavailable, try again later");
		else if (s->qstate == QSTATE_COMMIT)
			smtp_session_reply_data(s->engine, 0, 451, "4.3.0",
			    "Message not stored, try again later");
		s->qstate = QSTATE_NONE;
		session_clear_rcpts(s);
		break;
	}
	session_pump(s);
}

/* --- limits: lifetime, data rate --- */

/*
 * smtp-max-lifetime: commands that reset the command timeout (NOOP
 * every few minutes) do not make a session last forever.  A session
 * waiting for our answer (the queue's message id, authd's verdict, the
 * commit) is not cut: that could lose or duplicate a message; it is
 * looked at again a second later.
 */
static void
session_lifetime(int fd, short event, void *arg)
{
	struct session	*s = arg;
	struct timeval	 tv = { 1, 0 };

	if (s->qstate == QSTATE_BEGIN || s->qstate == QSTATE_AUTH ||
	    s->qstate == QSTATE_COMMIT || s->mail_pending || s->sasl_pending) {
		evtimer_add(&s->ev_lifetime, &tv);
		return;
	}
	log_info("smtp: session %u from %s: session lifetime of %llds "
	    "exceeded", s->id, s->ip,
	    (long long)s->smtp->proc->global.smtp_max_lifetime);
	smtp_session_limit(s->engine, "Session lifetime exceeded");
	session_pump(s);
}

static void
session_rate_arm(struct session *s)
{
	struct timeval	 tv = { s->smtp->proc->global.smtp_data_rate_window,
			    0 };

	evtimer_del(&s->ev_rate);
	if (s->smtp->proc->global.smtp_min_data_rate > 0 && tv.tv_sec > 0)
		evtimer_add(&s->ev_rate, &tv);
}

static void
session_rate_start(struct session *s)
{
	rate_start(&s->rate, monotime());
	session_rate_arm(s);
}

/*
 * smtp-min-data-rate: while a message streams in, the bytes of each
 * window must average at least the minimum, or the transaction is
 * aborted (nothing stored) and the session closed with 421.  Windows in
 * which we held the session back (backpressure) or waited for the
 * queue do not count against the client.
 */
static void
session_rate_check(int fd, short event, void *arg)
{
	struct session	*s = arg;
	uint64_t	 min = s->smtp->proc->global.smtp_min_data_rate;
	uint64_t	 avg;
	time_t		 now = monotime();
	char		 what[128];

	if (s->qstate != QSTATE_DATA && s->qstate != QSTATE_BEGIN)
		return;		/* the message is in: no more checks */
	if (s->held || s->qstate == QSTATE_BEGIN) {
		rate_start(&s->rate, now);
		session_rate_arm(s);
		return;
	}
	if (!rate_check(&s->rate, now, min, &avg)) {
		session_rate_arm(s);
		return;
	}
	log_info("smtp: session %u from %s: data rate %llu bytes/s below "
	    "the minimum of %llu over %llds: message dropped", s->id, s->ip,
	    (unsigned long long)avg, (unsigned long long)min,
	    (long long)s->smtp->proc->global.smtp_data_rate_window);
	snprintf(what, sizeof(what), "Data rate below %llu bytes/s",
	    (unsigned long long)min);
	smtp_session_limit(s->engine, what);
	session_pump(s);
}

/* --- I/O --- */

static void
session_timeout(int fd, short event, void *arg)
{
	struct session	*s = arg;

	log_info("smtp: session %u from %s: timeout (%s)", s->id, s->ip,
	    s->qstate == QSTATE_DATA ? "smtp-data-timeout" : "smtp-timeout");
	smtp_session_timeout(s->engine);
	session_pump(s);
}

/*
 * RFC 5321 4.5.3.2: a timeout per state.  Waiting for a command, at
 * least 5 minutes (4.5.3.2.7, smtp-timeout); while a message streams in,
 * for each block of it, smtp-data-timeout when it is set (4.5.3.2.5
 * gives a client 3 minutes per block), smtp-timeout otherwise.
 */
static time_t
session_timeout_value(const struct session *s)
{
	const struct msg_conf_global	*g = &s->smtp->proc->global;

	if (s->qstate == QSTATE_DATA && g->smtp_data_timeout > 0)
		return g->smtp_data_timeout;
	return g->smtp_timeout;
}

/*
 * The timeout is a deadline for the client's next command, not an idle
 * timer that each byte resets: it restarts when a reply goes out (the
 * next command is awaited from then on) and, while a message streams in,
 * after each SMTP_TIMEOUT_BLOCK read.  A client that sends a command a
 * byte at a time is closed after smtp-timeout, however often it sends
 * one (RFC 5321 4.5.3.2.7: at least 5 minutes per command).
 */
static void
session_timeout_restart(struct session *s)
{
	struct timeval	 tv = { session_timeout_value(s), 0 };

	s->in_timed = 0;
	if (s->held)
		return;
	evtimer_del(&s->ev_timeout);
	evtimer_add(&s->ev_timeout, &tv);
}

static void
session_arm(struct session *s, short events)
{
	struct timeval	 tv = { session_timeout_value(s), 0 };

	event_del(&s->ev_read);
	event_del(&s->ev_write);
	if (events & EV_READ)
		event_add(&s->ev_read, NULL);
	if (events & EV_WRITE)
		event_add(&s->ev_write, NULL);
	/* a held session waits for us, not the client for it */
	if (s->held)
		evtimer_del(&s->ev_timeout);
	else if (!evtimer_pending(&s->ev_timeout, NULL))
		evtimer_add(&s->ev_timeout, &tv);
}

/*
 * Backpressure.  Message bytes go to the queue and authd as fast as
 * clients send them; a peer that takes them slower (the queue during a
 * large group commit's fsync, authd busy verifying) would otherwise let
 * smtp's write queues grow without bound.  A peer is full from
 * SMTP_PEER_HIWAT queued bytes until it drains below SMTP_PEER_LOWAT;
 * meanwhile the sessions whose data would go there are not read, so TCP
 * flow control slows their clients down.  Only writes to the peer make it
 * drain, so only session_peer_written() declares it empty again.
 */
static void
session_peer_check(struct smtp *smtp, enum proc_id id)
{
	struct imsgev	*iev = smtp->proc->peers[id];

	if (iev != NULL && !smtp->peer_full[id] &&
	    imsgbuf_queuebytes(&iev->ibuf) >= SMTP_PEER_HIWAT) {
		smtp->peer_full[id] = 1;
		log_info("smtp: %s is behind by %zu bytes: holding back "
		    "sessions in DATA", proc_name(id),
		    imsgbuf_queuebytes(&iev->ibuf));
	}
}

static int
session_hold_back(struct session *s)
{
	struct smtp	*smtp = s->smtp;

	if (s->qstate != QSTATE_DATA)
		return 0;
	session_peer_check(smtp, PROC_QUEUE);
	session_peer_check(smtp, PROC_AUTHD);
	return smtp->peer_full[PROC_QUEUE] ||
	    (s->auth && smtp->peer_full[PROC_AUTHD]);
}

void
session_peer_written(struct proc *p, enum proc_id id)
{
	struct smtp	*smtp = p->state;
	struct session	*s;
	struct imsgev	*iev = p->peers[id];
	size_t		 n;

	if (smtp == NULL || !smtp->peer_full[id] || iev == NULL ||
	    imsgbuf_queuebytes(&iev->ibuf) >= SMTP_PEER_LOWAT)
		return;
	smtp->peer_full[id] = 0;
	log_info("smtp: %s caught up: reading held sessions again",
	    proc_name(id));
	/*
	 * The held sessions only, not every session: a session that the
	 * pump holds again goes to the end, and the walk stops after as
	 * many as were held.
	 */
	for (n = smtp->nheld; n > 0 &&
	    (s = TAILQ_FIRST(&smtp->held)) != NULL; n--) {
		TAILQ_REMOVE(&smtp->held, s, held_entry);
		s->held = 0;
		smtp->nheld--;
		/* the hold was ours: the client's rate counts from now */
		rate_start(&s->rate, monotime());
		session_pump(s);
	}
}

/* Write what the engine has; -1 on a dead connection, 1 to wait. */
static int
session_flush(struct session *s, short *want)
{
	const uint8_t	*out;
	size_t		 len;
	ssize_t		 n;

	while ((out = smtp_session_output(s->engine, &len)) != NULL &&
	    len > 0) {
		if (s->tls != NULL && !s->tls_handshake) {
			n = tls_write(s->tls, out, len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				*want |= n == TLS_WANT_POLLIN ? EV_READ :
				    EV_WRITE;
				return 1;
			}
		} else {
			n = write(s->fd, out, len);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				*want |= EV_WRITE;
				return 1;
			}
		}
		if (n <= 0)
			return -1;
		smtp_session_output_consume(s->engine, (size_t)n);
		session_timeout_restart(s);
	}
	return 0;
}

/* Offer buffered input to the engine. */
static void
session_feed(struct session *s)
{
	size_t	 n, before;

	while (s->in.len > 0) {
		before = s->in.len;
		n = smtp_session_input(s->engine, s->in.data, s->in.len);
		if (n == 0)
			break;
		buf_consume(&s->in, n);
		/* On an AUTH listener the input may be credentials. */
		if (s->listener->conf.flags & LISTEN_AUTH)
			explicit_bzero(s->in.data + s->in.len,
			    before - s->in.len);
	}
}

static void
session_handshake(struct session *s, short *want)
{
	int	 r;

	r = tls_handshake(s->tls);
	if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
		*want |= r == TLS_WANT_POLLIN ? EV_READ : EV_WRITE;
		return;
	}
	if (r == -1) {
		log_info("smtp: session %u from %s: TLS handshake failed: %s",
		    s->id, s->ip, tls_error(s->tls));
		s->smtp->stats[STAT_TLS_FAILURES]++;
		smtp_session_client_gone(s->engine);
		s->eof = 1;
		return;
	}
	s->tls_handshake = 0;
	strlcpy(s->tls_version, tls_conn_version(s->tls),
	    sizeof(s->tls_version));
	strlcpy(s->tls_cipher, tls_conn_cipher(s->tls), sizeof(s->tls_cipher));
	log_debug("smtp: session %u from %s: %s %s", s->id, s->ip,
	    s->tls_version, s->tls_cipher);
	if (s->starttls) {
		s->starttls = 0;
		smtp_session_tls_started(s->engine, s->tls_version,
		    s->tls_cipher);
	} else
		smtp_session_start(s->engine);	/* smtps: banner now */
}

/*
 * Move everything that can move: handshake, input to the engine, output
 * to the client; then wait for what is missing, or close.
 */
static void
session_pump(struct session *s)
{
	short	 want = 0;
	int	 r;

	if (s == NULL)
		return;
	if (s->tls_handshake && !s->eof)
		session_handshake(s, &want);
	if (!s->tls_handshake && !s->eof)
		session_feed(s);
	if (!s->tls_handshake && (r = session_flush(s, &want)) == -1)
		s->eof = 1;
	if (s->eof || (smtp_session_closing(s->engine) && want == 0 &&
	    !s->tls_handshake)) {
		if (!smtp_session_closing(s->engine))
			smtp_session_client_gone(s->engine);
		smtpd_session_close(s);
		return;
	}
	/* STARTTLS: the 220 is out; nothing pipelined after it survives
	 * (the engine discarded it), and neither does ours. */
	if (s->starttls && !s->tls_handshake && want == 0) {
		buf_reset(&s->in);
		if (tls_accept_socket(s->listener->pki->tls, &s->tls, s->fd) ==
		    -1) {
			log_warnx("smtp: session %u: tls_accept_socket: %s",
			    s->id, tls_error(s->listener->pki->tls));
			s->eof = 1;
			smtpd_session_close(s);
			return;
		}
		s->tls_handshake = 1;
		session_handshake(s, &want);
	}
	/* Read more only when the engine took everything offered, and
	 * only when the peers its data goes to keep up. */
	if ((s->in.len == 0 || s->tls_handshake) && !s->held) {
		if (!session_hold_back(s))
			want |= EV_READ;
		else {
			s->held = 1;
			TAILQ_INSERT_TAIL(&s->smtp->held, s, held_entry);
			s->smtp->nheld++;
			s->smtp->stats[STAT_READ_PAUSED]++;
		}
	}
	session_arm(s, want);
}

static void
session_io(int fd, short event, void *arg)
{
	struct session	*s = arg;
	uint8_t		 data[SESSION_READ_SIZE];
	ssize_t		 n;

	if ((event & EV_READ) && !s->tls_handshake && s->in.len == 0) {
		if (s->tls != NULL) {
			n = tls_read(s->tls, data, sizeof(data));
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				n = -2;
		} else {
			n = read(s->fd, data, sizeof(data));
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				n = -2;
		}
		if (n == 0 || n == -1)
			s->eof = 1;
		else if (n > 0) {
			if (buf_add(&s->in, data, (size_t)n) == -1)
				s->eof = 1;	/* cannot happen: in was empty */
			if (s->listener->conf.flags & LISTEN_AUTH)
				explicit_bzero(data, (size_t)n);
			s->in_timed += (size_t)n;
			if (s->qstate == QSTATE_DATA)
				rate_add(&s->rate, (size_t)n);
			if (s->in_timed >= SMTP_TIMEOUT_BLOCK)
				session_timeout_restart(s);
		}
	}
	session_pump(s);
}

/*
 * 421 to the client, best effort: we are about to exit (RFC 5321 3.8).
 * Not to a client whose message is being committed and whose answer did
 * not come in time (smtp_shutdown() waits for it): the message may be
 * kept, and a 4xx would tell the client that it was not.  It hears
 * nothing, the case RFC 5321 4.1.1.4 and RFC 1047 leave it to resolve.
 */
void
session_shutdown(struct session *s)
{
	short	 want = 0;

	if (!s->tls_handshake) {
		if (s->qstate != QSTATE_COMMIT)
			smtp_session_shutdown(s->engine);
		session_flush(s, &want);
	}
	smtpd_session_close(s);
}

static void
session_open(struct smtp *smtp, struct smtp_listener *l, int fd,
    const struct sockaddr_storage *ss,
    const struct msg_ctl_local_session *lm)
{
	struct smtp_session_conf	 sc;
	struct session			*s;
	static const char		 busy[] =
	    "421 4.7.0 Too many connections, try again later\r\n";
	char				 ip[64], netstr[CLIENT_NET_STRMAX];
	struct client_net		 net;
	const struct msg_conf_global	*g = &smtp->proc->global;
	struct timeval			 life = { g->smtp_max_lifetime, 0 };
	size_t				 n;
	const char			*user;
	int				 local_full = 0;

	if (lm != NULL)
		snprintf(ip, sizeof(ip), "uid %u", lm->uid);
	else if (getnameinfo((const struct sockaddr *)ss, ss->ss_family ==
	    AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in), ip, sizeof(ip), NULL, 0,
	    NI_NUMERICHOST) != 0)
		strlcpy(ip, "unknown", sizeof(ip));
	client_net_from(&net, (const struct sockaddr *)ss, g->smtp_ipv4_prefix,
	    g->smtp_ipv6_prefix);
	/*
	 * A local user is one client (smtp-max-per-ip), and local users
	 * together hold at most half the sessions: they cannot shut out the
	 * mail from outside.
	 */
	if (lm != NULL) {
		client_net_uid(&net, lm->uid);
		local_full = smtp->nlocal >= (g->smtp_max_sessions + 1) / 2;
	}
	n = 0;
	if (smtp->shutting_down)
		log_info("smtp: refused connection from %s: shutting down", ip);
	else if (local_full)
		log_info("smtp: refused local submission by %s: %zu local "
		    "sessions (half of smtp-max-sessions)", ip, smtp->nlocal);
	else if (smtp->nsessions >= g->smtp_max_sessions)
		log_info("smtp: refused connection from %s: too many "
		    "connections: %zu sessions (smtp-max-sessions)", ip,
		    smtp->nsessions);
	else if ((n = session_index_net_count(&smtp->index, &net)) >=
	    g->smtp_max_per_ip) {
		client_net_str(&net, netstr, sizeof(netstr));
		log_info("smtp: refused connection from %s: too many "
		    "connections: %zu sessions from %s (smtp-max-per-ip)", ip,
		    n, netstr);
	}
	if (smtp->shutting_down || smtp->nsessions >= g->smtp_max_sessions ||
	    local_full || n >= g->smtp_max_per_ip) {
		smtp->stats[STAT_REFUSED_BUSY]++;
		if (write(fd, busy, sizeof(busy) - 1) == -1) {
			/* nothing more to do for this client */
		}
		close(fd);
		return;
	}

	s = xcalloc(1, sizeof(*s));
	s->id = smtp->next_id++;
	if (smtp->next_id == 0)
		smtp->next_id = 1;
	s->smtp = smtp;
	s->listener = l;
	s->fd = fd;
	s->ss = *ss;
	s->net = net;
	strlcpy(s->ip, ip, sizeof(s->ip));
	if (lm != NULL) {
		s->local = 1;
		s->local_uid = lm->uid;
		s->local_privileged = lm->privileged;
		if ((user = routing_user_by_uid(&smtp->routing, lm->uid)) !=
		    NULL)
			strlcpy(s->local_user, user, sizeof(s->local_user));
	}
	buf_init(&s->in, SESSION_READ_SIZE);
	TAILQ_INIT(&s->rcpts);

	memset(&sc, 0, sizeof(sc));
	sc.hostname = l->conf.hostname[0] != '\0' ? l->conf.hostname :
	    smtp->conf->hostname;
	sc.max_size = smtp->proc->global.max_message_size;
	sc.max_received = smtp->proc->global.smtp_max_received;
	sc.max_idle_commands = g->smtp_max_idle_commands;
	if (l->pki != NULL && (l->conf.flags & LISTEN_STARTTLS))
		sc.flags |= SMTP_CONF_STARTTLS;
	if (l->conf.flags & LISTEN_SMTPS)
		sc.flags |= SMTP_CONF_TLS_ACTIVE;
	/*
	 * RFC 8689 4.1: offered inside TLS (the engine sees to it), now that
	 * the mta enforces it on the way out (mta/session.c).
	 */
	sc.flags |= SMTP_CONF_REQUIRETLS;
	if (l->conf.flags & LISTEN_TLS_REQUIRE)
		sc.flags |= SMTP_CONF_TLS_REQUIRED;
	/* The engine offers AUTH inside TLS only (RFC 4954 4). */
	if ((l->conf.flags & LISTEN_AUTH) && l->pki != NULL &&
	    l->conf.auth_table[0] != '\0') {
		sc.flags |= SMTP_CONF_AUTH;
		if (l->conf.flags & LISTEN_AUTH_REQUIRE)
			sc.flags |= SMTP_CONF_AUTH_REQUIRED;
		if (l->conf.flags & LISTEN_AUTH_SCRAM_SHA1)
			sc.flags |= SMTP_CONF_SCRAM_SHA1;
		if (l->conf.flags & LISTEN_AUTH_SCRAM_SHA256)
			sc.flags |= SMTP_CONF_SCRAM_SHA256;
	}
	s->engine = smtp_session_new(&sc, &session_callbacks, s);
	event_set(&s->ev_read, fd, EV_READ, session_io, s);
	event_set(&s->ev_write, fd, EV_WRITE, session_io, s);
	evtimer_set(&s->ev_timeout, session_timeout, s);
	evtimer_set(&s->ev_sasl_delay, session_sasl_fail, s);
	evtimer_set(&s->ev_lifetime, session_lifetime, s);
	evtimer_set(&s->ev_rate, session_rate_check, s);
	if (life.tv_sec > 0)
		evtimer_add(&s->ev_lifetime, &life);
	TAILQ_INSERT_TAIL(&smtp->sessions, s, entry);
	session_index_add(&smtp->index, s);
	smtp->nsessions++;
	if (s->local)
		smtp->nlocal++;
	smtp->stats[STAT_SESSIONS]++;
	if (s->local)
		log_info("smtp: session %u: local submission by uid %u (%s%s)",
		    s->id, s->local_uid, s->local_user[0] != '\0' ?
		    s->local_user : "no user name", s->local_privileged ?
		    ", may set the sender" : "");
	else
		log_debug("smtp: session %u from %s", s->id, ip);

	if (l->conf.flags & LISTEN_SMTPS) {
		if (tls_accept_socket(l->pki->tls, &s->tls, fd) == -1) {
			log_warnx("smtp: tls_accept_socket: %s",
			    tls_error(l->pki->tls));
			smtpd_session_close(s);
			return;
		}
		s->tls_handshake = 1;
	} else
		smtp_session_start(s->engine);
	session_pump(s);
}

void
session_accept(struct smtp *smtp, struct smtp_listener *l, int fd,
    const struct sockaddr_storage *ss)
{
	session_open(smtp, l, fd, ss, NULL);
}

/*
 * A local submission control accepted: a session on a listener of its
 * own (no tag, no TLS, no AUTH, no policy), whose client is AF_UNIX, so
 * that "from local" matches it (rule_client_is_local()).
 */
void
session_accept_local(struct smtp *smtp, int fd,
    const struct msg_ctl_local_session *lm)
{
	struct sockaddr_storage	 ss;
	struct smtp_listener	*l = &smtp->local_listener;
	static const char	 paused[] =
	    "421 4.3.2 Not accepting mail now, try again later\r\n";

	/* posternctl pause smtp: no new mail, from the listeners or here */
	if (smtp->paused) {
		log_info("smtp: local submission by uid %u refused: paused",
		    lm->uid);
		if (write(fd, paused, sizeof(paused) - 1) == -1) {
			/* sendmail sees the connection end: EX_TEMPFAIL */
		}
		close(fd);
		return;
	}
	l->smtp = smtp;
	l->fd = -1;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	session_open(smtp, l, fd, &ss, lm);
}

/*
 * The smtp process: SMTP and submission sessions on the listeners the
 * parent opened (RFC 5321; the protocol itself is smtpd/engine.c, the
 * per-connection I/O smtpd/session.c).
 *
 * Before it drops privileges it takes from the parent its listening
 * sockets, the tables, actions and match rules that decide recipients, the
 * names of the local users, and each pki's certificate and key, from which
 * it builds its libtls server contexts.  It never reads a file.
 *
 * Limits ("smtp max-sessions" in all, "smtp max-per-ip" from one address):
 * past them a client gets 421 4.7.0 and is closed at once.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "smtpd/smtp.h"
#include "util.h"

const char *const smtp_stat_names[STAT_MAX] = {
	[STAT_SESSIONS] = "smtp.sessions",
	[STAT_REFUSED_BUSY] = "smtp.refused.too_many_connections",
	[STAT_ACCEPTED] = "smtp.messages.accepted",
	[STAT_RCPT_RELAY_DENIED] = "smtp.rcpt.relay_denied",
	[STAT_RCPT_UNKNOWN_USER] = "smtp.rcpt.unknown_user",
	[STAT_DROPPED_BARE_CRLF] = "smtp.messages.rejected.bare_cr_lf",
	[STAT_DROPPED_TOO_LONG] = "smtp.messages.rejected.line_too_long",
	[STAT_DROPPED_TOO_BIG] = "smtp.messages.rejected.too_big",
	[STAT_DROPPED_OTHER] = "smtp.messages.dropped.other",
	[STAT_QUEUE_FAILURES] = "smtp.messages.queue_failures",
	[STAT_TLS_FAILURES] = "smtp.tls.handshake_failures",
	[STAT_AUTH_REJECTED] = "smtp.messages.rejected.policy",
	[STAT_AUTH_DEFERRED] = "smtp.messages.deferred.policy",
	[STAT_AUTH_QUARANTINED] = "smtp.messages.quarantined",
	[STAT_FORGED_AR] = "smtp.forged_authentication_results_removed",
	[STAT_SASL_OK] = "smtp.auth.succeeded",
	[STAT_SASL_FAILED] = "smtp.auth.failed",
	[STAT_SENDER_NOT_OWNED] = "smtp.messages.rejected.sender_not_owned",
	[STAT_QUEUE_NOSPACE] = "smtp.messages.deferred.queue_memory",
	[STAT_READ_PAUSED] = "smtp.backpressure.sessions_paused",
	[STAT_SPOOL_LOW] = "smtp.messages.deferred.spool_low",
	[STAT_LIMIT_CLOSED] = "smtp.sessions.closed.limit",
	[STAT_SASL_LOCKED] = "smtp.auth.locked_out",
	[STAT_ACCEPT_PAUSED] = "smtp.accept.paused_no_descriptors",
};

static struct smtp *
smtp_state(struct proc *p)
{
	struct smtp	*s;

	if (p->state == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->proc = p;
		routing_init(&s->routing, NULL);
		s->conf = s->routing.conf;
		s->next_id = 1;
		TAILQ_INIT(&s->listeners);
		TAILQ_INIT(&s->pkis);
		TAILQ_INIT(&s->sessions);
		session_index_init(&s->index);
		TAILQ_INIT(&s->held);
		p->state = s;
	}
	return p->state;
}

static void
smtp_conf_pki(struct smtp *s, struct imsg *imsg)
{
	struct msg_conf_pki	 mp;
	struct smtp_pki		*pki;
	struct tls_config	*cfg;
	const uint8_t		*cert, *key;

	if (msg_get_conf_pki(imsg, &mp, &cert, &key) == -1)
		proc_bad_message(s->proc, PROC_PARENT, imsg);

	if ((cfg = tls_config_new()) == NULL)
		fatalx("tls_config_new");
	if (tls_config_set_keypair_mem(cfg, cert, mp.certlen, key,
	    mp.keylen) == -1)
		fatalx("pki %s: %s", mp.name, tls_config_error(cfg));
	/* TLS 1.2 and 1.3 only; libtls' default ciphers. */
	if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1)
		fatalx("pki %s: %s", mp.name, tls_config_error(cfg));
	pki = xcalloc(1, sizeof(*pki));
	strlcpy(pki->name, mp.name, sizeof(pki->name));
	if ((pki->tls = tls_server()) == NULL)
		fatalx("tls_server");
	if (tls_configure(pki->tls, cfg) == -1)
		fatalx("pki %s: %s", mp.name, tls_error(pki->tls));
	tls_config_free(cfg);
	explicit_bzero(imsg->data, imsg->len);
	TAILQ_INSERT_TAIL(&s->pkis, pki, entry);
}

void
smtp_conf(struct proc *p, struct imsg *imsg)
{
	struct smtp		*s = smtp_state(p);
	struct smtp_listener	*l;

	if (routing_conf_imsg(&s->routing, imsg))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CONF_LISTENER_ADD:
		l = xcalloc(1, sizeof(*l));
		if (msg_get_conf_listener(imsg, &l->conf) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		l->fd = imsg->fd;
		l->smtp = s;
		TAILQ_INSERT_TAIL(&s->listeners, l, entry);
		return;
	case IMSG_CONF_PKI_ADD:
		smtp_conf_pki(s, imsg);
		return;
	}
	proc_unexpected(p, PROC_PARENT, imsg);
}

/*
 * Out of descriptors: a listener stays readable while its connection
 * waits in the backlog, so accepting again at once would spin.  The
 * listeners are taken out of the loop until a session closes (a
 * descriptor is free again) or, for descriptors freed elsewhere, a
 * second has passed.
 *
 * A server at its limit pauses again with every session that closes;
 * the log gets one warning a minute at most, with the number of pauses
 * since the last one, not two lines per freed descriptor.
 */
#define SMTP_ACCEPT_WARN_EVERY	60	/* seconds */

void
smtp_accept_pause(struct smtp *smtp)
{
	struct smtp_listener	*l;
	struct timeval		 tv = { 1, 0 };
	time_t			 now;

	if (!smtp->accept_paused) {
		now = monotime();
		if (smtp->accept_warn_at != 0 &&
		    now - smtp->accept_warn_at < SMTP_ACCEPT_WARN_EVERY)
			smtp->accept_warn_quiet++;
		else {
			if (smtp->accept_warn_quiet > 0)
				log_warnx("smtp: out of file descriptors with "
				    "%zu sessions: not accepting connections "
				    "until one closes (%lu pauses since the "
				    "last warning)", smtp->nsessions,
				    smtp->accept_warn_quiet);
			else
				log_warnx("smtp: out of file descriptors with "
				    "%zu sessions: not accepting connections "
				    "until one closes", smtp->nsessions);
			smtp->accept_warn_at = now;
			smtp->accept_warn_quiet = 0;
			smtp->accept_warned = 1;
		}
		smtp->stats[STAT_ACCEPT_PAUSED]++;
		TAILQ_FOREACH(l, &smtp->listeners, entry)
			event_del(&l->ev);
		smtp->accept_paused = 1;
	}
	evtimer_add(&smtp->ev_accept_retry, &tv);
}

void
smtp_accept_resume(struct smtp *smtp)
{
	struct smtp_listener	*l;

	if (!smtp->accept_paused || smtp->shutting_down)
		return;
	smtp->accept_paused = 0;
	evtimer_del(&smtp->ev_accept_retry);
	if (smtp->paused)
		return;		/* posternctl paused it: it resumes it */
	TAILQ_FOREACH(l, &smtp->listeners, entry)
		event_add(&l->ev, NULL);
}

static void
smtp_accept_retry(int fd, short event, void *arg)
{
	smtp_accept_resume(arg);
}

/*
 * A burst of clients (thousands connecting at once) waits in the listen
 * queue: take up to SMTP_ACCEPT_BATCH of them per wake-up rather than
 * one per turn of the loop, so that the queue drains and does not
 * overflow, while the sessions already open still get their turn.
 */
#define SMTP_ACCEPT_BATCH	64

static void
smtp_accept(int fd, short event, void *arg)
{
	struct smtp_listener	*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 s, n;

	for (n = 0; n < SMTP_ACCEPT_BATCH && !l->smtp->accept_paused &&
	    !l->smtp->paused; n++) {
		len = sizeof(ss);
		if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				smtp_accept_pause(l->smtp);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("smtp: accept");
			return;
		}
		if (l->smtp->accept_warned) {
			log_info("smtp: accepting connections again");
			l->smtp->accept_warned = 0;
		}
		sock_nodelay(s);
		session_accept(l->smtp, l, s, &ss);
	}
}

/*
 * TEST ONLY: POSTERN_TEST_SMTP_SPARE_FDS=N sets the smtp process's
 * RLIMIT_NOFILE to N past its highest open descriptor, so that a test
 * runs it out of descriptors with a few connections.  Like every
 * POSTERN_TEST_ variable, removed in every process unless posternd was
 * started with -d -T (posternd/proc.c).
 */
static void
smtp_test_spare_fds(void)
{
	struct rlimit	 rl;
	const char	*v, *errstr;
	int		 fd, top = 0, n;

	if ((v = getenv("POSTERN_TEST_SMTP_SPARE_FDS")) == NULL)
		return;
	n = strtonum(v, 1, 1000, &errstr);
	if (errstr != NULL)
		fatalx("POSTERN_TEST_SMTP_SPARE_FDS %s: %s", v, errstr);
	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			top = fd;
	rl.rlim_cur = rl.rlim_max = (rlim_t)(top + 1 + n);
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit RLIMIT_NOFILE");
	log_warnx("smtp: test: RLIMIT_NOFILE %d", top + 1 + n);
}

void
smtp_run(struct proc *p)
{
	struct smtp		*s = smtp_state(p);
	struct smtp_listener	*l;
	struct smtp_pki		*pki;

	strlcpy(s->conf->hostname, p->global.hostname,
	    sizeof(s->conf->hostname));
	routing_ready(&s->routing);
	proc_peer_written = session_peer_written;
	authfail_init(&s->authfail, AUTHFAIL_SLOTS,
	    p->global.smtp_auth_max_failures, p->global.smtp_auth_lockout);
	evtimer_set(&s->ev_accept_retry, smtp_accept_retry, s);
	smtp_test_spare_fds();
	TAILQ_FOREACH(l, &s->listeners, entry) {
		if (l->conf.pki[0] != '\0') {
			TAILQ_FOREACH(pki, &s->pkis, entry)
				if (strcmp(pki->name, l->conf.pki) == 0)
					break;
			if (pki == NULL)
				fatalx("listener uses unknown pki %s",
				    l->conf.pki);
			l->pki = pki;
		}
		event_set(&l->ev, l->fd, EV_READ | EV_PERSIST, smtp_accept, l);
		event_add(&l->ev, NULL);
	}
	log_debug("smtp process ready, %zu local users",
	    s->routing.nusers);
}

static int
smtp_commits_answered(struct proc *p)
{
	struct smtp	*s = smtp_state(p);
	struct session	*sess;

	TAILQ_FOREACH(sess, &s->sessions, entry)
		if (sess->qstate == QSTATE_COMMIT)
			return 0;
	return 1;
}

/*
 * SIGTERM: every open session hears 421 4.3.2 (RFC 5321 3.8) before we
 * go, and a message still being received is dropped.  A message whose
 * commit was asked for may be kept whatever we say: its session waits
 * for the queue's answer, which the queue gives before it stops
 * (queue_shutdown()), so that the client hears 250 for a message that is
 * kept and 451 for one that is not, rather than a 421 that is a lie half
 * the time.
 */
void
smtp_shutdown(struct proc *p)
{
	struct smtp	*s = smtp_state(p);
	struct session	*sess, *next;
	int		 pass;

	s->shutting_down = 1;
	evtimer_del(&s->ev_accept_retry);
	for (pass = 0; pass < 2; pass++) {
		for (sess = TAILQ_FIRST(&s->sessions); sess != NULL;
		    sess = next) {
			next = TAILQ_NEXT(sess, entry);
			if (pass == 1 || sess->qstate != QSTATE_COMMIT)
				session_shutdown(sess);
		}
		if (pass == 0 && !smtp_commits_answered(p) &&
		    p->peers[PROC_QUEUE] != NULL)
			proc_drain(p, PROC_QUEUE, smtp_commits_answered,
			    SMTP_SHUTDOWN_MS);
	}
	log_info("smtp: stopped");
}

static void
smtp_ctl_imsg(struct smtp *s, struct imsg *imsg)
{
	struct smtp_listener		*l;
	struct msg_ctl_stat		 m;
	struct msg_ctl_local_session	 lm;
	int				 i;

	if (imsg->hdr.type == IMSG_CTL_LOCAL_SESSION) {
		/*
		 * Out of descriptors, the connection could not be received
		 * (lib/imsg.c): the caller sees it closed and exits
		 * EX_TEMPFAIL; we go on.
		 */
		if ((imsg->hdr.flags & IMSGF_HASFD) && imsg->fd == -1) {
			log_warnx("smtp: a local submission lost: no file "
			    "descriptor left to receive it");
			s->stats[STAT_REFUSED_BUSY]++;
			return;
		}
		if (msg_get_ctl_local_session(imsg, &lm) == -1)
			proc_bad_message(s->proc, PROC_CONTROL, imsg);
		session_accept_local(s, imsg->fd, &lm);
		imsg->fd = -1;
		return;
	}
	if (msg_get_empty(imsg) == -1)
		proc_bad_message(s->proc, PROC_CONTROL, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CTL_PROC_PAUSE:
	case IMSG_CTL_PROC_RESUME:
		s->paused = imsg->hdr.type == IMSG_CTL_PROC_PAUSE;
		TAILQ_FOREACH(l, &s->listeners, entry) {
			if (s->paused)
				event_del(&l->ev);
			else
				event_add(&l->ev, NULL);
		}
		log_info("smtp: %s new connections", s->paused ?
		    "not accepting" : "accepting");
		proc_compose(s->proc, PROC_CONTROL, IMSG_CTL_REPLY_OK,
		    imsg->hdr.peerid, -1, NULL, 0);
		return;
	case IMSG_CTL_STATS_GET:
		for (i = 0; i < STAT_MAX; i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, smtp_stat_names[i], sizeof(m.name));
			m.value = s->stats[i];
			proc_compose(s->proc, PROC_CONTROL,
			    IMSG_CTL_STATS_ENTRY, imsg->hdr.peerid, -1, &m,
			    sizeof(m));
		}
		memset(&m, 0, sizeof(m));
		strlcpy(m.name, "smtp.sessions.open", sizeof(m.name));
		m.value = s->nsessions;
		proc_compose(s->proc, PROC_CONTROL, IMSG_CTL_STATS_ENTRY,
		    imsg->hdr.peerid, -1, &m, sizeof(m));
		proc_compose(s->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
		    imsg->hdr.peerid, -1, NULL, 0);
		return;
	}
	proc_unexpected(s->proc, PROC_CONTROL, imsg);
}

void
smtp_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct smtp	*s = smtp_state(p);

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_PARENT && (imsg->hdr.type == IMSG_FORWARD_MEMBER ||
	    imsg->hdr.type == IMSG_FORWARD_END)) {
		session_forward_imsg(s, imsg);
		return;
	}
	if (from == PROC_PARENT) {
		/* an aliases file changed (posternd/alias_watch.c) */
		switch (routing_reload_imsg(&s->routing, imsg)) {
		case 1:
			return;
		case -1:
			proc_bad_message(p, from, imsg);
		}
	}
	if (from == PROC_CONTROL) {
		smtp_ctl_imsg(s, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_AUTH_MESSAGE_RESULT) {
		session_auth_result(s, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_AUTH_MAIL_RESULT) {
		session_auth_mail(s, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_AUTH_SASL_RESULT) {
		session_sasl_result(s, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_AUTH_SCRAM_SALT) {
		session_scram_salt(s, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_AUTH_SCRAM_RESULT) {
		session_scram_result(s, imsg);
		return;
	}
	if (from == PROC_QUEUE && imsg->hdr.type == IMSG_QUEUE_SPACE_STATE) {
		struct msg_queue_space	 m;

		if (msg_get_queue_space(imsg, &m) == -1)
			proc_bad_message(p, PROC_QUEUE, imsg);
		s->spool_low = m.low;
		return;
	}
	if (from == PROC_QUEUE) {
		switch (imsg->hdr.type) {
		case IMSG_QUEUE_MESSAGE_BEGIN_OK:
		case IMSG_QUEUE_MESSAGE_COMMIT_OK:
		case IMSG_QUEUE_MESSAGE_FAIL:
		case IMSG_QUEUE_MESSAGE_NOSPACE:
			session_queue_reply(s, imsg);
			return;
		}
	}
	proc_unexpected(p, from, imsg);
}

/*
 * The authd process: authenticates every message the smtp process
 * receives (authd/inbound.c: SPF, DKIM, ARC, DMARC, iprev) while it
 * streams in, and answers once per message with the Authentication-
 * Results field to put in front of it and a verdict under the listener's
 * policy.  It reads nothing but imsgs and DNS answers: chrooted to
 * /var/empty, unprivileged, its DNS context made before the chroot.
 *
 * Not here yet: DKIM signing and ARC sealing of outgoing mail, and the
 * DMARC evaluations for reportd.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "inbound.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define AUTHD_MAX_MESSAGES	4096	/* messages being checked at once */

struct authd_msg {
	TAILQ_ENTRY(authd_msg)	 entry;
	struct authd		*authd;
	uint32_t		 session;	/* smtp's peer id */
	struct inbound		*in;
	int			 ended;
};

struct authd_policy {
	TAILQ_ENTRY(authd_policy) entry;
	struct msg_conf_policy	 c;
};

struct authd {
	struct proc		*proc;
	struct dns_ctx		*dns;
	TAILQ_HEAD(, authd_policy) policies;
	TAILQ_HEAD(, authd_msg)	 msgs;
	size_t			 nmsgs;
};

static struct authd *
authd_state(struct proc *p)
{
	struct authd	*a;

	if (p->state == NULL) {
		a = xcalloc(1, sizeof(*a));
		a->proc = p;
		TAILQ_INIT(&a->policies);
		TAILQ_INIT(&a->msgs);
		p->state = a;
	}
	return p->state;
}

void
authd_conf(struct proc *p, struct imsg *imsg)
{
	struct authd		*a = authd_state(p);
	struct authd_policy	*pol;

	if (imsg->hdr.type != IMSG_PROC_CONF_POLICY)
		fatalx("unexpected set-up message %u", imsg->hdr.type);
	pol = xcalloc(1, sizeof(*pol));
	if (imsg_get_data(imsg, &pol->c, sizeof(pol->c)) == -1)
		fatalx("bad policy message");
	pol->c.name[sizeof(pol->c.name) - 1] = '\0';
	pol->c.quarantine_folder[sizeof(pol->c.quarantine_folder) - 1] = '\0';
	TAILQ_INSERT_TAIL(&a->policies, pol, entry);
}

void
authd_preinit(struct proc *p)
{
	authd_state(p)->dns = proc_dns_ctx(p);
}

static struct authd_msg *
authd_msg_find(struct authd *a, uint32_t session)
{
	struct authd_msg	*m;

	TAILQ_FOREACH(m, &a->msgs, entry)
		if (m->session == session)
			return m;
	return NULL;
}

static void
authd_msg_free_cb(int fd, short ev, void *arg)
{
	struct authd_msg	*m = arg;

	inbound_free(m->in);
	free(m);
}

/*
 * Remove a message.  Its inbound state may be on the stack (we are in its
 * callback), so it is freed from the event loop, not here.
 */
static void
authd_msg_drop(struct authd *a, struct authd_msg *m)
{
	struct timeval	 tv = { 0, 0 };

	TAILQ_REMOVE(&a->msgs, m, entry);
	a->nmsgs--;
	event_once(-1, EV_TIMEOUT, authd_msg_free_cb, m, &tv);
}

static void
authd_done(void *arg, const struct inbound_result *r)
{
	struct authd_msg	*m = arg;
	struct authd		*a = m->authd;
	struct msg_auth_result	 res;
	struct iovec		 iov[2];
	struct buf		 eval;

	memset(&res, 0, sizeof(res));
	res.verdict = r->verdict;
	res.code = r->code;
	strlcpy(res.status, r->status, sizeof(res.status));
	strlcpy(res.text, r->text, sizeof(res.text));
	res.header_len = r->header.len;
	if (sizeof(res) + r->header.len > IMSG_MAX_PAYLOAD)
		res.header_len = 0;	/* never: A-R fields are bounded */
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	iov[1].iov_base = r->header.data;
	iov[1].iov_len = res.header_len;
	log_debug("authd: session %u: %s%s%s", m->session,
	    inbound_verdict_name(r->verdict), r->code ? " " : "", r->text);
	if (imsg_composev(&a->proc->peers[PROC_SMTP]->ibuf, IMSG_AUTH_RESULT,
	    m->session, 0, -1, iov, 2) == -1)
		fatal("authd: compose");
	imsgev_update(a->proc->peers[PROC_SMTP]);
	if (r->have_dmarc) {
		/* For the aggregate reports: reportd stores it. */
		buf_init(&eval, IMSG_MAX_PAYLOAD);
		if (dmarc_eval_encode(&r->dmarc_eval, &eval) == 0)
			proc_compose(a->proc, PROC_REPORTD,
			    IMSG_REPORT_DMARC_EVAL, 0, -1, eval.data,
			    eval.len);
		else
			log_warnx("authd: session %u: DMARC evaluation too "
			    "large to report", m->session);
		buf_free(&eval);
	}
	authd_msg_drop(a, m);
}

static void
authd_begin(struct authd *a, uint32_t session, struct imsg *imsg)
{
	struct msg_auth_begin	 b;
	struct inbound_params	 ip;
	struct inbound_policy	 ipol;
	struct authd_policy	*pol = NULL;
	struct authd_msg	*m;

	if (imsg_get_data(imsg, &b, sizeof(b)) == -1)
		proc_unexpected(a->proc, PROC_SMTP, imsg);
	b.ip[sizeof(b.ip) - 1] = '\0';
	b.helo[sizeof(b.helo) - 1] = '\0';
	b.mail_from[sizeof(b.mail_from) - 1] = '\0';
	b.rcpt_domain[sizeof(b.rcpt_domain) - 1] = '\0';
	b.policy[sizeof(b.policy) - 1] = '\0';
	if ((m = authd_msg_find(a, session)) != NULL)
		authd_msg_drop(a, m);	/* a new transaction replaces it */
	if (a->nmsgs >= AUTHD_MAX_MESSAGES)
		proc_unexpected(a->proc, PROC_SMTP, imsg);
	memset(&ipol, 0, sizeof(ipol));
	if (b.policy[0] != '\0') {
		TAILQ_FOREACH(pol, &a->policies, entry)
			if (strcmp(pol->c.name, b.policy) == 0)
				break;
		if (pol == NULL)
			log_warnx("authd: no policy \"%s\"; every check "
			    "relaxed", b.policy);
	}
	if (pol != NULL) {
		ipol.spf = pol->c.spf;
		ipol.dkim = pol->c.dkim;
		ipol.arc = pol->c.arc;
		ipol.dmarc = pol->c.dmarc;
		ipol.spf_reject_fail = pol->c.spf_reject_fail;
		ipol.dkim_allow_sha1 = pol->c.dkim_allow_sha1;
		ipol.dkim_max_signatures = pol->c.dkim_max_signatures;
	}
	memset(&ip, 0, sizeof(ip));
	ip.authserv_id = a->proc->global.hostname;
	ip.ip = b.ip;
	ip.helo = b.helo;
	ip.mail_from = b.mail_from;
	ip.rcpt_domain = b.rcpt_domain[0] != '\0' ? b.rcpt_domain : NULL;
	ip.policy = &ipol;
	m = xcalloc(1, sizeof(*m));
	m->authd = a;
	m->session = session;
	m->in = inbound_new(a->dns, &ip);
	TAILQ_INSERT_TAIL(&a->msgs, m, entry);
	a->nmsgs++;
}

static void
authd_smtp_imsg(struct authd *a, struct imsg *imsg)
{
	struct authd_msg	*m;
	uint32_t		 session = imsg->hdr.peerid;

	if (imsg->fd != -1)
		proc_unexpected(a->proc, PROC_SMTP, imsg);
	if (imsg->hdr.type == IMSG_AUTH_BEGIN) {
		authd_begin(a, session, imsg);
		return;
	}
	m = authd_msg_find(a, session);
	switch (imsg->hdr.type) {
	case IMSG_AUTH_DATA:
		if (m != NULL && !m->ended)
			inbound_feed(m->in, imsg->data, imsg->len);
		return;
	case IMSG_AUTH_END:
		if (m == NULL || m->ended || imsg->len != 0)
			break;
		m->ended = 1;
		inbound_end(m->in, authd_done, m);
		return;
	case IMSG_AUTH_ABORT:
		if (imsg->len != 0)
			break;
		if (m != NULL)
			authd_msg_drop(a, m);
		return;
	}
	proc_unexpected(a->proc, PROC_SMTP, imsg);
}

void
authd_run(struct proc *p)
{
	log_debug("authd process started (%s)",
	    dns_ctx_describe(authd_state(p)->dns));
}

void
authd_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_SMTP) {
		authd_smtp_imsg(p->state, imsg);
		return;
	}
	proc_unexpected(p, from, imsg);
}

/*
 * The mta process: the outbound SMTP client.
 *
 * Set-up: the parent sends the mta-* settings, the relay actions and the
 * credentials of their auth tables; before chroot we read what those name
 * (the resolver's trust anchor, the CA bundle).  Then the queue hands over
 * messages (a memory fd and its envelopes); the first route that matches
 * an envelope (sender and recipient domain, account, attempt) picks its
 * transport (direct, smarthost, submission or SOCKS5), else its relay
 * action decides.  We group recipients into one task per message and
 * destination, find the next hops (mta/mxres.c: RFC 5321 5.1, RFC 7505),
 * never this host (our listening addresses, which the parent sends, nor
 * loopback unless mta-mx-allow-network allows it),
 * run SMTP sessions (mta/session.c) within the per-destination and global
 * limits, and answer the queue once per envelope.  A destination whose
 * every host refuses us is backed off, so its mail goes back to the
 * queue's schedule at once instead of hammering the host.
 *
 * DANE (RFC 7672): once the next hops are in, mta/tlsa.c looks up the
 * TLSA records of the hosts reached through secure DNS; the sessions
 * require TLS and a match where they say so (mta/dane.c).
 *
 * MTA-STS (RFC 8461): mta/sts_policy.c decides each destination's
 * policy from its record, the cache (mta/sts_cache.c, in the mta's spool
 * directory, its chroot) and a fetch (mta/sts_fetch.c); the sessions
 * apply it.
 *
 * REQUIRETLS (RFC 8689): mta/session.c passes a message that asks for it
 * only to a server DANE or MTA-STS enforce authenticated, or returns it.
 *
 * Every TLS outcome of an MX delivery goes to reportd (RFC 8460 result
 * types, mta/session_secure.c).
 *
 * TLS-Required: No (RFC 8689 3, 4.2.2): messages that carry it form
 * destinations of their own, for which neither DANE nor MTA-STS is
 * looked up: TLS when the server offers it, never required, nothing
 * recorded for TLS reports.  REQUIRETLS messages have their own too, so
 * that a session can walk the MX hosts for one that qualifies.
 *
 * posternctl debug delivery runs this code on a probe's own state
 * (mta/debug.c), which its hooks tell apart (m->probe).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509_vfy.h>

#include "clock.h"
#include "jsonw.h"
#include "log.h"
#include "mta/mta.h"
#include "mta/sasl.h"
#include "mta/sts_cache.h"

#define MTA_DEFAULT_CA	"/etc/ssl/certs/ca-certificates.crt"

static struct mta *
mta_state(struct proc *p)
{
	struct mta	*m;

	if (p->state == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->proc = p;
		TAILQ_INIT(&m->relays);
		TAILQ_INIT(&m->secrets);
		TAILQ_INIT(&m->routes);
		TAILQ_INIT(&m->dests);
		TAILQ_INIT(&m->sessions);
		p->state = m;
	}
	return p->state;
}

/* A listening address or an allowed network, for mxres's loop checks. */
static void
mta_loop_addr_add(struct mta *m, const struct msg_conf_mta_addr *ma)
{
	struct netaddr_net	**list;
	size_t			 *count;

	if (ma->kind == MTA_ADDR_LISTEN) {
		list = &m->listen;
		count = &m->nlisten;
	} else {
		list = &m->mx_allow;
		count = &m->nmx_allow;
	}
	*list = xreallocarray(*list, *count + 1, sizeof(**list));
	/* the decoder checked the family */
	netaddr_net_set(&(*list)[(*count)++], ma->family, ma->addr, ma->port,
	    ma->prefixlen);
}

void
mta_conf(struct proc *p, struct imsg *imsg)
{
	struct mta		*m = mta_state(p);
	struct mta_relay	*r;
	struct mta_secret	*s;
	struct mta_route	*rt;
	struct msg_conf_mta_addr ma;

	switch (imsg->hdr.type) {
	case IMSG_CONF_MTA_SET:
		if (msg_get_conf_mta(imsg, &m->conf) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		break;
	case IMSG_CONF_RELAY_ADD:
		r = xcalloc(1, sizeof(*r));
		if (msg_get_conf_relay(imsg, &r->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		TAILQ_INSERT_TAIL(&m->relays, r, entry);
		break;
	case IMSG_CONF_ROUTE_ADD:
		rt = xcalloc(1, sizeof(*rt));
		if (msg_get_conf_route(imsg, &rt->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		TAILQ_INSERT_TAIL(&m->routes, rt, entry);
		break;
	case IMSG_CONF_MTA_ADDR_ADD:
		if (msg_get_conf_mta_addr(imsg, &ma) == -1 ||
		    m->nlisten + m->nmx_allow >= MSG_MTA_ADDR_MAX)
			proc_bad_message(p, PROC_PARENT, imsg);
		mta_loop_addr_add(m, &ma);
		break;
	case IMSG_CONF_SECRET_ADD:
		s = xcalloc(1, sizeof(*s));
		if (msg_get_conf_secret(imsg, &s->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		explicit_bzero(imsg->data, imsg->len);
		TAILQ_INSERT_TAIL(&m->secrets, s, entry);
		break;
	default:
		proc_unexpected(p, PROC_PARENT, imsg);
	}
}

/* Still root and outside the chroot: read the files we will need. */
void
mta_preinit(struct proc *p)
{
	struct mta	*m = mta_state(p);
	const char	*ca;

	m->dns = proc_dns_ctx(p);

	ca = m->conf.ca_file[0] != '\0' ? m->conf.ca_file : MTA_DEFAULT_CA;
	if ((m->ca = X509_STORE_new()) == NULL)
		fatalx("mta: X509_STORE_new");
	if (X509_STORE_load_locations(m->ca, ca, NULL) != 1) {
		if (m->conf.ca_file[0] != '\0')
			fatalx("mta: cannot load the CA file %s", ca);
		log_warnx("mta: no CA bundle at %s: no certificate can be "
		    "verified", ca);
	}

	/*
	 * libtls does not check the peer here: we check the chain ourselves
	 * (mta/tls.c) so that opportunistic TLS still learns and logs the
	 * outcome, and "tls verify" refuses on it.
	 */
	if ((m->tls_config = tls_config_new()) == NULL)
		fatalx("mta: tls_config_new");
	tls_config_insecure_noverifycert(m->tls_config);
	tls_config_insecure_noverifyname(m->tls_config);
	if (tls_config_set_protocols(m->tls_config, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1)
		fatalx("mta: %s", tls_config_error(m->tls_config));
}

const struct mta_secret *
mta_secret_find(struct mta *m, const char *table, const char *host)
{
	const struct mta_secret	*s;

	TAILQ_FOREACH(s, &m->secrets, entry)
		if (strcmp(s->c.table, table) == 0 &&
		    strcasecmp(s->c.host, host) == 0)
			return s;
	return NULL;
}

/* A relay action, or (transport set) a transport, by name. */
static struct mta_relay *
mta_relay_find(struct mta *m, const char *name, int transport)
{
	struct mta_relay	*r;

	TAILQ_FOREACH(r, &m->relays, entry)
		if ((r->c.transport != TRANSPORT_NONE) == transport &&
		    strcmp(r->c.name, name) == 0)
			return r;
	return NULL;
}

static int
domain_is(const char *addr, const char *domain)
{
	const char	*at = strrchr(addr, '@');

	return domain[0] == '\0' ||
	    (at != NULL && strcasecmp(at + 1, domain) == 0);
}

/*
 * Where reportd's reports go when no route takes them: the recipient's MX,
 * STARTTLS when offered (with DANE and MTA-STS as for any MX delivery),
 * as a relay action with no options would.  Reports never pass through
 * the match rules, so they have no relay action of their own.
 */
static struct mta_relay *
mta_report_relay(struct mta *m)
{
	static struct mta_relay	*r;

	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		strlcpy(r->c.name, "reports", sizeof(r->c.name));
		r->c.scheme = RELAY_SMTP;
		r->c.tls = RELAY_TLS_OPPORTUNISTIC;
		r->c.transport = TRANSPORT_NONE;
	}
	return r;
}

/*
 * The relay settings for one envelope: the first route whose sender
 * domain, recipient domain, account (the SASL AUTH user who sent it) and
 * attempt number match picks its transport; no match leaves the
 * envelope's own relay action (for a report, mta_report_relay()).
 */
static struct mta_relay *
mta_route(struct mta *m, const struct envelope *e)
{
	struct mta_route	*rt;

	TAILQ_FOREACH(rt, &m->routes, entry) {
		if (!domain_is(e->sender, rt->c.from_domain) ||
		    !domain_is(e->rcpt, rt->c.for_domain) ||
		    (rt->c.account[0] != '\0' &&
		    strcmp(e->account, rt->c.account) != 0) ||
		    e->attempts + 1 < rt->c.min_attempt)
			continue;
		if (rt->transport == NULL)
			rt->transport = mta_relay_find(m, rt->c.transport, 1);
		if (rt->transport != NULL)
			return rt->transport;
	}
	if (e->flags & ENV_F_REPORT)
		return mta_report_relay(m);
	return mta_relay_find(m, e->dest, 0);
}

/* --- results to the queue --- */

void
mta_report(struct mta *m, struct mta_rcpt *r, int status,
    const char *dsn_status, const char *remote_mta, const char *diagnostic,
    const char *error)
{
	struct msg_mta_result	 res;
	char			 qid[QID_ENV_LEN + 1];

	if (r->done)
		return;
	r->done = 1;
	/* a debug delivery's recipient (mta/debug.c): not the queue's */
	if (mta_debug_report(m, r, status, remote_mta, error))
		return;
	if (status >= DELIVER_OK && status <= DELIVER_PERMFAIL)
		m->stats.delivery[status]++;
	memset(&res, 0, sizeof(res));
	res.evpid = r->env.id;
	res.status = status;
	strlcpy(res.dsn_status, dsn_status, sizeof(res.dsn_status));
	if (remote_mta != NULL)
		strlcpy(res.remote_mta, remote_mta, sizeof(res.remote_mta));
	if (diagnostic != NULL)
		strlcpy(res.diagnostic, diagnostic, sizeof(res.diagnostic));
	strlcpy(res.error, error, sizeof(res.error));
	qid_env_str(r->env.id, qid, sizeof(qid));
	log_info("%s: to <%s>%s%s: %s: %s", qid, r->env.rcpt,
	    remote_mta != NULL && remote_mta[0] != '\0' ? " via " : "",
	    remote_mta != NULL ? remote_mta : "",
	    status == DELIVER_OK ? "delivered" : status == DELIVER_TEMPFAIL ?
	    "temporary failure" : "permanent failure", error);
	/* TEST ONLY: the remote has it; the queue does not know (RFC 1047) */
	if (status == DELIVER_OK)
		proc_test_crash("sent");
	proc_compose(m->proc, PROC_QUEUE, IMSG_MTA_ENVELOPE_RESULT, 0, -1, &res,
	    sizeof(res));
}

static void
mta_msg_unref(struct mta_msg *msg)
{
	if (--msg->refs > 0)
		return;
	close(msg->fd);
	free(msg);
}

/* Every recipient has an answer (or gets a temporary failure now). */
void
mta_task_done(struct mta *m, struct mta_task *t)
{
	struct mta_rcpt	*r;

	while ((r = TAILQ_FIRST(&t->rcpts)) != NULL) {
		if (!r->done)
			mta_report(m, r, DELIVER_TEMPFAIL, "4.4.0", NULL, NULL,
			    "delivery interrupted");
		TAILQ_REMOVE(&t->rcpts, r, entry);
		free(r);
	}
	mta_msg_unref(t->msg);
	free(t);
}

/* Fail every waiting task of a destination the same way. */
void
mta_dest_fail_all(struct mta *m, struct mta_dest *d, int status,
    const char *dsn_status, const char *error)
{
	struct mta_task	*t;
	struct mta_rcpt	*r;

	while ((t = TAILQ_FIRST(&d->tasks)) != NULL) {
		TAILQ_REMOVE(&d->tasks, t, entry);
		d->ntasks--;
		TAILQ_FOREACH(r, &t->rcpts, entry)
			mta_report(m, r, status, dsn_status, NULL, NULL, error);
		mta_task_done(m, t);
	}
}

struct mta_task *
mta_dest_take(struct mta_dest *d)
{
	struct mta_task	*t;

	if (d->mta->stopping)
		return NULL;
	if ((t = TAILQ_FIRST(&d->tasks)) != NULL) {
		TAILQ_REMOVE(&d->tasks, t, entry);
		d->ntasks--;
	}
	return t;
}

static void mta_dest_run(struct mta *, struct mta_dest *);

/*
 * No room for another session: mta-max-sessions are working, or slow
 * ones (mta/session.c) fill mta-max-slow-sessions beyond them.  A slow
 * session holds a descriptor and its buffers but waits on its server;
 * counting it against mta-max-sessions let a few slow or silent
 * destinations take every session for minutes, and the mail to every
 * other destination waited behind them (issue 19, bench/relay_scale.py).
 * Each destination stays within mta-max-per-domain all the same.
 */
int
mta_sessions_full(const struct mta *m)
{
	size_t	 slow = m->nslow < m->conf.max_slow_sessions ? m->nslow :
		    m->conf.max_slow_sessions;

	return m->nsessions - slow >= m->conf.max_sessions;
}

void
mta_dests_cb(int fd, short event, void *arg)
{
	struct mta	*m = arg;
	struct mta_dest	*d, *next;

	TAILQ_FOREACH_SAFE(d, &m->dests, entry, next) {
		mta_dest_run(m, d);
		/* Forget destinations idle for a while, unless backed off. */
		if (d->ntasks == 0 && d->nsessions == 0 && d->lookup == NULL &&
		    d->tlsa_pending == 0 && !d->sts_pending &&
		    d->backoff_until <= monotime() &&
		    monotime() - d->last_active > MTA_DEST_KEEP) {
			TAILQ_REMOVE(&m->dests, d, entry);
			mta_tlsa_clear(d);
			mta_sts_clear(d);
			mxres_result_clear(&d->mx);
			free(d);
		}
	}
}

/* Look at every destination soon (after the current event). */
void
mta_dest_kick(struct mta *m)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&m->ev_dests, NULL))
		evtimer_add(&m->ev_dests, &tv);
}

/*
 * A session of this destination ended.  One that never reached a server
 * that would talk to us counts as a failed connection: when no session is
 * left, the waiting tasks go back to the queue and the destination backs
 * off, so that the queue does not hammer a host that refuses us.
 */
void
mta_dest_session_done(struct mta *m, struct mta_dest *d, int ok,
    const char *error)
{
	d->nsessions--;
	m->nsessions--;
	d->last_active = monotime();
	if (ok) {
		d->backoff_step = 0;
		d->backoff_until = 0;
	} else {
		d->failures++;
		strlcpy(d->last_error, error, sizeof(d->last_error));
		if (d->nsessions == 0 && d->ntasks > 0) {
			d->backoff_step = d->backoff_step == 0 ?
			    MTA_BACKOFF_FIRST : d->backoff_step * 2;
			if (d->backoff_step > MTA_BACKOFF_MAX)
				d->backoff_step = MTA_BACKOFF_MAX;
			d->backoff_until = monotime() + d->backoff_step;
			log_warnx("mta: %s: backing off for %llds: %s",
			    d->name, (long long)d->backoff_step, error);
			mta_dest_fail_all(m, d, DELIVER_TEMPFAIL, "4.4.1",
			    error);
		}
	}
	mta_dest_kick(m);
}

static void
mta_mx_done(void *arg, const struct mxres_result *res)
{
	struct mta_dest	*d = arg;

	d->lookup = NULL;
	mxres_result_clear(&d->mx);
	mxres_result_copy(&d->mx, res);
	d->mx_valid = 1;
	d->mx_time = monotime();
	log_debug("mta: %s: next hops: %s, %zu host(s)%s%s%s", d->name,
	    mxres_status_name(res->status), res->nhosts,
	    res->implicit ? " (implicit MX)" : "",
	    res->reason[0] != '\0' ? ": " : "", res->reason);
	mta_debug_mx(d, res);
	mta_tlsa_start(d);
	mta_dest_kick(d->mta);
}

static void
mta_dest_run(struct mta *m, struct mta_dest *d)
{
	struct mxres_opts	 o;
	time_t			 now = monotime();
	char			 why[800];

	if (d->ntasks == 0 || m->stopping)
		return;
	if (d->backoff_until > now) {
		snprintf(why, sizeof(why), "%s is backed off for %llds: %s",
		    d->domain, (long long)(d->backoff_until - now),
		    d->last_error);
		mta_dest_fail_all(m, d, DELIVER_TEMPFAIL, "4.4.1", why);
		return;
	}
	if (d->lookup != NULL || d->tlsa_pending > 0 || d->sts_pending)
		return;
	if (!d->mx_valid || now - d->mx_time > MTA_MX_TTL) {
		if (d->nsessions > 0)
			return;		/* they still use the old answer */
		memset(&o, 0, sizeof(o));
		o.family = AF_UNSPEC;
		o.myname = m->proc->global.hostname;
		/* RFC 5321 5.1: never deliver to ourselves */
		o.loop_check = 1;
		o.listen = m->listen;
		o.nlisten = m->nlisten;
		o.allow = m->mx_allow;
		o.nallow = m->nmx_allow;
		d->mx_valid = 0;
		if (d->relay->c.has_host) {
			o.port = d->relay->c.port;
			d->lookup = mxres_lookup_host(m->dns, d->domain, &o,
			    mta_mx_done, d);
		} else {
			o.port = 25;
			d->lookup = mxres_lookup(m->dns, d->domain, &o,
			    mta_mx_done, d);
			mta_sts_start(d);
		}
		return;
	}
	switch (d->mx.status) {
	case MXRES_OK:
		break;
	case MXRES_NULLMX:
		/* RFC 7505 4.1: 556 5.1.10, recipient address has null MX */
		snprintf(why, sizeof(why), "%s does not accept mail "
		    "(null MX, RFC 7505)", d->domain);
		mta_dest_fail_all(m, d, DELIVER_PERMFAIL, "5.1.10", why);
		return;
	case MXRES_PERMFAIL:
		/*
		 * Next hops that are this host: RFC 5321 5.1 says the
		 * message MUST be returned as undeliverable, so a bounce,
		 * with RFC 3463 5.4.6 (routing loop), as Postfix bounces
		 * "mail for D loops back to myself".  Retrying would not
		 * help (a DNS record or our own configuration must change
		 * first), and a domain whose MX is 127.0.0.1 says "no mail
		 * here" the way domains did before the null MX (RFC 7505):
		 * its sender should know at once.  mxres makes it a
		 * temporary failure instead when another MX failed only for
		 * now.  Else RFC 3463 5.1.2, bad destination system address.
		 */
		mta_dest_fail_all(m, d, DELIVER_PERMFAIL, d->mx.loop ?
		    "5.4.6" : "5.1.2", d->mx.reason);
		return;
	case MXRES_TEMPFAIL:
		snprintf(why, sizeof(why), "DNS: %s", d->mx.reason);
		d->mx_valid = 0;	/* ask again next time */
		mta_dest_fail_all(m, d, DELIVER_TEMPFAIL, "4.4.3", why);
		return;
	}
	/* Hand work to idle sessions first, then open new ones. */
	while (d->ntasks > 0 && mta_session_offer(m, d))
		;
	while (d->ntasks > d->nsessions &&
	    d->nsessions < m->conf.max_per_domain && !mta_sessions_full(m)) {
		d->nsessions++;
		m->nsessions++;
		d->connections++;
		mta_session_start(m, d);
	}
	/* At the global limit, idle sessions elsewhere make room. */
	if (d->ntasks > 0 && d->nsessions == 0)
		mta_session_reclaim(m, d);
}

/* --- messages from the queue --- */

/*
 * RFC 8689 3: "TLS-Required: No" MUST be ignored when the message also
 * came with REQUIRETLS (smtpd drops the flag then; this is the last
 * guard, for envelopes from elsewhere).
 */
enum mta_dest_tls
mta_env_tls(const struct envelope *e)
{
	if (e->flags & ENV_F_REQUIRETLS)
		return MTA_DEST_TLS_REQUIRED;
	if (e->flags & ENV_F_TLSREQ_NO)
		return MTA_DEST_TLS_OPTIONAL;
	return MTA_DEST_TLS_POLICY;
}

static struct mta_dest *
mta_dest_get(struct mta *m, struct mta_relay *relay, const char *rcpt,
    enum mta_dest_tls tls)
{
	struct mta_dest	*d;
	const char	*at, *domain;
	char		 dom[256];
	size_t		 i;

	if (relay->c.has_host)
		domain = relay->c.host;
	else {
		at = strrchr(rcpt, '@');
		domain = at != NULL ? at + 1 : "";
	}
	for (i = 0; domain[i] != '\0' && i < sizeof(dom) - 1; i++)
		dom[i] = tolower((unsigned char)domain[i]);
	dom[i] = '\0';
	TAILQ_FOREACH(d, &m->dests, entry)
		if (d->relay == relay && d->tls == tls &&
		    strcmp(d->domain, dom) == 0) {
			d->last_active = monotime();
			return d;
		}
	d = xcalloc(1, sizeof(*d));
	d->mta = m;
	d->relay = relay;
	d->last_active = monotime();
	strlcpy(d->domain, dom, sizeof(d->domain));
	d->tls = tls;
	snprintf(d->name, sizeof(d->name), "%s/%s%s", relay->c.name, dom,
	    tls == MTA_DEST_TLS_REQUIRED ? "#requiretls" :
	    tls == MTA_DEST_TLS_OPTIONAL ? "#tls-required-no" : "");
	if (tls == MTA_DEST_TLS_OPTIONAL && !relay->c.has_host)
		log_info("mta: %s: TLS-Required: No (RFC 8689 4.2.2): the "
		    "DANE and MTA-STS policies of %s are not applied to these "
		    "messages; TLS when offered, unauthenticated", d->name,
		    dom);
	TAILQ_INIT(&d->tasks);
	TAILQ_INSERT_TAIL(&m->dests, d, entry);
	return d;
}

/* All envelopes of a message are in: one task per destination. */
static void
mta_msg_dispatch(struct mta *m)
{
	struct mta_msg		*msg = m->incoming;
	struct mta_relay	*relay;
	struct mta_dest		**dests;
	struct mta_task		*t;
	struct mta_rcpt		*r;
	size_t			 i, k, n = m->incoming_nenv;
	char			*placed;

	dests = xcalloc(n, sizeof(*dests));
	placed = xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		relay = mta_route(m, &m->incoming_env[i]);
		if (relay != NULL)
			dests[i] = mta_dest_get(m, relay,
			    m->incoming_env[i].rcpt,
			    mta_env_tls(&m->incoming_env[i]));
	}
	msg->refs = 1;		/* ours, until the loop is done */
	for (i = 0; i < n; i++) {
		if (placed[i])
			continue;
		t = xcalloc(1, sizeof(*t));
		t->msg = msg;
		t->dest = dests[i];
		TAILQ_INIT(&t->rcpts);
		msg->refs++;
		for (k = i; k < n && t->nrcpts < MTA_MAX_RCPTS_PER_TASK; k++) {
			if (placed[k] || dests[k] != dests[i])
				continue;
			placed[k] = 1;
			r = xcalloc(1, sizeof(*r));
			r->env = m->incoming_env[k];
			TAILQ_INSERT_TAIL(&t->rcpts, r, entry);
			t->nrcpts++;
		}
		if (t->dest == NULL) {
			TAILQ_FOREACH(r, &t->rcpts, entry)
				mta_report(m, r, DELIVER_TEMPFAIL, "4.3.5",
				    NULL, NULL, "no relay action of that name "
				    "in the configuration");
			mta_task_done(m, t);
			continue;
		}
		TAILQ_INSERT_TAIL(&t->dest->tasks, t, entry);
		t->dest->ntasks++;
	}
	free(placed);
	free(dests);
	mta_msg_unref(msg);
	free(m->incoming_env);
	m->incoming = NULL;
	m->incoming_env = NULL;
	m->incoming_nenv = 0;
	mta_dest_kick(m);
}

static void
mta_queue_imsg(struct mta *m, struct imsg *imsg)
{
	struct msg_mta_task	 t;
	struct envelope		 e;

	switch (imsg->hdr.type) {
	case IMSG_MTA_TASK_START:
		/* one task at a time: its envelopes follow at once */
		if (msg_get_mta_task(imsg, &t) == -1 || m->incoming != NULL ||
		    t.nenv > MTA_MAX_ENVELOPES)
			break;
		m->incoming = xcalloc(1, sizeof(*m->incoming));
		m->incoming->msgid = t.msgid;
		m->incoming->size = t.size;
		m->incoming->fd = imsg->fd;
		imsg->fd = -1;
		m->incoming_left = t.nenv;
		m->incoming_env = xcalloc(t.nenv, sizeof(*m->incoming_env));
		m->incoming_nenv = 0;
		return;
	case IMSG_MTA_ENVELOPE_ADD:
		if (msg_get_envelope(imsg, &e) == -1 || imsg->fd != -1 ||
		    m->incoming == NULL || e.msgid != m->incoming->msgid ||
		    e.kind != ENV_REMOTE)
			break;
		m->incoming_env[m->incoming_nenv++] = e;
		if (--m->incoming_left == 0)
			mta_msg_dispatch(m);
		return;
	}
	proc_bad_message(m->proc, PROC_QUEUE, imsg);
}

/* --- posternctl show hosts --- */

static void
mta_ctl_hosts(struct mta *m, uint32_t peerid)
{
	struct msg_ctl_mta_host	 h;
	struct mta_dest		*d;
	time_t			 now = monotime();

	TAILQ_FOREACH(d, &m->dests, entry) {
		memset(&h, 0, sizeof(h));
		strlcpy(h.name, d->name, sizeof(h.name));
		h.connections = d->nsessions;
		h.pending = d->ntasks;
		h.delivered = d->delivered;
		h.failures = d->failures;
		h.sessions = d->connections;
		h.backoff = d->backoff_until > now ? d->backoff_until - now : 0;
		strlcpy(h.last_error, d->last_error, sizeof(h.last_error));
		proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_MTA_HOST_ENTRY,
		    peerid, -1, &h, sizeof(h));
	}
	proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

static const char *
transport_kind_name(int kind)
{
	switch (kind) {
	case TRANSPORT_SMARTHOST:
		return "smarthost";
	case TRANSPORT_SUBMISSION:
		return "submission";
	case TRANSPORT_SOCKS5:
		return "socks5";
	default:
		return "direct";
	}
}

/*
 * show routes -j: one route as an object, with the fields of its line
 * (the configuration's names and numbers, ASCII: nothing to replace).
 */
static void
mta_ctl_route_json(struct buf *b, unsigned int n, const struct mta_route *rt,
    const struct mta_relay *t)
{
	json_t		*o, *mechs;
	unsigned int	 mech;

	o = json_pack("{s:I, s:s, s:s, s:o, s:I, s:s}", "n", (json_int_t)n,
	    "from", rt->c.from_domain[0] ? rt->c.from_domain : "any",
	    "for", rt->c.for_domain[0] ? rt->c.for_domain : "any",
	    "account", rt->c.account[0] ? jsonw_text(rt->c.account) :
	    json_null(), "attempt", (json_int_t)(rt->c.min_attempt ?
	    rt->c.min_attempt : 1), "transport", rt->c.transport);
	if (o != NULL && t != NULL) {
		json_object_set_new(o, "kind", json_string(
		    transport_kind_name(t->c.transport)));
		if (t->c.has_host) {
			json_object_set_new(o, "host", jsonw_text(t->c.host));
			json_object_set_new(o, "port",
			    json_integer(t->c.port));
		}
		if (t->c.transport == TRANSPORT_SOCKS5) {
			json_object_set_new(o, "socks5_host",
			    jsonw_text(t->c.socks5_host));
			json_object_set_new(o, "socks5_port",
			    json_integer(t->c.socks5_port));
		}
		if (t->c.auth[0] != '\0')
			json_object_set_new(o, "auth", jsonw_text(t->c.auth));
		mechs = json_array();
		for (mech = SASL_MECH_PLAIN; mech <= SASL_MECH_SCRAM_SHA_256;
		    mech++)
			if (t->c.mechs & (1U << mech))
				json_array_append_new(mechs, json_string(
				    sasl_mech_name((enum sasl_mech)mech)));
		json_object_set_new(o, "mechanisms", mechs);
	}
	if (jsonw_line(b, o) == -1)
		buf_reset(b);
}

/* posternctl show routes: the routes in order, with their transports. */
static void
mta_ctl_routes(struct mta *m, uint32_t peerid, int json)
{
	struct mta_route	*rt;
	struct mta_relay	*t;
	struct buf		 b;
	unsigned int		 n = 0, mech;

	buf_init(&b, 4096);
	TAILQ_FOREACH(rt, &m->routes, entry) {
		buf_reset(&b);
		t = mta_relay_find(m, rt->c.transport, 1);
		if (json) {
			mta_ctl_route_json(&b, ++n, rt, t);
			proc_compose(m->proc, PROC_CONTROL,
			    IMSG_CTL_REPLY_DATA, peerid, -1, b.data, b.len);
			continue;
		}
		buf_printf(&b, "%u from=%s for=%s", ++n,
		    rt->c.from_domain[0] ? rt->c.from_domain : "any",
		    rt->c.for_domain[0] ? rt->c.for_domain : "any");
		if (rt->c.account[0] != '\0')
			buf_printf(&b, " account=%s", rt->c.account);
		buf_printf(&b, " attempt>=%u transport=%s",
		    rt->c.min_attempt ? rt->c.min_attempt : 1,
		    rt->c.transport);
		if (t != NULL) {
			buf_printf(&b, " (%s", transport_kind_name(
			    t->c.transport));
			if (t->c.has_host)
				buf_printf(&b, " %s:%u", t->c.host, t->c.port);
			if (t->c.transport == TRANSPORT_SOCKS5)
				buf_printf(&b, " via %s:%u", t->c.socks5_host,
				    t->c.socks5_port);
			if (t->c.auth[0] != '\0')
				buf_printf(&b, " auth <%s>", t->c.auth);
			if (t->c.mechs != 0)
				buf_addstr(&b, " mechanisms");
			for (mech = SASL_MECH_PLAIN;
			    mech <= SASL_MECH_SCRAM_SHA_256; mech++)
				if (t->c.mechs & (1U << mech))
					buf_printf(&b, " %s",
					    sasl_mech_name(
					    (enum sasl_mech)mech));
			buf_addstr(&b, ")");
		}
		buf_addstr(&b, "\n");
		proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA, peerid,
		    -1, b.data, b.len);
	}
	buf_reset(&b);
	/* -j lists the routes alone: the fallback is not one */
	if (!json) {
		buf_printf(&b, "%s otherwise: the envelope's relay action\n",
		    n == 0 ? "no routes;" : "*");
		proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA, peerid,
		    -1, b.data, b.len);
	}
	buf_free(&b);
	proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

void
mta_run(struct proc *p)
{
	struct mta	*m = mta_state(p);
	char		 err[300];

	if (m->conf.max_sessions == 0)
		m->conf.max_sessions = 100;
	if (m->conf.max_per_domain == 0)
		m->conf.max_per_domain = 10;
	if (m->conf.connect_timeout == 0)
		m->conf.connect_timeout = 30;
	evtimer_set(&m->ev_dests, mta_dests_cb, m);
	/* in the chroot, the mta's own spool directory */
	if ((m->sts_cache = sts_cache_open("/", err, sizeof(err))) == NULL)
		log_warnx("mta: %s: MTA-STS is not applied", err);
	log_debug("mta process started (%s; loop checks: %zu listening "
	    "addresses, %zu allowed networks)", dns_ctx_describe(m->dns),
	    m->nlisten, m->nmx_allow);
}

static void __attribute__((noreturn))
mta_stop(struct mta *m)
{
	if (proc_flush(m->proc, PROC_QUEUE, MTA_SHUTDOWN_MS) == -1)
		log_warnx("mta: stopping with results not handed to the queue");
	exit(0);
}

static void
mta_stop_cb(int fd, short event, void *arg)
{
	struct mta	*m = arg;
	struct timeval	 tv = { 0, MTA_STOP_TICK_MS * 1000 };
	size_t		 n;

	if ((n = mta_sessions_sending(m)) == 0 ||
	    m->proc->peers[PROC_QUEUE] == NULL)
		mta_stop(m);
	if (--m->stop_ticks <= 0) {
		log_warnx("mta: stopping without the replies of %zu "
		    "session(s); those messages will be sent again", n);
		mta_stop(m);
	}
	evtimer_add(&m->ev_stop, &tv);
}

/*
 * SIGTERM (the daemon stops, or the parent stops the rest after a child
 * died).  A message the remote took whose result does not reach the
 * queue is sent again after the restart.  So: no new transactions, the
 * sessions that sent a message's end (or are sending it) get up to
 * MTA_SHUTDOWN_MS for the reply, and the results go to the queue, which
 * takes them before it stops (queue_shutdown()), before we exit.  What is
 * still unanswered then is RFC 1047's window, which no client can close.
 */
void
mta_shutdown(struct proc *p)
{
	struct mta	*m = p->state;

	if (m == NULL)
		return;
	if (mta_sessions_sending(m) == 0)
		mta_stop(m);
	m->stopping = 1;
	m->stop_ticks = MTA_SHUTDOWN_MS / MTA_STOP_TICK_MS;
	evtimer_set(&m->ev_stop, mta_stop_cb, m);
	mta_stop_cb(-1, 0, m);
	proc_linger();
}

/* posternctl show stats mta, and show metrics */
static void
mta_ctl_stats(struct mta *m, uint32_t peerid)
{
	struct msg_ctl_stat	 st[6 + MTA_STATS_TLS_MAX];
	const char		*names[] = { "ok", "tempfail", "permfail" };
	size_t			 n = 0, i;

	memset(st, 0, sizeof(st));
	strlcpy(st[n].name, "mta.sessions", sizeof(st[n].name));
	st[n++].value = m->stats.sessions;
	strlcpy(st[n].name, "mta.sessions.open", sizeof(st[n].name));
	st[n++].value = m->nsessions;
	strlcpy(st[n].name, "mta.sessions.slow", sizeof(st[n].name));
	st[n++].value = m->nslow;
	strlcpy(st[n].name, "mta.connect_failures", sizeof(st[n].name));
	st[n++].value = m->stats.connect_failures;
	for (i = 0; i < 3; i++) {
		snprintf(st[n].name, sizeof(st[n].name), "mta.delivery.%s",
		    names[i]);
		st[n++].value = m->stats.delivery[i];
	}
	for (i = 0; i < m->stats.ntls && n < sizeof(st) / sizeof(st[0]);
	    i++) {
		snprintf(st[n].name, sizeof(st[n].name), "mta.tls.%s",
		    m->stats.tls[i].result);
		st[n++].value = m->stats.tls[i].n;
	}
	proc_ctl_stats(m->proc, peerid, st, n);
}

void
mta_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct mta		*m = p->state;
	struct msg_ctl_domain	 dom;

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_QUEUE) {
		mta_queue_imsg(m, imsg);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_MTA_HOSTS_GET) {
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(p, from, imsg);
		mta_ctl_hosts(m, imsg->hdr.peerid);
		return;
	}
	if (from == PROC_CONTROL && (imsg->hdr.type == IMSG_CTL_MTA_STS_GET ||
	    imsg->hdr.type == IMSG_CTL_MTA_STS_FLUSH)) {
		if (msg_get_ctl_domain(imsg, &dom) == -1)
			proc_bad_message(p, from, imsg);
		if (imsg->hdr.type == IMSG_CTL_MTA_STS_GET)
			mta_ctl_sts_show(m, dom.domain, imsg->hdr.peerid,
			    (dom.flags & CTL_FLAG_JSON) != 0);
		else
			mta_ctl_sts_flush(m, dom.domain, imsg->hdr.peerid);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_DEBUG_DELIVERY) {
		mta_debug_start(m, imsg);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_DEBUG_CANCEL) {
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(p, from, imsg);
		mta_debug_cancel(m, imsg->hdr.peerid);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_STATS_GET) {
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(p, from, imsg);
		mta_ctl_stats(m, imsg->hdr.peerid);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_MTA_ROUTES_GET) {
		if (msg_get_ctl_domain(imsg, &dom) == -1)
			proc_bad_message(p, from, imsg);
		mta_ctl_routes(m, imsg->hdr.peerid,
		    (dom.flags & CTL_FLAG_JSON) != 0);
		return;
	}
	proc_unexpected(p, from, imsg);
}

/*
 * Securing an outbound session: the TLS handshake, implicit (smtps) or
 * after STARTTLS (RFC 3207), with our own check of the server's
 * certificate (mta/tls.c) that "tls verify" and AUTH depend on, the DANE
 * match (RFC 7672, mta/dane.c) or the MTA-STS check (RFC 8461); then
 * SASL AUTH (RFC 4954, mta/sasl.c) when the relay has credentials, which
 * are sent only under TLS to a verified server (or under "tls
 * no-verify").  The rest of the session is mta/session.c.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "mta/dane.h"
#include "mta/mta.h"
#include "mta/sasl.h"
#include "mta/session_int.h"

void
mta_session_tls_start(struct mta_session *s, enum mta_state st)
{
	/* RFC 7672 8.1: with DANE, SNI names the TLSA base domain */
	const char	*sni = s->dest->relay->c.has_host ?
	    s->dest->relay->c.host : s->dane != NULL ? s->dane->base :
	    s->host;

	if ((s->tls = tls_client()) == NULL ||
	    tls_configure(s->tls, s->mta->tls_config) == -1 ||
	    tls_connect_socket(s->tls, s->fd, sni) == -1) {
		mta_session_host_fail(s, 0, "TLS set-up: %s", s->tls != NULL ?
		    tls_error(s->tls) : "tls_client");
		return;
	}
	/* RFC 3207 4.2: nothing the server sent before TLS counts */
	buf_reset(&s->in);
	s->handshaking = 1;
	s->hs_want = EV_WRITE;		/* our ClientHello goes first */
	mta_session_enter(s, st);
}

/*
 * RFC 8460 4.3: every TLS outcome of an MX delivery goes to reportd,
 * which keeps them per policy domain and day for TLS reports.  Smarthosts
 * are left out: their TLS is our configuration, not a domain's policy.
 * So are the sessions of "TLS-Required: No" messages (RFC 8689 4.2.2):
 * the sender waived the domain's policy, which then governed nothing; a
 * certificate that would have failed it is no failure of the policy's
 * (nor a success to count under "no-policy-found").
 */
void
mta_tls_result_send(struct mta *m, const struct mta_dest *d, int32_t policy,
    const char *mx, const char *ip, const char *result)
{
	struct msg_tls_result	 r;
	size_t			 i;

	/* a debug delivery's outcomes are its own; reportd counts none */
	if (d->relay->c.has_host || d->tls == MTA_DEST_TLS_OPTIONAL ||
	    m->probe != NULL)
		return;
	for (i = 0; i < m->stats.ntls; i++)
		if (strcmp(m->stats.tls[i].result, result) == 0)
			break;
	if (i == m->stats.ntls && i < MTA_STATS_TLS_MAX)
		strlcpy(m->stats.tls[m->stats.ntls++].result, result,
		    sizeof(m->stats.tls[i].result));
	if (i < m->stats.ntls)
		m->stats.tls[i].n++;
	memset(&r, 0, sizeof(r));
	r.when = walltime();
	r.policy = policy;
	strlcpy(r.domain, d->domain, sizeof(r.domain));
	strlcpy(r.mx, mx, sizeof(r.mx));
	strlcpy(r.ip, ip, sizeof(r.ip));
	strlcpy(r.result, result, sizeof(r.result));
	proc_compose(m->proc, PROC_REPORTD, IMSG_REPORT_TLS_RESULT, 0, -1, &r,
	    sizeof(r));
}

/* One policy-string line (RFC 8460 4.4), cut to MSG_TLS_POLICY_LINE_MAX. */
static void
tls_policy_line(struct buf *b, size_t *lines, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void
tls_policy_line(struct buf *b, size_t *lines, const char *fmt, ...)
{
	char	 line[MSG_TLS_POLICY_LINE_MAX + 1];
	va_list	 ap;
	size_t	 i, n;

	if (*lines >= MSG_TLS_POLICY_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	for (i = 0; i < n; i++)		/* printable ASCII only */
		if (line[i] < 0x20 || line[i] > 0x7e)
			line[i] = '?';
	if (n == 0)
		return;
	buf_add(b, line, n);
	buf_add(b, "\n", 1);
	(*lines)++;
}

/*
 * The policy behind this session's results (RFC 8460 4.4): for DANE the
 * usable TLSA records of the host in presentation form (a digest or key
 * too long for a line is cut, marked "..."), for MTA-STS the policy's
 * lines.  reportd keeps the latest per domain, day and host.
 */
static void
session_tls_policy(struct mta_session *s, int32_t policy)
{
	struct msg_tls_policy	 p;
	const struct sts_policy	*sp = s->dest->sts;
	const struct dane_tlsa	*t;
	struct buf		 b;
	char			 hex[MSG_TLS_POLICY_LINE_MAX + 1];
	size_t			 i, k, off, lines = 0;

	memset(&p, 0, sizeof(p));
	p.when = walltime();
	p.policy = policy;
	strlcpy(p.domain, s->dest->domain, sizeof(p.domain));
	buf_init(&b, sizeof(p) + MSG_TLS_POLICY_TEXT_MAX);
	buf_add(&b, &p, sizeof(p));
	if (policy == MSG_TLS_POLICY_TLSA) {
		strlcpy(p.mx, s->host, sizeof(p.mx));
		for (i = 0; i < s->dane->n; i++) {
			t = &s->dane->rr[i];
			for (k = 0, off = 0; k < t->len &&
			    off + 2 < sizeof(hex) - 4; k++, off += 2)
				snprintf(hex + off, sizeof(hex) - off, "%02X",
				    t->data[k]);
			hex[off] = '\0';
			if (k < t->len)
				strlcat(hex, "...", sizeof(hex));
			tls_policy_line(&b, &lines, "_25._tcp.%s. IN TLSA "
			    "%u %u %u %s", s->dane->base, t->usage,
			    t->selector, t->mtype, hex);
		}
	} else if (sp != NULL) {
		tls_policy_line(&b, &lines, "version: STSv1");
		tls_policy_line(&b, &lines, "mode: %s",
		    sts_mode_name(sp->mode));
		for (i = 0; i < sp->nmx && lines < MSG_TLS_POLICY_LINES - 1;
		    i++)
			tls_policy_line(&b, &lines, "mx: %s", sp->mx[i]);
		tls_policy_line(&b, &lines, "max_age: %u", sp->max_age);
	}
	p.len = b.len - sizeof(p);
	memcpy(b.data, &p, sizeof(p));
	proc_compose(s->mta->proc, PROC_REPORTD, IMSG_REPORT_TLS_POLICY, 0, -1,
	    b.data, b.len);
	buf_free(&b);
}

void
mta_session_tls_result(struct mta_session *s, const char *result)
{
	int32_t	 policy = s->dane != NULL ? MSG_TLS_POLICY_TLSA :
	    s->sts != STS_MODE_NONE ? MSG_TLS_POLICY_STS :
	    MSG_TLS_POLICY_NONE;

	/* a debug delivery shows its outcomes */
	mta_debug_tls_result(s->mta, result, s->dane != NULL &&
	    s->dane->state == MTA_DANE_REQUIRED, s->dane != NULL ||
	    s->sts == STS_MODE_ENFORCE);
	mta_tls_result_send(s->mta, s->dest, policy, s->host, s->addr, result);
	if (policy != MSG_TLS_POLICY_NONE && !s->dest->relay->c.has_host &&
	    s->dest->tls != MTA_DEST_TLS_OPTIONAL && s->mta->probe == NULL)
		session_tls_policy(s, policy);
}

/* RFC 8460 4.3.2: the result type of a failed certificate check. */
static const char *
session_cert_rpt(const char *why)
{
	if (strcasestr(why, "hostname mismatch") != NULL)
		return "certificate-host-mismatch";
	if (strcasestr(why, "expired") != NULL ||
	    strcasestr(why, "not yet valid") != NULL)
		return "certificate-expired";
	return "certificate-not-trusted";
}

/* TLS is up and the peer is acceptable: greet it again (RFC 3207 4.2). */
static void
session_tls_go_on(struct mta_session *s)
{
	if (s->state == S_TLS_IMPLICIT) {
		mta_session_enter(s, S_GREETING);
		return;
	}
	mta_session_send(s, "EHLO %s", s->dest->relay->c.helo[0] != '\0' ?
	    s->dest->relay->c.helo : s->mta->proc->global.hostname);
	mta_session_enter(s, S_EHLO2);
}

/*
 * RFC 7672 2.2, 3.1: a host with usable TLSA records must present a chain
 * that matches one of them, else it is not used (a temporary failure:
 * the next host is tried, and the message waits, never sent in clear).
 */
static void
session_dane_check(struct mta_session *s, const uint8_t *pem, size_t len)
{
	const struct mta_tlsa_host	*t = s->dane;
	const char			*names[3];
	struct dane_result		 res;
	char				 rec[120];

	/* 3.2.2: the TLSA base domain, the MX host, the next-hop domain */
	names[0] = t->base;
	names[1] = s->host;
	names[2] = s->dest->domain;
	if (pem == NULL || dane_verify(pem, len, t->rr, t->n, names, 3,
	    walltime(), &res) == -1) {
		mta_debug_step(s->mta, "dane", "host", s->host, "result",
		    "fail", "record", NULL, "reason", pem == NULL ?
		    "the server sent no certificate" : res.why, NULL);
		mta_session_tls_result(s, pem == NULL ? "validation-failure" :
		    res.rpt);
		mta_session_host_fail(s, 0, "DANE: %s (%s)", pem == NULL ?
		    "the server sent no certificate" : res.why, pem == NULL ?
		    "validation-failure" : res.rpt);
		return;
	}
	s->verified = 1;
	dane_tlsa_format(&t->rr[res.record], rec, sizeof(rec));
	mta_debug_step(s->mta, "dane", "host", s->host, "result", "pass",
	    "record", rec, "reason", t->rr[res.record].usage ==
	    DANE_USAGE_DANE_EE ? "DANE-EE matched" : "DANE-TA matched", NULL);
	snprintf(s->tls_info, sizeof(s->tls_info), "%s %s, DANE %s matched "
	    "TLSA %s", tls_conn_version(s->tls), tls_conn_cipher(s->tls),
	    t->rr[res.record].usage == DANE_USAGE_DANE_EE ? "DANE-EE" :
	    "DANE-TA", rec);
	log_info("mta: session %u: %s [%s]: TLS %s", s->id, s->host, s->addr,
	    s->tls_info);
	mta_session_tls_result(s, "success");
	session_tls_go_on(s);
}

/*
 * RFC 8461 4.2: under an MTA-STS policy the certificate must be valid for
 * the MX host under PKIX; enforce refuses the host, testing logs.  0 to go
 * on, -1 if the host failed.
 */
static int
session_sts_check(struct mta_session *s, const char *why)
{
	if (s->sts == STS_MODE_NONE || s->verified)
		return 0;
	mta_session_tls_result(s, session_cert_rpt(why));
	if (s->sts == STS_MODE_ENFORCE) {
		mta_session_host_fail(s, 0, "MTA-STS (enforce): the "
		    "certificate is not valid for %s: %s", s->host, why);
		return -1;
	}
	log_info("mta: session %u: %s [%s]: MTA-STS (testing): the "
	    "certificate is not valid for %s: %s; delivering all the same",
	    s->id, s->host, s->addr, s->host, why);
	return 0;
}

void
mta_session_tls_done(struct mta_session *s)
{
	const uint8_t	*pem;
	size_t		 len;
	char		 why[160];
	const char	*name = s->dest->relay->c.has_host ?
	    s->dest->relay->c.host : s->host;

	s->handshaking = 0;
	pem = tls_peer_cert_chain_pem(s->tls, &len);
	s->verified = pem != NULL && mta_cert_verify(s->mta->ca, pem, len,
	    name, why, sizeof(why)) == 0;
	if (pem == NULL)
		strlcpy(why, "no certificate", sizeof(why));
	mta_debug_tls(s->mta, tls_conn_version(s->tls));
	mta_debug_step(s->mta, "starttls", "host", s->host, "result",
	    "established", "version", tls_conn_version(s->tls), "cipher",
	    tls_conn_cipher(s->tls), NULL);
	mta_debug_step(s->mta, "certificate", "host", s->host, "name", name,
	    "result", s->verified ? "verified" : "not verified", "reason",
	    why, NULL);
	if (s->dane == NULL || s->dane->state != MTA_DANE_REQUIRED)
		mta_debug_step(s->mta, "dane", "host", s->host, "result",
		    "none", "record", NULL, "reason", s->dane != NULL ?
		    "TLSA records, none usable" : "no usable secure TLSA "
		    "records", NULL);
	if (s->dane != NULL && s->dane->state == MTA_DANE_REQUIRED) {
		session_dane_check(s, pem, len);
		return;
	}
	/*
	 * Secure TLSA records of which none is usable still make TLS
	 * required (mta_session_tls_required()), but authenticate nothing.
	 */
	snprintf(s->tls_info, sizeof(s->tls_info), "%s %s, certificate %s%s%s%s",
	    tls_conn_version(s->tls), tls_conn_cipher(s->tls),
	    s->verified ? "verified" : "not verified: ",
	    s->verified ? "" : why, s->dane != NULL ?
	    ", DANE: TLSA records but none usable" : "",
	    s->sts == STS_MODE_ENFORCE ? ", MTA-STS enforce" :
	    s->sts == STS_MODE_TESTING ? ", MTA-STS testing" : "");
	log_info("mta: session %u: %s [%s]: TLS %s", s->id, s->host, s->addr,
	    s->tls_info);
	if (session_sts_check(s, why) == -1)
		return;
	/* RFC 8460 4.3.2: secure TLSA records of which none is usable */
	if (s->dane != NULL)
		mta_session_tls_result(s, "tlsa-invalid");
	else if (s->sts == STS_MODE_NONE || s->verified)
		mta_session_tls_result(s, "success");
	if (s->dest->relay->c.tls == RELAY_TLS_VERIFY && !s->verified) {
		if (s->dest->relay->c.auth[0] != '\0')
			mta_session_host_fail(s, 0, "certificate check failed: "
			    "%s; credentials not sent (auth needs a verified "
			    "certificate unless tls no-verify)", why);
		else
			mta_session_host_fail(s, 0, "certificate check failed "
			    "(tls verify): %s", why);
		return;
	}
	session_tls_go_on(s);
}

void
mta_session_auth(struct mta_session *s)
{
	const struct mta_secret	*sec;
	enum sasl_mech		 mech;
	unsigned int		 allowed;
	struct buf		 line;
	char			 err[200];

	if (s->dest->relay->c.auth[0] == '\0') {
		mta_session_next_task(s);
		return;
	}
	sec = mta_secret_find(s->mta, s->dest->relay->c.auth,
	    s->dest->relay->c.host);
	if (sec == NULL) {
		mta_session_host_fail(s, 0, "no credentials for %s in table %s",
		    s->dest->relay->c.host, s->dest->relay->c.auth);
		return;
	}
	/*
	 * The parser demands TLS with auth, and a verified certificate
	 * unless "tls no-verify": these are last guards.
	 */
	if (s->tls == NULL) {
		mta_session_host_fail(s, 0, "will not send the credentials of "
		    "table %s without TLS", s->dest->relay->c.auth);
		return;
	}
	if (!s->verified && s->dest->relay->c.tls != RELAY_TLS_NOVERIFY) {
		mta_session_host_fail(s, 0, "will not send the credentials of "
		    "table %s to an unverified server", s->dest->relay->c.auth);
		return;
	}
	allowed = s->dest->relay->c.mechs != 0 ? s->dest->relay->c.mechs :
	    ~0U;
	if (!(s->caps.flags & SMTP_CAP_AUTH) ||
	    (mech = sasl_choose(sasl_mechs_parse(s->caps.auth), allowed)) ==
	    SASL_MECH_NONE) {
		mta_session_host_fail(s, 0, "the server offers no AUTH "
		    "mechanism %s (%s)", s->dest->relay->c.mechs != 0 ?
		    "of those configured" : "we know", s->caps.auth);
		return;
	}
	s->sasl = sasl_client_new(mech, sec->c.user, sec->c.password);
	buf_init(&line, 4096);
	if (s->sasl == NULL || sasl_client_start(s->sasl, &line, err,
	    sizeof(err)) == -1) {
		buf_free(&line);
		mta_session_host_fail(s, 0, "AUTH %s: %s", sasl_mech_name(mech),
		    s->sasl == NULL ? "cannot start" : err);
		return;
	}
	log_debug("mta: session %u: AUTH %s as %s", s->id,
	    sasl_mech_name(mech), sec->c.user);
	buf_add(&s->out, line.data, line.len);
	buf_add(&s->out, "\r\n", 2);
	explicit_bzero(line.data, line.len);
	buf_free(&line);
	mta_session_enter(s, S_AUTH);
}

void
mta_session_auth_reply(struct mta_session *s, const char *text)
{
	struct buf	 line;
	char		 err[200], one[300];
	int		 r;

	smtp_reply_oneline(&s->reply, one, sizeof(one));
	if (s->reply.code == 334) {
		buf_init(&line, 4096);
		r = sasl_client_step(s->sasl, text, &line, err, sizeof(err));
		if (r == -1) {
			buf_reset(&line);
			buf_addstr(&line, "*");		/* RFC 4954 4 */
			log_info("mta: session %u: AUTH aborted: %s", s->id,
			    err);
		}
		buf_add(&s->out, line.data, line.len);
		buf_add(&s->out, "\r\n", 2);
		explicit_bzero(line.data, line.len);
		buf_free(&line);
		return;
	}
	if (s->reply.code == 235) {
		if (sasl_client_done(s->sasl, text, err, sizeof(err)) == -1) {
			mta_session_host_fail(s, 0, "AUTH: %s", err);
			return;
		}
		log_info("mta: session %u: authenticated to %s", s->id,
		    s->host);
		sasl_client_free(s->sasl);
		s->sasl = NULL;
		mta_session_next_task(s);
		return;
	}
	mta_session_host_fail(s, 0, "authentication failed: %s", one);
}

/*
 * Inbound authentication of one message (see inbound.h): the checks of
 * auth/spf.c, dkim.c, arc.c, iprev.c and dmarc.c run together, with
 * their DNS lookups in flight at once, and their results become one
 * Authentication-Results field (RFC 8601 2.2, written by authres.c) and
 * a verdict under the listener's policy (postern.conf(5) "Authentication
 * policies"):
 *
 *	relaxed		record only
 *	strict		a temporary DNS error in the check defers the message
 *			(451); DMARC's published policy is enforced: p=reject
 *			refuses (550 5.7.1), p=quarantine quarantines
 *	disable		not evaluated, not recorded
 *	spf reject-fail	an SPF "fail" refuses (RFC 7208 8.4, 550 5.7.23 of
 *			RFC 7372)
 *
 * DMARC needs SPF and DKIM; with either disabled it still runs with what
 * it has (a disabled SPF counts as "none").
 *
 * DMARC is not bypassed by the shape of the header (RFC 9989 5.3.1,
 * 11.5).  From fields naming several Author Domains get each domain
 * evaluated, up to DMARC_MAX_AUTHORS, and the strictest failing policy
 * applies (dmarc_strictest()); the A-R field reports that domain's
 * result and says how many there were, and so does the evaluation record
 * for reports.  A message whose Author Domains cannot all be known is
 * "permerror" (no domain to look up, and a later attempt finds no more:
 * RFC 9989 9.2) with the reason as comment, and is refused (550 5.7.1)
 * under dmarc strict: no From field, one that does not parse, more
 * Author Domains than we evaluate, more From fields than we keep, or a
 * header beyond the reading limits (DKIM_MAX_FIELDS fields,
 * DKIM_MAX_FIELD octets in one, DKIM_MAX_HEADER in all).  Those limits
 * bound what is read here, never what is stored: reading stops at them,
 * and what was not read cannot pass, so a From field hidden past them
 * makes the whole header unjudgeable rather than silently ignored.
 */
#include <sys/types.h>

#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/inbound.h"
#include "auth/iprev.h"
#include "auth/reportmark.h"
#include "log.h"
#include "mailhdr.h"
#include "auth/spf.h"

#define INBOUND_MAX_FROM	8	/* From fields kept for DMARC */
#define INBOUND_MAX_KEYS	128	/* key lookups per verifier */
#define INBOUND_TRACE_MAX	(64 * 1024)

struct keyq {
	struct inbound		*in;
	int			 arc;		/* ARC, else DKIM */
	size_t			 k;
	struct dns_query	*q;
};

struct inbound;

/* One Author Domain's DMARC evaluation. */
struct dmarcq {
	struct inbound		*in;
	struct dmarc_eval	*e;
	struct dmarc_outcome	 out;
	int			 done;
};

struct inbound {
	struct dns_ctx		*dns;
	struct inbound_params	 p;
	char			*ip, *helo, *mail_from, *rcpt_domain;
	char			*authserv_id;
	struct inbound_policy	 policy;
	struct dkim_verify	*dkim;
	struct arc_verify	*arc;
	struct mailhdr_reader	 hr;
	char			*from[INBOUND_MAX_FROM];
	size_t			 nfrom;
	size_t			 nfrom_total;
	size_t			 header_len;	/* fields read */
	int			 header_over;	/* > DKIM_MAX_HEADER */
	int			 report_mail;	/* auth/reportmark.h */
	int			 dkim_keys_asked, arc_keys_asked;
	struct keyq		 keys[2 * INBOUND_MAX_KEYS];
	size_t			 nkeys;
	struct spf_eval		*spf;
	struct spf_outcome	 spf_out;
	int			 spf_done;
	struct spf_eval		*spf_helo;	/* HELO identity too */
	struct spf_outcome	 spf_helo_out;
	int			 spf_helo_done;
	struct iprev_eval	*iprev;
	struct iprev_outcome	 iprev_out;
	int			 iprev_done;
	/*
	 * One per Author Domain, made when DMARC starts: each holds an
	 * outcome of ~30 KB, and zeroing DMARC_MAX_AUTHORS of them for
	 * every message was most of authd's per-message memset.
	 */
	struct dmarcq		*dmarcq;
	size_t			 nauthors;	/* evaluations */
	int			 dmarc_started;
	struct dmarc_outcome	 dmarc_out;	/* the one applied */
	int			 dmarc_done;
	/* why no Author Domain is known: strict refuses */
	char			 dmarc_unknown[256];
	size_t			 pending;	/* lookups in flight */
	inbound_spf_cb		 spf_cb;
	void			*spf_arg;
	struct event		 ev_spf;
	int			 ev_spf_set;
	int			 ended;
	inbound_done_cb		 done;
	void			*arg;
	struct buf		 trace;
	struct inbound_result	 res;
};

static void	inbound_progress(struct inbound *);

static void
trace(struct inbound *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
trace(struct inbound *in, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[1024];

	if (!in->p.trace)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_addstr(&in->trace, line);
	buf_addstr(&in->trace, "\n");
}

/* Collect the raw From values for DMARC (RFC 9989 4.4). */
static void
inbound_field(void *arg, const char *raw, size_t len, size_t namelen)
{
	struct inbound	*in = arg;
	const char	*v;
	size_t		 vlen;

	/* the whole header section's bound, as DKIM keeps it */
	if (in->header_over)
		return;
	in->header_len += len + 2;
	if (in->header_len > DKIM_MAX_HEADER) {
		in->header_over = 1;
		return;
	}
	if (!in->report_mail && reportmark_field(raw, len, namelen)) {
		in->report_mail = 1;
		trace(in, "the message carries a report: its evaluation is "
		    "reported only alongside other mail's");
	}
	if (namelen == 0 || !mailhdr_name_is(raw, len, namelen, "From", 4))
		return;
	in->nfrom_total++;
	if (in->nfrom >= INBOUND_MAX_FROM ||
	    (v = mailhdr_value(raw, len, &vlen)) == NULL)
		return;
	in->from[in->nfrom++] = xstrndup(v, vlen);
}

static void
inbound_body(void *arg, const uint8_t *p, size_t len)
{
}

/*
 * A key record answer for DKIM or ARC (RFC 6376 3.6.2.2): each TXT
 * record's strings concatenated; rcode and DNSSEC status mapped.
 */
static void
inbound_key_cb(void *arg, const struct dns_answer *ans)
{
	struct keyq		*kq = arg;
	struct inbound		*in = kq->in;
	struct dkim_keyans	 ka;

	kq->q = NULL;
	in->pending--;
	dkim_keyans_from(&ka, ans);
	trace(in, "%s key %s TXT: %s, %zu record(s) (%s)",
	    kq->arc ? "arc" : "dkim", ans->qname, ka.st == DKIM_DNS_OK ?
	    "found" : ka.st == DKIM_DNS_NXDOMAIN ? "NXDOMAIN" : "temporary "
	    "failure", ka.n, dns_sec_name(ans->sec));
	if (kq->arc)
		arc_verify_set_key(in->arc, kq->k, ka.st, ka.sec,
		    (const char *const *)ka.recs, ka.lens, ka.n);
	else
		dkim_verify_set_key(in->dkim, kq->k, ka.st, ka.sec,
		    (const char *const *)ka.recs, ka.lens, ka.n);
	dkim_keyans_clear(&ka);
	inbound_progress(in);
}

static void
inbound_ask_key(struct inbound *in, int arc, size_t k, const char *name)
{
	struct keyq	*kq;

	if (in->nkeys >= sizeof(in->keys) / sizeof(in->keys[0]))
		return;
	kq = &in->keys[in->nkeys++];
	kq->in = in;
	kq->arc = arc;
	kq->k = k;
	in->pending++;
	if ((kq->q = dns_query(in->dns, name, DNS_T_TXT, inbound_key_cb,
	    kq)) == NULL) {
		/* not a domain name: no such key */
		in->pending--;
		if (arc)
			arc_verify_set_key(in->arc, k, DKIM_DNS_NXDOMAIN,
			    DKIM_DNSSEC_UNKNOWN, NULL, NULL, 0);
		else
			dkim_verify_set_key(in->dkim, k, DKIM_DNS_NXDOMAIN,
			    DKIM_DNSSEC_UNKNOWN, NULL, NULL, 0);
	}
}

/* Once the header is in, the key lookups start while the body streams. */
static void
inbound_keys(struct inbound *in)
{
	size_t	 k, n;

	if (in->dkim != NULL && !in->dkim_keys_asked &&
	    dkim_verify_header_done(in->dkim)) {
		in->dkim_keys_asked = 1;
		n = dkim_verify_nkeys(in->dkim);
		for (k = 0; k < n && k < INBOUND_MAX_KEYS; k++)
			inbound_ask_key(in, 0, k, dkim_verify_keyname(in->dkim,
			    k));
	}
	if (in->arc != NULL && !in->arc_keys_asked &&
	    arc_verify_header_done(in->arc)) {
		in->arc_keys_asked = 1;
		n = arc_verify_nkeys(in->arc);
		for (k = 0; k < n && k < INBOUND_MAX_KEYS; k++)
			inbound_ask_key(in, 1, k, arc_verify_keyname(in->arc,
			    k));
	}
}

/* Tell the MAIL reply what SPF says, once it says it. */
static void
inbound_spf_notify(struct inbound *in)
{
	inbound_spf_cb	 cb = in->spf_cb;
	char		 text[512];

	if (cb == NULL || !in->spf_done)
		return;
	in->spf_cb = NULL;
	if (in->policy.spf_reject_fail && in->spf_out.result == SPF_FAIL) {
		/* RFC 7208 8.4; RFC 7372 3.2: 5.7.23 */
		snprintf(text, sizeof(text), "SPF check of %.200s failed: "
		    "%.80s", in->spf_out.domain, in->spf_out.reason);
		cb(in->spf_arg, 1, 550, "5.7.23", text);
	} else
		cb(in->spf_arg, 0, 0, "", "");
}

static void
inbound_spf_event(int fd, short ev, void *arg)
{
	inbound_spf_notify(arg);
}

void
inbound_on_spf(struct inbound *in, inbound_spf_cb cb, void *arg)
{
	struct timeval	 tv = { 0, 0 };

	in->spf_cb = cb;
	in->spf_arg = arg;
	if (in->spf_done) {
		/* never from inside this call */
		evtimer_set(&in->ev_spf, inbound_spf_event, in);
		event_base_set(dns_ctx_base(in->dns), &in->ev_spf);
		evtimer_add(&in->ev_spf, &tv);
		in->ev_spf_set = 1;
	}
}

void
inbound_set_rcpt_domain(struct inbound *in, const char *domain)
{
	free(in->rcpt_domain);
	in->rcpt_domain = domain != NULL && domain[0] != '\0' ?
	    xstrdup(domain) : NULL;
}

static void
inbound_spf_done(void *arg, const struct spf_outcome *o)
{
	struct inbound	*in = arg;

	in->spf = NULL;
	in->pending--;
	in->spf_out = *o;
	in->spf_out.explanation = NULL;
	in->spf_out.trace = NULL;
	if (o->trace != NULL)
		buf_addstr(&in->trace, o->trace);
	in->spf_done = 1;
	trace(in, "spf: %s (%s)", spf_result_name(o->result), o->reason);
	inbound_spf_notify(in);
	inbound_progress(in);
}

/* RFC 7208 2.3: the HELO identity, checked as well (recorded only) */
static void
inbound_spf_helo_done(void *arg, const struct spf_outcome *o)
{
	struct inbound	*in = arg;

	in->spf_helo = NULL;
	in->pending--;
	in->spf_helo_out = *o;
	in->spf_helo_out.explanation = NULL;
	in->spf_helo_out.trace = NULL;
	in->spf_helo_done = 1;
	trace(in, "spf (HELO %s): %s (%s)", in->helo,
	    spf_result_name(o->result), o->reason);
	inbound_progress(in);
}

static void
inbound_iprev_done(void *arg, const struct iprev_outcome *o)
{
	struct inbound	*in = arg;

	in->iprev = NULL;
	in->pending--;
	in->iprev_out = *o;
	in->iprev_out.trace = NULL;
	in->iprev_done = 1;
	trace(in, "iprev: %s%s%s (%s)%s", iprev_result_name(o->result),
	    o->name[0] ? " " : "", o->name, o->reason,
	    o->helo_match ? "; the name matches HELO" : "");
	inbound_progress(in);
}

struct inbound *
inbound_new(struct dns_ctx *dns, const struct inbound_params *p)
{
	struct inbound		*in;
	struct dkim_verify_opts	 dopts;
	struct arc_verify_opts	 aopts;
	struct spf_params	 sp;
	struct iprev_params	 ip;

	in = xcalloc(1, sizeof(*in));
	/* every lookup of the message goes through one budget */
	in->dns = dns_ctx_view(dns);
	if (p->dns_budget_ms > 0)
		dns_ctx_set_deadline(in->dns, p->dns_budget_ms);
	dns = in->dns;
	in->p = *p;
	in->ip = xstrdup(p->ip != NULL ? p->ip : "");
	in->helo = xstrdup(p->helo != NULL ? p->helo : "");
	in->mail_from = xstrdup(p->mail_from != NULL ? p->mail_from : "");
	in->rcpt_domain = p->rcpt_domain != NULL ? xstrdup(p->rcpt_domain) :
	    NULL;
	in->authserv_id = xstrdup(p->authserv_id);
	if (p->policy != NULL)
		in->policy = *p->policy;
	else {
		/* relaxed everywhere */
		memset(&in->policy, 0, sizeof(in->policy));
	}
	in->p.policy = &in->policy;
	buf_init(&in->trace, INBOUND_TRACE_MAX);
	buf_init(&in->res.header, 256 * 1024);
	mailhdr_reader_init(&in->hr, DKIM_MAX_FIELD, DKIM_MAX_FIELDS,
	    inbound_field, inbound_body, in);

	if (in->policy.dkim != INBOUND_DISABLE ||
	    in->policy.dmarc != INBOUND_DISABLE) {
		memset(&dopts, 0, sizeof(dopts));
		dopts.allow_sha1 = in->policy.dkim_allow_sha1;
		dopts.fail_partial_body = in->policy.dkim_fail_partial_body;
		dopts.max_sigs = in->policy.dkim_max_signatures;
		dopts.now = p->now;
		in->dkim = dkim_verify_new(&dopts);
	}
	if (in->policy.arc != INBOUND_DISABLE) {
		memset(&aopts, 0, sizeof(aopts));
		in->arc = arc_verify_new(&aopts);
	}
	if (in->policy.spf != INBOUND_DISABLE ||
	    in->policy.dmarc != INBOUND_DISABLE) {
		/* RFC 7208 2.4: for the null path, the HELO identity */
		memset(&sp, 0, sizeof(sp));
		sp.ip = in->ip;
		sp.helo = in->helo;
		sp.mail_from = in->mail_from[0] != '\0' ? in->mail_from : NULL;
		sp.identity = in->mail_from[0] != '\0' ? SPF_ID_MAILFROM :
		    SPF_ID_HELO;
		sp.receiver = in->authserv_id;
		sp.now = p->now;
		sp.trace = p->trace;
		in->pending++;
		in->spf = spf_eval_start(dns, &sp, inbound_spf_done, in);
		if (in->policy.spf != INBOUND_DISABLE &&
		    in->mail_from[0] != '\0' && in->helo[0] != '\0') {
			sp.mail_from = NULL;
			sp.identity = SPF_ID_HELO;
			sp.trace = 0;
			in->pending++;
			in->spf_helo = spf_eval_start(dns, &sp,
			    inbound_spf_helo_done, in);
		}
	} else
		in->spf_done = 1;
	/* no address (a local submission, posternctl sendmail): no iprev */
	if (in->ip[0] == '\0')
		return in;
	memset(&ip, 0, sizeof(ip));
	ip.ip = in->ip;
	ip.helo = in->helo;
	in->pending++;
	in->iprev = iprev_eval_start(dns, &ip, inbound_iprev_done, in);
	return in;
}

void
inbound_feed(struct inbound *in, const void *data, size_t len)
{
	if (in->ended)
		return;
	if (in->dkim != NULL)
		dkim_verify_feed(in->dkim, data, len);
	if (in->arc != NULL)
		arc_verify_feed(in->arc, data, len);
	/* past a limit, nothing more is read (see the top) */
	if (!in->hr.in_body && !in->hr.overflow && !in->header_over)
		mailhdr_reader_feed(&in->hr, data, len);
	inbound_keys(in);
}

/* --- the Authentication-Results field --- */

#define AR_MAX_METHODS	(DKIM_MAX_RESULTS + 8)
#define AR_MAX_PROPS	(AR_MAX_METHODS * 6)

struct ar_build {
	struct authres_method	 m[AR_MAX_METHODS];
	struct authres_prop	 props[AR_MAX_PROPS];
	size_t			 nprops;
	char			*strings[AR_MAX_METHODS * 4];
	size_t			 nstrings;
	struct authres		 ar;
};

static struct authres_method *
ar_method(struct ar_build *b, const char *name, const char *result)
{
	struct authres_method	*m;

	if (b->ar.nmethods >= AR_MAX_METHODS)
		return NULL;
	m = &b->m[b->ar.nmethods++];
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->result = result;
	m->props = &b->props[b->nprops];
	return m;
}

static void
ar_prop(struct ar_build *b, struct authres_method *m, const char *ptype,
    const char *property, const char *value)
{
	struct authres_prop	*pr;

	if (m == NULL || value == NULL || value[0] == '\0' ||
	    b->nprops >= AR_MAX_PROPS)
		return;
	pr = &b->props[b->nprops++];
	pr->ptype = ptype;
	pr->property = property;
	pr->value = value;
	m->nprops++;
}

static const char *
ar_keep(struct ar_build *b, char *s)
{
	if (b->nstrings >= sizeof(b->strings) / sizeof(b->strings[0])) {
		free(s);
		return NULL;
	}
	b->strings[b->nstrings++] = s;
	return s;
}

/* header.b: the first 8 characters tell signatures apart (RFC 6008). */
static const char *
ar_b(struct ar_build *b, const char *sig)
{
	return sig == NULL ? NULL : ar_keep(b, xstrndup(sig, 8));
}

static void
inbound_write_ar(struct inbound *in)
{
	struct ar_build			*b = xcalloc(1, sizeof(*b));
	struct authres_method		*m;
	const struct dkim_sigresult	*r;
	const struct arc_chainresult	*ac;
	struct dmarc_ar_prop		 dp[DMARC_AR_PROPS_MAX];
	size_t				 i, n, total, np;
	char				*s;

	b->ar.authserv_id = in->authserv_id;
	b->ar.methods = b->m;
	if (in->policy.spf != INBOUND_DISABLE && in->spf_done) {
		m = ar_method(b, "spf", spf_result_name(in->spf_out.result));
		if (m != NULL)
			m->comment = in->spf_out.reason;
		if (in->mail_from[0] != '\0')
			ar_prop(b, m, "smtp", "mailfrom", in->mail_from);
		else
			ar_prop(b, m, "smtp", "helo", in->helo);
	}
	if (in->policy.spf != INBOUND_DISABLE && in->spf_helo_done) {
		m = ar_method(b, "spf", spf_result_name(
		    in->spf_helo_out.result));
		if (m != NULL)
			m->comment = in->spf_helo_out.reason;
		ar_prop(b, m, "smtp", "helo", in->helo);
	}
	if (in->policy.dkim != INBOUND_DISABLE && in->dkim != NULL) {
		r = dkim_verify_results(in->dkim, &n, &total);
		if (n == 0)
			ar_method(b, "dkim", "none");
		for (i = 0; i < n; i++) {
			m = ar_method(b, "dkim", dkim_result_name(r[i].result));
			if (m == NULL)
				break;
			m->comment = r[i].reason;
			ar_prop(b, m, "header", "d", r[i].d);
			ar_prop(b, m, "header", "i", r[i].i);
			ar_prop(b, m, "header", "s", r[i].s);
			ar_prop(b, m, "header", "a", r[i].a);
			ar_prop(b, m, "header", "b", ar_b(b, r[i].b));
		}
	}
	if (in->policy.arc != INBOUND_DISABLE && in->arc != NULL) {
		ac = arc_verify_result(in->arc);
		m = ar_method(b, "arc", arc_result_name(ac->result));
		if (m != NULL && ac->reason[0] != '\0')
			m->comment = ac->reason;
		if (ac->oldest_pass > 0 && xasprintf(&s, "%u",
		    ac->oldest_pass) != -1)
			ar_prop(b, m, "header", "oldest-pass", ar_keep(b, s));
	}
	if (in->policy.dmarc != INBOUND_DISABLE && in->dmarc_done) {
		m = ar_method(b, "dmarc", dmarc_result_name(
		    in->dmarc_out.result));
		if (m != NULL)
			m->comment = in->dmarc_out.reason;
		np = dmarc_ar_props(&in->dmarc_out, dp);
		for (i = 0; i < np; i++) {
			s = strchr(dp[i].name, '.');
			if (s == NULL)
				continue;
			*s = '\0';
			ar_prop(b, m, ar_keep(b, xstrdup(dp[i].name)),
			    ar_keep(b, xstrdup(s + 1)),
			    ar_keep(b, xstrdup(dp[i].value)));
		}
	}
	if (in->iprev_done && b->ar.nmethods < AR_MAX_METHODS &&
	    b->nprops < AR_MAX_PROPS) {
		m = &b->m[b->ar.nmethods++];
		iprev_authres_method(&in->iprev_out, m, &b->props[b->nprops]);
		b->nprops += m->nprops;
	}
	for (i = 0; i < b->ar.nmethods && i < INBOUND_METHODS_MAX; i++) {
		in->res.methods[i].method = b->ar.methods[i].name;
		in->res.methods[i].result = b->ar.methods[i].result;
	}
	in->res.nmethods = i;
	if (authres_write(&b->ar, &in->res.header) == -1) {
		/* a field we cannot write well: say only what matters */
		buf_reset(&in->res.header);
		b->ar.nmethods = 0;
		authres_write(&b->ar, &in->res.header);
	}
	for (i = 0; i < b->nstrings; i++)
		free(b->strings[i]);
	free(b);
}

/* --- the verdict --- */

static void
verdict(struct inbound *in, enum inbound_verdict v, int code,
    const char *status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
verdict(struct inbound *in, enum inbound_verdict v, int code,
    const char *status, const char *fmt, ...)
{
	va_list	 ap;

	/* The first reason to refuse or defer wins. */
	if (in->res.verdict == INBOUND_REJECT ||
	    in->res.verdict == INBOUND_TEMPFAIL)
		return;
	in->res.verdict = v;
	in->res.code = code;
	strlcpy(in->res.status, status, sizeof(in->res.status));
	va_start(ap, fmt);
	vsnprintf(in->res.text, sizeof(in->res.text), fmt, ap);
	va_end(ap);
	trace(in, "verdict: %s %d %s %s", inbound_verdict_name(v), code,
	    status, in->res.text);
}

static void
inbound_decide(struct inbound *in)
{
	const struct dkim_sigresult	*r;
	size_t				 i, n, total;

	in->res.verdict = INBOUND_ACCEPT;
	/* (spf reject-fail refuses the MAIL already: inbound_on_spf()) */
	if (in->policy.spf_reject_fail && in->spf_done &&
	    in->spf_out.result == SPF_FAIL)
		verdict(in, INBOUND_REJECT, 550, "5.7.23", "SPF check of %s "
		    "failed", in->spf_out.domain);
	if (in->policy.spf == INBOUND_STRICT && in->spf_done &&
	    in->spf_out.result == SPF_TEMPERROR)
		verdict(in, INBOUND_TEMPFAIL, 451, "4.7.24", "SPF check "
		    "could not be completed, try again later");
	if (in->policy.dkim == INBOUND_STRICT && in->dkim != NULL) {
		r = dkim_verify_results(in->dkim, &n, &total);
		for (i = 0; i < n; i++)
			if (r[i].result == DKIM_TEMPERROR)
				verdict(in, INBOUND_TEMPFAIL, 451, "4.7.5",
				    "DKIM key lookup failed, try again later");
	}
	if (in->policy.arc == INBOUND_STRICT && in->arc != NULL &&
	    arc_verify_result(in->arc)->result == ARC_TEMPERROR)
		verdict(in, INBOUND_TEMPFAIL, 451, "4.7.5", "ARC key lookup "
		    "failed, try again later");
	if (in->policy.dmarc != INBOUND_STRICT || !in->dmarc_done)
		return;
	if (in->dmarc_unknown[0] != '\0') {
		/* RFC 9989 11.5: a message DMARC cannot judge is a threat */
		verdict(in, INBOUND_REJECT, 550, "5.7.1", "Message refused: "
		    "%s, so DMARC cannot check its author", in->dmarc_unknown);
		return;
	}
	if (in->dmarc_out.result == DMARC_RESULT_TEMPERROR) {
		verdict(in, INBOUND_TEMPFAIL, 451, "4.7.5", "DMARC check "
		    "could not be completed, try again later");
		return;
	}
	if (in->dmarc_out.result != DMARC_RESULT_FAIL)
		return;
	/* RFC 9989 8.3: the Domain Owner's disposition, enforced */
	if (in->dmarc_out.disposition == DMARC_DISP_REJECT)
		verdict(in, INBOUND_REJECT, 550, "5.7.1", "Message rejected "
		    "by the DMARC policy of %s", in->dmarc_out.header_from);
	else if (in->dmarc_out.disposition == DMARC_DISP_QUARANTINE)
		verdict(in, INBOUND_QUARANTINE, 0, "", "quarantined by the "
		    "DMARC policy of %s", in->dmarc_out.header_from);
}

/*
 * RFC 6651 3.1: the first signature that failed verification (its body
 * hash or its signature: rr=v, 3.3) and carries r=y, for a DKIM failure
 * report.
 */
static void
inbound_dkim_report(struct inbound *in)
{
	const struct dkim_sigresult	*r;
	size_t				 i, n, total;

	if (in->dkim == NULL || in->policy.dkim == INBOUND_DISABLE)
		return;
	r = dkim_verify_results(in->dkim, &n, &total);
	for (i = 0; i < n; i++) {
		if (r[i].result != DKIM_FAIL || !r[i].report ||
		    r[i].d == NULL || r[i].s == NULL)
			continue;
		if (strlcpy(in->res.dkim_report_d, r[i].d,
		    sizeof(in->res.dkim_report_d)) >=
		    sizeof(in->res.dkim_report_d) ||
		    strlcpy(in->res.dkim_report_s, r[i].s,
		    sizeof(in->res.dkim_report_s)) >=
		    sizeof(in->res.dkim_report_s))
			continue;
		strlcpy(in->res.dkim_report_i, r[i].i != NULL ? r[i].i : "",
		    sizeof(in->res.dkim_report_i));
		in->res.dkim_report_bodyhash = r[i].body_ok == 0;
		in->res.dkim_report = 1;
		return;
	}
}

static void
inbound_finish(struct inbound *in)
{
	inbound_write_ar(in);
	inbound_decide(in);
	if (in->dmarc_done && in->dmarc_out.header_from[0] != '\0' &&
	    in->dmarc_out.result != DMARC_RESULT_PERMERROR) {
		in->res.have_dmarc = 1;
		in->res.dmarc_eval = in->dmarc_out.eval;
		/*
		 * Report mail only when it is what it says: a forger adding
		 * a report's header field must not keep the forged domain's
		 * aggregate reports from being sent.
		 */
		in->res.dmarc_eval.report_mail = in->report_mail &&
		    in->dmarc_out.result == DMARC_RESULT_PASS;
		if (in->dmarc_out.have_record)
			in->res.dmarc_nruf = in->dmarc_out.record.nruf;
	}
	inbound_dkim_report(in);
	/* RFC 6652 3: rr= may ask for any result but pass (and none,
	   where there is no record to ask) */
	if (in->spf_done && in->policy.spf != INBOUND_DISABLE &&
	    in->spf_out.result != SPF_PASS && in->spf_out.result != SPF_NONE &&
	    strlen(in->spf_out.domain) < sizeof(in->res.spf_report_domain)) {
		strlcpy(in->res.spf_report_domain, in->spf_out.domain,
		    sizeof(in->res.spf_report_domain));
		in->res.spf_report_result = in->spf_out.result;
	}
	in->res.dns_cut = dns_ctx_cut(in->dns);
	if (in->res.dns_cut > 0)
		trace(in, "dns: %zu lookup(s) ended by the time budget of "
		    "%d ms", in->res.dns_cut, in->p.dns_budget_ms);
	in->res.trace = in->p.trace ? buf_cstr(&in->trace) : NULL;
	in->done(in->arg, &in->res);
}

/* Every Author Domain evaluated: the strictest outcome applies. */
static void
inbound_dmarc_all_done(struct inbound *in)
{
	const struct dmarc_outcome *outs[DMARC_MAX_AUTHORS];
	size_t			 i, k, len;

	for (i = 0; i < in->nauthors; i++)
		outs[i] = &in->dmarcq[i].out;
	/* RFC 9989 11.5: the most strict policy among those that fail */
	k = dmarc_strictest(outs, in->nauthors);
	dmarc_outcome_copy(&in->dmarc_out, &in->dmarcq[k].out);
	if (in->nauthors > 1) {
		len = strlen(in->dmarc_out.reason);
		snprintf(in->dmarc_out.reason + len,
		    sizeof(in->dmarc_out.reason) - len, "; %zu Author Domains, "
		    "the strictest outcome applies", in->nauthors);
		trace(in, "dmarc: %zu Author Domains; %s applies",
		    in->nauthors, in->dmarc_out.header_from);
	}
	in->dmarc_done = 1;
	trace(in, "dmarc: %s (%s)", dmarc_result_name(in->dmarc_out.result),
	    in->dmarc_out.reason);
	inbound_finish(in);
}

static void
inbound_dmarc_done(void *arg, const struct dmarc_outcome *o)
{
	struct dmarcq	*dq = arg;
	struct inbound	*in = dq->in;
	size_t		 i;

	dq->e = NULL;
	dmarc_outcome_copy(&dq->out, o);
	dq->done = 1;
	if (o->trace != NULL)
		buf_addstr(&in->trace, o->trace);
	for (i = 0; i < in->nauthors; i++)
		if (!in->dmarcq[i].done)
			return;
	inbound_dmarc_all_done(in);
}

/*
 * The Author Domains to evaluate (RFC 9989 5.3.1, 11.5): how many, or 0
 * with the reason none can be, in in->dmarc_unknown.
 */
static size_t
inbound_authors(struct inbound *in, char (*domains)[DMARC_DOMAIN_MAX])
{
	char	 err[160];
	int	 n;

	if (in->hr.overflow || in->header_over) {
		snprintf(in->dmarc_unknown, sizeof(in->dmarc_unknown),
		    "header beyond the limits of %d fields, %d octets in one, "
		    "%d in all: its From fields cannot all be read",
		    DKIM_MAX_FIELDS, DKIM_MAX_FIELD, DKIM_MAX_HEADER);
		return 0;
	}
	if (in->nfrom_total > in->nfrom) {
		snprintf(in->dmarc_unknown, sizeof(in->dmarc_unknown),
		    "%zu From fields, more than %d are not read",
		    in->nfrom_total, INBOUND_MAX_FROM);
		return 0;
	}
	n = dmarc_author_domains((const char *const *)in->from, in->nfrom,
	    domains, DMARC_MAX_AUTHORS, err, sizeof(err));
	if (n == -1) {
		strlcpy(in->dmarc_unknown, err, sizeof(in->dmarc_unknown));
		return 0;
	}
	if (n > DMARC_MAX_AUTHORS) {
		/* 11.5: more would be a denial of service; not judged */
		snprintf(in->dmarc_unknown, sizeof(in->dmarc_unknown),
		    "From fields name %d Author Domains, more than %d are "
		    "not evaluated", n, DMARC_MAX_AUTHORS);
		return 0;
	}
	return n;
}

/* Every lookup answered after the end: DMARC, then the result. */
static void
inbound_progress(struct inbound *in)
{
	struct dmarc_params		 dp;
	const struct dkim_sigresult	*r = NULL;
	char				 domains[DMARC_MAX_AUTHORS]
					    [DMARC_DOMAIN_MAX];
	size_t				 i, n = 0, total, nauthors;

	if (!in->ended || in->pending > 0 || in->dmarc_started ||
	    in->dmarc_done || in->done == NULL)
		return;
	in->dmarc_started = 1;
	if (in->policy.dmarc == INBOUND_DISABLE) {
		inbound_finish(in);
		return;
	}
	if ((nauthors = inbound_authors(in, domains)) == 0) {
		/* RFC 9989 9.2: permerror, a later attempt finds no more */
		memset(&in->dmarc_out, 0, sizeof(in->dmarc_out));
		in->dmarc_out.result = DMARC_RESULT_PERMERROR;
		in->dmarc_out.author_exists = -1;
		strlcpy(in->dmarc_out.reason, in->dmarc_unknown,
		    sizeof(in->dmarc_out.reason));
		in->dmarc_done = 1;
		trace(in, "dmarc: no Author Domain: %s", in->dmarc_unknown);
		inbound_finish(in);
		return;
	}
	if (in->dkim != NULL)
		r = dkim_verify_results(in->dkim, &n, &total);
	memset(&dp, 0, sizeof(dp));
	dp.from_fields = (const char *const *)in->from;
	dp.nfrom = in->nfrom;
	dp.mail_from = in->mail_from;
	dp.helo = in->helo;
	dp.spf = in->policy.spf == INBOUND_DISABLE ? SPF_NONE :
	    in->spf_out.result;
	dp.spf_scope = in->mail_from[0] != '\0' ? SPF_ID_MAILFROM :
	    SPF_ID_HELO;
	dp.dkim = r;
	dp.ndkim = n;
	dp.source_ip = in->ip;
	dp.envelope_to = in->rcpt_domain;
	dp.now = in->p.now;
	dp.trace = in->p.trace;
	in->dmarcq = xcalloc(nauthors, sizeof(*in->dmarcq));
	in->nauthors = nauthors;
	for (i = 0; i < nauthors; i++)
		in->dmarcq[i].in = in;
	/* every callback comes later, from the loop: all start first */
	for (i = 0; i < nauthors; i++) {
		dp.author_domain = domains[i];
		in->dmarcq[i].e = dmarc_eval_start(in->dns, &dp,
		    inbound_dmarc_done, &in->dmarcq[i]);
	}
}

void
inbound_end(struct inbound *in, inbound_done_cb done, void *arg)
{
	in->ended = 1;
	in->done = done;
	in->arg = arg;
	/* DMARC waits for the end: the client waits one budget at most */
	if (in->p.dns_budget_ms > 0)
		dns_ctx_set_deadline(in->dns, in->p.dns_budget_ms);
	if (in->dkim != NULL)
		dkim_verify_end(in->dkim);
	if (in->arc != NULL)
		arc_verify_end(in->arc);
	mailhdr_reader_end(&in->hr);
	inbound_keys(in);
	/* a message without a header never asked for keys: none to ask */
	inbound_progress(in);
}

void
inbound_free(struct inbound *in)
{
	size_t	 i;

	if (in == NULL)
		return;
	if (in->ev_spf_set)
		evtimer_del(&in->ev_spf);
	if (in->spf != NULL)
		spf_eval_cancel(in->spf);
	if (in->spf_helo != NULL)
		spf_eval_cancel(in->spf_helo);
	if (in->iprev != NULL)
		iprev_eval_cancel(in->iprev);
	for (i = 0; i < in->nauthors; i++) {
		if (in->dmarcq[i].e != NULL)
			dmarc_eval_cancel(in->dmarcq[i].e);
		if (in->dmarcq[i].done)
			dmarc_outcome_clear(&in->dmarcq[i].out);
	}
	free(in->dmarcq);
	for (i = 0; i < in->nkeys; i++)
		if (in->keys[i].q != NULL)
			dns_query_cancel(in->keys[i].q);
	if (in->dkim != NULL)
		dkim_verify_free(in->dkim);
	if (in->arc != NULL)
		arc_verify_free(in->arc);
	mailhdr_reader_free(&in->hr);
	for (i = 0; i < in->nfrom; i++)
		free(in->from[i]);
	if (in->dmarc_done)
		dmarc_outcome_clear(&in->dmarc_out);
	buf_free(&in->trace);
	buf_free(&in->res.header);
	free(in->ip);
	free(in->helo);
	free(in->mail_from);
	free(in->rcpt_domain);
	free(in->authserv_id);
	/* last: the checks above cancelled their queries through it */
	dns_ctx_free(in->dns);
	free(in);
}

struct sync_state {
	int	 done;
	void	(*print)(void *, const struct inbound_result *);
	void	*arg;
};

static void
sync_done(void *arg, const struct inbound_result *r)
{
	struct sync_state	*st = arg;

	st->done = 1;
	st->print(st->arg, r);
}

int
inbound_check_sync(struct dns_ctx *dns, const struct inbound_params *p,
    const void *msg, size_t len, void (*print)(void *,
    const struct inbound_result *), void *arg)
{
	struct inbound		*in;
	struct sync_state	 st = { 0, print, arg };

	in = inbound_new(dns, p);
	inbound_feed(in, msg, len);
	inbound_end(in, sync_done, &st);
	while (!st.done)
		if (dns_run_once(dns) == -1)
			break;
	inbound_free(in);
	return st.done ? 0 : -1;
}

/* The chain's validation for a seal; -1 when ARC was not checked. */
int
inbound_arc_result(struct inbound *in)
{
	if (in->arc == NULL || !in->ended)
		return -1;
	return arc_verify_result(in->arc)->result;
}

int
inbound_from_domain(struct inbound *in, char *out, size_t outlen)
{
	char	 err[128];

	if (in->nfrom == 0)
		return -1;
	return dmarc_author_domain((const char *const *)in->from, in->nfrom,
	    out, outlen, err, sizeof(err)) == 0 ? 0 : -1;
}

int
inbound_from_mailboxes(struct inbound *in,
    char (*mailboxes)[DMARC_MAILBOX_MAX], size_t max, char *err,
    size_t errlen)
{
	/*
	 * A From field we did not keep could name anyone: a header the
	 * reader gave up on, or more From fields than we hold, is refused.
	 */
	if (in->hr.overflow || in->header_over) {
		snprintf(err, errlen, "header too large to check");
		return -1;
	}
	if (in->nfrom_total > in->nfrom) {
		snprintf(err, errlen, "%zu From fields", in->nfrom_total);
		return -1;
	}
	return dmarc_from_mailboxes((const char *const *)in->from, in->nfrom,
	    mailboxes, max, err, errlen);
}

const char *
inbound_verdict_name(enum inbound_verdict v)
{
	switch (v) {
	case INBOUND_ACCEPT:
		return "accept";
	case INBOUND_QUARANTINE:
		return "quarantine";
	case INBOUND_REJECT:
		return "reject";
	case INBOUND_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

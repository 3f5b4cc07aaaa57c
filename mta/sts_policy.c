/*
 * MTA-STS for a destination (RFC 8461 5): which policy is in force for a
 * recipient domain's MX delivery, from its _mta-sts TXT record, the
 * policy cache and a fetch.
 *
 *   record found, same id as the cached policy, unexpired   the cache
 *   record found, new id or nothing usable cached           a fetch; if
 *       it fails, an unexpired cached policy still holds (5.1), else none
 *   no record, or the lookup failed                          an unexpired
 *       cached policy holds (5.1: a removed record does not end a
 *       policy; a domain ends it with mode none), else none
 *
 * A cached policy fetched more than STS_REFRESH ago is fetched again in
 * the background while it goes on being used.  The policy is looked at
 * when the destination's next hops are, so that a change of record id is
 * seen within MTA_MX_TTL.  What a policy means for each host is in
 * mta/session.c.  Not for smarthosts: their TLS is what the relay
 * action says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "jsonw.h"
#include "log.h"
#include "mta/mta.h"
#include "mta/sts.h"
#include "mta/sts_cache.h"

#define STS_REFRESH	(24 * 60 * 60)	/* seconds between refreshes */

/* The destination's policy becomes p (NULL: none), and it may go on. */
static void
sts_dest_set(struct mta_dest *d, const struct sts_policy *p, const char *id,
    int64_t expires)
{
	free(d->sts);
	d->sts = NULL;
	if (p != NULL && p->mode != STS_MODE_NONE) {
		d->sts = xmalloc(sizeof(*d->sts));
		*d->sts = *p;
		strlcpy(d->sts_id, id, sizeof(d->sts_id));
		d->sts_expires = expires;
	}
}

static void
sts_dest_done(struct mta_dest *d)
{
	mta_debug_sts(d);
	if (d->sts_pending) {
		d->sts_pending = 0;
		mta_dest_kick(d->mta);
	}
}

static void
sts_dest_fetched(void *arg, const char *body, size_t len, const char *why,
    const char *rpt)
{
	struct mta_dest		*d = arg;
	struct mta		*m = d->mta;
	struct sts_policy	*p = xmalloc(sizeof(*p));
	struct sts_cached	*c = xmalloc(sizeof(*c));
	const char		*text;
	size_t			 tlen;
	char			 err[300];
	time_t			 now = walltime();

	d->sts_fetch = NULL;
	if (body != NULL && sts_http_response(body, len, &text, &tlen, err,
	    sizeof(err)) == 0 && sts_policy_parse(text, tlen, p, err,
	    sizeof(err)) == 0) {
		/* a debug delivery (no cache) leaves the cache alone */
		if (m->sts_cache != NULL && sts_cache_put(m->sts_cache,
		    d->domain, d->sts_new_id, now, text, tlen, err,
		    sizeof(err)) == -1)
			log_warnx("mta: %s: MTA-STS: %s", d->name, err);
		log_info("mta: %s: MTA-STS policy fetched: id %s, mode %s, "
		    "%zu mx pattern(s), max_age %u", d->name, d->sts_new_id,
		    sts_mode_name(p->mode), p->nmx, p->max_age);
		mta_debug_sts_note(d, "policy fetched from mta-sts.%s",
		    d->domain);
		sts_dest_set(d, p, d->sts_new_id, now + p->max_age);
	} else {
		if (body != NULL)
			rpt = "sts-policy-invalid";
		else
			strlcpy(err, why, sizeof(err));
		mta_debug_sts_note(d, "policy fetch failed (%s: %s)", rpt,
		    err);
		/* RFC 8460 4.3.2.2.2: the failure, for the domain's report */
		mta_tls_result_send(m, d, MSG_TLS_POLICY_STS, "", "", rpt);
		if (m->sts_cache != NULL && sts_cache_get(m->sts_cache,
		    d->domain, c) == 1 && c->expires > now) {
			log_warnx("mta: %s: MTA-STS policy fetch failed (%s: "
			    "%s); the cached policy (id %s) holds until it "
			    "expires", d->name, rpt, err, c->id);
			sts_dest_set(d, &c->policy, c->id, c->expires);
		} else {
			log_warnx("mta: %s: MTA-STS policy fetch failed (%s: "
			    "%s); no policy applies", d->name, rpt, err);
			sts_dest_set(d, NULL, "", 0);
		}
	}
	free(p);
	free(c);
	sts_dest_done(d);
}

/* The policy to use now, given what the TXT record said. */
static void
sts_dest_decide(struct mta_dest *d, enum sts_txt txt, const char *id)
{
	struct mta		*m = d->mta;
	struct sts_cached	*c = xmalloc(sizeof(*c));
	time_t			 now = walltime();
	int			 cached;

	cached = m->sts_cache != NULL && sts_cache_get(m->sts_cache,
	    d->domain, c) == 1 && c->expires > now;
	if (txt == STS_TXT_FOUND && (!cached || strcmp(c->id, id) != 0)) {
		/* a new policy to fetch; the dest waits for it */
		sts_fetch_cancel(d->sts_fetch);
		strlcpy(d->sts_new_id, id, sizeof(d->sts_new_id));
		d->sts_fetch = sts_fetch_start(m, d->domain, sts_dest_fetched,
		    d);
		free(c);
		return;
	}
	if (cached) {
		sts_dest_set(d, &c->policy, c->id, c->expires);
		if (txt == STS_TXT_FOUND && now - c->fetched > STS_REFRESH &&
		    d->sts_fetch == NULL) {
			/* in use: refresh it while it goes on applying */
			strlcpy(d->sts_new_id, id, sizeof(d->sts_new_id));
			d->sts_fetch = sts_fetch_start(m, d->domain,
			    sts_dest_fetched, d);
		}
	} else
		sts_dest_set(d, NULL, "", 0);
	free(c);
	sts_dest_done(d);
}

static void
sts_dest_txt(void *arg, const struct dns_answer *ans)
{
	struct mta_dest	*d = arg;
	char		*txt[16] = { NULL }, id[STS_ID_MAX + 1], why[200];
	size_t		 i, n = 0, len;
	enum sts_txt	 r = STS_TXT_NONE;

	d->sts_q = NULL;
	if (!ans->failed && ans->rcode == DNS_R_NOERROR &&
	    ans->sec != DNS_SEC_BOGUS) {
		for (i = 0; i < ans->nrr && n < 16; i++) {
			txt[n] = dns_txt_concat(&ans->rr[i], &len);
			if (strlen(txt[n]) != len)	/* a NUL inside */
				free(txt[n]);
			else
				n++;
		}
		r = sts_txt_select((const char *const *)txt, n, id, why,
		    sizeof(why));
		for (i = 0; i < n; i++)
			free(txt[i]);
		if (r == STS_TXT_INVALID)
			log_info("mta: %s: MTA-STS record: %s", d->name, why);
		if (r == STS_TXT_FOUND)
			mta_debug_sts_note(d, "record _mta-sts.%s: id %s (%s)",
			    d->domain, id, dns_sec_name(ans->sec));
		else
			mta_debug_sts_note(d, "record _mta-sts.%s: %s",
			    d->domain, r == STS_TXT_INVALID ? why : "none");
	} else if (ans->failed || ans->rcode != DNS_R_NXDOMAIN) {
		log_info("mta: %s: MTA-STS record lookup failed (%s)", d->name,
		    ans->sec == DNS_SEC_BOGUS ? "bogus" : ans->failed ?
		    "no answer" : dns_rcode_name(ans->rcode));
		mta_debug_sts_note(d, "record lookup failed (%s)",
		    ans->sec == DNS_SEC_BOGUS ? "bogus" : ans->failed ?
		    "no answer" : dns_rcode_name(ans->rcode));
	} else
		mta_debug_sts_note(d, "no record _mta-sts.%s", d->domain);
	sts_dest_decide(d, r, r == STS_TXT_FOUND ? id : "");
}

/*
 * Look at the destination's policy again (with its next hops): 0 if the
 * destination may go on now, 1 if it must wait for an answer.
 */
int
mta_sts_start(struct mta_dest *d)
{
	char	 qname[300];

	/*
	 * Without its cache the mta applies no policy (a probe has none and
	 * fetches afresh); RFC 8689 4.2.2: TLS-Required: No waives MTA-STS.
	 */
	if (d->relay->c.has_host || (d->mta->sts_cache == NULL &&
	    d->mta->probe == NULL) || d->tls == MTA_DEST_TLS_OPTIONAL)
		return 0;
	if (d->sts_pending)
		return 1;
	snprintf(qname, sizeof(qname), "_mta-sts.%s", d->domain);
	d->sts_pending = 1;
	if ((d->sts_q = dns_query(d->mta->dns, qname, DNS_T_TXT,
	    sts_dest_txt, d)) == NULL) {
		d->sts_pending = 0;
		return 0;
	}
	return 1;
}

void
mta_sts_clear(struct mta_dest *d)
{
	if (d->sts_q != NULL)
		dns_query_cancel(d->sts_q);
	d->sts_q = NULL;
	sts_fetch_cancel(d->sts_fetch);
	d->sts_fetch = NULL;
	free(d->sts);
	d->sts = NULL;
	d->sts_pending = 0;
}

struct sts_show {
	struct mta	*mta;
	uint32_t	 peerid;
	const char	*domain;	/* "" for all */
	time_t		 now;
	int		 json;		/* -j: an object per policy */
};

/*
 * show mta-sts -j: the fields of the line; the policy's strings came from
 * the network, checked by the policy parser, and are made JSON-safe.
 */
static void
sts_show_json(struct buf *b, const struct sts_cached *e, const char *when,
    time_t now)
{
	json_t	*mx;
	size_t	 i;

	mx = json_array();
	for (i = 0; i < e->policy.nmx; i++)
		json_array_append_new(mx, jsonw_text(e->policy.mx[i]));
	if (jsonw_line(b, json_pack("{s:o, s:o, s:s, s:I, s:s, s:I, s:b, "
	    "s:o}", "domain", jsonw_text(e->domain), "id", jsonw_text(e->id),
	    "mode", sts_mode_name(e->policy.mode), "max_age",
	    (json_int_t)e->policy.max_age, "fetched", when, "expires_in",
	    (json_int_t)(e->expires - now), "expired", e->expires <= now,
	    "mx", mx)) == -1)
		buf_reset(b);
}

/* One cached policy, one line, for posternctl show mta-sts. */
static int
sts_show_one(const struct sts_cached *e, void *arg)
{
	struct sts_show	*sh = arg;
	struct buf	 b;
	struct tm	 tm;
	time_t		 t = (time_t)e->fetched;
	char		 when[32] = "?";
	size_t		 i;

	if (sh->domain[0] != '\0' && strcasecmp(sh->domain, e->domain) != 0)
		return 0;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&b, 64 * 1024);
	if (sh->json) {
		sts_show_json(&b, e, when, sh->now);
		goto send;
	}
	buf_printf(&b, "%s id=%s mode=%s max_age=%u fetched=%s "
	    "expires-in=%llds", e->domain, e->id,
	    sts_mode_name(e->policy.mode), e->policy.max_age, when,
	    (long long)(e->expires - sh->now));
	for (i = 0; i < e->policy.nmx; i++)
		buf_printf(&b, " mx=%s", e->policy.mx[i]);
	buf_addstr(&b, e->expires <= sh->now ? " (expired)\n" : "\n");
send:
	proc_compose(sh->mta->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
	    sh->peerid, -1, b.data, b.len);
	buf_free(&b);
	return 0;
}

/* posternctl show mta-sts [DOMAIN]: the cache, one policy per line. */
void
mta_ctl_sts_show(struct mta *m, const char *domain, uint32_t peerid,
    int json)
{
	struct sts_show	 sh = { m, peerid, domain, walltime(), json };

	if (m->sts_cache != NULL)
		sts_cache_walk(m->sts_cache, sts_show_one, &sh);
	proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

/*
 * posternctl flush mta-sts DOMAIN|all: forget the cached policies; the
 * destinations look for their policy afresh on their next delivery.
 */
void
mta_ctl_sts_flush(struct mta *m, const char *domain, uint32_t peerid)
{
	struct msg_ctl_count	 c = { 0 };
	struct mta_dest		*d;

	if (m->sts_cache != NULL)
		c.count = sts_cache_delete(m->sts_cache, domain[0] != '\0' ?
		    domain : NULL);
	/*
	 * Connections open now keep what they were opened under; no new
	 * work goes to them (an invalid next-hop answer waits for them to
	 * close), and the next lookup asks for the policy again.
	 */
	TAILQ_FOREACH(d, &m->dests, entry)
		if ((domain[0] == '\0' || strcasecmp(d->domain, domain) == 0) &&
		    !d->sts_pending) {
			mta_sts_clear(d);
			d->mx_valid = 0;
		}
	log_info("mta: MTA-STS cache: %lld polic%s flushed (%s)",
	    (long long)c.count, c.count == 1 ? "y" : "ies",
	    domain[0] != '\0' ? domain : "all");
	proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_COUNT, peerid, -1,
	    &c, sizeof(c));
}

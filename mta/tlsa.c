/*
 * DANE TLSA lookups for a destination's MX hosts (RFC 7672 2.2).
 *
 * Only when the MX RRset (or, for the implicit MX, the proof that there
 * is none) was secure and the host's own address records were secure
 * (2.2.1, 2.2.2) is _25._tcp.HOST looked up; when the addresses were
 * reached through CNAMEs, the expanded name is tried first and the MX
 * name second (2.2.3).  What the lookup says decides how the sessions
 * treat that host (mta/session.c):
 *   secure, usable records   STARTTLS required, the chain must match
 *   secure, none usable      STARTTLS required, not authenticated (2.2)
 *   insecure, or no records  opportunistic TLS, as without DANE
 *   bogus, or no answer      the host is not used now (2.2: a temporary
 *                            failure, never a downgrade to cleartext)
 *
 * Not done: DANE for smarthosts (relay host ...), whose TLS is what the
 * relay action says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mta/mta.h"

static void	mta_tlsa_answer(void *, const struct dns_answer *);

/* One host decided: the destination goes on when all are. */
static void
mta_tlsa_done(struct mta_tlsa_host *t, int dnssec)
{
	mta_debug_tlsa(t, dnssec);
	log_debug("mta: %s: %s: %s", t->dest->name,
	    t->dest->mx.hosts[t->idx].name, t->reason);
	if (--t->dest->tlsa_pending == 0)
		mta_dest_kick(t->dest->mta);
}

static void
mta_tlsa_query(struct mta_tlsa_host *t, const char *base)
{
	char	 qname[DNS_NAME_BUF + 16];

	strlcpy(t->base, base, sizeof(t->base));
	snprintf(qname, sizeof(qname), "_25._tcp.%.255s", base);
	if ((t->q = dns_query(t->dest->mta->dns, qname, DNS_T_TLSA,
	    mta_tlsa_answer, t)) == NULL) {
		t->state = MTA_DANE_TEMPFAIL;
		snprintf(t->reason, sizeof(t->reason), "TLSA name %.300s is not "
		    "a valid domain name", qname);
		mta_tlsa_done(t, -1);
	}
}

/* The secure records of an answer, usable ones kept. */
static void
mta_tlsa_keep(struct mta_tlsa_host *t, const struct dns_answer *ans)
{
	size_t	 i, n = 0;

	t->rr = xcalloc(ans->nrr < DANE_TLSA_MAX ? ans->nrr : DANE_TLSA_MAX,
	    sizeof(*t->rr));
	for (i = 0; i < ans->nrr && n < DANE_TLSA_MAX; i++) {
		if (ans->rr[i].type != DNS_T_TLSA ||
		    dane_tlsa_parse(ans->rr[i].rdata, ans->rr[i].rdlen,
		    &t->rr[n]) == -1)
			continue;
		n++;
	}
	t->n = dane_tlsa_filter(t->rr, n);
	if (t->n > 0) {
		t->state = MTA_DANE_REQUIRED;
		snprintf(t->reason, sizeof(t->reason), "%zu usable TLSA "
		    "record(s) at _25._tcp.%.255s", t->n, t->base);
	} else {
		t->state = MTA_DANE_UNUSABLE;
		snprintf(t->reason, sizeof(t->reason), "TLSA records at "
		    "_25._tcp.%.255s, none usable (tlsa-invalid): TLS without "
		    "authentication", t->base);
	}
}

static void
mta_tlsa_answer(void *arg, const struct dns_answer *ans)
{
	struct mta_tlsa_host	*t = arg;
	const struct mxres_host	*h = &t->dest->mx.hosts[t->idx];

	t->q = NULL;
	if (ans->sec == DNS_SEC_BOGUS) {
		t->state = MTA_DANE_TEMPFAIL;
		t->bogus = 1;
		snprintf(t->reason, sizeof(t->reason), "TLSA lookup for "
		    "_25._tcp.%.255s is bogus (dnssec-invalid): %s", t->base,
		    ans->why_bogus);
	} else if (ans->failed || (ans->rcode != DNS_R_NOERROR &&
	    ans->rcode != DNS_R_NXDOMAIN)) {
		t->state = MTA_DANE_TEMPFAIL;
		snprintf(t->reason, sizeof(t->reason), "TLSA lookup for "
		    "_25._tcp.%.255s failed: %s", t->base, ans->failed ?
		    (ans->timeout ? "timed out" : "no answer") :
		    dns_rcode_name(ans->rcode));
	} else if (ans->nrr == 0) {
		/* 2.2.3: no records at the expanded name: the MX name */
		if (strcmp(t->base, h->name) != 0) {
			mta_tlsa_query(t, h->name);
			return;
		}
		t->state = MTA_DANE_NONE;
		snprintf(t->reason, sizeof(t->reason), "no TLSA records");
	} else if (ans->sec != DNS_SEC_SECURE) {
		/* RFC 7672 2.2: insecure TLSA records are not used */
		t->state = MTA_DANE_NONE;
		snprintf(t->reason, sizeof(t->reason), "TLSA records at "
		    "_25._tcp.%.255s are insecure: not used", t->base);
	} else
		mta_tlsa_keep(t, ans);
	mta_tlsa_done(t, ans->sec);
}

/*
 * After a new next-hop answer: start the TLSA lookups its hosts call for.
 * The destination is not used until they are all in (tlsa_pending).
 */
void
mta_tlsa_start(struct mta_dest *d)
{
	const struct mxres_host	*h;
	struct mta_tlsa_host	*t;
	size_t			 i;

	mta_tlsa_clear(d);
	/* RFC 8689 4.2.2: TLS-Required: No waives DANE */
	if (d->tls == MTA_DEST_TLS_OPTIONAL)
		return;
	if (d->relay->c.has_host || d->mx.status != MXRES_OK ||
	    d->mx.literal || d->mx.nhosts == 0)
		return;
	d->tlsa = xcalloc(d->mx.nhosts, sizeof(*d->tlsa));
	d->ntlsa = d->mx.nhosts;
	for (i = 0; i < d->mx.nhosts; i++) {
		t = &d->tlsa[i];
		t->dest = d;
		t->idx = i;
		h = &d->mx.hosts[i];
		/* 2.2.1, 2.2.2: only through secure MX and address records */
		if (d->mx.mx_sec != DNS_SEC_SECURE ||
		    h->addr_sec != DNS_SEC_SECURE) {
			t->state = MTA_DANE_NONE;
			snprintf(t->reason, sizeof(t->reason), "%s is not "
			    "secure: no DANE", d->mx.mx_sec != DNS_SEC_SECURE ?
			    "the MX lookup" : "the address lookup");
			mta_debug_tlsa(t, d->mx.mx_sec != DNS_SEC_SECURE ?
			    d->mx.mx_sec : h->addr_sec);
			continue;
		}
		t->state = MTA_DANE_PENDING;
		d->tlsa_pending++;
		mta_tlsa_query(t, h->canon[0] != '\0' ? h->canon : h->name);
	}
}

void
mta_tlsa_clear(struct mta_dest *d)
{
	size_t	 i;

	for (i = 0; i < d->ntlsa; i++) {
		if (d->tlsa[i].q != NULL)
			dns_query_cancel(d->tlsa[i].q);
		free(d->tlsa[i].rr);
	}
	free(d->tlsa);
	d->tlsa = NULL;
	d->ntlsa = 0;
	d->tlsa_pending = 0;
}

/* What the sessions use: NULL when the host has no DANE state. */
const struct mta_tlsa_host *
mta_tlsa_host(const struct mta_dest *d, size_t hi)
{
	return hi < d->ntlsa ? &d->tlsa[hi] : NULL;
}

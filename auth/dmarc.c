/*
 * DMARC evaluation (RFC 9989 4.10, 5.3): Author Domain extraction (5.3.1),
 * policy discovery and Organizational Domain determination by the DNS Tree
 * Walk (4.10, 4.10.1, 4.10.2: at most eight queries per walk, psd=y/n,
 * no public suffix list), the p/sp/np choice with the existence check of
 * the Author Domain for np (3.2.13, RFC 8020), identifier alignment of
 * the SPF MAIL FROM domain and passing DKIM d= domains (4.4), the t=y
 * test mode (4.7) and the evaluation record for aggregate reports.
 *
 * An evaluation is a state object that issues one DNS query at a time
 * and continues in the callback, like auth/spf.c.  Every answer of a
 * walk is kept in a per-evaluation cache, so the alignment walks of d=
 * and MAIL FROM domains reuse what the Author Domain's walk learnt; the
 * cache is also the query budget (DMARC_MAX_QUERIES).
 *
 * Choices where RFC 9989 leaves them to the receiver: no From field,
 * several Author Domains or an unparseable From give permerror (5.3.1,
 * 11.5) unless the caller names the Author Domain to evaluate (it takes
 * them from dmarc_author_domains() and picks the strictest outcome with
 * dmarc_strictest(), as 11.5 recommends; auth/inbound.c does); a DNS
 * error during policy discovery gives temperror (4.10.1); a duplicated
 * tag or an invalid policy without rua gives permerror.
 */
#include <sys/types.h>

#include <ctype.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "util.h"

enum wstate {
	W_PENDING = 0,
	W_NONE,		/* no DMARC record (NXDOMAIN, NODATA, none parse) */
	W_ONE,		/* exactly one usable record */
	W_INVALID,	/* exactly one DMARC record, unusable */
	W_MULTI,	/* several: all discarded (4.10 step 2) */
	W_TEMP		/* DNS error */
};

struct wentry {
	char			 name[DMARC_DOMAIN_MAX];	/* the domain */
	enum wstate		 state;
	struct dmarc_record	*rec;		/* W_ONE, W_INVALID */
	char			 err[160];
	int			 exists;	/* _dmarc.name was NOERROR */
};

/* One DNS Tree Walk (4.10). */
struct walk {
	char	 start[DMARC_DOMAIN_MAX];
	char	 targets[DMARC_MAX_WALK][DMARC_DOMAIN_MAX];
	size_t	 ntargets;
	size_t	 idx;		/* next target to look at */
	size_t	 done;		/* targets looked at */
	int	 temp;		/* a DNS error on the way */
	int	 aborted;	/* query budget exhausted */
};

enum cand_state {
	C_TODO = 0,
	C_ALIGNED,
	C_NOT,
	C_TEMP
};

/* An Authenticated Identifier to check for alignment. */
struct cand {
	char		 domain[DMARC_DOMAIN_MAX];
	int		 spf;		/* the SPF domain, else DKIM d= */
	enum cand_state	 state;
};

enum phase {
	PH_AUTHOR,	/* policy discovery walk */
	PH_EXISTS,	/* Author Domain existence for np */
	PH_ALIGN	/* alignment walks */
};

struct dmarc_eval {
	struct dns_ctx		*dns;
	dmarc_done_cb		 cb;
	void			*arg;
	struct dmarc_outcome	 out;
	struct buf		 trace;
	int			 tracing;

	char			 author[DMARC_DOMAIN_MAX];
	struct wentry		 cache[DMARC_MAX_QUERIES];
	size_t			 ncache;
	size_t			 nqueries;

	enum phase		 phase;
	struct walk		 walk;
	struct dns_query	*q;
	struct wentry		*qentry;	/* entry the query fills */

	int			 org_known;
	char			 org[DMARC_DOMAIN_MAX];
	struct wentry		*policy;	/* the applied record's */

	struct cand		 cands[1 + DMARC_MAX_DKIM];
	size_t			 ncands;
	size_t			 cand_idx;
	size_t			 align_walks;

	struct event		*done_ev;
	int			 finished;
};

static void	walk_run(struct dmarc_eval *);
static void	after_author_walk(struct dmarc_eval *);
static void	align_next(struct dmarc_eval *);
static void	finish_eval(struct dmarc_eval *);
static void	finish_result(struct dmarc_eval *);

static void
tr(struct dmarc_eval *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tr(struct dmarc_eval *e, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[1200];

	if (!e->tracing)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_addstr(&e->trace, line);
	buf_addstr(&e->trace, "\n");
}

/* Lower-case, no final dot; -1 if not a usable host name. */
static int
canon_domain(const char *in, char *out, size_t outlen)
{
	size_t	 len, i;

	if (in == NULL)
		return -1;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char	 c = in[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return -1;
		if (c == '.' && (i == 0 || in[i - 1] == '.'))
			return -1;
		out[i] = tolower(c);
	}
	out[len] = '\0';
	return 0;
}

static size_t
count_labels(const char *d)
{
	size_t	 n = 1;

	for (; *d != '\0'; d++)
		if (*d == '.')
			n++;
	return n;
}

/* The last n labels of d. */
static const char *
last_labels(const char *d, size_t n)
{
	size_t	 have = count_labels(d);

	while (have > n) {
		d = strchr(d, '.') + 1;
		have--;
	}
	return d;
}

/* Is d equal to or below parent? */
static int
under(const char *d, const char *parent)
{
	size_t	 dl = strlen(d), pl = strlen(parent);

	if (dl == pl)
		return strcmp(d, parent) == 0;
	return dl > pl && d[dl - pl - 1] == '.' &&
	    strcmp(d + dl - pl, parent) == 0;
}

/*
 * The targets of a tree walk (4.10 steps 1, 3, 4, 7): the domain, then,
 * for eight labels or more, the domain shortened to seven labels, then
 * one label less each time down to the top-level label.
 */
static void
walk_init(struct walk *w, const char *start)
{
	size_t	 x, k;

	memset(w, 0, sizeof(*w));
	strlcpy(w->start, start, sizeof(w->start));
	x = count_labels(start);
	strlcpy(w->targets[w->ntargets++], start, sizeof(w->targets[0]));
	k = x >= 8 ? 7 : x - 1;
	for (; k >= 1 && w->ntargets < DMARC_MAX_WALK; k--)
		strlcpy(w->targets[w->ntargets++], last_labels(start, k),
		    sizeof(w->targets[0]));
}

static struct wentry *
cache_find(struct dmarc_eval *e, const char *name)
{
	size_t	 i;

	for (i = 0; i < e->ncache; i++)
		if (strcmp(e->cache[i].name, name) == 0)
			return &e->cache[i];
	return NULL;
}

static void
add_queried(struct dmarc_eval *e, const char *name)
{
	e->out.queried = xreallocarray(e->out.queried, e->out.nqueried + 1,
	    sizeof(char *));
	e->out.queried[e->out.nqueried++] = xstrdup(name);
}

static int
is_dns_error(const struct dns_answer *ans)
{
	return ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN);
}

static void
record_answer(struct dmarc_eval *e, struct wentry *w,
    const struct dns_answer *ans)
{
	struct dmarc_record	*rec;
	char			*txt, err[160];
	size_t			 i, len, ndmarc = 0;
	int			 rc;

	if (is_dns_error(ans)) {
		w->state = W_TEMP;
		snprintf(w->err, sizeof(w->err), "DNS error (%s%s)",
		    ans->timeout ? "timeout" : dns_rcode_name(ans->rcode),
		    ans->sec == DNS_SEC_BOGUS ? ", DNSSEC bogus" : "");
		tr(e, "  -> %s", w->err);
		return;
	}
	w->exists = ans->rcode == DNS_R_NOERROR;
	w->state = W_NONE;
	rec = xmalloc(sizeof(*rec));
	for (i = 0; i < ans->nrr; i++) {
		/* 4.5: the strings of one record are concatenated. */
		txt = dns_txt_concat(&ans->rr[i], &len);
		rc = dmarc_record_parse(txt, len, rec, err, sizeof(err));
		free(txt);
		if (rc == -1)
			continue;	/* 4.10 step 2: not DMARC, discarded */
		if (++ndmarc > 1)
			continue;
		if (w->rec == NULL)
			w->rec = xmalloc(sizeof(*w->rec));
		*w->rec = *rec;
		w->state = rc == 0 ? W_ONE : W_INVALID;
		strlcpy(w->err, err, sizeof(w->err));
	}
	free(rec);
	if (ndmarc > 1) {
		/* 4.10 step 2: several records at one name are none. */
		w->state = W_MULTI;
		free(w->rec);
		w->rec = NULL;
		snprintf(w->err, sizeof(w->err), "%zu DMARC records, all "
		    "discarded", ndmarc);
	}
	tr(e, "  -> %s, %zu TXT record(s)%s%s%s", dns_rcode_name(ans->rcode),
	    ans->nrr, w->state == W_ONE ? ", a DMARC record" :
	    w->state == W_NONE ? ", no DMARC record" : "",
	    w->err[0] ? ": " : "", w->err);
	if (w->state == W_ONE && w->rec->notes[0] != '\0')
		tr(e, "     (%s)", w->rec->notes);
}

static void
dmarc_dns_cb(void *arg, const struct dns_answer *ans)
{
	struct dmarc_eval	*e = arg;
	struct wentry		*w = e->qentry;

	e->q = NULL;
	e->qentry = NULL;
	if (e->phase == PH_EXISTS) {
		tr(e, "  -> %s", is_dns_error(ans) ? "DNS error" :
		    dns_rcode_name(ans->rcode));
		if (is_dns_error(ans))
			e->out.author_exists = -1;
		else
			e->out.author_exists = ans->rcode != DNS_R_NXDOMAIN;
		after_author_walk(e);
		return;
	}
	record_answer(e, w, ans);
	walk_run(e);
}

/*
 * Look at the walk's next target: from the cache, or start its query
 * (returns 1: wait for the callback).  0: the target is known.
 */
static int
walk_lookup(struct dmarc_eval *e, struct wentry **wp)
{
	struct walk	*wk = &e->walk;
	struct wentry	*w;
	char		 qname[DNS_NAME_BUF];

	if ((w = cache_find(e, wk->targets[wk->idx])) != NULL) {
		*wp = w;
		return 0;
	}
	if (e->ncache >= DMARC_MAX_QUERIES) {
		wk->aborted = 1;
		*wp = NULL;
		return 0;
	}
	w = &e->cache[e->ncache++];
	memset(w, 0, sizeof(*w));
	strlcpy(w->name, wk->targets[wk->idx], sizeof(w->name));
	snprintf(qname, sizeof(qname), "_dmarc.%s", w->name);
	tr(e, "query %s TXT", qname);
	add_queried(e, qname);
	e->nqueries++;
	e->qentry = w;
	e->q = dns_query(e->dns, qname, DNS_T_TXT, dmarc_dns_cb, e);
	if (e->q == NULL) {
		/* Not a valid DNS name (too long): no record can be there. */
		e->qentry = NULL;
		w->state = W_NONE;
		tr(e, "  -> not a valid name");
		*wp = w;
		return 0;
	}
	return 1;
}

/* Is the Organizational Domain of the Author Domain needed? */
static int
need_org(struct dmarc_eval *e, const struct dmarc_record *r)
{
	size_t	 i;

	for (i = 0; i < e->ncands; i++) {
		/* 4.10.2: strict mode and identical names need no walk */
		if ((e->cands[i].spf ? r->aspf : r->adkim) == 's')
			continue;
		if (strcmp(e->cands[i].domain, e->author) != 0)
			return 1;
	}
	return 0;
}

static void
walk_run(struct dmarc_eval *e)
{
	struct walk	*wk = &e->walk;
	struct wentry	*w;

	while (wk->idx < wk->ntargets) {
		if (walk_lookup(e, &w) == 1)
			return;
		if (w == NULL)
			break;		/* budget: the walk is incomplete */
		wk->idx++;
		wk->done = wk->idx;
		if (w->state == W_TEMP) {
			wk->temp = 1;
			break;
		}
		if (e->phase == PH_AUTHOR && wk->idx == 1 &&
		    (w->state == W_INVALID || (w->state == W_ONE &&
		    !need_org(e, w->rec)))) {
			tr(e, "the record of the Author Domain applies; no "
			    "Organizational Domain needed");
			break;
		}
		/* 4.10 steps 2, 6: psd=n or psd=y stops the walk. */
		if ((w->state == W_ONE || w->state == W_INVALID) &&
		    (w->rec->psd == 'y' || w->rec->psd == 'n'))
			break;
	}
	if (e->phase == PH_AUTHOR)
		after_author_walk(e);
	else
		align_next(e);
}

/*
 * 4.10.2: the Organizational Domain from a finished walk, or -1 when a
 * DNS error or the budget left it undetermined.
 */
static int
walk_org(struct dmarc_eval *e, const struct walk *wk, char *org, size_t len)
{
	const struct wentry	*w;
	size_t			 i, shortest = (size_t)-1;

	if (wk->temp || wk->aborted)
		return -1;
	for (i = 0; i < wk->done; i++) {
		w = cache_find(e, wk->targets[i]);
		if (w == NULL || (w->state != W_ONE && w->state != W_INVALID))
			continue;
		if (w->rec->psd == 'n') {
			strlcpy(org, wk->targets[i], len);
			return 0;
		}
		if (w->rec->psd == 'y' && i > 0) {
			/* the domain one label below the PSD */
			strlcpy(org, last_labels(wk->start,
			    count_labels(wk->targets[i]) + 1), len);
			return 0;
		}
		shortest = i;
	}
	strlcpy(org, shortest != (size_t)-1 ? wk->targets[shortest] :
	    wk->start, len);
	return 0;
}

static void
failf(struct dmarc_eval *e, enum dmarc_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
failf(struct dmarc_eval *e, enum dmarc_result r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(e->out.reason, sizeof(e->out.reason), fmt, ap);
	va_end(ap);
	e->out.result = r;
	finish_eval(e);
}

static void
after_author_walk(struct dmarc_eval *e)
{
	struct wentry		*a, *w;
	const struct dmarc_record *r;
	size_t			 i;
	char			 qname[DNS_NAME_BUF];

	a = cache_find(e, e->author);
	if (e->phase == PH_AUTHOR) {
		if (a == NULL || a->state == W_TEMP) {
			failf(e, DMARC_RESULT_TEMPERROR, "DNS error "
			    "looking up _dmarc.%s", e->author);
			return;
		}
		e->org_known = walk_org(e, &e->walk, e->org,
		    sizeof(e->org)) == 0;
		if (a->state == W_ONE || a->state == W_INVALID)
			e->policy = a;
		else if (!e->org_known) {
			failf(e, DMARC_RESULT_TEMPERROR, "DNS error "
			    "during the tree walk for %s", e->author);
			return;
		} else {
			/* 4.10.1: the Organizational Domain, then the PSD */
			w = cache_find(e, e->org);
			if (w != NULL && (w->state == W_ONE ||
			    w->state == W_INVALID))
				e->policy = w;
			for (i = 0; e->policy == NULL && i < e->walk.done;
			    i++) {
				w = cache_find(e, e->walk.targets[i]);
				if (w != NULL && (w->state == W_ONE ||
				    w->state == W_INVALID) &&
				    w->rec->psd == 'y')
					e->policy = w;
			}
		}
		if (e->org_known) {
			strlcpy(e->out.org_domain, e->org,
			    sizeof(e->out.org_domain));
			tr(e, "Organizational Domain of %s: %s", e->author,
			    e->org);
		}
		if (e->policy == NULL) {
			/* 4.10.1: MUST NOT apply DMARC. */
			failf(e, DMARC_RESULT_NONE, "no DMARC policy "
			    "record for %s", e->author);
			return;
		}
		strlcpy(e->out.policy_domain, e->policy->name,
		    sizeof(e->out.policy_domain));
		e->out.have_record = 1;
		e->out.record = *e->policy->rec;
		if (e->policy->state == W_INVALID) {
			failf(e, DMARC_RESULT_PERMERROR, "DMARC record "
			    "of %s unusable: %s", e->policy->name,
			    e->policy->err);
			return;
		}
		tr(e, "policy record: _dmarc.%s", e->policy->name);
	}
	r = e->policy->rec;
	if (e->policy == a || strcmp(e->policy->name, e->author) == 0) {
		e->out.applied = DMARC_APPLIED_P;
		e->out.policy = r->p;
	} else {
		/*
		 * 4.10.1: sp for an existing Author Domain, np for one
		 * that does not exist (3.2.13); np needs the check only
		 * when the record has it.
		 */
		if (r->np != DMARC_POLICY_ABSENT && e->phase == PH_AUTHOR) {
			a = cache_find(e, e->author);
			if (a != NULL && a->exists)
				e->out.author_exists = 1;
			else if (e->nqueries < DMARC_MAX_QUERIES) {
				e->phase = PH_EXISTS;
				strlcpy(qname, e->author, sizeof(qname));
				tr(e, "query %s A (does it exist?)", qname);
				add_queried(e, qname);
				e->nqueries++;
				e->q = dns_query(e->dns, qname, DNS_T_A,
				    dmarc_dns_cb, e);
				if (e->q != NULL)
					return;
			}
		}
		if (r->np != DMARC_POLICY_ABSENT && e->out.author_exists == 0) {
			e->out.applied = DMARC_APPLIED_NP;
			e->out.policy = r->np;
		} else if (r->sp != DMARC_POLICY_ABSENT) {
			e->out.applied = DMARC_APPLIED_SP;
			e->out.policy = r->sp;
		} else {
			e->out.applied = DMARC_APPLIED_P;
			e->out.policy = r->p;
		}
	}
	tr(e, "policy: %s=%s%s", dmarc_applied_name(e->out.applied),
	    dmarc_policy_name(e->out.policy), r->testing ? " (t=y)" : "");
	e->phase = PH_ALIGN;
	e->cand_idx = 0;
	align_next(e);
}

static int
same_org_walk_needed(struct dmarc_eval *e, struct cand *c)
{
	if (!e->org_known) {
		c->state = C_TEMP;
		tr(e, "%s: Organizational Domain of %s unknown", c->domain,
		    e->author);
		return 0;
	}
	if (strcmp(c->domain, e->org) == 0) {
		c->state = C_ALIGNED;
		return 0;
	}
	/* Its Organizational Domain is itself or above: must hold org. */
	if (!under(c->domain, e->org)) {
		c->state = C_NOT;
		return 0;
	}
	if (e->align_walks >= DMARC_MAX_ALIGN_WALKS) {
		c->state = C_NOT;
		tr(e, "%s: too many identifiers, not walked", c->domain);
		return 0;
	}
	return 1;
}

/* 4.4, 4.10.2: check the identifiers in order, walking where needed. */
static void
align_next(struct dmarc_eval *e)
{
	const struct dmarc_record *r = e->policy->rec;
	struct cand		*c;
	char			 org[DMARC_DOMAIN_MAX];

	for (; e->cand_idx < e->ncands; e->cand_idx++) {
		c = &e->cands[e->cand_idx];
		if (c->state == C_TODO) {
			if (!c->spf && e->out.dkim_aligned) {
				c->state = C_NOT;	/* one is enough */
				continue;
			}
			if (strcmp(c->domain, e->author) == 0)
				c->state = C_ALIGNED;
			else if ((c->spf ? r->aspf : r->adkim) == 's')
				c->state = C_NOT;
			else if (same_org_walk_needed(e, c)) {
				tr(e, "tree walk for %s", c->domain);
				e->align_walks++;
				walk_init(&e->walk, c->domain);
				c->state = C_TEMP;	/* until it ends */
				e->walk.idx = 0;
				walk_run(e);
				return;
			}
		} else if (c->state == C_TEMP) {
			/* back from the walk */
			if (walk_org(e, &e->walk, org, sizeof(org)) == -1) {
				if (e->walk.aborted)
					c->state = C_NOT;
				tr(e, "%s: Organizational Domain unknown%s",
				    c->domain, e->walk.aborted ?
				    " (query budget)" : "");
			} else {
				tr(e, "Organizational Domain of %s: %s",
				    c->domain, org);
				c->state = strcmp(org, e->org) == 0 ?
				    C_ALIGNED : C_NOT;
			}
		}
		tr(e, "%s%s: %s", c->spf ? "SPF " : "DKIM d=", c->domain,
		    c->state == C_ALIGNED ? "aligned" : c->state == C_NOT ?
		    "not aligned" : "alignment unknown (DNS error)");
		if (c->state == C_ALIGNED) {
			if (c->spf)
				e->out.spf_aligned = 1;
			else if (!e->out.dkim_aligned) {
				e->out.dkim_aligned = 1;
				strlcpy(e->out.dkim_aligned_domain, c->domain,
				    sizeof(e->out.dkim_aligned_domain));
			}
		}
	}
	finish_result(e);
}

static void
done_cb(int fd, short ev, void *arg)
{
	struct dmarc_eval	*e = arg;

	e->cb(e->arg, &e->out);
	dmarc_eval_cancel(e);
}

/* The result, the policy and the disposition once alignment is known. */
static void
finish_result(struct dmarc_eval *e)
{
	const struct dmarc_record *r = e->policy->rec;
	struct dmarc_outcome	*o = &e->out;
	size_t			 i;
	int			 temp = 0;
	enum dmarc_disposition	 d;

	for (i = 0; i < e->ncands; i++)
		if (e->cands[i].state == C_TEMP)
			temp = 1;
	/* 5.3.5: one aligned identifier is a pass. */
	if (o->spf_aligned || o->dkim_aligned) {
		snprintf(o->reason, sizeof(o->reason), "aligned %s%s%s%s",
		    o->spf_aligned ? "SPF" : "", o->spf_aligned &&
		    o->dkim_aligned ? " and " : "", o->dkim_aligned ?
		    "DKIM d=" : "", o->dkim_aligned ?
		    o->dkim_aligned_domain : "");
		o->result = DMARC_RESULT_PASS;
		o->disposition = o->policy == DMARC_POLICY_NONE ?
		    DMARC_DISP_NONE : DMARC_DISP_PASS;
		finish_eval(e);
		return;
	}
	/* 5.3.6: DNS errors mean neither pass nor fail. */
	if (temp) {
		failf(e, DMARC_RESULT_TEMPERROR, "alignment with %s "
		    "not determined: DNS error", e->author);
		return;
	}
	if (strcmp(e->policy->name, e->author) != 0 &&
	    r->np != DMARC_POLICY_ABSENT && o->author_exists == -1) {
		failf(e, DMARC_RESULT_TEMPERROR, "existence of %s not "
		    "determined: DNS error", e->author);
		return;
	}
	o->result = DMARC_RESULT_FAIL;
	snprintf(o->reason, sizeof(o->reason), "no aligned identifier for "
	    "%s (%zu candidate%s)", e->author, e->ncands,
	    e->ncands == 1 ? "" : "s");
	switch (o->policy) {
	case DMARC_POLICY_REJECT:
		d = DMARC_DISP_REJECT;
		break;
	case DMARC_POLICY_QUARANTINE:
		d = DMARC_DISP_QUARANTINE;
		break;
	default:
		d = DMARC_DISP_NONE;
		break;
	}
	/* 4.7 t=y: one level below the policy. */
	if (r->testing && d != DMARC_DISP_NONE) {
		d = d == DMARC_DISP_REJECT ? DMARC_DISP_QUARANTINE :
		    DMARC_DISP_NONE;
		dmarc_eval_add_reason(&o->eval,
		    DMARC_OVERRIDE_POLICY_TEST_MODE, "t=y");
	}
	o->disposition = d;
	finish_eval(e);
}

/* Fill the evaluation record; the caller hears of it from the loop. */
static void
finish_eval(struct dmarc_eval *e)
{
	struct dmarc_outcome	*o = &e->out;
	struct dmarc_eval_record *er = &o->eval;
	const struct dmarc_record *r = &o->record;
	struct timeval		 tv;

	if (e->finished)
		return;
	e->finished = 1;
	if (o->result != DMARC_RESULT_PASS && o->result != DMARC_RESULT_FAIL)
		o->disposition = DMARC_DISP_NONE;
	er->result = o->result;
	er->count = 1;
	er->disposition = o->disposition;
	er->dkim_aligned_pass = o->dkim_aligned;
	er->spf_aligned_pass = o->spf_aligned;
	strlcpy(er->header_from, o->header_from, sizeof(er->header_from));
	if (o->have_record) {
		er->have_policy = 1;
		strlcpy(er->policy_domain, o->policy_domain,
		    sizeof(er->policy_domain));
		er->p = r->p;
		er->sp = r->sp;
		er->np = r->np;
		er->psd = r->psd;
		er->testing = r->testing;
		er->adkim = r->adkim;
		er->aspf = r->aspf;
		er->fo = r->fo;
	} else {
		er->psd = 'u';
		er->adkim = er->aspf = 'r';
	}
	er->discovery_treewalk = 1;
	tr(e, "result: %s (%s), disposition %s", dmarc_result_name(o->result),
	    o->reason, dmarc_disposition_name(o->disposition));
	if (e->tracing)
		o->trace = xstrdup(buf_cstr(&e->trace));
	e->done_ev = evtimer_new(dns_ctx_base(e->dns), done_cb, e);
	if (e->done_ev == NULL)
		fatalx("dmarc: evtimer_new");
	timerclear(&tv);
	evtimer_add(e->done_ev, &tv);
}

static void
add_cand(struct dmarc_eval *e, const char *domain, int spf)
{
	size_t	 i;

	if (e->ncands >= sizeof(e->cands) / sizeof(e->cands[0]))
		return;
	for (i = 0; i < e->ncands; i++)
		if (e->cands[i].spf == spf &&
		    strcmp(e->cands[i].domain, domain) == 0)
			return;
	strlcpy(e->cands[e->ncands].domain, domain,
	    sizeof(e->cands[0].domain));
	e->cands[e->ncands].spf = spf;
	e->ncands++;
}

/* Copy the inputs into the evaluation record and the identifier list. */
static void
setup(struct dmarc_eval *e, const struct dmarc_params *p)
{
	struct dmarc_eval_record *er = &e->out.eval;
	const char		*mf = p->mail_from, *at;
	char			 d[DMARC_DOMAIN_MAX];
	size_t			 i;
	int			 null_path;

	er->when = p->now ? p->now : time(NULL);
	strlcpy(er->source_ip, p->source_ip ? p->source_ip : "",
	    sizeof(er->source_ip));
	if (p->envelope_to == NULL || canon_domain(p->envelope_to,
	    er->envelope_to, sizeof(er->envelope_to)) == -1)
		er->envelope_to[0] = '\0';
	if (mf != NULL && (at = strrchr(mf, '@')) != NULL)
		mf = at + 1;
	null_path = mf == NULL || *mf == '\0';
	if (!null_path && canon_domain(mf, d, sizeof(d)) == 0)
		strlcpy(er->envelope_from, d, sizeof(er->envelope_from));
	/*
	 * 3.2.4: DMARC uses the MAIL FROM identity only; for a null path
	 * that is postmaster@<HELO> (RFC 7208 2.4), so a HELO result counts
	 * then and only then.
	 */
	if (p->spf_scope == SPF_ID_MAILFROM || null_path) {
		if (null_path) {
			if (p->helo != NULL && canon_domain(p->helo, d,
			    sizeof(d)) == 0)
				er->have_spf = 1;
		} else if (er->envelope_from[0] != '\0')
			er->have_spf = 1;
		if (er->have_spf) {
			strlcpy(er->spf_domain, d, sizeof(er->spf_domain));
			er->spf_result = p->spf;
			if (p->spf == SPF_PASS)
				add_cand(e, d, 1);
		}
	}
	for (i = 0; i < p->ndkim; i++) {
		const struct dkim_sigresult *s = &p->dkim[i];

		if (s->d == NULL || canon_domain(s->d, d, sizeof(d)) == -1)
			continue;
		if (er->ndkim < DMARC_MAX_DKIM) {
			strlcpy(er->dkim[er->ndkim].domain, d,
			    sizeof(er->dkim[0].domain));
			strlcpy(er->dkim[er->ndkim].selector, s->s ? s->s : "",
			    sizeof(er->dkim[0].selector));
			er->dkim[er->ndkim].result = s->result;
			er->ndkim++;
		}
		/* 4.4.1: each passing signature is a DKIM identifier. */
		if (s->result == DKIM_PASS)
			add_cand(e, d, 0);
	}
}

struct dmarc_eval *
dmarc_eval_start(struct dns_ctx *dns, const struct dmarc_params *p,
    dmarc_done_cb cb, void *arg)
{
	struct dmarc_eval	*e;
	char			 err[256];

	e = xcalloc(1, sizeof(*e));
	e->dns = dns;
	e->cb = cb;
	e->arg = arg;
	e->tracing = p->trace;
	buf_init(&e->trace, DMARC_TRACE_MAX);
	e->out.author_exists = -1;
	e->out.discovery = "treewalk";
	setup(e, p);
	if (p->author_domain != NULL) {
		if (canon_domain(p->author_domain, e->author,
		    sizeof(e->author)) == -1) {
			failf(e, DMARC_RESULT_PERMERROR, "bad Author Domain");
			return e;
		}
	} else if (dmarc_author_domain(p->from_fields, p->nfrom, e->author,
	    sizeof(e->author), err, sizeof(err)) == -1) {
		tr(e, "no single Author Domain: %s", err);
		failf(e, DMARC_RESULT_PERMERROR, "%s", err);
		return e;
	}
	strlcpy(e->out.header_from, e->author, sizeof(e->out.header_from));
	tr(e, "Author Domain %s; %zu identifier(s) to align", e->author,
	    e->ncands);
	e->phase = PH_AUTHOR;
	walk_init(&e->walk, e->author);
	walk_run(e);
	return e;
}

void
dmarc_eval_cancel(struct dmarc_eval *e)
{
	size_t	 i;

	if (e == NULL)
		return;
	if (e->q != NULL)
		dns_query_cancel(e->q);
	if (e->done_ev != NULL)
		event_free(e->done_ev);
	for (i = 0; i < e->ncache; i++)
		free(e->cache[i].rec);
	dmarc_outcome_clear(&e->out);
	buf_free(&e->trace);
	free(e);
}

/* How strict an outcome is, for dmarc_strictest(). */
static int
strictness(const struct dmarc_outcome *o)
{
	switch (o->result) {
	case DMARC_RESULT_FAIL:
		if (o->disposition == DMARC_DISP_REJECT)
			return 7;
		return o->disposition == DMARC_DISP_QUARANTINE ? 5 : 4;
	case DMARC_RESULT_TEMPERROR:
		return 6;
	case DMARC_RESULT_PERMERROR:
		return 3;
	case DMARC_RESULT_PASS:
		return 2;
	case DMARC_RESULT_NONE:
		break;
	}
	return 1;
}

size_t
dmarc_strictest(const struct dmarc_outcome *const *o, size_t n)
{
	size_t	 i, best = 0;

	for (i = 1; i < n; i++)
		if (strictness(o[i]) > strictness(o[best]))
			best = i;
	return best;
}

void
dmarc_outcome_copy(struct dmarc_outcome *dst, const struct dmarc_outcome *src)
{
	size_t	 i;

	*dst = *src;
	dst->queried = NULL;
	if (src->nqueried > 0) {
		dst->queried = xreallocarray(NULL, src->nqueried,
		    sizeof(char *));
		for (i = 0; i < src->nqueried; i++)
			dst->queried[i] = xstrdup(src->queried[i]);
	}
	dst->trace = src->trace ? xstrdup(src->trace) : NULL;
}

void
dmarc_outcome_clear(struct dmarc_outcome *o)
{
	size_t	 i;

	for (i = 0; i < o->nqueried; i++)
		free(o->queried[i]);
	free(o->queried);
	free(o->trace);
	o->queried = NULL;
	o->nqueried = 0;
	o->trace = NULL;
}

struct sync_state {
	int			 done;
	struct dmarc_outcome	*out;
};

static void
sync_done(void *arg, const struct dmarc_outcome *o)
{
	struct sync_state	*s = arg;

	dmarc_outcome_copy(s->out, o);
	s->done = 1;
}

enum dmarc_result
dmarc_check_sync(struct dns_ctx *dns, const struct dmarc_params *p,
    struct dmarc_outcome *out)
{
	struct sync_state	 s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	dmarc_eval_start(dns, p, sync_done, &s);
	while (!s.done)
		if (dns_run_once(dns) == -1)
			fatalx("dmarc: event loop failed");
	return out->result;
}

static void
ar_prop(struct dmarc_ar_prop *props, size_t *n, const char *name,
    const char *value)
{
	strlcpy(props[*n].name, name, sizeof(props[0].name));
	strlcpy(props[*n].value, value, sizeof(props[0].value));
	(*n)++;
}

size_t
dmarc_ar_props(const struct dmarc_outcome *o, struct dmarc_ar_prop *props)
{
	size_t			 n = 0;
	enum dmarc_policy	 pol = o->policy;

	if (o->header_from[0] != '\0')
		ar_prop(props, &n, "header.from", o->header_from);
	if (!o->have_record || (o->result != DMARC_RESULT_PASS &&
	    o->result != DMARC_RESULT_FAIL))
		return n;
	/* 9.1: the policy applied, or to be applied, after t=y. */
	if (o->record.testing && pol == DMARC_POLICY_REJECT)
		pol = DMARC_POLICY_QUARANTINE;
	else if (o->record.testing && pol == DMARC_POLICY_QUARANTINE)
		pol = DMARC_POLICY_NONE;
	ar_prop(props, &n, "policy.dmarc", dmarc_policy_name(pol));
	ar_prop(props, &n, "policy.published-domain-policy",
	    dmarc_policy_name(o->record.p));
	if (o->record.sp != DMARC_POLICY_ABSENT)
		ar_prop(props, &n, "policy.published-subdomain-policy",
		    dmarc_policy_name(o->record.sp));
	return n;
}

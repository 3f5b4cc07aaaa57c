/*
 * iprev (RFC 8601 3 and 2.7.3): the PTR names of the client's address are
 * looked up, and each of the first IPREV_MAX_NAMES is forward-confirmed by
 * an A (IPv4) or AAAA (IPv6) query that must return the address again.
 * IPv4-mapped IPv6 clients are checked as IPv4.
 *
 * Results, as RFC 8601 2.7.3 defines them:
 *   pass       a PTR name resolves back to the address;
 *   fail       PTR names exist but none resolves back (forward answers
 *              without the address, NXDOMAIN or no data);
 *   temperror  a DNS failure (SERVFAIL, timeout, DNSSEC-bogus) on the PTR
 *              query, or on a forward query when no other name confirmed;
 *   permerror  no PTR data is published (NXDOMAIN or an empty answer), or
 *              the address itself is malformed.
 *
 * The forward queries run in parallel.  When several names confirm, the
 * one equal to the HELO name is reported (so helo_match says whether the
 * client named itself by its confirmed name), else the first in the PTR
 * answer.  Not done: DNSSEC status is not part of the result.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"
#include "dns.h"
#include "auth/iprev.h"
#include "log.h"
#include "util.h"

enum fwd_state {
	FWD_PENDING = 0,
	FWD_CONFIRMED,
	FWD_NOMATCH,
	FWD_TEMP,
	FWD_BADNAME
};

struct iprev_fwd {
	struct iprev_eval	*e;
	struct dns_query	*q;
	enum fwd_state		 state;
	char			 name[DNS_NAME_BUF];
};

struct iprev_eval {
	struct dns_ctx		*dns;
	iprev_done_cb		 cb;
	void			*arg;
	struct iprev_outcome	 out;
	struct buf		 trace;
	int			 tracing;

	int			 af;
	uint8_t			 ip[16];
	char			 helo[DNS_NAME_BUF];
	char			 ptrname[DNS_NAME_BUF];

	struct dns_query	*ptr_q;
	struct iprev_fwd	 fwd[IPREV_MAX_NAMES];
	size_t			 nfwd;
	size_t			 pending;
	char			 temp_why[DNS_NAME_BUF + 64];

	struct event		*done_ev;
	int			 finished;
};

static void	tr(struct iprev_eval *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	finish(struct iprev_eval *, enum iprev_result, const char *,
		    ...) __attribute__((format(printf, 3, 4)));

const char *
iprev_result_name(enum iprev_result r)
{
	switch (r) {
	case IPREV_PASS:	return "pass";
	case IPREV_FAIL:	return "fail";
	case IPREV_TEMPERROR:	return "temperror";
	case IPREV_PERMERROR:	return "permerror";
	}
	return "unknown";
}

static void
tr(struct iprev_eval *e, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	if (!e->tracing)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_addstr(&e->trace, line);
	buf_addstr(&e->trace, "\n");
}

static void
done_cb(int fd, short ev, void *arg)
{
	struct iprev_eval	*e = arg;

	e->cb(e->arg, &e->out);
	iprev_eval_cancel(e);
}

/* The end of the check; the caller hears of it from the loop. */
static void
finish(struct iprev_eval *e, enum iprev_result r, const char *fmt, ...)
{
	struct timeval	 tv;
	va_list		 ap;
	size_t		 i;

	if (e->finished)
		return;
	e->finished = 1;
	/* Queries still running cannot change the result now. */
	for (i = 0; i < e->nfwd; i++)
		if (e->fwd[i].q != NULL) {
			dns_query_cancel(e->fwd[i].q);
			e->fwd[i].q = NULL;
		}
	e->out.result = r;
	va_start(ap, fmt);
	vsnprintf(e->out.reason, sizeof(e->out.reason), fmt, ap);
	va_end(ap);
	tr(e, "result: %s (%s)", iprev_result_name(r), e->out.reason);
	if (e->tracing)
		e->out.trace = xstrdup(buf_cstr(&e->trace));
	e->done_ev = evtimer_new(dns_ctx_base(e->dns), done_cb, e);
	if (e->done_ev == NULL)
		fatalx("iprev: evtimer_new");
	timerclear(&tv);
	evtimer_add(e->done_ev, &tv);
}

static int
is_dns_error(const struct dns_answer *ans)
{
	/* Bogus: what a validating resolver answers SERVFAIL for. */
	return ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN);
}

static const char *
dns_error_name(const struct dns_answer *ans)
{
	if (ans->timeout)
		return "timeout";
	if (ans->sec == DNS_SEC_BOGUS)
		return "DNSSEC-bogus answer";
	return dns_rcode_name(ans->rcode);
}

/* All forward answers are in, or one settled the question: decide. */
static void
decide(struct iprev_eval *e)
{
	struct iprev_fwd	*best = NULL;
	size_t			 i;

	for (i = 0; i < e->nfwd; i++) {
		if (e->fwd[i].state != FWD_CONFIRMED)
			continue;
		if (best == NULL)
			best = &e->fwd[i];
		if (e->helo[0] != '\0' &&
		    dns_name_equal(e->fwd[i].name, e->helo)) {
			best = &e->fwd[i];
			break;
		}
	}
	if (best != NULL) {
		strlcpy(e->out.name, best->name, sizeof(e->out.name));
		e->out.helo_match = e->helo[0] != '\0' &&
		    dns_name_equal(best->name, e->helo);
		finish(e, IPREV_PASS, "%s resolves back to %s", best->name,
		    e->out.ip);
		return;
	}
	/* RFC 8601 2.7.3: a transient error with no answer to show for it. */
	if (e->temp_why[0] != '\0') {
		finish(e, IPREV_TEMPERROR, "%s; no PTR name of %s confirmed",
		    e->temp_why, e->out.ip);
		return;
	}
	finish(e, IPREV_FAIL, "no PTR name of %s resolves back to it (%s%s)",
	    e->out.ip, e->fwd[0].name, e->nfwd > 1 ? ", ..." : "");
}

static void
fwd_cb(void *arg, const struct dns_answer *ans)
{
	struct iprev_fwd	*f = arg;
	struct iprev_eval	*e = f->e;
	size_t			 i;

	f->q = NULL;
	e->pending--;
	if (is_dns_error(ans)) {
		f->state = FWD_TEMP;
		tr(e, "%s %s: DNS %s", f->name, dns_type_name(ans->qtype),
		    dns_error_name(ans));
		if (e->temp_why[0] == '\0')
			snprintf(e->temp_why, sizeof(e->temp_why),
			    "DNS %s for %s %s", dns_error_name(ans), f->name,
			    dns_type_name(ans->qtype));
	} else {
		f->state = FWD_NOMATCH;
		for (i = 0; i < ans->nrr; i++) {
			const struct dns_rr *rr = &ans->rr[i];

			if ((e->af == AF_INET && rr->type == DNS_T_A &&
			    memcmp(&rr->u.a, e->ip, 4) == 0) ||
			    (e->af == AF_INET6 && rr->type == DNS_T_AAAA &&
			    memcmp(&rr->u.aaaa, e->ip, 16) == 0)) {
				f->state = FWD_CONFIRMED;
				break;
			}
		}
		tr(e, "%s %s: %s, %zu record%s, %s", f->name,
		    dns_type_name(ans->qtype), dns_rcode_name(ans->rcode),
		    ans->nrr, ans->nrr == 1 ? "" : "s",
		    f->state == FWD_CONFIRMED ? "confirms the address" :
		    "does not confirm the address");
	}
	/* Nothing can beat a confirmed name that is also the HELO name. */
	if (e->pending == 0 || (f->state == FWD_CONFIRMED &&
	    e->helo[0] != '\0' && dns_name_equal(f->name, e->helo)))
		decide(e);
}

static void
ptr_cb(void *arg, const struct dns_answer *ans)
{
	struct iprev_eval	*e = arg;
	struct iprev_fwd	*f;
	uint16_t		 type = e->af == AF_INET ? DNS_T_A : DNS_T_AAAA;
	size_t			 i;

	e->ptr_q = NULL;
	if (is_dns_error(ans)) {
		tr(e, "%s PTR: DNS %s", e->ptrname, dns_error_name(ans));
		finish(e, IPREV_TEMPERROR, "DNS %s for %s PTR",
		    dns_error_name(ans), e->ptrname);
		return;
	}
	tr(e, "%s PTR: %s, %zu record%s", e->ptrname,
	    dns_rcode_name(ans->rcode), ans->nrr, ans->nrr == 1 ? "" : "s");
	/* RFC 8601 2.7.3: no PTR data published is a permerror. */
	if (ans->nrr == 0) {
		finish(e, IPREV_PERMERROR, "no PTR record for %s (%s)",
		    e->out.ip, ans->rcode == DNS_R_NXDOMAIN ? "NXDOMAIN" :
		    "no data");
		return;
	}
	e->out.nnames = ans->nrr;
	e->nfwd = ans->nrr < IPREV_MAX_NAMES ? ans->nrr : IPREV_MAX_NAMES;
	if (ans->nrr > IPREV_MAX_NAMES)
		tr(e, "only the first %d of %zu PTR names are tried",
		    IPREV_MAX_NAMES, ans->nrr);
	for (i = 0; i < e->nfwd; i++) {
		f = &e->fwd[i];
		f->e = e;
		strlcpy(f->name, ans->rr[i].u.name, sizeof(f->name));
	}
	/* Start every query before any answer can arrive (never inline). */
	for (i = 0; i < e->nfwd; i++) {
		f = &e->fwd[i];
		tr(e, "query %s %s", f->name, dns_type_name(type));
		f->q = dns_query(e->dns, f->name, type, fwd_cb, f);
		if (f->q == NULL) {
			f->state = FWD_BADNAME;
			tr(e, "%s is not a valid domain name", f->name);
		} else
			e->pending++;
	}
	if (e->pending == 0)
		decide(e);
}

/* The client address, IPv4-mapped IPv6 taken as the IPv4 it carries. */
static int
parse_ip(struct iprev_eval *e, const char *ip)
{
	char		 ipbuf[INET6_ADDRSTRLEN + 1];
	struct in6_addr	 a6;

	if (ip == NULL || strlcpy(ipbuf, ip, sizeof(ipbuf)) >= sizeof(ipbuf))
		return -1;
	if (inet_pton(AF_INET, ipbuf, e->ip) == 1)
		e->af = AF_INET;
	else if (inet_pton(AF_INET6, ipbuf, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			e->af = AF_INET;
			memcpy(e->ip, a6.s6_addr + 12, 4);
		} else {
			e->af = AF_INET6;
			memcpy(e->ip, a6.s6_addr, 16);
		}
	} else
		return -1;
	if (inet_ntop(e->af, e->ip, e->out.ip, sizeof(e->out.ip)) == NULL)
		return -1;
	return 0;
}

struct iprev_eval *
iprev_eval_start(struct dns_ctx *dns, const struct iprev_params *p,
    iprev_done_cb cb, void *arg)
{
	struct iprev_eval	*e;

	e = xcalloc(1, sizeof(*e));
	e->dns = dns;
	e->cb = cb;
	e->arg = arg;
	e->tracing = p->trace;
	buf_init(&e->trace, IPREV_TRACE_MAX);
	strlcpy(e->helo, p->helo ? p->helo : "", sizeof(e->helo));
	if (parse_ip(e, p->ip) == -1) {
		strlcpy(e->out.ip, "", sizeof(e->out.ip));
		finish(e, IPREV_PERMERROR, "invalid IP address \"%.64s\"",
		    p->ip ? p->ip : "");
		return e;
	}
	if (dns_ptr_name(e->af, e->ip, e->ptrname, sizeof(e->ptrname)) ==
	    -1) {
		finish(e, IPREV_PERMERROR, "no reverse name for %s",
		    e->out.ip);
		return e;
	}
	tr(e, "iprev %s (HELO %s)", e->out.ip,
	    e->helo[0] != '\0' ? e->helo : "none");
	tr(e, "query %s PTR", e->ptrname);
	e->ptr_q = dns_query(dns, e->ptrname, DNS_T_PTR, ptr_cb, e);
	if (e->ptr_q == NULL)
		finish(e, IPREV_PERMERROR, "cannot query %s", e->ptrname);
	return e;
}

void
iprev_eval_cancel(struct iprev_eval *e)
{
	size_t	 i;

	if (e == NULL)
		return;
	if (e->ptr_q != NULL)
		dns_query_cancel(e->ptr_q);
	for (i = 0; i < e->nfwd; i++)
		if (e->fwd[i].q != NULL)
			dns_query_cancel(e->fwd[i].q);
	if (e->done_ev != NULL)
		event_free(e->done_ev);
	free(e->out.trace);
	buf_free(&e->trace);
	free(e);
}

struct sync_state {
	int			 done;
	struct iprev_outcome	*out;
};

static void
sync_done(void *arg, const struct iprev_outcome *o)
{
	struct sync_state	*s = arg;

	*s->out = *o;
	s->out->trace = o->trace ? xstrdup(o->trace) : NULL;
	s->done = 1;
}

enum iprev_result
iprev_check_sync(struct dns_ctx *dns, const struct iprev_params *p,
    struct iprev_outcome *out)
{
	struct sync_state	 s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	iprev_eval_start(dns, p, sync_done, &s);
	while (!s.done)
		if (dns_run_once(dns) == -1)
			fatalx("iprev: event loop failed");
	return out->result;
}

void
iprev_outcome_clear(struct iprev_outcome *o)
{
	free(o->trace);
	o->trace = NULL;
}

void
iprev_authres_method(const struct iprev_outcome *o,
    struct authres_method *m, struct authres_prop *prop)
{
	memset(m, 0, sizeof(*m));
	memset(prop, 0, sizeof(*prop));
	m->name = "iprev";
	m->result = iprev_result_name(o->result);
	/* RFC 8601 2.7.3: the confirmed name is worth a comment. */
	if (o->name[0] != '\0')
		m->comment = o->name;
	else
		m->reason = o->reason;
	if (o->ip[0] != '\0') {
		prop->ptype = "policy";
		prop->property = "iprev";
		prop->value = o->ip;
		m->props = prop;
		m->nprops = 1;
	}
}

/*
 * SPF check_host() (RFC 7208 4, 5, 6): record lookup and selection (4.4,
 * 4.5), the record grammar (4.6.1, 12), every mechanism (5.1 to 5.7) with
 * dual CIDR lengths, the modifiers redirect (6.1) and exp (6.2), the
 * processing limits (4.6.4: 10 DNS-querying terms, 2 void lookups, 10 MX
 * and PTR names), include result mapping (5.2), domain validation (4.3) and
 * IPv4-mapped IPv6 clients treated as IPv4.
 *
 * An evaluation is a state object: it issues one DNS query at a time through
 * lib/dns.h and continues in the callback, so it runs the same way inside
 * authd's event loop and in posternctl or the tests (spf_check_sync()).
 * include and redirect use an explicit stack of frames, bounded by the
 * lookup limit.  The record parser is spf_record.c, macros spf_macro.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "auth/spf.h"
#include "auth/spf_record.h"
#include "util.h"

struct spf_frame {
	char		 domain[DNS_NAME_BUF];
	struct spf_record rec;
	int		 have_rec;
	size_t		 pos;
	int		 include;	/* evaluating an include target */
	int		 redirected;	/* reached through redirect= */
	int		 counted;	/* current term counted in budget */
};

enum spf_op {
	OP_NONE,
	OP_RECORD,
	OP_A,
	OP_MX,
	OP_MX_ADDR,
	OP_PTR,
	OP_PTR_ADDR,
	OP_EXISTS,
	OP_EXP
};

enum spf_cont {
	CONT_RUN,		/* re-enter the current term */
	CONT_EXP_SPEC,		/* expand exp= and fetch it */
	CONT_EXP_TEXT		/* expand the fetched explanation */
};

struct spf_eval {
	struct dns_ctx		*dns;
	spf_done_cb		 cb;
	void			*arg;
	struct spf_outcome	 out;
	struct buf		 trace;
	int			 tracing;

	/* check_host() arguments and macro values */
	struct spf_macro_env	 env;
	char			 sender[1024];
	char			 local[1024];
	char			 sender_domain[DNS_NAME_BUF];
	char			 helo[DNS_NAME_BUF];
	char			 receiver[DNS_NAME_BUF];
	char			 pname[DNS_NAME_BUF];
	int			 af;
	uint8_t			 ip[16];

	struct dns_budget	 budget;
	struct spf_frame	*stack[SPF_MAX_DEPTH];
	int			 depth;

	enum spf_op		 op;
	struct dns_query	*q;
	char			 target[DNS_NAME_BUF];
	char			*names[SPF_MAX_NAMES];
	size_t			 nnames;
	size_t			 name_idx;

	/* validated names of <ip> (5.5), shared by ptr and %{p} */
	int			 validated_done;
	int			 ptr_void;
	int			 ptr_void_counted;
	char			*validated[SPF_MAX_NAMES];
	size_t			 nvalidated;
	enum spf_cont		 cont;

	char			*exp_text;
	char			 reason[512];
	struct event		*done_ev;
	int			 finished;
};

static void	spf_run(struct spf_eval *);
static void	spf_dns_cb(void *, const struct dns_answer *);
static void	frame_result(struct spf_eval *, enum spf_result, const char *);

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:		return "none";
	case SPF_NEUTRAL:	return "neutral";
	case SPF_PASS:		return "pass";
	case SPF_FAIL:		return "fail";
	case SPF_SOFTFAIL:	return "softfail";
	case SPF_TEMPERROR:	return "temperror";
	case SPF_PERMERROR:	return "permerror";
	}
	return "unknown";
}

static void
tr(struct spf_eval *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
sfmt(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf for messages where truncation is acceptable. */
static void
sfmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

static void
tr(struct spf_eval *e, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	int	 i;

	if (!e->tracing)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 1; i < e->depth; i++)
		buf_addstr(&e->trace, "  ");
	buf_addstr(&e->trace, line);
	buf_addstr(&e->trace, "\n");
}

/* Evaluation. */

static int
ip_in_net(int af, const uint8_t *ip, const uint8_t *net, int prefix)
{
	int	 bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(ip, net, (size_t)bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((ip[bytes] ^ net[bytes]) & (0xff << (8 - bits))) == 0;
}

static int
rr_matches(struct spf_eval *e, const struct dns_rr *rr, int c4, int c6)
{
	if (e->af == AF_INET && rr->type == DNS_T_A)
		return ip_in_net(AF_INET, e->ip, (const uint8_t *)&rr->u.a,
		    c4 < 0 ? 32 : c4);
	if (e->af == AF_INET6 && rr->type == DNS_T_AAAA)
		return ip_in_net(AF_INET6, e->ip, rr->u.aaaa.s6_addr,
		    c6 < 0 ? 128 : c6);
	return 0;
}

static struct spf_frame *
top(struct spf_eval *e)
{
	return e->stack[e->depth - 1];
}

static struct spf_term *
cur_term(struct spf_eval *e)
{
	struct spf_frame *f = top(e);

	return &f->rec.terms[f->pos];
}

static void
frame_free(struct spf_frame *f)
{
	spf_record_free(&f->rec);
	free(f);
}

static void
clear_names(struct spf_eval *e)
{
	size_t	 i;

	for (i = 0; i < e->nnames; i++)
		free(e->names[i]);
	e->nnames = e->name_idx = 0;
}

static void
done_cb(int fd, short ev, void *arg)
{
	struct spf_eval	*e = arg;

	e->cb(e->arg, &e->out);
	spf_eval_cancel(e);
}

/* The end of the evaluation; the caller hears of it from the loop. */
static void
finish(struct spf_eval *e, enum spf_result r, const char *reason)
{
	struct timeval	 tv;

	if (e->finished)
		return;
	e->finished = 1;
	e->out.result = r;
	strlcpy(e->out.reason, reason, sizeof(e->out.reason));
	e->out.lookups = e->budget.lookups;
	e->out.voids = e->budget.voids;
	if (r == SPF_FAIL && e->exp_text != NULL) {
		e->out.explanation = e->exp_text;
		e->exp_text = NULL;
	}
	tr(e, "result: %s (%s); %u DNS-querying terms, %u void lookups",
	    spf_result_name(r), reason, e->budget.lookups, e->budget.voids);
	if (e->tracing) {
		e->out.trace = xstrdup(buf_cstr(&e->trace));
	}
	e->done_ev = evtimer_new(dns_ctx_base(e->dns), done_cb, e);
	if (e->done_ev == NULL)
		fatalx("spf: evtimer_new");
	timerclear(&tv);
	evtimer_add(e->done_ev, &tv);
}

static void
failf(struct spf_eval *e, enum spf_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
failf(struct spf_eval *e, enum spf_result r, const char *fmt, ...)
{
	char	 reason[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	finish(e, r, reason);
}

static int
query(struct spf_eval *e, const char *name, uint16_t type, enum spf_op op)
{
	e->op = op;
	tr(e, "query %s %s", name, dns_type_name(type));
	e->q = dns_query(e->dns, name, type, spf_dns_cb, e);
	if (e->q == NULL) {
		e->op = OP_NONE;
		return -1;
	}
	return 0;
}

static void
push_frame(struct spf_eval *e, const char *domain, int include)
{
	struct spf_frame	*f;

	f = xcalloc(1, sizeof(*f));
	strlcpy(f->domain, domain, sizeof(f->domain));
	f->include = include;
	e->stack[e->depth++] = f;
}

/*
 * Expand a term's domain-spec (or <domain> when absent) into e->target,
 * truncated per 4.8; -1 (permerror given) on a bad expansion.
 */
static int
expand_target(struct spf_eval *e, const struct spf_term *t)
{
	char	 buf[SPF_MAX_EXPANSION], err[128];
	size_t	 len;

	if (t->spec == NULL) {
		strlcpy(e->target, top(e)->domain, sizeof(e->target));
		return 0;
	}
	e->env.domain = top(e)->domain;
	if (spf_macro_expand(t->spec, t->speclen, &e->env, SPF_MACRO_DOMAIN,
	    buf, sizeof(buf), err, sizeof(err)) == -1) {
		failf(e, SPF_PERMERROR, "%s in %s: %s", t->text,
		    top(e)->domain, err);
		return -1;
	}
	spf_domain_truncate(buf);
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '.')
		buf[len - 1] = '\0';
	strlcpy(e->target, buf, sizeof(e->target));
	if (strcmp(buf, t->spec) != 0)
		tr(e, "%s expands to %s", t->text, buf);
	return 0;
}

static int
needs_p(const struct spf_term *t)
{
	return t->kind == K_PTR ||
	    (t->spec != NULL && spf_macro_uses_p(t->spec, t->speclen));
}

/* Validated domain names of <ip> (RFC 7208 5.5), for ptr and %{p}. */
static void
validate_start(struct spf_eval *e, enum spf_cont cont)
{
	char	 name[DNS_NAME_BUF];

	e->cont = cont;
	clear_names(e);
	tr(e, "validating the names of the client (PTR, then addresses)");
	dns_ptr_name(e->af, e->ip, name, sizeof(name));
	if (query(e, name, DNS_T_PTR, OP_PTR) == -1) {
		e->validated_done = 1;
		spf_run(e);
	}
}

static void validate_next(struct spf_eval *);
static void exp_start(struct spf_eval *);
static void exp_text(struct spf_eval *, const char *);

static void
validate_done(struct spf_eval *e)
{
	size_t	 i;

	e->validated_done = 1;
	clear_names(e);
	tr(e, "%zu validated name(s)", e->nvalidated);
	for (i = 0; i < e->nvalidated; i++)
		tr(e, "  %s", e->validated[i]);
	switch (e->cont) {
	case CONT_RUN:
		spf_run(e);
		break;
	case CONT_EXP_SPEC:
		exp_start(e);
		break;
	case CONT_EXP_TEXT:
		exp_text(e, NULL);
		break;
	}
}

static void
validate_next(struct spf_eval *e)
{
	while (e->name_idx < e->nnames) {
		if (query(e, e->names[e->name_idx], e->af == AF_INET ?
		    DNS_T_A : DNS_T_AAAA, OP_PTR_ADDR) == 0)
			return;
		e->name_idx++;
	}
	validate_done(e);
}

/* Pick %{p} for the current <domain> (RFC 7208 7.3). */
static void
choose_pname(struct spf_eval *e)
{
	const char	*d = top(e)->domain;
	size_t		 i, dl = strlen(d), nl;

	e->env.validated = NULL;
	for (i = 0; i < e->nvalidated; i++)
		if (dns_name_equal(e->validated[i], d)) {
			e->env.validated = e->validated[i];
			return;
		}
	for (i = 0; i < e->nvalidated; i++) {
		nl = strlen(e->validated[i]);
		if (nl > dl && e->validated[i][nl - dl - 1] == '.' &&
		    strcasecmp(e->validated[i] + nl - dl, d) == 0) {
			e->env.validated = e->validated[i];
			return;
		}
	}
	if (e->nvalidated > 0)
		e->env.validated = e->validated[0];
}

static int
count_void(struct spf_eval *e)
{
	if (dns_budget_void(&e->budget) == -1) {
		failf(e, SPF_PERMERROR, "%u void lookup limit exceeded",
		    (unsigned)SPF_MAX_VOID);
		return -1;
	}
	tr(e, "void lookup %u of %u", e->budget.voids, SPF_MAX_VOID);
	return 0;
}

static void
match(struct spf_eval *e, const char *inner)
{
	struct spf_frame	*f = top(e);
	struct spf_term		*t = cur_term(e);
	enum spf_result		 r;
	char			 reason[512];

	switch (t->qual) {
	case '-':	r = SPF_FAIL; break;
	case '~':	r = SPF_SOFTFAIL; break;
	case '?':	r = SPF_NEUTRAL; break;
	default:	r = SPF_PASS; break;
	}
	if (inner != NULL)
		sfmt(reason, sizeof(reason), "matched %s in %s (%s)",
		    t->text, f->domain, inner);
	else
		sfmt(reason, sizeof(reason), "matched %s in %s", t->text,
		    f->domain);
	tr(e, "%s: match -> %s", t->text, spf_result_name(r));
	strlcpy(e->reason, reason, sizeof(e->reason));
	/* RFC 7208 6.2: exp= only for fail, from the top-level record. */
	if (r == SPF_FAIL && e->depth == 1 && f->rec.exp != -1) {
		exp_start(e);
		return;
	}
	frame_result(e, r, reason);
}

static void
no_match(struct spf_eval *e)
{
	struct spf_frame	*f = top(e);

	tr(e, "%s: no match", cur_term(e)->text);
	f->pos++;
	f->counted = 0;
	spf_run(e);
}

/* The check_host() of the top frame returned r: pop or finish. */
static void
frame_result(struct spf_eval *e, enum spf_result r, const char *reason)
{
	struct spf_frame	*f = top(e);
	char			 inner[512];

	if (r == SPF_TEMPERROR || r == SPF_PERMERROR || e->depth == 1 ||
	    !f->include) {
		finish(e, r, reason);
		return;
	}
	strlcpy(inner, reason, sizeof(inner));
	frame_free(f);
	e->depth--;
	tr(e, "include returned %s", spf_result_name(r));
	/* RFC 7208 5.2 table. */
	switch (r) {
	case SPF_PASS:
		match(e, inner);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		no_match(e);
		break;
	case SPF_NONE:
		failf(e, SPF_PERMERROR, "%s in %s: %s", cur_term(e)->text,
		    top(e)->domain, inner);
		break;
	default:
		finish(e, r, inner);
		break;
	}
}

/* Fetch and select the SPF record of the top frame (RFC 7208 4.4, 4.5). */
static void
record_answer(struct spf_eval *e, const struct dns_answer *ans)
{
	struct spf_frame	*f = top(e);
	char			*rec = NULL, *txt, err[256];
	size_t			 i, n = 0, len;

	/*
	 * A DNSSEC-bogus answer is a DNS failure: a validating resolver
	 * would have answered SERVFAIL (RFC 4035 5.5), which is temperror
	 * (RFC 7208 4.4).
	 */
	if (ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN)) {
		failf(e, SPF_TEMPERROR, "DNS %s looking up the SPF record of "
		    "%s", ans->timeout ? "timeout" : ans->sec == DNS_SEC_BOGUS ?
		    "DNSSEC-bogus answer" : dns_rcode_name(ans->rcode),
		    f->domain);
		return;
	}
	for (i = 0; i < ans->nrr; i++) {
		txt = dns_txt_concat(&ans->rr[i], &len);
		if (strncasecmp(txt, "v=spf1", 6) == 0 &&
		    (txt[6] == '\0' || txt[6] == ' ')) {
			n++;
			if (strlen(txt) != len) {
				/* a NUL byte inside: not valid text */
				free(rec);
				rec = xstrdup("v=spf1 %");
			} else if (rec == NULL)
				rec = txt, txt = NULL;
		}
		free(txt);
	}
	if (n == 0) {
		free(rec);
		tr(e, "no SPF record at %s (%s)", f->domain,
		    dns_rcode_name(ans->rcode));
		if (f->redirected)	/* RFC 7208 6.1 */
			failf(e, SPF_PERMERROR, "redirect target %s has no "
			    "SPF record", f->domain);
		else if (e->depth == 1)
			failf(e, SPF_NONE, "no SPF record at %s", f->domain);
		else
			frame_result(e, SPF_NONE, "no SPF record");
		return;
	}
	if (n > 1) {
		free(rec);
		/* RFC 7208 4.5 */
		failf(e, SPF_PERMERROR, "%zu SPF records at %s", n, f->domain);
		return;
	}
	tr(e, "SPF record of %s: \"%s\"", f->domain, rec);
	if (spf_record_parse(rec, &f->rec, err, sizeof(err)) == -1) {
		free(rec);
		/* RFC 7208 4.6: any syntax error is a permerror. */
		failf(e, SPF_PERMERROR, "syntax error in the SPF record of %s:"
		    " %s", f->domain, err);
		return;
	}
	free(rec);
	f->have_rec = 1;
	f->pos = 0;
	spf_run(e);
}

static int
is_dns_error(const struct dns_answer *ans)
{
	/* Bogus: what a validating resolver answers SERVFAIL for. */
	return ans->failed || ans->sec == DNS_SEC_BOGUS ||
	    (ans->rcode != DNS_R_NOERROR && ans->rcode != DNS_R_NXDOMAIN);
}

static void
temperror(struct spf_eval *e, const struct dns_answer *ans)
{
	failf(e, SPF_TEMPERROR, "DNS %s for %s %s (%s)", ans->timeout ?
	    "timeout" : ans->sec == DNS_SEC_BOGUS ? "DNSSEC-bogus answer" :
	    dns_rcode_name(ans->rcode), ans->qname,
	    dns_type_name(ans->qtype), cur_term(e)->text);
}

static void
mx_next(struct spf_eval *e)
{
	while (e->name_idx < e->nnames) {
		if (query(e, e->names[e->name_idx], e->af == AF_INET ?
		    DNS_T_A : DNS_T_AAAA, OP_MX_ADDR) == 0)
			return;
		e->name_idx++;
	}
	clear_names(e);
	no_match(e);
}

static void
ptr_decide(struct spf_eval *e)
{
	size_t	 i, nl, tl = strlen(e->target);

	if (e->ptr_void && !e->ptr_void_counted) {
		e->ptr_void_counted = 1;
		if (count_void(e) == -1)
			return;
	}
	/* RFC 7208 5.5: a validated name equal to or below <target>. */
	for (i = 0; i < e->nvalidated; i++) {
		const char *v = e->validated[i];

		nl = strlen(v);
		if (strcasecmp(v, e->target) == 0 || (nl > tl &&
		    v[nl - tl - 1] == '.' &&
		    strcasecmp(v + nl - tl, e->target) == 0)) {
			tr(e, "validated name %s is within %s", v, e->target);
			match(e, NULL);
			return;
		}
	}
	no_match(e);
}

/* The exp= TXT record: one string, no NUL inside, else none at all. */
static void
answer_exp(struct spf_eval *e, const struct dns_answer *ans)
{
	char	*txt;
	size_t	 len;

	if (is_dns_error(ans) || ans->nrr != 1) {
		/* RFC 7208 6.2: proceed as if no exp= was given. */
		tr(e, "no usable explanation");
		frame_result(e, SPF_FAIL, e->reason);
		return;
	}
	txt = dns_txt_concat(&ans->rr[0], &len);
	if (strlen(txt) != len) {
		free(txt);
		frame_result(e, SPF_FAIL, e->reason);
		return;
	}
	free(e->exp_text);
	e->exp_text = NULL;
	exp_text(e, txt);
	free(txt);
}

/* The client's PTR names, whose addresses are checked next (5.5). */
static void
answer_ptr(struct spf_eval *e, const struct dns_answer *ans)
{
	size_t	 i;

	if (is_dns_error(ans)) {
		/* 5.5: a DNS error here is simply no match. */
		validate_done(e);
		return;
	}
	if (dns_answer_is_void(ans))
		e->ptr_void = 1;
	clear_names(e);
	/* 4.6.4: only the first 10 PTR names are considered. */
	for (i = 0; i < ans->nrr && e->nnames < SPF_MAX_NAMES; i++)
		e->names[e->nnames++] = xstrdup(ans->rr[i].u.name);
	if (ans->nrr > SPF_MAX_NAMES)
		tr(e, "%zu PTR names, only the first %d used", ans->nrr,
		    SPF_MAX_NAMES);
	validate_next(e);
}

/* One PTR name's addresses: validated if one of them is <ip>. */
static void
answer_ptr_addr(struct spf_eval *e, const struct dns_answer *ans)
{
	size_t	 i;

	if (!is_dns_error(ans)) {
		for (i = 0; i < ans->nrr; i++) {
			if (rr_matches(e, &ans->rr[i], -1, -1)) {
				if (e->nvalidated < SPF_MAX_NAMES)
					e->validated[e->nvalidated++] =
					    xstrdup(e->names[e->name_idx]);
				break;
			}
		}
	}
	e->name_idx++;
	validate_next(e);
}

/* a (an address of <ip>'s family in the network) and exists (any A). */
static void
answer_a(struct spf_eval *e, const struct dns_answer *ans, enum spf_op op)
{
	struct spf_term	*t = cur_term(e);
	size_t		 i;

	if (is_dns_error(ans)) {
		temperror(e, ans);
		return;
	}
	if (dns_answer_is_void(ans) && count_void(e) == -1)
		return;
	for (i = 0; i < ans->nrr; i++) {
		if (op == OP_EXISTS || rr_matches(e, &ans->rr[i], t->cidr4,
		    t->cidr6)) {
			match(e, NULL);
			return;
		}
	}
	no_match(e);
}

/* mx: the exchanges, whose addresses are looked up one by one next. */
static void
answer_mx(struct spf_eval *e, const struct dns_answer *ans)
{
	struct spf_term	*t = cur_term(e);
	size_t		 i;

	if (is_dns_error(ans)) {
		temperror(e, ans);
		return;
	}
	if (dns_answer_is_void(ans) && count_void(e) == -1)
		return;
	/* RFC 7208 4.6.4: more than 10 MX names is a permerror. */
	if (ans->nrr > SPF_MAX_NAMES) {
		failf(e, SPF_PERMERROR, "%s in %s: %zu MX records, more than "
		    "%d", t->text, top(e)->domain, ans->nrr, SPF_MAX_NAMES);
		return;
	}
	clear_names(e);
	for (i = 0; i < ans->nrr; i++) {
		/* RFC 7505 null MX: nothing to look up. */
		if (strcmp(ans->rr[i].u.mx.name, ".") == 0)
			continue;
		e->names[e->nnames++] = xstrdup(ans->rr[i].u.mx.name);
	}
	mx_next(e);
}

/* One exchange's addresses: a match ends the mx term. */
static void
answer_mx_addr(struct spf_eval *e, const struct dns_answer *ans)
{
	struct spf_term	*t = cur_term(e);
	size_t		 i;

	if (is_dns_error(ans)) {
		clear_names(e);
		temperror(e, ans);
		return;
	}
	for (i = 0; i < ans->nrr; i++) {
		if (rr_matches(e, &ans->rr[i], t->cidr4, t->cidr6)) {
			tr(e, "MX host %s has a matching address",
			    e->names[e->name_idx]);
			clear_names(e);
			match(e, NULL);
			return;
		}
	}
	e->name_idx++;
	mx_next(e);
}

/* Every answer comes here; the query's op says what it was for. */
static void
spf_dns_cb(void *arg, const struct dns_answer *ans)
{
	struct spf_eval	*e = arg;
	enum spf_op	 op = e->op;

	e->q = NULL;
	e->op = OP_NONE;
	tr(e, "  -> %s%s, %zu record(s)%s%s", ans->timeout ? "timeout" :
	    dns_rcode_name(ans->rcode), ans->sec == DNS_SEC_SECURE ?
	    " (secure)" : ans->sec == DNS_SEC_BOGUS ? " (bogus)" : "",
	    ans->nrr, strcmp(ans->canonname, ans->qname) ? ", via CNAME " :
	    "", strcmp(ans->canonname, ans->qname) ? ans->canonname : "");
	switch (op) {
	case OP_RECORD:
		record_answer(e, ans);
		break;
	case OP_EXP:
		answer_exp(e, ans);
		break;
	case OP_PTR:
		answer_ptr(e, ans);
		break;
	case OP_PTR_ADDR:
		answer_ptr_addr(e, ans);
		break;
	case OP_A:
	case OP_EXISTS:
		answer_a(e, ans, op);
		break;
	case OP_MX:
		answer_mx(e, ans);
		break;
	case OP_MX_ADDR:
		answer_mx_addr(e, ans);
		break;
	default:
		fatalx("spf: answer in state %d", op);
	}
}

/* Explanation (RFC 7208 6.2). */
static void
exp_start(struct spf_eval *e)
{
	struct spf_frame	*f = top(e);
	struct spf_term		*t = &f->rec.terms[f->rec.exp];
	char			 buf[SPF_MAX_EXPANSION], err[128];

	if (spf_macro_uses_p(t->spec, t->speclen) && !e->validated_done) {
		validate_start(e, CONT_EXP_SPEC);
		return;
	}
	choose_pname(e);
	e->env.domain = f->domain;
	if (spf_macro_expand(t->spec, t->speclen, &e->env, SPF_MACRO_DOMAIN,
	    buf, sizeof(buf), err, sizeof(err)) == -1) {
		tr(e, "exp= does not expand: %s", err);
		frame_result(e, SPF_FAIL, e->reason);
		return;
	}
	spf_domain_truncate(buf);
	tr(e, "fetching the explanation at %s", buf);
	if (query(e, buf, DNS_T_TXT, OP_EXP) == -1)
		frame_result(e, SPF_FAIL, e->reason);
}

static void
exp_text(struct spf_eval *e, const char *txt)
{
	char	 buf[SPF_MAX_EXPANSION], err[128];
	size_t	 i;

	if (txt != NULL) {
		e->exp_text = xstrdup(txt);
		if (spf_macro_uses_p(txt, strlen(txt)) && !e->validated_done) {
			validate_start(e, CONT_EXP_TEXT);
			return;
		}
	}
	txt = e->exp_text;
	e->exp_text = NULL;
	choose_pname(e);
	e->env.domain = top(e)->domain;
	if (spf_macro_expand(txt, strlen(txt), &e->env, SPF_MACRO_EXP, buf,
	    sizeof(buf), err, sizeof(err)) == -1) {
		tr(e, "explanation \"%s\" does not expand: %s", txt, err);
		free((char *)txt);
		frame_result(e, SPF_FAIL, e->reason);
		return;
	}
	free((char *)txt);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 ||
		    (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	tr(e, "explanation: \"%s\"", buf);
	e->exp_text = xstrdup(buf);
	frame_result(e, SPF_FAIL, e->reason);
}

/* What one step of spf_run() leaves to its loop. */
enum spf_step {
	STEP_NEXT,		/* go on with the top frame */
	STEP_STOP		/* a query is out, or the result is known */
};

/*
 * RFC 7208 4.6.4: a term that causes DNS queries counts once against the
 * limit, however many queries it makes; -1 (permerror given) past it.
 */
static int
count_lookup(struct spf_eval *e, struct spf_frame *f,
    const struct spf_term *t)
{
	if (dns_budget_lookup(&e->budget) == -1) {
		failf(e, SPF_PERMERROR, "%d DNS lookup limit exceeded at %s "
		    "in %s", SPF_MAX_DNS_TERMS, t->text, f->domain);
		return -1;
	}
	f->counted = 1;
	return 0;
}

/*
 * The term's target domain into e->target: -1 when it is not to be had
 * now (%{p} waits for the client's validated names, RFC 7208 5.5) or at
 * all (permerror given).
 */
static int
term_target(struct spf_eval *e, const struct spf_term *t)
{
	if (needs_p(t) && !e->validated_done) {
		validate_start(e, CONT_RUN);
		return -1;
	}
	choose_pname(e);
	return expand_target(e, t);
}

/* The top frame has no record yet: fetch it (RFC 7208 4.4). */
static enum spf_step
run_fetch_record(struct spf_eval *e, struct spf_frame *f)
{
	if (query(e, f->domain, DNS_T_TXT, OP_RECORD) == -1)
		failf(e, SPF_NONE, "invalid domain %s", f->domain);
	return STEP_STOP;
}

/* No mechanism matched: follow redirect= or give the default result. */
static enum spf_step
run_record_end(struct spf_eval *e, struct spf_frame *f)
{
	struct spf_term	*rd;

	/* RFC 7208 6.1: redirect only without "all". */
	if (f->rec.redirect == -1 || f->rec.has_all) {
		/* 4.7: default result neutral */
		tr(e, "no mechanism matched in %s: neutral", f->domain);
		sfmt(e->reason, sizeof(e->reason),
		    "no mechanism matched in %s", f->domain);
		frame_result(e, SPF_NEUTRAL, e->reason);
		return STEP_STOP;
	}
	rd = &f->rec.terms[f->rec.redirect];
	if (!f->counted && count_lookup(e, f, rd) == -1)
		return STEP_STOP;
	if (term_target(e, rd) == -1)
		return STEP_STOP;
	f->pos = (size_t)f->rec.redirect;
	tr(e, "%s: following redirect to %s", rd->text, e->target);
	if (!spf_domain_valid(e->target)) {
		failf(e, SPF_PERMERROR, "%s in %s: invalid domain", rd->text,
		    f->domain);
		return STEP_STOP;
	}
	/* The redirect target's result is this frame's. */
	spf_record_free(&f->rec);
	f->have_rec = 0;
	f->pos = 0;
	f->counted = 0;
	f->redirected = 1;
	strlcpy(f->domain, e->target, sizeof(f->domain));
	return STEP_NEXT;
}

/* ip4 and ip6 (RFC 7208 5.6): compared with <ip>, no DNS. */
static enum spf_step
run_ip_term(struct spf_eval *e, struct spf_frame *f, struct spf_term *t)
{
	int	 af, maxbits;

	af = t->kind == K_IP4 ? AF_INET : AF_INET6;
	maxbits = af == AF_INET ? 32 : 128;
	if (e->af == af && ip_in_net(af, e->ip, t->net,
	    t->cidr4 < 0 ? maxbits : t->cidr4)) {
		match(e, NULL);
		return STEP_STOP;
	}
	tr(e, "%s: no match", t->text);
	f->pos++;
	return STEP_NEXT;
}

/*
 * include, a, mx, ptr, exists: the DNS-querying terms (4.6.4).  All but
 * include stop for a query; its answer (spf_dns_cb) decides the match.
 */
static enum spf_step
run_dns_term(struct spf_eval *e, struct spf_frame *f, struct spf_term *t)
{
	uint16_t	 type;

	if (!f->counted) {
		if (count_lookup(e, f, t) == -1)
			return STEP_STOP;
		tr(e, "%s: DNS-querying term %u of %d", t->text,
		    e->budget.lookups, SPF_MAX_DNS_TERMS);
	}
	if (term_target(e, t) == -1)
		return STEP_STOP;
	switch (t->kind) {
	case K_INCLUDE:
		if (!spf_domain_valid(e->target)) {
			failf(e, SPF_PERMERROR, "%s in %s: invalid domain",
			    t->text, f->domain);
			return STEP_STOP;
		}
		if (e->depth >= SPF_MAX_DEPTH) {
			failf(e, SPF_PERMERROR, "includes nested too deep");
			return STEP_STOP;
		}
		tr(e, "%s: evaluating %s", t->text, e->target);
		push_frame(e, e->target, 1);
		return STEP_NEXT;
	case K_A:
		type = e->af == AF_INET ? DNS_T_A : DNS_T_AAAA;
		if (query(e, e->target, type, OP_A) == -1)
			no_match(e);
		return STEP_STOP;
	case K_EXISTS:
		/* RFC 7208 5.7: an A query whatever <ip> is. */
		if (query(e, e->target, DNS_T_A, OP_EXISTS) == -1)
			no_match(e);
		return STEP_STOP;
	case K_MX:
		if (query(e, e->target, DNS_T_MX, OP_MX) == -1)
			no_match(e);
		return STEP_STOP;
	case K_PTR:
		ptr_decide(e);
		return STEP_STOP;
	default:
		fatalx("spf: term kind %d", t->kind);
	}
}

/* The top frame's current term. */
static enum spf_step
run_term(struct spf_eval *e, struct spf_frame *f, struct spf_term *t)
{
	switch (t->kind) {
	case K_REDIRECT:
	case K_EXP:
	case K_UNKNOWN:
		/* Modifiers: redirect= acts at the end, exp= on a fail. */
		f->pos++;
		return STEP_NEXT;
	case K_ALL:
		match(e, NULL);
		return STEP_STOP;
	case K_IP4:
	case K_IP6:
		return run_ip_term(e, f, t);
	default:
		return run_dns_term(e, f, t);
	}
}

/* The main loop: evaluate terms of the top frame until a query is out. */
static void
spf_run(struct spf_eval *e)
{
	struct spf_frame	*f;
	enum spf_step		 step;

	while (!e->finished && e->q == NULL) {
		f = top(e);
		if (!f->have_rec)
			step = run_fetch_record(e, f);
		else if (f->pos >= f->rec.nterms)
			step = run_record_end(e, f);
		else
			step = run_term(e, f, &f->rec.terms[f->pos]);
		if (step == STEP_STOP)
			return;
	}
}

/* Set up check_host() for the identity (RFC 7208 2.3, 2.4, 4.3). */
static int
setup(struct spf_eval *e, const struct spf_params *p)
{
	const char	*mf = p->mail_from ? p->mail_from : "";
	const char	*at;
	char		 addr[1024], ipbuf[64];
	struct in6_addr	 a6;
	size_t		 len;

	if (p->ip == NULL || strlcpy(ipbuf, p->ip, sizeof(ipbuf)) >=
	    sizeof(ipbuf))
		return -1;
	if (inet_pton(AF_INET, ipbuf, e->ip) == 1)
		e->af = AF_INET;
	else if (inet_pton(AF_INET6, ipbuf, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			/* An IPv4 client seen through an IPv6 socket. */
			e->af = AF_INET;
			memcpy(e->ip, a6.s6_addr + 12, 4);
		} else {
			e->af = AF_INET6;
			memcpy(e->ip, a6.s6_addr, 16);
		}
	} else
		return -1;
	strlcpy(e->helo, p->helo ? p->helo : "", sizeof(e->helo));
	strlcpy(e->receiver, p->receiver ? p->receiver : "unknown",
	    sizeof(e->receiver));

	/* Strip <> around a path for convenience. */
	strlcpy(addr, mf, sizeof(addr));
	len = strlen(addr);
	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		memmove(addr, addr + 1, len - 2);
		addr[len - 2] = '\0';
	}
	if (p->identity == SPF_ID_HELO || addr[0] == '\0') {
		/* 2.4: empty MAIL FROM uses postmaster@HELO. */
		strlcpy(e->local, "postmaster", sizeof(e->local));
		strlcpy(e->sender_domain, e->helo, sizeof(e->sender_domain));
	} else if ((at = strrchr(addr, '@')) != NULL) {
		snprintf(e->local, sizeof(e->local), "%.*s", (int)(at - addr),
		    addr);
		if (e->local[0] == '\0')	/* 4.3 */
			strlcpy(e->local, "postmaster", sizeof(e->local));
		strlcpy(e->sender_domain, at + 1, sizeof(e->sender_domain));
	} else {
		strlcpy(e->local, "postmaster", sizeof(e->local));
		strlcpy(e->sender_domain, addr, sizeof(e->sender_domain));
	}
	len = strlen(e->sender_domain);
	if (len > 1 && e->sender_domain[len - 1] == '.')
		e->sender_domain[len - 1] = '\0';
	sfmt(e->sender, sizeof(e->sender), "%s@%s", e->local,
	    e->sender_domain);
	strlcpy(e->out.sender, e->sender, sizeof(e->out.sender));
	strlcpy(e->out.domain, e->sender_domain, sizeof(e->out.domain));

	e->env.sender = e->sender;
	e->env.local = e->local;
	e->env.sender_domain = e->sender_domain;
	e->env.af = e->af;
	if (e->af == AF_INET)
		memcpy(&e->env.ip.v4, e->ip, 4);
	else
		memcpy(&e->env.ip.v6, e->ip, 16);
	e->env.helo = e->helo;
	e->env.receiver = e->receiver;
	e->env.now = p->now ? p->now : time(NULL);
	return 0;
}

struct spf_eval *
spf_eval_start(struct dns_ctx *dns, const struct spf_params *p,
    spf_done_cb cb, void *arg)
{
	struct spf_eval	*e;
	char		 ip[INET6_ADDRSTRLEN];

	e = xcalloc(1, sizeof(*e));
	e->dns = dns;
	e->cb = cb;
	e->arg = arg;
	e->tracing = p->trace;
	buf_init(&e->trace, SPF_TRACE_MAX);
	dns_budget_init(&e->budget, SPF_MAX_DNS_TERMS, SPF_MAX_VOID);
	if (setup(e, p) == -1) {
		push_frame(e, ".", 0);
		failf(e, SPF_PERMERROR, "invalid IP address \"%s\"",
		    p->ip ? p->ip : "");
		return e;
	}
	push_frame(e, e->sender_domain, 0);
	inet_ntop(e->af, e->ip, ip, sizeof(ip));
	tr(e, "check_host(%s, %s, %s) for the %s identity", ip,
	    e->sender_domain, e->sender,
	    p->identity == SPF_ID_HELO ? "HELO" : "MAIL FROM");
	/* RFC 7208 4.3: a malformed domain gives "none". */
	if (!spf_domain_valid(e->sender_domain)) {
		failf(e, SPF_NONE, "\"%s\" is not a valid domain name",
		    e->sender_domain);
		return e;
	}
	spf_run(e);
	return e;
}

void
spf_eval_cancel(struct spf_eval *e)
{
	size_t	 i;

	if (e == NULL)
		return;
	if (e->q != NULL)
		dns_query_cancel(e->q);
	if (e->done_ev != NULL)
		event_free(e->done_ev);
	while (e->depth > 0)
		frame_free(e->stack[--e->depth]);
	clear_names(e);
	for (i = 0; i < e->nvalidated; i++)
		free(e->validated[i]);
	free(e->exp_text);
	free(e->out.explanation);
	free(e->out.trace);
	buf_free(&e->trace);
	free(e);
}

struct sync_state {
	int			 done;
	struct spf_outcome	*out;
};

static void
sync_done(void *arg, const struct spf_outcome *o)
{
	struct sync_state	*s = arg;

	*s->out = *o;
	s->out->explanation = o->explanation ? xstrdup(o->explanation) : NULL;
	s->out->trace = o->trace ? xstrdup(o->trace) : NULL;
	s->done = 1;
}

enum spf_result
spf_check_sync(struct dns_ctx *dns, const struct spf_params *p,
    struct spf_outcome *out)
{
	struct sync_state	 s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.out = out;
	spf_eval_start(dns, p, sync_done, &s);
	while (!s.done)
		if (dns_run_once(dns) == -1)
			fatalx("spf: event loop failed");
	return out->result;
}

void
spf_outcome_clear(struct spf_outcome *o)
{
	free(o->explanation);
	free(o->trace);
	o->explanation = NULL;
	o->trace = NULL;
}

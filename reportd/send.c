/*
 * Sending DMARC aggregate reports (RFC 9990 3.5): periods are closed, each
 * closed window of an Author Domain with evaluations becomes a job, and
 * the jobs run one at a time:
 *
 *   1. the window is marked pending in the sent-report log (it is closed:
 *      reportd/sentlog.h explains why this comes first);
 *   2. the report is built from the evaluation store (reportd/dmarc_agg.c);
 *   3. the DMARC record of its Policy Domain is looked up for its rua
 *      URIs (RFC 9990 3.4), mailto: only;
 *   4. a destination outside the Policy Domain needs the authorization
 *      record "<policy domain>._report._dmarc.<destination domain>"
 *      (RFC 9990 4); without it nothing is sent there, and it is logged;
 *   5. the XML is gzipped and mailed (reportd/report_mail.c) to the
 *      destinations, in parts when it exceeds a size limit
 *      (reportd/agg_parts.c), through the queue (reportd_queue_report(),
 *      which TLS-RPT can use as it is), one part after the other;
 *   6. the queue's answer (queued, or queued before) for the last part
 *      marks it done.
 *
 * Periods are aligned to UTC (`reports period`, a day by default).  A
 * timer (each minute, and a second after each period's end) closes the
 * periods that ended, at start too (back to
 * REPORTD_CATCHUP for a daemon that was down), and offers again the
 * reports left pending by a crash or a failure (a report still pending
 * REPORTD_GIVE_UP after its end is given up, with one line).  The
 * sent-report log forgets what is older than REPORTD_SENTLOG_KEEP, at
 * start and daily.  `posternctl report dmarc
 * send` closes the open period now: the rest of the period is reported at
 * its end, as a window of its own.  Evaluations that arrive for a window
 * already closed are not reported.
 *
 * TLS-RPT reports (RFC 8460) are jobs of kind "tls" in the same queue,
 * closed by UTC day; reportd/tlsrpt_send.c makes and delivers them through
 * the reportd_job_*() functions at the end of this file.
 *
 * Failure reports are reportd/failure.c's; a destination that refuses a
 * report for good is suppressed (reportd_queue_bounce()).  The
 * destinations' tests are in reportd/report_dest.c.
 *
 * A destination whose limit even a part of one row exceeds is skipped,
 * logged.  The test of
 * "another organisational domain" (RFC 9990 4) is strict: a destination
 * domain that is neither the Policy Domain nor its parent or child needs
 * the authorization record, sibling subdomains of one organisation too.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "clock.h"
#include "dns.h"
#include "jsonw.h"
#include "log.h"
#include "posternd/proc.h"
#include "reportd/agg_parts.h"
#include "reportd/dmarc_agg.h"
#include "reportd/evalstore.h"
#include "reportd/failure.h"
#include "reportd/report_dest.h"
#include "reportd/report_mail.h"
#include "reportd/reportd.h"
#include "reportd/sentlog.h"
#include "util.h"

#define REPORTD_TICK		60	/* seconds between checks */
#define REPORTD_CATCHUP		(3 * 86400)	/* periods ended within */
#define REPORTD_GIVE_UP		REPORTD_CATCHUP	/* pending after the end */
/*
 * The sent-report log forgets what is older than this: longer than any
 * period, catch-up and retry window put together.
 */
#define REPORTD_SENTLOG_KEEP	(60 * 86400)
#define REPORTD_DATA_CHUNK	(16 * 1024)
#define KIND_DMARC		"dmarc"

enum job_state {
	JOB_WAITING,
	JOB_POLICY,		/* the DMARC record's query */
	JOB_AUTH,		/* an authorization record's query */
	JOB_QUEUE		/* handed to the queue */
};

struct report_dest {
	char			 addr[REPORT_ADDR_MAX];
	uint64_t		 limit;		/* bytes, 0: none */
	int			 ok;		/* 1 send, -1 not, 0 ask */
};

struct report_job {
	TAILQ_ENTRY(report_job)	 entry;
	char			 kind[SENTLOG_KIND_MAX];
	char			 domain[DMARC_DOMAIN_MAX];
	time_t			 begin, end;
	int			 resend;	/* pending in the log */
	enum job_state		 state;
	struct dmarc_agg	*agg;
	char			 policy_domain[DMARC_DOMAIN_MAX];
	struct report_dest	 dest[REPORT_MAX_RCPTS];
	size_t			 ndest, auth_i;
	struct dns_query	*q;
	uint32_t		 peer;
	struct tls_job		*tls;		/* kind "tls": its state */
	struct agg_msgs		 msgs;		/* DMARC: whole, or parts */
	size_t			 part;		/* the one queued */
};

static void	job_next(struct reportd *);
static void	job_queue_part(struct reportd *);

/* For the log: what kind of report a job makes. */
static const char *
kind_label(const char *kind)
{
	return strcmp(kind, KIND_DMARC) == 0 ? "DMARC" : "TLS-RPT";
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

static void
job_free(struct report_job *j)
{
	if (j->q != NULL)
		dns_query_cancel(j->q);
	dmarc_agg_free(j->agg);
	agg_msgs_free(&j->msgs);
	reportd_tls_job_free(j->tls);
	free(j);
}

/*
 * A window [begin, end) of domain: a job, unless it is covered by one
 * waiting or running (its begin then moves past them).  1 when added.
 */
static int
job_add(struct reportd *rd, const char *kind, const char *domain,
    time_t begin, time_t end, int resend)
{
	struct report_job	*j;

	if (!resend) {
		TAILQ_FOREACH(j, &rd->jobs, entry)
			if (strcmp(j->kind, kind) == 0 &&
			    strcasecmp(j->domain, domain) == 0 &&
			    j->end > begin)
				begin = j->end;
		if ((j = rd->cur) != NULL && strcmp(j->kind, kind) == 0 &&
		    strcasecmp(j->domain, domain) == 0 && j->end > begin)
			begin = j->end;
		if (begin >= end)
			return 0;
	}
	j = xcalloc(1, sizeof(*j));
	strlcpy(j->kind, kind, sizeof(j->kind));
	strlcpy(j->domain, domain, sizeof(j->domain));
	lower(j->domain);
	j->begin = begin;
	j->end = end;
	j->resend = resend;
	TAILQ_INSERT_TAIL(&rd->jobs, j, entry);
	return 1;
}

/* The job is over: done (the log forgets it) or to be tried again. */
static void
job_finish(struct reportd *rd, int done)
{
	struct report_job	*j = rd->cur;

	if (done && sentlog_done(rd->sl, j->kind, j->domain, j->begin) == -1)
		log_warnx("reportd: the sent-report log cannot be written; "
		    "the report of %s may be offered again", j->domain);
	rd->cur = NULL;
	job_free(j);
	job_next(rd);
}

/* No report for this window, for a reason worth a line in the log. */
static void
job_skip(struct reportd *rd, const char *why)
{
	log_info("reportd: %s report of %s for %lld-%lld not sent: %s",
	    kind_label(rd->cur->kind), rd->cur->domain, (long long)rd->cur->begin,
	    (long long)rd->cur->end, why);
	rd->st_skipped++;
	job_finish(rd, 1);
}

/* A failure that may pass (DNS, the queue): pending, tried again later. */
static void
job_later(struct reportd *rd, const char *why)
{
	struct report_job	*j = rd->cur;

	log_warnx("reportd: %s report of %s for %lld-%lld: %s; tried "
	    "again later", kind_label(j->kind), j->domain, (long long)j->begin, (long long)j->end,
	    why);
	rd->st_failed++;
	rd->cur = NULL;
	job_free(j);
	/* the caller goes on with the next job */
}

/* --- the queue --- */

/*
 * Hand a report message to the queue (IMSG_QUEUE_REPORT_*): from sender
 * to the recipients, queued once only under key.  The answer comes to
 * reportd_queue_result() with peer as its id (reportd->next_peer counts
 * them), and a recipient's final failure to reportd_queue_bounce().  For
 * every kind of report: TLS-RPT builds its message with report_mail.c
 * (extra_header "TLS-Required: No") and hands it over with
 * reportd_queue_report_flags() (MSG_REPORT_F_TLSREQ_NO, RFC 8689 5).
 */
void
reportd_queue_report(struct reportd *rd, uint32_t peer, const char *sender,
    const char *key, const char *const *rcpts, size_t nrcpt,
    const struct buf *msg)
{
	reportd_queue_report_flags(rd, peer, 0, sender, key, rcpts, nrcpt,
	    msg);
}

/* The same with MSG_REPORT_F_* flags for its envelopes. */
void
reportd_queue_report_flags(struct reportd *rd, uint32_t peer, uint32_t flags,
    const char *sender, const char *key, const char *const *rcpts,
    size_t nrcpt, const struct buf *msg)
{
	struct msg_queue_report		 b;
	struct msg_queue_report_rcpt	 r;
	size_t				 i, off, n;

	/* the queue takes one at a time: held until its RESULT */
	if (rd->queue_busy) {
		reportd_outq_hold(rd, peer, flags, sender, key, rcpts, nrcpt,
		    msg);
		return;
	}
	rd->queue_busy = 1;
	memset(&b, 0, sizeof(b));
	b.flags = flags;
	strlcpy(b.sender, sender, sizeof(b.sender));
	strlcpy(b.key, key, sizeof(b.key));
	b.size = msg->len;
	proc_compose(rd->proc, PROC_QUEUE, IMSG_QUEUE_REPORT_BEGIN, peer, -1,
	    &b, sizeof(b));
	for (i = 0; i < nrcpt; i++) {
		memset(&r, 0, sizeof(r));
		strlcpy(r.rcpt, rcpts[i], sizeof(r.rcpt));
		proc_compose(rd->proc, PROC_QUEUE, IMSG_QUEUE_REPORT_RCPT,
		    peer, -1, &r, sizeof(r));
	}
	for (off = 0; off < msg->len; off += n) {
		n = msg->len - off;
		if (n > REPORTD_DATA_CHUNK)
			n = REPORTD_DATA_CHUNK;
		proc_compose(rd->proc, PROC_QUEUE, IMSG_QUEUE_REPORT_DATA,
		    peer, -1, msg->data + off, n);
	}
	proc_compose(rd->proc, PROC_QUEUE, IMSG_QUEUE_REPORT_COMMIT, peer, -1,
	    NULL, 0);
}

void
reportd_queue_result(struct reportd *rd, struct imsg *imsg)
{
	struct msg_queue_report_result	 r;
	struct report_job		*j = rd->cur;

	reportd_outq_next(rd);	/* the queue is free for the next one */
	if (reportd_failure_result(rd, imsg))
		return;		/* a failure report's (reportd/failure.c) */
	if (msg_get_queue_report_result(imsg, &r) == -1 || j == NULL ||
	    j->state != JOB_QUEUE || imsg->hdr.peerid != j->peer)
		proc_bad_message(rd->proc, PROC_QUEUE, imsg);
	/* TEST ONLY: the queue has it, the log does not know (posternd(8)) */
	proc_test_crash("report-result");
	/* a report in parts (reportd/agg_parts.c): the next part */
	if ((r.status == MSG_REPORT_QUEUED ||
	    r.status == MSG_REPORT_DUPLICATE) && j->msgs.n > 1 &&
	    j->part + 1 < j->msgs.n) {
		j->part++;
		job_queue_part(rd);
		return;
	}
	switch (r.status) {
	case MSG_REPORT_QUEUED:
		log_info("reportd: %s report of %s for %lld-%lld queued",
		    kind_label(j->kind), j->domain, (long long)j->begin, (long long)j->end);
		rd->st_queued++;
		rd->count_sent++;
		if (j->tls != NULL) {
			/* TLS-RPT: its https: URIs next */
			j->state = JOB_WAITING;
			reportd_tls_mailed(j->tls, 1);
			break;
		}
		job_finish(rd, 1);
		break;
	case MSG_REPORT_DUPLICATE:
		log_info("reportd: %s report of %s for %lld-%lld was "
		    "queued before", kind_label(j->kind), j->domain, (long long)j->begin,
		    (long long)j->end);
		rd->st_dup++;
		if (j->tls != NULL) {
			j->state = JOB_WAITING;
			reportd_tls_mailed(j->tls, 0);
			break;
		}
		job_finish(rd, 1);
		break;
	default:
		job_later(rd, "the queue could not take it");
		break;
	}
}

/* --- the report --- */

/*
 * DKIM-sign the message with `reports sign with` (RFC 6376; RFC 9990
 * 3.5.2 wants report mail to pass DMARC, which an aligned signature
 * gives): the signature field goes in front.  0, or -1.
 */
int
reportd_sign(struct reportd *rd, struct buf *msg)
{
	struct dkim_signer	 sg;
	struct dkim_sign	*s;
	struct buf		 out;
	char			 err[256];
	int			 rc = -1;

	if (rd->sigkey == NULL)
		return 0;
	memset(&sg, 0, sizeof(sg));
	sg.key = rd->sigkey;
	sg.alg = rd->sig.algorithm == DKIM_ED25519_SHA256 ?
	    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	sg.domain = rd->sig.domain;
	sg.selector = rd->sig.selector;
	sg.hcanon = rd->sig.canon_header;
	sg.bcanon = rd->sig.canon_body;
	sg.headers = rd->sig.headers[0] != '\0' ? rd->sig.headers : NULL;
	sg.no_oversign = !rd->sig.oversign;
	sg.expire = rd->sig.expire;
	strlcpy(err, "the signed message is too large", sizeof(err));
	s = dkim_sign_new();
	buf_init(&out, REPORT_MAIL_MAX);
	if (dkim_sign_add(s, &sg, err, sizeof(err)) == -1)
		goto done;
	dkim_sign_feed(s, msg->data, msg->len);
	if (dkim_sign_end(s, &out, err, sizeof(err)) == -1 ||
	    buf_add(&out, msg->data, msg->len) == -1)
		goto done;
	buf_free(msg);
	*msg = out;
	buf_init(&out, 0);
	rc = 0;
 done:
	if (rc == -1)
		log_warnx("reportd: dkim-signature %s: %s", rd->sig.name, err);
	buf_free(&out);
	dkim_sign_free(s);
	return rc;
}

/* The running job's message (part j->part of a split report) queued. */
static void
job_queue_part(struct reportd *rd)
{
	struct report_job	*j = rd->cur;
	const char		*to[REPORT_MAX_RCPTS];
	size_t			 i, nto;

	for (i = nto = 0; i < j->ndest; i++)
		if (j->dest[i].ok == 1)
			to[nto++] = j->dest[i].addr;
	if (reportd_job_queue(rd, 0, to, nto, &j->msgs.msg[j->part]) == -1) {
		agg_msgs_free(&j->msgs);
		job_skip(rd, "its domain is too long for a report key");
	}
}

static void
job_send(struct reportd *rd)
{
	struct report_job	*j = rd->cur;
	const char		*to[REPORT_MAX_RCPTS];
	size_t			 i, nto;
	uint64_t		 limit;
	int			 again, too_large;

	if (rd->conf.max_per_period > 0 &&
	    rd->count_sent >= rd->conf.max_per_period) {
		job_skip(rd, "reports max-per-period reached");
		return;
	}
	do {
		again = 0;
		limit = 0;
		for (i = nto = 0; i < j->ndest; i++)
			if (j->dest[i].ok == 1) {
				to[nto++] = j->dest[i].addr;
				if (j->dest[i].limit > 0 && (limit == 0 ||
				    j->dest[i].limit < limit))
					limit = j->dest[i].limit;
			}
		if (nto == 0)
			break;
		/* RFC 7489 6.2's limit: in parts (reportd/agg_parts.c) */
		if (agg_msgs_build(rd, j->agg, j->domain, j->begin, j->end, to,
		    nto, limit, &j->msgs, &too_large) == 0)
			break;
		if (!too_large) {
			job_skip(rd, "the report is too large to be made");
			return;
		}
		for (i = 0; i < j->ndest; i++)
			if (j->dest[i].ok == 1 && j->dest[i].limit == limit) {
				log_info("reportd: DMARC report of %s: %zu "
				    "bytes, over the limit of <%s> (%llu) even "
				    "in parts; not sent there", j->domain,
				    j->msgs.whole, j->dest[i].addr,
				    (unsigned long long)limit);
				j->dest[i].ok = -1;
				again = 1;
			}
	} while (again);
	if (nto == 0) {
		job_skip(rd, "no destination may receive it");
		return;
	}
	if (j->msgs.n > 1)
		log_info("reportd: DMARC report of %s: %zu bytes, over the "
		    "limit of %llu bytes; sent in %zu parts", j->domain,
		    j->msgs.whole, (unsigned long long)limit, j->msgs.n);
	j->part = 0;
	job_queue_part(rd);
}

/* --- destinations (RFC 9990 4) --- */

static void	auth_next(struct reportd *);

static void
auth_cb(void *arg, const struct dns_answer *ans)
{
	struct reportd		*rd = arg;
	struct report_job	*j = rd->cur;
	struct report_dest	*d = &j->dest[j->auth_i];

	j->q = NULL;
	/* no answer is not a "no": the report waits for the next try */
	if (ans->failed || (ans->rcode != DNS_R_NOERROR &&
	    ans->rcode != DNS_R_NXDOMAIN) || ans->sec == DNS_SEC_BOGUS) {
		job_later(rd, "an authorization record could not be looked up");
		job_next(rd);
		return;
	}
	d->ok = report_authorized(ans) ? 1 : -1;
	if (d->ok != 1)
		log_info("reportd: DMARC reports of %s are not sent to <%s>: "
		    "no authorization record %s._report._dmarc.%s (RFC 9990 "
		    "4)", j->domain, d->addr, j->policy_domain,
		    strrchr(d->addr, '@') + 1);
	j->auth_i++;
	auth_next(rd);
}

/* The next destination that needs its authorization, or the sending. */
static void
auth_next(struct reportd *rd)
{
	struct report_job	*j = rd->cur;
	char			 name[DNS_NAME_BUF];

	for (; j->auth_i < j->ndest; j->auth_i++) {
		if (j->dest[j->auth_i].ok != 0)
			continue;
		if (report_auth_name(j->policy_domain, j->dest[j->auth_i].addr,
		    name, sizeof(name)) == -1) {
			j->dest[j->auth_i].ok = -1;
			log_info("reportd: DMARC reports of %s are not sent "
			    "to <%s>: its authorization record's name is too "
			    "long", j->domain, j->dest[j->auth_i].addr);
			continue;
		}
		j->state = JOB_AUTH;
		j->q = dns_query(rd->dns, name, DNS_T_TXT, auth_cb, rd);
		return;
	}
	job_send(rd);
}

static void
policy_cb(void *arg, const struct dns_answer *ans)
{
	struct reportd		*rd = arg;
	struct report_job	*j = rd->cur;
	struct dmarc_record	*found;
	size_t			 i;
	uint64_t		 lim;
	time_t			 until;

	j->q = NULL;
	if (ans->failed || (ans->rcode != DNS_R_NOERROR &&
	    ans->rcode != DNS_R_NXDOMAIN) || ans->sec == DNS_SEC_BOGUS) {
		job_later(rd, "its DMARC record could not be looked up");
		job_next(rd);
		return;
	}
	/* RFC 9989 4.10: several records are as none */
	if ((found = report_dmarc_record(ans)) == NULL) {
		job_skip(rd, "no single DMARC record at its Policy Domain");
		return;
	}
	/* RFC 9990 3.5: every mailto: URI, in order, up to our limit */
	for (i = 0; i < found->nrua && j->ndest < REPORT_MAX_RCPTS; i++) {
		struct report_dest	*d = &j->dest[j->ndest];

		if (report_mailto(found->rua[i], d->addr, sizeof(d->addr),
		    &lim) == -1) {
			log_info("reportd: %s: rua %s is not a usable "
			    "address; ignored", j->policy_domain,
			    found->rua[i]);
			continue;
		}
		if (sentlog_suppressed(rd->sl, d->addr, walltime(),
		    &until) == 1) {
			log_info("reportd: DMARC reports of %s are not sent "
			    "to <%s>: suppressed after a failure, until %lld",
			    j->domain, d->addr, (long long)until);
			continue;
		}
		d->limit = found->rua_limit[i];
		/* inside the Policy Domain: no authorization needed */
		d->ok = report_dest_inside(d->addr, j->policy_domain) ? 1 : 0;
		j->ndest++;
	}
	free(found);
	if (j->ndest == 0) {
		job_skip(rd, "its DMARC record asks for no aggregate reports "
		    "by mail");
		return;
	}
	j->auth_i = 0;
	auth_next(rd);
}

/* Start the next job, if none runs. */
static void
job_next(struct reportd *rd)
{
	struct report_job	*j;
	const char		*pd;
	char			 name[DNS_NAME_BUF];
	time_t			 period;

	while (rd->cur == NULL && (j = TAILQ_FIRST(&rd->jobs)) != NULL) {
		TAILQ_REMOVE(&rd->jobs, j, entry);
		/* max-per-period counts per period of the clock */
		period = dmarc_agg_period_begin(walltime(), rd->period);
		if (period != rd->count_period) {
			rd->count_period = period;
			rd->count_sent = 0;
		}
		if (!j->resend && sentlog_begin(rd->sl, j->kind, j->domain,
		    j->begin, j->end) == -1) {
			log_warnx("reportd: the sent-report log cannot be "
			    "written; the report of %s waits", j->domain);
			job_free(j);
			continue;
		}
		/* TEST ONLY: closed in the log, not queued (posternd(8)) */
		if (!j->resend)
			proc_test_crash("report-begun");
		rd->cur = j;
		if (strcmp(j->kind, REPORTD_KIND_TLS) == 0) {
			/* RFC 8460: reportd/tlsrpt_send.c makes this one */
			reportd_tls_job(rd, &j->tls, j->domain, j->begin,
			    j->end);
			continue;
		}
		j->agg = reportd_dmarc_build(rd, j->domain, j->begin, j->end);
		if (j->agg == NULL) {
			job_later(rd, "the evaluation store cannot be read");
			continue;
		}
		if (dmarc_agg_rows(j->agg) == 0) {
			job_skip(rd, "no evaluations");
			continue;
		}
		if (dmarc_agg_only_report_mail(j->agg)) {
			job_skip(rd, "its evaluations are all of report mail "
			    "(no reports about reports)");
			continue;
		}
		if ((pd = dmarc_agg_policy_domain(j->agg)) == NULL) {
			job_skip(rd, "no DMARC record was found for its mail");
			continue;
		}
		strlcpy(j->policy_domain, pd, sizeof(j->policy_domain));
		lower(j->policy_domain);
		if ((size_t)snprintf(name, sizeof(name), "_dmarc.%s",
		    j->policy_domain) >= sizeof(name)) {
			job_skip(rd, "its Policy Domain is too long");
			continue;
		}
		j->state = JOB_POLICY;
		j->q = dns_query(rd->dns, name, DNS_T_TXT, policy_cb, rd);
	}
}

/* --- closing periods --- */

struct collect {
	struct reportd	*rd;
	int		 current;	/* the open period's windows */
	time_t		 cur_begin;
	char		 domain[DMARC_DOMAIN_MAX];
	time_t		 until;		/* of domain */
	time_t		 last;		/* the last window begun, of domain */
	size_t		 added;
};

static int
collect_cb(void *arg, const struct dmarc_eval_record *r)
{
	struct collect	*c = arg;
	struct reportd	*rd = c->rd;
	char		 dom[DMARC_DOMAIN_MAX];
	time_t		 p, b, e;

	strlcpy(dom, r->header_from, sizeof(dom));
	lower(dom);
	if (dom[0] == '\0')
		return 0;
	if (strcmp(dom, c->domain) != 0) {
		strlcpy(c->domain, dom, sizeof(c->domain));
		if (sentlog_until(rd->sl, KIND_DMARC, dom, &c->until) == -1)
			c->until = 0;
		c->last = -1;
	}
	if (r->when < c->until)
		return 0;	/* reported already, or late */
	p = c->current ? c->cur_begin :
	    dmarc_agg_period_begin(r->when, rd->period);
	if (p == c->last)
		return 0;
	c->last = p;
	b = p > c->until ? p : c->until;
	e = c->current ? walltime() + 1 : p + rd->period;
	c->added += job_add(rd, KIND_DMARC, dom, b, e, 0);
	return 0;
}

/* Periods ended before now, not yet reported: jobs.  How many. */
static size_t
close_ended(struct reportd *rd, time_t now)
{
	struct collect	 c;
	time_t		 cur = dmarc_agg_period_begin(now, rd->period);

	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.cur_begin = cur;
	if (cur <= rd->closed_through)
		return 0;
	reportd_flush_evaluations(rd);
	if (evalstore_foreach(rd->es, NULL, cur - REPORTD_CATCHUP, cur,
	    collect_cb, &c) == -1) {
		log_warnx("reportd: the evaluation store cannot be read; "
		    "periods are closed later");
		return 0;
	}
	rd->closed_through = cur;
	return c.added;
}

static int
pending_cb(void *arg, const struct sentlog_pending *p)
{
	struct reportd	*rd = arg;

	/*
	 * A report that could not be sent in REPORTD_GIVE_UP after its end
	 * (DNS that keeps failing, a queue that keeps refusing) is dropped,
	 * with one line: nothing is retried for ever.
	 */
	if (p->end + REPORTD_GIVE_UP < walltime()) {
		log_warnx("reportd: %s report of %s for %lld-%lld still not "
		    "sent %d days after its end; given up",
		    kind_label(p->kind), p->domain, (long long)p->begin,
		    (long long)p->end, REPORTD_GIVE_UP / 86400);
		if (sentlog_done(rd->sl, p->kind, p->domain, p->begin) == -1)
			log_warnx("reportd: the sent-report log cannot be "
			    "written");
		return 0;
	}
	if (strcmp(p->kind, KIND_DMARC) == 0 ||
	    strcmp(p->kind, REPORTD_KIND_TLS) == 0)
		job_add(rd, p->kind, p->domain, p->begin, p->end, 1);
	return 0;
}

static void
reportd_tick(int fd, short event, void *arg)
{
	struct reportd	*rd = arg;
	struct timeval	 tv = { REPORTD_TICK, 0 };
	time_t		 now = walltime(), next;

	/* On time: the next check a second after the period ends. */
	next = dmarc_agg_period_begin(now, rd->period) + rd->period + 1 - now;
	if (next > 0 && next < REPORTD_TICK)
		tv.tv_sec = next;
	/* Only when idle: a pending report may be the one running. */
	if (rd->cur == NULL && TAILQ_EMPTY(&rd->jobs)) {
		if (sentlog_foreach_pending(rd->sl, pending_cb, rd) == -1)
			log_warnx("reportd: the sent-report log cannot be "
			    "read");
		close_ended(rd, now);
		reportd_tls_close(rd, now, NULL, 0);
		job_next(rd);
	}
	evtimer_add(&rd->ev_tick, &tv);
}

void
reportd_send_start(struct reportd *rd)
{
	struct timeval	 tv = { 0, 0 };
	char		 err[256];

	TAILQ_INIT(&rd->jobs);
	if (!rd->conf.enabled)
		return;
	/* The chroot is <spool>/reports: the log is a file at its root. */
	if ((rd->sl = sentlog_open("/sent.mdb", err, sizeof(err))) == NULL)
		fatalx("reportd: sent-report log: %s", err);
	reportd_sentlog_prune(rd);
	evtimer_set(&rd->ev_tick, reportd_tick, rd);
	/* at once: pending reports and periods that ended while down */
	evtimer_add(&rd->ev_tick, &tv);
}

/* At start and daily (reportd.c's prune timer): the log's old entries. */
void
reportd_sentlog_prune(struct reportd *rd)
{
	long	 n;

	if (rd->sl == NULL)
		return;
	if ((n = sentlog_prune(rd->sl, walltime() - REPORTD_SENTLOG_KEEP)) ==
	    -1)
		log_warnx("reportd: the sent-report log cannot be pruned");
	else if (n > 0)
		log_info("reportd: pruned %ld sent-report log entries older "
		    "than %d days", n, REPORTD_SENTLOG_KEEP / 86400);
}

/*
 * posternctl report dmarc send [DOMAIN|all]: the periods that ended and
 * the open one, closed now; answered with the number of reports begun.
 */
void
reportd_ctl_dmarc_send(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct msg_ctl_count	 n;
	struct collect		 c;
	time_t			 now = walltime();

	if (reportd_ctl_send_request(rd, imsg, &d) == -1)
		return;
	reportd_flush_evaluations(rd);
	memset(&n, 0, sizeof(n));
	n.count = close_ended(rd, now);
	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.current = 1;
	c.cur_begin = dmarc_agg_period_begin(now, rd->period);
	if (evalstore_foreach(rd->es, d.domain, c.cur_begin, now + 1,
	    collect_cb, &c) == -1) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "the evaluation store "
		    "cannot be read (see the log)");
		job_next(rd);
		return;
	}
	n.count += c.added;
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_COUNT,
	    imsg->hdr.peerid, -1, &n, sizeof(n));
	job_next(rd);
}

/*
 * The DOMAIN of a `report ... send` request, when sending is on: 0; -1
 * when off (posternctl is told).
 */
int
reportd_ctl_send_request(struct reportd *rd, struct imsg *imsg,
    struct msg_ctl_domain *d)
{
	if (msg_get_ctl_domain(imsg, d) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	if (!rd->conf.enabled) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "reports are off (see "
		    "reports from in postern.conf(5))");
		return -1;
	}
	return 0;
}

/* --- failing destinations --- */

/*
 * The queue gave up on a report's recipient (its DSN went quietly to the
 * postmaster): no reports go there for `reports suppress-for`, so that a
 * dead address does not bounce every period.  One failure suffices: it
 * came after the queue's own retries, or was a permanent refusal.
 */
void
reportd_queue_bounce(struct reportd *rd, struct imsg *imsg)
{
	struct msg_queue_report_bounce	 b;
	time_t				 until;

	if (msg_get_queue_report_bounce(imsg, &b) == -1)
		proc_bad_message(rd->proc, PROC_QUEUE, imsg);
	if (rd->sl == NULL)
		return;
	until = walltime() + rd->conf.suppress;
	if (sentlog_suppress(rd->sl, b.rcpt, until) == -1)
		log_warnx("reportd: <%s> failed (%s) but cannot be "
		    "suppressed: the sent-report log cannot be written", b.rcpt,
		    b.status);
	else
		log_info("reportd: reports to <%s> failed (%s %s); suppressed "
		    "until %lld", b.rcpt, b.status, b.diagnostic,
		    (long long)until);
}

struct supp_walk {
	struct reportd	*rd;
	uint32_t	 peerid;
	struct buf	 b;
	time_t		 now;
	int		 json;		/* -j */
};

static int
supp_line(void *arg, const char *addr, time_t until)
{
	struct supp_walk	*w = arg;
	struct tm		 tm;
	char			 when[32];

	if (until <= w->now)
		return 0;	/* over: not suppressed any more */
	if (gmtime_r(&until, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "?", sizeof(when));
	if (w->b.len > REPORTD_DATA_CHUNK) {
		proc_compose(w->rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
		    w->peerid, -1, w->b.data, w->b.len);
		buf_reset(&w->b);
	}
	if (w->json) {
		/* an address from a report's recipient: made JSON-safe */
		if (jsonw_line(&w->b, json_pack("{s:o, s:s, s:I}", "address",
		    jsonw_text(addr), "until", when, "until_epoch",
		    (json_int_t)until)) == -1)
			log_warnx("reportd: suppression of %s not listed", addr);
		return 0;
	}
	buf_printf(&w->b, "%s until=%s\n", addr, when);
	return 0;
}

/* posternctl show suppressions: one line per suppressed address. */
void
reportd_ctl_suppressions(struct reportd *rd, struct imsg *imsg)
{
	struct supp_walk	 w;
	struct msg_ctl_domain	 d;

	if (msg_get_ctl_domain(imsg, &d) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	memset(&w, 0, sizeof(w));
	w.json = (d.flags & CTL_FLAG_JSON) != 0;
	w.rd = rd;
	w.peerid = imsg->hdr.peerid;
	w.now = walltime();
	buf_init(&w.b, IMSG_MAX_PAYLOAD);
	if (rd->sl != NULL &&
	    sentlog_foreach_suppressed(rd->sl, supp_line, &w) == -1) {
		buf_reset(&w.b);
		buf_addstr(&w.b, "error: the sent-report log cannot be read "
		    "(see the log)\n");
	}
	if (w.b.len > 0)
		proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
		    w.peerid, -1, w.b.data, w.b.len);
	buf_free(&w.b);
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, w.peerid, -1,
	    NULL, 0);
}

/* posternctl suppression remove ADDRESS: 1 removed, 0 not there. */
void
reportd_ctl_suppression_remove(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct msg_ctl_count	 n;
	int			 rc;

	if (msg_get_ctl_domain(imsg, &d) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	rc = rd->sl != NULL ? sentlog_unsuppress(rd->sl, d.domain) : 0;
	if (rc == -1) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "the sent-report log "
		    "cannot be written (see the log)");
		return;
	}
	if (rc == 1)
		log_info("reportd: <%s> no longer suppressed", d.domain);
	memset(&n, 0, sizeof(n));
	n.count = rc;
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_COUNT,
	    imsg->hdr.peerid, -1, &n, sizeof(n));
}

/* --- the jobs, for the other kinds of periodic report (TLS-RPT) --- */

/* A window of a kind's report: 1 when it became a job. */
size_t
reportd_job_add(struct reportd *rd, const char *kind, const char *domain,
    time_t begin, time_t end)
{
	return job_add(rd, kind, domain, begin, end, 0);
}

/* Start the next job, if none runs. */
void
reportd_job_run(struct reportd *rd)
{
	job_next(rd);
}

/* The running job is over without a message to queue (sent otherwise). */
void
reportd_job_done(struct reportd *rd)
{
	rd->st_queued++;
	rd->count_sent++;
	job_finish(rd, 1);
}

void
reportd_job_skip(struct reportd *rd, const char *why)
{
	job_skip(rd, why);
}

/* Pending, tried again at a later tick; the next job starts. */
void
reportd_job_later(struct reportd *rd, const char *why)
{
	job_later(rd, why);
	job_next(rd);
}

/*
 * Pending without a line in the log (it waits for a destination's time):
 * the caller starts the next job (reportd_job_run()) unless called from
 * the start of a job (job_next() goes on by itself).
 */
void
reportd_job_wait(struct reportd *rd)
{
	struct report_job	*j = rd->cur;

	rd->cur = NULL;
	job_free(j);
}

/* Over, and counted already (or not to be counted). */
void
reportd_job_finish(struct reportd *rd)
{
	job_finish(rd, 1);
}

/*
 * The running job's message to the queue, from `reports from`, queued
 * once only under a key of its kind, domain and window; the queue's
 * answer finishes the job (reportd_queue_result()).  0, or -1 when the
 * key does not fit (nothing done).
 */
int
reportd_job_queue(struct reportd *rd, uint32_t flags,
    const char *const *rcpts, size_t nrcpt, const struct buf *msg)
{
	struct report_job	*j = rd->cur;
	char			 key[MSG_REPORT_KEY_MAX + 1];
	size_t			 len;

	if ((size_t)snprintf(key, sizeof(key), "%s/%lld/%lld/%s", j->kind,
	    (long long)j->begin, (long long)j->end, j->domain) >=
	    sizeof(key))
		return -1;
	/* a report in parts: a key for each part */
	len = strlen(key);
	if (j->msgs.n > 1 && (size_t)snprintf(key + len, sizeof(key) - len,
	    "/%zu.%zu", j->part + 1, j->msgs.n) >= sizeof(key) - len)
		return -1;
	j->state = JOB_QUEUE;
	j->peer = ++rd->next_peer;
	reportd_queue_report_flags(rd, j->peer, flags, rd->conf.from, key,
	    rcpts, nrcpt, msg);
	return 0;
}

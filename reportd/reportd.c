/*
 * The reportd process: the evaluation store and the reports.
 *
 * It runs chrooted in <spool>/reports, unprivileged, on its own event
 * loop, and owns the evaluation store (reportd/evalstore.h) there.  authd
 * sends it each DMARC evaluation (IMSG_REPORT_EVALUATION_ADD); control asks it
 * for a listing (IMSG_CTL_EVALUATIONS_GET) and its counters
 * (IMSG_CTL_STATS_GET).  The queue hands it received reports
 * (reportd/received.c), kept in the same store (reportd/rpt_store.h).
 * Evaluations are committed in
 * batches (a timer of EVALSTORE_FLUSH_MS after the first one waiting, or a
 * full batch; see reportd/evalstore.c for why losing the last batch in a crash
 * is acceptable); on a full spool they wait in memory and the timer tries
 * again every REPORTD_FULL_RETRY seconds.  Records older than REPORTD_KEEP are pruned at start and
 * then once a day: aggregate reports cover at most a day (RFC 9990 2.1),
 * so a month is ample for reports that are late or re-sent.  The DMARC
 * aggregate reports are built by reportd/dmarc_agg.c (`report dmarc
 * print`, IMSG_CTL_REPORT_DMARC_PRINT) and sent through the queue by
 * reportd/send.c, with the `reports` statements the parent hands over at
 * start (IMSG_CONF_REPORTS_SET, and the key of `reports sign with`).
 * TLS-RPT reports (RFC 8460) come from the TLS results the mta sends
 * (IMSG_REPORT_TLS_RESULT, IMSG_REPORT_TLS_POLICY): reportd/tlsrpt_send.c,
 * `report tls print|send` (IMSG_CTL_REPORT_TLS_PRINT, _SEND).
 * Anything else from a peer is a protocol violation (fail-stop).
 */
#include <sys/types.h>
#include <sys/time.h>

#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "reportd/dmarc_agg.h"
#include "reportd/evalstore.h"
#include "reportd/failure.h"
#include "reportd/received.h"
#include "reportd/rpt_store.h"
#include "reportd/reportd.h"
#include "reportd/sentlog.h"
#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "posternd/proc.h"
#include "util.h"

#define REPORTD_KEEP		(30 * 24 * 3600)	/* seconds */
#define REPORTD_FULL_RETRY	5	/* seconds, while the spool is full */
#define REPORTD_PRUNE_EVERY	(24 * 3600)
/* A listing is sent in IMSG_CTL_REPLY_DATA messages of about this size. */
#define REPORTD_CTL_CHUNK	(16 * 1024)

struct ctl_walk {
	struct reportd		*rd;
	uint32_t		 peerid;
	struct buf		 b;
	long			 n;
	int			 json;		/* -j */
};

static struct reportd *
reportd_state(struct proc *p)
{
	struct reportd	*rd;

	if (p->state == NULL) {
		rd = xcalloc(1, sizeof(*rd));
		rd->proc = p;
		p->state = rd;
	}
	return p->state;
}

/*
 * A commit that found the spool full keeps its evaluations: try again in
 * a while (new evaluations wait with them, they do not trigger tries).
 */
static void
reportd_flush_cb(int fd, short event, void *arg)
{
	struct reportd	*rd = arg;
	struct timeval	 tv = { REPORTD_FULL_RETRY, 0 };

	rd->flush_armed = 0;
	if (evalstore_flush(rd->es) == -1 && evalstore_full(rd->es) &&
	    evalstore_pending(rd->es) > 0) {
		evtimer_add(&rd->ev_flush, &tv);
		rd->flush_armed = 1;
	}
}

static void
reportd_prune(struct reportd *rd)
{
	long	 n;

	n = evalstore_prune(rd->es, walltime() - REPORTD_KEEP);
	if (n > 0)
		log_info("reportd: pruned %ld evaluations older than %d days",
		    n, REPORTD_KEEP / 86400);
	n = evalstore_tls_prune(rd->es, walltime() - REPORTD_KEEP);
	if (n > 0)
		log_info("reportd: pruned %ld TLS results older than %d days",
		    n, REPORTD_KEEP / 86400);
	n = rpt_store_prune(rd->rs, walltime() - REPORTD_KEEP);
	if (n > 0)
		log_info("reportd: pruned %ld received reports older than %d "
		    "days", n, REPORTD_KEEP / 86400);
	reportd_sentlog_prune(rd);
}

static void
reportd_prune_cb(int fd, short event, void *arg)
{
	struct reportd	*rd = arg;
	struct timeval	 tv = { REPORTD_PRUNE_EVERY, 0 };

	reportd_prune(rd);
	evtimer_add(&rd->ev_prune, &tv);
}

/*
 * The addresses a TLS-RPT POST must not lead to (reportd/https_post.c):
 * the same list the mta's loop checks get, our listening addresses and
 * the networks of mta-mx-allow-network.
 */
static void
reportd_conf_addr(struct reportd *rd, struct imsg *imsg)
{
	struct msg_conf_mta_addr	 ma;
	struct netaddr_net		**list;
	size_t				*count;

	if (!rd->have_conf || msg_get_conf_mta_addr(imsg, &ma) == -1 ||
	    rd->npost_listen + rd->npost_allow >= MSG_MTA_ADDR_MAX)
		proc_bad_message(rd->proc, PROC_PARENT, imsg);
	if (ma.kind == MTA_ADDR_LISTEN) {
		list = &rd->post_listen;
		count = &rd->npost_listen;
	} else {
		list = &rd->post_allow;
		count = &rd->npost_allow;
	}
	*list = xreallocarray(*list, *count + 1, sizeof(**list));
	netaddr_net_set(&(*list)[(*count)++], ma.family, ma.addr, ma.port,
	    ma.prefixlen);
	rd->post_rules.listen = rd->post_listen;
	rd->post_rules.nlisten = rd->npost_listen;
	rd->post_rules.allow = rd->post_allow;
	rd->post_rules.nallow = rd->npost_allow;
	rd->post_rules.strict = 1;
}

/* Before chroot: the reports statements, once. */
void
reportd_conf(struct proc *p, struct imsg *imsg)
{
	struct reportd	*rd = reportd_state(p);
	const uint8_t	*key;
	char		 err[256];

	/* the key of `reports sign with`, after the statements */
	if (imsg->hdr.type == IMSG_CONF_DKIMSIG_ADD) {
		if (!rd->have_conf || rd->sigkey != NULL ||
		    msg_get_conf_dkimsig(imsg, &rd->sig, &key) == -1 ||
		    strcmp(rd->sig.name, rd->conf.sign) != 0)
			proc_bad_message(p, PROC_PARENT, imsg);
		if ((rd->sigkey = crypto_privkey_mem(key, rd->sig.keylen, err,
		    sizeof(err))) == NULL)
			fatalx("dkim-signature %s: %s", rd->sig.name, err);
		explicit_bzero(imsg->data, imsg->len);
		return;
	}
	if (imsg->hdr.type == IMSG_CONF_MTA_ADDR_ADD) {
		reportd_conf_addr(rd, imsg);
		return;
	}
	if (imsg->hdr.type != IMSG_CONF_REPORTS_SET || rd->have_conf ||
	    msg_get_conf_reports(imsg, &rd->conf) == -1)
		proc_bad_message(p, PROC_PARENT, imsg);
	rd->have_conf = 1;
	rd->period = rd->conf.period;
	rd->post_rules.strict = 1;
}

/* Still root, before chroot: DNS for the reports' destinations. */
void
reportd_preinit(struct proc *p)
{
	struct reportd	*rd = reportd_state(p);

	if (rd->conf.enabled) {
		rd->dns = proc_dns_ctx(p);
		reportd_tls_preinit(rd);
	}
}

void
reportd_run(struct proc *p)
{
	struct reportd	*rd = reportd_state(p);
	struct timeval	 tv = { REPORTD_PRUNE_EVERY, 0 };
	char		 err[256];

	/* The chroot is <spool>/reports: the store lives at its root. */
	if ((rd->es = evalstore_open("/", 0, err, sizeof(err))) == NULL)
		fatalx("reportd: evaluation store: %s", err);
	if ((rd->rs = rpt_store_open(rd->es, err, sizeof(err))) == NULL)
		fatalx("reportd: %s", err);
	if (rd->period == 0)
		rd->period = DMARC_AGG_PERIOD_DAILY;
	evtimer_set(&rd->ev_flush, reportd_flush_cb, rd);
	evtimer_set(&rd->ev_prune, reportd_prune_cb, rd);
	reportd_prune(rd);
	evtimer_add(&rd->ev_prune, &tv);
	reportd_send_start(rd);
	log_debug("reportd process started");
}

static void
reportd_eval(struct reportd *rd, struct imsg *imsg)
{
	struct dmarc_eval_record	*r;
	struct timeval			 tv = { 0, EVALSTORE_FLUSH_MS * 1000 };
	const void			*data;
	size_t				 len;

	r = xmalloc(sizeof(*r));
	/* authd encodes these itself: one that does not decode is a bug. */
	if (msg_get_bytes(imsg, &data, &len) == -1 ||
	    len > EVALSTORE_VALUE_MAX || dmarc_eval_decode(data, len, r) == -1)
		proc_bad_message(rd->proc, PROC_AUTHD, imsg);
	log_debug("reportd: evaluation for %s from %s: %s",
	    r->header_from[0] ? r->header_from : "(none)", r->source_ip,
	    dmarc_result_name(r->result));
	evalstore_put(rd->es, r);
	free(r);
	if (evalstore_pending(rd->es) > 0 && !rd->flush_armed) {
		evtimer_add(&rd->ev_flush, &tv);
		rd->flush_armed = 1;
	}
}

static void
ctl_walk_send(struct ctl_walk *w)
{
	if (w->b.len == 0)
		return;
	proc_compose(w->rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA, w->peerid,
	    -1, w->b.data, w->b.len);
	buf_reset(&w->b);
}

static int
ctl_walk_cb(void *arg, const struct dmarc_eval_record *r)
{
	struct ctl_walk	*w = arg;
	size_t		 mark = w->b.len;

	int		(*format)(const struct dmarc_eval_record *,
			    struct buf *) = w->json ? evalstore_format_json :
			    evalstore_format;

	if (format(r, &w->b) == -1) {
		/* Never with bounded records; send what fits. */
		w->b.len = mark;
		ctl_walk_send(w);
		if (format(r, &w->b) == -1)
			buf_reset(&w->b);
	}
	w->n++;
	if (w->b.len >= REPORTD_CTL_CHUNK)
		ctl_walk_send(w);
	return 0;
}

static void
reportd_ctl_evaluations(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct ctl_walk		 w;

	if (msg_get_ctl_domain(imsg, &d) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	/* What is waiting for its commit is shown too. */
	if (evalstore_pending(rd->es) > 0) {
		if (rd->flush_armed)
			evtimer_del(&rd->ev_flush);
		reportd_flush_cb(-1, 0, rd);
	}
	memset(&w, 0, sizeof(w));
	w.rd = rd;
	w.peerid = imsg->hdr.peerid;
	w.json = (d.flags & CTL_FLAG_JSON) != 0;
	/* A chunk plus one line: a line is far below the imsg bound. */
	buf_init(&w.b, IMSG_MAX_PAYLOAD);
	if (evalstore_foreach(rd->es, d.domain, 0, 0, ctl_walk_cb, &w) == -1) {
		buf_reset(&w.b);
		buf_addstr(&w.b, "error: the evaluation store cannot be "
		    "read (see the log)\n");
	}
	ctl_walk_send(&w);
	buf_free(&w.b);
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
	    imsg->hdr.peerid, -1, NULL, 0);
}

static int
ctl_tls_cb(void *arg, const struct evalstore_tls_row *r)
{
	struct ctl_walk	*w = arg;
	size_t		 mark = w->b.len;

	int		(*format)(const struct evalstore_tls_row *,
			    struct buf *) = w->json ? evalstore_tls_format_json :
			    evalstore_tls_format;

	/* as ctl_walk_cb(): a row that does not fit goes in the next chunk */
	if (format(r, &w->b) == -1) {
		w->b.len = mark;
		ctl_walk_send(w);
		if (format(r, &w->b) == -1)
			buf_reset(&w->b);
	}
	w->n++;
	if (w->b.len >= REPORTD_CTL_CHUNK)
		ctl_walk_send(w);
	return 0;
}

/*
 * posternctl show tls-results [DOMAIN]: one line per counted outcome,
 * then for a DOMAIN one per line of the policies behind them.
 */
static void
reportd_ctl_tls(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct ctl_walk		 w;

	if (msg_get_ctl_domain(imsg, &d) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	memset(&w, 0, sizeof(w));
	w.rd = rd;
	w.peerid = imsg->hdr.peerid;
	w.json = (d.flags & CTL_FLAG_JSON) != 0;
	buf_init(&w.b, IMSG_MAX_PAYLOAD);
	/* with a domain, the policy strings too (RFC 8460 4.4) */
	if (evalstore_tls_walk(rd->es, EVALSTORE_TLS_RESULTS, d.domain,
	    ctl_tls_cb, &w) == -1 || (d.domain[0] != '\0' &&
	    evalstore_tls_walk(rd->es, EVALSTORE_TLS_POLICIES, d.domain,
	    ctl_tls_cb, &w) == -1)) {
		buf_reset(&w.b);
		buf_addstr(&w.b, "error: the TLS results cannot be read (see "
		    "the log)\n");
	}
	ctl_walk_send(&w);
	buf_free(&w.b);
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
	    imsg->hdr.peerid, -1, NULL, 0);
}

/* An error answer to posternctl: it prints it and exits 1. */
void
reportd_ctl_error(struct reportd *rd, uint32_t peerid, const char *fmt, ...)
{
	struct msg_ctl_error	 e;
	va_list			 ap;

	memset(&e, 0, sizeof(e));
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_ERROR, peerid, -1,
	    &e, sizeof(e));
}

/* A whole answer to posternctl: b in DATA chunks, then the END. */
void
reportd_ctl_data(struct reportd *rd, uint32_t peerid, const struct buf *b)
{
	size_t	 off, n;

	for (off = 0; off < b->len; off += n) {
		n = b->len - off;
		if (n > REPORTD_CTL_CHUNK)
			n = REPORTD_CTL_CHUNK;
		proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
		    peerid, -1, b->data + off, n);
	}
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_END, peerid, -1,
	    NULL, 0);
}

/* What the reports say about us (report_metadata). */
void
reportd_meta(struct reportd *rd, struct dmarc_agg_meta *m)
{
	static char	 email[300];
	const char	*host = rd->proc->global.hostname;

	memset(m, 0, sizeof(*m));
	m->receiver = host;
	m->generator = "postern";
	if (rd->conf.enabled) {
		m->org_name = rd->conf.org;
		m->email = rd->conf.from;
		m->contact = rd->conf.contact;
		return;
	}
	/* Reports are off: what print shows names this host. */
	snprintf(email, sizeof(email), "postmaster@%s", host);
	m->org_name = host;
	m->email = email;
}

static int
agg_add_cb(void *arg, const struct dmarc_eval_record *r)
{
	/* Past the row bound the rest is left out: logged by the caller. */
	dmarc_agg_add(arg, r);
	return 0;
}

/*
 * The aggregate report of domain over [begin, end) from the store (what
 * waits for its commit included), or NULL on a store error.
 */
/* What waits for its commit is committed now (a report is being made). */
void
reportd_flush_evaluations(struct reportd *rd)
{
	if (evalstore_pending(rd->es) > 0) {
		if (rd->flush_armed)
			evtimer_del(&rd->ev_flush);
		reportd_flush_cb(-1, 0, rd);
	}
}

struct dmarc_agg *
reportd_dmarc_build(struct reportd *rd, const char *domain, time_t begin,
    time_t end)
{
	struct dmarc_agg	*a;

	reportd_flush_evaluations(rd);
	a = dmarc_agg_new(domain, begin, end);
	if (evalstore_foreach(rd->es, domain, begin, end, agg_add_cb,
	    a) == -1) {
		dmarc_agg_free(a);
		return NULL;
	}
	return a;
}

/*
 * posternctl report dmarc print DOMAIN: the report of the open period, as
 * it would be sent if the period closed now; nothing is sent or closed.
 */
static void
reportd_ctl_dmarc_print(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct dmarc_agg_meta	 m;
	struct dmarc_agg	*a;
	struct buf		 b;
	time_t			 begin, end, until;

	if (msg_get_ctl_domain(imsg, &d) == -1 || d.domain[0] == '\0')
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	begin = dmarc_agg_period_begin(walltime(), rd->period);
	end = begin + rd->period;
	/* after report dmarc send, what is open starts where it stopped */
	if (rd->sl != NULL && sentlog_until(rd->sl, "dmarc", d.domain,
	    &until) == 0 && until > begin)
		begin = until;
	if ((a = reportd_dmarc_build(rd, d.domain, begin, end)) == NULL) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "the evaluation store cannot "
		    "be read (see the log)");
		return;
	}
	if (dmarc_agg_rows(a) == 0) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "%s: no evaluations in the "
		    "current period", d.domain);
		dmarc_agg_free(a);
		return;
	}
	reportd_meta(rd, &m);
	buf_init(&b, DMARC_AGG_XML_MAX);
	if (dmarc_agg_xml(a, &m, &b) == -1) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "%s: the report is too large",
		    d.domain);
	} else
		reportd_ctl_data(rd, imsg->hdr.peerid, &b);
	buf_free(&b);
	dmarc_agg_free(a);
}

/* posternctl show stats: the evaluation store's counters. */
static void
reportd_ctl_stats(struct reportd *rd, struct imsg *imsg)
{
	struct evalstore_stats	 st;
	struct rpt_store_stats	 rst;
	struct msg_ctl_stat	 m;
	uint64_t		 fq, fl, fs, fo;
	size_t			 i;

	if (msg_get_empty(imsg) == -1)
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	evalstore_get_stats(rd->es, &st);
	rpt_store_stats(rd->rs, &rst);
	reportd_failure_stats(rd, &fq, &fl, &fs, &fo);
	{
		const struct { const char *name; uint64_t value; } rows[] = {
			{ "reportd.evaluations.stored", st.stored },
			{ "reportd.evaluations.waiting",
			    evalstore_pending(rd->es) },
			{ "reportd.evaluations.held", st.held },
			{ "reportd.evaluations.lost", st.dropped },
			{ "reportd.tls.stored", st.tls_stored },
			{ "reportd.tls.lost", st.tls_lost },
			{ "reportd.spool.full", evalstore_full(rd->es) },
			{ "reportd.received.stored", rst.stored },
			{ "reportd.received.refused", rst.refused },
			{ "reportd.received.lost", rst.lost },
			{ "reportd.received.duplicates", rst.duplicates },
			{ "reportd.reports.queued", rd->st_queued },
			{ "reportd.reports.duplicate", rd->st_dup },
			{ "reportd.reports.failed", rd->st_failed },
			{ "reportd.reports.skipped", rd->st_skipped },
			{ "reportd.failure.queued", fq },
			{ "reportd.failure.limited", fl },
			{ "reportd.failure.skipped", fs },
			{ "reportd.failure.off", fo },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, rows[i].name, sizeof(m.name));
			m.value = rows[i].value;
			proc_compose(rd->proc, PROC_CONTROL,
			    IMSG_CTL_STATS_ENTRY, imsg->hdr.peerid, -1, &m,
			    sizeof(m));
		}
	}
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_END,
	    imsg->hdr.peerid, -1, NULL, 0);
}

/* SIGTERM: what waits for the next batch commit is committed now. */
void
reportd_shutdown(struct proc *p)
{
	struct reportd	*rd = p->state;

	if (rd != NULL && rd->es != NULL && evalstore_flush(rd->es) == -1)
		log_warnx("reportd: the last evaluations were not stored");
}

void
reportd_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	struct reportd		*rd = reportd_state(p);
	struct msg_tls_result	 tr;
	struct msg_tls_policy	 tp;
	const char		*text;

	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_AUTHD &&
	    imsg->hdr.type == IMSG_REPORT_EVALUATION_ADD) {
		reportd_eval(rd, imsg);
		return;
	}
	if (from == PROC_AUTHD && imsg->hdr.type == IMSG_REPORT_FAILURE_ADD) {
		reportd_failure_add(rd, imsg);
		return;
	}
	if (from == PROC_MTA && imsg->hdr.type == IMSG_REPORT_TLS_RESULT) {
		if (msg_get_tls_result(imsg, &tr) == -1)
			proc_bad_message(p, from, imsg);
		evalstore_tls_add(rd->es, &tr);
		return;
	}
	if (from == PROC_MTA && imsg->hdr.type == IMSG_REPORT_TLS_POLICY) {
		if (msg_get_tls_policy(imsg, &tp, &text) == -1)
			proc_bad_message(p, from, imsg);
		evalstore_tls_policy_put(rd->es, &tp, text);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_EVALUATIONS_GET) {
		reportd_ctl_evaluations(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_TLS_RESULTS_GET) {
		reportd_ctl_tls(rd, imsg);
		return;
	}
	if (from == PROC_QUEUE &&
	    imsg->hdr.type == IMSG_REPORT_MESSAGE_RECEIVE) {
		received_message(p, rd->rs, imsg);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_REPORTS_GET) {
		received_ctl_reports(p, rd->rs, imsg);
		return;
	}
	if (from == PROC_QUEUE &&
	    imsg->hdr.type == IMSG_QUEUE_REPORT_RESULT) {
		reportd_queue_result(rd, imsg);
		return;
	}
	if (from == PROC_QUEUE &&
	    imsg->hdr.type == IMSG_QUEUE_REPORT_BOUNCE) {
		reportd_queue_bounce(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_SUPPRESSIONS_GET) {
		reportd_ctl_suppressions(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_SUPPRESSION_REMOVE) {
		reportd_ctl_suppression_remove(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_REPORT_DMARC_SEND) {
		reportd_ctl_dmarc_send(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_REPORT_DMARC_PRINT) {
		reportd_ctl_dmarc_print(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_REPORT_TLS_PRINT) {
		reportd_ctl_tls_print(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL &&
	    imsg->hdr.type == IMSG_CTL_REPORT_TLS_SEND) {
		reportd_ctl_tls_send(rd, imsg);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_STATS_GET) {
		reportd_ctl_stats(rd, imsg);
		return;
	}
	proc_unexpected(p, from, imsg);
}

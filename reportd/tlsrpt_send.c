/*
 * Sending TLS-RPT reports (RFC 8460 5): one report per policy domain and
 * UTC day (4.1: "a daily report"), made from the TLS results the mta
 * recorded in the evaluation store, as jobs of kind "tls" in reportd's
 * job queue (reportd/send.c), so that the sent-report log gives them the
 * same exactly-once closing as the DMARC aggregate reports:
 *
 *   1. a day that ended (or `report tls send`) is closed: a job per
 *      domain with results, marked pending in the log;
 *   2. the report's JSON (reportd/tlsrpt.c) is built and gzipped (5.2);
 *   3. the domain's _smtp._tls TXT record is looked up (3) for its rua;
 *   4. the mailto: URIs get one message (5.3) through the queue, DKIM-
 *      signed like the DMARC reports, with "TLS-Required: No" (RFC 8689
 *      5) in its header and on its envelopes (ENV_F_TLSREQ_NO), so that
 *      the report of a TLS failure can reach a domain whose TLS fails;
 *   5. every https: URI gets an HTTPS POST (5.4; reportd/https_post.c),
 *      one after the other, each held to the address rules of
 *      lib/netaddr.h (strict; `mta-mx-allow-network` allows networks).
 *
 * Each destination has its own state in the sent-report log
 * (sentlog_dest_*()): the mail part is queued at once and once; a URI
 * that took the report is never posted to again; a URI that failed is
 * tried again after TLS_BACKOFF (1, 5, 15, 60 minutes, then every 4
 * hours), the report staying pending meanwhile, until a day after the
 * report's end (TLS_RETRY_FOR), when the URIs still failing are given up
 * with one log line.  A URI whose host leads to an address that is
 * refused is dropped at once (permanent for that URI).  A host that does
 * not exist or has no address (NXDOMAIN, or NODATA for A and AAAA) is
 * tried again no sooner than an hour, then two, and dropped at its
 * TLS_NOHOST_MAX-th such answer.
 *
 * A day closed early by `report tls send` is closed whole: results that
 * come later that day are not reported (the store counts by day).  The
 * exactly-once of the log holds for the mail; a POST that a crash
 * interrupts before its state is written is made again: at least once for
 * https (the receiver knows the report by its report-id, 4.4).  Not
 * here: the size limits of 5.3 (a report is one message), a POST answered
 * with a redirect is a failure (5.4 does not ask us to follow it).
 */
#include <sys/types.h>

#include <ctype.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <tls.h>

#include "clock.h"
#include "dns.h"
#include "log.h"
#include "posternd/proc.h"
#include "reportd/dmarc_agg.h"
#include "reportd/evalstore.h"
#include "reportd/https_post.h"
#include "reportd/report_mail.h"
#include "reportd/reportd.h"
#include "reportd/sentlog.h"
#include "reportd/tlsrpt.h"
#include "util.h"

#define TLS_DAY			86400
#define TLS_CATCHUP		(3 * TLS_DAY)	/* days ended within */
#define TLS_RETRY_FOR		TLS_DAY		/* https: after the end */
#define TLS_NOHOST_MAX		3		/* NXDOMAIN/NODATA answers */
#define TLS_NOHOST_WAIT		3600		/* after the first of them */
#define TLS_MEDIA_TYPE		"application/tlsrpt+gzip"	/* 6.4 */
/*
 * The POSTs of one job share this many seconds: a domain that names
 * slow https: destinations (up to TLSRPT_RUA_MAX of a minute each) must
 * not hold up every other report for long; what is left waits its turn.
 */
#define TLS_JOB_BUDGET		90
#define TLS_JOB_DEFER		300		/* then tried again after */

struct tls_job {
	struct reportd		*rd;
	char			 domain[SENTLOG_DOMAIN_MAX + 1];
	time_t			 begin, end;
	struct dns_query	*q;
	struct https_post	*post;
	struct tlsrpt_record	 rec;
	size_t			 next;		/* rua being sent to */
	size_t			 posted;	/* https: this run */
	int			 mailed;	/* the queue took it this run */
	int			 delivered;	/* somewhere, ever */
	time_t			 due;		/* the next failing URI's try */
	time_t			 started;	/* monotime() */
	time_t			 budget;	/* TLS_JOB_BUDGET */
	size_t			 deferred;	/* https: past the budget */
	size_t			 failing, dropped;	/* https: */
	struct buf		 gz;
	char			 rid[DMARC_AGG_ID_MAX];
	char			 fn[DMARC_AGG_FILENAME_MAX];
	const char		*submitter;
};

/*
 * TEST ONLY: POSTERN_TEST_TLS_JOB_BUDGET=N seconds instead of
 * TLS_JOB_BUDGET (removed in every process unless posternd runs with
 * -d -T, posternd/proc.c).
 */
static time_t
tls_job_budget(void)
{
	const char	*v, *errstr;
	long long	 n;

	if ((v = getenv("POSTERN_TEST_TLS_JOB_BUDGET")) == NULL)
		return TLS_JOB_BUDGET;
	n = strtonum(v, 0, TLS_JOB_BUDGET, &errstr);
	return errstr != NULL ? TLS_JOB_BUDGET : (time_t)n;
}

void
reportd_tls_job_free(struct tls_job *t)
{
	if (t == NULL)
		return;
	if (t->q != NULL)
		dns_query_cancel(t->q);
	https_post_cancel(t->post);
	buf_free(&t->gz);
	free(t);
}

/*
 * Before chroot: libtls with the CA bundle (`mta-ca-file`, or the
 * system's) read into memory, and the peer's name and chain checked
 * (RFC 8460 5.4: the certificate MUST be valid for the host).
 */
void
reportd_tls_preinit(struct reportd *rd)
{
	const char	*ca = rd->conf.ca_file[0] != '\0' ? rd->conf.ca_file :
			    tls_default_ca_cert_file();

	if ((rd->tls_config = tls_config_new()) == NULL)
		fatalx("reportd: tls_config_new");
	if (tls_config_set_ca_file(rd->tls_config, ca) == -1) {
		log_warnx("reportd: CA bundle %s: %s; no TLS-RPT report can "
		    "be sent over HTTPS", ca, tls_config_error(rd->tls_config));
		tls_config_free(rd->tls_config);
		rd->tls_config = NULL;
	}
}

/* --- the report from the store --- */

struct tls_walk {
	struct tlsrpt_report	*r;
	char			 day[16];
	struct buf		 text[3];	/* policy strings per type */
	size_t			 lost;
};

static int
policy_type(const char *name)
{
	int	 i;

	for (i = MSG_TLS_POLICY_NONE; i <= MSG_TLS_POLICY_STS; i++)
		if (strcmp(name, msg_tls_policy_name(i)) == 0)
			return i;
	return -1;
}

static int
build_cb(void *arg, const struct evalstore_tls_row *row)
{
	struct tls_walk	*w = arg;
	int		 type;

	if (strcmp(row->day, w->day) != 0 ||
	    (type = policy_type(row->policy)) == -1)
		return 0;
	if (row->result != NULL) {
		if (tlsrpt_add(w->r, type, row->domain, row->result, row->mx,
		    row->ip, "", row->count) == -1)
			w->lost++;
	} else if (buf_add(&w->text[type], row->text, row->textlen) == -1)
		w->lost++;
	return 0;
}

/* The report of domain's UTC day holding begin; NULL on a store error. */
static struct tlsrpt_report *
tls_build(struct reportd *rd, const char *domain, time_t begin)
{
	struct tls_walk	 w;
	struct tm	 tm;
	int		 i, rc;

	memset(&w, 0, sizeof(w));
	if (gmtime_r(&begin, &tm) == NULL ||
	    (w.r = tlsrpt_new()) == NULL)
		return NULL;
	strftime(w.day, sizeof(w.day), "%Y-%m-%d", &tm);
	for (i = 0; i < 3; i++)
		buf_init(&w.text[i], MSG_TLS_POLICY_TEXT_MAX * 4);
	rc = evalstore_tls_walk(rd->es, EVALSTORE_TLS_RESULTS, domain,
	    build_cb, &w);
	/* the policies after the results: only those with outcomes count */
	if (rc == 0)
		rc = evalstore_tls_walk(rd->es, EVALSTORE_TLS_POLICIES, domain,
		    build_cb, &w);
	for (i = MSG_TLS_POLICY_TLSA; i <= MSG_TLS_POLICY_STS; i++)
		if (w.text[i].len > 0 && tlsrpt_policy_strings(w.r, i, domain,
		    buf_cstr(&w.text[i])) == -1)
			w.lost++;
	for (i = 0; i < 3; i++)
		buf_free(&w.text[i]);
	if (w.lost > 0)
		log_warnx("reportd: TLS-RPT report of %s for %s: %zu entries "
		    "left out (over the report's bounds)", domain, w.day,
		    w.lost);
	if (rc == -1) {
		tlsrpt_free(w.r);
		return NULL;
	}
	return w.r;
}

/* The report's JSON (4.4) with its metadata from `reports` into out. */
static int
tls_json(struct reportd *rd, const struct tlsrpt_report *r,
    const char *domain, time_t begin, char *rid, size_t ridlen,
    struct buf *out)
{
	struct dmarc_agg_meta	 m;
	struct tlsrpt_meta	 tm;

	reportd_meta(rd, &m);
	/* one id per domain and day: a report sent again is the same one */
	if ((size_t)snprintf(rid, ridlen, "tlsrpt.%lld.%s@%s",
	    (long long)begin, domain, m.receiver) >= ridlen)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.org = m.org_name;
	tm.contact = m.contact != NULL && m.contact[0] != '\0' ? m.contact :
	    m.email;
	tm.report_id = rid;
	tm.begin = begin;
	tm.end = begin + TLS_DAY;
	return tlsrpt_json(r, &tm, out);
}

/* --- the jobs --- */

static void	tls_next(struct tls_job *);

/* Seconds before the next try after failure n (1, 2, ...) of a URI. */
static time_t
tls_backoff(uint32_t n)
{
	static const time_t	 wait[] = { 60, 300, 900, 3600, 4 * 3600 };

	if (n == 0)
		n = 1;
	if (n > sizeof(wait) / sizeof(wait[0]))
		n = sizeof(wait) / sizeof(wait[0]);
	return wait[n - 1];
}

/* A destination's state, from the log; a log that cannot be read: none. */
static void
tls_dest_get(struct tls_job *t, const char *uri, struct sentlog_dest *d)
{
	if (sentlog_dest_get(t->rd->sl, REPORTD_KIND_TLS, t->domain, t->begin,
	    uri, d) == -1)
		log_warnx("reportd: the sent-report log cannot be read; the "
		    "TLS-RPT report of %s may go again to %s", t->domain,
		    uri[0] != '\0' ? uri : "its destinations");
}

static void
tls_dest_put(struct tls_job *t, const char *uri, const struct sentlog_dest *d)
{
	if (sentlog_dest_put(t->rd->sl, REPORTD_KIND_TLS, t->domain, t->begin,
	    uri, d) == -1)
		log_warnx("reportd: the sent-report log cannot be written; the "
		    "TLS-RPT report of %s may go again to %s", t->domain,
		    uri[0] != '\0' ? uri : "its destinations");
}

/* 5.3: the report as mail to every mailto: URI not suppressed. */
static void
tls_mail(struct tls_job *t)
{
	struct reportd		*rd = t->rd;
	struct report_mail	 rm;
	struct sentlog_dest	 d;
	struct buf		 msg;
	const char		*to[TLSRPT_RUA_MAX];
	char			 subject[1024], text[512], hdr[1024];
	size_t			 i, nto = 0;
	time_t			 until;

	tls_dest_get(t, SENTLOG_DEST_MAIL, &d);
	if (d.state == SENTLOG_DEST_DONE) {
		t->delivered = 1;
		tls_next(t);		/* queued before */
		return;
	}
	for (i = 0; i < t->rec.nrua; i++) {
		if (t->rec.rua[i].scheme != TLSRPT_MAILTO)
			continue;
		if (sentlog_suppressed(rd->sl, t->rec.rua[i].uri, walltime(),
		    &until) == 1) {
			log_info("reportd: TLS-RPT reports of %s are not sent "
			    "to <%s>: suppressed after a failure, until %lld",
			    t->domain, t->rec.rua[i].uri, (long long)until);
			continue;
		}
		to[nto++] = t->rec.rua[i].uri;
	}
	if (nto == 0) {
		tls_next(t);
		return;
	}
	/* 5.3: the subject, and the two header fields */
	snprintf(subject, sizeof(subject), "Report Domain: %s\r\n"
	    " Submitter: %s\r\n Report-ID: <%s>", t->domain, t->submitter,
	    t->rid);
	snprintf(hdr, sizeof(hdr), "TLS-Report-Domain: %s\r\n"
	    "TLS-Report-Submitter: %s\r\nTLS-Required: No\r\n", t->domain,
	    t->submitter);
	snprintf(text, sizeof(text), "This is an aggregate TLS report "
	    "(RFC 8460) from %s\nof the TLS sessions to the mail servers of "
	    "%s on one UTC day.\n", t->submitter, t->domain);
	memset(&rm, 0, sizeof(rm));
	rm.from = rd->conf.from;
	rm.to = to;
	rm.nto = nto;
	rm.subject = subject;
	rm.message_id = t->rid;
	rm.date = walltime();
	rm.text = text;
	rm.filename = t->fn;
	rm.media_type = TLS_MEDIA_TYPE;
	rm.attachment = t->gz.data;
	rm.attachment_len = t->gz.len;
	rm.extra_header = hdr;
	rm.report_type = "tlsrpt";		/* 5.3 */
	buf_init(&msg, REPORT_MAIL_MAX);
	if (report_mail_build(&rm, &msg) == -1 || reportd_sign(rd, &msg) == -1 ||
	    reportd_job_queue(rd, MSG_REPORT_F_TLSREQ_NO, to, nto,
	    &msg) == -1) {
		buf_free(&msg);
		log_warnx("reportd: TLS-RPT report of %s for %lld: its message "
		    "cannot be made; not mailed", t->domain,
		    (long long)t->begin);
		tls_next(t);
		return;
	}
	buf_free(&msg);
	/* the queue's answer comes to reportd_tls_mailed() */
}

/* The queue has the mail (or had it): never again; then the https: URIs. */
void
reportd_tls_mailed(struct tls_job *t, int queued_now)
{
	struct sentlog_dest	 d;

	memset(&d, 0, sizeof(d));
	d.state = SENTLOG_DEST_DONE;
	tls_dest_put(t, SENTLOG_DEST_MAIL, &d);
	t->delivered = 1;
	t->mailed = queued_now;
	tls_next(t);
}

static void
tls_posted(void *arg, enum https_post_result res, int status,
    const char *why)
{
	struct tls_job		*t = arg;
	const char		*uri = t->rec.rua[t->next].uri;
	struct sentlog_dest	 d;
	time_t			 now = walltime(), wait;

	t->post = NULL;
	tls_dest_get(t, uri, &d);
	switch (res) {
	case HTTPS_POST_OK:
		log_info("reportd: TLS-RPT report of %s for %lld posted to %s "
		    "(HTTP %d)", t->domain, (long long)t->begin, uri, status);
		d.state = SENTLOG_DEST_DONE;
		t->posted++;
		t->delivered = 1;
		break;
	case HTTPS_POST_REFUSED:
		log_warnx("reportd: TLS-RPT report of %s for %lld: %s given "
		    "up: %s", t->domain, (long long)t->begin, uri, why);
		d.state = SENTLOG_DEST_DROPPED;
		t->dropped++;
		break;
	case HTTPS_POST_NOHOST:
		d.attempts++;
		if (++d.nohost >= TLS_NOHOST_MAX) {
			log_warnx("reportd: TLS-RPT report of %s for %lld: %s "
			    "given up: %s (%u times)", t->domain,
			    (long long)t->begin, uri, why, d.nohost);
			d.state = SENTLOG_DEST_DROPPED;
			t->dropped++;
			break;
		}
		wait = TLS_NOHOST_WAIT * d.nohost;
		if (wait < tls_backoff(d.attempts))
			wait = tls_backoff(d.attempts);
		d.next_try = now + wait;
		log_warnx("reportd: TLS-RPT report of %s for %lld to %s: %s; "
		    "tried again in %lld min", t->domain,
		    (long long)t->begin, uri, why, (long long)wait / 60);
		break;
	default:
		d.attempts++;
		d.nohost = 0;
		d.next_try = now + tls_backoff(d.attempts);
		log_warnx("reportd: TLS-RPT report of %s for %lld to %s: %s; "
		    "tried again in %lld min", t->domain,
		    (long long)t->begin, uri, why,
		    (long long)tls_backoff(d.attempts) / 60);
		break;
	}
	/* the last try is at the end of the retry window */
	if (d.state == SENTLOG_DEST_FAILING &&
	    d.next_try > t->end + TLS_RETRY_FOR)
		d.next_try = t->end + TLS_RETRY_FOR;
	tls_dest_put(t, uri, &d);
	t->next++;
	tls_next(t);
}

/* The job is over: what was delivered, what still fails, what is given up. */
static void
tls_end(struct tls_job *t)
{
	struct reportd		*rd = t->rd;
	struct sentlog_dest	 d, r;
	size_t			 i;
	time_t			 now = walltime();

	if (t->failing > 0 && now < t->end + TLS_RETRY_FOR) {
		memset(&r, 0, sizeof(r));
		r.next_try = t->due;
		tls_dest_put(t, SENTLOG_DEST_REPORT, &r);
		reportd_job_wait(rd);
		reportd_job_run(rd);
		return;
	}
	if (t->failing > 0) {
		/* 5.4: tried for a day; one line, then nothing more */
		for (i = 0; i < t->rec.nrua; i++) {
			if (t->rec.rua[i].scheme != TLSRPT_HTTPS)
				continue;
			tls_dest_get(t, t->rec.rua[i].uri, &d);
			if (d.state != SENTLOG_DEST_FAILING)
				continue;
			d.state = SENTLOG_DEST_DROPPED;
			tls_dest_put(t, t->rec.rua[i].uri, &d);
		}
		log_warnx("reportd: TLS-RPT report of %s for %lld: %zu https: "
		    "destination%s still failing a day after the report's "
		    "end; given up", t->domain, (long long)t->begin,
		    t->failing, t->failing == 1 ? "" : "s");
	}
	if (t->mailed)
		reportd_job_finish(rd);		/* counted by the queue */
	else if (t->posted > 0)
		reportd_job_done(rd);
	else if (t->delivered)
		reportd_job_finish(rd);
	else
		reportd_job_skip(rd, "no destination took it");
}

/* The next https: URI due, then the end. */
static void
tls_next(struct tls_job *t)
{
	struct reportd		*rd = t->rd;
	struct sentlog_dest	 d;
	const char		*uri;
	time_t			 now = walltime();

	for (; t->next < t->rec.nrua; t->next++) {
		if (t->rec.rua[t->next].scheme != TLSRPT_HTTPS)
			continue;
		uri = t->rec.rua[t->next].uri;
		tls_dest_get(t, uri, &d);
		if (d.state == SENTLOG_DEST_DONE) {
			t->delivered = 1;
			continue;
		}
		if (d.state == SENTLOG_DEST_DROPPED)
			continue;
		/* failed before: waits for its time (or the last try) */
		if (d.attempts > 0 && d.next_try > now &&
		    now < t->end + TLS_RETRY_FOR)
			continue;
		if (monotime() - t->started >= t->budget) {
			t->deferred++;
			continue;
		}
		t->post = https_post_start(rd->dns, rd->tls_config,
		    &rd->post_rules, uri, TLS_MEDIA_TYPE, t->gz.data,
		    t->gz.len, tls_posted, t);
		if (t->post != NULL)
			return;
		log_warnx("reportd: TLS-RPT reports of %s are not sent to %s: "
		    "not a usable https: URI%s", t->domain, uri,
		    rd->tls_config == NULL ? " (no CA bundle)" : "");
	}
	/* the URIs left failing, with when the first is due */
	t->failing = 0;
	for (t->next = 0; t->next < t->rec.nrua; t->next++) {
		if (t->rec.rua[t->next].scheme != TLSRPT_HTTPS)
			continue;
		tls_dest_get(t, t->rec.rua[t->next].uri, &d);
		if (d.state != SENTLOG_DEST_FAILING || d.attempts == 0)
			continue;
		if (t->failing++ == 0 || d.next_try < t->due)
			t->due = d.next_try;
	}
	if (t->deferred > 0) {
		log_info("reportd: TLS-RPT report of %s for %lld: %zu https: "
		    "destination%s left for later: the job's %d s are spent",
		    t->domain, (long long)t->begin, t->deferred,
		    t->deferred == 1 ? "" : "s", (int)t->budget);
		if (t->failing++ == 0 || now + TLS_JOB_DEFER < t->due)
			t->due = now + TLS_JOB_DEFER;
	}
	tls_end(t);
}

static void
txt_cb(void *arg, const struct dns_answer *ans)
{
	struct tls_job	*t = arg;
	char		**txt, why[256];
	size_t		 *len, i, n;
	enum tlsrpt_txt	 rc;

	t->q = NULL;
	if (ans->failed || (ans->rcode != DNS_R_NOERROR &&
	    ans->rcode != DNS_R_NXDOMAIN) || ans->sec == DNS_SEC_BOGUS) {
		reportd_job_later(t->rd, "its _smtp._tls record could not be "
		    "looked up");
		return;
	}
	/* every record counts (3): the answer itself is bounded */
	n = ans->nrr;
	txt = xcalloc(n + 1, sizeof(*txt));
	len = xcalloc(n + 1, sizeof(*len));
	for (i = 0; i < n; i++)
		txt[i] = dns_txt_concat(&ans->rr[i], &len[i]);
	rc = tlsrpt_txt_select((const char *const *)txt, len, n, &t->rec, why,
	    sizeof(why));
	for (i = 0; i < n; i++)
		free(txt[i]);
	free(txt);
	free(len);
	if (rc == TLSRPT_TXT_NONE) {
		reportd_job_skip(t->rd, "no _smtp._tls reporting policy");
		return;
	}
	if (rc != TLSRPT_TXT_FOUND) {
		reportd_job_skip(t->rd, why);
		return;
	}
	t->next = 0;
	tls_mail(t);
}

/* Called by send.c's job_next() for a job of kind "tls": *slot is ours. */
void
reportd_tls_job(struct reportd *rd, struct tls_job **slot,
    const char *domain, time_t begin, time_t end)
{
	struct tls_job		*t;
	struct tlsrpt_report	*r;
	struct buf		 json;
	struct dmarc_agg_meta	 m;
	struct sentlog_dest	 d;
	char			 name[DNS_NAME_BUF];
	time_t			 now = walltime();
	int			 rc;

	t = *slot = xcalloc(1, sizeof(*t));
	t->rd = rd;
	t->started = monotime();
	t->budget = tls_job_budget();
	strlcpy(t->domain, domain, sizeof(t->domain));
	t->begin = begin;
	t->end = end;
	buf_init(&t->gz, REPORT_MAIL_MAX);
	reportd_meta(rd, &m);
	t->submitter = m.receiver;
	/* an https: URI failed: nothing to do before it is due */
	tls_dest_get(t, SENTLOG_DEST_REPORT, &d);
	if (d.next_try > now && now < end + TLS_RETRY_FOR) {
		reportd_job_wait(rd);
		return;
	}
	if (rd->conf.max_per_period > 0 &&
	    rd->count_sent >= rd->conf.max_per_period) {
		reportd_job_skip(rd, "reports max-per-period reached");
		return;
	}
	if ((r = tls_build(rd, domain, begin)) == NULL) {
		reportd_job_later(rd, "the evaluation store cannot be read");
		return;
	}
	if (tlsrpt_count(r) == 0) {
		tlsrpt_free(r);
		reportd_job_skip(rd, "no TLS results");
		return;
	}
	buf_init(&json, TLSRPT_JSON_MAX + 2);
	rc = tls_json(rd, r, domain, begin, t->rid, sizeof(t->rid), &json);
	tlsrpt_free(r);
	/* 5.2: gzip; 5.1: the filename, its unique part the day's id */
	if (rc == -1 || report_gzip(json.data, json.len, &t->gz) == -1 ||
	    tlsrpt_filename(m.receiver, domain, begin, begin + TLS_DAY,
	    "0", t->fn, sizeof(t->fn)) == -1) {
		buf_free(&json);
		reportd_job_skip(rd, "the report is too large to be made");
		return;
	}
	buf_free(&json);
	if ((size_t)snprintf(name, sizeof(name), "_smtp._tls.%s", domain) >=
	    sizeof(name)) {
		reportd_job_skip(rd, "its domain is too long");
		return;
	}
	/* NULL: not a domain name, and no callback would come */
	if ((t->q = dns_query(rd->dns, name, DNS_T_TXT, txt_cb, t)) == NULL)
		reportd_job_skip(rd, "its domain is not a domain name");
}

/* --- closing days --- */

struct tls_close {
	struct reportd	*rd;
	time_t		 cur;		/* the open day */
	int		 current;	/* close it too */
	size_t		 added;
};

static int
close_cb(void *arg, const struct evalstore_tls_row *row)
{
	struct tls_close	*c = arg;
	struct tm		 tm;
	time_t			 day, until;
	char			 dom[SENTLOG_DOMAIN_MAX + 1];
	size_t			 i;

	memset(&tm, 0, sizeof(tm));
	if (row->result == NULL || strptime(row->day, "%Y-%m-%d", &tm) ==
	    NULL || (day = timegm(&tm)) == -1)
		return 0;
	if (day < c->cur - TLS_CATCHUP || day > c->cur ||
	    (day == c->cur && !c->current))
		return 0;
	/* the log knows domains in lower case (send.c's jobs) */
	for (i = 0; row->domain[i] != '\0' && i < sizeof(dom) - 1; i++)
		dom[i] = tolower((unsigned char)row->domain[i]);
	dom[i] = '\0';
	if (sentlog_until(c->rd->sl, REPORTD_KIND_TLS, dom, &until) == -1 ||
	    until >= day + TLS_DAY)
		return 0;	/* reported already (or the log cannot say) */
	c->added += reportd_job_add(c->rd, REPORTD_KIND_TLS, dom, day,
	    day + TLS_DAY);
	return 0;
}

/*
 * The days that ended (from the tick), with current the open one too
 * (`report tls send`), of domain (NULL: all): jobs.  How many.
 */
size_t
reportd_tls_close(struct reportd *rd, time_t now, const char *domain,
    int current)
{
	struct tls_close	 c;

	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.cur = dmarc_agg_period_begin(now, TLS_DAY);
	c.current = current;
	if (rd->sl == NULL || (!current && c.cur <= rd->tls_closed_through))
		return 0;
	if (evalstore_tls_walk(rd->es, EVALSTORE_TLS_RESULTS,
	    domain != NULL ? domain : "", close_cb, &c) == -1) {
		log_warnx("reportd: the TLS results cannot be read; days are "
		    "closed later");
		return 0;
	}
	if (!current)
		rd->tls_closed_through = c.cur;
	return c.added;
}

/* --- posternctl --- */

/* report tls print DOMAIN: the open day's JSON; nothing sent or closed. */
void
reportd_ctl_tls_print(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct tlsrpt_report	*r;
	struct buf		 b;
	char			 rid[DMARC_AGG_ID_MAX];
	time_t			 day;

	if (msg_get_ctl_domain(imsg, &d) == -1 || d.domain[0] == '\0')
		proc_bad_message(rd->proc, PROC_CONTROL, imsg);
	day = dmarc_agg_period_begin(walltime(), TLS_DAY);
	if ((r = tls_build(rd, d.domain, day)) == NULL) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "the TLS results "
		    "cannot be read (see the log)");
		return;
	}
	if (tlsrpt_count(r) == 0) {
		reportd_ctl_error(rd, imsg->hdr.peerid, "%s: no TLS results "
		    "in the current day", d.domain);
		tlsrpt_free(r);
		return;
	}
	buf_init(&b, TLSRPT_JSON_MAX + 2);
	if (tls_json(rd, r, d.domain, day, rid, sizeof(rid), &b) == -1)
		reportd_ctl_error(rd, imsg->hdr.peerid, "%s: the report "
		    "cannot be made", d.domain);
	else
		reportd_ctl_data(rd, imsg->hdr.peerid, &b);
	buf_free(&b);
	tlsrpt_free(r);
}

/* report tls send [DOMAIN|all]: the ended days and today, closed now. */
void
reportd_ctl_tls_send(struct reportd *rd, struct imsg *imsg)
{
	struct msg_ctl_domain	 d;
	struct msg_ctl_count	 n;

	if (reportd_ctl_send_request(rd, imsg, &d) == -1)
		return;
	memset(&n, 0, sizeof(n));
	n.count = reportd_tls_close(rd, walltime(), d.domain, 1);
	proc_compose(rd->proc, PROC_CONTROL, IMSG_CTL_REPLY_COUNT,
	    imsg->hdr.peerid, -1, &n, sizeof(n));
	reportd_job_run(rd);
}

/*
 * Sending DMARC failure reports (RFC 9991).  authd sends reportd each
 * message whose evaluation its DMARC record asks a failure report for
 * (IMSG_REPORT_FAILURE_ADD: the evaluation, the MAIL FROM, the header
 * section; auth/ruf.h has the fo= test).  Here, for each:
 *
 *   1. `reports failure yes` and `reports from` must be set, else nothing;
 *   2. rate limits (RFC 9991 2 MUST, 7.1): at most `reports failure-max`
 *      reports an hour per Author Domain and per destination address, the
 *      rest discarded (and counted); at most FAILURE_JOBS reports in the
 *      making at once;
 *   3. the DMARC record of the Policy Domain is looked up again for its
 *      ruf URIs (mailto: only); a record with psd=y is not considered
 *      (RFC 9991 2);
 *   4. a destination outside the Policy Domain needs the authorization
 *      record "<policy domain>._report._dmarc.<destination domain>" (RFC
 *      9991 5, by the procedure of RFC 9990 4), suppressed destinations
 *      (a report that bounced) are skipped, and so is one whose size
 *      limit the report exceeds;
 *   5. the report (reportd/arf.c) goes to every destination left in one
 *      message (RFC 9991 2: an attempt to each), DKIM-signed with `reports
 *      sign with`, through the queue (reportd_queue_report()).
 *
 * DKIM failure reports (RFC 6651) take the same way: authd sends the first
 * signature that failed verification and carries r=y (MSG_FAILURE_DKIM);
 * the destination is ra= at the signing domain, from its reporting record
 * "_report._domainkey.<d>" (3.3), when rr= asks for verification
 * failures (all or v) and the message falls in the share rp= asks for.
 * Other rr= tokens (d, o, p, s, u, x) name failures authd does not report
 * (an expired signature is a permerror, not a verification failure), and
 * rs= (the text for an SMTP rejection) is unused: postern never rejects
 * for a DKIM failure alone, only by DMARC policy.
 * SPF failure reports (RFC 6652) likewise: authd tells of every SPF
 * result but pass and none (MSG_FAILURE_SPF, the domain checked, the
 * result in the evaluation's SPF fields); the domain's SPF record names
 * ra= (the local part at that domain), rp= and rr= (all, e: temperror or
 * permerror, f: fail, s: softfail, n: neutral; RFC 6652 3) as
 * modifiers.
 *
 * The counters are in the evaluation store (evalstore_rate_take()), per
 * UTC hour, so a restart does not start them again.  A failure report is not
 * retried: one that could not be made or queued is logged and dropped
 * (the aggregate report still counts the message).
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

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "auth/ruf.h"
#include "clock.h"
#include "dns.h"
#include "log.h"
#include "posternd/proc.h"
#include "reportd/arf.h"
#include "reportd/evalstore.h"
#include "reportd/failure.h"
#include "reportd/report_dest.h"
#include "reportd/report_mail.h"
#include "reportd/reportd.h"
#include "reportd/sentlog.h"
#include "util.h"

#define FAILURE_JOBS		32	/* reports in the making at once */
#define FAILURE_RATE_SLOTS	4096	/* domains and addresses counted */
#define FAILURE_RATE_PERIOD	3600
/* 48 KB of header fields, redaction growing "a@a@..." 8.5 times */
#define FAILURE_REPORT_MAX	(1024 * 1024)

enum fjob_state {
	FJOB_POLICY,
	FJOB_AUTH,
	FJOB_QUEUE
};

struct fdest {
	char		 addr[REPORT_ADDR_MAX];
	uint64_t	 limit;
	int		 ok;		/* 1 send, -1 not, 0 ask */
};

struct fjob {
	TAILQ_ENTRY(fjob)	 entry;
	struct failure		*f;
	enum fjob_state		 state;
	int			 kind;		/* MSG_FAILURE_* */
	char			 dkim_domain[256];
	char			 dkim_selector[256];
	char			 dkim_identity[256];
	int			 dkim_bodyhash;
	struct dmarc_eval_record eval;
	char			 domain[DMARC_DOMAIN_MAX];	/* lower */
	char			 policy_domain[DMARC_DOMAIN_MAX];
	char			 mail_from[1025];
	uint8_t			*header;
	size_t			 header_len;
	struct fdest		 dest[REPORT_MAX_RCPTS];
	size_t			 ndest, auth_i;
	struct dns_query	*q;
	uint32_t		 peer;
};

struct failure {
	struct reportd		*rd;
	TAILQ_HEAD(, fjob)	 jobs;
	size_t			 njobs;
	uint8_t			 redact_key[ARF_REDACT_KEY_LEN];
	uint64_t		 st_queued, st_limited, st_skipped, st_off;
};

static void	fjob_auth_next(struct fjob *);

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

static struct failure *
failure_state(struct reportd *rd)
{
	struct failure	*f;

	if (rd->failure == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->rd = rd;
		TAILQ_INIT(&f->jobs);
		/* RFC 6590: the same local part, the same token, per run */
		arc4random_buf(f->redact_key, sizeof(f->redact_key));
		rd->failure = f;
	}
	return rd->failure;
}

/*
 * One report for kind:name this hour, when below `reports failure-max`:
 * 1 taken (and counted), 0 not.  The counters are in the evaluation store
 * (reportd/evalstore.h), so a restart does not reset them; a store that
 * cannot count refuses (RFC 9991 2: the limit is a MUST, not a wish).
 */
static int
rate_take(struct failure *f, const char *kind, const char *name)
{
	char	 key[EVALSTORE_RATE_NAME_MAX + 1];
	time_t	 now = walltime();

	if (f->rd->es == NULL || (size_t)snprintf(key, sizeof(key), "%s:%s",
	    kind, name) >= sizeof(key))
		return 0;
	lower(key);
	return evalstore_rate_take(f->rd->es, key,
	    now - now % FAILURE_RATE_PERIOD, f->rd->conf.failure_max,
	    FAILURE_RATE_SLOTS) == 1;
}

static void
fjob_free(struct fjob *j)
{
	struct failure	*f = j->f;

	if (j->q != NULL)
		dns_query_cancel(j->q);
	TAILQ_REMOVE(&f->jobs, j, entry);
	f->njobs--;
	free(j->header);
	free(j);
}

static void
fjob_skip(struct fjob *j, const char *why)
{
	log_info("reportd: failure report of %s from %s not sent: %s",
	    j->domain, j->eval.source_ip, why);
	j->f->st_skipped++;
	fjob_free(j);
}

static void
random_text(char *out, size_t len)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t			 i;

	for (i = 0; i + 1 < len; i++)
		out[i] = set[arc4random_uniform(sizeof(set) - 1)];
	out[i] = '\0';
}

static void
fjob_send(struct fjob *j)
{
	struct failure		*f = j->f;
	struct reportd		*rd = f->rd;
	struct arf_report	 a;
	struct buf		 msg;
	const char		*to[REPORT_MAX_RCPTS];
	char			 boundary[ARF_BOUNDARY_LEN + 1], rnd[17];
	char			 mid[300], key[MSG_REPORT_KEY_MAX + 1];
	size_t			 i, nto, tries;
	int			 again, rc;

	random_text(rnd, sizeof(rnd));
	snprintf(mid, sizeof(mid), "ruf.%lld.%s@%s", (long long)walltime(),
	    rnd, rd->proc->global.hostname);
	buf_init(&msg, FAILURE_REPORT_MAX);
	do {
		again = 0;
		for (i = nto = 0; i < j->ndest; i++)
			if (j->dest[i].ok == 1)
				to[nto++] = j->dest[i].addr;
		if (nto == 0)
			break;
		memset(&a, 0, sizeof(a));
		a.from = rd->conf.from;
		a.to = to;
		a.nto = nto;
		a.message_id = mid;
		a.date = walltime();
		a.reporting_mta = rd->proc->global.hostname;
		a.auth_failure = "dmarc";
		if (j->kind == MSG_FAILURE_DKIM) {
			/* RFC 6591 3.1 */
			a.auth_failure = j->dkim_bodyhash ? "bodyhash" :
			    "signature";
			a.dkim_domain = j->dkim_domain;
			a.dkim_selector = j->dkim_selector;
			a.dkim_identity = j->dkim_identity;
		} else if (j->kind == MSG_FAILURE_SPF) {
			a.auth_failure = "spf";		/* RFC 6591 3.1 */
			a.spf_domain = j->domain;
		}
		a.eval = &j->eval;
		a.mail_from = j->mail_from;
		a.header = j->header;
		a.header_len = j->header_len;
		a.redact_key = f->redact_key;
		a.boundary = boundary;
		/* a boundary the content holds: another (arf.h) */
		for (tries = 0, rc = -1; tries < 4 && rc == -1; tries++) {
			random_text(boundary, sizeof(boundary));
			buf_reset(&msg);
			rc = arf_build(&a, &msg);
		}
		if (rc == -1 || reportd_sign(rd, &msg) == -1) {
			nto = 0;
			break;
		}
		for (i = 0; i < j->ndest; i++)
			if (j->dest[i].ok == 1 && j->dest[i].limit > 0 &&
			    msg.len > j->dest[i].limit) {
				log_info("reportd: failure report of %s: %zu "
				    "bytes, over the limit of <%s>; not sent "
				    "there", j->domain, msg.len,
				    j->dest[i].addr);
				j->dest[i].ok = -1;
				again = 1;
			}
	} while (again);
	if (nto == 0) {
		buf_free(&msg);
		fjob_skip(j, "no destination may receive it");
		return;
	}
	snprintf(key, sizeof(key), "ruf/%lld/%s", (long long)walltime(), rnd);
	j->state = FJOB_QUEUE;
	j->peer = ++rd->next_peer;
	reportd_queue_report(rd, j->peer, rd->conf.from, key, to, nto, &msg);
	buf_free(&msg);
}

static void
fjob_auth_cb(void *arg, const struct dns_answer *ans)
{
	struct fjob	*j = arg;
	struct fdest	*d = &j->dest[j->auth_i];

	j->q = NULL;
	d->ok = report_authorized(ans) ? 1 : -1;
	if (d->ok != 1)
		log_info("reportd: failure reports of %s are not sent to <%s>: "
		    "no authorization record %s._report._dmarc.%s (RFC 9991 "
		    "5)", j->domain, d->addr, j->policy_domain,
		    strrchr(d->addr, '@') + 1);
	j->auth_i++;
	fjob_auth_next(j);
}

/* RFC 9991 5: the next external destination's authorization, or send. */
static void
fjob_auth_next(struct fjob *j)
{
	struct reportd	*rd = j->f->rd;
	char		 name[DNS_NAME_BUF];

	for (; j->auth_i < j->ndest; j->auth_i++) {
		if (j->dest[j->auth_i].ok != 0)
			continue;
		if (report_auth_name(j->policy_domain, j->dest[j->auth_i].addr,
		    name, sizeof(name)) == -1) {
			j->dest[j->auth_i].ok = -1;
			continue;
		}
		j->state = FJOB_AUTH;
		j->q = dns_query(rd->dns, name, DNS_T_TXT, fjob_auth_cb, j);
		return;
	}
	fjob_send(j);
}

static void
fjob_policy_cb(void *arg, const struct dns_answer *ans)
{
	struct fjob		*j = arg;
	struct failure		*f = j->f;
	struct reportd		*rd = f->rd;
	struct dmarc_record	*found;
	struct fdest		*d;
	size_t			 i;
	uint64_t		 lim;
	time_t			 until;

	j->q = NULL;
	if (ans->failed || ans->rcode != DNS_R_NOERROR ||
	    ans->sec == DNS_SEC_BOGUS) {
		fjob_skip(j, "its DMARC record could not be looked up");
		return;
	}
	if ((found = report_dmarc_record(ans)) == NULL) {
		fjob_skip(j, "no single DMARC record at its Policy Domain");
		return;
	}
	/* RFC 9991 2: MUST NOT consider ruf of a record with psd=y */
	if (found->psd == 'y') {
		free(found);
		fjob_skip(j, "its DMARC record has psd=y");
		return;
	}
	for (i = 0; i < found->nruf && j->ndest < REPORT_MAX_RCPTS; i++) {
		d = &j->dest[j->ndest];
		if (report_mailto(found->ruf[i], d->addr, sizeof(d->addr),
		    &lim) == -1) {
			log_info("reportd: %s: ruf %s is not a usable address; "
			    "ignored", j->policy_domain, found->ruf[i]);
			continue;
		}
		if (rd->sl != NULL && sentlog_suppressed(rd->sl, d->addr,
		    walltime(), &until) == 1) {
			log_info("reportd: failure reports of %s are not sent "
			    "to <%s>: suppressed after a failure, until %lld",
			    j->domain, d->addr, (long long)until);
			continue;
		}
		/* RFC 9991 2: rate-limited per destination too */
		if (!rate_take(f, "a", d->addr)) {
			log_info("reportd: failure reports of %s are not sent "
			    "to <%s>: reports failure-max reached this hour",
			    j->domain, d->addr);
			f->st_limited++;
			continue;
		}
		d->limit = found->ruf_limit[i];
		d->ok = report_dest_inside(d->addr, j->policy_domain) ? 1 : 0;
		j->ndest++;
	}
	free(found);
	if (j->ndest == 0) {
		fjob_skip(j, "no ruf destination may receive it");
		return;
	}
	j->auth_i = 0;
	fjob_auth_next(j);
}

/*
 * RFC 6651 3.3: the value of tag name in a tag list ("ra=x; rp=50"),
 * whitespace trimmed, in out; 1 found, 0 not.
 */
static int
tag_value(const char *list, const char *name, char *out, size_t len)
{
	const char	*p = list, *e, *v, *end;
	size_t		 nlen = strlen(name), n;

	for (; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		if ((e = strchr(p, ';')) == NULL)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(e - p) <= nlen || strncmp(p, name, nlen) != 0)
			continue;
		v = p + nlen;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (v == e || *v != '=')
			continue;
		v++;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		for (end = e; end > v && (end[-1] == ' ' || end[-1] == '\t');)
			end--;
		n = end - v;
		if (n >= len)
			return 0;
		memcpy(out, v, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

/* The address at the domain the record names, suppressions, limits. */
static void
fjob_send_to(struct fjob *j, const char *local)
{
	struct failure	*f = j->f;
	struct reportd	*rd = f->rd;
	struct fdest	*d = &j->dest[0];
	time_t		 until;

	if ((size_t)snprintf(d->addr, sizeof(d->addr), "%s@%s", local,
	    j->domain) >= sizeof(d->addr)) {
		fjob_skip(j, "its reporting address is too long");
		return;
	}
	/* RFC 6651 3.3, RFC 6652 3: rate-limited per domain (kind) */
	if (!rate_take(f, j->kind == MSG_FAILURE_DKIM ? "dkim" : "spf",
	    j->domain)) {
		f->st_limited++;
		fjob_skip(j, "reports failure-max reached this hour");
		return;
	}
	if (rd->sl != NULL && sentlog_suppressed(rd->sl, d->addr, walltime(),
	    &until) == 1) {
		fjob_skip(j, "its reporting address is suppressed");
		return;
	}
	if (!rate_take(f, "a", d->addr)) {
		f->st_limited++;
		fjob_skip(j, "reports failure-max reached this hour");
		return;
	}
	d->ok = 1;		/* at the domain itself: no authorization */
	j->ndest = 1;
	fjob_send(j);
}

/* ra= (RFC 6651 3.3, a qp-section): a local part of atext and dots. */
static int
ra_decode(const char *in, char *out, size_t len)
{
	size_t		 o = 0;
	int		 c, hi, lo;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '=') {
			/* RFC 6376 2.11 qp-section: "=" and two hex digits */
			if ((hi = hex_digit((unsigned char)in[1])) == -1 ||
			    (lo = hex_digit((unsigned char)in[2])) == -1)
				return -1;
			c = hi << 4 | lo;
			in += 2;
		}
		if (!isalnum(c) && (c == 0 || strchr("!#$%&'*+-/?^_`{|}~.",
		    c) == NULL))
			return -1;
		if (o + 1 >= len)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 && o <= 64 ? 0 : -1;
}

/*
 * RFC 6651 3.3: the reporting record of the signer
 * ("_report._domainkey.<d>"): ra= the local part at d, rp= the share of
 * failures to report, rr= the kinds (all, or v: verification failures,
 * the only kind we report).
 */
static void
fjob_dkim_cb(void *arg, const struct dns_answer *ans)
{
	struct fjob	*j = arg;
	char		*txt, v[256], ra[80];
	const char	*p;
	size_t		 i, len, found = 0;
	long		 rp;

	j->q = NULL;
	if (ans->failed || ans->rcode != DNS_R_NOERROR ||
	    ans->sec == DNS_SEC_BOGUS) {
		fjob_skip(j, "no DKIM reporting record (RFC 6651 3.3)");
		return;
	}
	for (i = 0; i < ans->nrr && !found; i++) {
		txt = dns_txt_concat(&ans->rr[i], &len);
		if (len < 1024 && strlen(txt) == len &&
		    tag_value(txt, "ra", v, sizeof(v)) &&
		    ra_decode(v, ra, sizeof(ra)) == 0) {
			found = 1;
			rp = 100;
			if (tag_value(txt, "rp", v, sizeof(v))) {
				rp = strtol(v, NULL, 10);
				if (rp < 0 || rp > 100)
					rp = 100;
			}
			if ((long)arc4random_uniform(100) >= rp)
				found = 2;	/* sampled out */
			if (tag_value(txt, "rr", v, sizeof(v))) {
				for (p = v; p != NULL && found == 1;
				    p = strchr(p, ':') ? strchr(p, ':') + 1 :
				    NULL)
					if ((strncmp(p, "all", 3) == 0 &&
					    (p[3] == ':' || p[3] == '\0')) ||
					    (p[0] == 'v' && (p[1] == ':' ||
					    p[1] == '\0')))
						break;
				if (p == NULL && found == 1)
					found = 3;	/* not asked */
			}
		}
		free(txt);
	}
	if (found != 1) {
		fjob_skip(j, found == 0 ? "no usable DKIM reporting record "
		    "(RFC 6651 3.3)" : found == 2 ? "not in the share rp= "
		    "asks for" : "rr= asks for other failures");
		return;
	}
	fjob_send_to(j, ra);
}

/*
 * RFC 6652 3: does rr= (a colon-separated list; "all" when the
 * record has none) ask for reports of result?  "all": every result that
 * is reported; "e": temperror and permerror; "f": fail; "s": softfail;
 * "n": neutral and none.  Unknown tokens are ignored.  1 yes, 0 no.
 */
static int
spf_rr_wants(const char *rr, enum spf_result result)
{
	const char	*p, *e;
	size_t		 n;

	for (p = rr; *p != '\0'; p = *e == ':' ? e + 1 : e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		n = e - p;
		if (n == 3 && strncasecmp(p, "all", 3) == 0)
			return result != SPF_PASS;
		if (n != 1)
			continue;
		switch (tolower((unsigned char)*p)) {
		case 'e':
			if (result == SPF_TEMPERROR || result == SPF_PERMERROR)
				return 1;
			break;
		case 'f':
			if (result == SPF_FAIL)
				return 1;
			break;
		case 's':
			if (result == SPF_SOFTFAIL)
				return 1;
			break;
		case 'n':
			if (result == SPF_NEUTRAL || result == SPF_NONE)
				return 1;
			break;
		}
	}
	return 0;
}

/*
 * RFC 6652 3: the modifiers ra= (a local part at the domain), rp= (the
 * share to report) and rr= (which results, spf_rr_wants()) of the
 * domain's SPF record.  authd sends every result but pass and none.
 */
static void
fjob_spf_cb(void *arg, const struct dns_answer *ans)
{
	struct fjob	*j = arg;
	char		*txt, *rec = NULL, ra[80] = "", rr[80] = "all";
	const char	*p, *e;
	size_t		 i, len, n, nrec = 0;
	long		 rp = 100;

	j->q = NULL;
	if (ans->failed || ans->rcode != DNS_R_NOERROR ||
	    ans->sec == DNS_SEC_BOGUS) {
		fjob_skip(j, "its SPF record could not be looked up");
		return;
	}
	for (i = 0; i < ans->nrr; i++) {
		txt = dns_txt_concat(&ans->rr[i], &len);
		/* RFC 7208 4.5: "v=spf1" and a space or the end */
		if (len < 4096 && strlen(txt) == len && len >= 6 &&
		    strncasecmp(txt, "v=spf1", 6) == 0 &&
		    (txt[6] == ' ' || txt[6] == '\0')) {
			nrec++;
			free(rec);
			rec = txt;
		} else
			free(txt);
	}
	if (nrec != 1) {
		free(rec);
		fjob_skip(j, "no single SPF record");
		return;
	}
	for (p = rec + 6; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		if ((e = strchr(p, ' ')) == NULL)
			e = p + strlen(p);
		n = e - p;
		if (n > 3 && n - 3 < sizeof(ra) &&
		    strncasecmp(p, "ra=", 3) == 0) {
			memcpy(ra, p + 3, n - 3);
			ra[n - 3] = '\0';
		} else if (n > 3 && n - 3 < sizeof(rr) &&
		    strncasecmp(p, "rr=", 3) == 0) {
			memcpy(rr, p + 3, n - 3);
			rr[n - 3] = '\0';
		} else if (n > 3 && strncasecmp(p, "rp=", 3) == 0) {
			rp = strtol(p + 3, NULL, 10);
			if (rp < 0 || rp > 100)
				rp = 100;
		}
	}
	free(rec);
	for (i = 0; ra[i] != '\0'; i++)
		if (!isalnum((unsigned char)ra[i]) &&
		    strchr("!#$%&'*+-/=?^_`{|}~.", ra[i]) == NULL)
			break;
	if (ra[0] == '\0' || ra[i] != '\0' || i > 64) {
		fjob_skip(j, "its SPF record asks for no reports (RFC 6652)");
		return;
	}
	if (!spf_rr_wants(rr, j->eval.have_spf ? j->eval.spf_result :
	    SPF_FAIL)) {
		fjob_skip(j, "rr= asks for other failures");
		return;
	}
	if ((long)arc4random_uniform(100) >= rp) {
		fjob_skip(j, "not in the share rp= asks for");
		return;
	}
	fjob_send_to(j, ra);
}

void
reportd_failure_add(struct reportd *rd, struct imsg *imsg)
{
	struct failure			*f = failure_state(rd);
	struct msg_report_failure	 m;
	struct fjob			*j;
	const uint8_t			*eval, *header;
	char				 name[DNS_NAME_BUF];

	if (msg_get_report_failure(imsg, &m, &eval, &header) == -1)
		proc_bad_message(rd->proc, PROC_AUTHD, imsg);
	j = xcalloc(1, sizeof(*j));
	/* authd encodes these itself: one that does not decode is a bug */
	if (dmarc_eval_decode(eval, m.eval_len, &j->eval) == -1) {
		free(j);
		proc_bad_message(rd->proc, PROC_AUTHD, imsg);
	}
	j->f = f;
	j->kind = m.kind;
	strlcpy(j->domain, m.kind == MSG_FAILURE_DKIM ? m.dkim_domain :
	    m.kind == MSG_FAILURE_SPF ? m.spf_domain : j->eval.header_from,
	    sizeof(j->domain));
	lower(j->domain);
	strlcpy(j->policy_domain, j->eval.policy_domain,
	    sizeof(j->policy_domain));
	lower(j->policy_domain);
	if (!rd->conf.enabled || !rd->conf.failure || rd->dns == NULL) {
		f->st_off++;
		free(j);
		return;
	}
	if (m.kind == MSG_FAILURE_DKIM) {
		strlcpy(j->dkim_domain, j->domain, sizeof(j->dkim_domain));
		strlcpy(j->dkim_selector, m.dkim_selector,
		    sizeof(j->dkim_selector));
		strlcpy(j->dkim_identity, m.dkim_identity,
		    sizeof(j->dkim_identity));
		j->dkim_bodyhash = m.dkim_bodyhash;
	} else if (m.kind == MSG_FAILURE_SPF) {
		/* the record is read when it is looked up */
	} else if (!dmarc_ruf_wanted(&j->eval) || j->domain[0] == '\0' ||
	    j->policy_domain[0] == '\0') {
		free(j);
		return;
	}
	if ((size_t)snprintf(name, sizeof(name), m.kind == MSG_FAILURE_DKIM ?
	    "_report._domainkey.%s" : m.kind == MSG_FAILURE_SPF ? "%s" :
	    "_dmarc.%s", m.kind == MSG_FAILURE_DMARC ? j->policy_domain :
	    j->domain) >= sizeof(name)) {
		free(j);
		return;
	}
	/*
	 * DMARC's per-domain count is taken now; DKIM's and SPF's once their
	 * record asked for this report (fjob_send_to()), so that results
	 * nobody asked about use no share of the domain's reports.
	 */
	if (f->njobs >= FAILURE_JOBS || (m.kind == MSG_FAILURE_DMARC &&
	    !rate_take(f, "dmarc", j->domain))) {
		log_info("reportd: failure report of %s from %s not sent: "
		    "%s", j->domain, j->eval.source_ip, f->njobs >=
		    FAILURE_JOBS ? "too many in the making" :
		    "reports failure-max reached this hour");
		f->st_limited++;
		free(j);
		return;
	}
	strlcpy(j->mail_from, m.mail_from, sizeof(j->mail_from));
	j->header = xmalloc(m.header_len);
	memcpy(j->header, header, m.header_len);
	j->header_len = m.header_len;
	TAILQ_INSERT_TAIL(&f->jobs, j, entry);
	f->njobs++;
	j->state = FJOB_POLICY;
	j->q = dns_query(rd->dns, name, DNS_T_TXT, m.kind == MSG_FAILURE_DKIM ?
	    fjob_dkim_cb : m.kind == MSG_FAILURE_SPF ? fjob_spf_cb :
	    fjob_policy_cb, j);
}

int
reportd_failure_result(struct reportd *rd, struct imsg *imsg)
{
	struct failure			*f = rd->failure;
	struct msg_queue_report_result	 r;
	struct fjob			*j;

	if (f == NULL)
		return 0;
	TAILQ_FOREACH(j, &f->jobs, entry)
		if (j->state == FJOB_QUEUE && j->peer == imsg->hdr.peerid)
			break;
	if (j == NULL)
		return 0;
	if (msg_get_queue_report_result(imsg, &r) == -1)
		proc_bad_message(rd->proc, PROC_QUEUE, imsg);
	if (r.status == MSG_REPORT_QUEUED) {
		log_info("reportd: failure report of %s from %s queued",
		    j->domain, j->eval.source_ip);
		f->st_queued++;
	} else
		log_warnx("reportd: failure report of %s from %s: the queue "
		    "could not take it", j->domain, j->eval.source_ip);
	fjob_free(j);
	return 1;
}

void
reportd_failure_stats(struct reportd *rd, uint64_t *queued,
    uint64_t *limited, uint64_t *skipped, uint64_t *off)
{
	struct failure	*f = rd->failure;

	*queued = f != NULL ? f->st_queued : 0;
	*limited = f != NULL ? f->st_limited : 0;
	*skipped = f != NULL ? f->st_skipped : 0;
	*off = f != NULL ? f->st_off : 0;
}

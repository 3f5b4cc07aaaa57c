/*
 * posternctl debug delivery ADDRESS, in the mta: a probe of a delivery
 * to one address that runs the mta's own code, not a copy of it.
 *
 * Each probe gets a private struct mta (its own destination list, its own
 * sessions, one session at most, its own DNS context when the request
 * names a resolver and trust anchor, its own CA store when it brings a
 * CA bundle) and one destination with one task of one recipient, as the
 * queue would hand over, but with no queue envelope behind it: mta.c's
 * destination logic, mxres (RFC 5321 5.1, RFC 7505), tlsa.c (RFC 7672),
 * sts_policy.c and sts_fetch.c (RFC 8461), session.c and
 * session_secure.c then do what they do for real mail.  They call the
 * hooks below at each step; each hook writes one line to the posternctl
 * client (IMSG_CTL_REPLY_DATA through control) as it happens, human-
 * readable or one JSON object with a "step" key.  The session stops
 * after RCPT (RSET, QUIT; never DATA), and the last line is the result:
 *
 *   deliverable     a server accepted the recipient
 *   undeliverable   a server refused it permanently (5xx), the domain
 *                   has a null MX, or DANE or MTA-STS forbade every host
 *                   tried (the daemon would keep such a message queued
 *                   and retry it, RFC 7672 2.2, RFC 8461 5.1)
 *   temporary       anything else (no server, 4xx, bogus TLSA, DNS)
 *
 * What a probe leaves alone: the queue (no envelope, no result goes to
 * it), reportd (its TLS outcomes are shown, not recorded), the MTA-STS
 * policy cache (the policy is fetched afresh and not stored: a probe
 * under another resolver or CA must not change what real deliveries
 * use), the real destinations and their back-off.  The probe uses MX
 * delivery with opportunistic TLS, as a relay action without options;
 * routes and smarthosts are not applied.  It is bounded by the mta's
 * timeouts per step and MTA_DEBUG_LIMIT in all, at most MTA_DEBUG_MAX run
 * at once, and control cancels one whose client went away.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "clock.h"
#include "log.h"
#include "mta/debug.h"
#include "mta/mta.h"
#include "smtp_addr.h"

#define DEBUG_LINE_MAX		(60 * 1024)
#define DEBUG_KV_MAX		32	/* keys and values of one line */
#define DEBUG_CA_CERTS_MAX	256
#define DEBUG_SESSION_IDS	1000000	/* a probe's session ids start at
					   n * this, apart from the mta's */

const char mta_debug_null[] = "";

struct mta_probe {
	TAILQ_ENTRY(mta_probe)	 entry;
	struct mta		*parent;
	struct mta		 m;		/* the probe's own mta state */
	uint32_t		 peerid;
	int			 json;
	int			 own_dns;
	int			 own_ca;
	int			 gone;		/* the client left: say nothing */
	int			 finished;
	struct mta_relay	 relay;
	struct mta_dest		*dest;
	struct event		 ev_limit;
	/* the host being tried, and what happened to it */
	char			 host[256];
	char			 tls[32];
	const char		*dane;
	int			 policy_pending;	/* a policy failed it */
	size_t			 npolicy;	/* hosts policy forbade */
	size_t			 ntemp;		/* other failures */
	char			 sts_notes[700];
	/* the result, once the recipient has one */
	int			 have_result;
	int			 verdict;
	char			 r_host[256];
	char			 r_tls[32];
	const char		*r_dane;
	char			 r_reason[1024];
};
TAILQ_HEAD(mta_probes, mta_probe);

/* The probes running in this mta process (there is one mta). */
static struct mta_probes	probes = TAILQ_HEAD_INITIALIZER(probes);
static size_t			nprobes;
static unsigned int		probe_serial;

/* --- lines --- */

/* A UTF-8 sequence at s (RFC 3629 4): its length, or 0 if not valid. */
static size_t
utf8_valid(const unsigned char *s)
{
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && s[1] < 0xa0) ||
		    (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80 || (s[0] == 0xf0 && s[1] < 0x90) ||
		    (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/*
 * A JSON string (RFC 8259 7) of any bytes: quotes, backslashes and
 * control characters escaped, valid UTF-8 kept, every other byte (DNS
 * names and SMTP replies may hold anything) as the code point of the
 * same number, so the output is always valid JSON.
 */
void
mta_debug_json_string(struct buf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	buf_addstr(b, "\"");
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_addstr(b, "\\n");
		else if (*p == '\r')
			buf_addstr(b, "\\r");
		else if (*p == '\t')
			buf_addstr(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\u%04x", *p);
		else if (*p < 0x80)
			buf_add(b, p, 1);
		else if ((n = utf8_valid(p)) > 0) {
			buf_add(b, p, n);
			p += n - 1;
		} else
			buf_printf(b, "\\u%04x", *p);
	}
	buf_addstr(b, "\"");
}

/* A value for a terminal: no control bytes, quoted if it has spaces. */
static void
human_value(struct buf *b, const char *s)
{
	const unsigned char	*p;
	int			 quote = s[0] == '\0' ||
	    strpbrk(s, " \"") != NULL;

	if (quote)
		buf_addstr(b, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			buf_printf(b, "\\x%02x", *p);
		else if (*p == '"' && quote)
			buf_addstr(b, "\\\"");
		else
			buf_add(b, p, 1);
	}
	if (quote)
		buf_addstr(b, "\"");
}

/*
 * One line: {"step": STEP, "key": "value", ...} (the separators of the
 * result line the issue gives), or "STEP  key=value ..." for people.  A
 * value of mta_debug_null is JSON null.
 */
void
mta_debug_format(struct buf *b, int json, const char *step,
    const char *const *kv, size_t nkv)
{
	size_t	 i;

	if (json) {
		buf_addstr(b, "{\"step\": ");
		mta_debug_json_string(b, step);
		for (i = 0; i + 1 < nkv; i += 2) {
			buf_addstr(b, ", ");
			mta_debug_json_string(b, kv[i]);
			buf_addstr(b, ": ");
			if (kv[i + 1] == mta_debug_null)
				buf_addstr(b, "null");
			else
				mta_debug_json_string(b, kv[i + 1]);
		}
		buf_addstr(b, "}\n");
		return;
	}
	buf_printf(b, "%-12s", step);
	for (i = 0; i + 1 < nkv; i += 2) {
		buf_printf(b, " %s=", kv[i]);
		if (kv[i + 1] == mta_debug_null)
			buf_addstr(b, "-");
		else
			human_value(b, kv[i + 1]);
	}
	buf_addstr(b, "\n");
}

static void
probe_emit(struct mta_probe *p, const char *step, const char *const *kv,
    size_t nkv)
{
	struct buf	 b;

	if (p->gone || p->finished)
		return;
	buf_init(&b, DEBUG_LINE_MAX);
	mta_debug_format(&b, p->json, step, kv, nkv);
	proc_compose(p->parent->proc, PROC_CONTROL, IMSG_CTL_REPLY_DATA,
	    p->peerid, -1, b.data, b.len);
	buf_free(&b);
}

static void
probe_vemit(struct mta_probe *p, const char *step, va_list ap)
{
	const char	*kv[DEBUG_KV_MAX];
	const char	*k;
	size_t		 n = 0;

	while ((k = va_arg(ap, const char *)) != NULL) {
		if (n + 2 > DEBUG_KV_MAX)
			fatalx("mta: debug line with too many values");
		kv[n++] = k;
		kv[n] = va_arg(ap, const char *);
		if (kv[n] == NULL)
			kv[n] = mta_debug_null;
		n++;
	}
	probe_emit(p, step, kv, n);
}

static void
probe_step(struct mta_probe *p, const char *step, ...)
{
	va_list	 ap;

	va_start(ap, step);
	probe_vemit(p, step, ap);
	va_end(ap);
}

/*
 * Key and value pairs, up to a NULL key; a NULL value is null.  Nothing
 * for the real mta.
 */
void
mta_debug_step(struct mta *m, const char *step, ...)
{
	va_list	 ap;

	if (m->probe == NULL)
		return;
	va_start(ap, step);
	probe_vemit(m->probe, step, ap);
	va_end(ap);
}

/* --- the verdict --- */

int
mta_debug_verdict(int status, size_t npolicy, size_t ntemp)
{
	if (status == DELIVER_OK)
		return CTL_DEBUG_DELIVERABLE;
	if (status == DELIVER_PERMFAIL)
		return CTL_DEBUG_UNDELIVERABLE;
	/*
	 * RFC 7672 2.2, RFC 8461 5.1: the daemon keeps such a message and
	 * retries; for this attempt, policy forbade every host it tried.
	 */
	if (npolicy > 0 && ntemp == 0)
		return CTL_DEBUG_UNDELIVERABLE;
	return CTL_DEBUG_TEMPORARY;
}

static const char *
verdict_name(int v)
{
	switch (v) {
	case CTL_DEBUG_DELIVERABLE:
		return "deliverable";
	case CTL_DEBUG_UNDELIVERABLE:
		return "undeliverable";
	default:
		return "temporary";
	}
}

/* --- the hooks --- */

void
mta_debug_mx(struct mta_dest *d, const struct mxres_result *res)
{
	struct mta_probe		*p = d->mta->probe;
	const struct mxres_host		*h;
	const struct mxres_addr		*a;
	const void			*ip;
	struct buf			 hosts, addrs;
	char				 pref[8], one[INET6_ADDRSTRLEN];
	size_t				 i, k;

	if (p == NULL)
		return;
	buf_init(&hosts, 64 * 1024);
	for (i = 0; i < res->nhosts; i++)
		buf_printf(&hosts, "%s%s", i > 0 ? " " : "",
		    res->hosts[i].name);
	probe_step(p, "mx", "domain", d->domain, "result",
	    mxres_status_name(res->status), "dnssec",
	    dns_sec_name(res->mx_sec), "implicit", res->implicit ? "yes" :
	    "no", "hosts", buf_cstr(&hosts), "reason", res->reason, NULL);
	buf_free(&hosts);
	buf_init(&addrs, 4096);
	for (i = 0; i < res->nhosts; i++) {
		h = &res->hosts[i];
		buf_reset(&addrs);
		for (k = 0; k < h->naddr; k++) {
			a = &h->addr[k];
			ip = a->ss.ss_family == AF_INET6 ? (const void *)
			    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr :
			    (const void *)&((const struct sockaddr_in *)
			    &a->ss)->sin_addr;
			if (inet_ntop(a->ss.ss_family, ip, one,
			    sizeof(one)) == NULL)
				strlcpy(one, "?", sizeof(one));
			buf_printf(&addrs, "%s%s", k > 0 ? " " : "", one);
		}
		snprintf(pref, sizeof(pref), "%u", h->pref);
		probe_step(p, "address", "host", h->name, "preference", pref,
		    "addresses", buf_cstr(&addrs), "dnssec",
		    dns_sec_name(h->addr_sec), NULL);
	}
	buf_free(&addrs);
}

static const char *
dane_state_name(const struct mta_tlsa_host *t, int dnssec)
{
	switch (t->state) {
	case MTA_DANE_REQUIRED:
		return "usable";
	case MTA_DANE_UNUSABLE:
		return "unusable";
	case MTA_DANE_TEMPFAIL:
		return dnssec == DNS_SEC_BOGUS ? "bogus" : "failed";
	case MTA_DANE_PENDING:
		return "pending";
	default:
		return "none";
	}
}

/* A host's TLSA lookup is decided; dnssec -1 when nothing was asked. */
void
mta_debug_tlsa(const struct mta_tlsa_host *t, int dnssec)
{
	struct mta_probe	*p = t->dest->mta->probe;
	struct buf		 recs;
	char			 one[120], name[DNS_NAME_BUF + 16];
	size_t			 i;

	if (p == NULL)
		return;
	buf_init(&recs, 64 * 1024);
	for (i = 0; i < t->n; i++) {
		dane_tlsa_format(&t->rr[i], one, sizeof(one));
		buf_printf(&recs, "%s%s", i > 0 ? "; " : "", one);
	}
	if (t->base[0] != '\0')
		snprintf(name, sizeof(name), "_25._tcp.%.255s", t->base);
	else
		name[0] = '\0';
	probe_step(p, "tlsa", "host", t->dest->mx.hosts[t->idx].name,
	    "name", name[0] != '\0' ? name : mta_debug_null, "dnssec",
	    dnssec < 0 ? mta_debug_null : dns_sec_name((enum dns_sec)dnssec),
	    "result", dane_state_name(t, dnssec), "records", buf_cstr(&recs),
	    "reason", t->reason, NULL);
	buf_free(&recs);
}

/* What the MTA-STS record lookup and fetch said, for the policy line. */
void
mta_debug_sts_note(struct mta_dest *d, const char *fmt, ...)
{
	struct mta_probe	*p = d->mta->probe;
	char			 note[600];
	va_list			 ap;

	if (p == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (p->sts_notes[0] != '\0')
		strlcat(p->sts_notes, "; ", sizeof(p->sts_notes));
	strlcat(p->sts_notes, note, sizeof(p->sts_notes));
}

/* The destination's MTA-STS policy is decided. */
void
mta_debug_sts(struct mta_dest *d)
{
	struct mta_probe	*p = d->mta->probe;
	struct buf		 mx;
	size_t			 i;

	if (p == NULL)
		return;
	buf_init(&mx, 64 * 1024);
	for (i = 0; d->sts != NULL && i < d->sts->nmx; i++)
		buf_printf(&mx, "%s%s", i > 0 ? " " : "", d->sts->mx[i]);
	probe_step(p, "mta-sts", "domain", d->domain, "mode", d->sts != NULL ?
	    sts_mode_name(d->sts->mode) : "none", "id", d->sts != NULL ?
	    d->sts_id : mta_debug_null, "mx", buf_cstr(&mx), "reason",
	    p->sts_notes, NULL);
	buf_free(&mx);
	p->sts_notes[0] = '\0';
}

/* A connection to this host begins: what follows is about it. */
void
mta_debug_connect(struct mta *m, const char *host, const char *addr)
{
	struct mta_probe	*p = m->probe;

	if (p == NULL)
		return;
	strlcpy(p->host, host, sizeof(p->host));
	p->tls[0] = '\0';
	p->dane = "none";
	p->policy_pending = 0;
}

/* A host not used at all: a bogus TLSA lookup, or MTA-STS enforce. */
void
mta_debug_skip(struct mta *m, const char *host, int policy,
    const char *dane, const char *why)
{
	struct mta_probe	*p = m->probe;

	if (p == NULL)
		return;
	mta_debug_connect(m, host, "");
	if (dane != NULL)
		p->dane = dane;
	if (policy)
		p->npolicy++;
	else
		p->ntemp++;
	probe_step(p, "connect", "host", host, "result", "not used",
	    "reason", why, NULL);
}

void
mta_debug_tls(struct mta *m, const char *version)
{
	if (m->probe != NULL)
		strlcpy(m->probe->tls, version, sizeof(m->probe->tls));
}

/*
 * An RFC 8460 outcome of this host's TLS: DANE's verdict where its records
 * require a match, and whether a policy (DANE, MTA-STS enforce) is what
 * fails the host now.  Secure records none of which is usable
 * (tlsa-invalid) do not stop delivery.
 */
void
mta_debug_tls_result(struct mta *m, const char *result, int dane_required,
    int policy)
{
	struct mta_probe	*p = m->probe;
	int			 ok = strcmp(result, "success") == 0;

	if (p == NULL)
		return;
	if (dane_required)
		p->dane = ok ? "pass" : "fail";
	if (!ok && policy && strcmp(result, "tlsa-invalid") != 0)
		p->policy_pending = 1;
}

/* A reply to MAIL or RCPT: 4yz is a temporary failure of this attempt. */
void
mta_debug_reply(struct mta *m, int code)
{
	if (m->probe != NULL && code / 100 == 4)
		m->probe->ntemp++;
}

void
mta_debug_host_fail(struct mta *m, const char *step, const char *host,
    const char *addr, const char *why)
{
	struct mta_probe	*p = m->probe;

	if (p == NULL)
		return;
	if (p->policy_pending)
		p->npolicy++;
	else
		p->ntemp++;
	p->policy_pending = 0;
	probe_step(p, step, "host", host, "address", addr, "result", "failed",
	    "reason", why, NULL);
}

/*
 * The recipient's result, which mta_report() would send to the queue: 1
 * if it was a probe's (and goes nowhere else), 0 for real mail.
 */
int
mta_debug_report(struct mta *m, const struct mta_rcpt *r, int status,
    const char *remote_mta, const char *error)
{
	struct mta_probe	*p = m->probe;

	if (p == NULL)
		return 0;
	if (p->have_result || p->finished)
		return 1;
	p->have_result = 1;
	p->verdict = mta_debug_verdict(status, p->npolicy, p->ntemp);
	strlcpy(p->r_host, remote_mta != NULL && remote_mta[0] != '\0' ?
	    remote_mta : p->host, sizeof(p->r_host));
	strlcpy(p->r_tls, p->tls, sizeof(p->r_tls));
	p->r_dane = p->dane != NULL ? p->dane : "none";
	strlcpy(p->r_reason, error, sizeof(p->r_reason));
	log_info("mta: debug delivery to <%s>: %s: %s", r->env.rcpt,
	    verdict_name(p->verdict), error);
	/* the probe ends once its session is gone (probe_dests()) */
	mta_dest_kick(m);
	return 1;
}

/* --- the probe's life --- */

static void
probe_error(struct mta *m, uint32_t peerid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
probe_error(struct mta *m, uint32_t peerid, const char *fmt, ...)
{
	struct msg_ctl_error	 e;
	va_list			 ap;

	memset(&e, 0, sizeof(e));
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	proc_compose(m->proc, PROC_CONTROL, IMSG_CTL_REPLY_ERROR, peerid, -1,
	    &e, sizeof(e));
}

/* The result line (unless the client left), then everything freed. */
static void
probe_finish(struct mta_probe *p, const char *why)
{
	struct msg_ctl_debug_result	 res;
	struct mta_dest			*d = p->dest;
	struct mta_task			*t;

	if (!p->have_result) {
		p->verdict = CTL_DEBUG_TEMPORARY;
		strlcpy(p->r_host, p->host, sizeof(p->r_host));
		strlcpy(p->r_tls, p->tls, sizeof(p->r_tls));
		p->r_dane = p->dane != NULL ? p->dane : "none";
		strlcpy(p->r_reason, why != NULL ? why : "no result",
		    sizeof(p->r_reason));
	}
	probe_step(p, "result", "result", verdict_name(p->verdict), "host",
	    p->r_host[0] != '\0' ? p->r_host : mta_debug_null, "tls",
	    p->r_tls[0] != '\0' ? p->r_tls : mta_debug_null, "dane",
	    p->r_dane, "mta_sts", d->sts != NULL ?
	    sts_mode_name(d->sts->mode) : "none", "reason", p->r_reason,
	    NULL);
	if (!p->gone) {
		res.verdict = p->verdict;
		proc_compose(p->parent->proc, PROC_CONTROL,
		    IMSG_CTL_DEBUG_RESULT, p->peerid, -1, &res, sizeof(res));
	}
	p->finished = 1;

	evtimer_del(&p->ev_limit);
	mta_session_drop_all(&p->m);
	if (d->lookup != NULL)
		mxres_cancel(d->lookup);
	d->lookup = NULL;
	mta_tlsa_clear(d);
	mta_sts_clear(d);
	while ((t = TAILQ_FIRST(&d->tasks)) != NULL) {
		TAILQ_REMOVE(&d->tasks, t, entry);
		mta_task_done(&p->m, t);
	}
	mxres_result_clear(&d->mx);
	TAILQ_REMOVE(&p->m.dests, d, entry);
	free(d);
	evtimer_del(&p->m.ev_dests);
	if (p->own_dns)
		dns_ctx_free(p->m.dns);
	if (p->own_ca)
		X509_STORE_free(p->m.ca);
	TAILQ_REMOVE(&probes, p, entry);
	nprobes--;
	free(p);
}

/*
 * The probe's destination runs as the mta's do (mta_dests_cb()); the
 * probe ends when its recipient has a result and its session is gone.
 */
static void
probe_dests(int fd, short event, void *arg)
{
	struct mta_probe	*p = arg;

	mta_dests_cb(fd, event, &p->m);
	if (p->have_result && p->m.nsessions == 0)
		probe_finish(p, NULL);
}

static void
probe_limit(int fd, short event, void *arg)
{
	struct mta_probe	*p = arg;
	char			 why[128];

	snprintf(why, sizeof(why), "the debug delivery took longer than %ds",
	    MTA_DEBUG_LIMIT);
	log_info("mta: debug delivery: %s", why);
	probe_finish(p, why);
}

void
mta_debug_cancel(struct mta *m, uint32_t peerid)
{
	struct mta_probe	*p;

	TAILQ_FOREACH(p, &probes, entry)
		if (p->peerid == peerid) {
			log_info("mta: debug delivery cancelled: posternctl "
			    "went away");
			p->gone = 1;
			probe_finish(p, "cancelled");
			return;
		}
}

/* The CA bundle posternctl sent (PEM), as a store of its own. */
static X509_STORE *
probe_ca(const uint8_t *pem, size_t len, char *err, size_t errlen)
{
	X509_STORE	*store;
	BIO		*bio;
	X509		*x;
	int		 n = 0;

	if ((store = X509_STORE_new()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		X509_STORE_free(store);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (n < DEBUG_CA_CERTS_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0) {
		snprintf(err, errlen, "--ca-file: no certificate in it");
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

static int
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* One recipient, as the queue would hand it over, with no envelope. */
static void
probe_task(struct mta_probe *p, const struct msg_ctl_debug *req)
{
	struct mta_dest	*d = p->dest;
	struct mta_task	*t;
	struct mta_rcpt	*r;

	t = xcalloc(1, sizeof(*t));
	t->msg = xcalloc(1, sizeof(*t->msg));
	t->msg->fd = -1;
	t->msg->refs = 1;
	t->dest = d;
	TAILQ_INIT(&t->rcpts);
	r = xcalloc(1, sizeof(*r));
	r->env.kind = ENV_REMOTE;
	strlcpy(r->env.sender, req->sender, sizeof(r->env.sender));
	strlcpy(r->env.rcpt, req->rcpt, sizeof(r->env.rcpt));
	/* RFC 6531: the mta asks for SMTPUTF8 (or refuses, 5.6.7) as for
	   a message whose envelope has it */
	if (!ascii(req->sender) || !ascii(req->rcpt))
		r->env.flags |= ENV_F_SMTPUTF8;
	strlcpy(r->env.dest, p->relay.c.name, sizeof(r->env.dest));
	TAILQ_INSERT_TAIL(&t->rcpts, r, entry);
	t->nrcpts = 1;
	TAILQ_INSERT_TAIL(&d->tasks, t, entry);
	d->ntasks = 1;
}

void
mta_debug_start(struct mta *m, struct imsg *imsg)
{
	struct msg_ctl_debug	 req;
	const uint8_t		*ta, *ca;
	struct mta_probe	*p;
	struct mta		*pm;
	struct mta_dest		*d;
	struct timeval		 tv = { MTA_DEBUG_LIMIT, 0 };
	const char		*at;
	char			*ta_text, err[512];
	size_t			 i;

	if (msg_get_ctl_debug(imsg, &req, &ta, &ca) == -1)
		proc_bad_message(m->proc, PROC_CONTROL, imsg);
	strlcpy(err, "cannot set the probe up", sizeof(err));
	if (m->stopping) {
		probe_error(m, imsg->hdr.peerid, "posternd is stopping");
		return;
	}
	if (nprobes >= MTA_DEBUG_MAX) {
		probe_error(m, imsg->hdr.peerid, "%d debug deliveries are "
		    "running already; try again when one is done",
		    MTA_DEBUG_MAX);
		return;
	}
	/* they go into MAIL and RCPT as they are: no CR LF in them */
	if (!smtp_addr_valid(req.rcpt, SMTP_ADDR_UTF8_OK) ||
	    (req.sender[0] != '\0' && !smtp_addr_valid(req.sender,
	    SMTP_PATH_NULL_OK | SMTP_ADDR_UTF8_OK)) ||
	    (at = strrchr(req.rcpt, '@')) == NULL ||
	    strlen(at + 1) >= sizeof(d->domain)) {
		probe_error(m, imsg->hdr.peerid, "<%s> from <%s>: not valid "
		    "mail addresses", req.rcpt, req.sender);
		return;
	}

	p = xcalloc(1, sizeof(*p));
	p->parent = m;
	p->peerid = imsg->hdr.peerid;
	p->json = (req.flags & CTL_DEBUG_F_JSON) != 0;
	p->dane = "none";
	pm = &p->m;
	pm->probe = p;
	pm->proc = m->proc;
	pm->conf = m->conf;
	pm->conf.max_sessions = 1;
	pm->conf.max_per_domain = 1;
	pm->conf.max_slow_sessions = 0;	/* one session, slow or not */
	pm->listen = m->listen;
	pm->nlisten = m->nlisten;
	pm->mx_allow = m->mx_allow;
	pm->nmx_allow = m->nmx_allow;
	pm->tls_config = m->tls_config;
	pm->next_session_id = (++probe_serial % 4000 + 1) * DEBUG_SESSION_IDS;
	TAILQ_INIT(&pm->relays);
	TAILQ_INIT(&pm->secrets);
	TAILQ_INIT(&pm->routes);
	TAILQ_INIT(&pm->dests);
	TAILQ_INIT(&pm->sessions);
	evtimer_set(&pm->ev_dests, probe_dests, p);

	if (req.resolver[0] != '\0') {
		ta_text = NULL;
		if (req.ta_len > 0) {
			ta_text = xmalloc(req.ta_len + 1);
			memcpy(ta_text, ta, req.ta_len);
			ta_text[req.ta_len] = '\0';
		}
		pm->dns = dns_ctx_resolver_mem(dns_ctx_base(m->dns),
		    req.resolver, ta_text, req.ta_len, err, sizeof(err));
		free(ta_text);
		p->own_dns = 1;
	} else
		pm->dns = m->dns;
	if (pm->dns == NULL) {
		probe_error(m, p->peerid, "%s", err);
		free(p);
		return;
	}
	if (req.ca_len > 0) {
		pm->ca = probe_ca(ca, req.ca_len, err, sizeof(err));
		p->own_ca = 1;
	} else
		pm->ca = m->ca;
	if (pm->ca == NULL) {
		probe_error(m, p->peerid, "%s", err);
		if (p->own_dns)
			dns_ctx_free(pm->dns);
		free(p);
		return;
	}

	/* MX delivery, opportunistic TLS: a relay action without options */
	strlcpy(p->relay.c.name, "debug", sizeof(p->relay.c.name));
	p->relay.c.scheme = RELAY_SMTP;
	p->relay.c.tls = RELAY_TLS_OPPORTUNISTIC;
	p->relay.c.transport = TRANSPORT_NONE;

	d = p->dest = xcalloc(1, sizeof(*d));
	d->mta = pm;
	d->relay = &p->relay;
	d->last_active = monotime();
	for (i = 0; at[1 + i] != '\0'; i++)
		d->domain[i] = tolower((unsigned char)at[1 + i]);
	snprintf(d->name, sizeof(d->name), "debug/%s", d->domain);
	TAILQ_INIT(&d->tasks);
	TAILQ_INSERT_TAIL(&pm->dests, d, entry);
	probe_task(p, &req);

	TAILQ_INSERT_TAIL(&probes, p, entry);
	nprobes++;
	evtimer_set(&p->ev_limit, probe_limit, p);
	evtimer_add(&p->ev_limit, &tv);
	log_info("mta: debug delivery to <%s> from <%s>%s%s%s", req.rcpt,
	    req.sender, p->own_dns ? ", resolver " : "", p->own_dns ?
	    req.resolver : "", p->own_ca ? ", CA bundle given" : "");
	mta_dest_kick(pm);
}

/*
 * DMARC aggregate reports (RFC 9990 3.1): the XML of one report from the
 * evaluation records of one Author Domain and one period.
 *
 * Grouping.  RFC 9990 3.1.1.7 wants one <record> per (source IP, result,
 * authentication identifiers) tuple.  A record's row (source_ip,
 * disposition, the aligned DKIM and SPF results, override reasons), its
 * identifiers and its auth_results are exactly the fields of the
 * evaluation record's binary form (auth/dmarc_eval.h) once the time, the
 * count, the DMARC result and the policy published are blanked; so that
 * encoding is the grouping key, and also the compact form in which a row
 * is kept until the XML is written (a decoded record is some 10 kB, an
 * encoded row a few hundred bytes).  Rows are written in key order, so
 * the same evaluations always give the same XML.
 *
 * The report holds one <policy_published>: the last one observed in the
 * period (RFC 9990 3.3 allows it).  Unspecified tags are written with
 * their defaults (RFC 9990 3.1.1.5; RFC 9989 4.7: sp defaults to p, np to
 * sp, adkim and aspf to r, fo to 0).
 *
 * Text is written as XML 1.0 character data, escaped; bytes outside
 * printable ASCII (never in the domain names authd keeps, possible in an
 * override comment) become '?' so the document is always well-formed
 * UTF-8.  Not here: compression, mail, sending (reportd/reportd.c) and
 * splitting a report that exceeds a destination's size limit.
 *
 * Report mail (auth/reportmark.h) is counted in the rows like any mail,
 * and told apart only to answer dmarc_agg_only_report_mail(): a report of
 * nothing but reports is not sent, so that two report senders never
 * answer each other's reports forever.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "auth/spf.h"
#include "reportd/dmarc_agg.h"
#include "util.h"

#define AGG_KEY_MAX		(32 * 1024)

struct agg_row {
	uint8_t		*key;
	size_t		 keylen;
	uint64_t	 count;
};

struct dmarc_agg {
	char			 domain[DMARC_DOMAIN_MAX];
	time_t			 begin, end;
	struct agg_row		*rows;
	size_t			 nrows, caprows;
	size_t			*slots;		/* row index + 1; 0: empty */
	size_t			 nslots;	/* a power of two */
	uint64_t		 messages;
	uint64_t		 report_mail;	/* of them, report mail */
	int			 have_last;
	struct dmarc_eval_record last;		/* for policy_published */
	/* the rows in key order, made once for the XML of all parts */
	const struct agg_row	**order;
	size_t			 norder;
};

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

struct dmarc_agg *
dmarc_agg_new(const char *domain, time_t begin, time_t end)
{
	struct dmarc_agg	*a;

	a = xcalloc(1, sizeof(*a));
	strlcpy(a->domain, domain, sizeof(a->domain));
	lower(a->domain);
	a->begin = begin;
	a->end = end;
	a->nslots = 64;
	a->slots = xcalloc(a->nslots, sizeof(*a->slots));
	return a;
}

void
dmarc_agg_free(struct dmarc_agg *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nrows; i++)
		free(a->rows[i].key);
	free(a->rows);
	free(a->slots);
	free(a->order);
	free(a);
}

size_t
dmarc_agg_rows(const struct dmarc_agg *a)
{
	return a->nrows;
}

const char *
dmarc_agg_policy_domain(const struct dmarc_agg *a)
{
	if (!a->have_last || !a->last.have_policy ||
	    a->last.policy_domain[0] == '\0')
		return NULL;
	return a->last.policy_domain;
}

uint64_t
dmarc_agg_messages(const struct dmarc_agg *a)
{
	return a->messages;
}

int
dmarc_agg_only_report_mail(const struct dmarc_agg *a)
{
	return a->messages > 0 && a->report_mail == a->messages;
}

/* FNV-1a: the keys are our own encoding, not chosen by an attacker
   beyond the strings in them, and the table is bounded anyway. */
static uint64_t
key_hash(const uint8_t *k, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= k[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t *
slot_find(struct dmarc_agg *a, const uint8_t *k, size_t len)
{
	size_t	 i, mask = a->nslots - 1;
	struct agg_row	*r;

	for (i = key_hash(k, len) & mask;; i = (i + 1) & mask) {
		if (a->slots[i] == 0)
			return &a->slots[i];
		r = &a->rows[a->slots[i] - 1];
		if (r->keylen == len && memcmp(r->key, k, len) == 0)
			return &a->slots[i];
	}
}

static void
slots_grow(struct dmarc_agg *a)
{
	size_t	 i, *s;

	free(a->slots);
	a->nslots *= 2;
	a->slots = xcalloc(a->nslots, sizeof(*a->slots));
	for (i = 0; i < a->nrows; i++) {
		s = slot_find(a, a->rows[i].key, a->rows[i].keylen);
		*s = i + 1;
	}
}

int
dmarc_agg_add(struct dmarc_agg *a, const struct dmarc_eval_record *er)
{
	struct dmarc_eval_record	*k;
	struct buf			 b;
	struct agg_row			*r;
	size_t				*slot;
	uint64_t			 n;
	size_t				 i;

	if (strcasecmp(dmarc_eval_report_domain(er), a->domain) != 0 ||
	    er->when < a->begin || er->when >= a->end)
		return 1;
	n = er->count > 0 ? er->count : 1;

	/* The key: the record with what is not part of a row blanked. */
	k = xmalloc(sizeof(*k));
	memcpy(k, er, sizeof(*k));
	k->when = 0;
	k->count = 0;
	k->result = DMARC_RESULT_NONE;
	k->have_policy = 0;
	k->policy_domain[0] = '\0';
	k->p = k->sp = k->np = DMARC_POLICY_ABSENT;
	k->psd = 'u';
	k->testing = 0;
	k->adkim = k->aspf = 'r';
	k->fo = 0;
	k->discovery_treewalk = 0;
	k->report_mail = 0;	/* a row is the same row for report mail */
	/* Domain names compare without case (RFC 4343). */
	lower(k->header_from);
	lower(k->envelope_from);
	lower(k->envelope_to);
	lower(k->spf_domain);
	for (i = 0; i < k->ndkim && i < DMARC_MAX_DKIM; i++)
		lower(k->dkim[i].domain);
	buf_init(&b, AGG_KEY_MAX);
	if (dmarc_eval_encode(k, &b) == -1) {
		/* Records of authd's own making always encode. */
		free(k);
		buf_free(&b);
		return -1;
	}
	free(k);

	slot = slot_find(a, b.data, b.len);
	if (*slot != 0) {
		a->rows[*slot - 1].count += n;
		buf_free(&b);
	} else {
		if (a->nrows >= DMARC_AGG_ROWS_MAX) {
			buf_free(&b);
			return -1;
		}
		if (a->nrows == a->caprows) {
			a->caprows = a->caprows ? a->caprows * 2 : 16;
			a->rows = xreallocarray(a->rows, a->caprows,
			    sizeof(*a->rows));
		}
		r = &a->rows[a->nrows];
		r->key = b.data;	/* the buffer's bytes become the key */
		r->keylen = b.len;
		r->count = n;
		*slot = ++a->nrows;
		if (a->nrows * 2 > a->nslots)
			slots_grow(a);
	}
	a->messages += n;
	if (er->report_mail)
		a->report_mail += n;
	/* The store walks in time order: the last one is the newest. */
	if (!a->have_last || er->when >= a->last.when) {
		memcpy(&a->last, er, sizeof(a->last));
		a->have_last = 1;
	}
	return 0;
}

int
dmarc_agg_escape(struct buf *out, const char *s)
{
	const unsigned char	*p;
	int			 rc = 0;

	for (p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
		switch (*p) {
		case '&':
			rc = buf_addstr(out, "&amp;");
			break;
		case '<':
			rc = buf_addstr(out, "&lt;");
			break;
		case '>':
			rc = buf_addstr(out, "&gt;");
			break;
		case '"':
			rc = buf_addstr(out, "&quot;");
			break;
		case '\'':
			rc = buf_addstr(out, "&apos;");
			break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				rc = buf_add(out, "?", 1);
			else
				rc = buf_add(out, p, 1);
			break;
		}
	}
	return rc;
}

/* <name>escaped text</name> */
static int
elem(struct buf *out, const char *indent, const char *name, const char *text)
{
	if (buf_printf(out, "%s<%s>", indent, name) == -1 ||
	    dmarc_agg_escape(out, text) == -1 ||
	    buf_printf(out, "</%s>\n", name) == -1)
		return -1;
	return 0;
}

int
dmarc_agg_report_id(const struct dmarc_agg *a,
    const struct dmarc_agg_meta *m, char *out, size_t outlen)
{
	int	 n;

	n = snprintf(out, outlen, "%lld.%s@%s", (long long)a->begin,
	    a->domain, m->receiver);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
dmarc_agg_filename(const struct dmarc_agg *a,
    const struct dmarc_agg_meta *m, int gzipped, char *out, size_t outlen)
{
	return dmarc_agg_filename_id(a, m, NULL, gzipped, out, outlen);
}

int
dmarc_agg_filename_id(const struct dmarc_agg *a,
    const struct dmarc_agg_meta *m, const char *unique_id, int gzipped,
    char *out, size_t outlen)
{
	int	 n;

	/* RFC 9990 3.5.2: receiver "!" policy-domain "!" begin "!" end
	   [ "!" unique-id ] */
	n = snprintf(out, outlen, "%s!%s!%lld!%lld%s%s.%s", m->receiver,
	    a->domain, (long long)a->begin, (long long)a->end - 1,
	    unique_id != NULL ? "!" : "", unique_id != NULL ? unique_id : "",
	    gzipped ? "xml.gz" : "xml");
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
policy_published(struct buf *out, const struct dmarc_agg *a)
{
	const struct dmarc_eval_record	*r = &a->last;
	enum dmarc_policy		 p, sp, np;
	char				 fo[16];

	p = r->have_policy && r->p != DMARC_POLICY_ABSENT ? r->p :
	    DMARC_POLICY_NONE;
	sp = r->have_policy && r->sp != DMARC_POLICY_ABSENT ? r->sp : p;
	np = r->have_policy && r->np != DMARC_POLICY_ABSENT ? r->np : sp;
	dmarc_fo_text(r->have_policy ? r->fo : 0, fo, sizeof(fo));
	if (fo[0] == '\0')
		strlcpy(fo, "0", sizeof(fo));
	if (buf_addstr(out, "  <policy_published>\n") == -1 ||
	    elem(out, "    ", "domain", r->have_policy &&
	    r->policy_domain[0] != '\0' ? r->policy_domain : a->domain) == -1 ||
	    elem(out, "    ", "p", dmarc_policy_name(p)) == -1 ||
	    elem(out, "    ", "sp", dmarc_policy_name(sp)) == -1 ||
	    elem(out, "    ", "np", dmarc_policy_name(np)) == -1 ||
	    elem(out, "    ", "adkim", r->have_policy && r->adkim == 's' ?
	    "s" : "r") == -1 ||
	    elem(out, "    ", "aspf", r->have_policy && r->aspf == 's' ?
	    "s" : "r") == -1 ||
	    elem(out, "    ", "discovery_method", r->have_policy &&
	    !r->discovery_treewalk ? "psl" : "treewalk") == -1 ||
	    elem(out, "    ", "fo", fo) == -1 ||
	    elem(out, "    ", "testing", r->have_policy && r->testing ?
	    "y" : "n") == -1 ||
	    buf_addstr(out, "  </policy_published>\n") == -1)
		return -1;
	return 0;
}

static int
record_xml(struct buf *out, const struct dmarc_eval_record *r,
    uint64_t count)
{
	size_t	 i;

	if (buf_addstr(out, "  <record>\n    <row>\n") == -1 ||
	    elem(out, "      ", "source_ip", r->source_ip) == -1 ||
	    buf_printf(out, "      <count>%llu</count>\n",
	    (unsigned long long)count) == -1 ||
	    buf_addstr(out, "      <policy_evaluated>\n") == -1 ||
	    elem(out, "        ", "disposition",
	    dmarc_disposition_name(r->disposition)) == -1 ||
	    elem(out, "        ", "dkim", r->dkim_aligned_pass ?
	    "pass" : "fail") == -1 ||
	    elem(out, "        ", "spf", r->spf_aligned_pass ?
	    "pass" : "fail") == -1)
		return -1;
	for (i = 0; i < r->nreasons; i++) {
		if (buf_addstr(out, "        <reason>\n") == -1 ||
		    elem(out, "          ", "type",
		    dmarc_override_name(r->reasons[i].type)) == -1 ||
		    (r->reasons[i].comment[0] != '\0' &&
		    elem(out, "          ", "comment",
		    r->reasons[i].comment) == -1) ||
		    buf_addstr(out, "        </reason>\n") == -1)
			return -1;
	}
	if (buf_addstr(out, "      </policy_evaluated>\n    </row>\n"
	    "    <identifiers>\n") == -1 ||
	    elem(out, "      ", "header_from", r->header_from) == -1 ||
	    /* RFC 9990 3.1.1.10: empty for a null reverse-path. */
	    elem(out, "      ", "envelope_from", r->envelope_from) == -1 ||
	    (r->envelope_to[0] != '\0' &&
	    elem(out, "      ", "envelope_to", r->envelope_to) == -1) ||
	    buf_addstr(out, "    </identifiers>\n    <auth_results>\n") == -1)
		return -1;
	/* RFC 9990 3.1.1.11: every DKIM signature validated; then SPF. */
	for (i = 0; i < r->ndkim; i++) {
		if (buf_addstr(out, "      <dkim>\n") == -1 ||
		    elem(out, "        ", "domain", r->dkim[i].domain) == -1 ||
		    elem(out, "        ", "selector",
		    r->dkim[i].selector) == -1 ||
		    elem(out, "        ", "result",
		    dkim_result_name(r->dkim[i].result)) == -1 ||
		    buf_addstr(out, "      </dkim>\n") == -1)
			return -1;
	}
	if (r->have_spf) {
		if (buf_addstr(out, "      <spf>\n") == -1 ||
		    elem(out, "        ", "domain", r->spf_domain) == -1 ||
		    elem(out, "        ", "scope", "mfrom") == -1 ||
		    elem(out, "        ", "result",
		    spf_result_name(r->spf_result)) == -1 ||
		    buf_addstr(out, "      </spf>\n") == -1)
			return -1;
	}
	if (buf_addstr(out, "    </auth_results>\n  </record>\n") == -1)
		return -1;
	return 0;
}

static int
row_cmp(const void *va, const void *vb)
{
	const struct agg_row	*a = *(const struct agg_row *const *)va;
	const struct agg_row	*b = *(const struct agg_row *const *)vb;
	size_t			 n = a->keylen < b->keylen ? a->keylen :
				    b->keylen;
	int			 c;

	if ((c = memcmp(a->key, b->key, n)) != 0)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

int
dmarc_agg_xml(const struct dmarc_agg *a, const struct dmarc_agg_meta *m,
    struct buf *out)
{
	char	 id[DMARC_AGG_ID_MAX];

	if (dmarc_agg_report_id(a, m, id, sizeof(id)) == -1)
		return -1;
	return dmarc_agg_xml_rows(a, m, id, 0, a->nrows, out);
}

int
dmarc_agg_part_id(const struct dmarc_agg *a, size_t part, size_t nparts,
    char *out, size_t outlen)
{
	int	 n;

	if (part >= nparts)
		return -1;
	/* RFC 9990 3.5.2: unique-id = 1*(ALPHA / DIGIT), a valid ridfmt */
	n = snprintf(out, outlen, "%lldpart%zuof%zu", (long long)a->begin,
	    part + 1, nparts);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
dmarc_agg_xml_rows(const struct dmarc_agg *a, const struct dmarc_agg_meta *m,
    const char *id, size_t from, size_t to, struct buf *out)
{
	struct dmarc_agg		*w = (struct dmarc_agg *)a;
	struct dmarc_eval_record	*r;
	size_t				 i;
	int				 rc = -1;

	if (a->nrows == 0 || from >= to || to > a->nrows)
		return -1;
	if (buf_addstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback xmlns=\"" DMARC_AGG_NS "\">\n"
	    "  <version>1.0</version>\n"
	    "  <report_metadata>\n") == -1 ||
	    elem(out, "    ", "org_name", m->org_name) == -1 ||
	    elem(out, "    ", "email", m->email) == -1 ||
	    (m->contact != NULL && m->contact[0] != '\0' &&
	    elem(out, "    ", "extra_contact_info", m->contact) == -1) ||
	    elem(out, "    ", "report_id", id) == -1 ||
	    /* RFC 9990 3.1.1.4: the period, not the first and last message */
	    buf_printf(out, "    <date_range>\n      <begin>%lld</begin>\n"
	    "      <end>%lld</end>\n    </date_range>\n",
	    (long long)a->begin, (long long)a->end - 1) == -1 ||
	    (m->generator != NULL &&
	    elem(out, "    ", "generator", m->generator) == -1) ||
	    buf_addstr(out, "  </report_metadata>\n") == -1 ||
	    policy_published(out, a) == -1)
		return -1;

	/* a cache, not a change: rows added since make it anew */
	if (w->norder != a->nrows) {
		w->order = xreallocarray(w->order, a->nrows,
		    sizeof(*w->order));
		for (i = 0; i < a->nrows; i++)
			w->order[i] = &a->rows[i];
		qsort(w->order, a->nrows, sizeof(*w->order), row_cmp);
		w->norder = a->nrows;
	}
	r = xmalloc(sizeof(*r));
	for (i = from; i < to; i++) {
		if (dmarc_eval_decode(a->order[i]->key, a->order[i]->keylen,
		    r) == -1 || record_xml(out, r, a->order[i]->count) == -1)
			goto done;
	}
	if (buf_addstr(out, "</feedback>\n") == -1)
		goto done;
	rc = 0;
 done:
	free(r);
	return rc;
}

time_t
dmarc_agg_period_begin(time_t now, unsigned int period)
{
	if (period == 0)
		period = DMARC_AGG_PERIOD_DAILY;
	return now - now % (time_t)period;
}

/*
 * A DMARC aggregate report as mail, whole or in parts.
 *
 * Size limits.  RFC 7489 6.2 let a rua URI carry a size limit ("!10m");
 * RFC 9989 4.7 keeps it only as obsolete syntax (obs-dmarc-report-size,
 * which "reporters should ignore") and RFC 9990 says nothing of splitting.
 * Records still publish it, and a receiver that asks for small reports
 * may refuse large ones; rather than skip such a destination (and lose
 * its rows), a report over the limit is sent in parts, each a complete,
 * valid report (report_metadata, policy_published, some of the rows),
 * the rows adding up to the whole report's.  RFC 9990's identifier rules
 * then apply to each part:
 *   - the Report-ID "MUST be unique among reports to the same domain"
 *     (3.5.1): each part has its own, "BEGINpartIofN";
 *   - the file name's optional unique-id distinguishes reports of one
 *     period (3.5.2), and Report-ID and unique-id "MUST be identical when
 *     used" (3.1.4): a part's file name ends in
 *     "!BEGINpartIofN.xml.gz" and its subject and XML carry that id;
 *   - a re-sent report "MUST use the same filename" (3.5.2): the split
 *     depends only on the rows and the limit, so a report offered again
 *     after a crash is split the same way (the queue refuses the parts it
 *     already has, by their keys).  Only the Date field's length (a day
 *     of one digit or two) varies between tries: a part within a byte of
 *     the limit could make a re-sent report split otherwise.
 * The whole report keeps the id and file name it has without a limit.
 * All of a report's destinations get the same messages: the parts are
 * made for the smallest limit among them.
 *
 * Splitting.  Rows are in the order dmarc_agg_xml() writes them and cut
 * into n runs of nearly equal count; n starts from the whole message's
 * size over the limit and grows until every part fits.  A single row that
 * does not fit makes the report too large for that destination.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "reportd/agg_parts.h"
#include "reportd/dmarc_agg.h"
#include "reportd/report_mail.h"
#include "reportd/reportd.h"
#include "util.h"

struct agg_ctx {
	struct reportd			*rd;
	const struct dmarc_agg		*a;
	const char			*domain;
	time_t				 begin, end;
	const char *const		*to;
	size_t				 nto;
	struct dmarc_agg_meta		 m;
};

/*
 * One message, in msg: rows [from, upto) as the whole report (nparts 0)
 * or as part (0-based) of nparts.  0 or -1.
 */
static int
build_one(const struct agg_ctx *c, size_t from, size_t upto, size_t part,
    size_t nparts, struct buf *msg)
{
	struct report_mail	 rm;
	struct buf		 xml, gz;
	char			 rid[DMARC_AGG_ID_MAX], mid[DMARC_AGG_ID_MAX];
	char			 fn[DMARC_AGG_FILENAME_MAX];
	char			 subject[1024], text[768], ptext[128];
	int			 rc = -1;

	buf_init(&xml, DMARC_AGG_XML_MAX);
	buf_init(&gz, REPORT_MAIL_MAX);
	ptext[0] = '\0';
	if (nparts == 0) {
		if (dmarc_agg_report_id(c->a, &c->m, rid, sizeof(rid)) == -1 ||
		    dmarc_agg_filename(c->a, &c->m, 1, fn, sizeof(fn)) == -1)
			goto done;
		/* RFC 9990 3.5.2 allows the ridtxt as the Message-ID */
		strlcpy(mid, rid, sizeof(mid));
	} else {
		if (dmarc_agg_part_id(c->a, part, nparts, rid,
		    sizeof(rid)) == -1 || dmarc_agg_filename_id(c->a, &c->m,
		    rid, 1, fn, sizeof(fn)) == -1 ||
		    (size_t)snprintf(mid, sizeof(mid), "%s.%s@%s", rid,
		    c->domain, c->m.receiver) >= sizeof(mid))
			goto done;
		snprintf(ptext, sizeof(ptext), "It is part %zu of %zu, each a "
		    "report of its own, within the size limit asked for.\n",
		    part + 1, nparts);
	}
	if (dmarc_agg_xml_rows(c->a, &c->m, rid, from, upto, &xml) == -1 ||
	    report_gzip(xml.data, xml.len, &gz) == -1)
		goto done;
	/* RFC 9990 3.5.2: the subject, folded */
	snprintf(subject, sizeof(subject), "Report Domain: %s\r\n"
	    " Submitter: %s\r\n Report-ID: <%s>", c->domain, c->m.receiver,
	    rid);
	snprintf(text, sizeof(text), "This is an aggregate report (RFC 9990) "
	    "of the DMARC results of mail from %s\nreceived by %s between "
	    "%lld and %lld (seconds since 1970, UTC).\n%s", c->domain,
	    c->m.receiver, (long long)c->begin, (long long)c->end - 1, ptext);
	memset(&rm, 0, sizeof(rm));
	rm.from = c->rd->conf.from;
	rm.to = c->to;
	rm.nto = c->nto;
	rm.subject = subject;
	rm.message_id = mid;
	rm.date = walltime();
	rm.text = text;
	rm.filename = fn;
	rm.media_type = "application/gzip";
	rm.attachment = gz.data;
	rm.attachment_len = gz.len;
	buf_reset(msg);
	if (report_mail_build(&rm, msg) == -1 ||
	    reportd_sign(c->rd, msg) == -1)
		goto done;
	rc = 0;
 done:
	buf_free(&xml);
	buf_free(&gz);
	return rc;
}

void
agg_msgs_free(struct agg_msgs *o)
{
	size_t	 i;

	for (i = 0; i < o->n; i++)
		buf_free(&o->msg[i]);
	free(o->msg);
	memset(o, 0, sizeof(*o));
}

static void
msgs_alloc(struct agg_msgs *o, size_t n)
{
	size_t	 i;

	agg_msgs_free(o);
	o->msg = xreallocarray(NULL, n, sizeof(*o->msg));
	for (i = 0; i < n; i++)
		buf_init(&o->msg[i], REPORT_MAIL_MAX);
	o->n = n;
}

/* Rows of part i of n: [i * rows / n, (i + 1) * rows / n). */
static size_t
cut(size_t rows, size_t i, size_t n)
{
	return (size_t)((unsigned long long)rows * i / n);
}

int
agg_msgs_build(struct reportd *rd, const struct dmarc_agg *a,
    const char *domain, time_t begin, time_t end, const char *const *to,
    size_t nto, uint64_t limit, struct agg_msgs *out, int *too_large)
{
	struct agg_ctx	 c;
	size_t		 rows = dmarc_agg_rows(a), n, i, whole, lim;
	int		 fits;

	*too_large = 0;
	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.a = a;
	c.domain = domain;
	c.begin = begin;
	c.end = end;
	c.to = to;
	c.nto = nto;
	reportd_meta(rd, &c.m);

	msgs_alloc(out, 1);
	if (build_one(&c, 0, rows, 0, 0, &out->msg[0]) == -1) {
		agg_msgs_free(out);
		return -1;
	}
	whole = out->msg[0].len;
	out->whole = whole;
	if (limit == 0 || whole <= limit)
		return 0;

	/*
	 * The fewest parts that might fit, then more (an eighth more each
	 * time, one row a part at the end) until all do; a part that does
	 * not fit ends a try at once.
	 */
	lim = rows < AGG_PARTS_MAX ? rows : AGG_PARTS_MAX;
	n = whole / limit + 1;
	if (n < 2)
		n = 2;
	while (n <= lim) {
		msgs_alloc(out, n);
		out->whole = whole;
		for (i = 0, fits = 1; i < n && fits; i++) {
			if (build_one(&c, cut(rows, i, n), cut(rows, i + 1, n),
			    i, n, &out->msg[i]) == -1) {
				agg_msgs_free(out);
				return -1;
			}
			fits = out->msg[i].len <= limit;
		}
		if (fits)
			return 0;
		if (n == lim)
			break;
		n += n / 8 + 1;
		if (n > lim)
			n = lim;
	}
	agg_msgs_free(out);
	out->whole = whole;
	*too_large = 1;
	return -1;
}

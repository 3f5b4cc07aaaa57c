/*
 * The DMARC aggregate report builder (RFC 9990 3.1): evaluation records of
 * one Author Domain and one reporting period in, the report's XML out.
 * I/O-free: reportd walks its evaluation store into dmarc_agg_add() and
 * sends what dmarc_agg_xml() writes; the unit tests do the same with
 * records they make up.
 */
#ifndef POSTERN_DMARC_AGG_H
#define POSTERN_DMARC_AGG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dmarc.h"
#include "util.h"

#define DMARC_AGG_NS		"urn:ietf:params:xml:ns:dmarc-2.0"
#define DMARC_AGG_ROWS_MAX	50000	/* distinct rows of one report */
#define DMARC_AGG_XML_MAX	((size_t)64 * 1024 * 1024)
#define DMARC_AGG_ID_MAX	600	/* a report id, with its NUL */
#define DMARC_AGG_FILENAME_MAX	700
#define DMARC_AGG_PERIOD_DAILY	86400
#define DMARC_AGG_PERIOD_HOURLY	3600

/* What the report says about its sender (report_metadata). */
struct dmarc_agg_meta {
	const char	*org_name;	/* required */
	const char	*email;		/* required */
	const char	*contact;	/* extra_contact_info; NULL or "": none */
	const char	*receiver;	/* our domain: report id, filename */
	const char	*generator;	/* NULL: none */
};

struct dmarc_agg;

/*
 * A report for domain (the Author Domain, RFC5322.From) over the period
 * [begin, end).
 */
struct dmarc_agg *dmarc_agg_new(const char *domain, time_t begin, time_t end);
void		 dmarc_agg_free(struct dmarc_agg *);
/*
 * Count one evaluation: records whose row, identifiers and auth_results
 * (RFC 9990 3.1.1.7: one record per (IP, result, authentication
 * identifiers) tuple) are equal share one <record> whose <count> they
 * add to.  The policy published of the last record added is the one
 * reported (the final configuration observed, RFC 9990 3.1).  Records of
 * another domain or outside the period are ignored (1); 0 when counted;
 * -1 when the report already has DMARC_AGG_ROWS_MAX rows (not counted).
 */
int		 dmarc_agg_add(struct dmarc_agg *,
		    const struct dmarc_eval_record *);
size_t		 dmarc_agg_rows(const struct dmarc_agg *);
/*
 * The DMARC Policy Domain of the newest evaluation, where its record and
 * its rua are (RFC 9990 3.4); NULL when no policy record was found.
 */
const char	*dmarc_agg_policy_domain(const struct dmarc_agg *);
uint64_t	 dmarc_agg_messages(const struct dmarc_agg *);
/*
 * 1 when every message counted only carried a report (the evaluation's
 * report_mail): such a report is not sent (no reports about reports);
 * with other mail counted, the report mail's rows are in it too.
 */
int		 dmarc_agg_only_report_mail(const struct dmarc_agg *);

/*
 * The report id (RFC 9990 3.5.1 ridfmt): "BEGIN.DOMAIN@RECEIVER", one
 * per domain and period, so that the same period always gets the same
 * id (a re-sent report is recognisably the same one).  0, or -1 when it
 * does not fit.
 */
int		 dmarc_agg_report_id(const struct dmarc_agg *,
		    const struct dmarc_agg_meta *, char *out, size_t outlen);
/* The attachment's filename (RFC 9990 3.5.2): RECEIVER!DOMAIN!B!E.xml.gz */
int		 dmarc_agg_filename(const struct dmarc_agg *,
		    const struct dmarc_agg_meta *, int gzipped, char *out,
		    size_t outlen);

/*
 * Append the report's XML to out: 0, or -1 (out too small for it, or no
 * record counted: the schema wants at least one <record>).
 */
int		 dmarc_agg_xml(const struct dmarc_agg *,
		    const struct dmarc_agg_meta *, struct buf *out);

/*
 * A report over a destination's size limit is sent in parts, each a whole
 * report of its own (metadata, policy_published) holding some of the
 * rows: rows [from, to) in the order dmarc_agg_xml() writes them, with
 * report id id.  0, or -1 (out too small, an empty or bad range).
 */
int		 dmarc_agg_xml_rows(const struct dmarc_agg *,
		    const struct dmarc_agg_meta *, const char *id, size_t from,
		    size_t to, struct buf *out);
/*
 * The report id of part (0-based) of nparts: RFC 9990 wants it unique
 * among reports to the domain (3.5.1) and identical to the file name's
 * unique-id (1*(ALPHA / DIGIT), 3.5.2) when that is used (3.1.4), so it is
 * "BEGINpartIofN", the same for the same split.  0, or -1.
 */
int		 dmarc_agg_part_id(const struct dmarc_agg *, size_t part,
		    size_t nparts, char *out, size_t outlen);
/* The file name with "!" unique_id before the extension (NULL: none). */
int		 dmarc_agg_filename_id(const struct dmarc_agg *,
		    const struct dmarc_agg_meta *, const char *unique_id,
		    int gzipped, char *out, size_t outlen);

/* XML character data of s, escaped, appended to out: 0 or -1. */
int		 dmarc_agg_escape(struct buf *out, const char *s);

/*
 * The reporting period holding now, aligned to UTC (RFC 9990 3.1.1.4: "a
 * single UTC day, beginning at 0000UTC"): its begin; period in seconds.
 */
time_t		 dmarc_agg_period_begin(time_t now, unsigned int period);

#endif

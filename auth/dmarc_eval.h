/*
 * The binary form of a DMARC evaluation record (struct dmarc_eval_record,
 * declared in auth/dmarc.h because every dmarc_outcome carries one): what
 * authd sends reportd (IMSG_REPORT_DMARC_EVAL) and what reportd's evaluation
 * store keeps on disk.  Both ends are postern, so the format is ours; the
 * version byte lets a stored record from an older format be refused rather
 * than misread.  auth/dmarc_eval.c describes the layout.
 */
#ifndef POSTERN_DMARC_EVAL_H
#define POSTERN_DMARC_EVAL_H

#include <stddef.h>

#include "auth/dmarc.h"
#include "util.h"

/*
 * Record a local override of the disposition (RFC 9990 reason): -1 when
 * the record already holds DMARC_MAX_REASONS reasons or the type is out
 * of range, so that every record built here can be encoded.
 */
int		 dmarc_eval_add_reason(struct dmarc_eval_record *,
		    enum dmarc_override, const char *comment);

/*
 * Append the record's encoding to out: 0, or -1 when a count is past its
 * bound or a string does not fit its field (out then holds a partial
 * encoding the caller discards).
 */
int		 dmarc_eval_encode(const struct dmarc_eval_record *,
		    struct buf *out);
/*
 * Decode exactly len bytes into the record: 0, or -1 (the record zeroed)
 * for any malformed input: bad magic or version, truncation, trailing
 * bytes, out-of-range values, strings too long or holding NUL bytes.
 */
int		 dmarc_eval_decode(const void *data, size_t len,
		    struct dmarc_eval_record *);
/*
 * The domain an aggregate report of the record is about: its DMARC Policy
 * Domain (RFC 9989 3.2.5, where the policy record was found; RFC 9990 2:
 * one report per policy domain), or its Author Domain when no policy was
 * found.
 */
const char	*dmarc_eval_report_domain(const struct dmarc_eval_record *);

#endif

/*
 * Failure reports as mail: the Abuse Reporting Format (RFC 5965) with the
 * authentication-failure fields of RFC 6591 as RFC 9991 4 updates them.
 * I/O-free: reportd/failure.c gives it the evaluation and the header
 * section authd sent, and queues what it builds.
 */
#ifndef POSTERN_ARF_H
#define POSTERN_ARF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dmarc.h"
#include "util.h"

#define ARF_REDACT_KEY_LEN	32
#define ARF_BOUNDARY_LEN	32	/* random characters, unguessable */
#define ARF_LINE_MAX		900	/* longer header lines are folded */

struct arf_report {
	const char		*from;		/* From: (our report address) */
	const char *const	*to;		/* To: the destinations */
	size_t			 nto;
	const char		*message_id;	/* without < > */
	time_t			 date;		/* of the report */
	const char		*reporting_mta;	/* our host name */
	const char		*auth_failure;	/* "dmarc", "bodyhash" ... */
	const struct dmarc_eval_record *eval;	/* what failed */
	/*
	 * A DKIM failure report (RFC 6651, Auth-Failure bodyhash or
	 * signature): the signature's d=, s= and i=; NULL for DMARC.
	 */
	const char		*dkim_domain;
	const char		*dkim_selector;
	const char		*dkim_identity;
	/* An SPF failure report (RFC 6652, Auth-Failure spf): the domain */
	const char		*spf_domain;
	const char		*mail_from;	/* the MAIL FROM, "" null */
	const void		*header;	/* the original header section: */
	size_t			 header_len;	/* untrusted bytes */
	/* RFC 6590 redaction: local parts become a keyed hash of them */
	const uint8_t		*redact_key;	/* ARF_REDACT_KEY_LEN bytes */
	const char		*boundary;	/* ARF_BOUNDARY_LEN [A-Za-z0-9] */
};

/*
 * The report (RFC 5965 2, multipart/report; report-type=feedback-report,
 * RFC 6522): a human-readable part, the message/feedback-report part and
 * the original header fields as text/rfc822-headers, redacted (RFC 9991
 * 8: local parts of addresses, http: URIs written hxxp:) and made safe: 7
 * bit, CRLF lines, no line longer than ARF_LINE_MAX, nothing that reads
 * as a boundary.  Appended to out: 0, or -1 when it does not fit or the
 * boundary occurs in the content (choose another).
 */
int		 arf_build(const struct arf_report *, struct buf *out);

/*
 * The RFC 6590 redaction of an address's local part: a keyed hash of it,
 * the same for the same local part and key, in out (at least 17 bytes).
 */
void		 arf_redact_local(const uint8_t *key, const char *local,
		    size_t len, char *out, size_t outlen);

#endif

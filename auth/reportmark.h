/*
 * Telling report mail by its header fields, so that the evaluations of
 * mail that only carried a report are reported only alongside other rows
 * and two report senders never answer each other's reports forever.
 */
#ifndef POSTERN_REPORTMARK_H
#define POSTERN_REPORTMARK_H

#include <stddef.h>

/*
 * One header field as mailhdr_reader delivers it (raw, folded, without
 * its final CRLF; namelen from mailhdr_name_len()): 1 when it marks the
 * message as a report, else 0.  Marks:
 *   Content-Type multipart/report, any report-type (RFC 6522: ARF
 *	feedback-report RFC 5965, delivery-status RFC 3464,
 *	disposition-notification RFC 8098, tlsrpt RFC 8460 5.3);
 *   Content-Type application/tlsrpt+gzip or +json (RFC 8460 6.4, 6.5);
 *   a TLS-Report-Domain field (RFC 8460 5.3);
 *   a Subject of an aggregate report, "Report Domain: ... Submitter: ..."
 *	(RFC 9990's dmarc-subject; case-insensitive, since big senders
 *	write "Report domain:").
 */
int	 reportmark_field(const char *raw, size_t len, size_t namelen);

#endif

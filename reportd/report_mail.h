/*
 * Reports as mail, for every kind of report reportd sends (DMARC
 * aggregate now; TLS-RPT and failure reports reuse it): gzip, the MIME
 * message with the report attached, and the mailto: destinations of a
 * report URI with their size limits.  I/O-free; reportd/reportd.c queues
 * what this builds (reportd_queue_report()).
 */
#ifndef POSTERN_REPORT_MAIL_H
#define POSTERN_REPORT_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define REPORT_MAIL_MAX		((size_t)64 * 1024 * 1024)
#define REPORT_ADDR_MAX		256	/* an address, with its NUL */
#define REPORT_MAX_RCPTS	32

struct report_mail {
	const char	*from;		/* From: and the envelope sender */
	const char	*const *to;	/* addresses */
	size_t		 nto;
	const char	*subject;	/* may hold "\r\n " folds */
	const char	*message_id;	/* without < > */
	time_t		 date;
	const char	*text;		/* the human-readable part */
	const char	*filename;	/* of the attachment */
	const char	*media_type;	/* "application/gzip" */
	const void	*attachment;
	size_t		 attachment_len;
	const char	*extra_header;	/* whole fields with CRLF, or NULL */
	const char	*report_type;	/* NULL: multipart/mixed; else
					   multipart/report (RFC 6522) of it */
};

/*
 * The message (RFC 5322, MIME RFC 2045/2046: multipart/mixed with a
 * text/plain part and the report base64-encoded as an attachment),
 * lines ending in CRLF, appended to out: 0, or -1 when it does not fit.
 */
int		 report_mail_build(const struct report_mail *, struct buf *out);

/* gzip (RFC 1952) of len bytes of in, appended to out: 0 or -1. */
int		 report_gzip(const void *in, size_t len, struct buf *out);

/*
 * A report URI (RFC 9989 4.7 rua, with the size limit of RFC 7489's
 * "!" suffix that some records still carry) as a destination: the
 * address of a mailto: URI (RFC 6068: percent-decoded, without its
 * query) in addr, and the limit in bytes in *limit (0: none).  0, or -1
 * for a URI that is not a usable mailto: address.
 */
int		 report_mailto(const char *uri, char *addr, size_t addrlen,
		    uint64_t *limit);

#endif

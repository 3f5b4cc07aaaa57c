/*
 * The message a local program hands to posternctl sendmail, made ready
 * for SMTP: line ends made CRLF, a leading mbox "From " line dropped, the
 * recipients of -t read from To, Cc and Bcc (RFC 5322 3.6.3) and every
 * Bcc field removed, and which of the fields RFC 5322 3.6 requires are
 * missing.  No I/O: posternctl reads and sends; the unit tests and a fuzz
 * target drive it alone.
 */
#ifndef POSTERN_SENDMAIL_MSG_H
#define POSTERN_SENDMAIL_MSG_H

#include <stddef.h>

#include "util.h"

#define SENDMAIL_ADDR_MAX	1024	/* an address, as RCPT takes it */
#define SENDMAIL_RCPTS_MAX	1000	/* recipients from the header */
#define SENDMAIL_HEADER_MAX	(1024 * 1024)	/* the header section */

struct sendmail_msg {
	struct buf	 header;	/* the fields kept, CRLF line ends */
	size_t		 body_off;	/* the body in the input */
	int		 has_from, has_date, has_msgid;
	int		 eight_bit;	/* a byte over 127 anywhere */
	char		**rcpts;	/* -t: from To, Cc, Bcc, in order */
	size_t		 nrcpts;
};

/*
 * Split in (the message as the program wrote it, LF or CRLF line ends)
 * into the header fields kept and the body; with extract, collect the
 * recipients.  0, or -1 with why (a header section too large, too many
 * recipients, an address too long or with control characters).
 */
int	sendmail_msg_parse(struct sendmail_msg *, const char *in, size_t len,
	    int extract, char *why, size_t whylen);
void	sendmail_msg_free(struct sendmail_msg *);

/*
 * RFC 5322 3.4 address-list (obsolete forms too): each address, as the
 * addr-spec inside <> or the bare addr-spec; group names and display
 * names dropped, comments skipped.  cb returns -1 to stop; so does an
 * address that is too long or has a control character (-1, why set).
 */
int	sendmail_address_list(const char *v, size_t len,
	    int (*cb)(void *, const char *), void *arg, char *why,
	    size_t whylen);

/*
 * Without -i (sendmail(8)'s -oi), a line holding a lone "." ends the
 * input: the length of in before that line (len when there is none).
 */
size_t	sendmail_dot_end(const char *in, size_t len);

/*
 * The body (or any bytes) with its line ends made CRLF, appended to out:
 * LF alone becomes CRLF, CRLF stays.
 */
int	sendmail_crlf(struct buf *out, const char *in, size_t len);

#endif

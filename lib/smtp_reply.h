/*
 * The client side of SMTP's wire format, without I/O: replies (RFC 5321
 * 4.2, multi-line 4.2.1, enhanced status codes RFC 2034 / RFC 3463), the
 * EHLO keywords a client acts on, dot-stuffing of DATA (RFC 5321 4.5.2)
 * and xtext (RFC 3461 4).  The mta's sessions use it; so do the unit tests
 * and a fuzz target, since every byte of a reply comes from the network.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * RFC 5321 4.5.3.1.5 caps a reply line at 512 octets; servers send longer
 * ones, so we take up to SMTP_REPLY_LINE_MAX and fail the reply beyond.
 * A reply of more lines than SMTP_REPLY_LINES_MAX (an endless multi-line
 * reply) fails too: bounded memory whatever the server sends.
 */
#define SMTP_REPLY_LINE_MAX	4096
#define SMTP_REPLY_LINES_MAX	128
#define SMTP_REPLY_TEXT_MAX	(SMTP_REPLY_LINES_MAX * 256)

struct smtp_reply {
	int		 code;		/* 200..599 */
	char		 enhanced[16];	/* "5.1.1", or "" */
	size_t		 nlines;
	size_t		 line_off[SMTP_REPLY_LINES_MAX];	/* into text */
	size_t		 textlen;
	char		 text[SMTP_REPLY_TEXT_MAX];	/* each line's text
							   after the code,
							   NUL-separated */
};

enum smtp_reply_status {
	SMTP_REPLY_MORE,		/* a continuation line: feed the next */
	SMTP_REPLY_DONE,		/* the last line */
	SMTP_REPLY_ERROR		/* not an SMTP reply: give up */
};

void	smtp_reply_init(struct smtp_reply *);
/* Feed one line without its CRLF. */
enum smtp_reply_status smtp_reply_line(struct smtp_reply *, const char *,
	    size_t, char *err, size_t errlen);
/* Line i's text (after "250-" / "250 "), NUL-terminated. */
const char	*smtp_reply_text(const struct smtp_reply *, size_t i);
/*
 * The whole reply on one line, "550 5.1.1 text text", for logs and for
 * the Diagnostic-Code of a DSN (RFC 3464 2.3.6); printable ASCII only.
 */
void		 smtp_reply_oneline(const struct smtp_reply *, char *, size_t);
/* The enhanced code if the server sent one, else the class default. */
const char	*smtp_reply_status(const struct smtp_reply *);

/* EHLO keywords (RFC 5321 4.1.1.1) the client acts on. */
#define SMTP_CAP_PIPELINING	0x0001	/* RFC 2920 */
#define SMTP_CAP_STARTTLS	0x0002	/* RFC 3207 */
#define SMTP_CAP_8BITMIME	0x0004	/* RFC 6152 */
#define SMTP_CAP_SMTPUTF8	0x0008	/* RFC 6531 */
#define SMTP_CAP_DSN		0x0010	/* RFC 3461 */
#define SMTP_CAP_CHUNKING	0x0020	/* RFC 3030 */
#define SMTP_CAP_SIZE		0x0040	/* RFC 1870 */
#define SMTP_CAP_AUTH		0x0080	/* RFC 4954 */
#define SMTP_CAP_ENHANCED	0x0100	/* RFC 2034 */
#define SMTP_CAP_REQUIRETLS	0x0200	/* RFC 8689 */

struct smtp_caps {
	unsigned int	 flags;
	uint64_t	 size_max;	/* SIZE n; 0: none declared */
	char		 auth[256];	/* the AUTH mechanisms, as listed */
};

void	smtp_caps_parse(const struct smtp_reply *, struct smtp_caps *);

/*
 * Dot-stuffing (RFC 5321 4.5.2) of a message in wire form (CRLF line
 * ends), streamed: a "." that starts a line is doubled.  The end adds the
 * final CRLF if the message lacks one, then ".\r\n".
 */
struct smtp_dotstuff {
	int		 bol;		/* at the start of a line */
	uint8_t		 last[2];	/* the last two bytes seen */
	uint64_t	 total;
};

void	smtp_dotstuff_init(struct smtp_dotstuff *);
int	smtp_dotstuff(struct smtp_dotstuff *, const uint8_t *, size_t,
	    struct buf *);
int	smtp_dotstuff_end(struct smtp_dotstuff *, struct buf *);

/* xtext (RFC 3461 4): "+XX" for '+', '=', controls, space and non-ASCII. */
int	smtp_xtext_encode(const char *, struct buf *);

#endif

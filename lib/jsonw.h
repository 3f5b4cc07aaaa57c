/*
 * JSON for posternctl's -j listings, written by the process that holds
 * the data (posternctl, which may run as root, parses none of it): one
 * compact object per line (RFC 8259).  Strings from the network need not
 * be UTF-8, which JSON text must be (RFC 8259 8.1): jsonw_text() replaces
 * what is not; a message body, which can be large and any bytes, is
 * written piecewise with jsonw_escape() once utf8_check says it may be.
 */
#ifndef POSTERN_JSONW_H
#define POSTERN_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util.h"

/* A JSON string of s; a byte that is not UTF-8 becomes U+FFFD. */
json_t	*jsonw_text(const char *s);
/*
 * Append o (taken, and released) compactly and a newline to b: 0, or -1
 * if o is NULL (a pack failed) or b has no room.
 */
int	 jsonw_line(struct buf *b, json_t *o);
/*
 * Append len bytes of UTF-8 text to b as the inside of a JSON string
 * (RFC 8259 7: quotation mark, reverse solidus and control characters
 * escaped).  Pieces of one text may be escaped one after another, cut
 * anywhere.  0, or -1 if b has no room.
 */
int	 jsonw_escape(struct buf *b, const void *, size_t len);

/* Whether a text given in pieces is UTF-8 (RFC 3629 4). */
struct utf8_check {
	unsigned int	 need;		/* continuation bytes to come */
	uint8_t		 lo, hi;	/* the range of the next one */
	int		 bad;
};
void	 utf8_check_init(struct utf8_check *);
void	 utf8_check_update(struct utf8_check *, const void *, size_t);
/* 1 if everything given was UTF-8 and no sequence is left open */
int	 utf8_check_done(const struct utf8_check *);

#endif

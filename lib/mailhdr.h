/*
 * RFC 5322 header sections for the authentication code (DKIM, ARC, DMARC):
 * a streaming splitter that turns wire bytes into header fields (raw text
 * with folding kept, so signatures can be checked over the exact bytes) and
 * body bytes; field-name helpers; relaxed header canonicalization
 * (RFC 6376 3.4.2); and the strict tag=value list grammar of RFC 6376 3.2
 * that DKIM-Signature, ARC-* and key records share.
 */
#ifndef POSTERN_MAILHDR_H
#define POSTERN_MAILHDR_H

#include <stddef.h>
#include <time.h>
#include <stdint.h>

#include "util.h"

/*
 * Streaming splitter.  Feed it the message as it arrives, in chunks of any
 * size; a chunk may end anywhere, even between CR and LF.  Line ends are
 * CRLF on the wire; a bare LF is accepted as a line end too (and stored as
 * CRLF inside folded fields), a CR not followed by LF is an ordinary byte.
 *
 * field() gets each complete field: its raw bytes from the first byte of the
 * name to the end of its last line, without the final CRLF (inner folding
 * CRLFs are kept), and the length of the name (0 when the line has no colon).
 * body() gets body bytes, exactly as they came, after the empty line.
 * Fields longer than maxfield or beyond maxfields are not delivered;
 * `overflow` is set instead so the caller can refuse to judge the message.
 */
struct mailhdr_reader {
	int		 state;
	int		 overflow;
	int		 in_body;
	size_t		 nfields;
	size_t		 maxfields;
	struct buf	 cur;
	void		(*field)(void *, const char *, size_t, size_t);
	void		(*body)(void *, const uint8_t *, size_t);
	void		*arg;
};

void	 mailhdr_reader_init(struct mailhdr_reader *, size_t maxfield,
	    size_t maxfields,
	    void (*field)(void *, const char *, size_t, size_t),
	    void (*body)(void *, const uint8_t *, size_t), void *arg);
void	 mailhdr_reader_feed(struct mailhdr_reader *, const void *, size_t);
/* End of message: delivers a pending last field. */
void	 mailhdr_reader_end(struct mailhdr_reader *);
void	 mailhdr_reader_free(struct mailhdr_reader *);

/*
 * Length of the field name in raw (before the colon, trailing WSP dropped
 * for the obsolete "Name : value" form); 0 if there is no colon or the name
 * is empty or has bytes outside RFC 5322 ftext.
 */
size_t	 mailhdr_name_len(const char *raw, size_t len);
/* Case-insensitive: does the field with this raw text have this name? */
int	 mailhdr_name_is(const char *raw, size_t len, size_t namelen,
	    const char *name, size_t nlen);
/* The value: everything after the colon (still folded). */
const char *mailhdr_value(const char *raw, size_t len, size_t *vlen);

/*
 * RFC 6376 3.4.2 relaxed header canonicalization of one raw field, appended
 * to out as "name:value\r\n" (lower-case name, unfolded, runs of WSP made
 * one SP, WSP around the colon and at the end removed).  With crlf 0 the
 * final CRLF is left off (the signature field itself, RFC 6376 3.7).
 */
int	 mailhdr_canon_relaxed(const char *raw, size_t len, int crlf,
	    struct buf *out);

/*
 * RFC 6376 3.2 tag-list.  Each tag gives its name and its value with the
 * surrounding FWS removed, plus the offsets (into the parsed text) just
 * after '=' and of the terminating ';' or end, which is what RFC 6376 3.7
 * blanks when it removes the b= value "including all surrounding
 * whitespace".
 */
struct mailhdr_tag {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
	size_t		 rawstart;
	size_t		 rawend;
};

#define MAILHDR_MAX_TAGS	64

/*
 * Parse s[0..len) strictly: tag names are ALPHA *(ALPHA / DIGIT / "_"),
 * values are VALCHARs (%x21-3A / %x3C-7E) with FWS only between them, no
 * empty tag-specs, no tag twice.  Returns the number of tags, or -1 with a
 * reason in err.
 */
int	 mailhdr_taglist(const char *s, size_t len, struct mailhdr_tag *tags,
	    size_t maxtags, char *err, size_t errlen);
/* The tag with this (case-sensitive, RFC 6376 3.2) name, or NULL. */
const struct mailhdr_tag *mailhdr_tag_find(const struct mailhdr_tag *,
	    size_t ntags, const char *name);
/* A copy of a value with all FWS removed (base64 values, h= lists). */
char	*mailhdr_strip_fws(const char *, size_t);

/*
 * RFC 5322 3.3 date-time in UTC, in English whatever the locale (Date,
 * Received, DSN and report fields): "Mon, 7 Dec 2026 14:00:00 +0000".
 */
void	 mail_date(time_t, char *, size_t);

#endif

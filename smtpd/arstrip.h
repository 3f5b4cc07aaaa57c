/*
 * smtpd/arstrip.c: drop forged Authentication-Results fields (RFC 8601 5)
 * from a message as it streams to the queue, noting on the way a
 * "TLS-Required: No" field (RFC 8689 3).
 */
#ifndef POSTERN_ARSTRIP_H
#define POSTERN_ARSTRIP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The longest field held whole to be judged. */
#define ARSTRIP_FIELD_MAX	(64 * 1024)

enum arstrip_mode {
	ARSTRIP_HOLD,		/* the field so far is held */
	ARSTRIP_PASS,		/* too long, not A-R: the rest passes on */
	ARSTRIP_DROP		/* too long, A-R: the rest is dropped */
};

struct arstrip {
	int			 in_body;
	int			 bol;		/* at the start of a line */
	enum arstrip_mode	 mode;		/* of the current field */
	size_t			 dropped;	/* fields removed */
	int			 tls_required_no; /* RFC 8689 3 field seen */
	struct buf		 field;
};

void	arstrip_init(struct arstrip *);
/* The same with another limit than ARSTRIP_FIELD_MAX (tests, fuzzing). */
void	arstrip_init_max(struct arstrip *, size_t field_max);
void	arstrip_free(struct arstrip *);
/* Append what of p passes to out; ours is our authserv-id. */
void	arstrip_feed(struct arstrip *, const uint8_t *p, size_t len,
	    const char *ours, struct buf *out);
/* The end of the message: a last field without an empty line after it. */
void	arstrip_end(struct arstrip *, const char *ours, struct buf *out);

#endif

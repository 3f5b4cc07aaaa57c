/*
 * Tables beyond what the grammar holds inline: loading `file:` tables, and
 * looking up a recipient address in a mapping.
 */
#ifndef POSTERN_TABLE_H
#define POSTERN_TABLE_H

#include <stddef.h>

#include "config.h"

#define TABLE_FILE_MAX_ENTRIES	100000
#define TABLE_FILE_MAX_LINE	1024

/*
 * Read a `file:` table: one entry per line, "KEY" or "KEY VALUE" (blanks
 * between), '#' starts a comment.  -1 with "PATH:LINE: message" in err.
 */
int		 table_load_file(struct table *, char *err, size_t errlen);

/*
 * The value for a recipient in a mapping: the whole address first
 * (case-insensitively), then "@domain" as the domain's catch-all.
 */
const char	*table_lookup_rcpt(const struct table *, const char *rcpt);
/*
 * "senders <T>": may account send as addr?  Only if the table maps addr,
 * looked up as table_lookup_rcpt() does, to exactly that account.
 */
int		 table_sender_owned(const struct table *, const char *addr,
		    const char *account);
/* Is key (case-insensitively) one of the table's keys? */
int		 table_has(const struct table *, const char *key);

#endif

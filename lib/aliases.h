/*
 * aliases(5) tables, in Debian's format, for `action ... alias <T>`: the
 * parser (I/O-free, fuzzed), the parent's loader (the file and its
 * :include: files), and the expansion of a recipient at RCPT time, which
 * smtp runs to make the envelopes and the queue runs again to check them.
 */
#ifndef POSTERN_ALIASES_H
#define POSTERN_ALIASES_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <time.h>

#include "config.h"

struct routing;

#define ALIASES_FILE_MAX	(16 * 1024 * 1024)	/* bytes of the file */
#define ALIASES_INCLUDE_MAX	(1024 * 1024)		/* of one :include: */
#define ALIASES_INCLUDE_DEPTH	4
#define ALIASES_MAX_ENTRIES	200000	/* name-member pairs, includes in */
#define ALIASES_NAME_MAX	64
#define ALIASES_MEMBER_MAX	255	/* fits a table entry's value */
#define ALIASES_MAX_DEPTH	16	/* nested aliases */
#define ALIASES_MAX_LOOKUPS	1000	/* aliases expanded per recipient */
#define ALIASES_MAX_TARGETS	20000	/* recipients one expands to */

/* The member the loader stores for an :include: it could not read. */
#define ALIASES_INCLUDE_ERROR	":error:"

/*
 * One name's member, as written (quotes taken off): "user", "a@b",
 * "/file", "|command" or ":include:/path".  Return -1 to stop.
 */
typedef int	(*aliases_cb)(void *arg, const char *name, const char *member);

/*
 * Parse aliases(5): "name: member, member", continued on lines that start
 * with a blank, comment lines starting with '#'.  -1 with "LINE: why" in
 * err on the first error (or when cb says stop).
 */
int	aliases_parse(const char *buf, size_t len, aliases_cb, void *arg,
	    char *err, size_t errlen);
/* An :include: file's members: comma- or line-separated. */
int	aliases_parse_list(const char *buf, size_t len, const char *name,
	    aliases_cb, void *arg, char *err, size_t errlen);

/*
 * The parent: read t->path into t's entries (name -> member, one entry per
 * member), the :include: files' members in place of the :include:.
 */
int	aliases_load(struct table *, char *err, size_t errlen);
/* Has the file changed since the stamp (0 = no); refreshes the stamp. */
struct aliases_stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};
int	aliases_changed(const char *path, struct aliases_stamp *);

/* Is member one of the members of any name of the table? */
int	aliases_has_member(struct table *, const char *member);

enum alias_kind {
	ALIAS_LOCAL,		/* a user's mailbox, by `action` */
	ALIAS_REMOTE,		/* through the mta, by relay `action` */
	ALIAS_FILE,		/* "/path" appended as an mbox */
	ALIAS_COMMAND		/* "|command" given the message */
};

struct alias_target {
	enum alias_kind	 kind;
	const char	*action;	/* the routing's own name */
	char		*rcpt;		/* address, "/file" or "|command" */
};

enum alias_verdict {
	ALIAS_NOT_ALIAS,	/* not a name of the action's table */
	ALIAS_EXPANDED,		/* n > 0 targets */
	ALIAS_NO_TARGET,	/* every member failed (see the counts) */
	ALIAS_OVERFLOW,		/* past a bound: depth, lookups, targets */
	ALIAS_UNAVAILABLE	/* an :include: could not be read */
};

struct alias_expansion {
	struct alias_target	*t;	/* sorted, no duplicates */
	size_t			 n;
	size_t			 cap;
	size_t			 lookups;
	int			 loop;		/* a name reached itself */
	int			 refused;	/* a file or command not allowed */
	int			 unknown;	/* a member named nobody */
};

/*
 * Expand rcpt, which routing gave to action a (an action with an alias
 * table), into x.  Members with a domain go through the match rules as a
 * local submission would.
 */
enum alias_verdict aliases_expand(struct routing *, const struct action *a,
	    const char *rcpt, struct alias_expansion *x);
/* Is this target in x (kind, action and rcpt)? */
int	aliases_expansion_has(const struct alias_expansion *, enum alias_kind,
	    const char *action, const char *rcpt);
void	aliases_expansion_free(struct alias_expansion *);

/* For an action with an alias table: is rcpt a file or command target? */
int	aliases_is_file(const char *rcpt);
int	aliases_is_command(const char *rcpt);

#endif

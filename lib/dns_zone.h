/*
 * An RFC 1035 (section 5) master-format zone file held in memory, for the
 * offline DNS source (--dns-zone FILE).
 */
#ifndef POSTERN_ZONE_H
#define POSTERN_ZONE_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on untrusted zone input. */
#define ZONE_MAX_FILE	(16 * 1024 * 1024)
#define ZONE_MAX_RRS	200000
#define ZONE_MAX_ENTRY	65536		/* one logical entry, parens joined */
#define ZONE_MAX_TOKENS	4096

struct zone_rr {
	char		*owner;		/* lower case, no final dot */
	uint16_t	 type;
	uint32_t	 ttl;
	uint8_t		*rdata;
	size_t		 rdlen;
};

struct zone {
	struct zone_rr	*rr;
	size_t		 nrr;
	size_t		 cap;
	/*
	 * Test-only markers, written as the non-standard directives
	 * "$SERVFAIL name" and "$TIMEOUT name": every question for that name
	 * fails that way, so tests can exercise temporary errors offline.
	 */
	char		**servfail;
	size_t		 nservfail;
	char		**timeout;
	size_t		 ntimeout;
};

struct zone	*zone_parse(const char *text, size_t len, char *err,
		    size_t errlen);
struct zone	*zone_load(const char *path, char *err, size_t errlen);
void		 zone_free(struct zone *);

/* Does any record own this (canonical) name, or a name below it? */
int		 zone_name_exists(const struct zone *, const char *canon);
int		 zone_name_marked(char *const *, size_t, const char *canon);

#endif

/*
 * The parsed form of an SPF record (RFC 7208 4.6.1, 12), shared by the
 * parser (spf_record.c) and the evaluator (spf.c).  Internal to authd/.
 */
#ifndef POSTERN_SPF_RECORD_H
#define POSTERN_SPF_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum spf_kind {
	K_ALL,
	K_INCLUDE,
	K_A,
	K_MX,
	K_PTR,
	K_IP4,
	K_IP6,
	K_EXISTS,
	K_REDIRECT,
	K_EXP,
	K_UNKNOWN
};

struct spf_term {
	enum spf_kind	 kind;
	char		 qual;		/* + - ~ ? */
	char		*text;		/* the term as written */
	char		*spec;		/* domain-spec, NULL if absent */
	size_t		 speclen;
	int		 cidr4;
	int		 cidr6;
	uint8_t		 net[16];
};

struct spf_record {
	struct spf_term	*terms;
	size_t		 nterms;
	int		 redirect;	/* term index or -1 */
	int		 exp;		/* term index or -1 */
	int		 has_all;
};

/* Parse a selected record; -1 with a reason on any syntax error (4.6). */
int	spf_record_parse(const char *, struct spf_record *, char *, size_t);
void	spf_record_free(struct spf_record *);

#endif

/*
 * RFC 8601 Authentication-Results header fields: a generic structure that
 * the SPF, DKIM, DMARC, ARC and iprev code fill, a writer of the whole field
 * (or of its value, for ARC's ARC-Authentication-Results), a bounded parser,
 * and the authserv-id test of RFC 8601 5.  Also the FILE-based pieces that
 * posternctl's checks print with.
 */
#ifndef POSTERN_AUTHRES_H
#define POSTERN_AUTHRES_H

#include <stddef.h>
#include <stdio.h>

struct buf;

/*
 * Bounds of the parser (untrusted input).  A decoded string is at most
 * AUTHRES_MAX_STRING bytes, so that whatever the parser accepts the writer
 * can write again within the 998-character line limit of RFC 5322 2.1.1,
 * even with every character escaped.
 */
#define AUTHRES_MAX_INPUT	(64 * 1024)	/* the field value */
#define AUTHRES_MAX_METHODS	64
#define AUTHRES_MAX_PROPS	16	/* per method */
#define AUTHRES_MAX_KEYWORD	64	/* method, result, ptype... */
#define AUTHRES_MAX_STRING	400	/* values, reason, authserv-id */
#define AUTHRES_MAX_COMMENT	400	/* longer comments are cut */
#define AUTHRES_MAX_NESTING	16	/* comments in comments */

/* Fold lines at this width where the atoms allow (RFC 5322 2.1.1). */
#define AUTHRES_LINE_WIDTH	78

/* ptype "." property "=" pvalue, e.g. smtp.mailfrom=user@example.com */
struct authres_prop {
	const char	*ptype;		/* "smtp", "header" */
	const char	*property;	/* "mailfrom", "d", "iprev" */
	const char	*value;
};

/*
 * method[/version]=result [(comment)] [reason="..."] props...
 * version 0 is not written; reason and comment may be NULL.
 */
struct authres_method {
	const char		*name;		/* "spf", "dkim" */
	unsigned int		 version;
	const char		*result;	/* "pass", "fail" */
	const char		*reason;
	const char		*comment;
	size_t			 nprops;
	struct authres_prop	*props;
};

/*
 * A whole field.  A writer points the strings and arrays at its own data;
 * authres_parse() allocates them (free with authres_free()).  version 0:
 * absent (which means 1); nmethods 0: "authserv-id; none"; priv: the
 * parser's storage, NULL when the caller filled the structure.
 */
struct authres {
	const char		*authserv_id;
	unsigned int		 version;
	size_t			 nmethods;
	struct authres_method	*methods;
	void			*priv;
};

/*
 * Append "Authentication-Results: value\r\n" to out, folded with CRLF TAB
 * so that lines stay within AUTHRES_LINE_WIDTH where possible; each method
 * starts a line of its own.  Values are quoted when RFC 8601 2.2
 * requires it, comments escaped.  -1 (out unchanged) on a name that is not
 * a keyword, an empty authserv-id, a line that would pass 998 characters,
 * or out's bound.
 */
int	authres_write(const struct authres *, struct buf *out);
/*
 * Only the value, no CRLF at its end, as if it started at column col (for
 * "ARC-Authentication-Results: i=1; " + value, RFC 8617 4.1.1).
 */
int	authres_write_value(const struct authres *, size_t col,
	    struct buf *out);

/*
 * Parse a field value (after "Authentication-Results:") by RFC 8601 2.2:
 * CFWS anywhere the grammar allows it (nested comments, folding), the
 * version, "none", method versions, reason, properties and quoted strings.
 * The first comment inside each method is kept as its comment.  A trailing
 * ";" is tolerated.  With aar set, the value is an ARC AAR's, which starts
 * with "i=N;" (RFC 8617 4.1.1); the instance is not kept.  0, or -1 with a
 * reason in err and *out zeroed.  Bounded by the AUTHRES_MAX_* limits.
 */
int	authres_parse(const char *value, size_t len, struct authres *out,
	    char *err, size_t errlen);
int	authres_parse_aar(const char *value, size_t len, unsigned int *inst,
	    struct authres *out, char *err, size_t errlen);
void	authres_free(struct authres *);

/*
 * Does this field value carry authserv_id (RFC 8601 5: ours, so forged if
 * it arrived from outside)?  Only the leading authserv-id is examined, so
 * a forged field that is malformed further on is still recognised.  The
 * comparison ignores case and one trailing dot.  aar: the value is an ARC
 * AAR's ("i=N; authserv-id; ...").
 */
int	authres_field_is_ours(const char *value, size_t len,
	    const char *authserv_id, int aar);

/* posternctl's printing helpers. */

/* Text inside a comment: parentheses, backslashes and controls replaced. */
void	authres_print_comment(FILE *, const char *);
/* A property value (RFC 8601 2.2 pvalue): bare if it may be, else quoted. */
void	authres_print_pvalue(FILE *, const char *);

/* An authserv-id we are willing to write: a plain domain name. */
int	authres_valid_authserv_id(const char *);

#endif

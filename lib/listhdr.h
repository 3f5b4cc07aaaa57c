/*
 * The header section of a mailing list's copy of a message (the `list`
 * statement of postern.conf(5)): List-Id (RFC 2919), List-Post and
 * List-Unsubscribe (RFC 2369) with one-click unsubscription (RFC 8058),
 * the subject tag, and the From rewriting that keeps an author's
 * p=quarantine or p=reject DMARC policy from failing the copy at the
 * members' servers (the author goes to Reply-To).  I/O-free and bounded:
 * authd runs it over the untrusted header section, and it is fuzzed.
 *
 * It does not decide whether From is rewritten (DNS does; authd asks) and
 * does not seal or sign: authd ARC-seals what this writes.
 */
#ifndef POSTERN_LISTHDR_H
#define POSTERN_LISTHDR_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define LISTHDR_HEADER_MAX	(256 * 1024)	/* header section read */
#define LISTHDR_MAX_FIELDS	2000
#define LISTHDR_DISPLAY_MAX	64		/* author's name kept */
#define LISTHDR_OUT_MAX		(LISTHDR_HEADER_MAX + 8192)
/*
 * The copy's whole section as authd sends it, with a DKIM-Signature and
 * an ARC set in front (authd/list.c): the queue takes no more.
 */
#define LISTHDR_COPY_MAX	(LISTHDR_OUT_MAX + 32768)

struct listhdr_params {
	const char	*name;		/* the list's name: the List-Id label */
	const char	*address;	/* local@domain */
	const char	*unsubscribe;	/* https:// or mailto: URL, or "" */
	const char	*subject_tag;	/* "" = none */
	int		 rewrite_from;	/* the caller's decision */
	int		 dkim_signed;	/* the copy gets a DKIM-Signature */
};

enum listhdr_result {
	LISTHDR_OK = 0,
	LISTHDR_LOOP,		/* the message carries this list's List-Id */
	LISTHDR_BAD		/* too large, too many fields, no From */
};

/*
 * Where the body starts in p[0..len): after the first empty line (CRLF
 * CRLF, or LF LF).  -1 when it is not in p yet.
 */
long	listhdr_body_offset(const uint8_t *p, size_t len);

/*
 * The List-Id value's id: "NAME.domain-of-address" (RFC 2919 2), into
 * out (at least 256 + CONF_NAME_MAX bytes).
 */
void	listhdr_list_id(const struct listhdr_params *, char *out, size_t len);

/*
 * The copy's header section from the original's (hdr[0..len), without
 * the empty line): appended to out, each field CRLF-terminated, then the
 * empty line.  why gets the reason of anything but LISTHDR_OK.
 */
enum listhdr_result listhdr_build(const char *hdr, size_t len,
	    const struct listhdr_params *, struct buf *out, char *why,
	    size_t whylen);

/*
 * The From fields' values of a header section, for the DMARC lookup of
 * the author's domain: up to max of them, NUL-terminated copies (free
 * with free()).  Returns how many.
 */
size_t	listhdr_from_fields(const char *hdr, size_t len, char **out,
	    size_t max);

/*
 * Our own Authentication-Results field in a header section: the topmost
 * one whose authserv-id is ours (what postern wrote on receipt; smtp
 * removes any that claim our name, RFC 8601 5).  Its value on one line
 * (for ARC-Authentication-Results) into ar, and its arc= result into
 * arc ("pass", "fail", "none", ...; "" when none is given).  0, or -1
 * when there is no such field.
 */
int	listhdr_our_authres(const char *hdr, size_t len, const char *authserv,
	    char *ar, size_t arlen, char *arc, size_t arclen);

/* The author's name for "NAME via LIST", from a From value (sanitized). */
void	listhdr_display(const char *value, size_t len, char *out,
	    size_t outlen);

#endif

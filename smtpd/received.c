/*
 * The Received header that the smtp process puts in front of every message
 * it accepts.
 *
 * Implements the time stamp line of RFC 5321 4.4 with the "with" keywords
 * of RFC 3848 and RFC 6531 3.7.3 (from smtp_session_protocol()), folded
 * under 78 columns (RFC 5322 2.2.3), dated as RFC 5322 3.3 says.
 *
 * Deliberately not here: anything the client wrote that is not a plain
 * name or address (a bad EHLO name is shown as "unknown"), local time
 * (the date is in UTC, so that it needs no time zone data).
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mailhdr.h"
#include "smtpd/engine.h"
#include "util.h"

/* Letters, digits and the punctuation of names and literals only. */
static int
header_safe(const char *s)
{
	size_t	 i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (strchr(".-_:[]", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/*
 * Append word to the header, folding before it (RFC 5322 2.2.3) when the
 * line would pass 78 columns; sep is put between words on the same line.
 */
static int
fold_add(struct buf *b, size_t *col, const char *word, int newline)
{
	size_t	 len = strlen(word);

	if (newline || *col + 1 + len > 78) {
		if (buf_addstr(b, "\r\n\t") == -1)
			return -1;
		*col = 8;
	} else {
		if (buf_addstr(b, " ") == -1)
			return -1;
		(*col)++;
	}
	if (buf_addstr(b, word) == -1)
		return -1;
	*col += len;
	return 0;
}

/*
 * RFC 5321 4.4 time stamp line:
 *   Received: from EHLO (RDNS [IP]) by US with PROTO (TLS...) id QID
 * (a local submission: from USER (uid N) by US ...)
 *	for <RCPT>; DATE
 * folded under 78 columns where the words allow, ending in CRLF.
 */
int
smtp_received_header(struct buf *b, const struct smtp_received *r)
{
	char	 w[512], date[64];
	size_t	 col = 0;
	int	 isv6;

	if (buf_addstr(b, "Received: from") == -1)
		return -1;
	col = strlen("Received: from");
	if (r->local) {
		/* a local user's submission: "from USER (uid N)" */
		if (fold_add(b, &col, header_safe(r->local_user) ?
		    r->local_user : "unknown", 0) == -1)
			return -1;
		snprintf(w, sizeof(w), "(uid %u)", r->local_uid);
		if (fold_add(b, &col, w, 0) == -1)
			return -1;
	} else {
		if (fold_add(b, &col, header_safe(r->helo) ? r->helo :
		    "unknown", 0) == -1)
			return -1;
		isv6 = r->client_ip != NULL &&
		    strchr(r->client_ip, ':') != NULL;
		snprintf(w, sizeof(w), "(%s%s[%s%s])",
		    header_safe(r->client_rdns) ? r->client_rdns : "",
		    header_safe(r->client_rdns) ? " " : "", isv6 ? "IPv6:" :
		    "", header_safe(r->client_ip) ? r->client_ip : "unknown");
		if (fold_add(b, &col, w, 0) == -1)
			return -1;
	}
	snprintf(w, sizeof(w), "by %s", header_safe(r->hostname) ?
	    r->hostname : "localhost");
	if (fold_add(b, &col, w, 1) == -1 ||
	    fold_add(b, &col, "(postern)", 0) == -1)
		return -1;
	snprintf(w, sizeof(w), "with %s", r->protocol != NULL &&
	    header_safe(r->protocol) ? r->protocol : "ESMTP");
	if (fold_add(b, &col, w, 0) == -1)
		return -1;
	if (r->tls_version != NULL && header_safe(r->tls_version)) {
		snprintf(w, sizeof(w), "(%s", r->tls_version);
		if (fold_add(b, &col, w, 1) == -1)
			return -1;
		snprintf(w, sizeof(w), "cipher=%s)",
		    header_safe(r->tls_cipher) ? r->tls_cipher : "unknown");
		if (fold_add(b, &col, w, 0) == -1)
			return -1;
	}
	if (r->queue_id != NULL && header_safe(r->queue_id)) {
		snprintf(w, sizeof(w), "id %s", r->queue_id);
		if (fold_add(b, &col, w, 0) == -1)
			return -1;
	}
	if (r->rcpt != NULL && *r->rcpt != '\0' &&
	    strcspn(r->rcpt, "\r\n<>") == strlen(r->rcpt)) {
		snprintf(w, sizeof(w), "for <%s>;", r->rcpt);
		if (fold_add(b, &col, w, 1) == -1)
			return -1;
	} else if (buf_addstr(b, ";") == -1)
		return -1;
	mail_date(r->date, date, sizeof(date));
	if (fold_add(b, &col, date, 1) == -1 || buf_addstr(b, "\r\n") == -1)
		return -1;
	return 0;
}

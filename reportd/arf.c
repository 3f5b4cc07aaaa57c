/*
 * Building failure reports (RFC 9991 DMARC failure reports; the format is
 * ARF, RFC 5965, with the auth-failure fields of RFC 6591 as RFC 9991 4
 * updates them).  The message is
 *
 *   multipart/report; report-type=feedback-report	(RFC 5965 2, RFC 6522)
 *     text/plain				a line for humans (2 b)
 *     message/feedback-report			the fields (RFC 5965 3)
 *     text/rfc822-headers			the original header section
 *
 * The body of the failed message is never included (RFC 9991 8.3: no
 * attachments that could carry a payload).  The header section is
 * untrusted bytes; what is written of it is made safe and redacted:
 *
 *   - every line ends in CRLF, bare CR and LF included; control characters
 *     other than TAB and 8-bit bytes become '?', so the report is 7 bit;
 *   - lines that are neither a field ("name:") nor a continuation are
 *     dropped, and so is an empty line: the part stays a header section;
 *   - lines longer than ARF_LINE_MAX are folded (RFC 5322 2.1.1's 998);
 *   - the local part of every address (x@y) is replaced by a keyed hash of
 *     it, the same for the same local part (RFC 6590, as RFC 9991 A
 *     suggests), except in Message-ID, In-Reply-To, References and
 *     Content-ID, whose "@" is no mailbox;
 *   - "http:" and "https:" become "hxxp:" and "hxxps:" (RFC 9991 8.3);
 *   - the boundary is random and chosen by the caller; a content line that
 *     would hold it makes the build fail rather than end a part early.
 *
 * What comes from the evaluation (domains, the source address, the MAIL
 * FROM) goes into our own fields only after the same cleaning, so no
 * value can add a field.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mailhdr.h"
#include "auth/ruf.h"
#include "reportd/arf.h"
#include "util.h"

#define ARF_VALUE_MAX	1100	/* one of our fields' value, cleaned */

/* A value for one of our fields: printable ASCII, at most len - 1. */
static void
clean(const char *in, char *out, size_t len)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = (unsigned char)in[i] < 0x20 ||
		    (unsigned char)in[i] >= 0x7f ? '?' : in[i];
	out[i] = '\0';
}

void
arf_redact_local(const uint8_t *key, const char *local, size_t len,
    char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	size_t			 i;

	if (HMAC(EVP_sha256(), key, ARF_REDACT_KEY_LEN,
	    (const unsigned char *)local, len, md, &mdlen) == NULL)
		mdlen = 0;
	for (i = 0; i < 8 && 2 * i + 2 < outlen; i++) {
		out[2 * i] = i < mdlen ? hex[md[i] >> 4] : 'x';
		out[2 * i + 1] = i < mdlen ? hex[md[i] & 15] : 'x';
	}
	out[2 * i] = '\0';
}

static int
is_local_char(unsigned char c)
{
	/* RFC 5322 3.2.3 atext, and the dots of a dot-atom */
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.",
	    c) != NULL);
}

/* Fields whose "x@y" is an identifier, not a mailbox: not redacted. */
static int
keep_at(const char *name, size_t len)
{
	static const char	*keep[] = { "Message-ID", "In-Reply-To",
				    "References", "Content-ID",
				    "Resent-Message-ID" };
	size_t			 i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strlen(keep[i]) == len &&
		    strncasecmp(keep[i], name, len) == 0)
			return 1;
	return 0;
}

/*
 * One line (without its end) of the header section, cleaned, redacted and
 * folded, with CRLF, to out.  0, or -1 when it does not fit or holds the
 * boundary.
 */
static int
header_line(const struct arf_report *a, const uint8_t *p, size_t len,
    int redact, struct buf *out)
{
	struct buf	 l;
	char		 h[20];
	size_t		 i, j, col, start;
	unsigned char	 c;
	int		 rc = -1;

	/* a redacted local part of 1 becomes 16: "a@a@..." grows 8.5 times */
	buf_init(&l, 9 * len + 64);
	for (i = 0; i < len; i++) {
		c = p[i];
		if (c != '\t' && (c < 0x20 || c >= 0x7f))
			c = '?';
		/* RFC 9991 8.3: hxxp for http, so no link is one click away */
		if ((c == 'h' || c == 'H') && len - i >= 5 &&
		    strncasecmp((const char *)p + i, "http", 4) == 0 &&
		    (p[i + 4] == ':' || ((p[i + 4] == 's' || p[i + 4] == 'S') &&
		    len - i >= 6 && p[i + 5] == ':'))) {
			if (buf_add(&l, p[i] == 'H' ? "HXXP" : "hxxp", 4) == -1)
				goto done;
			i += 3;
			continue;
		}
		if (c == '@' && redact) {
			/* the local part just written: back to its start */
			start = l.len;
			/* a quoted-string local part (RFC 5322 3.4.1) */
			if (start > 1 && l.data[start - 1] == '"') {
				start--;
				while (start > 0 && l.data[start - 1] != '"')
					start--;
				if (start > 0)
					start--;
				else
					start = l.len;	/* no opening quote */
			} else
				while (start > 0 &&
				    is_local_char(l.data[start - 1]))
					start--;
			if (start < l.len) {
				arf_redact_local(a->redact_key,
				    (const char *)l.data + start,
				    l.len - start, h, sizeof(h));
				l.len = start;
				if (buf_addstr(&l, h) == -1)
					goto done;
			}
		}
		if (buf_add(&l, &c, 1) == -1)
			goto done;
	}
	if (memmem(l.data, l.len, a->boundary, strlen(a->boundary)) != NULL)
		goto done;
	/* RFC 5322 2.1.1: folded before ARF_LINE_MAX, at a space if any */
	for (i = 0, col = 0; i < l.len; i = j) {
		j = l.len - i > ARF_LINE_MAX ? i + ARF_LINE_MAX : l.len;
		if (j < l.len) {
			size_t	 k;

			for (k = j; k > i + ARF_LINE_MAX / 2; k--)
				if (l.data[k] == ' ' || l.data[k] == '\t')
					break;
			if (k > i + ARF_LINE_MAX / 2)
				j = k;
		}
		if ((col > 0 && (buf_addstr(out, "\r\n") == -1 ||
		    (l.data[i] != ' ' && l.data[i] != '\t' &&
		    buf_addstr(out, " ") == -1))) ||
		    buf_add(out, l.data + i, j - i) == -1)
			goto done;
		col++;
	}
	if (buf_addstr(out, "\r\n") == -1)
		goto done;
	rc = 0;
 done:
	buf_free(&l);
	return rc;
}

/* Is p[0..len) "name:" with a field name (RFC 5322 2.2: 33-126 but ':')? */
static size_t
field_name_len(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && p[i] != ':'; i++)
		if (p[i] < 33 || p[i] > 126)
			return 0;
	return i < len ? i : 0;
}

/* The original header section, line by line. */
static int
header_section(const struct arf_report *a, struct buf *out)
{
	const uint8_t	*p = a->header, *end = p + a->header_len, *e;
	size_t		 len, n;
	int		 redact = 1, lines = 0;

	for (; p < end; p = e + (e < end)) {
		if ((e = memchr(p, '\n', end - p)) == NULL)
			e = end;
		len = e - p;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		/* a bare CR ends a line too: the rest is a line of its own */
		{
			const uint8_t	*cr = memchr(p, '\r', len);

			if (cr != NULL) {
				len = cr - p;
				e = cr;
			}
		}
		if (len == 0)
			continue;
		if (p[0] == ' ' || p[0] == '\t') {
			if (lines == 0)
				continue;	/* continues nothing */
		} else if ((n = field_name_len(p, len)) > 0) {
			redact = !keep_at((const char *)p, n);
		} else
			continue;
		if (header_line(a, p, len, redact, out) == -1)
			return -1;
		lines++;
	}
	return 0;
}

/* The MAIL FROM, its local part redacted like the header section's. */
static void
mail_from_text(const struct arf_report *a, char *out, size_t len)
{
	char		 v[ARF_VALUE_MAX], h[20];
	const char	*at;

	clean(a->mail_from, v, sizeof(v));
	if ((at = strrchr(v, '@')) == NULL || at == v) {
		strlcpy(out, v, len);
		return;
	}
	arf_redact_local(a->redact_key, v, at - v, h, sizeof(h));
	snprintf(out, len, "%s%s", h, at);
}

/* RFC 9991 4: the DKIM fields of the failing aligned signature, if any. */
static int
dkim_fields(const struct dmarc_eval_record *r, struct buf *out)
{
	const struct dmarc_dkim_auth	*d = NULL;
	char				 dom[DMARC_DOMAIN_MAX];
	char				 sel[DMARC_DOMAIN_MAX];
	size_t				 i, ld, lf;

	if (r->dkim_aligned_pass)
		return 0;
	/* aligned, at least relaxed: the Author Domain or one under it */
	for (i = 0; i < r->ndkim && i < DMARC_MAX_DKIM && d == NULL; i++) {
		ld = strlen(r->dkim[i].domain);
		lf = strlen(r->header_from);
		if (r->dkim[i].result == DKIM_PASS || ld == 0)
			continue;
		if (strcasecmp(r->dkim[i].domain, r->header_from) == 0 ||
		    (ld > lf && r->dkim[i].domain[ld - lf - 1] == '.' &&
		    strcasecmp(r->dkim[i].domain + ld - lf,
		    r->header_from) == 0) ||
		    (lf > ld && r->header_from[lf - ld - 1] == '.' &&
		    strcasecmp(r->header_from + lf - ld,
		    r->dkim[i].domain) == 0))
			d = &r->dkim[i];
	}
	if (d == NULL)
		return 0;
	clean(d->domain, dom, sizeof(dom));
	clean(d->selector, sel, sizeof(sel));
	return buf_printf(out, "DKIM-Domain: %s\r\nDKIM-Identity: @%s\r\n"
	    "DKIM-Selector: %s\r\n", dom, dom, sel);
}

static const char *
delivery_result(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISP_REJECT:
		return "reject";
	case DMARC_DISP_QUARANTINE:
		return "spam";
	default:
		return "delivered";
	}
}

/* RFC 6591 3.2, RFC 6651: a DKIM failure report's signature. */
static int
dkim_report_fields(const struct arf_report *a, const char *host,
    struct buf *out)
{
	char	 d[DMARC_DOMAIN_MAX], s[DMARC_DOMAIN_MAX], i[ARF_VALUE_MAX];

	clean(a->dkim_domain, d, sizeof(d));
	clean(a->dkim_selector, s, sizeof(s));
	clean(a->dkim_identity != NULL && a->dkim_identity[0] != '\0' ?
	    a->dkim_identity : "", i, sizeof(i));
	if (i[0] == '\0')
		snprintf(i, sizeof(i), "@%s", d);
	return buf_printf(out, "Authentication-Results: %s; dkim=fail "
	    "header.d=%s header.s=%s\r\n", host, d, s) == -1 ||
	    buf_printf(out, "DKIM-Domain: %s\r\nDKIM-Identity: %s\r\n"
	    "DKIM-Selector: %s\r\n", d, i, s) == -1 ? -1 : 0;
}

/* The message/feedback-report part's fields (RFC 5965 3, RFC 6591 3). */
static int
feedback_fields(const struct arf_report *a, const char *date,
    struct buf *out)
{
	const struct dmarc_eval_record	*r = a->eval;
	char				 ip[80], dom[DMARC_DOMAIN_MAX];
	char				 mf[ARF_VALUE_MAX], host[300];
	char				 af[32], spf[DMARC_DOMAIN_MAX];

	clean(r->source_ip, ip, sizeof(ip));
	/* the domain reported: the Author Domain, or the signer's */
	clean(a->dkim_domain != NULL ? a->dkim_domain : a->spf_domain != NULL ?
	    a->spf_domain : r->header_from, dom, sizeof(dom));
	clean(a->reporting_mta, host, sizeof(host));
	clean(a->auth_failure, af, sizeof(af));
	mail_from_text(a, mf, sizeof(mf));
	/* RFC 5965 3.1 required first, then RFC 6591 3.1's */
	if (buf_printf(out, "Feedback-Type: auth-failure\r\n"
	    "User-Agent: postern\r\nVersion: 1\r\n") == -1 ||
	    buf_printf(out, "Auth-Failure: %s\r\n", af) == -1 ||
	    buf_printf(out, "Original-Mail-From: <%s>\r\n", mf) == -1 ||
	    buf_printf(out, "Arrival-Date: %s\r\n", date) == -1 ||
	    buf_printf(out, "Source-IP: %s\r\n", ip) == -1 ||
	    buf_printf(out, "Reported-Domain: %s\r\n", dom) == -1 ||
	    buf_printf(out, "Reporting-MTA: dns; %s\r\n", host) == -1)
		return -1;
	if (a->dkim_domain != NULL)
		return dkim_report_fields(a, host, out);
	if (a->spf_domain != NULL) {
		/* RFC 6591 3.2: SPF-DNS, the record's query and domain */
		clean(a->spf_domain, spf, sizeof(spf));
		return buf_printf(out, "Authentication-Results: %s; spf=%s "
		    "smtp.mailfrom=%s\r\nSPF-DNS: txt : %s\r\n", host,
		    r->have_spf ? spf_result_name(r->spf_result) : "fail",
		    spf, spf) == -1 ? -1 : 0;
	}
	if (buf_printf(out, "Authentication-Results: %s; dmarc=%s "
	    "header.from=%s\r\n", host, dmarc_result_name(r->result),
	    dom) == -1 ||
	    /* RFC 9991 4: REQUIRED */
	    buf_printf(out, "Identity-Alignment: %s\r\n",
	    dmarc_ruf_alignment(r)) == -1 ||
	    buf_printf(out, "Delivery-Result: %s\r\n",
	    delivery_result(r->disposition)) == -1 ||
	    dkim_fields(r, out) == -1)
		return -1;
	/* RFC 9991 4: SPF-DNS for an SPF failure (RFC 6591 3.2 syntax) */
	if (!r->spf_aligned_pass && r->have_spf && r->spf_domain[0] != '\0') {
		clean(r->spf_domain, spf, sizeof(spf));
		if (buf_printf(out, "SPF-DNS: txt : %s\r\n", spf) == -1)
			return -1;
	}
	return 0;
}

static int
boundary_ok(const char *b)
{
	size_t	 i;

	for (i = 0; b[i] != '\0'; i++)
		if (!isalnum((unsigned char)b[i]))
			return 0;
	return i >= 16 && i <= 70;	/* RFC 2046 5.1.1: at most 70 */
}

int
arf_build(const struct arf_report *a, struct buf *out)
{
	const struct dmarc_eval_record	*r = a->eval;
	char				 date[64], arrival[64], v[ARF_VALUE_MAX];
	char				 ip[80], dom[DMARC_DOMAIN_MAX];
	size_t				 i, mark = out->len;

	if (a->nto == 0 || !boundary_ok(a->boundary))
		return -1;
	mail_date(a->date, date, sizeof(date));
	mail_date(r->when, arrival, sizeof(arrival));
	clean(r->source_ip, ip, sizeof(ip));
	/* the domain reported: the Author Domain, or the signer's */
	clean(a->dkim_domain != NULL ? a->dkim_domain : a->spf_domain != NULL ?
	    a->spf_domain : r->header_from, dom, sizeof(dom));
	clean(a->from, v, sizeof(v));
	if (buf_printf(out, "From: <%s>\r\nTo: ", v) == -1)
		goto fail;
	for (i = 0; i < a->nto; i++) {
		clean(a->to[i], v, sizeof(v));
		if (buf_printf(out, "%s<%s>", i > 0 ? ",\r\n " : "", v) == -1)
			goto fail;
	}
	clean(a->message_id, v, sizeof(v));
	if (buf_printf(out, "\r\nDate: %s\r\n", date) == -1 ||
	    buf_printf(out, "Subject: %s failure report for %s from "
	    "%s\r\n", a->dkim_domain != NULL ? "DKIM" : a->spf_domain !=
	    NULL ? "SPF" : "DMARC", dom,
	    ip) == -1 ||
	    buf_printf(out, "Message-ID: <%s>\r\n", v) == -1 ||
	    /* RFC 3834 5: no automatic answer to a report */
	    buf_printf(out, "Auto-Submitted: auto-generated\r\n") == -1 ||
	    buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: "
	    "multipart/report; report-type=feedback-report;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n", a->boundary) == -1 ||
	    buf_printf(out, "This is a MIME-formatted message (RFC 5965).\r\n"
	    "\r\n--%s\r\n", a->boundary) == -1 ||
	    buf_printf(out, "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n") == -1 ||
	    buf_printf(out, "This is an authentication failure report "
	    "(%s) for a message\r\nfrom the domain %s received from "
	    "IP %s on %s.\r\nThe local parts of addresses are redacted "
	    "(RFC 6590).\r\n\r\n--%s\r\n", a->dkim_domain != NULL ?
	    "RFC 6651" : a->spf_domain != NULL ? "RFC 6652" : "RFC 9991", dom,
	    ip, arrival,
	    a->boundary) == -1 ||
	    buf_printf(out, "Content-Type: message/feedback-report\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n") == -1 ||
	    feedback_fields(a, arrival, out) == -1 ||
	    buf_printf(out, "\r\n--%s\r\n", a->boundary) == -1 ||
	    buf_printf(out, "Content-Type: text/rfc822-headers; "
	    "charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	    == -1 ||
	    header_section(a, out) == -1 ||
	    buf_printf(out, "\r\n--%s--\r\n", a->boundary) == -1)
		goto fail;
	return 0;
 fail:
	out->len = mark;
	return -1;
}

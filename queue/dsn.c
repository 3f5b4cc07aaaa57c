/*
 * Delivery status notifications (bounces and their kin).
 *
 * Implements RFC 3464 (the message/delivery-status body: 2.2 per-message
 * fields, 2.3 per-recipient fields), RFC 6522 (multipart/report and
 * text/rfc822-headers), RFC 6533 (message/global-delivery-status,
 * message/global-headers, message/global and the utf-8 address type for
 * SMTPUTF8 envelopes), RFC 3834 5 (Auto-Submitted), and the decisions of
 * RFC 3461 4.1/4.3 and RFC 5321 4.5.5/6.1 about whether and what to send.
 *
 * It builds the message only: queueing it with a null reverse path (RFC
 * 5321 4.5.5) and choosing when to send is the queue's job.  It does not
 * parse DSNs and has no DSN-gateway (RFC 3464 2.2.3) fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailhdr.h"
#include "queue/dsn.h"
#include "clock.h"
#include "envelope.h"
#include "smtp_addr.h"
#include "util.h"

#define SOFT_LINE	78	/* RFC 5322 2.1.1 SHOULD */
#define HARD_LINE	998	/* RFC 5322 2.1.1 MUST, without CRLF */
#define READ_CHUNK	16384
#define BOUNDARY_LEN	32

struct dsn_ctx {
	const struct dsn_info	*info;
	int			 global;	/* RFC 6533 forms */
	int			 eightbit;	/* has 8-bit octets */
	int			 truncated;
	int			 ret_full;	/* original in full */
	int			 has_original;
	size_t			 orig_size;	/* the cap, when cut */
};

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* A host name or address literal we can put in a field as it is. */
static int
host_ok(const char *s)
{
	size_t	 n;

	n = strlen(s);
	if (n == 0 || n > 255)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-_[]:", *s) != NULL))
			return 0;
	return 1;
}

/* RFC 3463 2: class "." subject "." detail */
static int
status_ok(const char *s)
{
	size_t	 n;
	int	 part;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	if (s[1] != '.')
		return 0;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
			;
		if (n < 1 || n > 3)
			return 0;
		s += n;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/*
 * Copy text for a field or a line of the text part: controls (CR and LF
 * from multi-line replies, NUL, ...) become spaces so nothing can start a
 * new field; 8-bit octets stay only in the global (RFC 6533) form.
 */
static char *
clean_text(const char *s, int global)
{
	char	*c, *p;

	c = xstrdup(s);
	for (p = c; *p != '\0'; p++) {
		unsigned char u = *p;

		if (u < 0x20 || u == 0x7f)
			*p = ' ';
		else if (u >= 0x80 && !global)
			*p = '?';
	}
	return c;
}

/*
 * An address for Final-Recipient or Original-Recipient.  ASCII addresses
 * are "rfc822" (RFC 3464 2.3.2).  Others use the RFC 6533 3 "utf-8" type:
 * raw UTF-8 in the global form, and in the plain form each non-ASCII
 * character as the embedded-unicode-char \x{HHHH}.
 */
static void
put_addr_value(struct buf *b, const char *type, const char *addr,
    int global)
{
	const unsigned char	*p = (const unsigned char *)addr;
	uint32_t		 cp;
	int			 n, i;

	if (!has_8bit(addr) || global) {
		char	*c = clean_text(addr, 1);

		buf_printf(b, "%s; %s", has_8bit(addr) ? "utf-8" :
		    (type != NULL ? type : "rfc822"), c);
		free(c);
		return;
	}
	buf_addstr(b, "utf-8; ");
	while (*p != '\0') {
		if (*p < 0x80) {
			/* RFC 6533 3: a backslash itself is \x{5C} */
			if (*p == '\\')
				buf_addstr(b, "\\x{5C}");
			else if (*p < 0x20 || *p == 0x7f)
				buf_addstr(b, " ");
			else
				buf_add(b, p, 1);
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			n = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			n = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			n = 3;
		} else {
			cp = 0xfffd;
			n = 0;
		}
		p++;
		for (i = 0; i < n; i++) {
			if ((*p & 0xc0) != 0x80) {
				cp = 0xfffd;
				break;
			}
			cp = (cp << 6) | (*p++ & 0x3f);
		}
		buf_printf(b, "\\x{%04X}", (unsigned int)cp);
	}
}

/*
 * One header field, folded (RFC 5322 2.2.3) at white space so lines stay
 * under 78 octets where the text allows and never reach 998: a run with
 * no white space that would pass 998 is broken with an inserted space.
 */
static void
put_field(struct buf *b, const char *name, const char *value)
{
	const char	*p, *q, *end;
	size_t		 linelen, n, k;

	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	buf_printf(b, "%s: ", name);
	linelen = strlen(name) + 2;
	p = value;
	while (p < end) {
		q = p;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		while (q < end && *q != ' ' && *q != '\t')
			q++;
		n = q - p;
		/* Fold only before white space and only after some text. */
		if ((*p == ' ' || *p == '\t') && linelen + n > SOFT_LINE &&
		    linelen > strlen(name) + 2) {
			buf_addstr(b, "\r\n");
			linelen = 0;
		}
		while (linelen + n > HARD_LINE) {
			k = HARD_LINE - linelen;
			/* Do not split a UTF-8 sequence. */
			while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
				k--;
			buf_add(b, p, k);
			buf_addstr(b, "\r\n ");
			linelen = 1;
			p += k;
			n -= k;
		}
		buf_add(b, p, n);
		linelen += n;
		p = q;
	}
	buf_addstr(b, "\r\n");
}

/* put_field() of a cleaned copy of value. */
static void
put_field_clean(struct buf *b, const char *name, const char *value,
    int global)
{
	char	*c;

	c = clean_text(value, global);
	put_field(b, name, c);
	free(c);
}

/* Text for the human part, word-wrapped at 72 after `indent` spaces. */
static void
put_para(struct buf *b, size_t indent, const char *text, int global)
{
	char		*c, *p, *q;
	size_t		 linelen, n;

	c = clean_text(text, global);
	p = c;
	while (*p == ' ')
		p++;
	linelen = 0;
	while (*p != '\0') {
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		n = q - p;
		if (linelen > 0 && linelen + 1 + n > 72) {
			buf_addstr(b, "\r\n");
			linelen = 0;
		}
		if (linelen == 0) {
			buf_printf(b, "%*s", (int)indent, "");
			linelen = indent;
		} else {
			buf_addstr(b, " ");
			linelen++;
		}
		/* A word longer than a line is cut where it must be. */
		while (linelen + n > HARD_LINE) {
			size_t k = HARD_LINE - linelen;

			while (k > 0 &&
			    ((unsigned char)p[k] & 0xc0) == 0x80)
				k--;
			buf_add(b, p, k);
			buf_printf(b, "\r\n%*s", (int)indent, "");
			linelen = indent;
			p += k;
			n -= k;
		}
		buf_add(b, p, n);
		linelen += n;
		for (p = q; *p == ' '; p++)
			;
	}
	if (linelen > 0)
		buf_addstr(b, "\r\n");
	free(c);
}

/*
 * Append message bytes as lines: CRLF line ends whatever came in (bare LF
 * or CR), NUL made a space (not allowed even in 8bit, RFC 2045 2.8), lines
 * over 998 octets cut (RFC 5322 2.1.1) -- with a following space in a
 * header section, so the cut is a fold, not a new field.
 */
static void
put_lines(struct dsn_ctx *ctx, struct buf *b, const uint8_t *p, size_t len,
    int headers)
{
	size_t	 i, start, linelen;

	if (len == 0)
		return;		/* p may be NULL: an empty original */
	start = 0;
	linelen = 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			buf_add(b, p + start, i - start);
			buf_addstr(b, "\r\n");
			if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
				i++;
			start = i + 1;
			linelen = 0;
			continue;
		}
		if (p[i] >= 0x80)
			ctx->eightbit = 1;
		if (++linelen > HARD_LINE) {
			buf_add(b, p + start, i - start);
			buf_addstr(b, headers ? "\r\n " : "\r\n");
			start = i;
			linelen = headers ? 2 : 1;
		}
		if (p[i] == '\0') {
			buf_add(b, p + start, i - start);
			buf_addstr(b, " ");
			start = i + 1;
		}
	}
	buf_add(b, p + start, len - start);
	if (linelen > 0)
		buf_addstr(b, "\r\n");
}

/* Length of the header section including its last CRLF, or 0 if unseen. */
static size_t
header_end(const uint8_t *p, size_t len)
{
	size_t	 i;

	/* An empty header section: the message starts with its blank line. */
	if (len >= 1 && p[0] == '\n')
		return 1;
	if (len >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 1;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return i + 1;
	}
	return 0;
}

/*
 * Read the original and append the part to include: all of it for RET=FULL
 * under the cap, otherwise its header section (itself capped, cut at a line
 * end).  RFC 3461 4.3: without RET the MTA chooses; we return headers only,
 * which keeps the content private and the DSN small.
 */
static int
read_original(struct dsn_ctx *ctx, struct buf *part, dsn_read_fn rd,
    void *arg)
{
	struct buf	 raw;
	uint8_t		*chunk;
	size_t		 limit, got, want, hend, cut;
	int		 full, rv = 0;

	full = ctx->info->ret == ENV_RET_FULL;
	limit = full ? (ctx->info->max_original ? ctx->info->max_original :
	    DSN_ORIGINAL_MAX) : DSN_HEADERS_MAX;
	if (limit < DSN_HEADERS_MAX)
		limit = DSN_HEADERS_MAX;
	buf_init(&raw, limit + 1);
	chunk = xmalloc(READ_CHUNK);
	for (;;) {
		want = limit + 1 - raw.len;
		if (want == 0)
			break;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		got = 0;
		if (rd(arg, chunk, want, &got) == -1 || got > want) {
			rv = DSN_ERR_READ;
			goto done;
		}
		if (got == 0)
			break;
		buf_add(&raw, chunk, got);
		/* Headers only: stop reading once they are complete. */
		if (!full && header_end(raw.data, raw.len) != 0)
			break;
	}
	if (full && raw.len <= limit) {
		ctx->ret_full = 1;
		put_lines(ctx, part, raw.data, raw.len, 0);
		goto done;
	}
	if (full) {
		ctx->truncated = 1;
		ctx->orig_size = limit;
	}
	cut = raw.len < DSN_HEADERS_MAX ? raw.len : DSN_HEADERS_MAX;
	hend = header_end(raw.data, cut);
	if (hend == 0) {
		/* No end of header in reach: keep whole lines only. */
		ctx->truncated = 1;
		while (cut > 0 && raw.data[cut - 1] != '\n')
			cut--;
		hend = cut;
	}
	put_lines(ctx, part, raw.data, hend, 1);
done:
	free(chunk);
	buf_free(&raw);
	return rv;
}

static const char *
action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return "failed";
	case DSN_ACTION_DELAYED:
		return "delayed";
	case DSN_ACTION_DELIVERED:
		return "delivered";
	case DSN_ACTION_RELAYED:
		return "relayed";
	case DSN_ACTION_EXPANDED:
		return "expanded";
	}
	return NULL;
}

static const char *
default_status(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return "5.0.0";
	case DSN_ACTION_DELAYED:
		return "4.0.0";
	default:
		return "2.0.0";
	}
}

/* Part 1: what happened, for people (RFC 6522 3: first part). */
static void
put_human(struct dsn_ctx *ctx, struct buf *b, const struct dsn_rcpt *rcpts,
    size_t nrcpts)
{
	const struct dsn_info	*info = ctx->info;
	char			 date[64], *line;
	size_t			 i;
	const char		*intro;

	buf_printf(b, "This is the mail system at host %s.\r\n\r\n",
	    info->reporting_mta);
	switch (info->kind) {
	case DSN_KIND_FAILURE:
		intro = "Your message could not be delivered to one or more "
		    "recipients. This is a permanent error: the mail system "
		    "has given up and will not try again.";
		break;
	case DSN_KIND_DELAY:
		intro = "Your message has not been delivered yet to the "
		    "recipients below. The mail system will keep trying "
		    "until the time shown; you do not need to send it "
		    "again.";
		break;
	case DSN_KIND_EXPANDED:
		intro = "Your message was delivered to the recipients below, "
		    "which are lists or aliases: it was passed on to their "
		    "members, and you will not hear more about it from "
		    "this system.";
		break;
	default:
		intro = "Your message was delivered to the recipients below, "
		    "as you asked to be told.";
		break;
	}
	put_para(b, 0, intro, ctx->global);
	buf_addstr(b, "\r\n");
	for (i = 0; i < nrcpts; i++) {
		xasprintf(&line, "<%s>: %s (%s)", rcpts[i].final_rcpt,
		    action_name(rcpts[i].action), rcpts[i].status != NULL ?
		    rcpts[i].status : default_status(rcpts[i].action));
		put_para(b, 0, line, ctx->global);
		free(line);
		if (rcpts[i].remote_mta != NULL &&
		    host_ok(rcpts[i].remote_mta)) {
			xasprintf(&line, "host %s said:",
			    rcpts[i].remote_mta);
			put_para(b, 4, line, ctx->global);
			free(line);
		}
		if (rcpts[i].diagnostic != NULL)
			put_para(b, 4, rcpts[i].diagnostic, ctx->global);
		if (rcpts[i].action == DSN_ACTION_DELAYED &&
		    rcpts[i].retry_until != 0) {
			mail_date((time_t)rcpts[i].retry_until, date, sizeof(date));
			xasprintf(&line, "will try until %s", date);
			put_para(b, 4, line, ctx->global);
			free(line);
		}
		buf_addstr(b, "\r\n");
	}
	if (info->queue_id != NULL) {
		xasprintf(&line, "Queue id: %s", info->queue_id);
		put_para(b, 0, line, ctx->global);
		free(line);
	}
	if (info->arrival != 0) {
		mail_date((time_t)info->arrival, date, sizeof(date));
		buf_printf(b, "Arrived: %s\r\n", date);
	}
	if (!ctx->has_original)
		return;
	buf_addstr(b, "\r\n");
	if (ctx->ret_full)
		put_para(b, 0, "Your message is attached.", ctx->global);
	else if (ctx->truncated && info->ret == ENV_RET_FULL) {
		xasprintf(&line, "Your message is larger than %zu bytes, so "
		    "only its header section is attached.", ctx->orig_size);
		put_para(b, 0, line, ctx->global);
		free(line);
	} else if (ctx->truncated)
		put_para(b, 0, "The first part of the header section of your "
		    "message is attached.", ctx->global);
	else
		put_para(b, 0, "The header section of your message is "
		    "attached.", ctx->global);
}

/* Part 2: the RFC 3464 2.1 delivery-status content. */
static void
put_status(struct dsn_ctx *ctx, struct buf *b, const struct dsn_rcpt *rcpts,
    size_t nrcpts)
{
	const struct dsn_info	*info = ctx->info;
	const struct dsn_rcpt	*r;
	struct buf		 v;
	char			 date[64], *semi, *type;
	size_t			 i;

	buf_init(&v, 8192);
	/*
	 * RFC 3464 2.2.1: the ENVID as given, case kept; it is NOT xtext
	 * here.  The SMTP server only stores printable ASCII ones.
	 */
	if (info->envid != NULL && info->envid[0] != '\0')
		put_field_clean(b, "Original-Envelope-Id", info->envid, 0);
	/* RFC 3464 2.2.2 */
	buf_printf(b, "Reporting-MTA: dns; %s\r\n", info->reporting_mta);
	/* RFC 3464 2.4: extension fields start with X- */
	if (info->queue_id != NULL)
		put_field_clean(b, "X-Postern-Queue-ID", info->queue_id, 0);
	/* RFC 3464 2.2.5 */
	if (info->arrival != 0) {
		mail_date((time_t)info->arrival, date, sizeof(date));
		buf_printf(b, "Arrival-Date: %s\r\n", date);
	}
	for (i = 0; i < nrcpts; i++) {
		r = &rcpts[i];
		buf_addstr(b, "\r\n");
		/* RFC 3464 2.3.1: only when ORCPT was given, as given. */
		if (r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) !=
		    NULL && semi != r->orcpt) {
			type = xstrndup(r->orcpt, semi - r->orcpt);
			if (host_ok(type)) {
				buf_reset(&v);
				put_addr_value(&v, type, semi + 1,
				    ctx->global);
				put_field(b, "Original-Recipient",
				    buf_cstr(&v));
			}
			free(type);
		}
		/* RFC 3464 2.3.2: MUST be present. */
		buf_reset(&v);
		put_addr_value(&v, NULL, r->final_rcpt, ctx->global);
		put_field(b, "Final-Recipient", buf_cstr(&v));
		/* RFC 3464 2.3.3, 2.3.4 */
		buf_printf(b, "Action: %s\r\n", action_name(r->action));
		buf_printf(b, "Status: %s\r\n", r->status != NULL ?
		    r->status : default_status(r->action));
		/* RFC 3464 2.3.5 */
		if (r->remote_mta != NULL && host_ok(r->remote_mta))
			buf_printf(b, "Remote-MTA: dns; %s\r\n",
			    r->remote_mta);
		/* RFC 3464 2.3.6: diagnostic-type ";" *text, folded */
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
			buf_reset(&v);
			buf_printf(&v, "%s; %s", r->diag_type != NULL ?
			    r->diag_type : "smtp", r->diagnostic);
			put_field_clean(b, "Diagnostic-Code", buf_cstr(&v),
			    ctx->global);
		}
		/* RFC 3464 2.3.7 */
		if (r->last_attempt != 0) {
			mail_date((time_t)r->last_attempt, date, sizeof(date));
			buf_printf(b, "Last-Attempt-Date: %s\r\n", date);
		}
		/* RFC 3464 2.3.8: for delayed recipients only. */
		if (r->action == DSN_ACTION_DELAYED && r->retry_until != 0) {
			mail_date((time_t)r->retry_until, date, sizeof(date));
			buf_printf(b, "Will-Retry-Until: %s\r\n", date);
		}
	}
	buf_free(&v);
}

static int
contains(const struct buf *b, const char *s)
{
	if (b->len == 0)
		return 0;
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static int
args_ok(const struct dsn_info *info, const struct dsn_rcpt *rcpts,
    size_t nrcpts)
{
	size_t	 i;

	if (info->reporting_mta == NULL || !host_ok(info->reporting_mta))
		return 0;
	if (info->kind < DSN_KIND_FAILURE || info->kind > DSN_KIND_EXPANDED)
		return 0;
	if (nrcpts == 0 || rcpts == NULL || nrcpts > 10000)
		return 0;
	if (strpbrk(info->sender, "\r\n") != NULL)
		return 0;
	/*
	 * RFC 5321 4.5.3.1.3: a path is at most 256 octets, brackets
	 * included.  A longer reverse path (the envelope holds up to
	 * ENV_ADDR_MAX) cannot be the DSN's recipient, and its To: field
	 * would pass RFC 5322 2.1.1's 998 octets (fuzz_dsn).
	 */
	if (strlen(info->sender) > SMTP_PATH_MAX - 2)
		return 0;
	for (i = 0; i < nrcpts; i++) {
		if (rcpts[i].final_rcpt == NULL ||
		    rcpts[i].final_rcpt[0] == '\0' ||
		    action_name(rcpts[i].action) == NULL)
			return 0;
		if (rcpts[i].status != NULL && !status_ok(rcpts[i].status))
			return 0;
		if (rcpts[i].diag_type != NULL &&
		    (rcpts[i].diag_type[0] == '\0' ||
		    !host_ok(rcpts[i].diag_type)))
			return 0;
	}
	return 1;
}

/*
 * The three parts of a report, built before the boundary that separates
 * them can be chosen.
 */
struct dsn_parts {
	struct buf	 human;		/* the text/plain notification */
	struct buf	 status;	/* the delivery-status fields */
	struct buf	 orig;		/* the original, whole or headers */
};

/*
 * RFC 2046 5.1.1: the boundary must not occur in any part.  32 random
 * characters after "=_" (which quoted-printable never produces) will not,
 * but the original is not ours, so check.  -1 if no try succeeds.
 */
static int
choose_boundary(const struct dsn_parts *parts,
    char boundary[BOUNDARY_LEN + 1])
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	char		 delim[BOUNDARY_LEN + 8];
	size_t		 i;
	int		 tries;

	for (tries = 0; ; tries++) {
		memcpy(boundary, "=_", 2);
		for (i = 2; i < BOUNDARY_LEN; i++)
			boundary[i] = alnum[arc4random_uniform(
			    sizeof(alnum) - 1)];
		boundary[BOUNDARY_LEN] = '\0';
		snprintf(delim, sizeof(delim), "--%s", boundary);
		if (!contains(&parts->human, delim) &&
		    !contains(&parts->status, delim) &&
		    !contains(&parts->orig, delim))
			return 0;
		if (tries > 100)
			return -1;
	}
}

static const char *
subject_of(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_KIND_FAILURE:
		return "Undelivered Mail Returned to Sender";
	case DSN_KIND_DELAY:
		return "Delivery Status Notification (Delay)";
	case DSN_KIND_EXPANDED:
		return "Delivery Status Notification (Expanded)";
	default:
		return "Delivery Status Notification (Success)";
	}
}

/* RFC 6533 6.1-6.3 for SMTPUTF8, RFC 6522 and RFC 3464 otherwise */
static const char *
status_type(const struct dsn_ctx *ctx)
{
	return ctx->global ? "global-delivery-status" : "delivery-status";
}

static const char *
original_type(const struct dsn_ctx *ctx)
{
	if (ctx->ret_full)
		return ctx->global ? "message/global" : "message/rfc822";
	return ctx->global ? "message/global-headers" : "text/rfc822-headers";
}

/* The report's own header, up to the preamble. */
static void
put_report_header(const struct dsn_ctx *ctx, struct buf *msg,
    const char *boundary)
{
	const struct dsn_info	*info = ctx->info;
	char			 date[64], *to;
	int64_t			 now;

	now = info->now != 0 ? info->now : (int64_t)walltime();
	mail_date((time_t)now, date, sizeof(date));
	buf_printf(msg, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
	    info->reporting_mta);
	to = clean_text(info->sender, 1);
	buf_printf(msg, "To: <%s>\r\n", to);
	free(to);
	buf_printf(msg, "Subject: %s\r\n", subject_of(info->kind));
	buf_printf(msg, "Date: %s\r\n", date);
	buf_printf(msg, "Message-ID: <%lld.%08x%08x@%s>\r\n", (long long)now,
	    arc4random(), arc4random(), info->reporting_mta);
	/* RFC 3834 5 */
	buf_addstr(msg, "Auto-Submitted: auto-replied\r\n");
	buf_addstr(msg, "MIME-Version: 1.0\r\n");
	/* RFC 6522 3 */
	buf_printf(msg, "Content-Type: multipart/report; report-type=%s;"
	    "\r\n\tboundary=\"%s\"\r\n", status_type(ctx), boundary);
	/* RFC 2045 6.4: a multipart holding 8bit parts is 8bit itself. */
	if (ctx->eightbit)
		buf_addstr(msg, "Content-Transfer-Encoding: 8bit\r\n");
	buf_addstr(msg, "\r\nThis is a MIME-encapsulated delivery status "
	    "notification.\r\n");
}

/* The parts, each after its delimiter, and the close delimiter. */
static void
put_report_parts(const struct dsn_ctx *ctx, struct buf *msg,
    struct dsn_parts *parts, const char *boundary)
{
	const char	*charset;

	charset = has_8bit(buf_cstr(&parts->human)) ? "utf-8" : "us-ascii";
	buf_printf(msg, "\r\n--%s\r\n", boundary);
	buf_addstr(msg, "Content-Description: Notification\r\n");
	buf_printf(msg, "Content-Type: text/plain; charset=%s\r\n", charset);
	if (strcmp(charset, "utf-8") == 0)
		buf_addstr(msg, "Content-Transfer-Encoding: 8bit\r\n");
	buf_addstr(msg, "\r\n");
	buf_add(msg, parts->human.data, parts->human.len);

	buf_printf(msg, "\r\n--%s\r\n", boundary);
	buf_addstr(msg, "Content-Description: Delivery report\r\n");
	buf_printf(msg, "Content-Type: message/%s\r\n", status_type(ctx));
	if (has_8bit(buf_cstr(&parts->status)))
		buf_addstr(msg, "Content-Transfer-Encoding: 8bit\r\n");
	buf_addstr(msg, "\r\n");
	buf_add(msg, parts->status.data, parts->status.len);

	if (ctx->has_original) {
		buf_printf(msg, "\r\n--%s\r\n", boundary);
		buf_printf(msg, "Content-Description: %s\r\n", ctx->ret_full ?
		    "Undelivered Message" : "Undelivered Message Headers");
		buf_printf(msg, "Content-Type: %s\r\n", original_type(ctx));
		/* RFC 2046 5.2.1: message/rfc822 is 7bit, 8bit or binary. */
		if (has_8bit(buf_cstr(&parts->orig)))
			buf_addstr(msg, "Content-Transfer-Encoding: 8bit\r\n");
		buf_addstr(msg, "\r\n");
		buf_add(msg, parts->orig.data, parts->orig.len);
	}
	buf_printf(msg, "\r\n--%s--\r\n", boundary);
}

/* All of msg onto out, or out as it was: DSN_ERR_SPACE past its bound. */
static int
append_all(struct buf *out, const struct buf *msg)
{
	size_t	 start = out->len;

	if (buf_add(out, msg->data, msg->len) == -1) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return DSN_ERR_SPACE;
	}
	return 0;
}

int
dsn_build(struct buf *out, const struct dsn_info *info,
    const struct dsn_rcpt *rcpts, size_t nrcpts,
    dsn_read_fn read_original_fn, void *arg)
{
	struct dsn_ctx	 ctx;
	struct dsn_parts parts;
	struct buf	 msg;
	char		 boundary[BOUNDARY_LEN + 1];
	size_t		 i;
	int		 rv;

	if (info == NULL || info->sender == NULL)
		return DSN_ERR_INVALID;
	/*
	 * RFC 5321 4.5.5 and 6.1: a message with a null reverse path is
	 * itself a notification, and answering it could loop forever.
	 */
	if (info->sender[0] == '\0')
		return DSN_ERR_NULLSENDER;
	if (!args_ok(info, rcpts, nrcpts))
		return DSN_ERR_INVALID;

	memset(&ctx, 0, sizeof(ctx));
	ctx.info = info;
	ctx.global = info->smtputf8 || has_8bit(info->sender);
	for (i = 0; i < nrcpts; i++)
		if (has_8bit(rcpts[i].final_rcpt))
			ctx.global = 1;
	/* Bounded by what goes in (the read is capped); out has the bound. */
	buf_init(&parts.human, SIZE_MAX / 4);
	buf_init(&parts.status, SIZE_MAX / 4);
	buf_init(&parts.orig, SIZE_MAX / 4);
	buf_init(&msg, SIZE_MAX / 4);

	if (read_original_fn != NULL) {
		if ((rv = read_original(&ctx, &parts.orig, read_original_fn,
		    arg)) < 0)
			goto done;
		ctx.has_original = 1;
	}
	put_human(&ctx, &parts.human, rcpts, nrcpts);
	put_status(&ctx, &parts.status, rcpts, nrcpts);
	if (has_8bit(buf_cstr(&parts.human)) ||
	    has_8bit(buf_cstr(&parts.status)))
		ctx.eightbit = 1;
	if (choose_boundary(&parts, boundary) == -1) {
		rv = DSN_ERR_INVALID;
		goto done;
	}
	put_report_header(&ctx, &msg, boundary);
	put_report_parts(&ctx, &msg, &parts, boundary);
	if ((rv = append_all(out, &msg)) < 0)
		goto done;
	if (ctx.eightbit)
		rv |= DSN_OUT_8BITMIME;
	if (ctx.global)
		rv |= DSN_OUT_SMTPUTF8;
	if (ctx.truncated)
		rv |= DSN_OUT_TRUNCATED;
done:
	buf_free(&parts.human);
	buf_free(&parts.status);
	buf_free(&parts.orig);
	buf_free(&msg);
	return rv;
}

/*
 * RFC 3461 4.1: NEVER: no DSN at all; otherwise only the kinds listed.
 * Without NOTIFY, failures are reported, delays at the MTA's choice (we
 * report them: the sender learns early that mail is stuck), successes not.
 * "expanded" and "relayed" results are reported under SUCCESS.
 * RFC 5321 4.5.5 and 6.1: never for a null reverse path.
 */
int
dsn_wanted(const struct envelope *env, enum dsn_kind kind)
{
	if (env->sender[0] == '\0')
		return 0;
	if (env->notify == 0)
		return kind == DSN_KIND_FAILURE || kind == DSN_KIND_DELAY;
	if (env->notify & ENV_NOTIFY_NEVER)
		return 0;
	switch (kind) {
	case DSN_KIND_FAILURE:
		return (env->notify & ENV_NOTIFY_FAILURE) != 0;
	case DSN_KIND_DELAY:
		return (env->notify & ENV_NOTIFY_DELAY) != 0;
	case DSN_KIND_SUCCESS:
	case DSN_KIND_EXPANDED:
		return (env->notify & ENV_NOTIFY_SUCCESS) != 0;
	}
	return 0;
}

void
dsn_info_from_envelope(struct dsn_info *info, const struct envelope *env,
    enum dsn_kind kind, const char *reporting_mta)
{
	memset(info, 0, sizeof(*info));
	info->reporting_mta = reporting_mta;
	info->sender = env->sender;
	info->envid = env->envid[0] != '\0' ? env->envid : NULL;
	/*
	 * RFC 8689 5: a message sent with REQUIRETLS is returned as if
	 * RET=HDRS had been given: its body does not travel where the
	 * sender forbade it to go.
	 */
	info->ret = (env->flags & ENV_F_REQUIRETLS) ? ENV_RET_HDRS : env->ret;
	info->smtputf8 = (env->flags & ENV_F_SMTPUTF8) != 0;
	info->kind = kind;
	info->arrival = env->ctime;
}

void
dsn_rcpt_from_envelope(struct dsn_rcpt *r, const struct envelope *env,
    enum dsn_action action, const char *status)
{
	memset(r, 0, sizeof(*r));
	r->final_rcpt = env->rcpt;
	r->orcpt = env->orcpt[0] != '\0' ? env->orcpt : NULL;
	r->action = action;
	r->status = status;
	r->last_attempt = env->last_try;
	if (action == DSN_ACTION_DELAYED)
		r->retry_until = env->expire;
}

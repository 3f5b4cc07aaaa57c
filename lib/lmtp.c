/*
 * LMTP client engine (RFC 2033), I/O-free: the caller feeds it the
 * server's bytes and writes the commands it leaves in `out`; it answers
 * with what to do next (lib/lmtp.h).
 *
 * One session carries transactions one after another (connection reuse):
 * greeting, LHLO (RFC 2033 4.1), then per message RSET (from the second
 * on), MAIL, one RCPT per recipient and DATA, all in one write when the
 * server offered PIPELINING (RFC 2920 3.1), and after the message one
 * reply for each recipient that RCPT accepted, in RCPT order (RFC 2033
 * 4.2): so some recipients may be delivered, some deferred and some
 * bounced by one transaction.  Anything out of order (a reply nobody asked
 * for, 354 to a DATA without recipients, a 3xx to RCPT) ends the session:
 * the recipients not yet decided are temporary failures and the caller
 * opens a new connection.
 *
 * It does not do: BDAT (RFC 2033 has no CHUNKING requirement), DSN
 * parameters (the queue writes our DSNs), TLS or AUTH on LMTP (a local
 * socket or loopback peer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"

static void	fail(struct lmtp_session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
fail(struct lmtp_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
	lmtp_fail(s, s->error);
}

void
lmtp_init(struct lmtp_session *s, const char *lhlo_name)
{
	memset(s, 0, sizeof(*s));
	s->state = LMTP_S_GREETING;
	buf_init(&s->out, LMTP_OUT_MAX);
	smtp_reply_init(&s->reply);
	strlcpy(s->lhlo, lhlo_name, sizeof(s->lhlo));
}

void
lmtp_free(struct lmtp_session *s)
{
	buf_free(&s->out);
}

/*
 * The RFC 3463 code a reason of ours starts with ("4.4.1 ..."), or 4.4.2
 * (RFC 3463 3.5, bad connection).
 */
static void
reason_status(const char *why, char *out, size_t outlen)
{
	size_t	 n = strcspn(why, " ");

	if (n >= 5 && n < outlen && why[0] == '4' && why[1] == '.' &&
	    strspn(why, "0123456789.") == n) {
		memcpy(out, why, n);
		out[n] = '\0';
	} else
		strlcpy(out, "4.4.2", outlen);
}

void
lmtp_fail(struct lmtp_session *s, const char *why)
{
	size_t	 i;

	if (why != s->error)
		strlcpy(s->error, why, sizeof(s->error));
	for (i = 0; i < s->nrcpts && s->rcpts != NULL; i++) {
		if (s->rcpts[i].status != LMTP_RCPT_PENDING)
			continue;
		s->rcpts[i].status = LMTP_RCPT_TEMPFAIL;
		s->rcpts[i].server = 0;
		reason_status(why, s->rcpts[i].enhanced,
		    sizeof(s->rcpts[i].enhanced));
		strlcpy(s->rcpts[i].reply, why, sizeof(s->rcpts[i].reply));
	}
	s->state = LMTP_S_DEAD;
}

/* The reply's outcome for one recipient; -1 for a class out of place. */
static int
rcpt_outcome(struct lmtp_session *s, struct lmtp_rcpt *r)
{
	switch (s->reply.code / 100) {
	case 2:
		r->status = LMTP_RCPT_OK;
		break;
	case 4:
		r->status = LMTP_RCPT_TEMPFAIL;
		break;
	case 5:
		r->status = LMTP_RCPT_PERMFAIL;
		break;
	default:
		return -1;
	}
	r->server = 1;
	strlcpy(r->enhanced, smtp_reply_status(&s->reply),
	    sizeof(r->enhanced));
	smtp_reply_oneline(&s->reply, r->reply, sizeof(r->reply));
	return 0;
}

static int
pipelined(const struct lmtp_session *s)
{
	return (s->caps.flags & SMTP_CAP_PIPELINING) != 0;
}

/* The next recipient at or after i that was sent (RCPT) / accepted. */
static size_t
next_sent(const struct lmtp_session *s, size_t i)
{
	while (i < s->nrcpts && !s->rcpts[i].sent)
		i++;
	return i;
}

static size_t
next_accepted(const struct lmtp_session *s, size_t i)
{
	while (i < s->nrcpts && !s->rcpts[i].accepted)
		i++;
	return i;
}

static int
any_accepted(const struct lmtp_session *s)
{
	return next_accepted(s, 0) < s->nrcpts;
}

/* An address we can put between < and > on a command line. */
static int
addr_ok(const char *a)
{
	const unsigned char	*p;

	if (strlen(a) > 1024)
		return 0;
	for (p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

static int
addr_ascii(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a >= 0x80)
			return 0;
	return 1;
}

static void
put_mail(struct lmtp_session *s)
{
	int	 utf8 = !addr_ascii(s->sender);
	size_t	 i;

	for (i = 0; i < s->nrcpts; i++)
		if (s->rcpts[i].sent && !addr_ascii(s->rcpts[i].addr))
			utf8 = 1;
	/* RFC 6152 2 and RFC 6531 3.4: declared only when offered */
	buf_printf(&s->out, "MAIL FROM:<%s>%s%s\r\n", s->sender,
	    (s->caps.flags & SMTP_CAP_8BITMIME) ? " BODY=8BITMIME" : "",
	    utf8 && (s->caps.flags & SMTP_CAP_SMTPUTF8) ? " SMTPUTF8" : "");
}

static void
put_rcpt(struct lmtp_session *s, size_t i)
{
	buf_printf(&s->out, "RCPT TO:<%s>\r\n", s->rcpts[i].addr);
}

/* A transaction has ended: the session waits for the next one. */
static enum lmtp_event
tx_done(struct lmtp_session *s)
{
	s->state = LMTP_S_READY;
	return LMTP_EV_DONE;
}

/* After the last RCPT reply: DATA, or the end when nobody was taken. */
static enum lmtp_event
after_rcpts(struct lmtp_session *s)
{
	if (pipelined(s)) {
		s->state = LMTP_S_DATA;	/* sent already */
		return LMTP_EV_WANT;
	}
	if (s->mail_failed || !any_accepted(s))
		return tx_done(s);
	buf_printf(&s->out, "DATA\r\n");
	s->state = LMTP_S_DATA;
	return LMTP_EV_WANT;
}

static enum lmtp_event
reply_rcpt(struct lmtp_session *s)
{
	struct lmtp_rcpt	*r = &s->rcpts[s->idx];
	size_t			 next;

	if (s->idx >= s->nrcpts) {
		fail(s, "reply out of turn");
		return LMTP_EV_FAIL;
	}
	if (!s->mail_failed) {
		if (rcpt_outcome(s, r) == -1) {
			fail(s, "unexpected reply %d to RCPT", s->reply.code);
			return LMTP_EV_FAIL;
		}
		if (r->status == LMTP_RCPT_OK) {
			/* its outcome comes after the message */
			r->status = LMTP_RCPT_PENDING;
			r->accepted = 1;
		}
	}
	if ((next = next_sent(s, s->idx + 1)) >= s->nrcpts)
		return after_rcpts(s);
	s->idx = next;
	if (!pipelined(s))
		put_rcpt(s, s->idx);
	return LMTP_EV_WANT;
}

static enum lmtp_event
reply_mail(struct lmtp_session *s)
{
	size_t	 i;

	if (s->reply.code / 100 != 2) {
		if (s->reply.code / 100 == 3) {
			fail(s, "unexpected reply %d to MAIL", s->reply.code);
			return LMTP_EV_FAIL;
		}
		/* RFC 5321 3.3: no transaction; every recipient fails so */
		s->mail_failed = 1;
		for (i = 0; i < s->nrcpts; i++)
			if (s->rcpts[i].status == LMTP_RCPT_PENDING)
				rcpt_outcome(s, &s->rcpts[i]);
		if (!pipelined(s))
			return tx_done(s);
		/* the RCPTs and DATA were sent: their replies follow */
		s->idx = next_sent(s, 0);
		s->state = LMTP_S_RCPT;
		return LMTP_EV_WANT;
	}
	s->idx = next_sent(s, 0);
	s->state = LMTP_S_RCPT;
	if (!pipelined(s))
		put_rcpt(s, s->idx);
	return LMTP_EV_WANT;
}

static enum lmtp_event
reply_data(struct lmtp_session *s)
{
	size_t	 i;

	if (s->reply.code == 354) {
		/* RFC 2920 3.1 has the client send a lone "." here; a
		 * server that takes DATA without recipients is off the
		 * protocol, and a new connection is simpler to trust */
		if (s->mail_failed || !any_accepted(s)) {
			fail(s, "354 to a DATA without recipients");
			return LMTP_EV_FAIL;
		}
		s->state = LMTP_S_BODY;
		return LMTP_EV_BODY;
	}
	if (s->reply.code / 100 != 4 && s->reply.code / 100 != 5) {
		fail(s, "unexpected reply %d to DATA", s->reply.code);
		return LMTP_EV_FAIL;
	}
	if (!s->mail_failed)
		for (i = 0; i < s->nrcpts; i++)
			if (s->rcpts[i].accepted) {
				s->rcpts[i].accepted = 0;
				rcpt_outcome(s, &s->rcpts[i]);
			}
	return tx_done(s);
}

/* RFC 2033 4.2: one reply per recipient RCPT accepted, in their order. */
static enum lmtp_event
reply_dot(struct lmtp_session *s)
{
	struct lmtp_rcpt	*r = &s->rcpts[s->idx];

	if (s->idx >= s->nrcpts) {
		fail(s, "reply out of turn");
		return LMTP_EV_FAIL;
	}
	if (rcpt_outcome(s, r) == -1) {
		fail(s, "unexpected reply %d after the message",
		    s->reply.code);
		return LMTP_EV_FAIL;
	}
	s->idx = next_accepted(s, s->idx + 1);
	if (s->idx >= s->nrcpts)
		return tx_done(s);
	return LMTP_EV_WANT;
}

static enum lmtp_event
reply(struct lmtp_session *s)
{
	char	 one[256];

	s->tx_replies++;
	switch (s->state) {
	case LMTP_S_GREETING:
		/* RFC 5321 4.3.2 (RFC 2033 4): 220, or no service */
		if (s->reply.code != 220) {
			smtp_reply_oneline(&s->reply, one, sizeof(one));
			fail(s, "greeting: %s", one);
			return LMTP_EV_FAIL;
		}
		/* RFC 2033 4.1: LHLO, never HELO or EHLO */
		buf_printf(&s->out, "LHLO %s\r\n", s->lhlo);
		s->state = LMTP_S_LHLO;
		return LMTP_EV_WANT;
	case LMTP_S_LHLO:
		if (s->reply.code != 250) {
			smtp_reply_oneline(&s->reply, one, sizeof(one));
			fail(s, "LHLO refused: %s", one);
			return LMTP_EV_FAIL;
		}
		smtp_caps_parse(&s->reply, &s->caps);
		s->state = LMTP_S_READY;
		return LMTP_EV_READY;
	case LMTP_S_RSET:
		if (s->reply.code != 250) {
			smtp_reply_oneline(&s->reply, one, sizeof(one));
			fail(s, "RSET refused: %s", one);
			return LMTP_EV_FAIL;
		}
		s->state = LMTP_S_MAIL;
		if (!pipelined(s))
			put_mail(s);
		return LMTP_EV_WANT;
	case LMTP_S_MAIL:
		return reply_mail(s);
	case LMTP_S_RCPT:
		return reply_rcpt(s);
	case LMTP_S_DATA:
		return reply_data(s);
	case LMTP_S_DOT:
		return reply_dot(s);
	case LMTP_S_QUIT:
		s->state = LMTP_S_DEAD;
		return LMTP_EV_CLOSED;
	default:
		smtp_reply_oneline(&s->reply, one, sizeof(one));
		fail(s, "reply out of turn: %s", one);
		return LMTP_EV_FAIL;
	}
}

enum lmtp_event
lmtp_input(struct lmtp_session *s, const void *data, size_t len)
{
	const char		*p = data;
	enum lmtp_event		 ev = LMTP_EV_WANT;
	enum smtp_reply_status	 st;
	char			 err[128];
	size_t			 i, n;

	if (s->state == LMTP_S_DEAD)
		return LMTP_EV_FAIL;
	for (i = 0; i < len; i++) {
		/* bytes after a step's last reply: nobody asked for them */
		if (ev != LMTP_EV_WANT) {
			fail(s, "reply out of turn");
			return LMTP_EV_FAIL;
		}
		if (p[i] != '\n') {
			if (s->linelen >= sizeof(s->line) - 1) {
				fail(s, "reply line too long");
				return LMTP_EV_FAIL;
			}
			s->line[s->linelen++] = p[i];
			continue;
		}
		n = s->linelen;
		s->linelen = 0;
		if (n > 0 && s->line[n - 1] == '\r')
			n--;
		st = smtp_reply_line(&s->reply, s->line, n, err, sizeof(err));
		if (st == SMTP_REPLY_ERROR) {
			fail(s, "%s", err);
			return LMTP_EV_FAIL;
		}
		if (st == SMTP_REPLY_MORE)
			continue;
		ev = reply(s);
		smtp_reply_init(&s->reply);
		if (ev == LMTP_EV_FAIL || ev == LMTP_EV_CLOSED)
			return ev;
	}
	return ev;
}

static void
refuse(struct lmtp_rcpt *r, enum lmtp_rcpt_status st, const char *enh,
    const char *why)
{
	r->status = st;
	r->server = 0;
	strlcpy(r->enhanced, enh, sizeof(r->enhanced));
	strlcpy(r->reply, why, sizeof(r->reply));
}

enum lmtp_event
lmtp_begin(struct lmtp_session *s, const char *sender, struct lmtp_rcpt *rcpts,
    size_t n)
{
	/*
	 * What the server can take is known once it answered LHLO; before
	 * (no connection) nobody is refused for it: all fail temporarily.
	 */
	int	 utf8 = s->state != LMTP_S_READY ||
		    (s->caps.flags & SMTP_CAP_SMTPUTF8) != 0;
	size_t	 i, first;

	s->sender = sender;
	s->rcpts = rcpts;
	s->nrcpts = n;
	s->idx = 0;
	s->mail_failed = 0;
	s->tx_replies = 0;
	for (i = 0; i < n; i++) {
		memset(&rcpts[i].status, 0, sizeof(rcpts[i]) -
		    offsetof(struct lmtp_rcpt, status));
		if (i >= LMTP_RCPTS_MAX)
			refuse(&rcpts[i], LMTP_RCPT_TEMPFAIL, "4.5.3",
			    "too many recipients for one transaction");
		else if (*sender != '\0' && !addr_ok(sender))
			refuse(&rcpts[i], LMTP_RCPT_PERMFAIL, "5.1.7",
			    "sender address not usable in LMTP");
		else if (!utf8 && !addr_ascii(sender))
			refuse(&rcpts[i], LMTP_RCPT_PERMFAIL, "5.6.7",
			    "the LMTP server has no SMTPUTF8 for the sender");
		else if (!addr_ok(rcpts[i].addr))
			refuse(&rcpts[i], LMTP_RCPT_PERMFAIL, "5.1.3",
			    "recipient address not usable in LMTP");
		else if (!utf8 && !addr_ascii(rcpts[i].addr))
			/* RFC 6531 3.2 */
			refuse(&rcpts[i], LMTP_RCPT_PERMFAIL, "5.6.7",
			    "the LMTP server has no SMTPUTF8 for this "
			    "recipient");
		else
			rcpts[i].sent = 1;
	}
	/* the caller fails them (lmtp_fail()) with its own reason */
	if (s->state != LMTP_S_READY)
		return LMTP_EV_FAIL;
	if ((first = next_sent(s, 0)) >= n)
		return LMTP_EV_DONE;
	if (s->ntx++ > 0) {
		buf_printf(&s->out, "RSET\r\n");
		s->state = LMTP_S_RSET;
		if (!pipelined(s))
			return LMTP_EV_WANT;
	} else
		s->state = LMTP_S_MAIL;
	if (!pipelined(s)) {
		put_mail(s);
		return LMTP_EV_WANT;
	}
	/* RFC 2920 3.1: DATA may end a group; we wait for its reply */
	put_mail(s);
	for (i = first; i < n; i = next_sent(s, i + 1))
		put_rcpt(s, i);
	buf_printf(&s->out, "DATA\r\n");
	return LMTP_EV_WANT;
}

void
lmtp_body_end(struct lmtp_session *s)
{
	if (s->state != LMTP_S_BODY)
		return;
	s->idx = next_accepted(s, 0);
	s->state = LMTP_S_DOT;
}

void
lmtp_quit(struct lmtp_session *s)
{
	if (s->state != LMTP_S_READY)
		return;
	buf_printf(&s->out, "QUIT\r\n");
	s->state = LMTP_S_QUIT;
}

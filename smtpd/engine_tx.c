/*
 * The SMTP server engine's mail transaction: MAIL, RCPT, DATA and BDAT,
 * the caller's answers to them, and the message content handed over in
 * chunks.
 *
 * Implements RFC 5321 MAIL 4.1.1.2, RCPT 4.1.1.3, DATA 4.1.1.4 (with the
 * 354 intermediate reply of 4.3.2), dot-stuffing 4.5.2, text line limit
 * 4.5.3.1.6 and recipients limit 4.5.3.1.8; SIZE (RFC 1870), SMTPUTF8
 * addresses (RFC 6531 3.4), DSN parameters (RFC 3461), REQUIRETLS (RFC
 * 8689, when SMTP_CONF_REQUIRETLS offers it) through the parameter
 * parsers of lib/smtp_addr.c, and CHUNKING (RFC 3030 2, 4.2).
 *
 * Hostile input: a bare CR or LF in DATA or BDAT content makes the message
 * be rejected (RFC 5321 2.3.8), so "\n.\n" is never an end of data (SMTP
 * smuggling).  A BDAT chunk's octets are read whatever the verdict, so
 * content is never taken for commands.
 *
 * Deliberately not here: the policy on senders and recipients (the
 * caller's on_mail and on_rcpt), the queue, BINARYMIME (refused: bare CR
 * and LF are never accepted).
 */
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/engine.h"
#include "smtpd/engine_int.h"
#include "util.h"

static void	data_begin(struct smtp_session *);
static void	data_fail(struct smtp_session *, enum smtp_abort);
static void	data_finish(struct smtp_session *);
static void	bdat_chunk_begin(struct smtp_session *);
static void	bdat_chunk_done(struct smtp_session *);

/*
 * The message content.
 */

void
engine_chunk_flush(struct smtp_session *s)
{
	if (s->chunklen == 0)
		return;
	if (s->data_open && s->data_err == 0 && s->cb.on_data_chunk != NULL)
		s->cb.on_data_chunk(s->arg, s->chunk, s->chunklen);
	s->chunklen = 0;
}

/* The message's content is handed over, or dropped: no buffer kept. */
void
engine_chunk_release(struct smtp_session *s)
{
	free(s->chunk);
	s->chunk = NULL;
	s->chunklen = 0;
}

/*
 * RFC 5321 6.3: count the header's Received fields, the loop detector the
 * RFC recommends (with a threshold of at least 100).  A field name is
 * matched at the start of each header line; the empty line ends the
 * header.  Called before line_len counts c.
 */
static void
header_byte(struct smtp_session *s, uint8_t c)
{
	static const char	 name[] = "received:";
	const size_t		 last = sizeof(name) - 2;	/* the ':' */

	if (c == '\n' && s->line_len == 1 && s->prev_cr) {
		s->in_body = 1;		/* CRLF alone: the header's end */
		return;
	}
	if (s->line_len == 0)
		s->received_match = 1;
	if (!s->received_match || s->line_len > last)
		return;
	if (tolower(c) != name[s->line_len])
		s->received_match = 0;
	else if (s->line_len == last)
		s->nreceived++;
}

/*
 * One octet of message content (after dot-unstuffing): the checks of
 * RFC 5321 2.3.8 (no bare CR or LF), 4.5.3.1.6 (1000-octet lines) and the
 * size limit; once the message failed, nothing more is handed over.
 */
static void
content_byte(struct smtp_session *s, uint8_t c)
{
	if (s->data_err == 0 && (s->prev_cr ? c != '\n' : c == '\n'))
		data_fail(s, SMTP_ABORT_BARE_CRLF);
	if (!s->in_body)
		header_byte(s, c);
	s->prev_cr = c == '\r';
	if (c == '\n')
		s->line_len = 0;
	else if (++s->line_len > SMTP_TEXT_LINE_MAX - 1 && s->data_err == 0)
		data_fail(s, SMTP_ABORT_LINE_TOO_LONG);
	s->data_size++;
	if (s->data_size > s->conf.max_size && s->data_err == 0)
		data_fail(s, SMTP_ABORT_TOO_BIG);
	if (s->data_err != 0)
		return;
	if (s->chunk == NULL)
		s->chunk = xmalloc(SMTP_CHUNK_MAX);
	if (s->chunklen == SMTP_CHUNK_MAX)
		engine_chunk_flush(s);
	s->chunk[s->chunklen++] = c;
}

/* DATA content: RFC 5321 4.5.2 dot-unstuffing, 4.1.1.4 CRLF.CRLF. */
size_t
engine_data_input(struct smtp_session *s, const uint8_t *p, size_t len)
{
	size_t	 i;
	int	 crlf;
	uint8_t	 c;

	for (i = 0; i < len; i++) {
		c = p[i];
		switch (s->dpos) {
		case D_BOL:
			if (c == '.') {
				s->dpos = D_DOT;
				continue;
			}
			break;
		case D_DOT:
			if (c == '\r') {
				s->dpos = D_DOTCR;
				continue;
			}
			/* 4.5.2: the leading dot is dropped. */
			break;
		case D_DOTCR:
			if (c == '\n') {
				data_finish(s);
				return i + 1;
			}
			/* ".\r" and more: a bare CR in the content. */
			content_byte(s, '\r');
			break;
		case D_TEXT:
			break;
		}
		crlf = c == '\n' && s->prev_cr;
		content_byte(s, c);
		s->dpos = crlf ? D_BOL : D_TEXT;
	}
	return len;
}

size_t
engine_bdat_input(struct smtp_session *s, const uint8_t *p, size_t len)
{
	size_t	 i, n;

	n = len;
	if (n > s->bdat_left)
		n = (size_t)s->bdat_left;
	if (!s->bdat_discard)
		for (i = 0; i < n; i++)
			content_byte(s, p[i]);
	s->bdat_left -= n;
	if (s->bdat_left == 0)
		bdat_chunk_done(s);
	return n;
}

static void
data_begin(struct smtp_session *s)
{
	s->data_open = 1;
	s->data_err = 0;
	s->data_size = 0;
	s->line_len = 0;
	s->prev_cr = 0;
	s->in_body = 0;
	s->nreceived = 0;
	s->dpos = D_BOL;
	s->chunklen = 0;
}

/* The message is refused: the caller drops what it has at once. */
static void
data_fail(struct smtp_session *s, enum smtp_abort why)
{
	s->data_err = why;
	s->chunklen = 0;
	if (s->data_open) {
		s->data_open = 0;
		if (s->cb.on_data_abort != NULL)
			s->cb.on_data_abort(s->arg, why);
	}
}

static void
data_error_reply(struct smtp_session *s)
{
	switch (s->data_err) {
	case SMTP_ABORT_BARE_CRLF:
		engine_reply(s, 554, "5.6.0", "Bare CR or LF not allowed "
		    "(RFC 5321 2.3.8), message rejected");
		break;
	case SMTP_ABORT_LINE_TOO_LONG:
		engine_reply(s, 554, "5.6.0", "Line over 1000 octets "
		    "(RFC 5321 4.5.3.1.6), message rejected");
		break;
	case SMTP_ABORT_TOO_BIG:
		engine_reply(s, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size");
		break;
	case SMTP_ABORT_LOOP:
		/* RFC 3463 4.4.6: routing loop detected. */
		engine_reply(s, 554, "5.4.6", "Too many Received fields (%u): "
		    "mail loop, message rejected", s->nreceived);
		break;
	default:
		engine_reply(s, 554, "5.5.0", "Message rejected");
		break;
	}
}

/* End of the content (DATA terminator or BDAT LAST). */
static void
data_finish(struct smtp_session *s)
{
	engine_enter_state(s, S_RCPT);
	if (s->data_err == 0 && s->prev_cr)
		data_fail(s, SMTP_ABORT_BARE_CRLF);
	if (s->data_err == 0 && s->nreceived > s->conf.max_received)
		data_fail(s, SMTP_ABORT_LOOP);
	engine_chunk_flush(s);
	engine_chunk_release(s);
	if (s->data_err != 0) {
		data_error_reply(s);
		engine_tx_reset(s, 0);
		return;
	}
	s->data_open = 0;
	s->pending = P_DATA_END;
	if (s->cb.on_data_end != NULL)
		s->cb.on_data_end(s->arg);
	else
		smtp_session_reply_data(s, 0, 451, "4.3.0", NULL);
}

/*
 * Commands.
 */

static int
path_reply(struct smtp_session *s, int err)
{
	if (err == SMTP_ADDR_ELONG)
		engine_reply(s, 501, "5.1.3", "Address too long");
	else
		engine_reply(s, 501, "5.1.3", "Bad address syntax");
	return -1;
}

/* "FROM:" or "TO:", case-insensitive; a space after the colon is taken. */
static const char *
path_start(const char *args, const char *word)
{
	size_t	 n = strlen(word);

	if (strncasecmp(args, word, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

/*
 * REQUIRETLS is a MAIL parameter only where EHLO offered it: inside TLS
 * (RFC 8689 4.1) and under SMTP_CONF_REQUIRETLS, which smtpd sets now
 * that the mta relays such mail as RFC 8689 4.2.1 requires (TLS to a
 * server authenticated by DANE or MTA-STS, or no delivery).  Elsewhere it
 * is an unknown parameter, 555 5.5.4.
 */
static int
mail_param_ctx(const struct smtp_session *s)
{
	int	 ctx = 0;

	if (s->tls) {
		ctx |= SMTP_PARAM_TLS;
		if (s->conf.flags & SMTP_CONF_REQUIRETLS)
			ctx |= SMTP_PARAM_REQUIRETLS;
	}
	return ctx;
}

int
engine_check_mail(struct smtp_session *s, const char *args)
{
	struct smtp_perr	 err;
	const char		*p;
	size_t			 used;
	int			 r;

	if (s->state == S_INIT) {
		engine_reply(s, 503, "5.5.1", "Send EHLO or HELO first");
		return -1;
	}
	if (s->state != S_HELO) {
		engine_reply(s, 503, "5.5.1", "Nested MAIL command");
		return -1;
	}
	if ((s->conf.flags & SMTP_CONF_TLS_REQUIRED) && !s->tls) {
		engine_reply(s, 530, "5.7.0",
		    "Must issue a STARTTLS command first");
		return -1;
	}
	/* RFC 4954 6: 530 5.7.0 when the policy needs AUTH first. */
	if ((s->conf.flags & SMTP_CONF_AUTH_REQUIRED) && !s->authenticated) {
		engine_reply(s, 530, "5.7.0", "Authentication required");
		return -1;
	}
	if ((p = path_start(args, "FROM:")) == NULL) {
		engine_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return -1;
	}
	if ((r = smtp_path_parse(p, SMTP_PATH_NULL_OK, &s->mail.sender,
	    &used)) != SMTP_ADDR_OK)
		return path_reply(s, r);
	/* Parameters only with EHLO (RFC 5321 4.1.1.2, 1869). */
	if (!s->esmtp && p[used] != '\0') {
		engine_reply(s, 555, "5.5.4", "Parameters need EHLO");
		return -1;
	}
	if (smtp_mail_params_parse(p + used, mail_param_ctx(s),
	    s->conf.max_size, &s->mail.params, &err) == -1) {
		engine_reply(s, err.code, err.enhanced, "%s", err.text);
		return -1;
	}
	/* RFC 6531 3.4: UTF-8 addresses only with SMTPUTF8. */
	if (s->mail.sender.utf8 && !s->mail.params.smtputf8) {
		engine_reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		return -1;
	}
	return 0;
}

void
engine_proceed_mail(struct smtp_session *s, const char *args)
{
	s->pending = P_MAIL;
	if (s->cb.on_mail != NULL)
		s->cb.on_mail(s->arg, &s->mail);
	else
		smtp_session_reply_mail(s, 1, 0, NULL, NULL);
}

/*
 * Was addr accepted already in this transaction?  With add, remember it.
 * The domain's case does not matter (RFC 5321 2.4), the local part's may.
 */
static int
rcpt_seen(struct smtp_session *s, const char *addr, int add)
{
	char		 norm[SMTP_PATH_MAX + 1];
	const char	*at, *p, *end;
	size_t		 i;

	strlcpy(norm, addr, sizeof(norm));
	if ((at = strrchr(norm, '@')) != NULL)
		for (i = at - norm; norm[i] != '\0'; i++)
			norm[i] = tolower((unsigned char)norm[i]);
	if (add) {
		buf_add(&s->rcpts, norm, strlen(norm) + 1);
		return 0;
	}
	if (s->rcpts.len == 0)
		return 0;
	p = (const char *)s->rcpts.data;
	end = p + s->rcpts.len;
	for (; p < end; p += strlen(p) + 1)
		if (strcmp(p, norm) == 0)
			return 1;
	return 0;
}

int
engine_check_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_perr	 err;
	const char		*p;
	size_t			 used;
	int			 r;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		engine_reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		return -1;
	}
	if (s->bdat_seen) {
		engine_reply(s, 503, "5.5.1", "RCPT after BDAT");
		return -1;
	}
	if ((p = path_start(args, "TO:")) == NULL) {
		engine_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return -1;
	}
	if ((r = smtp_path_parse(p, SMTP_PATH_POSTMASTER, &s->rcpt.rcpt,
	    &used)) != SMTP_ADDR_OK)
		return path_reply(s, r);
	if (!s->esmtp && p[used] != '\0') {
		engine_reply(s, 555, "5.5.4", "Parameters need EHLO");
		return -1;
	}
	if (smtp_rcpt_params_parse(p + used, s->tls ? SMTP_PARAM_TLS : 0,
	    &s->rcpt.params, &err) == -1) {
		engine_reply(s, err.code, err.enhanced, "%s", err.text);
		return -1;
	}
	if (s->rcpt.rcpt.utf8 && !s->mail.params.smtputf8) {
		engine_reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		return -1;
	}
	/* RFC 5321 4.5.3.1.8: refuse the extra ones, temporarily. */
	if (s->nrcpt + s->nrcpt_dup >= s->conf.max_rcpts) {
		engine_reply(s, 452, "4.5.3", "Too many recipients");
		return -1;
	}
	/* The same recipient again: one envelope, one delivery, one DSN. */
	if (rcpt_seen(s, s->rcpt.rcpt.addr, 0)) {
		s->nrcpt_dup++;
		engine_reply(s, 250, "2.1.5", "Ok (duplicate recipient, "
		    "delivered once)");
		return -1;
	}
	return 0;
}

void
engine_proceed_rcpt(struct smtp_session *s, const char *args)
{
	s->pending = P_RCPT;
	if (s->cb.on_rcpt != NULL)
		s->cb.on_rcpt(s->arg, &s->rcpt);
	else
		smtp_session_reply_rcpt(s, 0, 550, "5.7.1", "Relay denied");
}

int
engine_check_data(struct smtp_session *s, const char *args)
{
	if (engine_check_noargs(s, args) == -1)
		return -1;
	if (s->bdat_seen) {
		/* RFC 3030 2: no DATA in a BDAT transaction. */
		engine_reply(s, 503, "5.5.1", "DATA after BDAT");
		return -1;
	}
	if (s->state == S_MAIL) {
		engine_reply(s, 554, "5.5.1", "No valid recipients");
		return -1;
	}
	if (s->state != S_RCPT) {
		engine_reply(s, 503, "5.5.1", "Need RCPT before DATA");
		return -1;
	}
	return 0;
}

void
engine_proceed_data(struct smtp_session *s, const char *args)
{
	s->pending = P_DATA_START;
	if (s->cb.on_data_start != NULL)
		s->cb.on_data_start(s->arg);
	else
		smtp_session_reply_data_start(s, 0, 451, "4.3.0", NULL);
}

/*
 * RFC 3030 2: BDAT size [LAST].  Once the size is known its octets are
 * read whatever the verdict, so that content is never taken for commands.
 */
int
engine_check_bdat(struct smtp_session *s, const char *args)
{
	char		 num[24];
	const char	*errstr, *sp;
	size_t		 n;
	long long	 size;

	n = strspn(args, "0123456789");
	sp = args + n;
	if (n == 0 || n >= sizeof(num) || (*sp != '\0' &&
	    (sp[0] != ' ' || strcasecmp(sp + 1, "LAST") != 0))) {
		/* The framing is lost: stop here. */
		engine_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		engine_reply(s, 421, "4.7.0",
		    "%s Closing connection", s->hostname);
		engine_close(s);
		return -1;
	}
	memcpy(num, args, n);
	num[n] = '\0';
	size = strtonum(num, 0, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		engine_reply(s, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size");
		engine_reply(s, 421, "4.7.0",
		    "%s Closing connection", s->hostname);
		engine_close(s);
		return -1;
	}
	s->bdat_size = s->bdat_left = (uint64_t)size;
	s->bdat_last = *sp != '\0';
	s->bdat_discard = 0;
	return 0;
}

/* Read the chunk and drop it, then reply with this error. */
static void
bdat_refuse(struct smtp_session *s, int code, const char *enh,
    const char *text)
{
	s->bdat_discard = 1;
	s->bdat_err_code = code;
	strlcpy(s->bdat_err_enh, enh, sizeof(s->bdat_err_enh));
	engine_sanitize(s->bdat_err_text, sizeof(s->bdat_err_text), text);
	bdat_chunk_begin(s);
}

void
engine_proceed_bdat(struct smtp_session *s, const char *args)
{
	if (s->state == S_INIT)
		bdat_refuse(s, 503, "5.5.1", "Send EHLO or HELO first");
	else if (s->state == S_HELO)
		bdat_refuse(s, 503, "5.5.1", "Need MAIL before BDAT");
	else if (s->state == S_MAIL)
		bdat_refuse(s, 554, "5.5.1", "No valid recipients");
	else if (!s->bdat_seen) {
		s->bdat_seen = 1;
		s->pending = P_DATA_START;
		if (s->cb.on_data_start != NULL)
			s->cb.on_data_start(s->arg);
		else
			smtp_session_reply_data_start(s, 0, 451, "4.3.0",
			    NULL);
	} else
		bdat_chunk_begin(s);
}

static void
bdat_chunk_begin(struct smtp_session *s)
{
	s->bdat_prev = s->state;
	if (s->bdat_left == 0)
		bdat_chunk_done(s);
	else
		engine_enter_state(s, S_BDAT);
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	engine_enter_state(s, s->bdat_prev);
	if (s->bdat_discard) {
		s->bdat_discard = 0;
		/* RFC 3030 4.2: a failed chunk fails the transaction. */
		engine_tx_reset(s, 1);
		engine_reply(s, s->bdat_err_code, s->bdat_err_enh, "%s",
		    s->bdat_err_text);
		return;
	}
	if (s->bdat_last) {
		data_finish(s);
		return;
	}
	if (s->data_err != 0) {
		engine_chunk_flush(s);
		data_error_reply(s);
		engine_tx_reset(s, 0);
		return;
	}
	engine_reply(s, 250, "2.0.0",
	    "%" PRIu64 " octets received", s->bdat_size);
}

/*
 * The caller's answers.
 */

void
smtp_session_reply_mail(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!engine_answer_expected(s, P_MAIL, __func__))
		return;
	if (ok) {
		engine_enter_state(s, S_MAIL);
		engine_reply_caller(s, 1, code, enh, text, 250, "2.1.0", "Ok");
	} else {
		memset(&s->mail, 0, sizeof(s->mail));
		engine_reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	}
	engine_process(s);
}

void
smtp_session_reply_rcpt(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!engine_answer_expected(s, P_RCPT, __func__))
		return;
	if (ok) {
		s->nrcpt++;
		rcpt_seen(s, s->rcpt.rcpt.addr, 1);
		engine_enter_state(s, S_RCPT);
		engine_reply_caller(s, 1, code, enh, text, 250, "2.1.5", "Ok");
	} else
		engine_reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	engine_process(s);
}

void
smtp_session_reply_data_start(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (!engine_answer_expected(s, P_DATA_START, __func__))
		return;
	if (s->bdat_seen) {
		if (ok) {
			data_begin(s);
			bdat_chunk_begin(s);
		} else {
			if (code < 400 || code > 599)
				code = 451;
			if (!engine_enhanced_valid(enh, code))
				enh = code >= 500 ? "5.0.0" : "4.0.0";
			engine_sanitize(t, sizeof(t),
			    text != NULL && *text != '\0' ? text :
			    "Requested action not taken");
			bdat_refuse(s, code, enh, t);
		}
	} else if (ok) {
		data_begin(s);
		engine_enter_state(s, S_DATA);
		/* RFC 5321 4.3.2: 354 is an intermediate reply, no code. */
		engine_reply_raw(s, "354 End data with <CR><LF>.<CR><LF>\r\n",
		    sizeof("354 End data with <CR><LF>.<CR><LF>\r\n") - 1);
	} else
		engine_reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	engine_process(s);
}

void
smtp_session_reply_data(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!engine_answer_expected(s, P_DATA_END, __func__))
		return;
	engine_reply_caller(s, ok, code, enh, text, 250, "2.0.0",
	    "Message accepted");
	if (ok)
		s->idle_commands = 0;	/* mail moved: a new budget */
	engine_tx_reset(s, 0);
	engine_process(s);
}

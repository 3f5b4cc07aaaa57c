/*
 * The SMTP server protocol engine, free of I/O (see smtp_session.h for the
 * caller's side of the contract).
 *
 * Implements RFC 5321 (commands 4.1.1, sequencing 4.1.4, replies 4.2 and
 * 4.3.2, limits 4.5.3.1, dot-stuffing 4.5.2, Received 4.4), PIPELINING
 * (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * ENHANCEDSTATUSCODES (RFC 2034, 3463), CHUNKING (RFC 3030), DSN (RFC
 * 3461), STARTTLS (RFC 3207), REQUIRETLS (RFC 8689) and AUTH (RFC 4954)
 * with the PLAIN (RFC 4616) and LOGIN mechanisms, offered only inside TLS;
 * the credentials are checked by the caller (on_auth).
 *
 * Hostile input: a bare CR or LF is never a line ending (RFC 5321 2.3.8):
 * in commands it is refused, in DATA or BDAT content it makes the message
 * be rejected, so "\n.\n" is never an end of data (SMTP smuggling).  Input
 * pipelined behind STARTTLS is dropped (RFC 3207 4.2, CVE-2011-0411).
 *
 * Deliberately not here: sockets, TLS, timers, the queue, credentials,
 * other SASL mechanisms (CRAM-MD5 needs the clear password stored),
 * BINARYMIME (refused: bare CR and LF are never accepted), VRFY and EXPN
 * answers (always 252, RFC 5321 3.5.3).
 */
#include <sys/types.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "smtpd/engine.h"
#include "util.h"

enum smtp_state {
	S_INIT,		/* waiting for EHLO or HELO */
	S_HELO,		/* greeted, no transaction */
	S_MAIL,		/* sender accepted, no recipient yet */
	S_RCPT,		/* at least one recipient accepted */
	S_DATA,		/* reading DATA content */
	S_BDAT,		/* reading the octets of a BDAT chunk */
	S_QUIT		/* closing */
};

static const char *const state_names[] = {
	"INIT", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"
};

/* The decision the engine waits for; input is held meanwhile. */
enum smtp_pending {
	P_NONE,
	P_MAIL,
	P_RCPT,
	P_DATA_START,
	P_DATA_END,
	P_STARTTLS,
	P_AUTH
};

/* Where an AUTH exchange is (RFC 4954 4). */
enum auth_step {
	A_NONE,
	A_PLAIN,	/* 334 sent, waiting for the PLAIN response */
	A_LOGIN_USER,	/* 334 "Username:" sent */
	A_LOGIN_PASS	/* 334 "Password:" sent */
};

/* Where the DATA scanner is in a line (dot-stuffing and terminator). */
enum data_pos {
	D_BOL,		/* after CRLF, or at the start */
	D_TEXT,
	D_DOT,		/* "." at the start of a line */
	D_DOTCR		/* ".\r" at the start of a line */
};

struct smtp_session {
	struct smtp_session_conf conf;
	char			 hostname[SMTP_DOMAIN_MAX + 1];
	struct smtp_session_cb	 cb;
	void			*arg;

	enum smtp_state		 state;
	enum smtp_pending	 pending;
	struct buf		 in;
	struct buf		 out;
	uint8_t			 chunk[SMTP_CHUNK_MAX];	/* not yet handed over */
	size_t			 chunklen;
	int			 started;
	int			 closing;
	int			 in_process;
	int			 out_blocked;
	int			 drop_input;	/* after STARTTLS */
	int			 skip_line;	/* rest of an over-long line */
	unsigned int		 errors;

	int			 esmtp;
	int			 tls;
	char			 tls_version[32];
	char			 tls_cipher[128];
	char			 helo[SMTP_HELO_MAX + 1];

	/* AUTH: the exchange, then who authenticated. */
	enum auth_step		 auth_step;
	char			 auth_login[SMTP_AUTH_USER_MAX + 1];
	char			 auth_pending_user[SMTP_AUTH_USER_MAX + 1];
	int			 wipe_in;	/* input held a response */
	int			 authenticated;
	char			 auth_user[SMTP_AUTH_USER_MAX + 1];

	/* The transaction. */
	struct smtp_mail	 mail;
	struct smtp_rcpt	 rcpt;		/* the one being decided */
	size_t			 nrcpt;
	int			 bdat_seen;	/* RFC 3030: no DATA after BDAT */

	/* The message content. */
	int			 data_open;	/* started, not ended/aborted */
	enum smtp_abort		 data_err;
	enum data_pos		 dpos;
	uint64_t		 data_size;
	size_t			 line_len;
	int			 prev_cr;

	/* The BDAT chunk being read. */
	uint64_t		 bdat_size;
	uint64_t		 bdat_left;
	int			 bdat_last;
	enum smtp_state		 bdat_prev;	/* state around the chunk */
	int			 bdat_discard;	/* read and drop, then reply: */
	int			 bdat_err_code;
	char			 bdat_err_enh[16];
	char			 bdat_err_text[SMTP_REPLY_TEXT_MAX + 1];
};

struct smtp_cmd {
	const char	*name;
	int		(*check)(struct smtp_session *, const char *);
	void		(*proceed)(struct smtp_session *, const char *);
};

static void	session_enter_state(struct smtp_session *, enum smtp_state);
static void	session_process(struct smtp_session *);
static void	reply(struct smtp_session *, int, const char *, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static void	reply_raw(struct smtp_session *, const char *, size_t);
static void	tx_reset(struct smtp_session *, int);
static void	data_begin(struct smtp_session *);
static void	data_fail(struct smtp_session *, enum smtp_abort);
static void	data_finish(struct smtp_session *);
static void	bdat_chunk_begin(struct smtp_session *);
static void	bdat_chunk_done(struct smtp_session *);
static void	chunk_flush(struct smtp_session *);

static int	check_helo(struct smtp_session *, const char *);
static void	proceed_ehlo(struct smtp_session *, const char *);
static void	proceed_helo(struct smtp_session *, const char *);
static int	check_mail(struct smtp_session *, const char *);
static void	proceed_mail(struct smtp_session *, const char *);
static int	check_rcpt(struct smtp_session *, const char *);
static void	proceed_rcpt(struct smtp_session *, const char *);
static int	check_data(struct smtp_session *, const char *);
static void	proceed_data(struct smtp_session *, const char *);
static int	check_bdat(struct smtp_session *, const char *);
static void	proceed_bdat(struct smtp_session *, const char *);
static int	check_noargs(struct smtp_session *, const char *);
static void	proceed_rset(struct smtp_session *, const char *);
static void	proceed_noop(struct smtp_session *, const char *);
static void	proceed_quit(struct smtp_session *, const char *);
static void	proceed_help(struct smtp_session *, const char *);
static int	check_vrfy(struct smtp_session *, const char *);
static void	proceed_vrfy(struct smtp_session *, const char *);
static int	check_starttls(struct smtp_session *, const char *);
static void	proceed_starttls(struct smtp_session *, const char *);
static int	check_auth(struct smtp_session *, const char *);
static void	proceed_auth(struct smtp_session *, const char *);
static void	auth_response(struct smtp_session *, const char *);

static const struct smtp_cmd commands[] = {
	{ "EHLO",	check_helo,	proceed_ehlo },
	{ "HELO",	check_helo,	proceed_helo },
	{ "MAIL",	check_mail,	proceed_mail },
	{ "RCPT",	check_rcpt,	proceed_rcpt },
	{ "DATA",	check_data,	proceed_data },
	{ "BDAT",	check_bdat,	proceed_bdat },
	{ "RSET",	check_noargs,	proceed_rset },
	{ "NOOP",	NULL,		proceed_noop },	/* 4.1.1.9: any args */
	{ "QUIT",	check_noargs,	proceed_quit },
	{ "HELP",	NULL,		proceed_help },
	{ "VRFY",	check_vrfy,	proceed_vrfy },
	{ "EXPN",	check_vrfy,	proceed_vrfy },
	{ "STARTTLS",	check_starttls,	proceed_starttls },
	{ "AUTH",	check_auth,	proceed_auth },
};

struct smtp_session *
smtp_session_new(const struct smtp_session_conf *conf,
    const struct smtp_session_cb *cb, void *arg)
{
	struct smtp_session	*s;

	s = xcalloc(1, sizeof(*s));
	s->conf = *conf;
	if (s->conf.max_size == 0)
		s->conf.max_size = SMTP_DEFAULT_MAX_SIZE;
	if (s->conf.max_rcpts == 0)
		s->conf.max_rcpts = SMTP_DEFAULT_MAX_RCPTS;
	if (s->conf.max_errors == 0)
		s->conf.max_errors = SMTP_DEFAULT_MAX_ERRORS;
	strlcpy(s->hostname, conf->hostname != NULL ? conf->hostname :
	    "localhost", sizeof(s->hostname));
	s->conf.hostname = s->hostname;
	s->cb = *cb;
	s->arg = arg;
	s->tls = (conf->flags & SMTP_CONF_TLS_ACTIVE) != 0;
	buf_init(&s->in, SMTP_INBUF_MAX);
	buf_init(&s->out, SMTP_OUTBUF_MAX);
	s->state = S_INIT;
	return s;
}

void
smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	/* The input may hold an AUTH response: base64 is no protection. */
	if (s->in.data != NULL)
		explicit_bzero(s->in.data, s->in.cap);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s);
}

/* RFC 5321 4.2, 3.1: the greeting.  No enhanced code (RFC 2034 3). */
void
smtp_session_start(struct smtp_session *s)
{
	char	 line[SMTP_DOMAIN_MAX + 64];
	int	 n;

	if (s->started)
		return;
	s->started = 1;
	n = snprintf(line, sizeof(line), "220 %s ESMTP postern\r\n",
	    s->hostname);
	reply_raw(s, line, (size_t)n);
}

/* Every state change passes here, so that it can be traced. */
static void
session_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("smtp session %p: %s -> %s", (void *)s,
	    state_names[s->state], state_names[st]);
	s->state = st;
}

static void
session_close(struct smtp_session *s)
{
	s->closing = 1;
	session_enter_state(s, S_QUIT);
}

static void
reply_raw(struct smtp_session *s, const char *line, size_t len)
{
	if (buf_add(&s->out, line, len) == -1) {
		/* The caller stopped draining: nothing sane is left to do. */
		log_warnx("smtp session %p: output overflow", (void *)s);
		session_close(s);
	}
}

/*
 * A single-line reply with an enhanced status code (RFC 2034, 3463).
 * Permanent errors count towards the session's error limit.
 */
static void
reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	char	 text[SMTP_REPLY_TEXT_MAX + 1], line[SMTP_REPLY_TEXT_MAX + 32];
	va_list	 ap;
	int	 n;

	if (s->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line), "%03d %s %s\r\n", code, enh, text);
	if (n < 0 || (size_t)n >= sizeof(line))
		fatalx("%s: reply too long", __func__);
	reply_raw(s, line, (size_t)n);
	if (code >= 500 && ++s->errors >= s->conf.max_errors) {
		reply(s, 421, "4.7.0", "%s Too many errors, closing "
		    "connection", s->hostname);
		session_close(s);
	}
}

/* Text from the caller goes on the wire: printable ASCII only. */
static void
sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] >= 32 && src[i] <= 126) ? src[i] : '?';
	dst[i] = '\0';
}

/* RFC 3463 2: class "." subject "." detail, class matching the code. */
static int
enhanced_valid(const char *e, int code)
{
	size_t	 i, n;
	int	 part;

	if (e == NULL || e[0] != '0' + code / 100 || e[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; e[i] >= '0' && e[i] <= '9'; i++, n++)
			;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0 && e[i++] != '.')
			return 0;
	}
	return e[i] == '\0';
}

/* A reply chosen by the caller, checked and defaulted. */
static void
reply_caller(struct smtp_session *s, int ok, int code, const char *enh,
    const char *text, int defcode, const char *defenh, const char *deftext)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (ok ? (code < 200 || code > 299) : (code < 400 || code > 599)) {
		code = ok ? defcode : 451;
		enh = NULL;
	}
	if (!enhanced_valid(enh, code)) {
		if (ok)
			enh = defenh;
		else
			enh = code >= 500 ? "5.0.0" : "4.0.0";
	}
	if (text == NULL || *text == '\0')
		text = ok ? deftext : "Requested action not taken";
	sanitize(t, sizeof(t), text);
	reply(s, code, enh, "%s", t);
}

/*
 * Drop the transaction (RFC 5321 4.1.1.5); an open one is reported to the
 * caller, and a message being read is aborted first.
 */
static void
tx_reset(struct smtp_session *s, int notify)
{
	int	 open;

	open = s->state == S_MAIL || s->state == S_RCPT ||
	    s->state == S_DATA || s->state == S_BDAT;
	if (s->data_open) {
		s->data_open = 0;
		s->chunklen = 0;
		if (s->cb.on_data_abort != NULL)
			s->cb.on_data_abort(s->arg, SMTP_ABORT_RESET);
	}
	memset(&s->mail, 0, sizeof(s->mail));
	memset(&s->rcpt, 0, sizeof(s->rcpt));
	s->nrcpt = 0;
	s->bdat_seen = 0;
	s->data_err = 0;
	s->data_size = 0;
	if (open && notify && s->cb.on_rset != NULL)
		s->cb.on_rset(s->arg);
	if (s->state != S_INIT && s->state != S_QUIT)
		session_enter_state(s, S_HELO);
}

/*
 * Input.
 */

size_t
smtp_session_input(struct smtp_session *s, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 taken = 0, n, before;

	for (;;) {
		/* RFC 3207 4.2: nothing sent before TLS is kept. */
		if (s->closing || s->pending == P_STARTTLS)
			return len;
		n = SMTP_INBUF_MAX - s->in.len;
		if (n > len - taken)
			n = len - taken;
		if (n > 0 && buf_add(&s->in, p + taken, n) == 0)
			taken += n;
		before = s->in.len;
		session_process(s);
		if (s->closing || s->pending == P_STARTTLS)
			return len;
		if (taken == len)
			return taken;
		if (s->in.len == before && s->in.len >= SMTP_INBUF_MAX)
			return taken;
	}
}

const uint8_t *
smtp_session_output(struct smtp_session *s, size_t *len)
{
	*len = s->out.len;
	return s->out.data;
}

void
smtp_session_output_consume(struct smtp_session *s, size_t n)
{
	buf_consume(&s->out, n);
	if (s->out_blocked && s->out.len <= SMTP_OUT_HIGHWATER) {
		s->out_blocked = 0;
		session_process(s);
	}
}

int
smtp_session_closing(const struct smtp_session *s)
{
	return s->closing;
}

/* One command line, without its CRLF. */
static void
command(struct smtp_session *s, const char *line)
{
	const struct smtp_cmd	*cmd = NULL;
	const char		*args;
	size_t			 i, vlen;

	vlen = strcspn(line, " ");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strlen(commands[i].name) == vlen &&
		    strncasecmp(commands[i].name, line, vlen) == 0) {
			cmd = &commands[i];
			break;
		}
	}
	if (cmd == NULL) {
		reply(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	args = line + vlen;
	while (*args == ' ')
		args++;
	if (cmd->check != NULL && cmd->check(s, args) == -1)
		return;
	cmd->proceed(s, args);
}

/*
 * Is this (maybe partial) line an AUTH command or response?  Those may be
 * longer than a command line (RFC 4954 4).
 */
static int
auth_line(const struct smtp_session *s, const uint8_t *p, size_t len)
{
	if (s->auth_step != A_NONE)
		return 1;
	return len >= 5 && strncasecmp((const char *)p, "AUTH ", 5) == 0 &&
	    (s->conf.flags & SMTP_CONF_AUTH);
}

/* An AUTH line over the bound: RFC 4954 4, 500 5.5.6, the exchange ends. */
static void
auth_too_long(struct smtp_session *s)
{
	s->auth_step = A_NONE;
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
	reply(s, 500, "5.5.6", "Authentication exchange line is too long");
}

/*
 * Command mode: returns the octets used, 0 when a line is not complete.
 * RFC 5321 2.3.8: only CRLF ends a line; a bare LF is refused.
 */
static size_t
line_input(struct smtp_session *s, const uint8_t *p, size_t len)
{
	char		 line[SMTP_CMD_LINE_MAX + 1], *aline;
	const uint8_t	*lf;
	size_t		 i, n, max;
	int		 isauth;

	lf = memchr(p, '\n', len);
	if (s->skip_line) {
		if (lf == NULL)
			return len;
		s->skip_line = 0;
		return lf - p + 1;
	}
	isauth = auth_line(s, p, len);
	max = isauth ? SMTP_AUTH_LINE_MAX + 2 : SMTP_CMD_LINE_MAX;
	if (lf == NULL) {
		/* RFC 5321 4.5.3.1.4 */
		if (len >= max) {
			if (isauth)
				auth_too_long(s);
			else
				reply(s, 500, "5.5.2", "Line too long");
			s->skip_line = 1;
			return len;
		}
		return 0;
	}
	n = lf - p + 1;
	if (n > max) {
		if (isauth)
			auth_too_long(s);
		else
			reply(s, 500, "5.5.2", "Line too long");
		return n;
	}
	if (n < 2 || p[n - 2] != '\r') {
		s->auth_step = A_NONE;
		reply(s, 500, "5.5.2", "Bare LF not allowed");
		return n;
	}
	for (i = 0; i < n - 2; i++) {
		if (p[i] == '\0' || p[i] == '\r') {
			s->auth_step = A_NONE;
			reply(s, 500, "5.5.2", "Invalid character in command");
			return n;
		}
	}
	if (!isauth) {
		memcpy(line, p, n - 2);
		line[n - 2] = '\0';
		command(s, line);
		return n;
	}
	/* It may carry a password: wiped once used. */
	aline = xmalloc(n - 1);
	memcpy(aline, p, n - 2);
	aline[n - 2] = '\0';
	if (s->auth_step != A_NONE)
		auth_response(s, aline);
	else
		command(s, aline);
	explicit_bzero(aline, n - 1);
	free(aline);
	return n;
}

static void
chunk_flush(struct smtp_session *s)
{
	if (s->chunklen == 0)
		return;
	if (s->data_open && s->data_err == 0 && s->cb.on_data_chunk != NULL)
		s->cb.on_data_chunk(s->arg, s->chunk, s->chunklen);
	s->chunklen = 0;
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
	if (s->chunklen == sizeof(s->chunk))
		chunk_flush(s);
	s->chunk[s->chunklen++] = c;
}

/* DATA content: RFC 5321 4.5.2 dot-unstuffing, 4.1.1.4 CRLF.CRLF. */
static size_t
data_input(struct smtp_session *s, const uint8_t *p, size_t len)
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

static size_t
bdat_input(struct smtp_session *s, const uint8_t *p, size_t len)
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
session_process(struct smtp_session *s)
{
	size_t	 off = 0, n;

	if (s->in_process)
		return;
	s->in_process = 1;
	while (!s->closing && s->pending == P_NONE && off < s->in.len) {
		if (s->out.len > SMTP_OUT_HIGHWATER) {
			s->out_blocked = 1;
			break;
		}
		if (s->state == S_DATA)
			n = data_input(s, s->in.data + off, s->in.len - off);
		else if (s->state == S_BDAT)
			n = bdat_input(s, s->in.data + off, s->in.len - off);
		else if ((n = line_input(s, s->in.data + off,
		    s->in.len - off)) == 0)
			break;
		off += n;
		if (s->drop_input) {
			/* RFC 3207 4.2, CVE-2011-0411 */
			s->drop_input = 0;
			off = s->in.len;
		}
	}
	if (s->closing)
		off = s->in.len;
	buf_consume(&s->in, off);
	if (s->wipe_in) {
		/* What moved forward left its old copy behind. */
		s->wipe_in = 0;
		if (s->in.data != NULL && s->in.cap > s->in.len)
			explicit_bzero(s->in.data + s->in.len,
			    s->in.cap - s->in.len);
	}
	chunk_flush(s);
	s->in_process = 0;
}

/*
 * The message content.
 */

static void
data_begin(struct smtp_session *s)
{
	s->data_open = 1;
	s->data_err = 0;
	s->data_size = 0;
	s->line_len = 0;
	s->prev_cr = 0;
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
		reply(s, 554, "5.6.0", "Bare CR or LF not allowed "
		    "(RFC 5321 2.3.8), message rejected");
		break;
	case SMTP_ABORT_LINE_TOO_LONG:
		reply(s, 554, "5.6.0", "Line over 1000 octets "
		    "(RFC 5321 4.5.3.1.6), message rejected");
		break;
	case SMTP_ABORT_TOO_BIG:
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
		    "message size");
		break;
	default:
		reply(s, 554, "5.5.0", "Message rejected");
		break;
	}
}

/* End of the content (DATA terminator or BDAT LAST). */
static void
data_finish(struct smtp_session *s)
{
	session_enter_state(s, S_RCPT);
	if (s->data_err == 0 && s->prev_cr)
		data_fail(s, SMTP_ABORT_BARE_CRLF);
	chunk_flush(s);
	if (s->data_err != 0) {
		data_error_reply(s);
		tx_reset(s, 0);
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
check_noargs(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		reply(s, 501, "5.5.4", "Syntax error, no parameters allowed");
		return -1;
	}
	return 0;
}

/*
 * RFC 5321 4.1.1.1: EHLO SP ( Domain / address-literal ).  Clients get
 * this wrong often enough that any printable word is taken; the Received
 * header shows it only when it is a valid name.
 */
static int
check_helo(struct smtp_session *s, const char *args)
{
	size_t	 i;

	if (*args == '\0') {
		reply(s, 501, "5.5.4", "Syntax: EHLO hostname");
		return -1;
	}
	for (i = 0; args[i] != '\0'; i++) {
		if (args[i] == ' ')
			break;
		if ((unsigned char)args[i] < 33 ||
		    (unsigned char)args[i] > 126 || i >= SMTP_HELO_MAX) {
			reply(s, 501, "5.5.4", "Invalid domain name");
			return -1;
		}
	}
	return 0;
}

static void
helo_common(struct smtp_session *s, const char *args, int esmtp)
{
	size_t	 len;

	/* RFC 5321 4.1.4: EHLO in a transaction resets it. */
	tx_reset(s, 1);
	len = strcspn(args, " ");
	if (len >= sizeof(s->helo))
		len = sizeof(s->helo) - 1;
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	s->esmtp = esmtp;
	session_enter_state(s, S_HELO);
	if (s->cb.on_helo != NULL)
		s->cb.on_helo(s->arg, s->helo, esmtp);
}

static void
proceed_ehlo(struct smtp_session *s, const char *args)
{
	const char	*ext[12];
	char		 size[32], first[SMTP_DOMAIN_MAX + 16];
	size_t		 n = 0, i;
	int		 r;

	helo_common(s, args, 1);
	if (s->closing)
		return;
	snprintf(first, sizeof(first), "%s Hello", s->hostname);
	snprintf(size, sizeof(size), "SIZE %" PRIu64, s->conf.max_size);
	ext[n++] = first;
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	ext[n++] = "8BITMIME";
	ext[n++] = "SMTPUTF8";
	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "CHUNKING";
	ext[n++] = "DSN";
	/* RFC 3207 4.2: not once TLS is on. */
	if ((s->conf.flags & SMTP_CONF_STARTTLS) && !s->tls)
		ext[n++] = "STARTTLS";
	/* RFC 8689 4.1: only inside TLS. */
	if (s->tls)
		ext[n++] = "REQUIRETLS";
	/* RFC 4954 4: no plaintext passwords outside a protected session. */
	if ((s->conf.flags & SMTP_CONF_AUTH) && s->tls)
		ext[n++] = "AUTH PLAIN LOGIN";
	/*
	 * RFC 5321 4.2.1: "250-" on all lines but the last; RFC 2034 3: no
	 * enhanced codes in the EHLO response.
	 */
	for (i = 0; i < n; i++) {
		char	 line[SMTP_DOMAIN_MAX + 32];

		r = snprintf(line, sizeof(line), "250%c%s\r\n",
		    i + 1 < n ? '-' : ' ', ext[i]);
		if (r < 0 || (size_t)r >= sizeof(line))
			fatalx("%s: reply too long", __func__);
		reply_raw(s, line, (size_t)r);
	}
}

static void
proceed_helo(struct smtp_session *s, const char *args)
{
	char	 line[SMTP_DOMAIN_MAX + 16];
	int	 n;

	helo_common(s, args, 0);
	if (s->closing)
		return;
	/* RFC 5321 4.1.1.1: HELO gets no extensions. */
	n = snprintf(line, sizeof(line), "250 %s\r\n", s->hostname);
	reply_raw(s, line, (size_t)n);
}

static int
path_reply(struct smtp_session *s, int err)
{
	if (err == SMTP_ADDR_ELONG)
		reply(s, 501, "5.1.3", "Address too long");
	else
		reply(s, 501, "5.1.3", "Bad address syntax");
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

static int
check_mail(struct smtp_session *s, const char *args)
{
	struct smtp_perr	 err;
	const char		*p;
	size_t			 used;
	int			 r;

	if (s->state == S_INIT) {
		reply(s, 503, "5.5.1", "Send EHLO or HELO first");
		return -1;
	}
	if (s->state != S_HELO) {
		reply(s, 503, "5.5.1", "Nested MAIL command");
		return -1;
	}
	if ((s->conf.flags & SMTP_CONF_TLS_REQUIRED) && !s->tls) {
		reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return -1;
	}
	/* RFC 4954 6: 530 5.7.0 when the policy needs AUTH first. */
	if ((s->conf.flags & SMTP_CONF_AUTH_REQUIRED) && !s->authenticated) {
		reply(s, 530, "5.7.0", "Authentication required");
		return -1;
	}
	if ((p = path_start(args, "FROM:")) == NULL) {
		reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return -1;
	}
	if ((r = smtp_path_parse(p, SMTP_PATH_NULL_OK, &s->mail.sender,
	    &used)) != SMTP_ADDR_OK)
		return path_reply(s, r);
	/* Parameters only with EHLO (RFC 5321 4.1.1.2, 1869). */
	if (!s->esmtp && p[used] != '\0') {
		reply(s, 555, "5.5.4", "Parameters need EHLO");
		return -1;
	}
	if (smtp_mail_params_parse(p + used, s->tls ? SMTP_PARAM_TLS : 0,
	    s->conf.max_size, &s->mail.params, &err) == -1) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		return -1;
	}
	/* RFC 6531 3.4: UTF-8 addresses only with SMTPUTF8. */
	if (s->mail.sender.utf8 && !s->mail.params.smtputf8) {
		reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		return -1;
	}
	return 0;
}

static void
proceed_mail(struct smtp_session *s, const char *args)
{
	s->pending = P_MAIL;
	if (s->cb.on_mail != NULL)
		s->cb.on_mail(s->arg, &s->mail);
	else
		smtp_session_reply_mail(s, 1, 0, NULL, NULL);
}

static int
check_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_perr	 err;
	const char		*p;
	size_t			 used;
	int			 r;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		return -1;
	}
	if (s->bdat_seen) {
		reply(s, 503, "5.5.1", "RCPT after BDAT");
		return -1;
	}
	if ((p = path_start(args, "TO:")) == NULL) {
		reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return -1;
	}
	if ((r = smtp_path_parse(p, SMTP_PATH_POSTMASTER, &s->rcpt.rcpt,
	    &used)) != SMTP_ADDR_OK)
		return path_reply(s, r);
	if (!s->esmtp && p[used] != '\0') {
		reply(s, 555, "5.5.4", "Parameters need EHLO");
		return -1;
	}
	if (smtp_rcpt_params_parse(p + used, s->tls ? SMTP_PARAM_TLS : 0,
	    &s->rcpt.params, &err) == -1) {
		reply(s, err.code, err.enhanced, "%s", err.text);
		return -1;
	}
	if (s->rcpt.rcpt.utf8 && !s->mail.params.smtputf8) {
		reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		return -1;
	}
	/* RFC 5321 4.5.3.1.8: refuse the extra ones, temporarily. */
	if (s->nrcpt >= s->conf.max_rcpts) {
		reply(s, 452, "4.5.3", "Too many recipients");
		return -1;
	}
	return 0;
}

static void
proceed_rcpt(struct smtp_session *s, const char *args)
{
	s->pending = P_RCPT;
	if (s->cb.on_rcpt != NULL)
		s->cb.on_rcpt(s->arg, &s->rcpt);
	else
		smtp_session_reply_rcpt(s, 0, 550, "5.7.1", "Relay denied");
}

static int
check_data(struct smtp_session *s, const char *args)
{
	if (check_noargs(s, args) == -1)
		return -1;
	if (s->bdat_seen) {
		/* RFC 3030 2: no DATA in a BDAT transaction. */
		reply(s, 503, "5.5.1", "DATA after BDAT");
		return -1;
	}
	if (s->state == S_MAIL) {
		reply(s, 554, "5.5.1", "No valid recipients");
		return -1;
	}
	if (s->state != S_RCPT) {
		reply(s, 503, "5.5.1", "Need RCPT before DATA");
		return -1;
	}
	return 0;
}

static void
proceed_data(struct smtp_session *s, const char *args)
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
static int
check_bdat(struct smtp_session *s, const char *args)
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
		reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		reply(s, 421, "4.7.0", "%s Closing connection", s->hostname);
		session_close(s);
		return -1;
	}
	memcpy(num, args, n);
	num[n] = '\0';
	size = strtonum(num, 0, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
		    "message size");
		reply(s, 421, "4.7.0", "%s Closing connection", s->hostname);
		session_close(s);
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
	sanitize(s->bdat_err_text, sizeof(s->bdat_err_text), text);
	bdat_chunk_begin(s);
}

static void
proceed_bdat(struct smtp_session *s, const char *args)
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
		session_enter_state(s, S_BDAT);
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	session_enter_state(s, s->bdat_prev);
	if (s->bdat_discard) {
		s->bdat_discard = 0;
		/* RFC 3030 4.2: a failed chunk fails the transaction. */
		tx_reset(s, 1);
		reply(s, s->bdat_err_code, s->bdat_err_enh, "%s",
		    s->bdat_err_text);
		return;
	}
	if (s->bdat_last) {
		data_finish(s);
		return;
	}
	if (s->data_err != 0) {
		chunk_flush(s);
		data_error_reply(s);
		tx_reset(s, 0);
		return;
	}
	reply(s, 250, "2.0.0", "%" PRIu64 " octets received", s->bdat_size);
}

static void
proceed_rset(struct smtp_session *s, const char *args)
{
	tx_reset(s, 1);
	reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_noop(struct smtp_session *s, const char *args)
{
	reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_quit(struct smtp_session *s, const char *args)
{
	tx_reset(s, 1);
	reply(s, 221, "2.0.0", "%s Bye", s->hostname);
	session_close(s);
	if (s->cb.on_quit != NULL)
		s->cb.on_quit(s->arg);
}

static void
proceed_help(struct smtp_session *s, const char *args)
{
	reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH");
}

static int
check_vrfy(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		reply(s, 501, "5.5.4", "Argument required");
		return -1;
	}
	return 0;
}

/* RFC 5321 3.5.3: 252, and nothing about the mailbox is revealed. */
static void
proceed_vrfy(struct smtp_session *s, const char *args)
{
	reply(s, 252, "2.5.0", "Cannot verify, but will accept message and "
	    "attempt delivery");
}

static int
check_starttls(struct smtp_session *s, const char *args)
{
	if ((s->conf.flags & SMTP_CONF_STARTTLS) == 0) {
		reply(s, 502, "5.5.1", "Command not implemented");
		return -1;
	}
	if (s->tls) {
		reply(s, 503, "5.5.1", "TLS already active");
		return -1;
	}
	if (check_noargs(s, args) == -1)
		return -1;
	if (s->state == S_INIT) {
		reply(s, 503, "5.5.1", "Send EHLO first");
		return -1;
	}
	if (s->state != S_HELO) {
		reply(s, 503, "5.5.1", "STARTTLS inside a transaction");
		return -1;
	}
	return 0;
}

static void
proceed_starttls(struct smtp_session *s, const char *args)
{
	reply(s, 220, "2.0.0", "Ready to start TLS");
	/* RFC 3207 4.2, CVE-2011-0411: what follows was sent in clear. */
	s->drop_input = 1;
	s->pending = P_STARTTLS;
	if (s->cb.on_starttls != NULL)
		s->cb.on_starttls(s->arg);
}

/*
 * AUTH (RFC 4954).
 */

static int
check_auth(struct smtp_session *s, const char *args)
{
	size_t	 mlen;

	if ((s->conf.flags & SMTP_CONF_AUTH) == 0) {
		reply(s, 502, "5.5.1", "Command not implemented");
		return -1;
	}
	/* RFC 4954 4: AUTH is an ESMTP command, after EHLO. */
	if (s->state == S_INIT || !s->esmtp) {
		reply(s, 503, "5.5.1", "Send EHLO first");
		return -1;
	}
	/* RFC 4954 4: "MUST reject any further AUTH commands" */
	if (s->authenticated) {
		reply(s, 503, "5.5.1", "Already authenticated");
		return -1;
	}
	/* RFC 4954 4: "MUST NOT be issued ... during a mail transaction" */
	if (s->state != S_HELO) {
		reply(s, 503, "5.5.1", "AUTH not permitted during a mail "
		    "transaction");
		return -1;
	}
	/*
	 * RFC 4954 4: no plaintext password mechanism without a protected
	 * session; 538 5.7.11 is its reply (RFC 4954 6).
	 */
	if (!s->tls) {
		reply(s, 538, "5.7.11", "Encryption required for requested "
		    "authentication mechanism");
		return -1;
	}
	mlen = strcspn(args, " ");
	if (mlen == 0 || (args[mlen] == ' ' && (args[mlen + 1] == '\0' ||
	    strchr(args + mlen + 1, ' ') != NULL))) {
		reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		return -1;
	}
	if (!(mlen == 5 && strncasecmp(args, "PLAIN", 5) == 0) &&
	    !(mlen == 5 && strncasecmp(args, "LOGIN", 5) == 0)) {
		reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return -1;
	}
	return 0;
}

static void
auth_end(struct smtp_session *s)
{
	s->auth_step = A_NONE;
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
}

/*
 * Decode one base64 response (RFC 4954 4: "=" alone is an empty one).
 * Returns the decoded length, or -1 after the 501 reply.  Whitespace is
 * not base64 here, whatever b64_decode() forgives.
 */
static ssize_t
auth_decode(struct smtp_session *s, const char *in, uint8_t *out,
    size_t outsz)
{
	uint8_t	*dec = NULL;
	size_t	 declen = 0, inlen;
	ssize_t	 rv = -1;

	inlen = strlen(in);
	if (inlen == 1 && in[0] == '=')
		return 0;
	if (inlen == 0 || strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/=") != inlen ||
	    b64_decode(in, inlen, &dec, &declen) == -1) {
		auth_end(s);
		reply(s, 501, "5.5.2", "Invalid base64 data");
		goto done;
	}
	if (declen > outsz) {
		auth_end(s);
		reply(s, 501, "5.5.2", "Authentication data too long");
		goto done;
	}
	if (declen > 0)
		memcpy(out, dec, declen);
	rv = (ssize_t)declen;
 done:
	if (dec != NULL) {
		explicit_bzero(dec, declen);
		free(dec);
	}
	return rv;
}

/*
 * A user name: bounded, and neither NUL nor control characters (it goes
 * to logs); UTF-8 passes (RFC 4616 2: UTF-8, SASLprep is the checker's).
 */
static int
auth_user_valid(const uint8_t *u, size_t len)
{
	size_t	 i;

	if (len == 0 || len > SMTP_AUTH_USER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (u[i] < 32 || u[i] == 127)
			return 0;
	return 1;
}

/* Both halves in hand: the caller decides. */
static void
auth_check(struct smtp_session *s, const char *mech, const char *user,
    char *pass)
{
	auth_end(s);
	strlcpy(s->auth_pending_user, user, sizeof(s->auth_pending_user));
	s->pending = P_AUTH;
	if (s->cb.on_auth != NULL)
		s->cb.on_auth(s->arg, mech, user, pass);
	else
		smtp_session_reply_auth(s, SMTP_AUTH_TEMPFAIL, 0, NULL, NULL);
}

/*
 * RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.  An
 * authzid other than the authcid would be acting for someone else,
 * which no one may here.
 */
static void
auth_plain(struct smtp_session *s, const char *resp)
{
	uint8_t		 dec[2 * SMTP_AUTH_USER_MAX + SMTP_AUTH_PASS_MAX + 2];
	char		 user[SMTP_AUTH_USER_MAX + 1];
	char		 pass[SMTP_AUTH_PASS_MAX + 1];
	const uint8_t	*n1, *n2, *authcid, *pw;
	ssize_t		 len;
	size_t		 zlen, ulen, plen;

	if ((len = auth_decode(s, resp, dec, sizeof(dec))) == -1)
		return;
	if ((n1 = memchr(dec, '\0', len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', dec + len - (n1 + 1))) == NULL) {
		auth_end(s);
		reply(s, 501, "5.5.2", "Invalid PLAIN response");
		goto done;
	}
	zlen = n1 - dec;
	authcid = n1 + 1;
	ulen = n2 - authcid;
	pw = n2 + 1;
	plen = dec + len - pw;
	if (!auth_user_valid(authcid, ulen) || plen > SMTP_AUTH_PASS_MAX ||
	    memchr(pw, '\0', plen) != NULL) {
		auth_end(s);
		reply(s, 501, "5.5.2", "Invalid PLAIN response");
		goto done;
	}
	if (zlen > 0 && (zlen != ulen || memcmp(dec, authcid, ulen) != 0)) {
		auth_end(s);
		reply(s, 535, "5.7.8", "Authentication credentials invalid");
		goto done;
	}
	memcpy(user, authcid, ulen);
	user[ulen] = '\0';
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	auth_check(s, "PLAIN", user, pass);
 done:
	explicit_bzero(dec, sizeof(dec));
	explicit_bzero(pass, sizeof(pass));
}

/* LOGIN: the user name, then the password, each its own response. */
static void
auth_login(struct smtp_session *s, const char *resp)
{
	char		 buf[SMTP_AUTH_PASS_MAX + 1];
	ssize_t		 len;

	if ((len = auth_decode(s, resp, (uint8_t *)buf,
	    sizeof(buf) - 1)) == -1)
		return;
	if (s->auth_step == A_LOGIN_USER) {
		if (!auth_user_valid((uint8_t *)buf, (size_t)len)) {
			auth_end(s);
			reply(s, 501, "5.5.2", "Invalid user name");
		} else {
			memcpy(s->auth_login, buf, len);
			s->auth_login[len] = '\0';
			s->auth_step = A_LOGIN_PASS;
			reply_raw(s, "334 UGFzc3dvcmQ6\r\n",
			    sizeof("334 UGFzc3dvcmQ6\r\n") - 1);
		}
	} else if (memchr(buf, '\0', len) != NULL) {
		auth_end(s);
		reply(s, 501, "5.5.2", "Invalid password");
	} else {
		char	 user[SMTP_AUTH_USER_MAX + 1];

		buf[len] = '\0';
		strlcpy(user, s->auth_login, sizeof(user));
		auth_check(s, "LOGIN", user, buf);
		explicit_bzero(user, sizeof(user));
	}
	explicit_bzero(buf, sizeof(buf));
}

static void
proceed_auth(struct smtp_session *s, const char *args)
{
	const char	*ir;

	ir = strchr(args, ' ');
	if (ir != NULL)
		ir++;
	if (strncasecmp(args, "PLAIN", 5) == 0) {
		s->auth_step = A_PLAIN;
		if (ir != NULL)
			auth_plain(s, ir);
		else
			/* RFC 4954 4: an empty challenge. */
			reply_raw(s, "334 \r\n", 6);
	} else {
		s->auth_step = A_LOGIN_USER;
		if (ir != NULL)
			auth_login(s, ir);
		else
			reply_raw(s, "334 VXNlcm5hbWU6\r\n",
			    sizeof("334 VXNlcm5hbWU6\r\n") - 1);
	}
}

/* A line of the exchange: a response, or "*" (RFC 4954 4: cancel). */
static void
auth_response(struct smtp_session *s, const char *line)
{
	s->wipe_in = 1;
	if (strcmp(line, "*") == 0) {
		auth_end(s);
		reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->auth_step == A_PLAIN)
		auth_plain(s, line);
	else
		auth_login(s, line);
}

/*
 * The caller's answers.
 */

static int
answer_expected(struct smtp_session *s, enum smtp_pending p, const char *fn)
{
	if (s->pending != p) {
		log_warnx("%s: no such decision pending", fn);
		return 0;
	}
	s->pending = P_NONE;
	/* After a 421 nothing more is said. */
	return !s->closing;
}

void
smtp_session_reply_mail(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!answer_expected(s, P_MAIL, __func__))
		return;
	if (ok) {
		session_enter_state(s, S_MAIL);
		reply_caller(s, 1, code, enh, text, 250, "2.1.0", "Ok");
	} else {
		memset(&s->mail, 0, sizeof(s->mail));
		reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	}
	session_process(s);
}

void
smtp_session_reply_rcpt(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!answer_expected(s, P_RCPT, __func__))
		return;
	if (ok) {
		s->nrcpt++;
		session_enter_state(s, S_RCPT);
		reply_caller(s, 1, code, enh, text, 250, "2.1.5", "Ok");
	} else
		reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	session_process(s);
}

void
smtp_session_reply_data_start(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (!answer_expected(s, P_DATA_START, __func__))
		return;
	if (s->bdat_seen) {
		if (ok) {
			data_begin(s);
			bdat_chunk_begin(s);
		} else {
			if (code < 400 || code > 599)
				code = 451;
			if (!enhanced_valid(enh, code))
				enh = code >= 500 ? "5.0.0" : "4.0.0";
			sanitize(t, sizeof(t), text != NULL && *text != '\0' ?
			    text : "Requested action not taken");
			bdat_refuse(s, code, enh, t);
		}
	} else if (ok) {
		data_begin(s);
		session_enter_state(s, S_DATA);
		/* RFC 5321 4.3.2: 354 is an intermediate reply, no code. */
		reply_raw(s, "354 End data with <CR><LF>.<CR><LF>\r\n",
		    sizeof("354 End data with <CR><LF>.<CR><LF>\r\n") - 1);
	} else
		reply_caller(s, 0, code, enh, text, 0, NULL, NULL);
	session_process(s);
}

void
smtp_session_reply_auth(struct smtp_session *s, enum smtp_auth_result result,
    int code, const char *enh, const char *text)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (!answer_expected(s, P_AUTH, __func__))
		return;
	if (code == 421) {
		/* Too many failures: say so and go. */
		if (!enhanced_valid(enh, code))
			enh = "4.7.0";
		sanitize(t, sizeof(t), text != NULL ? text : "Closing");
		reply(s, 421, enh, "%s %s", s->hostname, t);
		session_close(s);
		return;
	}
	switch (result) {
	case SMTP_AUTH_OK:
		s->authenticated = 1;
		strlcpy(s->auth_user, s->auth_pending_user,
		    sizeof(s->auth_user));
		reply_caller(s, 1, code, enh, text, 235, "2.7.0",
		    "Authentication succeeded");
		break;
	case SMTP_AUTH_FAIL:
		reply_caller(s, 0, code != 0 ? code : 535,
		    enh != NULL ? enh : "5.7.8", text != NULL ? text :
		    "Authentication credentials invalid", 0, NULL, NULL);
		break;
	default:
		reply_caller(s, 0, code != 0 ? code : 454,
		    enh != NULL ? enh : "4.7.0", text != NULL ? text :
		    "Temporary authentication failure", 0, NULL, NULL);
		break;
	}
	explicit_bzero(s->auth_pending_user, sizeof(s->auth_pending_user));
	session_process(s);
}

void
smtp_session_reply_data(struct smtp_session *s, int ok, int code,
    const char *enh, const char *text)
{
	if (!answer_expected(s, P_DATA_END, __func__))
		return;
	reply_caller(s, ok, code, enh, text, 250, "2.0.0",
	    "Message accepted");
	tx_reset(s, 0);
	session_process(s);
}

/*
 * After a STARTTLS handshake: RFC 3207 4.2, the session starts over as if
 * just connected, and the client must send EHLO again.  For implicit TLS
 * (smtps), call it before the first input to record version and cipher.
 */
void
smtp_session_tls_started(struct smtp_session *s, const char *version,
    const char *cipher)
{
	if (s->closing)
		return;
	if (s->pending == P_STARTTLS) {
		s->pending = P_NONE;
		tx_reset(s, 1);
		buf_reset(&s->in);
		s->skip_line = 0;
		s->helo[0] = '\0';
		s->esmtp = 0;
		/* RFC 3207 4.2: everything learnt before is forgotten. */
		auth_end(s);
		s->authenticated = 0;
		s->auth_user[0] = '\0';
		session_enter_state(s, S_INIT);
	} else if (!(s->conf.flags & SMTP_CONF_TLS_ACTIVE) ||
	    s->state != S_INIT) {
		log_warnx("%s: no STARTTLS pending", __func__);
		return;
	}
	s->tls = 1;
	strlcpy(s->tls_version, version != NULL ? version : "",
	    sizeof(s->tls_version));
	strlcpy(s->tls_cipher, cipher != NULL ? cipher : "",
	    sizeof(s->tls_cipher));
	session_process(s);
}

/* Stop: abort a message being read, say why, and close. */
static void
session_stop(struct smtp_session *s, int code, const char *enh,
    const char *text)
{
	if (s->data_open) {
		s->data_open = 0;
		s->chunklen = 0;
		if (s->cb.on_data_abort != NULL)
			s->cb.on_data_abort(s->arg, SMTP_ABORT_CLIENT);
	}
	if (text != NULL)
		reply(s, code, enh, "%s %s", s->hostname, text);
	session_close(s);
}

/* RFC 5321 4.5.3.2: the caller's timer ran out. */
void
smtp_session_timeout(struct smtp_session *s)
{
	session_stop(s, 421, "4.4.2", "Error: timeout exceeded");
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	session_stop(s, 421, "4.3.2", "Service shutting down");
}

void
smtp_session_client_gone(struct smtp_session *s)
{
	session_stop(s, 0, NULL, NULL);
}

const char *
smtp_session_helo(const struct smtp_session *s)
{
	return s->helo;
}

int
smtp_session_tls_active(const struct smtp_session *s)
{
	return s->tls;
}

size_t
smtp_session_rcpt_count(const struct smtp_session *s)
{
	return s->nrcpt;
}

uint64_t
smtp_session_data_size(const struct smtp_session *s)
{
	return s->data_size;
}

const char *
smtp_session_auth_user(const struct smtp_session *s)
{
	return s->authenticated ? s->auth_user : NULL;
}

/* RFC 3848 and RFC 6531 3.7.3 "with" keywords; "A" after AUTH. */
const char *
smtp_session_protocol(const struct smtp_session *s)
{
	static const char *const names[2][2][2] = {
		/* [utf8][tls][auth] */
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } }
	};

	if (!s->esmtp)
		return "SMTP";
	return names[s->mail.params.smtputf8 != 0][s->tls != 0]
	    [s->authenticated != 0];
}

/*
 * The Received header.
 */

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

/* RFC 5322 3.3 date-time, in UTC so that it needs no time zone data. */
static void
rfc5322_date(time_t t, char *out, size_t outsz)
{
	static const char *const days[] = {
	    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = {
	    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;

	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * RFC 5321 4.4 time stamp line:
 *   Received: from EHLO (RDNS [IP]) by US with PROTO (TLS...) id QID
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
	if (fold_add(b, &col, header_safe(r->helo) ? r->helo : "unknown",
	    0) == -1)
		return -1;
	isv6 = r->client_ip != NULL && strchr(r->client_ip, ':') != NULL;
	snprintf(w, sizeof(w), "(%s%s[%s%s])",
	    header_safe(r->client_rdns) ? r->client_rdns : "",
	    header_safe(r->client_rdns) ? " " : "", isv6 ? "IPv6:" : "",
	    header_safe(r->client_ip) ? r->client_ip : "unknown");
	if (fold_add(b, &col, w, 0) == -1)
		return -1;
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
	rfc5322_date(r->date, date, sizeof(date));
	if (fold_add(b, &col, date, 1) == -1 || buf_addstr(b, "\r\n") == -1)
		return -1;
	return 0;
}

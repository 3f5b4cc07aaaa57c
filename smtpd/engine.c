/*
 * The SMTP server protocol engine, free of I/O (see smtpd/engine.h for the
 * caller's side of the contract): the session's life, the framing of its
 * input into command lines, replies, state changes, and the commands that
 * need no transaction.  The mail transaction is in engine_tx.c, STARTTLS
 * and AUTH in engine_auth.c, the Received header in received.c.
 *
 * Implements RFC 5321 (commands 4.1.1, sequencing 4.1.4, replies 4.2 and
 * 4.3.2, command line limit 4.5.3.1.4), PIPELINING (RFC 2920), the EHLO
 * keywords of SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * ENHANCEDSTATUSCODES (RFC 2034, 3463), CHUNKING (RFC 3030), DSN (RFC
 * 3461), STARTTLS (RFC 3207), REQUIRETLS (RFC 8689, behind
 * SMTP_CONF_REQUIRETLS) and AUTH (RFC 4954).
 *
 * Hostile input: a bare CR or LF is never a line ending (RFC 5321 2.3.8):
 * a command line with one is refused.  Input pipelined behind STARTTLS is
 * dropped (RFC 3207 4.2, CVE-2011-0411).
 *
 * Deliberately not here: sockets, TLS, timers, the queue, credentials,
 * VRFY and EXPN answers (always 252, RFC 5321 3.5.3).
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtpd/engine.h"
#include "smtpd/engine_int.h"
#include "util.h"

/* For the trace of state changes, in enum smtp_state's order. */
static const char *const state_names[] = {
	"INIT", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"
};

struct smtp_cmd {
	const char	*name;
	int		(*check)(struct smtp_session *, const char *);
	void		(*proceed)(struct smtp_session *, const char *);
};

static int	check_helo(struct smtp_session *, const char *);
static void	proceed_ehlo(struct smtp_session *, const char *);
static void	proceed_helo(struct smtp_session *, const char *);
static void	proceed_rset(struct smtp_session *, const char *);
static void	proceed_noop(struct smtp_session *, const char *);
static void	proceed_quit(struct smtp_session *, const char *);
static void	proceed_help(struct smtp_session *, const char *);
static int	check_vrfy(struct smtp_session *, const char *);
static void	proceed_vrfy(struct smtp_session *, const char *);
static int	idle_command(struct smtp_session *);

static const struct smtp_cmd commands[] = {
	{ "EHLO",	check_helo,		proceed_ehlo },
	{ "HELO",	check_helo,		proceed_helo },
	{ "MAIL",	engine_check_mail,	engine_proceed_mail },
	{ "RCPT",	engine_check_rcpt,	engine_proceed_rcpt },
	{ "DATA",	engine_check_data,	engine_proceed_data },
	{ "BDAT",	engine_check_bdat,	engine_proceed_bdat },
	{ "RSET",	engine_check_noargs,	proceed_rset },
	/* RFC 5321 4.1.1.9: NOOP takes any arguments. */
	{ "NOOP",	NULL,			proceed_noop },
	{ "QUIT",	engine_check_noargs,	proceed_quit },
	{ "HELP",	NULL,			proceed_help },
	{ "VRFY",	check_vrfy,		proceed_vrfy },
	{ "EXPN",	check_vrfy,		proceed_vrfy },
	{ "STARTTLS",	engine_check_starttls,	engine_proceed_starttls },
	{ "AUTH",	engine_check_auth,	engine_proceed_auth },
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
	if (s->conf.max_received == 0)
		s->conf.max_received = SMTP_DEFAULT_MAX_RECEIVED;
	if (s->conf.max_idle_commands == 0)
		s->conf.max_idle_commands = SMTP_DEFAULT_MAX_IDLE_COMMANDS;
	strlcpy(s->hostname, conf->hostname != NULL ? conf->hostname :
	    "localhost", sizeof(s->hostname));
	s->conf.hostname = s->hostname;
	s->cb = *cb;
	s->arg = arg;
	s->tls = (conf->flags & SMTP_CONF_TLS_ACTIVE) != 0;
	buf_init(&s->in, SMTP_INBUF_MAX);
	buf_init(&s->out, SMTP_OUTBUF_MAX);
	/* Every accepted recipient, normalized: a NUL after each. */
	buf_init(&s->rcpts, s->conf.max_rcpts * (SMTP_PATH_MAX + 1));
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
	buf_free(&s->rcpts);
	free(s->chunk);
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
	engine_reply_raw(s, line, (size_t)n);
}

/* Every state change passes here, so that it can be traced. */
void
engine_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("smtp session %p: %s -> %s", (void *)s,
	    state_names[s->state], state_names[st]);
	s->state = st;
}

void
engine_close(struct smtp_session *s)
{
	s->closing = 1;
	engine_enter_state(s, S_QUIT);
}

void
engine_reply_raw(struct smtp_session *s, const char *line, size_t len)
{
	if (buf_add(&s->out, line, len) == -1) {
		/* The caller stopped draining: nothing sane is left to do. */
		log_warnx("smtp session %p: output overflow", (void *)s);
		engine_close(s);
	}
}

/*
 * A single-line reply with an enhanced status code (RFC 2034, 3463).
 * Permanent errors count towards the session's error limit.
 */
void
engine_reply(struct smtp_session *s, int code, const char *enh,
    const char *fmt, ...)
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
	engine_reply_raw(s, line, (size_t)n);
	if (code >= 500 && ++s->errors >= s->conf.max_errors) {
		engine_reply(s, 421, "4.7.0", "%s Too many errors, closing "
		    "connection", s->hostname);
		engine_close(s);
	}
}

/* Text from the caller goes on the wire: printable ASCII only. */
void
engine_sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] >= 32 && src[i] <= 126) ? src[i] : '?';
	dst[i] = '\0';
}

/* RFC 3463 2: class "." subject "." detail, class matching the code. */
int
engine_enhanced_valid(const char *e, int code)
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
void
engine_reply_caller(struct smtp_session *s, int ok, int code, const char *enh,
    const char *text, int defcode, const char *defenh, const char *deftext)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (ok ? (code < 200 || code > 299) : (code < 400 || code > 599)) {
		code = ok ? defcode : 451;
		enh = NULL;
	}
	if (!engine_enhanced_valid(enh, code)) {
		if (ok)
			enh = defenh;
		else
			enh = code >= 500 ? "5.0.0" : "4.0.0";
	}
	if (text == NULL || *text == '\0')
		text = ok ? deftext : "Requested action not taken";
	engine_sanitize(t, sizeof(t), text);
	engine_reply(s, code, enh, "%s", t);
}

/*
 * Drop the transaction (RFC 5321 4.1.1.5); an open one is reported to the
 * caller, and a message being read is aborted first.
 */
void
engine_tx_reset(struct smtp_session *s, int notify)
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
	engine_chunk_release(s);
	memset(&s->mail, 0, sizeof(s->mail));
	memset(&s->rcpt, 0, sizeof(s->rcpt));
	s->nrcpt = 0;
	s->nrcpt_dup = 0;
	buf_reset(&s->rcpts);
	s->bdat_seen = 0;
	s->data_err = 0;
	s->data_size = 0;
	if (open && notify && s->cb.on_rset != NULL)
		s->cb.on_rset(s->arg);
	if (s->state != S_INIT && s->state != S_QUIT)
		engine_enter_state(s, S_HELO);
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
		engine_process(s);
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
		engine_process(s);
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
		engine_reply(s, 500, "5.5.1", "Command unrecognized");
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
	isauth = engine_auth_line(s, p, len);
	max = isauth ? SMTP_AUTH_LINE_MAX + 2 : SMTP_CMD_LINE_MAX;
	if (lf == NULL) {
		/* RFC 5321 4.5.3.1.4 */
		if (len >= max) {
			if (isauth)
				engine_auth_too_long(s);
			else
				engine_reply(s, 500, "5.5.2", "Line too long");
			s->skip_line = 1;
			return len;
		}
		return 0;
	}
	n = lf - p + 1;
	if (n > max) {
		if (isauth)
			engine_auth_too_long(s);
		else
			engine_reply(s, 500, "5.5.2", "Line too long");
		return n;
	}
	if (n < 2 || p[n - 2] != '\r') {
		s->auth_step = A_NONE;
		engine_reply(s, 500, "5.5.2", "Bare LF not allowed");
		return n;
	}
	for (i = 0; i < n - 2; i++) {
		if (p[i] == '\0' || p[i] == '\r') {
			s->auth_step = A_NONE;
			engine_reply(s, 500, "5.5.2",
			    "Invalid character in command");
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
		engine_auth_response(s, aline);
	else
		command(s, aline);
	explicit_bzero(aline, n - 1);
	free(aline);
	return n;
}

void
engine_process(struct smtp_session *s)
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
			n = engine_data_input(s, s->in.data + off,
			    s->in.len - off);
		else if (s->state == S_BDAT)
			n = engine_bdat_input(s, s->in.data + off,
			    s->in.len - off);
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
	engine_chunk_flush(s);
	s->in_process = 0;
}

/*
 * Commands.
 */

int
engine_check_noargs(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		engine_reply(s, 501, "5.5.4",
		    "Syntax error, no parameters allowed");
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
		engine_reply(s, 501, "5.5.4", "Syntax: EHLO hostname");
		return -1;
	}
	for (i = 0; args[i] != '\0'; i++) {
		if (args[i] == ' ')
			break;
		if ((unsigned char)args[i] < 33 ||
		    (unsigned char)args[i] > 126 || i >= SMTP_HELO_MAX) {
			engine_reply(s, 501, "5.5.4", "Invalid domain name");
			return -1;
		}
	}
	return 0;
}

static void
helo_common(struct smtp_session *s, const char *args, int esmtp)
{
	size_t	 len;

	/* EHLO and HELO move no mail: a loop of them ends as NOOPs do */
	if (idle_command(s))
		return;
	/* RFC 5321 4.1.4: EHLO in a transaction resets it. */
	engine_tx_reset(s, 1);
	len = strcspn(args, " ");
	if (len >= sizeof(s->helo))
		len = sizeof(s->helo) - 1;
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	s->esmtp = esmtp;
	engine_enter_state(s, S_HELO);
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
	/*
	 * RFC 8689 4.1: only inside TLS; and only when the mta relays such
	 * mail as 4.2.1 requires, which SMTP_CONF_REQUIRETLS says.
	 */
	if (s->tls && (s->conf.flags & SMTP_CONF_REQUIRETLS))
		ext[n++] = "REQUIRETLS";
	/* RFC 4954 4: no plaintext passwords outside a protected session. */
	if ((s->conf.flags & SMTP_CONF_AUTH) && s->tls) {
		/* SCRAM only when the table has keys for it. */
		if ((s->conf.flags & SMTP_CONF_SCRAM_SHA256) &&
		    (s->conf.flags & SMTP_CONF_SCRAM_SHA1))
			ext[n++] = "AUTH SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN";
		else if (s->conf.flags & SMTP_CONF_SCRAM_SHA256)
			ext[n++] = "AUTH SCRAM-SHA-256 PLAIN LOGIN";
		else if (s->conf.flags & SMTP_CONF_SCRAM_SHA1)
			ext[n++] = "AUTH SCRAM-SHA-1 PLAIN LOGIN";
		else
			ext[n++] = "AUTH PLAIN LOGIN";
	}
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
		engine_reply_raw(s, line, (size_t)r);
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
	engine_reply_raw(s, line, (size_t)n);
}

/*
 * Commands that move no mail count against a budget that only an
 * accepted message renews: a client that keeps a session open with NOOPs
 * (each resets the RFC 5321 4.5.3.2.7 command timeout) is closed after
 * max_idle_commands of them.  1 when the session is being closed.
 */
static int
idle_command(struct smtp_session *s)
{
	if (++s->idle_commands <= s->conf.max_idle_commands)
		return 0;
	smtp_session_limit(s, "Too many commands without a message");
	return 1;
}

static void
proceed_rset(struct smtp_session *s, const char *args)
{
	if (idle_command(s))
		return;
	engine_tx_reset(s, 1);
	engine_reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_noop(struct smtp_session *s, const char *args)
{
	if (idle_command(s))
		return;
	engine_reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_quit(struct smtp_session *s, const char *args)
{
	engine_tx_reset(s, 1);
	engine_reply(s, 221, "2.0.0", "%s Bye", s->hostname);
	engine_close(s);
	if (s->cb.on_quit != NULL)
		s->cb.on_quit(s->arg);
}

static void
proceed_help(struct smtp_session *s, const char *args)
{
	if (idle_command(s))
		return;
	engine_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH");
}

static int
check_vrfy(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		engine_reply(s, 501, "5.5.4", "Argument required");
		return -1;
	}
	return 0;
}

/* RFC 5321 3.5.3: 252, and nothing about the mailbox is revealed. */
static void
proceed_vrfy(struct smtp_session *s, const char *args)
{
	if (idle_command(s))
		return;
	engine_reply(s, 252, "2.5.0",
	    "Cannot verify, but will accept message and attempt delivery");
}

/*
 * The caller's answers.
 */

int
engine_answer_expected(struct smtp_session *s, enum smtp_pending p,
    const char *fn)
{
	if (s->pending != p) {
		log_warnx("%s: no such decision pending", fn);
		return 0;
	}
	s->pending = P_NONE;
	/* After a 421 nothing more is said. */
	return !s->closing;
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
		engine_reply(s, code, enh, "%s %s", s->hostname, text);
	engine_close(s);
}

/* RFC 5321 4.5.3.2: the caller's timer ran out. */
void
smtp_session_timeout(struct smtp_session *s)
{
	session_stop(s, 421, "4.4.2", "Error: timeout exceeded");
}

/* A limit of the caller's (or ours) was reached: 421 4.7.0 and close. */
void
smtp_session_limit(struct smtp_session *s, const char *what)
{
	if (s->closing)
		return;
	if (s->cb.on_limit != NULL)
		s->cb.on_limit(s->arg, what);
	session_stop(s, 421, "4.7.0", what);
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

/*
 * The I/O-free SMTP server engine, through its public API (smtpd/engine.h):
 * smtpd/engine.c (session, input, replies, commands outside a
 * transaction), smtpd/engine_tx.c (MAIL, RCPT, DATA, BDAT and the content:
 * duplicates, the Received-field loop limit) and smtpd/engine_auth.c
 * (STARTTLS, AUTH), and smtpd/received.c.  Every command and
 * extension, PIPELINING in one write, decisions answered later holding
 * the input, DATA terminator at every split position, dot-unstuffing,
 * BDAT, bare CR/LF (SMTP smuggling), limits, STARTTLS injection, the
 * error limit, timeouts and the Received header; AUTH (RFC 4954) with
 * PLAIN and LOGIN and every way a client can get it wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "scram.h"
#include "smtpd/engine.h"
#include "util.h"

#define ASYNC_MAIL	0x01
#define ASYNC_RCPT	0x02
#define ASYNC_START	0x04
#define ASYNC_END	0x08
#define ASYNC_AUTH	0x10

struct rec {
	struct smtp_session	*s;
	int			 async;
	struct buf		 events;	/* "mail:a@b rcpt:c@d ..." */
	struct buf		 content;
	struct buf		 out;		/* all output so far */
	struct smtp_mail	 mail;
	struct smtp_rcpt	 rcpt;
	int			 aborted;
	int			 ended;
	int			 in_msg;	/* started, not ended/aborted */
	char			 auth_mech[16];
	char			 auth_user[512];
	char			 auth_pass[2048];
	const char		*auth_pass_ptr;	/* the engine's buffer */
	size_t			 auth_pass_len;
	int			 nauth;
	/* SCRAM: what the engine asked, the keys it is answered from */
	int			 nscram_start, nscram_proof;
	char			 scram_authmsg[4096];	/* "" for NULL */
	int			 scram_authmsg_null;
	struct scram_stored	 scram_keys;
};

static void ev(struct rec *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
ev(struct rec *r, const char *fmt, ...)
{
	char	 line[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->events.len > 0)
		buf_addstr(&r->events, " ");
	buf_addstr(&r->events, line);
}

static void
on_helo(void *arg, const char *name, int esmtp)
{
	ev(arg, "%s:%s", esmtp ? "ehlo" : "helo", name);
}

static void
on_rset(void *arg)
{
	ev(arg, "rset%s", "");
}

static void
on_quit(void *arg)
{
	ev(arg, "quit%s", "");
}

static void
on_mail(void *arg, const struct smtp_mail *m)
{
	struct rec	*r = arg;

	r->mail = *m;
	ev(r, "mail:%s", m->sender.addr);
	if (!(r->async & ASYNC_MAIL))
		smtp_session_reply_mail(r->s, 1, 0, NULL, NULL);
}

static void
on_rcpt(void *arg, const struct smtp_rcpt *rc)
{
	struct rec	*r = arg;

	r->rcpt = *rc;
	ev(r, "rcpt:%s", rc->rcpt.addr);
	if (r->async & ASYNC_RCPT)
		return;
	if (strstr(rc->rcpt.addr, "@relay.example") != NULL)
		smtp_session_reply_rcpt(r->s, 0, 550, "5.7.1",
		    "Relaying denied");
	else
		smtp_session_reply_rcpt(r->s, 1, 0, NULL, NULL);
}

static void
on_data_start(void *arg)
{
	struct rec	*r = arg;

	ev(r, "start%s", "");
	assert_false(r->in_msg);
	r->in_msg = 1;
	if (!(r->async & ASYNC_START))
		smtp_session_reply_data_start(r->s, 1, 0, NULL, NULL);
}

static void
on_data_chunk(void *arg, const uint8_t *data, size_t len)
{
	struct rec	*r = arg;

	assert_true(len > 0 && len <= SMTP_CHUNK_MAX);
	assert_true(r->in_msg);
	buf_add(&r->content, data, len);
}

static void
on_data_end(void *arg)
{
	struct rec	*r = arg;

	ev(r, "end%s", "");
	assert_true(r->in_msg);
	r->in_msg = 0;
	r->ended++;
	if (!(r->async & ASYNC_END))
		smtp_session_reply_data(r->s, 1, 250, "2.0.0",
		    "QID123 Message accepted");
}

static void
on_data_abort(void *arg, enum smtp_abort why)
{
	struct rec	*r = arg;
	char		 w[8];

	snprintf(w, sizeof(w), "%d", (int)why);
	ev(r, "abort:%s", w);
	assert_true(r->in_msg);
	r->in_msg = 0;
	r->aborted++;
}

static void
on_starttls(void *arg)
{
	ev(arg, "starttls%s", "");
}

/* Accepts alice/secret, refuses the rest; "temp" gets a 454. */
static void
on_auth(void *arg, const char *mech, const char *user, const char *pass)
{
	struct rec	*r = arg;

	r->nauth++;
	snprintf(r->auth_mech, sizeof(r->auth_mech), "%s", mech);
	snprintf(r->auth_user, sizeof(r->auth_user), "%s", user);
	snprintf(r->auth_pass, sizeof(r->auth_pass), "%s", pass);
	r->auth_pass_ptr = pass;
	r->auth_pass_len = strlen(pass);
	ev(r, "auth:%s", user);
	if (r->async & ASYNC_AUTH)
		return;
	if (strcmp(user, "temp") == 0)
		smtp_session_reply_auth(r->s, SMTP_AUTH_TEMPFAIL, 0, NULL,
		    NULL);
	else if (strcmp(user, "alice") == 0 && strcmp(pass, "secret") == 0)
		smtp_session_reply_auth(r->s, SMTP_AUTH_OK, 0, NULL, NULL);
	else
		smtp_session_reply_auth(r->s, SMTP_AUTH_FAIL, 0, NULL, NULL);
}

/* SCRAM: "user" has the keys of r->scram_keys, the rest are unknown. */
static void
on_scram_start(void *arg, const char *mech, const char *user)
{
	struct rec	*r = arg;

	r->nscram_start++;
	snprintf(r->auth_mech, sizeof(r->auth_mech), "%s", mech);
	snprintf(r->auth_user, sizeof(r->auth_user), "%s", user);
	if (strcmp(user, "temp") == 0)
		smtp_session_reply_auth(r->s, SMTP_AUTH_TEMPFAIL, 0, NULL,
		    NULL);
	else
		smtp_session_reply_scram_salt(r->s, r->scram_keys.salt,
		    r->scram_keys.saltlen, r->scram_keys.iter);
}

static void
on_scram_proof(void *arg, const char *mech, const char *user,
    const char *authmsg, size_t authmsglen, const uint8_t *proof,
    size_t prooflen)
{
	struct rec	*r = arg;
	uint8_t		 sig[SCRAM_HASH_MAX];

	r->nscram_proof++;
	r->scram_authmsg_null = authmsg == NULL;
	snprintf(r->scram_authmsg, sizeof(r->scram_authmsg), "%.*s",
	    (int)authmsglen, authmsg != NULL ? authmsg : "");
	if (authmsg != NULL && strcmp(user, "user") == 0 &&
	    scram_verify_proof(r->scram_keys.mech, r->scram_keys.stored_key,
	    r->scram_keys.server_key, authmsg, authmsglen, proof, prooflen,
	    sig) == 0)
		smtp_session_reply_scram_ok(r->s, sig,
		    scram_hash_len(r->scram_keys.mech));
	else
		smtp_session_reply_auth(r->s, SMTP_AUTH_FAIL, 0, NULL, NULL);
}

static void
on_limit(void *arg, const char *what)
{
	ev(arg, "limit:%s", what);
}

static const struct smtp_session_cb cbs = {
	.on_helo = on_helo,
	.on_rset = on_rset,
	.on_quit = on_quit,
	.on_mail = on_mail,
	.on_rcpt = on_rcpt,
	.on_data_start = on_data_start,
	.on_data_end = on_data_end,
	.on_starttls = on_starttls,
	.on_auth = on_auth,
	.on_scram_start = on_scram_start,
	.on_scram_proof = on_scram_proof,
	.on_data_chunk = on_data_chunk,
	.on_data_abort = on_data_abort,
	.on_limit = on_limit,
};

static unsigned int max_errors = 1000;
static unsigned int max_idle = 100000;

static struct rec *
rec_new(int flags, uint64_t max_size, size_t max_rcpts)
{
	struct smtp_session_conf	 conf;
	struct rec			*r;

	memset(&conf, 0, sizeof(conf));
	conf.hostname = "mx.example.org";
	conf.flags = flags;
	conf.max_size = max_size;
	conf.max_rcpts = max_rcpts;
	conf.max_errors = max_errors;
	conf.max_idle_commands = max_idle;
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	buf_init(&r->events, 1 << 20);
	buf_init(&r->content, 64 << 20);
	buf_init(&r->out, 1 << 20);
	r->s = smtp_session_new(&conf, &cbs, r);
	smtp_session_start(r->s);
	return r;
}

static void
rec_free(struct rec *r)
{
	smtp_session_free(r->s);
	buf_free(&r->events);
	buf_free(&r->content);
	buf_free(&r->out);
	free(r);
}

/* Drain the session's output into r->out; return what was new. */
static const char *
drain(struct rec *r)
{
	static char	*last;
	const uint8_t	*p;
	size_t		 len;

	p = smtp_session_output(r->s, &len);
	free(last);
	last = calloc(1, len + 1);
	assert_non_null(last);
	if (len > 0)
		memcpy(last, p, len);
	buf_add(&r->out, p, len);
	smtp_session_output_consume(r->s, len);
	return last;
}

/* The reply codes in text, e.g. "250 250 354"; multi-line counted once. */
static const char *
codes(const char *text)
{
	static char	 c[4096];
	const char	*l;
	size_t		 n = 0;

	c[0] = '\0';
	for (l = text; *l != '\0'; l = strchr(l, '\n') + 1) {
		assert_non_null(strchr(l, '\n'));
		if (strlen(l) >= 4 && l[3] == ' ' && n + 5 < sizeof(c)) {
			if (n > 0)
				c[n++] = ' ';
			memcpy(c + n, l, 3);
			n += 3;
			c[n] = '\0';
		}
	}
	return c;
}

static void
feed(struct rec *r, const char *s)
{
	assert_int_equal(smtp_session_input(r->s, s, strlen(s)), strlen(s));
}

static void
feedn(struct rec *r, const void *s, size_t len)
{
	assert_int_equal(smtp_session_input(r->s, s, len), len);
}

/* Feed, drain and return the reply codes. */
static const char *
say(struct rec *r, const char *s)
{
	feed(r, s);
	return codes(drain(r));
}

static void
test_greeting_ehlo(void **state)
{
	struct rec	*r;
	const char	*o;

	r = rec_new(SMTP_CONF_STARTTLS, 1000, 0);
	assert_string_equal(drain(r), "220 mx.example.org ESMTP postern\r\n");
	feed(r, "EHLO client.example\r\n");
	o = drain(r);
	assert_string_equal(o,
	    "250-mx.example.org Hello\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 1000\r\n"
	    "250-8BITMIME\r\n"
	    "250-SMTPUTF8\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250-CHUNKING\r\n"
	    "250-DSN\r\n"
	    "250 STARTTLS\r\n");
	assert_string_equal(smtp_session_helo(r->s), "client.example");
	assert_string_equal(smtp_session_protocol(r->s), "ESMTP");
	/* HELO: no extensions (RFC 5321 4.1.1.1). */
	feed(r, "HELO other.example\r\n");
	assert_string_equal(drain(r), "250 mx.example.org\r\n");
	assert_string_equal(smtp_session_protocol(r->s), "SMTP");
	assert_string_equal(say(r, "EHLO\r\n"), "501");
	assert_string_equal(say(r, "EHLO   \r\n"), "501");
	assert_string_equal(say(r, "EHLO a\001b\r\n"), "501");
	assert_string_equal(say(r, "EHLO    spaced.example x\r\n"), "250");
	assert_string_equal(smtp_session_helo(r->s), "spaced.example");
	assert_string_equal((char *)r->events.data,
	    "ehlo:client.example helo:other.example ehlo:spaced.example");
	rec_free(r);

	/* Without STARTTLS configured, none offered and 502 on use. */
	r = rec_new(0, 0, 0);
	drain(r);
	o = drain((feed(r, "ehlo x\r\n"), r));
	assert_null(strstr(o, "STARTTLS"));
	assert_null(strstr(o, "REQUIRETLS"));
	assert_non_null(strstr(o, "250 DSN\r\n"));
	assert_non_null(strstr(o, "SIZE 36700160"));
	assert_string_equal(say(r, "STARTTLS\r\n"), "502");
	rec_free(r);
}

static void
test_simple_commands(void **state)
{
	struct rec	*r;
	const char	*o;

	r = rec_new(0, 0, 0);
	drain(r);
	/* Before EHLO/HELO: 503 5.5.1; NOOP, RSET, VRFY, HELP are fine. */
	feed(r, "MAIL FROM:<a@example.org>\r\n");
	assert_string_equal(drain(r), "503 5.5.1 Send EHLO or HELO first\r\n");
	assert_string_equal(say(r, "RCPT TO:<a@example.org>\r\n"), "503");
	assert_string_equal(say(r, "DATA\r\n"), "503");
	assert_string_equal(say(r, "NOOP\r\n"), "250");
	assert_string_equal(say(r, "NOOP anything\r\n"), "250");
	assert_string_equal(say(r, "RSET\r\n"), "250");
	assert_string_equal(say(r, "RSET x\r\n"), "501");
	/* VRFY/EXPN: 252 and nothing revealed. */
	feed(r, "VRFY root\r\n");
	o = drain(r);
	assert_string_equal(o, "252 2.5.0 Cannot verify, but will accept "
	    "message and attempt delivery\r\n");
	assert_string_equal(say(r, "EXPN staff\r\n"), "252");
	assert_string_equal(say(r, "VRFY\r\n"), "501");
	assert_string_equal(say(r, "HELP\r\n"), "214");
	assert_string_equal(say(r, "FOO bar\r\n"), "500");
	feed(r, "XYZZY\r\n");
	assert_string_equal(drain(r), "500 5.5.1 Command unrecognized\r\n");

	/* Sequencing. */
	assert_string_equal(say(r, "EHLO c.example\r\n"), "250");
	assert_string_equal(say(r, "RCPT TO:<a@example.org>\r\n"), "503");
	assert_string_equal(say(r, "DATA\r\n"), "503");
	assert_string_equal(say(r, "MAIL FROM:<a@example.org>\r\n"), "250");
	assert_string_equal(say(r, "MAIL FROM:<a@example.org>\r\n"), "503");
	assert_string_equal(say(r, "DATA\r\n"), "554");
	assert_string_equal(say(r, "RCPT TO:<u@relay.example>\r\n"), "550");
	assert_string_equal(say(r, "DATA\r\n"), "554");
	assert_string_equal(say(r, "RCPT TO:<u@example.org>\r\n"), "250");
	assert_string_equal(say(r, "DATA x\r\n"), "501");
	assert_string_equal(say(r, "RSET\r\n"), "250");
	assert_string_equal(say(r, "DATA\r\n"), "503");
	/* Null reverse path for MAIL, not for RCPT; bad addresses. */
	assert_string_equal(say(r, "MAIL FROM:<>\r\n"), "250");
	assert_string_equal(say(r, "RCPT TO:<>\r\n"), "501");
	feed(r, "RCPT TO:<a@@b>\r\n");
	assert_string_equal(drain(r), "501 5.1.3 Bad address syntax\r\n");
	assert_string_equal(say(r, "RCPT TO:<Postmaster>\r\n"), "250");
	assert_string_equal(say(r, "RCPT TO:<@hop.example:u@example.org>\r\n"),
	    "250");
	assert_string_equal(r->rcpt.rcpt.addr, "u@example.org");
	assert_string_equal(say(r, "RCPT TO: <v@example.org>\r\n"), "250");
	assert_string_equal(say(r, "RCPT to:v@example.org\r\n"), "501");
	assert_string_equal(say(r, "RSET\r\n"), "250");
	assert_string_equal(say(r, "MAIL FROM:a@example.org\r\n"), "501");
	assert_string_equal(say(r, "MAIL TO:<a@example.org>\r\n"), "501");
	/* QUIT: 221, on_quit, closing, later input ignored. */
	feed(r, "QUIT\r\nNOOP\r\n");
	assert_string_equal(drain(r), "221 2.0.0 mx.example.org Bye\r\n");
	assert_true(smtp_session_closing(r->s));
	assert_non_null(strstr((char *)r->events.data, "quit"));
	rec_free(r);

	/* HELO sessions take no parameters. */
	r = rec_new(0, 0, 0);
	drain(r);
	assert_string_equal(say(r, "HELO c.example\r\n"), "250");
	assert_string_equal(say(r, "MAIL FROM:<a@example.org> SIZE=10\r\n"),
	    "555");
	assert_string_equal(say(r, "MAIL FROM:<a@example.org>\r\n"), "250");
	rec_free(r);
}

static const char *txn =
    "EHLO c.example\r\n"
    "MAIL FROM:<a@example.org> SIZE=100\r\n"
    "RCPT TO:<b@example.org>\r\n"
    "RCPT TO:<x@relay.example>\r\n"
    "RCPT TO:<c@example.org> NOTIFY=NEVER\r\n"
    "DATA\r\n"
    "Subject: hi\r\n"
    "\r\n"
    "..leading dot\r\n"
    ".\r\n"
    "QUIT\r\n";

static void
test_pipelining(void **state)
{
	struct rec	*r;
	const char	*o;

	r = rec_new(0, 0, 0);
	drain(r);
	feed(r, txn);
	o = drain(r);
	assert_string_equal(codes(o), "250 250 250 550 250 354 250 221");
	assert_non_null(strstr(o, "250 2.0.0 QID123 Message accepted\r\n"));
	assert_non_null(strstr(o, "550 5.7.1 Relaying denied\r\n"));
	assert_string_equal((char *)r->content.data,
	    "Subject: hi\r\n\r\n.leading dot\r\n");
	assert_string_equal((char *)r->events.data, "ehlo:c.example "
	    "mail:a@example.org rcpt:b@example.org rcpt:x@relay.example "
	    "rcpt:c@example.org start end quit");
	assert_int_equal(r->rcpt.params.notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(r->mail.params.size, 100);
	assert_true(smtp_session_closing(r->s));
	rec_free(r);
}

/* Decisions answered later: input is held, replies stay in order. */
static void
test_async(void **state)
{
	struct rec	*r;
	const char	*o;
	size_t		 n;
	char		*big;

	r = rec_new(0, 0, 0);
	r->async = ASYNC_MAIL | ASYNC_RCPT | ASYNC_START | ASYNC_END;
	drain(r);
	feed(r, txn);
	assert_string_equal(codes(drain(r)), "250");
	assert_string_equal((char *)r->events.data, "ehlo:c.example "
	    "mail:a@example.org");
	smtp_session_reply_mail(r->s, 1, 0, NULL, NULL);
	assert_string_equal(codes(drain(r)), "250");
	/* A caller reply with a bad enhanced code gets a sane one. */
	smtp_session_reply_rcpt(r->s, 0, 550, "4.1.1", "No\r\nsuch user");
	o = drain(r);
	assert_string_equal(o, "550 5.0.0 No??such user\r\n");
	smtp_session_reply_rcpt(r->s, 1, 0, NULL, NULL);
	assert_string_equal(drain(r), "250 2.1.5 Ok\r\n");
	smtp_session_reply_rcpt(r->s, 1, 0, NULL, NULL);
	assert_string_equal(codes(drain(r)), "250");
	/* No answer pending: ignored. */
	smtp_session_reply_rcpt(r->s, 1, 0, NULL, NULL);
	assert_string_equal(drain(r), "");
	smtp_session_reply_data_start(r->s, 1, 0, NULL, NULL);
	assert_string_equal(drain(r),
	    "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(r->ended, 1);
	assert_string_equal(drain(r), "");
	smtp_session_reply_data(r->s, 0, 451, "4.3.0", "Queue error");
	assert_string_equal(drain(r), "451 4.3.0 Queue error\r\n221 2.0.0 "
	    "mx.example.org Bye\r\n");
	rec_free(r);

	/* Refused DATA start: the client may RSET; 451 kept the state. */
	r = rec_new(0, 0, 0);
	r->async = ASYNC_START;
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	    "DATA\r\n");
	r->in_msg = 0;	/* refused: no end or abort follows */
	smtp_session_reply_data_start(r->s, 0, 452, "4.3.1", "Queue full");
	assert_string_equal(drain(r), "452 4.3.1 Queue full\r\n");
	rec_free(r);

	/* While pending, input is held up to a bound, then refused. */
	r = rec_new(0, 0, 0);
	r->async = ASYNC_MAIL;
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
	big = malloc(200000);
	assert_non_null(big);
	for (n = 0; n + 6 <= 200000; n += 6)
		memcpy(big + n, "NOOP\r\n", 6);
	n = smtp_session_input(r->s, big, n);
	assert_true(n >= SMTP_INBUF_MAX - 6 && n <= SMTP_INBUF_MAX);
	assert_int_equal(smtp_session_input(r->s, big, 6), 0);
	smtp_session_reply_mail(r->s, 1, 0, NULL, NULL);
	/* Output stops above its high-water mark until drained. */
	o = drain(r);
	assert_true(strlen(o) > SMTP_OUT_HIGHWATER &&
	    strlen(o) < SMTP_OUT_HIGHWATER + 64);
	while (strlen(drain(r)) > 0)
		;
	free(big);
	rec_free(r);
}

/* The terminator and dot-stuffing split at every position. */
static void
test_data_split(void **state)
{
	static const char	*msg =
	    "DATA\r\nA: b\r\n\r\n..x\r\n.y\r\nline\r\n..\r\n.\r\nNOOP\r\n";
	static const char	*want = "A: b\r\n\r\n.x\r\ny\r\nline\r\n.\r\n";
	struct rec		*r;
	size_t			 i, j, len = strlen(msg);

	for (i = 0; i <= len; i++) {
		for (j = i; j <= len; j += (i % 3) + 1) {
			r = rec_new(0, 0, 0);
			say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
			    "RCPT TO:<c@d.example>\r\n");
			feedn(r, msg, i);
			feedn(r, msg + i, j - i);
			feedn(r, msg + j, len - j);
			assert_string_equal(codes(drain(r)), "354 250 250");
			assert_int_equal(r->content.len, strlen(want));
			assert_memory_equal(r->content.data, want,
			    strlen(want));
			assert_int_equal(r->ended, 1);
			assert_int_equal(r->aborted, 0);
			rec_free(r);
		}
	}
	/* Byte by byte, and an empty message. */
	r = rec_new(0, 0, 0);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	for (i = 0; i < len; i++)
		feedn(r, msg + i, 1);
	assert_string_equal(codes(drain(r)), "354 250 250");
	assert_memory_equal(r->content.data, want, strlen(want));
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	    "DATA\r\n.\r\n");
	assert_int_equal(r->ended, 2);
	assert_int_equal(r->content.len, strlen(want));
	rec_free(r);
}

static struct rec *
in_data(int flags, uint64_t max_size)
{
	struct rec	*r;

	r = rec_new(flags, max_size, 0);
	assert_string_equal(say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\n"), "220 250 250 250 354");
	return r;
}

/* RFC 5321 2.3.8: bare CR or LF rejects the message; "\n.\n" never ends. */
static void
test_bare_crlf_data(void **state)
{
	struct rec	*r;
	const char	*o;

	r = in_data(0, 0);
	feed(r, "Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x.example>\n");
	assert_string_equal(drain(r), "");
	assert_int_equal(r->aborted, 1);
	feed(r, "RCPT TO:<victim@d.example>\r\nmore\r\n.\r\nNOOP\r\n");
	o = drain(r);
	assert_string_equal(codes(o), "554 250");
	assert_non_null(strstr(o, "554 5.6.0 Bare CR or LF"));
	assert_int_equal(r->ended, 0);
	assert_int_equal(r->content.len, 0);
	assert_null(strstr((char *)r->events.data, "evil"));
	/* The transaction is gone. */
	assert_string_equal(say(r, "DATA\r\n"), "503");
	rec_free(r);

	/* Bare CR, ".\r" followed by text, and "\r\n.\n". */
	r = in_data(0, 0);
	feed(r, "a\rb\r\n.\r\n");
	assert_string_equal(codes(drain(r)), "554");
	assert_int_equal(r->aborted, 1);
	assert_int_equal(r->ended, 0);
	rec_free(r);
	r = in_data(0, 0);
	feed(r, "a\r\n.\rx\r\n.\r\n");
	assert_string_equal(codes(drain(r)), "554");
	rec_free(r);
	r = in_data(0, 0);
	feed(r, "a\r\n.\nb\r\n.\r\n");
	assert_string_equal(codes(drain(r)), "554");
	assert_int_equal(r->ended, 0);
	rec_free(r);
	/* "\n.\r\n" is not CRLF.CRLF either. */
	r = in_data(0, 0);
	feed(r, "a\n.\r\nNOOP\r\n");
	assert_string_equal(codes(drain(r)), "");
	feed(r, ".\r\n");
	assert_string_equal(codes(drain(r)), "554");
	rec_free(r);
}

static void
test_bare_lf_nul_command(void **state)
{
	struct rec	*r;

	r = rec_new(0, 0, 0);
	drain(r);
	feed(r, "NOOP\n");
	assert_string_equal(drain(r), "500 5.5.2 Bare LF not allowed\r\n");
	assert_string_equal(say(r, "NO\rOP\r\n"), "500");
	feedn(r, "NOOP\0x\r\n", 8);
	assert_string_equal(codes(drain(r)), "500");
	assert_string_equal(say(r, "NOOP\r\n"), "250");
	rec_free(r);
}

static void
test_long_lines(void **state)
{
	struct rec	*r;
	char		 line[3000];
	size_t		 i;

	r = rec_new(0, 0, 0);
	drain(r);
	/* Exactly at the limit is fine; one more is not. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	memcpy(line + SMTP_CMD_LINE_MAX - 2, "\r\n", 2);
	feedn(r, line, SMTP_CMD_LINE_MAX);
	assert_string_equal(codes(drain(r)), "250");
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	memcpy(line + SMTP_CMD_LINE_MAX - 1, "\r\n", 2);
	feedn(r, line, SMTP_CMD_LINE_MAX + 1);
	assert_string_equal(drain(r), "500 5.5.2 Line too long\r\n");
	/* A long line in pieces: one 500, the rest discarded. */
	memset(line, 'y', sizeof(line));
	for (i = 0; i < 3; i++)
		feedn(r, line, sizeof(line));
	feed(r, "MAIL FROM:<a@b>\r\nNOOP\r\n");
	assert_string_equal(codes(drain(r)), "500 250");
	rec_free(r);

	/* Text lines: 1000 with CRLF fine, 1001 refused at the end. */
	r = in_data(0, 0);
	memset(line, 'z', sizeof(line));
	memcpy(line + 998, "\r\n", 2);
	feedn(r, line, 1000);
	feed(r, ".\r\n");
	assert_string_equal(codes(drain(r)), "250");
	assert_int_equal(r->content.len, 1000);
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	memset(line, 'z', sizeof(line));
	memcpy(line + 999, "\r\n", 2);
	feedn(r, line, 1001);
	assert_int_equal(r->aborted, 1);
	feed(r, "\r\n.\r\n");
	assert_string_equal(drain(r), "554 5.6.0 Line over 1000 octets "
	    "(RFC 5321 4.5.3.1.6), message rejected\r\n");
	assert_int_equal(r->ended, 1);
	rec_free(r);
}

static void
test_size(void **state)
{
	struct rec	*r;
	char		 body[300];

	r = rec_new(0, 200, 0);
	drain(r);
	say(r, "EHLO c\r\n");
	feed(r, "MAIL FROM:<a@b.example> SIZE=201\r\n");
	assert_string_equal(drain(r), "552 5.3.4 Message size exceeds fixed "
	    "maximum message size\r\n");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> SIZE=200\r\n"),
	    "250");
	say(r, "RSET\r\n");
	/* Not declared: counted, chunks stop, rejected at the end. */
	assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\n"), "250 250 354");
	memset(body, 'a', sizeof(body));
	memcpy(body + 98, "\r\n", 2);
	memcpy(body + 198, "\r\n", 2);
	memcpy(body + 298, "\r\n", 2);
	feedn(r, body, 300);
	feed(r, ".\r\n");
	assert_string_equal(codes(drain(r)), "552");
	assert_int_equal(r->aborted, 1);
	assert_int_equal(r->ended, 0);
	assert_true(r->content.len <= 200);
	/* Exactly the maximum is accepted. */
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	feedn(r, body, 200);
	assert_string_equal(say(r, ".\r\n"), "250");
	rec_free(r);
}

static void
test_too_many_rcpts(void **state)
{
	struct rec	*r;

	r = rec_new(0, 0, 3);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
	feed(r, "RCPT TO:<1@d.example>\r\nRCPT TO:<2@d.example>\r\n"
	    "RCPT TO:<3@d.example>\r\nRCPT TO:<4@d.example>\r\n");
	assert_string_equal(codes(drain(r)), "250 250 250 452");
	assert_int_equal(smtp_session_rcpt_count(r->s), 3);
	assert_non_null(strstr((char *)r->out.data,
	    "452 4.5.3 Too many recipients\r\n"));
	rec_free(r);
}

/* The same recipient twice is one envelope; RSET forgets them all. */
static void
test_duplicate_rcpts(void **state)
{
	struct rec	*r;

	r = rec_new(0, 0, 4);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
	feed(r, "RCPT TO:<x@d.example>\r\nRCPT TO:<x@D.Example>\r\n"
	    "RCPT TO:<X@d.example>\r\nRCPT TO:<x@d.example>\r\n");
	/* The third differs in its local part, whose case may matter. */
	assert_string_equal(codes(drain(r)), "250 250 250 250");
	assert_non_null(strstr((char *)r->out.data,
	    "250 2.1.5 Ok (duplicate recipient, delivered once)\r\n"));
	assert_int_equal(smtp_session_rcpt_count(r->s), 2);
	assert_string_equal((char *)r->events.data, "ehlo:c mail:a@b.example "
	    "rcpt:x@d.example rcpt:X@d.example");
	/* Every RCPT counts against the limit of 4 (RFC 5321 4.5.3.1.8). */
	assert_string_equal(say(r, "RCPT TO:<y@d.example>\r\n"), "452");
	/* ...and a new transaction starts with none. */
	say(r, "RSET\r\nMAIL FROM:<a@b.example>\r\n");
	assert_string_equal(say(r, "RCPT TO:<x@d.example>\r\n"), "250");
	assert_int_equal(smtp_session_rcpt_count(r->s), 1);
	rec_free(r);
}

/* RFC 5321 6.3: more than max_received Received fields is a loop. */
static void
test_received_loop(void **state)
{
	struct rec	*r;
	struct buf	 msg;
	int		 n, i;
	const char	*o;

	for (n = SMTP_DEFAULT_MAX_RECEIVED; n <= SMTP_DEFAULT_MAX_RECEIVED + 1;
	    n++) {
		buf_init(&msg, SIZE_MAX);
		for (i = 0; i < n; i++)
			buf_printf(&msg, "%s: from h%d by x; Mon, 7 Dec 2026 "
			    "08:00:00 +0000\r\n", i % 2 ? "received" :
			    "Received", i);
		/* Not fields of the header: a folded line, the body. */
		buf_addstr(&msg, "X-A: b\r\n Received: no\r\n\r\n"
		    "Received: in the body\r\n.\r\n");
		r = in_data(0, 0);
		feed(r, buf_cstr(&msg));
		o = drain(r);
		if (n == SMTP_DEFAULT_MAX_RECEIVED) {
			assert_string_equal(codes(o), "250");
			assert_int_equal(r->ended, 1);
		} else {
			assert_string_equal(codes(o), "554");
			assert_non_null(strstr(o, "554 5.4.6 Too many Received "
			    "fields (101)"));
			assert_int_equal(r->aborted, 1);
			assert_int_equal(r->ended, 0);
		}
		rec_free(r);
		buf_free(&msg);
	}
}

static void
test_bdat(void **state)
{
	struct rec	*r;
	char		*big;
	char		 cmd[64];
	size_t		 i, n = 200000;

	r = rec_new(0, 0, 0);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\n"
	    "RCPT TO:<c@d.example>\r\n");
	/* Exact octets; "\r\n.\r\n" and commands inside are content. */
	feed(r, "BDAT 13\r\nab\r\n.\r\nQUIT\r\nBDAT 0\r\nBDAT 5 LAST\r\n");
	feedn(r, "\xff\x00\r\nz", 5);
	assert_string_equal(codes(drain(r)), "250 250 250");
	assert_int_equal(r->content.len, 18);
	assert_memory_equal(r->content.data, "ab\r\n.\r\nQUIT\r\n\xff\x00\r\nz",
	    18);
	assert_string_equal((char *)r->events.data + strlen((char *)
	    r->events.data) - 9, "start end");
	assert_false(smtp_session_closing(r->s));
	/* BDAT 0 LAST, and DATA after BDAT is refused. */
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	assert_string_equal(say(r, "BDAT 0 LAST\r\n"), "250");
	assert_int_equal(r->ended, 2);
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	assert_string_equal(say(r, "BDAT 3\r\nabc"), "250");
	assert_string_equal(say(r, "DATA\r\n"), "503");
	assert_string_equal(say(r, "RCPT TO:<e@d.example>\r\n"), "503");
	/* RSET between chunks aborts the message. */
	assert_string_equal(say(r, "RSET\r\n"), "250");
	assert_int_equal(r->aborted, 1);
	rec_free(r);

	/* A large chunk in pieces of odd sizes. */
	r = rec_new(0, 0, 0);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' :
		    (char)(0x80 | (i & 0x7f));
	snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", n);
	feed(r, cmd);
	for (i = 0; i < n; i += 7777)
		feedn(r, big + i, i + 7777 > n ? n - i : 7777);
	assert_string_equal(codes(drain(r)), "250");
	assert_int_equal(r->content.len, n);
	assert_memory_equal(r->content.data, big, n);
	free(big);
	rec_free(r);

	/* Bare LF in BDAT; BDAT without a transaction; bad BDAT syntax. */
	r = rec_new(0, 0, 0);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	feed(r, "BDAT 4\r\na\nb\n");
	assert_int_equal(r->aborted, 1);
	assert_string_equal(codes(drain(r)), "554");
	feed(r, "BDAT 6 LAST\r\nNOOP\r\n");
	assert_string_equal(codes(drain(r)), "503");
	assert_int_equal(r->ended, 0);
	assert_int_equal(r->content.len, 0);
	feed(r, "BDAT 3 LAST\r\nab\rNOOP\r\n");
	assert_string_equal(codes(drain(r)), "503 250");
	feed(r, "BDAT x\r\nNOOP\r\n");
	assert_string_equal(codes(drain(r)), "501 421");
	assert_true(smtp_session_closing(r->s));
	rec_free(r);

	/* Refused at start: the chunk is read and dropped. */
	r = rec_new(0, 0, 0);
	r->async = ASYNC_START;
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	feed(r, "BDAT 4 LAST\r\nNOOPNOOP\r\n");
	r->in_msg = 0;	/* refused: no end or abort follows */
	smtp_session_reply_data_start(r->s, 0, 452, "4.3.1", "Queue full");
	assert_string_equal(codes(drain(r)), "452 250");
	assert_int_equal(r->content.len, 0);
	/* Accepted later: the held chunks are read in order. */
	feed(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	    "BDAT 3\r\nabcBDAT 2 LAST\r\nde");
	assert_string_equal(codes(drain(r)), "250 250");
	assert_int_equal(r->content.len, 0);
	smtp_session_reply_data_start(r->s, 1, 0, NULL, NULL);
	assert_string_equal(codes(drain(r)), "250 250");
	assert_int_equal(r->content.len, 5);
	assert_memory_equal(r->content.data, "abcde", 5);
	/* Bare CR at the very end of the last chunk. */
	r->async = 0;
	say(r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	assert_string_equal(say(r, "BDAT 2 LAST\r\na\r"), "554");
	assert_int_equal(r->ended, 1);
	assert_int_equal(r->aborted, 1);
	rec_free(r);

	/* Over the size in BDAT. */
	r = rec_new(0, 10, 0);
	drain(r);
	say(r, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	assert_string_equal(say(r, "BDAT 11 LAST\r\n0123456789a"), "552");
	assert_int_equal(r->aborted, 1);
	rec_free(r);
}

static void
test_starttls(void **state)
{
	struct rec	*r;
	const char	*o;

	r = rec_new(SMTP_CONF_STARTTLS | SMTP_CONF_TLS_REQUIRED, 0, 0);
	drain(r);
	assert_string_equal(say(r, "STARTTLS\r\n"), "503");
	say(r, "EHLO c\r\n");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"), "530");
	assert_string_equal(say(r, "STARTTLS x\r\n"), "501");
	/* Injected commands after STARTTLS are dropped (CVE-2011-0411). */
	feed(r, "STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n");
	assert_string_equal(drain(r), "220 2.0.0 Ready to start TLS\r\n");
	feed(r, "RCPT TO:<evil@x.example>\r\n");
	assert_string_equal(drain(r), "");
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_256_GCM_SHA384");
	assert_string_equal(drain(r), "");
	assert_null(strstr((char *)r->events.data, "evil"));
	assert_true(smtp_session_tls_active(r->s));
	/* RFC 3207 4.2: back to before EHLO. */
	assert_string_equal(smtp_session_helo(r->s), "");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"), "503");
	feed(r, "EHLO c\r\n");
	o = drain(r);
	assert_null(strstr(o, "STARTTLS"));
	assert_string_equal(say(r, "STARTTLS\r\n"), "503");
	assert_string_equal(smtp_session_protocol(r->s), "ESMTPS");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> SMTPUTF8\r\n"),
	    "250");
	assert_string_equal(smtp_session_protocol(r->s), "UTF8SMTPS");
	rec_free(r);

	/* STARTTLS inside a transaction is refused. */
	r = rec_new(SMTP_CONF_STARTTLS, 0, 0);
	drain(r);
	say(r, "EHLO c\r\n");
	say(r, "MAIL FROM:<a@b.example>\r\n");
	assert_string_equal(say(r, "STARTTLS\r\n"), "503");
	rec_free(r);

	/* Implicit TLS (smtps). */
	r = rec_new(SMTP_CONF_TLS_ACTIVE | SMTP_CONF_STARTTLS, 0, 0);
	smtp_session_tls_started(r->s, "TLSv1.2", "ECDHE-RSA-AES128-GCM");
	drain(r);
	feed(r, "EHLO c\r\n");
	o = drain(r);
	assert_null(strstr(o, "STARTTLS"));
	assert_non_null(strstr(o, "250 DSN\r\n"));
	rec_free(r);
}

/*
 * RFC 8689 4.2.1: REQUIRETLS is taken only where the caller says the mail
 * will be relayed as it requires (SMTP_CONF_REQUIRETLS).  Without the
 * flag it is neither offered nor taken, inside TLS or not; a MAIL with it
 * gets 555 5.5.4 like any unknown parameter.
 */
static void
test_requiretls_not_offered(void **state)
{
	struct rec	*r;
	const char	*o;
	int		 tls;

	for (tls = 0; tls <= 1; tls++) {
		r = rec_new(SMTP_CONF_STARTTLS |
		    (tls ? SMTP_CONF_TLS_ACTIVE : 0), 0, 0);
		if (tls)
			smtp_session_tls_started(r->s, "TLSv1.3",
			    "TLS_AES_128_GCM_SHA256");
		drain(r);
		feed(r, "EHLO c\r\n");
		o = drain(r);
		assert_non_null(strstr(o, "250 "));
		assert_null(strstr(o, "REQUIRETLS"));
		feed(r, "MAIL FROM:<a@b.example> REQUIRETLS\r\n");
		assert_string_equal(drain(r),
		    "555 5.5.4 Unsupported parameter\r\n");
		assert_false(r->mail.params.requiretls);
		/* the transaction never opened: a plain MAIL is taken */
		assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"),
		    "250");
		rec_free(r);
	}
}

/* The switch for the day the mta enforces it: offered and taken in TLS. */
static void
test_requiretls_when_enabled(void **state)
{
	struct rec	*r;
	const char	*o;

	r = rec_new(SMTP_CONF_STARTTLS | SMTP_CONF_REQUIRETLS, 0, 0);
	drain(r);
	feed(r, "EHLO c\r\n");
	o = drain(r);
	/* RFC 8689 4.1: not before TLS */
	assert_null(strstr(o, "REQUIRETLS"));
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> REQUIRETLS\r\n"),
	    "555");
	feed(r, "STARTTLS\r\n");
	drain(r);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	feed(r, "EHLO c\r\n");
	o = drain(r);
	assert_non_null(strstr(o, "250 REQUIRETLS\r\n"));
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> REQUIRETLS "
	    "SMTPUTF8\r\n"), "250");
	assert_true(r->mail.params.requiretls);
	rec_free(r);
}

/* A session on an AUTH listener, inside TLS, after EHLO. */
static struct rec *
auth_rec(int flags)
{
	struct rec	*r;

	r = rec_new(SMTP_CONF_AUTH | SMTP_CONF_TLS_ACTIVE | flags, 0, 0);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	drain(r);
	assert_string_equal(say(r, "EHLO c.example\r\n"), "250");
	return r;
}

/* "\0alice\0secret" and friends, base64 */
#define B64_PLAIN_ALICE		"AGFsaWNlAHNlY3JldA=="
#define B64_PLAIN_ALICE_BAD	"AGFsaWNlAHdyb25n"	/* \0alice\0wrong */
#define B64_PLAIN_AUTHZ_SAME	"YWxpY2UAYWxpY2UAc2VjcmV0" /* alice\0alice\0secret */
#define B64_PLAIN_AUTHZ_OTHER	"Ym9iAGFsaWNlAHNlY3JldA==" /* bob\0alice\0secret */
#define B64_ALICE		"YWxpY2U="
#define B64_SECRET		"c2VjcmV0"
#define B64_NUL_USER		"YWwAaWNl"		/* al\0ice */

static void
test_auth_plain(void **state)
{
	struct rec	*r;
	const char	*o;

	/* Advertised inside TLS only (RFC 4954 4). */
	r = rec_new(SMTP_CONF_AUTH | SMTP_CONF_TLS_ACTIVE, 0, 0);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	drain(r);
	feed(r, "EHLO c.example\r\n");
	o = drain(r);
	assert_non_null(strstr(o, "250 AUTH PLAIN LOGIN\r\n"));
	assert_null(smtp_session_auth_user(r->s));
	assert_string_equal(smtp_session_protocol(r->s), "ESMTPS");
	/* With the initial response. */
	feed(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n");
	assert_string_equal(drain(r),
	    "235 2.7.0 Authentication succeeded\r\n");
	assert_string_equal(r->auth_mech, "PLAIN");
	assert_string_equal(r->auth_user, "alice");
	assert_string_equal(r->auth_pass, "secret");
	/* The engine wiped its copy of the password once we returned. */
	assert_memory_equal(r->auth_pass_ptr, "\0\0\0\0\0\0", 6);
	assert_string_equal(smtp_session_auth_user(r->s), "alice");
	assert_string_equal(smtp_session_protocol(r->s), "ESMTPSA");
	/* AUTH twice: 503 (RFC 4954 4). */
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "503");
	assert_int_equal(r->nauth, 1);
	/* The keyword with SMTPUTF8 (RFC 6531 3.7.3). */
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> SMTPUTF8 "
	    "AUTH=<>\r\n"), "250");
	assert_string_equal(smtp_session_protocol(r->s), "UTF8SMTPSA");
	/* EHLO does not forget the authentication. */
	assert_string_equal(say(r, "EHLO c.example\r\n"), "250");
	assert_string_equal(smtp_session_auth_user(r->s), "alice");
	rec_free(r);

	/* Without: an empty 334, then the response. */
	r = auth_rec(0);
	feed(r, "AUTH PLAIN\r\n");
	assert_string_equal(drain(r), "334 \r\n");
	feed(r, B64_PLAIN_ALICE "\r\n");
	assert_string_equal(drain(r),
	    "235 2.7.0 Authentication succeeded\r\n");
	rec_free(r);
	/* A command given as the response is bad base64. */
	r = auth_rec(0);
	feed(r, "AUTH PLAIN\r\nAUTH PLAIN\r\n");
	assert_string_equal(drain(r),
	    "334 \r\n501 5.5.2 Invalid base64 data\r\n");
	rec_free(r);

	r = auth_rec(0);
	feed(r, "AUTH plain\r\n");
	assert_string_equal(drain(r), "334 \r\n");
	feed(r, B64_PLAIN_ALICE_BAD "\r\n");
	assert_string_equal(drain(r),
	    "535 5.7.8 Authentication credentials invalid\r\n");
	assert_null(smtp_session_auth_user(r->s));
	/* An authzid equal to the authcid is fine. */
	feed(r, "AUTH PLAIN " B64_PLAIN_AUTHZ_SAME "\r\n");
	assert_string_equal(drain(r),
	    "235 2.7.0 Authentication succeeded\r\n");
	rec_free(r);

	/* An authzid naming someone else fails, unasked. */
	r = auth_rec(0);
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_AUTHZ_OTHER
	    "\r\n"), "535");
	assert_int_equal(r->nauth, 0);
	/* "=" is an empty response: malformed for PLAIN. */
	assert_string_equal(say(r, "AUTH PLAIN =\r\n"), "501");
	/* No second NUL; a NUL inside the password. */
	assert_string_equal(say(r, "AUTH PLAIN YWxpY2U=\r\n"), "501");
	assert_string_equal(say(r, "AUTH PLAIN AGFsaWNlAHNlYwByZXQ=\r\n"),
	    "501");
	/* Empty user name. */
	assert_string_equal(say(r, "AUTH PLAIN AABzZWNyZXQ=\r\n"), "501");
	/* Whitespace and junk are not base64 here. */
	assert_string_equal(say(r, "AUTH PLAIN AGFsaWNl\tAHNlY3JldA==\r\n"),
	    "501");
	assert_string_equal(say(r, "AUTH PLAIN AGFsaWNl!HNlY3JldA==\r\n"),
	    "501");
	assert_string_equal(say(r, "AUTH PLAIN a b\r\n"), "501");
	assert_int_equal(r->nauth, 0);
	/* Temporary failure: 454 4.7.0. */
	feed(r, "AUTH PLAIN AHRlbXAAeA==\r\n");	/* \0temp\0x */
	assert_string_equal(drain(r),
	    "454 4.7.0 Temporary authentication failure\r\n");
	/* Still usable afterwards. */
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "235");
	rec_free(r);
}

static char *
b64s(const char *text)
{
	return b64_encode((const uint8_t *)text, strlen(text));
}

/* The text of a "334 <base64>\r\n" (allocated). */
static char *
unb64_334(const char *reply)
{
	uint8_t	*raw;
	size_t	 len;
	char	*s;

	assert_int_equal(strncmp(reply, "334 ", 4), 0);
	assert_int_equal(b64_decode(reply + 4, strlen(reply) - 6, &raw,
	    &len), 0);
	s = calloc(1, len + 1);
	memcpy(s, raw, len);
	free(raw);
	return s;
}

/*
 * SCRAM-SHA-256 with RFC 7677 3's user, password and salt: the test is
 * the client (its proof made with lib/scram.c), the engine must extend
 * the nonce, build the AuthMessage of RFC 5802 3, hand over the proof and
 * send the signature before the 235.  cbind is the c= value to send;
 * nonce_extra changes the server's nonce in the client-final.
 */
static char *
scram_exchange(struct rec *r, const char *gs2, const char *cbind,
    int nonce_extra, char **server_first)
{
	const char	*bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
	uint8_t		 ckey[SCRAM_HASH_MAX], csig[SCRAM_HASH_MAX];
	char		*first, *sf, *nonce, *wp, *authmsg, *proof64, *fin, *b;
	const char	*o;
	size_t		 i;

	xasprintf(&first, "%s%s", gs2, bare);
	b = b64s(first);
	feed(r, "AUTH SCRAM-SHA-256\r\n");
	assert_string_equal(drain(r), "334 \r\n");
	feed(r, b);
	feed(r, "\r\n");
	free(b);
	o = drain(r);
	sf = unb64_334(o);
	/* RFC 5802 5.1: ours, extended; then the salt and the count */
	assert_int_equal(strncmp(sf, "r=rOprNGfwEbeRWgbNEkqO", 22), 0);
	assert_true(strchr(sf, ',') - sf > 22 + 16);
	assert_non_null(strstr(sf, ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
	nonce = strndup(sf + 2, strchr(sf, ',') - sf - 2);
	if (nonce_extra)
		nonce[strlen(nonce) - 1] ^= 1;
	xasprintf(&wp, "c=%s,r=%s", cbind, nonce);
	xasprintf(&authmsg, "%s,%s,%s", bare, sf, wp);
	assert_int_equal(scram_derive_keys(SASL_MECH_SCRAM_SHA_256, "pencil",
	    r->scram_keys.salt, r->scram_keys.saltlen, 4096, ckey, NULL, NULL),
	    0);
	assert_int_equal(scram_hmac(SASL_MECH_SCRAM_SHA_256,
	    r->scram_keys.stored_key, 32, authmsg, strlen(authmsg), csig), 0);
	for (i = 0; i < 32; i++)
		ckey[i] ^= csig[i];
	proof64 = b64_encode(ckey, 32);
	xasprintf(&fin, "%s,p=%s", wp, proof64);
	b = b64s(fin);
	feed(r, b);
	feed(r, "\r\n");
	free(b);
	free(fin);
	free(proof64);
	free(nonce);
	free(wp);
	free(first);
	*server_first = sf;
	return authmsg;
}

static void
test_auth_scram(void **state)
{
	struct rec	*r;
	uint8_t		*salt, sig[SCRAM_HASH_MAX];
	size_t		 saltlen;
	char		*authmsg, *sf, *v, *expect, *sig64;
	const char	*o;

	/* Advertised only when the listener says so. */
	r = auth_rec(SMTP_CONF_SCRAM_SHA256);
	assert_string_equal(say(r, "AUTH SCRAM-SHA-1\r\n"), "504");
	feed(r, "EHLO c.example\r\n");
	assert_non_null(strstr(drain(r),
	    "250 AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n"));
	r->scram_keys.mech = SASL_MECH_SCRAM_SHA_256;
	r->scram_keys.iter = 4096;
	assert_int_equal(b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt,
	    &saltlen), 0);
	memcpy(r->scram_keys.salt, salt, saltlen);
	r->scram_keys.saltlen = saltlen;
	free(salt);
	assert_int_equal(scram_derive_keys(SASL_MECH_SCRAM_SHA_256, "pencil",
	    r->scram_keys.salt, saltlen, 4096, NULL, r->scram_keys.stored_key,
	    r->scram_keys.server_key), 0);

	/* The right proof: v= in a 334, an empty line, 235. */
	authmsg = scram_exchange(r, "n,,", "biws", 0, &sf);
	assert_int_equal(r->nscram_start, 1);
	assert_string_equal(r->auth_user, "user");
	assert_string_equal(r->scram_authmsg, authmsg);
	o = drain(r);
	v = unb64_334(o);
	assert_int_equal(scram_hmac(SASL_MECH_SCRAM_SHA_256,
	    r->scram_keys.server_key, 32, authmsg, strlen(authmsg), sig), 0);
	sig64 = b64_encode(sig, 32);
	xasprintf(&expect, "v=%s", sig64);
	assert_string_equal(v, expect);
	assert_null(smtp_session_auth_user(r->s));
	assert_string_equal(say(r, "\r\n"), "235");
	assert_string_equal(smtp_session_auth_user(r->s), "user");
	free(v);
	free(expect);
	free(sig64);
	free(sf);
	free(authmsg);
	rec_free(r);

	/* "y" is taken when c= repeats it; "n,," with "y" is not. */
	r = auth_rec(SMTP_CONF_SCRAM_SHA256 | SMTP_CONF_SCRAM_SHA1);
	r->scram_keys.mech = SASL_MECH_SCRAM_SHA_256;
	r->scram_keys.iter = 4096;
	assert_int_equal(b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt,
	    &saltlen), 0);
	memcpy(r->scram_keys.salt, salt, saltlen);
	r->scram_keys.saltlen = saltlen;
	free(salt);
	assert_int_equal(scram_derive_keys(SASL_MECH_SCRAM_SHA_256, "pencil",
	    r->scram_keys.salt, saltlen, 4096, NULL, r->scram_keys.stored_key,
	    r->scram_keys.server_key), 0);
	authmsg = scram_exchange(r, "y,,", "eSws", 0, &sf);
	assert_int_equal(r->scram_authmsg_null, 0);
	free(unb64_334(drain(r)));
	assert_string_equal(say(r, "*\r\n"), "501");
	assert_null(smtp_session_auth_user(r->s));
	free(authmsg);
	free(sf);
	authmsg = scram_exchange(r, "y,,", "biws", 0, &sf);
	assert_int_equal(r->scram_authmsg_null, 1);
	assert_string_equal(drain(r),
	    "535 5.7.8 Authentication credentials invalid\r\n");
	free(authmsg);
	free(sf);
	/* Another nonce (a replay): refused before any key is used. */
	authmsg = scram_exchange(r, "n,,", "biws", 1, &sf);
	assert_int_equal(r->scram_authmsg_null, 1);
	assert_string_equal(drain(r),
	    "535 5.7.8 Authentication credentials invalid\r\n");
	free(authmsg);
	free(sf);
	/* Out of order, bad base64, a refused lookup, cancel. */
	feed(r, "AUTH SCRAM-SHA-256\r\n");
	assert_string_equal(drain(r), "334 \r\n");
	v = b64s("c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	feed(r, v);
	free(v);
	feed(r, "\r\n");
	assert_string_equal(drain(r), "501 5.5.2 Invalid SCRAM message\r\n");
	assert_string_equal(say(r, "AUTH SCRAM-SHA-256 %%%\r\n"), "501");
	v = b64s("n,,n=temp,r=abc");
	feed(r, "AUTH SCRAM-SHA-256 ");
	feed(r, v);
	free(v);
	feed(r, "\r\n");
	assert_string_equal(drain(r),
	    "454 4.7.0 Temporary authentication failure\r\n");
	v = b64s("n,,n=user,r=abc");
	feed(r, "AUTH SCRAM-SHA-256 ");
	feed(r, v);
	free(v);
	feed(r, "\r\n*\r\n");
	o = drain(r);
	assert_int_equal(strncmp(o, "334 ", 4), 0);
	assert_non_null(strstr(o, "\r\n501 5.0.0 Authentication cancelled"));
	assert_null(smtp_session_auth_user(r->s));
	/* Still usable: PLAIN works after all that. */
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "235");
	rec_free(r);
}

static void
test_auth_login(void **state)
{
	struct rec	*r;

	r = auth_rec(0);
	feed(r, "AUTH LOGIN\r\n");
	assert_string_equal(drain(r), "334 VXNlcm5hbWU6\r\n");
	feed(r, B64_ALICE "\r\n");
	assert_string_equal(drain(r), "334 UGFzc3dvcmQ6\r\n");
	feed(r, B64_SECRET "\r\n");
	assert_string_equal(drain(r),
	    "235 2.7.0 Authentication succeeded\r\n");
	assert_string_equal(r->auth_mech, "LOGIN");
	assert_string_equal(r->auth_user, "alice");
	assert_string_equal(r->auth_pass, "secret");
	assert_memory_equal(r->auth_pass_ptr, "\0\0\0\0\0\0", 6);
	assert_string_equal(smtp_session_protocol(r->s), "ESMTPSA");
	rec_free(r);

	/* The user name as initial response; a wrong password. */
	r = auth_rec(0);
	feed(r, "AUTH LOGIN " B64_ALICE "\r\n");
	assert_string_equal(drain(r), "334 UGFzc3dvcmQ6\r\n");
	feed(r, "d3Jvbmc=\r\n");
	assert_string_equal(drain(r),
	    "535 5.7.8 Authentication credentials invalid\r\n");
	/* Cancel with "*": 501 5.0.0 (RFC 4954 4), at either step. */
	feed(r, "AUTH LOGIN\r\n*\r\n");
	assert_string_equal(drain(r), "334 VXNlcm5hbWU6\r\n"
	    "501 5.0.0 Authentication cancelled\r\n");
	feed(r, "AUTH LOGIN " B64_ALICE "\r\n*\r\n");
	assert_string_equal(drain(r), "334 UGFzc3dvcmQ6\r\n"
	    "501 5.0.0 Authentication cancelled\r\n");
	/* A NUL in the user name; bad base64 in the password. */
	feed(r, "AUTH LOGIN\r\n" B64_NUL_USER "\r\n");
	assert_string_equal(drain(r), "334 VXNlcm5hbWU6\r\n"
	    "501 5.5.2 Invalid user name\r\n");
	feed(r, "AUTH LOGIN " B64_ALICE "\r\n%%%%\r\n");
	assert_string_equal(drain(r), "334 UGFzc3dvcmQ6\r\n"
	    "501 5.5.2 Invalid base64 data\r\n");
	/* After all that, commands are commands again. */
	assert_string_equal(say(r, "NOOP\r\n"), "250");
	assert_int_equal(r->nauth, 1);
	assert_null(smtp_session_auth_user(r->s));
	rec_free(r);

	/* Answered later: the input waits, pipelined MAIL included. */
	r = auth_rec(0);
	r->async = ASYNC_AUTH;
	feed(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\nMAIL FROM:<a@b.example>\r\n");
	assert_string_equal(drain(r), "");
	smtp_session_reply_auth(r->s, SMTP_AUTH_OK, 0, NULL, NULL);
	assert_string_equal(codes(drain(r)), "235 250");
	rec_free(r);

	/* A 421 answer closes (too many failures). */
	r = auth_rec(0);
	r->async = ASYNC_AUTH;
	feed(r, "AUTH PLAIN " B64_PLAIN_ALICE_BAD "\r\nNOOP\r\n");
	smtp_session_reply_auth(r->s, SMTP_AUTH_FAIL, 421, "4.7.0",
	    "Too many authentication failures");
	assert_string_equal(drain(r), "421 4.7.0 mx.example.org Too many "
	    "authentication failures\r\n");
	assert_true(smtp_session_closing(r->s));
	rec_free(r);
}

static void
test_auth_refused(void **state)
{
	struct rec	*r;
	char		*big;
	const char	*o;

	/* Not offered outside TLS; 538 5.7.11 if tried. */
	r = rec_new(SMTP_CONF_AUTH | SMTP_CONF_STARTTLS, 0, 0);
	drain(r);
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "503");		/* before EHLO */
	feed(r, "EHLO c\r\n");
	o = drain(r);
	assert_null(strstr(o, "AUTH"));
	feed(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n");
	assert_string_equal(drain(r), "538 5.7.11 Encryption required for "
	    "requested authentication mechanism\r\n");
	/* After STARTTLS it is. */
	feed(r, "STARTTLS\r\n");
	drain(r);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	feed(r, "EHLO c\r\n");
	assert_non_null(strstr(drain(r), "AUTH PLAIN LOGIN"));
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "235");
	rec_free(r);

	/* HELO is not enough; not on a listener without auth. */
	r = rec_new(SMTP_CONF_AUTH | SMTP_CONF_TLS_ACTIVE, 0, 0);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	drain(r);
	say(r, "HELO c\r\n");
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "503");
	rec_free(r);
	r = rec_new(SMTP_CONF_TLS_ACTIVE, 0, 0);
	smtp_session_tls_started(r->s, "TLSv1.3", "TLS_AES_128_GCM_SHA256");
	drain(r);
	feed(r, "EHLO c\r\n");
	assert_null(strstr(drain(r), "AUTH"));
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "502");
	rec_free(r);

	/* Unknown mechanism; inside a transaction; no mechanism. */
	r = auth_rec(0);
	assert_string_equal(say(r, "AUTH CRAM-MD5\r\n"), "504");
	assert_string_equal(say(r, "AUTH\r\n"), "501");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"), "250");
	feed(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n");
	assert_string_equal(drain(r), "503 5.5.1 AUTH not permitted during "
	    "a mail transaction\r\n");
	assert_int_equal(r->nauth, 0);
	rec_free(r);

	/* auth require: MAIL before AUTH gets 530 5.7.0. */
	r = auth_rec(SMTP_CONF_AUTH_REQUIRED);
	feed(r, "MAIL FROM:<a@b.example>\r\n");
	assert_string_equal(drain(r), "530 5.7.0 Authentication required\r\n");
	assert_string_equal(say(r, "AUTH PLAIN " B64_PLAIN_ALICE "\r\n"),
	    "235");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> AUTH=alice+2Bx@b"
	    "\r\n"), "250");
	assert_string_equal(say(r, "RSET\r\n"), "250");
	/* AUTH= must be xtext. */
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> AUTH=a+zz\r\n"),
	    "501");
	rec_free(r);

	/*
	 * RFC 4954 4: lines of 12288 octets are taken; longer ones get
	 * 500 5.5.6 and end the exchange.
	 */
	big = malloc(20001);
	assert_non_null(big);
	r = auth_rec(0);
	memset(big, 'A', 20000);
	big[20000] = '\0';
	memcpy(big, "AUTH PLAIN ", 11);
	feed(r, big);
	feed(r, "\r\n");
	assert_string_equal(drain(r),
	    "500 5.5.6 Authentication exchange line is too long\r\n");
	assert_string_equal(say(r, "NOOP\r\n"), "250");
	/* As a response to the 334, too. */
	feed(r, "AUTH PLAIN\r\n");
	assert_string_equal(drain(r), "334 \r\n");
	memset(big, 'A', 20000);
	feed(r, big);
	feed(r, "\r\n");
	assert_string_equal(drain(r),
	    "500 5.5.6 Authentication exchange line is too long\r\n");
	assert_string_equal(say(r, "NOOP\r\n"), "250");
	/* 12288 octets of base64: taken (decodes too long: 501). */
	memset(big, 'A', 12288);
	big[12288] = '\0';
	feed(r, "AUTH PLAIN\r\n");
	drain(r);
	feed(r, big);
	feed(r, "\r\n");
	assert_string_equal(drain(r),
	    "501 5.5.2 Authentication data too long\r\n");
	/* An ordinary command line is still bounded at 512 + 500. */
	memset(big, 'A', 2000);
	memcpy(big, "NOOP ", 5);
	big[2000] = '\0';
	feed(r, big);
	feed(r, "\r\n");
	assert_string_equal(codes(drain(r)), "500");
	assert_int_equal(r->nauth, 0);
	free(big);
	rec_free(r);
}

static void
test_dsn_utf8(void **state)
{
	struct rec	*r;

	r = rec_new(0, 0, 0);
	drain(r);
	say(r, "EHLO c\r\n");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> RET=HDRS "
	    "ENVID=QQ+2B\r\n"), "250");
	assert_int_equal(r->mail.params.ret, SMTP_RET_HDRS);
	assert_string_equal(r->mail.params.envid, "QQ+");
	assert_string_equal(say(r, "RCPT TO:<c@d.example> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;c+40d.example\r\n"), "250");
	assert_int_equal(r->rcpt.params.notify, SMTP_NOTIFY_SUCCESS |
	    SMTP_NOTIFY_DELAY);
	assert_string_equal(r->rcpt.params.orcpt, "rfc822;c@d.example");
	assert_string_equal(say(r, "RCPT TO:<c@d.example> NOTIFY=NEVER,DELAY"
	    "\r\n"), "501");
	assert_string_equal(say(r, "RCPT TO:<c@d.example> FOO=BAR\r\n"),
	    "555");
	/* UTF-8 recipient without SMTPUTF8 on MAIL. */
	feed(r, "RCPT TO:<j\xc3\xb6rg@d.example>\r\n");
	assert_string_equal(drain(r), "553 5.6.7 UTF-8 address needs "
	    "SMTPUTF8\r\n");
	say(r, "RSET\r\n");
	assert_string_equal(say(r, "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.de>"
	    "\r\n"), "553");
	assert_string_equal(say(r, "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.de>"
	    " SMTPUTF8 BODY=8BITMIME\r\n"), "250");
	assert_true(r->mail.sender.utf8);
	assert_string_equal(say(r, "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@"
	    "\xe4\xbe\x8b\xe5\xad\x90.example>\r\n"), "250");
	assert_string_equal(say(r, "RSET\r\n"), "250");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> BODY=BINARYMIME"
	    "\r\n"), "555");
	assert_string_equal(say(r, "MAIL FROM:<a@b.example> SIZE=1 SIZE=1\r\n"),
	    "555");
	rec_free(r);
}

/*
 * NOOP, RSET, HELP, VRFY and EXPN spend a budget that only an accepted
 * message renews; past it, 421 4.7.0 and the session closes.
 */
static void
test_idle_commands(void **state)
{
	struct rec	*r;
	int		 i;

	max_idle = 0;		/* the default */
	r = rec_new(0, 0, 0);
	drain(r);
	/* EHLO and HELO count too: a loop of them is no better */
	assert_string_equal(say(r, "EHLO c\r\n"), "250");
	for (i = 1; i < SMTP_DEFAULT_MAX_IDLE_COMMANDS; i++)
		assert_string_equal(say(r, "NOOP\r\n"), "250");
	assert_string_equal(say(r, "HELO c\r\n"), "421");
	assert_true(smtp_session_closing(r->s));
	assert_non_null(strstr((char *)r->events.data,
	    "limit:Too many commands without a message"));
	rec_free(r);

	max_idle = 4;
	r = rec_new(0, 0, 0);
	drain(r);
	assert_string_equal(say(r, "EHLO c\r\nNOOP\r\nRSET\r\nHELP\r\n"),
	    "250 250 250 214");
	/* a message accepted: a new budget */
	assert_string_equal(say(r, "MAIL FROM:<a@b.example>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\n"), "250 250 354");
	assert_string_equal(say(r, "x\r\n.\r\n"), "250");
	assert_string_equal(say(r, "NOOP\r\nNOOP\r\nNOOP\r\nEXPN x\r\n"),
	    "250 250 250 252");
	assert_string_equal(say(r, "RSET\r\n"), "421");
	assert_true(smtp_session_closing(r->s));
	rec_free(r);
	max_idle = 100000;
}

static void
test_error_limit(void **state)
{
	struct rec	*r;
	int		 i;

	max_errors = 0;		/* the default, 10 */
	r = rec_new(0, 0, 0);
	max_errors = 1000;
	drain(r);
	for (i = 0; i < 9; i++)
		assert_string_equal(say(r, "BOGUS\r\n"), "500");
	assert_false(smtp_session_closing(r->s));
	feed(r, "BOGUS\r\nNOOP\r\n");
	assert_string_equal(drain(r), "500 5.5.1 Command unrecognized\r\n"
	    "421 4.7.0 mx.example.org Too many errors, closing connection\r\n");
	assert_true(smtp_session_closing(r->s));
	rec_free(r);
}

static void
test_timeout_shutdown(void **state)
{
	struct rec	*r;

	r = in_data(0, 0);
	feed(r, "partial line");
	smtp_session_timeout(r->s);
	assert_string_equal(drain(r), "421 4.4.2 mx.example.org Error: timeout "
	    "exceeded\r\n");
	assert_int_equal(r->aborted, 1);
	assert_true(smtp_session_closing(r->s));
	/* Nothing after the close. */
	smtp_session_shutdown(r->s);
	assert_string_equal(drain(r), "");
	rec_free(r);

	r = rec_new(0, 0, 0);
	drain(r);
	smtp_session_shutdown(r->s);
	assert_string_equal(drain(r), "421 4.3.2 mx.example.org Service "
	    "shutting down\r\n");
	assert_true(smtp_session_closing(r->s));
	rec_free(r);

	r = in_data(0, 0);
	smtp_session_client_gone(r->s);
	assert_string_equal(drain(r), "");
	assert_int_equal(r->aborted, 1);
	rec_free(r);
}

static void
test_received(void **state)
{
	struct smtp_received	 rc;
	struct buf		 b;
	const char		*p, *nl;

	memset(&rc, 0, sizeof(rc));
	rc.helo = "client.example";
	rc.client_ip = "192.0.2.1";
	rc.client_rdns = "mail.client.example";
	rc.hostname = "mx.example.org";
	rc.protocol = "ESMTPS";
	rc.tls_version = "TLSv1.3";
	rc.tls_cipher = "TLS_AES_256_GCM_SHA384";
	rc.queue_id = "0123456789abcdef";
	rc.rcpt = "user@example.org";
	rc.date = 1795443600;	/* 2026-11-23 14:20:00 UTC, a Monday */
	buf_init(&b, 4096);
	assert_int_equal(smtp_received_header(&b, &rc), 0);
	assert_string_equal(buf_cstr(&b),
	    "Received: from client.example (mail.client.example [192.0.2.1])\r\n"
	    "\tby mx.example.org (postern) with ESMTPS\r\n"
	    "\t(TLSv1.3 cipher=TLS_AES_256_GCM_SHA384) id 0123456789abcdef\r\n"
	    "\tfor <user@example.org>;\r\n"
	    "\tMon, 23 Nov 2026 14:20:00 +0000\r\n");
	/* No TLS, IPv6, several recipients, hostile HELO. */
	buf_reset(&b);
	rc.helo = "evil\r\nX-Injected: yes";
	rc.client_ip = "2001:db8::1";
	rc.client_rdns = NULL;
	rc.protocol = "ESMTP";
	rc.tls_version = NULL;
	rc.rcpt = NULL;
	assert_int_equal(smtp_received_header(&b, &rc), 0);
	assert_string_equal(buf_cstr(&b),
	    "Received: from unknown ([IPv6:2001:db8::1])\r\n"
	    "\tby mx.example.org (postern) with ESMTP id 0123456789abcdef;\r\n"
	    "\tMon, 23 Nov 2026 14:20:00 +0000\r\n");
	/* Every line under 78 columns with a long name. */
	buf_reset(&b);
	rc.helo = "a-very-long-client-name.with.many.labels.example.com";
	rc.client_rdns = "another-very-long-reverse-name.example.net";
	rc.tls_version = "TLSv1.2";
	rc.tls_cipher = "ECDHE-RSA-CHACHA20-POLY1305";
	assert_int_equal(smtp_received_header(&b, &rc), 0);
	for (p = buf_cstr(&b); (nl = strstr(p, "\r\n")) != NULL; p = nl + 2)
		assert_true(nl - p < 78);
	/* A local submission (posternctl sendmail): the user and uid. */
	buf_reset(&b);
	rc.local = 1;
	rc.local_uid = 1000;
	rc.local_user = "alice";
	rc.tls_version = NULL;
	assert_int_equal(smtp_received_header(&b, &rc), 0);
	assert_string_equal(buf_cstr(&b),
	    "Received: from alice (uid 1000)\r\n"
	    "\tby mx.example.org (postern) with ESMTP id 0123456789abcdef;\r\n"
	    "\tMon, 23 Nov 2026 14:20:00 +0000\r\n");
	/* a name that is not header-safe is not written */
	buf_reset(&b);
	rc.local_user = "bob\r\nX-Injected: yes";
	assert_int_equal(smtp_received_header(&b, &rc), 0);
	assert_non_null(strstr(buf_cstr(&b), "from unknown (uid 1000)"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_ehlo),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_data_split),
		cmocka_unit_test(test_bare_crlf_data),
		cmocka_unit_test(test_bare_lf_nul_command),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_too_many_rcpts),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_requiretls_not_offered),
		cmocka_unit_test(test_requiretls_when_enabled),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_auth_scram),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_dsn_utf8),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_timeout_shutdown),
		cmocka_unit_test(test_received),
		cmocka_unit_test(test_duplicate_rcpts),
		cmocka_unit_test(test_received_loop),
		cmocka_unit_test(test_idle_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

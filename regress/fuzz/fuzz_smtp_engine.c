/*
 * libFuzzer target for smtpd/engine.c and lib/smtp_addr.c: client bytes
 * fed in chunks of fuzzed sizes, decisions answered at once or later (and
 * accepted or refused) as the input says, output drained now and then.
 * Checks the engine's invariants: bounded output made of well-formed reply
 * lines, at most one decision pending, message callbacks in order (chunks
 * only inside an accepted message, one end or abort each), and every
 * message that ends clean: no bare CR or LF, no line over 1000 octets,
 * not over the size limit.
 */
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtpd/engine.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_SIZE	4096

enum pend { PEND_NONE, PEND_MAIL, PEND_RCPT, PEND_START, PEND_END,
	    PEND_TLS, PEND_AUTH };

struct fz {
	struct smtp_session	*s;
	const uint8_t		*ctl;		/* decisions come from here */
	size_t			 nctl, ictl;
	enum pend		 pending;
	int			 in_msg;
	uint8_t			 msg[MAX_SIZE + SMTP_CHUNK_MAX];
	size_t			 msglen;
};

static uint8_t
ctl(struct fz *f)
{
	if (f->nctl == 0)
		return 0;
	return f->ctl[f->ictl++ % f->nctl];
}

static void
answer(struct fz *f)
{
	enum pend	 p = f->pending;
	int		 ok = (ctl(f) & 3) != 0;

	f->pending = PEND_NONE;
	switch (p) {
	case PEND_MAIL:
		smtp_session_reply_mail(f->s, ok, ok ? 0 : 451, "4.3.0",
		    NULL);
		break;
	case PEND_RCPT:
		smtp_session_reply_rcpt(f->s, ok, ok ? 250 : 550, ok ?
		    "2.1.5" : "5.1.1", "x\r\ny");
		break;
	case PEND_START:
		/* Refused: no end or abort follows. */
		f->in_msg = ok;
		f->msglen = 0;
		smtp_session_reply_data_start(f->s, ok, 0, NULL, NULL);
		break;
	case PEND_END:
		smtp_session_reply_data(f->s, ok, ok ? 250 : 452, NULL,
		    "QID Message accepted");
		break;
	case PEND_TLS:
		smtp_session_tls_started(f->s, "TLSv1.3", "TLS_AES_128");
		break;
	case PEND_AUTH:
		/* ok, fail, temporary failure, or 421 (too many) */
		switch (ctl(f) & 3) {
		case 0:
			smtp_session_reply_auth(f->s, SMTP_AUTH_OK, 0, NULL,
			    NULL);
			break;
		case 1:
			smtp_session_reply_auth(f->s, SMTP_AUTH_FAIL, 0, NULL,
			    NULL);
			break;
		case 2:
			smtp_session_reply_auth(f->s, SMTP_AUTH_TEMPFAIL, 0,
			    NULL, NULL);
			break;
		default:
			smtp_session_reply_auth(f->s, SMTP_AUTH_FAIL, 421,
			    "4.7.0", "Too many failures");
			break;
		}
		break;
	case PEND_NONE:
		break;
	}
}

/* A decision is asked: none may be pending; answer now or later. */
static void
decide(struct fz *f, enum pend p)
{
	if (f->pending != PEND_NONE)
		__builtin_trap();
	f->pending = p;
	if (ctl(f) & 0x10)
		answer(f);
}

static void
on_mail(void *arg, const struct smtp_mail *m)
{
	struct fz	*f = arg;

	if (f->in_msg || strlen(m->sender.addr) > SMTP_PATH_MAX)
		__builtin_trap();
	decide(f, PEND_MAIL);
}

static void
on_rcpt(void *arg, const struct smtp_rcpt *r)
{
	struct fz	*f = arg;

	if (f->in_msg || r->rcpt.addr[0] == '\0')
		__builtin_trap();
	decide(f, PEND_RCPT);
}

static void
on_data_start(void *arg)
{
	struct fz	*f = arg;

	if (f->in_msg)
		__builtin_trap();
	decide(f, PEND_START);
}

static void
on_data_chunk(void *arg, const uint8_t *data, size_t len)
{
	struct fz	*f = arg;

	if (!f->in_msg || len == 0 || len > SMTP_CHUNK_MAX ||
	    f->msglen + len > MAX_SIZE)
		__builtin_trap();
	memcpy(f->msg + f->msglen, data, len);
	f->msglen += len;
}

static void
on_data_end(void *arg)
{
	struct fz	*f = arg;
	size_t		 i, line = 0;

	if (!f->in_msg)
		__builtin_trap();
	f->in_msg = 0;
	/* A clean message: CRLF only, lines of 1000 octets at most. */
	for (i = 0; i < f->msglen; i++) {
		if (f->msg[i] == '\r' && (i + 1 == f->msglen ||
		    f->msg[i + 1] != '\n'))
			__builtin_trap();
		if (f->msg[i] == '\n' && (i == 0 || f->msg[i - 1] != '\r'))
			__builtin_trap();
		line = f->msg[i] == '\n' ? 0 : line + 1;
		if (line > SMTP_TEXT_LINE_MAX - 1)
			__builtin_trap();
	}
	decide(f, PEND_END);
}

static void
on_data_abort(void *arg, enum smtp_abort why)
{
	struct fz	*f = arg;

	if (!f->in_msg)
		__builtin_trap();
	f->in_msg = 0;
}

static void
on_starttls(void *arg)
{
	decide(arg, PEND_TLS);
}

/* Bounded, NUL-free credentials, and only inside TLS. */
static void
on_auth(void *arg, const char *mech, const char *user, const char *pass)
{
	struct fz	*f = arg;

	if (f->in_msg || !smtp_session_tls_active(f->s) ||
	    (strcmp(mech, "PLAIN") != 0 && strcmp(mech, "LOGIN") != 0) ||
	    strlen(user) == 0 || strlen(user) > SMTP_AUTH_USER_MAX ||
	    strlen(pass) > SMTP_AUTH_PASS_MAX ||
	    smtp_session_auth_user(f->s) != NULL)
		__builtin_trap();
	decide(f, PEND_AUTH);
}

static void
on_helo(void *arg, const char *name, int esmtp)
{
	if (strlen(name) == 0 || strlen(name) > SMTP_HELO_MAX)
		__builtin_trap();
}

static const struct smtp_session_cb cbs = {
	.on_helo = on_helo,
	.on_mail = on_mail,
	.on_rcpt = on_rcpt,
	.on_data_start = on_data_start,
	.on_data_end = on_data_end,
	.on_starttls = on_starttls,
	.on_auth = on_auth,
	.on_data_chunk = on_data_chunk,
	.on_data_abort = on_data_abort,
};

/* Every reply line: three digits, '-' or ' ', text, CRLF. */
static void
drain(struct fz *f, struct buf *partial)
{
	const uint8_t	*p;
	size_t		 len, i, start;

	p = smtp_session_output(f->s, &len);
	if (len > SMTP_OUTBUF_MAX)
		__builtin_trap();
	if (buf_add(partial, p, len) == -1)
		__builtin_trap();
	smtp_session_output_consume(f->s, len);
	start = 0;
	for (i = 0; i < partial->len; i++) {
		if (partial->data[i] != '\n')
			continue;
		if (i - start < 5 || partial->data[i - 1] != '\r' ||
		    partial->data[start] < '2' || partial->data[start] > '5' ||
		    (partial->data[start + 3] != ' ' &&
		    partial->data[start + 3] != '-'))
			__builtin_trap();
		start = i + 1;
	}
	/* Replies are written whole. */
	if (start != partial->len)
		__builtin_trap();
	buf_reset(partial);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_session_conf	 conf;
	struct fz			 f;
	struct buf			 out;
	size_t				 n, took;
	int				 stalls = 0;
	uint8_t				 c;

	if (size < 8)
		return 0;
	memset(&f, 0, sizeof(f));
	memset(&conf, 0, sizeof(conf));
	conf.hostname = "mx.example.org";
	conf.flags = data[0] & 0x1f;	/* SMTP_CONF_*, AUTH included */
	conf.max_size = 64 + (data[1] % 16) * 256;
	conf.max_rcpts = 1 + data[1] / 64;
	conf.max_errors = 1 + data[2] % 32;
	/* The control bytes are the input's last quarter, reused in turn. */
	f.nctl = size / 4;
	f.ctl = data + size - f.nctl;
	size -= f.nctl;
	data += 4;
	size -= 4;
	buf_init(&out, SMTP_OUTBUF_MAX);
	f.s = smtp_session_new(&conf, &cbs, &f);
	if (conf.flags & SMTP_CONF_TLS_ACTIVE)
		smtp_session_tls_started(f.s, "TLSv1.3", "TLS_AES_128");
	smtp_session_start(f.s);
	while (size > 0 && !smtp_session_closing(f.s)) {
		c = ctl(&f);
		n = 1 + (c & 0x0f) * (c & 0x80 ? 97 : 1);
		if (n > size)
			n = size;
		took = smtp_session_input(f.s, data, n);
		if (took > n)
			__builtin_trap();
		data += took;
		size -= took;
		c = ctl(&f);
		if (f.pending != PEND_NONE && (c & 0x03) == 0)
			answer(&f);
		if ((c & 0x0c) != 0 || took == 0)
			drain(&f, &out);
		if (took == 0 && f.pending != PEND_NONE)
			answer(&f);
		else if (took == 0 && ++stalls > 2)
			__builtin_trap();	/* refused with no reason */
		if (took > 0)
			stalls = 0;
	}
	while (f.pending != PEND_NONE)
		answer(&f);
	drain(&f, &out);
	switch (ctl(&f) % 4) {
	case 0:
		smtp_session_timeout(f.s);
		break;
	case 1:
		smtp_session_shutdown(f.s);
		break;
	default:
		smtp_session_client_gone(f.s);
		break;
	}
	if (f.in_msg)
		__builtin_trap();	/* an open message was not aborted */
	drain(&f, &out);
	smtp_session_free(f.s);
	buf_free(&out);
	return 0;
}

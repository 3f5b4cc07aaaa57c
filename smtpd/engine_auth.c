/*
 * The SMTP server engine's security commands: STARTTLS, and AUTH with the
 * PLAIN and LOGIN mechanisms, offered only inside TLS.
 *
 * Implements STARTTLS (RFC 3207 4, 4.2: the session starts over after the
 * handshake and what was pipelined in clear is dropped, CVE-2011-0411),
 * AUTH (RFC 4954 4 and 6: the exchange, its 12288-octet lines, "*" to
 * cancel, the reply codes), PLAIN (RFC 4616 2) and the server side of
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802 5 and 7, RFC 7677): the
 * messages are parsed here (lib/scram.c), the nonce is ours and checked
 * here, the keys and the proof check are the caller's (authd's).
 *
 * Deliberately not here: the TLS handshake and the credentials check (the
 * caller's on_starttls, on_auth, on_scram_*), other SASL mechanisms
 * (CRAM-MD5 needs the clear password stored), SCRAM's -PLUS variants
 * (libtls gives no tls-exporter keying material, RFC 9266), acting for
 * another user (an authzid other than the authcid is refused).  Passwords
 * are wiped once used.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "log.h"
#include "scram.h"
#include "smtpd/engine.h"
#include "smtpd/engine_int.h"
#include "util.h"

static void	auth_end(struct smtp_session *);

/*
 * STARTTLS (RFC 3207).
 */

int
engine_check_starttls(struct smtp_session *s, const char *args)
{
	if ((s->conf.flags & SMTP_CONF_STARTTLS) == 0) {
		engine_reply(s, 502, "5.5.1", "Command not implemented");
		return -1;
	}
	if (s->tls) {
		engine_reply(s, 503, "5.5.1", "TLS already active");
		return -1;
	}
	if (engine_check_noargs(s, args) == -1)
		return -1;
	if (s->state == S_INIT) {
		engine_reply(s, 503, "5.5.1", "Send EHLO first");
		return -1;
	}
	if (s->state != S_HELO) {
		engine_reply(s, 503, "5.5.1", "STARTTLS inside a transaction");
		return -1;
	}
	return 0;
}

void
engine_proceed_starttls(struct smtp_session *s, const char *args)
{
	engine_reply(s, 220, "2.0.0", "Ready to start TLS");
	/* RFC 3207 4.2, CVE-2011-0411: what follows was sent in clear. */
	s->drop_input = 1;
	s->pending = P_STARTTLS;
	if (s->cb.on_starttls != NULL)
		s->cb.on_starttls(s->arg);
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
		engine_tx_reset(s, 1);
		buf_reset(&s->in);
		s->skip_line = 0;
		s->helo[0] = '\0';
		s->esmtp = 0;
		/* RFC 3207 4.2: everything learnt before is forgotten. */
		auth_end(s);
		s->authenticated = 0;
		s->auth_user[0] = '\0';
		engine_enter_state(s, S_INIT);
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
	engine_process(s);
}

/*
 * AUTH (RFC 4954).
 */

/*
 * Is this (maybe partial) line an AUTH command or response?  Those may be
 * longer than a command line (RFC 4954 4).
 */
int
engine_auth_line(const struct smtp_session *s, const uint8_t *p, size_t len)
{
	if (s->auth_step != A_NONE)
		return 1;
	return len >= 5 && strncasecmp((const char *)p, "AUTH ", 5) == 0 &&
	    (s->conf.flags & SMTP_CONF_AUTH);
}

/* An AUTH line over the bound: RFC 4954 4, 500 5.5.6, the exchange ends. */
void
engine_auth_too_long(struct smtp_session *s)
{
	auth_end(s);
	engine_reply(s, 500, "5.5.6",
	    "Authentication exchange line is too long");
}

/* The SCRAM mechanism named, if this listener offers it. */
static enum sasl_mech
auth_scram_mech(const struct smtp_session *s, const char *name, size_t len)
{
	enum sasl_mech	 m = sasl_mech_from_span(name, len);

	if (m == SASL_MECH_SCRAM_SHA_256 &&
	    (s->conf.flags & SMTP_CONF_SCRAM_SHA256))
		return m;
	if (m == SASL_MECH_SCRAM_SHA_1 &&
	    (s->conf.flags & SMTP_CONF_SCRAM_SHA1))
		return m;
	return SASL_MECH_NONE;
}

int
engine_check_auth(struct smtp_session *s, const char *args)
{
	size_t	 mlen;

	if ((s->conf.flags & SMTP_CONF_AUTH) == 0) {
		engine_reply(s, 502, "5.5.1", "Command not implemented");
		return -1;
	}
	/* RFC 4954 4: AUTH is an ESMTP command, after EHLO. */
	if (s->state == S_INIT || !s->esmtp) {
		engine_reply(s, 503, "5.5.1", "Send EHLO first");
		return -1;
	}
	/* RFC 4954 4: "MUST reject any further AUTH commands" */
	if (s->authenticated) {
		engine_reply(s, 503, "5.5.1", "Already authenticated");
		return -1;
	}
	/* RFC 4954 4: "MUST NOT be issued ... during a mail transaction" */
	if (s->state != S_HELO) {
		engine_reply(s, 503, "5.5.1",
		    "AUTH not permitted during a mail transaction");
		return -1;
	}
	/*
	 * RFC 4954 4: no plaintext password mechanism without a protected
	 * session; 538 5.7.11 is its reply (RFC 4954 6).
	 */
	if (!s->tls) {
		engine_reply(s, 538, "5.7.11",
		    "Encryption required for requested "
		    "authentication mechanism");
		return -1;
	}
	mlen = strcspn(args, " ");
	if (mlen == 0 || (args[mlen] == ' ' && (args[mlen + 1] == '\0' ||
	    strchr(args + mlen + 1, ' ') != NULL))) {
		engine_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
		    "[initial-response]");
		return -1;
	}
	if (!(mlen == 5 && strncasecmp(args, "PLAIN", 5) == 0) &&
	    !(mlen == 5 && strncasecmp(args, "LOGIN", 5) == 0) &&
	    auth_scram_mech(s, args, mlen) == SASL_MECH_NONE) {
		engine_reply(s, 504, "5.5.4",
		    "Unrecognized authentication type");
		return -1;
	}
	return 0;
}

static void
auth_end(struct smtp_session *s)
{
	s->auth_step = A_NONE;
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
	s->scram_mech = SASL_MECH_NONE;
	s->scram_gs2[0] = '\0';
	s->scram_first_bare[0] = '\0';
	s->scram_server_first[0] = '\0';
	s->scram_nonce[0] = '\0';
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
		engine_reply(s, 501, "5.5.2", "Invalid base64 data");
		goto done;
	}
	if (declen > outsz) {
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Authentication data too long");
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
	char		*pass = s->auth_pass;
	const uint8_t	*n1, *n2, *authcid, *pw;
	ssize_t		 len;
	size_t		 zlen, ulen, plen;

	if ((len = auth_decode(s, resp, dec, sizeof(dec))) == -1)
		return;
	if ((n1 = memchr(dec, '\0', len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', dec + len - (n1 + 1))) == NULL) {
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Invalid PLAIN response");
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
		engine_reply(s, 501, "5.5.2", "Invalid PLAIN response");
		goto done;
	}
	if (zlen > 0 && (zlen != ulen || memcmp(dec, authcid, ulen) != 0)) {
		auth_end(s);
		engine_reply(s, 535, "5.7.8",
		    "Authentication credentials invalid");
		goto done;
	}
	memcpy(user, authcid, ulen);
	user[ulen] = '\0';
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	auth_check(s, "PLAIN", user, pass);
 done:
	explicit_bzero(dec, sizeof(dec));
	explicit_bzero(s->auth_pass, sizeof(s->auth_pass));
}

/* LOGIN: the user name, then the password, each its own response. */
static void
auth_login(struct smtp_session *s, const char *resp)
{
	char		*buf = s->auth_pass;
	ssize_t		 len;

	if ((len = auth_decode(s, resp, (uint8_t *)buf,
	    sizeof(s->auth_pass) - 1)) == -1)
		return;
	if (s->auth_step == A_LOGIN_USER) {
		if (!auth_user_valid((uint8_t *)buf, (size_t)len)) {
			auth_end(s);
			engine_reply(s, 501, "5.5.2", "Invalid user name");
		} else {
			memcpy(s->auth_login, buf, len);
			s->auth_login[len] = '\0';
			s->auth_step = A_LOGIN_PASS;
			engine_reply_raw(s, "334 UGFzc3dvcmQ6\r\n",
			    sizeof("334 UGFzc3dvcmQ6\r\n") - 1);
		}
	} else if (memchr(buf, '\0', len) != NULL) {
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Invalid password");
	} else {
		char	 user[SMTP_AUTH_USER_MAX + 1];

		buf[len] = '\0';
		strlcpy(user, s->auth_login, sizeof(user));
		auth_check(s, "LOGIN", user, buf);
		explicit_bzero(user, sizeof(user));
	}
	explicit_bzero(s->auth_pass, sizeof(s->auth_pass));
}

/*
 * SCRAM (RFC 5802 5, 7): the client-first-message.  Its user goes to the
 * caller for the salt; the rest is kept for the AuthMessage.
 */
static void
auth_scram_first(struct smtp_session *s, const char *resp)
{
	struct scram_client_first	 cf;
	char				 msg[SCRAM_CLIENT_MSG_MAX + 1];
	ssize_t				 len;

	if ((len = auth_decode(s, resp, (uint8_t *)msg,
	    SCRAM_CLIENT_MSG_MAX)) == -1)
		return;
	switch (scram_parse_client_first(msg, len, &cf)) {
	case SCRAM_OK:
		break;
	case SCRAM_ERR_CBIND:
		/* RFC 5802 6: no -PLUS offered, so none may be asked for. */
		auth_end(s);
		engine_reply(s, 501, "5.5.4", "SCRAM channel binding is not "
		    "supported");
		return;
	case SCRAM_ERR_AUTHZID:
		auth_end(s);
		engine_reply(s, 535, "5.7.8",
		    "Authentication credentials invalid");
		return;
	case SCRAM_ERR_EXTENSION:
		/* RFC 5802 5.1: an unknown mandatory extension fails. */
		auth_end(s);
		engine_reply(s, 501, "5.5.4", "SCRAM extension not supported");
		return;
	case SCRAM_ERR_USER:
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Invalid user name");
		return;
	default:
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Invalid SCRAM message");
		return;
	}
	msg[len] = '\0';
	/*
	 * RFC 5802 6: "y" says the client could bind but believes we cannot;
	 * we offer no -PLUS, so that is right, and "c=" must repeat it.
	 */
	memcpy(s->scram_gs2, msg, cf.gs2_len);
	s->scram_gs2[cf.gs2_len] = '\0';
	strlcpy(s->scram_first_bare, msg + cf.bare_off,
	    sizeof(s->scram_first_bare));
	strlcpy(s->scram_nonce, cf.nonce, sizeof(s->scram_nonce));
	strlcpy(s->auth_pending_user, cf.user, sizeof(s->auth_pending_user));
	s->auth_step = A_SCRAM_LOOKUP;
	s->pending = P_AUTH;
	if (s->cb.on_scram_start != NULL)
		s->cb.on_scram_start(s->arg, sasl_mech_name(s->scram_mech),
		    cf.user);
	else
		smtp_session_reply_auth(s, SMTP_AUTH_TEMPFAIL, 0, NULL, NULL);
}

void
smtp_session_reply_scram_salt(struct smtp_session *s, const uint8_t *salt,
    size_t saltlen, unsigned int iter)
{
	struct buf	 b;
	uint8_t		 rnd[SCRAM_SNONCE_RAND];
	char		*ours, *salt64, *out;
	size_t		 len;

	if (!engine_answer_expected(s, P_AUTH, __func__))
		return;
	s->pending = P_NONE;
	if (s->auth_step != A_SCRAM_LOOKUP || saltlen == 0 ||
	    saltlen > SCRAM_SALT_MAX || iter == 0) {
		log_warnx("%s: no SCRAM salt expected or a bad one", __func__);
		auth_end(s);
		engine_reply(s, 454, "4.7.0",
		    "Temporary authentication failure");
		engine_process(s);
		return;
	}
	/* RFC 5802 5.1: our nonce part, appended to the client's. */
	arc4random_buf(rnd, sizeof(rnd));
	ours = b64_encode(rnd, sizeof(rnd));
	strlcat(s->scram_nonce, ours, sizeof(s->scram_nonce));
	free(ours);
	salt64 = b64_encode(salt, saltlen);
	len = (size_t)snprintf(s->scram_server_first,
	    sizeof(s->scram_server_first), "r=%s,s=%s,i=%u", s->scram_nonce,
	    salt64, iter);
	free(salt64);
	if (len >= sizeof(s->scram_server_first))
		fatalx("%s: server-first-message too long", __func__);
	out = b64_encode((const uint8_t *)s->scram_server_first, len);
	buf_init(&b, 1024);
	buf_printf(&b, "334 %s\r\n", out);
	engine_reply_raw(s, (const char *)b.data, b.len);
	buf_free(&b);
	free(out);
	s->auth_step = A_SCRAM_FINAL;
	engine_process(s);
}

/*
 * SCRAM (RFC 5802 5.1, 7): the client-final-message.  A channel binding
 * or nonce other than this exchange's (a replay, a tampered message) is
 * refused like a wrong proof, and counted as such by the caller.
 */
static void
auth_scram_final(struct smtp_session *s, const char *resp)
{
	struct scram_client_final	 cf;
	struct buf			 am;
	char				 msg[SCRAM_CLIENT_MSG_MAX + 1];
	uint8_t				*cb = NULL;
	size_t				 cblen = 0, gs2len;
	ssize_t				 len;
	int				 valid;

	if ((len = auth_decode(s, resp, (uint8_t *)msg,
	    SCRAM_CLIENT_MSG_MAX)) == -1)
		return;
	msg[len] = '\0';
	if (scram_parse_client_final(msg, len, &cf) != SCRAM_OK) {
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Invalid SCRAM message");
		return;
	}
	/* RFC 5802 7: c= is base64 of the gs2-header (no binding data). */
	gs2len = strlen(s->scram_gs2);
	valid = b64_decode(cf.cbind, cf.cbind_len, &cb, &cblen) == 0 &&
	    cblen == gs2len && memcmp(cb, s->scram_gs2, gs2len) == 0;
	free(cb);
	/* RFC 5802 5.1: the nonce must be the one of server-first. */
	if (cf.nonce_len != strlen(s->scram_nonce) ||
	    memcmp(cf.nonce, s->scram_nonce, cf.nonce_len) != 0)
		valid = 0;
	/*
	 * RFC 5802 3: AuthMessage := client-first-message-bare + "," +
	 * server-first-message + "," + client-final-message-without-proof
	 */
	buf_init(&am, SCRAM_AUTHMSG_MAX);
	if (buf_printf(&am, "%s,%s,", s->scram_first_bare,
	    s->scram_server_first) == -1 ||
	    buf_add(&am, msg, cf.without_proof_len) == -1)
		valid = 0;	/* cannot be: each part is bounded */
	s->auth_step = A_SCRAM_VERIFY;
	s->pending = P_AUTH;
	if (s->cb.on_scram_proof != NULL)
		s->cb.on_scram_proof(s->arg, sasl_mech_name(s->scram_mech),
		    s->auth_pending_user, valid ? (const char *)am.data : NULL,
		    valid ? am.len : 0, cf.proof, cf.proof_len);
	else
		smtp_session_reply_auth(s, SMTP_AUTH_TEMPFAIL, 0, NULL, NULL);
	explicit_bzero(&cf, sizeof(cf));
	buf_free(&am);
}

void
smtp_session_reply_scram_ok(struct smtp_session *s, const uint8_t *sig,
    size_t siglen)
{
	struct buf	 b;
	char		*sig64, *out;

	if (!engine_answer_expected(s, P_AUTH, __func__))
		return;
	s->pending = P_NONE;
	if (s->auth_step != A_SCRAM_VERIFY ||
	    siglen != scram_hash_len(s->scram_mech)) {
		log_warnx("%s: no SCRAM proof pending or a bad signature",
		    __func__);
		auth_end(s);
		engine_reply(s, 454, "4.7.0",
		    "Temporary authentication failure");
		engine_process(s);
		return;
	}
	/* RFC 5802 7: server-final-message = verifier; RFC 4954 4: a 334. */
	sig64 = b64_encode(sig, siglen);
	buf_init(&b, 1024);
	buf_printf(&b, "v=%s", sig64);
	out = b64_encode(b.data, b.len);
	buf_reset(&b);
	buf_printf(&b, "334 %s\r\n", out);
	engine_reply_raw(s, (const char *)b.data, b.len);
	buf_free(&b);
	free(out);
	free(sig64);
	s->auth_step = A_SCRAM_DONE;
	engine_process(s);
}

/* The client's (empty) answer to the server-final-message. */
static void
auth_scram_done(struct smtp_session *s, const char *resp)
{
	if (resp[0] != '\0' && strcmp(resp, "=") != 0) {
		auth_end(s);
		engine_reply(s, 501, "5.5.2", "Expected an empty response");
		explicit_bzero(s->auth_pending_user,
		    sizeof(s->auth_pending_user));
		return;
	}
	auth_end(s);
	s->authenticated = 1;
	strlcpy(s->auth_user, s->auth_pending_user, sizeof(s->auth_user));
	explicit_bzero(s->auth_pending_user, sizeof(s->auth_pending_user));
	engine_reply(s, 235, "2.7.0", "Authentication succeeded");
}

void
engine_proceed_auth(struct smtp_session *s, const char *args)
{
	const char	*ir;
	enum sasl_mech	 scram;

	ir = strchr(args, ' ');
	if (ir != NULL)
		ir++;
	scram = auth_scram_mech(s, args, strcspn(args, " "));
	if (scram != SASL_MECH_NONE) {
		s->scram_mech = scram;
		s->auth_step = A_SCRAM_FIRST;
		if (ir != NULL)
			auth_scram_first(s, ir);
		else
			engine_reply_raw(s, "334 \r\n", 6);
	} else if (strncasecmp(args, "PLAIN", 5) == 0) {
		s->auth_step = A_PLAIN;
		if (ir != NULL)
			auth_plain(s, ir);
		else
			/* RFC 4954 4: an empty challenge. */
			engine_reply_raw(s, "334 \r\n", 6);
	} else {
		s->auth_step = A_LOGIN_USER;
		if (ir != NULL)
			auth_login(s, ir);
		else
			engine_reply_raw(s, "334 VXNlcm5hbWU6\r\n",
			    sizeof("334 VXNlcm5hbWU6\r\n") - 1);
	}
}

/* A line of the exchange: a response, or "*" (RFC 4954 4: cancel). */
void
engine_auth_response(struct smtp_session *s, const char *line)
{
	s->wipe_in = 1;
	if (strcmp(line, "*") == 0) {
		auth_end(s);
		engine_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	switch (s->auth_step) {
	case A_PLAIN:
		auth_plain(s, line);
		break;
	case A_SCRAM_FIRST:
		auth_scram_first(s, line);
		break;
	case A_SCRAM_FINAL:
		auth_scram_final(s, line);
		break;
	case A_SCRAM_DONE:
		auth_scram_done(s, line);
		break;
	case A_LOGIN_USER:
	case A_LOGIN_PASS:
		auth_login(s, line);
		break;
	default:
		/* A_SCRAM_LOOKUP, _VERIFY: input is held meanwhile */
		fatalx("%s: AUTH response in step %d", __func__,
		    s->auth_step);
	}
}

void
smtp_session_reply_auth(struct smtp_session *s, enum smtp_auth_result result,
    int code, const char *enh, const char *text)
{
	char	 t[SMTP_REPLY_TEXT_MAX + 1];

	if (!engine_answer_expected(s, P_AUTH, __func__))
		return;
	/* A SCRAM exchange refused midway ends here. */
	if (s->auth_step != A_NONE) {
		auth_end(s);
		if (result == SMTP_AUTH_OK) {
			log_warnx("%s: SCRAM success without a signature",
			    __func__);
			result = SMTP_AUTH_TEMPFAIL;
			code = 0;
			enh = text = NULL;
		}
	}
	if (code == 421) {
		/* Too many failures: say so and go. */
		if (!engine_enhanced_valid(enh, code))
			enh = "4.7.0";
		engine_sanitize(t, sizeof(t), text != NULL ? text : "Closing");
		engine_reply(s, 421, enh, "%s %s", s->hostname, t);
		engine_close(s);
		return;
	}
	switch (result) {
	case SMTP_AUTH_OK:
		s->authenticated = 1;
		strlcpy(s->auth_user, s->auth_pending_user,
		    sizeof(s->auth_user));
		engine_reply_caller(s, 1, code, enh, text, 235, "2.7.0",
		    "Authentication succeeded");
		break;
	case SMTP_AUTH_FAIL:
		engine_reply_caller(s, 0, code != 0 ? code : 535,
		    enh != NULL ? enh : "5.7.8", text != NULL ? text :
		    "Authentication credentials invalid", 0, NULL, NULL);
		break;
	default:
		engine_reply_caller(s, 0, code != 0 ? code : 454,
		    enh != NULL ? enh : "4.7.0", text != NULL ? text :
		    "Temporary authentication failure", 0, NULL, NULL);
		break;
	}
	explicit_bzero(s->auth_pending_user, sizeof(s->auth_pending_user));
	engine_process(s);
}

/*
 * SOCKS5 client handshake: method negotiation and the CONNECT command of
 * RFC 1928 (sections 3, 4, 5, 6) with the username/password method of
 * RFC 1929.  Sans-IO, see socks5.h.
 *
 * Not done: GSSAPI (method 1, which RFC 1928 3 says compliant
 * implementations SHOULD support; no proxy a mail server meets asks for
 * it), BIND and UDP ASSOCIATE (an MTA only connects out).  The proxy's
 * reply is read byte-exactly, so what follows it is left to the caller.
 * The reserved octet of the reply is not checked: RFC 1928 puts nothing
 * on it that a client could act on.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta/socks5.h"
#include "util.h"

#define SOCKS5_VERSION		5
#define SOCKS5_AUTH_VERSION	1	/* RFC 1929 2 */
#define SOCKS5_METHOD_NONE	0x00
#define SOCKS5_METHOD_USERPASS	0x02
#define SOCKS5_METHOD_REFUSED	0xff
#define SOCKS5_CMD_CONNECT	1
#define SOCKS5_ATYP_IPV4	1
#define SOCKS5_ATYP_DOMAIN	3
#define SOCKS5_ATYP_IPV6	4

/* Longest reply: 4 header octets, a 255-octet name with its length, port. */
#define SOCKS5_REPLY_MAX	(4 + 1 + 255 + 2)
/* Longest request: RFC 1929 with 255-octet user and password. */
#define SOCKS5_OUT_MAX		(3 + 255 + 1 + 255)

enum socks5_state {
	SOCKS5_ST_METHOD,	/* greeting sent, method selection due */
	SOCKS5_ST_AUTH,		/* RFC 1929 request sent, its status due */
	SOCKS5_ST_REPLY,	/* CONNECT sent, reply due */
	SOCKS5_ST_DONE,
	SOCKS5_ST_ERROR,
};

struct socks5 {
	enum socks5_state state;
	int		 userpass;	/* we have credentials to offer */
	char		*user;
	char		*pass;
	uint8_t		 request[4 + 1 + 255 + 2];	/* the CONNECT */
	size_t		 requestlen;
	uint8_t		 out[SOCKS5_OUT_MAX];
	size_t		 outlen;
	uint8_t		 in[SOCKS5_REPLY_MAX];
	size_t		 inlen;
	char		 bound[256];
	uint16_t	 bport;
	char		 err[160];
};

static const char *const socks5_replies[] = {
	"succeeded",				/* RFC 1928 6 */
	"general SOCKS server failure",
	"connection not allowed by ruleset",
	"network unreachable",
	"host unreachable",
	"connection refused",
	"TTL expired",
	"command not supported",
	"address type not supported",
};

static enum socks5_status socks5_fail(struct socks5 *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

static enum socks5_status
socks5_fail(struct socks5 *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->state = SOCKS5_ST_ERROR;
	s->outlen = 0;
	return SOCKS5_ERROR;
}

static void
queue_out(struct socks5 *s, const uint8_t *data, size_t len)
{
	/* Sizes are fixed by socks5_new(); this cannot overflow. */
	if (len > sizeof(s->out) - s->outlen) {
		socks5_fail(s, "internal: output overflow");
		return;
	}
	memcpy(s->out + s->outlen, data, len);
	s->outlen += len;
}

/* RFC 1928 4: VER CMD RSV ATYP DST.ADDR DST.PORT */
static int
build_request(struct socks5 *s, const char *host, uint16_t port)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 lit[INET6_ADDRSTRLEN + 1];
	size_t		 len = strlen(host), n = 0, i;
	uint8_t		*r = s->request;

	r[n++] = SOCKS5_VERSION;
	r[n++] = SOCKS5_CMD_CONNECT;
	r[n++] = 0;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    len - 2 < sizeof(lit)) {
		memcpy(lit, host + 1, len - 2);
		lit[len - 2] = '\0';
		if (inet_pton(AF_INET6, lit, &a6) != 1)
			return -1;
		r[n++] = SOCKS5_ATYP_IPV6;
		memcpy(r + n, &a6, 16);
		n += 16;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		r[n++] = SOCKS5_ATYP_IPV4;
		memcpy(r + n, &a4, 4);
		n += 4;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		r[n++] = SOCKS5_ATYP_IPV6;
		memcpy(r + n, &a6, 16);
		n += 16;
	} else {
		/*
		 * RFC 1928 5: one length octet, no terminating NUL.  A host
		 * name (letters, digits, '-', '_', '.'), nothing the proxy's
		 * resolver could take for something else.
		 */
		if (len == 0 || len > 255)
			return -1;
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)host[i]) &&
			    strchr("-_.", host[i]) == NULL)
				return -1;
		r[n++] = SOCKS5_ATYP_DOMAIN;
		r[n++] = (uint8_t)len;
		memcpy(r + n, host, len);
		n += len;
	}
	r[n++] = port >> 8;
	r[n++] = port & 0xff;
	s->requestlen = n;
	return 0;
}

struct socks5 *
socks5_new(const char *host, uint16_t port, const char *user,
    const char *pass)
{
	struct socks5	*s;
	uint8_t		 greeting[4];

	if (host == NULL || (user == NULL && pass != NULL))
		return NULL;
	if (user != NULL) {
		if (pass == NULL)
			pass = "";
		/* RFC 1929 2: ULEN 1 to 255; PLEN up to 255. */
		if (strlen(user) == 0 || strlen(user) > 255 ||
		    strlen(pass) > 255)
			return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	if (build_request(s, host, port) == -1) {
		free(s);
		return NULL;
	}
	s->state = SOCKS5_ST_METHOD;
	/* RFC 1928 3: VER NMETHODS METHODS */
	greeting[0] = SOCKS5_VERSION;
	if (user != NULL) {
		s->userpass = 1;
		s->user = xstrdup(user);
		s->pass = xstrdup(pass);
		greeting[1] = 2;
		greeting[2] = SOCKS5_METHOD_NONE;
		greeting[3] = SOCKS5_METHOD_USERPASS;
		queue_out(s, greeting, 4);
	} else {
		greeting[1] = 1;
		greeting[2] = SOCKS5_METHOD_NONE;
		queue_out(s, greeting, 3);
	}
	return s;
}

void
socks5_free(struct socks5 *s)
{
	if (s == NULL)
		return;
	if (s->pass != NULL) {
		explicit_bzero(s->pass, strlen(s->pass));
		free(s->pass);
	}
	free(s->user);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
socks5_output(struct socks5 *s, struct buf *out)
{
	if (s->outlen == 0)
		return;
	if (buf_add(out, s->out, s->outlen) == -1) {
		socks5_fail(s, "output buffer too small for the SOCKS5 "
		    "request");
		return;
	}
	/* The RFC 1929 request holds the password. */
	explicit_bzero(s->out, s->outlen);
	s->outlen = 0;
}

const char *
socks5_error(const struct socks5 *s)
{
	return s->err;
}

const char *
socks5_bound_addr(const struct socks5 *s)
{
	return s->bound;
}

uint16_t
socks5_bound_port(const struct socks5 *s)
{
	return s->bport;
}

/* RFC 1929 2: VER ULEN UNAME PLEN PASSWD */
static void
queue_userpass(struct socks5 *s)
{
	uint8_t	 req[SOCKS5_OUT_MAX];
	size_t	 ulen = strlen(s->user), plen = strlen(s->pass), n = 0;

	req[n++] = SOCKS5_AUTH_VERSION;
	req[n++] = (uint8_t)ulen;
	memcpy(req + n, s->user, ulen);
	n += ulen;
	req[n++] = (uint8_t)plen;
	memcpy(req + n, s->pass, plen);
	n += plen;
	queue_out(s, req, n);
	explicit_bzero(req, sizeof(req));
}

/* How many octets the message now due has, given what has arrived. */
static size_t
socks5_need(const struct socks5 *s)
{
	switch (s->state) {
	case SOCKS5_ST_METHOD:
	case SOCKS5_ST_AUTH:
		return 2;
	case SOCKS5_ST_REPLY:
		/* RFC 1928 6: VER REP RSV ATYP BND.ADDR BND.PORT */
		if (s->inlen < 4)
			return 4;
		switch (s->in[3]) {
		case SOCKS5_ATYP_IPV4:
			return 4 + 4 + 2;
		case SOCKS5_ATYP_IPV6:
			return 4 + 16 + 2;
		case SOCKS5_ATYP_DOMAIN:
			if (s->inlen < 5)
				return 5;
			return 5 + (size_t)s->in[4] + 2;
		default:
			return 4;	/* rejected on processing */
		}
	default:
		return 0;
	}
}

static enum socks5_status
socks5_method(struct socks5 *s)
{
	if (s->in[0] != SOCKS5_VERSION)
		return socks5_fail(s, "bad version %u in the method selection "
		    "(not a SOCKS5 proxy?)", s->in[0]);
	switch (s->in[1]) {
	case SOCKS5_METHOD_NONE:
		queue_out(s, s->request, s->requestlen);
		s->state = SOCKS5_ST_REPLY;
		break;
	case SOCKS5_METHOD_USERPASS:
		if (!s->userpass)
			return socks5_fail(s, "proxy asks for a username and "
			    "password and none is configured");
		queue_userpass(s);
		s->state = SOCKS5_ST_AUTH;
		break;
	case SOCKS5_METHOD_REFUSED:
		return socks5_fail(s, "no acceptable auth method (proxy "
		    "refused %s)", s->userpass ? "none and username/password" :
		    "unauthenticated access");
	default:
		return socks5_fail(s, "proxy chose auth method %u, which we "
		    "did not offer", s->in[1]);
	}
	return s->state == SOCKS5_ST_ERROR ? SOCKS5_ERROR : SOCKS5_NEED_MORE;
}

static enum socks5_status
socks5_auth(struct socks5 *s)
{
	/* RFC 1929 2: VER STATUS; any status but 0 is a failure. */
	if (s->in[0] != SOCKS5_AUTH_VERSION)
		return socks5_fail(s, "bad version %u in the authentication "
		    "reply", s->in[0]);
	if (s->in[1] != 0)
		return socks5_fail(s, "proxy rejected the username and "
		    "password (status %u)", s->in[1]);
	queue_out(s, s->request, s->requestlen);
	s->state = SOCKS5_ST_REPLY;
	return s->state == SOCKS5_ST_ERROR ? SOCKS5_ERROR : SOCKS5_NEED_MORE;
}

/* The reply's first 4 octets, checked as soon as they are here. */
static enum socks5_status
socks5_reply_head(struct socks5 *s)
{
	if (s->in[0] != SOCKS5_VERSION)
		return socks5_fail(s, "bad version %u in the reply",
		    s->in[0]);
	if (s->in[1] != 0) {
		if (s->in[1] < sizeof(socks5_replies) /
		    sizeof(socks5_replies[0]))
			return socks5_fail(s, "proxy refused: %s (reply %u)",
			    socks5_replies[s->in[1]], s->in[1]);
		return socks5_fail(s, "proxy refused: unassigned reply %u",
		    s->in[1]);
	}
	if (s->in[3] != SOCKS5_ATYP_IPV4 && s->in[3] != SOCKS5_ATYP_IPV6 &&
	    s->in[3] != SOCKS5_ATYP_DOMAIN)
		return socks5_fail(s, "bad address type %u in the reply",
		    s->in[3]);
	return SOCKS5_NEED_MORE;
}

static enum socks5_status
socks5_reply(struct socks5 *s)
{
	const uint8_t	*a = s->in + 4;
	size_t		 alen, i;

	switch (s->in[3]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		inet_ntop(AF_INET, a, s->bound, sizeof(s->bound));
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		inet_ntop(AF_INET6, a, s->bound, sizeof(s->bound));
		break;
	default:
		alen = 1 + s->in[4];
		/* Shown in logs only: anything unprintable becomes '?'. */
		for (i = 0; i < s->in[4]; i++)
			s->bound[i] = (a[1 + i] > 0x20 && a[1 + i] < 0x7f) ?
			    a[1 + i] : '?';
		s->bound[i] = '\0';
		break;
	}
	s->bport = (uint16_t)(a[alen] << 8 | a[alen + 1]);
	s->state = SOCKS5_ST_DONE;
	return SOCKS5_DONE;
}

enum socks5_status
socks5_input(struct socks5 *s, const uint8_t *data, size_t len, size_t *used)
{
	enum socks5_status	 st = SOCKS5_NEED_MORE;
	size_t			 i = 0, need, take;

	*used = 0;
	if (s->state == SOCKS5_ST_DONE)
		return SOCKS5_DONE;
	if (s->state == SOCKS5_ST_ERROR)
		return SOCKS5_ERROR;
	while (i < len) {
		need = socks5_need(s);
		take = need - s->inlen;
		if (take > len - i)
			take = len - i;
		memcpy(s->in + s->inlen, data + i, take);
		s->inlen += take;
		i += take;
		/* The reply's length depends on its header: look at it. */
		if (s->state == SOCKS5_ST_REPLY && s->inlen == 4 &&
		    (st = socks5_reply_head(s)) == SOCKS5_ERROR)
			break;
		if (s->state == SOCKS5_ST_REPLY && s->inlen == 5 &&
		    s->in[3] == SOCKS5_ATYP_DOMAIN && s->in[4] == 0) {
			st = socks5_fail(s, "empty domain name in the reply");
			break;
		}
		if (s->inlen < socks5_need(s))
			continue;
		switch (s->state) {
		case SOCKS5_ST_METHOD:
			st = socks5_method(s);
			break;
		case SOCKS5_ST_AUTH:
			st = socks5_auth(s);
			break;
		default:
			st = socks5_reply(s);
			break;
		}
		s->inlen = 0;
		if (st != SOCKS5_NEED_MORE)
			break;
	}
	*used = i;
	return st;
}

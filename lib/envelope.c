/*
 * The on-disk encoding of queue envelopes and message records, and the
 * printable queue ids.
 *
 * Records are versioned and big-endian: a fixed header followed by
 * length-prefixed strings.  The decoder trusts nothing: every length is
 * checked against its bound and against the bytes that are left, every enum
 * against its range, and a record with bytes left over is refused, so a
 * corrupt database yields an error, never a crash (regress/fuzz/
 * fuzz_envelope.c).  It does not check address syntax: that was done when the
 * SMTP session accepted the envelope.
 */
#include <stdio.h>
#include <string.h>

#include "envelope.h"

#define ENV_HDR_LEN	60

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* The strings of an envelope, in record order, with their bounds. */
struct envstr {
	size_t	 off;
	size_t	 max;
};

static const struct envstr envstrs[] = {
	{ offsetof(struct envelope, sender), ENV_ADDR_MAX },
	{ offsetof(struct envelope, rcpt), ENV_ADDR_MAX },
	{ offsetof(struct envelope, dest), ENV_DEST_MAX },
	{ offsetof(struct envelope, envid), ENV_ENVID_MAX },
	{ offsetof(struct envelope, orcpt), ENV_ORCPT_MAX },
	{ offsetof(struct envelope, errmsg), ENV_ERR_MAX },
	{ offsetof(struct envelope, folder), ENV_FOLDER_MAX },	/* v2 */
	{ offsetof(struct envelope, account), ENV_ACCOUNT_MAX },	/* v3 */
};
#define NENVSTRS	(sizeof(envstrs) / sizeof(envstrs[0]))

static int
notify_valid(uint8_t notify)
{
	if (notify & ~ENV_NOTIFY_ALL)
		return 0;
	/* RFC 3461 4.1: NEVER must not be combined with anything else. */
	if ((notify & ENV_NOTIFY_NEVER) && notify != ENV_NOTIFY_NEVER)
		return 0;
	return 1;
}

static int
fields_valid(const struct envelope *e)
{
	if (e->msgid > QID_MSGID_MAX || EVPID_MSGID(e->id) != e->msgid)
		return 0;
	if (e->state < ENV_QUEUED || e->state > ENV_HELD)
		return 0;
	if (e->kind != ENV_LOCAL && e->kind != ENV_REMOTE)
		return 0;
	if (e->ret > ENV_RET_HDRS || !notify_valid(e->notify))
		return 0;
	if (e->flags & ~ENV_F_ALL)
		return 0;
	if (e->ctime < 0 || e->next_try < 0 || e->last_try < 0 ||
	    e->expire < 0)
		return 0;
	return 1;
}

size_t
envelope_encode(const struct envelope *e, uint8_t *out, size_t outlen)
{
	const char	*s;
	size_t		 i, len, off;

	if (!fields_valid(e) || outlen < ENV_HDR_LEN)
		return 0;
	out[0] = ENV_RECORD_VERSION;
	out[1] = e->state;
	out[2] = e->kind;
	out[3] = e->ret;
	out[4] = e->notify;
	out[5] = 0;
	put16(out + 6, e->flags);
	put32(out + 8, e->attempts);
	put64(out + 12, e->id);
	put64(out + 20, e->msgid);
	put64(out + 28, (uint64_t)e->ctime);
	put64(out + 36, (uint64_t)e->next_try);
	put64(out + 44, (uint64_t)e->last_try);
	put64(out + 52, (uint64_t)e->expire);
	off = ENV_HDR_LEN;
	for (i = 0; i < NENVSTRS; i++) {
		s = (const char *)e + envstrs[i].off;
		len = strnlen(s, envstrs[i].max + 1);
		if (len > envstrs[i].max || outlen - off < 2 + len)
			return 0;
		put16(out + off, (uint16_t)len);
		memcpy(out + off + 2, s, len);
		off += 2 + len;
	}
	return off;
}

int
envelope_decode(struct envelope *e, const uint8_t *in, size_t len)
{
	char	*s;
	size_t	 i, off, slen, nstrs;

	memset(e, 0, sizeof(*e));
	if (len < ENV_HDR_LEN || in[5] != 0)
		return -1;
	/* version 1 ended before the folder, version 2 before the account */
	if (in[0] == ENV_RECORD_VERSION)
		nstrs = NENVSTRS;
	else if (in[0] == 2)
		nstrs = NENVSTRS - 1;
	else if (in[0] == 1)
		nstrs = NENVSTRS - 2;
	else
		return -1;
	e->state = in[1];
	e->kind = in[2];
	e->ret = in[3];
	e->notify = in[4];
	e->flags = get16(in + 6);
	e->attempts = get32(in + 8);
	e->id = get64(in + 12);
	e->msgid = get64(in + 20);
	e->ctime = (int64_t)get64(in + 28);
	e->next_try = (int64_t)get64(in + 36);
	e->last_try = (int64_t)get64(in + 44);
	e->expire = (int64_t)get64(in + 52);
	if (!fields_valid(e))
		return -1;
	off = ENV_HDR_LEN;
	for (i = 0; i < nstrs; i++) {
		if (len - off < 2)
			return -1;
		slen = get16(in + off);
		off += 2;
		if (slen > envstrs[i].max || len - off < slen)
			return -1;
		/* A NUL inside would silently truncate the string. */
		if (memchr(in + off, '\0', slen) != NULL)
			return -1;
		s = (char *)e + envstrs[i].off;
		memcpy(s, in + off, slen);
		s[slen] = '\0';
		off += slen;
	}
	if (off != len)
		return -1;
	return 0;
}

void
msgrec_encode(const struct msgrec *m, uint8_t out[MSG_RECORD_LEN])
{
	memset(out, 0, MSG_RECORD_LEN);
	out[0] = MSG_RECORD_VERSION;
	put64(out + 4, m->size);
	put64(out + 12, (uint64_t)m->ctime);
	put32(out + 20, m->nenv);
	put32(out + 24, m->nchunks);
}

int
msgrec_decode(struct msgrec *m, const uint8_t *in, size_t len)
{
	size_t	 i;

	memset(m, 0, sizeof(*m));
	if (len != MSG_RECORD_LEN || in[0] != MSG_RECORD_VERSION)
		return -1;
	for (i = 1; i < 4; i++)
		if (in[i] != 0)
			return -1;
	for (i = 28; i < MSG_RECORD_LEN; i++)
		if (in[i] != 0)
			return -1;
	m->size = get64(in + 4);
	m->ctime = (int64_t)get64(in + 12);
	m->nenv = get32(in + 20);
	m->nchunks = get32(in + 24);
	if (m->ctime < 0 || m->nenv > UINT16_MAX + 1)
		return -1;
	/* The chunk count must be able to hold the size, and no more. */
	if (m->size > (uint64_t)m->nchunks * UINT32_MAX)
		return -1;
	return 0;
}

void
qid_msg_str(uint64_t msgid, char *buf, size_t len)
{
	snprintf(buf, len, "%012llx", (unsigned long long)msgid);
}

void
qid_env_str(uint64_t evpid, char *buf, size_t len)
{
	snprintf(buf, len, "%016llx", (unsigned long long)evpid);
}

enum qid_kind
qid_parse(const char *s, uint64_t *id)
{
	uint64_t	 v = 0;
	size_t		 i, len;
	int		 c;

	*id = 0;
	if (strcmp(s, "all") == 0)
		return QID_ALL;
	len = strlen(s);
	if (len != QID_MSG_LEN && len != QID_ENV_LEN)
		return QID_BAD;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return QID_BAD;
		v = v << 4 | (uint64_t)c;
	}
	*id = v;
	return len == QID_MSG_LEN ? QID_MSG : QID_ENV;
}

/*
 * Queue envelopes and message records: the in-memory form, the versioned
 * on-disk encoding, and the printable queue ids.
 *
 * One envelope per recipient (RFC 5321 3.3); the DSN parameters are those of
 * RFC 3461 4 (RET, ENVID, NOTIFY, ORCPT), REQUIRETLS is RFC 8689 3.
 */
#ifndef POSTERN_ENVELOPE_H
#define POSTERN_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Bounds on the stored strings.  RFC 5321 4.5.3.1.3 caps a path at 256
 * octets; SMTPUTF8 addresses (RFC 6531) may take more octets, hence the
 * margin.  RFC 3461 4.4: ENVID at most 100 characters; 4.2: ORCPT at most
 * 500 characters.
 */
#define ENV_ADDR_MAX		1024
#define ENV_DEST_MAX		255	/* action name or remote destination */
#define ENV_ENVID_MAX		100
#define ENV_ORCPT_MAX		500
#define ENV_ERR_MAX		1000	/* last error text */
#define ENV_FOLDER_MAX		63	/* maildir folder: quarantine */
#define ENV_ACCOUNT_MAX		255	/* SMTP AUTH user */

/*
 * Version 2 added the folder, version 3 the account; records of versions 1
 * and 2 still decode (without them: "").
 */
#define ENV_RECORD_VERSION	3
#define ENV_RECORD_MAX		(64 + 8 * 2 + 2 * ENV_ADDR_MAX + ENV_DEST_MAX + \
				    ENV_ENVID_MAX + ENV_ORCPT_MAX + ENV_ERR_MAX + \
				    ENV_FOLDER_MAX + ENV_ACCOUNT_MAX)

enum env_state {
	ENV_QUEUED = 1,		/* waiting for next_try */
	ENV_INFLIGHT,		/* handed to a delivery agent */
	ENV_HELD		/* never due until released */
};

enum env_kind {
	ENV_LOCAL = 1,		/* dest names a local action */
	ENV_REMOTE		/* dest names a relay destination */
};

/* RFC 3461 4.3 RET */
#define ENV_RET_UNSET		0
#define ENV_RET_FULL		1
#define ENV_RET_HDRS		2

/* RFC 3461 4.1 NOTIFY; 0 means the parameter was not given. */
#define ENV_NOTIFY_NEVER	0x01
#define ENV_NOTIFY_SUCCESS	0x02
#define ENV_NOTIFY_FAILURE	0x04
#define ENV_NOTIFY_DELAY	0x08
#define ENV_NOTIFY_ALL		0x0f

#define ENV_F_REQUIRETLS	0x0001	/* RFC 8689 */
#define ENV_F_SMTPUTF8		0x0002	/* RFC 6531 */
#define ENV_F_8BITMIME		0x0004	/* RFC 6152 */
#define ENV_F_TLSREQ_NO		0x0008	/* RFC 8689 3: "TLS-Required: No" */
#define ENV_F_REPORT		0x0010	/* reportd's own mail: the mta routes
					   it by routes, else to the MX */
#define ENV_F_LIST		0x0020	/* to a list's address or bounce
					   address: dest is the list's name
					   (queue/list.c) */
#define ENV_F_ALL		0x003f

struct envelope {
	uint64_t	 id;		/* envelope id: msgid << 16 | index */
	uint64_t	 msgid;
	uint8_t		 state;		/* enum env_state */
	uint8_t		 kind;		/* enum env_kind */
	uint8_t		 ret;		/* ENV_RET_* */
	uint8_t		 notify;	/* ENV_NOTIFY_* */
	uint16_t	 flags;		/* ENV_F_* */
	uint32_t	 attempts;
	int64_t		 ctime;		/* creation */
	int64_t		 next_try;
	int64_t		 last_try;	/* 0: never tried */
	int64_t		 expire;	/* bounce when a temporary failure comes after */
	char		 sender[ENV_ADDR_MAX + 1];	/* "" = null reverse path */
	char		 rcpt[ENV_ADDR_MAX + 1];
	char		 dest[ENV_DEST_MAX + 1];
	char		 envid[ENV_ENVID_MAX + 1];	/* xtext-decoded */
	char		 orcpt[ENV_ORCPT_MAX + 1];	/* "addr-type;addr" */
	char		 errmsg[ENV_ERR_MAX + 1];
	char		 folder[ENV_FOLDER_MAX + 1];	/* "" = the inbox */
	char		 account[ENV_ACCOUNT_MAX + 1];	/* AUTH user or "" */
};

/*
 * Encode into out (at least ENV_RECORD_MAX bytes is always enough); returns
 * the length, or 0 when a field is out of bounds.
 */
size_t	envelope_encode(const struct envelope *, uint8_t *out, size_t outlen);
/* 0 on success, -1 when the record is malformed in any way. */
int	envelope_decode(struct envelope *, const uint8_t *in, size_t len);

/* The per-message record: everything but the body chunks. */
#define MSG_RECORD_VERSION	1
#define MSG_RECORD_LEN		32
struct msgrec {
	uint64_t	 size;		/* body octets */
	int64_t		 ctime;
	uint32_t	 nenv;		/* live envelopes; 0 removes the message */
	uint32_t	 nchunks;
};

void	msgrec_encode(const struct msgrec *, uint8_t out[MSG_RECORD_LEN]);
int	msgrec_decode(struct msgrec *, const uint8_t *in, size_t len);

/*
 * Queue ids.  A message id is 48 bits: the creation time in seconds in the
 * high 34 bits and a sequence number below, so ids sort by age and are never
 * reused.  An envelope id is the message id shifted left 16 bits plus the
 * recipient's index, so the 16 hex digits of an envelope id start with the
 * 12 hex digits of its message id.
 */
#define QID_MSG_LEN		12
#define QID_ENV_LEN		16
#define QID_SEQ_BITS		14
#define QID_MSGID_MAX		((UINT64_C(1) << 48) - 1)
#define EVPID(msgid, idx)	(((uint64_t)(msgid) << 16) | (uint16_t)(idx))
#define EVPID_MSGID(evpid)	((uint64_t)(evpid) >> 16)

void	qid_msg_str(uint64_t msgid, char *buf, size_t len);	/* >= 13 */
void	qid_env_str(uint64_t evpid, char *buf, size_t len);	/* >= 17 */

enum qid_kind {
	QID_BAD = -1,
	QID_ALL,		/* the word "all" */
	QID_MSG,
	QID_ENV
};
/* Parse "all", 12 hex digits (message) or 16 hex digits (envelope). */
enum qid_kind	qid_parse(const char *, uint64_t *id);

#endif

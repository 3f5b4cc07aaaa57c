/*
 * SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677): the pieces that
 * the SASL client (mta/sasl.c), the SASL server (smtpd/engine_auth.c with
 * authd) and posternctl encrypt share.  No I/O, no exchange state: key
 * derivation, signatures, the message grammar of RFC 5802 7 as the server
 * reads it, and the stored form of a user's keys.
 *
 * Deliberately not here: channel binding (no -PLUS: libtls exposes no
 * keying material for RFC 9266 tls-exporter), authorization identities
 * other than the user itself, and full SASLprep (see scram_prep_check()).
 */
#ifndef POSTERN_SCRAM_H
#define POSTERN_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/*
 * Iteration counts taken from a peer or a table.  RFC 7677 4 asks for
 * at least 4096; far above the upper bound PBKDF2 would stall an event
 * loop (1,000,000 costs about 0.45 s of CPU with SHA-256).
 */
#define SCRAM_MIN_ITER		4096
#define SCRAM_MAX_ITER		1000000
#define SCRAM_DEFAULT_ITER	4096
#define SCRAM_HASH_MAX		32	/* SHA-256's output */
#define SCRAM_SALT_MAX		64	/* bytes */
#define SCRAM_SALT_LEN		16	/* what we make */
#define SCRAM_NONCE_MAX		128	/* a client's nonce, characters */
#define SCRAM_SNONCE_RAND	18	/* our random part: 24 base64 chars */
#define SCRAM_USER_MAX		255	/* decoded user name, bytes */
/* A client-first or client-final message, decoded (bytes). */
#define SCRAM_CLIENT_MSG_MAX	1024
/* "r=<nonce>,s=<salt>,i=<iter>": 152 + 88 + 7 and the names. */
#define SCRAM_SERVER_FIRST_MAX	320
/* client-first-bare + server-first + client-final-without-proof. */
#define SCRAM_AUTHMSG_MAX	(3 * SCRAM_CLIENT_MSG_MAX)

/* The hash of a SCRAM mechanism; 0 (and NULL) if mech is not SCRAM. */
size_t		 scram_hash_len(enum sasl_mech);
int		 scram_is_mech(enum sasl_mech);

/* RFC 5802 7: printable = %x21-2B / %x2D-7E (no comma). */
int		 scram_printable(const char *, size_t);
/*
 * The ASCII part of SASLprep (RFC 4013): 0 if the string has no control
 * characters (RFC 4013 2.3, C.2.1) and is well-formed UTF-8, which is
 * then used unchanged (right when it is already in SASLprep's output
 * form); -1 otherwise.
 */
int		 scram_prep_check(const char *);
/* RFC 5802 5.1: a saslname, "=" as "=3D" and "," as "=2C". */
int		 scram_saslname_encode(struct buf *, const char *);
/*
 * The reverse, into out (NUL-terminated); -1 on any other "=" sequence,
 * a NUL, or more than outsz - 1 bytes.
 */
int		 scram_saslname_decode(const char *, size_t, char *, size_t);
/*
 * The value of attribute `name` at *pp, up to the next comma or the end;
 * *pp moves past the comma (NULL at the end).  NULL if the attribute at
 * *pp is not `name`.
 */
const char	*scram_attr(const char **, char, size_t *);

/*
 * RFC 5802 3: SaltedPassword = Hi(password, salt, i), then ClientKey,
 * StoredKey = H(ClientKey) and ServerKey; each output is
 * scram_hash_len(mech) bytes, any may be NULL.  Hi is PBKDF2: slow on
 * purpose, so not for an event loop that serves others.  -1 on a libcrypto
 * failure or an iteration count out of bounds.
 */
int		 scram_derive_keys(enum sasl_mech, const char *password,
		    const uint8_t *salt, size_t saltlen, unsigned int iter,
		    uint8_t *client_key, uint8_t *stored_key,
		    uint8_t *server_key);
/* HMAC(key, data) with the mechanism's hash; -1 on a libcrypto failure. */
int		 scram_hmac(enum sasl_mech, const uint8_t *key, size_t keylen,
		    const void *data, size_t len, uint8_t *out);

/*
 * The server's check (RFC 5802 3): ClientSignature = HMAC(StoredKey,
 * AuthMessage), ClientKey = ClientProof XOR ClientSignature, and
 * H(ClientKey) must equal StoredKey (compared in constant time).  Puts
 * ServerSignature = HMAC(ServerKey, AuthMessage) in server_sig either
 * way.  0 if the proof is right, -1 otherwise.
 */
int		 scram_verify_proof(enum sasl_mech, const uint8_t *stored_key,
		    const uint8_t *server_key, const void *authmsg,
		    size_t authmsglen, const uint8_t *proof, size_t prooflen,
		    uint8_t *server_sig);

/*
 * A user's keys as a credentials table keeps them (PostgreSQL's format):
 * "SCRAM-SHA-256$<iter>:<base64 salt>$<base64 StoredKey>:<base64
 * ServerKey>", or "SCRAM-SHA-1$..." with 20-byte keys.
 */
struct scram_stored {
	enum sasl_mech	 mech;
	unsigned int	 iter;
	uint8_t		 salt[SCRAM_SALT_MAX];
	size_t		 saltlen;
	uint8_t		 stored_key[SCRAM_HASH_MAX];
	uint8_t		 server_key[SCRAM_HASH_MAX];
};

/* 0 and *st filled, or -1 on anything malformed or out of bounds. */
int		 scram_stored_parse(const char *, size_t,
		    struct scram_stored *);
/* The stored form (allocated). */
char		*scram_stored_format(const struct scram_stored *);

/* RFC 5802 7: a client-first-message as the server reads it. */
struct scram_client_first {
	char		 cbind_flag;	/* 'n' or 'y' ('p' is refused) */
	size_t		 gs2_len;	/* gs2-header: the first bytes */
	size_t		 bare_off;	/* client-first-message-bare */
	char		 user[SCRAM_USER_MAX + 1];
	char		 nonce[SCRAM_NONCE_MAX + 1];
};

/* Why a client message was refused. */
enum scram_parse_err {
	SCRAM_OK = 0,
	SCRAM_ERR_SYNTAX,	/* not the grammar of RFC 5802 7 */
	SCRAM_ERR_CBIND,	/* channel binding asked ("p="): none here */
	SCRAM_ERR_AUTHZID,	/* acting for another user */
	SCRAM_ERR_EXTENSION,	/* a mandatory extension ("m=") */
	SCRAM_ERR_USER,		/* user name empty, too long, not UTF-8 */
};

/*
 * msg is len bytes (not NUL-terminated, bounded by
 * SCRAM_CLIENT_MSG_MAX).  An authzid ("a=") equal to the user is taken,
 * another one refused (RFC 5802 5.1 lets the server decide).
 */
enum scram_parse_err scram_parse_client_first(const char *msg, size_t len,
		    struct scram_client_first *);

/* RFC 5802 7: a client-final-message as the server reads it. */
struct scram_client_final {
	const char	*cbind;		/* c= value (base64), in msg */
	size_t		 cbind_len;
	const char	*nonce;		/* r= value, in msg */
	size_t		 nonce_len;
	size_t		 without_proof_len; /* bytes before ",p=" */
	uint8_t		 proof[SCRAM_HASH_MAX];
	size_t		 proof_len;
};

enum scram_parse_err scram_parse_client_final(const char *msg, size_t len,
		    struct scram_client_final *);

#endif

/*
 * SRS, the Sender Rewriting Scheme (the de-facto scheme of libsrs2 and
 * postsrsd; there is no RFC): when an alias or a ~/.forward sends mail on
 * to another domain, its envelope sender becomes an address of ours,
 *   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
 * so that SPF at the far end (RFC 7208 2.4 checks the MAIL FROM domain)
 * sees our domain, and a bounce to it can be reversed to the original
 * sender.  An SRS0 sender forwarded again becomes SRS1 (the shortcut
 * form), which names the first forwarder's domain and keeps the SRS0 part
 * as it was, so chains do not grow:
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@our-domain
 *
 * No I/O and no clock: the caller gives the time; fuzzed alone
 * (regress/fuzz/fuzz_srs.c).
 */
#ifndef POSTERN_SRS_H
#define POSTERN_SRS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SRS_KEYS_MAX		4	/* "srs key" statements */
#define SRS_KEY_MIN		16	/* bytes of secret */
#define SRS_KEY_MAX		256
#define SRS_HASH_LEN		4	/* base64 characters, as libsrs2 */
#define SRS_MAX_AGE_DAYS	21	/* a bounce later than this: refused */
#define SRS_DOMAIN_MAX		255

struct srs {
	size_t		 nkeys;		/* 0: SRS is off */
	uint8_t		 key[SRS_KEYS_MAX][SRS_KEY_MAX];
	size_t		 keylen[SRS_KEYS_MAX];
	char		 domain[SRS_DOMAIN_MAX + 1];	/* ours */
};

enum srs_result {
	SRS_OK,
	SRS_NOT_SRS,		/* not an SRS address of our domain */
	SRS_SYNTAX,		/* SRS0/SRS1 of ours, but malformed */
	SRS_BAD_HASH,		/* forged, or made with a key we dropped */
	SRS_EXPIRED,		/* timestamp too old or in the future */
	SRS_TOO_LONG		/* the result does not fit */
};

void	 srs_init(struct srs *, const char *domain);
/* 0, or -1 when the key is too short or too long or there are enough. */
int	 srs_add_key(struct srs *, const void *key, size_t len);
/* Wipe the keys. */
void	 srs_clear(struct srs *);
/*
 * A key file's content: its first line without the line end, SRS_KEY_MIN
 * to SRS_KEY_MAX bytes, no NUL.  0 and the key, or -1.
 */
int	 srs_key_parse(const char *buf, size_t len, uint8_t *key,
	    size_t *keylen);

/*
 * The envelope sender for mail forwarded to another domain.  The null
 * sender stays null, a sender of our SRS domain stays as it is.
 * SRS_OK: out holds the rewritten address (or the unchanged sender);
 * SRS_TOO_LONG: it would not fit outlen, out holds the sender unchanged
 * if that fits, "" otherwise.
 */
enum srs_result	 srs_forward(const struct srs *, const char *sender,
		    time_t now, char *out, size_t outlen);
/*
 * The reverse: an address of our SRS domain whose local part is SRS0 or
 * SRS1 checked (hash with any key, timestamp) and decoded into the
 * address it stands for.  The hash and the timestamp are compared
 * without regard to case: MTAs on the way may fold the local part.
 */
enum srs_result	 srs_reverse(const struct srs *, const char *addr,
		    time_t now, char *out, size_t outlen);
/* Does this local part look like SRS (SRS0/SRS1, any case, a separator)? */
int		 srs_is_srs(const char *local, size_t len);
const char	*srs_result_name(enum srs_result);

/* The pieces, for the tests. */
void	 srs_timestamp(time_t now, char out[3]);
int	 srs_hash(const uint8_t *key, size_t keylen, const char *data,
	    size_t len, char out[SRS_HASH_LEN + 1]);

#endif

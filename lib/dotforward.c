/*
 * ~/.forward members as envelopes, and the parent's proof of them
 * (lib/dotforward.h).
 *
 * A file or command member is delivered as the user whose .forward names
 * it (posternd/forward.c), so its envelope must say who that is: it is
 * stored as "~USER:/path" or "~USER:|command".  No address takes that
 * form on its own (a local part with ":" is quoted), and the parent
 * never takes one on trust: its worker, as USER, reads USER's .forward
 * again and runs or writes only what it still names.
 *
 * The proof: smtp learns a user's members from the parent, at RCPT; a
 * compromised smtp could claim any member for any user.  The parent adds
 * to each member an HMAC over the user, the member and the time, keyed
 * with a secret the parent draws at start and gives the queue only; the
 * queue takes a .forward's envelope only with a fresh, good proof, so a
 * compromised smtp can at most have a user's own .forward (as read in the
 * last FORWARD_PROOF_SECS) applied to that user's mail.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dotforward.h"
#include "log.h"

/* a user name (64), a member (256), their NULs and the time */
#define FORWARD_PROOF_INPUT_MAX	(64 + 256 + 2 + 8)

int
forward_member_target(const char *member, const char *user,
    const char *domain, char *out, size_t outlen, enum forward_kind *kind,
    const char **why)
{
	int	 n;

	if (member[0] == '\\')
		member++;
	if (member[0] == '|' || member[0] == '/') {
		*kind = member[0] == '|' ? FORWARD_COMMAND : FORWARD_FILE;
		n = snprintf(out, outlen, "~%s:%s", user, member);
	} else if (strchr(member, '@') == NULL && strchr(member, '/') != NULL) {
		/* sendmail's file form, but not an absolute path */
		*why = "a relative path";
		return -1;
	} else {
		*kind = FORWARD_ADDRESS;
		if (strchr(member, '@') == NULL)
			n = snprintf(out, outlen, "%s@%s", member, domain);
		else
			n = snprintf(out, outlen, "%s", member);
	}
	if (n < 0 || (size_t)n >= outlen || member[0] == '\0') {
		*why = member[0] == '\0' ? "empty" : "too long";
		return -1;
	}
	return 0;
}

int
forward_target_split(const char *rcpt, char *user, size_t userlen,
    const char **member)
{
	const char	*colon;
	size_t		 n, i;

	if (rcpt[0] != '~' || (colon = strchr(rcpt, ':')) == NULL ||
	    (colon[1] != '|' && colon[1] != '/'))
		return -1;
	n = (size_t)(colon - rcpt - 1);
	if (n == 0 || n >= userlen)
		return -1;
	/* a user name: no path, no address, nothing blank */
	for (i = 1; i <= n; i++)
		if (rcpt[i] == '/' || rcpt[i] == '@' ||
		    (unsigned char)rcpt[i] < 0x21 ||
		    (unsigned char)rcpt[i] > 0x7e)
			return -1;
	memcpy(user, rcpt + 1, n);
	user[n] = '\0';
	*member = colon + 1;
	return 0;
}

void
forward_proof(const uint8_t *key, const char *user, const char *member,
    int64_t when, uint8_t proof[FORWARD_PROOF_LEN])
{
	uint8_t		 buf[FORWARD_PROOF_INPUT_MAX];
	size_t		 ulen = strlen(user) + 1, mlen = strlen(member) + 1;
	unsigned int	 len = FORWARD_PROOF_LEN;
	int		 i;

	/* the NULs keep ("ab", "c") apart from ("a", "bc") */
	if (ulen + mlen + 8 > sizeof(buf))
		fatalx("forward_proof: user or member too long");
	memcpy(buf, user, ulen);
	memcpy(buf + ulen, member, mlen);
	for (i = 0; i < 8; i++)
		buf[ulen + mlen + i] = (uint8_t)((uint64_t)when >> (56 - 8 * i));
	if (HMAC(EVP_sha256(), key, FORWARD_KEY_LEN, buf, ulen + mlen + 8,
	    proof, &len) == NULL || len != FORWARD_PROOF_LEN)
		fatalx("forward_proof: HMAC failed");
}

int
forward_proof_ok(const uint8_t *key, const char *user, const char *member,
    int64_t when, const uint8_t proof[FORWARD_PROOF_LEN])
{
	uint8_t	 want[FORWARD_PROOF_LEN];

	forward_proof(key, user, member, when, want);
	return CRYPTO_memcmp(want, proof, FORWARD_PROOF_LEN) == 0;
}

/*
 * What smtp, the queue and the parent share about a ~/.forward's members
 * (posternd/forward.c reads the file): the envelope a member becomes, and
 * the proof, made by the parent with a key smtp never sees, that a member
 * came from the user's own file, which the queue checks before it stores
 * the envelope (queue/admit.c).
 */
#ifndef POSTERN_DOTFORWARD_H
#define POSTERN_DOTFORWARD_H

#include <stddef.h>
#include <stdint.h>

#define FORWARD_KEY_LEN		32
#define FORWARD_PROOF_LEN	32	/* HMAC-SHA256 */
/*
 * How long a proof holds: the RCPT's lookup to the commit of its
 * message.  smtp-max-lifetime (an hour by default) bounds a session
 * below this.
 */
#define FORWARD_PROOF_SECS	(6 * 3600)

enum forward_kind {
	FORWARD_ADDRESS,	/* a mailbox: routed as a local submission */
	FORWARD_FILE,		/* "/path": appended as an mbox, as the user */
	FORWARD_COMMAND		/* "|command": run by /bin/sh -c, as the user */
};

/*
 * The envelope recipient of one member of user's .forward, in out: an
 * address (a bare name gets domain; a leading "\" is dropped), or for a
 * file or command "~USER:/path" or "~USER:|command", which tells the
 * parent whose the file or command is.  -1 with why for a member that is
 * neither (a relative path) or does not fit.
 */
int	forward_member_target(const char *member, const char *user,
	    const char *domain, char *out, size_t outlen,
	    enum forward_kind *kind, const char **why);
/*
 * A file or command target "~USER:member": 0 with the user copied and
 * *member pointing at "/path" or "|command" in rcpt; -1 if rcpt is not one.
 */
int	forward_target_split(const char *rcpt, char *user, size_t userlen,
	    const char **member);

/* HMAC-SHA256 over user, member and when, with the parent's key. */
void	forward_proof(const uint8_t *key, const char *user, const char *member,
	    int64_t when, uint8_t proof[FORWARD_PROOF_LEN]);
/* 1 if proof is that of user, member and when; compared in constant time. */
int	forward_proof_ok(const uint8_t *key, const char *user,
	    const char *member, int64_t when,
	    const uint8_t proof[FORWARD_PROOF_LEN]);

#endif

/*
 * crypt(3) away from authd's event loop: one helper process, forked by
 * authd when it starts, runs each password check while authd goes on
 * evaluating everyone's mail.
 */
#ifndef POSTERN_AUTHD_CRYPT_HELPER_H
#define POSTERN_AUTHD_CRYPT_HELPER_H

#include <stdint.h>

#include <crypt.h>

#define CRYPT_HELPER_PASS_MAX	1024	/* SMTP_AUTH_PASS_MAX */
#define CRYPT_HELPER_INFLIGHT	64	/* checks queued at once */

enum crypt_helper_result {
	CRYPT_MATCH,
	CRYPT_NOMATCH,
	CRYPT_BAD_HASH		/* a hash crypt(3) cannot read */
};

struct crypt_helper;

/* done(arg, id, result) runs in authd's loop for each check. */
typedef void	(*crypt_helper_done)(void *, uint32_t, enum crypt_helper_result);

struct crypt_helper *crypt_helper_start(crypt_helper_done, void *);
/* -1: too many checks under way, nothing sent. */
int	crypt_helper_check(struct crypt_helper *, uint32_t id,
	    const char *password, const char *hash);

#endif

/*
 * Maildir delivery (the maildir(5) convention as qmail defined it): write
 * the message into tmp/, fsync it, then rename it into new/.  Run by the
 * parent's delivery worker, already switched to the recipient's user.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>

#define MAILDIR_OK		0
#define MAILDIR_TEMPFAIL	1	/* try again later (disk full, ...) */
#define MAILDIR_PERMFAIL	2	/* will not work (bad path, ...) */

/*
 * Deliver what can be read from `fd` (until EOF) into `maildir`, after
 * `prefix` (e.g. Return-Path and Delivered-To lines; may be NULL).
 * `key` names the delivery uniquely and stably (the envelope id): when
 * `check_existing` is set and a file with that key is already in new/ or
 * cur/, the earlier delivery completed and nothing is written again.
 * Returns MAILDIR_* and fills `err` on failure.
 */
int	maildir_deliver(const char *maildir, int fd, const char *prefix,
	    const char *key, const char *hostname, int check_existing,
	    char *err, size_t errlen);

/*
 * The same without syncing new/: several deliveries into one maildir share
 * one maildir_sync_new(), and none is complete until it returned MAILDIR_OK.
 */
int	maildir_deliver_unsynced(const char *maildir, int fd,
	    const char *prefix, const char *key, const char *hostname,
	    int check_existing, char *err, size_t errlen);
int	maildir_sync_new(const char *maildir, char *err, size_t errlen);

/*
 * TEST ONLY: when set (by a delivery process in a test run, -T), called with
 * "tmp" once the message is whole and synced in tmp/, before the rename.
 */
extern void	(*maildir_test_step)(const char *step);

/*
 * The MAILDIR_* class of a failed system call's errno, and the RFC 3463
 * enhanced status that goes with it ("4.2.2" for a full mailbox).  The
 * `err` of a failed delivery starts with the same status.
 */
int	maildir_errno_class(int errnum, const char **status);
/* The same for errno now: MAILDIR_*, and "STATUS WHAT PATH: error" in err. */
int	maildir_fail(char *err, size_t errlen, const char *what,
	    const char *path);

/*
 * Is the home directory that the template `tmpl` uses (~/ or %{home})
 * there?  It is never created.  Returns MAILDIR_* and fills `err`.
 */
int	maildir_check_home(const char *tmpl, const char *home, char *err,
	    size_t errlen);

/*
 * The same for every template: a home it uses, or else the fixed base
 * directory of the path (what comes before the first expansion), which
 * is never created.  Returns MAILDIR_* and fills `err`.
 */
int	maildir_check_base(const char *tmpl, const char *home, char *err,
	    size_t errlen);

/* Expand %{user}, %{rcpt}, %{domain}, %{home} and a leading ~/ in a path. */
int	maildir_expand_path(const char *tmpl, const char *user,
	    const char *rcpt, const char *home, char *out, size_t outlen);

#endif

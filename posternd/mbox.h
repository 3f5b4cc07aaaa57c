/*
 * mbox delivery: append a message to a Unix mailbox (Debian's
 * /var/mail/USER by default) in the mboxrd format, locked as Debian's
 * mail tools expect.  Run by the parent's delivery worker, already
 * switched to the recipient's user.
 */
#ifndef POSTERN_MBOX_H
#define POSTERN_MBOX_H

#include <stddef.h>
#include <time.h>

#define MBOX_LOCK_WAIT		30	/* seconds for the locks, at most */
#define MBOX_LOCK_STALE		300	/* a dot lock this old is stale */

/*
 * Append what can be read from `fd` (the message as queued, CRLF lines)
 * to the mailbox `path`: a "From " line with the envelope sender and
 * `when`, Return-Path and Delivered-To, the message with LF lines and
 * mboxrd quoting, and a blank line.  The mailbox is created if missing,
 * but its directory never is.  On any failure the mailbox is cut back to
 * its old size.  Returns MAILDIR_* (posternd/maildir.h) and fills `err`
 * with an account that starts with its RFC 3463 status.  lock_wait is in
 * seconds (MBOX_LOCK_WAIT in the daemon).
 */
int	mbox_deliver(const char *path, int fd, const char *sender,
	    const char *rcpt, time_t when, int lock_wait, char *err,
	    size_t errlen);

#endif

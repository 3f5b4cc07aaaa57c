/*
 * mbox delivery, as Debian's mail tools read and lock a mailbox.
 *
 * Locking (Debian Policy 11.6): fcntl() first, then a dot lock
 * (PATH.lock), made the way that is safe over NFS: a unique file linked
 * to the lock's name, the link counted afterwards.  A dot lock older
 * than MBOX_LOCK_STALE seconds is taken for the leftover of a crashed
 * program and removed.  Either lock not had within the wait is a
 * temporary failure (4.2.0, the mailbox busy).
 *
 * Format: mboxrd.  Each message starts with "From SENDER DATE" (the
 * envelope sender, MAILER-DAEMON for the null one, and the date as
 * asctime() writes it, in UTC), lines end in LF, a line that matches
 * /^>*From / gets one more ">" (so a reader that removes one gets the
 * message back exactly), and a blank line follows the message.
 *
 * The mailbox must be a regular file owned by the user, with one link:
 * a symbolic or hard link planted in a shared spool could otherwise
 * point the write at another file.  A new mailbox is made 0660 when the
 * spool directory gave it another group (Debian's /var/mail is setgid
 * mail), 0600 otherwise.
 *
 * All or nothing: a write, sync or read that fails cuts the mailbox back
 * to its old size, so that no half message is left for the next
 * delivery to be appended to.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "posternd/maildir.h"
#include "posternd/mbox.h"

#define MBOX_OUT_MAX	65536

/* The message's bytes, rewritten on their way out (mboxrd). */
struct mbox_out {
	int		 fd;
	size_t		 len;
	char		 buf[MBOX_OUT_MAX];
	/* at the start of a line: the ">"s and the part of "From " seen */
	int		 bol;
	size_t		 gt;
	size_t		 from;
	int		 cr;		/* a CR waits for its LF */
	char		 last;		/* the last byte written */
};

static int
out_flush(struct mbox_out *o)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < o->len) {
		if ((n = write(o->fd, o->buf + off, o->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	o->len = 0;
	return 0;
}

static int
out_byte(struct mbox_out *o, char c)
{
	if (o->len == sizeof(o->buf) && out_flush(o) == -1)
		return -1;
	o->buf[o->len++] = c;
	o->last = c;
	return 0;
}

static int
out_str(struct mbox_out *o, const char *s, size_t len)
{
	while (len-- > 0)
		if (out_byte(o, *s++) == -1)
			return -1;
	return 0;
}

/* What was held at the start of a line, with one more ">" if quoted. */
static int
out_held(struct mbox_out *o, int quote)
{
	size_t	 i;

	if (quote && out_byte(o, '>') == -1)
		return -1;
	for (i = 0; i < o->gt; i++)
		if (out_byte(o, '>') == -1)
			return -1;
	if (out_str(o, "From ", o->from) == -1)
		return -1;
	o->gt = o->from = 0;
	o->bol = 0;
	return 0;
}

/* One byte of the line's text (no CR pending). */
static int
out_text(struct mbox_out *o, char c)
{
	if (o->bol) {
		if (c == '>' && o->from == 0) {
			o->gt++;
			return 0;
		}
		if (c == "From "[o->from]) {
			if (++o->from == 5)
				return out_held(o, 1);
			return 0;
		}
		if (out_held(o, 0) == -1)
			return -1;
	}
	if (out_byte(o, c) == -1)
		return -1;
	if (c == '\n')
		o->bol = 1;
	return 0;
}

/* A byte of the message as queued: CRLF becomes LF. */
static int
out_msg(struct mbox_out *o, char c)
{
	if (o->cr) {
		o->cr = 0;
		if (c == '\n')
			return out_text(o, '\n');
		if (out_text(o, '\r') == -1)
			return -1;
	}
	if (c == '\r') {
		o->cr = 1;
		return 0;
	}
	return out_text(o, c);
}

/* The end of the message: what is held, a final LF, the blank line. */
static int
out_end(struct mbox_out *o)
{
	if (o->cr && out_text(o, '\r') == -1)
		return -1;
	o->cr = 0;
	if (o->bol && (o->gt > 0 || o->from > 0) && out_held(o, 0) == -1)
		return -1;
	if (o->last != '\n' && out_byte(o, '\n') == -1)
		return -1;
	if (out_byte(o, '\n') == -1)
		return -1;
	return out_flush(o);
}

static void
pause_a_little(void)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* fcntl() write lock on the whole mailbox, waiting up to wait seconds. */
static int
lock_fcntl(int fd, int wait)
{
	struct flock	 fl;
	int		 tries = wait * 10;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if ((errno != EAGAIN && errno != EACCES && errno != EINTR) ||
		    tries-- <= 0)
			return -1;
		pause_a_little();
	}
}

/*
 * The dot lock: 0 when held, 1 when another holds it past the wait, -1
 * on an error (errno set).
 */
static int
lock_dot(const char *lock, int wait)
{
	struct stat	 st;
	char		 tmp[PATH_MAX], host[256];
	int		 fd, tries = wait * 10, rv, save_errno;

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[strcspn(host, "/")] = '\0';
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%s.%ld", lock, host,
	    (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	close(fd);
	for (;;) {
		/* link() may fail over NFS having worked: count the links */
		if (link(tmp, lock) == -1 && errno != EEXIST && errno != EIO) {
			rv = -1;
			break;
		}
		if (stat(tmp, &st) == 0 && st.st_nlink == 2) {
			rv = 0;
			break;
		}
		if (lstat(lock, &st) == 0 &&
		    time(NULL) - st.st_mtime > MBOX_LOCK_STALE) {
			(void)unlink(lock);
			continue;
		}
		if (tries-- <= 0) {
			rv = 1;
			break;
		}
		pause_a_little();
	}
	save_errno = errno;
	(void)unlink(tmp);
	errno = save_errno;
	return rv;
}

/* The mailbox must be ours alone: a regular file, our own, one link. */
static int
check_mailbox(int fd, const char *path, int created, char *err,
    size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return maildir_fail(err, errlen, "fstat", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		snprintf(err, errlen, "4.2.0 mailbox %s is not a regular file "
		    "of uid %ld with one link: left alone", path,
		    (long)geteuid());
		return MAILDIR_TEMPFAIL;
	}
	if (created && fchmod(fd, st.st_gid != getegid() ? 0660 : 0600) == -1)
		return maildir_fail(err, errlen, "fchmod", path);
	return MAILDIR_OK;
}

/* The "From " line and our two header fields. */
static int
write_envelope(struct mbox_out *o, const char *sender, const char *rcpt,
    time_t when)
{
	struct tm	 tm;
	char		 date[64], from[1100];
	size_t		 i;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		strlcpy(date, "Thu Jan  1 00:00:00 1970", sizeof(date));
	/* the sender is one word on this line */
	strlcpy(from, sender[0] != '\0' ? sender : "MAILER-DAEMON",
	    sizeof(from));
	for (i = 0; from[i] != '\0'; i++)
		if (from[i] == ' ' || from[i] == '\t')
			from[i] = '_';
	if (out_str(o, "From ", 5) == -1 || out_str(o, from, strlen(from)) ==
	    -1 || out_byte(o, ' ') == -1 || out_str(o, date, strlen(date)) ==
	    -1 || out_str(o, "\nReturn-Path: <", 15) == -1 ||
	    out_str(o, sender, strlen(sender)) == -1 ||
	    out_str(o, ">\nDelivered-To: ", 16) == -1 ||
	    out_str(o, rcpt, strlen(rcpt)) == -1 || out_byte(o, '\n') == -1)
		return -1;
	o->bol = 1;
	return 0;
}

/* A mailbox that does not end in a blank line gets one first. */
static int
separate(struct mbox_out *o, off_t size)
{
	char	 tail[2];
	ssize_t	 n;

	if (size == 0)
		return 0;
	n = pread(o->fd, tail, size >= 2 ? 2 : 1, size >= 2 ? size - 2 : 0);
	if (n <= 0)
		return n == 0 ? 0 : -1;	/* cut meanwhile by a lockless tool */
	if (n == 2 && tail[0] == '\n' && tail[1] == '\n')
		return 0;
	if (tail[n - 1] != '\n' && out_byte(o, '\n') == -1)
		return -1;
	return out_byte(o, '\n');
}

int
mbox_deliver(const char *path, int fd, const char *sender, const char *rcpt,
    time_t when, int lock_wait, char *err, size_t errlen)
{
	struct mbox_out	*o = NULL;
	struct stat	 st;
	char		 lock[PATH_MAX], buf[65536];
	ssize_t		 n, i;
	off_t		 size = -1;
	int		 mfd, created = 0, dot = 0, code, save_errno;

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
	    sizeof(lock)) {
		snprintf(err, errlen, "5.3.0 mailbox path too long");
		return MAILDIR_PERMFAIL;
	}
	/* O_NONBLOCK: a FIFO planted there must not hang the worker */
	if ((mfd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1 && errno == ENOENT) {
		mfd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
		created = mfd != -1;
	}
	if (mfd == -1 && errno == ELOOP) {
		/* a symbolic link: left alone, like any mailbox not ours */
		snprintf(err, errlen, "4.2.0 mailbox %s is a symbolic link: "
		    "left alone", path);
		return MAILDIR_TEMPFAIL;
	}
	if (mfd == -1)
		return maildir_fail(err, errlen, "open", path);
	if ((code = check_mailbox(mfd, path, created, err, errlen)) !=
	    MAILDIR_OK)
		goto done;
	if (fcntl(mfd, F_SETFL, O_APPEND) == -1) {
		code = maildir_fail(err, errlen, "fcntl", path);
		goto done;
	}
	if (lock_fcntl(mfd, lock_wait) == -1) {
		if (errno == EAGAIN || errno == EACCES || errno == EINTR) {
			snprintf(err, errlen, "4.2.0 mailbox %s is locked "
			    "(fcntl) by another program", path);
			code = MAILDIR_TEMPFAIL;
		} else
			code = maildir_fail(err, errlen, "fcntl lock", path);
		goto done;
	}
	switch (lock_dot(lock, lock_wait)) {
	case 0:
		dot = 1;
		break;
	case 1:
		snprintf(err, errlen, "4.2.0 mailbox %s is locked (%s) by "
		    "another program", path, lock);
		code = MAILDIR_TEMPFAIL;
		goto done;
	default:
		code = maildir_fail(err, errlen, "dot lock", lock);
		goto done;
	}
	if (fstat(mfd, &st) == -1) {
		code = maildir_fail(err, errlen, "fstat", path);
		goto done;
	}
	size = st.st_size;
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		code = maildir_fail(err, errlen, "memory for", path);
		goto done;
	}
	o->fd = mfd;
	if (separate(o, size) == -1 ||
	    write_envelope(o, sender, rcpt, when) == -1)
		goto bad;
	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (out_msg(o, buf[i]) == -1)
				goto bad;
	}
	if (out_end(o) == -1 || fsync(mfd) == -1)
		goto bad;
	code = MAILDIR_OK;
	goto done;
 bad:
	save_errno = errno;
	/* no half message: back to the old size */
	if (ftruncate(mfd, size) == 0)
		(void)fsync(mfd);
	errno = save_errno;
	code = maildir_fail(err, errlen, "write", path);
 done:
	free(o);
	if (dot)
		(void)unlink(lock);
	close(mfd);	/* and the fcntl lock with it */
	return code;
}

/*
 * Maildir delivery.  The file name is KEY.HOSTNAME, where KEY is the
 * envelope id: unique per recipient delivery and stable across retries, so
 * that a retry after a crash between the rename and the queue's record of
 * success finds the message already delivered instead of writing it twice.
 * (Maildir readers only require names to be unique; they move files from
 * new/ to cur/ appending ":2,FLAGS", which the existence check allows for.)
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posternd/maildir.h"

void	(*maildir_test_step)(const char *);

/*
 * Which failures are worth retrying, and the RFC 3463 status each gets.
 *
 * Temporary is the default: a full disk or quota (4.2.2, mailbox full), a
 * filesystem remounted read-only after an error (EROFS), a home directory
 * or maildir that vanished under us (ENOENT: an unmounted or automounted
 * /home, a component removed while we walked the path), permissions an
 * administrator is fixing, I/O errors, exhausted descriptors or memory.
 * All of these are a state of the machine, not of the message, and are
 * fixed without touching the message or the configuration; bouncing at
 * once would lose mail the queue can still deliver before its expiry
 * (4.3.0, other or undefined mail system status).
 *
 * Permanent are the errors no retry can fix: the configured path cannot
 * exist (a component is a file: ENOTDIR; a symlink where we refuse to
 * follow one: ELOOP; too long: ENAMETOOLONG; 5.3.0), and a message larger
 * than the filesystem allows any file to be (EFBIG; 5.3.4, message too
 * big for system).
 */
int
maildir_errno_class(int errnum, const char **status)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		*status = "4.2.2";		/* RFC 3463 3.3 */
		return MAILDIR_TEMPFAIL;
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		*status = "5.3.0";		/* RFC 3463 3.4 */
		return MAILDIR_PERMFAIL;
	case EFBIG:
		*status = "5.3.4";		/* RFC 3463 3.4 */
		return MAILDIR_PERMFAIL;
	}
	*status = "4.3.0";			/* RFC 3463 3.4 */
	return MAILDIR_TEMPFAIL;
}

/* The class of errno, and the account in err that starts with its status. */
int
maildir_fail(char *err, size_t errlen, const char *what, const char *path)
{
	const char	*status;
	int		 save_errno = errno, code;

	code = maildir_errno_class(save_errno, &status);
	snprintf(err, errlen, "%s %s %s: %s", status, what, path,
	    strerror(save_errno));
	return code;
}

/*
 * A user's home directory is never created (only what lies below it): one
 * that is not there is unmounted or being restored, a temporary failure
 * (4.3.0), and a directory made in its place would hide the mail under
 * the mount point.  Templates that do not use the home are not checked.
 */
static int
uses_home(const char *tmpl)
{
	return (tmpl[0] == '~' && (tmpl[1] == '/' || tmpl[1] == '\0')) ||
	    strstr(tmpl, "%{home}") != NULL;
}

/* A directory that must be there, never made: MAILDIR_OK, or the class. */
static int
check_dir(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return maildir_fail(err, errlen, what, path);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return maildir_fail(err, errlen, what, path);
	}
	return MAILDIR_OK;
}

int
maildir_check_home(const char *tmpl, const char *home, char *err,
    size_t errlen)
{
	if (!uses_home(tmpl))
		return MAILDIR_OK;
	return check_dir("home directory", home, err, errlen);
}

/*
 * A template outside any home has a fixed base: the directory before its
 * first expansion ("/var/vmail/%{domain}/%{user}": /var/vmail), or the
 * maildir's parent when it has none.  The base is never created either:
 * one that is not there is a file system not mounted (or a typo), and
 * mkdir -p would put the mail on the file system below its mount point,
 * hidden once it is mounted again.  So it is a temporary failure (4.3.0,
 * retried), or a permanent one when a component is a file (5.3.0).  What
 * the expansions name below the base is created as needed: new virtual
 * domains and users.
 */
int
maildir_check_base(const char *tmpl, const char *home, char *err,
    size_t errlen)
{
	char	 base[4096], *p;

	if (uses_home(tmpl))
		return maildir_check_home(tmpl, home, err, errlen);
	if (tmpl[0] != '/' || strlcpy(base, tmpl, sizeof(base)) >=
	    sizeof(base))
		return MAILDIR_OK;	/* the expansion refuses it */
	if ((p = strstr(base, "%{")) != NULL)
		*p = '\0';
	p = strrchr(base, '/');
	if (p == base)
		return MAILDIR_OK;	/* the root is there */
	*p = '\0';
	return check_dir("maildir base directory", base, err, errlen);
}

/* fsync the directory that holds path's last component. */
static int
sync_parent(const char *path)
{
	char	 dir[4096], *slash;
	int	 dfd, r;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(dfd);
	close(dfd);
	return r;
}

/*
 * mkdir that makes a new directory durable before anything is delivered
 * into it: the entry in its parent is synced (a crash must not lose a
 * folder that holds mail we reported delivered).
 */
static int
ensure_dir(const char *path)
{
	struct stat	 st;

	if (mkdir(path, 0700) == 0) {
		if (sync_parent(path) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if (lstat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* mkdir -p, as the recipient: a virtual-domain path may be new. */
static int
ensure_path(const char *path)
{
	char	 tmp[4096], *p;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) == 0) {
			if (sync_parent(tmp) == -1)
				return -1;
		} else if (errno != EEXIST)
			return -1;
		*p = '/';
	}
	return ensure_dir(tmp);
}

/* Is there a file named KEY.HOSTNAME (optionally ":2,...") in dir? */
static int
already_delivered(const char *dir, const char *name)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 len = strlen(name);
	int		 found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, len) == 0 &&
		    (de->d_name[len] == '\0' || de->d_name[len] == ':')) {
			found = 1;
			break;
		}
	}
	closedir(d);
	return found;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
deliver(const char *maildir, int fd, const char *prefix, const char *key,
    const char *hostname, int check_existing, int sync_new, char *err,
    size_t errlen)
{
	char	 tmpdir[4096], newdir[4096], curdir[4096];
	char	 name[512], tmpfile[4096 + 512 + 8], newfile[4096 + 512 + 8];
	char	 buf[65536];
	ssize_t	 n;
	int	 out, code;

	if (strchr(key, '/') != NULL || strchr(hostname, '/') != NULL ||
	    key[0] == '\0' || key[0] == '.') {
		snprintf(err, errlen, "5.3.0 invalid delivery key");
		return MAILDIR_PERMFAIL;
	}
	if ((size_t)snprintf(name, sizeof(name), "%s.%s", key, hostname) >=
	    sizeof(name) ||
	    (size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", maildir) >=
	    sizeof(tmpdir) ||
	    (size_t)snprintf(newdir, sizeof(newdir), "%s/new", maildir) >=
	    sizeof(newdir) ||
	    (size_t)snprintf(curdir, sizeof(curdir), "%s/cur", maildir) >=
	    sizeof(curdir)) {
		snprintf(err, errlen, "5.3.0 maildir path too long");
		return MAILDIR_PERMFAIL;
	}
	snprintf(tmpfile, sizeof(tmpfile), "%s/%s", tmpdir, name);
	snprintf(newfile, sizeof(newfile), "%s/%s", newdir, name);

	if (ensure_path(maildir) == -1 || ensure_dir(tmpdir) == -1 ||
	    ensure_dir(newdir) == -1 || ensure_dir(curdir) == -1)
		return maildir_fail(err, errlen, "maildir", maildir);

	if (check_existing) {
		struct stat	 st;

		/* In new/ the name is exact; a reader may have moved it on
		 * to cur/ with ":2,FLAGS" appended. */
		if (stat(newfile, &st) == 0 || already_delivered(curdir, name))
			return MAILDIR_OK;
	}

	if ((out = open(tmpfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return maildir_fail(err, errlen, "open", tmpfile);
	if (prefix != NULL && write_all(out, prefix, strlen(prefix)) == -1)
		goto bad;
	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		if (n == 0)
			break;
		if (write_all(out, buf, (size_t)n) == -1)
			goto bad;
	}
	if (fsync(out) == -1)
		goto bad;
	if (close(out) == -1) {
		out = -1;
		goto bad;
	}
	out = -1;
	if (maildir_test_step != NULL)
		maildir_test_step("tmp");
	if (rename(tmpfile, newfile) == -1)
		goto bad;
	if (sync_new)
		return maildir_sync_new(maildir, err, errlen);
	return MAILDIR_OK;

 bad:
	/* the partial file in tmp/ must not stay to fill the disk */
	code = maildir_fail(err, errlen, "writing", tmpfile);
	if (out != -1)
		close(out);
	unlink(tmpfile);
	return code;
}

int
maildir_deliver(const char *maildir, int fd, const char *prefix,
    const char *key, const char *hostname, int check_existing, char *err,
    size_t errlen)
{
	return deliver(maildir, fd, prefix, key, hostname, check_existing, 1,
	    err, errlen);
}

int
maildir_deliver_unsynced(const char *maildir, int fd, const char *prefix,
    const char *key, const char *hostname, int check_existing, char *err,
    size_t errlen)
{
	return deliver(maildir, fd, prefix, key, hostname, check_existing, 0,
	    err, errlen);
}

/* The rename into new/ is durable only once new/ itself is synced. */
int
maildir_sync_new(const char *maildir, char *err, size_t errlen)
{
	char	 newdir[4096];
	int	 dfd, code;

	if ((size_t)snprintf(newdir, sizeof(newdir), "%s/new", maildir) >=
	    sizeof(newdir)) {
		snprintf(err, errlen, "5.3.0 maildir path too long");
		return MAILDIR_PERMFAIL;
	}
	if ((dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return maildir_fail(err, errlen, "open", newdir);
	if (fsync(dfd) == -1) {
		code = maildir_fail(err, errlen, "fsync", newdir);
		close(dfd);
		return code;
	}
	close(dfd);
	return MAILDIR_OK;
}

int
maildir_expand_path(const char *tmpl, const char *user, const char *rcpt,
    const char *home, char *out, size_t outlen)
{
	const char	*p = tmpl, *val, *at;
	char		 domain[256], localpart[256];
	size_t		 o = 0, vlen;

	at = strrchr(rcpt, '@');
	strlcpy(domain, at != NULL ? at + 1 : "", sizeof(domain));
	if (at != NULL && (size_t)(at - rcpt) < sizeof(localpart)) {
		memcpy(localpart, rcpt, (size_t)(at - rcpt));
		localpart[at - rcpt] = '\0';
	} else if (at == NULL)
		strlcpy(localpart, rcpt, sizeof(localpart));
	else
		return -1;
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
		if (strlcpy(out, home, outlen) >= outlen)
			return -1;
		o = strlen(out);
		p++;
	}
	while (*p != '\0') {
		if (p[0] == '%' && p[1] == '%') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '%';
			p += 2;
			continue;
		}
		if (p[0] == '%' && p[1] == '{') {
			const char	*end = strchr(p, '}');
			size_t		 klen;

			if (end == NULL)
				return -1;
			klen = (size_t)(end - p - 2);
			if (klen == 4 && strncmp(p + 2, "user", 4) == 0)
				val = user;
			else if (klen == 4 && strncmp(p + 2, "rcpt", 4) == 0)
				val = rcpt;
			else if (klen == 6 && strncmp(p + 2, "domain", 6) == 0)
				val = domain;
			else if (klen == 9 &&
			    strncmp(p + 2, "localpart", 9) == 0)
				val = localpart;
			else if (klen == 4 && strncmp(p + 2, "home", 4) == 0)
				val = home;
			else
				return -1;
			/* an expansion must not climb out of its place */
			if (strchr(val, '/') != NULL && val != home)
				return -1;
			if (strcmp(val, "..") == 0 || strcmp(val, ".") == 0 ||
			    val[0] == '\0')
				return -1;
			vlen = strlen(val);
			if (o + vlen >= outlen)
				return -1;
			memcpy(out + o, val, vlen);
			o += vlen;
			p = end + 1;
			continue;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return 0;
}

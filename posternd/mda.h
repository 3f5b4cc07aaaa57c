/*
 * mda delivery: run a command (procmail, maildrop, a script) as the
 * recipient's user with the message on its standard input, and read its
 * exit status the sendmail way (sysexits).  Run by the parent's delivery
 * worker, already switched to the recipient's user.
 */
#ifndef POSTERN_MDA_H
#define POSTERN_MDA_H

#include <stddef.h>

#define MDA_ARGS_MAX	32	/* words of a command */
#define MDA_TIMEOUT	120	/* seconds a command may run */
#define MDA_PATH	"/usr/local/bin:/usr/bin:/bin"

/*
 * Split a command into words at blanks; 'single quotes' keep blanks and
 * take everything up to the next quote literally.  No shell: a command
 * that wants one is written sh -c '...'.  The words point into buf.
 * Returns their number, or -1 with why set (empty, unterminated quote,
 * more than MDA_ARGS_MAX words, longer than buf).
 */
int	mda_split(const char *cmd, char *buf, size_t buflen, char **argv,
	    const char **why);

struct mda_job {
	const char	*command;	/* the action's, not yet expanded */
	const char	*user;
	const char	*home;
	const char	*sender;	/* "" = null reverse path */
	const char	*rcpt;
	int		 timeout;	/* seconds; MDA_TIMEOUT in the daemon */
	int		 shell;		/* command is one line for /bin/sh -c,
					   not split or expanded (a
					   ~/.forward's "|command") */
};

/*
 * Run the command (split, or as job->shell says) for one message (what can be read from `fd`, CRLF
 * lines): it gets Return-Path, Delivered-To and the message with LF line
 * ends on its standard input, a sendmail-like environment, and
 * job->timeout seconds.  Returns MAILDIR_* (posternd/maildir.h): exit 0
 * is delivered, EX_TEMPFAIL (75), a signal, the time limit or a command
 * that cannot be started are temporary, any other status permanent; err
 * starts with the RFC 3463 status and gives the first line the command
 * wrote to its standard error.
 */
int	mda_run(const struct mda_job *job, int fd, char *err, size_t errlen);

#endif

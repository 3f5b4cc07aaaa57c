/*
 * mda delivery: a command run per message, as the recipient.
 *
 * The command is split into words by mda_split() (no shell: nothing in
 * a recipient address can become shell syntax) and each word gets the
 * expansions of a maildir path (%{user}, %{rcpt}, %{localpart},
 * %{domain}, a leading ~/), whose values never hold a "/".  A ~/.forward's
 * "|command" (job->shell) is the user's own line: /bin/sh -c runs it as
 * written, as sendmail does, with nothing expanded.  It runs in
 * a session of its own, so that the time limit kills everything it
 * started, with an environment of its own:
 *
 *	SENDER RECIPIENT USER LOGNAME HOME LOCAL DOMAIN EXTENSION SHELL PATH
 *
 * (EXTENSION is what follows the first "+" of the local part, as
 * Postfix's local(8) sets it.)  Its standard input is a file holding
 * Return-Path, Delivered-To and the message with LF line ends (seekable:
 * procmail and maildrop read it more than once); its standard output is
 * /dev/null, and the first line of its standard error explains a failure.
 *
 * Exit statuses are sendmail's (sysexits.h): 0 delivered, EX_TEMPFAIL
 * retried, any other bounced with an enhanced status that fits the
 * code where there is one.  Killed by a signal or by the time limit is
 * temporary, as is a command that cannot be started (a missing program
 * is the administrator's to fix, not the sender's fault).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "posternd/maildir.h"
#include "posternd/mda.h"

#define MDA_CMD_MAX	4096
#define MDA_ERR_MAX	200	/* of the first stderr line, kept */

int
mda_split(const char *cmd, char *buf, size_t buflen, char **argv,
    const char **why)
{
	const char	*p = cmd;
	size_t		 o = 0;
	int		 argc = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (argc == MDA_ARGS_MAX) {
			*why = "too many words";
			return -1;
		}
		argv[argc++] = buf + o;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p == '\'') {
				for (p++; *p != '\'' && *p != '\0'; p++) {
					if (o + 1 >= buflen)
						goto long_;
					buf[o++] = *p;
				}
				if (*p++ != '\'') {
					*why = "unterminated quote";
					return -1;
				}
				continue;
			}
			if (o + 1 >= buflen)
				goto long_;
			buf[o++] = *p++;
		}
		if (o + 1 >= buflen)
			goto long_;
		buf[o++] = '\0';
	}
	argv[argc] = NULL;
	if (argc == 0) {
		*why = "empty command";
		return -1;
	}
	return argc;
 long_:
	*why = "command too long";
	return -1;
}

/* The message for the command: our two fields, then LF line ends. */
static int
mda_input(const struct mda_job *job, int fd)
{
	char	 in[65536], out[65536 + 1];
	ssize_t	 n, i;
	size_t	 o;
	int	 mfd, cr = 0;

	if ((mfd = memfd_create("mda", MFD_CLOEXEC)) == -1)
		return -1;
	if (dprintf(mfd, "Return-Path: <%s>\nDelivered-To: %s\n", job->sender,
	    job->rcpt) < 0)
		goto bad;
	for (;;) {
		if ((n = read(fd, in, sizeof(in))) == -1) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		if (n == 0)
			break;
		for (i = 0, o = 0; i < n; i++) {
			if (cr && in[i] != '\n')
				out[o++] = '\r';
			cr = in[i] == '\r';
			if (!cr)
				out[o++] = in[i];
		}
		if (write(mfd, out, o) != (ssize_t)o)
			goto bad;
	}
	if ((cr && write(mfd, "\r", 1) != 1) || lseek(mfd, 0, SEEK_SET) == -1)
		goto bad;
	return mfd;
 bad:
	close(mfd);
	return -1;
}

/* In the child: the environment and the exec; never returns. */
static void
mda_exec(const struct mda_job *job, char **argv, int in, int errfd)
{
	char		 local[256], domain[256], ext[256];
	char		*env[16];
	const char	*at, *plus;
	int		 devnull, e = 0;

	at = strrchr(job->rcpt, '@');
	snprintf(local, sizeof(local), "%.*s", at != NULL ?
	    (int)(at - job->rcpt) : (int)strlen(job->rcpt), job->rcpt);
	snprintf(domain, sizeof(domain), "%s", at != NULL ? at + 1 : "");
	plus = strchr(local, '+');
	snprintf(ext, sizeof(ext), "%s", plus != NULL ? plus + 1 : "");
	if (asprintf(&env[e++], "SENDER=%s", job->sender) == -1 ||
	    asprintf(&env[e++], "RECIPIENT=%s", job->rcpt) == -1 ||
	    asprintf(&env[e++], "USER=%s", job->user) == -1 ||
	    asprintf(&env[e++], "LOGNAME=%s", job->user) == -1 ||
	    asprintf(&env[e++], "HOME=%s", job->home) == -1 ||
	    asprintf(&env[e++], "LOCAL=%s", local) == -1 ||
	    asprintf(&env[e++], "DOMAIN=%s", domain) == -1 ||
	    asprintf(&env[e++], "EXTENSION=%s", ext) == -1 ||
	    asprintf(&env[e++], "SHELL=/bin/sh") == -1 ||
	    asprintf(&env[e++], "PATH=%s", MDA_PATH) == -1)
		_exit(EX_TEMPFAIL);
	env[e] = NULL;

	setsid();
	signal(SIGPIPE, SIG_DFL);
	if ((devnull = open("/dev/null", O_WRONLY)) == -1 ||
	    dup2(in, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1 ||
	    dup2(errfd, STDERR_FILENO) == -1)
		_exit(EX_TEMPFAIL);
	closefrom(STDERR_FILENO + 1);
	if (chdir(job->home) == -1 && chdir("/") == -1)
		_exit(EX_TEMPFAIL);
	execvpe(argv[0], argv, env);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(EX_TEMPFAIL);
}

/*
 * Read the command's standard error until it exits (or the deadline),
 * keeping the first line.  Returns 0 with *status set, or -1 when the
 * deadline passed (the command's session killed).
 */
static int
mda_wait(pid_t pid, int errfd, const struct timespec *deadline, char *line,
    size_t linelen, int *status)
{
	struct pollfd	 pfd = { errfd, POLLIN, 0 };
	struct timespec	 now;
	char		 buf[1024];
	size_t		 o = 0;
	ssize_t		 n, i;
	int		 done = 0, eof = 0, full = 0, ms;

	for (;;) {
		if (!done && waitpid(pid, status, WNOHANG) == pid)
			done = 1;
		if (done && eof)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int)((deadline->tv_sec - now.tv_sec) * 1000 +
		    (deadline->tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0)
			break;
		/* after the exit, only what is already written */
		if (eof || poll(&pfd, 1, done ? 0 : (ms < 100 ? ms : 100)) <= 0) {
			if (done)
				return 0;
			continue;
		}
		if ((n = read(errfd, buf, sizeof(buf))) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			eof = 1;
			continue;
		}
		/* the first line, printable, is all that is kept */
		for (i = 0; i < n && !full; i++) {
			if (buf[i] == '\n' || o + 1 >= linelen) {
				full = 1;
				break;
			}
			line[o++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] :
			    '?';
		}
		line[o] = '\0';
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	return -1;
}

/* The enhanced status of a permanent exit code (sysexits.h). */
static const char *
exit_status_code(int code)
{
	switch (code) {
	case EX_NOUSER:
		return "5.1.1";		/* RFC 3463 3.2 */
	case EX_NOHOST:
		return "5.1.2";
	case EX_DATAERR:
		return "5.6.0";		/* 3.7 */
	case EX_CANTCREAT:
		return "5.2.0";		/* 3.3 */
	case EX_NOPERM:
		return "5.7.0";		/* 3.8 */
	case EX_PROTOCOL:
		return "5.5.0";
	case EX_CONFIG:
		return "5.3.5";
	}
	return "5.3.0";
}

int
mda_run(const struct mda_job *job, int fd, char *err, size_t errlen)
{
	struct timespec	 deadline;
	char		 cmd[MDA_CMD_MAX], words[MDA_CMD_MAX];
	char		 args[MDA_ARGS_MAX][PATH_MAX];
	char		*argv[MDA_ARGS_MAX + 1], line[MDA_ERR_MAX + 1] = "";
	const char	*why;
	int		 argc, i, in, p[2], status, code;
	pid_t		 pid;

	if (job->shell) {
		/* the user's own line, as sendmail runs a .forward's */
		argv[0] = (char *)"/bin/sh";
		argv[1] = (char *)"-c";
		argv[2] = (char *)job->command;
		argv[3] = NULL;
		argc = 0;
	} else if ((argc = mda_split(job->command, words, sizeof(words), argv,
	    &why)) == -1) {
		snprintf(err, errlen, "5.3.5 mda command: %s", why);
		return MAILDIR_PERMFAIL;
	}
	for (i = 0; i < argc; i++) {
		if (maildir_expand_path(argv[i], job->user, job->rcpt,
		    job->home, args[i], sizeof(args[i])) == -1) {
			snprintf(err, errlen, "5.3.0 mda command: cannot "
			    "expand \"%s\" for this recipient", argv[i]);
			return MAILDIR_PERMFAIL;
		}
		argv[i] = args[i];
	}
	snprintf(cmd, sizeof(cmd), "%s", job->shell ? job->command : argv[0]);
	if ((in = mda_input(job, fd)) == -1) {
		snprintf(err, errlen, "4.3.0 mda %s: the message: %s", cmd,
		    strerror(errno));
		return MAILDIR_TEMPFAIL;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		close(in);
		snprintf(err, errlen, "4.3.0 mda %s: pipe: %s", cmd,
		    strerror(errno));
		return MAILDIR_TEMPFAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += job->timeout;
	if ((pid = fork()) == -1) {
		close(in);
		close(p[0]);
		close(p[1]);
		snprintf(err, errlen, "4.3.0 mda %s: fork: %s", cmd,
		    strerror(errno));
		return MAILDIR_TEMPFAIL;
	}
	if (pid == 0)
		mda_exec(job, argv, in, p[1]);
	close(in);
	close(p[1]);
	if (mda_wait(pid, p[0], &deadline, line, sizeof(line), &status) ==
	    -1) {
		close(p[0]);
		snprintf(err, errlen, "4.3.0 mda %s ran longer than %d "
		    "seconds: killed", cmd, job->timeout);
		return MAILDIR_TEMPFAIL;
	}
	close(p[0]);
	if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "4.3.0 mda %s killed by signal %d%s%s",
		    cmd, WTERMSIG(status), line[0] ? ": " : "", line);
		return MAILDIR_TEMPFAIL;
	}
	code = WEXITSTATUS(status);
	if (code == 0)
		return MAILDIR_OK;
	if (code == EX_TEMPFAIL) {
		snprintf(err, errlen, "4.3.0 mda %s: temporary failure (exit "
		    "75)%s%s", cmd, line[0] ? ": " : "", line);
		return MAILDIR_TEMPFAIL;
	}
	snprintf(err, errlen, "%s mda %s: exit %d%s%s", exit_status_code(code),
	    cmd, code, line[0] ? ": " : "", line);
	return MAILDIR_PERMFAIL;
}

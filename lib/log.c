/*
 * Logging: syslog or stderr, with a process name prefix so that a line says
 * which of postern's processes wrote it.  fatal() and fatalx() log and exit;
 * they are for impossible states and set-up failures only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_to_stderr = 1;
static int	 log_verbose;
static char	 log_procname[32] = "posternd";

void
log_init(int to_stderr, int verbose, int facility)
{
	log_to_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog("postern", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		strlcpy(log_procname, procname, sizeof(log_procname));
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 line[4096];
	int	 saved_errno = errno;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to_stderr)
		fprintf(stderr, "%s[%d]: %s\n", log_procname, (int)getpid(),
		    line);
	else
		syslog(pri, "%s: %s", log_procname, line);
	errno = saved_errno;
}

static void log_errno(int, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
log_errno(int pri, int code, const char *fmt, va_list ap)
{
	char	 msg[4096];

	if (fmt == NULL) {
		snprintf(msg, sizeof(msg), "%s", strerror(code));
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		if (code != 0) {
			size_t	 len = strlen(msg);

			snprintf(msg + len, sizeof(msg) - len, ": %s",
			    strerror(code));
		}
	}
	if (log_to_stderr)
		fprintf(stderr, "%s[%d]: %s\n", log_procname, (int)getpid(),
		    msg);
	else
		syslog(pri, "%s: %s", log_procname, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	log_errno(LOG_ERR, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, saved_errno, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

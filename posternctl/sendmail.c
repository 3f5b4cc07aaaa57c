/*
 * posternctl sendmail (installed also as sendmail): local submission for
 * cron, mail(1), PHP, git send-email and the like, with the flags they
 * use.  It connects to posternd's local submission socket, where control
 * takes our uid with SO_PEERCRED and hands the connection to smtp, and
 * speaks SMTP there (RFC 5321) like any submission client: smtp writes
 * Received, enforces the size limit and the envelope sender (our own
 * address unless we are root or in the control group), authd signs.
 *
 * -bs relays SMTP between standard input/output and that socket; -bp
 * (and mailq) lists the queue in the classic format over the control
 * socket, for root and the control group as posternctl show queue.
 *
 * Exit status per <sysexits.h>, as sendmail(8): 0 sent; EX_USAGE bad
 * flags or no recipients; EX_NOUSER a recipient refused (nothing is
 * sent then); EX_NOPERM the sender refused; EX_DATAERR the message
 * refused (too big, bad line ends); EX_TEMPFAIL posternd not running or
 * a temporary failure (nothing is sent: the caller keeps the message).
 *
 * Deliberately not here: a drop directory for when posternd is down (the
 * caller hears EX_TEMPFAIL and keeps the message, as cron and mail(1) do
 * with a failed sendmail); -q, -bi, -bD and the other daemon modes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "mailhdr.h"
#include "posternctl/posternctl.h"
#include "sendmail_msg.h"
#include "smtp_addr.h"
#include "smtp_reply.h"
#include "util.h"

#define SM_READ_MAX	(1024ULL * 1024 * 1024)	/* without a SIZE */
#define SM_BS_LINGER	5	/* -bs: seconds of silence after our EOF */

struct sm {
	int		 fd;
	int		 verbose;
	char		 in[8192];
	size_t		 inlen;
	struct smtp_reply	 reply;
	char		 hostname[256];		/* the server's, from 220 */
	struct smtp_caps	 caps;
};

struct sm_opts {
	int		 extract;	/* -t */
	int		 dot_ok;	/* -i, -oi */
	int		 bs, bp;
	int		 verbose;
	const char	*from;		/* -f, -r */
	const char	*fullname;	/* -F */
	const char	*body;		/* -B 7BIT|8BITMIME */
	const char	*notify;	/* -N */
	const char	*ret;		/* -R */
	const char	*envid;		/* -V */
	char		**rcpts;
	size_t		 nrcpts;
};

static void	sm_usage(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void	sm_fail(int, const char *, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
static void	sm_cmd(struct sm *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sm_usage(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "sendmail: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: sendmail [-Gimtv] [-B type] [-F name] "
	    "[-f sender] [-N dsn] [-R ret] [-V envid]\n"
	    "                [-o option] [-bm | -bs | -bp] [--] "
	    "[recipient ...]\n");
	exit(EX_USAGE);
}

static void
sm_fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "sendmail: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* --- the connection --- */

static int
sm_connect(const char *ctl_socket)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (conf_sendmail_socket(ctl_socket, sun.sun_path,
	    sizeof(sun.sun_path)) == -1)
		sm_fail(EX_SOFTWARE, "socket path too long for %s", ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		sm_fail(EX_OSERR, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		sm_fail(EX_TEMPFAIL, "cannot reach posternd at %s: %s; is "
		    "posternd running?  The message was not sent", sun.sun_path,
		    strerror(errno));
	return fd;
}

static void
sm_write(struct sm *s, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(s->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			sm_fail(EX_TEMPFAIL, "posternd: %s; the message was not "
			    "sent", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
sm_cmd(struct sm *s, const char *fmt, ...)
{
	char	 line[4096];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		sm_fail(EX_SOFTWARE, "command too long");
	if (s->verbose)
		fprintf(stderr, ">>> %s\n", line);
	memcpy(line + n, "\r\n", 2);
	sm_write(s, line, (size_t)n + 2);
}

/* The next reply, whole; its code. */
static int
sm_reply(struct sm *s)
{
	char			 err[256], *nl;
	size_t			 len;
	ssize_t			 n;
	enum smtp_reply_status	 st;

	smtp_reply_init(&s->reply);
	for (;;) {
		if ((nl = memchr(s->in, '\n', s->inlen)) == NULL) {
			if (s->inlen == sizeof(s->in))
				sm_fail(EX_PROTOCOL, "posternd: reply line too "
				    "long");
			n = read(s->fd, s->in + s->inlen,
			    sizeof(s->in) - s->inlen);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				sm_fail(EX_TEMPFAIL, "posternd closed the "
				    "connection; the message was not sent");
			s->inlen += (size_t)n;
			continue;
		}
		len = (size_t)(nl - s->in);
		if (len > 0 && s->in[len - 1] == '\r')
			len--;
		if (s->verbose)
			fprintf(stderr, "<<< %.*s\n", (int)len, s->in);
		st = smtp_reply_line(&s->reply, s->in, len, err, sizeof(err));
		len = (size_t)(nl - s->in) + 1;
		memmove(s->in, s->in + len, s->inlen - len);
		s->inlen -= len;
		if (st == SMTP_REPLY_ERROR)
			sm_fail(EX_PROTOCOL, "posternd: %s", err);
		/*
		 * One command, one reply: bytes after it answer nothing we
		 * sent, and would be taken for the next command's reply.
		 */
		if (st == SMTP_REPLY_DONE && s->inlen > 0)
			sm_fail(EX_PROTOCOL, "posternd: more than one reply to "
			    "one command");
		if (st == SMTP_REPLY_DONE)
			return s->reply.code;
	}
}

static const char *
sm_reply_str(struct sm *s)
{
	static char	 line[1024];

	smtp_reply_oneline(&s->reply, line, sizeof(line));
	return line;
}

/* A reply's failure as an exit status: 4xx retry, else `perm`. */
static int
sm_status(struct sm *s, int perm)
{
	return s->reply.code >= 400 && s->reply.code < 500 ? EX_TEMPFAIL :
	    perm;
}

/* --- options --- */

/* RFC 3461 4.1: NEVER, or a list of SUCCESS, FAILURE and DELAY. */
static int
notify_valid(const char *v)
{
	static const char	*words[] = { "SUCCESS", "FAILURE", "DELAY" };
	size_t			 n, i;

	if (strcasecmp(v, "NEVER") == 0)
		return 1;
	for (;;) {
		n = strcspn(v, ",");
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) == n &&
			    strncasecmp(v, words[i], n) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return 0;
		if (v[n] == '\0')
			return 1;
		v += n + 1;
	}
}

static int
opt_rcpt(void *arg, const char *addr)
{
	struct sm_opts	*o = arg;

	o->rcpts = xreallocarray(o->rcpts, o->nrcpts + 1, sizeof(char *));
	o->rcpts[o->nrcpts++] = xstrdup(addr);
	return 0;
}

/* The argument of a flag: the rest of the word, or the next word. */
static const char *
opt_arg(int argc, char *argv[], int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		sm_usage("%s needs an argument", argv[*i]);
	return argv[++*i];
}

static void
sm_options(int argc, char *argv[], struct sm_opts *o)
{
	const char	*a, *v;
	char		 why[256];
	int		 i;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		switch (a[1]) {
		case 't':
		case 'i':
		case 'v':
		case 'G':	/* a gateway submission: ours are local */
		case 'U':	/* an initial user submission: they all are */
		case 'm':	/* "me too": no alias expansion drops us */
		case 'n':	/* no aliasing: aliases are the MTA's */
			if (a[2] != '\0')
				sm_usage("unknown option %s", a);
			if (a[1] == 't')
				o->extract = 1;
			else if (a[1] == 'i')
				o->dot_ok = 1;
			else if (a[1] == 'v')
				o->verbose = 1;
			break;
		case 'f':
		case 'r':
			o->from = opt_arg(argc, argv, &i);
			break;
		case 'F':
			o->fullname = opt_arg(argc, argv, &i);
			break;
		case 'B':
			v = opt_arg(argc, argv, &i);
			if (strcasecmp(v, "7BIT") != 0 &&
			    strcasecmp(v, "8BITMIME") != 0)
				sm_usage("-B %s: 7BIT or 8BITMIME", v);
			o->body = v;
			break;
		case 'N':
			o->notify = opt_arg(argc, argv, &i);
			if (!notify_valid(o->notify))
				sm_usage("-N %s: NEVER, or SUCCESS, FAILURE "
				    "and DELAY separated by commas", o->notify);
			break;
		case 'R':
			o->ret = opt_arg(argc, argv, &i);
			if (strcasecmp(o->ret, "full") != 0 &&
			    strcasecmp(o->ret, "hdrs") != 0)
				sm_usage("-R %s: full or hdrs", o->ret);
			break;
		case 'V':
			o->envid = opt_arg(argc, argv, &i);
			break;
		case 'L':	/* a syslog label */
		case 'h':	/* a hop count: Received fields count */
		case 'O':	/* a long option */
			(void)opt_arg(argc, argv, &i);
			break;
		case 'o':
			/*
			 * -oi is -i; -od? (delivery mode) and -oe? (error
			 * mode) are accepted, and as sendmail(8) does with
			 * options it does not know, any other is ignored.
			 */
			v = opt_arg(argc, argv, &i);
			if (strcmp(v, "i") == 0)
				o->dot_ok = 1;
			break;
		case 'b':
			if (strcmp(a, "-bs") == 0)
				o->bs = 1;
			else if (strcmp(a, "-bp") == 0)
				o->bp = 1;
			else if (strcmp(a, "-bm") != 0)
				sm_usage("mode %s is not supported", a);
			break;
		default:
			sm_usage("unknown option %s", a);
		}
	}
	for (; i < argc; i++)
		if (sendmail_address_list(argv[i], strlen(argv[i]), opt_rcpt,
		    o, why, sizeof(why)) == -1)
			sm_usage("%s: %s", argv[i], why);
}

/* --- -bs: SMTP on standard input and output --- */

static int
sm_relay(int sock)
{
	struct pollfd	 pfd[2];
	char		 buf[16384], out[2 * sizeof(buf)];
	ssize_t		 n, w;
	size_t		 i, o;
	int		 in_open = 1, last_cr = 0, half_closed = 0;

	for (;;) {
		pfd[0].fd = in_open ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = sock;
		pfd[1].events = POLLIN;
		/*
		 * After our input ends, the server still answers what was
		 * pipelined (QUIT closes the session): we wait for it, and
		 * only once it has said nothing for SM_BS_LINGER seconds do
		 * we close our side, which ends a session left open.
		 */
		if ((n = poll(pfd, 2, in_open || half_closed ? -1 :
		    SM_BS_LINGER * 1000)) == -1) {
			if (errno == EINTR)
				continue;
			sm_fail(EX_OSERR, "poll: %s", strerror(errno));
		}
		if (n == 0) {
			shutdown(sock, SHUT_WR);
			half_closed = 1;
			continue;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(sock, buf, sizeof(buf))) <= 0)
				return EX_OK;	/* the session is over */
			for (i = 0; i < (size_t)n; i += (size_t)w)
				if ((w = write(STDOUT_FILENO, buf + i,
				    (size_t)n - i)) == -1)
					return EX_IOERR;
		}
		if (in_open && (pfd[0].revents & (POLLIN | POLLHUP |
		    POLLERR))) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0) {
				in_open = 0;
				continue;
			}
			/* a program's bare LF line ends made CRLF */
			for (i = o = 0; i < (size_t)n; i++) {
				if (buf[i] == '\n' && !last_cr)
					out[o++] = '\r';
				out[o++] = buf[i];
				last_cr = buf[i] == '\r';
			}
			for (i = 0; i < o; i += (size_t)w)
				if ((w = write(sock, out + i, o - i)) == -1)
					return EX_TEMPFAIL;
		}
	}
}

/* --- the message --- */

static void
sm_read_input(struct buf *in, uint64_t cap)
{
	char	 chunk[65536];
	ssize_t	 n;

	buf_init(in, (size_t)cap + sizeof(chunk));
	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			sm_fail(EX_IOERR, "standard input: %s", strerror(errno));
		if (n == 0)
			return;
		if (buf_add(in, chunk, (size_t)n) == -1)
			sm_fail(EX_SOFTWARE, "out of memory");
		/* past the server's limit: it refuses, we need no more */
		if (in->len > cap)
			return;
	}
}

/* "Full Name" as an RFC 5322 3.2.5 quoted phrase, or "" if not ASCII. */
static void
sm_phrase(const char *name, char *out, size_t len)
{
	size_t	 i, o = 0;

	out[0] = '\0';
	if (name == NULL || *name == '\0' || len < 3)
		return;
	out[o++] = '"';
	for (i = 0; name[i] != '\0' && o + 4 < len; i++) {
		if (name[i] < 0x20 || name[i] > 0x7e) {
			out[0] = '\0';
			return;
		}
		if (name[i] == '"' || name[i] == '\\')
			out[o++] = '\\';
		out[o++] = name[i];
	}
	out[o++] = '"';
	out[o++] = ' ';
	out[o] = '\0';
}

/* An address without a domain is the server's host's: user@hostname. */
static char *
sm_qualify(const char *addr, const char *host)
{
	char	*q;

	if (*addr == '\0' || strchr(addr, '@') != NULL)
		return xstrdup(addr);
	if (asprintf(&q, "%s@%s", addr, host) == -1)
		sm_fail(EX_SOFTWARE, "out of memory");
	return q;
}

static int
sm_listed(char *const *list, size_t n, const char *addr)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], addr) == 0)
			return 1;
	return 0;
}

static int
sm_has_utf8(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 127)
			return 1;
	return 0;
}

/*
 * Drop root before the message is read: posternd took our uid when we
 * connected (SO_PEERCRED), and parsing what we are given needs none.
 */
static void
sm_drop_root(void)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam("nobody")) == NULL)
		sm_fail(EX_OSERR, "no user nobody to run as");
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		sm_fail(EX_OSERR, "dropping privileges: %s", strerror(errno));
}

static int
sm_send(struct sm *s, struct sm_opts *o, const char *user,
    const char *gecos)
{
	struct sendmail_msg	 m;
	struct smtp_dotstuff	 ds;
	struct buf		 in, wire, fields, param, stuffed;
	char			 why[256], date[64], phrase[512];
	char			*sender, *addr, **rcpts;
	size_t			 len, i, n, nrcpts;
	uint64_t		 cap;
	int			 code, utf8 = 0, refused = 0, rv;

	buf_init(&stuffed, SIZE_MAX);
	cap = s->caps.size_max > 0 ? s->caps.size_max : SM_READ_MAX;
	sm_read_input(&in, cap);
	len = o->dot_ok ? in.len : sendmail_dot_end((const char *)in.data,
	    in.len);
	if (sendmail_msg_parse(&m, (const char *)in.data, len, o->extract,
	    why, sizeof(why)) == -1)
		sm_fail(EX_DATAERR, "%s", why);

	/* recipients: the arguments, then with -t the header's */
	nrcpts = o->nrcpts + m.nrcpts;
	if (nrcpts == 0)
		sm_fail(EX_USAGE, "no recipients: name them as arguments or "
		    "in To, Cc or Bcc with -t");
	rcpts = xcalloc(nrcpts, sizeof(char *));
	for (i = n = 0; i < nrcpts; i++) {
		addr = sm_qualify(i < o->nrcpts ? o->rcpts[i] :
		    m.rcpts[i - o->nrcpts], s->hostname);
		if (sm_listed(rcpts, n, addr)) {
			free(addr);	/* named twice, sent once */
			continue;
		}
		/* checked whole: a CR or LF must not reach the dialogue */
		if (!smtp_addr_valid(addr, SMTP_ADDR_UTF8_OK))
			sm_fail(EX_USAGE, "<%s>: not a valid address", addr);
		utf8 |= sm_has_utf8(addr);
		rcpts[n++] = addr;
	}
	nrcpts = n;
	if (o->from != NULL && (strcmp(o->from, "<>") == 0 ||
	    *o->from == '\0'))
		sender = xstrdup("");
	else if (o->from != NULL && o->from[0] == '<' &&
	    (n = strlen(o->from)) > 2 && o->from[n - 1] == '>') {
		/* -f "<user@host>", as some programs write it */
		addr = xstrdup(o->from + 1);
		addr[n - 2] = '\0';
		sender = sm_qualify(addr, s->hostname);
		free(addr);
	} else
		sender = sm_qualify(o->from != NULL ? o->from : user,
		    s->hostname);
	if (!smtp_addr_valid(sender, SMTP_PATH_NULL_OK | SMTP_ADDR_UTF8_OK))
		sm_fail(EX_USAGE, "-f <%s>: not a valid address", sender);
	utf8 |= sm_has_utf8(sender);

	/* RFC 5322 3.6: Date and From are required; Message-ID SHOULD be */
	buf_init(&fields, 4096);
	if (!m.has_date) {
		mail_date(time(NULL), date, sizeof(date));
		buf_printf(&fields, "Date: %s\r\n", date);
	}
	if (!m.has_from) {
		sm_phrase(o->fullname != NULL ? o->fullname : gecos, phrase,
		    sizeof(phrase));
		addr = sm_qualify(*sender != '\0' ? sender : user,
		    s->hostname);
		buf_printf(&fields, "From: %s<%s>\r\n", phrase, addr);
		free(addr);
	}
	if (!m.has_msgid)
		buf_printf(&fields, "Message-ID: <%lld.%ld.%08x@%s>\r\n",
		    (long long)time(NULL), (long)getpid(), arc4random(),
		    s->hostname);

	buf_init(&wire, SIZE_MAX);
	if (buf_add(&wire, fields.data, fields.len) == -1 ||
	    buf_add(&wire, m.header.data, m.header.len) == -1 ||
	    buf_add(&wire, "\r\n", 2) == -1 ||
	    sendmail_crlf(&wire, (const char *)in.data + m.body_off,
	    len - m.body_off) == -1)
		sm_fail(EX_SOFTWARE, "out of memory");

	buf_init(&param, 4096);
	buf_printf(&param, " SIZE=%zu", wire.len);
	if ((o->body != NULL && strcasecmp(o->body, "8BITMIME") == 0) ||
	    (m.eight_bit && (s->caps.flags & SMTP_CAP_8BITMIME)))
		buf_printf(&param, " BODY=8BITMIME");
	/* RFC 6531 3.4: UTF-8 in an address or the header section */
	for (i = 0; i < m.header.len && !utf8; i++)
		utf8 = m.header.data[i] > 127;
	if (utf8 && (s->caps.flags & SMTP_CAP_SMTPUTF8))
		buf_printf(&param, " SMTPUTF8");
	if (o->ret != NULL)
		buf_printf(&param, " RET=%s", o->ret);
	if (o->envid != NULL) {
		buf_printf(&param, " ENVID=");
		smtp_xtext_encode(o->envid, &param);
	}
	sm_cmd(s, "MAIL FROM:<%s>%.*s", sender, (int)param.len, param.data);
	if ((code = sm_reply(s)) != 250) {
		fprintf(stderr, "sendmail: sender <%s> refused: %s\n", sender,
		    sm_reply_str(s));
		/* 552: too big; 553 and 550: not ours to use; else bad */
		rv = sm_status(s, code == 553 || code == 550 ? EX_NOPERM :
		    EX_DATAERR);
		goto done;
	}
	for (i = 0; i < nrcpts; i++) {
		if (o->notify != NULL)
			sm_cmd(s, "RCPT TO:<%s> NOTIFY=%s", rcpts[i],
			    o->notify);
		else
			sm_cmd(s, "RCPT TO:<%s>", rcpts[i]);
		if ((code = sm_reply(s)) / 100 == 2)
			continue;
		fprintf(stderr, "sendmail: recipient <%s> refused: %s\n",
		    rcpts[i], sm_reply_str(s));
		if (code / 100 == 4 && refused != EX_NOUSER)
			refused = EX_TEMPFAIL;
		else if (code / 100 != 4)
			refused = EX_NOUSER;
	}
	if (refused) {
		/* all or nothing: the caller can fix and resend safely */
		fprintf(stderr, "sendmail: the message was not sent\n");
		sm_cmd(s, "QUIT");
		rv = refused;
		goto done;
	}
	sm_cmd(s, "DATA");
	if ((code = sm_reply(s)) != 354) {
		fprintf(stderr, "sendmail: DATA refused: %s\n",
		    sm_reply_str(s));
		rv = sm_status(s, EX_UNAVAILABLE);
		goto done;
	}
	/* RFC 5321 4.5.2: dot-stuffing is the client's */
	smtp_dotstuff_init(&ds);
	for (i = 0; i < wire.len; i += n) {
		n = wire.len - i > 65536 ? 65536 : wire.len - i;
		buf_reset(&stuffed);
		if (smtp_dotstuff(&ds, wire.data + i, n, &stuffed) == -1)
			sm_fail(EX_SOFTWARE, "out of memory");
		sm_write(s, stuffed.data, stuffed.len);
	}
	buf_reset(&stuffed);
	smtp_dotstuff_end(&ds, &stuffed);
	sm_write(s, stuffed.data, stuffed.len);
	if (s->verbose)
		fprintf(stderr, ">>> (%zu bytes of message)\n>>> .\n",
		    wire.len);
	if ((code = sm_reply(s)) != 250) {
		fprintf(stderr, "sendmail: message refused: %s\n",
		    sm_reply_str(s));
		rv = sm_status(s, EX_DATAERR);
		goto done;
	}
	if (s->verbose)
		fprintf(stderr, "sendmail: sent: %s\n", sm_reply_str(s));
	sm_cmd(s, "QUIT");
	(void)sm_reply(s);
	rv = EX_OK;
done:
	for (i = 0; i < nrcpts; i++)
		free(rcpts[i]);
	free(rcpts);
	free(sender);
	buf_free(&stuffed);
	buf_free(&param);
	buf_free(&wire);
	buf_free(&fields);
	buf_free(&in);
	sendmail_msg_free(&m);
	return rv;
}

int
sendmail_main(int argc, char *argv[], const char *ctl_socket)
{
	struct sm_opts	 o;
	struct sm	 s;
	struct passwd	*pw;
	char		 user[256], gecos[256];
	const char	*t;
	size_t		 n;
	int		 rv;

	memset(&o, 0, sizeof(o));
	sm_options(argc, argv, &o);
	if (o.bp)
		return mailq_main();
	signal(SIGPIPE, SIG_IGN);
	if ((pw = getpwuid(getuid())) == NULL)
		sm_fail(EX_NOUSER, "uid %u has no name in the password "
		    "database", (unsigned)getuid());
	strlcpy(user, pw->pw_name, sizeof(user));
	/* the full name: the first comma-separated part of the GECOS */
	strlcpy(gecos, pw->pw_gecos != NULL ? pw->pw_gecos : "",
	    sizeof(gecos));
	gecos[strcspn(gecos, ",")] = '\0';

	memset(&s, 0, sizeof(s));
	s.verbose = o.verbose;
	s.fd = sm_connect(ctl_socket);
	sm_drop_root();
	if (o.bs)
		return sm_relay(s.fd);

	if (sm_reply(&s) != 220)
		sm_fail(sm_status(&s, EX_UNAVAILABLE), "posternd: %s",
		    sm_reply_str(&s));
	/* the greeting names the host: our address is user@host */
	t = smtp_reply_text(&s.reply, 0);
	n = strcspn(t, " ");
	if (n == 0 || n >= sizeof(s.hostname))
		sm_fail(EX_PROTOCOL, "posternd: no host name in the greeting");
	memcpy(s.hostname, t, n);
	s.hostname[n] = '\0';
	sm_cmd(&s, "EHLO localhost");
	if (sm_reply(&s) != 250)
		sm_fail(sm_status(&s, EX_UNAVAILABLE), "posternd: %s",
		    sm_reply_str(&s));
	smtp_caps_parse(&s.reply, &s.caps);
	rv = sm_send(&s, &o, user, gecos);
	close(s.fd);
	for (n = 0; n < o.nrcpts; n++)
		free(o.rcpts[n]);
	free(o.rcpts);
	return rv;
}

/*
 * SMTP load generator for `make bench`: N concurrent sessions, each one
 * thread with a blocking socket, send messages of S octets to one
 * recipient, one transaction after another over the same connection, for a
 * fixed time or a fixed count.  MAIL, RCPT and DATA go in one write when
 * the server offers PIPELINING (RFC 2920 3.1), else one by one.  A message
 * counts as accepted only when its final 250 reply arrives (RFC 5321
 * 4.1.1.4): for a durable server that is the point at which the message is
 * queued.
 *
 * Deliberately not a conformance client: no TLS, no AUTH, no reply-text
 * checks beyond the code.  C rather than Python so that the client is not
 * the bottleneck at thousands of messages per second.
 *
 * usage: smtp_load [-c sessions] [-s size] [-t seconds | -m messages]
 *	  [-f from] [-r rcpt] [-e ehlo] [-b addr,...] [-F file]... host port
 *
 * -b: session i connects from the i-th source address, cyclically (any
 * 127.0.0.0/8 address is local on Linux), so that per-address work in the
 * server (SPF, iprev) sees several clients.
 * -F: instead of the generated message, send the file's bytes as they are
 * (a whole message with its header, CRLF line ends, e.g. DKIM-signed once
 * beforehand); given several times, session i sends file i cyclically.
 * Prints one line:
 *	accepted A failed F sessions C size S seconds T msgs_per_sec R
 * and exits non-zero if nothing was accepted.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN	1024	/* RFC 5321 4.5.3.1.5: reply line is 512 */
#define MAX_SESSIONS	1000
#define MAX_SOURCES	64
#define MAX_FILES	64
#define REPLY_TIMEOUT	5	/* seconds */

struct session {
	pthread_t	 thread;
	int		 fd;
	char		 buf[8192];
	size_t		 len;		/* bytes held in buf */
	size_t		 off;		/* next unread byte in buf */
	int		 pipelining;
	unsigned long	 accepted;
	unsigned long	 failed;
	double		 last;		/* when the last 250 came */
	int		 index;		/* picks the source and the file */
};

/* A message to send as is: dot-stuffed, ending CRLF.CRLF. */
struct msgfile {
	char		*data;
	size_t		 len;
};

static struct sockaddr_in	 server;
static const char		*from = "bench@bench.test";
static const char		*rcpt = "postern-bench@localhost";
static const char		*helo = "load.bench.test";
static struct in_addr		 sources[MAX_SOURCES];
static int			 nsources;
static struct msgfile		 files[MAX_FILES];
static int			 nfiles;
static char			*body;		/* dot-stuffed, ends CRLF.CRLF */
static size_t			 bodylen;
static double			 deadline;	/* 0: count mode */
static atomic_long		 remaining;	/* messages left in count mode */
static atomic_ulong		 serial;
static atomic_int		 reported;

static double
now_sec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first unexpected reply goes to stderr, once, to explain failures. */
static void
report_once(const char *what, const char *line)
{
	int	 zero = 0;

	if (atomic_compare_exchange_strong(&reported, &zero, 1))
		fprintf(stderr, "smtp_load: %s: %s\n", what, line);
}

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* One line into `line` (CRLF stripped, bounded); -1 on EOF or error. */
static int
read_line(struct session *s, char *line, size_t linesz)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		if (s->off == s->len) {
			r = recv(s->fd, s->buf, sizeof(s->buf), 0);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			s->len = r;
			s->off = 0;
		}
		c = s->buf[s->off++];
		if (c == '\n')
			break;
		if (c != '\r' && n + 1 < linesz)
			line[n++] = c;
	}
	line[n] = '\0';
	return 0;
}

/*
 * One whole reply (RFC 5321 4.2.1: "NNN-" continues, "NNN " ends); returns
 * its code, or -1 if the connection broke.  `ehlo` notes PIPELINING.
 */
static int
read_reply(struct session *s, char *last, size_t lastsz, int ehlo)
{
	char	 line[LINE_MAX_LEN];

	for (;;) {
		if (read_line(s, line, sizeof(line)) == -1)
			return -1;
		if (strlen(line) < 3)
			return 0;
		if (ehlo && strlen(line) >= 14 &&
		    strncasecmp(line + 4, "PIPELINING", 10) == 0)
			s->pipelining = 1;
		if (line[3] != '-')
			break;
	}
	strlcpy(last, line, lastsz);
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static int
expect(struct session *s, int want, const char *what)
{
	char	 line[LINE_MAX_LEN];
	int	 code;

	if ((code = read_reply(s, line, sizeof(line), 0)) == want)
		return 0;
	report_once(what, code == -1 ? "connection lost" : line);
	return code == -1 ? -1 : 1;
}

static int
session_open(struct session *s)
{
	char		 line[LINE_MAX_LEN];
	struct timeval	 tv = { REPLY_TIMEOUT, 0 };
	struct sockaddr_in src;
	int		 one = 1, n;

	s->len = s->off = 0;
	s->pipelining = 0;
	if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/*
	 * A server that leaves a connection in its listen queue, or stops
	 * answering, must not hang the bench: a reply later than this is a
	 * failure and the session starts over.
	 */
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (nsources > 0) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr = sources[s->index % nsources];
		if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			report_once("bind", strerror(errno));
			goto fail;
		}
	}
	if (connect(s->fd, (struct sockaddr *)&server, sizeof(server)) == -1) {
		report_once("connect", strerror(errno));
		goto fail;
	}
	if (expect(s, 220, "greeting") != 0)
		goto fail;
	n = snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
	if (send_all(s->fd, line, n) == -1)
		goto fail;
	if (read_reply(s, line, sizeof(line), 1) != 250) {
		report_once("EHLO", line);
		goto fail;
	}
	return 0;
fail:
	close(s->fd);
	s->fd = -1;
	return -1;
}

static int
more(void)
{
	if (deadline > 0)
		return now_sec() < deadline;
	return atomic_fetch_sub(&remaining, 1) > 0;
}

/*
 * After a refusal the session starts over on a new connection, as an MTA
 * would: a server may refuse because the session reached its limit of
 * messages (OpenSMTPD: 100), and RSET would not lift that.
 */
static int
refused(struct session *s, int r)
{
	if (r != -1 && send_all(s->fd, "QUIT\r\n", 6) == 0)
		expect(s, 221, "QUIT");
	return -1;
}

/* One transaction; 0 accepted, 1 refused (session usable), -1 broken. */
static int
transaction(struct session *s)
{
	static const char	*verbs[] = { "MAIL", "RCPT", "DATA" };
	char			 cmd[3][600], head[256];
	size_t			 i;
	int			 r, r2, r3, hl;

	snprintf(cmd[0], sizeof(cmd[0]), "MAIL FROM:<%s>\r\n", from);
	snprintf(cmd[1], sizeof(cmd[1]), "RCPT TO:<%s>\r\n", rcpt);
	snprintf(cmd[2], sizeof(cmd[2]), "DATA\r\n");
	if (s->pipelining) {
		char	 all[sizeof(cmd)];

		snprintf(all, sizeof(all), "%s%s%s", cmd[0], cmd[1], cmd[2]);
		if (send_all(s->fd, all, strlen(all)) == -1)
			return -1;
		/* RFC 2920 3.1: every reply comes back, in order. */
		if ((r = expect(s, 250, "MAIL")) == -1 ||
		    (r2 = expect(s, 250, "RCPT")) == -1)
			return -1;
		if ((r3 = expect(s, 354, "DATA")) != 0)
			return refused(s, r3);
		/* A server that says 354 after refusing MAIL or RCPT. */
		if (r != 0 || r2 != 0) {
			if (send_all(s->fd, ".\r\n", 3) == -1 ||
			    read_reply(s, head, sizeof(head), 0) == -1)
				return -1;
			return refused(s, 1);
		}
	} else {
		for (i = 0; i < 3; i++) {
			if (send_all(s->fd, cmd[i], strlen(cmd[i])) == -1)
				return -1;
			if ((r = expect(s, i < 2 ? 250 : 354,
			    verbs[i])) != 0)
				return refused(s, r);
		}
	}
	if (nfiles > 0) {
		struct msgfile	*m = &files[s->index % nfiles];

		if (send_all(s->fd, m->data, m->len) == -1)
			return -1;
		return expect(s, 250, "end of DATA");
	}
	hl = snprintf(head, sizeof(head), "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: bench\r\nMessage-ID: <%lu.%ld@load.bench.test>\r\n",
	    from, rcpt, atomic_fetch_add(&serial, 1), (long)getpid());
	if (send_all(s->fd, head, hl) == -1 ||
	    send_all(s->fd, body, bodylen) == -1)
		return -1;
	return expect(s, 250, "end of DATA");
}

static void *
session_run(void *arg)
{
	struct session	*s = arg;
	int		 r;

	s->fd = -1;
	while (more()) {
		if (s->fd == -1 && session_open(s) == -1) {
			s->failed++;
			usleep(10000);
			continue;
		}
		if ((r = transaction(s)) == 0) {
			s->accepted++;
			s->last = now_sec();
		} else {
			s->failed++;
			close(s->fd);
			s->fd = -1;
		}
	}
	if (s->fd != -1) {
		if (send_all(s->fd, "QUIT\r\n", 6) == 0)
			expect(s, 221, "QUIT");
		close(s->fd);
	}
	return NULL;
}

/* A body of about `size` octets with the headers, in 78-octet lines. */
static void
make_body(size_t size)
{
	static const char	 line[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstu";
	size_t			 n = 160, ll = sizeof(line) - 1;

	if ((body = malloc(size + ll + 8)) == NULL)
		err(1, NULL);
	memcpy(body, "\r\n", 2);
	bodylen = 2;
	while (n + bodylen < size) {
		memcpy(body + bodylen, line, ll);
		bodylen += ll;
		memcpy(body + bodylen, "\r\n", 2);
		bodylen += 2;
	}
	memcpy(body + bodylen, ".\r\n", 3);
	bodylen += 3;
}

/*
 * A whole message from a file, made ready to send: bare LF become CRLF, a
 * leading dot is doubled (RFC 5321 4.5.2), and CRLF.CRLF ends it.
 */
static void
load_file(const char *path, struct msgfile *m)
{
	FILE	*f;
	char	*raw = NULL;
	size_t	 rawsz = 0, i, n;
	int	 bol = 1;

	if ((f = fopen(path, "rb")) == NULL)
		err(2, "%s", path);
	if (getdelim(&raw, &rawsz, '\0', f) == -1 && ferror(f))
		err(2, "%s", path);
	n = raw == NULL ? 0 : strlen(raw);
	fclose(f);
	if ((m->data = malloc(2 * n + 8)) == NULL)
		err(1, NULL);
	m->len = 0;
	for (i = 0; i < n; i++) {
		if (bol && raw[i] == '.')
			m->data[m->len++] = '.';
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			m->data[m->len++] = '\r';
		m->data[m->len++] = raw[i];
		bol = raw[i] == '\n';
	}
	if (!bol) {
		memcpy(m->data + m->len, "\r\n", 2);
		m->len += 2;
	}
	memcpy(m->data + m->len, ".\r\n", 3);
	m->len += 3;
	free(raw);
}

/* A comma-separated list of IPv4 source addresses. */
static void
parse_sources(char *list)
{
	char	*a;

	while ((a = strsep(&list, ",")) != NULL) {
		if (nsources == MAX_SOURCES)
			errx(2, "more than %d source addresses", MAX_SOURCES);
		if (inet_pton(AF_INET, a, &sources[nsources++]) != 1)
			errx(2, "source %s: not an IPv4 address", a);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp_load [-c sessions] [-s size] "
	    "[-t seconds | -m messages] [-f from] [-r rcpt] [-e ehlo]\n"
	    "\t[-b addr,...] [-F file]... host port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct session	*ss;
	const char	*errstr;
	double		 t0, secs, limit = 10;
	unsigned long	 acc = 0, fail = 0;
	double		 last = 0;
	long long	 count = 0;
	size_t		 size = 4096;
	int		 ch, i, nsess = 20;

	while ((ch = getopt(argc, argv, "b:c:e:F:f:m:r:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			parse_sources(optarg);
			break;
		case 'e':
			helo = optarg;
			break;
		case 'F':
			if (nfiles == MAX_FILES)
				errx(2, "more than %d files", MAX_FILES);
			load_file(optarg, &files[nfiles++]);
			break;
		case 'c':
			nsess = strtonum(optarg, 1, MAX_SESSIONS, &errstr);
			if (errstr != NULL)
				errx(2, "sessions %s: %s", optarg, errstr);
			break;
		case 'f':
			from = optarg;
			break;
		case 'm':
			count = strtonum(optarg, 1, 100000000, &errstr);
			if (errstr != NULL)
				errx(2, "messages %s: %s", optarg, errstr);
			break;
		case 'r':
			rcpt = optarg;
			break;
		case 's':
			size = strtonum(optarg, 200, 64 * 1024 * 1024, &errstr);
			if (errstr != NULL)
				errx(2, "size %s: %s", optarg, errstr);
			break;
		case 't':
			limit = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(2, "seconds %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || strlen(from) > 500 || strlen(rcpt) > 500 ||
	    strlen(helo) > 500)
		usage();
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[0], &server.sin_addr) != 1)
		errx(2, "host %s: not an IPv4 address", argv[0]);
	server.sin_port = htons(strtonum(argv[1], 1, 65535, &errstr));
	if (errstr != NULL)
		errx(2, "port %s: %s", argv[1], errstr);
	make_body(size);

	if ((ss = calloc(nsess, sizeof(*ss))) == NULL)
		err(1, NULL);
	t0 = now_sec();
	if (count > 0)
		atomic_store(&remaining, count);
	else
		deadline = t0 + limit;
	for (i = 0; i < nsess; i++)
		ss[i].index = i;
	for (i = 0; i < nsess; i++)
		if ((errno = pthread_create(&ss[i].thread, NULL, session_run,
		    &ss[i])) != 0)
			err(1, "pthread_create");
	for (i = 0; i < nsess; i++) {
		pthread_join(ss[i].thread, NULL);
		acc += ss[i].accepted;
		fail += ss[i].failed;
		if (ss[i].last > last)
			last = ss[i].last;
	}
	/*
	 * The rate is over the time until the last acceptance: a session
	 * still waiting at the end for a server that no longer answers
	 * must not count against the messages that were accepted.
	 */
	secs = (last > t0 ? last : now_sec()) - t0;
	printf("accepted %lu failed %lu sessions %d size %zu seconds %.3f "
	    "msgs_per_sec %.1f\n", acc, fail, nsess, size, secs, acc / secs);
	free(ss);
	free(body);
	for (i = 0; i < nfiles; i++)
		free(files[i].data);
	return acc > 0 ? 0 : 1;
}

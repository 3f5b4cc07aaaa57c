/*
 * What the offline commands that read a message share (check dkim, check
 * arc, dkim sign, arc seal): the DNS source their options name, the
 * message on standard input, the private key, new header fields written
 * before the message, and the authserv-id of the field they print.  Each
 * helper reports its own failure on standard error, after the command's
 * name, so that every command words the same failure the same way.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "dns.h"
#include "posternctl/posternctl.h"
#include "util.h"

/*
 * --dns-zone FILE, --resolver ADDR[@PORT] with --trust-anchor FILE, or the
 * system resolver when neither is given.
 */
struct dns_ctx *
offline_dns(const char *prog, const char *zone, const char *resolver,
    const char *ta)
{
	struct dns_ctx	*dns;
	char		 err[512];

	if (zone != NULL && resolver != NULL) {
		fprintf(stderr, "%s: --dns-zone and --resolver are "
		    "exclusive\n", prog);
		return NULL;
	}
	if (ta != NULL && resolver == NULL) {
		fprintf(stderr, "%s: --trust-anchor needs --resolver\n", prog);
		return NULL;
	}
	if (zone != NULL)
		dns = dns_ctx_zone(NULL, zone, err, sizeof(err));
	else if (resolver != NULL)
		dns = dns_ctx_resolver(NULL, resolver, ta, err, sizeof(err));
	else
		dns = dns_ctx_system(NULL, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NULL;
	}
	if (resolver != NULL)
		dns_ctx_set_timeout(dns, 5000);
	return dns;
}

/*
 * Standard input, chunk by chunk through feed (so a verifier never needs
 * the whole message in memory) and into keep as well if the command must
 * write the message out again.  At most OFFLINE_MAX_MESSAGE bytes.
 */
int
offline_read_message(const char *prog, struct buf *keep,
    void (*feed)(void *, const void *, size_t), void *arg, size_t *total)
{
	char	 chunk[65536];
	ssize_t	 got;

	*total = 0;
	for (;;) {
		got = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			fprintf(stderr, "%s: standard input: %s\n", prog,
			    strerror(errno));
			return -1;
		}
		if (got == 0)
			return 0;
		*total += (size_t)got;
		if (*total > OFFLINE_MAX_MESSAGE || (keep != NULL &&
		    buf_add(keep, chunk, (size_t)got) == -1)) {
			fprintf(stderr, "%s: message larger than %d bytes\n",
			    prog, OFFLINE_MAX_MESSAGE);
			return -1;
		}
		feed(arg, chunk, (size_t)got);
	}
}

EVP_PKEY *
offline_private_key(const char *prog, const char *keyfile)
{
	EVP_PKEY	*pk;
	char		 err[512];
	int		 fd;

	if ((fd = open(keyfile, O_RDONLY)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", prog, keyfile,
		    strerror(errno));
		return NULL;
	}
	pk = crypto_privkey_fd(fd, err, sizeof(err));
	close(fd);
	if (pk == NULL)
		fprintf(stderr, "%s: %s: %s\n", prog, keyfile, err);
	return pk;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char	*b = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is the first line of msg ended by a bare LF (a file, not the wire)? */
static int
lf_line_ends(const struct buf *msg)
{
	size_t	 i;

	for (i = 0; i < msg->len && msg->data[i] != '\n'; i++)
		;
	return i < msg->len && (i == 0 || msg->data[i - 1] != '\r');
}

/*
 * The new fields (CRLF line ends, as signed), then the message, on
 * standard output.  A file with bare LF line ends gets the new fields the
 * same way, so that the output is one consistent file.
 */
int
offline_write_prepended(const char *prog, struct buf *fields,
    const struct buf *msg)
{
	size_t	 j, k;

	if (lf_line_ends(msg)) {
		for (j = k = 0; j < fields->len; j++)
			if (!(fields->data[j] == '\r' && j + 1 < fields->len &&
			    fields->data[j + 1] == '\n'))
				fields->data[k++] = fields->data[j];
		fields->len = k;
	}
	if (write_all(STDOUT_FILENO, fields->data, fields->len) == -1 ||
	    (msg->len > 0 && write_all(STDOUT_FILENO, msg->data,
	    msg->len) == -1)) {
		fprintf(stderr, "%s: standard output: %s\n", prog,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* --authserv-id if given, else this host's name, else "localhost". */
void
offline_authserv_id(const char *authserv, char *host, size_t hostlen)
{
	if (authserv != NULL)
		strlcpy(host, authserv, hostlen);
	else if (gethostname(host, hostlen) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", hostlen);
	host[hostlen - 1] = '\0';
}

/* -t or --time: seconds since the epoch, to use instead of now. */
int
offline_parse_time(const char *prog, const char *opt, const char *arg,
    time_t *t)
{
	const char	*errstr;

	*t = (time_t)strtonum(arg, 1, 1LL << 40, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, opt, arg, errstr);
		return -1;
	}
	return 0;
}

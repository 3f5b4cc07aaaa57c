/*
 * The password hash outside authd's event loop (issue 18).  crypt(3) with
 * yescrypt or a many-rounds sha512crypt takes tens to hundreds of
 * milliseconds, and a guesser makes many attempts: inline, each would
 * stall SPF, DKIM and DMARC for every message authd is evaluating.
 *
 * authd forks one helper when it starts (already chrooted, unprivileged,
 * with nothing to read but its end of a socketpair).  Each request is one
 * SOCK_SEQPACKET datagram: an id, the password and the hash; each answer
 * one datagram with the id and whether the hash matched.  The helper runs
 * the checks one at a time, in order; authd goes on with its loop and
 * hears the answer through an event on the socket.  The password is
 * wiped from every buffer that held it once it has been used.
 *
 * The helper runs under its own seccomp filter and limits
 * (sandbox_crypt_helper(), posternd/sandbox.c): it may read and write its
 * socket, use memory and exit, nothing else; no fork, no file, no new
 * descriptor, no core.
 *
 * Fail-stop: when the helper dies, authd stops (and with it the daemon);
 * when authd dies, the helper reads the end of its socket and exits.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "authd/crypt_helper.h"
#include "log.h"
#include "posternd/proc.h"
#include "util.h"

struct crypt_request {
	uint32_t	 id;
	char		 password[CRYPT_HELPER_PASS_MAX + 1];
	char		 hash[CRYPT_OUTPUT_SIZE];
};

struct crypt_answer {
	uint32_t	 id;
	uint32_t	 result;	/* enum crypt_helper_result */
};

struct crypt_helper {
	int			 fd;
	pid_t			 pid;
	struct event		 ev;
	unsigned int		 inflight;
	crypt_helper_done	 done;
	void			*arg;
};

static enum crypt_helper_result
crypt_helper_compare(struct crypt_data *cd, const char *password,
    const char *hash)
{
	const char	*out;
	size_t		 hlen = strlen(hash);

	memset(cd, 0, sizeof(*cd));
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	if (out == NULL || out[0] == '*')
		return CRYPT_BAD_HASH;
	if (strlen(out) == hlen && CRYPTO_memcmp(out, hash, hlen) == 0)
		return CRYPT_MATCH;
	return CRYPT_NOMATCH;
}

/* The helper's whole life: a request, a crypt, an answer. */
static void __attribute__((noreturn))
crypt_helper_main(int fd)
{
	struct crypt_request	 rq;
	struct crypt_answer	 an;
	struct crypt_data	*cd;
	ssize_t			 n;

	cd = xcalloc(1, sizeof(*cd));
	for (;;) {
		n = recv(fd, &rq, sizeof(rq), 0);
		if (n == 0)
			_exit(0);	/* authd is gone */
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(rq))
			_exit(1);
		rq.password[sizeof(rq.password) - 1] = '\0';
		rq.hash[sizeof(rq.hash) - 1] = '\0';
		memset(&an, 0, sizeof(an));
		an.id = rq.id;
		an.result = crypt_helper_compare(cd, rq.password, rq.hash);
		explicit_bzero(&rq, sizeof(rq));
		explicit_bzero(cd, sizeof(*cd));
		if (send(fd, &an, sizeof(an), 0) != (ssize_t)sizeof(an))
			_exit(1);
	}
}

static void
crypt_helper_read(int fd, short event, void *arg)
{
	struct crypt_helper	*h = arg;
	struct crypt_answer	 an;
	ssize_t			 n;

	for (;;) {
		n = recv(fd, &an, sizeof(an), MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0 || n == -1)
			fatalx("authd: the crypt helper (pid %ld) is gone",
			    (long)h->pid);
		if (n != (ssize_t)sizeof(an) || an.result > CRYPT_BAD_HASH ||
		    h->inflight == 0)
			fatalx("authd: the crypt helper's answer is invalid");
		h->inflight--;
		h->done(h->arg, an.id, an.result);
	}
}

struct crypt_helper *
crypt_helper_start(crypt_helper_done done, void *arg)
{
	struct crypt_helper	*h;
	int			 sp[2], fd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("crypt helper: socketpair");
	h = xcalloc(1, sizeof(*h));
	h->done = done;
	h->arg = arg;
	switch (h->pid = fork()) {
	case -1:
		fatal("crypt helper: fork");
	case 0:
		/* nothing of authd's but stderr for the log, and its end */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		if ((fd = dup2(sp[1], STDERR_FILENO + 1)) == -1)
			fatal("crypt helper: dup2");
		sandbox_crypt_helper(fd);
		crypt_helper_main(fd);
	}
	close(sp[1]);
	h->fd = sp[0];
	event_set(&h->ev, h->fd, EV_READ | EV_PERSIST, crypt_helper_read, h);
	event_add(&h->ev, NULL);
	return h;
}

int
crypt_helper_check(struct crypt_helper *h, uint32_t id, const char *password,
    const char *hash)
{
	struct crypt_request	*rq;
	ssize_t			 n;

	if (h->inflight >= CRYPT_HELPER_INFLIGHT)
		return -1;
	rq = xcalloc(1, sizeof(*rq));
	rq->id = id;
	strlcpy(rq->password, password, sizeof(rq->password));
	strlcpy(rq->hash, hash, sizeof(rq->hash));
	/* a few requests at most are queued: the socket buffer holds them */
	n = send(h->fd, rq, sizeof(*rq), MSG_DONTWAIT);
	explicit_bzero(rq, sizeof(*rq));
	free(rq);
	if (n != (ssize_t)sizeof(*rq)) {
		log_warn("authd: crypt helper: send");
		return -1;
	}
	h->inflight++;
	return 0;
}

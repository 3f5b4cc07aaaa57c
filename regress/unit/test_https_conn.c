/*
 * lib/https_conn.c: one HTTPS exchange on one address, the failures
 * before any answer: a port that refuses (HTTPS_CONN_CONNECT), a server
 * that speaks plain HTTP (HTTPS_CONN_HANDSHAKE), a server that accepts
 * and says nothing within the caller's deadline (cancelled, no callback
 * after), an address that cannot be connected to at all (NULL).  The
 * exchanges that succeed, the verify and enough hooks and the size bound
 * run against real HTTPS servers in regress/test_mtasts.py and
 * regress/test_tlsrpt_send.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "https_conn.h"

struct result {
	int			 called;
	enum https_conn_status	 st;
	char			 why[256];
};

static void
done(void *arg, enum https_conn_status st, const char *data, size_t len,
    const char *why)
{
	struct result	*r = arg;

	r->called++;
	r->st = st;
	snprintf(r->why, sizeof(r->why), "%s", why != NULL ? why : "");
}

static const struct https_conn_hooks hooks = { NULL, NULL, done };

/* A listening socket on 127.0.0.1, its address in sin. */
static int
listener(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static void
run_until(struct result *r, int secs)
{
	time_t	 end = time(NULL) + secs;

	while (r->called == 0 && time(NULL) < end)
		event_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void
test_refused(void **state)
{
	struct tls_config	*cfg = tls_config_new();
	struct sockaddr_in	 sin;
	struct result		 r;
	int			 fd = listener(&sin);

	close(fd);		/* nobody listens there now */
	memset(&r, 0, sizeof(r));
	assert_non_null(https_conn_start((struct sockaddr *)&sin,
	    sizeof(sin), cfg, "a.test", "GET / HTTP/1.0\r\n\r\n", 18, 1024,
	    &hooks, &r));
	assert_int_equal(r.called, 0);	/* never from inside the call */
	run_until(&r, 10);
	assert_int_equal(r.called, 1);
	assert_int_equal(r.st, HTTPS_CONN_CONNECT);
	assert_non_null(strstr(r.why, "refused"));
	tls_config_free(cfg);
}

static void
test_plain_http(void **state)
{
	struct tls_config	*cfg = tls_config_new();
	struct sockaddr_in	 sin;
	struct result		 r;
	const char		*answer = "HTTP/1.1 200 OK\r\n\r\n";
	char			 junk[512];
	pid_t			 pid;
	int			 fd = listener(&sin), c;

	if ((pid = fork()) == 0) {
		if ((c = accept(fd, NULL, NULL)) == -1)
			_exit(1);
		/* the ClientHello, answered in plain HTTP */
		if (read(c, junk, sizeof(junk)) <= 0 ||
		    write(c, answer, strlen(answer)) == -1)
			_exit(1);
		close(c);
		_exit(0);
	}
	assert_true(pid > 0);
	close(fd);
	memset(&r, 0, sizeof(r));
	assert_non_null(https_conn_start((struct sockaddr *)&sin,
	    sizeof(sin), cfg, "a.test", "GET / HTTP/1.0\r\n\r\n", 18, 1024,
	    &hooks, &r));
	run_until(&r, 10);
	assert_int_equal(r.called, 1);
	assert_int_equal(r.st, HTTPS_CONN_HANDSHAKE);
	assert_true(r.why[0] != '\0');
	waitpid(pid, NULL, 0);
	tls_config_free(cfg);
}

static void
test_cancel(void **state)
{
	struct tls_config	*cfg = tls_config_new();
	struct sockaddr_in	 sin;
	struct result		 r;
	struct https_conn	*c;
	int			 fd = listener(&sin);

	/* the kernel completes the connection; nobody ever answers */
	memset(&r, 0, sizeof(r));
	c = https_conn_start((struct sockaddr *)&sin, sizeof(sin), cfg,
	    "a.test", "x", 1, 1024, &hooks, &r);
	assert_non_null(c);
	run_until(&r, 1);
	assert_int_equal(r.called, 0);
	https_conn_cancel(c);
	run_until(&r, 1);
	assert_int_equal(r.called, 0);
	close(fd);
	tls_config_free(cfg);
}

static void
test_not_started(void **state)
{
	struct tls_config	*cfg = tls_config_new();
	struct sockaddr_in	 sin;
	struct result		 r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_UNIX + 200;		/* no such family */
	memset(&r, 0, sizeof(r));
	assert_null(https_conn_start((struct sockaddr *)&sin, sizeof(sin),
	    cfg, "a.test", "x", 1, 1024, &hooks, &r));
	assert_true(errno != 0);
	run_until(&r, 1);
	assert_int_equal(r.called, 0);
	tls_config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_plain_http),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_not_started),
	};

	signal(SIGPIPE, SIG_IGN);
	event_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

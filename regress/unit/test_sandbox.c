/*
 * posternd/sandbox.c: each process's filter and limits, in a forked child
 * per case: a forbidden call kills it with SIGSYS and names the call on
 * stderr, log mode refuses it with ENOSYS, argument rules (socket
 * families, executable memory) hold, allowed calls work.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "posternd/proc.h"
#include "posternd/sandbox.h"

enum sb_case { A_SOCKET_INET, A_SOCKET_UNIX, A_MMAP_EXEC, A_MMAP_DATA,
	A_LIMITS };

/* In the child: 0 when the call did what the case expects of it. */
static int
act(enum sb_case a, int want_errno)
{
	struct rlimit	 rl;
	void		*m;
	int		 fd;

	switch (a) {
	case A_SOCKET_INET:
	case A_SOCKET_UNIX:
		fd = socket(a == A_SOCKET_INET ? AF_INET : AF_UNIX,
		    SOCK_DGRAM, 0);
		if (want_errno == 0)
			return fd == -1;
		return !(fd == -1 && errno == want_errno);
	case A_MMAP_EXEC:
	case A_MMAP_DATA:
		m = mmap(NULL, 4096, PROT_READ |
		    (a == A_MMAP_EXEC ? PROT_EXEC : PROT_WRITE),
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return m == MAP_FAILED;
	case A_LIMITS:
		/* smtp with 10 sessions: one descriptor each, and the spare */
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    rl.rlim_cur != 10 + SANDBOX_SMTP_SPARE ||
		    rl.rlim_max != 10 + SANDBOX_SMTP_SPARE)
			return 1;
		if (getrlimit(RLIMIT_NPROC, &rl) == -1 || rl.rlim_max != 0)
			return 2;
		if (getrlimit(RLIMIT_FSIZE, &rl) == -1 || rl.rlim_max != 0)
			return 3;
		return 0;
	}
	return 9;
}

/*
 * Run one case in a child of process `id`; its wait status, and what it
 * wrote to stderr in `out`.
 */
static int
run_case(enum proc_id id, int log_only, enum sb_case a, int want_errno,
    char *out, size_t outlen)
{
	struct proc	 p;
	ssize_t		 n;
	size_t		 got = 0;
	pid_t		 pid;
	int		 pfd[2], status;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(pfd[0]);
		if (dup2(pfd[1], STDERR_FILENO) == -1)
			_exit(10);
		closefrom(STDERR_FILENO + 1);	/* as a child of posternd */
		memset(&p, 0, sizeof(p));
		p.desc = &proc_table[id];
		p.global.smtp_max_sessions = 10;
		sandbox_log_only = log_only;
		sandbox_prepare(&p, 1);
		sandbox_enter(&p);
		_exit(act(a, want_errno));
	}
	close(pfd[1]);
	while (got + 1 < outlen &&
	    (n = read(pfd[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
test_forbidden_call_kills_and_is_named(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_case(PROC_SMTP, 0, A_SOCKET_INET, 0, out, sizeof(out));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "smtp["));
	assert_non_null(strstr(out,
	    "seccomp: forbidden system call socket (41): stopping"));
}

static void
test_log_mode_refuses_with_enosys(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_case(PROC_QUEUE, 1, A_SOCKET_INET, ENOSYS, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(out, "forbidden system call socket (41): "
	    "refused with ENOSYS (-S log)"));
}

static void
test_socket_families(void **state)
{
	char	 out[1024];
	int	 st;

	/* the mta's own connections and its resolver's */
	st = run_case(PROC_MTA, 0, A_SOCKET_INET, 0, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* syslog(3) reconnecting: refused quietly, everywhere */
	st = run_case(PROC_AUTHD, 0, A_SOCKET_UNIX, EACCES, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_case(PROC_CONTROL, 0, A_SOCKET_UNIX, EACCES, out,
	    sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_null(strstr(out, "forbidden"));
}

static void
test_no_executable_memory(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_case(PROC_REPORTD, 0, A_MMAP_DATA, 0, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_case(PROC_REPORTD, 0, A_MMAP_EXEC, 0, out, sizeof(out));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	assert_non_null(strstr(out, "forbidden system call mmap (9)"));
}

static void
test_smtp_limits(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_case(PROC_SMTP, 0, A_LIMITS, 0, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_call_kills_and_is_named),
		cmocka_unit_test(test_log_mode_refuses_with_enosys),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_no_executable_memory),
		cmocka_unit_test(test_smtp_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

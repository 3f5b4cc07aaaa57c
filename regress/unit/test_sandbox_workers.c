/*
 * posternd/sandbox.c: the filters of authd's crypt helper and of the
 * delivery workers, each in a forked child: what the process's job needs
 * works, and the first call outside it kills with SIGSYS, named.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "posternd/proc.h"
#include "posternd/sandbox.h"

/*
 * A sanitizer build's filters allow open and openat for the runtime's
 * reports (posternd/sandbox.c): there, only the other refusals are
 * checked.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER	1
#endif
#endif

static char	 dir[] = "/tmp/postern-sbw-XXXXXX";

/* A maildir's delivery: tmp/, a file written and synced, into new/. */
static int
maildir_job(void)
{
	char	 tmp[128], new[128], path[160], dst[160];
	int	 fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	snprintf(new, sizeof(new), "%s/new", dir);
	snprintf(path, sizeof(path), "%s/1.x", tmp);
	snprintf(dst, sizeof(dst), "%s/1.x", new);
	if (mkdir(tmp, 0700) == -1 || mkdir(new, 0700) == -1)
		return 1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return 2;
	if (write(fd, "mail\n", 5) != 5 || fsync(fd) == -1 || close(fd) == -1)
		return 3;
	if (rename(path, dst) == -1 || unlink(dst) == -1)
		return 4;
	return 0;
}

/* What a worker of `kind` does first; then `bad`, which must kill it. */
static int
run_worker(enum sandbox_worker kind, int (*job)(void), int (*bad)(void),
    char *out, size_t outlen)
{
	ssize_t	 n;
	size_t	 got = 0;
	pid_t	 pid;
	int	 pfd[2], status, rc;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(pfd[0]);
		if (dup2(pfd[1], STDERR_FILENO) == -1)
			_exit(10);
		closefrom(STDERR_FILENO + 1);
		sandbox_worker_prepare("deliver", 1);
		sandbox_worker_enter(kind);
		if (job != NULL && (rc = job()) != 0)
			_exit(20 + rc);
		_exit(bad != NULL ? 30 + bad() : 0);
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

#ifndef SANITIZER
static int
open_for_writing(void)
{
	char	 path[128];

	snprintf(path, sizeof(path), "%s/written", dir);
	return open(path, O_WRONLY | O_CREAT, 0600) == -1;
}
#endif

static int
open_for_reading(void)
{
	int	 fd;

	if ((fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	close(fd);
	return 0;
}

static int
make_directory(void)
{
	char	 path[128];

	snprintf(path, sizeof(path), "%s/made", dir);
	return mkdir(path, 0700) == -1;
}

static int
make_inet_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) == -1;
}

static int
make_sockets(void)
{
	int	 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 1;
	close(fd);
	return make_inet_socket();
}

static int
execute(void)
{
	char *const	 argv[] = { "true", NULL };

	execve("/bin/true", argv, argv + 1);
	return 1;
}

static int
ask_keyring(void)
{
	return syscall(SYS_keyctl, 0, -3, 0) == -1;
}

/* A command the mda worker runs: fork and execute still work. */
static int
run_command(void)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		execute();
		_exit(1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 2;
	return 0;
}

static void
assert_killed_by(int st, const char *out, const char *call)
{
	char	 want[128];

	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	snprintf(want, sizeof(want), "deliver[");
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "seccomp: forbidden system call %s (",
	    call);
	assert_non_null(strstr(out, want));
}

static void
test_maildir_writes_and_may_not_connect(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_worker(SANDBOX_MAILDIR, maildir_job, make_inet_socket, out,
	    sizeof(out));
	assert_killed_by(st, out, "socket");
	st = run_worker(SANDBOX_MBOX, NULL, execute, out, sizeof(out));
	assert_killed_by(st, out, "execve");
}

static void
test_forward_reads_only(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_worker(SANDBOX_FORWARD, open_for_reading, make_directory,
	    out, sizeof(out));
	assert_killed_by(st, out, "mkdir");
	st = run_worker(SANDBOX_FORWARD, open_for_reading, make_inet_socket,
	    out, sizeof(out));
	assert_killed_by(st, out, "socket");
#ifndef SANITIZER
	st = run_worker(SANDBOX_FORWARD, open_for_reading, open_for_writing,
	    out, sizeof(out));
	assert_killed_by(st, out, "openat");
#endif
}

static void
test_lmtp_connects_and_reads_only(void **state)
{
	char	 out[1024];
	int	 st;

	st = run_worker(SANDBOX_LMTP, make_sockets, make_directory, out,
	    sizeof(out));
	assert_killed_by(st, out, "mkdir");
#ifndef SANITIZER
	st = run_worker(SANDBOX_LMTP, make_sockets, open_for_writing, out,
	    sizeof(out));
	assert_killed_by(st, out, "openat");
#endif
	st = run_worker(SANDBOX_LMTP, open_for_reading, execute, out,
	    sizeof(out));
	assert_killed_by(st, out, "execve");
}

static void
test_mda_runs_commands_and_refuses_its_list(void **state)
{
	char	 out[1024];
	int	 st;

	/* the filter without NO_NEW_PRIVS is root's to set (posternd(8)) */
	if (geteuid() != 0)
		fail_msg("the mda worker's filter needs root");
	st = run_worker(SANDBOX_MDA, run_command, ask_keyring, out,
	    sizeof(out));
	assert_killed_by(st, out, "keyctl");
}

/* The crypt helper: its socket and crypt(3), then a socket of its own. */
static void
test_crypt_helper(void **state)
{
	struct crypt_data	*cd;
	char			 buf[64], path[64], line[256];
	ssize_t			 n;
	size_t			 got = 0;
	FILE			*f;
	pid_t			 pid;
	int			 sp[2], pfd[2], status, fd, lim = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sp[0]);
		close(pfd[0]);
		if (dup2(pfd[1], STDERR_FILENO) == -1 ||
		    (fd = dup2(sp[1], STDERR_FILENO + 1)) == -1)
			_exit(10);
		sandbox_crypt_helper(fd);
		if ((cd = calloc(1, sizeof(*cd))) == NULL)
			_exit(11);
		/* yescrypt's block, the default cost: an mmap */
		if (crypt_rn("pw", "$y$j9T$abcdefghijklmnop$", cd,
		    sizeof(*cd)) == NULL)
			_exit(12);
		if (send(fd, "done", 4, 0) != 4 || recv(fd, buf, 1, 0) != 1)
			_exit(13);
		socket(AF_INET, SOCK_STREAM, 0);
		_exit(14);
	}
	close(sp[1]);
	close(pfd[1]);
	assert_int_equal(recv(sp[0], buf, sizeof(buf), 0), 4);
	/* its limits, while it waits */
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Max processes ", 14) == 0 ||
		    strncmp(line, "Max file size ", 14) == 0 ||
		    strncmp(line, "Max core file size ", 19) == 0) {
			assert_non_null(strstr(line + 25, " 0 "));
			lim++;
		}
		if (strncmp(line, "Max open files ", 15) == 0) {
			assert_non_null(strstr(line + 25, " 4 "));
			lim++;
		}
	}
	fclose(f);
	assert_int_equal(lim, 4);
	assert_int_equal(send(sp[0], "x", 1, 0), 1);
	while ((n = read(pfd[0], line + got, sizeof(line) - 1 - got)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	close(pfd[0]);
	close(sp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	assert_non_null(strstr(line, "crypt["));
	assert_non_null(strstr(line, "forbidden system call socket (41)"));
}

static int
setup(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildir_writes_and_may_not_connect),
		cmocka_unit_test(test_forward_reads_only),
		cmocka_unit_test(test_lmtp_connects_and_reads_only),
		cmocka_unit_test(test_mda_runs_commands_and_refuses_its_list),
		cmocka_unit_test(test_crypt_helper),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

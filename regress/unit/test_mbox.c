/*
 * posternd/mbox.c: appending to a Unix mailbox in the mboxrd format with
 * Debian's locks, on real files in a temporary directory: the exact bytes
 * written, the quoting of "From " lines, the locks another program holds,
 * planted links, and the cut back to the old size when a write fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posternd/maildir.h"
#include "posternd/mbox.h"
#include "tmpdir.h"

/* 2026-12-07 14:00:00 UTC */
#define WHEN	1796652000

static char	 box[256];

static int
msgfd(const char *text)
{
	int	 fd = memfd_create("msg", 0);

	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int
deliver(const char *path, const char *text, const char *sender, char *err,
    size_t errlen)
{
	int	 fd = msgfd(text), rv;

	rv = mbox_deliver(path, fd, sender, "bob@x.test", WHEN, 1, err,
	    errlen);
	close(fd);
	return rv;
}

static off_t
size_of(const char *path)
{
	struct stat	 st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int
setup(void **state)
{
	if (tmpdir_setup(state) == -1)
		return -1;
	snprintf(box, sizeof(box), "%s/bob", tmpdir);
	return 0;
}

static void
test_format(void **state)
{
	char		 err[512];
	struct stat	 st;

	unlink(box);
	assert_int_equal(deliver(box, "Subject: one\r\n\r\nFrom here\r\n"
	    ">From there\r\n>>From afar\r\nFromage\r\n>x\r\nFro\r\n\r\n"
	    "a\rb\r\n>From", "alice@y.test", err, sizeof(err)), MAILDIR_OK);
	/* the null sender; a message without a final line end */
	assert_int_equal(deliver(box, "Subject: two\r\n\r\nlast", "", err,
	    sizeof(err)), MAILDIR_OK);
	assert_string_equal(slurp(box),
	    "From alice@y.test Mon Dec  7 14:00:00 2026\n"
	    "Return-Path: <alice@y.test>\nDelivered-To: bob@x.test\n"
	    "Subject: one\n\n>From here\n>>From there\n>>>From afar\n"
	    "Fromage\n>x\nFro\n\na\rb\n>From\n\n"
	    "From MAILER-DAEMON Mon Dec  7 14:00:00 2026\n"
	    "Return-Path: <>\nDelivered-To: bob@x.test\n"
	    "Subject: two\n\nlast\n\n");
	/* a new mailbox is the user's alone, and no lock is left */
	assert_int_equal(stat(box, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(access("/tmp/test_mbox.lock", F_OK), -1);
	snprintf(err, sizeof(err), "%s.lock", box);
	assert_int_equal(access(err, F_OK), -1);
}

static void
test_separates_from_what_is_there(void **state)
{
	char	 err[512];
	int	 fd;

	unlink(box);
	assert_true((fd = open(box, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(write(fd, "From a@b Thu Jan  1 00:00:00 1970\nx", 35),
	    35);
	close(fd);
	assert_int_equal(deliver(box, "S: 1\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_OK);
	assert_string_equal(slurp(box), "From a@b Thu Jan  1 00:00:00 1970\n"
	    "x\n\nFrom a@b Mon Dec  7 14:00:00 2026\nReturn-Path: <a@b>\n"
	    "Delivered-To: bob@x.test\nS: 1\n\nb\n\n");
}

static void
test_planted_links(void **state)
{
	char	 err[512], other[300];

	/* a symbolic link: not followed */
	unlink(box);
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	close(open(other, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(symlink(other, box), 0);
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "4.2.0 mailbox"));
	assert_int_equal(size_of(other), 0);
	/* a FIFO: refused at once, the worker not held */
	unlink(box);
	assert_int_equal(mkfifo(box, 0600), 0);
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "4.2.0 mailbox"));
	/* a hard link: left alone */
	unlink(box);
	assert_int_equal(link(other, box), 0);
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "4.2.0 mailbox"));
	assert_int_equal(size_of(other), 0);
	unlink(box);
	unlink(other);
	/* a mailbox in a directory that is not there is not made */
	snprintf(other, sizeof(other), "%s/nodir/bob", tmpdir);
	assert_int_equal(deliver(other, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "4.3.0 open"));
}

static void
test_locks(void **state)
{
	struct flock	 fl;
	struct timeval	 old[2] = { { 1000, 0 }, { 1000, 0 } };
	char		 err[512], lock[300];
	int		 p[2], fd;
	pid_t		 pid;

	unlink(box);
	close(open(box, O_WRONLY | O_CREAT, 0600));
	/* another program holds the fcntl lock */
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		fd = open(box, O_RDWR);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		if (fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		sleep(5);
		_exit(0);
	}
	assert_int_equal(read(p[0], lock, 1), 1);
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "is locked (fcntl)"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	assert_int_equal(size_of(box), 0);

	/* a fresh dot lock is another program's: wait, then give up */
	snprintf(lock, sizeof(lock), "%s.lock", box);
	close(open(lock, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, ".lock) by another program"));
	assert_int_equal(size_of(box), 0);
	assert_int_equal(access(lock, F_OK), 0);	/* not ours to remove */
	/* an old one is a crashed program's leftover */
	assert_int_equal(utimes(lock, old), 0);
	assert_int_equal(deliver(box, "S: x\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_OK);
	assert_int_equal(access(lock, F_OK), -1);
	assert_true(size_of(box) > 0);
}

static void
test_failed_write_leaves_no_half_message(void **state)
{
	struct rlimit	 rl;
	char		 err[512], *big;
	off_t		 before;
	int		 status, fd;
	pid_t		 pid;

	unlink(box);
	assert_int_equal(deliver(box, "S: first\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_OK);
	before = size_of(box);
	big = malloc(200000);
	memset(big, 'x', 199998);
	memcpy(big + 199998, "\r\n", 2);
	big[199999] = '\n';
	fd = memfd_create("big", 0);
	assert_int_equal(write(fd, big, 200000), 200000);
	lseek(fd, 0, SEEK_SET);
	free(big);
	/* the file may not grow past 100000 bytes: the write fails */
	if ((pid = fork()) == 0) {
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = 100000;
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			_exit(9);
		_exit(mbox_deliver(box, fd, "a@b", "bob@x.test", WHEN, 1, err,
		    sizeof(err)));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), MAILDIR_PERMFAIL);	/* EFBIG */
	close(fd);
	assert_int_equal(size_of(box), before);
	/* and the next message goes right after the first */
	assert_int_equal(deliver(box, "S: next\r\n\r\nb\r\n", "a@b", err,
	    sizeof(err)), MAILDIR_OK);
	assert_non_null(strstr(slurp(box), "b\n\nFrom a@b Mon Dec  7 "
	    "14:00:00 2026\nReturn-Path: <a@b>\nDelivered-To: bob@x.test\n"
	    "S: next\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_separates_from_what_is_there),
		cmocka_unit_test(test_planted_links),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_failed_write_leaves_no_half_message),
	};

	return cmocka_run_group_tests(tests, setup, tmpdir_teardown);
}

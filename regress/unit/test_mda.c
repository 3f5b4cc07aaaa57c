/*
 * posternd/mda.c: splitting a command into words, and running real
 * commands (/bin/sh scripts) the way the delivery worker does: what they
 * get on standard input and in the environment, how their exit status,
 * a signal, a missing program and the time limit are read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "posternd/maildir.h"
#include "posternd/mda.h"
#include "tmpdir.h"


static void
test_split(void **state)
{
	char		 buf[256], *argv[MDA_ARGS_MAX + 1], many[512];
	const char	*why;
	int		 i;

	assert_int_equal(mda_split("/usr/bin/procmail -d %{user}", buf,
	    sizeof(buf), argv, &why), 3);
	assert_string_equal(argv[0], "/usr/bin/procmail");
	assert_string_equal(argv[2], "%{user}");
	assert_null(argv[3]);
	assert_int_equal(mda_split("  sh -c 'cat > /tmp/x;  exit 0'  ", buf,
	    sizeof(buf), argv, &why), 3);
	assert_string_equal(argv[2], "cat > /tmp/x;  exit 0");
	assert_int_equal(mda_split("a''b 'c'd", buf, sizeof(buf), argv, &why),
	    2);
	assert_string_equal(argv[0], "ab");
	assert_string_equal(argv[1], "cd");
	assert_int_equal(mda_split("", buf, sizeof(buf), argv, &why), -1);
	assert_string_equal(why, "empty command");
	assert_int_equal(mda_split(" \t ", buf, sizeof(buf), argv, &why), -1);
	assert_int_equal(mda_split("sh -c 'oops", buf, sizeof(buf), argv,
	    &why), -1);
	assert_string_equal(why, "unterminated quote");
	many[0] = '\0';
	for (i = 0; i <= MDA_ARGS_MAX; i++)
		strlcat(many, "w ", sizeof(many));
	assert_int_equal(mda_split(many, buf, sizeof(buf), argv, &why), -1);
	assert_string_equal(why, "too many words");
	memset(many, 'x', sizeof(many) - 1);
	many[sizeof(many) - 1] = '\0';
	assert_int_equal(mda_split(many, buf, sizeof(buf), argv, &why), -1);
	assert_string_equal(why, "command too long");
}

static int
run(const char *script, const char *msg, int timeout, char *err,
    size_t errlen)
{
	struct mda_job	 job = { NULL, "nobody", tmpdir, "alice@y.test",
			    "bob+lists@x.test", timeout, 0 };
	char		 cmd[512];
	int		 fd = memfd_create("msg", 0), rv;

	snprintf(cmd, sizeof(cmd), "/bin/sh -c '%s'", script);
	job.command = cmd;
	assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	lseek(fd, 0, SEEK_SET);
	err[0] = '\0';
	rv = mda_run(&job, fd, err, errlen);
	close(fd);
	return rv;
}

/* A file the command wrote in the scratch directory. */
static const char *
out(const char *name)
{
	char		 path[300];
	const char	*text;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(text = slurp(path));
	return text;
}

static void
test_input_and_environment(void **state)
{
	char	 err[512];

	assert_int_equal(run("cat > in; env | sort > env; pwd > cwd",
	    "Subject: x\r\n\r\nline\r\na\rb\r\n", 10, err, sizeof(err)),
	    MAILDIR_OK);
	assert_string_equal(out("in"), "Return-Path: <alice@y.test>\n"
	    "Delivered-To: bob+lists@x.test\nSubject: x\n\nline\na\rb\n");
	assert_non_null(strstr(out("env"), "SENDER=alice@y.test\n"));
	assert_non_null(strstr(out("env"), "RECIPIENT=bob+lists@x.test\n"));
	assert_non_null(strstr(out("env"), "EXTENSION=lists\n"));
	assert_non_null(strstr(out("env"), "LOCAL=bob+lists\n"));
	assert_non_null(strstr(out("env"), "DOMAIN=x.test\n"));
	assert_non_null(strstr(out("env"), "USER=nobody\n"));
	assert_non_null(strstr(out("env"), "PATH=" MDA_PATH "\n"));
	/* nothing of the daemon's own environment */
	assert_null(strstr(out("env"), "POSTERN"));
	assert_int_equal(strncmp(out("cwd"), tmpdir, strlen(tmpdir)), 0);
}

static void
test_exit_statuses(void **state)
{
	char	 err[512];

	assert_int_equal(run("echo busy >&2; exit 75", "S: x\r\n\r\n", 10,
	    err, sizeof(err)), MAILDIR_TEMPFAIL);
	assert_string_equal(err, "4.3.0 mda /bin/sh: temporary failure "
	    "(exit 75): busy");
	assert_int_equal(run("printf \"no such mailbox\\\\001\\\\nmore\\\\n\" "
	    ">&2; exit 67", "S: x\r\n\r\n", 10, err, sizeof(err)),
	    MAILDIR_PERMFAIL);
	assert_string_equal(err, "5.1.1 mda /bin/sh: exit 67: no such "
	    "mailbox?");
	assert_int_equal(run("exit 1", "S: x\r\n\r\n", 10, err, sizeof(err)),
	    MAILDIR_PERMFAIL);
	assert_string_equal(err, "5.3.0 mda /bin/sh: exit 1");
	assert_int_equal(run("kill -9 $$", "S: x\r\n\r\n", 10, err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_non_null(strstr(err, "killed by signal 9"));
	/* a command that does not read its input is still delivered */
	assert_int_equal(run("exit 0", "S: x\r\n\r\n", 10, err, sizeof(err)),
	    MAILDIR_OK);
}

static void
test_missing_program_and_time_limit(void **state)
{
	struct mda_job	 job = { "/nonexistent/procmail -d %{user}", "nobody",
			    tmpdir, "", "bob@x.test", 5, 0 };
	char		 err[512];
	time_t		 t0;
	int		 fd = memfd_create("msg", 0);

	assert_int_equal(mda_run(&job, fd, err, sizeof(err)),
	    MAILDIR_TEMPFAIL);
	assert_string_equal(err, "4.3.0 mda /nonexistent/procmail: "
	    "temporary failure (exit 75): cannot run /nonexistent/procmail: "
	    "No such file or directory");
	/* an expansion that could climb out of its place is refused */
	job.command = "/bin/true %{rcpt}";
	job.rcpt = "a/b@x.test";
	assert_int_equal(mda_run(&job, fd, err, sizeof(err)),
	    MAILDIR_PERMFAIL);
	close(fd);
	/* a command that hangs, with a child that would outlive it */
	t0 = time(NULL);
	assert_int_equal(run("sleep 73 & sleep 73", "S: x\r\n\r\n", 1, err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_true(time(NULL) - t0 < 10);
	assert_string_equal(err, "4.3.0 mda /bin/sh ran longer than 1 "
	    "seconds: killed");
	assert_int_equal(system("pgrep -f '^sleep 73$' >/dev/null"), 256);
}

/*
 * A ~/.forward's "|command" (job.shell): the line goes to /bin/sh -c as
 * written, nothing split or expanded, with the same environment, exit
 * statuses and time limit.
 */
static void
test_shell_line(void **state)
{
	struct mda_job	 job = { "echo \"$RECIPIENT %{user}\" > out; "
			    "cat >> out; exit 0", "nobody", tmpdir,
			    "alice@y.test", "|the line", 5, 1 };
	char		 err[512], buf[512], path[PATH_MAX];
	int		 fd = memfd_create("msg", 0), out;
	ssize_t		 n;

	assert_int_equal(write(fd, "S: x\r\n\r\nhi\r\n", 13), 13);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(mda_run(&job, fd, err, sizeof(err)), MAILDIR_OK);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	assert_true((out = open(path, O_RDONLY)) != -1);
	n = read(out, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(out);
	unlink(path);
	assert_string_equal(buf, "|the line %{user}\nReturn-Path: "
	    "<alice@y.test>\nDelivered-To: |the line\nS: x\n\nhi\n");
	job.command = "exit 75";
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(mda_run(&job, fd, err, sizeof(err)),
	    MAILDIR_TEMPFAIL);
	assert_string_equal(err, "4.3.0 mda exit 75: temporary failure "
	    "(exit 75)");
	job.command = "exit 67";
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(mda_run(&job, fd, err, sizeof(err)),
	    MAILDIR_PERMFAIL);
	assert_string_equal(err, "5.1.1 mda exit 67: exit 67");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_input_and_environment),
		cmocka_unit_test(test_exit_statuses),
		cmocka_unit_test(test_missing_program_and_time_limit),
		cmocka_unit_test(test_shell_line),
	};

	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}

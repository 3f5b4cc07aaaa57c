/*
 * posternd/maildir.c: delivery into tmp/ then new/, idempotent retries, batches
 * that share one sync of new/, errors and their RFC 3463 status, and path
 * expansion.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "posternd/maildir.h"

static char	 base[64];

static int
setup(void **state)
{
	strlcpy(base, "/tmp/test_maildir.XXXXXX", sizeof(base));
	assert_non_null(mkdtemp(base));
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int
source(const char *text)
{
	int	 p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

static int
count_files(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
slurp(const char *path, char *buf, size_t len)
{
	int	 fd;
	ssize_t	 n;

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static void
test_deliver_creates_and_writes(void **state)
{
	char	 md[128], path[256], err[256], got[256];
	int	 fd;

	snprintf(md, sizeof(md), "%s/vmail/example.test/Maildir", base);
	fd = source("Subject: hi\r\n\r\nbody\r\n");
	assert_int_equal(maildir_deliver(md, fd, "Return-Path: <a@b>\r\n",
	    "0123abcd00000001", "mx.test", 0, err, sizeof(err)), MAILDIR_OK);
	close(fd);
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(count_files(path), 1);
	snprintf(path, sizeof(path), "%s/tmp", md);
	assert_int_equal(count_files(path), 0);
	snprintf(path, sizeof(path), "%s/cur", md);
	assert_int_equal(count_files(path), 0);
	snprintf(path, sizeof(path), "%s/new/0123abcd00000001.mx.test", md);
	slurp(path, got, sizeof(got));
	assert_string_equal(got,
	    "Return-Path: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n");
}

static void
test_retry_is_idempotent(void **state)
{
	char	 md[128], path[256], err[256];
	int	 fd;

	snprintf(md, sizeof(md), "%s/M", base);
	fd = source("one\r\n");
	assert_int_equal(maildir_deliver(md, fd, NULL, "k1", "h", 1, err,
	    sizeof(err)), MAILDIR_OK);
	close(fd);
	/* the same delivery again, as after a crash: not written twice */
	fd = source("one\r\n");
	assert_int_equal(maildir_deliver(md, fd, NULL, "k1", "h", 1, err,
	    sizeof(err)), MAILDIR_OK);
	close(fd);
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(count_files(path), 1);
	/* also when the reader has moved it to cur/ with flags */
	{
		char	 from[256], to[256];

		snprintf(from, sizeof(from), "%s/new/k1.h", md);
		snprintf(to, sizeof(to), "%s/cur/k1.h:2,S", md);
		assert_int_equal(rename(from, to), 0);
	}
	fd = source("one\r\n");
	assert_int_equal(maildir_deliver(md, fd, NULL, "k1", "h", 1, err,
	    sizeof(err)), MAILDIR_OK);
	close(fd);
	assert_int_equal(count_files(path), 0);
	/* a different key is a different message */
	fd = source("two\r\n");
	assert_int_equal(maildir_deliver(md, fd, NULL, "k10", "h", 1, err,
	    sizeof(err)), MAILDIR_OK);
	close(fd);
	assert_int_equal(count_files(path), 1);
}

static void
test_unsynced_batch_then_sync(void **state)
{
	char	 md[128], path[256], err[256], key[16];
	int	 fd, i;

	snprintf(md, sizeof(md), "%s/B", base);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		fd = source("batch\r\n");
		assert_int_equal(maildir_deliver_unsynced(md, fd, NULL, key, "h",
		    0, err, sizeof(err)), MAILDIR_OK);
		close(fd);
	}
	/* renamed into new/ at once; one sync of new/ makes them durable */
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(count_files(path), 3);
	snprintf(path, sizeof(path), "%s/tmp", md);
	assert_int_equal(count_files(path), 0);
	assert_int_equal(maildir_sync_new(md, err, sizeof(err)), MAILDIR_OK);
	/* a maildir that is not there cannot be synced, and says why */
	snprintf(md, sizeof(md), "%s/none", base);
	/* a maildir removed under us may come back: retry, 4.3.0 */
	assert_int_equal(maildir_sync_new(md, err, sizeof(err)),
	    MAILDIR_TEMPFAIL);
	assert_true(strncmp(err, "4.3.0 ", 6) == 0);
	assert_non_null(strstr(err, "/none/new"));
}

/* RFC 3463: what may be retried, and the status it is reported with. */
static void
test_errno_class(void **state)
{
	const struct {
		int		 errnum;
		int		 code;
		const char	*status;
	} t[] = {
		{ ENOSPC,	MAILDIR_TEMPFAIL,	"4.2.2" },
		{ EDQUOT,	MAILDIR_TEMPFAIL,	"4.2.2" },
		{ EROFS,	MAILDIR_TEMPFAIL,	"4.3.0" },
		{ ENOENT,	MAILDIR_TEMPFAIL,	"4.3.0" },
		{ EIO,		MAILDIR_TEMPFAIL,	"4.3.0" },
		{ EACCES,	MAILDIR_TEMPFAIL,	"4.3.0" },
		{ ENOTDIR,	MAILDIR_PERMFAIL,	"5.3.0" },
		{ ELOOP,	MAILDIR_PERMFAIL,	"5.3.0" },
		{ ENAMETOOLONG,	MAILDIR_PERMFAIL,	"5.3.0" },
		{ EFBIG,	MAILDIR_PERMFAIL,	"5.3.4" },
	};
	const char	*status;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		status = NULL;
		assert_int_equal(maildir_errno_class(t[i].errnum, &status),
		    t[i].code);
		assert_string_equal(status, t[i].status);
	}
}

/* A write that fails half-way leaves nothing in tmp/ or new/. */
static void
test_failed_write_leaves_nothing(void **state)
{
	struct rlimit	 old, small;
	char		 md[128], path[256], err[256], *big;
	int		 fd, p[2];
	size_t		 len = 16384;

	snprintf(md, sizeof(md), "%s/F", base);
	big = malloc(len);
	assert_non_null(big);
	memset(big, 'x', len);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, len), (ssize_t)len);
	close(p[1]);
	fd = p[0];
	/* no file may grow past 4k: the write fails with EFBIG */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(maildir_deliver(md, fd, NULL, "k", "h", 0, err,
	    sizeof(err)), MAILDIR_PERMFAIL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_true(strncmp(err, "5.3.4 writing ", 14) == 0);
	snprintf(path, sizeof(path), "%s/tmp", md);
	assert_int_equal(count_files(path), 0);
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(count_files(path), 0);
	close(fd);
	free(big);
}

static void
test_bad_key_and_unwritable(void **state)
{
	char	 md[128], err[256];
	int	 fd;

	snprintf(md, sizeof(md), "%s/M", base);
	fd = source("x\r\n");
	assert_int_equal(maildir_deliver(md, fd, NULL, "../evil", "h", 0, err,
	    sizeof(err)), MAILDIR_PERMFAIL);
	assert_int_equal(maildir_deliver(md, fd, NULL, ".hidden", "h", 0, err,
	    sizeof(err)), MAILDIR_PERMFAIL);
	/* a maildir path that is a regular file */
	snprintf(md, sizeof(md), "%s/file", base);
	close(open(md, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(maildir_deliver(md, fd, NULL, "k", "h", 0, err,
	    sizeof(err)), MAILDIR_PERMFAIL);
	assert_non_null(strstr(err, md));
	assert_true(strncmp(err, "5.3.0 ", 6) == 0);
	close(fd);
}

/* A home is never created: one that is not there is a temporary failure. */
static void
test_check_home(void **state)
{
	char	 home[128], err[256];

	snprintf(home, sizeof(home), "%s/home", base);
	assert_int_equal(maildir_check_home("/var/vmail/%{user}", home, err,
	    sizeof(err)), MAILDIR_OK);
	assert_int_equal(maildir_check_home("~/Maildir", home, err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_true(strncmp(err, "4.3.0 home directory ", 21) == 0);
	assert_int_equal(maildir_check_home("/m/%{home}/M", home, err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_int_equal(access(home, F_OK), -1);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(maildir_check_home("~/Maildir", home, err,
	    sizeof(err)), MAILDIR_OK);
	assert_int_equal(maildir_check_home("~", home, err, sizeof(err)),
	    MAILDIR_OK);
	/* a home that is a file can never hold a maildir */
	snprintf(home, sizeof(home), "%s/file", base);
	close(open(home, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(maildir_check_home("~/Maildir", home, err,
	    sizeof(err)), MAILDIR_PERMFAIL);
	assert_true(strncmp(err, "5.3.0 ", 6) == 0);
}

/*
 * Nor is the fixed base of a template outside any home: one that is not
 * there is an unmounted file system, a temporary failure; below it the
 * expansions' directories are made as needed.
 */
static void
test_check_base(void **state)
{
	char	 tmpl[320], vmail[128], err[256], path[256];
	int	 fd;

	snprintf(vmail, sizeof(vmail), "%s/vmail", base);
	snprintf(tmpl, sizeof(tmpl), "%s/%%{domain}/%%{user}", vmail);
	assert_int_equal(maildir_check_base(tmpl, "/nonexistent", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_true(strncmp(err, "4.3.0 maildir base directory ", 29) == 0);
	assert_non_null(strstr(err, vmail));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(access(vmail, F_OK), -1);
	/* a fixed path: its parent is the base */
	snprintf(tmpl, sizeof(tmpl), "%s/shared", vmail);
	assert_int_equal(maildir_check_base(tmpl, "/h", err, sizeof(err)),
	    MAILDIR_TEMPFAIL);
	/* the base is there: fine, and a delivery makes what lies below */
	assert_int_equal(mkdir(vmail, 0700), 0);
	snprintf(tmpl, sizeof(tmpl), "%s/%%{domain}/%%{user}", vmail);
	assert_int_equal(maildir_check_base(tmpl, "/h", err, sizeof(err)),
	    MAILDIR_OK);
	snprintf(path, sizeof(path), "%s/example.test/bob", vmail);
	assert_true((fd = open("/dev/null", O_RDONLY)) != -1);
	assert_int_equal(maildir_deliver(path, fd, NULL, "k", "h", 0, err,
	    sizeof(err)), MAILDIR_OK);
	close(fd);
	/* a part of the prefix after the last slash is not the base */
	snprintf(tmpl, sizeof(tmpl), "%s/d-%%{domain}", vmail);
	assert_int_equal(maildir_check_base(tmpl, "/h", err, sizeof(err)),
	    MAILDIR_OK);
	/* a base that is a file can never hold a maildir */
	snprintf(path, sizeof(path), "%s/file", base);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(tmpl, sizeof(tmpl), "%s/%%{user}", path);
	assert_int_equal(maildir_check_base(tmpl, "/h", err, sizeof(err)),
	    MAILDIR_PERMFAIL);
	assert_true(strncmp(err, "5.3.0 ", 6) == 0);
	/* the home rules for ~/ and %{home}; the root needs no check */
	assert_int_equal(maildir_check_base("~/Maildir", "/nonexistent", err,
	    sizeof(err)), MAILDIR_TEMPFAIL);
	assert_true(strncmp(err, "4.3.0 home directory ", 21) == 0);
	assert_int_equal(maildir_check_base("/%{user}", "/h", err,
	    sizeof(err)), MAILDIR_OK);
}

static void
test_expand_path(void **state)
{
	char	 out[256];

	assert_int_equal(maildir_expand_path("~/Maildir", "bob",
	    "bob@example.test", "/home/bob", out, sizeof(out)), 0);
	assert_string_equal(out, "/home/bob/Maildir");
	assert_int_equal(maildir_expand_path("/var/vmail/%{domain}/%{user}",
	    "bob", "bob@example.test", "/home/bob", out, sizeof(out)), 0);
	assert_string_equal(out, "/var/vmail/example.test/bob");
	assert_int_equal(maildir_expand_path("/m/%{rcpt}", "bob",
	    "bob@example.test", "/home/bob", out, sizeof(out)), 0);
	assert_string_equal(out, "/m/bob@example.test");
	assert_int_equal(maildir_expand_path("/m/%{domain}/%{localpart}/100%%",
	    "bob", "Bob.X@example.test", "/home/bob", out, sizeof(out)), 0);
	assert_string_equal(out, "/m/example.test/Bob.X/100%");
	/* unknown or unterminated expansions, escapes, overflow */
	assert_int_equal(maildir_expand_path("/m/%{nope}", "bob", "b@x",
	    "/h", out, sizeof(out)), -1);
	assert_int_equal(maildir_expand_path("/m/%{user", "bob", "b@x",
	    "/h", out, sizeof(out)), -1);
	assert_int_equal(maildir_expand_path("/m/%{user}", "..", "b@x",
	    "/h", out, sizeof(out)), -1);
	assert_int_equal(maildir_expand_path("/m/%{rcpt}", "bob", "a/b@x",
	    "/h", out, sizeof(out)), -1);
	assert_int_equal(maildir_expand_path("/m/%{user}", "bob", "b@x",
	    "/h", out, 5), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deliver_creates_and_writes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_is_idempotent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_batch_then_sync,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_key_and_unwritable,
		    setup, teardown),
		cmocka_unit_test(test_errno_class),
		cmocka_unit_test_setup_teardown(
		    test_failed_write_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_base, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_home, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expand_path, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The unit tests' scratch directory: made under /tmp by the group set-up,
 * removed with everything in it by the group teardown, also after a test
 * that failed halfway; and a reader for the small files tests write.
 */
#ifndef POSTERN_REGRESS_TMPDIR_H
#define POSTERN_REGRESS_TMPDIR_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char	 tmpdir[64];

static inline int
tmpdir_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static inline int
tmpdir_teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The first 64 KB of a file, NUL-terminated, in a static buffer; or NULL. */
static inline const char *
slurp(const char *path)
{
	static char	 buf[65536];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

#endif

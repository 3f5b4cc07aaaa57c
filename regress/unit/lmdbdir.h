/*
 * The unit tests' throwaway LMDB directories: made under /tmp, removed
 * with the two files LMDB keeps in them, also after a test that failed
 * halfway.
 */
#ifndef POSTERN_REGRESS_LMDBDIR_H
#define POSTERN_REGRESS_LMDBDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* dir gets "/tmp/NAME.XXXXXX" made real: 0, or -1. */
static inline int
lmdbdir_make(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/%s.XXXXXX", name);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static inline void
lmdbdir_remove(const char *dir)
{
	char	 path[4096];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

#endif

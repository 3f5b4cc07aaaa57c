/*
 * Fuzz the file: table reader and the lookups over what it loaded
 * (lib/table.c).  The input is the table file's content (written to a
 * memfd, read back through /proc/self/fd as the parent reads a path); its
 * lines, whole and cut at their first blank, are then looked up as keys,
 * recipients ("@domain" catch-alls included) and sender/account pairs.
 * Every key loaded must be found again and, when its first entry has a
 * value, looked up as a recipient it must give that value.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "table.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 memfd = -1;
static char	 path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if ((memfd = memfd_create("fuzz_table", 0)) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

/* The first entry with this key (case-insensitively) wins. */
static const char *
first_value(const struct table *t, const char *key)
{
	const struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (strcasecmp(te->key, key) == 0)
			return te->value;
	return NULL;
}

static void
lookups(const struct table *t, const char *name, const char *account)
{
	char	 addr[TABLE_FILE_MAX_LINE + 16];

	table_has(t, name);
	table_lookup_rcpt(t, name);
	table_sender_owned(t, name, account);
	/* the same name as a recipient of, and as, a domain */
	snprintf(addr, sizeof(addr), "user@%s", name);
	table_lookup_rcpt(t, addr);
	table_sender_owned(t, addr, account);
	snprintf(addr, sizeof(addr), "%s@fuzz.test", name);
	table_lookup_rcpt(t, addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct table_entry	*te;
	struct table			*t;
	char				 err[256], *copy, *line, *next, *sp;
	const char			*prev = "", *v;
	size_t				 n = 0;

	if (size > 16384)
		return 0;
	if (ftruncate(memfd, 0) == -1 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();

	t = xcalloc(1, sizeof(*t));
	TAILQ_INIT(&t->entries);
	t->type = TABLE_FILE;
	t->path = xstrdup(path);
	err[0] = '\0';
	if (table_load_file(t, err, sizeof(err)) == 0) {
		TAILQ_FOREACH(te, &t->entries, entry) {
			v = first_value(t, te->key);
			if (!table_has(t, te->key) || (v != NULL &&
			    table_lookup_rcpt(t, te->key) != v))
				__builtin_trap();
			n++;
		}
		if (n != t->nentries)
			__builtin_trap();
	} else if (err[0] == '\0')
		__builtin_trap();	/* a failure always says why */

	/* Names from the input, lookups whether the load failed or not. */
	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = copy, n = 0; line != NULL && n < 16; line = next, n++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lookups(t, line, prev);
		if ((sp = strpbrk(line, " \t")) != NULL) {
			*sp = '\0';
			lookups(t, line, sp + 1);
		}
		prev = line;
	}
	free(copy);
	config_table_free(t);
	return 0;
}

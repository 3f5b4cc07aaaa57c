/*
 * libFuzzer target for lib/aliases.c's parser: any aliases(5) file (and
 * any :include: list) must parse or fail with a reason, within the bounds:
 * names short, lower-case, without blanks or controls; members non-empty,
 * at most ALIASES_MEMBER_MAX bytes, without controls other than a tab,
 * and a ':' member only as ":include:/path".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
check(void *arg, const char *name, const char *member)
{
	size_t	*n = arg;
	size_t	 i, len = strlen(member);

	if (name[0] == '\0' || strlen(name) > ALIASES_NAME_MAX)
		abort();
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] <= 0x20 ||
		    (name[i] >= 'A' && name[i] <= 'Z'))
			abort();
	if (len == 0 || len > ALIASES_MEMBER_MAX)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)member[i] < 0x20 && member[i] != '\t')
			abort();
	if (member[0] == ':' && strncmp(member, ":include:/", 10) != 0)
		abort();
	return ++*n > 100000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 err[256];
	size_t	 n = 0;

	(void)aliases_parse((const char *)data, size, check, &n, err,
	    sizeof(err));
	n = 0;
	(void)aliases_parse_list((const char *)data, size, "list", check, &n,
	    err, sizeof(err));
	return 0;
}

/*
 * libFuzzer target for lib/dotforward.c: any .forward member becomes a
 * target that splits back to the user and member (a file or command), or
 * an address, or is refused with a reason; any envelope recipient the
 * queue may send the parent splits into a user name without "/", "@" or
 * blanks and a member that starts with "/" or "|", or is not one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dotforward.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum forward_kind	 kind;
	const char		*why, *member, *m;
	char			 in[1100], out[1025], user[64];

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (forward_target_split(in, user, sizeof(user), &member) == 0) {
		if ((member[0] != '/' && member[0] != '|') || user[0] == '\0' ||
		    strpbrk(user, "/@ \t") != NULL)
			abort();
	}
	if (forward_member_target(in, "bob", "a.test", out, sizeof(out),
	    &kind, &why) == -1) {
		if (why == NULL || why[0] == '\0')
			abort();
		return 0;
	}
	if (kind == FORWARD_ADDRESS) {
		if (strchr(out, '@') == NULL)
			abort();
		return 0;
	}
	m = in[0] == '\\' ? in + 1 : in;
	if (forward_target_split(out, user, sizeof(user), &member) == -1 ||
	    strcmp(user, "bob") != 0 || strcmp(member, m) != 0 ||
	    (kind == FORWARD_FILE) != (member[0] == '/'))
		abort();
	return 0;
}

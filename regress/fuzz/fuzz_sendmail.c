/*
 * libFuzzer target for lib/sendmail_msg.c: any message a local program
 * hands to posternctl sendmail -t (and any argument it names recipients
 * with) must parse or fail with a reason, within the bounds: recipients
 * NUL-terminated, short enough and free of controls, no Bcc field left,
 * the body inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sendmail_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
count(void *arg, const char *addr)
{
	size_t	*n = arg;

	if (strlen(addr) > SENDMAIL_ADDR_MAX || addr[0] == '\0')
		abort();
	return ++*n > 64 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sendmail_msg	 m;
	struct buf		 b;
	const char		*in = (const char *)data;
	char			 why[256];
	size_t			 i, j, n = 0, len;

	(void)sendmail_address_list(in, size, count, &n, why, sizeof(why));
	len = sendmail_dot_end(in, size);
	if (len > size)
		abort();
	if (sendmail_msg_parse(&m, in, len, 1, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (m.body_off > len || m.nrcpts > SENDMAIL_RCPTS_MAX)
		abort();
	for (i = 0; i < m.nrcpts; i++) {
		if (strlen(m.rcpts[i]) > SENDMAIL_ADDR_MAX)
			abort();
		for (j = 0; m.rcpts[i][j] != '\0'; j++)
			if ((unsigned char)m.rcpts[i][j] < 0x20)
				abort();
	}
	/* a kept field never starts with "Bcc:" */
	for (i = 0; i + 4 <= m.header.len; i++)
		if ((i == 0 || m.header.data[i - 1] == '\n') &&
		    strncasecmp((const char *)m.header.data + i, "bcc:", 4) == 0)
			abort();
	buf_init(&b, 2 * size + 16);
	if (sendmail_crlf(&b, in + m.body_off, len - m.body_off) == -1)
		abort();
	buf_free(&b);
	sendmail_msg_free(&m);
	return 0;
}

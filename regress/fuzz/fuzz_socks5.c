/*
 * Fuzz the SOCKS5 client (mta/socks5.c) with random proxy bytes.  The first
 * input byte picks the set-up: credentials or not (bit 0), the target's
 * address type (bits 1-2) and how the rest is chopped into reads (bits
 * 3-7, chunk size 1 to 32).  Everything after it is what the proxy sends.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/socks5.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		"mx.example.com", "192.0.2.25", "2001:db8::25", "[::1]",
	};
	struct socks5		*s;
	struct buf		 out;
	enum socks5_status	 st = SOCKS5_NEED_MORE;
	size_t			 off = 1, chunk, n, used;

	if (size < 1)
		return 0;
	s = socks5_new(hosts[(data[0] >> 1) & 3], 25,
	    data[0] & 1 ? "user" : NULL, data[0] & 1 ? "secret" : NULL);
	if (s == NULL)
		abort();
	chunk = 1 + (data[0] >> 3);
	buf_init(&out, 4096);
	socks5_output(s, &out);
	while (off < size && st == SOCKS5_NEED_MORE) {
		n = size - off < chunk ? size - off : chunk;
		st = socks5_input(s, data + off, n, &used);
		if (used > n || (st == SOCKS5_NEED_MORE && used != n))
			abort();
		off += used;
		socks5_output(s, &out);
	}
	if (st == SOCKS5_ERROR && socks5_error(s)[0] == '\0')
		abort();
	if (st == SOCKS5_DONE)
		(void)strlen(socks5_bound_addr(s));
	buf_free(&out);
	socks5_free(s);
	return 0;
}

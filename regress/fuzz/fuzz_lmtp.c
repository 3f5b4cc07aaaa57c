/*
 * libFuzzer target for lib/lmtp.c: whatever an LMTP server sends, in
 * whatever pieces, the engine must stay in bounds, keep its output
 * bounded, and leave no recipient undecided when it reports a
 * transaction done or the session failed.  A new transaction begins each
 * time the engine is ready; the first input byte picks the split size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_decided(const struct lmtp_rcpt *r, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (r[i].status == LMTP_RCPT_PENDING ||
		    strlen(r[i].reply) >= sizeof(r[i].reply) ||
		    strlen(r[i].enhanced) >= sizeof(r[i].enhanced))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lmtp_session	 s;
	static const char		*addrs[] = { "a@x.test", "b@x.test",
					    "c\r\n@x.test", "d@x.test" };
	struct lmtp_rcpt		 r[4];
	enum lmtp_event			 ev;
	size_t				 i, off = 1, chunk, n = 0;

	if (size == 0)
		return 0;
	chunk = data[0] % 16 + 1;
	lmtp_init(&s, "mx.fuzz");
	while (off < size) {
		if (chunk > size - off)
			chunk = size - off;
		ev = lmtp_input(&s, data + off, chunk);
		off += chunk;
		buf_reset(&s.out);
		switch (ev) {
		case LMTP_EV_READY:
		case LMTP_EV_DONE:
			if (ev == LMTP_EV_DONE)
				check_decided(r, n);
			n = 1 + off % 4;
			memset(r, 0, sizeof(r));
			for (i = 0; i < n; i++)
				r[i].addr = addrs[i];
			if (lmtp_begin(&s, off % 3 ? "s@y.test" : "", r, n) ==
			    LMTP_EV_DONE)
				check_decided(r, n);
			break;
		case LMTP_EV_BODY:
			lmtp_body_end(&s);
			break;
		case LMTP_EV_FAIL:
			if (n > 0)
				check_decided(r, n);
			if (s.error[0] == '\0')
				abort();
			lmtp_free(&s);
			return 0;
		default:
			break;
		}
		if (s.out.len > LMTP_OUT_MAX)
			abort();
	}
	lmtp_fail(&s, "4.4.2 end of input");
	if (n > 0)
		check_decided(r, n);
	lmtp_free(&s);
	return 0;
}

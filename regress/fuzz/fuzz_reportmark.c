/*
 * libFuzzer target for auth/reportmark.c: the input is split into header
 * fields by lib/mailhdr.c's reader, as authd does, and every field is
 * asked whether it marks report mail; the answer must be 0 or 1.
 */
#include <stddef.h>
#include <stdint.h>

#include "auth/reportmark.h"
#include "mailhdr.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
on_field(void *arg, const char *raw, size_t len, size_t namelen)
{
	int	 r = reportmark_field(raw, len, namelen);

	if (r != 0 && r != 1)
		__builtin_trap();
}

static void
on_body(void *arg, const uint8_t *p, size_t len)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailhdr_reader	 hr;

	mailhdr_reader_init(&hr, 4096, 256, on_field, on_body, NULL);
	mailhdr_reader_feed(&hr, data, size);
	mailhdr_reader_end(&hr);
	mailhdr_reader_free(&hr);
	return 0;
}

/*
 * libFuzzer target for smtpd/arstrip.c, the forged Authentication-Results
 * stripper that every accepted message streams through.  The first two
 * input bytes choose a chunk size and a (small) field limit, so that long
 * fields are reached; the rest is the message.  Checked: no crash or
 * leak, the output never grows, and it is the same whether the message
 * comes at once or in chunks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/arstrip.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
run(const uint8_t *p, size_t len, size_t chunk, size_t max, struct buf *out,
    size_t *dropped)
{
	struct arstrip	 f;
	size_t		 off, n;

	arstrip_init_max(&f, max);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		arstrip_feed(&f, p + off, n, "mx.example.org", out);
	}
	arstrip_end(&f, "mx.example.org", out);
	*dropped = f.dropped;
	arstrip_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 whole, pieces;
	size_t		 chunk, max, d1, d2;

	if (size < 2)
		return 0;
	chunk = 1 + data[0] % 64;
	max = 16 + data[1];
	data += 2;
	size -= 2;
	buf_init(&whole, SIZE_MAX);
	buf_init(&pieces, SIZE_MAX);
	run(data, size, size > 0 ? size : 1, max, &whole, &d1);
	run(data, size, chunk, max, &pieces, &d2);
	if (whole.len > size || whole.len != pieces.len || d1 != d2 ||
	    (whole.len > 0 && memcmp(whole.data, pieces.data, whole.len) != 0))
		abort();
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}

/*
 * libFuzzer target for a whole received report (reportd/rpt.c): the MIME
 * reader (rpt_mime.c), unpacking (rpt_unpack.c) and whichever parser the
 * content calls for, then the JSON and table forms.  Checked: no crash or
 * leak, a refusal says why, a report that parses has a kind and prints as
 * valid UTF-8.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "reportd/rpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rpt	 r;
	struct buf	 b;
	char		 err[256];

	err[0] = '\0';
	if (rpt_parse_message(data, len, &r, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (r.kind == RPT_NONE)
		abort();
	buf_init(&b, 64 << 20);
	if (rpt_json(&r, &b) == -1 || !rpt_utf8_valid(b.data, b.len))
		abort();
	buf_reset(&b);
	if (rpt_table(&r, &b) == -1)
		abort();
	buf_free(&b);
	rpt_free(&r);
	return 0;
}

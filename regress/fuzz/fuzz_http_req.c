/*
 * libFuzzer target for posternd/http_req.c: whatever a scraper sends, fed
 * as the control process feeds it (a growing prefix), gives "more" or a
 * status it knows, never reads past what it was given, decides by
 * HTTP_REQ_MAX_HEAD bytes, and once decided stays decided.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "posternd/http_req.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req	 r, first;
	struct buf	 b;
	char		*copy;
	size_t		 n, step;
	int		 decided = 0;

	/* an exact-size copy: ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	step = size > 64 ? size / 16 : 1;
	for (n = 0; n <= size; n += step) {
		if (http_req_parse(copy, n, &r) == 0) {
			if (decided || n >= HTTP_REQ_MAX_HEAD)
				abort();
			continue;
		}
		if (!decided) {
			first = r;
			decided = 1;
		} else if (r.status != first.status)
			abort();
		switch (r.status) {
		case 200:
			if (r.method != HTTP_METHOD_GET &&
			    r.method != HTTP_METHOD_HEAD)
				abort();
			break;
		case 400: case 404: case 405: case 414: case 431: case 505:
			break;
		default:
			abort();
		}
		buf_init(&b, 1024);
		if (http_req_response(&r, "text/plain", copy, n < 512 ? n : 512,
		    0, &b) == -1 && r.status != 200)
			abort();
		buf_free(&b);
	}
	free(copy);
	return 0;
}

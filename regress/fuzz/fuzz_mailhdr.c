/*
 * libFuzzer target for lib/mailhdr.c and the base64 of lib/crypto.c: the
 * streaming header splitter (chunk size from the first byte), relaxed
 * canonicalization of every field, the RFC 6376 3.2 tag-list parser on
 * every field value, and strict base64 on every tag value.
 */
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "mailhdr.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
on_field(void *arg, const char *raw, size_t len, size_t namelen)
{
	struct mailhdr_tag	 tags[MAILHDR_MAX_TAGS];
	struct buf		 b;
	const char		*v;
	char			 err[128];
	uint8_t			*out;
	size_t			 vlen, outlen;
	int			 n, i;

	buf_init(&b, 2 * len + 16);
	if (mailhdr_canon_relaxed(raw, len, 1, &b) == -1 || b.len > len + 2)
		__builtin_trap();
	buf_free(&b);
	v = mailhdr_value(raw, len, &vlen);
	n = mailhdr_taglist(v, vlen, tags, MAILHDR_MAX_TAGS, err, sizeof(err));
	for (i = 0; i < n; i++) {
		if (tags[i].rawstart > tags[i].rawend || tags[i].rawend > vlen)
			__builtin_trap();
		if (b64_decode(tags[i].value, tags[i].valuelen, &out,
		    &outlen) == 0)
			free(out);
	}
}

static void
on_body(void *arg, const uint8_t *p, size_t len)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailhdr_reader	 r;
	size_t			 chunk, off, n;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 32 + 1;
	mailhdr_reader_init(&r, 2048, 64, on_field, on_body, NULL);
	for (off = 1; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		mailhdr_reader_feed(&r, data + off, n);
	}
	mailhdr_reader_end(&r);
	mailhdr_reader_free(&r);
	return 0;
}

/*
 * libFuzzer target for lib/smtp_reply.c: whatever a remote SMTP server
 * sends, split into lines, must give a reply, an error or "more", within
 * the bounds, and the derived forms (one-line text, EHLO keywords) must
 * stay NUL-terminated and in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply	 r;
	struct smtp_caps		 c;
	struct smtp_dotstuff		 d;
	struct buf			 b;
	const uint8_t			*p = data, *nl;
	char				 err[128], one[512];
	enum smtp_reply_status		 st;

	smtp_reply_init(&r);
	while (p < data + size) {
		nl = memchr(p, '\n', data + size - p);
		if (nl == NULL)
			nl = data + size;
		st = smtp_reply_line(&r, (const char *)p, nl - p, err,
		    sizeof(err));
		if (st == SMTP_REPLY_ERROR) {
			if (strlen(err) == 0)
				abort();
			smtp_reply_init(&r);
		} else if (st == SMTP_REPLY_DONE) {
			if (r.code < 200 || r.code > 559)
				abort();
			smtp_reply_oneline(&r, one, sizeof(one));
			if (strlen(one) >= sizeof(one))
				abort();
			smtp_caps_parse(&r, &c);
			if (strlen(smtp_reply_status(&r)) < 5)
				abort();
			smtp_reply_init(&r);
		}
		p = nl + 1;
	}
	buf_init(&b, 4 * size + 16);
	smtp_dotstuff_init(&d);
	if (smtp_dotstuff(&d, data, size, &b) == -1 ||
	    smtp_dotstuff_end(&d, &b) == -1)
		abort();
	buf_free(&b);
	return 0;
}

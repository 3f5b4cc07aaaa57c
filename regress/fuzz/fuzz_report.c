/*
 * Fuzz what reportd makes of untrusted bytes when it sends reports: the
 * input as a report URI from a DMARC record (reportd/report_mail.c
 * report_mailto(): the address must come out as one valid mailbox, the
 * size limit never overflows), as an evaluation record (if it decodes,
 * the aggregate report of it, reportd/dmarc_agg.c, is built and must hold
 * no raw '<' '&' or control byte from the input's strings), and as the
 * text and file name of a report mail (built or refused, never with a
 * bare CR or LF in a header).
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"
#include "reportd/dmarc_agg.h"
#include "reportd/report_mail.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dmarc_agg_meta m = { "org", "a@b.test", "c",
	    "mx.test", "g" };
	struct dmarc_eval_record	*er;
	struct dmarc_agg		*a;
	struct report_mail		 rm;
	struct buf			 b;
	const char			*to[1] = { "a@b.test" };
	char				*s, addr[REPORT_ADDR_MAX], *p;
	uint64_t			 lim;

	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';

	if (report_mailto(s, addr, sizeof(addr), &lim) == 0) {
		if (strchr(addr, '@') == NULL || strpbrk(addr, "\r\n,<>") !=
		    NULL)
			abort();
	}

	er = xmalloc(sizeof(*er));
	if (dmarc_eval_decode(data, size, er) == 0) {
		a = dmarc_agg_new(er->header_from, 0, INT64_MAX / 2);
		er->when = 1;
		if (dmarc_agg_add(a, er) == 0) {
			buf_init(&b, DMARC_AGG_XML_MAX);
			if (dmarc_agg_xml(a, &m, &b) == 0) {
				/* one root, no raw control bytes */
				for (p = (char *)b.data;
				    p < (char *)b.data + b.len; p++)
					if ((unsigned char)*p < 0x20 &&
					    *p != '\n')
						abort();
			}
			buf_free(&b);
		}
		dmarc_agg_free(a);
	}
	free(er);

	memset(&rm, 0, sizeof(rm));
	rm.from = "a@b.test";
	rm.to = to;
	rm.nto = 1;
	rm.subject = s;
	rm.message_id = "x@y";
	rm.text = s;
	rm.filename = s;
	rm.media_type = "application/gzip";
	rm.attachment = data;
	rm.attachment_len = size;
	buf_init(&b, REPORT_MAIL_MAX);
	if (report_mail_build(&rm, &b) == 0) {
		/* the header: every LF after a CR, every fold a fold */
		for (p = (char *)b.data; p + 1 < (char *)b.data + b.len &&
		    !(p[0] == '\n' && p[1] == '\r'); p++)
			if (*p == '\n' && p[-1] != '\r')
				abort();
	}
	buf_free(&b);
	free(s);
	return 0;
}

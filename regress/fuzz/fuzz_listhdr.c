/*
 * libFuzzer target for lib/listhdr.c over hostile header sections: the
 * list's copy must be built or refused with a reason; when built, it
 * starts with our List-Id, has exactly one empty line (its end: nothing
 * of the original can end the header section early or fold into one of
 * our fields), and with From rewritten names no From but ours.  The
 * helpers authd runs on the same bytes must stay in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listhdr.h"

#define ID	"List-Id: dev <dev.lists.test>\r\n"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listhdr_params	 p;
	struct buf		 out;
	const char		*hdr;
	char			 why[256], ar[1024], arc[16], *from[8];
	size_t			 len, n, i;
	long			 off;

	if (size < 1)
		return 0;
	memset(&p, 0, sizeof(p));
	p.name = "dev";
	p.address = "dev@lists.test";
	p.unsubscribe = (data[0] & 1) ? "https://lists.test/u" : "";
	p.subject_tag = (data[0] & 2) ? "dev" : "";
	p.rewrite_from = (data[0] & 4) != 0;
	hdr = (const char *)data + 1;
	len = size - 1;
	/* authd gives the section before the first empty line */
	if ((off = listhdr_body_offset((const uint8_t *)hdr, len)) != -1)
		len = (size_t)off;
	buf_init(&out, LISTHDR_OUT_MAX);
	if (listhdr_build(hdr, len, &p, &out, why, sizeof(why)) ==
	    LISTHDR_OK) {
		if (out.len < strlen(ID) || memcmp(out.data, ID,
		    strlen(ID)) != 0)
			abort();
		if (listhdr_body_offset(out.data, out.len) != (long)out.len)
			abort();
		if (p.rewrite_from && listhdr_from_fields((const char *)
		    out.data, out.len, from, 8) != 1)
			abort();
		if (p.rewrite_from)
			free(from[0]);
	} else if (why[0] == '\0')
		abort();
	buf_free(&out);
	n = listhdr_from_fields(hdr, len, from, 8);
	for (i = 0; i < n; i++)
		free(from[i]);
	(void)listhdr_our_authres(hdr, len, "mx.test", ar, sizeof(ar), arc,
	    sizeof(arc));
	if (strlen(ar) >= sizeof(ar) || strlen(arc) >= sizeof(arc))
		abort();
	return 0;
}

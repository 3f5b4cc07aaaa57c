/*
 * Fuzz DSN building (queue/dsn.c) from a hostile original and hostile
 * envelope fields.  Input: three option bytes (kind, action, RET, SMTPUTF8,
 * read chunk size, cap, repetition, read failure, out's bound), then nine
 * NUL-terminated fields (sender, ENVID, reporting MTA, recipient, ORCPT,
 * status, diagnostic, remote MTA, diagnostic type; an empty optional one
 * is left out), then the original message, served in chunks and, on
 * request, repeated past the header cap (no header end, huge lines).
 *
 * What comes out must be what dsn.h promises: CRLF line ends only, lines
 * of at most 998 octets, no NUL, 7-bit unless 8BITMIME or SMTPUTF8 is
 * returned; on an error out is left as it was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/dsn.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NFIELDS		9
#define REPEAT_TO	(DSN_HEADERS_MAX + 4096)

struct src {
	const uint8_t	*p;
	size_t		 len, off, chunk;
	int		 fail;
};

static int
src_read(void *arg, uint8_t *out, size_t want, size_t *got)
{
	struct src	*s = arg;
	size_t		 n;

	*got = 0;
	if (s->off >= s->len)
		return s->fail ? -1 : 0;
	n = s->chunk;
	if (n > want)
		n = want;
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(out, s->p + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

static void
check_output(const uint8_t *p, size_t len, int rv)
{
	size_t	 i, linelen = 0;

	if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
		__builtin_trap();
	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			__builtin_trap();
		if (p[i] >= 0x80 &&
		    (rv & (DSN_OUT_8BITMIME | DSN_OUT_SMTPUTF8)) == 0)
			__builtin_trap();
		if (p[i] == '\r') {
			if (i + 1 >= len || p[i + 1] != '\n')
				__builtin_trap();	/* bare CR */
			i++;
			linelen = 0;
			continue;
		}
		if (p[i] == '\n')
			__builtin_trap();		/* bare LF */
		if (++linelen > 998)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 caps[4] = { 0, 1, DSN_HEADERS_MAX, 100000 };
	struct dsn_info		 info;
	struct dsn_rcpt		 r[2];
	struct src		 src;
	struct buf		 out;
	const char		*f[NFIELDS];
	const uint8_t		*nul;
	uint8_t			 o0, o1, o2, *rep = NULL;
	size_t			 i, keep;
	int			 rv;

	if (size < 3 || size > 65536)
		return 0;
	o0 = data[0];
	o1 = data[1];
	o2 = data[2];
	data += 3;
	size -= 3;
	for (i = 0; i < NFIELDS; i++) {
		if ((nul = memchr(data, '\0', size)) == NULL) {
			f[i] = "";
			continue;
		}
		f[i] = (const char *)data;
		size -= (size_t)(nul - data) + 1;
		data = nul + 1;
	}

	memset(&info, 0, sizeof(info));
	info.reporting_mta = f[2][0] != '\0' ? f[2] : "mx.example.com";
	info.sender = f[0];
	info.envid = f[1][0] != '\0' ? f[1] : NULL;
	info.ret = o0 & 3;
	info.smtputf8 = (o0 >> 2) & 1;
	info.kind = (enum dsn_kind)(((o0 >> 3) & 3) + 1);
	info.arrival = 1800000000 - (int64_t)o1 * 3600;
	info.now = 1800000000;
	info.queue_id = (o0 & 0x20) ? "0123456789ab" : NULL;
	info.max_original = caps[(o2 >> 2) & 3];

	memset(r, 0, sizeof(r));
	r[0].final_rcpt = f[3][0] != '\0' ? f[3] : "bob@example.net";
	r[0].orcpt = f[4][0] != '\0' ? f[4] : NULL;
	r[0].action = (enum dsn_action)((o1 % 5) + 1);
	r[0].status = f[5][0] != '\0' ? f[5] : NULL;
	r[0].diagnostic = f[6][0] != '\0' ? f[6] : NULL;
	r[0].remote_mta = f[7][0] != '\0' ? f[7] : NULL;
	r[0].diag_type = f[8][0] != '\0' ? f[8] : NULL;
	r[0].last_attempt = (o1 & 0x80) ? 1800000000 - 60 : 0;
	r[0].retry_until = 1800000000 + 86400;
	/* a second recipient with the same hostile ORCPT and diagnostic */
	r[1].final_rcpt = "carol@example.net";
	r[1].orcpt = r[0].orcpt;
	r[1].action = DSN_ACTION_DELAYED;
	r[1].diagnostic = r[0].diagnostic;

	/*
	 * The original in chunks of 1 to 226 octets, or repeated past the
	 * header cap and read in chunks of 1 to 16 KB (as the store's are
	 * large: dsn_build() looks for the header's end after every read).
	 */
	memset(&src, 0, sizeof(src));
	src.p = data;
	src.len = size;
	src.chunk = (size_t)(o2 >> 4) * (o2 >> 4) + 1;
	src.fail = (o1 >> 6) & 1;
	if ((o2 & 1) && size > 0) {
		rep = xmalloc(REPEAT_TO);
		for (i = 0; i < REPEAT_TO; i++)
			rep[i] = data[i % size];
		src.p = rep;
		src.len = REPEAT_TO;
		src.chunk = ((size_t)(o2 >> 4) + 1) * 1024;
	}

	buf_init(&out, (o0 & 0x80) ? 2048 : 8 << 20);
	buf_addstr(&out, "keep");
	keep = out.len;
	rv = dsn_build(&out, &info, r, (o0 & 0x40) ? 2 : 1,
	    (o2 & 2) ? src_read : NULL, &src);
	if (rv < 0) {
		if (out.len != keep || memcmp(out.data, "keep", keep) != 0)
			__builtin_trap();
	} else
		check_output(out.data + keep, out.len - keep, rv);
	buf_free(&out);
	free(rep);
	return 0;
}

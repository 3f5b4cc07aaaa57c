/*
 * libFuzzer target for DKIM verification: DKIM-Signature tag lists, key
 * records and header parsing (auth/dkim.c).  Input: the first line is
 * served as the TXT record of every key the verifier asks for, the second
 * byte picks the chunk size, the rest is the message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/dkim.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_verify_opts		 opts;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	const uint8_t			*nl, *msg;
	const char			*rec;
	size_t				 reclen, msglen, chunk, off, n, i, nres;

	if (size < 2)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	rec = (const char *)data;
	reclen = (size_t)(nl - data);
	msg = nl + 1;
	msglen = size - reclen - 1;

	memset(&opts, 0, sizeof(opts));
	opts.now = 1800000000;
	opts.allow_sha1 = chunk & 1;
	v = dkim_verify_new(&opts);
	for (off = 0; off < msglen; off += n) {
		n = msglen - off < chunk ? msglen - off : chunk;
		dkim_verify_feed(v, msg + off, n);
	}
	dkim_verify_end(v);
	for (i = 0; i < dkim_verify_nkeys(v); i++)
		dkim_verify_set_key(v, i, (i % 3 == 2) ? DKIM_DNS_TEMPFAIL :
		    DKIM_DNS_OK, DKIM_DNSSEC_INSECURE, &rec, &reclen, 1);
	r = dkim_verify_results(v, &nres, NULL);
	for (i = 0; i < nres; i++)
		if (r[i].reason[0] == '\0' && r[i].result != DKIM_PASS)
			__builtin_trap();
	dkim_verify_free(v);
	return 0;
}

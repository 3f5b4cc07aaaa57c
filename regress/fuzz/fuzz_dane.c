/*
 * libFuzzer target for mta/dane.c: TLSA records as a hostile zone may
 * publish them and a certificate chain as a hostile server may send it.
 * Input: a count byte, then that many records each as a 2-byte length
 * and the RDATA, then the chain's PEM text.  Checked: no crash or leak,
 * filtering keeps only usable records, and a pass names a usable record.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/dane.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dane_tlsa	 rrs[DANE_TLSA_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*names[2] = { "mx.example.org", "example.org" };
	struct dane_result	 res;
	char			 line[128];
	size_t			 n = 0, want, len, i, kept;

	if (size < 1)
		return 0;
	want = data[0] % (DANE_TLSA_MAX + 1);
	data++;
	size--;
	while (n < want && size >= 2) {
		len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (dane_tlsa_parse(data, len, &rrs[n]) == 0) {
			dane_tlsa_format(&rrs[n], line, sizeof(line));
			if (strlen(line) >= sizeof(line))
				abort();
			n++;
		}
		data += len;
		size -= len;
	}
	kept = dane_tlsa_filter(rrs, n);
	for (i = 0; i < kept; i++)
		if (!dane_tlsa_usable(&rrs[i]))
			abort();
	if (dane_verify(data, size, rrs, kept, names, 2, 1800000000, &res) ==
	    0 && (res.record < 0 || (size_t)res.record >= kept))
		abort();
	if (res.verdict == DANE_FAIL && (res.rpt == NULL || res.why[0] == '\0'))
		abort();
	return 0;
}

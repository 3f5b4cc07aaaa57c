/*
 * libFuzzer target for the SRS decoder and encoder (lib/srs.c).  The
 * input, as a NUL-terminated string, is:
 *   - reversed as an address of our SRS domain (srs_reverse()): whatever
 *     it is, a result that says OK must be an address;
 *   - forwarded as a sender (srs_forward()), and what comes out must
 *     reverse to the sender again (or be the sender unchanged).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "srs.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_NOW	((time_t)1700000000)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct srs	 srs;
	static int		 ready;
	char			*in, fw[ENV_ADDR_MAX + 1], back[ENV_ADDR_MAX + 1];
	char			 out[ENV_ADDR_MAX + 1], lc[ENV_ADDR_MAX + 1];
	size_t			 i;

	if (!ready) {
		srs_init(&srs, "fwd.test");
		srs_add_key(&srs, "0123456789abcdef0123456789abcdef", 32);
		srs_add_key(&srs, "another secret key, the old one", 31);
		ready = 1;
	}
	if (size > ENV_ADDR_MAX)
		return 0;
	in = malloc(size + 1);
	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (srs_reverse(&srs, in, FUZZ_NOW, out, sizeof(out)) == SRS_OK &&
	    strchr(out, '@') == NULL)
		__builtin_trap();
	if (srs_forward(&srs, in, FUZZ_NOW, fw, sizeof(fw)) == SRS_OK &&
	    strcmp(fw, in) != 0) {
		/* a rewrite reverses to the sender, or for SRS1 to an SRS0 */
		if (srs_reverse(&srs, fw, FUZZ_NOW, back, sizeof(back)) !=
		    SRS_OK && srs_reverse(&srs, fw, FUZZ_NOW, back,
		    sizeof(back)) != SRS_TOO_LONG)
			__builtin_trap();
		/* and case-folded on the way, still */
		for (i = 0; fw[i] != '\0'; i++)
			lc[i] = fw[i] >= 'A' && fw[i] <= 'Z' ? fw[i] + 32 :
			    fw[i];
		lc[i] = '\0';
		if (srs_reverse(&srs, lc, FUZZ_NOW, back, sizeof(back)) ==
		    SRS_BAD_HASH)
			__builtin_trap();
	}
	free(in);
	return 0;
}

/*
 * libFuzzer target for the queue store's record decoders (lib/envelope.c):
 * envelope records, message records and printable queue ids.  These bytes
 * come from the database, which may be corrupt: the decoders must refuse
 * bad input, never crash, and what they accept must encode back to the
 * same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct envelope	 e, d;
	static uint8_t		 rec[ENV_RECORD_MAX];
	struct msgrec		 m;
	uint8_t			 mb[MSG_RECORD_LEN];
	char			*s;
	uint64_t		 id;
	size_t			 len;

	if (envelope_decode(&e, data, size) == 0) {
		len = envelope_encode(&e, rec, sizeof(rec));
		/*
		 * An old record comes back as the current version with an
		 * empty length-prefixed string for each field it lacked:
		 * version 2 the account, version 1 the folder too.
		 */
		if (data[0] == ENV_RECORD_VERSION && (len != size ||
		    memcmp(rec, data, size) != 0))
			abort();
		if (data[0] != ENV_RECORD_VERSION &&
		    (len != size + 2 * (size_t)(ENV_RECORD_VERSION - data[0]) ||
		    memcmp(rec + 1, data + 1, size - 1) != 0))
			abort();
		if (envelope_decode(&d, rec, len) != 0 ||
		    memcmp(&d, &e, sizeof(e)) != 0)
			abort();
	}
	if (msgrec_decode(&m, data, size) == 0) {
		msgrec_encode(&m, mb);
		if (memcmp(mb, data, MSG_RECORD_LEN) != 0)
			abort();
	}
	if (size <= 64) {
		if ((s = malloc(size + 1)) == NULL)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		(void)qid_parse(s, &id);
		free(s);
	}
	return 0;
}

/*
 * libFuzzer target for reportd/rpt_arf.c: the fields of an ARF
 * message/feedback-report part.  Checked: no crash, a refusal says why, a
 * report that parses has a Feedback-Type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "reportd/rpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rpt_arf	 r;
	char		 err[256];

	err[0] = '\0';
	if (rpt_arf_parse(data, len, &r, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (r.feedback_type[0] == '\0')
		abort();
	return 0;
}

/*
 * libFuzzer target for reportd/rpt_tls.c: TLS-RPT JSON from any sender.
 * Checked: no crash or leak, a refusal says why, and a report that parses
 * keeps to its bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "reportd/rpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rpt_tls	 r;
	char		 err[256];
	size_t		 i;

	err[0] = '\0';
	if (rpt_tls_parse(data, len, &r, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || r.policies != NULL)
			abort();
		return 0;
	}
	if (r.npolicies > RPT_POLICIES_MAX || r.report_id[0] == '\0' ||
	    r.end < r.begin)
		abort();
	for (i = 0; i < r.npolicies; i++)
		if (r.policies[i].success > RPT_COUNT_MAX ||
		    r.policies[i].failure > RPT_COUNT_MAX ||
		    r.policies[i].policy_domain[0] == '\0')
			abort();
	rpt_tls_free(&r);
	return 0;
}

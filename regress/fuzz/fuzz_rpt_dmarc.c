/*
 * libFuzzer target for reportd/rpt_dmarc.c: DMARC aggregate report XML
 * from any sender.  Checked: no crash or leak, a refusal says why, and a
 * report that parses keeps to its bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reportd/rpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rpt_dmarc	 r;
	char			 err[256];
	size_t			 i;

	err[0] = '\0';
	if (rpt_dmarc_parse(data, len, &r, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || r.rows != NULL)
			abort();
		return 0;
	}
	if (r.nrows > RPT_ROWS_MAX || r.report_id[0] == '\0' ||
	    r.domain[0] == '\0' || r.end < r.begin)
		abort();
	for (i = 0; i < r.nrows; i++)
		if (r.rows[i].count > RPT_COUNT_MAX ||
		    r.rows[i].source_ip[0] == '\0' ||
		    (strcmp(r.rows[i].dkim, "pass") != 0 &&
		    strcmp(r.rows[i].dkim, "fail") != 0))
			abort();
	rpt_dmarc_free(&r);
	return 0;
}

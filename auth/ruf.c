/*
 * The fo= test of failure reports (RFC 9989 4.7, RFC 9991 2) and the
 * Identity-Alignment value of the reports (RFC 9991 4).  A message that
 * DMARC did not evaluate (no policy record) gets no failure report; nor
 * does one evaluated under a Public Suffix Domain's record (psd=y), whose
 * ruf RFC 9991 2 says MUST NOT be considered.
 */
#include "auth/ruf.h"

int
dmarc_ruf_wanted(const struct dmarc_eval_record *r)
{
	size_t	 i;

	if (!r->have_policy || r->psd == 'y')
		return 0;
	/* fo=0 (the default): every mechanism failed to give an aligned pass */
	if ((r->fo & DMARC_FO_0) && !r->dkim_aligned_pass &&
	    !r->spf_aligned_pass)
		return 1;
	/* fo=1: any mechanism failed to give an aligned pass */
	if ((r->fo & DMARC_FO_1) && (!r->dkim_aligned_pass ||
	    !r->spf_aligned_pass))
		return 1;
	/* fo=d: a signature failed its verification, aligned or not */
	if (r->fo & DMARC_FO_D)
		for (i = 0; i < r->ndkim && i < DMARC_MAX_DKIM; i++)
			if (r->dkim[i].result == DKIM_FAIL)
				return 1;
	/* fo=s: SPF failed, aligned or not */
	if ((r->fo & DMARC_FO_S) && r->have_spf && r->spf_result == SPF_FAIL)
		return 1;
	return 0;
}

const char *
dmarc_ruf_alignment(const struct dmarc_eval_record *r)
{
	if (!r->dkim_aligned_pass && !r->spf_aligned_pass)
		return "dkim, spf";
	if (!r->dkim_aligned_pass)
		return "dkim";
	if (!r->spf_aligned_pass)
		return "spf";
	return "none";
}

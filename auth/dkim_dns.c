/*
 * A DKIM or ARC key record lookup's answer, as the verifiers take it
 * (dkim_verify_set_key(), arc_verify_set_key()): every TXT record's
 * strings concatenated (RFC 6376 3.6.2.2), the rcode mapped to found,
 * no such name, or a temporary failure (SERVFAIL, timeout, network), and
 * the DNSSEC status.  One place for the daemon (auth/inbound.c) and the
 * offline commands (posternctl check dkim, check arc, arc seal).
 */
#include <sys/types.h>

#include <stdlib.h>

#include "auth/dkim.h"
#include "dns.h"
#include "util.h"

void
dkim_keyans_from(struct dkim_keyans *ka, const struct dns_answer *ans)
{
	size_t	 i;

	ka->recs = NULL;
	ka->lens = NULL;
	ka->n = 0;
	if (ans == NULL) {
		/* not a domain name: there is no such key */
		ka->st = DKIM_DNS_NXDOMAIN;
		ka->sec = DKIM_DNSSEC_UNKNOWN;
		return;
	}
	ka->sec = ans->sec == DNS_SEC_SECURE ? DKIM_DNSSEC_SECURE :
	    ans->sec == DNS_SEC_BOGUS ? DKIM_DNSSEC_BOGUS :
	    DKIM_DNSSEC_INSECURE;
	if (ans->failed || (ans->rcode != DNS_R_NOERROR &&
	    ans->rcode != DNS_R_NXDOMAIN)) {
		ka->st = DKIM_DNS_TEMPFAIL;
		return;
	}
	if (ans->rcode == DNS_R_NXDOMAIN) {
		ka->st = DKIM_DNS_NXDOMAIN;
		return;
	}
	ka->st = DKIM_DNS_OK;
	ka->recs = xcalloc(ans->nrr + 1, sizeof(*ka->recs));
	ka->lens = xcalloc(ans->nrr + 1, sizeof(*ka->lens));
	for (i = 0; i < ans->nrr; i++)
		if (ans->rr[i].type == DNS_T_TXT) {
			ka->recs[ka->n] = dns_txt_concat(&ans->rr[i],
			    &ka->lens[ka->n]);
			ka->n++;
		}
}

void
dkim_keyans_clear(struct dkim_keyans *ka)
{
	size_t	 i;

	for (i = 0; i < ka->n; i++)
		free(ka->recs[i]);
	free(ka->recs);
	free(ka->lens);
	ka->recs = NULL;
	ka->lens = NULL;
	ka->n = 0;
}

/*
 * Where DMARC reports may go, for every sender of them (aggregate reports
 * in reportd/send.c, failure reports in reportd/failure.c): the DMARC
 * record of the Policy Domain from a TXT answer, and the authorization of
 * a destination outside it (RFC 9990 4, which RFC 9991 5 applies to ruf).
 * I/O-free: the callers make the queries.
 */
#ifndef POSTERN_REPORT_DEST_H
#define POSTERN_REPORT_DEST_H

#include "auth/dmarc.h"
#include "dns.h"

/*
 * The one DMARC record of a TXT answer (RFC 9989 4.10: several are as
 * none), to be freed; NULL when there is none, or more than one.
 */
struct dmarc_record *report_dmarc_record(const struct dns_answer *);

/*
 * RFC 9990 4: an answer for "<policy domain>._report._dmarc.<destination
 * domain>" that authorizes reports (a TXT record starting "v=DMARC1"): 1,
 * else 0 (a failed or bogus answer too).
 */
int		 report_authorized(const struct dns_answer *);

/*
 * The name of that record for an address (which has its "@"): 0, or -1
 * when it is longer than a domain name may be.
 */
int		 report_auth_name(const char *policy_domain, const char *addr,
		    char *name, size_t len);

/*
 * The address's domain is the Policy Domain, or above or below it: no
 * authorization needed.  1 or 0.
 */
int		 report_dest_inside(const char *addr, const char *policy_domain);

#endif

/*
 * The destinations of DMARC reports: reportd/report_dest.h.  The test of
 * "another organisational domain" (RFC 9990 4) is strict: a destination
 * domain that is neither the Policy Domain nor its parent or child needs
 * the authorization record, sibling subdomains of one organisation too.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reportd/report_dest.h"
#include "util.h"

struct dmarc_record *
report_dmarc_record(const struct dns_answer *ans)
{
	struct dmarc_record	*rec, *found = NULL;
	char			*txt, err[256];
	size_t			 i, len, nrec = 0;

	rec = xmalloc(sizeof(*rec));
	for (i = 0; i < ans->nrr; i++) {
		txt = dns_txt_concat(&ans->rr[i], &len);
		if (len <= DMARC_RECORD_MAX &&
		    dmarc_record_parse(txt, len, rec, err, sizeof(err)) == 0) {
			nrec++;
			if (found == NULL) {
				found = rec;
				rec = xmalloc(sizeof(*rec));
			}
		}
		free(txt);
	}
	free(rec);
	/* RFC 9989 4.10: several records are as none */
	if (nrec > 1) {
		free(found);
		return NULL;
	}
	return found;
}

int
report_authorized(const struct dns_answer *ans)
{
	char	*txt;
	size_t	 i, len;
	int	 ok = 0;

	if (ans->failed || ans->rcode != DNS_R_NOERROR ||
	    ans->sec == DNS_SEC_BOGUS)
		return 0;
	for (i = 0; i < ans->nrr && !ok; i++) {
		txt = dns_txt_concat(&ans->rr[i], &len);
		/* RFC 9990 4: a record that starts "v=DMARC1" */
		if (len >= 8 && strncmp(txt, "v=DMARC1", 8) == 0 &&
		    (len == 8 || txt[8] == ';' || txt[8] == ' ' ||
		    txt[8] == '\t'))
			ok = 1;
		free(txt);
	}
	return ok;
}

static int
is_within(const char *sub, const char *dom)
{
	size_t	 ls = strlen(sub), ld = strlen(dom);

	return strcasecmp(sub, dom) == 0 || (ls > ld &&
	    sub[ls - ld - 1] == '.' && strcasecmp(sub + ls - ld, dom) == 0);
}

int
report_dest_inside(const char *addr, const char *policy_domain)
{
	const char	*at = strrchr(addr, '@');
	const char	*dom = at != NULL ? at + 1 : addr;

	return is_within(dom, policy_domain) || is_within(policy_domain, dom);
}

int
report_auth_name(const char *policy_domain, const char *addr, char *name,
    size_t len)
{
	int	 n;

	n = snprintf(name, len, "%s._report._dmarc.%s", policy_domain,
	    strrchr(addr, '@') + 1);
	return n < 0 || (size_t)n >= len || n > 253 ? -1 : 0;
}

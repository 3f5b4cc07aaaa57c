/*
 * The checks of the `reports` statements of postern.conf(5): what reportd
 * sends.  `reports from "ADDRESS" org "NAME" [contact "URI"]` turns the
 * DMARC aggregate reports (RFC 9990) on; the From address must be a
 * mailbox of a domain (RFC 9990 3.5.2: report mail must itself pass DMARC,
 * so it is sent from a domain of ours, aligned with `reports sign with`).
 * `reports failure yes` adds the DMARC failure reports (RFC 9991), at
 * most `reports failure-max` an hour per domain and per destination.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "posternd/parse_int.h"

/* Printable ASCII only: the value goes into XML and mail headers. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

void
parse_reports_from(const struct conf_loc *aloc, const char *addr,
    const struct conf_loc *oloc, const char *org,
    const struct conf_loc *cloc, const char *contact)
{
	struct reports_conf	*r = &ps.conf->reports;
	const char		*at = strrchr(addr, '@');

	if (r->enabled)
		conf_error(aloc, "reports from given twice");
	if (at == NULL || at == addr || at - addr > 64 ||
	    strlen(addr) >= sizeof(r->from) || !printable(addr) ||
	    strchr(addr, ' ') != NULL || !conf_valid_hostname(at + 1)) {
		conf_error(aloc, "reports from: invalid address \"%s\"", addr);
		return;
	}
	if (org[0] == '\0' || strlen(org) >= sizeof(r->org) ||
	    !printable(org)) {
		conf_error(oloc, "reports org: a name of 1 to %zu printable "
		    "characters", sizeof(r->org) - 1);
		return;
	}
	if (contact != NULL && (contact[0] == '\0' ||
	    strlen(contact) >= sizeof(r->contact) || !printable(contact))) {
		conf_error(cloc, "reports contact: 1 to %zu printable "
		    "characters", sizeof(r->contact) - 1);
		return;
	}
	strlcpy(r->from, addr, sizeof(r->from));
	strlcpy(r->org, org, sizeof(r->org));
	strlcpy(r->contact, contact != NULL ? contact : "",
	    sizeof(r->contact));
	r->enabled = 1;
}

void
parse_reports_period(const struct conf_loc *loc, const char *v)
{
	/* RFC 9990 3.1.1.4: periods aligned to UTC, a day typically. */
	if (strcmp(v, "daily") == 0)
		ps.conf->reports.period = REPORTS_PERIOD_DAILY;
	else if (strcmp(v, "hourly") == 0)
		ps.conf->reports.period = REPORTS_PERIOD_HOURLY;
	else
		conf_error(loc, "reports period is hourly or daily, not "
		    "\"%s\"", v);
}

void
parse_reports_sign(const struct conf_loc *loc, const char *name)
{
	if (config_find_dkim_signature(ps.conf, name) == NULL) {
		conf_error(loc, "unknown dkim-signature \"%s\"", name);
		return;
	}
	strlcpy(ps.conf->reports.sign, name, sizeof(ps.conf->reports.sign));
}

void
parse_reports_max(const struct conf_loc *loc, long long n)
{
	if (n < 1 || n > REPORTS_MAX_PER_PERIOD) {
		conf_error(loc, "reports max-per-period is 1 to %d",
		    REPORTS_MAX_PER_PERIOD);
		return;
	}
	ps.conf->reports.max_per_period = n;
}

void
parse_reports_failure(const struct conf_loc *loc, const char *v)
{
	if (strcmp(v, "no") == 0)
		ps.conf->reports.failure = 0;
	else if (strcmp(v, "yes") == 0)
		ps.conf->reports.failure = 1;
	else
		conf_error(loc, "reports failure is yes or no, not \"%s\"", v);
}

/* RFC 9991 2: failure reports are rate-limited; N an hour. */
void
parse_reports_failure_max(const struct conf_loc *loc, long long n)
{
	if (n < 1 || n > REPORTS_FAILURE_MAX_MAX) {
		conf_error(loc, "reports failure-max is 1 to %d",
		    REPORTS_FAILURE_MAX_MAX);
		return;
	}
	ps.conf->reports.failure_max = n;
}

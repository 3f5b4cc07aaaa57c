/*
 * TLS-RPT reports as others send them: the JSON of RFC 8460 4 (4.1 the
 * report metadata, 4.2 the policies, 4.3 the result types), read with
 * jansson.
 *
 * What is taken: organization-name, report-id, date-range (RFC 3339 times,
 * 4.1), and of each policy its policy-type and policy-domain and the
 * summary's total-successful-session-count and
 * total-failure-session-count.  Other members (contact-info, policy-string,
 * mx-host, failure-details, a sender's own) are skipped.
 *
 * Hostile input: jansson refuses invalid UTF-8, duplicate keys (asked
 * for), numbers that do not fit its integers and nesting deeper than its
 * own limit; here the document size, the number of policies and every
 * string are bounded, and a count must be an integer in [0, 2^53] — a
 * real, a string or a negative number is refused, not converted.
 */
#include <sys/types.h>

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reportd/rpt.h"
#include "util.h"

/* A string member that must be there: copied, or -1 with err. */
static int
get_string(json_t *o, const char *key, char *dst, size_t len, int required,
    char *err, size_t errlen)
{
	json_t		*v = json_object_get(o, key);
	const char	*s;
	size_t		 i, n;

	if (v == NULL && !required) {
		dst[0] = '\0';
		return 0;
	}
	if (v == NULL || !json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" %s", key, v == NULL ?
		    "missing" : "not a string");
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= len || strlen(s) != n) {
		snprintf(err, errlen, "\"%s\" too long or holds NUL", key);
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "\"%s\" holds control "
			    "characters", key);
			return -1;
		}
	memcpy(dst, s, n + 1);
	return 0;
}

static int
get_count(json_t *o, const char *key, uint64_t *v, char *err, size_t errlen)
{
	json_t		*n = json_object_get(o, key);
	json_int_t	 i;

	if (n == NULL) {
		/* RFC 8460 4.4: both counts are required */
		snprintf(err, errlen, "\"%s\" missing", key);
		return -1;
	}
	if (!json_is_integer(n) || (i = json_integer_value(n)) < 0 ||
	    (uint64_t)i > RPT_COUNT_MAX) {
		snprintf(err, errlen, "\"%s\" is not a count", key);
		return -1;
	}
	*v = (uint64_t)i;
	return 0;
}

static int
digits(const char **s, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		*v = *v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return 0;
}

/*
 * RFC 3339 5.6 date-time: 2016-04-01T00:00:00Z, with optional fraction
 * and a numeric offset instead of Z; t or space for T.  Seconds since the
 * epoch, or -1.
 */
static int
parse_datetime(const char *s, int64_t *out)
{
	struct tm	 tm;
	int		 y, mo, d, h, mi, sec, oh, om, sign;
	time_t		 t;

	if (digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mo) == -1 || *s++ != '-' ||
	    digits(&s, 2, &d) == -1 ||
	    (*s != 'T' && *s != 't' && *s != ' ') || (s++, 0) ||
	    digits(&s, 2, &h) == -1 || *s++ != ':' ||
	    digits(&s, 2, &mi) == -1 || *s++ != ':' ||
	    digits(&s, 2, &sec) == -1)
		return -1;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++;
	}
	oh = om = 0;
	sign = 1;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) == -1 || *s++ != ':' ||
		    digits(&s, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

static int
get_time(json_t *o, const char *key, int64_t *v, char *err, size_t errlen)
{
	char	 s[64];

	if (get_string(o, key, s, sizeof(s), 1, err, errlen) == -1)
		return -1;
	if (parse_datetime(s, v) == -1) {
		snprintf(err, errlen, "\"%s\" is not an RFC 3339 date-time",
		    key);
		return -1;
	}
	return 0;
}

static int
get_policy(json_t *p, struct rpt_tls_policy *tp, char *err, size_t errlen)
{
	json_t	*pol, *sum;
	size_t	 i;

	if (!json_is_object(p) ||
	    !json_is_object(pol = json_object_get(p, "policy")) ||
	    !json_is_object(sum = json_object_get(p, "summary"))) {
		snprintf(err, errlen, "a policy without policy and summary "
		    "objects");
		return -1;
	}
	if (get_string(pol, "policy-type", tp->policy_type,
	    sizeof(tp->policy_type), 1, err, errlen) == -1 ||
	    get_string(pol, "policy-domain", tp->policy_domain,
	    sizeof(tp->policy_domain), 1, err, errlen) == -1 ||
	    get_count(sum, "total-successful-session-count", &tp->success,
	    err, errlen) == -1 ||
	    get_count(sum, "total-failure-session-count", &tp->failure, err,
	    errlen) == -1)
		return -1;
	/* RFC 8460 4.4: "tlsa", "sts", "no-policy-found" */
	for (i = 0; tp->policy_type[i] != '\0'; i++) {
		if (!isalpha((unsigned char)tp->policy_type[i]) &&
		    tp->policy_type[i] != '-') {
			snprintf(err, errlen, "bad policy-type");
			return -1;
		}
		tp->policy_type[i] = tolower((unsigned char)tp->policy_type[i]);
	}
	if (tp->policy_domain[0] == '\0' || strchr(tp->policy_domain, ' ')) {
		snprintf(err, errlen, "bad policy-domain");
		return -1;
	}
	return 0;
}

/*
 * Before jansson builds anything: the nesting (RPT_XML_DEPTH_MAX, as for
 * XML) and the number of values (RPT_JSON_VALUES_MAX) outside strings.
 * jansson spends some 80 bytes a value: a small gzip of "[{},{},...]"
 * would otherwise cost reportd a gigabyte.  0, or -1 with err set.
 */
static int
json_shape_ok(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t	 i, values = 0;
	int	 depth = 0, in_str = 0, esc = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (esc)
				esc = 0;
			else if (p[i] == '\\')
				esc = 1;
			else if (p[i] == '"')
				in_str = 0;
			continue;
		}
		switch (p[i]) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (++depth > RPT_XML_DEPTH_MAX) {
				snprintf(err, errlen, "JSON nested deeper than "
				    "%d", RPT_XML_DEPTH_MAX);
				return -1;
			}
			/* FALLTHROUGH */
		case ',':
			if (++values > RPT_JSON_VALUES_MAX) {
				snprintf(err, errlen, "JSON with more than %d "
				    "values", RPT_JSON_VALUES_MAX);
				return -1;
			}
			break;
		case '}':
		case ']':
			depth--;
			break;
		}
	}
	return 0;
}

int
rpt_tls_parse(const uint8_t *json, size_t len, struct rpt_tls *r, char *err,
    size_t errlen)
{
	json_t		*root, *dr, *pols;
	json_error_t	 je;
	size_t		 i, n;
	int		 rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > RPT_TLS_JSON_MAX) {
		snprintf(err, errlen, "TLS report larger than %d octets",
		    RPT_TLS_JSON_MAX);
		return -1;
	}
	if (json_shape_ok(json, len, err, errlen) == -1)
		return -1;
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES,
	    &je);
	if (root == NULL) {
		snprintf(err, errlen, "JSON line %d: %s", je.line, je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (get_string(root, "organization-name", r->org, sizeof(r->org), 1,
	    err, errlen) == -1 ||
	    get_string(root, "report-id", r->report_id, sizeof(r->report_id),
	    1, err, errlen) == -1)
		goto out;
	if (r->report_id[0] == '\0') {
		snprintf(err, errlen, "empty report-id");
		goto out;
	}
	if (!json_is_object(dr = json_object_get(root, "date-range"))) {
		snprintf(err, errlen, "\"date-range\" missing");
		goto out;
	}
	if (get_time(dr, "start-datetime", &r->begin, err, errlen) == -1 ||
	    get_time(dr, "end-datetime", &r->end, err, errlen) == -1)
		goto out;
	if (r->end < r->begin) {
		snprintf(err, errlen, "date-range ends before it begins");
		goto out;
	}
	if (!json_is_array(pols = json_object_get(root, "policies"))) {
		snprintf(err, errlen, "\"policies\" missing");
		goto out;
	}
	if ((n = json_array_size(pols)) > RPT_POLICIES_MAX) {
		snprintf(err, errlen, "more policies than the limit");
		goto out;
	}
	r->policies = n > 0 ? xcalloc(n, sizeof(*r->policies)) : NULL;
	for (i = 0; i < n; i++) {
		if (get_policy(json_array_get(pols, i), &r->policies[i], err,
		    errlen) == -1)
			goto out;
		r->npolicies++;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		rpt_tls_free(r);
	return rc;
}

void
rpt_tls_free(struct rpt_tls *r)
{
	free(r->policies);
	r->policies = NULL;
	r->npolicies = 0;
}

/*
 * SMTP TLS reporting (RFC 8460): the _smtp._tls TXT record (3) and the
 * aggregate report in JSON (4).
 *
 * The record: "v=TLSRPTv1" then fields separated by ";" with optional
 * blanks; rua= carries one or more URIs separated by ",", mailto: or
 * https: (3: the only schemes defined; others are skipped), with ",", "!"
 * and ";" percent-encoded inside a URI.  Extension fields are checked for
 * their shape and ignored.  Records that do not begin with the version
 * are discarded, and anything but exactly one record left means the
 * domain does not take reports (3).
 *
 * The report: one entry per policy (type and policy domain) with its
 * summary and failure details (4.3, 4.4); the counts come from reportd's
 * store, where the mta's results are kept by domain, day, policy type,
 * result type, MX host and address.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "smtp_addr.h"
#include "reportd/tlsrpt.h"

#define WSP(c)	((c) == ' ' || (c) == '\t')
#define TLSRPT_MXHOST_MAX	32	/* mx-host entries per policy */

/* %HH decoding of a mailto address (RFC 6068 2); -1 on a bad escape. */
static int
pct_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t		 i, o = 0;
	unsigned int	 v;
	char		 hex[3];

	for (i = 0; i < len; i++) {
		if (o + 1 >= outsz)
			return -1;
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]))
			return -1;
		hex[0] = s[i + 1];
		hex[1] = s[i + 2];
		hex[2] = '\0';
		v = (unsigned int)strtoul(hex, NULL, 16);
		if (v < 0x21 || v > 0x7e)
			return -1;	/* no controls, blanks or 8-bit */
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

/*
 * One URI of rua= (3).  1 when kept, 0 when its scheme is not one we
 * send to, -1 when malformed.
 */
static int
tlsrpt_uri(const char *u, size_t len, struct tlsrpt_rua *r, char *why,
    size_t whylen)
{
	struct smtp_addr	 a;
	char			 addr[TLSRPT_URI_MAX + 3];
	const char		*host, *end;
	size_t			 i, hlen, consumed;

	for (i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			goto bad;
	if (len > 7 && strncasecmp(u, "mailto:", 7) == 0) {
		/* RFC 6068: no header fields (?...) in a report address */
		if (memchr(u, '?', len) != NULL)
			goto bad;
		addr[0] = '<';
		if (pct_decode(u + 7, len - 7, addr + 1, sizeof(addr) - 2) ==
		    -1)
			goto bad;
		strlcat(addr, ">", sizeof(addr));
		if (smtp_path_parse(addr, 0, &a, &consumed) != SMTP_ADDR_OK ||
		    consumed != strlen(addr) || a.at == strlen(a.addr))
			goto bad;
		r->scheme = TLSRPT_MAILTO;
		strlcpy(r->uri, a.addr, sizeof(r->uri));
		return 1;
	}
	if (len > 8 && strncasecmp(u, "https://", 8) == 0) {
		if (len > TLSRPT_URI_MAX)
			goto bad;
		host = u + 8;
		for (end = host; end < u + len && *end != '/' &&
		    *end != ':' && *end != '?' && *end != '#'; end++)
			;
		hlen = (size_t)(end - host);
		if (hlen == 0 || !smtp_domain_valid(host, hlen, 0))
			goto bad;
		r->scheme = TLSRPT_HTTPS;
		memcpy(r->uri, u, len);
		r->uri[len] = '\0';
		return 1;
	}
	if (len == 0 || !isalpha((unsigned char)u[0]) ||
	    memchr(u, ':', len) == NULL)
		goto bad;
	return 0;
 bad:
	snprintf(why, whylen, "bad report URI \"%.*s\"",
	    (int)(len > 80 ? 80 : len), u);
	return -1;
}

/* rua=URI *(*WSP "," *WSP URI), up to the next ";" or the end. */
static int
tlsrpt_rua_field(const char **pp, struct tlsrpt_record *rec, char *why,
    size_t whylen)
{
	const char	*p = *pp, *u;
	int		 r;

	for (;;) {
		u = p;
		while (*p != '\0' && *p != ',' && *p != ';' && !WSP(*p))
			p++;
		if (p == u) {
			snprintf(why, whylen, "empty report URI");
			return -1;
		}
		if (rec->nrua == TLSRPT_RUA_MAX) {
			snprintf(why, whylen, "more than %d report URIs",
			    TLSRPT_RUA_MAX);
			return -1;
		}
		if ((r = tlsrpt_uri(u, (size_t)(p - u), &rec->rua[rec->nrua],
		    why, whylen)) == -1)
			return -1;
		rec->nrua += r;
		while (WSP(*p))
			p++;
		if (*p != ',')
			break;
		p++;
		while (WSP(*p))
			p++;
	}
	*pp = p;
	return 0;
}

/* One TLSRPTv1 record after its version: 0, or -1 with why set. */
static int
tlsrpt_txt_parse(const char *s, struct tlsrpt_record *rec, char *why,
    size_t whylen)
{
	const char	*p = s, *name, *v;
	size_t		 nlen;

	memset(rec, 0, sizeof(*rec));
	if (strlen(s) > TLSRPT_RECORD_MAX) {
		snprintf(why, whylen, "record longer than %d bytes",
		    TLSRPT_RECORD_MAX);
		return -1;
	}
	for (;;) {
		/* field-delim = *WSP ";" *WSP; a final one may end it */
		while (WSP(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';') {
			snprintf(why, whylen, "\";\" expected at \"%.40s\"",
			    p - 1);
			return -1;
		}
		while (WSP(*p))
			p++;
		if (*p == '\0')
			break;
		name = p;
		if (!isalnum((unsigned char)*p)) {
			snprintf(why, whylen, "bad field at \"%.40s\"", p);
			return -1;
		}
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		    *p == '.')
			p++;
		nlen = (size_t)(p - name);
		if (nlen > 32 || *p != '=') {
			snprintf(why, whylen, "bad field at \"%.40s\"", name);
			return -1;
		}
		p++;
		if (nlen == 3 && strncmp(name, "rua", 3) == 0) {
			if (tlsrpt_rua_field(&p, rec, why, whylen) == -1)
				return -1;
			continue;
		}
		/* tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
		for (v = p; *p > 0x20 && *p < 0x7f && *p != ';' && *p != '=';
		    p++)
			;
		if (p == v) {
			snprintf(why, whylen, "empty value for \"%.*s\"",
			    (int)nlen, name);
			return -1;
		}
	}
	if (rec->nrua == 0) {
		snprintf(why, whylen, "no mailto: or https: report URI");
		return -1;
	}
	return 0;
}

/*
 * The TXT records of _smtp._tls.DOMAIN, each its strings joined, with
 * their lengths: exactly one must begin with the version (3).  A record
 * with the version that is too long for us or holds a NUL still counts
 * as one: two records with the version, one of them unusable, are two
 * (the domain takes no reports), never the other one alone.
 */
enum tlsrpt_txt
tlsrpt_txt_select(const char *const *txt, const size_t *len, size_t n,
    struct tlsrpt_record *rec, char *why, size_t whylen)
{
	size_t		 i, found = 0, which = 0;
	const char	*v = "v=TLSRPTv1";
	size_t		 vlen = strlen(v);
	char		 c;

	snprintf(why, whylen, "no TLSRPTv1 record");
	for (i = 0; i < n; i++) {
		if (len[i] < vlen || memcmp(txt[i], v, vlen) != 0)
			continue;
		c = len[i] > vlen ? txt[i][vlen] : '\0';
		if (c != '\0' && c != ';' && !WSP(c))
			continue;	/* "v=TLSRPTv10" is another version */
		found++;
		which = i;
	}
	if (found == 0)
		return TLSRPT_TXT_NONE;
	if (found > 1) {
		snprintf(why, whylen, "%zu TLSRPTv1 records (one is allowed)",
		    found);
		return TLSRPT_TXT_INVALID;
	}
	if (len[which] > TLSRPT_RECORD_MAX ||
	    memchr(txt[which], '\0', len[which]) != NULL) {
		snprintf(why, whylen, "its TLSRPTv1 record is over %d octets "
		    "or holds a NUL", TLSRPT_RECORD_MAX);
		return TLSRPT_TXT_INVALID;
	}
	if (tlsrpt_txt_parse(txt[which] + vlen, rec, why, whylen) == -1)
		return TLSRPT_TXT_INVALID;
	return TLSRPT_TXT_FOUND;
}

/* --- the report (4) --- */

struct tlsrpt_detail {
	char		 result[40];
	char		 mx[256];
	char		 rip[48];	/* receiving-ip */
	char		 sip[48];	/* sending-mta-ip */
	uint64_t	 count;
};

struct tlsrpt_policy {
	int			 type;
	char			 domain[256];
	uint64_t		 success, failure;
	size_t			 nstrings;
	char			*strings[TLSRPT_STRINGS_MAX];
	size_t			 nmx;
	char			 mxhost[TLSRPT_MXHOST_MAX][256];
	size_t			 ndetails;
	struct tlsrpt_detail	*details;	/* TLSRPT_DETAILS_MAX */
};

struct tlsrpt_report {
	size_t			 n;
	struct tlsrpt_policy	 pol[TLSRPT_POLICIES_MAX];
};

struct tlsrpt_report *
tlsrpt_new(void)
{
	return calloc(1, sizeof(struct tlsrpt_report));
}

static void
policy_strings_clear(struct tlsrpt_policy *p)
{
	size_t	 i;

	for (i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	p->nstrings = 0;
}

void
tlsrpt_free(struct tlsrpt_report *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		policy_strings_clear(&r->pol[i]);
		free(r->pol[i].details);
	}
	free(r);
}

size_t
tlsrpt_count(const struct tlsrpt_report *r)
{
	return r->n;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct tlsrpt_policy *
policy_find(struct tlsrpt_report *r, int type, const char *domain, int make)
{
	struct tlsrpt_policy	*p;
	size_t			 i;

	for (i = 0; i < r->n; i++)
		if (r->pol[i].type == type &&
		    strcasecmp(r->pol[i].domain, domain) == 0)
			return &r->pol[i];
	if (!make || r->n == TLSRPT_POLICIES_MAX ||
	    strlen(domain) >= sizeof(p->domain))
		return NULL;
	p = &r->pol[r->n];
	memset(p, 0, sizeof(*p));
	if ((p->details = calloc(TLSRPT_DETAILS_MAX,
	    sizeof(*p->details))) == NULL)
		return NULL;
	p->type = type;
	strlcpy(p->domain, domain, sizeof(p->domain));
	r->n++;
	return p;
}

static void
policy_mxhost(struct tlsrpt_policy *p, const char *mx)
{
	size_t	 i;

	if (mx[0] == '\0' || strlen(mx) >= sizeof(p->mxhost[0]))
		return;
	for (i = 0; i < p->nmx; i++)
		if (strcasecmp(p->mxhost[i], mx) == 0)
			return;
	if (p->nmx < TLSRPT_MXHOST_MAX)
		strlcpy(p->mxhost[p->nmx++], mx, sizeof(p->mxhost[0]));
}

/*
 * count sessions of one outcome: result "success" or an RFC 8460 4.3
 * result type, under the policy (type, policy domain), with the MX host,
 * its address and ours ("" when unknown).  0, or -1 when the report is
 * full (TLSRPT_POLICIES_MAX policies, TLSRPT_DETAILS_MAX details in one)
 * or a field does not fit: the outcome is left out, and the caller says
 * so.
 */
int
tlsrpt_add(struct tlsrpt_report *r, int type, const char *domain,
    const char *result, const char *mx, const char *rip, const char *sip,
    uint64_t count)
{
	struct tlsrpt_policy	*p;
	struct tlsrpt_detail	*d;
	size_t			 i;

	if (type < TLSRPT_POLICY_NONE || type > TLSRPT_POLICY_STS ||
	    (p = policy_find(r, type, domain, 1)) == NULL)
		return -1;
	/* for a TLSA policy the MX hosts are what was evaluated (4.3) */
	if (type != TLSRPT_POLICY_STS)
		policy_mxhost(p, mx);
	if (strcmp(result, "success") == 0) {
		p->success = sat_add(p->success, count);
		return 0;
	}
	for (i = 0; i < p->ndetails; i++) {
		d = &p->details[i];
		if (strcmp(d->result, result) == 0 &&
		    strcasecmp(d->mx, mx) == 0 && strcmp(d->rip, rip) == 0 &&
		    strcmp(d->sip, sip) == 0)
			break;
	}
	if (i == p->ndetails) {
		if (p->ndetails == TLSRPT_DETAILS_MAX)
			return -1;
		d = &p->details[i];
		if (strlcpy(d->result, result, sizeof(d->result)) >=
		    sizeof(d->result) ||
		    strlcpy(d->mx, mx, sizeof(d->mx)) >= sizeof(d->mx) ||
		    strlcpy(d->rip, rip, sizeof(d->rip)) >= sizeof(d->rip) ||
		    strlcpy(d->sip, sip, sizeof(d->sip)) >= sizeof(d->sip))
			return -1;
		p->ndetails++;
	}
	d->count = sat_add(d->count, count);
	p->failure = sat_add(p->failure, count);
	return 0;
}

/*
 * The policy as it was applied (4.3 "policy-string"): an MTA-STS policy's
 * lines, or the TLSA records in presentation form, one per line of text.
 * For MTA-STS the "mx:" lines also give "mx-host".  Only for a policy
 * that has outcomes; 0, or -1 when there are too many lines.
 */
int
tlsrpt_policy_strings(struct tlsrpt_report *r, int type, const char *domain,
    const char *text)
{
	struct tlsrpt_policy	*p;
	const char		*line, *nl, *v;
	size_t			 len;
	char			 mx[256];

	if ((p = policy_find(r, type, domain, 0)) == NULL)
		return 0;
	policy_strings_clear(p);
	for (line = text; *line != '\0'; line = nl + (*nl != '\0')) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (len > TLSRPT_LINE_MAX || p->nstrings == TLSRPT_STRINGS_MAX)
			return -1;
		if ((p->strings[p->nstrings] = strndup(line, len)) == NULL)
			return -1;
		p->nstrings++;
		if (type == TLSRPT_POLICY_STS && len > 3 &&
		    strncmp(line, "mx:", 3) == 0) {
			for (v = line + 3; WSP(*v); v++)
				;
			snprintf(mx, sizeof(mx), "%.*s",
			    (int)(len - (size_t)(v - line)), v);
			policy_mxhost(p, mx);
		}
	}
	return 0;
}

static const char *
policy_type_name(int type)
{
	switch (type) {
	case TLSRPT_POLICY_TLSA:
		return "tlsa";
	case TLSRPT_POLICY_STS:
		return "sts";
	default:
		return "no-policy-found";
	}
}

/* RFC 3339 date-time in UTC (4.4 "date-range"). */
static json_t *
datetime(time_t t)
{
	struct tm	 tm;
	char		 s[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_string(s);
}

static json_t *
json_count(uint64_t n)
{
	return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* Set key to v (which may be NULL from a failed constructor): 0 or -1. */
static int
jset(json_t *o, const char *key, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, key, v);
}

static json_t *
detail_json(const struct tlsrpt_detail *d)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (jset(o, "result-type", json_string(d->result)) == -1 ||
	    (d->sip[0] != '\0' &&
	    jset(o, "sending-mta-ip", json_string(d->sip)) == -1) ||
	    (d->mx[0] != '\0' &&
	    jset(o, "receiving-mx-hostname", json_string(d->mx)) == -1) ||
	    (d->rip[0] != '\0' &&
	    jset(o, "receiving-ip", json_string(d->rip)) == -1) ||
	    jset(o, "failed-session-count", json_count(d->count)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
policy_json(const struct tlsrpt_policy *p)
{
	json_t	*o, *pol, *sum, *strs, *mxs, *det;
	size_t	 i;

	o = json_object();
	pol = json_object();
	sum = json_object();
	strs = json_array();
	mxs = json_array();
	det = json_array();
	if (o == NULL || pol == NULL || sum == NULL || strs == NULL ||
	    mxs == NULL || det == NULL)
		goto fail;
	for (i = 0; i < p->nstrings; i++)
		if (json_array_append_new(strs,
		    json_string(p->strings[i])) == -1)
			goto fail;
	for (i = 0; i < p->nmx; i++)
		if (json_array_append_new(mxs, json_string(p->mxhost[i])) == -1)
			goto fail;
	for (i = 0; i < p->ndetails; i++)
		if (json_array_append_new(det, detail_json(&p->details[i])) ==
		    -1)
			goto fail;
	if (jset(pol, "policy-type", json_string(policy_type_name(p->type))) ==
	    -1)
		goto fail;
	if (p->type != TLSRPT_POLICY_NONE) {
		if (json_object_set(pol, "policy-string", strs) == -1)
			goto fail;
	}
	if (jset(pol, "policy-domain", json_string(p->domain)) == -1 ||
	    (p->nmx > 0 && json_object_set(pol, "mx-host", mxs) == -1) ||
	    jset(sum, "total-successful-session-count",
	    json_count(p->success)) == -1 ||
	    jset(sum, "total-failure-session-count",
	    json_count(p->failure)) == -1 ||
	    json_object_set(o, "policy", pol) == -1 ||
	    json_object_set(o, "summary", sum) == -1 ||
	    (p->ndetails > 0 &&
	    json_object_set(o, "failure-details", det) == -1))
		goto fail;
	json_decref(pol);
	json_decref(sum);
	json_decref(strs);
	json_decref(mxs);
	json_decref(det);
	return o;
 fail:
	json_decref(o);
	json_decref(pol);
	json_decref(sum);
	json_decref(strs);
	json_decref(mxs);
	json_decref(det);
	return NULL;
}

/*
 * The report (4.4) into b: 0, or -1 when it cannot be made (no memory,
 * a string that is not UTF-8, larger than TLSRPT_JSON_MAX).
 */
int
tlsrpt_json(const struct tlsrpt_report *r, const struct tlsrpt_meta *m,
    struct buf *b)
{
	json_t	*root, *range, *pols;
	char	*s = NULL;
	size_t	 i;
	int	 rv = -1;

	root = json_object();
	range = json_object();
	pols = json_array();
	if (root == NULL || range == NULL || pols == NULL)
		goto done;
	for (i = 0; i < r->n; i++)
		if (json_array_append_new(pols, policy_json(&r->pol[i])) == -1)
			goto done;
	/* the range's end is its last second, as in 4.4's example */
	if (jset(range, "start-datetime", datetime(m->begin)) == -1 ||
	    jset(range, "end-datetime",
	    datetime(m->end > m->begin ? m->end - 1 : m->end)) == -1 ||
	    jset(root, "organization-name", json_string(m->org)) == -1 ||
	    json_object_set(root, "date-range", range) == -1 ||
	    jset(root, "contact-info", json_string(m->contact)) == -1 ||
	    jset(root, "report-id", json_string(m->report_id)) == -1 ||
	    json_object_set(root, "policies", pols) == -1)
		goto done;
	if ((s = json_dumps(root, JSON_INDENT(2))) == NULL ||
	    strlen(s) > TLSRPT_JSON_MAX)
		goto done;
	buf_reset(b);
	if (buf_addstr(b, s) == -1 || buf_addstr(b, "\n") == -1)
		goto done;
	rv = 0;
 done:
	free(s);
	json_decref(root);
	json_decref(range);
	json_decref(pols);
	return rv;
}

/* --- delivery (5) --- */

/*
 * 5.1: "sender!policy-domain!begin-timestamp!end-timestamp[!unique-id]"
 * with ".json.gz" for a compressed report; the timestamps in seconds
 * since the epoch, the end the range's last second as in the JSON.
 */
int
tlsrpt_filename(const char *submitter, const char *domain, time_t begin,
    time_t end, const char *unique, char *out, size_t outlen)
{
	int	 n;

	n = snprintf(out, outlen, "%s!%s!%lld!%lld%s%s.json.gz", submitter,
	    domain, (long long)begin, (long long)(end > begin ? end - 1 : end),
	    unique != NULL ? "!" : "", unique != NULL ? unique : "");
	if (n < 0 || (size_t)n >= outlen || strchr(out, '"') != NULL ||
	    strchr(out, '/') != NULL)
		return -1;
	return 0;
}

/*
 * An https: URI that tlsrpt_txt_select() kept: "https://" host [":"
 * port] [path-abempty ["?" query]] ["#" fragment].  No user information
 * and no IP literal (3 wants a host name to check the certificate of).
 */
int
tlsrpt_https_split(const char *uri, char *host, size_t hostlen,
    unsigned int *port, char *target, size_t targetlen)
{
	const char	*h, *p, *end;
	const char	*errstr;
	char		 num[8];
	size_t		 n;

	if (strncasecmp(uri, "https://", 8) != 0)
		return -1;
	h = uri + 8;
	end = h + strcspn(h, "#");
	for (p = h; p < end && *p != '/' && *p != ':' && *p != '?'; p++)
		;
	n = (size_t)(p - h);
	if (n == 0 || n >= hostlen || !smtp_domain_valid(h, n, 0))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = 443;
	if (p < end && *p == ':') {
		h = ++p;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		n = (size_t)(p - h);
		if (n == 0 || n >= sizeof(num))
			return -1;
		memcpy(num, h, n);
		num[n] = '\0';
		*port = (unsigned int)strtonum(num, 1, 65535, &errstr);
		if (errstr != NULL)
			return -1;
	}
	if (p < end && *p != '/' && *p != '?')
		return -1;
	n = (size_t)(end - p);
	if (n + 2 > targetlen)
		return -1;
	/* RFC 9110 3.2: an empty path is "/" */
	if (n == 0 || *p == '?') {
		target[0] = '/';
		memcpy(target + 1, p, n);
		target[n + 1] = '\0';
	} else {
		memcpy(target, p, n);
		target[n] = '\0';
	}
	return 0;
}

/* "HTTP/1.x NNN ..." (RFC 9112 4): NNN, or -1. */
int
tlsrpt_http_status(const char *s, size_t len)
{
	if (len < 13 || strncmp(s, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) || s[12] != ' ' ||
	    memchr(s, '\n', len) == NULL)
		return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

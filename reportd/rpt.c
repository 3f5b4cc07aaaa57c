/*
 * A received report, whole: the message in, one struct rpt out
 * (rpt_mime.c finds the part, rpt_unpack.c unpacks it, and the content
 * itself says which parser reads it: XML is an aggregate report, JSON a
 * TLS-RPT report, whatever the sender labelled it), and the two forms
 * posternctl show reports prints: one JSON object per line, or a table.
 *
 * Every string that leaves here is valid UTF-8 without control
 * characters: a report that would put anything else in a listing is
 * refused.
 */
#include <sys/types.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reportd/rpt.h"
#include "util.h"

const char *
rpt_kind_name(enum rpt_kind k)
{
	switch (k) {
	case RPT_DMARC:
		return "dmarc";
	case RPT_TLS:
		return "tls";
	case RPT_ARF:
		return "arf";
	default:
		return "none";
	}
}

/*
 * RFC 3629 4, with no overlongs, surrogates or controls (C0 but TAB CR LF,
 * DEL, C1).
 */
int
rpt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t		 i = 0, n, k;
	uint32_t	 c, min;

	while (i < len) {
		c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
			    c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			c &= 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		/* nor C1 controls: a CSI (U+009B) would reach a terminal */
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ||
		    (c >= 0x80 && c <= 0x9f))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int
str_ok(const char *s)
{
	return rpt_utf8_valid((const uint8_t *)s, strlen(s));
}

/* Every string of a parsed report is fit for a listing. */
static int
rpt_strings_ok(const struct rpt *r)
{
	size_t	 i;

	switch (r->kind) {
	case RPT_DMARC:
		if (!str_ok(r->dmarc.org) || !str_ok(r->dmarc.report_id) ||
		    !str_ok(r->dmarc.domain))
			return 0;
		for (i = 0; i < r->dmarc.nrows; i++)
			if (!str_ok(r->dmarc.rows[i].disposition))
				return 0;
		return 1;
	case RPT_TLS:
		if (!str_ok(r->tls.org) || !str_ok(r->tls.report_id))
			return 0;
		for (i = 0; i < r->tls.npolicies; i++)
			if (!str_ok(r->tls.policies[i].policy_type) ||
			    !str_ok(r->tls.policies[i].policy_domain))
				return 0;
		return 1;
	case RPT_ARF:
		return str_ok(r->arf.feedback_type) &&
		    str_ok(r->arf.source_ip) && str_ok(r->arf.reported_domain);
	default:
		return 0;
	}
}

/* XML or JSON, by the first byte that is not whitespace or a BOM. */
static enum rpt_kind
sniff(const struct buf *b, enum rpt_kind hint)
{
	size_t	 i = 0;

	if (b->len >= 3 && memcmp(b->data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < b->len && (b->data[i] == ' ' || b->data[i] == '\t' ||
	    b->data[i] == '\r' || b->data[i] == '\n'))
		i++;
	if (i == b->len)
		return hint;
	if (b->data[i] == '<')
		return RPT_DMARC;
	if (b->data[i] == '{')
		return RPT_TLS;
	return hint;
}

int
rpt_parse_message(const uint8_t *msg, size_t len, struct rpt *r, char *err,
    size_t errlen)
{
	struct rpt_part	 part;
	struct buf	 out;
	int		 rc = -1;

	memset(r, 0, sizeof(*r));
	if (rpt_mime_find(msg, len, &part, err, errlen) == -1)
		return -1;
	if (part.data.len == 0) {
		snprintf(err, errlen, "the report part is empty");
		rpt_part_free(&part);
		return -1;
	}
	if (part.kind == RPT_ARF) {
		rc = rpt_arf_parse(part.data.data, part.data.len, &r->arf, err,
		    errlen);
		r->kind = RPT_ARF;
		goto done;
	}
	buf_init(&out, RPT_UNPACK_MAX);
	if (rpt_unpack(part.data.data, part.data.len, part.pack,
	    RPT_UNPACK_MAX, &out, err, errlen) == -1)
		goto unpacked;
	if (out.len == 0) {
		snprintf(err, errlen, "the report is empty");
		goto unpacked;
	}
	r->kind = sniff(&out, part.kind);
	if (r->kind == RPT_DMARC)
		rc = rpt_dmarc_parse(out.data, out.len, &r->dmarc, err,
		    errlen);
	else
		rc = rpt_tls_parse(out.data, out.len, &r->tls, err, errlen);
unpacked:
	buf_free(&out);
done:
	rpt_part_free(&part);
	if (rc == 0 && !rpt_strings_ok(r)) {
		snprintf(err, errlen, "invalid UTF-8 or control characters "
		    "in the report");
		rc = -1;
	}
	if (rc == -1)
		rpt_free(r);
	return rc;
}

void
rpt_free(struct rpt *r)
{
	rpt_dmarc_free(&r->dmarc);
	rpt_tls_free(&r->tls);
	r->kind = RPT_NONE;
}

static json_t *
rpt_json_object(const struct rpt *r)
{
	json_t		*o, *a;
	size_t		 i;

	switch (r->kind) {
	case RPT_DMARC:
		a = json_array();
		for (i = 0; i < r->dmarc.nrows; i++) {
			const struct rpt_dmarc_row *w = &r->dmarc.rows[i];

			json_array_append_new(a, json_pack(
			    "{s:s, s:I, s:s, s:s, s:s}",
			    "source_ip", w->source_ip,
			    "count", (json_int_t)w->count,
			    "disposition", w->disposition,
			    "dkim", w->dkim, "spf", w->spf));
		}
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}",
		    "type", "dmarc", "org", r->dmarc.org,
		    "report_id", r->dmarc.report_id,
		    "domain", r->dmarc.domain,
		    "begin", (json_int_t)r->dmarc.begin,
		    "end", (json_int_t)r->dmarc.end, "rows", a);
		return o;
	case RPT_TLS:
		a = json_array();
		for (i = 0; i < r->tls.npolicies; i++) {
			const struct rpt_tls_policy *p = &r->tls.policies[i];

			json_array_append_new(a, json_pack(
			    "{s:s, s:s, s:I, s:I}",
			    "policy_type", p->policy_type,
			    "policy_domain", p->policy_domain,
			    "success", (json_int_t)p->success,
			    "failure", (json_int_t)p->failure));
		}
		return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}",
		    "type", "tls", "org", r->tls.org,
		    "report_id", r->tls.report_id,
		    "begin", (json_int_t)r->tls.begin,
		    "end", (json_int_t)r->tls.end, "policies", a);
	case RPT_ARF:
		return json_pack("{s:s, s:s, s:s, s:s}", "type", "arf",
		    "feedback_type", r->arf.feedback_type,
		    "source_ip", r->arf.source_ip,
		    "reported_domain", r->arf.reported_domain);
	default:
		return NULL;
	}
}

int
rpt_json(const struct rpt *r, struct buf *b)
{
	json_t	*o;
	char	*s;
	int	 rc;

	if ((o = rpt_json_object(r)) == NULL)
		return -1;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return -1;
	rc = buf_addstr(b, s) == -1 || buf_addstr(b, "\n") == -1 ? -1 : 0;
	free(s);
	return rc;
}

static void
utc(int64_t t, char *s, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(s, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(s, len, "%lld", (long long)t);
}

/* Readable lines: a heading per report, an indented line per row. */
int
rpt_table(const struct rpt *r, struct buf *b)
{
	char	 from[32], until[32];
	size_t	 i;
	int	 rc = 0;

	switch (r->kind) {
	case RPT_DMARC:
		utc(r->dmarc.begin, from, sizeof(from));
		utc(r->dmarc.end, until, sizeof(until));
		rc |= buf_printf(b, "dmarc %s from \"%s\" id %s, %s to %s, "
		    "%zu row(s)\n", r->dmarc.domain, r->dmarc.org,
		    r->dmarc.report_id, from, until, r->dmarc.nrows);
		for (i = 0; i < r->dmarc.nrows; i++) {
			const struct rpt_dmarc_row *w = &r->dmarc.rows[i];

			rc |= buf_printf(b, "  %-39s %8llu  %-10s dkim=%s "
			    "spf=%s\n", w->source_ip,
			    (unsigned long long)w->count,
			    w->disposition[0] ? w->disposition : "-",
			    w->dkim, w->spf);
		}
		break;
	case RPT_TLS:
		utc(r->tls.begin, from, sizeof(from));
		utc(r->tls.end, until, sizeof(until));
		rc |= buf_printf(b, "tls from \"%s\" id %s, %s to %s, %zu "
		    "polic%s\n", r->tls.org, r->tls.report_id, from, until,
		    r->tls.npolicies, r->tls.npolicies == 1 ? "y" : "ies");
		for (i = 0; i < r->tls.npolicies; i++) {
			const struct rpt_tls_policy *p = &r->tls.policies[i];

			rc |= buf_printf(b, "  %-15s %s success=%llu "
			    "failure=%llu\n", p->policy_type,
			    p->policy_domain, (unsigned long long)p->success,
			    (unsigned long long)p->failure);
		}
		break;
	case RPT_ARF:
		rc |= buf_printf(b, "arf %s source %s domain %s\n",
		    r->arf.feedback_type,
		    r->arf.source_ip[0] ? r->arf.source_ip : "-",
		    r->arf.reported_domain[0] ? r->arf.reported_domain : "-");
		break;
	default:
		return -1;
	}
	return rc == 0 ? 0 : -1;
}

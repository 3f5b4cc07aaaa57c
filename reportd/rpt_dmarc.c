/*
 * DMARC aggregate reports as others send them: the XML of RFC 9990
 * (namespace urn:ietf:params:xml:ns:dmarc-2.0, appendix A's schema) and
 * the older one of RFC 7489 appendix C (no namespace, or another one),
 * read with expat.
 *
 * What is taken: report_metadata's org_name, report_id and date_range,
 * policy_published's domain, and of each record its row: source_ip,
 * count and policy_evaluated's disposition, dkim and spf.  Elements are
 * matched by their local name and their place in the tree, whatever
 * namespace they are in; unknown elements (extensions, RFC 9990's
 * identifiers and auth_results, a sender's own additions) are skipped.
 * Whitespace around values is dropped.  A missing optional element
 * leaves its field empty; a report without report_id, domain or
 * date_range, or a row without source_ip or count, is refused.
 *
 * Hostile input: there is no DTD processing at all — a DOCTYPE (the way
 * in for entity expansion, "billion laughs", and external entities) stops
 * the parse — and the nesting depth, the length of each value, the number
 * of rows and the document's size are bounded.  expat refuses ill-formed
 * UTF-8 itself (XML 1.0 4.3.3 makes it a fatal error).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reportd/rpt.h"
#include "log.h"
#include "util.h"

#define XML_NAME_MAX	32	/* local names we compare: all shorter */
#define XML_TEXT_MAX	1024	/* a value we keep */
#define XML_NS_SEP	'\x01'

enum field {
	F_NONE,
	F_ORG,
	F_REPORT_ID,
	F_BEGIN,
	F_END,
	F_DOMAIN,
	F_SOURCE_IP,
	F_COUNT,
	F_DISPOSITION,
	F_DKIM,
	F_SPF
};

/* Paths below the root <feedback>, by local names. */
static const struct {
	const char	*path;
	enum field	 field;
} fields[] = {
	{ "report_metadata/org_name", F_ORG },
	{ "report_metadata/report_id", F_REPORT_ID },
	{ "report_metadata/date_range/begin", F_BEGIN },
	{ "report_metadata/date_range/end", F_END },
	{ "policy_published/domain", F_DOMAIN },
	{ "record/row/source_ip", F_SOURCE_IP },
	{ "record/row/count", F_COUNT },
	{ "record/row/policy_evaluated/disposition", F_DISPOSITION },
	{ "record/row/policy_evaluated/dkim", F_DKIM },
	{ "record/row/policy_evaluated/spf", F_SPF },
};

struct dmarc_parse {
	XML_Parser		 xp;
	struct rpt_dmarc	*r;
	int			 depth;
	char			 stack[RPT_XML_DEPTH_MAX][XML_NAME_MAX];
	enum field		 field;		/* of the open leaf */
	char			 text[XML_TEXT_MAX + 1];
	size_t			 textlen;
	int			 have_begin, have_end, have_domain;
	int			 in_row;
	struct rpt_dmarc_row	 row;
	int			 row_ip, row_count;
	size_t			 rowcap;
	char			*err;
	size_t			 errlen;
	int			 failed;
};

static void fail(struct dmarc_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct dmarc_parse *dp, const char *fmt, ...)
{
	va_list	 ap;

	if (!dp->failed) {
		va_start(ap, fmt);
		vsnprintf(dp->err, dp->errlen, fmt, ap);
		va_end(ap);
		dp->failed = 1;
	}
	XML_StopParser(dp->xp, XML_FALSE);
}

/* The local name of an expanded "uri<sep>local" name. */
static const char *
local_name(const char *name)
{
	const char	*s = strrchr(name, XML_NS_SEP);

	return s != NULL ? s + 1 : name;
}

/* The path of the open elements below the root. */
static enum field
path_field(const struct dmarc_parse *dp)
{
	char	 path[RPT_XML_DEPTH_MAX * (XML_NAME_MAX + 1)];
	size_t	 i;
	int	 d;

	path[0] = '\0';
	for (d = 1; d < dp->depth; d++) {
		if (d > 1)
			strlcat(path, "/", sizeof(path));
		strlcat(path, dp->stack[d], sizeof(path));
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(path, fields[i].path) == 0)
			return fields[i].field;
	return F_NONE;
}

static void
trim(char *s)
{
	size_t	 n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

/* A decimal integer in [0, max]: 0, or -1. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t	 n = 0;

	if (*s == '+')
		s++;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/* A word of lower-case letters (and -_) that fits: copied, or -1. */
static int
copy_word(char *dst, size_t len, const char *s)
{
	size_t	 i;

	if (*s == '\0' || strlen(s) >= len)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalpha((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return -1;
		dst[i] = tolower((unsigned char)s[i]);
	}
	dst[i] = '\0';
	return 0;
}

/* A name or id: printable, no control characters. */
static int
copy_text(char *dst, size_t len, const char *s)
{
	size_t	 i;

	if (strlen(s) >= len)
		return -1;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	strlcpy(dst, s, len);
	return 0;
}

static int
copy_ip(char *dst, size_t len, const char *s)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return inet_ntop(AF_INET, &a4, dst, len) == NULL ? -1 : 0;
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return inet_ntop(AF_INET6, &a6, dst, len) == NULL ? -1 : 0;
	return -1;
}

static void
leaf_end(struct dmarc_parse *dp)
{
	struct rpt_dmarc	*r = dp->r;
	char			*t = dp->text;
	uint64_t		 v;
	char			 word[16];

	t[dp->textlen] = '\0';
	trim(t);
	switch (dp->field) {
	case F_ORG:
		if (r->org[0] == '\0' && copy_text(r->org, sizeof(r->org),
		    t) == -1)
			fail(dp, "bad org_name");
		break;
	case F_REPORT_ID:
		if (r->report_id[0] == '\0' && (copy_text(r->report_id,
		    sizeof(r->report_id), t) == -1 || t[0] == '\0'))
			fail(dp, "bad report_id");
		break;
	case F_BEGIN:
	case F_END:
		/* xs:integer seconds since the epoch (RFC 9990 A) */
		if (parse_uint(t, (uint64_t)1 << 40, &v) == -1) {
			fail(dp, "bad date_range value \"%.64s\"", t);
			break;
		}
		if (dp->field == F_BEGIN) {
			r->begin = v;
			dp->have_begin = 1;
		} else {
			r->end = v;
			dp->have_end = 1;
		}
		break;
	case F_DOMAIN:
		if (dp->have_domain)
			break;
		if (copy_text(r->domain, sizeof(r->domain), t) == -1 ||
		    t[0] == '\0' || strchr(t, ' ') != NULL)
			fail(dp, "bad policy domain \"%.64s\"", t);
		dp->have_domain = 1;
		break;
	case F_SOURCE_IP:
		if (copy_ip(dp->row.source_ip, sizeof(dp->row.source_ip),
		    t) == -1)
			fail(dp, "bad source_ip \"%.64s\"", t);
		dp->row_ip = 1;
		break;
	case F_COUNT:
		if (parse_uint(t, RPT_COUNT_MAX, &dp->row.count) == -1)
			fail(dp, "bad count \"%.64s\"", t);
		dp->row_count = 1;
		break;
	case F_DISPOSITION:
		/* RFC 9990 A: none, pass, quarantine, reject */
		if (copy_word(dp->row.disposition,
		    sizeof(dp->row.disposition), t) == -1)
			fail(dp, "bad disposition \"%.64s\"", t);
		break;
	case F_DKIM:
	case F_SPF:
		/* DMARC-aligned results: pass or fail (RFC 9990 A) */
		if (copy_word(word, sizeof(word), t) == -1) {
			fail(dp, "bad policy_evaluated result \"%.64s\"", t);
			break;
		}
		strlcpy(dp->field == F_DKIM ? dp->row.dkim : dp->row.spf,
		    strcmp(word, "pass") == 0 ? "pass" : "fail",
		    sizeof(dp->row.dkim));
		break;
	case F_NONE:
		break;
	}
}

static void
row_end(struct dmarc_parse *dp)
{
	struct rpt_dmarc	*r = dp->r;

	if (!dp->row_ip || !dp->row_count) {
		fail(dp, "a row without %s", dp->row_ip ? "count" :
		    "source_ip");
		return;
	}
	if (r->nrows >= RPT_ROWS_MAX) {
		fail(dp, "more rows than the limit");
		return;
	}
	if (dp->row.dkim[0] == '\0')
		strlcpy(dp->row.dkim, "fail", sizeof(dp->row.dkim));
	if (dp->row.spf[0] == '\0')
		strlcpy(dp->row.spf, "fail", sizeof(dp->row.spf));
	if (r->nrows == dp->rowcap) {
		dp->rowcap = dp->rowcap == 0 ? 16 : dp->rowcap * 2;
		if (dp->rowcap > RPT_ROWS_MAX)
			dp->rowcap = RPT_ROWS_MAX;
		r->rows = xreallocarray(r->rows, dp->rowcap,
		    sizeof(*r->rows));
	}
	r->rows[r->nrows++] = dp->row;
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct dmarc_parse	*dp = arg;
	const char		*ln = local_name(name);

	if (dp->failed)
		return;
	if (dp->depth >= RPT_XML_DEPTH_MAX) {
		fail(dp, "elements nested deeper than the limit");
		return;
	}
	if (dp->depth == 0 && strcmp(ln, "feedback") != 0) {
		fail(dp, "root element <%.64s>, not <feedback>", ln);
		return;
	}
	/* a leaf we keep may not hold elements */
	if (dp->field != F_NONE) {
		fail(dp, "element inside a value");
		return;
	}
	strlcpy(dp->stack[dp->depth], ln, XML_NAME_MAX);
	dp->depth++;
	if (dp->depth == 3 && strcmp(dp->stack[1], "record") == 0 &&
	    strcmp(ln, "row") == 0) {
		if (dp->in_row) {
			fail(dp, "a record with two rows");
			return;
		}
		dp->in_row = 1;
		memset(&dp->row, 0, sizeof(dp->row));
		dp->row_ip = dp->row_count = 0;
	}
	dp->field = path_field(dp);
	dp->textlen = 0;
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct dmarc_parse	*dp = arg;

	if (dp->failed || dp->depth == 0)
		return;
	if (dp->field != F_NONE) {
		leaf_end(dp);
		dp->field = F_NONE;
	}
	if (dp->depth == 3 && strcmp(dp->stack[1], "record") == 0 &&
	    strcmp(dp->stack[2], "row") == 0 && dp->in_row)
		row_end(dp);
	if (dp->depth == 2 && strcmp(dp->stack[1], "record") == 0) {
		if (!dp->in_row)
			fail(dp, "a record without a row");
		dp->in_row = 0;
	}
	dp->depth--;
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct dmarc_parse	*dp = arg;

	if (dp->failed || dp->field == F_NONE || len <= 0)
		return;
	if ((size_t)len > XML_TEXT_MAX - dp->textlen) {
		fail(dp, "a value longer than the limit");
		return;
	}
	memcpy(dp->text + dp->textlen, s, len);
	dp->textlen += len;
}

/*
 * No DTD: a document type declaration is where entities are declared,
 * internal (expansion bombs) or external (file and network reads).
 */
static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	fail(arg, "a DOCTYPE (entities are not allowed)");
}

static void XMLCALL
on_entity_decl(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	fail(arg, "an entity declaration");
}

int
rpt_dmarc_parse(const uint8_t *xml, size_t len, struct rpt_dmarc *r,
    char *err, size_t errlen)
{
	struct dmarc_parse	*dp;
	int			 rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > RPT_UNPACK_MAX || len > INT32_MAX) {
		snprintf(err, errlen, "report larger than %d octets",
		    RPT_UNPACK_MAX);
		return -1;
	}
	dp = xcalloc(1, sizeof(*dp));
	dp->r = r;
	dp->err = err;
	dp->errlen = errlen;
	if ((dp->xp = XML_ParserCreateNS(NULL, XML_NS_SEP)) == NULL)
		fatalx("XML_ParserCreateNS");
	XML_SetUserData(dp->xp, dp);
	XML_SetElementHandler(dp->xp, on_start, on_end);
	XML_SetCharacterDataHandler(dp->xp, on_text);
	XML_SetStartDoctypeDeclHandler(dp->xp, on_doctype);
	XML_SetEntityDeclHandler(dp->xp, on_entity_decl);
	XML_SetParamEntityParsing(dp->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(dp->xp, (const char *)xml, (int)len, 1) !=
	    XML_STATUS_OK) {
		if (!dp->failed)
			snprintf(err, errlen, "XML line %lu: %s",
			    (unsigned long)XML_GetCurrentLineNumber(dp->xp),
			    XML_ErrorString(XML_GetErrorCode(dp->xp)));
		goto out;
	}
	if (dp->failed)
		goto out;
	if (r->report_id[0] == '\0')
		snprintf(err, errlen, "no report_id");
	else if (!dp->have_domain)
		snprintf(err, errlen, "no policy_published domain");
	else if (!dp->have_begin || !dp->have_end)
		snprintf(err, errlen, "no date_range");
	else if (r->end < r->begin)
		snprintf(err, errlen, "date_range ends before it begins");
	else
		rc = 0;
out:
	XML_ParserFree(dp->xp);
	free(dp);
	if (rc == -1)
		rpt_dmarc_free(r);
	return rc;
}

void
rpt_dmarc_free(struct rpt_dmarc *r)
{
	free(r->rows);
	r->rows = NULL;
	r->nrows = 0;
}

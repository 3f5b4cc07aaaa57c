/*
 * The evaluation record's binary form: the authd->reportd message and the
 * value reportd's evaluation store keeps, one format for both so that
 * reportd stores what it received without translating it.
 *
 * Layout (integers big-endian; str is a u16 length and that many bytes,
 * no NUL; bool is a u8 of 0 or 1; enums are a u8 checked against their
 * range; letters a u8 checked against their set):
 *	'D' 'E' version(u8, 1)
 *	when(u64) result(u8) source_ip(str) count(u32) disposition(u8)
 *	dkim_aligned_pass(bool) spf_aligned_pass(bool)
 *	nreasons(u8) { type(u8) comment(str) } x nreasons
 *	header_from(str) envelope_from(str) envelope_to(str)
 *	ndkim(u8) { domain(str) selector(str) result(u8) } x ndkim
 *	have_spf(bool) spf_domain(str) spf_result(u8)
 *	have_policy(bool) policy_domain(str) p(u8) sp(u8) np(u8)
 *	psd('y' 'n' 'u') testing(bool) adkim('r' 's') aspf('r' 's') fo(u8)
 *	discovery_treewalk(bool)
 *	[flags(u8): 0x01 report_mail]
 * These are the fields of one <record> of an RFC 9990 aggregate report
 * plus its <policy_published> and the time for grouping by interval.
 *
 * The decoder trusts nothing: the store can hold records written by an
 * older postern or damaged on disk, so every count, enum and string is
 * checked against the struct's bounds and the input must be used exactly.
 * The flags byte came later within version 1: the encoder always writes
 * it, the decoder takes a record without it (stored before) as flags 0.
 * Deliberately not here: compatibility with other versions (a change of
 * layout takes a new version and old stored records are skipped), any
 * check that fields agree with each other (reportd reports what authd
 * saw), and building or parsing report XML (reportd's report builders).
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include "auth/dmarc_eval.h"
#include "util.h"

int
dmarc_eval_add_reason(struct dmarc_eval_record *er, enum dmarc_override t,
    const char *comment)
{
	if (er->nreasons >= DMARC_MAX_REASONS ||
	    (unsigned int)t > DMARC_OVERRIDE_TRUSTED_FORWARDER)
		return -1;
	er->reasons[er->nreasons].type = t;
	strlcpy(er->reasons[er->nreasons].comment, comment ? comment : "",
	    sizeof(er->reasons[0].comment));
	er->nreasons++;
	return 0;
}

#define EVAL_MAGIC0	'D'
#define EVAL_MAGIC1	'E'
#define EVAL_VERSION	1
#define EVAL_F_REPORT_MAIL	0x01

static int
put_u8(struct buf *b, unsigned int v)
{
	uint8_t	 c = v;

	return buf_add(b, &c, 1);
}

static int
put_u32(struct buf *b, uint32_t v)
{
	uint8_t	 c[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_add(b, c, 4);
}

static int
put_u64(struct buf *b, uint64_t v)
{
	if (put_u32(b, v >> 32) == -1)
		return -1;
	return put_u32(b, (uint32_t)v);
}

static int
put_str(struct buf *b, const char *s, size_t max)
{
	size_t	 len = strnlen(s, max);
	uint8_t	 c[2];

	if (len >= max)
		return -1;
	c[0] = len >> 8;
	c[1] = len;
	if (buf_add(b, c, 2) == -1)
		return -1;
	return buf_add(b, s, len);
}

int
dmarc_eval_encode(const struct dmarc_eval_record *er, struct buf *b)
{
	size_t	 i;
	int	 rv = 0;

	if (er->nreasons > DMARC_MAX_REASONS || er->ndkim > DMARC_MAX_DKIM)
		return -1;
	rv |= put_u8(b, EVAL_MAGIC0);
	rv |= put_u8(b, EVAL_MAGIC1);
	rv |= put_u8(b, EVAL_VERSION);
	rv |= put_u64(b, (uint64_t)er->when);
	rv |= put_u8(b, er->result);
	rv |= put_str(b, er->source_ip, sizeof(er->source_ip));
	rv |= put_u32(b, er->count);
	rv |= put_u8(b, er->disposition);
	rv |= put_u8(b, er->dkim_aligned_pass != 0);
	rv |= put_u8(b, er->spf_aligned_pass != 0);
	rv |= put_u8(b, er->nreasons);
	for (i = 0; i < er->nreasons; i++) {
		rv |= put_u8(b, er->reasons[i].type);
		rv |= put_str(b, er->reasons[i].comment, DMARC_COMMENT_MAX);
	}
	rv |= put_str(b, er->header_from, DMARC_DOMAIN_MAX);
	rv |= put_str(b, er->envelope_from, DMARC_DOMAIN_MAX);
	rv |= put_str(b, er->envelope_to, DMARC_DOMAIN_MAX);
	rv |= put_u8(b, er->ndkim);
	for (i = 0; i < er->ndkim; i++) {
		rv |= put_str(b, er->dkim[i].domain, DMARC_DOMAIN_MAX);
		rv |= put_str(b, er->dkim[i].selector, DMARC_DOMAIN_MAX);
		rv |= put_u8(b, er->dkim[i].result);
	}
	rv |= put_u8(b, er->have_spf != 0);
	rv |= put_str(b, er->spf_domain, DMARC_DOMAIN_MAX);
	rv |= put_u8(b, er->spf_result);
	rv |= put_u8(b, er->have_policy != 0);
	rv |= put_str(b, er->policy_domain, DMARC_DOMAIN_MAX);
	rv |= put_u8(b, er->p);
	rv |= put_u8(b, er->sp);
	rv |= put_u8(b, er->np);
	/* a record without a policy still carries valid defaults */
	rv |= put_u8(b, er->psd ? (unsigned char)er->psd : 'u');
	rv |= put_u8(b, er->testing != 0);
	rv |= put_u8(b, er->adkim ? (unsigned char)er->adkim : 'r');
	rv |= put_u8(b, er->aspf ? (unsigned char)er->aspf : 'r');
	rv |= put_u8(b, er->fo);
	rv |= put_u8(b, er->discovery_treewalk != 0);
	rv |= put_u8(b, er->report_mail ? EVAL_F_REPORT_MAIL : 0);
	return rv ? -1 : 0;
}

struct reader {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;
};

static unsigned int
get_u8(struct reader *r, unsigned int max)
{
	unsigned int	 v;

	if (r->bad || r->left < 1) {
		r->bad = 1;
		return 0;
	}
	v = *r->p++;
	r->left--;
	if (v > max)
		r->bad = 1;
	return v;
}

static uint32_t
get_u32(struct reader *r)
{
	uint32_t	 v;

	if (r->bad || r->left < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static void
get_str(struct reader *r, char *out, size_t max)
{
	size_t	 len;

	out[0] = '\0';
	if (r->bad || r->left < 2) {
		r->bad = 1;
		return;
	}
	len = (size_t)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->left -= 2;
	if (len >= max || len > r->left || memchr(r->p, '\0', len) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p, len);
	out[len] = '\0';
	r->p += len;
	r->left -= len;
}

static char
get_letter(struct reader *r, const char *set)
{
	unsigned int	 c = get_u8(r, 255);

	if (c == 0 || strchr(set, (int)c) == NULL)
		r->bad = 1;
	return c;
}

int
dmarc_eval_decode(const void *data, size_t len, struct dmarc_eval_record *er)
{
	struct reader	 r;
	uint64_t	 when;
	size_t		 i;

	memset(er, 0, sizeof(*er));
	r.p = data;
	r.left = len;
	r.bad = 0;
	if (get_u8(&r, 255) != EVAL_MAGIC0 || get_u8(&r, 255) != EVAL_MAGIC1 ||
	    get_u8(&r, 255) != EVAL_VERSION)
		goto bad;
	when = (uint64_t)get_u32(&r) << 32;
	when |= get_u32(&r);
	er->when = (time_t)when;
	er->result = get_u8(&r, DMARC_RESULT_PERMERROR);
	get_str(&r, er->source_ip, sizeof(er->source_ip));
	er->count = get_u32(&r);
	er->disposition = get_u8(&r, DMARC_DISP_REJECT);
	er->dkim_aligned_pass = get_u8(&r, 1);
	er->spf_aligned_pass = get_u8(&r, 1);
	er->nreasons = get_u8(&r, DMARC_MAX_REASONS);
	for (i = 0; i < er->nreasons && !r.bad; i++) {
		er->reasons[i].type = get_u8(&r,
		    DMARC_OVERRIDE_TRUSTED_FORWARDER);
		get_str(&r, er->reasons[i].comment, DMARC_COMMENT_MAX);
	}
	get_str(&r, er->header_from, DMARC_DOMAIN_MAX);
	get_str(&r, er->envelope_from, DMARC_DOMAIN_MAX);
	get_str(&r, er->envelope_to, DMARC_DOMAIN_MAX);
	er->ndkim = get_u8(&r, DMARC_MAX_DKIM);
	for (i = 0; i < er->ndkim && !r.bad; i++) {
		get_str(&r, er->dkim[i].domain, DMARC_DOMAIN_MAX);
		get_str(&r, er->dkim[i].selector, DMARC_DOMAIN_MAX);
		er->dkim[i].result = get_u8(&r, DKIM_PERMERROR);
	}
	er->have_spf = get_u8(&r, 1);
	get_str(&r, er->spf_domain, DMARC_DOMAIN_MAX);
	er->spf_result = get_u8(&r, SPF_PERMERROR);
	er->have_policy = get_u8(&r, 1);
	get_str(&r, er->policy_domain, DMARC_DOMAIN_MAX);
	er->p = get_u8(&r, DMARC_POLICY_REJECT);
	er->sp = get_u8(&r, DMARC_POLICY_REJECT);
	er->np = get_u8(&r, DMARC_POLICY_REJECT);
	er->psd = get_letter(&r, "ynu");
	er->testing = get_u8(&r, 1);
	er->adkim = get_letter(&r, "rs");
	er->aspf = get_letter(&r, "rs");
	er->fo = get_u8(&r, DMARC_FO_0 | DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	er->discovery_treewalk = get_u8(&r, 1);
	if (!r.bad && r.left > 0)
		er->report_mail = get_u8(&r, EVAL_F_REPORT_MAIL) != 0;
	if (r.bad || r.left != 0)
		goto bad;
	return 0;
bad:
	memset(er, 0, sizeof(*er));
	return -1;
}

const char *
dmarc_eval_report_domain(const struct dmarc_eval_record *r)
{
	return r->have_policy && r->policy_domain[0] != '\0' ?
	    r->policy_domain : r->header_from;
}

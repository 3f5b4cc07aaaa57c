/*
 * libFuzzer target for reportd/arf.c: the failure report builder, fed an
 * evaluation whose strings and a header section come from the input
 * (the first byte chooses a DMARC, DKIM or SPF report; the next bytes
 * up to a NUL are the Author Domain, mapped to domain
 * characters, the next up to a NUL the MAIL FROM, the rest the header
 * section).  Checked: no crash;
 * a report that is built is 7 bit, its lines end in CRLF and are at most
 * 998 octets, and our own ARF reader takes it as an auth-failure report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reportd/arf.h"
#include "reportd/rpt.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
take(const uint8_t **p, size_t *len, char *out, size_t outlen)
{
	const uint8_t	*nul = memchr(*p, '\0', *len);
	size_t		 n = nul != NULL ? (size_t)(nul - *p) : *len;
	size_t		 c = n < outlen - 1 ? n : outlen - 1;

	memcpy(out, *p, c);
	out[c] = '\0';
	if (nul != NULL)
		n++;
	*p += n;
	*len -= n;
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint8_t		 key[ARF_REDACT_KEY_LEN];
	static struct dmarc_eval_record	 r;
	static const char *const	 to[] = { "ruf@example.org" };
	struct arf_report		 a;
	struct rpt			 p;
	struct buf			 b;
	char				 mf[1025], err[256];
	size_t				 i, run = 0;
	int				 kind = 0;

	memset(&r, 0, sizeof(r));
	r.when = 1700000000;
	r.result = DMARC_RESULT_FAIL;
	strlcpy(r.source_ip, "192.0.2.1", sizeof(r.source_ip));
	if (len > 0) {
		kind = data[0] % 3;
		data++;
		len--;
	}
	/* a domain of any letters: the reader checks what it takes back */
	take(&data, &len, r.header_from, 200);
	for (i = 0; r.header_from[i] != '\0'; i++)
		r.header_from[i] = "abcdefghijklmnopqrstuvwxyz0123456789.-"[
		    (uint8_t)r.header_from[i] % 38];
	if (r.header_from[0] == '\0')	/* failure.c sends none without */
		strlcpy(r.header_from, "example.org", sizeof(r.header_from));
	take(&data, &len, mf, sizeof(mf));
	strlcpy(r.spf_domain, r.header_from, sizeof(r.spf_domain));
	r.have_spf = 1;
	r.ndkim = 1;
	strlcpy(r.dkim[0].domain, r.header_from, sizeof(r.dkim[0].domain));
	strlcpy(r.dkim[0].selector, mf, sizeof(r.dkim[0].selector));
	r.dkim[0].result = DKIM_FAIL;
	memset(&a, 0, sizeof(a));
	a.from = "reports@example.net";
	a.to = to;
	a.nto = 1;
	a.message_id = "id@example.net";
	a.date = 1700000001;
	a.reporting_mta = "mx.example.net";
	a.auth_failure = "dmarc";
	a.eval = &r;
	a.mail_from = mf;
	a.header = data;
	a.header_len = len;
	a.redact_key = key;
	a.boundary = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
	if (kind == 1) {
		a.auth_failure = "bodyhash";
		a.dkim_domain = r.header_from;
		a.dkim_selector = mf;
		a.dkim_identity = mf;
	} else if (kind == 2) {
		a.auth_failure = "spf";
		a.spf_domain = r.header_from;
	}
	buf_init(&b, 1 << 20);
	if (arf_build(&a, &b) == -1) {
		if (b.len != 0)
			abort();
		buf_free(&b);
		return 0;
	}
	for (i = 0; i < b.len; i++) {
		if (b.data[i] >= 0x80 || b.data[i] == '\0')
			abort();
		if (b.data[i] == '\r' && (i + 1 == b.len ||
		    b.data[i + 1] != '\n'))
			abort();
		if (b.data[i] == '\n' && (i == 0 || b.data[i - 1] != '\r'))
			abort();
		run = b.data[i] == '\n' ? 0 : run + 1;
		if (run > 999)
			abort();
	}
	memset(&p, 0, sizeof(p));
	if (rpt_parse_message(b.data, b.len, &p, err, sizeof(err)) == -1 ||
	    p.kind != RPT_ARF ||
	    strcmp(p.arf.feedback_type, "auth-failure") != 0)
		abort();
	rpt_free(&p);
	buf_free(&b);
	return 0;
}

/*
 * Fuzz the DMARC parsers (auth/dmarc_record.c) and an evaluation
 * (auth/dmarc.c): the input is parsed as a policy record, as From field
 * values (one per line: the author domain, every Author Domain, which
 * must agree with it, and the mailboxes), and as an encoded evaluation
 * record (which, if it decodes, must encode back to the same bytes); then
 * it is published as the DMARC record of fuzz.test in an in-memory zone and a message from a
 * subdomain is evaluated with aligned and unaligned identifiers.
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "util.h"
#include "auth/dmarc.h"
#include "auth/dmarc_eval.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char zone_tail[] =
    "sub.fuzz.test. A 192.0.2.1\n"
    "_dmarc.psd.test. TXT \"v=DMARC1; p=reject; psd=y\"\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record	*rec;
	struct dmarc_eval_record er, back;
	struct dmarc_outcome	 o;
	struct dmarc_params	 p;
	struct dkim_sigresult	 sig[2];
	struct dmarc_ar_prop	 props[DMARC_AR_PROPS_MAX];
	struct dns_ctx		*dns;
	struct buf		 b;
	const char		*fields[4];
	const char		*from[1] = { "A <a@sub.fuzz.test>" };
	char			*txt, *zone, *line, *save, err[256];
	char			 dom[DMARC_DOMAIN_MAX];
	char			 boxes[4][DMARC_MAILBOX_MAX];
	char			 authors[DMARC_MAX_AUTHORS][DMARC_DOMAIN_MAX];
	int			 rc, na;
	size_t			 i, n, zl, nf = 0;

	if (size > 4096)
		return 0;
	txt = malloc(size + 1);
	memcpy(txt, data, size);
	txt[size] = '\0';

	rec = malloc(sizeof(*rec));
	dmarc_record_parse(txt, size, rec, err, sizeof(err));
	free(rec);

	for (line = strtok_r(txt, "\n", &save); line != NULL && nf < 4;
	    line = strtok_r(NULL, "\n", &save))
		fields[nf++] = line;
	rc = dmarc_author_domain(fields, nf, dom, sizeof(dom), err,
	    sizeof(err));
	/* RFC 9989 11.5's list agrees with the single Author Domain */
	na = dmarc_author_domains(fields, nf, authors, DMARC_MAX_AUTHORS, err,
	    sizeof(err));
	if ((rc == 0 && (na != 1 || strcmp(authors[0], dom) != 0)) ||
	    (rc == -1 && na == 1) || (na == -1 && rc == 0))
		abort();
	/* the same fields as the mailboxes a senders table checks */
	dmarc_from_mailboxes(fields, nf, boxes, 4, err, sizeof(err));

	if (dmarc_eval_decode(data, size, &er) == 0) {
		buf_init(&b, 1 << 16);
		/*
		 * The encoding is canonical, but for a record stored before
		 * the flags byte (auth/dmarc_eval.c): it decodes without
		 * one, and comes back with a flags byte of 0.
		 */
		if (dmarc_eval_encode(&er, &b) != 0 || (b.len != size &&
		    (b.len != size + 1 || b.data[size] != 0)) ||
		    memcmp(b.data, data, size) != 0 ||
		    dmarc_eval_decode(b.data, b.len, &back) != 0 ||
		    memcmp(&er, &back, sizeof(er)) != 0)
			abort();
		buf_free(&b);
	}

	/* Publish it (every byte as \DDD, 255-byte strings) and evaluate. */
	zl = size * 5 + sizeof(zone_tail) + 64;
	zone = malloc(zl);
	n = (size_t)snprintf(zone, zl, "_dmarc.fuzz.test. TXT \"");
	for (i = 0; i < size && n + 8 < zl; i++) {
		if (i > 0 && i % 255 == 0)
			n += (size_t)snprintf(zone + n, zl - n, "\" \"");
		n += (size_t)snprintf(zone + n, zl - n, "\\%03u", data[i]);
	}
	snprintf(zone + n, zl - n, "\"\n%s", zone_tail);
	dns = dns_ctx_zone_mem(NULL, zone, strlen(zone), err, sizeof(err));
	if (dns != NULL) {
		memset(&p, 0, sizeof(p));
		memset(sig, 0, sizeof(sig));
		sig[0].d = "x.sub.fuzz.test";
		sig[0].s = "s";
		sig[0].result = DKIM_PASS;
		sig[1].d = "other.psd.test";
		sig[1].s = "s";
		sig[1].result = DKIM_PASS;
		p.from_fields = from;
		p.nfrom = 1;
		p.mail_from = "bounce.fuzz.test";
		p.spf = SPF_PASS;
		p.dkim = sig;
		p.ndkim = 2;
		p.source_ip = "192.0.2.1";
		p.now = 1;
		p.trace = 1;
		dmarc_check_sync(dns, &p, &o);
		dmarc_ar_props(&o, props);
		buf_init(&b, 1 << 16);
		if (dmarc_eval_encode(&o.eval, &b) != 0 ||
		    dmarc_eval_decode(b.data, b.len, &back) != 0)
			abort();
		buf_free(&b);
		dmarc_outcome_clear(&o);
		/* the Author Domain itself, strict identifiers */
		from[0] = "a@fuzz.test";
		p.mail_from = NULL;
		p.helo = "fuzz.test";
		p.spf_scope = SPF_ID_HELO;
		dmarc_check_sync(dns, &p, &o);
		dmarc_outcome_clear(&o);
		dns_ctx_free(dns);
	}
	free(zone);
	free(txt);
	return 0;
}

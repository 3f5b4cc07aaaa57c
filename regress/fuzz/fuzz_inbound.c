/*
 * Fuzz the inbound decision end to end (auth/inbound.c): what authd runs
 * for every message -- SPF and iprev from the envelope, DKIM and ARC over
 * the message as it streams in, DMARC at the end, the
 * Authentication-Results field and the verdict -- over a message from the
 * input, with an in-memory zone that publishes SPF, DKIM (a key made once
 * at start), DMARC and reverse DNS for fuzz.test and other.test, as
 * `posternctl check message --dns-zone` would.
 *
 * Input: two option bytes (policy, client, MAIL FROM, chunk size; 0x80 of
 * the first: sign the message with the published key first, so that the
 * DKIM and DMARC pass paths are reached; 0x40: the first line is the
 * DMARC record of fuzz.test), then the message.
 *
 * The field must be one well-formed header field whatever the message
 * holds: it starts with its name, its lines end in CRLF, every line after
 * the first is a continuation, no NUL, none over 998 octets.
 */
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "auth/inbound.h"
#include "dns.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW	1800000000

static EVP_PKEY	*key;
static char	*keyrec;

static const char zone_tail[] =
    "fuzz.test. TXT \"v=spf1 ip4:192.0.2.0/24 a:mail.fuzz.test -all\"\n"
    "fuzz.test. MX 10 mail.fuzz.test.\n"
    "mail.fuzz.test. A 192.0.2.1\n"
    "mail.fuzz.test. AAAA 2001:db8::1\n"
    "1.2.0.192.in-addr.arpa. PTR mail.fuzz.test.\n"
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
    "ip6.arpa. PTR mail.fuzz.test.\n"
    "other.test. TXT \"v=spf1 include:fuzz.test ~all\"\n"
    "_dmarc.other.test. TXT \"v=DMARC1; p=quarantine; sp=none; adkim=s; "
    "aspf=s; pct=50; rua=mailto:r@other.test\"\n"
    "sub.fuzz.test. TXT \"v=spf1 ?all\"\n";

static const char dmarc_default[] =
    "v=DMARC1; p=reject; rua=mailto:rua@fuzz.test; "
    "ruf=mailto:ruf@fuzz.test; fo=1:d:s";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    (keyrec = dkim_key_record(key)) == NULL)
		abort();
	return 0;
}

/* TXT rdata: every octet as \DDD, split into strings of 255. */
static void
put_txt(struct buf *z, const char *owner, const uint8_t *p, size_t len)
{
	size_t	 i;

	buf_printf(z, "%s TXT \"", owner);
	for (i = 0; i < len; i++) {
		if (i > 0 && i % 255 == 0)
			buf_addstr(z, "\" \"");
		buf_printf(z, "\\%03u", p[i]);
	}
	buf_addstr(z, "\"\n");
}

static void
check_field(const struct buf *h)
{
	const uint8_t	*p = h->data;
	size_t		 i, linelen = 0;
	static const char name[] = "Authentication-Results:";

	if (h->len < sizeof(name) + 1 || memcmp(p, name,
	    sizeof(name) - 1) != 0 || p[h->len - 2] != '\r' ||
	    p[h->len - 1] != '\n')
		__builtin_trap();
	for (i = 0; i < h->len; i++) {
		if (p[i] == '\0' || (p[i] == '\n' && (i == 0 ||
		    p[i - 1] != '\r')))
			__builtin_trap();
		if (p[i] == '\r') {
			if (i + 1 >= h->len || p[i + 1] != '\n')
				__builtin_trap();
			/* a new field inside ours: header injection */
			if (i + 2 < h->len && p[i + 2] != ' ' &&
			    p[i + 2] != '\t')
				__builtin_trap();
			linelen = 0;
			i++;
			continue;
		}
		if (++linelen > 998)
			__builtin_trap();
	}
}

struct state {
	int	 done, spf_seen;
};

static void
spf_cb(void *arg, int refuse, int code, const char *status,
    const char *text)
{
	struct state	*st = arg;

	st->spf_seen = 1;
	if (refuse && (code < 400 || code > 599 || status == NULL ||
	    text == NULL))
		__builtin_trap();
}

static void
done_cb(void *arg, const struct inbound_result *r)
{
	struct state	*st = arg;

	st->done++;
	if (r->verdict > INBOUND_TEMPFAIL || r->nmethods >
	    INBOUND_METHODS_MAX || (r->verdict == INBOUND_ACCEPT &&
	    r->code != 0) || (r->verdict == INBOUND_REJECT &&
	    (r->code < 500 || r->code > 599)) ||
	    (r->verdict == INBOUND_TEMPFAIL &&
	    (r->code < 400 || r->code > 499)))
		__builtin_trap();
	check_field(&r->header);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ips[4] = {
		"192.0.2.1", "2001:db8::1", "198.51.100.7", "::ffff:192.0.2.1"
	};
	static const char *const froms[4] = {
		"alice@fuzz.test", "bob@other.test", "", "x@sub.fuzz.test"
	};
	static const enum inbound_mode modes[4] = {
		INBOUND_RELAXED, INBOUND_STRICT, INBOUND_DISABLE,
		INBOUND_RELAXED
	};
	char			 mboxes[4][DMARC_MAILBOX_MAX];
	struct inbound_policy	 pol;
	struct inbound_params	 p;
	struct dkim_signer	 sg;
	struct dkim_sign	*s;
	struct inbound		*in;
	struct dns_ctx		*dns;
	struct state		 st;
	struct buf		 z, msg;
	const uint8_t		*nl, *dmarc = (const uint8_t *)dmarc_default;
	size_t			 dmarclen = sizeof(dmarc_default) - 1;
	size_t			 chunk, off, n;
	char			 err[256], dom[256];
	uint8_t			 o0, o1;

	if (size < 2 || size > 65536)
		return 0;
	o0 = data[0];
	o1 = data[1];
	data += 2;
	size -= 2;
	if ((o0 & 0x40) && (nl = memchr(data, '\n', size)) != NULL) {
		dmarc = data;
		dmarclen = (size_t)(nl - data);
		size -= dmarclen + 1;
		data = nl + 1;
		if (dmarclen > 4096)	/* a zone entry holds 64 KB */
			dmarclen = 4096;
	}

	buf_init(&z, 1 << 20);
	put_txt(&z, "_dmarc.fuzz.test.", dmarc, dmarclen);
	put_txt(&z, "sel._domainkey.fuzz.test.", (const uint8_t *)keyrec,
	    strlen(keyrec));
	buf_addstr(&z, zone_tail);
	if ((dns = dns_ctx_zone_mem(NULL, buf_cstr(&z), z.len, err,
	    sizeof(err))) == NULL)
		__builtin_trap();	/* we only write well-formed zones */

	/* The message, signed first when asked (as a submission would be). */
	buf_init(&msg, 1 << 20);
	if (o0 & 0x80) {
		memset(&sg, 0, sizeof(sg));
		sg.key = key;
		sg.domain = "fuzz.test";
		sg.selector = "sel";
		sg.hcanon = sg.bcanon = DKIM_CANON_RELAXED;
		sg.t = NOW - 10;
		s = dkim_sign_new();
		if (dkim_sign_add(s, &sg, err, sizeof(err)) == 0) {
			dkim_sign_feed(s, data, size);
			dkim_sign_end(s, &msg, err, sizeof(err));
		}
		dkim_sign_free(s);
	}
	buf_add(&msg, data, size);

	memset(&pol, 0, sizeof(pol));
	pol.spf = modes[o1 & 3];
	pol.dkim = modes[(o1 >> 2) & 3];
	pol.arc = modes[(o1 >> 4) & 3];
	pol.dmarc = modes[(o1 >> 6) & 3];
	pol.spf_reject_fail = (o0 >> 5) & 1;
	pol.dkim_allow_sha1 = (o0 >> 4) & 1;
	pol.dkim_fail_partial_body = (o0 >> 3) & 1;
	pol.dkim_max_signatures = (o0 & 4) ? 2 : 0;
	memset(&p, 0, sizeof(p));
	p.authserv_id = "mx.fuzz.test";
	p.ip = ips[o0 & 3];
	p.helo = (o0 & 4) ? "mail.fuzz.test" : "[192.0.2.1]";
	p.mail_from = froms[(o0 >> 2) & 3];
	p.rcpt_domain = (o0 & 8) ? "fuzz.test" : NULL;
	p.policy = &pol;
	p.now = NOW;
	p.trace = (o1 & 1);

	memset(&st, 0, sizeof(st));
	in = inbound_new(dns, &p);
	inbound_on_spf(in, spf_cb, &st);
	if (o0 & 0x10)
		inbound_set_rcpt_domain(in, "other.test");
	chunk = (size_t)(o1 >> 3) * 97 + 1;
	for (off = 0; off < msg.len; off += n) {
		n = msg.len - off < chunk ? msg.len - off : chunk;
		inbound_feed(in, msg.data + off, n);
	}
	inbound_end(in, done_cb, &st);
	while (st.done == 0)
		if (dns_run_once(dns) == -1)
			break;
	if (st.done != 1)
		__builtin_trap();
	inbound_from_domain(in, dom, sizeof(dom));
	inbound_from_mailboxes(in, mboxes, 4, err, sizeof(err));
	inbound_arc_result(in);
	inbound_free(in);
	dns_ctx_free(dns);
	buf_free(&msg);
	buf_free(&z);
	return 0;
}

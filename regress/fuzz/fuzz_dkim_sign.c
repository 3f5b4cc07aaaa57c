/*
 * Fuzz DKIM signing (auth/dkim_sign.c with the header store and body
 * hashes it shares with dkim.c) over a hostile message.  Input: one
 * option byte (key, canonicalizations, l=, over-signing, chunk size, an
 * h= list from the input), then, when asked, a first line that is the
 * colon-separated list of header names to sign, then the message.  Keys
 * are made once: Ed25519 and a small RSA key (allow_small_key, as the
 * tests sign), so that a run costs no key generation.
 *
 * What is signed must verify: the fields dkim_sign_end() returns are put
 * before the message and checked with the verifier and the key's own
 * record; a signature of ours that comes out "fail" (a hash or signature
 * mismatch between signer and verifier) is a finding.  (Not over a
 * message that starts with white space: see below.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW	1800000000

static EVP_PKEY	*k_ed, *k_rsa;
static char	*rec_ed, *rec_rsa;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if ((k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    (k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)1024)) == NULL)
		abort();
	rec_ed = dkim_key_record(k_ed);
	rec_rsa = dkim_key_record(k_rsa);
	if (rec_ed == NULL || rec_rsa == NULL)
		abort();
	return 0;
}

static void
feed_chunks(void (*feed)(void *, const void *, size_t), void *ctx,
    const uint8_t *p, size_t len, size_t chunk)
{
	size_t	 off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		feed(ctx, p + off, n);
	}
}

static void
sign_feed(void *s, const void *p, size_t n)
{
	dkim_sign_feed(s, p, n);
}

static void
verify_feed(void *v, const void *p, size_t n)
{
	dkim_verify_feed(v, p, n);
}

/* Verify out (our fields) + msg; each of our signatures must not fail. */
static void
verify_ours(const struct buf *fields, const uint8_t *msg, size_t len,
    const char *rec, size_t chunk)
{
	struct dkim_verify_opts		 opts;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	const char			*name;
	size_t				 i, n, reclen = strlen(rec);

	memset(&opts, 0, sizeof(opts));
	opts.now = NOW;
	v = dkim_verify_new(&opts);
	dkim_verify_feed(v, fields->data, fields->len);
	feed_chunks(verify_feed, v, msg, len, chunk);
	dkim_verify_end(v);
	for (i = 0; i < dkim_verify_nkeys(v); i++) {
		name = dkim_verify_keyname(v, i);
		if (name != NULL && strcasecmp(name,
		    "sel._domainkey.fuzz.test") == 0)
			dkim_verify_set_key(v, i, DKIM_DNS_OK,
			    DKIM_DNSSEC_INSECURE, &rec, &reclen, 1);
		else
			dkim_verify_set_key(v, i, DKIM_DNS_NXDOMAIN,
			    DKIM_DNSSEC_INSECURE, NULL, NULL, 0);
	}
	r = dkim_verify_results(v, &n, NULL);
	for (i = 0; i < n; i++)
		if (r[i].d != NULL && strcmp(r[i].d, "fuzz.test") == 0 &&
		    r[i].s != NULL && strcmp(r[i].s, "sel") == 0 &&
		    r[i].result == DKIM_FAIL)
			__builtin_trap();
	dkim_verify_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_signer	 sg;
	struct dkim_sign	*s;
	struct buf		 out;
	const uint8_t		*nl;
	char			 err[256], *hdrs = NULL;
	size_t			 chunk;
	uint8_t			 o;

	if (size < 1 || size > 65536)
		return 0;
	o = data[0];
	data++;
	size--;
	if ((o & 0x80) && (nl = memchr(data, '\n', size)) != NULL) {
		hdrs = xstrndup((const char *)data, (size_t)(nl - data));
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	chunk = (size_t)((o >> 4) & 7) * 37 + 1;

	memset(&sg, 0, sizeof(sg));
	sg.key = (o & 1) ? k_rsa : k_ed;
	sg.allow_small_key = 1;
	sg.domain = "fuzz.test";
	sg.selector = "sel";
	sg.identity = (o & 0x40) ? "signer@sub.fuzz.test" : NULL;
	sg.hcanon = (o >> 1) & 1;
	sg.bcanon = (o >> 2) & 1;
	sg.body_length = (o >> 3) & 1;
	sg.no_oversign = (o >> 4) & 1;
	sg.headers = hdrs;
	sg.t = NOW - 10;
	sg.expire = (o & 0x20) ? 3600 : 0;

	s = dkim_sign_new();
	buf_init(&out, 1 << 20);
	if (dkim_sign_add(s, &sg, err, sizeof(err)) == 0) {
		feed_chunks(sign_feed, s, data, size, chunk);
		/*
		 * A message that starts with white space would make its
		 * first line a continuation of the fields put before it (as
		 * of any field: smtpd's Received: comes first), so only
		 * the others are checked.
		 */
		if (dkim_sign_end(s, &out, err, sizeof(err)) == 0 &&
		    (size == 0 || (data[0] != ' ' && data[0] != '\t')))
			verify_ours(&out, data, size, (o & 1) ? rec_rsa :
			    rec_ed, 64 - chunk % 64);
	}
	dkim_sign_free(s);
	buf_free(&out);
	free(hdrs);
	return 0;
}

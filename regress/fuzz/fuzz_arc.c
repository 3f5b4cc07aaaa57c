/*
 * libFuzzer target for ARC (auth/arc.c): whole messages with ARC header
 * fields go to the chain validator, every key it asks for answered with
 * one fixed Ed25519 key record (every third one SERVFAIL), then to the
 * sealer with the status the validator found.  The first byte picks the
 * chunk size.  Invariants: a failed or temporary result has a reason;
 * the set count stays within 50; and a message that had no ARC field at
 * all, once sealed, validates as a one-set chain.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/arc.h"
#include "auth/dkim.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY	*key;
static char	*keyrec;

static const struct arc_chainresult *
run_verify(struct arc_verify *v, const uint8_t *msg, size_t len,
    size_t chunk, int tempfail)
{
	const char	*rec = keyrec;
	size_t		 reclen = strlen(keyrec), off, n, k;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		arc_verify_feed(v, msg + off, n);
	}
	arc_verify_end(v);
	for (k = 0; k < arc_verify_nkeys(v); k++)
		if (tempfail && k % 3 == 2)
			arc_verify_set_key(v, k, DKIM_DNS_TEMPFAIL,
			    DKIM_DNSSEC_UNKNOWN, NULL, NULL, 0);
		else
			arc_verify_set_key(v, k, DKIM_DNS_OK,
			    DKIM_DNSSEC_INSECURE, &rec, &reclen, 1);
	return arc_verify_result(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_sealer		 cfg;
	struct arc_verify		*v, *v2;
	struct arc_seal			*s;
	const struct arc_chainresult	*r, *r2;
	struct buf			 out;
	char				 err[256];
	size_t				 chunk;
	int				 rv, had_arc;

	if (key == NULL) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		keyrec = dkim_key_record(key);
	}
	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;

	v = arc_verify_new(NULL);
	r = run_verify(v, data, size, chunk, 1);
	if (r->result != ARC_PASS && r->result != ARC_NONE &&
	    r->reason[0] == '\0')
		__builtin_trap();
	if (r->nsets > ARC_MAX_SETS)
		__builtin_trap();
	had_arc = r->result != ARC_NONE;

	memset(&cfg, 0, sizeof(cfg));
	cfg.key = key;
	cfg.domain = "fuzz.example";
	cfg.selector = "ed";
	cfg.authres = "mx.fuzz.example; arc=none";
	cfg.t = 1800000000;
	if ((s = arc_seal_new(&cfg, err, sizeof(err))) == NULL)
		__builtin_trap();
	arc_seal_feed(s, data, size);
	buf_init(&out, 1 << 24);
	rv = arc_seal_end(s, r->result, &out, err, sizeof(err));
	if (rv == 0 && !had_arc && size > 0 && isalpha(data[0]) &&
	    memchr(data, '\0', size) == NULL) {
		/* Our own seal on a clean message must validate. */
		buf_add(&out, data, size);
		v2 = arc_verify_new(NULL);
		r2 = run_verify(v2, out.data, out.len, out.len, 0);
		if (r2->result != ARC_PASS && r2->nsets == 1 &&
		    strstr(r2->reason, "limits") == NULL)
			__builtin_trap();
		arc_verify_free(v2);
	}
	buf_free(&out);
	arc_seal_free(s);
	arc_verify_free(v);
	return 0;
}

/*
 * DANE for SMTP: which TLSA records are usable and whether a server's
 * certificate chain matches them (RFC 7672 3.1, RFC 7671 5).
 *
 * Usable are DANE-TA(2) and DANE-EE(3) with selector Cert(0) or SPKI(1)
 * and matching type Full(0), SHA2-256(1) or SHA2-512(2) whose data has
 * the digest's length (RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not
 * used for SMTP).  DANE-EE matches the server's own certificate or key
 * with no check of names or dates (RFC 7672 3.1.1).  DANE-TA matches a
 * certificate of the chain the server sent, or, for a full public key
 * (2 1 0), the key that signed the chain's last certificate (RFC 7671
 * 5.2.2); from there the chain is verified as PKIX would, dates included,
 * and the server's certificate must name one of the reference
 * identifiers (RFC 7672 3.2.2: the MX host and the next-hop domain),
 * a wildcard standing for one whole leftmost label only (3.2.3).
 *
 * Not here: the DNS (the caller uses only a secure TLSA RRset of a host
 * reached through a secure MX, and treats a bogus one as a temporary
 * failure) and the handshake.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mta/dane.h"

int
dane_tlsa_parse(const uint8_t *rdata, size_t len, struct dane_tlsa *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 4 || len - 3 > DANE_DATA_MAX)
		return -1;
	t->usage = rdata[0];
	t->selector = rdata[1];
	t->mtype = rdata[2];
	t->len = len - 3;
	memcpy(t->data, rdata + 3, t->len);
	return 0;
}

int
dane_tlsa_usable(const struct dane_tlsa *t)
{
	if (t->usage != DANE_USAGE_DANE_TA && t->usage != DANE_USAGE_DANE_EE)
		return 0;
	if (t->selector > 1)
		return 0;
	switch (t->mtype) {
	case 0:
		return t->len > 0;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return 0;
	}
}

/* Keeps the usable records, in order; returns how many. */
size_t
dane_tlsa_filter(struct dane_tlsa *t, size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++)
		if (dane_tlsa_usable(&t[i])) {
			if (k != i)
				t[k] = t[i];
			k++;
		}
	return k;
}

/* "3 1 1 0123abcd..." for logs; long data is cut. */
void
dane_tlsa_format(const struct dane_tlsa *t, char *out, size_t outsz)
{
	size_t	 i, off;
	int	 n;

	n = snprintf(out, outsz, "%u %u %u ", t->usage, t->selector, t->mtype);
	if (n < 0 || (size_t)n >= outsz)
		return;
	off = n;
	for (i = 0; i < t->len && i < 32 && off + 3 < outsz; i++, off += 2)
		snprintf(out + off, outsz - off, "%02x", t->data[i]);
	if (i < t->len && off + 4 < outsz)
		snprintf(out + off, outsz - off, "...");
}

static STACK_OF(X509) *
dane_chain_load(const uint8_t *pem, size_t len)
{
	STACK_OF(X509)	*chain;
	BIO		*bio;
	X509		*x;

	if (len == 0 || len > DANE_CHAIN_PEM_MAX)
		return NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	if ((chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return NULL;
	}
	while (sk_X509_num(chain) < DANE_CHAIN_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			break;
		}
	ERR_clear_error();	/* the end of the PEM text reads as an error */
	BIO_free(bio);
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		return NULL;
	}
	return chain;
}

/* RFC 6698 2.1.2-2.1.3: the selected part of x, hashed as the record says. */
static int
dane_tlsa_match(const struct dane_tlsa *t, X509 *x)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	int		 len, ok = 0;

	if (t->selector == 0)
		len = i2d_X509(x, &der);
	else
		len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len <= 0)
		return 0;
	if (t->mtype == 0)
		ok = (size_t)len == t->len && memcmp(der, t->data, len) == 0;
	else if (EVP_Digest(der, len, md, &mdlen, t->mtype == 1 ?
	    EVP_sha256() : EVP_sha512(), NULL) == 1)
		ok = mdlen == t->len && memcmp(md, t->data, mdlen) == 0;
	OPENSSL_free(der);
	return ok;
}

/* RFC 8460 4.3 result types for what X509_verify_cert() found. */
static const char *
dane_verify_rpt(int err)
{
	switch (err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	default:
		return "certificate-not-trusted";
	}
}

/*
 * PKIX from the server's certificate up to chain[ta], which a DANE-TA
 * record vouches for: dates, signatures, the server purpose and the
 * names.  1 if it holds; else 0 with res->rpt and res->why.
 */
static int
dane_ta_verify(STACK_OF(X509) *chain, int ta, const char *const *names,
    size_t nnames, time_t now, struct dane_result *res)
{
	X509_STORE		*store = NULL;
	X509_STORE_CTX		*ctx = NULL;
	X509_VERIFY_PARAM	*param;
	STACK_OF(X509)		*between = NULL;
	size_t			 i;
	int			 d, ok = 0, err = X509_V_ERR_UNSPECIFIED;

	if ((store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, sk_X509_value(chain, ta)) ||
	    (between = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto done;
	for (d = 1; d < ta; d++)
		if (!sk_X509_push(between, sk_X509_value(chain, d)))
			goto done;
	if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), between))
		goto done;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(param, now);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (i = 0; i < nnames; i++)
		if (!(i == 0 ? X509_VERIFY_PARAM_set1_host(param, names[i], 0) :
		    X509_VERIFY_PARAM_add1_host(param, names[i], 0)))
			goto done;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx) == 1;
	err = X509_STORE_CTX_get_error(ctx);
 done:
	if (!ok) {
		res->rpt = dane_verify_rpt(err);
		snprintf(res->why, sizeof(res->why), "DANE-TA matched at "
		    "depth %d, but the chain does not verify: %s", ta,
		    X509_verify_cert_error_string(err));
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(between);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

/*
 * A 2 1 0 record is the trust anchor's public key itself, which need not
 * be in the chain (RFC 7671 5.2.2): it must have signed the chain's last
 * certificate.
 */
static int
dane_ta_key_signed(const struct dane_tlsa *t, X509 *top)
{
	const unsigned char	*p = t->data;
	EVP_PKEY		*key;
	int			 ok;

	if (t->selector != 1 || t->mtype != 0)
		return 0;
	if ((key = d2i_PUBKEY(NULL, &p, (long)t->len)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	ok = X509_verify(top, key) == 1;
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok;
}

static int
dane_try_ta(STACK_OF(X509) *chain, const struct dane_tlsa *t,
    const char *const *names, size_t nnames, time_t now,
    struct dane_result *res, int *tried)
{
	int	 d, n = sk_X509_num(chain);

	for (d = 1; d < n; d++)
		if (dane_tlsa_match(t, sk_X509_value(chain, d))) {
			*tried = 1;
			if (dane_ta_verify(chain, d, names, nnames, now, res)) {
				res->depth = d;
				return 1;
			}
		}
	if (dane_ta_key_signed(t, sk_X509_value(chain, n - 1))) {
		*tried = 1;
		if (dane_ta_verify(chain, n - 1, names, nnames, now, res)) {
			res->depth = n;
			return 1;
		}
	}
	return 0;
}

/*
 * Does the chain (PEM, the server's certificate first) match one of the
 * usable records t[0..n-1]?  names are the reference identifiers for
 * DANE-TA.  0 with res->verdict DANE_PASS, else -1 with DANE_FAIL and
 * the reason.
 */
int
dane_verify(const uint8_t *pem, size_t len, const struct dane_tlsa *t,
    size_t n, const char *const *names, size_t nnames, time_t now,
    struct dane_result *res)
{
	STACK_OF(X509)	*chain;
	size_t		 i;
	int		 tried = 0;

	memset(res, 0, sizeof(*res));
	res->verdict = DANE_FAIL;
	res->record = res->depth = -1;
	if ((chain = dane_chain_load(pem, len)) == NULL) {
		res->rpt = "validation-failure";
		snprintf(res->why, sizeof(res->why), "no certificate could be "
		    "read from the server's chain");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!dane_tlsa_usable(&t[i]))
			continue;
		if (t[i].usage == DANE_USAGE_DANE_EE) {
			/* RFC 7672 3.1.1: no name or date checks */
			if (dane_tlsa_match(&t[i], sk_X509_value(chain, 0))) {
				res->depth = 0;
				break;
			}
		} else if (dane_try_ta(chain, &t[i], names, nnames, now, res,
		    &tried))
			break;
	}
	sk_X509_pop_free(chain, X509_free);
	if (i < n) {
		res->verdict = DANE_PASS;
		res->record = (int)i;
		res->rpt = NULL;
		res->why[0] = '\0';
		return 0;
	}
	if (!tried) {
		res->rpt = "certificate-not-trusted";
		snprintf(res->why, sizeof(res->why), "no TLSA record matches "
		    "the server's certificate chain");
	}
	return -1;
}

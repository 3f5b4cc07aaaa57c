/*
 * Our own check of a TLS peer's certificate chain, so the mta knows the
 * outcome even for opportunistic TLS (where libtls is told not to check,
 * because an unverifiable certificate must not stop delivery there) and
 * can refuse on it for "tls verify".  The chain is verified against the
 * CA store read before chroot, and the leaf must match the host name by
 * the rules of RFC 6125 6.4 (OpenSSL's X509_check_host: DNS-ID first,
 * wildcards only as the whole left-most label) and be meant for a TLS
 * server: an extended key usage without serverAuth fails (RFC 5280
 * 4.2.1.12).  libtls would check the purpose when it verifies (OpenSSL
 * sets "ssl_server" for a client's chain), but the mta tells it not to,
 * so the check is ours to make.
 *
 * DANE (RFC 7672) will verify the same chain against TLSA records here.
 */
#include <sys/types.h>

#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "mta/mta.h"

#define MTA_CHAIN_MAX	16	/* certificates we look at in a chain */

int
mta_cert_verify(X509_STORE *store, const uint8_t *pem, size_t len,
    const char *host, char *why, size_t whylen)
{
	BIO		*bio;
	X509		*leaf = NULL, *c;
	STACK_OF(X509)	*chain;
	X509_STORE_CTX	*ctx = NULL;
	X509_VERIFY_PARAM *param;
	int		 rv = -1, n = 0;

	strlcpy(why, "unreadable certificate", whylen);
	if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	if ((chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return -1;
	}
	while (n < MTA_CHAIN_MAX &&
	    (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (leaf == NULL)
			leaf = c;
		else if (!sk_X509_push(chain, c))
			X509_free(c);
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (leaf == NULL)
		goto done;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, leaf, chain))
		goto done;
	/* RFC 5280 4.2.1.12: a certificate only for other uses is refused. */
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		goto done;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!X509_VERIFY_PARAM_set1_host(param, host, 0))
		goto done;
	if (X509_verify_cert(ctx) == 1) {
		strlcpy(why, "verified", whylen);
		rv = 0;
	} else
		strlcpy(why, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)), whylen);
done:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return rv;
}

/*
 * ARC (RFC 8617): chain validation and sealing.  A library like dkim.h,
 * on whose internals it is built (ARC-Message-Signature is a DKIM
 * signature, ARC keys are DKIM keys): it never does DNS or I/O itself.
 *
 * Validating (RFC 8617 5.2):
 *	v = arc_verify_new(&opts);
 *	arc_verify_feed(v, chunk, len) ...	(wire bytes, CRLF line ends)
 *	  once arc_verify_header_done(v): for k < arc_verify_nkeys(v), look
 *	  up arc_verify_keyname(v, k) TXT and call arc_verify_set_key(v, k, ...)
 *	arc_verify_end(v);
 *	r = arc_verify_result(v);		(after all keys are set)
 *	arc_verify_free(v);
 *
 * Sealing (RFC 8617 5.1), usually fed the same bytes alongside a verifier:
 *	s = arc_seal_new(&sealer, err, errlen);
 *	arc_seal_feed(s, chunk, len) ...
 *	arc_seal_end(s, r->result, &out, err, errlen);	(fields to prepend)
 *	arc_seal_free(s);
 */
#ifndef POSTERN_ARC_H
#define POSTERN_ARC_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "util.h"

#define ARC_MAX_SETS		50	/* RFC 8617 4.2.1: i= is 1 to 50 */
#define ARC_MAX_AUTHRES		4096	/* the A-R text we seal */

/* The cv= value of an ARC-Seal (RFC 8617 4.1.3). */
enum arc_cv {
	ARC_CV_NONE = 0,
	ARC_CV_PASS,
	ARC_CV_FAIL
};

/*
 * Chain validation status (RFC 8617 4.4; the A-R "arc" method results).
 * ARC_TEMPERROR is ours: a key lookup failed temporarily, so the chain
 * could be neither passed nor failed; do not seal on it.
 */
enum arc_result {
	ARC_NONE = 0,
	ARC_PASS,
	ARC_FAIL,
	ARC_TEMPERROR
};

struct arc_verify_opts {
	int		 min_rsa_bits;	/* 0: 1024 (RFC 8301 3.2) */
};

/* One ARC Set as found; sets[k] is instance k + 1. */
struct arc_setinfo {
	unsigned int	 instance;	/* 0: this set is missing */
	enum arc_cv	 cv;		/* as the ARC-Seal says */
	char		*ams_d;		/* ARC-Message-Signature d=, s= */
	char		*ams_s;
	char		*as_d;		/* ARC-Seal d=, s= */
	char		*as_s;
	char		*aar;		/* the A-R text after "i=N;" */
	int		 ams_ok;	/* -1 not checked, 0 failed, 1 good */
	int		 as_ok;
};

struct arc_chainresult {
	enum arc_result		 result;
	char			 reason[200];
	unsigned int		 fail_instance;	/* 0: not one set's fault */
	unsigned int		 nsets;		/* highest instance, <= 50 */
	/*
	 * RFC 8617 5.2 step 6: the lowest instance whose ARC-Message-
	 * Signature and all later ones validate; 0 when all of them do
	 * (reported as the A-R property header.oldest-pass).
	 */
	unsigned int		 oldest_pass;
	const struct arc_setinfo *sets;		/* nsets entries */
};

struct arc_verify;

struct arc_verify *arc_verify_new(const struct arc_verify_opts *);
void		 arc_verify_feed(struct arc_verify *, const void *, size_t);
int		 arc_verify_header_done(const struct arc_verify *);
size_t		 arc_verify_nkeys(const struct arc_verify *);
const char	*arc_verify_keyname(const struct arc_verify *, size_t);
/* As dkim_verify_set_key(). */
void		 arc_verify_set_key(struct arc_verify *, size_t k,
		    enum dkim_dns, enum dkim_dnssec,
		    const char *const *records, const size_t *lens,
		    size_t nrecords);
void		 arc_verify_end(struct arc_verify *);
const struct arc_chainresult *arc_verify_result(struct arc_verify *);
void		 arc_verify_free(struct arc_verify *);

const char	*arc_result_name(enum arc_result);
const char	*arc_cv_name(enum arc_cv);

struct arc_sealer {
	EVP_PKEY	*key;		/* borrowed until sealed */
	enum dkim_alg	 alg;		/* NONE: from the key type */
	const char	*domain;	/* d= of both signatures */
	const char	*selector;	/* s= */
	/*
	 * Our Authentication-Results value, without the field name:
	 * "authserv-id; spf=pass smtp.mailfrom=...; arc=pass" (RFC 8617
	 * 4.1.1).  One line; it is folded at its white space.
	 */
	const char	*authres;
	/* ARC-Message-Signature h= names; NULL: dkim_default_headers. */
	const char	*headers;
	time_t		 t;		/* 0: now; -1: no t= */
};

struct arc_seal;

struct arc_seal	*arc_seal_new(const struct arc_sealer *, char *err,
		    size_t errlen);
void		 arc_seal_feed(struct arc_seal *, const void *, size_t);
/* Replace the A-R text of the sealer (known only at the end). -1: bad. */
int		 arc_seal_set_authres(struct arc_seal *, const char *);
/*
 * Seal with the chain validation status of the message as it came in
 * (arc_verify_result()).  Appends ARC-Seal, ARC-Message-Signature and
 * ARC-Authentication-Results (folded, CRLF-terminated, in that order) to
 * out and returns 0; returns 1 with the reason in err when the message
 * must not be sealed (chain already at 50 sets, most recent set already
 * cv=fail, status unknown); -1 with err on failure.
 */
int		 arc_seal_end(struct arc_seal *, enum arc_result cv,
		    struct buf *out, char *err, size_t errlen);
void		 arc_seal_free(struct arc_seal *);

#endif

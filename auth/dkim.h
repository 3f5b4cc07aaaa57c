/*
 * DKIM (RFC 6376) verification and signing, with RFC 8301 (algorithm and key
 * size updates) and RFC 8463 (Ed25519-SHA256).  A library: it never does
 * DNS or I/O itself.  The verifier says which key records it needs
 * (selector._domainkey.domain TXT) once the header is in, and the caller
 * hands the answers back, so the same code runs from the authd event loop,
 * posternctl and the unit tests.
 *
 * Verifying:
 *	v = dkim_verify_new(&opts);
 *	dkim_verify_feed(v, chunk, len) ...	(wire bytes, CRLF line ends)
 *	  once dkim_verify_header_done(v): for i < dkim_verify_nkeys(v),
 *	  look up dkim_verify_keyname(v, i) TXT (may start while the body
 *	  still streams) and call dkim_verify_set_key(v, i, ...)
 *	dkim_verify_end(v);
 *	res = dkim_verify_results(v, &n);	(after all keys are set)
 *	dkim_verify_free(v);
 *
 * Signing:
 *	s = dkim_sign_new();
 *	dkim_sign_add(s, &signer, err, errlen) ...	(one per signature)
 *	dkim_sign_feed(s, chunk, len) ...
 *	dkim_sign_end(s, &out, err, errlen);	(fields to prepend)
 *	dkim_sign_free(s);
 */
#ifndef POSTERN_DKIM_H
#define POSTERN_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "config.h"
#include "util.h"

struct mailhdr_reader;

/* RFC 8601 2.7.1 result names. */
enum dkim_result {
	DKIM_NONE = 0,
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR
};

enum dkim_alg {
	DKIM_ALG_NONE = 0,
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1
};

/* enum dkim_canon (simple 0, relaxed 1) is config.h's: one definition. */

/* What the DNS said about a key record name. */
enum dkim_dns {
	DKIM_DNS_OK = 0,	/* NOERROR, records (possibly none) given */
	DKIM_DNS_NXDOMAIN,	/* the name does not exist */
	DKIM_DNS_TEMPFAIL	/* SERVFAIL, timeout, network, bogus DNSSEC */
};

enum dkim_dnssec {
	DKIM_DNSSEC_UNKNOWN = 0,
	DKIM_DNSSEC_INSECURE,
	DKIM_DNSSEC_SECURE,
	DKIM_DNSSEC_BOGUS
};

/* Bounds on untrusted input. */
#define DKIM_MAX_SIGS_DEFAULT	10	/* signatures evaluated per message */
#define DKIM_MAX_RESULTS	64	/* reported; more are only counted */
#define DKIM_MAX_FIELD		(64 * 1024)	/* one header field */
#define DKIM_MAX_FIELDS		1000	/* header fields per message */
#define DKIM_MAX_HEADER		(1024 * 1024)	/* whole header section */
#define DKIM_MAX_HNAMES		128	/* names in an h= list */
#define DKIM_MAX_KEYRECORD	8192	/* one key TXT record */
#define DKIM_MAX_KEYRECORDS	8	/* TXT records looked at per name */
#define DKIM_CLOCK_SKEW		300	/* seconds a t= may lie ahead */

struct dkim_verify_opts {
	int		 allow_sha1;	/* RFC 8301 3.1: off by default */
	unsigned int	 max_sigs;	/* 0: DKIM_MAX_SIGS_DEFAULT */
	time_t		 now;		/* 0: time(NULL); tests pin it */
	int		 min_rsa_bits;	/* 0: 1024 (RFC 8301 3.2) */
	/*
	 * RFC 6376 8.2: a signature whose l= leaves part of the body
	 * unsigned is "fail" instead of "pass" (with a comment either way).
	 */
	int		 fail_partial_body;
};

/* One signature's outcome. */
struct dkim_sigresult {
	enum dkim_result	 result;
	char			 reason[160];
	char			*d;		/* signing domain (SDID) */
	char			*s;		/* selector */
	char			*a;		/* algorithm as written */
	char			*i;		/* AUID, "@d" when absent */
	char			*b;		/* b= without FWS (header.b) */
	char			*h;		/* h= as signed, FWS removed */
	char			 canon[24];	/* "relaxed/simple" etc. */
	long long		 l;		/* l=, -1 if none */
	long long		 body_len;	/* body octets; -1 unset */
	int			 body_ok;	/* -1 unchecked, 0 no, 1 yes */
	const char		*keytype;	/* "rsa", "ed25519" or NULL */
	int			 keybits;
	int			 testing;	/* key t=y (RFC 6376 3.6.1) */
	int			 report;	/* r=y: reports asked, RFC 6651 */
	enum dkim_dnssec	 dnssec;
	time_t			 t;		/* -1 if none */
	time_t			 x;		/* -1 if none */
};

struct dkim_verify;

struct dkim_verify *dkim_verify_new(const struct dkim_verify_opts *);
void		 dkim_verify_feed(struct dkim_verify *, const void *, size_t);
int		 dkim_verify_header_done(const struct dkim_verify *);
size_t		 dkim_verify_nkeys(const struct dkim_verify *);
const char	*dkim_verify_keyname(const struct dkim_verify *, size_t);
/*
 * The answer for key name k: each record is one TXT RR with its strings
 * already concatenated (RFC 6376 3.6.2.2).  Records that do not parse as
 * DKIM keys are skipped; the first that does is used (RFC 6376 3.6.2.2
 * leaves multiple records undefined; this is what 6.1.2 suggests).
 */
void		 dkim_verify_set_key(struct dkim_verify *, size_t k,
		    enum dkim_dns, enum dkim_dnssec,
		    const char *const *records, const size_t *lens,
		    size_t nrecords);
void		 dkim_verify_end(struct dkim_verify *);
/*
 * Results, one per DKIM-Signature field in header order (at most
 * DKIM_MAX_RESULTS; *total gets the true count).  No signature at all gives
 * n = 0, which is result "none".
 */
const struct dkim_sigresult *dkim_verify_results(struct dkim_verify *,
		    size_t *n, size_t *total);
void		 dkim_verify_free(struct dkim_verify *);

/*
 * A key record answer made ready for dkim_verify_set_key() or
 * arc_verify_set_key() (auth/dkim_dns.c); a NULL answer (the name was
 * not a domain name) is "no such name".  Clear it after use.
 */
struct dns_answer;
struct dkim_keyans {
	enum dkim_dns		 st;
	enum dkim_dnssec	 sec;
	char			**recs;
	size_t			*lens;
	size_t			 n;
};
void		 dkim_keyans_from(struct dkim_keyans *,
		    const struct dns_answer *);
void		 dkim_keyans_clear(struct dkim_keyans *);

const char	*dkim_result_name(enum dkim_result);
const char	*dkim_alg_name(enum dkim_alg);
int		 dkim_alg_from_name(const char *, size_t);

/* Signing. */
struct dkim_signer {
	EVP_PKEY		*key;		/* borrowed until signed */
	enum dkim_alg		 alg;		/* NONE: from the key type */
	const char		*domain;	/* d= */
	const char		*selector;	/* s= */
	const char		*identity;	/* i=, optional */
	enum dkim_canon		 hcanon;
	enum dkim_canon		 bcanon;
	/* Colon-separated names; NULL: dkim_default_headers. */
	const char		*headers;
	int			 no_oversign;	/* don't add the extra names */
	int			 body_length;	/* emit l= */
	time_t			 t;		/* 0: now; -1: no t= */
	long long		 expire;	/* x= = t + expire; 0: no x= */
	int			 allow_sha1;	/* for DKIM_ALG_RSA_SHA1 */
	int			 allow_small_key; /* RSA < 1024 bits: tests */
};

extern const char *const dkim_default_headers;

struct dkim_sign;

struct dkim_sign *dkim_sign_new(void);
int		 dkim_sign_add(struct dkim_sign *, const struct dkim_signer *,
		    char *err, size_t errlen);
void		 dkim_sign_feed(struct dkim_sign *, const void *, size_t);
/* Appends each DKIM-Signature field, folded, CRLF-terminated, to out. */
int		 dkim_sign_end(struct dkim_sign *, struct buf *out, char *err,
		    size_t errlen);
void		 dkim_sign_free(struct dkim_sign *);

/* "v=DKIM1; k=rsa; p=..." for a key (allocated). */
char		*dkim_key_record(EVP_PKEY *);

/*
 * Internals shared by dkim.c and dkim_sign.c: the header store, streaming
 * body hashes (RFC 6376 3.4.3, 3.4.4 with 3.5 l=) shared by every signature
 * with the same (canonicalization, l=, hash), and the header hash
 * (RFC 6376 3.7, 5.4.2).
 */
#define DKIM_NO_FIELD	((size_t)-1)

struct dkim_field {
	size_t		 off;
	size_t		 len;
	size_t		 namelen;
};

struct dkim_bodyhash {
	enum dkim_canon	 canon;
	const EVP_MD	*md;
	long long	 limit;		/* -1: whole body */
	EVP_MD_CTX	*ctx;
	uint64_t	 total;		/* canonical body length, uncapped */
	uint64_t	 hashed;
	uint64_t	 nl;		/* line ends not yet emitted */
	int		 ws;		/* relaxed: WSP seen, not emitted */
	int		 cr;		/* CR seen, LF may follow */
	int		 content;	/* some body line emitted */
	int		 partial;	/* the last line has no CRLF yet */
	unsigned int	 dlen;
	uint8_t		 digest[EVP_MAX_MD_SIZE];
	size_t		 nstage;
	uint8_t		 stage[4096];	/* few, large digest updates */
};

struct dkim_msg {
	struct mailhdr_reader	*reader;
	struct buf		 hdr;
	struct dkim_field	*fields;
	size_t			 nfields;
	size_t			 capfields;
	int			 overflow;
	int			 header_done;
	struct dkim_bodyhash	**bh;
	size_t			 nbh;
	void			(*on_header)(void *);
	void			*arg;
};

void	 dkim_msg_init(struct dkim_msg *, void (*)(void *), void *);
void	 dkim_msg_feed(struct dkim_msg *, const void *, size_t);
void	 dkim_msg_end(struct dkim_msg *);
void	 dkim_msg_free(struct dkim_msg *);
const char *dkim_msg_field(const struct dkim_msg *, size_t, size_t *len);
struct dkim_bodyhash *dkim_msg_bodyhash(struct dkim_msg *, enum dkim_canon,
	    const EVP_MD *, long long limit);
const EVP_MD *dkim_alg_md(enum dkim_alg);
/* One header field as it is hashed: raw text, name first, no final CRLF. */
struct dkim_rawfield {
	const char	*raw;
	size_t		 len;
};

/*
 * The fields the names in h select (bottom-up instances, RFC 6376 5.4.2;
 * field number self, the signature being verified, is never selected,
 * DKIM_NO_FIELD when signing), in h order, into out (room for nnames).
 * Returns how many were found: a name with no instance left signs nothing.
 */
size_t	 dkim_select_fields(const struct dkim_msg *, char *const *names,
	    size_t nnames, size_t self, struct dkim_rawfield *out);
/*
 * Hash fields, each canonicalized and CRLF-terminated, then sigfield (the
 * signature field with b= empty, no final CRLF) with md, into digest
 * (RFC 6376 3.7; RFC 8617 5.1.1 uses the same for the ARC-Seal).
 */
int	 dkim_fields_hash(const struct dkim_rawfield *, size_t nfields,
	    const char *sigfield, size_t siglen, enum dkim_canon,
	    const EVP_MD *, uint8_t *digest, unsigned int *dlen);
/* dkim_select_fields() then dkim_fields_hash(). */
int	 dkim_header_hash(const struct dkim_msg *, char *const *names,
	    size_t nnames, size_t self, const char *sigfield, size_t siglen,
	    enum dkim_canon, const EVP_MD *, uint8_t *digest,
	    unsigned int *dlen);

/* Tag value checks shared by DKIM-Signature and the ARC fields. */
struct mailhdr_tag;
/* A DNS name of LDH (and, if allowed, underscore) labels. */
int	 dkim_valid_domain(const char *, int allow_underscore);
/* Decimal digits (at most maxdigits) into a non-negative value. */
int	 dkim_parse_num(const struct mailhdr_tag *, size_t maxdigits,
	    long long *);
/*
 * Split a colon list (FWS allowed around the colons) into at most max
 * names; the pointers and names share one allocation: free(*outp).
 */
int	 dkim_split_colon_list(const char *, size_t, size_t max, char ***outp,
	    size_t *np);

/*
 * Key records by name (selector._domainkey.domain), shared by every
 * signature that names the same key.
 */
struct dkim_keyslot {
	char		*name;
	int		 set;
	enum dkim_dns	 dns;
	enum dkim_dnssec dnssec;
	char		**rec;
	size_t		*reclen;
	size_t		 nrec;
};

struct dkim_keyset {
	struct dkim_keyslot	*slot;
	size_t			 n;
};

size_t	 dkim_keyset_index(struct dkim_keyset *, const char *d,
	    const char *s);
void	 dkim_keyset_set(struct dkim_keyset *, size_t k, enum dkim_dns,
	    enum dkim_dnssec, const char *const *records, const size_t *lens,
	    size_t nrecords);
void	 dkim_keyset_free(struct dkim_keyset *);

struct dkim_keyinfo {
	const char	*keytype;	/* "rsa", "ed25519" or NULL */
	int		 keybits;
	int		 testing;
};

/*
 * The public key in slot for a signature with algorithm alg and domain d
 * (RFC 6376 6.1.2, RFC 8301): DKIM_PASS with *pk set (free it), or the
 * result for the signature and a reason.  idomain is the i= domain for
 * the t=s check, NULL where there is no AUID (ARC).
 */
enum dkim_result dkim_key_load(const struct dkim_keyslot *, enum dkim_alg,
	    const char *d, const char *idomain, int min_rsa_bits,
	    EVP_PKEY **pk, struct dkim_keyinfo *, char *reason,
	    size_t reasonlen);

/*
 * Signing internals shared with ARC sealing: folding a field being built
 * to 78 columns, the h= list for a header configuration (with
 * over-signing), and the end of a signature field: hash the given fields
 * and the field so far (which ends in "b="), sign, append the folded b=
 * value, and append the finished field with CRLF to out.
 */
struct dkim_fold {
	struct buf	*b;
	size_t		 col;
};

void	 dkim_fold_word(struct dkim_fold *, const char *);
void	 dkim_fold_b64(struct dkim_fold *, const char *, const char *tail);
void	 dkim_fold_hlist(struct dkim_fold *, char *const *names, size_t n);
void	 dkim_sign_names(const struct dkim_msg *, const char *headers,
	    int no_oversign, char ***outp, size_t *np);
void	 dkim_names_free(char **, size_t);
int	 dkim_sign_finish(struct dkim_fold *, const struct dkim_rawfield *,
	    size_t nfields, enum dkim_canon, EVP_PKEY *, enum dkim_alg,
	    struct buf *out, char *err, size_t errlen);

#endif

/*
 * The parts of DKIM that verifying and signing share: algorithm and result
 * names, the header store (raw field bytes, kept exactly for simple
 * canonicalization), the streaming body hashes (RFC 6376 3.4.3 simple,
 * 3.4.4 relaxed, 3.5 l=) computed once per (canonicalization, hash, l=)
 * however many signatures use them, and the header hash (RFC 6376 3.7 with
 * the RFC 5.4.2 bottom-up choice of field instances).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(DKIM_NO_SIMD)
#include <emmintrin.h>
#endif

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "log.h"
#include "mailhdr.h"
#include "util.h"

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_NONE:
		return "none";
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_POLICY:
		return "policy";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

const char *
dkim_alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	default:
		return "none";
	}
}

int
dkim_alg_from_name(const char *s, size_t len)
{
	/* RFC 6376 3.5 sig-a-tag: compared exactly, as registered. */
	if (len == 10 && memcmp(s, "rsa-sha256", 10) == 0)
		return DKIM_ALG_RSA_SHA256;
	if (len == 14 && memcmp(s, "ed25519-sha256", 14) == 0)
		return DKIM_ALG_ED25519_SHA256;
	if (len == 8 && memcmp(s, "rsa-sha1", 8) == 0)
		return DKIM_ALG_RSA_SHA1;
	return DKIM_ALG_NONE;
}

/*
 * The digests are fetched once: with OpenSSL 3 every EVP_sha256() use
 * otherwise repeats a locked provider lookup per message.
 */
const EVP_MD *
dkim_alg_md(enum dkim_alg a)
{
	static EVP_MD	*sha1, *sha256;

	if (a == DKIM_ALG_RSA_SHA1) {
		if (sha1 == NULL && (sha1 = EVP_MD_fetch(NULL, "SHA1",
		    NULL)) == NULL)
			return EVP_sha1();
		return sha1;
	}
	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256",
	    NULL)) == NULL)
		return EVP_sha256();
	return sha256;
}

/*
 * The message: header fields kept as raw bytes, body fed to body hashes.
 */

static void
msg_field(void *arg, const char *raw, size_t len, size_t namelen)
{
	struct dkim_msg		*m = arg;
	struct dkim_field	*f;

	if (m->overflow)
		return;
	if (buf_add(&m->hdr, raw, len) == -1) {
		m->overflow = 1;
		return;
	}
	if (m->nfields == m->capfields) {
		m->capfields = m->capfields ? m->capfields * 2 : 32;
		m->fields = xreallocarray(m->fields, m->capfields,
		    sizeof(*m->fields));
	}
	f = &m->fields[m->nfields++];
	f->off = m->hdr.len - len;
	f->len = len;
	f->namelen = namelen;
}

static void	bh_update(struct dkim_bodyhash *, const uint8_t *, size_t);

static void
msg_header_done(struct dkim_msg *m)
{
	if (m->header_done)
		return;
	m->header_done = 1;
	if (m->reader->overflow)
		m->overflow = 1;
	if (m->on_header != NULL)
		m->on_header(m->arg);
}

static void
msg_body(void *arg, const uint8_t *p, size_t len)
{
	struct dkim_msg	*m = arg;
	size_t		 i;

	msg_header_done(m);
	for (i = 0; i < m->nbh; i++)
		bh_update(m->bh[i], p, len);
}

void
dkim_msg_init(struct dkim_msg *m, void (*on_header)(void *), void *arg)
{
	memset(m, 0, sizeof(*m));
	m->reader = xcalloc(1, sizeof(*m->reader));
	mailhdr_reader_init(m->reader, DKIM_MAX_FIELD, DKIM_MAX_FIELDS,
	    msg_field, msg_body, m);
	buf_init(&m->hdr, DKIM_MAX_HEADER);
	m->on_header = on_header;
	m->arg = arg;
}

void
dkim_msg_feed(struct dkim_msg *m, const void *p, size_t len)
{
	mailhdr_reader_feed(m->reader, p, len);
	if (m->reader->in_body)
		msg_header_done(m);
}

static void	bh_final(struct dkim_bodyhash *);

void
dkim_msg_end(struct dkim_msg *m)
{
	size_t	 i;

	mailhdr_reader_end(m->reader);
	msg_header_done(m);
	for (i = 0; i < m->nbh; i++)
		bh_final(m->bh[i]);
}

void
dkim_msg_free(struct dkim_msg *m)
{
	size_t	 i;

	if (m->reader != NULL) {
		mailhdr_reader_free(m->reader);
		free(m->reader);
	}
	buf_free(&m->hdr);
	free(m->fields);
	for (i = 0; i < m->nbh; i++) {
		EVP_MD_CTX_free(m->bh[i]->ctx);
		free(m->bh[i]);
	}
	free(m->bh);
	memset(m, 0, sizeof(*m));
}

const char *
dkim_msg_field(const struct dkim_msg *m, size_t i, size_t *len)
{
	*len = m->fields[i].len;
	return (const char *)m->hdr.data + m->fields[i].off;
}

/*
 * Body hashes.  One per distinct (canonicalization, hash, l=): every
 * signature sharing them shares the work.
 */
struct dkim_bodyhash *
dkim_msg_bodyhash(struct dkim_msg *m, enum dkim_canon canon, const EVP_MD *md,
    long long limit)
{
	struct dkim_bodyhash	*bh;
	size_t			 i;

	for (i = 0; i < m->nbh; i++) {
		bh = m->bh[i];
		if (bh->canon == canon && bh->md == md && bh->limit == limit)
			return bh;
	}
	bh = xcalloc(1, sizeof(*bh));
	bh->canon = canon;
	bh->md = md;
	bh->limit = limit;
	if ((bh->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(bh->ctx, md, NULL) != 1)
		fatalx("%s: EVP_DigestInit_ex", __func__);
	m->bh = xreallocarray(m->bh, m->nbh + 1, sizeof(*m->bh));
	m->bh[m->nbh++] = bh;
	return bh;
}

#define BH_DIRECT	256	/* bytes worth a digest update of their own */

/* Hash canonical bytes, honouring l= (RFC 6376 3.5) while counting all. */
static void
bh_emit(struct dkim_bodyhash *bh, const void *p, size_t n)
{
	uint64_t	 room;

	bh->total += n;
	if (bh->limit >= 0) {
		room = (uint64_t)bh->limit > bh->hashed ?
		    (uint64_t)bh->limit - bh->hashed : 0;
		if (n > room)
			n = (size_t)room;
	}
	bh->hashed += n;
	/*
	 * Short pieces (line ends, words between WSP runs) are staged into
	 * few large digest updates; long runs go straight from the input.
	 */
	if (n >= BH_DIRECT || bh->nstage + n > sizeof(bh->stage)) {
		if (bh->nstage > 0)
			EVP_DigestUpdate(bh->ctx, bh->stage, bh->nstage);
		bh->nstage = 0;
		if (n >= BH_DIRECT) {
			EVP_DigestUpdate(bh->ctx, p, n);
			return;
		}
	}
	memcpy(bh->stage + bh->nstage, p, n);
	bh->nstage += n;
}

/*
 * Finding the runs of body that canonicalize to themselves, 16 bytes at a
 * time with SSE2 where there is SSE2, else 8 at a time as the lanes of a
 * 64-bit word (SWAR).  Either way a mask marks the bytes that may need the
 * state machine; the masks are exact for SP, HTAB, CR and LF and also mark
 * the other controls, which are then judged byte by byte (and kept).  With
 * SSE2 a CRLF followed by a printable byte is not marked either, so a run
 * goes on over line ends; *carry tells the next block that it starts with
 * the LF of such a pair.
 */
#if defined(__SSE2__) && !defined(DKIM_NO_SIMD)
#define SCAN_STEP	16
#define SCAN_NEED	18	/* bytes read from q */
typedef unsigned int	 scanmask;

/* CRLF followed by a byte > 0x20 (or, simple, by anything but CR, LF). */
static inline scanmask
scan_crlf_ok(__m128i x, __m128i y, __m128i zbad, unsigned int *carry)
{
	scanmask	 cr, in = *carry;

	/* The CRs of such pairs, then their LFs, one lane further on. */
	cr = (scanmask)_mm_movemask_epi8(_mm_andnot_si128(zbad,
	    _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r')),
	    _mm_cmpeq_epi8(y, _mm_set1_epi8('\n')))));
	*carry = cr >> 15;
	return cr | (cr << 1) | in;
}

static inline scanmask
scan_relaxed(const uint8_t *q, unsigned int *carry)
{
	__m128i		 x = _mm_loadu_si128((const __m128i *)q);
	__m128i		 y = _mm_loadu_si128((const __m128i *)(q + 1));
	__m128i		 z = _mm_loadu_si128((const __m128i *)(q + 2));
	__m128i		 sp = _mm_set1_epi8(' ');
	__m128i		 spx = _mm_cmpeq_epi8(x, sp);
	/* Bytes <= 0x20 (unsigned): min(b, 0x20) == b. */
	__m128i		 lex = _mm_cmpeq_epi8(_mm_min_epu8(x, sp), x);
	__m128i		 ley = _mm_cmpeq_epi8(_mm_min_epu8(y, sp), y);
	__m128i		 lez = _mm_cmpeq_epi8(_mm_min_epu8(z, sp), z);
	scanmask	 m;

	/* Controls, and SP followed by SP or a control. */
	m = (scanmask)_mm_movemask_epi8(_mm_or_si128(
	    _mm_andnot_si128(spx, lex), _mm_and_si128(spx, ley)));
	return m & ~scan_crlf_ok(x, y, lez, carry) & 0xffff;
}

static inline scanmask
scan_simple(const uint8_t *q, unsigned int *carry)
{
	__m128i		 x = _mm_loadu_si128((const __m128i *)q);
	__m128i		 y = _mm_loadu_si128((const __m128i *)(q + 1));
	__m128i		 z = _mm_loadu_si128((const __m128i *)(q + 2));
	__m128i		 cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	scanmask	 m;

	m = (scanmask)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, cr),
	    _mm_cmpeq_epi8(x, lf)));
	return m & ~scan_crlf_ok(x, y, _mm_or_si128(_mm_cmpeq_epi8(z, cr),
	    _mm_cmpeq_epi8(z, lf)), carry) & 0xffff;
}

static inline size_t
scan_first(scanmask m)
{
	return (size_t)__builtin_ctz(m);
}
#else
#define SCAN_STEP	8
#define SCAN_NEED	9
#define LANES_01	0x0101010101010101ULL
#define LANES_7F	0x7f7f7f7f7f7f7f7fULL
#define LANES_80	0x8080808080808080ULL
typedef uint64_t	 scanmask;

static inline uint64_t
lanes_load(const uint8_t *p)
{
	uint64_t	 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Lanes equal to c, and lanes <= 0x20: the high bit of a lane is set
 * exactly when it matches, as the additions cannot carry between lanes.
 */
static inline uint64_t
lanes_eq(uint64_t x, uint8_t c)
{
	uint64_t	 v = x ^ (LANES_01 * c);

	return ~(((v & LANES_7F) + LANES_7F) | v) & LANES_80;
}

static inline uint64_t
lanes_le_sp(uint64_t x)
{
	return ~(((x & LANES_7F) + LANES_01 * 0x5f) | x) & LANES_80;
}

/* Line ends are always marked here: *carry stays 0. */
static inline scanmask
scan_relaxed(const uint8_t *q, unsigned int *carry)
{
	uint64_t	 x = lanes_load(q), sp = lanes_eq(x, ' ');

	return (lanes_le_sp(x) & ~sp) | (sp & lanes_le_sp(lanes_load(q + 1)));
}

static inline scanmask
scan_simple(const uint8_t *q, unsigned int *carry)
{
	uint64_t	 x = lanes_load(q);

	return lanes_eq(x, '\r') | lanes_eq(x, '\n');
}

static inline size_t
scan_first(scanmask m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) / 8;
#else
	return (size_t)__builtin_clzll(m) / 8;
#endif
}
#endif

static inline int
is_wsp_or_eol(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Whether the canonicalization keeps the byte at q as it is, as far as the
 * buffer tells.  Simple (RFC 6376 3.4.3): anything but a line end.
 * Relaxed (3.4.4): not HTAB, CR or LF, and not a SP that starts a WSP run,
 * ends a line or ends the buffer (what follows it is not known yet).
 */
static inline int
keeps(const uint8_t *q, const uint8_t *end, int relaxed)
{
	if (relaxed && *q == ' ')
		return q + 1 < end && !is_wsp_or_eol(q[1]);
	return *q != '\r' && *q != '\n' && (!relaxed || *q != '\t');
}

/*
 * The length of the prefix of [p, end) that the canonicalization leaves
 * as it is.  A CRLF belongs to it when a kept byte follows: only the line
 * ends before a possibly empty line need holding back (RFC 6376 3.4.3,
 * 3.4.4 b), and WSP before a line end goes (3.4.4 a).
 */
static inline size_t
run_length(const uint8_t *p, const uint8_t *end, int relaxed)
{
	const uint8_t	*q = p;
	scanmask	 m;
	unsigned int	 carry = 0;

	for (;;) {
		while (end - q >= SCAN_NEED) {
			m = relaxed ? scan_relaxed(q, &carry) :
			    scan_simple(q, &carry);
			if (m != 0) {
				q += scan_first(m);
				carry = 0;
				break;
			}
			q += SCAN_STEP;
		}
		if (carry) {
			/* The LF of a CRLF that ended the last block. */
			q++;
			carry = 0;
		} else if (q == end)
			break;
		else if (keeps(q, end, relaxed))
			q++;
		else if (q[0] == '\r' && end - q > 2 && q[1] == '\n' &&
		    keeps(q + 2, end, relaxed))
			q += 3;
		else
			break;
	}
	return (size_t)(q - p);
}

/*
 * The canonicalizer (RFC 6376 3.4.3 simple, 3.4.4 relaxed).  Line ends are
 * held back (nl) until more content follows, because both
 * canonicalizations drop the empty lines at the end of the body; relaxed
 * also holds back a run of WSP (ws), which becomes one SP before the next
 * content and vanishes at a line end.  Runs that canonicalize to
 * themselves, line ends included, go to the hash straight from the input;
 * the bytes between them (WSP runs, trailing WSP, empty lines, bare LF, a
 * CR split from its LF by a chunk boundary) go through the byte-at-a-time
 * state machine into out.
 */
static void
bh_update(struct dkim_bodyhash *bh, const uint8_t *p, size_t len)
{
	const uint8_t	*end = p + len;
	uint8_t		 out[256];
	size_t		 o = 0, run;
	uint64_t	 nl = bh->nl;
	int		 ws = bh->ws, cr = bh->cr, content = bh->content;
	int		 partial = bh->partial;
	int		 relaxed = bh->canon == DKIM_CANON_RELAXED;
	uint8_t		 c;

#define PUT(ch) do {							\
	out[o++] = (ch);						\
	if (o == sizeof(out)) {						\
		bh_emit(bh, out, o);					\
		o = 0;							\
	}								\
} while (0)
#define LINE_ENDS() do {						\
	for (; nl > 0; nl--) {						\
		PUT('\r');						\
		PUT('\n');						\
	}								\
} while (0)
#define CONTENT(ch) do {						\
	LINE_ENDS();							\
	if (ws) {							\
		PUT(' ');						\
		ws = 0;							\
	}								\
	PUT(ch);							\
	content = partial = 1;						\
} while (0)

	while (p < end) {
		if (!cr && !ws) {
			run = relaxed ? run_length(p, end, 1) :
			    run_length(p, end, 0);
			if (run > 0) {
				LINE_ENDS();
				if (o > 0) {
					bh_emit(bh, out, o);
					o = 0;
				}
				bh_emit(bh, p, run);
				content = partial = 1;
				p += run;
				if (p == end)
					break;
			}
		}
		c = *p++;
		if (cr) {
			cr = 0;
			if (c == '\n') {
				ws = 0;
				nl++;
				partial = 0;
				continue;
			}
			CONTENT('\r');		/* a lone CR is text */
		}
		switch (c) {
		case '\r':
			cr = 1;
			break;
		case '\n':			/* bare LF: a line end too */
			ws = 0;
			nl++;
			partial = 0;
			break;
		case ' ':
		case '\t':
			if (relaxed) {
				ws = 1;
				break;
			}
			/* FALLTHROUGH */
		default:
			CONTENT(c);
			break;
		}
	}
	if (o > 0)
		bh_emit(bh, out, o);
	bh->nl = nl;
	bh->ws = ws;
	bh->cr = cr;
	bh->content = content;
	bh->partial = partial;
#undef PUT
#undef LINE_ENDS
#undef CONTENT
}

static void
bh_final(struct dkim_bodyhash *bh)
{
	if (bh->dlen != 0)
		return;
	if (bh->cr) {
		/* A CR ending the message is text. */
		bh->cr = 0;
		for (; bh->nl > 0; bh->nl--)
			bh_emit(bh, "\r\n", 2);
		if (bh->ws)
			bh_emit(bh, " ", 1);
		bh->ws = 0;
		bh_emit(bh, "\r", 1);
		bh->content = 1;
	}
	/*
	 * The last non-empty line keeps (or gains, RFC 6376 3.4.4 and the
	 * errata to 3.4.3) one CRLF; an empty body is CRLF for simple and
	 * nothing for relaxed.
	 */
	if (bh->content || bh->canon == DKIM_CANON_SIMPLE)
		bh_emit(bh, "\r\n", 2);
	if (bh->nstage > 0)
		EVP_DigestUpdate(bh->ctx, bh->stage, bh->nstage);
	bh->nstage = 0;
	if (EVP_DigestFinal_ex(bh->ctx, bh->digest, &bh->dlen) != 1)
		fatalx("%s: EVP_DigestFinal_ex", __func__);
}

#define HH_FLUSH	(16 * 1024)

size_t
dkim_select_fields(const struct dkim_msg *m, char *const *names,
    size_t nnames, size_t self, struct dkim_rawfield *out)
{
	uint8_t		*used;
	const char	*raw;
	size_t		 i, j, len, nlen, n = 0;

	used = xcalloc(m->nfields + 1, 1);
	for (i = 0; i < nnames; i++) {
		nlen = strlen(names[i]);
		/* RFC 6376 5.4.2: instances are used from the bottom up. */
		for (j = m->nfields; j-- > 0; ) {
			if (used[j] || j == self)
				continue;
			raw = dkim_msg_field(m, j, &len);
			if (!mailhdr_name_is(raw, len, m->fields[j].namelen,
			    names[i], nlen))
				continue;
			used[j] = 1;
			out[n].raw = raw;
			out[n].len = len;
			n++;
			break;
		}
		/* A name with no instance left signs nothing (5.4). */
	}
	free(used);
	return n;
}

/*
 * The header hash: the fields in order, each canonicalized and
 * CRLF-terminated, then the signature field itself without its final CRLF
 * (RFC 6376 3.7).
 */
int
dkim_fields_hash(const struct dkim_rawfield *fields, size_t nfields,
    const char *sigfield, size_t siglen, enum dkim_canon canon,
    const EVP_MD *md, uint8_t *digest, unsigned int *dlen)
{
	EVP_MD_CTX	*ctx;
	struct buf	 b;
	size_t		 i;
	int		 rv = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	buf_init(&b, HH_FLUSH + DKIM_MAX_FIELD * 2);
	for (i = 0; i < nfields; i++) {
		/*
		 * Fields are gathered into few digest updates; b holds
		 * HH_FLUSH bytes plus one field at most.
		 */
		if (b.len >= HH_FLUSH) {
			EVP_DigestUpdate(ctx, b.data, b.len);
			buf_reset(&b);
		}
		if (canon == DKIM_CANON_RELAXED) {
			if (mailhdr_canon_relaxed(fields[i].raw, fields[i].len,
			    1, &b) == -1)
				goto done;
		} else if (buf_add(&b, fields[i].raw, fields[i].len) == -1 ||
		    buf_add(&b, "\r\n", 2) == -1)
			goto done;
	}
	if (canon == DKIM_CANON_RELAXED) {
		if (b.len >= HH_FLUSH) {
			EVP_DigestUpdate(ctx, b.data, b.len);
			buf_reset(&b);
		}
		if (mailhdr_canon_relaxed(sigfield, siglen, 0, &b) == -1)
			goto done;
		if (b.len > 0)
			EVP_DigestUpdate(ctx, b.data, b.len);
	} else {
		if (b.len > 0)
			EVP_DigestUpdate(ctx, b.data, b.len);
		EVP_DigestUpdate(ctx, sigfield, siglen);
	}
	if (EVP_DigestFinal_ex(ctx, digest, dlen) == 1)
		rv = 0;
 done:
	buf_free(&b);
	EVP_MD_CTX_free(ctx);
	return rv;
}

int
dkim_header_hash(const struct dkim_msg *m, char *const *names, size_t nnames,
    size_t self, const char *sigfield, size_t siglen, enum dkim_canon canon,
    const EVP_MD *md, uint8_t *digest, unsigned int *dlen)
{
	struct dkim_rawfield	*f;
	size_t			 n;
	int			 rv;

	f = xcalloc(nnames + 1, sizeof(*f));
	n = dkim_select_fields(m, names, nnames, self, f);
	rv = dkim_fields_hash(f, n, sigfield, siglen, canon, md, digest,
	    dlen);
	free(f);
	return rv;
}

/*
 * DNS for postern: one resolver object (struct dns_ctx) with three sources
 * (the system resolver validating against the root trust anchor, a given
 * resolver ADDR[@PORT] with an optional trust anchor, or an offline RFC 1035
 * master-format zone file), asynchronous queries driven from a libevent loop
 * with a per-query timeout, answers with their records already decoded, and
 * a lookup budget that SPF and DMARC use to enforce their limits.
 *
 * Creating a context reads every file it needs (resolv.conf, trust anchors,
 * the zone file), so a process creates it before chroot and uses it after.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <sys/types.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* RR types we decode (RFC 1035 3.2.2, RFC 3596, RFC 6698). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_SPF	99
#define DNS_T_TLSA	52

#define DNS_C_IN	1

/* Response codes (RFC 1035 4.1.1). */
#define DNS_R_NOERROR	0
#define DNS_R_FORMERR	1
#define DNS_R_SERVFAIL	2
#define DNS_R_NXDOMAIN	3
#define DNS_R_NOTIMP	4
#define DNS_R_REFUSED	5

/*
 * A name in presentation form: every wire byte can become a 4-character
 * \DDD escape, and a wire name is at most 255 bytes (RFC 1035 3.1).
 */
#define DNS_NAME_BUF	1025

/* Default per-query timeout, milliseconds. */
#define DNS_TIMEOUT_DEFAULT	10000

enum dns_sec {
	DNS_SEC_INSECURE = 0,	/* no validation, or provably unsigned */
	DNS_SEC_SECURE,		/* validated (DNSSEC) */
	DNS_SEC_BOGUS		/* validation failed */
};

/* One character-string of a TXT record (may hold any byte, even NUL). */
struct dns_txt_str {
	const uint8_t	*data;
	size_t		 len;
};

struct dns_rr {
	uint16_t	 type;
	uint32_t	 ttl;
	const uint8_t	*rdata;		/* raw rdata, always set */
	size_t		 rdlen;
	union {
		struct in_addr	 a;
		struct in6_addr	 aaaa;
		struct {
			uint16_t	 pref;
			char		 name[DNS_NAME_BUF];
		} mx;
		char		 name[DNS_NAME_BUF];	/* PTR, CNAME, NS */
		struct {
			size_t			 nstr;
			struct dns_txt_str	*str;
		} txt;				/* TXT, SPF */
		struct {
			uint8_t		 usage;
			uint8_t		 selector;
			uint8_t		 mtype;
			const uint8_t	*data;
			size_t		 len;
		} tlsa;
	} u;
};

struct dns_answer {
	char		 qname[DNS_NAME_BUF];
	uint16_t	 qtype;
	int		 rcode;		/* DNS_R_* */
	int		 failed;	/* no usable answer: timeout, network */
	int		 timeout;	/* failed because the timeout expired */
	enum dns_sec	 sec;
	char		 why_bogus[256];
	char		 canonname[DNS_NAME_BUF];	/* after CNAMEs */
	size_t		 nrr;
	struct dns_rr	*rr;		/* records of qtype only */
	void		*priv;		/* storage owned by the answer */
};

typedef void (*dns_cb)(void *arg, const struct dns_answer *);

struct dns_ctx;
struct dns_query;

/*
 * Creation reads all files; errors go to err (with a line number for zone
 * files) and NULL is returned.  base may be NULL: the context then runs a
 * private event base (posternctl, tests).
 */
struct dns_ctx	*dns_ctx_system(struct event_base *base, char *err,
		    size_t errlen);
struct dns_ctx	*dns_ctx_resolver(struct event_base *base, const char *addr,
		    const char *trust_anchor_file, char *err, size_t errlen);
/*
 * The same with the trust anchor's text (NULL: none) instead of a file:
 * for a process that cannot open files any more (the mta's debug
 * delivery probes, mta/debug.c), which is given what posternctl read.
 */
struct dns_ctx	*dns_ctx_resolver_mem(struct event_base *base,
		    const char *addr, const char *ta_text, size_t ta_len,
		    char *err, size_t errlen);
struct dns_ctx	*dns_ctx_zone(struct event_base *base, const char *file,
		    char *err, size_t errlen);
struct dns_ctx	*dns_ctx_zone_mem(struct event_base *base, const char *text,
		    size_t len, char *err, size_t errlen);
void		 dns_ctx_free(struct dns_ctx *);
void		 dns_ctx_set_timeout(struct dns_ctx *, int msec);
/*
 * A view: queries through the parent's resolver (which must outlive it)
 * with a deadline of their own, for a time budget over many lookups (all
 * those of one message).  Once the deadline passes, the view's pending
 * queries and every one started after fail as timeouts, until a new
 * deadline is set.  Free with dns_ctx_free(), which cancels its queries.
 */
struct dns_ctx	*dns_ctx_view(struct dns_ctx *parent);
void		 dns_ctx_set_deadline(struct dns_ctx *, int msec);
/* How many queries of the view its deadlines have failed. */
size_t		 dns_ctx_cut(struct dns_ctx *);
struct event_base *dns_ctx_base(struct dns_ctx *);
const char	*dns_ctx_describe(struct dns_ctx *);

/*
 * Start a query.  cb runs later from the event loop, never from inside
 * dns_query(); the answer is valid only during the callback (copy it with
 * dns_answer_dup()).  Returns NULL (and cb is never called) only for a name
 * that is not a valid domain name.
 */
struct dns_query *dns_query(struct dns_ctx *, const char *name, uint16_t type,
		    dns_cb cb, void *arg);
/* Cancel a pending query: its callback will not run. */
void		 dns_query_cancel(struct dns_query *);
/* Queries in flight (for callers that run the loop themselves). */
size_t		 dns_pending(struct dns_ctx *);
/*
 * Answers given from the context's own cache (lib/dns_cache.c: definite
 * answers kept for their TTL, at most 5 minutes), views included.
 */
size_t		 dns_ctx_cache_hits(struct dns_ctx *);

/*
 * Synchronous use: runs the context's event base until the answer arrives
 * (the same code path as dns_query()).  Free the result with
 * dns_answer_free().  Do not call from inside a callback of the same base.
 */
struct dns_answer *dns_resolve_sync(struct dns_ctx *, const char *name,
		    uint16_t type);
/* Run the context's event base once (blocking until some event fires). */
int		 dns_run_once(struct dns_ctx *);

struct dns_answer *dns_answer_dup(const struct dns_answer *);
void		 dns_answer_free(struct dns_answer *);

/*
 * Decode one record's rdata (uncompressed wire form) into rr; rr->rdata
 * points into the given buffer, which must outlive rr, and TXT strings are
 * allocated (free with dns_rr_clear()).  -1 on malformed rdata.
 */
int		 dns_rdata_decode(uint16_t type, const uint8_t *rdata,
		    size_t rdlen, struct dns_rr *rr);
void		 dns_rr_clear(struct dns_rr *);

/*
 * Concatenate a TXT record's strings without separators (RFC 7208 3.3).
 * Returns an allocated NUL-terminated string; *lenp gets the length (the
 * data may itself contain NUL bytes).
 */
char		*dns_txt_concat(const struct dns_rr *, size_t *lenp);

/* Names: wire <-> presentation, canonical comparison. */
int		 dns_name_to_wire(const char *name, uint8_t *wire,
		    size_t wirelen, size_t *outlen);
int		 dns_name_from_wire(const uint8_t *wire, size_t len,
		    size_t *used, char *out, size_t outlen);
/* Lower-cased presentation form without the final dot ("." for root). */
int		 dns_name_canon(const char *name, char *out, size_t outlen);
int		 dns_name_equal(const char *, const char *);

/* Reverse-lookup name for an address: "4.3.2.1.in-addr.arpa" etc. */
int		 dns_ptr_name(int af, const void *addr, char *out,
		    size_t outlen);

const char	*dns_type_name(uint16_t type);
int		 dns_type_from_name(const char *);	/* -1: unknown */
const char	*dns_rcode_name(int rcode);
const char	*dns_sec_name(enum dns_sec);

/*
 * A per-evaluation lookup budget (RFC 7208 4.6.4 and the like): the number
 * of DNS-querying terms and of void lookups (NXDOMAIN or no records).
 * The *_spend functions count one and return -1 when that exceeds the
 * maximum (0 means unlimited).
 */
struct dns_budget {
	unsigned int	 lookups;
	unsigned int	 lookups_max;
	unsigned int	 voids;
	unsigned int	 voids_max;
};

void		 dns_budget_init(struct dns_budget *, unsigned int lookups_max,
		    unsigned int voids_max);
int		 dns_budget_lookup(struct dns_budget *);
int		 dns_budget_void(struct dns_budget *);
/* A void answer: NXDOMAIN, or NOERROR with no records (RFC 7208 4.6.4). */
int		 dns_answer_is_void(const struct dns_answer *);

#endif

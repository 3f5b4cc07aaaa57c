/*
 * DANE for SMTP (RFC 7672, RFC 7671, RFC 6698) without I/O: TLSA records
 * as they come off the wire, which of them are usable, and whether the
 * certificate chain a server presented matches them.  The mta looks the
 * records up (only through a secure MX, over DNSSEC validated in-process)
 * and does the TLS handshake without libtls's own verification; it hands
 * the chain here.
 */
#ifndef POSTERN_MTA_DANE_H
#define POSTERN_MTA_DANE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DANE_TLSA_MAX		32	/* records of one RRset looked at */
#define DANE_DATA_MAX		4096	/* certificate association data */
#define DANE_CHAIN_MAX		16	/* certificates of a peer's chain */
#define DANE_CHAIN_PEM_MAX	(256 * 1024)
#define DANE_NAMES_MAX		4	/* reference identifiers */

/* RFC 6698 2.1.1, RFC 7218 */
#define DANE_USAGE_PKIX_TA	0
#define DANE_USAGE_PKIX_EE	1
#define DANE_USAGE_DANE_TA	2
#define DANE_USAGE_DANE_EE	3

struct dane_tlsa {
	uint8_t		 usage;
	uint8_t		 selector;	/* 0 full certificate, 1 SPKI */
	uint8_t		 mtype;		/* 0 exact, 1 SHA-256, 2 SHA-512 */
	size_t		 len;
	uint8_t		 data[DANE_DATA_MAX];
};

enum dane_verdict {
	DANE_PASS = 0,
	DANE_FAIL
};

struct dane_result {
	enum dane_verdict verdict;
	int		 record;	/* index of the record that matched,
					   else -1 */
	int		 depth;		/* chain position it matched */
	const char	*rpt;		/* RFC 8460 4.3 result type on
					   failure, e.g.
					   "certificate-host-mismatch" */
	char		 why[256];	/* for the log and the DSN */
};

int	 dane_tlsa_parse(const uint8_t *, size_t, struct dane_tlsa *);
int	 dane_tlsa_usable(const struct dane_tlsa *);
size_t	 dane_tlsa_filter(struct dane_tlsa *, size_t);
void	 dane_tlsa_format(const struct dane_tlsa *, char *, size_t);
int	 dane_verify(const uint8_t *, size_t, const struct dane_tlsa *, size_t,
	    const char *const *, size_t, time_t, struct dane_result *);

#endif

/*
 * SMTP TLS reporting (RFC 8460) without I/O: the reporting policy a
 * domain publishes in TXT at _smtp._tls.DOMAIN (3), and the JSON report
 * (4) built from the TLS results the mta records (lib/msg.h, struct
 * msg_tls_result) as reportd counts them per domain, day and outcome.
 *
 * reportd looks the record up and sends the report (by mail or HTTPS
 * POST, 5); here are only the bytes.
 */
#ifndef POSTERN_REPORTD_TLSRPT_H
#define POSTERN_REPORTD_TLSRPT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define TLSRPT_RUA_MAX		8	/* report URIs kept; more: invalid */
#define TLSRPT_URI_MAX		512	/* one URI, decoded */
#define TLSRPT_RECORD_MAX	2048	/* one TXT record's text */
#define TLSRPT_POLICIES_MAX	64	/* policies in one report */
#define TLSRPT_DETAILS_MAX	256	/* failure details per policy */
#define TLSRPT_STRINGS_MAX	64	/* policy-string lines per policy */
#define TLSRPT_LINE_MAX		1024	/* one policy-string line */
#define TLSRPT_JSON_MAX		(4 * 1024 * 1024)	/* a report */

/* What the TXT records of _smtp._tls.DOMAIN say (3). */
enum tlsrpt_txt {
	TLSRPT_TXT_FOUND = 0,	/* exactly one valid TLSRPTv1 record */
	TLSRPT_TXT_NONE,	/* no record begins with "v=TLSRPTv1" */
	TLSRPT_TXT_INVALID	/* several, or the one is malformed */
};

enum tlsrpt_scheme {
	TLSRPT_MAILTO = 0,
	TLSRPT_HTTPS
};

struct tlsrpt_rua {
	enum tlsrpt_scheme	 scheme;
	/* mailto: the address, percent-decoded; https: the whole URI */
	char			 uri[TLSRPT_URI_MAX + 1];
};

struct tlsrpt_record {
	size_t			 nrua;
	struct tlsrpt_rua	 rua[TLSRPT_RUA_MAX];
};

enum tlsrpt_txt	 tlsrpt_txt_select(const char *const *, const size_t *,
		    size_t, struct tlsrpt_record *, char *, size_t);

/* The report's metadata (4.3). */
struct tlsrpt_meta {
	const char	*org;		/* organization-name */
	const char	*contact;	/* contact-info */
	const char	*report_id;
	time_t		 begin, end;	/* [begin, end) */
};

/* Policy types, as lib/msg.h numbers them (MSG_TLS_POLICY_*). */
#define TLSRPT_POLICY_NONE	0	/* "no-policy-found" */
#define TLSRPT_POLICY_TLSA	1
#define TLSRPT_POLICY_STS	2

struct tlsrpt_report;

struct tlsrpt_report *tlsrpt_new(void);
void		 tlsrpt_free(struct tlsrpt_report *);
int		 tlsrpt_add(struct tlsrpt_report *, int, const char *,
		    const char *, const char *, const char *, const char *,
		    uint64_t);
int		 tlsrpt_policy_strings(struct tlsrpt_report *, int,
		    const char *, const char *);
size_t		 tlsrpt_count(const struct tlsrpt_report *);
int		 tlsrpt_json(const struct tlsrpt_report *,
		    const struct tlsrpt_meta *, struct buf *);

/*
 * Delivery (5): the report's filename (5.1), an https: URI split into
 * host, port and request target for the POST (5.4), and the status code
 * of the answer's status line (-1: not one, or not yet complete).
 */
#define TLSRPT_HTTP_ANSWER_MAX	16384	/* what is read of an answer */
int		 tlsrpt_filename(const char *submitter, const char *domain,
		    time_t begin, time_t end, const char *unique, char *,
		    size_t);
int		 tlsrpt_https_split(const char *uri, char *host, size_t,
		    unsigned int *port, char *target, size_t);
int		 tlsrpt_http_status(const char *, size_t);

#endif

/*
 * DMARC (RFC 9989, which obsoletes RFC 7489) as a library over lib/dns.h,
 * usable asynchronously from a libevent loop (authd) and synchronously
 * (posternctl, unit tests): policy record parsing, policy discovery and
 * Organizational Domain determination by the DNS Tree Walk (no public
 * suffix list), identifier alignment of SPF and DKIM results, the policy
 * to apply, and the per-message evaluation record that aggregate reports
 * (RFC 9990) are built from.
 *
 * The caller runs SPF and DKIM first and passes their results in; this
 * module does no I/O other than DNS queries.
 */
#ifndef POSTERN_DMARC_H
#define POSTERN_DMARC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns.h"
#include "auth/spf.h"
#include "auth/dkim.h"
#include "util.h"

enum dmarc_result {
	DMARC_RESULT_NONE = 0,
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR
};

/* Values of p, sp, np; ABSENT only for a tag not in the record. */
enum dmarc_policy {
	DMARC_POLICY_ABSENT = 0,
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT
};

/* The disposition of a message (ActionDispositionType of RFC 9990). */
enum dmarc_disposition {
	DMARC_DISP_NONE = 0,
	DMARC_DISP_PASS,	/* passed, with an enforcing policy */
	DMARC_DISP_QUARANTINE,
	DMARC_DISP_REJECT
};

/* Which tag of the policy record gave the policy. */
enum dmarc_applied {
	DMARC_APPLIED_NONE = 0,	/* no policy applies */
	DMARC_APPLIED_P,
	DMARC_APPLIED_SP,
	DMARC_APPLIED_NP
};

/* Reasons of RFC 9990's PolicyOverrideType. */
enum dmarc_override {
	DMARC_OVERRIDE_LOCAL_POLICY = 0,
	DMARC_OVERRIDE_MAILING_LIST,
	DMARC_OVERRIDE_OTHER,
	DMARC_OVERRIDE_POLICY_TEST_MODE,
	DMARC_OVERRIDE_TRUSTED_FORWARDER
};

/* fo= options (RFC 9989 4.7). */
#define DMARC_FO_0		0x01
#define DMARC_FO_1		0x02
#define DMARC_FO_D		0x04
#define DMARC_FO_S		0x08

/* Bounds: everything from the network is kept in fixed memory. */
#define DMARC_MAX_URIS		32	/* rua/ruf URIs kept per tag */
#define DMARC_URI_MAX		256	/* one kept URI, with its NUL */
#define DMARC_RECORD_MAX	65535	/* longest record parsed (TXT rdata) */
#define DMARC_DOMAIN_MAX	256	/* a domain name, with its NUL */
#define DMARC_MAX_WALK		8	/* queries of one tree walk (4.10) */
#define DMARC_MAX_QUERIES	48	/* DNS queries of one evaluation */
#define DMARC_MAX_ALIGN_WALKS	8	/* identifiers walked for alignment */
#define DMARC_MAX_FROM_LEN	16384	/* one From field value */
#define DMARC_MAX_FROM_ADDRS	32	/* mailboxes in all From fields */
#define DMARC_LOCAL_MAX		256	/* a From local part, with its NUL */
#define DMARC_MAILBOX_MAX	(DMARC_LOCAL_MAX + DMARC_DOMAIN_MAX)
#define DMARC_MAX_DKIM		16	/* DKIM results kept for reports */
#define DMARC_MAX_AUTHORS	8	/* Author Domains evaluated (11.5) */
#define DMARC_MAX_REASONS	4	/* override reasons of one record */
#define DMARC_COMMENT_MAX	256
#define DMARC_TRACE_MAX		(32 * 1024)

struct dmarc_record {
	enum dmarc_policy	 p, sp, np;	/* ABSENT: not in the record */
	char			 psd;		/* 'y', 'n', 'u' */
	int			 testing;	/* t=y */
	char			 adkim, aspf;	/* 'r', 's' */
	unsigned int		 fo;		/* DMARC_FO_*, default _0 */
	char			 rua[DMARC_MAX_URIS][DMARC_URI_MAX];
	char			 ruf[DMARC_MAX_URIS][DMARC_URI_MAX];
	size_t			 nrua, nruf;	/* mailto: URIs kept */
	/* their "!size" limits in bytes (RFC 7489 6.2), 0: none */
	uint64_t		 rua_limit[DMARC_MAX_URIS];
	uint64_t		 ruf_limit[DMARC_MAX_URIS];
	size_t			 rua_valid;	/* valid URIs, any scheme */
	/* URIs of other schemes or bad, and URIs past the bound */
	size_t			 rua_ignored, ruf_ignored;
	size_t			 rua_dropped, ruf_dropped;
	int			 pct;		/* historic, unused; -1 */
	int			 p_none_forced;	/* 4.10.1: bad p, rua */
	char			 notes[256];	/* tags ignored and why */
};

/*
 * Parse one DMARC Policy Record (RFC 9989 4.7, 4.8).
 *   0  a usable record (defaults filled in, syntax errors in tag values
 *      discarded in favour of the defaults, unknown tags ignored);
 *  -1  not a DMARC record (v=DMARC1 missing or not first): the record
 *      MUST be ignored (4.7);
 *  -2  a DMARC record that cannot be used: duplicate tags, or an invalid
 *      p/sp/np with no valid rua URI (4.10.1).
 * err gets the reason for -1 and -2.
 */
int		 dmarc_record_parse(const char *txt, size_t len,
		    struct dmarc_record *, char *err, size_t errlen);
/* "0:d" etc. for fo ("" for no bits). */
void		 dmarc_fo_text(unsigned int fo, char *out, size_t outlen);

/*
 * Author Domain extraction (RFC 9989 5.3.1): parse the From field values
 * (RFC 5322 3.4 address-list: display names, comments, quoted strings,
 * groups, obsolete routes) and return the single domain, lower-cased.
 * 0 with the domain; -1 with a reason when there is none or more than one
 * (several From fields with different domains, several domains in one
 * field, no From field, a syntax error, a domain literal or non-ASCII).
 */
int		 dmarc_author_domain(const char *const *fields, size_t nfields,
		    char *domain, size_t domainlen, char *err, size_t errlen);
/*
 * The same parse for RFC 9989 11.5, which evaluates every Author Domain
 * of a message whose From fields name several: the distinct domains in
 * the order they appear, at most max of them kept in domains.  Returns
 * how many there are (possibly more than max), or -1 with a reason as
 * dmarc_author_domain() gives it (no From field, a syntax error, ...).
 */
int		 dmarc_author_domains(const char *const *fields,
		    size_t nfields, char (*domains)[DMARC_DOMAIN_MAX],
		    size_t max, char *err, size_t errlen);
/*
 * The same parse, for who the author claims to be ("senders <T>"):
 * every mailbox of the From fields (RFC 5322 3.6.2 mailbox-list; group
 * members too) as "local@domain", the local part as written (quotes
 * kept), the domain as above.  The number of mailboxes (at most max,
 * at least 1), or -1 with a reason.
 */
int		 dmarc_from_mailboxes(const char *const *fields, size_t nfields,
		    char (*mailboxes)[DMARC_MAILBOX_MAX], size_t max,
		    char *err, size_t errlen);

struct dmarc_params {
	const char		*const *from_fields; /* raw From values */
	size_t			 nfrom;
	/*
	 * The Author Domain to evaluate, one of dmarc_author_domains();
	 * NULL: the single one of from_fields (several are a permerror).
	 */
	const char		*author_domain;
	const char		*mail_from;	/* domain or address; "": <> */
	const char		*helo;		/* HELO/EHLO domain */
	enum spf_result		 spf;		/* result of the SPF check */
	enum spf_identity	 spf_scope;	/* identity that was checked */
	const struct dkim_sigresult *dkim;	/* every signature's result */
	size_t			 ndkim;
	const char		*source_ip;
	const char		*envelope_to;	/* recipient domain */
	time_t			 now;		/* 0: time(NULL) */
	int			 trace;
};

struct dmarc_reason {
	enum dmarc_override	 type;
	char			 comment[DMARC_COMMENT_MAX];
};

struct dmarc_dkim_auth {
	char			 domain[DMARC_DOMAIN_MAX];
	char			 selector[DMARC_DOMAIN_MAX];
	enum dkim_result	 result;
};

/*
 * Everything one <record> of an RFC 9990 aggregate report holds; its
 * binary form for reportd is in auth/dmarc_eval.h.
 */
struct dmarc_eval_record {
	time_t			 when;
	enum dmarc_result	 result;
	/* row */
	char			 source_ip[64];
	uint32_t		 count;
	enum dmarc_disposition	 disposition;
	int			 dkim_aligned_pass;	/* policy_evaluated */
	int			 spf_aligned_pass;	/* policy_evaluated */
	struct dmarc_reason	 reasons[DMARC_MAX_REASONS];
	size_t			 nreasons;
	/* identifiers */
	char			 header_from[DMARC_DOMAIN_MAX];
	char			 envelope_from[DMARC_DOMAIN_MAX];
	char			 envelope_to[DMARC_DOMAIN_MAX];
	/* auth_results */
	struct dmarc_dkim_auth	 dkim[DMARC_MAX_DKIM];
	size_t			 ndkim;
	int			 have_spf;
	char			 spf_domain[DMARC_DOMAIN_MAX];
	enum spf_result		 spf_result;	/* scope is always mfrom */
	/* policy_published; have_policy 0: no record was found */
	int			 have_policy;
	char			 policy_domain[DMARC_DOMAIN_MAX];
	enum dmarc_policy	 p, sp, np;
	char			 psd;
	int			 testing;
	char			 adkim, aspf;
	unsigned int		 fo;
	int			 discovery_treewalk;	/* else "psl" */
	/* not reported: the message only carried a report (reportmark.h) */
	int			 report_mail;
};

struct dmarc_outcome {
	enum dmarc_result	 result;
	char			 reason[512];
	/* the Author Domain */
	char			 header_from[DMARC_DOMAIN_MAX];
	int			 have_record;
	struct dmarc_record	 record;	/* the policy record applied */
	char			 policy_domain[DMARC_DOMAIN_MAX];
	char			 org_domain[DMARC_DOMAIN_MAX];
	enum dmarc_applied	 applied;	/* p, sp or np */
	enum dmarc_policy	 policy;	/* value of that tag */
	enum dmarc_disposition	 disposition;	/* after t=y */
	int			 author_exists;	/* -1 not checked */
	int			 spf_aligned;
	int			 dkim_aligned;
	char			 dkim_aligned_domain[DMARC_DOMAIN_MAX];
	const char		*discovery;	/* "treewalk" */
	char			**queried;	/* names queried, in order */
	size_t			 nqueried;
	char			*trace;		/* when params.trace */
	struct dmarc_eval_record eval;
};

struct dmarc_eval;
typedef void (*dmarc_done_cb)(void *arg, const struct dmarc_outcome *);

/*
 * Start an evaluation.  done runs once, later, from the DNS context's
 * event loop; the outcome it gets is valid during the call only (copy
 * what you need, or use dmarc_outcome_copy()).  dmarc_eval_cancel() stops
 * a running evaluation (done never runs).
 */
struct dmarc_eval *dmarc_eval_start(struct dns_ctx *,
		    const struct dmarc_params *, dmarc_done_cb, void *);
void		 dmarc_eval_cancel(struct dmarc_eval *);

/* Synchronous: runs the DNS context's event base until the result. */
enum dmarc_result dmarc_check_sync(struct dns_ctx *,
		    const struct dmarc_params *, struct dmarc_outcome *);
/*
 * RFC 9989 11.5: of the outcomes of several Author Domains of one
 * message, the index of the one whose policy applies: the strictest
 * failing one (reject, then a DNS error that might hide a reject, then
 * quarantine, then none), else a permerror, a pass, none; the first of
 * equals.  n must be at least 1.
 */
size_t		 dmarc_strictest(const struct dmarc_outcome *const *,
		    size_t n);
void		 dmarc_outcome_copy(struct dmarc_outcome *dst,
		    const struct dmarc_outcome *src);
void		 dmarc_outcome_clear(struct dmarc_outcome *);

const char	*dmarc_result_name(enum dmarc_result);
const char	*dmarc_policy_name(enum dmarc_policy);	/* "" if absent */
const char	*dmarc_disposition_name(enum dmarc_disposition);
const char	*dmarc_applied_name(enum dmarc_applied);	/* "p" ... */
const char	*dmarc_override_name(enum dmarc_override);

/* RFC 8601 method properties for the Authentication-Results writer. */
struct dmarc_ar_prop {
	char	 name[40];		/* "header.from", "policy.dmarc" */
	char	 value[DMARC_DOMAIN_MAX];
};
#define DMARC_AR_PROPS_MAX	4

/* Fills props (at most DMARC_AR_PROPS_MAX); returns how many. */
size_t		 dmarc_ar_props(const struct dmarc_outcome *,
		    struct dmarc_ar_prop *props);

#endif

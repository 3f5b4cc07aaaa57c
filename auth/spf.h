/*
 * SPF (RFC 7208): check_host() as a library, usable asynchronously from a
 * libevent loop (authd) and synchronously (posternctl, unit tests), over
 * lib/dns.h.
 */
#ifndef POSTERN_SPF_H
#define POSTERN_SPF_H

#include <sys/types.h>
#include <netinet/in.h>
#include <stddef.h>
#include <time.h>

#include "dns.h"

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

enum spf_identity {
	SPF_ID_MAILFROM = 0,
	SPF_ID_HELO
};

/* Limits of RFC 7208 4.6.4 and our own bounds. */
#define SPF_MAX_DNS_TERMS	10	/* 4.6.4 */
#define SPF_MAX_VOID		2	/* 4.6.4 */
#define SPF_MAX_NAMES		10	/* MX and PTR names, 4.6.4 */
#define SPF_MAX_DEPTH		(SPF_MAX_DNS_TERMS + 2)
#define SPF_MAX_TERMS		256	/* terms in one record */
#define SPF_MAX_EXPANSION	4096	/* one macro expansion */
#define SPF_TRACE_MAX		(64 * 1024)

struct spf_params {
	const char		*ip;		/* SMTP client, text form */
	const char		*helo;		/* HELO/EHLO argument */
	const char		*mail_from;	/* MAIL FROM, "" or NULL: <> */
	enum spf_identity	 identity;
	const char		*receiver;	/* %{r}; NULL: "unknown" */
	time_t			 now;		/* %{t}; 0: time(NULL) */
	int			 trace;		/* keep a step-by-step trace */
};

struct spf_outcome {
	enum spf_result	 result;
	char		 sender[1024];		/* <sender> as checked */
	char		 domain[DNS_NAME_BUF];	/* initial <domain> */
	char		 reason[512];		/* human-readable why */
	char		*explanation;		/* fail with exp=, else NULL */
	char		*trace;			/* when params.trace */
	unsigned int	 lookups;		/* DNS-querying terms used */
	unsigned int	 voids;			/* void lookups seen */
};

struct spf_eval;
typedef void (*spf_done_cb)(void *arg, const struct spf_outcome *);

/*
 * Start check_host() for the identity in params.  done runs once, later,
 * from the event loop of the DNS context; the evaluation is freed after it
 * returns.  spf_eval_cancel() stops a running evaluation (done never runs).
 */
struct spf_eval	*spf_eval_start(struct dns_ctx *, const struct spf_params *,
		    spf_done_cb, void *);
void		 spf_eval_cancel(struct spf_eval *);

/* Synchronous: runs the DNS context's event base until the result. */
enum spf_result	 spf_check_sync(struct dns_ctx *, const struct spf_params *,
		    struct spf_outcome *);
void		 spf_outcome_clear(struct spf_outcome *);

const char	*spf_result_name(enum spf_result);

/*
 * Record syntax (RFC 7208 4.6.1, 12): 0 if valid, -1 with a reason.
 * Exposed for tests and the fuzzer.
 */
int		 spf_record_check(const char *record, char *err,
		    size_t errlen);

/*
 * Macro expansion (RFC 7208 7).  The environment holds the values of the
 * macro letters; ip is IPv4 (af AF_INET) after IPv4-mapped addresses have
 * been unwrapped.
 */
struct spf_macro_env {
	const char	*sender;	/* s */
	const char	*local;		/* l */
	const char	*sender_domain;	/* o */
	const char	*domain;	/* d */
	int		 af;
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	} ip;				/* i, c, v */
	const char	*validated;	/* p; NULL: "unknown" */
	const char	*helo;		/* h */
	const char	*receiver;	/* r */
	time_t		 now;		/* t */
};

/* Flags for spf_macro_expand(). */
#define SPF_MACRO_EXP		0x01	/* exp text: c, r, t allowed */
#define SPF_MACRO_DOMAIN	0x02	/* a domain-spec: check domain-end */

/* -1 on a syntax error (with a reason in err), else the length. */
int		 spf_macro_expand(const char *, size_t,
		    const struct spf_macro_env *, int flags, char *out,
		    size_t outlen, char *err, size_t errlen);
/* Syntax only (no values needed). */
int		 spf_macro_check(const char *, size_t, int flags, char *err,
		    size_t errlen);
/* Does the macro-string use %{p}? */
int		 spf_macro_uses_p(const char *, size_t);
/* Shorten an expanded domain to 253 characters from the left (7.3). */
void		 spf_domain_truncate(char *);
/* Domain validation of RFC 7208 4.3 (FQDN, labels 1..63, <= 253). */
int		 spf_domain_valid(const char *);

#endif

/*
 * iprev (RFC 8601 3, 2.7.3): is the SMTP client's address forward-confirmed
 * by its reverse DNS?  An asynchronous library over lib/dns.h, shaped like
 * auth/spf.h: iprev_eval_start() from a libevent loop (authd), and
 * iprev_check_sync() for posternctl and the tests.
 */
#ifndef POSTERN_IPREV_H
#define POSTERN_IPREV_H

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stddef.h>

#include "dns.h"

struct authres_method;
struct authres_prop;

/* The result values of RFC 8601 2.7.3. */
enum iprev_result {
	IPREV_PASS = 0,
	IPREV_FAIL,
	IPREV_TEMPERROR,
	IPREV_PERMERROR
};

#define IPREV_MAX_NAMES		10		/* PTR names tried */
#define IPREV_TRACE_MAX		(16 * 1024)

struct iprev_params {
	const char	*ip;	/* SMTP client, text form, v4 or v6 */
	const char	*helo;	/* HELO/EHLO argument, may be NULL */
	int		 trace;	/* keep a step-by-step trace */
};

/*
 * ip: the address as checked (IPv4-mapped unwrapped); name: the confirmed
 * PTR name or ""; helo_match: name equals the HELO name (case and a final
 * dot ignored); nnames: PTR names seen, before the IPREV_MAX_NAMES bound;
 * trace: when params.trace, else NULL.
 */
struct iprev_outcome {
	enum iprev_result result;
	char		 ip[INET6_ADDRSTRLEN];
	char		 name[DNS_NAME_BUF];
	int		 helo_match;
	size_t		 nnames;
	char		 reason[512];	/* human-readable why */
	char		*trace;
};

struct iprev_eval;
typedef void (*iprev_done_cb)(void *arg, const struct iprev_outcome *);

/*
 * Start the check.  done runs once, later, from the event loop of the DNS
 * context; the evaluation is freed after it returns.  iprev_eval_cancel()
 * stops a running evaluation (done never runs).
 */
struct iprev_eval *iprev_eval_start(struct dns_ctx *,
		    const struct iprev_params *, iprev_done_cb, void *);
void		 iprev_eval_cancel(struct iprev_eval *);

/* Synchronous: runs the DNS context's event base until the result. */
enum iprev_result iprev_check_sync(struct dns_ctx *,
		    const struct iprev_params *, struct iprev_outcome *);
void		 iprev_outcome_clear(struct iprev_outcome *);

const char	*iprev_result_name(enum iprev_result);

/*
 * Describe the outcome as an Authentication-Results method (authres.h):
 * "iprev=pass (confirmed.name) policy.iprev=192.0.2.1".  m and prop are
 * filled with pointers into o, which must outlive them.
 */
void		 iprev_authres_method(const struct iprev_outcome *o,
		    struct authres_method *m, struct authres_prop *prop);

#endif

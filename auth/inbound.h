/*
 * The whole inbound authentication of one message, as a library: SPF of
 * the MAIL FROM (or HELO) identity and iprev start at once; DKIM and ARC
 * verify while the message streams in; DMARC runs once the message and
 * every lookup are done; then one Authentication-Results field (RFC 8601)
 * and a verdict under the listener's policy.  The authd process runs it
 * for every message; `posternctl check message` runs the same code.
 *
 *	in = inbound_new(dns, &params);
 *	inbound_feed(in, chunk, len) ...	(wire bytes, CRLF line ends)
 *	inbound_end(in, done_cb, arg);		(done_cb runs once, later)
 *	inbound_free(in);			(also cancels)
 */
#ifndef POSTERN_INBOUND_H
#define POSTERN_INBOUND_H

#include <stddef.h>
#include <time.h>

#include "auth/dmarc.h"
#include "dns.h"
#include "util.h"

/* A listener's policy (postern.conf(5) policy), per check. */
enum inbound_mode {
	INBOUND_RELAXED = 0,
	INBOUND_STRICT,
	INBOUND_DISABLE
};

struct inbound_policy {
	enum inbound_mode	 spf, dkim, arc, dmarc;
	int			 spf_reject_fail;
	int			 dkim_allow_sha1;
	int			 dkim_fail_partial_body; /* l= short: fail */
	unsigned int		 dkim_max_signatures;	/* 0: default */
};

struct inbound_params {
	const char	*authserv_id;	/* ours, in the A-R field */
	const char	*ip;		/* the SMTP client; "": none (local), no iprev */
	const char	*helo;
	const char	*mail_from;	/* "" or NULL: the null path */
	const char	*rcpt_domain;	/* for the DMARC record, or NULL */
	/* the listener's policy; NULL: every check relaxed */
	const struct inbound_policy *policy;
	time_t		 now;		/* 0: time(NULL) */
	int		 trace;		/* a step-by-step account */
	/*
	 * The time budget of the message's DNS lookups, milliseconds, from
	 * inbound_new() and again from inbound_end(); 0: none.  What is
	 * unanswered then is a timeout: temperror.
	 */
	int		 dns_budget_ms;
};

#define INBOUND_METHODS_MAX	16	/* counted of one message */

enum inbound_verdict {
	INBOUND_ACCEPT,
	INBOUND_QUARANTINE,		/* DMARC p=quarantine enforced */
	INBOUND_REJECT,			/* 5xx */
	INBOUND_TEMPFAIL		/* 4xx: strict and a DNS error */
};

struct inbound_result {
	enum inbound_verdict	 verdict;
	int			 code;		/* SMTP reply, 0 to accept */
	char			 status[16];	/* enhanced, RFC 3463/7372 */
	char			 text[256];
	struct buf		 header;	/* "Authentication-Results:
						   ..." CRLF */
	int			 have_dmarc;	/* an evaluation for reports */
	struct dmarc_eval_record dmarc_eval;
	size_t			 dmarc_nruf;	/* its record's ruf mailto: URIs */
	/* RFC 6651: the first signature that failed and asked for reports */
	int			 dkim_report;
	char			 dkim_report_d[DMARC_DOMAIN_MAX];
	char			 dkim_report_s[DMARC_DOMAIN_MAX];
	char			 dkim_report_i[DMARC_DOMAIN_MAX];
	int			 dkim_report_bodyhash;	/* else the signature */
	/*
	 * RFC 6652: SPF did not pass for this domain (fail, softfail,
	 * neutral, temperror, permerror): its record may ask reports of it.
	 */
	char			 spf_report_domain[DMARC_DOMAIN_MAX];
	enum spf_result		 spf_report_result;
	const char		*trace;		/* with params.trace */
	size_t			 dns_cut;	/* lookups the budget ended */
	/*
	 * The methods of the Authentication-Results field and their
	 * results (static strings), for authd's counters.
	 */
	struct {
		const char	*method, *result;
	}			 methods[INBOUND_METHODS_MAX];
	size_t			 nmethods;
};

struct inbound;
typedef void (*inbound_done_cb)(void *arg, const struct inbound_result *);

struct inbound	*inbound_new(struct dns_ctx *, const struct inbound_params *);
/*
 * SPF's result, for a MAIL reply (RFC 7208 8.4): cb runs once SPF is done
 * (later, from the loop, even if it already is).  -1 on a refusal.
 */
typedef void (*inbound_spf_cb)(void *arg, int refuse, int code,
		    const char *status, const char *text);
void		 inbound_on_spf(struct inbound *, inbound_spf_cb, void *);
void		 inbound_set_rcpt_domain(struct inbound *, const char *);
void		 inbound_feed(struct inbound *, const void *, size_t);
void		 inbound_end(struct inbound *, inbound_done_cb, void *);
void		 inbound_free(struct inbound *);

/* Synchronous (posternctl): runs the DNS context's base until done. */
int		 inbound_check_sync(struct dns_ctx *,
		    const struct inbound_params *, const void *msg,
		    size_t len, void (*print)(void *,
		    const struct inbound_result *), void *arg);

/* The RFC5322.From domain once the header is in (-1: none, or several). */
int		 inbound_from_domain(struct inbound *, char *, size_t);
/*
 * Every mailbox of the From fields once the header is in (see
 * dmarc_from_mailboxes()): the count, or -1 with a reason when there is
 * none, one cannot be read, or the header was too large to see them all.
 */
int		 inbound_from_mailboxes(struct inbound *,
		    char (*)[DMARC_MAILBOX_MAX], size_t max, char *err,
		    size_t errlen);
/* enum arc_result of the message's chain, -1 if not checked. */
int		 inbound_arc_result(struct inbound *);
const char	*inbound_verdict_name(enum inbound_verdict);

#endif

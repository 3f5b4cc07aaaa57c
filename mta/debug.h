/*
 * posternctl debug delivery, in the mta (mta/debug.c): a probe of one
 * delivery that runs the mta's own code (mta.c's destination, mxres,
 * tlsa.c, sts_policy.c and sts_fetch.c, session.c and session_secure.c)
 * on a private struct mta, stops after RCPT, and streams one line per
 * step to the posternctl client that asked.
 *
 * The hooks below are called from that code at each step; for the real
 * mta (m->probe NULL) each returns at once and changes nothing.
 */
#ifndef POSTERN_MTA_DEBUG_H
#define POSTERN_MTA_DEBUG_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct imsg;
struct mta;
struct mta_dest;
struct mta_rcpt;
struct mta_tlsa_host;
struct mxres_result;

#define MTA_DEBUG_MAX		4	/* probes at once */
#define MTA_DEBUG_LIMIT		180	/* seconds, a whole probe */

/* A value that is JSON null ("-" in the human form). */
extern const char mta_debug_null[];

/* From control: start a probe, or cancel the one of a client that left. */
void	mta_debug_start(struct mta *, struct imsg *);
void	mta_debug_cancel(struct mta *, uint32_t peerid);

/* Hooks in the delivery code; no-ops for the real mta. */
void	mta_debug_step(struct mta *, const char *step, ...)
	    __attribute__((sentinel));
void	mta_debug_mx(struct mta_dest *, const struct mxres_result *);
void	mta_debug_tlsa(const struct mta_tlsa_host *, int dnssec);
void	mta_debug_sts_note(struct mta_dest *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	mta_debug_sts(struct mta_dest *);
void	mta_debug_connect(struct mta *, const char *host, const char *addr);
void	mta_debug_skip(struct mta *, const char *host, int policy,
	    const char *dane, const char *why);
void	mta_debug_tls(struct mta *, const char *version);
void	mta_debug_tls_result(struct mta *, const char *result,
	    int dane_required, int policy);
void	mta_debug_reply(struct mta *, int code);
void	mta_debug_host_fail(struct mta *, const char *step, const char *host,
	    const char *addr, const char *why);
int	mta_debug_report(struct mta *, const struct mta_rcpt *, int status,
	    const char *remote_mta, const char *error);

/* The pure parts, for the unit tests. */
void	mta_debug_json_string(struct buf *, const char *);
void	mta_debug_format(struct buf *, int json, const char *step,
	    const char *const *kv, size_t nkv);
int	mta_debug_verdict(int status, size_t npolicy, size_t ntemp);

#endif

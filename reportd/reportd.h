/*
 * What reportd's files share: the process's state (reportd/reportd.c) and
 * the sending of reports (reportd/send.c).
 */
#ifndef POSTERN_REPORTD_H
#define POSTERN_REPORTD_H

#include <sys/queue.h>

#include <event.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "imsg.h"
#include "msg.h"
#include "netaddr.h"
#include "util.h"

struct dns_ctx;
struct dns_query;
struct evalstore;
struct sentlog;
struct dmarc_agg;
struct dmarc_agg_meta;
struct report_job;
struct proc;
struct tls_config;
struct failure;
struct report_outq;

TAILQ_HEAD(report_jobs, report_job);

struct rpt_store;

struct reportd {
	struct proc		*proc;
	struct evalstore	*es;
	struct rpt_store	*rs;		/* received reports */
	unsigned int		 period;	/* seconds: a day or an hour */
	struct msg_conf_reports	 conf;		/* from the parent */
	int			 have_conf;
	struct msg_conf_dkimsig	 sig;		/* reports sign with */
	EVP_PKEY		*sigkey;	/* NULL: reports unsigned */
	struct event		 ev_flush;
	int			 flush_armed;
	struct event		 ev_prune;

	/* sending (reportd/send.c) */
	struct dns_ctx		*dns;
	struct sentlog		*sl;
	struct report_jobs	 jobs;		/* waiting */
	struct report_job	*cur;		/* being made or queued */
	struct event		 ev_tick;
	time_t			 closed_through; /* periods closed before */
	time_t			 tls_closed_through; /* TLS-RPT days */
	struct tls_config	*tls_config;	/* TLS-RPT https: */
	/* where a POST may go: the mta's loop-check addresses, strict */
	struct netaddr_net	*post_listen, *post_allow;
	size_t			 npost_listen, npost_allow;
	struct netaddr_rules	 post_rules;
	uint32_t		 next_peer;	/* queue request ids */
	time_t			 count_period;	/* for max-per-period */
	unsigned int		 count_sent;
	uint64_t		 st_queued, st_dup, st_failed, st_skipped;

	/* failure reports (reportd/failure.c) */
	struct failure		*failure;
	/* one report at a time to the queue (reportd/outq.c) */
	int			 queue_busy;
	struct report_outq	*outq;
};

/* reportd/reportd.c */
void	 reportd_ctl_error(struct reportd *, uint32_t peerid, const char *,
	    ...) __attribute__((format(printf, 3, 4)));
void	 reportd_meta(struct reportd *, struct dmarc_agg_meta *);
void	 reportd_ctl_data(struct reportd *, uint32_t peerid,
	    const struct buf *);
void	 reportd_flush_evaluations(struct reportd *);
struct dmarc_agg *reportd_dmarc_build(struct reportd *, const char *domain,
	    time_t begin, time_t end);

/* reportd/send.c */
void	 reportd_queue_report(struct reportd *, uint32_t peer,
	    const char *sender, const char *key, const char *const *rcpts,
	    size_t nrcpt, const struct buf *msg);
void	 reportd_send_start(struct reportd *);
void	 reportd_sentlog_prune(struct reportd *);

/* reportd/outq.c */
void	 reportd_outq_hold(struct reportd *, uint32_t peer, uint32_t flags,
	    const char *sender, const char *key, const char *const *rcpts,
	    size_t nrcpt, const struct buf *msg);
void	 reportd_outq_next(struct reportd *);
void	 reportd_ctl_dmarc_send(struct reportd *, struct imsg *);
int	 reportd_ctl_send_request(struct reportd *, struct imsg *,
	    struct msg_ctl_domain *);
void	 reportd_queue_result(struct reportd *, struct imsg *);
void	 reportd_queue_bounce(struct reportd *, struct imsg *);
void	 reportd_ctl_suppressions(struct reportd *, struct imsg *);
void	 reportd_ctl_suppression_remove(struct reportd *, struct imsg *);
void	 reportd_queue_report_flags(struct reportd *, uint32_t peer,
	    uint32_t flags, const char *sender, const char *key,
	    const char *const *rcpts, size_t nrcpt, const struct buf *msg);
int	 reportd_sign(struct reportd *, struct buf *);
/* the jobs (one runs at a time), for kinds other than DMARC */
#define REPORTD_KIND_TLS	"tls"
size_t	 reportd_job_add(struct reportd *, const char *kind,
	    const char *domain, time_t begin, time_t end);
void	 reportd_job_run(struct reportd *);
void	 reportd_job_done(struct reportd *);
void	 reportd_job_skip(struct reportd *, const char *why);
void	 reportd_job_later(struct reportd *, const char *why);
void	 reportd_job_wait(struct reportd *);
void	 reportd_job_finish(struct reportd *);
int	 reportd_job_queue(struct reportd *, uint32_t flags,
	    const char *const *rcpts, size_t nrcpt, const struct buf *msg);

/* reportd/tlsrpt_send.c: TLS-RPT (RFC 8460 5) */
struct tls_job;
void	 reportd_tls_preinit(struct reportd *);
size_t	 reportd_tls_close(struct reportd *, time_t now, const char *domain,
	    int current);
void	 reportd_tls_job(struct reportd *, struct tls_job **,
	    const char *domain, time_t begin, time_t end);
void	 reportd_tls_job_free(struct tls_job *);
void	 reportd_tls_mailed(struct tls_job *, int queued_now);
void	 reportd_ctl_tls_print(struct reportd *, struct imsg *);
void	 reportd_ctl_tls_send(struct reportd *, struct imsg *);

#endif

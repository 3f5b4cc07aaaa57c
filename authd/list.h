/*
 * authd's part of mailing lists (authd/list.c): the header section of a
 * list's copy of a message, which the queue asks for.
 */
#ifndef POSTERN_AUTHD_LIST_H
#define POSTERN_AUTHD_LIST_H

#include <sys/queue.h>

#include "auth/arc.h"
#include "auth/dkim.h"
#include "imsg.h"
#include "posternd/proc.h"
#include "routing.h"

struct dns_ctx;
struct authd_list_job;

struct authd_lists {
	struct proc			*proc;
	struct dns_ctx			*dns;
	struct routing			*routing;	/* the lists, tables */
	/*
	 * A dkim-signature's key and names, for "sign with NAME" and
	 * "arc-seal with NAME": 0, or -1
	 */
	int				(*signer)(void *, const char *name,
					    struct dkim_signer *);
	void				*arg;
	TAILQ_HEAD(, authd_list_job)	 jobs;
};

void	authd_list_init(struct authd_lists *, struct proc *, struct dns_ctx *,
	    struct routing *, int (*)(void *, const char *,
	    struct dkim_signer *), void *);
/* IMSG_LIST_BUILD from the queue (the fd is taken). */
void	authd_list_imsg(struct authd_lists *, struct imsg *);

#endif

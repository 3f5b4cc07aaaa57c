/*
 * Finding sessions without walking them all (issue 19: 10,000 at once):
 * by id, which every answer from the queue and authd carries, and the
 * number of sessions of each client network, which smtp-max-per-ip
 * checks at every accept.  Chained hash tables that double as they fill;
 * nothing here costs O(sessions) per event but the doubling, amortised.
 */
#ifndef POSTERN_SMTPD_INDEX_H
#define POSTERN_SMTPD_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "smtpd/limits.h"

struct session;
struct net_count;

struct session_index {
	struct session		**byid;		/* chained by id_next */
	size_t			 nbyid;		/* buckets, a power of 2 */
	size_t			 nsessions;
	struct net_count	**bynet;
	size_t			 nbynet;	/* buckets, a power of 2 */
	size_t			 nnets;		/* networks with sessions */
};

void		 session_index_init(struct session_index *);
void		 session_index_free(struct session_index *);
/* s->id and s->net are set and stay so until session_index_del() */
void		 session_index_add(struct session_index *, struct session *);
void		 session_index_del(struct session_index *, struct session *);
struct session	*session_index_find(const struct session_index *, uint32_t);
/* sessions of this client network (0 for a net of family 0: none) */
size_t		 session_index_net_count(const struct session_index *,
		    const struct client_net *);

#endif

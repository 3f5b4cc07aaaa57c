/*
 * The smtp process's session index (smtpd/index.h): sessions by id and
 * a count of sessions per client network, in chained hash tables.
 * Session ids are handed out in sequence, so the id's low bits spread
 * them evenly; networks are hashed with FNV-1a.  A table doubles when it
 * holds more entries than buckets, and never shrinks: its size follows
 * the most sessions held at once, a pointer per session at most twice.
 */
#include <stdlib.h>
#include <string.h>

#include "smtpd/index.h"
#include "smtpd/smtp.h"
#include "util.h"

#define INDEX_BUCKETS_MIN	256

struct net_count {
	struct net_count	*next;
	struct client_net	 net;
	size_t			 n;
};

static size_t
index_net_hash(const struct client_net *net)
{
	const uint8_t	*p = net->addr;
	uint32_t	 h = 2166136261u;
	size_t		 i;

	h = (h ^ (uint32_t)net->family) * 16777619u;
	h = (h ^ (uint32_t)net->prefixlen) * 16777619u;
	for (i = 0; i < sizeof(net->addr); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void
session_index_init(struct session_index *x)
{
	memset(x, 0, sizeof(*x));
	x->nbyid = x->nbynet = INDEX_BUCKETS_MIN;
	x->byid = xcalloc(x->nbyid, sizeof(*x->byid));
	x->bynet = xcalloc(x->nbynet, sizeof(*x->bynet));
}

void
session_index_free(struct session_index *x)
{
	struct net_count	*c;
	size_t			 i;

	for (i = 0; i < x->nbynet; i++)
		while ((c = x->bynet[i]) != NULL) {
			x->bynet[i] = c->next;
			free(c);
		}
	free(x->bynet);
	free(x->byid);
	memset(x, 0, sizeof(*x));
}

static void
index_grow_byid(struct session_index *x)
{
	struct session	**old = x->byid, *s;
	size_t		  nold = x->nbyid, i;

	x->nbyid *= 2;
	x->byid = xcalloc(x->nbyid, sizeof(*x->byid));
	for (i = 0; i < nold; i++)
		while ((s = old[i]) != NULL) {
			old[i] = s->id_next;
			s->id_next = x->byid[s->id & (x->nbyid - 1)];
			x->byid[s->id & (x->nbyid - 1)] = s;
		}
	free(old);
}

static void
index_grow_bynet(struct session_index *x)
{
	struct net_count	**old = x->bynet, *c;
	size_t			  nold = x->nbynet, i, b;

	x->nbynet *= 2;
	x->bynet = xcalloc(x->nbynet, sizeof(*x->bynet));
	for (i = 0; i < nold; i++)
		while ((c = old[i]) != NULL) {
			old[i] = c->next;
			b = index_net_hash(&c->net) & (x->nbynet - 1);
			c->next = x->bynet[b];
			x->bynet[b] = c;
		}
	free(old);
}

static struct net_count **
index_net_slot(const struct session_index *x, const struct client_net *net)
{
	struct net_count	**cp;

	cp = &x->bynet[index_net_hash(net) & (x->nbynet - 1)];
	while (*cp != NULL && !client_net_equal(&(*cp)->net, net))
		cp = &(*cp)->next;
	return cp;
}

void
session_index_add(struct session_index *x, struct session *s)
{
	struct net_count	**cp, *c;

	if (x->nsessions >= x->nbyid)
		index_grow_byid(x);
	s->id_next = x->byid[s->id & (x->nbyid - 1)];
	x->byid[s->id & (x->nbyid - 1)] = s;
	x->nsessions++;

	if (s->net.family == 0)
		return;
	if ((c = *index_net_slot(x, &s->net)) != NULL) {
		c->n++;
		return;
	}
	if (x->nnets >= x->nbynet)
		index_grow_bynet(x);
	cp = index_net_slot(x, &s->net);
	c = xcalloc(1, sizeof(*c));
	c->net = s->net;
	c->n = 1;
	*cp = c;
	x->nnets++;
}

void
session_index_del(struct session_index *x, struct session *s)
{
	struct session		**sp;
	struct net_count	**cp, *c;

	for (sp = &x->byid[s->id & (x->nbyid - 1)]; *sp != NULL;
	    sp = &(*sp)->id_next)
		if (*sp == s) {
			*sp = s->id_next;
			s->id_next = NULL;
			x->nsessions--;
			break;
		}

	if (s->net.family == 0)
		return;
	cp = index_net_slot(x, &s->net);
	if ((c = *cp) == NULL)
		return;
	if (--c->n == 0) {
		*cp = c->next;
		free(c);
		x->nnets--;
	}
}

struct session *
session_index_find(const struct session_index *x, uint32_t id)
{
	struct session	*s;

	for (s = x->byid[id & (x->nbyid - 1)]; s != NULL; s = s->id_next)
		if (s->id == id)
			return s;
	return NULL;
}

size_t
session_index_net_count(const struct session_index *x,
    const struct client_net *net)
{
	struct net_count	*c;

	if (net->family == 0)
		return 0;
	c = *index_net_slot(x, net);
	return c != NULL ? c->n : 0;
}

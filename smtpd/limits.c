/*
 * Limits that hold under attack (issue 18): which sessions belong to one
 * client, how fast a message arrives, and AUTH failures remembered across
 * sessions.
 *
 * A client is its network, not its address: an IPv6 client gets a /64 (RFC
 * 4291 2.5.4 and RFC 7421: one subnet, often one host's to choose from),
 * so that the 2^64 addresses of one attacker count as one.  The prefix
 * lengths are configurable (smtp-ipv4-prefix, smtp-ipv6-prefix).
 *
 * What this file does not do: timers and replies (session.c), and it
 * never persists anything: a restart forgets the failures.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/limits.h"
#include "util.h"

void
client_net_from(struct client_net *n, const struct sockaddr *sa,
    int ipv4_prefix, int ipv6_prefix)
{
	const uint8_t	*a;
	size_t		 len, i;
	int		 bits;

	memset(n, 0, sizeof(*n));
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		len = 4;
		bits = ipv4_prefix < 0 || ipv4_prefix > 32 ? 32 : ipv4_prefix;
	} else if (sa->sa_family == AF_INET6) {
		a = (const uint8_t *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		len = 16;
		bits = ipv6_prefix < 0 || ipv6_prefix > 128 ? 128 :
		    ipv6_prefix;
	} else
		return;
	n->family = sa->sa_family;
	n->prefixlen = bits;
	for (i = 0; i < len; i++, bits -= 8) {
		if (bits >= 8)
			n->addr[i] = a[i];
		else if (bits > 0)
			n->addr[i] = a[i] & (uint8_t)(0xff << (8 - bits));
		else
			n->addr[i] = 0;
	}
}

void
client_net_uid(struct client_net *n, uint32_t uid)
{
	memset(n, 0, sizeof(*n));
	n->family = AF_UNIX;
	n->prefixlen = 32;
	memcpy(n->addr, &uid, sizeof(uid));
}

int
client_net_contains(const struct client_net *n, const struct sockaddr *sa)
{
	struct client_net	 other;

	if (n->family == 0 || sa->sa_family != n->family)
		return 0;
	client_net_from(&other, sa, n->prefixlen, n->prefixlen);
	return client_net_equal(n, &other);
}

int
client_net_equal(const struct client_net *a, const struct client_net *b)
{
	return a->family != 0 && a->family == b->family &&
	    a->prefixlen == b->prefixlen &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

void
client_net_str(const struct client_net *n, char *out, size_t outsz)
{
	char		 ip[INET6_ADDRSTRLEN];
	uint32_t	 uid;

	if (n->family == AF_UNIX) {
		memcpy(&uid, n->addr, sizeof(uid));
		snprintf(out, outsz, "uid %u", uid);
		return;
	}
	if (n->family == 0 || inet_ntop(n->family, n->addr, ip,
	    sizeof(ip)) == NULL) {
		strlcpy(out, "unknown", outsz);
		return;
	}
	snprintf(out, outsz, "%s/%d", ip, n->prefixlen);
}

/* --- the data rate --- */

void
rate_start(struct rate_window *w, time_t now)
{
	w->start = now;
	w->bytes = 0;
}

void
rate_add(struct rate_window *w, size_t n)
{
	if (w->bytes + n >= w->bytes)
		w->bytes += n;
}

int
rate_check(struct rate_window *w, time_t now, uint64_t min, uint64_t *avg)
{
	uint64_t	 secs, rate;

	secs = now > w->start ? (uint64_t)(now - w->start) : 1;
	rate = w->bytes / secs;
	if (avg != NULL)
		*avg = rate;
	rate_start(w, now);
	return min > 0 && rate < min;
}

/* --- AUTH failures --- */

void
authfail_init(struct authfail *af, size_t nslots, unsigned int max,
    time_t lockout)
{
	memset(af, 0, sizeof(*af));
	af->nslots = nslots;
	af->max_failures = max;
	af->lockout = lockout;
	if (max > 0 && nslots > 0)
		af->slots = xcalloc(nslots, sizeof(*af->slots));
}

void
authfail_free(struct authfail *af)
{
	free(af->slots);
	af->slots = NULL;
	af->nslots = 0;
}

static int
authfail_match(const struct authfail_entry *e, enum authfail_kind kind,
    const struct client_net *net, const char *account)
{
	if (e->kind != kind)
		return 0;
	if (kind == AUTHFAIL_NET)
		return client_net_equal(&e->net, net);
	return strcasecmp(e->account, account) == 0;
}

/* How readily an entry gives its slot: 3 free ... 0 never. */
static int
authfail_rank(const struct authfail_entry *e, time_t now)
{
	if (e->kind == AUTHFAIL_FREE)
		return 3;
	if (e->locked_until <= now)
		return 2;
	return e->kind == AUTHFAIL_NET ? 1 : 0;
}

static struct authfail_entry *
authfail_find(struct authfail *af, enum authfail_kind kind,
    const struct client_net *net, const char *account, time_t now,
    int create)
{
	struct authfail_entry	*e, *victim = NULL;
	size_t			 i;

	for (i = 0; i < af->nslots; i++) {
		e = &af->slots[i];
		/* forget what is neither locked nor recent */
		if (e->kind != AUTHFAIL_FREE && e->locked_until <= now &&
		    now - e->last >= af->lockout)
			e->kind = AUTHFAIL_FREE;
		if (authfail_match(e, kind, net, account))
			return e;
		if (!create)
			continue;
		/*
		 * Room, in this order: a free slot, the entry failed least
		 * recently that is not locked, the network lockout failed
		 * least recently.  An account's lockout is never pushed
		 * out: failures from ever more networks would lift it.
		 */
		if (authfail_rank(e, now) > (victim == NULL ? 0 :
		    authfail_rank(victim, now)) || (victim != NULL &&
		    authfail_rank(e, now) == authfail_rank(victim, now) &&
		    authfail_rank(e, now) < 3 && e->last < victim->last))
			victim = e;
	}
	if (victim != NULL && authfail_rank(victim, now) == 0)
		victim = NULL;
	if (victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->kind = kind;
	if (kind == AUTHFAIL_NET)
		victim->net = *net;
	else
		strlcpy(victim->account, account, sizeof(victim->account));
	victim->first = victim->last = now;
	return victim;
}

static time_t
authfail_left(const struct authfail_entry *e, time_t now)
{
	return e != NULL && e->locked_until > now ? e->locked_until - now : 0;
}

/*
 * 0 while the table has room for a new entry, else the seconds until the
 * first lock ends: every slot holds an account's lockout (network
 * lockouts give way, authfail_find()).
 */
static time_t
authfail_full(struct authfail *af, time_t now)
{
	const struct authfail_entry	*e;
	time_t				 first = 0;
	size_t				 i;

	for (i = 0; i < af->nslots; i++) {
		e = &af->slots[i];
		if (authfail_rank(e, now) > 0)
			return 0;
		if (first == 0 || e->locked_until < first)
			first = e->locked_until;
	}
	return first > now ? first - now : 0;
}

time_t
authfail_locked(struct authfail *af, const struct client_net *net,
    const char *account, time_t now)
{
	time_t	 a, b = 0, full;

	if (af->max_failures == 0)
		return 0;
	/*
	 * Every slot locked (thousands of networks or accounts failed
	 * max times each): failures can no longer be counted, so nobody
	 * new is checked until a lock ends.  Closed, not open: a flood
	 * of failures must not buy an attacker unlimited guesses.
	 */
	if ((full = authfail_full(af, now)) > 0)
		return full;
	a = authfail_left(authfail_find(af, AUTHFAIL_NET, net, NULL, now, 0),
	    now);
	if (account != NULL && *account != '\0')
		b = authfail_left(authfail_find(af, AUTHFAIL_ACCOUNT, NULL,
		    account, now, 0), now);
	return a > b ? a : b;
}

static int
authfail_count(struct authfail *af, struct authfail_entry *e, time_t now)
{
	if (e == NULL)
		return 0;
	/* failures count for the lockout time after the first */
	if (now - e->first >= af->lockout) {
		e->first = now;
		e->failures = 0;
	}
	e->last = now;
	if (++e->failures < af->max_failures)
		return 0;
	e->failures = 0;
	e->first = now;
	e->locked_until = now + af->lockout;
	return 1;
}

int
authfail_record(struct authfail *af, const struct client_net *net,
    const char *account, time_t now)
{
	int	 locked;

	if (af->max_failures == 0)
		return 0;
	locked = authfail_count(af, authfail_find(af, AUTHFAIL_NET, net, NULL,
	    now, 1), now);
	if (account != NULL && *account != '\0')
		locked |= authfail_count(af, authfail_find(af,
		    AUTHFAIL_ACCOUNT, NULL, account, now, 1), now);
	return locked;
}

/*
 * Limits that hold under attack: a client's network (its address under
 * the configured prefix), the data rate of a message being received, and
 * the AUTH failures counted across sessions.  No I/O and no clock of its
 * own: session.c passes the time in.
 */
#ifndef POSTERN_SMTPD_LIMITS_H
#define POSTERN_SMTPD_LIMITS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smtpd/engine.h"

/* An address under a prefix: 192.0.2.0/24, 2001:db8:1:2::/64. */
struct client_net {
	int		 family;	/* AF_INET, AF_INET6, AF_UNIX (a
					   local user: addr holds the uid),
					   0: none */
	int		 prefixlen;
	uint8_t		 addr[16];	/* the bits past prefixlen zero */
};

#define CLIENT_NET_STRMAX	64	/* "ffff:...:ffff/128" and NUL */

/* A local user's sessions (posternctl sendmail) count as one client. */
void	 client_net_uid(struct client_net *, uint32_t uid);
void	 client_net_from(struct client_net *, const struct sockaddr *,
	    int ipv4_prefix, int ipv6_prefix);
int	 client_net_contains(const struct client_net *,
	    const struct sockaddr *);
int	 client_net_equal(const struct client_net *,
	    const struct client_net *);
void	 client_net_str(const struct client_net *, char *, size_t);

/*
 * The data rate: bytes counted over a window that restarts at each
 * check.  rate_check() says whether the window that just ended averaged
 * below min bytes per second.
 */
struct rate_window {
	time_t		 start;
	uint64_t	 bytes;
};

void	 rate_start(struct rate_window *, time_t);
void	 rate_add(struct rate_window *, size_t);
int	 rate_check(struct rate_window *, time_t now, uint64_t min,
	    uint64_t *avg);

/*
 * AUTH failures across sessions, per client network and per account
 * (user names compared without case).  max failures within the lockout
 * time of the first lock the network or the account out for that time.
 * The table is bounded: when full, the entry least recently failed that
 * is not locked makes room, else the network lockout least recently
 * failed; an account's lockout is never pushed out, and while every slot
 * holds one, authfail_locked() answers for everyone (fail closed).
 */
#define AUTHFAIL_SLOTS		4096

enum authfail_kind {
	AUTHFAIL_FREE,
	AUTHFAIL_NET,
	AUTHFAIL_ACCOUNT
};

struct authfail_entry {
	enum authfail_kind	 kind;
	struct client_net	 net;
	char			 account[SMTP_AUTH_USER_MAX + 1];
	unsigned int		 failures;
	time_t			 first;		/* of the failures counted */
	time_t			 last;
	time_t			 locked_until;	/* 0: not locked */
};

struct authfail {
	struct authfail_entry	*slots;
	size_t			 nslots;
	unsigned int		 max_failures;	/* 0: nothing counted */
	time_t			 lockout;	/* seconds */
};

void	 authfail_init(struct authfail *, size_t nslots, unsigned int max,
	    time_t lockout);
void	 authfail_free(struct authfail *);
/* Seconds of lockout left for the net or the account; 0: none. */
time_t	 authfail_locked(struct authfail *, const struct client_net *,
	    const char *account, time_t now);
/* One more failure; 1 when it locks the net or the account out. */
int	 authfail_record(struct authfail *, const struct client_net *,
	    const char *account, time_t now);

#endif

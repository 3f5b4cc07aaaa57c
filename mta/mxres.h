/*
 * Next-hop resolution for the outbound MTA: where to deliver mail for a
 * recipient domain (RFC 5321 5.1 with null MX, RFC 7505) or for a named
 * host (a smarthost), as a list of hosts in delivery order, each with its
 * addresses.  Asynchronous over lib/dns.h, with a synchronous wrapper for
 * posternctl and the tests.  The DNSSEC status of every answer is kept for
 * DANE (RFC 7672).
 */
#ifndef POSTERN_MXRES_H
#define POSTERN_MXRES_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "netaddr.h"

#define MXRES_MAX_HOSTS		16	/* MX hosts kept; the rest is cut */
#define MXRES_MAX_ADDRS		8	/* addresses kept per host */
#define MXRES_MAX_INFLIGHT	8	/* address queries at once, per lookup */
#define MXRES_PORT_DEFAULT	25

enum mxres_status {
	MXRES_OK = 0,
	MXRES_NULLMX,		/* RFC 7505: bounce at once, 556 5.1.10 */
	MXRES_TEMPFAIL,		/* try again later */
	MXRES_PERMFAIL		/* bounce (reason says why) */
};

struct mxres_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	enum dns_sec		 sec;	/* of the A/AAAA answer it came from */
};

struct mxres_host {
	char		 name[DNS_NAME_BUF];	/* MX exchange, or the domain
						   for an implicit MX */
	char		 canon[DNS_NAME_BUF];	/* name after CNAMEs of the
						   address queries */
	uint16_t	 pref;
	enum dns_sec	 addr_sec;	/* secure only if every answer used
					   was secure */
	int		 addr_tempfail;	/* an address lookup failed
					   temporarily (the other family may
					   still have answered) */
	size_t		 naddr;
	struct mxres_addr addr[MXRES_MAX_ADDRS];	/* IPv6 and IPv4
						   alternate, IPv6 first */
};

struct mxres_result {
	enum mxres_status status;
	char		 reason[256];		/* why, for logs and DSNs */
	int		 loop;		/* the failure is a mail loop: the
					   next hops are this host */
	char		 domain[DNS_NAME_BUF];	/* as asked (canonical form) */
	char		 mx_canon[DNS_NAME_BUF];/* after CNAMEs of the MX query */
	enum dns_sec	 mx_sec;	/* of the MX answer (DANE needs it) */
	int		 implicit;	/* no MX: the domain itself (RFC 5321
					   5.1) */
	int		 literal;	/* an address literal, no DNS */
	int		 truncated;	/* more MX hosts than MXRES_MAX_HOSTS */
	size_t		 nskipped;	/* MX hosts left out: no address */
	size_t		 nrefused;	/* addresses refused: this host or
					   loopback (RFC 5321 5.1) */
	unsigned int	 nqueries;	/* DNS queries this lookup made */
	size_t		 nhosts;
	struct mxres_host *hosts;	/* usable hosts, in delivery order */
};

struct mxres_opts {
	int		 family;	/* AF_UNSPEC (both), AF_INET, AF_INET6 */
	const char	*myname;	/* our hostname (RFC 5321 5.1 loop
					   rule), or NULL */
	/*
	 * The address loop checks (RFC 5321 5.1, mxres_addr_classify()):
	 * off unless loop_check is set.  The arrays must outlive the lookup.
	 */
	int		 loop_check;
	const struct netaddr_net *listen;	/* our listening addresses */
	size_t		 nlisten;
	const struct netaddr_net *allow;	/* loopback networks allowed */
	size_t		 nallow;
	uint16_t	 port;		/* in every address; 0: 25 */
	/*
	 * Test hook for the order among equal preferences: returns a number
	 * below upper (> 0).  NULL: arc4random_uniform().
	 */
	uint32_t	(*random)(void *arg, uint32_t upper);
	void		*random_arg;
};

struct mxres;
typedef void (*mxres_cb)(void *arg, const struct mxres_result *);

/*
 * Resolve the next hops for a recipient domain, or an address literal
 * ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 4.1.3) without DNS.
 * opts may be NULL (both families, port 25, no loop check).  cb runs once,
 * later, from the DNS context's event loop, never from inside this call;
 * the result is valid during the callback only (mxres_result_copy() keeps
 * it) and the handle is freed when the callback returns.  Never NULL.
 */
struct mxres	*mxres_lookup(struct dns_ctx *, const char *domain,
		    const struct mxres_opts *, mxres_cb, void *arg);
/* A named host (a smarthost): A/AAAA only, no MX; or an address, bare or
 * as a literal. */
struct mxres	*mxres_lookup_host(struct dns_ctx *, const char *host,
		    const struct mxres_opts *, mxres_cb, void *arg);
/*
 * Stop a lookup: its queries are cancelled, everything is freed and the
 * callback never runs.  Only before the callback; inside it, a no-op.
 */
void		 mxres_cancel(struct mxres *);

/*
 * Synchronous: runs the DNS context's event base until the result, which
 * out owns (free with mxres_result_clear()).  Returns out->status.  Do not
 * call from inside a callback of the same base.
 */
enum mxres_status mxres_lookup_sync(struct dns_ctx *, const char *domain,
		    const struct mxres_opts *, struct mxres_result *out);
enum mxres_status mxres_lookup_host_sync(struct dns_ctx *, const char *host,
		    const struct mxres_opts *, struct mxres_result *out);

/*
 * Where an address of a next hop leads (netaddr_classify() with the loop
 * checks of opts; NETADDR_USABLE when opts is NULL or has them off).
 */
enum netaddr_class mxres_addr_classify(const struct sockaddr *,
		    int named, const struct mxres_opts *);

void		 mxres_result_copy(struct mxres_result *dst,
		    const struct mxres_result *src);
void		 mxres_result_clear(struct mxres_result *);

const char	*mxres_status_name(enum mxres_status);

#endif

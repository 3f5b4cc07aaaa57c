/*
 * Where an address leads, for a process about to connect to a host that
 * someone else's DNS named: one of our own listening addresses, loopback,
 * the unspecified address, and (for the strict rules of reportd's HTTPS
 * POSTs) link-local or multicast, unless inside a network the
 * configuration allows (mta-mx-allow-network).  Shared by the mta's MX
 * resolution (RFC 5321 5.1 loop checks, mta/mxres.c), its MTA-STS policy
 * fetch and reportd's TLS-RPT POSTs, so that one piece of code decides.
 * No I/O.
 */
#ifndef POSTERN_NETADDR_H
#define POSTERN_NETADDR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/*
 * An address for the checks, IPv4 as AF_INET (never in its IPv4-mapped
 * IPv6 form): one of our listening addresses with its port (the
 * unspecified address for a wildcard listener), or an allowed network
 * (prefixlen).
 */
struct netaddr_net {
	struct sockaddr_storage	 ss;
	int			 prefixlen;	/* allowed networks */
};

enum netaddr_class {
	NETADDR_USABLE = 0,
	NETADDR_LOOPBACK,	/* 127.0.0.0/8, ::1 */
	NETADDR_UNSPEC,		/* 0.0.0.0/8, :: */
	NETADDR_SELF,		/* one of our listening addresses */
	NETADDR_LINKLOCAL,	/* 169.254.0.0/16, fe80::/10 (strict) */
	NETADDR_MULTICAST	/* 224.0.0.0/4, 255.255.255.255, ff00::/8
				   (strict) */
};

struct netaddr_rules {
	const struct netaddr_net *listen;	/* our listening addresses */
	size_t			 nlisten;
	const struct netaddr_net *allow;	/* networks allowed */
	size_t			 nallow;
	int			 strict;	/* link-local, multicast too */
};

/*
 * Where sa leads.  For a host found in DNS or an address literal (named
 * 0): to one of our listening addresses on any port, or to a loopback or
 * unspecified address (with strict: link-local or multicast), in any form
 * (IPv4-mapped too) and not inside an allowed network.  For a host the
 * configuration names (named 1, a smarthost): only to one of our
 * listening addresses on the same port, loopback included when we listen
 * on a wildcard address; the rest is the administrator's choice.  rules
 * NULL: nothing is refused.
 */
enum netaddr_class netaddr_classify(const struct sockaddr *, int named,
		    const struct netaddr_rules *);
/* "a loopback address", for "HOST leads to %s" */
const char	*netaddr_class_name(enum netaddr_class);
/* An entry from a family, 4 or 16 bytes of address, port and prefix. */
int		 netaddr_net_set(struct netaddr_net *, int family,
		    const void *addr, uint16_t port, int prefixlen);
/* "192.0.2.1" or "2001:db8::1" into buf ("?" when it does not fit). */
const char	*netaddr_text(const struct sockaddr *, char *buf, size_t len);

#endif

/*
 * Where an address leads (lib/netaddr.h): the loop checks of RFC 5321 5.1
 * ("any of the names or addresses by which it might be known") and, for
 * HTTPS requests to hosts that reports name, the address ranges a request
 * from this host must not reach unless the configuration allows them.
 * Not here: private (RFC 1918) or unique-local ranges, which are real
 * destinations on many networks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "netaddr.h"
#include "rule.h"
#include "util.h"

const char *
netaddr_class_name(enum netaddr_class c)
{
	switch (c) {
	case NETADDR_USABLE:	return "usable";
	case NETADDR_LOOPBACK:	return "a loopback address";
	case NETADDR_UNSPEC:	return "an unspecified address";
	case NETADDR_SELF:	return "one of my listening addresses";
	case NETADDR_LINKLOCAL:	return "a link-local address";
	case NETADDR_MULTICAST:	return "a multicast or broadcast address";
	default:		return "?";
	}
}

/*
 * Where an IPv6 address embeds the IPv4 address it leads to: the offset
 * of those four bytes, or -1.  IPv4-mapped (::ffff:0:0/96, RFC 4291
 * 2.5.5.2), IPv4-compatible (::/96 but :: and ::1, 2.5.5.1), the NAT64
 * well-known prefix (64:ff9b::/96, RFC 6052 2.1) and 6to4 (2002::/16,
 * RFC 3056 2): each can reach an IPv4 loopback or private address.
 */
static int
embedded_v4(const struct in6_addr *a)
{
	static const uint8_t	 nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t	 zero[12];
	const uint8_t		*b = a->s6_addr;

	if (IN6_IS_ADDR_V4MAPPED(a) || memcmp(b, nat64, 12) == 0)
		return 12;
	if (memcmp(b, zero, 12) == 0 && (b[12] | b[13] | b[14]) != 0)
		return 12;		/* not :: nor ::1 */
	if (memcmp(b, zero, 12) == 0 && b[15] > 1)
		return 12;
	if (b[0] == 0x20 && b[1] == 0x02)
		return 2;
	return -1;
}

/*
 * sa in out, an IPv6 address that embeds an IPv4 one (embedded_v4()) as
 * the IPv4 address it reaches.  -1 for a family that is neither.
 */
static int
addr_norm(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6	*sin6;
	struct sockaddr_in		*sin;
	int				 off;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	sin6 = (const struct sockaddr_in6 *)sa;
	if ((off = embedded_v4(&sin6->sin6_addr)) == -1) {
		memcpy(out, sa, sizeof(struct sockaddr_in6));
		return 0;
	}
	sin = (struct sockaddr_in *)out;
	sin->sin_family = AF_INET;
	sin->sin_port = sin6->sin6_port;
	memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[off],
	    sizeof(sin->sin_addr));
	return 0;
}

static uint16_t
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static uint32_t
addr_v4(const struct sockaddr_storage *ss)
{
	return ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
}

static const struct in6_addr *
addr_v6(const struct sockaddr_storage *ss)
{
	return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

/* 0.0.0.0/8 ("this network", RFC 1122 3.2.1.3) or :: */
static int
addr_is_unspec(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (addr_v4(ss) >> 24) == 0;
	return IN6_IS_ADDR_UNSPECIFIED(addr_v6(ss));
}

/* 0.0.0.0 or ::, a wildcard listener */
static int
addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return addr_v4(ss) == INADDR_ANY;
	return IN6_IS_ADDR_UNSPECIFIED(addr_v6(ss));
}

/* 169.254.0.0/16 (RFC 3927), fe80::/10 (RFC 4291 2.5.6) */
static int
addr_is_linklocal(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (addr_v4(ss) >> 16) == 0xa9fe;
	return IN6_IS_ADDR_LINKLOCAL(addr_v6(ss));
}

/* 224.0.0.0/4, 255.255.255.255, ff00::/8: no TCP peer there */
static int
addr_is_multicast(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (addr_v4(ss) >> 28) == 0xe ||
		    addr_v4(ss) == INADDR_BROADCAST;
	return IN6_IS_ADDR_MULTICAST(addr_v6(ss));
}

enum netaddr_class
netaddr_classify(const struct sockaddr *sa, int named,
    const struct netaddr_rules *r)
{
	const struct netaddr_net	*l;
	struct sockaddr_storage		 a;
	enum netaddr_class		 c;
	size_t				 i;
	int				 loopback, unspec;

	if (r == NULL || addr_norm(sa, &a) == -1)
		return NETADDR_USABLE;
	loopback = rule_client_is_local((struct sockaddr *)&a);
	unspec = addr_is_unspec(&a);

	/*
	 * RFC 5321 5.1: the relay MUST look for "any of the names or
	 * addresses by which it might be known".  A wildcard listener takes
	 * every local address, loopback included (and the parent lists the
	 * interfaces' addresses beside it).
	 */
	for (i = 0; i < r->nlisten; i++) {
		l = &r->listen[i];
		if (named && addr_port(&l->ss) != addr_port(&a))
			continue;
		if (addr_is_any(&l->ss)) {
			if (loopback || unspec)
				return NETADDR_SELF;
		} else if (rule_addr_in_net((struct sockaddr *)&a, &l->ss, -1))
			return NETADDR_SELF;
	}
	if (named)
		return NETADDR_USABLE;
	if (loopback)
		c = NETADDR_LOOPBACK;
	else if (unspec)
		c = NETADDR_UNSPEC;
	else if (r->strict && addr_is_linklocal(&a))
		c = NETADDR_LINKLOCAL;
	else if (r->strict && addr_is_multicast(&a))
		c = NETADDR_MULTICAST;
	else
		return NETADDR_USABLE;
	for (i = 0; i < r->nallow; i++)
		if (rule_addr_in_net((struct sockaddr *)&a, &r->allow[i].ss,
		    r->allow[i].prefixlen))
			return NETADDR_USABLE;
	return c;
}

int
netaddr_net_set(struct netaddr_net *n, int family, const void *addr,
    uint16_t port, int prefixlen)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	memset(n, 0, sizeof(*n));
	if (family == AF_INET) {
		sin = (struct sockaddr_in *)&n->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
	} else if (family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)&n->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
	} else
		return -1;
	n->prefixlen = prefixlen;
	return 0;
}

const char *
netaddr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*p;

	if (len == 0)
		return buf;
	if (sa->sa_family == AF_INET)
		p = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		p = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		p = NULL;
	if (p == NULL || inet_ntop(sa->sa_family, p, buf, len) == NULL)
		strlcpy(buf, "?", len);
	return buf;
}

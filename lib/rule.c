/*
 * Evaluation of `match` rules, first match wins, as smtpd.conf(5) does it:
 * "from" looks at the client (local means a loopback client), "for" at the
 * recipient's domain or address, "tag" at the listener, "auth" at whether
 * the client authenticated.  Domains and
 * addresses compare case-insensitively (RFC 5321 2.4: the local part is
 * case-sensitive in principle, but every table an admin writes means it
 * case-insensitively).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule.h"

int
rule_addr_in_net(const struct sockaddr *addr,
    const struct sockaddr_storage *net, int prefixlen)
{
	const uint8_t	*a, *n;
	int		 bits, i;
	uint8_t		 mask;

	if (addr->sa_family != net->ss_family)
		return 0;
	if (addr->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
		n = (const uint8_t *)&((const struct sockaddr_in *)net)->sin_addr;
		bits = 32;
	} else if (addr->sa_family == AF_INET6) {
		a = (const uint8_t *)
		    &((const struct sockaddr_in6 *)addr)->sin6_addr;
		n = (const uint8_t *)
		    &((const struct sockaddr_in6 *)net)->sin6_addr;
		bits = 128;
	} else
		return 0;
	if (prefixlen < 0 || prefixlen > bits)
		prefixlen = bits;
	for (i = 0; prefixlen > 0; i++, prefixlen -= 8) {
		mask = prefixlen >= 8 ? 0xff : (uint8_t)(0xff << (8 - prefixlen));
		if ((a[i] & mask) != (n[i] & mask))
			return 0;
	}
	return 1;
}

int
rule_client_is_local(const struct sockaddr *sa)
{
	const struct sockaddr_in6	*s6;

	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)sa;
		/* A dual-stack listener sees 127/8 as ::ffff:127.x.y.z. */
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

static const struct table *
find_table(const struct postern_conf *conf, const char *name)
{
	return config_find_table(conf, name);
}

/* A table of addresses or networks ("192.0.2.0/24"). */
static int
client_in_table(const struct table *t, const struct sockaddr *client)
{
	struct table_entry	*te;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 buf[128], *slash;
	const char		*errstr;
	int			 len;

	TAILQ_FOREACH(te, &t->entries, entry) {
		if (strlcpy(buf, te->key, sizeof(buf)) >= sizeof(buf))
			continue;
		len = -1;
		if ((slash = strchr(buf, '/')) != NULL) {
			*slash = '\0';
			len = (int)strtonum(slash + 1, 0, 128, &errstr);
			if (errstr != NULL)
				continue;
		}
		if (conf_numeric_addr(buf, 0, &ss, &sslen) == -1)
			continue;
		if (rule_addr_in_net(client, &ss, len))
			return 1;
	}
	return 0;
}

static int
key_in_table(const struct table *t, const char *key)
{
	struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (strcasecmp(te->key, key) == 0)
			return 1;
	return 0;
}

static int
match_from(const struct postern_conf *conf, const struct rule *r,
    const struct sockaddr *client, const char *auth_user)
{
	const struct table	*t;

	switch (r->from) {
	case MATCH_FROM_ANY:
		return 1;
	case MATCH_FROM_LOCAL:
		return rule_client_is_local(client);
	case MATCH_FROM_SRC_NET:
		return rule_addr_in_net(client, &r->from_net,
		    r->from_prefixlen);
	case MATCH_FROM_SRC_TABLE:
		t = find_table(conf, r->from_table);
		return t != NULL && client_in_table(t, client);
	case MATCH_FROM_AUTH:
		/* from auth <T>: as one of the users listed in T */
		if (auth_user == NULL)
			return 0;
		if (r->from_table[0] == '\0')
			return 1;
		t = find_table(conf, r->from_table);
		return t != NULL && key_in_table(t, auth_user);
	}
	return 0;
}

static int
match_for(const struct postern_conf *conf, const struct rule *r,
    const char *rcpt)
{
	const struct table	*t;
	const char		*at = strrchr(rcpt, '@');
	const char		*domain = at != NULL ? at + 1 : "";

	switch (r->rcpt_for) {
	case MATCH_FOR_ANY:
		return 1;
	case MATCH_FOR_LOCAL:
		return strcasecmp(domain, conf->hostname) == 0 ||
		    strcasecmp(domain, "localhost") == 0;
	case MATCH_FOR_DOMAIN:
		return strcasecmp(domain, r->for_domain) == 0;
	case MATCH_FOR_DOMAIN_TABLE:
		t = find_table(conf, r->for_table);
		return t != NULL && key_in_table(t, domain);
	case MATCH_FOR_RCPT_TABLE:
		t = find_table(conf, r->for_table);
		return t != NULL && key_in_table(t, rcpt);
	}
	return 0;
}

const struct rule *
rule_match(const struct postern_conf *conf, const struct sockaddr *client,
    const char *auth_user, const char *rcpt, const char *tag)
{
	const struct rule	*r;

	TAILQ_FOREACH(r, &conf->rules, entry) {
		/* A tagged rule never matches untagged mail (tag NULL or ""). */
		if (r->tag[0] != '\0' && (tag == NULL ||
		    strcmp(r->tag, tag) != 0))
			continue;
		if (match_from(conf, r, client, auth_user) ==
		    r->from_negate)
			continue;
		if (match_for(conf, r, rcpt) == r->for_negate)
			continue;
		/* [!]auth: did the session authenticate (RFC 4954)? */
		if (r->auth != 0 && (r->auth > 0) != (auth_user != NULL))
			continue;
		return r;
	}
	return NULL;
}

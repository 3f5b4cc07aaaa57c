/*
 * Match rules (postern.conf(5) `match`): which action takes a recipient,
 * or whether it is refused.  The smtp process asks at RCPT time.
 */
#ifndef POSTERN_RULE_H
#define POSTERN_RULE_H

#include <sys/socket.h>

#include "config.h"

/*
 * The first rule that matches the client, the user it authenticated as
 * (SMTP AUTH; NULL: it did not), the recipient and the listener's tag, or
 * NULL: no rule, so the recipient is refused (no open relay, ever, by
 * default).
 */
const struct rule	*rule_match(const struct postern_conf *,
			    const struct sockaddr *client, const char *auth_user,
			    const char *rcpt, const char *tag);

/* Does `addr` fall in net/prefixlen?  Families must agree. */
/* "from local": a loopback or UNIX-socket client */
int			 rule_client_is_local(const struct sockaddr *);
int			 rule_addr_in_net(const struct sockaddr *addr,
			    const struct sockaddr_storage *net, int prefixlen);

#endif

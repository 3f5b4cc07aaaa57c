/*
 * Recipient decisions shared by the processes that route mail (smtp at
 * RCPT time, queue for the DSNs it sends): the match rules with their
 * tables and actions, and the local users, as the parent sent them.
 */
#ifndef POSTERN_RECIPIENT_H
#define POSTERN_RECIPIENT_H

#include <sys/socket.h>

#include "config.h"
#include "dotforward.h"
#include "imsg.h"

/* A local user as the parent saw it in the passwd database. */
struct routing_user {
	char			*name;
	int			 can_receive;	/* a local part may name it */
	uid_t			 uid;
	size_t			 seq;		/* its place in passwd */
};

struct routing {
	struct postern_conf	*conf;		/* hostname, tables, rules */
	struct routing_user	*users;		/* sorted once complete */
	size_t			 nusers;
	struct table		*reloading;	/* an aliases table's new
						   entries, until COMMIT */
	unsigned long		 generation;	/* counts table reloads */
	struct srs		 srs;		/* SRS keys and domain (smtp,
						   queue); nkeys 0: off */
	uint8_t			 forward_key[FORWARD_KEY_LEN]; /* the queue's:
						   .forward proofs */
	int			 forward_keyed;
};

enum rcpt_verdict {
	RCPT_ACCEPT,
	RCPT_RELAY_DENIED,	/* no rule matches: 550 5.7.1 */
	RCPT_REJECTED,		/* a reject rule: 550 5.7.1 */
	RCPT_UNKNOWN_USER,	/* 550 5.1.1 */
	RCPT_CONFIG_ERROR	/* rule names no known action: 451 4.3.0 */
};

void	routing_init(struct routing *, const char *hostname);
/* A set-up message of the routing kind: 1 if taken, 0 if not ours. */
int	routing_conf_imsg(struct routing *, struct imsg *);
/* a match rule to and from its message (no pointers on the wire) */
struct msg_conf_rule;
void	routing_rule_encode(const struct rule *, struct msg_conf_rule *);
struct rule *routing_rule_decode(const struct msg_conf_rule *);
void	routing_ready(struct routing *);
/*
 * After the start: IMSG_CONF_TABLE_RELOAD, its entries and COMMIT (an
 * aliases file changed).  1 if taken, 0 if not ours, -1 if bad.
 */
int	routing_reload_imsg(struct routing *, struct imsg *);
/* The parent's side: send t's entries anew to one child. */
void	routing_send_reload(const struct table *, struct imsgbuf *);
/* Is name a local user who can receive mail (local-users)? */
int	routing_user_receives(struct routing *, const char *name);
/* The parent's side: send what routing_conf_imsg() takes. */
void	routing_send(struct postern_conf *, struct imsgbuf *);
/*
 * The parent's verdict on one account (postern.conf(5) local-users), with
 * the login shells of /etc/shells as a NULL-terminated list.
 */
struct passwd;
int	routing_user_can_receive(const struct postern_conf *,
	    const struct passwd *, const char *const *shells);
/*
 * A relay's credentials or a listener's password hashes: never sent to
 * smtp or queue (the first to mta alone, the second to authd alone).
 */
int	table_is_secret(const struct postern_conf *, const char *);
int	table_is_credentials(const struct postern_conf *, const char *);

enum rcpt_verdict routing_decide(struct routing *,
	    const struct sockaddr *client, const char *rcpt, size_t local_len,
	    const char *tag, int *remote, const char **action);
/* The same for a client that authenticated as auth_user (NULL: did not). */
enum rcpt_verdict routing_decide_auth(struct routing *,
	    const struct sockaddr *client, const char *auth_user,
	    const char *rcpt,
	    size_t local_len, const char *tag, int *remote,
	    const char **action);

/*
 * The name of a uid (the first in passwd order, as getpwuid(3) finds it),
 * or NULL.
 */
const char *routing_user_by_uid(const struct routing *, uid_t);

/*
 * May sender post to list l (its "posters")?  By the envelope sender
 * alone: the null sender never.
 */
struct mailing_list;
int	routing_list_poster(struct routing *, const struct mailing_list *,
	    const char *sender);

/* The user a local action delivers rcpt as; -1 with why if none. */
int	routing_local_user(const struct postern_conf *, const char *action,
	    const char *rcpt, char *user, size_t len, char *why,
	    size_t whylen);

#endif

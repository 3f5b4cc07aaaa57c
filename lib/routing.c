/*
 * Recipient routing, written once for smtp and queue: the parent sends
 * tables, actions, match rules and the local user names (children cannot
 * read /etc/passwd in their chroot); routing_decide() applies them.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"
#include "routing.h"
#include "rule.h"
#include "table.h"
#include "util.h"

void
routing_init(struct routing *r, const char *hostname)
{
	memset(r, 0, sizeof(*r));
	r->conf = config_new();
	if (hostname != NULL)
		strlcpy(r->conf->hostname, hostname,
		    sizeof(r->conf->hostname));
}

static struct table *
routing_table(struct routing *r, const char *name)
{
	return config_find_table(r->conf, name);
}

/*
 * A rule on the wire: its fields, without the list linkage (no pointer
 * crosses a process boundary).  The two functions mirror each other.
 */
void
routing_rule_encode(const struct rule *r, struct msg_conf_rule *m)
{
	memset(m, 0, sizeof(*m));
	m->from = r->from;
	m->from_negate = r->from_negate;
	strlcpy(m->from_table, r->from_table, sizeof(m->from_table));
	m->from_net = r->from_net;
	m->from_prefixlen = r->from_prefixlen;
	m->rcpt_for = r->rcpt_for;
	m->for_negate = r->for_negate;
	strlcpy(m->for_table, r->for_table, sizeof(m->for_table));
	strlcpy(m->for_domain, r->for_domain, sizeof(m->for_domain));
	strlcpy(m->tag, r->tag, sizeof(m->tag));
	m->auth = r->auth;
	m->reject = r->reject;
	strlcpy(m->action, r->action, sizeof(m->action));
}

struct rule *
routing_rule_decode(const struct msg_conf_rule *m)
{
	struct rule	*r;

	r = xcalloc(1, sizeof(*r));
	r->from = m->from;
	r->from_negate = m->from_negate;
	strlcpy(r->from_table, m->from_table, sizeof(r->from_table));
	r->from_net = m->from_net;
	r->from_prefixlen = m->from_prefixlen;
	r->rcpt_for = m->rcpt_for;
	r->for_negate = m->for_negate;
	strlcpy(r->for_table, m->for_table, sizeof(r->for_table));
	strlcpy(r->for_domain, m->for_domain, sizeof(r->for_domain));
	strlcpy(r->tag, m->tag, sizeof(r->tag));
	r->auth = m->auth;
	r->reject = m->reject;
	strlcpy(r->action, m->action, sizeof(r->action));
	return r;
}

int
routing_conf_imsg(struct routing *rt, struct imsg *imsg)
{
	struct msg_conf_table		 mt;
	struct msg_conf_table_entry	 me;
	struct msg_conf_action		 ma;
	struct msg_conf_rule		 mr;
	struct msg_conf_user		 mu;
	struct table			*t;
	struct table_entry		*te;
	struct action			*a;
	struct rule			*r;

	switch (imsg->hdr.type) {
	case IMSG_CONF_TABLE_ADD:
		if (msg_get_conf_table(imsg, &mt) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		t = xcalloc(1, sizeof(*t));
		strlcpy(t->name, mt.name, sizeof(t->name));
		t->type = mt.type;
		TAILQ_INIT(&t->entries);
		TAILQ_INSERT_TAIL(&rt->conf->tables, t, entry);
		return 1;
	case IMSG_CONF_ENTRY_ADD:
		if (msg_get_conf_table_entry(imsg, &me) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		if ((t = routing_table(rt, me.table)) == NULL)
			fatalx("entry for unknown table %s", me.table);
		te = xcalloc(1, sizeof(*te));
		te->key = xstrdup(me.key);
		te->value = me.has_value ? xstrdup(me.value) : NULL;
		TAILQ_INSERT_TAIL(&t->entries, te, entry);
		t->nentries++;
		return 1;
	case IMSG_CONF_ACTION_ADD:
		if (msg_get_conf_action(imsg, &ma) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		a = xcalloc(1, sizeof(*a));
		strlcpy(a->name, ma.name, sizeof(a->name));
		a->type = ma.type;
		/* Only whether a fixed user is set matters here. */
		if (ma.fixed_user)
			a->user = xstrdup("");
		strlcpy(a->virtual_table, ma.virtual_table,
		    sizeof(a->virtual_table));
		TAILQ_INSERT_TAIL(&rt->conf->actions, a, entry);
		return 1;
	case IMSG_CONF_RULE_ADD:
		if (msg_get_conf_rule(imsg, &mr) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		r = routing_rule_decode(&mr);
		TAILQ_INSERT_TAIL(&rt->conf->rules, r, entry);
		return 1;
	case IMSG_CONF_USER_ADD:
		if (msg_get_conf_user(imsg, &mu) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		rt->users = xreallocarray(rt->users, rt->nusers + 1,
		    sizeof(*rt->users));
		rt->users[rt->nusers++] = xstrdup(mu.name);
		return 1;
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
routing_ready(struct routing *rt)
{
	if (rt->nusers > 0)
		qsort(rt->users, rt->nusers, sizeof(*rt->users), cmp_str);
}

/* Is this table a listener's credentials ("listen on ... auth <T>")? */
int
table_is_credentials(const struct postern_conf *conf, const char *name)
{
	const struct listener	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if ((l->flags & LISTEN_AUTH) && strcmp(l->auth_table, name) == 0)
			return 1;
	return 0;
}

/*
 * Is this table secret: a relay's credentials ("auth <T>"), or a
 * listener's password hashes?  Those go to mta or authd alone.
 */
int
table_is_secret(const struct postern_conf *conf, const char *name)
{
	const struct action	*a;

	if (table_is_credentials(conf, name))
		return 1;
	TAILQ_FOREACH(a, &conf->actions, entry)
		if (a->type == ACTION_RELAY && strcmp(a->relay_auth, name) == 0)
			return 1;
	TAILQ_FOREACH(a, &conf->transports, entry)
		if (strcmp(a->relay_auth, name) == 0)
			return 1;
	return 0;
}

void
routing_send(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_table		 mt;
	struct msg_conf_table_entry	 me;
	struct msg_conf_action		 ma;
	struct msg_conf_rule		 mr;
	struct msg_conf_user		 mu;
	struct table			*t;
	struct table_entry		*te;
	struct action			*a;
	struct rule			*r;
	struct passwd			*pw;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		/* Credentials go to the mta alone (posternd/parent.c). */
		if (table_is_secret(conf, t->name))
			continue;
		memset(&mt, 0, sizeof(mt));
		strlcpy(mt.name, t->name, sizeof(mt.name));
		mt.type = t->type;
		imsg_compose(ibuf, IMSG_CONF_TABLE_ADD, 0, 0, -1, &mt,
		    sizeof(mt));
		TAILQ_FOREACH(te, &t->entries, entry) {
			memset(&me, 0, sizeof(me));
			strlcpy(me.table, t->name, sizeof(me.table));
			if (strlcpy(me.key, te->key, sizeof(me.key)) >=
			    sizeof(me.key))
				fatalx("table %s: key too long", t->name);
			if (te->value != NULL) {
				me.has_value = 1;
				if (strlcpy(me.value, te->value,
				    sizeof(me.value)) >= sizeof(me.value))
					fatalx("table %s: value too long",
					    t->name);
			}
			imsg_compose(ibuf, IMSG_CONF_ENTRY_ADD, 0, 0, -1,
			    &me, sizeof(me));
			if (imsgbuf_flush(ibuf) == -1)
				fatal("sending tables");
		}
	}
	TAILQ_FOREACH(a, &conf->actions, entry) {
		memset(&ma, 0, sizeof(ma));
		strlcpy(ma.name, a->name, sizeof(ma.name));
		ma.type = a->type;
		ma.fixed_user = a->user != NULL;
		strlcpy(ma.virtual_table, a->virtual_table,
		    sizeof(ma.virtual_table));
		imsg_compose(ibuf, IMSG_CONF_ACTION_ADD, 0, 0, -1, &ma,
		    sizeof(ma));
	}
	TAILQ_FOREACH(r, &conf->rules, entry) {
		routing_rule_encode(r, &mr);
		imsg_compose(ibuf, IMSG_CONF_RULE_ADD, 0, 0, -1, &mr,
		    sizeof(mr));
	}
	setpwent();
	while ((pw = getpwent()) != NULL) {
		memset(&mu, 0, sizeof(mu));
		if (strlcpy(mu.name, pw->pw_name, sizeof(mu.name)) >=
		    sizeof(mu.name))
			continue;
		imsg_compose(ibuf, IMSG_CONF_USER_ADD, 0, 0, -1, &mu,
		    sizeof(mu));
		if (imsgbuf_flush(ibuf) == -1)
			fatal("sending users");
	}
	endpwent();
}

static int
routing_user_exists(struct routing *rt, const char *name)
{
	return bsearch(&name, rt->users, rt->nusers, sizeof(*rt->users),
	    cmp_str) != NULL;
}

enum rcpt_verdict
routing_decide(struct routing *rt, const struct sockaddr *client,
    const char *rcpt, size_t local_len, const char *tag, int *remote,
    const char **action)
{
	return routing_decide_auth(rt, client, NULL, rcpt, local_len, tag,
	    remote, action);
}

enum rcpt_verdict
routing_decide_auth(struct routing *rt, const struct sockaddr *client,
    const char *auth_user, const char *rcpt, size_t local_len, const char *tag,
    int *remote, const char **action)
{
	const struct rule	*rule;
	const struct action	*a;
	char			 user[65];
	size_t			 i;

	rule = rule_match(rt->conf, client, auth_user, rcpt, tag);
	if (rule == NULL)
		return RCPT_RELAY_DENIED;
	if (rule->reject)
		return RCPT_REJECTED;
	if ((a = config_find_action(rt->conf, rule->action)) == NULL)
		return RCPT_CONFIG_ERROR;
	*remote = a->type == ACTION_RELAY;
	*action = a->name;
	/* A virtual domain: the table maps the address to a system user. */
	if (a->virtual_table[0] != '\0') {
		const struct table	*t;
		const char		*u;

		t = config_find_table(rt->conf, a->virtual_table);
		if (t == NULL || (u = table_lookup_rcpt(t, rcpt)) == NULL)
			return RCPT_UNKNOWN_USER;
		if (!routing_user_exists(rt, u)) {
			log_warnx("table %s maps <%s> to %s, who is not a "
			    "user here", t->name, rcpt, u);
			return RCPT_UNKNOWN_USER;
		}
		return RCPT_ACCEPT;
	}
	/* A local recipient must be a user we know (RFC 5321 3.5.3). */
	if (a->type != ACTION_RELAY && a->user == NULL) {
		if (local_len == 0 || local_len >= sizeof(user))
			return RCPT_UNKNOWN_USER;
		for (i = 0; i < local_len; i++)
			user[i] = tolower((unsigned char)rcpt[i]);
		user[i] = '\0';
		if (!routing_user_exists(rt, user))
			return RCPT_UNKNOWN_USER;
	}
	return RCPT_ACCEPT;
}

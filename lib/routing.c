/*
 * Recipient routing, written once for smtp and queue: the parent sends
 * tables, actions, match rules and the local user names (children cannot
 * read /etc/passwd in their chroot), each with the parent's verdict on
 * whether it can receive mail; routing_decide() applies them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <paths.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "aliases.h"
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
	struct msg_conf_srs_key		 ms;
	struct msg_conf_list		 ml;
	struct mailing_list		*l;
	struct msg_conf_forward_key	 mk;
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
		strlcpy(a->alias_table, ma.alias_table,
		    sizeof(a->alias_table));
		a->alias_files = ma.alias_files;
		a->alias_commands = ma.alias_commands;
		a->forward_file = ma.forward_file;
		a->forward_files = ma.forward_files;
		a->forward_commands = ma.forward_commands;
		TAILQ_INSERT_TAIL(&rt->conf->actions, a, entry);
		return 1;
	case IMSG_CONF_RULE_ADD:
		if (msg_get_conf_rule(imsg, &mr) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		r = routing_rule_decode(&mr);
		TAILQ_INSERT_TAIL(&rt->conf->rules, r, entry);
		return 1;
	case IMSG_CONF_LIST_ADD:
		if (msg_get_conf_list(imsg, &ml) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		l = xcalloc(1, sizeof(*l));
		strlcpy(l->name, ml.name, sizeof(l->name));
		strlcpy(l->address, ml.address, sizeof(l->address));
		strlcpy(l->bounce, ml.bounce, sizeof(l->bounce));
		strlcpy(l->members, ml.members, sizeof(l->members));
		l->posters = ml.posters;
		strlcpy(l->posters_table, ml.posters_table,
		    sizeof(l->posters_table));
		strlcpy(l->subject_tag, ml.subject_tag,
		    sizeof(l->subject_tag));
		strlcpy(l->unsubscribe, ml.unsubscribe,
		    sizeof(l->unsubscribe));
		strlcpy(l->arc_seal, ml.arc_seal, sizeof(l->arc_seal));
		strlcpy(l->dkim_sign, ml.dkim_sign, sizeof(l->dkim_sign));
		l->from_rewrite = ml.from_rewrite;
		TAILQ_INSERT_TAIL(&rt->conf->lists, l, entry);
		return 1;
	case IMSG_CONF_SRS_KEY_ADD:
		if (msg_get_conf_srs_key(imsg, &ms) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		if (rt->srs.nkeys == 0)
			srs_init(&rt->srs, ms.domain);
		if (strcasecmp(rt->srs.domain, ms.domain) != 0 ||
		    srs_add_key(&rt->srs, ms.key, ms.keylen) == -1)
			fatalx("srs key refused");
		explicit_bzero(&ms, sizeof(ms));
		return 1;
	case IMSG_CONF_FORWARD_KEY:
		if (msg_get_conf_forward_key(imsg, &mk) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		memcpy(rt->forward_key, mk.key, sizeof(rt->forward_key));
		rt->forward_keyed = 1;
		explicit_bzero(&mk, sizeof(mk));
		return 1;
	case IMSG_CONF_USER_ADD:
		if (msg_get_conf_user(imsg, &mu) == -1)
			fatalx("bad %s (%zu bytes) from the parent",
			    msg_type_name(imsg->hdr.type), imsg->len);
		rt->users = xreallocarray(rt->users, rt->nusers + 1,
		    sizeof(*rt->users));
		rt->users[rt->nusers].name = xstrdup(mu.name);
		rt->users[rt->nusers].can_receive = mu.can_receive;
		rt->users[rt->nusers].uid = mu.uid;
		rt->users[rt->nusers].seq = rt->nusers;
		rt->nusers++;
		return 1;
	}
	return 0;
}

static int
cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct routing_user *)a)->name,
	    ((const struct routing_user *)b)->name);
}

void
routing_ready(struct routing *rt)
{
	if (rt->nusers > 0)
		qsort(rt->users, rt->nusers, sizeof(*rt->users), cmp_user);
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

/*
 * Can mail be for this account when a local part names it?  Not for a
 * system account that cannot receive mail, or the message would be taken
 * and then bounced (to a sender that is often forged): one without a
 * usable home directory, or whose shell is not a login shell (nologin,
 * false, anything not in /etc/shells; an empty shell is /bin/sh, as in
 * passwd(5)), or with a uid below local-users min-uid.  root (uid 0)
 * is always taken: its mail is read, cron's for one.  An account in the
 * local-users allow table is taken as it is.
 */
int
routing_user_can_receive(const struct postern_conf *conf,
    const struct passwd *pw, const char *const *shells)
{
	const struct table	*t;
	const char		*shell, *base;
	struct stat		 st;
	size_t			 i;

	if (pw->pw_uid == 0)
		return 1;
	if (conf->local_users.allow[0] != '\0' &&
	    (t = config_find_table(conf, conf->local_users.allow)) != NULL &&
	    table_lookup(t, pw->pw_name) != NULL)
		return 1;
	if (pw->pw_uid < conf->local_users.min_uid)
		return 0;
	if (pw->pw_dir == NULL || pw->pw_dir[0] != '/' ||
	    strcmp(pw->pw_dir, "/") == 0 ||
	    strcmp(pw->pw_dir, "/nonexistent") == 0 ||
	    stat(pw->pw_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;
	shell = pw->pw_shell == NULL || pw->pw_shell[0] == '\0' ?
	    _PATH_BSHELL : pw->pw_shell;
	/* Even where an admin listed them in /etc/shells. */
	base = strrchr(shell, '/') != NULL ? strrchr(shell, '/') + 1 : shell;
	if (strcmp(base, "nologin") == 0 || strcmp(base, "false") == 0)
		return 0;
	for (i = 0; shells[i] != NULL; i++)
		if (strcmp(shells[i], shell) == 0)
			return 1;
	return 0;
}

/* The login shells of /etc/shells, NULL-terminated; free with free_shells. */
static char **
login_shells(void)
{
	char		**list = NULL;
	const char	 *s;
	size_t		  n = 0;

	setusershell();
	while ((s = getusershell()) != NULL) {
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = xstrdup(s);
	}
	endusershell();
	list = xreallocarray(list, n + 1, sizeof(*list));
	list[n] = NULL;
	return list;
}

static void
free_shells(char **list)
{
	size_t	 i;

	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

static void
send_entries(const struct table *t, struct imsgbuf *ibuf)
{
	struct msg_conf_table_entry	 me;
	struct table_entry		*te;

	TAILQ_FOREACH(te, &t->entries, entry) {
		memset(&me, 0, sizeof(me));
		strlcpy(me.table, t->name, sizeof(me.table));
		if (strlcpy(me.key, te->key, sizeof(me.key)) >= sizeof(me.key))
			fatalx("table %s: key too long", t->name);
		if (te->value != NULL) {
			me.has_value = 1;
			if (strlcpy(me.value, te->value, sizeof(me.value)) >=
			    sizeof(me.value))
				fatalx("table %s: value too long", t->name);
		}
		imsg_compose(ibuf, IMSG_CONF_ENTRY_ADD, 0, 0, -1, &me,
		    sizeof(me));
		if (imsgbuf_flush(ibuf) == -1)
			fatal("sending tables");
	}
}

void
routing_send_reload(const struct table *t, struct imsgbuf *ibuf)
{
	struct msg_conf_table	 mt;

	memset(&mt, 0, sizeof(mt));
	strlcpy(mt.name, t->name, sizeof(mt.name));
	mt.type = t->type;
	imsg_compose(ibuf, IMSG_CONF_TABLE_RELOAD, 0, 0, -1, &mt, sizeof(mt));
	send_entries(t, ibuf);
	imsg_compose(ibuf, IMSG_CONF_TABLE_COMMIT, 0, 0, -1, &mt, sizeof(mt));
}

int
routing_reload_imsg(struct routing *rt, struct imsg *imsg)
{
	struct msg_conf_table		 mt;
	struct msg_conf_table_entry	 me;
	struct table			*t, *n;
	struct table_entry		*te;
	struct table_entries		 old;

	switch (imsg->hdr.type) {
	case IMSG_CONF_TABLE_RELOAD:
		if (msg_get_conf_table(imsg, &mt) == -1 ||
		    rt->reloading != NULL ||
		    routing_table(rt, mt.name) == NULL)
			return -1;
		n = xcalloc(1, sizeof(*n));
		strlcpy(n->name, mt.name, sizeof(n->name));
		n->type = mt.type;
		TAILQ_INIT(&n->entries);
		rt->reloading = n;
		return 1;
	case IMSG_CONF_ENTRY_ADD:
		if ((n = rt->reloading) == NULL)
			return 0;
		if (msg_get_conf_table_entry(imsg, &me) == -1 ||
		    strcmp(me.table, n->name) != 0)
			return -1;
		te = xcalloc(1, sizeof(*te));
		te->key = xstrdup(me.key);
		te->value = me.has_value ? xstrdup(me.value) : NULL;
		TAILQ_INSERT_TAIL(&n->entries, te, entry);
		n->nentries++;
		return 1;
	case IMSG_CONF_TABLE_COMMIT:
		if (msg_get_conf_table(imsg, &mt) == -1 ||
		    (n = rt->reloading) == NULL ||
		    strcmp(mt.name, n->name) != 0 ||
		    (t = routing_table(rt, mt.name)) == NULL)
			return -1;
		/* the table keeps its place (and address): entries swap */
		TAILQ_INIT(&old);
		TAILQ_CONCAT(&old, &t->entries, entry);
		TAILQ_CONCAT(&t->entries, &n->entries, entry);
		TAILQ_CONCAT(&n->entries, &old, entry);
		t->nentries = n->nentries;
		free(t->index);
		t->index = NULL;
		t->nindex = 0;
		config_table_free(n);
		rt->reloading = NULL;
		rt->generation++;
		log_info("table %s: %zu entries reloaded", t->name,
		    t->nentries);
		return 1;
	}
	return 0;
}

static const struct routing_user *routing_user(struct routing *,
		    const char *);

int
routing_user_receives(struct routing *rt, const char *name)
{
	const struct routing_user	*u;

	u = routing_user(rt, name);
	return u != NULL && u->can_receive;
}

void
routing_send(struct postern_conf *conf, struct imsgbuf *ibuf)
{
	struct msg_conf_table		 mt;
	struct msg_conf_action		 ma;
	struct msg_conf_rule		 mr;
	struct msg_conf_user		 mu;
	struct msg_conf_list		 ml;
	struct mailing_list		*l;
	struct table			*t;
	struct action			*a;
	struct rule			*r;
	struct passwd			*pw;
	char				**shells;

	TAILQ_FOREACH(t, &conf->tables, entry) {
		/* Credentials go to the mta alone (posternd/parent.c). */
		if (table_is_secret(conf, t->name))
			continue;
		memset(&mt, 0, sizeof(mt));
		strlcpy(mt.name, t->name, sizeof(mt.name));
		mt.type = t->type;
		imsg_compose(ibuf, IMSG_CONF_TABLE_ADD, 0, 0, -1, &mt,
		    sizeof(mt));
		send_entries(t, ibuf);
	}
	TAILQ_FOREACH(a, &conf->actions, entry) {
		memset(&ma, 0, sizeof(ma));
		strlcpy(ma.name, a->name, sizeof(ma.name));
		ma.type = a->type;
		ma.fixed_user = a->user != NULL;
		strlcpy(ma.virtual_table, a->virtual_table,
		    sizeof(ma.virtual_table));
		strlcpy(ma.alias_table, a->alias_table,
		    sizeof(ma.alias_table));
		ma.alias_files = a->alias_files;
		ma.alias_commands = a->alias_commands;
		ma.forward_file = a->forward_file;
		ma.forward_files = a->forward_files;
		ma.forward_commands = a->forward_commands;
		imsg_compose(ibuf, IMSG_CONF_ACTION_ADD, 0, 0, -1, &ma,
		    sizeof(ma));
	}
	TAILQ_FOREACH(r, &conf->rules, entry) {
		routing_rule_encode(r, &mr);
		imsg_compose(ibuf, IMSG_CONF_RULE_ADD, 0, 0, -1, &mr,
		    sizeof(mr));
	}
	TAILQ_FOREACH(l, &conf->lists, entry) {
		memset(&ml, 0, sizeof(ml));
		strlcpy(ml.name, l->name, sizeof(ml.name));
		strlcpy(ml.address, l->address, sizeof(ml.address));
		strlcpy(ml.bounce, l->bounce, sizeof(ml.bounce));
		strlcpy(ml.members, l->members, sizeof(ml.members));
		ml.posters = l->posters;
		strlcpy(ml.posters_table, l->posters_table,
		    sizeof(ml.posters_table));
		strlcpy(ml.subject_tag, l->subject_tag,
		    sizeof(ml.subject_tag));
		strlcpy(ml.unsubscribe, l->unsubscribe,
		    sizeof(ml.unsubscribe));
		strlcpy(ml.arc_seal, l->arc_seal, sizeof(ml.arc_seal));
		strlcpy(ml.dkim_sign, l->dkim_sign, sizeof(ml.dkim_sign));
		ml.from_rewrite = l->from_rewrite;
		imsg_compose(ibuf, IMSG_CONF_LIST_ADD, 0, 0, -1, &ml,
		    sizeof(ml));
	}
	/* Only the parent can see /etc/passwd, /etc/shells and homes. */
	shells = login_shells();
	setpwent();
	while ((pw = getpwent()) != NULL) {
		memset(&mu, 0, sizeof(mu));
		if (strlcpy(mu.name, pw->pw_name, sizeof(mu.name)) >=
		    sizeof(mu.name))
			continue;
		mu.can_receive = routing_user_can_receive(conf, pw,
		    (const char *const *)shells);
		mu.uid = pw->pw_uid;
		imsg_compose(ibuf, IMSG_CONF_USER_ADD, 0, 0, -1, &mu,
		    sizeof(mu));
		if (imsgbuf_flush(ibuf) == -1)
			fatal("sending users");
	}
	endpwent();
	free_shells(shells);
}

int
routing_list_poster(struct routing *rt, const struct mailing_list *l,
    const char *sender)
{
	const struct table	*t;

	if (sender[0] == '\0')
		return 0;
	if (l->posters == LIST_POSTERS_ANYONE)
		return 1;
	t = routing_table(rt, l->posters == LIST_POSTERS_TABLE ?
	    l->posters_table : l->members);
	return t != NULL && table_has(t, sender);
}

const char *
routing_user_by_uid(const struct routing *rt, uid_t uid)
{
	const struct routing_user	*best = NULL;
	size_t				 i;

	for (i = 0; i < rt->nusers; i++)
		if (rt->users[i].uid == uid && (best == NULL ||
		    rt->users[i].seq < best->seq))
			best = &rt->users[i];
	return best != NULL ? best->name : NULL;
}

static const struct routing_user *
routing_user(struct routing *rt, const char *name)
{
	struct routing_user	 key;

	key.name = (char *)name;
	return bsearch(&key, rt->users, rt->nusers, sizeof(*rt->users),
	    cmp_user);
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
	const struct rule		*rule;
	const struct action		*a;
	const struct routing_user	*u;
	char				 user[65];
	size_t				 i;

	rule = rule_match(rt->conf, client, auth_user, rcpt, tag);
	if (rule == NULL)
		return RCPT_RELAY_DENIED;
	if (rule->reject)
		return RCPT_REJECTED;
	if ((a = config_find_action(rt->conf, rule->action)) == NULL)
		return RCPT_CONFIG_ERROR;
	*remote = a->type == ACTION_RELAY;
	*action = a->name;
	/*
	 * A virtual domain: the table maps the address to a system user.
	 * The admin named that user, so it need not be one that could
	 * receive mail by its own name (local-users).
	 */
	if (a->virtual_table[0] != '\0') {
		const struct table	*t;
		const char		*name;

		t = config_find_table(rt->conf, a->virtual_table);
		if (t == NULL || (name = table_lookup_rcpt(t, rcpt)) == NULL)
			return RCPT_UNKNOWN_USER;
		if (routing_user(rt, name) == NULL) {
			log_warnx("table %s maps <%s> to %s, who is not a "
			    "user here", t->name, rcpt, name);
			return RCPT_UNKNOWN_USER;
		}
		return RCPT_ACCEPT;
	}
	/*
	 * A local recipient must be a user we know (RFC 5321 3.5.3) who can
	 * receive mail: RFC 5321 6.1 makes a 250 a promise to deliver or
	 * report, and a system account's mail would only bounce, to a
	 * sender that is often forged.  An action's fixed "user" is, like a
	 * virtual table, the admin's choice; so are the addresses of a
	 * reportd action (reports are read, not put in a mailbox).
	 */
	if (a->type != ACTION_RELAY && a->type != ACTION_REPORTD &&
	    a->user == NULL) {
		if (local_len == 0 || local_len >= sizeof(user))
			return RCPT_UNKNOWN_USER;
		for (i = 0; i < local_len; i++)
			user[i] = tolower((unsigned char)rcpt[i]);
		user[i] = '\0';
		if ((u = routing_user(rt, user)) == NULL)
			return RCPT_UNKNOWN_USER;
		if (!u->can_receive) {
			log_info("recipient <%s>: %s is an account that "
			    "cannot receive mail (local-users)", rcpt, user);
			return RCPT_UNKNOWN_USER;
		}
	}
	return RCPT_ACCEPT;
}

/*
 * The system user that a local delivery by `action` writes rcpt's mail
 * as: the action's fixed user, the one its virtual table maps the address
 * to, or the local part, lower-cased.  The parent checks every delivery
 * the queue asks for with this, and the queue checks each envelope with it
 * before asking, under the configuration of the day: an envelope queued
 * under an older one that no longer holds is the queue's to bounce, never
 * a request the parent must take for a lie.  -1, with why, if there is no
 * such action, it relays, or it delivers rcpt to nobody.
 */
int
routing_local_user(const struct postern_conf *conf, const char *action,
    const char *rcpt, char *user, size_t len, char *why, size_t whylen)
{
	const struct action	*a;
	const struct table	*t;
	const char		*name, *at, *member;
	char			 fuser[64];
	size_t			 n, i;

	if ((a = config_find_action(conf, action)) == NULL) {
		snprintf(why, whylen, "no action named %s", action);
		return -1;
	}
	if (a->type == ACTION_RELAY || a->type == ACTION_REPORTD) {
		snprintf(why, whylen, "a local delivery by %s action %s",
		    a->type == ACTION_RELAY ? "relay" : "reportd", a->name);
		return -1;
	}
	if (a->alias_table[0] != '\0' && (aliases_is_file(rcpt) ||
	    aliases_is_command(rcpt))) {
		/* an alias's file or command: as the action's alias-user */
		if (aliases_is_file(rcpt) ? !a->alias_files :
		    !a->alias_commands) {
			snprintf(why, whylen, "action %s delivers to no alias "
			    "%s", a->name, aliases_is_file(rcpt) ? "files" :
			    "commands");
			return -1;
		}
		name = a->alias_user != NULL ? a->alias_user :
		    ACTION_DEFAULT_ALIAS_USER;
	} else if (a->forward_file && forward_target_split(rcpt, fuser,
	    sizeof(fuser), &member) == 0) {
		/* a ~/.forward's file or command: as its owner */
		if (a->user != NULL || a->virtual_table[0] != '\0') {
			snprintf(why, whylen, "action %s reads no .forward "
			    "(a fixed or virtual user)", a->name);
			return -1;
		}
		if (member[0] == '/' ? !a->forward_files :
		    !a->forward_commands) {
			snprintf(why, whylen, "action %s delivers to no "
			    ".forward %s", a->name, member[0] == '/' ?
			    "files" : "commands");
			return -1;
		}
		name = fuser;
	} else if (a->virtual_table[0] != '\0') {
		if ((t = config_find_table(conf, a->virtual_table)) == NULL ||
		    (name = table_lookup_rcpt(t, rcpt)) == NULL) {
			snprintf(why, whylen, "<%s> is not in table %s of "
			    "action %s", rcpt, a->virtual_table, a->name);
			return -1;
		}
	} else if (a->user != NULL)
		name = a->user;
	else {
		/* the local part: a user name, never a path */
		at = strrchr(rcpt, '@');
		n = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);
		for (i = 0; i < n && i < len; i++)
			if (rcpt[i] == '/' || (unsigned char)rcpt[i] < 0x21)
				break;
		if (n == 0 || n >= len || i < n) {
			snprintf(why, whylen, "<%s> names no user for action "
			    "%s", rcpt, a->name);
			return -1;
		}
		for (i = 0; i < n; i++)
			user[i] = tolower((unsigned char)rcpt[i]);
		user[n] = '\0';
		return 0;
	}
	if (strlcpy(user, name, len) >= len) {
		snprintf(why, whylen, "user %s of action %s is too long", name,
		    a->name);
		return -1;
	}
	return 0;
}

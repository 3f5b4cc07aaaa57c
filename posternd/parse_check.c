/*
 * The postern.conf(5) statements' checks: each statement that the grammar
 * (parse.y) recognises is checked here, with every mistake reported at the
 * file and line where it was written, and what it builds (listener, table,
 * action, transport, route, match rule, policy, dkim-signature, sign rule)
 * is added to the configuration at the statement's end.
 *
 * Implements the checks that RFCs ask of a configuration: AUTH only
 * inside TLS (RFC 4954 4), the submission port (RFC 6409 3.1), DKIM
 * canonicalization and signed header fields (RFC 6376 3.5, 5.4).
 *
 * Deliberately not here: reading the file (parse_lex.c), the syntax
 * (parse.y), the defaults and lookups by name (lib/conf.c), and using
 * the files that the configuration names beyond checking that they can
 * be read (the processes open them when they start).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "posternd/mda.h"
#include "posternd/parse_int.h"
#include "rule.h"
#include "util.h"

int
parse_name_ok(const struct conf_loc *loc, const char *name)
{
	if (name[0] == '\0' || strlen(name) >= CONF_NAME_MAX) {
		conf_error(loc, "invalid name \"%s\"", name);
		return 0;
	}
	return 1;
}

/* The parent opens these files at start: say now if it cannot. */
void
parse_check_file(const struct conf_loc *loc, const char *what, const char *path)
{
	struct stat	 st;
	int		 fd;

	if (ps.flags & PARSE_NOFILES)
		return;
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK)) == -1) {
		conf_error(loc, "cannot read %s \"%s\": %s", what, path,
		    strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		conf_error(loc, "%s \"%s\" is not a regular file", what, path);
	close(fd);
}

void
parse_set_path(const struct conf_loc *loc, char **dst, char *path,
    const char *what)
{
	if (path[0] != '/') {
		conf_error(loc, "%s must be an absolute path", what);
		free(path);
		return;
	}
	free(*dst);
	*dst = path;
}

/* User and group names as useradd(8) would take them. */
void
parse_set_account(const struct conf_loc *loc, char **dst, char *name,
    const char *what)
{
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.')
			break;
	if (name[0] == '\0' || name[0] == '-' || *p != '\0' ||
	    strlen(name) > 32) {
		conf_error(loc, "invalid %s name \"%s\"", what, name);
		free(name);
		return;
	}
	free(*dst);
	*dst = name;
}

/* user PROCESS NAME: the user one child process runs as. */
void
parse_set_process_user(const struct conf_loc *ploc, char *proc,
    const struct conf_loc *uloc, char *name)
{
	int	 i;

	for (i = 0; i < CONF_USER_MAX; i++)
		if (strcmp(proc, conf_user_process[i]) == 0)
			break;
	if (i == CONF_USER_MAX) {
		conf_error(ploc, "unknown process \"%s\" (smtp, queue, mta, "
		    "authd, reportd or control)", proc);
		free(name);
	} else {
		ps.users_loc = *uloc;
		parse_set_account(uloc, &ps.conf->users[i], name, "user");
	}
	free(proc);
}

/* Each process its own user: two under one name would share a uid. */
void
parse_check_users(void)
{
	int	 i, k;

	for (i = 0; i < CONF_USER_MAX; i++)
		for (k = 0; k < i; k++)
			if (strcmp(ps.conf->users[i], ps.conf->users[k]) == 0)
				conf_error(&ps.users_loc, "the %s and %s "
				    "processes have one user, %s: each needs "
				    "its own", conf_user_process[k],
				    conf_user_process[i], ps.conf->users[i]);
}

void
parse_add_pki(const struct conf_loc *nloc, char *name,
    const struct conf_loc *cloc, char *cert, const struct conf_loc *kloc,
    char *key)
{
	struct pki	*pki;
	int		 ok = 1;

	if (!parse_name_ok(nloc, name))
		ok = 0;
	else if (config_find_pki(ps.conf, name) != NULL) {
		conf_error(nloc, "duplicate pki \"%s\"", name);
		ok = 0;
	}
	parse_check_file(cloc, "certificate", cert);
	parse_check_file(kloc, "key", key);
	if (!ok) {
		free(name);
		free(cert);
		free(key);
		return;
	}
	/* Kept even with unreadable files: no "unknown pki" later. */
	pki = xcalloc(1, sizeof(*pki));
	strlcpy(pki->name, name, sizeof(pki->name));
	pki->cert_file = cert;
	pki->key_file = key;
	TAILQ_INSERT_TAIL(&ps.conf->pkis, pki, entry);
	free(name);
}

void
parse_listen_opt_string(const struct conf_loc *loc, unsigned int bit,
    const char *opt, char *dst, size_t dstsz, char *value)
{
	if (ps.lo.seen & bit)
		conf_error(loc, "duplicate listen option \"%s\"", opt);
	ps.lo.seen |= bit;
	strlcpy(dst, value, dstsz);
	free(value);
}

static void
listen_add(const struct conf_loc *aloc, const char *addr, int port)
{
	struct listener	*l, *o;

	l = xcalloc(1, sizeof(*l));
	if (conf_numeric_addr(addr, port, &l->ss, &l->sslen) == -1) {
		conf_error(aloc, "invalid address \"%s\"", addr);
		free(l);
		return;
	}
	TAILQ_FOREACH(o, &ps.conf->listeners, entry)
		if (conf_sockaddr_equal(&o->ss, &l->ss)) {
			conf_error(aloc, "duplicate listener on %s port %d",
			    addr, port);
			free(l);
			return;
		}
	if (ps.conf->metrics.enabled &&
	    conf_sockaddr_equal(&ps.conf->metrics.ss, &l->ss)) {
		conf_error(aloc, "listener on %s port %d, where metrics are "
		    "served", addr, port);
		free(l);
		return;
	}
	l->flags = ps.lo.flags;
	strlcpy(l->pki, ps.lo.pki, sizeof(l->pki));
	strlcpy(l->tag, ps.lo.tag, sizeof(l->tag));
	strlcpy(l->hostname, ps.lo.hostname, sizeof(l->hostname));
	strlcpy(l->policy, ps.lo.policy, sizeof(l->policy));
	strlcpy(l->auth_table, ps.lo.auth_table, sizeof(l->auth_table));
	strlcpy(l->senders_table, ps.lo.senders_table,
	    sizeof(l->senders_table));
	l->fd = -1;
	TAILQ_INSERT_TAIL(&ps.conf->listeners, l, entry);
}

/* A loopback address: 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104. */
static int
addr_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

/*
 * metrics listen on ADDRESS port N [allow-remote]: the counters are
 * served without authentication, so an address others can reach must
 * be asked for in so many words.
 */
void
parse_metrics_listen(const struct conf_loc *loc, const struct conf_loc *aloc,
    const char *addr, int port, int allow_remote)
{
	struct metrics_conf	*m = &ps.conf->metrics;
	struct listener		*l;

	if (port == 0)
		return;		/* reported */
	if (m->enabled) {
		conf_error(loc, "duplicate \"metrics listen on\"");
		return;
	}
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (conf_numeric_addr(addr, port, &m->ss, &m->sslen) == -1) {
		conf_error(aloc, "invalid address \"%s\"", addr);
		return;
	}
	if (!allow_remote && !addr_is_loopback(&m->ss)) {
		conf_error(aloc, "metrics on %s, which is not a loopback "
		    "address: add allow-remote to serve them to the network",
		    addr);
		return;
	}
	TAILQ_FOREACH(l, &ps.conf->listeners, entry)
		if (conf_sockaddr_equal(&l->ss, &m->ss)) {
			conf_error(aloc, "metrics on %s port %d, where mail "
			    "is received", addr, port);
			return;
		}
	m->enabled = 1;
	m->allow_remote = allow_remote;
}

/* auth [require] <T>: the credentials are checked against table T. */
void
parse_listen_auth(const struct conf_loc *loc, const struct conf_loc *tloc,
    char *table, int require)
{
	if (ps.lo.seen & LO_AUTH) {
		conf_error(loc, "duplicate listen option \"auth\"");
		free(table);
		return;
	}
	ps.lo.seen |= LO_AUTH;
	ps.lo.flags |= LISTEN_AUTH | (require ? LISTEN_AUTH_REQUIRE : 0);
	parse_table_ref(tloc, table, ps.lo.auth_table,
	    sizeof(ps.lo.auth_table));
}

/*
 * senders <T>: the addresses an authenticated client may send as, each
 * mapped to the account that owns it ("@domain" for a whole domain).
 */
void
parse_listen_senders(const struct conf_loc *loc, char *word,
    const struct conf_loc *tloc, char *table)
{
	if (strcmp(word, "senders") != 0) {
		conf_error(loc, "unknown listen option \"%s\"", word);
		free(word);
		free(table);
		return;
	}
	free(word);
	if (ps.lo.seen & LO_SENDERS) {
		conf_error(loc, "duplicate listen option \"senders\"");
		free(table);
		return;
	}
	ps.lo.seen |= LO_SENDERS;
	ps.lo.senders_loc = *loc;
	parse_map_ref(tloc, table, ps.lo.senders_table,
	    sizeof(ps.lo.senders_table));
}

void
parse_listen_end(const struct conf_loc *loc, const struct conf_loc *aloc,
    const char *addr)
{
	struct listener	*o;
	int		 port;

	if ((ps.lo.flags & (LISTEN_STARTTLS | LISTEN_SMTPS)) &&
	    ps.lo.pki[0] == '\0') {
		conf_error(loc, "%s requires a pki",
		    ps.lo.flags & LISTEN_SMTPS ? "smtps" : "tls");
		return;
	}
	/*
	 * RFC 4954 4: PLAIN and LOGIN only inside TLS, so auth without tls
	 * or smtps could never be offered.
	 */
	if ((ps.lo.flags & LISTEN_AUTH) &&
	    !(ps.lo.flags & (LISTEN_STARTTLS | LISTEN_SMTPS))) {
		conf_error(loc, "auth requires tls or smtps: passwords never "
		    "travel in clear");
		return;
	}
	/* Only an authenticated client has an account to own addresses. */
	if ((ps.lo.seen & LO_SENDERS) && !(ps.lo.flags & LISTEN_AUTH)) {
		conf_error(&ps.lo.senders_loc, "senders requires auth: only "
		    "an authenticated client has an account");
		return;
	}
	/*
	 * The credentials never leave authd; smtp needs the owners.  So no
	 * table may be both, on this listener or across two.
	 */
	if ((ps.lo.seen & LO_SENDERS) && ps.lo.senders_table[0] != '\0' &&
	    strcmp(ps.lo.senders_table, ps.lo.auth_table) == 0) {
		conf_error(&ps.lo.senders_loc, "senders and auth name the same "
		    "table \"%s\"", ps.lo.senders_table);
		return;
	}
	TAILQ_FOREACH(o, &ps.conf->listeners, entry)
		if ((ps.lo.senders_table[0] != '\0' &&
		    strcmp(ps.lo.senders_table, o->auth_table) == 0) ||
		    (ps.lo.auth_table[0] != '\0' &&
		    strcmp(ps.lo.auth_table, o->senders_table) == 0)) {
			conf_error(loc, "table \"%s\" is both credentials and "
			    "a senders table", strcmp(ps.lo.senders_table,
			    o->auth_table) == 0 ? ps.lo.senders_table :
			    ps.lo.auth_table);
			return;
		}
	if (ps.lo.seen & LO_PORT) {
		if ((port = ps.lo.port) == 0)
			return;		/* reported */
	} else
		port = (ps.lo.flags & LISTEN_SMTPS) ? 465 : 25;
	if (strcmp(addr, "localhost") == 0) {
		listen_add(aloc, "127.0.0.1", port);
		listen_add(aloc, "::1", port);
	} else
		listen_add(aloc, addr, port);
}

void
parse_table_begin(const struct conf_loc *loc, const char *name,
    enum table_type type)
{
	ps.table = xcalloc(1, sizeof(*ps.table));
	TAILQ_INIT(&ps.table->entries);
	ps.table->type = type;
	ps.table_dup = 0;
	if (!parse_name_ok(loc, name))
		ps.table_dup = 1;
	else if (config_find_table(ps.conf, name) != NULL) {
		conf_error(loc, "duplicate table \"%s\"", name);
		ps.table_dup = 1;
	}
	strlcpy(ps.table->name, name, sizeof(ps.table->name));
}

void
parse_table_add(const struct conf_loc *loc, char *key, char *value)
{
	struct table		*t = ps.table;
	struct table_entry	*te;

	if (t->nentries == 0)
		t->type = value != NULL ? TABLE_MAP : TABLE_LIST;
	else if ((t->type == TABLE_MAP) != (value != NULL)) {
		conf_error(loc, "table \"%s\" mixes list and key = value "
		    "entries", t->name);
		goto fail;
	}
	if (table_lookup(t, key) != NULL) {
		conf_error(loc, "duplicate entry \"%s\" in table \"%s\"", key,
		    t->name);
		goto fail;
	}
	te = xcalloc(1, sizeof(*te));
	te->key = key;
	te->value = value;
	TAILQ_INSERT_TAIL(&t->entries, te, entry);
	t->nentries++;
	return;
 fail:
	free(key);
	free(value);
}


void
parse_table_end(void)
{
	if (ps.table_dup)
		config_table_free(ps.table);
	else
		TAILQ_INSERT_TAIL(&ps.conf->tables, ps.table, entry);
	ps.table = NULL;
}

/* Resolve <name> into dst; frees name.  0 when unknown (reported). */
int
parse_table_ref(const struct conf_loc *loc, char *name, char *dst, size_t dstsz)
{
	int	 ok = 1;

	if (config_find_table(ps.conf, name) == NULL) {
		conf_error(loc, "unknown table \"%s\"", name);
		ok = 0;
	} else
		strlcpy(dst, name, dstsz);
	free(name);
	return ok;
}

/* <name> of a key = value table; frees name.  0 when unknown (reported). */
int
parse_map_ref(const struct conf_loc *loc, char *name, char *dst,
    size_t dstsz)
{
	struct table	*t;

	if (!parse_table_ref(loc, name, dst, dstsz))
		return 0;
	if ((t = config_find_table(ps.conf, dst)) != NULL &&
	    t->type == TABLE_LIST)
		conf_error(loc, "table \"%s\" is not a mapping", t->name);
	return 1;
}

/* alias <T>: a file: table read as aliases(5) (lib/aliases.h). */
void
parse_alias_table(const struct conf_loc *loc, char *name)
{
	struct table	*t;

	if (!parse_map_ref(loc, name, ps.action->alias_table,
	    sizeof(ps.action->alias_table)))
		return;
	if ((t = config_find_table(ps.conf, ps.action->alias_table)) == NULL)
		return;
	if (t->type != TABLE_FILE) {
		conf_error(loc, "alias table \"%s\" must be a file: table in "
		    "aliases(5) format", t->name);
		return;
	}
	if (ps.action->virtual_table[0] != '\0')
		conf_error(loc, "alias and virtual cannot go together");
	t->aliases = 1;
}

void
parse_action_begin(const struct conf_loc *loc, const char *name)
{
	ps.action = xcalloc(1, sizeof(*ps.action));
	ps.rule_seen = 0;
	ps.action_dup = 0;
	if (!parse_name_ok(loc, name))
		ps.action_dup = 1;
	else if (config_find_action(ps.conf, name) != NULL) {
		conf_error(loc, "duplicate action \"%s\"", name);
		ps.action_dup = 1;
	}
	strlcpy(ps.action->name, name, sizeof(ps.action->name));
}

static void
action_free(struct action *a)
{
	free(a->path);
	free(a->user);
	free(a->relay_url);
	free(a);
}

/* maildir ["PATH"]: absolute, or in the user's home (~/). */
void
parse_action_maildir(const struct conf_loc *loc, char *path)
{
	struct action	*a = ps.action;

	a->type = ACTION_MAILDIR;
	a->path = path != NULL ? path : xstrdup(ACTION_DEFAULT_MAILDIR);
	if (!conf_valid_expansions(a->path))
		conf_error(loc, "invalid expansion in \"%s\"", a->path);
	else if (a->path[0] != '/' && strcmp(a->path, "~") != 0 &&
	    strncmp(a->path, "~/", 2) != 0)
		conf_error(loc, "maildir path must be absolute or start "
		    "with ~/");
}

/* mbox ["PATH"]: absolute, or in the user's home (~/); not a directory. */
void
parse_action_mbox(const struct conf_loc *loc, char *path)
{
	struct action	*a = ps.action;
	size_t		 len;

	a->type = ACTION_MBOX;
	a->path = path != NULL ? path : xstrdup(ACTION_DEFAULT_MBOX);
	len = strlen(a->path);
	if (!conf_valid_expansions(a->path))
		conf_error(loc, "invalid expansion in \"%s\"", a->path);
	else if ((a->path[0] != '/' && strncmp(a->path, "~/", 2) != 0) ||
	    a->path[len - 1] == '/')
		conf_error(loc, "mbox path must name a file, absolute or "
		    "starting with ~/");
}

/* mda "COMMAND": words as posternd/mda.c splits them, no shell. */
void
parse_action_mda(const struct conf_loc *loc, char *cmd)
{
	struct action	*a = ps.action;
	char		 buf[4096], *argv[MDA_ARGS_MAX + 1];
	const char	*why;

	a->type = ACTION_MDA;
	a->path = cmd;
	if (mda_split(cmd, buf, sizeof(buf), argv, &why) == -1)
		conf_error(loc, "mda command: %s", why);
	else if (!conf_valid_expansions(cmd))
		conf_error(loc, "invalid expansion in \"%s\"", cmd);
}

/*
 * Credentials go only to a server that proved who it is: auth implies
 * "tls verify" unless "tls no-verify" says otherwise in so many words.
 * Any TLS alone would hand the password (whole, with PLAIN or LOGIN) to a
 * man-in-the-middle that shows any certificate.
 */
static void
relay_auth_verify(struct action *a)
{
	if (a->relay_auth[0] != '\0' && a->relay_tls != RELAY_TLS_NOVERIFY)
		a->relay_tls = RELAY_TLS_VERIFY;
}

void
parse_action_end(const struct conf_loc *loc)
{
	struct action	*a = ps.action;

	ps.action = NULL;
	if (a->type == ACTION_RELAY && a->relay_auth[0] != '\0') {
		if (a->relay_url == NULL)
			conf_error(&ps.auth_loc, "relay auth requires a host");
		/* Never send a password in the clear. */
		else if (a->relay_scheme == RELAY_SMTP &&
		    a->relay_tls == RELAY_TLS_OPPORTUNISTIC)
			conf_error(&ps.auth_loc, "relay auth requires TLS: "
			    "use smtps://, smtp+tls:// or tls require");
		relay_auth_verify(a);
	}
	if (a->relay_mechs != 0 && a->relay_auth[0] == '\0')
		conf_error(&ps.mechs_loc, "mechanisms needs auth <table>");
	if (ps.action_dup)
		action_free(a);
	else
		TAILQ_INSERT_TAIL(&ps.conf->actions, a, entry);
}

/* host "URL": the parsing is conf_parse_relay_url()'s. */
void
parse_relay_host(const struct conf_loc *loc, char *url)
{
	struct action	*a = ps.action;
	const char	*errstr, *p;

	free(a->relay_url);
	a->relay_url = url;
	if (conf_parse_relay_url(url, &a->relay_scheme, a->relay_host,
	    sizeof(a->relay_host), &a->relay_port, &errstr) == 0)
		return;
	if (strcmp(errstr, "unsupported scheme") == 0 &&
	    (p = strstr(url, "://")) != NULL)
		conf_error(loc, "unsupported relay scheme \"%.*s\"",
		    (int)(p - url), url);
	else if (strcmp(errstr, "invalid port") == 0)
		conf_error(loc, "invalid port in relay URL \"%s\"", url);
	else
		conf_error(loc, "invalid relay URL \"%s\"", url);
}

/* socks5 "ADDR:PORT": a numeric proxy address (no DNS at start). */
static void
socks5_proxy(const struct conf_loc *loc, char *spec)
{
	struct action	*a = ps.action;
	struct addrinfo	 hints, *res;
	const char	*colon, *errstr, *h = spec;
	size_t		 hlen;
	long long	 port;

	colon = strrchr(spec, ':');
	if (spec[0] == '[') {
		h = spec + 1;
		hlen = colon != NULL && colon > spec && colon[-1] == ']' ?
		    (size_t)(colon - spec - 2) : 0;
	} else
		hlen = colon != NULL ? (size_t)(colon - spec) : 0;
	if (colon == NULL || hlen == 0 || hlen >= sizeof(a->socks5_host)) {
		conf_error(loc, "socks5 wants ADDRESS:PORT, not \"%s\"", spec);
		free(spec);
		return;
	}
	memcpy(a->socks5_host, h, hlen);
	a->socks5_host[hlen] = '\0';
	port = strtonum(colon + 1, 1, 65535, &errstr);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	if (errstr != NULL)
		conf_error(loc, "invalid port in \"%s\"", spec);
	else if (getaddrinfo(a->socks5_host, NULL, &hints, &res) != 0)
		conf_error(loc, "socks5 proxy \"%s\" is not a numeric "
		    "address", a->socks5_host);
	else {
		freeaddrinfo(res);
		a->socks5_port = port;
	}
	free(spec);
}

/* direct | smarthost URL | submission URL | socks5 ADDR:PORT */
void
parse_transport_kind(const struct conf_loc *loc, char *kind, char *arg)
{
	struct action	*a = ps.action;
	const char	*p;

	if (strcmp(kind, "direct") == 0 && arg == NULL)
		a->transport = TRANSPORT_DIRECT;
	else if (strcmp(kind, "smarthost") == 0 && arg != NULL) {
		a->transport = TRANSPORT_SMARTHOST;
		parse_relay_host(loc, arg);
		arg = NULL;
	} else if (strcmp(kind, "submission") == 0 && arg != NULL) {
		a->transport = TRANSPORT_SUBMISSION;
		parse_relay_host(loc, arg);
		arg = NULL;
		/* RFC 6409 3.1: submission is port 587 unless given */
		p = strstr(a->relay_url, "://");
		if (a->relay_scheme != RELAY_SMTPS && p != NULL &&
		    strstr(p, "]:") == NULL && (p[3] == '[' ||
		    strchr(p + 3, ':') == NULL))
			a->relay_port = 587;
	} else if (strcmp(kind, "socks5") == 0 && arg != NULL) {
		a->transport = TRANSPORT_SOCKS5;
		socks5_proxy(loc, arg);
		arg = NULL;
	} else
		conf_error(loc, "transport wants direct, smarthost URL, "
		    "submission URL or socks5 ADDRESS:PORT");
	free(kind);
	free(arg);
}

void
parse_transport_end(const struct conf_loc *loc)
{
	struct action	*a = ps.action;

	ps.action = NULL;
	if (ps.action_dup || config_find_transport(ps.conf, a->name) != NULL) {
		if (!ps.action_dup)
			conf_error(loc, "duplicate transport \"%s\"",
			    a->name);
		action_free(a);
		return;
	}
	if (a->transport == TRANSPORT_SUBMISSION && a->relay_auth[0] == '\0')
		conf_error(loc, "transport %s: submission needs "
		    "auth <table>", a->name);
	if (a->relay_auth[0] != '\0' && a->relay_url == NULL)
		conf_error(&ps.auth_loc, "transport %s: auth needs a "
		    "smarthost or submission host", a->name);
	else if (a->relay_auth[0] != '\0' && a->relay_scheme == RELAY_SMTP &&
	    a->relay_tls == RELAY_TLS_OPPORTUNISTIC)
		conf_error(&ps.auth_loc, "transport %s: auth requires TLS: "
		    "use smtps://, smtp+tls:// or tls require", a->name);
	relay_auth_verify(a);
	if (a->relay_mechs != 0 && a->relay_auth[0] == '\0')
		conf_error(&ps.mechs_loc, "transport %s: mechanisms needs "
		    "auth <table>", a->name);
	TAILQ_INSERT_TAIL(&ps.conf->transports, a, entry);
}

void
parse_route_domain(const struct conf_loc *loc, char *dst, char *name)
{
	size_t	 i;

	if (!conf_valid_hostname(name))
		conf_error(loc, "invalid domain \"%s\"", name);
	for (i = 0; name[i] != '\0'; i++)
		name[i] = tolower((unsigned char)name[i]);
	strlcpy(dst, name, 256);
	free(name);
}

/* For options that may be given once, in relay and match rules. */
void
parse_rule_once(const struct conf_loc *loc, unsigned int bit, const char *what)
{
	if (ps.rule_seen & bit) {
		if (bit == RO_ACTION)
			conf_error(loc, "match takes one action or reject");
		else
			conf_error(loc, "%s given twice", what);
	}
	ps.rule_seen |= bit;
}

/* ADDR[/LEN]; without /LEN the address alone.  -1 after an error. */
static int
parse_net(const struct conf_loc *loc, const char *s,
    struct sockaddr_storage *net, int *prefixlen)
{
	char		 addr[128];
	const char	*slash, *errstr;
	socklen_t	 len;
	int		 max;

	if ((slash = strchr(s, '/')) == NULL)
		slash = s + strlen(s);
	if ((size_t)(slash - s) >= sizeof(addr)) {
		conf_error(loc, "invalid address \"%s\"", s);
		return -1;
	}
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (conf_numeric_addr(addr, 0, net, &len) == -1) {
		conf_error(loc, "invalid address \"%s\"", s);
		return -1;
	}
	max = net->ss_family == AF_INET ? 32 : 128;
	*prefixlen = max;
	if (*slash == '/') {
		*prefixlen = strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL) {
			conf_error(loc, "invalid prefix length in \"%s\"", s);
			return -1;
		}
	}
	return 0;
}

void
parse_rule_src_net(const struct conf_loc *loc, const char *s)
{
	parse_net(loc, s, &ps.rule->from_net, &ps.rule->from_prefixlen);
}

/*
 * mta-mx-allow-network ADDR[/LEN]: loopback or unspecified addresses that
 * MX resolution may lead to (a test bed).  Other addresses are never
 * refused, so a network that holds none of those allows nothing: an
 * error, not a silent no-op.  IPv4 is written as IPv4; the mta matches
 * IPv4-mapped IPv6 addresses against it.
 */
void
parse_mta_mx_allow(const struct conf_loc *loc, const char *s)
{
	static const char *const local[] = {
		"127.0.0.0", "0.0.0.0", "::1", "::"
	};
	static const int	 local_len[] = { 8, 8, 128, 128 };
	struct mta_conf		*mc = &ps.conf->mta;
	struct sockaddr_storage	 net, l;
	socklen_t		 len;
	size_t			 i;
	int			 prefixlen, overlap = 0;

	if (parse_net(loc, s, &net, &prefixlen) == -1)
		return;
	if (net.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((struct sockaddr_in6 *)&net)->sin6_addr)) {
		conf_error(loc, "mta-mx-allow-network: write the IPv4 network "
		    "\"%s\" in IPv4 form", s);
		return;
	}
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		if (conf_numeric_addr(local[i], 0, &l, &len) == -1)
			continue;
		if (prefixlen <= local_len[i] ?
		    rule_addr_in_net((struct sockaddr *)&l, &net, prefixlen) :
		    rule_addr_in_net((struct sockaddr *)&net, &l, local_len[i]))
			overlap = 1;
	}
	if (!overlap) {
		conf_error(loc, "mta-mx-allow-network %s: only loopback and "
		    "unspecified addresses are refused, and this network "
		    "holds none", s);
		return;
	}
	if (mc->nmx_allow == CONF_MX_ALLOW_MAX) {
		conf_error(loc, "more than %d mta-mx-allow-network "
		    "statements", CONF_MX_ALLOW_MAX);
		return;
	}
	mc->mx_allow[mc->nmx_allow] = net;
	mc->mx_allow_prefixlen[mc->nmx_allow++] = prefixlen;
}

void
parse_rule_end(const struct conf_loc *loc)
{
	struct rule	*r = ps.rule;

	ps.rule = NULL;
	if (!(ps.rule_seen & RO_ACTION)) {
		conf_error(loc, "match needs an action or reject");
		free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&ps.conf->rules, r, entry);
}

void
parse_resolver_set(const struct conf_loc *loc, const char *s)
{
	struct resolver_conf	*rc = &ps.conf->resolver;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 addr[64];
	const char		*at, *errstr;
	int			 port = 53;

	if ((at = strrchr(s, '@')) == NULL)
		at = s + strlen(s);
	if ((size_t)(at - s) >= sizeof(addr)) {
		conf_error(loc, "invalid resolver address \"%s\"", s);
		return;
	}
	memcpy(addr, s, at - s);
	addr[at - s] = '\0';
	if (conf_numeric_addr(addr, 53, &ss, &len) == -1) {
		conf_error(loc, "invalid resolver address \"%s\"", s);
		return;
	}
	if (*at == '@') {
		port = strtonum(at + 1, 1, 65535, &errstr);
		if (errstr != NULL) {
			conf_error(loc, "invalid resolver port \"%s\"", at + 1);
			return;
		}
	}
	rc->configured = 1;
	strlcpy(rc->addr, addr, sizeof(rc->addr));
	rc->port = port;
}

void
parse_policy_begin(const struct conf_loc *loc, const char *name)
{
	ps.policy = xcalloc(1, sizeof(*ps.policy));
	ps.policy->dkim_max_signatures = CONF_DKIM_MAX_SIGS;
	ps.policy_seen = 0;
	ps.policy_dup = 0;
	if (!parse_name_ok(loc, name)) {
		ps.policy_dup = 1;
		return;
	}
	strlcpy(ps.policy->name, name, sizeof(ps.policy->name));
	if (config_find_policy(ps.conf, name) != NULL) {
		conf_error(loc, "duplicate policy \"%s\"", name);
		ps.policy_dup = 1;
	}
}

void
parse_policy_end(void)
{
	if (ps.policy_dup)
		free(ps.policy);
	else
		TAILQ_INSERT_TAIL(&ps.conf->policies, ps.policy, entry);
	ps.policy = NULL;
}

/*
 * A Maildir++ folder name (".NAME" in the maildir; "." separates levels),
 * never a path out of it; at most 63 octets, as envelopes store it.
 */
void
parse_quarantine_folder(const struct conf_loc *loc, const char *name)
{
	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
	    strstr(name, "..") != NULL || strlen(name) > 63)
		conf_error(loc, "invalid quarantine folder \"%s\"", name);
	else
		strlcpy(ps.policy->quarantine_folder, name,
		    sizeof(ps.policy->quarantine_folder));
}

void
parse_policy_once(const struct conf_loc *loc, unsigned int bit,
    const char *what)
{
	if (ps.policy_seen & bit)
		conf_error(loc, "%s given twice in policy \"%s\"", what,
		    ps.policy->name);
	ps.policy_seen |= bit;
}

void
parse_dkim_begin(const struct conf_loc *loc, const char *name)
{
	ps.dkim = xcalloc(1, sizeof(*ps.dkim));
	ps.dkim->algorithm = DKIM_RSA_SHA256;
	ps.dkim->canon_header = DKIM_CANON_RELAXED;
	ps.dkim->canon_body = DKIM_CANON_RELAXED;
	ps.dkim_seen = 0;
	ps.dkim_dup = 0;
	if (!parse_name_ok(loc, name)) {
		ps.dkim_dup = 1;
		return;
	}
	strlcpy(ps.dkim->name, name, sizeof(ps.dkim->name));
	if (config_find_dkim_signature(ps.conf, name) != NULL) {
		conf_error(loc, "duplicate dkim-signature \"%s\"", name);
		ps.dkim_dup = 1;
	}
}

void
parse_dkim_algorithm(const struct conf_loc *loc, const char *name)
{
	if (strcmp(name, "rsa-sha256") == 0)
		ps.dkim->algorithm = DKIM_RSA_SHA256;
	else if (strcmp(name, "ed25519-sha256") == 0)
		ps.dkim->algorithm = DKIM_ED25519_SHA256;
	else if (strcmp(name, "rsa-sha1") == 0)
		/* RFC 8301 3.1: signers MUST use rsa-sha256. */
		conf_error(loc, "rsa-sha1 must not be used for signing "
		    "(RFC 8301 3.1)");
	else
		conf_error(loc, "unknown algorithm \"%s\"", name);
}

void
parse_dkim_once(const struct conf_loc *loc, unsigned int bit, const char *what)
{
	if (ps.dkim_seen & bit)
		conf_error(loc, "%s given twice in dkim-signature \"%s\"",
		    what, ps.dkim->name);
	ps.dkim_seen |= bit;
}

/* RFC 6376 3.5 c=: "header/body"; a lone "header" means body simple. */
void
parse_dkim_canon(const struct conf_loc *loc, const char *s)
{
	struct dkim_signature	*d = ps.dkim;
	const char		*slash;

	if ((slash = strchr(s, '/')) == NULL) {
		if (conf_dkim_canon_word(s, strlen(s), &d->canon_header)) {
			d->canon_body = DKIM_CANON_SIMPLE;
			return;
		}
	} else if (conf_dkim_canon_word(s, slash - s, &d->canon_header) &&
	    conf_dkim_canon_word(slash + 1, strlen(slash + 1), &d->canon_body))
		return;
	conf_error(loc, "invalid canonicalization \"%s\"", s);
}

/* RFC 6376 3.5 h=: colon-separated field names (RFC 5322 ftext). */
void
parse_dkim_headers(const struct conf_loc *loc, char *s)
{
	const char	*p, *start;
	int		 from = 0;

	for (start = p = s;; p++) {
		if (*p == ':' || *p == '\0') {
			if (p == start)
				goto bad;
			if (p - start == 4 &&
			    strncasecmp(start, "from", 4) == 0)
				from = 1;
			if (*p == '\0')
				break;
			start = p + 1;
		} else if (*p < 33 || *p > 126)
			goto bad;
	}
	if (!from) {
		/* RFC 6376 5.4: the From header field MUST be signed. */
		conf_error(loc, "headers must include From (RFC 6376 5.4)");
		free(s);
		return;
	}
	free(ps.dkim->headers);
	ps.dkim->headers = s;
	return;
 bad:
	conf_error(loc, "invalid header list \"%s\"", s);
	free(s);
}

static void
dkim_free(struct dkim_signature *d)
{
	free(d->key_file);
	free(d->headers);
	free(d);
}

void
parse_dkim_end(const struct conf_loc *loc)
{
	struct dkim_signature	*d = ps.dkim;

	ps.dkim = NULL;
	if (d->key_file == NULL)
		conf_error(loc, "dkim-signature \"%s\" needs a key", d->name);
	if (d->domain[0] == '\0' && !(ps.dkim_seen & 0x02))
		conf_error(loc, "dkim-signature \"%s\" needs a domain",
		    d->name);
	if (d->selector[0] == '\0' && !(ps.dkim_seen & 0x04))
		conf_error(loc, "dkim-signature \"%s\" needs a selector",
		    d->name);
	if (ps.dkim_dup)
		dkim_free(d);
	else
		TAILQ_INSERT_TAIL(&ps.conf->dkim_signatures, d, entry);
}

void
parse_sign_add(const struct conf_loc *loc, const char *name)
{
	struct sign_rule	*s = ps.sign;

	if (config_find_dkim_signature(ps.conf, name) == NULL) {
		conf_error(loc, "unknown dkim-signature \"%s\"", name);
		return;
	}
	if (s->nsignatures == SIGN_MAX_SIGNATURES) {
		conf_error(loc, "too many signatures (at most %d)",
		    SIGN_MAX_SIGNATURES);
		return;
	}
	strlcpy(s->signatures[s->nsignatures++], name,
	    sizeof(s->signatures[0]));
}

void
parse_sign_once(const struct conf_loc *loc, unsigned int bit, const char *what)
{
	if (ps.sign_seen & bit) {
		if (bit == 0x01)
			conf_error(loc, "sign takes one from or domain");
		else
			conf_error(loc, "%s given twice", what);
	}
	ps.sign_seen |= bit;
}

/* Statements cut short by a syntax error leave their objects here. */
void
parse_builders_free(void)
{
	if (ps.table != NULL) {
		config_table_free(ps.table);
		ps.table = NULL;
	}
	if (ps.action != NULL) {
		action_free(ps.action);
		ps.action = NULL;
	}
	free(ps.rule);
	ps.rule = NULL;
	free(ps.route);
	ps.route = NULL;
	free(ps.policy);
	ps.policy = NULL;
	if (ps.dkim != NULL) {
		dkim_free(ps.dkim);
		ps.dkim = NULL;
	}
	free(ps.sign);
	ps.sign = NULL;
	free(ps.list);
	ps.list = NULL;
}

/* local-users min-uid N: the lowest uid of an account mail may be for. */
void
parse_local_users_min_uid(const struct conf_loc *loc, char *word,
    const struct conf_loc *nloc, long long uid)
{
	if (strcmp(word, "min-uid") != 0)
		conf_error(loc, "local-users: \"%s\" is not min-uid or allow",
		    word);
	else if (uid < 0 || uid > UINT32_MAX - 1)
		conf_error(nloc, "local-users min-uid %lld out of range", uid);
	else
		ps.conf->local_users.min_uid = (uid_t)uid;
	free(word);
}

/* local-users allow <T>: user names taken even if they cannot receive. */
void
parse_local_users_allow(const struct conf_loc *loc, char *word,
    const struct conf_loc *tloc, char *table)
{
	if (strcmp(word, "allow") != 0) {
		conf_error(loc, "local-users: \"%s\" is not min-uid or allow",
		    word);
		free(table);
	} else if (ps.conf->local_users.allow[0] != '\0') {
		conf_error(loc, "local-users allow given twice");
		free(table);
	} else
		parse_table_ref(tloc, table, ps.conf->local_users.allow,
		    sizeof(ps.conf->local_users.allow));
	free(word);
}

/*
 * Checks across statements, once the file is read.  A memory limit below
 * the maximum message size would defer the largest messages for ever: 452
 * at each retry until the sender gives up.
 */
void
parse_check_queue(void)
{
	struct queue_conf	*q = &ps.conf->queue;

	if (q->memory_limit >= q->max_message_size)
		return;
	/*
	 * The default follows a larger max-message-size, with room for the
	 * trace fields the queue stores in front of such a message.
	 */
	if (ps.memory_loc.file == NULL)
		q->memory_limit = q->max_message_size + 1024 * 1024;
	else
		conf_error(&ps.memory_loc, "queue memory-limit (%zu) is less "
		    "than max-message-size (%zu): the largest messages could "
		    "never be received", q->memory_limit, q->max_message_size);
}

/*
 * "srs key FILE": up to SRS_KEYS_MAX, the first signs and all verify (key
 * rotation: the new key first, the old one after it until addresses made
 * with it have expired, SRS_MAX_AGE_DAYS).  The file is checked here so
 * that posternd -n says what is wrong; the parent reads it again at start.
 */
void
parse_srs_key(const struct conf_loc *loc, char *path)
{
	uint8_t		 key[SRS_KEY_MAX];
	size_t		 len;
	char		 err[512];

	if (path[0] != '/') {
		conf_error(loc, "srs key must be an absolute path");
		free(path);
		return;
	}
	if (ps.conf->srs.nkeys == SRS_KEYS_MAX) {
		conf_error(loc, "too many srs keys (at most %d)",
		    SRS_KEYS_MAX);
		free(path);
		return;
	}
	if (!(ps.flags & PARSE_NOFILES)) {
		if (conf_srs_key_read(path, key, &len, err, sizeof(err)) == -1)
			conf_error(loc, "srs key %s", err);
		explicit_bzero(key, sizeof(key));
	}
	ps.conf->srs.key_files[ps.conf->srs.nkeys++] = path;
}

void
parse_srs_domain(const struct conf_loc *loc, char *name)
{
	if (!conf_valid_hostname(name))
		conf_error(loc, "invalid srs domain \"%s\"", name);
	else
		strlcpy(ps.conf->srs.domain, name,
		    sizeof(ps.conf->srs.domain));
	ps.srs_loc = *loc;
	free(name);
}

/* An srs domain asks for SRS: without a key there would be none. */
void
parse_check_srs(void)
{
	if (ps.conf->srs.domain[0] != '\0' && ps.conf->srs.nkeys == 0)
		conf_error(&ps.srs_loc, "srs domain without an srs key: SRS "
		    "needs a secret (srs key FILE)");
}

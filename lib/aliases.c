/*
 * aliases(5) in Debian's format (the one sendmail, Postfix and OpenSMTPD
 * read): "name: member, member, ...", a logical line continued on lines
 * that start with a blank, '#' comment lines, members and names that may
 * be written in double quotes.  A member is a local name (itself an
 * alias, or a user), an address with a domain, "/file", "|command" or
 * ":include:/path" (a file of more members).
 *
 * The parser takes bytes and calls back; it never does I/O, so it is
 * fuzzed alone (regress/fuzz/fuzz_aliases.c).  The parent loads the file
 * as configuration (root, not chrooted, like file: tables) and sends the
 * children one table entry per member; :include: files are read by the
 * parent too, so they must be owned by root or by the aliases file's
 * owner and writable by nobody else.
 *
 * Expansion happens once, at RCPT time, in smtp; the queue expands again
 * to check what smtp proposed.  It is bounded: ALIASES_MAX_DEPTH nested
 * names, ALIASES_MAX_LOOKUPS names per recipient, ALIASES_MAX_TARGETS
 * recipients.  A name met again while it is being expanded (a -> b -> a,
 * or "root: root, admin") is not expanded again: it stands for its own
 * mailbox when it is a user who can receive mail, as sendmail does, and
 * otherwise that member is dropped as a loop.
 *
 * Not done here: ~/.forward, and SRS for the external members (smtp
 * rewrites the envelope sender of each ALIAS_REMOTE target:
 * smtpd/rcpt.c, lib/srs.c).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "envelope.h"
#include "log.h"
#include "routing.h"
#include "util.h"

#define INCLUDE_PREFIX		":include:"
#define INCLUDE_PREFIX_LEN	(sizeof(INCLUDE_PREFIX) - 1)

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A comment or empty line: its first non-blank is '#' or nothing. */
static int
line_is_comment(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && (is_blank(p[i]) || p[i] == '\r'); i++)
		;
	return i == len || p[i] == '#';
}

/*
 * One member as written, blanks around it gone: the quotes of a member
 * written whole in quotes are taken off ("|cmd arg" is |cmd arg); a quoted
 * local part ("john smith"@example.com) stays as it is.
 */
static int
member_finish(const char *raw, size_t len, char *out, size_t outlen,
    const char **why)
{
	size_t	 i, o = 0, k;

	if (len >= 2 && raw[0] == '"' && raw[len - 1] == '"') {
		for (i = 1; i + 1 < len; i++) {
			if (raw[i] == '\\' && i + 2 < len)
				i++;
			else if (raw[i] == '"')
				break;
		}
		if (i + 1 == len) {
			for (i = 1; i + 1 < len && o + 1 < outlen; i++) {
				if (raw[i] == '\\' && i + 2 < len)
					i++;
				out[o++] = raw[i];
			}
			out[o] = '\0';
			goto check;
		}
	}
	if (len >= outlen) {
		*why = "member too long";
		return -1;
	}
	memcpy(out, raw, len);
	out[len] = '\0';
	o = len;
 check:
	if (o == 0)
		return 0;
	if (o > ALIASES_MEMBER_MAX) {
		*why = "member too long";
		return -1;
	}
	for (i = 0; i < o; i++)
		if (((unsigned char)out[i] < 0x20 && out[i] != '\t') ||
		    out[i] == 0x7f) {
			*why = "control character in a member";
			return -1;
		}
	if (out[0] == ':') {
		/* ":include: /path" -> ":include:/path"; nothing else */
		if (strncasecmp(out, INCLUDE_PREFIX, INCLUDE_PREFIX_LEN) != 0) {
			*why = "unknown :keyword: member";
			return -1;
		}
		for (k = INCLUDE_PREFIX_LEN; is_blank(out[k]); k++)
			;
		if (out[k] != '/') {
			*why = ":include: needs an absolute path";
			return -1;
		}
		memcpy(out, INCLUDE_PREFIX, INCLUDE_PREFIX_LEN);
		memmove(out + INCLUDE_PREFIX_LEN, out + k, o - k + 1);
	}
	return (int)o;
}

/* Split "a, b, "c, d"" at the commas outside quotes. */
static int
split_members(const char *p, size_t len, const char *name, aliases_cb cb,
    void *arg, const char **why)
{
	char	 member[ALIASES_MEMBER_MAX + 1];
	size_t	 i = 0, start, end;
	int	 inq, n;

	while (i < len) {
		while (i < len && (is_blank(p[i]) || p[i] == ',' ||
		    p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i == len)
			break;
		start = i;
		for (inq = 0; i < len; i++) {
			if (inq && p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == '"')
				inq = !inq;
			else if (!inq && (p[i] == ',' || p[i] == '\n'))
				break;
			if (i - start > 2 * ALIASES_MEMBER_MAX) {
				*why = "member too long";
				return -1;
			}
		}
		if (inq) {
			*why = "unbalanced quotes";
			return -1;
		}
		for (end = i; end > start && (is_blank(p[end - 1]) ||
		    p[end - 1] == '\r'); end--)
			;
		if ((n = member_finish(p + start, end - start, member,
		    sizeof(member), why)) == -1)
			return -1;
		if (n > 0 && cb(arg, name, member) == -1) {
			*why = NULL;
			return -1;
		}
	}
	return 0;
}

/* "name: members" (one logical line, continuations joined). */
static int
parse_logical(const char *p, size_t len, aliases_cb cb, void *arg,
    const char **why)
{
	char	 name[ALIASES_NAME_MAX + 1];
	size_t	 i = 0, n = 0;

	if (p[0] == '"') {
		for (i = 1; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			if (n >= ALIASES_NAME_MAX) {
				*why = "name too long";
				return -1;
			}
			name[n++] = tolower((unsigned char)p[i]);
		}
		if (i == len) {
			*why = "unbalanced quotes";
			return -1;
		}
		i++;
	} else {
		for (; i < len && p[i] != ':' && !is_blank(p[i]); i++) {
			if (n >= ALIASES_NAME_MAX) {
				*why = "name too long";
				return -1;
			}
			name[n++] = tolower((unsigned char)p[i]);
		}
	}
	name[n] = '\0';
	while (i < len && is_blank(p[i]))
		i++;
	if (i == len || p[i] != ':') {
		*why = "no ':' after the name";
		return -1;
	}
	for (i++, n = 0; name[n] != '\0'; n++)
		if ((unsigned char)name[n] <= 0x20 ||
		    (unsigned char)name[n] == 0x7f) {
			*why = "blank or control character in a name";
			return -1;
		}
	if (n == 0) {
		*why = "empty name";
		return -1;
	}
	return split_members(p + i, len - i, name, cb, arg, why);
}

int
aliases_parse(const char *buf, size_t len, aliases_cb cb, void *arg,
    char *err, size_t errlen)
{
	char		*logical = NULL;
	size_t		 pos = 0, eol, llen = 0, lineno = 0, start_line = 0;
	const char	*why = NULL;
	int		 rv = -1;

	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in the file");
		return -1;
	}
	/* a logical line is never longer than the file */
	logical = xmalloc(len + 1);
	for (;;) {
		if (pos < len) {
			for (eol = pos; eol < len && buf[eol] != '\n'; eol++)
				;
			lineno++;
		} else
			eol = pos;
		/* the end, or a line that starts a new logical line */
		if (pos >= len || (!line_is_comment(buf + pos, eol - pos) &&
		    !is_blank(buf[pos]))) {
			if (llen > 0 && parse_logical(logical, llen, cb, arg,
			    &why) == -1) {
				if (why != NULL)
					snprintf(err, errlen, "line %zu: %s",
					    start_line, why);
				else
					snprintf(err, errlen, "line %zu: "
					    "stopped", start_line);
				goto out;
			}
			llen = 0;
			if (pos >= len)
				break;
			start_line = lineno;
		} else if (line_is_comment(buf + pos, eol - pos)) {
			pos = eol + 1;
			continue;
		} else if (llen == 0) {
			snprintf(err, errlen, "line %zu: continuation line "
			    "without a name", lineno);
			goto out;
		}
		/* a continuation is a new line of the members: a separator */
		if (llen > 0)
			logical[llen++] = '\n';
		memcpy(logical + llen, buf + pos, eol - pos);
		llen += eol - pos;
		pos = eol + 1;
	}
	rv = 0;
 out:
	free(logical);
	return rv;
}

int
aliases_parse_list(const char *buf, size_t len, const char *name,
    aliases_cb cb, void *arg, char *err, size_t errlen)
{
	size_t		 pos, eol, lineno = 0;
	const char	*why = NULL;

	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in the file");
		return -1;
	}
	for (pos = 0; pos < len; pos = eol + 1) {
		for (eol = pos; eol < len && buf[eol] != '\n'; eol++)
			;
		lineno++;
		if (line_is_comment(buf + pos, eol - pos))
			continue;
		if (split_members(buf + pos, eol - pos, name, cb, arg,
		    &why) == -1) {
			snprintf(err, errlen, "line %zu: %s", lineno,
			    why != NULL ? why : "stopped");
			return -1;
		}
	}
	return 0;
}

/*
 * The whole of a regular file of at most max bytes.  /dev/zero, a FIFO or
 * a file that grows past max while read is refused, never read to its end.
 */
static char *
read_bounded(const char *path, size_t max, uid_t owner, int check_owner,
    size_t *lenp, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (check_owner && ((st.st_uid != 0 && st.st_uid != owner) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))) {
		snprintf(err, errlen, "%s: owned by uid %u or writable by "
		    "others (it must be root's or the aliases file owner's, "
		    "mode go-w)", path, (unsigned)st.st_uid);
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		close(fd);
		return NULL;
	}
	buf = xmalloc(max + 1);
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += n;
		if (len > max)
			break;
	}
	if (n == -1 || len > max) {
		snprintf(err, errlen, "%s: %s", path, n == -1 ?
		    strerror(errno) : "grew past the size bound");
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*lenp = len;
	return buf;
}

struct load_ctx {
	struct table	*t;
	uid_t		 owner;
	int		 depth;
	char		*err;
	size_t		 errlen;
};

static int	load_member(void *, const char *, const char *);

static void
table_add(struct table *t, const char *key, const char *value)
{
	struct table_entry	*te;

	te = xcalloc(1, sizeof(*te));
	te->key = xstrdup(key);
	te->value = xstrdup(value);
	TAILQ_INSERT_TAIL(&t->entries, te, entry);
	t->nentries++;
}

/*
 * An :include: that cannot be read leaves a marker member: the alias
 * fails temporarily at RCPT (451) while the rest of the file works.
 */
static int
load_include(struct load_ctx *c, const char *name, const char *path)
{
	struct load_ctx	 sub = *c;
	char		 err[512], *buf;
	size_t		 len;

	if (c->depth >= ALIASES_INCLUDE_DEPTH) {
		log_warnx("aliases %s: %s: :include: nested deeper than %d",
		    c->t->path, name, ALIASES_INCLUDE_DEPTH);
		table_add(c->t, name, ALIASES_INCLUDE_ERROR);
		return 0;
	}
	if ((buf = read_bounded(path, ALIASES_INCLUDE_MAX, c->owner, 1, &len,
	    err, sizeof(err))) == NULL) {
		log_warnx("aliases %s: %s: :include: refused: %s", c->t->path,
		    name, err);
		table_add(c->t, name, ALIASES_INCLUDE_ERROR);
		return 0;
	}
	sub.depth++;
	if (aliases_parse_list(buf, len, name, load_member, &sub, err,
	    sizeof(err)) == -1) {
		if (c->t->nentries >= ALIASES_MAX_ENTRIES) {
			free(buf);
			return -1;
		}
		log_warnx("aliases %s: %s: :include:%s: %s", c->t->path, name,
		    path, err);
		table_add(c->t, name, ALIASES_INCLUDE_ERROR);
	}
	free(buf);
	return 0;
}

static int
load_member(void *arg, const char *name, const char *member)
{
	struct load_ctx	*c = arg;

	if (c->t->nentries >= ALIASES_MAX_ENTRIES) {
		snprintf(c->err, c->errlen, "%s: more than %d members in all",
		    c->t->path, ALIASES_MAX_ENTRIES);
		return -1;
	}
	if (strncmp(member, INCLUDE_PREFIX, INCLUDE_PREFIX_LEN) == 0)
		return load_include(c, name, member + INCLUDE_PREFIX_LEN);
	table_add(c->t, name, member);
	return 0;
}

int
aliases_load(struct table *t, char *err, size_t errlen)
{
	struct load_ctx	 c;
	struct stat	 st;
	char		 perr[256], *buf;
	size_t		 len;

	if (stat(t->path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		return -1;
	}
	if ((buf = read_bounded(t->path, ALIASES_FILE_MAX, 0, 0, &len, err,
	    errlen)) == NULL)
		return -1;
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.owner = st.st_uid;
	c.err = err;
	c.errlen = errlen;
	err[0] = '\0';
	if (aliases_parse(buf, len, load_member, &c, perr,
	    sizeof(perr)) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", t->path, perr);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int
aliases_changed(const char *path, struct aliases_stamp *s)
{
	struct stat	 st;
	int		 changed;

	if (stat(path, &st) == -1)
		memset(&st, 0, sizeof(st));
	changed = st.st_dev != s->dev || st.st_ino != s->ino ||
	    st.st_size != s->size || st.st_mtim.tv_sec != s->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != s->mtime.tv_nsec;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	return changed;
}

int
aliases_has_member(struct table *t, const char *member)
{
	const struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (te->value != NULL && strcmp(te->value, member) == 0)
			return 1;
	return 0;
}

int
aliases_is_file(const char *rcpt)
{
	return rcpt[0] == '/';
}

int
aliases_is_command(const char *rcpt)
{
	return rcpt[0] == '|';
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct table_entry	*x = *(const struct table_entry *const *)a;
	const struct table_entry	*y = *(const struct table_entry *const *)b;

	return strcasecmp(x->key, y->key);
}

/* The first index slot of key and how many there are. */
static size_t
table_range(struct table *t, const char *key, size_t *first)
{
	struct table_entry	*te;
	size_t			 lo = 0, hi, i = 0, n;

	if (t->index == NULL && t->nentries > 0) {
		t->index = xreallocarray(NULL, t->nentries, sizeof(*t->index));
		TAILQ_FOREACH(te, &t->entries, entry)
			t->index[i++] = te;
		t->nindex = i;
		qsort(t->index, t->nindex, sizeof(*t->index), cmp_entry);
	}
	hi = t->nindex;
	while (lo < hi) {
		i = lo + (hi - lo) / 2;
		if (strcasecmp(t->index[i]->key, key) < 0)
			lo = i + 1;
		else
			hi = i;
	}
	for (n = 0; lo + n < t->nindex &&
	    strcasecmp(t->index[lo + n]->key, key) == 0; n++)
		;
	*first = lo;
	return n;
}

struct xctx {
	struct routing		*rt;
	struct table		*table;
	const struct action	*a;
	char			 domain[256];
	struct alias_expansion	*x;
	const char		*path[ALIASES_MAX_DEPTH + 1];
	size_t			 depth;
	int			 overflow;
	int			 unavailable;
};

static void
target_add(struct xctx *c, enum alias_kind kind, const char *action,
    const char *rcpt)
{
	struct alias_expansion	*x = c->x;

	if (strlen(rcpt) > ENV_ADDR_MAX) {
		x->unknown++;
		return;
	}
	if (x->n >= ALIASES_MAX_TARGETS) {
		c->overflow = 1;
		return;
	}
	if (x->n == x->cap) {
		x->cap = x->cap == 0 ? 16 : x->cap * 2;
		x->t = xreallocarray(x->t, x->cap, sizeof(*x->t));
	}
	x->t[x->n].kind = kind;
	x->t[x->n].action = action;
	x->t[x->n].rcpt = xstrdup(rcpt);
	x->n++;
}

static int
on_path(const struct xctx *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->depth; i++)
		if (strcasecmp(c->path[i], name) == 0)
			return 1;
	return 0;
}

static void	expand_name(struct xctx *, const char *);

/* A local name: an alias to expand, or a user's mailbox. */
static void
expand_local(struct xctx *c, const char *name)
{
	size_t	 first;
	char	*addr;

	if (table_range(c->table, name, &first) > 0 && !on_path(c, name)) {
		if (c->depth >= ALIASES_MAX_DEPTH) {
			c->overflow = 1;
			return;
		}
		expand_name(c, name);
		return;
	}
	if (on_path(c, name))
		c->x->loop = 1;
	if (c->a->user == NULL && !routing_user_receives(c->rt, name)) {
		log_info("alias %s: member %s is %s", c->path[0], name,
		    on_path(c, name) ? "a loop and no user" : "no user that "
		    "can receive mail");
		c->x->unknown++;
		return;
	}
	xasprintf(&addr, "%s@%s", name, c->domain);
	target_add(c, ALIAS_LOCAL, c->a->name, addr);
	free(addr);
}

static void
expand_member(struct xctx *c, const char *m)
{
	struct sockaddr_un	 local;
	enum rcpt_verdict	 v;
	const char		*at, *action = NULL;
	char			 name[ALIASES_NAME_MAX + 1];
	size_t			 i, n;
	int			 remote = 0;

	if (strcmp(m, ALIASES_INCLUDE_ERROR) == 0 ||
	    strncmp(m, INCLUDE_PREFIX, INCLUDE_PREFIX_LEN) == 0) {
		c->unavailable = 1;
		return;
	}
	if (aliases_is_file(m) || aliases_is_command(m)) {
		if (aliases_is_file(m) ? !c->a->alias_files :
		    !c->a->alias_commands) {
			log_info("alias %s: member %s refused: action %s does "
			    "not allow %s", c->path[0], m, c->a->name,
			    aliases_is_file(m) ? "files" : "commands");
			c->x->refused++;
			return;
		}
		target_add(c, aliases_is_file(m) ? ALIAS_FILE : ALIAS_COMMAND,
		    c->a->name, m);
		return;
	}
	if ((at = strrchr(m, '@')) != NULL && at > m &&
	    strcasecmp(at + 1, c->domain) != 0) {
		/* routed as a local submission of that address would be */
		memset(&local, 0, sizeof(local));
		local.sun_family = AF_UNIX;
		v = routing_decide(c->rt, (struct sockaddr *)&local, m,
		    (size_t)(at - m), "", &remote, &action);
		if (v == RCPT_ACCEPT && remote) {
			/* SRS rewrites the sender of these (smtpd/rcpt.c) */
			target_add(c, ALIAS_REMOTE, action, m);
			return;
		}
		if ((v == RCPT_ACCEPT || v == RCPT_UNKNOWN_USER) &&
		    action != NULL && strcmp(action, c->a->name) == 0)
			goto local;	/* another domain of this action */
		if (v == RCPT_ACCEPT) {
			target_add(c, ALIAS_LOCAL, action, m);
			return;
		}
		log_info("alias %s: member %s refused by the match rules",
		    c->path[0], m);
		c->x->unknown++;
		return;
	}
 local:
	n = at != NULL ? (size_t)(at - m) : strlen(m);
	if (n == 0 || n > ALIASES_NAME_MAX) {
		c->x->unknown++;
		return;
	}
	for (i = 0; i < n; i++)
		name[i] = tolower((unsigned char)m[i]);
	name[n] = '\0';
	expand_local(c, name);
}

static void
expand_name(struct xctx *c, const char *name)
{
	size_t	 first, n, i;

	if (++c->x->lookups > ALIASES_MAX_LOOKUPS) {
		c->overflow = 1;
		return;
	}
	n = table_range(c->table, name, &first);
	c->path[c->depth++] = name;
	for (i = 0; i < n && !c->overflow; i++)
		expand_member(c, c->table->index[first + i]->value);
	c->depth--;
}

static int
cmp_target(const void *a, const void *b)
{
	const struct alias_target	*x = a, *y = b;
	int				 r;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((r = strcmp(x->action, y->action)) != 0)
		return r;
	return strcmp(x->rcpt, y->rcpt);
}

enum alias_verdict
aliases_expand(struct routing *rt, const struct action *a, const char *rcpt,
    struct alias_expansion *x)
{
	struct xctx	 c;
	const char	*at;
	char		 name[ALIASES_NAME_MAX + 1];
	size_t		 i, k, n, first;

	memset(x, 0, sizeof(*x));
	if (a->alias_table[0] == '\0')
		return ALIAS_NOT_ALIAS;
	memset(&c, 0, sizeof(c));
	c.rt = rt;
	c.a = a;
	c.x = x;
	if ((c.table = config_find_table(rt->conf, a->alias_table)) == NULL)
		return ALIAS_NOT_ALIAS;
	at = strrchr(rcpt, '@');
	n = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);
	if (n == 0 || n > ALIASES_NAME_MAX)
		return ALIAS_NOT_ALIAS;
	for (i = 0; i < n; i++)
		name[i] = tolower((unsigned char)rcpt[i]);
	name[n] = '\0';
	if (table_range(c.table, name, &first) == 0)
		return ALIAS_NOT_ALIAS;
	strlcpy(c.domain, at != NULL ? at + 1 : rt->conf->hostname,
	    sizeof(c.domain));
	expand_name(&c, name);
	if (x->n > 1) {
		qsort(x->t, x->n, sizeof(*x->t), cmp_target);
		for (i = 1, k = 1; i < x->n; i++) {
			if (cmp_target(&x->t[k - 1], &x->t[i]) == 0)
				free(x->t[i].rcpt);
			else
				x->t[k++] = x->t[i];
		}
		x->n = k;
	}
	if (c.overflow)
		return ALIAS_OVERFLOW;
	if (c.unavailable)
		return ALIAS_UNAVAILABLE;
	return x->n > 0 ? ALIAS_EXPANDED : ALIAS_NO_TARGET;
}

int
aliases_expansion_has(const struct alias_expansion *x, enum alias_kind kind,
    const char *action, const char *rcpt)
{
	struct alias_target	 key;

	key.kind = kind;
	key.action = action;
	key.rcpt = (char *)rcpt;
	return x->n > 0 && bsearch(&key, x->t, x->n, sizeof(*x->t),
	    cmp_target) != NULL;
}

void
aliases_expansion_free(struct alias_expansion *x)
{
	size_t	 i;

	for (i = 0; i < x->n; i++)
		free(x->t[i].rcpt);
	free(x->t);
	memset(x, 0, sizeof(*x));
}

/*
 * lib/aliases.c: the aliases(5) parser, the loader (with :include: and
 * its bounds) and the expansion (nesting, loops, files and commands,
 * limits, external members through the match rules).
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "aliases.h"
#include "config.h"
#include "log.h"
#include "msg.h"
#include "routing.h"
#include "util.h"

struct got {
	char	 text[8192];
	size_t	 n;
};

static int
collect(void *arg, const char *name, const char *member)
{
	struct got	*g = arg;

	g->n++;
	strlcat(g->text, name, sizeof(g->text));
	strlcat(g->text, "=", sizeof(g->text));
	strlcat(g->text, member, sizeof(g->text));
	strlcat(g->text, ";", sizeof(g->text));
	return 0;
}

static int
parse(const char *text, struct got *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	return aliases_parse(text, strlen(text), collect, g, err, errlen);
}

static void
test_parse_debian_format(void **state)
{
	struct got	 g;
	char		 err[256];

	assert_int_equal(parse("# comment\n\nPostmaster: root\n"
	    "staff: a, b@example.org,\n"
	    "\t\"/var/log/x y\",\n"
	    "  # a comment inside\n"
	    "   \"|/usr/bin/prog -x, -y\" , :include: /etc/list\n"
	    "\"Odd.Name\": \"john smith\"@example.org\r\n", &g, err,
	    sizeof(err)), 0);
	assert_string_equal(g.text, "postmaster=root;staff=a;"
	    "staff=b@example.org;staff=/var/log/x y;"
	    "staff=|/usr/bin/prog -x, -y;staff=:include:/etc/list;"
	    "odd.name=\"john smith\"@example.org;");
	assert_int_equal(g.n, 7);
}

static void
test_parse_errors(void **state)
{
	struct got	 g;
	char		 err[256];
	char		*big;

	assert_int_equal(parse("  continued: x\n", &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "continuation line without a name"));
	assert_int_equal(parse("a b\n", &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: no ':'"));
	assert_int_equal(parse("\"a b\": c\n", &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "blank or control character"));
	assert_int_equal(parse("a b\n", &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: no ':'"));
	assert_int_equal(parse("ok: x\nb: \"open\n", &g, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "line 2: unbalanced quotes"));
	assert_int_equal(parse("a: :weird:x\n", &g, err, sizeof(err)), -1);
	assert_int_equal(parse("a: :include:relative\n", &g, err,
	    sizeof(err)), -1);
	assert_int_equal(parse("a: x\001y\n", &g, err, sizeof(err)), -1);
	assert_int_equal(aliases_parse("a: b\0c\n", 7, collect, &g, err,
	    sizeof(err)), -1);
	big = malloc(400);
	memset(big, 'x', 399);
	memcpy(big, "a: ", 3);
	big[399] = '\0';
	assert_int_equal(parse(big, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "member too long"));
	free(big);
}

static char	 dir[64];

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char	 path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
	return path;
}

static struct table *
new_table(const char *path)
{
	struct table	*t;

	t = xcalloc(1, sizeof(*t));
	strlcpy(t->name, "aliases", sizeof(t->name));
	t->type = TABLE_FILE;
	t->aliases = 1;
	t->path = xstrdup(path);
	TAILQ_INIT(&t->entries);
	return t;
}

static void
test_load_includes(void **state)
{
	struct table	*t;
	char		 err[512], text[1024];
	char		 inc[256];

	strlcpy(dir, "/tmp/test_aliases.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	strlcpy(inc, write_file("list", "x, y\n# c\nz\n", 0644), sizeof(inc));
	write_file("writable", "w\n", 0666);
	snprintf(text, sizeof(text), "l: :include:%s\nz: :include:/dev/zero\n"
	    "w: :include:%s/writable\nn: :include:%s/none\n", inc, dir, dir);
	t = new_table(write_file("aliases", text, 0644));
	assert_int_equal(aliases_load(t, err, sizeof(err)), 0);
	assert_int_equal(t->nentries, 6);
	assert_true(aliases_has_member(t, "y"));
	assert_true(aliases_has_member(t, ALIASES_INCLUDE_ERROR));
	assert_false(aliases_has_member(t, "w"));
	config_table_free(t);

	t = new_table(write_file("bad", "a: b\n c\nd e\n", 0644));
	assert_int_equal(aliases_load(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3"));
	config_table_free(t);
	t = new_table("/dev/zero");
	assert_int_equal(aliases_load(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	config_table_free(t);
	assert_int_equal(system("rm -rf /tmp/test_aliases.*"), 0);
}

/* A routing as smtp has it: one alias action, users, rules. */
static struct routing	 rt;

static void
add_entry(struct table *t, const char *k, const char *v)
{
	struct table_entry	*te;

	te = xcalloc(1, sizeof(*te));
	te->key = xstrdup(k);
	te->value = xstrdup(v);
	TAILQ_INSERT_TAIL(&t->entries, te, entry);
	t->nentries++;
}

/* Made once and shared: the tests only add to it (LeakSanitizer). */
static struct action *
setup_routing(void)
{
	static struct action	*made;
	struct table	*t;
	struct action	*a, *relay;
	struct rule	*r;
	const char	*users[] = { "alice", "bob", "root" };
	size_t		 i;

	if (made != NULL)
		return made;
	routing_init(&rt, "host.test");
	t = new_table("/none");
	add_entry(t, "team", "alice");
	add_entry(t, "team", "bob");
	add_entry(t, "team", "alice@a.test");
	add_entry(t, "all", "team");
	add_entry(t, "all", "root");
	add_entry(t, "all", "friend@far.test");
	add_entry(t, "loop1", "loop2");
	add_entry(t, "loop2", "loop1");
	add_entry(t, "self", "alice");
	add_entry(t, "self", "self");
	add_entry(t, "bob", "bob");
	add_entry(t, "bob", "/tmp/bob.mbox");
	add_entry(t, "prog", "|/bin/prog");
	add_entry(t, "ghost", "nobody-here");
	add_entry(t, "inc", ALIASES_INCLUDE_ERROR);
	TAILQ_INSERT_TAIL(&rt.conf->tables, t, entry);
	a = xcalloc(1, sizeof(*a));
	strlcpy(a->name, "loc", sizeof(a->name));
	a->type = ACTION_MAILDIR;
	strlcpy(a->alias_table, "aliases", sizeof(a->alias_table));
	a->alias_files = 1;
	TAILQ_INSERT_TAIL(&rt.conf->actions, a, entry);
	relay = xcalloc(1, sizeof(*relay));
	strlcpy(relay->name, "out", sizeof(relay->name));
	relay->type = ACTION_RELAY;
	TAILQ_INSERT_TAIL(&rt.conf->actions, relay, entry);
	r = xcalloc(1, sizeof(*r));
	r->from = MATCH_FROM_ANY;
	r->rcpt_for = MATCH_FOR_DOMAIN;
	strlcpy(r->for_domain, "a.test", sizeof(r->for_domain));
	strlcpy(r->action, "loc", sizeof(r->action));
	TAILQ_INSERT_TAIL(&rt.conf->rules, r, entry);
	r = xcalloc(1, sizeof(*r));
	r->from = MATCH_FROM_LOCAL;
	r->rcpt_for = MATCH_FOR_ANY;
	strlcpy(r->action, "out", sizeof(r->action));
	TAILQ_INSERT_TAIL(&rt.conf->rules, r, entry);
	for (i = 0; i < 3; i++) {
		rt.users = xreallocarray(rt.users, rt.nusers + 1,
		    sizeof(*rt.users));
		rt.users[rt.nusers].name = xstrdup(users[i]);
		rt.users[rt.nusers].can_receive = 1;
		rt.users[rt.nusers].uid = 1000 + i;
		rt.users[rt.nusers].seq = i;
		rt.nusers++;
	}
	routing_ready(&rt);
	return made = a;
}

static void
test_expand(void **state)
{
	struct alias_expansion	 x;
	struct action		*a = setup_routing();

	assert_int_equal(aliases_expand(&rt, a, "alice@a.test", &x),
	    ALIAS_NOT_ALIAS);
	aliases_expansion_free(&x);

	/* nested, duplicates once, an external member by the rules */
	assert_int_equal(aliases_expand(&rt, a, "ALL@a.test", &x),
	    ALIAS_EXPANDED);
	assert_int_equal(x.n, 5);
	assert_true(aliases_expansion_has(&x, ALIAS_LOCAL, "loc",
	    "alice@a.test"));
	assert_true(aliases_expansion_has(&x, ALIAS_LOCAL, "loc",
	    "root@a.test"));
	/* bob is an alias of himself and a file */
	assert_true(aliases_expansion_has(&x, ALIAS_LOCAL, "loc",
	    "bob@a.test"));
	assert_true(aliases_expansion_has(&x, ALIAS_FILE, "loc",
	    "/tmp/bob.mbox"));
	assert_true(aliases_expansion_has(&x, ALIAS_REMOTE, "out",
	    "friend@far.test"));
	assert_false(aliases_expansion_has(&x, ALIAS_LOCAL, "out",
	    "friend@far.test"));
	aliases_expansion_free(&x);

	/* a loop without a user */
	assert_int_equal(aliases_expand(&rt, a, "loop1@a.test", &x),
	    ALIAS_NO_TARGET);
	assert_true(x.loop);
	aliases_expansion_free(&x);
	/* self: alice, and self again (no user): alice alone */
	assert_int_equal(aliases_expand(&rt, a, "self@a.test", &x),
	    ALIAS_EXPANDED);
	assert_int_equal(x.n, 1);
	aliases_expansion_free(&x);
	/* commands not allowed by this action */
	assert_int_equal(aliases_expand(&rt, a, "prog@a.test", &x),
	    ALIAS_NO_TARGET);
	assert_int_equal(x.refused, 1);
	aliases_expansion_free(&x);
	a->alias_commands = 1;
	assert_int_equal(aliases_expand(&rt, a, "prog@a.test", &x),
	    ALIAS_EXPANDED);
	assert_true(aliases_expansion_has(&x, ALIAS_COMMAND, "loc",
	    "|/bin/prog"));
	aliases_expansion_free(&x);
	assert_int_equal(aliases_expand(&rt, a, "ghost@a.test", &x),
	    ALIAS_NO_TARGET);
	assert_int_equal(x.unknown, 1);
	aliases_expansion_free(&x);
	assert_int_equal(aliases_expand(&rt, a, "inc@a.test", &x),
	    ALIAS_UNAVAILABLE);
	aliases_expansion_free(&x);
}

static void
test_expand_bounds(void **state)
{
	struct alias_expansion	 x;
	struct action		*a = setup_routing();
	struct table		*t = config_find_table(rt.conf, "aliases");
	char			 k[32], v[32];
	size_t			 i;

	/* a chain deeper than ALIASES_MAX_DEPTH */
	for (i = 0; i < ALIASES_MAX_DEPTH + 2; i++) {
		snprintf(k, sizeof(k), "c%zu", i);
		snprintf(v, sizeof(v), "c%zu", i + 1);
		add_entry(t, k, v);
	}
	snprintf(k, sizeof(k), "c%d", ALIASES_MAX_DEPTH + 2);
	add_entry(t, k, "alice");
	/* 10,000 distinct external members */
	for (i = 0; i < 10000; i++) {
		snprintf(v, sizeof(v), "m%zu@far.test", i);
		add_entry(t, "big", v);
	}
	/* fan-out: 40 names of 40 names each (1600 > the lookups) */
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "f%zu", i);
		add_entry(t, "fan", v);
		snprintf(k, sizeof(k), "f%zu", i);
		add_entry(t, k, "fan2");
	}
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "h%zu", i);
		add_entry(t, "fan2", v);
		add_entry(t, v, "alice");
	}
	free(t->index);
	t->index = NULL;
	assert_int_equal(aliases_expand(&rt, a, "c0@a.test", &x),
	    ALIAS_OVERFLOW);
	aliases_expansion_free(&x);
	assert_int_equal(aliases_expand(&rt, a, "c3@a.test", &x),
	    ALIAS_EXPANDED);
	aliases_expansion_free(&x);
	assert_int_equal(aliases_expand(&rt, a, "big@a.test", &x),
	    ALIAS_EXPANDED);
	assert_int_equal(x.n, 10000);
	assert_true(aliases_expansion_has(&x, ALIAS_REMOTE, "out",
	    "m9999@far.test"));
	aliases_expansion_free(&x);
	assert_int_equal(aliases_expand(&rt, a, "fan@a.test", &x),
	    ALIAS_OVERFLOW);
	assert_true(x.lookups > ALIASES_MAX_LOOKUPS);
	aliases_expansion_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_debian_format),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load_includes),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_bounds),
	};

	log_init(1, 0, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

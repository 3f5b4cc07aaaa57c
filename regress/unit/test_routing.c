/*
 * lib/routing.c: the recipient decision that smtp, queue and authd all
 * make.  Each test parses a configuration, sends its routing part over a
 * real socketpair exactly as the parent does (routing_send()), takes it on
 * the other side as a child does (routing_conf_imsg()), then asks
 * routing_decide() — so the wire between them is tested too.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "imsg.h"
#include "routing.h"

/* A user that exists on every Debian machine, and one that does not. */
#define USER_HERE	"root"
#define USER_NOT_HERE	"postern-no-such-user"

/*
 * The child's view of text's routing.  The sending side runs in a forked
 * process: routing_send() flushes with blocking writes, and one process
 * cannot be both ends of a full socket buffer.
 */
static void
routed(struct routing *rt, const char *text)
{
	struct postern_conf	*conf;
	struct imsgbuf		 ib;
	struct imsg		 imsg;
	int			 sp[2], status, n;
	pid_t			 pid;
	ssize_t			 got;

	conf = parse_config_buffer("test.conf", text, strlen(text),
	    PARSE_NOFILES);
	assert_non_null(conf);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	if ((pid = fork()) == 0) {
		close(sp[0]);
		imsgbuf_init(&ib, sp[1]);
		routing_send(conf, &ib);
		_exit(imsgbuf_flush(&ib) == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	close(sp[1]);
	routing_init(rt, conf->hostname);
	imsgbuf_init(&ib, sp[0]);
	for (;;) {
		got = imsgbuf_read(&ib);
		assert_true(got >= 0);
		while ((n = imsg_get(&ib, &imsg)) == 1) {
			assert_int_equal(routing_conf_imsg(rt, &imsg), 1);
			imsg_free(&imsg);
		}
		assert_int_equal(n, 0);
		if (got == 0)
			break;
	}
	imsgbuf_clear(&ib);
	close(sp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	routing_ready(rt);
	free_config(conf);
}

static void
unrouted(struct routing *rt)
{
	size_t	 i;

	for (i = 0; i < rt->nusers; i++)
		free(rt->users[i].name);
	free(rt->users);
	free_config(rt->conf);
}

static struct sockaddr_storage
ip(const char *s)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s,
	    &((struct sockaddr_in *)&ss)->sin_addr), 1);
	return ss;
}

struct decision {
	enum rcpt_verdict	 verdict;
	int			 remote;
	const char		*action;
};

static struct decision
decide_as(struct routing *rt, const char *client, const char *auth_user,
    const char *rcpt, const char *tag)
{
	struct sockaddr_storage	 ss = ip(client);
	struct decision		 d = { 0, -1, NULL };
	const char		*at = strrchr(rcpt, '@');

	d.verdict = routing_decide_auth(rt, (struct sockaddr *)&ss, auth_user,
	    rcpt, at != NULL ? (size_t)(at - rcpt) : strlen(rcpt), tag,
	    &d.remote, &d.action);
	return d;
}

static struct decision
decide(struct routing *rt, const char *client, const char *rcpt)
{
	return decide_as(rt, client, NULL, rcpt, NULL);
}

static const char conf_site[] =
    "hostname mx.example.org\n"
    "table virt { \"alias@example.net\" = \"" USER_HERE "\", "
    "\"ghost@example.net\" = \"" USER_NOT_HERE "\" }\n"
    "table blocked { \"spam@example.org\" }\n"
    "action \"local\" maildir\n"
    "action \"vmail\" maildir \"/var/vmail/%{rcpt}\" virtual <virt>\n"
    "action \"fixed\" maildir \"/var/mail/shared\" user " USER_HERE "\n"
    "action \"out\" relay\n"
    "match from any for rcpt-to <blocked> reject\n"
    "match from any for domain example.org action \"local\"\n"
    "match from any for domain example.net action \"vmail\"\n"
    "match from any for domain shared.example action \"fixed\"\n"
    "match from src 192.0.2.0/24 for any action \"out\"\n"
    "match auth from any for any action \"out\"\n";

static void
test_local_user(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	d = decide(&rt, "203.0.113.9", USER_HERE "@example.org");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_int_equal(d.remote, 0);
	assert_string_equal(d.action, "local");
	/* RFC 5321 2.4: a local part's case is ours to fold, and we do. */
	d = decide(&rt, "203.0.113.9", "ROOT@example.org");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	d = decide(&rt, "203.0.113.9", USER_NOT_HERE "@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	/* An empty local part, and one longer than any user name. */
	d = decide(&rt, "203.0.113.9", "@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	d = decide(&rt, "203.0.113.9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	unrouted(&rt);
}

static void
test_reject_rule_comes_first(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	d = decide(&rt, "203.0.113.9", "spam@example.org");
	assert_int_equal(d.verdict, RCPT_REJECTED);
	unrouted(&rt);
}

static void
test_no_rule_is_relay_denied(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	/* Neither our domains, nor a relay network, nor authenticated. */
	d = decide(&rt, "203.0.113.9", "someone@elsewhere.example");
	assert_int_equal(d.verdict, RCPT_RELAY_DENIED);
	assert_null(d.action);
	unrouted(&rt);
}

static void
test_relay_by_network_and_by_auth(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	/* A remote recipient is nobody's user here: no user check. */
	d = decide(&rt, "192.0.2.7", "someone@elsewhere.example");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_int_equal(d.remote, 1);
	assert_string_equal(d.action, "out");
	d = decide_as(&rt, "203.0.113.9", "alice", "someone@elsewhere.example",
	    NULL);
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_int_equal(d.remote, 1);
	/* The same client without AUTH is refused. */
	d = decide_as(&rt, "203.0.113.9", NULL, "someone@elsewhere.example",
	    NULL);
	assert_int_equal(d.verdict, RCPT_RELAY_DENIED);
	unrouted(&rt);
}

static void
test_virtual_table(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	d = decide(&rt, "203.0.113.9", "alias@example.net");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_string_equal(d.action, "vmail");
	assert_int_equal(d.remote, 0);
	/* Mapped to a user who does not exist here. */
	d = decide(&rt, "203.0.113.9", "ghost@example.net");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	/* Not in the table at all, even if a user of that name exists. */
	d = decide(&rt, "203.0.113.9", USER_HERE "@example.net");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	unrouted(&rt);
}

static void
test_fixed_user_takes_any_local_part(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt, conf_site);
	d = decide(&rt, "203.0.113.9", USER_NOT_HERE "@shared.example");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_string_equal(d.action, "fixed");
	unrouted(&rt);
}

/*
 * A reportd action takes any address its rule names (there is no user),
 * stays local (the queue hands it to reportd), and is never a delivery
 * the parent makes.
 */
static void
test_reportd_action(void **state)
{
	struct routing	 rt;
	struct decision	 d;
	char		 user[64], why[256];

	routed(&rt,
	    "table reportaddrs { \"" USER_NOT_HERE "@example.org\" }\n"
	    "action \"reports\" reportd\n"
	    "match from any for rcpt-to <reportaddrs> action \"reports\"\n");
	d = decide(&rt, "203.0.113.9", USER_NOT_HERE "@example.org");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	assert_int_equal(d.remote, 0);
	assert_string_equal(d.action, "reports");
	d = decide(&rt, "203.0.113.9", "other@example.org");
	assert_int_equal(d.verdict, RCPT_RELAY_DENIED);
	assert_int_equal(routing_local_user(rt.conf, "reports",
	    USER_NOT_HERE "@example.org", user, sizeof(user), why,
	    sizeof(why)), -1);
	assert_string_equal(why, "a local delivery by reportd action reports");
	unrouted(&rt);
}

static void
test_tag(void **state)
{
	struct routing	 rt;
	struct decision	 d;

	routed(&rt,
	    "action \"out\" relay\n"
	    "match from any for any tag submission action \"out\"\n");
	d = decide_as(&rt, "203.0.113.9", NULL, "x@elsewhere.example",
	    "submission");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	d = decide_as(&rt, "203.0.113.9", NULL, "x@elsewhere.example", "mx");
	assert_int_equal(d.verdict, RCPT_RELAY_DENIED);
	d = decide_as(&rt, "203.0.113.9", NULL, "x@elsewhere.example", NULL);
	assert_int_equal(d.verdict, RCPT_RELAY_DENIED);
	unrouted(&rt);
}

static void
test_secrets_stay_with_the_parent(void **state)
{
	struct routing	 rt;

	/* A relay's credentials go to the mta alone, never to smtp/queue. */
	routed(&rt,
	    "table secrets { smarthost.example.org = \"u:p\" }\n"
	    "table domains { example.org }\n"
	    "action smart relay host \"smtps://smarthost.example.org\" "
	    "auth <secrets>\n"
	    "match from any for domain <domains> action smart\n");
	assert_null(config_find_table(rt.conf, "secrets"));
	assert_non_null(config_find_table(rt.conf, "domains"));
	assert_non_null(config_find_action(rt.conf, "smart"));
	unrouted(&rt);
}

/*
 * Debian's system accounts: daemon (uid 1, home /usr/sbin, nologin) and
 * nobody (uid 65534, home /nonexistent, nologin).  Mail for them by
 * their own name is refused at RCPT; root's is taken.
 */
static const char conf_system[] =
    "hostname mx.example.org\n"
    "table virt { \"n@example.net\" = \"nobody\" }\n"
    "action \"local\" maildir\n"
    "action \"vmail\" maildir \"/var/vmail/%{rcpt}\" virtual <virt>\n"
    "action \"fixed\" maildir \"/var/mail/shared\" user nobody\n"
    "match from any for domain example.org action \"local\"\n"
    "match from any for domain example.net action \"vmail\"\n"
    "match from any for domain shared.example action \"fixed\"\n";

static void
test_system_accounts_refused(void **state)
{
	struct routing	 rt;
	struct decision	 d;
	char		*text;

	assert_non_null(getpwnam("daemon"));
	assert_non_null(getpwnam("nobody"));
	routed(&rt, conf_system);
	d = decide(&rt, "203.0.113.9", "daemon@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	d = decide(&rt, "203.0.113.9", "Nobody@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	d = decide(&rt, "203.0.113.9", "root@example.org");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	/* The admin named the user: a virtual table, a fixed user. */
	d = decide(&rt, "203.0.113.9", "n@example.net");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	d = decide(&rt, "203.0.113.9", "daemon@shared.example");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	unrouted(&rt);

	/* An exception, and no uid threshold: the shell still counts. */
	assert_true(asprintf(&text, "table mailable { daemon }\n"
	    "local-users allow <mailable>\nlocal-users min-uid 0\n%s",
	    conf_system) > 0);
	routed(&rt, text);
	d = decide(&rt, "203.0.113.9", "daemon@example.org");
	assert_int_equal(d.verdict, RCPT_ACCEPT);
	d = decide(&rt, "203.0.113.9", "nobody@example.org");
	assert_int_equal(d.verdict, RCPT_UNKNOWN_USER);
	unrouted(&rt);
	free(text);
}

/* The parent's verdict on accounts made up for the test. */
static void
test_user_can_receive(void **state)
{
	static const char *const shells[] = { "/bin/sh", "/bin/bash",
	    "/usr/sbin/nologin", NULL };
	static const char	 text[] = "table ok { sys }\n"
	    "local-users allow <ok>\n";
	struct postern_conf	*conf;
	struct passwd		 pw;

	conf = parse_config_buffer("test.conf", text, strlen(text),
	    PARSE_NOFILES);
	assert_non_null(conf);
	memset(&pw, 0, sizeof(pw));
	pw.pw_name = "alice";
	pw.pw_uid = 1000;
	pw.pw_dir = "/tmp";
	pw.pw_shell = "/bin/bash";
	assert_true(routing_user_can_receive(conf, &pw, shells));
	/* passwd(5): an empty shell is /bin/sh */
	pw.pw_shell = "";
	assert_true(routing_user_can_receive(conf, &pw, shells));
	/* not a login shell, even where listed */
	pw.pw_shell = "/usr/sbin/nologin";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_shell = "/bin/false";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_shell = "/usr/bin/zsh";		/* not in /etc/shells */
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_shell = "/bin/sh";
	/* no usable home */
	pw.pw_dir = "/";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_dir = "/nonexistent";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_dir = "/postern-no-such-home";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_dir = "/etc/passwd";		/* not a directory */
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_dir = "";
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_dir = "/tmp";
	/* a system uid, unless the threshold is lowered */
	pw.pw_uid = 999;
	assert_false(routing_user_can_receive(conf, &pw, shells));
	conf->local_users.min_uid = 500;
	assert_true(routing_user_can_receive(conf, &pw, shells));
	conf->local_users.min_uid = 1000;
	/* root always; an allowed name whatever it looks like */
	pw.pw_uid = 0;
	pw.pw_dir = "/";
	pw.pw_shell = "/usr/sbin/nologin";
	assert_true(routing_user_can_receive(conf, &pw, shells));
	pw.pw_uid = 2;
	assert_false(routing_user_can_receive(conf, &pw, shells));
	pw.pw_name = "sys";
	assert_true(routing_user_can_receive(conf, &pw, shells));
	free_config(conf);
}

/* The user a local delivery writes as, as parent and queue both check. */
static void
test_local_user_of_action(void **state)
{
	struct postern_conf	*c;
	char			 user[64], why[256];

	c = parse_config_buffer("test.conf", conf_site, strlen(conf_site),
	    PARSE_NOFILES);
	assert_non_null(c);
	assert_int_equal(routing_local_user(c, "local", "Root@example.org",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, "root");
	assert_int_equal(routing_local_user(c, "vmail", "alias@example.net",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, USER_HERE);
	assert_int_equal(routing_local_user(c, "fixed", "x@shared.example",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, USER_HERE);
	assert_int_equal(routing_local_user(c, "vmail", "nobody@example.net",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_string_equal(why, "<nobody@example.net> is not in table virt "
	    "of action vmail");
	assert_int_equal(routing_local_user(c, "out", "a@example.org",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_string_equal(why, "a local delivery by relay action out");
	assert_int_equal(routing_local_user(c, "gone", "a@example.org",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_string_equal(why, "no action named gone");
	assert_int_equal(routing_local_user(c, "local", "../x@example.org",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_int_equal(routing_local_user(c, "local", "@example.org",
	    user, sizeof(user), why, sizeof(why)), -1);
	free_config(c);
}

/*
 * A ~/.forward's file or command ("~USER:member", lib/dotforward.h) is
 * delivered as USER, and only by an action that allows it.
 */
static void
test_local_user_of_forward_target(void **state)
{
	static const char	 text[] =
	    "action \"all\" maildir forward-file yes files commands\n"
	    "action \"files\" maildir forward-file yes files\n"
	    "action \"addr\" maildir forward-file yes\n"
	    "action \"none\" maildir\n";
	struct postern_conf	*c;
	char			 user[64], why[256];

	c = parse_config_buffer("fwd.conf", text, strlen(text),
	    PARSE_NOFILES);
	assert_non_null(c);
	assert_int_equal(routing_local_user(c, "all", "~bob:|prog -x",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, "bob");
	assert_int_equal(routing_local_user(c, "all", "~carol:/tmp/box",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, "carol");
	assert_int_equal(routing_local_user(c, "files", "~bob:/tmp/box",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_int_equal(routing_local_user(c, "files", "~bob:|prog",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_string_equal(why, "action files delivers to no .forward "
	    "commands");
	assert_int_equal(routing_local_user(c, "addr", "~bob:/tmp/box",
	    user, sizeof(user), why, sizeof(why)), -1);
	assert_string_equal(why, "action addr delivers to no .forward files");
	/* without forward-file it is no user at all */
	assert_int_equal(routing_local_user(c, "none", "~bob:|prog",
	    user, sizeof(user), why, sizeof(why)), 0);
	assert_string_equal(user, "~bob:|prog");
	free_config(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_user),
		cmocka_unit_test(test_local_user_of_forward_target),
		cmocka_unit_test(test_reject_rule_comes_first),
		cmocka_unit_test(test_no_rule_is_relay_denied),
		cmocka_unit_test(test_relay_by_network_and_by_auth),
		cmocka_unit_test(test_virtual_table),
		cmocka_unit_test(test_fixed_user_takes_any_local_part),
		cmocka_unit_test(test_reportd_action),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_secrets_stay_with_the_parent),
		cmocka_unit_test(test_local_user_of_action),
		cmocka_unit_test(test_system_accounts_refused),
		cmocka_unit_test(test_user_can_receive),
	};

	if (getpwnam(USER_HERE) == NULL || getpwnam(USER_NOT_HERE) != NULL) {
		fprintf(stderr, "test_routing: needs user " USER_HERE
		    " and no user " USER_NOT_HERE "\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * queue/admit.c: the queue routes each envelope smtp proposes again and
 * refuses one whose kind or destination differs, or that its rules refuse,
 * naming the fields; it takes the folder only as a folder name, and clears
 * it on a remote envelope; an SRS reversal only as its own keys reverse it;
 * a list envelope only for a list's address, by the list's name, from a
 * poster (or to its bounce address from anyone).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "config.h"
#include "dotforward.h"
#include "envelope.h"
#include "msg.h"
#include "queue/admit.h"
#include "routing.h"
#include "srs.h"

static const char conf_text[] =
    "hostname mx.example.org\n"
    "table relayers { \"admin\" }\n"
    "action \"local\" maildir\n"
    "action \"out\" relay\n"
    "action \"submit\" relay\n"
    "match from any for domain example.org action \"local\"\n"
    "match tag \"msa\" auth from auth <relayers> for any action \"submit\"\n"
    "match from src 192.0.2.0/24 for any action \"out\"\n"
    "table m { \"a@example.net\" }\n"
    "list dev address \"dev@example.org\" members <m>\n";

/* The queue's routing, as the parent would send it; root a local user. */
static void
routing_of(struct routing *rt)
{
	static struct routing_user users[] = { { "root", 1, 0, 0 } };

	memset(rt, 0, sizeof(*rt));
	rt->conf = parse_config_buffer("test.conf", conf_text,
	    strlen(conf_text), PARSE_NOFILES);
	assert_non_null(rt->conf);
	rt->users = users;
	rt->nusers = 1;
}

static struct msg_queue_envelope
proposal(const char *client, const char *rcpt, int kind, const char *dest)
{
	struct msg_queue_envelope	 m;
	struct sockaddr_in		*sin;

	memset(&m, 0, sizeof(m));
	sin = (struct sockaddr_in *)&m.client;
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, client, &sin->sin_addr), 1);
	strlcpy(m.env.rcpt, rcpt, sizeof(m.env.rcpt));
	strlcpy(m.env.sender, "a@example.net", sizeof(m.env.sender));
	strlcpy(m.env.dest, dest, sizeof(m.env.dest));
	m.env.kind = kind;
	return m;
}

static void
test_same_routing_is_admitted(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];

	routing_of(&rt);
	m = proposal("203.0.113.9", "root@example.org", ENV_LOCAL, "local");
	m.env.notify = ENV_NOTIFY_SUCCESS;
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_string_equal(e.dest, "local");
	assert_int_equal(e.notify, ENV_NOTIFY_SUCCESS);
	m = proposal("192.0.2.7", "bob@elsewhere.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	free_config(rt.conf);
}

static void
test_other_destination_is_refused(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];

	routing_of(&rt);
	/* a local recipient sent to a relay */
	m = proposal("203.0.113.9", "root@example.org", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "kind remote (the queue's: local), "
	    "dest \"out\" (the queue's: \"local\")");
	/* the right kind, another relay action */
	m = proposal("192.0.2.7", "bob@elsewhere.test", ENV_REMOTE, "submit");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "dest \"submit\" (the queue's: \"out\")");
	/* kind alone */
	m = proposal("192.0.2.7", "bob@elsewhere.test", ENV_LOCAL, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "kind local (the queue's: remote)");
	free_config(rt.conf);
}

static void
test_refused_recipient_is_refused(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];

	routing_of(&rt);
	/* relaying for a client the rules do not know */
	m = proposal("203.0.113.9", "bob@elsewhere.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "relaying denied"));
	/* a local user who does not exist */
	m = proposal("203.0.113.9", "nobody-here@example.org", ENV_LOCAL,
	    "local");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "no such user"));
	free_config(rt.conf);
}

/* The decision's inputs travel: AUTH user and listener tag. */
static void
test_account_and_tag_decide(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];

	routing_of(&rt);
	m = proposal("203.0.113.9", "bob@elsewhere.test", ENV_REMOTE,
	    "submit");
	strlcpy(m.env.account, "admin", sizeof(m.env.account));
	strlcpy(m.tag, "msa", sizeof(m.tag));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_string_equal(e.account, "admin");
	/* another listener: the rule does not apply */
	strlcpy(m.tag, "mx", sizeof(m.tag));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* another user: neither */
	strlcpy(m.tag, "msa", sizeof(m.tag));
	strlcpy(m.env.account, "mallory", sizeof(m.env.account));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	free_config(rt.conf);
}

static void
test_folder_is_a_name(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];
	const char			*bad[] = { "../../alice/Maildir",
					    ".Junk", "a/b", "a..b" };
	size_t				 i;

	routing_of(&rt);
	m = proposal("203.0.113.9", "root@example.org", ENV_LOCAL, "local");
	strlcpy(m.env.folder, "Quarantine", sizeof(m.env.folder));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_string_equal(e.folder, "Quarantine");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strlcpy(m.env.folder, bad[i], sizeof(m.env.folder));
		assert_int_equal(queue_admit_envelope(&rt, &m, &e, why,
		    sizeof(why)), -1);
		assert_non_null(strstr(why, "folder"));
	}
	/* a remote envelope has none */
	m = proposal("192.0.2.7", "bob@elsewhere.test", ENV_REMOTE, "out");
	strlcpy(m.env.folder, "Quarantine", sizeof(m.env.folder));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_string_equal(e.folder, "");
	free_config(rt.conf);
}

/*
 * An SRS reversal smtp proposes (alias_of the SRS address, env.rcpt what
 * it reverses to): taken only when the queue's own keys reverse it to
 * that recipient, and the rules send a local submission of it there.
 */
static void
test_srs_reversal_checked(void **state)
{
	static const char	 text[] =
	    "action \"out\" relay\n"
	    "match from local for domain orig.test action \"out\"\n";
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256], addr[ENV_ADDR_MAX + 1];

	memset(&rt, 0, sizeof(rt));
	rt.conf = parse_config_buffer("srs.conf", text, strlen(text),
	    PARSE_NOFILES);
	assert_non_null(rt.conf);
	srs_init(&rt.srs, "fwd.test");
	assert_int_equal(srs_add_key(&rt.srs, "0123456789abcdef", 16), 0);
	assert_int_equal(srs_forward(&rt.srs, "alice@orig.test", time(NULL),
	    addr, sizeof(addr)), SRS_OK);
	m = proposal("203.0.113.9", "alice@orig.test", ENV_REMOTE, "out");
	m.env.sender[0] = '\0';
	strlcpy(m.alias_of, addr, sizeof(m.alias_of));
	m.srs = 1;
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	/* another recipient than the address reverses to */
	strlcpy(m.env.rcpt, "mallory@orig.test", sizeof(m.env.rcpt));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "not the reversal"));
	/* a forged hash */
	strlcpy(m.env.rcpt, "alice@orig.test", sizeof(m.env.rcpt));
	m.alias_of[5] = m.alias_of[5] == '0' ? '1' : '0';
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "bad hash"));
	/* where the rules do not send it */
	assert_int_equal(srs_forward(&rt.srs, "bob@else.test", time(NULL),
	    addr, sizeof(addr)), SRS_OK);
	strlcpy(m.alias_of, addr, sizeof(m.alias_of));
	strlcpy(m.env.rcpt, "bob@else.test", sizeof(m.env.rcpt));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	free_config(rt.conf);
}

static void
test_list_envelope(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	char				 why[256];

	routing_of(&rt);
	m = proposal("203.0.113.9", "DEV@example.org", ENV_LOCAL, "dev");
	m.env.flags = ENV_F_LIST;
	strlcpy(m.env.folder, "Junk", sizeof(m.env.folder));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_int_equal(e.flags, ENV_F_LIST);
	assert_string_equal(e.folder, "");
	/* not a poster */
	strlcpy(m.env.sender, "eve@example.net", sizeof(m.env.sender));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "<eve@example.net> may not post to list dev");
	/* ... but anyone may bounce */
	strlcpy(m.env.rcpt, "dev-bounces@example.org", sizeof(m.env.rcpt));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	/* another destination, or the flag on an address of no list */
	m = proposal("203.0.113.9", "dev@example.org", ENV_LOCAL, "local");
	m.env.flags = ENV_F_LIST;
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	m = proposal("203.0.113.9", "root@example.org", ENV_LOCAL, "local");
	m.env.flags = ENV_F_LIST;
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "<root@example.org> is no list address");
	free_config(rt.conf);
}

/*
 * A ~/.forward's targets as a compromised smtp could propose them: the
 * queue takes one only with the parent's proof of the member for the
 * user the action gives alias_of, made with the key smtp never has, and
 * only the target that member makes.
 */
static const char fwd_text[] =
    "hostname mx.example.org\n"
    "action \"loc\" maildir forward-file yes files commands\n"
    "action \"addr\" maildir forward-file yes\n"
    "action \"out\" relay\n"
    "match from any for domain a.test action \"loc\"\n"
    "match from any for domain b.test action \"addr\"\n"
    "match from local for domain far.test action \"out\"\n";

static void
fwd_routing(struct routing *rt)
{
	static struct routing_user users[] = { { "bob", 1, 1000, 0 },
	    { "carol", 1, 1001, 1 } };

	memset(rt, 0, sizeof(*rt));
	rt->conf = parse_config_buffer("fwd.conf", fwd_text,
	    strlen(fwd_text), PARSE_NOFILES);
	assert_non_null(rt->conf);
	rt->users = users;
	rt->nusers = 2;
	memset(rt->forward_key, 7, sizeof(rt->forward_key));
	rt->forward_keyed = 1;
}

/* What smtp proposes for member of user's .forward, proven with key. */
static struct msg_queue_envelope
fwd_proposal(const uint8_t *key, const char *alias_of, const char *user,
    const char *member, const char *rcpt, int kind, const char *dest)
{
	struct msg_queue_envelope	 m;

	m = proposal("203.0.113.9", rcpt, kind, dest);
	strlcpy(m.alias_of, alias_of, sizeof(m.alias_of));
	m.forwarded = 1;
	strlcpy(m.fwd_member, member, sizeof(m.fwd_member));
	m.fwd_when = time(NULL);
	forward_proof(key, user, member, m.fwd_when, m.fwd_proof);
	return m;
}

static void
test_forward_targets_need_proof(void **state)
{
	struct routing			 rt;
	struct msg_queue_envelope	 m;
	struct envelope			 e;
	uint8_t				 other[FORWARD_KEY_LEN];
	char				 why[512];

	fwd_routing(&rt);
	memset(other, 9, sizeof(other));
	/* the parent's members: an address, a file, a command */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "friend@far.test",
	    "friend@far.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "carol",
	    "carol@a.test", ENV_LOCAL, "loc");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "/tmp/bob.mbox",
	    "~bob:/tmp/bob.mbox", ENV_LOCAL, "loc");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	assert_string_equal(e.rcpt, "~bob:/tmp/bob.mbox");
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "|prog x",
	    "~bob:|prog x", ENV_LOCAL, "loc");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);

	/* smtp's own proof (any key but the parent's) */
	m = fwd_proposal(other, "bob@a.test", "bob", "mallory@far.test",
	    "mallory@far.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "no proof"));
	/* no proof at all */
	memset(m.fwd_proof, 0, sizeof(m.fwd_proof));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* carol's member claimed for bob's mail */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "carol",
	    "|rm -rf ~", "~carol:|rm -rf ~", ENV_LOCAL, "loc");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* a real member, another target */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "friend@far.test",
	    "mallory@far.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "is not what member"));
	/* bob's command, run as carol */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "|prog x",
	    "~carol:|prog x", ENV_LOCAL, "loc");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* the member changed after the proof */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "|prog x",
	    "~bob:|prog y", ENV_LOCAL, "loc");
	strlcpy(m.fwd_member, "|prog y", sizeof(m.fwd_member));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* a command to another action, or a folder that is a path */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "|prog x",
	    "~bob:|prog x", ENV_LOCAL, "addr");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "|prog x",
	    "~bob:|prog x", ENV_LOCAL, "loc");
	strlcpy(m.env.folder, "../x", sizeof(m.env.folder));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* a quarantined message's folder name goes with it (authd's) */
	strlcpy(m.env.folder, "Junk", sizeof(m.env.folder));
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    0);
	/* files and commands where the action allows only addresses */
	m = fwd_proposal(rt.forward_key, "bob@b.test", "bob", "|prog x",
	    "~bob:|prog x", ENV_LOCAL, "addr");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "no command"));
	m = fwd_proposal(rt.forward_key, "bob@b.test", "bob", "/tmp/x",
	    "~bob:/tmp/x", ENV_LOCAL, "addr");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	/* a proof too old fails the message for now, not the daemon */
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "friend@far.test",
	    "friend@far.test", ENV_REMOTE, "out");
	m.fwd_when -= FORWARD_PROOF_SECS + 1;
	forward_proof(rt.forward_key, "bob", m.fwd_member, m.fwd_when,
	    m.fwd_proof);
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    1);
	/* no key from the parent: nothing forwarded is taken */
	rt.forward_keyed = 0;
	m = fwd_proposal(rt.forward_key, "bob@a.test", "bob", "friend@far.test",
	    "friend@far.test", ENV_REMOTE, "out");
	assert_int_equal(queue_admit_envelope(&rt, &m, &e, why, sizeof(why)),
	    -1);
	free_config(rt.conf);
}

/* The member to envelope mapping smtp and the queue share. */
static void
test_forward_member_target(void **state)
{
	enum forward_kind	 kind;
	const char		*why, *member;
	char			 out[ENV_ADDR_MAX + 1], user[64];

	assert_int_equal(forward_member_target("alice", "bob", "a.test", out,
	    sizeof(out), &kind, &why), 0);
	assert_string_equal(out, "alice@a.test");
	assert_int_equal(kind, FORWARD_ADDRESS);
	assert_int_equal(forward_member_target("\\bob", "bob", "a.test", out,
	    sizeof(out), &kind, &why), 0);
	assert_string_equal(out, "bob@a.test");
	assert_int_equal(forward_member_target("|/usr/bin/x -y", "bob",
	    "a.test", out, sizeof(out), &kind, &why), 0);
	assert_string_equal(out, "~bob:|/usr/bin/x -y");
	assert_int_equal(kind, FORWARD_COMMAND);
	assert_int_equal(forward_member_target("/var/tmp/box", "bob",
	    "a.test", out, sizeof(out), &kind, &why), 0);
	assert_int_equal(kind, FORWARD_FILE);
	/* relative paths are refused */
	assert_int_equal(forward_member_target("Mail/inbox", "bob", "a.test",
	    out, sizeof(out), &kind, &why), -1);
	assert_string_equal(why, "a relative path");
	assert_int_equal(forward_member_target("x@y/z", "bob", "a.test",
	    out, sizeof(out), &kind, &why), 0);
	/* and back */
	assert_int_equal(forward_target_split("~bob:|/usr/bin/x -y", user,
	    sizeof(user), &member), 0);
	assert_string_equal(user, "bob");
	assert_string_equal(member, "|/usr/bin/x -y");
	assert_int_equal(forward_target_split("~bob:/x", user, sizeof(user),
	    &member), 0);
	assert_int_equal(forward_target_split("~bob:x", user, sizeof(user),
	    &member), -1);
	assert_int_equal(forward_target_split("~:/x", user, sizeof(user),
	    &member), -1);
	assert_int_equal(forward_target_split("~a/b:/x", user, sizeof(user),
	    &member), -1);
	assert_int_equal(forward_target_split("bob:/x", user, sizeof(user),
	    &member), -1);
	assert_int_equal(forward_target_split("~a@b:/x", user, sizeof(user),
	    &member), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_routing_is_admitted),
		cmocka_unit_test(test_other_destination_is_refused),
		cmocka_unit_test(test_refused_recipient_is_refused),
		cmocka_unit_test(test_account_and_tag_decide),
		cmocka_unit_test(test_folder_is_a_name),
		cmocka_unit_test(test_srs_reversal_checked),
		cmocka_unit_test(test_list_envelope),
		cmocka_unit_test(test_forward_targets_need_proof),
		cmocka_unit_test(test_forward_member_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

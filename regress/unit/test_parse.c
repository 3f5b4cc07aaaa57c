/*
 * The config parser: posternd/parse.y (grammar), posternd/parse_lex.c
 * (lexer: includes, macros, quoting, line continuation) and
 * posternd/parse_check.c (each statement's checks and objects), with
 * lib/conf.c: every postern.conf(5) statement with its values, the
 * defaults, and every error message with its FILE:LINE.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

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
#include "mta/sasl.h"

/* Temporary files, removed by teardown. */
static char	*tmpfiles[32];
static int	 ntmpfiles;

static char *
tmpfile_with(const char *content)
{
	char	 path[] = "/tmp/test_parse.XXXXXX";
	int	 fd;
	size_t	 len = strlen(content);

	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	assert_true(ntmpfiles < 32);
	tmpfiles[ntmpfiles] = strdup(path);
	return tmpfiles[ntmpfiles++];
}

static int
teardown(void **state)
{
	while (ntmpfiles > 0) {
		ntmpfiles--;
		unlink(tmpfiles[ntmpfiles]);
		free(tmpfiles[ntmpfiles]);
	}
	return 0;
}

/* Error text collected from the parser. */
static char	*errbuf;
static size_t	 errlen;

static struct postern_conf *
parse_text(const char *text, int flags, char **errors)
{
	struct postern_conf	*conf;
	FILE			*fp;

	fp = open_memstream(&errbuf, &errlen);
	assert_non_null(fp);
	parse_set_errstream(fp);
	conf = parse_config_buffer("test.conf", text, strlen(text), flags);
	fclose(fp);
	parse_set_errstream(stderr);
	*errors = errbuf;
	return conf;
}

static struct postern_conf *
parse_ok(const char *text, int flags)
{
	struct postern_conf	*conf;
	char			*errors;

	conf = parse_text(text, flags, &errors);
	if (conf == NULL || errors[0] != '\0')
		fprintf(stderr, "unexpected errors:\n%s", errors);
	assert_string_equal(errors, "");
	free(errors);
	assert_non_null(conf);
	return conf;
}

static void
expect_errors(const char *text, int flags, const char *want)
{
	struct postern_conf	*conf;
	char			*errors;

	conf = parse_text(text, flags, &errors);
	if (strcmp(errors, want) != 0)
		fprintf(stderr, "input:\n%s\n", text);
	assert_string_equal(errors, want);
	free(errors);
	assert_null(conf);
}

static struct postern_conf *
parse_file_collect(const char *path, char **errors)
{
	struct postern_conf	*conf;
	FILE			*fp;

	fp = open_memstream(&errbuf, &errlen);
	assert_non_null(fp);
	parse_set_errstream(fp);
	conf = parse_config(path, 0);
	fclose(fp);
	parse_set_errstream(stderr);
	*errors = errbuf;
	return conf;
}

static void
test_defaults(void **state)
{
	struct postern_conf	*conf;
	char			 host[256] = "";

	conf = parse_ok("", 0);
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(conf->hostname, host);
	assert_string_equal(conf->file, "test.conf");
	assert_string_equal(conf->spool_dir, "/var/spool/postern");
	assert_string_equal(conf->control_socket, "/run/postern.sock");
	assert_null(conf->control_group);
	assert_string_equal(conf->users[CONF_USER_SMTP], "_postern-smtp");
	assert_string_equal(conf->users[CONF_USER_QUEUE], "_postern-q");
	assert_string_equal(conf->users[CONF_USER_MTA], "_postern-mta");
	assert_string_equal(conf->users[CONF_USER_AUTHD], "_postern-auth");
	assert_string_equal(conf->users[CONF_USER_REPORTD], "_postern-report");
	assert_string_equal(conf->users[CONF_USER_CONTROL], "_postern-ctl");
	assert_int_equal(conf->queue.retry_first, 300);
	assert_int_equal(conf->queue.retry_max, 3600);
	assert_int_equal(conf->queue.expire, 5 * 86400);
	assert_int_equal(conf->queue.max_message_size, 35 * 1024 * 1024);
	assert_int_equal(conf->resolver.configured, 0);
	assert_null(conf->resolver.trust_anchor);
	assert_true(TAILQ_EMPTY(&conf->listeners));
	assert_true(TAILQ_EMPTY(&conf->pkis));
	assert_true(TAILQ_EMPTY(&conf->tables));
	assert_true(TAILQ_EMPTY(&conf->actions));
	assert_true(TAILQ_EMPTY(&conf->rules));
	assert_true(TAILQ_EMPTY(&conf->policies));
	assert_true(TAILQ_EMPTY(&conf->dkim_signatures));
	assert_true(TAILQ_EMPTY(&conf->sign_rules));
	free_config(conf);

	/* Comments, blank lines, CRLF and no final newline. */
	conf = parse_ok("# only a comment\n\n   \t\r\n# another", 0);
	free_config(conf);
	free_config(NULL);
}

static void
test_main_statements(void **state)
{
	struct postern_conf	*conf;

	conf = parse_ok(
	    "hostname mx.example.org\n"
	    "spool \"/srv/spool\"\n"
	    "user smtp mail_x\n"
	    "user reportd \"r-user\"\n"
	    "queue user \"q-user\"\n"
	    "control socket \"/run/p.sock\"\n"
	    "control group wheel\n"
	    "max-message-size 10M\n"
	    "queue retry 1m max 2h\n"
	    "queue expire 2d\n"
	    "queue memory-limit 64M\n"
	    "queue minfree 20M\n", 0);
	assert_string_equal(conf->hostname, "mx.example.org");
	assert_int_equal(conf->queue.memory_limit, 64 * 1024 * 1024);
	assert_int_equal(conf->queue.minfree, 20 * 1024 * 1024);
	assert_string_equal(conf->spool_dir, "/srv/spool");
	assert_string_equal(conf->users[CONF_USER_SMTP], "mail_x");
	assert_string_equal(conf->users[CONF_USER_REPORTD], "r-user");
	assert_string_equal(conf->users[CONF_USER_QUEUE], "q-user");
	assert_string_equal(conf->users[CONF_USER_MTA], "_postern-mta");
	assert_string_equal(conf->control_socket, "/run/p.sock");
	assert_string_equal(conf->control_group, "wheel");
	assert_int_equal(conf->queue.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(conf->queue.retry_first, 60);
	assert_int_equal(conf->queue.retry_max, 7200);
	assert_int_equal(conf->queue.expire, 2 * 86400);
	free_config(conf);

	/* Plain numbers, every unit, and max following a long first retry. */
	conf = parse_ok(
	    "max-message-size 1000\n"
	    "queue retry 7200\n"
	    "queue expire 30s\n", 0);
	assert_int_equal(conf->queue.max_message_size, 1000);
	assert_int_equal(conf->queue.retry_first, 7200);
	assert_int_equal(conf->queue.retry_max, 7200);
	assert_int_equal(conf->queue.expire, 30);
	free_config(conf);

	conf = parse_ok("max-message-size 3k\nqueue retry 2h\n"
	    "queue expire 45m\n", 0);
	assert_int_equal(conf->queue.max_message_size, 3072);
	assert_int_equal(conf->queue.retry_first, 7200);
	assert_int_equal(conf->queue.expire, 45 * 60);
	free_config(conf);

	conf = parse_ok("max-message-size 1G\n", 0);
	assert_int_equal(conf->queue.max_message_size, 1024 * 1024 * 1024);
	/*
	 * the default memory limit follows a larger max-message-size, with
	 * room for the trace fields stored in front of such a message
	 */
	assert_int_equal(conf->queue.memory_limit,
	    1024 * 1024 * 1024 + 1024 * 1024);
	free_config(conf);

	conf = parse_ok("hostname mx.example.org\n", 0);
	assert_int_equal(conf->queue.memory_limit, 256 * 1024 * 1024);
	/* the queue works out the default from the spool's size */
	assert_int_equal(conf->queue.minfree, 0);
	free_config(conf);
}

static void
test_duration_size(void **state)
{
	time_t		 t;
	size_t		 sz;
	const char	*errstr;

	assert_int_equal(parse_duration("90", &t, &errstr), 0);
	assert_int_equal(t, 90);
	assert_int_equal(parse_duration("3h", &t, &errstr), 0);
	assert_int_equal(t, 3 * 3600);
	assert_int_equal(parse_duration("0", &t, &errstr), -1);
	assert_string_equal(errstr, "too small");
	assert_int_equal(parse_duration("-1", &t, &errstr), -1);
	assert_string_equal(errstr, "too small");
	assert_int_equal(parse_duration("1w", &t, &errstr), -1);
	assert_string_equal(errstr, "invalid");
	assert_int_equal(parse_duration("1dd", &t, &errstr), -1);
	assert_string_equal(errstr, "invalid");
	assert_int_equal(parse_duration(" 1", &t, &errstr), -1);
	assert_string_equal(errstr, "invalid");
	assert_int_equal(parse_duration("", &t, &errstr), -1);
	assert_string_equal(errstr, "invalid");
	assert_int_equal(parse_duration("99999999999999999999999", &t,
	    &errstr), -1);
	assert_string_equal(errstr, "too large");
	assert_int_equal(parse_duration("30000d", &t, &errstr), -1);
	assert_string_equal(errstr, "too large");

	assert_int_equal(parse_size("35M", &sz, &errstr), 0);
	assert_int_equal(sz, 35 * 1024 * 1024);
	assert_int_equal(parse_size("2g", &sz, &errstr), 0);
	assert_int_equal(sz, 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(parse_size("1T", &sz, &errstr), -1);
	assert_string_equal(errstr, "invalid");
	assert_int_equal(parse_size("9999999999999G", &sz, &errstr), -1);
	assert_string_equal(errstr, "too large");
	assert_int_equal(parse_size("0K", &sz, &errstr), -1);
	assert_string_equal(errstr, "too small");
}

/* The value checks in lib/conf.c that other modules may call. */
static void
test_conf_helpers(void **state)
{
	enum relay_scheme	 scheme;
	enum dkim_canon		 c;
	char			 host[16];
	uint16_t		 port;
	const char		*errstr;
	struct sockaddr_storage	 a, b;
	socklen_t		 len;

	assert_true(conf_valid_hostname("mx-1.example.org"));
	assert_true(conf_valid_hostname("_dmarc.example.org"));
	assert_false(conf_valid_hostname("example.org."));
	assert_false(conf_valid_hostname("-a.example.org"));
	assert_false(conf_valid_hostname(""));

	assert_true(conf_valid_expansions("/m/%{user}/%{rcpt}%%"));
	assert_false(conf_valid_expansions("/m/%s"));
	assert_true(conf_valid_lmtp_dest("[::1]:24"));
	assert_false(conf_valid_lmtp_dest("host:"));

	assert_int_equal(conf_parse_relay_url("smtps://[::1]:2465/", &scheme,
	    host, sizeof(host), &port, &errstr), 0);
	assert_int_equal(scheme, RELAY_SMTPS);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 2465);
	assert_null(errstr);
	/* A host longer than the caller's buffer is refused, not cut. */
	assert_int_equal(conf_parse_relay_url("smtp://a-very-long-host-name",
	    &scheme, host, sizeof(host), &port, &errstr), -1);
	assert_string_equal(errstr, "invalid URL");
	assert_int_equal(conf_parse_relay_url("http://a", &scheme, host,
	    sizeof(host), &port, &errstr), -1);
	assert_string_equal(errstr, "unsupported scheme");
	assert_int_equal(conf_parse_relay_url("smtp://a:x", &scheme, host,
	    sizeof(host), &port, &errstr), -1);
	assert_string_equal(errstr, "invalid port");

	assert_true(conf_dkim_canon_word("simple/x", 6, &c));
	assert_int_equal(c, DKIM_CANON_SIMPLE);
	assert_false(conf_dkim_canon_word("simpl", 5, &c));

	assert_int_equal(conf_numeric_addr("127.0.0.1", 25, &a, &len), 0);
	assert_int_equal(conf_numeric_addr("127.0.0.1", 25, &b, &len), 0);
	assert_true(conf_sockaddr_equal(&a, &b));
	assert_int_equal(conf_numeric_addr("127.0.0.1", 26, &b, &len), 0);
	assert_false(conf_sockaddr_equal(&a, &b));
	assert_int_equal(conf_numeric_addr("::1", 25, &b, &len), 0);
	assert_false(conf_sockaddr_equal(&a, &b));
	assert_int_equal(conf_numeric_addr("localhost", 25, &b, &len), -1);
}

static void
test_pki_listen(void **state)
{
	struct postern_conf	*conf;
	struct listener		*l;
	struct pki		*pki;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			*cert, *key, *text, addr[64];

	cert = tmpfile_with("cert\n");
	key = tmpfile_with("key\n");
	assert_true(asprintf(&text,
	    "pki mx cert \"%s\" key \"%s\"\n"
	    "policy tight { dmarc strict }\n"
	    "table creds { alice = \"$y$j9T$x$y\" }\n"
	    "listen on 192.0.2.1\n"
	    "listen on 192.0.2.1 smtps pki mx\n"
	    "listen on ::1 port 587 tls require pki mx auth require <creds> "
	    "tag submission hostname smtp.example.org policy tight\n"
	    "listen on 192.0.2.2 port 2525 tls pki mx\n"
	    "listen on localhost port 10025\n", cert, key) != -1);
	conf = parse_ok(text, 0);
	free(text);

	pki = TAILQ_FIRST(&conf->pkis);
	assert_non_null(pki);
	assert_string_equal(pki->name, "mx");
	assert_string_equal(pki->cert_file, cert);
	assert_string_equal(pki->key_file, key);
	assert_ptr_equal(config_find_pki(conf, "mx"), pki);
	assert_null(config_find_pki(conf, "nope"));

	/* Default port 25, no TLS. */
	l = TAILQ_FIRST(&conf->listeners);
	sin = (struct sockaddr_in *)&l->ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(l->sslen, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), 25);
	inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
	assert_string_equal(addr, "192.0.2.1");
	assert_int_equal(l->flags, 0);
	assert_string_equal(l->pki, "");
	assert_string_equal(l->tag, "");
	assert_string_equal(l->hostname, "");
	assert_string_equal(l->policy, "");
	assert_int_equal(l->fd, -1);

	/* smtps defaults to 465, so it does not clash with port 25. */
	l = TAILQ_NEXT(l, entry);
	sin = (struct sockaddr_in *)&l->ss;
	assert_int_equal(ntohs(sin->sin_port), 465);
	assert_int_equal(l->flags, LISTEN_SMTPS);
	assert_string_equal(l->pki, "mx");

	l = TAILQ_NEXT(l, entry);
	sin6 = (struct sockaddr_in6 *)&l->ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(l->sslen, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), 587);
	assert_int_equal(l->flags, LISTEN_STARTTLS | LISTEN_TLS_REQUIRE |
	    LISTEN_AUTH | LISTEN_AUTH_REQUIRE);
	assert_string_equal(l->auth_table, "creds");
	assert_string_equal(l->pki, "mx");
	assert_string_equal(l->tag, "submission");
	assert_string_equal(l->hostname, "smtp.example.org");
	assert_string_equal(l->policy, "tight");
	assert_int_equal(l->fd, -1);

	l = TAILQ_NEXT(l, entry);
	sin = (struct sockaddr_in *)&l->ss;
	assert_int_equal(ntohs(sin->sin_port), 2525);
	assert_int_equal(l->flags, LISTEN_STARTTLS);

	/* localhost is two listeners. */
	l = TAILQ_NEXT(l, entry);
	sin = (struct sockaddr_in *)&l->ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 10025);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	l = TAILQ_NEXT(l, entry);
	sin6 = (struct sockaddr_in6 *)&l->ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 10025);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_null(TAILQ_NEXT(l, entry));
	free_config(conf);
}

static void
test_tables(void **state)
{
	struct postern_conf	*conf;
	struct table		*t;
	struct table_entry	*te;
	char			*file, *text;

	file = tmpfile_with("example.org\n");
	assert_true(asprintf(&text,
	    "table domains { \"example.org\", example.net,\n"
	    "    \"example.com\" }\n"
	    "table aliases {\n"
	    "    root = \"alice\"\n"
	    "    \"postmaster\" = bob,\n"
	    "    smtp = 25\n"
	    "}\n"
	    "table empty { }\n"
	    "table f1 file:\"%s\"\n"
	    "table f2 file:%s\n", file, file) != -1);
	conf = parse_ok(text, 0);
	free(text);

	t = config_find_table(conf, "domains");
	assert_non_null(t);
	assert_int_equal(t->type, TABLE_LIST);
	assert_int_equal(t->nentries, 3);
	te = TAILQ_FIRST(&t->entries);
	assert_string_equal(te->key, "example.org");
	assert_null(te->value);
	te = TAILQ_NEXT(te, entry);
	assert_string_equal(te->key, "example.net");
	te = TAILQ_NEXT(te, entry);
	assert_string_equal(te->key, "example.com");
	assert_string_equal(table_lookup(t, "example.net"), "");
	assert_null(table_lookup(t, "example.edu"));

	t = config_find_table(conf, "aliases");
	assert_int_equal(t->type, TABLE_MAP);
	assert_int_equal(t->nentries, 3);
	assert_string_equal(table_lookup(t, "root"), "alice");
	assert_string_equal(table_lookup(t, "postmaster"), "bob");
	assert_string_equal(table_lookup(t, "smtp"), "25");

	t = config_find_table(conf, "empty");
	assert_int_equal(t->nentries, 0);

	t = config_find_table(conf, "f1");
	assert_int_equal(t->type, TABLE_FILE);
	assert_string_equal(t->path, file);
	t = config_find_table(conf, "f2");
	assert_int_equal(t->type, TABLE_FILE);
	assert_string_equal(t->path, file);
	assert_null(config_find_table(conf, "nope"));
	free_config(conf);
}

static void
test_actions(void **state)
{
	struct postern_conf	*conf;
	struct action		*a;

	conf = parse_ok(
	    "table secrets { smarthost.example.org = \"u:p\" }\n"
	    "action \"local\" maildir\n"
	    "action md maildir \"/var/mail/%{domain}/%{user}/%{localpart}\" "
	    "user vmail\n"
	    "action mx relay\n"
	    "action mx2 relay tls verify helo out.example.org\n"
	    "action smart relay host \"smtps://smarthost.example.org\" "
	    "auth <secrets>\n"
	    "action sub relay host \"smtp+tls://smarthost.example.org:587/\""
	    " tls require auth <secrets>\n"
	    "action nv relay host \"smtps://smarthost.example.org\" "
	    "auth <secrets> tls no-verify\n"
	    "action nv2 relay host \"smtp://smarthost.example.org\" "
	    "tls no-verify\n"
	    "action plain relay host \"smtp://[2001:db8::1]:2525\" tls\n"
	    "action vm maildir \"/var/vmail/%{rcpt}\" virtual <secrets>\n",
	    0);
	a = config_find_action(conf, "vm");
	assert_int_equal(a->type, ACTION_MAILDIR);
	assert_string_equal(a->virtual_table, "secrets");
	assert_null(a->user);
	a = config_find_action(conf, "local");
	assert_int_equal(a->type, ACTION_MAILDIR);
	assert_string_equal(a->path, "~/Maildir");
	assert_null(a->user);

	a = config_find_action(conf, "md");
	assert_int_equal(a->type, ACTION_MAILDIR);
	assert_string_equal(a->path, "/var/mail/%{domain}/%{user}/%{localpart}");
	assert_string_equal(a->user, "vmail");

	a = config_find_action(conf, "mx");
	assert_int_equal(a->type, ACTION_RELAY);
	assert_null(a->relay_url);
	assert_int_equal(a->relay_tls, RELAY_TLS_OPPORTUNISTIC);
	assert_string_equal(a->relay_auth, "");
	assert_string_equal(a->relay_helo, "");

	a = config_find_action(conf, "mx2");
	assert_int_equal(a->relay_tls, RELAY_TLS_VERIFY);
	assert_string_equal(a->relay_helo, "out.example.org");

	a = config_find_action(conf, "smart");
	assert_string_equal(a->relay_url, "smtps://smarthost.example.org");
	assert_int_equal(a->relay_scheme, RELAY_SMTPS);
	assert_string_equal(a->relay_host, "smarthost.example.org");
	assert_int_equal(a->relay_port, 465);
	assert_string_equal(a->relay_auth, "secrets");
	/* auth implies a verified certificate */
	assert_int_equal(a->relay_tls, RELAY_TLS_VERIFY);

	a = config_find_action(conf, "sub");
	assert_int_equal(a->relay_scheme, RELAY_SMTP_TLS);
	assert_int_equal(a->relay_port, 587);
	assert_int_equal(a->relay_tls, RELAY_TLS_VERIFY);

	/* ... unless the configuration says otherwise in so many words */
	a = config_find_action(conf, "nv");
	assert_string_equal(a->relay_auth, "secrets");
	assert_int_equal(a->relay_tls, RELAY_TLS_NOVERIFY);
	a = config_find_action(conf, "nv2");
	assert_int_equal(a->relay_tls, RELAY_TLS_NOVERIFY);

	a = config_find_action(conf, "plain");
	assert_int_equal(a->relay_scheme, RELAY_SMTP);
	assert_string_equal(a->relay_host, "2001:db8::1");
	assert_int_equal(a->relay_port, 2525);
	assert_int_equal(a->relay_tls, RELAY_TLS_OPPORTUNISTIC);
	assert_null(config_find_action(conf, "nope"));
	free_config(conf);

	conf = parse_ok("action d relay host \"smtp://mx.example.org\"\n", 0);
	a = config_find_action(conf, "d");
	assert_int_equal(a->relay_port, 25);
	free_config(conf);
}

/* mbox, lmtp and mda deliver: their defaults and words */
static void
test_actions_local(void **state)
{
	struct postern_conf	*conf;
	const struct action	*a;

	conf = parse_ok("action lm lmtp \"/run/dovecot/lmtp\" rcpt-to "
	    "user vmail\n"
	    "action lt lmtp \"127.0.0.1:24\"\n", 0);
	a = config_find_action(conf, "lm");
	assert_int_equal(a->type, ACTION_LMTP);
	assert_string_equal(a->path, "/run/dovecot/lmtp");
	assert_int_equal(a->lmtp_rcpt_to, 1);
	assert_string_equal(a->user, "vmail");
	a = config_find_action(conf, "lt");
	assert_int_equal(a->lmtp_rcpt_to, 0);
	assert_null(a->user);
	free_config(conf);
	/* mbox and mda deliver: their defaults and words */
	conf = parse_ok("action mb mbox\n"
	    "action pipe mda \"/usr/bin/procmail -a %{rcpt} 100%%\"\n", 0);
	assert_int_equal(config_find_action(conf, "mb")->type, ACTION_MBOX);
	assert_string_equal(config_find_action(conf, "mb")->path,
	    "/var/mail/%{user}");
	assert_int_equal(config_find_action(conf, "pipe")->type, ACTION_MDA);
	assert_string_equal(config_find_action(conf, "pipe")->path,
	    "/usr/bin/procmail -a %{rcpt} 100%%");
	free_config(conf);
}

static void
test_match(void **state)
{
	struct postern_conf	*conf;
	struct rule		*r;
	struct sockaddr_in6	*sin6;
	struct sockaddr_in	*sin;

	conf = parse_ok(
	    "table nets { \"10.0.0.0/8\" }\n"
	    "table doms { example.org }\n"
	    "table users { alice }\n"
	    "table rcpts { \"a@example.org\" }\n"
	    "action \"local\" maildir\n"
	    "action out relay\n"
	    "match from any for domain <doms> action \"local\"\n"
	    "match from local for any action out\n"
	    "match ! from src <nets> ! for domain example.net tag mx reject\n"
	    "match from src 192.0.2.0/24 for rcpt-to <rcpts> action \"local\"\n"
	    "match for local from src 2001:db8::1 action \"local\"\n"
	    "match from auth for any action out\n"
	    "match from auth <users> for any action out\n"
	    "match reject\n", 0);
	r = TAILQ_FIRST(&conf->rules);
	assert_int_equal(r->from, MATCH_FROM_ANY);
	assert_int_equal(r->from_negate, 0);
	assert_int_equal(r->rcpt_for, MATCH_FOR_DOMAIN_TABLE);
	assert_string_equal(r->for_table, "doms");
	assert_string_equal(r->action, "local");
	assert_int_equal(r->reject, 0);

	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_LOCAL);
	assert_int_equal(r->rcpt_for, MATCH_FOR_ANY);
	assert_string_equal(r->action, "out");

	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_SRC_TABLE);
	assert_int_equal(r->from_negate, 1);
	assert_string_equal(r->from_table, "nets");
	assert_int_equal(r->rcpt_for, MATCH_FOR_DOMAIN);
	assert_int_equal(r->for_negate, 1);
	assert_string_equal(r->for_domain, "example.net");
	assert_string_equal(r->tag, "mx");
	assert_int_equal(r->reject, 1);
	assert_string_equal(r->action, "");

	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_SRC_NET);
	sin = (struct sockaddr_in *)&r->from_net;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000200);
	assert_int_equal(r->from_prefixlen, 24);
	assert_int_equal(r->rcpt_for, MATCH_FOR_RCPT_TABLE);
	assert_string_equal(r->for_table, "rcpts");

	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->rcpt_for, MATCH_FOR_LOCAL);
	sin6 = (struct sockaddr_in6 *)&r->from_net;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(r->from_prefixlen, 128);

	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_AUTH);
	assert_string_equal(r->from_table, "");
	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_AUTH);
	assert_string_equal(r->from_table, "users");

	/* Omitted from and for mean local, as in smtpd.conf(5). */
	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->from, MATCH_FROM_LOCAL);
	assert_int_equal(r->rcpt_for, MATCH_FOR_LOCAL);
	assert_int_equal(r->reject, 1);
	assert_null(TAILQ_NEXT(r, entry));
	free_config(conf);
}

static void
test_auth_slots(void **state)
{
	struct postern_conf	*conf;
	struct policy		*p;
	struct dkim_signature	*d;
	struct sign_rule	*s;
	char			*key, *anchor, *text;

	key = tmpfile_with("key\n");
	anchor = tmpfile_with(". IN DS 1 2 3 4\n");
	assert_true(asprintf(&text,
	    "resolver 127.0.0.53@5353 trust-anchor \"%s\"\n"
	    "policy relaxed-all { }\n"
	    "policy tight {\n"
	    "    spf strict reject-fail\n"
	    "    dkim relaxed allow-sha1 max-signatures 25 fail-partial-body\n"
	    "    arc disable\n"
	    "    dmarc strict quarantine folder \"Junk\"\n"
	    "}\n"
	    "policy hdr { dmarc relaxed quarantine header; spf disable }\n"
	    "policy lim { dkim strict max-signatures 1 }\n"
	    "policy lim2 { dkim disable max-signatures 100 allow-sha1 }\n"
	    "dkim-signature rsa {\n"
	    "    key \"%s\"\n"
	    "    domain example.org\n"
	    "    selector s2026\n"
	    "}\n"
	    "dkim-signature ed { key \"%s\"; domain example.org; "
	    "selector ed.s1\n"
	    "    algorithm ed25519-sha256 canonicalization relaxed/simple\n"
	    "    headers \"from:to:subject:date\" expire 7d oversign }\n"
	    "dkim-signature c1 { key \"%s\" domain example.org selector a "
	    "canonicalization simple algorithm rsa-sha256 }\n"
	    "dkim-signature c2 { key \"%s\" domain example.org selector a "
	    "canonicalization relaxed }\n"
	    "table senders { example.org }\n"
	    "sign with rsa ed\n"
	    "sign with rsa from <senders> tag submission\n"
	    "sign with ed domain example.org\n",
	    anchor, key, key, key, key) != -1);
	conf = parse_ok(text, 0);
	free(text);

	assert_int_equal(conf->resolver.configured, 1);
	assert_string_equal(conf->resolver.addr, "127.0.0.53");
	assert_int_equal(conf->resolver.port, 5353);
	assert_string_equal(conf->resolver.trust_anchor, anchor);

	p = config_find_policy(conf, "relaxed-all");
	assert_int_equal(p->spf, POLICY_RELAXED);
	assert_int_equal(p->dkim, POLICY_RELAXED);
	assert_int_equal(p->arc, POLICY_RELAXED);
	assert_int_equal(p->dmarc, POLICY_RELAXED);
	assert_int_equal(p->spf_reject_fail, 0);
	assert_int_equal(p->quarantine, QUARANTINE_HEADER);
	/* RFC 8301 3.1: no rsa-sha1 unless asked; 10 signatures. */
	assert_int_equal(p->dkim_allow_sha1, 0);
	assert_int_equal(p->dkim_max_signatures, 10);
	/* RFC 6376 8.2: a partial-body signature passes unless asked */
	assert_int_equal(p->dkim_fail_partial_body, 0);
	p = config_find_policy(conf, "tight");
	assert_int_equal(p->dkim_allow_sha1, 1);
	assert_int_equal(p->dkim_fail_partial_body, 1);
	assert_int_equal(p->dkim_max_signatures, 25);
	assert_int_equal(p->spf, POLICY_STRICT);
	assert_int_equal(p->spf_reject_fail, 1);
	assert_int_equal(p->dkim, POLICY_RELAXED);
	assert_int_equal(p->arc, POLICY_DISABLE);
	assert_int_equal(p->dmarc, POLICY_STRICT);
	assert_int_equal(p->quarantine, QUARANTINE_FOLDER);
	assert_string_equal(p->quarantine_folder, "Junk");
	p = config_find_policy(conf, "hdr");
	assert_int_equal(p->spf, POLICY_DISABLE);
	assert_int_equal(p->quarantine, QUARANTINE_HEADER);
	assert_int_equal(p->dkim_allow_sha1, 0);
	assert_int_equal(p->dkim_max_signatures, 10);
	p = config_find_policy(conf, "lim");
	assert_int_equal(p->dkim, POLICY_STRICT);
	assert_int_equal(p->dkim_allow_sha1, 0);
	assert_int_equal(p->dkim_max_signatures, 1);
	p = config_find_policy(conf, "lim2");
	assert_int_equal(p->dkim, POLICY_DISABLE);
	assert_int_equal(p->dkim_allow_sha1, 1);
	assert_int_equal(p->dkim_max_signatures, 100);
	assert_null(config_find_policy(conf, "nope"));

	d = config_find_dkim_signature(conf, "rsa");
	assert_string_equal(d->key_file, key);
	assert_string_equal(d->domain, "example.org");
	assert_string_equal(d->selector, "s2026");
	assert_int_equal(d->algorithm, DKIM_RSA_SHA256);
	assert_int_equal(d->canon_header, DKIM_CANON_RELAXED);
	assert_int_equal(d->canon_body, DKIM_CANON_RELAXED);
	assert_null(d->headers);
	assert_int_equal(d->expire, 0);
	assert_int_equal(d->oversign, 0);
	d = config_find_dkim_signature(conf, "ed");
	assert_string_equal(d->selector, "ed.s1");
	assert_int_equal(d->algorithm, DKIM_ED25519_SHA256);
	assert_int_equal(d->canon_header, DKIM_CANON_RELAXED);
	assert_int_equal(d->canon_body, DKIM_CANON_SIMPLE);
	assert_string_equal(d->headers, "from:to:subject:date");
	assert_int_equal(d->expire, 7 * 86400);
	assert_int_equal(d->oversign, 1);
	/* RFC 6376 3.5: one word is the header one; body is simple. */
	d = config_find_dkim_signature(conf, "c1");
	assert_int_equal(d->canon_header, DKIM_CANON_SIMPLE);
	assert_int_equal(d->canon_body, DKIM_CANON_SIMPLE);
	d = config_find_dkim_signature(conf, "c2");
	assert_int_equal(d->canon_header, DKIM_CANON_RELAXED);
	assert_int_equal(d->canon_body, DKIM_CANON_SIMPLE);
	assert_null(config_find_dkim_signature(conf, "nope"));

	s = TAILQ_FIRST(&conf->sign_rules);
	assert_int_equal(s->nsignatures, 2);
	assert_string_equal(s->signatures[0], "rsa");
	assert_string_equal(s->signatures[1], "ed");
	assert_string_equal(s->from_table, "");
	assert_string_equal(s->domain, "");
	assert_string_equal(s->tag, "");
	s = TAILQ_NEXT(s, entry);
	assert_int_equal(s->nsignatures, 1);
	assert_string_equal(s->from_table, "senders");
	assert_string_equal(s->tag, "submission");
	s = TAILQ_NEXT(s, entry);
	assert_string_equal(s->domain, "example.org");
	assert_null(TAILQ_NEXT(s, entry));
	free_config(conf);

	conf = parse_ok("resolver ::1\n", 0);
	assert_string_equal(conf->resolver.addr, "::1");
	assert_int_equal(conf->resolver.port, 53);
	free_config(conf);
}

/* listen ... auth <T> senders <S>: who may send as whom. */
static void
test_listen_senders(void **state)
{
	struct postern_conf	*conf;
	struct listener		*l;

	conf = parse_ok(
	    "pki p cert \"/c\" key \"/k\"\n"
	    "table c { alice = \"$2b$x\" }\n"
	    "table senders { alice@example.org = alice, @example.net = bob }\n"
	    "listen on 127.0.0.1 port 587 tls require pki p auth require <c> "
	    "senders <senders>\n"
	    "listen on 127.0.0.1 port 465 smtps pki p auth <c>\n",
	    PARSE_NOFILES);
	l = TAILQ_FIRST(&conf->listeners);
	assert_string_equal(l->auth_table, "c");
	assert_string_equal(l->senders_table, "senders");
	/* The option is per listener: the other one lets anyone through. */
	l = TAILQ_NEXT(l, entry);
	assert_string_equal(l->senders_table, "");
	/* "senders" stays an ordinary word: here it names the table. */
	assert_non_null(config_find_table(conf, "senders"));
	free_config(conf);
}

static void
test_macros(void **state)
{
	struct postern_conf	*conf;
	struct listener		*l;

	conf = parse_ok(
	    "addr = \"127.0.0.1\"\n"
	    "pki p cert \"/c\" key \"/k\"\n"
	    "table c { alice = \"$2b$x\" }\n"
	    "opts = \"port 2525 smtps pki p auth <c>\"\n"
	    "port_n = 10\n"
	    "name = first\n"
	    "name = \"mx.example.org\"\n"
	    "both = \"$opts tag t\"\n"
	    "listen on $addr $opts\n"
	    "listen on ::1 $both\n"
	    "hostname $name\n"
	    "queue retry $port_n\n", PARSE_NOFILES);
	l = TAILQ_FIRST(&conf->listeners);
	assert_int_equal(ntohs(((struct sockaddr_in *)&l->ss)->sin_port),
	    2525);
	assert_int_equal(l->flags, LISTEN_SMTPS | LISTEN_AUTH);
	assert_string_equal(l->auth_table, "c");
	l = TAILQ_NEXT(l, entry);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&l->ss)->sin6_port),
	    2525);
	assert_string_equal(l->tag, "t");
	/* The last definition wins. */
	assert_string_equal(conf->hostname, "mx.example.org");
	assert_int_equal(conf->queue.retry_first, 10);
	free_config(conf);

	/* No expansion inside quotes. */
	expect_errors("name = x\nspool \"$name\"\n", 0,
	    "test.conf:2: spool must be an absolute path\n");
}

/* Line continuation and the line numbers that follow it. */
static void
test_continuation(void **state)
{
	struct postern_conf	*conf;

	conf = parse_ok("listen on 127.0.0.1 \\\n   port 2525 \\\n tag t\n"
	    "hostname mx.exa\\\nmple.org\n", 0);
	assert_string_equal(TAILQ_FIRST(&conf->listeners)->tag, "t");
	assert_string_equal(conf->hostname, "mx.example.org");
	free_config(conf);

	expect_errors(
	    "listen on 127.0.0.1 \\\n"
	    "    port 99999 \\\n"
	    "    tag t\n"
	    "hostname \"a b\"\n"
	    "# a comment ending in a backslash \\\n"
	    "hostname \"c d\"\n"
	    "spool \"x\\\n"
	    "y\"\n"
	    "bogus\n", 0,
	    "test.conf:2: invalid port 99999\n"
	    "test.conf:4: invalid hostname \"a b\"\n"
	    "test.conf:6: invalid hostname \"c d\"\n"
	    "test.conf:7: spool must be an absolute path\n"
	    "test.conf:9: syntax error\n");
}

static void
test_include(void **state)
{
	struct postern_conf	*conf;
	char			*inner, *outer, *text, *errors, *slash;
	char			*loop1, *loop2;

	inner = tmpfile_with("hostname inner.example.org\n"
	    "\n"
	    "bogus statement\n"
	    "spool relative");
	assert_true(asprintf(&text, "# outer\ninclude \"%s\"\n"
	    "user smtp \"bad user\"\n", inner) != -1);
	outer = tmpfile_with(text);
	free(text);
	conf = parse_file_collect(outer, &errors);
	assert_null(conf);
	assert_true(asprintf(&text,
	    "%s:3: syntax error\n"
	    "%s:4: spool must be an absolute path\n"
	    "%s:3: invalid user name \"bad user\"\n",
	    inner, inner, outer) != -1);
	assert_string_equal(errors, text);
	free(text);
	free(errors);

	/* A good include, named relative to the including file. */
	inner = tmpfile_with("hostname inner.example.org");
	slash = strrchr(inner, '/');
	assert_true(asprintf(&text, "include \"%s\"\nuser authd u1\n",
	    slash + 1) != -1);
	outer = tmpfile_with(text);
	free(text);
	conf = parse_file_collect(outer, &errors);
	assert_string_equal(errors, "");
	free(errors);
	assert_non_null(conf);
	assert_string_equal(conf->hostname, "inner.example.org");
	assert_string_equal(conf->users[CONF_USER_AUTHD], "u1");
	assert_string_equal(conf->file, outer);
	free_config(conf);

	/* Unreadable include: the error is at the include line. */
	expect_errors("\n\ninclude \"/nonexistent/x.conf\"\nbogus\n", 0,
	    "test.conf:3: cannot open \"/nonexistent/x.conf\": "
	    "No such file or directory\n"
	    "test.conf:4: syntax error\n");
	expect_errors("include \"/tmp\"\n", 0,
	    "test.conf:1: \"/tmp\" is not a regular file\n");
	/* A broken include line includes nothing. */
	assert_true(asprintf(&text, "include \"%s\" extra\n", inner) != -1);
	expect_errors(text, 0, "test.conf:1: syntax error\n");
	free(text);
	/* The fuzz target may not open files. */
	expect_errors("include \"/etc/passwd\"\n", PARSE_NOFILES,
	    "test.conf:1: include is not allowed here\n");

	/* A loop: a includes b includes a. */
	loop1 = tmpfile_with("");
	loop2 = tmpfile_with("");
	{
		FILE	*fp;

		fp = fopen(loop1, "w");
		fprintf(fp, "hostname a\ninclude \"%s\"\n", loop2);
		fclose(fp);
		fp = fopen(loop2, "w");
		fprintf(fp, "include \"%s\"\n", loop1);
		fclose(fp);
	}
	conf = parse_file_collect(loop1, &errors);
	assert_null(conf);
	assert_true(asprintf(&text, "%s:1: include loop: \"%s\"\n", loop2,
	    loop1) != -1);
	assert_string_equal(errors, text);
	free(text);
	free(errors);

	/* A file that includes itself through a relative name nests. */
	{
		FILE	*fp;

		fp = fopen(loop1, "w");
		fprintf(fp, "include \"%s\"\n", loop1);
		fclose(fp);
	}
	conf = parse_file_collect(loop1, &errors);
	assert_null(conf);
	assert_true(asprintf(&text, "%s:1: include loop: \"%s\"\n", loop1,
	    loop1) != -1);
	assert_string_equal(errors, text);
	free(text);
	free(errors);
}

/* Nesting limit: a chain of 17 files, each including the next. */
static void
test_include_depth(void **state)
{
	struct postern_conf	*conf;
	char			*files[17], *errors, *want;
	FILE			*fp;
	int			 i;

	for (i = 0; i < 17; i++)
		files[i] = tmpfile_with("");
	for (i = 0; i < 16; i++) {
		fp = fopen(files[i], "w");
		fprintf(fp, "include \"%s\"\n", files[i + 1]);
		fclose(fp);
	}
	conf = parse_file_collect(files[0], &errors);
	assert_null(conf);
	assert_true(asprintf(&want, "%s:1: include nesting too deep\n",
	    files[15]) != -1);
	assert_string_equal(errors, want);
	free(want);
	free(errors);
}

static void
test_missing_file(void **state)
{
	struct postern_conf	*conf;
	char			*errors;

	conf = parse_file_collect("/nonexistent/postern.conf", &errors);
	assert_null(conf);
	assert_string_equal(errors,
	    "/nonexistent/postern.conf: No such file or directory\n");
	free(errors);
	conf = parse_file_collect("/tmp", &errors);
	assert_null(conf);
	assert_string_equal(errors, "/tmp: not a regular file\n");
	free(errors);
}

static void
test_file_checks(void **state)
{
	char	*cert, *text, *want;

	cert = tmpfile_with("cert\n");
	assert_true(asprintf(&text,
	    "pki a cert \"/nonexistent/c\" key \"%s\"\n"
	    "pki b cert \"%s\" \\\n"
	    "    key \"/nonexistent/k\"\n"
	    "pki c cert \"/tmp\" key \"%s\"\n"
	    "listen on 127.0.0.1 tls pki a\n"
	    "table t file:\"/nonexistent/t\"\n"
	    "resolver 127.0.0.1 trust-anchor \"/nonexistent/ta\"\n"
	    "dkim-signature d { key \"/nonexistent/dk\" domain example.org "
	    "selector s }\n", cert, cert, cert) != -1);
	want = "test.conf:1: cannot read certificate \"/nonexistent/c\": "
	    "No such file or directory\n"
	    "test.conf:3: cannot read key \"/nonexistent/k\": "
	    "No such file or directory\n"
	    "test.conf:4: certificate \"/tmp\" is not a regular file\n"
	    "test.conf:6: cannot read table file \"/nonexistent/t\": "
	    "No such file or directory\n"
	    "test.conf:7: cannot read trust anchor \"/nonexistent/ta\": "
	    "No such file or directory\n"
	    "test.conf:8: cannot read key \"/nonexistent/dk\": "
	    "No such file or directory\n";
	expect_errors(text, 0, want);
	/* The fuzz target's mode skips the checks. */
	free_config(parse_ok(text, PARSE_NOFILES));
	free(text);
}

struct error_case {
	const char	*text;
	const char	*errors;
};

/* Every error path; PARSE_NOFILES so pki files need not exist. */
static const struct error_case error_cases[] = {
	/* lexer */
	{ "hostname \"abc\n", "1: unterminated quoted string\n" },
	{ "hostname \"abc", "1: unterminated quoted string\n" },
	{ "hostname x\n$\n", "2: invalid macro reference\n" },
	{ "hostname $nope extra\n", "1: macro \"nope\" not defined\n" },
	{ "a = \"$a\"\nhostname $a\n", "2: macro expansion too deep\n" },
	{ "a = \"x\"\nb = \"$a $a $a $a $a $a $a $a $a $a\"\n"
	  "c = \"$b $b $b $b $b $b $b $b $b $b\"\n"
	  "d = \"$c $c $c $c $c $c $c $c $c $c\"\n"
	  "e = \"$d $d $d $d $d $d $d $d $d $d\"\n"
	  "listen on 127.0.0.1 $e\n",
	  "6: syntax error\n6: too many macro expansions\n" },
	{ "a-b = x\n", "1: invalid macro name \"a-b\"\n" },
	{ "hostname $mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	  "mmmmmmmmmmmmmmmmmmmmmmmmmm\n", "1: invalid macro reference\n" },
	{ "bogus\nhostname x y\n", "1: syntax error\n2: syntax error\n" },
	{ "hostname\n", "1: syntax error\n" },
	{ "listen on 127.0.0.1 = 2\n", "1: syntax error\n" },
	/* main */
	{ "hostname \"-.x\"\n", "1: invalid hostname \"-.x\"\n" },
	{ "hostname a..b\n", "1: invalid hostname \"a..b\"\n" },
	{ "hostname a-.b\n", "1: invalid hostname \"a-.b\"\n" },
	{ "hostname aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaa.b\n",
	  "1: invalid hostname \"aaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b\"\n" },
	{ "hostname aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "1: invalid hostname \"aaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n" },
	{ "spool var/spool\n", "1: spool must be an absolute path\n" },
	{ "control socket \"run/s\"\n",
	  "1: control socket must be an absolute path\n" },
	{ "control socket \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
	  "1: control socket path too long\n" },
	{ "user smtp \"a b\"\n", "1: invalid user name \"a b\"\n" },
	{ "user \"a\"\n", "1: \"user a\": each process has a user of its "
	  "own: user smtp|mta|authd|reportd|control NAME\n" },
	{ "user mta x\nuser authd x\n", "2: the mta and authd processes have "
	  "one user, x: each needs its own\n" },
	{ "user queue \"-x\"\n", "1: invalid user name \"-x\"\n" },
	{ "queue user \"\"\n", "1: invalid user name \"\"\n" },
	{ "control group \"wh:eel\"\n", "1: invalid group name \"wh:eel\"\n" },
	{ "max-message-size 0\n", "1: invalid size \"0\": too small\n" },
	{ "max-message-size 2M\nqueue memory-limit 1M\n",
	  "2: queue memory-limit (1048576) is less than max-message-size "
	  "(2097152): the largest messages could never be received\n" },
	{ "queue memory-limit 0\n", "1: invalid size \"0\": too small\n" },
	{ "max-message-size -5\n", "1: invalid size \"-5\": too small\n" },
	{ "max-message-size 10X\n", "1: invalid size \"10X\": invalid\n" },
	{ "max-message-size lots\n", "1: invalid size \"lots\": invalid\n" },
	{ "max-message-size 99999999999999999999\n",
	  "1: invalid size \"99999999999999999999\": too large\n" },
	{ "max-message-size 9999999999999999G\n",
	  "1: invalid size \"9999999999999999G\": too large\n" },
	{ "queue retry 0\n", "1: invalid duration \"0\": too small\n" },
	{ "queue retry -1m\n", "1: invalid duration \"-1m\": too small\n" },
	{ "queue retry 5y\n", "1: invalid duration \"5y\": invalid\n" },
	{ "queue expire 99999999999d\n",
	  "1: invalid duration \"99999999999d\": too large\n" },
	{ "queue retry 10m max 5m\n",
	  "1: queue retry max is shorter than the first retry\n" },
	{ "queue retry 10m max 0\n", "1: invalid duration \"0\": too small\n" },
	/* pki */
	{ "pki \"\" cert \"/c\" key \"/k\"\n", "1: invalid name \"\"\n" },
	{ "pki a cert \"/c\" key \"/k\"\npki a cert \"/c\" key \"/k\"\n",
	  "2: duplicate pki \"a\"\n" },
	{ "pki a cert \"/c\"\n", "1: syntax error\n" },
	/* listen */
	{ "listen on 127.0.0.1 port 0\n", "1: invalid port 0\n" },
	{ "listen on 127.0.0.1 port 65536\n", "1: invalid port 65536\n" },
	{ "listen on 127.0.0.1 port smtp\n", "1: invalid port \"smtp\"\n" },
	{ "listen on 127.0.0.1 port 1 port 2\n",
	  "1: duplicate listen option \"port\"\n" },
	{ "table c { a = b }\npki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> auth <c>\n",
	  "3: duplicate listen option \"auth\"\n" },
	/* senders */
	{ "table s { a@b = a }\nlisten on 127.0.0.1 senders <s>\n",
	  "2: senders requires auth: only an authenticated client has an "
	  "account\n" },
	{ "table c { a = b }\npki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <nope>\n",
	  "3: unknown table \"nope\"\n" },
	{ "table c { a = b }\ntable l { a@b }\npki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <l>\n",
	  "4: table \"l\" is not a mapping\n" },
	{ "table c { a = b }\ntable s { a@b = a }\n"
	  "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <s> senders <s>\n",
	  "4: duplicate listen option \"senders\"\n" },
	{ "table c { a = b }\npki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <c>\n",
	  "3: senders and auth name the same table \"c\"\n" },
	{ "table c { a = b }\ntable s { a@b = a }\n"
	  "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <s>\n"
	  "listen on 127.0.0.2 tls pki p auth <s>\n",
	  "5: table \"s\" is both credentials and a senders table\n" },
	{ "table c { a = b }\ntable s { a@b = a }\n"
	  "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.2 tls pki p auth <s>\n"
	  "listen on 127.0.0.1 tls pki p auth <c> senders <s>\n",
	  "5: table \"s\" is both credentials and a senders table\n" },
	{ "table c { a = b }\nlisten on 127.0.0.1 owners <c>\n",
	  "2: unknown listen option \"owners\"\n" },
	{ "listen on 127.0.0.1 auth\n",
	  "1: auth needs a credentials table: auth [require] <TABLE>\n" },
	{ "listen on 127.0.0.1 auth <nope>\n",
	  "1: unknown table \"nope\"\n"
	  "1: auth requires tls or smtps: passwords never travel in clear\n" },
	{ "table c { a = b }\nlisten on 127.0.0.1 auth require <c>\n",
	  "2: auth requires tls or smtps: passwords never travel in clear\n" },
	{ "table c { a = b }\nmatch auth auth for any reject\n",
	  "2: auth given twice\n" },
	{ "action r relay\ntransport t direct\n"
	  "route account a account b transport t\n",
	  "3: account given twice\n" },
	{ "action r relay\ntransport t direct\n"
	  "route account <nope> transport t\n",
	  "3: unknown table \"nope\"\n" },
	{ "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls pki p pki p\n",
	  "2: duplicate listen option \"pki\"\n" },
	{ "listen on 127.0.0.1 tag a tag b\n",
	  "1: duplicate listen option \"tag\"\n" },
	{ "listen on 127.0.0.1 hostname a hostname b\n",
	  "1: duplicate listen option \"hostname\"\n" },
	{ "policy p { }\nlisten on 127.0.0.1 policy p policy p\n",
	  "2: duplicate listen option \"policy\"\n" },
	{ "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 tls smtps pki p\n",
	  "2: tls or smtps given twice\n" },
	{ "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 smtps tls require pki p\n",
	  "2: tls or smtps given twice\n" },
	{ "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 smtps smtps pki p\n",
	  "2: tls or smtps given twice\n" },
	{ "pki p cert \"/c\" key \"/k\"\n"
	  "listen on 127.0.0.1 smtps tls pki p\n",
	  "2: tls or smtps given twice\n" },
	{ "listen on 127.0.0.1 tls\n", "1: tls requires a pki\n" },
	{ "listen on 127.0.0.1 smtps\n", "1: smtps requires a pki\n" },
	{ "listen on 127.0.0.1 tls pki nope\n",
	  "1: unknown pki \"nope\"\n" },
	{ "listen on 127.0.0.1 policy nope\n",
	  "1: unknown policy \"nope\"\n" },
	{ "listen on 127.0.0.1 hostname \"a b\"\n",
	  "1: invalid hostname \"a b\"\n" },
	{ "listen on 127.0.0.1 tag "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "1: invalid name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaa\"\n" },
	{ "listen on mx.example.org\n",
	  "1: invalid address \"mx.example.org\"\n" },
	{ "listen on 127.0.0.1\nlisten on 127.0.0.1 port 25\n",
	  "2: duplicate listener on 127.0.0.1 port 25\n" },
	{ "listen on ::1 port 2525\nlisten on localhost port 2525\n",
	  "2: duplicate listener on ::1 port 2525\n" },
	{ "listen 127.0.0.1\n", "1: syntax error\n" },
	/* table */
	{ "table t { a }\ntable t { b }\n", "2: duplicate table \"t\"\n" },
	{ "table t { a }\ntable t file:\"/x\"\n",
	  "2: duplicate table \"t\"\n" },
	{ "table t \"/etc/x\"\n", "1: syntax error\n" },
	{ "table t { a, b = c }\n",
	  "1: table \"t\" mixes list and key = value entries\n" },
	{ "table t { b = c\n a }\n",
	  "2: table \"t\" mixes list and key = value entries\n" },
	{ "table t { a, a }\n",
	  "1: duplicate entry \"a\" in table \"t\"\n" },
	{ "table t { a = b, a = c }\n",
	  "1: duplicate entry \"a\" in table \"t\"\n" },
	/* One error per broken block, then parsing goes on. */
	{ "table t {\n a\n b = = c\n d\n e }\nbogus\n",
	  "3: syntax error\n6: syntax error\n" },
	{ "table \"\" { a }\n", "1: invalid name \"\"\n" },
	/* A block left open at the end of the file. */
	{ "table t {\n a = = b\n c\n", "2: syntax error\n" },
	/* action */
	{ "action a maildir\naction a maildir\n",
	  "2: duplicate action \"a\"\n" },
	{ "action \"\" maildir\n", "1: invalid name \"\"\n" },
	{ "action a maildir user\n", "1: syntax error\n" },
	{ "smtp-max-per-ip 0\n",
	    "1: invalid smtp-max-per-ip 0 (1 to 100000)\n" },
	{ "smtp-max-received 0\n",
	    "1: invalid smtp-max-received 0 (1 to 10000)\n" },
	{ "smtp-max-sessions 100001\n",
	    "1: invalid smtp-max-sessions 100001 (1 to 100000)\n" },
	{ "smtp-timeout\n", "1: syntax error\n" },
	{ "action a maildir virtual <nope>\n",
	    "1: unknown table \"nope\"\n" },
	{ "action a maildir alias <nope>\n",
	    "1: unknown table \"nope\"\n" },
	{ "table m { \"a\" = \"b\" }\naction a maildir alias <m>\n",
	  "2: alias table \"m\" must be a file: table in aliases(5) format\n" },
	{ "action a maildir alias-user x\n", "1: syntax error\n" },
	{ "action a relay alias <x>\n", "1: syntax error\n" },
	{ "action a maildir forward-file maybe\n",
	  "1: forward-file is yes or no\n" },
	{ "action a maildir forward-file no commands\n",
	  "1: forward-file no takes no files or commands\n" },
	{ "action a maildir forward-file yes everything\n",
	  "1: syntax error\n" },
	{ "table v { \"a\" = \"b\" }\n"
	  "action a maildir virtual <v> forward-file yes\n",
	  "2: forward-file and virtual cannot go together\n" },
	{ "action a maildir \"/m/%{nope}\"\n",
	  "1: invalid expansion in \"/m/%{nope}\"\n" },
	{ "action a maildir \"/m/%{user\"\n",
	  "1: invalid expansion in \"/m/%{user\"\n" },
	{ "action a maildir \"Maildir\"\n",
	  "1: maildir path must be absolute or start with ~/\n" },
	{ "action a maildir user \"a b\"\n",
	  "1: invalid user name \"a b\"\n" },
	{ "action a lmtp \"localhost\"\n",
	  "1: invalid lmtp destination \"localhost\"\n" },
	{ "action a lmtp \"host:0\"\n",
	  "1: invalid lmtp destination \"host:0\"\n" },
	{ "action a mda \"\"\n", "1: mda command: empty command\n" },
	{ "action a mda \"sh -c 'x\"\n",
	  "1: mda command: unterminated quote\n" },
	{ "action a mda \"/bin/x %{rcpt.x}\"\n",
	  "1: invalid expansion in \"/bin/x %{rcpt.x}\"\n" },
	{ "action a mbox \"mail/%{user}\"\n",
	  "1: mbox path must name a file, absolute or starting with ~/\n" },
	{ "action a relay host \"smtp://a\" host \"smtp://b\"\n",
	  "1: host given twice\n" },
	{ "action a relay tls tls verify\n", "1: tls given twice\n" },
	{ "action a relay tls verify tls no-verify\n",
	  "1: tls given twice\n" },
	{ "action a relay tls no-verify\naction b relay no-verify\n",
	  "2: syntax error\n" },
	{ "action a relay helo a helo b\n", "1: helo given twice\n" },
	{ "action a relay helo \"a b\"\n", "1: invalid hostname \"a b\"\n" },
	{ "action a relay host \"lmtp://x\"\n",
	  "1: unsupported relay scheme \"lmtp\"\n" },
	{ "action a relay host \"mx.example.org\"\n",
	  "1: invalid relay URL \"mx.example.org\"\n" },
	{ "action a relay host \"smtp://\"\n",
	  "1: invalid relay URL \"smtp://\"\n" },
	{ "action a relay host \"smtp://[::1\"\n",
	  "1: invalid relay URL \"smtp://[::1\"\n" },
	{ "action a relay host \"smtp://a/path\"\n",
	  "1: invalid relay URL \"smtp://a/path\"\n" },
	{ "action a relay host \"smtp://a:99999\"\n",
	  "1: invalid port in relay URL \"smtp://a:99999\"\n" },
	{ "action a relay host \"smtp://a:\"\n",
	  "1: invalid port in relay URL \"smtp://a:\"\n" },
	{ "action a relay host \"smtps://a\" auth <nope>\n",
	  "1: unknown table \"nope\"\n" },
	{ "table l { a }\naction a relay host \"smtps://a\" auth <l>\n",
	  "2: table \"l\" is not a mapping\n" },
	{ "table m { a = b }\naction a relay auth <m>\n",
	  "2: relay auth requires a host\n" },
	{ "table m { a = b }\n"
	  "action a relay host \"smtp://a\" \\\n  auth <m> helo x\n",
	  "3: relay auth requires TLS: use smtps://, smtp+tls:// or "
	  "tls require\n" },
	{ "table m { a = b }\n"
	  "action a relay host \"smtps://a\" auth <m> auth <m>\n",
	  "2: auth given twice\n" },
	{ "action a\n", "1: syntax error\n" },
	{ "action a maildir \"/x\" \"/y\"\n", "1: syntax error\n" },
	/* match */
	{ "match reject from any from local\n", "1: from given twice\n" },
	{ "match reject for any !for local\n", "1: for given twice\n" },
	{ "match tag a tag b reject\n", "1: tag given twice\n" },
	{ "action a maildir\nmatch action a reject\n",
	  "2: match takes one action or reject\n" },
	{ "match reject reject\n", "1: match takes one action or reject\n" },
	{ "match from any action nope\n", "1: unknown action \"nope\"\n" },
	{ "match from src <nope> reject\n", "1: unknown table \"nope\"\n" },
	{ "match from auth <nope> reject\n", "1: unknown table \"nope\"\n" },
	{ "match for domain <nope> reject\n", "1: unknown table \"nope\"\n" },
	{ "match for rcpt-to <nope> reject\n",
	  "1: unknown table \"nope\"\n" },
	{ "match from src 10.0.0.0/33 reject\n",
	  "1: invalid prefix length in \"10.0.0.0/33\"\n" },
	{ "match from src ::/129 reject\n",
	  "1: invalid prefix length in \"::/129\"\n" },
	{ "match from src 10.0.0.0/x reject\n",
	  "1: invalid prefix length in \"10.0.0.0/x\"\n" },
	{ "match from src 111111111111111111111111111111111"
	  "111111111111111111111111111111111111111111111111"
	  "111111111111111111111111111111111111111111111111""1 reject\n",
	  "1: invalid address \"111111111111111111111111111"
	  "111111111111111111111111111111111111111111111111"
	  "111111111111111111111111111111111111111111111111""1111111\"\n" },
	{ "match from src 10.0.0.300 reject\n",
	  "1: invalid address \"10.0.0.300\"\n" },
	{ "match for domain \"a b\" reject\n", "1: invalid domain \"a b\"\n" },
	{ "match from any for any\n", "1: match needs an action or reject\n" },
	{ "match from any \\\n  for any tag x\n",
	  "1: match needs an action or reject\n" },
	{ "match from nowhere reject\n", "1: syntax error\n" },
	{ "match tag \"\" reject\n", "1: invalid name \"\"\n" },
	/* resolver */
	{ "resolver dns.example\n",
	  "1: invalid resolver address \"dns.example\"\n" },
	{ "resolver 127.0.0.1@0\n", "1: invalid resolver port \"0\"\n" },
	{ "resolver 127.0.0.1@dns\n", "1: invalid resolver port \"dns\"\n" },
	{ "resolver aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaa\n",
	  "1: invalid resolver address \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n" },
	/* policy */
	{ "policy p { }\npolicy p { }\n", "2: duplicate policy \"p\"\n" },
	{ "policy \"\" { }\n", "1: invalid name \"\"\n" },
	{ "policy p {\n spf strict\n spf relaxed\n}\n",
	  "3: spf given twice in policy \"p\"\n" },
	{ "policy p { dkim strict; dkim strict }\n",
	  "1: dkim given twice in policy \"p\"\n" },
	{ "policy p { arc strict; arc strict }\n",
	  "1: arc given twice in policy \"p\"\n" },
	{ "policy p { dmarc strict; dmarc strict }\n",
	  "1: dmarc given twice in policy \"p\"\n" },
	{ "policy p { dmarc strict quarantine folder \"../x\" }\n",
	  "1: invalid quarantine folder \"../x\"\n" },
	{ "policy p { dmarc strict quarantine folder \"/x\" }\n",
	  "1: invalid quarantine folder \"/x\"\n" },
	{ "policy p { dmarc strict quarantine folder \"a/b\" }\n",
	  "1: invalid quarantine folder \"a/b\"\n" },
	{ "policy p { dmarc strict quarantine folder \".Junk\" }\n",
	  "1: invalid quarantine folder \".Junk\"\n" },
	{ "policy p { spf sometimes }\n", "1: syntax error\n" },
	{ "policy p { dkim strict max-signatures 0 }\n",
	  "1: invalid max-signatures 0 (1 to 100)\n" },
	{ "policy p {\n dkim relaxed\n max-signatures 101\n}\n",
	  "3: syntax error\n" },
	{ "policy p {\n dkim relaxed max-signatures 101\n}\n",
	  "2: invalid max-signatures 101 (1 to 100)\n" },
	{ "policy p { dkim relaxed max-signatures -1 }\n",
	  "1: invalid max-signatures -1 (1 to 100)\n" },
	{ "policy p { dkim relaxed max-signatures ten }\n",
	  "1: syntax error\n" },
	{ "policy p { dkim relaxed max-signatures }\n",
	  "1: syntax error\n" },
	{ "policy p { dkim strict allow-sha1 allow-sha1 }\n",
	  "1: allow-sha1 given twice in policy \"p\"\n" },
	{ "policy p { dkim strict max-signatures 2 max-signatures 3 }\n",
	  "1: max-signatures given twice in policy \"p\"\n" },
	{ "policy p { allow-sha1 }\n", "1: syntax error\n" },
	{ "policy p { dkim strict fail-partial-body fail-partial-body }\n",
	  "1: fail-partial-body given twice in policy \"p\"\n" },
	{ "policy p { dmarc strict fail-partial-body }\n",
	  "1: syntax error\n" },
	{ "policy p { spf strict allow-sha1 }\n", "1: syntax error\n" },
	{ "policy p {\n spf strict reject-fail\n dkim maybe\n arc none\n}\n"
	  "hostname \"x y\"\n",
	  "3: syntax error\n6: invalid hostname \"x y\"\n" },
	/* dkim-signature */
	{ "dkim-signature d { key \"/k\" domain example.org selector s }\n"
	  "dkim-signature d { key \"/k\" domain example.org selector s }\n",
	  "2: duplicate dkim-signature \"d\"\n" },
	{ "dkim-signature \"\" { key \"/k\" domain x selector s }\n",
	  "1: invalid name \"\"\n" },
	{ "dkim-signature d {\n key \"/k\"\n domain example.org\n}\n",
	  "1: dkim-signature \"d\" needs a selector\n" },
	{ "dkim-signature d { }\n",
	  "1: dkim-signature \"d\" needs a key\n"
	  "1: dkim-signature \"d\" needs a domain\n"
	  "1: dkim-signature \"d\" needs a selector\n" },
	{ "dkim-signature d { key \"/k\" key \"/k\" domain x selector s }\n",
	  "1: key given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x domain x selector s }\n",
	  "1: domain given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s selector s }\n",
	  "1: selector given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain \"a b\" selector s }\n",
	  "1: invalid domain \"a b\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector \"a_b c\" }\n",
	  "1: invalid selector \"a_b c\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  algorithm rsa-sha1 }\n",
	  "2: rsa-sha1 must not be used for signing (RFC 8301 3.1)\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  algorithm dsa }\n", "2: unknown algorithm \"dsa\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  algorithm rsa-sha256 algorithm rsa-sha256 }\n",
	  "2: algorithm given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  canonicalization relaxed/nofws }\n",
	  "2: invalid canonicalization \"relaxed/nofws\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  canonicalization nofws }\n",
	  "2: invalid canonicalization \"nofws\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  canonicalization simple canonicalization simple }\n",
	  "2: canonicalization given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  headers \"to:subject\" }\n",
	  "2: headers must include From (RFC 6376 5.4)\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  headers \"from::to\" }\n",
	  "2: invalid header list \"from::to\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  headers \"from:to \" }\n",
	  "2: invalid header list \"from:to \"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  headers \"from\" headers \"from\" }\n",
	  "2: headers given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  expire 1d expire 0 }\n",
	  "2: invalid duration \"0\": too small\n"
	  "2: expire given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s\n"
	  "  oversign oversign }\n",
	  "2: oversign given twice in dkim-signature \"d\"\n" },
	{ "dkim-signature d { key \"/k\" bogus }\nhostname \"x y\"\n",
	  "1: syntax error\n2: invalid hostname \"x y\"\n" },
	/* sign */
	{ "sign with nope\n", "1: unknown dkim-signature \"nope\"\n" },
	{ "sign with\n", "1: syntax error\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "sign with d d d d d d d d d\n",
	  "2: too many signatures (at most 8)\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "table t { x }\n"
	  "sign with d from <t> domain x\n",
	  "3: sign takes one from or domain\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "sign with d from <nope>\n", "2: unknown table \"nope\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "sign with d tag a tag b\n", "2: tag given twice\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "sign with d domain \"a b\"\n", "2: invalid domain \"a b\"\n" },
	{ "dkim-signature d { key \"/k\" domain x selector s }\n"
	  "sign with d tag \"\"\n", "2: invalid name \"\"\n" },
};

static void
test_errors(void **state)
{
	char	 want[4096], *p;
	size_t	 i, off;
	const char *line;

	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		/* Prefix every expected line with the file name. */
		off = 0;
		for (line = error_cases[i].errors; *line != '\0'; line = p) {
			p = strchr(line, '\n') + 1;
			off += snprintf(want + off, sizeof(want) - off,
			    "test.conf:%.*s", (int)(p - line), line);
			assert_true(off < sizeof(want));
		}
		want[off] = '\0';
		expect_errors(error_cases[i].text, PARSE_NOFILES, want);
	}
}

/* Long tokens, NUL bytes and other hostile bytes. */
static void
test_lexer_limits(void **state)
{
	char		*text;
	size_t		 n = 9000;
	const char	 nul[] = "hostname \"a\0b\"\nhostname x\0\n";
	char		*errors;
	FILE		*fp;
	struct postern_conf *conf;

	text = malloc(n + 32);
	memcpy(text, "hostname \"", 10);
	memset(text + 10, 'a', n);
	memcpy(text + 10 + n, "\"\nbogus\n", 9);
	expect_errors(text, 0, "test.conf:1: string too long\n"
	    "test.conf:2: syntax error\n");
	memcpy(text, "hostname  ", 10);
	expect_errors(text, 0, "test.conf:1: string too long\n"
	    "test.conf:2: syntax error\n");
	free(text);

	fp = open_memstream(&errbuf, &errlen);
	parse_set_errstream(fp);
	conf = parse_config_buffer("test.conf", nul, sizeof(nul) - 1, 0);
	fclose(fp);
	parse_set_errstream(stderr);
	errors = errbuf;
	assert_null(conf);
	assert_string_equal(errors, "test.conf:1: invalid NUL byte\n"
	    "test.conf:2: syntax error\n");
	free(errors);

	expect_errors("hostname \x80\n", 0, "test.conf:1: syntax error\n");
	/* A NULL stream drops the messages but still fails. */
	parse_set_errstream(NULL);
	assert_null(parse_config_buffer("x", "bogus\n", 6, 0));
	parse_set_errstream(stderr);
}

/* Quoted strings: escapes, keywords as names, numbers as text. */
static void
test_strings(void **state)
{
	struct postern_conf	*conf;

	conf = parse_ok(
	    "action \"match\" maildir \"/m/\\\"quoted\\\" \\\\ \\x\"\n"
	    "table \"1\" { 25, 587 }\n", 0);
	assert_string_equal(config_find_action(conf, "match")->path,
	    "/m/\"quoted\" \\ \\x");
	assert_string_equal(table_lookup(config_find_table(conf, "1"), "587"),
	    "");
	free_config(conf);
}

/* The file make run starts with, with its certificate paths relaxed. */
static void
test_default_config(void **state)
{
	struct postern_conf	*conf;
	char			*text, *errors;
	FILE			*in, *fp;
	size_t			 len;

	in = fopen("etc/postern.conf.default", "r");
	assert_non_null(in);	/* the tests run from the top directory */
	text = calloc(1, 65536);
	len = fread(text, 1, 65535, in);
	fclose(in);
	fp = open_memstream(&errbuf, &errlen);
	parse_set_errstream(fp);
	conf = parse_config_buffer("postern.conf.default", text, len,
	    PARSE_NOFILES);
	fclose(fp);
	parse_set_errstream(stderr);
	errors = errbuf;
	assert_string_equal(errors, "");
	free(errors);
	assert_non_null(conf);
	assert_non_null(config_find_pki(conf, "localhost"));
	assert_non_null(config_find_action(conf, "local"));
	assert_non_null(TAILQ_FIRST(&conf->rules));
	/* mail for local users only: no relaying */
	assert_int_equal(TAILQ_FIRST(&conf->rules)->rcpt_for,
	    MATCH_FOR_LOCAL);
	assert_null(TAILQ_NEXT(TAILQ_FIRST(&conf->rules), entry));
	assert_non_null(TAILQ_FIRST(&conf->listeners));
	free_config(conf);
	free(text);
}

/* Submission: auth [require] <T>, [!]auth in match, route account. */
static void
test_submission_statements(void **state)
{
	struct postern_conf	*conf;
	struct rule		*r;
	struct route		*rt;

	conf = parse_ok(
	    "pki mx cert \"/c\" key \"/k\"\n"
	    "table creds file:\"/etc/postern/creds\"\n"
	    "action out relay\n"
	    "transport viaA smarthost \"smtp://127.0.0.40:25\"\n"
	    "listen on 127.0.0.1 port 587 tls pki mx auth require <creds>\n"
	    "listen on 127.0.0.1 port 465 smtps pki mx auth <creds>\n"
	    "match auth from any for any action out\n"
	    "match !auth from any for any reject\n"
	    "route account alice transport viaA\n"
	    "route for domain example.org account bob attempt 2 "
	    "transport viaA\n"
	    "route account <creds> transport viaA\n", PARSE_NOFILES);
	assert_int_equal(TAILQ_FIRST(&conf->listeners)->flags,
	    LISTEN_STARTTLS | LISTEN_AUTH | LISTEN_AUTH_REQUIRE);
	assert_int_equal(TAILQ_LAST(&conf->listeners, listenerlist)->flags,
	    LISTEN_SMTPS | LISTEN_AUTH);
	r = TAILQ_FIRST(&conf->rules);
	assert_int_equal(r->auth, 1);
	assert_int_equal(r->from, MATCH_FROM_ANY);
	r = TAILQ_NEXT(r, entry);
	assert_int_equal(r->auth, -1);
	assert_true(r->reject);
	rt = TAILQ_FIRST(&conf->routes);
	assert_string_equal(rt->account, "alice");
	assert_string_equal(rt->transport, "viaA");
	rt = TAILQ_NEXT(rt, entry);
	assert_string_equal(rt->account, "bob");
	assert_string_equal(rt->for_domain, "example.org");
	assert_int_equal(rt->min_attempt, 2);
	rt = TAILQ_NEXT(rt, entry);
	assert_string_equal(rt->account, "");
	assert_string_equal(rt->account_table, "creds");
	free_config(conf);
}

static void
test_smtp_statements(void **state)
{
	struct postern_conf	*conf;

	conf = parse_ok("listen on 127.0.0.1\n", 0);
	assert_int_equal(conf->smtp.timeout, 300);
	assert_int_equal(conf->smtp.max_sessions, 512);
	assert_int_equal(conf->smtp.max_per_ip, 32);
	assert_int_equal(conf->smtp.max_received, 100);
	assert_int_equal(conf->mta.tls_fallback, 1);	/* the default */
	assert_int_equal(conf->auth_dns_timeout, 20);
	free_config(conf);
	conf = parse_ok("auth-dns-timeout 45s\n", 0);
	assert_int_equal(conf->auth_dns_timeout, 45);
	free_config(conf);
	expect_errors("auth-dns-timeout 6m\n", 0,
	    "test.conf:1: auth-dns-timeout is at most 300s\n");
	conf = parse_ok("smtp-timeout 2m\nsmtp-max-sessions 1000\n"
	    "smtp-max-per-ip 4\nsmtp-max-received 30\n", 0);
	assert_int_equal(conf->smtp.timeout, 120);
	assert_int_equal(conf->smtp.max_sessions, 1000);
	assert_int_equal(conf->smtp.max_per_ip, 4);
	assert_int_equal(conf->smtp.max_received, 30);
	free_config(conf);

	/* limits that hold under attack: defaults, then each set */
	conf = parse_ok("listen on 127.0.0.1\n", 0);
	assert_int_equal(conf->smtp.ipv4_prefix, 32);
	assert_int_equal(conf->smtp.ipv6_prefix, 64);
	assert_int_equal(conf->smtp.data_timeout, 0);	/* smtp-timeout */
	assert_int_equal(conf->smtp.max_lifetime, 3600);
	assert_int_equal(conf->smtp.min_data_rate, 128);
	assert_int_equal(conf->smtp.data_rate_window, 60);
	assert_int_equal(conf->smtp.max_idle_commands, 100);
	assert_int_equal(conf->smtp.auth_max_failures, 10);
	assert_int_equal(conf->smtp.auth_lockout, 900);
	free_config(conf);
	conf = parse_ok("smtp-ipv4-prefix 24\nsmtp-ipv6-prefix 56\n"
	    "smtp-max-per-client 3\nsmtp-data-timeout 1m\n"
	    "smtp-max-lifetime 10m\nsmtp-min-data-rate 1000\n"
	    "smtp-data-rate-window 20s\nsmtp-max-idle-commands 7\n"
	    "smtp-auth-max-failures 5\nsmtp-auth-lockout 1h\n", 0);
	assert_int_equal(conf->smtp.ipv4_prefix, 24);
	assert_int_equal(conf->smtp.ipv6_prefix, 56);
	assert_int_equal(conf->smtp.max_per_ip, 3);
	assert_int_equal(conf->smtp.data_timeout, 60);
	assert_int_equal(conf->smtp.max_lifetime, 600);
	assert_int_equal(conf->smtp.min_data_rate, 1000);
	assert_int_equal(conf->smtp.data_rate_window, 20);
	assert_int_equal(conf->smtp.max_idle_commands, 7);
	assert_int_equal(conf->smtp.auth_max_failures, 5);
	assert_int_equal(conf->smtp.auth_lockout, 3600);
	free_config(conf);
	conf = parse_ok("smtp-min-data-rate 0\nsmtp-auth-max-failures 0\n",
	    0);
	assert_int_equal(conf->smtp.min_data_rate, 0);
	assert_int_equal(conf->smtp.auth_max_failures, 0);
	free_config(conf);
	expect_errors("smtp-ipv4-prefix 33\n", 0,
	    "test.conf:1: invalid smtp-ipv4-prefix 33 (1 to 32)\n");
	expect_errors("smtp-ipv6-prefix 0\n", 0,
	    "test.conf:1: invalid smtp-ipv6-prefix 0 (1 to 128)\n");
	expect_errors("smtp-max-idle-commands 0\n", 0,
	    "test.conf:1: invalid smtp-max-idle-commands 0 (1 to 100000)\n");
	expect_errors("mta-max-slow-sessions 100001\n", 0,
	    "test.conf:1: invalid mta-max-slow-sessions 100001 (0 to 100000)\n");
}

static void
test_mta_statements(void **state)
{
	struct postern_conf	*conf;
	struct action		*t;
	struct route		*r;

	conf = parse_ok("mta-timeout 30s\nmta-connect-timeout 5s\n"
	    "mta-max-sessions 7\nmta-max-per-domain 3\nmta-tls-fallback no\n"
	    "mta-max-slow-sessions 0\n"
	    "mta-ca-file \"/etc/ssl/certs/ca-certificates.crt\"\n"
	    "table s { \"smtp.example.com\" = \"u:p\" }\n"
	    "transport d direct tls require\n"
	    "transport sh smarthost \"smtp://relay.example:2525\"\n"
	    "transport sub submission \"smtp+tls://smtp.example.com\" "
	    "auth <s> mechanisms scram-sha-256 LOGIN\n"
	    "transport px socks5 \"[::1]:1080\"\n"
	    "transport nv submission \"smtps://smtp.example.com\" auth <s> "
	    "tls no-verify\n"
	    "route from domain Example.ORG for domain b.example attempt 4 "
	    "transport sh\n"
	    "route transport px\n", 0);
	assert_int_equal(conf->mta.timeout, 30);
	assert_int_equal(conf->mta.connect_timeout, 5);
	assert_int_equal(conf->mta.max_sessions, 7);
	assert_int_equal(conf->mta.max_per_domain, 3);
	assert_int_equal(conf->mta.max_slow_sessions, 0);
	assert_int_equal(conf->mta.tls_fallback, 0);
	t = config_find_transport(conf, "d");
	assert_int_equal(t->transport, TRANSPORT_DIRECT);
	assert_int_equal(t->relay_tls, RELAY_TLS_REQUIRE);
	t = config_find_transport(conf, "sh");
	assert_int_equal(t->transport, TRANSPORT_SMARTHOST);
	assert_int_equal(t->relay_port, 2525);
	t = config_find_transport(conf, "sub");
	assert_int_equal(t->relay_port, 587);	/* RFC 6409 */
	assert_string_equal(t->relay_auth, "s");
	assert_int_equal(t->relay_tls, RELAY_TLS_VERIFY);	/* auth */
	/* names are case-insensitive (RFC 4422 3.1 gives them in upper case) */
	assert_int_equal(t->relay_mechs,
	    (1U << SASL_MECH_SCRAM_SHA_256) | (1U << SASL_MECH_LOGIN));
	t = config_find_transport(conf, "px");
	assert_int_equal(t->relay_mechs, 0);
	assert_string_equal(t->socks5_host, "::1");
	assert_int_equal(t->socks5_port, 1080);
	assert_null(config_find_action(conf, "px"));
	t = config_find_transport(conf, "nv");
	assert_int_equal(t->relay_tls, RELAY_TLS_NOVERIFY);
	r = TAILQ_FIRST(&conf->routes);
	assert_string_equal(r->from_domain, "example.org");
	assert_string_equal(r->for_domain, "b.example");
	assert_int_equal(r->min_attempt, 4);
	assert_string_equal(r->transport, "sh");
	r = TAILQ_NEXT(r, entry);
	assert_string_equal(r->transport, "px");
	assert_string_equal(r->from_domain, "");
	assert_null(TAILQ_NEXT(r, entry));
	free_config(conf);
}

/* local-users: which system accounts a local part may name. */
static void
test_local_users(void **state)
{
	struct postern_conf	*conf;

	conf = parse_ok("", 0);
	assert_int_equal(conf->local_users.min_uid, 1000);
	assert_string_equal(conf->local_users.allow, "");
	free_config(conf);
	conf = parse_ok("table mailable { daemon, backup }\n"
	    "local-users min-uid 500\nlocal-users allow <mailable>\n", 0);
	assert_int_equal(conf->local_users.min_uid, 500);
	assert_string_equal(conf->local_users.allow, "mailable");
	free_config(conf);
	conf = parse_ok("local-users min-uid 0\n", 0);
	assert_int_equal(conf->local_users.min_uid, 0);
	free_config(conf);
	expect_errors("local-users min-uid 4294967295\n", 0,
	    "test.conf:1: local-users min-uid 4294967295 out of range\n");
	expect_errors("local-users max-uid 10\n", 0,
	    "test.conf:1: local-users: \"max-uid\" is not min-uid or "
	    "allow\n");
	expect_errors("local-users allow <nosuch>\n", 0,
	    "test.conf:1: unknown table \"nosuch\"\n");
	expect_errors("table a { x }\nlocal-users allow <a>\n"
	    "local-users allow <a>\n", 0,
	    "test.conf:3: local-users allow given twice\n");
}

/* mta-mx-allow-network: loopback networks that MX resolution may use. */
static void
test_mta_mx_allow(void **state)
{
	struct postern_conf	*conf;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 text[2048], *errors;
	size_t			 i, len;

	conf = parse_ok("", 0);
	assert_int_equal(conf->mta.nmx_allow, 0);	/* none by default */
	free_config(conf);

	conf = parse_ok("mta-mx-allow-network 127.0.0.0/8\n"
	    "mta-mx-allow-network 127.0.53.2\n"
	    "mta-mx-allow-network ::1\n"
	    "mta-mx-allow-network 0.0.0.0/0\n"
	    "mta-mx-allow-network ::/0\n"
	    "mta-mx-allow-network 64.0.0.0/2\n", 0);
	assert_int_equal(conf->mta.nmx_allow, 6);
	sin = (struct sockaddr_in *)&conf->mta.mx_allow[0];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000000);
	assert_int_equal(conf->mta.mx_allow_prefixlen[0], 8);
	assert_int_equal(conf->mta.mx_allow_prefixlen[1], 32);
	sin6 = (struct sockaddr_in6 *)&conf->mta.mx_allow[2];
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(conf->mta.mx_allow_prefixlen[2], 128);
	assert_int_equal(conf->mta.mx_allow_prefixlen[3], 0);
	free_config(conf);

	expect_errors("mta-mx-allow-network 10.0.0.0/8\n"
	    "mta-mx-allow-network 2001:db8::/32\n"
	    "mta-mx-allow-network ::2\n"
	    "mta-mx-allow-network 128.0.0.0/1\n"
	    "mta-mx-allow-network ::ffff:127.0.0.0/104\n"
	    "mta-mx-allow-network 127.0.0.0/33\n"
	    "mta-mx-allow-network localhost\n"
	    "mta-mx-allow-network\n", 0,
	    "test.conf:1: mta-mx-allow-network 10.0.0.0/8: only loopback "
	    "and unspecified addresses are refused, and this network holds "
	    "none\n"
	    "test.conf:2: mta-mx-allow-network 2001:db8::/32: only loopback "
	    "and unspecified addresses are refused, and this network holds "
	    "none\n"
	    "test.conf:3: mta-mx-allow-network ::2: only loopback "
	    "and unspecified addresses are refused, and this network holds "
	    "none\n"
	    "test.conf:4: mta-mx-allow-network 128.0.0.0/1: only loopback "
	    "and unspecified addresses are refused, and this network holds "
	    "none\n"
	    "test.conf:5: mta-mx-allow-network: write the IPv4 network "
	    "\"::ffff:127.0.0.0/104\" in IPv4 form\n"
	    "test.conf:6: invalid prefix length in \"127.0.0.0/33\"\n"
	    "test.conf:7: invalid address \"localhost\"\n"
	    "test.conf:8: syntax error\n");

	len = 0;
	for (i = 0; i <= CONF_MX_ALLOW_MAX; i++)
		len += snprintf(text + len, sizeof(text) - len,
		    "mta-mx-allow-network 127.0.0.%zu\n", i);
	conf = parse_text(text, 0, &errors);
	assert_null(conf);
	assert_string_equal(errors, "test.conf:17: more than 16 "
	    "mta-mx-allow-network statements\n");
	free(errors);
}

/* Nothing may leak from one parse into the next. */
static void
test_no_state_between_parses(void **state)
{
	struct postern_conf	*conf;
	int			 i;

	for (i = 0; i < 50; i++) {
		parse_set_errstream(NULL);
		assert_null(parse_config_buffer("x",
		    "m = \"port 25\"\ntable t {\n a\n", 17, 0));
		assert_null(parse_config_buffer("x", "include \"", 9, 0));
		parse_set_errstream(stderr);
		/* The macro and the open brace above are gone. */
		expect_errors("listen on 127.0.0.1 $m\n", 0,
		    "test.conf:1: macro \"m\" not defined\n");
		conf = parse_ok("table t { a }\n", 0);
		free_config(conf);
	}
}

/* alias <T> [files] [commands] [alias-user NAME] (lib/aliases.h) */
static void
test_alias_action(void **state)
{
	struct postern_conf	*conf;
	struct action		*a;

	conf = parse_ok("table al file:\"/etc/aliases\"\n"
	    "action plain maildir alias <al>\n"
	    "action all mbox \"/var/mail/%{user}\" alias <al> files commands "
	    "alias-user \"mailrun\"\n"
	    "action m mda \"/usr/bin/procmail\" alias <al> commands\n"
	    "action f maildir forward-file yes\n"
	    "action g maildir alias <al> forward-file no\n"
	    "action h mbox forward-file yes files\n"
	    "action i maildir forward-file yes commands files\n",
	    PARSE_NOFILES);
	/* addresses only unless the action says more */
	a = config_find_action(conf, "f");
	assert_true(a->forward_file);
	assert_false(a->forward_files);
	assert_false(a->forward_commands);
	assert_false(config_find_action(conf, "g")->forward_file);
	a = config_find_action(conf, "h");
	assert_true(a->forward_files);
	assert_false(a->forward_commands);
	a = config_find_action(conf, "i");
	assert_true(a->forward_files);
	assert_true(a->forward_commands);
	assert_true(config_find_table(conf, "al")->aliases);
	a = config_find_action(conf, "plain");
	assert_string_equal(a->alias_table, "al");
	assert_false(a->alias_files);
	assert_false(a->alias_commands);
	assert_null(a->alias_user);
	a = config_find_action(conf, "all");
	assert_true(a->alias_files);
	assert_true(a->alias_commands);
	assert_string_equal(a->alias_user, "mailrun");
	a = config_find_action(conf, "m");
	assert_false(a->alias_files);
	assert_true(a->alias_commands);
	free_config(conf);
}

/* "srs key FILE" (checked as the parent will read it) and "srs domain". */
static void
test_srs_statements(void **state)
{
	struct postern_conf	*conf;
	char			 text[512];
	char			*k1, *k2;

	(void)state;
	k1 = tmpfile_with("0123456789abcdef0123\n");
	k2 = tmpfile_with("an older secret of ours\n");
	snprintf(text, sizeof(text), "srs key \"%s\"\nsrs key \"%s\"\n"
	    "srs domain fwd.example\n", k1, k2);
	conf = parse_ok(text, 0);
	assert_int_equal(conf->srs.nkeys, 2);
	assert_string_equal(conf->srs.key_files[0], k1);
	assert_string_equal(conf->srs.key_files[1], k2);
	assert_string_equal(conf->srs.domain, "fwd.example");
	free_config(conf);
	/* without files (the fuzz target): only the paths */
	conf = parse_ok("srs key \"/nonexistent/srs.key\"\n", PARSE_NOFILES);
	assert_int_equal(conf->srs.nkeys, 1);
	assert_string_equal(conf->srs.domain, "");
	free_config(conf);
	expect_errors("srs key \"relative.key\"\n", PARSE_NOFILES,
	    "test.conf:1: srs key must be an absolute path\n");
	expect_errors("srs domain fwd.example\n", PARSE_NOFILES,
	    "test.conf:1: srs domain without an srs key: SRS needs a secret "
	    "(srs key FILE)\n");
	expect_errors("srs key \"/k\"\nsrs domain \"-bad\"\n", PARSE_NOFILES,
	    "test.conf:2: invalid srs domain \"-bad\"\n");
	expect_errors("srs key \"/1\"\nsrs key \"/2\"\nsrs key \"/3\"\n"
	    "srs key \"/4\"\nsrs key \"/5\"\n", PARSE_NOFILES,
	    "test.conf:5: too many srs keys (at most 4)\n");
	/* a key group or others may read, or too short */
	assert_int_equal(chmod(k1, 0640), 0);
	snprintf(text, sizeof(text), "srs key \"%s\"\n", k1);
	conf = parse_text(text, 0, &errbuf);
	assert_null(conf);
	assert_non_null(strstr(errbuf, "chmod 600"));
	assert_null(strstr(errbuf, "0123456789abcdef"));
	free(errbuf);
	k1 = tmpfile_with("too short\n");
	snprintf(text, sizeof(text), "srs key \"%s\"\n", k1);
	conf = parse_text(text, 0, &errbuf);
	assert_null(conf);
	assert_non_null(strstr(errbuf, "the first line must be a secret"));
	free(errbuf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_alias_action),
		cmocka_unit_test(test_main_statements),
		cmocka_unit_test(test_duration_size),
		cmocka_unit_test(test_conf_helpers),
		cmocka_unit_test_teardown(test_pki_listen, teardown),
		cmocka_unit_test_teardown(test_tables, teardown),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_actions_local),
		cmocka_unit_test(test_match),
		cmocka_unit_test_teardown(test_auth_slots, teardown),
		cmocka_unit_test(test_listen_senders),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test_teardown(test_include, teardown),
		cmocka_unit_test_teardown(test_include_depth, teardown),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test_teardown(test_file_checks, teardown),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_lexer_limits),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_smtp_statements),
		cmocka_unit_test(test_submission_statements),
		cmocka_unit_test(test_mta_statements),
		cmocka_unit_test(test_local_users),
		cmocka_unit_test(test_mta_mx_allow),
		cmocka_unit_test(test_no_state_between_parses),
		cmocka_unit_test(test_srs_statements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The postern.conf(5) grammar, in the style of OpenBSD's parse.y files: a
 * yacc grammar whose actions check each statement and build the
 * configuration, over a hand-written lexer (parse_lex.c) that handles
 * comments, quoted strings, line continuation, $macro expansion and a
 * stack of included files.  Every error is reported as "FILE:LINE:
 * message" and parsing goes on to the end of the file, so one run shows
 * all the mistakes.  The checks of statements that span several tokens
 * are in parse_check.c.
 *
 * Names (pki, table, action, policy, dkim-signature) must be defined before
 * they are used, so that every reference is checked where it is written.
 * The parser keeps no state between two calls: everything it allocates is
 * freed before parse_config() returns.
 *
 * Implements no RFC itself: see parse_check.c for the RFC rules that a
 * configuration is held to.  Deliberately not here: reading characters
 * (parse_lex.c), opening what the configuration names (the processes do
 * that when they start).
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "posternd/parse_int.h"
#include "util.h"

#define YYLLOC_DEFAULT(cur, rhs, n)					\
	do {								\
		if (n)							\
			(cur) = YYRHSLOC(rhs, 1);			\
		else							\
			(cur) = YYRHSLOC(rhs, 0);			\
	} while (0)

struct parse_state	 ps;

int		 yylex(void);
static char	*number_string(long long);
static time_t	 duration_value(const struct conf_loc *, const char *);
static size_t	 size_value(const struct conf_loc *, const char *);
static void	 set_count(const struct conf_loc *, const char *, long long,
		    long long, size_t *);
%}

%define api.location.type {struct conf_loc}

%union {
	long long	 number;
	char		*string;
	time_t		 duration;
	size_t		 size;
}

%token	ALIAS ALIASUSER COMMANDS FILES FORWARDFILE
%token	ACTION ALGORITHM ALLOWSHA1 ANY ARC AUTH CANONICALIZATION CERT
%token	CONTROL DISABLE
%token	DKIM DKIMSIGNATURE DMARC DOMAIN EXPIRE FAILPARTIALBODY FILECOLON
%token	FOLDER FOR FROM
%token	GROUP HEADER HEADERS HELO HOST HOSTNAME INCLUDE KEY LISTEN LMTP LOCAL
%token	LOCALUSERS
%token	VIRTUAL SMTPTIMEOUT SMTPMAXSESSIONS SMTPMAXPERIP SMTPMAXRECEIVED
%token	SMTPIPV4PREFIX SMTPIPV6PREFIX SMTPDATATIMEOUT SMTPMAXLIFETIME
%token	SMTPMINDATARATE SMTPDATARATEWINDOW SMTPMAXIDLECOMMANDS
%token	SMTPAUTHMAXFAILURES SMTPAUTHLOCKOUT
%token	MTATIMEOUT MTACONNECTTIMEOUT MTAMAXSESSIONS MTAMAXPERDOMAIN MTACAFILE
%token	MTAMAXSLOWSESSIONS
%token	MTATLSFALLBACK MTAMXALLOWNETWORK AUTHDNSTIMEOUT
%token	TRANSPORT ROUTE ATTEMPT ARCSEAL ACCOUNT MECHANISMS
%token	MAILDIR MATCH MAX MAXMESSAGESIZE MAXSIGNATURES MBOX MDA MEMORYLIMIT
%token	MINFREE
%token	NOVERIFY ON OVERSIGN
%token	PKI POLICY PORT
%token	QUARANTINE QUEUE RCPTTO REJECT REJECTFAIL RELAXED RELAY REQUIRE
%token	REPORTD RESOLVER RETRY SELECTOR SIGN SMTPS SOCKET SPF SPOOL SRC STRICT TABLE
%token	TAG TLS TRUSTANCHOR USER VERIFY WITH ERROR
%token	REPORTS ORG CONTACT PERIOD MAXPERPERIOD FAILURE SUPPRESSFOR
%token	FAILUREMAX
%token	METRICS ALLOWREMOTE
%token	SRS LIST
%token	<string>	STRING
%token	<number>	NUMBER
%type	<string>	string optstring tableref procname
%type	<number>	port negation mode allowremote
%type	<duration>	duration
%type	<size>		size
%destructor { free($$); } <string>

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar pki '\n'
		| grammar listen '\n'
		| grammar table '\n'
		| grammar action '\n'
		| grammar transport '\n'
		| grammar route '\n'
		| grammar match '\n'
		| grammar queue '\n'
		| grammar resolver '\n'
		| grammar policy '\n'
		| grammar dkimsig '\n'
		| grammar sign '\n'
		| grammar arcseal '\n'
		| grammar reports '\n'
		| grammar srs '\n'
		| grammar list '\n'
		| grammar error '\n' {
			/* The statement is lost; so is what it included. */
			lex_forget_include();
			parse_builders_free();
			yyerrok;
		}
		;

/* A word or a number where the grammar wants text (a port in a table). */
string		: STRING
		| NUMBER		{ $$ = number_string($1); }
		;

srs		: SRS KEY STRING	{ parse_srs_key(&@3, $3); }
		| SRS DOMAIN STRING	{ parse_srs_domain(&@3, $3); }
		;

/* list NAME options: posternd/parse_list.c checks each option. */
list		: LIST STRING { parse_list_begin(&@2, $2); } listopts {
			parse_list_end(&@1);
			free($2);	/* not a mid-rule's: the stack owns it */
		}
		;

listopts	: /* empty */
		| listopts listopt
		;

listopt		: STRING string		{ parse_list_opt(&@1, $1, &@2, $2, 0); }
		| STRING tableref	{ parse_list_opt(&@1, $1, &@2, $2, 1); }
		| STRING DMARC {
			parse_list_opt(&@1, $1, &@2, xstrdup("dmarc"), 0);
		}
		| ARCSEAL WITH STRING	{ parse_list_arc_seal(&@3, $3); }
		| SIGN WITH STRING	{ parse_list_sign(&@3, $3); }
		;

include		: INCLUDE STRING	{ lex_include(&@2, $2); free($2); }
		;

varset		: STRING '=' string	{ lex_macro_set(&@1, $1, $3); }
		;

main		: HOSTNAME STRING {
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid hostname \"%s\"", $2);
			else
				strlcpy(ps.conf->hostname, $2,
				    sizeof(ps.conf->hostname));
			free($2);
		}
		| SPOOL STRING {
			parse_set_path(&@2, &ps.conf->spool_dir, $2, "spool");
		}
		| USER procname STRING {
			parse_set_process_user(&@2, $2, &@3, $3);
		}
		| USER STRING {
			conf_error(&@2, "\"user %s\": each process has a user "
			    "of its own: user smtp|mta|authd|reportd|control "
			    "NAME", $2);
			free($2);
		}
		| CONTROL SOCKET STRING {
			struct sockaddr_un	 sun;

			if (strlen($3) >= sizeof(sun.sun_path)) {
				conf_error(&@3, "control socket path too long");
				free($3);
			} else
				parse_set_path(&@3, &ps.conf->control_socket,
				    $3, "control socket");
		}
		| CONTROL GROUP STRING {
			parse_set_account(&@3, &ps.conf->control_group, $3,
			    "group");
		}
		| METRICS LISTEN ON STRING PORT port allowremote {
			parse_metrics_listen(&@1, &@4, $4, $6, $7);
			free($4);
		}
		| MAXMESSAGESIZE size {
			if ($2 != 0)
				ps.conf->queue.max_message_size = $2;
		}
		| SMTPTIMEOUT duration {
			if ($2 != 0)
				ps.conf->smtp.timeout = $2;
		}
		| SMTPMAXSESSIONS NUMBER {
			set_count(&@2, "smtp-max-sessions", $2, 100000,
			    &ps.conf->smtp.max_sessions);
		}
		| SMTPMAXPERIP NUMBER {
			set_count(&@2, "smtp-max-per-ip", $2, 100000,
			    &ps.conf->smtp.max_per_ip);
		}
		| SMTPMAXRECEIVED NUMBER {
			set_count(&@2, "smtp-max-received", $2, 10000,
			    &ps.conf->smtp.max_received);
		}
		| SMTPIPV4PREFIX NUMBER {
			size_t	 n;

			n = (size_t)ps.conf->smtp.ipv4_prefix;
			set_count(&@2, "smtp-ipv4-prefix", $2, 32, &n);
			ps.conf->smtp.ipv4_prefix = (int)n;
		}
		| SMTPIPV6PREFIX NUMBER {
			size_t	 n;

			n = (size_t)ps.conf->smtp.ipv6_prefix;
			set_count(&@2, "smtp-ipv6-prefix", $2, 128, &n);
			ps.conf->smtp.ipv6_prefix = (int)n;
		}
		| SMTPDATATIMEOUT duration {
			if ($2 != 0)
				ps.conf->smtp.data_timeout = $2;
		}
		| SMTPMAXLIFETIME duration {
			if ($2 != 0)
				ps.conf->smtp.max_lifetime = $2;
		}
		| SMTPMINDATARATE NUMBER {
			if ($2 < 0 || $2 > 1000000000)
				conf_error(&@2, "invalid smtp-min-data-rate "
				    "%lld (0 to 1000000000)", $2);
			else
				ps.conf->smtp.min_data_rate = (size_t)$2;
		}
		| SMTPDATARATEWINDOW duration {
			if ($2 != 0)
				ps.conf->smtp.data_rate_window = $2;
		}
		| SMTPMAXIDLECOMMANDS NUMBER {
			set_count(&@2, "smtp-max-idle-commands", $2, 100000,
			    &ps.conf->smtp.max_idle_commands);
		}
		| SMTPAUTHMAXFAILURES NUMBER {
			/* 0: failures are not counted across sessions */
			if ($2 == 0)
				ps.conf->smtp.auth_max_failures = 0;
			else
				set_count(&@2, "smtp-auth-max-failures", $2,
				    100000, &ps.conf->smtp.auth_max_failures);
		}
		| SMTPAUTHLOCKOUT duration {
			if ($2 != 0)
				ps.conf->smtp.auth_lockout = $2;
		}
		| AUTHDNSTIMEOUT duration {
			if ($2 > CONF_AUTH_DNS_TIMEOUT_MAX)
				conf_error(&@2, "auth-dns-timeout is at most "
				    "%ds", CONF_AUTH_DNS_TIMEOUT_MAX);
			else if ($2 != 0)
				ps.conf->auth_dns_timeout = $2;
		}
		| MTATIMEOUT duration {
			if ($2 != 0)
				ps.conf->mta.timeout = $2;
		}
		| MTACONNECTTIMEOUT duration {
			if ($2 != 0)
				ps.conf->mta.connect_timeout = $2;
		}
		| MTAMAXSESSIONS NUMBER {
			set_count(&@2, "mta-max-sessions", $2, 100000,
			    &ps.conf->mta.max_sessions);
		}
		| MTAMAXPERDOMAIN NUMBER {
			set_count(&@2, "mta-max-per-domain", $2, 1000,
			    &ps.conf->mta.max_per_domain);
		}
		| MTAMAXSLOWSESSIONS NUMBER {
			/* 0: a slow session counts like any other */
			if ($2 < 0 || $2 > 100000)
				conf_error(&@2, "invalid mta-max-slow-sessions "
				    "%lld (0 to 100000)", $2);
			else
				ps.conf->mta.max_slow_sessions = (size_t)$2;
		}
		| MTATLSFALLBACK STRING {
			/* plaintext after a failed opportunistic handshake */
			if (strcmp($2, "yes") == 0)
				ps.conf->mta.tls_fallback = 1;
			else if (strcmp($2, "no") == 0)
				ps.conf->mta.tls_fallback = 0;
			else
				conf_error(&@2, "mta-tls-fallback is yes or "
				    "no, not \"%s\"", $2);
			free($2);
		}
		| LOCALUSERS STRING NUMBER {
			parse_local_users_min_uid(&@2, $2, &@3, $3);
		}
		| LOCALUSERS STRING tableref {
			parse_local_users_allow(&@2, $2, &@3, $3);
		}
		| MTAMXALLOWNETWORK STRING {
			parse_mta_mx_allow(&@2, $2);
			free($2);
		}
		| MTACAFILE STRING {
			if (strlen($2) >= 256) {
				conf_error(&@2, "mta-ca-file path too long");
				free($2);
			} else
				parse_set_path(&@2, &ps.conf->mta.ca_file, $2,
				    "mta-ca-file");
		}
		;

/* A process name, some of which are keywords elsewhere. */
procname	: STRING		{ $$ = $1; }
		| QUEUE			{ $$ = xstrdup("queue"); }
		| CONTROL		{ $$ = xstrdup("control"); }
		| REPORTD		{ $$ = xstrdup("reportd"); }
		;

queue		: QUEUE USER STRING {
			ps.users_loc = @3;
			parse_set_account(&@3,
			    &ps.conf->users[CONF_USER_QUEUE], $3, "user");
		}
		| QUEUE RETRY duration {
			if ($3 != 0) {
				ps.conf->queue.retry_first = $3;
				/* Keep max >= first when only first is set. */
				if (ps.conf->queue.retry_max < $3)
					ps.conf->queue.retry_max = $3;
			}
		}
		| QUEUE RETRY duration MAX duration {
			if ($3 != 0 && $5 != 0) {
				if ($5 < $3)
					conf_error(&@5, "queue retry max is "
					    "shorter than the first retry");
				ps.conf->queue.retry_first = $3;
				ps.conf->queue.retry_max = $5;
			}
		}
		| QUEUE EXPIRE duration {
			if ($3 != 0)
				ps.conf->queue.expire = $3;
		}
		| QUEUE MEMORYLIMIT size {
			ps.memory_loc = @3;
			if ($3 != 0)
				ps.conf->queue.memory_limit = $3;
		}
		| QUEUE MINFREE size {
			if ($3 != 0)
				ps.conf->queue.minfree = $3;
		}
		;

/* 0 after an error, which was reported */
duration	: NUMBER {
			char	*s = number_string($1);

			$$ = duration_value(&@1, s);
			free(s);
		}
		| STRING {
			$$ = duration_value(&@1, $1);
			free($1);
		}
		;

size		: NUMBER {
			char	*s = number_string($1);

			$$ = size_value(&@1, s);
			free(s);
		}
		| STRING {
			$$ = size_value(&@1, $1);
			free($1);
		}
		;

/* 0 after an error, which was reported */
port		: NUMBER {
			if ($1 < 1 || $1 > 65535) {
				conf_error(&@1, "invalid port %lld", $1);
				$$ = 0;
			} else
				$$ = $1;
		}
		| STRING {
			conf_error(&@1, "invalid port \"%s\"", $1);
			free($1);
			$$ = 0;
		}
		;

pki		: PKI STRING CERT STRING KEY STRING {
			parse_add_pki(&@2, $2, &@4, $4, &@6, $6);
		}
		;

allowremote	: /* empty */		{ $$ = 0; }
		| ALLOWREMOTE		{ $$ = 1; }
		;

listen		: LISTEN ON STRING {
			memset(&ps.lo, 0, sizeof(ps.lo));
		} listenopts {
			parse_listen_end(&@1, &@3, $3);
			free($3);
		}
		;

listenopts	: /* empty */
		| listenopts listenopt
		;

listenopt	: PORT port {
			if (ps.lo.seen & LO_PORT)
				conf_error(&@1, "duplicate listen option "
				    "\"port\"");
			ps.lo.seen |= LO_PORT;
			ps.lo.port = $2;
		}
		| TLS {
			if (ps.lo.seen & LO_TLS)
				conf_error(&@1, "tls or smtps given twice");
			ps.lo.seen |= LO_TLS;
			ps.lo.flags |= LISTEN_STARTTLS;
		}
		| TLS REQUIRE {
			if (ps.lo.seen & LO_TLS)
				conf_error(&@1, "tls or smtps given twice");
			ps.lo.seen |= LO_TLS;
			ps.lo.flags |= LISTEN_STARTTLS | LISTEN_TLS_REQUIRE;
		}
		| SMTPS {
			if (ps.lo.seen & LO_TLS)
				conf_error(&@1, "tls or smtps given twice");
			ps.lo.seen |= LO_TLS;
			ps.lo.flags |= LISTEN_SMTPS;
		}
		| PKI STRING {
			if (config_find_pki(ps.conf, $2) == NULL)
				conf_error(&@2, "unknown pki \"%s\"", $2);
			parse_listen_opt_string(&@1, LO_PKI, "pki", ps.lo.pki,
			    sizeof(ps.lo.pki), $2);
		}
		| AUTH {
			conf_error(&@1, "auth needs a credentials table: "
			    "auth [require] <TABLE>");
		}
		| AUTH tableref {
			parse_listen_auth(&@1, &@2, $2, 0);
		}
		| AUTH REQUIRE tableref {
			parse_listen_auth(&@1, &@3, $3, 1);
		}
		/* "senders" is a plain word: a table may well be named so. */
		| STRING tableref {
			parse_listen_senders(&@1, $1, &@2, $2);
		}
		| TAG STRING {
			parse_name_ok(&@2, $2);
			parse_listen_opt_string(&@1, LO_TAG, "tag", ps.lo.tag,
			    sizeof(ps.lo.tag), $2);
		}
		| HOSTNAME STRING {
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid hostname \"%s\"", $2);
			parse_listen_opt_string(&@1, LO_HOSTNAME, "hostname",
			    ps.lo.hostname, sizeof(ps.lo.hostname), $2);
		}
		| POLICY STRING {
			if (config_find_policy(ps.conf, $2) == NULL)
				conf_error(&@2, "unknown policy \"%s\"", $2);
			parse_listen_opt_string(&@1, LO_POLICY, "policy",
			    ps.lo.policy, sizeof(ps.lo.policy), $2);
		}
		;

table		: TABLE STRING FILECOLON STRING {
			parse_table_begin(&@2, $2, TABLE_FILE);
			parse_check_file(&@4, "table file", $4);
			ps.table->path = $4;
			parse_table_end();
			free($2);
		}
		| TABLE STRING STRING {
			/* file:/path written without quotes */
			parse_table_begin(&@2, $2, TABLE_FILE);
			if (strncmp($3, "file:", 5) != 0 || $3[5] == '\0') {
				conf_error(&@3, "syntax error");
				free($3);
			} else {
				parse_check_file(&@3, "table file", $3 + 5);
				ps.table->path = xstrdup($3 + 5);
				free($3);
			}
			parse_table_end();
			free($2);
		}
		| TABLE STRING '{' {
			parse_table_begin(&@2, $2, TABLE_LIST);
		} tableitems '}' {
			parse_table_end();
			free($2);
		}
		;

tableitems	: /* empty */
		| tableitems tableitem
		| tableitems ','
		| tableitems '\n'
		;

tableitem	: string		{ parse_table_add(&@1, $1, NULL); }
		| string '=' string	{ parse_table_add(&@1, $1, $3); }
		;

/* <NAME>: returns 0 and reports when unknown */
tableref	: '<' STRING '>'	{ $$ = $2; }
		;

action		: ACTION STRING {
			parse_action_begin(&@2, $2);
		} actiontype {
			parse_action_end(&@1);
			free($2);
		}
		;

actiontype	: MAILDIR optstring optmaildiruser optalias optforward {
			/* Not a mid-rule action: $2 must leave the stack. */
			parse_action_maildir(&@2, $2);
		}
		| MBOX optstring optmaildiruser optalias optforward {
			parse_action_mbox(&@1, $2);
		}
		| LMTP STRING optrcptto optmaildiruser optalias optforward {
			ps.action->type = ACTION_LMTP;
			ps.action->path = $2;
			if (!conf_valid_lmtp_dest($2))
				conf_error(&@2, "invalid lmtp destination "
				    "\"%s\"", $2);
		}
		| MDA STRING optmaildiruser optalias optforward {
			parse_action_mda(&@2, $2);
		}
		| RELAY {
			ps.action->type = ACTION_RELAY;
		} relayopts
		| REPORTD {
			/* mail for it is a received report (reportd/rpt.h) */
			ps.action->type = ACTION_REPORTD;
		}
		;

optstring	: /* empty */		{ $$ = NULL; }
		| STRING
		;

optmaildiruser	: /* empty */
		| USER STRING {
			parse_set_account(&@2, &ps.action->user, $2, "user");
		}
		| VIRTUAL tableref {
			parse_map_ref(&@2, $2, ps.action->virtual_table,
			    sizeof(ps.action->virtual_table));
		}
		;

/* alias <T> [files] [commands] [alias-user NAME]: lib/aliases.h */
optalias	: /* empty */
		| ALIAS tableref {
			parse_alias_table(&@2, $2);
		} aliasopts
		;

/*
 * forward-file yes|no [files] [commands]: the recipient's ~/.forward
 * (posternd/forward.c); its "/file" and "|command" lines only if named.
 */
optforward	: /* empty */
		| FORWARDFILE STRING {
			if (strcmp($2, "yes") == 0)
				ps.action->forward_file = 1;
			else if (strcmp($2, "no") != 0)
				conf_error(&@2, "forward-file is yes or no");
			if (ps.action->forward_file &&
			    ps.action->virtual_table[0] != '\0')
				conf_error(&@2, "forward-file and virtual "
				    "cannot go together");
			free($2);
		} forwardopts {
			if ((ps.action->forward_files ||
			    ps.action->forward_commands) &&
			    !ps.action->forward_file)
				conf_error(&@2, "forward-file no takes no "
				    "files or commands");
		}
		;

forwardopts	: /* empty */
		| forwardopts forwardopt
		;

forwardopt	: FILES			{ ps.action->forward_files = 1; }
		| COMMANDS		{ ps.action->forward_commands = 1; }
		;

aliasopts	: /* empty */
		| aliasopts aliasopt
		;

aliasopt	: FILES			{ ps.action->alias_files = 1; }
		| COMMANDS		{ ps.action->alias_commands = 1; }
		| ALIASUSER STRING {
			parse_set_account(&@2, &ps.action->alias_user, $2,
			    "alias-user");
		}
		;

optrcptto	: /* empty */
		| RCPTTO		{ ps.action->lmtp_rcpt_to = 1; }
		;

relayopts	: /* empty */
		| relayopts relayopt
		;

relayopt	: HOST STRING {
			parse_rule_once(&@1, RO_HOST, "host");
			parse_relay_host(&@2, $2);
		}
		| TLS {
			parse_rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_OPPORTUNISTIC;
		}
		| TLS REQUIRE {
			parse_rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_REQUIRE;
		}
		| TLS VERIFY {
			parse_rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_VERIFY;
		}
		| TLS NOVERIFY {
			/* the only way to send credentials unverified */
			parse_rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_NOVERIFY;
		}
		| AUTH tableref {
			parse_rule_once(&@1, RO_AUTH, "auth");
			ps.auth_loc = @1;
			parse_map_ref(&@2, $2, ps.action->relay_auth,
			    sizeof(ps.action->relay_auth));
		}
		| MECHANISMS {
			parse_rule_once(&@1, RO_MECHS, "mechanisms");
			ps.mechs_loc = @1;
		} mechlist
		| HELO STRING {
			parse_rule_once(&@1, RO_HELO, "helo");
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid hostname \"%s\"", $2);
			else
				strlcpy(ps.action->relay_helo, $2,
				    sizeof(ps.action->relay_helo));
			free($2);
		}
		;

/* mechanisms NAME ...: the SASL mechanisms the client may use */
mechlist	: mechname
		| mechlist mechname
		;

mechname	: STRING {
			enum sasl_mech	 m;

			if ((m = sasl_mech_from_name($1)) == SASL_MECH_NONE)
				conf_error(&@1, "unknown SASL mechanism "
				    "\"%s\": PLAIN, LOGIN, CRAM-MD5, "
				    "SCRAM-SHA-1 or SCRAM-SHA-256", $1);
			else
				ps.action->relay_mechs |= 1U << m;
			free($1);
		}
		;

/*
 * transport NAME direct | smarthost URL | submission URL | socks5 ADDR:PORT
 * [relay options]: the relay settings that a route may pick.
 */
transport	: TRANSPORT STRING {
			parse_action_begin(&@2, $2);
			ps.action->type = ACTION_RELAY;
		} transporttype relayopts {
			parse_transport_end(&@2);
			free($2);
		}
		;

/* The kinds are plain words, not keywords: "submission" is a common tag. */
transporttype	: STRING {
			parse_transport_kind(&@1, $1, NULL);
		}
		| STRING STRING {
			parse_transport_kind(&@1, $1, $2);
		}
		;

/*
 * route [from domain D] [for domain D] [account NAME | account <T>]
 *     [attempt N] transport NAME
 */
route		: ROUTE {
			ps.route = xcalloc(1, sizeof(*ps.route));
			ps.rule_seen = 0;
		} routeopts TRANSPORT STRING {
			if (config_find_transport(ps.conf, $5) == NULL)
				conf_error(&@5, "no transport \"%s\"", $5);
			strlcpy(ps.route->transport, $5,
			    sizeof(ps.route->transport));
			TAILQ_INSERT_TAIL(&ps.conf->routes, ps.route, entry);
			ps.route = NULL;
			free($5);
		}
		;

routeopts	: /* empty */
		| routeopts routeopt
		;

routeopt	: FROM DOMAIN STRING {
			parse_rule_once(&@1, RO_FROM, "from");
			parse_route_domain(&@3, ps.route->from_domain, $3);
		}
		| FOR DOMAIN STRING {
			parse_rule_once(&@1, RO_FOR, "for");
			parse_route_domain(&@3, ps.route->for_domain, $3);
		}
		| ACCOUNT STRING {
			parse_rule_once(&@1, RO_AUTH, "account");
			if (strlen($2) == 0 || strlen($2) > 255 ||
			    strcspn($2, " \t\r\n") != strlen($2))
				conf_error(&@2, "invalid account \"%s\"", $2);
			else
				strlcpy(ps.route->account, $2,
				    sizeof(ps.route->account));
			free($2);
		}
		| ACCOUNT tableref {
			parse_rule_once(&@1, RO_AUTH, "account");
			parse_table_ref(&@2, $2, ps.route->account_table,
			    sizeof(ps.route->account_table));
		}
		| ATTEMPT NUMBER {
			parse_rule_once(&@1, RO_TAG, "attempt");
			if ($2 < 1 || $2 > 1000)
				conf_error(&@2, "invalid attempt %lld "
				    "(1 to 1000)", $2);
			else
				ps.route->min_attempt = $2;
		}
		;

match		: MATCH {
			ps.rule = xcalloc(1, sizeof(*ps.rule));
			ps.rule_seen = 0;
		} matchopts {
			parse_rule_end(&@1);
		}
		;

matchopts	: /* empty */
		| matchopts matchopt
		;

negation	: /* empty */		{ $$ = 0; }
		| '!'			{ $$ = 1; }
		;

matchopt	: negation FROM {
			parse_rule_once(&@2, RO_FROM, "from");
			ps.rule->from_negate = $1;
		} fromspec
		| negation FOR {
			parse_rule_once(&@2, RO_FOR, "for");
			ps.rule->for_negate = $1;
		} forspec
		| TAG STRING {
			parse_rule_once(&@1, RO_TAG, "tag");
			if (parse_name_ok(&@2, $2))
				strlcpy(ps.rule->tag, $2, sizeof(ps.rule->tag));
			free($2);
		}
		| ACTION STRING {
			parse_rule_once(&@1, RO_ACTION, "action");
			if (config_find_action(ps.conf, $2) == NULL)
				conf_error(&@2, "unknown action \"%s\"", $2);
			else
				strlcpy(ps.rule->action, $2,
				    sizeof(ps.rule->action));
			free($2);
		}
		| REJECT {
			parse_rule_once(&@1, RO_ACTION, "reject");
			ps.rule->reject = 1;
		}
		| negation AUTH {
			/* [!]auth: the session authenticated (RFC 4954) */
			parse_rule_once(&@2, RO_AUTH, "auth");
			ps.rule->auth = $1 ? -1 : 1;
		}
		;

fromspec	: ANY			{ ps.rule->from = MATCH_FROM_ANY; }
		| LOCAL			{ ps.rule->from = MATCH_FROM_LOCAL; }
		| SRC tableref {
			ps.rule->from = MATCH_FROM_SRC_TABLE;
			parse_table_ref(&@2, $2, ps.rule->from_table,
			    sizeof(ps.rule->from_table));
		}
		| SRC STRING {
			ps.rule->from = MATCH_FROM_SRC_NET;
			parse_rule_src_net(&@2, $2);
			free($2);
		}
		| AUTH			{ ps.rule->from = MATCH_FROM_AUTH; }
		| AUTH tableref {
			ps.rule->from = MATCH_FROM_AUTH;
			parse_table_ref(&@2, $2, ps.rule->from_table,
			    sizeof(ps.rule->from_table));
		}
		;

forspec		: ANY			{ ps.rule->rcpt_for = MATCH_FOR_ANY; }
		| LOCAL			{ ps.rule->rcpt_for = MATCH_FOR_LOCAL; }
		| DOMAIN tableref {
			ps.rule->rcpt_for = MATCH_FOR_DOMAIN_TABLE;
			parse_table_ref(&@2, $2, ps.rule->for_table,
			    sizeof(ps.rule->for_table));
		}
		| DOMAIN STRING {
			ps.rule->rcpt_for = MATCH_FOR_DOMAIN;
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid domain \"%s\"", $2);
			else
				strlcpy(ps.rule->for_domain, $2,
				    sizeof(ps.rule->for_domain));
			free($2);
		}
		| RCPTTO tableref {
			ps.rule->rcpt_for = MATCH_FOR_RCPT_TABLE;
			parse_table_ref(&@2, $2, ps.rule->for_table,
			    sizeof(ps.rule->for_table));
		}
		;

resolver	: RESOLVER STRING {
			parse_resolver_set(&@2, $2);
			free($2);
		}
		| RESOLVER STRING TRUSTANCHOR STRING {
			parse_resolver_set(&@2, $2);
			free($2);
			parse_check_file(&@4, "trust anchor", $4);
			free(ps.conf->resolver.trust_anchor);
			ps.conf->resolver.trust_anchor = $4;
		}
		;

policy		: POLICY STRING '{' {
			parse_policy_begin(&@2, $2);
		} policyitems '}' {
			free($2);
			parse_policy_end();
		}
		;

policyitems	: /* empty */
		| policyitems policyitem
		| policyitems '\n'
		| policyitems ';'
		;

mode		: RELAXED		{ $$ = POLICY_RELAXED; }
		| STRICT		{ $$ = POLICY_STRICT; }
		| DISABLE		{ $$ = POLICY_DISABLE; }
		;

policyitem	: SPF mode optrejectfail {
			parse_policy_once(&@1, 0x01, "spf");
			ps.policy->spf = $2;
		}
		| DKIM mode dkimopts {
			parse_policy_once(&@1, 0x02, "dkim");
			ps.policy->dkim = $2;
		}
		| ARC mode {
			parse_policy_once(&@1, 0x04, "arc");
			ps.policy->arc = $2;
		}
		| DMARC mode optquarantine {
			parse_policy_once(&@1, 0x08, "dmarc");
			ps.policy->dmarc = $2;
		}
		;

dkimopts	: /* empty */
		| dkimopts dkimopt
		;

dkimopt		: ALLOWSHA1 {
			/* RFC 8301 3.1: rsa-sha1 fails unless allowed. */
			parse_policy_once(&@1, 0x10, "allow-sha1");
			ps.policy->dkim_allow_sha1 = 1;
		}
		| FAILPARTIALBODY {
			/* RFC 6376 8.2: l= shorter than the body fails. */
			parse_policy_once(&@1, 0x40, "fail-partial-body");
			ps.policy->dkim_fail_partial_body = 1;
		}
		| MAXSIGNATURES NUMBER {
			parse_policy_once(&@1, 0x20, "max-signatures");
			if ($2 < 1 || $2 > CONF_DKIM_MAX_SIGS_LIMIT)
				conf_error(&@2, "invalid max-signatures %lld "
				    "(1 to %d)", $2, CONF_DKIM_MAX_SIGS_LIMIT);
			else
				ps.policy->dkim_max_signatures =
				    (unsigned int)$2;
		}
		;

optrejectfail	: /* empty */
		| REJECTFAIL		{ ps.policy->spf_reject_fail = 1; }
		;

optquarantine	: /* empty */
		| QUARANTINE HEADER {
			ps.policy->quarantine = QUARANTINE_HEADER;
		}
		| QUARANTINE FOLDER STRING {
			ps.policy->quarantine = QUARANTINE_FOLDER;
			parse_quarantine_folder(&@3, $3);
			free($3);
		}
		;

dkimsig		: DKIMSIGNATURE STRING '{' {
			parse_dkim_begin(&@2, $2);
		} dkimitems '}' {
			free($2);
			parse_dkim_end(&@1);
		}
		;

dkimitems	: /* empty */
		| dkimitems dkimitem
		| dkimitems '\n'
		| dkimitems ';'
		;

dkimitem	: KEY STRING {
			parse_dkim_once(&@1, 0x01, "key");
			parse_check_file(&@2, "key", $2);
			free(ps.dkim->key_file);
			ps.dkim->key_file = $2;
		}
		| DOMAIN STRING {
			parse_dkim_once(&@1, 0x02, "domain");
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid domain \"%s\"", $2);
			else
				strlcpy(ps.dkim->domain, $2,
				    sizeof(ps.dkim->domain));
			free($2);
		}
		| SELECTOR STRING {
			parse_dkim_once(&@1, 0x04, "selector");
			/* RFC 6376 3.1: a selector is a sub-domain. */
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid selector \"%s\"", $2);
			else
				strlcpy(ps.dkim->selector, $2,
				    sizeof(ps.dkim->selector));
			free($2);
		}
		| ALGORITHM STRING {
			parse_dkim_once(&@1, 0x08, "algorithm");
			parse_dkim_algorithm(&@2, $2);
			free($2);
		}
		| CANONICALIZATION STRING {
			parse_dkim_once(&@1, 0x10, "canonicalization");
			parse_dkim_canon(&@2, $2);
			free($2);
		}
		| CANONICALIZATION RELAXED {
			parse_dkim_once(&@1, 0x10, "canonicalization");
			parse_dkim_canon(&@2, "relaxed");
		}
		| HEADERS STRING {
			parse_dkim_once(&@1, 0x20, "headers");
			parse_dkim_headers(&@2, $2);
		}
		| EXPIRE duration {
			parse_dkim_once(&@1, 0x40, "expire");
			ps.dkim->expire = $2;
		}
		| OVERSIGN {
			parse_dkim_once(&@1, 0x80, "oversign");
			ps.dkim->oversign = 1;
		}
		;

sign		: SIGN WITH {
			ps.sign = xcalloc(1, sizeof(*ps.sign));
			ps.sign_seen = 0;
		} signnames signopts {
			TAILQ_INSERT_TAIL(&ps.conf->sign_rules, ps.sign, entry);
			ps.sign = NULL;
		}
		;

/*
 * arc-seal with NAME [tag NAME]: ARC-seal relayed mail (RFC 8617 5.1)
 * with the key, domain and selector of a dkim-signature block.
 */
arcseal		: ARCSEAL WITH {
			ps.sign = xcalloc(1, sizeof(*ps.sign));
			ps.sign_seen = 0;
		} STRING { parse_sign_add(&@4, $4); free($4); } arcsealopt {
			TAILQ_INSERT_TAIL(&ps.conf->arc_seal_rules, ps.sign,
			    entry);
			ps.sign = NULL;
		}
		;

arcsealopt	: /* empty */
		| TAG STRING {
			if (parse_name_ok(&@2, $2))
				strlcpy(ps.sign->tag, $2, sizeof(ps.sign->tag));
			free($2);
		}
		;

/* What reportd sends: posternd/parse_reports.c checks each statement. */
reports		: REPORTS FROM STRING ORG STRING {
			parse_reports_from(&@3, $3, &@5, $5, NULL, NULL);
			free($3);
			free($5);
		}
		| REPORTS FROM STRING ORG STRING CONTACT STRING {
			parse_reports_from(&@3, $3, &@5, $5, &@7, $7);
			free($3);
			free($5);
			free($7);
		}
		| REPORTS PERIOD STRING {
			parse_reports_period(&@3, $3);
			free($3);
		}
		| REPORTS SIGN WITH STRING {
			parse_reports_sign(&@4, $4);
			free($4);
		}
		| REPORTS MAXPERPERIOD NUMBER {
			parse_reports_max(&@3, $3);
		}
		| REPORTS FAILURE STRING {
			parse_reports_failure(&@3, $3);
			free($3);
		}
		| REPORTS FAILUREMAX NUMBER {
			parse_reports_failure_max(&@3, $3);
		}
		| REPORTS SUPPRESSFOR duration {
			if ($3 != 0)
				ps.conf->reports.suppress = $3;
		}
		;

signnames	: STRING		{ parse_sign_add(&@1, $1); free($1); }
		| signnames STRING	{ parse_sign_add(&@2, $2); free($2); }
		;

signopts	: /* empty */
		| signopts signopt
		;

signopt		: FROM tableref {
			parse_sign_once(&@1, 0x01, "from");
			parse_table_ref(&@2, $2, ps.sign->from_table,
			    sizeof(ps.sign->from_table));
		}
		| DOMAIN STRING {
			parse_sign_once(&@1, 0x01, "domain");
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid domain \"%s\"", $2);
			else
				strlcpy(ps.sign->domain, $2,
				    sizeof(ps.sign->domain));
			free($2);
		}
		| TAG STRING {
			parse_sign_once(&@1, 0x02, "tag");
			if (parse_name_ok(&@2, $2))
				strlcpy(ps.sign->tag, $2, sizeof(ps.sign->tag));
			free($2);
		}
		;

%%

struct keyword {
	const char	*name;
	int		 token;
};

/* Sorted for bsearch(3). */
static const struct keyword keywords[] = {
	{ "account",		ACCOUNT },
	{ "action",		ACTION },
	{ "algorithm",		ALGORITHM },
	{ "alias",		ALIAS },
	{ "alias-user",		ALIASUSER },
	{ "allow-remote",	ALLOWREMOTE },
	{ "allow-sha1",		ALLOWSHA1 },
	{ "any",		ANY },
	{ "arc",		ARC },
	{ "arc-seal",	ARCSEAL },
	{ "attempt",		ATTEMPT },
	{ "auth",		AUTH },
	{ "auth-dns-timeout",	AUTHDNSTIMEOUT },
	{ "canonicalization",	CANONICALIZATION },
	{ "cert",		CERT },
	{ "commands",		COMMANDS },
	{ "contact",		CONTACT },
	{ "control",		CONTROL },
	{ "disable",		DISABLE },
	{ "dkim",		DKIM },
	{ "dkim-signature",	DKIMSIGNATURE },
	{ "dmarc",		DMARC },
	{ "domain",		DOMAIN },
	{ "expire",		EXPIRE },
	{ "fail-partial-body",	FAILPARTIALBODY },
	{ "failure",		FAILURE },
	{ "failure-max",	FAILUREMAX },
	{ "file:",		FILECOLON },
	{ "files",		FILES },
	{ "folder",		FOLDER },
	{ "for",		FOR },
	{ "forward-file",	FORWARDFILE },
	{ "from",		FROM },
	{ "group",		GROUP },
	{ "header",		HEADER },
	{ "headers",		HEADERS },
	{ "helo",		HELO },
	{ "host",		HOST },
	{ "hostname",		HOSTNAME },
	{ "include",		INCLUDE },
	{ "key",		KEY },
	{ "list",		LIST },
	{ "listen",		LISTEN },
	{ "lmtp",		LMTP },
	{ "local",		LOCAL },
	{ "local-users",	LOCALUSERS },
	{ "maildir",		MAILDIR },
	{ "match",		MATCH },
	{ "max",		MAX },
	{ "max-message-size",	MAXMESSAGESIZE },
	{ "max-per-period",	MAXPERPERIOD },
	{ "max-signatures",	MAXSIGNATURES },
	{ "mbox",		MBOX },
	{ "mda",		MDA },
	{ "mechanisms",		MECHANISMS },
	{ "memory-limit",	MEMORYLIMIT },
	{ "metrics",		METRICS },
	{ "minfree",		MINFREE },
	{ "mta-ca-file",	MTACAFILE },
	{ "mta-connect-timeout", MTACONNECTTIMEOUT },
	{ "mta-max-per-domain",	MTAMAXPERDOMAIN },
	{ "mta-max-sessions",	MTAMAXSESSIONS },
	{ "mta-max-slow-sessions", MTAMAXSLOWSESSIONS },
	{ "mta-mx-allow-network", MTAMXALLOWNETWORK },
	{ "mta-timeout",	MTATIMEOUT },
	{ "mta-tls-fallback",	MTATLSFALLBACK },
	{ "no-verify",		NOVERIFY },
	{ "on",			ON },
	{ "org",		ORG },
	{ "oversign",		OVERSIGN },
	{ "period",		PERIOD },
	{ "pki",		PKI },
	{ "policy",		POLICY },
	{ "port",		PORT },
	{ "quarantine",		QUARANTINE },
	{ "queue",		QUEUE },
	{ "rcpt-to",		RCPTTO },
	{ "reject",		REJECT },
	{ "reject-fail",	REJECTFAIL },
	{ "relaxed",		RELAXED },
	{ "relay",		RELAY },
	{ "reportd",		REPORTD },
	{ "reports",		REPORTS },
	{ "require",		REQUIRE },
	{ "resolver",		RESOLVER },
	{ "retry",		RETRY },
	{ "route",		ROUTE },
	{ "selector",		SELECTOR },
	{ "sign",		SIGN },
	{ "smtp-auth-lockout",	SMTPAUTHLOCKOUT },
	{ "smtp-auth-max-failures", SMTPAUTHMAXFAILURES },
	{ "smtp-data-rate-window", SMTPDATARATEWINDOW },
	{ "smtp-data-timeout",	SMTPDATATIMEOUT },
	{ "smtp-ipv4-prefix",	SMTPIPV4PREFIX },
	{ "smtp-ipv6-prefix",	SMTPIPV6PREFIX },
	{ "smtp-max-idle-commands", SMTPMAXIDLECOMMANDS },
	{ "smtp-max-lifetime",	SMTPMAXLIFETIME },
	{ "smtp-max-per-client", SMTPMAXPERIP },
	{ "smtp-max-per-ip",	SMTPMAXPERIP },
	{ "smtp-max-received",	SMTPMAXRECEIVED },
	{ "smtp-max-sessions",	SMTPMAXSESSIONS },
	{ "smtp-min-data-rate",	SMTPMINDATARATE },
	{ "smtp-timeout",	SMTPTIMEOUT },
	{ "smtps",		SMTPS },
	{ "socket",		SOCKET },
	{ "spf",		SPF },
	{ "spool",		SPOOL },
	{ "src",		SRC },
	{ "srs",		SRS },
	{ "strict",		STRICT },
	{ "suppress-for",	SUPPRESSFOR },
	{ "table",		TABLE },
	{ "tag",		TAG },
	{ "tls",		TLS },
	{ "transport",		TRANSPORT },
	{ "trust-anchor",	TRUSTANCHOR },
	{ "user",		USER },
	{ "verify",		VERIFY },
	{ "virtual",		VIRTUAL },
	{ "with",		WITH },
};

static int
keyword_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->name);
}

static int
lookup_keyword(const char *s)
{
	const struct keyword	*kw;

	kw = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), keyword_cmp);
	return kw != NULL ? kw->token : STRING;
}

/* The lexer's next lexeme as a token of the grammar. */
int
yylex(void)
{
	struct lexeme	 lx;
	int		 kind, tok;

	kind = lex_next(&lx);
	yylloc = lx.loc;
	switch (kind) {
	case LEX_QUOTED:
		yylval.string = xstrdup(lx.text);
		return STRING;
	case LEX_WORD:
		if ((tok = lookup_keyword(lx.text)) == STRING)
			yylval.string = xstrdup(lx.text);
		return tok;
	case LEX_NUMBER:
		yylval.number = lx.number;
		return NUMBER;
	case LEX_ERROR:
		return ERROR;
	default:
		/* '\n', another character, or 0 at the end */
		return kind;
	}
}

static char *
number_string(long long n)
{
	char	*s;

	xasprintf(&s, "%lld", n);
	return s;
}

/* A duration ("30s", "5m", ...), or 0 after an error (reported). */
static time_t
duration_value(const struct conf_loc *loc, const char *s)
{
	const char	*errstr;
	time_t		 d;

	if (parse_duration(s, &d, &errstr) == -1) {
		conf_error(loc, "invalid duration \"%s\": %s", s, errstr);
		return 0;
	}
	return d;
}

/* A size ("35M", ...), or 0 after an error (reported). */
static size_t
size_value(const struct conf_loc *loc, const char *s)
{
	const char	*errstr;
	size_t		 sz;

	if (parse_size(s, &sz, &errstr) == -1) {
		conf_error(loc, "invalid size \"%s\": %s", s, errstr);
		return 0;
	}
	return sz;
}

/* A limit from 1 to max; dst is left alone after an error (reported). */
static void
set_count(const struct conf_loc *loc, const char *what, long long n,
    long long max, size_t *dst)
{
	if (n < 1 || n > max)
		conf_error(loc, "invalid %s %lld (1 to %lld)", what, n, max);
	else
		*dst = (size_t)n;
}

/* Entry points */

static struct postern_conf *
parse_run(const char *name, int flags)
{
	struct postern_conf	*conf;

	ps.flags = flags;
	ps.conf = config_new();
	ps.conf->file = xstrdup(name);

	if (yyparse() != 0 && ps.errors == 0)
		ps.errors++;
	if (ps.errors == 0) {
		parse_check_queue();
		parse_check_users();
		parse_check_srs();
	}

	parse_builders_free();
	lex_free();
	conf = ps.conf;
	if (ps.errors > 0) {
		free_config(conf);
		conf = NULL;
	}
	memset(&ps, 0, sizeof(ps));
	return conf;
}

struct postern_conf *
parse_config(const char *file, int verbose)
{
	struct stat	 st;
	FILE		*fp, *out;

	if ((fp = fopen(file, "r")) == NULL) {
		if ((out = conf_errstream()) != NULL)
			fprintf(out, "%s: %s\n", file, strerror(errno));
		return NULL;
	}
	/* A directory opens, and would read as an empty file. */
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		if ((out = conf_errstream()) != NULL)
			fprintf(out, "%s: not a regular file\n", file);
		fclose(fp);
		return NULL;
	}
	memset(&ps, 0, sizeof(ps));
	lex_init();
	lex_push_file(file, fp, &st);
	return parse_run(file, verbose ? PARSE_VERBOSE : 0);
}

struct postern_conf *
parse_config_buffer(const char *name, const char *buf, size_t len, int flags)
{
	memset(&ps, 0, sizeof(ps));
	lex_init();
	lex_push_buffer(name, buf, len);
	return parse_run(name, flags);
}

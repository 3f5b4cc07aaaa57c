/*
 * The postern.conf(5) grammar, in the style of OpenBSD's parse.y files: a
 * yacc grammar with a hand-written lexer that handles comments, quoted
 * strings, line continuation, $macro expansion and a stack of included
 * files.  Every error is reported as "FILE:LINE: message" and parsing goes
 * on to the end of the file, so one run shows all the mistakes.
 *
 * Names (pki, table, action, policy, dkim-signature) must be defined before
 * they are used, so that every reference is checked where it is written.
 * The parser keeps no state between two calls: everything it allocates is
 * freed before parse_config() returns.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "config.h"
#include "util.h"

/* Where a token was read: the file and line that the user wrote it on. */
struct conf_loc {
	const char	*file;
	int		 line;
};
#define YYLTYPE			struct conf_loc
#define YYLTYPE_IS_DECLARED	1
#define YYLLOC_DEFAULT(cur, rhs, n)					\
	do {								\
		if (n)							\
			(cur) = YYRHSLOC(rhs, 1);			\
		else							\
			(cur) = YYRHSLOC(rhs, 0);			\
	} while (0)

#define STRING_MAX		8192	/* longest token */
#define INCLUDE_DEPTH_MAX	16	/* nested include files */
#define MACRO_DEPTH_MAX		8	/* macros expanding macros */
#define MACRO_EXPANSIONS_MAX	10000	/* per parse, against blowups */
#define PUSHBACK_MAX		4

/*
 * An input source: a file, a memory buffer, or the value of a macro being
 * expanded (tokens from it are reported at the line of the $reference).
 */
struct file {
	TAILQ_ENTRY(file)	 entry;		/* every source, freed at end */
	struct file		*parent;
	char			*name;
	FILE			*stream;	/* or the buffer: */
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	char			*owned;		/* buf when we copied it */
	int			 lineno;
	int			 is_macro;
	int			 pushback[PUSHBACK_MAX];
	int			 npush;
	dev_t			 dev;		/* to find include loops */
	ino_t			 ino;
	int			 has_ino;
};

struct macro {
	TAILQ_ENTRY(macro)	 entry;
	char			*name;
	char			*value;
};

/* listen on ... options, collected until the statement ends */
#define LO_PORT		0x01
#define LO_TLS		0x02
#define LO_PKI		0x04
#define LO_AUTH		0x08
#define LO_TAG		0x10
#define LO_HOSTNAME	0x20
#define LO_POLICY	0x40
#define LO_SENDERS	0x80

struct listen_opts {
	unsigned int	 seen;
	int		 port;
	int		 flags;
	char		 pki[CONF_NAME_MAX];
	char		 tag[CONF_NAME_MAX];
	char		 hostname[256];
	char		 policy[CONF_NAME_MAX];
	char		 auth_table[CONF_NAME_MAX];
	char		 senders_table[CONF_NAME_MAX];
	YYLTYPE		 senders_loc;
};

/* bits for options that may be given once */
#define RO_FROM		0x01
#define RO_FOR		0x02
#define RO_TAG		0x04
#define RO_ACTION	0x08
#define RO_HOST		0x10
#define RO_TLS		0x20
#define RO_AUTH		0x40
#define RO_HELO		0x80
#define RO_MECHS	0x100

static struct {
	struct postern_conf	*conf;
	int			 flags;
	int			 errors;
	TAILQ_HEAD(, file)	 files;
	struct file		*file;		/* top of the input stack */
	struct file		*pending;	/* include, pushed at its '\n' */
	TAILQ_HEAD(, macro)	 macros;
	int			 expansions;
	int			 last_tok;
	int			 lexerr;	/* lexer said why: no "syntax error" */
	int			 brace_depth;
	int			 skip_block;	/* after an error inside { } */

	/* objects being built by multi-token statements */
	struct listen_opts	 lo;
	struct table		*table;
	int			 table_dup;
	struct action		*action;
	int			 action_dup;
	YYLTYPE			 auth_loc;
	YYLTYPE			 mechs_loc;
	struct rule		*rule;
	unsigned int		 rule_seen;
	struct route		*route;
	struct policy		*policy;
	unsigned int		 policy_seen;
	int			 policy_dup;
	struct dkim_signature	*dkim;
	unsigned int		 dkim_seen;
	int			 dkim_dup;
	struct sign_rule	*sign;
	unsigned int		 sign_seen;
} ps;

static FILE	*errstream;
static int	 errstream_set;

int		 yylex(void);
void		 yyerror(const char *);
static void	 conf_error(const YYLTYPE *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int	 name_ok(const YYLTYPE *, const char *);
static void	 check_file(const YYLTYPE *, const char *, const char *);
static char	*number_string(long long);
static void	 include_file(const YYLTYPE *, const char *);
static void	 macro_set(const YYLTYPE *, char *, char *);
static void	 set_path(const YYLTYPE *, char **, char *, const char *);
static void	 socks5_proxy(const YYLTYPE *, char *);
static void	 transport_end(const YYLTYPE *);
static void	 transport_kind(const YYLTYPE *, char *, char *);
static void	 route_domain(const YYLTYPE *, char *, char *);
static void	 set_account(const YYLTYPE *, char **, char *, const char *);
static void	 add_pki(const YYLTYPE *, char *, const YYLTYPE *, char *,
		    const YYLTYPE *, char *);
static void	 listen_opt_string(const YYLTYPE *, unsigned int,
		    const char *, char *, size_t, char *);
static void	 listen_end(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 listen_auth(const YYLTYPE *, const YYLTYPE *, char *, int);
static void	 listen_senders(const YYLTYPE *, char *, const YYLTYPE *,
		    char *);
static void	 table_begin(const YYLTYPE *, const char *, enum table_type);
static void	 table_add(const YYLTYPE *, char *, char *);
static void	 table_end(void);
static int	 table_ref(const YYLTYPE *, char *, char *, size_t);
static void	 action_begin(const YYLTYPE *, const char *);
static void	 action_end(const YYLTYPE *);
static void	 relay_host(const YYLTYPE *, char *);
static void	 rule_once(const YYLTYPE *, unsigned int, const char *);
static void	 rule_src_net(const YYLTYPE *, const char *);
static void	 rule_end(const YYLTYPE *);
static void	 resolver_set(const YYLTYPE *, const char *);
static void	 policy_once(const YYLTYPE *, unsigned int, const char *);
static void	 dkim_once(const YYLTYPE *, unsigned int, const char *);
static void	 dkim_canon(const YYLTYPE *, const char *);
static void	 dkim_headers(const YYLTYPE *, char *);
static void	 dkim_end(const YYLTYPE *);
static void	 sign_add(const YYLTYPE *, const char *);
static void	 sign_once(const YYLTYPE *, unsigned int, const char *);
static void	 builders_free(void);
%}

%union {
	long long	 number;
	char		*string;
	time_t		 duration;
	size_t		 size;
}

%token	ACTION ALGORITHM ALLOWSHA1 ANY ARC AUTH CANONICALIZATION CERT
%token	CONTROL DISABLE
%token	DKIM DKIMSIGNATURE DMARC DOMAIN EXPIRE FILECOLON FOLDER FOR FROM
%token	GROUP HEADER HEADERS HELO HOST HOSTNAME INCLUDE KEY LISTEN LMTP LOCAL
%token	VIRTUAL SMTPTIMEOUT SMTPMAXSESSIONS SMTPMAXPERIP
%token	MTATIMEOUT MTACONNECTTIMEOUT MTAMAXSESSIONS MTAMAXPERDOMAIN MTACAFILE
%token	MTATLSFALLBACK
%token	TRANSPORT ROUTE ATTEMPT ARCSEAL ACCOUNT MECHANISMS
%token	MAILDIR MATCH MAX MAXMESSAGESIZE MAXSIGNATURES MBOX MDA ON OVERSIGN
%token	PKI POLICY PORT
%token	QUARANTINE QUEUE RCPTTO REJECT REJECTFAIL RELAXED RELAY REQUIRE
%token	RESOLVER RETRY SELECTOR SIGN SMTPS SOCKET SPF SPOOL SRC STRICT TABLE
%token	TAG TLS TRUSTANCHOR USER VERIFY WITH ERROR
%token	<string>	STRING
%token	<number>	NUMBER
%type	<string>	string optstring tableref
%type	<number>	port negation mode
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
		| grammar error '\n' {
			/* The statement is lost; so is what it included. */
			ps.pending = NULL;
			builders_free();
			yyerrok;
		}
		;

/* A word or a number where the grammar wants text (a port in a table). */
string		: STRING
		| NUMBER		{ $$ = number_string($1); }
		;

include		: INCLUDE STRING	{ include_file(&@2, $2); free($2); }
		;

varset		: STRING '=' string	{ macro_set(&@1, $1, $3); }
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
			set_path(&@2, &ps.conf->spool_dir, $2, "spool");
		}
		| USER STRING {
			set_account(&@2, &ps.conf->user, $2, "user");
		}
		| CONTROL SOCKET STRING {
			struct sockaddr_un	 sun;

			if (strlen($3) >= sizeof(sun.sun_path)) {
				conf_error(&@3, "control socket path too long");
				free($3);
			} else
				set_path(&@3, &ps.conf->control_socket, $3,
				    "control socket");
		}
		| CONTROL GROUP STRING {
			set_account(&@3, &ps.conf->control_group, $3, "group");
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
			if ($2 < 1 || $2 > 100000)
				conf_error(&@2, "invalid smtp-max-sessions %lld "
				    "(1 to 100000)", $2);
			else
				ps.conf->smtp.max_sessions = (size_t)$2;
		}
		| SMTPMAXPERIP NUMBER {
			if ($2 < 1 || $2 > 100000)
				conf_error(&@2, "invalid smtp-max-per-ip %lld "
				    "(1 to 100000)", $2);
			else
				ps.conf->smtp.max_per_ip = (size_t)$2;
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
			if ($2 < 1 || $2 > 100000)
				conf_error(&@2, "invalid mta-max-sessions %lld "
				    "(1 to 100000)", $2);
			else
				ps.conf->mta.max_sessions = (size_t)$2;
		}
		| MTAMAXPERDOMAIN NUMBER {
			if ($2 < 1 || $2 > 1000)
				conf_error(&@2, "invalid mta-max-per-domain %lld "
				    "(1 to 1000)", $2);
			else
				ps.conf->mta.max_per_domain = (size_t)$2;
		}
		| MTATLSFALLBACK STRING {
			/* plaintext after a failed opportunistic handshake */
			if (strcmp($2, "yes") == 0)
				ps.conf->mta.tls_fallback = 1;
			else if (strcmp($2, "no") == 0)
				ps.conf->mta.tls_fallback = 0;
			else
				conf_error(&@2, "mta-tls-fallback is yes or no, "
				    "not \"%s\"", $2);
			free($2);
		}
		| MTACAFILE STRING {
			if (strlen($2) >= 256) {
				conf_error(&@2, "mta-ca-file path too long");
				free($2);
			} else
				set_path(&@2, &ps.conf->mta.ca_file, $2,
				    "mta-ca-file");
		}
		;

queue		: QUEUE USER STRING {
			set_account(&@3, &ps.conf->queue_user, $3, "user");
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
		;

/* 0 after an error, which was reported */
duration	: NUMBER {
			char		*s = number_string($1);
			const char	*errstr;

			if (parse_duration(s, &$$, &errstr) == -1) {
				conf_error(&@1, "invalid duration \"%s\": %s",
				    s, errstr);
				$$ = 0;
			}
			free(s);
		}
		| STRING {
			const char	*errstr;

			if (parse_duration($1, &$$, &errstr) == -1) {
				conf_error(&@1, "invalid duration \"%s\": %s",
				    $1, errstr);
				$$ = 0;
			}
			free($1);
		}
		;

size		: NUMBER {
			char		*s = number_string($1);
			const char	*errstr;

			if (parse_size(s, &$$, &errstr) == -1) {
				conf_error(&@1, "invalid size \"%s\": %s",
				    s, errstr);
				$$ = 0;
			}
			free(s);
		}
		| STRING {
			const char	*errstr;

			if (parse_size($1, &$$, &errstr) == -1) {
				conf_error(&@1, "invalid size \"%s\": %s",
				    $1, errstr);
				$$ = 0;
			}
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
			add_pki(&@2, $2, &@4, $4, &@6, $6);
		}
		;

listen		: LISTEN ON STRING {
			memset(&ps.lo, 0, sizeof(ps.lo));
		} listenopts {
			listen_end(&@1, &@3, $3);
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
			listen_opt_string(&@1, LO_PKI, "pki", ps.lo.pki,
			    sizeof(ps.lo.pki), $2);
		}
		| AUTH {
			conf_error(&@1, "auth needs a credentials table: "
			    "auth [require] <TABLE>");
		}
		| AUTH tableref {
			listen_auth(&@1, &@2, $2, 0);
		}
		| AUTH REQUIRE tableref {
			listen_auth(&@1, &@3, $3, 1);
		}
		/* "senders" is a plain word: a table may well be named so. */
		| STRING tableref {
			listen_senders(&@1, $1, &@2, $2);
		}
		| TAG STRING {
			name_ok(&@2, $2);
			listen_opt_string(&@1, LO_TAG, "tag", ps.lo.tag,
			    sizeof(ps.lo.tag), $2);
		}
		| HOSTNAME STRING {
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid hostname \"%s\"", $2);
			listen_opt_string(&@1, LO_HOSTNAME, "hostname",
			    ps.lo.hostname, sizeof(ps.lo.hostname), $2);
		}
		| POLICY STRING {
			if (config_find_policy(ps.conf, $2) == NULL)
				conf_error(&@2, "unknown policy \"%s\"", $2);
			listen_opt_string(&@1, LO_POLICY, "policy",
			    ps.lo.policy, sizeof(ps.lo.policy), $2);
		}
		;

table		: TABLE STRING FILECOLON STRING {
			table_begin(&@2, $2, TABLE_FILE);
			check_file(&@4, "table file", $4);
			ps.table->path = $4;
			table_end();
			free($2);
		}
		| TABLE STRING STRING {
			/* file:/path written without quotes */
			table_begin(&@2, $2, TABLE_FILE);
			if (strncmp($3, "file:", 5) != 0 || $3[5] == '\0') {
				conf_error(&@3, "syntax error");
				free($3);
			} else {
				check_file(&@3, "table file", $3 + 5);
				ps.table->path = xstrdup($3 + 5);
				free($3);
			}
			table_end();
			free($2);
		}
		| TABLE STRING '{' {
			table_begin(&@2, $2, TABLE_LIST);
		} tableitems '}' {
			table_end();
			free($2);
		}
		;

tableitems	: /* empty */
		| tableitems tableitem
		| tableitems ','
		| tableitems '\n'
		;

tableitem	: string		{ table_add(&@1, $1, NULL); }
		| string '=' string	{ table_add(&@1, $1, $3); }
		;

/* <NAME>: returns 0 and reports when unknown */
tableref	: '<' STRING '>'	{ $$ = $2; }
		;

action		: ACTION STRING {
			action_begin(&@2, $2);
		} actiontype {
			action_end(&@1);
			free($2);
		}
		;

actiontype	: MAILDIR optstring optmaildiruser {
			/* Not a mid-rule action: $2 must leave the stack. */
			ps.action->type = ACTION_MAILDIR;
			ps.action->path = $2 != NULL ? $2 :
			    xstrdup(ACTION_DEFAULT_MAILDIR);
			if (!conf_valid_expansions(ps.action->path))
				conf_error(&@2, "invalid expansion in \"%s\"",
				    ps.action->path);
			else if (ps.action->path[0] != '/' &&
			    strcmp(ps.action->path, "~") != 0 &&
			    strncmp(ps.action->path, "~/", 2) != 0)
				conf_error(&@2, "maildir path must be "
				    "absolute or start with ~/");
		}
		| MBOX {
			ps.action->type = ACTION_MBOX;
		}
		| LMTP STRING optrcptto {
			ps.action->type = ACTION_LMTP;
			ps.action->path = $2;
			if (!conf_valid_lmtp_dest($2))
				conf_error(&@2, "invalid lmtp destination "
				    "\"%s\"", $2);
		}
		| MDA STRING {
			ps.action->type = ACTION_MDA;
			ps.action->path = $2;
			if ($2[0] == '\0')
				conf_error(&@2, "mda command is empty");
			else if (!conf_valid_expansions($2))
				conf_error(&@2, "invalid expansion in \"%s\"",
				    $2);
		}
		| RELAY {
			ps.action->type = ACTION_RELAY;
		} relayopts
		;

optstring	: /* empty */		{ $$ = NULL; }
		| STRING
		;

optmaildiruser	: /* empty */
		| USER STRING {
			set_account(&@2, &ps.action->user, $2, "user");
		}
		| VIRTUAL tableref {
			struct table	*t;

			if (table_ref(&@2, $2, ps.action->virtual_table,
			    sizeof(ps.action->virtual_table)) &&
			    (t = config_find_table(ps.conf,
			    ps.action->virtual_table)) != NULL &&
			    t->type == TABLE_LIST)
				conf_error(&@2, "table \"%s\" is not a "
				    "mapping", t->name);
		}
		;

optrcptto	: /* empty */
		| RCPTTO		{ ps.action->lmtp_rcpt_to = 1; }
		;

relayopts	: /* empty */
		| relayopts relayopt
		;

relayopt	: HOST STRING {
			rule_once(&@1, RO_HOST, "host");
			relay_host(&@2, $2);
		}
		| TLS {
			rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_OPPORTUNISTIC;
		}
		| TLS REQUIRE {
			rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_REQUIRE;
		}
		| TLS VERIFY {
			rule_once(&@1, RO_TLS, "tls");
			ps.action->relay_tls = RELAY_TLS_VERIFY;
		}
		| AUTH tableref {
			struct table	*t;

			rule_once(&@1, RO_AUTH, "auth");
			ps.auth_loc = @1;
			if (table_ref(&@2, $2, ps.action->relay_auth,
			    sizeof(ps.action->relay_auth)) &&
			    (t = config_find_table(ps.conf,
			    ps.action->relay_auth)) != NULL &&
			    t->type == TABLE_LIST)
				conf_error(&@2, "table \"%s\" is not a "
				    "mapping", t->name);
		}
		| MECHANISMS {
			rule_once(&@1, RO_MECHS, "mechanisms");
			ps.mechs_loc = @1;
		} mechlist
		| HELO STRING {
			rule_once(&@1, RO_HELO, "helo");
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
				conf_error(&@1, "unknown SASL mechanism \"%s\": "
				    "PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 or "
				    "SCRAM-SHA-256", $1);
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
			action_begin(&@2, $2);
			ps.action->type = ACTION_RELAY;
		} transporttype relayopts {
			transport_end(&@2);
			free($2);
		}
		;

/* The kinds are plain words, not keywords: "submission" is a common tag. */
transporttype	: STRING {
			transport_kind(&@1, $1, NULL);
		}
		| STRING STRING {
			transport_kind(&@1, $1, $2);
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
			rule_once(&@1, RO_FROM, "from");
			route_domain(&@3, ps.route->from_domain, $3);
		}
		| FOR DOMAIN STRING {
			rule_once(&@1, RO_FOR, "for");
			route_domain(&@3, ps.route->for_domain, $3);
		}
		| ACCOUNT STRING {
			rule_once(&@1, RO_AUTH, "account");
			if (strlen($2) == 0 || strlen($2) > 255 ||
			    strcspn($2, " \t\r\n") != strlen($2))
				conf_error(&@2, "invalid account \"%s\"", $2);
			else
				strlcpy(ps.route->account, $2,
				    sizeof(ps.route->account));
			free($2);
		}
		| ACCOUNT tableref {
			rule_once(&@1, RO_AUTH, "account");
			table_ref(&@2, $2, ps.route->account_table,
			    sizeof(ps.route->account_table));
		}
		| ATTEMPT NUMBER {
			rule_once(&@1, RO_TAG, "attempt");
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
			rule_end(&@1);
		}
		;

matchopts	: /* empty */
		| matchopts matchopt
		;

negation	: /* empty */		{ $$ = 0; }
		| '!'			{ $$ = 1; }
		;

matchopt	: negation FROM {
			rule_once(&@2, RO_FROM, "from");
			ps.rule->from_negate = $1;
		} fromspec
		| negation FOR {
			rule_once(&@2, RO_FOR, "for");
			ps.rule->for_negate = $1;
		} forspec
		| TAG STRING {
			rule_once(&@1, RO_TAG, "tag");
			if (name_ok(&@2, $2))
				strlcpy(ps.rule->tag, $2, sizeof(ps.rule->tag));
			free($2);
		}
		| ACTION STRING {
			rule_once(&@1, RO_ACTION, "action");
			if (config_find_action(ps.conf, $2) == NULL)
				conf_error(&@2, "unknown action \"%s\"", $2);
			else
				strlcpy(ps.rule->action, $2,
				    sizeof(ps.rule->action));
			free($2);
		}
		| REJECT {
			rule_once(&@1, RO_ACTION, "reject");
			ps.rule->reject = 1;
		}
		| negation AUTH {
			/* [!]auth: the session authenticated (RFC 4954) */
			rule_once(&@2, RO_AUTH, "auth");
			ps.rule->auth = $1 ? -1 : 1;
		}
		;

fromspec	: ANY			{ ps.rule->from = MATCH_FROM_ANY; }
		| LOCAL			{ ps.rule->from = MATCH_FROM_LOCAL; }
		| SRC tableref {
			ps.rule->from = MATCH_FROM_SRC_TABLE;
			table_ref(&@2, $2, ps.rule->from_table,
			    sizeof(ps.rule->from_table));
		}
		| SRC STRING {
			ps.rule->from = MATCH_FROM_SRC_NET;
			rule_src_net(&@2, $2);
			free($2);
		}
		| AUTH			{ ps.rule->from = MATCH_FROM_AUTH; }
		| AUTH tableref {
			ps.rule->from = MATCH_FROM_AUTH;
			table_ref(&@2, $2, ps.rule->from_table,
			    sizeof(ps.rule->from_table));
		}
		;

forspec		: ANY			{ ps.rule->rcpt_for = MATCH_FOR_ANY; }
		| LOCAL			{ ps.rule->rcpt_for = MATCH_FOR_LOCAL; }
		| DOMAIN tableref {
			ps.rule->rcpt_for = MATCH_FOR_DOMAIN_TABLE;
			table_ref(&@2, $2, ps.rule->for_table,
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
			table_ref(&@2, $2, ps.rule->for_table,
			    sizeof(ps.rule->for_table));
		}
		;

resolver	: RESOLVER STRING {
			resolver_set(&@2, $2);
			free($2);
		}
		| RESOLVER STRING TRUSTANCHOR STRING {
			resolver_set(&@2, $2);
			free($2);
			check_file(&@4, "trust anchor", $4);
			free(ps.conf->resolver.trust_anchor);
			ps.conf->resolver.trust_anchor = $4;
		}
		;

policy		: POLICY STRING '{' {
			ps.policy = xcalloc(1, sizeof(*ps.policy));
			ps.policy->dkim_max_signatures = CONF_DKIM_MAX_SIGS;
			ps.policy_seen = 0;
			ps.policy_dup = 0;
			if (name_ok(&@2, $2)) {
				strlcpy(ps.policy->name, $2,
				    sizeof(ps.policy->name));
				if (config_find_policy(ps.conf, $2) != NULL) {
					conf_error(&@2, "duplicate policy "
					    "\"%s\"", $2);
					ps.policy_dup = 1;
				}
			} else
				ps.policy_dup = 1;
		} policyitems '}' {
			free($2);
			if (ps.policy_dup)
				free(ps.policy);
			else
				TAILQ_INSERT_TAIL(&ps.conf->policies,
				    ps.policy, entry);
			ps.policy = NULL;
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
			policy_once(&@1, 0x01, "spf");
			ps.policy->spf = $2;
		}
		| DKIM mode dkimopts {
			policy_once(&@1, 0x02, "dkim");
			ps.policy->dkim = $2;
		}
		| ARC mode {
			policy_once(&@1, 0x04, "arc");
			ps.policy->arc = $2;
		}
		| DMARC mode optquarantine {
			policy_once(&@1, 0x08, "dmarc");
			ps.policy->dmarc = $2;
		}
		;

dkimopts	: /* empty */
		| dkimopts dkimopt
		;

dkimopt		: ALLOWSHA1 {
			/* RFC 8301 3.1: rsa-sha1 fails unless allowed. */
			policy_once(&@1, 0x10, "allow-sha1");
			ps.policy->dkim_allow_sha1 = 1;
		}
		| MAXSIGNATURES NUMBER {
			policy_once(&@1, 0x20, "max-signatures");
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
			/*
			 * A Maildir++ folder name (".NAME" in the maildir;
			 * "." separates levels), never a path out of it; at
			 * most 63 octets, as envelopes store it.
			 */
			if ($3[0] == '\0' || $3[0] == '.' ||
			    strchr($3, '/') != NULL ||
			    strstr($3, "..") != NULL || strlen($3) > 63)
				conf_error(&@3, "invalid quarantine folder "
				    "\"%s\"", $3);
			else
				strlcpy(ps.policy->quarantine_folder, $3,
				    sizeof(ps.policy->quarantine_folder));
			free($3);
		}
		;

dkimsig		: DKIMSIGNATURE STRING '{' {
			ps.dkim = xcalloc(1, sizeof(*ps.dkim));
			ps.dkim->algorithm = DKIM_RSA_SHA256;
			ps.dkim->canon_header = DKIM_CANON_RELAXED;
			ps.dkim->canon_body = DKIM_CANON_RELAXED;
			ps.dkim_seen = 0;
			ps.dkim_dup = 0;
			if (name_ok(&@2, $2)) {
				strlcpy(ps.dkim->name, $2,
				    sizeof(ps.dkim->name));
				if (config_find_dkim_signature(ps.conf,
				    $2) != NULL) {
					conf_error(&@2, "duplicate "
					    "dkim-signature \"%s\"", $2);
					ps.dkim_dup = 1;
				}
			} else
				ps.dkim_dup = 1;
		} dkimitems '}' {
			free($2);
			dkim_end(&@1);
		}
		;

dkimitems	: /* empty */
		| dkimitems dkimitem
		| dkimitems '\n'
		| dkimitems ';'
		;

dkimitem	: KEY STRING {
			dkim_once(&@1, 0x01, "key");
			check_file(&@2, "key", $2);
			free(ps.dkim->key_file);
			ps.dkim->key_file = $2;
		}
		| DOMAIN STRING {
			dkim_once(&@1, 0x02, "domain");
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid domain \"%s\"", $2);
			else
				strlcpy(ps.dkim->domain, $2,
				    sizeof(ps.dkim->domain));
			free($2);
		}
		| SELECTOR STRING {
			dkim_once(&@1, 0x04, "selector");
			/* RFC 6376 3.1: a selector is a sub-domain. */
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid selector \"%s\"", $2);
			else
				strlcpy(ps.dkim->selector, $2,
				    sizeof(ps.dkim->selector));
			free($2);
		}
		| ALGORITHM STRING {
			dkim_once(&@1, 0x08, "algorithm");
			if (strcmp($2, "rsa-sha256") == 0)
				ps.dkim->algorithm = DKIM_RSA_SHA256;
			else if (strcmp($2, "ed25519-sha256") == 0)
				ps.dkim->algorithm = DKIM_ED25519_SHA256;
			else if (strcmp($2, "rsa-sha1") == 0)
				/* RFC 8301 3.1: signers MUST use rsa-sha256. */
				conf_error(&@2, "rsa-sha1 must not be used "
				    "for signing (RFC 8301 3.1)");
			else
				conf_error(&@2, "unknown algorithm \"%s\"", $2);
			free($2);
		}
		| CANONICALIZATION STRING {
			dkim_once(&@1, 0x10, "canonicalization");
			dkim_canon(&@2, $2);
			free($2);
		}
		| CANONICALIZATION RELAXED {
			dkim_once(&@1, 0x10, "canonicalization");
			dkim_canon(&@2, "relaxed");
		}
		| HEADERS STRING {
			dkim_once(&@1, 0x20, "headers");
			dkim_headers(&@2, $2);
		}
		| EXPIRE duration {
			dkim_once(&@1, 0x40, "expire");
			ps.dkim->expire = $2;
		}
		| OVERSIGN {
			dkim_once(&@1, 0x80, "oversign");
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
		} STRING { sign_add(&@4, $4); free($4); } arcsealopt {
			TAILQ_INSERT_TAIL(&ps.conf->arc_seal_rules, ps.sign,
			    entry);
			ps.sign = NULL;
		}
		;

arcsealopt	: /* empty */
		| TAG STRING {
			if (name_ok(&@2, $2))
				strlcpy(ps.sign->tag, $2, sizeof(ps.sign->tag));
			free($2);
		}
		;

signnames	: STRING		{ sign_add(&@1, $1); free($1); }
		| signnames STRING	{ sign_add(&@2, $2); free($2); }
		;

signopts	: /* empty */
		| signopts signopt
		;

signopt		: FROM tableref {
			sign_once(&@1, 0x01, "from");
			table_ref(&@2, $2, ps.sign->from_table,
			    sizeof(ps.sign->from_table));
		}
		| DOMAIN STRING {
			sign_once(&@1, 0x01, "domain");
			if (!conf_valid_hostname($2))
				conf_error(&@2, "invalid domain \"%s\"", $2);
			else
				strlcpy(ps.sign->domain, $2,
				    sizeof(ps.sign->domain));
			free($2);
		}
		| TAG STRING {
			sign_once(&@1, 0x02, "tag");
			if (name_ok(&@2, $2))
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
	{ "allow-sha1",		ALLOWSHA1 },
	{ "any",		ANY },
	{ "arc",		ARC },
	{ "arc-seal",	ARCSEAL },
	{ "attempt",		ATTEMPT },
	{ "auth",		AUTH },
	{ "canonicalization",	CANONICALIZATION },
	{ "cert",		CERT },
	{ "control",		CONTROL },
	{ "disable",		DISABLE },
	{ "dkim",		DKIM },
	{ "dkim-signature",	DKIMSIGNATURE },
	{ "dmarc",		DMARC },
	{ "domain",		DOMAIN },
	{ "expire",		EXPIRE },
	{ "file:",		FILECOLON },
	{ "folder",		FOLDER },
	{ "for",		FOR },
	{ "from",		FROM },
	{ "group",		GROUP },
	{ "header",		HEADER },
	{ "headers",		HEADERS },
	{ "helo",		HELO },
	{ "host",		HOST },
	{ "hostname",		HOSTNAME },
	{ "include",		INCLUDE },
	{ "key",		KEY },
	{ "listen",		LISTEN },
	{ "lmtp",		LMTP },
	{ "local",		LOCAL },
	{ "maildir",		MAILDIR },
	{ "match",		MATCH },
	{ "max",		MAX },
	{ "max-message-size",	MAXMESSAGESIZE },
	{ "max-signatures",	MAXSIGNATURES },
	{ "mbox",		MBOX },
	{ "mda",		MDA },
	{ "mechanisms",		MECHANISMS },
	{ "mta-ca-file",	MTACAFILE },
	{ "mta-connect-timeout", MTACONNECTTIMEOUT },
	{ "mta-max-per-domain",	MTAMAXPERDOMAIN },
	{ "mta-max-sessions",	MTAMAXSESSIONS },
	{ "mta-timeout",	MTATIMEOUT },
	{ "mta-tls-fallback",	MTATLSFALLBACK },
	{ "on",			ON },
	{ "oversign",		OVERSIGN },
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
	{ "require",		REQUIRE },
	{ "resolver",		RESOLVER },
	{ "retry",		RETRY },
	{ "route",		ROUTE },
	{ "selector",		SELECTOR },
	{ "sign",		SIGN },
	{ "smtp-max-per-ip",	SMTPMAXPERIP },
	{ "smtp-max-sessions",	SMTPMAXSESSIONS },
	{ "smtp-timeout",	SMTPTIMEOUT },
	{ "smtps",		SMTPS },
	{ "socket",		SOCKET },
	{ "spf",		SPF },
	{ "spool",		SPOOL },
	{ "src",		SRC },
	{ "strict",		STRICT },
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

void
parse_set_errstream(FILE *fp)
{
	errstream = fp;
	errstream_set = 1;
}

static FILE *
err_out(void)
{
	return errstream_set ? errstream : stderr;
}

static void conf_verror(const YYLTYPE *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
conf_verror(const YYLTYPE *loc, const char *fmt, va_list ap)
{
	FILE	*fp = err_out();

	ps.errors++;
	if (fp == NULL)
		return;
	fprintf(fp, "%s:%d: ", loc->file != NULL ? loc->file : "?",
	    loc->line);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
}

static void
conf_error(const YYLTYPE *loc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_verror(loc, fmt, ap);
	va_end(ap);
}

/* Called by the parser with "syntax error", located at the lookahead. */
void
yyerror(const char *msg)
{
	/* Inside { }, skip to the closing brace: one error per block. */
	if (ps.brace_depth > 0)
		ps.skip_block = 1;
	if (ps.lexerr) {
		/* The lexer already said what is wrong with this token. */
		ps.lexerr = 0;
		return;
	}
	conf_error(&yylloc, "%s", msg);
}

static int	lgetc(int);
static void	lungetc(int);
static void	popfile(void);

/*
 * An error found by the lexer: the rest of the line is dropped (it would
 * only add confusing errors) and the parser sees an ERROR token.
 */
static int lex_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static int
lex_error(const char *fmt, ...)
{
	va_list	 ap;
	int	 c;

	va_start(ap, fmt);
	conf_verror(&yylloc, fmt, ap);
	va_end(ap);
	ps.lexerr = 1;
	for (;;) {
		c = lgetc(0);
		if (c == '\n') {
			lungetc(c);
			break;
		}
		if (c == EOF) {
			if (!ps.file->is_macro)
				break;
			popfile();
		}
	}
	return ERROR;
}

/* Input sources */

static struct file *
file_new(const char *name, struct file *parent)
{
	struct file	*f;

	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->parent = parent;
	f->lineno = 1;
	TAILQ_INSERT_TAIL(&ps.files, f, entry);
	return f;
}

static int
file_depth(const struct file *f)
{
	int	 n = 0;

	for (; f != NULL; f = f->parent)
		if (!f->is_macro)
			n++;
	return n;
}

/* The file a token from `f` is reported in: macros report their $ line. */
static const struct file *
real_file(const struct file *f)
{
	while (f->is_macro && f->parent != NULL)
		f = f->parent;
	return f;
}

static int
rawgetc(struct file *f)
{
	int	 c;

	if (f->npush > 0)
		return f->pushback[--f->npush];
	if (f->stream != NULL) {
		if ((c = getc(f->stream)) == EOF && ferror(f->stream)) {
			/* Report once, then read as the end of the file. */
			clearerr(f->stream);
			conf_error(&yylloc, "read error: %s", strerror(errno));
			fclose(f->stream);
			f->stream = NULL;
			f->len = f->pos = 0;
		}
		return c;
	}
	if (f->pos >= f->len)
		return EOF;
	return f->buf[f->pos++];
}

static void
lungetc(int c)
{
	struct file	*f = ps.file;

	if (f->npush < PUSHBACK_MAX)
		f->pushback[f->npush++] = c;
}

/* Next character, joining lines that end with a backslash. */
static int
lgetc(int inquote)
{
	struct file	*f = ps.file;
	int		 c, next;

	c = rawgetc(f);
	while (c == '\\') {
		next = rawgetc(f);
		if (next != '\n') {
			if (f->npush < PUSHBACK_MAX)
				f->pushback[f->npush++] = next;
			return c;
		}
		if (!f->is_macro)
			f->lineno++;
		c = rawgetc(f);
		if (!inquote)
			while (c == ' ' || c == '\t')
				c = rawgetc(f);
	}
	return c;
}

static void
popfile(void)
{
	struct file	*f = ps.file;

	ps.file = f->parent;
	if (f->stream != NULL) {
		fclose(f->stream);
		f->stream = NULL;
	}
	if (!f->is_macro)
		ps.brace_depth = 0;
}

static int
allowed_in_string(int c)
{
	if (isalnum(c))
		return 1;
	switch (c) {
	case '%': case '&': case '*': case '+': case '-': case '.':
	case '/': case ':': case '@': case '[': case ']': case '^':
	case '_': case '|': case '~': case '?':
		return 1;
	}
	return 0;
}

static struct macro *
macro_find(const char *name)
{
	struct macro	*m;

	TAILQ_FOREACH(m, &ps.macros, entry)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static int
lex_token(void)
{
	char		 buf[STRING_MAX];
	const struct file *rf;
	struct macro	*m;
	struct file	*f;
	size_t		 n;
	long long	 num;
	const char	*errstr;
	int		 c, next, tok;

 again:
	do {
		c = lgetc(0);
	} while (c == ' ' || c == '\t' || c == '\r');

	rf = real_file(ps.file);
	yylloc.file = rf->name;
	yylloc.line = rf->lineno;

	if (c == '#')
		/* Raw reads: a backslash does not continue a comment. */
		while ((c = rawgetc(ps.file)) != '\n' && c != EOF)
			;

	if (c == EOF) {
		f = ps.file;
		if (f->is_macro) {
			popfile();
			goto again;
		}
		/* End the last line of every file, even without '\n'. */
		if (ps.last_tok != '\n' && ps.last_tok != 0)
			return '\n';
		if (f->parent == NULL)
			return 0;
		popfile();
		goto again;
	}

	if (c == '\n') {
		ps.file->lineno++;
		return '\n';
	}

	if (c == '$') {
		n = 0;
		while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
			if (n + 1 >= 64)
				return lex_error("invalid macro reference");
			buf[n++] = c;
		}
		lungetc(c);
		buf[n] = '\0';
		if (n == 0)
			return lex_error("invalid macro reference");
		if ((m = macro_find(buf)) == NULL)
			return lex_error("macro \"%s\" not defined", buf);
		n = 0;
		for (f = ps.file; f != NULL && f->is_macro; f = f->parent)
			n++;
		if (n >= MACRO_DEPTH_MAX)
			return lex_error("macro expansion too deep");
		if (++ps.expansions > MACRO_EXPANSIONS_MAX)
			return lex_error("too many macro expansions");
		f = file_new(buf, ps.file);
		f->is_macro = 1;
		/* A copy: the macro may be redefined while we read it. */
		f->owned = xstrdup(m->value);
		f->buf = (const unsigned char *)f->owned;
		f->len = strlen(f->owned);
		ps.file = f;
		goto again;
	}

	if (c == '"') {
		n = 0;
		for (;;) {
			c = lgetc(1);
			if (c == EOF || c == '\n') {
				lungetc(c);
				return lex_error("unterminated quoted string");
			}
			if (c == '"')
				break;
			if (c == '\\') {
				next = lgetc(1);
				if (next == '"' || next == '\\')
					c = next;
				else
					lungetc(next);
			}
			if (c == '\0')
				return lex_error("invalid NUL byte");
			if (n + 1 >= sizeof(buf))
				return lex_error("string too long");
			buf[n++] = c;
		}
		buf[n] = '\0';
		yylval.string = xstrdup(buf);
		return STRING;
	}

	if (allowed_in_string(c)) {
		n = 0;
		do {
			if (n + 1 >= sizeof(buf))
				return lex_error("string too long");
			buf[n++] = c;
		} while ((c = lgetc(0)) != EOF && allowed_in_string(c));
		lungetc(c);
		buf[n] = '\0';

		/* -?[0-9]+ that fits is a number; a longer one stays text. */
		n = buf[0] == '-' ? 1 : 0;
		if (buf[n] != '\0' && strspn(buf + n, "0123456789") ==
		    strlen(buf + n)) {
			num = strtonum(buf, LLONG_MIN, LLONG_MAX, &errstr);
			if (errstr == NULL) {
				yylval.number = num;
				return NUMBER;
			}
		}
		if ((tok = lookup_keyword(buf)) == STRING)
			yylval.string = xstrdup(buf);
		return tok;
	}

	if (c == '{')
		ps.brace_depth++;
	else if (c == '}' && ps.brace_depth > 0)
		ps.brace_depth--;
	else if (c == '\0')
		return ERROR;
	return c;
}

int
yylex(void)
{
	struct file	*inc;
	int		 tok;

	for (;;) {
		/* An include takes effect once its own line has ended. */
		if (ps.pending != NULL && ps.last_tok == '\n') {
			inc = ps.pending;
			ps.pending = NULL;
			inc->parent = ps.file;
			ps.file = inc;
		}
		tok = lex_token();
		if (tok == '\n')
			ps.lexerr = 0;
		ps.last_tok = tok;
		if (ps.skip_block) {
			if (tok == STRING)
				free(yylval.string);
			if (tok == 0) {
				ps.skip_block = 0;
				break;
			}
			if (ps.brace_depth == 0)
				ps.skip_block = 0;
			continue;
		}
		break;
	}
	return tok;
}

/* Statements */

static int
name_ok(const YYLTYPE *loc, const char *name)
{
	if (name[0] == '\0' || strlen(name) >= CONF_NAME_MAX) {
		conf_error(loc, "invalid name \"%s\"", name);
		return 0;
	}
	return 1;
}

/* The parent opens these files at start: say now if it cannot. */
static void
check_file(const YYLTYPE *loc, const char *what, const char *path)
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

static char *
number_string(long long n)
{
	char	*s;

	xasprintf(&s, "%lld", n);
	return s;
}

static void
include_file(const YYLTYPE *loc, const char *name)
{
	const struct file	*cur, *f;
	struct file		*nf;
	struct stat		 st;
	char			*path = NULL, *slash;
	FILE			*fp;

	if (ps.flags & PARSE_NOFILES) {
		conf_error(loc, "include is not allowed here");
		return;
	}
	cur = real_file(ps.file);
	if (file_depth(cur) >= INCLUDE_DEPTH_MAX) {
		conf_error(loc, "include nesting too deep");
		return;
	}
	/* Relative names are relative to the including file. */
	if (name[0] != '/' && (slash = strrchr(cur->name, '/')) != NULL)
		xasprintf(&path, "%.*s/%s", (int)(slash - cur->name),
		    cur->name, name);
	else
		path = xstrdup(name);
	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(loc, "cannot open \"%s\": %s", path,
		    strerror(errno));
		free(path);
		return;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error(loc, "\"%s\" is not a regular file", path);
		fclose(fp);
		free(path);
		return;
	}
	for (f = cur; f != NULL; f = f->parent)
		if (f->has_ino && f->dev == st.st_dev && f->ino == st.st_ino) {
			conf_error(loc, "include loop: \"%s\"", path);
			fclose(fp);
			free(path);
			return;
		}
	nf = file_new(path, NULL);
	free(path);
	nf->stream = fp;
	nf->dev = st.st_dev;
	nf->ino = st.st_ino;
	nf->has_ino = 1;
	ps.pending = nf;
}

static void
macro_set(const YYLTYPE *loc, char *name, char *value)
{
	struct macro	*m;
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			break;
	if (*p != '\0' || strlen(name) >= 64) {
		conf_error(loc, "invalid macro name \"%s\"", name);
		free(name);
		free(value);
		return;
	}
	if ((m = macro_find(name)) != NULL) {
		/* The last definition wins, as in pf.conf(5). */
		free(m->value);
		m->value = value;
		free(name);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->name = name;
	m->value = value;
	TAILQ_INSERT_TAIL(&ps.macros, m, entry);
}

static void
set_path(const YYLTYPE *loc, char **dst, char *path, const char *what)
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
static void
set_account(const YYLTYPE *loc, char **dst, char *name, const char *what)
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

static void
add_pki(const YYLTYPE *nloc, char *name, const YYLTYPE *cloc, char *cert,
    const YYLTYPE *kloc, char *key)
{
	struct pki	*pki;
	int		 ok = 1;

	if (!name_ok(nloc, name))
		ok = 0;
	else if (config_find_pki(ps.conf, name) != NULL) {
		conf_error(nloc, "duplicate pki \"%s\"", name);
		ok = 0;
	}
	check_file(cloc, "certificate", cert);
	check_file(kloc, "key", key);
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

static void
listen_opt_string(const YYLTYPE *loc, unsigned int bit, const char *opt,
    char *dst, size_t dstsz, char *value)
{
	if (ps.lo.seen & bit)
		conf_error(loc, "duplicate listen option \"%s\"", opt);
	ps.lo.seen |= bit;
	strlcpy(dst, value, dstsz);
	free(value);
}

static void
listen_add(const YYLTYPE *aloc, const char *addr, int port)
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

/* auth [require] <T>: the credentials are checked against table T. */
static void
listen_auth(const YYLTYPE *loc, const YYLTYPE *tloc, char *table,
    int require)
{
	if (ps.lo.seen & LO_AUTH) {
		conf_error(loc, "duplicate listen option \"auth\"");
		free(table);
		return;
	}
	ps.lo.seen |= LO_AUTH;
	ps.lo.flags |= LISTEN_AUTH | (require ? LISTEN_AUTH_REQUIRE : 0);
	table_ref(tloc, table, ps.lo.auth_table, sizeof(ps.lo.auth_table));
}

/*
 * senders <T>: the addresses an authenticated client may send as, each
 * mapped to the account that owns it ("@domain" for a whole domain).
 */
static void
listen_senders(const YYLTYPE *loc, char *word, const YYLTYPE *tloc,
    char *table)
{
	struct table	*t;

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
	if (table_ref(tloc, table, ps.lo.senders_table,
	    sizeof(ps.lo.senders_table)) &&
	    (t = config_find_table(ps.conf, ps.lo.senders_table)) != NULL &&
	    t->type == TABLE_LIST)
		conf_error(tloc, "table \"%s\" is not a mapping", t->name);
}

static void
listen_end(const YYLTYPE *loc, const YYLTYPE *aloc, const char *addr)
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

static void
table_begin(const YYLTYPE *loc, const char *name, enum table_type type)
{
	ps.table = xcalloc(1, sizeof(*ps.table));
	TAILQ_INIT(&ps.table->entries);
	ps.table->type = type;
	ps.table_dup = 0;
	if (!name_ok(loc, name))
		ps.table_dup = 1;
	else if (config_find_table(ps.conf, name) != NULL) {
		conf_error(loc, "duplicate table \"%s\"", name);
		ps.table_dup = 1;
	}
	strlcpy(ps.table->name, name, sizeof(ps.table->name));
}

static void
table_add(const YYLTYPE *loc, char *key, char *value)
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

static void
table_free(struct table *t)
{
	struct table_entry	*te;

	while ((te = TAILQ_FIRST(&t->entries)) != NULL) {
		TAILQ_REMOVE(&t->entries, te, entry);
		free(te->key);
		free(te->value);
		free(te);
	}
	free(t->path);
	free(t);
}

static void
table_end(void)
{
	if (ps.table_dup)
		table_free(ps.table);
	else
		TAILQ_INSERT_TAIL(&ps.conf->tables, ps.table, entry);
	ps.table = NULL;
}

/* Resolve <name> into dst; frees name.  0 when unknown (reported). */
static int
table_ref(const YYLTYPE *loc, char *name, char *dst, size_t dstsz)
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

static void
action_begin(const YYLTYPE *loc, const char *name)
{
	ps.action = xcalloc(1, sizeof(*ps.action));
	ps.rule_seen = 0;
	ps.action_dup = 0;
	if (!name_ok(loc, name))
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

static void
action_end(const YYLTYPE *loc)
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
	}
	if (a->relay_mechs != 0 && a->relay_auth[0] == '\0')
		conf_error(&ps.mechs_loc, "mechanisms needs auth <table>");
	if (ps.action_dup)
		action_free(a);
	else
		TAILQ_INSERT_TAIL(&ps.conf->actions, a, entry);
}

/* host "URL": the parsing is conf_parse_relay_url()'s. */
static void
relay_host(const YYLTYPE *loc, char *url)
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
socks5_proxy(const YYLTYPE *loc, char *spec)
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
static void
transport_kind(const YYLTYPE *loc, char *kind, char *arg)
{
	struct action	*a = ps.action;
	const char	*p;

	if (strcmp(kind, "direct") == 0 && arg == NULL)
		a->transport = TRANSPORT_DIRECT;
	else if (strcmp(kind, "smarthost") == 0 && arg != NULL) {
		a->transport = TRANSPORT_SMARTHOST;
		relay_host(loc, arg);
		arg = NULL;
	} else if (strcmp(kind, "submission") == 0 && arg != NULL) {
		a->transport = TRANSPORT_SUBMISSION;
		relay_host(loc, arg);
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

static void
transport_end(const YYLTYPE *loc)
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
	if (a->relay_mechs != 0 && a->relay_auth[0] == '\0')
		conf_error(&ps.mechs_loc, "transport %s: mechanisms needs "
		    "auth <table>", a->name);
	TAILQ_INSERT_TAIL(&ps.conf->transports, a, entry);
}

static void
route_domain(const YYLTYPE *loc, char *dst, char *name)
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
static void
rule_once(const YYLTYPE *loc, unsigned int bit, const char *what)
{
	if (ps.rule_seen & bit) {
		if (bit == RO_ACTION)
			conf_error(loc, "match takes one action or reject");
		else
			conf_error(loc, "%s given twice", what);
	}
	ps.rule_seen |= bit;
}

static void
rule_src_net(const YYLTYPE *loc, const char *s)
{
	struct rule	*r = ps.rule;
	char		 addr[128];
	const char	*slash, *errstr;
	socklen_t	 len;
	int		 max;

	if ((slash = strchr(s, '/')) == NULL)
		slash = s + strlen(s);
	if ((size_t)(slash - s) >= sizeof(addr)) {
		conf_error(loc, "invalid address \"%s\"", s);
		return;
	}
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (conf_numeric_addr(addr, 0, &r->from_net, &len) == -1) {
		conf_error(loc, "invalid address \"%s\"", s);
		return;
	}
	max = r->from_net.ss_family == AF_INET ? 32 : 128;
	r->from_prefixlen = max;
	if (*slash == '/') {
		r->from_prefixlen = strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL)
			conf_error(loc, "invalid prefix length in \"%s\"", s);
	}
}

static void
rule_end(const YYLTYPE *loc)
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

static void
resolver_set(const YYLTYPE *loc, const char *s)
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

static void
policy_once(const YYLTYPE *loc, unsigned int bit, const char *what)
{
	if (ps.policy_seen & bit)
		conf_error(loc, "%s given twice in policy \"%s\"", what,
		    ps.policy->name);
	ps.policy_seen |= bit;
}

static void
dkim_once(const YYLTYPE *loc, unsigned int bit, const char *what)
{
	if (ps.dkim_seen & bit)
		conf_error(loc, "%s given twice in dkim-signature \"%s\"",
		    what, ps.dkim->name);
	ps.dkim_seen |= bit;
}

/* RFC 6376 3.5 c=: "header/body"; a lone "header" means body simple. */
static void
dkim_canon(const YYLTYPE *loc, const char *s)
{
	const char	*slash;

	if ((slash = strchr(s, '/')) == NULL) {
		if (conf_dkim_canon_word(s, strlen(s), &ps.dkim->canon_header)) {
			ps.dkim->canon_body = DKIM_CANON_SIMPLE;
			return;
		}
	} else if (conf_dkim_canon_word(s, slash - s, &ps.dkim->canon_header) &&
	    conf_dkim_canon_word(slash + 1, strlen(slash + 1), &ps.dkim->canon_body))
		return;
	conf_error(loc, "invalid canonicalization \"%s\"", s);
}

/* RFC 6376 3.5 h=: colon-separated field names (RFC 5322 ftext). */
static void
dkim_headers(const YYLTYPE *loc, char *s)
{
	const char	*p, *start;
	int		 from = 0;

	for (start = p = s;; p++) {
		if (*p == ':' || *p == '\0') {
			if (p == start)
				goto bad;
			if (p - start == 4 && strncasecmp(start, "from", 4) == 0)
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

static void
dkim_end(const YYLTYPE *loc)
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

static void
sign_add(const YYLTYPE *loc, const char *name)
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

static void
sign_once(const YYLTYPE *loc, unsigned int bit, const char *what)
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
static void
builders_free(void)
{
	if (ps.table != NULL) {
		table_free(ps.table);
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
}

/* Entry points */

static struct postern_conf *
parse_run(struct file *top, int flags)
{
	struct postern_conf	*conf;
	struct macro		*m;
	struct file		*f;

	ps.flags = flags;
	ps.conf = config_new();
	ps.conf->file = xstrdup(top->name);
	ps.file = top;
	ps.last_tok = 0;

	if (yyparse() != 0 && ps.errors == 0)
		ps.errors++;

	builders_free();
	while ((m = TAILQ_FIRST(&ps.macros)) != NULL) {
		TAILQ_REMOVE(&ps.macros, m, entry);
		free(m->name);
		free(m->value);
		free(m);
	}
	while ((f = TAILQ_FIRST(&ps.files)) != NULL) {
		TAILQ_REMOVE(&ps.files, f, entry);
		if (f->stream != NULL)
			fclose(f->stream);
		free(f->owned);
		free(f->name);
		free(f);
	}
	conf = ps.conf;
	if (ps.errors > 0) {
		free_config(conf);
		conf = NULL;
	}
	memset(&ps, 0, sizeof(ps));
	return conf;
}

static void
parse_init(void)
{
	memset(&ps, 0, sizeof(ps));
	TAILQ_INIT(&ps.files);
	TAILQ_INIT(&ps.macros);
}

struct postern_conf *
parse_config(const char *file, int verbose)
{
	struct file	*f;
	struct stat	 st;
	FILE		*fp, *out;

	if ((fp = fopen(file, "r")) == NULL) {
		if ((out = err_out()) != NULL)
			fprintf(out, "%s: %s\n", file, strerror(errno));
		return NULL;
	}
	/* A directory opens, and would read as an empty file. */
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		if ((out = err_out()) != NULL)
			fprintf(out, "%s: not a regular file\n", file);
		fclose(fp);
		return NULL;
	}
	parse_init();
	f = file_new(file, NULL);
	f->stream = fp;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->has_ino = 1;
	return parse_run(f, verbose ? PARSE_VERBOSE : 0);
}

struct postern_conf *
parse_config_buffer(const char *name, const char *buf, size_t len, int flags)
{
	struct file	*f;

	parse_init();
	f = file_new(name, NULL);
	f->buf = (const unsigned char *)buf;
	f->len = len;
	return parse_run(f, flags);
}

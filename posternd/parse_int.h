/*
 * What the three parts of the postern.conf(5) parser share.  Private to
 * posternd/parse*: the rest of postern calls parse_config() (lib/config.h).
 *
 *   parse.y		the grammar, its actions, and the entry points
 *   parse_lex.c	input sources (files, includes, macros), lexemes,
 *			and error reports located in them
 *   parse_check.c	each statement's checks, and the objects it adds
 *			to the configuration
 *
 * Implements no RFC.  Deliberately not a public API: nothing outside
 * posternd/parse* includes it, and the state it declares lives for one
 * parse_config() call.
 */
#ifndef POSTERN_PARSE_INT_H
#define POSTERN_PARSE_INT_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * Where a token was read: the file and line that the user wrote it on.
 * The grammar's location type (%define api.location.type).
 */
struct conf_loc {
	const char	*file;
	int		 line;
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
	struct conf_loc	 senders_loc;
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

/*
 * One parse: the configuration being filled, and the objects that
 * multi-token statements build until their end.  Zero between parses.
 */
struct parse_state {
	struct postern_conf	*conf;
	int			 flags;		/* PARSE_* */
	int			 errors;

	struct listen_opts	 lo;
	struct table		*table;
	int			 table_dup;
	struct action		*action;
	int			 action_dup;
	struct conf_loc		 auth_loc;
	struct conf_loc		 mechs_loc;
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
	struct conf_loc		 memory_loc;	/* queue memory-limit */
	struct conf_loc		 users_loc;	/* the last user statement */
	struct conf_loc		 srs_loc;	/* the last srs domain */
	struct mailing_list	*list;		/* "list NAME ..." */
	unsigned int		 list_seen;
};

extern struct parse_state ps;

/* parse.y */
int	 yyparse(void);

/* parse_lex.c: what lex_next() read, besides a character and 0 at the end */
#define LEX_STRING_MAX		8192	/* longest token */
#define LEX_WORD		(-1)	/* unquoted: a keyword or a string */
#define LEX_QUOTED		(-2)	/* "...": always a string */
#define LEX_NUMBER		(-3)
#define LEX_ERROR		(-4)	/* reported, the line dropped */

struct lexeme {
	char		 text[LEX_STRING_MAX];	/* LEX_WORD, LEX_QUOTED */
	long long	 number;		/* LEX_NUMBER */
	struct conf_loc	 loc;
};

void	 lex_init(void);
void	 lex_free(void);
void	 lex_push_file(const char *, FILE *, const struct stat *);
void	 lex_push_buffer(const char *, const char *, size_t);
int	 lex_next(struct lexeme *);
void	 lex_include(const struct conf_loc *, const char *);
void	 lex_forget_include(void);
void	 lex_macro_set(const struct conf_loc *, char *, char *);
void	 yyerror(const char *);
FILE	*conf_errstream(void);
void	 conf_error(const struct conf_loc *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* parse_check.c */
void	 parse_check_queue(void);
void	 parse_check_users(void);
void	 parse_srs_key(const struct conf_loc *, char *);
void	 parse_srs_domain(const struct conf_loc *, char *);
void	 parse_check_srs(void);
void	 parse_set_process_user(const struct conf_loc *, char *,
	    const struct conf_loc *, char *);
int	 parse_name_ok(const struct conf_loc *, const char *);
void	 parse_check_file(const struct conf_loc *, const char *,
	    const char *);
void	 parse_set_path(const struct conf_loc *, char **, char *,
	    const char *);
void	 parse_set_account(const struct conf_loc *, char **, char *,
	    const char *);
void	 parse_add_pki(const struct conf_loc *, char *,
	    const struct conf_loc *, char *, const struct conf_loc *, char *);
void	 parse_listen_opt_string(const struct conf_loc *, unsigned int,
	    const char *, char *, size_t, char *);
void	 parse_listen_auth(const struct conf_loc *, const struct conf_loc *,
	    char *, int);
void	 parse_listen_senders(const struct conf_loc *, char *,
	    const struct conf_loc *, char *);
void	 parse_local_users_min_uid(const struct conf_loc *, char *,
	    const struct conf_loc *, long long);
void	 parse_local_users_allow(const struct conf_loc *, char *,
	    const struct conf_loc *, char *);
void	 parse_listen_end(const struct conf_loc *, const struct conf_loc *,
	    const char *);
void	 parse_metrics_listen(const struct conf_loc *, const struct conf_loc *,
	    const char *, int port, int allow_remote);
void	 parse_table_begin(const struct conf_loc *, const char *,
	    enum table_type);
void	 parse_table_add(const struct conf_loc *, char *, char *);
void	 parse_table_end(void);
int	 parse_table_ref(const struct conf_loc *, char *, char *, size_t);
int	 parse_map_ref(const struct conf_loc *, char *, char *, size_t);
void	 parse_alias_table(const struct conf_loc *, char *);
void	 parse_action_begin(const struct conf_loc *, const char *);
void	 parse_action_maildir(const struct conf_loc *, char *);
void	 parse_action_mbox(const struct conf_loc *, char *);
void	 parse_action_mda(const struct conf_loc *, char *);
void	 parse_action_end(const struct conf_loc *);
void	 parse_relay_host(const struct conf_loc *, char *);
void	 parse_transport_kind(const struct conf_loc *, char *, char *);
void	 parse_transport_end(const struct conf_loc *);
void	 parse_route_domain(const struct conf_loc *, char *, char *);
void	 parse_rule_once(const struct conf_loc *, unsigned int,
	    const char *);
void	 parse_rule_src_net(const struct conf_loc *, const char *);
void	 parse_mta_mx_allow(const struct conf_loc *, const char *);
void	 parse_rule_end(const struct conf_loc *);
void	 parse_resolver_set(const struct conf_loc *, const char *);
void	 parse_policy_begin(const struct conf_loc *, const char *);
void	 parse_policy_end(void);
void	 parse_quarantine_folder(const struct conf_loc *, const char *);
void	 parse_policy_once(const struct conf_loc *, unsigned int,
	    const char *);
void	 parse_dkim_begin(const struct conf_loc *, const char *);
void	 parse_dkim_algorithm(const struct conf_loc *, const char *);
void	 parse_dkim_once(const struct conf_loc *, unsigned int,
	    const char *);
void	 parse_dkim_canon(const struct conf_loc *, const char *);
void	 parse_dkim_headers(const struct conf_loc *, char *);
void	 parse_dkim_end(const struct conf_loc *);
void	 parse_sign_add(const struct conf_loc *, const char *);
void	 parse_sign_once(const struct conf_loc *, unsigned int,
	    const char *);
void	 parse_builders_free(void);

/* parse_list.c */
void	 parse_list_begin(const struct conf_loc *, const char *);
void	 parse_list_opt(const struct conf_loc *, char *,
	    const struct conf_loc *, char *, int table);
void	 parse_list_arc_seal(const struct conf_loc *, char *);
void	 parse_list_sign(const struct conf_loc *, char *);
void	 parse_list_end(const struct conf_loc *);

/* parse_reports.c */
void	 parse_reports_from(const struct conf_loc *, const char *,
	    const struct conf_loc *, const char *, const struct conf_loc *,
	    const char *);
void	 parse_reports_period(const struct conf_loc *, const char *);
void	 parse_reports_sign(const struct conf_loc *, const char *);
void	 parse_reports_max(const struct conf_loc *, long long);
void	 parse_reports_failure(const struct conf_loc *, const char *);
void	 parse_reports_failure_max(const struct conf_loc *, long long);

#endif

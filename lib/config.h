/*
 * The parsed configuration.  The parent parses postern.conf(5) with
 * parse_config() (posternd/parse.y) and sends each child the part it needs over
 * imsg; children never open the file.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "srs.h"

#define CONF_DEFAULT_FILE	"/etc/postern/postern.conf"
#define CONF_DEFAULT_SOCKET	"/run/postern.sock"
#define CONF_DEFAULT_SPOOL	"/var/spool/postern"
#define CONF_DEFAULT_EMPTY	"/var/empty"

/*
 * The users the child processes run as: each its own (posternd(8)), so
 * that a compromised one cannot signal another or read its memory.
 */
enum conf_user {
	CONF_USER_SMTP,
	CONF_USER_QUEUE,
	CONF_USER_MTA,
	CONF_USER_AUTHD,
	CONF_USER_REPORTD,
	CONF_USER_CONTROL,
	CONF_USER_MAX
};
extern const char *const conf_user_process[CONF_USER_MAX];	/* "smtp"... */
extern const char *const conf_user_default[CONF_USER_MAX];

/* listen on ... */
#define LISTEN_STARTTLS		0x01	/* "tls": STARTTLS offered */
#define LISTEN_SMTPS		0x02	/* implicit TLS */
#define LISTEN_TLS_REQUIRE	0x04	/* "tls require" */
#define LISTEN_AUTH		0x08	/* "auth <T>": AUTH inside TLS */
#define LISTEN_AUTH_REQUIRE	0x10	/* "auth require <T>" */
/* set by the parent for smtp: the auth table has SCRAM keys for these */
#define LISTEN_AUTH_SCRAM_SHA1	0x100
#define LISTEN_AUTH_SCRAM_SHA256 0x200

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct sockaddr_storage	 ss;		/* address and port */
	socklen_t		 sslen;
	int			 flags;		/* LISTEN_* */
	char			 pki[64];	/* pki name, "" if none */
	char			 tag[64];	/* tag name, "" if none */
	char			 hostname[256];	/* greeting name, "" = default */
	int			 fd;		/* parent: bound socket, or -1 */
	char			 policy[64];	/* authentication policy, "" = default */
	char			 auth_table[64];	/* credentials, or "" */
	char			 senders_table[64];	/* address -> account, or "" */
};
TAILQ_HEAD(listenerlist, listener);

struct pki {
	TAILQ_ENTRY(pki)	 entry;
	char			 name[64];
	char			*cert_file;
	char			*key_file;
};
TAILQ_HEAD(pkilist, pki);

/* Names of pkis, tables, actions, policies and DKIM signatures. */
#define CONF_NAME_MAX		64

/* table NAME { ... } or table NAME file:"PATH" */
enum table_type {
	TABLE_LIST,			/* { "a", "b" } */
	TABLE_MAP,			/* { key = "value" } */
	TABLE_FILE			/* file:"PATH", loaded later */
};

struct table_entry {
	TAILQ_ENTRY(table_entry) entry;
	char			*key;
	char			*value;		/* NULL in a TABLE_LIST */
};
TAILQ_HEAD(table_entries, table_entry);

struct table {
	TAILQ_ENTRY(table)	 entry;
	char			 name[CONF_NAME_MAX];
	enum table_type		 type;
	char			*path;		/* TABLE_FILE only */
	struct table_entries	 entries;	/* TABLE_LIST, TABLE_MAP */
	size_t			 nentries;
	int			 aliases;	/* aliases(5) format: an action's
						   "alias <T>" (lib/aliases.h) */
	struct table_entry	**index;	/* by key, built at first use */
	size_t			 nindex;
};
TAILQ_HEAD(tablelist, table);

/* action NAME ... */
enum action_type {
	ACTION_MAILDIR,
	ACTION_MBOX,
	ACTION_LMTP,
	ACTION_MDA,
	ACTION_RELAY,
	ACTION_REPORTD			/* received reports, to reportd */
};

enum relay_scheme {
	RELAY_SMTP,			/* smtp://: STARTTLS as relay_tls says */
	RELAY_SMTP_TLS,			/* smtp+tls://: STARTTLS required */
	RELAY_SMTPS			/* smtps://: implicit TLS */
};

/*
 * With auth, the parser turns OPPORTUNISTIC and REQUIRE into VERIFY: the
 * credentials go only to a server whose certificate checks out, unless
 * the configuration says NOVERIFY in so many words.
 */
enum relay_tls {
	RELAY_TLS_OPPORTUNISTIC,	/* STARTTLS if offered (default) */
	RELAY_TLS_REQUIRE,		/* "tls require": no TLS, no delivery */
	RELAY_TLS_VERIFY,		/* "tls verify": and check the
					   certificate */
	RELAY_TLS_NOVERIFY		/* "tls no-verify": TLS required, the
					   certificate not checked, even
					   with auth */
};

enum transport_kind {
	TRANSPORT_NONE,			/* an action, not a transport */
	TRANSPORT_DIRECT,		/* to the recipient domain's MX */
	TRANSPORT_SMARTHOST,		/* to one host */
	TRANSPORT_SUBMISSION,		/* to one host, 587/465, with AUTH */
	TRANSPORT_SOCKS5		/* direct, through a SOCKS5 proxy */
};

#define ACTION_DEFAULT_MAILDIR	"~/Maildir"
#define ACTION_DEFAULT_MBOX	"/var/mail/%{user}"	/* Debian's */

struct action {
	TAILQ_ENTRY(action)	 entry;
	char			 name[CONF_NAME_MAX];
	enum action_type	 type;
	char			*path;		/* maildir path, lmtp destination,
						   mda command; NULL otherwise */
	char			*user;		/* maildir "user NAME", or NULL:
						   the recipient's user */
	char			 virtual_table[CONF_NAME_MAX]; /* maildir
						   "virtual <T>": address ->
						   user, "" = none */
	int			 lmtp_rcpt_to;	/* lmtp "rcpt-to" */
	/* relay */
	char			*relay_url;	/* "host URL" as written, or NULL:
						   deliver to the domain's MX */
	enum relay_scheme	 relay_scheme;
	char			 relay_host[256];
	uint16_t		 relay_port;
	enum relay_tls		 relay_tls;
	char			 relay_auth[CONF_NAME_MAX]; /* table, "" = none */
	unsigned int		 relay_mechs;	/* 1 << enum sasl_mech; 0 = any */
	char			 relay_helo[256];	/* "" = conf hostname */
	/* transport NAME ...: a relay action that routes choose */
	enum transport_kind	 transport;
	char			 socks5_host[256];	/* socks5 ADDR:PORT */
	uint16_t		 socks5_port;
	/* "alias <T> [files] [commands] [alias-user NAME]" (lib/aliases.h) */
	char			 alias_table[CONF_NAME_MAX];	/* "" = none */
	int			 alias_files;	/* "/file" members delivered */
	int			 alias_commands; /* "|command" members run */
	char			*alias_user;	/* whom as; NULL: nobody */
	int			 forward_file;	/* "forward-file yes": the
						   recipient's ~/.forward */
	int			 forward_files;	/* ... files: "/path" lines */
	int			 forward_commands; /* ... commands: "|cmd" */
	int			 forward_member;	/* the parent's own, for
						   ~/.forward "/file" or
						   "|cmd" members
						   (posternd/forward.c) */
};
TAILQ_HEAD(actionlist, action);
#define ACTION_DEFAULT_ALIAS_USER	"nobody"

/* route [from domain D] [for domain D] [account A] [attempt N] transport T */
struct route {
	TAILQ_ENTRY(route)	 entry;
	char			 from_domain[256];	/* "" = any */
	char			 for_domain[256];	/* "" = any */
	char			 account[256];		/* "" = any */
	char			 account_table[CONF_NAME_MAX];	/* or "" */
	unsigned int		 min_attempt;		/* 0 = any */
	char			 transport[CONF_NAME_MAX];
};
TAILQ_HEAD(routelist, route);

/* match [!]from ... [!]for ... [!]auth [tag NAME] (action NAME | reject) */
enum match_from {
	MATCH_FROM_LOCAL,		/* default: local submission */
	MATCH_FROM_ANY,
	MATCH_FROM_SRC_TABLE,		/* from src <T> */
	MATCH_FROM_SRC_NET,		/* from src ADDR[/LEN] */
	MATCH_FROM_AUTH			/* from auth [<T>] */
};

enum match_for {
	MATCH_FOR_LOCAL,		/* default: the local host name */
	MATCH_FOR_ANY,
	MATCH_FOR_DOMAIN_TABLE,		/* for domain <T> */
	MATCH_FOR_DOMAIN,		/* for domain NAME */
	MATCH_FOR_RCPT_TABLE		/* for rcpt-to <T> */
};

struct rule {
	TAILQ_ENTRY(rule)	 entry;
	enum match_from		 from;
	int			 from_negate;
	char			 from_table[CONF_NAME_MAX]; /* src/auth <T> */
	struct sockaddr_storage	 from_net;	/* MATCH_FROM_SRC_NET */
	int			 from_prefixlen;
	enum match_for		 rcpt_for;
	int			 for_negate;
	char			 for_table[CONF_NAME_MAX];
	char			 for_domain[256];
	char			 tag[CONF_NAME_MAX];	/* "" = any */
	int			 auth;		/* 1: AUTH, -1: no AUTH,
						   0: either */
	int			 reject;
	char			 action[CONF_NAME_MAX];	/* "" when reject */
};
TAILQ_HEAD(rulelist, rule);

/* policy NAME { spf ... dkim ... arc ... dmarc ... } */
#define CONF_DKIM_MAX_SIGS		10	/* DKIM_MAX_SIGS_DEFAULT */
#define CONF_DKIM_MAX_SIGS_LIMIT	100
enum policy_mode {
	POLICY_RELAXED,			/* evaluate and record (default) */
	POLICY_STRICT,			/* evaluate and enforce */
	POLICY_DISABLE			/* do not evaluate */
};

enum dmarc_quarantine {
	QUARANTINE_HEADER,		/* mark with a header field (default) */
	QUARANTINE_FOLDER		/* deliver to a maildir folder */
};

struct policy {
	TAILQ_ENTRY(policy)	 entry;
	char			 name[CONF_NAME_MAX];
	enum policy_mode	 spf;
	int			 spf_reject_fail;
	enum policy_mode	 dkim;
	/* dkim ... allow-sha1: rsa-sha1 may pass (RFC 8301 3.1); off */
	int			 dkim_allow_sha1;
	/* dkim ... fail-partial-body: l= short of the body fails; off */
	int			 dkim_fail_partial_body;
	/* dkim ... max-signatures N: verified per message (1..100, 10) */
	unsigned int		 dkim_max_signatures;
	enum policy_mode	 arc;
	enum policy_mode	 dmarc;
	enum dmarc_quarantine	 quarantine;
	char			 quarantine_folder[256];
};
TAILQ_HEAD(policylist, policy);

/* dkim-signature NAME { ... } */
enum dkim_algorithm {
	DKIM_RSA_SHA256,
	DKIM_ED25519_SHA256
};

/* RFC 6376 3.4; auth/dkim.h uses this one too */
enum dkim_canon {
	DKIM_CANON_SIMPLE = 0,
	DKIM_CANON_RELAXED
};

struct dkim_signature {
	TAILQ_ENTRY(dkim_signature) entry;
	char			 name[CONF_NAME_MAX];
	char			*key_file;
	char			 domain[256];
	char			 selector[256];
	enum dkim_algorithm	 algorithm;	/* default rsa-sha256 */
	enum dkim_canon		 canon_header;	/* default relaxed */
	enum dkim_canon		 canon_body;	/* default relaxed */
	char			*headers;	/* "h1:h2", NULL = built-in list */
	time_t			 expire;	/* x= after this many s, 0 = none */
	int			 oversign;
};
TAILQ_HEAD(dkimlist, dkim_signature);

/* sign with NAME [NAME ...] [from <T> | domain NAME] [tag NAME] */
#define SIGN_MAX_SIGNATURES	8

struct sign_rule {
	TAILQ_ENTRY(sign_rule)	 entry;
	char			 signatures[SIGN_MAX_SIGNATURES][CONF_NAME_MAX];
	size_t			 nsignatures;
	char			 from_table[CONF_NAME_MAX]; /* "" = any */
	char			 domain[256];		/* "" = any */
	char			 tag[CONF_NAME_MAX];	/* "" = any */
};
TAILQ_HEAD(signlist, sign_rule);

#define CONF_AUTH_DNS_TIMEOUT		20	/* seconds, the default */
#define CONF_AUTH_DNS_TIMEOUT_MAX	300

/* resolver ADDR[@PORT] [trust-anchor FILE] */
struct resolver_conf {
	int			 configured;	/* 0: the system resolver */
	char			 addr[64];	/* numeric address */
	uint16_t		 port;		/* default 53 */
	char			*trust_anchor;	/* NULL = the system's */
};

struct queue_conf {
	time_t			 retry_first;	/* seconds, default 300 */
	time_t			 retry_max;	/* seconds, default 3600 */
	time_t			 expire;	/* seconds, default 5 days */
	size_t			 max_message_size; /* default 35 MB */
	size_t			 memory_limit;	/* messages being received,
						   default 256 MB */
	size_t			 minfree;	/* spool bytes kept free;
						   0: the smaller of 100 MB
						   and 5% of the spool */
};

struct smtp_conf {
	time_t			 timeout;	/* idle, seconds, default 300 */
	size_t			 max_sessions;	/* default 512 */
	size_t			 max_per_ip;	/* default 32 */
	size_t			 max_received;	/* default 100 (RFC 5321 6.3) */
	/* Limits that hold under attack (smtpd/limits.c). */
	int			 ipv4_prefix;	/* a client's net, default 32 */
	int			 ipv6_prefix;	/* default 64 */
	time_t			 data_timeout;	/* in DATA; 0: timeout */
	time_t			 max_lifetime;	/* seconds, default 3600 */
	size_t			 min_data_rate;	/* bytes/s, default 128, 0 off */
	time_t			 data_rate_window; /* seconds, default 60 */
	size_t			 max_idle_commands; /* default 100 */
	size_t			 auth_max_failures; /* default 10 */
	time_t			 auth_lockout;	/* seconds, default 900 */
};

#define CONF_MX_ALLOW_MAX	16

/*
 * reports from "ADDRESS" org "NAME" [contact "URI"], reports period,
 * reports sign with, reports max-per-period, reports failure: what
 * reportd sends (RFC 9990 aggregate reports).  Off unless `from` is set.
 */
#define REPORTS_PERIOD_DAILY	86400
#define REPORTS_PERIOD_HOURLY	3600
#define REPORTS_MAX_PER_PERIOD	1000000
#define REPORTS_SUPPRESS	(7 * 86400)	/* default suppress-for */
#define REPORTS_FAILURE_MAX	10	/* default failure-max, an hour */
#define REPORTS_FAILURE_MAX_MAX	100000

struct reports_conf {
	int			 enabled;	/* reports from ... given */
	char			 from[256];	/* the From address */
	char			 org[256];	/* org_name */
	char			 contact[256];	/* extra_contact_info, or "" */
	unsigned int		 period;	/* seconds, UTC-aligned */
	char			 sign[CONF_NAME_MAX]; /* dkim-signature, or "" */
	unsigned int		 max_per_period; /* 0: no limit */
	int			 failure;	/* failure reports (RFC 9991) */
	unsigned int		 failure_max;	/* an hour, per domain/address */
	time_t			 suppress;	/* a failing destination, s */
};

struct mta_conf {
	time_t			 timeout;	/* per command; 0: RFC 5321
						   4.5.3.2 each */
	time_t			 connect_timeout; /* default 30 s */
	size_t			 max_sessions;	/* default 100 */
	size_t			 max_per_domain; /* default 10 */
	size_t			 max_slow_sessions; /* default 400 */
	char			*ca_file;	/* default the system bundle */
	int			 tls_fallback;	/* plaintext after a failed
						   opportunistic handshake */
	/* mta-mx-allow-network: loopback networks MX may lead to */
	struct sockaddr_storage	 mx_allow[CONF_MX_ALLOW_MAX];
	int			 mx_allow_prefixlen[CONF_MX_ALLOW_MAX];
	size_t			 nmx_allow;
};

/*
 * "local-users": which accounts a local part may name.  One that cannot
 * receive mail (no usable home, no login shell, a system uid other than
 * root's) is refused at RCPT unless the allow table names it.
 */
struct local_users_conf {
	uid_t			 min_uid;	/* default 1000 */
	char			 allow[CONF_NAME_MAX];	/* table, "" = none */
};

/*
 * metrics listen on ADDRESS port N [allow-remote]: control serves
 * GET /metrics there.  Loopback addresses only, unless allow-remote.
 */
struct metrics_conf {
	int			 enabled;
	int			 allow_remote;
	struct sockaddr_storage	 ss;		/* address and port */
	socklen_t		 sslen;
};

/*
 * SRS for mail that aliases and ~/.forward send to other domains
 * (lib/srs.h): "srs key FILE" (the first signs, all verify) and
 * "srs domain NAME".  No key: SRS is off.
 */
struct srs_conf {
	char			*key_files[SRS_KEYS_MAX];
	size_t			 nkeys;
	char			 domain[256];	/* "" = the hostname */
};

/*
 * list NAME address ADDRESS members <T> [posters members|anyone|<T>]
 * [bounce ADDRESS] [subject-tag TEXT] [unsubscribe URL]
 * [sign with NAME] [arc-seal with NAME] [from-rewrite dmarc|always|never]:
 * a mailing list
 * (queue/list.c redistributes, lib/listhdr.c writes its header fields).
 */
enum list_posters {
	LIST_POSTERS_MEMBERS,		/* default: the members table */
	LIST_POSTERS_ANYONE,
	LIST_POSTERS_TABLE		/* posters <T> */
};

enum list_from_rewrite {
	LIST_FROM_DMARC,		/* default: p=quarantine or p=reject */
	LIST_FROM_ALWAYS,
	LIST_FROM_NEVER
};

#define LIST_TAG_MAX		64	/* subject-tag, with its NUL */
#define LIST_URL_MAX		512	/* unsubscribe, with its NUL */

struct mailing_list {
	TAILQ_ENTRY(mailing_list) entry;
	char			 name[CONF_NAME_MAX];
	char			 address[256];	/* local@domain */
	char			 bounce[256];	/* "" = NAME-bounces@domain */
	char			 members[CONF_NAME_MAX];	/* table */
	enum list_posters	 posters;
	char			 posters_table[CONF_NAME_MAX];
	char			 subject_tag[LIST_TAG_MAX];	/* "" = none */
	char			 unsubscribe[LIST_URL_MAX];	/* "" = none */
	char			 dkim_sign[CONF_NAME_MAX]; /* dkim-signature
						   or "" */
	char			 arc_seal[CONF_NAME_MAX]; /* dkim-signature
						   or "" */
	enum list_from_rewrite	 from_rewrite;
};
TAILQ_HEAD(listlist, mailing_list);

struct postern_conf {
	char			*file;		/* path of the main file */
	char			 hostname[256];	/* "hostname", default gethostname() */
	char			*spool_dir;	/* "spool", default /var/spool/postern */
	char			*control_socket; /* "control socket PATH" */
	char			*control_group;	/* "control group NAME", or NULL */
	struct metrics_conf	 metrics;	/* "metrics listen on ..." */
	char			*users[CONF_USER_MAX];	/* "user PROCESS NAME" */
	struct listenerlist	 listeners;
	struct pkilist		 pkis;
	struct tablelist	 tables;
	struct actionlist	 actions;
	struct actionlist	 transports;
	struct routelist	 routes;
	struct rulelist		 rules;
	struct local_users_conf	 local_users;
	struct queue_conf	 queue;
	struct smtp_conf	 smtp;
	struct mta_conf		 mta;
	struct resolver_conf	 resolver;
	time_t			 auth_dns_timeout; /* seconds for the DNS
						   lookups of one message's
						   checks, default 20 */
	struct policylist	 policies;
	struct dkimlist		 dkim_signatures;
	struct signlist		 sign_rules;
	struct signlist		 arc_seal_rules;	/* first signature */
	struct reports_conf	 reports;
	struct srs_conf		 srs;
	struct listlist		 lists;		/* "list NAME ..." */
};

/*
 * Parse `file` (and what it includes).  Every error is printed to stderr as
 * "FILE:LINE: message".  Returns NULL when there was any error.
 */
struct postern_conf	*parse_config(const char *file, int verbose);
void			 free_config(struct postern_conf *);

/*
 * Parse a configuration held in memory; `name` is the file name used in
 * error messages.  With PARSE_NOFILES, "include" is refused and the files
 * named by pki, table, resolver and dkim-signature are not checked (the fuzz
 * target must not open files).
 */
#define PARSE_VERBOSE		0x01
#define PARSE_NOFILES		0x02
struct postern_conf	*parse_config_buffer(const char *name, const char *buf,
			    size_t len, int flags);

/* Where errors go: stderr by default, NULL to drop them. */
void			 parse_set_errstream(FILE *);

/* lib/conf.c */
struct postern_conf	*config_new(void);
struct pki		*config_find_pki(const struct postern_conf *,
			    const char *);
struct table		*config_find_table(const struct postern_conf *,
			    const char *);
struct action		*config_find_transport(const struct postern_conf *,
			    const char *);
struct action		*config_find_action(const struct postern_conf *,
			    const char *);
struct policy		*config_find_policy(const struct postern_conf *,
			    const char *);
struct dkim_signature	*config_find_dkim_signature(const struct postern_conf *,
			    const char *);
struct mailing_list	*config_find_list(const struct postern_conf *,
			    const char *);
/* The list whose address or bounce address rcpt is (any case), or NULL. */
struct mailing_list	*config_find_list_rcpt(const struct postern_conf *,
			    const char *rcpt, int *bounce);
/* A list's envelope sender: its bounce address (>= 256 bytes). */
void			 config_list_bounce(const struct mailing_list *,
			    char *, size_t);
const char		*table_lookup(const struct table *, const char *);
void			 config_table_free(struct table *);
int			 parse_duration(const char *, time_t *, const char **);
int			 parse_size(const char *, size_t *, const char **);
int			 conf_valid_hostname(const char *);
/*
 * An "srs key" file, read by the parent as root: a regular file that
 * neither group nor others may read or write (mode 0600 or 0400), whose
 * first line is the secret (lib/srs.h srs_key_parse()).  0, or -1 with
 * the reason in err (never the key).
 */
int			 conf_srs_key_read(const char *path, uint8_t *key,
			    size_t *keylen, char *err, size_t errlen);
int			 conf_valid_expansions(const char *);
int			 conf_valid_lmtp_dest(const char *);
int			 conf_numeric_addr(const char *, int,
			    struct sockaddr_storage *, socklen_t *);
int			 conf_sockaddr_equal(const struct sockaddr_storage *,
			    const struct sockaddr_storage *);
int			 conf_dkim_canon_word(const char *, size_t,
			    enum dkim_canon *);
int			 conf_parse_relay_url(const char *, enum relay_scheme *,
			    char *, size_t, uint16_t *, const char **);
/* The local submission socket next to the control socket, or -1. */
int			 conf_sendmail_socket(const char *control, char *,
			    size_t);

/* SASL mechanisms, for the relay option mechanisms and the mta's client. */
enum sasl_mech {
	SASL_MECH_NONE = 0,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_CRAM_MD5,
	SASL_MECH_SCRAM_SHA_1,
	SASL_MECH_SCRAM_SHA_256,
};

/* "SCRAM-SHA-256" etc.; NULL for SASL_MECH_NONE or an unknown value. */
const char	*sasl_mech_name(enum sasl_mech);
/* Case-insensitive; SASL_MECH_NONE if unknown. */
enum sasl_mech	 sasl_mech_from_name(const char *);
/* The same for len bytes at s (an EHLO AUTH keyword's word). */
enum sasl_mech	 sasl_mech_from_span(const char *, size_t);

#endif

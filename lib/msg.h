/*
 * The catalogue of messages between postern's processes, one section per
 * channel, in the enum and in the payloads alike.  Every payload is a
 * fixed-size struct (or empty, or bytes, or a struct announcing the
 * length of what follows it) with one decoder in lib/msg.c; no pointer
 * travels.  posternctl and posternd compare POSTERN_PROTO_VERSION on the
 * control channel.
 */
#ifndef POSTERN_MSG_H
#define POSTERN_MSG_H

#include <sys/socket.h>
#include <stdint.h>

#include "dotforward.h"
#include "envelope.h"

/*
 * Version 3: types renumbered by channel and named
 * IMSG_<CHANNEL>_<OBJECT>_<VERB>; rules travel as struct msg_conf_rule.
 * Version 4: IMSG_QUEUE_SPACE_STATE moves the types after it, the control
 * channel's among them.
 * Version 5: the reportd channel's new types (received reports, TLS
 * policies, reports through the queue) move the control channel's, which
 * gains debug delivery, report and suppression requests.
 * Version 6: a local delivery's result says whether its diagnostic is an
 * LMTP server's reply; reports carry flags and reportd the CA file; the
 * global settings carry the smtp limits; authd sends failure reports'
 * material (IMSG_REPORT_FAILURE_ADD).
 */
#define POSTERN_PROTO_VERSION	8

enum proc_id {
	PROC_PARENT,
	PROC_SMTP,
	PROC_QUEUE,
	PROC_MTA,
	PROC_AUTHD,
	PROC_REPORTD,
	PROC_CONTROL,
	PROC_MAX
};

/*
 * Each payload named here has one decoder in lib/msg.c (msg_get_*()),
 * which every receiver calls: exact size, strings NUL-terminated within
 * their arrays, enums and counts in range.
 */
enum imsg_type {
	IMSG_NONE,

	/*
	 * parent -> child, at start, before the child drops privileges;
	 * the child says it is ready once chrooted and unprivileged.
	 */
	IMSG_CONF_PEER_ADD,		/* struct msg_peer + fd */
	IMSG_CONF_GLOBAL_SET,		/* struct msg_conf_global */
	IMSG_CONF_LISTENER_ADD,		/* struct msg_conf_listener + fd */
	IMSG_CONF_PKI_ADD,		/* struct msg_conf_pki + cert + key */
	IMSG_CONF_CONTROL_SET,		/* struct msg_conf_control + fd */
	IMSG_CONF_TABLE_ADD,		/* struct msg_conf_table */
	IMSG_CONF_ENTRY_ADD,		/* struct msg_conf_table_entry */
	IMSG_CONF_ACTION_ADD,		/* struct msg_conf_action */
	IMSG_CONF_RULE_ADD,		/* struct msg_conf_rule */
	IMSG_CONF_USER_ADD,		/* struct msg_conf_user */
	IMSG_CONF_MTA_SET,		/* struct msg_conf_mta (mta) */
	IMSG_CONF_RELAY_ADD,		/* struct msg_conf_relay */
	IMSG_CONF_SECRET_ADD,		/* struct msg_conf_secret */
	IMSG_CONF_ROUTE_ADD,		/* struct msg_conf_route */
	IMSG_CONF_MTA_ADDR_ADD,		/* struct msg_conf_mta_addr */
	IMSG_CONF_POLICY_ADD,		/* struct msg_conf_policy (authd) */
	IMSG_CONF_DKIMSIG_ADD,		/* struct msg_conf_dkimsig + key */
	IMSG_CONF_SIGN_ADD,		/* struct msg_conf_sign */
	IMSG_CONF_ARCSEAL_ADD,		/* struct msg_conf_sign (1 name) */
	IMSG_CONF_CREDENTIAL_ADD,	/* struct msg_conf_credential */
	IMSG_CONF_SETUP_DONE,		/* empty */
	IMSG_CONF_CHILD_READY,		/* empty, child -> parent */
	IMSG_CONF_REPORTS_SET,		/* struct msg_conf_reports (reportd) */
	IMSG_CONF_SENDMAIL_SET,		/* empty + fd: the local submission
					   socket (control) */
	IMSG_CONF_METRICS_SET,		/* empty + fd: the metrics listener
					   (control), when configured */
	/*
	 * Also after the start (smtp, queue): an aliases file changed; its
	 * new entries follow as IMSG_CONF_ENTRY_ADD, COMMIT swaps them in.
	 */
	IMSG_CONF_TABLE_RELOAD,		/* struct msg_conf_table */
	IMSG_CONF_TABLE_COMMIT,		/* struct msg_conf_table */
	IMSG_CONF_SRS_KEY_ADD,		/* struct msg_conf_srs_key (smtp,
					   queue): one per "srs key" */

	/*
	 * smtp <-> queue: one incoming message per session (peer id).  The
	 * body streams as DATA chunks; COMMIT is answered only once the
	 * message is durable (group commit).  NOSPACE answers BEGIN or
	 * COMMIT when the message does not fit in the queue's memory
	 * budget (`queue memory-limit`): smtp says 452 4.3.1.
	 */
	IMSG_QUEUE_MESSAGE_BEGIN,	/* struct msg_queue_begin */
	IMSG_QUEUE_MESSAGE_BEGIN_OK,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_PREPEND,	/* bytes: header fields in front */
	IMSG_QUEUE_MESSAGE_DATA,	/* bytes */
	IMSG_QUEUE_ENVELOPE_ADD,	/* struct msg_queue_envelope */
	IMSG_QUEUE_MESSAGE_COMMIT,	/* empty */
	IMSG_QUEUE_MESSAGE_COMMIT_OK,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_FAIL,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_ABORT,	/* empty */
	IMSG_QUEUE_MESSAGE_NOSPACE,	/* struct msg_queue_msgid */
	IMSG_QUEUE_SPACE_STATE,		/* struct msg_queue_space */

	/*
	 * smtp <-> authd: each message streams to authd as it streams to
	 * the queue (peer id = session); the result comes back once.
	 * SASL AUTH (RFC 4954): the request carries the password, which
	 * smtp wipes once sent and authd once checked.
	 */
	IMSG_AUTH_MESSAGE_BEGIN,	/* struct msg_auth_begin */
	IMSG_AUTH_MAIL_RESULT,		/* struct msg_auth_mail: MAIL's reply */
	IMSG_AUTH_MESSAGE_DATA,		/* bytes */
	IMSG_AUTH_MESSAGE_END,		/* struct msg_auth_end */
	IMSG_AUTH_MESSAGE_ABORT,	/* empty */
	IMSG_AUTH_MESSAGE_RESULT,	/* struct msg_auth_result + header */
	IMSG_AUTH_SASL_CHECK,		/* struct msg_auth_sasl */
	IMSG_AUTH_SASL_RESULT,		/* struct msg_auth_sasl_result */
	/*
	 * SCRAM (RFC 5802): smtp runs the exchange, authd holds the keys
	 * and never sends them: a user's salt and iterations (made up
	 * for an unknown user), then the proof checked against the
	 * AuthMessage, answered with the server's signature.
	 */
	IMSG_AUTH_SCRAM_LOOKUP,		/* struct msg_auth_scram_lookup */
	IMSG_AUTH_SCRAM_SALT,		/* struct msg_auth_scram_salt */
	IMSG_AUTH_SCRAM_VERIFY,		/* struct msg_auth_scram_verify */
	IMSG_AUTH_SCRAM_RESULT,		/* struct msg_auth_scram_result */

	/*
	 * queue <-> mta: one message for one relay action, the message as
	 * an fd, then its envelopes; one result per envelope comes back.
	 */
	IMSG_MTA_TASK_START,		/* struct msg_mta_task + fd */
	IMSG_MTA_ENVELOPE_ADD,		/* struct envelope */
	IMSG_MTA_ENVELOPE_RESULT,	/* struct msg_mta_result */

	/* queue <-> parent: local delivery, the message as an fd */
	IMSG_DELIVER_ENVELOPE_START,	/* struct msg_deliver + fd */
	IMSG_DELIVER_ENVELOPE_RESULT,	/* struct msg_deliver_result */

	/* authd -> reportd: one DMARC evaluation (dmarc_eval_encode()) */
	IMSG_REPORT_EVALUATION_ADD,	/* bytes */
	IMSG_REPORT_TLS_RESULT,		/* struct msg_tls_result, mta */
	/*
	 * queue <-> reportd: mail that an `action NAME reportd` took, as an
	 * fd, handed over like a local delivery; one result comes back.
	 */
	IMSG_REPORT_MESSAGE_RECEIVE,	/* struct msg_report_receive + fd */
	IMSG_REPORT_MESSAGE_RESULT,	/* struct msg_deliver_result */
	IMSG_REPORT_TLS_POLICY,		/* struct msg_tls_policy + text, mta */
	/*
	 * authd -> reportd: a message whose authentication failed in a way
	 * its DMARC record asks failure reports for (RFC 9991): the
	 * evaluation (dmarc_eval_encode()) and the message's header section
	 */
	IMSG_REPORT_FAILURE_ADD,	/* struct msg_report_failure + bytes */

	/*
	 * reportd <-> queue: a report reportd made, one message at a time
	 * (peer id = reportd's request).  BEGIN names the sender and the
	 * report's key; the recipients and the bytes follow; COMMIT is
	 * answered with RESULT once the message is durable, or at once when
	 * a message of that key was queued before (a report offered again
	 * after a crash) or it could not be queued.  The queue routes these
	 * by routes and transports only, never by the match rules.
	 */
	IMSG_QUEUE_REPORT_BEGIN,	/* struct msg_queue_report */
	IMSG_QUEUE_REPORT_RCPT,		/* struct msg_queue_report_rcpt */
	IMSG_QUEUE_REPORT_DATA,		/* bytes */
	IMSG_QUEUE_REPORT_COMMIT,	/* empty */
	IMSG_QUEUE_REPORT_RESULT,	/* struct msg_queue_report_result */
	IMSG_QUEUE_REPORT_BOUNCE,	/* struct msg_queue_report_bounce:
					   a report's recipient failed */

	/*
	 * posternctl <-> control <-> parent and children.  Requests go to
	 * the process that answers them (posternd/control.c's table);
	 * replies come back with the client's id as peer id.
	 */
	IMSG_CTL_SESSION_HELLO,		/* struct msg_ctl_hello */
	IMSG_CTL_REPLY_OK,		/* empty */
	IMSG_CTL_REPLY_ERROR,		/* struct msg_ctl_error */
	IMSG_CTL_REPLY_END,		/* empty: end of a listing */
	IMSG_CTL_REPLY_DATA,		/* bytes of a listing or message */
	IMSG_CTL_REPLY_COUNT,		/* struct msg_ctl_count */
	IMSG_CTL_STATUS_GET,		/* empty */
	IMSG_CTL_STATUS_ENTRY,		/* struct msg_ctl_status */
	IMSG_CTL_VERBOSE_SET,		/* struct msg_ctl_verbose */
	IMSG_CTL_DAEMON_STOP,		/* empty */
	IMSG_CTL_QUEUE_LIST,		/* empty */
	IMSG_CTL_QUEUE_ENTRY,		/* struct msg_ctl_envelope */
	IMSG_CTL_QUEUE_SHOW,		/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_SCHEDULE,	/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_REMOVE,		/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_HOLD,		/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_RELEASE,		/* struct msg_ctl_qid */
	IMSG_CTL_PROC_PAUSE,		/* struct msg_ctl_target; empty on */
	IMSG_CTL_PROC_RESUME,		/* from control to smtp or queue */
	IMSG_CTL_STATS_GET,		/* likewise */
	IMSG_CTL_STATS_ENTRY,		/* struct msg_ctl_stat */
	IMSG_CTL_EVALUATIONS_GET,	/* struct msg_ctl_domain; DATA back */
	IMSG_CTL_MTA_HOSTS_GET,		/* empty */
	IMSG_CTL_MTA_HOST_ENTRY,	/* struct msg_ctl_mta_host */
	IMSG_CTL_MTA_ROUTES_GET,	/* struct msg_ctl_domain (flags only) */
	IMSG_CTL_MTA_STS_GET,		/* struct msg_ctl_domain ("": all);
					   IMSG_CTL_REPLY_DATA lines */
	IMSG_CTL_MTA_STS_FLUSH,		/* struct msg_ctl_domain ("": all);
					   IMSG_CTL_REPLY_COUNT */
	IMSG_CTL_TLS_RESULTS_GET,	/* struct msg_ctl_domain; DATA back */
	IMSG_CTL_DEBUG_DELIVERY,	/* struct msg_ctl_debug + trust anchor
					   + CA bytes; DATA lines, then
					   IMSG_CTL_DEBUG_RESULT */
	IMSG_CTL_DEBUG_RESULT,		/* struct msg_ctl_debug_result */
	IMSG_CTL_DEBUG_CANCEL,		/* empty, control -> mta: the client
					   of that peer id left */
	IMSG_CTL_REPORTS_GET,		/* struct msg_ctl_reports; DATA back */
	IMSG_CTL_REPORT_DMARC_PRINT,	/* struct msg_ctl_domain; DATA back:
					   the open period's report XML */
	IMSG_CTL_REPORT_DMARC_SEND,	/* struct msg_ctl_domain ("": all);
					   IMSG_CTL_REPLY_COUNT: reports */
	IMSG_CTL_SUPPRESSIONS_GET,	/* struct msg_ctl_domain (flags); DATA */
	IMSG_CTL_SUPPRESSION_REMOVE,	/* struct msg_ctl_domain holding the
					   address; IMSG_CTL_REPLY_COUNT */
	IMSG_CTL_REPORT_TLS_PRINT,	/* struct msg_ctl_domain; DATA back:
					   the open day's TLS-RPT JSON */
	IMSG_CTL_REPORT_TLS_SEND,	/* struct msg_ctl_domain ("": all);
					   IMSG_CTL_REPLY_COUNT: reports */
	IMSG_CTL_LOCAL_SESSION,		/* struct msg_ctl_local_session + fd,
					   control -> smtp: a local
					   submission (posternctl sendmail) */
	/*
	 * show queue streams in batches, with flow control: after each
	 * batch of IMSG_CTL_QUEUE_ENTRY the queue sends LIST_PAUSE (kept
	 * by control, not relayed) and waits; control answers LIST_NEXT
	 * once its client has taken what it relayed, or LIST_CANCEL when
	 * the client left.  All three empty, with the client's peer id.
	 */
	IMSG_CTL_QUEUE_LIST_PAUSE,	/* queue -> control */
	IMSG_CTL_QUEUE_LIST_NEXT,	/* control -> queue */
	IMSG_CTL_QUEUE_LIST_CANCEL,	/* control -> queue */

	/*
	 * smtp <-> parent: a local recipient's ~/.forward at RCPT (an
	 * action's "forward-file yes"), read and parsed by a short-lived
	 * worker as the user (posternd/forward.c); peer id = session.
	 */
	IMSG_FORWARD_LOOKUP,		/* struct msg_forward_lookup */
	IMSG_FORWARD_MEMBER,		/* struct msg_forward_member */
	IMSG_FORWARD_END,		/* struct msg_forward_end */

	/*
	 * branch lists: mailing lists (queue/list.c, authd/list.c).  The
	 * parent sends each "list" to smtp, queue and authd with the
	 * routing; the queue asks authd for a list copy's header section
	 * (the message as an fd), authd answers with the section in
	 * chunks and an END.  Peer id 0; the envelope id says which.
	 */
	IMSG_CONF_LIST_ADD,		/* struct msg_conf_list */
	IMSG_LIST_BUILD,		/* struct msg_list_build + fd */
	IMSG_LIST_HEADER,		/* struct msg_list_header */
	IMSG_LIST_END,			/* struct msg_list_end */

	/*
	 * fwdcmd: parent -> queue at start, the key of the proofs that
	 * the parent adds to a ~/.forward's members (lib/dotforward.h).
	 */
	IMSG_CONF_FORWARD_KEY,		/* struct msg_conf_forward_key */

	IMSG_TYPE_MAX
};

/* --- parent -> child at start (IMSG_CONF_*) --- */

struct msg_peer {
	uint32_t	 proc;		/* enum proc_id at the other end */
};

struct msg_conf_global {
	char		 hostname[256];
	char		 user[32];	/* the child's user */
	char		 chroot[256];	/* the child's root directory */
	int32_t		 verbose;
	int64_t		 retry_first;	/* queue schedule, seconds */
	int64_t		 retry_max;
	int64_t		 expire;
	uint64_t	 max_message_size;
	uint64_t	 queue_memory_limit;	/* bytes, 0: none */
	uint64_t	 queue_minfree;	/* bytes, 0: the default */
	int64_t		 smtp_timeout;	/* idle, seconds */
	uint32_t	 smtp_max_sessions;
	uint32_t	 smtp_max_per_ip;
	uint32_t	 smtp_max_received;	/* a loop past this many */
	int32_t		 resolver;	/* 0: the system resolver */
	char		 resolver_addr[64];
	uint32_t	 resolver_port;
	char		 trust_anchor[256];	/* "" = the system's */
	int64_t		 auth_dns_timeout;	/* seconds, per message;
						   0: no budget */
	/* smtp: limits that hold under attack (postern.conf(5)) */
	int32_t		 smtp_ipv4_prefix;	/* a client's net */
	int32_t		 smtp_ipv6_prefix;
	int64_t		 smtp_data_timeout;	/* seconds */
	int64_t		 smtp_max_lifetime;	/* seconds */
	uint32_t	 smtp_min_data_rate;	/* bytes/s, 0: none */
	int64_t		 smtp_data_rate_window;	/* seconds */
	uint32_t	 smtp_max_idle_commands;
	uint32_t	 smtp_auth_max_failures;
	int64_t		 smtp_auth_lockout;	/* seconds */
	/* mta: its sessions at most (RLIMIT_NOFILE) */
	uint32_t	 mta_max_sessions;	/* working + slow */
};

struct msg_conf_listener {
	struct sockaddr_storage	 ss;
	uint32_t		 sslen;
	int32_t			 flags;
	char			 pki[64];
	char			 tag[64];
	char			 hostname[256];
	char			 policy[64];	/* "" = every check relaxed */
	char			 auth_table[64];	/* credentials, "" = no AUTH */
	char			 senders_table[64];	/* "" = any sender */
};

/* Followed by certlen bytes of PEM certificate chain, keylen of key. */
struct msg_conf_pki {
	char		 name[64];
	uint32_t	 certlen;
	uint32_t	 keylen;
};

#define CTL_MAX_ALLOWED_UIDS	64
struct msg_conf_control {
	uint32_t	 gid;		/* control group, or (uint32_t)-1 */
	uint32_t	 nuids;		/* members of that group */
	uint32_t	 uids[CTL_MAX_ALLOWED_UIDS];
};

struct msg_conf_table {
	char		 name[64];
	int32_t		 type;		/* enum table_type */
};

struct msg_conf_table_entry {
	char		 table[64];
	char		 key[256];
	char		 value[256];
	int32_t		 has_value;
};

struct msg_conf_action {
	char		 name[64];
	int32_t		 type;		/* enum action_type */
	int32_t		 fixed_user;	/* "user NAME": any local part goes */
	char		 virtual_table[64]; /* "virtual <T>", "" = none */
	char		 alias_table[64];	/* "alias <T>", "" = none */
	int32_t		 alias_files;
	int32_t		 alias_commands;
	int32_t		 forward_file;	/* "forward-file yes" */
	int32_t		 forward_files;		/* ... files */
	int32_t		 forward_commands;	/* ... commands */
};

struct msg_conf_forward_key {
	uint8_t		 key[FORWARD_KEY_LEN];
};

/*
 * One "match" statement (lib/config.h struct rule), in order: the rule
 * without its list linkage, every field fixed-size.
 */
struct msg_conf_rule {
	int32_t			 from;		/* enum match_from */
	int32_t			 from_negate;
	char			 from_table[64];
	struct sockaddr_storage	 from_net;	/* MATCH_FROM_SRC_NET */
	int32_t			 from_prefixlen;
	int32_t			 rcpt_for;	/* enum match_for */
	int32_t			 for_negate;
	char			 for_table[64];
	char			 for_domain[256];
	char			 tag[64];	/* "" = any */
	int32_t			 auth;		/* 1 AUTH, -1 none, 0 either */
	int32_t			 reject;
	char			 action[64];	/* "" when reject */
};

/*
 * An SRS secret (lib/srs.h), to smtp (which rewrites and reverses) and
 * the queue (which checks a reversal smtp proposes); never logged.
 */
struct msg_conf_srs_key {
	char		 domain[256];	/* our SRS domain */
	uint32_t	 keylen;
	uint8_t		 key[256];	/* SRS_KEY_MAX */
};

/* One "list" statement (lib/config.h struct mailing_list). */
struct msg_conf_list {
	char		 name[64];
	char		 address[256];
	char		 bounce[256];
	char		 members[64];
	int32_t		 posters;	/* enum list_posters */
	char		 posters_table[64];
	char		 subject_tag[64];	/* LIST_TAG_MAX */
	char		 unsubscribe[512];	/* LIST_URL_MAX */
	char		 arc_seal[64];
	int32_t		 from_rewrite;	/* enum list_from_rewrite */
	char		 dkim_sign[64];	/* "sign with": a dkim-signature */
};

/* queue -> authd: build the list copy of the message (the fd) */
struct msg_list_build {
	uint64_t	 evpid;		/* the list envelope */
	char		 list[64];
};

#define LIST_HEADER_CHUNK	32768
struct msg_list_header {
	uint64_t	 evpid;
	uint32_t	 len;		/* <= LIST_HEADER_CHUNK */
	uint8_t		 data[LIST_HEADER_CHUNK];
};

enum list_build_status {
	LIST_BUILD_OK = 0,		/* the HEADERs are the new section */
	LIST_BUILD_LOOP,		/* our List-Id is in it: dropped */
	LIST_BUILD_BAD,			/* cannot be a list copy: dropped */
	LIST_BUILD_TEMPFAIL		/* DNS or reading: again later */
};

struct msg_list_end {
	uint64_t	 evpid;
	int32_t		 status;	/* enum list_build_status */
	uint64_t	 body_offset;	/* the original's body starts here */
	char		 why[256];
};

struct msg_conf_user {
	char		 name[64];	/* a local user */
	int32_t		 can_receive;	/* a local part may name it (the
					   parent's verdict, local-users) */
	uint32_t	 uid;		/* whose local submissions it names */
};

/* What reportd sends (postern.conf(5) reports statements). */
struct msg_conf_reports {
	int32_t		 enabled;	/* reports from ... given */
	char		 from[256];
	char		 org[256];
	char		 contact[256];	/* "" = none */
	uint32_t	 period;	/* 3600 or 86400 */
	char		 sign[64];	/* dkim-signature, "" = none */
	uint32_t	 max_per_period;	/* 0 = no limit */
	int32_t		 failure;
	int64_t		 suppress;	/* seconds a failing address rests */
	char		 ca_file[256];	/* TLS-RPT https: "" = the system's */
	uint32_t	 failure_max;	/* failure reports an hour, >= 1 */
};

/* The outbound MTA's settings (postern.conf(5) mta-* statements). */
struct msg_conf_mta {
	int64_t		 timeout;	/* per command; 0: RFC 5321 4.5.3.2 */
	int64_t		 connect_timeout;
	uint32_t	 max_sessions;	/* connections at once */
	uint32_t	 max_per_domain;
	char		 ca_file[256];	/* trust anchors for "tls verify" */
	int32_t		 tls_fallback;	/* mta-tls-fallback yes */
	uint32_t	 max_slow_sessions; /* beyond max_sessions, waiting */
};

/* One "action NAME relay ..." (lib/config.h struct action). */
struct msg_conf_relay {
	char		 name[64];
	int32_t		 has_host;	/* a smarthost, else MX delivery */
	int32_t		 scheme;	/* enum relay_scheme */
	char		 host[256];
	uint32_t	 port;
	int32_t		 tls;		/* enum relay_tls */
	char		 auth[64];	/* credentials table, "" = none */
	uint32_t	 mechs;		/* SASL: 1 << enum sasl_mech; 0 = any */
	char		 helo[256];	/* "" = the hostname */
	int32_t		 transport;	/* enum transport_kind; NONE: action */
	char		 socks5_host[256];	/* numeric */
	uint32_t	 socks5_port;
};

/*
 * One credential of a relay's auth table: only the mta gets these, and
 * the parent wipes its copy of the message once sent.
 */
struct msg_conf_secret {
	char		 table[64];
	char		 host[256];
	char		 user[256];
	char		 password[256];
};

/* One "route" statement, in order (lib/config.h struct route). */
struct msg_conf_route {
	char		 from_domain[256];
	char		 for_domain[256];
	char		 account[256];	/* AUTH user, "" = any */
	uint32_t	 min_attempt;
	char		 transport[64];
};

/*
 * An address for the mta's loop checks (RFC 5321 5.1): one of our
 * listening addresses with its port (a wildcard listener brings the
 * interfaces' addresses too), or an mta-mx-allow-network network.
 */
#define MSG_MTA_ADDR_MAX	4096	/* the parent sends no more */

enum msg_mta_addr_kind {
	MTA_ADDR_LISTEN,
	MTA_ADDR_MX_ALLOW
};

struct msg_conf_mta_addr {
	int32_t		 kind;		/* enum msg_mta_addr_kind */
	int32_t		 family;	/* AF_INET, AF_INET6 */
	uint8_t		 addr[16];	/* IPv4: 4 bytes, then zeros */
	uint32_t	 prefixlen;	/* MX_ALLOW */
	uint32_t	 port;		/* LISTEN; 0 for MX_ALLOW */
};

/* One "policy NAME { ... }" (lib/config.h struct policy). */
struct msg_conf_policy {
	char		 name[64];
	int32_t		 spf, dkim, arc, dmarc;	/* enum policy_mode */
	int32_t		 spf_reject_fail;
	int32_t		 dkim_allow_sha1;
	int32_t		 dkim_fail_partial_body;
	uint32_t	 dkim_max_signatures;
	int32_t		 quarantine;		/* enum dmarc_quarantine */
	char		 quarantine_folder[256];
};

/* "dkim-signature NAME { ... }", followed by keylen bytes of PEM key. */
struct msg_conf_dkimsig {
	char		 name[64];
	char		 domain[256];
	char		 selector[256];
	int32_t		 algorithm;	/* enum dkim_algorithm */
	int32_t		 canon_header;	/* enum dkim_canon */
	int32_t		 canon_body;
	char		 headers[1024];	/* "" = the default list */
	int64_t		 expire;	/* seconds, 0 = none */
	int32_t		 oversign;
	uint32_t	 keylen;
};

/* "sign with NAME ... [from <T> | domain NAME] [tag NAME]" */
struct msg_conf_sign {
	char		 signatures[8][64];
	uint32_t	 nsignatures;
	char		 from_table[64];
	char		 domain[256];
	char		 tag[64];
};

/*
 * One entry of a listener's credentials table ("auth <T>"): only authd
 * gets these; the hash is crypt(3) output, maybe followed by SCRAM forms
 * (blank-separated, lib/scram.h), as the table's value holds them.
 */
struct msg_conf_credential {
	char		 table[64];
	char		 user[256];
	char		 hash[1024];
};

/* --- smtp <-> queue (IMSG_QUEUE_*); the envelope is lib/envelope.h's --- */

struct msg_queue_msgid {
	uint64_t	 msgid;
};

/*
 * One recipient as smtp proposes it, with what the routing decision was
 * made from, so that the queue can make it again (queue/admit.c): the
 * client's address and the listener's tag here, the AUTH user in
 * env.account ("" = none).
 */
struct msg_queue_envelope {
	struct envelope		 env;
	struct sockaddr_storage	 client;	/* AF_UNIX: posternctl sendmail */
	char			 tag[64];	/* "" = untagged */
	char			 alias_of[ENV_ADDR_MAX + 1]; /* the RCPT that
					   expanded to env.rcpt, "" = none */
	uint32_t		 alias_gen;	/* smtp's count of table
					   reloads when it expanded */
	int32_t			 forwarded;	/* alias_of's ~/.forward, not
					   an alias table, named env.rcpt */
	int32_t			 srs;	/* alias_of is an SRS address of
					   ours, env.rcpt what it reverses
					   to (lib/srs.h) */
	/* forwarded: the member env.rcpt came from, with its proof */
	char			 fwd_member[256];
	int64_t			 fwd_when;
	uint8_t			 fwd_proof[FORWARD_PROOF_LEN];
};

#define FORWARD_MAX_MEMBERS	100	/* of one ~/.forward */
struct msg_forward_lookup {
	char		 user[64];
};

/*
 * One member as written; the parent adds the proof for the queue
 * (lib/dotforward.h), the worker sends it zero.
 */
struct msg_forward_member {
	char		 member[256];
	int64_t		 when;		/* the parent's wall clock */
	uint8_t		 proof[FORWARD_PROOF_LEN];
};

#define FORWARD_NONE		0	/* no usable ~/.forward: the mailbox */
#define FORWARD_FOUND		1	/* its members came before */
#define FORWARD_TEMPFAIL	2	/* could not be read now: 451 */
struct msg_forward_end {
	int32_t		 status;	/* FORWARD_* */
};

struct msg_queue_begin {
	uint64_t	 size;		/* declared (RFC 1870 SIZE), 0: not */
};

/* queue -> smtp, when the spool crosses `queue minfree` either way. */
struct msg_queue_space {
	int32_t		 low;		/* 1: MAIL gets 452 4.3.1 */
};

/* --- reportd <-> queue (IMSG_QUEUE_REPORT_*) --- */

#define MSG_REPORT_KEY_MAX	320	/* queue/store.h QSTORE_KEY_MAX */
#define MSG_REPORT_MAX_RCPTS	32
#define MSG_REPORT_SIZE_MAX	((uint64_t)64 * 1024 * 1024)

struct msg_queue_report {
	char		 sender[ENV_ADDR_MAX + 1];	/* not the null path */
	char		 key[MSG_REPORT_KEY_MAX + 1];	/* queued once only */
	uint64_t	 size;		/* the message's bytes */
	uint32_t	 flags;		/* MSG_REPORT_F_* */
};
/* RFC 8689 5: the message says "TLS-Required: No" (TLS-RPT, 8460 5.3) */
#define MSG_REPORT_F_TLSREQ_NO	0x0001

struct msg_queue_report_rcpt {
	char		 rcpt[ENV_ADDR_MAX + 1];
};

#define MSG_REPORT_QUEUED	0
#define MSG_REPORT_DUPLICATE	1	/* queued before: nothing done */
#define MSG_REPORT_FAILED	2	/* not queued: try again later */

struct msg_queue_report_result {
	int32_t		 status;	/* MSG_REPORT_* */
	uint64_t	 msgid;		/* QUEUED: the message's id */
};

/* queue -> reportd: a report could not be delivered to rcpt, for good. */
struct msg_queue_report_bounce {
	char		 rcpt[ENV_ADDR_MAX + 1];
	char		 status[16];	/* RFC 3463 */
	char		 diagnostic[512];
};

/* --- smtp <-> authd (IMSG_AUTH_*) --- */

struct msg_auth_begin {
	int32_t		 local;		/* loopback or authenticated client:
					   our own mail, signed, not judged */
	char		 tag[64];	/* the listener's */
	char		 ip[64];
	char		 helo[256];
	char		 mail_from[1025];	/* "" = the null path */
	char		 policy[64];		/* "" = every check relaxed */
	int32_t		 authenticated;	/* SASL AUTH: local, not judged */
	char		 account[256];	/* the AUTH user, "" = none */
	char		 senders[64];	/* the From addresses must be the
					   account's in this table; "" = any */
	char		 sign_from[1025]; /* a local user's submission: signed
					   only if every From address is this
					   one; "" = no such rule */
};

/* SPF at MAIL time (RFC 7208 8.4): accept the MAIL, or refuse it. */
struct msg_auth_mail {
	int32_t		 refuse;
	int32_t		 code;
	char		 status[16];
	char		 text[256];
};

struct msg_auth_end {
	char		 rcpt_domain[256];	/* the first recipient's */
	int32_t		 relayed;	/* a recipient is remote */
};

/*
 * authd's verdict on a message, as smtp reads it: authd maps auth/'s
 * enum inbound_verdict onto this (auth/ knows nothing of the wire).
 */
enum msg_auth_verdict {
	AUTH_VERDICT_ACCEPT,
	AUTH_VERDICT_QUARANTINE,	/* DMARC p=quarantine enforced */
	AUTH_VERDICT_REJECT,		/* 5xx */
	AUTH_VERDICT_TEMPFAIL,		/* 4xx */
	AUTH_VERDICT_MAX
};

/* Followed by header_len bytes of header fields to prepend. */
struct msg_auth_result {
	int32_t		 verdict;	/* enum msg_auth_verdict */
	int32_t		 code;
	char		 status[16];
	char		 text[256];
	char		 folder[64];	/* quarantine: deliver there */
	int32_t		 sender_not_owned; /* refused under "senders" */
	uint32_t	 header_len;
};

#define AUTH_SASL_USER_MAX	255	/* SMTP_AUTH_USER_MAX */
#define AUTH_SASL_PASS_MAX	1024	/* SMTP_AUTH_PASS_MAX */

struct msg_auth_sasl {
	char		 table[64];
	char		 user[AUTH_SASL_USER_MAX + 1];
	char		 password[AUTH_SASL_PASS_MAX + 1];
};

#define AUTH_SASL_OK		0
#define AUTH_SASL_FAIL		1
#define AUTH_SASL_TEMPFAIL	2

struct msg_auth_sasl_result {
	int32_t		 result;	/* AUTH_SASL_* */
};

/* SCRAM: the mechanism is enum sasl_mech's SASL_MECH_SCRAM_SHA_*. */
#define AUTH_SCRAM_HASH_MAX	32	/* SCRAM_HASH_MAX */
#define AUTH_SCRAM_SALT_MAX	64	/* SCRAM_SALT_MAX */
#define AUTH_SCRAM_AUTHMSG_MAX	3072	/* SCRAM_AUTHMSG_MAX */

struct msg_auth_scram_lookup {
	char		 table[64];
	char		 user[AUTH_SASL_USER_MAX + 1];
	int32_t		 mech;
};

struct msg_auth_scram_salt {
	int32_t		 result;	/* AUTH_SASL_OK or _TEMPFAIL */
	uint32_t	 iterations;
	uint32_t	 salt_len;
	uint8_t		 salt[AUTH_SCRAM_SALT_MAX];
};

struct msg_auth_scram_verify {
	char		 table[64];
	char		 user[AUTH_SASL_USER_MAX + 1];
	int32_t		 mech;
	uint32_t	 proof_len;
	uint8_t		 proof[AUTH_SCRAM_HASH_MAX];
	uint32_t	 authmsg_len;
	char		 authmsg[AUTH_SCRAM_AUTHMSG_MAX];
};

struct msg_auth_scram_result {
	int32_t		 result;	/* AUTH_SASL_* */
	uint32_t	 sig_len;	/* ServerSignature when OK */
	uint8_t		 sig[AUTH_SCRAM_HASH_MAX];
};

/* --- a delivery's outcome, from the mta and from the parent --- */

#define DELIVER_OK		0
#define DELIVER_TEMPFAIL	1
#define DELIVER_PERMFAIL	2

/* --- queue <-> mta (IMSG_MTA_*) --- */

/*
 * Envelopes the queue has out at once (queue/queue.h): each message among
 * them is a descriptor in the mta, which sizes its RLIMIT_NOFILE by it.
 */
#define MSG_MTA_INFLIGHT_MAX	2048

struct msg_mta_task {
	uint64_t	 msgid;
	uint64_t	 size;		/* octets in the fd */
	uint32_t	 nenv;		/* IMSG_MTA_ENVELOPEs that follow */
};

struct msg_mta_result {
	uint64_t	 evpid;
	int32_t		 status;	/* DELIVER_* */
	char		 dsn_status[16];	/* RFC 3463, "5.1.1" */
	char		 remote_mta[256];	/* "" = none was reached */
	char		 diagnostic[512];	/* the remote reply, one line */
	char		 error[512];		/* our account, for logs */
};

/* --- queue <-> parent, local delivery (IMSG_DELIVER_*) --- */

struct msg_deliver {
	uint64_t	 evpid;
	char		 sender[1025];	/* "" = null reverse path */
	char		 rcpt[1025];
	char		 action[64];	/* the parent's own action of that name */
	int32_t		 check_existing; /* a retry after a crash */
	char		 folder[64];	/* maildir folder, "" = the inbox */
};

struct msg_deliver_result {
	uint64_t	 evpid;
	int32_t		 status;	/* DELIVER_* */
	char		 dsn_status[16];	/* RFC 3463; "" = by status */
	char		 error[256];
	int32_t		 smtp_diag;	/* error is a server's reply (LMTP):
					   an "smtp" Diagnostic-Code */
};

/* --- queue <-> reportd, received reports (IMSG_REPORT_MESSAGE_*) --- */

struct msg_report_receive {
	uint64_t	 evpid;
	char		 sender[1025];	/* "" = null reverse path */
	char		 rcpt[1025];
};

/* --- authd -> reportd, failure reports (IMSG_REPORT_FAILURE_ADD) --- */

#define MSG_FAILURE_DMARC	0	/* Auth-Failure: dmarc (RFC 9991 3) */
#define MSG_FAILURE_DKIM	1	/* a signature with r=y (RFC 6651) */
#define MSG_FAILURE_SPF		2	/* SPF failed (RFC 6652) */
struct msg_report_failure {
	int32_t		 kind;		/* MSG_FAILURE_* */
	char		 mail_from[1025];	/* "" = the null path */
	/* MSG_FAILURE_DKIM: the signature that failed */
	char		 dkim_domain[256];
	char		 dkim_selector[256];
	char		 dkim_identity[256];
	int32_t		 dkim_bodyhash;	/* its body hash, else signature */
	char		 spf_domain[256];	/* MSG_FAILURE_SPF: checked */
	uint32_t	 eval_len;	/* the evaluation's bytes, first */
	uint32_t	 header_len;	/* then the header section's */
};

/* --- posternctl <-> control <-> processes (IMSG_CTL_*) --- */

struct msg_ctl_hello {
	uint32_t	 version;
};

struct msg_ctl_error {
	char		 message[256];
};

struct msg_ctl_count {
	int64_t		 count;
};

struct msg_ctl_status {
	char		 name[16];
	char		 user[32];
	char		 chroot[256];
	int32_t		 pid;
	int64_t		 uptime;	/* seconds */
};

struct msg_ctl_verbose {
	int32_t		 verbose;
};

/* which envelopes: QID_ALL, QID_MSG or QID_ENV (lib/envelope.h) */
/* flags of a listing request: how posternctl wants it */
#define CTL_FLAG_JSON		0x01	/* -j: one JSON object per line */
#define CTL_FLAGS_ALL		CTL_FLAG_JSON

struct msg_ctl_qid {
	int32_t		 kind;
	uint32_t	 flags;		/* CTL_FLAG_* (show message) */
	uint64_t	 id;
};

struct msg_ctl_envelope {
	uint64_t	 evpid;
	int64_t		 ctime;
	int64_t		 next_try;
	uint32_t	 attempts;
	int32_t		 state;
	int32_t		 kind;
	char		 sender[1025];
	char		 rcpt[1025];
	char		 error[1001];
	char		 account[256];	/* AUTH user, "" = none */
	uint64_t	 size;		/* the message's octets, 0: unknown */
};

/*
 * posternctl names the process for pause/resume/stats with this; control
 * forwards the request to it with an empty payload.
 */
#define CTL_TARGET_SMTP		1
#define CTL_TARGET_QUEUE	2
#define CTL_TARGET_REPORTD	3	/* show stats only */
#define CTL_TARGET_MTA		4	/* show stats only */
#define CTL_TARGET_AUTHD	5	/* show stats only */
struct msg_ctl_target {
	int32_t		 target;
};

struct msg_ctl_stat {
	char		 name[64];
	uint64_t	 value;
};

/* A domain to filter a listing by; "" = all. */
struct msg_ctl_domain {
	char		 domain[256];
	uint32_t	 flags;		/* CTL_FLAG_*, for a listing */
};

/* posternctl show reports [dmarc|tls|arf] [-j] */
#define MSG_REPORTS_ALL		0
#define MSG_REPORTS_DMARC	1
#define MSG_REPORTS_TLS		2
#define MSG_REPORTS_ARF		3
struct msg_ctl_reports {
	int32_t		 kind;		/* MSG_REPORTS_* */
	int32_t		 json;		/* one JSON object a line */
};

/*
 * One outbound TLS outcome (RFC 8460 4.3) for a recipient domain's MX
 * delivery: the policy that applied, the host and address, and "success"
 * or the failure's result type.
 */
#define MSG_TLS_POLICY_NONE	0	/* "no-policy-found" */
#define MSG_TLS_POLICY_TLSA	1
#define MSG_TLS_POLICY_STS	2
struct msg_tls_result {
	int64_t		 when;		/* wall clock */
	int32_t		 policy;	/* MSG_TLS_POLICY_* */
	char		 domain[256];
	char		 mx[256];
	char		 ip[48];
	char		 result[40];
};

/*
 * The policy behind TLS results (RFC 8460 4.4 "policy-string" and
 * "mx-host"): for tlsa the MX host and its TLSA records in presentation
 * form, for sts the policy's lines (mx "").  The struct is followed by
 * len bytes of text: at most MSG_TLS_POLICY_LINES lines of printable
 * ASCII, each at most MSG_TLS_POLICY_LINE_MAX bytes and ending in '\n'.
 */
#define MSG_TLS_POLICY_LINES	64
#define MSG_TLS_POLICY_LINE_MAX	255
#define MSG_TLS_POLICY_TEXT_MAX	(MSG_TLS_POLICY_LINES * \
				    (MSG_TLS_POLICY_LINE_MAX + 1))
struct msg_tls_policy {
	int64_t		 when;		/* wall clock */
	int32_t		 policy;	/* MSG_TLS_POLICY_TLSA or _STS */
	char		 domain[256];
	char		 mx[256];
	uint32_t	 len;
};

struct msg_ctl_mta_host {
	char		 name[256];	/* action/destination */
	uint32_t	 connections;	/* open now */
	uint32_t	 pending;	/* messages waiting */
	uint64_t	 delivered;
	uint64_t	 failures;	/* failed connections */
	uint64_t	 sessions;	/* connections made, ever */
	int64_t		 backoff;	/* seconds left, 0: none */
	char		 last_error[256];
};

/*
 * posternctl debug delivery: a probe of a delivery to one address, run by
 * the mta (mta/debug.c).  The trust anchor (unbound's trust-anchor-file
 * format) and the CA bundle (PEM) follow the struct, as posternctl read
 * them from the files the administrator named.
 */
#define CTL_DEBUG_F_JSON	0x1	/* one JSON object per line */
#define CTL_DEBUG_RESOLVER_MAX	128
#define CTL_DEBUG_TA_MAX	(8 * 1024)
#define CTL_DEBUG_CA_MAX	(48 * 1024)
struct msg_ctl_debug {
	uint32_t	 flags;		/* CTL_DEBUG_F_* */
	char		 rcpt[1025];
	char		 sender[1025];	/* "" = the null sender */
	char		 resolver[CTL_DEBUG_RESOLVER_MAX];	/* "" = the
						   mta's DNS; ADDR[@PORT] */
	uint32_t	 ta_len;	/* bytes of trust anchor; 0 = none */
	uint32_t	 ca_len;	/* bytes of CA bundle; 0 = the mta's */
};

/* The verdict, after the last line (the result line). */
#define CTL_DEBUG_DELIVERABLE	0
#define CTL_DEBUG_UNDELIVERABLE	1
#define CTL_DEBUG_TEMPORARY	2
struct msg_ctl_debug_result {
	int32_t		 verdict;	/* CTL_DEBUG_* */
};

/*
 * A local submission (posternctl sendmail): control took the caller's
 * credentials with SO_PEERCRED and hands the connected socket to smtp.
 */
struct msg_ctl_local_session {
	uint32_t	 uid;
	uint32_t	 gid;
	int32_t		 pid;
	int32_t		 privileged;	/* root or the control group: any
					   envelope sender */
};

const char	*proc_name(enum proc_id);

/*
 * The decoders (lib/msg.c), one per payload: 0 and the payload copied
 * out, or -1 (errno EBADMSG) when it is not exactly what its type says.
 * A payload that fails is its sender's bug: the receiver stops.
 */
struct imsg;
struct envelope;

const char	*msg_type_name(uint32_t);
int	msg_get_empty(const struct imsg *);
int	msg_get_bytes(const struct imsg *, const void **, size_t *);
int	msg_get_peer(const struct imsg *, struct msg_peer *);
int	msg_get_conf_global(const struct imsg *, struct msg_conf_global *);
int	msg_get_conf_listener(const struct imsg *, struct msg_conf_listener *);
int	msg_get_conf_pki(const struct imsg *, struct msg_conf_pki *,
	    const uint8_t **cert, const uint8_t **key);
int	msg_get_conf_control(const struct imsg *, struct msg_conf_control *);
int	msg_get_conf_table(const struct imsg *, struct msg_conf_table *);
int	msg_get_conf_table_entry(const struct imsg *,
	    struct msg_conf_table_entry *);
int	msg_get_conf_action(const struct imsg *, struct msg_conf_action *);
int	msg_get_conf_rule(const struct imsg *, struct msg_conf_rule *);
int	msg_get_conf_user(const struct imsg *, struct msg_conf_user *);
int	msg_get_conf_list(const struct imsg *, struct msg_conf_list *);
int	msg_get_list_build(const struct imsg *, struct msg_list_build *);
int	msg_get_list_header(const struct imsg *, struct msg_list_header *);
int	msg_get_list_end(const struct imsg *, struct msg_list_end *);
int	msg_get_conf_srs_key(const struct imsg *, struct msg_conf_srs_key *);
int	msg_get_conf_mta(const struct imsg *, struct msg_conf_mta *);
int	msg_get_conf_reports(const struct imsg *, struct msg_conf_reports *);
int	msg_get_conf_relay(const struct imsg *, struct msg_conf_relay *);
int	msg_get_conf_secret(const struct imsg *, struct msg_conf_secret *);
int	msg_get_conf_route(const struct imsg *, struct msg_conf_route *);
int	msg_get_conf_mta_addr(const struct imsg *,
	    struct msg_conf_mta_addr *);
int	msg_get_conf_policy(const struct imsg *, struct msg_conf_policy *);
int	msg_get_conf_dkimsig(const struct imsg *, struct msg_conf_dkimsig *,
	    const uint8_t **key);
int	msg_get_conf_sign(const struct imsg *, struct msg_conf_sign *);
int	msg_get_conf_credential(const struct imsg *,
	    struct msg_conf_credential *);
int	msg_get_queue_msgid(const struct imsg *, struct msg_queue_msgid *);
int	msg_get_queue_begin(const struct imsg *, struct msg_queue_begin *);
int	msg_get_queue_space(const struct imsg *, struct msg_queue_space *);
int	msg_get_queue_report(const struct imsg *, struct msg_queue_report *);
int	msg_get_queue_report_rcpt(const struct imsg *,
	    struct msg_queue_report_rcpt *);
int	msg_get_queue_report_result(const struct imsg *,
	    struct msg_queue_report_result *);
int	msg_get_queue_report_bounce(const struct imsg *,
	    struct msg_queue_report_bounce *);
int	msg_get_envelope(const struct imsg *, struct envelope *);
int	msg_get_queue_envelope(const struct imsg *,
	    struct msg_queue_envelope *);
int	msg_get_auth_begin(const struct imsg *, struct msg_auth_begin *);
int	msg_get_auth_mail(const struct imsg *, struct msg_auth_mail *);
int	msg_get_auth_end(const struct imsg *, struct msg_auth_end *);
int	msg_get_auth_result(const struct imsg *, struct msg_auth_result *,
	    const uint8_t **header);
int	msg_get_auth_sasl(const struct imsg *, struct msg_auth_sasl *);
int	msg_get_auth_sasl_result(const struct imsg *,
	    struct msg_auth_sasl_result *);
int	msg_get_auth_scram_lookup(const struct imsg *,
	    struct msg_auth_scram_lookup *);
int	msg_get_auth_scram_salt(const struct imsg *,
	    struct msg_auth_scram_salt *);
int	msg_get_auth_scram_verify(const struct imsg *,
	    struct msg_auth_scram_verify *);
int	msg_get_auth_scram_result(const struct imsg *,
	    struct msg_auth_scram_result *);
int	msg_get_mta_task(const struct imsg *, struct msg_mta_task *);
int	msg_get_mta_result(const struct imsg *, struct msg_mta_result *);
int	msg_get_deliver(const struct imsg *, struct msg_deliver *);
int	msg_get_deliver_result(const struct imsg *,
	    struct msg_deliver_result *);
int	msg_get_ctl_hello(const struct imsg *, struct msg_ctl_hello *);
int	msg_get_ctl_error(const struct imsg *, struct msg_ctl_error *);
int	msg_get_ctl_count(const struct imsg *, struct msg_ctl_count *);
int	msg_get_ctl_status(const struct imsg *, struct msg_ctl_status *);
int	msg_get_ctl_verbose(const struct imsg *, struct msg_ctl_verbose *);
int	msg_get_ctl_qid(const struct imsg *, struct msg_ctl_qid *);
int	msg_get_ctl_envelope(const struct imsg *, struct msg_ctl_envelope *);
int	msg_get_ctl_target(const struct imsg *, struct msg_ctl_target *);
int	msg_get_ctl_stat(const struct imsg *, struct msg_ctl_stat *);
int	msg_get_ctl_domain(const struct imsg *, struct msg_ctl_domain *);
int	msg_get_ctl_mta_host(const struct imsg *, struct msg_ctl_mta_host *);
int	msg_get_tls_result(const struct imsg *, struct msg_tls_result *);
int	msg_get_ctl_debug(const struct imsg *, struct msg_ctl_debug *,
	    const uint8_t **ta, const uint8_t **ca);
int	msg_get_ctl_debug_result(const struct imsg *,
	    struct msg_ctl_debug_result *);
int	msg_get_ctl_local_session(const struct imsg *,
	    struct msg_ctl_local_session *);
int	msg_get_conf_sendmail(const struct imsg *);
int	msg_get_conf_metrics(const struct imsg *);
int	msg_get_report_failure(const struct imsg *,
	    struct msg_report_failure *, const uint8_t **eval,
	    const uint8_t **header);
int	msg_get_report_receive(const struct imsg *,
	    struct msg_report_receive *);
int	msg_get_ctl_reports(const struct imsg *, struct msg_ctl_reports *);
/* The text (m->len bytes, not NUL-terminated) is checked as described. */
int	msg_get_tls_policy(const struct imsg *, struct msg_tls_policy *,
	    const char **text);
int	msg_tls_policy_text_ok(const char *, size_t);
int	msg_get_forward_lookup(const struct imsg *,
	    struct msg_forward_lookup *);
int	msg_get_forward_member(const struct imsg *,
	    struct msg_forward_member *);
int	msg_get_forward_end(const struct imsg *, struct msg_forward_end *);
int	msg_get_conf_forward_key(const struct imsg *,
	    struct msg_conf_forward_key *);
const char *msg_tls_policy_name(int32_t);

#endif

/*
 * The catalogue of messages between postern's processes, one section per
 * channel.  Every payload is a fixed-size struct (or empty); the receiver
 * checks the size with imsg_get_data() before it reads.  posternctl and
 * posternd compare POSTERN_PROTO_VERSION on the control channel.
 */
#ifndef POSTERN_MSG_H
#define POSTERN_MSG_H

#include <sys/socket.h>
#include <stdint.h>

#define POSTERN_PROTO_VERSION	2

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

enum imsg_type {
	IMSG_NONE,

	/* parent -> child, at start, before the child drops privileges */
	IMSG_PROC_PEER_FD,		/* struct msg_peer + fd */
	IMSG_PROC_CONF_GLOBAL,		/* struct msg_conf_global */
	IMSG_PROC_CONF_LISTENER,	/* struct msg_conf_listener + fd */
	IMSG_PROC_CONF_CONTROL,		/* struct msg_conf_control + fd */
	IMSG_PROC_CONF_DONE,		/* empty */
	/* child -> parent, once chrooted and unprivileged */
	IMSG_PROC_READY,		/* empty */

	/* posternctl <-> control <-> parent (and children) */
	IMSG_CTL_HELLO,			/* struct msg_ctl_hello */
	IMSG_CTL_OK,			/* empty */
	IMSG_CTL_ERROR,			/* struct msg_ctl_error */
	IMSG_CTL_END,			/* empty: end of a listing */
	IMSG_CTL_STATUS_GET,		/* empty */
	IMSG_CTL_STATUS_ENTRY,		/* struct msg_ctl_status */
	IMSG_CTL_LOG_VERBOSE,		/* struct msg_ctl_verbose */
	IMSG_CTL_STOP,			/* empty */

	/*
	 * smtp <-> queue: one incoming message per session (peer id).  The
	 * body streams as DATA chunks; COMMIT is answered only once the
	 * message is durable (group commit).
	 */
	IMSG_QUEUE_MESSAGE_BEGIN,	/* empty */
	IMSG_QUEUE_MESSAGE_BEGIN_OK,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_DATA,	/* bytes */
	IMSG_QUEUE_ENVELOPE_ADD,	/* struct envelope */
	IMSG_QUEUE_MESSAGE_COMMIT,	/* empty */
	IMSG_QUEUE_MESSAGE_COMMIT_OK,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_FAIL,	/* struct msg_queue_msgid */
	IMSG_QUEUE_MESSAGE_ABORT,	/* empty */

	/* queue <-> parent: local delivery, the message as an fd */
	IMSG_PARENT_DELIVER,		/* struct msg_deliver + fd */
	IMSG_PARENT_DELIVER_RESULT,	/* struct msg_deliver_result */

	/* parent -> smtp, at start: what RCPT decisions and TLS need */
	IMSG_PROC_CONF_TABLE,		/* struct msg_conf_table */
	IMSG_PROC_CONF_TABLE_ENTRY,	/* struct msg_conf_table_entry */
	IMSG_PROC_CONF_ACTION,		/* struct msg_conf_action */
	IMSG_PROC_CONF_RULE,		/* struct rule */
	IMSG_PROC_CONF_USER,		/* struct msg_conf_user */
	IMSG_PROC_CONF_PKI,		/* struct msg_conf_pki + cert + key */

	/* posternctl <-> control <-> queue / smtp */
	IMSG_CTL_QUEUE_LIST,		/* empty */
	IMSG_CTL_QUEUE_ENTRY,		/* struct msg_ctl_envelope */
	IMSG_CTL_QUEUE_SHOW,		/* struct msg_ctl_qid */
	IMSG_CTL_DATA,			/* bytes of a listing or message */
	IMSG_CTL_QUEUE_SCHEDULE,	/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_REMOVE,		/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_HOLD,		/* struct msg_ctl_qid */
	IMSG_CTL_QUEUE_RELEASE,		/* struct msg_ctl_qid */
	IMSG_CTL_COUNT,			/* struct msg_ctl_count */
	IMSG_CTL_PAUSE,			/* struct msg_ctl_target; empty on */
	IMSG_CTL_RESUME,		/* from control to smtp or queue */
	IMSG_CTL_STATS,
	IMSG_CTL_STAT,			/* struct msg_ctl_stat */

	/* parent -> mta, at start */
	IMSG_PROC_CONF_MTA,		/* struct msg_conf_mta */
	IMSG_PROC_CONF_RELAY,		/* struct msg_conf_relay */
	IMSG_PROC_CONF_SECRET,		/* struct msg_conf_secret */
	IMSG_PROC_CONF_ROUTE,		/* struct msg_conf_route */

	/*
	 * queue <-> mta: one message for one relay action, the message as
	 * an fd, then its envelopes; one result per envelope comes back.
	 */
	IMSG_MTA_TASK,			/* struct msg_mta_task + fd */
	IMSG_MTA_ENVELOPE,		/* struct envelope */
	IMSG_MTA_RESULT,		/* struct msg_mta_result */

	/* parent -> authd, at start */
	IMSG_PROC_CONF_POLICY,		/* struct msg_conf_policy */
	IMSG_PROC_CONF_DKIMSIG,		/* struct msg_conf_dkimsig + key */
	IMSG_PROC_CONF_SIGN,		/* struct msg_conf_sign */
	IMSG_PROC_CONF_ARCSEAL,		/* struct msg_conf_sign (1 name) */

	/*
	 * smtp <-> authd: each message streams to authd as it streams to
	 * the queue (peer id = session); the result comes back once.
	 */
	IMSG_AUTH_BEGIN,		/* struct msg_auth_begin */
	IMSG_AUTH_DATA,			/* bytes */
	IMSG_AUTH_MAIL_RESULT,		/* struct msg_auth_mail: MAIL's reply */
	IMSG_AUTH_END,			/* struct msg_auth_end */
	IMSG_AUTH_ABORT,		/* empty */
	IMSG_AUTH_RESULT,		/* struct msg_auth_result + header */
	/* smtp -> queue: header fields to put in front of the message */
	IMSG_QUEUE_MESSAGE_PREPEND,	/* bytes */

	/* authd -> reportd: one DMARC evaluation (dmarc_eval_encode()) */
	IMSG_REPORT_DMARC_EVAL,		/* bytes */
	/* posternctl <-> control <-> reportd */
	IMSG_CTL_EVALUATIONS,		/* struct msg_ctl_domain; DATA back */

	/* posternctl <-> control <-> mta */
	IMSG_CTL_MTA_HOSTS,		/* empty */
	IMSG_CTL_MTA_HOST,		/* struct msg_ctl_mta_host */
	IMSG_CTL_MTA_ROUTES,		/* empty; IMSG_CTL_DATA lines back */

	/* parent -> authd, at start: a listener's credentials (secret) */
	IMSG_PROC_CONF_CREDENTIAL,	/* struct msg_conf_credential */
	/*
	 * smtp <-> authd: SASL AUTH (RFC 4954); peer id = session.  The
	 * request carries the password: smtp wipes it once sent, authd once
	 * checked.
	 */
	IMSG_AUTH_SASL_CHECK,		/* struct msg_auth_sasl */
	IMSG_AUTH_SASL_RESULT,		/* struct msg_auth_sasl_result */

	IMSG_TYPE_MAX
};

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
	int64_t		 smtp_timeout;	/* idle, seconds */
	uint32_t	 smtp_max_sessions;
	uint32_t	 smtp_max_per_ip;
	int32_t		 resolver;	/* 0: the system resolver */
	char		 resolver_addr[64];
	uint32_t	 resolver_port;
	char		 trust_anchor[256];	/* "" = the system's */
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

#define CTL_MAX_ALLOWED_UIDS	64
struct msg_conf_control {
	uint32_t	 gid;		/* control group, or (uint32_t)-1 */
	uint32_t	 nuids;		/* members of that group */
	uint32_t	 uids[CTL_MAX_ALLOWED_UIDS];
};

struct msg_ctl_hello {
	uint32_t	 version;
};

struct msg_ctl_error {
	char		 message[256];
};

struct msg_ctl_status {
	char		 name[16];
	char		 user[32];
	char		 chroot[256];
	int32_t		 pid;
	int64_t		 uptime;	/* seconds */
};

/* which envelopes: QID_ALL, QID_MSG or QID_ENV (lib/envelope.h) */
struct msg_ctl_qid {
	int32_t		 kind;
	uint64_t	 id;
};

struct msg_ctl_count {
	int64_t		 count;
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
};

struct msg_ctl_stat {
	char		 name[64];
	uint64_t	 value;
};

/*
 * posternctl names the process for pause/resume/stats with this; control
 * forwards the request to it with an empty payload.
 */
#define CTL_TARGET_SMTP		1
#define CTL_TARGET_QUEUE	2
struct msg_ctl_target {
	int32_t		 target;
};

struct msg_ctl_verbose {
	int32_t		 verbose;
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
};

struct msg_conf_user {
	char		 name[64];	/* a local user mail may be sent to */
};

/* Followed by certlen bytes of PEM certificate chain, keylen of key. */
struct msg_conf_pki {
	char		 name[64];
	uint32_t	 certlen;
	uint32_t	 keylen;
};

struct msg_queue_msgid {
	uint64_t	 msgid;
};

#define DELIVER_OK		0
#define DELIVER_TEMPFAIL	1
#define DELIVER_PERMFAIL	2

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
	char		 error[256];
};

/* The outbound MTA's settings (postern.conf(5) mta-* statements). */
struct msg_conf_mta {
	int64_t		 timeout;	/* per command; 0: RFC 5321 4.5.3.2 */
	int64_t		 connect_timeout;
	uint32_t	 max_sessions;	/* connections at once */
	uint32_t	 max_per_domain;
	char		 ca_file[256];	/* trust anchors for "tls verify" */
	int32_t		 tls_fallback;	/* mta-tls-fallback yes */
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

/* Followed by header_len bytes of header fields to prepend. */
struct msg_auth_result {
	int32_t		 verdict;	/* enum inbound_verdict */
	int32_t		 code;
	char		 status[16];
	char		 text[256];
	char		 folder[64];	/* quarantine: deliver there */
	int32_t		 sender_not_owned; /* refused under "senders" */
	uint32_t	 header_len;
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

/* One "route" statement, in order (lib/config.h struct route). */
struct msg_conf_route {
	char		 from_domain[256];
	char		 for_domain[256];
	char		 account[256];	/* AUTH user, "" = any */
	uint32_t	 min_attempt;
	char		 transport[64];
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

/*
 * One entry of a listener's credentials table ("auth <T>"): only authd
 * gets these; the hash is crypt(3) output.
 */
struct msg_conf_credential {
	char		 table[64];
	char		 user[256];
	char		 hash[256];
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

/* A domain to filter a listing by; "" = all. */
struct msg_ctl_domain {
	char		 domain[256];
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

const char	*proc_name(enum proc_id);

#endif

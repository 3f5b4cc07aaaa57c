/*
 * One decoder per message payload of lib/msg.h.  A decoder copies the
 * payload out only when it is exactly what its type says: the size of its
 * struct (or a bounded length for bytes, or the struct and the lengths it
 * announces), every string NUL-terminated within its array, every enum in
 * range and every count within its array.  Receivers call these and read
 * fields as they are; none terminates or clamps a field by hand.
 *
 * What a decoder cannot know (that a table named in a message exists, that
 * a reply answers the state a session is in) the receiver checks.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "config.h"
#include "envelope.h"
#include "imsg.h"
#include "msg.h"

#define N(t)	[t] = #t
static const char *const msg_names[IMSG_TYPE_MAX] = {
	N(IMSG_NONE),
	N(IMSG_CONF_PEER_ADD), N(IMSG_CONF_GLOBAL_SET),
	N(IMSG_CONF_LISTENER_ADD), N(IMSG_CONF_PKI_ADD),
	N(IMSG_CONF_CONTROL_SET), N(IMSG_CONF_TABLE_ADD),
	N(IMSG_CONF_ENTRY_ADD), N(IMSG_CONF_ACTION_ADD),
	N(IMSG_CONF_RULE_ADD), N(IMSG_CONF_USER_ADD), N(IMSG_CONF_MTA_SET),
	N(IMSG_CONF_RELAY_ADD), N(IMSG_CONF_SECRET_ADD),
	N(IMSG_CONF_ROUTE_ADD), N(IMSG_CONF_MTA_ADDR_ADD),
	N(IMSG_CONF_POLICY_ADD),
	N(IMSG_CONF_DKIMSIG_ADD), N(IMSG_CONF_SIGN_ADD),
	N(IMSG_CONF_ARCSEAL_ADD), N(IMSG_CONF_CREDENTIAL_ADD),
	N(IMSG_CONF_SETUP_DONE), N(IMSG_CONF_CHILD_READY),
	N(IMSG_CONF_REPORTS_SET), N(IMSG_CONF_SENDMAIL_SET),
	N(IMSG_CONF_METRICS_SET),
	N(IMSG_CONF_TABLE_RELOAD), N(IMSG_CONF_TABLE_COMMIT),
	N(IMSG_CONF_SRS_KEY_ADD),
	N(IMSG_QUEUE_MESSAGE_BEGIN), N(IMSG_QUEUE_MESSAGE_BEGIN_OK),
	N(IMSG_QUEUE_MESSAGE_PREPEND), N(IMSG_QUEUE_MESSAGE_DATA),
	N(IMSG_QUEUE_ENVELOPE_ADD), N(IMSG_QUEUE_MESSAGE_COMMIT),
	N(IMSG_QUEUE_MESSAGE_COMMIT_OK), N(IMSG_QUEUE_MESSAGE_FAIL),
	N(IMSG_QUEUE_MESSAGE_ABORT), N(IMSG_QUEUE_MESSAGE_NOSPACE),
	N(IMSG_QUEUE_SPACE_STATE),
	N(IMSG_AUTH_MESSAGE_BEGIN), N(IMSG_AUTH_MAIL_RESULT),
	N(IMSG_AUTH_MESSAGE_DATA), N(IMSG_AUTH_MESSAGE_END),
	N(IMSG_AUTH_MESSAGE_ABORT), N(IMSG_AUTH_MESSAGE_RESULT),
	N(IMSG_AUTH_SASL_CHECK), N(IMSG_AUTH_SASL_RESULT),
	N(IMSG_AUTH_SCRAM_LOOKUP), N(IMSG_AUTH_SCRAM_SALT),
	N(IMSG_AUTH_SCRAM_VERIFY), N(IMSG_AUTH_SCRAM_RESULT),
	N(IMSG_MTA_TASK_START), N(IMSG_MTA_ENVELOPE_ADD),
	N(IMSG_MTA_ENVELOPE_RESULT),
	N(IMSG_DELIVER_ENVELOPE_START), N(IMSG_DELIVER_ENVELOPE_RESULT),
	N(IMSG_REPORT_EVALUATION_ADD), N(IMSG_REPORT_TLS_RESULT),
	N(IMSG_REPORT_MESSAGE_RECEIVE), N(IMSG_REPORT_MESSAGE_RESULT),
	N(IMSG_REPORT_TLS_POLICY),
	N(IMSG_REPORT_FAILURE_ADD),
	N(IMSG_QUEUE_REPORT_BEGIN), N(IMSG_QUEUE_REPORT_RCPT),
	N(IMSG_QUEUE_REPORT_DATA), N(IMSG_QUEUE_REPORT_COMMIT),
	N(IMSG_QUEUE_REPORT_RESULT), N(IMSG_QUEUE_REPORT_BOUNCE),
	N(IMSG_CTL_SESSION_HELLO), N(IMSG_CTL_REPLY_OK),
	N(IMSG_CTL_REPLY_ERROR), N(IMSG_CTL_REPLY_END),
	N(IMSG_CTL_REPLY_DATA), N(IMSG_CTL_REPLY_COUNT),
	N(IMSG_CTL_STATUS_GET), N(IMSG_CTL_STATUS_ENTRY),
	N(IMSG_CTL_VERBOSE_SET), N(IMSG_CTL_DAEMON_STOP),
	N(IMSG_CTL_QUEUE_LIST), N(IMSG_CTL_QUEUE_ENTRY),
	N(IMSG_CTL_QUEUE_SHOW), N(IMSG_CTL_QUEUE_SCHEDULE),
	N(IMSG_CTL_QUEUE_REMOVE), N(IMSG_CTL_QUEUE_HOLD),
	N(IMSG_CTL_QUEUE_RELEASE), N(IMSG_CTL_PROC_PAUSE),
	N(IMSG_CTL_PROC_RESUME), N(IMSG_CTL_STATS_GET),
	N(IMSG_CTL_STATS_ENTRY), N(IMSG_CTL_EVALUATIONS_GET),
	N(IMSG_CTL_MTA_HOSTS_GET), N(IMSG_CTL_MTA_HOST_ENTRY),
	N(IMSG_CTL_MTA_ROUTES_GET), N(IMSG_CTL_MTA_STS_GET),
	N(IMSG_CTL_MTA_STS_FLUSH), N(IMSG_CTL_TLS_RESULTS_GET),
	N(IMSG_CTL_DEBUG_DELIVERY), N(IMSG_CTL_DEBUG_RESULT),
	N(IMSG_CTL_DEBUG_CANCEL),
	N(IMSG_CTL_REPORTS_GET),
	N(IMSG_CTL_REPORT_DMARC_PRINT), N(IMSG_CTL_REPORT_DMARC_SEND),
	N(IMSG_CTL_SUPPRESSIONS_GET), N(IMSG_CTL_SUPPRESSION_REMOVE),
	N(IMSG_CTL_REPORT_TLS_PRINT), N(IMSG_CTL_REPORT_TLS_SEND),
	N(IMSG_CTL_LOCAL_SESSION),
	N(IMSG_FORWARD_LOOKUP), N(IMSG_FORWARD_MEMBER), N(IMSG_FORWARD_END),
	N(IMSG_CTL_QUEUE_LIST_PAUSE),
	N(IMSG_CTL_QUEUE_LIST_NEXT),
	N(IMSG_CTL_QUEUE_LIST_CANCEL),
	N(IMSG_CONF_LIST_ADD), N(IMSG_LIST_BUILD), N(IMSG_LIST_HEADER),
	N(IMSG_LIST_END),
	N(IMSG_CONF_FORWARD_KEY),
};
#undef N

const char *
msg_type_name(uint32_t type)
{
	if (type >= IMSG_TYPE_MAX || msg_names[type] == NULL)
		return "IMSG_UNKNOWN";
	return msg_names[type];
}

/* A string field: its NUL is inside its array. */
#define STR(f)		(memchr((f), '\0', sizeof(f)) != NULL)
/* An enum field: 0 .. max inclusive. */
#define ENUM(f, max)	((f) >= 0 && (f) <= (max))
/* A flag that is 0 or 1. */
#define BOOL(f)		((f) == 0 || (f) == 1)

static int
bad(void)
{
	errno = EBADMSG;
	return -1;
}

/* Exactly len bytes, copied to out. */
static int
fixed(const struct imsg *imsg, void *out, size_t len)
{
	if (imsg->len != len)
		return bad();
	memcpy(out, imsg->data, len);
	return 0;
}

/* A struct of len bytes in front of `extra` more: the tail, or NULL. */
static const uint8_t *
head(const struct imsg *imsg, void *out, size_t len)
{
	if (imsg->len < len)
		return NULL;
	memcpy(out, imsg->data, len);
	return (const uint8_t *)imsg->data + len;
}

int
msg_get_empty(const struct imsg *imsg)
{
	return imsg->len == 0 ? 0 : bad();
}

/* Bytes: a chunk of a stream or a listing, never empty. */
int
msg_get_bytes(const struct imsg *imsg, const void **data, size_t *len)
{
	if (imsg->len == 0 || imsg->len > IMSG_MAX_PAYLOAD)
		return bad();
	*data = imsg->data;
	*len = imsg->len;
	return 0;
}

int
msg_get_peer(const struct imsg *imsg, struct msg_peer *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || m->proc >= PROC_MAX)
		return bad();
	return 0;
}

int
msg_get_conf_global(const struct imsg *imsg, struct msg_conf_global *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->hostname) ||
	    !STR(m->user) || !STR(m->chroot) || !STR(m->resolver_addr) ||
	    !STR(m->trust_anchor) || !BOOL(m->resolver) ||
	    m->resolver_port > 65535 || m->smtp_max_received == 0 ||
	    m->auth_dns_timeout < 0 ||
	    m->auth_dns_timeout > CONF_AUTH_DNS_TIMEOUT_MAX ||
	    m->smtp_ipv4_prefix < 0 || m->smtp_ipv4_prefix > 32 ||
	    m->smtp_ipv6_prefix < 0 || m->smtp_ipv6_prefix > 128 ||
	    m->smtp_data_timeout < 0 || m->smtp_max_lifetime < 0 ||
	    m->smtp_data_rate_window < 0 || m->smtp_auth_lockout < 0)
		return bad();
	return 0;
}

int
msg_get_conf_listener(const struct imsg *imsg, struct msg_conf_listener *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->pki) ||
	    !STR(m->tag) || !STR(m->hostname) || !STR(m->policy) ||
	    !STR(m->auth_table) || !STR(m->senders_table) ||
	    m->sslen > sizeof(m->ss) || (m->flags & ~(LISTEN_STARTTLS |
	    LISTEN_SMTPS | LISTEN_TLS_REQUIRE | LISTEN_AUTH |
	    LISTEN_AUTH_REQUIRE | LISTEN_AUTH_SCRAM_SHA1 |
	    LISTEN_AUTH_SCRAM_SHA256)) != 0 || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_conf_pki(const struct imsg *imsg, struct msg_conf_pki *m,
    const uint8_t **cert, const uint8_t **key)
{
	const uint8_t	*p;

	if ((p = head(imsg, m, sizeof(*m))) == NULL || !STR(m->name) ||
	    (size_t)m->certlen + m->keylen != imsg->len - sizeof(*m))
		return bad();
	*cert = p;
	*key = p + m->certlen;
	return 0;
}

int
msg_get_conf_control(const struct imsg *imsg, struct msg_conf_control *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    m->nuids > CTL_MAX_ALLOWED_UIDS || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_conf_table(const struct imsg *imsg, struct msg_conf_table *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !ENUM(m->type, TABLE_FILE))
		return bad();
	return 0;
}

int
msg_get_conf_table_entry(const struct imsg *imsg,
    struct msg_conf_table_entry *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->key) || !STR(m->value) || !BOOL(m->has_value))
		return bad();
	return 0;
}

int
msg_get_conf_action(const struct imsg *imsg, struct msg_conf_action *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !ENUM(m->type, ACTION_REPORTD) || !BOOL(m->fixed_user) ||
	    !STR(m->virtual_table) || !STR(m->alias_table) ||
	    !BOOL(m->alias_files) || !BOOL(m->alias_commands) ||
	    !BOOL(m->forward_file) || !BOOL(m->forward_files) ||
	    !BOOL(m->forward_commands) || ((m->forward_files ||
	    m->forward_commands) && !m->forward_file))
		return bad();
	return 0;
}

int
msg_get_conf_rule(const struct imsg *imsg, struct msg_conf_rule *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->from, MATCH_FROM_AUTH) || !BOOL(m->from_negate) ||
	    !STR(m->from_table) || !ENUM(m->from_prefixlen, 128) ||
	    !ENUM(m->rcpt_for, MATCH_FOR_RCPT_TABLE) ||
	    !BOOL(m->for_negate) || !STR(m->for_table) ||
	    !STR(m->for_domain) || !STR(m->tag) ||
	    m->auth < -1 || m->auth > 1 || !BOOL(m->reject) ||
	    !STR(m->action))
		return bad();
	return 0;
}

int
msg_get_conf_user(const struct imsg *imsg, struct msg_conf_user *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !BOOL(m->can_receive))
		return bad();
	return 0;
}

int
msg_get_conf_srs_key(const struct imsg *imsg, struct msg_conf_srs_key *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->domain) ||
	    m->domain[0] == '\0' || m->keylen < SRS_KEY_MIN ||
	    m->keylen > SRS_KEY_MAX || m->keylen > sizeof(m->key))
		return bad();
	return 0;
}

int
msg_get_conf_list(const struct imsg *imsg, struct msg_conf_list *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    m->name[0] == '\0' || !STR(m->address) ||
	    strchr(m->address, '@') == NULL || !STR(m->bounce) ||
	    !STR(m->members) || m->members[0] == '\0' ||
	    !ENUM(m->posters, LIST_POSTERS_TABLE) ||
	    !STR(m->posters_table) || (m->posters == LIST_POSTERS_TABLE &&
	    m->posters_table[0] == '\0') || !STR(m->subject_tag) ||
	    !STR(m->unsubscribe) || !STR(m->arc_seal) ||
	    !STR(m->dkim_sign) ||
	    !ENUM(m->from_rewrite, LIST_FROM_NEVER))
		return bad();
	return 0;
}

int
msg_get_list_build(const struct imsg *imsg, struct msg_list_build *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->list) ||
	    m->list[0] == '\0' || m->evpid == 0 || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_list_header(const struct imsg *imsg, struct msg_list_header *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || m->len == 0 ||
	    m->len > LIST_HEADER_CHUNK)
		return bad();
	return 0;
}

int
msg_get_list_end(const struct imsg *imsg, struct msg_list_end *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->status, LIST_BUILD_TEMPFAIL) || !STR(m->why))
		return bad();
	return 0;
}

int
msg_get_conf_mta(const struct imsg *imsg, struct msg_conf_mta *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->ca_file) ||
	    m->timeout < 0 || m->connect_timeout < 0 ||
	    !BOOL(m->tls_fallback) || m->max_slow_sessions > 100000)
		return bad();
	return 0;
}

int
msg_get_conf_reports(const struct imsg *imsg, struct msg_conf_reports *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !BOOL(m->enabled) ||
	    !STR(m->from) || !STR(m->org) || !STR(m->contact) ||
	    !STR(m->sign) || !BOOL(m->failure) || m->suppress <= 0 ||
	    !STR(m->ca_file) ||
	    m->failure_max == 0 ||
	    (m->period != 3600 && m->period != 86400) ||
	    (m->enabled && (m->from[0] == '\0' || m->org[0] == '\0')))
		return bad();
	return 0;
}

int
msg_get_queue_report(const struct imsg *imsg, struct msg_queue_report *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->sender) ||
	    m->sender[0] == '\0' || !STR(m->key) || m->key[0] == '\0' ||
	    m->size == 0 || m->size > MSG_REPORT_SIZE_MAX ||
	    (m->flags & ~MSG_REPORT_F_TLSREQ_NO) != 0)
		return bad();
	return 0;
}

int
msg_get_queue_report_rcpt(const struct imsg *imsg,
    struct msg_queue_report_rcpt *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->rcpt) ||
	    m->rcpt[0] == '\0')
		return bad();
	return 0;
}

int
msg_get_queue_report_result(const struct imsg *imsg,
    struct msg_queue_report_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->status, MSG_REPORT_FAILED))
		return bad();
	return 0;
}

int
msg_get_queue_report_bounce(const struct imsg *imsg,
    struct msg_queue_report_bounce *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->rcpt) ||
	    m->rcpt[0] == '\0' || !STR(m->status) || !STR(m->diagnostic))
		return bad();
	return 0;
}

int
msg_get_conf_relay(const struct imsg *imsg, struct msg_conf_relay *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !BOOL(m->has_host) || !ENUM(m->scheme, RELAY_SMTPS) ||
	    !STR(m->host) || m->port > 65535 ||
	    !ENUM(m->tls, RELAY_TLS_NOVERIFY) || !STR(m->auth) ||
	    m->mechs >= 1U << (SASL_MECH_SCRAM_SHA_256 + 1) ||
	    !STR(m->helo) || !ENUM(m->transport, TRANSPORT_SOCKS5) ||
	    !STR(m->socks5_host) || m->socks5_port > 65535)
		return bad();
	return 0;
}

int
msg_get_conf_secret(const struct imsg *imsg, struct msg_conf_secret *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->host) || !STR(m->user) || !STR(m->password))
		return bad();
	return 0;
}

int
msg_get_conf_route(const struct imsg *imsg, struct msg_conf_route *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->from_domain) ||
	    !STR(m->for_domain) || !STR(m->account) || !STR(m->transport))
		return bad();
	return 0;
}

int
msg_get_conf_mta_addr(const struct imsg *imsg, struct msg_conf_mta_addr *m)
{
	static const uint8_t	 zero[12];
	uint32_t		 bits;

	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->kind, MTA_ADDR_MX_ALLOW) ||
	    (m->family != AF_INET && m->family != AF_INET6))
		return bad();
	bits = m->family == AF_INET ? 32 : 128;
	if (m->prefixlen > bits || m->port > 65535 ||
	    (m->kind == MTA_ADDR_MX_ALLOW && m->port != 0) ||
	    (m->family == AF_INET && memcmp(m->addr + 4, zero,
	    sizeof(zero)) != 0))
		return bad();
	return 0;
}

int
msg_get_conf_policy(const struct imsg *imsg, struct msg_conf_policy *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !ENUM(m->spf, POLICY_DISABLE) || !ENUM(m->dkim, POLICY_DISABLE) ||
	    !ENUM(m->arc, POLICY_DISABLE) ||
	    !ENUM(m->dmarc, POLICY_DISABLE) || !BOOL(m->spf_reject_fail) ||
	    !BOOL(m->dkim_allow_sha1) || !BOOL(m->dkim_fail_partial_body) ||
	    m->dkim_max_signatures > CONF_DKIM_MAX_SIGS_LIMIT ||
	    !ENUM(m->quarantine, QUARANTINE_FOLDER) ||
	    !STR(m->quarantine_folder))
		return bad();
	return 0;
}

int
msg_get_conf_dkimsig(const struct imsg *imsg, struct msg_conf_dkimsig *m,
    const uint8_t **key)
{
	const uint8_t	*p;

	if ((p = head(imsg, m, sizeof(*m))) == NULL || !STR(m->name) ||
	    !STR(m->domain) || !STR(m->selector) ||
	    !ENUM(m->algorithm, DKIM_ED25519_SHA256) ||
	    !ENUM(m->canon_header, DKIM_CANON_RELAXED) ||
	    !ENUM(m->canon_body, DKIM_CANON_RELAXED) || !STR(m->headers) ||
	    m->expire < 0 || !BOOL(m->oversign) ||
	    m->keylen != imsg->len - sizeof(*m))
		return bad();
	*key = p;
	return 0;
}

int
msg_get_conf_sign(const struct imsg *imsg, struct msg_conf_sign *m)
{
	uint32_t	 i;

	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    m->nsignatures > sizeof(m->signatures) / sizeof(m->signatures[0]) ||
	    !STR(m->from_table) || !STR(m->domain) || !STR(m->tag))
		return bad();
	for (i = 0; i < m->nsignatures; i++)
		if (!STR(m->signatures[i]))
			return bad();
	return 0;
}

int
msg_get_conf_credential(const struct imsg *imsg,
    struct msg_conf_credential *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->user) || !STR(m->hash))
		return bad();
	return 0;
}

int
msg_get_queue_msgid(const struct imsg *imsg, struct msg_queue_msgid *m)
{
	return fixed(imsg, m, sizeof(*m));
}

int
msg_get_queue_begin(const struct imsg *imsg, struct msg_queue_begin *m)
{
	return fixed(imsg, m, sizeof(*m));
}

int
msg_get_queue_space(const struct imsg *imsg, struct msg_queue_space *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !BOOL(m->low))
		return bad();
	return 0;
}

static int
envelope_ok(const struct envelope *e)
{
	return e->state <= ENV_HELD && ENUM(e->kind, ENV_REMOTE) &&
	    e->ret <= ENV_RET_HDRS && (e->notify & ~ENV_NOTIFY_ALL) == 0 &&
	    (e->flags & ~ENV_F_ALL) == 0 && STR(e->sender) &&
	    STR(e->rcpt) && STR(e->dest) && STR(e->envid) &&
	    STR(e->orcpt) && STR(e->errmsg) && STR(e->folder) &&
	    STR(e->account);
}

/* An envelope as the queue hands it to the mta. */
int
msg_get_envelope(const struct imsg *imsg, struct envelope *e)
{
	if (fixed(imsg, e, sizeof(*e)) == -1 || !envelope_ok(e))
		return bad();
	return 0;
}

/* An envelope as smtp proposes it to the queue, with its session. */
int
msg_get_queue_envelope(const struct imsg *imsg, struct msg_queue_envelope *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !envelope_ok(&m->env) ||
	    (m->env.kind != ENV_LOCAL && m->env.kind != ENV_REMOTE) ||
	    (m->client.ss_family != AF_INET &&
	    m->client.ss_family != AF_INET6 &&
	    m->client.ss_family != AF_UNIX) || !STR(m->tag) ||
	    !STR(m->alias_of) || !BOOL(m->forwarded) ||
	    (m->forwarded && m->alias_of[0] == '\0') || !BOOL(m->srs) ||
	    (m->srs && (m->alias_of[0] == '\0' || m->forwarded)) ||
	    !STR(m->fwd_member) || (m->forwarded && m->fwd_member[0] == '\0'))
		return bad();
	return 0;
}

int
msg_get_auth_begin(const struct imsg *imsg, struct msg_auth_begin *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !BOOL(m->local) ||
	    !STR(m->tag) || !STR(m->ip) || !STR(m->helo) ||
	    !STR(m->mail_from) || !STR(m->policy) ||
	    !BOOL(m->authenticated) || !STR(m->account) || !STR(m->senders) ||
	    !STR(m->sign_from))
		return bad();
	return 0;
}

int
msg_get_auth_mail(const struct imsg *imsg, struct msg_auth_mail *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !BOOL(m->refuse) ||
	    !ENUM(m->code, 599) || !STR(m->status) || !STR(m->text))
		return bad();
	return 0;
}

int
msg_get_auth_end(const struct imsg *imsg, struct msg_auth_end *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->rcpt_domain) ||
	    !BOOL(m->relayed))
		return bad();
	return 0;
}

int
msg_get_auth_result(const struct imsg *imsg, struct msg_auth_result *m,
    const uint8_t **header)
{
	const uint8_t	*p;

	if ((p = head(imsg, m, sizeof(*m))) == NULL ||
	    !ENUM(m->verdict, AUTH_VERDICT_MAX - 1) || !ENUM(m->code, 599) ||
	    !STR(m->status) || !STR(m->text) || !STR(m->folder) ||
	    !BOOL(m->sender_not_owned) ||
	    m->header_len != imsg->len - sizeof(*m))
		return bad();
	*header = p;
	return 0;
}

int
msg_get_auth_sasl(const struct imsg *imsg, struct msg_auth_sasl *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->user) || !STR(m->password))
		return bad();
	return 0;
}

int
msg_get_auth_sasl_result(const struct imsg *imsg,
    struct msg_auth_sasl_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->result, AUTH_SASL_TEMPFAIL))
		return bad();
	return 0;
}

/* A SCRAM mechanism: SASL_MECH_SCRAM_SHA_1 or SASL_MECH_SCRAM_SHA_256. */
static int
scram_mech_valid(int32_t mech)
{
	return mech == SASL_MECH_SCRAM_SHA_1 || mech == SASL_MECH_SCRAM_SHA_256;
}

int
msg_get_auth_scram_lookup(const struct imsg *imsg,
    struct msg_auth_scram_lookup *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->user) || !scram_mech_valid(m->mech))
		return bad();
	return 0;
}

int
msg_get_auth_scram_salt(const struct imsg *imsg, struct msg_auth_scram_salt *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    (m->result != AUTH_SASL_OK && m->result != AUTH_SASL_TEMPFAIL) ||
	    (m->result == AUTH_SASL_OK && (m->salt_len == 0 ||
	    m->salt_len > sizeof(m->salt) || m->iterations == 0)))
		return bad();
	return 0;
}

int
msg_get_auth_scram_verify(const struct imsg *imsg,
    struct msg_auth_scram_verify *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->table) ||
	    !STR(m->user) || !scram_mech_valid(m->mech) ||
	    m->proof_len > sizeof(m->proof) ||
	    m->authmsg_len > sizeof(m->authmsg))
		return bad();
	return 0;
}

int
msg_get_auth_scram_result(const struct imsg *imsg,
    struct msg_auth_scram_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->result, AUTH_SASL_TEMPFAIL) ||
	    m->sig_len > sizeof(m->sig) ||
	    (m->result == AUTH_SASL_OK && m->sig_len == 0))
		return bad();
	return 0;
}

int
msg_get_mta_task(const struct imsg *imsg, struct msg_mta_task *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || m->nenv == 0 ||
	    imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_mta_result(const struct imsg *imsg, struct msg_mta_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->status, DELIVER_PERMFAIL) || !STR(m->dsn_status) ||
	    !STR(m->remote_mta) || !STR(m->diagnostic) || !STR(m->error))
		return bad();
	return 0;
}

int
msg_get_deliver(const struct imsg *imsg, struct msg_deliver *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->sender) ||
	    !STR(m->rcpt) || !STR(m->action) || !BOOL(m->check_existing) ||
	    !STR(m->folder) || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_deliver_result(const struct imsg *imsg, struct msg_deliver_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->status, DELIVER_PERMFAIL) || !STR(m->dsn_status) ||
	    !STR(m->error) || !ENUM(m->smtp_diag, 1))
		return bad();
	return 0;
}

int
msg_get_ctl_hello(const struct imsg *imsg, struct msg_ctl_hello *m)
{
	return fixed(imsg, m, sizeof(*m));
}

int
msg_get_ctl_error(const struct imsg *imsg, struct msg_ctl_error *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->message))
		return bad();
	return 0;
}

int
msg_get_ctl_count(const struct imsg *imsg, struct msg_ctl_count *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || m->count < 0)
		return bad();
	return 0;
}

int
msg_get_ctl_status(const struct imsg *imsg, struct msg_ctl_status *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !STR(m->user) || !STR(m->chroot))
		return bad();
	return 0;
}

int
msg_get_ctl_verbose(const struct imsg *imsg, struct msg_ctl_verbose *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !ENUM(m->verbose, 3))
		return bad();
	return 0;
}

int
msg_get_ctl_qid(const struct imsg *imsg, struct msg_ctl_qid *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !ENUM(m->kind, QID_ENV) ||
	    (m->flags & ~CTL_FLAGS_ALL) != 0)
		return bad();
	return 0;
}

int
msg_get_ctl_envelope(const struct imsg *imsg, struct msg_ctl_envelope *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->sender) ||
	    !STR(m->rcpt) || !STR(m->error) || !STR(m->account))
		return bad();
	return 0;
}

int
msg_get_ctl_target(const struct imsg *imsg, struct msg_ctl_target *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    m->target < CTL_TARGET_SMTP || m->target > CTL_TARGET_AUTHD)
		return bad();
	return 0;
}

int
msg_get_ctl_stat(const struct imsg *imsg, struct msg_ctl_stat *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name))
		return bad();
	return 0;
}

int
msg_get_ctl_domain(const struct imsg *imsg, struct msg_ctl_domain *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->domain) ||
	    (m->flags & ~CTL_FLAGS_ALL) != 0)
		return bad();
	return 0;
}

/*
 * A debug delivery request: its strings terminated, the recipient given,
 * the flags known, and exactly the trust anchor and CA bytes it announces
 * after it, each within its bound.
 */
int
msg_get_ctl_debug(const struct imsg *imsg, struct msg_ctl_debug *m,
    const uint8_t **ta, const uint8_t **ca)
{
	const uint8_t	*p;

	if ((p = head(imsg, m, sizeof(*m))) == NULL || !STR(m->rcpt) ||
	    !STR(m->sender) || !STR(m->resolver) || m->rcpt[0] == '\0' ||
	    (m->flags & ~(uint32_t)CTL_DEBUG_F_JSON) != 0 ||
	    m->ta_len > CTL_DEBUG_TA_MAX || m->ca_len > CTL_DEBUG_CA_MAX ||
	    (size_t)m->ta_len + m->ca_len != imsg->len - sizeof(*m) ||
	    (m->ta_len > 0 && m->resolver[0] == '\0'))
		return bad();
	*ta = p;
	*ca = p + m->ta_len;
	return 0;
}

int
msg_get_ctl_debug_result(const struct imsg *imsg,
    struct msg_ctl_debug_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->verdict, CTL_DEBUG_TEMPORARY))
		return bad();
	return 0;
}

int
msg_get_ctl_local_session(const struct imsg *imsg,
    struct msg_ctl_local_session *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !BOOL(m->privileged) ||
	    m->pid < 0 || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_conf_sendmail(const struct imsg *imsg)
{
	if (imsg->len != 0 || imsg->fd == -1)
		return bad();
	return 0;
}

/* IMSG_CONF_METRICS_SET: nothing but the listening socket */
int
msg_get_conf_metrics(const struct imsg *imsg)
{
	if (imsg->len != 0 || imsg->fd == -1)
		return bad();
	return 0;
}

const char *
msg_tls_policy_name(int32_t policy)
{
	switch (policy) {
	case MSG_TLS_POLICY_TLSA:
		return "tlsa";
	case MSG_TLS_POLICY_STS:
		return "sts";
	default:
		return "no-policy-found";
	}
}

/* The result types of RFC 8460 4.3, and success. */
static int
tls_result_known(const char *r)
{
	static const char *const known[] = {
		"success", "starttls-not-supported",
		"certificate-host-mismatch", "certificate-expired",
		"certificate-not-trusted", "validation-failure",
		"tlsa-invalid", "dnssec-invalid", "dane-required",
		"sts-policy-fetch-error", "sts-policy-invalid",
		"sts-webpki-invalid",
	};
	size_t	 i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(r, known[i]) == 0)
			return 1;
	return 0;
}

int
msg_get_tls_result(const struct imsg *imsg, struct msg_tls_result *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->domain) ||
	    !STR(m->mx) || !STR(m->ip) || !STR(m->result) ||
	    m->policy < MSG_TLS_POLICY_NONE || m->policy > MSG_TLS_POLICY_STS ||
	    !tls_result_known(m->result) || m->domain[0] == '\0')
		return bad();
	return 0;
}

/* Lines of printable ASCII, each ended by '\n', bounded in count and size. */
int
msg_tls_policy_text_ok(const char *p, size_t len)
{
	size_t	 i, col = 0, lines = 0;

	if (len > MSG_TLS_POLICY_TEXT_MAX || (len > 0 && p[len - 1] != '\n'))
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (col == 0 || ++lines > MSG_TLS_POLICY_LINES)
				return 0;
			col = 0;
			continue;
		}
		if (p[i] < 0x20 || p[i] > 0x7e ||
		    ++col > MSG_TLS_POLICY_LINE_MAX)
			return 0;
	}
	return 1;
}

int
msg_get_tls_policy(const struct imsg *imsg, struct msg_tls_policy *m,
    const char **text)
{
	const uint8_t	*p;

	if ((p = head(imsg, m, sizeof(*m))) == NULL || !STR(m->domain) ||
	    !STR(m->mx) || m->domain[0] == '\0' ||
	    (m->policy != MSG_TLS_POLICY_TLSA &&
	    m->policy != MSG_TLS_POLICY_STS) ||
	    m->len != imsg->len - sizeof(*m) ||
	    !msg_tls_policy_text_ok((const char *)p, m->len))
		return bad();
	*text = (const char *)p;
	return 0;
}

int
msg_get_ctl_mta_host(const struct imsg *imsg, struct msg_ctl_mta_host *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->name) ||
	    !STR(m->last_error))
		return bad();
	return 0;
}

/*
 * The evaluation and the header section follow the struct, their lengths
 * adding up to the rest exactly; the header section is not empty.  What
 * the bytes hold is checked by their readers (dmarc_eval_decode(), the
 * ARF builder), not here.
 */
int
msg_get_report_failure(const struct imsg *imsg, struct msg_report_failure *m,
    const uint8_t **eval, const uint8_t **header)
{
	const uint8_t	*p;
	size_t		 rest;

	if ((p = head(imsg, m, sizeof(*m))) == NULL || !STR(m->mail_from) ||
	    !ENUM(m->kind, MSG_FAILURE_SPF) || !STR(m->dkim_domain) ||
	    !STR(m->spf_domain) || (m->kind == MSG_FAILURE_SPF &&
	    m->spf_domain[0] == '\0') ||
	    !STR(m->dkim_selector) || !STR(m->dkim_identity) ||
	    !BOOL(m->dkim_bodyhash) || (m->kind == MSG_FAILURE_DKIM &&
	    (m->dkim_domain[0] == '\0' || m->dkim_selector[0] == '\0')))
		return bad();
	rest = imsg->len - sizeof(*m);
	if (m->eval_len == 0 || m->header_len == 0 || m->eval_len > rest ||
	    m->header_len != rest - m->eval_len)
		return bad();
	*eval = p;
	*header = p + m->eval_len;
	return 0;
}

int
msg_get_report_receive(const struct imsg *imsg, struct msg_report_receive *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->sender) ||
	    !STR(m->rcpt) || imsg->fd == -1)
		return bad();
	return 0;
}

int
msg_get_ctl_reports(const struct imsg *imsg, struct msg_ctl_reports *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->kind, MSG_REPORTS_ARF) || !BOOL(m->json))
		return bad();
	return 0;
}

int
msg_get_forward_lookup(const struct imsg *imsg, struct msg_forward_lookup *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->user) ||
	    m->user[0] == '\0' || strchr(m->user, '/') != NULL)
		return bad();
	return 0;
}

int
msg_get_forward_member(const struct imsg *imsg, struct msg_forward_member *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 || !STR(m->member) ||
	    m->member[0] == '\0')
		return bad();
	return 0;
}

int
msg_get_conf_forward_key(const struct imsg *imsg,
    struct msg_conf_forward_key *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1)
		return bad();
	return 0;
}

int
msg_get_forward_end(const struct imsg *imsg, struct msg_forward_end *m)
{
	if (fixed(imsg, m, sizeof(*m)) == -1 ||
	    !ENUM(m->status, FORWARD_TEMPFAIL))
		return bad();
	return 0;
}

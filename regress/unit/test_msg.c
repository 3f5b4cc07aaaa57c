/*
 * lib/msg.c: every decoder refuses a payload one byte short or long, a
 * string field without its NUL, an enum or count out of range, and a
 * missing descriptor where one is due, and takes a good payload.  One row
 * per payload type drives the same checks; the variable-length payloads
 * and the rule's round trip have their own tests.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "envelope.h"
#include "imsg.h"
#include "msg.h"
#include "routing.h"

/* One decoder behind one signature, the decoded struct thrown away. */
#define DEC(name, type)							\
static int								\
dec_##name(const struct imsg *imsg)					\
{									\
	type	 m;							\
									\
	return msg_get_##name(imsg, &m);				\
}
DEC(peer, struct msg_peer)
DEC(conf_global, struct msg_conf_global)
DEC(conf_listener, struct msg_conf_listener)
DEC(conf_control, struct msg_conf_control)
DEC(conf_table, struct msg_conf_table)
DEC(conf_table_entry, struct msg_conf_table_entry)
DEC(conf_action, struct msg_conf_action)
DEC(conf_rule, struct msg_conf_rule)
DEC(conf_user, struct msg_conf_user)
DEC(conf_mta, struct msg_conf_mta)
DEC(conf_relay, struct msg_conf_relay)
DEC(conf_secret, struct msg_conf_secret)
DEC(conf_route, struct msg_conf_route)
DEC(conf_mta_addr, struct msg_conf_mta_addr)
DEC(conf_policy, struct msg_conf_policy)
DEC(conf_sign, struct msg_conf_sign)
DEC(conf_credential, struct msg_conf_credential)
DEC(queue_msgid, struct msg_queue_msgid)
DEC(envelope, struct envelope)
DEC(auth_begin, struct msg_auth_begin)
DEC(auth_mail, struct msg_auth_mail)
DEC(auth_end, struct msg_auth_end)
DEC(auth_sasl, struct msg_auth_sasl)
DEC(auth_sasl_result, struct msg_auth_sasl_result)
DEC(auth_scram_lookup, struct msg_auth_scram_lookup)
DEC(auth_scram_salt, struct msg_auth_scram_salt)
DEC(auth_scram_verify, struct msg_auth_scram_verify)
DEC(auth_scram_result, struct msg_auth_scram_result)
DEC(mta_task, struct msg_mta_task)
DEC(mta_result, struct msg_mta_result)
DEC(deliver, struct msg_deliver)
DEC(deliver_result, struct msg_deliver_result)
DEC(ctl_hello, struct msg_ctl_hello)
DEC(ctl_error, struct msg_ctl_error)
DEC(ctl_count, struct msg_ctl_count)
DEC(ctl_status, struct msg_ctl_status)
DEC(ctl_verbose, struct msg_ctl_verbose)
DEC(ctl_qid, struct msg_ctl_qid)
DEC(ctl_envelope, struct msg_ctl_envelope)
DEC(ctl_target, struct msg_ctl_target)
DEC(ctl_stat, struct msg_ctl_stat)
DEC(ctl_domain, struct msg_ctl_domain)
DEC(ctl_mta_host, struct msg_ctl_mta_host)
DEC(report_receive, struct msg_report_receive)
DEC(ctl_reports, struct msg_ctl_reports)
#undef DEC

static int
dec_conf_pki(const struct imsg *imsg)
{
	struct msg_conf_pki	 m;
	const uint8_t		*cert, *key;

	return msg_get_conf_pki(imsg, &m, &cert, &key);
}

static int
dec_conf_dkimsig(const struct imsg *imsg)
{
	struct msg_conf_dkimsig	 m;
	const uint8_t		*key;

	return msg_get_conf_dkimsig(imsg, &m, &key);
}

static int
dec_auth_result(const struct imsg *imsg)
{
	struct msg_auth_result	 m;
	const uint8_t		*hdr;

	return msg_get_auth_result(imsg, &m, &hdr);
}

#define NONE	((size_t)-1)

/*
 * One payload type: its size, a string field to leave unterminated, a
 * field (of `width` bytes) to set out of range, what a good payload needs
 * beyond zeros (a field set to `good`), and whether an fd comes with it.
 */
struct row {
	const char	*name;
	int		(*decode)(const struct imsg *);
	size_t		 size;
	size_t		 str, strlen;
	size_t		 bad, width;
	int64_t		 badval;
	size_t		 goodoff;
	int64_t		 good;
	int		 fd;
};

#define S(t, f)		offsetof(t, f), sizeof(((t *)0)->f)
#define E(t, f, v)	offsetof(t, f), sizeof(((t *)0)->f), (v)
#define NOSTR		NONE, 0
#define NOENUM		NONE, 0, 0
#define NOGOOD		NONE, 0

static const struct row rows[] = {
	{ "peer", dec_peer, sizeof(struct msg_peer), NOSTR,
	    E(struct msg_peer, proc, PROC_MAX), NOGOOD, 0 },
	{ "conf_global", dec_conf_global, sizeof(struct msg_conf_global),
	    S(struct msg_conf_global, chroot),
	    E(struct msg_conf_global, resolver, 2),
	    offsetof(struct msg_conf_global, smtp_max_received), 100, 0 },
	{ "conf_listener", dec_conf_listener,
	    sizeof(struct msg_conf_listener),
	    S(struct msg_conf_listener, senders_table),
	    E(struct msg_conf_listener, sslen, 4096), NOGOOD, 1 },
	{ "conf_control", dec_conf_control, sizeof(struct msg_conf_control),
	    NOSTR, E(struct msg_conf_control, nuids, CTL_MAX_ALLOWED_UIDS + 1),
	    NOGOOD, 1 },
	{ "conf_table", dec_conf_table, sizeof(struct msg_conf_table),
	    S(struct msg_conf_table, name),
	    E(struct msg_conf_table, type, TABLE_FILE + 1), NOGOOD, 0 },
	{ "conf_table_entry", dec_conf_table_entry,
	    sizeof(struct msg_conf_table_entry),
	    S(struct msg_conf_table_entry, value),
	    E(struct msg_conf_table_entry, has_value, 2), NOGOOD, 0 },
	{ "conf_action", dec_conf_action, sizeof(struct msg_conf_action),
	    S(struct msg_conf_action, virtual_table),
	    E(struct msg_conf_action, type, -1), NOGOOD, 0 },
	{ "conf_rule", dec_conf_rule, sizeof(struct msg_conf_rule),
	    S(struct msg_conf_rule, action),
	    E(struct msg_conf_rule, rcpt_for, MATCH_FOR_RCPT_TABLE + 1),
	    NOGOOD, 0 },
	{ "conf_user", dec_conf_user, sizeof(struct msg_conf_user),
	    S(struct msg_conf_user, name),
	    E(struct msg_conf_user, can_receive, 2), NOGOOD, 0 },
	{ "conf_mta", dec_conf_mta, sizeof(struct msg_conf_mta),
	    S(struct msg_conf_mta, ca_file),
	    E(struct msg_conf_mta, tls_fallback, 7), NOGOOD, 0 },
	{ "conf_relay", dec_conf_relay, sizeof(struct msg_conf_relay),
	    S(struct msg_conf_relay, socks5_host),
	    E(struct msg_conf_relay, transport, TRANSPORT_SOCKS5 + 1),
	    NOGOOD, 0 },
	{ "conf_secret", dec_conf_secret, sizeof(struct msg_conf_secret),
	    S(struct msg_conf_secret, password), NOENUM, NOGOOD, 0 },
	{ "conf_route", dec_conf_route, sizeof(struct msg_conf_route),
	    S(struct msg_conf_route, account), NOENUM, NOGOOD, 0 },
	{ "conf_mta_addr", dec_conf_mta_addr,
	    sizeof(struct msg_conf_mta_addr), NOSTR,
	    E(struct msg_conf_mta_addr, kind, MTA_ADDR_MX_ALLOW + 1),
	    offsetof(struct msg_conf_mta_addr, family), AF_INET, 0 },
	{ "conf_policy", dec_conf_policy, sizeof(struct msg_conf_policy),
	    S(struct msg_conf_policy, quarantine_folder),
	    E(struct msg_conf_policy, dmarc, POLICY_DISABLE + 1), NOGOOD, 0 },
	{ "conf_sign", dec_conf_sign, sizeof(struct msg_conf_sign),
	    S(struct msg_conf_sign, tag),
	    E(struct msg_conf_sign, nsignatures, 9), NOGOOD, 0 },
	{ "conf_credential", dec_conf_credential,
	    sizeof(struct msg_conf_credential),
	    S(struct msg_conf_credential, hash), NOENUM, NOGOOD, 0 },
	{ "queue_msgid", dec_queue_msgid, sizeof(struct msg_queue_msgid),
	    NOSTR, NOENUM, NOGOOD, 0 },
	{ "envelope", dec_envelope, sizeof(struct envelope),
	    S(struct envelope, account),
	    E(struct envelope, kind, ENV_REMOTE + 1), NOGOOD, 0 },
	{ "auth_begin", dec_auth_begin, sizeof(struct msg_auth_begin),
	    S(struct msg_auth_begin, mail_from),
	    E(struct msg_auth_begin, authenticated, 2), NOGOOD, 0 },
	{ "auth_mail", dec_auth_mail, sizeof(struct msg_auth_mail),
	    S(struct msg_auth_mail, text),
	    E(struct msg_auth_mail, code, 600), NOGOOD, 0 },
	{ "auth_end", dec_auth_end, sizeof(struct msg_auth_end),
	    S(struct msg_auth_end, rcpt_domain),
	    E(struct msg_auth_end, relayed, -1), NOGOOD, 0 },
	{ "auth_sasl", dec_auth_sasl, sizeof(struct msg_auth_sasl),
	    S(struct msg_auth_sasl, password), NOENUM, NOGOOD, 0 },
	{ "auth_sasl_result", dec_auth_sasl_result,
	    sizeof(struct msg_auth_sasl_result), NOSTR,
	    E(struct msg_auth_sasl_result, result, AUTH_SASL_TEMPFAIL + 1),
	    NOGOOD, 0 },
	{ "auth_scram_lookup", dec_auth_scram_lookup,
	    sizeof(struct msg_auth_scram_lookup),
	    S(struct msg_auth_scram_lookup, user),
	    E(struct msg_auth_scram_lookup, mech, SASL_MECH_CRAM_MD5),
	    offsetof(struct msg_auth_scram_lookup, mech),
	    SASL_MECH_SCRAM_SHA_256, 0 },
	/* a good salt answer of zeros would be "ok" without a salt */
	{ "auth_scram_salt", dec_auth_scram_salt,
	    sizeof(struct msg_auth_scram_salt), NOSTR,
	    E(struct msg_auth_scram_salt, result, AUTH_SASL_FAIL),
	    offsetof(struct msg_auth_scram_salt, result), AUTH_SASL_TEMPFAIL,
	    0 },
	{ "auth_scram_verify", dec_auth_scram_verify,
	    sizeof(struct msg_auth_scram_verify),
	    S(struct msg_auth_scram_verify, table),
	    E(struct msg_auth_scram_verify, authmsg_len,
	    AUTH_SCRAM_AUTHMSG_MAX + 1),
	    offsetof(struct msg_auth_scram_verify, mech),
	    SASL_MECH_SCRAM_SHA_1, 0 },
	{ "auth_scram_result", dec_auth_scram_result,
	    sizeof(struct msg_auth_scram_result), NOSTR,
	    E(struct msg_auth_scram_result, sig_len, AUTH_SCRAM_HASH_MAX + 1),
	    offsetof(struct msg_auth_scram_result, result), AUTH_SASL_FAIL,
	    0 },
	{ "mta_task", dec_mta_task, sizeof(struct msg_mta_task), NOSTR,
	    E(struct msg_mta_task, nenv, 0),
	    offsetof(struct msg_mta_task, nenv), 1, 1 },
	{ "mta_result", dec_mta_result, sizeof(struct msg_mta_result),
	    S(struct msg_mta_result, dsn_status),
	    E(struct msg_mta_result, status, DELIVER_PERMFAIL + 1), NOGOOD,
	    0 },
	{ "deliver", dec_deliver, sizeof(struct msg_deliver),
	    S(struct msg_deliver, folder),
	    E(struct msg_deliver, check_existing, 2), NOGOOD, 1 },
	{ "deliver_result", dec_deliver_result,
	    sizeof(struct msg_deliver_result),
	    S(struct msg_deliver_result, error),
	    E(struct msg_deliver_result, status, -1), NOGOOD, 0 },
	{ "ctl_hello", dec_ctl_hello, sizeof(struct msg_ctl_hello), NOSTR,
	    NOENUM, NOGOOD, 0 },
	{ "ctl_error", dec_ctl_error, sizeof(struct msg_ctl_error),
	    S(struct msg_ctl_error, message), NOENUM, NOGOOD, 0 },
	{ "ctl_count", dec_ctl_count, sizeof(struct msg_ctl_count), NOSTR,
	    E(struct msg_ctl_count, count, -1), NOGOOD, 0 },
	{ "ctl_status", dec_ctl_status, sizeof(struct msg_ctl_status),
	    S(struct msg_ctl_status, chroot), NOENUM, NOGOOD, 0 },
	{ "ctl_verbose", dec_ctl_verbose, sizeof(struct msg_ctl_verbose),
	    NOSTR, E(struct msg_ctl_verbose, verbose, 4), NOGOOD, 0 },
	{ "ctl_qid", dec_ctl_qid, sizeof(struct msg_ctl_qid), NOSTR,
	    E(struct msg_ctl_qid, kind, QID_ENV + 1), NOGOOD, 0 },
	{ "ctl_envelope", dec_ctl_envelope, sizeof(struct msg_ctl_envelope),
	    S(struct msg_ctl_envelope, account), NOENUM, NOGOOD, 0 },
	{ "ctl_target", dec_ctl_target, sizeof(struct msg_ctl_target), NOSTR,
	    E(struct msg_ctl_target, target, CTL_TARGET_AUTHD + 1),
	    offsetof(struct msg_ctl_target, target), CTL_TARGET_SMTP, 0 },
	{ "ctl_stat", dec_ctl_stat, sizeof(struct msg_ctl_stat),
	    S(struct msg_ctl_stat, name), NOENUM, NOGOOD, 0 },
	{ "ctl_domain", dec_ctl_domain, sizeof(struct msg_ctl_domain),
	    S(struct msg_ctl_domain, domain), E(struct msg_ctl_domain, flags,
	    CTL_FLAG_JSON << 1), NOGOOD, 0 },
	{ "ctl_mta_host", dec_ctl_mta_host, sizeof(struct msg_ctl_mta_host),
	    S(struct msg_ctl_mta_host, last_error), NOENUM, NOGOOD, 0 },
	{ "report_receive", dec_report_receive,
	    sizeof(struct msg_report_receive),
	    S(struct msg_report_receive, rcpt), NOENUM, NOGOOD, 1 },
	{ "ctl_reports", dec_ctl_reports, sizeof(struct msg_ctl_reports),
	    NOSTR, E(struct msg_ctl_reports, kind, MSG_REPORTS_ARF + 1),
	    NOGOOD, 0 },
	/* variable length: zero-length tails here, their own test below */
	{ "conf_pki", dec_conf_pki, sizeof(struct msg_conf_pki),
	    S(struct msg_conf_pki, name), NOENUM, NOGOOD, 0 },
	{ "conf_dkimsig", dec_conf_dkimsig, sizeof(struct msg_conf_dkimsig),
	    S(struct msg_conf_dkimsig, selector),
	    E(struct msg_conf_dkimsig, algorithm, DKIM_ED25519_SHA256 + 1),
	    NOGOOD, 0 },
	{ "auth_result", dec_auth_result, sizeof(struct msg_auth_result),
	    S(struct msg_auth_result, folder),
	    E(struct msg_auth_result, verdict, AUTH_VERDICT_MAX), NOGOOD, 0 },
};

static void
put(uint8_t *p, size_t width, int64_t v)
{
	uint8_t		 u8 = (uint8_t)v;
	uint16_t	 u16 = (uint16_t)v;
	int32_t		 i32 = (int32_t)v;

	switch (width) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &i32, 4);
		break;
	case 8:
		memcpy(p, &v, 8);
		break;
	default:
		fail_msg("width %zu", width);
	}
}

/* A good payload of the row's type, with one spare byte after it. */
static uint8_t *
good(const struct row *r, struct imsg *imsg)
{
	uint8_t	*p;

	p = calloc(1, r->size + 1);
	assert_non_null(p);
	if (r->goodoff != NONE)
		put(p + r->goodoff, 4, r->good);
	memset(imsg, 0, sizeof(*imsg));
	imsg->data = p;
	imsg->len = r->size;
	imsg->fd = r->fd ? 0 : -1;
	return p;
}

/*
 * smtp's proposal to the queue: the envelope's checks, plus a routed
 * kind (never 0), a client of an IP family and a terminated tag.
 */
static void
test_queue_envelope(void **state)
{
	struct msg_queue_envelope	 m, out;
	struct imsg			 imsg;

	memset(&m, 0, sizeof(m));
	m.env.kind = ENV_LOCAL;
	m.client.ss_family = AF_INET;
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = &m;
	imsg.len = sizeof(m);
	imsg.fd = -1;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), 0);
	imsg.len = sizeof(m) - 1;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	imsg.len = sizeof(m);
	m.client.ss_family = AF_INET6;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), 0);
	m.client.ss_family = AF_UNSPEC;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.client.ss_family = AF_INET;
	m.env.kind = 0;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.env.kind = ENV_REMOTE + 1;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.env.kind = ENV_REMOTE;
	memset(m.tag, 'x', sizeof(m.tag));
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.tag[sizeof(m.tag) - 1] = '\0';
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), 0);
	memset(m.env.dest, 'x', sizeof(m.env.dest));
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.env.dest[0] = '\0';
	/* an SRS reversal names the SRS address it reverses */
	m.srs = 1;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	strlcpy(m.alias_of, "SRS0=abcd=AA=b.test=a@fwd.test",
	    sizeof(m.alias_of));
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), 0);
	m.srs = 2;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	m.srs = 1;
	m.forwarded = 1;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	/* a .forward's envelope names its member, NUL-terminated */
	m.srs = 0;
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
	strlcpy(m.fwd_member, "|prog", sizeof(m.fwd_member));
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), 0);
	memset(m.fwd_member, 'x', sizeof(m.fwd_member));
	assert_int_equal(msg_get_queue_envelope(&imsg, &out), -1);
}

/* An SRS secret: our domain, and 16 to 256 bytes of key. */
static void
test_conf_srs_key(void **state)
{
	struct msg_conf_srs_key	 m, out;
	struct imsg		 imsg;

	memset(&m, 0, sizeof(m));
	strlcpy(m.domain, "fwd.test", sizeof(m.domain));
	m.keylen = 16;
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = &m;
	imsg.len = sizeof(m);
	imsg.fd = -1;
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), 0);
	imsg.len = sizeof(m) + 1;
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), -1);
	imsg.len = sizeof(m);
	m.keylen = 15;
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), -1);
	m.keylen = sizeof(m.key);
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), 0);
	m.keylen = sizeof(m.key) + 1;
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), -1);
	m.keylen = 32;
	m.domain[0] = '\0';
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), -1);
	memset(m.domain, 'x', sizeof(m.domain));
	assert_int_equal(msg_get_conf_srs_key(&imsg, &out), -1);
}

/*
 * mta -> reportd: the policy strings behind TLS results (RFC 8460 4.4):
 * the text's length must be what came, and it must be bounded lines of
 * printable ASCII, each ended by a newline.
 */
static int
tls_policy(int32_t policy, const char *dom, const char *text, size_t len,
    int32_t delta)
{
	struct msg_tls_policy	 m, out;
	struct imsg		 imsg;
	const char		*t;
	uint8_t			*p;
	int			 r;

	memset(&m, 0, sizeof(m));
	m.policy = policy;
	strlcpy(m.domain, dom, sizeof(m.domain));
	m.len = (uint32_t)(len + delta);
	p = calloc(1, sizeof(m) + len + 1);
	assert_non_null(p);
	memcpy(p, &m, sizeof(m));
	memcpy(p + sizeof(m), text, len);
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = p;
	imsg.len = sizeof(m) + len;
	imsg.fd = -1;
	r = msg_get_tls_policy(&imsg, &out, &t);
	if (r == 0) {
		assert_int_equal(out.len, len);
		assert_ptr_equal(t, p + sizeof(m));
	}
	free(p);
	return r;
}

/* A failure report's message: the struct, eval bytes, header bytes. */
static int
report_failure(int32_t kind, uint32_t elen, uint32_t hlen, size_t have,
    int mf_full)
{
	struct msg_report_failure	 m, out;
	struct imsg			 imsg;
	const uint8_t			*e, *h;
	uint8_t				*p;
	int				 r;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	if (mf_full)
		memset(m.mail_from, 'a', sizeof(m.mail_from));
	else
		strlcpy(m.mail_from, "a@b.test", sizeof(m.mail_from));
	m.eval_len = elen;
	m.header_len = hlen;
	p = calloc(1, sizeof(m) + have + 1);
	assert_non_null(p);
	memcpy(p, &m, sizeof(m));
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = p;
	imsg.len = sizeof(m) + have;
	imsg.fd = -1;
	r = msg_get_report_failure(&imsg, &out, &e, &h);
	if (r == 0) {
		assert_ptr_equal(e, p + sizeof(m));
		assert_ptr_equal(h, p + sizeof(m) + elen);
	}
	free(p);
	return r;
}

static void
test_report_failure(void **state)
{
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 10, 20, 30, 0), 0);
	/* the lengths must add up to the rest, neither part empty */
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 10, 20, 31, 0), -1);
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 10, 20, 29, 0), -1);
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 0, 30, 30, 0), -1);
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 30, 0, 30, 0), -1);
	/* lengths that wrap around */
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 0xffffffff, 31, 30,
	    0), -1);
	/* an unknown kind, a MAIL FROM without its NUL */
	assert_int_equal(report_failure(7, 10, 20, 30, 0), -1);
	assert_int_equal(report_failure(-1, 10, 20, 30, 0), -1);
	/* a DKIM report names its signature */
	assert_int_equal(report_failure(MSG_FAILURE_DKIM, 10, 20, 30, 0), -1);
	assert_int_equal(report_failure(MSG_FAILURE_SPF, 10, 20, 30, 0), -1);
	assert_int_equal(report_failure(MSG_FAILURE_DMARC, 10, 20, 30, 1), -1);
}

/* The smtp limits in the global configuration: prefixes and times. */
static void
test_conf_global_limits(void **state)
{
	struct msg_conf_global	 g, out;
	struct imsg		 imsg;

	memset(&g, 0, sizeof(g));
	g.smtp_max_received = 100;
	g.smtp_ipv4_prefix = 24;
	g.smtp_ipv6_prefix = 64;
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = &g;
	imsg.len = sizeof(g);
	imsg.fd = -1;
	assert_int_equal(msg_get_conf_global(&imsg, &out), 0);
	g.smtp_ipv4_prefix = 33;
	assert_int_equal(msg_get_conf_global(&imsg, &out), -1);
	g.smtp_ipv4_prefix = 32;
	g.smtp_ipv6_prefix = 129;
	assert_int_equal(msg_get_conf_global(&imsg, &out), -1);
	g.smtp_ipv6_prefix = -1;
	assert_int_equal(msg_get_conf_global(&imsg, &out), -1);
	g.smtp_ipv6_prefix = 128;
	g.smtp_max_lifetime = -1;
	assert_int_equal(msg_get_conf_global(&imsg, &out), -1);
	g.smtp_max_lifetime = 3600;
	g.smtp_auth_lockout = -5;
	assert_int_equal(msg_get_conf_global(&imsg, &out), -1);
	g.smtp_auth_lockout = 900;
	assert_int_equal(msg_get_conf_global(&imsg, &out), 0);
}

static void
test_tls_policy(void **state)
{
	char	 big[MSG_TLS_POLICY_TEXT_MAX + 2];
	size_t	 i;

	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test",
	    "version: STSv1\nmode: enforce\n", 29, 0), 0);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_TLSA, "a.test", "", 0, 0),
	    0);
	/* the length does not add up */
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test",
	    "mode: x\n", 8, 1), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test",
	    "mode: x\n", 8, -1), -1);
	/* no policy type, no domain */
	assert_int_equal(tls_policy(MSG_TLS_POLICY_NONE, "a.test",
	    "mode: x\n", 8, 0), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "", "mode: x\n", 8, 0),
	    -1);
	/* not lines: no final newline, an empty line, a NUL, a control */
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test", "mode: x",
	    7, 0), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test", "a\n\n", 3,
	    0), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test", "a\0b\n", 4,
	    0), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test", "a\rb\n", 4,
	    0), -1);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_STS, "a.test", "\xc3\xa9\n",
	    3, 0), -1);
	/* a line of MSG_TLS_POLICY_LINE_MAX passes, one more does not */
	memset(big, 'x', MSG_TLS_POLICY_LINE_MAX);
	big[MSG_TLS_POLICY_LINE_MAX] = '\n';
	assert_int_equal(tls_policy(MSG_TLS_POLICY_TLSA, "a.test", big,
	    MSG_TLS_POLICY_LINE_MAX + 1, 0), 0);
	memset(big, 'x', MSG_TLS_POLICY_LINE_MAX + 1);
	big[MSG_TLS_POLICY_LINE_MAX + 1] = '\n';
	assert_int_equal(tls_policy(MSG_TLS_POLICY_TLSA, "a.test", big,
	    MSG_TLS_POLICY_LINE_MAX + 2, 0), -1);
	/* MSG_TLS_POLICY_LINES lines pass, one more does not */
	for (i = 0; i < MSG_TLS_POLICY_LINES + 1; i++) {
		big[2 * i] = 'l';
		big[2 * i + 1] = '\n';
	}
	assert_int_equal(tls_policy(MSG_TLS_POLICY_TLSA, "a.test", big,
	    2 * MSG_TLS_POLICY_LINES, 0), 0);
	assert_int_equal(tls_policy(MSG_TLS_POLICY_TLSA, "a.test", big,
	    2 * MSG_TLS_POLICY_LINES + 2, 0), -1);
}

static void
test_every_decoder(void **state)
{
	const struct row	*r;
	struct imsg		 imsg;
	uint8_t			*p;
	size_t			 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = &rows[i];
		print_message("%s\n", r->name);

		p = good(r, &imsg);
		assert_int_equal(r->decode(&imsg), 0);
		imsg.len = r->size - 1;			/* short */
		assert_int_equal(r->decode(&imsg), -1);
		imsg.len = r->size + 1;			/* long */
		assert_int_equal(r->decode(&imsg), -1);
		imsg.len = 0;				/* empty */
		imsg.data = NULL;
		assert_int_equal(r->decode(&imsg), -1);
		free(p);

		if (r->str != NONE) {		/* a string without its NUL */
			p = good(r, &imsg);
			memset(p + r->str, 'x', r->strlen);
			assert_int_equal(r->decode(&imsg), -1);
			/* ending in its last byte is fine */
			p[r->str + r->strlen - 1] = '\0';
			assert_int_equal(r->decode(&imsg), 0);
			free(p);
		}
		if (r->bad != NONE) {		/* an enum or count too big */
			p = good(r, &imsg);
			put(p + r->bad, r->width, r->badval);
			assert_int_equal(r->decode(&imsg), -1);
			free(p);
		}
		if (r->fd) {			/* its descriptor is due */
			p = good(r, &imsg);
			imsg.fd = -1;
			assert_int_equal(r->decode(&imsg), -1);
			free(p);
		}
	}
}

/* branch lists: a list's configuration, and the queue <-> authd build. */
static void
test_lists(void **state)
{
	struct msg_conf_list	 l, lo;
	struct msg_list_build	 b, bo;
	struct msg_list_header	*h, ho;
	struct msg_list_end	 e, eo;
	struct imsg		 imsg;

	(void)state;
	memset(&l, 0, sizeof(l));
	strlcpy(l.name, "dev", sizeof(l.name));
	strlcpy(l.address, "dev@lists.test", sizeof(l.address));
	strlcpy(l.members, "m", sizeof(l.members));
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = &l;
	imsg.len = sizeof(l);
	imsg.fd = -1;
	assert_int_equal(msg_get_conf_list(&imsg, &lo), 0);
	imsg.len = sizeof(l) - 1;
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	imsg.len = sizeof(l);
	l.posters = LIST_POSTERS_TABLE;		/* needs its table */
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	strlcpy(l.posters_table, "p", sizeof(l.posters_table));
	assert_int_equal(msg_get_conf_list(&imsg, &lo), 0);
	l.posters = LIST_POSTERS_TABLE + 1;
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	l.posters = 0;
	l.from_rewrite = LIST_FROM_NEVER + 1;
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	l.from_rewrite = 0;
	memset(l.unsubscribe, 'x', sizeof(l.unsubscribe));
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	l.unsubscribe[0] = '\0';
	strlcpy(l.address, "nodomain", sizeof(l.address));
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);
	strlcpy(l.address, "dev@lists.test", sizeof(l.address));
	l.members[0] = '\0';
	assert_int_equal(msg_get_conf_list(&imsg, &lo), -1);

	memset(&b, 0, sizeof(b));
	b.evpid = 1;
	strlcpy(b.list, "dev", sizeof(b.list));
	imsg.data = &b;
	imsg.len = sizeof(b);
	imsg.fd = 3;
	assert_int_equal(msg_get_list_build(&imsg, &bo), 0);
	imsg.fd = -1;				/* the message is due */
	assert_int_equal(msg_get_list_build(&imsg, &bo), -1);
	imsg.fd = 3;
	b.list[0] = '\0';
	assert_int_equal(msg_get_list_build(&imsg, &bo), -1);

	h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->len = 1;
	imsg.data = h;
	imsg.len = sizeof(*h);
	imsg.fd = -1;
	assert_int_equal(msg_get_list_header(&imsg, &ho), 0);
	h->len = 0;
	assert_int_equal(msg_get_list_header(&imsg, &ho), -1);
	h->len = LIST_HEADER_CHUNK + 1;
	assert_int_equal(msg_get_list_header(&imsg, &ho), -1);
	h->len = LIST_HEADER_CHUNK;
	assert_int_equal(msg_get_list_header(&imsg, &ho), 0);
	imsg.len = sizeof(*h) + 1;
	assert_int_equal(msg_get_list_header(&imsg, &ho), -1);
	free(h);

	memset(&e, 0, sizeof(e));
	imsg.data = &e;
	imsg.len = sizeof(e);
	assert_int_equal(msg_get_list_end(&imsg, &eo), 0);
	e.status = LIST_BUILD_TEMPFAIL + 1;
	assert_int_equal(msg_get_list_end(&imsg, &eo), -1);
	e.status = LIST_BUILD_LOOP;
	memset(e.why, 'x', sizeof(e.why));
	assert_int_equal(msg_get_list_end(&imsg, &eo), -1);
}

/* SCRAM answers: "ok" needs its salt, iterations and signature. */
static void
test_scram_payloads(void **state)
{
	struct msg_auth_scram_salt	 salt;
	struct msg_auth_scram_result	 res;
	struct msg_auth_scram_verify	 ver;
	struct imsg			 imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	memset(&salt, 0, sizeof(salt));
	salt.result = AUTH_SASL_OK;
	salt.iterations = 4096;
	salt.salt_len = 16;
	imsg.data = &salt;
	imsg.len = sizeof(salt);
	assert_int_equal(dec_auth_scram_salt(&imsg), 0);
	salt.salt_len = 0;
	assert_int_equal(dec_auth_scram_salt(&imsg), -1);
	salt.salt_len = AUTH_SCRAM_SALT_MAX + 1;
	assert_int_equal(dec_auth_scram_salt(&imsg), -1);
	salt.salt_len = AUTH_SCRAM_SALT_MAX;
	salt.iterations = 0;
	assert_int_equal(dec_auth_scram_salt(&imsg), -1);

	memset(&res, 0, sizeof(res));
	imsg.data = &res;
	imsg.len = sizeof(res);
	res.result = AUTH_SASL_OK;
	assert_int_equal(dec_auth_scram_result(&imsg), -1);
	res.sig_len = 32;
	assert_int_equal(dec_auth_scram_result(&imsg), 0);

	memset(&ver, 0, sizeof(ver));
	imsg.data = &ver;
	imsg.len = sizeof(ver);
	ver.mech = SASL_MECH_SCRAM_SHA_256;
	ver.proof_len = AUTH_SCRAM_HASH_MAX;
	assert_int_equal(dec_auth_scram_verify(&imsg), 0);
	ver.proof_len = AUTH_SCRAM_HASH_MAX + 1;
	assert_int_equal(dec_auth_scram_verify(&imsg), -1);
	ver.proof_len = 0;
	ver.mech = SASL_MECH_PLAIN;
	assert_int_equal(dec_auth_scram_verify(&imsg), -1);
}

/* The tails: their lengths must add up to what came. */
static void
test_variable_lengths(void **state)
{
	struct msg_conf_pki	 pki, gotpki;
	struct msg_conf_dkimsig	 dk, gotdk;
	struct msg_auth_result	 ar, gotar;
	struct imsg		 imsg;
	uint8_t			 buf[sizeof(dk) + 16];
	const uint8_t		*cert, *key, *hdr;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = buf;

	memset(&pki, 0, sizeof(pki));
	pki.certlen = 5;
	pki.keylen = 3;
	memcpy(buf, &pki, sizeof(pki));
	memcpy(buf + sizeof(pki), "CERTSKEY", 8);
	imsg.len = sizeof(pki) + 8;
	assert_int_equal(msg_get_conf_pki(&imsg, &gotpki, &cert, &key), 0);
	assert_memory_equal(cert, "CERTS", 5);
	assert_memory_equal(key, "KEY", 3);
	imsg.len--;
	assert_int_equal(msg_get_conf_pki(&imsg, &gotpki, &cert, &key), -1);
	imsg.len += 2;
	assert_int_equal(msg_get_conf_pki(&imsg, &gotpki, &cert, &key), -1);
	/* lengths that wrap around do not add up either */
	pki.certlen = UINT32_MAX;
	pki.keylen = 9;
	memcpy(buf, &pki, sizeof(pki));
	imsg.len = sizeof(pki) + 8;
	assert_int_equal(msg_get_conf_pki(&imsg, &gotpki, &cert, &key), -1);

	memset(&dk, 0, sizeof(dk));
	dk.keylen = 4;
	memcpy(buf, &dk, sizeof(dk));
	memcpy(buf + sizeof(dk), "KEY!", 4);
	imsg.len = sizeof(dk) + 4;
	assert_int_equal(msg_get_conf_dkimsig(&imsg, &gotdk, &key), 0);
	assert_memory_equal(key, "KEY!", 4);
	imsg.len = sizeof(dk) + 3;
	assert_int_equal(msg_get_conf_dkimsig(&imsg, &gotdk, &key), -1);

	memset(&ar, 0, sizeof(ar));
	ar.verdict = AUTH_VERDICT_QUARANTINE;
	ar.header_len = 6;
	memcpy(buf, &ar, sizeof(ar));
	memcpy(buf + sizeof(ar), "A-R: x", 6);
	imsg.len = sizeof(ar) + 6;
	assert_int_equal(msg_get_auth_result(&imsg, &gotar, &hdr), 0);
	assert_int_equal(gotar.verdict, AUTH_VERDICT_QUARANTINE);
	assert_memory_equal(hdr, "A-R: x", 6);
	imsg.len = sizeof(ar) + 7;
	assert_int_equal(msg_get_auth_result(&imsg, &gotar, &hdr), -1);
}

/* debug delivery: the announced trust anchor and CA bytes, exactly */
static void
test_ctl_debug(void **state)
{
	struct msg_ctl_debug		 d, got;
	struct msg_ctl_debug_result	 r, gotr;
	struct imsg			 imsg;
	static uint8_t			 buf[sizeof(d) + CTL_DEBUG_TA_MAX +
					    CTL_DEBUG_CA_MAX + 2];
	const uint8_t			*ta, *ca;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = buf;
	memset(&d, 0, sizeof(d));
	strlcpy(d.rcpt, "x@ee.test", sizeof(d.rcpt));
	strlcpy(d.resolver, "127.0.0.1@53", sizeof(d.resolver));
	d.flags = CTL_DEBUG_F_JSON;
	d.ta_len = 3;
	d.ca_len = 4;
	memcpy(buf, &d, sizeof(d));
	memcpy(buf + sizeof(d), "TA!PEM!", 7);
	imsg.len = sizeof(d) + 7;
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), 0);
	assert_memory_equal(ta, "TA!", 3);
	assert_memory_equal(ca, "PEM!", 4);
	assert_string_equal(got.rcpt, "x@ee.test");
	imsg.len--;
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	/* a trust anchor needs a resolver */
	imsg.len++;
	((struct msg_ctl_debug *)buf)->resolver[0] = '\0';
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	/* no recipient, unknown flags, unterminated strings, too large */
	d.ta_len = 0;
	d.ca_len = 0;
	imsg.len = sizeof(d);
	memcpy(buf, &d, sizeof(d));
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), 0);
	d.rcpt[0] = '\0';
	memcpy(buf, &d, sizeof(d));
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	strlcpy(d.rcpt, "x@ee.test", sizeof(d.rcpt));
	d.flags = 2;
	memcpy(buf, &d, sizeof(d));
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	d.flags = 0;
	memset(d.sender, 'a', sizeof(d.sender));
	memcpy(buf, &d, sizeof(d));
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	d.sender[0] = '\0';
	d.ca_len = CTL_DEBUG_CA_MAX + 1;
	memcpy(buf, &d, sizeof(d));
	imsg.len = sizeof(d) + d.ca_len;
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);
	d.ta_len = UINT32_MAX;
	d.ca_len = 1;
	memcpy(buf, &d, sizeof(d));
	imsg.len = sizeof(d);
	assert_int_equal(msg_get_ctl_debug(&imsg, &got, &ta, &ca), -1);

	r.verdict = CTL_DEBUG_TEMPORARY;
	memcpy(buf, &r, sizeof(r));
	imsg.len = sizeof(r);
	assert_int_equal(msg_get_ctl_debug_result(&imsg, &gotr), 0);
	assert_int_equal(gotr.verdict, CTL_DEBUG_TEMPORARY);
	r.verdict = CTL_DEBUG_TEMPORARY + 1;
	memcpy(buf, &r, sizeof(r));
	assert_int_equal(msg_get_ctl_debug_result(&imsg, &gotr), -1);
	imsg.len++;
	assert_int_equal(msg_get_ctl_debug_result(&imsg, &gotr), -1);
}

static void
test_bytes_and_empty(void **state)
{
	struct imsg	 imsg;
	uint8_t		 b[4] = "abc";
	const void	*data;
	size_t		 len;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	assert_int_equal(msg_get_empty(&imsg), 0);
	assert_int_equal(msg_get_bytes(&imsg, &data, &len), -1);
	imsg.data = b;
	imsg.len = 3;
	assert_int_equal(msg_get_empty(&imsg), -1);
	assert_int_equal(msg_get_bytes(&imsg, &data, &len), 0);
	assert_ptr_equal(data, b);
	assert_int_equal(len, 3);
	imsg.len = IMSG_MAX_PAYLOAD + 1;
	assert_int_equal(msg_get_bytes(&imsg, &data, &len), -1);
}

/* A rule crosses as its fields, never as its list pointers. */
static void
test_rule_round_trip(void **state)
{
	struct rule		 r, *back;
	struct msg_conf_rule	 m;
	struct imsg		 imsg;
	struct msg_conf_rule	 got;

	memset(&r, 0, sizeof(r));
	r.from = MATCH_FROM_SRC_NET;
	r.from_negate = 1;
	r.from_net.ss_family = AF_INET;
	r.from_prefixlen = 24;
	r.rcpt_for = MATCH_FOR_DOMAIN;
	strlcpy(r.for_domain, "example.test", sizeof(r.for_domain));
	strlcpy(r.tag, "in", sizeof(r.tag));
	r.auth = -1;
	strlcpy(r.action, "local", sizeof(r.action));
	routing_rule_encode(&r, &m);
	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = &m;
	imsg.len = sizeof(m);
	assert_int_equal(msg_get_conf_rule(&imsg, &got), 0);
	back = routing_rule_decode(&got);
	assert_int_equal(back->from, MATCH_FROM_SRC_NET);
	assert_int_equal(back->from_negate, 1);
	assert_int_equal(back->from_net.ss_family, AF_INET);
	assert_int_equal(back->from_prefixlen, 24);
	assert_int_equal(back->rcpt_for, MATCH_FOR_DOMAIN);
	assert_string_equal(back->for_domain, "example.test");
	assert_string_equal(back->tag, "in");
	assert_int_equal(back->auth, -1);
	assert_string_equal(back->action, "local");
	free(back);
	/* auth outside -1..1 is refused */
	m.auth = 2;
	assert_int_equal(msg_get_conf_rule(&imsg, &got), -1);
}

/* The mta's loop-check addresses: family, prefix, port and padding. */
static void
test_conf_mta_addr(void **state)
{
	struct msg_conf_mta_addr	 m, got;
	struct imsg			 imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.data = &m;
	imsg.len = sizeof(m);
	imsg.fd = -1;

	memset(&m, 0, sizeof(m));
	m.kind = MTA_ADDR_LISTEN;
	m.family = AF_INET;
	m.addr[0] = 127;
	m.addr[3] = 1;
	m.port = 65535;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), 0);
	assert_memory_equal(&got, &m, sizeof(m));
	m.port = 65536;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.port = 25;
	/* IPv4 in the first four bytes, nothing after them */
	m.addr[4] = 1;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.addr[4] = 0;
	m.addr[15] = 1;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.family = AF_INET6;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), 0);
	m.family = AF_UNIX;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.family = 0;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);

	/* a network: prefix within the family, and no port */
	memset(&m, 0, sizeof(m));
	m.kind = MTA_ADDR_MX_ALLOW;
	m.family = AF_INET;
	m.addr[0] = 127;
	m.prefixlen = 8;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), 0);
	m.prefixlen = 32;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), 0);
	m.prefixlen = 33;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.family = AF_INET6;
	m.prefixlen = 128;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), 0);
	m.prefixlen = 129;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.prefixlen = 8;
	m.port = 25;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	m.port = 0;
	m.kind = -1;
	assert_int_equal(msg_get_conf_mta_addr(&imsg, &got), -1);
	assert_string_equal(msg_type_name(IMSG_CONF_MTA_ADDR_ADD),
	    "IMSG_CONF_MTA_ADDR_ADD");
}

/* The queue's spool state for smtp: a flag, and nothing else. */
static void
test_queue_space(void **state)
{
	struct msg_queue_space	 m, got;
	struct imsg		 imsg;

	memset(&m, 0, sizeof(m));
	m.low = 1;
	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = &m;
	imsg.len = sizeof(m);
	assert_int_equal(msg_get_queue_space(&imsg, &got), 0);
	assert_int_equal(got.low, 1);
	m.low = 2;
	assert_int_equal(msg_get_queue_space(&imsg, &got), -1);
	m.low = 0;
	imsg.len = sizeof(m) - 1;
	assert_int_equal(msg_get_queue_space(&imsg, &got), -1);
}

static void
test_type_names(void **state)
{
	uint32_t	 t;

	/* every type has its name, for the logs */
	for (t = 0; t < IMSG_TYPE_MAX; t++) {
		assert_int_equal(strncmp(msg_type_name(t), "IMSG_", 5), 0);
		assert_string_not_equal(msg_type_name(t), "IMSG_UNKNOWN");
	}
	assert_string_equal(msg_type_name(IMSG_QUEUE_MESSAGE_COMMIT_OK),
	    "IMSG_QUEUE_MESSAGE_COMMIT_OK");
	assert_string_equal(msg_type_name(IMSG_TYPE_MAX), "IMSG_UNKNOWN");
	assert_string_equal(msg_type_name(UINT32_MAX), "IMSG_UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_decoder),
		cmocka_unit_test(test_scram_payloads),
		cmocka_unit_test(test_tls_policy),
		cmocka_unit_test(test_conf_global_limits),
		cmocka_unit_test(test_report_failure),
		cmocka_unit_test(test_queue_envelope),
		cmocka_unit_test(test_conf_srs_key),
		cmocka_unit_test(test_variable_lengths),
		cmocka_unit_test(test_ctl_debug),
		cmocka_unit_test(test_bytes_and_empty),
		cmocka_unit_test(test_rule_round_trip),
		cmocka_unit_test(test_conf_mta_addr),
		cmocka_unit_test(test_queue_space),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The authd process: authenticates every message the smtp process
 * receives (auth/inbound.c: SPF, DKIM, ARC, DMARC, iprev) while it
 * streams in, and answers once per message with the Authentication-
 * Results field to put in front of it and a verdict under the listener's
 * policy.  It reads nothing but imsgs and DNS answers: chrooted to
 * /var/empty, unprivileged, its DNS context made before the chroot.
 *
 * Outgoing mail (from a local client) is DKIM-signed here too: the sign
 * rules that match the listener give candidate signatures, which hash the
 * message as it streams; at the end those whose rule matches the From
 * domain are written (RFC 6376 5) in front of it.  The keys come from the
 * parent as bytes: authd never opens a key file.
 *
 * Relayed mail is ARC-sealed (RFC 8617 5.1) when an arc-seal rule matches
 * the listener: a new set with our Authentication-Results and the chain's
 * validation as cv=, in front of everything else.
 *
 * SASL AUTH (RFC 4954) credentials are checked here, not in smtp: the
 * parent sends the password hashes of "listen on ... auth <T>" to authd
 * alone, smtp forwards what the client sent and gets ok, fail or temp
 * back.  crypt(3) runs in a helper process (authd/crypt_helper.c), so
 * that a slow hash never holds up the evaluation of everyone's mail.
 * SCRAM (RFC 5802, 7677) keys (StoredKey, ServerKey) stay here too: smtp
 * runs the exchange and asks for a user's salt and iteration count, then
 * sends the AuthMessage and the proof, which need only HMACs here (no
 * PBKDF2, so inline); an unknown user gets a made-up salt and keys, keyed
 * with a secret made at start, and fails the same way.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <crypt.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "crypto.h"
#include "auth/dkim.h"
#include "auth/dmarc_eval.h"
#include "auth/inbound.h"
#include "authd/crypt_helper.h"
#include "authd/list.h"
#include "authd/stats.h"
#include "auth/ruf.h"
#include "log.h"
#include "posternd/proc.h"
#include "routing.h"
#include "scram.h"
#include "table.h"
#include "util.h"

/*
 * Messages being checked at once: one per smtp session at most (a new
 * transaction replaces its session's old one), so smtp-max-sessions, and
 * never fewer than this.
 */
#define AUTHD_MAX_MESSAGES	4096
#define AUTHD_MAX_SIGNERS	16	/* candidate signatures per message */
/* the header section kept for a failure report (RFC 9991), at most */
#define AUTHD_RUF_HEADER_MAX	(48 * 1024)

struct authd_dkimsig {
	TAILQ_ENTRY(authd_dkimsig) entry;
	struct msg_conf_dkimsig	 c;
	EVP_PKEY		*key;
};

struct authd_sign {
	TAILQ_ENTRY(authd_sign)	 entry;
	struct msg_conf_sign	 c;
};

struct authd_signer {
	struct authd_dkimsig	*sig;
	struct dkim_sign	*s;
};

struct authd_msg {
	TAILQ_ENTRY(authd_msg)	 entry;
	struct authd		*authd;
	uint32_t		 session;	/* smtp's peer id */
	struct inbound		*in;
	int			 ended;
	char			 tag[64];
	char			 folder[64];	/* quarantine folder, or "" */
	struct authd_signer	 signers[AUTHD_MAX_SIGNERS];
	size_t			 nsigners;
	struct arc_seal		*seal;
	int			 relayed;
	char			 account[256];	/* AUTH user, "" = none */
	char			 senders[64];	/* "senders <T>", "" = none */
	char			 sign_from[1025]; /* signed only from this
						   address; "" = any */
	/* for a failure report: the header section and the MAIL FROM */
	int			 keep_header;	/* 1 keeping, 0 done or not */
	struct buf		 header;
	char			 mail_from[1025];
	char			 ip[64];
};

struct authd_policy {
	TAILQ_ENTRY(authd_policy) entry;
	struct msg_conf_policy	 c;
};

/*
 * One "user hash [SCRAM forms]" of a listener's credentials table; c.hash
 * is cut to the crypt(3) hash, the SCRAM forms are parsed into scram[]
 * (index: authd_scram_index()).
 */
struct authd_cred {
	TAILQ_ENTRY(authd_cred)	 entry;
	struct msg_conf_credential c;
	struct scram_stored	 scram[2];
	int			 has_scram[2];
};

/* A SASL check at the crypt helper, and what its answer needs. */
struct authd_sasl {
	TAILQ_ENTRY(authd_sasl)	 entry;
	uint32_t		 id;
	uint32_t		 session;	/* smtp's peer id */
	int			 known;		/* the user is in the table */
	char			 table[64];
	char			 user[AUTH_SASL_USER_MAX + 1];
};

struct authd {
	struct proc		*proc;
	struct dns_ctx		*dns;
	TAILQ_HEAD(, authd_policy) policies;
	TAILQ_HEAD(, authd_dkimsig) dkimsigs;
	TAILQ_HEAD(, authd_sign) signs;
	TAILQ_HEAD(, authd_sign) seals;
	struct routing		 routing;	/* tables of sign rules */
	struct authd_lists	 lists;		/* list copies (list.c) */
	TAILQ_HEAD(, authd_msg)	 msgs;
	size_t			 nmsgs;
	TAILQ_HEAD(, authd_cred) creds;
	struct crypt_helper	*crypt_helper;
	TAILQ_HEAD(, authd_sasl) sasls;		/* checks at the helper */
	uint32_t		 sasl_next_id;
	struct crypt_data	*crypt;		/* big: made once */
	char			 dummy_hash[CRYPT_OUTPUT_SIZE];
	/* keys the made-up SCRAM salt and keys of unknown users */
	uint8_t			 scram_secret[32];
};

/* scram[] of struct authd_cred: SHA-1 at 0, SHA-256 at 1. */
static int
authd_scram_index(enum sasl_mech mech)
{
	return mech == SASL_MECH_SCRAM_SHA_256 ? 1 : 0;
}

/*
 * A table's value: the crypt(3) hash, then any SCRAM forms, blank-
 * separated.  A form that does not parse (or has a second one of the
 * same mechanism) is left out with a warning: that user cannot use the
 * mechanism, PLAIN and LOGIN still work from the hash.
 */
static void
authd_cred_split(struct authd_cred *cr)
{
	struct scram_stored	 st;
	char			*p, *w;
	size_t			 len;
	int			 i;

	p = cr->c.hash + strcspn(cr->c.hash, " \t");
	if (*p == '\0')
		return;
	*p++ = '\0';
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		w = p;
		len = strcspn(p, " \t");
		p += len;
		if (scram_stored_parse(w, len, &st) == -1 ||
		    cr->has_scram[i = authd_scram_index(st.mech)]) {
			log_warnx("authd: table %s: a SCRAM form of %s is "
			    "malformed, repeated or has an iteration count "
			    "out of %d..%d; skipped", cr->c.table, cr->c.user,
			    SCRAM_MIN_ITER, SCRAM_MAX_ITER);
			explicit_bzero(&st, sizeof(st));
			continue;
		}
		cr->scram[i] = st;
		cr->has_scram[i] = 1;
		explicit_bzero(&st, sizeof(st));
	}
	explicit_bzero(cr->c.hash + strlen(cr->c.hash),
	    sizeof(cr->c.hash) - strlen(cr->c.hash));
}

static struct authd *
authd_state(struct proc *p)
{
	struct authd	*a;

	if (p->state == NULL) {
		a = xcalloc(1, sizeof(*a));
		a->proc = p;
		TAILQ_INIT(&a->policies);
		TAILQ_INIT(&a->dkimsigs);
		TAILQ_INIT(&a->signs);
		TAILQ_INIT(&a->seals);
		TAILQ_INIT(&a->msgs);
		TAILQ_INIT(&a->creds);
		TAILQ_INIT(&a->sasls);
		routing_init(&a->routing, NULL);
		p->state = a;
	}
	return p->state;
}

void
authd_conf(struct proc *p, struct imsg *imsg)
{
	struct authd		*a = authd_state(p);
	struct authd_policy	*pol;
	struct authd_dkimsig	*d;
	struct authd_sign	*sr;
	struct authd_cred	*cr;
	const uint8_t		*key;
	char			 err[256];

	if (routing_conf_imsg(&a->routing, imsg))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CONF_CREDENTIAL_ADD:
		cr = xcalloc(1, sizeof(*cr));
		if (msg_get_conf_credential(imsg, &cr->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		explicit_bzero(imsg->data, imsg->len);
		authd_cred_split(cr);
		TAILQ_INSERT_TAIL(&a->creds, cr, entry);
		return;
	case IMSG_CONF_POLICY_ADD:
		pol = xcalloc(1, sizeof(*pol));
		if (msg_get_conf_policy(imsg, &pol->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		TAILQ_INSERT_TAIL(&a->policies, pol, entry);
		return;
	case IMSG_CONF_DKIMSIG_ADD:
		d = xcalloc(1, sizeof(*d));
		if (msg_get_conf_dkimsig(imsg, &d->c, &key) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		if ((d->key = crypto_privkey_mem(key, d->c.keylen, err,
		    sizeof(err))) == NULL)
			fatalx("dkim-signature %s: %s", d->c.name, err);
		explicit_bzero(imsg->data, imsg->len);
		TAILQ_INSERT_TAIL(&a->dkimsigs, d, entry);
		return;
	case IMSG_CONF_SIGN_ADD:
	case IMSG_CONF_ARCSEAL_ADD:
		sr = xcalloc(1, sizeof(*sr));
		if (msg_get_conf_sign(imsg, &sr->c) == -1)
			proc_bad_message(p, PROC_PARENT, imsg);
		if (imsg->hdr.type == IMSG_CONF_ARCSEAL_ADD)
			TAILQ_INSERT_TAIL(&a->seals, sr, entry);
		else
			TAILQ_INSERT_TAIL(&a->signs, sr, entry);
		return;
	}
	proc_unexpected(p, PROC_PARENT, imsg);
}

static struct authd_dkimsig *
authd_dkimsig_find(struct authd *a, const char *name)
{
	struct authd_dkimsig	*d;

	TAILQ_FOREACH(d, &a->dkimsigs, entry)
		if (strncmp(d->c.name, name, sizeof(d->c.name)) == 0)
			return d;
	return NULL;
}

/*
 * A local client's message: every signature of a sign rule whose tag
 * matches the listener starts hashing now; the From domain decides at
 * the end which are written.
 */
static void
authd_sign_begin(struct authd *a, struct authd_msg *m)
{
	struct authd_sign	*sr;
	struct authd_dkimsig	*d;
	struct dkim_signer	 sg;
	char			 err[256];
	size_t			 i, k;

	TAILQ_FOREACH(sr, &a->signs, entry) {
		if (sr->c.tag[0] != '\0' && strcmp(sr->c.tag, m->tag) != 0)
			continue;
		for (i = 0; i < sr->c.nsignatures; i++) {
			if ((d = authd_dkimsig_find(a, sr->c.signatures[i])) ==
			    NULL || m->nsigners >= AUTHD_MAX_SIGNERS)
				continue;
			for (k = 0; k < m->nsigners; k++)
				if (m->signers[k].sig == d)
					break;
			if (k < m->nsigners)
				continue;
			memset(&sg, 0, sizeof(sg));
			sg.key = d->key;
			sg.alg = d->c.algorithm == DKIM_ED25519_SHA256 ?
			    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
			sg.domain = d->c.domain;
			sg.selector = d->c.selector;
			sg.hcanon = d->c.canon_header;
			sg.bcanon = d->c.canon_body;
			sg.headers = d->c.headers[0] != '\0' ? d->c.headers :
			    NULL;
			sg.no_oversign = !d->c.oversign;
			sg.expire = d->c.expire;
			m->signers[m->nsigners].s = dkim_sign_new();
			if (dkim_sign_add(m->signers[m->nsigners].s, &sg, err,
			    sizeof(err)) == -1) {
				log_warnx("authd: dkim-signature %s: %s",
				    d->c.name, err);
				dkim_sign_free(m->signers[m->nsigners].s);
				continue;
			}
			m->signers[m->nsigners++].sig = d;
		}
	}
}

/* Does a rule that names this signature match the From domain? */
static int
authd_sign_wanted(struct authd *a, struct authd_msg *m,
    const struct authd_dkimsig *d, const char *from_domain)
{
	struct authd_sign	*sr;
	struct table		*t;
	char			 at[300];
	size_t			 i;

	TAILQ_FOREACH(sr, &a->signs, entry) {
		if (sr->c.tag[0] != '\0' && strcmp(sr->c.tag, m->tag) != 0)
			continue;
		for (i = 0; i < sr->c.nsignatures; i++)
			if (strcmp(sr->c.signatures[i], d->c.name) == 0)
				break;
		if (i == sr->c.nsignatures)
			continue;
		if (sr->c.domain[0] != '\0' &&
		    strcasecmp(sr->c.domain, from_domain) != 0)
			continue;
		if (sr->c.from_table[0] != '\0') {
			t = config_find_table(a->routing.conf,
			    sr->c.from_table);
			snprintf(at, sizeof(at), "@%s", from_domain);
			if (t == NULL || (!table_has(t, from_domain) &&
			    !table_has(t, at)))
				continue;
		}
		return 1;
	}
	return 0;
}

/*
 * A local user's submission is signed only when every From address is
 * the user's own (msg_auth_begin.sign_from): our signature must not
 * vouch for an address the user chose.
 */
static int
authd_sign_from_ok(struct authd_msg *m)
{
	char	 (*mb)[DMARC_MAILBOX_MAX], err[256];
	int	 n, i, ok = 1;

	if (m->sign_from[0] == '\0')
		return 1;
	mb = xreallocarray(NULL, DMARC_MAX_FROM_ADDRS, sizeof(*mb));
	if ((n = inbound_from_mailboxes(m->in, mb, DMARC_MAX_FROM_ADDRS, err,
	    sizeof(err))) <= 0)
		ok = 0;
	for (i = 0; i < n && ok; i++)
		ok = strcasecmp(mb[i], m->sign_from) == 0;
	if (!ok)
		log_info("authd: session %u: From is not %s, the local "
		    "user's own address: not signed", m->session, m->sign_from);
	free(mb);
	return ok;
}

/* The DKIM-Signature fields to put in front (RFC 6376 5.6). */
static void
authd_sign_end(struct authd *a, struct authd_msg *m, struct buf *out)
{
	char	 dom[256], err[256];
	size_t	 i;

	if (m->nsigners == 0 || !authd_sign_from_ok(m))
		return;
	if (inbound_from_domain(m->in, dom, sizeof(dom)) == -1) {
		log_info("authd: session %u: no single From domain: not "
		    "signed", m->session);
		return;
	}
	for (i = 0; i < m->nsigners; i++) {
		if (!authd_sign_wanted(a, m, m->signers[i].sig, dom))
			continue;
		if (dkim_sign_end(m->signers[i].s, out, err, sizeof(err)) ==
		    -1)
			log_warnx("authd: session %u: dkim-signature %s: %s",
			    m->session, m->signers[i].sig->c.name, err);
		else
			log_info("authd: session %u: signed for %s with %s "
			    "(s=%s)", m->session, dom,
			    m->signers[i].sig->c.name,
			    m->signers[i].sig->c.selector);
	}
}

void
authd_preinit(struct proc *p)
{
	authd_state(p)->dns = proc_dns_ctx(p);
}

static struct authd_msg *
authd_msg_find(struct authd *a, uint32_t session)
{
	struct authd_msg	*m;

	TAILQ_FOREACH(m, &a->msgs, entry)
		if (m->session == session)
			return m;
	return NULL;
}

static void
authd_msg_free_cb(int fd, short ev, void *arg)
{
	struct authd_msg	*m = arg;
	size_t			 i;

	inbound_free(m->in);
	for (i = 0; i < m->nsigners; i++)
		dkim_sign_free(m->signers[i].s);
	if (m->seal != NULL)
		arc_seal_free(m->seal);
	buf_free(&m->header);
	free(m);
}

/*
 * Remove a message.  Its inbound state may be on the stack (we are in its
 * callback), so it is freed from the event loop, not here.
 */
static void
authd_msg_drop(struct authd *a, struct authd_msg *m)
{
	struct timeval	 tv = { 0, 0 };

	TAILQ_REMOVE(&a->msgs, m, entry);
	a->nmsgs--;
	event_once(-1, EV_TIMEOUT, authd_msg_free_cb, m, &tv);
}

/*
 * The first arc-seal rule for the listener starts a sealer; the ARC set
 * is written at the end if the message is relayed.  Without a tag, a rule
 * seals mail from other hosts only: a local client's mail is not
 * forwarded mail.
 */
static void
authd_seal_begin(struct authd *a, struct authd_msg *m, int local)
{
	struct authd_sign	*sr;
	struct authd_dkimsig	*d;
	struct arc_sealer	 cfg;
	char			 err[256];

	TAILQ_FOREACH(sr, &a->seals, entry) {
		if (sr->c.tag[0] != '\0' ? strcmp(sr->c.tag, m->tag) != 0 :
		    local)
			continue;
		if ((d = authd_dkimsig_find(a, sr->c.signatures[0])) == NULL)
			continue;
		memset(&cfg, 0, sizeof(cfg));
		cfg.key = d->key;
		cfg.alg = d->c.algorithm == DKIM_ED25519_SHA256 ?
		    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
		cfg.domain = d->c.domain;
		cfg.selector = d->c.selector;
		cfg.authres = a->proc->global.hostname;	/* set at the end */
		cfg.headers = d->c.headers[0] != '\0' ? d->c.headers : NULL;
		if ((m->seal = arc_seal_new(&cfg, err, sizeof(err))) == NULL)
			log_warnx("authd: arc-seal with %s: %s", d->c.name,
			    err);
		return;
	}
}

/* Our A-R value on one line, for the ARC-Authentication-Results field. */
static char *
authres_unfold(const struct buf *hdr)
{
	const char	*p = (const char *)hdr->data, *end = p + hdr->len;
	char		*out, *o;

	if (hdr->len < 24 || strncasecmp(p, "Authentication-Results:", 23))
		return NULL;
	p += 23;
	out = o = xcalloc(1, hdr->len + 1);
	for (; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if ((*p == ' ' || *p == '\t') && (o == out || o[-1] == ' '))
			continue;
		*o++ = *p == '\t' ? ' ' : *p;
	}
	while (o > out && o[-1] == ' ')
		*--o = '\0';
	return out;
}

static void
authd_seal_end(struct authd_msg *m, const struct inbound_result *r,
    struct buf *out)
{
	char	 err[256], *ar;
	int	 cv, rv;

	if (m->seal == NULL || !m->relayed)
		return;
	if ((cv = inbound_arc_result(m->in)) == -1 || cv == ARC_TEMPERROR) {
		log_info("authd: session %u: not sealed: the ARC chain could "
		    "not be validated", m->session);
		return;
	}
	if ((ar = authres_unfold(&r->header)) == NULL ||
	    arc_seal_set_authres(m->seal, ar) == -1) {
		log_warnx("authd: session %u: not sealed: our "
		    "Authentication-Results do not fit an ARC set", m->session);
		free(ar);
		return;
	}
	free(ar);
	rv = arc_seal_end(m->seal, cv, out, err, sizeof(err));
	if (rv == 0)
		log_info("authd: session %u: ARC-sealed (cv=%s)", m->session,
		    arc_result_name(cv));
	else
		log_info("authd: session %u: not sealed: %s", m->session, err);
}

/*
 * "senders <T>": is every author the message names (RFC 5322 3.6.2, a
 * mailbox-list) an address of the account?  We sign what it says, so a
 * From we cannot read, or one that names anyone else, is refused.
 */
static int
authd_from_owned(struct authd *a, struct authd_msg *m)
{
	char		 (*mb)[DMARC_MAILBOX_MAX], err[256];
	const struct table *t;
	int		 n, i, ok = 0;

	if (m->senders[0] == '\0')
		return 1;
	if ((t = config_find_table(a->routing.conf, m->senders)) == NULL) {
		log_warnx("authd: session %u: no senders table \"%s\"",
		    m->session, m->senders);
		return 0;
	}
	mb = xreallocarray(NULL, DMARC_MAX_FROM_ADDRS, sizeof(*mb));
	if ((n = inbound_from_mailboxes(m->in, mb, DMARC_MAX_FROM_ADDRS, err,
	    sizeof(err))) == -1) {
		log_info("authd: session %u: account %s: From refused: %s",
		    m->session, m->account, err);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!table_sender_owned(t, mb[i], m->account)) {
			log_info("authd: session %u: account %s: From <%s> "
			    "not owned by the account", m->session, m->account,
			    mb[i]);
			goto out;
		}
	ok = 1;
 out:
	free(mb);
	return ok;
}

/* A policy's mode from the wire (lib/config.h), as auth/ names it. */
static enum inbound_mode
authd_inbound_mode(int32_t mode)
{
	switch (mode) {
	case POLICY_RELAXED:
		return INBOUND_RELAXED;
	case POLICY_STRICT:
		return INBOUND_STRICT;
	case POLICY_DISABLE:
		return INBOUND_DISABLE;
	}
	fatalx("authd: unknown policy mode %d", (int)mode);
}

/* auth/ knows nothing of the wire: its verdict, as smtp reads it. */
static int32_t
authd_wire_verdict(enum inbound_verdict v)
{
	switch (v) {
	case INBOUND_ACCEPT:
		return AUTH_VERDICT_ACCEPT;
	case INBOUND_QUARANTINE:
		return AUTH_VERDICT_QUARANTINE;
	case INBOUND_REJECT:
		return AUTH_VERDICT_REJECT;
	case INBOUND_TEMPFAIL:
		return AUTH_VERDICT_TEMPFAIL;
	}
	fatalx("authd: unknown verdict %d", (int)v);
}

/*
 * The header section of a message DMARC checks, kept while it streams in
 * (up to AUTHD_RUF_HEADER_MAX: a longer one is cut at a line's end) in
 * case its DMARC record asks for a failure report.
 */
static void
authd_keep_header(struct authd_msg *m, const uint8_t *data, size_t len)
{
	size_t	 old = m->header.len, room, i;
	uint8_t	*h;

	room = m->header.max - m->header.len;
	if (len > room)
		len = room;
	if (len > 0 && buf_add(&m->header, data, len) == -1)
		len = 0;
	h = m->header.data;
	/* a message that starts with its empty line has no header fields */
	if (m->header.len >= 2 && h[0] == '\r' && h[1] == '\n') {
		m->header.len = 0;
		m->keep_header = 0;
		return;
	}
	for (i = old > 3 ? old - 3 : 0; i + 4 <= m->header.len; i++)
		if (memcmp(h + i, "\r\n\r\n", 4) == 0) {
			m->header.len = i + 2;
			m->keep_header = 0;
			return;
		}
	if (m->header.len == m->header.max)
		m->keep_header = 0;	/* cut when it is sent */
}

/*
 * A failure report's material to reportd: the evaluation, the MAIL FROM
 * and the header section, which reportd checks against `reports failure`
 * and its rate limits before it reports anything.
 */
static void
authd_failure_send(struct authd *a, struct authd_msg *m,
    struct msg_report_failure *f, const struct dmarc_eval_record *ev)
{
	struct buf			 eval, out;
	size_t				 hlen;

	if (m->header.len == 0)
		return;
	buf_init(&eval, IMSG_MAX_PAYLOAD);
	buf_init(&out, IMSG_MAX_PAYLOAD);
	if (dmarc_eval_encode(ev, &eval) == -1 ||
	    eval.len + sizeof(*f) >= IMSG_MAX_PAYLOAD)
		goto done;
	/* what does not fit the message is cut at the end of a line */
	hlen = m->header.len;
	if (hlen > IMSG_MAX_PAYLOAD - sizeof(*f) - eval.len)
		hlen = IMSG_MAX_PAYLOAD - sizeof(*f) - eval.len;
	while (hlen >= 2 && (m->header.data[hlen - 2] != '\r' ||
	    m->header.data[hlen - 1] != '\n'))
		hlen--;
	if (hlen < 2)
		goto done;
	strlcpy(f->mail_from, m->mail_from, sizeof(f->mail_from));
	f->eval_len = eval.len;
	f->header_len = hlen;
	if (buf_add(&out, f, sizeof(*f)) == -1 ||
	    buf_add(&out, eval.data, eval.len) == -1 ||
	    buf_add(&out, m->header.data, hlen) == -1)
		goto done;
	log_debug("authd: session %u: a failure report (%s)", m->session,
	    f->kind == MSG_FAILURE_DKIM ? "dkim" : f->kind == MSG_FAILURE_SPF ?
	    "spf" : "dmarc");
	proc_compose(a->proc, PROC_REPORTD, IMSG_REPORT_FAILURE_ADD, 0, -1,
	    out.data, out.len);
 done:
	buf_free(&eval);
	buf_free(&out);
}

/*
 * A DKIM or SPF failure report: the evaluation gives the source and the
 * time, or, when DMARC did not run, a minimal one of ours does.
 */
static void
authd_failure_send_min(struct authd *a, struct authd_msg *m,
    struct msg_report_failure *f, const struct inbound_result *r,
    const char *domain)
{
	struct dmarc_eval_record	*ev;

	ev = xcalloc(1, sizeof(*ev));
	if (r->have_dmarc)
		*ev = r->dmarc_eval;
	else {
		ev->when = time(NULL);
		strlcpy(ev->source_ip, m->ip, sizeof(ev->source_ip));
		strlcpy(ev->header_from, domain, sizeof(ev->header_from));
	}
	if (f->kind == MSG_FAILURE_SPF) {
		/* the result RFC 6652 3's rr= is matched against */
		ev->have_spf = 1;
		ev->spf_result = r->spf_report_result;
		strlcpy(ev->spf_domain, domain, sizeof(ev->spf_domain));
	}
	authd_failure_send(a, m, f, ev);
	free(ev);
}

/*
 * RFC 9991 2: the message failed in a way its DMARC record asks a failure
 * report for (auth/ruf.h).  RFC 6651 3.1: a signature that failed asked
 * for reports with r=y.  RFC 6652: SPF failed, and the domain's record
 * may ask for reports (reportd reads it).  reportd finds where they go.
 */
static void
authd_failure_report(struct authd *a, struct authd_msg *m,
    const struct inbound_result *r)
{
	struct msg_report_failure	 f;

	if (r->have_dmarc && r->dmarc_nruf > 0 &&
	    dmarc_ruf_wanted(&r->dmarc_eval)) {
		memset(&f, 0, sizeof(f));
		f.kind = MSG_FAILURE_DMARC;
		authd_failure_send(a, m, &f, &r->dmarc_eval);
	}
	/* RFC 6652: reportd reads the SPF record's ra=, rp=, rr= */
	if (r->spf_report_domain[0] != '\0') {
		memset(&f, 0, sizeof(f));
		f.kind = MSG_FAILURE_SPF;
		strlcpy(f.spf_domain, r->spf_report_domain,
		    sizeof(f.spf_domain));
		authd_failure_send_min(a, m, &f, r, r->spf_report_domain);
	}
	if (!r->dkim_report)
		return;
	memset(&f, 0, sizeof(f));
	f.kind = MSG_FAILURE_DKIM;
	strlcpy(f.dkim_domain, r->dkim_report_d, sizeof(f.dkim_domain));
	strlcpy(f.dkim_selector, r->dkim_report_s, sizeof(f.dkim_selector));
	strlcpy(f.dkim_identity, r->dkim_report_i, sizeof(f.dkim_identity));
	f.dkim_bodyhash = r->dkim_report_bodyhash;
	authd_failure_send_min(a, m, &f, r, r->dkim_report_d);
}

static void
authd_done(void *arg, const struct inbound_result *r)
{
	struct authd_msg	*m = arg;
	struct authd		*a = m->authd;
	struct msg_auth_result	 res;
	struct inbound_result	 refused;
	struct iovec		 iov[2];
	struct buf		 hdr, eval;
	int			 not_owned = 0;

	if (!authd_from_owned(a, m)) {
		not_owned = 1;
		/* Nothing of ours goes with it: no signature, no A-R. */
		memset(&refused, 0, sizeof(refused));
		refused.verdict = INBOUND_REJECT;
		refused.code = 550;
		strlcpy(refused.status, "5.7.1", sizeof(refused.status));
		strlcpy(refused.text, "From header address not owned by this "
		    "account", sizeof(refused.text));
		r = &refused;
	}
	if (r->dns_cut > 0)
		log_info("authd: session %u: DNS lookups stopped after %llds "
		    "(auth-dns-timeout): %zu unanswered, their checks are "
		    "temperror", m->session,
		    (long long)a->proc->global.auth_dns_timeout, r->dns_cut);
	authd_stats_message(r);
	buf_init(&hdr, IMSG_MAX_PAYLOAD - sizeof(res));
	if (r->verdict != INBOUND_REJECT && r->verdict != INBOUND_TEMPFAIL) {
		authd_seal_end(m, r, &hdr);
		authd_sign_end(a, m, &hdr);
	}
	if (buf_add(&hdr, r->header.data, r->header.len) == -1)
		log_warnx("authd: session %u: header fields too long",
		    m->session);
	memset(&res, 0, sizeof(res));
	res.verdict = authd_wire_verdict(r->verdict);
	res.code = r->code;
	res.sender_not_owned = not_owned;
	strlcpy(res.status, r->status, sizeof(res.status));
	strlcpy(res.text, r->text, sizeof(res.text));
	if (r->verdict == INBOUND_QUARANTINE)
		strlcpy(res.folder, m->folder, sizeof(res.folder));
	res.header_len = hdr.len;
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	iov[1].iov_base = hdr.data;
	iov[1].iov_len = hdr.len;
	log_debug("authd: session %u: %s%s%s", m->session,
	    inbound_verdict_name(r->verdict), r->code ? " " : "", r->text);
	if (imsg_composev(&a->proc->peers[PROC_SMTP]->ibuf,
	    IMSG_AUTH_MESSAGE_RESULT, m->session, 0, -1, iov, 2) == -1)
		fatal("authd: composing %s (%zu bytes)",
		    msg_type_name(IMSG_AUTH_MESSAGE_RESULT),
		    sizeof(res) + hdr.len);
	imsgev_update(a->proc->peers[PROC_SMTP]);
	buf_free(&hdr);
	if (r->have_dmarc) {
		/* For the aggregate reports: reportd stores it. */
		buf_init(&eval, IMSG_MAX_PAYLOAD);
		if (dmarc_eval_encode(&r->dmarc_eval, &eval) == 0)
			proc_compose(a->proc, PROC_REPORTD,
			    IMSG_REPORT_EVALUATION_ADD, 0, -1, eval.data,
			    eval.len);
		else
			log_warnx("authd: session %u: DMARC evaluation too "
			    "large to report", m->session);
		buf_free(&eval);
	}
	authd_failure_report(a, m, r);
	authd_msg_drop(a, m);
}

static void
authd_mail_reply(void *arg, int refuse, int code, const char *status,
    const char *text)
{
	struct authd_msg	*m = arg;
	struct msg_auth_mail	 r;

	memset(&r, 0, sizeof(r));
	r.refuse = refuse;
	r.code = code;
	strlcpy(r.status, status, sizeof(r.status));
	strlcpy(r.text, text, sizeof(r.text));
	proc_compose(m->authd->proc, PROC_SMTP, IMSG_AUTH_MAIL_RESULT,
	    m->session, -1, &r, sizeof(r));
	if (refuse)
		authd_msg_drop(m->authd, m);
}

static void
authd_begin(struct authd *a, uint32_t session, struct imsg *imsg)
{
	struct msg_auth_begin	 b;
	struct inbound_params	 ip;
	struct inbound_policy	 ipol;
	struct authd_policy	*pol = NULL;
	struct authd_msg	*m;

	if (msg_get_auth_begin(imsg, &b) == -1)
		proc_bad_message(a->proc, PROC_SMTP, imsg);
	if ((m = authd_msg_find(a, session)) != NULL)
		authd_msg_drop(a, m);	/* a new transaction replaces it */
	if (a->nmsgs >= AUTHD_MAX_MESSAGES &&
	    a->nmsgs >= a->proc->global.smtp_max_sessions)
		proc_unexpected(a->proc, PROC_SMTP, imsg);
	memset(&ipol, 0, sizeof(ipol));
	if (b.policy[0] != '\0') {
		TAILQ_FOREACH(pol, &a->policies, entry)
			if (strcmp(pol->c.name, b.policy) == 0)
				break;
		if (pol == NULL)
			log_warnx("authd: no policy \"%s\"; every check "
			    "relaxed", b.policy);
	}
	if (b.authenticated) {
		/*
		 * Our own user's mail (SASL AUTH): nothing to judge, and the
		 * sign rules apply as to a local client.
		 */
		b.local = 1;
		ipol.spf = ipol.dkim = ipol.arc = ipol.dmarc = INBOUND_DISABLE;
		pol = NULL;
	} else if (pol != NULL) {
		ipol.spf = authd_inbound_mode(pol->c.spf);
		ipol.dkim = authd_inbound_mode(pol->c.dkim);
		ipol.arc = authd_inbound_mode(pol->c.arc);
		ipol.dmarc = authd_inbound_mode(pol->c.dmarc);
		ipol.spf_reject_fail = pol->c.spf_reject_fail;
		ipol.dkim_allow_sha1 = pol->c.dkim_allow_sha1;
		ipol.dkim_fail_partial_body = pol->c.dkim_fail_partial_body;
		ipol.dkim_max_signatures = pol->c.dkim_max_signatures;
	}
	memset(&ip, 0, sizeof(ip));
	ip.authserv_id = a->proc->global.hostname;
	ip.ip = b.ip;
	ip.helo = b.helo;
	ip.mail_from = b.mail_from;
	ip.policy = &ipol;
	ip.dns_budget_ms = (int)a->proc->global.auth_dns_timeout * 1000;
	m = xcalloc(1, sizeof(*m));
	m->authd = a;
	m->session = session;
	m->in = inbound_new(a->dns, &ip);
	strlcpy(m->tag, b.tag, sizeof(m->tag));
	buf_init(&m->header, AUTHD_RUF_HEADER_MAX);
	if (ipol.dmarc != INBOUND_DISABLE || ipol.dkim != INBOUND_DISABLE ||
	    ipol.spf != INBOUND_DISABLE) {
		m->keep_header = 1;
		strlcpy(m->mail_from, b.mail_from, sizeof(m->mail_from));
		strlcpy(m->ip, b.ip, sizeof(m->ip));
	}
	/* Only an account has addresses of its own to keep to. */
	if (b.authenticated && b.account[0] != '\0') {
		strlcpy(m->account, b.account, sizeof(m->account));
		strlcpy(m->senders, b.senders, sizeof(m->senders));
	}
	/* a local user's submission: signed only from its own address */
	if (b.authenticated && b.sign_from[0] != '\0')
		strlcpy(m->sign_from, b.sign_from, sizeof(m->sign_from));
	if (pol != NULL && pol->c.quarantine == QUARANTINE_FOLDER)
		strlcpy(m->folder, pol->c.quarantine_folder,
		    sizeof(m->folder));
	if (b.local)
		authd_sign_begin(a, m);
	authd_seal_begin(a, m, b.local);
	TAILQ_INSERT_TAIL(&a->msgs, m, entry);
	a->nmsgs++;
	/* the MAIL reply waits for SPF only when its result may refuse */
	if (ipol.spf_reject_fail)
		inbound_on_spf(m->in, authd_mail_reply, m);
	else
		authd_mail_reply(m, 0, 0, "", "");
}

/*
 * A hash to check unknown users against when their table has no hash at
 * all, so that they still cost a crypt(3) call.  It is a yescrypt hash
 * (the default of crypt_gensalt) of a random password.
 */
static void
authd_dummy_hash(struct authd *a)
{
	char	 setting[CRYPT_GENSALT_OUTPUT_SIZE], pw[33];
	uint8_t	 rnd[16];
	size_t	 i;

	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		fatal("crypt_gensalt_rn");
	memset(a->crypt, 0, sizeof(*a->crypt));
	if (crypt_rn(pw, setting, a->crypt, sizeof(*a->crypt)) == NULL ||
	    a->crypt->output[0] == '*')
		fatalx("crypt_rn: cannot make a yescrypt hash");
	strlcpy(a->dummy_hash, a->crypt->output, sizeof(a->dummy_hash));
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(a->crypt, sizeof(*a->crypt));
}

/* The crypt helper's answer: ok, fail or temp back to smtp. */
static void
authd_sasl_done(void *arg, uint32_t id, enum crypt_helper_result res)
{
	struct authd			*a = arg;
	struct authd_sasl		*q;
	struct msg_auth_sasl_result	 r;

	TAILQ_FOREACH(q, &a->sasls, entry)
		if (q->id == id)
			break;
	if (q == NULL)
		fatalx("authd: the crypt helper answered an unknown check");
	TAILQ_REMOVE(&a->sasls, q, entry);
	memset(&r, 0, sizeof(r));
	if (res == CRYPT_BAD_HASH) {
		/* a hash crypt cannot read: the table is wrong, not the user */
		if (q->known)
			log_warnx("authd: table %s: the hash of %s is not one "
			    "crypt(3) knows", q->table, q->user);
		r.result = q->known ? AUTH_SASL_TEMPFAIL : AUTH_SASL_FAIL;
	} else
		r.result = q->known && res == CRYPT_MATCH ? AUTH_SASL_OK :
		    AUTH_SASL_FAIL;
	log_debug("authd: session %u: AUTH for %s: %s", q->session, q->user,
	    r.result == AUTH_SASL_OK ? "ok" : "refused");
	authd_stats_sasl(r.result);
	proc_compose(a->proc, PROC_SMTP, IMSG_AUTH_SASL_RESULT, q->session,
	    -1, &r, sizeof(r));
	free(q);
}

/*
 * SASL AUTH: does the password hash to the user's entry?  Every path
 * runs crypt once, in the helper.  The password is wiped from the
 * message once it has gone there.
 */
static void
authd_sasl_check(struct authd *a, struct imsg *imsg)
{
	struct msg_auth_sasl		 m;
	struct msg_auth_sasl_result	 r;
	struct authd_cred		*cr, *first = NULL;
	struct authd_sasl		*q;
	const char			*hash;

	if (msg_get_auth_sasl(imsg, &m) == -1) {
		explicit_bzero(imsg->data, imsg->len);
		proc_bad_message(a->proc, PROC_SMTP, imsg);
	}
	explicit_bzero(imsg->data, imsg->len);
	TAILQ_FOREACH(cr, &a->creds, entry) {
		if (strcmp(cr->c.table, m.table) != 0)
			continue;
		if (first == NULL)
			first = cr;
		if (strcmp(cr->c.user, m.user) == 0)
			break;
	}
	/*
	 * An unknown user is checked against the table's first hash and
	 * refused whatever the outcome: the same scheme and cost as a known
	 * user's check, so that bcrypt or sha512crypt tables do not tell by
	 * time who exists.
	 */
	if (cr != NULL)
		hash = cr->c.hash;
	else
		hash = first != NULL ? first->c.hash : a->dummy_hash;
	q = xcalloc(1, sizeof(*q));
	q->id = a->sasl_next_id++;
	q->session = imsg->hdr.peerid;
	q->known = cr != NULL;
	strlcpy(q->table, m.table, sizeof(q->table));
	strlcpy(q->user, m.user, sizeof(q->user));
	if (crypt_helper_check(a->crypt_helper, q->id, m.password,
	    hash) == -1) {
		explicit_bzero(&m.password, sizeof(m.password));
		free(q);
		memset(&r, 0, sizeof(r));
		r.result = AUTH_SASL_TEMPFAIL;
		authd_stats_sasl(r.result);
		proc_compose(a->proc, PROC_SMTP, IMSG_AUTH_SASL_RESULT,
		    imsg->hdr.peerid, -1, &r, sizeof(r));
		return;
	}
	explicit_bzero(&m.password, sizeof(m.password));
	TAILQ_INSERT_TAIL(&a->sasls, q, entry);
}

/*
 * SCRAM (RFC 5802): the user's entry and its keys for mech, or NULL (an
 * unknown user gets authd_scram_typical()'s count and length).
 */
static struct authd_cred *
authd_scram_find(struct authd *a, const char *table, const char *user,
    enum sasl_mech mech)
{
	struct authd_cred	*cr;
	int			 i = authd_scram_index(mech);

	TAILQ_FOREACH(cr, &a->creds, entry) {
		if (strcmp(cr->c.table, table) != 0 || !cr->has_scram[i])
			continue;
		if (strcmp(cr->c.user, user) == 0)
			return cr;
	}
	return NULL;
}

/*
 * The iteration count and salt length most users of the table have for
 * the mechanism, which an unknown user gets too: the first entry's would
 * tell the two apart where users differ.  Counted among at most
 * TYPICAL_MAX distinct values.
 */
#define TYPICAL_MAX	16
static void
authd_scram_typical(struct authd *a, const char *table, enum sasl_mech mech,
    uint32_t *iter, uint32_t *saltlen)
{
	struct authd_cred	*cr;
	unsigned int		 it[TYPICAL_MAX], itn[TYPICAL_MAX];
	size_t			 sl[TYPICAL_MAX], sln[TYPICAL_MAX];
	size_t			 nit = 0, nsl = 0, i, best;
	int			 x = authd_scram_index(mech);
	const struct scram_stored *st;

	TAILQ_FOREACH(cr, &a->creds, entry) {
		if (strcmp(cr->c.table, table) != 0 || !cr->has_scram[x])
			continue;
		st = &cr->scram[x];
		for (i = 0; i < nit && it[i] != st->iter; i++)
			;
		if (i == nit && nit < TYPICAL_MAX) {
			it[nit] = st->iter;
			itn[nit++] = 0;
		}
		if (i < nit)
			itn[i]++;
		for (i = 0; i < nsl && sl[i] != st->saltlen; i++)
			;
		if (i == nsl && nsl < TYPICAL_MAX) {
			sl[nsl] = st->saltlen;
			sln[nsl++] = 0;
		}
		if (i < nsl)
			sln[i]++;
	}
	for (i = best = 0; i < nit; i++)
		if (itn[i] > itn[best])
			best = i;
	*iter = nit > 0 ? it[best] : SCRAM_DEFAULT_ITER;
	for (i = best = 0; i < nsl; i++)
		if (sln[i] > sln[best])
			best = i;
	*saltlen = nsl > 0 && sl[best] <= SCRAM_HASH_MAX ? sl[best] :
	    SCRAM_SALT_LEN;
}

/*
 * The key of the made-up salts: a keyed hash of the credentials
 * themselves, secret as they are and the same across restarts (a key
 * made at each start changed an unknown user's salt at every restart
 * while a real user's stayed: asking twice across one told them apart).
 * No credentials: nothing to hide, a random key.
 */
static void
authd_scram_secret(struct authd *a)
{
	struct authd_cred	*cr;
	struct buf		 b;
	int			 i;

	arc4random_buf(a->scram_secret, sizeof(a->scram_secret));
	if (TAILQ_EMPTY(&a->creds))
		return;
	buf_init(&b, SIZE_MAX);
	TAILQ_FOREACH(cr, &a->creds, entry) {
		buf_add(&b, cr->c.table, strlen(cr->c.table) + 1);
		buf_add(&b, cr->c.user, strlen(cr->c.user) + 1);
		buf_add(&b, cr->c.hash, strlen(cr->c.hash) + 1);
		for (i = 0; i < 2; i++)
			if (cr->has_scram[i])
				buf_add(&b, &cr->scram[i],
				    sizeof(cr->scram[i]));
	}
	if (scram_hmac(SASL_MECH_SCRAM_SHA_256,
	    (const uint8_t *)"postern: SCRAM for unknown users", 32, b.data,
	    b.len, a->scram_secret) == -1)
		fatalx("authd: HMAC-SHA-256 failed");
	explicit_bzero(b.data, b.len);
	buf_free(&b);
}

/*
 * What an unknown user (or one without keys for the mechanism) gets: a
 * salt, StoredKey and ServerKey made of a keyed hash of the mechanism,
 * the table and the name, so that asking twice gives the same salt and
 * nothing tells such a user from a known one with a wrong password.
 */
static void
authd_scram_fake(struct authd *a, enum sasl_mech mech, const char *table,
    const char *user, const char *what, uint8_t *out)
{
	struct buf	 b;

	buf_init(&b, 1024);
	buf_printf(&b, "%s%c%d%c%s%c%s", what, 0, (int)mech, 0, table, 0,
	    user);
	if (scram_hmac(SASL_MECH_SCRAM_SHA_256, a->scram_secret,
	    sizeof(a->scram_secret), b.data, b.len, out) == -1)
		fatalx("authd: HMAC-SHA-256 failed");
	buf_free(&b);
}

/* SCRAM, step 1: the salt and iteration count of a user. */
static void
authd_scram_lookup(struct authd *a, struct imsg *imsg)
{
	struct msg_auth_scram_lookup	 m;
	struct msg_auth_scram_salt	 r;
	struct authd_cred		*cr;
	const struct scram_stored	*st;
	uint8_t				 fake[SCRAM_HASH_MAX];

	if (msg_get_auth_scram_lookup(imsg, &m) == -1)
		proc_bad_message(a->proc, PROC_SMTP, imsg);
	memset(&r, 0, sizeof(r));
	r.result = AUTH_SASL_OK;
	cr = authd_scram_find(a, m.table, m.user, m.mech);
	if (cr != NULL) {
		st = &cr->scram[authd_scram_index(m.mech)];
		r.iterations = st->iter;
		r.salt_len = st->saltlen;
		memcpy(r.salt, st->salt, st->saltlen);
	} else {
		authd_scram_fake(a, m.mech, m.table, m.user, "salt", fake);
		authd_scram_typical(a, m.table, m.mech, &r.iterations,
		    &r.salt_len);
		memcpy(r.salt, fake, r.salt_len);
	}
	proc_compose(a->proc, PROC_SMTP, IMSG_AUTH_SCRAM_SALT,
	    imsg->hdr.peerid, -1, &r, sizeof(r));
}

/*
 * SCRAM, step 2: the client's proof against the user's StoredKey; the
 * answer carries the ServerSignature when it holds (RFC 5802 3).  An
 * unknown user costs the same HMACs, with made-up keys, and fails.
 */
static void
authd_scram_verify(struct authd *a, struct imsg *imsg)
{
	struct msg_auth_scram_verify	 m;
	struct msg_auth_scram_result	 r;
	struct authd_cred		*cr;
	const struct scram_stored	*st;
	uint8_t				 fstored[SCRAM_HASH_MAX];
	uint8_t				 fserver[SCRAM_HASH_MAX];
	uint8_t				 sig[SCRAM_HASH_MAX];
	int				 ok;

	if (msg_get_auth_scram_verify(imsg, &m) == -1)
		proc_bad_message(a->proc, PROC_SMTP, imsg);
	memset(&r, 0, sizeof(r));
	cr = authd_scram_find(a, m.table, m.user, m.mech);
	if (cr != NULL) {
		st = &cr->scram[authd_scram_index(m.mech)];
		ok = scram_verify_proof(m.mech, st->stored_key,
		    st->server_key, m.authmsg, m.authmsg_len, m.proof,
		    m.proof_len, sig) == 0;
	} else {
		authd_scram_fake(a, m.mech, m.table, m.user, "stored",
		    fstored);
		authd_scram_fake(a, m.mech, m.table, m.user, "server",
		    fserver);
		(void)scram_verify_proof(m.mech, fstored, fserver, m.authmsg,
		    m.authmsg_len, m.proof, m.proof_len, sig);
		ok = 0;
	}
	r.result = ok ? AUTH_SASL_OK : AUTH_SASL_FAIL;
	if (ok) {
		r.sig_len = scram_hash_len(m.mech);
		memcpy(r.sig, sig, r.sig_len);
	}
	log_debug("authd: session %u: AUTH %s for %s: %s", imsg->hdr.peerid,
	    sasl_mech_name(m.mech), m.user, ok ? "ok" : "refused");
	authd_stats_sasl(r.result);
	proc_compose(a->proc, PROC_SMTP, IMSG_AUTH_SCRAM_RESULT,
	    imsg->hdr.peerid, -1, &r, sizeof(r));
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(&m, sizeof(m));
}

static void
authd_smtp_imsg(struct authd *a, struct imsg *imsg)
{
	struct authd_msg	*m;
	struct msg_auth_end	 e;
	const void		*data;
	uint32_t		 session = imsg->hdr.peerid;
	size_t			 i, len;

	if (imsg->fd != -1)
		proc_unexpected(a->proc, PROC_SMTP, imsg);
	if (imsg->hdr.type == IMSG_AUTH_MESSAGE_BEGIN) {
		authd_begin(a, session, imsg);
		return;
	}
	if (imsg->hdr.type == IMSG_AUTH_SASL_CHECK) {
		authd_sasl_check(a, imsg);
		return;
	}
	if (imsg->hdr.type == IMSG_AUTH_SCRAM_LOOKUP) {
		authd_scram_lookup(a, imsg);
		return;
	}
	if (imsg->hdr.type == IMSG_AUTH_SCRAM_VERIFY) {
		authd_scram_verify(a, imsg);
		return;
	}
	m = authd_msg_find(a, session);
	switch (imsg->hdr.type) {
	case IMSG_AUTH_MESSAGE_DATA:
		if (msg_get_bytes(imsg, &data, &len) == -1)
			break;
		/* no message: refused at MAIL, and smtp knows it */
		if (m != NULL && m->ended)
			break;		/* data after the end: a bug */
		if (m != NULL) {
			inbound_feed(m->in, data, len);
			if (m->keep_header)
				authd_keep_header(m, data, len);
			for (i = 0; i < m->nsigners; i++)
				dkim_sign_feed(m->signers[i].s, data, len);
			if (m->seal != NULL)
				arc_seal_feed(m->seal, data, len);
		}
		return;
	case IMSG_AUTH_MESSAGE_END:
		if (msg_get_auth_end(imsg, &e) == -1)
			break;
		if (m == NULL)
			return;		/* refused at MAIL: smtp knows */
		if (m->ended)
			break;		/* a second end for one message */
		inbound_set_rcpt_domain(m->in, e.rcpt_domain);
		m->relayed = e.relayed;
		m->ended = 1;
		inbound_end(m->in, authd_done, m);
		return;
	case IMSG_AUTH_MESSAGE_ABORT:
		if (msg_get_empty(imsg) == -1)
			break;
		if (m != NULL)
			authd_msg_drop(a, m);
		return;
	}
	proc_bad_message(a->proc, PROC_SMTP, imsg);
}

/*
 * "sign with NAME" and "arc-seal with NAME" of a list: the
 * dkim-signature's key and settings, as a sign rule uses them.
 */
static int
authd_list_signer(void *arg, const char *name, struct dkim_signer *sg)
{
	struct authd		*a = arg;
	struct authd_dkimsig	*d;

	if ((d = authd_dkimsig_find(a, name)) == NULL || d->key == NULL)
		return -1;
	sg->key = d->key;
	sg->alg = d->c.algorithm == DKIM_ED25519_SHA256 ?
	    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	sg->domain = d->c.domain;
	sg->selector = d->c.selector;
	sg->hcanon = d->c.canon_header;
	sg->bcanon = d->c.canon_body;
	sg->headers = d->c.headers[0] != '\0' ? d->c.headers : NULL;
	sg->no_oversign = !d->c.oversign;
	sg->expire = d->c.expire;
	return 0;
}

void
authd_run(struct proc *p)
{
	struct authd	*a = authd_state(p);

	strlcpy(a->routing.conf->hostname, p->global.hostname,
	    sizeof(a->routing.conf->hostname));
	routing_ready(&a->routing);
	a->crypt = xcalloc(1, sizeof(*a->crypt));
	authd_dummy_hash(a);
	authd_scram_secret(a);
	a->crypt_helper = crypt_helper_start(authd_sasl_done, a);
	authd_list_init(&a->lists, p, a->dns, &a->routing, authd_list_signer,
	    a);
	log_debug("authd process started (%s)", dns_ctx_describe(a->dns));
}

void
authd_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	if (proc_common_imsg(p, from, imsg))
		return;
	if (from == PROC_SMTP) {
		authd_smtp_imsg(p->state, imsg);
		return;
	}
	if (from == PROC_QUEUE) {
		authd_list_imsg(&((struct authd *)p->state)->lists, imsg);
		return;
	}
	if (from == PROC_CONTROL && imsg->hdr.type == IMSG_CTL_STATS_GET) {
		if (msg_get_empty(imsg) == -1)
			proc_bad_message(p, from, imsg);
		authd_stats_send(p, imsg->hdr.peerid);
		return;
	}
	proc_unexpected(p, from, imsg);
}

/*
 * smtp proposes, the queue decides (DESIGN.md): each envelope smtp sends
 * is routed again here, with the same tables, actions, rules and users
 * (lib/routing.c, sent by the parent to both), and refused when smtp's
 * routing differs.  A refusal is a protocol violation by a buggy or
 * compromised smtp: the caller stops the daemon.
 *
 * The fields of a proposed envelope fall into four groups:
 *
 * - decided here, and compared with the proposal: whether the rules
 *   accept the recipient at all, the kind (local or remote) and the
 *   destination (the action).  These say where mail goes.
 *
 * - inputs of that decision, taken as smtp saw them, because the queue
 *   never sees the session: the client's address, the listener's tag,
 *   the AUTH user (env.account) and the recipient.  A compromised smtp
 *   can claim another client or user, but then gets exactly what the
 *   rules give such a client, never an action the rules do not name for
 *   the recipient; and the parent delivers a local envelope only as a
 *   user its action may deliver to.  The AUTH user also picks the mta's
 *   "route ... account" transport: the same claim, the same bound.
 *
 * - taken, within bounds, from what the queue cannot see: the maildir
 *   folder comes from authd's verdict (DMARC quarantine) through smtp.  It
 *   must be a folder name (no "/", no leading ".", no ".."), so it picks
 *   a folder inside the maildir the action and the recipient already
 *   decide and never reaches another user or destination.  A remote
 *   envelope has no folder.  The client's own parameters (reverse path,
 *   RET, ENVID, NOTIFY, ORCPT, SMTPUTF8, 8BITMIME, REQUIRETLS) describe
 *   the mail, not where it goes, and are taken as they are.
 *
 * - the store's own, whatever smtp says: ids, state, attempts, times and
 *   the last error (qstore_message_add_envelope()).
 *
 * - an alias's targets (lib/aliases.c): smtp expanded the recipient the
 *   client gave (alias_of) into one envelope per target; the queue routes
 *   alias_of by the rules, expands it again with its own copy of the
 *   table and takes only a target it finds there, with the kind and
 *   action it finds.  The last expansion is kept for the message's next
 *   envelope (10,000 members are 10,000 envelopes).
 *
 * - a ~/.forward's targets (alias_of forwarded): each comes with the
 *   member of the file it was made from and the parent's proof of that
 *   member (lib/dotforward.h), checked here with the parent's key, which
 *   smtp never has (admit_forward()).
 *
 * - an SRS reversal (lib/srs.h): alias_of is an SRS address of ours and
 *   env.rcpt what it reverses to; the queue checks the hash with its own
 *   copy of the keys and routes env.rcpt as a local submission, so that
 *   smtp cannot relay anywhere by claiming a reversal.
 *
 * - a mailing list's address or bounce address (ENV_F_LIST): the queue
 *   finds the list by the recipient itself, checks the posters again
 *   with its own copy of the tables, and stores the envelope for the
 *   list by its name (queue/list.c); no other envelope may carry the
 *   flag.
 *
 * Deliberately not here: "senders <T>" (that an authenticated client
 * sends as an address its account owns) is smtp's check at MAIL and
 * authd's on the From field.  The queue does not get the listeners, and
 * a re-check would not bind a compromised smtp, which can claim no AUTH
 * user at all; it does not say where mail goes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <string.h>

#include "aliases.h"
#include "clock.h"
#include "dotforward.h"
#include "envelope.h"
#include "queue/admit.h"
#include "routing.h"
#include "srs.h"

static const char *
verdict_name(enum rcpt_verdict v)
{
	switch (v) {
	case RCPT_ACCEPT:
		return "accepted";
	case RCPT_RELAY_DENIED:
		return "relaying denied";
	case RCPT_REJECTED:
		return "a reject rule";
	case RCPT_UNKNOWN_USER:
		return "no such user";
	case RCPT_CONFIG_ERROR:
		return "a rule names no known action";
	}
	return "unknown";
}

static const char *
kind_name(int kind)
{
	return kind == ENV_LOCAL ? "local" : kind == ENV_REMOTE ? "remote" :
	    "none";
}

int
queue_folder_ok(const char *folder)
{
	return folder[0] != '.' && strchr(folder, '/') == NULL &&
	    strstr(folder, "..") == NULL && strlen(folder) <= ENV_FOLDER_MAX;
}

/* The last expansion, for the next envelope of the same alias. */
static struct {
	int			 valid;
	char			 alias_of[ENV_ADDR_MAX + 1];
	char			 action[CONF_NAME_MAX];
	unsigned long		 generation;
	enum alias_verdict	 verdict;
	struct alias_expansion	 x;
} last;

/*
 * The envelope as the rules route a local submission to its recipient:
 * the same kind and action, a folder that is a folder name.  what names
 * the claim for the log (".forward of", "SRS").
 */
static int
admit_local_submission(struct routing *rt, const struct msg_queue_envelope *m,
    const char *what, struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	struct sockaddr_un	 local;
	const char		*action = NULL, *at;
	int			 remote = 0;

	memset(&local, 0, sizeof(local));
	local.sun_family = AF_UNIX;
	at = strrchr(e->rcpt, '@');
	if (at == NULL || routing_decide(rt, (struct sockaddr *)&local,
	    e->rcpt, (size_t)(at - e->rcpt), "", &remote, &action) !=
	    RCPT_ACCEPT || e->kind != (remote ? ENV_REMOTE : ENV_LOCAL) ||
	    strcmp(e->dest, action) != 0) {
		snprintf(why, whylen, "<%s> is not where the rules send a "
		    "local submission to it (%s <%s>)", e->rcpt, what,
		    m->alias_of);
		return -1;
	}
	if (!queue_folder_ok(e->folder)) {
		snprintf(why, whylen, "folder \"%s\" is not a folder name",
		    e->folder);
		return -1;
	}
	*out = *e;
	out->flags &= ~ENV_F_REPORT;
	if (e->kind == ENV_REMOTE)
		out->folder[0] = '\0';
	return 0;
}

/*
 * A ~/.forward's target: the queue cannot read the file (the parent has
 * a worker read it for smtp), and does not take smtp's word for what it
 * says.  alias_of must go to an action with forward-file; the member the
 * target came from must carry the parent's proof (lib/dotforward.h) for
 * the user that action delivers alias_of to, made in the last
 * FORWARD_PROOF_SECS; and the target must be what that member makes: an
 * address where the rules send a local submission of it, or a file or
 * command of that user's by that action, if it allows them.  A compromised
 * smtp can at most have the user's own .forward applied.  A proof too old
 * (a very slow session) fails the message for now (1).
 */
static int
admit_forward(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	const struct action	*a;
	enum rcpt_verdict	 v;
	enum forward_kind	 kind;
	const char		*action = NULL, *at, *domain, *err;
	char			 user[64], target[ENV_ADDR_MAX + 1];
	int64_t			 now = walltime();
	int			 remote = 0;

	at = strrchr(m->alias_of, '@');
	v = routing_decide_auth(rt, (const struct sockaddr *)&m->client,
	    e->account[0] != '\0' ? e->account : NULL, m->alias_of,
	    at != NULL ? (size_t)(at - m->alias_of) : strlen(m->alias_of),
	    m->tag, &remote, &action);
	if (v != RCPT_ACCEPT || remote ||
	    (a = config_find_action(rt->conf, action)) == NULL ||
	    !a->forward_file) {
		snprintf(why, whylen, "<%s> has no .forward by the queue's "
		    "rules (%s)", m->alias_of, verdict_name(v));
		return -1;
	}
	if (a->user != NULL) {
		/* "user U" delivers as U: no one's .forward is read */
		snprintf(why, whylen, "<%s> goes to action %s, which delivers "
		    "as one user and reads no .forward", m->alias_of, a->name);
		return -1;
	}
	if (routing_local_user(rt->conf, a->name, m->alias_of, user,
	    sizeof(user), why, whylen) == -1)
		return -1;
	if (!rt->forward_keyed || !forward_proof_ok(rt->forward_key, user,
	    m->fwd_member, m->fwd_when, m->fwd_proof)) {
		snprintf(why, whylen, "<%s> is not the parent's member "
		    "\"%s\" of ~%s/.forward (no proof)", e->rcpt,
		    m->fwd_member, user);
		return -1;
	}
	if (m->fwd_when > now + 60 || now - m->fwd_when > FORWARD_PROOF_SECS) {
		snprintf(why, whylen, "~%s/.forward was read %lld seconds "
		    "ago: too long for its proof", user,
		    (long long)(now - m->fwd_when));
		return 1;
	}
	at = strrchr(m->alias_of, '@');
	domain = at != NULL ? at + 1 : rt->conf->hostname;
	if (forward_member_target(m->fwd_member, user, domain, target,
	    sizeof(target), &kind, &err) == -1 ||
	    strcmp(target, e->rcpt) != 0) {
		snprintf(why, whylen, "<%s> is not what member \"%s\" of "
		    "~%s/.forward makes", e->rcpt, m->fwd_member, user);
		return -1;
	}
	if (kind == FORWARD_ADDRESS)
		return admit_local_submission(rt, m, ".forward of", out, why,
		    whylen);
	if ((kind == FORWARD_FILE ? !a->forward_files : !a->forward_commands) ||
	    e->kind != ENV_LOCAL || strcmp(e->dest, a->name) != 0) {
		snprintf(why, whylen, "<%s> of ~%s/.forward is no %s that "
		    "action %s delivers", e->rcpt, user, kind == FORWARD_FILE ?
		    "file" : "command", a->name);
		return -1;
	}
	/* a quarantined message has one, as an alias's file does (unused) */
	if (!queue_folder_ok(e->folder)) {
		snprintf(why, whylen, "folder \"%s\" is not a folder name",
		    e->folder);
		return -1;
	}
	*out = *e;
	out->flags &= ~ENV_F_REPORT;
	return 0;
}

/*
 * An SRS address reversed by smtp: the same reversal here, and the
 * target where the rules send a local submission of it.  The timestamp
 * is checked against the queue's clock and, failing that, a day before
 * it: smtp checked at RCPT, and a session may reach COMMIT across the
 * day's turn; a refusal here would stop the daemon.
 */
static int
admit_srs(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	enum srs_result		 r;
	char			 addr[ENV_ADDR_MAX + 1];

	r = srs_reverse(&rt->srs, m->alias_of, walltime(), addr,
	    sizeof(addr));
	if (r == SRS_EXPIRED)
		r = srs_reverse(&rt->srs, m->alias_of, walltime() - 86400,
		    addr, sizeof(addr));
	if (r != SRS_OK || strcmp(addr, e->rcpt) != 0) {
		snprintf(why, whylen, "<%s> is not the reversal of SRS <%s> "
		    "(%s)", e->rcpt, m->alias_of, srs_result_name(r));
		return -1;
	}
	return admit_local_submission(rt, m, "SRS", out, why, whylen);
}

static int
admit_alias(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	const struct action	*a;
	enum rcpt_verdict	 v;
	const char		*action = NULL, *at;
	int			 remote = 0, found;

	at = strrchr(m->alias_of, '@');
	v = routing_decide_auth(rt, (const struct sockaddr *)&m->client,
	    e->account[0] != '\0' ? e->account : NULL, m->alias_of,
	    at != NULL ? (size_t)(at - m->alias_of) : strlen(m->alias_of),
	    m->tag, &remote, &action);
	if ((v != RCPT_ACCEPT && v != RCPT_UNKNOWN_USER) || action == NULL ||
	    remote || (a = config_find_action(rt->conf, action)) == NULL ||
	    a->alias_table[0] == '\0') {
		snprintf(why, whylen, "<%s> is no alias by the queue's rules "
		    "(%s)", m->alias_of, verdict_name(v));
		return -1;
	}
	if (!last.valid || last.generation != rt->generation ||
	    strcmp(last.alias_of, m->alias_of) != 0 ||
	    strcmp(last.action, a->name) != 0) {
		aliases_expansion_free(&last.x);
		last.verdict = aliases_expand(rt, a, m->alias_of, &last.x);
		strlcpy(last.alias_of, m->alias_of, sizeof(last.alias_of));
		strlcpy(last.action, a->name, sizeof(last.action));
		last.generation = rt->generation;
		last.valid = 1;
	}
	if (e->kind == ENV_REMOTE)
		found = aliases_expansion_has(&last.x, ALIAS_REMOTE, e->dest,
		    e->rcpt);
	else
		found = aliases_expansion_has(&last.x, ALIAS_LOCAL, e->dest,
		    e->rcpt) || aliases_expansion_has(&last.x, ALIAS_FILE,
		    e->dest, e->rcpt) || aliases_expansion_has(&last.x,
		    ALIAS_COMMAND, e->dest, e->rcpt);
	if (last.verdict != ALIAS_EXPANDED || !found) {
		snprintf(why, whylen, "<%s> is not a %s target of alias <%s> "
		    "by action %s", e->rcpt, kind_name(e->kind), m->alias_of,
		    e->dest);
		return m->alias_gen != (uint32_t)rt->generation ? 1 : -1;
	}
	if (!queue_folder_ok(e->folder)) {
		snprintf(why, whylen, "folder \"%s\" is not a folder name",
		    e->folder);
		return -1;
	}
	*out = *e;
	out->flags &= ~ENV_F_REPORT;
	if (e->kind == ENV_REMOTE)
		out->folder[0] = '\0';
	return 0;
}

static int
admit_list(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope		*e = &m->env;
	const struct mailing_list	*l;
	int				 bounce = 0;

	if (m->alias_of[0] != '\0' || m->srs || m->forwarded ||
	    (l = config_find_list_rcpt(rt->conf, e->rcpt, &bounce)) == NULL) {
		snprintf(why, whylen, "<%s> is no list address", e->rcpt);
		return -1;
	}
	if (e->kind != ENV_LOCAL || strcmp(e->dest, l->name) != 0) {
		snprintf(why, whylen, "list <%s> proposed as kind %s, dest "
		    "\"%s\" (the queue's: local, \"%s\")", e->rcpt,
		    kind_name(e->kind), e->dest, l->name);
		return -1;
	}
	if (!bounce && !routing_list_poster(rt, l, e->sender)) {
		snprintf(why, whylen, "<%s> may not post to list %s",
		    e->sender, l->name);
		return -1;
	}
	*out = *e;
	out->flags &= ~ENV_F_REPORT;
	out->folder[0] = '\0';
	return 0;
}

int
queue_admit_envelope(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	enum rcpt_verdict	 v;
	const char		*action = NULL, *at;
	int			 remote = 0, kind, n, off = 0;

	if (e->flags & ENV_F_LIST)
		return admit_list(rt, m, out, why, whylen);
	if (m->srs)
		return admit_srs(rt, m, out, why, whylen);
	if (m->forwarded)
		return admit_forward(rt, m, out, why, whylen);
	if (m->alias_of[0] != '\0')
		return admit_alias(rt, m, out, why, whylen);
	at = strrchr(e->rcpt, '@');
	v = routing_decide_auth(rt, (const struct sockaddr *)&m->client,
	    e->account[0] != '\0' ? e->account : NULL, e->rcpt,
	    at != NULL ? (size_t)(at - e->rcpt) : strlen(e->rcpt), m->tag,
	    &remote, &action);
	if (v != RCPT_ACCEPT) {
		snprintf(why, whylen, "recipient refused by the queue's "
		    "rules (%s), proposed as kind %s, dest \"%s\"",
		    verdict_name(v), kind_name(e->kind), e->dest);
		return -1;
	}
	kind = remote ? ENV_REMOTE : ENV_LOCAL;
	why[0] = '\0';
	if (e->kind != kind) {
		n = snprintf(why, whylen, "kind %s (the queue's: %s)",
		    kind_name(e->kind), kind_name(kind));
		off = n < 0 || (size_t)n >= whylen ? (int)whylen - 1 : n;
	}
	if (strcmp(e->dest, action) != 0)
		snprintf(why + off, whylen - off, "%sdest \"%s\" (the "
		    "queue's: \"%s\")", off > 0 ? ", " : "", e->dest, action);
	if (why[0] != '\0')
		return -1;
	if (!queue_folder_ok(e->folder)) {
		snprintf(why, whylen, "folder \"%s\" is not a folder name",
		    e->folder);
		return -1;
	}
	*out = *e;
	/* Only the queue marks reportd's mail (queue_report_imsg()). */
	out->flags &= ~ENV_F_REPORT;
	if (kind == ENV_REMOTE)
		out->folder[0] = '\0';
	return 0;
}

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
 * Deliberately not here: "senders <T>" (that an authenticated client
 * sends as an address its account owns) is smtp's check at MAIL and
 * authd's on the From field.  The queue does not get the listeners, and
 * a re-check would not bind a compromised smtp, which can claim no AUTH
 * user at all; it does not say where mail goes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "queue/admit.h"
#include "routing.h"

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

int
queue_admit_envelope(struct routing *rt, const struct msg_queue_envelope *m,
    struct envelope *out, char *why, size_t whylen)
{
	const struct envelope	*e = &m->env;
	enum rcpt_verdict	 v;
	const char		*action = NULL, *at;
	int			 remote = 0, kind, n, off = 0;

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

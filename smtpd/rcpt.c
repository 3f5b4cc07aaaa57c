/*
 * The smtp process's recipients beyond one address, one envelope: aliases
 * (`action ... alias <T>`, lib/aliases.c) expanded at RCPT into one
 * envelope per target, and a local recipient's ~/.forward (`forward-file
 * yes`), which the parent has a worker read as the user
 * (posternd/forward.c).  Each envelope remembers the address the client
 * gave (alias_of, ORCPT); the queue checks every one (queue/admit.c).
 *
 * SRS (lib/srs.h): the envelope sender of each remote target made here
 * (ALIAS_REMOTE, or a .forward's external address) is rewritten to an
 * SRS address of ours when "srs key" is configured, so that SPF at the
 * far end sees our domain; and a RCPT to such an address (a bounce) is
 * checked and reversed to the original sender, delivered as any relay
 * (the queue checks the reversal again, queue/admit.c).
 *
 * Mailing lists (the `list` statement): a RCPT to a list's address from
 * a sender its posters do not name is refused here, before DATA, so a
 * non-poster's mail is never stored; an allowed one is one envelope for
 * the list (ENV_F_LIST), which the queue redistributes (queue/list.c).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "clock.h"
#include "dotforward.h"
#include "envelope.h"
#include "log.h"
#include "msg.h"
#include "smtpd/smtp.h"
#include "srs.h"
#include "util.h"

/*
 * The sender of an envelope that goes on to another domain: SRS0 (SRS1
 * for an SRS0 sender) of our SRS domain.  Without a key, or when the
 * address would not fit, the sender is kept (and SPF at the far end may
 * fail, as it did before SRS).  The null sender is never rewritten.
 */
static void
rcpt_srs_sender(struct session *s, struct smtp_rcpt_entry *re)
{
	char	 out[ENV_ADDR_MAX + 1];

	if (s->smtp->routing.srs.nkeys == 0 || re->env.sender[0] == '\0')
		return;
	if (srs_forward(&s->smtp->routing.srs, re->env.sender, walltime(),
	    out, sizeof(out)) != SRS_OK) {
		log_warnx("smtp: session %u: sender <%s> to <%s> not "
		    "rewritten by SRS: too long", s->id, re->env.sender,
		    re->env.rcpt);
		return;
	}
	strlcpy(re->env.sender, out, sizeof(re->env.sender));
}

/* One envelope for one recipient of this transaction. */
struct smtp_rcpt_entry *
session_rcpt_add(struct session *s, const struct smtp_rcpt *r, int remote,
    const char *action, const char *rcpt)
{
	struct smtp_rcpt_entry	*re;

	re = xcalloc(1, sizeof(*re));
	re->env.kind = remote ? ENV_REMOTE : ENV_LOCAL;
	strlcpy(re->env.dest, action, sizeof(re->env.dest));
	strlcpy(re->env.sender, s->mail.sender.addr, sizeof(re->env.sender));
	strlcpy(re->env.rcpt, rcpt, sizeof(re->env.rcpt));
	re->env.ret = s->mail.params.ret;
	/* The account travels with the mail: routes may pick by it. */
	if (smtp_session_auth_user(s->engine) != NULL)
		strlcpy(re->env.account, smtp_session_auth_user(s->engine),
		    sizeof(re->env.account));
	if (s->mail.params.has_envid)
		strlcpy(re->env.envid, s->mail.params.envid,
		    sizeof(re->env.envid));
	re->env.notify = r->params.notify;
	if (r->params.has_orcpt)
		strlcpy(re->env.orcpt, r->params.orcpt, sizeof(re->env.orcpt));
	if (s->mail.params.requiretls)
		re->env.flags |= ENV_F_REQUIRETLS;
	if (s->mail.params.smtputf8)
		re->env.flags |= ENV_F_SMTPUTF8;
	if (s->mail.params.body == SMTP_BODY_8BITMIME)
		re->env.flags |= ENV_F_8BITMIME;
	TAILQ_INSERT_TAIL(&s->rcpts, re, entry);
	return re;
}

/*
 * An alias (`action ... alias <T>`, lib/aliases.c): expanded here, once,
 * into one envelope per target, each of which remembers the address the
 * client gave.  RFC 3461 4.2: ORCPT is the original recipient as the
 * sender wrote it, kept as the message moves on; when the client gave
 * none we supply it ("rfc822;" or, for a UTF-8 address, "utf-8;", RFC
 * 6533 3), so that a DSN names the alias the sender used, not the
 * mailbox or program behind it.  0: not an alias (route as usual).
 *
 * The envelope sender of each ALIAS_REMOTE target below is rewritten
 * with SRS (rcpt_srs_sender()); local targets keep the original sender.
 */
int
session_rcpt_alias(struct session *s, const struct smtp_rcpt *r,
    const struct action *a)
{
	struct alias_expansion	 x;
	struct smtp_rcpt_entry	*re;
	const char		*p;
	char			 orcpt[ENV_ORCPT_MAX + 1];
	size_t			 i, nenv = 0;
	int			 utf8 = 0;

	switch (aliases_expand(&s->smtp->routing, a, r->rcpt.addr, &x)) {
	case ALIAS_NOT_ALIAS:
		aliases_expansion_free(&x);
		return 0;
	case ALIAS_EXPANDED:
		break;
	case ALIAS_OVERFLOW:
		log_warnx("smtp: session %u from %s: alias <%s> refused: its "
		    "expansion passes a limit (depth %d, %d aliases, %d "
		    "recipients)", s->id, s->ip, r->rcpt.addr,
		    ALIASES_MAX_DEPTH, ALIASES_MAX_LOOKUPS,
		    ALIASES_MAX_TARGETS);
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.4.6",
		    "Alias expansion too large or too deep");
		aliases_expansion_free(&x);
		return 1;
	case ALIAS_UNAVAILABLE:
		log_warnx("smtp: session %u from %s: alias <%s> deferred: an "
		    ":include: of it cannot be read", s->id, s->ip,
		    r->rcpt.addr);
		smtp_session_reply_rcpt(s->engine, 0, 451, "4.3.0",
		    "Alias temporarily unavailable");
		aliases_expansion_free(&x);
		return 1;
	case ALIAS_NO_TARGET:
		log_info("smtp: session %u from %s: alias <%s> refused: no "
		    "target (%s)", s->id, s->ip, r->rcpt.addr, x.loop ?
		    "a loop" : x.refused ? "files or commands not allowed" :
		    "no valid member");
		if (x.loop)
			smtp_session_reply_rcpt(s->engine, 0, 550, "5.4.6",
			    "Alias loop");
		else if (x.refused)
			smtp_session_reply_rcpt(s->engine, 0, 550, "5.7.1",
			    "Alias delivery to files or commands not allowed");
		else
			smtp_session_reply_rcpt(s->engine, 0, 550, "5.1.1",
			    "Alias has no valid recipient");
		aliases_expansion_free(&x);
		return 1;
	}
	/* the transaction's envelopes stay bounded, however many RCPTs */
	TAILQ_FOREACH(re, &s->rcpts, entry)
		if (++nenv + x.n > ALIASES_MAX_TARGETS)
			break;
	if (nenv + x.n > ALIASES_MAX_TARGETS) {
		log_warnx("smtp: session %u from %s: alias <%s> deferred: "
		    "more than %d recipients in one transaction", s->id, s->ip,
		    r->rcpt.addr, ALIASES_MAX_TARGETS);
		smtp_session_reply_rcpt(s->engine, 0, 452, "4.5.3",
		    "Too many recipients");
		aliases_expansion_free(&x);
		return 1;
	}
	for (p = r->rcpt.addr; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			utf8 = 1;
	snprintf(orcpt, sizeof(orcpt), "%s;%s", utf8 ? "utf-8" : "rfc822",
	    r->rcpt.addr);
	for (i = 0; i < x.n; i++) {
		re = session_rcpt_add(s, r, x.t[i].kind == ALIAS_REMOTE,
		    x.t[i].action, x.t[i].rcpt);
		re->alias_of = xstrdup(r->rcpt.addr);
		re->alias_gen = s->smtp->routing.generation;
		if (x.t[i].kind == ALIAS_REMOTE)
			rcpt_srs_sender(s, re);
		if (!r->params.has_orcpt)
			strlcpy(re->env.orcpt, orcpt, sizeof(re->env.orcpt));
	}
	log_info("smtp: session %u from %s: alias <%s> expanded to %zu "
	    "recipient%s", s->id, s->ip, r->rcpt.addr, x.n, x.n == 1 ? "" :
	    "s");
	aliases_expansion_free(&x);
	smtp_session_reply_rcpt(s->engine, 1, 0, NULL, NULL);
	return 1;
}

/*
 * "forward-file yes": a local recipient's ~/.forward, which the parent has
 * a worker read as the user (posternd/forward.c).  The RCPT waits.
 */
int
session_rcpt_forward(struct session *s, const struct smtp_rcpt *r,
    const struct action *a)
{
	struct msg_forward_lookup	 m;
	char				 why[256];

	if (!a->forward_file || a->virtual_table[0] != '\0' ||
	    a->user != NULL)
		return 0;
	memset(&m, 0, sizeof(m));
	if (routing_local_user(s->smtp->routing.conf, a->name, r->rcpt.addr,
	    m.user, sizeof(m.user), why, sizeof(why)) == -1)
		return 0;
	s->fwd_pending = 1;
	s->fwd_rcpt = *r;
	strlcpy(s->fwd_action, a->name, sizeof(s->fwd_action));
	strlcpy(s->fwd_user, m.user, sizeof(s->fwd_user));
	free(s->fwd_members);
	s->fwd_members = NULL;
	s->fwd_n = 0;
	proc_compose(s->smtp->proc, PROC_PARENT, IMSG_FORWARD_LOOKUP, s->id,
	    -1, &m, sizeof(m));
	return 1;
}

/*
 * The members of ~/.forward, each its own envelope tracked back to the
 * recipient (ORCPT, as for an alias) and carrying the member and the
 * parent's proof of it for the queue (lib/dotforward.h): the user's own
 * name (or "\\user") is the mailbox, an address goes where the match
 * rules send a local submission of it, a "/file" or "|command" to the
 * action, delivered as the user, when the action allows files or
 * commands ("forward-file yes files commands"); otherwise, and for a
 * relative path, the line is logged and left out.  Nothing usable left:
 * the mailbox.
 */
void
session_forward_done(struct session *s, int status)
{
	const struct smtp_rcpt	*r = &s->fwd_rcpt;
	const struct action	*a;
	struct smtp_rcpt_entry	*re;
	struct sockaddr_un	 local;
	enum forward_kind	 kind;
	const char		*m, *at, *action, *domain, *why;
	char			 orcpt[ENV_ORCPT_MAX + 1], addr[ENV_ADDR_MAX + 1];
	size_t			 i, k, n = 0;
	int			 remote, own = 0;

	s->fwd_pending = 0;
	if (status == FORWARD_TEMPFAIL) {
		smtp_session_reply_rcpt(s->engine, 0, 451, "4.3.0",
		    "Cannot read the recipient's .forward now");
		return;
	}
	at = strrchr(r->rcpt.addr, '@');
	domain = at != NULL ? at + 1 : s->smtp->conf->hostname;
	snprintf(orcpt, sizeof(orcpt), "rfc822;%s", r->rcpt.addr);
	memset(&local, 0, sizeof(local));
	local.sun_family = AF_UNIX;
	for (i = 0; status == FORWARD_FOUND && i < s->fwd_n; i++) {
		m = s->fwd_members[i].member;
		if (forward_member_target(m, s->fwd_user, domain, addr,
		    sizeof(addr), &kind, &why) == -1) {
			log_info("smtp: session %u: ~%s/.forward: %s not "
			    "delivered: %s", s->id, s->fwd_user, m, why);
			continue;
		}
		if (kind != FORWARD_ADDRESS) {
			a = config_find_action(s->smtp->routing.conf,
			    s->fwd_action);
			if (a == NULL || (kind == FORWARD_FILE ?
			    !a->forward_files : !a->forward_commands)) {
				log_info("smtp: session %u: ~%s/.forward: %s "
				    "not delivered (action %s delivers to no "
				    ".forward %s)", s->id, s->fwd_user, m,
				    s->fwd_action, kind == FORWARD_FILE ?
				    "files" : "commands");
				continue;
			}
			action = s->fwd_action;
			remote = 0;
			goto add;
		}
		at = strrchr(addr, '@');
		if (strcasecmp(addr, r->rcpt.addr) == 0 ||
		    (strcasecmp(at + 1, domain) == 0 &&
		    (size_t)(at - addr) == strlen(s->fwd_user) &&
		    strncasecmp(addr, s->fwd_user, at - addr) == 0)) {
			own = 1;
			continue;
		}
		action = NULL;
		remote = 0;
		if (routing_decide(&s->smtp->routing,
		    (struct sockaddr *)&local, addr, (size_t)(at - addr), "",
		    &remote, &action) != RCPT_ACCEPT) {
			log_info("smtp: session %u: ~%s/.forward: <%s> refused "
			    "by the match rules", s->id, s->fwd_user, addr);
			continue;
		}
		/* the same target twice: once */
 add:
		k = 0;
		TAILQ_FOREACH(re, &s->rcpts, entry)
			if (re->forwarded && strcmp(re->alias_of,
			    r->rcpt.addr) == 0 && strcmp(re->env.rcpt,
			    addr) == 0)
				k = 1;
		if (k)
			continue;
		re = session_rcpt_add(s, r, remote, action, addr);
		re->alias_of = xstrdup(r->rcpt.addr);
		re->forwarded = 1;
		re->fwd = xmalloc(sizeof(*re->fwd));
		*re->fwd = s->fwd_members[i];
		if (remote)
			rcpt_srs_sender(s, re);
		if (!r->params.has_orcpt)
			strlcpy(re->env.orcpt, orcpt, sizeof(re->env.orcpt));
		n++;
	}
	if (own || n == 0)
		session_rcpt_add(s, r, 0, s->fwd_action, r->rcpt.addr);
	if (n > 0)
		log_info("smtp: session %u from %s: <%s> forwarded by "
		    "~%s/.forward to %zu address%s%s", s->id, s->ip,
		    r->rcpt.addr, s->fwd_user, n, n == 1 ? "" : "es",
		    own ? " and kept" : "");
	free(s->fwd_members);
	s->fwd_members = NULL;
	s->fwd_n = 0;
	smtp_session_reply_rcpt(s->engine, 1, 0, NULL, NULL);
}

/*
 * RCPT to a list's address or its bounce address: taken before the match
 * rules, from any client, because the list statement says the address is
 * ours.  The posters are checked on the envelope sender (the From field
 * is not known yet; postern.conf(5) says so).  Bounces are taken from
 * anyone: the queue counts and logs them.
 */
int
session_rcpt_list(struct session *s, const struct smtp_rcpt *r)
{
	const struct mailing_list	*l;
	struct smtp_rcpt_entry		*re;
	int				 bounce = 0;

	if ((l = config_find_list_rcpt(s->smtp->routing.conf, r->rcpt.addr,
	    &bounce)) == NULL)
		return 0;
	if (!bounce && !routing_list_poster(&s->smtp->routing, l,
	    s->mail.sender.addr)) {
		log_info("smtp: session %u from %s: <%s> may not post to list "
		    "%s: refused", s->id, s->ip, s->mail.sender.addr, l->name);
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.7.1",
		    "Sender not allowed to post to this list");
		return 1;
	}
	re = session_rcpt_add(s, r, 0, l->name, r->rcpt.addr);
	re->env.flags |= ENV_F_LIST;
	log_info("smtp: session %u from %s: <%s> to list %s%s", s->id, s->ip,
	    s->mail.sender.addr, l->name, bounce ? " (a bounce)" : "");
	smtp_session_reply_rcpt(s->engine, 1, 0, NULL, NULL);
	return 1;
}

/*
 * RCPT to an SRS address of our SRS domain: a bounce (or a reply) to mail
 * we forwarded.  Its hash (any of our keys, compared in constant time and
 * without regard to case) and its timestamp (SRS_MAX_AGE_DAYS) are
 * checked; then it goes to the address it reverses to, routed as a local
 * submission of that address would be: the original sender's domain, by
 * the mta as any relay (or, for SRS1, the forwarder before us).
 * Anything else is refused with 550 5.1.1 and nothing is accepted.
 *
 * Any sender may write to it, not only the null sender: as postsrsd does,
 * because replies and some DSNs come from non-null senders, and because a
 * valid address is bounded already: it names one original sender and
 * lives SRS_MAX_AGE_DAYS.  Without a key nothing here is ours (0).
 */
int
session_rcpt_srs(struct session *s, const struct smtp_rcpt *r)
{
	struct srs		*srs = &s->smtp->routing.srs;
	struct smtp_rcpt_entry	*re;
	struct sockaddr_un	 local;
	enum srs_result		 res;
	enum rcpt_verdict	 v;
	const char		*at, *action = NULL;
	char			 addr[ENV_ADDR_MAX + 1];
	char			 orcpt[ENV_ORCPT_MAX + 1];
	int			 remote = 0;

	if (srs->nkeys == 0 || !srs_is_srs(r->rcpt.addr, r->rcpt.at))
		return 0;
	res = srs_reverse(srs, r->rcpt.addr, walltime(), addr, sizeof(addr));
	if (res == SRS_NOT_SRS)
		return 0;
	if (res != SRS_OK) {
		log_info("smtp: session %u from %s: SRS recipient <%s> "
		    "refused: %s", s->id, s->ip, r->rcpt.addr,
		    srs_result_name(res));
		s->smtp->stats[STAT_RCPT_UNKNOWN_USER]++;
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.1.1",
		    "Invalid or expired SRS address");
		return 1;
	}
	memset(&local, 0, sizeof(local));
	local.sun_family = AF_UNIX;
	at = strrchr(addr, '@');
	v = routing_decide(&s->smtp->routing, (struct sockaddr *)&local,
	    addr, (size_t)(at - addr), "", &remote, &action);
	if (v != RCPT_ACCEPT) {
		log_info("smtp: session %u from %s: SRS recipient <%s> "
		    "refused: <%s> refused by the match rules", s->id, s->ip,
		    r->rcpt.addr, addr);
		smtp_session_reply_rcpt(s->engine, 0, 550, "5.7.1",
		    "SRS address not deliverable");
		return 1;
	}
	re = session_rcpt_add(s, r, remote, action, addr);
	re->alias_of = xstrdup(r->rcpt.addr);
	re->srs = 1;
	if (!r->params.has_orcpt) {
		snprintf(orcpt, sizeof(orcpt), "rfc822;%s", r->rcpt.addr);
		strlcpy(re->env.orcpt, orcpt, sizeof(re->env.orcpt));
	}
	log_info("smtp: session %u from %s: SRS recipient <%s> reversed to "
	    "<%s>", s->id, s->ip, r->rcpt.addr, addr);
	smtp_session_reply_rcpt(s->engine, 1, 0, NULL, NULL);
	return 1;
}

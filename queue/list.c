/*
 * Mailing lists (the `list` statement of postern.conf(5)): what the queue
 * does with the envelope a list's address got.
 *
 * The post is stored as received, like any message, with one envelope for
 * the list (ENV_F_LIST, queue/admit.c).  When that envelope is due, authd
 * writes the copy's header section (it parses the untrusted header, asks
 * DNS for the author's DMARC policy and holds the ARC keys: authd/list.c)
 * and the queue stores a new message, like a DSN: that section, the
 * original body, the list's bounce address as the envelope sender and one
 * envelope per member, routed as a local submission to that member would
 * be (local members through their action, others through the mta).
 *
 * A crash must neither lose the post nor send it twice.  The copy is
 * committed with a key naming the list envelope (qstore_message_set_key(),
 * in the same transaction); the list envelope is dropped once that commit
 * is durable.  A crash before the commit finds the list envelope again
 * (in flight at open: queued again) and builds the copy anew; a crash
 * after it finds the key and only drops the list envelope.
 *
 * Bounces to a list's bounce address are counted and logged, then
 * dropped: members are not removed for bouncing.
 *
 * Each list's copies, their member envelopes and its bounces are counted
 * since start (show metrics: list.copies.NAME and the like).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "envelope.h"
#include "listhdr.h"
#include "log.h"
#include "msg.h"
#include "posternd/proc.h"
#include "queue/queue.h"
#include "queue/store.h"
#include "routing.h"
#include "util.h"

struct list_commit {
	struct queue	*q;
	uint64_t	 evpid;		/* the list envelope */
	char		 list[CONF_NAME_MAX];
	size_t		 n;
};

/* The counters of a configured list, made on first use (so bounded). */
static struct list_stat *
list_stat(struct queue *q, const char *name)
{
	struct list_stat	*s;

	TAILQ_FOREACH(s, &q->list_stats, entry)
		if (strcmp(s->name, name) == 0)
			return s;
	s = xcalloc(1, sizeof(*s));
	strlcpy(s->name, name, sizeof(s->name));
	TAILQ_INSERT_TAIL(&q->list_stats, s, entry);
	return s;
}

void
queue_list_stats(struct queue *q, uint32_t peerid)
{
	const struct mailing_list	*l;
	const struct list_stat		*s;
	struct msg_ctl_stat		 m;
	size_t				 i;
	int				 n;

	TAILQ_FOREACH(l, &q->routing.conf->lists, entry) {
		s = list_stat(q, l->name);
		const struct { const char *what; uint64_t value; } rows[] = {
			{ "copies", s->copies },
			{ "recipients", s->recipients },
			{ "bounces", s->bounces },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&m, 0, sizeof(m));
			n = snprintf(m.name, sizeof(m.name), "list.%s.%s",
			    rows[i].what, l->name);
			/* a name too long to label honestly is left out */
			if (n < 0 || (size_t)n >= sizeof(m.name))
				continue;
			m.value = rows[i].value;
			proc_compose(q->proc, PROC_CONTROL,
			    IMSG_CTL_STATS_ENTRY, peerid, -1, &m, sizeof(m));
		}
	}
}

static void
list_key(uint64_t evpid, char *key, size_t len)
{
	char	 qid[QID_ENV_LEN + 1];

	qid_env_str(evpid, qid, sizeof(qid));
	snprintf(key, len, "list:%s", qid);
}

/* The list envelope is done with: dropped in the next group commit. */
static void
list_done(struct queue *q, uint64_t evpid)
{
	qstore_delivered(q->qs, evpid);
	queue_flush_soon(q);
}

static void
list_tempfail(struct queue *q, const struct envelope *e, const char *why)
{
	char	 qid[QID_ENV_LEN + 1];

	qid_env_str(e->id, qid, sizeof(qid));
	log_warnx("%s: list %s: deferred: %s", qid, e->dest, why);
	if (qstore_tempfail(q->qs, e->id, walltime(), why) == QSTORE_EXPIRED)
		queue_expire(q, e->id, why, "4.3.0");
	queue_flush_soon(q);
}

/*
 * A DSN the queue itself makes for a copy (a member's server refused it,
 * or a local member is gone) goes to the copy's sender, the list's bounce
 * address: counted like a bounce that comes in by SMTP, and not sent
 * (review finding: it went by the match rules, often nowhere).  1 if to
 * was a bounce address.
 */
int
queue_list_own_bounce(struct queue *q, const char *to, const char *qid)
{
	const struct mailing_list	*l;
	struct list_stat		*s;
	int				 bounce = 0;

	if ((l = config_find_list_rcpt(q->routing.conf, to, &bounce)) ==
	    NULL || !bounce)
		return 0;
	s = list_stat(q, l->name);
	s->bounces++;
	log_info("%s: list %s: delivery status notification to <%s> counted "
	    "as a bounce (%llu since start); members are not removed", qid,
	    l->name, to, (unsigned long long)s->bounces);
	return 1;
}

void
queue_list_start(struct queue *q, const struct envelope *e)
{
	const struct mailing_list	*l;
	struct msg_list_build		 m;
	struct list_job			*j;
	struct list_stat		*s;
	char				 qid[QID_ENV_LEN + 1], key[64];
	int				 bounce = 0, fd;

	qid_env_str(e->id, qid, sizeof(qid));
	if ((l = config_find_list(q->routing.conf, e->dest)) == NULL ||
	    config_find_list_rcpt(q->routing.conf, e->rcpt, &bounce) != l) {
		queue_unroutable(q, e, "no such list any more");
		return;
	}
	if (bounce) {
		s = list_stat(q, l->name);
		s->bounces++;
		log_info("%s: list %s: bounce from <%s> counted (%llu since "
		    "start); members are not removed", qid, l->name,
		    e->sender, (unsigned long long)s->bounces);
		list_done(q, e->id);
		return;
	}
	list_key(e->id, key, sizeof(key));
	switch (qstore_key_exists(q->qs, key)) {
	case 1:
		log_info("%s: list %s: copy already queued before a restart",
		    qid, l->name);
		list_done(q, e->id);
		return;
	case -1:
		list_tempfail(q, e, "could not read the queue store");
		return;
	}
	if ((fd = queue_message_fd(q, e->msgid)) == -1) {
		list_tempfail(q, e, "could not read the queued message");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->e = *e;
	buf_init(&j->hdr, LISTHDR_COPY_MAX);
	TAILQ_INSERT_TAIL(&q->list_jobs, j, entry);
	memset(&m, 0, sizeof(m));
	m.evpid = e->id;
	strlcpy(m.list, l->name, sizeof(m.list));
	queue_flight_add(q, e->id, PROC_AUTHD, fd);
	proc_compose(q->proc, PROC_AUTHD, IMSG_LIST_BUILD, 0, fd, &m,
	    sizeof(m));
	log_debug("%s: list %s: to authd for its header", qid, l->name);
}

static struct list_job *
list_job_find(struct queue *q, uint64_t evpid)
{
	struct list_job	*j;

	TAILQ_FOREACH(j, &q->list_jobs, entry)
		if (j->e.id == evpid)
			return j;
	return NULL;
}

static void
list_committed(uint64_t id, int ok, void *arg)
{
	struct list_commit	*c = arg;
	struct list_stat	*s;
	struct envelope		 e;
	char			 qid[QID_ENV_LEN + 1], nqid[QID_MSG_LEN + 1];

	qid_env_str(c->evpid, qid, sizeof(qid));
	qid_msg_str(id, nqid, sizeof(nqid));
	if (ok) {
		s = list_stat(c->q, c->list);
		s->copies++;
		s->recipients += c->n;
		log_info("%s: list %s: copy %s queued for %zu member%s", qid,
		    c->list, nqid, c->n, c->n == 1 ? "" : "s");
		/* TEST ONLY: the copy is stored, the post not yet dropped */
		proc_test_crash("list-committed");
		list_done(c->q, c->evpid);
		queue_schedule_soon(c->q, 0);
	} else if (qstore_envelope_get(c->q->qs, c->evpid, &e) == 0)
		list_tempfail(c->q, &e, "could not store the list copy");
	free(c);
}

/*
 * One member: routed as mail submitted here for that address would be
 * (as a DSN is).  A member that is a list (its own or another) is
 * skipped: a list copy goes to mailboxes, never through a list again.
 */
static int
list_member_envelope(struct queue *q, const struct mailing_list *l,
    const struct envelope *post, const char *sender, const char *addr,
    struct qs_msg *m)
{
	struct sockaddr_in	 local;
	struct envelope		 e;
	const char		*action = NULL, *at;
	int			 remote = 0, bounce;

	if (config_find_list_rcpt(q->routing.conf, addr, &bounce) != NULL) {
		log_warnx("list %s: member <%s> is a list address: skipped "
		    "(a loop)", l->name, addr);
		return 0;
	}
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at = strrchr(addr, '@');
	if (at == NULL || routing_decide(&q->routing,
	    (struct sockaddr *)&local, addr, (size_t)(at - addr), "", &remote,
	    &action) != RCPT_ACCEPT) {
		log_warnx("list %s: member <%s>: no route by the match rules: "
		    "skipped", l->name, addr);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	e.kind = remote ? ENV_REMOTE : ENV_LOCAL;
	strlcpy(e.dest, action, sizeof(e.dest));
	strlcpy(e.rcpt, addr, sizeof(e.rcpt));
	strlcpy(e.sender, sender, sizeof(e.sender));
	/* a post that asked for TLS all the way asks it of its copy too */
	e.flags = post->flags & (ENV_F_SMTPUTF8 | ENV_F_8BITMIME |
	    ENV_F_REQUIRETLS | ENV_F_TLSREQ_NO);
	e.notify = ENV_NOTIFY_FAILURE;	/* to the bounce address */
	if (qstore_message_add_envelope(m, &e) == 0)
		return -1;
	return 1;
}

/* The copy: the new header section, the original body, the members. */
static void
list_store(struct queue *q, struct list_job *j, uint64_t body_offset)
{
	const struct mailing_list	*l;
	const struct table		*t;
	const struct table_entry	*te;
	struct list_commit		*c;
	struct qs_msg			*m;
	struct msgrec			 mr;
	static uint8_t			 chunk[QSTORE_CHUNK_SIZE];
	char				 sender[256], key[64];
	uint64_t			 pos = 0;
	uint32_t			 i;
	size_t				 len, n = 0, skip;
	int				 r;

	if ((l = config_find_list(q->routing.conf, j->e.dest)) == NULL) {
		queue_unroutable(q, &j->e, "no such list any more");
		return;
	}
	if ((t = config_find_table(q->routing.conf, l->members)) == NULL) {
		queue_unroutable(q, &j->e, "the list's members table is gone");
		return;
	}
	if (qstore_message_info(q->qs, j->e.msgid, &mr) != 0 ||
	    body_offset > mr.size) {
		list_tempfail(q, &j->e, "could not read the queued message");
		return;
	}
	config_list_bounce(l, sender, sizeof(sender));
	m = qstore_message_begin(q->qs, j->hdr.len + mr.size + 1);
	if (qstore_message_append(m, j->hdr.data, j->hdr.len) == -1)
		goto fail;
	for (i = 0; ; i++) {
		if ((r = qstore_message_read(q->qs, j->e.msgid, i, chunk,
		    sizeof(chunk), &len)) == 1)
			break;
		if (r == -1)
			goto fail;
		skip = pos >= body_offset ? 0 : body_offset - pos < len ?
		    (size_t)(body_offset - pos) : len;
		pos += len;
		if (len > skip && qstore_message_append(m, chunk + skip,
		    len - skip) == -1)
			goto fail;
	}
	TAILQ_FOREACH(te, &t->entries, entry) {
		if ((r = list_member_envelope(q, l, &j->e, sender, te->key,
		    m)) == -1)
			goto fail;
		n += r;
	}
	if (n == 0) {
		qstore_message_abort(m);
		log_warnx("list %s: no member to send the post of <%s> to",
		    l->name, j->e.sender);
		list_done(q, j->e.id);
		return;
	}
	list_key(j->e.id, key, sizeof(key));
	if (qstore_message_set_key(m, key) == -1)
		goto fail;
	c = xcalloc(1, sizeof(*c));
	c->q = q;
	c->evpid = j->e.id;
	strlcpy(c->list, l->name, sizeof(c->list));
	c->n = n;
	if (qstore_commit_request(m, list_committed, c) == -1) {
		free(c);
		list_tempfail(q, &j->e, "could not queue the list copy");
		return;
	}
	queue_flush_soon(q);
	return;
 fail:
	qstore_message_abort(m);
	list_tempfail(q, &j->e, "could not build the list copy");
}

void
queue_list_imsg(struct queue *q, struct imsg *imsg)
{
	struct msg_list_header	 h;
	struct msg_list_end	 end;
	struct list_job		*j;
	char			 qid[QID_ENV_LEN + 1];

	switch (imsg->hdr.type) {
	case IMSG_LIST_HEADER:
		if (msg_get_list_header(imsg, &h) == -1 ||
		    (j = list_job_find(q, h.evpid)) == NULL ||
		    buf_add(&j->hdr, h.data, h.len) == -1)
			proc_bad_message(q->proc, PROC_AUTHD, imsg);
		return;
	case IMSG_LIST_END:
		if (msg_get_list_end(imsg, &end) == -1 ||
		    (j = list_job_find(q, end.evpid)) == NULL ||
		    queue_flight_end(q, end.evpid, PROC_AUTHD) == -1 ||
		    (end.status == LIST_BUILD_OK && j->hdr.len == 0))
			proc_bad_message(q->proc, PROC_AUTHD, imsg);
		break;
	default:
		proc_unexpected(q->proc, PROC_AUTHD, imsg);
		return;
	}
	TAILQ_REMOVE(&q->list_jobs, j, entry);
	qid_env_str(j->e.id, qid, sizeof(qid));
	switch (end.status) {
	case LIST_BUILD_OK:
		list_store(q, j, end.body_offset);
		break;
	case LIST_BUILD_LOOP:
		log_warnx("%s: list %s: post from <%s> dropped: %s", qid,
		    j->e.dest, j->e.sender, end.why);
		list_done(q, j->e.id);
		break;
	case LIST_BUILD_BAD:
		queue_unroutable(q, &j->e, end.why);
		break;
	default:
		list_tempfail(q, &j->e, end.why);
		break;
	}
	buf_free(&j->hdr);
	free(j);
}

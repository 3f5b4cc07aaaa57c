/*
 * Watching the aliases files: every ALIAS_WATCH_SECS the parent stats each
 * table that an action uses as `alias <T>`; when its device, inode, size
 * or mtime moved, the file is loaded again (lib/aliases.c, as root, like
 * at the start).  A file that no longer loads keeps the old entries, with
 * a warning.  Otherwise the parent's own copy (which checks the file and
 * command deliveries the queue asks for) takes the new entries and smtp
 * and queue get them as IMSG_CONF_TABLE_RELOAD, the entries, and
 * IMSG_CONF_TABLE_COMMIT, which swaps them in at once.
 *
 * An :include: file is read again when the aliases file changes (touch
 * it after editing an included list).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "log.h"
#include "posternd/alias_watch.h"
#include "routing.h"
#include "util.h"

struct watch {
	TAILQ_ENTRY(watch)	 entry;
	struct table		*t;
	struct aliases_stamp	 stamp;
};

static TAILQ_HEAD(, watch)	 watches = TAILQ_HEAD_INITIALIZER(watches);
static struct event		 ev_watch;
static struct proc		*watch_proc;

static void
alias_reload(struct watch *w)
{
	struct table		*n;
	struct table_entries	 old;
	char			 err[512];
	enum proc_id		 to[] = { PROC_SMTP, PROC_QUEUE };
	size_t			 i;

	n = xcalloc(1, sizeof(*n));
	strlcpy(n->name, w->t->name, sizeof(n->name));
	n->type = TABLE_FILE;
	n->path = xstrdup(w->t->path);
	TAILQ_INIT(&n->entries);
	if (aliases_load(n, err, sizeof(err)) == -1) {
		log_warnx("table %s: %s: keeping the entries read before",
		    w->t->name, err);
		config_table_free(n);
		return;
	}
	TAILQ_INIT(&old);
	TAILQ_CONCAT(&old, &w->t->entries, entry);
	TAILQ_CONCAT(&w->t->entries, &n->entries, entry);
	TAILQ_CONCAT(&n->entries, &old, entry);
	w->t->nentries = n->nentries;
	free(w->t->index);
	w->t->index = NULL;
	w->t->nindex = 0;
	config_table_free(n);
	log_info("table %s: %s changed, %zu members", w->t->name, w->t->path,
	    w->t->nentries);
	for (i = 0; i < sizeof(to) / sizeof(to[0]); i++) {
		if (watch_proc->peers[to[i]] == NULL)
			continue;
		routing_send_reload(w->t, &watch_proc->peers[to[i]]->ibuf);
		if (imsgbuf_flush(&watch_proc->peers[to[i]]->ibuf) == -1)
			fatal("sending table %s", w->t->name);
	}
}

static void
alias_watch(int fd, short event, void *arg)
{
	struct timeval	 tv = { ALIAS_WATCH_SECS, 0 };
	struct watch	*w;

	TAILQ_FOREACH(w, &watches, entry)
		if (aliases_changed(w->t->path, &w->stamp))
			alias_reload(w);
	evtimer_add(&ev_watch, &tv);
}

void
alias_watch_start(struct postern_conf *conf, struct proc *p)
{
	struct timeval	 tv = { ALIAS_WATCH_SECS, 0 };
	struct table	*t;
	struct watch	*w;

	watch_proc = p;
	TAILQ_FOREACH(t, &conf->tables, entry) {
		if (!t->aliases)
			continue;
		w = xcalloc(1, sizeof(*w));
		w->t = t;
		(void)aliases_changed(t->path, &w->stamp);
		TAILQ_INSERT_TAIL(&watches, w, entry);
	}
	if (TAILQ_EMPTY(&watches))
		return;
	evtimer_set(&ev_watch, alias_watch, NULL);
	evtimer_add(&ev_watch, &tv);
}

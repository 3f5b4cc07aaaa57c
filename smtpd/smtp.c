/*
 * The smtp process: SMTP and submission sessions on the listeners the
 * parent opened (RFC 5321; the sessions themselves come with the inbound
 * issue).
 *
 * Today it takes its listening sockets from the parent before it drops
 * privileges and holds them; it does not accept connections yet, so a
 * client waits in the listen queue rather than being refused.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "util.h"

struct smtp_listener {
	TAILQ_ENTRY(smtp_listener)	 entry;
	struct msg_conf_listener	 conf;
	int				 fd;
};

struct smtp {
	TAILQ_HEAD(, smtp_listener)	 listeners;
};

static struct smtp *
smtp_state(struct proc *p)
{
	struct smtp	*s;

	if (p->state == NULL) {
		s = xcalloc(1, sizeof(*s));
		TAILQ_INIT(&s->listeners);
		p->state = s;
	}
	return p->state;
}

void
smtp_conf(struct proc *p, struct imsg *imsg)
{
	struct smtp		*s = smtp_state(p);
	struct smtp_listener	*l;

	if (imsg->hdr.type != IMSG_PROC_CONF_LISTENER)
		fatalx("unexpected set-up message %u", imsg->hdr.type);
	l = xcalloc(1, sizeof(*l));
	if (imsg_get_data(imsg, &l->conf, sizeof(l->conf)) == -1 ||
	    imsg->fd == -1)
		fatalx("bad listener message");
	l->conf.pki[sizeof(l->conf.pki) - 1] = '\0';
	l->conf.tag[sizeof(l->conf.tag) - 1] = '\0';
	l->conf.hostname[sizeof(l->conf.hostname) - 1] = '\0';
	l->fd = imsg->fd;
	TAILQ_INSERT_TAIL(&s->listeners, l, entry);
}

void
smtp_run(struct proc *p)
{
	struct smtp		*s = smtp_state(p);
	struct smtp_listener	*l;
	int			 n = 0;

	TAILQ_FOREACH(l, &s->listeners, entry)
		n++;
	log_debug("smtp process holds %d listener(s)", n);
}

void
smtp_dispatch(struct proc *p, enum proc_id from, struct imsg *imsg)
{
	if (proc_common_imsg(p, from, imsg))
		return;
	proc_unexpected(p, from, imsg);
}

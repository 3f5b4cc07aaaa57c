/*
 * The metrics listener (posternd/metrics_http.h), run by the control
 * process, unprivileged and chrooted: the parent bound the socket.  A
 * client has METRICS_HTTP_TIMEOUT seconds and HTTP_REQ_MAX_HEAD bytes to
 * send its request head, which posternd/http_req.c judges; at most
 * METRICS_HTTP_MAX_CLIENTS are served at once, and one more is told 503
 * and closed, so a few idle connections cannot pile up.  A scrape asks
 * the five processes in turn, as posternctl show metrics does, and the
 * answer is written with Connection: close.  Nothing here touches the
 * control socket's clients: a slow or hostile scraper costs posternctl
 * nothing but a few event-loop turns.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "posternd/http_req.h"
#include "posternd/metrics_http.h"
#include "util.h"

#define SCRAPE_MAX_STATS	4096	/* counters of one scrape */

/* The processes asked, in show stats order. */
static const enum proc_id scrape_targets[] = {
	PROC_SMTP, PROC_QUEUE, PROC_MTA, PROC_AUTHD, PROC_REPORTD
};
#define SCRAPE_NTARGETS	(sizeof(scrape_targets) / sizeof(scrape_targets[0]))

enum scrape_state {
	SCRAPE_READING,		/* the request head */
	SCRAPE_ASKING,		/* the processes, scrape_targets[step] now */
	SCRAPE_WRITING,		/* the response */
	SCRAPE_LINGERING	/* written: what the client still sends is
				   read and dropped until it closes, so that
				   no reset cuts the response short */
};

struct scrape {
	TAILQ_ENTRY(scrape)	 entry;
	struct metrics_http	*mh;
	uint32_t		 id;
	int			 fd;
	enum scrape_state	 state;
	struct event		 ev;
	int			 ev_set;
	struct event		 timer;
	char			 in[HTTP_REQ_MAX_HEAD];
	size_t			 inlen;
	struct http_req		 req;
	size_t			 step;
	struct msg_ctl_stat	*st;
	size_t			 nst, cap;
	int			 overflow;
	struct buf		 out;
	size_t			 off;
};

struct metrics_http {
	struct proc		*proc;
	int			 fd;
	struct event		 ev_accept;
	TAILQ_HEAD(, scrape)	 scrapes;
	int			 nscrapes;
	uint32_t		 next_id;
};

static void	scrape_event(int, short, void *);

static void
scrape_close(struct scrape *s)
{
	struct metrics_http	*mh = s->mh;

	if (s->ev_set)
		event_del(&s->ev);
	evtimer_del(&s->timer);
	close(s->fd);
	buf_free(&s->out);
	free(s->st);
	TAILQ_REMOVE(&mh->scrapes, s, entry);
	mh->nscrapes--;
	free(s);
}

static void
scrape_wait(struct scrape *s, short what)
{
	if (s->ev_set)
		event_del(&s->ev);
	s->ev_set = what != 0;
	if (what == 0)
		return;
	event_set(&s->ev, s->fd, what | EV_PERSIST, scrape_event, s);
	event_add(&s->ev, NULL);
}

/* The answer is decided: write it, then close. */
static void
scrape_respond(struct scrape *s, const void *body, size_t len)
{
	struct timeval	 tv = { METRICS_HTTP_LIFETIME, 0 };

	buf_reset(&s->out);
	if (http_req_response(&s->req, METRICS_CONTENT_TYPE, body, len,
	    time(NULL), &s->out) == -1) {
		buf_reset(&s->out);
		s->req.status = 500;
		if (http_req_response(&s->req, METRICS_CONTENT_TYPE, NULL, 0,
		    time(NULL), &s->out) == -1) {
			scrape_close(s);
			return;
		}
	}
	log_debug("metrics: scrape %u: %d", s->id, s->req.status);
	s->state = SCRAPE_WRITING;
	s->off = 0;
	evtimer_add(&s->timer, &tv);
	scrape_wait(s, EV_WRITE);
}

static void
scrape_ask(struct scrape *s)
{
	proc_compose(s->mh->proc, scrape_targets[s->step],
	    IMSG_CTL_STATS_GET, s->id, -1, NULL, 0);
}

static void
scrape_done(struct scrape *s)
{
	struct buf	 b;

	buf_init(&b, METRICS_MAX);
	if (s->overflow || metrics_format(s->st, s->nst, &b) == -1) {
		log_warnx("metrics: the exposition does not fit in %d bytes",
		    METRICS_MAX);
		s->req.status = 500;
	}
	scrape_respond(s, b.data, b.len);
	buf_free(&b);
}

static void
scrape_read(struct scrape *s)
{
	ssize_t	 n;

	n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		scrape_close(s);	/* gone before asking anything */
		return;
	}
	s->inlen += n;
	if (http_req_parse(s->in, s->inlen, &s->req) == 0)
		return;
	if (s->req.status != 200) {
		scrape_respond(s, NULL, 0);
		return;
	}
	/* read no more: the response closes the connection */
	scrape_wait(s, 0);
	s->state = SCRAPE_ASKING;
	s->step = 0;
	scrape_ask(s);
}

static void
scrape_write(struct scrape *s)
{
	struct timeval	 tv = { 0, 0 };
	ssize_t		 n;

	n = send(s->fd, s->out.data + s->off, s->out.len - s->off,
	    MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		scrape_close(s);
		return;
	}
	s->off += n;
	if (s->off == s->out.len) {
		tv.tv_sec = METRICS_HTTP_LINGER;
		shutdown(s->fd, SHUT_WR);
		s->state = SCRAPE_LINGERING;
		evtimer_add(&s->timer, &tv);
		scrape_wait(s, EV_READ);
	}
}

static void
scrape_linger(struct scrape *s)
{
	char	 sink[4096];
	ssize_t	 n;

	n = read(s->fd, sink, sizeof(sink));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		scrape_close(s);
}

static void
scrape_event(int fd, short event, void *arg)
{
	struct scrape	*s = arg;

	if (s->state == SCRAPE_READING && (event & EV_READ))
		scrape_read(s);
	else if (s->state == SCRAPE_WRITING && (event & EV_WRITE))
		scrape_write(s);
	else if (s->state == SCRAPE_LINGERING && (event & EV_READ))
		scrape_linger(s);
}

/* Too slow: a request not sent in time is told 408; anything else ends. */
static void
scrape_timeout(int fd, short event, void *arg)
{
	struct scrape	*s = arg;

	if (s->state != SCRAPE_READING) {
		scrape_close(s);
		return;
	}
	memset(&s->req, 0, sizeof(s->req));
	s->req.status = 408;	/* RFC 9110 15.5.9 */
	scrape_respond(s, NULL, 0);
}

static void
metrics_http_accept(int fd, short event, void *arg)
{
	struct metrics_http	*mh = arg;
	struct scrape		*s;
	struct http_req		 busy;
	struct buf		 b;
	struct timeval		 tv = { METRICS_HTTP_TIMEOUT, 0 };
	int			 c;

	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("metrics: accept");
		return;
	}
	if (mh->nscrapes >= METRICS_HTTP_MAX_CLIENTS) {
		/* one try at telling it, and no more of our time */
		memset(&busy, 0, sizeof(busy));
		busy.status = 503;
		buf_init(&b, 1024);
		if (http_req_response(&busy, METRICS_CONTENT_TYPE, NULL, 0,
		    time(NULL), &b) == 0)
			(void)send(c, b.data, b.len, MSG_NOSIGNAL);
		buf_free(&b);
		close(c);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->mh = mh;
	s->fd = c;
	s->id = mh->next_id++;
	if (mh->next_id == 0)
		mh->next_id = METRICS_HTTP_ID_BASE;
	s->state = SCRAPE_READING;
	buf_init(&s->out, METRICS_MAX + 1024);
	TAILQ_INSERT_TAIL(&mh->scrapes, s, entry);
	mh->nscrapes++;
	evtimer_set(&s->timer, scrape_timeout, s);
	evtimer_add(&s->timer, &tv);
	scrape_wait(s, EV_READ);
}

struct metrics_http *
metrics_http_start(struct proc *p, int fd)
{
	struct metrics_http	*mh;

	mh = xcalloc(1, sizeof(*mh));
	mh->proc = p;
	mh->fd = fd;
	mh->next_id = METRICS_HTTP_ID_BASE;
	TAILQ_INIT(&mh->scrapes);
	event_set(&mh->ev_accept, fd, EV_READ | EV_PERSIST,
	    metrics_http_accept, mh);
	event_add(&mh->ev_accept, NULL);
	return mh;
}

int
metrics_http_imsg(struct metrics_http *mh, enum proc_id from,
    struct imsg *imsg)
{
	struct scrape		*s;
	struct msg_ctl_stat	 st;

	if (imsg->hdr.peerid < METRICS_HTTP_ID_BASE)
		return 0;
	if (mh == NULL)
		fatalx("metrics: a reply for scrape %u, and no listener",
		    imsg->hdr.peerid);
	TAILQ_FOREACH(s, &mh->scrapes, entry)
		if (s->id == imsg->hdr.peerid)
			break;
	if (s == NULL)
		return 1;	/* it went away */
	if (s->state != SCRAPE_ASKING || from != scrape_targets[s->step])
		fatalx("metrics: %s answered scrape %u out of turn",
		    proc_name(from), s->id);
	switch (imsg->hdr.type) {
	case IMSG_CTL_STATS_ENTRY:
		if (msg_get_ctl_stat(imsg, &st) == -1)
			fatalx("metrics: bad counter from %s",
			    proc_name(from));
		if (s->nst == SCRAPE_MAX_STATS) {
			s->overflow = 1;
			return 1;
		}
		if (s->nst == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 128;
			s->st = xreallocarray(s->st, s->cap, sizeof(*s->st));
		}
		s->st[s->nst++] = st;
		return 1;
	case IMSG_CTL_REPLY_END:
		if (++s->step == SCRAPE_NTARGETS)
			scrape_done(s);
		else
			scrape_ask(s);
		return 1;
	default:
		fatalx("metrics: %s answered a scrape with type %u",
		    proc_name(from), imsg->hdr.type);
	}
	return 1;
}

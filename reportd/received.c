/*
 * reportd's side of received reports: the queue hands over mail that an
 * `action NAME reportd` took (IMSG_REPORT_MESSAGE_RECEIVE, the message as
 * an fd), reportd parses it (reportd/rpt.h: only reportd parses report
 * bytes), keeps what parses (reportd/rpt_store.h) and answers the queue
 * like a local delivery; control asks for the listing of posternctl show
 * reports (IMSG_CTL_REPORTS_GET).
 *
 * A message that holds no report we can read is delivered all the same:
 * the sender did nothing wrong by our protocol, a bounce would go to a
 * report generator that cannot read it (or to a forged address), and a
 * retry would fail the same way.  It is logged with the reason and counted
 * (reportd.received.refused), and nothing of it is kept.  Only a store that
 * cannot take a report that parsed makes the delivery fail, temporarily,
 * so that the queue tries again later.  A report kept already (the same
 * organisation and report id: sent to two of our addresses, or handed over
 * again after a crash) is delivered and not kept twice.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "posternd/proc.h"
#include "reportd/received.h"
#include "reportd/rpt.h"
#include "reportd/rpt_store.h"
#include "util.h"

#define RECEIVED_CTL_CHUNK	(16 * 1024)

/* The whole message from the fd, at most RPT_MESSAGE_MAX octets. */
static int
read_message(int fd, struct buf *b, char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		 chunk[65536];
	ssize_t		 n;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (st.st_size > RPT_MESSAGE_MAX) {
		snprintf(err, errlen, "message larger than %d octets",
		    RPT_MESSAGE_MAX);
		return -1;
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (buf_add(b, chunk, n) == -1) {
			snprintf(err, errlen, "message larger than %d octets",
			    RPT_MESSAGE_MAX);
			return -1;
		}
	}
}

static void
answer(struct proc *p, uint64_t evpid, int status, const char *error)
{
	struct msg_deliver_result	 r;

	memset(&r, 0, sizeof(r));
	r.evpid = evpid;
	r.status = status;
	strlcpy(r.dsn_status, status == DELIVER_OK ? "2.0.0" : "4.3.0",
	    sizeof(r.dsn_status));
	strlcpy(r.error, error, sizeof(r.error));
	proc_compose(p, PROC_QUEUE, IMSG_REPORT_MESSAGE_RESULT, 0, -1, &r,
	    sizeof(r));
}

void
received_message(struct proc *p, struct rpt_store *rs, struct imsg *imsg)
{
	struct msg_report_receive	 m;
	struct buf			 msg;
	struct rpt			 r;
	char				 qid[QID_ENV_LEN + 1], err[256];

	if (msg_get_report_receive(imsg, &m) == -1)
		proc_bad_message(p, PROC_QUEUE, imsg);
	qid_env_str(m.evpid, qid, sizeof(qid));
	buf_init(&msg, RPT_MESSAGE_MAX);
	if (read_message(imsg->fd, &msg, err, sizeof(err)) == -1 ||
	    rpt_parse_message(msg.data, msg.len, &r, err, sizeof(err)) ==
	    -1) {
		buf_free(&msg);
		log_warnx("%s: report from <%s> to <%s> refused: %s (delivered, "
		    "not kept)", qid, m.sender, m.rcpt, err);
		rpt_store_refused(rs);
		answer(p, m.evpid, DELIVER_OK, "");
		return;
	}
	buf_free(&msg);
	switch (rpt_store_put(rs, walltime(), &r)) {
	case -1:
		rpt_free(&r);
		answer(p, m.evpid, DELIVER_TEMPFAIL, "the received report "
		    "could not be stored");
		return;
	case 1:
		log_info("%s: %s report from \"%s\" id %s: kept already", qid,
		    rpt_kind_name(r.kind), r.kind == RPT_DMARC ? r.dmarc.org :
		    r.tls.org, r.kind == RPT_DMARC ? r.dmarc.report_id :
		    r.tls.report_id);
		rpt_free(&r);
		answer(p, m.evpid, DELIVER_OK, "");
		return;
	}
	switch (r.kind) {
	case RPT_DMARC:
		log_info("%s: dmarc report from \"%s\" id %s for %s, %zu "
		    "row(s), kept", qid, r.dmarc.org, r.dmarc.report_id,
		    r.dmarc.domain, r.dmarc.nrows);
		break;
	case RPT_TLS:
		log_info("%s: tls report from \"%s\" id %s, %zu polic%s, kept",
		    qid, r.tls.org, r.tls.report_id, r.tls.npolicies,
		    r.tls.npolicies == 1 ? "y" : "ies");
		break;
	default:
		log_info("%s: arf report (%s) for %s, kept", qid,
		    r.arf.feedback_type, r.arf.reported_domain[0] ?
		    r.arf.reported_domain : "-");
		break;
	}
	rpt_free(&r);
	answer(p, m.evpid, DELIVER_OK, "");
}

struct ctl_out {
	struct proc	*p;
	uint32_t	 peerid;
	struct buf	 b;
};

static void
ctl_out_send(struct ctl_out *o)
{
	if (o->b.len == 0)
		return;
	proc_compose(o->p, PROC_CONTROL, IMSG_CTL_REPLY_DATA, o->peerid, -1,
	    o->b.data, o->b.len);
	buf_reset(&o->b);
}

/* A report's text goes out in pieces: one may be larger than an imsg. */
static int
ctl_out_cb(void *arg, const char *text, size_t len)
{
	struct ctl_out	*o = arg;
	size_t		 n;

	while (len > 0) {
		n = RECEIVED_CTL_CHUNK - o->b.len;
		if (n > len)
			n = len;
		buf_add(&o->b, text, n);
		text += n;
		len -= n;
		if (o->b.len >= RECEIVED_CTL_CHUNK)
			ctl_out_send(o);
	}
	return 0;
}

void
received_ctl_reports(struct proc *p, struct rpt_store *rs, struct imsg *imsg)
{
	struct msg_ctl_reports	 m;
	struct ctl_out		 o;
	enum rpt_kind		 kind;

	if (msg_get_ctl_reports(imsg, &m) == -1)
		proc_bad_message(p, PROC_CONTROL, imsg);
	switch (m.kind) {
	case MSG_REPORTS_DMARC:
		kind = RPT_DMARC;
		break;
	case MSG_REPORTS_TLS:
		kind = RPT_TLS;
		break;
	case MSG_REPORTS_ARF:
		kind = RPT_ARF;
		break;
	default:
		kind = RPT_NONE;
		break;
	}
	memset(&o, 0, sizeof(o));
	o.p = p;
	o.peerid = imsg->hdr.peerid;
	buf_init(&o.b, RECEIVED_CTL_CHUNK);
	if (rpt_store_foreach(rs, kind, m.json, ctl_out_cb,
	    &o) == -1) {
		buf_reset(&o.b);
		buf_addstr(&o.b, "error: the received reports cannot be read "
		    "(see the log)\n");
	}
	ctl_out_send(&o);
	buf_free(&o.b);
	proc_compose(p, PROC_CONTROL, IMSG_CTL_REPLY_END, imsg->hdr.peerid, -1,
	    NULL, 0);
}

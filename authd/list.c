/*
 * The header section of a mailing list's copy (queue/list.c asks, with
 * the stored message as a descriptor): the message's header section is
 * read here, in authd (unprivileged, chrooted, no store), never in the
 * queue.  lib/listhdr.c writes the new section; authd adds:
 *
 * - the DMARC policy of the author's domain (RFC 9989: the record that
 *   applies to the From domain, by the DNS tree walk) for
 *   "from-rewrite dmarc": p=quarantine or p=reject means the copy, whose
 *   From we keep and whose author's DKIM signature the list's changes
 *   may break, would be refused or junked at the members' servers, so
 *   From becomes the list's;
 *
 * - a DKIM-Signature (RFC 6376 5) of the list's domain over the copy,
 *   with "sign with NAME": the members' servers judge DMARC for the
 *   From domain, the list's own once From is rewritten, and the author's
 *   signature is likely broken by the list's changes;
 *
 * - an ARC set (RFC 8617 5.1) over the copy as it leaves, with "arc-seal
 *   with NAME": its ARC-Authentication-Results are what postern verified
 *   when the post came in (our own Authentication-Results field, RFC 8617
 *   4.1.1), its cv= the ARC result recorded there (RFC 8617 5.1.1: the
 *   chain as it arrived).
 *
 * The DKIM-Signature is added first, the ARC set last: an ARC set is the
 * sealer's record of the message as it leaves (RFC 8617 5.1), so nothing
 * is added after it; its ARC-Message-Signature is a DKIM signature by
 * another name (RFC 8617 4.1.2) that may cover the DKIM-Signature field,
 * while a DKIM-Signature added later would need h= kept clear of ARC
 * fields.  Receivers check each on its own: the DKIM signature ignores
 * the ARC fields above it (RFC 6376 5.4 lists what it signs).
 *
 * It answers the queue with the section in chunks and an END; the queue
 * puts the original body after it.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/arc.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "authd/list.h"
#include "envelope.h"
#include "listhdr.h"
#include "log.h"
#include "msg.h"
#include "util.h"

#define LIST_READ_CHUNK		65536
#define LIST_MAX_JOBS		256	/* the queue's QUEUE_MAX_INFLIGHT */
#define LIST_MAX_FROM		8
#define LIST_DKIM_MAX		8192	/* one DKIM-Signature field, folded */

struct authd_list_job {
	TAILQ_ENTRY(authd_list_job)	 entry;
	struct authd_lists		*al;
	uint64_t			 evpid;
	struct mailing_list		 l;
	int				 fd;
	struct buf			 hdr;	/* the original's section */
	uint64_t			 body_offset;
	struct dmarc_eval		*ev;
	char				*from[LIST_MAX_FROM];
	size_t				 nfrom;
};

static size_t	authd_list_njobs;

void
authd_list_init(struct authd_lists *al, struct proc *p, struct dns_ctx *dns,
    struct routing *rt, int (*signer)(void *, const char *,
    struct dkim_signer *), void *arg)
{
	al->proc = p;
	al->dns = dns;
	al->routing = rt;
	al->signer = signer;
	al->arg = arg;
	TAILQ_INIT(&al->jobs);
}

static void
job_free(struct authd_list_job *j)
{
	size_t	 i;

	TAILQ_REMOVE(&j->al->jobs, j, entry);
	authd_list_njobs--;
	if (j->ev != NULL)
		dmarc_eval_cancel(j->ev);
	for (i = 0; i < j->nfrom; i++)
		free(j->from[i]);
	if (j->fd != -1)
		close(j->fd);
	buf_free(&j->hdr);
	free(j);
}

static void
answer_end(struct authd_lists *al, uint64_t evpid, int status,
    uint64_t body_offset, const char *why)
{
	struct msg_list_end	 e;

	memset(&e, 0, sizeof(e));
	e.evpid = evpid;
	e.status = status;
	e.body_offset = body_offset;
	strlcpy(e.why, why, sizeof(e.why));
	proc_compose(al->proc, PROC_QUEUE, IMSG_LIST_END, 0, -1, &e,
	    sizeof(e));
}

static void
answer_header(struct authd_lists *al, uint64_t evpid, const struct buf *b)
{
	struct msg_list_header	*h;
	size_t			 off, n;

	h = xcalloc(1, sizeof(*h));
	for (off = 0; off < b->len; off += n) {
		n = b->len - off < LIST_HEADER_CHUNK ? b->len - off :
		    LIST_HEADER_CHUNK;
		memset(h, 0, sizeof(*h));
		h->evpid = evpid;
		h->len = n;
		memcpy(h->data, b->data + off, n);
		proc_compose(al->proc, PROC_QUEUE, IMSG_LIST_HEADER, 0, -1, h,
		    sizeof(*h));
	}
	free(h);
}

/* Read the header section: up to and with the empty line. */
static int
read_header(struct authd_list_job *j, char *why, size_t whylen)
{
	uint8_t		 chunk[LIST_READ_CHUNK];
	ssize_t		 n;
	long		 off;

	for (;;) {
		n = pread(j->fd, chunk, sizeof(chunk), (off_t)j->hdr.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "reading the message: %s",
			    strerror(errno));
			return -1;
		}
		if (n > 0 && buf_add(&j->hdr, chunk, (size_t)n) == -1) {
			snprintf(why, whylen, "header section larger than %d "
			    "bytes", LISTHDR_HEADER_MAX);
			return 1;
		}
		if ((off = listhdr_body_offset(j->hdr.data, j->hdr.len)) !=
		    -1) {
			j->body_offset = (uint64_t)off;
			break;
		}
		if (j->hdr.len > LISTHDR_HEADER_MAX + 2) {
			j->body_offset = j->hdr.len;	/* too long */
			break;
		}
		if (n == 0) {		/* no body: all of it is header */
			j->body_offset = j->hdr.len;
			break;
		}
	}
	if (j->body_offset > LISTHDR_HEADER_MAX + 2) {
		snprintf(why, whylen, "header section larger than %d bytes",
		    LISTHDR_HEADER_MAX);
		return 1;
	}
	return 0;
}

/* The length of the section without its empty line. */
static size_t
header_fields_len(const struct authd_list_job *j)
{
	size_t	 len = j->body_offset;

	if (len > 0 && j->hdr.data[len - 1] == '\n' && len >= 2 &&
	    j->body_offset <= j->hdr.len) {
		len--;
		if (len > 0 && j->hdr.data[len - 1] == '\r')
			len--;
	}
	return len;
}

static enum arc_result
recorded_arc(const char *arc)
{
	if (strcasecmp(arc, "pass") == 0)
		return ARC_PASS;
	if (strcasecmp(arc, "fail") == 0)
		return ARC_FAIL;
	if (arc[0] == '\0' || strcasecmp(arc, "none") == 0)
		return ARC_NONE;
	return ARC_TEMPERROR;
}

/* The original body, from the descriptor, to a signer: -1 on error. */
static int
feed_body(struct authd_list_job *j, void (*feed)(void *, const void *,
    size_t), void *arg)
{
	uint8_t		 chunk[LIST_READ_CHUNK];
	uint64_t	 pos = j->body_offset;
	ssize_t		 n;

	for (;;) {
		n = pread(j->fd, chunk, sizeof(chunk), (off_t)pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		feed(arg, chunk, (size_t)n);
		pos += (uint64_t)n;
	}
}

static void
feed_dkim(void *arg, const void *p, size_t len)
{
	dkim_sign_feed(arg, p, len);
}

static void
feed_arc(void *arg, const void *p, size_t len)
{
	arc_seal_feed(arg, p, len);
}

/*
 * DKIM-sign the copy (its new section, then the original body): the
 * DKIM-Signature goes into out.  Not signed (logged) when it cannot be:
 * the copy still goes, as an unsigned one would without "sign with".
 */
static void
sign(struct authd_list_job *j, const struct buf *section, struct buf *out)
{
	struct authd_lists	*al = j->al;
	struct dkim_signer	 sg;
	struct dkim_sign	*s;
	char			 err[256];
	int			 rv;

	memset(&sg, 0, sizeof(sg));
	if (al->signer(al->arg, j->l.dkim_sign, &sg) == -1) {
		log_warnx("authd: list %s: sign with %s: no such key",
		    j->l.name, j->l.dkim_sign);
		return;
	}
	s = dkim_sign_new();
	if (dkim_sign_add(s, &sg, err, sizeof(err)) == -1) {
		log_warnx("authd: list %s: sign with %s: %s", j->l.name,
		    j->l.dkim_sign, err);
		dkim_sign_free(s);
		return;
	}
	dkim_sign_feed(s, section->data, section->len);
	if (feed_body(j, feed_dkim, s) == -1) {
		log_warn("authd: list %s: not signed: reading the message",
		    j->l.name);
		dkim_sign_free(s);
		return;
	}
	rv = dkim_sign_end(s, out, err, sizeof(err));
	dkim_sign_free(s);
	if (rv == 0)
		log_info("authd: list %s: DKIM-signed (d=%s)", j->l.name,
		    sg.domain);
	else {
		out->len = 0;
		log_info("authd: list %s: not signed: %s", j->l.name, err);
	}
}

/*
 * ARC-seal the copy (its new section, then the original body): the set
 * goes into sealed, in front of everything.  Not sealed (logged) when
 * the chain cannot be: the copy still goes.
 */
static void
seal(struct authd_list_job *j, const struct buf *section, struct buf *sealed)
{
	struct authd_lists	*al = j->al;
	struct dkim_signer	 sg;
	struct arc_sealer	 cfg;
	struct arc_seal		*s;
	char			 ar[ARC_MAX_AUTHRES], arc[16], err[256];
	const char		*authserv = al->routing->conf->hostname;
	enum arc_result		 cv;
	int			 rv;

	memset(&sg, 0, sizeof(sg));
	if (al->signer(al->arg, j->l.arc_seal, &sg) == -1) {
		log_warnx("authd: list %s: arc-seal with %s: no such key",
		    j->l.name, j->l.arc_seal);
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.key = sg.key;
	cfg.alg = sg.alg;
	cfg.domain = sg.domain;
	cfg.selector = sg.selector;
	cfg.headers = sg.headers;
	if (listhdr_our_authres((const char *)j->hdr.data,
	    header_fields_len(j), authserv, ar, sizeof(ar), arc,
	    sizeof(arc)) == -1) {
		/* mail submitted here: nothing was verified, nothing is */
		snprintf(ar, sizeof(ar), "%s; none", authserv);
		arc[0] = '\0';
	}
	if ((cv = recorded_arc(arc)) == ARC_TEMPERROR) {
		log_info("authd: list %s: not sealed: the ARC chain was not "
		    "validated on receipt (arc=%s)", j->l.name, arc);
		return;
	}
	cfg.authres = ar;
	if ((s = arc_seal_new(&cfg, err, sizeof(err))) == NULL) {
		log_warnx("authd: list %s: arc-seal with %s: %s", j->l.name,
		    j->l.arc_seal, err);
		return;
	}
	arc_seal_feed(s, section->data, section->len);
	if (feed_body(j, feed_arc, s) == -1) {
		log_warn("authd: list %s: not sealed: reading the message",
		    j->l.name);
		arc_seal_free(s);
		return;
	}
	rv = arc_seal_end(s, cv, sealed, err, sizeof(err));
	arc_seal_free(s);
	if (rv == 0)
		log_info("authd: list %s: ARC-sealed (cv=%s)", j->l.name,
		    arc_result_name(cv));
	else {
		sealed->len = 0;
		log_info("authd: list %s: not sealed: %s", j->l.name, err);
	}
}

static void
finish(struct authd_list_job *j, int rewrite_from)
{
	struct authd_lists	*al = j->al;
	struct listhdr_params	 p;
	struct buf		 section, signature, sealed, tmp;
	char			 why[256];
	int			 status;

	memset(&p, 0, sizeof(p));
	p.name = j->l.name;
	p.address = j->l.address;
	p.unsubscribe = j->l.unsubscribe;
	p.subject_tag = j->l.subject_tag;
	p.rewrite_from = rewrite_from;
	p.dkim_signed = j->l.dkim_sign[0] != '\0';
	buf_init(&section, LISTHDR_OUT_MAX);
	buf_init(&signature, LIST_DKIM_MAX + LISTHDR_OUT_MAX);
	/* what the queue takes: more is refused below, never sent */
	buf_init(&sealed, LISTHDR_COPY_MAX);
	switch (listhdr_build((const char *)j->hdr.data, header_fields_len(j),
	    &p, &section, why, sizeof(why))) {
	case LISTHDR_OK:
		/* the DKIM-Signature first, then sealed with the rest */
		if (j->l.dkim_sign[0] != '\0')
			sign(j, &section, &signature);
		if (signature.len > 0) {
			if (buf_add(&signature, section.data, section.len) ==
			    -1) {
				status = LIST_BUILD_BAD;
				strlcpy(why, "the new header section is too "
				    "large", sizeof(why));
				break;
			}
			tmp = section;
			section = signature;
			signature = tmp;
		}
		if (j->l.arc_seal[0] != '\0')
			seal(j, &section, &sealed);
		if (buf_add(&sealed, section.data, section.len) == -1) {
			status = LIST_BUILD_BAD;
			strlcpy(why, "the new header section is too large",
			    sizeof(why));
			break;
		}
		answer_header(al, j->evpid, &sealed);
		status = LIST_BUILD_OK;
		log_info("authd: list %s: header written%s", j->l.name,
		    rewrite_from ? ", From rewritten" : "");
		break;
	case LISTHDR_LOOP:
		status = LIST_BUILD_LOOP;
		break;
	default:
		status = LIST_BUILD_BAD;
		break;
	}
	answer_end(al, j->evpid, status, j->body_offset, status ==
	    LIST_BUILD_OK ? "" : why);
	buf_free(&section);
	buf_free(&signature);
	buf_free(&sealed);
	job_free(j);
}

static void
dmarc_done(void *arg, const struct dmarc_outcome *o)
{
	struct authd_list_job	*j = arg;
	int			 rewrite;

	j->ev = NULL;
	if (o->result == DMARC_RESULT_TEMPERROR) {
		answer_end(j->al, j->evpid, LIST_BUILD_TEMPFAIL, 0,
		    "DNS error looking up the author's DMARC policy");
		job_free(j);
		return;
	}
	rewrite = o->have_record && (o->policy == DMARC_POLICY_QUARANTINE ||
	    o->policy == DMARC_POLICY_REJECT);
	log_info("authd: list %s: author domain %s: DMARC policy %s", j->l.name,
	    o->header_from[0] != '\0' ? o->header_from : "(none)",
	    o->have_record ? dmarc_policy_name(o->policy) : "(no record)");
	finish(j, rewrite);
}

void
authd_list_imsg(struct authd_lists *al, struct imsg *imsg)
{
	struct msg_list_build		 m;
	struct authd_list_job		*j;
	const struct mailing_list	*l;
	struct dmarc_params		 dp;
	char				 why[256];
	int				 rv;

	if (imsg->hdr.type != IMSG_LIST_BUILD) {
		proc_unexpected(al->proc, PROC_QUEUE, imsg);
		return;
	}
	if (msg_get_list_build(imsg, &m) == -1 ||
	    authd_list_njobs >= LIST_MAX_JOBS)
		proc_bad_message(al->proc, PROC_QUEUE, imsg);
	if ((l = config_find_list(al->routing->conf, m.list)) == NULL) {
		close(imsg->fd);
		answer_end(al, m.evpid, LIST_BUILD_TEMPFAIL, 0,
		    "authd does not know the list");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->al = al;
	j->evpid = m.evpid;
	j->l = *l;
	j->fd = imsg->fd;
	/* the header and what the read that found its end took of the body */
	buf_init(&j->hdr, LISTHDR_HEADER_MAX + 2 + LIST_READ_CHUNK);
	TAILQ_INSERT_TAIL(&al->jobs, j, entry);
	authd_list_njobs++;
	if ((rv = read_header(j, why, sizeof(why))) != 0) {
		answer_end(al, j->evpid, rv == -1 ? LIST_BUILD_TEMPFAIL :
		    LIST_BUILD_BAD, 0, why);
		job_free(j);
		return;
	}
	if (j->l.from_rewrite != LIST_FROM_DMARC) {
		finish(j, j->l.from_rewrite == LIST_FROM_ALWAYS);
		return;
	}
	j->nfrom = listhdr_from_fields((const char *)j->hdr.data,
	    header_fields_len(j), j->from, LIST_MAX_FROM);
	if (j->nfrom == 0) {
		finish(j, 0);
		return;
	}
	memset(&dp, 0, sizeof(dp));
	dp.from_fields = (const char *const *)j->from;
	dp.nfrom = j->nfrom;
	dp.mail_from = "";
	dp.helo = "";
	dp.source_ip = "";
	dp.envelope_to = "";
	j->ev = dmarc_eval_start(al->dns, &dp, dmarc_done, j);
}

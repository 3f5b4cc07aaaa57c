/*
 * The ESMTP parameters of MAIL and RCPT for one envelope, as far as the
 * server's EHLO offered the extensions: SIZE (RFC 1870), BODY=8BITMIME
 * (RFC 6152), SMTPUTF8 (RFC 6531), REQUIRETLS (RFC 8689) and the DSN
 * parameters RET, ENVID,
 * NOTIFY and ORCPT (RFC 3461), passed on as they came.  Deciding whether
 * a server that lacks an extension may take the message at all is the
 * session's (mta/session.c, session_begin_task()).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <string.h>

#include "envelope.h"
#include "mta/mta.h"
#include "smtp_reply.h"
#include "util.h"

void
mta_mail_params(const struct smtp_caps *caps, const struct envelope *e,
    uint64_t size, struct buf *b)
{
	if (caps->flags & SMTP_CAP_SIZE)
		buf_printf(b, " SIZE=%llu", (unsigned long long)size);
	if ((e->flags & ENV_F_8BITMIME) && (caps->flags & SMTP_CAP_8BITMIME))
		buf_addstr(b, " BODY=8BITMIME");
	if ((e->flags & ENV_F_SMTPUTF8) && (caps->flags & SMTP_CAP_SMTPUTF8))
		buf_addstr(b, " SMTPUTF8");
	/* RFC 8689 4.2.1: the session checked that the server may take it */
	if ((e->flags & ENV_F_REQUIRETLS) &&
	    (caps->flags & SMTP_CAP_REQUIRETLS))
		buf_addstr(b, " REQUIRETLS");
	if (!(caps->flags & SMTP_CAP_DSN))
		return;
	/* RFC 3461 4.3, 4.4: passed on as they came */
	if (e->ret == ENV_RET_FULL)
		buf_addstr(b, " RET=FULL");
	else if (e->ret == ENV_RET_HDRS)
		buf_addstr(b, " RET=HDRS");
	if (e->envid[0] != '\0') {
		buf_addstr(b, " ENVID=");
		smtp_xtext_encode(e->envid, b);
	}
}

void
mta_rcpt_params(const struct smtp_caps *caps, const struct envelope *e,
    struct buf *b)
{
	const char	*semi;
	int		 first = 1;

	if (!(caps->flags & SMTP_CAP_DSN))
		return;
	/* RFC 3461 4.1 NOTIFY, 4.2 ORCPT */
	if (e->notify != 0) {
		buf_addstr(b, " NOTIFY=");
		if (e->notify & ENV_NOTIFY_NEVER)
			buf_addstr(b, "NEVER");
		else {
			if (e->notify & ENV_NOTIFY_SUCCESS) {
				buf_addstr(b, "SUCCESS");
				first = 0;
			}
			if (e->notify & ENV_NOTIFY_FAILURE) {
				buf_addstr(b, first ? "FAILURE" : ",FAILURE");
				first = 0;
			}
			if (e->notify & ENV_NOTIFY_DELAY)
				buf_addstr(b, first ? "DELAY" : ",DELAY");
		}
	}
	if (e->orcpt[0] != '\0' && (semi = strchr(e->orcpt, ';')) != NULL) {
		buf_printf(b, " ORCPT=%.*s;", (int)(semi - e->orcpt),
		    e->orcpt);
		smtp_xtext_encode(semi + 1, b);
	}
}

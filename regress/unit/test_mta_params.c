/*
 * mta/params.c: the ESMTP parameters of MAIL and RCPT, each only when the
 * server offered its extension (SIZE, 8BITMIME, SMTPUTF8, DSN), and the
 * DSN values passed on as they came, xtext-encoded (RFC 3461 4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "envelope.h"
#include "mta/mta.h"
#include "smtp_reply.h"
#include "util.h"

static void
envelope_full(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->flags = ENV_F_8BITMIME | ENV_F_SMTPUTF8;
	e->ret = ENV_RET_HDRS;
	strlcpy(e->envid, "id+1=x", sizeof(e->envid));
	e->notify = ENV_NOTIFY_SUCCESS | ENV_NOTIFY_DELAY;
	strlcpy(e->orcpt, "rfc822;b=ob@example.org", sizeof(e->orcpt));
}

static void
test_mail_params(void **state)
{
	struct smtp_caps	 caps;
	struct envelope		 e;
	struct buf		 b;

	envelope_full(&e);
	memset(&caps, 0, sizeof(caps));
	buf_init(&b, 4096);
	mta_mail_params(&caps, &e, 1234, &b);
	assert_string_equal(buf_cstr(&b), "");
	buf_reset(&b);
	caps.flags = SMTP_CAP_SIZE | SMTP_CAP_8BITMIME | SMTP_CAP_SMTPUTF8 |
	    SMTP_CAP_DSN;
	mta_mail_params(&caps, &e, 1234, &b);
	assert_string_equal(buf_cstr(&b),
	    " SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx");
	buf_free(&b);
}

static void
test_rcpt_params(void **state)
{
	struct smtp_caps	 caps;
	struct envelope		 e;
	struct buf		 b;

	envelope_full(&e);
	memset(&caps, 0, sizeof(caps));
	buf_init(&b, 4096);
	mta_rcpt_params(&caps, &e, &b);
	assert_string_equal(buf_cstr(&b), "");
	caps.flags = SMTP_CAP_DSN;
	mta_rcpt_params(&caps, &e, &b);
	assert_string_equal(buf_cstr(&b),
	    " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+3Dob@example.org");
	buf_reset(&b);
	e.notify = ENV_NOTIFY_NEVER;
	e.orcpt[0] = '\0';
	mta_rcpt_params(&caps, &e, &b);
	assert_string_equal(buf_cstr(&b), " NOTIFY=NEVER");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

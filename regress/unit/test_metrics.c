/*
 * lib/metrics.c: counters in the Prometheus text format — families with
 * HELP and TYPE once, label values from the names' last parts, escaping,
 * unknown counters untyped, and a full buffer refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

static size_t
count(const char *hay, const char *needle)
{
	size_t	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
test_format(void **state)
{
	const struct msg_ctl_stat s[] = {
		{ "smtp.sessions", 7 },
		{ "smtp.sessions.open", 2 },
		{ "smtp.messages.rejected.too_big", 1 },
		{ "smtp.messages.dropped.other", 3 },
		{ "smtp.messages.queue_failures", 4 },
		{ "authd.result.spf.pass", 5 },
		{ "authd.result.dkim.fail", 6 },
		{ "queue.messages", 9 },
		{ "queue.delivered", 11 },
		{ "mta.tls.certificate-host-mismatch", 1 },
		{ "odd.new-counter", 12 },
	};
	struct buf	 b;
	const char	*t;

	buf_init(&b, 1 << 16);
	assert_int_equal(metrics_format(s, sizeof(s) / sizeof(s[0]), &b), 0);
	t = buf_cstr(&b);
	assert_non_null(strstr(t, "# TYPE postern_smtp_sessions_total "
	    "counter\npostern_smtp_sessions_total 7\n"));
	assert_non_null(strstr(t, "# TYPE postern_smtp_sessions_open gauge\n"
	    "postern_smtp_sessions_open 2\n"));
	/* one family for rejected and dropped, described once */
	assert_int_equal(count(t, "# TYPE postern_smtp_messages_rejected_total"),
	    1);
	assert_int_equal(count(t, "# HELP postern_smtp_messages_rejected_total"),
	    1);
	assert_non_null(strstr(t, "postern_smtp_messages_rejected_total"
	    "{reason=\"too_big\"} 1\n"));
	assert_non_null(strstr(t, "postern_smtp_messages_rejected_total"
	    "{reason=\"other\"} 3\n"));
	assert_non_null(strstr(t, "postern_smtp_messages_deferred_total"
	    "{reason=\"queue_failure\"} 4\n"));
	/* two labels from two parts */
	assert_non_null(strstr(t, "postern_authd_results_total{method=\"spf\","
	    "result=\"pass\"} 5\n"));
	assert_non_null(strstr(t, "postern_authd_results_total{method="
	    "\"dkim\",result=\"fail\"} 6\n"));
	assert_non_null(strstr(t, "postern_queue_envelopes_done_total{result="
	    "\"delivered\"} 11\n"));
	assert_non_null(strstr(t, "postern_mta_tls_results_total{result="
	    "\"certificate-host-mismatch\"} 1\n"));
	/* unknown: shown, untyped, a valid name */
	assert_non_null(strstr(t, "# TYPE postern_odd_new_counter untyped\n"
	    "postern_odd_new_counter 12\n"));
	/* families without samples are not written */
	assert_null(strstr(t, "postern_reportd"));
	assert_true(metrics_known("smtp.rcpt.relay_denied"));
	assert_false(metrics_known("smtp.rcpt."));
	assert_false(metrics_known("odd.new-counter"));
	buf_free(&b);

	/* a buffer too small: -1, never a cut line counted as done */
	buf_init(&b, 32);
	assert_int_equal(metrics_format(s, sizeof(s) / sizeof(s[0]), &b), -1);
	buf_free(&b);
}

static void
test_escape(void **state)
{
	const struct msg_ctl_stat s[] = {
		{ "mta.tls.a\"b\\c", 1 },
	};
	struct buf	 b;

	buf_init(&b, 4096);
	assert_int_equal(metrics_format(s, 1, &b), 0);
	assert_non_null(strstr(buf_cstr(&b),
	    "{result=\"a\\\"b\\\\c\"} 1\n"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Counters as Prometheus metrics (lib/metrics.h).  Each row of the table
 * names a counter, or a prefix ending in '.' whose remaining parts become
 * the values of the row's labels; rows of one family are adjacent, and
 * the family is written once, with its HELP and TYPE, before its samples.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

enum metric_type {
	M_COUNTER,
	M_GAUGE
};

struct metric_row {
	const char		*stat;	/* a name, or a prefix ending in '.' */
	const char		*family;
	enum metric_type	 type;
	const char		*labels; /* "reason" or "method,result": the
					    parts after the prefix; or a
					    fixed "name=value" */
	const char		*help;
};

static const struct metric_row rows[] = {
	/* smtp */
	{ "smtp.sessions", "postern_smtp_sessions_total", M_COUNTER, NULL,
	    "SMTP sessions accepted." },
	{ "smtp.sessions.open", "postern_smtp_sessions_open", M_GAUGE, NULL,
	    "SMTP sessions open now." },
	{ "smtp.sessions.closed.limit", "postern_smtp_sessions_limited_total",
	    M_COUNTER, NULL, "SMTP sessions closed by a limit (lifetime, "
	    "data rate, idle commands)." },
	{ "smtp.refused.", "postern_smtp_connections_refused_total",
	    M_COUNTER, "reason", "Connections refused before the greeting." },
	{ "smtp.accept.paused_no_descriptors",
	    "postern_smtp_accept_paused_total", M_COUNTER, NULL,
	    "Times accepting paused for want of file descriptors." },
	{ "smtp.backpressure.sessions_paused",
	    "postern_smtp_sessions_paused_total", M_COUNTER, NULL,
	    "Times a session's reading paused while the queue caught up." },
	{ "smtp.messages.accepted", "postern_smtp_messages_accepted_total",
	    M_COUNTER, NULL, "Messages accepted (250 after DATA)." },
	{ "smtp.messages.quarantined",
	    "postern_smtp_messages_quarantined_total", M_COUNTER, NULL,
	    "Messages accepted into quarantine (DMARC p=quarantine)." },
	{ "smtp.messages.rejected.", "postern_smtp_messages_rejected_total",
	    M_COUNTER, "reason", "Messages refused with a 5xx reply." },
	{ "smtp.messages.dropped.", "postern_smtp_messages_rejected_total",
	    M_COUNTER, "reason", NULL },
	{ "smtp.messages.deferred.", "postern_smtp_messages_deferred_total",
	    M_COUNTER, "reason", "Messages refused with a 4xx reply." },
	{ "smtp.messages.queue_failures",
	    "postern_smtp_messages_deferred_total", M_COUNTER,
	    "reason=queue_failure", NULL },
	{ "smtp.rcpt.", "postern_smtp_recipients_refused_total", M_COUNTER,
	    "reason", "Recipients refused at RCPT." },
	{ "smtp.tls.handshake_failures",
	    "postern_smtp_tls_handshake_failures_total", M_COUNTER, NULL,
	    "STARTTLS handshakes that failed." },
	{ "smtp.forged_authentication_results_removed",
	    "postern_smtp_forged_ar_removed_total", M_COUNTER, NULL,
	    "Authentication-Results fields in our name removed from "
	    "incoming mail." },
	{ "smtp.auth.", "postern_smtp_auth_total", M_COUNTER, "result",
	    "SMTP AUTH attempts by outcome." },

	/* authd */
	{ "authd.result.", "postern_authd_results_total", M_COUNTER,
	    "method,result", "Authentication results of received messages "
	    "by method (as in Authentication-Results)." },
	{ "authd.verdict.", "postern_authd_verdicts_total", M_COUNTER,
	    "verdict", "Verdicts on received messages." },
	{ "authd.sasl.", "postern_authd_sasl_checks_total", M_COUNTER,
	    "result", "Credentials checked for SMTP AUTH." },

	/* queue */
	{ "queue.messages", "postern_queue_messages", M_GAUGE, NULL,
	    "Messages in the queue." },
	{ "queue.envelopes", "postern_queue_envelopes", M_GAUGE, NULL,
	    "Envelopes (recipients) in the queue." },
	{ "queue.scheduled", "postern_queue_scheduled", M_GAUGE, NULL,
	    "Envelopes waiting for their next attempt." },
	{ "queue.inflight", "postern_queue_inflight", M_GAUGE, NULL,
	    "Envelopes out for delivery now." },
	{ "queue.delivered", "postern_queue_envelopes_done_total", M_COUNTER,
	    "result=delivered", "Envelopes that left the queue, by how." },
	{ "queue.permfailed", "postern_queue_envelopes_done_total", M_COUNTER,
	    "result=bounced", NULL },
	{ "queue.expired", "postern_queue_envelopes_done_total", M_COUNTER,
	    "result=expired", NULL },
	{ "queue.removed", "postern_queue_envelopes_done_total", M_COUNTER,
	    "result=removed", NULL },
	{ "queue.tempfailed", "postern_queue_delivery_deferred_total",
	    M_COUNTER, NULL, "Delivery attempts that failed temporarily." },
	{ "queue.recovered", "postern_queue_recovered_total", M_COUNTER, NULL,
	    "Envelopes found again at start." },
	{ "queue.commits", "postern_queue_commits_total", M_COUNTER, NULL,
	    "Store commits (group commit: several messages each)." },
	{ "queue.messages_committed",
	    "postern_queue_messages_committed_total", M_COUNTER, NULL,
	    "Messages made safe on disk before their 250." },
	{ "queue.spool.low", "postern_queue_spool_low", M_GAUGE, NULL,
	    "1 while the spool is below minfree and mail is refused." },
	{ "queue.spool.free", "postern_queue_spool_free_bytes", M_GAUGE, NULL,
	    "Free space on the spool's filesystem." },
	{ "queue.spool.minfree", "postern_queue_spool_minfree_bytes", M_GAUGE,
	    NULL, "Free space under which new mail is refused." },
	{ "queue.spool.refused", "postern_queue_spool_refused_total",
	    M_COUNTER, NULL, "Messages refused for want of spool space." },
	{ "queue.spool.checks", "postern_queue_spool_checks_total", M_COUNTER,
	    NULL, "Free space checks." },
	{ "queue.spool.reserve", "postern_queue_spool_reserve_bytes", M_GAUGE,
	    NULL, "Space kept for the store's own bookkeeping." },
	{ "queue.spool.reserve_free", "postern_queue_spool_reserve_free_bytes",
	    M_GAUGE, NULL, "Of the reserve, what is free." },
	{ "queue.spool.reserve_refused",
	    "postern_queue_spool_reserve_refused_total", M_COUNTER, NULL,
	    "Writes refused to keep the reserve." },
	{ "queue.memory_held", "postern_queue_memory_bytes", M_GAUGE, NULL,
	    "Message bytes held in memory before their commit." },
	{ "queue.memory_peak", "postern_queue_memory_peak_bytes", M_GAUGE,
	    NULL, "The most message bytes held in memory at once." },
	{ "queue.memory_limit", "postern_queue_memory_limit_bytes", M_GAUGE,
	    NULL, "The limit of message bytes held in memory." },
	{ "queue.memory_refused", "postern_queue_memory_refused_total",
	    M_COUNTER, NULL, "Messages deferred at the memory limit." },

	/* mailing lists (queue/list.c) */
	{ "list.copies.", "postern_list_copies_total", M_COUNTER, "list",
	    "Copies of posts a mailing list queued for its members." },
	{ "list.recipients.", "postern_list_copy_recipients_total", M_COUNTER,
	    "list", "Member envelopes of those copies." },
	{ "list.bounces.", "postern_list_bounces_total", M_COUNTER, "list",
	    "Mail to a list's bounce address, counted and dropped." },

	/* mta */
	{ "mta.sessions", "postern_mta_sessions_total", M_COUNTER, NULL,
	    "Outbound SMTP sessions opened." },
	{ "mta.sessions.open", "postern_mta_sessions_open", M_GAUGE, NULL,
	    "Outbound SMTP sessions open now." },
	{ "mta.sessions.slow", "postern_mta_sessions_slow", M_GAUGE, NULL,
	    "Outbound SMTP sessions open now and waiting on a slow server "
	    "(mta-max-slow-sessions)." },
	{ "mta.connect_failures", "postern_mta_connect_failures_total",
	    M_COUNTER, NULL, "Outbound connections that failed." },
	{ "mta.delivery.", "postern_mta_deliveries_total", M_COUNTER, "result",
	    "Outbound delivery attempts per recipient, by result." },
	{ "mta.tls.", "postern_mta_tls_results_total", M_COUNTER, "result",
	    "Outcomes of TLS to mail exchangers (RFC 8460 result types)." },

	/* reportd */
	{ "reportd.evaluations.stored",
	    "postern_reportd_evaluations_stored_total", M_COUNTER, NULL,
	    "DMARC evaluations stored for aggregate reports." },
	{ "reportd.evaluations.waiting",
	    "postern_reportd_evaluations_waiting", M_GAUGE, NULL,
	    "Evaluations waiting for their commit." },
	{ "reportd.evaluations.held", "postern_reportd_evaluations_held",
	    M_GAUGE, NULL, "Evaluations held in memory while the spool is "
	    "full." },
	{ "reportd.evaluations.lost", "postern_reportd_evaluations_lost_total",
	    M_COUNTER, NULL, "Evaluations that could not be stored." },
	{ "reportd.tls.stored", "postern_reportd_tls_results_stored_total",
	    M_COUNTER, NULL, "TLS results stored for TLS reports." },
	{ "reportd.tls.lost", "postern_reportd_tls_results_lost_total",
	    M_COUNTER, NULL, "TLS results that could not be stored." },
	{ "reportd.spool.full", "postern_reportd_spool_full", M_GAUGE, NULL,
	    "1 while the evaluation store cannot grow." },
	{ "reportd.received.", "postern_reportd_received_total", M_COUNTER,
	    "result", "Reports received from other hosts, by outcome." },
	{ "reportd.reports.", "postern_reportd_reports_total", M_COUNTER,
	    "result", "Aggregate and TLS reports we sent, by outcome." },
	{ "reportd.failure.", "postern_reportd_failure_reports_total",
	    M_COUNTER, "result", "Failure reports, by outcome." },
};

#define NROWS	(sizeof(rows) / sizeof(rows[0]))

static int
is_prefix(const struct metric_row *r)
{
	size_t	 n = strlen(r->stat);

	return n > 0 && r->stat[n - 1] == '.';
}

/* The row for a counter: an exact name first, then a prefix. */
static const struct metric_row *
row_of(const char *name)
{
	const struct metric_row	*best = NULL;
	size_t			 i, n, bestlen = 0;

	for (i = 0; i < NROWS; i++) {
		n = strlen(rows[i].stat);
		if (!is_prefix(&rows[i])) {
			if (strcmp(rows[i].stat, name) == 0)
				return &rows[i];
			continue;
		}
		if (strncmp(rows[i].stat, name, n) == 0 && name[n] != '\0' &&
		    n > bestlen) {
			best = &rows[i];
			bestlen = n;
		}
	}
	return best;
}

int
metrics_known(const char *name)
{
	return row_of(name) != NULL;
}

/* A label value: the exposition format escapes \, " and newline. */
static int
add_label_value(struct buf *b, const char *v, size_t len)
{
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		if (v[i] == '\\' || v[i] == '"')
			rc = buf_printf(b, "\\%c", v[i]);
		else if (v[i] == '\n')
			rc = buf_addstr(b, "\\n");
		else
			rc = buf_add(b, &v[i], 1);
	}
	return rc;
}

/*
 * The labels of a sample: a fixed "name=value", or one label per name in
 * r->labels taking the dotted parts of the counter's name after the
 * prefix, the last label taking the rest.
 */
static int
add_labels(struct buf *b, const struct metric_row *r, const char *name)
{
	const char	*ln, *lend, *v, *vend, *eq;
	int		 first = 1;

	if (r->labels == NULL)
		return 0;
	if (buf_addstr(b, "{") == -1)
		return -1;
	if ((eq = strchr(r->labels, '=')) != NULL) {
		if (buf_printf(b, "%.*s=\"", (int)(eq - r->labels),
		    r->labels) == -1 || add_label_value(b, eq + 1,
		    strlen(eq + 1)) == -1 || buf_addstr(b, "\"}") == -1)
			return -1;
		return 0;
	}
	v = name + strlen(r->stat);
	for (ln = r->labels; *ln != '\0'; ln = *lend ? lend + 1 : lend) {
		lend = ln + strcspn(ln, ",");
		vend = *lend == ',' ? v + strcspn(v, ".") : v + strlen(v);
		if (buf_printf(b, "%s%.*s=\"", first ? "" : ",",
		    (int)(lend - ln), ln) == -1 ||
		    add_label_value(b, v, vend - v) == -1 ||
		    buf_addstr(b, "\"") == -1)
			return -1;
		first = 0;
		v = *vend == '.' ? vend + 1 : vend;
	}
	return buf_addstr(b, "}");
}

/* The help of a family: on its first row that has one. */
static const char *
family_help(const char *family)
{
	size_t	 i;

	for (i = 0; i < NROWS; i++)
		if (strcmp(rows[i].family, family) == 0 && rows[i].help != NULL)
			return rows[i].help;
	return "";
}

/* A counter no row knows: its name made a metric name, untyped. */
static int
format_unknown(const struct msg_ctl_stat *s, struct buf *b)
{
	char	 name[sizeof(s->name) + 8];
	size_t	 i, n;

	n = (size_t)snprintf(name, sizeof(name), "postern_%s", s->name);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			name[i] = '_';
	return buf_printf(b, "# HELP %s %s (no description)\n# TYPE %s "
	    "untyped\n%s %llu\n", name, s->name, name, name,
	    (unsigned long long)s->value);
}

int
metrics_format(const struct msg_ctl_stat *s, size_t n, struct buf *b)
{
	const struct metric_row	*r;
	const char		*done[NROWS];
	size_t			 i, j, k, ndone = 0;
	int			 seen;

	/* family by family, in the table's order */
	for (i = 0; i < NROWS; i++) {
		for (k = 0, seen = 0; k < ndone && !seen; k++)
			seen = strcmp(done[k], rows[i].family) == 0;
		if (seen)
			continue;
		done[ndone++] = rows[i].family;
		for (j = 0, seen = 0; j < n; j++) {
			if ((r = row_of(s[j].name)) == NULL ||
			    strcmp(r->family, rows[i].family) != 0)
				continue;
			if (!seen && buf_printf(b, "# HELP %s %s\n# TYPE %s "
			    "%s\n", r->family, family_help(r->family),
			    r->family, r->type == M_COUNTER ? "counter" :
			    "gauge") == -1)
				return -1;
			seen = 1;
			if (buf_addstr(b, r->family) == -1 ||
			    add_labels(b, r, s[j].name) == -1 ||
			    buf_printf(b, " %llu\n",
			    (unsigned long long)s[j].value) == -1)
				return -1;
		}
	}
	for (j = 0; j < n; j++)
		if (row_of(s[j].name) == NULL && format_unknown(&s[j], b) == -1)
			return -1;
	return 0;
}

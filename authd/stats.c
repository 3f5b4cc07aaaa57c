/*
 * authd's counters (authd/stats.h).  The pairs of method and result are
 * few (five methods, a handful of results each) and are kept as they
 * come, up to a bound no real mix reaches.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "authd/stats.h"
#include "msg.h"
#include "util.h"

#define STATS_PAIRS_MAX		64

static struct {
	struct {
		char	 name[48];	/* "spf.pass" */
		uint64_t n;
	}		 pairs[STATS_PAIRS_MAX];
	size_t		 npairs;
	uint64_t	 verdict[4];	/* enum inbound_verdict */
	uint64_t	 sasl[3];	/* AUTH_SASL_* */
} st;

static const char *verdict_names[] = {
	"accept", "quarantine", "reject", "tempfail"
};

static const char *sasl_names[] = { "ok", "failed", "tempfail" };

static void
pair_count(const char *method, const char *result)
{
	char	 name[sizeof(st.pairs[0].name)];
	size_t	 i;

	if (method == NULL || result == NULL ||
	    (size_t)snprintf(name, sizeof(name), "%s.%s", method, result) >=
	    sizeof(name))
		return;
	for (i = 0; i < st.npairs; i++)
		if (strcmp(st.pairs[i].name, name) == 0)
			break;
	if (i == st.npairs) {
		if (i == STATS_PAIRS_MAX)
			return;
		strlcpy(st.pairs[i].name, name, sizeof(st.pairs[i].name));
		st.npairs++;
	}
	st.pairs[i].n++;
}

void
authd_stats_message(const struct inbound_result *r)
{
	size_t	 i;

	for (i = 0; i < r->nmethods; i++)
		pair_count(r->methods[i].method, r->methods[i].result);
	if ((size_t)r->verdict < sizeof(st.verdict) / sizeof(st.verdict[0]))
		st.verdict[r->verdict]++;
}

void
authd_stats_sasl(int result)
{
	if (result >= 0 && (size_t)result < sizeof(st.sasl) /
	    sizeof(st.sasl[0]))
		st.sasl[result]++;
}

void
authd_stats_send(struct proc *p, uint32_t peerid)
{
	struct msg_ctl_stat	 m[STATS_PAIRS_MAX + 7];
	size_t			 n = 0, i;

	memset(m, 0, sizeof(m));
	for (i = 0; i < sizeof(st.verdict) / sizeof(st.verdict[0]); i++) {
		snprintf(m[n].name, sizeof(m[n].name), "authd.verdict.%s",
		    verdict_names[i]);
		m[n++].value = st.verdict[i];
	}
	for (i = 0; i < sizeof(st.sasl) / sizeof(st.sasl[0]); i++) {
		snprintf(m[n].name, sizeof(m[n].name), "authd.sasl.%s",
		    sasl_names[i]);
		m[n++].value = st.sasl[i];
	}
	for (i = 0; i < st.npairs; i++) {
		snprintf(m[n].name, sizeof(m[n].name), "authd.result.%s",
		    st.pairs[i].name);
		m[n++].value = st.pairs[i].n;
	}
	proc_ctl_stats(p, peerid, m, n);
}

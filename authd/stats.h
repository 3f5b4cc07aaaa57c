/*
 * authd's counters for posternctl show stats and show metrics
 * (lib/metrics.c): the results of each authentication method on received
 * messages, as Authentication-Results gives them, the verdicts, and the
 * credentials checks of SMTP AUTH.  Process-wide, since authd has one.
 */
#ifndef POSTERN_AUTHD_STATS_H
#define POSTERN_AUTHD_STATS_H

#include <stdint.h>

#include "auth/inbound.h"
#include "posternd/proc.h"

void	authd_stats_message(const struct inbound_result *);
/* A credentials check's outcome: AUTH_SASL_OK, _FAIL or _TEMPFAIL. */
void	authd_stats_sasl(int result);
void	authd_stats_send(struct proc *, uint32_t peerid);

#endif

/*
 * When a DMARC record asks for a failure report (RFC 9989 4.7 fo=, RFC
 * 9991 2): the test authd runs on each evaluation before it hands the
 * message's header section to reportd, and reportd again on what it gets.
 */
#ifndef POSTERN_RUF_H
#define POSTERN_RUF_H

#include "auth/dmarc.h"

/*
 * 1 when the record r was evaluated under asks for a failure report of
 * this message, given that it lists ruf URIs: fo=0 when no mechanism gave
 * an aligned pass, fo=1 when one did not, fo=d when a DKIM signature
 * failed, fo=s when SPF failed, whatever the alignment; never for a
 * record with psd=y (RFC 9991 2) or none at all.  0 otherwise.
 */
int		 dmarc_ruf_wanted(const struct dmarc_eval_record *r);

/*
 * RFC 9991 4 Identity-Alignment: the mechanisms that failed to
 * authenticate an aligned identity ("dkim", "spf", "dkim, spf"), or
 * "none".
 */
const char	*dmarc_ruf_alignment(const struct dmarc_eval_record *r);

#endif

/*
 * libFuzzer target for mta/sts.c: the MTA-STS policy file and TXT record
 * that any receiving domain's servers choose, and the HTTP answer that
 * carries the policy.  The first byte says which parser; the rest is the
 * input.  Checked: no crash or leak, a policy
 * that parses keeps to its bounds, and every exact mx pattern matches
 * itself and any case of itself.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/sts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_policy(const uint8_t *p, size_t len)
{
	static struct sts_policy	 pol;
	char				 why[256], up[STS_PATTERN_MAX + 1];
	size_t				 i, k;

	if (sts_policy_parse((const char *)p, len, &pol, why,
	    sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();	/* a refusal always says why */
		return;
	}
	if (pol.nmx > STS_MX_MAX || pol.max_age > STS_MAX_AGE_MAX ||
	    (pol.mode != STS_MODE_NONE && pol.nmx == 0))
		abort();
	for (i = 0; i < pol.nmx; i++) {
		if (pol.mx[i][0] == '*')
			continue;
		for (k = 0; pol.mx[i][k] != '\0'; k++)
			up[k] = toupper((unsigned char)pol.mx[i][k]);
		up[k] = '\0';
		if (!sts_policy_match(&pol, pol.mx[i]) ||
		    !sts_policy_match(&pol, up))
			abort();
	}
}

static void
check_txt(const uint8_t *p, size_t len)
{
	char		*s, id[STS_ID_MAX + 1], why[256];
	const char	*recs[1];

	s = malloc(len + 1);
	memcpy(s, p, len);
	s[len] = '\0';
	recs[0] = s;
	if (sts_txt_select(recs, 1, id, why, sizeof(why)) == STS_TXT_FOUND &&
	    (strlen(id) == 0 || strlen(id) > STS_ID_MAX))
		abort();
	free(s);
}

/* The answer of a policy server; a body it yields is inside the input. */
static void
check_http(const uint8_t *p, size_t len)
{
	const char	*body;
	size_t		 blen;
	char		 why[256];

	if (sts_http_response((const char *)p, len, &body, &blen, why,
	    sizeof(why)) == 0) {
		if (body < (const char *)p || body + blen != (const char *)p +
		    len || blen > STS_POLICY_MAX)
			abort();
		check_policy((const uint8_t *)body, blen);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		check_policy(data + 1, size - 1);
		break;
	case 1:
		check_txt(data + 1, size - 1);
		break;
	default:
		check_http(data + 1, size - 1);
		break;
	}
	return 0;
}

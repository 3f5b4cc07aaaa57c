/*
 * libFuzzer target for what posternctl debug delivery handles: the
 * request as control and the mta decode it (msg_get_ctl_debug()), the
 * lines the mta writes of values that DNS answers and SMTP replies fill
 * (mta_debug_format()), and the trust anchor text it hands to libunbound
 * (dns_ctx_resolver_mem()).  The first byte says which; the rest is the
 * input.  Checked: no crash or leak; a decoded request's tails lie inside
 * it; every JSON line parses (jansson) as one object with its step and
 * every key; a human line holds no control byte but its newline.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dns.h"
#include "imsg.h"
#include "msg.h"
#include "mta/debug.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_request(const uint8_t *p, size_t len)
{
	struct msg_ctl_debug	 d;
	struct imsg		 imsg;
	const uint8_t		*ta, *ca;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = (void *)p;
	imsg.len = len;
	if (msg_get_ctl_debug(&imsg, &d, &ta, &ca) == -1)
		return;
	if (ta != p + sizeof(d) || ca + d.ca_len != p + len ||
	    d.ta_len > CTL_DEBUG_TA_MAX || d.ca_len > CTL_DEBUG_CA_MAX ||
	    d.rcpt[0] == '\0')
		abort();
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/*
 * Up to 9 NUL-separated strings: a step, then the values of keys k0 ..
 * k7 (steps and keys are the mta's own words; values come from DNS
 * answers and SMTP replies).
 */
static void
check_format(const uint8_t *p, size_t len)
{
	static const char *const keys[8] = { "k0", "k1", "k2", "k3", "k4",
	    "k5", "k6", "k7" };
	const char	*kv[16];
	char		*copy, *s[9];
	size_t		 n = 0, i;
	struct buf	 b;
	json_t		*j, *v;
	json_error_t	 err;

	copy = malloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = '\0';
	s[n++] = copy;
	for (i = 0; i < len && n < 9; i++)
		if (copy[i] == '\0')
			s[n++] = copy + i + 1;
	for (i = 1; i < n; i++) {
		kv[2 * (i - 1)] = keys[i - 1];
		kv[2 * (i - 1) + 1] = s[i][0] == 'N' && s[i][1] == '\0' ?
		    mta_debug_null : s[i];
	}
	buf_init(&b, 1024 * 1024);
	mta_debug_format(&b, 1, s[0], kv, 2 * (n - 1));
	if (b.len == 0 || b.data[b.len - 1] != '\n' ||
	    memchr(b.data, '\n', b.len - 1) != NULL)
		abort();
	j = json_loadb((const char *)b.data, b.len - 1, 0, &err);
	if (j == NULL || !json_is_object(j) ||
	    !json_is_string(json_object_get(j, "step")))
		abort();
	for (i = 1; i < n; i++) {
		v = json_object_get(j, keys[i - 1]);
		if (v == NULL || (kv[2 * (i - 1) + 1] == mta_debug_null ?
		    !json_is_null(v) : !json_is_string(v)))
			abort();
		if (json_is_string(v) && printable(s[i]) &&
		    strcmp(json_string_value(v), s[i]) != 0)
			abort();
	}
	json_decref(j);
	buf_reset(&b);
	mta_debug_format(&b, 0, "rcpt", kv, 2 * (n - 1));
	for (i = 0; i + 1 < b.len; i++)
		if (b.data[i] < 0x20 || b.data[i] >= 0x7f)
			abort();
	buf_free(&b);
	free(copy);
}

static void
check_trust_anchor(const uint8_t *p, size_t len)
{
	struct dns_ctx	*ctx;
	char		 err[256];

	if ((ctx = dns_ctx_resolver_mem(NULL, "127.0.0.1", (const char *)p,
	    len, err, sizeof(err))) != NULL)
		dns_ctx_free(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		check_request(data + 1, size - 1);
		break;
	case 1:
		check_format(data + 1, size - 1);
		break;
	default:
		check_trust_anchor(data + 1, size - 1);
		break;
	}
	return 0;
}

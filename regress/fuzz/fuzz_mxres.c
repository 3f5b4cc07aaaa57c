/*
 * Fuzz MX resolution (mta/mxres.c: RFC 5321 5.1 with null MX, RFC 7505,
 * CNAMEs, the loop rules) over an in-memory zone whose records the input
 * chooses.  Input: one option byte (family, domain or smarthost lookup, a
 * name from the input, loop checks), a second for the order among equal
 * preferences, then records: an op byte -- owner from a small set of
 * names and type (A, AAAA, MX, CNAME, null MX, $SERVFAIL, a hostile MX
 * target) -- and its rdata from the following bytes (addresses as raw
 * octets, preferences as two, targets from the name set or a hostile
 * label written \DDD).  With option bit 0x20 the first line is the name
 * looked up (address literals included) and the records follow it.
 *
 * A usable result must hold what mxres.h promises: at least one host,
 * each with addresses, within the bounds, and with the loop checks on no
 * address the checks refuse.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "mta/mxres.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const names[8] = {
	"fuzz.test.",
	"mx1.fuzz.test.",
	"mx2.fuzz.test.",
	"c.fuzz.test.",
	"mx.other.test.",
	"other.test.",
	"self.fuzz.test.",
	"a.b.fuzz.test.",
};

struct rd {
	const uint8_t	*p;
	size_t		 len, off;
};

static int
next(struct rd *r)
{
	return r->off < r->len ? r->p[r->off++] : -1;
}

/* A target from the name set, or (hostile, or bit 7) a hostile label. */
static void
put_target(struct buf *z, struct rd *r, int hostile)
{
	int	 c, n, i;

	if ((c = next(r)) == -1)
		c = 1;
	if (!hostile && (c & 0x80) == 0) {
		buf_addstr(z, names[c & 7]);
		return;
	}
	n = c & 31;
	if (n == 0)
		n = 1;
	for (i = 0; i < n && (c = next(r)) != -1; i++)
		buf_printf(z, "\\%03u", (unsigned)c);
	buf_addstr(z, i > 0 ? ".fuzz.test." : "x.fuzz.test.");
}

static void
zone_from_input(struct buf *z, struct rd *r)
{
	char		 a[INET6_ADDRSTRLEN];
	uint8_t		 b[16];
	int		 op, c, i, n, pref;

	while ((op = next(r)) != -1) {
		const char	*owner = names[op & 7];

		switch ((op >> 3) & 7) {
		case 0:	/* A */
		case 1:	/* AAAA */
			n = (op >> 3) & 7 ? 16 : 4;
			memset(b, 0, sizeof(b));
			for (i = 0; i < n && (c = next(r)) != -1; i++)
				b[i] = (uint8_t)c;
			inet_ntop(n == 4 ? AF_INET : AF_INET6, b, a,
			    sizeof(a));
			buf_printf(z, "%s %s %s\n", owner,
			    n == 4 ? "A" : "AAAA", a);
			break;
		case 2:	/* MX */
		case 7:	/* MX to a hostile name */
			pref = next(r);
			pref = (pref == -1 ? 0 : pref << 8) | (next(r) & 0xff);
			buf_printf(z, "%s MX %d ", owner, pref & 0xffff);
			put_target(z, r, ((op >> 3) & 7) == 7);
			buf_addstr(z, "\n");
			break;
		case 3:	/* CNAME */
			buf_printf(z, "%s CNAME ", owner);
			put_target(z, r, 0);
			buf_addstr(z, "\n");
			break;
		case 4:	/* null MX, RFC 7505 */
			buf_printf(z, "%s MX 0 .\n", owner);
			break;
		case 5:	/* the loopback and our own addresses */
			buf_printf(z, "%s %s\n", owner, (op & 0x40) ?
			    "AAAA ::1" : (op & 0x80) ? "A 192.0.2.25" :
			    "A 127.0.0.1");
			break;
		case 6:
			buf_printf(z, "$SERVFAIL %s\n", owner);
			break;
		}
	}
}

static uint32_t
fuzz_random(void *arg, uint32_t upper)
{
	struct rd	*r = arg;
	int		 c = next(r);

	return c == -1 ? 0 : (uint32_t)c % upper;
}

static void
check(const struct mxres_result *res, const struct mxres_opts *o,
    int host_only)
{
	const struct mxres_host	*h;
	size_t			 i, j;

	if (res->status > MXRES_PERMFAIL || res->nhosts > MXRES_MAX_HOSTS ||
	    memchr(res->reason, '\0', sizeof(res->reason)) == NULL)
		__builtin_trap();
	if (res->status != MXRES_OK)
		return;
	if (res->nhosts == 0 || res->hosts == NULL)
		__builtin_trap();
	for (i = 0; i < res->nhosts; i++) {
		h = &res->hosts[i];
		if (h->naddr == 0 || h->naddr > MXRES_MAX_ADDRS)
			__builtin_trap();
		if (i > 0 && !res->implicit && !res->literal &&
		    h->pref < res->hosts[i - 1].pref)
			__builtin_trap();	/* delivery order */
		for (j = 0; j < h->naddr; j++)
			if (o->loop_check && mxres_addr_classify(
			    (const struct sockaddr *)&h->addr[j].ss,
			    host_only, o) != NETADDR_USABLE)
				__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 fams[4] = { AF_UNSPEC, AF_INET, AF_INET6,
				    AF_UNSPEC };
	struct netaddr_net	 listen[2], allow[1];
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct mxres_opts	 o;
	struct mxres_result	 res, copy;
	struct dns_ctx		*dns;
	struct buf		 z;
	struct rd		 r, rnd;
	uint8_t			*in;
	const uint8_t		*nl;
	char			 err[256], *name = NULL;
	int			 host_only;

	if (size < 2 || size > 4096)
		return 0;
	in = xmalloc(size);
	memcpy(in, data, size);
	r.p = in + 2;
	r.len = size - 2;
	r.off = 0;
	if ((in[0] & 0x20) && (nl = memchr(r.p, '\n', r.len)) != NULL) {
		name = xstrndup((const char *)r.p, (size_t)(nl - r.p));
		r.off = (size_t)(nl - r.p) + 1;
	}
	buf_init(&z, 1 << 20);
	zone_from_input(&z, &r);
	dns = dns_ctx_zone_mem(NULL, buf_cstr(&z), z.len, err, sizeof(err));
	if (dns == NULL)
		__builtin_trap();	/* we only write well-formed zones */

	memset(listen, 0, sizeof(listen));
	sin = (struct sockaddr_in *)&listen[0].ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	inet_pton(AF_INET, "192.0.2.25", &sin->sin_addr);
	sin6 = (struct sockaddr_in6 *)&listen[1].ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(587);	/* a wildcard listener */
	memset(allow, 0, sizeof(allow));
	sin = (struct sockaddr_in *)&allow[0].ss;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.0", &sin->sin_addr);
	allow[0].prefixlen = 8;

	memset(&o, 0, sizeof(o));
	o.family = fams[in[0] & 3];
	o.myname = (in[0] & 4) ? "self.fuzz.test" : NULL;
	o.loop_check = (in[0] >> 3) & 1;
	o.listen = listen;
	o.nlisten = 2;
	o.allow = allow;
	o.nallow = (in[0] >> 4) & 1;
	o.port = (in[0] & 0x40) ? 2525 : 0;
	rnd.p = in + 1;
	rnd.len = 1;
	rnd.off = 0;
	o.random = fuzz_random;
	o.random_arg = &rnd;

	host_only = (in[0] >> 7) & 1;
	if (name == NULL)
		name = xstrdup(host_only ? "mx1.fuzz.test" : "fuzz.test");
	memset(&res, 0, sizeof(res));
	if (host_only)
		mxres_lookup_host_sync(dns, name, &o, &res);
	else
		mxres_lookup_sync(dns, name, &o, &res);
	check(&res, &o, host_only);
	mxres_status_name(res.status);
	mxres_result_copy(&copy, &res);
	mxres_result_clear(&res);
	mxres_result_clear(&copy);

	dns_ctx_free(dns);
	buf_free(&z);
	free(name);
	free(in);
	return 0;
}

/*
 * Fuzz iprev (auth/iprev.c, RFC 8601 3) over an in-memory zone whose
 * records the input chooses: after one option byte (client address and
 * HELO), each record is an op byte -- owner from a small set of names
 * (the client's reverse names among them) and type (A, AAAA, PTR, CNAME,
 * MX, TXT, a $SERVFAIL marker) -- and its rdata from the following bytes:
 * addresses as raw octets, targets from the name set or a hostile label
 * (every octet written \DDD), TXT as raw octets.  A zone is always
 * well-formed, so every input reaches the evaluation.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "auth/authres.h"
#include "auth/iprev.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const names[8] = {
	"1.2.0.192.in-addr.arpa.",
	("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	    "ip6.arpa."),
	"a.fuzz.test.",
	"b.fuzz.test.",
	"fuzz.test.",
	"helo.fuzz.test.",
	"c.b.fuzz.test.",
	"2.2.0.192.in-addr.arpa.",
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

/* A target name: one of the set, or a hostile label below fuzz.test. */
static void
put_target(struct buf *z, struct rd *r)
{
	int	 c, n, i;

	if ((c = next(r)) == -1)
		c = 2;
	if ((c & 0x80) == 0) {
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
	int		 op, c, i, n;

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
		case 2:
		case 3:
		case 4:
			buf_printf(z, "%s %s ", owner, ((op >> 3) & 7) == 2 ?
			    "PTR" : ((op >> 3) & 7) == 3 ? "CNAME" : "MX 10");
			put_target(z, r);
			buf_addstr(z, "\n");
			break;
		case 5:	/* TXT */
			buf_printf(z, "%s TXT \"", owner);
			n = (op >> 6) * 8;
			for (i = 0; i < n && (c = next(r)) != -1; i++)
				buf_printf(z, "\\%03u", (unsigned)c);
			buf_addstr(z, "\"\n");
			break;
		case 6:
			buf_printf(z, "$SERVFAIL %s\n", owner);
			break;
		default: /* a run of PTRs to the hostile names */
			buf_printf(z, "%s PTR ", names[op & 1]);
			put_target(z, r);
			buf_addstr(z, "\n");
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ips[4] = {
		"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "192.0.2.2"
	};
	static const char *const helos[4] = {
		"helo.fuzz.test", "A.Fuzz.Test.", NULL, "[192.0.2.1]"
	};
	struct iprev_params	 p;
	struct iprev_outcome	 o;
	struct authres_method	 m;
	struct authres_prop	 prop;
	struct dns_ctx		*dns;
	struct buf		 z;
	struct rd		 r;
	char			 err[256];

	if (size < 1 || size > 4096)
		return 0;
	r.p = data + 1;
	r.len = size - 1;
	r.off = 0;
	buf_init(&z, 1 << 20);
	zone_from_input(&z, &r);
	dns = dns_ctx_zone_mem(NULL, z.len ? (char *)z.data : "", z.len, err,
	    sizeof(err));
	if (dns == NULL)
		__builtin_trap();	/* we only write well-formed zones */
	memset(&p, 0, sizeof(p));
	p.ip = ips[data[0] & 3];
	p.helo = helos[(data[0] >> 2) & 3];
	p.trace = (data[0] >> 4) & 1;
	iprev_check_sync(dns, &p, &o);
	if (o.result > IPREV_PERMERROR ||
	    (o.result == IPREV_PASS && o.name[0] == '\0'))
		__builtin_trap();
	iprev_result_name(o.result);
	iprev_authres_method(&o, &m, &prop);
	iprev_outcome_clear(&o);
	dns_ctx_free(dns);
	buf_free(&z);
	return 0;
}

/*
 * lib/dns.c and lib/dns_rdata.c: the offline zone source (NOERROR,
 * NODATA, NXDOMAIN, CNAME chains and loops, SERVFAIL/timeout markers),
 * callbacks only from the event loop, cancel, answer copies, the lookup
 * budget, the rdata decoder on malformed input, name conversions, and the
 * resolver source against a tiny DNS server on 127.0.0.1 in this process
 * (names under .test must reach it) and against a dead port (timeout),
 * views with a deadline, and the answer cache in front of libunbound.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <event.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"

static const char zone_text[] =
    "$ORIGIN example.test.\n"
    "$TTL 600\n"
    "@ A 192.0.2.1\n"
    "@ A 192.0.2.2\n"
    "@ MX 10 mail\n"
    "@ TXT \"v=spf1 \" \"-all\"\n"
    "mail AAAA 2001:db8::25\n"
    "www CNAME web\n"
    "web CNAME host.other.test.\n"
    "host.other.test. A 192.0.2.80\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "dangling CNAME nowhere.test.\n"
    "deep.a.b A 192.0.2.9\n"
    "_25._tcp.mail TLSA 3 1 1 00112233\n"
    "$SERVFAIL broken.example.test.\n"
    "$TIMEOUT slow.example.test.\n";

static struct dns_ctx *
zone_ctx(void)
{
	struct dns_ctx	*ctx;
	char		 err[256];

	ctx = dns_ctx_zone_mem(NULL, zone_text, sizeof(zone_text) - 1, err,
	    sizeof(err));
	if (ctx == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(ctx);
	return ctx;
}

static void
test_zone_answers(void **state)
{
	struct dns_ctx		*ctx = zone_ctx();
	struct dns_answer	*a;
	char			 buf[64];

	a = dns_resolve_sync(ctx, "EXAMPLE.test.", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NOERROR);
	assert_int_equal(a->nrr, 2);
	assert_int_equal(a->sec, DNS_SEC_INSECURE);
	assert_false(a->failed);
	inet_ntop(AF_INET, &a->rr[1].u.a, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.2");
	assert_int_equal(a->rr[0].ttl, 600);
	assert_string_equal(a->qname, "example.test");
	dns_answer_free(a);

	a = dns_resolve_sync(ctx, "example.test", DNS_T_MX);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.mx.pref, 10);
	assert_string_equal(a->rr[0].u.mx.name, "mail.example.test");
	dns_answer_free(a);

	/* NODATA: the name exists with other types */
	a = dns_resolve_sync(ctx, "mail.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NOERROR);
	assert_int_equal(a->nrr, 0);
	assert_true(dns_answer_is_void(a));
	dns_answer_free(a);

	/* empty non-terminal: NOERROR too */
	a = dns_resolve_sync(ctx, "a.b.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NOERROR);
	dns_answer_free(a);

	a = dns_resolve_sync(ctx, "nope.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NXDOMAIN);
	assert_true(dns_answer_is_void(a));
	dns_answer_free(a);

	a = dns_resolve_sync(ctx, "_25._tcp.mail.example.test", DNS_T_TLSA);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.tlsa.usage, 3);
	assert_int_equal(a->rr[0].u.tlsa.len, 4);
	assert_int_equal(a->rr[0].u.tlsa.data[3], 0x33);
	dns_answer_free(a);

	a = dns_resolve_sync(ctx, "example.test", DNS_T_TXT);
	assert_int_equal(a->nrr, 1);
	{
		char *s = dns_txt_concat(&a->rr[0], NULL);

		assert_string_equal(s, "v=spf1 -all");
		free(s);
	}
	dns_answer_free(a);
	dns_ctx_free(ctx);
}

static void
test_zone_cname(void **state)
{
	struct dns_ctx		*ctx = zone_ctx();
	struct dns_answer	*a;

	a = dns_resolve_sync(ctx, "www.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->canonname, "host.other.test");
	dns_answer_free(a);

	/* asking for the CNAME itself does not chase */
	a = dns_resolve_sync(ctx, "www.example.test", DNS_T_CNAME);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.name, "web.example.test");
	dns_answer_free(a);

	a = dns_resolve_sync(ctx, "dangling.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NXDOMAIN);
	assert_string_equal(a->canonname, "nowhere.test");
	dns_answer_free(a);

	/* a loop ends, as a failure */
	a = dns_resolve_sync(ctx, "loop1.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_SERVFAIL);
	dns_answer_free(a);
	dns_ctx_free(ctx);
}

static void
test_zone_failures(void **state)
{
	struct dns_ctx		*ctx = zone_ctx();
	struct dns_answer	*a;

	a = dns_resolve_sync(ctx, "broken.example.test", DNS_T_TXT);
	assert_int_equal(a->rcode, DNS_R_SERVFAIL);
	assert_false(dns_answer_is_void(a));
	dns_answer_free(a);
	a = dns_resolve_sync(ctx, "slow.example.test", DNS_T_A);
	assert_true(a->failed);
	assert_true(a->timeout);
	dns_answer_free(a);
	/* invalid names are refused at once */
	assert_null(dns_query(ctx, "a..b", DNS_T_A, NULL, NULL));
	assert_null(dns_resolve_sync(ctx, "", DNS_T_A));
	dns_ctx_free(ctx);
}

struct cbstate {
	int			 calls;
	int			 in_query;
	struct dns_answer	*copy;
};

static void
count_cb(void *arg, const struct dns_answer *a)
{
	struct cbstate	*s = arg;

	assert_false(s->in_query);	/* never re-entrant */
	s->calls++;
	if (s->copy == NULL)
		s->copy = dns_answer_dup(a);
}

static void
test_async(void **state)
{
	struct event_base	*base;
	struct dns_ctx		*ctx;
	struct dns_query	*q1, *q2;
	struct cbstate		 s;
	char			 err[256];

	base = event_base_new();
	ctx = dns_ctx_zone_mem(base, zone_text, sizeof(zone_text) - 1, err,
	    sizeof(err));
	assert_non_null(ctx);
	assert_ptr_equal(dns_ctx_base(ctx), base);
	memset(&s, 0, sizeof(s));
	s.in_query = 1;
	q1 = dns_query(ctx, "example.test", DNS_T_TXT, count_cb, &s);
	q2 = dns_query(ctx, "example.test", DNS_T_A, count_cb, &s);
	s.in_query = 0;
	assert_non_null(q1);
	assert_non_null(q2);
	assert_int_equal(s.calls, 0);
	assert_int_equal(dns_pending(ctx), 2);
	dns_query_cancel(q2);
	assert_int_equal(dns_pending(ctx), 1);
	event_base_dispatch(base);	/* returns when nothing is pending */
	assert_int_equal(s.calls, 1);
	assert_int_equal(dns_pending(ctx), 0);
	/* the copy outlives the callback */
	assert_non_null(s.copy);
	assert_int_equal(s.copy->nrr, 1);
	assert_int_equal(s.copy->rr[0].u.txt.nstr, 2);
	assert_int_equal(s.copy->rr[0].u.txt.str[1].len, 4);
	dns_answer_free(s.copy);
	/* pending queries are cancelled by freeing the context */
	dns_query(ctx, "example.test", DNS_T_A, count_cb, &s);
	dns_ctx_free(ctx);
	event_base_free(base);
}

static void
test_budget(void **state)
{
	struct dns_budget	 b;
	int			 i;

	dns_budget_init(&b, 10, 2);
	for (i = 0; i < 10; i++)
		assert_int_equal(dns_budget_lookup(&b), 0);
	assert_int_equal(dns_budget_lookup(&b), -1);
	assert_int_equal(dns_budget_void(&b), 0);
	assert_int_equal(dns_budget_void(&b), 0);
	assert_int_equal(dns_budget_void(&b), -1);
	assert_int_equal(b.lookups, 11);
	assert_int_equal(b.voids, 3);
	dns_budget_init(&b, 0, 0);	/* unlimited */
	for (i = 0; i < 100; i++)
		assert_int_equal(dns_budget_lookup(&b), 0);
}

static void
test_decoder(void **state)
{
	struct dns_rr	 rr;
	uint8_t		 buf[300] = { 0 };
	size_t		 i;
	static const uint8_t mx_ok[] = { 0, 5, 4, 'm', 'a', 'i', 'l', 0 };
	static const uint8_t txt_ok[] = { 2, 'h', 'i', 0, 1, 'x' };

	assert_int_equal(dns_rdata_decode(DNS_T_A, buf, 3, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_A, buf, 5, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_AAAA, buf, 4, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_MX, mx_ok, sizeof(mx_ok), &rr),
	    0);
	assert_string_equal(rr.u.mx.name, "mail");
	assert_int_equal(rr.u.mx.pref, 5);
	/* truncated, trailing garbage, pointer, long label */
	assert_int_equal(dns_rdata_decode(DNS_T_MX, mx_ok, 2, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_MX, mx_ok, 6, &rr), -1);
	memcpy(buf, mx_ok, sizeof(mx_ok));
	buf[8] = 1;
	assert_int_equal(dns_rdata_decode(DNS_T_MX, buf, 9, &rr), -1);
	buf[0] = 0xc0;
	buf[1] = 0x0c;
	assert_int_equal(dns_rdata_decode(DNS_T_PTR, buf, 2, &rr), -1);
	buf[0] = 64;
	memset(buf + 1, 'a', 64);
	buf[65] = 0;
	assert_int_equal(dns_rdata_decode(DNS_T_PTR, buf, 66, &rr), -1);
	/* a name longer than 255 bytes */
	for (i = 0; i + 11 < sizeof(buf); i += 11) {
		buf[i] = 10;
		memset(buf + i + 1, 'b', 10);
	}
	buf[i] = 0;
	assert_int_equal(dns_rdata_decode(DNS_T_CNAME, buf, i + 1, &rr), -1);
	/* a label with odd bytes is escaped */
	{
		static const uint8_t odd[] = { 3, 'a', '.', 0xff, 0 };

		assert_int_equal(dns_rdata_decode(DNS_T_PTR, odd, sizeof(odd),
		    &rr), 0);
		assert_string_equal(rr.u.name, "a\\.\\255");
	}
	assert_int_equal(dns_rdata_decode(DNS_T_TXT, txt_ok, sizeof(txt_ok),
	    &rr), 0);
	assert_int_equal(rr.u.txt.nstr, 3);
	assert_int_equal(rr.u.txt.str[1].len, 0);
	dns_rr_clear(&rr);
	assert_int_equal(dns_rdata_decode(DNS_T_TXT, txt_ok, 0, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_TXT, txt_ok, 2, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_TLSA, buf, 2, &rr), -1);
	assert_int_equal(dns_rdata_decode(DNS_T_TLSA, buf, 3, &rr), 0);
	assert_int_equal(rr.u.tlsa.len, 0);
	/* unknown types keep the raw rdata */
	assert_int_equal(dns_rdata_decode(99 + 1000, buf, 7, &rr), 0);
	assert_int_equal(rr.rdlen, 7);
}

static void
test_names(void **state)
{
	char		 out[DNS_NAME_BUF];
	uint8_t		 wire[256];
	size_t		 len;
	struct in_addr	 a4;
	struct in6_addr	 a6;

	assert_int_equal(dns_name_canon("WwW.Example.TEST.", out, sizeof(out)),
	    0);
	assert_string_equal(out, "www.example.test");
	assert_int_equal(dns_name_canon(".", out, sizeof(out)), 0);
	assert_string_equal(out, ".");
	assert_int_equal(dns_name_canon("a\\.b.test", out, sizeof(out)), 0);
	assert_string_equal(out, "a\\.b.test");
	assert_int_equal(dns_name_canon("a\\065.test", out, sizeof(out)), 0);
	assert_string_equal(out, "aa.test");
	assert_int_equal(dns_name_canon("a..b", out, sizeof(out)), -1);
	assert_int_equal(dns_name_canon(".a", out, sizeof(out)), -1);
	assert_int_equal(dns_name_canon("", out, sizeof(out)), -1);
	assert_int_equal(dns_name_canon("a\\256.b", out, sizeof(out)), -1);
	assert_int_equal(dns_name_canon("a\\", out, sizeof(out)), -1);
	assert_int_equal(dns_name_to_wire("ab.c", wire, sizeof(wire), &len),
	    0);
	assert_int_equal(len, 6);
	assert_int_equal(dns_name_to_wire("ab.c", wire, 5, &len), -1);
	assert_true(dns_name_equal("A.test", "a.TEST."));
	assert_false(dns_name_equal("a.test", "b.test"));

	inet_pton(AF_INET, "192.0.2.3", &a4);
	assert_int_equal(dns_ptr_name(AF_INET, &a4, out, sizeof(out)), 0);
	assert_string_equal(out, "3.2.0.192.in-addr.arpa");
	inet_pton(AF_INET6, "2001:db8::cb01", &a6);
	assert_int_equal(dns_ptr_name(AF_INET6, &a6, out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_ptr_name(AF_INET6, &a6, out, 10), -1);

	assert_int_equal(dns_type_from_name("txt"), DNS_T_TXT);
	assert_int_equal(dns_type_from_name("TYPE65280"), 65280);
	assert_int_equal(dns_type_from_name("TYPE0"), -1);
	assert_int_equal(dns_type_from_name("NOPE"), -1);
	assert_string_equal(dns_type_name(DNS_T_TLSA), "TLSA");
	assert_string_equal(dns_type_name(65280), "TYPE65280");
	assert_string_equal(dns_rcode_name(DNS_R_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(dns_sec_name(DNS_SEC_BOGUS), "bogus");
}

/*
 * A tiny authoritative server on 127.0.0.1, served from the same event
 * loop (libunbound's worker is a separate process): it answers
 * spf.example.test TXT and A, NXDOMAIN for the rest.
 */
struct fake_server {
	int	 fd;
	int	 queries;
};

static void
fake_read(int fd, short ev, void *arg)
{
	struct fake_server	*fs = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 slen = sizeof(ss);
	uint8_t			 q[512], r[600];
	ssize_t			 n;
	size_t			 i, qend, o;
	char			 name[300];
	size_t			 nl = 0;
	uint16_t		 qtype;
	int			 known;

	n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&ss, &slen);
	if (n < 17)
		return;
	fs->queries++;
	/* question name */
	for (i = 12; i < (size_t)n && q[i] != 0; i += q[i] + 1) {
		if (nl > 0)
			name[nl++] = '.';
		if (i + 1 + q[i] > (size_t)n || nl + q[i] > 250)
			return;
		memcpy(name + nl, q + i + 1, q[i]);
		nl += q[i];
	}
	name[nl] = '\0';
	qend = i + 5;
	if (qend > (size_t)n)
		return;
	qtype = (uint16_t)(q[i + 1] << 8 | q[i + 2]);
	known = strcasecmp(name, "spf.example.test") == 0;
	memcpy(r, q, qend);
	r[2] = 0x84 | (q[2] & 0x01);	/* QR, AA, RD copied */
	r[3] = 0x80 | (known ? 0 : 3);	/* RA, NOERROR or NXDOMAIN */
	r[4] = 0; r[5] = 1;
	r[6] = 0; r[7] = 0;
	r[8] = r[9] = r[10] = r[11] = 0;
	o = qend;
	if (known && (qtype == DNS_T_TXT || qtype == DNS_T_A)) {
		static const char txt[] = "v=spf1 -all";

		r[7] = 1;
		r[o++] = 0xc0; r[o++] = 12;
		r[o++] = 0; r[o++] = (uint8_t)qtype;
		r[o++] = 0; r[o++] = 1;
		r[o++] = 0; r[o++] = 0; r[o++] = 0; r[o++] = 60;
		if (qtype == DNS_T_TXT) {
			r[o++] = 0; r[o++] = sizeof(txt);
			r[o++] = sizeof(txt) - 1;
			memcpy(r + o, txt, sizeof(txt) - 1);
			o += sizeof(txt) - 1;
		} else {
			r[o++] = 0; r[o++] = 4;
			r[o++] = 192; r[o++] = 0; r[o++] = 2; r[o++] = 7;
		}
	}
	sendto(fd, r, o, 0, (struct sockaddr *)&ss, slen);
}

static void
cache_cb(void *arg, const struct dns_answer *a)
{
	struct cbstate	*s = arg;

	s->calls++;
	if (s->copy == NULL)
		s->copy = dns_answer_dup(a);
}

static void
test_resolver(void **state)
{
	struct fake_server	 fs;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct event		*ev;
	struct dns_ctx		*ctx;
	struct dns_answer	*a;
	char			 addr[64], err[256];

	memset(&fs, 0, sizeof(fs));
	fs.fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fs.fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fs.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fs.fd, (struct sockaddr *)&sin, &slen),
	    0);
	snprintf(addr, sizeof(addr), "127.0.0.1@%u", ntohs(sin.sin_port));

	ctx = dns_ctx_resolver(NULL, addr, NULL, err, sizeof(err));
	if (ctx == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(ctx);
	dns_ctx_set_timeout(ctx, 5000);
	ev = event_new(dns_ctx_base(ctx), fs.fd, EV_READ | EV_PERSIST,
	    fake_read, &fs);
	event_add(ev, NULL);

	/* .test must not be answered NXDOMAIN by libunbound itself */
	a = dns_resolve_sync(ctx, "spf.example.test", DNS_T_TXT);
	assert_non_null(a);
	assert_false(a->failed);
	assert_int_equal(a->rcode, DNS_R_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->sec, DNS_SEC_INSECURE);
	{
		char *s = dns_txt_concat(&a->rr[0], NULL);

		assert_string_equal(s, "v=spf1 -all");
		free(s);
	}
	dns_answer_free(a);
	a = dns_resolve_sync(ctx, "spf.example.test", DNS_T_A);
	assert_int_equal(a->nrr, 1);
	dns_answer_free(a);
	a = dns_resolve_sync(ctx, "other.example.test", DNS_T_A);
	assert_int_equal(a->rcode, DNS_R_NXDOMAIN);
	dns_answer_free(a);
	assert_true(fs.queries >= 3);
	assert_int_equal(dns_ctx_cache_hits(ctx), 0);

	/*
	 * Asked again: the same answers, now from the context's cache (an
	 * NXDOMAIN too), given from the loop like any other; through a view
	 * as well; another type of a cached name is not a hit.
	 */
	{
		struct cbstate	 s;
		struct dns_ctx	*v;
		char		*txt;

		memset(&s, 0, sizeof(s));
		assert_non_null(dns_query(ctx, "SPF.example.test.", DNS_T_TXT,
		    cache_cb, &s));
		assert_int_equal(s.calls, 0);
		while (s.calls == 0)
			assert_int_not_equal(dns_run_once(ctx), -1);
		assert_int_equal(dns_ctx_cache_hits(ctx), 1);
		assert_false(s.copy->failed);
		assert_int_equal(s.copy->nrr, 1);
		txt = dns_txt_concat(&s.copy->rr[0], NULL);
		assert_string_equal(txt, "v=spf1 -all");
		free(txt);
		dns_answer_free(s.copy);

		a = dns_resolve_sync(ctx, "other.example.test", DNS_T_A);
		assert_int_equal(a->rcode, DNS_R_NXDOMAIN);
		assert_int_equal(a->nrr, 0);
		dns_answer_free(a);
		assert_int_equal(dns_ctx_cache_hits(ctx), 2);

		v = dns_ctx_view(ctx);
		dns_ctx_set_deadline(v, 60000);
		a = dns_resolve_sync(v, "spf.example.test", DNS_T_A);
		assert_int_equal(a->nrr, 1);
		assert_int_equal(a->rr[0].u.a.s_addr, htonl(0xc0000207));
		dns_answer_free(a);
		assert_int_equal(dns_ctx_cache_hits(ctx), 3);
		dns_ctx_free(v);

		a = dns_resolve_sync(ctx, "spf.example.test", DNS_T_MX);
		assert_int_equal(a->rcode, DNS_R_NOERROR);
		assert_int_equal(a->nrr, 0);
		dns_answer_free(a);
		assert_int_equal(dns_ctx_cache_hits(ctx), 3);

		/* a cached answer's query cancelled: no callback, no leak */
		memset(&s, 0, sizeof(s));
		dns_query_cancel(dns_query(ctx, "spf.example.test", DNS_T_TXT,
		    cache_cb, &s));
		assert_int_equal(dns_pending(ctx), 0);
		assert_int_equal(s.calls, 0);
	}

	event_free(ev);
	dns_ctx_free(ctx);
	close(fs.fd);
}

static void
test_resolver_timeout(void **state)
{
	static const char ta_text[] = "; the bed's root\n"
	    ". IN DS 20326 8 2 ( E06D44B80B8F1D39A95C0B0D7C65D08458E88040"
	    "9BBC683457104237C7F8EC8D )\n";
	struct dns_ctx		*ctx;
	struct dns_answer	*a;
	char			 err[256];
	int			 fd;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	char			 addr[64];

	/* a bound socket that never answers */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &slen);
	snprintf(addr, sizeof(addr), "127.0.0.1@%u", ntohs(sin.sin_port));
	ctx = dns_ctx_resolver(NULL, addr, NULL, err, sizeof(err));
	assert_non_null(ctx);
	dns_ctx_set_timeout(ctx, 300);
	a = dns_resolve_sync(ctx, "spf.example.test", DNS_T_TXT);
	assert_true(a->failed);
	assert_true(a->timeout);
	dns_answer_free(a);
	/* a failure is not kept: asked again, it times out again */
	a = dns_resolve_sync(ctx, "spf.example.test", DNS_T_TXT);
	assert_true(a->timeout);
	dns_answer_free(a);
	assert_int_equal(dns_ctx_cache_hits(ctx), 0);
	dns_ctx_free(ctx);
	close(fd);

	/* bad resolver addresses and trust anchors fail at creation */
	assert_null(dns_ctx_resolver(NULL, "not-an-address", NULL, err,
	    sizeof(err)));
	assert_null(dns_ctx_resolver(NULL, "127.0.0.1", "/nonexistent/ta",
	    err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/ta"));

	/* a trust anchor given as text (posternctl debug delivery) */
	ctx = dns_ctx_resolver_mem(NULL, "127.0.0.1@5353", ta_text,
	    strlen(ta_text), err, sizeof(err));
	assert_non_null(ctx);
	dns_ctx_free(ctx);
	assert_null(dns_ctx_resolver_mem(NULL, "127.0.0.1", "; only a "
	    "comment\n\n", 18, err, sizeof(err)));
	assert_string_equal(err, "trust anchor: no trust anchor");
	/* without one: a resolver whose answers are all insecure */
	ctx = dns_ctx_resolver_mem(NULL, "127.0.0.1", NULL, 0, err,
	    sizeof(err));
	assert_non_null(ctx);
	dns_ctx_free(ctx);
}

static void
view_cb(void *arg, const struct dns_answer *a)
{
	struct cbstate	*s = arg;

	s->calls++;
	if (s->copy == NULL)
		s->copy = dns_answer_dup(a);
}

/*
 * A view's deadline: the query to a server that never answers ends then
 * as a timeout (long before the per-query timeout), later queries end at
 * once until a new deadline, the parent's queries go on, and freeing the
 * view cancels what it still has.
 */
static void
test_view_deadline(void **state)
{
	struct dns_ctx		*ctx, *v;
	struct dns_query	*pq;
	struct cbstate		 s, ps;
	char			 err[256], addr[64];
	int			 fd;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &slen);
	snprintf(addr, sizeof(addr), "127.0.0.1@%u", ntohs(sin.sin_port));
	ctx = dns_ctx_resolver(NULL, addr, NULL, err, sizeof(err));
	assert_non_null(ctx);
	dns_ctx_set_timeout(ctx, 600000);	/* never, in this test */
	memset(&ps, 0, sizeof(ps));
	pq = dns_query(ctx, "parent.example.test", DNS_T_A, view_cb, &ps);
	assert_non_null(pq);

	v = dns_ctx_view(ctx);
	assert_int_equal(dns_ctx_cut(v), 0);
	dns_ctx_set_deadline(v, 100);
	memset(&s, 0, sizeof(s));
	assert_non_null(dns_query(v, "spf.example.test", DNS_T_TXT, view_cb,
	    &s));
	assert_int_equal(dns_pending(v), 1);
	while (s.calls == 0)
		assert_int_not_equal(dns_run_once(v), -1);
	assert_true(s.copy->failed);
	assert_true(s.copy->timeout);
	assert_int_equal(dns_ctx_cut(v), 1);
	dns_answer_free(s.copy);
	/* the parent's query was not cut */
	assert_int_equal(ps.calls, 0);
	assert_int_equal(dns_pending(ctx), 1);

	/* past the deadline: at once, from the loop */
	memset(&s, 0, sizeof(s));
	assert_non_null(dns_query(v, "late.example.test", DNS_T_A, view_cb,
	    &s));
	assert_int_equal(s.calls, 0);
	while (s.calls == 0)
		assert_int_not_equal(dns_run_once(v), -1);
	assert_true(s.copy->timeout);
	assert_int_equal(dns_ctx_cut(v), 2);
	dns_answer_free(s.copy);

	/* a new deadline: queries wait again; freeing cancels them */
	dns_ctx_set_deadline(v, 600000);
	memset(&s, 0, sizeof(s));
	assert_non_null(dns_query(v, "again.example.test", DNS_T_A, view_cb,
	    &s));
	assert_int_equal(dns_pending(v), 1);
	dns_ctx_free(v);
	assert_int_equal(s.calls, 0);

	dns_query_cancel(pq);
	assert_int_equal(dns_pending(ctx), 0);
	dns_ctx_free(ctx);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_answers),
		cmocka_unit_test(test_zone_cname),
		cmocka_unit_test(test_zone_failures),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_decoder),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_resolver),
		cmocka_unit_test(test_resolver_timeout),
		cmocka_unit_test(test_view_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fuzz the SPF record parser and macro expansion (auth/spf.c,
 * spf_macro.c), and a whole check_host() evaluation: the input is checked as
 * a record, expanded as a domain-spec and as explanation text, then
 * published as the SPF record of fuzz.test in an in-memory zone and
 * evaluated for an IPv4 and an IPv6 client.
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
#include "auth/spf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char zone_tail[] =
    "a.fuzz.test. A 192.0.2.1\n"
    "a.fuzz.test. AAAA 2001:db8::1\n"
    "fuzz.test. MX 10 a.fuzz.test.\n"
    "inc.fuzz.test. TXT \"v=spf1 ip4:192.0.2.0/24 include:fuzz.test -all\"\n"
    "exp.fuzz.test. TXT \"%{i} %{c} %{d} %{s} %{p}\"\n"
    "1.2.0.192.in-addr.arpa. PTR a.fuzz.test.\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_env	 env;
	struct spf_outcome	 o;
	struct spf_params	 p;
	struct dns_ctx		*dns;
	char			*rec, *zone, err[256], out[SPF_MAX_EXPANSION];
	size_t			 i, zl, n;

	if (size > 2048)
		return 0;
	rec = malloc(size + 1);
	memcpy(rec, data, size);
	rec[size] = '\0';
	spf_record_check(rec, err, sizeof(err));

	memset(&env, 0, sizeof(env));
	env.sender = "strong-bad@email.example.com";
	env.local = "strong-bad";
	env.sender_domain = "email.example.com";
	env.domain = "email.example.com";
	env.helo = "mx.example.org";
	env.af = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::cb01", &env.ip.v6);
	spf_macro_expand(rec, size, &env, SPF_MACRO_DOMAIN, out, sizeof(out),
	    err, sizeof(err));
	spf_macro_expand(rec, size, &env, SPF_MACRO_EXP, out, sizeof(out),
	    err, sizeof(err));
	spf_macro_uses_p(rec, size);
	if (strlen(rec) == size) {
		strlcpy(out, rec, sizeof(out));
		spf_domain_truncate(out);
		spf_domain_valid(rec);
	}

	/* Publish it (every byte as \DDD) and evaluate. */
	zl = size * 5 + sizeof(zone_tail) + 64;
	zone = malloc(zl);
	n = (size_t)snprintf(zone, zl, "fuzz.test. TXT \"");
	for (i = 0; i < size && n + 8 < zl; i++) {
		/* character-strings hold 255 bytes: split longer records */
		if (i > 0 && i % 255 == 0)
			n += (size_t)snprintf(zone + n, zl - n, "\" \"");
		n += (size_t)snprintf(zone + n, zl - n, "\\%03u", data[i]);
	}
	snprintf(zone + n, zl - n, "\"\n%s", zone_tail);
	dns = dns_ctx_zone_mem(NULL, zone, strlen(zone), err, sizeof(err));
	if (dns != NULL) {
		memset(&p, 0, sizeof(p));
		p.helo = "a.fuzz.test";
		p.mail_from = "user@fuzz.test";
		p.now = 1;
		p.trace = 1;
		p.ip = "192.0.2.1";
		spf_check_sync(dns, &p, &o);
		spf_outcome_clear(&o);
		p.ip = "2001:db8::1";
		spf_check_sync(dns, &p, &o);
		spf_outcome_clear(&o);
		dns_ctx_free(dns);
	}
	free(zone);
	free(rec);
	return 0;
}

/*
 * DNS names and record data for lib/dns.c and its callers: wire and
 * presentation forms of names (RFC 1035 3.1, 5.1: \DDD and \X escapes),
 * canonical comparison, reverse-lookup names (RFC 1035 3.5, RFC 3596
 * 2.5), type and rcode names, and the RDATA decoder (RFC 1035 3.3, 3.4;
 * RFC 3596; RFC 6698 2.1) with bounds checks on every byte.  Does not:
 * follow compression pointers (libunbound hands over uncompressed rdata).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "util.h"

static const struct {
	uint16_t	 type;
	const char	*name;
} dns_types[] = {
	{ DNS_T_A, "A" }, { DNS_T_NS, "NS" }, { DNS_T_CNAME, "CNAME" },
	{ DNS_T_SOA, "SOA" }, { DNS_T_PTR, "PTR" }, { DNS_T_MX, "MX" },
	{ DNS_T_TXT, "TXT" }, { DNS_T_AAAA, "AAAA" }, { DNS_T_SPF, "SPF" },
	{ DNS_T_TLSA, "TLSA" },
};

/* Names. */

int
dns_name_to_wire(const char *name, uint8_t *wire, size_t wirelen,
    size_t *outlen)
{
	size_t	 w = 0, lablen;
	size_t	 labpos;
	const char *s = name;

	if (strcmp(name, ".") == 0) {
		if (wirelen < 1)
			return -1;
		wire[0] = 0;
		*outlen = 1;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (w >= wirelen || w >= 255)
			return -1;
		labpos = w++;
		lablen = 0;
		while (*s != '\0' && *s != '.') {
			unsigned char c = *s++;

			if (c == '\\') {
				if (*s == '\0')
					return -1;
				if (isdigit((unsigned char)s[0])) {
					int v;

					if (!isdigit((unsigned char)s[1]) ||
					    !isdigit((unsigned char)s[2]))
						return -1;
					v = (s[0] - '0') * 100 +
					    (s[1] - '0') * 10 + (s[2] - '0');
					if (v > 255)
						return -1;
					c = (unsigned char)v;
					s += 3;
				} else
					c = *s++;
			}
			if (++lablen > 63 || w >= wirelen || w >= 255)
				return -1;
			wire[w++] = c;
		}
		if (lablen == 0)
			return -1;	/* empty label: "a..b" or ".a" */
		wire[labpos] = (uint8_t)lablen;
		if (*s == '.')
			s++;
	}
	if (w >= wirelen || w >= 255)
		return -1;
	wire[w++] = 0;
	*outlen = w;
	return 0;
}

int
dns_name_from_wire(const uint8_t *wire, size_t len, size_t *used, char *out,
    size_t outlen)
{
	size_t	 i = 0, o = 0, j;
	int	 n;

	if (outlen < 2)
		return -1;
	for (;;) {
		uint8_t	 l;

		if (i >= len || i >= 255)
			return -1;
		l = wire[i++];
		if (l == 0)
			break;
		if (l > 63)		/* compression or extended labels */
			return -1;
		if (l > len - i || i + l > 255)
			return -1;
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		for (j = 0; j < l; j++) {
			unsigned char c = wire[i + j];

			if (isalnum(c) || c == '-' || c == '_' || c == '*' ||
			    c == '/')
				n = snprintf(out + o, outlen - o, "%c", c);
			else if (c > 0x20 && c < 0x7f)
				n = snprintf(out + o, outlen - o, "\\%c", c);
			else
				n = snprintf(out + o, outlen - o, "\\%03u", c);
			if (n < 0 || (size_t)n >= outlen - o)
				return -1;
			o += (size_t)n;
		}
		i += l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	if (used != NULL)
		*used = i;
	return 0;
}

int
dns_name_canon(const char *name, char *out, size_t outlen)
{
	uint8_t	 wire[256];
	size_t	 wl, i;

	if (dns_name_to_wire(name, wire, sizeof(wire), &wl) == -1)
		return -1;
	for (i = 0; i < wl; i++) {
		uint8_t l = wire[i], j;

		for (j = 1; j <= l; j++)
			wire[i + j] = (uint8_t)tolower(wire[i + j]);
		i += l;
	}
	return dns_name_from_wire(wire, wl, NULL, out, outlen);
}

int
dns_name_equal(const char *a, const char *b)
{
	char	 ca[DNS_NAME_BUF], cb[DNS_NAME_BUF];

	if (dns_name_canon(a, ca, sizeof(ca)) == -1 ||
	    dns_name_canon(b, cb, sizeof(cb)) == -1)
		return 0;
	return strcmp(ca, cb) == 0;
}

int
dns_ptr_name(int af, const void *addr, char *out, size_t outlen)
{
	const uint8_t	*b = addr;
	size_t		 o = 0;
	int		 i, n;

	if (af == AF_INET) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    b[3], b[2], b[1], b[0]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (af != AF_INET6)
		return -1;
	for (i = 15; i >= 0; i--) {
		n = snprintf(out + o, outlen - o, "%x.%x.", b[i] & 0xf,
		    b[i] >> 4);
		if (n < 0 || (size_t)n >= outlen - o)
			return -1;
		o += (size_t)n;
	}
	n = snprintf(out + o, outlen - o, "ip6.arpa");
	return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}

const char *
dns_type_name(uint16_t type)
{
	static char	 buf[16];
	size_t		 i;

	for (i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].type == type)
			return dns_types[i].name;
	snprintf(buf, sizeof(buf), "TYPE%u", type);
	return buf;
}

int
dns_type_from_name(const char *name)
{
	const char	*errstr;
	long long	 v;
	size_t		 i;

	for (i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (strcasecmp(dns_types[i].name, name) == 0)
			return dns_types[i].type;
	if (strncasecmp(name, "TYPE", 4) == 0) {
		v = strtonum(name + 4, 1, 65535, &errstr);
		if (errstr == NULL)
			return (int)v;
	}
	return -1;
}

const char *
dns_rcode_name(int rcode)
{
	switch (rcode) {
	case DNS_R_NOERROR:	return "NOERROR";
	case DNS_R_FORMERR:	return "FORMERR";
	case DNS_R_SERVFAIL:	return "SERVFAIL";
	case DNS_R_NXDOMAIN:	return "NXDOMAIN";
	case DNS_R_NOTIMP:	return "NOTIMP";
	case DNS_R_REFUSED:	return "REFUSED";
	default:		return "RCODE?";
	}
}

const char *
dns_sec_name(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SEC_SECURE:	return "secure";
	case DNS_SEC_BOGUS:	return "bogus";
	default:		return "insecure";
	}
}

/* RDATA. */

int
dns_rdata_decode(uint16_t type, const uint8_t *rd, size_t len,
    struct dns_rr *rr)
{
	size_t	 used, i, n;

	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	rr->rdata = rd;
	rr->rdlen = len;
	switch (type) {
	case DNS_T_A:
		if (len != 4)
			return -1;
		memcpy(&rr->u.a, rd, 4);
		return 0;
	case DNS_T_AAAA:
		if (len != 16)
			return -1;
		memcpy(&rr->u.aaaa, rd, 16);
		return 0;
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		if (dns_name_from_wire(rd, len, &used, rr->u.name,
		    sizeof(rr->u.name)) == -1 || used != len)
			return -1;
		return 0;
	case DNS_T_MX:
		if (len < 3)
			return -1;
		rr->u.mx.pref = (uint16_t)(rd[0] << 8 | rd[1]);
		if (dns_name_from_wire(rd + 2, len - 2, &used, rr->u.mx.name,
		    sizeof(rr->u.mx.name)) == -1 || used != len - 2)
			return -1;
		return 0;
	case DNS_T_TXT:
	case DNS_T_SPF:
		/* RFC 1035 3.3.14: one or more character-strings. */
		if (len == 0)
			return -1;
		for (i = 0, n = 0; i < len; n++) {
			if (rd[i] > len - i - 1)
				return -1;
			i += 1 + rd[i];
		}
		rr->u.txt.nstr = n;
		rr->u.txt.str = xcalloc(n, sizeof(*rr->u.txt.str));
		for (i = 0, n = 0; i < len; n++) {
			rr->u.txt.str[n].len = rd[i];
			rr->u.txt.str[n].data = rd + i + 1;
			i += 1 + rd[i];
		}
		return 0;
	case DNS_T_TLSA:
		if (len < 3)
			return -1;
		rr->u.tlsa.usage = rd[0];
		rr->u.tlsa.selector = rd[1];
		rr->u.tlsa.mtype = rd[2];
		rr->u.tlsa.data = rd + 3;
		rr->u.tlsa.len = len - 3;
		return 0;
	default:
		/* Only the raw rdata for other types. */
		return 0;
	}
}

void
dns_rr_clear(struct dns_rr *rr)
{
	if (rr->type == DNS_T_TXT || rr->type == DNS_T_SPF) {
		free(rr->u.txt.str);
		rr->u.txt.str = NULL;
		rr->u.txt.nstr = 0;
	}
}

char *
dns_txt_concat(const struct dns_rr *rr, size_t *lenp)
{
	char	*s;
	size_t	 i, total = 0, o = 0;

	if (rr->type != DNS_T_TXT && rr->type != DNS_T_SPF) {
		if (lenp != NULL)
			*lenp = 0;
		return xstrdup("");
	}
	for (i = 0; i < rr->u.txt.nstr; i++)
		total += rr->u.txt.str[i].len;
	s = xmalloc(total + 1);
	for (i = 0; i < rr->u.txt.nstr; i++) {
		memcpy(s + o, rr->u.txt.str[i].data, rr->u.txt.str[i].len);
		o += rr->u.txt.str[i].len;
	}
	s[o] = '\0';
	if (lenp != NULL)
		*lenp = o;
	return s;
}

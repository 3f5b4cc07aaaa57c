/*
 * Fuzz the zone-file reader (lib/dns_zone.c) and the RDATA decoder and name
 * conversions of lib/dns.c: the input is parsed as a master file; every
 * record it yields is decoded again; the raw input is also decoded as rdata
 * of each type we know and as a wire name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_zone.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {
		DNS_T_A, DNS_T_NS, DNS_T_CNAME, DNS_T_SOA, DNS_T_PTR,
		DNS_T_MX, DNS_T_TXT, DNS_T_AAAA, DNS_T_SPF, DNS_T_TLSA, 65280,
	};
	struct zone	*z;
	struct dns_rr	 rr;
	char		 err[512], name[DNS_NAME_BUF], *s;
	size_t		 i, used;

	if ((z = zone_parse((const char *)data, size, err, sizeof(err))) !=
	    NULL) {
		for (i = 0; i < z->nrr; i++) {
			if (dns_rdata_decode(z->rr[i].type, z->rr[i].rdata,
			    z->rr[i].rdlen, &rr) == 0) {
				s = dns_txt_concat(&rr, NULL);
				free(s);
				dns_rr_clear(&rr);
			}
			zone_name_exists(z, z->rr[i].owner);
		}
		zone_free(z);
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (dns_rdata_decode(types[i], data, size, &rr) == 0)
			dns_rr_clear(&rr);
	}
	dns_name_from_wire(data, size, &used, name, sizeof(name));
	if (size < sizeof(name)) {
		memcpy(name, data, size);
		name[size] = '\0';
		if (strlen(name) == size) {
			char	 canon[DNS_NAME_BUF];

			dns_name_canon(name, canon, sizeof(canon));
		}
	}
	return 0;
}

/*
 * libFuzzer target for reportd/tlsrpt.c: the _smtp._tls reporting policy
 * record that any receiving domain publishes, and the report built from
 * outcomes whose names come from the network (MX host names), and for
 * delivery (5.4) an https: URI of a record split for the POST and the
 * answer of an HTTPS server.  The first byte says which; the rest is the
 * input.  Checked: no crash or leak, a
 * record that parses keeps to its bounds with every URI of a known scheme,
 * and a report always comes out as JSON that jansson reads back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "reportd/tlsrpt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_txt(const char *s)
{
	struct tlsrpt_record	 r;
	const char		*recs[1] = { s };
	size_t			 lens[1] = { strlen(s) };
	char			 why[256];
	size_t			 i;

	if (tlsrpt_txt_select(recs, lens, 1, &r, why, sizeof(why)) !=
	    TLSRPT_TXT_FOUND) {
		if (why[0] == '\0')
			abort();	/* a refusal always says why */
		return;
	}
	if (r.nrua == 0 || r.nrua > TLSRPT_RUA_MAX)
		abort();
	for (i = 0; i < r.nrua; i++)
		if (strlen(r.rua[i].uri) > TLSRPT_URI_MAX ||
		    (r.rua[i].scheme == TLSRPT_MAILTO &&
		    strchr(r.rua[i].uri, '@') == NULL) ||
		    (r.rua[i].scheme == TLSRPT_HTTPS &&
		    strncasecmp(r.rua[i].uri, "https://", 8) != 0))
			abort();
}

/* Lines "type result mx ip": outcomes; other lines: policy strings. */
static void
check_report(const char *s)
{
	struct tlsrpt_report	*r;
	struct tlsrpt_meta	 m = { "o", "c", "id", 0, 86400 };
	struct buf		 b;
	char			*copy, *line, *save, *f[4];
	json_t			*j;
	int			 i;

	if ((r = tlsrpt_new()) == NULL || (copy = strdup(s)) == NULL)
		abort();
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < 4; i++)
			if ((f[i] = strsep(&line, " ")) == NULL)
				break;
		if (i == 4)
			tlsrpt_add(r, f[0][0] - '0', "d.test", f[1], f[2], f[3],
			    "", 1);
		else
			tlsrpt_policy_strings(r, 2, "d.test", s);
	}
	buf_init(&b, TLSRPT_JSON_MAX + 2);
	if (tlsrpt_json(r, &m, &b) == 0) {
		if ((j = json_loadb((const char *)b.data, b.len, 0, NULL)) ==
		    NULL)
			abort();
		json_decref(j);
	}
	buf_free(&b);
	free(copy);
	tlsrpt_free(r);
}

/* The URI split keeps to its buffers; a status is three digits. */
static void
check_delivery(const char *s, size_t len)
{
	char		 host[256], target[TLSRPT_URI_MAX + 2];
	unsigned int	 port;
	int		 st;

	if (tlsrpt_https_split(s, host, sizeof(host), &port, target,
	    sizeof(target)) == 0 && (port == 0 || port > 65535 ||
	    host[0] == '\0' || target[0] != '/'))
		abort();
	st = tlsrpt_http_status(s, len);
	if (st != -1 && (st < 0 || st > 999))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size == 0)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] % 3 == 0)
		check_txt(s);
	else if (data[0] % 3 == 1)
		check_report(s);
	else
		check_delivery(s, size - 1);
	free(s);
	return 0;
}

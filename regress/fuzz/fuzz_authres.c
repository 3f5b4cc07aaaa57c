/*
 * Fuzz the Authentication-Results parser (auth/authres.c, RFC 8601 2.2)
 * and its agreement with the writer: whatever parses is written again
 * (as a whole field and as a value), the written form must be a well-formed
 * header (CRLF only as folding, lines within 998 characters) and must parse
 * back to the same structure.  The first byte chooses the plain or the ARC
 * AAR form ("i=N; ..."); the authserv-id test runs on every input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "auth/authres.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same(const struct authres *a, const struct authres *b)
{
	size_t	 i, j;

	if (!str_eq(a->authserv_id, b->authserv_id) ||
	    a->version != b->version || a->nmethods != b->nmethods)
		return 0;
	for (i = 0; i < a->nmethods; i++) {
		const struct authres_method *x = &a->methods[i];
		const struct authres_method *y = &b->methods[i];

		if (!str_eq(x->name, y->name) || x->version != y->version ||
		    !str_eq(x->result, y->result) ||
		    !str_eq(x->reason, y->reason) ||
		    !str_eq(x->comment, y->comment) || x->nprops != y->nprops)
			return 0;
		for (j = 0; j < x->nprops; j++)
			if (!str_eq(x->props[j].ptype, y->props[j].ptype) ||
			    !str_eq(x->props[j].property,
			    y->props[j].property) ||
			    !str_eq(x->props[j].value, y->props[j].value))
				return 0;
	}
	return 1;
}

/* Case-insensitive, one trailing dot ignored (authres.h). */
static int
is_ours(const char *id)
{
	size_t	 len = strlen(id);

	if (len > 0 && id[len - 1] == '.')
		len--;
	return len == 14 && strncasecmp(id, "mx.example.net", 14) == 0;
}

/* A header field as RFC 5322 2.1.1 and 2.2.3 want it. */
static void
check_field(const struct buf *b)
{
	size_t	 i, col = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				abort();
			if (i + 2 < b->len && b->data[i + 2] != '\t')
				abort();
			col = 0;
			i++;
			continue;
		}
		if (b->data[i] == '\n' || b->data[i] == '\0')
			abort();
		if (++col > 998)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authres	 ar, back;
	struct buf	 b;
	const char	*v;
	char		 err[256];
	unsigned int	 inst;
	int		 aar, rv;

	if (size < 1)
		return 0;
	aar = data[0] & 1;
	v = (const char *)data + 1;
	size--;
	authres_field_is_ours(v, size, "mx.example.net", aar);
	rv = aar ? authres_parse_aar(v, size, &inst, &ar, err, sizeof(err)) :
	    authres_parse(v, size, &ar, err, sizeof(err));
	if (rv == -1) {
		if (ar.priv != NULL || ar.methods != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	buf_init(&b, 1024 * 1024);
	if (authres_write(&ar, &b) == -1)
		abort();
	check_field(&b);
	buf_reset(&b);
	if (authres_write_value(&ar, 0, &b) == -1)
		abort();
	if (authres_parse((const char *)b.data, b.len, &back, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "written form does not parse: %s\n%s\n", err,
		    buf_cstr(&b));
		abort();
	}
	if (!same(&ar, &back)) {
		fprintf(stderr, "written form parses differently:\n%s\n",
		    buf_cstr(&b));
		abort();
	}
	/* The authserv-id test agrees with the parser. */
	if (authres_field_is_ours((const char *)b.data, b.len,
	    "mx.example.net", 0) != is_ours(ar.authserv_id))
		abort();
	authres_free(&back);
	authres_free(&ar);
	buf_free(&b);
	return 0;
}

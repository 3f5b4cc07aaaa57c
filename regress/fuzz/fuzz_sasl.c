/*
 * Fuzz the SASL client (mta/sasl.c) with hostile servers.  The first
 * input byte picks the mechanism (low 3 bits) and whether the server's
 * messages are given as plain text to be base64-encoded here (bit 3, so
 * that SCRAM's server-first parsing is reached) or sent as they are.  The
 * rest is split at newlines: each piece is one 334 challenge, the last one
 * the text of the final 235.  The client nonce is fixed to RFC 5802's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "mta/sasl.h"
#include "scram.h"
#include "util.h"

#define MAX_STEPS	6

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Iteration counts the client accepts cost real PBKDF2 time; keep the
 * fuzzer's executions fast by not handing it counts above 20000 (counts
 * beyond the accepted range are still tried: they are refused unparsed).
 */
static int
too_slow(const char *s)
{
	const char	*p;
	long		 v;

	for (p = s; (p = strstr(p, "i=")) != NULL; p += 2) {
		v = strtol(p + 2, NULL, 10);
		if (v > 20000 && v <= SCRAM_MAX_ITER)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_client	*c;
	struct buf		 line;
	enum sasl_mech		 mech;
	char			 err[256], *text, *piece, *next, *enc;
	int			 encode, steps = 0;

	if (size < 1 || size > 16384)
		return 0;
	mech = SASL_MECH_PLAIN + (data[0] & 7) % 5;
	encode = data[0] & 8;
	text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (strlen(text) != size - 1 || too_slow(text)) {
		free(text);
		return 0;
	}
	c = sasl_client_new(mech, "user", "pencil");
	if (mech == SASL_MECH_SCRAM_SHA_1 || mech == SASL_MECH_SCRAM_SHA_256)
		sasl_client_set_nonce(c, "fyko+d2lbbFgONRv9qkxdawL");
	buf_init(&line, 8192);
	if (sasl_client_start(c, &line, err, sizeof(err)) == -1)
		abort();
	for (piece = text; piece != NULL; piece = next) {
		if ((next = strchr(piece, '\n')) != NULL)
			*next++ = '\0';
		enc = encode ? b64_encode((uint8_t *)piece, strlen(piece)) :
		    xstrdup(piece);
		if (next == NULL || ++steps > MAX_STEPS) {
			sasl_client_done(c, enc, err, sizeof(err));
			free(enc);
			break;
		}
		if (sasl_client_step(c, enc, &line, err, sizeof(err)) == -1) {
			if (strcmp(buf_cstr(&line), "*") != 0)
				abort();
			free(enc);
			break;
		}
		free(enc);
	}
	buf_free(&line);
	sasl_client_free(c);
	free(text);
	return 0;
}

/*
 * libFuzzer target for the SCRAM server (lib/scram.c and the SCRAM part of
 * smtpd/engine_auth.c).  The first byte picks what the rest is:
 *   0  a client-first-message for scram_parse_client_first()
 *   1  a client-final-message for scram_parse_client_final()
 *   2  a stored form for scram_stored_parse() (what parses must format
 *      back to itself)
 *   3  lines of an AUTH SCRAM-SHA-256 exchange fed to an SMTP engine
 *      inside TLS whose caller answers at once: a salt, then ok (with a
 *      signature) or a failure.
 * The parsers get an exact-size copy, so any read past the input shows.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"
#include "smtpd/engine.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_first(const char *m, size_t len)
{
	struct scram_client_first	 cf;

	if (scram_parse_client_first(m, len, &cf) != SCRAM_OK)
		return;
	if ((cf.cbind_flag != 'n' && cf.cbind_flag != 'y') ||
	    cf.gs2_len < 3 || cf.gs2_len > len || cf.bare_off != cf.gs2_len ||
	    cf.user[0] == '\0' || strlen(cf.user) > SCRAM_USER_MAX ||
	    scram_prep_check(cf.user) == -1 || cf.nonce[0] == '\0' ||
	    !scram_printable(cf.nonce, strlen(cf.nonce)))
		__builtin_trap();
}

static void
fuzz_final(const char *m, size_t len)
{
	struct scram_client_final	 cf;

	if (scram_parse_client_final(m, len, &cf) != SCRAM_OK)
		return;
	if (cf.without_proof_len >= len || cf.proof_len == 0 ||
	    cf.proof_len > SCRAM_HASH_MAX || cf.cbind != m + 2 ||
	    cf.nonce < m || cf.nonce + cf.nonce_len > m +
	    cf.without_proof_len || cf.nonce_len == 0)
		__builtin_trap();
}

static void
fuzz_stored(const char *m, size_t len)
{
	struct scram_stored	 st, st2;
	char			*f;

	if (scram_stored_parse(m, len, &st) == -1)
		return;
	if (!scram_is_mech(st.mech) || st.iter < SCRAM_MIN_ITER ||
	    st.iter > SCRAM_MAX_ITER || st.saltlen == 0 ||
	    st.saltlen > SCRAM_SALT_MAX)
		__builtin_trap();
	f = scram_stored_format(&st);
	if (scram_stored_parse(f, strlen(f), &st2) == -1 ||
	    memcmp(&st, &st2, sizeof(st)) != 0)
		__builtin_trap();
	free(f);
}

struct fz {
	struct smtp_session	*s;
	int			 ok;
};

static void
on_scram_start(void *arg, const char *mech, const char *user)
{
	struct fz	*f = arg;
	static const uint8_t salt[4] = { 's', 'a', 'l', 't' };

	if (strcmp(mech, "SCRAM-SHA-256") != 0 || user[0] == '\0' ||
	    strlen(user) > SCRAM_USER_MAX)
		__builtin_trap();
	smtp_session_reply_scram_salt(f->s, salt, sizeof(salt), 4096);
}

static void
on_scram_proof(void *arg, const char *mech, const char *user,
    const char *authmsg, size_t authmsglen, const uint8_t *proof,
    size_t prooflen)
{
	struct fz	*f = arg;
	uint8_t		 sig[SCRAM_HASH_MAX];

	if (authmsglen > SCRAM_AUTHMSG_MAX || prooflen > SCRAM_HASH_MAX ||
	    (authmsg == NULL && authmsglen != 0))
		__builtin_trap();
	/* ok even for a NULL authmsg: the engine's last step gets fuzzed */
	if (f->ok) {
		memset(sig, 0x5a, sizeof(sig));
		smtp_session_reply_scram_ok(f->s, sig, sizeof(sig));
	} else
		smtp_session_reply_auth(f->s, SMTP_AUTH_FAIL, 0, NULL, NULL);
}

static const struct smtp_session_cb cbs = {
	.on_scram_start = on_scram_start,
	.on_scram_proof = on_scram_proof,
};

static void
fuzz_engine(const uint8_t *data, size_t size, int ok)
{
	static const char	 start[] = "EHLO c.test\r\nAUTH SCRAM-SHA-256\r\n";
	struct smtp_session_conf conf;
	struct fz		 f;
	const uint8_t		*out;
	size_t			 len, took;

	memset(&conf, 0, sizeof(conf));
	conf.hostname = "mx.example.org";
	conf.flags = SMTP_CONF_TLS_ACTIVE | SMTP_CONF_AUTH |
	    SMTP_CONF_SCRAM_SHA256 | SMTP_CONF_SCRAM_SHA1;
	f.ok = ok;
	f.s = smtp_session_new(&conf, &cbs, &f);
	smtp_session_tls_started(f.s, "TLSv1.3", "TLS_AES_128");
	smtp_session_start(f.s);
	smtp_session_input(f.s, start, sizeof(start) - 1);
	while (size > 0 && !smtp_session_closing(f.s)) {
		out = smtp_session_output(f.s, &len);
		if (len > SMTP_OUTBUF_MAX)
			__builtin_trap();
		smtp_session_output_consume(f.s, len);
		took = smtp_session_input(f.s, data, size);
		if (took == 0 || took > size)
			break;
		data += took;
		size -= took;
	}
	(void)out;
	smtp_session_client_gone(f.s);
	smtp_session_free(f.s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*m;

	if (size < 1)
		return 0;
	m = malloc(size - 1 > 0 ? size - 1 : 1);
	if (m == NULL)
		return 0;
	memcpy(m, data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		fuzz_first(m, size - 1);
		break;
	case 1:
		fuzz_final(m, size - 1);
		break;
	case 2:
		fuzz_stored(m, size - 1);
		break;
	default:
		fuzz_engine((const uint8_t *)m, size - 1, data[0] % 5 == 3);
		break;
	}
	free(m);
	return 0;
}

/*
 * lib/scram.c: the server's side of the published exchanges of RFC 5802 5
 * (SCRAM-SHA-1) and RFC 7677 3 (SCRAM-SHA-256) byte for byte: the keys
 * from the password, the client messages parsed, the AuthMessage, the
 * proof checked and the server signature; a wrong proof; the stored form
 * and its bounds; saslname escapes; and every malformed client message we
 * can think of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "scram.h"

/* one string: clang's -Wstring-concatenation in an array of them */
#define LONG_PROOF	"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqm" \
	"miz7AndVQdHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#include "util.h"

struct vector {
	enum sasl_mech	 mech;
	const char	*salt64;
	const char	*client_first;
	const char	*server_first;
	const char	*client_final;
	const char	*server_final;
};

static const struct vector rfc5802 = {
	SASL_MECH_SCRAM_SHA_1, "QSXCR+Q6sek8bf92",
	"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	    "i=4096",
	"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

static const struct vector rfc7677 = {
	SASL_MECH_SCRAM_SHA_256, "W22ZaJ0SNY7soEsUEjb6gQ==",
	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

/* The server's whole side of one published exchange. */
static void
run_vector(const struct vector *v)
{
	struct scram_client_first	 cf;
	struct scram_client_final	 fin;
	struct scram_stored		 st, st2;
	uint8_t				*salt;
	uint8_t				 sig[SCRAM_HASH_MAX];
	size_t				 saltlen, hlen = scram_hash_len(v->mech);
	char				*authmsg, *sig64, *form, *expect;

	assert_int_equal(scram_parse_client_first(v->client_first,
	    strlen(v->client_first), &cf), SCRAM_OK);
	assert_int_equal(cf.cbind_flag, 'n');
	assert_int_equal(cf.gs2_len, 3);
	assert_string_equal(cf.user, "user");
	assert_int_equal(strncmp(v->server_first + 2, cf.nonce,
	    strlen(cf.nonce)), 0);

	/* What posternctl encrypt -s stores for "pencil". */
	assert_int_equal(b64_decode(v->salt64, strlen(v->salt64), &salt,
	    &saltlen), 0);
	memset(&st, 0, sizeof(st));
	st.mech = v->mech;
	st.iter = 4096;
	memcpy(st.salt, salt, saltlen);
	st.saltlen = saltlen;
	free(salt);
	assert_int_equal(scram_derive_keys(v->mech, "pencil", st.salt,
	    st.saltlen, st.iter, NULL, st.stored_key, st.server_key), 0);
	form = scram_stored_format(&st);
	assert_int_equal(scram_stored_parse(form, strlen(form), &st2), 0);
	assert_memory_equal(&st, &st2, sizeof(st));
	free(form);

	assert_int_equal(scram_parse_client_final(v->client_final,
	    strlen(v->client_final), &fin), SCRAM_OK);
	assert_int_equal(fin.cbind_len, 4);
	assert_memory_equal(fin.cbind, "biws", 4);
	assert_int_equal(fin.proof_len, hlen);
	/* RFC 5802 3: AuthMessage */
	xasprintf(&authmsg, "%s,%s,%.*s", v->client_first + cf.bare_off,
	    v->server_first, (int)fin.without_proof_len, v->client_final);
	assert_int_equal(scram_verify_proof(v->mech, st.stored_key,
	    st.server_key, authmsg, strlen(authmsg), fin.proof,
	    fin.proof_len, sig), 0);
	sig64 = b64_encode(sig, hlen);
	xasprintf(&expect, "v=%s", sig64);
	assert_string_equal(expect, v->server_final);
	free(expect);
	free(sig64);

	/* One bit off in the proof, or a shorter one: refused. */
	fin.proof[0] ^= 1;
	assert_int_equal(scram_verify_proof(v->mech, st.stored_key,
	    st.server_key, authmsg, strlen(authmsg), fin.proof,
	    fin.proof_len, sig), -1);
	fin.proof[0] ^= 1;
	assert_int_equal(scram_verify_proof(v->mech, st.stored_key,
	    st.server_key, authmsg, strlen(authmsg), fin.proof,
	    fin.proof_len - 1, sig), -1);
	/* Another AuthMessage (another nonce: a replay): refused. */
	authmsg[strlen(authmsg) - 1] ^= 1;
	assert_int_equal(scram_verify_proof(v->mech, st.stored_key,
	    st.server_key, authmsg, strlen(authmsg), fin.proof,
	    fin.proof_len, sig), -1);
	free(authmsg);
}

static void
test_rfc5802_sha1(void **state)
{
	run_vector(&rfc5802);
}

static void
test_rfc7677_sha256(void **state)
{
	run_vector(&rfc7677);
}

static void
test_client_key(void **state)
{
	uint8_t	*salt, ck[SCRAM_HASH_MAX], sk[SCRAM_HASH_MAX];
	size_t	 saltlen;

	/* The mta's client and the server derive the same keys. */
	assert_int_equal(b64_decode("QSXCR+Q6sek8bf92", 16, &salt, &saltlen),
	    0);
	assert_int_equal(scram_derive_keys(SASL_MECH_SCRAM_SHA_1, "pencil",
	    salt, saltlen, 4096, ck, sk, NULL), 0);
	assert_int_equal(scram_derive_keys(SASL_MECH_PLAIN, "pencil",
	    salt, saltlen, 4096, ck, sk, NULL), -1);
	assert_int_equal(scram_derive_keys(SASL_MECH_SCRAM_SHA_1, "pencil",
	    salt, saltlen, SCRAM_MAX_ITER + 1, ck, sk, NULL), -1);
	free(salt);
}

static void
test_stored_bad(void **state)
{
	struct scram_stored	 st;
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-256",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-512$4096:c2FsdA==$"
		    "Kbmdh8ExBHzgskjqX+NkdEOpnZnUezl8zXYgd32NrUg=:"
		    "Nma5iMCh3MhBCz+XF89OEpTBi2c8n39Hrs+JJnDrtwk=",
		/* iterations out of bounds */
		"SCRAM-SHA-256$4095:c2FsdA==$"
		    "Kbmdh8ExBHzgskjqX+NkdEOpnZnUezl8zXYgd32NrUg=:"
		    "Nma5iMCh3MhBCz+XF89OEpTBi2c8n39Hrs+JJnDrtwk=",
		"SCRAM-SHA-256$1000001:c2FsdA==$"
		    "Kbmdh8ExBHzgskjqX+NkdEOpnZnUezl8zXYgd32NrUg=:"
		    "Nma5iMCh3MhBCz+XF89OEpTBi2c8n39Hrs+JJnDrtwk=",
		"SCRAM-SHA-256$-4096:c2FsdA==$"
		    "Kbmdh8ExBHzgskjqX+NkdEOpnZnUezl8zXYgd32NrUg=:"
		    "Nma5iMCh3MhBCz+XF89OEpTBi2c8n39Hrs+JJnDrtwk=",
		/* a SHA-1 key under SHA-256 */
		"SCRAM-SHA-256$4096:c2FsdA==$p0VaSmFDbCp5mDt5Vwz95gE7/no=:"
		    "lK6Ak4g2lx9pumC4CaNIz6IPjJ0=",
		/* no salt, bad base64, missing ServerKey */
		"SCRAM-SHA-1$4096:$p0VaSmFDbCp5mDt5Vwz95gE7/no=:"
		    "lK6Ak4g2lx9pumC4CaNIz6IPjJ0=",
		"SCRAM-SHA-1$4096:c2F sdA==$p0VaSmFDbCp5mDt5Vwz95gE7/no=:"
		    "lK6Ak4g2lx9pumC4CaNIz6IPjJ0=",
		"SCRAM-SHA-1$4096:c2FsdA==$p0VaSmFDbCp5mDt5Vwz95gE7/no=",
		"SCRAM-SHA-1$4096:c2FsdA==$p0VaSmFDbCp5mDt5Vwz95gE7/no=:",
	};
	const char *good = "scram-sha-1$1000000:c2FsdA==$"
	    "p0VaSmFDbCp5mDt5Vwz95gE7/no=:lK6Ak4g2lx9pumC4CaNIz6IPjJ0=";
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(scram_stored_parse(bad[i], strlen(bad[i]),
		    &st), -1);
	assert_int_equal(scram_stored_parse(good, strlen(good), &st), 0);
	assert_int_equal(st.iter, 1000000);
	assert_int_equal(st.saltlen, 4);
}

static void
test_saslname(void **state)
{
	struct scram_client_first	 cf;
	struct buf			 b;
	char				 out[8];
	const char			*m = "y,a=a=2Cb=3D,n=a=2Cb=3D,r=abc,x=1";

	assert_int_equal(scram_saslname_decode("a=2Cb=3Dc", 9, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "a,b=c");
	assert_int_equal(scram_saslname_decode("a=2", 3, out, sizeof(out)),
	    -1);
	assert_int_equal(scram_saslname_decode("a=41", 4, out, sizeof(out)),
	    -1);
	assert_int_equal(scram_saslname_decode("abcdefgh", 8, out,
	    sizeof(out)), -1);
	buf_init(&b, 64);
	assert_int_equal(scram_saslname_encode(&b, "a,b=c"), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "a=2Cb=3Dc", 9);
	buf_free(&b);
	/* "y" flag, authzid equal to the user, an extension: all taken. */
	assert_int_equal(scram_parse_client_first(m, strlen(m), &cf),
	    SCRAM_OK);
	assert_int_equal(cf.cbind_flag, 'y');
	assert_string_equal(cf.user, "a,b=");
	assert_string_equal(cf.nonce, "abc");
	assert_int_equal(cf.gs2_len, strlen("y,a=a=2Cb=3D,"));
}

static void
test_client_first_bad(void **state)
{
	struct scram_client_first	 cf;
	static const struct {
		const char		*msg;
		enum scram_parse_err	 err;
	} t[] = {
		{ "", SCRAM_ERR_SYNTAX },
		{ "n", SCRAM_ERR_SYNTAX },
		{ "n,", SCRAM_ERR_SYNTAX },
		{ "n,,", SCRAM_ERR_SYNTAX },
		{ "x,,n=user,r=abc", SCRAM_ERR_SYNTAX },
		{ "p=tls-exporter,,n=user,r=abc", SCRAM_ERR_CBIND },
		{ "n,a=other,n=user,r=abc", SCRAM_ERR_AUTHZID },
		{ "n,b=user,n=user,r=abc", SCRAM_ERR_SYNTAX },
		{ "n,,m=ext,n=user,r=abc", SCRAM_ERR_EXTENSION },
		{ "n,,n=,r=abc", SCRAM_ERR_SYNTAX },
		{ "n,,n=us=er,r=abc", SCRAM_ERR_USER },
		{ "n,,n=us\x01r,r=abc", SCRAM_ERR_USER },
		{ "n,,n=us\xffr,r=abc", SCRAM_ERR_USER },
		{ "n,,n=user", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,r=", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,r=a b", SCRAM_ERR_SYNTAX },
		{ "n,,r=abc,n=user", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,r=abc,", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,r=abc,1=x", SCRAM_ERR_SYNTAX },
		{ "n,,n=user,r=abc,x=", SCRAM_ERR_SYNTAX },
		/* a client-final first: out of order */
		{ "c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		    SCRAM_ERR_SYNTAX },
	};
	char	 big[SCRAM_CLIENT_MSG_MAX + 64];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(scram_parse_client_first(t[i].msg,
		    strlen(t[i].msg), &cf), t[i].err);
	/* a NUL inside */
	assert_int_equal(scram_parse_client_first("n,,n=u\0s,r=abc", 14, &cf),
	    SCRAM_ERR_SYNTAX);
	/* a nonce over SCRAM_NONCE_MAX, a message over the bound */
	memset(big, 'a', sizeof(big));
	memcpy(big, "n,,n=user,r=", 12);
	assert_int_equal(scram_parse_client_first(big,
	    12 + SCRAM_NONCE_MAX + 1, &cf), SCRAM_ERR_SYNTAX);
	assert_int_equal(scram_parse_client_first(big, 12 + SCRAM_NONCE_MAX,
	    &cf), SCRAM_OK);
	assert_int_equal(scram_parse_client_first(big, sizeof(big), &cf),
	    SCRAM_ERR_SYNTAX);
}

static void
test_client_final_bad(void **state)
{
	struct scram_client_final	 cf;
	static const char *const bad[] = {
		"",
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"r=abc,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=abc",
		"c=biws,r=abc,p=",
		"c=biws,r=abc,p=!!!!",
		"c=biws,r=abc,p=dHzb ZapW",
		"c=biws,r=abc,,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
		/* a proof longer than any hash */
		LONG_PROOF,
		/* the client-first again: out of order */
		"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	};
	const char	*ok = "c=biws,r=abc,x=y,p=dHzbZapWIk4jUhN+Ute9ytag9zjf"
	    "MHgsqmmiz7AndVQ=";
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(scram_parse_client_final(bad[i],
		    strlen(bad[i]), &cf), SCRAM_ERR_SYNTAX);
	assert_int_equal(scram_parse_client_final(ok, strlen(ok), &cf),
	    SCRAM_OK);
	assert_int_equal(cf.without_proof_len, 16);
	assert_int_equal(cf.nonce_len, 3);
	assert_int_equal(cf.proof_len, 32);
}

static void
test_prep(void **state)
{
	assert_int_equal(scram_prep_check("user"), 0);
	assert_int_equal(scram_prep_check("\xc3\xa9t\xc3\xa9"), 0);
	assert_int_equal(scram_prep_check("a\tb"), -1);
	assert_int_equal(scram_prep_check("\xc0\xaf"), -1);
	assert_int_equal(scram_prep_check("\xed\xa0\x80"), -1);
	assert_int_equal(scram_printable("a,b", 3), 0);
	assert_int_equal(scram_printable("a~b", 3), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5802_sha1),
		cmocka_unit_test(test_rfc7677_sha256),
		cmocka_unit_test(test_client_key),
		cmocka_unit_test(test_stored_bad),
		cmocka_unit_test(test_saslname),
		cmocka_unit_test(test_client_first_bad),
		cmocka_unit_test(test_client_final_bad),
		cmocka_unit_test(test_prep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

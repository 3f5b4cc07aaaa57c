/*
 * lib/srs.c: SRS0 and SRS1 addresses against vectors computed with
 * Python's hmac (HMAC-SHA1, base64, first 4 characters, over the
 * lower-cased "TT=domain=local" or "host=rest"), their reversal with
 * key rotation, case folding, expiry and forgeries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "srs.h"

#define KEY	"0123456789abcdef0123456789abcdef"
#define OLDKEY	"another secret key, the old one"
#define NOW	((time_t)1700000000)	/* day 19675: 219 mod 1024, "G3" */
#define DAY	((time_t)86400)

static void
setup_srs(struct srs *srs, int rotated)
{
	srs_init(srs, "fwd.test");
	assert_int_equal(srs_add_key(srs, KEY, strlen(KEY)), 0);
	if (rotated)
		assert_int_equal(srs_add_key(srs, OLDKEY, strlen(OLDKEY)), 0);
}

static void
test_timestamp(void **state)
{
	char	 tt[3];

	(void)state;
	srs_timestamp(NOW, tt);
	assert_string_equal(tt, "G3");
	srs_timestamp(0, tt);
	assert_string_equal(tt, "AA");
	srs_timestamp(1023 * DAY, tt);
	assert_string_equal(tt, "77");
	srs_timestamp(1024 * DAY, tt);
	assert_string_equal(tt, "AA");
}

static void
test_forward_vectors(void **state)
{
	struct srs	 srs;
	char		 out[1025];

	(void)state;
	setup_srs(&srs, 0);
	assert_int_equal(srs_forward(&srs, "Alice@Example.ORG", NOW, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out, "SRS0=3XPa=G3=Example.ORG=Alice@fwd.test");
	/* an SRS0 of another forwarder: SRS1, the SRS0 part kept */
	assert_int_equal(srs_forward(&srs,
	    "SRS0=ABCD=G3=orig.test=carol@first.test", NOW, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out,
	    "SRS1=th5D=first.test==ABCD=G3=orig.test=carol@fwd.test");
	/* an SRS1 forwarded again: the same first forwarder, our hash */
	assert_int_equal(srs_forward(&srs,
	    "SRS1=zzzz=first.test==ABCD=G3=orig.test=carol@second.test", NOW,
	    out, sizeof(out)), SRS_OK);
	assert_string_equal(out,
	    "SRS1=th5D=first.test==ABCD=G3=orig.test=carol@fwd.test");
	/* the null sender and our own domain: unchanged */
	assert_int_equal(srs_forward(&srs, "", NOW, out, sizeof(out)),
	    SRS_OK);
	assert_string_equal(out, "");
	assert_int_equal(srs_forward(&srs, "me@FWD.test", NOW, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out, "me@FWD.test");
	/* does not fit: the sender unchanged */
	assert_int_equal(srs_forward(&srs, "a@b.test", NOW, out, 20),
	    SRS_TOO_LONG);
	assert_string_equal(out, "a@b.test");
	/* no key: unchanged */
	srs_clear(&srs);
	assert_int_equal(srs_forward(&srs, "a@b.test", NOW, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out, "a@b.test");
}

static void
test_reverse(void **state)
{
	struct srs	 srs;
	char		 fw[1025], out[1025];

	(void)state;
	setup_srs(&srs, 0);
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPa=G3=Example.ORG=Alice@fwd.test", NOW, out, sizeof(out)),
	    SRS_OK);
	assert_string_equal(out, "Alice@Example.ORG");
	/* folded to lower or upper case on the way: still good */
	assert_int_equal(srs_reverse(&srs,
	    "srs0=3xpa=g3=example.org=alice@FWD.TEST", NOW, out, sizeof(out)),
	    SRS_OK);
	assert_string_equal(out, "alice@example.org");
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPA=G3=EXAMPLE.ORG=ALICE@fwd.test", NOW, out, sizeof(out)),
	    SRS_OK);
	/* '+' and '-' after the tag, as libsrs2 reads */
	assert_int_equal(srs_reverse(&srs,
	    "SRS0+3XPa=G3=Example.ORG=Alice@fwd.test", NOW, out, sizeof(out)),
	    SRS_OK);
	/* SRS1 goes back to the first forwarder as its SRS0 */
	assert_int_equal(srs_reverse(&srs,
	    "SRS1=th5D=first.test==ABCD=G3=orig.test=carol@fwd.test", NOW,
	    out, sizeof(out)), SRS_OK);
	assert_string_equal(out, "SRS0=ABCD=G3=orig.test=carol@first.test");
	/* round trip at another time, a local part with '=' in it */
	assert_int_equal(srs_forward(&srs, "x=y@z.test", NOW + 5 * DAY, fw,
	    sizeof(fw)), SRS_OK);
	assert_int_equal(srs_reverse(&srs, fw, NOW + 6 * DAY, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out, "x=y@z.test");
}

static void
test_reverse_refused(void **state)
{
	struct srs	 srs;
	char		 out[1025];
	const char	*good = "SRS0=3XPa=G3=Example.ORG=Alice@fwd.test";

	(void)state;
	setup_srs(&srs, 0);
	/* forged: another hash, or the fields shifted */
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPb=G3=Example.ORG=Alice@fwd.test", NOW, out, sizeof(out)),
	    SRS_BAD_HASH);
	assert_string_equal(out, "");
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPa=G3=Example.OR=GAlice@fwd.test", NOW, out, sizeof(out)),
	    SRS_BAD_HASH);
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPa=G3=Example.ORG=Alicf@fwd.test", NOW, out, sizeof(out)),
	    SRS_BAD_HASH);
	assert_int_equal(srs_reverse(&srs,
	    "SRS1=th5D=first.test==ABCD=G3=orig.test=caro1@fwd.test", NOW,
	    out, sizeof(out)), SRS_BAD_HASH);
	/* expired: 21 days is the limit; one day ahead is tolerated */
	assert_int_equal(srs_reverse(&srs, good, NOW + 21 * DAY, out,
	    sizeof(out)), SRS_OK);
	assert_int_equal(srs_reverse(&srs, good, NOW + 22 * DAY, out,
	    sizeof(out)), SRS_EXPIRED);
	assert_int_equal(srs_reverse(&srs, good, NOW - DAY, out,
	    sizeof(out)), SRS_OK);
	assert_int_equal(srs_reverse(&srs, good, NOW - 2 * DAY, out,
	    sizeof(out)), SRS_EXPIRED);
	/* and 1024 days later the stamp is good again, as in libsrs2 */
	assert_int_equal(srs_reverse(&srs, good, NOW + 1024 * DAY, out,
	    sizeof(out)), SRS_OK);
	/* syntax: bad base32, short hash, truncated, empty parts */
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPa=G1=Example.ORG=Alice@fwd.test", NOW, out, sizeof(out)),
	    SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XP=G3=Example.ORG=Alice@fwd.test", NOW, out, sizeof(out)),
	    SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS0=3XPa=G3=Example.ORG@fwd.test",
	    NOW, out, sizeof(out)), SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS0=3XPa=G3=Example.ORG=@fwd.test",
	    NOW, out, sizeof(out)), SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS0=3XPa=G3@fwd.test", NOW, out,
	    sizeof(out)), SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS0=@fwd.test", NOW, out,
	    sizeof(out)), SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS0=3X!a=G3=e.org=a@fwd.test",
	    NOW, out, sizeof(out)), SRS_SYNTAX);
	assert_int_equal(srs_reverse(&srs, "SRS1=th5D=first.test=@fwd.test",
	    NOW, out, sizeof(out)), SRS_SYNTAX);
	/* not SRS, or not our domain */
	assert_int_equal(srs_reverse(&srs, "alice@fwd.test", NOW, out,
	    sizeof(out)), SRS_NOT_SRS);
	assert_int_equal(srs_reverse(&srs, "SRS2=x@fwd.test", NOW, out,
	    sizeof(out)), SRS_NOT_SRS);
	assert_int_equal(srs_reverse(&srs,
	    "SRS0=3XPa=G3=Example.ORG=Alice@other.test", NOW, out,
	    sizeof(out)), SRS_NOT_SRS);
	/* no room for the result */
	assert_int_equal(srs_reverse(&srs, good, NOW, out, 8), SRS_TOO_LONG);
	/* no key at all: every hash is bad */
	srs_clear(&srs);
	assert_int_equal(srs_reverse(&srs, good, NOW, out, sizeof(out)),
	    SRS_BAD_HASH);
}

static void
test_rotation(void **state)
{
	struct srs	 srs;
	char		 out[1025];
	const char	*old = "SRS0=Ft0u=G3=example.org=bob@fwd.test";

	(void)state;
	/* made with the old key alone: refused until it is listed */
	setup_srs(&srs, 0);
	assert_int_equal(srs_reverse(&srs, old, NOW, out, sizeof(out)),
	    SRS_BAD_HASH);
	setup_srs(&srs, 1);
	assert_int_equal(srs_reverse(&srs, old, NOW, out, sizeof(out)),
	    SRS_OK);
	assert_string_equal(out, "bob@example.org");
	/* the first key signs */
	assert_int_equal(srs_forward(&srs, "Alice@Example.ORG", NOW, out,
	    sizeof(out)), SRS_OK);
	assert_string_equal(out, "SRS0=3XPa=G3=Example.ORG=Alice@fwd.test");
}

static void
test_keys(void **state)
{
	struct srs	 srs;
	uint8_t		 k[SRS_KEY_MAX];
	size_t		 len, i;
	char		 big[SRS_KEY_MAX + 2];

	(void)state;
	assert_int_equal(srs_key_parse(KEY "\n# comment\n",
	    strlen(KEY) + 11, k, &len), 0);
	assert_int_equal(len, strlen(KEY));
	assert_memory_equal(k, KEY, len);
	assert_int_equal(srs_key_parse(KEY "\r\n", strlen(KEY) + 2, k, &len),
	    0);
	assert_int_equal(len, strlen(KEY));
	assert_int_equal(srs_key_parse("short\n", 6, k, &len), -1);
	assert_int_equal(srs_key_parse("0123456789abcdef\0x", 18, k, &len),
	    -1);
	memset(big, 'k', sizeof(big));
	assert_int_equal(srs_key_parse(big, sizeof(big), k, &len), -1);
	assert_int_equal(srs_key_parse(big, SRS_KEY_MAX, k, &len), 0);
	srs_init(&srs, "fwd.test");
	for (i = 0; i < SRS_KEYS_MAX; i++)
		assert_int_equal(srs_add_key(&srs, KEY, strlen(KEY)), 0);
	assert_int_equal(srs_add_key(&srs, KEY, strlen(KEY)), -1);
	assert_int_equal(srs_add_key(&srs, "short", 5), -1);
	assert_true(srs_is_srs("SRS0=", 5));
	assert_true(srs_is_srs("srs1+", 5));
	assert_false(srs_is_srs("SRS0", 4));
	assert_false(srs_is_srs("SRS0x", 5));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_forward_vectors),
		cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_reverse_refused),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

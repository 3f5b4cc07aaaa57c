/*
 * reportd/rpt_unpack.c: gzip, zip and plain, and the limits: the caller's
 * maximum, the claimed sizes, the ratio, and broken archives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "reportd/rpt.h"

/* gzip (wbits 31) or raw deflate (wbits -15) of in. */
static uint8_t *
deflate_to(const uint8_t *in, size_t len, int wbits, size_t *outlen)
{
	z_stream	 z;
	size_t		 cap = deflateBound(NULL, len) + 64;
	uint8_t		*out = malloc(cap);

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* A one-member zip: method 0 or 8, sizes as given, flags. */
static uint8_t *
mkzip(const uint8_t *data, size_t dlen, int method, uint32_t usize,
    uint32_t flags, size_t *len)
{
	uint8_t		*z, *c;
	size_t		 clen, n = 0;

	c = method == 8 ? deflate_to(data, dlen, -15, &clen) :
	    (uint8_t *)data;
	if (method != 8)
		clen = dlen;
	z = calloc(1, 30 + 5 + clen + 46 + 5 + 22);
	put32(z, 0x04034b50);
	put16(z + 6, flags);
	put16(z + 8, method);
	put32(z + 14, crc32(0L, data, dlen));
	put32(z + 18, clen);
	put32(z + 22, usize);
	put16(z + 26, 5);
	memcpy(z + 30, "r.xml", 5);
	memcpy(z + 35, c, clen);
	n = 35 + clen;
	put32(z + n, 0x02014b50);
	put16(z + n + 8, flags);
	put16(z + n + 10, method);
	put32(z + n + 16, crc32(0L, data, dlen));
	put32(z + n + 20, clen);
	put32(z + n + 24, usize);
	put16(z + n + 28, 5);
	put32(z + n + 42, 0);
	memcpy(z + n + 46, "r.xml", 5);
	put32(z + n + 51, 0x06054b50);
	put16(z + n + 51 + 8, 1);
	put16(z + n + 51 + 10, 1);
	put32(z + n + 51 + 12, 51);
	put32(z + n + 51 + 16, n);
	*len = n + 51 + 22;
	if (method == 8)
		free(c);
	return z;
}

static int
unpack(const uint8_t *in, size_t len, size_t max, struct buf *out,
    char *err)
{
	return rpt_unpack(in, len, RPT_PACK_AUTO, max, out, err, 256);
}

static void
test_plain_gzip(void **state)
{
	const char	*xml = "<feedback>hello</feedback>";
	struct buf	 out;
	char		 err[256];
	uint8_t		*g;
	size_t		 glen;

	buf_init(&out, RPT_UNPACK_MAX);
	assert_int_equal(unpack((const uint8_t *)xml, strlen(xml), 0, &out,
	    err), 0);
	assert_string_equal(buf_cstr(&out), xml);
	g = deflate_to((const uint8_t *)xml, strlen(xml), 31, &glen);
	assert_int_equal(unpack(g, glen, 0, &out, err), 0);
	assert_string_equal(buf_cstr(&out), xml);
	/* the caller's maximum */
	assert_int_equal(unpack(g, glen, 10, &out, err), -1);
	assert_int_equal(unpack((const uint8_t *)xml, strlen(xml), 10, &out,
	    err), -1);
	/* a bad CRC */
	g[glen - 8] ^= 1;
	assert_int_equal(unpack(g, glen, 0, &out, err), -1);
	assert_non_null(strstr(err, "corrupt"));
	g[glen - 8] ^= 1;
	/* truncated */
	assert_int_equal(unpack(g, glen - 9, 0, &out, err), -1);
	assert_int_equal(unpack(g, 5, 0, &out, err), -1);
	free(g);
	buf_free(&out);
}

static void
test_gzip_limits(void **state)
{
	uint8_t		*zeros = calloc(1, 8 << 20), *g;
	size_t		 glen;
	struct buf	 out;
	char		 err[256];

	buf_init(&out, RPT_UNPACK_MAX);
	g = deflate_to(zeros, 8 << 20, 31, &glen);
	/* 8 MB of zeros is well within the size, not within the ratio */
	assert_int_equal(unpack(g, glen, 0, &out, err), -1);
	assert_non_null(strstr(err, "ratio"));
	assert_true(out.len <= 2 * RPT_RATIO_FREE);
	/* the trailer claims more than the maximum */
	put32(g + glen - 4, 0x40000000);
	assert_int_equal(unpack(g, glen, 0, &out, err), -1);
	assert_non_null(strstr(err, "claims"));
	free(g);
	/* under RPT_RATIO_FREE any ratio goes */
	g = deflate_to(zeros, RPT_RATIO_FREE / 2, 31, &glen);
	assert_int_equal(unpack(g, glen, 0, &out, err), 0);
	assert_int_equal(out.len, RPT_RATIO_FREE / 2);
	free(g);
	free(zeros);
	buf_free(&out);
}

static void
test_zip(void **state)
{
	const char	*xml = "<feedback>zipped</feedback>";
	size_t		 xlen = strlen(xml), zlen;
	struct buf	 out;
	char		 err[256];
	uint8_t		*z;

	buf_init(&out, RPT_UNPACK_MAX);
	z = mkzip((const uint8_t *)xml, xlen, 8, xlen, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), 0);
	assert_string_equal(buf_cstr(&out), xml);
	free(z);
	z = mkzip((const uint8_t *)xml, xlen, 0, xlen, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), 0);
	assert_string_equal(buf_cstr(&out), xml);
	free(z);
	/* the CRC-32 of what came out is checked, stored or deflated */
	for (int m = 0; m <= 8; m += 8) {
		z = mkzip((const uint8_t *)xml, xlen, m, xlen, 0, &zlen);
		z[zlen - 22 - 51 + 16] ^= 1;
		assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
		assert_non_null(strstr(err, "CRC-32"));
		free(z);
	}
	/* the directory's size is checked against what came out */
	z = mkzip((const uint8_t *)xml, xlen, 8, xlen + 1, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	free(z);
	/* encrypted, zip64, other methods, claims past the maximum */
	z = mkzip((const uint8_t *)xml, xlen, 8, xlen, 1, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	assert_non_null(strstr(err, "encrypted"));
	free(z);
	z = mkzip((const uint8_t *)xml, xlen, 8, 0xffffffff, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	assert_non_null(strstr(err, "zip64"));
	free(z);
	z = mkzip((const uint8_t *)xml, xlen, 12, xlen, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	assert_non_null(strstr(err, "method"));
	free(z);
	z = mkzip((const uint8_t *)xml, xlen, 8, 100 << 20, 0, &zlen);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	assert_non_null(strstr(err, "claims"));
	free(z);
	/* truncated anywhere: refused, never read past the end */
	z = mkzip((const uint8_t *)xml, xlen, 8, xlen, 0, &zlen);
	for (size_t n = 4; n < zlen; n++)
		assert_int_equal(rpt_unpack(z, n, RPT_PACK_ZIP, 0, &out, err,
		    sizeof(err)), -1);
	/* a directory offset past the end */
	put32(z + zlen - 6, 0x7fffffff);
	assert_int_equal(unpack(z, zlen, 0, &out, err), -1);
	free(z);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_gzip),
		cmocka_unit_test(test_gzip_limits),
		cmocka_unit_test(test_zip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

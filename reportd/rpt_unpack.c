/*
 * Unpacking a received report: gzip (RFC 1952; RFC 9990 5 and RFC 8460
 * 5.3 send reports gzipped), zip (what some senders of DMARC reports
 * still attach: PKZIP APPNOTE 4.3, the first member of the central
 * directory, stored or deflated) or plain bytes.
 *
 * The output is bounded twice: never more than the caller's maximum (and
 * RPT_UNPACK_MAX), and past RPT_RATIO_FREE octets never more than
 * RPT_RATIO_MAX octets per octet of input, so a zip bomb stops after a
 * megabyte or so.  A size that the archive itself claims (gzip ISIZE, the
 * zip directory's sizes) above the maximum is refused before inflating.
 * Zip64, encryption, multi-disk archives and methods other than stored
 * and deflate are refused; only the first member is read.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "reportd/rpt.h"
#include "util.h"

#define ZIP_LOCAL_SIG	0x04034b50
#define ZIP_CENTRAL_SIG	0x02014b50
#define ZIP_END_SIG	0x06054b50
#define ZIP_END_LEN	22
#define ZIP_COMMENT_MAX	0xffff

static uint32_t
le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Inflate in[0..len) with the given window bits (gzip or raw deflate),
 * appending to out up to max octets.
 */
static int
inflate_bounded(const uint8_t *in, size_t len, int wbits, size_t max,
    struct buf *out, char *err, size_t errlen)
{
	z_stream	 z;
	uint8_t		 chunk[16384];
	size_t		 n;
	int		 rc;

	if (len > UINT32_MAX) {
		snprintf(err, errlen, "compressed data too large");
		return -1;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK) {
		snprintf(err, errlen, "inflateInit2 failed");
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = len;
	for (;;) {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			snprintf(err, errlen, "corrupt compressed data (%s)",
			    z.msg != NULL ? z.msg : "zlib error");
			goto fail;
		}
		n = sizeof(chunk) - z.avail_out;
		if (out->len + n > max) {
			snprintf(err, errlen, "unpacks to more than %zu octets",
			    max);
			goto fail;
		}
		if (out->len + n > RPT_RATIO_FREE &&
		    (out->len + n) / RPT_RATIO_MAX > z.total_in) {
			snprintf(err, errlen, "compression ratio above %d:1 "
			    "(a zip bomb?)", RPT_RATIO_MAX);
			goto fail;
		}
		if (buf_add(out, chunk, n) == -1) {
			snprintf(err, errlen, "out of room unpacking");
			goto fail;
		}
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_BUF_ERROR && n == 0) {
			snprintf(err, errlen, "compressed data truncated");
			goto fail;
		}
	}
	inflateEnd(&z);
	return 0;
fail:
	inflateEnd(&z);
	return -1;
}

static int
unpack_gzip(const uint8_t *in, size_t len, size_t max, struct buf *out,
    char *err, size_t errlen)
{
	uint32_t	 isize;

	if (len < 18) {
		snprintf(err, errlen, "gzip data truncated");
		return -1;
	}
	/* RFC 1952 2.3.1: ISIZE, the input size modulo 2^32. */
	isize = le32(in + len - 4);
	if (isize > max) {
		snprintf(err, errlen, "gzip claims %u octets, more than %zu",
		    isize, max);
		return -1;
	}
	/* 16 + window bits: a gzip wrapper only, its CRC checked. */
	return inflate_bounded(in, len, 16 + MAX_WBITS, max, out, err,
	    errlen);
}

static int
unpack_zip(const uint8_t *in, size_t len, size_t max, struct buf *out,
    char *err, size_t errlen)
{
	const uint8_t	*end = NULL, *c, *l;
	size_t		 i, lo, cdoff, loff, data;
	uint32_t	 method, flags, csize, usize, nlen, xlen, crc;

	if (len < ZIP_END_LEN) {
		snprintf(err, errlen, "zip data truncated");
		return -1;
	}
	/* APPNOTE 4.3.16: the end record, behind a comment of <= 64k. */
	lo = len - ZIP_END_LEN > ZIP_COMMENT_MAX ?
	    len - ZIP_END_LEN - ZIP_COMMENT_MAX : 0;
	for (i = len - ZIP_END_LEN + 1; i-- > lo;)
		if (le32(in + i) == ZIP_END_SIG) {
			end = in + i;
			break;
		}
	if (end == NULL) {
		snprintf(err, errlen, "zip: no end of central directory");
		return -1;
	}
	if (le16(end + 4) != 0 || le16(end + 6) != 0) {
		snprintf(err, errlen, "zip: multi-disk archives refused");
		return -1;
	}
	if (le16(end + 10) == 0) {
		snprintf(err, errlen, "zip: empty archive");
		return -1;
	}
	cdoff = le32(end + 16);
	if (cdoff > len || len - cdoff < 46 || le32(in + cdoff) !=
	    ZIP_CENTRAL_SIG) {
		snprintf(err, errlen, "zip: bad central directory");
		return -1;
	}
	c = in + cdoff;
	flags = le16(c + 8);
	method = le16(c + 10);
	csize = le32(c + 20);
	crc = le32(c + 16);
	usize = le32(c + 24);
	loff = le32(c + 42);
	if (flags & 1) {
		snprintf(err, errlen, "zip: encrypted member refused");
		return -1;
	}
	if (csize == 0xffffffff || usize == 0xffffffff || loff ==
	    0xffffffff) {
		snprintf(err, errlen, "zip: zip64 refused");
		return -1;
	}
	if (usize > max) {
		snprintf(err, errlen, "zip claims %u octets, more than %zu",
		    usize, max);
		return -1;
	}
	if (loff > len || len - loff < 30 || le32(in + loff) !=
	    ZIP_LOCAL_SIG) {
		snprintf(err, errlen, "zip: bad local header");
		return -1;
	}
	l = in + loff;
	nlen = le16(l + 26);
	xlen = le16(l + 28);
	data = loff + 30 + nlen + xlen;
	if (data > len || len - data < csize) {
		snprintf(err, errlen, "zip: member data truncated");
		return -1;
	}
	switch (method) {
	case 0:		/* stored */
		if (csize != usize) {
			snprintf(err, errlen, "zip: stored sizes differ");
			return -1;
		}
		if (buf_add(out, in + data, csize) == -1) {
			snprintf(err, errlen, "out of room unpacking");
			return -1;
		}
		break;
	case 8:		/* deflate: raw, no zlib wrapper */
		if (inflate_bounded(in + data, csize, -MAX_WBITS, max, out,
		    err, errlen) == -1)
			return -1;
		if (out->len != usize) {
			snprintf(err, errlen, "zip: member is %zu octets, the "
			    "directory says %u", out->len, usize);
			return -1;
		}
		break;
	default:
		snprintf(err, errlen, "zip: compression method %u refused",
		    method);
		return -1;
	}
	/* APPNOTE 4.4.7: the CRC-32 of the uncompressed member. */
	if (crc32(0L, out->data, out->len) != crc) {
		snprintf(err, errlen, "zip: CRC-32 mismatch");
		return -1;
	}
	return 0;
}

int
rpt_unpack(const uint8_t *in, size_t len, enum rpt_pack pack, size_t max,
    struct buf *out, char *err, size_t errlen)
{
	if (max == 0 || max > RPT_UNPACK_MAX)
		max = RPT_UNPACK_MAX;
	buf_reset(out);
	if (pack == RPT_PACK_AUTO) {
		if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b)
			pack = RPT_PACK_GZIP;
		else if (len >= 4 && le32(in) == ZIP_LOCAL_SIG)
			pack = RPT_PACK_ZIP;
		else
			pack = RPT_PACK_PLAIN;
	}
	switch (pack) {
	case RPT_PACK_GZIP:
		return unpack_gzip(in, len, max, out, err, errlen);
	case RPT_PACK_ZIP:
		return unpack_zip(in, len, max, out, err, errlen);
	default:
		if (len > max) {
			snprintf(err, errlen, "report larger than %zu octets",
			    max);
			return -1;
		}
		if (buf_add(out, in, len) == -1) {
			snprintf(err, errlen, "out of room");
			return -1;
		}
		return 0;
	}
}

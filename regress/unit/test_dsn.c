/*
 * queue/dsn.c: each kind of DSN parsed back (top-level fields, the three MIME
 * parts, every RFC 3464 field), RET=FULL against headers only, ENVID and
 * ORCPT echoed, the RFC 6533 SMTPUTF8 form, the null reverse path refused,
 * the RFC 3461 4.1 dsn_wanted() table, folding of long diagnostics, the
 * 998-octet line limit, a huge RET=FULL original cut to its headers, and
 * field injection through remote reply text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/dsn.h"
#include "envelope.h"
#include "smtp_addr.h"
#include "util.h"

#define NOW	1795000000	/* a fixed Date for the tests */

static const char original[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: lunch\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Shall we have lunch?\r\n"
    "BODY-MARKER\r\n";

struct src {
	const char	*data;
	size_t		 len;
	size_t		 off;
	size_t		 chunk;		/* most per call; 0: any */
	int		 fail;
	size_t		 calls;
};

static int
src_read(void *arg, uint8_t *buf, size_t len, size_t *got)
{
	struct src	*s = arg;
	size_t		 n;

	s->calls++;
	if (s->fail)
		return -1;
	n = s->len - s->off;
	if (n > len)
		n = len;
	if (s->chunk != 0 && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

static void
src_init(struct src *s, const char *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->data = data;
	s->len = len;
}

/* The message split back into its pieces. */
struct parsed {
	char	*hdrs;		/* top-level header section */
	char	*ptype;		/* unfolded Content-Type */
	int	 nparts;
	char	*phdrs[4];
	char	*pbody[4];
};

/* Unfolded value of the first field called name in a header section. */
static char *
field(const char *hdrs, const char *name)
{
	const char	*p = hdrs, *v, *e;
	size_t		 nl = strlen(name);
	struct buf	 b;

	for (;;) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			break;
		if ((p = strstr(p, "\r\n")) == NULL)
			return NULL;
		p += 2;
	}
	v = p + nl + 1;
	while (*v == ' ')
		v++;
	buf_init(&b, 1 << 20);
	for (;;) {
		e = strstr(v, "\r\n");
		if (e == NULL)
			e = v + strlen(v);
		buf_add(&b, v, e - v);
		if (*e == '\0' || (e[2] != ' ' && e[2] != '\t'))
			break;
		v = e + 2;	/* RFC 5322 2.2.3: unfolding drops CRLF */
	}
	return buf_cstr(&b);
}

/* Every line ends in CRLF and has at most 998 octets before it. */
static void
check_lines(const char *m, size_t len)
{
	size_t	 i, linelen = 0;

	for (i = 0; i < len; i++) {
		if (m[i] == '\r') {
			assert_true(i + 1 < len && m[i + 1] == '\n');
			i++;
			linelen = 0;
			continue;
		}
		assert_int_not_equal(m[i], '\n');
		assert_int_not_equal(m[i], '\0');
		linelen++;
		assert_true(linelen <= 998);
	}
	assert_int_equal(linelen, 0);
}

static void
parse(const char *m, struct parsed *p)
{
	const char	*body, *b, *s, *e, *h;
	char		*ct, delim[128];

	memset(p, 0, sizeof(*p));
	check_lines(m, strlen(m));
	body = strstr(m, "\r\n\r\n");
	assert_non_null(body);
	p->hdrs = xstrndup(m, body - m + 2);
	body += 4;
	ct = field(p->hdrs, "Content-Type");
	assert_non_null(ct);
	p->ptype = ct;
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += strlen("boundary=\"");
	e = strchr(b, '"');
	assert_non_null(e);
	snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)(e - b), b);
	/* RFC 2046 5.1.1: the first delimiter may follow the preamble. */
	s = strstr(body, delim);
	assert_non_null(s);
	for (;;) {
		s += strlen(delim);
		if (strncmp(s, "--", 2) == 0) {
			assert_string_equal(s, "--\r\n");
			break;
		}
		assert_true(strncmp(s, "\r\n", 2) == 0);
		s += 2;
		e = strstr(s, delim);
		assert_non_null(e);
		assert_true(p->nparts < 4);
		h = strstr(s, "\r\n\r\n");
		assert_non_null(h);
		assert_true(h < e);
		p->phdrs[p->nparts] = xstrndup(s, h - s + 2);
		/* The CRLF before the delimiter is the delimiter's. */
		p->pbody[p->nparts] = xstrndup(h + 4, e - h - 4);
		p->nparts++;
		s = e;
	}
}

static void
parsed_free(struct parsed *p)
{
	int	 i;

	free(p->hdrs);
	free(p->ptype);
	for (i = 0; i < p->nparts; i++) {
		free(p->phdrs[i]);
		free(p->pbody[i]);
	}
}

/* Field of a part: compare and free. */
static void
expect_field(const char *hdrs, const char *name, const char *want)
{
	char	*v;

	v = field(hdrs, name);
	if (want == NULL) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

/* The n-th block (0: per-message) of a delivery-status body. */
static char *
ds_block(const char *body, int n)
{
	const char	*s = body, *e;

	while (n-- > 0) {
		s = strstr(s, "\r\n\r\n");
		if (s == NULL)
			return NULL;
		s += 4;
	}
	e = strstr(s, "\r\n\r\n");
	return e == NULL ? xstrdup(s) : xstrndup(s, e - s + 2);
}

static void
info_init(struct dsn_info *info, enum dsn_kind kind)
{
	memset(info, 0, sizeof(*info));
	info->reporting_mta = "mx.example.com";
	info->sender = "alice@example.org";
	info->kind = kind;
	info->arrival = NOW - 3600;
	info->now = NOW;
	info->queue_id = "0123456789ab";
}

static int
build(struct buf *out, const struct dsn_info *info,
    const struct dsn_rcpt *r, size_t n, struct src *s)
{
	buf_init(out, 8 << 20);
	return dsn_build(out, info, r, n, s ? src_read : NULL, s);
}

static void
test_failure(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r[2];
	struct buf	 out;
	struct parsed	 p;
	struct src	 s;
	char		*blk;

	info_init(&info, DSN_KIND_FAILURE);
	memset(r, 0, sizeof(r));
	r[0].final_rcpt = "bob@example.net";
	r[0].action = DSN_ACTION_FAILED;
	r[0].status = "5.1.1";
	r[0].remote_mta = "mx.example.net";
	r[0].diagnostic = "550 5.1.1 <bob@example.net>: no such user";
	r[0].last_attempt = NOW - 60;
	r[1].final_rcpt = "carol@example.net";
	r[1].action = DSN_ACTION_FAILED;
	src_init(&s, original, strlen(original));
	s.chunk = 7;	/* the header end arrives split */

	assert_int_equal(build(&out, &info, r, 2, &s), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.hdrs, "From",
	    "MAILER-DAEMON@mx.example.com (Mail Delivery System)");
	expect_field(p.hdrs, "To", "<alice@example.org>");
	expect_field(p.hdrs, "Subject", "Undelivered Mail Returned to Sender");
	expect_field(p.hdrs, "Date", "Wed, 18 Nov 2026 11:06:40 +0000");
	expect_field(p.hdrs, "Auto-Submitted", "auto-replied");
	expect_field(p.hdrs, "MIME-Version", "1.0");
	expect_field(p.hdrs, "Content-Transfer-Encoding", NULL);
	blk = field(p.hdrs, "Message-ID");
	assert_non_null(blk);
	assert_true(blk[0] == '<' && strstr(blk, "@mx.example.com>") != NULL);
	free(blk);
	assert_true(strncmp(p.ptype, "multipart/report; "
	    "report-type=delivery-status;", 45) == 0);
	assert_int_equal(p.nparts, 3);

	/* Part 1: for people. */
	expect_field(p.phdrs[0], "Content-Type",
	    "text/plain; charset=us-ascii");
	assert_non_null(strstr(p.pbody[0],
	    "<bob@example.net>: failed (5.1.1)"));
	assert_non_null(strstr(p.pbody[0], "host mx.example.net said:"));
	assert_non_null(strstr(p.pbody[0], "no such user"));
	assert_non_null(strstr(p.pbody[0],
	    "<carol@example.net>: failed (5.0.0)"));
	assert_non_null(strstr(p.pbody[0], "0123456789ab"));
	assert_non_null(strstr(p.pbody[0], "header section"));

	/* Part 2: RFC 3464. */
	expect_field(p.phdrs[1], "Content-Type", "message/delivery-status");
	blk = ds_block(p.pbody[1], 0);
	expect_field(blk, "Reporting-MTA", "dns; mx.example.com");
	expect_field(blk, "Arrival-Date", "Wed, 18 Nov 2026 10:06:40 +0000");
	expect_field(blk, "X-Postern-Queue-ID", "0123456789ab");
	expect_field(blk, "Original-Envelope-Id", NULL);
	expect_field(blk, "Final-Recipient", NULL);
	free(blk);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Original-Recipient", NULL);
	expect_field(blk, "Final-Recipient", "rfc822; bob@example.net");
	expect_field(blk, "Action", "failed");
	expect_field(blk, "Status", "5.1.1");
	expect_field(blk, "Remote-MTA", "dns; mx.example.net");
	expect_field(blk, "Diagnostic-Code",
	    "smtp; 550 5.1.1 <bob@example.net>: no such user");
	expect_field(blk, "Last-Attempt-Date",
	    "Wed, 18 Nov 2026 11:05:40 +0000");
	expect_field(blk, "Will-Retry-Until", NULL);
	free(blk);
	blk = ds_block(p.pbody[1], 2);
	expect_field(blk, "Final-Recipient", "rfc822; carol@example.net");
	expect_field(blk, "Action", "failed");
	expect_field(blk, "Status", "5.0.0");
	expect_field(blk, "Remote-MTA", NULL);
	expect_field(blk, "Diagnostic-Code", NULL);
	expect_field(blk, "Last-Attempt-Date", NULL);
	free(blk);
	assert_null(ds_block(p.pbody[1], 3));

	/* Part 3: RET unset means headers only (RFC 3461 4.3). */
	expect_field(p.phdrs[2], "Content-Type", "text/rfc822-headers");
	expect_field(p.pbody[2], "Subject", "lunch");
	expect_field(p.pbody[2], "Message-ID", "<1@example.org>");
	assert_null(strstr(p.pbody[2], "BODY-MARKER"));
	/* Only the header section was read, not the whole message. */
	assert_true(s.off < s.len);

	parsed_free(&p);
	buf_free(&out);
}

static void
test_delay(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	struct src	 s;
	char		*blk;

	info_init(&info, DSN_KIND_DELAY);
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_DELAYED;
	r.status = "4.4.1";
	r.diagnostic = "connection refused";
	r.diag_type = "X-Postern";
	r.last_attempt = NOW - 60;
	r.retry_until = NOW + 4 * 86400;
	src_init(&s, original, strlen(original));

	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.hdrs, "Subject", "Delivery Status Notification (Delay)");
	assert_int_equal(p.nparts, 3);
	assert_non_null(strstr(p.pbody[0], "will try until"));
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Action", "delayed");
	expect_field(blk, "Status", "4.4.1");
	expect_field(blk, "Diagnostic-Code", "X-Postern; connection refused");
	expect_field(blk, "Will-Retry-Until",
	    "Sun, 22 Nov 2026 11:06:40 +0000");
	free(blk);
	parsed_free(&p);
	buf_free(&out);
}

static void
test_success(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r[2];
	struct buf	 out;
	struct parsed	 p;
	char		*blk;

	info_init(&info, DSN_KIND_SUCCESS);
	memset(r, 0, sizeof(r));
	r[0].final_rcpt = "bob@example.net";
	r[0].action = DSN_ACTION_DELIVERED;
	r[0].retry_until = NOW;		/* ignored: not delayed */
	r[1].final_rcpt = "dave@example.net";
	r[1].action = DSN_ACTION_RELAYED;
	r[1].remote_mta = "old.example.net";

	/* No reader: the third part is left out (RFC 6522 3). */
	assert_int_equal(build(&out, &info, r, 2, NULL), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.hdrs, "Subject",
	    "Delivery Status Notification (Success)");
	assert_int_equal(p.nparts, 2);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Action", "delivered");
	expect_field(blk, "Status", "2.0.0");
	expect_field(blk, "Will-Retry-Until", NULL);
	free(blk);
	blk = ds_block(p.pbody[1], 2);
	expect_field(blk, "Action", "relayed");
	expect_field(blk, "Remote-MTA", "dns; old.example.net");
	free(blk);
	parsed_free(&p);
	buf_free(&out);

	info.kind = DSN_KIND_EXPANDED;
	r[0].action = DSN_ACTION_EXPANDED;
	assert_int_equal(build(&out, &info, r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.hdrs, "Subject",
	    "Delivery Status Notification (Expanded)");
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Action", "expanded");
	free(blk);
	parsed_free(&p);
	buf_free(&out);
}

static void
test_ret_full(void **state)
{
	static const char lf[] = "Subject: lf\n\nbare LF body\nBODY-MARKER\n";
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	struct src	 s;

	info_init(&info, DSN_KIND_FAILURE);
	info.ret = ENV_RET_FULL;
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	src_init(&s, original, strlen(original));
	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.phdrs[2], "Content-Type", "message/rfc822");
	/* The original, byte for byte. */
	assert_string_equal(p.pbody[2], original);
	assert_non_null(strstr(p.pbody[0], "Your message is attached"));
	parsed_free(&p);
	buf_free(&out);

	/* RET=HDRS: headers even when small. */
	info.ret = ENV_RET_HDRS;
	src_init(&s, original, strlen(original));
	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.phdrs[2], "Content-Type", "text/rfc822-headers");
	assert_null(strstr(p.pbody[2], "BODY-MARKER"));
	parsed_free(&p);
	buf_free(&out);

	/* Bare LF in the stored original comes out as CRLF. */
	info.ret = ENV_RET_FULL;
	src_init(&s, lf, strlen(lf));
	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);
	assert_string_equal(p.pbody[2],
	    "Subject: lf\r\n\r\nbare LF body\r\nBODY-MARKER\r\n");
	parsed_free(&p);
	buf_free(&out);
}

static void
test_envid_orcpt(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	char		*blk;

	info_init(&info, DSN_KIND_FAILURE);
	info.envid = "QQ314159 Case+Kept";
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.orcpt = "rfc822;Bob.Original@Example.NET";
	r.action = DSN_ACTION_FAILED;
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);
	blk = ds_block(p.pbody[1], 0);
	/* RFC 3464 2.2.1: as given, not xtext. */
	expect_field(blk, "Original-Envelope-Id", "QQ314159 Case+Kept");
	free(blk);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Original-Recipient",
	    "rfc822; Bob.Original@Example.NET");
	expect_field(blk, "Final-Recipient", "rfc822; bob@example.net");
	free(blk);
	parsed_free(&p);
	buf_free(&out);

	/* A UTF-8 ORCPT in a plain DSN: RFC 6533 3 embedded-unicode-char. */
	r.orcpt = "rfc822;j\xc3\xb6rg\\x@example.net";
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Original-Recipient",
	    "utf-8; j\\x{00F6}rg\\x{5C}x@example.net");
	free(blk);
	parsed_free(&p);
	buf_free(&out);
}

static void
test_smtputf8(void **state)
{
	static const char u8orig[] =
	    "From: J\xc3\xb6rg <j\xc3\xb6rg@example.org>\r\n"
	    "Subject: gr\xc3\xbc\xc3\x9f" "e\r\n\r\nHall\xc3\xb6\r\n";
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	struct src	 s;
	char		*blk;
	int		 rv;

	info_init(&info, DSN_KIND_FAILURE);
	info.sender = "j\xc3\xb6rg@example.org";
	info.smtputf8 = 1;
	info.ret = ENV_RET_FULL;
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "b\xc3\xa9" "a@example.net";
	r.orcpt = "utf-8;b\xc3\xa9" "a@example.net";
	r.action = DSN_ACTION_FAILED;
	r.status = "5.1.1";
	r.diagnostic = "550 5.1.1 b\xc3\xa9" "a: unknown";
	src_init(&s, u8orig, strlen(u8orig));
	rv = build(&out, &info, &r, 1, &s);
	assert_int_equal(rv, DSN_OUT_8BITMIME | DSN_OUT_SMTPUTF8);
	parse(buf_cstr(&out), &p);
	expect_field(p.hdrs, "To", "<j\xc3\xb6rg@example.org>");
	expect_field(p.hdrs, "Content-Transfer-Encoding", "8bit");
	assert_non_null(strstr(p.ptype,
	    "report-type=global-delivery-status;"));
	expect_field(p.phdrs[0], "Content-Type", "text/plain; charset=utf-8");
	expect_field(p.phdrs[1], "Content-Type",
	    "message/global-delivery-status");
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Original-Recipient",
	    "utf-8; b\xc3\xa9" "a@example.net");
	expect_field(blk, "Final-Recipient",
	    "utf-8; b\xc3\xa9" "a@example.net");
	expect_field(blk, "Diagnostic-Code",
	    "smtp; 550 5.1.1 b\xc3\xa9" "a: unknown");
	free(blk);
	expect_field(p.phdrs[2], "Content-Type", "message/global");
	expect_field(p.phdrs[2], "Content-Transfer-Encoding", "8bit");
	assert_string_equal(p.pbody[2], u8orig);
	parsed_free(&p);
	buf_free(&out);

	/* Headers only: message/global-headers (RFC 6533 6.3). */
	info.ret = ENV_RET_HDRS;
	src_init(&s, u8orig, strlen(u8orig));
	rv = build(&out, &info, &r, 1, &s);
	assert_true(rv >= 0);
	parse(buf_cstr(&out), &p);
	expect_field(p.phdrs[2], "Content-Type", "message/global-headers");
	parsed_free(&p);
	buf_free(&out);

	/* A plain envelope: 8-bit reply text is not passed on. */
	info_init(&info, DSN_KIND_FAILURE);
	r.final_rcpt = "bob@example.net";
	r.orcpt = NULL;
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Diagnostic-Code", "smtp; 550 5.1.1 b??a: unknown");
	free(blk);
	parsed_free(&p);
	buf_free(&out);
}

static void
test_refused(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out, ok;
	struct parsed	 p;
	struct src	 s;
	char		 longaddr[ENV_ADDR_MAX + 1];

	info_init(&info, DSN_KIND_FAILURE);
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	buf_init(&out, 1 << 20);
	buf_addstr(&out, "keep");

	/* RFC 5321 4.5.5, 6.1: never bounce a bounce. */
	info.sender = "";
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_NULLSENDER);
	info.sender = "alice@example.org";

	info.reporting_mta = "bad host\r\nX: y";
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	info.reporting_mta = "mx.example.com";
	assert_int_equal(dsn_build(&out, &info, &r, 0, NULL, NULL),
	    DSN_ERR_INVALID);
	r.status = "6.1.1";
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	r.status = "5.1";
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	r.status = "5.1.1234";
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	r.status = "5.10.123";
	r.action = 0;
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	r.action = DSN_ACTION_FAILED;

	/*
	 * RFC 5321 4.5.3.1.3: no reverse path over 256 octets with its
	 * brackets; the envelope holds 1024, which in To: would pass 998
	 * octets (fuzz_dsn).
	 */
	memset(longaddr, 'a', sizeof(longaddr));
	strlcpy(longaddr + SMTP_PATH_MAX - 2 - 12, "@example.org", 13);
	info.sender = longaddr;
	assert_int_equal(strlen(longaddr), SMTP_PATH_MAX - 2);
	assert_int_equal(build(&ok, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&ok), &p);	/* checks every line */
	parsed_free(&p);
	buf_free(&ok);
	memset(longaddr, 'a', sizeof(longaddr));
	strlcpy(longaddr + ENV_ADDR_MAX - 12, "@example.org", 13);
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	memset(longaddr, 'a', sizeof(longaddr));
	strlcpy(longaddr + SMTP_PATH_MAX - 1 - 12, "@example.org", 13);
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_INVALID);
	info.sender = "alice@example.org";
	assert_string_equal(buf_cstr(&out), "keep");

	/* A failing reader. */
	src_init(&s, original, strlen(original));
	s.fail = 1;
	assert_int_equal(dsn_build(&out, &info, &r, 1, src_read, &s),
	    DSN_ERR_READ);

	/* No room: out is left as it was. */
	out.max = 100;
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL),
	    DSN_ERR_SPACE);
	assert_string_equal(buf_cstr(&out), "keep");

	/* Appends after what is there. */
	out.max = 1 << 20;
	assert_int_equal(dsn_build(&out, &info, &r, 1, NULL, NULL), 0);
	assert_true(strncmp(buf_cstr(&out), "keepFrom: ", 10) == 0);
	buf_free(&out);
}

static void
test_wanted(void **state)
{
	static const struct {
		uint8_t		 notify;
		int		 failure, delay, success;
	} t[] = {
		/* RFC 3461 4.1: not given */
		{ 0,					1, 1, 0 },
		{ ENV_NOTIFY_NEVER,			0, 0, 0 },
		{ ENV_NOTIFY_SUCCESS,			0, 0, 1 },
		{ ENV_NOTIFY_FAILURE,			1, 0, 0 },
		{ ENV_NOTIFY_DELAY,			0, 1, 0 },
		{ ENV_NOTIFY_SUCCESS | ENV_NOTIFY_FAILURE, 1, 0, 1 },
		{ ENV_NOTIFY_FAILURE | ENV_NOTIFY_DELAY, 1, 1, 0 },
		{ ENV_NOTIFY_SUCCESS | ENV_NOTIFY_FAILURE |
		    ENV_NOTIFY_DELAY,			1, 1, 1 },
	};
	struct envelope	*env;
	size_t		 i;

	env = xcalloc(1, sizeof(*env));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		strlcpy(env->sender, "alice@example.org",
		    sizeof(env->sender));
		env->notify = t[i].notify;
		assert_int_equal(dsn_wanted(env, DSN_KIND_FAILURE),
		    t[i].failure);
		assert_int_equal(dsn_wanted(env, DSN_KIND_DELAY), t[i].delay);
		assert_int_equal(dsn_wanted(env, DSN_KIND_SUCCESS),
		    t[i].success);
		assert_int_equal(dsn_wanted(env, DSN_KIND_EXPANDED),
		    t[i].success);
		/* The null reverse path: never, whatever NOTIFY says. */
		env->sender[0] = '\0';
		assert_int_equal(dsn_wanted(env, DSN_KIND_FAILURE), 0);
		assert_int_equal(dsn_wanted(env, DSN_KIND_DELAY), 0);
		assert_int_equal(dsn_wanted(env, DSN_KIND_SUCCESS), 0);
	}
	free(env);
}

static void
test_long_diag(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out, diag, want;
	struct parsed	 p;
	char		*blk, *v;
	int		 i;

	info_init(&info, DSN_KIND_FAILURE);
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;

	/* Words: folding at white space keeps the text exactly. */
	buf_init(&diag, 1 << 20);
	buf_addstr(&diag, "550 5.7.1");
	for (i = 0; i < 300; i++)
		buf_printf(&diag, " word%d", i);
	r.diagnostic = buf_cstr(&diag);
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);	/* checks every line */
	blk = ds_block(p.pbody[1], 1);
	buf_init(&want, 1 << 20);
	buf_printf(&want, "smtp; %s", r.diagnostic);
	expect_field(blk, "Diagnostic-Code", buf_cstr(&want));
	/* Folded short: no line of the field over 78 octets. */
	v = strstr(blk, "Diagnostic-Code:");
	assert_non_null(v);
	assert_true(strstr(v, "\r\n") - v <= 78);
	free(blk);
	parsed_free(&p);
	buf_free(&out);

	/* One 3000-octet word, and a multi-line reply. */
	buf_reset(&diag);
	buf_addstr(&diag, "550-5.7.1 first\r\n550 5.7.1 ");
	for (i = 0; i < 3000; i++)
		buf_addstr(&diag, "x");
	r.diagnostic = buf_cstr(&diag);
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	parse(buf_cstr(&out), &p);
	blk = ds_block(p.pbody[1], 1);
	v = field(blk, "Diagnostic-Code");
	assert_non_null(v);
	assert_true(strncmp(v, "smtp; 550-5.7.1 first  550 5.7.1 xxx", 36)
	    == 0);
	free(v);
	free(blk);
	parsed_free(&p);
	buf_free(&out);
	buf_free(&want);
	buf_free(&diag);
}

static void
test_injection(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	char		*blk;

	info_init(&info, DSN_KIND_FAILURE);
	info.envid = "id\r\nBcc: evil@example.com";
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	r.remote_mta = "mx\r\nX-Evil: 1";	/* not a host name: left out */
	r.diagnostic = "550 no\r\nX-Evil: 1\r\n\r\n--boundary";
	assert_int_equal(build(&out, &info, &r, 1, NULL), 0);
	assert_null(strstr(buf_cstr(&out), "\r\nBcc:"));
	assert_null(strstr(buf_cstr(&out), "\r\nX-Evil:"));
	parse(buf_cstr(&out), &p);
	blk = ds_block(p.pbody[1], 1);
	expect_field(blk, "Remote-MTA", NULL);
	expect_field(blk, "Diagnostic-Code",
	    "smtp; 550 no  X-Evil: 1    --boundary");
	free(blk);
	parsed_free(&p);
	buf_free(&out);
}

static void
test_long_lines(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 orig, out;
	struct parsed	 p;
	struct src	 s;
	char		*v;
	int		 i;

	info_init(&info, DSN_KIND_FAILURE);
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	buf_init(&orig, 1 << 20);
	buf_addstr(&orig, "Subject: ");
	for (i = 0; i < 2500; i++)
		buf_addstr(&orig, "s");
	buf_add(&orig, "\r\nX: a\0b\r\n\r\n", 13);
	for (i = 0; i < 5000; i++)
		buf_addstr(&orig, "b");
	buf_addstr(&orig, "\r\nlast line without end");

	info.ret = ENV_RET_FULL;
	src_init(&s, (char *)orig.data, orig.len);
	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);	/* checks every line */
	assert_non_null(strstr(p.pbody[2], "\r\nlast line without end\r\n"));
	parsed_free(&p);
	buf_free(&out);

	info.ret = ENV_RET_HDRS;
	src_init(&s, (char *)orig.data, orig.len);
	assert_int_equal(build(&out, &info, &r, 1, &s), 0);
	parse(buf_cstr(&out), &p);
	/* A cut header line is folded, so the field stays whole. */
	v = field(p.pbody[2], "Subject");
	assert_non_null(v);
	/* 2509 octets: cut twice, one space inserted at each cut. */
	assert_int_equal(strlen(v), 2500 + 2);
	free(v);
	parsed_free(&p);
	buf_free(&out);
	buf_free(&orig);
}

/*
 * An empty original (fuzz_dsn): nothing to include, and no line written
 * from the read buffer, which was never allocated (UBSan saw NULL + 0).
 */
static void
test_empty_original(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 out;
	struct parsed	 p;
	struct src	 s;
	int		 ret[2] = { ENV_RET_FULL, ENV_RET_HDRS };
	size_t		 i;

	info_init(&info, DSN_KIND_FAILURE);
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	for (i = 0; i < 2; i++) {
		info.ret = ret[i];
		src_init(&s, "", 0);
		assert_true(build(&out, &info, &r, 1, &s) >= 0);
		parse(buf_cstr(&out), &p);	/* checks every line */
		assert_string_equal(p.pbody[2], "");
		parsed_free(&p);
		buf_free(&out);
	}
}

static void
test_huge(void **state)
{
	struct dsn_info	 info;
	struct dsn_rcpt	 r;
	struct buf	 orig, out;
	struct parsed	 p;
	struct src	 s;
	int		 rv;

	info_init(&info, DSN_KIND_FAILURE);
	info.ret = ENV_RET_FULL;
	memset(&r, 0, sizeof(r));
	r.final_rcpt = "bob@example.net";
	r.action = DSN_ACTION_FAILED;
	buf_init(&orig, 8 << 20);
	buf_addstr(&orig, "Subject: huge\r\n\r\n");
	while (orig.len < 3 * DSN_ORIGINAL_MAX)
		buf_addstr(&orig, "BODY-MARKER 0123456789 0123456789\r\n");

	src_init(&s, (char *)orig.data, orig.len);
	rv = build(&out, &info, &r, 1, &s);
	assert_int_equal(rv, DSN_OUT_TRUNCATED);
	/* Reading stopped at the cap. */
	assert_true(s.off <= DSN_ORIGINAL_MAX + 1);
	parse(buf_cstr(&out), &p);
	expect_field(p.phdrs[2], "Content-Type", "text/rfc822-headers");
	expect_field(p.pbody[2], "Subject", "huge");
	assert_null(strstr(p.pbody[2], "BODY-MARKER"));
	assert_non_null(strstr(p.pbody[0], "larger than"));
	assert_true(out.len < 64 * 1024);
	parsed_free(&p);
	buf_free(&out);

	/* A smaller cap of the caller's: the same. */
	info.max_original = 100 * 1024;
	buf_reset(&orig);
	buf_addstr(&orig, "Subject: big\r\n\r\n");
	while (orig.len < 200 * 1024)
		buf_addstr(&orig, "BODY-MARKER\r\n");
	src_init(&s, (char *)orig.data, orig.len);
	assert_int_equal(build(&out, &info, &r, 1, &s), DSN_OUT_TRUNCATED);
	parse(buf_cstr(&out), &p);
	assert_null(strstr(p.pbody[2], "BODY-MARKER"));
	parsed_free(&p);
	buf_free(&out);

	/* A header section with no end in reach is cut at a line. */
	info.ret = ENV_RET_HDRS;
	buf_reset(&orig);
	while (orig.len < 2 * DSN_HEADERS_MAX)
		buf_addstr(&orig, "X-Filler: 0123456789\r\n");
	src_init(&s, (char *)orig.data, orig.len);
	assert_int_equal(build(&out, &info, &r, 1, &s), DSN_OUT_TRUNCATED);
	parse(buf_cstr(&out), &p);
	assert_true(strlen(p.pbody[2]) <= DSN_HEADERS_MAX);
	assert_non_null(strstr(p.pbody[0], "first part of the header"));
	parsed_free(&p);
	buf_free(&out);
	buf_free(&orig);
}

static void
test_from_envelope(void **state)
{
	struct envelope	*env;
	struct dsn_info	 info;
	struct dsn_rcpt	 r;

	env = xcalloc(1, sizeof(*env));
	strlcpy(env->sender, "alice@example.org", sizeof(env->sender));
	strlcpy(env->rcpt, "bob@example.net", sizeof(env->rcpt));
	strlcpy(env->envid, "E1", sizeof(env->envid));
	strlcpy(env->orcpt, "rfc822;bob@example.net", sizeof(env->orcpt));
	env->ret = ENV_RET_FULL;
	env->flags = ENV_F_SMTPUTF8;
	env->ctime = NOW - 10;
	env->last_try = NOW - 5;
	env->expire = NOW + 100;
	dsn_info_from_envelope(&info, env, DSN_KIND_DELAY, "mx.example.com");
	assert_string_equal(info.sender, "alice@example.org");
	assert_string_equal(info.envid, "E1");
	assert_int_equal(info.ret, ENV_RET_FULL);
	assert_int_equal(info.smtputf8, 1);
	assert_int_equal(info.arrival, NOW - 10);
	dsn_rcpt_from_envelope(&r, env, DSN_ACTION_DELAYED, "4.4.1");
	assert_string_equal(r.final_rcpt, "bob@example.net");
	assert_string_equal(r.orcpt, "rfc822;bob@example.net");
	assert_int_equal(r.last_attempt, NOW - 5);
	assert_int_equal(r.retry_until, NOW + 100);
	env->envid[0] = env->orcpt[0] = '\0';
	dsn_info_from_envelope(&info, env, DSN_KIND_DELAY, "mx.example.com");
	dsn_rcpt_from_envelope(&r, env, DSN_ACTION_FAILED, NULL);
	assert_null(info.envid);
	assert_null(r.orcpt);
	assert_int_equal(r.retry_until, 0);
	free(env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_ret_full),
		cmocka_unit_test(test_envid_orcpt),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_long_diag),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_empty_original),
		cmocka_unit_test(test_from_envelope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

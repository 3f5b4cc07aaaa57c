/*
 * Received reports: the I/O-free parsers that reportd runs on mail that an
 * `action NAME reportd` hands it.
 *
 *	rpt_mime.c	finds the report in the message (MIME, RFC 2045/2046,
 *			multipart/report RFC 6522) and decodes its transfer
 *			encoding
 *	rpt_unpack.c	gzip (RFC 1952), zip (first member, stored or
 *			deflate) or plain, with fixed output and ratio limits
 *	rpt_dmarc.c	DMARC aggregate XML (RFC 9990, RFC 7489 appendix C)
 *			with expat, no DTD, no entities
 *	rpt_tls.c	TLS-RPT JSON (RFC 8460 4) with jansson
 *	rpt_arf.c	ARF feedback reports (RFC 5965, RFC 6591)
 *	rpt.c		the whole message to one struct rpt, and its JSON
 *			and table forms for posternctl show reports
 *
 * Every function takes bytes and returns a result; none reads a file or a
 * socket, so each is unit-tested and fuzzed alone.  All input is hostile:
 * every size, count and depth is bounded by the limits below, and a
 * report that passes one is refused, never truncated.
 */
#ifndef POSTERN_RPT_H
#define POSTERN_RPT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define RPT_MESSAGE_MAX		(20 * 1024 * 1024) /* a message, read */
#define RPT_UNPACK_MAX		(16 * 1024 * 1024) /* a report, unpacked */
/* Past RPT_RATIO_FREE octets out, at most this many out per octet in. */
#define RPT_RATIO_MAX		200
#define RPT_RATIO_FREE		(1024 * 1024)
#define RPT_MIME_DEPTH_MAX	8	/* nested multiparts */
#define RPT_MIME_PARTS_MAX	64	/* parts looked at, in all */
#define RPT_XML_DEPTH_MAX	32
#define RPT_ROWS_MAX		10000	/* aggregate rows in a report */
#define RPT_POLICIES_MAX	1000	/* TLS-RPT policies in a report */
#define RPT_TLS_JSON_MAX	(1024 * 1024)	/* a TLS-RPT report's JSON */
#define RPT_JSON_VALUES_MAX	65536	/* objects, arrays and members */
#define RPT_COUNT_MAX		((uint64_t)1 << 53) /* any count */

#define RPT_STR_MAX		256	/* with NUL: names, ids, domains */
#define RPT_IP_MAX		46

enum rpt_kind {
	RPT_NONE,
	RPT_DMARC,
	RPT_TLS,
	RPT_ARF
};

struct rpt_dmarc_row {
	char		 source_ip[RPT_IP_MAX];
	uint64_t	 count;
	char		 disposition[16];	/* none, quarantine, reject */
	char		 dkim[8];		/* pass, fail */
	char		 spf[8];
};

struct rpt_dmarc {
	char			 org[RPT_STR_MAX];
	char			 report_id[RPT_STR_MAX];
	char			 domain[RPT_STR_MAX];
	int64_t			 begin, end;
	size_t			 nrows;
	struct rpt_dmarc_row	*rows;
};

struct rpt_tls_policy {
	char		 policy_type[16];	/* tlsa, sts, no-policy-found */
	char		 policy_domain[RPT_STR_MAX];
	uint64_t	 success, failure;
};

struct rpt_tls {
	char			 org[RPT_STR_MAX];
	char			 report_id[RPT_STR_MAX];
	int64_t			 begin, end;
	size_t			 npolicies;
	struct rpt_tls_policy	*policies;
};

struct rpt_arf {
	char		 feedback_type[32];
	char		 source_ip[RPT_IP_MAX];
	char		 reported_domain[RPT_STR_MAX];
};

struct rpt {
	enum rpt_kind	 kind;
	struct rpt_dmarc dmarc;
	struct rpt_tls	 tls;
	struct rpt_arf	 arf;
};

/* rpt_unpack.c.  Compressed, or plain: by the data's magic numbers. */
enum rpt_pack {
	RPT_PACK_AUTO,
	RPT_PACK_PLAIN,
	RPT_PACK_GZIP,
	RPT_PACK_ZIP
};
/*
 * The content of in, unpacked into out (cleared first; at most max
 * octets, and RPT_UNPACK_MAX whatever max says): 0, or -1 with err.
 */
int	 rpt_unpack(const uint8_t *in, size_t len, enum rpt_pack,
	    size_t max, struct buf *out, char *err, size_t errlen);

/* rpt_mime.c */
struct rpt_part {
	enum rpt_kind	 kind;	/* what the media type says it is */
	enum rpt_pack	 pack;
	struct buf	 data;	/* transfer decoding undone */
};
/*
 * Find the report in a message: the first part whose media type is one
 * a report travels as (RFC 9990 5, RFC 8460 5.3, RFC 6522 + RFC 5965 2)
 * or, failing that, an attachment whose file name says .xml, .gz, .zip or
 * .json.  0 with part filled (free with rpt_part_free()), -1 with err.
 */
int	 rpt_mime_find(const uint8_t *msg, size_t len, struct rpt_part *,
	    char *err, size_t errlen);
void	 rpt_part_free(struct rpt_part *);
/*
 * Decode base64 (lenient: whitespace and other bytes outside the alphabet
 * are skipped, "=" ends it) or quoted-printable into out.  -1 when out is
 * full.
 */
int	 rpt_b64_decode(const uint8_t *in, size_t len, struct buf *out);
int	 rpt_qp_decode(const uint8_t *in, size_t len, struct buf *out);

/* rpt_dmarc.c, rpt_tls.c, rpt_arf.c: 0 and r filled, or -1 with err. */
int	 rpt_dmarc_parse(const uint8_t *xml, size_t len, struct rpt_dmarc *,
	    char *err, size_t errlen);
int	 rpt_tls_parse(const uint8_t *json, size_t len, struct rpt_tls *,
	    char *err, size_t errlen);
/* The body of the message/feedback-report part (RFC 5965 3.1 fields). */
int	 rpt_arf_parse(const uint8_t *fields, size_t len, struct rpt_arf *,
	    char *err, size_t errlen);
void	 rpt_dmarc_free(struct rpt_dmarc *);
void	 rpt_tls_free(struct rpt_tls *);

/* rpt.c */
/* A whole received message to a report: 0, or -1 with err. */
int	 rpt_parse_message(const uint8_t *msg, size_t len, struct rpt *,
	    char *err, size_t errlen);
void	 rpt_free(struct rpt *);
const char *rpt_kind_name(enum rpt_kind);
/* One JSON object, as posternctl show reports -j prints it, and newline. */
int	 rpt_json(const struct rpt *, struct buf *);
/* Readable lines for posternctl show reports without -j. */
int	 rpt_table(const struct rpt *, struct buf *);
/* Valid UTF-8 with no C0 controls but TAB, CR, LF: 1, else 0. */
int	 rpt_utf8_valid(const uint8_t *, size_t);

#endif

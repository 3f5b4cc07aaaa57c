/*
 * MTA-STS (RFC 8461) without I/O: the _mta-sts TXT record (3.1), the
 * policy file (3.2) and the MX host patterns (4.1).  The mta fetches the
 * record and the file and hands the bytes here; what comes back is a
 * decision or a reason fit for a log line and a TLS report
 * (sts-policy-invalid).  Sizes are bounded: a policy larger than
 * STS_POLICY_MAX or with more than STS_MX_MAX patterns is invalid.
 */
#ifndef POSTERN_MTA_STS_H
#define POSTERN_MTA_STS_H

#include <stddef.h>
#include <stdint.h>

#define STS_ID_MAX		32		/* RFC 8461 3.1: 1*32 alnum */
#define STS_POLICY_MAX		(64 * 1024)	/* 3.3: SHOULD NOT exceed */
#define STS_MX_MAX		100		/* patterns kept: more is
						   taken for hostile */
#define STS_PATTERN_MAX		255		/* "*." + a domain name */
#define STS_MAX_AGE_MAX		31557600	/* 3.2: MUST be <= a year */
#define STS_HTTP_MAX		(STS_POLICY_MAX + 16 * 1024)	/* an answer
						   with its header */

enum sts_mode {
	STS_MODE_NONE = 0,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE
};

/* What the TXT records of _mta-sts.DOMAIN say (3.1). */
enum sts_txt {
	STS_TXT_FOUND = 0,	/* exactly one valid STSv1 record: id set */
	STS_TXT_NONE,		/* no record begins with "v=STSv1;" */
	STS_TXT_INVALID		/* several, or the one is malformed */
};

struct sts_policy {
	enum sts_mode	 mode;
	uint32_t	 max_age;		/* seconds */
	size_t		 nmx;
	char		 mx[STS_MX_MAX][STS_PATTERN_MAX + 1];
};

enum sts_txt	 sts_txt_select(const char *const *, size_t,
		    char [STS_ID_MAX + 1], char *, size_t);
int		 sts_policy_parse(const char *, size_t, struct sts_policy *,
		    char *, size_t);
int		 sts_pattern_match(const char *, const char *);
int		 sts_policy_match(const struct sts_policy *, const char *);
const char	*sts_mode_name(enum sts_mode);
int		 sts_http_request(const char *, char *, size_t);
int		 sts_http_response(const char *, size_t, const char **,
		    size_t *, char *, size_t);
/*
 * 1 once an answer is whole by its own account: its header is complete
 * and holds a Content-Length whose body is all there.  Else 0: only a
 * clean TLS close ends it.
 */
int		 sts_http_complete(const char *, size_t);

#endif

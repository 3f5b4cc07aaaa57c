/*
 * SMTP addresses and command parameters, as the server reads them from
 * MAIL and RCPT: paths (RFC 5321 4.1.2, with SMTPUTF8 from RFC 6531 3.3),
 * xtext (RFC 3461 4), and the MAIL/RCPT parameters of SIZE (RFC 1870),
 * BODY (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461) and REQUIRETLS
 * (RFC 8689).
 */
#ifndef POSTERN_SMTP_ADDR_H
#define POSTERN_SMTP_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX		256	/* RFC 5321 4.5.3.1.3, with < > */
#define SMTP_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_LABEL_MAX		63	/* RFC 1035 2.3.4 */
#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 4.2 */
#define SMTP_ADDRTYPE_MAX	32

/* A mailbox as "local@domain"; "" is the null reverse path. */
struct smtp_addr {
	char	 addr[SMTP_PATH_MAX + 1];
	size_t	 at;		/* offset of '@'; strlen(addr) when none */
	int	 utf8;		/* holds non-ASCII (RFC 6531) */
};

/* Flags for smtp_path_parse(). */
#define SMTP_PATH_NULL_OK	0x01	/* "<>" allowed (MAIL) */
#define SMTP_PATH_POSTMASTER	0x02	/* "<Postmaster>" allowed (RCPT) */

enum smtp_addr_err {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_ESYNTAX,		/* 501 5.1.3 */
	SMTP_ADDR_ELONG,		/* 501 5.1.3, too long */
	SMTP_ADDR_EUTF8			/* non-ASCII: caller checks SMTPUTF8 */
};

int	 smtp_path_parse(const char *, int, struct smtp_addr *, size_t *);
/*
 * An address written without angle brackets (a command line, a report
 * destination), checked as MAIL (SMTP_PATH_NULL_OK: "" is the null path)
 * or RCPT would check it: 1 if valid and, unless null, with a domain;
 * else 0.  SMTP_ADDR_UTF8_OK accepts SMTPUTF8 addresses (RFC 6531).
 */
#define SMTP_ADDR_UTF8_OK	0x100
int	 smtp_addr_valid(const char *, int);
int	 smtp_domain_valid(const char *, size_t, int);
int	 smtp_addrlit_valid(const char *, size_t);
size_t	 smtp_utf8_seqlen(const unsigned char *, size_t);
int	 smtp_xtext_decode(const char *, size_t, char *, size_t);

/* RFC 3461 4.3 RET, values as the envelope's ENV_RET_*. */
#define SMTP_RET_UNSET		0
#define SMTP_RET_FULL		1
#define SMTP_RET_HDRS		2

/* RFC 3461 4.1 NOTIFY, values as the envelope's ENV_NOTIFY_*. */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

enum smtp_body {
	SMTP_BODY_UNSET = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME		/* RFC 6152 */
};

struct smtp_mail_params {
	uint64_t	 size;		/* RFC 1870, 0: not declared */
	int		 has_size;
	enum smtp_body	 body;
	int		 smtputf8;	/* RFC 6531 3.4 */
	int		 ret;		/* SMTP_RET_* */
	int		 has_envid;
	char		 envid[SMTP_ENVID_MAX + 1];	/* decoded */
	int		 requiretls;	/* RFC 8689 4.1 */
};

struct smtp_rcpt_params {
	int		 notify;	/* SMTP_NOTIFY_*, 0: not given */
	int		 has_orcpt;
	char		 orcpt[SMTP_ADDRTYPE_MAX + 1 + SMTP_ORCPT_MAX + 1];
					/* "addr-type;decoded" */
};

/* A parameter error, ready to be sent as a reply. */
struct smtp_perr {
	int		 code;
	const char	*enhanced;
	const char	*text;
};

/* Parameter parsing context. */
#define SMTP_PARAM_TLS		0x01	/* the session is inside TLS */
#define SMTP_PARAM_REQUIRETLS	0x02	/* REQUIRETLS is offered: mail taken
					   with it is relayed as RFC 8689
					   4.2.1 requires */

int	 smtp_mail_params_parse(const char *, int, uint64_t,
	    struct smtp_mail_params *, struct smtp_perr *);
int	 smtp_rcpt_params_parse(const char *, int, struct smtp_rcpt_params *,
	    struct smtp_perr *);

#endif

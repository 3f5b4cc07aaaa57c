/*
 * Fuzz the SMTP address and parameter parsers on their own
 * (lib/smtp_addr.c): the input, after one byte of options, is read as
 * the argument of MAIL and of RCPT (a path with each flag, then the
 * parameters after it), as an address without brackets, as a domain, an
 * address literal, xtext and UTF-8.  A parsed path must parse again,
 * written back in brackets, to the same address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_path(const char *s, int flags)
{
	struct smtp_addr	 a, b;
	char			 again[SMTP_PATH_MAX + 3];
	size_t			 used, used2, len;

	if (smtp_path_parse(s, flags, &a, &used) != SMTP_ADDR_OK)
		return;
	len = strlen(a.addr);
	if (used == 0 || used > strlen(s) || len > SMTP_PATH_MAX ||
	    a.at > len || (len > 0 && a.at == len &&
	    (flags & SMTP_PATH_POSTMASTER) == 0))
		__builtin_trap();
	/* Written back as "<addr>" it is the same address (routes gone). */
	again[0] = '<';
	memcpy(again + 1, a.addr, len);
	again[len + 1] = '>';
	again[len + 2] = '\0';
	if (smtp_path_parse(again, flags, &b, &used2) != SMTP_ADDR_OK ||
	    used2 != len + 2 || strcmp(a.addr, b.addr) != 0 || a.at != b.at ||
	    a.utf8 != b.utf8)
		__builtin_trap();
	if (len > 0 && a.at < len && smtp_addr_valid(a.addr,
	    SMTP_ADDR_UTF8_OK | flags) != 1)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_mail_params	 mp;
	struct smtp_rcpt_params	 rp;
	struct smtp_perr	 perr;
	struct smtp_addr	 a;
	char			*s, out[SMTP_ORCPT_MAX + 2], tiny[4];
	size_t			 used, len, i;
	int			 opt, f, n;

	if (size < 1 || size > 4096)
		return 0;
	opt = data[0];
	data++;
	size--;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	for (f = 0; f < 4; f++)
		check_path(s, f);

	/* MAIL FROM:<path> params, as the engine splits them */
	if (smtp_path_parse(s, SMTP_PATH_NULL_OK, &a, &used) == SMTP_ADDR_OK) {
		memset(&perr, 0, sizeof(perr));
		if (smtp_mail_params_parse(s + used, opt & 3,
		    (opt & 4) ? 0 : 1000000, &mp, &perr) == 0) {
			if (mp.has_envid && strlen(mp.envid) > SMTP_ENVID_MAX)
				__builtin_trap();
		} else if (perr.code == 0 || perr.text == NULL)
			__builtin_trap();
	}
	if (smtp_path_parse(s, SMTP_PATH_POSTMASTER, &a, &used) ==
	    SMTP_ADDR_OK) {
		memset(&perr, 0, sizeof(perr));
		if (smtp_rcpt_params_parse(s + used, opt & 1, &rp, &perr) ==
		    0) {
			if (rp.has_orcpt && memchr(rp.orcpt, '\0',
			    sizeof(rp.orcpt)) == NULL)
				__builtin_trap();
		} else if (perr.code == 0 || perr.text == NULL)
			__builtin_trap();
	}
	/* the whole input as parameters too */
	memset(&perr, 0, sizeof(perr));
	smtp_mail_params_parse(s, opt & 3, (uint64_t)opt << 8, &mp, &perr);
	smtp_rcpt_params_parse(s, opt & 1, &rp, &perr);

	smtp_addr_valid(s, 0);
	smtp_addr_valid(s, SMTP_PATH_NULL_OK);
	smtp_addr_valid(s, SMTP_ADDR_UTF8_OK);
	smtp_addr_valid(s, SMTP_PATH_POSTMASTER | SMTP_ADDR_UTF8_OK);

	/* raw bytes, NULs included, where a length is given */
	smtp_domain_valid((const char *)data, size, 0);
	smtp_domain_valid((const char *)data, size, 1);
	smtp_addrlit_valid((const char *)data, size);
	for (i = 0; i < size; i += n > 0 ? (size_t)n : 1) {
		n = (int)smtp_utf8_seqlen(data + i, size - i);
		if ((size_t)n > size - i || n > 4)
			__builtin_trap();
	}
	n = smtp_xtext_decode((const char *)data, size, out, sizeof(out));
	if (n >= (int)sizeof(out) || (n >= 0 && out[n] != '\0'))
		__builtin_trap();
	n = smtp_xtext_decode(s, len, tiny, opt % (sizeof(tiny) + 1));
	if (n >= (int)sizeof(tiny))
		__builtin_trap();
	free(s);
	return 0;
}

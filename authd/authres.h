/*
 * Pieces of RFC 8601 Authentication-Results header fields shared by every
 * writer of one (posternctl's checks today, authd in the mail path).
 */
#ifndef POSTERN_AUTHRES_H
#define POSTERN_AUTHRES_H

#include <stdio.h>

/* Text inside a comment: parentheses, backslashes and controls replaced. */
void	authres_print_comment(FILE *, const char *);
/* A property value (RFC 8601 2.2 pvalue): bare if it may be, else quoted. */
void	authres_print_pvalue(FILE *, const char *);

/* An authserv-id we are willing to write: a plain domain name. */
int	authres_valid_authserv_id(const char *);

#endif

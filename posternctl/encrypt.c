/*
 * posternctl encrypt [PASSWORD]: print a crypt(3) hash of the password,
 * for the credentials tables of "listen on ... auth <T>" (postern.conf(5)).
 * The hash is yescrypt ("$y$", libxcrypt's default cost), which authd
 * checks with crypt_rn(); bcrypt and sha512-crypt hashes made elsewhere
 * work as well.
 *
 * Without an argument the password is read from standard input: with the
 * echo off when that is a terminal, else the first line.  A password on
 * the command line is visible to other users in ps(1).
 */
#include <sys/types.h>

#include <crypt.h>
#include <readpassphrase.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posternctl/posternctl.h"

#define ENCRYPT_PASS_MAX	1024	/* SMTP_AUTH_PASS_MAX */

int
encrypt_main(int argc, char *argv[])
{
	struct crypt_data	*cd;
	char			 pass[ENCRYPT_PASS_MAX + 2];
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	size_t			 len;
	int			 rv = 1;

	if (argc > 2) {
		fprintf(stderr, "usage: posternctl encrypt [PASSWORD]\n");
		return 1;
	}
	if (argc == 2) {
		if (strlcpy(pass, argv[1], sizeof(pass)) > ENCRYPT_PASS_MAX) {
			fprintf(stderr, "posternctl: password too long\n");
			goto done;
		}
	} else if (isatty(STDIN_FILENO)) {
		if (readpassphrase("Password: ", pass, sizeof(pass),
		    RPP_REQUIRE_TTY) == NULL) {
			perror("posternctl: readpassphrase");
			goto done;
		}
	} else if (fgets(pass, sizeof(pass), stdin) == NULL) {
		fprintf(stderr, "posternctl: no password on standard input\n");
		goto done;
	}
	len = strcspn(pass, "\r\n");
	if (pass[len] == '\0' && len > ENCRYPT_PASS_MAX) {
		fprintf(stderr, "posternctl: password too long\n");
		goto done;
	}
	pass[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "posternctl: empty password\n");
		goto done;
	}
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    sizeof(setting)) == NULL) {
		perror("posternctl: crypt_gensalt_rn");
		goto done;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		perror("posternctl: calloc");
		goto done;
	}
	if (crypt_rn(pass, setting, cd, sizeof(*cd)) == NULL ||
	    cd->output[0] == '*')
		perror("posternctl: crypt_rn");
	else {
		printf("%s\n", cd->output);
		rv = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
 done:
	explicit_bzero(pass, sizeof(pass));
	return rv;
}

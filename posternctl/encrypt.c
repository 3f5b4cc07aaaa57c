/*
 * posternctl encrypt [-s] [-i iterations] [PASSWORD]: print a crypt(3)
 * hash of the password, for the credentials tables of "listen on ... auth
 * <T>" (postern.conf(5)).  The hash is yescrypt ("$y$", libxcrypt's
 * default cost), which authd checks with crypt_rn(); bcrypt and
 * sha512-crypt hashes made elsewhere work as well.
 *
 * With -s the SCRAM-SHA-256 and SCRAM-SHA-1 keys follow on the same line
 * (RFC 5802 3: salt, iterations, StoredKey, ServerKey; lib/scram.h), for
 * the SCRAM mechanisms.  Not by default: 4096 rounds of PBKDF2 are far
 * cheaper to attack offline than yescrypt, should the table leak.
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
#include "scram.h"

#define ENCRYPT_PASS_MAX	1024	/* SMTP_AUTH_PASS_MAX */

/* " SCRAM-SHA-...$iter:salt$StoredKey:ServerKey" on stdout. */
static int
encrypt_scram(enum sasl_mech mech, const char *pass, unsigned int iter)
{
	struct scram_stored	 st;
	char			*form;

	memset(&st, 0, sizeof(st));
	st.mech = mech;
	st.iter = iter;
	st.saltlen = SCRAM_SALT_LEN;
	arc4random_buf(st.salt, st.saltlen);
	if (scram_derive_keys(mech, pass, st.salt, st.saltlen, iter, NULL,
	    st.stored_key, st.server_key) == -1) {
		fprintf(stderr, "posternctl: %s key derivation failed\n",
		    sasl_mech_name(mech));
		return -1;
	}
	form = scram_stored_format(&st);
	printf(" %s", form);
	explicit_bzero(&st, sizeof(st));
	free(form);
	return 0;
}

int
encrypt_main(int argc, char *argv[])
{
	struct crypt_data	*cd;
	char			 pass[ENCRYPT_PASS_MAX + 2];
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*errstr;
	size_t			 len;
	unsigned int		 iter = SCRAM_DEFAULT_ITER;
	int			 rv = 1, ch, scram = 0;

	optind = 0;	/* GNU: start over (posternctl may have parsed) */
	while ((ch = getopt(argc, argv, "+i:s")) != -1) {
		switch (ch) {
		case 'i':
			iter = strtonum(optarg, SCRAM_MIN_ITER,
			    SCRAM_MAX_ITER, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "posternctl: iterations %s: "
				    "%s (%d to %d)\n", optarg, errstr,
				    SCRAM_MIN_ITER, SCRAM_MAX_ITER);
				return 1;
			}
			break;
		case 's':
			scram = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
 usage:
		fprintf(stderr, "usage: posternctl encrypt [-s] "
		    "[-i iterations] [PASSWORD]\n");
		return 1;
	}
	if (argc == 1) {
		if (strlcpy(pass, argv[0], sizeof(pass)) > ENCRYPT_PASS_MAX) {
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
	else if (scram && scram_prep_check(pass) == -1)
		fprintf(stderr, "posternctl: SCRAM needs a password without "
		    "control characters, in UTF-8\n");
	else {
		printf("%s", cd->output);
		rv = 0;
		if (scram && (encrypt_scram(SASL_MECH_SCRAM_SHA_256, pass,
		    iter) == -1 || encrypt_scram(SASL_MECH_SCRAM_SHA_1, pass,
		    iter) == -1))
			rv = 1;
		printf("\n");
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
 done:
	explicit_bzero(pass, sizeof(pass));
	return rv;
}

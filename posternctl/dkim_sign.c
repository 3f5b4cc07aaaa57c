/*
 * posternctl dkim sign and posternctl dkim keygen: sign a message from
 * standard input with the library that posternd uses (auth/dkim_sign.c,
 * RFC 6376 5, RFC 8463) and write it, signature first, to standard output;
 * make a new RSA or Ed25519 key (mode 0600, PKCS#8 PEM) and print the DNS
 * record to publish for it (RFC 6376 3.6.1, 3.6.2.1).
 *
 * Exit status: 0 on success, 2 on bad usage or an unreadable key or
 * message, 1 on any other failure (key file exists, write error).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/dkim.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define DKIM_SIGN_PROG		"posternctl dkim sign"
#define DKIM_USAGE_ERR		2	/* bad usage or unreadable input */

static void
dkim_sign_usage(void)
{
	fprintf(stderr, "usage: posternctl dkim sign -k keyfile -d domain "
	    "-s selector\n"
	    "           [-a rsa-sha256 | ed25519-sha256 | rsa-sha1] "
	    "[-c header/body]\n"
	    "           [-h Field:Field:...] [-i identity] [-l] "
	    "[-x seconds] [-t time] < message\n");
}

static int
parse_canon(const char *s, enum dkim_canon *hc, enum dkim_canon *bc)
{
	char	 h[16], *b;

	if (strlcpy(h, s, sizeof(h)) >= sizeof(h))
		return -1;
	if ((b = strchr(h, '/')) != NULL)
		*b++ = '\0';
	else
		b = "simple";	/* RFC 6376 3.5 c=: body defaults to simple */
	if (strcmp(h, "relaxed") == 0)
		*hc = DKIM_CANON_RELAXED;
	else if (strcmp(h, "simple") == 0)
		*hc = DKIM_CANON_SIMPLE;
	else
		return -1;
	if (strcmp(b, "relaxed") == 0)
		*bc = DKIM_CANON_RELAXED;
	else if (strcmp(b, "simple") == 0)
		*bc = DKIM_CANON_SIMPLE;
	else
		return -1;
	return 0;
}

/* The options of dkim sign; -1 after a message. */
static int
dkim_sign_options(int argc, char *argv[], struct dkim_signer *cfg,
    const char **keyfile)
{
	static const struct option longopts[] = {
		{ "key",		required_argument, NULL, 'k' },
		{ "domain",		required_argument, NULL, 'd' },
		{ "selector",		required_argument, NULL, 's' },
		{ "algorithm",		required_argument, NULL, 'a' },
		{ "canon",		required_argument, NULL, 'c' },
		{ "headers",		required_argument, NULL, 'h' },
		{ "identity",		required_argument, NULL, 'i' },
		{ "body-length",	no_argument,	   NULL, 'l' },
		{ "expire",		required_argument, NULL, 'x' },
		{ "time",		required_argument, NULL, 't' },
		{ NULL,			0,		   NULL, 0 }
	};
	const char	*errstr;
	int		 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "a:c:d:h:i:k:ls:t:x:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'k': *keyfile = optarg; break;
		case 'd': cfg->domain = optarg; break;
		case 's': cfg->selector = optarg; break;
		case 'h': cfg->headers = optarg; break;
		case 'i': cfg->identity = optarg; break;
		case 'l': cfg->body_length = 1; break;
		case 'a':
			cfg->alg = dkim_alg_from_name(optarg, strlen(optarg));
			if (cfg->alg == DKIM_ALG_NONE) {
				fprintf(stderr, "%s: unknown algorithm %s\n",
				    DKIM_SIGN_PROG, optarg);
				return -1;
			}
			/* Named on the command line: asked explicitly. */
			cfg->allow_sha1 = cfg->alg == DKIM_ALG_RSA_SHA1;
			break;
		case 'c':
			if (parse_canon(optarg, &cfg->hcanon, &cfg->bcanon) ==
			    -1) {
				fprintf(stderr, "%s: bad canonicalization "
				    "%s\n", DKIM_SIGN_PROG, optarg);
				return -1;
			}
			break;
		case 'x':
			cfg->expire = strtonum(optarg, 1, 1LL << 34, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: -x %s: %s\n",
				    DKIM_SIGN_PROG, optarg, errstr);
				return -1;
			}
			break;
		case 't':
			if (offline_parse_time(DKIM_SIGN_PROG, "-t", optarg,
			    &cfg->t) == -1)
				return -1;
			break;
		default:
			dkim_sign_usage();
			return -1;
		}
	}
	if (optind != argc || *keyfile == NULL || cfg->domain == NULL ||
	    cfg->selector == NULL) {
		dkim_sign_usage();
		return -1;
	}
	return 0;
}

static void
feed_signer(void *s, const void *p, size_t len)
{
	dkim_sign_feed(s, p, len);
}

int
dkim_sign_main(int argc, char *argv[])
{
	struct dkim_signer	 cfg;
	struct dkim_sign	*s = NULL;
	struct buf		 in, out;
	const char		*keyfile = NULL;
	char			 err[512];
	size_t			 total;
	int			 rv = DKIM_USAGE_ERR;

	memset(&cfg, 0, sizeof(cfg));
	cfg.hcanon = cfg.bcanon = DKIM_CANON_RELAXED;
	/* The message is kept to be written after its signature. */
	buf_init(&in, OFFLINE_MAX_MESSAGE);
	buf_init(&out, 1024 * 1024);
	if (dkim_sign_options(argc, argv, &cfg, &keyfile) == -1 ||
	    (cfg.key = offline_private_key(DKIM_SIGN_PROG, keyfile)) == NULL)
		goto done;
	s = dkim_sign_new();
	if (dkim_sign_add(s, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", DKIM_SIGN_PROG, err);
		rv = 1;
		goto done;
	}
	if (offline_read_message(DKIM_SIGN_PROG, &in, feed_signer, s,
	    &total) == -1)
		goto done;
	rv = 1;
	if (dkim_sign_end(s, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", DKIM_SIGN_PROG, err);
		goto done;
	}
	if (offline_write_prepended(DKIM_SIGN_PROG, &out, &in) == -1)
		goto done;
	rv = 0;
 done:
	buf_free(&in);
	buf_free(&out);
	dkim_sign_free(s);
	EVP_PKEY_free(cfg.key);
	return rv;
}

static void
dkim_keygen_usage(void)
{
	fprintf(stderr, "usage: posternctl dkim keygen "
	    "-a rsa-sha256 | ed25519-sha256 [-b bits] -d domain -s selector\n"
	    "           -o keyfile\n");
}

/* The TXT record in zone-file syntax, in strings of at most 255 bytes. */
static void
print_record(const char *selector, const char *domain, const char *rec)
{
	size_t	 len = strlen(rec), off, n;

	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (off = 0; off < len; off += n) {
		n = len - off > 200 ? 200 : len - off;
		printf("\n\t\"%.*s\"", (int)n, rec + off);
	}
	printf(" )\n");
}

int
dkim_keygen_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "algorithm",	required_argument, NULL, 'a' },
		{ "bits",	required_argument, NULL, 'b' },
		{ "domain",	required_argument, NULL, 'd' },
		{ "selector",	required_argument, NULL, 's' },
		{ "out",	required_argument, NULL, 'o' },
		{ NULL,		0,		   NULL, 0 }
	};
	EVP_PKEY	*pk = NULL;
	BIO		*bio = NULL;
	FILE		*f = NULL;
	const char	*alg = NULL, *domain = NULL, *selector = NULL;
	const char	*outfile = NULL, *errstr;
	char		*rec = NULL;
	long long	 bits = 0;
	int		 ch, fd, rv = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "a:b:d:o:s:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a': alg = optarg; break;
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 'o': outfile = optarg; break;
		case 'b':
			/* RFC 8301 3.2: 1024 at least, 2048 recommended. */
			bits = strtonum(optarg, 1024, 8192, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "posternctl dkim keygen: -b "
				    "%s: %s (1024 to 8192)\n", optarg, errstr);
				return DKIM_USAGE_ERR;
			}
			break;
		default:
			dkim_keygen_usage();
			return DKIM_USAGE_ERR;
		}
	}
	if (optind != argc || alg == NULL || outfile == NULL ||
	    domain == NULL || selector == NULL) {
		dkim_keygen_usage();
		return DKIM_USAGE_ERR;
	}
	if (strcmp(alg, "rsa-sha256") == 0 || strcmp(alg, "rsa") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)(bits ? bits : 2048));
	else if (strcmp(alg, "ed25519-sha256") == 0 ||
	    strcmp(alg, "ed25519") == 0) {
		if (bits != 0) {
			fprintf(stderr, "posternctl dkim keygen: -b is for "
			    "RSA keys only\n");
			return DKIM_USAGE_ERR;
		}
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		fprintf(stderr, "posternctl dkim keygen: unknown algorithm "
		    "%s\n", alg);
		return DKIM_USAGE_ERR;
	}
	if (pk == NULL) {
		fprintf(stderr, "posternctl dkim keygen: key generation "
		    "failed\n");
		return 1;
	}
	/* Never overwrite a key: O_EXCL, and private from the start. */
	if ((fd = open(outfile, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		fprintf(stderr, "posternctl dkim keygen: %s: %s\n", outfile,
		    strerror(errno));
		goto done;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		fprintf(stderr, "posternctl dkim keygen: %s: %s\n", outfile,
		    strerror(errno));
		goto done;
	}
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) == EOF || fsync(fileno(f)) == -1) {
		fprintf(stderr, "posternctl dkim keygen: writing %s failed\n",
		    outfile);
		goto done;
	}
	if ((rec = dkim_key_record(pk)) == NULL) {
		fprintf(stderr, "posternctl dkim keygen: no public key\n");
		goto done;
	}
	print_record(selector, domain, rec);
	rv = 0;
 done:
	if (f != NULL)
		fclose(f);
	BIO_free(bio);
	free(rec);
	EVP_PKEY_free(pk);
	return rv;
}

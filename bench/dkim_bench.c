/*
 * DKIM verification speed (RFC 6376 6.1, RFC 8463): how many rsa-sha256
 * (2048-bit key) and ed25519-sha256 verifications of a 10 KB
 * relaxed/relaxed message one core does through auth/dkim.c, the same
 * code path as the daemon: parse the header, canonicalize and hash the
 * body while streaming, hash the signed fields, check the signature.  The
 * key record is handed in as if from DNS; DNS itself is not measured.
 *
 * usage: dkim_bench [-a ALG] [-s SECONDS] [OUTDIR]
 * -a runs only the named algorithm (for profiling one path).
 * Prints "verify ALG RATE" lines (verifications per second).  With OUTDIR,
 * writes the signed messages (ALG.eml) and their key records (ALG.txt) for
 * scripts/bench to time other implementations on the same bytes.
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/dkim.h"
#include "util.h"

#define BODY_SIZE	10240
#define MAX_MSG		(64 * 1024)

/*
 * CPU time of this process, not wall time: `openssl speed`, the limit the
 * figures are set against, divides by CPU time too (unless -elapsed), and
 * on a shared machine wall time measures the neighbours.
 */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A plain-text message: ordinary header fields, 10 KB of 72-column text. */
static size_t
make_message(char *out, size_t outlen)
{
	static const char words[] = "lorem ipsum dolor sit amet consectetur "
	    "adipiscing elit sed do eiusmod tempor incididunt ut labore et ";
	size_t	 len, body, col = 0, w = 0;

	len = (size_t)snprintf(out, outlen,
	    "From: Alice Example <alice@example.com>\r\n"
	    "To: Bob Example <bob@example.net>\r\n"
	    "Subject: quarterly figures, as promised\r\n"
	    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	    "Message-ID: <bench.1@example.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n");
	for (body = 0; body < BODY_SIZE && len + 3 < outlen; body++) {
		if (col >= 70 && words[w] == ' ') {
			out[len++] = '\r';
			out[len++] = '\n';
			body++;
			col = 0;
			w = (w + 1) % (sizeof(words) - 1);
			continue;
		}
		out[len++] = words[w];
		w = (w + 1) % (sizeof(words) - 1);
		col++;
	}
	out[len++] = '\r';
	out[len++] = '\n';
	return len;
}

static char *
sign_message(EVP_PKEY *pk, enum dkim_alg alg, const char *sel,
    const char *msg, size_t len, size_t *outlen)
{
	struct dkim_signer	 s;
	struct dkim_sign	*ds;
	struct buf		 out;
	char			 errbuf[256], *signed_msg;

	memset(&s, 0, sizeof(s));
	s.key = pk;
	s.alg = alg;
	s.domain = "example.com";
	s.selector = sel;
	s.hcanon = s.bcanon = DKIM_CANON_RELAXED;
	ds = dkim_sign_new();
	if (dkim_sign_add(ds, &s, errbuf, sizeof(errbuf)) == -1)
		errx(1, "sign: %s", errbuf);
	dkim_sign_feed(ds, msg, len);
	buf_init(&out, MAX_MSG);
	if (dkim_sign_end(ds, &out, errbuf, sizeof(errbuf)) == -1)
		errx(1, "sign: %s", errbuf);
	dkim_sign_free(ds);
	signed_msg = xmalloc(out.len + len);
	memcpy(signed_msg, out.data, out.len);
	memcpy(signed_msg + out.len, msg, len);
	*outlen = out.len + len;
	buf_free(&out);
	return signed_msg;
}

/* One full verification; returns 1 on pass. */
static int
verify_once(const char *msg, size_t len, const char *rec, size_t reclen)
{
	struct dkim_verify_opts		 opts;
	struct dkim_verify		*v;
	const struct dkim_sigresult	*r;
	size_t				 k, n, total;
	int				 ok;

	memset(&opts, 0, sizeof(opts));
	v = dkim_verify_new(&opts);
	dkim_verify_feed(v, msg, len);
	dkim_verify_end(v);
	for (k = 0; k < dkim_verify_nkeys(v); k++)
		dkim_verify_set_key(v, k, DKIM_DNS_OK, DKIM_DNSSEC_INSECURE,
		    &rec, &reclen, 1);
	r = dkim_verify_results(v, &n, &total);
	ok = n == 1 && r[0].result == DKIM_PASS;
	dkim_verify_free(v);
	return ok;
}

static void
write_file(const char *dir, const char *name, const char *ext,
    const char *data, size_t len)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (fwrite(data, 1, len, f) != len || fclose(f) == EOF)
		err(1, "%s", path);
}

static void
bench(const char *name, EVP_PKEY *pk, enum dkim_alg alg, double seconds,
    const char *outdir)
{
	char		 msg[MAX_MSG], *signed_msg, *rec;
	size_t		 len, slen, reclen;
	double		 t0, t;
	unsigned long	 count = 0;
	int		 i;

	len = make_message(msg, sizeof(msg));
	signed_msg = sign_message(pk, alg, name, msg, len, &slen);
	rec = dkim_key_record(pk);
	reclen = strlen(rec);
	if (!verify_once(signed_msg, slen, rec, reclen))
		errx(1, "%s: the signed message does not verify", name);
	if (outdir != NULL) {
		write_file(outdir, name, "eml", signed_msg, slen);
		write_file(outdir, name, "txt", rec, reclen);
	}
	t0 = now();
	do {
		/* Check the time every few rounds only: clock calls cost. */
		for (i = 0; i < 16; i++)
			count += verify_once(signed_msg, slen, rec, reclen);
		t = now() - t0;
	} while (t < seconds);
	printf("verify %s %.1f %zu\n", name, (double)count / t, len);
	fflush(stdout);
	free(rec);
	free(signed_msg);
}

int
main(int argc, char *argv[])
{
	EVP_PKEY	*rsa, *ed;
	const char	*errstr, *outdir = NULL, *only = NULL;
	double		 seconds = 3;
	int		 ch;

	while ((ch = getopt(argc, argv, "a:s:")) != -1) {
		switch (ch) {
		case 'a':
			only = optarg;
			break;
		case 's':
			seconds = (double)strtonum(optarg, 1, 60, &errstr);
			if (errstr != NULL)
				errx(1, "-s %s: %s", optarg, errstr);
			break;
		default:
			fprintf(stderr, "usage: dkim_bench [-a alg] "
			    "[-s seconds] [outdir]\n");
			return 1;
		}
	}
	if (optind < argc)
		outdir = argv[optind];
	if ((rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)) ==
	    NULL || (ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		errx(1, "key generation failed");
	if (only == NULL || strcmp(only, "rsa-sha256") == 0)
		bench("rsa-sha256", rsa, DKIM_ALG_RSA_SHA256, seconds,
		    outdir);
	if (only == NULL || strcmp(only, "ed25519-sha256") == 0)
		bench("ed25519-sha256", ed, DKIM_ALG_ED25519_SHA256, seconds,
		    outdir);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return 0;
}

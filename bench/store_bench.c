/*
 * Queue store speed (queue/store.c): how many 4 KB messages with one
 * envelope each are durably committed per second when G messages share one
 * group commit (one LMDB write transaction, one fsync), for G = 1, 10, 50 and
 * more.  G = 1 is a file-per-message queue's cost model: one fsync per
 * message; the rest shows what group commit buys.  Also measures the
 * delivery side: take due envelopes, record them delivered in groups.
 *
 * usage: store_bench [-m SIZE] [-s SECONDS] [DIR]
 * DIR (default /var/tmp) must be on the disk under test: a fresh store is
 * made in a temporary directory below it and removed afterwards.  Each
 * group size runs for SECONDS (default 3).  Prints lines
 *	commit G MSGS_PER_SEC COMMITS_PER_SEC
 *	deliver G ENVELOPES_PER_SEC
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "queue/store.h"
#include "util.h"

static double
now_sec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
ack(uint64_t id, int ok, void *arg)
{
	if (!ok)
		errx(1, "commit failed");
	(*(size_t *)arg)++;
}

static void
rmstore(const char *dir)
{
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static void
run(const char *base, size_t group, size_t msgsize, double secs)
{
	struct qstore		*qs;
	struct qs_msg		*m;
	struct envelope		 e, *due;
	struct qstore_stats	 st0, st1;
	char			 dir[512], errbuf[256];
	uint8_t			*body;
	size_t			 acked = 0, i, n, taken;
	double			 t0, t;
	int			 k;

	snprintf(dir, sizeof(dir), "%s/store_bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp %s", dir);
	if ((qs = qstore_open(dir, 256 * 1024 * 1024, errbuf, sizeof(errbuf))) ==
	    NULL)
		errx(1, "%s", errbuf);
	body = xmalloc(msgsize);
	for (i = 0; i < msgsize; i++)
		body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' :
		    'a' + i % 26;
	memset(&e, 0, sizeof(e));
	strlcpy(e.sender, "sender@example.com", sizeof(e.sender));
	strlcpy(e.rcpt, "rcpt@example.org", sizeof(e.rcpt));
	strlcpy(e.dest, "local", sizeof(e.dest));
	e.kind = ENV_LOCAL;

	qstore_stats(qs, &st0);
	t0 = now_sec();
	n = 0;
	do {
		for (i = 0; i < group; i++) {
			if ((m = qstore_message_begin(qs, msgsize)) == NULL)
				errx(1, "begin");
			if (qstore_message_append(m, body, msgsize) == -1 ||
			    qstore_message_add_envelope(m, &e) == 0 ||
			    qstore_commit_request(m, ack, &acked) == -1)
				errx(1, "message");
		}
		if (qstore_flush(qs) == -1)
			errx(1, "flush");
		n += group;
		t = now_sec() - t0;
	} while (t < secs);
	qstore_stats(qs, &st1);
	if (acked != n)
		errx(1, "acked %zu of %zu", acked, n);
	printf("commit %zu %.0f %.0f\n", group, n / t,
	    (st1.commits - st0.commits) / t);
	fflush(stdout);

	/* The delivery side: take G due, record them delivered, commit. */
	due = xcalloc(group, sizeof(*due));
	t0 = now_sec();
	taken = 0;
	do {
		k = qstore_take_due(qs, time(NULL), due, group);
		if (k <= 0)
			break;
		for (i = 0; i < (size_t)k; i++)
			qstore_delivered(qs, due[i].id);
		if (qstore_flush(qs) == -1)
			errx(1, "flush");
		taken += k;
		t = now_sec() - t0;
	} while (t < secs);
	t = now_sec() - t0;
	printf("deliver %zu %.0f\n", group, taken / t);
	fflush(stdout);
	free(due);
	free(body);
	qstore_close(qs);
	rmstore(dir);
}

int
main(int argc, char *argv[])
{
	static const size_t	 groups[] = { 1, 10, 50, 200 };
	const char		*base = "/var/tmp", *errstr;
	size_t			 msgsize = 4096, i;
	double			 secs = 3;
	int			 ch;

	while ((ch = getopt(argc, argv, "m:s:")) != -1) {
		switch (ch) {
		case 'm':
			msgsize = strtonum(optarg, 1, 64 * 1024 * 1024,
			    &errstr);
			if (errstr != NULL)
				errx(1, "-m %s: %s", optarg, errstr);
			break;
		case 's':
			secs = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(1, "-s %s: %s", optarg, errstr);
			break;
		default:
			fprintf(stderr, "usage: store_bench [-m SIZE] "
			    "[-s SECONDS] [DIR]\n");
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0)
		base = argv[0];
	printf("# %zu-byte messages, one envelope, fsync'd commits in %s\n",
	    msgsize, base);
	printf("# commit GROUP MSGS/S COMMITS/S; deliver GROUP ENVELOPES/S\n");
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		run(base, groups[i], msgsize, secs);
	return 0;
}

/*
 * mailq (and sendmail -bp): the queue in the classic format that
 * sendmail(8) and Postfix print and that scripts read, from the listing
 * posternctl show queue gets over the control socket (root and the
 * control group only).  One paragraph per message: its id with '*' when
 * a delivery is under way or '!' when held, its size, arrival time and
 * sender, then each recipient, after its last error in parentheses.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "imsg.h"
#include "msg.h"
#include "posternctl/posternctl.h"
#include "util.h"

#define MAILQ_INDENT	43

static int
cmp_evpid(const void *a, const void *b)
{
	const struct msg_ctl_envelope	*x = a, *y = b;

	return x->evpid < y->evpid ? -1 : x->evpid > y->evpid;
}

/* One message: envelopes e[0..n), all of one message id. */
static void
mailq_message(const struct msg_ctl_envelope *e, size_t n)
{
	char		 id[QID_MSG_LEN + 1], when[64];
	time_t		 t = (time_t)e[0].ctime;
	struct tm	*tm;
	size_t		 i;
	char		 mark = ' ';

	for (i = 0; i < n; i++)
		if (e[i].state == ENV_INFLIGHT)
			mark = '*';
		else if (e[i].state == ENV_HELD && mark == ' ')
			mark = '!';
	qid_msg_str(e[0].evpid >> 16, id, sizeof(id));
	if ((tm = localtime(&t)) == NULL ||
	    strftime(when, sizeof(when), "%a %b %e %H:%M:%S", tm) == 0)
		strlcpy(when, "-", sizeof(when));
	printf("%-12s%c %8llu %20s  %s\n", id, mark,
	    (unsigned long long)e[0].size, when,
	    e[0].sender[0] != '\0' ? e[0].sender : "MAILER-DAEMON");
	for (i = 0; i < n; i++) {
		if (e[i].error[0] != '\0')
			printf("%*s(%s)\n", MAILQ_INDENT, "", e[i].error);
		printf("%*s%s\n", MAILQ_INDENT, "", e[i].rcpt);
	}
	putchar('\n');
}

int
mailq_main(void)
{
	struct imsgbuf		*ibuf;
	struct imsg		 imsg;
	struct msg_ctl_envelope	*e = NULL;
	size_t			 n = 0, i, first, nmsgs = 0;
	unsigned long long	 bytes = 0;

	ibuf = ctl_open();
	imsg_compose(ibuf, IMSG_CTL_QUEUE_LIST, 0, 0, -1, NULL, 0);
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		e = xreallocarray(e, n + 1, sizeof(*e));
		if (imsg.hdr.type != IMSG_CTL_QUEUE_ENTRY ||
		    msg_get_ctl_envelope(&imsg, &e[n]) == -1) {
			fprintf(stderr, "mailq: malformed queue entry\n");
			return 1;
		}
		imsg_free(&imsg);
		n++;
	}
	imsg_free(&imsg);
	if (n == 0) {
		printf("Mail queue is empty\n");
		return 0;
	}
	qsort(e, n, sizeof(*e), cmp_evpid);
	printf("%-12s  %8s %-20s  %s\n", "-Queue ID-", "--Size--",
	    "----Arrival Time----", "-Sender/Recipient-------");
	for (first = 0, i = 1; i <= n; i++) {
		if (i < n && e[i].evpid >> 16 == e[first].evpid >> 16)
			continue;
		mailq_message(e + first, i - first);
		bytes += e[first].size;
		nmsgs++;
		first = i;
	}
	printf("-- %llu Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024,
	    nmsgs, nmsgs == 1 ? "" : "s");
	free(e);
	return 0;
}

/*
 * posternctl show reports [dmarc|tls|arf] [-j]: the reports others sent
 * us, as reportd keeps them (reportd/rpt_store.h) and formats them: with
 * -j one JSON object a line, else readable lines.  posternctl parses none
 * of it (it may run as root): it copies reportd's text out.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "imsg.h"
#include "msg.h"
#include "posternctl/posternctl.h"

static int
show_reports(struct imsgbuf *ibuf, int kind, int json)
{
	struct msg_ctl_reports	 m;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.json = json;
	imsg_compose(ibuf, IMSG_CTL_REPORTS_GET, 0, 0, -1, &m, sizeof(m));
	return ctl_copy_data(ibuf);
}

int
posternctl_received_cmd(int argc, char *argv[])
{
	int	 i, kind = MSG_REPORTS_ALL, json = 0;

	if (argc < 2 || strcmp(argv[0], "show") != 0 ||
	    strcmp(argv[1], "reports") != 0)
		return -1;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0 && !json)
			json = 1;
		else if (strcmp(argv[i], "dmarc") == 0 &&
		    kind == MSG_REPORTS_ALL)
			kind = MSG_REPORTS_DMARC;
		else if (strcmp(argv[i], "tls") == 0 &&
		    kind == MSG_REPORTS_ALL)
			kind = MSG_REPORTS_TLS;
		else if (strcmp(argv[i], "arf") == 0 &&
		    kind == MSG_REPORTS_ALL)
			kind = MSG_REPORTS_ARF;
		else
			return -1;
	}
	return show_reports(ctl_open(), kind, json);
}

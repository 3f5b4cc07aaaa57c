/*
 * posternctl's report commands: `show evaluations [DOMAIN]` lists the DMARC
 * evaluations reportd holds, one line each, as reportd formats them
 * (evalstore_format(), reportd/evalstore.h).
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "imsg.h"
#include "msg.h"
#include "posternctl/posternctl.h"

static int
cmd_show_evaluations(struct imsgbuf *ibuf, const char *domain)
{
	struct msg_ctl_domain	 d;
	struct imsg		 imsg;
	const void		*data;
	size_t			 len;

	memset(&d, 0, sizeof(d));
	if (strlcpy(d.domain, domain, sizeof(d.domain)) >= sizeof(d.domain)) {
		fprintf(stderr, "posternctl: %s: domain name too long\n",
		    domain);
		return 1;
	}
	imsg_compose(ibuf, IMSG_CTL_EVALUATIONS_GET, 0, 0, -1, &d, sizeof(d));
	for (;;) {
		ctl_next(ibuf, &imsg);
		if (imsg.hdr.type == IMSG_CTL_REPLY_END)
			break;
		if (imsg.hdr.type != IMSG_CTL_REPLY_DATA ||
		    msg_get_bytes(&imsg, &data, &len) == -1) {
			fprintf(stderr, "posternctl: malformed reply\n");
			imsg_free(&imsg);
			return 1;
		}
		if (fwrite(data, 1, len, stdout) != len) {
			imsg_free(&imsg);
			return 1;
		}
		imsg_free(&imsg);
	}
	imsg_free(&imsg);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
posternctl_report_cmd(int argc, char *argv[])
{
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "evaluations") == 0)
		return cmd_show_evaluations(ctl_open(), argc == 3 ? argv[2] :
		    "");
	return -1;
}

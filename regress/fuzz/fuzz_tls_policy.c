/*
 * libFuzzer target for the decoder of IMSG_REPORT_TLS_POLICY in
 * lib/msg.c (msg_get_tls_policy(), msg_tls_policy_text_ok()): the
 * payload a compromised mta could send reportd.  Checked: no crash, and
 * a text that passes is what the store expects: printable lines within
 * their bounds, each ended by a newline.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct msg_tls_policy	 m;
	struct imsg		 imsg;
	const char		*text;
	size_t			 i, col = 0, lines = 0;

	memset(&imsg, 0, sizeof(imsg));
	imsg.data = (void *)data;
	imsg.len = len;
	imsg.fd = -1;
	if (msg_get_tls_policy(&imsg, &m, &text) == -1)
		return 0;
	if (m.len != len - sizeof(m) || m.len > MSG_TLS_POLICY_TEXT_MAX ||
	    memchr(m.domain, '\0', sizeof(m.domain)) == NULL ||
	    memchr(m.mx, '\0', sizeof(m.mx)) == NULL)
		abort();
	for (i = 0; i < m.len; i++) {
		if (text[i] == '\n') {
			if (col == 0)
				abort();
			lines++;
			col = 0;
		} else if (text[i] < 0x20 || text[i] > 0x7e ||
		    ++col > MSG_TLS_POLICY_LINE_MAX)
			abort();
	}
	if (col != 0 || lines > MSG_TLS_POLICY_LINES)
		abort();
	return 0;
}

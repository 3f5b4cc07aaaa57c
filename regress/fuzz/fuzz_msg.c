/*
 * Fuzz the imsg framing (lib/imsg.c: a stream of frames read from a
 * socket, as a process reads its peers) and every payload decoder of
 * lib/msg.c: the first input byte picks a decoder, the second says
 * whether the rest is taken as it is or fitted to the payload's struct
 * (so that the fuzzer reaches the checks behind the size check), and the
 * rest is the payload.  Decoders are a process's only view of what
 * another process sent: none may read past the payload or accept a
 * string without its NUL.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "imsg.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define D(name, type)							\
static int								\
dec_##name(const struct imsg *imsg)					\
{									\
	struct type	 out;						\
									\
	return msg_get_##name(imsg, &out);				\
}
D(peer, msg_peer)
D(conf_global, msg_conf_global)
D(conf_listener, msg_conf_listener)
D(conf_control, msg_conf_control)
D(conf_table, msg_conf_table)
D(conf_table_entry, msg_conf_table_entry)
D(conf_action, msg_conf_action)
D(conf_rule, msg_conf_rule)
D(conf_user, msg_conf_user)
D(conf_srs_key, msg_conf_srs_key)
D(conf_mta, msg_conf_mta)
D(conf_reports, msg_conf_reports)
D(conf_relay, msg_conf_relay)
D(conf_secret, msg_conf_secret)
D(conf_route, msg_conf_route)
D(conf_mta_addr, msg_conf_mta_addr)
D(conf_policy, msg_conf_policy)
D(conf_sign, msg_conf_sign)
D(conf_credential, msg_conf_credential)
D(queue_msgid, msg_queue_msgid)
D(queue_begin, msg_queue_begin)
D(queue_space, msg_queue_space)
D(queue_report, msg_queue_report)
D(queue_report_rcpt, msg_queue_report_rcpt)
D(queue_report_result, msg_queue_report_result)
D(queue_report_bounce, msg_queue_report_bounce)
D(envelope, envelope)
D(queue_envelope, msg_queue_envelope)
D(auth_begin, msg_auth_begin)
D(auth_mail, msg_auth_mail)
D(auth_end, msg_auth_end)
D(auth_sasl, msg_auth_sasl)
D(auth_sasl_result, msg_auth_sasl_result)
D(mta_task, msg_mta_task)
D(mta_result, msg_mta_result)
D(deliver, msg_deliver)
D(deliver_result, msg_deliver_result)
D(ctl_hello, msg_ctl_hello)
D(ctl_error, msg_ctl_error)
D(ctl_count, msg_ctl_count)
D(ctl_status, msg_ctl_status)
D(ctl_verbose, msg_ctl_verbose)
D(ctl_qid, msg_ctl_qid)
D(ctl_envelope, msg_ctl_envelope)
D(ctl_target, msg_ctl_target)
D(ctl_stat, msg_ctl_stat)
D(ctl_domain, msg_ctl_domain)
D(ctl_mta_host, msg_ctl_mta_host)
D(tls_result, msg_tls_result)
D(ctl_debug_result, msg_ctl_debug_result)
D(report_receive, msg_report_receive)
D(ctl_reports, msg_ctl_reports)
#undef D

static int
dec_empty(const struct imsg *imsg)
{
	return msg_get_empty(imsg);
}

static int
dec_bytes(const struct imsg *imsg)
{
	const void	*p;
	size_t		 n;

	return msg_get_bytes(imsg, &p, &n);
}

static int
dec_conf_pki(const struct imsg *imsg)
{
	struct msg_conf_pki	 out;
	const uint8_t		*cert, *key;

	return msg_get_conf_pki(imsg, &out, &cert, &key);
}

static int
dec_conf_dkimsig(const struct imsg *imsg)
{
	struct msg_conf_dkimsig	 out;
	const uint8_t		*key;

	return msg_get_conf_dkimsig(imsg, &out, &key);
}

static int
dec_auth_result(const struct imsg *imsg)
{
	struct msg_auth_result	 out;
	const uint8_t		*header;

	return msg_get_auth_result(imsg, &out, &header);
}

static int
dec_ctl_debug(const struct imsg *imsg)
{
	struct msg_ctl_debug	 out;
	const uint8_t		*ta, *ca;

	return msg_get_ctl_debug(imsg, &out, &ta, &ca);
}

static int
dec_report_failure(const struct imsg *imsg)
{
	struct msg_report_failure	 out;
	const uint8_t			*eval, *header;

	return msg_get_report_failure(imsg, &out, &eval, &header);
}

static int
dec_tls_policy(const struct imsg *imsg)
{
	struct msg_tls_policy	 out;
	const char		*text;

	return msg_get_tls_policy(imsg, &out, &text);
}

#define D(name, type)	{ dec_##name, sizeof(struct type) },
static const struct {
	int	(*fn)(const struct imsg *);
	size_t	 size;
} decoders[] = {
	D(peer, msg_peer)
	D(conf_global, msg_conf_global)
	D(conf_listener, msg_conf_listener)
	D(conf_control, msg_conf_control)
	D(conf_table, msg_conf_table)
	D(conf_table_entry, msg_conf_table_entry)
	D(conf_action, msg_conf_action)
	D(conf_rule, msg_conf_rule)
	D(conf_user, msg_conf_user)
	D(conf_srs_key, msg_conf_srs_key)
	D(conf_mta, msg_conf_mta)
	D(conf_reports, msg_conf_reports)
	D(conf_relay, msg_conf_relay)
	D(conf_secret, msg_conf_secret)
	D(conf_route, msg_conf_route)
	D(conf_mta_addr, msg_conf_mta_addr)
	D(conf_policy, msg_conf_policy)
	D(conf_sign, msg_conf_sign)
	D(conf_credential, msg_conf_credential)
	D(queue_msgid, msg_queue_msgid)
	D(queue_begin, msg_queue_begin)
	D(queue_space, msg_queue_space)
	D(queue_report, msg_queue_report)
	D(queue_report_rcpt, msg_queue_report_rcpt)
	D(queue_report_result, msg_queue_report_result)
	D(queue_report_bounce, msg_queue_report_bounce)
	D(envelope, envelope)
	D(queue_envelope, msg_queue_envelope)
	D(auth_begin, msg_auth_begin)
	D(auth_mail, msg_auth_mail)
	D(auth_end, msg_auth_end)
	D(auth_sasl, msg_auth_sasl)
	D(auth_sasl_result, msg_auth_sasl_result)
	D(mta_task, msg_mta_task)
	D(mta_result, msg_mta_result)
	D(deliver, msg_deliver)
	D(deliver_result, msg_deliver_result)
	D(ctl_hello, msg_ctl_hello)
	D(ctl_error, msg_ctl_error)
	D(ctl_count, msg_ctl_count)
	D(ctl_status, msg_ctl_status)
	D(ctl_verbose, msg_ctl_verbose)
	D(ctl_qid, msg_ctl_qid)
	D(ctl_envelope, msg_ctl_envelope)
	D(ctl_target, msg_ctl_target)
	D(ctl_stat, msg_ctl_stat)
	D(ctl_domain, msg_ctl_domain)
	D(ctl_mta_host, msg_ctl_mta_host)
	D(tls_result, msg_tls_result)
	D(ctl_debug_result, msg_ctl_debug_result)
	D(report_receive, msg_report_receive)
	D(ctl_reports, msg_ctl_reports)
	{ dec_empty, 0 },
	{ dec_bytes, 0 },
	{ dec_conf_pki, sizeof(struct msg_conf_pki) },
	{ dec_conf_dkimsig, sizeof(struct msg_conf_dkimsig) },
	{ dec_auth_result, sizeof(struct msg_auth_result) },
	{ dec_ctl_debug, sizeof(struct msg_ctl_debug) },
	{ dec_report_failure, sizeof(struct msg_report_failure) },
	{ dec_tls_policy, sizeof(struct msg_tls_policy) },
};
#undef D

#define NDECODERS	(sizeof(decoders) / sizeof(decoders[0]))

/* The input as a stream of frames, read as a peer's channel is read. */
static void
frames(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	int		 sv[2], n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	if (write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	close(sv[0]);
	imsgbuf_init(&ib, sv[1]);
	while (imsgbuf_read(&ib) > 0) {
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			decoders[imsg.hdr.type % NDECODERS].fn(&imsg);
			imsg_free(&imsg);
		}
		if (n == -1)
			break;
	}
	imsgbuf_clear(&ib);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsg	 imsg;
	uint8_t		*copy;
	size_t		 len, which;

	if (size < 2 || size > 2 * IMSG_MAX_PAYLOAD)
		return 0;
	which = data[0] % NDECODERS;
	len = size - 2;
	/* fitted: the struct's size, the input repeated or cut to it */
	if ((data[1] & 1) && decoders[which].size > 0)
		len = decoders[which].size + (data[1] >> 1);
	copy = malloc(len > 0 ? len : 1);
	for (size_t i = 0; i < len; i++)
		copy[i] = size > 2 ? data[2 + i % (size - 2)] : 0;
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.len = sizeof(imsg.hdr) + len;
	imsg.fd = -1;
	imsg.data = len > 0 ? copy : NULL;
	imsg.len = len;
	decoders[which].fn(&imsg);
	free(copy);

	frames(data, size);
	return 0;
}

/*
 * posternctl's offline commands: each is a `NAME_main(argc, argv)` in its
 * own file, listed in offline.c.
 */
#ifndef POSTERNCTL_H
#define POSTERNCTL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>

void	posternctl_offline_usage(FILE *);

/* -1 if argv is not an offline command, else the exit status */
int	posternctl_offline(int argc, char *argv[]);

/* the control connection (posternctl.c) */
struct imsgbuf;
struct imsg;
struct imsgbuf	*ctl_open(void);
void		 ctl_next(struct imsgbuf *, struct imsg *);
/*
 * -j: one JSON object (json_t *, taken) on a line of its own, compact;
 * -1 if it is NULL (a string that is not UTF-8 made json_pack fail).
 */
int		 ctl_json_line(void *);

/* -1 if argv is not a queue/smtp command, else the exit status */
int	posternctl_queue_cmd(int argc, char *argv[]);
/* -1 if argv is not a report command, else the exit status */
int	posternctl_report_cmd(int argc, char *argv[]);
int	ctl_show_domain(struct imsgbuf *, uint32_t, const char *, uint32_t);
/* -j among argv[from..]: removed, and CTL_FLAG_JSON; else 0 */
uint32_t	ctl_json_arg(int *, char *[], int);
int	ctl_copy_data(struct imsgbuf *);
int	ctl_domain_count(struct imsgbuf *, uint32_t, const char *, int,
	    long long *);
/* -1 if argv is not debug delivery, else the exit status */
int	posternctl_debug_cmd(int argc, char *argv[]);
/* -1 if argv is not show reports, else the exit status */
int	posternctl_received_cmd(int argc, char *argv[]);
struct msg_ctl_stat;
int	ctl_stats_each(struct imsgbuf *, int,
	    void (*)(const struct msg_ctl_stat *, void *), void *);

/*
 * What the commands that read a message share (common.c).  Each prints
 * its own failure on stderr after prog, the command's name.
 */
#define OFFLINE_MAX_MESSAGE	(256 * 1024 * 1024)

struct buf;
struct dns_ctx;
struct dns_ctx	*offline_dns(const char *prog, const char *zone,
		    const char *resolver, const char *ta);
int		 offline_read_message(const char *prog, struct buf *keep,
		    void (*feed)(void *, const void *, size_t), void *arg,
		    size_t *total);
EVP_PKEY	*offline_private_key(const char *prog, const char *keyfile);
int		 offline_write_prepended(const char *prog, struct buf *fields,
		    const struct buf *msg);
void		 offline_authserv_id(const char *authserv, char *host,
		    size_t hostlen);
int		 offline_parse_time(const char *prog, const char *opt,
		    const char *arg, time_t *);

/* sendmail.c, mailq.c: local submission and the classic queue listing */
int	sendmail_main(int, char *[], const char *ctl_socket);
int	mailq_main(void);

int	check_spf_main(int, char *[]);
int	check_dkim_main(int, char *[]);
int	dkim_sign_main(int, char *[]);
int	dkim_keygen_main(int, char *[]);
int	check_arc_main(int, char *[]);
int	check_message_main(int, char *[]);
int	arc_seal_main(int, char *[]);
int	encrypt_main(int, char *[]);

#endif

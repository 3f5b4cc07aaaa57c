/*
 * posternctl's offline commands: each is a `NAME_main(argc, argv)` in its
 * own file, listed in offline.c.
 */
#ifndef POSTERNCTL_H
#define POSTERNCTL_H

#include <stddef.h>
#include <stdio.h>

void	posternctl_offline_usage(FILE *);
int	write_all(int, const void *, size_t);

/* -1 if argv is not an offline command, else the exit status */
int	posternctl_offline(int argc, char *argv[]);

/* the control connection (posternctl.c) */
struct imsgbuf;
struct imsg;
struct imsgbuf	*ctl_open(void);
void		 ctl_next(struct imsgbuf *, struct imsg *);

/* -1 if argv is not a queue/smtp command, else the exit status */
int	posternctl_queue_cmd(int argc, char *argv[]);
/* -1 if argv is not a report command, else the exit status */
int	posternctl_report_cmd(int argc, char *argv[]);

int	check_spf_main(int, char *[]);
int	check_dkim_main(int, char *[]);
int	dkim_sign_main(int, char *[]);
int	dkim_keygen_main(int, char *[]);
int	check_arc_main(int, char *[]);
int	check_message_main(int, char *[]);
int	arc_seal_main(int, char *[]);
int	encrypt_main(int, char *[]);

#endif

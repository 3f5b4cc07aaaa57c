/*
 * Framed messages between postern's processes, in the shape of OpenBSD's
 * imsg API: a fixed header (type, length, flags, peer id, pid), a payload
 * of at most IMSG_MAX_PAYLOAD bytes, and at most one file descriptor per
 * message, passed with SCM_RIGHTS.  Reads and writes are non-blocking and
 * may be partial; a frame is handed out only when it is complete.
 *
 * A receiver gets the payload length with the message and must check it
 * against what the type requires: the daemon does it with the decoders of
 * lib/msg.c, one per payload type.
 */
#ifndef POSTERN_IMSG_H
#define POSTERN_IMSG_H

#include <sys/queue.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_PAYLOAD	(64 * 1024)
#define IMSG_MAX_SIZE		(IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD)
#define IMSG_MAX_FDS_QUEUED	16	/* received fds not yet claimed */

#define IMSGF_HASFD		0x0001

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header + payload */
	uint16_t	 flags;
	uint16_t	 unused;
	uint32_t	 peerid;
	uint32_t	 pid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none */
	void		*data;		/* payload, NULL if empty */
	size_t		 len;		/* payload length */
};

struct imsg_wbuf {
	TAILQ_ENTRY(imsg_wbuf)	 entry;
	uint8_t			*data;
	size_t			 len;
	size_t			 off;	/* bytes already written */
	int			 fd;	/* passed with the first byte */
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;		/* our pid, stamped on output */
	uint8_t			*rbuf;		/* IMSG_MAX_SIZE * 2 */
	size_t			 rlen;
	uint64_t		 rread;		/* stream bytes read, ever */
	int			 rfds[IMSG_MAX_FDS_QUEUED];
	/* the stream bytes [from, to) of the read each fd came with */
	uint64_t		 rfd_from[IMSG_MAX_FDS_QUEUED];
	uint64_t		 rfd_to[IMSG_MAX_FDS_QUEUED];
	int			 nrfds;
	TAILQ_HEAD(, imsg_wbuf)	 wq;
	size_t			 wqlen;		/* messages queued */
	size_t			 wqbytes;	/* ... their bytes not yet sent */
};

void	 imsgbuf_init(struct imsgbuf *, int fd);
void	 imsgbuf_clear(struct imsgbuf *);
/* read: >0 bytes read, 0 EOF, -1 error (errno; EAGAIN when nothing) */
ssize_t	 imsgbuf_read(struct imsgbuf *);
/* write what is queued: 0 ok (maybe partial), -1 error */
int	 imsgbuf_write(struct imsgbuf *);
/* write everything, blocking (polls on EAGAIN): 0 ok, -1 error */
int	 imsgbuf_flush(struct imsgbuf *);
size_t	 imsgbuf_queuelen(const struct imsgbuf *);
/* what the queue holds: the measure for backpressure */
size_t	 imsgbuf_queuebytes(const struct imsgbuf *);
/*
 * next complete message: 1 got one, 0 none yet, -1 bad frame or a stray
 * descriptor (errno EBADMSG)
 */
int	 imsg_get(struct imsgbuf *, struct imsg *);
void	 imsg_free(struct imsg *);
/* payload must be exactly `len` bytes: 0 ok, -1 otherwise */
int	 imsg_get_data(const struct imsg *, void *, size_t len);
/* queue one message; the fd (if not -1) is owned and closed after sending */
int	 imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t len);
int	 imsg_composev(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const struct iovec *iov, int iovcnt);

#endif

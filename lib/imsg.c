/*
 * Our own imsg: framed messages with fd passing over a unix socket.
 *
 * Framing: struct imsg_hdr followed by (len - header) payload bytes.  A
 * frame whose length is below the header size or above IMSG_MAX_SIZE, or
 * which claims an fd that never arrived, is a protocol error: imsg_get()
 * returns -1 and the caller must drop the peer (a peer's garbage is never
 * acted on).  Each queued message is one write buffer; a message with an
 * fd is sent with sendmsg() so the SCM_RIGHTS control data rides on its
 * first byte, and the receiver queues the fds in arrival order.
 *
 * The receiver remembers which bytes of the stream came with each fd: a
 * message with the fd flag takes the first fd only if the fd came with
 * the message's first byte, and an fd that came with bytes where no
 * message claiming it can start (one sent along a message without the
 * flag) is a protocol error too, never kept for the next message.
 *
 * Some messages carry secrets (SASL passwords, SRS keys, DKIM private
 * keys): a buffer that held a message (the read buffer's consumed bytes,
 * a write buffer once sent, a received message's payload at imsg_free(),
 * the read buffer at imsgbuf_clear()) is wiped before it is freed or
 * reused, so that no copy lingers in the heap.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "util.h"

#define RBUF_SIZE	(IMSG_MAX_SIZE * 2)

void
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	ibuf->rbuf = xmalloc(RBUF_SIZE);
	TAILQ_INIT(&ibuf->wq);
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_wbuf	*wb;
	int			 i;

	while ((wb = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		TAILQ_REMOVE(&ibuf->wq, wb, entry);
		if (wb->fd != -1)
			close(wb->fd);
		explicit_bzero(wb->data, wb->len);
		free(wb->data);
		free(wb);
	}
	ibuf->wqlen = 0;
	ibuf->wqbytes = 0;
	for (i = 0; i < ibuf->nrfds; i++)
		close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
	if (ibuf->rbuf != NULL)
		explicit_bzero(ibuf->rbuf, ibuf->rlen);
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->rlen = 0;
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct iovec		 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	} cmsgbuf;
	ssize_t			 n;
	size_t			 i, nfds;
	int			*fds, got;

	if (ibuf->rlen >= RBUF_SIZE) {
		errno = EMSGSIZE;	/* caller did not drain with imsg_get */
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = RBUF_SIZE - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	got = ibuf->nrfds;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cmsg);
		for (i = 0; i < nfds; i++) {
			if (ibuf->nrfds < IMSG_MAX_FDS_QUEUED) {
				ibuf->rfd_from[ibuf->nrfds] = ibuf->rread;
				ibuf->rfd_to[ibuf->nrfds] = ibuf->rread +
				    (size_t)n;
				ibuf->rfds[ibuf->nrfds++] = fds[i];
			} else
				close(fds[i]);	/* imsg_get will notice */
		}
	}
	/*
	 * The descriptor sent with these bytes could not be received (out
	 * of descriptors: EMFILE, ENFILE).  The frame that carried it gets
	 * -1 instead, for its receiver to handle, rather than the whole
	 * channel failing: one message is lost, not the process.
	 */
	if ((msg.msg_flags & MSG_CTRUNC) && ibuf->nrfds == got &&
	    ibuf->nrfds < IMSG_MAX_FDS_QUEUED) {
		ibuf->rfd_from[ibuf->nrfds] = ibuf->rread;
		ibuf->rfd_to[ibuf->nrfds] = ibuf->rread + (size_t)n;
		ibuf->rfds[ibuf->nrfds++] = -1;
	}
	ibuf->rlen += (size_t)n;
	ibuf->rread += (size_t)n;
	return n;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	uint64_t	 start;		/* the stream offset of this frame */
	size_t		 plen;

	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	if (ibuf->rlen < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > IMSG_MAX_SIZE ||
	    (hdr.flags & ~IMSGF_HASFD) != 0) {
		errno = EBADMSG;
		return -1;
	}
	if (ibuf->rlen < hdr.len)
		return 0;
	plen = hdr.len - IMSG_HEADER_SIZE;
	start = ibuf->rread - ibuf->rlen;

	if (hdr.flags & IMSGF_HASFD) {
		/* its fd came with its first byte, or it is not its fd */
		if (ibuf->nrfds == 0 || ibuf->rfd_from[0] > start ||
		    ibuf->rfd_to[0] <= start) {
			errno = EBADMSG;
			return -1;
		}
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(ibuf->rfds, ibuf->rfds + 1,
		    sizeof(ibuf->rfds[0]) * (size_t)ibuf->nrfds);
		memmove(ibuf->rfd_from, ibuf->rfd_from + 1,
		    sizeof(ibuf->rfd_from[0]) * (size_t)ibuf->nrfds);
		memmove(ibuf->rfd_to, ibuf->rfd_to + 1,
		    sizeof(ibuf->rfd_to[0]) * (size_t)ibuf->nrfds);
	} else if (ibuf->nrfds > 0 && ibuf->rfd_to[0] <= start + hdr.len) {
		/*
		 * An fd came with bytes of this frame (or earlier ones) and
		 * no later frame can start among them: nobody claims it.
		 */
		errno = EBADMSG;
		return -1;
	}
	imsg->hdr = hdr;
	imsg->len = plen;
	if (plen > 0) {
		imsg->data = xmalloc(plen);
		memcpy(imsg->data, ibuf->rbuf + IMSG_HEADER_SIZE, plen);
	}
	ibuf->rlen -= hdr.len;
	memmove(ibuf->rbuf, ibuf->rbuf + hdr.len, ibuf->rlen);
	explicit_bzero(ibuf->rbuf + ibuf->rlen, hdr.len);
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	/* whatever it carried (a password, a key), the receiver is done */
	if (imsg->data != NULL)
		explicit_bzero(imsg->data, imsg->len);
	free(imsg->data);
	imsg->data = NULL;
	imsg->len = 0;
}

int
imsg_get_data(const struct imsg *imsg, void *data, size_t len)
{
	if (imsg->len != len) {
		errno = EBADMSG;
		return -1;
	}
	if (len > 0)
		memcpy(data, imsg->data, len);
	return 0;
}

int
imsg_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	struct imsg_wbuf	*wb;
	struct imsg_hdr		 hdr;
	size_t			 plen = 0, off;
	int			 i;

	for (i = 0; i < iovcnt; i++)
		plen += iov[i].iov_len;
	if (plen > IMSG_MAX_PAYLOAD) {
		if (fd != -1)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + plen);
	hdr.flags = fd != -1 ? IMSGF_HASFD : 0;
	hdr.peerid = peerid;
	hdr.pid = pid ? (uint32_t)pid : (uint32_t)ibuf->pid;

	wb = xcalloc(1, sizeof(*wb));
	wb->len = hdr.len;
	wb->data = xmalloc(wb->len);
	wb->fd = fd;
	memcpy(wb->data, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(wb->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	TAILQ_INSERT_TAIL(&ibuf->wq, wb, entry);
	ibuf->wqlen++;
	ibuf->wqbytes += wb->len;
	return 0;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t len)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return imsg_composev(ibuf, type, peerid, pid, fd, &iov, len ? 1 : 0);
}

size_t
imsgbuf_queuelen(const struct imsgbuf *ibuf)
{
	return ibuf->wqlen;
}

size_t
imsgbuf_queuebytes(const struct imsgbuf *ibuf)
{
	return ibuf->wqbytes;
}

/*
 * Send the head of the queue.  Buffers without an fd are gathered into one
 * writev-like sendmsg; a buffer with an fd starts its own sendmsg so that
 * the descriptor travels with its own message's first byte.
 */
int
imsgbuf_write(struct imsgbuf *ibuf)
{
	struct imsg_wbuf	*wb, *next;
	struct iovec		 iov[64];
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t			 n;
	size_t			 left, attempted;
	int			 i = 0, fd = -1;

	while (!TAILQ_EMPTY(&ibuf->wq)) {
		memset(&msg, 0, sizeof(msg));
		i = 0;
		fd = -1;
		TAILQ_FOREACH(wb, &ibuf->wq, entry) {
			if (i == 64)
				break;
			if (wb->fd != -1) {
				if (i > 0)
					break;
				fd = wb->fd;
			}
			iov[i].iov_base = wb->data + wb->off;
			iov[i].iov_len = wb->len - wb->off;
			i++;
			if (fd != -1)
				break;
		}
		attempted = 0;
		for (int k = 0; k < i; k++)
			attempted += iov[k].iov_len;
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)i;
		if (fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = &cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		}
		do {
			n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
		} while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return 0;
			return -1;
		}
		left = (size_t)n;
		ibuf->wqbytes -= left;
		for (wb = TAILQ_FIRST(&ibuf->wq); wb != NULL; wb = next) {
			next = TAILQ_NEXT(wb, entry);
			if (wb->fd != -1 && left > 0) {
				/* the descriptor went with the first byte */
				close(wb->fd);
				wb->fd = -1;
			}
			if (left < wb->len - wb->off) {
				wb->off += left;
				break;
			}
			left -= wb->len - wb->off;
			TAILQ_REMOVE(&ibuf->wq, wb, entry);
			ibuf->wqlen--;
			explicit_bzero(wb->data, wb->len);
			free(wb->data);
			free(wb);
			if (left == 0)
				break;
		}
		if ((size_t)n < attempted)
			return 0;	/* partial: wait for POLLOUT */
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;

	while (!TAILQ_EMPTY(&ibuf->wq)) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (TAILQ_EMPTY(&ibuf->wq))
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

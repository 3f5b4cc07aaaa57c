/*
 * Allocation wrappers that never return NULL (running out of memory is fatal
 * in every place they are used) and a small growable byte buffer.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stddef.h>
#include <stdint.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * A byte buffer with a hard upper bound: appending past `max` fails instead
 * of growing, so untrusted input can never make it unbounded.
 */
struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_consume(struct buf *, size_t);
char	*buf_cstr(struct buf *);

/*
 * SMTP is a dialogue of whole replies and commands: send each at once
 * (TCP_NODELAY) rather than let Nagle hold a short one until the peer's
 * delayed ACK, some 40 ms, several times per message.
 */
void	 sock_nodelay(int fd);

/* The value of a hexadecimal digit, either case, or -1. */
int	 hex_digit(int);

/* Big-endian 64-bit numbers in keys: they sort as the numbers do. */
void	 put_be64(uint8_t *, uint64_t);
uint64_t get_be64(const uint8_t *);

#endif

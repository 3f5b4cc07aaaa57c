/*
 * The queue store's incoming messages: what a message holds in memory
 * until its group commit (queue/store.c writes it), under the budget of
 * `queue memory-limit` (see the top of queue/store.c for why messages are
 * not written chunk by chunk as they arrive).  Nothing here touches LMDB.
 */
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "queue/store.h"
#include "queue/store_int.h"
#include "util.h"

#define QSTORE_DEFAULT_MAXSIZE	(35 * 1024 * 1024)
#define QSTORE_FIRST_CHUNK	4096	/* a message's first allocation */

/*
 * Set what a message counts against the budget to `charge`; -1 (nothing
 * changed) when a budgeted message would take the store past its limit.
 */
static int
msg_charge(struct qs_msg *m, size_t charge)
{
	struct qstore	*qs = m->qs;
	size_t		 more;

	if (charge <= m->charged) {
		qs->mem_held -= m->charged - charge;
		m->charged = charge;
		return 0;
	}
	more = charge - m->charged;
	if (m->budgeted && qs->mem_limit > 0 &&
	    (more > qs->mem_limit || qs->mem_held > qs->mem_limit - more))
		return -1;
	qs->mem_held += more;
	m->charged = charge;
	if (qs->mem_held > qs->st.mem_peak)
		qs->st.mem_peak = qs->mem_held;
	return 0;
}

/* What the message's bytes take now, or what it reserved if more. */
static size_t
msg_footprint(const struct qs_msg *m)
{
	size_t	 n;

	n = m->cap0;
	if (m->nchunks > 1)
		n += (m->nchunks - 1) * QSTORE_CHUNK_SIZE;
	if (n < m->reserved)
		n = m->reserved;
	return n + m->head.cap;
}

void
qs_msg_free(struct qs_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nchunks; i++)
		free(m->chunks[i]);
	free(m->chunks);
	buf_free(&m->head);
	m->qs->mem_held -= m->charged;
	free(m->envs);
	free(m);
}

/* Incoming messages. */

void
qstore_set_memory_limit(struct qstore *qs, size_t limit)
{
	qs->mem_limit = limit;
}

static struct qs_msg *
msg_new(struct qstore *qs, size_t max_size)
{
	struct qs_msg	*m;
	uint64_t	 id;
	time_t		 now = walltime();

	/* Time-ordered and strictly increasing, so never reused. */
	id = (uint64_t)(now > 0 ? now : 0) << QID_SEQ_BITS;
	if (id <= qs->last_msgid)
		id = qs->last_msgid + 1;
	if (id > QID_MSGID_MAX) {
		log_warnx("queue store: message ids exhausted");
		return NULL;
	}
	qs->last_msgid = id;
	m = xcalloc(1, sizeof(*m));
	m->qs = qs;
	m->msgid = id;
	m->ctime = now;
	m->max_size = max_size > 0 ? max_size : QSTORE_DEFAULT_MAXSIZE;
	buf_init(&m->head, m->max_size);
	return m;
}

struct qs_msg *
qstore_message_begin(struct qstore *qs, size_t max_size)
{
	return msg_new(qs, max_size);
}

int
qstore_message_receive(struct qstore *qs, size_t max_size, size_t expected,
    struct qs_msg **mp)
{
	struct qs_msg	*m;

	*mp = NULL;
	if ((m = msg_new(qs, max_size)) == NULL)
		return -1;
	m->budgeted = 1;
	/*
	 * Hold what the client declared (RFC 1870), so that a message
	 * accepted at DATA is not refused halfway for want of memory that
	 * later messages took; at least the first chunk's worth, so that a
	 * spent budget refuses at DATA rather than at the end.
	 */
	if (expected > m->max_size)
		expected = m->max_size;
	m->reserved = expected > QSTORE_FIRST_CHUNK ? expected :
	    QSTORE_FIRST_CHUNK;
	if (msg_charge(m, msg_footprint(m)) == -1) {
		qs->st.mem_refused++;
		m->charged = 0;
		qs_msg_free(m);
		return QSTORE_NOMEM;
	}
	*mp = m;
	return 0;
}

uint64_t
qstore_message_id(const struct qs_msg *m)
{
	return m->msgid;
}

size_t
qstore_message_size(const struct qs_msg *m)
{
	return m->head.len + m->len;
}

/*
 * Room for `need` bytes at the end of the chunks: the first chunk is as
 * large as the message is expected to be and grows by doubling up to
 * QSTORE_CHUNK_SIZE; then full chunks are added, never copied.
 */
static int
msg_room(struct qs_msg *m, size_t need)
{
	size_t	 idx = m->len / QSTORE_CHUNK_SIZE;
	size_t	 off = m->len % QSTORE_CHUNK_SIZE;
	size_t	 old_cap0 = m->cap0, cap;
	uint8_t	*c;

	if (idx < m->nchunks && (idx > 0 || off + need <= m->cap0 ||
	    m->cap0 == QSTORE_CHUNK_SIZE))
		return 0;		/* room in the last chunk */
	if (idx == 0) {
		cap = m->cap0 > 0 ? m->cap0 : QSTORE_FIRST_CHUNK;
		if (m->cap0 == 0 && m->reserved > cap)
			cap = m->reserved;
		while (cap < off + need)
			cap *= 2;
		if (cap > QSTORE_CHUNK_SIZE)
			cap = QSTORE_CHUNK_SIZE;
		m->cap0 = cap;
		if (msg_charge(m, msg_footprint(m)) == -1) {
			m->cap0 = old_cap0;
			return -1;
		}
		c = realloc(m->nchunks > 0 ? m->chunks[0] : NULL, cap);
		if (c == NULL)
			fatal("queue store: message chunk");
		if (m->nchunks == 0) {
			m->chunks = xreallocarray(m->chunks, 1,
			    sizeof(*m->chunks));
			m->slots = 1;
			m->nchunks = 1;
		}
		m->chunks[0] = c;
		return 0;
	}
	m->nchunks++;
	if (msg_charge(m, msg_footprint(m)) == -1) {
		m->nchunks--;
		return -1;
	}
	if (m->nchunks > m->slots) {
		/* pointers only: 8 bytes per 64 KB */
		m->slots = m->slots * 2 > m->nchunks ? m->slots * 2 :
		    m->nchunks;
		m->chunks = xreallocarray(m->chunks, m->slots,
		    sizeof(*m->chunks));
	}
	m->chunks[idx] = xmalloc(QSTORE_CHUNK_SIZE);
	return 0;
}

int
qstore_message_append(struct qs_msg *m, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 off, n;

	if (len > m->max_size || qstore_message_size(m) > m->max_size - len)
		return -1;
	while (len > 0) {
		if (msg_room(m, len) == -1) {
			m->qs->st.mem_refused++;
			return QSTORE_NOMEM;
		}
		off = m->len % QSTORE_CHUNK_SIZE;
		n = (m->len < QSTORE_CHUNK_SIZE ? m->cap0 :
		    QSTORE_CHUNK_SIZE) - off;
		if (n > len)
			n = len;
		memcpy(m->chunks[m->len / QSTORE_CHUNK_SIZE] + off, p, n);
		m->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Header fields that go in front of what came so far. */
int
qstore_message_prepend(struct qs_msg *m, const void *data, size_t len)
{
	size_t	 had = m->head.len, cap = m->head.cap;

	if (len > m->max_size || qstore_message_size(m) > m->max_size - len)
		return -1;
	if (buf_add(&m->head, data, len) == -1)
		return -1;
	if (m->head.cap != cap && msg_charge(m, msg_footprint(m)) == -1) {
		m->head.len = had;
		m->qs->st.mem_refused++;
		return QSTORE_NOMEM;
	}
	memmove(m->head.data + len, m->head.data, had);
	memcpy(m->head.data, data, len);
	return 0;
}

/* Copy n bytes of the whole message (prepended fields first) from off. */
void
qs_msg_copy(const struct qs_msg *m, size_t off, uint8_t *dst, size_t n)
{
	size_t	 k, in;

	if (off < m->head.len) {
		k = m->head.len - off < n ? m->head.len - off : n;
		memcpy(dst, m->head.data + off, k);
		dst += k;
		n -= k;
		off += k;
	}
	for (off -= m->head.len; n > 0; off += k, dst += k, n -= k) {
		in = off % QSTORE_CHUNK_SIZE;
		k = QSTORE_CHUNK_SIZE - in < n ? QSTORE_CHUNK_SIZE - in : n;
		memcpy(dst, m->chunks[off / QSTORE_CHUNK_SIZE] + in, k);
	}
}

uint64_t
qstore_message_add_envelope(struct qs_msg *m, const struct envelope *in)
{
	struct envelope	*e;
	uint8_t		 rec[ENV_RECORD_MAX];

	if (m->nenv >= QSTORE_MAX_RCPTS)
		return 0;
	/* doubling: an alias of 10,000 members is 10,000 envelopes, and a
	 * copy per envelope was quadratic (minutes under the sanitizers) */
	if (m->nenv == m->envcap) {
		m->envcap = m->envcap ? m->envcap * 2 : 8;
		m->envs = xreallocarray(m->envs, m->envcap, sizeof(*m->envs));
	}
	e = &m->envs[m->nenv];
	*e = *in;
	e->msgid = m->msgid;
	e->id = EVPID(m->msgid, m->nenv);
	e->state = ENV_QUEUED;
	e->attempts = 0;
	e->ctime = m->ctime;
	e->next_try = m->ctime;
	e->last_try = 0;
	e->expire = m->ctime + m->qs->expire;
	e->errmsg[0] = '\0';
	/* Refuse now what could not be stored at commit time. */
	if (envelope_encode(e, rec, sizeof(rec)) == 0)
		return 0;
	m->nenv++;
	return e->id;
}

void
qstore_message_abort(struct qs_msg *m)
{
	if (m == NULL)
		return;
	m->qs->st.messages_aborted++;
	qs_msg_free(m);
}

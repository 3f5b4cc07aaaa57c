/*
 * Forged Authentication-Results: RFC 8601 5 says a receiver must remove
 * (or rename) the A-R fields of incoming mail that carry its own
 * authserv-id, or a sender could forge our verdicts.  The message streams
 * to the queue through this filter: header fields are held until they are
 * complete (bounded: a field longer than ARSTRIP_FIELD_MAX is passed on as
 * it is, being no valid A-R field of ours), dropped if they are ours, and
 * everything from the empty line on passes untouched.  authd gets the
 * message unfiltered, so DKIM sees what the sender signed.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "mailhdr.h"
#include "smtpd/smtp.h"

#define ARSTRIP_NAME	"Authentication-Results"

void
arstrip_init(struct arstrip *f)
{
	memset(f, 0, sizeof(*f));
	f->bol = 1;
	buf_init(&f->field, ARSTRIP_FIELD_MAX);
}

void
arstrip_free(struct arstrip *f)
{
	buf_free(&f->field);
}

/* A complete field (with its CRLF) in f->field: keep or drop it. */
static void
arstrip_flush(struct arstrip *f, const char *ours, struct buf *out)
{
	const char	*raw = (const char *)f->field.data, *v;
	size_t		 len = f->field.len, namelen, vlen;

	if (len == 0)
		return;
	namelen = mailhdr_name_len(raw, len);
	if (namelen > 0 && mailhdr_name_is(raw, len, namelen, ARSTRIP_NAME,
	    sizeof(ARSTRIP_NAME) - 1) &&
	    (v = mailhdr_value(raw, len, &vlen)) != NULL &&
	    authres_field_is_ours(v, vlen, ours, 0)) {
		f->dropped++;
		buf_reset(&f->field);
		return;
	}
	buf_add(out, f->field.data, f->field.len);
	buf_reset(&f->field);
}

void
arstrip_feed(struct arstrip *f, const uint8_t *p, size_t len,
    const char *ours, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < len && !f->in_body; i++) {
		if (f->bol && p[i] != ' ' && p[i] != '\t') {
			/* a new field, or the empty line: the last is done */
			arstrip_flush(f, ours, out);
			if (p[i] == '\r' || p[i] == '\n') {
				f->in_body = 1;
				break;
			}
		}
		if (f->passthrough || buf_add(&f->field, &p[i], 1) == -1) {
			/* too long to be ours: pass the field on as it is */
			if (!f->passthrough) {
				buf_add(out, f->field.data, f->field.len);
				buf_reset(&f->field);
				f->passthrough = 1;
			}
			buf_add(out, &p[i], 1);
		}
		f->bol = p[i] == '\n';
		if (f->bol)
			f->passthrough = 0;
	}
	if (i < len)
		buf_add(out, p + i, len - i);
}

/* The end of the message: a last field without an empty line after it. */
void
arstrip_end(struct arstrip *f, const char *ours, struct buf *out)
{
	if (!f->in_body)
		arstrip_flush(f, ours, out);
}

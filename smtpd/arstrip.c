/*
 * Forged Authentication-Results: RFC 8601 5 says a receiver must remove
 * (or rename) the A-R fields of incoming mail that carry its own
 * authserv-id, or a sender could forge our verdicts.  The message streams
 * to the queue through this filter: a header field is held until it is
 * complete, then dropped if it is ours and passed on otherwise; everything
 * from the empty line on passes untouched.
 *
 * A field longer than ARSTRIP_FIELD_MAX (or the limit given to
 * arstrip_init_max()) is not held: once its name is
 * known, an Authentication-Results field that long is dropped whole (none
 * of ours is that long, and RFC 8601 5 lets a border MTA remove any A-R
 * field; a forger must not get ours through by padding it), any other
 * field passes on byte for byte, folded lines included.
 *
 * authd gets the message unfiltered, so DKIM sees what the sender signed.
 *
 * On the way, every field held whole is also checked for "TLS-Required:
 * No" (RFC 8689 3), which the smtp process turns into an envelope flag
 * for the mta; a field too long to be held is not that one.
 */
#include <sys/types.h>

#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "mailhdr.h"
#include "smtpd/arstrip.h"

#define ARSTRIP_NAME	"Authentication-Results"
#define TLSREQ_NAME	"TLS-Required"

void
arstrip_init(struct arstrip *f)
{
	arstrip_init_max(f, ARSTRIP_FIELD_MAX);
}

void
arstrip_init_max(struct arstrip *f, size_t field_max)
{
	memset(f, 0, sizeof(*f));
	f->bol = 1;
	f->mode = ARSTRIP_HOLD;
	buf_init(&f->field, field_max);
}

void
arstrip_free(struct arstrip *f)
{
	buf_free(&f->field);
}

static int
arstrip_is_ar(const struct arstrip *f)
{
	const char	*raw = (const char *)f->field.data;
	size_t		 len = f->field.len, namelen;

	namelen = mailhdr_name_len(raw, len);
	return namelen > 0 && mailhdr_name_is(raw, len, namelen, ARSTRIP_NAME,
	    sizeof(ARSTRIP_NAME) - 1);
}

/*
 * RFC 8689 3: the field "TLS-Required" whose only defined value is "No";
 * name and value are case-insensitive, and the value may be folded (any
 * FWS around it is ignored).  Any other value means nothing.
 */
static int
arstrip_is_tlsreq_no(const struct arstrip *f)
{
	const char	*raw = (const char *)f->field.data, *v;
	size_t		 len = f->field.len, namelen, vlen, i, n = 0;
	char		 word[3];
	int		 ended = 0;

	namelen = mailhdr_name_len(raw, len);
	if (namelen == 0 || !mailhdr_name_is(raw, len, namelen, TLSREQ_NAME,
	    sizeof(TLSREQ_NAME) - 1) ||
	    (v = mailhdr_value(raw, len, &vlen)) == NULL)
		return 0;
	for (i = 0; i < vlen; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' ||
		    v[i] == '\n') {
			ended = n > 0;	/* FWS after the word ends it */
			continue;
		}
		if (ended || n == sizeof(word) - 1)
			return 0;
		word[n++] = v[i];
	}
	word[n] = '\0';
	return strcasecmp(word, "no") == 0;
}

/* A complete field (with its CRLF) in f->field: keep or drop it. */
static void
arstrip_flush(struct arstrip *f, const char *ours, struct buf *out)
{
	const char	*v;
	size_t		 vlen;

	if (f->field.len == 0)
		return;
	if (arstrip_is_tlsreq_no(f))
		f->tls_required_no = 1;
	if (arstrip_is_ar(f) && (v = mailhdr_value((const char *)f->field.data,
	    f->field.len, &vlen)) != NULL &&
	    authres_field_is_ours(v, vlen, ours, 0))
		f->dropped++;
	else
		buf_add(out, f->field.data, f->field.len);
	buf_reset(&f->field);
}

/* The field outgrew the buffer: judge it by its name alone. */
static void
arstrip_overflow(struct arstrip *f, struct buf *out)
{
	if (arstrip_is_ar(f)) {
		f->mode = ARSTRIP_DROP;
		f->dropped++;
	} else {
		f->mode = ARSTRIP_PASS;
		buf_add(out, f->field.data, f->field.len);
	}
	buf_reset(&f->field);
}

void
arstrip_feed(struct arstrip *f, const uint8_t *p, size_t len,
    const char *ours, struct buf *out)
{
	size_t	 i, run;

	for (i = 0; i < len && !f->in_body; i++) {
		if (f->bol && p[i] != ' ' && p[i] != '\t') {
			/* a new field, or the empty line: the last is done */
			if (f->mode == ARSTRIP_HOLD)
				arstrip_flush(f, ours, out);
			f->mode = ARSTRIP_HOLD;
			if (p[i] == '\r' || p[i] == '\n') {
				f->in_body = 1;
				break;
			}
		}
		if (f->mode == ARSTRIP_HOLD &&
		    buf_add(&f->field, &p[i], 1) == -1)
			arstrip_overflow(f, out);
		if (f->mode != ARSTRIP_HOLD) {
			/* the rest of this line goes (or is dropped) at once */
			for (run = i; run < len && p[run] != '\n'; run++)
				;
			if (run < len)
				run++;
			if (f->mode == ARSTRIP_PASS)
				buf_add(out, p + i, run - i);
			i = run - 1;
		}
		f->bol = p[i] == '\n';
	}
	if (i < len)
		buf_add(out, p + i, len - i);
}

void
arstrip_end(struct arstrip *f, const char *ours, struct buf *out)
{
	if (!f->in_body && f->mode == ARSTRIP_HOLD)
		arstrip_flush(f, ours, out);
}

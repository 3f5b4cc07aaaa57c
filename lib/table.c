/*
 * file: tables and recipient lookups.  The parent loads file tables (it is
 * root and not chrooted) and sends their entries on like inline ones.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "table.h"
#include "util.h"

int
table_load_file(struct table *t, char *err, size_t errlen)
{
	struct table_entry	*te;
	FILE			*fp;
	char			 line[TABLE_FILE_MAX_LINE + 2];
	char			 iobuf[BUFSIZ];
	char			*p, *key, *value, *end;
	size_t			 lineno = 0, len;
	int			 rv = -1;

	if ((fp = fopen(t->path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		return -1;
	}
	/*
	 * A table may hold secrets (relay passwords, password hashes):
	 * stdio reads into our buffer, which is wiped with the line's at the
	 * end, instead of one it would free as it was.
	 */
	setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > TABLE_FILE_MAX_LINE ||
		    (len > 0 && line[len - 1] != '\n' && !feof(fp))) {
			snprintf(err, errlen, "%s:%zu: line too long", t->path,
			    lineno);
			goto out;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (key = line; isspace((unsigned char)*key); key++)
			;
		if (*key == '\0')
			continue;
		for (end = key; *end != '\0' && !isspace((unsigned char)*end);
		    end++)
			;
		value = NULL;
		if (*end != '\0') {
			*end++ = '\0';
			for (value = end; isspace((unsigned char)*value);
			    value++)
				;
			for (end = value + strlen(value); end > value &&
			    isspace((unsigned char)end[-1]); end--)
				;
			*end = '\0';
			if (*value == '\0')
				value = NULL;
		}
		if (t->nentries >= TABLE_FILE_MAX_ENTRIES) {
			snprintf(err, errlen, "%s:%zu: more than %d entries",
			    t->path, lineno, TABLE_FILE_MAX_ENTRIES);
			goto out;
		}
		te = xcalloc(1, sizeof(*te));
		te->key = xstrdup(key);
		te->value = value != NULL ? xstrdup(value) : NULL;
		TAILQ_INSERT_TAIL(&t->entries, te, entry);
		t->nentries++;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		goto out;
	}
	rv = 0;
 out:
	fclose(fp);
	explicit_bzero(iobuf, sizeof(iobuf));
	explicit_bzero(line, sizeof(line));
	return rv;
}

static const char *
lookup_ci(const struct table *t, const char *key)
{
	const struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (strcasecmp(te->key, key) == 0)
			return te->value;
	return NULL;
}

int
table_has(const struct table *t, const char *key)
{
	const struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (strcasecmp(te->key, key) == 0)
			return 1;
	return 0;
}

const char *
table_lookup_rcpt(const struct table *t, const char *rcpt)
{
	const char	*v, *at;

	if ((v = lookup_ci(t, rcpt)) != NULL)
		return v;
	if ((at = strrchr(rcpt, '@')) != NULL)
		return lookup_ci(t, at);
	return NULL;
}

int
table_sender_owned(const struct table *t, const char *addr,
    const char *account)
{
	const char	*owner;

	/* An address of bob's own is his even inside alice's "@domain". */
	if ((owner = table_lookup_rcpt(t, addr)) == NULL)
		return 0;
	/* Accounts compare as authd compares SASL user names: exactly. */
	return strcmp(owner, account) == 0;
}

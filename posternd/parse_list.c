/*
 * The checks of the `list` statement of postern.conf(5): a mailing list
 * at ADDRESS whose members are a table, with who may post, its bounce
 * address, subject tag, unsubscribe URL (RFC 2369, RFC 8058), DKIM
 * signature (RFC 6376), ARC seal (RFC 8617) and From rewriting for
 * DMARC.  The options are words checked here rather than grammar
 * keywords, so that "members", "address" and the like stay usable as
 * table and action names elsewhere.
 *
 * Not built, and refused: VERP bounce addresses.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "posternd/parse_int.h"
#include "util.h"

#define LS_ADDRESS	0x01
#define LS_MEMBERS	0x02
#define LS_POSTERS	0x04
#define LS_BOUNCE	0x08
#define LS_TAG		0x10
#define LS_UNSUB	0x20
#define LS_ARC		0x40
#define LS_FROM		0x80
#define LS_SIGN		0x100

/*
 * local@domain in printable ASCII, nothing that would need quoting in a
 * header field or an SMTP path (the address goes into List-Post and From).
 */
static int
list_address_ok(const char *s)
{
	const char	*at, *p;

	if ((at = strrchr(s, '@')) == NULL || at == s || strlen(s) > 254)
		return 0;
	for (p = s; p < at; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>()[]\\,;:@\"", *p))
			return 0;
	return conf_valid_hostname(at + 1);
}

/* Printable ASCII without the bytes that end or fold a header field. */
static int
list_text_ok(const char *s, const char *forbid)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr(forbid, *s) != NULL)
			return 0;
	return 1;
}

static int
list_once(const struct conf_loc *loc, unsigned int bit, const char *what)
{
	if (ps.list_seen & bit) {
		conf_error(loc, "list option \"%s\" given twice", what);
		return 0;
	}
	ps.list_seen |= bit;
	return 1;
}

void
parse_list_begin(const struct conf_loc *loc, const char *name)
{
	free(ps.list);
	ps.list = xcalloc(1, sizeof(*ps.list));
	ps.list_seen = 0;
	/* RFC 2919 2: the name is the list-label of the List-Id */
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_") != strlen(name))
		conf_error(loc, "invalid list name \"%s\": letters, digits, "
		    "'-' and '_'", name);
	else if (parse_name_ok(loc, name)) {
		if (config_find_list(ps.conf, name) != NULL)
			conf_error(loc, "duplicate list \"%s\"", name);
		strlcpy(ps.list->name, name, sizeof(ps.list->name));
	}
}

/* members <T> or posters <T>: value is the table's name, freed. */
static void
list_table_opt(const struct conf_loc *loc, const char *word, char *value)
{
	struct mailing_list	*l = ps.list;

	if (strcmp(word, "members") == 0) {
		if (!list_once(loc, LS_MEMBERS, word))
			free(value);
		else
			parse_table_ref(loc, value, l->members,
			    sizeof(l->members));
	} else if (strcmp(word, "posters") == 0) {
		if (!list_once(loc, LS_POSTERS, word))
			free(value);
		else if (parse_table_ref(loc, value, l->posters_table,
		    sizeof(l->posters_table)))
			l->posters = LIST_POSTERS_TABLE;
	} else {
		conf_error(loc, "list option \"%s\" takes no table", word);
		free(value);
	}
}

void
parse_list_opt(const struct conf_loc *loc, char *word,
    const struct conf_loc *vloc, char *value, int table)
{
	struct mailing_list	*l = ps.list;

	if (table)
		list_table_opt(loc, word, value);
	else if (strcmp(word, "members") == 0) {
		conf_error(vloc, "list members must be a table: <NAME>");
		free(value);
	}
	if (table || strcmp(word, "members") == 0) {
		free(word);
		return;
	}
	if (strcmp(word, "address") == 0 || strcmp(word, "bounce") == 0) {
		if (!list_once(loc, word[0] == 'a' ? LS_ADDRESS : LS_BOUNCE,
		    word))
			;
		else if (!list_address_ok(value))
			conf_error(vloc, "invalid list %s \"%s\": local@domain "
			    "in ASCII", word, value);
		else
			strlcpy(word[0] == 'a' ? l->address : l->bounce, value,
			    sizeof(l->address));
	} else if (strcmp(word, "posters") == 0) {
		if (!list_once(loc, LS_POSTERS, word))
			;
		else if (strcmp(value, "members") == 0)
			l->posters = LIST_POSTERS_MEMBERS;
		else if (strcmp(value, "anyone") == 0)
			l->posters = LIST_POSTERS_ANYONE;
		else
			conf_error(vloc, "list posters: members, anyone or "
			    "<TABLE>, not \"%s\"", value);
	} else if (strcmp(word, "subject-tag") == 0) {
		if (!list_once(loc, LS_TAG, word))
			;
		else if (value[0] == '\0' || strlen(value) >=
		    sizeof(l->subject_tag) || !list_text_ok(value, ""))
			conf_error(vloc, "invalid subject-tag: 1 to %zu "
			    "printable ASCII characters", sizeof(l->subject_tag)
			    - 1);
		else
			strlcpy(l->subject_tag, value, sizeof(l->subject_tag));
	} else if (strcmp(word, "unsubscribe") == 0) {
		/* RFC 8058 3.1: one-click needs an https URI */
		if (!list_once(loc, LS_UNSUB, word))
			;
		else if ((strncasecmp(value, "https://", 8) != 0 ||
		    value[8] == '\0') && (strncasecmp(value, "mailto:", 7) != 0
		    || !list_address_ok(value + 7)))
			conf_error(vloc, "list unsubscribe must be an https:// "
			    "URL or a mailto: address");
		else if (strlen(value) >= sizeof(l->unsubscribe) ||
		    !list_text_ok(value, " <>,\""))
			conf_error(vloc, "invalid list unsubscribe URL");
		else
			strlcpy(l->unsubscribe, value, sizeof(l->unsubscribe));
	} else if (strcmp(word, "from-rewrite") == 0) {
		if (!list_once(loc, LS_FROM, word))
			;
		else if (strcmp(value, "dmarc") == 0)
			l->from_rewrite = LIST_FROM_DMARC;
		else if (strcmp(value, "always") == 0)
			l->from_rewrite = LIST_FROM_ALWAYS;
		else if (strcmp(value, "never") == 0)
			l->from_rewrite = LIST_FROM_NEVER;
		else
			conf_error(vloc, "list from-rewrite: dmarc, always or "
			    "never, not \"%s\"", value);
	} else if (strcmp(word, "verp") == 0)
		conf_error(loc, "list option verp is not supported (bounces "
		    "go to the list's bounce address)");
	else
		conf_error(loc, "unknown list option \"%s\"", word);
	free(word);
	free(value);
}

void
parse_list_arc_seal(const struct conf_loc *loc, char *name)
{
	if (!list_once(loc, LS_ARC, "arc-seal"))
		;
	else if (config_find_dkim_signature(ps.conf, name) == NULL)
		conf_error(loc, "unknown dkim-signature \"%s\"", name);
	else
		strlcpy(ps.list->arc_seal, name, sizeof(ps.list->arc_seal));
	free(name);
}

/* "sign with NAME": the copy's DKIM-Signature (authd/list.c). */
void
parse_list_sign(const struct conf_loc *loc, char *name)
{
	if (!list_once(loc, LS_SIGN, "sign"))
		;
	else if (config_find_dkim_signature(ps.conf, name) == NULL)
		conf_error(loc, "unknown dkim-signature \"%s\"", name);
	else
		strlcpy(ps.list->dkim_sign, name, sizeof(ps.list->dkim_sign));
	free(name);
}

void
parse_list_end(const struct conf_loc *loc)
{
	struct mailing_list	*l = ps.list, *o;
	char			 b[256];
	int			 bounce;

	ps.list = NULL;
	if (!(ps.list_seen & LS_ADDRESS) || !(ps.list_seen & LS_MEMBERS)) {
		conf_error(loc, "list %s needs an address and members <TABLE>",
		    l->name);
		free(l);
		return;
	}
	config_list_bounce(l, b, sizeof(b));
	if (strcasecmp(b, l->address) == 0)
		conf_error(loc, "list %s: its bounce address is its address",
		    l->name);
	if ((o = config_find_list_rcpt(ps.conf, l->address, &bounce)) != NULL ||
	    (o = config_find_list_rcpt(ps.conf, b, &bounce)) != NULL)
		conf_error(loc, "list %s: an address of list %s", l->name,
		    o->name);
	TAILQ_INSERT_TAIL(&ps.conf->lists, l, entry);
}

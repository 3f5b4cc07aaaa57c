/*
 * lib/table.c: file tables and recipient lookups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "table.h"

static struct table *
load(const char *text, int *rv, char *err, size_t errlen)
{
	static char	 path[64];
	struct table	*t;
	FILE		*fp;
	int		 fd;

	strlcpy(path, "/tmp/test_table.XXXXXX", sizeof(path));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	t = calloc(1, sizeof(*t));
	TAILQ_INIT(&t->entries);
	t->type = TABLE_FILE;
	t->path = strdup(path);
	*rv = table_load_file(t, err, errlen);
	unlink(path);
	return t;
}

static void
drop(struct table *t)
{
	struct table_entry	*te;

	while ((te = TAILQ_FIRST(&t->entries)) != NULL) {
		TAILQ_REMOVE(&t->entries, te, entry);
		free(te->key);
		free(te->value);
		free(te);
	}
	free(t->path);
	free(t);
}

static void
test_load_and_lookup(void **state)
{
	char		 err[256];
	int		 rv;
	struct table	*t = load("# virtual users\n"
	    "bob@example.test   bob\n"
	    "Alice@Example.test\talice   # trailing comment\n"
	    "\n"
	    "@other.test vmail\n"
	    "listonly\n", &rv, err, sizeof(err));

	assert_int_equal(rv, 0);
	assert_int_equal(t->nentries, 4);
	assert_string_equal(table_lookup_rcpt(t, "bob@example.test"), "bob");
	assert_string_equal(table_lookup_rcpt(t, "ALICE@example.TEST"),
	    "alice");
	assert_string_equal(table_lookup_rcpt(t, "anyone@other.test"),
	    "vmail");
	assert_null(table_lookup_rcpt(t, "carol@example.test"));
	assert_null(table_lookup_rcpt(t, "listonly"));
	drop(t);
}

/* "senders <T>": the exact address first, then its "@domain". */
static void
test_sender_owned(void **state)
{
	char		 err[256];
	int		 rv;
	struct table	*t = load("alice@example.test alice\n"
	    "ceo@example.test boss\n"
	    "@example.test alice\n"
	    "@Shared.Test bob\n"
	    "listonly@example.org\n", &rv, err, sizeof(err));

	assert_int_equal(rv, 0);
	/* exact */
	assert_true(table_sender_owned(t, "alice@example.test", "alice"));
	assert_false(table_sender_owned(t, "alice@example.test", "bob"));
	/* the domain's case does not matter */
	assert_true(table_sender_owned(t, "alice@EXAMPLE.test", "alice"));
	assert_true(table_sender_owned(t, "x@shared.TEST", "bob"));
	/* @domain: every address of it ... */
	assert_true(table_sender_owned(t, "sales@example.test", "alice"));
	/* ... but not one the table gives someone else by name */
	assert_false(table_sender_owned(t, "ceo@example.test", "alice"));
	assert_true(table_sender_owned(t, "ceo@example.test", "boss"));
	/* accounts compare exactly, as SASL user names do */
	assert_false(table_sender_owned(t, "alice@example.test", "Alice"));
	assert_false(table_sender_owned(t, "alice@example.test", "alic"));
	/* no entry, a key without a value, no domain at all */
	assert_false(table_sender_owned(t, "alice@example.org", "alice"));
	assert_false(table_sender_owned(t, "listonly@example.org", ""));
	assert_false(table_sender_owned(t, "alice", "alice"));
	assert_false(table_sender_owned(t, "", "alice"));
	/* a subdomain is not the domain */
	assert_false(table_sender_owned(t, "a@sub.example.test", "alice"));
	drop(t);
}

static void
test_errors(void **state)
{
	char		 err[256], *big;
	int		 rv;
	struct table	*t;

	big = malloc(3000);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	t = load(big, &rv, err, sizeof(err));
	assert_int_equal(rv, -1);
	assert_non_null(strstr(err, ":1: line too long"));
	drop(t);
	free(big);

	t = calloc(1, sizeof(*t));
	TAILQ_INIT(&t->entries);
	t->path = strdup("/nonexistent/table");
	assert_int_equal(table_load_file(t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/table"));
	drop(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_lookup),
		cmocka_unit_test(test_sender_owned),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * reportd/rpt.c: whole received messages, the corpus of
 * regress/data/reports/ (written by its mkcorpus.py to look like what big
 * senders send): each good message parses into the figures expected.txt
 * gives, as posternctl show reports -j prints them; each hostile one is
 * refused, quickly, within the fixed limits.  Also the UTF-8 check and the
 * table form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reportd/rpt.h"

#define DATA	"regress/data/reports/"

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	uint8_t	*p;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("%s: cannot open", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc(n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, n, f), (size_t)n);
	fclose(f);
	*len = n;
	return p;
}

static void
test_corpus_good(void **state)
{
	FILE		*f;
	char		 line[65536], path[65536 + 64], err[256], *tab;
	uint8_t		*msg;
	size_t		 len;
	struct rpt	 r;
	struct buf	 b;
	int		 n = 0;

	assert_non_null(f = fopen(DATA "expected.txt", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		assert_non_null(tab = strchr(line, '\t'));
		*tab++ = '\0';
		snprintf(path, sizeof(path), DATA "good/%s.eml", line);
		msg = slurp(path, &len);
		if (rpt_parse_message(msg, len, &r, err, sizeof(err)) == -1)
			fail_msg("%s: %s", line, err);
		buf_init(&b, 1 << 20);
		assert_int_equal(rpt_json(&r, &b), 0);
		if (strcmp(buf_cstr(&b), tab) != 0)
			fail_msg("%s:\n got  %s want %s", line, buf_cstr(&b),
			    tab);
		/* the table form names the report too */
		buf_reset(&b);
		assert_int_equal(rpt_table(&r, &b), 0);
		assert_non_null(strstr(buf_cstr(&b), rpt_kind_name(r.kind)));
		buf_free(&b);
		rpt_free(&r);
		free(msg);
		n++;
	}
	fclose(f);
	assert_true(n >= 10);
}

/* Each hostile message is refused, with a reason, in well under a second. */
static void
test_corpus_hostile(void **state)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[512], err[256];
	uint8_t		*msg;
	size_t		 len;
	struct rpt	 r;
	struct timespec	 t0, t1;
	double		 secs;
	int		 n = 0;

	assert_non_null(d = opendir(DATA "hostile"));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		snprintf(path, sizeof(path), DATA "hostile/%s", de->d_name);
		msg = slurp(path, &len);
		err[0] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (rpt_parse_message(msg, len, &r, err, sizeof(err)) != -1)
			fail_msg("%s: accepted", de->d_name);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) /
		    1e9;
		assert_true(secs < 2.0);
		assert_true(err[0] != '\0');
		print_message("%-24s refused: %s\n", de->d_name, err);
		free(msg);
		n++;
	}
	closedir(d);
	assert_true(n >= 15);
}

/* The reasons the bombs are refused are the limits, not luck. */
static void
test_corpus_reasons(void **state)
{
	static const struct {
		const char	*file, *why;
	} t[] = {
		{ "zip-bomb", "zip claims" },
		{ "zip-bomb-lying", "ratio" },
		{ "gzip-claims-1g", "gzip claims 1073741824" },
		{ "gzip-bomb-lying", "ratio" },
		{ "billion-laughs", "DOCTYPE" },
		{ "xxe", "DOCTYPE" },
		{ "deep-xml", "nested deeper" },
		{ "too-many-rows", "rows than the limit" },
		{ "bad-utf8-xml", "XML" },
		{ "huge-count-xml", "bad count" },
		{ "deep-mime", "nested deeper" },
		{ "no-report", "no report found" },
	};
	char		 path[512], err[256];
	uint8_t		*msg;
	size_t		 len, i;
	struct rpt	 r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), DATA "hostile/%s.eml", t[i].file);
		msg = slurp(path, &len);
		assert_int_equal(rpt_parse_message(msg, len, &r, err,
		    sizeof(err)), -1);
		if (strstr(err, t[i].why) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", t[i].file,
			    err, t[i].why);
		free(msg);
	}
}

static void
test_utf8(void **state)
{
	assert_true(rpt_utf8_valid((const uint8_t *)"plain\tascii\r\n", 13));
	assert_true(rpt_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80", 9));
	assert_true(rpt_utf8_valid((const uint8_t *)"", 0));
	/* overlong, surrogate, beyond U+10FFFF, truncated, lone bytes */
	assert_false(rpt_utf8_valid((const uint8_t *)"\xc0\xaf", 2));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xe2\x82", 2));
	assert_false(rpt_utf8_valid((const uint8_t *)"\x80", 1));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xff", 1));
	/* control characters */
	assert_false(rpt_utf8_valid((const uint8_t *)"a\x1b[2J", 5));
	/* C1: U+009B is CSI to a terminal; U+00A0 is text */
	assert_false(rpt_utf8_valid((const uint8_t *)"a\xc2\x9b" "2J", 5));
	assert_false(rpt_utf8_valid((const uint8_t *)"\xc2\x80", 2));
	assert_true(rpt_utf8_valid((const uint8_t *)"\xc2\xa0", 2));
	assert_false(rpt_utf8_valid((const uint8_t *)"a\0b", 3));
	assert_false(rpt_utf8_valid((const uint8_t *)"\x7f", 1));
}

/* A report part labelled gzip that holds JSON is read as TLS-RPT. */
static void
test_sniff(void **state)
{
	const char	*m = "Content-Type: application/xml\n\n"
	    "{\"organization-name\":\"o\",\"report-id\":\"r\",\"date-range\":"
	    "{\"start-datetime\":\"2026-01-01T00:00:00Z\",\"end-datetime\":"
	    "\"2026-01-02T00:00:00Z\"},\"policies\":[]}";
	struct rpt	 r;
	char		 err[256];

	assert_int_equal(rpt_parse_message((const uint8_t *)m, strlen(m), &r,
	    err, sizeof(err)), 0);
	assert_int_equal(r.kind, RPT_TLS);
	assert_string_equal(r.tls.org, "o");
	rpt_free(&r);
	/* an empty part */
	m = "Content-Type: application/gzip\n\n";
	assert_int_equal(rpt_parse_message((const uint8_t *)m, strlen(m), &r,
	    err, sizeof(err)), -1);
	/* an ARF domain that is not UTF-8 is refused */
	m = "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
	    "Reported-Domain: \xff.example\n";
	assert_int_equal(rpt_parse_message((const uint8_t *)m, strlen(m), &r,
	    err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_good),
		cmocka_unit_test(test_corpus_hostile),
		cmocka_unit_test(test_corpus_reasons),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

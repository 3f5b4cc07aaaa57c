/*
 * libFuzzer target for lib/jsonw.c: the piecewise UTF-8 check agrees with
 * itself wherever the input is cut and with smtp_utf8_seqlen() walked over
 * it; jsonw_text() always gives a string that jansson writes and reads
 * back; the escaper's output of UTF-8 input parses as the same string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "smtp_addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct utf8_check	 u, v;
	struct buf		 b;
	json_t			*j, *back;
	json_error_t		 err;
	char			*s;
	size_t			 i, k, cut;
	int			 walk = 1;

	cut = size > 0 ? data[0] % (size + 1) : 0;
	utf8_check_init(&u);
	utf8_check_update(&u, data, size);
	utf8_check_init(&v);
	utf8_check_update(&v, data, cut);
	utf8_check_update(&v, data + cut, size - cut);
	for (i = 0; i < size && walk; i += k)
		if ((k = data[i] < 0x80 ? 1 :
		    smtp_utf8_seqlen(data + i, size - i)) == 0)
			walk = 0;
	if (utf8_check_done(&u) != utf8_check_done(&v) ||
	    utf8_check_done(&u) != walk)
		abort();

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((j = jsonw_text(s)) == NULL)
		abort();
	buf_init(&b, 8 * size + 64);
	/* as the listings use it: a member of an object */
	if (jsonw_line(&b, json_pack("{s:o}", "s", j)) == -1)
		abort();
	if ((back = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY,
	    &err)) == NULL)
		abort();
	json_decref(back);

	if (walk && memchr(data, '\0', size) == NULL) {
		buf_reset(&b);
		buf_addstr(&b, "\"");
		if (jsonw_escape(&b, data, cut) == -1 ||
		    jsonw_escape(&b, data + cut, size - cut) == -1)
			abort();
		buf_addstr(&b, "\"");
		back = json_loadb((const char *)b.data, b.len,
		    JSON_DECODE_ANY, &err);
		if (back == NULL || strcmp(json_string_value(back), s) != 0)
			abort();
		json_decref(back);
	}
	buf_free(&b);
	free(s);
	return 0;
}

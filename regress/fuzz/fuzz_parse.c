/*
 * libFuzzer target for the postern.conf(5) grammar (posternd/parse.y).  The
 * input is parsed from memory with PARSE_NOFILES: include is refused and
 * no file named by the input is opened, so the fuzzer cannot touch the
 * file system.  Errors are dropped; the result must be freed without leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct postern_conf	*conf;

	parse_set_errstream(NULL);
	conf = parse_config_buffer("fuzz.conf", (const char *)data, size,
	    PARSE_NOFILES);
	free_config(conf);
	return 0;
}

/*
 * Dispatch of posternctl's offline commands (those that do not talk to the
 * daemon): troubleshooting checks and key tools.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "posternctl/posternctl.h"

struct offline_cmd {
	const char	*word1;
	const char	*word2;
	int		(*main)(int, char *[]);
	const char	*usage;
};

static const struct offline_cmd offline_cmds[] = {
	{ "check", "spf", check_spf_main,
	    "  check spf [-v] --ip IP --helo NAME --mail-from ADDR\n"
	    "            [--dns-zone FILE | --resolver ADDR[@PORT]"
	    " [--trust-anchor FILE]]\n" },
	{ "check", "dkim", check_dkim_main,
	    "  check dkim [-v] [--dns-zone FILE | --resolver ADDR[@PORT]"
	    " [--trust-anchor FILE]]\n"
	    "            < message\n" },
	{ "check", "arc", check_arc_main,
	    "  check arc [-v] [--authserv-id NAME] [--dns-zone FILE |"
	    " --resolver ADDR[@PORT]\n"
	    "            [--trust-anchor FILE]] < message\n" },
	{ "check", "message", check_message_main,
	    "  check message [-v] [--strict] --ip IP --helo NAME"
	    " --mail-from ADDR\n"
	    "            [--authserv-id NAME] [--dns-zone FILE |"
	    " --resolver ADDR[@PORT]\n"
	    "            [--trust-anchor FILE]] [< message]\n" },
	{ "dkim", "sign", dkim_sign_main,
	    "  dkim sign -k KEYFILE -d DOMAIN -s SELECTOR [-a ALG] [-c H/B]"
	    " [-h F:F...] [-l] [-x SECONDS] < message\n" },
	{ "dkim", "keygen", dkim_keygen_main,
	    "  dkim keygen -a rsa-sha256|ed25519-sha256 [-b BITS] -d DOMAIN"
	    " -s SELECTOR -o KEYFILE\n" },
	{ "arc", "seal", arc_seal_main,
	    "  arc seal -k KEYFILE -d DOMAIN -s SELECTOR --authserv-id ID"
	    " [-a ALG] [-h F:F...]\n"
	    "            [--dns-zone FILE | --resolver ADDR[@PORT]] < message\n" },
	{ "encrypt", NULL, encrypt_main,
	    "  encrypt [-s] [-i iterations] [PASSWORD]\n" },
};

void
posternctl_offline_usage(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < sizeof(offline_cmds) / sizeof(offline_cmds[0]); i++)
		fputs(offline_cmds[i].usage, fp);
}

int
posternctl_offline(int argc, char *argv[])
{
	size_t	 i;

	if (argc < 1)
		return -1;
	for (i = 0; i < sizeof(offline_cmds) / sizeof(offline_cmds[0]); i++) {
		if (strcmp(argv[0], offline_cmds[i].word1) != 0)
			continue;
		/* one word: the command sees its own name as argv[0] */
		if (offline_cmds[i].word2 == NULL)
			return offline_cmds[i].main(argc, argv);
		if (argc >= 2 && strcmp(argv[1], offline_cmds[i].word2) == 0)
			return offline_cmds[i].main(argc - 1, argv + 1);
	}
	return -1;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * main.c: the `kagi` program. A small command table; each command parses its own options
 * (argv[0] = the command name) and returns the exit status.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kagi-build.h"

#include "collect.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/util.h"
#include "unlock.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* NULL = hidden from --help */
};

static const struct command commands[] = {
	{ "unlock", cmd_unlock,
	  "attest to the verifier, receive the disk keys and open the LUKS2 volumes" },
	{ "enroll", cmd_enroll,
	  "add a random key to a LUKS2 volume and register it with the verifier" },
	{ "collect", cmd_collect,
	  "gather SNP/TPM evidence on this VM and print it (debugging aid)" },
	{ "tpm-debug", cmd_tpm_debug, NULL },
};

static void usage(FILE *f)
{
	fputs("Usage: kagi [--verbose] COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].summary)
			fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -h, --help     show this help (COMMAND --help for a command's options)\n"
	      "  --version      show the version\n"
	      "  -v, --verbose  debug messages on stderr\n",
	      f);
}

int main(int argc, char **argv)
{
	int i = 1;

	secret_harden_process();
	log_set_prefix("kagi");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (streq(argv[i], "--version")) {
			printf("kagi %s\n", KAGI_VERSION);
			return 0;
		} else if (streq(argv[i], "--verbose") || streq(argv[i], "-v")) {
			log_set_level(LOG_LVL_DEBUG);
		} else {
			fprintf(stderr, "kagi: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < ARRAY_SIZE(commands); c++)
		if (streq(argv[i], commands[c].name))
			return commands[c].run(argc - i, argv + i);
	fprintf(stderr, "kagi: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}

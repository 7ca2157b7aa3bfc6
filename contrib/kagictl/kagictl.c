// SPDX-License-Identifier: Apache-2.0
/* kagictl: offline and admin tools for kagi. */
#include <stdio.h>
#include <string.h>

#include "kagi-build.h"
#include "kagictl.h"
#include "log.h"
#include "secret.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("Usage: kagictl [--verbose] GROUP VERB [ARGS]\n"
	      "\n"
	      "  report show FILE [--json]\n"
	      "  report verify FILE (--vcek CERT | --certs-from-aux FILE)\n"
	      "                [--chain PEM | --amd-roots DIR] [--at RFC3339] [--policy FILE]\n"
	      "  eventlog show FILE [--json]\n"
	      "  eventlog replay FILE [--json]\n"
	      "  report verify-cert CERT [--chain PEM | --amd-roots DIR] [--at RFC3339]\n"
	      "  report certs AUXBLOB\n"
	      "  quote verify --attest FILE --sig FILE --ak FILE [--nonce HEX] [--pcrs FILE] "
	      "[--json]\n"
	      "  quote show [--attest] FILE [--json]\n"
	      "  quote ak [--ak] FILE [--json]\n"
	      "  key add (--config FILE | --store URL --kek URL) --volume UUID [--label TEXT]\n"
	      "          (--key-stdin | --generate)\n"
	      "  key list (--config FILE | --store URL --kek URL) [--json]\n"
	      "  key revoke (--config FILE | --store URL --kek URL) --volume UUID\n"
	      "  kek generate --file PATH\n"
	      "  policy check FILE\n"
	      "  kds fetch REPORT [--product NAME] [--kds-url URL] [--cache DIR] [--out FILE]\n"
	      "  kds chain PRODUCT [--kds-url URL] [--cache DIR] [--out FILE]\n"
	      "  kds url REPORT [--product NAME] [--kds-url URL]\n"
	      "\n"
	      "Exit status: 0 valid, 1 rejected, 2 usage or input error.\n"
	      "See kagictl(1).\n",
	      f);
}

int main(int argc, char **argv)
{
	int i = 1;

	secret_harden_process();
	log_set_prefix("kagictl");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (streq(argv[i], "--verbose") || streq(argv[i], "-v")) {
			log_set_level(LOG_LVL_DEBUG);
		} else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			usage(stdout);
			return KAGICTL_OK;
		} else if (streq(argv[i], "--version")) {
			printf("kagictl %s\n", KAGI_VERSION);
			return KAGICTL_OK;
		} else {
			fprintf(stderr, "kagictl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return KAGICTL_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return KAGICTL_USAGE;
	}
	if (streq(argv[i], "report"))
		return cmd_report(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "eventlog"))
		return cmd_eventlog(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "quote"))
		return cmd_quote(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "key"))
		return cmd_key(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "kek"))
		return cmd_kek(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "policy"))
		return cmd_policy(argc - i - 1, argv + i + 1);
	if (streq(argv[i], "kds"))
		return cmd_kds(argc - i - 1, argv + i + 1);
	fprintf(stderr, "kagictl: unknown command group '%s'\n", argv[i]);
	usage(stderr);
	return KAGICTL_USAGE;
}

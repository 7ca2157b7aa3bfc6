// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>

#include "kagictl.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kagictl: 'report' is not built yet\n");
	return KAGICTL_USAGE;
}

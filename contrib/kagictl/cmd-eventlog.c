// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>

#include "kagictl.h"

int cmd_eventlog(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kagictl: 'eventlog' is not built yet\n");
	return KAGICTL_USAGE;
}

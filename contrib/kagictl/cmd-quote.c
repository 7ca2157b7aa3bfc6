// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>

#include "kagictl.h"

int cmd_quote(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kagictl: 'quote' is not built yet\n");
	return KAGICTL_USAGE;
}

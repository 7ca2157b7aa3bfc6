// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz-config.c: the kernel command line parser and the kagi.conf parser on the same bytes,
 * each into fresh defaults, then merged and checked. No output, no leaks.
 */
#include <stdint.h>
#include <stdlib.h>

/* the agent's config.h, not the build's generated one */
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kagi_config *file = malloc(sizeof(*file)), *cmd = malloc(sizeof(*cmd));
	struct kagi_err e;

	if (!file || !cmd)
		goto out;
	config_init(file);
	config_init(cmd);
	(void)config_parse_file((const char *)data, size, "fuzz.conf", file, &e);
	(void)config_parse_cmdline((const char *)data, size, cmd, &e);
	config_merge(file, cmd);
	(void)config_check(file, &e);
	(void)config_on_failure_name(file->on_failure);
out:
	free(file);
	free(cmd);
	return 0;
}

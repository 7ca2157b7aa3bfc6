/* SPDX-License-Identifier: Apache-2.0 */
/* testutil.h: small helpers shared by the cmocka unit tests (header-only, static). */
#ifndef KAGI_TESTUTIL_H
#define KAGI_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

/* Read tests/data/<rel> (KAGI_TESTDATA); fails the test if missing. */
static inline uint8_t *testdata_read(const char *rel, size_t *len)
{
	const char *dir = getenv("KAGI_TESTDATA");
	char path[4096];
	uint8_t *buf = NULL;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (read_file(path, 64 << 20, &buf, len) < 0)
		fail_msg("cannot read test data %s", path);
	return buf;
}

static inline const char *testdata_path(const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", getenv("KAGI_TESTDATA"), rel);
	return buf;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.h: failure details that name what failed.
 *
 * Every fallible function returns 0 (or a positive value) on success and a negative errno on
 * failure. Functions that check untrusted input also take a `struct kagi_err *reterr` (may be
 * NULL) that they fill on failure with a stable identifier of the failed check ("report.version",
 * "eventlog.event.size"), the byte offset where it applies (parsers), and a sentence for humans.
 */
#ifndef KAGI_ERR_H
#define KAGI_ERR_H

#include <stddef.h>
#include <stdint.h>

#define KAGI_ERR_NO_OFFSET SIZE_MAX

struct kagi_err {
	const char *what; /* stable identifier of the failed check, never NULL after a failure */
	size_t off;       /* byte offset in the input, or KAGI_ERR_NO_OFFSET */
	char msg[512];    /* human-readable explanation, names expected and actual values */
};

/* Fill *e (if non-NULL) and return r, which must be a negative errno. */
int kagi_err_set(struct kagi_err *e, int r, const char *what, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Prefix an existing message with context, keeping `what` and `off`. */
int kagi_err_prefix(struct kagi_err *e, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "what at offset 0x1a: msg" or "what: msg" */
const char *kagi_err_str(const struct kagi_err *e, char *buf, size_t len);

#endif

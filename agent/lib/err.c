// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int kagi_err_set(struct kagi_err *e, int r, const char *what, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return r;
	e->what = what ? what : "unknown";
	e->off = off;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r;
}

int kagi_err_prefix(struct kagi_err *e, int r, const char *fmt, ...)
{
	char pre[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return r;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* "pre: old", truncated to fit; built by hand so no format can be cut in the middle */
	{
		size_t pl = strnlen(pre, sizeof(e->msg) - 3), ol = strlen(old);

		memcpy(e->msg, pre, pl);
		memcpy(e->msg + pl, ": ", 2);
		if (ol > sizeof(e->msg) - pl - 3)
			ol = sizeof(e->msg) - pl - 3;
		memcpy(e->msg + pl + 2, old, ol);
		e->msg[pl + 2 + ol] = '\0';
	}
	return r;
}

const char *kagi_err_str(const struct kagi_err *e, char *buf, size_t len)
{
	if (e->off != KAGI_ERR_NO_OFFSET)
		snprintf(buf, len, "%s at offset 0x%zx: %s", e->what, e->off, e->msg);
	else
		snprintf(buf, len, "%s: %s", e->what, e->msg);
	return buf;
}

// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static enum log_level level = LOG_LVL_INFO;
static int to_kmsg;
static const char *prefix = "kagi";

void log_set_level(enum log_level lvl)
{
	level = lvl;
}

enum log_level log_get_level(void)
{
	return level;
}

void log_set_kmsg(int enable)
{
	to_kmsg = enable;
}

void log_set_prefix(const char *p)
{
	prefix = p;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static const int kprio[] = { 3, 4, 6, 7 };
	char line[1024];
	va_list ap;

	if (lvl > level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (lvl == LOG_LVL_INFO)
		fprintf(stderr, "%s: %s\n", prefix, line);
	else
		fprintf(stderr, "%s: %s: %s\n", prefix, names[lvl], line);
	if (to_kmsg) {
		char kline[1100];
		int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

		if (fd >= 0) {
			int n = snprintf(kline, sizeof(kline), "<%d>%s: %s\n", kprio[lvl], prefix,
					 line);
			if (n > 0)
				(void)!write(fd, kline, strlen(kline));
			close(fd);
		}
	}
}

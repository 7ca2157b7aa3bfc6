/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: one logging path for the agent and the tools.
 * Library modules log at debug level only; the programs' main code decides what the user sees.
 * Never pass secret bytes to these functions.
 */
#ifndef KAGI_LOG_H
#define KAGI_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Also write to /dev/kmsg (agent in the initramfs). */
void log_set_kmsg(int enable);
void log_set_prefix(const char *prefix);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif

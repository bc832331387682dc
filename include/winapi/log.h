/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Logging for liblowlat, the drivers and the apps: one line per message on stderr,
 * "<component>: <text>", filtered by level. Levels follow syslog (DPDK's RTE_LOG levels minus
 * one), so systemd can map them to journal priorities.
 *
 * The level starts from the environment: WINAPI_LOG_LEVEL (err, warning, notice, info, debug,
 * or 3-7), or WINAPI_DEBUG=1 for debug (the seeds' variable). Default: notice.
 * All calls are thread-safe; a line is written with one write(2) so lines do not interleave.
 *
 * Owner: lib/log
 */
#ifndef WINAPI_LOG_H
#define WINAPI_LOG_H

enum winapi_log_level {
	WINAPI_LOG_ERR = 3,
	WINAPI_LOG_WARNING = 4,
	WINAPI_LOG_NOTICE = 5,
	WINAPI_LOG_INFO = 6,
	WINAPI_LOG_DEBUG = 7,
};

/** Set the most verbose level that is printed. */
void winapi_log_set_level(enum winapi_log_level level);

/** The current level (after the environment was read). */
enum winapi_log_level winapi_log_get_level(void);

/**
 * A level named as WINAPI_LOG_LEVEL names it (err, warning, notice, info, debug, trace, or
 * 3-7), for command-line options. @return the level; -1 for anything else.
 */
int winapi_log_parse_level(const char *text);

/** Print one message from @p component if @p level is enabled. */
void winapi_log(enum winapi_log_level level, const char *component, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* WINAPI_LOG_H */

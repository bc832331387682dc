/* SPDX-License-Identifier: BSD-3-Clause */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <winapi/log.h>

#ifdef _WIN32
/* No setuid programs on Windows: the environment is always the caller's own. */
#define secure_getenv getenv
#endif

static int current_level = WINAPI_LOG_NOTICE;
static pthread_once_t environment_once = PTHREAD_ONCE_INIT;

int winapi_log_parse_level(const char *text)
{
	static const char *const names[] = { "err", "warning", "notice", "info", "debug" };
	unsigned int i;

	if (text == NULL)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(text, names[i]) == 0 || (text[0] == (char)('3' + i) && text[1] == '\0'))
			return WINAPI_LOG_ERR + (int)i;
	/* The seeds' WINAPI_LOG_LEVEL=TRACE: the most verbose we have. */
	if (strcasecmp(text, "trace") == 0)
		return WINAPI_LOG_DEBUG;
	return -1;
}

static void read_environment(void)
{
	const char *debug = secure_getenv("WINAPI_DEBUG");
	int level = winapi_log_parse_level(secure_getenv("WINAPI_LOG_LEVEL"));

	if (debug != NULL && strcmp(debug, "0") != 0 && *debug != '\0')
		__atomic_store_n(&current_level, WINAPI_LOG_DEBUG, __ATOMIC_RELAXED);
	if (level >= 0)
		__atomic_store_n(&current_level, level, __ATOMIC_RELAXED);
}

void winapi_log_set_level(enum winapi_log_level level)
{
	pthread_once(&environment_once, read_environment);
	__atomic_store_n(&current_level, (int)level, __ATOMIC_RELAXED);
}

enum winapi_log_level winapi_log_get_level(void)
{
	pthread_once(&environment_once, read_environment);
	return (enum winapi_log_level)__atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

void winapi_log(enum winapi_log_level level, const char *component, const char *format, ...)
{
	char line[1024];
	va_list arguments;
	int length, body;

	if ((int)level > (int)winapi_log_get_level())
		return;
	length = snprintf(line, sizeof(line), "%s: ", component);
	if (length < 0 || (size_t)length >= sizeof(line))
		return;
	va_start(arguments, format);
	body = vsnprintf(line + length, sizeof(line) - (size_t)length - 1, format, arguments);
	va_end(arguments);
	if (body < 0)
		return;
	length += body;
	if ((size_t)length > sizeof(line) - 2)
		length = (int)sizeof(line) - 2;
	line[length++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)length) < 0)
		return; /* nowhere left to report it */
}

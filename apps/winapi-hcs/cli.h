/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hcs's command line, apart from HCS itself: the commands reach the service through a
 * backend (main.c gives the real one on Windows; tests/unit/hcs_ut.c one that serves recorded
 * documents), so everything but the calls into computecore.dll runs in the Linux tests.
 */
#ifndef APPS_WINAPI_HCS_CLI_H
#define APPS_WINAPI_HCS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <winapi_internal/hcs.h>

struct hcs_backend {
	int (*enumerate)(const struct winapi_hcs_query *query, char **document, char *error, size_t error_size);
	int (*properties)(const char *id, const char *const *property_types, char **document, char *error,
			  size_t error_size);
};

/* Run the command line @argv; output to @out, messages to @err. Exit status: 0, 1 (failed), 2 (usage). */
int hcs_cli_main(int argc, char **argv, const struct hcs_backend *backend, FILE *out, FILE *err);

#endif /* APPS_WINAPI_HCS_CLI_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hcs.exe: the command line of cli.c over the real Host Compute Service
 * (lib/hcs/hcs_windows.c, computecore.dll). Windows only; make windows builds it.
 */
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/*
 * main()'s argv is in the ANSI code page; names from HCS are UTF-8 here. Take the arguments
 * from the UTF-16 command line instead, in UTF-8, so that a VM named with accents matches.
 */
static char **utf8_arguments(int *argc)
{
	wchar_t **wide = CommandLineToArgvW(GetCommandLineW(), argc);
	char **argv;
	int i, length;

	if (wide == NULL)
		return NULL;
	argv = calloc((size_t)*argc + 1, sizeof(*argv));
	for (i = 0; argv != NULL && i < *argc; i++) {
		length = WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, NULL, 0, NULL, NULL);
		argv[i] = length > 0 ? malloc((size_t)length) : NULL;
		if (argv[i] == NULL || WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, argv[i], length, NULL, NULL) != length) {
			argv = NULL; /* the process ends soon: what was taken is left to it */
			break;
		}
	}
	LocalFree(wide);
	return argv;
}

int main(int argc, char **argv)
{
	static const struct hcs_backend service = {
		.enumerate = winapi_hcs_enumerate,
		.properties = winapi_hcs_properties,
	};
	char **arguments = utf8_arguments(&argc);

	/* The output is UTF-8 too: tell the console. */
	SetConsoleOutputCP(CP_UTF8);
	return hcs_cli_main(argc, arguments != NULL ? arguments : argv, &service, stdout, stderr);
}

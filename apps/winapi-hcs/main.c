/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hcs.exe: the command line of cli.c over the real Host Compute Service
 * (lib/hcs/hcs_windows.c, computecore.dll). Windows only; make windows builds it.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
	static const struct hcs_backend service = {
		.enumerate = winapi_hcs_enumerate,
		.properties = winapi_hcs_properties,
	};

	return hcs_cli_main(argc, argv, &service, stdout, stderr);
}

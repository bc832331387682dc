/* SPDX-License-Identifier: BSD-3-Clause */
/* winapi-pmd's runtime directory: DPDK's layout (eal_get_runtime_dir()), for its tools. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <winapi_internal/pmd.h>

static bool prefix_valid(const char *prefix)
{
	return prefix[0] != '\0' && prefix[0] != '.' && strchr(prefix, '/') == NULL;
}

int winapi_pmd_runtime_dir(const char *prefix, bool system, char *path, size_t size)
{
	const char *base;
	int length;

	if (prefix == NULL)
		prefix = WINAPI_PMD_DEFAULT_PREFIX;
	if (!prefix_valid(prefix) || path == NULL)
		return -EINVAL;
	if (system || getuid() == 0) {
		base = "/var/run";
	} else {
		base = secure_getenv("XDG_RUNTIME_DIR");
		if (base == NULL || base[0] != '/')
			base = "/tmp";
	}
	length = snprintf(path, size, "%s/dpdk/%s", base, prefix);
	return length < 0 || (size_t)length >= size ? -ENAMETOOLONG : 0;
}

int winapi_pmd_socket_path(const char *prefix, bool system, const char *file, char *path, size_t size)
{
	char directory[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	int length, rc;

	rc = winapi_pmd_runtime_dir(prefix, system, directory, sizeof(directory));
	if (rc != 0)
		return rc;
	length = snprintf(path, size, "%s/%s", directory, file);
	if (length < 0 || (size_t)length >= size || (size_t)length >= sizeof(directory))
		return -ENAMETOOLONG;
	return 0;
}

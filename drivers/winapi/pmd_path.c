/* SPDX-License-Identifier: BSD-3-Clause */
/* winapi-pmd's runtime directory: DPDK's layout (eal_get_runtime_dir()), for its tools. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* What makes @status no place for sockets: NULL when it is one. */
static const char *distrust(const struct stat *status)
{
	if (S_ISLNK(status->st_mode) || !S_ISDIR(status->st_mode))
		return "is a symbolic link or not a directory";
	if (status->st_uid != geteuid() && status->st_uid != 0)
		return "belongs to another user";
	/* Whoever may write a directory may replace what is in it. */
	if (status->st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by its group or others";
	return NULL;
}

static int distrust_errno(const struct stat *status)
{
	return S_ISDIR(status->st_mode) ? -EPERM : -ENOTDIR;
}

int winapi_pmd_dir_open(const char *path, mode_t mode, const char **why)
{
	struct stat status;
	int fd, rc;

	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return -errno;
	/* O_NOFOLLOW: a symbolic link planted at @path is refused, not followed. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP || rc == -ENOTDIR) {
			*why = "is a symbolic link or not a directory";
			rc = -ENOTDIR;
		}
		return rc;
	}
	if (fstat(fd, &status) != 0) {
		rc = -errno;
		goto err_close;
	}
	*why = distrust(&status);
	if (*why != NULL) {
		rc = distrust_errno(&status);
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

int winapi_pmd_socket_check(const char *path, const char **why)
{
	char directory[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	struct stat status;
	unsigned int level;

	if (strlen(path) >= sizeof(directory))
		return -ENAMETOOLONG;
	/* Outside in: once a directory is trusted, nobody else can change what is below it. */
	for (level = 2; level > 0; level--) {
		char *name = directory;
		unsigned int up;

		memcpy(directory, path, strlen(path) + 1);
		for (up = 0; up < level; up++)
			name = dirname(name);
		if (lstat(name, &status) != 0)
			return -errno;
		*why = distrust(&status);
		if (*why != NULL)
			return distrust_errno(&status);
	}
	if (lstat(path, &status) != 0)
		return -errno;
	if (!S_ISSOCK(status.st_mode)) {
		*why = "is not a socket";
		return -ENOTSOCK;
	}
	if (status.st_uid != geteuid() && status.st_uid != 0) {
		*why = "belongs to another user";
		return -EPERM;
	}
	return 0;
}

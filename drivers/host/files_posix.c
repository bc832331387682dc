/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host.file.* on Linux (files.h): every open goes through openat2() beneath the export's
 * directory, RESOLVE_BENEATH (no "..", absolute path or symbolic link may lead out, and a
 * rename racing the lookup cannot either: the kernel checks the walk itself) and
 * RESOLVE_NO_MAGICLINKS (no /proc/self/fd/N style jumps). A symbolic link that stays beneath
 * is followed, as a shell in the directory would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"

/* The wire's numbers are Linux's: here they are errno itself. */
_Static_assert(WINAPI_FILE_ENOENT == ENOENT && WINAPI_FILE_EACCES == EACCES && WINAPI_FILE_ENAMETOOLONG == ENAMETOOLONG &&
		       WINAPI_FILE_ELOOP == ELOOP && WINAPI_FILE_EROFS == EROFS && WINAPI_FILE_EOVERFLOW == EOVERFLOW,
	       "file errors on the wire are Linux's errno numbers");

struct winapi_host_files_root {
	int fd;
};

struct winapi_host_files_file {
	int fd;
};

int winapi_host_files_open_root(const char *directory, struct winapi_host_files_root **root)
{
	int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*root = malloc(sizeof(**root));
	if (*root == NULL) {
		close(fd);
		return -ENOMEM;
	}
	(*root)->fd = fd;
	return 0;
}

/*
 * @path beneath @root; an escape (EXDEV from the kernel) reads as "not yours": EACCES.
 * openat2() is strict where open() is lenient: a mode without O_CREAT, or O_PATH with any flag
 * but O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW, is EINVAL.
 */
static int open_beneath(struct winapi_host_files_root *root, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how = { .flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY),
				.mode = (flags & O_CREAT) ? mode : 0,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, root->fd, *path != '\0' ? path : ".", &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	return errno == EXDEV ? -EACCES : errno == ENOSYS ? -EOPNOTSUPP : -errno;
}

static uint32_t file_type(mode_t mode)
{
	return S_ISREG(mode) ? WINAPI_FILE_TYPE_REGULAR : S_ISDIR(mode) ? WINAPI_FILE_TYPE_DIRECTORY :
									WINAPI_FILE_TYPE_OTHER;
}

static uint64_t mtime_ns(const struct stat *status)
{
	return status->st_mtim.tv_sec < 0 ? 0 :
					    (uint64_t)status->st_mtim.tv_sec * 1000000000u + (uint64_t)status->st_mtim.tv_nsec;
}

int winapi_host_files_stat(struct winapi_host_files_root *root, const char *path, struct winapi_file_stat *stat)
{
	struct stat status;
	/* O_PATH: a FIFO or a device is looked at, never opened (an open could block or act). */
	int fd = open_beneath(root, path, O_PATH, 0), rc = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &status) != 0)
		rc = -errno;
	close(fd);
	if (rc != 0)
		return rc;
	stat->type = file_type(status.st_mode);
	stat->size = status.st_size > 0 ? (uint64_t)status.st_size : 0;
	stat->mtime_ns = mtime_ns(&status);
	return 0;
}

int winapi_host_files_open(struct winapi_host_files_root *root, const char *path, unsigned int mode,
			   struct winapi_host_files_file **file)
{
	uint64_t flags = (mode & WINAPI_HOST_FILES_WRITE) ? O_WRONLY : O_RDONLY;
	struct stat status;
	int fd, rc;

	if (mode & WINAPI_HOST_FILES_CREATE)
		flags |= O_CREAT;
	/* O_NONBLOCK: a FIFO must not hold the host; it is refused below anyway. */
	fd = open_beneath(root, path, flags | O_NONBLOCK, 0640);
	if (fd < 0)
		return fd;
	if (fstat(fd, &status) != 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(status.st_mode)) {
		rc = S_ISDIR(status.st_mode) ? -EISDIR : -EACCES;
		goto out_close;
	}
	*file = malloc(sizeof(**file));
	if (*file == NULL) {
		rc = -ENOMEM;
		goto out_close;
	}
	(*file)->fd = fd;
	return 0;

out_close:
	close(fd);
	return rc;
}

int64_t winapi_host_files_pread(struct winapi_host_files_file *file, void *data, size_t length, uint64_t offset)
{
	ssize_t done;

	if (offset > INT64_MAX)
		return -EOVERFLOW;
	do
		done = pread(file->fd, data, length, (off_t)offset);
	while (done < 0 && errno == EINTR);
	return done < 0 ? -errno : done;
}

int64_t winapi_host_files_pwrite(struct winapi_host_files_file *file, const void *data, size_t length,
				 uint64_t offset)
{
	ssize_t done;

	if (offset > INT64_MAX || length > INT64_MAX - offset)
		return -EFBIG;
	do
		done = pwrite(file->fd, data, length, (off_t)offset);
	while (done < 0 && errno == EINTR);
	return done < 0 ? -errno : done;
}

int winapi_host_files_truncate(struct winapi_host_files_file *file, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	return ftruncate(file->fd, (off_t)size) == 0 ? 0 : -errno;
}

void winapi_host_files_close(struct winapi_host_files_file *file)
{
	close(file->fd);
	free(file);
}

int winapi_host_files_list(struct winapi_host_files_root *root, const char *path, winapi_host_files_visitor *visit,
			   void *context)
{
	struct winapi_file_entry entry;
	struct dirent *item;
	struct stat status;
	DIR *directory;
	int fd, rc = 0;

	fd = open_beneath(root, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	directory = fdopendir(fd);
	if (directory == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (rc == 0 && (item = readdir(directory)) != NULL) {
		if (strcmp(item->d_name, ".") == 0 || strcmp(item->d_name, "..") == 0 ||
		    strlen(item->d_name) > WINAPI_FILE_NAME_MAX)
			continue;
		/* The entry itself, not what a symbolic link names: listing follows nothing. */
		if (fstatat(dirfd(directory), item->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone since readdir() */
		entry = (struct winapi_file_entry){ .type = file_type(status.st_mode),
						    .size = status.st_size > 0 ? (uint64_t)status.st_size : 0,
						    .mtime_ns = mtime_ns(&status) };
		memcpy(entry.name, item->d_name, strlen(item->d_name) + 1);
		rc = visit(&entry, context);
	}
	closedir(directory);
	return rc;
}

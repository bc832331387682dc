/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/host: the file system beneath an export, as host.file.* reaches it (files.c). One
 * interface, two implementations: files_posix.c (Linux: openat2() with RESOLVE_BENEATH) and
 * files_windows.c (Windows: NtCreateFile() relative to a handle, one component at a time, no
 * reparse point followed). Paths given here passed winapi_file_path_check() ("" is the export's
 * directory); errors are negative WINAPI_FILE_E* numbers (Linux's errno values).
 */
#ifndef DRIVERS_HOST_FILES_H
#define DRIVERS_HOST_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <winapi/host_apis.h>

/* An export's directory, held open for the life of the process. */
struct winapi_host_files_root;
/* An open file of an export. */
struct winapi_host_files_file;

#define WINAPI_HOST_FILES_READ 0x0
#define WINAPI_HOST_FILES_WRITE 0x1
#define WINAPI_HOST_FILES_CREATE 0x2

int winapi_host_files_open_root(const char *directory, struct winapi_host_files_root **root);

/* What @path is: type, size, mtime_ns (error and flags are the caller's). */
int winapi_host_files_stat(struct winapi_host_files_root *root, const char *path, struct winapi_file_stat *stat);

/* A regular file only: a directory is -WINAPI_FILE_EISDIR, anything else -WINAPI_FILE_EACCES. */
int winapi_host_files_open(struct winapi_host_files_root *root, const char *path, unsigned int mode,
			   struct winapi_host_files_file **file);

/* Bytes read (0 at the end of the file) or written, or a negative WINAPI_FILE_E*. */
int64_t winapi_host_files_pread(struct winapi_host_files_file *file, void *data, size_t length, uint64_t offset);
int64_t winapi_host_files_pwrite(struct winapi_host_files_file *file, const void *data, size_t length,
				 uint64_t offset);
int winapi_host_files_truncate(struct winapi_host_files_file *file, uint64_t size);
void winapi_host_files_close(struct winapi_host_files_file *file);

/* Each entry of the directory @path (not "." or ".."), through @visit; its nonzero stops. */
typedef int winapi_host_files_visitor(const struct winapi_file_entry *entry, void *context);
int winapi_host_files_list(struct winapi_host_files_root *root, const char *path, winapi_host_files_visitor *visit,
			   void *context);

#endif /* DRIVERS_HOST_FILES_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host.file.* on Windows (files.h). Every open is NtCreateFile() relative to a handle, one
 * path component at a time from the export's directory handle, each opened with
 * FILE_OPEN_REPARSE_POINT and refused if it is a reparse point (a symbolic link, a junction, a
 * mount point): nothing the walk meets can lead it out of the export, and a rename racing it
 * cannot either, since no name is looked up twice. The path rules (winapi_file_path_check())
 * already keep out "..", drive letters, alternate data streams (':') and device names. What
 * was opened is checked once more by its final path, which must lie beneath the export's: Wine
 * shows a Unix symbolic link as the file it names, not as a reparse point. Errors
 * are Linux's numbers (WINAPI_FILE_E*), mapped from the Win32 errors the NTSTATUS stands for.
 */
#include <windows.h>
#include <winternl.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

#ifndef STATUS_FILE_IS_A_DIRECTORY
#define STATUS_FILE_IS_A_DIRECTORY ((NTSTATUS)0xC00000BAL)
#endif
#ifndef STATUS_NOT_A_DIRECTORY
#define STATUS_NOT_A_DIRECTORY ((NTSTATUS)0xC0000103L)
#endif

/* 100 ns intervals from 1601-01-01 (FILETIME's origin) to 1970-01-01. */
#define FILETIME_UNIX_EPOCH 116444736000000000ull

struct winapi_host_files_root {
	HANDLE handle;
	wchar_t *final_path; /* GetFinalPathNameByHandleW()'s, with a '\\' at its end */
	size_t final_length;
};

struct winapi_host_files_file {
	HANDLE handle;
};

static int error_from_win32(DWORD error)
{
	switch (error) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_DRIVE:
	case ERROR_BAD_NETPATH:
		return -WINAPI_FILE_ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_PRIVILEGE_NOT_HELD:
	case ERROR_CANT_ACCESS_FILE:
		return -WINAPI_FILE_EACCES;
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION:
		return -WINAPI_FILE_EBUSY;
	case ERROR_FILE_EXISTS:
	case ERROR_ALREADY_EXISTS:
		return -WINAPI_FILE_EEXIST;
	case ERROR_DIRECTORY:
		return -WINAPI_FILE_ENOTDIR;
	case ERROR_INVALID_NAME:
	case ERROR_INVALID_PARAMETER:
		return -WINAPI_FILE_EINVAL;
	case ERROR_TOO_MANY_OPEN_FILES:
		return -WINAPI_FILE_EMFILE;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL:
		return -WINAPI_FILE_ENOSPC;
	case ERROR_WRITE_PROTECT:
		return -WINAPI_FILE_EROFS;
	case ERROR_FILENAME_EXCED_RANGE:
		return -WINAPI_FILE_ENAMETOOLONG;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return -WINAPI_FILE_ENOMEM;
	default:
		return -WINAPI_FILE_EIO;
	}
}

static int error_from_status(NTSTATUS status)
{
	if (status == STATUS_FILE_IS_A_DIRECTORY)
		return -WINAPI_FILE_EISDIR;
	if (status == STATUS_NOT_A_DIRECTORY)
		return -WINAPI_FILE_ENOTDIR;
	return error_from_win32(RtlNtStatusToDosError(status));
}

/* @text (UTF-8) as UTF-16 into @wide (@size characters, NUL included). 0 or -EINVAL. */
static int to_wide(const char *text, size_t length, wchar_t *wide, size_t size)
{
	int count;

	if (length == 0) {
		wide[0] = L'\0';
		return 0;
	}
	count = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, (int)length, wide, (int)size - 1);
	if (count <= 0)
		return -WINAPI_FILE_EINVAL;
	wide[count] = L'\0';
	return 0;
}

static bool is_reparse_point(HANDLE handle)
{
	BY_HANDLE_FILE_INFORMATION information;

	return !GetFileInformationByHandle(handle, &information) ||
	       (information.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}

/* One component @name (UTF-8, @length bytes) relative to @parent; a reparse point is refused. */
static int open_component(HANDLE parent, const char *name, size_t length, ACCESS_MASK access, ULONG disposition,
			  ULONG options, HANDLE *handle)
{
	wchar_t wide[WINAPI_FILE_NAME_MAX + 1];
	UNICODE_STRING object_name;
	OBJECT_ATTRIBUTES attributes;
	IO_STATUS_BLOCK io;
	NTSTATUS status;
	int rc;

	rc = to_wide(name, length, wide, sizeof(wide) / sizeof(wide[0]));
	if (rc != 0)
		return rc;
	object_name.Buffer = wide;
	object_name.Length = (USHORT)(wcslen(wide) * sizeof(wchar_t));
	object_name.MaximumLength = object_name.Length;
	/* OBJ_CASE_INSENSITIVE as Win32 opens do; the root handle keeps the name relative. */
	InitializeObjectAttributes(&attributes, &object_name, OBJ_CASE_INSENSITIVE, parent, NULL);
	status = NtCreateFile(handle, access | SYNCHRONIZE | FILE_READ_ATTRIBUTES, &attributes, &io, NULL,
			      FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
			      disposition, options | FILE_OPEN_REPARSE_POINT | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
	if (!NT_SUCCESS(status))
		return error_from_status(status);
	if (is_reparse_point(*handle)) {
		CloseHandle(*handle);
		return -WINAPI_FILE_EACCES;
	}
	return 0;
}

/* The final path of @handle into a new string (@extra characters of room after it), or NULL. */
static wchar_t *final_path(HANDLE handle, size_t extra, size_t *length)
{
	DWORD size = GetFinalPathNameByHandleW(handle, NULL, 0, FILE_NAME_NORMALIZED), written;
	wchar_t *path;

	if (size == 0)
		return NULL;
	path = malloc(((size_t)size + extra) * sizeof(*path));
	if (path == NULL)
		return NULL;
	written = GetFinalPathNameByHandleW(handle, path, size, FILE_NAME_NORMALIZED);
	if (written == 0 || written >= size) {
		free(path);
		return NULL;
	}
	*length = written;
	return path;
}

/* Whether what @handle opened lies beneath @root, by both final paths. */
static bool beneath_root(const struct winapi_host_files_root *root, HANDLE handle)
{
	size_t length;
	wchar_t *path = final_path(handle, 0, &length);
	bool beneath = path != NULL && length > root->final_length &&
		       CompareStringOrdinal(path, (int)root->final_length, root->final_path, (int)root->final_length,
					    TRUE) == CSTR_EQUAL;

	free(path);
	return beneath;
}

/*
 * Walk @path from @root: every component but the last as a directory, the last with @access,
 * @disposition and @options. "" is the root itself, opened again through "." semantics: a new
 * handle to the same directory.
 */
static int open_beneath(struct winapi_host_files_root *root, const char *path, ACCESS_MASK access,
			ULONG disposition, ULONG options, HANDLE *handle)
{
	HANDLE parent = root->handle, next;
	const char *start = path, *slash;
	int rc;

	if (*path == '\0') {
		if (!DuplicateHandle(GetCurrentProcess(), root->handle, GetCurrentProcess(), handle, 0, FALSE,
				     DUPLICATE_SAME_ACCESS))
			return error_from_win32(GetLastError());
		return 0;
	}
	while ((slash = strchr(start, '/')) != NULL) {
		rc = open_component(parent, start, (size_t)(slash - start), FILE_TRAVERSE | FILE_LIST_DIRECTORY,
				    FILE_OPEN, FILE_DIRECTORY_FILE, &next);
		if (parent != root->handle)
			CloseHandle(parent);
		if (rc != 0)
			return rc;
		/* Before anything is opened, let alone created, in it (Wine: a linked directory). */
		if (!beneath_root(root, next)) {
			CloseHandle(next);
			return -WINAPI_FILE_EACCES;
		}
		parent = next;
		start = slash + 1;
	}
	rc = open_component(parent, start, strlen(start), access, disposition, options, handle);
	if (parent != root->handle)
		CloseHandle(parent);
	if (rc == 0 && !beneath_root(root, *handle)) {
		CloseHandle(*handle);
		rc = -WINAPI_FILE_EACCES;
	}
	return rc;
}

int winapi_host_files_open_root(const char *directory, struct winapi_host_files_root **root)
{
	wchar_t wide[MAX_PATH * 4];
	HANDLE handle;

	if (to_wide(directory, strlen(directory), wide, sizeof(wide) / sizeof(wide[0])) != 0)
		return -WINAPI_FILE_EINVAL;
	/* FILE_FLAG_BACKUP_SEMANTICS: the only way CreateFileW opens a directory. */
	handle = CreateFileW(wide, FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
			     FILE_FLAG_BACKUP_SEMANTICS, NULL);
	if (handle == INVALID_HANDLE_VALUE)
		return error_from_win32(GetLastError());
	*root = malloc(sizeof(**root));
	if (*root == NULL) {
		CloseHandle(handle);
		return -WINAPI_FILE_ENOMEM;
	}
	(*root)->handle = handle;
	(*root)->final_path = final_path(handle, 2, &(*root)->final_length);
	if ((*root)->final_path == NULL) {
		CloseHandle(handle);
		free(*root);
		return -WINAPI_FILE_EIO;
	}
	/* A separator at the end, so that "C:\\data" does not hold "C:\\database". */
	if ((*root)->final_path[(*root)->final_length - 1] != L'\\')
		(*root)->final_path[(*root)->final_length++] = L'\\';
	(*root)->final_path[(*root)->final_length] = L'\0';
	return 0;
}

static uint64_t filetime_ns(FILETIME time)
{
	uint64_t intervals = (uint64_t)time.dwHighDateTime << 32 | time.dwLowDateTime;

	return intervals > FILETIME_UNIX_EPOCH ? (intervals - FILETIME_UNIX_EPOCH) * 100u : 0;
}

static uint32_t file_type(DWORD attributes)
{
	return (attributes & FILE_ATTRIBUTE_DIRECTORY) ? WINAPI_FILE_TYPE_DIRECTORY :
	       (attributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DEVICE)) ? WINAPI_FILE_TYPE_OTHER :
										       WINAPI_FILE_TYPE_REGULAR;
}

int winapi_host_files_stat(struct winapi_host_files_root *root, const char *path, struct winapi_file_stat *stat)
{
	BY_HANDLE_FILE_INFORMATION information;
	HANDLE handle;
	int rc;

	rc = open_beneath(root, path, FILE_READ_ATTRIBUTES, FILE_OPEN, 0, &handle);
	if (rc != 0)
		return rc;
	if (!GetFileInformationByHandle(handle, &information)) {
		rc = error_from_win32(GetLastError());
		CloseHandle(handle);
		return rc;
	}
	CloseHandle(handle);
	stat->type = file_type(information.dwFileAttributes);
	stat->size = stat->type == WINAPI_FILE_TYPE_REGULAR ?
			     (uint64_t)information.nFileSizeHigh << 32 | information.nFileSizeLow : 0;
	stat->mtime_ns = filetime_ns(information.ftLastWriteTime);
	return 0;
}

int winapi_host_files_open(struct winapi_host_files_root *root, const char *path, unsigned int mode,
			   struct winapi_host_files_file **file)
{
	ACCESS_MASK access = (mode & WINAPI_HOST_FILES_WRITE) ? FILE_WRITE_DATA | FILE_READ_DATA : FILE_READ_DATA;
	ULONG disposition = (mode & WINAPI_HOST_FILES_CREATE) ? FILE_OPEN_IF : FILE_OPEN;
	HANDLE handle;
	int rc;

	if (*path == '\0')
		return -WINAPI_FILE_EISDIR; /* the export's directory itself */
	rc = open_beneath(root, path, access, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &handle);
	if (rc == -WINAPI_FILE_ENOENT && disposition == FILE_OPEN_IF) {
		/*
		 * FILE_CREATE, not FILE_OPEN_IF: it refuses a name that is there as anything, a
		 * dangling link included. Wine follows such a link to create its target, outside the
		 * export, before any check of ours could see it. A file made meanwhile by someone
		 * else is opened; a dangling link stays not found.
		 */
		rc = open_beneath(root, path, access, FILE_CREATE, FILE_NON_DIRECTORY_FILE, &handle);
		if (rc == -WINAPI_FILE_EEXIST)
			rc = open_beneath(root, path, access, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &handle);
	}
	if (rc != 0)
		return rc;
	if (GetFileType(handle) != FILE_TYPE_DISK) {
		CloseHandle(handle);
		return -WINAPI_FILE_EACCES;
	}
	*file = malloc(sizeof(**file));
	if (*file == NULL) {
		CloseHandle(handle);
		return -WINAPI_FILE_ENOMEM;
	}
	(*file)->handle = handle;
	return 0;
}

/* ReadFile and WriteFile move at most 4 GiB - 1 a call: the caller loops. */
static DWORD clamp(size_t length)
{
	return length > 0x40000000u ? 0x40000000u : (DWORD)length;
}

int64_t winapi_host_files_pread(struct winapi_host_files_file *file, void *data, size_t length, uint64_t offset)
{
	OVERLAPPED at = { .Offset = (DWORD)offset, .OffsetHigh = (DWORD)(offset >> 32) };
	DWORD done = 0;

	if (offset > INT64_MAX)
		return -WINAPI_FILE_EOVERFLOW;
	if (!ReadFile(file->handle, data, clamp(length), &done, &at))
		return GetLastError() == ERROR_HANDLE_EOF ? 0 : error_from_win32(GetLastError());
	return done;
}

int64_t winapi_host_files_pwrite(struct winapi_host_files_file *file, const void *data, size_t length,
				 uint64_t offset)
{
	OVERLAPPED at = { .Offset = (DWORD)offset, .OffsetHigh = (DWORD)(offset >> 32) };
	DWORD done = 0;

	if (offset > INT64_MAX || length > INT64_MAX - offset)
		return -WINAPI_FILE_EFBIG;
	if (!WriteFile(file->handle, data, clamp(length), &done, &at))
		return error_from_win32(GetLastError());
	return done;
}

int winapi_host_files_truncate(struct winapi_host_files_file *file, uint64_t size)
{
	FILE_END_OF_FILE_INFO end = { .EndOfFile.QuadPart = (LONGLONG)size };

	if (size > INT64_MAX)
		return -WINAPI_FILE_EFBIG;
	return SetFileInformationByHandle(file->handle, FileEndOfFileInfo, &end, sizeof(end)) ?
		       0 :
		       error_from_win32(GetLastError());
}

void winapi_host_files_close(struct winapi_host_files_file *file)
{
	CloseHandle(file->handle);
	free(file);
}

int winapi_host_files_list(struct winapi_host_files_root *root, const char *path, winapi_host_files_visitor *visit,
			   void *context)
{
	/* Entries come many to a call; the buffer is aligned as FILE_ID_BOTH_DIR_INFO wants. */
	static const size_t buffer_size = 64 * 1024;
	FILE_INFO_BY_HANDLE_CLASS class = FileIdBothDirectoryRestartInfo;
	const FILE_ID_BOTH_DIR_INFO *item;
	struct winapi_file_entry entry;
	char name[WINAPI_FILE_NAME_MAX * 3 + 1];
	HANDLE directory;
	uint8_t *buffer;
	int rc = 0, length;

	rc = open_beneath(root, path, FILE_LIST_DIRECTORY | FILE_TRAVERSE, FILE_OPEN, FILE_DIRECTORY_FILE, &directory);
	if (rc != 0)
		return rc;
	buffer = _aligned_malloc(buffer_size, 8);
	if (buffer == NULL) {
		CloseHandle(directory);
		return -WINAPI_FILE_ENOMEM;
	}
	while (rc == 0 && GetFileInformationByHandleEx(directory, class, buffer, (DWORD)buffer_size)) {
		class = FileIdBothDirectoryInfo;
		for (item = (const FILE_ID_BOTH_DIR_INFO *)buffer; rc == 0;
		     item = (const FILE_ID_BOTH_DIR_INFO *)((const uint8_t *)item + item->NextEntryOffset)) {
			length = WideCharToMultiByte(CP_UTF8, 0, item->FileName,
						     (int)(item->FileNameLength / sizeof(WCHAR)), name,
						     (int)sizeof(name) - 1, NULL, NULL);
			if (length > 0 && (size_t)length <= WINAPI_FILE_NAME_MAX) {
				name[length] = '\0';
				if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
					entry = (struct winapi_file_entry){
						.type = file_type(item->FileAttributes),
						.size = (item->FileAttributes & FILE_ATTRIBUTE_DIRECTORY) ?
								0 :
								(uint64_t)item->EndOfFile.QuadPart,
						.mtime_ns = filetime_ns((FILETIME){
							.dwLowDateTime = item->LastWriteTime.LowPart,
							.dwHighDateTime = (DWORD)item->LastWriteTime.HighPart }),
					};
					memcpy(entry.name, name, (size_t)length + 1);
					rc = visit(&entry, context);
				}
			}
			if (item->NextEntryOffset == 0)
				break;
		}
	}
	if (rc == 0 && GetLastError() != ERROR_NO_MORE_FILES)
		rc = error_from_win32(GetLastError());
	_aligned_free(buffer);
	CloseHandle(directory);
	return rc;
}

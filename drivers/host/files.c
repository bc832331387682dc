/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host.file.stat, .list, .read and .write (<winapi/host_apis.h>): the exports a program
 * declared, and the handlers every host of both builds runs. The request is the guest's
 * (untrusted): its export must be one of ours, its path must pass winapi_file_path_check(),
 * and the file system is reached only through files.h, which opens beneath the export's
 * directory. Reads land straight in the request's buffers (guest memory on VMBus, the
 * connection's payload on the socket wire): no copy on the host.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <winapi/host_apis.h>
#include <winapi/log.h>

#include "files.h"
#include "host_private.h"

#define FILES_MAX_EXPORTS 16u
/* A directory listed whole before its page is cut (sorted, so that pages do not overlap). */
#define FILES_LIST_MAX_ENTRIES 65536u

struct file_export {
	char name[WINAPI_FILE_EXPORT_NAME_MAX + 1];
	struct winapi_host_files_root *root;
	bool writable;
};

/* Exports are added before serving and never removed: readers take the count with acquire. */
static pthread_mutex_t exports_lock = PTHREAD_MUTEX_INITIALIZER;
static struct file_export exports[FILES_MAX_EXPORTS];
static unsigned int export_count; /* __atomic */

static int export_directory(const char *spec)
{
	const char *equals = spec != NULL ? strchr(spec, '=') : NULL;
	size_t name_length, directory_length;
	struct winapi_host_files_root *root;
	bool writable = false;
	char *directory;
	unsigned int i;
	int rc;

	if (equals == NULL)
		return -EINVAL;
	name_length = (size_t)(equals - spec);
	if (winapi_file_export_name_check(spec, name_length) != 0)
		return -EINVAL;
	directory_length = strlen(equals + 1);
	/* DIR may hold ':' itself (C:\\data): only a final ":ro" or ":rw" is the mode. */
	if (directory_length > 3 && (strcmp(equals + 1 + directory_length - 3, ":rw") == 0 ||
				     strcmp(equals + 1 + directory_length - 3, ":ro") == 0)) {
		writable = equals[1 + directory_length - 1] == 'w';
		directory_length -= 3;
	}
	if (directory_length == 0)
		return -EINVAL;
	directory = malloc(directory_length + 1); /* no strndup() in Windows' C runtime */
	if (directory == NULL)
		return -ENOMEM;
	memcpy(directory, equals + 1, directory_length);
	directory[directory_length] = '\0';
	rc = winapi_host_files_open_root(directory, &root);
	free(directory);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&exports_lock);
	for (i = 0; i < export_count; i++)
		if (strlen(exports[i].name) == name_length && memcmp(exports[i].name, spec, name_length) == 0)
			rc = -EEXIST;
	if (rc == 0 && export_count == FILES_MAX_EXPORTS)
		rc = -ENOSPC;
	if (rc == 0) {
		memcpy(exports[export_count].name, spec, name_length);
		exports[export_count].name[name_length] = '\0';
		exports[export_count].root = root;
		exports[export_count].writable = writable;
		__atomic_store_n(&export_count, export_count + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&exports_lock);
	/* A root of a refused export stays open: there is no close in files.h, and it is one fd. */
	return rc;
}

int winapi_host_file_export(const char *spec)
{
	int rc = export_directory(spec);

	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "host", "cannot export %s: %s", spec != NULL ? spec : "(null)",
			   rc == -EINVAL ? "want NAME=DIR[:ro|rw], NAME of 1..32 of a-z 0-9 . _ -" :
			   rc == -EEXIST ? "the name is exported already" :
			   rc == -ENOSPC ? "16 exports at most" : winapi_strerror(rc));
	return rc;
}

static const struct file_export *find_export(const struct winapi_file_request *request)
{
	unsigned int count = __atomic_load_n(&export_count, __ATOMIC_ACQUIRE), i;

	for (i = 0; i < count; i++)
		if (strlen(exports[i].name) == request->export_length &&
		    memcmp(exports[i].name, request->export_name, request->export_length) == 0)
			return &exports[i];
	return NULL;
}

/*
 * The request decoded, its export found and its path checked and copied with a NUL into
 * @path. Its buffers are within the descriptor's (dispatch's check_against(): none for stat
 * and list). Returns 0, a WINAPI_FILE_E* number for the reply, or -1 for a request that is not a
 * file request at all (BAD_MESSAGE).
 */
static int take_request(const struct winapi_host_request *request, struct winapi_file_request *file,
			const struct file_export **export, char path[WINAPI_FILE_PATH_MAX + 1])
{
	const struct winapi_message *message = request->message;

	if (winapi_file_request_decode(message->inline_data, message->inline_length, file) != 0)
		return -1;
	*export = find_export(file);
	if (*export == NULL)
		return WINAPI_FILE_ENOENT; /* nothing exported under that name: nothing reachable */
	if (winapi_file_path_check(file->path, file->path_length) != 0)
		return WINAPI_FILE_EINVAL;
	memcpy(path, file->path, file->path_length);
	path[file->path_length] = '\0';
	return 0;
}

static void reply_with(struct winapi_host_context *host, struct winapi_host_reply *reply, uint32_t length)
{
	reply->status = WINAPI_STATUS_OK;
	reply->data = winapi_host_reply_space(host);
	reply->length = length;
}

static void file_stat(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	struct winapi_file_stat stat = { 0 };
	const struct file_export *export;
	char path[WINAPI_FILE_PATH_MAX + 1];
	struct winapi_file_request file;
	int rc;

	rc = take_request(request, &file, &export, path);
	if (rc < 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	if (rc == 0)
		rc = -winapi_host_files_stat(export->root, path, &stat);
	if (rc != 0)
		stat = (struct winapi_file_stat){ .error = (uint32_t)rc };
	else if (export->writable)
		stat.flags = WINAPI_FILE_WRITABLE;
	winapi_file_stat_encode(&stat, winapi_host_reply_space(host));
	reply_with(host, reply, WINAPI_FILE_STAT_SIZE);
}

struct listing {
	struct winapi_file_entry *entries;
	unsigned int count, capacity;
};

static int collect(const struct winapi_file_entry *entry, void *context)
{
	struct listing *listing = context;
	struct winapi_file_entry *grown;

	/* What no host could name on the wire is left out (a name that is not UTF-8, "CON"). */
	if (winapi_file_name_check(entry->name, strlen(entry->name)) != 0)
		return 0;
	if (listing->count == FILES_LIST_MAX_ENTRIES)
		return WINAPI_FILE_EFBIG;
	if (listing->count == listing->capacity) {
		listing->capacity = listing->capacity != 0 ? listing->capacity * 2 : 64;
		grown = realloc(listing->entries, listing->capacity * sizeof(*grown));
		if (grown == NULL)
			return WINAPI_FILE_ENOMEM;
		listing->entries = grown;
	}
	listing->entries[listing->count++] = *entry;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct winapi_file_entry *)a)->name, ((const struct winapi_file_entry *)b)->name);
}

static void file_list(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	uint8_t *out = winapi_host_reply_space(host);
	size_t used = WINAPI_FILE_LIST_HEAD, room = request->message->reply_capacity;
	struct listing listing = { 0 };
	const struct file_export *export;
	char path[WINAPI_FILE_PATH_MAX + 1];
	struct winapi_file_request file;
	uint32_t flags = 0, count = 0;
	uint64_t i;
	int rc;

	rc = take_request(request, &file, &export, path);
	if (rc < 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	if (rc == 0) {
		rc = winapi_host_files_list(export->root, path, collect, &listing);
		rc = rc < 0 ? -rc : rc; /* the walk's own errors are negative, collect()'s positive */
	}
	if (room > WINAPI_MAX_INLINE_DATA)
		room = WINAPI_MAX_INLINE_DATA;
	if (rc == 0 && room < WINAPI_FILE_LIST_HEAD)
		rc = WINAPI_FILE_EINVAL;
	if (rc == 0) {
		qsort(listing.entries, listing.count, sizeof(*listing.entries), by_name);
		for (i = file.offset; i < listing.count; i++) {
			if (winapi_file_list_add(out, room, &used, &listing.entries[i]) != 0) {
				flags = WINAPI_FILE_MORE;
				break;
			}
			count++;
		}
	}
	free(listing.entries);
	if (rc != 0) {
		used = WINAPI_FILE_LIST_HEAD;
		count = 0;
		flags = 0;
	}
	winapi_file_list_finish(out, (uint32_t)rc, count, flags);
	reply_with(host, reply, (uint32_t)used);
}

/* One read or write, span by span, over the request's buffers in order. */
struct transfer {
	struct winapi_host_files_file *file;
	uint64_t offset;    /* the file's next byte */
	uint64_t remaining; /* bytes still to move */
	uint64_t done;
	bool write, eof;
	int error;          /* a WINAPI_FILE_E* number */
};

static int move_span(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct transfer *transfer = context;
	int64_t moved;

	(void)position;
	while (length != 0 && transfer->remaining != 0) {
		size_t chunk = length < transfer->remaining ? length : (size_t)transfer->remaining;

		moved = transfer->write ? winapi_host_files_pwrite(transfer->file, span, chunk, transfer->offset) :
					  winapi_host_files_pread(transfer->file, span, chunk, transfer->offset);
		if (moved < 0) {
			transfer->error = (int)-moved;
			return 1;
		}
		if (moved == 0) { /* a read at the file's end; a write of nothing cannot be */
			transfer->eof = !transfer->write;
			transfer->error = transfer->write ? WINAPI_FILE_EIO : 0;
			return 1;
		}
		span += moved;
		length -= (size_t)moved;
		transfer->offset += (uint64_t)moved;
		transfer->remaining -= (uint64_t)moved;
		transfer->done += (uint64_t)moved;
	}
	return transfer->remaining == 0 ? 1 : 0;
}

static void file_transfer(struct winapi_host_context *host, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply, bool write)
{
	const struct winapi_message *message = request->message;
	struct transfer transfer = { .write = write };
	const struct file_export *export;
	char path[WINAPI_FILE_PATH_MAX + 1];
	struct winapi_file_request file;
	struct winapi_file_io io;
	uint64_t room = 0;
	unsigned int i;
	int rc;

	rc = take_request(request, &file, &export, path);
	if (rc < 0 || message->buffer_count == 0 || (!write && file.flags != 0)) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	/* Every buffer reachable before a byte is read or written. */
	if (winapi_host_buffers_check(host, request) != 0) {
		reply->status = WINAPI_STATUS_BAD_BUFFER;
		return;
	}
	for (i = 0; i < message->buffer_count; i++)
		room += message->buffers[i].length;
	if (rc == 0 && (file.length > room || file.offset > INT64_MAX || file.length > INT64_MAX - file.offset))
		rc = WINAPI_FILE_EINVAL;
	if (rc == 0 && write && !export->writable)
		rc = WINAPI_FILE_EROFS;
	if (rc == 0)
		rc = -winapi_host_files_open(export->root, path,
					     write ? WINAPI_HOST_FILES_WRITE |
							     (file.flags & WINAPI_FILE_CREATE ? WINAPI_HOST_FILES_CREATE : 0) :
						     WINAPI_HOST_FILES_READ,
					     &transfer.file);
	if (rc == 0) {
		transfer.offset = file.offset;
		transfer.remaining = file.length;
		for (i = 0; i < message->buffer_count && transfer.remaining != 0 && !transfer.eof &&
			    transfer.error == 0;
		     i++)
			winapi_host_buffer_walk(host, request, i, move_span, &transfer);
		rc = transfer.error;
		if (rc == 0 && write && (file.flags & WINAPI_FILE_TRUNCATE))
			rc = -winapi_host_files_truncate(transfer.file, file.offset + transfer.done);
		winapi_host_files_close(transfer.file);
	}
	io = (struct winapi_file_io){ .error = (uint32_t)rc, .bytes = transfer.done,
				      .flags = transfer.eof ? WINAPI_FILE_EOF : 0 };
	winapi_file_io_encode(&io, winapi_host_reply_space(host));
	reply_with(host, reply, WINAPI_FILE_IO_SIZE);
}

static void file_read(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	file_transfer(host, request, reply, false);
}

static void file_write(struct winapi_host_context *host, const struct winapi_host_request *request,
		       struct winapi_host_reply *reply)
{
	file_transfer(host, request, reply, true);
}

#define ALL_BUFFERS(access) { access, access, access, access, access, access, access, access }

const struct winapi_host_api winapi_host_file_apis[4] = {
	{ .entry = { .name = WINAPI_HOST_FILE_STAT_NAME, .api_id = WINAPI_HOST_FILE_STAT_ID,
		     .version = WINAPI_HOST_FILE_VERSION, .max_request = WINAPI_FILE_REQUEST_MAX,
		     .max_reply = WINAPI_FILE_STAT_SIZE },
	  .handler = file_stat },
	{ .entry = { .name = WINAPI_HOST_FILE_LIST_NAME, .api_id = WINAPI_HOST_FILE_LIST_ID,
		     .version = WINAPI_HOST_FILE_VERSION, .max_request = WINAPI_FILE_REQUEST_MAX,
		     .max_reply = WINAPI_MAX_INLINE_DATA },
	  .handler = file_list },
	{ .entry = { .name = WINAPI_HOST_FILE_READ_NAME, .api_id = WINAPI_HOST_FILE_READ_ID,
		     .version = WINAPI_HOST_FILE_VERSION, .max_request = WINAPI_FILE_REQUEST_MAX,
		     .max_reply = WINAPI_FILE_IO_SIZE, .buffer_access = ALL_BUFFERS(WINAPI_ACCESS_HOST_WRITES) },
	  .handler = file_read },
	{ .entry = { .name = WINAPI_HOST_FILE_WRITE_NAME, .api_id = WINAPI_HOST_FILE_WRITE_ID,
		     .version = WINAPI_HOST_FILE_VERSION, .max_request = WINAPI_FILE_REQUEST_MAX,
		     .max_reply = WINAPI_FILE_IO_SIZE, .buffer_access = ALL_BUFFERS(WINAPI_ACCESS_HOST_READS) },
	  .handler = file_write },
};

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: host.file.* (<winapi/host_apis.h>) as the host reads a request and as the
 * guest reads a reply. A request that decodes must name its export and path inside its own
 * bytes and encode back to them; a path winapi_file_path_check() lets through must hold no
 * way out of an export on any host: no "..", ".", empty component, leading or trailing '/',
 * '\\', ':', NUL or other control byte, and be UTF-8. The replies' decoders (stat, read and
 * write, list) must stay inside the bytes and return only what they were given.
 *
 * Input: the bytes, as a request and as each reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <winapi/host_apis.h>
#include <winapi/protocol.h>

#include "fuzz_check.h"

/* What a path that passed the rules must not hold, checked here without the rules' own code. */
static void check_passed_path(const char *path, size_t length)
{
	size_t start = 0, i;

	FUZZ_CHECK(length <= WINAPI_FILE_PATH_MAX);
	if (length == 0)
		return;
	FUZZ_CHECK(path[0] != '/' && path[length - 1] != '/');
	FUZZ_CHECK(winapi_utf8_valid(path, length));
	for (i = 0; i <= length; i++) {
		if (i < length && path[i] != '/') {
			FUZZ_CHECK((unsigned char)path[i] >= 0x20 && path[i] != '\\' && path[i] != ':');
			continue;
		}
		/* A component: not empty, not "." or "..". */
		FUZZ_CHECK(i > start);
		FUZZ_CHECK(!(i - start == 1 && path[start] == '.'));
		FUZZ_CHECK(!(i - start == 2 && path[start] == '.' && path[start + 1] == '.'));
		start = i + 1;
	}
}

static void check_request(const uint8_t *bytes, size_t length)
{
	uint8_t encoded[WINAPI_FILE_REQUEST_MAX];
	struct winapi_file_request request;

	if (winapi_file_request_decode(bytes, length, &request) != 0)
		return;
	FUZZ_CHECK(request.export_length >= 1 && request.export_length <= WINAPI_FILE_EXPORT_NAME_MAX);
	FUZZ_CHECK(request.path_length <= WINAPI_FILE_PATH_MAX);
	FUZZ_CHECK((const uint8_t *)request.export_name == bytes + WINAPI_FILE_REQUEST_HEAD);
	FUZZ_CHECK((const uint8_t *)request.path + request.path_length == bytes + length);
	FUZZ_CHECK((request.flags & ~WINAPI_FILE_WRITE_FLAGS) == 0);
	FUZZ_CHECK(winapi_file_request_encode(&request, encoded, sizeof(encoded)) == (int)length);
	FUZZ_CHECK(memcmp(encoded, bytes, length) == 0);
	if (winapi_file_path_check(request.path, request.path_length) == 0)
		check_passed_path(request.path, request.path_length);
	if (winapi_file_export_name_check(request.export_name, request.export_length) == 0)
		for (size_t i = 0; i < request.export_length; i++)
			FUZZ_CHECK(request.export_name[i] != '/' && request.export_name[i] != '\\' &&
				   (unsigned char)request.export_name[i] > 0x20);
}

static void check_replies(const uint8_t *bytes, size_t length)
{
	static struct winapi_file_entry entries[WINAPI_MAX_INLINE_DATA / 32];
	uint8_t encoded[WINAPI_MAX_INLINE_DATA];
	struct winapi_file_stat stat;
	struct winapi_file_io io;
	uint32_t error, count, flags, i;
	size_t used = WINAPI_FILE_LIST_HEAD;

	if (winapi_file_stat_decode(bytes, length, &stat) == 0) {
		FUZZ_CHECK(stat.error <= 4095 && stat.type <= WINAPI_FILE_TYPE_OTHER && (stat.error == 0) == (stat.type != 0));
		winapi_file_stat_encode(&stat, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, WINAPI_FILE_STAT_SIZE) == 0);
	}
	if (winapi_file_io_decode(bytes, length, &io) == 0) {
		FUZZ_CHECK(io.error <= 4095 && (io.flags & ~WINAPI_FILE_EOF) == 0);
		winapi_file_io_encode(&io, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, WINAPI_FILE_IO_SIZE) == 0);
	}
	if (length <= sizeof(encoded) &&
	    winapi_file_list_decode(bytes, length, &error, entries, sizeof(entries) / sizeof(entries[0]), &count,
				    &flags) == 0) {
		/* Every name a component the rules let through; the page built again is the same bytes. */
		for (i = 0; i < count; i++) {
			FUZZ_CHECK(winapi_file_name_check(entries[i].name, strlen(entries[i].name)) == 0);
			check_passed_path(entries[i].name, strlen(entries[i].name));
			FUZZ_CHECK(winapi_file_list_add(encoded, sizeof(encoded), &used, &entries[i]) == 0);
		}
		winapi_file_list_finish(encoded, error, count, flags);
		FUZZ_CHECK(used == length && memcmp(encoded, bytes, length) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the input's size, so that ASan sees a read past it. */
	uint8_t *bytes = malloc(size != 0 ? size : 1);

	FUZZ_CHECK(bytes != NULL);
	memcpy(bytes, data, size);
	check_request(bytes, size);
	check_replies(bytes, size);
	free(bytes);
	return 0;
}

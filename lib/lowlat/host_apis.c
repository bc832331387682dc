/* SPDX-License-Identifier: BSD-3-Clause */
/* The host APIs' calls (<winapi/host_apis.h>): host.time, host.info, the clock offset, host.file.*. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <winapi/host_apis.h>
#include <winapi/lowlat.h>
#include <winapi_internal/clock.h>

#define CLOCK_OFFSET_MAX_ROUND_TRIPS 100000u

/* The API named @name at major 1 in the host's table; a host without it: -EOPNOTSUPP. */
static int lookup_host_api(winapi_handle_t handle, const char *name, winapi_api_info_t *info)
{
	int rc = winapi_api_lookup(handle, name, 1, info);

	return rc == -ENOENT ? -EOPNOTSUPP : rc;
}

/* Call the API @info names with @input and @buffers; its answer into @reply. */
static int call_api_info(winapi_handle_t handle, const winapi_api_info_t *info, const void *input, size_t input_length,
			 winapi_buffer_t *buffers, size_t buffer_count, void *reply, size_t reply_size,
			 size_t *reply_length)
{
	const winapi_api_call_t call = { .api = info->api_id, .version_major = 1, .input = input,
					 .input_length = input_length, .output = reply, .output_size = reply_size,
					 .buffers = buffers, .buffer_count = buffer_count };

	return winapi_call_api(handle, &call, reply_length);
}

/* Call the API named @name (major 1) with @input and @buffers; its answer into @reply. */
static int call_host_api_with(winapi_handle_t handle, const char *name, const void *input, size_t input_length,
			      winapi_buffer_t *buffers, size_t buffer_count, void *reply, size_t reply_size,
			      size_t *reply_length)
{
	winapi_api_info_t info;
	int rc;

	rc = lookup_host_api(handle, name, &info);
	if (rc != 0)
		return rc;
	return call_api_info(handle, &info, input, input_length, buffers, buffer_count, reply, reply_size,
			     reply_length);
}

static int call_host_api(winapi_handle_t handle, const char *name, void *reply, size_t reply_size,
			 size_t *reply_length)
{
	return call_host_api_with(handle, name, NULL, 0, NULL, 0, reply, reply_size, reply_length);
}

int winapi_host_time(winapi_handle_t handle, winapi_host_time_t *time)
{
	uint8_t reply[WINAPI_HOST_TIME_SIZE];
	size_t length;
	int rc;

	if (handle == NULL || time == NULL)
		return -EINVAL;
	rc = call_host_api(handle, WINAPI_HOST_TIME_NAME, reply, sizeof(reply), &length);
	return rc != 0 ? rc : winapi_host_time_decode(reply, length, time);
}

int winapi_host_info(winapi_handle_t handle, winapi_host_info_t *info)
{
	uint8_t reply[WINAPI_HOST_INFO_SIZE];
	size_t length;
	int rc;

	if (handle == NULL || info == NULL)
		return -EINVAL;
	rc = call_host_api(handle, WINAPI_HOST_INFO_NAME, reply, sizeof(reply), &length);
	return rc != 0 ? rc : winapi_host_info_decode(reply, length, info);
}

/* The wall clock; the monotonic one is winapi_clock_now_ns(). */
static uint64_t realtime_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* @host minus the midpoint of @before and @after, into *@offset. 0 or -ERANGE. */
static int midpoint_offset(uint64_t host, uint64_t before, uint64_t after, int64_t *offset)
{
	uint64_t midpoint = before + (after - before) / 2;

	if (host >= midpoint ? host - midpoint > INT64_MAX : midpoint - host > INT64_MAX)
		return -ERANGE;
	*offset = host >= midpoint ? (int64_t)(host - midpoint) : -(int64_t)(midpoint - host);
	return 0;
}

int winapi_clock_offset(winapi_handle_t handle, unsigned int round_trips, winapi_clock_offset_t *offset)
{
	uint64_t real_before, real_after, mono_before, mono_after, widest, best = UINT64_MAX;
	uint8_t reply[WINAPI_HOST_TIME_SIZE];
	int64_t real_offset, mono_offset;
	winapi_host_time_t host;
	winapi_api_info_t info;
	unsigned int i;
	size_t length;
	int rc;

	if (handle == NULL || offset == NULL || round_trips == 0 || round_trips > CLOCK_OFFSET_MAX_ROUND_TRIPS)
		return -EINVAL;
	/* Looked up once, before any bracket: the first lookup may ask the host for its table. */
	rc = lookup_host_api(handle, WINAPI_HOST_TIME_NAME, &info);
	if (rc != 0)
		return rc;
	for (i = 0; i < round_trips; i++) {
		/*
		 * Each clock's pair brackets the call alone; the wall clock's brackets the monotonic
		 * one's too. The reply is decoded after, outside the bracket.
		 */
		real_before = realtime_ns();
		mono_before = winapi_clock_now_ns();
		rc = call_api_info(handle, &info, NULL, 0, NULL, 0, reply, sizeof(reply), &length);
		mono_after = winapi_clock_now_ns();
		real_after = realtime_ns();
		if (rc == 0)
			rc = winapi_host_time_decode(reply, length, &host);
		if (rc != 0)
			return rc;
		/* The wall clock may step between the reads: a pair that goes back is no bracket. */
		if (real_after < real_before)
			continue;
		widest = real_after - real_before > mono_after - mono_before ? real_after - real_before :
									       mono_after - mono_before;
		if (widest >= best)
			continue;
		rc = midpoint_offset(host.realtime_ns, real_before, real_after, &real_offset);
		if (rc == 0)
			rc = midpoint_offset(host.monotonic_ns, mono_before, mono_after, &mono_offset);
		if (rc != 0)
			return rc;
		best = widest;
		*offset = (winapi_clock_offset_t){
			.realtime_offset_ns = real_offset,
			.monotonic_offset_ns = mono_offset,
			.error_bound_ns = (widest + 1) / 2 + host.resolution_ns,
			.round_trip_ns = mono_after - mono_before,
		};
	}
	if (best == UINT64_MAX)
		return -EAGAIN; /* the wall clock stepped back across every call */
	offset->round_trips = round_trips;
	return 0;
}

/* ---- files ---- */

/* The request's bytes into @out, once export and path pass the rules every host applies. */
static int file_request(const char *export_name, const char *path, uint64_t offset, uint64_t length,
			uint32_t flags, uint8_t out[WINAPI_FILE_REQUEST_MAX])
{
	struct winapi_file_request request = { .offset = offset, .length = length, .flags = flags };

	if (export_name == NULL || path == NULL)
		return -EINVAL;
	request.export_name = export_name;
	request.path = path;
	if (strnlen(export_name, WINAPI_FILE_EXPORT_NAME_MAX + 1) > WINAPI_FILE_EXPORT_NAME_MAX ||
	    strnlen(path, WINAPI_FILE_PATH_MAX + 1) > WINAPI_FILE_PATH_MAX)
		return -EINVAL;
	request.export_length = (uint16_t)strlen(export_name);
	request.path_length = (uint16_t)strlen(path);
	if (winapi_file_export_name_check(export_name, request.export_length) != 0 ||
	    winapi_file_path_check(path, request.path_length) != 0)
		return -EINVAL;
	return winapi_file_request_encode(&request, out, WINAPI_FILE_REQUEST_MAX);
}

int winapi_file_stat(winapi_handle_t handle, const char *export_name, const char *path, winapi_file_stat_t *stat)
{
	uint8_t request[WINAPI_FILE_REQUEST_MAX], reply[WINAPI_FILE_STAT_SIZE];
	size_t length;
	int size, rc;

	if (handle == NULL || stat == NULL)
		return -EINVAL;
	size = file_request(export_name, path, 0, 0, 0, request);
	if (size < 0)
		return size;
	rc = call_host_api_with(handle, WINAPI_HOST_FILE_STAT_NAME, request, (size_t)size, NULL, 0, reply,
				sizeof(reply), &length);
	if (rc == 0)
		rc = winapi_file_stat_decode(reply, length, stat);
	return rc != 0 ? rc : -(int)stat->error;
}

int winapi_file_list(winapi_handle_t handle, const char *export_name, const char *path, uint64_t first,
		     winapi_file_entry_t *entries, size_t max, bool *more)
{
	uint8_t request[WINAPI_FILE_REQUEST_MAX], reply[WINAPI_MAX_INLINE_DATA];
	uint32_t error, count, flags;
	size_t length;
	int size, rc;

	if (handle == NULL || (entries == NULL && max != 0))
		return -EINVAL;
	size = file_request(export_name, path, first, 0, 0, request);
	if (size < 0)
		return size;
	/* No more entries asked for than the caller has room for: a reply of one entry is 32+ bytes. */
	rc = call_host_api_with(handle, WINAPI_HOST_FILE_LIST_NAME, request, (size_t)size, NULL, 0, reply,
				max * 32 + WINAPI_FILE_LIST_HEAD < sizeof(reply) ? max * 32 + WINAPI_FILE_LIST_HEAD :
										     sizeof(reply),
				&length);
	if (rc == 0)
		rc = winapi_file_list_decode(reply, length, &error, entries, max, &count, &flags);
	if (rc != 0)
		return rc;
	if (error != 0)
		return -(int)error;
	if (more != NULL)
		*more = (flags & WINAPI_FILE_MORE) != 0;
	return (int)count;
}

static int file_transfer(winapi_handle_t handle, const char *name, const char *export_name, const char *path,
			 uint64_t offset, uint64_t length, uint32_t flags, winapi_buffer_t *buffers, size_t count,
			 uint64_t *bytes, bool *eof)
{
	uint8_t request[WINAPI_FILE_REQUEST_MAX], reply[WINAPI_FILE_IO_SIZE];
	struct winapi_file_io io;
	uint64_t room = 0;
	size_t reply_length, i;
	int size, rc;

	if (handle == NULL || buffers == NULL || count == 0 || count > WINAPI_MAX_BUFFERS || bytes == NULL)
		return -EINVAL;
	for (i = 0; i < count; i++)
		room += buffers[i].size;
	if (length > room)
		return -EINVAL;
	size = file_request(export_name, path, offset, length, flags, request);
	if (size < 0)
		return size;
	rc = call_host_api_with(handle, name, request, (size_t)size, buffers, count, reply, sizeof(reply),
				&reply_length);
	if (rc == 0)
		rc = winapi_file_io_decode(reply, reply_length, &io);
	if (rc != 0)
		return rc;
	/* The host cannot have moved more than was asked: a reply that says so is not believed. */
	if (io.bytes > length)
		return -EBADMSG;
	*bytes = io.bytes;
	if (eof != NULL)
		*eof = (io.flags & WINAPI_FILE_EOF) != 0;
	return -(int)io.error;
}

int winapi_file_read(winapi_handle_t handle, const char *export_name, const char *path, uint64_t offset,
		     uint64_t length, winapi_buffer_t *buffers, size_t count, uint64_t *bytes, bool *eof)
{
	return file_transfer(handle, WINAPI_HOST_FILE_READ_NAME, export_name, path, offset, length, 0, buffers,
			     count, bytes, eof);
}

int winapi_file_write(winapi_handle_t handle, const char *export_name, const char *path, uint64_t offset,
		      uint64_t length, unsigned int flags, winapi_buffer_t *buffers, size_t count, uint64_t *bytes)
{
	if ((flags & ~WINAPI_FILE_WRITE_FLAGS) != 0)
		return -EINVAL;
	return file_transfer(handle, WINAPI_HOST_FILE_WRITE_NAME, export_name, path, offset, length, flags, buffers,
			     count, bytes, NULL);
}

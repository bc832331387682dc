/* SPDX-License-Identifier: BSD-3-Clause */
/* The host APIs' calls (<winapi/host_apis.h>): host.time, host.info and the clock offset. */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include <winapi/host_apis.h>
#include <winapi/lowlat.h>

#define CLOCK_OFFSET_MAX_ROUND_TRIPS 100000u

/* Call the API named @name (major 1) with no input; its answer into @reply. */
static int call_host_api(winapi_handle_t handle, const char *name, void *reply, size_t reply_size,
			 size_t *reply_length)
{
	winapi_api_info_t info;
	winapi_api_call_t call;
	int rc;

	rc = winapi_api_lookup(handle, name, 1, &info);
	if (rc != 0)
		return rc == -ENOENT ? -EOPNOTSUPP : rc;
	call = (winapi_api_call_t){ .api = info.api_id, .version_major = 1, .output = reply, .output_size = reply_size };
	return winapi_call_api(handle, &call, reply_length);
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

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
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
	winapi_host_time_t host;
	int64_t real_offset, mono_offset;
	unsigned int i;
	int rc;

	if (handle == NULL || offset == NULL || round_trips == 0 || round_trips > CLOCK_OFFSET_MAX_ROUND_TRIPS)
		return -EINVAL;
	/* The first call looks the API up in the host's table, which may mean asking for it. */
	rc = winapi_host_time(handle, &host);
	if (rc != 0)
		return rc;
	for (i = 0; i < round_trips; i++) {
		/* Each clock's pair brackets the call; the wall clock's brackets the monotonic one's too. */
		real_before = clock_ns(CLOCK_REALTIME);
		mono_before = clock_ns(CLOCK_MONOTONIC);
		rc = winapi_host_time(handle, &host);
		mono_after = clock_ns(CLOCK_MONOTONIC);
		real_after = clock_ns(CLOCK_REALTIME);
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

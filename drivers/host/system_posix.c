/* SPDX-License-Identifier: BSD-3-Clause */
/* host.time and host.info on Linux (system.h): POSIX clocks, uname(), sysconf() and /proc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "system.h"

static uint64_t timespec_ns(const struct timespec *time)
{
	return (uint64_t)time->tv_sec * 1000000000u + (uint64_t)time->tv_nsec;
}

/*
 * The coarser of the two clocks' resolutions, 1 ns..1 s: fixed for the process, so read once,
 * not after every clock read of a request (a clock-offset run makes thousands). 0 on failure.
 */
static uint32_t clock_resolution_ns(void)
{
	static uint32_t cached; /* __atomic; 0: not read yet. Racing readers store the same value. */
	struct timespec realtime, monotonic;
	uint64_t resolution;
	uint32_t value = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (value != 0)
		return value;
	if (clock_getres(CLOCK_REALTIME, &realtime) != 0 || clock_getres(CLOCK_MONOTONIC, &monotonic) != 0)
		return 0;
	resolution = timespec_ns(&realtime) > timespec_ns(&monotonic) ? timespec_ns(&realtime) : timespec_ns(&monotonic);
	value = resolution == 0 ? 1 : resolution > 1000000000u ? 1000000000u : (uint32_t)resolution;
	__atomic_store_n(&cached, value, __ATOMIC_RELAXED);
	return value;
}

int winapi_host_system_time(struct winapi_host_time *time)
{
	struct timespec realtime, monotonic;
	uint32_t resolution;

	if (clock_gettime(CLOCK_REALTIME, &realtime) != 0 || clock_gettime(CLOCK_MONOTONIC, &monotonic) != 0)
		return -errno;
	if (realtime.tv_sec <= 0)
		return -ERANGE; /* a wall clock at or before 1970 says nothing */
	resolution = clock_resolution_ns();
	if (resolution == 0)
		return -errno;
	*time = (struct winapi_host_time){
		.realtime_ns = timespec_ns(&realtime),
		.monotonic_ns = timespec_ns(&monotonic),
		.resolution_ns = resolution,
	};
	return 0;
}

/* The value of the first "@key<spaces or tabs>: value" line of @path, without its newline. */
static int proc_value(const char *path, const char *key, char *value, size_t size)
{
	size_t key_length = strlen(key);
	char line[512];
	FILE *file;
	int rc = -ENOENT;

	file = fopen(path, "re");
	if (file == NULL)
		return -errno;
	while (fgets(line, sizeof(line), file) != NULL) {
		const char *cursor = line + key_length;

		if (strncmp(line, key, key_length) != 0)
			continue;
		cursor += strspn(cursor, " \t");
		if (*cursor != ':')
			continue;
		cursor += 1 + strspn(cursor + 1, " \t");
		snprintf(value, size, "%.*s", (int)strcspn(cursor, "\n"), cursor);
		rc = 0;
		break;
	}
	fclose(file);
	return rc;
}

/* /proc/meminfo's "@key: N kB" in bytes. */
static int meminfo_bytes(const char *key, uint64_t *bytes)
{
	unsigned long long kib;
	char value[64];
	int rc;

	rc = proc_value("/proc/meminfo", key, value, sizeof(value));
	if (rc != 0)
		return rc;
	if (sscanf(value, "%llu kB", &kib) != 1 || kib > UINT64_MAX / 1024)
		return -EINVAL;
	*bytes = (uint64_t)kib * 1024;
	return 0;
}

int winapi_host_system_info(struct winapi_host_info *info)
{
	char processor[WINAPI_HOST_INFO_PROCESSOR_SIZE * 2] = "";
	struct utsname names;
	struct sysinfo system;
	long processors;

	*info = (struct winapi_host_info){ 0 };
	processors = sysconf(_SC_NPROCESSORS_ONLN);
	if (processors < 1)
		return processors < 0 ? -errno : -ENODEV;
	info->processor_count = processors > UINT32_MAX ? UINT32_MAX : (uint32_t)processors;
	/* MemAvailable (Linux 3.14 on) is what a new program could have; MemFree leaves out caches. */
	if (meminfo_bytes("MemTotal", &info->memory_total) != 0 ||
	    meminfo_bytes("MemAvailable", &info->memory_available) != 0) {
		if (sysinfo(&system) != 0)
			return -errno;
		info->memory_total = (uint64_t)system.totalram * system.mem_unit;
		info->memory_available = (uint64_t)system.freeram * system.mem_unit;
	}
	if (info->memory_available > info->memory_total)
		info->memory_available = info->memory_total;
	if (uname(&names) == 0) {
		winapi_host_text_copy(info->os_name, sizeof(info->os_name), names.sysname);
		winapi_host_text_copy(info->os_version, sizeof(info->os_version), names.release);
		winapi_host_text_copy(info->host_name, sizeof(info->host_name), names.nodename);
		/* "6.12.8-amd64": as many of the three numbers as the release has. */
		(void)!sscanf(names.release, "%u.%u.%u", &info->os_major, &info->os_minor, &info->os_build);
	}
	/* x86's name for it; other architectures leave the text empty. */
	if (proc_value("/proc/cpuinfo", "model name", processor, sizeof(processor)) == 0)
		winapi_host_text_copy(info->processor, sizeof(info->processor), processor);
	return 0;
}

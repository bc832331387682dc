/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End to end: the host APIs (host.time, host.info) as the real programs serve them, through
 * the unchanged liblowlat: winapi-host-sim ("sim"), winapi-pmd attached to it ("pmd"),
 * winapi-pmd with its host inline ("inline") and winapi-hostd over the Hyper-V socket wire
 * ("hvsock"). Host and guest are this machine, so what the host says can be checked against
 * what the test reads itself: its name, processors and memory, and clocks that must fall
 * between the test's own reads around the call.
 *
 * With WINAPI_E2E_WINE_TCP=127.0.0.1:PORT (scripts/wine-test.sh) it checks instead the Windows
 * build's service, winapi-hostd.exe, run under Wine on this machine and reached on loopback
 * TCP: the same calls, answered by the Win32 implementation (drivers/host/system_windows.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi/host_apis.h>
#include <winapi/lowlat.h>
#include <winapi_internal/pmd.h>

#include "emulator.h"

#define ROUND_TRIPS 200u

static struct emulator sim, pmd, inline_pmd, hostd;
static char pmd_prefix[64], inline_prefix[64];

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t meminfo_total(void)
{
	unsigned long long kib = 0;
	char line[256];
	FILE *file = fopen("/proc/meminfo", "r");

	assert_non_null(file);
	while (fgets(line, sizeof(line), file) != NULL)
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(file);
	assert_true(kib != 0);
	return (uint64_t)kib * 1024;
}

/* ---- the checks, the same through every transport ---- */

static void check_table(winapi_handle_t handle)
{
	winapi_api_info_t info;

	assert_int_equal(winapi_api_lookup(handle, WINAPI_HOST_TIME_NAME, 1, &info), 0);
	assert_int_equal(info.api_id, WINAPI_HOST_TIME_ID);
	assert_int_equal(info.version, WINAPI_HOST_TIME_VERSION);
	assert_int_equal(info.max_request, 0);
	assert_int_equal(info.max_reply, WINAPI_HOST_TIME_SIZE);
	assert_int_equal(winapi_api_lookup(handle, WINAPI_HOST_INFO_NAME, 1, &info), 0);
	assert_int_equal(info.api_id, WINAPI_HOST_INFO_ID);
	assert_int_equal(info.max_reply, WINAPI_HOST_INFO_SIZE);
	/* A caller written for a major the host does not serve is told so, not answered. */
	assert_int_equal(winapi_api_lookup(handle, WINAPI_HOST_TIME_NAME, 2, &info), -EPROTONOSUPPORT);
}

/* The host is Windows under Wine (WINAPI_E2E_WINE_TCP), not this machine's Linux. */
static bool wine;

static void check_info(winapi_handle_t handle)
{
	winapi_host_info_t info;
	struct utsname names;
	unsigned int major = 0, minor = 0;
	char version[64];

	assert_int_equal(winapi_host_info(handle, &info), 0);
	assert_int_equal(uname(&names), 0);
	if (wine) {
		/* RtlGetVersion() as Wine answers it, and Wine's own version beside it. */
		assert_string_equal(info.os_name, "Windows");
		assert_non_null(strstr(info.os_version, "(Wine "));
		assert_true(info.os_major >= 5);
		snprintf(version, sizeof(version), "%u.%u.%u (Wine ", info.os_major, info.os_minor, info.os_build);
		assert_memory_equal(info.os_version, version, strlen(version));
	} else {
		assert_string_equal(info.os_name, names.sysname);
		assert_string_equal(info.os_version, names.release);
		assert_int_equal(sscanf(names.release, "%u.%u", &major, &minor), 2);
		assert_int_equal(info.os_major, major);
		assert_int_equal(info.os_minor, minor);
	}
	/* Wine answers from this machine: its host name, processors and memory. */
	assert_string_equal(info.host_name, names.nodename);
	assert_int_equal(info.processor_count, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	/* Wine takes the total from sysinfo(), in its own units: within a percent of MemTotal. */
	if (wine)
		assert_true(info.memory_total > meminfo_total() - meminfo_total() / 100 &&
			    info.memory_total < meminfo_total() + meminfo_total() / 100);
	else
		assert_int_equal(info.memory_total, meminfo_total());
	assert_true(info.memory_available > 0 && info.memory_available <= info.memory_total);
	assert_int_equal(winapi_host_info(NULL, &info), -EINVAL);
	assert_int_equal(winapi_host_info(handle, NULL), -EINVAL);
}

static void check_time(winapi_handle_t handle)
{
	uint64_t real_before, real_after, mono_before, mono_after;
	winapi_host_time_t time;
	uint64_t last_monotonic = 0;
	unsigned int i;

	/*
	 * The host's clocks are this machine's: each reading lies between ours around the call,
	 * give or take the host clock's resolution (Windows counts in 100 ns). Wine's monotonic
	 * clock (QueryPerformanceCounter) has an origin of its own: it only has to go forward.
	 */
	for (i = 0; i < 20; i++) {
		real_before = clock_ns(CLOCK_REALTIME);
		mono_before = clock_ns(CLOCK_MONOTONIC);
		assert_int_equal(winapi_host_time(handle, &time), 0);
		mono_after = clock_ns(CLOCK_MONOTONIC);
		real_after = clock_ns(CLOCK_REALTIME);
		assert_true(time.resolution_ns >= 1 && time.resolution_ns <= 1000000000u);
		if (wine)
			assert_true(time.monotonic_ns >= last_monotonic);
		else
			assert_true(time.monotonic_ns >= mono_before && time.monotonic_ns <= mono_after);
		last_monotonic = time.monotonic_ns;
		if (real_after >= real_before) /* unless the wall clock stepped meanwhile */
			assert_true(time.realtime_ns + time.resolution_ns >= real_before &&
				    time.realtime_ns <= real_after + time.resolution_ns);
	}
	assert_int_equal(winapi_host_time(handle, NULL), -EINVAL);
}

static void check_clock_offset(winapi_handle_t handle)
{
	winapi_clock_offset_t offset;

	assert_int_equal(winapi_clock_offset(handle, ROUND_TRIPS, &offset), 0);
	assert_int_equal(offset.round_trips, ROUND_TRIPS);
	assert_true(offset.round_trip_ns > 0 && offset.error_bound_ns >= offset.round_trip_ns / 2);
	/* One machine, one clock: the true offset is 0, and the bound must hold it. */
	if (!wine)
		assert_true((uint64_t)llabs(offset.monotonic_offset_ns) <= offset.error_bound_ns);
	assert_true((uint64_t)llabs(offset.realtime_offset_ns) <= offset.error_bound_ns);
	assert_int_equal(winapi_clock_offset(handle, 0, &offset), -EINVAL);
	assert_int_equal(winapi_clock_offset(handle, 100001, &offset), -EINVAL);
	assert_int_equal(winapi_clock_offset(handle, 1, NULL), -EINVAL);
}

/* ---- files: the exports the test made (make_exports()) ---- */

#define BIG_SIZE (5u << 20) /* more than one buffer, and not a multiple of a page */
#define BUFFER_SIZE (2u << 20)

static char export_rw[256], export_ro[256]; /* "data" (rw) and "ro" (read-only) */
static char outside_target[256];             /* where data/dangle points: outside both exports */
static uint8_t *big;                         /* big.bin's bytes */
static bool files_exported;                  /* false: the host under test exports nothing */

static void write_file(const char *directory, const char *name, const void *data, size_t length)
{
	char path[512];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", directory, name);
	file = fopen(path, "wb");
	assert_non_null(file);
	assert_int_equal(fwrite(data, 1, length, file), length);
	assert_int_equal(fclose(file), 0);
}

/*
 * data/ holds big.bin, sub/a.txt, a symbolic link to /etc/passwd (escape), one to a directory
 * outside (outside/), one within (inside -> sub/a.txt); ro/ holds one file.
 */
static void make_exports(const char *root)
{
	char path[512];
	unsigned int i, seed = 7;

	snprintf(export_rw, sizeof(export_rw), "%s/data", root);
	snprintf(export_ro, sizeof(export_ro), "%s/ro", root);
	/* They may be there already, empty: a host must find its export's directory at start. */
	assert_true(mkdir(export_rw, 0750) == 0 || errno == EEXIST);
	assert_true(mkdir(export_ro, 0750) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/sub", export_rw);
	assert_int_equal(mkdir(path, 0750), 0);
	big = malloc(BIG_SIZE);
	assert_non_null(big);
	for (i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)rand_r(&seed);
	write_file(export_rw, "big.bin", big, BIG_SIZE);
	write_file(export_rw, "sub/a.txt", "hello\n", 6);
	write_file(export_ro, "kept.txt", "kept\n", 5);
	snprintf(path, sizeof(path), "%s/escape", export_rw);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/outside", export_rw);
	assert_int_equal(symlink("/etc", path), 0);
	snprintf(path, sizeof(path), "%s/inside", export_rw);
	assert_int_equal(symlink("sub/a.txt", path), 0);
	/* A link to a file that is not there yet, outside: a create through it must make nothing. */
	snprintf(outside_target, sizeof(outside_target), "%s/outside-target", root);
	snprintf(path, sizeof(path), "%s/dangle", export_rw);
	assert_int_equal(symlink(outside_target, path), 0);
}

/* A host.file.* request as a hostile guest sends it: no check of the library's in the way. */
static int raw_file_call(winapi_handle_t handle, uint16_t api, const char *export_name, const char *path,
			 size_t path_length, void *reply, size_t reply_size)
{
	struct winapi_file_request request = { .export_name = export_name, .path = path,
					       .export_length = (uint16_t)strlen(export_name),
					       .path_length = (uint16_t)path_length };
	uint8_t bytes[WINAPI_FILE_REQUEST_MAX];
	winapi_api_call_t call = { .api = api, .version_major = 1, .input = bytes, .output = reply,
				   .output_size = reply_size };
	size_t length;
	int size = winapi_file_request_encode(&request, bytes, sizeof(bytes)), rc;

	assert_true(size > 0);
	call.input_length = (size_t)size;
	rc = winapi_call_api(handle, &call, &length);
	if (rc == 0 && length != reply_size)
		rc = -EBADMSG;
	return rc;
}

static uint32_t raw_stat_error(winapi_handle_t handle, const char *export_name, const char *path, size_t length)
{
	uint8_t reply[WINAPI_FILE_STAT_SIZE];
	struct winapi_file_stat stat;

	assert_int_equal(raw_file_call(handle, WINAPI_HOST_FILE_STAT_ID, export_name, path, length, reply, sizeof(reply)),
			 0);
	assert_int_equal(winapi_file_stat_decode(reply, sizeof(reply), &stat), 0);
	return stat.error;
}

static void check_files_unexported(winapi_handle_t handle)
{
	winapi_file_stat_t stat;

	/* Nothing exported, nothing reachable. */
	assert_int_equal(winapi_file_stat(handle, "data", "", &stat), -ENOENT);
	assert_int_equal(raw_stat_error(handle, "data", "../etc/passwd", 13), WINAPI_FILE_ENOENT);
}

static void check_file_reads(winapi_handle_t handle)
{
	winapi_buffer_t buffers[3];
	winapi_file_stat_t stat;
	uint64_t bytes;
	bool eof;
	unsigned int i;

	assert_int_equal(winapi_file_stat(handle, "data", "", &stat), 0);
	assert_int_equal(stat.type, WINAPI_FILE_TYPE_DIRECTORY);
	assert_int_equal(stat.flags, WINAPI_FILE_WRITABLE);
	assert_int_equal(winapi_file_stat(handle, "data", "big.bin", &stat), 0);
	assert_int_equal(stat.type, WINAPI_FILE_TYPE_REGULAR);
	assert_int_equal(stat.size, BIG_SIZE);
	assert_true(stat.mtime_ns > 0);
	assert_int_equal(winapi_file_stat(handle, "ro", "kept.txt", &stat), 0);
	assert_int_equal(stat.flags, 0);
	assert_int_equal(winapi_file_stat(handle, "data", "missing", &stat), -ENOENT);

	/* The whole file into three buffers at once (6 MiB of room for 5 MiB), then its tail. */
	for (i = 0; i < 3; i++)
		assert_int_equal(winapi_alloc_buffer(&buffers[i], BUFFER_SIZE), 0);
	assert_int_equal(winapi_file_read(handle, "data", "big.bin", 0, 3 * BUFFER_SIZE, buffers, 3, &bytes, &eof), 0);
	assert_int_equal(bytes, BIG_SIZE);
	assert_true(eof);
	assert_memory_equal(buffers[0].data, big, BUFFER_SIZE);
	assert_memory_equal(buffers[1].data, big + BUFFER_SIZE, BUFFER_SIZE);
	assert_memory_equal(buffers[2].data, big + 2 * BUFFER_SIZE, BIG_SIZE - 2 * BUFFER_SIZE);
	assert_int_equal(winapi_file_read(handle, "data", "big.bin", 12345, 1000, buffers, 1, &bytes, &eof), 0);
	assert_int_equal(bytes, 1000);
	assert_false(eof);
	assert_memory_equal(buffers[0].data, big + 12345, 1000);
	assert_int_equal(winapi_file_read(handle, "data", "big.bin", BIG_SIZE, 10, buffers, 1, &bytes, &eof), 0);
	assert_int_equal(bytes, 0);
	assert_true(eof);
	assert_int_equal(winapi_file_read(handle, "data", "inside", 0, 10, buffers, 1, &bytes, &eof), 0);
	assert_int_equal(bytes, 6);
	assert_memory_equal(buffers[0].data, "hello\n", 6);
	assert_int_equal(winapi_file_read(handle, "data", "sub", 0, 10, buffers, 1, &bytes, &eof), -EISDIR);
	/* More than the buffers hold never leaves the process. */
	assert_int_equal(winapi_file_read(handle, "data", "big.bin", 0, BUFFER_SIZE + 1, buffers, 1, &bytes, &eof),
			 -EINVAL);
	for (i = 0; i < 3; i++)
		winapi_free_buffer(&buffers[i]);
}

static void check_file_writes(winapi_handle_t handle)
{
	winapi_buffer_t buffer;
	char path[512], text[16] = "";
	uint64_t bytes;
	FILE *file;

	snprintf(path, sizeof(path), "%s/new.txt", export_rw);
	unlink(path); /* a transport before this one wrote it */
	assert_int_equal(winapi_alloc_buffer(&buffer, 4096), 0);
	memcpy(buffer.data, "written by the guest", 20);
	assert_int_equal(winapi_file_write(handle, "data", "new.txt", 0, 20, 0, &buffer, 1, &bytes), -ENOENT);
	assert_int_equal(winapi_file_write(handle, "data", "new.txt", 0, 20, WINAPI_FILE_CREATE, &buffer, 1, &bytes), 0);
	assert_int_equal(bytes, 20);
	/* Over the start, cut after: the file is the 7 bytes written. */
	assert_int_equal(winapi_file_write(handle, "data", "new.txt", 0, 7, WINAPI_FILE_TRUNCATE, &buffer, 1, &bytes),
			 0);
	file = fopen(path, "rb");
	assert_non_null(file);
	assert_int_equal(fread(text, 1, sizeof(text), file), 7);
	fclose(file);
	assert_memory_equal(text, "written", 7);
	assert_int_equal(winapi_file_write(handle, "ro", "kept.txt", 0, 4, 0, &buffer, 1, &bytes), -EROFS);
	assert_int_equal(winapi_file_write(handle, "ro", "new.txt", 0, 4, WINAPI_FILE_CREATE, &buffer, 1, &bytes),
			 -EROFS);
	/* Out of the export through a link: refused before a byte is written. */
	assert_int_equal(winapi_file_write(handle, "data", "outside/winapi-e2e", 0, 4, WINAPI_FILE_CREATE, &buffer, 1,
					   &bytes),
			 -EACCES);
	assert_int_equal(access("/etc/winapi-e2e", F_OK), -1);
	/* Through a dangling link out (Linux: EACCES; Wine: ENOENT, the link is no reparse point). */
	assert_true(winapi_file_write(handle, "data", "dangle", 0, 4, WINAPI_FILE_CREATE, &buffer, 1, &bytes) < 0);
	assert_int_equal(access(outside_target, F_OK), -1);
	winapi_free_buffer(&buffer);
}

static void check_file_list(winapi_handle_t handle)
{
	static const char *const linux_names[] = { "big.bin", "dangle", "escape", "inside", "new.txt", "outside", "sub" };
	/* Wine lists no dangling link: a Unix link is shown as what it names, and this one names nothing. */
	static const char *const wine_names[] = { "big.bin", "escape", "inside", "new.txt", "outside", "sub" };
	const char *const *expected = wine ? wine_names : linux_names;
	const unsigned int total = wine ? sizeof(wine_names) / sizeof(wine_names[0]) :
					  sizeof(linux_names) / sizeof(linux_names[0]);
	winapi_file_entry_t entries[16];
	unsigned int i;
	bool more;
	int count;

	count = winapi_file_list(handle, "data", "", 0, entries, 16, &more);
	assert_int_equal(count, total);
	assert_false(more);
	for (i = 0; i < total; i++)
		assert_string_equal(entries[i].name, expected[i]);
	assert_int_equal(entries[0].type, WINAPI_FILE_TYPE_REGULAR);
	assert_int_equal(entries[0].size, BIG_SIZE);
	assert_int_equal(entries[total - 1].type, WINAPI_FILE_TYPE_DIRECTORY);
	/* Page by page: two at a time, from where the last page ended. */
	for (i = 0; i < total; i += 2) {
		assert_int_equal(winapi_file_list(handle, "data", "", i, entries, 2, &more), i + 2 <= total ? 2 : 1);
		assert_string_equal(entries[0].name, expected[i]);
		assert_int_equal(more, i + 2 < total);
	}
	assert_int_equal(winapi_file_list(handle, "data", "sub", 0, entries, 16, &more), 1);
	assert_string_equal(entries[0].name, "a.txt");
	assert_int_equal(winapi_file_list(handle, "data", "big.bin", 0, entries, 16, &more), -ENOTDIR);
	assert_int_equal(winapi_file_list(handle, "data", "outside", 0, entries, 16, &more), -EACCES);
}

/*
 * The race a path check alone loses: data/race flips between a directory of the export and a
 * link to a directory outside it, as fast as a thread can rename, while the guest reads
 * race/secret.txt. Each read that succeeds must be the inside file's; the opens beneath the
 * export (openat2 on Linux, handle-relative with final paths on Windows) must never land on
 * the outside one.
 */
#define RACE_READS 400u

struct race {
	char directory[320], link[320], spare[320];
	bool stop; /* __atomic */
};

static void *flip(void *argument)
{
	struct race *race = argument;

	while (!__atomic_load_n(&race->stop, __ATOMIC_RELAXED)) {
		/* rename() swaps atomically: race is a directory, then the link, then the directory. */
		(void)!rename(race->link, race->spare);
		(void)!rename(race->directory, race->link);
		(void)!rename(race->link, race->directory);
		(void)!rename(race->spare, race->link);
		(void)!rename(race->link, race->spare);
		(void)!rename(race->spare, race->link);
	}
	return NULL;
}

static void check_file_race(winapi_handle_t handle)
{
	struct race race = { .stop = false };
	char inside_dir[320], outside_dir[320], path[400];
	winapi_buffer_t buffer;
	unsigned int i, inside = 0;
	pthread_t thread;
	uint64_t bytes;
	bool eof;

	snprintf(inside_dir, sizeof(inside_dir), "%s/race-inside", export_rw);
	snprintf(outside_dir, sizeof(outside_dir), "%s/../race-outside", export_rw);
	assert_true(mkdir(inside_dir, 0750) == 0 || errno == EEXIST);
	assert_true(mkdir(outside_dir, 0750) == 0 || errno == EEXIST);
	write_file(inside_dir, "secret.txt", "inside\n", 7);
	write_file(outside_dir, "secret.txt", "OUTSIDE", 7);
	snprintf(race.directory, sizeof(race.directory), "%s/race", export_rw);
	snprintf(race.link, sizeof(race.link), "%s/race-link", export_rw);
	snprintf(race.spare, sizeof(race.spare), "%s/race-spare", export_rw);
	unlink(race.link);
	rmdir(race.directory);
	unlink(race.spare);
	assert_int_equal(rename(inside_dir, race.directory), 0);
	assert_int_equal(symlink(outside_dir, race.link), 0);
	assert_int_equal(winapi_alloc_buffer(&buffer, 4096), 0);
	assert_int_equal(pthread_create(&thread, NULL, flip, &race), 0);
	for (i = 0; i < RACE_READS; i++) {
		memset(buffer.data, 0, 8);
		if (winapi_file_read(handle, "data", "race/secret.txt", 0, 7, &buffer, 1, &bytes, &eof) != 0)
			continue; /* not there this instant, or refused: either way nothing of outside's */
		assert_int_equal(bytes, 7);
		if (memcmp(buffer.data, "OUTSIDE", 7) == 0)
			fail_msg("read %u reached the file outside the export", i);
		assert_memory_equal(buffer.data, "inside\n", 7);
		inside++;
	}
	__atomic_store_n(&race.stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	winapi_free_buffer(&buffer);
	/* Leave the export as the listing expects it. */
	snprintf(path, sizeof(path), "%s/secret.txt", race.directory);
	unlink(race.link);
	unlink(race.spare);
	unlink(path);
	rmdir(race.directory);
	snprintf(path, sizeof(path), "%s/secret.txt", outside_dir);
	unlink(path);
	rmdir(outside_dir);
	/* The race must have been run, not lost: some reads found the directory in place. */
	assert_true(inside > 0);
}

/* What a hostile guest sends, refused by the host itself (the library would not send it). */
static void check_file_confinement(winapi_handle_t handle)
{
	static const char *const refused[] = { "../etc/passwd", "/etc/passwd", "sub/../../etc/passwd", "..", ".",
					       "sub/", "/", "a//b", "sub\\a.txt", "big.bin:stream", "C:/Windows",
					       "CON", "nul.txt", "com1", "LPT9.log", "trailing.", "trailing ",
					       "a*b", "a?b", "a|b", "\x01", "\xc0\xaf" };
	winapi_file_stat_t stat;
	unsigned int i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (raw_stat_error(handle, "data", refused[i], strlen(refused[i])) != WINAPI_FILE_EINVAL)
			fail_msg("path '%s' not refused by the host", refused[i]);
		assert_int_equal(winapi_file_stat(handle, "data", refused[i], &stat), -EINVAL);
	}
	assert_int_equal(raw_stat_error(handle, "data", "sub\0/a.txt", 10), WINAPI_FILE_EINVAL);
	/* Symbolic links out of the export: refused by the kernel's (or Windows') walk. */
	assert_int_equal(raw_stat_error(handle, "data", "escape", 6), WINAPI_FILE_EACCES);
	assert_int_equal(raw_stat_error(handle, "data", "outside/passwd", 14), WINAPI_FILE_EACCES);
	assert_int_equal(raw_stat_error(handle, "nope", "", 0), WINAPI_FILE_ENOENT);
	assert_int_equal(raw_stat_error(handle, "Data", "", 0), WINAPI_FILE_ENOENT);
}

static void check_files(winapi_handle_t handle)
{
	if (!files_exported) {
		check_files_unexported(handle);
		return;
	}
	check_file_reads(handle);
	check_file_writes(handle);
	check_file_list(handle);
	check_file_confinement(handle);
	check_file_race(handle);
}

static void check_all(void)
{
	winapi_handle_t handle = winapi_init();

	assert_non_null(handle);
	check_table(handle);
	check_info(handle);
	check_time(handle);
	check_clock_offset(handle);
	check_files(handle);
	winapi_cleanup(handle);
}

/* ---- the programs ---- */

static char exports_root[64] = "/tmp/host_apis_e2e.XXXXXX";
static char export_rw_spec[300], export_ro_spec[300];

static int sim_setup(void **state)
{
	const char *arguments[] = { "--export", export_rw_spec, "--export", export_ro_spec, NULL };

	(void)state;
	if (mkdtemp(exports_root) == NULL)
		return -1;
	make_exports(exports_root);
	snprintf(export_rw_spec, sizeof(export_rw_spec), "data=%s:rw", export_rw);
	snprintf(export_ro_spec, sizeof(export_ro_spec), "ro=%s", export_ro);
	if (emulator_prepare(&sim, "host_apis_e2e") != 0 || emulator_start(&sim, arguments) != 0)
		return -1;
	setenv("WINAPI_TRANSPORT", "sim", 1);
	return 0;
}

static void remove_exports(void)
{
	char command[128];

	snprintf(command, sizeof(command), "rm -rf '%s'", exports_root);
	(void)!system(command);
	free(big);
}

static int sim_teardown(void **state)
{
	(void)state;
	emulator_cleanup(&sim);
	remove_exports();
	return 0;
}

static void test_sim(void **state)
{
	(void)state;
	setenv("WINAPI_TRANSPORT", "sim", 1);
	setenv("WINAPI_SIM_SOCKET", sim.socket_path, 1);
	files_exported = true;
	check_all();
}

static int start_pmd(struct emulator *daemon, char *prefix, size_t prefix_size, const char *name,
		     const char *const *backend)
{
	const char *arguments[16] = { "--lcores", "0", "--file-prefix", prefix, "--pool-size", "8" };
	unsigned int count = 6;

	snprintf(prefix, prefix_size, "%s-%d", name, (int)getpid());
	while (*backend != NULL)
		arguments[count++] = *backend++;
	arguments[count] = NULL;
	return emulator_prepare_program(daemon, name, "winapi-pmd") != 0 || emulator_start(daemon, arguments) != 0 ?
		       -1 : 0;
}

static void stop_pmd(struct emulator *daemon, const char *prefix)
{
	char directory[108];

	/* SIGTERM: the daemon removes its sockets and runtime directory on its way out. */
	emulator_stop(daemon, SIGTERM);
	emulator_cleanup(daemon);
	if (winapi_pmd_runtime_dir(prefix, false, directory, sizeof(directory)) == 0)
		rmdir(directory);
}

static void test_pmd(void **state)
{
	const char *const backend[] = { "--backend", "sim", "--sim-socket", sim.socket_path, NULL };

	(void)state;
	assert_int_equal(start_pmd(&pmd, pmd_prefix, sizeof(pmd_prefix), "host-apis-e2e-pmd", backend), 0);
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	files_exported = true; /* the emulator's, which winapi-pmd forwards to */
	check_all();
	stop_pmd(&pmd, pmd_prefix);
}

static void test_pmd_inline(void **state)
{
	const char *const backend[] = { "--backend", "inline", NULL };

	(void)state;
	assert_int_equal(start_pmd(&inline_pmd, inline_prefix, sizeof(inline_prefix), "host-apis-e2e-inline", backend),
			 0);
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", inline_pmd.socket_path, 1);
	files_exported = false; /* the inline host exports nothing */
	check_all();
	stop_pmd(&inline_pmd, inline_prefix);
}

static void test_hvsock(void **state)
{
	const char *arguments[] = { "--export", export_rw_spec, "--export", export_ro_spec, NULL };

	(void)state;
	assert_int_equal(emulator_prepare_program(&hostd, "host-apis-e2e-hostd", "winapi-hostd"), 0);
	assert_int_equal(emulator_start(&hostd, arguments), 0);
	setenv("WINAPI_TRANSPORT", "hvsock", 1);
	setenv("WINAPI_SOCKET_PATH", hostd.socket_path, 1);
	files_exported = true;
	check_all();
	emulator_cleanup(&hostd);
}

/* The Linux service on loopback TCP (--tcp, port 0: the one it logs), the hvsock transport on WINAPI_SOCKET_TCP. */
static void test_hvsock_tcp(void **state)
{
	const char *arguments[] = { "--tcp", "127.0.0.1:0", "--export", export_rw_spec, "--export", export_ro_spec, NULL };
	const char *refused[] = { "--tcp", "10.0.0.1:5000", NULL };
	char line[256], address[64] = "";
	const char *at;
	FILE *log;

	(void)state;
	assert_int_equal(emulator_prepare_program(&hostd, "host-apis-e2e-tcp", "winapi-hostd"), 0);
	/* Off this machine: refused at start, with a reason. */
	assert_int_not_equal(emulator_start_logged(&hostd, refused, "serving TCP"), 0);
	assert_true(emulator_log_contains(&hostd, "loopback only"));
	assert_int_equal(emulator_start_logged(&hostd, arguments, "serving TCP"), 0);
	log = fopen(hostd.log_path, "r");
	assert_non_null(log);
	while (fgets(line, sizeof(line), log) != NULL)
		if ((at = strstr(line, "serving TCP ")) != NULL)
			sscanf(at, "serving TCP %63s", address);
	fclose(log);
	assert_non_null(strstr(address, "127.0.0.1:"));
	setenv("WINAPI_TRANSPORT", "hvsock", 1);
	unsetenv("WINAPI_SOCKET_PATH");
	setenv("WINAPI_SOCKET_TCP", "10.0.0.1:5000", 1);
	errno = 0;
	assert_null(winapi_init());
	assert_int_equal(errno, EADDRNOTAVAIL);
	setenv("WINAPI_SOCKET_TCP", address, 1);
	files_exported = true;
	check_all();
	unsetenv("WINAPI_SOCKET_TCP");
	emulator_cleanup(&hostd);
}

static void test_wine(void **state)
{
	(void)state;
	check_all();
}

int main(void)
{
	const struct CMUnitTest wine_tests[] = {
		cmocka_unit_test(test_wine),
	};
	const char *wine_tcp = getenv("WINAPI_E2E_WINE_TCP");
	const char *wine_exports = getenv("WINAPI_E2E_WINE_EXPORTS");

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim),
		cmocka_unit_test(test_pmd),
		cmocka_unit_test(test_pmd_inline),
		cmocka_unit_test(test_hvsock),
		cmocka_unit_test(test_hvsock_tcp),
	};

	signal(SIGPIPE, SIG_IGN);
	/* Every call must succeed on a loaded machine: a minute each, not the default 5 s. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	if (wine_tcp != NULL) {
		/* scripts/wine-test.sh made these directories and exported them to winapi-hostd.exe. */
		if (wine_exports == NULL) {
			fprintf(stderr, "host_apis_e2e: WINAPI_E2E_WINE_EXPORTS names the exports' directory\n");
			return 1;
		}
		make_exports(wine_exports);
		files_exported = true;
		wine = true;
		setenv("WINAPI_TRANSPORT", "hvsock", 1);
		setenv("WINAPI_SOCKET_TCP", wine_tcp, 1);
		return cmocka_run_group_tests_name("host_apis under Wine", wine_tests, NULL, NULL) != 0;
	}
	return cmocka_run_group_tests_name("host_apis", tests, sim_setup, sim_teardown) != 0;
}

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
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void check_all(void)
{
	winapi_handle_t handle = winapi_init();

	assert_non_null(handle);
	check_table(handle);
	check_info(handle);
	check_time(handle);
	check_clock_offset(handle);
	winapi_cleanup(handle);
}

/* ---- the programs ---- */

static int sim_setup(void **state)
{
	(void)state;
	if (emulator_prepare(&sim, "host_apis_e2e") != 0 || emulator_start(&sim, NULL) != 0)
		return -1;
	setenv("WINAPI_TRANSPORT", "sim", 1);
	return 0;
}

static int sim_teardown(void **state)
{
	(void)state;
	emulator_cleanup(&sim);
	return 0;
}

static void test_sim(void **state)
{
	(void)state;
	setenv("WINAPI_TRANSPORT", "sim", 1);
	setenv("WINAPI_SIM_SOCKET", sim.socket_path, 1);
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
	check_all();
	stop_pmd(&inline_pmd, inline_prefix);
}

static void test_hvsock(void **state)
{
	(void)state;
	assert_int_equal(emulator_prepare_program(&hostd, "host-apis-e2e-hostd", "winapi-hostd"), 0);
	assert_int_equal(emulator_start(&hostd, NULL), 0);
	setenv("WINAPI_TRANSPORT", "hvsock", 1);
	setenv("WINAPI_SOCKET_PATH", hostd.socket_path, 1);
	check_all();
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

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim),
		cmocka_unit_test(test_pmd),
		cmocka_unit_test(test_pmd_inline),
		cmocka_unit_test(test_hvsock),
	};

	signal(SIGPIPE, SIG_IGN);
	/* Every call must succeed on a loaded machine: a minute each, not the default 5 s. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	if (wine_tcp != NULL) {
		wine = true;
		setenv("WINAPI_TRANSPORT", "hvsock", 1);
		setenv("WINAPI_SOCKET_TCP", wine_tcp, 1);
		return cmocka_run_group_tests_name("host_apis under Wine", wine_tests, NULL, NULL) != 0;
	}
	return cmocka_run_group_tests_name("host_apis", tests, sim_setup, sim_teardown) != 0;
}

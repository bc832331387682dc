/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host APIs every winapi host serves (1.1 table, found by name with winapi_api_lookup()):
 * their names, ids, versions and reply layouts on the wire, and the checks a guest applies to
 * what a host answers. The same bytes from every host: the Linux build (winapi-host-sim,
 * winapi-hostd, winapi-pmd --backend inline) reads POSIX clocks and /proc, the Windows build
 * (winapi-hostd.exe) the Win32 calls named below.
 *
 *   name        id  version  request  reply
 *   host.time   32  1.0      none     struct winapi_host_time, 24 bytes
 *   host.info   33  1.0      none     struct winapi_host_info, 480 bytes
 *
 * Everything is little-endian on the wire; a decoded struct has the same fields in host order.
 * A later minor version may append fields: a 1.x reply is at least the 1.0 size, and a guest
 * reads the fields it knows.
 *
 * Synchronisation: the encode and decode calls touch only their arguments; any may run
 * concurrently with any other.
 *
 * Owner: lib/winapi
 */
#ifndef WINAPI_HOST_APIS_H
#define WINAPI_HOST_APIS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WINAPI_HOST_TIME_NAME "host.time"
#define WINAPI_HOST_TIME_ID 32u
#define WINAPI_HOST_TIME_VERSION 0x100u
#define WINAPI_HOST_INFO_NAME "host.info"
#define WINAPI_HOST_INFO_ID 33u
#define WINAPI_HOST_INFO_VERSION 0x100u

/**
 * host.time: the host's clocks, read as the handler starts (as close to the request's arrival
 * as the host can). Linux: CLOCK_REALTIME and CLOCK_MONOTONIC. Windows:
 * GetSystemTimePreciseAsFileTime() and QueryPerformanceCounter() scaled to nanoseconds.
 */
struct winapi_host_time {
	uint64_t realtime_ns;   /**< @0  wall clock, ns since 1970-01-01 00:00 UTC; not 0 */
	uint64_t monotonic_ns;  /**< @8  a clock that never steps back, ns from an origin of the host's */
	uint32_t resolution_ns; /**< @16 the coarser of the two clocks' resolutions; 1..1000000000 */
	uint32_t reserved;      /**< @20 zero */
};

#define WINAPI_HOST_TIME_SIZE 24u
static_assert(sizeof(struct winapi_host_time) == WINAPI_HOST_TIME_SIZE, "host.time is 24 bytes");

/** Sizes of host.info's text fields, each NUL-terminated and NUL-padded UTF-8. */
#define WINAPI_HOST_INFO_OS_NAME_SIZE 64u
#define WINAPI_HOST_INFO_OS_VERSION_SIZE 64u
#define WINAPI_HOST_INFO_HOST_NAME_SIZE 256u
#define WINAPI_HOST_INFO_PROCESSOR_SIZE 64u

/**
 * host.info: what the host is. Linux: uname(), gethostname(), sysconf(_SC_NPROCESSORS_ONLN),
 * /proc/cpuinfo's model name, /proc/meminfo's MemTotal and MemAvailable. Windows:
 * RtlGetVersion(), GetComputerNameExW(ComputerNameDnsHostname), GetNativeSystemInfo(), the
 * registry's ProcessorNameString, GlobalMemoryStatusEx(). A text the host cannot tell is empty.
 */
struct winapi_host_info {
	uint32_t processor_count;  /**< @0  logical processors; at least 1 */
	uint32_t os_major;         /**< @4  Linux 6.12.8: 6; Windows 10.0.26100: 10 */
	uint32_t os_minor;         /**< @8  12; 0 */
	uint32_t os_build;         /**< @12 8; 26100 */
	uint64_t memory_total;     /**< @16 bytes of physical memory */
	uint64_t memory_available; /**< @24 bytes available now; <= memory_total */
	char os_name[WINAPI_HOST_INFO_OS_NAME_SIZE];       /**< @32  "Linux", "Windows" */
	char os_version[WINAPI_HOST_INFO_OS_VERSION_SIZE]; /**< @96  free text: "6.12.8-amd64", "10.0.26100 (Wine 8.0)" */
	char host_name[WINAPI_HOST_INFO_HOST_NAME_SIZE];   /**< @160 the host's name (DNS host name on Windows) */
	char processor[WINAPI_HOST_INFO_PROCESSOR_SIZE];   /**< @416 processor model */
};

#define WINAPI_HOST_INFO_SIZE 480u
static_assert(sizeof(struct winapi_host_info) == WINAPI_HOST_INFO_SIZE, "host.info is 480 bytes");
static_assert(offsetof(struct winapi_host_info, host_name) == 160, "host_name @160");

/** Encode @p time into @p out (WINAPI_HOST_TIME_SIZE bytes); reserved goes as 0. */
void winapi_host_time_encode(const struct winapi_host_time *time, void *out);

/**
 * Decode a host.time reply of @p length bytes from the host.
 * @return 0; -EBADMSG (shorter than WINAPI_HOST_TIME_SIZE, realtime 0, a resolution of 0 or
 *         over a second).
 */
int winapi_host_time_decode(const void *in, size_t length, struct winapi_host_time *time);

/**
 * Encode @p info into @p out (WINAPI_HOST_INFO_SIZE bytes). Texts are cut to their field
 * (at a UTF-8 character's start) and NUL-padded.
 */
void winapi_host_info_encode(const struct winapi_host_info *info, void *out);

/**
 * Decode a host.info reply of @p length bytes from the host.
 * @return 0; -EBADMSG (shorter than WINAPI_HOST_INFO_SIZE, no processor, more memory
 *         available than there is, a text not NUL-terminated within its field or with bytes
 *         after its NUL, or not UTF-8).
 */
int winapi_host_info_decode(const void *in, size_t length, struct winapi_host_info *info);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HOST_APIS_H */

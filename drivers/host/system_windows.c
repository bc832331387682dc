/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host.time and host.info on Windows (system.h): GetSystemTimePreciseAsFileTime() and
 * QueryPerformanceCounter(); RtlGetVersion() (GetVersionExW() lies to programs without a
 * manifest), GetComputerNameExW(), GetActiveProcessorCount(), the registry's
 * ProcessorNameString, GlobalMemoryStatusEx(). Wide strings cross as UTF-8. Under Wine, ntdll
 * says which Wine it is, and os_version says so too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "system.h"

/* 100 ns intervals from 1601-01-01 (FILETIME's origin) to 1970-01-01. */
#define FILETIME_UNIX_EPOCH 116444736000000000ull

int winapi_host_system_time(struct winapi_host_time *time)
{
	LARGE_INTEGER counter, frequency;
	ULARGE_INTEGER intervals;
	uint64_t resolution;
	FILETIME now;

	GetSystemTimePreciseAsFileTime(&now);
	QueryPerformanceCounter(&counter);
	QueryPerformanceFrequency(&frequency); /* fixed at boot: a read of shared memory */
	intervals.LowPart = now.dwLowDateTime;
	intervals.HighPart = now.dwHighDateTime;
	if (intervals.QuadPart <= FILETIME_UNIX_EPOCH || frequency.QuadPart <= 0 || counter.QuadPart < 0)
		return -ERANGE;
	/* The counter runs at 10 MHz on Windows 10 and later, but nothing promises it. */
	resolution = (1000000000u + (uint64_t)frequency.QuadPart - 1) / (uint64_t)frequency.QuadPart;
	*time = (struct winapi_host_time){
		.realtime_ns = (intervals.QuadPart - FILETIME_UNIX_EPOCH) * 100u,
		.monotonic_ns = (uint64_t)((unsigned __int128)counter.QuadPart * 1000000000u /
					   (uint64_t)frequency.QuadPart),
		.resolution_ns = resolution < 100 ? 100 : resolution > 1000000000u ? 1000000000u : (uint32_t)resolution,
	};
	return 0;
}

/* @wide as UTF-8 into @field; empty when it does not convert. */
static void wide_copy(char *field, size_t size, const wchar_t *wide)
{
	char text[1024];

	if (WideCharToMultiByte(CP_UTF8, 0, wide, -1, text, (int)sizeof(text), NULL, NULL) == 0)
		text[0] = '\0';
	winapi_host_text_copy(field, size, text);
}

typedef LONG(WINAPI *rtl_get_version_fn)(RTL_OSVERSIONINFOW *version);
typedef const char *(CDECL *wine_get_version_fn)(void);

static void os_version(struct winapi_host_info *info)
{
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	RTL_OSVERSIONINFOW version = { .dwOSVersionInfoSize = sizeof(version) };
	rtl_get_version_fn rtl_get_version;
	wine_get_version_fn wine_get_version;
	char text[128];

	winapi_host_text_copy(info->os_name, sizeof(info->os_name), "Windows");
	if (ntdll == NULL)
		return;
	/* Through a generic function pointer: GetProcAddress()'s type is not the callee's. */
	rtl_get_version = (rtl_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "RtlGetVersion");
	if (rtl_get_version == NULL || rtl_get_version(&version) != 0)
		return;
	info->os_major = version.dwMajorVersion;
	info->os_minor = version.dwMinorVersion;
	info->os_build = version.dwBuildNumber;
	wine_get_version = (wine_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "wine_get_version");
	if (wine_get_version != NULL)
		snprintf(text, sizeof(text), "%lu.%lu.%lu (Wine %s)", version.dwMajorVersion, version.dwMinorVersion,
			 version.dwBuildNumber, wine_get_version());
	else
		snprintf(text, sizeof(text), "%lu.%lu.%lu", version.dwMajorVersion, version.dwMinorVersion,
			 version.dwBuildNumber);
	winapi_host_text_copy(info->os_version, sizeof(info->os_version), text);
}

int winapi_host_system_info(struct winapi_host_info *info)
{
	MEMORYSTATUSEX memory = { .dwLength = sizeof(memory) };
	wchar_t text[512];
	const wchar_t *start;
	SYSTEM_INFO system;
	DWORD size;

	*info = (struct winapi_host_info){ 0 };
	info->processor_count = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
	if (info->processor_count == 0) {
		GetNativeSystemInfo(&system);
		info->processor_count = system.dwNumberOfProcessors;
	}
	if (info->processor_count == 0)
		return -ENODEV;
	if (!GlobalMemoryStatusEx(&memory))
		return -EIO;
	info->memory_total = memory.ullTotalPhys;
	info->memory_available = memory.ullAvailPhys > memory.ullTotalPhys ? memory.ullTotalPhys : memory.ullAvailPhys;
	os_version(info);
	size = sizeof(text) / sizeof(text[0]);
	if (GetComputerNameExW(ComputerNameDnsHostname, text, &size))
		wide_copy(info->host_name, sizeof(info->host_name), text);
	size = sizeof(text);
	if (RegGetValueW(HKEY_LOCAL_MACHINE, L"HARDWARE\\DESCRIPTION\\System\\CentralProcessor\\0",
			 L"ProcessorNameString", RRF_RT_REG_SZ, NULL, text, &size) == ERROR_SUCCESS) {
		/* Some vendors pad the name on the left. */
		for (start = text; *start == L' '; start++)
			;
		wide_copy(info->processor, sizeof(info->processor), start);
	}
	return 0;
}

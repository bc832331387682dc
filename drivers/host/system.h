/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/host: what host.time and host.info read from the machine the host runs on. One
 * interface, two implementations with the same results on the wire: system_posix.c (the Linux
 * build) and system_windows.c (the Windows build, winapi-hostd.exe).
 */
#ifndef DRIVERS_HOST_SYSTEM_H
#define DRIVERS_HOST_SYSTEM_H

#include <stddef.h>

#include <winapi/host_apis.h>

/* Read the wall clock, then the monotonic clock, as fast as the platform can. 0 or -errno. */
int winapi_host_system_time(struct winapi_host_time *time);

/*
 * Fill @info (all of it: a text the platform cannot tell is left empty, a number 0). 0, or
 * -errno when even the processor count or the memory cannot be had.
 */
int winapi_host_system_info(struct winapi_host_info *info);

/*
 * Copy @text into a field of @size bytes as host.info carries it: UTF-8 kept whole (a
 * character that does not fit is left out, with all after it), a byte that is not UTF-8
 * replaced by '?', NUL-terminated. The machine's names are not ours to trust to be UTF-8.
 */
void winapi_host_text_copy(char *field, size_t size, const char *text);

#endif /* DRIVERS_HOST_SYSTEM_H */

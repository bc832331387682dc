/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one monotonic clock of the project's C code: deadlines and round trips. Header only,
 * so that a hot path pays for no call; owned by the lowest layer so that every layer may use
 * it. Not installed.
 *
 * Owner: lib/vmbus
 */
#ifndef WINAPI_INTERNAL_CLOCK_H
#define WINAPI_INTERNAL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: never steps back when the wall clock is set. */
static inline uint64_t winapi_clock_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* The same in milliseconds, for poll() timeouts and the like. */
static inline uint64_t winapi_clock_now_ms(void)
{
	return winapi_clock_now_ns() / 1000000u;
}

/* @timeout_ms after @now_ns; a negative timeout is no deadline at all (UINT64_MAX). */
static inline uint64_t winapi_clock_deadline_after(uint64_t now_ns, int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : now_ns + (uint64_t)timeout_ms * 1000000u;
}

/* The same deadline as a timespec, for pthread_cond_timedwait() on a CLOCK_MONOTONIC cond. */
static inline struct timespec winapi_clock_timespec(uint64_t deadline_ns)
{
	return (struct timespec){ .tv_sec = (time_t)(deadline_ns / 1000000000u),
				  .tv_nsec = (long)(deadline_ns % 1000000000u) };
}

#endif /* WINAPI_INTERNAL_CLOCK_H */

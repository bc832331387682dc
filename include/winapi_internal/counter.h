/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics counters: bumped on a hot path, read at any time by another thread (get_stats,
 * telemetry). Header only, owned by the lowest layer so that every layer counts the same way.
 * Not installed.
 *
 * Owner: lib/vmbus
 */
#ifndef WINAPI_INTERNAL_COUNTER_H
#define WINAPI_INTERNAL_COUNTER_H

#include <stdint.h>

/*
 * A counter whose writers are serialised: one thread, or callers that hold one lock. A
 * relaxed load and store, not a locked add: on x86 a locked instruction is a full barrier,
 * and right after a packet was copied into ring lines that the peer's CPU holds it waits for
 * every one of those stores to reach this CPU's cache instead of letting them drain behind
 * the next work (issue 19: a locked add per packet was 35 % of the guest's time at batches
 * of 32, and the same in the emulator's host).
 */
static inline void winapi_counter_add(uint64_t *counter, uint64_t amount)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + amount, __ATOMIC_RELAXED);
}

/* A counter that threads may bump at the same time: a locked add. Keep it off per-packet paths. */
static inline void winapi_counter_add_shared(uint64_t *counter, uint64_t amount)
{
	__atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

/* Either kind, from any thread. */
static inline uint64_t winapi_counter_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

#endif /* WINAPI_INTERNAL_COUNTER_H */

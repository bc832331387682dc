/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The physical floor, measured on the same cores as everything else: how fast two cores can
 * bounce a cache line, how fast one core reads memory, how fast it computes CRC32C. And the
 * clock every measurement uses.
 */
#ifndef APPS_WINAPI_BENCH_FLOOR_H
#define APPS_WINAPI_BENCH_FLOOR_H

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

/* A cheap timestamp (the TSC on x86, calibrated against CLOCK_MONOTONIC) and its unit. */
void clock_calibrate(void);
uint64_t clock_ticks(void);
uint64_t clock_ns(uint64_t ticks);

/* Pin the calling thread to @cpu. 0 or negative errno. */
int pin_to_cpu(int cpu);

/* Round trips of one cache line between @cpu_a and @cpu_b, into @latency (ns). */
int floor_ping_pong(int cpu_a, int cpu_b, uint64_t samples, struct histogram *latency);

/*
 * Round trips of a 64-byte inband packet over a pair of VMBus rings (64 KiB each) between
 * @cpu_a and @cpu_b, both polling: the wire format's own floor, with no protocol above it.
 */
int floor_ring_round_trip(int cpu_a, int cpu_b, uint64_t samples, struct histogram *latency);

/* One core reading @bytes of memory that does not fit the caches: best of three, GB/s. */
double floor_memory_read(size_t bytes);

/* CRC32C (the project's, isa-l) over a @size buffer again and again, @total bytes: GB/s. */
double floor_crc32c(size_t size, uint64_t total);

#endif /* APPS_WINAPI_BENCH_FLOOR_H */

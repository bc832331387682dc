/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The physical floor, measured on the same cores as everything else: how fast two cores can
 * bounce a cache line, how fast a pair of bare VMBus rings carries round trips and batched
 * requests, how fast one core reads memory (from DRAM, and from a buffer it reads again and
 * again), how fast it computes CRC32C. And the clock every measurement uses.
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
 * Round trips of an inband packet with @payload_size bytes (4096 at most) over a pair of
 * VMBus rings (64 KiB each) between @cpu_a and @cpu_b, both polling, each side copying the
 * packet out as it reads it: the wire format's own floor, with no protocol above it.
 */
int floor_ring_round_trip(int cpu_a, int cpu_b, uint32_t payload_size, uint64_t samples, struct histogram *latency);

/*
 * Requests of @payload_size bytes over the same pair of rings, in batches of @batch with two
 * batches in flight, each batch published once; a pong thread on @cpu_b answers each with a
 * completion of the same size, in bursts as the host does. After @warmup requests, counts
 * them for @seconds: *@requests in *@elapsed_ns. Every completion is checked (type, id in
 * order, size). 0 or negative errno.
 */
int floor_ring_rate(int cpu_a, int cpu_b, unsigned int batch, uint32_t payload_size, uint64_t warmup,
		    double seconds, uint64_t *requests, uint64_t *elapsed_ns);

/* One core reading @bytes of memory that does not fit the caches: best of three, GB/s. */
double floor_memory_read(size_t bytes);

/*
 * A thread on @cpu writes a @size buffer once, reads it once untimed, then reads it again
 * and again, @total bytes in all: the state VERIFY's buffers are in (the host wrote them,
 * then reads them pass after pass). GB/s, 0 on failure.
 */
double floor_buffer_read(int cpu, size_t size, uint64_t total);

/* memcpy() of a @size buffer into another, both in cache, again and again, @total bytes: GB/s. */
double floor_copy(size_t size, uint64_t total);

/* CRC32C (the project's, isa-l) over a @size buffer again and again, @total bytes: GB/s. */
double floor_crc32c(size_t size, uint64_t total);

#endif /* APPS_WINAPI_BENCH_FLOOR_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A log-linear latency histogram (SPDK's histogram_data.h is the design, written anew): values
 * in nanoseconds, 64 ranges of powers of two each cut into 128 equal buckets, so every
 * percentile is within 1/128 (0.8 %) of the truth, whatever the spread, in constant memory.
 */
#ifndef APPS_WINAPI_BENCH_HISTOGRAM_H
#define APPS_WINAPI_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 7u
#define HISTOGRAM_BUCKETS (64u << HISTOGRAM_SUB_BITS)

struct histogram {
	uint64_t counts[HISTOGRAM_BUCKETS];
	uint64_t total;
	uint64_t min;
	uint64_t max;
	uint64_t sum;
};

void histogram_init(struct histogram *histogram);
void histogram_add(struct histogram *histogram, uint64_t value);
/* The value below which @fraction (0..1) of the samples lie (the bucket's upper bound). */
uint64_t histogram_percentile(const struct histogram *histogram, double fraction);
uint64_t histogram_mean(const struct histogram *histogram);

#endif /* APPS_WINAPI_BENCH_HISTOGRAM_H */

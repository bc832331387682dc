/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "histogram.h"

/*
 * Bucket of @value: values below 128 map one to one; above, the top set bit picks the range
 * and the next 7 bits the bucket within it.
 */
static unsigned int bucket_of(uint64_t value)
{
	unsigned int range;

	if (value < (1u << HISTOGRAM_SUB_BITS))
		return (unsigned int)value;
	range = 63u - (unsigned int)__builtin_clzll(value) - HISTOGRAM_SUB_BITS + 1;
	return (range << HISTOGRAM_SUB_BITS) +
	       (unsigned int)((value >> (range - 1)) & ((1u << HISTOGRAM_SUB_BITS) - 1));
}

/* The largest value bucket @index holds. */
static uint64_t bucket_top(unsigned int index)
{
	unsigned int range = index >> HISTOGRAM_SUB_BITS, sub = index & ((1u << HISTOGRAM_SUB_BITS) - 1);

	if (range == 0)
		return sub;
	return (((uint64_t)(1u << HISTOGRAM_SUB_BITS) | sub) << (range - 1)) + ((1ull << (range - 1)) - 1);
}

void histogram_init(struct histogram *histogram)
{
	memset(histogram, 0, sizeof(*histogram));
	histogram->min = UINT64_MAX;
}

void histogram_add(struct histogram *histogram, uint64_t value)
{
	histogram->counts[bucket_of(value)]++;
	histogram->total++;
	histogram->sum += value;
	if (value < histogram->min)
		histogram->min = value;
	if (value > histogram->max)
		histogram->max = value;
}

uint64_t histogram_percentile(const struct histogram *histogram, double fraction)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (histogram->total == 0)
		return 0;
	rank = (uint64_t)(fraction * (double)histogram->total + 0.5);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += histogram->counts[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);

			return top > histogram->max ? histogram->max : top;
		}
	}
	return histogram->max;
}

uint64_t histogram_mean(const struct histogram *histogram)
{
	return histogram->total != 0 ? histogram->sum / histogram->total : 0;
}

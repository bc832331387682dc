/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy memory: the device calls that reach the backend's memory ops, the GPA-direct
 * range header (include/linux/hyperv.h struct vmdata_gpa_direct / gpa_range), a page-run
 * allocator for carving regions, and the monitor page's trigger bits.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/memory.h>

#include "private.h"

int vmbus_device_gpadl_region(const struct vmbus_device *device, enum vmbus_gpadl_region_index index,
			      struct vmbus_gpadl_region *region)
{
	if (device == NULL || region == NULL || (index != VMBUS_GPADL_RECEIVE && index != VMBUS_GPADL_SEND))
		return -EINVAL;
	if (device->params.ops->gpadl_region == NULL)
		return -ENOENT;
	return device->params.ops->gpadl_region(device, index, region);
}

int vmbus_device_dma_alloc(struct vmbus_device *device, size_t size, void **address)
{
	if (device == NULL || address == NULL || size == 0)
		return -EINVAL;
	if (device->params.ops->dma_alloc == NULL)
		return -EOPNOTSUPP;
	return device->params.ops->dma_alloc(device, size, address);
}

void vmbus_device_dma_free(struct vmbus_device *device, void *address, size_t size)
{
	if (device != NULL && address != NULL && device->params.ops->dma_free != NULL)
		device->params.ops->dma_free(device, address, size);
}

int vmbus_device_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			  size_t max)
{
	if (device == NULL || address == NULL || pfns == NULL || size == 0)
		return -EINVAL;
	if (device->params.ops->dma_pfns == NULL)
		return -EINVAL;
	return device->params.ops->dma_pfns(device, address, size, pfns, max);
}

int vmbus_device_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
			   uint64_t *offset)
{
	if (device == NULL || address == NULL || size == 0 || fd == NULL || offset == NULL)
		return -EINVAL;
	if (device->params.ops->dma_share == NULL)
		return -EOPNOTSUPP;
	return device->params.ops->dma_share(device, address, size, fd, offset);
}

/* Per range: u32 byte_count, u32 byte_offset, then the page numbers. */
#define GPA_RANGE_HEADER 8u
/* Before the ranges: u32 reserved, u32 range count. */
#define GPA_HEADER_PREFIX 8u

size_t vmbus_gpa_header_size(const struct vmbus_gpa_range_desc *ranges, unsigned int count)
{
	size_t size = GPA_HEADER_PREFIX;
	unsigned int i;

	for (i = 0; i < count; i++)
		size += GPA_RANGE_HEADER +
			8 * vmbus_gpa_range_pages(ranges[i].byte_offset, ranges[i].byte_count);
	return size;
}

static void put_u32(uint8_t *p, uint32_t value)
{
	value = htole32(value);
	memcpy(p, &value, sizeof(value));
}

static void put_u64(uint8_t *p, uint64_t value)
{
	value = htole64(value);
	memcpy(p, &value, sizeof(value));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t value;

	memcpy(&value, p, sizeof(value));
	return le32toh(value);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t value;

	memcpy(&value, p, sizeof(value));
	return le64toh(value);
}

int vmbus_gpa_header_encode(const struct vmbus_gpa_range_desc *ranges, unsigned int count, void *out,
			    size_t out_size)
{
	uint8_t *cursor = out;
	unsigned int i;
	size_t size;

	if (ranges == NULL || out == NULL || count == 0)
		return -EINVAL;
	for (i = 0; i < count; i++)
		if (ranges[i].byte_count == 0 || ranges[i].byte_offset >= VMBUS_PAGE_SIZE || ranges[i].pfns == NULL)
			return -EINVAL;
	size = vmbus_gpa_header_size(ranges, count);
	if (size > out_size || size > INT32_MAX)
		return -ENOBUFS;

	put_u32(cursor, 0);
	put_u32(cursor + 4, count);
	cursor += GPA_HEADER_PREFIX;
	for (i = 0; i < count; i++) {
		uint64_t page, pages = vmbus_gpa_range_pages(ranges[i].byte_offset, ranges[i].byte_count);

		put_u32(cursor, ranges[i].byte_count);
		put_u32(cursor + 4, ranges[i].byte_offset);
		cursor += GPA_RANGE_HEADER;
		for (page = 0; page < pages; page++, cursor += 8)
			put_u64(cursor, ranges[i].pfns[page]);
	}
	return (int)size;
}

int vmbus_gpa_header_decode(const void *header, size_t size, struct vmbus_gpa_header *decoded)
{
	const uint8_t *bytes = header, *cursor;
	size_t left;
	uint32_t i;

	if (header == NULL || decoded == NULL || size < GPA_HEADER_PREFIX)
		return -EBADMSG;
	decoded->range_count = get_u32(bytes + 4);
	decoded->ranges = bytes + GPA_HEADER_PREFIX;
	decoded->size = size - GPA_HEADER_PREFIX;
	if (decoded->range_count == 0)
		return -EBADMSG;

	/* Walk every range once, so that later accessors can trust the layout. */
	cursor = decoded->ranges;
	left = decoded->size;
	for (i = 0; i < decoded->range_count; i++) {
		uint32_t byte_count, byte_offset;
		uint64_t pages;

		if (left < GPA_RANGE_HEADER)
			return -EBADMSG;
		byte_count = get_u32(cursor);
		byte_offset = get_u32(cursor + 4);
		if (byte_count == 0 || byte_offset >= VMBUS_PAGE_SIZE)
			return -EBADMSG;
		pages = vmbus_gpa_range_pages(byte_offset, byte_count);
		if ((left - GPA_RANGE_HEADER) / 8 < pages)
			return -EBADMSG;
		cursor += GPA_RANGE_HEADER + 8 * pages;
		left -= GPA_RANGE_HEADER + 8 * pages;
	}
	/* offset8 covers the ranges exactly: anything after them is not ours to guess at. */
	return left == 0 ? 0 : -EBADMSG;
}

int vmbus_gpa_header_range(const struct vmbus_gpa_header *decoded, uint32_t index, struct vmbus_gpa_range *range)
{
	const uint8_t *cursor = decoded->ranges;
	uint32_t i;

	if (index >= decoded->range_count)
		return -EINVAL;
	/* decode() checked the walk; this repeats it without the checks. */
	for (i = 0;; i++) {
		range->byte_count = get_u32(cursor);
		range->byte_offset = get_u32(cursor + 4);
		range->page_count = vmbus_gpa_range_pages(range->byte_offset, range->byte_count);
		range->pfns = cursor + GPA_RANGE_HEADER;
		if (i == index)
			return 0;
		cursor += GPA_RANGE_HEADER + 8 * range->page_count;
	}
}

uint64_t vmbus_gpa_range_pfn(const struct vmbus_gpa_range *range, uint64_t page)
{
	return get_u64(range->pfns + 8 * page);
}

/*
 * Page-run allocator: a sorted array of free runs, first fit, neighbours merged on free.
 * Allocations are few and large (buffers of 4 KiB to 64 MiB), so a linear scan is plenty.
 */
struct free_run {
	size_t first;
	size_t pages;
};

struct vmbus_page_allocator {
	pthread_mutex_t lock;
	size_t pages;
	size_t page_size;
	struct free_run *runs;
	size_t run_count;
	size_t run_capacity;
};

int vmbus_page_allocator_create(size_t pages, size_t page_size, struct vmbus_page_allocator **allocator_out)
{
	struct vmbus_page_allocator *allocator;

	if (pages == 0 || page_size == 0 || allocator_out == NULL)
		return -EINVAL;
	allocator = calloc(1, sizeof(*allocator));
	if (allocator == NULL)
		return -ENOMEM;
	allocator->run_capacity = 16;
	allocator->runs = calloc(allocator->run_capacity, sizeof(*allocator->runs));
	if (allocator->runs == NULL) {
		free(allocator);
		return -ENOMEM;
	}
	pthread_mutex_init(&allocator->lock, NULL);
	allocator->pages = pages;
	allocator->page_size = page_size;
	allocator->runs[0] = (struct free_run){ .first = 0, .pages = pages };
	allocator->run_count = 1;
	*allocator_out = allocator;
	return 0;
}

void vmbus_page_allocator_destroy(struct vmbus_page_allocator *allocator)
{
	if (allocator == NULL)
		return;
	pthread_mutex_destroy(&allocator->lock);
	free(allocator->runs);
	free(allocator);
}

int vmbus_page_allocator_alloc(struct vmbus_page_allocator *allocator, size_t size, size_t *offset)
{
	size_t pages, i;
	int rc = -ENOMEM;

	if (allocator == NULL || offset == NULL || size == 0)
		return -EINVAL;
	pages = (size + allocator->page_size - 1) / allocator->page_size;
	pthread_mutex_lock(&allocator->lock);
	for (i = 0; i < allocator->run_count; i++) {
		struct free_run *run = &allocator->runs[i];

		if (run->pages < pages)
			continue;
		*offset = run->first * allocator->page_size;
		run->first += pages;
		run->pages -= pages;
		if (run->pages == 0) {
			memmove(run, run + 1, (allocator->run_count - i - 1) * sizeof(*run));
			allocator->run_count--;
		}
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&allocator->lock);
	return rc;
}

int vmbus_page_allocator_free(struct vmbus_page_allocator *allocator, size_t offset, size_t size)
{
	size_t first, pages, i;
	struct free_run *runs;
	int rc = 0;

	if (allocator == NULL || size == 0 || offset % allocator->page_size != 0)
		return -EINVAL;
	first = offset / allocator->page_size;
	pages = (size + allocator->page_size - 1) / allocator->page_size;
	if (first >= allocator->pages || pages > allocator->pages - first)
		return -EINVAL;

	pthread_mutex_lock(&allocator->lock);
	runs = allocator->runs;
	/* i = the first free run after the freed one. */
	for (i = 0; i < allocator->run_count && runs[i].first < first; i++)
		;
	/* Overlap with a free run means a double free or a wrong size. */
	if ((i > 0 && runs[i - 1].first + runs[i - 1].pages > first) ||
	    (i < allocator->run_count && first + pages > runs[i].first)) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (i > 0 && runs[i - 1].first + runs[i - 1].pages == first) {
		runs[i - 1].pages += pages;
		if (i < allocator->run_count && runs[i - 1].first + runs[i - 1].pages == runs[i].first) {
			runs[i - 1].pages += runs[i].pages;
			memmove(&runs[i], &runs[i + 1], (allocator->run_count - i - 1) * sizeof(*runs));
			allocator->run_count--;
		}
		goto out_unlock;
	}
	if (i < allocator->run_count && first + pages == runs[i].first) {
		runs[i].first = first;
		runs[i].pages += pages;
		goto out_unlock;
	}
	if (allocator->run_count == allocator->run_capacity) {
		struct free_run *grown = realloc(runs, 2 * allocator->run_capacity * sizeof(*runs));

		if (grown == NULL) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		allocator->runs = runs = grown;
		allocator->run_capacity *= 2;
	}
	memmove(&runs[i + 1], &runs[i], (allocator->run_count - i) * sizeof(*runs));
	runs[i] = (struct free_run){ .first = first, .pages = pages };
	allocator->run_count++;
out_unlock:
	pthread_mutex_unlock(&allocator->lock);
	return rc;
}

/* struct vmbus_mon_page: u32 state, u32 reserved, then trigs[4] { u32 pending; u32 armed; }. */
#define MONITOR_TRIGGER_OFFSET 8u
#define MONITOR_TRIGGER_STRIDE 8u

static uint32_t *monitor_pending(void *monitor_page, uint32_t monitor_id)
{
	return (uint32_t *)((uint8_t *)monitor_page + MONITOR_TRIGGER_OFFSET +
			    (monitor_id / 32) * MONITOR_TRIGGER_STRIDE);
}

void vmbus_monitor_trigger(void *monitor_page, uint32_t monitor_id)
{
	__atomic_fetch_or(monitor_pending(monitor_page, monitor_id), 1u << (monitor_id % 32), __ATOMIC_SEQ_CST);
}

bool vmbus_monitor_take(void *monitor_page, uint32_t monitor_id)
{
	uint32_t bit = 1u << (monitor_id % 32);

	return (__atomic_fetch_and(monitor_pending(monitor_page, monitor_id), ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPA-direct range header (include/linux/hyperv.h struct vmdata_gpa_direct / gpa_range):
 * byte layout only, no device, so that the host side on any platform (the Windows service
 * too) can decode what a guest sends without the rest of lib/vmbus. A guest's header is
 * untrusted input: decode() checks every range before anything is read through it.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <vmbus/memory.h>

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

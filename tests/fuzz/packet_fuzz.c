/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: packet framing and GPA-direct page ranges (<vmbus/packet.h>,
 * <vmbus/memory.h>), as a receiver meets them.
 *
 * The input is the bytes a peer put in a ring, starting with a packet descriptor. They are
 * framed through the ring reader (published as if a producer had written them, trailer
 * included), and every packet that comes out is taken apart by its type: the GPA-direct
 * header of type 9 with vmbus_gpa_header_decode(), vmbus_gpa_header_range() and
 * vmbus_gpa_range_pfn(), the winapi message of inband and completion packets. The input
 * after its first 16 bytes also goes to vmbus_gpa_header_decode() directly, so the decoder
 * sees headers no framing would let through. Every buffer is allocated at its exact size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/memory.h>
#include <vmbus/ring.h>
#include <winapi/protocol.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"

#define HEADER_SIZE 4096u
#define MAX_PACKETS 256

static void *copy_exact(const void *source, size_t size)
{
	void *copy = malloc(size != 0 ? size : 1);

	FUZZ_CHECK(copy != NULL);
	if (size != 0)
		memcpy(copy, source, size);
	return copy;
}

/*
 * A header the decoder accepted: every range lies inside it, the walk ends exactly at its
 * end, and encoding the ranges again gives the same bytes (the reserved word aside).
 */
static void check_gpa_header(const uint8_t *header, size_t size)
{
	struct vmbus_gpa_header decoded;
	struct vmbus_gpa_range_desc *ranges;
	struct vmbus_gpa_range range;
	uint64_t *pfns, page;
	const uint8_t *end = header + size, *expected_next;
	uint8_t *encoded;
	size_t total_pages = 0;
	uint32_t i;

	if (vmbus_gpa_header_decode(header, size, &decoded) != 0)
		return;
	FUZZ_CHECK(decoded.range_count > 0 && decoded.ranges == header + 8 && decoded.size == size - 8);
	/* Each range takes at least 16 bytes: the count is bounded by the size. */
	FUZZ_CHECK(decoded.range_count <= decoded.size / 16);

	ranges = calloc(decoded.range_count, sizeof(*ranges));
	pfns = calloc(size / 8, sizeof(*pfns));
	FUZZ_CHECK(ranges != NULL && pfns != NULL);
	expected_next = decoded.ranges;
	for (i = 0; i < decoded.range_count; i++) {
		FUZZ_CHECK(vmbus_gpa_header_range(&decoded, i, &range) == 0);
		FUZZ_CHECK(range.byte_count > 0 && range.byte_offset < VMBUS_PAGE_SIZE);
		FUZZ_CHECK(range.page_count == vmbus_gpa_range_pages(range.byte_offset, range.byte_count));
		FUZZ_CHECK(range.pfns == expected_next + 8);
		FUZZ_CHECK(range.page_count <= (size_t)(end - range.pfns) / 8);
		FUZZ_CHECK(get_le32(expected_next) == range.byte_count &&
			   get_le32(expected_next + 4) == range.byte_offset);
		ranges[i].byte_count = range.byte_count;
		ranges[i].byte_offset = range.byte_offset;
		ranges[i].pfns = pfns + total_pages;
		for (page = 0; page < range.page_count; page++)
			pfns[total_pages++] = vmbus_gpa_range_pfn(&range, page);
		expected_next = range.pfns + 8 * range.page_count;
	}
	FUZZ_CHECK(expected_next == end);
	FUZZ_CHECK(vmbus_gpa_header_range(&decoded, decoded.range_count, &range) == -EINVAL);

	FUZZ_CHECK(vmbus_gpa_header_size(ranges, decoded.range_count) == size);
	encoded = malloc(size);
	FUZZ_CHECK(encoded != NULL);
	FUZZ_CHECK(vmbus_gpa_header_encode(ranges, decoded.range_count, encoded, size - 1) == -ENOBUFS);
	FUZZ_CHECK(vmbus_gpa_header_encode(ranges, decoded.range_count, encoded, size) == (int)size);
	FUZZ_CHECK(get_le32(encoded) == 0 && memcmp(encoded + 4, header + 4, size - 4) == 0);
	free(encoded);
	free(pfns);
	free(ranges);
}

static void check_packet(const uint8_t *packet, const struct vmbus_ring_packet_info *info)
{
	const uint8_t *payload = packet + info->header_size;
	size_t payload_size = info->packet_size - info->header_size;
	struct winapi_message message;

	switch (info->type) {
	case VMBUS_PACKET_DATA_USING_GPA_DIRECT:
		check_gpa_header(packet + 16, info->header_size - 16);
		break;
	case VMBUS_PACKET_DATA_INBAND:
	case VMBUS_PACKET_COMPLETION:
		if (winapi_message_decode(payload, payload_size, &message) == 0)
			FUZZ_CHECK(message.inline_length == 0 ||
				   ((const uint8_t *)message.inline_data >= payload &&
				    (const uint8_t *)message.inline_data + message.inline_length <= payload + payload_size));
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_ring_packet_info info;
	struct vmbus_ring_header *header;
	struct vmbus_ring ring;
	uint32_t used, data_size;
	uint8_t *memory, *raw;
	int packets, rc;

	if (size < 16 || size > VMBUS_PACKET_MAX_LENGTH)
		return 0;

	raw = copy_exact(data + 16, size - 16);
	check_gpa_header(raw, size - 16);
	free(raw);

	/* Published as a producer would: the bytes, padded to 8, then a trailer; one spare slot. */
	used = vmbus_packet_align8((uint32_t)size) + VMBUS_PACKET_TRAILER_SIZE;
	data_size = used + 8;
	memory = calloc(1, HEADER_SIZE + data_size);
	FUZZ_CHECK(memory != NULL);
	memcpy(memory + HEADER_SIZE, data, size);
	header = (struct vmbus_ring_header *)memory;
	header->write_index = used;
	FUZZ_CHECK(vmbus_ring_attach(&ring, memory, HEADER_SIZE + data_size, HEADER_SIZE) == 0);

	for (packets = 0; packets < MAX_PACKETS; packets++) {
		uint8_t *packet;

		rc = vmbus_ring_peek(&ring, &info);
		if (rc != 0)
			break;
		packet = malloc(info.packet_size);
		FUZZ_CHECK(packet != NULL);
		FUZZ_CHECK(vmbus_ring_read(&ring, packet, info.packet_size, &info) == 0);
		FUZZ_CHECK(info.header_size >= 16 && info.header_size <= info.packet_size);
		check_packet(packet, &info);
		free(packet);
	}
	free(memory);
	return 0;
}

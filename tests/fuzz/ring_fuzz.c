/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the ring reader (lib/vmbus/ring.c) over ring images written by a hostile
 * peer. The ring memory is allocated at its exact size, so ASan reports any byte read outside
 * the header page or the data area.
 *
 * Input:
 *   +0   u16  data area size selector: 8 * (1 + value % 512) bytes (8 .. 4096)
 *   +2   u8   how the reader reads, bits 0-1 (per packet): 0 read at once; 1 peek, read with
 *             a buffer one byte short, then read; 2 peek then skip; 3 peek then read.
 *             Bit 2: publish after every packet instead of once at the end. Bit 3: after
 *             draining, write a packet as the producer and read it back
 *   +3   u32 x 5  header: write_index, read_index, interrupt_mask, pending_send_size,
 *             feature_bits
 *   +23  the data area (zero-filled when short); bytes past it are the payload of the
 *        write-back packet
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/ring.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"

#define HEADER_SIZE 4096u
#define INPUT_HEADER 23u
#define MAX_PACKETS 1024

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The descriptor handed out is the one that was validated. */
static void check_descriptor(const uint8_t *packet, const struct vmbus_ring_packet_info *info)
{
	FUZZ_CHECK(info->header_size >= 16 && info->header_size <= info->packet_size);
	FUZZ_CHECK(le16_at(packet) == info->type && le16_at(packet + 2) * 8u == info->header_size &&
		   le16_at(packet + 4) * 8u == info->packet_size && le16_at(packet + 6) == info->flags &&
		   get_le64(packet + 8) == info->trans_id);
}

/* Read one packet the way @mode says. Returns what the ring returned for the packet. */
static int read_packet(struct vmbus_ring *ring, unsigned int mode)
{
	struct vmbus_ring_packet_info info, peeked;
	uint32_t available = vmbus_ring_bytes_available(ring);
	uint8_t *buffer;
	int rc;

	if (mode == 0) {
		/* Straight away, into room for anything the ring could hold. */
		buffer = malloc(ring->data_size);
		FUZZ_CHECK(buffer != NULL);
		rc = vmbus_ring_read(ring, buffer, ring->data_size, &info);
		if (rc == 0) {
			check_descriptor(buffer, &info);
			FUZZ_CHECK(info.packet_size + VMBUS_PACKET_TRAILER_SIZE <= available);
		}
		free(buffer);
		return rc;
	}

	rc = vmbus_ring_peek(ring, &peeked);
	if (rc != 0)
		return rc;
	FUZZ_CHECK(peeked.header_size >= 16 && peeked.header_size <= peeked.packet_size);
	FUZZ_CHECK(peeked.packet_size + VMBUS_PACKET_TRAILER_SIZE <= available);
	if (mode == 2)
		return vmbus_ring_skip(ring);

	/* Exactly the packet's size, so that ASan sees a copy one byte too long. */
	buffer = malloc(peeked.packet_size);
	FUZZ_CHECK(buffer != NULL);
	if (mode == 1) {
		rc = vmbus_ring_read(ring, buffer, peeked.packet_size - 1, &info);
		FUZZ_CHECK(rc == -ENOBUFS);
	}
	rc = vmbus_ring_read(ring, buffer, peeked.packet_size, &info);
	/* Nobody rewrites the ring meanwhile: what peek said is what read does. */
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(info.packet_size == peeked.packet_size && info.header_size == peeked.header_size &&
		   info.type == peeked.type && info.flags == peeked.flags && info.trans_id == peeked.trans_id);
	check_descriptor(buffer, &info);
	free(buffer);
	return 0;
}

/* The ring is drained: a packet the producer writes now must come back unchanged. */
static void write_back(uint8_t *memory, size_t ring_size, struct vmbus_ring *consumer, const uint8_t *payload,
		       size_t payload_size)
{
	const struct iovec parts[2] = {
		{ .iov_base = (void *)payload, .iov_len = payload_size / 2 },
		{ .iov_base = (void *)(payload + payload_size / 2), .iov_len = payload_size - payload_size / 2 },
	};
	const struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_DATA_INBAND,
		.flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.trans_id = 0x0123456789abcdefu,
		.payload = parts,
		.payload_count = 2,
	};
	uint32_t packet_size = vmbus_packet_align8((uint32_t)(16 + payload_size));
	struct vmbus_ring_packet_info info;
	struct vmbus_ring producer;
	bool need_signal;
	uint8_t *buffer;
	int rc;

	FUZZ_CHECK(vmbus_ring_attach(&producer, memory, ring_size, HEADER_SIZE) == 0);
	rc = vmbus_ring_write(&producer, &packet);
	if (packet_size > vmbus_ring_max_packet_size(&producer)) {
		FUZZ_CHECK(rc == -EMSGSIZE);
		return;
	}
	/* The one-byte-gap rule leaves room for any packet up to the maximum in an empty ring. */
	FUZZ_CHECK(rc == 0);
	vmbus_ring_write_publish(&producer, &need_signal);

	buffer = malloc(packet_size);
	FUZZ_CHECK(buffer != NULL);
	FUZZ_CHECK(vmbus_ring_read(consumer, buffer, packet_size, &info) == 0);
	FUZZ_CHECK(info.type == packet.type && info.flags == packet.flags && info.trans_id == packet.trans_id);
	FUZZ_CHECK(info.header_size == 16 && info.packet_size == packet_size);
	FUZZ_CHECK(payload_size == 0 || memcmp(buffer + 16, payload, payload_size) == 0);
	FUZZ_CHECK(vmbus_ring_peek(consumer, &info) == -EAGAIN);
	free(buffer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_ring_header *header;
	struct vmbus_ring ring;
	uint32_t data_size, control;
	size_t ring_size, copied;
	uint8_t *memory;
	bool need_signal;
	int rc = 0, packets;

	if (size < INPUT_HEADER)
		return 0;
	data_size = 8u * (1u + le16_at(data) % 512u);
	control = data[2];
	ring_size = HEADER_SIZE + data_size;

	memory = calloc(1, ring_size);
	FUZZ_CHECK(memory != NULL);
	header = (struct vmbus_ring_header *)memory;
	header->write_index = get_le32(data + 3);
	header->read_index = get_le32(data + 7);
	header->interrupt_mask = get_le32(data + 11);
	header->pending_send_size = get_le32(data + 15);
	header->feature_bits = get_le32(data + 19);
	copied = size - INPUT_HEADER < data_size ? size - INPUT_HEADER : data_size;
	memcpy(memory + HEADER_SIZE, data + INPUT_HEADER, copied);

	if (vmbus_ring_attach(&ring, memory, ring_size, HEADER_SIZE) != 0)
		goto out_free;
	FUZZ_CHECK(vmbus_ring_max_packet_size(&ring) <= data_size);
	(void)vmbus_ring_bytes_free(&ring);

	for (packets = 0; packets < MAX_PACKETS; packets++) {
		FUZZ_CHECK(vmbus_ring_bytes_available(&ring) < data_size);
		rc = read_packet(&ring, control & 3u);
		if (rc != 0)
			break;
		if (control & 4u)
			vmbus_ring_read_publish(&ring, &need_signal);
	}
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EIO);
	FUZZ_CHECK(rc != -EAGAIN || vmbus_ring_is_empty(&ring));
	vmbus_ring_read_publish(&ring, &need_signal);

	if (rc == -EAGAIN && (control & 8u))
		write_back(memory, ring_size, &ring, data + INPUT_HEADER + copied, size - INPUT_HEADER - copied);
out_free:
	free(memory);
	return 0;
}

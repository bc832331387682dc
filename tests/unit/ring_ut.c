/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/vmbus/ring.c against shared/research/vmbus-spec.md sections 2-3.
 *
 * The expected bytes are written out here from the spec's offsets (put_le*() at literal
 * offsets), never with the project's structs or writer, so that a shared misunderstanding
 * between writer and reader cannot pass.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "le_bytes.h"

#include <vmbus/ring.h>

#define HEADER_SIZE 4096u
#define DATA_SIZE 4096u
#define RING_SIZE (HEADER_SIZE + DATA_SIZE)

/* Spec offsets (vmbus-spec.md 2.1 and 3.1). */
#define OFF_WRITE_INDEX 0
#define OFF_READ_INDEX 4
#define OFF_INTERRUPT_MASK 8
#define OFF_PENDING_SEND 12
#define OFF_FEATURE_BITS 64

struct fixture {
	uint8_t *memory; /* exactly RING_SIZE bytes, so ASan sees any overrun */
	uint8_t *data;
	struct vmbus_ring producer;
	struct vmbus_ring consumer;
};

/* Byte @offset of the data area, going around the ring. */
static uint8_t *data_at(struct fixture *f, uint32_t offset)
{
	return f->data + offset % DATA_SIZE;
}

static void put_ring_bytes(struct fixture *f, uint32_t offset, const uint8_t *bytes, size_t length)
{
	for (size_t i = 0; i < length; i++)
		*data_at(f, offset + (uint32_t)i) = bytes[i];
}

static void get_ring_bytes(struct fixture *f, uint32_t offset, uint8_t *bytes, size_t length)
{
	for (size_t i = 0; i < length; i++)
		bytes[i] = *data_at(f, offset + (uint32_t)i);
}

/* Header as hv_ringbuffer_init leaves it, then both indices at @start. */
static void reset_ring(struct fixture *f, uint32_t start)
{
	memset(f->memory, 0, RING_SIZE);
	put_le32(f->memory + OFF_FEATURE_BITS, 1);
	put_le32(f->memory + OFF_WRITE_INDEX, start);
	put_le32(f->memory + OFF_READ_INDEX, start);
	assert_int_equal(vmbus_ring_attach(&f->producer, f->memory, RING_SIZE, HEADER_SIZE), 0);
	assert_int_equal(vmbus_ring_attach(&f->consumer, f->memory, RING_SIZE, HEADER_SIZE), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->memory = aligned_alloc(4096, RING_SIZE);
	if (f->memory == NULL)
		return -1;
	f->data = f->memory + HEADER_SIZE;
	reset_ring(f, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->memory);
	free(f);
	return 0;
}

/* Write an inband packet with @length payload bytes of @fill. */
static int write_inband(struct vmbus_ring *ring, uint64_t trans_id, const void *payload, size_t length)
{
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = length };
	struct vmbus_ring_packet packet = {
		.type = 6, .flags = 1, .trans_id = trans_id, .payload = &iov, .payload_count = 1,
	};

	return vmbus_ring_write(ring, &packet);
}

/*
 * Lay a packet out by hand at @start exactly as the spec describes: descriptor (type@0,
 * offset8@2, len8@4, flags@6, trans_id@8), payload at offset8*8, zero padding to 8, trailer
 * u64 = start << 32. Returns the offset after the trailer.
 */
static uint32_t hand_write_packet(struct fixture *f, uint32_t start, uint16_t type, uint16_t flags,
				  uint64_t trans_id, const uint8_t *payload, uint32_t length)
{
	uint32_t total = (16 + length + 7) / 8 * 8;
	uint8_t descriptor[16], trailer[8], zero[8] = { 0 };

	put_le16(descriptor + 0, type);
	put_le16(descriptor + 2, 2);
	put_le16(descriptor + 4, (uint16_t)(total / 8));
	put_le16(descriptor + 6, flags);
	put_le64(descriptor + 8, trans_id);
	put_ring_bytes(f, start, descriptor, 16);
	put_ring_bytes(f, start + 16, payload, length);
	put_ring_bytes(f, start + 16 + length, zero, total - 16 - length);
	put_le64(trailer, (uint64_t)start << 32);
	put_ring_bytes(f, start + total, trailer, 8);
	return (start + total + 8) % DATA_SIZE;
}

static void test_layout_constants(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct vmbus_ring_header, write_index), OFF_WRITE_INDEX);
	assert_int_equal(offsetof(struct vmbus_ring_header, read_index), OFF_READ_INDEX);
	assert_int_equal(offsetof(struct vmbus_ring_header, interrupt_mask), OFF_INTERRUPT_MASK);
	assert_int_equal(offsetof(struct vmbus_ring_header, pending_send_size), OFF_PENDING_SEND);
	assert_int_equal(offsetof(struct vmbus_ring_header, feature_bits), OFF_FEATURE_BITS);
	assert_int_equal(sizeof(struct vmbus_packet_descriptor), 16);
}

static void test_attach_rejects_bad_geometry(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring ring;

	assert_int_equal(vmbus_ring_attach(&ring, f->memory, RING_SIZE, 2048), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&ring, f->memory, RING_SIZE, 6000), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&ring, f->memory, HEADER_SIZE, HEADER_SIZE), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&ring, f->memory, HEADER_SIZE + 12, HEADER_SIZE), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&ring, NULL, RING_SIZE, HEADER_SIZE), -EINVAL);
	put_le32(f->memory + OFF_WRITE_INDEX, DATA_SIZE);
	assert_int_equal(vmbus_ring_attach(&ring, f->memory, RING_SIZE, HEADER_SIZE), -EIO);
	put_le32(f->memory + OFF_WRITE_INDEX, 0);
	put_le32(f->memory + OFF_READ_INDEX, 4);
	assert_int_equal(vmbus_ring_attach(&ring, f->memory, RING_SIZE, HEADER_SIZE), -EIO);
}

static void test_header_init(void **state)
{
	struct fixture *f = *state;

	memset(f->memory, 0xa5, HEADER_SIZE);
	vmbus_ring_header_init(f->memory, HEADER_SIZE);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 0);
	assert_int_equal(get_le32(f->memory + OFF_READ_INDEX), 0);
	assert_int_equal(get_le32(f->memory + OFF_INTERRUPT_MASK), 0);
	assert_int_equal(get_le32(f->memory + OFF_PENDING_SEND), 0);
	assert_int_equal(get_le32(f->memory + OFF_FEATURE_BITS), 1);
	for (uint32_t i = 68; i < HEADER_SIZE; i++)
		assert_int_equal(f->memory[i], 0);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[64];

	assert_true(vmbus_ring_is_empty(&f->consumer));
	assert_int_equal(vmbus_ring_peek(&f->consumer, &info), -EAGAIN);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EAGAIN);
	assert_int_equal(vmbus_ring_skip(&f->consumer), -EAGAIN);
	assert_int_equal(vmbus_ring_bytes_available(&f->consumer), 0);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), DATA_SIZE);
}

/* A hand-built ring image is parsed by the project's reader. */
static void test_reader_parses_hand_built_image(void **state)
{
	struct fixture *f = *state;
	uint8_t first[5] = { 'h', 'e', 'l', 'l', 'o' }, second[24], buffer[128];
	struct vmbus_ring_packet_info info;
	uint32_t end;

	for (unsigned i = 0; i < sizeof(second); i++)
		second[i] = (uint8_t)(0x30 + i);
	end = hand_write_packet(f, 0, 6, 1, 0x1122334455667788ull, first, sizeof(first));
	assert_int_equal(end, 32); /* 16 + 5 -> 24, + 8 trailer */
	end = hand_write_packet(f, end, 0xb, 0, 42, second, sizeof(second));
	assert_int_equal(end, 32 + 48);
	put_le32(f->memory + OFF_WRITE_INDEX, end);

	assert_int_equal(vmbus_ring_bytes_available(&f->consumer), 80);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, 6);
	assert_int_equal(info.flags, 1);
	assert_true(info.trans_id == 0x1122334455667788ull);
	assert_int_equal(info.header_size, 16);
	assert_int_equal(info.packet_size, 24);
	assert_memory_equal(buffer + info.header_size, first, sizeof(first));

	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, 0xb);
	assert_int_equal(info.flags, 0);
	assert_true(info.trans_id == 42);
	assert_int_equal(info.packet_size, 40);
	assert_memory_equal(buffer + 16, second, sizeof(second));
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EAGAIN);

	/* Nothing is released to the producer until the batch is published. */
	assert_int_equal(get_le32(f->memory + OFF_READ_INDEX), 0);
	bool signal;
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_int_equal(get_le32(f->memory + OFF_READ_INDEX), 80);
}

/* The project's writer produces exactly the spec's bytes. */
static void test_writer_produces_spec_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[13], expected[48], actual[48];
	bool signal;

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0xc0 + i);
	memset(f->data, 0xee, DATA_SIZE); /* padding must be written as zeros, not left alone */

	assert_int_equal(write_inband(&f->producer, 0xdeadbeefcafef00dull, payload, sizeof(payload)), 0);
	/* Not published yet: the consumer must not see it. */
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 0);
	vmbus_ring_write_publish(&f->producer, &signal);

	memset(expected, 0, sizeof(expected));
	put_le16(expected + 0, 6);          /* DATA_INBAND */
	put_le16(expected + 2, 2);          /* offset8 */
	put_le16(expected + 4, 4);          /* len8: 16 + 13 = 29 -> 32 */
	put_le16(expected + 6, 1);          /* COMPLETION_REQUESTED */
	put_le64(expected + 8, 0xdeadbeefcafef00dull);
	memcpy(expected + 16, payload, sizeof(payload));
	/* bytes 29..31 zero padding */
	put_le64(expected + 32, 0);         /* trailer: start offset 0 << 32 */
	get_ring_bytes(f, 0, actual, 40);
	assert_memory_equal(actual, expected, 40);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 40);

	/* Second packet: the trailer carries its own start offset in the high half. */
	assert_int_equal(write_inband(&f->producer, 7, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	get_ring_bytes(f, 40 + 24, actual, 8);
	memset(expected, 0, 8);
	put_le64(expected, (uint64_t)40 << 32);
	assert_memory_equal(actual, expected, 8);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 40 + 32);
}

static void test_header_extension_counts_in_offset8(void **state)
{
	struct fixture *f = *state;
	uint8_t extension[16], payload[8], raw[48], buffer[64];
	struct vmbus_ring_packet_info info;
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct vmbus_ring_packet packet = {
		.type = 9, .flags = 1, .trans_id = 5, .header_extension = extension,
		.header_extension_size = sizeof(extension), .payload = &iov, .payload_count = 1,
	};
	bool signal;

	memset(extension, 0x11, sizeof(extension));
	memset(payload, 0x22, sizeof(payload));
	assert_int_equal(vmbus_ring_write(&f->producer, &packet), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	get_ring_bytes(f, 0, raw, 48);
	assert_int_equal(raw[2], 4);  /* offset8 = (16 + 16) / 8 */
	assert_int_equal(raw[4], 5);  /* len8 = 40 / 8 */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.header_size, 32);
	assert_memory_equal(buffer + 16, extension, sizeof(extension));
	assert_memory_equal(buffer + 32, payload, sizeof(payload));

	packet.header_extension_size = 12; /* not a multiple of 8 */
	assert_int_equal(vmbus_ring_write(&f->producer, &packet), -EINVAL);
}

static void test_rounding_to_8(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[24], buffer[64];
	struct vmbus_ring_packet_info info;
	bool signal;

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i + 1);
	for (uint32_t length = 0; length <= 17; length++) {
		uint32_t before = get_le32(f->memory + OFF_WRITE_INDEX);
		uint32_t expected_len8 = (16 + length + 7) / 8;

		assert_int_equal(write_inband(&f->producer, length, payload, length), 0);
		vmbus_ring_write_publish(&f->producer, &signal);
		assert_int_equal(*data_at(f, before + 4), expected_len8);
		for (uint32_t pad = 16 + length; pad < expected_len8 * 8; pad++)
			assert_int_equal(*data_at(f, before + pad), 0);
		assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX),
				 (before + expected_len8 * 8 + 8) % DATA_SIZE);
		assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
		assert_int_equal(info.packet_size, expected_len8 * 8);
		assert_memory_equal(buffer + 16, payload, length);
	}
}

/* Write at @start, check the raw bytes against the hand layout, read it back. */
static void check_wrap_at(struct fixture *f, uint32_t start, uint32_t length)
{
	uint8_t payload[64], expected[128], actual[128], buffer[128];
	struct vmbus_ring_packet_info info;
	uint32_t total = (16 + length + 7) / 8 * 8 + 8;
	bool signal;

	for (unsigned i = 0; i < length; i++)
		payload[i] = (uint8_t)(0x80 + i);
	/* Expected bytes: hand layout into a scratch ring, then compare ring images. */
	reset_ring(f, start);
	hand_write_packet(f, start, 6, 1, 0x0102030405060708ull, payload, length);
	get_ring_bytes(f, start, expected, total);

	reset_ring(f, start);
	memset(f->data, 0xee, DATA_SIZE);
	assert_int_equal(write_inband(&f->producer, 0x0102030405060708ull, payload, length), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	get_ring_bytes(f, start, actual, total);
	assert_memory_equal(actual, expected, total);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), (start + total) % DATA_SIZE);

	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 0x0102030405060708ull);
	assert_memory_equal(buffer + 16, payload, length);
	assert_true(vmbus_ring_is_empty(&f->consumer));
}

static void test_wrap_inside_descriptor(void **state)
{
	/* Descriptor bytes 0..7 at the end of the data area, trans_id at its start. */
	check_wrap_at(*state, DATA_SIZE - 8, 20);
}

static void test_wrap_inside_payload(void **state)
{
	check_wrap_at(*state, DATA_SIZE - 24, 40);
}

static void test_wrap_at_padding_and_trailer(void **state)
{
	/* 16 + 13 -> padding ends exactly at the end, the trailer wraps to offset 0. */
	check_wrap_at(*state, DATA_SIZE - 32, 13);
	/* The trailer is the last 8 bytes of the data area. */
	check_wrap_at(*state, DATA_SIZE - 40, 13);
	/* Payload ends exactly at the end, no padding; trailer at 0. */
	check_wrap_at(*state, DATA_SIZE - 32, 16);
}

/* The same packet as write_inband(), its payload built in place (vmbus_ring_write_begin). */
static int write_inband_in_place(struct vmbus_ring *ring, uint64_t trans_id, const void *payload, size_t length,
				 void **where)
{
	static uint8_t bounce[DATA_SIZE];
	struct vmbus_ring_packet packet = { .type = 6, .flags = 1, .trans_id = trans_id };
	int rc;

	memset(bounce, 0xbb, sizeof(bounce));
	rc = vmbus_ring_write_begin(ring, &packet, (uint32_t)length, bounce, where);
	if (rc != 0)
		return rc;
	memcpy(*where, payload, length);
	vmbus_ring_write_end(ring, *where);
	return 0;
}

/*
 * In place, at every start that puts the descriptor, the payload, the padding or the trailer
 * across the end: the same bytes as vmbus_ring_write(), the payload in the ring when it is
 * whole there and in the bounce buffer when the end would split it.
 */
static void test_write_in_place_matches_copy(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[64], expected[128], actual[128];
	uint32_t start, length, total, offset;
	void *where;
	bool signal;

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x40 + i);
	for (length = 0; length <= 41; length += 13) {
		total = (16 + length + 7) / 8 * 8 + 8;
		for (start = DATA_SIZE - 96; start < DATA_SIZE; start += 8) {
			reset_ring(f, start);
			memset(f->data, 0xee, DATA_SIZE);
			assert_int_equal(write_inband(&f->producer, 0x1122334455667788ull, payload, length), 0);
			get_ring_bytes(f, start, expected, total);

			reset_ring(f, start);
			memset(f->data, 0xee, DATA_SIZE);
			assert_int_equal(write_inband_in_place(&f->producer, 0x1122334455667788ull, payload, length,
							       &where), 0);
			offset = (start + 16) % DATA_SIZE;
			if (length != 0 && offset + length > DATA_SIZE)
				assert_true((uint8_t *)where < f->data || (uint8_t *)where >= f->data + DATA_SIZE);
			else
				assert_ptr_equal(where, f->data + offset);
			vmbus_ring_write_publish(&f->producer, &signal);
			get_ring_bytes(f, start, actual, total);
			assert_memory_equal(actual, expected, total);
			assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), (start + total) % DATA_SIZE);
		}
	}
}

/* A begin with no end moves nothing: the next packet goes where it would have. */
static void test_write_begin_without_end_leaves_ring(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet packet = { .type = 6, .flags = 1, .trans_id = 7 };
	struct vmbus_ring_packet_info info;
	uint8_t bounce[32], buffer[64], payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct iovec iov = { .iov_base = payload, .iov_len = 8 };
	void *where;
	bool signal;

	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 24, bounce, &where), 0);
	assert_int_equal(f->producer.write_cursor, 0);
	assert_int_equal(write_inband(&f->producer, 9, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 32);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 9);
	assert_int_equal(info.packet_size, 24);
	assert_memory_equal(buffer + 16, payload, 8);

	/* Checks: no gathered payload, a bounce for a payload, the ring's limits and its room. */
	packet.payload = &iov;
	packet.payload_count = 1;
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 8, bounce, &where), -EINVAL);
	packet.payload_count = 0;
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 8, NULL, &where), -EINVAL);
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 8, bounce, NULL), -EINVAL);
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, DATA_SIZE, bounce, &where), -EMSGSIZE);
	reset_ring(f, 0);
	put_le32(f->memory + OFF_READ_INDEX, 48);
	assert_int_equal(vmbus_ring_attach(&f->producer, f->memory, RING_SIZE, HEADER_SIZE), 0);
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 24, bounce, &where), -EAGAIN);
	assert_int_equal(vmbus_ring_write_begin(&f->producer, &packet, 16, bounce, &where), 0);
}

static void test_full_by_one_gap(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[24] = { 0 };
	unsigned int written = 0;
	bool signal;

	/* Packets of 40 bytes + 8 trailer = 48: 85 fit in 4096 - 16, the 86th would leave 16 - 48. */
	while (write_inband(&f->producer, written, payload, sizeof(payload)) == 0)
		written++;
	assert_int_equal(written, 85);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 16);
	/* 8-byte packet + trailer = 24 > 16: still full. A 0-byte payload is 16 + 8 = 24 too. */
	assert_int_equal(write_inband(&f->producer, 99, payload, 0), -EAGAIN);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 85 * 48);

	/* Exactly free == packet + trailer is refused: the ring never becomes completely full. */
	reset_ring(f, 0);
	put_le32(f->memory + OFF_READ_INDEX, 48); /* free = 48 */
	assert_int_equal(vmbus_ring_attach(&f->producer, f->memory, RING_SIZE, HEADER_SIZE), 0);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 48);
	assert_int_equal(write_inband(&f->producer, 1, payload, 24), -EAGAIN); /* 40 + 8 == 48 */
	assert_int_equal(write_inband(&f->producer, 1, payload, 16), 0);       /* 32 + 8 < 48 */
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 8);
	assert_int_equal(write_inband(&f->producer, 1, payload, 0), -EAGAIN);
}

static void test_exact_fit(void **state)
{
	struct fixture *f = *state;
	static uint8_t payload[DATA_SIZE], buffer[DATA_SIZE];
	struct vmbus_ring_packet_info info;
	uint32_t largest = DATA_SIZE - 16 - 16; /* packet = data - 16, minus its descriptor */
	bool signal;

	for (uint32_t i = 0; i < largest; i++)
		payload[i] = (uint8_t)(i * 7);
	assert_int_equal(vmbus_ring_max_packet_size(&f->producer), DATA_SIZE - 16);
	assert_int_equal(write_inband(&f->producer, 1, payload, largest + 8), -EMSGSIZE);
	assert_int_equal(write_inband(&f->producer, 1, payload, largest), 0);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 8);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.packet_size, DATA_SIZE - 16);
	assert_memory_equal(buffer + 16, payload, largest);
	assert_true(vmbus_ring_is_empty(&f->consumer));
}

static void test_read_short_buffer_consumes_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[40] = { 1, 2, 3 }, buffer[64];
	struct vmbus_ring_packet_info info;
	bool signal;

	assert_int_equal(write_inband(&f->producer, 3, payload, sizeof(payload)), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, 32, &info), -ENOBUFS);
	assert_int_equal(info.packet_size, 56);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_memory_equal(buffer + 16, payload, sizeof(payload));
}

static void test_write_argument_checks(void **state)
{
	struct fixture *f = *state;
	struct iovec bad = { .iov_base = NULL, .iov_len = 4 };
	struct vmbus_ring_packet packet = { .type = 6, .payload = &bad, .payload_count = 1 };

	assert_int_equal(vmbus_ring_write(&f->producer, &packet), -EINVAL);
	packet.payload = NULL;
	assert_int_equal(vmbus_ring_write(&f->producer, &packet), -EINVAL);
	bad.iov_base = &bad;
	bad.iov_len = SIZE_MAX;
	packet.payload = &bad;
	assert_int_equal(vmbus_ring_write(&f->producer, &packet), -EMSGSIZE);
}

/* Everything the peer controls, corrupted one at a time: an error, never an overrun. */
static void test_corrupt_write_index(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[64];

	put_le32(f->memory + OFF_WRITE_INDEX, DATA_SIZE + 8); /* beyond the data area */
	assert_int_equal(vmbus_ring_peek(&f->consumer, &info), -EIO);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	assert_int_equal(vmbus_ring_bytes_available(&f->consumer), 0);
	put_le32(f->memory + OFF_WRITE_INDEX, 0xfffffff8u);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	put_le32(f->memory + OFF_WRITE_INDEX, 44); /* not a multiple of 8 */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	put_le32(f->memory + OFF_WRITE_INDEX, 16); /* less than a descriptor and a trailer */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
}

static void test_corrupt_descriptor(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t payload[8] = { 0 }, buffer[DATA_SIZE];

	hand_write_packet(f, 0, 6, 0, 1, payload, sizeof(payload)); /* 24 + 8 bytes */
	put_le32(f->memory + OFF_WRITE_INDEX, 32);

	put_le16(f->data + 4, 4); /* len8 * 8 + 8 = 40 > 32 available */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	put_le16(f->data + 4, 0xffff);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	assert_int_equal(vmbus_ring_skip(&f->consumer), -EIO);
	put_le16(f->data + 4, 3);
	put_le16(f->data + 2, 1); /* offset8 below 2 */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	put_le16(f->data + 2, 0);
	assert_int_equal(vmbus_ring_peek(&f->consumer, &info), -EIO);
	put_le16(f->data + 2, 4); /* offset8 beyond len8 */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), -EIO);
	put_le16(f->data + 2, 3); /* offset8 == len8: no payload, still valid */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.header_size, 24);
	/* The exact boundary len8 * 8 + 8 == available was accepted above. */
}

/*
 * The producer reads read_index only when the space it last saw runs out: writes go on into
 * that space (freed for certain: read_index only moves forward), and the corrupt index is
 * caught, -EIO, at the first write that needs it. Never -EAGAIN, never a write past it.
 */
static void expect_corruption_caught(struct fixture *f, uint32_t corrupt)
{
	uint8_t payload[8] = { 0 };
	unsigned int written = 0;
	int rc;

	put_le32(f->memory + OFF_READ_INDEX, corrupt);
	while ((rc = write_inband(&f->producer, 1, payload, sizeof(payload))) == 0)
		assert_true(++written < DATA_SIZE / 32); /* a 32-byte packet with its trailer */
	assert_int_equal(rc, -EIO);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 0);
}

static void test_corrupt_read_index(void **state)
{
	expect_corruption_caught(*state, DATA_SIZE);
}

static void test_misaligned_read_index(void **state)
{
	expect_corruption_caught(*state, 20);
}

/* The peer scribbles on our own index: the private cursor is what counts. */
static void test_own_indices_never_reread(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[8] = { 9 };
	bool signal;

	assert_int_equal(write_inband(&f->producer, 1, payload, sizeof(payload)), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	/* The consumer scribbles on the producer's index; the producer keeps its own cursor. */
	put_le32(f->memory + OFF_WRITE_INDEX, 800);
	assert_int_equal(write_inband(&f->producer, 2, payload, sizeof(payload)), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), 64);
	assert_int_equal(get_le32(f->data + 32 + 32 - 8 + 4), 32); /* trailer of packet 2 */
}

static void test_writer_signal_rules(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[8] = { 0 }, buffer[64];
	struct vmbus_ring_packet_info info;
	bool signal;

	/* Empty before, mask clear: signal. */
	assert_int_equal(write_inband(&f->producer, 1, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_true(signal);
	/* Not empty before (the consumer has not read): no signal. */
	assert_int_equal(write_inband(&f->producer, 2, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_false(signal);
	/* Nothing new: no publication, no signal. */
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_false(signal);

	/* Drain, then the consumer masks: no signal even from empty. */
	while (vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info) == 0)
		;
	vmbus_ring_read_publish(&f->consumer, &signal);
	vmbus_ring_set_interrupt_mask(&f->consumer, true);
	assert_int_equal(get_le32(f->memory + OFF_INTERRUPT_MASK), 1);
	assert_int_equal(write_inband(&f->producer, 3, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_false(signal);

	/* Batched: three packets from empty, one publication, one signal decision (true). */
	while (vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info) == 0)
		;
	vmbus_ring_read_publish(&f->consumer, &signal);
	vmbus_ring_set_interrupt_mask(&f->consumer, false);
	uint32_t before = get_le32(f->memory + OFF_WRITE_INDEX);
	for (int i = 0; i < 3; i++)
		assert_int_equal(write_inband(&f->producer, 10 + i, payload, 8), 0);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), before); /* one publication ... */
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX), before + 3 * 32);
	assert_true(signal); /* ... and one signal for the batch */

	/* Batched, ring not empty before: no signal for the whole batch. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(write_inband(&f->producer, 20 + i, payload, 8), 0);
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_false(signal);
}

/*
 * The producer's signal decision from header states laid by hand (vmbus-spec.md 2.3): signal
 * exactly when the consumer's published read_index equals the write_index before the batch
 * and interrupt_mask is clear. Each state is set at an index where the batch wraps the ring.
 * A consumer that has read a packet but not yet published its read_index, or that has its
 * mask set, gets no signal, and must find the batch by looking again before it sleeps
 * (channel_ut: test_unsignalled_packet_found_before_sleeping).
 */
static void test_signal_decision_hand_built_states(void **state)
{
	static const struct {
		uint32_t read_behind; /* bytes the consumer has not released before the batch */
		uint32_t mask;
		unsigned int packets;
		bool signal;
	} cases[] = {
		{ 0, 0, 1, true },    /* empty, listening: signal */
		{ 0, 0, 3, true },    /* a batch from empty: one decision, true */
		{ 48, 0, 1, false },  /* a packet read but not released: not empty, no signal */
		{ 8, 0, 2, false },   /* any unreleased byte counts */
		{ 0, 1, 1, false },   /* masked (the consumer polls): no signal */
		{ 48, 1, 3, false },
	};
	struct fixture *f = *state;
	uint8_t payload[24] = { 0 };
	const uint32_t start = DATA_SIZE - 32; /* each batch wraps */
	unsigned int i, j;
	bool signal;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset_ring(f, start);
		put_le32(f->memory + OFF_READ_INDEX, (start + DATA_SIZE - cases[i].read_behind) % DATA_SIZE);
		put_le32(f->memory + OFF_INTERRUPT_MASK, cases[i].mask);
		for (j = 0; j < cases[i].packets; j++)
			assert_int_equal(write_inband(&f->producer, j, payload, sizeof(payload)), 0);
		vmbus_ring_write_publish(&f->producer, &signal);
		if (signal != cases[i].signal)
			fail_msg("case %u: signal %d, want %d", i, signal, cases[i].signal);
		assert_int_equal(get_le32(f->memory + OFF_WRITE_INDEX),
				 (start + cases[i].packets * 48) % DATA_SIZE);
		/* Whatever was decided, the batch is there for a consumer that looks. */
		assert_false(vmbus_ring_is_empty(&f->consumer));
	}
}

/* Fill with 48-byte packets (40 + trailer) until the ring has 16 bytes free. */
static void fill_ring(struct fixture *f)
{
	uint8_t payload[24] = { 0 };
	bool signal;

	while (write_inband(&f->producer, 1, payload, sizeof(payload)) == 0)
		;
	vmbus_ring_write_publish(&f->producer, &signal);
	assert_int_equal(vmbus_ring_bytes_free(&f->producer), 16);
}

static void test_reader_pending_send_rules(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[64];
	bool signal;

	/* Reading without a pending request never signals. */
	fill_ring(f);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_false(signal);

	/* Blocked producer wants free > 48: reading one packet (16 -> 64 free) signals. */
	reset_ring(f, 0);
	fill_ring(f);
	vmbus_ring_set_pending_send_size(&f->producer, 48);
	assert_int_equal(get_le32(f->memory + OFF_PENDING_SEND), 48);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_true(signal);
	/* The next read is no transition (64 was already > 48): no signal. */
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_false(signal);

	/* Batched: two packets, one publication, one signal. */
	reset_ring(f, 0);
	fill_ring(f);
	vmbus_ring_set_pending_send_size(&f->producer, 48);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_true(signal);
	assert_int_equal(get_le32(f->memory + OFF_READ_INDEX), 96);

	/* Still not enough room after the read (64 free, wants > 100): no signal yet. */
	reset_ring(f, 0);
	fill_ring(f);
	vmbus_ring_set_pending_send_size(&f->producer, 100);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_false(signal);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal); /* 64 -> 112 crosses 100 */
	assert_true(signal);

	/* Without the feature bit the reader ignores pending_send_size. */
	reset_ring(f, 0);
	fill_ring(f);
	put_le32(f->memory + OFF_FEATURE_BITS, 0);
	vmbus_ring_set_pending_send_size(&f->producer, 48);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_false(signal);

	/* The reader's own interrupt_mask plays no part in this decision. */
	reset_ring(f, 0);
	fill_ring(f);
	vmbus_ring_set_interrupt_mask(&f->consumer, true);
	vmbus_ring_set_pending_send_size(&f->producer, 48);
	assert_int_equal(vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info), 0);
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_true(signal);
}

/*
 * Producer and consumer on two threads over a small ring: every packet arrives once, in
 * order, byte for byte. Exercises the acquire/release pairing and the wrap paths together.
 */
#define STRESS_PACKETS 200000u

static void *stress_producer(void *argument)
{
	struct fixture *f = argument;
	uint8_t payload[200];
	unsigned int seed = 1;
	bool signal;

	for (uint32_t n = 0; n < STRESS_PACKETS;) {
		uint32_t length = (uint32_t)rand_r(&seed) % sizeof(payload);
		unsigned int batch = 1 + (unsigned int)rand_r(&seed) % 8;

		for (uint32_t i = 0; i < length; i++)
			payload[i] = (uint8_t)(n + i);
		while (write_inband(&f->producer, n, payload, length) == -EAGAIN) {
			vmbus_ring_write_publish(&f->producer, &signal);
			sched_yield();
		}
		n++;
		if (n % batch == 0)
			vmbus_ring_write_publish(&f->producer, &signal);
	}
	vmbus_ring_write_publish(&f->producer, &signal);
	return NULL;
}

static void test_two_thread_stress(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[256];
	pthread_t producer;
	bool signal;
	uint32_t expected = 0;

	assert_int_equal(pthread_create(&producer, NULL, stress_producer, f), 0);
	while (expected < STRESS_PACKETS) {
		int rc = vmbus_ring_read(&f->consumer, buffer, sizeof(buffer), &info);

		if (rc == -EAGAIN) {
			vmbus_ring_read_publish(&f->consumer, &signal);
			sched_yield();
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(info.trans_id == expected);
		for (uint32_t i = 16; i < info.packet_size; i++) {
			/* payload bytes follow the pattern; padding is zero */
			uint8_t want = (uint8_t)(expected + i - 16);

			if (buffer[i] != want)
				assert_true(i >= info.packet_size - 7 && buffer[i] == 0);
		}
		expected++;
		if (expected % 5 == 0)
			vmbus_ring_read_publish(&f->consumer, &signal);
	}
	vmbus_ring_read_publish(&f->consumer, &signal);
	assert_int_equal(pthread_join(producer, NULL), 0);
	assert_true(vmbus_ring_is_empty(&f->consumer));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_constants),
		cmocka_unit_test_setup_teardown(test_attach_rejects_bad_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_parses_hand_built_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_produces_spec_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_extension_counts_in_offset8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rounding_to_8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_inside_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_inside_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_at_padding_and_trailer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_in_place_matches_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_begin_without_end_leaves_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_by_one_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_short_buffer_consumes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_argument_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_write_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_read_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misaligned_read_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_indices_never_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_signal_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_decision_hand_built_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_pending_send_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_thread_stress, setup, teardown),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes the seed corpora of the fuzz targets: `make fuzz-seeds` runs it as
 * make-seeds tests/fuzz/corpus. Each seed is a small valid (or nearly valid) input in the
 * layout its target's header comment describes, built with the project's own encoders, so
 * the fuzzers start past the checksums and length fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <vmbus/ring.h>
#include <winapi/host_apis.h>
#include <winapi/protocol.h>

#include "../../drivers/bus/sim/sim_wire.h"
#include "../unit/le_bytes.h"

#define RING_HEADER_SIZE 4096u
#define HOST_FAKE_GPADL 0x2au    /* host_fuzz.c's fake guest memory */
#define HOST_FAKE_FIRST_PFN 16u
#define PMD_POOL_GPADL 5u
#define PMD_POOL_SIZE (1u << 20)

static const char *root;

/* A growing byte string. */
struct bytes {
	uint8_t data[64 << 10];
	size_t size;
};

static void add(struct bytes *b, const void *data, size_t size)
{
	if (b->size + size > sizeof(b->data)) {
		fprintf(stderr, "make-seeds: seed too large\n");
		exit(1);
	}
	memcpy(b->data + b->size, data, size);
	b->size += size;
}

static void add_u8(struct bytes *b, uint8_t value)
{
	add(b, &value, 1);
}

static void add_le16(struct bytes *b, uint16_t value)
{
	uint8_t p[2] = { (uint8_t)value, (uint8_t)(value >> 8) };

	add(b, p, 2);
}

static void add_le32(struct bytes *b, uint32_t value)
{
	uint8_t p[4];

	put_le32(p, value);
	add(b, p, 4);
}

static void add_le64(struct bytes *b, uint64_t value)
{
	uint8_t p[8];

	put_le64(p, value);
	add(b, p, 8);
}

static void add_text(struct bytes *b, const char *text)
{
	add(b, text, strlen(text));
}

/* u32 length, then the JSON text: one frame of the baseline's stream. */
static void add_frame(struct bytes *b, const char *json)
{
	add_le32(b, (uint32_t)strlen(json));
	add_text(b, json);
}

static void write_seed(const char *target, const char *name, const struct bytes *b)
{
	char path[512];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	file = fopen(path, "wb");
	if (file == NULL || fwrite(b->data, 1, b->size, file) != b->size || fclose(file) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- winapi messages ---- */

static size_t encode_message(const struct winapi_message *message, uint8_t *out, size_t out_size)
{
	int size = winapi_message_encode(message, out, out_size);

	if (size < 0) {
		fprintf(stderr, "make-seeds: encode: %s\n", strerror(-size));
		exit(1);
	}
	return (size_t)size;
}

static size_t echo_request(uint64_t id, uint8_t *out, size_t out_size)
{
	const struct winapi_message message = {
		.api_id = WINAPI_API_ECHO,
		.request_id = id,
		.reply_capacity = WINAPI_MAX_INLINE_DATA,
		.inline_length = 11,
		.inline_data = "hello, host",
	};

	return encode_message(&message, out, out_size);
}

static size_t echo_response(uint64_t id, uint8_t *out, size_t out_size)
{
	const struct winapi_message message = {
		.api_id = WINAPI_API_ECHO,
		.flags = WINAPI_MESSAGE_FLAG_RESPONSE,
		.request_id = id,
		.inline_length = 11,
		.inline_data = "hello, host",
	};

	return encode_message(&message, out, out_size);
}

static size_t buffer_test_request(uint64_t id, uint32_t operation, uint32_t kind, uint32_t region, uint64_t offset,
				  uint64_t length, unsigned int count, uint8_t *out, size_t out_size)
{
	const struct winapi_buffer_test_request test = { .operation = operation, .pattern = 0xa5a55a5au };
	struct winapi_message message = {
		.api_id = WINAPI_API_BUFFER_TEST,
		.request_id = id,
		.reply_capacity = sizeof(struct winapi_buffer_test_reply),
		.buffer_count = (uint16_t)count,
		.inline_length = sizeof(struct winapi_buffer_test_request),
	};
	uint8_t inline_data[sizeof(struct winapi_buffer_test_request)];
	unsigned int i;

	winapi_buffer_test_request_encode(&test, inline_data);
	message.inline_data = inline_data;
	for (i = 0; i < count; i++)
		message.buffers[i] = (struct winapi_buffer_descriptor){
			.kind = kind, .region = region, .offset = offset + i * length, .length = length,
		};
	return encode_message(&message, out, out_size);
}

static size_t perf_request(uint64_t id, uint32_t type, unsigned int buffers, uint32_t kind, uint32_t region,
			   uint64_t length, uint8_t *out, size_t out_size)
{
	const struct winapi_perf_test_request test = { .test_type = type, .sequence = 7 };
	struct winapi_message message = {
		.api_id = WINAPI_API_PERF_TEST,
		.request_id = id,
		.reply_capacity = sizeof(struct winapi_perf_test_reply),
		.buffer_count = (uint16_t)buffers,
		.inline_length = sizeof(struct winapi_perf_test_request),
	};
	uint8_t inline_data[sizeof(struct winapi_perf_test_request)];

	winapi_perf_test_request_encode(&test, inline_data);
	message.inline_data = inline_data;
	if (buffers != 0)
		message.buffers[0] = (struct winapi_buffer_descriptor){ .kind = kind, .region = region, .length = length };
	return encode_message(&message, out, out_size);
}

static size_t reply_message(uint64_t id, uint16_t api, const void *payload, uint32_t length, uint8_t *out,
			    size_t out_size)
{
	const struct winapi_message message = {
		.api_id = api,
		.flags = WINAPI_MESSAGE_FLAG_RESPONSE,
		.request_id = id,
		.inline_length = length,
		.inline_data = payload,
	};

	return encode_message(&message, out, out_size);
}

/* One GPA-direct range over guest pages @first_pfn...; returns the header's size. */
static size_t gpa_header(uint32_t byte_offset, uint32_t byte_count, uint64_t first_pfn, uint8_t *out, size_t out_size)
{
	uint64_t pfns[16];
	const struct vmbus_gpa_range_desc range = { .byte_count = byte_count, .byte_offset = byte_offset, .pfns = pfns };
	uint64_t i;
	int size;

	for (i = 0; i < vmbus_gpa_range_pages(byte_offset, byte_count); i++)
		pfns[i] = first_pfn + i;
	size = vmbus_gpa_header_encode(&range, 1, out, out_size);
	if (size < 0) {
		fprintf(stderr, "make-seeds: gpa header: %s\n", strerror(-size));
		exit(1);
	}
	return (size_t)size;
}

/* A whole packet as it sits in a ring: descriptor, type-specific header, payload, padding. */
static void add_packet(struct bytes *b, uint16_t type, uint16_t flags, uint64_t trans_id, const void *extension,
		       size_t extension_size, const void *payload, size_t payload_size)
{
	size_t header_size = 16 + extension_size;
	size_t packet_size = vmbus_packet_align8((uint32_t)(header_size + payload_size));
	static const uint8_t zeros[8];

	add_le16(b, type);
	add_le16(b, (uint16_t)(header_size / 8));
	add_le16(b, (uint16_t)(packet_size / 8));
	add_le16(b, flags);
	add_le64(b, trans_id);
	add(b, extension, extension_size);
	add(b, payload, payload_size);
	add(b, zeros, packet_size - header_size - payload_size);
}

/* ---- ring_fuzz ---- */

/* Serialise a ring image in ring_fuzz's layout, with @tail as the write-back payload. */
static void ring_seed(const char *name, uint8_t control, const uint8_t *memory, uint32_t data_size,
		      const char *tail)
{
	const struct vmbus_ring_header *header = (const struct vmbus_ring_header *)memory;
	struct bytes b = { .size = 0 };

	add_le16(&b, (uint16_t)(data_size / 8 - 1));
	add_u8(&b, control);
	add_le32(&b, header->write_index);
	add_le32(&b, header->read_index);
	add_le32(&b, header->interrupt_mask);
	add_le32(&b, header->pending_send_size);
	add_le32(&b, header->feature_bits);
	add(&b, memory + RING_HEADER_SIZE, data_size);
	if (tail != NULL)
		add_text(&b, tail);
	write_seed("ring_fuzz", name, &b);
}

/* A ring of @data_size bytes whose cursors start at @start, holding the given packets. */
static uint8_t *ring_with_packets(uint32_t data_size, uint32_t start, unsigned int packets)
{
	uint8_t *memory = calloc(1, RING_HEADER_SIZE + data_size), message[512], gpa[64];
	struct vmbus_ring_header *header = (struct vmbus_ring_header *)memory;
	struct vmbus_ring ring;
	bool need_signal;
	unsigned int i;

	vmbus_ring_header_init(memory, RING_HEADER_SIZE);
	header->write_index = header->read_index = start;
	if (vmbus_ring_attach(&ring, memory, RING_HEADER_SIZE + data_size, RING_HEADER_SIZE) != 0)
		exit(1);
	for (i = 0; i < packets; i++) {
		size_t size = i % 2 == 0 ? echo_request(i + 1, message, sizeof(message)) :
					   echo_response(i + 1, message, sizeof(message));
		const struct iovec payload = { .iov_base = message, .iov_len = size };
		struct vmbus_ring_packet packet = {
			.type = i % 2 == 0 ? VMBUS_PACKET_DATA_INBAND : VMBUS_PACKET_COMPLETION,
			.flags = i % 2 == 0 ? VMBUS_PACKET_FLAG_COMPLETION_REQUESTED : 0,
			.trans_id = i + 1,
			.payload = &payload,
			.payload_count = 1,
		};

		if (i == 2) {
			packet.type = VMBUS_PACKET_DATA_USING_GPA_DIRECT;
			packet.header_extension = gpa;
			packet.header_extension_size = (uint32_t)gpa_header(100, 5000, 16, gpa, sizeof(gpa));
		}
		if (vmbus_ring_write(&ring, &packet) != 0)
			exit(1);
	}
	vmbus_ring_write_publish(&ring, &need_signal);
	return memory;
}

static void ring_seeds(void)
{
	uint8_t *memory;

	memory = ring_with_packets(256, 0, 0);
	ring_seed("empty", 0, memory, 256, NULL);
	ring_seed("empty-write-back", 8, memory, 256, "payload written back");
	free(memory);

	memory = ring_with_packets(1024, 0, 3);
	ring_seed("three-packets", 0, memory, 1024, NULL);
	ring_seed("three-packets-peek-skip", 2 | 4, memory, 1024, NULL);
	ring_seed("three-packets-short-buffer-write-back", 1 | 8, memory, 1024, "again");
	free(memory);

	/* Cursors near the end: the packets wrap around the data area. */
	memory = ring_with_packets(512, 448, 2);
	ring_seed("wrapped", 3, memory, 512, NULL);
	ring_seed("wrapped-write-back", 8, memory, 512, "wrapping payload, long enough to wrap around");
	free(memory);

	/* A descriptor whose len8 runs past what was published. */
	memory = ring_with_packets(512, 0, 1);
	memory[RING_HEADER_SIZE + 4] = 0xff;
	ring_seed("len8-too-long", 0, memory, 512, NULL);
	free(memory);
}

/* ---- packet_fuzz ---- */

static void packet_seeds(void)
{
	uint8_t message[512], gpa[128];
	size_t size, gpa_size;
	struct bytes b;

	size = echo_request(1, message, sizeof(message));
	b.size = 0;
	add_packet(&b, VMBUS_PACKET_DATA_INBAND, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, 1, NULL, 0, message, size);
	write_seed("packet_fuzz", "inband-echo", &b);

	size = echo_response(1, message, sizeof(message));
	b.size = 0;
	add_packet(&b, VMBUS_PACKET_COMPLETION, 0, 1, NULL, 0, message, size);
	write_seed("packet_fuzz", "completion-echo", &b);

	/* Two back to back, the trailer between them. */
	add_le64(&b, 0);
	size = echo_request(2, message, sizeof(message));
	add_packet(&b, VMBUS_PACKET_DATA_INBAND, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, 2, NULL, 0, message, size);
	write_seed("packet_fuzz", "two-packets", &b);

	gpa_size = gpa_header(100, 5000, 16, gpa, sizeof(gpa));
	size = buffer_test_request(3, WINAPI_BUFFER_OP_READ, WINAPI_BUFFER_GPA_DIRECT, 0, 0, 5000, 1, message,
				   sizeof(message));
	b.size = 0;
	add_packet(&b, VMBUS_PACKET_DATA_USING_GPA_DIRECT, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, 3, gpa, gpa_size,
		   message, size);
	write_seed("packet_fuzz", "gpa-direct-one-range", &b);

	{
		/* Two ranges: a page and a bit, then three whole pages. */
		uint64_t pfns_a[2] = { 16, 17 }, pfns_b[3] = { 40, 41, 42 };
		const struct vmbus_gpa_range_desc ranges[2] = {
			{ .byte_count = 4097, .byte_offset = 0, .pfns = pfns_a },
			{ .byte_count = 3 * 4096, .byte_offset = 0, .pfns = pfns_b },
		};
		int encoded = vmbus_gpa_header_encode(ranges, 2, gpa, sizeof(gpa));

		if (encoded < 0)
			exit(1);
		b.size = 0;
		add_packet(&b, VMBUS_PACKET_DATA_USING_GPA_DIRECT, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, 4, gpa,
			   (size_t)encoded, message, size);
		write_seed("packet_fuzz", "gpa-direct-two-ranges", &b);
	}
}

/* A request of a control call (1.1) with @length inline bytes. */
static size_t control_request(uint64_t id, uint16_t api, const void *data, uint32_t length, uint8_t *out,
			      size_t out_size)
{
	const struct winapi_message message = {
		.api_id = api,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.request_id = id,
		.reply_capacity = WINAPI_MAX_INLINE_DATA,
		.inline_length = length,
		.inline_data = data,
	};

	return encode_message(&message, out, out_size);
}

/* ---- protocol_fuzz ---- */

static void protocol_seed(const char *name, const uint8_t *message, size_t size)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, 1); /* seal the checksum after mutation */
	add(&b, message, size);
	write_seed("protocol_fuzz", name, &b);
}

static void protocol_seeds(void)
{
	uint8_t message[WINAPI_MESSAGE_MAX_SIZE], payload[32];
	size_t size;

	size = echo_request(1, message, sizeof(message));
	protocol_seed("echo-request", message, size);
	memset(message + size, 0, 7);
	protocol_seed("echo-request-padded", message, size + 7);
	size = echo_response(1, message, sizeof(message));
	protocol_seed("echo-response", message, size);

	size = buffer_test_request(2, WINAPI_BUFFER_OP_VERIFY, WINAPI_BUFFER_GPADL, 9, 4096, 8192, 2, message,
				   sizeof(message));
	protocol_seed("buffer-test-request", message, size);
	winapi_buffer_test_reply_encode(&(struct winapi_buffer_test_reply){ .bytes_processed = 16384,
									    .first_mismatch = UINT64_MAX,
									    .checksum = 0x12345678 },
					payload);
	size = reply_message(2, WINAPI_API_BUFFER_TEST, payload, 32, message, sizeof(message));
	protocol_seed("buffer-test-reply", message, size);

	size = perf_request(3, WINAPI_PERF_LATENCY, 0, 0, 0, 0, message, sizeof(message));
	protocol_seed("perf-request", message, size);
	winapi_perf_test_reply_encode(&(struct winapi_perf_test_reply){ .sequence = 7, .host_ns = 1000 }, payload);
	size = reply_message(3, WINAPI_API_PERF_TEST, payload, 32, message, sizeof(message));
	protocol_seed("perf-reply", message, size);

	/* 1.1's control replies: a page of the API table, an event wait's answer. */
	{
		struct winapi_api_entry entries[2] = { winapi_seed_apis[0], winapi_seed_apis[2] };
		struct winapi_api_list_reply list = { .protocol_oldest = 0x100, .protocol_newest = 0x101,
						      .api_count = 3, .first = 1, .entry_count = 2 };
		const uint8_t tick[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
		const struct winapi_event_record events[2] = { { .sequence = 3, .length = 8, .data = tick },
							       { .sequence = 5, .length = 3, .data = tick } };
		uint8_t reply[WINAPI_MAX_INLINE_DATA];
		int length = winapi_api_list_reply_encode(&list, entries, reply, sizeof(reply));

		size = reply_message(5, WINAPI_API_LIST, reply, (uint32_t)length, message, sizeof(message));
		protocol_seed("list-reply", message, size);
		length = winapi_event_wait_reply_encode(
			&(struct winapi_event_wait_reply){ .subscription = 0x11, .lost = 1, .event_count = 2 }, events,
			reply, sizeof(reply));
		size = reply_message(6, WINAPI_API_EVENT_WAIT, reply, (uint32_t)length, message, sizeof(message));
		protocol_seed("event-wait-reply", message, size);
	}

	/* The host APIs' replies (host.time, host.info), as every host sends them. */
	{
		struct winapi_host_info info = { .processor_count = 2, .os_major = 10, .os_build = 26100,
						 .memory_total = 1u << 30, .memory_available = 1u << 29,
						 .os_name = "Windows", .os_version = "10.0.26100 (Wine 8.0)",
						 .host_name = "h\xc3\xb4te", .processor = "AMD EPYC" };
		uint8_t reply[WINAPI_HOST_INFO_SIZE];

		winapi_host_time_encode(&(struct winapi_host_time){ .realtime_ns = 1765000000000000000ull,
								    .monotonic_ns = 123456789, .resolution_ns = 100 },
					reply);
		size = reply_message(7, WINAPI_HOST_TIME_ID, reply, WINAPI_HOST_TIME_SIZE, message, sizeof(message));
		protocol_seed("host-time-reply", message, size);
		winapi_host_info_encode(&info, reply);
		size = reply_message(8, WINAPI_HOST_INFO_ID, reply, WINAPI_HOST_INFO_SIZE, message, sizeof(message));
		protocol_seed("host-info-reply", message, size);
	}

	/* Another major version: decoded far enough to be answered. */
	size = echo_request(4, message, sizeof(message));
	message[5] = 2;
	put_le32(message + 60, winapi_crc32c(0, message, 60));
	protocol_seed("version-2", message, size);
}

/* ---- file_request_fuzz ---- */

static void file_seed(const char *name, const void *bytes, size_t size)
{
	struct bytes b = { .size = 0 };

	add(&b, bytes, size);
	write_seed("file_request_fuzz", name, &b);
}

static void file_request_seeds(void)
{
	static const struct winapi_file_entry entries[2] = {
		{ .size = 5242880, .mtime_ns = 1765000000000000000ull, .type = WINAPI_FILE_TYPE_REGULAR, .name = "big.bin" },
		{ .type = WINAPI_FILE_TYPE_DIRECTORY, .name = "sub" },
	};
	struct winapi_file_request request = { .offset = 4096, .length = 65536, .export_name = "data",
					       .export_length = 4, .path = "sub/a.txt", .path_length = 9 };
	uint8_t bytes[WINAPI_MAX_INLINE_DATA];
	size_t used = WINAPI_FILE_LIST_HEAD;
	int size;

	size = winapi_file_request_encode(&request, bytes, sizeof(bytes));
	file_seed("read-request", bytes, (size_t)size);
	request = (struct winapi_file_request){ .flags = WINAPI_FILE_CREATE | WINAPI_FILE_TRUNCATE, .length = 7,
						.export_name = "data", .export_length = 4, .path = "new.txt",
						.path_length = 7 };
	size = winapi_file_request_encode(&request, bytes, sizeof(bytes));
	file_seed("write-request", bytes, (size_t)size);
	request = (struct winapi_file_request){ .export_name = "data", .export_length = 4, .path = "../etc/passwd",
						.path_length = 13 };
	size = winapi_file_request_encode(&request, bytes, sizeof(bytes));
	file_seed("stat-request-dotdot", bytes, (size_t)size);
	winapi_file_stat_encode(&(struct winapi_file_stat){ .type = WINAPI_FILE_TYPE_REGULAR, .size = 6,
							     .mtime_ns = 1765000000000000000ull, .flags = WINAPI_FILE_WRITABLE },
				bytes);
	file_seed("stat-reply", bytes, WINAPI_FILE_STAT_SIZE);
	winapi_file_io_encode(&(struct winapi_file_io){ .bytes = 6, .flags = WINAPI_FILE_EOF }, bytes);
	file_seed("io-reply", bytes, WINAPI_FILE_IO_SIZE);
	winapi_file_list_add(bytes, sizeof(bytes), &used, &entries[0]);
	winapi_file_list_add(bytes, sizeof(bytes), &used, &entries[1]);
	winapi_file_list_finish(bytes, 0, 2, WINAPI_FILE_MORE);
	file_seed("list-reply", bytes, used);
}

/* ---- host_fuzz ---- */

static void host_seed(const char *name, uint8_t type, uint8_t flags, const uint8_t *extension, size_t extension_size,
		      const uint8_t *message, size_t size)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, type);
	add_u8(&b, flags);
	add_u8(&b, (uint8_t)(extension_size / 8));
	add(&b, extension, extension_size);
	add(&b, message, size);
	write_seed("host_fuzz", name, &b);
}

static void host_seeds(void)
{
	/* Completion requested, checksum sealed, trans_id = request_id. */
	const uint8_t request = 1 | 2 | 4;
	uint8_t message[WINAPI_MESSAGE_MAX_SIZE], gpa[128];
	size_t size, gpa_size;

	size = echo_request(1, message, sizeof(message));
	host_seed("echo", 0, request, NULL, 0, message, size);
	host_seed("echo-no-completion", 0, request & ~1, NULL, 0, message, size);

	size = buffer_test_request(2, WINAPI_BUFFER_OP_WRITE, WINAPI_BUFFER_GPADL, HOST_FAKE_GPADL, 0, 8192, 2, message,
				   sizeof(message));
	host_seed("buffer-write-gpadl", 0, request, NULL, 0, message, size);
	size = buffer_test_request(3, WINAPI_BUFFER_OP_VERIFY, WINAPI_BUFFER_GPADL, HOST_FAKE_GPADL, 100, 5000, 1,
				   message, sizeof(message));
	host_seed("buffer-verify-gpadl", 0, request, NULL, 0, message, size);

	gpa_size = gpa_header(100, 9000, HOST_FAKE_FIRST_PFN, gpa, sizeof(gpa));
	size = buffer_test_request(4, WINAPI_BUFFER_OP_READ, WINAPI_BUFFER_GPA_DIRECT, 0, 10, 8000, 1, message,
				   sizeof(message));
	host_seed("buffer-read-gpa-direct", 1, request, gpa, gpa_size, message, size);

	size = perf_request(5, WINAPI_PERF_THROUGHPUT, 1, WINAPI_BUFFER_GPA_DIRECT, 0, 9000, message, sizeof(message));
	host_seed("perf-throughput-gpa-direct", 1, request, gpa, gpa_size, message, size);
	size = perf_request(6, WINAPI_PERF_LATENCY, 0, 0, 0, 0, message, sizeof(message));
	host_seed("perf-latency", 0, request, NULL, 0, message, size);
}

/* ---- pmd_request_fuzz ---- */

static void pmd_seed(const char *name, uint8_t type, const uint8_t *message, size_t size)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, type);
	add_u8(&b, 1 | 2 | 4);
	add_u8(&b, 2);
	add_le32(&b, PMD_POOL_GPADL);
	add_le64(&b, PMD_POOL_SIZE);
	add_packet(&b, type, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, 0, NULL, 0, message, size);
	write_seed("pmd_request_fuzz", name, &b);
}

static void pmd_seeds(void)
{
	uint8_t message[WINAPI_MESSAGE_MAX_SIZE];
	size_t size;

	size = echo_request(1, message, sizeof(message));
	pmd_seed("echo", VMBUS_PACKET_DATA_INBAND, message, size);
	size = buffer_test_request(2, WINAPI_BUFFER_OP_WRITE, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL, 0, 65536, 4, message,
				   sizeof(message));
	pmd_seed("buffers-in-pool", VMBUS_PACKET_DATA_INBAND, message, size);
	size = buffer_test_request(3, WINAPI_BUFFER_OP_READ, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL, PMD_POOL_SIZE - 4096,
				   8192, 1, message, sizeof(message));
	pmd_seed("buffer-past-pool-end", VMBUS_PACKET_DATA_INBAND, message, size);
	size = buffer_test_request(4, WINAPI_BUFFER_OP_READ, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL + 1, 0, 4096, 1,
				   message, sizeof(message));
	pmd_seed("buffer-other-gpadl", VMBUS_PACKET_DATA_INBAND, message, size);
	size = perf_request(5, WINAPI_PERF_THROUGHPUT, 1, WINAPI_BUFFER_GPA_DIRECT, 0, 4096, message, sizeof(message));
	pmd_seed("gpa-direct", VMBUS_PACKET_DATA_USING_GPA_DIRECT, message, size);

	/* Events: a subscription to fuzz.events (17), a wait on one the client holds (0x11). */
	{
		uint8_t control[16];

		winapi_subscribe_request_encode(&(struct winapi_subscribe_request){ .api_id = 17, .api_version = 0x100 },
						control);
		size = control_request(6, WINAPI_API_SUBSCRIBE, control, 8, message, sizeof(message));
		pmd_seed("subscribe", VMBUS_PACKET_DATA_INBAND, message, size);
		winapi_event_wait_request_encode(
			&(struct winapi_event_wait_request){ .subscription = 0x11, .max_events = 4, .wait_ms = 500 },
			control);
		size = control_request(7, WINAPI_API_EVENT_WAIT, control, 16, message, sizeof(message));
		pmd_seed("event-wait-held", VMBUS_PACKET_DATA_INBAND, message, size);
	}
}

/* ---- telemetry_fuzz ---- */

static void telemetry_seed(const char *name, uint8_t mode, const char *text)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, mode);
	add_text(&b, text);
	write_seed("telemetry_fuzz", name, &b);
}

static void telemetry_answer_seed(const char *name, const char *command, const char *answer)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, 2);
	add_u8(&b, (uint8_t)strlen(command));
	add_text(&b, command);
	add_text(&b, answer);
	write_seed("telemetry_fuzz", name, &b);
}

static void telemetry_seeds(void)
{
	telemetry_seed("command-list", 0, "/");
	telemetry_seed("command-info", 0, "/info");
	telemetry_seed("command-help", 0, "/help,/info");
	telemetry_seed("command-echo", 0, "/fuzz/echo,h\xc3\xa9llo");
	telemetry_seed("command-fail", 0, "/fuzz/fail,1");
	telemetry_seed("command-big", 0, "/fuzz/big");
	telemetry_seed("hello", 1, "{\"version\":\"winapi-pmd 1.0\",\"pid\":4242,\"max_output_len\":16384}");
	telemetry_answer_seed("answer-stats", "/winapi/stats",
			      "{\"/winapi/stats\":{\"clients\":2,\"requests\":[1,2,3],\"ok\":true}}");
	telemetry_answer_seed("answer-null", "/winapi/stats", "{\"/winapi/stats\":null}");
	telemetry_seed("register", 3, "/winapi/client_stats");
}

/* ---- baseline_fuzz ---- */

static void baseline_seeds(void)
{
	uint8_t pattern[64];
	struct bytes b;
	unsigned int i;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = winapi_pattern_byte(0x11223344u, i);

	b.size = 0;
	add_le32(&b, 0); /* the host */
	add_frame(&b, "{\"request_id\":1,\"api\":\"echo\",\"data\":\"hello\"}");
	add_frame(&b, "{\"request_id\":2,\"api\":\"buffer_test\",\"op\":\"write\",\"pattern\":287454020,"
		      "\"payload_size\":64}");
	add_frame(&b, "{\"request_id\":3,\"api\":\"buffer_test\",\"op\":\"verify\",\"pattern\":287454020,"
		      "\"payload_size\":64}");
	add(&b, pattern, sizeof(pattern));
	write_seed("baseline_fuzz", "host-session", &b);

	b.size = 0;
	add_le32(&b, 1); /* baseline_echo() */
	add_frame(&b, "{\"request_id\":1,\"status\":0,\"data\":\"fuzz\"}");
	write_seed("baseline_fuzz", "guest-echo", &b);

	b.size = 0;
	add_le32(&b, 2); /* baseline_echo_batch() of three */
	for (i = 0; i < 3; i++)
		add_frame(&b, "{\"request_id\":1,\"status\":0,\"data\":\"fuzz\"}");
	write_seed("baseline_fuzz", "guest-echo-batch", &b);

	/* baseline_buffer_test() WRITE of 64 bytes: the answer, then the bytes. */
	b.size = 0;
	add_u8(&b, 3);
	add_u8(&b, 0);
	add_le16(&b, 63);
	add_frame(&b, "{\"request_id\":1,\"status\":0,\"bytes_processed\":64,\"checksum\":305419896,"
		      "\"mismatches\":0,\"first_mismatch\":-1}");
	add(&b, pattern, sizeof(pattern));
	write_seed("baseline_fuzz", "guest-buffer-write", &b);

	/* VERIFY: only the answer comes back. */
	b.size = 0;
	add_u8(&b, 3);
	add_u8(&b, 2);
	add_le16(&b, 63);
	add_frame(&b, "{\"request_id\":1,\"status\":0,\"bytes_processed\":64,\"checksum\":1,"
		      "\"mismatches\":3,\"first_mismatch\":5}");
	write_seed("baseline_fuzz", "guest-buffer-verify", &b);
}

/* ---- hvsock_fuzz ---- */

/* One header's text for the decoders: @mode 0 a request's, 1 a reply's. */
static void hvsock_header_seed(uint8_t mode, const char *name, const char *text)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, mode);
	add_text(&b, text);
	write_seed("hvsock_fuzz", name, &b);
}

static void hvsock_seeds(void)
{
	uint8_t bytes[64], test[sizeof(struct winapi_buffer_test_request)];
	struct bytes b;
	unsigned int i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);

	hvsock_header_seed(0, "request-verify",
			   "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":128,\"flags\":[\"async\"],"
			   "\"operation\":\"verify\",\"pattern\":287454020,\"crc_seed\":0,\"buffers\":[64,64]}");
	hvsock_header_seed(0, "request-latency",
			   "{\"request_id\":9,\"api\":\"performance\",\"payload_size\":0,\"flags\":[],"
			   "\"test_type\":\"latency\",\"sequence\":3}");
	hvsock_header_seed(1, "reply-buffer-test",
			   "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"status\":0,"
			   "\"bytes_processed\":128,\"checksum\":5,\"mismatches\":1,\"first_mismatch\":7}");
	hvsock_header_seed(1, "reply-performance",
			   "{\"request_id\":2,\"api\":\"performance\",\"payload_size\":0,\"status\":0,"
			   "\"sequence\":3,\"bytes_processed\":0,\"checksum\":0,\"host_ns\":100}");
	/* The generic frame: any API by name, LIST's too. */
	hvsock_header_seed(0, "request-generic",
			   "{\"request_id\":10,\"api\":\"winapi.buffer_test\",\"payload_size\":80,\"flags\":[\"async\"],"
			   "\"version\":256,\"inline_length\":16,\"reply_capacity\":32,\"buffers\":[64]}");
	hvsock_header_seed(1, "reply-generic",
			   "{\"request_id\":10,\"api\":\"host.time\",\"payload_size\":72,\"status\":0,"
			   "\"inline_length\":8}");

	/* A session: echo, write (the answer carries the bytes), read with its bytes, throughput. */
	b.size = 0;
	add_u8(&b, 2);
	add_frame(&b, "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":5}");
	add_text(&b, "hello");
	add_frame(&b, "{\"request_id\":2,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		      "\"pattern\":1,\"crc_seed\":0,\"buffers\":[64]}");
	add_frame(&b, "{\"request_id\":3,\"api\":\"buffer_test\",\"payload_size\":64,\"operation\":\"read\","
		      "\"pattern\":1,\"crc_seed\":0,\"buffers\":[64]}");
	add(&b, bytes, sizeof(bytes));
	add_frame(&b, "{\"request_id\":4,\"api\":\"performance\",\"payload_size\":64,"
		      "\"test_type\":\"throughput\",\"sequence\":1,\"buffers\":[64]}");
	add(&b, bytes, sizeof(bytes));
	add_frame(&b, "{\"request_id\":5,\"api\":\"unknown\",\"payload_size\":3}");
	add_text(&b, "abc");
	write_seed("hvsock_fuzz", "service-session", &b);

	/*
	 * Generic frames: echo by its registered name; LIST; buffer_test, whose buffers go both
	 * ways (its 16 inline bytes: a read of pattern 1); one whose payload leaves a read buffer
	 * out; an api nobody serves.
	 */
	b.size = 0;
	add_u8(&b, 2);
	add_frame(&b, "{\"request_id\":1,\"api\":\"winapi.echo\",\"payload_size\":5,\"version\":256,"
		      "\"inline_length\":5,\"reply_capacity\":16,\"buffers\":[]}");
	add_text(&b, "hello");
	add_frame(&b, "{\"request_id\":2,\"api\":\"winapi.apis\",\"payload_size\":8,\"version\":257,"
		      "\"inline_length\":8,\"reply_capacity\":3072,\"buffers\":[]}");
	add_le64(&b, 0);
	add_frame(&b, "{\"request_id\":3,\"api\":\"winapi.buffer_test\",\"payload_size\":80,\"version\":256,"
		      "\"inline_length\":16,\"reply_capacity\":32,\"buffers\":[64]}");
	winapi_buffer_test_request_encode(&(struct winapi_buffer_test_request){ .operation = WINAPI_BUFFER_OP_READ,
										 .pattern = 1 },
					  test);
	add(&b, test, sizeof(test));
	add(&b, bytes, sizeof(bytes));
	add_frame(&b, "{\"request_id\":4,\"api\":\"winapi.perf_test\",\"payload_size\":0,\"version\":256,"
		      "\"inline_length\":0,\"reply_capacity\":64,\"buffers\":[64]}");
	add_frame(&b, "{\"request_id\":5,\"api\":\"no.such.api\",\"payload_size\":3,\"version\":256,"
		      "\"inline_length\":3,\"reply_capacity\":16,\"buffers\":[]}");
	add_text(&b, "abc");
	write_seed("hvsock_fuzz", "service-generic", &b);
}

/* ---- driver_fuzz: a host's packets for the guest driver's four requests ---- */

/* One packet: selector (trans_id choice, type, seal, reap), options, le16 length, message. */
static void driver_packet(struct bytes *b, uint8_t select, uint8_t options, const uint8_t *message, size_t size)
{
	add_u8(b, select);
	add_u8(b, options);
	add_le16(b, (uint16_t)size);
	add(b, message, size);
}

/* A reply to request @index (0 echo, 1 buffer test, 2 LIST, 3 generic, then replacements),
 * its id and checksum filled in by the target. */
static void driver_reply(struct bytes *b, uint8_t index, uint8_t extra, uint16_t api, uint32_t status,
			 const void *payload, uint32_t length)
{
	struct winapi_message message = {
		.api_id = api, .flags = WINAPI_MESSAGE_FLAG_RESPONSE, .status = status,
		.inline_length = length, .inline_data = payload,
	};
	uint8_t out[WINAPI_MESSAGE_MAX_SIZE];

	driver_packet(b, (uint8_t)(index | 0x40u | extra), 0x04, out, encode_message(&message, out, sizeof(out)));
}

static void driver_seeds(void)
{
	static const uint8_t list_page[64] = { 1, 0, 1, 1, 0, 0, 0, 0, 3 };
	static const uint8_t result[16] = { 0, 0x20, 0, 0, 0, 0, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa };
	static const uint8_t sum[8] = { 5 };
	uint8_t out[WINAPI_MESSAGE_MAX_SIZE];
	struct bytes b;
	size_t size;

	/* Every request answered well; echo reply capacity 64. */
	b.size = 0;
	add_u8(&b, 2u << 3);
	driver_reply(&b, 0, 0, WINAPI_API_ECHO, 0, "fuzz the driver", 16);
	driver_reply(&b, 1, 0, WINAPI_API_BUFFER_TEST, 0, result, sizeof(result));
	driver_reply(&b, 2, 0, WINAPI_API_LIST, 0, list_page, sizeof(list_page));
	driver_reply(&b, 3, 0x80, 42, 0, sum, sizeof(sum));
	write_seed("driver_fuzz", "answers", &b);

	/* What fails: a host status, another api, too long, a buffer, no response flag. */
	b.size = 0;
	add_u8(&b, 1u << 3);
	driver_reply(&b, 0, 0, WINAPI_API_ECHO, 0, "fuzz the driver", 16); /* 16 > 4 */
	driver_reply(&b, 1, 0, WINAPI_API_BUFFER_TEST, WINAPI_STATUS_BAD_BUFFER, NULL, 0);
	driver_reply(&b, 2, 0, WINAPI_API_ECHO, 0, list_page, 8);
	size = reply_message(0, 42, sum, sizeof(sum), out, sizeof(out));
	out[8] = 0; /* flags: not a response */
	driver_packet(&b, 0x43, 0x04, out, size);
	write_seed("driver_fuzz", "errors", &b);

	/* Packets no request is answered by: inband, a bad flag, a header extension, unknown ids. */
	b.size = 0;
	add_u8(&b, 3u << 3);
	size = reply_message(0, WINAPI_API_ECHO, "fuzz the driver", 16, out, sizeof(out));
	driver_packet(&b, 0x60, 0x05, out, size);           /* inband */
	driver_packet(&b, 0x40, 0x06, out, size);           /* flag 0x2 */
	driver_packet(&b, 0x70, 0x04, out, size);           /* type follows */
	add_u8(&b, VMBUS_PACKET_DATA_USING_GPA_DIRECT);
	driver_packet(&b, 0x4c, 0x04, out, size);           /* a literal id follows */
	add_le64(&b, 0x0001000000010001ull);
	driver_packet(&b, 0x4d, 0x04, out, size);           /* next generation of request ... */
	add_u8(&b, 0);
	driver_packet(&b, 0x4e, 0x04, out, size);           /* queue 0 */
	driver_packet(&b, 0xcf, 0x04, out, size);           /* the next slot, then reap */
	driver_reply(&b, 0, 0x80, WINAPI_API_ECHO, 0, "fuzz the driver", 16);
	write_seed("driver_fuzz", "unexpected", &b);

	/* Slots reused: answers, reap, late answers to the old ids, answers to the new ones. */
	b.size = 0;
	add_u8(&b, 0x04 | 2u << 3);
	driver_reply(&b, 0, 0, WINAPI_API_ECHO, 0, "fuzz the driver", 16);
	driver_reply(&b, 1, 0x80, WINAPI_API_BUFFER_TEST, 0, result, sizeof(result));
	driver_reply(&b, 0, 0, WINAPI_API_ECHO, 0, "late", 4);
	driver_reply(&b, 1, 0, WINAPI_API_BUFFER_TEST, WINAPI_STATUS_BUSY, NULL, 0);
	driver_reply(&b, 4, 0, WINAPI_API_ECHO, 0, "fuzz the driver", 16);
	driver_reply(&b, 5, 0x80, WINAPI_API_BUFFER_TEST, 0, result, sizeof(result));
	write_seed("driver_fuzz", "slots-reused", &b);

	/* Interrupt mode, the LIST timed out at once and answered late. */
	b.size = 0;
	add_u8(&b, 0x01 | 0x02 | 3u << 3);
	driver_reply(&b, 2, 0, WINAPI_API_LIST, 0, list_page, sizeof(list_page));
	driver_reply(&b, 3, 0x80, 42, 0, sum, sizeof(sum));
	driver_reply(&b, 0, 0, WINAPI_API_ECHO, WINAPI_STATUS_REPLY_TOO_LARGE, NULL, 0);
	write_seed("driver_fuzz", "interrupt-mode-timeout", &b);
}

/* ---- hvsock_guest_fuzz: a host's stream to the guest's five requests ---- */

/* A reply frame's header for request @slot of the target's queue (its id: queue 1, first generation). */
static void guest_reply(struct bytes *b, unsigned int slot, const char *rest)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"request_id\":%llu,%s}",
		 (unsigned long long)(1ull << 48 | (uint64_t)slot << 32 | 0x10001u), rest);
	add_frame(b, json);
}

static void fill(struct bytes *b, uint8_t value, size_t count)
{
	while (count-- != 0)
		add_u8(b, value);
}

static void hvsock_guest_seeds(void)
{
	struct bytes b;

	b.size = 0;
	guest_reply(&b, 0, "\"api\":\"echo\",\"status\":0,\"payload_size\":15");
	add(&b, "fuzz the guest", 15);
	guest_reply(&b, 1, "\"api\":\"buffer_test\",\"status\":0,\"payload_size\":256,\"bytes_processed\":256,"
		    "\"checksum\":5,\"mismatches\":0,\"first_mismatch\":null");
	fill(&b, 0xdd, 256);
	guest_reply(&b, 2, "\"api\":\"buffer_test\",\"status\":0,\"payload_size\":0,\"bytes_processed\":256,"
		    "\"checksum\":7,\"mismatches\":0,\"first_mismatch\":null");
	guest_reply(&b, 3, "\"api\":\"example.add\",\"status\":0,\"payload_size\":264,\"inline_length\":8");
	fill(&b, 5, 1);
	fill(&b, 0, 7);
	fill(&b, 0x11, 256);
	guest_reply(&b, 4, "\"api\":\"winapi.apis\",\"status\":0,\"payload_size\":16,\"inline_length\":16");
	fill(&b, 1, 16);
	write_seed("hvsock_guest_fuzz", "answers", &b);

	/* Refusals: host statuses, another api, more than the reply buffer, a name it does not know. */
	b.size = 0;
	guest_reply(&b, 0, "\"api\":\"echo\",\"status\":0,\"payload_size\":40");
	fill(&b, 0x41, 40);
	guest_reply(&b, 1, "\"api\":\"buffer_test\",\"status\":4,\"payload_size\":0");
	guest_reply(&b, 2, "\"api\":\"performance\",\"status\":0,\"payload_size\":0,\"sequence\":1,"
		    "\"bytes_processed\":0,\"checksum\":0,\"host_ns\":1");
	guest_reply(&b, 3, "\"api\":null,\"status\":3,\"payload_size\":0");
	guest_reply(&b, 4, "\"api\":\"winapi.apis\",\"status\":0,\"payload_size\":8,\"inline_length\":4");
	fill(&b, 2, 8);
	write_seed("hvsock_guest_fuzz", "refusals", &b);

	/* Late and unknown ids, then a reply cut short: the rest fails when the stream ends. */
	b.size = 0;
	add_frame(&b, "{\"request_id\":281479271677953,\"api\":\"echo\",\"status\":0,\"payload_size\":3}");
	add(&b, "old", 3);
	add_frame(&b, "{\"request_id\":7,\"api\":\"echo\",\"status\":0,\"payload_size\":0}");
	guest_reply(&b, 1, "\"api\":\"buffer_test\",\"status\":0,\"payload_size\":256,\"bytes_processed\":256,"
		    "\"checksum\":5,\"mismatches\":0,\"first_mismatch\":null");
	fill(&b, 0xdd, 100);
	write_seed("hvsock_guest_fuzz", "cut-short", &b);

	/* A header that does not decode: the connection ends, every request with it. */
	b.size = 0;
	add_frame(&b, "{\"request_id\":\"x\"}");
	write_seed("hvsock_guest_fuzz", "bad-header", &b);
}

/* ---- the emulator's offer (sim_offer_fuzz) ---- */

static void sim_offer_seed(const char *name, uint8_t control, uint8_t fault_index, const struct sim_offer *offer,
			   size_t size)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, control);
	add_u8(&b, fault_index);
	add(&b, offer, size);
	write_seed("sim_offer_fuzz", name, &b);
}

static void sim_offer_seeds(void)
{
	const uint8_t class_id[16] = { 0x8f, 0x3d, 0xc8, 0x6a, 0x16, 0x6e, 0x5c, 0x4e,
				       0xab, 0x3d, 0xfd, 0x8c, 0x5a, 0x4b, 0x7e, 0x21 };
	struct sim_offer offer = {
		.magic = SIM_WIRE_MAGIC,
		.version = SIM_WIRE_VERSION,
		.channel_count = 1,
		.ring_size = 4 * 4096,
		.page_size = 4096, /* the fuzzer's machine: x86-64 */
		.relid = 14,
		.monitor_id = VMBUS_MONITOR_ID_NONE,
		.numa_node = -1,
	};

	memcpy(offer.class_id, class_id, sizeof(class_id));
	sim_offer_seed("one-channel", 0, 0, &offer, sizeof(offer));

	/* Everything an offer can carry: subchannels, a monitor, both pools, guest RAM, quirks. */
	offer.channel_count = 4;
	offer.subchannel_ring_size = 3 * 4096;
	offer.monitor_id = 37;
	offer.numa_node = 0;
	offer.pool_size[0] = 16 * 4096;
	offer.pool_offset[0] = 0;
	offer.pool_gpadl[0] = 925200;
	offer.pool_size[1] = 8 * 4096;
	offer.pool_offset[1] = 4 * 4096;
	offer.pool_gpadl[1] = 925201;
	offer.guest_ram_size = 64 * 4096;
	offer.flags = SIM_OFFER_UNMASK_ALL_ON_SIGNAL | SIM_OFFER_MASK_IN_INTERRUPT;
	sim_offer_seed("everything", 0, 0, &offer, sizeof(offer));
	/* The same with one descriptor wrong in each way the input can say. */
	sim_offer_seed("unsealed-pool", 3, 6, &offer, sizeof(offer));
	sim_offer_seed("short-ring", 4, 2, &offer, sizeof(offer));
	sim_offer_seed("pipe-for-signal", 5, 10, &offer, sizeof(offer));
	sim_offer_seed("one-fd-short", 6, 0, &offer, sizeof(offer));
	sim_offer_seed("too-many-fds", 8, 0, &offer, sizeof(offer));
	sim_offer_seed("short-message", 0, 0, &offer, sizeof(offer) - 4);

	/* The emulator is busy: a status and no descriptors. */
	memset(&offer, 0, sizeof(offer));
	offer.magic = SIM_WIRE_MAGIC;
	offer.version = SIM_WIRE_VERSION;
	offer.status = -EBUSY;
	sim_offer_seed("busy", 0x10, 0, &offer, sizeof(offer));
}

/* ---- the telemetry server with the daemon's commands (telemetry_server_fuzz) ---- */

/* Requesters (telemetry_server_fuzz.c's header): root, 1000, 1001, 4242; bit 2: 5000 clients. */
static void telemetry_server_seed(const char *name, uint8_t config, const char *command)
{
	struct bytes b = { .size = 0 };

	add_u8(&b, config);
	add_text(&b, command);
	write_seed("telemetry_server_fuzz", name, &b);
}

static void telemetry_server_seeds(void)
{
	telemetry_server_seed("stats", 0, "/winapi/stats");
	telemetry_server_seed("workers", 3, "/winapi/workers");
	telemetry_server_seed("clients", 2, "/winapi/clients");
	telemetry_server_seed("clients-too-many", 4, "/winapi/clients");
	telemetry_server_seed("client-own", 1, "/winapi/client,1");
	telemetry_server_seed("client-other", 1, "/winapi/client,2");
	telemetry_server_seed("client-root", 0, "/winapi/client,18446744073709551615");
	telemetry_server_seed("client-missing", 2, "/winapi/client,99");
	telemetry_server_seed("client-no-id", 0, "/winapi/client");
	telemetry_server_seed("list", 3, "/");
	telemetry_server_seed("help", 1, "/help,/winapi/client");
	telemetry_server_seed("info", 0, "/info");
}

/* ---- winapi-pmd's worker between a client and the device (pmd_worker_fuzz) ---- */

#define WORKER_COMPLETION 0x01u /* the packet's COMPLETION_REQUESTED */
#define WORKER_SEAL 0x02u       /* header checksum sealed */
#define WORKER_ID 0x04u         /* request_id = trans_id */
#define WORKER_PASS 0x08u       /* a pass of the worker after this packet */
#define WORKER_READ 0x10u       /* the client reads its answers after that pass */
#define WORKER_VALID (WORKER_COMPLETION | WORKER_SEAL | WORKER_ID)

/* How the test's host answers (pmd_worker_fuzz.c's header). */
#define ANSWER_OK 0u
#define ANSWER_ERROR 1u
#define ANSWER_REPLY(words) (2u | (uint8_t)((words) << 2))
#define ANSWER_LATER 3u

static void worker_packet(struct bytes *b, uint8_t type, uint8_t flags, uint8_t answer, const uint8_t *message,
			  size_t size)
{
	add_u8(b, type);
	add_u8(b, flags);
	add_u8(b, answer);
	add_le16(b, (uint16_t)size);
	add(b, message, size);
}

static void pmd_worker_seeds(void)
{
	uint8_t message[WINAPI_MESSAGE_MAX_SIZE], control[16];
	struct bytes b = { .size = 0 };
	size_t size;
	unsigned int i;

	/*
	 * A bit of everything; the client leaves at the end, its subscription ended for it. The
	 * host answers the n-th request that reaches it as the n-th packet says: those refused
	 * before the host come last, so that each answer is the one of its own packet.
	 */
	add_u8(&b, 0x80);
	size = echo_request(0, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_REPLY(2), message, size);
	size = buffer_test_request(0, WINAPI_BUFFER_OP_WRITE, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL, 4096, 65536, 4,
				   message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_ERROR, message, size);
	winapi_subscribe_request_encode(&(struct winapi_subscribe_request){ .api_id = 17, .api_version = 0x100 },
					control);
	size = control_request(0, WINAPI_API_SUBSCRIBE, control, 8, message, sizeof(message));
	/* The host makes subscription 0x11 (0x10 + 1); the pass ends so that the wait finds it. */
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS | WORKER_READ, ANSWER_REPLY(0x10),
		      message, size);
	/* The worker reaps the subscription's answer in its next pass: a LIST has that pass. */
	size = control_request(0, WINAPI_API_LIST, NULL, 0, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS | WORKER_READ, ANSWER_OK, message,
		      size);
	winapi_event_wait_request_encode(
		&(struct winapi_event_wait_request){ .subscription = 0x11, .max_events = 4, .wait_ms = 500 }, control);
	size = control_request(0, WINAPI_API_EVENT_WAIT, control, 16, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_LATER, message, size);
	size = buffer_test_request(0, WINAPI_BUFFER_OP_READ, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL, PMD_POOL_SIZE - 4096,
				   8192, 1, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_OK, message, size);
	size = echo_request(0, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_ID, ANSWER_OK, message, size); /* nobody waits */
	write_seed("pmd_worker_fuzz", "mixed", &b);

	/* Subscribe, then unsubscribe: the client ends what it holds itself. */
	b.size = 0;
	add_u8(&b, 0);
	winapi_subscribe_request_encode(&(struct winapi_subscribe_request){ .api_id = 17, .api_version = 0x100 },
					control);
	size = control_request(0, WINAPI_API_SUBSCRIBE, control, 8, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS | WORKER_READ, ANSWER_REPLY(0x21),
		      message, size);
	size = control_request(0, WINAPI_API_LIST, NULL, 0, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS | WORKER_READ, ANSWER_OK, message,
		      size);
	winapi_subscription_encode(&(struct winapi_subscription){ .id = 0x22 }, control);
	size = control_request(0, WINAPI_API_UNSUBSCRIBE, control, 8, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_OK, message, size);
	write_seed("pmd_worker_fuzz", "unsubscribe", &b);

	/* A client that does not read: its answer ring holds few, the rest wait in its backlog. */
	b.size = 0;
	add_u8(&b, 0x04);
	size = echo_request(0, message, sizeof(message));
	for (i = 0; i < 16; i++)
		worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | (i % 4 == 3 ? WORKER_PASS : 0),
			      ANSWER_REPLY(63), message, size);
	write_seed("pmd_worker_fuzz", "backlog", &b);

	/* A thousand clients on the worker: one request each in flight, the host answers late. */
	b.size = 0;
	add_u8(&b, 0x03);
	for (i = 0; i < 4; i++)
		worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS, ANSWER_LATER, message, size);
	write_seed("pmd_worker_fuzz", "fair-share", &b);

	/*
	 * 64 clients: a 32 KiB share of bytes in flight each. The first 256 KiB request goes (it
	 * is alone), the second waits, parked, till the host answers the first a pass later.
	 */
	b.size = 0;
	add_u8(&b, 0x02);
	size = buffer_test_request(0, WINAPI_BUFFER_OP_WRITE, WINAPI_BUFFER_GPADL, PMD_POOL_GPADL, 0, 65536, 4, message,
				   sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_LATER, message, size);
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS, ANSWER_OK, message, size);
	size = echo_request(0, message, sizeof(message));
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID | WORKER_PASS | WORKER_READ, ANSWER_OK, message, size);
	write_seed("pmd_worker_fuzz", "parked", &b);

	/* The policy denies echo (entry 0): refused and audited, twice, logged once. */
	b.size = 0;
	add_u8(&b, 0x08);
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_OK, message, size);
	worker_packet(&b, VMBUS_PACKET_DATA_INBAND, WORKER_VALID, ANSWER_OK, message, size);
	write_seed("pmd_worker_fuzz", "denied", &b);
}

/* ---- sysfs as uio_hv_generic lays it out (uio_sysfs_fuzz) ---- */

/* One file of the fake tree: its length, then its content. */
static void add_sysfs_file(struct bytes *b, const char *text)
{
	if (text == NULL) {
		add_u8(b, 255); /* absent */
		return;
	}
	add_u8(b, (uint8_t)strlen(text));
	add_text(b, text);
}

struct sysfs_map {
	const char *name, *size, *offset;
};

static void uio_sysfs_seed(const char *name, uint8_t control, const char *monitor_id, const char *driver,
			   const struct sysfs_map *maps, const char *release)
{
	static const char *const channels[3][3] = {
		{ "21", "2", "" },  /* listed after 22: subchannel_id orders them; a 4 MiB ring */
		{ "22", "1", "" },
		{ "23", NULL, NULL }, /* no ring file: not offered yet */
	};
	struct bytes b = { .size = 0 };
	unsigned int i;

	add_u8(&b, control);
	add_sysfs_file(&b, "8e29ab16-1111-2222-3333-444455556666");
	add_sysfs_file(&b, "{6AC83D8F-6E16-4E5C-AB3D-FD8C5A4B7E21}\n");
	add_sysfs_file(&b, "{8e29ab16-1111-2222-3333-444455556666}\n");
	add_sysfs_file(&b, "14\n");
	add_sysfs_file(&b, monitor_id);
	add_sysfs_file(&b, "0\n");
	add_sysfs_file(&b, driver);
	add_sysfs_file(&b, "uio0");
	for (i = 0; i < 5; i++) {
		add_sysfs_file(&b, maps[i].name);
		add_sysfs_file(&b, maps[i].size);
		add_sysfs_file(&b, maps[i].offset);
	}
	for (i = 0; i < 3; i++)
		add_sysfs_file(&b, channels[i][0]);
	for (i = 0; i < 3; i++)
		add_sysfs_file(&b, channels[i][1]);
	for (i = 0; i < 3; i++)
		add_sysfs_file(&b, channels[i][2]);
	add_sysfs_file(&b, release);
	write_seed("uio_sysfs_fuzz", name, &b);
}

static void uio_sysfs_seeds(void)
{
	/* The shapes of tests/unit/uio_ut.c: 6.1 (monitored, both GPADL maps), mainline (neither). */
	static const struct sysfs_map linux_6_1[5] = {
		{ "txrx_rings", "0x400000\n", NULL },
		{ "int_page", "0x1000\n", NULL },
		{ "monitor_page", "0x1000\n", NULL },
		{ "recv:925200", "0x1f00000\n", NULL },
		{ "send:925201", "0x1000000\n", NULL },
	};
	static const struct sysfs_map mainline[5] = {
		{ "txrx_rings", "0x22000\n", "0\n" },
		{ "int_page", "0x1000\n", "0\n" },
		{ "monitor_page", "0x1000\n", "0\n" },
		{ NULL, NULL, NULL },
		{ NULL, NULL, NULL },
	};
	static const struct sysfs_map bad_ring[5] = {
		{ "txrx_rings", "0x1000\n", NULL },
		{ "int_page", "0x1000\n", NULL },
		{ "monitor_page", "0x1000\n", "0x800\n" },
		{ NULL, NULL, NULL },
		{ NULL, NULL, NULL },
	};

	uio_sysfs_seed("linux-6.1", 0, "37\n", "../../../../bus/vmbus/drivers/uio_hv_generic", linux_6_1, "6.1.0-56-amd64");
	uio_sysfs_seed("mainline", 1, NULL, "../../../../bus/vmbus/drivers/uio_hv_generic", mainline, "6.18.0");
	uio_sysfs_seed("impossible-ring", 0, NULL, "../../../../bus/vmbus/drivers/uio_hv_generic", bad_ring, "6.12.0");
	/* Not bound to uio_hv_generic: the message says why, by kernel version. */
	uio_sysfs_seed("unbound-6.1", 0, NULL, NULL, mainline, "6.1.0");
	uio_sysfs_seed("netvsc", 1, "3\n", "../../../../bus/vmbus/drivers/hv_netvsc", mainline, "6.12.0");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) != 0 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	ring_seeds();
	packet_seeds();
	protocol_seeds();
	host_seeds();
	pmd_seeds();
	telemetry_seeds();
	baseline_seeds();
	hvsock_seeds();
	driver_seeds();
	hvsock_guest_seeds();
	sim_offer_seeds();
	uio_sysfs_seeds();
	pmd_worker_seeds();
	telemetry_server_seeds();
	file_request_seeds();
	return 0;
}

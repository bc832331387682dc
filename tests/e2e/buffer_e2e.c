/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy buffers end to end, against a real winapi-host-sim in each kernel profile:
 *  - WRITE, READ and VERIFY over 1 to 8 buffers of 4 KiB, 1 MiB, 16 MiB and 64 MiB give the
 *    checksum that a CRC32C written here (the CPU's crc32 instruction, not isa-l) computes
 *    over the same bytes; the host's writes appear in the application's memory in place;
 *  - GPADL-region buffers and GPA-direct buffers are both exercised;
 *  - a descriptor outside its region and a page number past guest RAM are refused by the
 *    host with an error that reaches the caller, and the channel keeps working;
 *  - PERF_TEST's latency rises when the emulated host is slowed down.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi_internal/winapi_driver.h>
#include <winapi/lowlat.h>
#include <winapi/protocol.h>

#include "../../lib/lowlat/lowlat_private.h"
#include "emulator.h"

/* ---- an independent CRC32C ---- */

static uint32_t table[256];

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t crc = i;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
		table[i] = crc;
	}
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hardware(uint32_t crc, const uint8_t *data, size_t length)
{
	uint64_t wide = crc;

	for (; length >= 8; length -= 8, data += 8) {
		uint64_t word;

		memcpy(&word, data, 8);
		wide = __builtin_ia32_crc32di(wide, word);
	}
	crc = (uint32_t)wide;
	for (; length > 0; length--, data++)
		crc = __builtin_ia32_crc32qi(crc, *data);
	return crc;
}
#endif

/* Reflected CRC32C, init and final XOR ~0, continuing like winapi_crc32c(). */
static uint32_t independent_crc32c(uint32_t crc, const void *data, size_t length)
{
	const uint8_t *bytes = data;

	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc_hardware(crc, bytes, length);
#endif
	for (; length > 0; length--, bytes++)
		crc = (crc >> 8) ^ table[(crc ^ *bytes) & 0xff];
	return ~crc;
}

static uint32_t buffers_crc(const winapi_buffer_t *buffers, unsigned int count)
{
	uint32_t crc = 0;

	for (unsigned int i = 0; i < count; i++)
		crc = independent_crc32c(crc, buffers[i].data, buffers[i].size);
	return crc;
}

/* ---- the profiles ---- */

struct profile {
	const char *name;
	const char *const *arguments;
	bool has_regions;
};

static const char *const linux_6_1[] = { "--profile", "linux-6.1", NULL };
static const char *const linux_6_12[] = { "--profile", "linux-6.12", NULL };
static const char *const mainline[] = { "--profile", "mainline", "--subchannels", "2", NULL };
static const char *const slow_host[] = { "--profile", "linux-6.12", "--delay-us", "3000", NULL };

static const struct profile profiles[] = {
	{ "linux-6.1", linux_6_1, true },
	{ "linux-6.12", linux_6_12, true },
	{ "mainline", mainline, false },
};

static struct emulator emulator;
static const struct profile *profile;
static winapi_handle_t handle;

static int group_setup(void **state)
{
	(void)state;
	if (emulator_start(&emulator, profile->arguments) != 0)
		return -1;
	/* These tests check bytes, not latency: 256 MiB in one call may outrun the default 5 s
	 * deadline on a loaded machine or in a sanitizer build. */
	setenv("WINAPI_TIMEOUT_MS", "300000", 1);
	handle = winapi_init();
	unsetenv("WINAPI_TIMEOUT_MS");
	return handle != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	winapi_cleanup(handle);
	handle = NULL;
	emulator_stop(&emulator, SIGTERM);
	return 0;
}

/* ---- buffers ---- */

static uint8_t pattern_page[VMBUS_PAGE_SIZE + 4];

static bool holds_pattern(const winapi_buffer_t *buffer)
{
	const uint8_t *bytes = buffer->data;
	size_t offset;

	for (offset = 0; offset < buffer->size; offset += VMBUS_PAGE_SIZE) {
		size_t length = buffer->size - offset < VMBUS_PAGE_SIZE ? buffer->size - offset : VMBUS_PAGE_SIZE;

		if (memcmp(bytes + offset, pattern_page, length) != 0)
			return false;
	}
	return true;
}

static void check_buffers(unsigned int count, size_t size, uint32_t pattern)
{
	winapi_buffer_t buffers[WINAPI_MAX_BUFFERS];
	winapi_buffer_test_result_t result;
	unsigned int i;

	for (i = 0; i < sizeof(pattern_page); i++)
		pattern_page[i] = winapi_pattern_byte(pattern, i);
	memset(buffers, 0, sizeof(buffers));
	for (i = 0; i < count; i++) {
		assert_int_equal(winapi_alloc_buffer(&buffers[i], size), 0);
		/* The emulator's regions are 31 and 16 MiB: a 64 MiB buffer can only be GPA-direct. */
		if (!profile->has_regions || size > (31u << 20))
			assert_int_equal(buffers[i].kind, WINAPI_BUFFER_GPA_DIRECT);
	}

	/* WRITE: the host's bytes are in our memory, in place, and checksummed alike. */
	assert_int_equal(winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_WRITE, pattern, &result), 0);
	assert_int_equal(result.bytes_processed, (uint64_t)count * size);
	assert_int_equal(result.status, 0);
	assert_int_equal(result.checksum, buffers_crc(buffers, count));
	for (i = 0; i < count; i++)
		assert_true(holds_pattern(&buffers[i]));

	/* VERIFY what the host wrote; then one changed byte, found exactly. */
	assert_int_equal(winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_VERIFY, pattern, &result), 0);
	assert_int_equal(result.mismatches, 0);
	assert_int_equal(result.checksum, buffers_crc(buffers, count));
	((uint8_t *)buffers[count - 1].data)[size - 3] ^= 0x81;
	assert_int_equal(winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_VERIFY, pattern, &result), 0);
	assert_int_equal(result.status, -EILSEQ);
	assert_int_equal(result.mismatches, 1);
	assert_int_equal(result.first_mismatch, (uint64_t)(count - 1) * size + size - 3);
	/* The changed page is checksummed from its bytes, the others from the pattern's. */
	assert_int_equal(result.checksum, buffers_crc(buffers, count));

	/* READ our own bytes: a different byte per page, so every page counts. */
	for (i = 0; i < count; i++)
		for (size_t offset = 0; offset < size; offset += VMBUS_PAGE_SIZE)
			memset((uint8_t *)buffers[i].data + offset, (int)((offset / VMBUS_PAGE_SIZE) * 7 + i),
			       VMBUS_PAGE_SIZE);
	assert_int_equal(winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_READ, pattern, &result), 0);
	assert_int_equal(result.bytes_processed, (uint64_t)count * size);
	assert_int_equal(result.checksum, buffers_crc(buffers, count));

	for (i = 0; i < count; i++)
		winapi_free_buffer(&buffers[i]);
}

static void test_small_buffers(void **state)
{
	(void)state;
	for (unsigned int count = 1; count <= WINAPI_MAX_BUFFERS; count++) {
		check_buffers(count, 4u << 10, 0xAABBCCDDu);
		check_buffers(count, 1u << 20, 0x01020304u + count);
	}
}

static void test_large_buffers(void **state)
{
	(void)state;
	check_buffers(1, 16u << 20, 0xDEADBEEFu);
	check_buffers(WINAPI_MAX_BUFFERS, 16u << 20, 0x0BADF00Du);
	check_buffers(1, 64u << 20, 0xCAFEBABEu);
	check_buffers(WINAPI_MAX_BUFFERS, 64u << 20, 0x12345678u);
}

/* GPADL-region buffers are handed out while the regions have room, then DMA memory. */
static void test_both_paths(void **state)
{
	winapi_buffer_t first, big;

	(void)state;
	assert_int_equal(winapi_alloc_buffer(&first, 1u << 20), 0);
	assert_int_equal(first.kind, profile->has_regions ? WINAPI_BUFFER_GPADL : WINAPI_BUFFER_GPA_DIRECT);
	assert_int_equal(winapi_alloc_buffer(&big, 64u << 20), 0);
	assert_int_equal(big.kind, WINAPI_BUFFER_GPA_DIRECT);
	winapi_free_buffer(&big);
	winapi_free_buffer(&first);
	assert_int_equal(winapi_alloc_buffer(&first, 4095), -EINVAL);
	assert_int_equal(winapi_alloc_buffer(&first, (64u << 20) + 1), -EINVAL);
}

/* ---- bad descriptors, sent raw on the channel ---- */

/* Send one request with a crafted range header and descriptors; return the host's status. */
static uint32_t raw_request(struct vmbus_channel *channel, uint64_t id, const void *gpa_header, size_t gpa_size,
			    const struct winapi_buffer_descriptor *descriptors, unsigned int count)
{
	struct winapi_buffer_test_request test = { .operation = WINAPI_BUFFER_OP_WRITE, .pattern = 1 };
	uint8_t inline_bytes[sizeof(test)], message_bytes[WINAPI_MESSAGE_MAX_SIZE], packet[4096];
	struct winapi_message message = {
		.api_id = WINAPI_API_BUFFER_TEST, .request_id = id, .reply_capacity = 64,
		.buffer_count = (uint16_t)count, .inline_length = sizeof(inline_bytes), .inline_data = inline_bytes,
	};
	struct iovec iov;
	struct vmbus_ring_packet_info info;
	struct winapi_message reply;
	int size;

	winapi_buffer_test_request_encode(&test, inline_bytes);
	memcpy(message.buffers, descriptors, count * sizeof(*descriptors));
	size = winapi_message_encode(&message, message_bytes, sizeof(message_bytes));
	assert_true(size > 0);
	iov = (struct iovec){ .iov_base = message_bytes, .iov_len = (size_t)size };
	struct vmbus_ring_packet out = {
		.type = gpa_size != 0 ? VMBUS_PACKET_DATA_USING_GPA_DIRECT : VMBUS_PACKET_DATA_INBAND,
		.flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = id,
		.header_extension = gpa_size != 0 ? gpa_header : NULL, .header_extension_size = (uint32_t)gpa_size,
		.payload = &iov, .payload_count = 1,
	};
	assert_int_equal(vmbus_chan_write(channel, &out), 0);
	assert_int_equal(vmbus_chan_flush(channel), 0);
	assert_int_equal(vmbus_chan_wait(channel, 5000), 0);
	assert_int_equal(vmbus_chan_recv(channel, packet, sizeof(packet), &info), 0);
	assert_int_equal(info.type, VMBUS_PACKET_COMPLETION);
	assert_true(info.trans_id == id);
	assert_int_equal(winapi_message_decode(packet + info.header_size, info.packet_size - info.header_size,
					       &reply), 0);
	vmbus_chan_recv_done(channel);
	return reply.status;
}

static void test_bad_descriptors_refused(void **state)
{
	struct lowlat_attachment *attachment = handle->attachment;
	struct vmbus_device *device = attachment->device;
	struct winapi_driver *driver;
	struct winapi_buffer_descriptor descriptor;
	struct vmbus_channel *channel;
	uint64_t pfns[2] = { 1ull << 40, 0 }, good_pfns[1];
	struct vmbus_gpa_range_desc range = { .byte_count = 4096, .byte_offset = 0, .pfns = pfns };
	uint8_t header[64];
	winapi_buffer_test_result_t result;
	winapi_buffer_t buffer;
	char output[16];
	void *dma;
	int size;

	(void)state;
	/* Take channel 0 from the driver for raw packets; the driver comes back afterwards. (On
	 * the VMBus transports the handle's transport is the driver.) */
	winapi_driver_close(handle->transport);
	assert_int_equal(vmbus_chan_open(device, 0, &channel), 0);

	/* A GPADL the host does not have, and an offset past the end of a real region. */
	descriptor = (struct winapi_buffer_descriptor){ .kind = WINAPI_BUFFER_GPADL, .region = 0x12345,
							 .offset = 0, .length = 4096 };
	assert_int_equal(raw_request(channel, 1, NULL, 0, &descriptor, 1), WINAPI_STATUS_BAD_BUFFER);
	if (profile->has_regions) {
		descriptor.region = attachment->regions[VMBUS_GPADL_SEND].gpadl;
		descriptor.offset = attachment->regions[VMBUS_GPADL_SEND].size - 4096 + 8;
		assert_int_equal(raw_request(channel, 2, NULL, 0, &descriptor, 1), WINAPI_STATUS_BAD_BUFFER);
	}

	/* A page number far past guest RAM. */
	size = vmbus_gpa_header_encode(&range, 1, header, sizeof(header));
	assert_true(size > 0);
	descriptor = (struct winapi_buffer_descriptor){ .kind = WINAPI_BUFFER_GPA_DIRECT, .region = 0,
							 .offset = 0, .length = 4096 };
	assert_int_equal(raw_request(channel, 3, header, (size_t)size, &descriptor, 1), WINAPI_STATUS_BAD_BUFFER);
	/* A descriptor longer than its range, and one naming a range the packet lacks. */
	assert_int_equal(vmbus_device_dma_alloc(device, 4096, &dma), 0);
	assert_int_equal(vmbus_device_dma_pfns(device, dma, 4096, good_pfns, 1), 1);
	range.pfns = good_pfns;
	size = vmbus_gpa_header_encode(&range, 1, header, sizeof(header));
	descriptor.length = 8192;
	assert_int_equal(raw_request(channel, 4, header, (size_t)size, &descriptor, 1), WINAPI_STATUS_BAD_BUFFER);
	descriptor.length = 4096;
	descriptor.region = 1;
	assert_int_equal(raw_request(channel, 5, header, (size_t)size, &descriptor, 1), WINAPI_STATUS_BAD_BUFFER);
	/* And the same range, right: the host writes the page. */
	descriptor.region = 0;
	assert_int_equal(raw_request(channel, 6, header, (size_t)size, &descriptor, 1), WINAPI_STATUS_OK);
	assert_int_equal(((uint8_t *)dma)[0], 1);
	vmbus_device_dma_free(device, dma, 4096);

	/* The channel works on: the driver again, an echo and a buffer call. */
	vmbus_chan_close(channel);
	assert_int_equal(winapi_driver_open(device, 0, &driver), 0);
	handle->transport = driver;
	assert_int_equal(winapi_echo(handle, "still here", output, sizeof(output)), 0);
	assert_string_equal(output, "still here");
	assert_int_equal(winapi_alloc_buffer(&buffer, 8192), 0);
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, 7, &result), 0);
	assert_int_equal(result.checksum, independent_crc32c(0, buffer.data, buffer.size));
	winapi_free_buffer(&buffer);

	/* Through the driver, the host's refusal reaches the caller as -EFAULT. */
	struct winapi_buffer_test_request test = { .operation = WINAPI_BUFFER_OP_READ };
	struct winapi_call_buffer bogus = { .kind = WINAPI_BUFFER_GPADL, .length = 4096, .gpadl = 0x12345 };
	uint8_t request_bytes[sizeof(test)], reply_bytes[64];
	struct winapi_call call = {
		.api_id = WINAPI_API_BUFFER_TEST, .request_data = request_bytes,
		.request_length = sizeof(request_bytes), .reply_data = reply_bytes,
		.reply_capacity = sizeof(reply_bytes), .buffers = &bogus, .buffer_count = 1, .timeout_ms = -1,
	};
	winapi_buffer_test_request_encode(&test, request_bytes);
	assert_int_equal(winapi_driver_call(driver, &call), -EFAULT);
	assert_int_equal(winapi_echo(handle, "and on", output, sizeof(output)), 0);
}

/* ---- performance ---- */

static void test_perf_measures(void **state)
{
	winapi_perf_test_params_t latency = { .test_type = WINAPI_PERF_LATENCY, .iterations = 200 };
	winapi_perf_test_params_t throughput = { .test_type = WINAPI_PERF_THROUGHPUT, .target_bytes = 32u << 20 };
	winapi_perf_test_result_t result;
	winapi_buffer_t buffers[2];

	(void)state;
	assert_int_equal(winapi_perf_test(handle, &latency, NULL, 0, &result), 0);
	assert_int_equal(result.iterations, 200);
	assert_true(result.min_latency_ns > 0 && result.min_latency_ns <= result.p50_latency_ns);
	assert_true(result.p50_latency_ns <= result.p99_latency_ns && result.p99_latency_ns <= result.max_latency_ns);

	assert_int_equal(winapi_alloc_buffer(&buffers[0], 4u << 20), 0);
	assert_int_equal(winapi_alloc_buffer(&buffers[1], 4u << 20), 0);
	assert_int_equal(winapi_perf_test(handle, &throughput, buffers, 2, &result), 0);
	/* Whole passes over 8 MiB until 32 MiB are read: exactly 32 MiB. */
	assert_int_equal(result.bytes_processed, 32u << 20);
	assert_true(result.throughput_mbps > 0 && result.host_ns > 0 && result.elapsed_ns >= result.host_ns);
	winapi_free_buffer(&buffers[0]);
	winapi_free_buffer(&buffers[1]);

	throughput.iterations = 0;
	throughput.target_bytes = 0;
	assert_int_equal(winapi_perf_test(handle, &throughput, buffers, 2, &result), -EINVAL);
}

/*
 * The host is slowed down by 3 ms a request: the measured latency must show it. (A floor,
 * not a comparison with the fast host's run, whose latency a loaded machine can inflate.)
 */
static void test_perf_follows_load(void **state)
{
	winapi_perf_test_params_t latency = { .test_type = WINAPI_PERF_LATENCY, .iterations = 20 };
	winapi_perf_test_result_t result;

	(void)state;
	assert_int_equal(winapi_perf_test(handle, &latency, NULL, 0, &result), 0);
	assert_true(result.min_latency_ns >= 3000000u);
	assert_true(result.avg_latency_ns >= 3000000u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_paths),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_large_buffers),
		cmocka_unit_test(test_bad_descriptors_refused),
		cmocka_unit_test(test_perf_measures),
	};
	const struct CMUnitTest slow_tests[] = {
		cmocka_unit_test(test_perf_follows_load),
	};
	static const struct profile slow = { "slow host", slow_host, true };
	char name[64];
	int failures = 0;
	size_t i;

	make_table();
	signal(SIGPIPE, SIG_IGN);
	if (emulator_prepare(&emulator, "buffer_e2e") != 0)
		return 1;
	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		profile = &profiles[i];
		snprintf(name, sizeof(name), "buffers, profile %s", profile->name);
		failures += cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
	}
	profile = &slow;
	failures += cmocka_run_group_tests_name("performance under a slow host", slow_tests, group_setup,
						group_teardown);
	emulator_cleanup(&emulator);
	return failures == 0 ? 0 : 1;
}

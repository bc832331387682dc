/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the wire format (include/winapi/protocol.h, lib/winapi/protocol.c).
 * Offsets are checked on encoded bytes against literals from DESIGN.md section 3, and the
 * checksum against a bit-by-bit CRC32C written here, independent of isa-l.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <isa-l/crc.h>

#include "le_bytes.h"

#include <winapi/host_apis.h>
#include <winapi/protocol.h>
#include <winapi_internal/crc32c.h>

/* Reference CRC32C: reflected polynomial 0x82f63b78, init and final XOR ~0. */
static uint32_t reference_crc32c(const uint8_t *data, size_t length)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < length; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* After editing header bytes, seal them again the way the spec says (CRC of bytes 0..59). */
static void reseal(uint8_t *message)
{
	put_le32(message + 60, reference_crc32c(message, 60));
}

static void test_crc32c(void **state)
{
	uint8_t data[4099];
	unsigned int seed = 7;

	(void)state;
	assert_int_equal(winapi_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(winapi_crc32c(0, "", 0), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand_r(&seed);
	for (size_t length = 0; length < sizeof(data); length += 97)
		assert_int_equal(winapi_crc32c(0, data, length), reference_crc32c(data, length));
	/* Continuing from a previous CRC equals one pass over the whole. */
	assert_int_equal(winapi_crc32c(winapi_crc32c(0, data, 1000), data + 1000, sizeof(data) - 1000),
			 reference_crc32c(data, sizeof(data)));
}

#if defined(__x86_64__)
/* A page's CRC32C carried onto a running CRC without its bytes equals the CRC over them. */
static void test_crc32c_extend_page(void **state)
{
	static uint8_t page[WINAPI_CRC32C_PAGE_SIZE];
	uint32_t crc = 0, reference = 0;
	unsigned int round, i;

	(void)state;
	srand(19);
	for (round = 0; round < 64; round++) {
		for (i = 0; i < sizeof(page); i++)
			page[i] = (uint8_t)rand();
		/* Every bit of the running CRC, and a random one, before each page. */
		crc = round < 32 ? 1u << round : (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		reference = winapi_crc32c(crc, page, sizeof(page));
		assert_int_equal(winapi_crc32c_extend_page(crc, winapi_crc32c(0, page, sizeof(page))), reference);
	}
	/* Chained, as BUFFER_TEST does page after page from a seed. */
	crc = reference = 0x12345678u;
	for (round = 0; round < 8; round++) {
		page[round * 100] ^= 0x5a;
		reference = winapi_crc32c(reference, page, sizeof(page));
		crc = winapi_crc32c_extend_page(crc, winapi_crc32c(0, page, sizeof(page)));
	}
	assert_int_equal(crc, reference);
}

/* The Windows build's CRC32C (lib/winapi/crc32c_sse42.c; crc32c.c compiles it under this name). */
uint32_t winapi_crc32c_sse42(uint32_t crc, const void *data, size_t length);
#endif

static void test_crc32c_windows_build(void **state)
{
	uint8_t data[9000];
	unsigned int seed = 11;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand_r(&seed);
#if defined(__x86_64__)
	assert_int_equal(winapi_crc32c_sse42(0, "123456789", 9), 0xe3069283u);
	/* Every alignment and tail length, and a continued CRC. */
	for (size_t start = 0; start < 16; start++)
		for (size_t length = 0; length + start < sizeof(data); length += 131)
			assert_int_equal(winapi_crc32c_sse42(5, data + start, length),
					 winapi_crc32c(5, data + start, length));
#endif
	/* winapi_crc32c() takes the crc32 instruction's loop below 192 bytes: isa-l must agree. */
	for (size_t start = 0; start < 16; start++)
		for (size_t length = 0; length < 256; length++)
			assert_int_equal(winapi_crc32c(5, data + start, length),
					 ~crc32_iscsi(data + start, (int)length, ~5u));
}

static struct winapi_message sample_message(const char *text)
{
	struct winapi_message message = {
		.api_id = WINAPI_API_ECHO,
		.flags = 0,
		.status = 0,
		.request_id = 0x0102030405060708ull,
		.reply_capacity = 3072,
		.inline_length = (uint32_t)strlen(text),
		.inline_data = text,
	};
	return message;
}

static void test_encode_layout(void **state)
{
	struct winapi_message message = sample_message("Hello Windows!");
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE];
	int size;

	(void)state;
	message.buffer_count = 1;
	message.buffers[0] = (struct winapi_buffer_descriptor){
		.kind = WINAPI_BUFFER_GPADL, .region = 77, .offset = 8192, .length = 65536,
	};
	size = winapi_message_encode(&message, bytes, sizeof(bytes));
	assert_int_equal(size, 64 + 32 + 14);
	assert_int_equal(winapi_message_size(&message), 110);

	assert_memory_equal(bytes + 0, "ANIW", 4);            /* magic 0x57494e41, little-endian */
	assert_int_equal(bytes[4], WINAPI_PROTOCOL_VERSION_MINOR);
	assert_int_equal(bytes[5], WINAPI_PROTOCOL_VERSION_MAJOR);
	assert_int_equal(bytes[6], WINAPI_API_ECHO);
	assert_int_equal(bytes[7], 0);
	assert_int_equal(get_le32(bytes + 8), 0);              /* flags */
	assert_int_equal(get_le32(bytes + 12), 0);             /* status */
	assert_true(get_le64(bytes + 16) == 0x0102030405060708ull);
	assert_int_equal(get_le32(bytes + 24), 14);            /* inline_length */
	assert_int_equal(get_le32(bytes + 28), 3072);          /* reply_capacity */
	assert_int_equal(bytes[32], 1);                        /* buffer_count */
	for (int i = 34; i < 60; i++)
		assert_int_equal(bytes[i], 0);                 /* reserved */
	assert_int_equal(get_le32(bytes + 60), reference_crc32c(bytes, 60));

	/* Descriptor at 64: kind, flags, region, reserved, offset, length. */
	assert_int_equal(get_le32(bytes + 64), WINAPI_BUFFER_GPADL);
	assert_int_equal(get_le32(bytes + 68), 0);
	assert_int_equal(get_le32(bytes + 72), 77);
	assert_int_equal(get_le32(bytes + 76), 0);
	assert_true(get_le64(bytes + 80) == 8192);
	assert_true(get_le64(bytes + 88) == 65536);
	assert_memory_equal(bytes + 96, "Hello Windows!", 14);
}

static void test_round_trip(void **state)
{
	struct winapi_message message = sample_message("round trip"), decoded;
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE + 8];
	int size;

	(void)state;
	message.flags = WINAPI_MESSAGE_FLAG_RESPONSE;
	message.status = WINAPI_STATUS_BUSY;
	message.buffer_count = WINAPI_MAX_BUFFERS;
	for (unsigned i = 0; i < WINAPI_MAX_BUFFERS; i++)
		message.buffers[i] = (struct winapi_buffer_descriptor){
			.kind = WINAPI_BUFFER_GPA_DIRECT, .region = i, .offset = i * 4096ull,
			.length = WINAPI_MAX_BUFFER_SIZE,
		};
	size = winapi_message_encode(&message, bytes, sizeof(bytes));
	assert_true(size > 0);
	/* VMBus pads to 8 bytes: up to 7 trailing bytes are fine. */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size + 7, &decoded), 0);
	assert_int_equal(decoded.version, WINAPI_PROTOCOL_VERSION);
	assert_int_equal(decoded.api_id, WINAPI_API_ECHO);
	assert_int_equal(decoded.flags, WINAPI_MESSAGE_FLAG_RESPONSE);
	assert_int_equal(decoded.status, WINAPI_STATUS_BUSY);
	assert_true(decoded.request_id == message.request_id);
	assert_int_equal(decoded.buffer_count, WINAPI_MAX_BUFFERS);
	assert_memory_equal(decoded.buffers, message.buffers, sizeof(message.buffers));
	assert_int_equal(decoded.inline_length, 10);
	assert_memory_equal(decoded.inline_data, "round trip", 10);
	assert_ptr_equal(decoded.inline_data, bytes + 64 + 8 * 32);

	/* The largest message there is. */
	static char big[WINAPI_MAX_INLINE_DATA + 1];
	memset(big, 'x', WINAPI_MAX_INLINE_DATA);
	message.inline_data = big;
	message.inline_length = WINAPI_MAX_INLINE_DATA;
	size = winapi_message_encode(&message, bytes, sizeof(bytes));
	assert_int_equal(size, WINAPI_MESSAGE_MAX_SIZE);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), 0);

	/* Empty inline data decodes to NULL. */
	message.inline_length = 0;
	message.buffer_count = 0;
	size = winapi_message_encode(&message, bytes, sizeof(bytes));
	assert_int_equal(size, 64);
	assert_int_equal(winapi_message_decode(bytes, 64, &decoded), 0);
	assert_null(decoded.inline_data);
}

static void test_encode_rejects(void **state)
{
	struct winapi_message message = sample_message("x");
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE];

	(void)state;
	assert_int_equal(winapi_message_encode(&message, bytes, 64), -ENOBUFS);
	message.buffer_count = WINAPI_MAX_BUFFERS + 1;
	assert_int_equal(winapi_message_encode(&message, bytes, sizeof(bytes)), -EINVAL);
	message.buffer_count = 0;
	message.inline_length = WINAPI_MAX_INLINE_DATA + 1;
	assert_int_equal(winapi_message_encode(&message, bytes, sizeof(bytes)), -EINVAL);
	message.inline_length = 4;
	message.inline_data = NULL;
	assert_int_equal(winapi_message_encode(&message, bytes, sizeof(bytes)), -EINVAL);
	message = sample_message("x");
	message.buffer_count = 1;
	message.buffers[0] = (struct winapi_buffer_descriptor){ .kind = 3, .length = 4096 };
	assert_int_equal(winapi_message_encode(&message, bytes, sizeof(bytes)), -EINVAL);
}

/* A valid encoded message to corrupt. */
static int valid_bytes(uint8_t *bytes, size_t size, uint16_t buffer_count)
{
	struct winapi_message message = sample_message("payload!");

	message.buffer_count = buffer_count;
	for (unsigned i = 0; i < buffer_count; i++)
		message.buffers[i] = (struct winapi_buffer_descriptor){
			.kind = WINAPI_BUFFER_GPADL, .offset = 0, .length = 4096,
		};
	return winapi_message_encode(&message, bytes, size);
}

static void test_decode_rejects_header(void **state)
{
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE + 64];
	struct winapi_message decoded;
	int size;

	(void)state;
	size = valid_bytes(bytes, sizeof(bytes), 0);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), 0);

	assert_int_equal(winapi_message_decode(bytes, 63, &decoded), -EBADMSG);
	assert_int_equal(winapi_message_decode(NULL, 64, &decoded), -EBADMSG);

	/* Any flipped bit in the header breaks the checksum. */
	for (int offset = 0; offset < 64; offset++) {
		bytes[offset] ^= 0x10;
		assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
		bytes[offset] ^= 0x10;
	}

	/* Wrong magic, even with a good checksum. */
	put_le32(bytes, 0x41414141);
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
	size = valid_bytes(bytes, sizeof(bytes), 0);

	/* Counts beyond the protocol's limits. */
	put_le16(bytes + 32, WINAPI_MAX_BUFFERS + 1);
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	size = valid_bytes(bytes, sizeof(bytes), 0);
	put_le32(bytes + 24, WINAPI_MAX_INLINE_DATA + 1);
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	put_le32(bytes + 24, 0xffffffffu);
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);

	/* Declared lengths beyond what arrived, and more than padding after it. */
	size = valid_bytes(bytes, sizeof(bytes), 0);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size - 1, &decoded), -EBADMSG);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size + 8, &decoded), -EBADMSG);
	put_le16(bytes + 32, 2); /* claims two descriptors that are not there */
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
}

static void test_decode_version_rules(void **state)
{
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE];
	struct winapi_message decoded;
	int size;

	(void)state;
	size = valid_bytes(bytes, sizeof(bytes), 0);
	/* Another minor of our major: accepted. Reserved bytes are ignored. */
	put_le16(bytes + 4, (uint16_t)(WINAPI_PROTOCOL_VERSION_MAJOR << 8 | 7));
	bytes[40] = 0x99;
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), 0);
	assert_int_equal(decoded.version & 0xff, 7);

	/* Another major: refused, but the request id is there to answer it. */
	put_le16(bytes + 4, (uint16_t)((WINAPI_PROTOCOL_VERSION_MAJOR + 1) << 8));
	reseal(bytes);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EPROTONOSUPPORT);
	assert_true(decoded.request_id == 0x0102030405060708ull);
}

static void test_decode_rejects_descriptors(void **state)
{
	uint8_t bytes[WINAPI_MESSAGE_MAX_SIZE];
	struct winapi_message decoded;
	uint8_t *descriptor = bytes + 64;
	int size;

	(void)state;
	size = valid_bytes(bytes, sizeof(bytes), 1);
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), 0);

	put_le32(descriptor + 0, 0); /* unknown kind */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
	size = valid_bytes(bytes, sizeof(bytes), 1);
	put_le32(descriptor + 4, 1); /* flags in version 1.0 */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
	size = valid_bytes(bytes, sizeof(bytes), 1);
	put_le32(descriptor + 24, 0); /* no bytes */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
	put_le32(descriptor + 24, 1); /* the tail of a split buffer may be tiny */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), 0);
	put_le32(descriptor + 24, 0);
	put_le32(descriptor + 28, 1); /* 4 GiB: above 64 MiB */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
	size = valid_bytes(bytes, sizeof(bytes), 1);
	memset(descriptor + 16, 0xff, 8); /* offset + length overflows */
	assert_int_equal(winapi_message_decode(bytes, (size_t)size, &decoded), -EBADMSG);
}

static void test_status_mapping(void **state)
{
	(void)state;
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_OK), 0);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_BAD_MESSAGE), -EBADMSG);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_UNSUPPORTED_VERSION), -EPROTONOSUPPORT);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_UNSUPPORTED_API), -EOPNOTSUPP);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_BAD_BUFFER), -EFAULT);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_REPLY_TOO_LARGE), -ENOBUFS);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_BUSY), -EBUSY);
	assert_int_equal(winapi_status_to_errno(WINAPI_STATUS_INTERNAL), -EREMOTEIO);
	assert_int_equal(winapi_status_to_errno(12345), -EREMOTEIO);
	assert_string_equal(winapi_status_name(12345), "unknown status");
	assert_string_equal(winapi_status_name(WINAPI_STATUS_UNSUPPORTED_API), "unsupported api");
}

/* ---- host APIs: host.time and host.info replies ---- */

static void test_host_time_layout(void **state)
{
	const struct winapi_host_time time = { .realtime_ns = 0x1122334455667788ull, .monotonic_ns = 42,
					       .resolution_ns = 100, .reserved = 7 };
	struct winapi_host_time decoded;
	uint8_t bytes[WINAPI_HOST_TIME_SIZE + 8];

	(void)state;
	memset(bytes, 0xee, sizeof(bytes));
	winapi_host_time_encode(&time, bytes);
	assert_int_equal(get_le64(bytes), 0x1122334455667788ull);
	assert_int_equal(get_le64(bytes + 8), 42);
	assert_int_equal(get_le32(bytes + 16), 100);
	assert_int_equal(get_le32(bytes + 20), 0); /* reserved goes as zero */
	assert_int_equal(bytes[24], 0xee);         /* nothing past the reply */
	assert_int_equal(winapi_host_time_decode(bytes, WINAPI_HOST_TIME_SIZE, &decoded), 0);
	assert_int_equal(decoded.realtime_ns, time.realtime_ns);
	assert_int_equal(decoded.monotonic_ns, 42);
	assert_int_equal(decoded.resolution_ns, 100);
	/* A later minor may append fields. */
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes), &decoded), 0);
}

static void test_host_time_rejects(void **state)
{
	struct winapi_host_time decoded;
	uint8_t bytes[WINAPI_HOST_TIME_SIZE];

	(void)state;
	winapi_host_time_encode(&(struct winapi_host_time){ .realtime_ns = 1, .resolution_ns = 1 }, bytes);
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes) - 1, &decoded), -EBADMSG);
	assert_int_equal(winapi_host_time_decode(NULL, sizeof(bytes), &decoded), -EBADMSG);
	put_le64(bytes, 0);
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	put_le64(bytes, 1);
	put_le32(bytes + 16, 0);
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	put_le32(bytes + 16, 1000000001u);
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	put_le32(bytes + 16, 1000000000u);
	assert_int_equal(winapi_host_time_decode(bytes, sizeof(bytes), &decoded), 0);
}

static void example_info(struct winapi_host_info *info)
{
	*info = (struct winapi_host_info){ .processor_count = 8, .os_major = 10, .os_minor = 0, .os_build = 26100,
					   .memory_total = 64ull << 30, .memory_available = 40ull << 30,
					   .os_name = "Windows", .os_version = "10.0.26100",
					   .host_name = "h\xc3\xb4te-1", .processor = "AMD EPYC 9654" };
}

static void test_host_info_layout(void **state)
{
	struct winapi_host_info info, decoded;
	uint8_t bytes[WINAPI_HOST_INFO_SIZE];

	(void)state;
	example_info(&info);
	memset(bytes, 0xee, sizeof(bytes));
	winapi_host_info_encode(&info, bytes);
	assert_int_equal(get_le32(bytes), 8);
	assert_int_equal(get_le32(bytes + 12), 26100);
	assert_int_equal(get_le64(bytes + 16), 64ull << 30);
	assert_int_equal(get_le64(bytes + 24), 40ull << 30);
	assert_string_equal((const char *)bytes + 32, "Windows");
	assert_int_equal(bytes[32 + 7], 0);
	assert_int_equal(bytes[32 + 63], 0); /* NUL-padded to the field's end */
	assert_string_equal((const char *)bytes + 96, "10.0.26100");
	assert_string_equal((const char *)bytes + 160, "h\xc3\xb4te-1");
	assert_string_equal((const char *)bytes + 416, "AMD EPYC 9654");
	assert_int_equal(bytes[479], 0);
	assert_int_equal(winapi_host_info_decode(bytes, sizeof(bytes), &decoded), 0);
	assert_memory_equal(&decoded, &info, sizeof(info));
}

/* A text longer than its field is cut at a character's start, never inside one. */
static void test_host_info_cuts_text(void **state)
{
	struct winapi_host_info info, decoded;
	uint8_t bytes[WINAPI_HOST_INFO_SIZE];

	(void)state;
	example_info(&info);
	/* 62 ASCII bytes, then a two-byte character that would end past byte 62. */
	memset(info.os_name, 'a', 62);
	info.os_name[62] = (char)0xc3;
	info.os_name[63] = (char)0xa9;
	winapi_host_info_encode(&info, bytes);
	assert_int_equal(bytes[32 + 61], 'a');
	assert_int_equal(bytes[32 + 62], 0);
	assert_int_equal(bytes[32 + 63], 0);
	assert_int_equal(winapi_host_info_decode(bytes, sizeof(bytes), &decoded), 0);
	assert_int_equal(strlen(decoded.os_name), 62);
}

static void test_host_info_rejects(void **state)
{
	struct winapi_host_info info, decoded;
	uint8_t good[WINAPI_HOST_INFO_SIZE], bytes[WINAPI_HOST_INFO_SIZE];
	static const struct {
		size_t offset;
		uint8_t value;
	} corruptions[] = {
		{ 32 + 63, 'x' },   /* os_name not NUL-terminated in its field */
		{ 32 + 20, 'x' },   /* a byte after os_name's NUL */
		{ 96 + 63, 'x' },   /* os_version */
		{ 160 + 255, 'x' }, /* host_name */
		{ 160 + 1, 0x80 },  /* host_name: a continuation byte where a character starts */
		{ 160 + 1, 0xc0 },  /* host_name: an overlong form's lead */
		{ 416 + 63, 'x' },  /* processor */
		{ 416 + 0, 0xff },  /* processor: not UTF-8 at all */
	};
	unsigned int i;

	(void)state;
	example_info(&info);
	winapi_host_info_encode(&info, good);
	for (i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		memcpy(bytes, good, sizeof(bytes));
		bytes[corruptions[i].offset] = corruptions[i].value;
		if (winapi_host_info_decode(bytes, sizeof(bytes), &decoded) != -EBADMSG)
			fail_msg("corruption %u (byte %zu = %#x) was accepted", i, corruptions[i].offset,
				 corruptions[i].value);
	}
	assert_int_equal(winapi_host_info_decode(good, sizeof(good) - 1, &decoded), -EBADMSG);
	memcpy(bytes, good, sizeof(bytes));
	put_le32(bytes, 0); /* no processor */
	assert_int_equal(winapi_host_info_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
	memcpy(bytes, good, sizeof(bytes));
	put_le64(bytes + 24, (64ull << 30) + 1); /* more available than there is */
	assert_int_equal(winapi_host_info_decode(bytes, sizeof(bytes), &decoded), -EBADMSG);
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(winapi_utf8_valid("", 0));
	assert_true(winapi_utf8_valid("plain", 5));
	assert_true(winapi_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9)); /* 2, 3 and 4 bytes */
	assert_false(winapi_utf8_valid("\xc3", 1));                 /* cut */
	assert_false(winapi_utf8_valid("\xc0\xaf", 2));             /* overlong '/' */
	assert_false(winapi_utf8_valid("\xed\xa0\x80", 3));         /* a surrogate */
	assert_false(winapi_utf8_valid("\xf4\x90\x80\x80", 4));     /* past U+10FFFF */
	assert_false(winapi_utf8_valid("\xff", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_crc32c_windows_build),
		cmocka_unit_test(test_crc32c_extend_page),
		cmocka_unit_test(test_encode_layout),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects_header),
		cmocka_unit_test(test_decode_version_rules),
		cmocka_unit_test(test_decode_rejects_descriptors),
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_host_time_layout),
		cmocka_unit_test(test_host_time_rejects),
		cmocka_unit_test(test_host_info_layout),
		cmocka_unit_test(test_host_info_cuts_text),
		cmocka_unit_test(test_host_info_rejects),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}

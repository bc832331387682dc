/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the winapi wire format as a receiver checks it (<winapi/protocol.h>):
 * winapi_message_decode() and every payload decoder, which are what the guest runs on a
 * reply (and the host on a request): the seed APIs', and 1.1's control calls (the API table's
 * pages, event waits, subscriptions). Whatever decodes must encode back to the same bytes.
 *
 * Input:
 *   +0  u8  bit 0: seal the header, i.e. write the CRC32C of message bytes 0..59 at 60 before
 *           decoding (the fuzzer would rarely find a checksum on its own)
 *   +1  the message, as it follows the packet descriptor
 * The payload decoders run on the whole message, on its first 16 and 32 bytes, and on the
 * inline data of a message that decoded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winapi/host_apis.h>
#include <winapi/protocol.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"

/* Each payload decoder, then its encoder on what it decoded: the bytes must come back. */
static void check_payloads(const uint8_t *bytes, size_t length)
{
	uint8_t encoded[32];
	union {
		struct winapi_buffer_test_request buffer_request;
		struct winapi_buffer_test_reply buffer_reply;
		struct winapi_perf_test_request perf_request;
		struct winapi_perf_test_reply perf_reply;
	} decoded;

	if (winapi_buffer_test_request_decode(bytes, length, &decoded.buffer_request) == 0) {
		FUZZ_CHECK(length == 16 && decoded.buffer_request.reserved == 0);
		winapi_buffer_test_request_encode(&decoded.buffer_request, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, 16) == 0);
	}
	if (winapi_buffer_test_reply_decode(bytes, length, &decoded.buffer_reply) == 0) {
		FUZZ_CHECK(length == 32 && decoded.buffer_reply.reserved == 0);
		winapi_buffer_test_reply_encode(&decoded.buffer_reply, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, 32) == 0);
	}
	if (winapi_perf_test_request_decode(bytes, length, &decoded.perf_request) == 0) {
		FUZZ_CHECK(length == 16 && decoded.perf_request.reserved == 0);
		winapi_perf_test_request_encode(&decoded.perf_request, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, 16) == 0);
	}
	if (winapi_perf_test_reply_decode(bytes, length, &decoded.perf_reply) == 0) {
		FUZZ_CHECK(length == 32 && decoded.perf_reply.reserved == 0);
		winapi_perf_test_reply_encode(&decoded.perf_reply, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, 32) == 0);
	}
}

/* 1.1's control payloads: the API table's page and an event wait's answer, as a guest reads them. */
static void check_control_payloads(const uint8_t *bytes, size_t length)
{
	static struct winapi_api_entry entries[WINAPI_API_LIST_PAGE];
	static struct winapi_event_record events[WINAPI_MAX_INLINE_DATA / sizeof(struct winapi_event_header)];
	static uint8_t encoded[WINAPI_MAX_INLINE_DATA + 64];
	struct winapi_event_wait_request wait;
	struct winapi_subscribe_request subscribe;
	struct winapi_api_list_reply list;
	struct winapi_event_wait_reply reply;
	struct winapi_host_info info;
	struct winapi_host_time time;
	uint32_t i;

	if (winapi_api_list_reply_decode(bytes, length, &list, entries, WINAPI_API_LIST_PAGE) == 0) {
		FUZZ_CHECK(list.first + list.entry_count <= list.api_count && list.protocol_oldest <= list.protocol_newest);
		for (i = 0; i < list.entry_count; i++)
			FUZZ_CHECK(winapi_api_entry_check(&entries[i]) == 0);
		FUZZ_CHECK(winapi_api_list_reply_encode(&list, entries, encoded, sizeof(encoded)) == (int)length);
		FUZZ_CHECK(memcmp(encoded, bytes, length) == 0);
	}
	if (winapi_event_wait_reply_decode(bytes, length, &reply, events, sizeof(events) / sizeof(events[0])) == 0) {
		for (i = 0; i < reply.event_count; i++)
			FUZZ_CHECK(events[i].length <= WINAPI_EVENT_MAX_DATA && events[i].data >= bytes &&
				   events[i].data + events[i].length <= bytes + length);
		FUZZ_CHECK(winapi_event_wait_reply_encode(&reply, events, encoded, sizeof(encoded)) == (int)length);
		FUZZ_CHECK(memcmp(encoded, bytes, length) == 0);
	}
	if (winapi_event_wait_request_decode(bytes, length, &wait) == 0) {
		winapi_event_wait_request_encode(&wait, encoded);
		FUZZ_CHECK(length == 16 && memcmp(encoded, bytes, 16) == 0);
	}
	if (winapi_subscribe_request_decode(bytes, length, &subscribe) == 0) {
		winapi_subscribe_request_encode(&subscribe, encoded);
		FUZZ_CHECK(subscribe.depth <= WINAPI_EVENT_MAX_DEPTH && memcmp(encoded, bytes, 8) == 0);
	}
	/* The host APIs' replies: what decodes re-encodes to the same bytes, reserved aside. */
	if (winapi_host_time_decode(bytes, length, &time) == 0) {
		FUZZ_CHECK(length >= WINAPI_HOST_TIME_SIZE && time.realtime_ns != 0 && time.resolution_ns != 0 &&
			   time.resolution_ns <= 1000000000u);
		winapi_host_time_encode(&time, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, 20) == 0);
	}
	if (winapi_host_info_decode(bytes, length, &info) == 0) {
		FUZZ_CHECK(length >= WINAPI_HOST_INFO_SIZE && info.processor_count != 0 &&
			   info.memory_available <= info.memory_total);
		FUZZ_CHECK(strlen(info.host_name) < sizeof(info.host_name) &&
			   winapi_utf8_valid(info.host_name, strlen(info.host_name)));
		winapi_host_info_encode(&info, encoded);
		FUZZ_CHECK(memcmp(encoded, bytes, WINAPI_HOST_INFO_SIZE) == 0);
	}
}

/* What the guest does with a reply's status: a known one maps to an errno and back. */
static void check_status(uint32_t status)
{
	int error = winapi_status_to_errno(status);

	FUZZ_CHECK(winapi_status_name(status) != NULL);
	FUZZ_CHECK(error <= 0 && (error == 0) == (status == WINAPI_STATUS_OK));
	if (status <= WINAPI_STATUS_INTERNAL)
		FUZZ_CHECK(winapi_errno_to_status(error) == status);
}

/* A message that decoded: re-encoding it gives the same bytes, but for what 1.0 zeroes. */
static void check_round_trip(const uint8_t *bytes, size_t length, const struct winapi_message *message)
{
	size_t size = winapi_message_size(message);
	struct winapi_message again;
	uint8_t *encoded;

	FUZZ_CHECK(size <= length && length - size < 8 && size <= WINAPI_MESSAGE_MAX_SIZE);
	FUZZ_CHECK(message->buffer_count <= WINAPI_MAX_BUFFERS && message->inline_length <= WINAPI_MAX_INLINE_DATA);
	FUZZ_CHECK((message->inline_length == 0 && message->inline_data == NULL) ||
		   (const uint8_t *)message->inline_data == bytes + size - message->inline_length);

	encoded = malloc(size);
	FUZZ_CHECK(encoded != NULL);
	FUZZ_CHECK(winapi_message_encode(message, encoded, size - 1) == -ENOBUFS);
	FUZZ_CHECK(winapi_message_encode(message, encoded, size) == (int)size);
	/* Same magic, api_id .. buffer_count, descriptors and inline data; version and reserved
	 * fields are the encoder's own. */
	FUZZ_CHECK(memcmp(encoded, bytes, 4) == 0);
	FUZZ_CHECK(memcmp(encoded + 6, bytes + 6, 28) == 0);
	FUZZ_CHECK(memcmp(encoded + 64, bytes + 64, size - 64) == 0);

	FUZZ_CHECK(winapi_message_decode(encoded, size, &again) == 0);
	FUZZ_CHECK(again.version == WINAPI_PROTOCOL_VERSION && again.api_id == message->api_id &&
		   again.flags == message->flags && again.status == message->status &&
		   again.request_id == message->request_id && again.reply_capacity == message->reply_capacity &&
		   again.buffer_count == message->buffer_count && again.inline_length == message->inline_length);
	/* Descriptors past buffer_count are not written by the decoder: only the sent ones compare. */
	FUZZ_CHECK(memcmp(again.buffers, message->buffers, again.buffer_count * sizeof(again.buffers[0])) == 0);
	free(encoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct winapi_message message;
	size_t length;
	uint8_t *bytes;
	int rc;

	if (size < 1)
		return 0;
	length = size - 1;
	/* Exactly the message's size, so that ASan sees a read past it. */
	bytes = malloc(length != 0 ? length : 1);
	FUZZ_CHECK(bytes != NULL);
	memcpy(bytes, data + 1, length);
	if ((data[0] & 1u) && length >= sizeof(struct winapi_message_header))
		put_le32(bytes + 60, winapi_crc32c(0, bytes, 60));

	rc = winapi_message_decode(bytes, length, &message);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
	if (rc == -EPROTONOSUPPORT)
		FUZZ_CHECK(message.version >> 8 != WINAPI_PROTOCOL_VERSION_MAJOR);
	if (rc == 0) {
		check_round_trip(bytes, length, &message);
		check_status(message.status);
		check_payloads(message.inline_data, message.inline_length);
		check_control_payloads(message.inline_data, message.inline_length);
	}
	check_control_payloads(bytes, length);

	check_payloads(bytes, length);
	if (length >= 16)
		check_payloads(bytes, 16);
	if (length >= 32)
		check_payloads(bytes, 32);
	free(bytes);
	return 0;
}

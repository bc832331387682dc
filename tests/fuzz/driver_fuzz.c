/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the guest's winapi driver (drivers/winapi/winapi_driver.c) taking a
 * hostile host's completions for the requests it has in flight.
 *
 * Each input builds a VMBUS_SIDE_GUEST device of the winapi class over rings in memory (a
 * backend whose signal does nothing and whose wait times out at once), opens the driver on
 * it and puts four requests in flight through one queue of depth 4: an echo, a BUFFER_TEST
 * naming a GPADL buffer, a LIST and a generic call. The test plays the host: it reads the
 * requests from the guest's TX ring to learn their trans_ids, then writes packets built from
 * the input onto the guest's RX ring, as the host's ring code would, and reaps with timeout 0.
 *
 * Alongside, it keeps its own model of what the driver must do: the first completion packet
 * naming a request in flight decides it (accepted with the reply's bytes, or an error the
 * reply earns); anything else is dropped. After every reap:
 *   - each completion is of a request of ours not reaped before, its status is 0 or a
 *     negative errno and the one the model predicts, its length within the reply buffer;
 *   - a request nothing answered is still in flight, one that timed out ended -ETIMEDOUT;
 *   - a reply buffer holds the reply's bytes only when its request succeeded, and nothing
 *     else ever changed: not its unused tail, not the canaries around it, not the buffer of a
 *     request that failed or is still in flight.
 * Reaped requests may be replaced by new ones in the same slots (next generation), so that
 * the late answers the input aims at old ids meet slots that belong to someone else now.
 *
 * Input:
 *   +0  u8  bit 0: the queue runs in interrupt mode (its event fd in use);
 *           bit 1: the LIST request times out at once (timeout 0);
 *           bit 2: after each reap, new requests take the freed slots;
 *           bits 3-4: the echo's reply capacity (0, 4, 64 or 3072 bytes)
 *   then packets, each:
 *   +0  u8  bits 0-3: its trans_id: below 12, the id of request (value % requests made);
 *                     12: a u64 follows; 13: a request's id, next generation (the request
 *                     chosen by the next byte); 14: the id in queue 0 (the driver's own call
 *                     queue, nothing in flight); 15: the next slot's id
 *           bits 4-5: type: 0, 1: completion; 2: inband; 3: a u8 type follows
 *           bit 6: seal the message's header checksum
 *           bit 7: reap after this packet
 *   +1  u8  bit 0: COMPLETION_REQUESTED; bit 1: packet flag 0x2 (no device may use it);
 *           bit 2: the message's request_id becomes the trans_id;
 *           bits 3-4: a header extension of that many 8-byte words (zero)
 *   +2  le16 message length, then the message (what the input has left of it)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/ring.h>
#include <winapi/log.h>
#include <winapi/protocol.h>
#include <winapi_internal/winapi_driver.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"
#include "fuzz_device.h"

#define PAGE_SIZE 4096u
#define RING_SIZE (PAGE_SIZE + (32u << 10)) /* one direction, header page included */
#define QUEUE_DEPTH 4u
#define MAX_REQUESTS 32u
#define CANARY 64u
#define PATTERN 0xa5u
#define FAKE_GPADL 0x2au
#define PACKET_HEADER 4u

struct request {
	uint16_t api_id;
	uint32_t capacity;
	uint8_t *block;      /* canary, reply buffer of capacity bytes, canary */
	uint64_t id;         /* the trans_id the host saw */
	bool decided;        /* the model: an outcome is due */
	int expected_status;
	uint32_t expected_length;
	uint8_t expected_reply[WINAPI_MAX_INLINE_DATA];
	bool reaped;
};

struct fuzz_state {
	struct request requests[MAX_REQUESTS];
	unsigned int count;
	struct vmbus_ring host_rx; /* the guest's TX ring, read by the host */
	struct vmbus_ring host_tx; /* the guest's RX ring, written by the host */
	const struct vmbus_ring_header *guest_rx;
	struct winapi_driver_queue *queue;
	bool list_expires;
};

static const struct vmbus_backend_ops fake_ops = {
	.name = "fuzz",
	.signal = fuzz_device_signal,
	.wait = fuzz_device_wait,
	.event_fd = fuzz_device_event_fd,
};

static uint8_t *reply_buffer(const struct request *request)
{
	return request->block + CANARY;
}

/* Add one request of the kind @p kind picks to the queue (not yet submitted). */
static void add_request(struct fuzz_state *state, unsigned int kind, uint32_t echo_capacity)
{
	static const uint8_t echo_text[] = "fuzz the driver";
	static const uint8_t buffer_test[16] = { 1, 0, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa };
	static const uint8_t list_page[8] = { 0 };
	static const uint8_t terms[8] = { 2, 0, 0, 0, 3 };
	static const struct winapi_call_buffer gpadl_buffer = {
		.kind = WINAPI_BUFFER_GPADL, .length = 2 * PAGE_SIZE, .gpadl = FAKE_GPADL, .gpadl_offset = PAGE_SIZE,
	};
	struct request *request = &state->requests[state->count];
	struct winapi_call call = { .timeout_ms = 60000 };

	switch (kind % 4) {
	case 0:
		call = (struct winapi_call){ .api_id = WINAPI_API_ECHO, .request_data = echo_text,
					     .request_length = sizeof(echo_text), .reply_capacity = echo_capacity };
		break;
	case 1:
		call = (struct winapi_call){ .api_id = WINAPI_API_BUFFER_TEST, .request_data = buffer_test,
					     .request_length = sizeof(buffer_test), .reply_capacity = 16,
					     .buffers = &gpadl_buffer, .buffer_count = 1 };
		break;
	case 2:
		call = (struct winapi_call){ .api_id = WINAPI_API_LIST, .request_data = list_page,
					     .request_length = sizeof(list_page), .reply_capacity = 1024 };
		break;
	default:
		call = (struct winapi_call){ .api_id = 42, .api_version = 0x0100, .request_data = terms,
					     .request_length = sizeof(terms), .reply_capacity = 8 };
		break;
	}
	call.timeout_ms = kind % 4 == 2 && state->list_expires ? 0 : 60000;
	*request = (struct request){ .api_id = call.api_id, .capacity = call.reply_capacity };
	request->block = malloc(2 * CANARY + call.reply_capacity);
	FUZZ_CHECK(request->block != NULL);
	memset(request->block, PATTERN, 2 * CANARY + call.reply_capacity);
	call.reply_data = call.reply_capacity != 0 ? reply_buffer(request) : NULL;
	FUZZ_CHECK(winapi_driver_queue_add(state->queue, &call, request) == 0);
	/* Timeout 0: past its deadline as soon as it is sent, whatever answers it. */
	if (call.timeout_ms == 0) {
		request->decided = true;
		request->expected_status = -ETIMEDOUT;
	}
	state->count++;
}

/* Submit what was added and learn each request's trans_id from the ring, as the host does. */
static void submit(struct fuzz_state *state, unsigned int first)
{
	struct vmbus_ring_packet_info info;
	struct winapi_message message;
	static uint8_t packet[RING_SIZE];
	unsigned int i;
	bool need_signal;

	FUZZ_CHECK(winapi_driver_queue_submit(state->queue) == (int)(state->count - first));
	for (i = first; i < state->count; i++) {
		FUZZ_CHECK(vmbus_ring_read(&state->host_rx, packet, sizeof(packet), &info) == 0);
		FUZZ_CHECK(info.flags == VMBUS_PACKET_FLAG_COMPLETION_REQUESTED);
		FUZZ_CHECK(winapi_message_decode(packet + info.header_size, info.packet_size - info.header_size,
						 &message) == 0);
		FUZZ_CHECK(message.request_id == info.trans_id && message.api_id == state->requests[i].api_id);
		state->requests[i].id = info.trans_id;
	}
	vmbus_ring_read_publish(&state->host_rx, &need_signal);
}

/* The model of accept_reply(): the outcome of a completion for request @p request. */
static void decide(struct request *request, const uint8_t *payload, size_t length)
{
	struct winapi_message reply;

	request->decided = true;
	request->expected_status = -EBADMSG;
	if (winapi_message_decode(payload, length, &reply) != 0 || !(reply.flags & WINAPI_MESSAGE_FLAG_RESPONSE) ||
	    reply.request_id != request->id)
		return;
	if (reply.status != WINAPI_STATUS_OK) {
		request->expected_status = winapi_status_to_errno(reply.status);
		return;
	}
	if (reply.api_id != request->api_id || reply.buffer_count != 0 || reply.inline_length > request->capacity)
		return;
	request->expected_status = 0;
	request->expected_length = reply.inline_length;
	if (reply.inline_length != 0)
		memcpy(request->expected_reply, reply.inline_data, reply.inline_length);
}

/* The host's packet, and what the driver must make of it. 0, or -EAGAIN: the ring is full. */
static int host_send(struct fuzz_state *state, uint16_t type, uint16_t flags, uint64_t trans_id,
		     unsigned int extension_words, const uint8_t *message, size_t length)
{
	static const uint8_t extension[24];
	struct iovec payload = { .iov_base = (void *)message, .iov_len = length };
	const struct vmbus_ring_packet packet = {
		.type = type,
		.flags = flags,
		.trans_id = trans_id,
		.header_extension = extension_words != 0 ? extension : NULL,
		.header_extension_size = 8 * extension_words,
		.payload = &payload,
		.payload_count = 1,
	};
	uint32_t header_size = 16 + 8 * extension_words;
	bool need_signal;
	unsigned int i;
	int rc;

	rc = vmbus_ring_write(&state->host_tx, &packet);
	if (rc != 0) {
		FUZZ_CHECK(rc == -EAGAIN || rc == -EMSGSIZE);
		return rc;
	}
	vmbus_ring_write_publish(&state->host_tx, &need_signal);
	/* vmbus_chan_recv()'s rules, then the driver's: only a completion names a request. */
	if ((flags & ~VMBUS_PACKET_FLAG_COMPLETION_REQUESTED) != 0 || type != VMBUS_PACKET_COMPLETION ||
	    header_size < 16)
		return 0;
	for (i = 0; i < state->count; i++)
		if (state->requests[i].id == trans_id && !state->requests[i].decided)
			decide(&state->requests[i], message, length);
	return 0;
}

/* Every byte of a request's block is what it must be now. */
static void check_block(const struct request *request)
{
	const uint8_t *reply = reply_buffer(request);
	uint32_t written = request->reaped && request->expected_status == 0 ? request->expected_length : 0;
	uint32_t i;

	for (i = 0; i < CANARY; i++)
		FUZZ_CHECK(request->block[i] == PATTERN && reply[request->capacity + i] == PATTERN);
	FUZZ_CHECK(memcmp(reply, request->expected_reply, written) == 0);
	for (i = written; i < request->capacity; i++)
		FUZZ_CHECK(reply[i] == PATTERN);
}

/* Reap with timeout 0: exactly the decided requests come back, each once, as the model says. */
static void reap(struct fuzz_state *state)
{
	struct winapi_call_completion completions[MAX_REQUESTS];
	unsigned int i, in_flight = 0, decided = 0;
	int n, k;

	for (i = 0; i < state->count; i++) {
		if (state->requests[i].reaped)
			continue;
		in_flight++;
		decided += state->requests[i].decided;
	}
	n = winapi_driver_queue_reap(state->queue, completions, MAX_REQUESTS, in_flight, 0);
	FUZZ_CHECK(n >= 0 && (unsigned int)n == decided);
	for (k = 0; k < n; k++) {
		struct request *request = completions[k].user_data;

		FUZZ_CHECK(request >= state->requests && request < state->requests + state->count);
		FUZZ_CHECK(request->decided && !request->reaped);
		FUZZ_CHECK(completions[k].status == 0 || (completions[k].status < 0 && completions[k].status >= -4095));
		FUZZ_CHECK(completions[k].status == request->expected_status);
		FUZZ_CHECK(completions[k].reply_length <= request->capacity);
		if (completions[k].status == 0)
			FUZZ_CHECK(completions[k].reply_length == request->expected_length);
		request->reaped = true;
	}
	for (i = 0; i < state->count; i++)
		check_block(&state->requests[i]);
}

/* New requests in the slots reaped requests left, as many as fit. */
static void replace_reaped(struct fuzz_state *state, uint32_t echo_capacity)
{
	const struct vmbus_ring_header *rx = state->guest_rx;
	unsigned int i, in_flight = 0, first = state->count;

	/*
	 * Not while packets the guest has not taken are in its ring: one may name the id the new
	 * request will get (the input can aim at the next generation), and the model decided
	 * nothing for it when it was written.
	 */
	if (__atomic_load_n(&rx->read_index, __ATOMIC_ACQUIRE) != __atomic_load_n(&rx->write_index, __ATOMIC_ACQUIRE))
		return;
	for (i = 0; i < state->count; i++)
		in_flight += !state->requests[i].reaped;
	while (in_flight < QUEUE_DEPTH && state->count < MAX_REQUESTS) {
		add_request(state, state->count, echo_capacity);
		in_flight++;
	}
	if (state->count != first)
		submit(state, first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t echo_capacities[] = { 0, 4, 64, WINAPI_MAX_INLINE_DATA };
	static struct fuzz_state state;
	struct vmbus_channel_region region = { .relid = 1, .monitor_id = VMBUS_MONITOR_ID_NONE };
	struct vmbus_device_params params = {
		.numa_node = -1,
		.side = VMBUS_SIDE_GUEST,
		.page_size = PAGE_SIZE,
		.channel_count = 1,
		.channels = &region,
		.ops = &fake_ops,
	};
	static uint8_t message[WINAPI_MESSAGE_MAX_SIZE + 8];
	struct vmbus_device *device;
	struct winapi_driver *driver;
	uint32_t echo_capacity;
	uint8_t *rings;
	size_t at = 1;
	unsigned int i;
	int event_fd;

	if (size < 1)
		return 0;
	/* Every malformed reply is logged at ERR: nothing is printed, or fuzzing crawls. */
	winapi_log_set_level((enum winapi_log_level)(WINAPI_LOG_ERR - 1));
	echo_capacity = echo_capacities[(data[0] >> 3) & 3u];

	rings = aligned_alloc(PAGE_SIZE, 2 * RING_SIZE);
	FUZZ_CHECK(rings != NULL);
	vmbus_ring_header_init(rings, PAGE_SIZE);
	vmbus_ring_header_init(rings + RING_SIZE, PAGE_SIZE);
	event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	FUZZ_CHECK(event_fd >= 0);
	region.ring_base = rings;
	region.ring_size = RING_SIZE;
	params.backend_data = &event_fd;
	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id);
	FUZZ_CHECK(vmbus_device_create(&params, &device) == 0);
	FUZZ_CHECK(winapi_driver_open(device, 0, &driver) == 0);

	memset(&state, 0, sizeof(state));
	state.list_expires = data[0] & 2u;
	FUZZ_CHECK(vmbus_ring_attach(&state.host_rx, rings, RING_SIZE, PAGE_SIZE) == 0);
	FUZZ_CHECK(vmbus_ring_attach(&state.host_tx, rings + RING_SIZE, RING_SIZE, PAGE_SIZE) == 0);
	state.guest_rx = (const struct vmbus_ring_header *)(rings + RING_SIZE);
	FUZZ_CHECK(winapi_driver_queue_create(driver, QUEUE_DEPTH, 60000, &state.queue) == 0);
	if (data[0] & 1u)
		FUZZ_CHECK(winapi_driver_queue_event_fd(state.queue) >= 0);
	for (i = 0; i < QUEUE_DEPTH; i++)
		add_request(&state, i, echo_capacity);
	submit(&state, 0);

	while (size - at >= PACKET_HEADER) {
		const uint8_t *header = data + at;
		uint16_t type = (uint16_t[]){ VMBUS_PACKET_COMPLETION, VMBUS_PACKET_COMPLETION,
					      VMBUS_PACKET_DATA_INBAND, 0 }[(header[0] >> 4) & 3u];
		uint16_t flags = (header[1] & 1u ? VMBUS_PACKET_FLAG_COMPLETION_REQUESTED : 0) | (header[1] & 2u);
		unsigned int choice = header[0] & 15u;
		uint64_t trans_id = 0;
		size_t length;

		at += PACKET_HEADER;
		length = (size_t)header[2] | (size_t)header[3] << 8;
		if (choice == 12) {
			if (size - at < 8)
				break;
			trans_id = get_le64(data + at);
			at += 8;
		} else if (choice == 13) {
			if (size - at < 1)
				break;
			trans_id = state.requests[data[at++] % state.count].id + 1;
		} else {
			trans_id = state.requests[choice % state.count].id;
			if (choice == 14)
				trans_id &= ~(0xffffull << 48);
			else if (choice == 15)
				trans_id += 1ull << 32;
		}
		if (((header[0] >> 4) & 3u) == 3) {
			if (size - at < 1)
				break;
			type = data[at++];
		}
		if (length > size - at)
			length = size - at;
		if (length > WINAPI_MESSAGE_MAX_SIZE)
			length = WINAPI_MESSAGE_MAX_SIZE;
		memcpy(message, data + at, length);
		at += length;
		/* The ring pads a packet to 8 bytes: the driver sees the zeros, and so does the model. */
		memset(message + length, 0, 8);
		length = (length + 7u) & ~(size_t)7u;
		if (length >= sizeof(struct winapi_message_header)) {
			if (header[1] & 4u)
				put_le64(message + 16, trans_id);
			if (header[0] & 0x40u)
				put_le32(message + 60, winapi_crc32c(0, message, 60));
		}
		if (host_send(&state, type, flags, trans_id, (header[1] >> 3) & 3u, message, length) == -EAGAIN) {
			/* The ring is full: a reap drains it unless nothing is left to wait for. */
			reap(&state);
			(void)host_send(&state, type, flags, trans_id, (header[1] >> 3) & 3u, message, length);
		}
		if (header[0] & 0x80u) {
			reap(&state);
			if (data[0] & 4u)
				replace_reaped(&state, echo_capacity);
		}
	}
	reap(&state);

	winapi_driver_queue_destroy(state.queue);
	winapi_driver_close(driver);
	vmbus_device_close(device);
	close(event_fd);
	for (i = 0; i < state.count; i++)
		free(state.requests[i].block);
	free(rings);
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the host side (drivers/host) serving one packet from a hostile guest.
 *
 * Each input builds a VMBUS_SIDE_HOST device in memory (a backend whose signal and wait do
 * nothing), writes one packet into the guest -> host ring as the guest's ring code would,
 * and lets winapi_host_poll() serve it. Guest memory is a fake GPADL region and a few fake
 * guest pages, each allocated at its exact size, so ASan sees any access outside them; after a
 * BUFFER_TEST the GPADL region is checked byte by byte for writes no descriptor named.
 * Afterwards the host -> guest ring is read as the guest would: exactly one well-formed
 * completion when one was asked for and the packet could carry a request, none otherwise.
 *
 * Input:
 *   +0  u8  packet type: values below 0x80 pick inband, GPA-direct, completion, transfer
 *           pages (value & 3); from 0x80 on, the type is value & 0x0f
 *   +1  u8  bit 0: COMPLETION_REQUESTED; bit 1: seal the message's header checksum;
 *           bit 2: trans_id is the message's request_id (else its complement);
 *           bit 3: also set packet flag 0x2, which no device may use
 *   +2  u8  length of the type-specific header in 8-byte units (the page ranges of
 *           GPA-direct), whose bytes follow
 *   then the message (the packet's payload)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/backend.h>
#include <vmbus/ring.h>
#include <winapi_internal/host.h>
#include <winapi/protocol.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"
#include "fuzz_device.h"

#define PAGE_SIZE 4096u
#define RING_SIZE (PAGE_SIZE + (32u << 10)) /* one direction, header page included */
#define FAKE_GPADL 0x2au
#define FAKE_GPADL_SIZE (8u * PAGE_SIZE)
#define FAKE_FIRST_PFN 16u
#define FAKE_PAGES 8u
#define INPUT_HEADER 3u

struct fake_guest {
	uint8_t *gpadl_region;
	uint8_t *pages[FAKE_PAGES];
};

static void *fake_gpadl_span(void *context, uint32_t gpadl, uint64_t offset, uint64_t length)
{
	struct fake_guest *guest = context;

	if (gpadl != FAKE_GPADL || offset > FAKE_GPADL_SIZE || length > FAKE_GPADL_SIZE - offset)
		return NULL;
	return guest->gpadl_region + offset;
}

static void *fake_guest_page(void *context, uint64_t pfn)
{
	struct fake_guest *guest = context;

	if (pfn < FAKE_FIRST_PFN || pfn - FAKE_FIRST_PFN >= FAKE_PAGES)
		return NULL;
	return guest->pages[pfn - FAKE_FIRST_PFN];
}

static const struct vmbus_backend_ops fake_ops = {
	.name = "fuzz",
	.signal = fuzz_device_signal,
	.wait = fuzz_device_wait,
};

/* The guest's half of the exchange: write the packet as its ring code would. */
static int guest_write(uint8_t *rings, const struct vmbus_ring_packet *packet)
{
	struct vmbus_ring tx;
	bool need_signal;
	int rc;

	FUZZ_CHECK(vmbus_ring_attach(&tx, rings, RING_SIZE, PAGE_SIZE) == 0);
	rc = vmbus_ring_write(&tx, packet);
	vmbus_ring_write_publish(&tx, &need_signal);
	return rc;
}

/* The guest reads its RX ring: the completion, checked as the guest driver would need it. */
static unsigned int guest_read_completions(uint8_t *rings, uint64_t trans_id, const struct winapi_message *request)
{
	struct vmbus_ring_packet_info info;
	struct winapi_message response;
	unsigned int completions = 0;
	struct vmbus_ring rx;
	uint8_t *packet;

	FUZZ_CHECK(vmbus_ring_attach(&rx, rings + RING_SIZE, RING_SIZE, PAGE_SIZE) == 0);
	while (vmbus_ring_peek(&rx, &info) == 0) {
		packet = malloc(info.packet_size);
		FUZZ_CHECK(packet != NULL);
		FUZZ_CHECK(vmbus_ring_read(&rx, packet, info.packet_size, &info) == 0);
		FUZZ_CHECK(info.type == VMBUS_PACKET_COMPLETION && info.flags == 0 && info.trans_id == trans_id);
		FUZZ_CHECK(winapi_message_decode(packet + info.header_size, info.packet_size - info.header_size,
						 &response) == 0);
		FUZZ_CHECK(response.flags == WINAPI_MESSAGE_FLAG_RESPONSE && response.request_id == trans_id);
		FUZZ_CHECK(response.buffer_count == 0 && response.status <= WINAPI_STATUS_INTERNAL);
		FUZZ_CHECK(response.status == WINAPI_STATUS_OK || response.inline_length == 0);
		/* A request the host could read is answered within what it accepts back. */
		if (request != NULL && response.status == WINAPI_STATUS_OK)
			FUZZ_CHECK(response.inline_length <= request->reply_capacity);
		free(packet);
		completions++;
	}
	return completions;
}

/* The host wrote nothing of the GPADL region that no descriptor of @request named. */
static void check_gpadl_untouched(const struct fake_guest *guest, const struct winapi_message *request)
{
	static const uint8_t zeros[FAKE_GPADL_SIZE];
	static uint8_t unnamed[FAKE_GPADL_SIZE];
	unsigned int i;

	/* The region as the host left it, with every named byte cleared: all zero, as it began. */
	memcpy(unnamed, guest->gpadl_region, FAKE_GPADL_SIZE);
	for (i = 0; i < request->buffer_count; i++) {
		const struct winapi_buffer_descriptor *buffer = &request->buffers[i];
		uint64_t left = FAKE_GPADL_SIZE - buffer->offset;

		if (buffer->kind == WINAPI_BUFFER_GPADL && buffer->region == FAKE_GPADL &&
		    buffer->offset < FAKE_GPADL_SIZE)
			memset(unnamed + buffer->offset, 0, buffer->length < left ? buffer->length : left);
	}
	FUZZ_CHECK(memcmp(unnamed, zeros, FAKE_GPADL_SIZE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { VMBUS_PACKET_DATA_INBAND, VMBUS_PACKET_DATA_USING_GPA_DIRECT,
					  VMBUS_PACKET_COMPLETION, VMBUS_PACKET_DATA_USING_TRANSFER_PAGES };
	struct vmbus_channel_region region = { .relid = 1, .monitor_id = VMBUS_MONITOR_ID_NONE };
	struct vmbus_device_params params = {
		.numa_node = -1,
		.side = VMBUS_SIDE_HOST,
		.page_size = PAGE_SIZE,
		.channel_count = 1,
		.channels = &region,
		.ops = &fake_ops,
	};
	struct fake_guest guest;
	struct winapi_host_memory memory = { .gpadl_span = fake_gpadl_span, .guest_page = fake_guest_page,
					     .context = &guest };
	struct vmbus_ring_packet packet;
	struct winapi_message request;
	struct iovec payload;
	struct vmbus_device *device;
	struct winapi_host *host;
	struct winapi_host_stats stats;
	size_t extension_size, message_size;
	uint8_t *rings, *message;
	bool request_decoded, servable;
	unsigned int i, completions;
	int rc;

	if (size < INPUT_HEADER)
		return 0;
	extension_size = 8u * data[2];
	if (size - INPUT_HEADER < extension_size)
		return 0;
	message_size = size - INPUT_HEADER - extension_size;
	message = malloc(message_size != 0 ? message_size : 1);
	FUZZ_CHECK(message != NULL);
	memcpy(message, data + INPUT_HEADER + extension_size, message_size);

	packet = (struct vmbus_ring_packet){
		.type = data[0] & 0x80u ? data[0] & 0x0fu : types[data[0] & 3u],
		.flags = (data[1] & 1u ? VMBUS_PACKET_FLAG_COMPLETION_REQUESTED : 0) | (data[1] & 8u ? 2u : 0),
		.header_extension = extension_size != 0 ? data + INPUT_HEADER : NULL,
		.header_extension_size = (uint32_t)extension_size,
		.payload = &payload,
		.payload_count = 1,
	};
	payload = (struct iovec){ .iov_base = message, .iov_len = message_size };
	if (message_size >= sizeof(struct winapi_message_header)) {
		if (data[1] & 2u)
			put_le32(message + 60, winapi_crc32c(0, message, 60));
		packet.trans_id = get_le64(message + 16);
	}
	if (!(data[1] & 4u))
		packet.trans_id = ~packet.trans_id;

	rings = aligned_alloc(PAGE_SIZE, 2 * RING_SIZE);
	FUZZ_CHECK(rings != NULL);
	vmbus_ring_header_init(rings, PAGE_SIZE);
	vmbus_ring_header_init(rings + RING_SIZE, PAGE_SIZE);
	rc = guest_write(rings, &packet);
	if (rc != 0) {
		/* Only a packet too large for the ring is refused; the input is skipped. */
		FUZZ_CHECK(rc == -EMSGSIZE);
		goto out_free_rings;
	}

	guest.gpadl_region = calloc(1, FAKE_GPADL_SIZE);
	FUZZ_CHECK(guest.gpadl_region != NULL);
	for (i = 0; i < FAKE_PAGES; i++) {
		guest.pages[i] = calloc(1, PAGE_SIZE);
		FUZZ_CHECK(guest.pages[i] != NULL);
	}
	region.ring_base = rings;
	region.ring_size = RING_SIZE;
	FUZZ_CHECK(vmbus_device_create(&params, &device) == 0);
	FUZZ_CHECK(winapi_host_create(device, 0, &memory, &host) == 0);

	rc = winapi_host_poll(host);
	/* The framing is sound, so the only errors left would be the host's own bugs. */
	FUZZ_CHECK(rc == 0 || rc == 1);
	winapi_host_get_stats(host, &stats);
	/* One packet: answered (maybe with an error status, counted bad too) or dropped. */
	FUZZ_CHECK(stats.requests == (uint64_t)rc && stats.bad_requests <= 1 &&
		   stats.requests + stats.bad_requests >= 1);

	/* What the host must answer: a request packet that asked for it (vmbus_chan_recv's rules). */
	servable = (packet.type == VMBUS_PACKET_DATA_INBAND ||
		    (packet.type == VMBUS_PACKET_DATA_USING_GPA_DIRECT && extension_size >= 8)) &&
		   packet.flags == VMBUS_PACKET_FLAG_COMPLETION_REQUESTED;
	request_decoded = winapi_message_decode(message, message_size, &request) == 0;
	completions = guest_read_completions(rings, packet.trans_id, request_decoded ? &request : NULL);
	FUZZ_CHECK(completions == (servable ? 1u : 0u) && (unsigned int)rc == completions);
	if (request_decoded && request.api_id == WINAPI_API_BUFFER_TEST)
		check_gpadl_untouched(&guest, &request);

	winapi_host_destroy(host);
	vmbus_device_close(device);
	for (i = 0; i < FAKE_PAGES; i++)
		free(guest.pages[i]);
	free(guest.gpadl_region);
out_free_rings:
	free(rings);
	free(message);
	return 0;
}

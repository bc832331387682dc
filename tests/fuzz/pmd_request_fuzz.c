/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: winapi-pmd's parser of a client's request (apps/winapi-pmd/request.c).
 * The properties that matter: a request pmd_request_check() forwards names only memory inside
 * the client's own pool, so one client cannot make the host touch another's buffers; and it
 * calls LIST, or an API of the host's table that the client may call, within that API's
 * major and limits, so the policy cannot be got round.
 *
 * The host's table: the seeds' three APIs, fuzz.limits (id WINAPI_API_ID_MAX, 2.1, 16 bytes
 * in, 8 out, two buffers) and the event source fuzz.events (id 17, 1.0). The client holds
 * subscriptions 0x11 and 0x22; event waits may hold 1000 ms.
 *
 * Input:
 *   +0   u8   packet type (vmbus_chan_recv() lets 6, 7, 9, 0xb through; any value is tried)
 *   +1   u8   bit 0: COMPLETION_REQUESTED; bit 1: seal the message's header checksum;
 *             bit 2: trans_id is the message's request_id (else its complement);
 *             bits 3-6: the policy denies the table's entry 0-3 (all clear: all allowed);
 *             bit 7: the client has room for another subscription
 *   +2   u8   header_size in 8-byte units
 *   +3   u32  the pool's GPADL handle
 *   +7   u64  the pool's size
 *   +15  the packet (descriptor, then the message from header_size on)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/winapi-pmd/request.h"
#include "../unit/le_bytes.h"
#include "fuzz_check.h"

#define INPUT_HEADER 15u
#define TABLE_SIZE 5u
#define EVENTS_ID 17u

static struct winapi_api_entry entries[TABLE_SIZE];
static struct winapi_api_table table = { .listed = true, .count = TABLE_SIZE, .entries = entries };

static void table_init(void)
{
	const struct winapi_api_entry limits = {
		.name = "fuzz.limits", .api_id = WINAPI_API_ID_MAX, .version = 0x201, .max_request = 16, .max_reply = 8,
		.buffer_access = { WINAPI_ACCESS_HOST_READS, WINAPI_ACCESS_HOST_WRITES },
	};
	unsigned int i;

	const struct winapi_api_entry events = {
		.name = "fuzz.events", .api_id = EVENTS_ID, .version = 0x100, .flags = WINAPI_API_FLAG_EVENT_SOURCE,
	};

	memcpy(entries, winapi_seed_apis, sizeof(winapi_seed_apis));
	entries[3] = limits;
	entries[4] = events;
	for (i = 0; i < TABLE_SIZE; i++)
		table.by_id[entries[i].api_id] = (uint16_t)(i + 1);
}

/* The API checks: what the policy and the table allow, and nothing else, is forwarded. */
static const uint64_t held[2] = { 0x11, 0x22 };

static bool client_holds(uint64_t subscription)
{
	return subscription == held[0] || subscription == held[1];
}

static void check_forward_api(const struct pmd_apis *apis, const struct winapi_message *message)
{
	const struct winapi_api_entry *entry;
	struct winapi_event_wait_request wait;

	if (message->api_id == WINAPI_API_SUBSCRIBE) {
		/* Only to an event source the client may call, and only with room for it. */
		entry = winapi_api_table_find(apis->table, pmd_request_api(message));
		FUZZ_CHECK(entry != NULL && (entry->flags & WINAPI_API_FLAG_EVENT_SOURCE) && apis->may_subscribe &&
			   pmd_api_allowed(apis->allowed, entry->api_id) && message->buffer_count == 0);
		return;
	}
	if (message->api_id == WINAPI_API_EVENT_WAIT || message->api_id == WINAPI_API_UNSUBSCRIBE) {
		/* Only the client's own subscriptions reach the host. */
		FUZZ_CHECK(client_holds(pmd_request_subscription(message)) && message->buffer_count == 0);
		if (message->api_id == WINAPI_API_EVENT_WAIT)
			FUZZ_CHECK(winapi_event_wait_request_decode(message->inline_data, message->inline_length, &wait) == 0 &&
				   wait.wait_ms <= apis->max_wait_ms);
		return;
	}
	if (message->api_id == WINAPI_API_LIST) {
		FUZZ_CHECK(message->buffer_count == 0 && message->reply_capacity <= WINAPI_MAX_INLINE_DATA);
		return;
	}
	entry = winapi_api_table_find(apis->table, message->api_id);
	FUZZ_CHECK(entry != NULL && pmd_api_allowed(apis->allowed, message->api_id));
	FUZZ_CHECK(message->api_version == 0 || message->api_version >> 8 == entry->version >> 8);
	FUZZ_CHECK(message->inline_length <= entry->max_request);
	FUZZ_CHECK(message->buffer_count <= winapi_api_entry_buffers(entry));
	FUZZ_CHECK(message->reply_capacity <= entry->max_reply);
}

static void check_forward(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
			  const struct pmd_pool *pool, const struct pmd_apis *apis, const struct winapi_message *message)
{
	const uint8_t *payload = packet + info->header_size, *end = packet + info->packet_size;
	unsigned __int128 total = 0;
	unsigned int i;

	check_forward_api(apis, message);

	FUZZ_CHECK(info->type == VMBUS_PACKET_DATA_INBAND);
	FUZZ_CHECK(info->flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED);
	FUZZ_CHECK(!(message->flags & WINAPI_MESSAGE_FLAG_RESPONSE) && message->request_id == info->trans_id);
	FUZZ_CHECK(message->version >> 8 == WINAPI_PROTOCOL_VERSION_MAJOR);
	FUZZ_CHECK(message->buffer_count <= WINAPI_MAX_BUFFERS && message->inline_length <= WINAPI_MAX_INLINE_DATA);
	FUZZ_CHECK(message->inline_length == 0 ||
		   ((const uint8_t *)message->inline_data >= payload &&
		    message->inline_length <= (size_t)(end - (const uint8_t *)message->inline_data)));
	for (i = 0; i < message->buffer_count; i++) {
		const struct winapi_buffer_descriptor *buffer = &message->buffers[i];

		/* Inside the pool, computed without the overflow the check itself must avoid. */
		FUZZ_CHECK(buffer->kind == WINAPI_BUFFER_GPADL && buffer->region == pool->gpadl);
		FUZZ_CHECK(buffer->length > 0 && buffer->flags == 0 && buffer->reserved == 0);
		FUZZ_CHECK((unsigned __int128)buffer->offset + buffer->length <= pool->size);
		total += buffer->length;
	}
	/* Overlapping descriptors count as often as they are named: the host's work does. */
	FUZZ_CHECK(total <= pool->size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool table_ready;
	uint64_t allowed[PMD_API_WORDS] = { 0 };
	const struct pmd_apis apis = { .table = &table, .allowed = allowed, .subscriptions = held,
				       .subscription_count = 2, .may_subscribe = size > 1 && (data[1] & 0x80u),
				       .max_wait_ms = 1000 };
	struct vmbus_ring_packet_info info;
	struct winapi_message message;
	struct pmd_pool pool;
	unsigned int i;
	enum pmd_verdict verdict;
	uint32_t status = UINT32_MAX;
	bool bad_buffer;
	uint8_t *packet;
	size_t packet_size;

	if (size < INPUT_HEADER || size - INPUT_HEADER > VMBUS_PACKET_MAX_LENGTH)
		return 0;
	if (!table_ready) {
		table_init();
		table_ready = true;
	}
	for (i = 0; i < 4; i++)
		if (!(data[1] >> (3 + i) & 1u))
			pmd_api_allow(allowed, entries[i].api_id);
	pmd_api_allow(allowed, EVENTS_ID);
	packet_size = size - INPUT_HEADER;
	/* The packet at its exact size: the parser may read packet_size bytes and no more. */
	packet = malloc(packet_size != 0 ? packet_size : 1);
	FUZZ_CHECK(packet != NULL);
	memcpy(packet, data + INPUT_HEADER, packet_size);

	info = (struct vmbus_ring_packet_info){
		.type = data[0],
		.flags = data[1] & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.header_size = 8u * data[2],
		.packet_size = (uint32_t)packet_size,
	};
	pool.gpadl = get_le32(data + 3);
	pool.size = get_le64(data + 7);
	if (info.header_size <= packet_size && packet_size - info.header_size >= sizeof(struct winapi_message_header)) {
		uint8_t *header = packet + info.header_size;

		if (data[1] & 2u)
			put_le32(header + 60, winapi_crc32c(0, header, 60));
		info.trans_id = get_le64(header + 16);
	}
	if (!(data[1] & 4u))
		info.trans_id = ~info.trans_id;

	verdict = pmd_request_check(packet, &info, &pool, &apis, &message, &status, &bad_buffer);
	switch (verdict) {
	case PMD_REQUEST_FORWARD:
		FUZZ_CHECK(status == WINAPI_STATUS_OK && !bad_buffer);
		check_forward(packet, &info, &pool, &apis, &message);
		break;
	case PMD_REQUEST_ANSWER:
		FUZZ_CHECK(info.flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED);
		FUZZ_CHECK(status != WINAPI_STATUS_OK && status <= WINAPI_STATUS_ACCESS_DENIED);
		FUZZ_CHECK(!bad_buffer || status == WINAPI_STATUS_BAD_BUFFER);
		/* Refused for the policy only what the table has and the policy does not give. */
		if (status == WINAPI_STATUS_ACCESS_DENIED)
			FUZZ_CHECK(winapi_api_table_find(&table, pmd_request_api(&message)) != NULL &&
				   !pmd_api_allowed(allowed, pmd_request_api(&message)));
		if (status == WINAPI_STATUS_UNSUPPORTED_API && message.api_id != WINAPI_API_SUBSCRIBE)
			FUZZ_CHECK(winapi_api_table_find(&table, message.api_id) == NULL &&
				   message.api_id != WINAPI_API_LIST && message.api_id != WINAPI_API_EVENT_WAIT &&
				   message.api_id != WINAPI_API_UNSUBSCRIBE);
		break;
	case PMD_REQUEST_ENDED:
		/* Answered here only for a subscription the client does not hold. */
		FUZZ_CHECK(status == WINAPI_STATUS_OK && !client_holds(pmd_request_subscription(&message)));
		FUZZ_CHECK(message.api_id == WINAPI_API_EVENT_WAIT || message.api_id == WINAPI_API_UNSUBSCRIBE);
		break;
	case PMD_REQUEST_DROP:
		FUZZ_CHECK(!(info.flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED));
		break;
	default:
		FUZZ_CHECK(!"unknown verdict");
	}
	free(packet);
	return 0;
}

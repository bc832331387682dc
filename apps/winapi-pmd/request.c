/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <vmbus/packet.h>

#include "request.h"

/*
 * The request against the host's table and the client's rights: the host would refuse an
 * unknown API, another major or a request over the limits itself, but a request that cannot
 * be served costs no round trip here, and one the policy refuses must never reach the host.
 */
uint16_t pmd_request_api(const struct winapi_message *message)
{
	struct winapi_subscribe_request head;

	if (message->api_id == WINAPI_API_SUBSCRIBE &&
	    winapi_subscribe_request_decode(message->inline_data, message->inline_length, &head) == 0)
		return head.api_id;
	return message->api_id;
}

uint64_t pmd_request_subscription(const struct winapi_message *message)
{
	struct winapi_event_wait_request wait;
	struct winapi_subscription subscription;

	if (message->api_id == WINAPI_API_EVENT_WAIT &&
	    winapi_event_wait_request_decode(message->inline_data, message->inline_length, &wait) == 0)
		return wait.subscription;
	if (message->api_id == WINAPI_API_UNSUBSCRIBE &&
	    winapi_subscription_decode(message->inline_data, message->inline_length, &subscription) == 0)
		return subscription.id;
	return 0;
}

static bool holds(const struct pmd_apis *apis, uint64_t subscription)
{
	unsigned int i;

	for (i = 0; i < apis->subscription_count; i++)
		if (apis->subscriptions[i] == subscription)
			return true;
	return false;
}

/* SUBSCRIBE: its source must be one the client may call; the host checks the parameters. */
static uint32_t check_subscribe(const struct pmd_apis *apis, struct winapi_message *message)
{
	const struct winapi_api_entry *entry;
	struct winapi_subscribe_request head;

	if (message->buffer_count != 0 ||
	    winapi_subscribe_request_decode(message->inline_data, message->inline_length, &head) != 0)
		return WINAPI_STATUS_BAD_MESSAGE;
	entry = winapi_api_table_find(apis->table, head.api_id);
	if (entry == NULL || !(entry->flags & WINAPI_API_FLAG_EVENT_SOURCE))
		return WINAPI_STATUS_UNSUPPORTED_API;
	if (!pmd_api_allowed(apis->allowed, head.api_id))
		return WINAPI_STATUS_ACCESS_DENIED;
	if (head.api_version != 0 && head.api_version >> 8 != entry->version >> 8)
		return WINAPI_STATUS_UNSUPPORTED_VERSION;
	if (!apis->may_subscribe)
		return WINAPI_STATUS_BUSY;
	if (message->reply_capacity > sizeof(struct winapi_subscription))
		message->reply_capacity = sizeof(struct winapi_subscription);
	return WINAPI_STATUS_OK;
}

static uint32_t check_api(const struct pmd_apis *apis, struct winapi_message *message)
{
	const struct winapi_api_entry *entry;

	if (message->api_id == WINAPI_API_SUBSCRIBE)
		return check_subscribe(apis, message);
	if (message->api_id == WINAPI_API_EVENT_WAIT || message->api_id == WINAPI_API_UNSUBSCRIBE) {
		struct winapi_event_wait_request wait;

		/* Which subscription, and whose: checked by the caller (PMD_REQUEST_ENDED). */
		if (message->buffer_count != 0 || pmd_request_subscription(message) == 0)
			return WINAPI_STATUS_BAD_MESSAGE;
		if (message->api_id == WINAPI_API_EVENT_WAIT &&
		    (winapi_event_wait_request_decode(message->inline_data, message->inline_length, &wait) != 0 ||
		     wait.wait_ms > apis->max_wait_ms))
			return WINAPI_STATUS_BAD_MESSAGE;
		if (message->reply_capacity > WINAPI_MAX_INLINE_DATA)
			message->reply_capacity = WINAPI_MAX_INLINE_DATA;
		return WINAPI_STATUS_OK;
	}
	if (message->api_id == WINAPI_API_LIST) {
		/* Anyone may read the table; it takes no memory of the client's. */
		if (message->buffer_count != 0)
			return WINAPI_STATUS_BAD_MESSAGE;
		if (message->reply_capacity > WINAPI_MAX_INLINE_DATA)
			message->reply_capacity = WINAPI_MAX_INLINE_DATA;
		return WINAPI_STATUS_OK;
	}
	/*
	 * Not the other control calls either: the event calls (SUBSCRIBE, EVENT_WAIT,
	 * UNSUBSCRIBE) name subscriptions the host keeps per guest, and every client of the
	 * daemon is the one guest to it, so a client could read or end another's. They stay
	 * unsupported here until subscriptions are kept per client.
	 */
	entry = winapi_api_table_find(apis->table, message->api_id);
	if (entry == NULL)
		return WINAPI_STATUS_UNSUPPORTED_API;
	if (!pmd_api_allowed(apis->allowed, message->api_id))
		return WINAPI_STATUS_ACCESS_DENIED;
	if (message->api_version != 0 && message->api_version >> 8 != entry->version >> 8)
		return WINAPI_STATUS_UNSUPPORTED_VERSION;
	if (message->inline_length > entry->max_request || message->buffer_count > winapi_api_entry_buffers(entry))
		return WINAPI_STATUS_BAD_MESSAGE;
	if (message->reply_capacity > entry->max_reply)
		message->reply_capacity = entry->max_reply;
	return WINAPI_STATUS_OK;
}

enum pmd_verdict pmd_request_check(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
				   const struct pmd_pool *pool, const struct pmd_apis *apis,
				   struct winapi_message *message, uint32_t *status, bool *bad_buffer)
{
	uint64_t total = 0;
	unsigned int i;
	int rc;

	memset(message, 0, sizeof(*message));
	*bad_buffer = false;
	if (!(info->flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED))
		return PMD_REQUEST_DROP;
	if (info->type != VMBUS_PACKET_DATA_INBAND) {
		/* GPA-direct from a client would name guest pages it was never given. */
		*status = info->type == VMBUS_PACKET_DATA_USING_GPA_DIRECT ? WINAPI_STATUS_BAD_BUFFER :
									    WINAPI_STATUS_BAD_MESSAGE;
		*bad_buffer = info->type == VMBUS_PACKET_DATA_USING_GPA_DIRECT;
		return PMD_REQUEST_ANSWER;
	}
	if (info->header_size > info->packet_size) {
		*status = WINAPI_STATUS_BAD_MESSAGE;
		return PMD_REQUEST_ANSWER;
	}
	rc = winapi_message_decode(packet + info->header_size, info->packet_size - info->header_size, message);
	if (rc != 0) {
		/* Another major version: answer in its terms (api_id and request_id were read). */
		if (rc != -EPROTONOSUPPORT)
			message->api_id = 0;
		*status = rc == -EPROTONOSUPPORT ? WINAPI_STATUS_UNSUPPORTED_VERSION : WINAPI_STATUS_BAD_MESSAGE;
		return PMD_REQUEST_ANSWER;
	}
	if ((message->flags & WINAPI_MESSAGE_FLAG_RESPONSE) || message->request_id != info->trans_id) {
		*status = WINAPI_STATUS_BAD_MESSAGE;
		return PMD_REQUEST_ANSWER;
	}
	*status = check_api(apis, message);
	if (*status != WINAPI_STATUS_OK)
		return PMD_REQUEST_ANSWER;
	if ((message->api_id == WINAPI_API_EVENT_WAIT || message->api_id == WINAPI_API_UNSUBSCRIBE) &&
	    !holds(apis, pmd_request_subscription(message)))
		return PMD_REQUEST_ENDED;
	for (i = 0; i < message->buffer_count; i++) {
		const struct winapi_buffer_descriptor *descriptor = &message->buffers[i];

		if (descriptor->kind != WINAPI_BUFFER_GPADL || descriptor->region != pool->gpadl ||
		    descriptor->offset > pool->size || descriptor->length > pool->size - descriptor->offset) {
			*status = WINAPI_STATUS_BAD_BUFFER;
			*bad_buffer = true;
			return PMD_REQUEST_ANSWER;
		}
		total += descriptor->length;
	}
	/*
	 * Overlap counted: the host's work grows with the bytes named, not with the pool, and
	 * eight descriptors over the same pages are eight times the work of one.
	 */
	if (total > pool->size) {
		*status = WINAPI_STATUS_BAD_BUFFER;
		return PMD_REQUEST_ANSWER;
	}
	*status = WINAPI_STATUS_OK;
	return PMD_REQUEST_FORWARD;
}

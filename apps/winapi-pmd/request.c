/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <vmbus/packet.h>

#include "request.h"

enum pmd_verdict pmd_request_check(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
				   const struct pmd_pool *pool, struct winapi_message *message, uint32_t *status,
				   bool *bad_buffer)
{
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
	for (i = 0; i < message->buffer_count; i++) {
		const struct winapi_buffer_descriptor *descriptor = &message->buffers[i];

		if (descriptor->kind != WINAPI_BUFFER_GPADL || descriptor->region != pool->gpadl ||
		    descriptor->offset > pool->size || descriptor->length > pool->size - descriptor->offset) {
			*status = WINAPI_STATUS_BAD_BUFFER;
			*bad_buffer = true;
			return PMD_REQUEST_ANSWER;
		}
	}
	*status = WINAPI_STATUS_OK;
	return PMD_REQUEST_FORWARD;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Filling a struct winapi_message on a hot path. Header only. Not installed.
 *
 * Owner: lib/winapi
 */
#ifndef WINAPI_INTERNAL_MESSAGE_H
#define WINAPI_INTERNAL_MESSAGE_H

#include <winapi/protocol.h>

/*
 * A response carrying @length inline bytes at @data and no buffers: every field
 * winapi_message_encode() reads, set one by one. An initializer or a memset would zero the
 * eight descriptors too (304 bytes, a `rep stos` an answer: issue 19), which no response has.
 */
static inline void winapi_message_set_response(struct winapi_message *response, uint16_t api_id, uint32_t status,
					       uint64_t request_id, const void *data, uint32_t length)
{
	response->version = 0;
	response->api_id = api_id;
	response->flags = WINAPI_MESSAGE_FLAG_RESPONSE;
	response->status = status;
	response->request_id = request_id;
	response->reply_capacity = 0;
	response->buffer_count = 0;
	response->api_version = 0;
	response->inline_length = length;
	response->inline_data = data;
}

#endif

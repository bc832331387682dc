/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every host runs with a request: decoding it, the handler of its api, and the walk over
 * its buffers through the provider's view of guest memory. Shared by the VMBus hosts (host.c,
 * the QEMU device through answer.c) and the socket service (socket.c); nothing here knows
 * which ring or socket the request came from.
 */
#include <errno.h>
#include <string.h>

#include <vmbus/memory.h>
#include <vmbus/packet.h>
#include <winapi_internal/message.h>

#include "host_private.h"

uint8_t *winapi_host_reply_space(struct winapi_host_context *host)
{
	return host->reply_space;
}

/* Guest page number of page @index of a buffer's region (counted from the region's start). */
typedef int page_lookup(struct winapi_host_context *host, const void *region, uint64_t index, uint64_t *pfn);

/* Bytes [start, start + length) of a region the provider reaches page by page. */
static int walk_pages(struct winapi_host_context *host, page_lookup *lookup, const void *region, uint64_t start,
		      uint64_t length, winapi_host_span_visitor *visit, void *context)
{
	uint64_t position = 0, pfn;
	int rc;

	if (host->memory.guest_page == NULL)
		return -EFAULT;
	while (position < length) {
		uint64_t absolute = start + position;
		uint64_t in_page = absolute % VMBUS_PAGE_SIZE;
		uint64_t span = VMBUS_PAGE_SIZE - in_page;
		uint8_t *page;

		if (lookup(host, region, absolute / VMBUS_PAGE_SIZE, &pfn) != 0)
			return -EFAULT;
		page = host->memory.guest_page(host->memory.context, pfn);
		if (page == NULL)
			return -EFAULT;
		if (span > length - position)
			span = length - position;
		if (visit != NULL) {
			rc = visit(page + in_page, (size_t)span, position, context);
			if (rc != 0)
				return rc;
		}
		position += span;
	}
	return 0;
}

static int gpadl_page_lookup(struct winapi_host_context *host, const void *region, uint64_t index, uint64_t *pfn)
{
	const struct winapi_buffer_descriptor *buffer = region;

	return host->memory.gpadl_page(host->memory.context, buffer->region, index, pfn);
}

/*
 * A GPADL buffer: one span, if the provider maps the GPADL in one piece and says all of the
 * buffer is inside it; else page by page through the GPADL's page list.
 */
static int walk_gpadl(struct winapi_host_context *host, const struct winapi_buffer_descriptor *buffer,
		      winapi_host_span_visitor *visit, void *context)
{
	uint8_t *span;

	if (host->memory.gpadl_span == NULL) {
		if (host->memory.gpadl_page == NULL || buffer->offset > UINT64_MAX - buffer->length)
			return -EFAULT;
		return walk_pages(host, gpadl_page_lookup, buffer, buffer->offset, buffer->length, visit, context);
	}
	span = host->memory.gpadl_span(host->memory.context, buffer->region, buffer->offset, buffer->length);
	if (span == NULL)
		return -EFAULT;
	return visit != NULL ? visit(span, buffer->length, 0, context) : 0;
}

static int gpa_range_lookup(struct winapi_host_context *host, const void *region, uint64_t index, uint64_t *pfn)
{
	(void)host;
	*pfn = vmbus_gpa_range_pfn(region, index);
	return 0;
}

/* A GPA-direct buffer: [offset, offset + length) of one range of the packet, page by page. */
static int walk_gpa_range(struct winapi_host_context *host, const struct winapi_host_request *request,
			  const struct winapi_buffer_descriptor *buffer, winapi_host_span_visitor *visit,
			  void *context)
{
	struct vmbus_gpa_range range;

	if (request->gpa == NULL || buffer->region >= request->gpa->range_count)
		return -EFAULT;
	vmbus_gpa_header_range(request->gpa, buffer->region, &range);
	if (buffer->offset > range.byte_count || buffer->length > range.byte_count - buffer->offset)
		return -EFAULT;
	return walk_pages(host, gpa_range_lookup, &range, range.byte_offset + buffer->offset, buffer->length, visit,
			  context);
}

int winapi_host_buffer_walk(struct winapi_host_context *host, const struct winapi_host_request *request,
			    unsigned int index, winapi_host_span_visitor *visit, void *context)
{
	const struct winapi_buffer_descriptor *buffer;

	if (index >= request->message->buffer_count)
		return -EFAULT;
	buffer = &request->message->buffers[index];
	if (buffer->kind == WINAPI_BUFFER_GPADL)
		return walk_gpadl(host, buffer, visit, context);
	return walk_gpa_range(host, request, buffer, visit, context);
}

int winapi_host_buffers_check(struct winapi_host_context *host, const struct winapi_host_request *request)
{
	unsigned int i;
	int rc;

	for (i = 0; i < request->message->buffer_count; i++) {
		rc = winapi_host_buffer_walk(host, request, i, NULL, NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* LIST: a page of the registry, from the entry the request names. */
static void answer_list(struct winapi_host_context *host, const struct winapi_message *message,
			struct winapi_host_reply *reply)
{
	struct winapi_api_entry entries[WINAPI_API_LIST_PAGE];
	struct winapi_api_list_request request;
	struct winapi_api_list_reply list = { .protocol_oldest = WINAPI_PROTOCOL_VERSION_OLDEST,
					      .protocol_newest = WINAPI_PROTOCOL_VERSION };
	int length;

	if (message->buffer_count != 0 ||
	    winapi_api_list_request_decode(message->inline_data, message->inline_length, &request) != 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	list.api_count = winapi_host_api_count();
	list.first = request.first < list.api_count ? request.first : list.api_count;
	while (list.entry_count < WINAPI_API_LIST_PAGE && list.first + list.entry_count < list.api_count) {
		entries[list.entry_count] = winapi_host_api_at(list.first + list.entry_count)->entry;
		list.entry_count++;
	}
	length = winapi_api_list_reply_encode(&list, entries, host->reply_space, sizeof(host->reply_space));
	if (length < 0) {
		reply->status = WINAPI_STATUS_INTERNAL;
		return;
	}
	reply->data = host->reply_space;
	reply->length = (uint32_t)length;
}

/* What the descriptor promises the handler: the version and the limits, checked. */
static uint32_t check_against(const struct winapi_api_entry *entry, const struct winapi_message *message)
{
	if (message->api_version != 0 && message->api_version >> 8 != entry->version >> 8)
		return WINAPI_STATUS_UNSUPPORTED_VERSION;
	if (message->inline_length > entry->max_request || message->buffer_count > winapi_api_entry_buffers(entry))
		return WINAPI_STATUS_BAD_MESSAGE;
	return WINAPI_STATUS_OK;
}

void winapi_host_dispatch(struct winapi_host_context *host, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	const struct winapi_host_api *api = NULL;

	*reply = (struct winapi_host_reply){ .status = WINAPI_STATUS_OK };
	if (message->api_id == WINAPI_API_LIST) {
		answer_list(host, message, reply);
	} else if (message->api_id >= WINAPI_API_SUBSCRIBE && message->api_id <= WINAPI_API_UNSUBSCRIBE) {
		winapi_host_events_request(host, message, reply);
		if (reply->status == WINAPI_HOST_STATUS_DEFERRED)
			return;
	} else {
		api = winapi_host_api_find(message->api_id);
		/* An event source takes subscriptions; a plain call it refuses, unless it has a handler. */
		reply->status = api == NULL || api->handler == NULL ? WINAPI_STATUS_UNSUPPORTED_API :
								       check_against(&api->entry, message);
		if (reply->status == WINAPI_STATUS_OK)
			api->handler(host, request, reply);
		/* A handler that answers more than its descriptor says is a host bug: not sent. */
		if (reply->status == WINAPI_STATUS_OK && reply->length > api->entry.max_reply)
			reply->status = WINAPI_STATUS_INTERNAL;
	}
	if (reply->status == WINAPI_STATUS_OK && reply->length > message->reply_capacity)
		reply->status = WINAPI_STATUS_REPLY_TOO_LARGE;
	if (reply->status != WINAPI_STATUS_OK) {
		reply->data = NULL;
		reply->length = 0;
	}
}

int winapi_host_answer(struct winapi_host_context *host, const struct winapi_host_packet *packet,
		       struct winapi_message *response, uint8_t *answer, size_t answer_size)
{
	struct winapi_host_reply reply = { .status = WINAPI_STATUS_OK };
	struct winapi_message request;
	struct winapi_host_request context = { .message = &request };
	struct vmbus_gpa_header gpa;
	int rc;

	rc = winapi_message_decode(packet->message, packet->message_size, &request);
	if (rc == 0 && packet->type == VMBUS_PACKET_DATA_USING_GPA_DIRECT) {
		/* The ranges sit between the descriptor and offset8 * 8; decode checks them all. */
		if (vmbus_gpa_header_decode(packet->gpa_header, packet->gpa_header_size, &gpa) != 0)
			rc = -EBADMSG;
		context.gpa = &gpa;
	}
	if (rc == -EPROTONOSUPPORT)
		reply.status = WINAPI_STATUS_UNSUPPORTED_VERSION;
	else if (rc != 0 || (request.flags & WINAPI_MESSAGE_FLAG_RESPONSE) || request.request_id != packet->trans_id)
		reply.status = WINAPI_STATUS_BAD_MESSAGE;
	else
		winapi_host_dispatch(host, &context, &reply); /* carries no data unless OK */
	if (reply.status == WINAPI_HOST_STATUS_DEFERRED)
		return 0; /* answered later, by the events pump */

	/* A request of another major version decodes far enough to say which api it was for. */
	winapi_message_set_response(response, rc == 0 || rc == -EPROTONOSUPPORT ? request.api_id : 0, reply.status,
				    packet->trans_id, reply.data, reply.length);
	return winapi_message_encode(response, answer, answer_size);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every host runs once a request is decoded: the handler of its api, and the walk over
 * its buffers through the provider's view of guest memory. Shared by the VMBus host (host.c)
 * and the socket service (socket.c); nothing here knows where the request came from.
 */
#include <errno.h>

#include <vmbus/memory.h>

#include "host_private.h"

static winapi_host_handler *const handlers[] = {
	[WINAPI_API_ECHO] = winapi_host_echo,
	[WINAPI_API_BUFFER_TEST] = winapi_host_buffer_test,
	[WINAPI_API_PERF_TEST] = winapi_host_perf_test,
};

uint8_t *winapi_host_reply_space(struct winapi_host_context *host)
{
	return host->reply_space;
}

/* A GPADL buffer: one span, if the provider says all of it is inside that GPADL. */
static int walk_gpadl(struct winapi_host_context *host, const struct winapi_buffer_descriptor *buffer,
		      winapi_host_span_visitor *visit, void *context)
{
	uint8_t *span;

	if (host->memory.gpadl_span == NULL)
		return -EFAULT;
	span = host->memory.gpadl_span(host->memory.context, buffer->region, buffer->offset, buffer->length);
	if (span == NULL)
		return -EFAULT;
	return visit != NULL ? visit(span, buffer->length, 0, context) : 0;
}

/* A GPA-direct buffer: [offset, offset + length) of one range of the packet, page by page. */
static int walk_gpa_range(struct winapi_host_context *host, const struct winapi_host_request *request,
			  const struct winapi_buffer_descriptor *buffer, winapi_host_span_visitor *visit,
			  void *context)
{
	struct vmbus_gpa_range range;
	uint64_t position = 0;
	int rc;

	if (request->gpa == NULL || host->memory.guest_page == NULL || buffer->region >= request->gpa->range_count)
		return -EFAULT;
	vmbus_gpa_header_range(request->gpa, buffer->region, &range);
	if (buffer->offset > range.byte_count || buffer->length > range.byte_count - buffer->offset)
		return -EFAULT;
	while (position < buffer->length) {
		uint64_t absolute = range.byte_offset + buffer->offset + position;
		uint64_t in_page = absolute % VMBUS_PAGE_SIZE;
		uint64_t length = VMBUS_PAGE_SIZE - in_page;
		uint8_t *page = host->memory.guest_page(host->memory.context,
							vmbus_gpa_range_pfn(&range, absolute / VMBUS_PAGE_SIZE));

		if (page == NULL)
			return -EFAULT;
		if (length > buffer->length - position)
			length = buffer->length - position;
		if (visit != NULL) {
			rc = visit(page + in_page, (size_t)length, position, context);
			if (rc != 0)
				return rc;
		}
		position += length;
	}
	return 0;
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

void winapi_host_dispatch(struct winapi_host_context *host, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply)
{
	uint16_t api_id = request->message->api_id;

	*reply = (struct winapi_host_reply){ .status = WINAPI_STATUS_OK };
	if (api_id >= sizeof(handlers) / sizeof(handlers[0]) || handlers[api_id] == NULL)
		reply->status = WINAPI_STATUS_UNSUPPORTED_API;
	else
		handlers[api_id](host, request, reply);
	if (reply->status == WINAPI_STATUS_OK && reply->length > request->message->reply_capacity)
		reply->status = WINAPI_STATUS_REPLY_TOO_LARGE;
	if (reply->status != WINAPI_STATUS_OK) {
		reply->data = NULL;
		reply->length = 0;
	}
}

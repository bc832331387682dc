/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Asynchronous calls: a thin layer over the driver's queues. Each request keeps a small
 * context here (what to decode when it completes); the driver's user_data points at it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <winapi/protocol.h>

#include "lowlat_private.h"

/* What a completion means: inline bytes as they came (echo, any API), or a BUFFER_TEST result. */
enum request_kind { REQUEST_INLINE, REQUEST_BUFFER_TEST };

struct request_context {
	void *user_data;
	enum request_kind kind;
	winapi_buffer_test_result_t *result;
	uint8_t request[sizeof(struct winapi_buffer_test_request)];
	uint8_t reply[sizeof(struct winapi_buffer_test_reply)];
	struct request_context *next_free;
};

struct winapi_queue {
	winapi_handle_t handle;
	void *queue; /* the transport's */
	struct request_context *contexts;
	struct request_context *free_contexts;
	struct winapi_call_completion *scratch;
	unsigned int depth;
};

winapi_queue_t winapi_queue_create(winapi_handle_t handle, unsigned int depth, int timeout_ms)
{
	struct winapi_queue *queue;
	unsigned int i;
	int rc = -ENOMEM;

	if (handle == NULL || depth == 0 || depth > 4096) {
		errno = EINVAL;
		return NULL;
	}
	queue = calloc(1, sizeof(*queue));
	if (queue == NULL)
		goto err;
	queue->contexts = calloc(depth, sizeof(*queue->contexts));
	queue->scratch = calloc(depth, sizeof(*queue->scratch));
	if (queue->contexts == NULL || queue->scratch == NULL)
		goto err_free_queue;
	rc = handle->ops->queue_create(handle->transport, depth, timeout_ms, &queue->queue);
	if (rc != 0)
		goto err_free_queue;
	queue->handle = handle;
	queue->depth = depth;
	for (i = depth; i-- > 0;) {
		queue->contexts[i].next_free = queue->free_contexts;
		queue->free_contexts = &queue->contexts[i];
	}
	return queue;

err_free_queue:
	if (queue != NULL) {
		free(queue->scratch);
		free(queue->contexts);
		free(queue);
	}
err:
	errno = -rc;
	return NULL;
}

void winapi_queue_destroy(winapi_queue_t queue)
{
	if (queue == NULL)
		return;
	queue->handle->ops->queue_destroy(queue->queue);
	free(queue->scratch);
	free(queue->contexts);
	free(queue);
}

/* Add @call, made of a seed API's (@call->api_id, version 1) or stamped already (@stamped). */
static int add(struct winapi_queue *queue, struct request_context *context, struct winapi_call *call, bool stamped)
{
	const struct winapi_api_entry *entry;
	int rc = 0;

	if (!stamped) {
		rc = lowlat_api_entry(queue->handle, call->api_id, 1, &entry);
		if (rc == 0)
			lowlat_api_stamp(entry, call);
	}
	if (rc == 0)
		rc = queue->handle->ops->queue_add(queue->queue, call, context);

	if (rc != 0) {
		context->next_free = queue->free_contexts;
		queue->free_contexts = context;
	}
	return rc;
}

static struct request_context *take_context(struct winapi_queue *queue)
{
	struct request_context *context = queue->free_contexts;

	if (context != NULL)
		queue->free_contexts = context->next_free;
	return context;
}

int winapi_queue_echo(winapi_queue_t queue, const void *input, size_t length, void *output, size_t output_size,
		      void *user_data)
{
	struct request_context *context;

	if (queue == NULL || (length != 0 && input == NULL) || (output_size != 0 && output == NULL))
		return -EINVAL;
	if (length > WINAPI_MAX_INLINE_DATA)
		return -EMSGSIZE;
	if (output_size < length)
		return -ENOBUFS;
	context = take_context(queue);
	if (context == NULL)
		return -EAGAIN;
	context->user_data = user_data;
	context->kind = REQUEST_INLINE;
	struct winapi_call call = {
		.api_id = WINAPI_API_ECHO,
		.request_data = input,
		.request_length = (uint32_t)length,
		.reply_data = output,
		.reply_capacity = (uint32_t)(output_size > WINAPI_MAX_INLINE_DATA ? WINAPI_MAX_INLINE_DATA : output_size),
		.timeout_ms = -1,
	};
	return add(queue, context, &call, false);
}

int winapi_queue_call_api(winapi_queue_t queue, const winapi_api_call_t *request, void *user_data)
{
	struct winapi_call_buffer call_buffers[WINAPI_MAX_BUFFERS];
	const struct winapi_api_entry *entry;
	struct request_context *context;
	struct winapi_call call;
	int rc;

	if (queue == NULL || request == NULL || request->version_major == 0)
		return -EINVAL;
	rc = lowlat_api_entry(queue->handle, request->api, request->version_major, &entry);
	if (rc == 0)
		rc = lowlat_api_prepare(queue->handle, entry, request, &call, call_buffers);
	if (rc != 0)
		return rc;
	context = take_context(queue);
	if (context == NULL)
		return -EAGAIN;
	context->user_data = user_data;
	context->kind = REQUEST_INLINE;
	return add(queue, context, &call, true);
}

int winapi_queue_buffer_test(winapi_queue_t queue, winapi_buffer_t *buffers, size_t count, int operation,
			     uint32_t pattern, winapi_buffer_test_result_t *result, void *user_data)
{
	struct winapi_buffer_test_request request = { .operation = (uint32_t)operation, .pattern = pattern };
	struct winapi_call_buffer call_buffers[WINAPI_MAX_BUFFERS];
	struct lowlat_piece pieces[WINAPI_MAX_BUFFERS];
	struct request_context *context;
	uint64_t offset = 0, bytes;
	size_t buffer = 0;
	unsigned int taken;
	int rc;

	if (queue == NULL || buffers == NULL || result == NULL || count == 0 || count > WINAPI_MAX_BUFFERS ||
	    (operation != WINAPI_BUFFER_OP_WRITE && operation != WINAPI_BUFFER_OP_READ &&
	     operation != WINAPI_BUFFER_OP_VERIFY))
		return -EINVAL;
	taken = lowlat_next_request(queue->handle, buffers, count, &buffer, &offset, sizeof(request), pieces);
	if (buffer != count)
		return -EMSGSIZE; /* more than one request carries: winapi_buffer_test() splits */
	rc = lowlat_pieces_to_call(queue->handle, buffers, pieces, taken, call_buffers, &bytes);
	if (rc != 0)
		return rc;
	context = take_context(queue);
	if (context == NULL)
		return -EAGAIN;
	context->user_data = user_data;
	context->kind = REQUEST_BUFFER_TEST;
	context->result = result;
	winapi_buffer_test_request_encode(&request, context->request);
	struct winapi_call call = {
		.api_id = WINAPI_API_BUFFER_TEST,
		.request_data = context->request,
		.request_length = sizeof(context->request),
		.reply_data = context->reply,
		.reply_capacity = sizeof(context->reply),
		.buffers = call_buffers,
		.buffer_count = taken,
		.timeout_ms = -1,
	};
	return add(queue, context, &call, false);
}

int winapi_queue_submit(winapi_queue_t queue)
{
	if (queue == NULL)
		return -EINVAL;
	return queue->handle->ops->queue_submit(queue->queue);
}

/* What a finished request means to its caller. */
static void complete(struct request_context *context, const struct winapi_call_completion *done,
		     winapi_completion_t *completion)
{
	struct winapi_buffer_test_reply reply;

	completion->user_data = context->user_data;
	completion->status = done->status;
	completion->length = done->reply_length;
	if (context->kind != REQUEST_BUFFER_TEST || done->status != 0)
		return;
	completion->length = 0;
	if (winapi_buffer_test_reply_decode(context->reply, done->reply_length, &reply) != 0) {
		completion->status = -EBADMSG;
		return;
	}
	*context->result = (winapi_buffer_test_result_t){
		.bytes_processed = reply.bytes_processed,
		.checksum = reply.checksum,
		.status = reply.mismatches != 0 ? -EILSEQ : 0,
		.mismatches = reply.mismatches,
		.first_mismatch = reply.first_mismatch,
	};
}

int winapi_queue_reap(winapi_queue_t queue, winapi_completion_t *completions, unsigned int max, unsigned int min,
		      int timeout_ms)
{
	int count, i;

	if (queue == NULL || (max != 0 && completions == NULL) || min > max)
		return -EINVAL;
	if (max > queue->depth)
		max = queue->depth;
	if (min > max)
		min = max;
	count = queue->handle->ops->queue_reap(queue->queue, queue->scratch, max, min, timeout_ms);
	for (i = 0; i < count; i++) {
		struct request_context *context = queue->scratch[i].user_data;

		complete(context, &queue->scratch[i], &completions[i]);
		context->next_free = queue->free_contexts;
		queue->free_contexts = context;
	}
	return count;
}

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
#include <winapi_internal/clock.h>
#include <winapi_internal/request_table.h>

#include "lowlat_private.h"

/* What a completion means: inline bytes as they came (echo, any API), a BUFFER_TEST result, events. */
enum request_kind { REQUEST_INLINE, REQUEST_BUFFER_TEST, REQUEST_EVENTS };

struct request_context {
	void *user_data;
	enum request_kind kind;
	winapi_buffer_test_result_t *result;
	winapi_event_t *events;           /* REQUEST_EVENTS: the caller's, max of them */
	unsigned int max_events;
	uint8_t *event_reply;             /* REQUEST_EVENTS: the host's answer (kept for reuse) */
	uint8_t request[sizeof(struct winapi_buffer_test_request)];
	uint8_t reply[sizeof(struct winapi_buffer_test_reply)];
	struct request_context *next_free;
};

struct winapi_queue {
	winapi_handle_t handle;
	void *queue; /* the transport's */
	uint32_t event_wait_ms;   /* how long the host holds an event wait: well within a request's time */
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
	/* Half the queue's timeout, at most a second: the host's empty answer comes in time. */
	timeout_ms = timeout_ms >= 0 ? timeout_ms : request_default_timeout_ms();
	queue->event_wait_ms = timeout_ms / 2 < 1000 ? (uint32_t)(timeout_ms / 2) : 1000u;
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
	unsigned int i;

	if (queue == NULL)
		return;
	queue->handle->ops->queue_destroy(queue->queue);
	for (i = 0; i < queue->depth; i++)
		free(queue->contexts[i].event_reply);
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
			lowlat_api_stamp(queue->handle, entry, call);
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

/* The event wait of a receive, from its context (sent again as it is when answered empty). */
static void event_wait_call(const struct request_context *context, struct winapi_call *call)
{
	*call = (struct winapi_call){
		.api_id = WINAPI_API_EVENT_WAIT,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.api_name = WINAPI_API_EVENT_WAIT_NAME,
		.request_data = context->request,
		.request_length = sizeof(struct winapi_event_wait_request),
		.reply_data = context->event_reply,
		.reply_capacity = WINAPI_MAX_INLINE_DATA,
		.timeout_ms = -1,
	};
}

int winapi_queue_receive_events(winapi_queue_t queue, uint64_t subscription, winapi_event_t *events,
				unsigned int max, void *user_data)
{
	const uint32_t fit = (WINAPI_MAX_INLINE_DATA - sizeof(struct winapi_event_wait_reply)) /
			     sizeof(struct winapi_event_header);
	struct request_context *context;
	struct winapi_call call;

	if (queue == NULL || events == NULL || max == 0 || subscription == 0)
		return -EINVAL;
	context = take_context(queue);
	if (context == NULL)
		return -EAGAIN;
	if (context->event_reply == NULL) {
		context->event_reply = malloc(WINAPI_MAX_INLINE_DATA);
		if (context->event_reply == NULL) {
			context->next_free = queue->free_contexts;
			queue->free_contexts = context;
			return -ENOMEM;
		}
	}
	context->user_data = user_data;
	context->kind = REQUEST_EVENTS;
	context->events = events;
	context->max_events = max;
	winapi_event_wait_request_encode(&(struct winapi_event_wait_request){ .subscription = subscription,
									      .max_events = max < fit ? max : fit,
									      .wait_ms = queue->event_wait_ms },
					 context->request);
	event_wait_call(context, &call);
	return add(queue, context, &call, true);
}

int winapi_queue_event_fd(winapi_queue_t queue)
{
	if (queue == NULL)
		return -EINVAL;
	if (queue->handle->ops->queue_event_fd == NULL)
		return -EOPNOTSUPP;
	return queue->handle->ops->queue_event_fd(queue->queue);
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

/*
 * A receive's answer, into the caller's events. Returns how many; 0 when the host answered
 * with none (its wait ran out: the receive goes again); -ECANCELED once the subscription ended;
 * -EBADMSG for an answer that fails validation or is not for this subscription.
 */
static int complete_events(struct request_context *context, const struct winapi_call_completion *done)
{
	struct winapi_event_record records[WINAPI_MAX_INLINE_DATA / sizeof(struct winapi_event_header)];
	struct winapi_event_wait_request request;
	struct winapi_event_wait_reply reply;
	uint32_t i;

	winapi_event_wait_request_decode(context->request, sizeof(request), &request);
	if (winapi_event_wait_reply_decode(context->event_reply, done->reply_length, &reply, records,
					   request.max_events) != 0 ||
	    reply.subscription != request.subscription)
		return -EBADMSG;
	if (reply.event_count == 0)
		return reply.flags & WINAPI_EVENT_WAIT_ENDED ? -ECANCELED : 0;
	for (i = 0; i < reply.event_count; i++) {
		winapi_event_t *event = &context->events[i];

		event->subscription = reply.subscription;
		event->sequence = records[i].sequence;
		event->lost = reply.lost;
		event->length = records[i].length;
		memcpy(event->data, records[i].data, records[i].length);
	}
	return (int)reply.event_count;
}

/* What a finished request means to its caller. */
static void complete(struct request_context *context, const struct winapi_call_completion *done,
		     winapi_completion_t *completion)
{
	struct winapi_buffer_test_reply reply;
	int events;

	completion->user_data = context->user_data;
	completion->status = done->status;
	completion->length = done->reply_length;
	if (context->kind == REQUEST_EVENTS && done->status == 0) {
		events = complete_events(context, done);
		completion->status = events < 0 ? events : 0;
		completion->length = events > 0 ? (size_t)events : 0;
		return;
	}
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

/* A receive the host answered with no event, sent again with the same context: 0 or its error. */
static int resend_receive(struct winapi_queue *queue, struct request_context *context)
{
	struct winapi_call call;

	event_wait_call(context, &call);
	return queue->handle->ops->queue_add(queue->queue, &call, context);
}

int winapi_queue_reap(winapi_queue_t queue, winapi_completion_t *completions, unsigned int max, unsigned int min,
		      int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? winapi_clock_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	int count, i, reported = 0, resent;

	if (queue == NULL || (max != 0 && completions == NULL) || min > max)
		return -EINVAL;
	if (max > queue->depth)
		max = queue->depth;
	if (min > max)
		min = max;
	do {
		count = queue->handle->ops->queue_reap(queue->queue, queue->scratch, max - (unsigned int)reported,
						       min > (unsigned int)reported ? min - (unsigned int)reported : 0,
						       timeout_ms);
		if (count < 0)
			return reported != 0 ? reported : count;
		resent = 0;
		for (i = 0; i < count; i++) {
			struct request_context *context = queue->scratch[i].user_data;
			winapi_completion_t *completion = &completions[reported];

			complete(context, &queue->scratch[i], completion);
			/* An empty answer to a receive is the host keeping it within its deadline. */
			if (context->kind == REQUEST_EVENTS && completion->status == 0 && completion->length == 0) {
				completion->status = resend_receive(queue, context);
				if (completion->status == 0) {
					resent++;
					continue;
				}
			}
			context->next_free = queue->free_contexts;
			queue->free_contexts = context;
			reported++;
		}
		if (resent != 0)
			queue->handle->ops->queue_submit(queue->queue);
		if (timeout_ms > 0) {
			uint64_t now = winapi_clock_now_ns();

			timeout_ms = now < deadline ? (int)((deadline - now + 999999u) / 1000000u) : 0;
		}
	} while (resent != 0 && (unsigned int)reported < min && timeout_ms != 0);
	return reported;
}

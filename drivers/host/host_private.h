/* SPDX-License-Identifier: BSD-3-Clause */
/* drivers/host internals: the handler table's contract. */
#ifndef DRIVERS_HOST_PRIVATE_H
#define DRIVERS_HOST_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <vmbus/memory.h>
#include <winapi_internal/host.h>
#include <winapi/protocol.h>

#include "host_answer.h"

/* What a handler answers; data must stay valid until the completion is written. */
struct winapi_host_reply {
	uint32_t status;  /* enum winapi_status */
	const void *data; /* inline reply bytes */
	uint32_t length;
};

/*
 * What handlers may touch: the provider's view of the guest's memory and room for a reply.
 * Both hosts have one: the VMBus host (host.c) and the socket service (socket.c).
 */
struct winapi_host_context {
	struct winapi_host_memory memory;
	uint8_t reply_space[WINAPI_MAX_INLINE_DATA];
};

/* A request as handlers see it: the decoded message and, for GPA-direct packets, its ranges. */
struct winapi_host_request {
	const struct winapi_message *message;
	const struct vmbus_gpa_header *gpa; /* NULL for DATA_INBAND */
};

/*
 * One API. The request was decoded and validated as a message; the handler validates what is
 * specific to its API (buffer counts, lengths, operation codes) and never trusts it further.
 */
typedef void winapi_host_handler(struct winapi_host_context *host, const struct winapi_host_request *request,
				 struct winapi_host_reply *reply);

winapi_host_handler winapi_host_echo;
winapi_host_handler winapi_host_buffer_test;
winapi_host_handler winapi_host_perf_test;

/* Called with each host-addressable span of a buffer, in order; nonzero stops the walk. */
typedef int winapi_host_span_visitor(uint8_t *span, size_t length, uint64_t position, void *context);

/*
 * Walk buffer @index of @request span by span (@position: bytes of the buffer before the
 * span). Returns 0, the visitor's nonzero value, or -EFAULT as soon as a byte lies outside
 * what the guest shared: a GPADL it does not have, a range the packet does not carry, a page
 * number past its memory. Pass a NULL visitor to check without touching anything.
 */
int winapi_host_buffer_walk(struct winapi_host_context *host, const struct winapi_host_request *request,
			    unsigned int index, winapi_host_span_visitor *visit, void *context);

/* Check every buffer of @request before any is touched: 0 or -EFAULT. */
int winapi_host_buffers_check(struct winapi_host_context *host, const struct winapi_host_request *request);

/* Room for a handler's reply payload, valid until the completion is written. */
uint8_t *winapi_host_reply_space(struct winapi_host_context *host);

/*
 * Decode @packet's message (and, for GPA-direct, its ranges), run its handler and encode the
 * response into @answer: what every VMBus host does with a request that asked for a
 * completion. @response is left as encoded, for a host that damages it on purpose. A bad
 * request gets an error status. Returns the encoded size, or -EINVAL/-ENOBUFS when a handler
 * broke the protocol's limits (a host bug).
 */
int winapi_host_answer(struct winapi_host_context *host, const struct winapi_host_packet *packet,
		       struct winapi_message *response, uint8_t *answer, size_t answer_size);

/*
 * Run the handler of @request's api (the message already decoded and validated as one):
 * UNSUPPORTED_API for an unknown one, REPLY_TOO_LARGE for an answer over reply_capacity; a
 * reply that is not OK carries no data.
 */
void winapi_host_dispatch(struct winapi_host_context *host, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply);

#endif /* DRIVERS_HOST_PRIVATE_H */

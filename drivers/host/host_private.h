/* SPDX-License-Identifier: BSD-3-Clause */
/* drivers/host internals: the handler table's contract. */
#ifndef DRIVERS_HOST_PRIVATE_H
#define DRIVERS_HOST_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <vmbus/memory.h>
#include <winapi_internal/host.h>
#include <winapi_internal/host_api.h>
#include <winapi/protocol.h>

#include "host_answer.h"

/*
 * What handlers may touch: the provider's view of the guest's memory and room for a reply.
 * Both hosts have one: the VMBus host (host.c) and the socket service (socket.c).
 */
struct winapi_host_context {
	struct winapi_host_memory memory;
	uint8_t reply_space[WINAPI_MAX_INLINE_DATA];
};

winapi_host_handler winapi_host_echo;
winapi_host_handler winapi_host_buffer_test;
winapi_host_handler winapi_host_perf_test;

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
 * Run the handler of @request's api (the message already decoded and validated as one), after
 * the registry's checks (host_api.h), or answer LIST: UNSUPPORTED_API for an unknown api,
 * REPLY_TOO_LARGE for an answer over reply_capacity; a reply that is not OK carries no data.
 */
void winapi_host_dispatch(struct winapi_host_context *host, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply);

#endif /* DRIVERS_HOST_PRIVATE_H */

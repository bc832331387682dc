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
	struct winapi_host_subscriptions *subscriptions; /* NULL: this host posts no events */
	uint8_t reply_space[WINAPI_MAX_INLINE_DATA];
};

/* A reply not sent now: the host answers it later (an event wait; see events.c). */
#define WINAPI_HOST_STATUS_DEFERRED 0xffffffffu

/* ---- events.c: subscriptions of one host ---- */

struct winapi_host_subscriptions;

int winapi_host_subscriptions_create(struct winapi_host_subscriptions **subscriptions);
void winapi_host_subscriptions_destroy(struct winapi_host_subscriptions *subscriptions);

/* SUBSCRIBE, UNSUBSCRIBE, EVENT_WAIT: answered now, or (a wait) WINAPI_HOST_STATUS_DEFERRED. */
void winapi_host_events_request(struct winapi_host_context *host, const struct winapi_message *message,
				struct winapi_host_reply *reply);

/* How a host sends a deferred answer (a response message, request_id set): 0 or its error. */
typedef int winapi_host_emit(void *context, const struct winapi_message *response);

/* No subscription and no wait: a pump would do nothing (a poller then skips the clock read). */
bool winapi_host_events_idle(const struct winapi_host_subscriptions *subscriptions);

/*
 * Let the sources post what is due at @now_ns, then answer the waits that have events, whose
 * subscription ended or whose wait_ms passed, oldest first, through @emit. *@next_ns: when
 * to pump again at the latest (UINT64_MAX: not before the next request). Returns 0 or the
 * first error of @emit (the waits not yet answered are kept).
 */
int winapi_host_events_pump(struct winapi_host_subscriptions *subscriptions, uint64_t now_ns,
			    winapi_host_emit *emit, void *context, uint64_t *next_ns);

winapi_host_handler winapi_host_echo;
winapi_host_handler winapi_host_buffer_test;
winapi_host_handler winapi_host_perf_test;

/*
 * Decode @packet's message (and, for GPA-direct, its ranges), run its handler and encode the
 * response into @answer: what every VMBus host does with a request that asked for a
 * completion. @response is left as encoded, for a host that damages it on purpose. A bad
 * request gets an error status. Returns the encoded size; 0 for an answer deferred (an event
 * wait, answered by winapi_host_events_pump()); or -EINVAL/-ENOBUFS when a handler broke the
 * protocol's limits (a host bug).
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

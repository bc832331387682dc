/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checks winapi-pmd makes on a client's request packet before anything names device
 * memory or reaches the host: pure functions of the packet, the client's pool, the host's API
 * table and what the policy lets the client call, so they are fuzzed on their own
 * (tests/fuzz). Everything in the packet comes from a client process we do not trust.
 */
#ifndef APPS_WINAPI_PMD_REQUEST_H
#define APPS_WINAPI_PMD_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/ring.h>
#include <winapi/protocol.h>
#include <winapi_internal/api_table.h>

#include "policy.h"

/* The client's own memory: what its GPADL descriptors may name. */
struct pmd_pool {
	uint32_t gpadl;
	uint64_t size;
};

/*
 * What the client may call: the host's table, and the ids the policy gives it (policy.h);
 * and the event subscriptions it holds. The host keeps subscriptions per channel, and all the
 * clients of a worker share its channel: only the daemon knows whose each one is.
 */
struct pmd_apis {
	const struct winapi_api_table *table;
	const uint64_t *allowed;       /* PMD_API_WORDS words */
	const uint64_t *subscriptions; /* the ids the client holds */
	unsigned int subscription_count;
	bool may_subscribe;            /* room for one more (those being made included) */
	uint32_t max_wait_ms;          /* longest event wait forwarded */
};

enum pmd_verdict {
	PMD_REQUEST_FORWARD, /* valid: message describes it, every buffer inside the pool */
	PMD_REQUEST_ANSWER,  /* invalid: answer with *status (BAD_MESSAGE, BAD_BUFFER, ...) */
	PMD_REQUEST_DROP,    /* nobody waits for an answer (no COMPLETION_REQUESTED) */
	/* An event wait or unsubscribe naming a subscription the client does not hold: answered
	 * here as the host answers one that has ended (never forwarded: it may be another's). */
	PMD_REQUEST_ENDED,
};

/*
 * Check the packet @packet (as vmbus_chan_recv() returned it, described by @info) against
 * @pool and @apis. On PMD_REQUEST_FORWARD, @message is the decoded request (its inline_data
 * points into @packet): a call of WINAPI_API_LIST without buffers, or of an API of the table
 * that the client may call, in the table's major (or none stated), within its max_request and
 * the buffers it takes; reply_capacity is cut to the API's max_reply (LIST's: the protocol's
 * limit); each descriptor's [offset, offset + length) lies inside the pool, and all of them
 * together, overlap counted, name at most the pool's size. On
 * PMD_REQUEST_ANSWER, *@status says why (UNSUPPORTED_API, ACCESS_DENIED, UNSUPPORTED_VERSION,
 * BAD_MESSAGE, BAD_BUFFER, BUSY) and message->api_id is the request's when it could be read
 * (else 0); *@bad_buffer is set when a descriptor named memory outside the pool (a request
 * naming more bytes than the pool in total is BAD_BUFFER without it).
 * The event calls: SUBSCRIBE is forwarded when its source is an event source of the table
 * the client may call, in the source's major, and the client has room for a subscription;
 * EVENT_WAIT (of at most max_wait_ms) and UNSUBSCRIBE when they name one of the client's
 * subscriptions, else PMD_REQUEST_ENDED (pmd_request_subscription() says which they named).
 */
enum pmd_verdict pmd_request_check(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
				   const struct pmd_pool *pool, const struct pmd_apis *apis,
				   struct winapi_message *message, uint32_t *status, bool *bad_buffer);

/* The API a request is about, for the audit: SUBSCRIBE's source, else its own api_id. */
uint16_t pmd_request_api(const struct winapi_message *message);

/* The subscription an EVENT_WAIT or UNSUBSCRIBE names (decoded, checked), else 0. */
uint64_t pmd_request_subscription(const struct winapi_message *message);

#endif /* APPS_WINAPI_PMD_REQUEST_H */

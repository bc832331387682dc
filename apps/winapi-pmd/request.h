/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checks winapi-pmd makes on a client's request packet before anything names device
 * memory: pure functions of the packet and the client's pool, so they are unit tested and
 * fuzzed on their own (tests/fuzz). Everything in the packet comes from a client process we
 * do not trust.
 */
#ifndef APPS_WINAPI_PMD_REQUEST_H
#define APPS_WINAPI_PMD_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/ring.h>
#include <winapi/protocol.h>

/* The client's own memory: what its GPADL descriptors may name. */
struct pmd_pool {
	uint32_t gpadl;
	uint64_t size;
};

enum pmd_verdict {
	PMD_REQUEST_FORWARD, /* valid: message describes it, every buffer inside the pool */
	PMD_REQUEST_ANSWER,  /* invalid: answer with *status (BAD_MESSAGE, BAD_BUFFER, ...) */
	PMD_REQUEST_DROP,    /* nobody waits for an answer (no COMPLETION_REQUESTED) */
};

/*
 * Check the packet @packet (as vmbus_chan_recv() returned it, described by @info) against
 * @pool. On PMD_REQUEST_FORWARD, @message is the decoded request (its inline_data points
 * into @packet) and each descriptor's [offset, offset + length) lies inside the pool. On
 * PMD_REQUEST_ANSWER, *@status says why and message->api_id is the request's when it could be
 * read (else 0); *@bad_buffer is set when a descriptor named memory outside the pool.
 */
enum pmd_verdict pmd_request_check(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
				   const struct pmd_pool *pool, struct winapi_message *message, uint32_t *status,
				   bool *bad_buffer);

#endif /* APPS_WINAPI_PMD_REQUEST_H */

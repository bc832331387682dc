/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The words every transport and liblowlat share for one call: what goes out (inline bytes,
 * buffers the host reaches in place), what comes back, and the counters kept about them.
 * Below both the request table and the transport seam. Not installed.
 *
 * Owner: lib/requests
 */
#ifndef WINAPI_INTERNAL_CALL_H
#define WINAPI_INTERNAL_CALL_H

#include <stdint.h>

/** A buffer the host reaches in place. */
struct winapi_call_buffer {
	uint32_t kind;          /**< WINAPI_BUFFER_GPADL or WINAPI_BUFFER_GPA_DIRECT */
	const void *address;    /**< GPA_DIRECT: DMA memory of the device (page numbers known) */
	uint64_t length;        /**< bytes */
	uint32_t gpadl;         /**< GPADL: the region's handle */
	uint64_t gpadl_offset;  /**< GPADL: where the buffer starts in the region */
};

/**
 * Who must hear about buffers the host may write after their request ended. A request that
 * named buffers and ended before the host answered it (it timed out, or its queue went) is
 * @c late: the host may still write them. Its answer coming afterwards is @c answered; the
 * transport closing with late requests left is @c abandoned (the host may write until the
 * device goes). Called with the transport's request lock held: they must not call into it.
 */
struct winapi_call_hold_ops {
	void (*late)(void *owner, uint64_t id, const struct winapi_call_buffer *buffers, unsigned int count);
	void (*answered)(void *owner, uint64_t id);
	void (*abandoned)(void *owner);
};

/** One call: inline data in and out, and up to 8 buffers. */
struct winapi_call {
	uint16_t api_id;            /**< enum winapi_api_id, or a host API's id */
	uint16_t api_version;       /**< major << 8 | minor the caller was written for; 0: not stated */
	/** The API's name in the host's table, for a wire that names APIs (the Hyper-V socket's
	 *  generic frame); NULL: a seed API or a control call, known by api_id alone. */
	const char *api_name;
	/** WINAPI_ACCESS_* per buffer, from the host's table (what a wire that carries buffers'
	 *  bytes sends each way); NULL with api_name NULL. Must outlive the request. */
	const uint8_t *buffer_access;
	const void *request_data;   /**< inline request bytes */
	uint32_t request_length;    /**< <= WINAPI_MAX_INLINE_DATA */
	void *reply_data;           /**< where the reply's inline bytes go */
	uint32_t reply_capacity;    /**< <= WINAPI_MAX_INLINE_DATA */
	uint32_t reply_length;      /**< out: bytes the host returned */
	const struct winapi_call_buffer *buffers; /**< GPA-direct ones go as page ranges on VMBus */
	unsigned int buffer_count;  /**< <= WINAPI_MAX_BUFFERS */
	int timeout_ms;             /**< -1: the queue's (the transport's default for a call) */
	/** NULL, or told when the buffers may be written after the call ended (a transport whose
	 *  host reaches them in place; one that carries their bytes ignores it). */
	const struct winapi_call_hold_ops *hold_ops;
	void *hold_owner;           /**< hold_ops' first argument */
};

/** A finished request, as a reap hands it back. */
struct winapi_call_completion {
	void *user_data;        /**< as given when the request was added */
	int status;             /**< 0, or the call's negative errno */
	uint32_t reply_length;  /**< inline bytes the host returned into call->reply_data */
};

/** Counters of one transport, monotonic since open. */
struct winapi_transport_stats {
	uint64_t calls;             /**< requests finished (any status) */
	uint64_t failed_calls;      /**< requests that ended with an error */
	uint64_t timeouts;          /**< requests that ran out of time */
	uint64_t stale_completions; /**< late answers to requests that had ended; dropped */
	uint64_t unexpected_packets;/**< answers to ids not in flight, or malformed; dropped */
	uint64_t signals_sent;      /**< notifications sent to the host (0 where there are none) */
	uint64_t sleeps;            /**< times a caller blocked waiting for the host */
};

#endif /* WINAPI_INTERNAL_CALL_H */

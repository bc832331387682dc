/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The seam between liblowlat and its transports. liblowlat (lib/lowlat) speaks only this
 * header; each transport is a driver (drivers/winapi: a winapi VMBus device on uio, on the
 * emulator or through winapi-pmd; drivers/hvsock: the Hyper-V socket) that fills in a
 * struct winapi_transport and is listed in winapi_transports[] (drivers/transports.c), so that
 * liblowlat names none of them and includes no driver header. Not installed.
 *
 * A call is the protocol's unit of work: an API id, inline bytes in and out, and up to
 * WINAPI_MAX_BUFFERS buffers the host reaches in place (DESIGN.md section 4). Requests go
 * through queues: a queue belongs to one thread, which adds requests, submits them in batches
 * and reaps their completions.
 *
 * Synchronisation table (every transport):
 *
 *   operation                      | may run concurrently with
 *   -------------------------------+-------------------------------------------------
 *   queue_add, queue_submit,       | any operation on another queue of the same transport;
 *     queue_reap                   |   nothing else on the same queue
 *   queue_create                   | anything but close
 *   queue_event_fd                 | as queue_add
 *   queue_destroy                  | operations on other queues (its requests in flight are
 *                                  |   forgotten: their completions are dropped)
 *   call, get_stats,               | anything but close
 *     buffer_page_budget           |
 *   open, close                    | nothing on the same transport
 *
 * Owner: lib/lowlat
 */
#ifndef WINAPI_INTERNAL_TRANSPORT_H
#define WINAPI_INTERNAL_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <winapi_internal/call.h>

struct vmbus_device;

/**
 * What a transport does, on its context. Errors are those of the liblowlat call that uses
 * the operation (include/winapi/lowlat.h); in particular -ETIMEDOUT (the request's deadline
 * passed), -ENOTCONN (the host is gone), -EBADMSG (the host's answer failed validation).
 */
struct winapi_transport_ops {
	/** Send one call and wait for it; 0 sets call->reply_length. */
	int (*call)(void *context, struct winapi_call *call);
	void (*get_stats)(void *context, struct winapi_transport_stats *stats);
	/** Page numbers one call can carry with @p buffer_count buffers and @p inline_length
	 *  bytes inline (a call is split to fit); 0 when not even one page fits. */
	uint64_t (*buffer_page_budget)(void *context, unsigned int buffer_count, uint32_t inline_length);
	/** 0; -EINVAL; -EMFILE (no queue index left); -ENOMEM. */
	int (*queue_create)(void *context, unsigned int depth, int timeout_ms, void **queue);
	void (*queue_destroy)(void *queue);
	/** 0; -EAGAIN (depth outstanding); -EINVAL; -EMSGSIZE. */
	int (*queue_add)(void *queue, const struct winapi_call *call, void *user_data);
	/** Requests sent (>= 0); -EAGAIN (no room for any); -ENOTCONN. */
	int (*queue_submit)(void *queue);
	/** Completions collected (>= 0): at least @p min unless @p timeout_ms passes or nothing
	 *  is in flight; -EINVAL. With the queue's event fd in use, a reap with @p timeout_ms 0
	 *  first takes what woke the fd, so that it does not stay readable. */
	int (*queue_reap)(void *queue, struct winapi_call_completion *completions, unsigned int max,
			  unsigned int min, int timeout_ms);
	/** A descriptor poll() reports readable when the queue may have completions (owned by
	 *  the queue); -ENOMEM, -EMFILE; NULL: the transport has none (-EOPNOTSUPP). */
	int (*queue_event_fd)(void *queue);
	void (*close)(void *context);
};

/** An open transport: its operations and context, and the memory buffers come from. */
struct winapi_transport_instance {
	const struct winapi_transport_ops *ops;
	void *context;
	/** A VMBus device whose GPADL regions and DMA memory buffers are carved from (it stays
	 *  open until liblowlat closes it, after the transport and the last buffer); NULL: the
	 *  transport carries buffers' bytes itself, and buffers are plain memory. */
	struct vmbus_device *device;
};

/** A transport as liblowlat finds it in winapi_transports[]. */
struct winapi_transport {
	const char *name;   /**< the value of WINAPI_TRANSPORT that selects it */
	/** Tried, in the list's order, when WINAPI_TRANSPORT is unset; -ENODEV from its open
	 *  then means "not on this machine": the next one is tried. */
	bool automatic;
	/**
	 * Attach. @p automatic: chosen by the list, not by the user (then -ENODEV, quietly, when
	 * this machine has no such host). Logs the cause of any other failure, with its remedy.
	 * @return 0; -ENODEV; or the attach's negative errno.
	 */
	int (*open)(bool automatic, struct winapi_transport_instance *instance);
};

/** Every transport, NULL-terminated (drivers/transports.c): what liblowlat may attach. */
extern const struct winapi_transport *const winapi_transports[];

#endif /* WINAPI_INTERNAL_TRANSPORT_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The guest-side winapi remoting driver (drivers/winapi): binds channel 0 of a VMBus device of
 * class 6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21 and speaks <winapi/protocol.h> on it. Used by
 * liblowlat and winapi-pmd; applications use <winapi/lowlat.h> instead. Not installed.
 *
 * Synchronisation: winapi_driver_call() may be called from any number of threads at once on
 * the same driver (calls are serialised inside); open and close must not race with anything.
 */
#ifndef WINAPI_DRIVER_H
#define WINAPI_DRIVER_H

#include <stdint.h>

#include <vmbus/channel.h>

#define WINAPI_DEVICE_CLASS "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21"

struct winapi_driver;

/** One synchronous call with inline data in and out. */
struct winapi_call {
	uint16_t api_id;            /**< enum winapi_api_id */
	const void *request_data;   /**< inline request bytes */
	uint32_t request_length;    /**< <= WINAPI_MAX_INLINE_DATA */
	void *reply_data;           /**< where the reply's inline bytes go */
	uint32_t reply_capacity;    /**< <= WINAPI_MAX_INLINE_DATA */
	uint32_t reply_length;      /**< out: bytes the host returned */
	int timeout_ms;             /**< -1: the driver's default */
};

/** Counters of one driver, monotonic since open. */
struct winapi_driver_stats {
	uint64_t calls;             /**< calls completed (any status) */
	uint64_t failed_calls;      /**< calls that returned an error */
	uint64_t timeouts;          /**< calls that ran out of time */
	uint64_t stale_completions; /**< completions of calls that had timed out; dropped */
	uint64_t unexpected_packets;/**< completions for ids never sent, or non-completions; dropped */
	struct vmbus_chan_stats channel; /**< the channel underneath */
};

/**
 * Bind channel 0 of @p device. The device stays owned by the caller and must outlive the
 * driver. @return 0; -ENODEV (device is not of the winapi class); -EBUSY (channel already
 * open); -ENOMEM; -EIO.
 */
int winapi_driver_open(struct vmbus_device *device, struct winapi_driver **driver);

void winapi_driver_close(struct winapi_driver *driver);

/**
 * Send one request and wait for its completion.
 * @return 0 (call->reply_length set); -EINVAL, -EMSGSIZE (lengths beyond the protocol);
 *         -ETIMEDOUT (counted from the call, including time queued behind other threads);
 *         -ENOTCONN (the host is gone); -EIO (the host corrupted the channel); -EBADMSG (the
 *         host's reply failed validation); or the host's status as errno
 *         (winapi_status_to_errno()).
 */
int winapi_driver_call(struct winapi_driver *driver, struct winapi_call *call);

void winapi_driver_get_stats(struct winapi_driver *driver, struct winapi_driver_stats *stats);

/** Default time a call may take, from WINAPI_TIMEOUT_MS or 5000 ms. */
int winapi_driver_default_timeout_ms(void);

#endif /* WINAPI_DRIVER_H */

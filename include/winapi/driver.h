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

/** A buffer the host reaches in place (DESIGN.md section 4). */
struct winapi_call_buffer {
	uint32_t kind;          /**< WINAPI_BUFFER_GPADL or WINAPI_BUFFER_GPA_DIRECT */
	const void *address;    /**< GPA_DIRECT: DMA memory of the device (page numbers known) */
	uint64_t length;        /**< bytes */
	uint32_t gpadl;         /**< GPADL: the region's handle */
	uint64_t gpadl_offset;  /**< GPADL: where the buffer starts in the region */
};

/** One synchronous call: inline data in and out, and up to 8 buffers. */
struct winapi_call {
	uint16_t api_id;            /**< enum winapi_api_id */
	const void *request_data;   /**< inline request bytes */
	uint32_t request_length;    /**< <= WINAPI_MAX_INLINE_DATA */
	void *reply_data;           /**< where the reply's inline bytes go */
	uint32_t reply_capacity;    /**< <= WINAPI_MAX_INLINE_DATA */
	uint32_t reply_length;      /**< out: bytes the host returned */
	const struct winapi_call_buffer *buffers; /**< GPA-direct ones go as page ranges (type 9) */
	unsigned int buffer_count;  /**< <= WINAPI_MAX_BUFFERS */
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
 * @return 0 (call->reply_length set); -EINVAL, -EMSGSIZE (lengths beyond the protocol, or
 *         more page numbers than one packet of this channel carries: see
 *         winapi_driver_gpa_page_budget());
 *         -ETIMEDOUT (counted from the call, including time queued behind other threads);
 *         -ENOTCONN (the host is gone); -EIO (the host corrupted the channel); -EBADMSG (the
 *         host's reply failed validation); or the host's status as errno
 *         (winapi_status_to_errno()).
 */
int winapi_driver_call(struct winapi_driver *driver, struct winapi_call *call);

void winapi_driver_get_stats(struct winapi_driver *driver, struct winapi_driver_stats *stats);

/**
 * Page numbers one call can carry in its GPA-direct ranges, with @p buffer_count buffers and
 * @p inline_length bytes inline: what the channel's largest packet leaves for them (a 68 KiB
 * ring takes far fewer than a 2 MiB one). 0 when not even one fits.
 */
uint64_t winapi_driver_gpa_page_budget(struct winapi_driver *driver, unsigned int buffer_count,
				       uint32_t inline_length);

/** Default time a call may take, from WINAPI_TIMEOUT_MS or 5000 ms. */
int winapi_driver_default_timeout_ms(void);

#endif /* WINAPI_DRIVER_H */

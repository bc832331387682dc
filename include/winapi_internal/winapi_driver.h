/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The guest-side winapi remoting driver (drivers/winapi): binds a channel of a VMBus device of
 * class 6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21 and speaks <winapi/protocol.h> on it. Used by the
 * VMBus transport of liblowlat and by winapi-pmd; applications use <winapi/lowlat.h> instead.
 * Its requests live in the request table (<winapi_internal/request_table.h>). Not installed.
 *
 * Requests go through queues: a queue belongs to one thread, which adds requests, submits
 * them in batches (one ring publication, one signal decision per batch) and reaps their
 * completions. Any number of queues share the channel; completions are matched to their
 * requests by trans_id, whichever thread happens to drain the ring.
 *
 * Synchronisation table:
 *
 *   call                             | may run concurrently with
 *   ---------------------------------+-------------------------------------------------
 *   winapi_driver_queue_add, _submit, | any call on another queue of the same driver;
 *     _submit_at, _reap, _poll       |   nothing else on the same queue
 *   winapi_driver_queue_create       | anything but winapi_driver_close
 *   winapi_driver_queue_destroy      | calls on other queues (its own requests in flight
 *                                    |   are forgotten: their completions are dropped)
 *   winapi_driver_call               | anything but close (calls serialise on their own queue)
 *   winapi_driver_get_stats          | anything but close
 *   winapi_driver_open, _close       | nothing on the same driver
 *
 * Owner: drivers/winapi
 */
#ifndef WINAPI_INTERNAL_WINAPI_DRIVER_H
#define WINAPI_INTERNAL_WINAPI_DRIVER_H

#include <stdint.h>

#include <vmbus/channel.h>
#include <winapi_internal/transport.h>

struct winapi_driver;

struct winapi_driver_queue;

/**
 * A queue of up to @p depth (1..4096) requests in flight, each failing with -ETIMEDOUT after
 * @p timeout_ms (-1: the driver's default) unless its call says otherwise.
 * @return 0; -EINVAL; -EMFILE (1024 queues on this driver); -ENOMEM.
 */
int winapi_driver_queue_create(struct winapi_driver *driver, unsigned int depth, int timeout_ms,
			       struct winapi_driver_queue **queue);

/** Destroy a queue; requests still in flight are forgotten (their completions are dropped). */
void winapi_driver_queue_destroy(struct winapi_driver_queue *queue);

/**
 * Add a request to the queue's next batch (nothing is sent yet). Its request bytes are copied;
 * call->reply_data and the buffers must stay valid until the request is reaped.
 * @return 0; -EAGAIN (depth requests outstanding: reap first); -EINVAL; -EMSGSIZE.
 */
int winapi_driver_queue_add(struct winapi_driver_queue *queue, const struct winapi_call *call,
			    void *user_data);

/**
 * Write the batch to the ring: one write_index publication and at most one signal for all of
 * it. A request that cannot be sent (too large, a bad buffer, the channel gone) ends at once
 * with its error and is reaped like the others.
 * @return requests written (>= 0); -EAGAIN (the ring is full and nothing could be written:
 *         reap, or wait for room); -ENOTCONN (the host is gone).
 */
int winapi_driver_queue_submit(struct winapi_driver_queue *queue);

/**
 * winapi_driver_queue_submit() with the requests' deadlines counted from @p now_ns, a
 * CLOCK_MONOTONIC time the caller read before calling (a poller's once a pass, shared with
 * its winapi_driver_queue_poll()), instead of a clock read of its own.
 * @return as winapi_driver_queue_submit().
 */
int winapi_driver_queue_submit_at(struct winapi_driver_queue *queue, uint64_t now_ns);

/**
 * Collect finished requests into @p completions: at least @p min unless @p timeout_ms
 * (-1: none) passes or nothing is in flight any more, at most @p max. Requests past their own
 * deadline end here with -ETIMEDOUT; their late completions are dropped when they come.
 * @return the number collected; -EINVAL.
 */
int winapi_driver_queue_reap(struct winapi_driver_queue *queue, struct winapi_call_completion *completions,
			     unsigned int max, unsigned int min, int timeout_ms);

/**
 * What winapi_driver_queue_reap(@p queue, @p completions, @p max, 1, 0) collects, with
 * deadlines (and the answers drained now) judged at @p now_ns, a CLOCK_MONOTONIC time the
 * caller read this pass, instead of the clock: a kvm-clock read is 29 ns here, and a
 * winapi-pmd worker's echo paid three on its critical path (issue 19).
 * @return the number collected; -EINVAL.
 */
int winapi_driver_queue_poll(struct winapi_driver_queue *queue, struct winapi_call_completion *completions,
			     unsigned int max, uint64_t now_ns);

/**
 * A descriptor that poll() or epoll reports readable when the queue may have completions: an
 * epoll set of the device's event descriptor and the queue's own eventfd (written when
 * another thread's drain finishes one of its requests), owned by the queue. From then on
 * the channel runs in interrupt mode (the host signals every batch it starts on an empty
 * ring; waiting calls on it block at once instead of spinning), and a reap of the queue with
 * timeout 0 first takes the device's events and drains the ring, then checks it once more
 * after re-arming, so that nothing that came meanwhile is slept on.
 * @return the descriptor (the same on every call); -ENOMEM; -EMFILE; -EOPNOTSUPP (a backend
 *         without an event descriptor).
 */
int winapi_driver_queue_event_fd(struct winapi_driver_queue *queue);

/**
 * Bind channel @p channel_index of @p device (0: the primary; subchannels follow, up to
 * vmbus_device_channel_count()). The device stays owned by the caller and must outlive the
 * driver; each channel of a device can carry its own driver, used from its own threads.
 * @return 0; -ENODEV (device is not of the winapi class); -EINVAL (no such channel); -EBUSY
 *         (channel already open); -ENOMEM; -EIO.
 */
int winapi_driver_open(struct vmbus_device *device, unsigned int channel_index, struct winapi_driver **driver);

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

/** Its counters, the channel's signals and sleeps included. */
void winapi_driver_get_stats(struct winapi_driver *driver, struct winapi_transport_stats *stats);

/**
 * Page numbers one call can carry in its GPA-direct ranges, with @p buffer_count buffers and
 * @p inline_length bytes inline: what the channel's largest packet leaves for them (a 68 KiB
 * ring takes far fewer than a 2 MiB one). 0 when not even one fits.
 */
uint64_t winapi_driver_gpa_page_budget(struct winapi_driver *driver, unsigned int buffer_count,
				       uint32_t inline_length);

/**
 * The channel the driver runs on, for an event loop that sleeps on it together with other
 * devices (winapi-pmd: vmbus_chan_arm() / vmbus_chan_disarm() around its poll). Only from the
 * one thread that also submits and reaps, and never while a reap waits.
 */
struct vmbus_channel *winapi_driver_channel(struct winapi_driver *driver);

#endif /* WINAPI_INTERNAL_WINAPI_DRIVER_H */

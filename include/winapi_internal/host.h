/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host side of the winapi protocol (drivers/host): serves requests arriving on a channel
 * of a host-side VMBus device and answers each with a completion. Portable C: the emulator
 * runs it on Linux over drivers/bus/sim; a Windows provider would run the same handlers, as
 * the Hyper-V socket service (<winapi_internal/host_socket.h>) already does.
 *
 * Requests are untrusted: a malformed one is answered with an error status when it asked for
 * a completion, and dropped otherwise; the channel keeps serving.
 *
 * Synchronisation: one thread per struct winapi_host; winapi_host_get_stats() may be called
 * from another thread (counters are read atomically, one by one).
 *
 * Owner: drivers/host
 */
#ifndef WINAPI_HOST_H
#define WINAPI_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/channel.h>

struct winapi_host;

/**
 * How the host reaches guest memory named in buffer descriptors: the provider's own mapping
 * of what the guest shared. The emulator maps memfds; a Windows provider would map the
 * GPADLs and guest pages it was given. Any callback may be NULL (no such memory).
 */
struct winapi_host_memory {
	/** Host address of [offset, offset + length) of GPADL @p gpadl, or NULL unless all of it
	 *  lies inside that GPADL. */
	void *(*gpadl_span)(void *context, uint32_t gpadl, uint64_t offset, uint64_t length);
	/** For a provider that has no single mapping of a GPADL (QEMU sees guest pages): the
	 *  guest page number of page @p index of GPADL @p gpadl in *@p pfn; 0, or -EFAULT when
	 *  there is no such GPADL or page. Used, with guest_page, when gpadl_span is NULL. */
	int (*gpadl_page)(void *context, uint32_t gpadl, uint64_t index, uint64_t *pfn);
	/** Host address of guest page @p pfn (4 KiB), or NULL if the guest has no such page. */
	void *(*guest_page)(void *context, uint64_t pfn);
	void *context;
};

/**
 * The emulator's view of @p device's guest memory (a host-side device of drivers/bus/sim):
 * its GPADL regions and the shared guest RAM. @p device must outlive the hosts using it.
 */
void winapi_host_sim_memory(struct vmbus_device *device, struct winapi_host_memory *memory);

struct winapi_host_stats {
	uint64_t requests;       /**< requests answered (any status) */
	uint64_t bad_requests;   /**< requests answered with an error status, or dropped */
	uint64_t batches;        /**< bursts of requests answered with one publication */
};

/**
 * Serve channel @p channel_index of @p device (a VMBUS_SIDE_HOST device; 0: the primary),
 * which must outlive the host. Each channel of a device can have its own host, run by its
 * own thread.
 * Requests arrive as DATA_INBAND, or as GPA-direct packets when their buffers are named by
 * page ranges. @p memory (copied; NULL: requests with buffers get WINAPI_STATUS_BAD_BUFFER)
 * resolves buffer descriptors.
 * @return 0; -ENOMEM; -EINVAL (no such channel); -EBUSY; -EIO (ring corrupt).
 */
int winapi_host_create(struct vmbus_device *device, unsigned int channel_index,
		       const struct winapi_host_memory *memory, struct winapi_host **host);

/** Make every request wait @p delay_ns before it is answered (a slow host, for tests). */
void winapi_host_set_delay(struct winapi_host *host, uint64_t delay_ns);

/** How a completion is damaged by the corrupt_request fault. */
enum winapi_host_corruption {
	WINAPI_HOST_CORRUPT_CHECKSUM = 1, /**< a sealed header byte flipped: the checksum fails */
	WINAPI_HOST_CORRUPT_REQUEST_ID,   /**< a sound message whose request_id is another one's */
	WINAPI_HOST_CORRUPT_GARBAGE,      /**< the message replaced by pseudo-random bytes */
	WINAPI_HOST_CORRUPT_TRUNCATED,    /**< only the first half of the message is sent */
	WINAPI_HOST_CORRUPT_PACKET_TYPE,  /**< a sound message sent as DATA_INBAND, not COMPLETION */
};

/**
 * Faults to inject, by request number on this channel (1 = the first request served; 0 =
 * none). Several faults may be set at once, on different requests.
 */
struct winapi_host_faults {
	uint64_t drop_request;  /**< this request's completion is never sent */
	uint64_t delay_request; /**< this request's completion waits delay_ns first */
	uint64_t delay_ns;
	uint64_t duplicate_request; /**< this request's completion is sent twice */
	/** This request's completion is damaged as corrupt_kind says; its trans_id stays right,
	 *  so the guest can tell which request the damaged answer was for. */
	uint64_t corrupt_request;
	enum winapi_host_corruption corrupt_kind;
	/**
	 * This request's completion comes between completions for ids the guest never sent (two
	 * before, one after), each a sound message naming its own id: queue 0xffff, slot 0xffff,
	 * generation 0 in the trans_id layout of drivers/winapi (queue << 48 | slot << 32 |
	 * generation), none of which that driver ever hands out.
	 */
	uint64_t unknown_request;
	/** Once this request is answered, the host stops reading the guest's ring for stall_ns
	 *  (and answers nothing meanwhile): the guest's ring fills. Then it serves on. */
	uint64_t stall_request;
	uint64_t stall_ns;
	/** When this request arrives the host takes the device away: it is not answered, and
	 *  winapi_host_poll() returns -ESHUTDOWN; the provider then closes the device. */
	uint64_t rescind_request;
};

void winapi_host_set_faults(struct winapi_host *host, const struct winapi_host_faults *faults);

/**
 * Interrupt mode: the host never polls; its RX interrupt_mask stays clear, so the guest
 * signals every batch it starts on an empty ring, and the host sleeps between them.
 */
void winapi_host_set_interrupt_mode(struct winapi_host *host, bool enabled);

void winapi_host_destroy(struct winapi_host *host);

/**
 * Answer every request waiting now, in bursts: each burst's completions are published with
 * one index store and at most one signal.
 * @return requests answered (>= 0); -EIO (the guest corrupted a ring); -ENOTCONN (the guest
 *         left); -ESHUTDOWN (the rescind_request fault fired: close the device); -EINVAL or
 *         -ENOBUFS (a handler broke the protocol's limits: a host bug).
 */
int winapi_host_poll(struct winapi_host *host);

/**
 * As winapi_host_poll(), for a caller that runs the host between its own work and sleeps in
 * between (winapi-pmd's inline host): *@p next_ns is when the host must be polled again, with
 * no request waiting, for the events and event waits it holds (UINT64_MAX: never).
 */
int winapi_host_poll_next(struct winapi_host *host, uint64_t *next_ns);

/**
 * Serve until the guest leaves or *@p stop becomes true (checked at least every 100 ms; set
 * it with __atomic_store_n or from a signal handler). Idles like every poller here: spin,
 * then block on the guest's signal.
 * @return 0 when the guest left or stop was requested; otherwise as winapi_host_poll()
 *         (-ESHUTDOWN: a rescind fault, logged; the caller closes the device).
 */
int winapi_host_run(struct winapi_host *host, const bool *stop);

void winapi_host_get_stats(const struct winapi_host *host, struct winapi_host_stats *stats);

#endif /* WINAPI_HOST_H */

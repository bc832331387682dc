/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * VMBus devices and channels for user-space drivers.
 *
 * A device (struct vmbus_device) comes from a backend: drivers/bus/sim (the emulator,
 * vmbus_sim_connect() in <vmbus/sim.h>) or a real uio_hv_generic device. It has one or more
 * channels; each channel is a pair of rings (TX then RX, as uio map 0 lays them out) plus a
 * way to signal the peer and to wait for its interrupt. Nothing in this API knows which
 * backend is underneath.
 *
 * Polling and interrupts (shared/DESIGN.md section 5): an open channel starts in polling mode
 * with its RX interrupt_mask set, so the peer sends no signals. vmbus_chan_wait() spins for a
 * bounded time, then clears the mask, re-checks the ring and only then blocks on the backend's
 * interrupt; it masks again when it wakes. While it spins it looks at the backend every 2 ms
 * without blocking (a rescind shows only there). Signals to the peer follow the ring rules exactly
 * (see <vmbus/ring.h>): never one without a ring transition.
 *
 * Errors (negative errno) common to the calls below:
 *   -EAGAIN    TX ring full / RX ring empty (non-blocking calls)
 *   -EIO       the peer corrupted a ring; a corrupt RX ring stays -EIO for good
 *   -ENOTCONN  the peer is gone (channel rescinded, emulator exited): from then on every call
 *              on every channel of the device says so, and no ring is touched again (after a
 *              rescind the kernel may reuse the ring pages). A wait learns it within a few
 *              milliseconds even while it spins (VMBUS_SPIN_NS up to UINT32_MAX): a spinning
 *              wait looks at the backend every 2 ms, as vmbus_device_take_events() does.
 *              A caller that never waits (only non-blocking calls, or waits with timeout 0)
 *              learns it at its next signal or vmbus_device_take_events(); close the device then.
 *   -EBADMSG   a well-framed packet of a type or with flags VMBus does not allow; it was
 *              dropped and the channel works on
 *   -ENOBUFS   caller's buffer too small for the next packet (nothing consumed)
 *   -EMSGSIZE  packet larger than the ring can ever carry
 *   -ETIMEDOUT a wait ran out of time
 *   -EINVAL    bad arguments
 *
 * Synchronisation table:
 *
 *   call                                      | may run concurrently with
 *   ------------------------------------------+-------------------------------------------
 *   vmbus_chan_send*, vmbus_chan_write*,      | the receive calls of the same channel;
 *     vmbus_chan_flush, vmbus_chan_wait_writable | not with each other on the same channel
 *   vmbus_chan_recv, vmbus_chan_recv_done,    | the send calls of the same channel;
 *     vmbus_chan_wait, vmbus_chan_rx_empty      | not with each other on the same channel
 *   vmbus_chan_get_stats, vmbus_chan_max_packet_size | anything but close
 *   vmbus_chan_set_spin_ns,                   | nothing else on the same channel
 *     vmbus_chan_set_interrupt_mode,          |
 *     vmbus_chan_arm, vmbus_chan_disarm       |
 *   vmbus_device_event_fd,                    | anything but vmbus_device_close
 *     vmbus_device_take_events                |
 *   calls on different channels               | anything (waits on one device share its
 *                                             |   interrupt safely: none loses a wake-up)
 *   vmbus_chan_close, vmbus_device_close      | nothing on the same channel / device
 *
 * Callers that share a channel between threads serialise each direction themselves (liblowlat
 * does; winapi-pmd gives each channel to one worker).
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_CHANNEL_H
#define VMBUS_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/guid.h>
#include <vmbus/ring.h>

/**
 * For a poll loop's spin: tell the sibling hyperthread (and the power manager) that this
 * thread is spinning.
 */
static inline void vmbus_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

struct vmbus_device;
struct vmbus_channel;

/** monitor_id when the channel has no monitor page slot (sysfs has no `monitor_id`). */
#define VMBUS_MONITOR_ID_NONE 0xffu

/** Device identity, as offered by the host. */
const struct vmbus_guid *vmbus_device_class_id(const struct vmbus_device *device);
const struct vmbus_guid *vmbus_device_instance_id(const struct vmbus_device *device);
/** NUMA node of the device, or -1 when unknown. */
int vmbus_device_numa_node(const struct vmbus_device *device);
/** Channels the backend offers: the primary channel is index 0. */
unsigned int vmbus_device_channel_count(const struct vmbus_device *device);
/** Backend name ("sim", "uio"), for messages. */
const char *vmbus_device_backend_name(const struct vmbus_device *device);

/**
 * Release the device and everything its backend mapped. Every channel must be closed first.
 */
void vmbus_device_close(struct vmbus_device *device);

/**
 * Open channel @p index of @p device.
 * @return 0; -EINVAL (no such channel); -EBUSY (already open); -ENOMEM; -EIO (ring header
 *         corrupt).
 */
int vmbus_chan_open(struct vmbus_device *device, unsigned int index, struct vmbus_channel **channel);

/** Close a channel (the rings stay mapped until vmbus_device_close()). */
void vmbus_chan_close(struct vmbus_channel *channel);

/** Largest packet, descriptor included, that this channel's TX ring can carry. */
uint32_t vmbus_chan_max_packet_size(const struct vmbus_channel *channel);

/**
 * Write one packet into the TX ring without publishing it: a batch is any number of
 * vmbus_chan_write() calls followed by one vmbus_chan_flush().
 * @return 0, -EAGAIN, -EMSGSIZE, -EINVAL, -EIO (see <vmbus/ring.h>).
 */
int vmbus_chan_write(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet);

/**
 * vmbus_chan_write() for a payload built in place in the TX ring (vmbus_ring_write_begin()):
 * begin, fill the @p payload_size bytes at *@p payload, end. No other write on the channel
 * between the two.
 * @return 0, -EAGAIN, -EMSGSIZE, -EINVAL, -EIO (see <vmbus/ring.h>); -ENOTCONN (device gone).
 */
int vmbus_chan_write_begin(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet,
			   uint32_t payload_size, void *bounce, void **payload);
void vmbus_chan_write_end(struct vmbus_channel *channel, const void *payload);

/**
 * Publish the batch with one write_index store and make one signal decision for it,
 * signalling the peer if the ring rules require it.
 * @return 0; or the backend's error from signalling (-ENOTCONN: peer gone).
 */
int vmbus_chan_flush(struct vmbus_channel *channel);

/**
 * Send one DATA_INBAND packet (type 6) and publish it.
 * @param flags VMBUS_PACKET_FLAG_COMPLETION_REQUESTED to ask for a COMPLETION (type 0xb)
 *              carrying the same @p trans_id.
 * @return as vmbus_chan_write() and vmbus_chan_flush().
 */
int vmbus_chan_send_inband(struct vmbus_channel *channel, uint64_t trans_id, uint16_t flags,
			   const struct iovec *payload, unsigned int payload_count);

/** Send one COMPLETION packet (type 0xb) answering @p trans_id, and publish it. */
int vmbus_chan_send_completion(struct vmbus_channel *channel, uint64_t trans_id,
			       const struct iovec *payload, unsigned int payload_count);

/**
 * Block until the TX ring has room for a packet of @p packet_size bytes, using the
 * pending_send_size protocol (the peer signals when it frees enough space). Publishes any
 * unflushed writes first (vmbus_chan_flush()): the peer cannot free space it cannot see.
 * @return 0; -ETIMEDOUT; -EMSGSIZE if it can never fit; -EIO (the peer's read_index is
 *         corrupt); -ENOTCONN.
 */
int vmbus_chan_wait_writable(struct vmbus_channel *channel, uint32_t packet_size, int timeout_ms);

/**
 * Receive the next packet into @p buffer: the whole packet, descriptor first
 * (info->header_size is where the payload starts). Packet types other than those VMBus
 * devices use on rings (6, 7, 8, 9, 0xb) and unknown flags are rejected with -EBADMSG and
 * the packet is dropped. The space is released to the peer by vmbus_chan_recv_done().
 * @return 0, -EAGAIN, -ENOBUFS, -EBADMSG, -EIO.
 */
int vmbus_chan_recv(struct vmbus_channel *channel, void *buffer, size_t buffer_size,
		    struct vmbus_ring_packet_info *info);

/**
 * Release what vmbus_chan_recv() consumed (one read_index store for the whole burst) and
 * signal the peer if it was waiting for that space.
 * @return 0; or the backend's error from signalling.
 */
int vmbus_chan_recv_done(struct vmbus_channel *channel);

/** No packet waiting in the RX ring. */
bool vmbus_chan_rx_empty(const struct vmbus_channel *channel);

/**
 * Wait until the RX ring holds a packet: release what was read so far
 * (vmbus_chan_recv_done()), spin for the channel's spin budget, then unmask RX interrupts,
 * re-check, and block in the backend. Signals that interrupt the process do not end it early.
 * @param timeout_ms -1 waits forever; 0 only checks.
 * @return 0 (a packet is there); -ETIMEDOUT; -ENOTCONN (peer gone).
 */
int vmbus_chan_wait(struct vmbus_channel *channel, int timeout_ms);

/**
 * How long vmbus_chan_wait() and vmbus_chan_wait_writable() spin before they block.
 * 0 blocks at once (interrupt mode); UINT32_MAX never blocks (pinned polling, benchmarks).
 * Default: VMBUS_CHAN_DEFAULT_SPIN_NS, or the environment variable VMBUS_SPIN_NS.
 */
void vmbus_chan_set_spin_ns(struct vmbus_channel *channel, uint32_t spin_ns);

#define VMBUS_CHAN_DEFAULT_SPIN_NS 50000u

/**
 * Interrupt mode: the channel's RX interrupt_mask stays clear, so the peer signals every
 * empty -> non-empty transition, and waits block at once instead of spinning. For drivers
 * driven by the host's interrupts (the fcopy daemon's shape) rather than by polling. Off
 * again: back to polling with the device's default spin budget.
 */
void vmbus_chan_set_interrupt_mode(struct vmbus_channel *channel, bool enabled);

/**
 * Block until the backend reports the peer's next interrupt for this device, whatever the
 * rings hold: one that arrived since the previous wait returns at once (uio counts them), and
 * with several threads waiting on one device a return may be another channel's interrupt.
 * Callers then drain the ring.
 *
 * Only for an interrupt that is certain to come: the channel is in interrupt mode and its RX
 * ring was empty, with every read released (vmbus_chan_recv_done()), before the packet awaited
 * was asked for; the peer then signals the transition. Anywhere else vmbus_chan_wait() is the
 * call: it re-checks the ring before it sleeps, this one cannot.
 * @return 0; -ETIMEDOUT; -ENOTCONN (peer gone).
 */
int vmbus_chan_wait_interrupt(struct vmbus_channel *channel, int timeout_ms);

/*
 * Sleeping on many devices at once (an event loop such as winapi-pmd's workers, which serve a
 * device channel and many clients' rings from one thread): arm every channel, sleep in
 * poll() or epoll on the devices' event descriptors, take the events, disarm, drain.
 *
 *   for each channel: if (vmbus_chan_arm(channel) == -EAGAIN) do not sleep;
 *   poll(event descriptors);
 *   for each device: vmbus_device_take_events(device);
 *   for each channel: vmbus_chan_disarm(channel);
 *
 * Channels that vmbus_chan_wait() on the same device from other threads still wake: taking
 * the events moves the device's wake-up generation, as an interrupt does in a wait. But a
 * thread that sleeps in poll() on the descriptor of a device another thread takes events from
 * (vmbus_device_take_events(), or the look of a spinning vmbus_chan_wait()) may find them
 * taken: such threads must wake each other (winapi-pmd's workers do).
 */

/**
 * A descriptor that poll() reports readable when the peer may have signalled a channel of
 * the device, or is gone. Owned by the device; never read from it or close it.
 * @return the descriptor; -EOPNOTSUPP (this backend waits otherwise, e.g. an emulated host
 *         that scans monitor pages).
 */
int vmbus_device_event_fd(const struct vmbus_device *device);

/**
 * Consume the device's pending events without blocking, and wake every thread waiting on
 * the device so that each re-checks its ring.
 * @return 0; -ENOTCONN (the peer is gone: every channel says so from now on).
 */
int vmbus_device_take_events(struct vmbus_device *device);

/**
 * Before sleeping on vmbus_device_event_fd(): unmask the channel's RX interrupts, then
 * re-check the ring, so that a packet that raced in before the unmasking is not slept on.
 * Releases what was read first (vmbus_chan_recv_done()).
 * @return 0 (empty: the peer will signal the next packet); -EAGAIN (a packet is waiting: do
 *         not sleep; the channel is disarmed again); -ENOTCONN.
 */
int vmbus_chan_arm(struct vmbus_channel *channel);

/** After the sleep: mask RX interrupts again (back to polling). */
void vmbus_chan_disarm(struct vmbus_channel *channel);

/** Counters a channel keeps; all monotonic since open. */
struct vmbus_chan_stats {
	uint64_t packets_sent;
	uint64_t packets_received;
	uint64_t signals_sent;      /**< calls to the backend's signal (TX batches and RX space) */
	uint64_t sleeps;            /**< times a wait blocked (in the backend or behind its sleeper) */
	uint64_t bad_packets;       /**< packets rejected (-EBADMSG) and corruption seen (-EIO) */
};

/** Copy the channel's counters. */
void vmbus_chan_get_stats(const struct vmbus_channel *channel, struct vmbus_chan_stats *stats);

#endif /* VMBUS_CHANNEL_H */

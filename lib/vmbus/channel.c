/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Channel = TX ring + RX ring + the backend's signal and wait. The signal decisions come from
 * the ring (vmbus-spec.md 2.3, 2.4); this file only acts on them and implements the idle
 * protocol of DESIGN.md section 5: spin for a bounded time, then unmask, re-check, block.
 */
#include <errno.h>
#include <stdlib.h>

#include "private.h"

int vmbus_chan_open(struct vmbus_device *device, unsigned int index, struct vmbus_channel **channel_out)
{
	struct vmbus_channel_region region;
	struct vmbus_channel *channel;
	uint8_t *first_half, *second_half;
	int rc;

	if (device == NULL || channel_out == NULL || index >= vmbus_device_channel_count(device))
		return -EINVAL;
	channel = calloc(1, sizeof(*channel));
	if (channel == NULL)
		return -ENOMEM;
	channel->device = device;
	channel->index = index;
	channel->spin_ns = device->default_spin_ns;

	pthread_mutex_lock(&device->channels_lock);
	if (device->channels[index] != NULL) {
		rc = -EBUSY;
		goto err_unlock;
	}
	region = device->regions[index];
	first_half = region.ring_base;
	second_half = first_half + region.ring_size;
	rc = vmbus_ring_attach(&channel->tx,
			       device->params.side == VMBUS_SIDE_GUEST ? first_half : second_half,
			       region.ring_size, device->params.page_size);
	if (rc != 0)
		goto err_unlock;
	rc = vmbus_ring_attach(&channel->rx,
			       device->params.side == VMBUS_SIDE_GUEST ? second_half : first_half,
			       region.ring_size, device->params.page_size);
	if (rc != 0)
		goto err_unlock;

	/* Start in polling mode: the peer need not signal us until we decide to sleep. */
	vmbus_ring_set_interrupt_mask(&channel->rx, true);
	device->channels[index] = channel;
	pthread_mutex_unlock(&device->channels_lock);
	*channel_out = channel;
	return 0;

err_unlock:
	pthread_mutex_unlock(&device->channels_lock);
	free(channel);
	return rc;
}

void vmbus_chan_close(struct vmbus_channel *channel)
{
	struct vmbus_device *device;

	if (channel == NULL)
		return;
	device = channel->device;
	pthread_mutex_lock(&device->channels_lock);
	device->channels[channel->index] = NULL;
	pthread_mutex_unlock(&device->channels_lock);
	free(channel);
}

uint32_t vmbus_chan_max_packet_size(const struct vmbus_channel *channel)
{
	return vmbus_ring_max_packet_size(&channel->tx);
}

/* The backend saw the peer go (rescind, emulator exit): its error, sticky; 0 while it is there. */
static int sticky_error(struct vmbus_device *device)
{
	return __atomic_load_n(&device->backend_error, __ATOMIC_RELAXED);
}

static bool device_gone(struct vmbus_device *device)
{
	return sticky_error(device) != 0;
}

/* The RX ring header of channel @index as this side sees it (for channels not open). */
static struct vmbus_ring_header *rx_header(const struct vmbus_device *device, unsigned int index)
{
	const struct vmbus_channel_region *region = &device->regions[index];
	uint8_t *base = region->ring_base;

	return (struct vmbus_ring_header *)(device->params.side == VMBUS_SIDE_GUEST ? base + region->ring_size
										      : base);
}

/*
 * After a signal that cleared RX masks behind our back (VMBUS_BACKEND_SIGNAL_UNMASKS_RX), mask
 * again every channel that is not waiting for an interrupt, opened or not (else the host
 * interrupts for channels nobody listens to). rx_arm() changes rx_armed under the same lock,
 * so an armed channel's mask is never touched here: the host never sees it set, not even
 * for a moment, while its waiter sleeps.
 */
static void remask_polling_channels(struct vmbus_device *device)
{
	unsigned int i, count;

	pthread_mutex_lock(&device->channels_lock);
	count = device->channel_count;
	for (i = 0; i < count; i++) {
		struct vmbus_channel *channel = device->channels[i];

		if (channel == NULL)
			__atomic_store_n(&rx_header(device, i)->interrupt_mask, 1u, __ATOMIC_SEQ_CST);
		else if (!channel->rx_armed)
			vmbus_ring_set_interrupt_mask(&channel->rx, true);
	}
	pthread_mutex_unlock(&device->channels_lock);
}

static int signal_peer(struct vmbus_channel *channel)
{
	struct vmbus_device *device = channel->device;
	int rc;

	winapi_counter_add_shared(&channel->stats.signals_sent, 1);
	rc = device->params.ops->signal(device, channel->index);
	if (rc == -ENOTCONN)
		vmbus_device_set_gone(device, rc);
	else if (device->params.quirks & VMBUS_BACKEND_SIGNAL_UNMASKS_RX)
		remask_polling_channels(device);
	return rc;
}

int vmbus_chan_write(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet)
{
	int rc;

	if (channel == NULL || packet == NULL)
		return -EINVAL;
	/* After a rescind the kernel may reuse the ring pages: never touch them again. */
	if (device_gone(channel->device))
		return -ENOTCONN;
	rc = vmbus_ring_write(&channel->tx, packet);
	if (rc == 0)
		winapi_counter_add(&channel->stats.packets_sent, 1);
	return rc;
}

int vmbus_chan_write_begin(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet,
			   uint32_t payload_size, void *bounce, void **payload)
{
	if (channel == NULL)
		return -EINVAL;
	if (device_gone(channel->device))
		return -ENOTCONN;
	return vmbus_ring_write_begin(&channel->tx, packet, payload_size, bounce, payload);
}

void vmbus_chan_write_end(struct vmbus_channel *channel, const void *payload)
{
	vmbus_ring_write_end(&channel->tx, payload);
	winapi_counter_add(&channel->stats.packets_sent, 1);
}

int vmbus_chan_flush(struct vmbus_channel *channel)
{
	bool need_signal;

	vmbus_ring_write_publish(&channel->tx, &need_signal);
	return need_signal ? signal_peer(channel) : 0;
}

static int send_one(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet)
{
	int rc = vmbus_chan_write(channel, packet);

	return rc != 0 ? rc : vmbus_chan_flush(channel);
}

int vmbus_chan_send_inband(struct vmbus_channel *channel, uint64_t trans_id, uint16_t flags,
			   const struct iovec *payload, unsigned int payload_count)
{
	const struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_DATA_INBAND,
		.flags = flags,
		.trans_id = trans_id,
		.payload = payload,
		.payload_count = payload_count,
	};

	return send_one(channel, &packet);
}

int vmbus_chan_send_completion(struct vmbus_channel *channel, uint64_t trans_id,
			       const struct iovec *payload, unsigned int payload_count)
{
	const struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_COMPLETION,
		.trans_id = trans_id,
		.payload = payload,
		.payload_count = payload_count,
	};

	return send_one(channel, &packet);
}

/*
 * What a VMBus device may put on a ring: the types that travel in practice (vmbus-spec.md 3.2;
 * openvmm parse_packet accepts these and no others) and only the COMPLETION_REQUESTED flag.
 * Transfer-page and GPA-direct packets carry a header after the descriptor (offset8 >= 3).
 */
static bool packet_allowed(const struct vmbus_ring_packet_info *info)
{
	if (info->flags & ~VMBUS_PACKET_FLAG_COMPLETION_REQUESTED)
		return false;
	switch (info->type) {
	case VMBUS_PACKET_DATA_INBAND:
	case VMBUS_PACKET_COMPLETION:
		return true;
	case VMBUS_PACKET_DATA_USING_TRANSFER_PAGES:
	case VMBUS_PACKET_DATA_USING_GPA_DIRECT:
		return info->header_size >= 24;
	default:
		return false;
	}
}

int vmbus_chan_recv(struct vmbus_channel *channel, void *buffer, size_t buffer_size,
		    struct vmbus_ring_packet_info *info)
{
	int rc;

	if (channel == NULL || buffer == NULL || info == NULL)
		return -EINVAL;
	if (channel->rx_broken)
		return -EIO;
	if (device_gone(channel->device))
		return -ENOTCONN;
	rc = vmbus_ring_read(&channel->rx, buffer, buffer_size, info);
	if (rc == -EIO) {
		/* Corruption does not heal: stop reading the peer's indices altogether. */
		channel->rx_broken = true;
		winapi_counter_add(&channel->stats.bad_packets, 1);
	}
	if (rc != 0)
		return rc;
	if (!packet_allowed(info)) {
		winapi_counter_add(&channel->stats.bad_packets, 1);
		return -EBADMSG;
	}
	winapi_counter_add(&channel->stats.packets_received, 1);
	return 0;
}

int vmbus_chan_recv_done(struct vmbus_channel *channel)
{
	bool need_signal;

	/*
	 * uio_hv_generic before "Let userspace take care of interrupt mask" (6.18, backported
	 * to some stables) sets our RX mask in its interrupt handler. In interrupt mode the mask
	 * must be clear whenever the ring may go empty -> non-empty, so clear it again here.
	 */
	if (channel->interrupt_mode)
		vmbus_ring_set_interrupt_mask(&channel->rx, false);
	vmbus_ring_read_publish(&channel->rx, &need_signal);
	return need_signal ? signal_peer(channel) : 0;
}

bool vmbus_chan_rx_empty(const struct vmbus_channel *channel)
{
	return vmbus_ring_is_empty(&channel->rx);
}

void vmbus_chan_set_spin_ns(struct vmbus_channel *channel, uint32_t spin_ns)
{
	channel->spin_ns = spin_ns;
}

static void rx_arm(struct vmbus_channel *channel, uint32_t need, bool armed);

void vmbus_chan_set_interrupt_mode(struct vmbus_channel *channel, bool enabled)
{
	channel->interrupt_mode = false;
	rx_arm(channel, 0, enabled);
	channel->interrupt_mode = enabled;
	channel->spin_ns = enabled ? 0 : channel->device->default_spin_ns;
}

int vmbus_chan_wait_interrupt(struct vmbus_channel *channel, int timeout_ms)
{
	struct vmbus_device *device;
	uint64_t generation, deadline;
	int rc;

	if (channel == NULL)
		return -EINVAL;
	device = channel->device;
	deadline = timeout_ms < 0 ? UINT64_MAX : winapi_clock_now_ns() + (uint64_t)timeout_ms * 1000000u;
	generation = vmbus_device_wake_generation(device);
	rx_arm(channel, 0, true);
	winapi_counter_add_shared(&channel->stats.sleeps, 1);
	rc = vmbus_device_wait(device, generation, deadline);
	rx_arm(channel, 0, false);
	return rc;
}

void vmbus_chan_get_stats(const struct vmbus_channel *channel, struct vmbus_chan_stats *stats)
{
	const struct vmbus_chan_stats *counters = &channel->stats;

	stats->packets_sent = winapi_counter_read(&counters->packets_sent);
	stats->packets_received = winapi_counter_read(&counters->packets_received);
	stats->signals_sent = winapi_counter_read(&counters->signals_sent);
	stats->sleeps = winapi_counter_read(&counters->sleeps);
	stats->bad_packets = winapi_counter_read(&counters->bad_packets);
}

/*
 * The condition a wait is for: RX has a packet, or TX has room for @need bytes. The
 * consumer-side wait and the producer-side wait share the backoff below.
 */
struct wait_condition {
	/* 1: ready; 0: not yet; negative errno: it never will be (corrupt ring). */
	int (*ready)(struct vmbus_channel *channel, uint32_t need);
	/* Arm the peer's signal before sleeping (unmask RX / set pending_send_size), or disarm. */
	void (*arm)(struct vmbus_channel *channel, uint32_t need, bool armed);
	uint32_t need;
};

static int rx_ready(struct vmbus_channel *channel, uint32_t need)
{
	(void)need;
	return !vmbus_ring_is_empty(&channel->rx);
}

static void rx_arm(struct vmbus_channel *channel, uint32_t need, bool armed)
{
	pthread_mutex_t *lock = &channel->device->channels_lock;

	(void)need;
	if (!armed && channel->interrupt_mode)
		return; /* interrupt mode: RX stays unmasked between waits */
	/* Under channels_lock: see remask_polling_channels(). Only on the way to sleep. */
	pthread_mutex_lock(lock);
	channel->rx_armed = armed;
	vmbus_ring_set_interrupt_mask(&channel->rx, !armed);
	pthread_mutex_unlock(lock);
}

static int tx_ready(struct vmbus_channel *channel, uint32_t need)
{
	uint32_t free_bytes = vmbus_ring_bytes_free(&channel->tx);

	/* A valid ring always keeps its 8-byte gap free: 0 means the peer's read_index is bad. */
	if (free_bytes == 0)
		return -EIO;
	return free_bytes > need;
}

static void tx_arm(struct vmbus_channel *channel, uint32_t need, bool armed)
{
	vmbus_ring_set_pending_send_size(&channel->tx, armed ? need : 0);
}

static uint64_t deadline_after(uint64_t start, uint64_t delta_ns)
{
	return delta_ns > UINT64_MAX - start ? UINT64_MAX : start + delta_ns;
}

/*
 * How often a spinning wait looks at the backend. A rescind shows only there (uio's fd turns
 * readable, the emulator's socket closes), and a wait that spins to a far deadline would
 * otherwise learn it at that deadline. One look is a poll() that does not block: a few
 * microseconds every 2 ms.
 */
#define VMBUS_SPIN_LOOK_NS 2000000u

static int wait_backoff(struct vmbus_channel *channel, const struct wait_condition *condition,
			int timeout_ms)
{
	struct vmbus_device *device = channel->device;
	uint64_t start, deadline, spin_until, look_at, generation, now;
	unsigned int spins;
	int rc;

	/* After a rescind the kernel may reuse the ring pages: not even their indices are read. */
	rc = sticky_error(device);
	if (rc != 0)
		return rc;
	rc = condition->ready(channel, condition->need);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (timeout_ms == 0)
		return -ETIMEDOUT;

	start = winapi_clock_now_ns();
	deadline = timeout_ms < 0 ? UINT64_MAX : deadline_after(start, (uint64_t)timeout_ms * 1000000u);
	spin_until = channel->spin_ns == UINT32_MAX ? deadline : deadline_after(start, channel->spin_ns);
	if (spin_until > deadline)
		spin_until = deadline;
	look_at = deadline_after(start, VMBUS_SPIN_LOOK_NS);

	/* Spin: the peer is usually polling too and answers within a few microseconds. */
	for (spins = 1; channel->spin_ns != 0; spins++) {
		rc = condition->ready(channel, condition->need);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		vmbus_cpu_relax();
		/* Reading the clock costs more than a ring check: look at it every 64 spins. */
		if ((spins & 63u) != 0)
			continue;
		/* Another thread may have seen the peer go: stop reading the rings as soon as it did. */
		rc = sticky_error(device);
		if (rc != 0)
			return rc;
		now = winapi_clock_now_ns();
		if (now >= spin_until)
			break;
		if (now < look_at)
			continue;
		/*
		 * The look of vmbus_device_take_events(): an interrupt it finds wakes every waiter
		 * of the device as a sleeping wait would, so none is lost; the peer gone makes the
		 * error sticky for every channel before any ring is read again.
		 */
		rc = vmbus_device_take_events(device);
		if (rc != 0)
			return rc;
		look_at = deadline_after(now, VMBUS_SPIN_LOOK_NS);
	}

	/*
	 * Block. The generation is read before arming: a wake-up that another thread consumes
	 * after our re-check still moves it, and then vmbus_device_wait() returns at once.
	 * Arm, then re-check: a packet that raced in before the arming is never signalled.
	 */
	for (;;) {
		generation = vmbus_device_wake_generation(device);
		condition->arm(channel, condition->need, true);
		rc = condition->ready(channel, condition->need);
		if (rc != 0)
			break;
		winapi_counter_add_shared(&channel->stats.sleeps, 1);
		rc = vmbus_device_wait(device, generation, deadline);
		if (rc != 0)
			break;
	}
	condition->arm(channel, condition->need, false);
	if (rc < 0 && condition->ready(channel, condition->need) > 0)
		rc = 0;
	return rc < 0 ? rc : 0;
}

int vmbus_chan_arm(struct vmbus_channel *channel)
{
	int rc;

	if (channel == NULL)
		return -EINVAL;
	/* As in vmbus_chan_wait(): the peer's empty -> non-empty test reads our read_index. */
	rc = vmbus_chan_recv_done(channel);
	if (rc != 0)
		return rc;
	rc = sticky_error(channel->device);
	if (rc != 0)
		return rc;
	rx_arm(channel, 0, true);
	if (rx_ready(channel, 0)) {
		rx_arm(channel, 0, false);
		return -EAGAIN;
	}
	winapi_counter_add_shared(&channel->stats.sleeps, 1);
	return 0;
}

void vmbus_chan_disarm(struct vmbus_channel *channel)
{
	if (channel != NULL)
		rx_arm(channel, 0, false);
}

int vmbus_chan_wait(struct vmbus_channel *channel, int timeout_ms)
{
	const struct wait_condition condition = { .ready = rx_ready, .arm = rx_arm };
	int rc;

	if (channel == NULL)
		return -EINVAL;
	/*
	 * Release what was read first: the producer may be blocked on that space, and its
	 * empty -> non-empty test uses the published read_index.
	 */
	rc = vmbus_chan_recv_done(channel);
	if (rc != 0)
		return rc;
	return wait_backoff(channel, &condition, timeout_ms);
}

int vmbus_chan_wait_writable(struct vmbus_channel *channel, uint32_t packet_size, int timeout_ms)
{
	struct wait_condition condition = { .ready = tx_ready, .arm = tx_arm };
	int rc;

	if (channel == NULL)
		return -EINVAL;
	if (packet_size > vmbus_ring_max_packet_size(&channel->tx))
		return -EMSGSIZE;
	/* Publish what was written first: the consumer may be asleep waiting for it. */
	rc = vmbus_chan_flush(channel);
	if (rc != 0)
		return rc;
	/* The ring's full rule: room means free > packet + trailer. */
	condition.need = vmbus_packet_align8(packet_size) + VMBUS_PACKET_TRAILER_SIZE;
	return wait_backoff(channel, &condition, timeout_ms);
}

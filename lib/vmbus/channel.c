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
	const struct vmbus_channel_region *region;
	struct vmbus_channel *channel;
	uint8_t *first_half, *second_half;
	int rc;

	if (device == NULL || channel_out == NULL || index >= device->params.channel_count)
		return -EINVAL;
	if (device->channels[index] != NULL)
		return -EBUSY;

	channel = calloc(1, sizeof(*channel));
	if (channel == NULL)
		return -ENOMEM;
	channel->device = device;
	channel->index = index;
	channel->spin_ns = device->default_spin_ns;

	region = &device->regions[index];
	first_half = region->ring_base;
	second_half = first_half + region->ring_size;
	rc = vmbus_ring_attach(&channel->tx,
			       device->params.side == VMBUS_SIDE_GUEST ? first_half : second_half,
			       region->ring_size, device->params.page_size);
	if (rc != 0)
		goto err_free_channel;
	rc = vmbus_ring_attach(&channel->rx,
			       device->params.side == VMBUS_SIDE_GUEST ? second_half : first_half,
			       region->ring_size, device->params.page_size);
	if (rc != 0)
		goto err_free_channel;

	/* Start in polling mode: the peer need not signal us until we decide to sleep. */
	vmbus_ring_set_interrupt_mask(&channel->rx, true);

	device->channels[index] = channel;
	*channel_out = channel;
	return 0;

err_free_channel:
	free(channel);
	return rc;
}

void vmbus_chan_close(struct vmbus_channel *channel)
{
	if (channel == NULL)
		return;
	channel->device->channels[channel->index] = NULL;
	free(channel);
}

uint32_t vmbus_chan_max_packet_size(const struct vmbus_channel *channel)
{
	return vmbus_ring_max_packet_size(&channel->tx);
}

static int signal_peer(struct vmbus_channel *channel)
{
	struct vmbus_device *device = channel->device;

	channel->stats.signals_sent++;
	return device->params.ops->signal(device, channel->index);
}

int vmbus_chan_write(struct vmbus_channel *channel, const struct vmbus_ring_packet *packet)
{
	int rc;

	if (channel == NULL || packet == NULL)
		return -EINVAL;
	rc = vmbus_ring_write(&channel->tx, packet);
	if (rc == 0)
		channel->stats.packets_sent++;
	return rc;
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

/* Packet types that a VMBus device may put on a ring (openvmm parse_packet accepts these). */
static bool packet_type_allowed(uint16_t type)
{
	switch (type) {
	case VMBUS_PACKET_DATA_INBAND:
	case VMBUS_PACKET_DATA_USING_TRANSFER_PAGES:
	case VMBUS_PACKET_DATA_USING_GPADL:
	case VMBUS_PACKET_DATA_USING_GPA_DIRECT:
	case VMBUS_PACKET_COMPLETION:
		return true;
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
	rc = vmbus_ring_read(&channel->rx, buffer, buffer_size, info);
	if (rc == -EIO)
		channel->stats.bad_packets++;
	if (rc != 0)
		return rc;
	if (!packet_type_allowed(info->type) || (info->flags & ~VMBUS_PACKET_FLAG_COMPLETION_REQUESTED)) {
		channel->stats.bad_packets++;
		return -EBADMSG;
	}
	channel->stats.packets_received++;
	return 0;
}

int vmbus_chan_recv_done(struct vmbus_channel *channel)
{
	bool need_signal;

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

void vmbus_chan_get_stats(const struct vmbus_channel *channel, struct vmbus_chan_stats *stats)
{
	*stats = channel->stats;
}

/*
 * The condition a wait is for: RX has a packet, or TX has room for @need bytes. The
 * consumer-side wait and the producer-side wait share the backoff below.
 */
struct wait_condition {
	bool (*ready)(struct vmbus_channel *channel, uint32_t need);
	/* Arm the peer's signal before sleeping (unmask RX / set pending_send_size), or disarm. */
	void (*arm)(struct vmbus_channel *channel, uint32_t need, bool armed);
	uint32_t need;
};

static bool rx_ready(struct vmbus_channel *channel, uint32_t need)
{
	(void)need;
	return !vmbus_ring_is_empty(&channel->rx);
}

static void rx_arm(struct vmbus_channel *channel, uint32_t need, bool armed)
{
	(void)need;
	vmbus_ring_set_interrupt_mask(&channel->rx, !armed);
}

static bool tx_ready(struct vmbus_channel *channel, uint32_t need)
{
	return vmbus_ring_bytes_free(&channel->tx) > need;
}

static void tx_arm(struct vmbus_channel *channel, uint32_t need, bool armed)
{
	vmbus_ring_set_pending_send_size(&channel->tx, armed ? need : 0);
}

static uint64_t deadline_after(uint64_t start, uint64_t delta_ns)
{
	return delta_ns > UINT64_MAX - start ? UINT64_MAX : start + delta_ns;
}

static int wait_backoff(struct vmbus_channel *channel, const struct wait_condition *condition,
			int timeout_ms)
{
	struct vmbus_device *device = channel->device;
	uint64_t start, deadline, spin_until, now;
	unsigned int spins;
	int rc;

	if (condition->ready(channel, condition->need))
		return 0;
	if (timeout_ms == 0)
		return -ETIMEDOUT;

	start = vmbus_now_ns();
	deadline = timeout_ms < 0 ? UINT64_MAX : deadline_after(start, (uint64_t)timeout_ms * 1000000u);
	spin_until = channel->spin_ns == UINT32_MAX ? deadline : deadline_after(start, channel->spin_ns);
	if (spin_until > deadline)
		spin_until = deadline;

	/* Spin: the peer is usually polling too and answers within a few microseconds. */
	for (spins = 1;; spins++) {
		if (condition->ready(channel, condition->need))
			return 0;
		/* Reading the clock costs more than a ring check: look at it every 64 spins. */
		if ((spins & 63u) == 0 && vmbus_now_ns() >= spin_until)
			break;
		vmbus_cpu_relax();
	}

	/* Block: arm the peer's signal, re-check (else a packet that raced in is never signalled). */
	for (;;) {
		int wait_ms;

		condition->arm(channel, condition->need, true);
		if (condition->ready(channel, condition->need)) {
			rc = 0;
			break;
		}
		now = vmbus_now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		wait_ms = deadline == UINT64_MAX ? -1 :
			(int)((deadline - now + 999999u) / 1000000u);
		channel->stats.sleeps++;
		rc = device->params.ops->wait(device, wait_ms);
		if (rc != 0 && rc != -ETIMEDOUT)
			break;
	}
	condition->arm(channel, condition->need, false);
	if (rc != 0 && condition->ready(channel, condition->need))
		rc = 0;
	return rc;
}

int vmbus_chan_wait(struct vmbus_channel *channel, int timeout_ms)
{
	const struct wait_condition condition = { .ready = rx_ready, .arm = rx_arm };

	if (channel == NULL)
		return -EINVAL;
	return wait_backoff(channel, &condition, timeout_ms);
}

int vmbus_chan_wait_writable(struct vmbus_channel *channel, uint32_t packet_size, int timeout_ms)
{
	struct wait_condition condition = { .ready = tx_ready, .arm = tx_arm };

	if (channel == NULL)
		return -EINVAL;
	if (packet_size > vmbus_ring_max_packet_size(&channel->tx))
		return -EMSGSIZE;
	/* The ring's full rule: room means free > packet + trailer. */
	condition.need = vmbus_packet_align8(packet_size) + VMBUS_PACKET_TRAILER_SIZE;
	return wait_backoff(channel, &condition, timeout_ms);
}

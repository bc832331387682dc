/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/vmbus internals: the device and channel objects behind the opaque public handles. */
#ifndef LIB_VMBUS_PRIVATE_H
#define LIB_VMBUS_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <vmbus/backend.h>
#include <vmbus/channel.h>
#include <vmbus/ring.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/counter.h>

struct vmbus_channel {
	struct vmbus_device *device;
	unsigned int index;
	struct vmbus_ring tx;
	struct vmbus_ring rx;
	uint32_t spin_ns;
	bool rx_broken;                /* the peer corrupted the RX ring: every receive is -EIO */
	bool rx_armed;                 /* a wait has unmasked RX to sleep; under channels_lock */
	bool interrupt_mode;           /* RX stays unmasked; waits block at once */
	struct vmbus_chan_stats stats; /* updated with relaxed atomics: both directions count */
};

/* Primary + 63 subchannels: what uio_hv_generic and DPDK's vmbus bus support. */
#define VMBUS_MAX_CHANNELS 64

struct vmbus_device {
	struct vmbus_device_params params; /* params.channels points at regions below */
	struct vmbus_channel_region regions[VMBUS_MAX_CHANNELS];
	/* channel_count and the open channels, changed under channels_lock */
	pthread_mutex_t channels_lock;
	unsigned int channel_count;        /* read with __atomic where unlocked */
	struct vmbus_channel *channels[VMBUS_MAX_CHANNELS]; /* open channels, NULL where closed */
	uint32_t default_spin_ns;

	/*
	 * The backend has one interrupt source per device (uio: one fd for all channels), and
	 * waiting on it consumes the event. So only one thread sleeps in the backend at a time;
	 * other waiters sleep on wait_cond, and every interrupt bumps wake_generation so that each
	 * waiter re-checks its own ring. A waiter reads the generation before it arms and
	 * re-checks, and never blocks once the generation has moved: no wake-up is lost between
	 * threads.
	 */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	uint64_t wake_generation; /* written under wait_lock, read with __atomic */
	bool sleeper;             /* a thread is inside ops->wait */
	int backend_error;        /* sticky: -ENOTCONN once the peer is gone, or the backend's error;
	                             written under wait_lock, read with __atomic anywhere */
};

/* Snapshot the device's wake-up generation before arming a wait. */
uint64_t vmbus_device_wake_generation(struct vmbus_device *device);

/*
 * Block until the wake-up generation differs from @seen, the peer is gone, or @deadline_ns
 * (CLOCK_MONOTONIC, UINT64_MAX: none) passes. Returns 0, -ETIMEDOUT, or the backend's
 * sticky error (-ENOTCONN: the peer is gone).
 */
int vmbus_device_wait(struct vmbus_device *device, uint64_t seen, uint64_t deadline_ns);

#endif /* LIB_VMBUS_PRIVATE_H */

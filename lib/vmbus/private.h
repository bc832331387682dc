/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/vmbus internals: the device and channel objects behind the opaque public handles. */
#ifndef LIB_VMBUS_PRIVATE_H
#define LIB_VMBUS_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <vmbus/backend.h>
#include <vmbus/channel.h>
#include <vmbus/ring.h>

struct vmbus_channel {
	struct vmbus_device *device;
	unsigned int index;
	struct vmbus_ring tx;
	struct vmbus_ring rx;
	uint32_t spin_ns;
	struct vmbus_chan_stats stats;
};

struct vmbus_device {
	struct vmbus_device_params params; /* params.channels points at regions below */
	struct vmbus_channel_region *regions;
	struct vmbus_channel **channels;   /* open channels, NULL where closed */
	uint32_t default_spin_ns;
};

static inline uint64_t vmbus_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Tell the sibling hyperthread (and the power manager) that we are spinning. */
static inline void vmbus_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* LIB_VMBUS_PRIVATE_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy memory as a device has it: the device calls that reach the backend's memory ops
 * (GPADL regions, DMA memory), and the monitor page's trigger bits. What needs no device is
 * apart: the GPA-direct codec (gpa.c), which the Windows host service builds without the
 * device objects, and the page allocator (page_allocator.c), which owns no memory at all.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmbus/memory.h>

#include "private.h"

int vmbus_device_gpadl_region(const struct vmbus_device *device, enum vmbus_gpadl_region_index index,
			      struct vmbus_gpadl_region *region)
{
	if (device == NULL || region == NULL || (index != VMBUS_GPADL_RECEIVE && index != VMBUS_GPADL_SEND))
		return -EINVAL;
	if (device->params.ops->gpadl_region == NULL)
		return -ENOENT;
	return device->params.ops->gpadl_region(device, index, region);
}

int vmbus_device_dma_alloc(struct vmbus_device *device, size_t size, void **address)
{
	if (device == NULL || address == NULL || size == 0)
		return -EINVAL;
	if (device->params.ops->dma_alloc == NULL)
		return -EOPNOTSUPP;
	return device->params.ops->dma_alloc(device, size, address);
}

void vmbus_device_dma_free(struct vmbus_device *device, void *address, size_t size)
{
	if (device != NULL && address != NULL && device->params.ops->dma_free != NULL)
		device->params.ops->dma_free(device, address, size);
}

int vmbus_device_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			  size_t max)
{
	if (device == NULL || address == NULL || pfns == NULL || size == 0)
		return -EINVAL;
	if (device->params.ops->dma_pfns == NULL)
		return -EINVAL;
	return device->params.ops->dma_pfns(device, address, size, pfns, max);
}

int vmbus_device_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
			   uint64_t *offset)
{
	if (device == NULL || address == NULL || size == 0 || fd == NULL || offset == NULL)
		return -EINVAL;
	if (device->params.ops->dma_share == NULL)
		return -EOPNOTSUPP;
	return device->params.ops->dma_share(device, address, size, fd, offset);
}

/* struct vmbus_mon_page: u32 state, u32 reserved, then trigs[4] { u32 pending; u32 armed; }. */
#define MONITOR_TRIGGER_OFFSET 8u
#define MONITOR_TRIGGER_STRIDE 8u

static uint32_t *monitor_pending(void *monitor_page, uint32_t monitor_id)
{
	return (uint32_t *)((uint8_t *)monitor_page + MONITOR_TRIGGER_OFFSET +
			    (monitor_id / 32) * MONITOR_TRIGGER_STRIDE);
}

void vmbus_monitor_trigger(void *monitor_page, uint32_t monitor_id)
{
	__atomic_fetch_or(monitor_pending(monitor_page, monitor_id), 1u << (monitor_id % 32), __ATOMIC_SEQ_CST);
}

bool vmbus_monitor_take(void *monitor_page, uint32_t monitor_id)
{
	uint32_t bit = 1u << (monitor_id % 32);

	return (__atomic_fetch_and(monitor_pending(monitor_page, monitor_id), ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

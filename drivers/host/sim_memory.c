/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's view of a guest's memory (drivers/bus/sim): the GPADL regions its offer
 * shared, and the guest RAM memfd GPA-direct page numbers index. Any process that serves a
 * sim device (winapi-host-sim, a test's own host) reaches buffers through these.
 */
#include <vmbus/memory.h>
#include <vmbus/sim.h>

#include "host_private.h"

static void *sim_gpadl_span(void *context, uint32_t gpadl, uint64_t offset, uint64_t length)
{
	struct vmbus_gpadl_region region;
	unsigned int i;

	for (i = VMBUS_GPADL_RECEIVE; i <= VMBUS_GPADL_SEND; i++) {
		if (vmbus_device_gpadl_region(context, i, &region) != 0 || region.gpadl != gpadl)
			continue;
		if (offset > region.size || length > region.size - offset)
			return NULL;
		return (uint8_t *)region.address + offset;
	}
	return NULL;
}

static void *sim_guest_page(void *context, uint64_t pfn)
{
	size_t size;
	void *ram;

	if (vmbus_sim_host_guest_ram(context, &ram, &size) != 0 || pfn >= size / VMBUS_PAGE_SIZE)
		return NULL;
	return (uint8_t *)ram + pfn * VMBUS_PAGE_SIZE;
}

void winapi_host_sim_memory(struct vmbus_device *device, struct winapi_host_memory *memory)
{
	*memory = (struct winapi_host_memory){
		.gpadl_span = sim_gpadl_span,
		.guest_page = sim_guest_page,
		.context = device,
	};
}

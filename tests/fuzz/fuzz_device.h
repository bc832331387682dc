/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend of a device whose rings are plain memory of the fuzz target: no peer to signal,
 * nothing ever to wait for, and (for targets that poll it) an event descriptor the target
 * keeps in the device's backend data. Shared by the targets that build a device in memory.
 */
#ifndef TESTS_FUZZ_DEVICE_H
#define TESTS_FUZZ_DEVICE_H

#include <errno.h>

#include <vmbus/backend.h>

static inline int fuzz_device_signal(struct vmbus_device *device, unsigned int index)
{
	(void)device;
	(void)index;
	return 0;
}

static inline int fuzz_device_wait(struct vmbus_device *device, int timeout_ms)
{
	(void)device;
	(void)timeout_ms;
	return -ETIMEDOUT;
}

/* The backend data must be the int the target polls. */
static inline int fuzz_device_event_fd(const struct vmbus_device *device)
{
	return *(const int *)vmbus_device_backend_data(device);
}

#endif /* TESTS_FUZZ_DEVICE_H */

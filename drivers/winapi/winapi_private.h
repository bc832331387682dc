/* SPDX-License-Identifier: BSD-3-Clause */
/* drivers/winapi internals: what its transports (uio, the emulator, winapi-pmd) share. */
#ifndef DRIVERS_WINAPI_PRIVATE_H
#define DRIVERS_WINAPI_PRIVATE_H

#include <vmbus/channel.h>
#include <winapi_internal/transport.h>

/*
 * Bind the winapi driver to channel 0 of @device and make it a transport instance that owns
 * the device from then on. On failure the device is closed. Logs the cause.
 * Returns 0, or winapi_driver_open()'s error.
 */
int winapi_transport_bind(struct vmbus_device *device, struct winapi_transport_instance *instance);

#endif /* DRIVERS_WINAPI_PRIVATE_H */

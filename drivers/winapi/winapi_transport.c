/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VMBus transports of liblowlat: the winapi driver on a real device bound to
 * uio_hv_generic ("uio"), or on the host emulator ("sim"). With WINAPI_TRANSPORT unset, the
 * real device is tried first and the emulator only where this machine has none. (winapi-pmd,
 * the third way to a device, is pmd_client.c.)
 */
#include <errno.h>
#include <string.h>

#include <vmbus/guid.h>
#include <vmbus/sim.h>
#include <vmbus/uio.h>
#include <winapi/log.h>
#include <winapi/protocol.h>
#include <winapi_internal/request_table.h>
#include <winapi_internal/winapi_driver.h>

#include "winapi_private.h"

/* The seam's operations are the driver's own calls, on the driver's types. */
static int vmbus_call(void *driver, struct winapi_call *call)
{
	return winapi_driver_call(driver, call);
}

static void vmbus_get_stats(void *driver, struct winapi_transport_stats *stats)
{
	winapi_driver_get_stats(driver, stats);
}

static uint64_t vmbus_buffer_page_budget(void *driver, unsigned int buffer_count, uint32_t inline_length)
{
	return winapi_driver_gpa_page_budget(driver, buffer_count, inline_length);
}

static int vmbus_queue_create(void *driver, unsigned int depth, int timeout_ms, void **queue)
{
	struct winapi_driver_queue *created;
	int rc = winapi_driver_queue_create(driver, depth, timeout_ms, &created);

	if (rc == 0)
		*queue = created;
	return rc;
}

static void vmbus_queue_destroy(void *queue)
{
	winapi_driver_queue_destroy(queue);
}

static int vmbus_queue_add(void *queue, const struct winapi_call *call, void *user_data)
{
	return winapi_driver_queue_add(queue, call, user_data);
}

static int vmbus_queue_submit(void *queue)
{
	return winapi_driver_queue_submit(queue);
}

static int vmbus_queue_reap(void *queue, struct winapi_call_completion *completions, unsigned int max,
			    unsigned int min, int timeout_ms)
{
	return winapi_driver_queue_reap(queue, completions, max, min, timeout_ms);
}

static int vmbus_queue_event_fd(void *queue)
{
	return winapi_driver_queue_event_fd(queue);
}

static void vmbus_close(void *driver)
{
	winapi_driver_close(driver);
}

static const struct winapi_transport_ops vmbus_ops = {
	.call = vmbus_call,
	.get_stats = vmbus_get_stats,
	.buffer_page_budget = vmbus_buffer_page_budget,
	.queue_create = vmbus_queue_create,
	.queue_destroy = vmbus_queue_destroy,
	.queue_add = vmbus_queue_add,
	.queue_submit = vmbus_queue_submit,
	.queue_reap = vmbus_queue_reap,
	.queue_event_fd = vmbus_queue_event_fd,
	.close = vmbus_close,
};

int winapi_transport_bind(struct vmbus_device *device, struct winapi_transport_instance *instance)
{
	struct winapi_driver *driver;
	int rc = winapi_driver_open(device, 0, &driver);

	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot bind the winapi channel: %s%s", strerror(-rc),
			   rc == -ENODEV ? " (the host offers a device of another class)" : "");
		vmbus_device_close(device);
		return rc;
	}
	*instance = (struct winapi_transport_instance){ .ops = &vmbus_ops, .context = driver, .device = device };
	return 0;
}

/*
 * The real device. Chosen automatically, a machine without VMBus or without a winapi device
 * is not an error: the next transport (the emulator) is tried (-ENODEV). A winapi device that
 * exists but cannot be used is an error either way: falling back would hide it.
 */
static int uio_open(bool automatic, struct winapi_transport_instance *instance)
{
	struct vmbus_uio_open_params params = { 0 };
	struct vmbus_device *device;
	char message[512] = "";
	int rc;

	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id);
	params.error_message = message;
	params.error_size = sizeof(message);
	rc = vmbus_uio_open(&params, &device);
	if (rc != 0 && automatic && (rc == -ENOENT || rc == -ENODEV))
		return -ENODEV;
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot use the winapi VMBus device: %s",
			   message[0] ? message : strerror(-rc));
		return rc;
	}
	return winapi_transport_bind(device, instance);
}

static const char *sim_remedy(int error)
{
	switch (error) {
	case -ENOENT:
	case -ECONNREFUSED:
		return " (is winapi-host-sim running? start it, or point WINAPI_SIM_SOCKET at its socket)";
	case -EBUSY:
		return " (another process owns the device; one guest process at a time)";
	case -EPROTO:
		return " (the emulator's offer is malformed; is it the same version as this library?)";
	default:
		return "";
	}
}

/* The host emulator, at $WINAPI_SIM_SOCKET or its default socket. */
static int sim_open(bool automatic, struct winapi_transport_instance *instance)
{
	struct vmbus_device *device;
	char path[108];
	int rc = vmbus_sim_socket_path(NULL, path, sizeof(path));

	(void)automatic;
	if (rc == 0)
		rc = vmbus_sim_connect(path, request_default_timeout_ms(), &device);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to the host emulator at %s: %s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc), sim_remedy(rc));
		return rc;
	}
	return winapi_transport_bind(device, instance);
}

const struct winapi_transport winapi_transport_uio = {
	.name = "uio",
	.automatic = true,
	.open = uio_open,
};

const struct winapi_transport winapi_transport_sim = {
	.name = "sim",
	.automatic = true,
	.open = sim_open,
};

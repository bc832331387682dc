/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat: the application API over drivers/winapi. For now the transport is the host
 * emulator's backend (drivers/bus/sim); the uio backend plugs in under the same calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/sim.h>
#include <winapi/driver.h>
#include <winapi/log.h>
#include <winapi/lowlat.h>
#include <winapi/protocol.h>

struct winapi_handle {
	struct vmbus_device *device;
	struct winapi_driver *driver;
};

static const char *remedy_for(int error)
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

winapi_handle_t winapi_init(void)
{
	struct winapi_handle *handle;
	char path[108];
	int rc;

	handle = calloc(1, sizeof(*handle));
	if (handle == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = vmbus_sim_socket_path(NULL, path, sizeof(path));
	if (rc == 0)
		rc = vmbus_sim_connect(path, winapi_driver_default_timeout_ms(), &handle->device);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to the host at %s: %s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc), remedy_for(rc));
		goto err_free_handle;
	}
	rc = winapi_driver_open(handle->device, &handle->driver);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot bind the winapi channel: %s%s",
			   strerror(-rc), rc == -ENODEV ? " (the host offers a device of another class)" : "");
		goto err_close_device;
	}
	return handle;

err_close_device:
	vmbus_device_close(handle->device);
err_free_handle:
	free(handle);
	errno = -rc;
	return NULL;
}

int winapi_echo(winapi_handle_t handle, const char *input, char *output, size_t output_size)
{
	struct winapi_call call;
	size_t length;
	int rc;

	if (handle == NULL || input == NULL || output == NULL)
		return -EINVAL;
	length = strnlen(input, WINAPI_MAX_INLINE_DATA + 1);
	if (length > WINAPI_MAX_INLINE_DATA)
		return -EMSGSIZE;
	if (output_size < length + 1)
		return -ENOBUFS;

	memset(&call, 0, sizeof(call));
	call.api_id = WINAPI_API_ECHO;
	call.request_data = input;
	call.request_length = (uint32_t)length;
	call.reply_data = output;
	/* One byte stays for the terminating NUL. */
	call.reply_capacity = (uint32_t)(output_size - 1 > WINAPI_MAX_INLINE_DATA ?
					 WINAPI_MAX_INLINE_DATA : output_size - 1);
	call.timeout_ms = -1;
	rc = winapi_driver_call(handle->driver, &call);
	if (rc != 0)
		return rc;
	output[call.reply_length] = '\0';
	return 0;
}

int winapi_get_stats(winapi_handle_t handle, struct winapi_stats *stats)
{
	struct winapi_driver_stats driver_stats;

	if (handle == NULL || stats == NULL)
		return -EINVAL;
	winapi_driver_get_stats(handle->driver, &driver_stats);
	stats->calls = driver_stats.calls;
	stats->failed_calls = driver_stats.failed_calls;
	stats->timeouts = driver_stats.timeouts;
	stats->stale_completions = driver_stats.stale_completions;
	stats->unexpected_packets = driver_stats.unexpected_packets;
	stats->signals_sent = driver_stats.channel.signals_sent;
	stats->sleeps = driver_stats.channel.sleeps;
	return 0;
}

void winapi_cleanup(winapi_handle_t handle)
{
	if (handle == NULL)
		return;
	winapi_driver_close(handle->driver);
	vmbus_device_close(handle->device);
	free(handle);
}

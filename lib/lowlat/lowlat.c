/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat: the application API over drivers/winapi, on either backend: a winapi device
 * bound to uio_hv_generic, or the host emulator.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmbus/sim.h>
#include <vmbus/uio.h>
#include <winapi/log.h>
#include <winapi/pmd.h>
#include <winapi/protocol.h>

#include "lowlat_private.h"

/* The newest open handle's attachment: where winapi_alloc_buffer() takes memory from. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lowlat_attachment *current;

void lowlat_attachment_get(struct lowlat_attachment *attachment)
{
	__atomic_fetch_add(&attachment->references, 1, __ATOMIC_RELAXED);
}

void lowlat_attachment_put(struct lowlat_attachment *attachment)
{
	unsigned int i;

	if (__atomic_sub_fetch(&attachment->references, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < 2; i++)
		vmbus_page_allocator_destroy(attachment->pools[i]);
	vmbus_device_close(attachment->device);
	free(attachment);
}

struct lowlat_attachment *lowlat_current_attachment(void)
{
	struct lowlat_attachment *attachment;

	pthread_mutex_lock(&current_lock);
	attachment = current;
	if (attachment != NULL)
		lowlat_attachment_get(attachment);
	pthread_mutex_unlock(&current_lock);
	return attachment;
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

static int attach_sim(struct vmbus_device **device)
{
	char path[108];
	int rc = vmbus_sim_socket_path(NULL, path, sizeof(path));

	if (rc == 0)
		rc = vmbus_sim_connect(path, winapi_driver_default_timeout_ms(), device);
	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to the host emulator at %s: %s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc), sim_remedy(rc));
	return rc;
}

/*
 * winapi-pmd: the daemon offers each client a private device with the emulator's protocol,
 * so the client stack is the same as on the emulator. $WINAPI_PMD_SOCKET, else the default
 * instance in this user's runtime directory, else the system one (a daemon run by systemd).
 */
static int attach_pmd(struct vmbus_device **device)
{
	const char *explicit_path = getenv("WINAPI_PMD_SOCKET");
	char path[108];
	int rc;

	if (explicit_path != NULL && *explicit_path != '\0') {
		rc = vmbus_sim_socket_path(explicit_path, path, sizeof(path));
	} else {
		rc = winapi_pmd_socket_path(NULL, false, WINAPI_PMD_CLIENT_SOCKET, path, sizeof(path));
		if (rc == 0 && access(path, F_OK) != 0)
			rc = winapi_pmd_socket_path(NULL, true, WINAPI_PMD_CLIENT_SOCKET, path, sizeof(path));
	}
	if (rc == 0)
		rc = vmbus_sim_connect(path, winapi_driver_default_timeout_ms(), device);
	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to winapi-pmd at %s: %s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc),
			   rc == -ENOENT || rc == -ECONNREFUSED ?
				   " (is winapi-pmd running? point WINAPI_PMD_SOCKET at its socket)" :
				   rc == -EACCES ? " (the socket is 0660: join the daemon's --group)" : "");
	return rc;
}

/*
 * The real device. With @automatic, a machine without VMBus or without a winapi device is
 * not an error: the caller falls back to the emulator (-ENODEV). A winapi device that exists
 * but cannot be used is an error either way: falling back would hide it.
 */
static int attach_uio(bool automatic, struct vmbus_device **device)
{
	struct vmbus_uio_open_params params = { 0 };
	char message[512] = "";
	int rc;

	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id);
	params.error_message = message;
	params.error_size = sizeof(message);
	rc = vmbus_uio_open(&params, device);
	if (rc != 0 && automatic && (rc == -ENOENT || rc == -ENODEV))
		return -ENODEV;
	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot use the winapi VMBus device: %s",
			   message[0] ? message : strerror(-rc));
	return rc;
}

static int attach(struct vmbus_device **device)
{
	const char *transport = getenv("WINAPI_TRANSPORT");
	int rc;

	if (transport != NULL && strcmp(transport, "sim") == 0)
		return attach_sim(device);
	if (transport != NULL && strcmp(transport, "uio") == 0)
		return attach_uio(false, device);
	if (transport != NULL && strcmp(transport, "pmd") == 0)
		return attach_pmd(device);
	if (transport != NULL && *transport != '\0') {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "WINAPI_TRANSPORT=%s: want uio, sim or pmd", transport);
		return -EINVAL;
	}
	rc = attach_uio(true, device);
	return rc == -ENODEV ? attach_sim(device) : rc;
}

/* Carve the device's GPADL regions (when it has them) into page runs for buffers. */
static int create_attachment(struct vmbus_device *device, struct lowlat_attachment **attachment_out)
{
	struct lowlat_attachment *attachment = calloc(1, sizeof(*attachment));
	unsigned int i;
	int rc;

	if (attachment == NULL)
		return -ENOMEM;
	attachment->references = 1;
	attachment->device = device;
	for (i = 0; i < 2; i++) {
		if (vmbus_device_gpadl_region(device, i, &attachment->regions[i]) != 0 ||
		    attachment->regions[i].size < VMBUS_PAGE_SIZE) {
			memset(&attachment->regions[i], 0, sizeof(attachment->regions[i]));
			continue;
		}
		rc = vmbus_page_allocator_create(attachment->regions[i].size / VMBUS_PAGE_SIZE, VMBUS_PAGE_SIZE,
						 &attachment->pools[i]);
		if (rc != 0) {
			vmbus_page_allocator_destroy(attachment->pools[0]);
			free(attachment);
			return rc;
		}
	}
	*attachment_out = attachment;
	return 0;
}

winapi_handle_t winapi_init(void)
{
	struct vmbus_device *device;
	struct winapi_handle *handle;
	int rc;

	handle = calloc(1, sizeof(*handle));
	if (handle == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = attach(&device);
	if (rc != 0)
		goto err_free_handle;
	rc = create_attachment(device, &handle->attachment);
	if (rc != 0) {
		vmbus_device_close(device);
		goto err_free_handle;
	}
	rc = winapi_driver_open(device, 0, &handle->driver);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot bind the winapi channel: %s%s", strerror(-rc),
			   rc == -ENODEV ? " (the host offers a device of another class)" : "");
		goto err_put_attachment;
	}

	pthread_mutex_lock(&current_lock);
	if (current != NULL)
		lowlat_attachment_put(current);
	current = handle->attachment;
	lowlat_attachment_get(current);
	pthread_mutex_unlock(&current_lock);
	return handle;

err_put_attachment:
	lowlat_attachment_put(handle->attachment);
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
	pthread_mutex_lock(&current_lock);
	if (current == handle->attachment) {
		lowlat_attachment_put(current);
		current = NULL;
	}
	pthread_mutex_unlock(&current_lock);
	/* Buffers still allocated keep the memory (and the device's mappings) alive. */
	lowlat_attachment_put(handle->attachment);
	free(handle);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat: the application API over drivers/winapi, on either backend: a winapi device
 * bound to uio_hv_generic, or the host emulator.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
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
	if (attachment->device != NULL)
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

/* 9p (WSL2's /mnt/c is drvfs over 9p) or a FUSE mount: neither is memory both sides share. */
#define V9FS_MAGIC 0x01021997
#define FUSE_SUPER_MAGIC 0x65735546

/*
 * The WSL2 design (seed 002) put bulk data in a file under /mnt/c. That is no shared memory:
 * drvfs reaches Windows through 9p, so one side's writes reach the other late or never.
 * Memory the host really shares is the VMBus transport's GPADLs and DMA pages; the hvsock
 * transport carries bulk data on the socket, because the Windows host cannot map a file of
 * the guest at all. So a path in $WINAPI_SHARED_MEM is refused, with the reason.
 */
static int check_shared_memory_path(const char *path)
{
	struct statfs filesystem;

	if (path == NULL || *path == '\0')
		return 0;
	if (strncmp(path, "/mnt/", 5) == 0 ||
	    (statfs(path, &filesystem) == 0 &&
	     (filesystem.f_type == V9FS_MAGIC || filesystem.f_type == FUSE_SUPER_MAGIC))) {
		winapi_log(WINAPI_LOG_ERR, "lowlat",
			   "WINAPI_SHARED_MEM=%s: a file under /mnt (WSL2's drvfs, 9p or FUSE) is not memory "
			   "Windows and Linux see coherently: writes on one side reach the other late or not "
			   "at all. Unset WINAPI_SHARED_MEM: bulk data travels on the Hyper-V socket.", path);
		return -EINVAL;
	}
	winapi_log(WINAPI_LOG_ERR, "lowlat",
		   "WINAPI_SHARED_MEM=%s: the Windows host cannot map a file of the Linux guest, so no "
		   "path is coherent with it; unset WINAPI_SHARED_MEM. Bulk data travels on the Hyper-V "
		   "socket (WINAPI_TRANSPORT=hvsock) or in memory the host maps through VMBus GPADLs "
		   "(uio, sim, pmd), never through a file.", path);
	return -EOPNOTSUPP;
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

static int attach(const char *transport, struct vmbus_device **device)
{
	int rc;

	if (transport != NULL && strcmp(transport, "sim") == 0)
		return attach_sim(device);
	if (transport != NULL && strcmp(transport, "uio") == 0)
		return attach_uio(false, device);
	if (transport != NULL && strcmp(transport, "pmd") == 0)
		return attach_pmd(device);
	rc = attach_uio(true, device);
	return rc == -ENODEV ? attach_sim(device) : rc;
}

/* The VMBus transports: the driver's calls, as they are. */
static int vmbus_call(void *driver, struct winapi_call *call)
{
	return winapi_driver_call(driver, call);
}

static void vmbus_get_stats(void *driver, struct winapi_driver_stats *stats)
{
	winapi_driver_get_stats(driver, stats);
}

static uint64_t vmbus_gpa_page_budget(void *driver, unsigned int buffer_count, uint32_t inline_length)
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

static int vmbus_queue_reap(void *queue, struct winapi_driver_completion *completions, unsigned int max,
			    unsigned int min, int timeout_ms)
{
	return winapi_driver_queue_reap(queue, completions, max, min, timeout_ms);
}

static void vmbus_close(void *driver)
{
	winapi_driver_close(driver);
}

static const struct lowlat_transport_ops vmbus_ops = {
	.call = vmbus_call,
	.get_stats = vmbus_get_stats,
	.gpa_page_budget = vmbus_gpa_page_budget,
	.queue_create = vmbus_queue_create,
	.queue_destroy = vmbus_queue_destroy,
	.queue_add = vmbus_queue_add,
	.queue_submit = vmbus_queue_submit,
	.queue_reap = vmbus_queue_reap,
	.close = vmbus_close,
};

/* A winapi device (uio, the emulator or winapi-pmd), with the driver bound to its primary. */
static int open_vmbus(const char *transport, struct winapi_handle *handle)
{
	struct winapi_driver *driver;
	struct vmbus_device *device;
	int rc;

	rc = attach(transport, &device);
	if (rc != 0)
		return rc;
	rc = create_attachment(device, &handle->attachment);
	if (rc != 0) {
		vmbus_device_close(device);
		return rc;
	}
	rc = winapi_driver_open(device, 0, &driver);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot bind the winapi channel: %s%s", strerror(-rc),
			   rc == -ENODEV ? " (the host offers a device of another class)" : "");
		lowlat_attachment_put(handle->attachment);
		return rc;
	}
	handle->ops = &vmbus_ops;
	handle->transport = driver;
	return 0;
}

/* The Hyper-V socket: buffers are this process's memory, their bytes go on the socket. */
static int open_hvsock(struct winapi_handle *handle)
{
	int rc;

	handle->attachment = calloc(1, sizeof(*handle->attachment));
	if (handle->attachment == NULL)
		return -ENOMEM;
	handle->attachment->references = 1;
	rc = lowlat_hvsock_open(&handle->ops, &handle->transport);
	if (rc != 0)
		lowlat_attachment_put(handle->attachment);
	return rc;
}

winapi_handle_t winapi_init(void)
{
	const char *transport = getenv("WINAPI_TRANSPORT");
	struct winapi_handle *handle;
	int rc;

	rc = check_shared_memory_path(getenv("WINAPI_SHARED_MEM"));
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	if (transport != NULL && *transport != '\0' && strcmp(transport, "uio") != 0 &&
	    strcmp(transport, "sim") != 0 && strcmp(transport, "pmd") != 0 && strcmp(transport, "hvsock") != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "WINAPI_TRANSPORT=%s: want uio, sim, pmd or hvsock", transport);
		errno = EINVAL;
		return NULL;
	}
	handle = calloc(1, sizeof(*handle));
	if (handle == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (transport != NULL && strcmp(transport, "hvsock") == 0)
		rc = open_hvsock(handle);
	else
		rc = open_vmbus(transport, handle);
	if (rc != 0) {
		free(handle);
		errno = -rc;
		return NULL;
	}

	pthread_mutex_lock(&current_lock);
	if (current != NULL)
		lowlat_attachment_put(current);
	current = handle->attachment;
	lowlat_attachment_get(current);
	pthread_mutex_unlock(&current_lock);
	return handle;
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
	rc = handle->ops->call(handle->transport, &call);
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
	handle->ops->get_stats(handle->transport, &driver_stats);
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
	handle->ops->close(handle->transport);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat: the application API over a transport (include/winapi_internal/transport.h): the
 * winapi driver on a VMBus device (uio, the emulator, winapi-pmd) or the Hyper-V socket. The
 * transports are found in winapi_transports[]; none is named here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <stdio.h>
#include <unistd.h>

#include <winapi/log.h>
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

/* The transport WINAPI_TRANSPORT names; NULL (and a message listing the names) if none. */
static const struct winapi_transport *transport_named(const char *name)
{
	char names[128] = "";
	size_t i, length = 0;

	for (i = 0; winapi_transports[i] != NULL; i++)
		if (strcmp(winapi_transports[i]->name, name) == 0)
			return winapi_transports[i];
	for (i = 0; winapi_transports[i] != NULL && length < sizeof(names); i++)
		length += (size_t)snprintf(names + length, sizeof(names) - length, "%s%s",
					   i == 0 ? "" : winapi_transports[i + 1] == NULL ? " or " : ", ",
					   winapi_transports[i]->name);
	winapi_log(WINAPI_LOG_ERR, "lowlat", "WINAPI_TRANSPORT=%s: want %s", name, names);
	return NULL;
}

/*
 * The named transport, or else the automatic ones in their order: -ENODEV from one means
 * this machine has no such host, and the next is tried.
 */
static int open_transport(const struct winapi_transport *chosen, struct winapi_transport_instance *instance)
{
	size_t i;
	int rc = -ENODEV;

	if (chosen != NULL)
		return chosen->open(false, instance);
	for (i = 0; winapi_transports[i] != NULL && rc == -ENODEV; i++)
		if (winapi_transports[i]->automatic)
			rc = winapi_transports[i]->open(true, instance);
	return rc;
}

/* The transport, and the attachment its buffers come from (its device's memory, if any). */
static int open_handle(const struct winapi_transport *chosen, struct winapi_handle *handle)
{
	struct winapi_transport_instance instance;
	int rc;

	rc = open_transport(chosen, &instance);
	if (rc != 0)
		return rc;
	if (instance.device != NULL) {
		rc = create_attachment(instance.device, &handle->attachment);
	} else {
		handle->attachment = calloc(1, sizeof(*handle->attachment));
		rc = handle->attachment != NULL ? 0 : -ENOMEM;
		if (rc == 0)
			handle->attachment->references = 1;
	}
	if (rc != 0) {
		/* The attachment owns the device; without one, close both here. */
		instance.ops->close(instance.context);
		if (instance.device != NULL)
			vmbus_device_close(instance.device);
		return rc;
	}
	handle->ops = instance.ops;
	handle->transport = instance.context;
	pthread_mutex_init(&handle->apis_lock, NULL);
	return 0;
}

winapi_handle_t winapi_init(void)
{
	const char *name = secure_getenv("WINAPI_TRANSPORT");
	const struct winapi_transport *chosen = NULL;
	struct winapi_handle *handle;
	int rc;

	rc = check_shared_memory_path(secure_getenv("WINAPI_SHARED_MEM"));
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	if (name != NULL && *name != '\0') {
		chosen = transport_named(name);
		if (chosen == NULL) {
			errno = EINVAL;
			return NULL;
		}
	}
	handle = calloc(1, sizeof(*handle));
	if (handle == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = open_handle(chosen, handle);
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
	size_t length, reply_length;
	int rc;

	if (handle == NULL || input == NULL || output == NULL)
		return -EINVAL;
	length = strnlen(input, WINAPI_MAX_INLINE_DATA + 1);
	if (length > WINAPI_MAX_INLINE_DATA)
		return -EMSGSIZE;
	if (output_size < length + 1)
		return -ENOBUFS;
	/* One byte stays for the terminating NUL. */
	const winapi_api_call_t call = {
		.api = WINAPI_API_ECHO,
		.version_major = 1,
		.input = input,
		.input_length = length,
		.output = output,
		.output_size = output_size - 1,
	};
	rc = winapi_call_api(handle, &call, &reply_length);
	if (rc != 0)
		return rc;
	output[reply_length] = '\0';
	return 0;
}

int winapi_get_stats(winapi_handle_t handle, struct winapi_stats *stats)
{
	struct winapi_transport_stats transport_stats;

	if (handle == NULL || stats == NULL)
		return -EINVAL;
	handle->ops->get_stats(handle->transport, &transport_stats);
	stats->calls = transport_stats.calls;
	stats->failed_calls = transport_stats.failed_calls;
	stats->timeouts = transport_stats.timeouts;
	stats->stale_completions = transport_stats.stale_completions;
	stats->unexpected_packets = transport_stats.unexpected_packets;
	stats->signals_sent = transport_stats.signals_sent;
	stats->sleeps = transport_stats.sleeps;
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
	winapi_api_table_free(&handle->apis);
	pthread_mutex_destroy(&handle->apis_lock);
	free(handle);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VMBus devices bound to uio_hv_generic (kernel drivers/uio/uio_hv_generic.c, drivers/uio/uio.c):
 * the backend ops lib/vmbus calls, and opening a device and its subchannels. Every fact used
 * here is in shared/research/vmbus-spec.md section 1, with its kernel source. The concerns
 * these calls share are in files of their own, as in DPDK's drivers/bus/vmbus/linux: sysfs
 * discovery and diagnosis (uio_scan.c), the maps (uio_map.c), DMA memory (uio_dma.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>
#include <vmbus/uio.h>
#include <winapi_internal/clock.h>

#include "uio_private.h"

/* Subchannel ring files appear after the offer; DPDK retries for 10 s, so do we by default. */
#define UIO_SUBCHANNEL_POLL_MS 10

/*
 * Monitored channel: set the channel's trigger bit; the hypervisor scans the page after the
 * channel's latency. DPDK dropped the interrupt-page bit the kernel also sets ("bus/vmbus:
 * remove sending interrupts via INT bit"). Non-monitored: only the kernel can issue the
 * HvSignalEvent hypercall, through the irqcontrol write (6.10+).
 */
static int uio_signal(struct vmbus_device *device, unsigned int index)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	uint32_t monitor_id = index < 64 ? backend->monitor_ids[index] : VMBUS_MONITOR_ID_NONE;
	const int32_t enable = 1;

	if (monitor_id != VMBUS_MONITOR_ID_NONE) {
		vmbus_monitor_trigger(backend->maps[UIO_MAP_MONITOR_PAGE].address, monitor_id);
		return 0;
	}
	if (write(backend->fd, &enable, sizeof(enable)) == (ssize_t)sizeof(enable))
		return 0;
	/* EIO: rescinded (hv_uio_rescind sets irq to 0, every call then fails). */
	return -ENOTCONN;
}

/* uio's read blocks until the device's event count moves, and returns the new count. */
static int uio_wait(struct vmbus_device *device, int timeout_ms)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	struct pollfd pfd = { .fd = backend->fd, .events = POLLIN };
	uint32_t count;
	ssize_t length;
	int rc = poll(&pfd, 1, timeout_ms);

	if (rc < 0)
		return errno == EINTR ? -EINTR : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	length = read(backend->fd, &count, sizeof(count));
	if (length == (ssize_t)sizeof(count)) {
		__atomic_store_n(&backend->interrupt_count, count, __ATOMIC_RELAXED);
		return 0;
	}
	if (length < 0 && (errno == EINTR || errno == EAGAIN))
		return -EINTR;
	return -ENOTCONN; /* EIO after rescind, or a device that no longer reads as uio */
}

/* uio's fd is the device's one interrupt line: readable when the count has moved. */
static int uio_event_fd(const struct vmbus_device *device)
{
	const struct uio_backend *backend = vmbus_device_backend_data(device);

	return backend->fd;
}

static void uio_release(struct vmbus_device *device)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);

	uio_free_dma_regions(backend);
	pthread_mutex_destroy(&backend->dma_lock);
	uio_unmap_all(backend);
	close(backend->fd);
	free(backend);
}

/* Maps 3 and 4, when the kernel made them (network devices only since 6.14). */
static int uio_gpadl_region(const struct vmbus_device *device, unsigned int index,
			    struct vmbus_gpadl_region *region)
{
	const struct uio_backend *backend = vmbus_device_backend_data(device);
	const struct uio_mapping *mapping = &backend->maps[UIO_MAP_RECEIVE + index];

	if (index > 1 || mapping->address == NULL)
		return -ENOENT;
	region->address = mapping->address;
	region->size = mapping->size;
	region->gpadl = mapping->gpadl;
	return 0;
}

static const struct vmbus_backend_ops uio_ops = {
	.name = "uio",
	.signal = uio_signal,
	.wait = uio_wait,
	.release = uio_release,
	.event_fd = uio_event_fd,
	.gpadl_region = uio_gpadl_region,
	.dma_alloc = uio_dma_alloc,
	.dma_free = uio_dma_free,
	.dma_pfns = uio_dma_pfns,
	.dma_share = uio_dma_share,
};

static int open_uio_node(const struct uio_roots *roots, int uio_index, char *message, size_t size)
{
	char path[PATH_MAX];
	int fd;

	if (uio_format_path(path, sizeof(path), "%s/uio%d", roots->dev, uio_index) != 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		uio_set_error(message, size, "permission denied opening %s: run as root, or give this user "
			      "read/write access to it (udev rule or chmod)", path);
	else
		uio_set_error(message, size, "cannot open %s: %s", path, strerror(errno));
	return errno == EPERM ? -EACCES : -errno;
}

int vmbus_uio_open(const struct vmbus_uio_open_params *params, struct vmbus_device **device)
{
	struct uio_find_device find;
	struct vmbus_channel_region region;
	struct vmbus_device_params device_params;
	char uio_dir[PATH_MAX + 32];
	char *message = params != NULL ? params->error_message : NULL;
	size_t message_size = params != NULL ? params->error_size : 0;
	struct uio_backend *backend;
	struct uio_roots roots;
	int rc;

	if (params == NULL || device == NULL)
		return -EINVAL;
	rc = uio_find_device(params, &roots, &find, message, message_size);
	if (rc != 0)
		return rc;

	backend = calloc(1, sizeof(*backend));
	if (backend == NULL)
		return -ENOMEM;
	uio_format_path(backend->device_dir, sizeof(backend->device_dir), "%s", find.device_dir);
	backend->relid = find.info.relid;
	backend->kernel_version = uio_kernel_version(roots.kernel_release);
	for (unsigned int i = 0; i < 64; i++)
		backend->monitor_ids[i] = VMBUS_MONITOR_ID_NONE;
	backend->monitor_ids[0] = find.info.monitor_id;
	pthread_mutex_init(&backend->dma_lock, NULL);
	backend->fd = open_uio_node(&roots, find.info.uio_index, message, message_size);
	if (backend->fd < 0) {
		rc = backend->fd;
		goto err_free_backend;
	}
	rc = uio_format_path(uio_dir, sizeof(uio_dir), "%s/uio/uio%d", find.device_dir, find.info.uio_index);
	if (rc == 0)
		rc = uio_map_device(backend, uio_dir, message, message_size);
	if (rc != 0)
		goto err_unmap;

	region = (struct vmbus_channel_region){
		.ring_base = backend->maps[UIO_MAP_RINGS].address,
		.ring_size = backend->maps[UIO_MAP_RINGS].size / 2,
		.relid = find.info.relid,
		.monitor_id = find.info.monitor_id,
	};
	memset(&device_params, 0, sizeof(device_params));
	device_params.class_id = find.info.class_id;
	device_params.instance_id = find.info.instance_id;
	device_params.numa_node = find.info.numa_node;
	device_params.side = VMBUS_SIDE_GUEST;
	device_params.page_size = (size_t)sysconf(_SC_PAGESIZE);
	device_params.channel_count = 1;
	device_params.channels = &region;
	device_params.ops = &uio_ops;
	device_params.backend_data = backend;
	if (find.info.monitor_id == VMBUS_MONITOR_ID_NONE)
		device_params.quirks = VMBUS_BACKEND_SIGNAL_UNMASKS_RX;
	rc = vmbus_device_create(&device_params, device);
	if (rc != 0)
		goto err_unmap;
	return 0;

err_unmap:
	uio_unmap_all(backend);
	close(backend->fd);
err_free_backend:
	free(backend);
	return rc;
}

/* The uio backend of @device, or NULL when the device belongs to another backend. */
static struct uio_backend *uio_backend_of(const struct vmbus_device *device)
{
	if (device == NULL || strcmp(vmbus_device_backend_name(device), uio_ops.name) != 0)
		return NULL;
	return vmbus_device_backend_data(device);
}

int vmbus_uio_open_subchannels(struct vmbus_device *device, unsigned int count, int timeout_ms)
{
	struct uio_backend *backend = uio_backend_of(device);
	struct uio_subchannel found[63];
	unsigned int available, i;
	uint64_t deadline;
	int rc;

	if (backend == NULL || count > 63)
		return -EINVAL;
	if (count <= backend->subchannel_count)
		return 0;
	deadline = winapi_clock_now_ms() + (timeout_ms < 0 ? 10000u : (uint64_t)timeout_ms);
	/* The ring files appear asynchronously after the offer (hv_uio_probe's comment). */
	for (;;) {
		available = uio_list_new_subchannels(backend, found, 63);
		if (backend->subchannel_count + available >= count)
			break;
		if (winapi_clock_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(UIO_SUBCHANNEL_POLL_MS * 1000);
	}
	for (i = 0; backend->subchannel_count < count; i++) {
		struct uio_mapping *mapping = &backend->subchannel_rings[backend->subchannel_count];
		char channel_dir[PATH_MAX + 32];
		struct vmbus_channel_region region;
		uint64_t monitor_id;

		uio_format_path(channel_dir, sizeof(channel_dir), "%s/channels/%u", backend->device_dir,
				found[i].relid);
		/* Each channel has its own monitor slot, hidden when it has none. */
		if (uio_read_number(channel_dir, "monitor_id", &monitor_id) != 0 || monitor_id >= UIO_MONITOR_ID_LIMIT)
			monitor_id = VMBUS_MONITOR_ID_NONE;
		/*
		 * A non-monitored subchannel is signalled by the same irqcontrol write as the
		 * primary, which reaches subchannels only since 6.16 ("Set event for all channels
		 * on the device"); before, the host would never hear from it.
		 */
		if (monitor_id == VMBUS_MONITOR_ID_NONE && backend->kernel_version != 0 &&
		    backend->kernel_version < 616)
			return -EOPNOTSUPP;
		rc = uio_map_subchannel(backend, found[i].relid, mapping);
		if (rc != 0)
			return rc;
		region = (struct vmbus_channel_region){
			.ring_base = mapping->address,
			.ring_size = mapping->size / 2,
			.relid = found[i].relid,
			.monitor_id = (uint32_t)monitor_id,
		};
		rc = vmbus_device_add_channel(device, &region);
		if (rc < 0) {
			munmap(mapping->base, mapping->size);
			memset(mapping, 0, sizeof(*mapping));
			return rc;
		}
		backend->monitor_ids[rc] = (uint32_t)monitor_id;
		backend->subchannel_relids[backend->subchannel_count++] = found[i].relid;
		/* Its signal is the fd write: it clears RX masks like the primary's (6.16+). */
		if (monitor_id == VMBUS_MONITOR_ID_NONE)
			vmbus_device_add_quirks(device, VMBUS_BACKEND_SIGNAL_UNMASKS_RX);
	}
	return 0;
}

uint32_t vmbus_uio_interrupt_count(const struct vmbus_device *device)
{
	const struct uio_backend *backend = uio_backend_of(device);

	return backend != NULL ? __atomic_load_n(&backend->interrupt_count, __ATOMIC_RELAXED) : 0;
}

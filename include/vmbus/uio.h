/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The real backend (drivers/bus/uio): VMBus devices bound to the kernel's uio_hv_generic.
 * shared/research/vmbus-spec.md section 1 is the reference for every file read here.
 *
 * What it does with the kernel's interface:
 *  - discovery through sysfs: /sys/bus/vmbus/devices/<instance>/{class_id, device_id, id,
 *    monitor_id (absent for non-monitored channels), numa_node, uio/uioN};
 *  - /dev/uioN opened once and kept open for the life of the device (its last close closes the
 *    channel in the kernel); maps read from uio/uioN/maps/mapK/{name,size} and mapped at file
 *    offset K * system page size: map 0 the rings (TX half, then RX half), map 1 the interrupt
 *    page, map 2 the monitor page, maps 3 and 4 the receive and send GPADL regions when the
 *    kernel made them (network devices only since 6.14; the GPADL handle is in the name);
 *  - subchannels through channels/<relid>/ring, which appear only after the host's offer;
 *  - signalling: a monitored channel sets its trigger bit in the monitor page (no system
 *    call); a non-monitored one writes 1 to the fd (kernel 6.10 or later), which also clears
 *    RX interrupt masks behind our back, so lib/vmbus masks them again while polling. That
 *    write signals the primary only before 6.16, and every non-monitored channel of the
 *    device since (so one signal may reach several channels' hosts);
 *  - interrupts: the fd's 4-byte read. EIO from it means the channel was rescinded: every
 *    wait and signal then fails with -ENOTCONN;
 *  - memory (<vmbus/memory.h>): maps 3 and 4 are the device's GPADL regions; DMA memory is
 *    locked anonymous memory (hugepages when available) whose page numbers come from
 *    /proc/self/pagemap, which needs CAP_SYS_ADMIN: without it vmbus_device_dma_alloc() says
 *    -EOPNOTSUPP.
 *
 * Roots: sysfs and /dev can be redirected (tests, containers): the config's fields, else
 * $VMBUS_SYSFS_ROOT and $VMBUS_DEV_ROOT, else /sys and /dev.
 *
 * Owner: drivers/bus/uio
 */
#ifndef VMBUS_UIO_H
#define VMBUS_UIO_H

#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/guid.h>

/** Where to look; NULL fields take the defaults described above. */
struct vmbus_uio_config {
	const char *sysfs_root;
	const char *dev_root;
	const char *kernel_release; /**< for diagnosis; NULL: uname() */
};

/** One VMBus device as sysfs shows it. */
struct vmbus_uio_device_info {
	char name[64];                /**< directory name in bus/vmbus/devices (the instance GUID) */
	struct vmbus_guid class_id;
	struct vmbus_guid instance_id;
	uint32_t relid;               /**< primary channel relid (sysfs `id`) */
	uint32_t monitor_id;          /**< VMBUS_MONITOR_ID_NONE when the channel is not monitored */
	int numa_node;                /**< -1 when unknown */
	char driver[64];              /**< bound driver, "" when none */
	int uio_index;                /**< N of /dev/uioN, -1 when not bound to uio_hv_generic */
};

/**
 * Call @p visit for every VMBus device, in directory order; a nonzero return stops the scan
 * and is returned.
 * @return 0; -ENOENT (no VMBus in sysfs: not a Hyper-V guest, or hv_vmbus not loaded); -EACCES;
 *         or @p visit's value.
 */
int vmbus_uio_scan(const struct vmbus_uio_config *config,
		   int (*visit)(const struct vmbus_uio_device_info *info, void *argument),
		   void *argument);

/** What to open. */
struct vmbus_uio_open_params {
	const struct vmbus_uio_config *config; /**< NULL: defaults */
	struct vmbus_guid class_id;            /**< the device class to look for */
	const struct vmbus_guid *instance_id;  /**< a particular device, or NULL for the first */
	char *error_message;                   /**< if not NULL, filled on failure: cause and remedy */
	size_t error_size;
};

/**
 * Find the device, check that uio_hv_generic owns it, open /dev/uioN and map its rings and
 * pages. Subchannels are added later with vmbus_uio_open_subchannels().
 * @return 0;
 *   -ENOENT     no VMBus in sysfs;
 *   -ENODEV     no device of that class (or instance);
 *   -ENXIO      the device is not bound to uio_hv_generic (remedy: scripts/vmbus-bind --bind);
 *   -EOPNOTSUPP the kernel refuses the device: a non-monitored channel needs kernel 6.10;
 *   -EACCES     permission denied on /dev/uioN or sysfs;
 *   -EPROTO     the maps are missing or malformed (kernel and driver disagree);
 *   -ENOMEM, or another negative errno from open or mmap.
 */
int vmbus_uio_open(const struct vmbus_uio_open_params *params, struct vmbus_device **device);

/**
 * Wait (bounded) until @p count subchannel `ring` files exist and add them as channels
 * 1..count of @p device, in subchannel index order. Subchannels appear only after the host
 * offers them, in answer to a device-protocol request on the primary channel; calling again
 * with a larger count adds the newcomers. Must not run concurrently with itself.
 * @param timeout_ms -1: 10 s, as DPDK waits
 * @return 0; -ETIMEDOUT; -EOPNOTSUPP (a non-monitored subchannel on a kernel before 6.16,
 *         which cannot signal it); -EACCES (the ring files are mode 0600: root); -EPROTO (a
 *         ring file of an impossible size); -ENOSPC; other errno.
 */
int vmbus_uio_open_subchannels(struct vmbus_device *device, unsigned int count, int timeout_ms);

/** The uio event count last read from the interrupt fd (interrupts received so far). */
uint32_t vmbus_uio_interrupt_count(const struct vmbus_device *device);

#endif /* VMBUS_UIO_H */
